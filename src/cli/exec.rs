//! `swarmdeck exec [-i] [-t] SERVICE[.SLOT]|TASK -- CMD...`: a command in a task's
//! container, run by the engine of the node that runs the task, over that node's own SSH
//! connection. With `-t` the local terminal is raw for the session, its size follows
//! SIGWINCH, and it is restored on every way out. Exits with the command's exit code.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::Path;

use anyhow::anyhow;
use bollard::container::LogOutput;
use clap::Parser;
use futures_util::StreamExt;
use rustix::termios::{self, OptionalActions, Termios};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::cluster::Cluster;
use crate::workloads::exec::{self, ExecHandle, ExecRequest};

use super::target::TargetArgs;

/// Everything after `exec`, as typed: `-i` and `-t` are exec's own here, whatever the
/// global `-i KEYFILE` means before the subcommand.
#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    #[arg(
        value_name = "[-i] [-t] SERVICE[.SLOT]|TASK -- CMD",
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required = true
    )]
    pub words: Vec<String>,
}

// How the words after `exec` are read; the doc line is `exec --help`'s.
/// Run a command in a task's container, on the node that runs it, with the command's
/// exit code.
#[derive(Debug, Parser)]
#[command(name = "swarmdeck exec", no_binary_name = true)]
struct ExecLine {
    /// Keep stdin open and forward it to the command.
    #[arg(short = 'i', long)]
    interactive: bool,
    /// Give the command a pseudo-terminal (the local terminal goes raw meanwhile).
    #[arg(short = 't', long)]
    tty: bool,
    /// A service's name or ID (its one running task), a task's name (SERVICE.SLOT), its
    /// ID or a unique prefix of it.
    target: String,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true)]
    cmd: Vec<String>,
}

/// The command line with `--` after each `exec` word, and the words that would follow the
/// subcommand if that one is it: clap gives a global `-i KEYFILE` precedence over a
/// positional even after a subcommand, so `exec -it` is only read as typed behind `--`.
pub(super) fn escaped(args: &[OsString]) -> Vec<(Vec<OsString>, Vec<String>)> {
    (1..args.len())
        .filter(|&k| args[k] == "exec")
        .filter_map(|k| {
            let words = args[k + 1..]
                .iter()
                .map(|w| w.to_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()?;
            let mut candidate = args[..=k].to_vec();
            candidate.push("--".into());
            candidate.extend_from_slice(&args[k + 1..]);
            Some((candidate, words))
        })
        .collect()
}

/// Parses the words after `exec` into a request.
pub fn request(words: &[String]) -> Result<ExecRequest, clap::Error> {
    let line = ExecLine::try_parse_from(words)?;
    Ok(ExecRequest {
        target: line.target,
        cmd: line.cmd,
        stdin: line.interactive,
        tty: line.tty,
    })
}

/// Runs the command and exits with its exit code.
pub fn run(
    args: ExecArgs,
    target: &TargetArgs,
    inventory: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let req = request(&args.words).unwrap_or_else(|e| e.exit());
    let cluster = super::bootstrap::connect(target, inventory)?;
    let code = rt.block_on(session(&cluster, &req))?;
    // The command's code is ours; nothing is left to flush or restore.
    std::process::exit(i32::try_from(code).unwrap_or(255))
}

async fn session(cluster: &Cluster, req: &ExecRequest) -> anyhow::Result<i64> {
    let at = exec::target(cluster, &req.target).await?;
    tracing::debug!(host = %at.host, task = %at.task, "exec");
    let session = exec::start(cluster, &at, req).await?;
    // Raw only while the command runs: restored when this guard drops, on every path.
    let raw = match req.tty {
        true => RawMode::enter()?,
        false => None,
    };
    let watcher = req
        .tty
        .then(|| tokio::spawn(follow_size(session.handle.clone())));
    let stdin = req.stdin.then(stdin_chunks);
    let ended = tokio::select! {
        r = pump(session.output, session.input, stdin, req.tty) => r,
        _ = stopped() => Err(anyhow!("stopped by a signal; the command may still run in {}", at.task)),
    };
    if let Some(w) = watcher {
        w.abort();
    }
    drop(raw);
    ended?;
    Ok(session.handle.exit_code().await?)
}

/// Copies the command's output to ours and our stdin to its input until the output ends.
async fn pump(
    mut output: exec::Output,
    mut input: std::pin::Pin<Box<dyn AsyncWrite + Send>>,
    mut stdin: Option<mpsc::Receiver<Vec<u8>>>,
    tty: bool,
) -> anyhow::Result<()> {
    loop {
        let chunk = async {
            match stdin.as_mut() {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            frame = output.next() => {
                let Some(frame) = frame else { return Ok(()) };
                match frame.map_err(|e| anyhow!("the command's stream broke off: {e}"))? {
                    // The program's own bytes, as they are (a terminal's under -t).
                    LogOutput::StdErr { message } if !tty => write_out(std::io::stderr(), &message)?,
                    LogOutput::StdIn { .. } => {}
                    other => write_out(std::io::stdout(), &other.into_bytes())?,
                }
            }
            chunk = chunk => match chunk {
                Some(bytes) => input.write_all(&bytes).await?,
                // Our stdin ended: so does the command's (its output still comes).
                None => {
                    input.shutdown().await?;
                    stdin = None;
                }
            },
        }
    }
}

/// Writes a frame of the command's output at once (a terminal shows it as it comes).
fn write_out(mut to: impl Write, bytes: &[u8]) -> std::io::Result<()> {
    to.write_all(bytes)?;
    to.flush()
}

/// Our stdin in chunks, read on a thread of its own: a blocked read must never hold the
/// runtime when the command has ended.
fn stdin_chunks() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = vec![0u8; 16 << 10];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

/// Sets the command's terminal to ours now and on every SIGWINCH.
async fn follow_size(handle: ExecHandle) {
    let Ok(mut winch) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
    else {
        return;
    };
    loop {
        if let Some((rows, cols)) = terminal_size()
            && let Err(e) = handle.resize(rows, cols).await
        {
            tracing::warn!("{e}");
        }
        if winch.recv().await.is_none() {
            return;
        }
    }
}

/// Rows and columns of the terminal on stdout (else stdin).
fn terminal_size() -> Option<(u16, u16)> {
    let size = |fd: std::os::fd::BorrowedFd<'_>| {
        let ws = termios::tcgetwinsize(fd).ok()?;
        (ws.ws_row > 0 && ws.ws_col > 0).then_some((ws.ws_row, ws.ws_col))
    };
    size(std::io::stdout().as_fd()).or_else(|| size(std::io::stdin().as_fd()))
}

/// The local terminal in raw mode (keys go to the command as typed, Ctrl-C included);
/// the saved mode comes back on drop.
struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// None when stdin is no terminal (piped input under -t: nothing to switch).
    fn enter() -> anyhow::Result<Option<Self>> {
        let stdin = std::io::stdin();
        let Ok(saved) = termios::tcgetattr(stdin.as_fd()) else {
            return Ok(None);
        };
        let mut raw = saved.clone();
        raw.make_raw();
        termios::tcsetattr(stdin.as_fd(), OptionalActions::Now, &raw)
            .map_err(|e| anyhow!("cannot put the terminal in raw mode: {e}"))?;
        Ok(Some(Self { saved }))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), OptionalActions::Now, &self.saved);
    }
}

/// SIGTERM or SIGHUP (a closed terminal); Ctrl-C is the command's under -t.
async fn stopped() {
    use tokio::signal::unix::{SignalKind, signal};
    let wait = |kind| async move {
        match signal(kind) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = wait(SignalKind::terminate()) => {}
        _ = wait(SignalKind::hangup()) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_target_and_command_are_read_as_docker_reads_them() {
        let r = request(&words(&["-it", "web.1", "--", "sh", "-c", "exit 3"])).unwrap();
        assert!(r.stdin && r.tty);
        assert_eq!(r.target, "web.1");
        assert_eq!(r.cmd, words(&["sh", "-c", "exit 3"]));
        let r = request(&words(&["web", "--", "ls", "-l"])).unwrap();
        assert!(!r.stdin && !r.tty);
        assert_eq!(r.cmd, words(&["ls", "-l"]));
        assert!(request(&words(&["web"])).is_err(), "a command is required");
    }

    #[test]
    fn exec_takes_its_own_dash_i_after_the_subcommand() {
        let panels: &[&str] = &["overview"];
        let argv = ["swarmdeck", "-i", "key", "exec", "-it", "web", "--", "tty"];
        let Ok(super::super::Launch::Headless(h)) = super::super::parse_from(panels, argv) else {
            panic!("exec is a headless command");
        };
        assert_eq!(
            h.target.identity.as_deref(),
            Some(Path::new("key")),
            "the global -i before the subcommand is the key"
        );
        let super::super::Command::Exec(args) = h.command else {
            panic!("parsed as exec");
        };
        let r = request(&args.words).unwrap();
        assert!(r.stdin && r.tty);
        assert_eq!(r.target, "web");
        assert_eq!(r.cmd, words(&["tty"]));
        let argv = ["swarmdeck", "-H", "exec", "exec", "-i", "web", "--", "cat"];
        let Ok(super::super::Launch::Headless(h)) = super::super::parse_from(panels, argv) else {
            panic!("exec is a headless command");
        };
        assert_eq!(h.target.hosts, ["exec"], "a host named exec is a host");
        let super::super::Command::Exec(args) = h.command else {
            panic!("parsed as exec");
        };
        assert_eq!(args.words, words(&["-i", "web", "--", "cat"]));
    }
}
