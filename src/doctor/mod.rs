//! The doctor: every finding about a live swarm with its fix, most urgent first. Pure:
//! [`examine`] reads a snapshot and the facts [`facts::gather`] read from the hosts. It
//! covers hosts that do not answer, overlay address capacity, the default address pool
//! (exhaustion, the hosts' own networks inside it), quorum, manager count and zone spread,
//! Raft data size and task history, clock skew, engine version skew, nodes that are down,
//! tasks that wait for a node and tasks unevenly spread after a node came back.

pub mod clock;
pub mod facts;
pub mod pool;
pub mod raft;
pub mod spread;

pub use facts::{HostFacts, gather};

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use serde::Serialize;

use crate::quorum::{self, AdviceLevel};
use crate::severity::Severity;
use crate::snapshot::{ClusterSnapshot, NetworkInfo, Role, TaskState};

/// An overlay this full is flagged.
pub const CAPACITY_WARNING: f64 = 0.75;
/// And this full, as an error: new tasks soon fail with "could not find an available IP".
pub const CAPACITY_ERROR: f64 = 0.90;

/// One thing the doctor found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// What it is about, e.g. "overlay capacity".
    pub area: &'static str,
    /// The network, node or service it concerns.
    pub subject: String,
    pub summary: String,
    pub fix: String,
}

/// Every finding on `snap` and `facts` (empty facts: the snapshot's findings only), with
/// `extra` merged in: findings other modules compute (e.g. certificates). Errors first,
/// then warnings, then notes; the order of the rules below within each.
pub fn examine(snap: &ClusterSnapshot, facts: &HostFacts, extra: Vec<Finding>) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(hosts(snap));
    out.extend(swarm_unread(snap));
    out.extend(capacity(snap));
    out.extend(pool::findings(snap, facts));
    out.extend(managers(snap));
    out.extend(zones(snap));
    out.extend(raft::findings(snap, facts));
    out.extend(clock::findings(facts));
    out.extend(down_nodes(snap));
    out.extend(version_skew(snap));
    out.extend(pending(snap));
    out.extend(spread::findings(snap));
    out.extend(extra);
    out.extend(unread(facts));
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

/// Reads of the hosts that failed: what they would have shown is unknown.
fn unread(facts: &HostFacts) -> Vec<Finding> {
    facts
        .failures
        .iter()
        .map(|f| Finding {
            severity: Severity::Info,
            area: "not read",
            subject: f.host.clone(),
            summary: format!(
                "the {} of {} could not be read ({}): {}",
                f.what,
                f.host,
                f.layer.describe(),
                f.error
            ),
            fix: match f.layer {
                crate::snapshot::Layer::Network | crate::snapshot::Layer::Ssh => {
                    "check the host's SSH login (`swarmdeck hosts test`)"
                }
                crate::snapshot::Layer::Engine => "check the host's Docker engine",
                _ => {
                    "check that the host's login may run `date`, `ip` and (with sudo on \
                      managers) `du` on the engine's swarm directory"
                }
            }
            .into(),
        })
        .collect()
}

/// Managers' spread over zones (the `zone` node label), from the quorum model.
fn zones(snap: &ClusterSnapshot) -> Vec<Finding> {
    if snap.swarm.is_none() {
        return Vec::new();
    }
    let managers = snap.managers();
    quorum::zone_advice(&managers)
        .into_iter()
        .map(|a| Finding {
            severity: match a.level {
                AdviceLevel::Warning => Severity::Warning,
                AdviceLevel::Info => Severity::Info,
            },
            area: "manager zones",
            subject: format!("{} manager(s)", managers.len()),
            summary: a.text,
            fix: "label every manager with its zone (`swarmdeck node label NODE add zone=Z`) \
                  and move managers so no zone holds a majority (promote a node in another \
                  zone, then demote one in the crowded zone)"
                .into(),
        })
        .collect()
}

/// Addresses in use on one overlay against what its subnets hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub network: String,
    pub subnets: Vec<String>,
    /// Addresses the subnets can give out (network, broadcast and gateway excluded).
    pub capacity: u64,
    pub tasks: u64,
    pub vips: u64,
    /// Containers attached outside swarm tasks (attachable overlays), as the inventory's
    /// hosts report them.
    pub containers: u64,
    /// One load-balancer endpoint per node with a task or a container on the network.
    pub load_balancers: u64,
}

impl Usage {
    pub fn used(&self) -> u64 {
        self.tasks + self.vips + self.containers + self.load_balancers
    }

    pub fn ratio(&self) -> f64 {
        match self.capacity {
            0 => 1.0,
            c => self.used() as f64 / c as f64,
        }
    }
}

/// Usable addresses of an IPv4 CIDR as swarm's IPAM gives them out (`None`: not IPv4).
pub fn usable(cidr: &str) -> Option<u64> {
    let (addr, len) = cidr.split_once('/')?;
    addr.parse::<Ipv4Addr>().ok()?;
    let len: u32 = len.parse().ok().filter(|l| *l <= 32)?;
    Some((1u64 << (32 - len)).saturating_sub(3))
}

/// Each overlay's usage, counted the way the swarm allocates: an address per task that
/// holds one (allocated up to running, also while pending or stopping), per virtual IP,
/// per container attached outside a task, and per node that has either on the network (its
/// load balancer).
pub fn overlay_usage(snap: &ClusterSnapshot) -> Vec<Usage> {
    snap.networks
        .iter()
        .filter(|n| n.driver == "overlay")
        .filter_map(|n| usage(snap, n))
        .collect()
}

fn usage(snap: &ClusterSnapshot, net: &NetworkInfo) -> Option<Usage> {
    let capacity: u64 = net.subnets.iter().filter_map(|s| usable(s)).sum();
    if capacity == 0 {
        return None;
    }
    let on_net: BTreeSet<&str> = snap
        .services
        .iter()
        .filter(|s| {
            s.networks.iter().any(|n| n == &net.id || n == &net.name)
                || net.ingress && !s.ports.is_empty()
        })
        .map(|s| s.id.as_str())
        .collect();
    let (allocated, running) = (TaskState::Allocated.rank(), TaskState::Running.rank());
    let holding: Vec<_> = snap
        .tasks
        .iter()
        .filter(|t| on_net.contains(t.service_id.as_str()))
        .filter(|t| (allocated..=running).contains(&t.state.rank()))
        .collect();
    // Task containers are named `service.slot.taskid`; any other is a standalone one.
    let task_ids: BTreeSet<&str> = snap.tasks.iter().map(|t| t.id.as_str()).collect();
    let standalone: Vec<_> = net
        .containers
        .iter()
        .filter(|c| {
            !c.name
                .rsplit('.')
                .next()
                .is_some_and(|id| task_ids.contains(id))
        })
        .collect();
    // Each node looked up once, not once per task: a large swarm has 10,000 tasks.
    let task_nodes: BTreeSet<&str> = holding
        .iter()
        .filter_map(|t| t.node_id.as_deref())
        .collect();
    let hostname = |id: &str| {
        snap.nodes
            .iter()
            .find(|n| n.id == id)
            .map_or(id.to_string(), |n| n.hostname.clone())
    };
    let nodes: BTreeSet<String> = task_nodes
        .into_iter()
        .map(hostname)
        .chain(standalone.iter().map(|c| c.node.clone()))
        .collect();
    let vips = snap
        .services
        .iter()
        .flat_map(|s| &s.vips)
        .filter(|v| v.network_id == net.id)
        .count();
    Some(Usage {
        network: net.name.clone(),
        subnets: net.subnets.clone(),
        capacity,
        tasks: holding.len() as u64,
        vips: vips as u64,
        containers: standalone.len() as u64,
        load_balancers: nodes.len() as u64,
    })
}

fn capacity(snap: &ClusterSnapshot) -> Vec<Finding> {
    overlay_usage(snap)
        .into_iter()
        .filter(|u| u.ratio() >= CAPACITY_WARNING)
        .map(|u| {
            let severity = match u.ratio() >= CAPACITY_ERROR {
                true => Severity::Error,
                false => Severity::Warning,
            };
            let name = crate::swarm::plan::quote(&u.network).into_owned();
            Finding {
                severity,
                area: "overlay capacity",
                subject: u.network.clone(),
                summary: format!(
                    "overlay {} uses {} of its {} addresses ({:.0} %: {} task(s), {} virtual IP(s), \
                     {} other container(s), {} node load balancer(s)) in {}; at 100 % new tasks \
                     stay pending with \"could not find an available IP\"",
                    u.network,
                    u.used(),
                    u.capacity,
                    u.ratio() * 100.0,
                    u.tasks,
                    u.vips,
                    u.containers,
                    u.load_balancers,
                    u.subnets.join(", ")
                ),
                fix: format!(
                    "create a larger overlay (`docker network create -d overlay --subnet \
                     <a /24 or larger> NEW`) and move the services to it (`docker service \
                     update --network-add NEW --network-rm {name} SERVICE`); services that need \
                     no virtual IP can use `--endpoint-mode dnsrr` to save one address each"
                ),
            }
        })
        .collect()
}

fn hosts(snap: &ClusterSnapshot) -> Vec<Finding> {
    snap.failed_hosts()
        .map(|h| {
            let layer = h.layer.map_or("unknown layer", |l| l.describe());
            Finding {
                severity: Severity::Error,
                area: "hosts",
                subject: h.host.clone(),
                summary: format!(
                    "{} does not answer ({layer}): {}",
                    h.host,
                    h.error.as_deref().unwrap_or("no reason given")
                ),
                fix: match h.layer {
                    Some(crate::snapshot::Layer::Network) => {
                        "check the host is up and the network path to it (routes, firewall)"
                    }
                    Some(crate::snapshot::Layer::Ssh) => {
                        "check sshd on the host and the login (`swarmdeck hosts test`)"
                    }
                    Some(crate::snapshot::Layer::Engine) => {
                        "check the Docker engine on the host (`systemctl status docker`)"
                    }
                    _ => "see `swarmdeck status` for the host's state",
                }
                .into(),
            }
        })
        .collect()
}

fn managers(snap: &ClusterSnapshot) -> Vec<Finding> {
    if snap.swarm.is_none() {
        return Vec::new();
    }
    let managers = snap.managers();
    let zoned = quorum::zone_advice(&managers);
    let mut out: Vec<Finding> = quorum::advise(&managers)
        .into_iter()
        .filter(|a| !zoned.contains(a))
        .map(|a| Finding {
            severity: match a.level {
                AdviceLevel::Warning => Severity::Warning,
                AdviceLevel::Info => Severity::Info,
            },
            area: "managers",
            subject: format!("{} manager(s)", managers.len()),
            summary: a.text,
            fix: "promote or demote nodes as advised (`swarmdeck node promote|demote NODE`)".into(),
        })
        .collect();
    let reachable = managers.iter().filter(|m| m.reachable).count();
    if !managers.is_empty() && reachable < quorum::majority(managers.len()) {
        out.push(Finding {
            severity: Severity::Error,
            area: "quorum",
            subject: format!("{reachable} of {} manager(s)", managers.len()),
            summary: format!(
                "quorum is lost: {reachable} of {} managers are reachable, {} are needed; the \
                 swarm cannot change anything",
                managers.len(),
                quorum::majority(managers.len())
            ),
            fix: "bring the managers back, or recover with `swarmdeck recover` \
                  (`docker swarm init --force-new-cluster`) on a healthy manager"
                .into(),
        });
    }
    out
}

/// No manager answered: what follows is the last node list, or nothing.
fn swarm_unread(snap: &ClusterSnapshot) -> Option<Finding> {
    if snap.swarm.is_some() && snap.nodes_as_of.is_none() {
        return None;
    }
    let why = snap
        .swarm_error
        .as_deref()
        .unwrap_or("no inventory host is a manager of a swarm");
    Some(Finding {
        severity: Severity::Error,
        area: "swarm",
        subject: String::new(),
        summary: if snap.nodes_as_of.is_some() {
            format!("no manager answers; the nodes shown are the last ones read: {why}")
        } else {
            format!("no manager answers: {why}")
        },
        fix: "bring a manager's engine back (see the hosts above); if a majority of managers \
              is gone for good, recover with `swarmdeck recover`"
            .into(),
    })
}

fn down_nodes(snap: &ClusterSnapshot) -> Vec<Finding> {
    snap.nodes
        .iter()
        .filter(|n| !n.is_ready())
        .map(|n| Finding {
            severity: match n.role {
                Role::Manager => Severity::Error,
                Role::Worker => Severity::Warning,
            },
            area: "nodes",
            subject: n.label_among(&snap.nodes),
            summary: format!(
                "{} {} is {} ({}): its tasks run elsewhere or wait",
                match n.role {
                    Role::Manager => "manager",
                    Role::Worker => "worker",
                },
                n.label_among(&snap.nodes),
                n.state,
                n.availability
            ),
            fix: "start its engine or bring the host back; if it is gone for good, remove it \
                  (`swarmdeck node rm NODE`)"
                .into(),
        })
        .collect()
}

fn version_skew(snap: &ClusterSnapshot) -> Vec<Finding> {
    let mut by_version: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for n in snap.nodes.iter().filter(|n| !n.engine_version.is_empty()) {
        by_version
            .entry(n.engine_version.as_str())
            .or_default()
            .push(n.label_among(&snap.nodes));
    }
    if by_version.len() < 2 {
        return Vec::new();
    }
    let majors: BTreeSet<&str> = by_version
        .keys()
        .map(|v| v.split('.').next().unwrap_or(v))
        .collect();
    let list: Vec<String> = by_version
        .iter()
        .map(|(v, nodes)| format!("{v} on {}", nodes.join(", ")))
        .collect();
    vec![Finding {
        severity: match majors.len() > 1 {
            true => Severity::Warning,
            false => Severity::Info,
        },
        area: "engine versions",
        subject: format!("{} versions", by_version.len()),
        summary: format!("the nodes run different engines: {}", list.join("; ")),
        fix: "upgrade the older engines one node at a time (drain, upgrade, activate), \
              managers last and one at a time"
            .into(),
    }]
}

fn pending(snap: &ClusterSnapshot) -> Vec<Finding> {
    let mut by_service: BTreeMap<&str, Vec<&crate::snapshot::TaskInfo>> = BTreeMap::new();
    for t in snap.tasks.iter().filter(|t| t.is_unplaced()) {
        by_service.entry(t.service_id.as_str()).or_default().push(t);
    }
    by_service
        .into_iter()
        .filter_map(|(id, tasks)| {
            let service = snap.services.iter().find(|s| s.id == id)?;
            let reason = crate::workloads::explain(snap, tasks[0])?;
            Some(Finding {
                severity: Severity::Warning,
                area: "pending tasks",
                subject: service.name.clone(),
                summary: format!(
                    "{} task(s) of {} wait for a node: {}",
                    tasks.len(),
                    service.name,
                    reason.summary
                ),
                fix: reason.fix,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn usable_addresses_leave_out_network_broadcast_and_gateway() {
        assert_eq!(usable("10.0.1.0/24"), Some(253));
        assert_eq!(usable("10.99.0.0/28"), Some(13));
        assert_eq!(usable("fd00::/64"), None);
        assert_eq!(usable("10.0.0.0/33"), None);
        assert_eq!(usable("nonsense"), None);
    }

    fn small_overlay(replicas: usize, nodes: usize) -> ClusterSnapshot {
        let mut snap = ClusterSnapshot::empty("t");
        snap.networks = vec![
            serde_json::from_value(json!({"id": "net1", "name": "tiny", "driver": "overlay",
                "scope": "swarm", "attachable": false, "encrypted": false, "ingress": false,
                "subnets": ["10.99.0.0/28"], "containers": []}))
            .unwrap(),
        ];
        snap.services = vec![
            serde_json::from_value(json!({"id": "s1", "name": "web", "mode": "replicated",
                "networks": ["net1"],
                "vips": [{"network_id": "net1", "addr": "10.99.0.2/28"}]}))
            .unwrap(),
        ];
        snap.tasks = (0..replicas)
            .map(|i| {
                serde_json::from_value(json!({"id": format!("t{i}"), "service_id": "s1",
                    "node_id": format!("n{}", i % nodes), "desired_state": "running",
                    "state": "running"}))
                .unwrap()
            })
            .collect();
        snap
    }

    #[test]
    fn an_overlay_past_three_quarters_full_is_flagged_with_the_fix() {
        // 6 tasks + 1 VIP + 3 load balancers = 10 of 13.
        let snap = small_overlay(6, 3);
        let u = &overlay_usage(&snap)[0];
        assert_eq!(
            (u.tasks, u.vips, u.load_balancers, u.capacity),
            (6, 1, 3, 13)
        );
        let found = examine(&snap, &HostFacts::default(), Vec::new());
        let f = found.iter().find(|f| f.area == "overlay capacity").unwrap();
        assert_eq!(f.severity, Severity::Warning);
        assert!(
            f.summary.contains("uses 10 of its 13 addresses (77 %"),
            "{}",
            f.summary
        );
        assert!(f.fix.contains("--network-rm tiny"), "{}", f.fix);
        // 9 tasks on 3 nodes: 13 of 13.
        let full = examine(&small_overlay(9, 3), &HostFacts::default(), Vec::new());
        assert_eq!(full[0].severity, Severity::Error);
        // 2 tasks: 5 of 13, fine.
        assert!(
            !examine(&small_overlay(2, 2), &HostFacts::default(), Vec::new())
                .iter()
                .any(|f| f.area == "overlay capacity")
        );
    }

    #[test]
    fn no_manager_answering_is_an_error_and_old_nodes_are_called_old() {
        let mut snap = crate::snapshot::demo();
        assert!(
            examine(&snap, &HostFacts::default(), Vec::new())
                .iter()
                .all(|f| f.area != "swarm")
        );
        snap.nodes_as_of = Some(1);
        snap.swarm_error = Some("node1: Docker engine did not answer".into());
        let f = examine(&snap, &HostFacts::default(), Vec::new())
            .into_iter()
            .find(|f| f.area == "swarm")
            .unwrap();
        assert_eq!(f.severity, Severity::Error);
        assert!(
            f.summary.contains("last ones read: node1: Docker engine"),
            "{f:?}"
        );
        snap.swarm = None;
        snap.nodes_as_of = None;
        snap.swarm_error = None;
        let f = examine(&snap, &HostFacts::default(), Vec::new())
            .into_iter()
            .find(|f| f.area == "swarm")
            .unwrap();
        assert!(
            f.summary.contains("no inventory host is a manager"),
            "{f:?}"
        );
    }

    #[test]
    fn findings_come_most_urgent_first() {
        let mut snap = small_overlay(9, 3);
        snap.nodes = crate::snapshot::demo().nodes;
        let found = examine(&snap, &HostFacts::default(), Vec::new());
        let severities: Vec<Severity> = found.iter().map(|f| f.severity).collect();
        let mut sorted = severities.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(severities, sorted);
    }

    #[test]
    fn a_standalone_container_takes_an_address_and_its_nodes_load_balancer_another() {
        let mut snap = small_overlay(2, 1);
        snap.networks[0].containers = serde_json::from_value(json!([
            {"node": "n0", "name": "web.1.t0", "ipv4": "10.99.0.3/28"},
            {"node": "node9", "name": "probe", "ipv4": "10.99.0.9/28"}
        ]))
        .unwrap();
        let u = &overlay_usage(&snap)[0];
        // 2 tasks + 1 VIP + 1 standalone + load balancers on n0 and node9.
        assert_eq!(
            (u.tasks, u.vips, u.containers, u.load_balancers),
            (2, 1, 1, 2)
        );
        assert_eq!(u.used(), 6);
    }

    #[test]
    fn managers_in_one_zone_are_a_zone_finding_apart_from_the_count_advice() {
        let mut snap = crate::snapshot::demo();
        let mut managers = 0;
        for n in snap.nodes.iter_mut().filter(|n| n.role == Role::Manager) {
            n.labels.insert("zone".into(), "a".into());
            managers += 1;
        }
        assert!(managers >= 2, "the demo has several managers");
        let found = examine(&snap, &HostFacts::default(), Vec::new());
        let zone = found.iter().find(|f| f.area == "manager zones").unwrap();
        assert_eq!(zone.severity, Severity::Warning);
        assert!(zone.summary.starts_with("zone a holds"), "{}", zone.summary);
        assert!(zone.fix.contains("zone=Z"), "{}", zone.fix);
        assert!(
            !found
                .iter()
                .any(|f| f.area == "managers" && f.summary.starts_with("zone ")),
            "{found:#?}"
        );
    }

    #[test]
    fn findings_from_other_modules_and_failed_reads_are_merged_in_order() {
        let snap = small_overlay(2, 2);
        let extra = Finding {
            severity: Severity::Error,
            area: "certificates",
            subject: "node1".into(),
            summary: "expires".into(),
            fix: "rotate".into(),
        };
        let facts = HostFacts {
            failures: vec![facts::GatherFailure {
                host: "node2".into(),
                layer: crate::snapshot::Layer::Ssh,
                what: "clock".into(),
                error: "timed out".into(),
            }],
            ..Default::default()
        };
        let found = examine(&snap, &facts, vec![extra.clone()]);
        // An error: among the errors, before every warning and note.
        let at = found.iter().position(|f| *f == extra).unwrap();
        assert!(found[..at].iter().all(|f| f.severity == Severity::Error));
        let unread = found.iter().find(|f| f.area == "not read").unwrap();
        assert_eq!(
            unread.summary,
            "the clock of node2 could not be read (SSH): timed out"
        );
    }
}
