//! Where labs keep their files: `/var/lib/swarmdeck/labs/<name>/` (or `$SWARMDECK_LAB_ROOT`),
//! with `lab.json` recording what was created, and a lock file that serializes the choice
//! of names and subnets across processes.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::{Lab, LabError};

pub const DEFAULT_ROOT: &str = "/var/lib/swarmdeck/labs";
pub const ROOT_ENV: &str = "SWARMDECK_LAB_ROOT";
const STATE_FILE: &str = "lab.json";
const LOCK_FILE: &str = ".lock";

/// The state root. Its path ends up in sshd options and boot scripts, so it must be
/// absolute and made of plain characters (sshd splits `AuthorizedKeysFile` on spaces).
pub fn root() -> Result<PathBuf, LabError> {
    let root = std::env::var_os(ROOT_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT));
    let plain = root.to_str().is_some_and(|s| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b))
    });
    if !root.is_absolute() || !plain {
        return Err(LabError::InvalidRoot { path: root });
    }
    Ok(root)
}

pub fn lab_dir(root: &Path, name: &str) -> PathBuf {
    root.join(name)
}

/// Exclusive lock over the state root, released on drop.
pub struct RootLock(File);

impl RootLock {
    pub fn take(root: &Path) -> Result<RootLock, LabError> {
        create_private_dir(root)?;
        let path = root.join(LOCK_FILE);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| LabError::io(format!("open lock file {}", path.display()), e))?;
        file.lock()
            .map_err(|e| LabError::io(format!("lock {}", path.display()), e))?;
        Ok(RootLock(file))
    }
}

impl Drop for RootLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// Creates `dir` (and parents) with mode 0700: lab dirs hold private keys.
pub fn create_private_dir(dir: &Path) -> Result<(), LabError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| LabError::io(format!("create {}", dir.display()), e))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| LabError::io(format!("chmod {}", dir.display()), e))
}

pub fn save(lab: &Lab) -> Result<(), LabError> {
    let path = lab.dir.join(STATE_FILE);
    let text = serde_json::to_vec_pretty(lab).map_err(|e| LabError::State {
        path: path.clone(),
        message: e.to_string(),
    })?;
    crate::fsutil::write_atomic(&path, &text, 0o600)
        .map_err(|e| LabError::io(format!("write {}", path.display()), e))
}

pub fn load(root: &Path, name: &str) -> Result<Lab, LabError> {
    let path = lab_dir(root, name).join(STATE_FILE);
    let text = std::fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => LabError::NotFound {
            name: name.to_string(),
        },
        _ => LabError::io(format!("read {}", path.display()), e),
    })?;
    serde_json::from_slice(&text).map_err(|e| LabError::State {
        path,
        message: e.to_string(),
    })
}

/// Names of all lab directories under the root (valid names only; the lock file and any
/// stray files are skipped).
pub fn lab_names(root: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut names: Vec<String> = rd
        .filter_map(|e| {
            let e = e.ok()?;
            e.file_type().ok()?.is_dir().then_some(())?;
            let name = e.file_name().into_string().ok()?;
            super::validate_name(&name).ok().map(|_| name)
        })
        .collect();
    names.sort();
    names
}

/// Subnet octets recorded by every lab under the root, including ones still starting.
pub fn reserved_octets(root: &Path) -> Vec<u8> {
    lab_names(root)
        .iter()
        .filter_map(|n| load(root, n).ok())
        .map(|l| l.octet)
        .collect()
}
