//! Backup and restore of a swarm's state (`/var/lib/docker/swarm` of a manager).
//!
//! A backup is taken from a manager that is not the leader, and only while the swarm keeps
//! its quorum without it: its engine is stopped, the directory streamed as tar+gzip over
//! SSH into the workstation's data directory ([`archive`]), and the engine started again
//! whatever happened (and unlocked with the key kept in the OS keyring when the swarm is
//! autolocked). A restore puts an archive onto a host whose engine is in no swarm,
//! starts it and makes it the only manager of a new cluster with `--force-new-cluster`
//! ([`crate::swarm::Action::ForceNewCluster`]); the other inventory hosts can leave their
//! old swarm and join again as their former role. An autolocked archive's node key is
//! unwrapped on the workstation with the unlock key from the keyring ([`unlock`]) before
//! the engine starts: the engine could never unlock a lone restored manager. Both are
//! plans ([`plan`]) applied by [`run::apply`], which runs the steps that bring an engine
//! back even after a failure.

pub mod archive;
pub mod plan;
pub mod run;
pub mod unlock;

use std::path::{Path, PathBuf};

pub use archive::{BackupMeta, NodeRecord, Verified};
pub use plan::plan;

use crate::outcome::FailureKind;

/// What `swarmdeck backup` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupChange {
    /// Archive one manager's swarm state into `dir`.
    Create {
        /// The inventory host to take it from; a follower is chosen when none is named.
        from: Option<String>,
        dir: PathBuf,
        /// Go ahead even when stopping the host's engine loses quorum.
        force: bool,
        /// The largest archive accepted, in bytes.
        max_size: u64,
    },
    /// Put an archive onto a host and make it the manager of a new cluster.
    Restore {
        archive: PathBuf,
        onto: String,
        /// The other inventory hosts leave their old swarm and join the restored one.
        rejoin: bool,
        /// Replace the host's swarm state even though its engine is in a swarm.
        force: bool,
    },
}

/// The largest archive `backup create` accepts unless told otherwise: 1 GiB.
pub const DEFAULT_MAX_SIZE: u64 = 1 << 30;

impl BackupChange {
    pub fn describe(&self) -> String {
        match self {
            BackupChange::Create { from: Some(h), .. } => format!("back up the swarm from {h}"),
            BackupChange::Create { from: None, .. } => "back up the swarm".into(),
            BackupChange::Restore { archive, onto, .. } => format!(
                "restore {} onto {onto}",
                archive
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ),
        }
    }

    /// The same change with `force` set, when it has one and it is not yet set.
    pub fn forced(&self) -> Option<BackupChange> {
        let mut c = self.clone();
        match &mut c {
            BackupChange::Create { force, .. } | BackupChange::Restore { force, .. } if !*force => {
                *force = true;
                Some(c)
            }
            _ => None,
        }
    }
}

/// Why a backup or restore cannot be planned or failed on the workstation's side.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "refused: {host} is the swarm's leader; stopping its engine would force a leader \
         election while the backup runs. Take the backup from a follower instead: `swarmdeck \
         backup create --from {follower}`"
    )]
    Leader { host: String, follower: String },
    #[error(
        "refused: {host} is the swarm's leader and no other manager is reachable to take the \
         backup from; add a manager (`swarmdeck node promote NODE`) first"
    )]
    LeaderOnly { host: String },
    #[error(
        "refused: {host} is not a reachable manager of the swarm; only managers hold the swarm's \
         state. Name a manager that is not the leader with --from"
    )]
    NotAManager { host: String },
    #[error(
        "refused: no manager other than the leader is reachable to take the backup from; bring \
         one back or promote a node first"
    )]
    NoFollower,
    #[error("no host {host:?} in the inventory (hosts: {known})")]
    UnknownHost { host: String, known: String },
    #[error(
        "refused: {host}'s engine is in a swarm ({state}); a restore replaces its swarm state. \
         Fix: make it leave first (`swarmdeck node leave {host} --force --yes`, or `docker swarm \
         leave --force` on it), or pass --force to replace it anyway (its current state is \
         moved aside, not deleted)"
    )]
    NotFresh { host: String, state: String },
    #[error(
        "refused: the archive was taken from {source_host} at {source_address}, but {host} is at \
         {address}. Swarm keeps each manager's address in its Raft membership, and a manager \
         restored at another address tells joining managers to reach it at the old one, so no \
         manager could join. Fix: restore onto {source_host}, or onto a host that took over \
         the address {source_address}; --force restores anyway, for a swarm that stays at one \
         manager"
    )]
    AddressMismatch {
        host: String,
        address: String,
        source_host: String,
        source_address: String,
    },
    #[error("{host}: cannot read the engine ({message}); fix it, then plan again")]
    Engine { host: String, message: String },
    #[error("{path}: {source}", path = .path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not a swarmdeck backup's metadata: {message}. Fix: keep the .json file that \
         `backup create` wrote beside the archive",
        path = .path.display()
    )]
    Meta { path: PathBuf, message: String },
    #[error(
        "{path}: the checksum does not match its metadata (sha256 {actual}, recorded \
         {expected}): the archive is damaged or was changed; use another backup",
        path = .path.display()
    )]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error(
        "the OS keyring holds no unlock key for {archive} ({why}), so the restarted manager \
         stays locked. Fix: unlock it with `swarmdeck swarm unlock HOST --unlock-key-stdin --yes`"
    )]
    NoUnlockKey { archive: String, why: String },
    #[error(
        "refused: {archive} was taken from an autolocked swarm; restoring it needs the swarm's \
         unlock key, which the OS keyring does not give ({why}). Fix: pass the key the swarm \
         had then on stdin (`swarmdeck backup restore {archive} --onto HOST \
         --unlock-key-stdin`; it is kept in the keyring under the archive's name), or restore \
         an archive taken with autolock off"
    )]
    RestoreKeyMissing { archive: String, why: String },
    #[error(
        "refused: cannot unwrap the node key of {archive} with the unlock key: {why}. Fix: \
         give the unlock key the swarm had when the archive was taken (`--unlock-key-stdin`)"
    )]
    NodeKey { archive: String, why: String },
    #[error(
        "the OS keyring could not keep the unlock key for {archive} ({why}); the backup was \
         not taken. Fix: start a Secret Service (e.g. gnome-keyring), or turn autolock off"
    )]
    KeyringStore { archive: String, why: String },
    #[error("cannot find the user's data directory (is HOME set?); set SWARMDECK_BACKUP_DIR")]
    NoDataDir,
}

impl BackupError {
    pub(crate) fn file(path: &Path, source: std::io::Error) -> Self {
        BackupError::File {
            path: path.to_path_buf(),
            source,
        }
    }

    /// What a caller may do about it, and the host to blame.
    pub fn kind_and_host(&self) -> (FailureKind, Option<&str>) {
        match self {
            BackupError::NotFresh { host, .. } | BackupError::AddressMismatch { host, .. } => {
                (FailureKind::NeedsForce, Some(host))
            }
            BackupError::Leader { host, .. }
            | BackupError::LeaderOnly { host }
            | BackupError::NotAManager { host }
            | BackupError::UnknownHost { host, .. } => (FailureKind::Refused, Some(host)),
            BackupError::Engine { host, .. } => (FailureKind::Failed, Some(host)),
            BackupError::NoFollower
            | BackupError::Checksum { .. }
            | BackupError::Meta { .. }
            | BackupError::NoUnlockKey { .. }
            | BackupError::RestoreKeyMissing { .. }
            | BackupError::NodeKey { .. } => (FailureKind::Refused, None),
            BackupError::KeyringStore { .. } => (FailureKind::Failed, None),
            BackupError::File { .. } | BackupError::NoDataDir => (FailureKind::Failed, None),
        }
    }
}

/// One step of a backup or restore (`swarm::Action::Backup`), run on its plan step's host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupStep {
    /// Reads the unlock key (autolock) into the OS keyring under the archive's name.
    KeepUnlockKey {
        archive: String,
    },
    StopEngine,
    /// Streams the swarm directory into the archive, then writes its metadata.
    Archive(Box<ArchiveTarget>),
    /// Starts the engine and waits until its API answers. Runs even after a failure.
    StartEngine,
    /// Unlocks the restarted engine with the key the keyring holds for `archive`. Runs
    /// even after a failure, to bring the manager back.
    Unlock {
        archive: String,
    },
    /// Waits until the node is a reachable manager again. Runs even after a failure.
    WaitManager {
        node_id: String,
    },
    /// Replaces the swarm directory with the archive's (the old one moved aside).
    Replace(Box<ReplaceSource>),
    /// Writes the archive's node key unlocked into the replaced swarm directory, opened on
    /// the workstation with the unlock key the keyring holds for the archive (autolock).
    UnwrapNodeKey(Box<NodeKeyTarget>),
}

/// Where an archive goes and what its metadata says (size and checksum filled in later).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveTarget {
    pub path: PathBuf,
    pub max_size: u64,
    pub meta: BackupMeta,
}

/// The verified archive a restore sends, and where it goes on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplaceSource {
    pub archive: PathBuf,
    pub sha256: String,
    /// The engine's data root on the target host.
    pub docker_root: String,
    /// The name the current swarm directory is moved to, beside it.
    pub aside: String,
}

/// The autolocked archive whose node key is unwrapped, and the host's data root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeKeyTarget {
    pub archive: PathBuf,
    /// The archive's file name: its unlock key's keyring entry.
    pub name: String,
    pub docker_root: String,
}

impl BackupStep {
    /// Whether the step runs even after an earlier step failed or a cancel: the steps that
    /// bring a stopped engine back.
    pub fn always(&self) -> bool {
        matches!(
            self,
            BackupStep::StartEngine | BackupStep::WaitManager { .. } | BackupStep::Unlock { .. }
        )
    }

    /// The commands that do the same by hand. Never holds a secret.
    pub fn cli(&self) -> String {
        use crate::host_engine::{EngineOp, script};
        match self {
            BackupStep::KeepUnlockKey { archive } => format!(
                "docker swarm unlock-key -q   # kept in the OS keyring as swarmdeck:{}",
                keyring_account(archive)
            ),
            BackupStep::StopEngine => script(EngineOp::Stop).to_string(),
            BackupStep::Archive(t) => format!(
                "ssh HOST tar -czf - -C {} swarm > {}",
                crate::swarm::plan::quote(&t.meta.docker_root),
                crate::swarm::plan::quote(&t.path.display().to_string())
            ),
            BackupStep::StartEngine => script(EngineOp::Start).to_string(),
            BackupStep::Unlock { .. } => crate::swarm::ops::UNLOCK_CLI.into(),
            BackupStep::WaitManager { .. } => "docker node ls   # until it is Reachable".into(),
            BackupStep::Replace(r) => {
                let root = crate::swarm::plan::quote(&r.docker_root);
                format!(
                    "mv {root}/swarm {root}/{} && mkdir {root}/swarm && ssh HOST tar -xzf - -C \
                     {root} < {}",
                    r.aside,
                    crate::swarm::plan::quote(&r.archive.display().to_string())
                )
            }
            BackupStep::UnwrapNodeKey(k) => format!(
                "# no docker command: swarm/certificates/swarm-node.key of the archive, opened \
                 with the unlock key kept in the OS keyring as swarmdeck:{}, written unlocked \
                 (mode 0600) to {}/swarm/certificates/swarm-node.key",
                keyring_account(&k.name),
                crate::swarm::plan::quote(&k.docker_root)
            ),
        }
    }

    pub fn describe(&self, host: &str) -> String {
        use crate::untrusted::visible;
        match self {
            BackupStep::KeepUnlockKey { .. } => {
                "keep the swarm's unlock key in the OS keyring for this backup".into()
            }
            BackupStep::StopEngine => format!("stop the Docker engine on {host}"),
            BackupStep::Archive(t) => format!(
                "archive {}/swarm of {host} to {}",
                visible(&t.meta.docker_root),
                t.path.display()
            ),
            BackupStep::StartEngine => format!("start the Docker engine on {host} again"),
            BackupStep::Unlock { .. } => {
                format!("unlock the swarm on {host} with the key from the OS keyring")
            }
            BackupStep::WaitManager { .. } => {
                format!("wait until {host} is a reachable manager again")
            }
            BackupStep::Replace(r) => format!(
                "replace {root}/swarm on {host} with the archive's (the current one moved to \
                 {root}/{})",
                r.aside,
                root = visible(&r.docker_root)
            ),
            BackupStep::UnwrapNodeKey(_) => format!(
                "unwrap the node key on {host} with the unlock key from the OS keyring (never \
                 stored), so the restored manager starts unlocked"
            ),
        }
    }
}

/// The keyring account of an archive's unlock key (shown in plans: a name, not the key).
pub fn keyring_account(archive: &str) -> String {
    format!("backup-unlock-key:{archive}")
}
