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
//! same algorithm* means the key changed; a host listed only with keys of *other* types is
//! known, and a key of a new type for it needs a human; anything else is unknown.
//!
//! Files the inventory names are trusted only when they pass OpenSSH's `StrictModes` rule
//! (owned by the user or root, writable by no one else, nor are the folders above them);
//! recorded keys name the host as OpenSSH writes it, and a name that known_hosts would
//! read as a pattern is never recorded.
//!
//! russh's own `keys::known_hosts` was not reused: it has no wildcards, negation or
//! markers, and it stops at the first same-type mismatch instead of looking at every file.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use data_encoding::BASE64;
use hmac::{Hmac, KeyInit, Mac};
use russh::keys::{Algorithm, HashAlg, PublicKey};
use sha1::Sha1;

/// What the known_hosts files say about a host's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A matching line holds exactly this key.
    Trusted,
    /// No line lists the host at all.
    Unknown,
    /// The host is listed, but only with keys of other types than the one it presents.
    /// OpenSSH asks a human; swarmdeck refuses (never accept-new): a server that lost its
    /// known key type, or an impostor who does not hold the known key.
    OtherTypeKnown { known: Vec<KnownKey> },
    /// The host is listed with a different key of the same algorithm: possible
    /// man-in-the-middle, or a reinstalled server. Never accepted automatically.
    Changed { file: PathBuf, line: usize },
    /// The key is marked `@revoked` for this host.
    Revoked { file: PathBuf, line: usize },
}

/// A key listed for a host, by type and place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownKey {
    pub key_type: String,
    pub file: PathBuf,
    pub line: usize,
}

impl std::fmt::Display for KnownKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at {}:{}",
            self.key_type,
            self.file.display(),
            self.line
        )
    }
}

/// How many of a host's other-type keys a verdict names (a file of `*` lines matches all).
const MAX_KNOWN_LISTED: usize = 8;

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
    if let Some(changed) = changed {
        return changed;
    }
    let known: Vec<KnownKey> = matching()
        .filter(|(_, e)| e.marker == Marker::None)
        .take(MAX_KNOWN_LISTED)
        .map(|(path, e)| KnownKey {
            key_type: e.key.algorithm().to_string(),
            file: path.clone(),
            line: e.line,
        })
        .collect();
    if known.is_empty() {
        Verdict::Unknown
    } else {
        Verdict::OtherTypeKnown { known }
    }
}

/// The key types listed (not revoked) for `host_port`, each once.
pub fn known_algorithms(files: &[(PathBuf, Vec<Entry>)], host_port: &str) -> Vec<Algorithm> {
    let mut out: Vec<Algorithm> = Vec::new();
    for e in files.iter().flat_map(|(_, entries)| entries) {
        if e.marker == Marker::None && e.matches(host_port) && !out.contains(&e.key.algorithm()) {
            out.push(e.key.algorithm());
        }
    }
    out
}

/// OpenSSH's host-key algorithm order for a host: the algorithms of key types already
/// known for it first (in `default`'s order), then the rest. The server then proves the
/// key we know rather than one we would have to take on trust.
pub fn order_host_key_algorithms(known: &[Algorithm], default: &[Algorithm]) -> Vec<Algorithm> {
    // Every RSA signature algorithm (rsa-sha2-512, rsa-sha2-256, ssh-rsa) uses an RSA key.
    let same_key = |a: &Algorithm, b: &Algorithm| {
        a == b || matches!((a, b), (Algorithm::Rsa { .. }, Algorithm::Rsa { .. }))
    };
    let (mut first, rest): (Vec<Algorithm>, Vec<Algorithm>) = default
        .iter()
        .cloned()
        .partition(|a| known.iter().any(|k| same_key(k, a)));
    first.extend(rest);
    first
}

/// The host field for a new line: `host` or `[host]:port` (lower-case), refused when the
/// name holds anything a host name or address cannot (known_hosts would read `*`, `?`,
/// `!`, `,`, `[`, whitespace or `|` as pattern syntax, and a newline as another line).
pub fn host_field(host: &str, port: u16) -> Result<String, KnownHostsError> {
    let bad = host
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || ".-_:%".contains(*c)));
    if host.is_empty() || bad.is_some() {
        let why = match bad {
            Some(c) => format!("it contains {c:?}"),
            None => "it is empty".to_string(),
        };
        return Err(KnownHostsError::UnsafeHost {
            host: host.escape_debug().to_string(),
            reason: why,
        });
    }
    Ok(host_port_string(host, port))
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
    #[error(
        "refusing to record a host key for {host:?}: {reason}, and known_hosts would read it \
         as a pattern or another line. A host name or address has only letters, digits and \
         . - _ : %; correct the host's address"
    )]
    UnsafeHost { host: String, reason: String },
    #[error(
        "refusing to trust the known_hosts file {path}: {reason}. Anyone who can change it \
         can make swarmdeck trust their key for any host. Fix: {fix}",
        path = .path.display()
    )]
    UnsafeFile {
        path: PathBuf,
        reason: String,
        fix: String,
    },
    #[error(
        "no per-user folder to record host keys in (HOME is unset or not an absolute path, \
         and the user has no home directory in the password database); set HOME, or add the \
         key to ~/.ssh/known_hosts after checking it"
    )]
    NoAppFile,
}

/// The known_hosts files swarmdeck consults, in order: those OpenSSH consults, extra files
/// from the inventory, then the app's own file (the only one it writes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownHosts {
    /// OpenSSH's: `~/.ssh/known_hosts`, `~/.ssh/known_hosts2`, `/etc/ssh/ssh_known_hosts`,
    /// `/etc/ssh/ssh_known_hosts2`, and any the user's ssh config names.
    pub ssh_files: Vec<PathBuf>,
    /// Files the inventory names: read only if [`check_file_owner_and_mode`] passes.
    pub extra_files: Vec<PathBuf>,
    /// `None` when the user has no (absolute) home: keys are then never recorded.
    pub app_file: Option<PathBuf>,
}

/// Serialises appends to app files within this process (parallel connects with accept-new).
static APPEND_LOCK: Mutex<()> = Mutex::new(());

impl KnownHosts {
    /// OpenSSH's default files + `extra_files` + `<config dir>/swarmdeck/known_hosts`.
    pub fn standard(extra_files: Vec<PathBuf>) -> Self {
        let mut ssh_files = Vec::new();
        if let Some(d) = directories::BaseDirs::new()
            && d.home_dir().is_absolute()
        {
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

    /// The app's own file, e.g. `~/.config/swarmdeck/known_hosts`; `None` without a home
    /// (`directories` asks HOME, then the password database), never a relative path.
    pub fn default_app_file() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "swarmdeck")
            .map(|d| d.config_dir().join("known_hosts"))
            .filter(|p| p.is_absolute())
    }

    /// Only the given files (tests, labs): no user file.
    pub fn with_files(extra_files: Vec<PathBuf>, app_file: PathBuf) -> Self {
        Self {
            ssh_files: Vec::new(),
            extra_files,
            app_file: Some(app_file),
        }
    }

    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.ssh_files
            .iter()
            .chain(self.extra_files.iter())
            .chain(self.app_file.iter())
            .map(PathBuf::as_path)
    }

    /// Every file, parsed (missing files count as empty); inventory-named files only after
    /// their owner and mode passed.
    fn read_all(&self) -> Result<Vec<(PathBuf, Vec<Entry>)>, KnownHostsError> {
        let mut parsed = Vec::new();
        for path in self.files() {
            let checked = self.extra_files.iter().any(|f| f == path);
            if let Some(text) = read_if_present(path, checked)? {
                parsed.push((path.to_path_buf(), parse(&text)));
            }
        }
        Ok(parsed)
    }

    /// Reads every file and decides.
    pub fn check(
        &self,
        host: &str,
        port: u16,
        key: &PublicKey,
    ) -> Result<Verdict, KnownHostsError> {
        Ok(verdict_for(
            &self.read_all()?,
            &host_port_string(host, port),
            key,
        ))
    }

    /// The key types known for the host (for [`order_host_key_algorithms`]).
    pub fn known_algorithms(
        &self,
        host: &str,
        port: u16,
    ) -> Result<Vec<Algorithm>, KnownHostsError> {
        Ok(known_algorithms(
            &self.read_all()?,
            &host_port_string(host, port),
        ))
    }

    /// Appends `host key` to the app's own file (atomic rewrite, mode 0600), the host as
    /// OpenSSH writes it (`[host]:port` for other ports than 22).
    pub fn accept(&self, host: &str, port: u16, key: &PublicKey) -> Result<(), KnownHostsError> {
        let field = host_field(host, port)?;
        let path = self.app_file.as_ref().ok_or(KnownHostsError::NoAppFile)?;
        let _guard = APPEND_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let mut text = read_if_present(path, false)?.unwrap_or_default();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        let mut key = key.clone();
        key.set_comment("");
        let encoded = key
            .to_openssh()
            .map_err(|e| KnownHostsError::Encode(e.to_string()))?;
        text.push_str(&field);
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

/// A file's text, `None` if it does not exist; with `checked`, only if
/// [`check_file_owner_and_mode`] passes for the file that was opened.
fn read_if_present(path: &Path, checked: bool) -> Result<Option<String>, KnownHostsError> {
    use std::io::Read;
    let read_err = |source| KnownHostsError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_err(e)),
    };
    if checked {
        let meta = file.metadata().map_err(read_err)?;
        check_file_owner_and_mode(path, &meta)?;
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(read_err)?;
    Ok(Some(text))
}

/// OpenSSH's `StrictModes` for a known_hosts file the inventory names: the file (`meta`,
/// from the open file) and every folder above it must belong to this user or root and be
/// writable by no one else; a folder with the sticky bit (like `/tmp`) may be writable by
/// all, since others cannot rename or replace what is in it.
#[cfg(unix)]
pub fn check_file_owner_and_mode(
    path: &Path,
    meta: &std::fs::Metadata,
) -> Result<(), KnownHostsError> {
    use std::os::unix::fs::MetadataExt;
    let me = nix::unistd::geteuid().as_raw();
    let unsafe_file = |reason: String, fix: String| KnownHostsError::UnsafeFile {
        path: path.to_path_buf(),
        reason,
        fix,
    };
    if meta.uid() != me && meta.uid() != 0 {
        return Err(unsafe_file(
            format!("it belongs to user id {}, not to you or root", meta.uid()),
            format!(
                "`chown {me} {}`, or copy it to a file of your own",
                path.display()
            ),
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(unsafe_file(
            format!(
                "it is writable by its group or by others (mode {:o})",
                meta.mode() & 0o7777
            ),
            format!("`chmod go-w {}`", path.display()),
        ));
    }
    let real = std::fs::canonicalize(path).map_err(|source| KnownHostsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    for dir in real.ancestors().skip(1) {
        let d = std::fs::metadata(dir).map_err(|source| KnownHostsError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let state = format!(
            "the folder {} above it (owner id {}, mode {:o})",
            dir.display(),
            d.uid(),
            d.mode() & 0o7777
        );
        if d.uid() != me && d.uid() != 0 {
            return Err(unsafe_file(
                format!("{state} belongs to another user, who can replace the file"),
                "keep the file in a folder of your own".into(),
            ));
        }
        // Others may write to a sticky folder (like /tmp) but not rename what is in it.
        if d.mode() & 0o022 != 0 && d.mode() & 0o1000 == 0 {
            return Err(unsafe_file(
                format!("{state} is writable by others, who can replace the file"),
                format!(
                    "`chmod go-w {}`, or keep the file in a folder of your own",
                    dir.display()
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn check_file_owner_and_mode(
    _path: &Path,
    _meta: &std::fs::Metadata,
) -> Result<(), KnownHostsError> {
    Ok(())
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
    fn a_host_known_by_another_key_type_is_not_new() {
        let dir = tempfile::tempdir().unwrap();
        let rsa = keygen(dir.path(), "rsa");
        let ecdsa = keygen(dir.path(), "ecdsa");
        let text = format!("h {rsa}\nh {ED_A}\nother {ecdsa}\n");
        assert_eq!(
            verdict(&text, "h", 22, &ecdsa),
            Verdict::OtherTypeKnown {
                known: vec![
                    KnownKey {
                        key_type: "ssh-rsa".into(),
                        file: "/kh".into(),
                        line: 1
                    },
                    KnownKey {
                        key_type: "ssh-ed25519".into(),
                        file: "/kh".into(),
                        line: 2
                    },
                ]
            }
        );
        assert_eq!(verdict(&text, "h", 22, &rsa), Verdict::Trusted);
        assert_eq!(verdict(&text, "h", 22, ED_A), Verdict::Trusted);
        assert_eq!(verdict(&text, "other", 22, &ecdsa), Verdict::Trusted);
        // Another port is another host for known_hosts: nothing known there.
        assert_eq!(verdict(&text, "h", 2222, &ecdsa), Verdict::Unknown);
        let other_ed = keygen(dir.path(), "ed25519");
        assert!(matches!(
            verdict(&text, "h", 22, &other_ed),
            Verdict::Changed { line: 2, .. }
        ));
        // Revoked lines do not make a host known.
        let revoked = format!("@revoked h {rsa}\n");
        assert_eq!(verdict(&revoked, "h", 22, ED_A), Verdict::Unknown);
        // A file of many matching lines is named by its first few.
        let many = format!("* {rsa}\n").repeat(50);
        match verdict(&many, "h", 22, ED_A) {
            Verdict::OtherTypeKnown { known } => assert_eq!(known.len(), MAX_KNOWN_LISTED),
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn known_key_types_are_negotiated_first() {
        let default = russh::Preferred::DEFAULT.key.to_vec();
        let p256 = Algorithm::Ecdsa {
            curve: russh::keys::EcdsaCurve::NistP256,
        };
        // Nothing known: the default order.
        assert_eq!(order_host_key_algorithms(&[], &default), default);
        // ECDSA known: it goes first, the others keep their order.
        let ordered = order_host_key_algorithms(std::slice::from_ref(&p256), &default);
        assert_eq!(ordered[0], p256);
        assert_eq!(ordered[1], Algorithm::Ed25519);
        assert_eq!(ordered.len(), default.len());
        // A known RSA key (listed as ssh-rsa) brings every RSA signature algorithm forward,
        // strongest first.
        let ordered = order_host_key_algorithms(&[Algorithm::Rsa { hash: None }], &default);
        assert!(
            ordered[..3]
                .iter()
                .all(|a| matches!(a, Algorithm::Rsa { .. })),
            "{ordered:?}"
        );
        assert_eq!(
            ordered[0],
            Algorithm::Rsa {
                hash: Some(HashAlg::Sha512)
            }
        );
        // What the files list, per host.
        let dir = tempfile::tempdir().unwrap();
        let ecdsa = keygen(dir.path(), "ecdsa");
        let files = vec![(
            PathBuf::from("/kh"),
            parse(&format!(
                "h {ecdsa}\n@revoked h {ED_A}\nh {ecdsa}\ng {ED_B}\n"
            )),
        )];
        assert_eq!(known_algorithms(&files, "h"), vec![p256]);
        assert_eq!(known_algorithms(&files, "g"), vec![Algorithm::Ed25519]);
        assert!(known_algorithms(&files, "x").is_empty());
    }

    #[test]
    fn recorded_host_names_are_never_patterns() {
        assert_eq!(host_field("Node1.LAB", 22).unwrap(), "node1.lab");
        assert_eq!(host_field("10.0.0.1", 2222).unwrap(), "[10.0.0.1]:2222");
        assert_eq!(host_field("fd00::1", 22).unwrap(), "fd00::1");
        assert_eq!(host_field("fd00::1", 2200).unwrap(), "[fd00::1]:2200");
        assert_eq!(host_field("fe80::1%eth0", 22).unwrap(), "fe80::1%eth0");
        for bad in [
            "*",
            "a*",
            "a?",
            "!a",
            "a,b",
            "a b",
            "a\tb",
            "a\nb",
            "[a]",
            "|1|x",
            "@revoked",
            "",
            "a#b",
            "h\u{1b}[2J",
        ] {
            let e = host_field(bad, 22).unwrap_err();
            assert!(matches!(e, KnownHostsError::UnsafeHost { .. }), "{bad:?}");
            assert!(!e.to_string().contains('\n'), "{e}");
        }
        // accept() refuses them before touching the file.
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("app");
        let kh = KnownHosts::with_files(vec![], app.clone());
        assert!(kh.accept("*", 22, &key(ED_A)).is_err());
        assert!(kh.accept("10.0.0.1,evil", 22, &key(ED_A)).is_err());
        assert!(!app.exists());
        // Without a home there is no app file, and nothing is written anywhere.
        let homeless = KnownHosts {
            app_file: None,
            ..kh.clone()
        };
        assert!(matches!(
            homeless.accept("h", 22, &key(ED_A)),
            Err(KnownHostsError::NoAppFile)
        ));
        assert_eq!(
            homeless.check("h", 22, &key(ED_A)).unwrap(),
            Verdict::Unknown
        );
        if let Some(p) = KnownHosts::default_app_file() {
            assert!(p.is_absolute(), "{}", p.display());
        }
    }

    #[cfg(unix)]
    #[test]
    fn inventory_files_need_safe_owner_and_mode() {
        use std::os::unix::fs::{PermissionsExt, chown};
        let set_mode = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
        };
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let f = sub.join("kh");
        std::fs::write(&f, format!("h {ED_A}\n")).unwrap();
        set_mode(&f, 0o644);
        let kh = KnownHosts::with_files(vec![f.clone()], dir.path().join("app"));
        assert_eq!(kh.check("h", 22, &key(ED_A)).unwrap(), Verdict::Trusted);

        set_mode(&f, 0o664);
        let e = kh.check("h", 22, &key(ED_A)).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, KnownHostsError::UnsafeFile { .. }), "{msg}");
        assert!(msg.contains(&f.display().to_string()), "{msg}");
        assert!(
            msg.contains(&format!("chmod go-w {}", f.display())),
            "{msg}"
        );
        // Also before negotiation.
        assert!(kh.known_algorithms("h", 22).is_err());
        set_mode(&f, 0o600);

        // A folder above it others can write to (not sticky).
        set_mode(&sub, 0o777);
        let msg = kh.check("h", 22, &key(ED_A)).unwrap_err().to_string();
        assert!(msg.contains(&sub.display().to_string()), "{msg}");
        set_mode(&sub, 0o1777);
        assert_eq!(kh.check("h", 22, &key(ED_A)).unwrap(), Verdict::Trusted);
        set_mode(&sub, 0o755);

        // The same file as one of OpenSSH's own is read as ssh reads it.
        set_mode(&f, 0o666);
        let ssh_kh = KnownHosts {
            ssh_files: vec![f.clone()],
            extra_files: vec![],
            app_file: None,
        };
        assert_eq!(ssh_kh.check("h", 22, &key(ED_A)).unwrap(), Verdict::Trusted);
        set_mode(&f, 0o644);

        // Another user's file (needs root to give it away).
        if nix::unistd::geteuid().is_root() {
            chown(&f, Some(65534), None).unwrap();
            let msg = kh.check("h", 22, &key(ED_A)).unwrap_err().to_string();
            assert!(msg.contains("65534"), "{msg}");
            chown(&f, Some(0), None).unwrap();
            chown(&sub, Some(65534), None).unwrap();
            let msg = kh.check("h", 22, &key(ED_A)).unwrap_err().to_string();
            assert!(msg.contains(&sub.display().to_string()), "{msg}");
        }
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
            app_file: Some(app.clone()),
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
