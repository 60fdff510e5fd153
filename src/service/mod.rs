//! The service: one thread owning the tokio runtime on which all remote work runs.
//!
//! The UI sends [`Command`]s through a bounded channel and drains [`Event`]s with
//! `try_recv`; it never awaits, blocks on or locks anything the service holds. After every
//! event the service calls the repaint hook so the UI wakes up to show it.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::inventory::{HostSpec, Inventory};
use crate::redact::Secret;
use crate::secrets::SecretKey;
pub use crate::severity::Severity;
use crate::snapshot::ClusterSnapshot;
use crate::ssh::HostKeyPolicy;

mod activity;
mod build;
mod connectivity;
pub mod console;
mod hosts;
pub mod jobs;
pub mod logs;
mod rollout;
mod worker;

pub use jobs::{Job, JobId, JobKind, JobUpdate, StepReport};

/// Work the UI asks for.
#[derive(Debug)]
pub enum Command {
    /// Connect to every host of an inventory and take a snapshot.
    Refresh { inventory: PathBuf },
    /// Read a bundle (or bare snapshot) file; `None` asks with the native dialog.
    OpenBundle { path: Option<PathBuf> },
    /// Ask where, then save the bundle (snapshot + preflight + connectivity).
    SaveBundle {
        bundle: Box<crate::snapshot::Bundle>,
    },
    /// Read an inventory file (a missing one is empty).
    LoadInventory { path: PathBuf },
    /// Apply one host edit to the inventory file as it is now (re-read, so hosts added
    /// meanwhile stay) and write it atomically (mode 0600).
    EditInventory {
        path: PathBuf,
        edit: Box<crate::inventory::HostEdit>,
    },
    /// Connect to one host and check Docker, with this host-key policy.
    TestHost {
        host: Box<HostSpec>,
        known_hosts: Vec<PathBuf>,
        policy: HostKeyPolicy,
    },
    /// Store a password or passphrase in the OS keyring.
    StoreSecret { key: SecretKey, secret: Secret },
    /// Read hosts from `~/.ssh/config` or docker contexts.
    ImportHosts { from: ImportSource },
    /// Start a job; its updates come as [`Event::Job`] with this id.
    Start { id: JobId, job: Job },
    /// Ask a job to stop; it stops at its next safe point (between steps) and says so.
    Cancel { id: JobId },
    /// Read earlier connectivity runs.
    LoadConnectivityHistory,
    /// Read the audit log.
    LoadAudit,
    /// Ask where to save, then write the audit log as a replayable shell script.
    ExportAudit,
    /// Ask the user for a file with the native dialog (runs off the UI thread).
    PickFile { purpose: FilePurpose },
    /// Stop the service loop (the window is closing).
    Shutdown,
}

/// What the user chose for a connectivity run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectivityRequest {
    /// An existing attachable overlay; None: a temporary one.
    pub network: Option<String>,
    /// Make the temporary overlay encrypted.
    pub encrypted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportSource {
    SshConfig,
    DockerContexts,
}

/// Why a file is being picked, so the answer goes to the right place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilePurpose {
    PrivateKey,
    Stack(crate::stack::StackFile),
    /// The data of a secret or config.
    Object,
}

/// How a host connection test ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostTest {
    Ok {
        summary: String,
    },
    /// The key is not in any known_hosts file: ask the user to confirm this fingerprint.
    /// It is the key of `key_host` at `addr`: the tested host, or a jump host on the way.
    UnknownKey {
        key_host: String,
        addr: String,
        /// The known_hosts name the consent is for (see `HostKeyPolicy::TrustFingerprint`).
        known_as: String,
        key_type: String,
        fingerprint: String,
    },
    /// The key differs from the recorded one, or is of a type the host is not known by:
    /// refused, never overridable from the app.
    ChangedKey {
        /// Whose key: the tested host, or a jump host on the way.
        key_host: String,
        message: String,
    },
    Failed {
        message: String,
    },
}

/// What the service reports back.
#[derive(Debug)]
pub enum Event {
    Snapshot(Box<ClusterSnapshot>),
    /// The next snapshot is the last one with only these read again: `services` services
    /// (and their tasks) and `hosts` hosts' overlay attachments.
    Refreshed {
        services: usize,
        hosts: usize,
    },
    /// Every host answered as in the last snapshot at `at` (seconds since the epoch): the
    /// view on screen is still true.
    Confirmed {
        at: u64,
    },
    /// A bundle opened for offline troubleshooting, and where it came from.
    Bundle {
        path: PathBuf,
        bundle: Box<crate::snapshot::Bundle>,
    },
    Inventory {
        path: PathBuf,
        inventory: Box<Inventory>,
    },
    HostTested {
        name: String,
        outcome: HostTest,
    },
    Imported {
        from: ImportSource,
        hosts: Vec<HostSpec>,
    },
    FilePicked {
        purpose: FilePurpose,
        path: PathBuf,
    },
    /// An update of a job, routed by its id.
    Job {
        id: JobId,
        update: JobUpdate,
    },
    /// Earlier runs, oldest first.
    ConnectivityHistory(Vec<crate::connectivity::Report>),
    /// The audit log, oldest entry first.
    Audit {
        path: PathBuf,
        entries: Vec<crate::swarm::audit::AuditEntry>,
    },
    Busy {
        what: String,
    },
    Idle,
    Notice(Notice),
}

/// A readable message for the user, naming the host and the fix where there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub severity: Severity,
    pub text: String,
}

impl Notice {
    pub fn error(text: impl Into<String>) -> Self {
        Self::redacted(Severity::Error, text.into())
    }

    pub fn warning(text: impl Into<String>) -> Self {
        Self::redacted(Severity::Warning, text.into())
    }

    /// Problems quote hosts and engines: scrubbed of tokens and keys before they show.
    fn redacted(severity: Severity, text: String) -> Self {
        Self {
            severity,
            text: crate::redact::redact(&text).into_owned(),
        }
    }

    pub fn info(text: impl Into<String>) -> Self {
        Self {
            severity: Severity::Info,
            text: text.into(),
        }
    }
}

/// Called after each event so the UI repaints (egui's `Context::request_repaint`).
pub type RepaintHook = Arc<dyn Fn() + Send + Sync>;

const CHANNEL_DEPTH: usize = 64;

/// The UI's end of the service.
pub struct ServiceHandle {
    commands: mpsc::Sender<Command>,
    events: mpsc::Receiver<Event>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the background service is busy; try again in a moment")]
    Full,
    #[error("the background service has stopped; restart swarmdeck")]
    Closed,
}

impl ServiceHandle {
    /// Starts the service thread with its own multi-threaded tokio runtime.
    pub fn spawn(repaint: RepaintHook) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("swarmdeck-service")
            .build()?;
        let (cmd_tx, cmd_rx) = mpsc::channel(CHANNEL_DEPTH);
        let (evt_tx, evt_rx) = mpsc::channel(CHANNEL_DEPTH);
        let thread = std::thread::Builder::new()
            .name("swarmdeck-service".into())
            .spawn(move || runtime.block_on(worker::run(cmd_rx, evt_tx, repaint)))?;
        Ok(Self {
            commands: cmd_tx,
            events: evt_rx,
            thread: Some(thread),
        })
    }

    /// Queues a command without waiting; a full or closed channel becomes a visible error.
    pub fn send(&self, cmd: Command) -> Result<(), SendError> {
        self.commands.try_send(cmd).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SendError::Full,
            mpsc::error::TrySendError::Closed(_) => SendError::Closed,
        })
    }

    /// Next pending event, if any (never blocks).
    pub fn try_recv(&mut self) -> Option<Event> {
        self.events.try_recv().ok()
    }
}

impl Drop for ServiceHandle {
    fn drop(&mut self) {
        let _ = self.commands.try_send(Command::Shutdown);
        // Don't join: a connection attempt may still be waiting on its timeout, and the
        // window should close now. The runtime ends with the process.
        drop(self.thread.take());
    }
}
