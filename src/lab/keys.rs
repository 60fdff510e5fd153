//! SSH material of a lab: the client key, one host key per host, `authorized_keys` (used
//! through sshd's `AuthorizedKeysFile`, never /root/.ssh) and a `known_hosts` holding each
//! host's real key, so clients can check host keys strictly.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::{LabError, sys};

/// `ssh-keygen -t ed25519` without passphrase.
pub fn generate(path: &Path, comment: &str) -> Result<(), LabError> {
    let p = path.to_string_lossy();
    sys::run(
        "generate an SSH key",
        "ssh-keygen",
        &["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", &p],
    )
    .map(drop)
}

fn pub_path(key: &Path) -> PathBuf {
    let mut s = key.as_os_str().to_owned();
    s.push(".pub");
    PathBuf::from(s)
}

/// "type base64" of a public key file (comment dropped).
pub fn public_key(key: &Path) -> Result<String, LabError> {
    let path = pub_path(key);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| LabError::io(format!("read {}", path.display()), e))?;
    let mut parts = text.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(kind), Some(b64)) => Ok(format!("{kind} {b64}")),
        _ => Err(LabError::State {
            path,
            message: "not an OpenSSH public key".into(),
        }),
    }
}

/// One known_hosts line per host: `10.213.x.i ssh-ed25519 AAAA…`.
pub fn known_hosts(entries: &[(Ipv4Addr, String)]) -> String {
    entries
        .iter()
        .map(|(ip, key)| format!("{ip} {key}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_hosts_lines() {
        let kh = known_hosts(&[(Ipv4Addr::new(10, 213, 1, 1), "ssh-ed25519 AAAA".into())]);
        assert_eq!(kh, "10.213.1.1 ssh-ed25519 AAAA\n");
    }
}
