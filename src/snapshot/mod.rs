//! The cluster snapshot: what swarmdeck knows about a cluster at one moment.
//!
//! Versioned and serde-serialisable, so it can be saved in bundles, shipped as the demo
//! and compared offline. It never holds secrets (no join tokens, no unlock keys).
//! Conversions from Engine API models live here as pure functions; gathering them over
//! SSH lives in [`crate::cluster`].

use std::collections::BTreeMap;

use bollard::models::{Network, NetworkInspect, Node, NodeSpecRoleEnum, SystemInfo};
use serde::{Deserialize, Serialize};

use crate::quorum;

pub mod bundle;
pub mod states;
pub mod workloads;
pub use bundle::Bundle;
pub use states::{Availability, LocalNodeState, NodeState, Reachability};
pub use workloads::{ServiceInfo, TaskInfo, TaskState};

/// The demo's connectivity run: captured on the same lab with udp/4789 dropped on one host.
pub fn demo_connectivity() -> crate::connectivity::Report {
    serde_json::from_str(include_str!("../../assets/demo-connectivity.json"))
        .expect("the bundled demo connectivity report parses")
}

/// The built-in demo cluster: a real snapshot captured from a 5-host practice lab.
pub fn demo() -> ClusterSnapshot {
    ClusterSnapshot::from_json(include_str!("../../assets/demo-cluster.json"))
        .expect("the bundled demo snapshot parses")
}

/// Bumped whenever a field changes meaning; older files are refused with a clear error.
pub const SNAPSHOT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterSnapshot {
    pub version: u32,
    /// Seconds since the Unix epoch when the snapshot was taken.
    pub taken_at: u64,
    /// Where it came from, e.g. "lab demo5" or an inventory path.
    pub source: String,
    pub swarm: Option<SwarmSummary>,
    pub nodes: Vec<NodeInfo>,
    pub networks: Vec<NetworkInfo>,
    /// One entry per host the snapshot tried to reach, including failures.
    pub hosts: Vec<HostStatus>,
    /// Why no manager could answer for the swarm although some host is a manager (e.g.
    /// "the swarm does not have a leader": quorum lost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm_error: Option<String>,
    /// Set when `nodes` and `networks` are not live but the last list a manager gave, at
    /// this time (seconds since the epoch): shown as such, never as the current state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes_as_of: Option<u64>,
    /// Services as the manager that answered lists them (carried over with the nodes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceInfo>,
    /// Every task the manager keeps, including the recent history of each slot.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<TaskInfo>,
    /// Names of the swarm's secrets (never their data).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    /// Names of the swarm's configs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<String>,
    /// Why services, tasks, secrets or configs could not be read while the nodes could.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workloads_error: Option<String>,
}

/// Where a failure sits, from the wire up: what to look at first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    /// No TCP connection to the host's SSH port (down, partitioned, firewalled).
    Network,
    /// The SSH server or the SSH session (handshake, keys, login, a stalled connection).
    Ssh,
    /// SSH works; the Docker engine does not answer, or refuses.
    Engine,
    /// The engine answers; the swarm does not (no leader, locked).
    Swarm,
    /// A layer a newer swarmdeck wrote.
    #[serde(other)]
    Other,
}

impl Layer {
    pub fn describe(self) -> &'static str {
        match self {
            Layer::Network => "network",
            Layer::Ssh => "SSH",
            Layer::Engine => "Docker engine",
            Layer::Swarm => "swarm",
            Layer::Other => "unknown layer",
        }
    }
}

/// swarmdeck's own observation of a node's engine: SSH to its host works, the engine
/// does not answer. Said before the managers notice (they take 15–20 s for a hung engine).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedDown {
    /// Seconds since the epoch when the engine was first seen not answering.
    pub since: u64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwarmSummary {
    pub cluster_id: String,
    pub created_at: Option<String>,
    /// Which host answered for the cluster-wide view (a manager).
    pub answered_by: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Manager,
    Worker,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub id: String,
    pub hostname: String,
    pub role: Role,
    pub leader: bool,
    /// Raft reachability, for managers only.
    pub reachability: Option<Reachability>,
    pub availability: Availability,
    pub state: NodeState,
    pub address: String,
    pub engine_version: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The node's engine does not answer swarmdeck although its host's SSH does: down,
    /// whatever the managers still say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_down: Option<ObservedDown>,
    /// What the scheduler weighs when it places a task here.
    #[serde(default, skip_serializing_if = "NodeScheduling::is_unknown")]
    pub scheduling: NodeScheduling,
}

/// A node's facts the swarm scheduler filters on, from its description.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeScheduling {
    /// What the node has in all (before any reservation).
    #[serde(default)]
    pub resources: workloads::Resources,
    /// Labels of the node's engine (`daemon.json`), for `engine.labels.X` constraints.
    #[serde(default)]
    pub engine_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub platform: workloads::Platform,
    /// Plugins the engine offers ("Volume", "Network", "Log", …), for the plugin filter.
    #[serde(default)]
    pub plugins: Vec<Plugin>,
}

impl NodeScheduling {
    /// Not read (a snapshot from before swarmdeck read these facts): nothing to judge by.
    pub fn is_unknown(&self) -> bool {
        *self == Self::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plugin {
    /// "Volume", "Network", "Log", ….
    pub kind: String,
    pub name: String,
}

impl NodeInfo {
    pub fn is_ready(&self) -> bool {
        self.state == NodeState::Ready && self.observed_down.is_none()
    }

    pub fn is_reachable_manager(&self) -> bool {
        self.role == Role::Manager
            && self.reachability == Some(Reachability::Reachable)
            && self.observed_down.is_none()
    }

    /// The first 12 characters of the ID, as `docker node ls` shows it.
    pub fn short_id(&self) -> &str {
        self.id.get(..12).unwrap_or(&self.id)
    }

    /// Whether another node in `nodes` has this node's hostname (e.g. cloned machines).
    pub fn name_is_shared(&self, nodes: &[NodeInfo]) -> bool {
        nodes
            .iter()
            .any(|n| n.hostname == self.hostname && n.id != self.id)
    }

    /// The node's name for people among `nodes`: the hostname, with the short ID when
    /// another node has the same hostname.
    pub fn label_among(&self, nodes: &[NodeInfo]) -> String {
        if self.name_is_shared(nodes) {
            format!("{} ({})", self.hostname, self.short_id())
        } else {
            self.hostname.clone()
        }
    }

    /// How a docker command names the node: the hostname when it is unique, else the ID
    /// (`docker node …` with a shared hostname would pick either node).
    pub fn cli_name_among(&self, nodes: &[NodeInfo]) -> &str {
        if self.name_is_shared(nodes) {
            &self.id
        } else {
            &self.hostname
        }
    }

    /// The node as the quorum model sees it, named uniquely among `nodes`.
    pub fn as_manager(&self, nodes: &[NodeInfo]) -> quorum::Manager {
        quorum::Manager {
            name: self.label_among(nodes),
            reachable: self.is_reachable_manager(),
            zone: self.labels.get("zone").cloned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInfo {
    pub id: String,
    pub name: String,
    pub driver: String,
    /// "swarm" for overlays, "local" for host-only networks.
    pub scope: String,
    pub attachable: bool,
    pub encrypted: bool,
    pub ingress: bool,
    pub subnets: Vec<String>,
    /// Containers attached, by node hostname (from each host's own view).
    pub containers: Vec<AttachedContainer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachedContainer {
    pub node: String,
    pub name: String,
    pub ipv4: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostStatus {
    /// The inventory name of the host.
    pub host: String,
    pub address: String,
    /// The engine's own name for itself (becomes the swarm node name).
    pub engine_name: Option<String>,
    pub engine_version: Option<String>,
    pub swarm_state: Option<LocalNodeState>,
    pub node_id: Option<String>,
    /// A manager able to answer for the whole swarm.
    #[serde(default)]
    pub control_available: bool,
    /// Why this host could not be read, if it could not.
    pub error: Option<String>,
    /// Which layer failed, with `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<Layer>,
    /// Since when (seconds since the epoch) the host has been failing, with `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<u64>,
}

impl ClusterSnapshot {
    pub fn empty(source: impl Into<String>) -> Self {
        Self {
            version: SNAPSHOT_VERSION,
            taken_at: now_secs(),
            source: source.into(),
            swarm: None,
            nodes: Vec::new(),
            networks: Vec::new(),
            hosts: Vec::new(),
            swarm_error: None,
            nodes_as_of: None,
            services: Vec::new(),
            tasks: Vec::new(),
            secrets: Vec::new(),
            configs: Vec::new(),
            workloads_error: None,
        }
    }

    /// Parses a snapshot file, refusing versions this build does not understand.
    pub fn from_json(text: &str) -> Result<Self, SnapshotError> {
        let probe: serde_json::Value = serde_json::from_str(text)?;
        let version = probe.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
        if version != u64::from(SNAPSHOT_VERSION) {
            return Err(SnapshotError::Version(version));
        }
        Ok(serde_json::from_value(probe)?)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("snapshot serialises")
    }

    /// Managers as the quorum model sees them, zones from the `zone` node label.
    pub fn managers(&self) -> Vec<quorum::Manager> {
        self.nodes
            .iter()
            .filter(|n| n.role == Role::Manager)
            .map(|n| n.as_manager(&self.nodes))
            .collect()
    }

    pub fn leader(&self) -> Option<&NodeInfo> {
        self.nodes.iter().find(|n| n.leader)
    }

    /// Hosts that could not be read.
    pub fn failed_hosts(&self) -> impl Iterator<Item = &HostStatus> {
        self.hosts.iter().filter(|h| h.error.is_some())
    }

    pub fn node(&self, id: &str) -> Option<&NodeInfo> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The service by name, by ID, or by a prefix of its ID that only it has (as docker
    /// resolves service names).
    pub fn service(&self, name_or_id: &str) -> Option<&ServiceInfo> {
        let by = |f: &dyn Fn(&ServiceInfo) -> bool| {
            let mut hits = self.services.iter().filter(|s| f(s));
            match (hits.next(), hits.next()) {
                (Some(s), None) => Some(s),
                _ => None,
            }
        };
        by(&|s| s.id == name_or_id)
            .or_else(|| by(&|s| s.name == name_or_id))
            .or_else(|| by(&|s| !name_or_id.is_empty() && s.id.starts_with(name_or_id)))
    }

    /// The service's tasks: by slot (or node, for global services), newest first.
    pub fn tasks_of(&self, service_id: &str) -> Vec<&TaskInfo> {
        let mut tasks: Vec<&TaskInfo> = self
            .tasks
            .iter()
            .filter(|t| t.service_id == service_id)
            .collect();
        tasks.sort_by(|a, b| {
            (a.slot, &a.node_id)
                .cmp(&(b.slot, &b.node_id))
                .then_with(|| b.timestamp.cmp(&a.timestamp))
        });
        tasks
    }

    /// Task addresses from the overlays' containers, as their hosts report them: a task's
    /// container is named `SERVICE.SLOT.TASKID` (or `SERVICE.NODEID.TASKID`).
    /// Services with a task in transition ([`TaskInfo::in_transition`]): a live view reads
    /// them again shortly, since no event will say when the managers know.
    pub fn settling_services(&self) -> std::collections::BTreeSet<String> {
        self.tasks
            .iter()
            .filter(|t| t.in_transition())
            .map(|t| t.service_id.clone())
            .collect()
    }

    pub fn fill_task_addresses(&mut self) {
        for task in self.tasks.iter_mut().filter(|t| !t.id.is_empty()) {
            let suffix = format!(".{}", task.id);
            task.addresses = self
                .networks
                .iter()
                .flat_map(|n| &n.containers)
                .filter(|c| c.name.ends_with(&suffix))
                .filter_map(|c| c.ipv4.clone())
                .collect();
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("not a swarmdeck snapshot: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "snapshot format version {0} is not supported by this swarmdeck (it reads version {SNAPSHOT_VERSION})"
    )]
    Version(u64),
}

/// "since 18:45:02 UTC (14 s)": when a failure began and how long ago.
pub fn since_text(since: u64, now: u64) -> String {
    let clock = crate::swarm::audit::fmt_time(since);
    let clock = clock.split_once(' ').map_or(clock.as_str(), |(_, t)| t);
    format!("since {clock} ({} s)", now.saturating_sub(since))
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// An engine word from one of bollard's enums; "unknown" when absent or empty.
fn word<W: for<'a> From<&'a str>>(v: Option<impl std::fmt::Display>) -> W {
    let text = v.map(|v| v.to_string().to_lowercase()).unwrap_or_default();
    W::from(if text.is_empty() { "unknown" } else { &text })
}

/// A swarm node from the Engine API (`GET /nodes` on a manager).
pub fn node_from_api(n: &Node) -> NodeInfo {
    let spec = n.spec.as_ref();
    let desc = n.description.as_ref();
    let status = n.status.as_ref();
    let mgr = n.manager_status.as_ref();
    let role = match spec.and_then(|s| s.role) {
        Some(NodeSpecRoleEnum::MANAGER) => Role::Manager,
        _ => Role::Worker,
    };
    NodeInfo {
        id: n.id.clone().unwrap_or_default(),
        hostname: desc.and_then(|d| d.hostname.clone()).unwrap_or_default(),
        role,
        leader: mgr.and_then(|m| m.leader).unwrap_or(false),
        reachability: mgr.map(|m| word(m.reachability)),
        availability: word(spec.and_then(|s| s.availability)),
        state: word(status.and_then(|s| s.state)),
        address: status.and_then(|s| s.addr.clone()).unwrap_or_default(),
        engine_version: desc
            .and_then(|d| d.engine.as_ref())
            .and_then(|e| e.engine_version.clone())
            .unwrap_or_default(),
        labels: spec
            .and_then(|s| s.labels.clone())
            .unwrap_or_default()
            .into_iter()
            .collect(),
        observed_down: None,
        scheduling: scheduling_from_api(desc),
    }
}

/// A node some of whose words this build did not know: they are kept as `Other`.
pub fn node_from_lenient(n: &crate::docker::lenient::Lenient<Node>) -> NodeInfo {
    let mut info = node_from_api(&n.value);
    if let Some(w) = n.word("Status.State") {
        info.state = NodeState::from(w);
    }
    if let Some(w) = n.word("Spec.Availability") {
        info.availability = Availability::from(w);
    }
    if let Some(w) = n.word("ManagerStatus.Reachability") {
        info.reachability = Some(Reachability::from(w));
    }
    info
}

fn scheduling_from_api(desc: Option<&bollard::models::NodeDescription>) -> NodeScheduling {
    let engine = desc.and_then(|d| d.engine.as_ref());
    let resources = desc.and_then(|d| d.resources.as_ref());
    let platform = desc.and_then(|d| d.platform.as_ref());
    NodeScheduling {
        resources: workloads::Resources {
            nano_cpus: resources.and_then(|r| r.nano_cpus).unwrap_or(0),
            memory_bytes: resources.and_then(|r| r.memory_bytes).unwrap_or(0),
        },
        engine_labels: engine
            .and_then(|e| e.labels.clone())
            .unwrap_or_default()
            .into_iter()
            .collect(),
        platform: platform.map(workloads::Platform::from).unwrap_or_default(),
        plugins: engine
            .and_then(|e| e.plugins.as_ref())
            .map(|p| {
                p.iter()
                    .map(|p| Plugin {
                        kind: p.typ.clone().unwrap_or_default(),
                        name: p.name.clone().unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// A host's own status from `GET /info`.
pub fn host_from_info(host: &str, address: &str, info: &SystemInfo) -> HostStatus {
    let swarm = info.swarm.as_ref();
    HostStatus {
        host: host.to_string(),
        address: address.to_string(),
        engine_name: info.name.clone(),
        engine_version: info.server_version.clone(),
        swarm_state: swarm
            .and_then(|s| s.local_node_state)
            .map(|s| word(Some(s))),
        node_id: swarm
            .and_then(|s| s.node_id.clone())
            .filter(|s| !s.is_empty()),
        control_available: swarm.and_then(|s| s.control_available).unwrap_or(false),
        error: None,
        layer: None,
        failing_since: None,
    }
}

/// A network from the list endpoint; attached containers are merged in per host later.
pub fn network_from_api(n: &Network) -> NetworkInfo {
    NetworkInfo {
        id: n.id.clone().unwrap_or_default(),
        name: n.name.clone().unwrap_or_default(),
        driver: n.driver.clone().unwrap_or_default(),
        scope: n.scope.clone().unwrap_or_default(),
        attachable: n.attachable.unwrap_or(false),
        encrypted: n
            .options
            .as_ref()
            .is_some_and(|o| o.contains_key("encrypted")),
        ingress: n.ingress.unwrap_or(false),
        subnets: n
            .ipam
            .as_ref()
            .and_then(|i| i.config.as_ref())
            .map(|c| c.iter().filter_map(|c| c.subnet.clone()).collect())
            .unwrap_or_default(),
        containers: Vec::new(),
    }
}

/// Containers one host sees attached to a network (a host only sees its own).
pub fn attached_from_inspect(node: &str, n: &NetworkInspect) -> Vec<AttachedContainer> {
    let mut out: Vec<AttachedContainer> = n
        .containers
        .as_ref()
        .map(|c| {
            c.values()
                .filter_map(|e| {
                    let name = e.name.clone()?;
                    // Swarm's internal load-balancer endpoints are not user containers.
                    (!name.ends_with("-endpoint")).then(|| AttachedContainer {
                        node: node.to_string(),
                        name,
                        ipv4: e.ipv4_address.clone().filter(|s| !s.is_empty()),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_conversion_reads_roles_and_states() {
        let json = r#"{
            "ID": "abc", "Spec": {"Role": "manager", "Availability": "drain", "Labels": {"zone": "a"}},
            "Description": {"Hostname": "node1", "Engine": {"EngineVersion": "20.10.24"}},
            "Status": {"State": "ready", "Addr": "10.0.0.1"},
            "ManagerStatus": {"Leader": true, "Reachability": "reachable", "Addr": "10.0.0.1:2377"}
        }"#;
        let node: Node = serde_json::from_str(json).unwrap();
        let n = node_from_api(&node);
        assert_eq!(n.role, Role::Manager);
        assert!(n.leader);
        assert_eq!(n.availability, Availability::Drain);
        assert_eq!(n.state, NodeState::Ready);
        assert_eq!(n.reachability, Some(Reachability::Reachable));
        assert_eq!(n.labels.get("zone").map(String::as_str), Some("a"));
        assert_eq!(n.engine_version, "20.10.24");
    }

    #[test]
    fn node_conversion_reads_what_the_scheduler_uses() {
        let json = r#"{
            "ID": "abc", "Spec": {"Role": "worker", "Availability": "active"},
            "Description": {"Hostname": "node2",
                "Platform": {"Architecture": "x86_64", "OS": "linux"},
                "Resources": {"NanoCPUs": 2000000000, "MemoryBytes": 8589934592},
                "Engine": {"EngineVersion": "24.0.7", "Labels": {"disk": "ssd"},
                    "Plugins": [{"Type": "Network", "Name": "overlay"},
                                {"Type": "Volume", "Name": "local"}]}},
            "Status": {"State": "ready", "Addr": "10.0.0.2"}
        }"#;
        let n = node_from_api(&serde_json::from_str(json).unwrap());
        let s = &n.scheduling;
        assert_eq!(s.resources.nano_cpus, 2_000_000_000);
        assert_eq!(s.resources.memory_bytes, 8 << 30);
        assert_eq!(s.engine_labels.get("disk").map(String::as_str), Some("ssd"));
        assert_eq!(
            (s.platform.os.as_str(), s.platform.arch.as_str()),
            ("linux", "x86_64")
        );
        assert_eq!(s.plugins.len(), 2);
        assert_eq!(
            (s.plugins[0].kind.as_str(), s.plugins[0].name.as_str()),
            ("Network", "overlay")
        );
    }

    /// Snapshots and bundles written before workloads were read still load, with no
    /// services, tasks, secrets or configs and nodes without scheduling facts.
    #[test]
    fn snapshots_without_workloads_still_load() {
        let demo = demo();
        assert!(!demo.nodes.is_empty() && !demo.services.is_empty());
        let mut old: serde_json::Value = serde_json::from_str(&demo.to_json()).unwrap();
        for key in ["services", "tasks", "secrets", "configs"] {
            old.as_object_mut().unwrap().remove(key);
        }
        for n in old["nodes"].as_array_mut().unwrap() {
            n.as_object_mut().unwrap().remove("scheduling");
        }
        let back = ClusterSnapshot::from_json(&old.to_string()).unwrap();
        let mut expected = demo.clone();
        expected.services.clear();
        expected.tasks.clear();
        expected.secrets.clear();
        expected.configs.clear();
        for n in &mut expected.nodes {
            n.scheduling = Default::default();
        }
        assert_eq!(back, expected);
        assert_eq!(back.nodes[0].scheduling, NodeScheduling::default());
    }

    #[test]
    fn services_are_found_by_name_id_or_unique_prefix() {
        let mut snap = ClusterSnapshot::empty("t");
        let svc = |id: &str, name: &str| {
            let s: bollard::models::Service = serde_json::from_str(&format!(
                r#"{{"ID": "{id}", "Spec": {{"Name": "{name}", "Mode": {{"Replicated": {{}}}}}}}}"#
            ))
            .unwrap();
            workloads::service_from_api(&s, &[])
        };
        snap.services = vec![svc("abc123", "web"), svc("abd456", "db")];
        assert_eq!(snap.service("web").unwrap().id, "abc123");
        assert_eq!(snap.service("abd456").unwrap().name, "db");
        assert_eq!(snap.service("abc").unwrap().name, "web");
        assert!(snap.service("ab").is_none(), "ambiguous prefix");
        assert!(snap.service("").is_none() && snap.service("nope").is_none());
    }

    #[test]
    fn demo_decodes_into_known_words_and_reserialises_unchanged() {
        let asset = include_str!("../../assets/demo-cluster.json");
        let snap = demo();
        for n in &snap.nodes {
            assert!(!matches!(n.state, NodeState::Other(_)), "{:?}", n.state);
            assert!(!matches!(n.availability, Availability::Other(_)), "{n:?}");
            assert!(
                !matches!(n.reachability, Some(Reachability::Other(_))),
                "{n:?}"
            );
        }
        for h in &snap.hosts {
            assert!(
                !matches!(h.swarm_state, Some(LocalNodeState::Other(_))),
                "{h:?}"
            );
        }
        let as_read: serde_json::Value = serde_json::from_str(asset).unwrap();
        assert_eq!(serde_json::to_value(&snap).unwrap(), as_read);
    }

    #[test]
    fn words_from_newer_engines_are_kept() {
        let mut snap = demo();
        snap.nodes[0].state = NodeState::from("rebooting");
        snap.hosts[0].swarm_state = Some(LocalNodeState::from("migrating"));
        let json = snap.to_json();
        assert!(json.contains("\"state\": \"rebooting\""), "{json}");
        let back = ClusterSnapshot::from_json(&json).unwrap();
        assert_eq!(back.nodes[0].state, NodeState::Other("rebooting".into()));
        assert_eq!(
            back.hosts[0].swarm_state,
            Some(LocalNodeState::Other("migrating".into()))
        );
        assert!(!back.nodes[0].is_ready());
    }

    #[test]
    fn versions_are_checked() {
        let s = ClusterSnapshot::empty("test");
        let back = ClusterSnapshot::from_json(&s.to_json()).unwrap();
        assert_eq!(back, s);
        let old = s.to_json().replace("\"version\": 1", "\"version\": 99");
        assert!(matches!(
            ClusterSnapshot::from_json(&old),
            Err(SnapshotError::Version(99))
        ));
    }

    #[test]
    fn encrypted_and_subnets_from_network() {
        let json = r#"{"Name": "appnet", "Id": "n1", "Driver": "overlay", "Scope": "swarm",
            "Attachable": true, "Options": {"encrypted": ""},
            "IPAM": {"Config": [{"Subnet": "10.0.1.0/24"}]}}"#;
        let n: Network = serde_json::from_str(json).unwrap();
        let info = network_from_api(&n);
        assert!(info.attachable && info.encrypted);
        assert_eq!(info.subnets, vec!["10.0.1.0/24"]);
    }
}
