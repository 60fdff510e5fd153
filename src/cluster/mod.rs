//! A connected cluster: the inventory's hosts, one SSH session and one Docker engine
//! client per host (reused across refreshes), and the snapshot taken through them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::query_parameters::{EventsOptionsBuilder, ListNodesOptions};
use futures_util::StreamExt;
use futures_util::future::join_all;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinSet;

use crate::docker::{DockerError, DockerHost};
use crate::inventory::{HostSpec, Inventory};
use crate::snapshot::{
    self, ClusterSnapshot, HostStatus, Layer, LocalNodeState, NetworkInfo, NodeInfo, NodeState,
    ObservedDown, SwarmSummary,
};
use crate::ssh::{SecretSource, SshOptions, SshPool};

mod live;
mod read;

pub use live::{Changed, Pending};
use read::{Inspected, SwarmView, Workloads, inspect_overlays, overlay_ids, read_swarm};

/// Connections to every host of an inventory. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    inventory: Arc<Inventory>,
    source: String,
    pool: SshPool,
    engines: Arc<Mutex<HashMap<String, Docker>>>,
    hint: Arc<Mutex<Option<Hint>>>,
    /// What each host has been doing lately: when it started failing, its swarm node.
    health: Arc<std::sync::Mutex<HashMap<String, Health>>>,
}

/// A host's recent history, kept across snapshots.
#[derive(Debug, Clone, Default)]
struct Health {
    /// When (seconds since the epoch) the host's current run of failures began.
    failing_since: Option<u64>,
    /// The swarm node the host was last seen as.
    node_id: Option<String>,
    /// The last heartbeat's failure, if it failed: a snapshot right after it need not
    /// wait out the same deadline again.
    failed_check: Option<(Instant, Arc<DockerError>)>,
}

/// Hosts known to be failing right now, with why.
type Failing = HashMap<String, Arc<DockerError>>;

/// How long a heartbeat's failure stands in for asking the host again.
const CHECK_REUSE: Duration = Duration::from_secs(2);

impl Cluster {
    pub fn new(
        inventory: Inventory,
        source: impl Into<String>,
        opts: SshOptions,
        secrets: Arc<dyn SecretSource>,
    ) -> Self {
        Self {
            inventory: Arc::new(inventory),
            source: source.into(),
            pool: SshPool::new(opts, secrets),
            engines: Arc::default(),
            hint: Arc::default(),
            health: Arc::default(),
        }
    }

    /// The deadlines every remote call of this cluster runs under.
    pub fn deadlines(&self) -> &crate::limits::Deadlines {
        &self.pool.options().deadlines
    }

    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    pub fn pool(&self) -> &SshPool {
        &self.pool
    }

    /// The host's engine client, connecting (SSH, then Docker) on first use.
    pub async fn engine(&self, host: &HostSpec) -> Result<Docker, DockerError> {
        // Reuse the engine client while its SSH session is alive.
        if let Some(d) = self.engines.lock().await.get(&host.name)
            && self.pool.cached(&host.name).is_some()
        {
            return Ok(d.clone());
        }
        let session = self.pool.session(host).await?;
        let docker = DockerHost::connect(&session).await?;
        self.engines
            .lock()
            .await
            .insert(host.name.clone(), docker.clone());
        Ok(docker)
    }

    /// Forgets a host's engine so the next call reconnects (after an error).
    async fn forget(&self, host: &str) {
        self.engines.lock().await.remove(host);
    }

    /// Makes the next snapshot read every host's `/info` again, as a cold one does.
    pub async fn forget_engine_facts(&self) {
        if let Some(h) = self.hint.lock().await.as_mut() {
            h.hosts.clear();
        }
    }

    /// The host's engine client if it is already connected (never connects).
    async fn cached_engine(&self, host: &str) -> Option<Docker> {
        self.pool.cached(host)?;
        self.engines.lock().await.get(host).cloned()
    }

    /// Connects to all hosts in parallel and gathers a snapshot. Hosts that fail are
    /// recorded with their error; the rest of the snapshot is still filled in.
    ///
    /// A cold snapshot takes three rounds: `info` on every host, then the swarm from a
    /// manager, then each overlay's containers from every host. A warm one asks all three
    /// at once, guessing the manager and overlays from the previous snapshot, and only
    /// asks again what the guess got wrong. It also spares the hosts `GET /info` (which
    /// makes a 20.10 engine run `runc --version`) while their engine facts provably still
    /// hold: see [`still_holds`].
    pub async fn snapshot(&self) -> ClusterSnapshot {
        let mut snap = ClusterSnapshot::empty(self.source.clone());
        let hint = self.hint.lock().await.clone();
        let budget = self.deadlines().host_budget();
        let known = hint.as_ref();
        let just_failed = &self.just_failed();
        let (probes, early_view, early_attached) = tokio::join!(
            join_all(self.inventory.hosts.iter().map(|h| async move {
                if let Some(e) = just_failed.get(&h.name) {
                    return Err(e.clone());
                }
                // Every step inside has its own deadline; this bounds their sum.
                match tokio::time::timeout(budget, self.probe_or_check(h, known)).await {
                    Ok(probe) => probe.map_err(Arc::new),
                    Err(_) => Err(Arc::new(too_slow(h, budget))),
                }
            })),
            self.early_view(known, just_failed),
            self.early_attachments(known, just_failed),
        );
        let mut live: Vec<Live> = Vec::new();
        let mut failures: Vec<(&HostSpec, Arc<DockerError>)> = Vec::new();
        for (host, probe) in self.inventory.hosts.iter().zip(probes) {
            match probe {
                Ok(l) => live.push(l),
                Err(e) => failures.push((host, e)),
            }
        }
        let early_view = early_view.filter(|v| is_manager(&live, &v.swarm.answered_by));
        let view = match early_view {
            // The guessed manager still answers for the swarm: its answer stands.
            Some(v) => Ok(v),
            None => read_from_any_manager(&live).await,
        };
        self.reread_stale(&mut live, &mut failures, hint.as_ref(), view.as_ref().ok())
            .await;
        let has_swarm = hint.is_some()
            || live.iter().any(|l| l.status.control_available)
            || failures.iter().any(|(_, e)| e.layer() == Layer::Swarm);
        // A manager whose swarm is stuck says more than "no manager answers".
        let view = view.map_err(|why| {
            failures
                .iter()
                .find(|(_, e)| e.layer() == Layer::Swarm)
                .map_or(why, |(_, e)| e.to_string())
        });
        match view {
            Ok(v) => {
                snap.swarm = Some(v.swarm);
                snap.nodes = v.nodes;
                snap.networks = v.networks;
                match v.workloads {
                    Ok(w) => w.put_into(&mut snap),
                    Err(why) => snap.workloads_error = Some(why),
                }
            }
            Err(why) if has_swarm => carry_over(&mut snap, hint.as_ref(), why),
            Err(_) => {}
        }
        let attached = self.attachments(&snap, &live, early_attached).await;
        attach_containers(&mut snap, &live, attached);
        snap.fill_task_addresses();
        let fresh = Hint::new(&snap, &live);
        snap.hosts.extend(live.iter().map(|l| l.status.clone()));
        self.record_health(&live, &failures);
        for (host, e) in failures {
            self.forget(&host.name).await;
            if matches!(e.layer(), Layer::Ssh | Layer::Network) {
                // A stalled connection is not worth keeping: the next try connects afresh.
                // Closing it may wait on the stalled peer, so nobody waits for that.
                let (pool, name) = (self.pool.clone(), host.name.clone());
                tokio::spawn(async move { pool.forget(&name).await });
            }
            snap.hosts.push(self.failed(host, &e));
        }
        self.mark_observed_down(&mut snap);
        snap.hosts
            .sort_by_key(|h| self.inventory.hosts.iter().position(|i| i.name == h.host));
        // A swarm that cannot be read keeps the last view as the next one's guess.
        let mut saved = self.hint.lock().await;
        match fresh {
            Some(h) if snap.nodes_as_of.is_none() => *saved = Some(h),
            _ if snap.swarm.is_none() => *saved = None,
            _ => {}
        }
        snap
    }

    /// Hosts whose heartbeat failed moments ago, with why.
    fn just_failed(&self) -> Failing {
        let health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        health
            .iter()
            .filter_map(|(host, h)| {
                let (at, e) = h.failed_check.as_ref()?;
                (at.elapsed() < CHECK_REUSE).then(|| (host.clone(), e.clone()))
            })
            .collect()
    }

    /// Remembers when failing hosts began to fail and which node each live host is.
    fn record_health(&self, live: &[Live<'_>], failures: &[(&HostSpec, Arc<DockerError>)]) {
        let now = snapshot::now_secs();
        let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        for l in live {
            let h = health.entry(l.host.name.clone()).or_default();
            h.failing_since = None;
            h.failed_check = None;
            if l.status.node_id.is_some() {
                h.node_id = l.status.node_id.clone();
            }
        }
        for (host, _) in failures {
            let h = health.entry(host.name.clone()).or_default();
            h.failing_since.get_or_insert(now);
        }
    }

    /// A host that could not be read, with the layer and since when.
    fn failed(&self, host: &HostSpec, e: &DockerError) -> HostStatus {
        let since = self
            .health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&host.name)
            .and_then(|h| h.failing_since);
        HostStatus {
            host: host.name.clone(),
            address: host.address.clone(),
            engine_name: None,
            engine_version: None,
            swarm_state: None,
            node_id: None,
            control_available: false,
            error: Some(crate::redact::redact(&e.to_string()).into_owned()),
            layer: Some(e.layer()),
            failing_since: since,
        }
    }

    /// Nodes whose host answers over SSH but whose engine does not are down, whatever the
    /// managers say yet: a stopped dockerd keeps its node "ready" for 15–20 s.
    fn mark_observed_down(&self, snap: &mut ClusterSnapshot) {
        let health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        for h in snap.hosts.iter().filter(|h| h.layer == Some(Layer::Engine)) {
            let known = health.get(&h.host).and_then(|k| k.node_id.clone());
            // A host never read before (a fresh `status`) is its node by address, when
            // exactly one live node has it.
            let id = known.or_else(|| {
                let mut same = snap
                    .nodes
                    .iter()
                    .filter(|n| n.address == h.address && n.state != NodeState::Down);
                match (same.next(), same.next()) {
                    (Some(n), None) => Some(n.id.clone()),
                    _ => None,
                }
            });
            let Some(node) = snap.nodes.iter_mut().find(|n| Some(&n.id) == id.as_ref()) else {
                continue;
            };
            node.observed_down = Some(ObservedDown {
                since: h.failing_since.unwrap_or(snap.taken_at),
                reason: format!(
                    "{}'s engine does not answer swarmdeck (SSH to it works)",
                    h.host
                ),
            });
        }
    }

    /// `GET /info` on the host, or, when the previous snapshot's facts about it may be
    /// reused (checked once the swarm is read), only `GET /swarm`.
    async fn probe_or_check<'a>(
        &self,
        host: &'a HostSpec,
        hint: Option<&Hint>,
    ) -> Result<Live<'a>, DockerError> {
        let known = hint
            .and_then(|h| h.hosts.get(&host.name))
            .filter(|k| k.read_at.elapsed() < INFO_MAX_AGE && in_swarm(&k.status));
        if let Some(known) = known
            && let Some(docker) = self.cached_engine(&host.name).await
        {
            let seen = match docker.inspect_swarm().await {
                // No answer at all: asking `/info` next would only wait again.
                Err(e) if !is_engine_answer(&e) => {
                    return Err(DockerError::explain(&host.name, &docker, e).await);
                }
                answer => Membership::of(answer),
            };
            if seen != Membership::Unknown {
                return Ok(Live {
                    host,
                    docker,
                    status: known.status.clone(),
                    read_at: known.read_at,
                    checked: Some(seen),
                });
            }
        }
        self.probe_host(host).await
    }

    /// Reads `info` again on checked hosts whose previous facts the new swarm view does
    /// not confirm.
    async fn reread_stale<'a>(
        &self,
        live: &mut Vec<Live<'a>>,
        failures: &mut Vec<(&'a HostSpec, Arc<DockerError>)>,
        hint: Option<&Hint>,
        view: Option<&SwarmView>,
    ) {
        let stale: Vec<usize> = (0..live.len())
            .filter(|&i| match (&live[i].checked, hint, view) {
                (None, _, _) => false,
                (Some(seen), Some(h), Some(v)) => !still_holds(&live[i].status, seen, h, v),
                _ => true,
            })
            .collect();
        if stale.is_empty() {
            return;
        }
        let reads = join_all(stale.iter().map(|&i| self.probe_host(live[i].host))).await;
        for (&i, read) in stale.iter().zip(reads).rev() {
            match read {
                Ok(l) => live[i] = l,
                Err(e) => failures.push((live.remove(i).host, Arc::new(e))),
            }
        }
    }

    /// The swarm as the previous snapshot's manager sees it now, if still connected (and
    /// not failing: a sick host would only make the others wait).
    async fn early_view(&self, hint: Option<&Hint>, failing: &Failing) -> Option<SwarmView> {
        let hint = hint?;
        let host = self
            .inventory
            .hosts
            .iter()
            .find(|h| h.name == hint.manager && !failing.contains_key(&h.name))?;
        let docker = self.cached_engine(&host.name).await?;
        read_swarm(host, &docker).await.ok()
    }

    /// The previous snapshot's overlays inspected on every connected host that is not
    /// failing.
    async fn early_attachments(&self, hint: Option<&Hint>, failing: &Failing) -> Vec<Inspected> {
        let Some(hint) = hint else {
            return Vec::new();
        };
        let mut asks = Vec::new();
        for host in self
            .inventory
            .hosts
            .iter()
            .filter(|h| !failing.contains_key(&h.name))
        {
            if let Some(d) = self.cached_engine(&host.name).await {
                asks.extend(
                    hint.overlays
                        .iter()
                        .map(|id| (host.name.clone(), d.clone(), id.clone())),
                );
            }
        }
        inspect_overlays(asks).await
    }

    /// Every live host's view of every overlay in `snap`: the early answers that still
    /// apply, plus what the early round did not ask.
    async fn attachments(
        &self,
        snap: &ClusterSnapshot,
        live: &[Live<'_>],
        early: Vec<Inspected>,
    ) -> Vec<Inspected> {
        let overlays = overlay_ids(snap);
        let asked = |host: &str, id: &str| early.iter().any(|i| i.host == host && i.id == id);
        let missing: Vec<(String, Docker, String)> = live
            .iter()
            .flat_map(|l| {
                overlays
                    .iter()
                    .filter(|id| !asked(&l.host.name, id))
                    .map(|id| (l.host.name.clone(), l.docker.clone(), id.clone()))
            })
            .collect();
        let late = inspect_overlays(missing).await;
        let is_live = |host: &str| live.iter().any(|l| l.host.name == host);
        early
            .into_iter()
            .chain(late)
            .filter(|i| is_live(&i.host) && overlays.contains(&i.id))
            .collect()
    }

    /// Asks every host's engine `GET /_ping` (connecting where there is no session),
    /// all at once, each within its deadlines: which hosts answer now. Cheap enough to run
    /// every few seconds, so a host that hangs without a word (no event tells of a stopped
    /// engine) is noticed within a deadline.
    pub async fn check_hosts(&self) -> HashMap<String, bool> {
        let budget = self.deadlines().host_budget();
        let checks = self.inventory.hosts.iter().map(|h| async move {
            let answer = async {
                let docker = self.engine(h).await?;
                docker
                    .ping()
                    .await
                    .map_err(|e| DockerError::api(&h.name, e))
            };
            let failed = match tokio::time::timeout(budget, answer).await {
                Ok(answer) => answer.err(),
                Err(_) => Some(too_slow(h, budget)),
            };
            (h.name.clone(), failed.map(Arc::new))
        });
        let results = join_all(checks).await;
        let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        for (host, failed) in &results {
            health.entry(host.clone()).or_default().failed_check =
                failed.clone().map(|e| (Instant::now(), e));
        }
        results
            .into_iter()
            .map(|(host, failed)| (host, failed.is_none()))
            .collect()
    }

    /// The swarm's node list from the manager that answered last, in one request: the
    /// managers change a node's Raft reachability without an event, so the heartbeat
    /// compares this list too. `None` when there is no such manager or it did not answer.
    pub async fn check_nodes(&self) -> Option<Vec<NodeInfo>> {
        let manager = self.hint.lock().await.as_ref()?.manager.clone();
        let docker = self.cached_engine(&manager).await?;
        let nodes = docker.list_nodes(None::<ListNodesOptions>).await.ok()?;
        let mut nodes: Vec<NodeInfo> = nodes.iter().map(snapshot::node_from_api).collect();
        nodes.sort_by(|a, b| a.hostname.cmp(&b.hostname));
        Some(nodes)
    }

    /// Watches every host's Docker events (nodes, networks, containers, services) and sends
    /// what each says changed on `changed` ([`Changed::of`]). Each host's stream is re-opened
    /// after a pause when it breaks. Dropping the returned set stops watching.
    pub fn watch(&self, changed: mpsc::Sender<Changed>) -> JoinSet<()> {
        let mut set = JoinSet::new();
        for host in self.inventory.hosts.clone() {
            let cluster = self.clone();
            let changed = changed.clone();
            set.spawn(async move { cluster.watch_host(host, changed).await });
        }
        set
    }

    async fn watch_host(&self, host: HostSpec, changed: mpsc::Sender<Changed>) {
        const RETRY: std::time::Duration = std::time::Duration::from_secs(3);
        let filters: HashMap<&str, Vec<&str>> =
            [("type", vec!["node", "network", "container", "service"])].into();
        loop {
            if let Ok(docker) = self.engine(&host).await {
                let opts = EventsOptionsBuilder::new().filters(&filters).build();
                let mut events = docker.events(Some(opts));
                while let Some(Ok(ev)) = events.next().await {
                    if changed.send(Changed::of(&host.name, &ev)).await.is_err() {
                        break;
                    }
                }
                if changed.is_closed() {
                    return;
                }
                // The stream broke: the host or its engine went away. Say so once, so the
                // next snapshot shows it, then keep trying.
                self.forget(&host.name).await;
                let _ = changed.send(Changed::Cluster).await;
            }
            tokio::time::sleep(RETRY).await;
        }
    }

    async fn probe_host<'a>(&self, host: &'a HostSpec) -> Result<Live<'a>, DockerError> {
        let docker = self.engine(host).await?;
        let info = match docker.info().await {
            Ok(info) => info,
            Err(e) => return Err(DockerError::explain(&host.name, &docker, e).await),
        };
        Ok(Live {
            host,
            docker,
            status: snapshot::host_from_info(&host.name, &host.address, &info),
            read_at: Instant::now(),
            checked: None,
        })
    }
}

/// A host whose reading outlasted the whole budget (each step has a deadline of its own,
/// so this is a last resort).
fn too_slow(host: &HostSpec, budget: Duration) -> DockerError {
    DockerError::Ssh(crate::ssh::SshError::Timeout {
        host: host.name.clone(),
        what: "connecting and reading the engine".into(),
        after: budget,
    })
}

/// The swarm from whichever manager answers first, all asked at once: one may be hung or
/// cut off from the others (its requests wait for a leader) while another answers at
/// once. When none answers, why (e.g. "the swarm does not have a leader").
async fn read_from_any_manager(live: &[Live<'_>]) -> Result<SwarmView, String> {
    let asks: Vec<_> = live
        .iter()
        .filter(|l| l.status.control_available)
        .map(|l| Box::pin(read_swarm(l.host, &l.docker)))
        .collect();
    if asks.is_empty() {
        return Err("no manager answers: every manager's host or engine is down".into());
    }
    futures_util::future::select_ok(asks)
        .await
        .map(|(view, _)| view)
}

/// The last node list stands in for the live one, marked with its age and why.
fn carry_over(snap: &mut ClusterSnapshot, hint: Option<&Hint>, why: String) {
    snap.swarm_error = Some(crate::redact::redact(&why).into_owned());
    if let Some(h) = hint {
        snap.swarm = Some(h.swarm.clone());
        snap.nodes = h.nodes.clone();
        snap.networks = h.networks.clone();
        h.workloads.clone().put_into(snap);
        snap.nodes_as_of = Some(h.taken_at);
    }
}

/// How long a host's `info` may be reused before it is read again regardless.
const INFO_MAX_AGE: Duration = Duration::from_secs(30);

/// A host that answered in this snapshot.
struct Live<'a> {
    host: &'a HostSpec,
    docker: Docker,
    status: HostStatus,
    /// When `status` was read with `GET /info`.
    read_at: Instant,
    /// Set when `status` is the previous snapshot's: what the host's `GET /swarm` said.
    checked: Option<Membership>,
}

/// A host's own view of its swarm membership, from `GET /swarm` (cheap, unlike `/info`):
/// managers answer with the swarm, other engines with a 503 whose text says why.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Membership {
    Manager {
        cluster_id: String,
    },
    Worker,
    /// Not in a swarm, locked, or an answer not recognised: read `/info`.
    Unknown,
}

impl Membership {
    fn of(answer: Result<bollard::models::Swarm, bollard::errors::Error>) -> Membership {
        use bollard::errors::Error::DockerResponseServerError;
        match answer {
            Ok(swarm) => Membership::Manager {
                cluster_id: swarm.id.unwrap_or_default(),
            },
            // dockerd's errSwarmNotManager; any other text (not in a swarm, locked,
            // another engine's wording) falls back to reading `/info`.
            Err(DockerResponseServerError {
                status_code: 503,
                message,
            }) if message.contains("Worker nodes can't be used") => Membership::Worker,
            Err(_) => Membership::Unknown,
        }
    }
}

/// Whether an error is the engine's own answer (a status code), not a failure to get one.
fn is_engine_answer(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError { .. }
            | bollard::errors::Error::JsonDataError { .. }
            | bollard::errors::Error::JsonSerdeError { .. }
    )
}

/// A host's facts as of the previous snapshot.
#[derive(Debug, Clone)]
struct Known {
    status: HostStatus,
    read_at: Instant,
}

/// What the previous snapshot found: the manager that answered, the swarm's nodes and
/// overlays, and every live host's engine facts.
#[derive(Debug, Clone)]
struct Hint {
    manager: String,
    cluster_id: String,
    swarm: SwarmSummary,
    nodes: Vec<NodeInfo>,
    networks: Vec<NetworkInfo>,
    workloads: Workloads,
    taken_at: u64,
    overlays: Vec<String>,
    hosts: HashMap<String, Known>,
}

impl Hint {
    fn new(snap: &ClusterSnapshot, live: &[Live<'_>]) -> Option<Hint> {
        let swarm = snap.swarm.as_ref()?;
        Some(Hint {
            manager: swarm.answered_by.clone(),
            cluster_id: swarm.cluster_id.clone(),
            swarm: swarm.clone(),
            nodes: snap.nodes.clone(),
            networks: snap
                .networks
                .iter()
                .map(|n| NetworkInfo {
                    containers: Vec::new(),
                    ..n.clone()
                })
                .collect(),
            workloads: Workloads::of(snap),
            taken_at: snap.taken_at,
            overlays: overlay_ids(snap),
            hosts: live
                .iter()
                .map(|l| {
                    let known = Known {
                        status: l.status.clone(),
                        read_at: l.read_at,
                    };
                    (l.host.name.clone(), known)
                })
                .collect(),
        })
    }
}

fn in_swarm(status: &HostStatus) -> bool {
    status.error.is_none()
        && status.swarm_state == Some(LocalNodeState::Active)
        && status.node_id.is_some()
}

/// Whether a host's engine facts from the previous snapshot still hold. The host itself
/// says whether it is still a manager of this swarm or a worker (`seen`); the rest shows
/// in the managers' node list: re-joining adds a node, promotion and demotion change a
/// role, a stopped engine goes down, a rename or upgrade changes the node's hostname or
/// engine version. So if the host's answer matches, the node list is exactly what it was
/// and the host's node is ready and matches, the facts hold. Hosts outside the swarm are
/// always read again (they could have joined another).
fn still_holds(prev: &HostStatus, seen: &Membership, hint: &Hint, view: &SwarmView) -> bool {
    let Some(id) = prev.node_id.as_deref() else {
        return false;
    };
    let same_role = match seen {
        Membership::Manager { cluster_id } => {
            prev.control_available && *cluster_id == hint.cluster_id
        }
        Membership::Worker => !prev.control_available,
        Membership::Unknown => false,
    };
    if !same_role
        || !in_swarm(prev)
        || view.swarm.cluster_id != hint.cluster_id
        || view.nodes != hint.nodes
    {
        return false;
    }
    view.nodes.iter().any(|n| {
        n.id == id
            && n.is_ready()
            && prev.engine_name.as_deref() == Some(n.hostname.as_str())
            && prev.engine_version.as_deref() == Some(n.engine_version.as_str())
            && prev.control_available == n.is_reachable_manager()
    })
}

fn is_manager(live: &[Live<'_>], host: &str) -> bool {
    live.iter()
        .any(|l| l.host.name == host && l.status.control_available)
}

/// Each host only sees its own containers on an overlay: merge every host's answer.
fn attach_containers(snap: &mut ClusterSnapshot, live: &[Live<'_>], answers: Vec<Inspected>) {
    for answer in answers {
        let Some(n) = answer.network else { continue };
        let node = live
            .iter()
            .find(|l| l.host.name == answer.host)
            .and_then(|l| l.status.engine_name.clone())
            .unwrap_or_else(|| answer.host.clone());
        if let Some(net) = snap.networks.iter_mut().find(|x| x.id == answer.id) {
            net.containers
                .extend(snapshot::attached_from_inspect(&node, &n));
        }
    }
    for net in &mut snap.networks {
        net.containers
            .sort_by(|a, b| (&a.node, &a.name).cmp(&(&b.node, &b.name)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Availability, Reachability, Role};

    fn node(id: &str, host: &str, role: Role, state: NodeState) -> NodeInfo {
        NodeInfo {
            id: id.into(),
            hostname: host.into(),
            role,
            leader: false,
            reachability: (role == Role::Manager).then_some(Reachability::Reachable),
            availability: Availability::Active,
            state,
            address: "10.0.0.1".into(),
            engine_version: "20.10.24".into(),
            labels: Default::default(),
            observed_down: None,
            scheduling: Default::default(),
        }
    }

    fn status(id: &str, host: &str, manager: bool) -> HostStatus {
        HostStatus {
            host: host.into(),
            address: "10.0.0.1".into(),
            engine_name: Some(host.into()),
            engine_version: Some("20.10.24".into()),
            swarm_state: Some(LocalNodeState::Active),
            node_id: Some(id.into()),
            control_available: manager,
            error: None,
            layer: None,
            failing_since: None,
        }
    }

    fn view(nodes: Vec<NodeInfo>, cluster: &str) -> SwarmView {
        SwarmView {
            swarm: SwarmSummary {
                cluster_id: cluster.into(),
                created_at: None,
                answered_by: "a".into(),
            },
            nodes,
            networks: Vec::new(),
            workloads: Ok(Workloads::default()),
        }
    }

    fn hint(nodes: Vec<NodeInfo>) -> Hint {
        Hint {
            manager: "a".into(),
            cluster_id: "c1".into(),
            swarm: view(Vec::new(), "c1").swarm,
            nodes,
            networks: Vec::new(),
            workloads: Workloads::default(),
            taken_at: 0,
            overlays: Vec::new(),
            hosts: HashMap::new(),
        }
    }

    fn nodes() -> Vec<NodeInfo> {
        vec![
            node("n1", "a", Role::Manager, NodeState::Ready),
            node("n2", "b", Role::Worker, NodeState::Ready),
        ]
    }

    const MANAGER: &Membership = &Membership::Manager {
        cluster_id: String::new(),
    };

    fn manager() -> Membership {
        Membership::Manager {
            cluster_id: "c1".into(),
        }
    }

    #[test]
    fn facts_hold_while_the_host_and_the_node_list_agree() {
        let h = hint(nodes());
        let v = view(nodes(), "c1");
        assert!(still_holds(&status("n1", "a", true), &manager(), &h, &v));
        assert!(still_holds(
            &status("n2", "b", false),
            &Membership::Worker,
            &h,
            &v
        ));
    }

    #[test]
    fn the_hosts_own_answer_overrules_the_node_list() {
        let h = hint(nodes());
        let v = view(nodes(), "c1");
        // b left (its node is still "ready" until the managers notice).
        let b = status("n2", "b", false);
        assert!(!still_holds(&b, &Membership::Unknown, &h, &v));
        // b became a manager, of this swarm or of another one.
        assert!(!still_holds(&b, &manager(), &h, &v));
        assert!(!still_holds(&status("n1", "a", true), MANAGER, &h, &v));
        // a was demoted.
        assert!(!still_holds(
            &status("n1", "a", true),
            &Membership::Worker,
            &h,
            &v
        ));
    }

    #[test]
    fn swarm_answers_are_classified() {
        use bollard::errors::Error::DockerResponseServerError;
        let swarm = bollard::models::Swarm {
            id: Some("c1".into()),
            ..Default::default()
        };
        assert_eq!(Membership::of(Ok(swarm)), manager());
        let refused = |message: &str| {
            Membership::of(Err(DockerResponseServerError {
                status_code: 503,
                message: message.into(),
            }))
        };
        assert_eq!(
            refused(
                "This node is not a swarm manager. Worker nodes can't be used to view or \
                 modify cluster state. Please run this command on a manager node or promote \
                 the current node to a manager."
            ),
            Membership::Worker
        );
        assert_eq!(
            refused(
                "This node is not a swarm manager. Use \"docker swarm init\" or \"docker \
                 swarm join\" to connect this node to swarm and try again."
            ),
            Membership::Unknown
        );
        assert_eq!(
            refused("Swarm is encrypted and needs to be unlocked before it can be used."),
            Membership::Unknown
        );
    }

    #[test]
    fn any_change_in_the_node_list_means_reading_again() {
        let h = hint(nodes());
        let (w, m) = (&Membership::Worker, &manager());
        let b = status("n2", "b", false);
        let a = status("n1", "a", true);
        // b left and joined again: its old node is down, a new one appeared.
        let mut rejoined = nodes();
        rejoined[1].state = NodeState::Down;
        rejoined.push(node("n3", "b", Role::Worker, NodeState::Ready));
        assert!(!still_holds(&b, w, &h, &view(rejoined, "c1")));
        // b promoted.
        let mut promoted = nodes();
        promoted[1] = node("n2", "b", Role::Manager, NodeState::Ready);
        assert!(!still_holds(&b, w, &h, &view(promoted, "c1")));
        // a's engine upgraded.
        let mut upgraded = nodes();
        upgraded[0].engine_version = "24.0.7".into();
        assert!(!still_holds(&a, m, &h, &view(upgraded, "c1")));
        // Another swarm answered.
        assert!(!still_holds(&a, m, &h, &view(nodes(), "c2")));
    }

    #[test]
    fn facts_that_disagree_with_the_list_are_read_again() {
        let h = hint(nodes());
        let v = view(nodes(), "c1");
        // Unknown node id, a manager flag the list contradicts, a renamed engine.
        let m = &manager();
        assert!(!still_holds(&status("n9", "a", true), m, &h, &v));
        assert!(!still_holds(&status("n2", "b", true), m, &h, &v));
        assert!(!still_holds(&status("n1", "x", true), m, &h, &v));
        // Hosts outside the swarm are always read.
        let mut outside = status("n1", "a", true);
        outside.swarm_state = Some(LocalNodeState::Inactive);
        assert!(!still_holds(&outside, m, &h, &v));
    }

    proptest::proptest! {
        #![proptest_config(crate::prop_config(1000))]

        /// Any status and text an engine answers `GET /swarm` with is read as a membership,
        /// never a panic; only dockerd's own "not a manager" text makes a worker.
        #[test]
        fn any_swarm_answer_is_classified_without_panic(
            status_code in proptest::prelude::any::<u16>(),
            message in "(Worker nodes can't be used|This node is not a swarm manager|\\PC| ){0,12}",
            id in proptest::option::of("\\PC{0,16}"),
            ok in proptest::prelude::any::<bool>(),
        ) {
            let answer = if ok {
                Ok(bollard::models::Swarm { id: id.clone(), ..Default::default() })
            } else {
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code,
                    message: message.clone(),
                })
            };
            let m = Membership::of(answer);
            let expected = match (ok, status_code) {
                (true, _) => Membership::Manager { cluster_id: id.unwrap_or_default() },
                (false, 503) if message.contains("Worker nodes can't be used") => Membership::Worker,
                _ => Membership::Unknown,
            };
            proptest::prop_assert_eq!(m, expected);
        }
    }
}
