//! Running commands on a host over an SSH exec channel.
//!
//! The remote side gets one command *string* that its login shell parses, so every argument
//! is quoted for POSIX `sh` (single quotes; `'` becomes `'\''`). The program name is never
//! allowed to look like a `VAR=value` assignment, and NUL bytes (which cannot be sent) are
//! refused. Command lines are not logged: they may carry secrets such as swarm join tokens.

use std::borrow::Cow;
use std::time::Duration;

use russh::ChannelMsg;

use super::{SshError, SshSession};
use crate::limits::MAX_OUTPUT_BYTES;

/// Default upper bound for one remote command.
pub const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(60);

/// A command given as argv, quoted strictly for a POSIX shell on the remote side.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteCommand {
    argv: Vec<String>,
    sudo: bool,
    timeout: Duration,
    stdin: Option<Vec<u8>>,
    max_output: u64,
}

impl std::fmt::Debug for RemoteCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Arguments may be secrets (join tokens): show only the program.
        f.debug_struct("RemoteCommand")
            .field("program", &self.summary())
            .field("args", &self.argv.len().saturating_sub(1))
            .field("sudo", &self.sudo)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Result of a finished remote command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit status; 128 + n style values are the shell's business. If the command died
    /// from a signal and the server sent no status, this is 255 and `signal` is set.
    pub status: u32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Signal name (e.g. `KILL`) when the command was killed by one.
    pub signal: Option<String>,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.status == 0 && self.signal.is_none()
    }
    pub fn stdout_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stdout)
    }
    pub fn stderr_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stderr)
    }
}

/// Quotes one word for POSIX sh. Never returns an empty string.
pub fn quote(word: &str) -> Cow<'_, str> {
    shell_escape::unix::escape(Cow::Borrowed(word))
}

impl RemoteCommand {
    /// `argv[0]` is the program.
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            argv: argv.into_iter().map(Into::into).collect(),
            sudo: false,
            timeout: DEFAULT_EXEC_TIMEOUT,
            stdin: None,
            max_output: MAX_OUTPUT_BYTES,
        }
    }

    /// `sh -c script`: for the few places that need shell syntax (pipes, `||`). The script
    /// itself is one quoted argument; don't paste untrusted text into it.
    pub fn shell(script: impl Into<String>) -> Self {
        Self::new(["sh".to_string(), "-c".to_string(), script.into()])
    }

    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.argv.push(a.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.argv.extend(args.into_iter().map(Into::into));
        self
    }

    /// Prefix with `sudo -n --` (non-interactive: fails instead of prompting).
    pub fn sudo(mut self, yes: bool) -> Self {
        self.sudo = yes;
        self
    }

    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// At most this much output (stdout plus stderr) is read: more fails as
    /// [`SshError::TooMuchOutput`]. Never above [`MAX_OUTPUT_BYTES`].
    pub fn max_output(mut self, bytes: u64) -> Self {
        self.max_output = bytes.min(MAX_OUTPUT_BYTES);
        self
    }

    /// Bytes written to the command's stdin (then EOF).
    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(data.into());
        self
    }

    pub fn argv(&self) -> &[String] {
        &self.argv
    }

    pub fn uses_sudo(&self) -> bool {
        self.sudo
    }

    /// Program (and a plain subcommand word) for messages; never the other arguments.
    pub fn summary(&self) -> String {
        let mut s = self.argv.first().cloned().unwrap_or_default();
        if let Some(sub) = self.argv.get(1)
            && !sub.is_empty()
            && sub.len() <= 24
            && sub.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        {
            s.push(' ');
            s.push_str(sub);
        }
        if self.sudo { format!("sudo {s}") } else { s }
    }

    /// The command string sent to the server.
    pub fn command_line(&self) -> Result<String, String> {
        let Some(program) = self.argv.first() else {
            return Err("empty command".into());
        };
        if program.is_empty() {
            return Err("empty program name".into());
        }
        if program.contains('=') {
            // `sudo`/`env` would take it as an environment assignment even when quoted.
            return Err("the program name contains '='".into());
        }
        if self.argv.iter().any(|a| a.contains('\0')) {
            return Err("an argument contains a NUL byte".into());
        }
        let mut words: Vec<Cow<'_, str>> = Vec::with_capacity(self.argv.len() + 3);
        if self.sudo {
            words.extend(["sudo".into(), "-n".into(), "--".into()]);
        }
        words.extend(self.argv.iter().map(|a| quote(a)));
        Ok(words.join(" "))
    }
}

/// How a command on an exec channel ended, read from its channel's messages.
#[derive(Debug, Default)]
pub(super) struct Exit {
    pub status: Option<u32>,
    pub signal: Option<String>,
}

impl Exit {
    /// Takes the message if it says how the command ended; a refusal to run it is an error.
    pub(super) fn take(
        &mut self,
        msg: &ChannelMsg,
        session: &SshSession,
        what: &str,
    ) -> Result<bool, Box<SshError>> {
        match msg {
            ChannelMsg::ExitStatus { exit_status } => self.status = Some(*exit_status),
            ChannelMsg::ExitSignal { signal_name, .. } => {
                self.signal = Some(format!("{signal_name:?}"));
                self.status.get_or_insert(255);
            }
            ChannelMsg::Failure => {
                return Err(Box::new(SshError::Protocol {
                    host: session.name().to_string(),
                    message: format!("the server refused to run {what}"),
                }));
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl SshSession {
    /// Runs a command on an exec channel of this session and collects its output.
    pub async fn exec(&self, cmd: &RemoteCommand) -> Result<ExecOutput, SshError> {
        let line = cmd
            .command_line()
            .map_err(|reason| SshError::InvalidCommand {
                host: self.name().to_string(),
                reason,
            })?;
        let what = format!("remote command `{}`", cmd.summary());
        tracing::debug!(host = %self.name(), command = %cmd.summary(), "exec");
        let mut ch = self.open_session_channel().await?;
        let run = async {
            ch.exec(true, line.as_bytes())
                .await
                .map_err(|e| self.map_err(e, &what))?;
            if let Some(input) = &cmd.stdin {
                ch.data(&input[..])
                    .await
                    .map_err(|e| self.map_err(e, &what))?;
            }
            ch.eof().await.map_err(|e| self.map_err(e, &what))?;
            let mut out = ExecOutput {
                status: 255,
                stdout: Vec::new(),
                stderr: Vec::new(),
                signal: None,
            };
            let mut exit = Exit::default();
            while let Some(msg) = ch.wait().await {
                if exit.take(&msg, self, &what).map_err(|e| *e)? {
                    continue;
                }
                match msg {
                    ChannelMsg::Data { data } => out.stdout.extend_from_slice(&data),
                    ChannelMsg::ExtendedData { data, ext: 1 } => {
                        out.stderr.extend_from_slice(&data)
                    }
                    ChannelMsg::Close => break,
                    _ => {}
                }
                if (out.stdout.len() + out.stderr.len()) as u64 > cmd.max_output {
                    return Err(SshError::TooMuchOutput {
                        host: self.name().to_string(),
                        what: what.clone(),
                        limit: cmd.max_output,
                    });
                }
            }
            let Some(status) = exit.status else {
                return Err(self.closed_error());
            };
            out.status = status;
            out.signal = exit.signal;
            Ok(out)
        };
        let res = tokio::time::timeout(cmd.timeout, run).await;
        self.settle(&ch, res, &what, cmd.timeout).await
    }

    /// A command's result under its deadline: on a failure or a timeout the channel is
    /// closed, and a timeout is named with its deadline.
    pub(super) async fn settle<T>(
        &self,
        ch: &russh::Channel<russh::client::Msg>,
        res: Result<Result<T, SshError>, tokio::time::error::Elapsed>,
        what: &str,
        after: Duration,
    ) -> Result<T, SshError> {
        let res = match res {
            Ok(r) => r,
            Err(_) => Err(SshError::Timeout {
                host: self.name().to_string(),
                what: what.to_string(),
                after,
            }),
        };
        if res.is_err() {
            let _ = ch.close().await;
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &[&str] = &[
        "plain",
        "with space",
        "it's",
        "\"double\"",
        "$(touch /tmp/pwned)",
        "`id`",
        "a;b",
        "x && y || z",
        "line1\nline2",
        "trailing\n",
        "tab\there",
        "$HOME",
        "${PATH}",
        "*",
        "?",
        "[a]",
        "~",
        "-n",
        "--",
        "!",
        "!!",
        "back\\slash",
        "'",
        "''",
        "",
        "a'b\"c$d`e\\f",
        "ünïcödé ✓",
        "#comment",
        "a|b>c<d&e",
        "FOO=bar",
    ];

    #[test]
    fn quoting_is_exact() {
        assert_eq!(quote("plain"), "plain");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("with space"), "'with space'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$(x)"), "'$(x)'");
        assert_eq!(quote("a\nb"), "'a\nb'");
        let c = RemoteCommand::new(["docker", "network", "create", "my net; rm -rf /"]);
        assert_eq!(
            c.command_line().unwrap(),
            "docker network create 'my net; rm -rf /'"
        );
        let c = c.sudo(true);
        assert_eq!(
            c.command_line().unwrap(),
            "sudo -n -- docker network create 'my net; rm -rf /'"
        );
        assert_eq!(c.summary(), "sudo docker network");
    }

    #[test]
    fn invalid_commands_are_refused() {
        assert!(
            RemoteCommand::new(Vec::<String>::new())
                .command_line()
                .is_err()
        );
        assert!(RemoteCommand::new([""]).command_line().is_err());
        assert!(RemoteCommand::new(["FOO=bar", "x"]).command_line().is_err());
        assert!(RemoteCommand::new(["echo", "a\0b"]).command_line().is_err());
        // '=' in later arguments is fine.
        assert!(
            RemoteCommand::new(["env", "FOO=bar"])
                .command_line()
                .is_ok()
        );
    }

    /// The real test: the quoted line, parsed by real shells, yields the same argv.
    #[test]
    fn hostile_arguments_survive_real_shells() {
        let dir = tempfile::tempdir().unwrap();
        let canary = dir.path().join("pwned");
        let mut argv = vec!["printf".to_string(), "%s\\0".to_string()];
        argv.extend(HOSTILE.iter().map(|s| s.to_string()));
        argv.push(format!("$(touch {})", canary.display()));
        argv.push(format!("; touch {}", canary.display()));
        let line = RemoteCommand::new(argv.clone()).command_line().unwrap();
        for shell in ["/bin/sh", "/bin/bash", "/bin/dash"] {
            if !std::path::Path::new(shell).exists() {
                continue;
            }
            let out = std::process::Command::new(shell)
                .arg("-c")
                .arg(&line)
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(out.status.success(), "{shell}: {out:?}");
            let got: Vec<String> = out
                .stdout
                .split(|b| *b == 0)
                .map(|s| String::from_utf8(s.to_vec()).unwrap())
                .collect();
            // printf output ends with a NUL, so the split has one trailing empty element.
            assert_eq!(&got[..got.len() - 1], &argv[2..], "{shell}");
            assert!(!canary.exists(), "{shell} executed an injected command");
        }
    }

    #[test]
    fn debug_hides_arguments() {
        let c = RemoteCommand::new(["docker", "swarm", "join", "--token", "SWMTKN-1-secret"]);
        let d = format!("{c:?}");
        assert!(!d.contains("SWMTKN"), "{d}");
        assert!(d.contains("docker swarm"), "{d}");
    }
}
