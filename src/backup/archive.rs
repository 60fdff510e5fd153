//! Backup archives on the workstation: where they live, their names, the metadata file
//! beside each, checksums, and the listing. Every file is written atomically with mode
//! 0600 in a 0700 directory. The unlock key of an autolocked swarm is never here: it is in
//! the OS keyring under [`keyring_name`].

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::BackupError;

/// Overrides where archives are kept (tests, or users who keep them elsewhere).
pub const BACKUP_DIR_ENV: &str = "SWARMDECK_BACKUP_DIR";

/// `$SWARMDECK_BACKUP_DIR`, else `backups` in the user's data directory.
pub fn default_dir() -> Result<PathBuf, BackupError> {
    if let Some(p) = std::env::var_os(BACKUP_DIR_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let dirs = directories::ProjectDirs::from("", "", "swarmdeck").ok_or(BackupError::NoDataDir)?;
    Ok(dirs.data_dir().join("backups"))
}

/// A swarm node as it was when the archive was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub id: String,
    pub hostname: String,
    pub address: String,
    /// `manager` or `worker`.
    pub role: String,
}

/// The metadata file beside an archive (`NAME.json` for `NAME.tar.gz`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupMeta {
    /// The archive's file name (in the same directory).
    pub archive: String,
    /// Seconds since the Unix epoch, and the same in UTC words.
    pub created: u64,
    pub created_utc: String,
    pub cluster_id: String,
    /// The inventory host and the node the state was read from.
    pub source_host: String,
    pub source_node_id: String,
    pub source_hostname: String,
    pub nodes: Vec<NodeRecord>,
    pub engine_version: String,
    /// The engine's data root on the source host (`/var/lib/docker`).
    pub docker_root: String,
    pub size: u64,
    pub sha256: String,
    /// The swarm was autolocked: restoring needs the unlock key, kept in the OS keyring.
    pub autolock: bool,
}

impl BackupMeta {
    pub fn managers(&self) -> impl Iterator<Item = &NodeRecord> {
        self.nodes.iter().filter(|n| n.role == "manager")
    }
}

/// `swarm-YYYYMMDD-HHMMSS-CLUSTER12`: date and cluster ID, safe in a file name and a
/// keyring entry (the cluster ID is the engine's text: only its letters and digits count).
pub fn base_name(now: u64, cluster_id: &str) -> String {
    let digits: String = crate::swarm::audit::fmt_time(now)
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let cluster: String = cluster_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect();
    let (date, time) = digits.split_at(digits.len().min(8));
    format!("swarm-{date}-{time}-{cluster}")
}

pub fn archive_path(dir: &Path, base: &str) -> PathBuf {
    dir.join(format!("{base}.tar.gz"))
}

pub fn meta_path(archive: &Path) -> PathBuf {
    let name = archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".tar.gz").unwrap_or(&name);
    archive.with_file_name(format!("{stem}.json"))
}

/// The keyring entry that holds an archive's unlock key.
pub fn keyring_name(archive_file: &str) -> crate::secrets::SecretKey {
    crate::secrets::SecretKey::BackupUnlockKey {
        archive: archive_file.to_string(),
    }
}

/// The directory, created 0700 if missing.
pub fn ensure_dir(dir: &Path) -> Result<(), BackupError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| BackupError::file(dir, e))
}

/// SHA-256 of a file, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String, BackupError> {
    let mut f = std::fs::File::open(path).map_err(|e| BackupError::file(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(|e| BackupError::file(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(data_encoding::HEXLOWER.encode(&h.finalize()))
}

pub fn write_meta(archive: &Path, meta: &BackupMeta) -> Result<(), BackupError> {
    let path = meta_path(archive);
    let mut text = serde_json::to_string_pretty(meta).expect("metadata serialises");
    text.push('\n');
    crate::fsutil::write_atomic(&path, text.as_bytes(), 0o600)
        .map_err(|e| BackupError::file(&path, e))
}

pub fn read_meta(archive: &Path) -> Result<BackupMeta, BackupError> {
    let path = meta_path(archive);
    let text = std::fs::read_to_string(&path).map_err(|e| BackupError::file(&path, e))?;
    serde_json::from_str(&text).map_err(|e| BackupError::Meta {
        path: path.clone(),
        message: e.to_string(),
    })
}

/// Where an archive holds the manager's TLS key (sealed with the KEK under autolock).
pub const NODE_KEY_ENTRY: &str = "swarm/certificates/swarm-node.key";

/// The node key file inside an archive (tar+gzip of `swarm/`), read into memory only.
pub fn read_node_key(archive: &Path) -> Result<zeroize::Zeroizing<String>, BackupError> {
    let file = std::fs::File::open(archive).map_err(|e| BackupError::file(archive, e))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let entries = tar.entries().map_err(|e| BackupError::file(archive, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| BackupError::file(archive, e))?;
        let path = entry.path().map_err(|e| BackupError::file(archive, e))?;
        if path != Path::new(NODE_KEY_ENTRY) {
            continue;
        }
        // A key file is a few hundred bytes; more is not one.
        let mut text = zeroize::Zeroizing::new(String::new());
        (&mut entry)
            .take(64 * 1024)
            .read_to_string(&mut text)
            .map_err(|e| BackupError::file(archive, e))?;
        return Ok(text);
    }
    Err(BackupError::NodeKey {
        archive: archive.display().to_string(),
        why: format!("the archive holds no {NODE_KEY_ENTRY}"),
    })
}

/// An archive whose file matches the checksum its metadata records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub path: PathBuf,
    pub meta: BackupMeta,
}

/// Reads an archive's metadata and checks its size and checksum.
pub fn verify(archive: &Path) -> Result<Verified, BackupError> {
    let meta = read_meta(archive)?;
    let actual = sha256_file(archive)?;
    if actual != meta.sha256 {
        return Err(BackupError::Checksum {
            path: archive.to_path_buf(),
            expected: meta.sha256.clone(),
            actual,
        });
    }
    Ok(Verified {
        path: archive.to_path_buf(),
        meta,
    })
}

/// One row of `backup list`: an archive, or why it cannot be used.
#[derive(Debug)]
pub struct Listed {
    pub path: PathBuf,
    pub result: Result<Verified, BackupError>,
}

/// [`list`] of the default directory, its error as text (for the app's Backups panel).
pub fn list_default() -> Result<Vec<Listed>, String> {
    default_dir()
        .and_then(|dir| list(&dir))
        .map_err(|e| crate::redact::redact(&e.to_string()).into_owned())
}

/// Every `*.tar.gz` in `dir`, oldest first, each verified. A missing directory is empty.
pub fn list(dir: &Path) -> Result<Vec<Listed>, BackupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(BackupError::file(dir, e)),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .collect();
    paths.sort();
    Ok(paths
        .into_iter()
        .map(|path| Listed {
            result: verify(&path),
            path,
        })
        .collect())
}

/// Metadata for tests: an archive from node2 with no nodes listed.
#[cfg(test)]
pub(crate) fn sample_meta(archive: &str, sha256: String) -> BackupMeta {
    BackupMeta {
        archive: archive.into(),
        created: 0,
        created_utc: String::new(),
        cluster_id: "c".into(),
        source_host: "node2".into(),
        source_node_id: "id2".into(),
        source_hostname: "node2".into(),
        nodes: vec![],
        engine_version: "26.1".into(),
        docker_root: "/var/lib/docker".into(),
        size: 5,
        sha256,
        autolock: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(archive: &str, sha256: String) -> BackupMeta {
        sample_meta(archive, sha256)
    }

    #[test]
    fn names_carry_date_and_cluster_and_nothing_else() {
        // 2026-11-30 04:20:05 UTC
        let n = base_name(1_796_012_405, "abc/../def;rm -rf xyz0123456789");
        assert_eq!(n, "swarm-20261130-042005-abcdefrmrfxy");
        let a = archive_path(Path::new("/b"), &n);
        assert_eq!(
            meta_path(&a),
            Path::new("/b/swarm-20261130-042005-abcdefrmrfxy.json")
        );
    }

    #[test]
    fn listing_verifies_checksums() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("a.tar.gz");
        std::fs::write(&good, b"hello").unwrap();
        write_meta(&good, &meta("a.tar.gz", sha256_file(&good).unwrap())).unwrap();
        let bad = dir.path().join("b.tar.gz");
        std::fs::write(&bad, b"hello").unwrap();
        write_meta(&bad, &meta("b.tar.gz", "00".into())).unwrap();
        std::fs::write(dir.path().join("c.tar.gz"), b"no metadata").unwrap();
        let rows = list(dir.path()).unwrap();
        assert_eq!(rows.len(), 3);
        assert!(rows[0].result.is_ok());
        assert!(matches!(rows[1].result, Err(BackupError::Checksum { .. })));
        assert!(matches!(rows[2].result, Err(BackupError::File { .. })));
        assert_eq!(
            sha256_file(&good).unwrap(),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(meta_path(&good))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(list(&dir.path().join("none")).unwrap().is_empty());
    }

    fn tar_gz(path: &Path, entries: &[(&str, &[u8])]) {
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(path).unwrap(),
            flate2::Compression::fast(),
        );
        let mut tar = tar::Builder::new(gz);
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o600);
            h.set_cksum();
            tar.append_data(&mut h, name, *data).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
    }

    #[test]
    fn the_node_key_is_read_from_the_archive_by_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.tar.gz");
        tar_gz(
            &a,
            &[
                ("swarm/state.json", b"[]"),
                ("swarm/certificates/swarm-node.crt", b"cert"),
                (NODE_KEY_ENTRY, b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n"),
            ],
        );
        assert_eq!(
            read_node_key(&a).unwrap().as_str(),
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
        );
        let b = dir.path().join("b.tar.gz");
        tar_gz(&b, &[("other/certificates/swarm-node.key", b"x")]);
        let e = read_node_key(&b).unwrap_err().to_string();
        assert!(
            e.contains("holds no swarm/certificates/swarm-node.key"),
            "{e}"
        );
        std::fs::write(&b, b"not gzip").unwrap();
        assert!(matches!(read_node_key(&b), Err(BackupError::File { .. })));
    }
}
