//! Small system helpers: running commands with context, and reading /proc.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};

use super::LabError;

/// Runs a program to completion; a non-zero exit becomes `LabError::Command` carrying the
/// command line and its stderr, so the user sees exactly what failed.
pub(crate) fn run(what: &str, program: &str, args: &[&str]) -> Result<String, LabError> {
    let path = super::which(program).unwrap_or_else(|| program.into());
    let out = Command::new(path)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LabError::Command {
            what: what.to_string(),
            cmd: command_line(program, args),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(LabError::Command {
            what: what.to_string(),
            cmd: command_line(program, args),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `ip` with the given arguments.
pub(crate) fn ip(what: &str, args: &[&str]) -> Result<String, LabError> {
    run(what, "ip", args)
}

fn command_line(program: &str, args: &[&str]) -> String {
    std::iter::once(program)
        .chain(args.iter().copied())
        .map(|a| shell_escape::unix::escape(a.into()).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Identity of a namespace: device and inode of its nsfs file.
pub(crate) type NsId = (u64, u64);

/// The identity of named network namespace `netns`, if it exists.
pub(crate) fn netns_id(netns: &str) -> Option<NsId> {
    let md = std::fs::metadata(Path::new("/run/netns").join(netns)).ok()?;
    Some((md.dev(), md.ino()))
}

pub(crate) fn netns_exists(netns: &str) -> bool {
    netns_id(netns).is_some()
}

/// Names of all named network namespaces.
pub(crate) fn netns_list() -> Vec<String> {
    let Ok(rd) = std::fs::read_dir("/run/netns") else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect()
}

/// The network namespace `pid` lives in (None if the process is gone).
pub(crate) fn pid_netns(pid: u32) -> Option<NsId> {
    let md = std::fs::metadata(format!("/proc/{pid}/ns/net")).ok()?;
    Some((md.dev(), md.ino()))
}

/// Every live pid on the system.
pub(crate) fn all_pids() -> Vec<u32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// State letter and parent pid from /proc/PID/stat. The command name may contain spaces
/// and parentheses, so parse from the last ')'.
pub(crate) fn stat(pid: u32) -> Option<(char, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Alive means present and not a zombie (a zombie has exited; only its parent's reaping is
/// pending).
pub(crate) fn alive(pid: u32) -> bool {
    matches!(stat(pid), Some((s, _)) if s != 'Z' && s != 'X')
}

/// Alive, named `comm`, and inside network namespace `netns`: guards against pid reuse
/// before we report on or signal a recorded pid.
pub(crate) fn alive_in(pid: u32, comm: &str, netns: &str) -> bool {
    alive(pid)
        && std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
        && netns_id(netns).is_some_and(|ns| pid_netns(pid) == Some(ns))
}

/// Sends SIGKILL, ignoring processes that are already gone.
pub(crate) fn kill9(pid: u32) {
    let Ok(raw) = i32::try_from(pid) else { return };
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(raw),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// The last `n` lines of a (log) file, or a note saying why there are none.
pub(crate) fn tail(path: &Path, n: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        }
        Err(e) => format!("({}: {e})", path.display()),
    }
}

/// Mount points from a mountinfo text, with the kernel's octal escapes (`\040`) decoded.
pub(crate) fn mount_points(mountinfo: &str) -> Vec<String> {
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mountinfo)
        .collect()
}

fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && b.len() >= i + 4
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 4], 8)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_decoded() {
        let mi = "36 35 98:0 /mnt1 /mnt/a\\040b rw,noatime master:1 - ext3 /dev/root rw\n";
        assert_eq!(mount_points(mi), vec!["/mnt/a b".to_string()]);
    }

    #[test]
    fn stat_of_self_is_running() {
        let (state, ppid) = stat(std::process::id()).unwrap();
        assert!(state == 'R' || state == 'S', "{state}");
        assert!(ppid > 0);
    }
}
