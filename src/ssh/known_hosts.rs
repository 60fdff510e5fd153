//! OpenSSH `known_hosts` parsing and host-key verdicts.
//!
//! Supported: plain host patterns, comma lists, `[host]:port` for non-22 ports, hashed
//! entries (`|1|salt|hash`, HMAC-SHA1 of the host string keyed by the salt), negation
//! (`!pattern`), `*`/`?` wildcards, `@revoked` (refusal). `@cert-authority` lines are
//! skipped (swarmdeck does not do host certificates). Matching is case-insensitive, as in
//! OpenSSH.
//!
//! Semantics follow OpenSSH across all files taken together: a revoked key is refused; a
//! matching line with the same key trusts it; a matching line with a *different key of the
//! same algorithm* means the key changed; anything else is unknown.
//!
//! russh's own `keys::known_hosts` was not reused: it has no wildcards, negation or
//! markers, and it stops at the first same-type mismatch instead of looking at every file.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use data_encoding::BASE64;
use hmac::{Hmac, KeyInit, Mac};
use russh::keys::{HashAlg, PublicKey};
use sha1::Sha1;

/// What the known_hosts files say about a host's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A matching line holds exactly this key.
    Trusted,
    /// No line holds a key of this algorithm for the host.
    Unknown,
    /// The host is listed with a different key of the same algorithm: possible
    /// man-in-the-middle, or a reinstalled server. Never accepted automatically.
    Changed { file: PathBuf, line: usize },
    /// The key is marked `@revoked` for this host.
    Revoked { file: PathBuf, line: usize },
}

/// The host string OpenSSH matches and hashes: `host` for port 22, `[host]:port` otherwise.
pub fn host_port_string(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == 22 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

/// `SHA256:…` fingerprint, as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    None,
    Revoked,
    CertAuthority,
}

/// One usable line of a known_hosts file.
#[derive(Debug, Clone)]
pub struct Entry {
    /// 1-based line number in its file.
    pub line: usize,
    marker: Marker,
    patterns: String,
    pub key: PublicKey,
}

impl Entry {
    /// Does this entry's host field match `host_port` (see [`host_port_string`])?
    pub fn matches(&self, host_port: &str) -> bool {
        match_host_field(&self.patterns, host_port)
    }
}

/// Parses known_hosts text. Comments, blank lines, malformed lines and keys this build
/// cannot parse are skipped (as OpenSSH does); `@cert-authority` lines are dropped.
pub fn parse(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_ascii_whitespace();
        let Some(mut first) = fields.next() else {
            continue;
        };
        let marker = match first {
            "@revoked" => Marker::Revoked,
            "@cert-authority" => Marker::CertAuthority,
            m if m.starts_with('@') => continue, // unknown marker: ignore the line
            _ => Marker::None,
        };
        if marker != Marker::None {
            match fields.next() {
                Some(f) => first = f,
                None => continue,
            }
        }
        if marker == Marker::CertAuthority {
            continue;
        }
        let (Some(kind), Some(b64)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Ok(key) = PublicKey::from_openssh(&format!("{kind} {b64}")) else {
            continue;
        };
        out.push(Entry {
            line: idx + 1,
            marker,
            patterns: first.to_string(),
            key,
        });
    }
    out
}

/// OpenSSH `match_hostname` over a comma-separated host field: any negated match wins
/// (no match), otherwise any positive match (plain, wildcard or hashed) matches.
fn match_host_field(field: &str, host_port: &str) -> bool {
    let host_port = host_port.to_ascii_lowercase();
    if let Some(hashed) = field.strip_prefix("|1|") {
        return match_hashed(hashed, &host_port);
    }
    let mut positive = false;
    for pat in field.split(',') {
        let (negated, pat) = match pat.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, pat),
        };
        let hit = if let Some(h) = pat.strip_prefix("|1|") {
            match_hashed(h, &host_port)
        } else {
            wildcard_match(&pat.to_ascii_lowercase(), &host_port)
        };
        if hit {
            if negated {
                return false;
            }
            positive = true;
        }
    }
    positive
}

/// `salt|hash` (both base64): HMAC-SHA1(key = salt, message = host string) == hash.
fn match_hashed(salt_and_hash: &str, host_port: &str) -> bool {
    let Some((salt, hash)) = salt_and_hash.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (
        BASE64.decode(salt.as_bytes()),
        BASE64.decode(hash.as_bytes()),
    ) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(host_port.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

/// Hashes a host string the way `ssh-keygen -H` does, with the given salt (20 bytes).
pub fn hash_host(host_port: &str, salt: &[u8]) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(salt).expect("HMAC accepts any key length");
    mac.update(host_port.as_bytes());
    let hash = mac.finalize().into_bytes();
    format!("|1|{}|{}", BASE64.encode(salt), BASE64.encode(&hash))
}

/// Glob match with `*` (any run) and `?` (one char), iterative with backtracking.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Verdict over already-parsed files, in order.
pub fn verdict_for(files: &[(PathBuf, Vec<Entry>)], host_port: &str, key: &PublicKey) -> Verdict {
    let matching = || {
        files.iter().flat_map(|(path, entries)| {
            entries
                .iter()
                .filter(|e| e.matches(host_port))
                .map(move |e| (path, e))
        })
    };
    if let Some((path, e)) =
        matching().find(|(_, e)| e.marker == Marker::Revoked && e.key.key_data() == key.key_data())
    {
        return Verdict::Revoked {
            file: path.clone(),
            line: e.line,
        };
    }
    let mut changed = None;
    for (path, e) in matching().filter(|(_, e)| e.marker == Marker::None) {
        if e.key.key_data() == key.key_data() {
            return Verdict::Trusted;
        }
        if changed.is_none() && e.key.algorithm() == key.algorithm() {
            changed = Some(Verdict::Changed {
                file: path.clone(),
                line: e.line,
            });
        }
    }
    changed.unwrap_or(Verdict::Unknown)
}

#[derive(Debug, thiserror::Error)]
pub enum KnownHostsError {
    #[error("cannot read known_hosts file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot record the host key in {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode the host key: {0}")]
    Encode(String),
}

/// The known_hosts files swarmdeck consults, in order: those OpenSSH consults, extra files
/// from the inventory, then the app's own file (the only one it writes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownHosts {
    /// OpenSSH's: `~/.ssh/known_hosts`, `~/.ssh/known_hosts2`, `/etc/ssh/ssh_known_hosts`,
    /// `/etc/ssh/ssh_known_hosts2`, and any the user's ssh config names.
    pub ssh_files: Vec<PathBuf>,
    pub extra_files: Vec<PathBuf>,
    pub app_file: PathBuf,
}

/// Serialises appends to app files within this process (parallel connects with accept-new).
static APPEND_LOCK: Mutex<()> = Mutex::new(());

impl KnownHosts {
    /// OpenSSH's default files + `extra_files` + `<config dir>/swarmdeck/known_hosts`.
    pub fn standard(extra_files: Vec<PathBuf>) -> Self {
        let mut ssh_files = Vec::new();
        if let Some(d) = directories::BaseDirs::new() {
            let ssh = d.home_dir().join(".ssh");
            ssh_files.extend([ssh.join("known_hosts"), ssh.join("known_hosts2")]);
        }
        ssh_files
            .extend(["/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"].map(PathBuf::from));
        Self {
            ssh_files,
            extra_files,
            app_file: Self::default_app_file(),
        }
    }

    /// Also trusts `files` (the ssh config's UserKnownHostsFile / GlobalKnownHostsFile),
    /// each once.
    pub fn with_ssh_files(mut self, files: impl IntoIterator<Item = PathBuf>) -> Self {
        for f in files {
            if !self.ssh_files.contains(&f) {
                self.ssh_files.push(f);
            }
        }
        self
    }

    /// The app's own file, e.g. `~/.config/swarmdeck/known_hosts`.
    pub fn default_app_file() -> PathBuf {
        directories::ProjectDirs::from("", "", "swarmdeck")
            .map(|d| d.config_dir().join("known_hosts"))
            .unwrap_or_else(|| PathBuf::from(".swarmdeck-known_hosts"))
    }

    /// Only the given files (tests, labs): no user file.
    pub fn with_files(extra_files: Vec<PathBuf>, app_file: PathBuf) -> Self {
        Self {
            ssh_files: Vec::new(),
            extra_files,
            app_file,
        }
    }

    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.ssh_files
            .iter()
            .chain(self.extra_files.iter())
            .chain(std::iter::once(&self.app_file))
            .map(PathBuf::as_path)
    }

    /// Reads every file (missing files count as empty) and decides.
    pub fn check(
        &self,
        host: &str,
        port: u16,
        key: &PublicKey,
    ) -> Result<Verdict, KnownHostsError> {
        let mut parsed = Vec::new();
        for path in self.files() {
            match std::fs::read_to_string(path) {
                Ok(text) => parsed.push((path.to_path_buf(), parse(&text))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(KnownHostsError::Read {
                        path: path.to_path_buf(),
                        source,
                    });
                }
            }
        }
        Ok(verdict_for(&parsed, &host_port_string(host, port), key))
    }

    /// Appends `host key` to the app's own file (atomic rewrite, mode 0600).
    pub fn accept(&self, host: &str, port: u16, key: &PublicKey) -> Result<(), KnownHostsError> {
        let _guard = APPEND_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let path = &self.app_file;
        let mut text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(KnownHostsError::Read {
                    path: path.clone(),
                    source,
                });
            }
        };
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        let mut key = key.clone();
        key.set_comment("");
        let encoded = key
            .to_openssh()
            .map_err(|e| KnownHostsError::Encode(e.to_string()))?;
        text.push_str(&host_port_string(host, port));
        text.push(' ');
        text.push_str(encoded.trim());
        text.push('\n');
        crate::fsutil::write_atomic(path, text.as_bytes(), 0o600).map_err(|source| {
            KnownHostsError::Write {
                path: path.clone(),
                source,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED_A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ";
    const ED_B: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILIG2T/B0l0gaqj3puu510tu9N1OkQ4znY3LYuEm5zCF";

    fn key(s: &str) -> PublicKey {
        PublicKey::from_openssh(s).unwrap()
    }

    fn verdict(text: &str, host: &str, port: u16, k: &str) -> Verdict {
        let files = vec![(PathBuf::from("/kh"), parse(text))];
        verdict_for(&files, &host_port_string(host, port), &key(k))
    }

    /// A real RSA and ECDSA key, so "different algorithm" is exercised.
    fn keygen(dir: &Path, kind: &str) -> String {
        let p = dir.join(format!("k_{kind}"));
        let st = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-N", "", "-f"])
            .arg(&p)
            .status()
            .expect("ssh-keygen runs");
        assert!(st.success());
        std::fs::read_to_string(p.with_extension("pub"))
            .unwrap()
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn plain_comma_list_and_ports() {
        let text = format!("# comment\n\nalpha,10.0.0.1 {ED_A}\n[beta]:2222 {ED_A} c\n");
        assert_eq!(verdict(&text, "alpha", 22, ED_A), Verdict::Trusted);
        assert_eq!(verdict(&text, "10.0.0.1", 22, ED_A), Verdict::Trusted);
        assert_eq!(verdict(&text, "ALPHA", 22, ED_A), Verdict::Trusted);
        // Port 22 entry does not cover another port and vice versa.
        assert_eq!(verdict(&text, "alpha", 2222, ED_A), Verdict::Unknown);
        assert_eq!(verdict(&text, "beta", 2222, ED_A), Verdict::Trusted);
        assert_eq!(verdict(&text, "beta", 22, ED_A), Verdict::Unknown);
        assert_eq!(
            verdict(&text, "beta", 2222, ED_B),
            Verdict::Changed {
                file: "/kh".into(),
                line: 4
            }
        );
        assert_eq!(
            verdict(&text, "10.0.0.1", 22, ED_B),
            Verdict::Changed {
                file: "/kh".into(),
                line: 3
            }
        );
    }

    #[test]
    fn wildcards_and_negation() {
        let text = format!("*.lab,!bad.lab {ED_A}\nnode-?? {ED_A}\n[10.9.*]:2200 {ED_A}\n");
        assert_eq!(verdict(&text, "a.lab", 22, ED_A), Verdict::Trusted);
        assert_eq!(verdict(&text, "x.y.lab", 22, ED_A), Verdict::Trusted);
        assert_eq!(verdict(&text, "bad.lab", 22, ED_A), Verdict::Unknown);
        assert_eq!(verdict(&text, "lab", 22, ED_A), Verdict::Unknown);
        assert_eq!(verdict(&text, "node-01", 22, ED_A), Verdict::Trusted);
        assert_eq!(verdict(&text, "node-1", 22, ED_A), Verdict::Unknown);
        assert_eq!(verdict(&text, "10.9.3.4", 2200, ED_A), Verdict::Trusted);
        assert!(wildcard_match("a*b*c", "axxbyyc"));
        assert!(!wildcard_match("a*b*c", "axxbyy"));
        assert!(wildcard_match("*", ""));
    }

    #[test]
    fn markers_revoked_and_cert_authority() {
        let text = format!(
            "@cert-authority *.lab {ED_B}\n@revoked * {ED_A}\nhost {ED_A}\n@bogus host {ED_B}\n"
        );
        // Revoked wins even though a plain line trusts the same key.
        assert_eq!(
            verdict(&text, "host", 22, ED_A),
            Verdict::Revoked {
                file: "/kh".into(),
                line: 2
            }
        );
        // CA line is ignored entirely: not trusted, not "changed".
        assert_eq!(verdict(&text, "x.lab", 22, ED_B), Verdict::Unknown);
        assert_eq!(parse(&text).len(), 2);
    }

    #[test]
    fn different_algorithm_is_unknown_not_changed() {
        let dir = tempfile::tempdir().unwrap();
        let rsa = keygen(dir.path(), "rsa");
        let ecdsa = keygen(dir.path(), "ecdsa");
        let text = format!("h {rsa}\nh {ED_A}\n");
        assert_eq!(verdict(&text, "h", 22, &ecdsa), Verdict::Unknown);
        assert_eq!(verdict(&text, "h", 22, &rsa), Verdict::Trusted);
        assert_eq!(verdict(&text, "h", 22, ED_A), Verdict::Trusted);
        let other_ed = keygen(dir.path(), "ed25519");
        assert!(matches!(
            verdict(&text, "h", 22, &other_ed),
            Verdict::Changed { line: 2, .. }
        ));
    }

    #[test]
    fn malformed_lines_are_skipped_with_correct_numbers() {
        let text = format!("garbage\nh ssh-ed25519 notbase64!!\nh\n\nh {ED_A}\n");
        let e = parse(&text);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].line, 5);
    }

    #[test]
    fn hashed_entry_with_fixed_salt() {
        // Known vector (from OpenSSH-hashed file): example.com, port 22.
        let text = format!("|1|O33ESRMWPVkMYIwJ1Uw+n877jTo=|nuuC5vEqXlEZ/8BXQR7m619W6Ak= {ED_B}\n");
        assert_eq!(verdict(&text, "example.com", 22, ED_B), Verdict::Trusted);
        assert_eq!(verdict(&text, "example.org", 22, ED_B), Verdict::Unknown);
        assert!(matches!(
            verdict(&text, "example.com", 22, ED_A),
            Verdict::Changed { line: 1, .. }
        ));
        // Our hasher reproduces it.
        let salt = BASE64.decode(b"O33ESRMWPVkMYIwJ1Uw+n877jTo=").unwrap();
        assert_eq!(
            hash_host("example.com", &salt),
            "|1|O33ESRMWPVkMYIwJ1Uw+n877jTo=|nuuC5vEqXlEZ/8BXQR7m619W6Ak="
        );
    }

    #[test]
    fn hashed_entries_from_real_ssh_keygen() {
        let dir = tempfile::tempdir().unwrap();
        let kh = dir.path().join("known_hosts");
        std::fs::write(
            &kh,
            format!("plainhost {ED_A}\n[10.1.2.3]:2222 {ED_A}\nNode-X.Lab {ED_B}\n"),
        )
        .unwrap();
        let out = std::process::Command::new("ssh-keygen")
            .arg("-H")
            .arg("-f")
            .arg(&kh)
            .output()
            .expect("ssh-keygen runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&kh).unwrap();
        assert!(
            text.lines().all(|l| l.starts_with("|1|")),
            "ssh-keygen -H hashed every line:\n{text}"
        );
        let files = KnownHosts::with_files(vec![kh.clone()], dir.path().join("app"));
        assert_eq!(
            files.check("plainhost", 22, &key(ED_A)).unwrap(),
            Verdict::Trusted
        );
        assert_eq!(
            files.check("10.1.2.3", 2222, &key(ED_A)).unwrap(),
            Verdict::Trusted
        );
        assert_eq!(
            files.check("10.1.2.3", 22, &key(ED_A)).unwrap(),
            Verdict::Unknown
        );
        // ssh-keygen lowercases before hashing; so do we.
        assert_eq!(
            files.check("node-x.lab", 22, &key(ED_B)).unwrap(),
            Verdict::Trusted
        );
        assert_eq!(
            files.check("plainhost", 22, &key(ED_B)).unwrap(),
            Verdict::Changed {
                file: kh.clone(),
                line: 1
            }
        );
        // ssh-keygen -F finds what we wrote with accept() too (plain entry, port form).
        let app = dir.path().join("app/known_hosts");
        let files = KnownHosts::with_files(vec![], app.clone());
        files.accept("10.7.0.2", 2200, &key(ED_A)).unwrap();
        let out = std::process::Command::new("ssh-keygen")
            .args(["-F", "[10.7.0.2]:2200", "-f"])
            .arg(&app)
            .output()
            .unwrap();
        assert!(out.status.success(), "ssh-keygen -F found the accepted key");
    }

    #[test]
    fn check_across_files_and_accept() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("user_kh");
        let extra = dir.path().join("extra_kh");
        let app = dir.path().join("cfg/known_hosts");
        std::fs::write(&user, format!("a {ED_A}\n")).unwrap();
        std::fs::write(&extra, format!("# lab\nb {ED_B}")).unwrap(); // no trailing newline
        let kh = KnownHosts {
            ssh_files: vec![user.clone()],
            extra_files: vec![extra.clone(), dir.path().join("missing")],
            app_file: app.clone(),
        };
        assert_eq!(kh.check("a", 22, &key(ED_A)).unwrap(), Verdict::Trusted);
        assert_eq!(kh.check("b", 22, &key(ED_B)).unwrap(), Verdict::Trusted);
        assert_eq!(
            kh.check("b", 22, &key(ED_A)).unwrap(),
            Verdict::Changed {
                file: extra.clone(),
                line: 2
            }
        );
        assert_eq!(kh.check("c", 2222, &key(ED_A)).unwrap(), Verdict::Unknown);
        kh.accept("c", 2222, &key(ED_A)).unwrap();
        kh.accept("d", 22, &key(ED_B)).unwrap();
        assert_eq!(kh.check("c", 2222, &key(ED_A)).unwrap(), Verdict::Trusted);
        assert_eq!(kh.check("d", 22, &key(ED_B)).unwrap(), Verdict::Trusted);
        let text = std::fs::read_to_string(&app).unwrap();
        assert_eq!(text, format!("[c]:2222 {ED_A}\nd {ED_B}\n"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&app).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
}
