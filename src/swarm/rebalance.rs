//! Rebalance: swarm leaves running tasks where they are when a node comes back, so a
//! returned node stays empty until the tasks are replaced. A rebalance is a forced
//! redeploy (`docker service update --force`) of each chosen service, planned only while
//! quorum holds, with the tasks per node now, the nodes that run none, and a warning where
//! the redeploy means downtime (one replica replaced stop-first). Global services already
//! run one task on every eligible node: they are skipped with a note.

use crate::cluster::Cluster;
use crate::doctor::spread::{Spread, spreads};
use crate::quorum;
use crate::snapshot::ClusterSnapshot;
use crate::snapshot::workloads::{ServiceInfo, ServiceMode};
use crate::untrusted::visible;

use super::plan::Plan;
use super::service::{self, ServiceChange, ServiceEdit, ServiceError, SpecUpdate};
use super::{SwarmError, state::SwarmState};

/// Services to spread again over the nodes, by name or ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebalance {
    pub services: Vec<String>,
}

impl Rebalance {
    pub fn describe(&self) -> String {
        format!("rebalance {}", visible(&self.services.join(", ")))
    }
}

/// What the checks found: the services to redeploy and what to tell about them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Review {
    /// Names of the replicated services to redeploy, in the order asked.
    pub redeploy: Vec<String>,
    pub notes: Vec<String>,
}

/// The checks before a rebalance, on a snapshot taken now (pure): quorum must hold, every
/// service must exist; global services are skipped; a single stop-first replica warns.
pub fn review(snap: &ClusterSnapshot, services: &[String]) -> Result<Review, SwarmError> {
    // The numbers first: without quorum the managers' last node list (marked as such, the
    // silent ones counted down) still says how many are missing.
    let managers = snap.managers();
    let reachable = managers.iter().filter(|m| m.reachable).count();
    let majority = quorum::majority(managers.len());
    if reachable < majority {
        return Err(SwarmError::QuorumLost(format!(
            "refused: {reachable} of {} manager(s) are reachable and {majority} are needed for \
             quorum; a redeploy needs the managers to agree. Bring managers back (or \
             `swarmdeck recover`) first",
            managers.len()
        )));
    }
    if snap.swarm.is_none() || snap.nodes_as_of.is_some() {
        return Err(SwarmError::NoManager);
    }
    let spread = spreads(snap);
    let mut out = Review::default();
    for name in services {
        let s = find(snap, name).ok_or_else(|| ServiceError::Unknown {
            service: name.clone(),
        })?;
        if out.redeploy.contains(&s.name) {
            continue;
        }
        match s.mode {
            ServiceMode::Replicated => {}
            mode => {
                out.notes.push(format!(
                    "{} is a {} service: skipped (it runs where its mode puts it; only \
                     replicated services are spread again)",
                    visible(&s.name),
                    mode.as_str()
                ));
                continue;
            }
        }
        if let Some(sp) = spread.iter().find(|sp| sp.service == s.name) {
            out.notes.push(placement(sp));
        }
        if let Some(w) = downtime(s) {
            out.notes.push(w);
        }
        out.redeploy.push(s.name.clone());
    }
    Ok(out)
}

fn find<'a>(snap: &'a ClusterSnapshot, name: &str) -> Option<&'a ServiceInfo> {
    snap.services
        .iter()
        .find(|s| s.name == name || s.id == name)
        .or_else(|| {
            let mut by_prefix = snap.services.iter().filter(|s| s.id.starts_with(name));
            match (by_prefix.next(), by_prefix.next()) {
                (Some(s), None) if !name.is_empty() => Some(s),
                _ => None,
            }
        })
}

/// "web: 3 on node1, 3 on node2; node3 runs none".
fn placement(sp: &Spread) -> String {
    let per: Vec<String> = sp
        .per_node
        .iter()
        .map(|(node, n)| format!("{n} on {}", visible(node)))
        .collect();
    let mut text = format!(
        "{}: {} replica(s) running: {}",
        visible(&sp.service),
        sp.per_node.values().sum::<usize>(),
        if per.is_empty() {
            "none".to_string()
        } else {
            per.join(", ")
        }
    );
    if !sp.idle.is_empty() {
        text.push_str(&format!(
            "; {} run(s) none and may take some",
            visible(&sp.idle.join(", "))
        ));
    }
    text
}

/// A service that is down while its tasks are replaced.
fn downtime(s: &ServiceInfo) -> Option<String> {
    let start_first = s
        .update_config
        .as_ref()
        .is_some_and(|u| u.order == "start-first");
    (s.desired < 2 && !start_first).then(|| {
        format!(
            "warning: {} has {} replica(s) and replaces tasks stop-first: it is down while its \
             task is replaced (scale it to 2 or more, or `docker service update \
             --update-order start-first`, first)",
            visible(&s.name),
            s.desired
        )
    })
}

/// The plan: one forced redeploy per replicated service, each in its own batch, after the
/// checks on a snapshot taken now.
pub async fn plan(
    cluster: &Cluster,
    state: &SwarmState,
    r: &Rebalance,
) -> Result<Plan, SwarmError> {
    // Lost quorum is explained with the figures as for every change, before anything else.
    super::actions::anchor(state)?;
    let snap = cluster.snapshot().await;
    let review = review(&snap, &r.services)?;
    let mut out = Plan {
        steps: Vec::new(),
        notes: review.notes,
    };
    for name in review.redeploy {
        let change = ServiceChange {
            service: name,
            edit: ServiceEdit::Update(SpecUpdate {
                force: true,
                ..Default::default()
            }),
        };
        let p = service::plan(cluster, state, &change).await?;
        let batch = out.steps.len();
        out.steps.extend(p.steps.into_iter().map(|mut s| {
            s.batch = batch;
            s
        }));
        out.notes.extend(p.notes);
    }
    if out.steps.is_empty() {
        out.notes
            .push("nothing to redeploy: no replicated service among those named".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn swarm() -> ClusterSnapshot {
        let mut snap = crate::snapshot::demo();
        let usable: Vec<String> = snap
            .nodes
            .iter()
            .filter(|n| n.is_ready() && n.availability == crate::snapshot::Availability::Active)
            .map(|n| n.id.clone())
            .collect();
        snap.services = vec![
            serde_json::from_value(json!({"id": "s1", "name": "web", "mode": "replicated",
                "desired": 4}))
            .unwrap(),
            serde_json::from_value(json!({"id": "s2", "name": "agent", "mode": "global",
                "desired": 3}))
            .unwrap(),
            serde_json::from_value(json!({"id": "s3", "name": "db", "mode": "replicated",
                "desired": 1}))
            .unwrap(),
        ];
        snap.tasks = (0..4)
            .map(|i| {
                serde_json::from_value(json!({"id": format!("t{i}"), "service_id": "s1",
                    "slot": i + 1, "node_id": usable[i % 2], "desired_state": "running",
                    "state": "running"}))
                .unwrap()
            })
            .collect();
        snap
    }

    fn names(v: &[String]) -> Vec<String> {
        v.to_vec()
    }

    #[test]
    fn global_services_are_skipped_and_a_single_stop_first_replica_warns() {
        let snap = swarm();
        let asked = names(&["web".into(), "agent".into(), "db".into()]);
        let r = review(&snap, &asked).unwrap();
        assert_eq!(r.redeploy, ["web", "db"]);
        let notes = r.notes.join("\n");
        assert!(
            notes.contains("agent is a global service: skipped"),
            "{notes}"
        );
        assert!(notes.contains("web: 4 replica(s) running: 2 on"), "{notes}");
        assert!(notes.contains("run(s) none and may take some"), "{notes}");
        assert!(
            notes.contains("warning: db has 1 replica(s) and replaces tasks stop-first"),
            "{notes}"
        );
        assert!(!notes.contains("warning: web"), "{notes}");
    }

    #[test]
    fn a_single_replica_updated_start_first_does_not_warn() {
        let mut snap = swarm();
        snap.services[2].update_config = Some(crate::snapshot::workloads::UpdatePolicy {
            order: "start-first".into(),
            ..Default::default()
        });
        let r = review(&snap, &["db".into()]).unwrap();
        assert!(!r.notes.iter().any(|n| n.starts_with("warning")), "{r:?}");
    }

    #[test]
    fn lost_quorum_is_refused_with_the_numbers_and_unknown_services_are_named() {
        let mut snap = swarm();
        let managers: Vec<usize> = snap
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.role == crate::snapshot::Role::Manager)
            .map(|(i, _)| i)
            .collect();
        let n = managers.len();
        for i in &managers[..n - quorum::majority(n) + 1] {
            snap.nodes[*i].reachability = Some(crate::snapshot::states::Reachability::Unreachable);
        }
        let err = review(&snap, &["web".into()]).unwrap_err().to_string();
        let reachable = snap.managers().iter().filter(|m| m.reachable).count();
        assert!(reachable < quorum::majority(n));
        assert!(
            err.contains(&format!(
                "refused: {reachable} of {n} manager(s) are reachable and {} are needed",
                quorum::majority(n)
            )),
            "{err}"
        );
        // The managers' last list, kept while none answers: still refused with the numbers.
        snap.nodes_as_of = Some(1);
        let stale = review(&snap, &["web".into()]).unwrap_err().to_string();
        assert!(stale.contains("refused: "), "{stale}");
        let mut unread = swarm();
        unread.nodes_as_of = Some(1);
        assert!(matches!(
            review(&unread, &["web".into()]),
            Err(SwarmError::NoManager)
        ));
        let err = review(&swarm(), &["nope".into()]).unwrap_err().to_string();
        assert!(err.contains("no service \"nope\""), "{err}");
    }
}
