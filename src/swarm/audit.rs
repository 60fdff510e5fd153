//! The audit log: one JSON line per step that changed (or tried to change) a host, with
//! its CLI equivalent and outcome. Every string is passed through [`redact`] before it is
//! written, and the log can be exported as a shell script that reproduces what was done.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::redact::redact;
use crate::untrusted::visible;

/// Overrides the log's location (tests, or users who keep it elsewhere).
pub const AUDIT_ENV: &str = "SWARMDECK_AUDIT_LOG";

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log {path}: {source}. Fix: check that the directory is writable, or set {AUDIT_ENV}", path = .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("audit log {path} line {line} is not a swarmdeck audit entry: {message}", path = .path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("cannot find the user's data directory (is HOME set?); set {AUDIT_ENV}")]
    NoDataDir,
}

/// How a recorded step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// Cancelled before it reached its host.
    NotRun,
    Failed,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so listings can align it.
        f.pad(match self {
            Verdict::Ok => "ok",
            Verdict::NotRun => "NOT RUN",
            Verdict::Failed => "FAILED",
        })
    }
}

/// One recorded step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Seconds since the Unix epoch.
    pub time: u64,
    /// Inventory host the step ran on.
    pub host: String,
    /// `user@address[:port]` of that host, for the exported script.
    pub target: String,
    pub step: String,
    pub cli: String,
    /// "ok" or "failed: …".
    pub outcome: String,
    /// For joins: the manager (`user@address`) and role whose token the step used, so the
    /// export can fetch a token instead of containing one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_from: Option<(String, String)>,
}

impl AuditEntry {
    pub fn ok(&self) -> bool {
        self.outcome == "ok"
    }

    /// Cancelled before it reached its host.
    pub fn not_run(&self) -> bool {
        self.outcome == super::ops::NOT_RUN
    }

    pub fn verdict(&self) -> Verdict {
        match (self.ok(), self.not_run()) {
            (true, _) => Verdict::Ok,
            (_, true) => Verdict::NotRun,
            _ => Verdict::Failed,
        }
    }

    /// The same entry with every string scrubbed of tokens and keys.
    fn redacted(&self) -> AuditEntry {
        let r = |s: &str| redact(s).into_owned();
        AuditEntry {
            time: self.time,
            host: r(&self.host),
            target: r(&self.target),
            step: r(&self.step),
            cli: r(&self.cli),
            outcome: r(&self.outcome),
            token_from: self.token_from.as_ref().map(|(a, b)| (r(a), r(b))),
        }
    }
}

/// An append-only JSON-lines file.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// `$SWARMDECK_AUDIT_LOG`, else `audit.jsonl` in the user's data directory.
    pub fn default_location() -> Result<Self, AuditError> {
        if let Some(p) = std::env::var_os(AUDIT_ENV).filter(|p| !p.is_empty()) {
            return Ok(Self::new(p));
        }
        let dirs =
            directories::ProjectDirs::from("", "", "swarmdeck").ok_or(AuditError::NoDataDir)?;
        Ok(Self::new(dirs.data_dir().join("audit.jsonl")))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> AuditError {
        AuditError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Appends one entry (one `write` with O_APPEND, so concurrent writers don't interleave
    /// within a line).
    pub fn append(&self, entry: &AuditEntry) -> Result<(), AuditError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        }
        let mut line = serde_json::to_string(&entry.redacted()).expect("entry serialises");
        line.push('\n');
        let mut f = open_append(&self.path).map_err(|e| self.io(e))?;
        f.write_all(line.as_bytes()).map_err(|e| self.io(e))
    }

    /// All entries, oldest first. A missing file is an empty log.
    pub fn read(&self) -> Result<Vec<AuditEntry>, AuditError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io(e)),
        };
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l).map_err(|e| AuditError::Parse {
                    path: self.path.clone(),
                    line: i + 1,
                    message: e.to_string(),
                })
            })
            .collect()
    }
}

#[cfg(unix)]
fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// `ssh` invocation of `target` (`user@address[:port]`, IPv6 as `user@[addr]:port` or bare
/// `user@addr`), each word quoted, `--` before the destination. ssh takes an IPv6 address
/// bare and the port as `-p`: `ssh -p 2222 -- root@fd00::1`. A target that does not parse
/// (a hand-edited log) is passed whole, quoted: it can name a wrong host, never run code.
fn ssh_words(target: &str) -> String {
    use super::plan::quote;
    let Ok(t) = crate::inventory::Target::parse(target) else {
        return format!("ssh -- {}", quote(target));
    };
    let dest = match &t.user {
        Some(user) => format!("{user}@{}", t.address),
        None => t.address.clone(),
    };
    match t.port {
        Some(port) if port != 22 => format!("ssh -p {port} -- {}", quote(&dest)),
        _ => format!("ssh -- {}", quote(&dest)),
    }
}

/// A POSIX shell script that repeats the successful steps, in order, over ssh. Join tokens
/// are fetched from the manager at run time, never written into the script. Every value
/// in it is inert: words are quoted, and the host and step text of the comments (which
/// hold node hostnames from the Docker API) have their newlines and control characters
/// escaped, so nothing can end a comment.
pub fn export_script(entries: &[AuditEntry]) -> String {
    use super::plan::quote;
    let mut out = String::from(
        "#!/bin/sh\n# Generated by `swarmdeck audit export`: the steps swarmdeck applied, as the\n\
         # docker commands that do the same, run on each host over ssh.\nset -eu\n",
    );
    for e in entries.iter().filter(|e| e.ok()) {
        let e = e.redacted();
        let _ = writeln!(
            out,
            "\n# {} [{}] {}",
            fmt_time(e.time),
            visible(&e.host),
            visible(&e.step)
        );
        let cmd = match &e.token_from {
            Some((manager, role)) => {
                let fetch = format!(
                    "$({} docker swarm join-token -q {})",
                    ssh_words(manager),
                    quote(role)
                );
                let _ = writeln!(out, "TOKEN=\"{fetch}\"");
                // The remote line goes in double quotes so the local shell expands only
                // $TOKEN, which arrives single-quoted (tokens hold no quotes).
                // Join lines hold addresses only; should one hold a control character, it is
                // written visibly (the join then fails, harmlessly).
                let esc = visible(&e.cli)
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('$', "\\$")
                    .replace('`', "\\`");
                let remote = esc.replacen("<redacted>", "'$TOKEN'", 1);
                format!("{} \"{remote}\"", ssh_words(&e.target))
            }
            None => format!("{} {}", ssh_words(&e.target), script_word(&e.cli)),
        };
        let _ = writeln!(out, "{cmd}");
    }
    out
}

/// `text` as one word of the script, which itself holds no control character: plain text
/// is quoted as usual; text holding control characters (a hostname's newline or escape
/// sequence, inside a quoted docker command) is rebuilt when the script runs by
/// `printf '%b'` from octal escapes. The command is the same; `cat` of the script shows
/// it, and no terminal obeys it.
fn script_word(text: &str) -> String {
    use super::plan::quote;
    if !crate::untrusted::has_control(text) {
        return quote(text).into_owned();
    }
    let mut arg = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        let mut utf8 = [0; 4];
        let encoded = c.encode_utf8(&mut utf8);
        if c == '\\' {
            arg.push_str("\\\\");
        } else if crate::untrusted::has_control(encoded) {
            for b in encoded.bytes() {
                let _ = write!(arg, "\\0{b:03o}");
            }
        } else {
            arg.push(c);
        }
    }
    format!("\"$(printf '%b' {})\"", quote(&arg))
}

/// `YYYY-MM-DD HH:MM:SS UTC` from epoch seconds (no date crate needed).
pub fn fmt_time(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(cli: &str, token: bool) -> AuditEntry {
        AuditEntry {
            time: 1_700_000_000,
            host: "node2".into(),
            target: "root@10.0.0.2".into(),
            step: "join node2".into(),
            cli: cli.into(),
            outcome: "ok".into(),
            token_from: token.then(|| ("root@10.0.0.1".into(), "worker".into())),
        }
    }

    #[test]
    fn appends_redacted_lines_and_reads_them_back() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("a/audit.jsonl"));
        let mut e = entry(
            "docker swarm join --token SWMTKN-1-abc-def 10.0.0.1:2377",
            true,
        );
        e.outcome = "failed: bad token SWMTKN-1-abc-def".into();
        log.append(&e).unwrap();
        log.append(&entry("docker node ls", false)).unwrap();
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert!(!text.contains("SWMTKN"), "{text}");
        assert_eq!(text.lines().count(), 2);
        let back = log.read().unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(
            back[0].cli,
            "docker swarm join --token <redacted> 10.0.0.1:2377"
        );
        assert!(!back[0].ok());
    }

    #[test]
    fn export_fetches_tokens_and_skips_failures() {
        let mut failed = entry("docker node promote node3", false);
        failed.outcome = "failed: x".into();
        let s = export_script(&[
            entry("docker swarm join --token <redacted> 10.0.0.1:2377", true),
            failed,
            entry("docker network create -d overlay --attachable 'a b'", false),
        ]);
        assert!(s.starts_with("#!/bin/sh"));
        assert!(
            s.contains("TOKEN=\"$(ssh -- root@10.0.0.1 docker swarm join-token -q worker)\""),
            "{s}"
        );
        assert!(!s.contains("promote"), "{s}");
        assert!(!s.contains("<redacted>"), "{s}");
        // Run it through sh -n: the script must at least parse.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.sh");
        std::fs::write(&p, &s).unwrap();
        let st = std::process::Command::new("sh")
            .arg("-n")
            .arg(&p)
            .status()
            .unwrap();
        assert!(st.success(), "{s}");
    }

    /// The join line, with `ssh` replaced by a printer, passes the token as one word.
    #[test]
    fn exported_join_line_passes_token_as_one_word() {
        let s = export_script(&[entry(
            "docker swarm join --token <redacted> 10.0.0.1:2377",
            true,
        )]);
        let join = s.lines().find(|l| l.starts_with("ssh ")).unwrap();
        let script =
            format!("ssh() {{ shift 2; printf '%s\\n' \"$*\"; }}\nTOKEN='SWMTKN-1-x y'\n{join}\n");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        let got = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            got.trim(),
            "docker swarm join --token 'SWMTKN-1-x y' 10.0.0.1:2377",
            "{join}"
        );
    }

    #[test]
    fn formats_time() {
        assert_eq!(fmt_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(fmt_time(1_700_000_000), "2023-11-14 22:13:20 UTC");
    }

    #[test]
    fn ssh_target_with_port() {
        assert_eq!(ssh_words("root@h:2222"), "ssh -p 2222 -- root@h");
        assert_eq!(ssh_words("root@h"), "ssh -- root@h");
        // IPv6: bare address, port apart (`root@fd00:` with `-p 1` was the old mis-parse).
        assert_eq!(ssh_words("root@fd00::1"), "ssh -- root@fd00::1");
        assert_eq!(
            ssh_words("root@[fd00::1]:2222"),
            "ssh -p 2222 -- root@fd00::1"
        );
        assert_eq!(ssh_words("root@[fd00::1]"), "ssh -- root@fd00::1");
        // Whatever a hand-edited log holds stays one quoted word after `--`.
        assert_eq!(
            ssh_words("-oProxyCommand=sh x"),
            "ssh -- '-oProxyCommand=sh x'"
        );
    }

    /// Runs `script` (after `sh -n`) in an empty scratch directory, with `ssh` defined as a
    /// shell function that prints its arguments (one per line, each call ended by `.`) and
    /// runs nothing. Returns what it printed and the names left in the scratch directory.
    fn run_with_ssh_stub(script: &str) -> (String, Vec<String>) {
        let sh = |args: &[&str], dir: &Path| {
            let out = std::process::Command::new("sh")
                .args(args)
                .current_dir(dir)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "sh {:?}: {err}\n{script}", args[0]);
            String::from_utf8(out.stdout).unwrap()
        };
        let scratch = tempfile::tempdir().unwrap();
        sh(&["-n", "-c", script], scratch.path());
        let stub = "ssh() { for a in \"$@\"; do printf '%s\\n' \"$a\"; done; echo .; }\n";
        let calls = sh(&["-c", &format!("{stub}{script}")], scratch.path());
        let left = std::fs::read_dir(scratch.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        (calls, left)
    }

    /// A node hostname holding a newline and a command (it reaches the step text from the
    /// Docker API) stays inside its comment; escapes are shown, not kept.
    #[test]
    fn hostile_host_and_step_text_stays_in_comments() {
        let mut e = entry(
            "docker node update --availability drain 'x\ntouch pwned\x1b[2J\\'",
            false,
        );
        e.host = "node2\ntouch pwned2".into();
        e.step = "set x\ntouch pwned availability to drain \x1b[31m".into();
        let s = export_script(&[e]);
        assert!(
            s.contains("# 2023-11-14 22:13:20 UTC [node2\\ntouch pwned2] set x\\ntouch pwned"),
            "{s}"
        );
        // No control character in the file but the line ends.
        assert!(!s.chars().any(|c| c.is_control() && c != '\n'), "{s:?}");
        assert!(!s.contains("x\ntouch"), "{s}");
        let (calls, left) = run_with_ssh_stub(&s);
        assert!(left.is_empty(), "the script created {left:?}:\n{s}");
        // The remote command arrives as one argument, newline and all, for the remote
        // shell to read as a quoted word.
        assert_eq!(
            calls,
            "--\nroot@10.0.0.2\ndocker node update --availability drain 'x\ntouch pwned\x1b[2J\\'\n.\n"
        );
    }

    /// What ssh receives for IPv6 hosts, with and without a port.
    #[test]
    fn replay_reaches_ipv6_hosts() {
        let mut a = entry("docker node ls", false);
        a.target = "root@fd00::1".into();
        let mut b = entry("docker node ls", false);
        b.target = "ops@[fd00::2]:2222".into();
        let (calls, _) = run_with_ssh_stub(&export_script(&[a, b]));
        assert_eq!(
            calls,
            "--\nroot@fd00::1\ndocker node ls\n.\n-p\n2222\n--\nops@fd00::2\ndocker node ls\n.\n"
        );
    }
}
