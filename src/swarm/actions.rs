//! Node actions checked against quorum, and the lost-quorum diagnosis and recovery plan.
//! Pure: the quorum arithmetic is [`crate::quorum`]'s; this decides what to run where.

use std::collections::BTreeSet;

use crate::quorum::{self, Assessment, Manager, ManagerAction, Verdict};
use crate::snapshot::Role;

use super::plan::{Action, Availability, OverlaySpec, Plan, Step};
use super::state::{HostFacts, SwarmState};
use super::{SwarmError, validate_name};

/// What `swarmdeck node …` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeOp {
    Promote,
    Demote,
    Drain,
    Pause,
    Activate,
    Remove,
}

impl NodeOp {
    pub fn verb(self) -> &'static str {
        match self {
            NodeOp::Promote => "promote",
            NodeOp::Demote => "demote",
            NodeOp::Drain => "drain",
            NodeOp::Pause => "pause",
            NodeOp::Activate => "activate",
            NodeOp::Remove => "remove",
        }
    }
}

/// The manager host that answers for the cluster, or why there is none.
pub(crate) fn anchor(state: &SwarmState) -> Result<&str, SwarmError> {
    // A manager may still list a stale view after losing quorum: check the figures too.
    match (&state.answered_by, lost_quorum(state)) {
        (_, Some(report)) => Err(SwarmError::QuorumLost(report.explain())),
        (Some(h), None) => Ok(h),
        (None, None) => Err(state.no_manager()),
    }
}

/// The plan for one node action, refused when it would lose quorum unless `force`.
/// `node` is best the node's ID (what the app sends); a hostname that several nodes share
/// is refused (see [`SwarmState::resolve_node`]).
pub fn node_action(
    state: &SwarmState,
    node: &str,
    op: NodeOp,
    force: bool,
) -> Result<Plan, SwarmError> {
    validate_name("node", node)?;
    let at = anchor(state)?;
    let n = state.resolve_node(node)?;
    // Steps act by ID; the name is what their docker command and description show.
    let (id, name) = (n.id.clone(), n.cli_name_among(&state.nodes).to_string());
    let label = n.label_among(&state.nodes);
    let managers = state.managers();
    let mut plan = Plan::default();
    let quorum_check = |action| match quorum::check_manager_action(&managers, &label, action) {
        Err(refusal) if !force => Err(SwarmError::Quorum(refusal)),
        Err(refusal) => Ok(Some(format!("forced: {refusal}"))),
        Ok(_) => Ok(None),
    };
    let step = |a: Action| Step::new(at, a, 0);
    match op {
        NodeOp::Promote if n.role == Role::Manager => {
            plan.notes.push(format!("{label} is already a manager"))
        }
        NodeOp::Promote => plan.steps.push(step(Action::Promote { node_id: id, name })),
        NodeOp::Demote if n.role == Role::Worker => {
            plan.notes.push(format!("{label} is already a worker"))
        }
        NodeOp::Demote => {
            plan.notes.extend(quorum_check(ManagerAction::Demote)?);
            plan.steps.push(step(Action::Demote { node_id: id, name }));
        }
        NodeOp::Drain | NodeOp::Pause | NodeOp::Activate => {
            let availability = match op {
                NodeOp::Drain => Availability::Drain,
                NodeOp::Pause => Availability::Pause,
                _ => Availability::Active,
            };
            if n.availability == availability {
                plan.notes
                    .push(format!("{label} is already {availability}"));
            } else {
                plan.steps.push(step(Action::SetAvailability {
                    node_id: id,
                    name,
                    availability,
                }));
            }
        }
        NodeOp::Remove => {
            let manager = n.role == Role::Manager;
            if manager {
                plan.notes.extend(quorum_check(ManagerAction::Remove)?);
                // Docker refuses to remove a manager: demote it first.
                plan.steps.push(step(Action::Demote {
                    node_id: id.clone(),
                    name: name.clone(),
                }));
            }
            // Docker removes only nodes that are down unless forced.
            let force_rm = force;
            plan.steps.push(Step {
                batch: 1,
                ..step(Action::RemoveNode {
                    node_id: id,
                    name,
                    force: force_rm,
                })
            });
        }
    }
    Ok(plan)
}

/// `docker swarm leave` on an inventory host, refused if it would lose quorum.
pub fn leave(state: &SwarmState, host: &str, force: bool) -> Result<Plan, SwarmError> {
    let h = state.host(host).ok_or_else(|| SwarmError::UnknownNode {
        node: host.to_string(),
        known: state.host_names(),
    })?;
    let mut plan = Plan::default();
    if !h.is_member() {
        plan.notes.push(format!("{host} is not in a swarm"));
        return Ok(plan);
    }
    let node = state.node_of(h);
    let is_manager = node
        .map(|n| n.role == Role::Manager)
        .unwrap_or(h.control_available);
    if is_manager {
        let name = node
            .map(|n| n.label_among(&state.nodes))
            .unwrap_or_else(|| host.to_string());
        match quorum::check_manager_action(&state.managers(), &name, ManagerAction::Leave) {
            Err(r) if !force => return Err(SwarmError::Quorum(r)),
            Err(r) => plan.notes.push(format!("forced: {r}")),
            Ok(_) => {}
        }
    }
    plan.steps
        .push(Step::new(host, Action::Leave { force: is_manager }, 0));
    Ok(plan)
}

/// Why the swarm cannot be managed: managers known, which are alive, and the figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumReport {
    pub managers: Vec<Manager>,
    pub assessment: Assessment,
    /// Inventory hosts that are still-running managers.
    pub survivors: Vec<String>,
    /// The managers' own error, e.g. "The swarm does not have a leader".
    pub api_error: Option<String>,
}

impl QuorumReport {
    pub fn explain(&self) -> String {
        let a = &self.assessment;
        let down: Vec<&str> = self
            .managers
            .iter()
            .filter(|m| !m.reachable)
            .map(|m| m.name.as_str())
            .collect();
        let mut s = format!(
            "{}: {} managers, {} reachable, {} needed for a majority (unreachable: {})",
            a.verdict.describe(),
            a.members,
            a.alive,
            a.majority,
            if down.is_empty() {
                "none".into()
            } else {
                down.join(", ")
            }
        );
        if let Some(e) = &self.api_error {
            s.push_str(&format!("; the managers say: {e}"));
        }
        if a.verdict == Verdict::Lost {
            s.push_str(
                ". Running services keep running, but nothing can be changed. Bring the \
                 managers back if you can; otherwise `swarmdeck recover` makes a surviving \
                 manager the only manager of a new cluster that keeps the swarm's state",
            );
        }
        s
    }
}

/// A host that is (or was, before quorum loss) a manager: it lists itself among the managers.
fn is_manager_host(h: &HostFacts) -> bool {
    h.is_member()
        && (h.control_available
            || h.node_id
                .as_deref()
                .is_some_and(|id| h.remote_managers.iter().any(|(m, _)| m == id)))
}

fn ip_of(addr: &str) -> &str {
    addr.rsplit_once(':').map(|(ip, _)| ip).unwrap_or(addr)
}

/// Diagnoses lost quorum: from the node list if a manager could list it, else from the
/// managers that surviving hosts know (`Swarm.RemoteManagers`). None when quorum holds or
/// there is no swarm.
pub fn lost_quorum(state: &SwarmState) -> Option<QuorumReport> {
    let report = quorum_report(state)?;
    (report.assessment.verdict == Verdict::Lost).then_some(report)
}

/// The quorum figures of the swarm, healthy or not. None without managers.
pub fn quorum_report(state: &SwarmState) -> Option<QuorumReport> {
    let survivors: Vec<&HostFacts> = state.hosts.iter().filter(|h| is_manager_host(h)).collect();
    let api_error = state
        .manager_errors
        .first()
        .map(|(h, e)| format!("{h}: {e}"));
    let managers = if state.answered_by.is_some() {
        state.managers()
    } else {
        // Every manager any survivor knows, alive when a surviving host advertises it.
        let alive: BTreeSet<&str> = survivors
            .iter()
            .filter_map(|h| h.node_addr.as_deref())
            .map(ip_of)
            .collect();
        let mut seen = BTreeSet::new();
        survivors
            .iter()
            .flat_map(|h| h.remote_managers.iter())
            .filter(|(id, _)| seen.insert(id.clone()))
            .map(|(id, addr)| Manager {
                name: name_for(state, id, addr),
                reachable: alive.contains(ip_of(addr)),
                zone: None,
            })
            .collect()
    };
    if managers.is_empty() {
        return None;
    }
    let assessment = quorum::assess(&managers, &Default::default());
    Some(QuorumReport {
        managers,
        assessment,
        survivors: survivors.iter().map(|h| h.host.clone()).collect(),
        api_error,
    })
}

/// A readable name for a manager peer: the inventory host with that node id or address.
fn name_for(state: &SwarmState, id: &str, addr: &str) -> String {
    state
        .hosts
        .iter()
        .find(|h| {
            h.node_id.as_deref() == Some(id)
                || h.node_addr.as_deref().map(ip_of) == Some(ip_of(addr))
                || h.advertise.as_deref() == Some(ip_of(addr))
        })
        .map(|h| h.host.clone())
        .unwrap_or_else(|| ip_of(addr).to_string())
}

/// The recovery plan after lost quorum: `--force-new-cluster` on the first surviving
/// manager. Empty (with a note) when quorum holds.
pub fn recovery(state: &SwarmState) -> Result<Plan, SwarmError> {
    let mut plan = Plan::default();
    let Some(report) = lost_quorum(state) else {
        let note = match quorum_report(state) {
            Some(r) => format!("nothing to recover: {}", r.explain()),
            None => "nothing to recover: no swarm managers found".into(),
        };
        plan.notes.push(note);
        return Ok(plan);
    };
    let host = report
        .survivors
        .first()
        .and_then(|s| state.host(s))
        .ok_or_else(|| {
            SwarmError::QuorumLost(format!(
                "{}; and no manager in the inventory is still running, so there is nothing to \
                 recover from: restore a manager's /var/lib/docker/swarm from a backup",
                report.explain()
            ))
        })?;
    let advertise = host
        .node_addr
        .as_deref()
        .map(|a| ip_of(a).to_string())
        .or_else(|| host.advertise.clone())
        .ok_or_else(|| SwarmError::NoManager)?;
    plan.notes.push(report.explain());
    plan.notes.push(format!(
        "after recovery {} is the only manager; promote other nodes to get back to 3 or 5 \
         managers, and make the old managers leave (`docker swarm leave --force`) and join again",
        host.host
    ));
    // Without quorum no manager can say whether the swarm was autolocked, and the engine
    // takes the forced new cluster's spec as the whole truth.
    plan.notes.push(format!(
        "{}if the swarm was autolocked, the new cluster is not: check with `docker info -f \
         '{{{{.Swarm.Cluster.Spec.EncryptionConfig.AutoLockManagers}}}}'` on {} and turn it \
         on again with `docker swarm update --autolock=true` (a new unlock key: keep it)",
        super::plan::WARNING,
        host.host
    ));
    plan.steps.push(Step::new(
        &host.host,
        Action::ForceNewCluster {
            advertise,
            autolock: false,
        },
        0,
    ));
    Ok(plan)
}

/// Creating an overlay: one step on the manager that answers, or a note when a network of
/// that name already exists (nothing to do).
pub fn create_network(state: &SwarmState, spec: OverlaySpec) -> Result<Plan, SwarmError> {
    validate_name("network", &spec.name)?;
    let at = anchor(state)?;
    let mut plan = Plan::default();
    match state.networks.iter().find(|n| n.name == spec.name) {
        Some(n) => plan.notes.push(format!(
            "network {} already exists ({} driver)",
            spec.name, n.driver
        )),
        None => plan
            .steps
            .push(Step::new(at, Action::CreateOverlay(spec), 0)),
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{NodeInfo, NodeState, Reachability};
    use crate::swarm::state::LocalState;

    fn host(i: usize, manager: bool) -> HostFacts {
        HostFacts {
            engine_name: Some(format!("node{i}")),
            state: LocalState::Active,
            node_id: Some(format!("id{i}")),
            node_addr: Some(format!("10.0.0.{i}")),
            control_available: manager,
            cluster_id: manager.then(|| "c".into()),
            remote_managers: (1..=3)
                .map(|j| (format!("id{j}"), format!("10.0.0.{j}:2377")))
                .collect(),
            advertise: Some(format!("10.0.0.{i}")),
            ..HostFacts::new(format!("node{i}"), format!("root@10.0.0.{i}"))
        }
    }

    fn node(i: usize, role: Role, reachable: bool) -> NodeInfo {
        NodeInfo {
            id: format!("id{i}"),
            hostname: format!("node{i}"),
            role,
            leader: i == 1,
            reachability: (role == Role::Manager).then_some(if reachable {
                Reachability::Reachable
            } else {
                Reachability::Unreachable
            }),
            availability: Availability::Active,
            state: if reachable {
                NodeState::Ready
            } else {
                NodeState::Down
            },
            address: format!("10.0.0.{i}"),
            engine_version: "20.10".into(),
            labels: Default::default(),
            observed_down: None,
            scheduling: Default::default(),
        }
    }

    fn three_managers(node3_up: bool) -> SwarmState {
        SwarmState {
            hosts: (1..=3).map(|i| host(i, true)).collect(),
            nodes: vec![
                node(1, Role::Manager, true),
                node(2, Role::Manager, true),
                node(3, Role::Manager, node3_up),
            ],
            answered_by: Some("node1".into()),
            ..Default::default()
        }
    }

    #[test]
    fn demote_that_loses_quorum_is_refused_unless_forced() {
        let s = three_managers(false);
        let e = node_action(&s, "node2", NodeOp::Demote, false).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("1 reachable of 2") && msg.contains("--force"),
            "{msg}"
        );
        let p = node_action(&s, "node2", NodeOp::Demote, true).unwrap();
        assert_eq!(p.steps[0].cli, "docker node demote node2");
        assert!(p.notes[0].starts_with("forced"));
        // With all three up it is fine.
        assert!(node_action(&three_managers(true), "node2", NodeOp::Demote, false).is_ok());
    }

    #[test]
    fn remove_manager_demotes_first_and_availability_steps() {
        let s = three_managers(true);
        let p = node_action(&s, "node3", NodeOp::Remove, false).unwrap();
        let c: Vec<&str> = p.steps.iter().map(|s| s.cli.as_str()).collect();
        assert_eq!(c, vec!["docker node demote node3", "docker node rm node3"]);
        let p = node_action(&s, "node2", NodeOp::Drain, false).unwrap();
        assert_eq!(
            p.steps[0].cli,
            "docker node update --availability drain node2"
        );
        assert_eq!(p.steps[0].host, "node1");
        assert!(
            node_action(&s, "node2", NodeOp::Activate, false)
                .unwrap()
                .is_empty()
        );
        assert!(matches!(
            node_action(&s, "nodeX", NodeOp::Drain, false),
            Err(SwarmError::UnknownNode { .. })
        ));
        assert!(matches!(
            node_action(&s, "x;id", NodeOp::Drain, false),
            Err(SwarmError::InvalidName { .. })
        ));
    }

    #[test]
    fn cloned_hostnames_are_acted_on_by_id_and_refused_by_name() {
        let mut s = three_managers(true);
        let mut w = node(4, Role::Worker, true);
        w.hostname = "node3".into();
        w.id = "id4-cloned-vm".into();
        s.nodes.push(w);
        // The hostname alone is ambiguous: refused, with both IDs to choose from.
        let e = node_action(&s, "node3", NodeOp::Drain, false).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, SwarmError::AmbiguousNode { .. }), "{msg}");
        assert!(
            msg.contains("id3 (") && msg.contains("id4-cloned-vm ("),
            "{msg}"
        );
        // By ID: that node, and the docker command names it by ID too.
        let p = node_action(&s, "id4-cloned-vm", NodeOp::Drain, false).unwrap();
        assert_eq!(
            p.steps[0].action,
            Action::SetAvailability {
                node_id: "id4-cloned-vm".into(),
                name: "id4-cloned-vm".into(),
                availability: Availability::Drain,
            }
        );
        assert_eq!(
            p.steps[0].cli,
            "docker node update --availability drain id4-cloned-vm"
        );
        // Quorum figures count the manager named node3, not the worker of that name.
        let p = node_action(&s, "id3", NodeOp::Demote, false).unwrap();
        assert_eq!(p.steps[0].cli, "docker node demote id3");
        let one_down = {
            let mut s = s.clone();
            s.nodes[1].reachability = Some(Reachability::Unreachable);
            s
        };
        let e = node_action(&one_down, "id3", NodeOp::Demote, false).unwrap_err();
        assert!(e.to_string().contains("manager node3 (id3)"), "{e}");
        // A unique ID prefix still works; one that fits several nodes is refused.
        assert_eq!(
            node_action(&s, "id4-", NodeOp::Drain, false).unwrap().steps[0].cli,
            "docker node update --availability drain id4-cloned-vm"
        );
        s.nodes[0].id = "id4-other".into();
        assert!(matches!(
            node_action(&s, "id4-", NodeOp::Drain, false),
            Err(SwarmError::AmbiguousNode { .. })
        ));
    }

    #[test]
    fn last_manager_may_not_leave() {
        let mut s = three_managers(true);
        s.nodes.truncate(1);
        s.hosts.truncate(1);
        assert!(matches!(
            leave(&s, "node1", false),
            Err(SwarmError::Quorum(_))
        ));
        assert_eq!(
            leave(&s, "node1", true).unwrap().steps[0].cli,
            "docker swarm leave --force"
        );
    }

    #[test]
    fn two_of_three_down_is_lost_and_recovery_targets_the_survivor() {
        let mut s = three_managers(true);
        s.nodes.clear();
        s.answered_by = None;
        s.manager_errors = vec![("node1".into(), "The swarm does not have a leader".into())];
        for h in &mut s.hosts[1..] {
            h.state = LocalState::Unreachable("dockerd down".into());
        }
        let r = lost_quorum(&s).expect("lost");
        assert_eq!(
            (
                r.assessment.members,
                r.assessment.alive,
                r.assessment.majority
            ),
            (3, 1, 2)
        );
        assert_eq!(r.survivors, vec!["node1"]);
        let text = r.explain();
        assert!(
            text.contains("node2, node3") && text.contains("does not have a leader"),
            "{text}"
        );
        let p = recovery(&s).unwrap();
        assert_eq!(p.steps.len(), 1);
        assert_eq!(p.steps[0].host, "node1");
        assert_eq!(
            p.steps[0].cli,
            "docker swarm init --force-new-cluster --advertise-addr 10.0.0.1"
        );
        // Node actions explain the loss instead of failing obscurely.
        let e = node_action(&s, "node2", NodeOp::Drain, false).unwrap_err();
        assert!(matches!(e, SwarmError::QuorumLost(_)), "{e}");
        // Healthy swarm: nothing to recover.
        let p = recovery(&three_managers(true)).unwrap();
        assert!(p.is_empty() && p.notes[0].starts_with("nothing to recover"));
        // After --force-new-cluster the old managers keep their role but are no Raft
        // members (no manager status): they do not count.
        let mut after = three_managers(true);
        for n in &mut after.nodes[1..] {
            n.reachability = None;
            n.state = NodeState::Down;
        }
        let r = quorum_report(&after).unwrap();
        assert_eq!((r.assessment.members, r.assessment.alive), (1, 1));
        assert!(recovery(&after).unwrap().is_empty());
    }
}
