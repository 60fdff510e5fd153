//! The connectivity tester: one probe container per host on an attachable overlay, an N×N
//! matrix of checks between them (name resolution, ICMP with latency, TCP, full-size
//! packets), host-to-host underlay checks over SSH, and a diagnosis naming host, port, cause
//! and fix.
//!
//! Everything the run creates carries the label `swarmdeck.probe=<run id>` and is removed at
//! the end, also after a cancel or timeout; every run first sweeps what expired runs left.
//! Parallel (bounded), with per-exec and per-run timeouts, progress events and cancel.
//!
//! Here: the run itself (phases in order, timeout and cancel, cleanup). The phases on the
//! hosts are in `hosts`, the overlay and probe phases in `matrix`; [`probe`] and
//! [`underlay`] are the Engine API and SSH operations they use.

pub mod diagnose;
pub mod history;
mod hosts;
mod matrix;
pub mod model;
pub mod parse;
pub mod probe;
pub mod render;
pub mod underlay;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cluster::Cluster;

pub use diagnose::diagnose;
use hosts::Live;
pub use matrix::{dns_check, ping_check, tcp_check};
pub use model::*;

/// How a run is done.
#[derive(Debug, Clone)]
pub struct Options {
    /// An existing attachable overlay to test; `None`: a temporary one is created.
    pub network: Option<String>,
    /// Create the temporary overlay with `--opt encrypted`.
    pub encrypted: bool,
    /// Upper bound for each command (docker exec or SSH exec).
    pub exec_timeout: Duration,
    /// Upper bound for the whole run before cleanup.
    pub run_timeout: Duration,
    /// Upper bound for the cleanup after the run.
    pub cleanup_timeout: Duration,
    /// How many checks run at once.
    pub parallel: usize,
    /// Fixed run id (tests); `None`: a fresh one.
    pub run_id: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            network: None,
            encrypted: false,
            exec_timeout: Duration::from_secs(10),
            run_timeout: Duration::from_secs(120),
            cleanup_timeout: Duration::from_secs(60),
            parallel: 16,
            run_id: None,
        }
    }
}

/// What a run reports while it works (for a progress bar and live matrix).
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    Phase(Phase),
    Host {
        host: String,
        state: HostState,
        detail: String,
    },
    ProbeReady {
        host: String,
        container: String,
        source: ImageSource,
    },
    Cell {
        cell: Box<Cell>,
        done: usize,
        total: usize,
    },
    Finished {
        healthy: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Connect,
    Sweep,
    Underlay,
    Network,
    Probes,
    Matrix,
    Cleanup,
}

/// Problems with the request itself, found before touching any host.
#[derive(Debug, thiserror::Error)]
pub enum ConnectivityError {
    #[error(
        "{name:?} is not a valid network name: use letters, digits, '_', '.' and '-', starting \
         with a letter or digit"
    )]
    InvalidNetwork { name: String },
    #[error("the inventory has no hosts: add some, or pass -H user@host")]
    NoHosts,
    #[error("{host}: {step} failed: {message}. {fix}")]
    Step {
        host: String,
        step: &'static str,
        message: String,
        fix: String,
    },
}

/// A fresh run id: 10 base-36 characters from the clock and the process id.
pub fn new_run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.write_u32(std::process::id());
    let mut n = h.finish();
    let mut s = String::new();
    for _ in 0..10 {
        s.push(char::from_digit((n % 36) as u32, 36).expect("digit"));
        n /= 36;
    }
    s
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// A container name for a host's probe; also its DNS name on the overlay.
pub fn probe_name(run_id: &str, index: usize, host: &str) -> String {
    let clean: String = host
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(20)
        .collect();
    format!("sdprobe-{run_id}-{index}-{clean}")
}

struct Run {
    opts: Options,
    run_id: String,
    until: u64,
    progress: Option<mpsc::UnboundedSender<Progress>>,
    report: Mutex<Report>,
    live: Mutex<Vec<Live>>,
}

impl Run {
    /// The report's hosts, in inventory order.
    async fn host_names(&self) -> Vec<String> {
        let report = self.report.lock().await;
        report.hosts.iter().map(|h| h.host.clone()).collect()
    }

    fn emit(&self, p: Progress) {
        if let Some(tx) = &self.progress {
            let _ = tx.send(p);
        }
    }
    fn labels(&self) -> HashMap<String, String> {
        probe::labels(&self.run_id, self.until)
    }
    async fn set_host(&self, host: &str, state: HostState, error: Option<String>) {
        let mut r = self.report.lock().await;
        if let Some(h) = r.hosts.iter_mut().find(|h| h.host == host) {
            h.state = state;
            if error.is_some() {
                h.error = error.clone();
            }
        }
        drop(r);
        self.emit(Progress::Host {
            host: host.into(),
            state,
            detail: error.unwrap_or_default(),
        });
    }
}

/// Runs the tester against every host of the cluster. Always returns a report (with the
/// diagnosis) unless the request itself is invalid; cleanup runs even after `cancel` or the
/// run timeout.
pub async fn run(
    cluster: &Cluster,
    opts: Options,
    progress: Option<mpsc::UnboundedSender<Progress>>,
    cancel: CancellationToken,
) -> Result<Report, ConnectivityError> {
    if let Some(n) = &opts.network
        && !parse::valid_name(n)
    {
        return Err(ConnectivityError::InvalidNetwork { name: n.clone() });
    }
    if cluster.inventory().hosts.is_empty() {
        return Err(ConnectivityError::NoHosts);
    }
    let started = Instant::now();
    let run_id = opts.run_id.clone().unwrap_or_else(new_run_id);
    let budget = opts.run_timeout + opts.cleanup_timeout + Duration::from_secs(60);
    let run = Arc::new(Run {
        until: now_unix() + budget.as_secs(),
        report: Mutex::new(Report {
            version: REPORT_VERSION,
            run_id: run_id.clone(),
            started_unix: now_unix(),
            duration_ms: 0,
            source: String::new(),
            network: None,
            hosts: cluster
                .inventory()
                .hosts
                .iter()
                .map(|h| HostReport::new(&h.name, &h.address))
                .collect(),
            cells: Vec::new(),
            underlay: Vec::new(),
            findings: Vec::new(),
            interrupted: None,
            error: None,
            cleaned_up: false,
        }),
        live: Mutex::new(Vec::new()),
        opts,
        run_id,
        progress,
    });
    let main = phases(cluster, run.clone());
    let interrupted = tokio::select! {
        () = main => None,
        () = cancel.cancelled() => Some("cancelled".to_string()),
        () = tokio::time::sleep(run.opts.run_timeout) => {
            Some(format!("timed out after {:?}", run.opts.run_timeout))
        }
    };
    if interrupted.is_some() {
        mark_untested(&run, interrupted.as_deref().unwrap_or_default()).await;
    }
    run.emit(Progress::Phase(Phase::Cleanup));
    let cleaned = tokio::time::timeout(run.opts.cleanup_timeout, cleanup(&run))
        .await
        .unwrap_or(false);
    let mut report = run.report.lock().await.clone();
    report.interrupted = interrupted;
    report.cleaned_up = cleaned;
    report.duration_ms = started.elapsed().as_millis() as u64;
    report.findings = diagnose(&report);
    run.emit(Progress::Finished {
        healthy: report.healthy(),
    });
    Ok(report)
}

async fn phases(cluster: &Cluster, run: Arc<Run>) {
    run.emit(Progress::Phase(Phase::Connect));
    hosts::connect(cluster, &run).await;
    run.emit(Progress::Phase(Phase::Sweep));
    hosts::sweep(&run).await;
    run.emit(Progress::Phase(Phase::Underlay));
    hosts::underlay_checks(&run).await;
    run.emit(Progress::Phase(Phase::Network));
    let Some(network) = matrix::network(&run).await else {
        return;
    };
    run.emit(Progress::Phase(Phase::Probes));
    let probes = matrix::start_probes(&run, &network).await;
    run.emit(Progress::Phase(Phase::Matrix));
    matrix::matrix(&run, probes).await;
}

/// Fills in skipped cells for pairs the interrupted run did not get to.
async fn mark_untested(run: &Arc<Run>, why: &str) {
    let mut r = run.report.lock().await;
    let hosts: Vec<String> = r.hosts.iter().map(|h| h.host.clone()).collect();
    for a in &hosts {
        for b in hosts.iter().filter(|b| *b != a) {
            if r.cell(a, b).is_none() {
                r.cells.push(Cell::skipped(a, b, why));
            }
        }
    }
    matrix::sort_cells(&mut r, &hosts);
}

/// Removes this run's containers everywhere, then its network (manager), then imported
/// images. Returns true when nothing is left; what is left is recorded per host.
async fn cleanup(run: &Arc<Run>) -> bool {
    let live = run.live.lock().await.clone();
    let id = run.run_id.clone();
    let now = now_unix();
    let t = run.opts.exec_timeout * 2;
    let step = |live: Vec<Live>, what: &'static str| {
        let id = id.clone();
        async move {
            let mut set = JoinSet::new();
            for l in live {
                let id = id.clone();
                set.spawn(async move {
                    let r = tokio::time::timeout(t, async {
                        match what {
                            "containers" => {
                                probe::remove_containers(&l.docker, Some(&id), now).await
                            }
                            "network" => probe::remove_networks(&l.docker, Some(&id), now).await,
                            _ => probe::remove_images(&l.docker, Some(&id), now).await,
                        }
                    })
                    .await
                    .unwrap_or_else(|_| Err(format!("removing {what} timed out")));
                    (l.spec.name, r)
                });
            }
            let mut failed = Vec::new();
            while let Some(j) = set.join_next().await {
                if let Ok((host, Err(e))) = j {
                    failed.push((host, format!("{what}: {e}")));
                }
            }
            failed
        }
    };
    let mut failed = step(live.clone(), "containers").await;
    if run.opts.network.is_none() {
        let managers: Vec<Live> = live.iter().filter(|l| l.manager).take(1).cloned().collect();
        failed.extend(step(managers, "network").await);
    }
    failed.extend(step(live, "images").await);
    let mut r = run.report.lock().await;
    for (host, e) in &failed {
        if let Some(h) = r.hosts.iter_mut().find(|h| h.host == *host) {
            h.leftovers.push(e.clone());
        }
    }
    // Hosts we never reached may hold nothing of this run; hosts lost mid-run may.
    let lost = r
        .hosts
        .iter()
        .any(|h| h.state == HostState::EngineLost && h.probe.is_some());
    failed.is_empty() && !lost
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_names_are_valid_and_unique_per_run() {
        let n = probe_name("abc123", 2, "10.0.0.1:2222");
        assert!(parse::valid_name(&n), "{n}");
        assert_ne!(n, probe_name("abc124", 2, "10.0.0.1:2222"));
        assert_ne!(new_run_id(), new_run_id());
        assert_eq!(new_run_id().len(), 10);
    }
}
