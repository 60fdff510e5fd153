//! The connectivity tester: one probe container per host on an attachable overlay, an N×N
//! matrix of checks between them (name resolution, ICMP with latency, TCP, full-size
//! packets), host-to-host underlay checks over SSH, and a diagnosis naming host, port, cause
//! and fix.
//!
//! Everything the run creates carries the label `swarmdeck.probe=<run id>` and is removed at
//! the end, also after a cancel or timeout; every run first sweeps what expired runs left.
//! Parallel (bounded), with per-exec and per-run timeouts, progress events and cancel.

pub mod diagnose;
pub mod history;
pub mod model;
pub mod parse;
pub mod probe;
pub mod render;
pub mod underlay;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bollard::Docker;
use tokio::sync::{Mutex, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cluster::Cluster;
use crate::docker::DockerError;
use crate::inventory::HostSpec;
use crate::snapshot::Layer;
use crate::ssh::SshSession;

pub use diagnose::diagnose;
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

/// A connected host during a run.
#[derive(Clone)]
struct Live {
    spec: HostSpec,
    session: SshSession,
    docker: Docker,
    /// Active swarm member.
    swarm: bool,
    manager: bool,
    /// Underlay address the swarm uses (advertise address).
    addr: String,
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
    connect(cluster, &run).await;
    run.emit(Progress::Phase(Phase::Sweep));
    sweep(&run).await;
    run.emit(Progress::Phase(Phase::Underlay));
    underlay_checks(&run).await;
    run.emit(Progress::Phase(Phase::Network));
    let Some(network) = network(&run).await else {
        return;
    };
    run.emit(Progress::Phase(Phase::Probes));
    let probes = start_probes(&run, &network).await;
    run.emit(Progress::Phase(Phase::Matrix));
    matrix(&run, probes).await;
}

/// Connects to every host in parallel: SSH, engine, swarm state.
async fn connect(cluster: &Cluster, run: &Arc<Run>) {
    let mut set = JoinSet::new();
    for spec in cluster.inventory().hosts.clone() {
        let cluster = cluster.clone();
        // Each step has its own deadline; this only bounds their sum.
        let t = cluster.deadlines().host_budget() + run.opts.exec_timeout;
        set.spawn(async move {
            let r = tokio::time::timeout(t, connect_host(&cluster, &spec)).await;
            let r = r.unwrap_or_else(|_| {
                // A session means SSH got through: what is left is the engine.
                let state = if cluster.pool().cached(&spec.name).is_some() {
                    HostState::EngineDown
                } else {
                    HostState::SshDown
                };
                let layer = if state == HostState::SshDown {
                    "SSH"
                } else {
                    "the Docker engine"
                };
                Err((
                    state,
                    format!(
                        "{}: no answer from {layer} within {}",
                        spec.name,
                        crate::limits::human(t)
                    ),
                ))
            });
            (spec, r)
        });
    }
    while let Some(j) = set.join_next().await {
        let Ok((spec, r)) = j else { continue };
        match r {
            Ok(live) => {
                {
                    let mut rep = run.report.lock().await;
                    if let Some(h) = rep.hosts.iter_mut().find(|h| h.host == spec.name) {
                        h.manager = live.manager;
                        h.node_addr = Some(live.addr.clone());
                    }
                }
                let state = if live.swarm {
                    HostState::Ok
                } else {
                    HostState::NotInSwarm
                };
                run.set_host(&spec.name, state, None).await;
                run.live.lock().await.push(live);
            }
            Err((state, e)) => run.set_host(&spec.name, state, Some(e)).await,
        }
    }
    let mut live = run.live.lock().await;
    let order: Vec<String> = cluster
        .inventory()
        .hosts
        .iter()
        .map(|h| h.name.clone())
        .collect();
    live.sort_by_key(|l| order.iter().position(|n| *n == l.spec.name));
}

async fn connect_host(cluster: &Cluster, spec: &HostSpec) -> Result<Live, (HostState, String)> {
    let session = cluster
        .pool()
        .session(spec)
        .await
        .map_err(|e| (HostState::SshDown, e.to_string()))?;
    let failed = |e: DockerError| {
        let state = match e.layer() {
            Layer::Network | Layer::Ssh => HostState::SshDown,
            _ => HostState::EngineDown,
        };
        (state, e.to_string())
    };
    let docker = cluster.engine(spec).await.map_err(failed)?;
    let info = docker
        .info()
        .await
        .map_err(|e| failed(DockerError::api(&spec.name, e)))?;
    let swarm = info.swarm.as_ref();
    let active = swarm
        .and_then(|s| s.local_node_state)
        .is_some_and(|s| s == bollard::models::LocalNodeState::ACTIVE);
    // The address the engine reports for itself is used only when it is an IP address.
    let reported = swarm
        .and_then(|s| s.node_addr.as_deref())
        .filter(|a| !a.is_empty());
    let addr = match reported.map(underlay::checked_address) {
        Some(Ok(ip)) => ip.to_string(),
        Some(Err(_)) | None => {
            if let Some(bad) = reported {
                let bad = crate::untrusted::visible(bad);
                tracing::warn!(host = %spec.name, "ignoring the engine's NodeAddr {bad:?}: not an IP address");
            }
            match spec.resolve_ipv4().await {
                Some(ip) => ip.to_string(),
                None => spec.address.clone(),
            }
        }
    };
    Ok(Live {
        spec: spec.clone(),
        session,
        docker,
        swarm: active,
        manager: swarm.and_then(|s| s.control_available).unwrap_or(false),
        addr,
    })
}

/// Removes what crashed earlier runs left (past their promised end), and reads each host's
/// firewall and crypto facts meanwhile.
async fn sweep(run: &Arc<Run>) {
    let live = run.live.lock().await.clone();
    let now = now_unix();
    let mut set = JoinSet::new();
    for l in live {
        let t = run.opts.exec_timeout * 3;
        set.spawn(async move {
            let swept = tokio::time::timeout(t, async {
                let mut n = probe::remove_containers(&l.docker, None, now).await?;
                if l.manager {
                    n += probe::remove_networks(&l.docker, None, now).await?;
                }
                n += probe::remove_images(&l.docker, None, now).await?;
                Ok::<usize, String>(n)
            })
            .await
            .unwrap_or_else(|_| Err("sweeping timed out".into()));
            let facts = underlay::facts(&l.session, t, &l.addr).await;
            (l.spec.name, swept, facts)
        });
    }
    while let Some(j) = set.join_next().await {
        let Ok((host, swept, facts)) = j else {
            continue;
        };
        let mut r = run.report.lock().await;
        let Some(h) = r.hosts.iter_mut().find(|h| h.host == host) else {
            continue;
        };
        match swept {
            Ok(n) => h.swept = n,
            Err(e) => tracing::warn!(%host, "sweeping leftovers failed: {e}"),
        }
        match facts {
            Ok(f) => {
                h.firewall = Some(f.firewall);
                h.crypto = Some(f.crypto);
                h.link = f.link;
            }
            Err(e) => tracing::warn!(%host, "reading firewall/crypto facts failed: {e}"),
        }
    }
}

/// TCP 7946 (and 2377 to managers) between every ordered pair of hosts, on the underlay.
/// UDP is recorded as untestable: nothing confirms a UDP "connection".
async fn underlay_checks(run: &Arc<Run>) {
    let live = run.live.lock().await.clone();
    let secs = run.opts.exec_timeout.as_secs().clamp(1, 3);
    let mut set = JoinSet::new();
    let limit = Arc::new(Semaphore::new(run.opts.parallel.max(1)));
    for a in &live {
        for b in live.iter().filter(|b| b.spec.name != a.spec.name) {
            let mut ports = vec![7946];
            if b.manager {
                ports.push(2377);
            }
            for port in ports {
                let (session, from, to, addr) = (
                    a.session.clone(),
                    a.spec.name.clone(),
                    b.spec.name.clone(),
                    b.addr.clone(),
                );
                let limit = limit.clone();
                set.spawn(async move {
                    let _p = limit.acquire_owned().await;
                    let check = underlay::tcp(&session, &addr, port, secs).await;
                    UnderlayCheck {
                        from,
                        to,
                        port,
                        proto: "tcp".into(),
                        check,
                    }
                });
            }
            for port in [7946, 4789] {
                run.report.lock().await.underlay.push(UnderlayCheck {
                    from: a.spec.name.clone(),
                    to: b.spec.name.clone(),
                    port,
                    proto: "udp".into(),
                    check: Check {
                        outcome: Outcome::Untestable,
                        detail: "UDP has no handshake to confirm; judged by the overlay matrix \
                                 and firewall rules"
                            .into(),
                        latency_ms: None,
                    },
                });
            }
        }
    }
    while let Some(j) = set.join_next().await {
        if let Ok(u) = j {
            run.report.lock().await.underlay.push(u);
        }
    }
    let mut r = run.report.lock().await;
    let order: Vec<String> = r.hosts.iter().map(|h| h.host.clone()).collect();
    let pos = |n: &str| order.iter().position(|o| o == n);
    r.underlay
        .sort_by_key(|u| (pos(&u.from), pos(&u.to), u.port, u.proto.clone()));
}

/// The network to test: the given one (checked), or a temporary one created on a manager.
async fn network(run: &Arc<Run>) -> Option<String> {
    let live = run.live.lock().await.clone();
    let Some(manager) = live.iter().find(|l| l.manager && l.swarm) else {
        run.report.lock().await.error = Some(
            "no reachable swarm manager: the overlay cannot be set up. Form the swarm (`docker \
             swarm init` on one host) or fix the managers named above"
                .into(),
        );
        return None;
    };
    let d = &manager.docker;
    let result = match &run.opts.network {
        Some(name) => probe::inspect_network(d, name)
            .await
            .map(|(id, encrypted)| NetworkReport {
                name: name.clone(),
                temporary: false,
                encrypted,
                id: Some(id),
            }),
        None => {
            let name = format!("sdprobe-{}", run.run_id);
            probe::create_network(d, &name, run.opts.encrypted, run.labels())
                .await
                .map(|id| NetworkReport {
                    name,
                    temporary: true,
                    encrypted: run.opts.encrypted,
                    id: Some(id),
                })
        }
    };
    let mut r = run.report.lock().await;
    match result {
        Ok(net) => {
            let name = net.name.clone();
            r.network = Some(net);
            Some(name)
        }
        Err(e) => {
            r.error = Some(format!("{}: {e}", manager.spec.name));
            None
        }
    }
}

/// A started probe, as the matrix needs it.
#[derive(Clone)]
struct Started {
    host: String,
    docker: Docker,
    container: String,
    ip: String,
    mtu: Option<u32>,
}

async fn start_probes(run: &Arc<Run>, network: &str) -> Vec<Started> {
    let live = run.live.lock().await.clone();
    let order = run.host_names().await;
    let mut set = JoinSet::new();
    for l in live.into_iter().filter(|l| l.swarm) {
        let idx = order.iter().position(|n| *n == l.spec.name).unwrap_or(0);
        let run = run.clone();
        let network = network.to_string();
        set.spawn(async move {
            let r = tokio::time::timeout(
                run.opts.exec_timeout * 4,
                start_probe(&run, &l, idx, &network),
            )
            .await
            .unwrap_or_else(|_| Err("starting the probe timed out".into()));
            (l, r)
        });
    }
    let mut started = Vec::new();
    while let Some(j) = set.join_next().await {
        let Ok((l, r)) = j else { continue };
        match r {
            Ok((s, p)) => {
                run.emit(Progress::ProbeReady {
                    host: l.spec.name.clone(),
                    container: p.container.clone(),
                    source: p.image_source,
                });
                if let Some(h) = run
                    .report
                    .lock()
                    .await
                    .hosts
                    .iter_mut()
                    .find(|h| h.host == l.spec.name)
                {
                    h.probe = Some(p);
                }
                started.push(s);
            }
            Err(e) => {
                let state = engine_state(&l.docker).await;
                run.set_host(&l.spec.name, state, Some(format!("{}: {e}", l.spec.name)))
                    .await;
            }
        }
    }
    started.sort_by_key(|s| order.iter().position(|n| *n == s.host));
    started
}

async fn start_probe(
    run: &Run,
    l: &Live,
    idx: usize,
    network: &str,
) -> Result<(Started, Probe), String> {
    let labels = run.labels();
    let (image, source) = probe::ensure_image(
        &l.session,
        &l.docker,
        &run.run_id,
        &labels,
        run.opts.exec_timeout * 2,
    )
    .await?;
    let name = probe_name(&run.run_id, idx, &l.spec.name);
    let ip = probe::start_probe(&l.docker, &name, &image, network, labels).await?;
    let cmd: Vec<String> = ["sh", "-c", "ip -o -4 addr; ip -o link"]
        .map(String::from)
        .to_vec();
    let mtu = probe::exec(&l.docker, &name, &cmd, run.opts.exec_timeout)
        .await
        .ok()
        .and_then(|o| parse::mtu_for_ip(&o.stdout, &ip));
    Ok((
        Started {
            host: l.spec.name.clone(),
            docker: l.docker.clone(),
            container: name.clone(),
            ip: ip.clone(),
            mtu,
        },
        Probe {
            container: name,
            image,
            image_source: source,
            ip,
            mtu,
        },
    ))
}

/// Whether the engine still answers: tells a dead engine from a failed command.
async fn engine_state(d: &Docker) -> HostState {
    match tokio::time::timeout(Duration::from_secs(5), d.ping()).await {
        Ok(Ok(_)) => HostState::Ok,
        _ => HostState::EngineLost,
    }
}

/// Every ordered pair of probes, all at once but bounded by `parallel` concurrent execs.
async fn matrix(run: &Arc<Run>, probes: Vec<Started>) {
    let hosts = run.host_names().await;
    // Pairs where a side has no probe are recorded as skipped up front.
    {
        let mut r = run.report.lock().await;
        for a in &hosts {
            for b in hosts.iter().filter(|b| *b != a) {
                let have = |h: &String| probes.iter().any(|p| p.host == *h);
                if !have(a) || !have(b) {
                    let who = if have(a) { b } else { a };
                    r.cells
                        .push(Cell::skipped(a, b, &format!("no probe on {who}")));
                }
            }
        }
    }
    let total = probes.len() * probes.len().saturating_sub(1);
    let limit = Arc::new(Semaphore::new(run.opts.parallel.max(1)));
    let mut set = JoinSet::new();
    for a in &probes {
        for b in probes.iter().filter(|b| b.host != a.host) {
            let (a, b, limit) = (a.clone(), b.clone(), limit.clone());
            let t = run.opts.exec_timeout;
            set.spawn(async move { pair(&a, &b, &limit, t).await });
        }
    }
    let mut done = 0;
    let mut troubled: Vec<String> = Vec::new();
    while let Some(j) = set.join_next().await {
        let Ok((cell, engine_trouble)) = j else {
            continue;
        };
        done += 1;
        if engine_trouble && !troubled.contains(&cell.from) {
            troubled.push(cell.from.clone());
        }
        run.emit(Progress::Cell {
            cell: Box::new(cell.clone()),
            done,
            total,
        });
        run.report.lock().await.cells.push(cell);
    }
    for host in troubled {
        if let Some(p) = probes.iter().find(|p| p.host == host)
            && engine_state(&p.docker).await == HostState::EngineLost
        {
            run.set_host(
                &host,
                HostState::EngineLost,
                Some(format!(
                    "{host}: the Docker engine stopped answering during the run"
                )),
            )
            .await;
        }
    }
    sort_cells(&mut *run.report.lock().await, &hosts);
}

fn sort_cells(r: &mut Report, hosts: &[String]) {
    let pos = |n: &str| hosts.iter().position(|h| h == n);
    r.cells.sort_by_key(|c| (pos(&c.from), pos(&c.to)));
}

/// The four checks from probe `a` to probe `b`, concurrently. The flag says an exec failed
/// at the API level (the engine on `a` may be gone).
async fn pair(a: &Started, b: &Started, limit: &Semaphore, t: Duration) -> (Cell, bool) {
    let run = |cmd: Vec<String>| async move {
        let _p = limit.acquire().await;
        probe::exec(&a.docker, &a.container, &cmd, t).await
    };
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let size = a
        .mtu
        .unwrap_or(1450)
        .min(b.mtu.unwrap_or(1450))
        .saturating_sub(28);
    let size_s = size.to_string();
    let token = format!("swarmdeck-{}", a.container);
    let echo = "echo \"$0\" | nc -w 2 \"$1\" \"$2\"";
    let port = probe::ECHO_PORT.to_string();
    // A just-started peer may not have reached every host's DNS yet: one retry.
    let lookup = async {
        let first = run(words(&["nslookup", &b.container])).await;
        match &first {
            Ok(o) if parse::nslookup(&o.stdout, &b.container).is_none() => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                run(words(&["nslookup", &b.container])).await
            }
            _ => first,
        }
    };
    let (dns, icmp, tcp, large) = tokio::join!(
        lookup,
        run(words(&["ping", "-c", "3", "-W", "1", &b.ip])),
        run(words(&["sh", "-c", echo, &token, &b.ip, &port])),
        run(words(&["ping", "-c", "2", "-W", "1", "-s", &size_s, &b.ip])),
    );
    let trouble = [&dns, &icmp, &tcp, &large].iter().any(|r| r.is_err());
    let cell = Cell {
        from: a.host.clone(),
        to: b.host.clone(),
        dns: judge(dns, |o| dns_check(o, &b.container, &b.ip)),
        icmp: judge(icmp, |o| ping_check(o, "")),
        tcp: judge(tcp, |o| tcp_check(o, &token)),
        large: judge(large, |o| ping_check(o, &format!("{size}-byte pings: "))),
    };
    (cell, trouble)
}

fn judge(r: Result<probe::ExecResult, String>, f: impl Fn(&probe::ExecResult) -> Check) -> Check {
    match r {
        Ok(o) => f(&o),
        Err(e) => Check::skipped(format!("could not run: {e}")),
    }
}

/// Name resolution passes when the probe's name resolves, to its own address.
pub fn dns_check(o: &probe::ExecResult, name: &str, ip: &str) -> Check {
    match parse::nslookup(&o.stdout, name) {
        Some(addr) if addr == ip => Check::pass(format!("{name} → {addr}"), None),
        Some(addr) => Check::fail(format!("{name} resolves to {addr}, the probe is at {ip}")),
        None => Check::fail(format!("does not resolve: {}", o.last_line())),
    }
}

pub fn ping_check(o: &probe::ExecResult, prefix: &str) -> Check {
    match parse::ping(&o.text()) {
        Some(s) if s.received > 0 => Check::pass(
            format!("{prefix}{}/{} replies", s.received, s.sent),
            s.avg_ms,
        ),
        Some(s) => Check::fail(format!("{prefix}0/{} replies", s.sent)),
        None => Check::fail(format!("{prefix}{}", o.last_line())),
    }
}

pub fn tcp_check(o: &probe::ExecResult, token: &str) -> Check {
    if o.stdout.contains(token) {
        Check::pass(format!("echo on {}", probe::ECHO_PORT), None)
    } else if o.last_line().is_empty() {
        Check::fail(format!(
            "no echo from port {} (exit {})",
            probe::ECHO_PORT,
            o.code
        ))
    } else {
        Check::fail(o.last_line())
    }
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
    sort_cells(&mut r, &hosts);
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
    use super::probe::ExecResult;
    use super::*;

    fn out(code: i64, stdout: &str) -> ExecResult {
        ExecResult {
            code,
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }

    #[test]
    fn judges_exec_output() {
        let ns = "Server:\t127.0.0.11\nAddress:\t127.0.0.11:53\n\nName:\tp2\nAddress: 10.0.1.4\n";
        assert!(dns_check(&out(0, ns), "p2", "10.0.1.4").passed());
        assert!(dns_check(&out(0, ns), "p2", "10.0.1.9").failed());
        let c = dns_check(
            &out(1, ";; connection timed out; no servers could be reached\n"),
            "p2",
            "x",
        );
        assert!(c.failed() && c.detail.contains("no servers"), "{c:?}");
        let p = ping_check(
            &out(
                0,
                "3 packets transmitted, 3 packets received, 0% packet loss\nround-trip min/avg/max = 0.1/0.2/0.3 ms\n",
            ),
            "",
        );
        assert_eq!(p.latency_ms, Some(0.2));
        assert!(
            ping_check(
                &out(
                    1,
                    "3 packets transmitted, 0 packets received, 100% packet loss\n"
                ),
                ""
            )
            .failed()
        );
        assert!(tcp_check(&out(0, "swarmdeck-x\n"), "swarmdeck-x").passed());
        assert!(tcp_check(&out(1, ""), "swarmdeck-x").failed());
    }

    #[test]
    fn probe_names_are_valid_and_unique_per_run() {
        let n = probe_name("abc123", 2, "10.0.0.1:2222");
        assert!(parse::valid_name(&n), "{n}");
        assert_ne!(n, probe_name("abc124", 2, "10.0.0.1:2222"));
        assert_ne!(new_run_id(), new_run_id());
        assert_eq!(new_run_id().len(), 10);
    }
}
