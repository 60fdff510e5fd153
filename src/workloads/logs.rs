//! A service's or a task's logs, read from the engine of each node that runs a task
//! (`GET /containers/{id}/logs` over that node's own SSH connection), never through a
//! manager's `/services/{id}/logs`: a lost manager or node costs only its own tasks'
//! lines. The streams are merged in time order ([`super::log_lines::Merge`]); a node that
//! cannot be reached is said once, as a [`LogNotice`] naming the host and the layer.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::log_lines::{Lines, LogLine, Merge, Stream, split_timestamp};
use crate::cluster::Cluster;
use crate::docker::DockerError;
use crate::inventory::HostSpec;
use crate::snapshot::{ClusterSnapshot, Layer, NodeInfo, TaskInfo};

/// How long a followed line waits for lines from slower nodes that may come before it.
pub const FOLLOW_WINDOW: Duration = Duration::from_millis(200);
/// At most this many lines wait in the merge (and as many bytes as one answer may have).
pub const MAX_WAITING_LINES: usize = 50_000;
/// Lines in flight from the streams to the merge.
const CHANNEL: usize = 64;

/// What to read.
#[derive(Debug, Clone, Default)]
pub struct LogRequest {
    /// A service's name or ID, or a task's ID, its ID prefix or its name (`svc.1`).
    pub target: String,
    pub follow: bool,
    /// Only lines since then (seconds since the epoch).
    pub since: Option<i64>,
    /// Only the last N lines of each task.
    pub tail: Option<u64>,
}

/// Something the reader of the logs must know: lines are missing, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum LogNotice {
    #[error("{host}: {} not answering; its tasks' logs are missing ({error})", layer.describe())]
    Unreachable {
        host: String,
        layer: Layer,
        error: String,
    },
    #[error("node {node} is in no inventory host (by address); its tasks' logs are missing")]
    NotInInventory { node: String },
    #[error("{host}: the logs of {task} broke off at the {} layer: {error}", layer.describe())]
    BrokeOff {
        host: String,
        task: String,
        layer: Layer,
        error: String,
    },
}

/// What the merged stream carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEvent {
    Line(LogLine),
    Notice(LogNotice),
}

#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    #[error("no swarm manager answered: {why}")]
    NoSwarm { why: String },
    #[error("no service or task {target} (or several match it)")]
    NotFound { target: String },
}

/// One task's container, where it runs.
#[derive(Debug, Clone)]
struct Source {
    node: String,
    task: String,
    task_id: String,
    container: String,
}

/// Reads the logs `req` names and sends them, merged, to `out`. Returns when every stream
/// ended (never, when following, until the caller drops it or `out` closes).
pub async fn logs(
    cluster: &Cluster,
    req: &LogRequest,
    out: mpsc::Sender<LogEvent>,
) -> Result<(), LogsError> {
    let snap = cluster.snapshot().await;
    if let Some(why) = no_swarm(&snap) {
        return Err(LogsError::NoSwarm { why });
    }
    let tasks = resolve(&snap, &req.target).ok_or_else(|| LogsError::NotFound {
        target: req.target.clone(),
    })?;
    let (by_host, notices) = place(&snap, cluster.inventory().hosts.as_slice(), &tasks);
    for n in notices {
        if out.send(LogEvent::Notice(n)).await.is_err() {
            return Ok(());
        }
    }
    let (tx, rx) = mpsc::channel(CHANNEL);
    let mut streams = JoinSet::new();
    for (host, sources) in by_host {
        let (cluster, tx, opts) = (cluster.clone(), tx.clone(), options(req));
        streams.spawn(async move { read_host(&cluster, &host, sources, opts, tx).await });
    }
    drop(tx);
    merge(rx, req.follow, out).await;
    // Dropping the set stops streams still open (the consumer went away).
    streams.abort_all();
    Ok(())
}

/// Why the snapshot holds no current view of the swarm (no manager answered now), if so:
/// tasks found in a kept node list may have moved since.
pub(crate) fn no_swarm(snap: &ClusterSnapshot) -> Option<String> {
    (snap.swarm.is_none() || snap.nodes_as_of.is_some()).then(|| {
        snap.swarm_error
            .clone()
            .unwrap_or_else(|| "not a swarm yet, or every manager is unreachable".to_string())
    })
}

fn options(req: &LogRequest) -> LogsOptions {
    LogsOptions {
        follow: req.follow,
        stdout: true,
        stderr: true,
        since: req
            .since
            .map_or(0, |s| s.clamp(0, i64::from(i32::MAX)) as i32),
        until: 0,
        timestamps: true,
        tail: req.tail.map_or_else(|| "all".into(), |n| n.to_string()),
    }
}

/// The tasks whose logs `target` asks for: a service's (every task that has a container,
/// as `docker service logs` shows), or one task by ID, unique ID prefix or name.
pub(crate) fn resolve<'a>(snap: &'a ClusterSnapshot, target: &str) -> Option<Vec<&'a TaskInfo>> {
    if let Some(service) = snap.service(target) {
        return Some(snap.tasks_of(&service.id));
    }
    let unique = |f: &dyn Fn(&TaskInfo) -> bool| {
        let mut hits = snap.tasks.iter().filter(|t| f(t));
        match (hits.next(), hits.next()) {
            (Some(t), None) => Some(vec![t]),
            _ => None,
        }
    };
    unique(&|t| t.id == target)
        .or_else(|| unique(&|t| !target.is_empty() && t.id.starts_with(target)))
        .or_else(|| {
            // A name: the newest task of that slot.
            let named: Vec<&TaskInfo> = snap
                .tasks
                .iter()
                .filter(|t| task_name(snap, t) == target)
                .collect();
            named
                .into_iter()
                .max_by(|a, b| a.timestamp.cmp(&b.timestamp))
                .map(|t| vec![t])
        })
}

/// `SERVICE.SLOT`, or `SERVICE.NODEID` for global services, as docker names tasks.
pub fn task_name(snap: &ClusterSnapshot, t: &TaskInfo) -> String {
    let service = snap
        .services
        .iter()
        .find(|s| s.id == t.service_id)
        .map_or(t.service_id.as_str(), |s| s.name.as_str());
    match (t.slot, &t.node_id) {
        (Some(slot), _) => format!("{service}.{slot}"),
        (None, Some(node)) => format!("{service}.{node}"),
        (None, None) => format!("{service}.{}", t.id),
    }
}

/// The inventory host of a node: the live host that says it is that node, else the one
/// host at the node's address.
fn host_of<'a>(
    snap: &ClusterSnapshot,
    hosts: &'a [HostSpec],
    node: &NodeInfo,
) -> Option<&'a HostSpec> {
    let name = snap
        .hosts
        .iter()
        .find(|h| h.node_id.as_deref() == Some(node.id.as_str()))
        .map(|h| h.host.as_str());
    if let Some(name) = name {
        return hosts.iter().find(|h| h.name == name);
    }
    let mut same = hosts.iter().filter(|h| h.address == node.address);
    match (same.next(), same.next()) {
        (Some(h), None) => Some(h),
        _ => None,
    }
}

type ByHost = BTreeMap<String, (HostSpec, Vec<Source>)>;

/// Why a task's node has no host to reach it through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unplaced {
    /// No inventory host is that node.
    NotInInventory { node: String },
    /// Its host failed in the snapshot.
    Unreachable {
        host: String,
        layer: Layer,
        error: String,
    },
}

impl From<Unplaced> for LogNotice {
    fn from(u: Unplaced) -> Self {
        match u {
            Unplaced::NotInInventory { node } => LogNotice::NotInInventory { node },
            Unplaced::Unreachable { host, layer, error } => {
                LogNotice::Unreachable { host, layer, error }
            }
        }
    }
}

/// Where a task's container runs: the inventory host of its node, or why that host cannot
/// be used. None for a task without a node or a container.
pub(crate) fn locate<'a>(
    snap: &'a ClusterSnapshot,
    hosts: &'a [HostSpec],
    t: &TaskInfo,
) -> Option<Result<(&'a HostSpec, &'a NodeInfo), Unplaced>> {
    let (Some(node_id), Some(_)) = (&t.node_id, &t.container_id) else {
        return None;
    };
    let node = snap.node(node_id)?;
    let Some(host) = host_of(snap, hosts, node) else {
        return Some(Err(Unplaced::NotInInventory {
            node: node.hostname.clone(),
        }));
    };
    let failed = snap
        .hosts
        .iter()
        .find(|h| h.host == host.name && h.error.is_some());
    Some(match failed {
        Some(f) => Err(Unplaced::Unreachable {
            host: host.name.clone(),
            layer: f.layer.unwrap_or(Layer::Other),
            error: f.error.clone().unwrap_or_default(),
        }),
        None => Ok((host, node)),
    })
}

/// Each task's container by the inventory host that runs it; hosts that failed in the
/// snapshot and nodes with no host are notices instead (once each).
fn place(
    snap: &ClusterSnapshot,
    hosts: &[HostSpec],
    tasks: &[&TaskInfo],
) -> (Vec<(HostSpec, Vec<Source>)>, Vec<LogNotice>) {
    let mut by_host = ByHost::new();
    let mut notices = Vec::new();
    for t in tasks {
        let (host, node) = match locate(snap, hosts, t) {
            None => continue,
            Some(Err(u)) => {
                let n = LogNotice::from(u);
                if !notices.contains(&n) {
                    notices.push(n);
                }
                continue;
            }
            Some(Ok(at)) => at,
        };
        by_host
            .entry(host.name.clone())
            .or_insert_with(|| (host.clone(), Vec::new()))
            .1
            .push(Source {
                node: node.hostname.clone(),
                task: task_name(snap, t),
                task_id: t.id.clone(),
                container: t.container_id.clone().unwrap_or_default(),
            });
    }
    (by_host.into_values().collect(), notices)
}

/// Every task's stream on one host, side by side, over the host's own connection.
async fn read_host(
    cluster: &Cluster,
    host: &HostSpec,
    sources: Vec<Source>,
    opts: LogsOptions,
    tx: mpsc::Sender<LogEvent>,
) {
    let docker = match cluster.engine(host).await {
        Ok(d) => d,
        Err(e) => {
            let _ = tx.send(LogEvent::Notice(unreachable(host, &e))).await;
            return;
        }
    };
    let reads = sources.into_iter().map(|s| {
        let (docker, opts, tx) = (docker.clone(), opts.clone(), tx.clone());
        async move { read_task(&docker, &host.name, s, opts, tx).await }
    });
    futures_util::future::join_all(reads).await;
}

fn unreachable(host: &HostSpec, e: &DockerError) -> LogNotice {
    LogNotice::Unreachable {
        host: host.name.clone(),
        layer: e.layer(),
        error: crate::redact::redact(&e.to_string()).into_owned(),
    }
}

/// One container's lines, each stamped with its time, node and task.
async fn read_task(
    docker: &Docker,
    host: &str,
    src: Source,
    opts: LogsOptions,
    tx: mpsc::Sender<LogEvent>,
) {
    let mut stream = docker.logs(&src.container, Some(opts));
    let mut out = Stamper::new(&src);
    while let Some(frame) = stream.next().await {
        let lines = match frame {
            Ok(LogOutput::StdErr { message }) => out.push(Stream::Stderr, &message),
            Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                out.push(Stream::Stdout, &message)
            }
            Ok(LogOutput::StdIn { .. }) => Vec::new(),
            // A task whose container is gone (removed with its task history) has no logs.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                tracing::debug!(%host, task = %src.task, "container gone: no logs");
                return;
            }
            Err(e) => {
                let e = broke_off_at(host, docker, e).await;
                let notice = LogNotice::BrokeOff {
                    host: host.to_string(),
                    task: src.task.clone(),
                    layer: e.layer(),
                    error: crate::redact::redact(&e.to_string()).into_owned(),
                };
                let _ = tx.send(LogEvent::Notice(notice)).await;
                break;
            }
        };
        for l in lines {
            if tx.send(LogEvent::Line(l)).await.is_err() {
                return;
            }
        }
    }
    for l in out.finish() {
        let _ = tx.send(LogEvent::Line(l)).await;
    }
}

/// Why a stream broke off. A body cut short reads the same whichever end failed, so a
/// ping over a new channel tells a lost SSH connection (no channel opens) from the engine.
async fn broke_off_at(host: &str, docker: &Docker, e: bollard::errors::Error) -> DockerError {
    let e = DockerError::explain(host, docker, e).await;
    if e.layer() != Layer::Engine {
        return e;
    }
    match docker.ping().await {
        Err(p) => match DockerError::explain(host, docker, p).await {
            ssh if ssh.layer() == Layer::Ssh => ssh,
            _ => e,
        },
        Ok(_) => e,
    }
}

/// Turns one container's frames into stamped lines; a line without a time of its own
/// (the rest of a split one) takes the last time seen.
struct Stamper<'a> {
    src: &'a Source,
    splitters: [Lines; 2],
    last: (String, i128),
}

impl<'a> Stamper<'a> {
    fn new(src: &'a Source) -> Self {
        Self {
            src,
            splitters: Default::default(),
            last: (String::new(), 0),
        }
    }

    fn push(&mut self, stream: Stream, frame: &[u8]) -> Vec<LogLine> {
        let lines = self.splitters[stream as usize].push_message(frame);
        lines.iter().map(|l| self.stamp(stream, l)).collect()
    }

    fn finish(&mut self) -> Vec<LogLine> {
        let mut out = Vec::new();
        for stream in [Stream::Stdout, Stream::Stderr] {
            if let Some(l) = self.splitters[stream as usize].finish() {
                out.push(self.stamp(stream, &l));
            }
        }
        out
    }

    fn stamp(&mut self, stream: Stream, raw: &str) -> LogLine {
        let text = match split_timestamp(raw) {
            Some((time, at, text)) => {
                self.last = (time.to_string(), at);
                text
            }
            None => raw,
        };
        LogLine {
            time: self.last.0.clone(),
            at: self.last.1,
            node: self.src.node.clone(),
            task: self.src.task.clone(),
            task_id: self.src.task_id.clone(),
            stream,
            line: text.to_string(),
        }
    }
}

/// Merges what the streams send until all of them end (or `out` closes).
async fn merge(mut rx: mpsc::Receiver<LogEvent>, follow: bool, out: mpsc::Sender<LogEvent>) {
    let window = follow.then_some(FOLLOW_WINDOW);
    let mut m = Merge::new(
        window,
        MAX_WAITING_LINES,
        crate::limits::MAX_BODY_BYTES as usize,
    );
    loop {
        let wake = m.next_due().map(tokio::time::Instant::from_std);
        let got = tokio::select! {
            got = rx.recv() => got,
            _ = sleep_until(wake) => {
                if !send_all(&out, m.due(Instant::now())).await {
                    return;
                }
                continue;
            }
        };
        let ready = match got {
            Some(LogEvent::Line(l)) => m.push(l, Instant::now()),
            Some(notice) => {
                if out.send(notice).await.is_err() {
                    return;
                }
                continue;
            }
            None => break,
        };
        if !send_all(&out, ready).await {
            return;
        }
    }
    send_all(&out, m.drain()).await;
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// False once the receiver is gone.
async fn send_all(out: &mpsc::Sender<LogEvent>, lines: Vec<LogLine>) -> bool {
    for l in lines {
        if out.send(LogEvent::Line(l)).await.is_err() {
            return false;
        }
    }
    true
}
