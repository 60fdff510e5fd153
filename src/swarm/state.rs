//! The live swarm state of every host, read through the Engine API (and `ip route get` for
//! the advertise address). Plans are computed from this, never from remembered state, so
//! re-running a command after an interruption resumes where the hosts actually are.

use std::net::Ipv4Addr;

use bollard::models::{LocalNodeState, SystemInfo};
use bollard::query_parameters::{ListNetworksOptions, ListNodesOptions};
use futures_util::future::join_all;

use crate::cluster::Cluster;
use crate::docker::DockerError;
use crate::inventory::HostSpec;
use crate::snapshot::{self, NetworkInfo, NodeInfo, Role};
use crate::ssh::RemoteCommand;

use super::SwarmError;

/// A host's own view of its swarm membership (`Swarm.LocalNodeState`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalState {
    Inactive,
    Pending,
    Active,
    Locked,
    Error,
    /// The host or its engine could not be read.
    Unreachable(String),
}

/// What one host says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    /// Inventory name.
    pub host: String,
    /// `user@address[:port]`, for the exported audit script.
    pub target: String,
    /// The engine's name (becomes the node hostname).
    pub engine_name: Option<String>,
    pub state: LocalState,
    pub node_id: Option<String>,
    /// `Swarm.NodeAddr`: the address the node advertises, once in a swarm.
    pub node_addr: Option<String>,
    /// A manager that can answer for the cluster.
    pub control_available: bool,
    /// Known on managers only.
    pub cluster_id: Option<String>,
    /// Managers this node knows (id, addr), from `Swarm.RemoteManagers`.
    pub remote_managers: Vec<(String, String)>,
    /// The address to advertise: this host's source address towards its peers.
    pub advertise: Option<String>,
}

impl HostFacts {
    /// A host before its engine has answered: inactive, nothing else known.
    pub fn new(host: impl Into<String>, target: impl Into<String>) -> Self {
        HostFacts {
            host: host.into(),
            target: target.into(),
            engine_name: None,
            state: LocalState::Inactive,
            node_id: None,
            node_addr: None,
            control_available: false,
            cluster_id: None,
            remote_managers: Vec::new(),
            advertise: None,
        }
    }

    pub fn is_member(&self) -> bool {
        self.state == LocalState::Active
    }
}

impl LocalState {
    /// The engine's word for this state; none when the host could not be read.
    pub fn engine_state(&self) -> Option<snapshot::LocalNodeState> {
        Some(match self {
            LocalState::Inactive => snapshot::LocalNodeState::Inactive,
            LocalState::Pending => snapshot::LocalNodeState::Pending,
            LocalState::Active => snapshot::LocalNodeState::Active,
            LocalState::Locked => snapshot::LocalNodeState::Locked,
            LocalState::Error => snapshot::LocalNodeState::Error,
            LocalState::Unreachable(_) => return None,
        })
    }
}

/// Every host's facts plus the cluster-wide view from one manager.
#[derive(Debug, Clone, Default)]
pub struct SwarmState {
    pub hosts: Vec<HostFacts>,
    pub nodes: Vec<NodeInfo>,
    pub networks: Vec<NetworkInfo>,
    /// Which host answered for the cluster, if any.
    pub answered_by: Option<String>,
    /// Errors of managers that could not list the swarm (e.g. no quorum), by host.
    pub manager_errors: Vec<(String, String)>,
}

impl SwarmState {
    pub fn host(&self, name: &str) -> Option<&HostFacts> {
        self.hosts.iter().find(|h| h.host == name)
    }

    pub fn node_by_id(&self, id: &str) -> Option<&NodeInfo> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The swarm node of an inventory host, if it is a member.
    pub fn node_of(&self, host: &HostFacts) -> Option<&NodeInfo> {
        host.node_id.as_deref().and_then(|id| self.node_by_id(id))
    }

    /// The node `name` means: its ID, a hostname only one node has, an inventory host's
    /// node, or a unique ID prefix (4+ characters). A hostname several nodes share (cloned
    /// machines) is refused with their IDs: acting on either could hit the wrong machine.
    pub fn resolve_node(&self, name: &str) -> Result<&NodeInfo, SwarmError> {
        if let Some(n) = self.node_by_id(name) {
            return Ok(n);
        }
        let named: Vec<&NodeInfo> = self.nodes.iter().filter(|n| n.hostname == name).collect();
        match named.as_slice() {
            [n] => return Ok(n),
            [] => {}
            several => return Err(ambiguous(name, several)),
        }
        if let Some(n) = self.host(name).and_then(|h| self.node_of(h)) {
            return Ok(n);
        }
        let by_prefix: Vec<&NodeInfo> = if name.len() >= 4 {
            self.nodes
                .iter()
                .filter(|n| n.id.starts_with(name))
                .collect()
        } else {
            Vec::new()
        };
        match by_prefix.as_slice() {
            [n] => Ok(n),
            [] => Err(SwarmError::UnknownNode {
                node: name.to_string(),
                known: self
                    .nodes
                    .iter()
                    .map(|n| n.label_among(&self.nodes))
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
            several => Err(ambiguous(name, several)),
        }
    }

    /// Why no manager answers for the cluster: each host that could not be read, and each
    /// manager that could not list the swarm, with its reason (already inert and redacted).
    pub fn no_manager(&self) -> SwarmError {
        let mut why: Vec<String> = self
            .hosts
            .iter()
            .filter_map(|h| match &h.state {
                // The reason usually names its host already.
                LocalState::Unreachable(e) if e.starts_with(&format!("{}:", h.host)) => {
                    Some(e.clone())
                }
                LocalState::Unreachable(e) => Some(format!("{}: {e}", h.host)),
                LocalState::Locked => Some(format!("{}: the swarm is locked", h.host)),
                _ => None,
            })
            .collect();
        why.extend(self.manager_errors.iter().map(|(h, e)| format!("{h}: {e}")));
        if why.is_empty() {
            return SwarmError::NoManager;
        }
        SwarmError::NoManagerAnswered {
            detail: why.join("; "),
        }
    }

    /// The inventory's host names, comma-separated, for messages naming what exists.
    pub fn host_names(&self) -> String {
        self.hosts
            .iter()
            .map(|h| h.host.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Manager hosts that answered and can control the cluster.
    pub fn control_hosts(&self) -> impl Iterator<Item = &HostFacts> {
        self.hosts
            .iter()
            .filter(|h| h.is_member() && h.control_available)
    }

    /// Raft members as the quorum model sees them (from the node list). A node whose role
    /// is manager but that has no manager status is not a Raft member (e.g. an old manager
    /// after `--force-new-cluster`) and does not vote.
    pub fn managers(&self) -> Vec<crate::quorum::Manager> {
        self.nodes
            .iter()
            .filter(|n| n.role == Role::Manager && n.reachability.is_some())
            .map(|n| n.as_manager(&self.nodes))
            .collect()
    }
}

fn ambiguous(name: &str, nodes: &[&NodeInfo]) -> SwarmError {
    SwarmError::AmbiguousNode {
        node: name.to_string(),
        candidates: nodes
            .iter()
            .map(|n| format!("{} ({}, {}, {})", n.id, n.hostname, n.address, n.state))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// Reads every host in parallel, then the cluster view from the first manager that answers.
pub async fn gather(cluster: &Cluster) -> SwarmState {
    let hosts = &cluster.inventory().hosts;
    let peers = resolve_all(hosts).await;
    let facts = join_all(
        hosts
            .iter()
            .enumerate()
            .map(|(i, h)| host_facts(cluster, h, peer_of(&peers, i))),
    )
    .await;
    let mut state = SwarmState {
        hosts: facts,
        ..Default::default()
    };
    let managers: Vec<String> = state.control_hosts().map(|h| h.host.clone()).collect();
    for name in managers {
        let Some(spec) = cluster.inventory().host(&name) else {
            continue;
        };
        match read_cluster(cluster, spec).await {
            Ok((nodes, networks)) => {
                state.nodes = nodes;
                state.networks = networks;
                state.answered_by = Some(name);
                break;
            }
            Err(e) => state
                .manager_errors
                .push((name, crate::redact::redact(&e).into_owned())),
        }
    }
    state
}

async fn read_cluster(
    cluster: &Cluster,
    spec: &HostSpec,
) -> Result<(Vec<NodeInfo>, Vec<NetworkInfo>), String> {
    let docker = cluster.engine(spec).await.map_err(|e| e.to_string())?;
    let explain = |e| DockerError::explain(&spec.name, &docker, e);
    let nodes = match docker.list_nodes(None::<ListNodesOptions>).await {
        Ok(nodes) => nodes,
        Err(e) => return Err(explain(e).await.to_string()),
    };
    let networks = match docker.list_networks(None::<ListNetworksOptions>).await {
        Ok(networks) => networks,
        Err(e) => return Err(explain(e).await.to_string()),
    };
    let mut nodes: Vec<NodeInfo> = nodes.iter().map(snapshot::node_from_api).collect();
    nodes.sort_by(|a, b| a.hostname.cmp(&b.hostname));
    let networks = networks
        .iter()
        .filter(|n| n.scope.as_deref() == Some("swarm"))
        .map(snapshot::network_from_api)
        .collect();
    Ok((nodes, networks))
}

/// Workstation-side IPv4 of every inventory host (for `ip route get` on its peers).
async fn resolve_all(hosts: &[HostSpec]) -> Vec<Option<Ipv4Addr>> {
    join_all(hosts.iter().map(HostSpec::resolve_ipv4)).await
}

/// Another host's address to route towards (or the host's own when it is alone).
fn peer_of(peers: &[Option<Ipv4Addr>], i: usize) -> Option<Ipv4Addr> {
    peers
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != i)
        .find_map(|(_, p)| *p)
        .or_else(|| peers.get(i).copied().flatten())
}

/// `user@address`, with `:port` when it is not 22; an IPv6 address goes in brackets then
/// (`root@[fd00::1]:2222`), as [`crate::inventory::Target::parse`] reads it back.
pub fn target_of(h: &HostSpec) -> String {
    match (h.port, h.address.contains(':')) {
        (22, _) => format!("{}@{}", h.user, h.address),
        (port, true) => format!("{}@[{}]:{port}", h.user, h.address),
        (port, false) => format!("{}@{}:{port}", h.user, h.address),
    }
}

async fn host_facts(cluster: &Cluster, h: &HostSpec, peer: Option<Ipv4Addr>) -> HostFacts {
    let mut facts = HostFacts::new(&h.name, target_of(h));
    let info = match cluster.engine(h).await {
        Ok(d) => match d.info().await {
            Ok(info) => Ok(info),
            Err(e) => Err(DockerError::explain(&h.name, &d, e).await.to_string()),
        },
        Err(e) => Err(e.to_string()),
    };
    match info {
        Ok(info) => apply_info(&mut facts, &info),
        Err(e) => {
            facts.state = LocalState::Unreachable(crate::redact::redact(&e).into_owned());
            return facts;
        }
    }
    facts.advertise = advertise_address(cluster, h, peer).await;
    facts
}

/// Fills the swarm fields from `GET /info`.
pub fn apply_info(facts: &mut HostFacts, info: &SystemInfo) {
    facts.engine_name = info.name.clone();
    let Some(s) = info.swarm.as_ref() else {
        return;
    };
    facts.state = match s.local_node_state {
        Some(LocalNodeState::ACTIVE) => LocalState::Active,
        Some(LocalNodeState::PENDING) => LocalState::Pending,
        Some(LocalNodeState::LOCKED) => LocalState::Locked,
        Some(LocalNodeState::ERROR) => LocalState::Error,
        _ => LocalState::Inactive,
    };
    let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    facts.node_id = nonempty(&s.node_id);
    facts.node_addr = nonempty(&s.node_addr);
    facts.control_available = s.control_available.unwrap_or(false);
    facts.cluster_id = s.cluster.as_ref().and_then(|c| nonempty(&c.id));
    facts.remote_managers = s
        .remote_managers
        .iter()
        .flatten()
        .filter_map(|p| Some((p.node_id.clone()?, p.addr.clone()?)))
        .collect();
}

/// The host's source address on the route towards `peer` (`ip -o route get PEER`).
async fn advertise_address(
    cluster: &Cluster,
    h: &HostSpec,
    peer: Option<Ipv4Addr>,
) -> Option<String> {
    let peer = peer?;
    let session = cluster.pool().session(h).await.ok()?;
    let cmd = RemoteCommand::new(["ip", "-o", "route", "get", &peer.to_string()]);
    let out = session.exec(&cmd).await.ok()?;
    route_src(&out.stdout_lossy()).map(|ip| ip.to_string())
}

/// Parses the `src` of `ip -o route get` output, e.g.
/// `10.0.0.2 dev eth0 src 10.0.0.1 uid 0 \    cache`.
pub fn route_src(text: &str) -> Option<Ipv4Addr> {
    let mut words = text.split_whitespace();
    while let Some(w) = words.next() {
        if w == "src" {
            return words.next()?.parse().ok();
        }
    }
    None
}

/// The device of `ip -o route get` output.
pub fn route_dev(text: &str) -> Option<String> {
    let mut words = text.split_whitespace();
    while let Some(w) = words.next() {
        if w == "dev" {
            return words.next().map(str::to_string);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_route_get() {
        let t = "10.213.1.2 dev eth0 src 10.213.1.1 uid 0 \\    cache ";
        assert_eq!(route_src(t), Some(Ipv4Addr::new(10, 213, 1, 1)));
        assert_eq!(route_dev(t).as_deref(), Some("eth0"));
        let local = "local 10.213.1.1 dev lo table local src 10.213.1.1 uid 0";
        assert_eq!(route_src(local), Some(Ipv4Addr::new(10, 213, 1, 1)));
        assert_eq!(route_src("RTNETLINK answers: Network is unreachable"), None);
    }

    #[test]
    fn peers_prefer_another_host() {
        let a = Some(Ipv4Addr::new(10, 0, 0, 1));
        let b = Some(Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(peer_of(&[a, b], 0), b);
        assert_eq!(peer_of(&[a, b], 1), a);
        assert_eq!(peer_of(&[a], 0), a);
        assert_eq!(peer_of(&[None, None], 0), None);
    }

    #[test]
    fn no_manager_names_each_unreadable_host_and_each_refusing_manager() {
        let mut hung = HostFacts::new("node1", "root@10.0.0.1");
        hung.state = LocalState::Unreachable("Docker engine did not answer within 5s".into());
        let worker = HostFacts::new("node2", "root@10.0.0.2");
        let mut state = SwarmState {
            hosts: vec![hung, worker],
            ..Default::default()
        };
        state.manager_errors = vec![("node3".into(), "no leader".into())];
        let text = state.no_manager().to_string();
        assert!(
            text.contains("node1: Docker engine did not answer within 5s; node3: no leader"),
            "{text}"
        );
        assert!(!text.contains("node2"), "{text}");
        assert!(matches!(
            SwarmState::default().no_manager(),
            SwarmError::NoManager
        ));
    }
}
