//! Tasks unevenly spread: swarm does not move running tasks when a node comes back (after
//! a drain, a restart or an outage), so the node stays empty of a service while others
//! carry two or more of its replicas, until something replaces the tasks.

use std::collections::BTreeMap;

use super::Finding;
use crate::severity::Severity;
use crate::snapshot::workloads::ServiceMode;
use crate::snapshot::{Availability, ClusterSnapshot, NodeInfo};
use crate::workloads::constraint::Constraint;

/// A service's running tasks per node, and the ready, active nodes it may use but does
/// not run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spread {
    pub service: String,
    pub replicas: u64,
    /// Node label → running tasks of the service there.
    pub per_node: BTreeMap<String, usize>,
    /// Ready, active nodes that match the service's constraints and run none of it.
    pub idle: Vec<String>,
}

fn eligible(n: &NodeInfo, constraints: &[Constraint]) -> bool {
    n.is_ready()
        && n.availability == Availability::Active
        && constraints.iter().all(|c| c.matches(n))
}

/// Each replicated service's spread over the nodes.
pub fn spreads(snap: &ClusterSnapshot) -> Vec<Spread> {
    snap.services
        .iter()
        .filter(|s| s.mode == ServiceMode::Replicated)
        .filter_map(|s| {
            let constraints: Vec<Constraint> = s
                .constraints
                .iter()
                .map(|c| Constraint::parse(c))
                .collect::<Result<_, _>>()
                .ok()?;
            let mut per_node = BTreeMap::new();
            for t in snap.tasks.iter().filter(|t| {
                t.service_id == s.id
                    && t.state == crate::snapshot::TaskState::Running
                    && t.desired_state == crate::snapshot::TaskState::Running
            }) {
                let Some(n) = snap
                    .nodes
                    .iter()
                    .find(|n| Some(&n.id) == t.node_id.as_ref())
                else {
                    continue;
                };
                *per_node.entry(n.label_among(&snap.nodes)).or_insert(0) += 1;
            }
            let idle = snap
                .nodes
                .iter()
                .filter(|n| eligible(n, &constraints))
                .map(|n| n.label_among(&snap.nodes))
                .filter(|n| !per_node.contains_key(n))
                .collect();
            Some(Spread {
                service: s.name.clone(),
                replicas: s.desired,
                per_node,
                idle,
            })
        })
        .collect()
}

/// A node that may run a service but runs none of it while another node runs two or more.
pub fn findings(snap: &ClusterSnapshot) -> Vec<Finding> {
    spreads(snap)
        .into_iter()
        .filter(|s| !s.idle.is_empty() && s.per_node.values().any(|n| *n >= 2))
        .map(|s| {
            let crowded: Vec<String> = s
                .per_node
                .iter()
                .filter(|(_, n)| **n >= 2)
                .map(|(node, n)| format!("{node} runs {n}"))
                .collect();
            let name = crate::swarm::plan::quote(&s.service).into_owned();
            Finding {
                severity: Severity::Info,
                area: "task spread",
                subject: s.service.clone(),
                summary: format!(
                    "tasks unevenly spread: node(s) {} returned or joined and run none of \
                     service {}'s {} replicas while {}; swarm does not move running tasks",
                    s.idle.join(", "),
                    s.service,
                    s.replicas,
                    crowded.join(", ")
                ),
                fix: format!(
                    "`swarmdeck service rebalance {name}` (a forced redeploy, `docker service \
                     update --force {name}`, places the replicas again over every node)"
                ),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn swarm(placed: &[&str], constraints: &[&str]) -> ClusterSnapshot {
        let mut snap = crate::snapshot::demo();
        snap.services = vec![
            serde_json::from_value(json!({"id": "s1", "name": "web", "mode": "replicated",
                "desired": placed.len(), "constraints": constraints}))
            .unwrap(),
        ];
        snap.tasks = placed
            .iter()
            .enumerate()
            .map(|(i, node)| {
                serde_json::from_value(json!({"id": format!("t{i}"), "service_id": "s1",
                    "slot": i + 1, "node_id": node, "desired_state": "running",
                    "state": "running"}))
                .unwrap()
            })
            .collect();
        snap
    }

    fn ready_active(snap: &ClusterSnapshot) -> Vec<&NodeInfo> {
        snap.nodes
            .iter()
            .filter(|n| n.is_ready() && n.availability == Availability::Active)
            .collect()
    }

    #[test]
    fn a_node_that_runs_none_of_a_crowded_service_is_named_with_the_rebalance_fix() {
        let demo = crate::snapshot::demo();
        let nodes = ready_active(&demo);
        assert!(nodes.len() >= 3, "the demo has three usable nodes");
        let (a, b, idle) = (&nodes[0], &nodes[1], &nodes[2]);
        let snap = swarm(&[&a.id, &a.id, &a.id, &b.id, &b.id, &b.id], &[]);
        let f = findings(&snap);
        let ours = f.iter().find(|f| f.subject == "web").unwrap();
        assert!(
            ours.summary.contains(&format!("node(s) {}", idle.hostname))
                && ours
                    .summary
                    .contains("run none of service web's 6 replicas"),
            "{}",
            ours.summary
        );
        assert!(
            ours.fix.contains("swarmdeck service rebalance web"),
            "{}",
            ours.fix
        );
    }

    #[test]
    fn an_even_spread_or_a_node_the_constraints_exclude_is_not_flagged() {
        let demo = crate::snapshot::demo();
        let nodes = ready_active(&demo);
        let ids: Vec<&str> = nodes.iter().map(|n| n.id.as_str()).collect();
        // One task on each usable node.
        assert!(findings(&swarm(&ids, &[])).is_empty());
        // Crowded, but the service may only run on the first node.
        let only = format!("node.id=={}", ids[0]);
        assert!(findings(&swarm(&[ids[0], ids[0]], &[&only])).is_empty());
    }
}
