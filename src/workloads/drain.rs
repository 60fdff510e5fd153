//! What draining a node would do to its tasks, before it is done: each task that would
//! leave the node, and whether swarm's scheduler could place it elsewhere, judged by the
//! same filters that explain a pending task ([`super::pending::explain`]) on the swarm as
//! it would be with the node drained. Pure: computed from a snapshot.

use serde::Serialize;

use super::pending::{PendingReason, explain};
use crate::snapshot::workloads::ServiceMode;
use crate::snapshot::{ClusterSnapshot, TaskInfo, TaskState};

/// One task a drain would take off the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Move {
    pub task_id: String,
    /// The task as the docker CLI names it, e.g. `web.2`.
    pub task: String,
    /// Where it could run instead: the nodes the scheduler would accept, least loaded
    /// with the service first. Empty with a `stuck` reason when none would.
    pub places: Vec<String>,
    /// Why no node would take it: it would stay pending after the drain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stuck: Option<PendingReason>,
    /// A global service's task stops with the drain and is not placed anywhere else.
    pub stops: bool,
}

/// The tasks draining `node_id` would move, in the order of their services' names. Tasks
/// are placed one after the other on the node they would most likely go to (the one with
/// the fewest of the service's tasks), so resources, host ports and replicas per node
/// taken by one move count for the next.
pub fn preview(snap: &ClusterSnapshot, node_id: &str) -> Vec<Move> {
    // The swarm as the scheduler would see it: without the node (a drained node takes no
    // task, and naming it among the reasons would only say so again).
    let mut after = snap.clone();
    after.nodes.retain(|n| n.id != node_id);
    let mut leaving: Vec<TaskInfo> = snap
        .tasks
        .iter()
        .filter(|t| t.node_id.as_deref() == Some(node_id) && t.is_active())
        .cloned()
        .collect();
    let service_name = |t: &TaskInfo| {
        snap.services
            .iter()
            .find(|s| s.id == t.service_id)
            .map(|s| (s.name.clone(), s.mode))
    };
    leaving.sort_by_key(|t| (service_name(t).map(|(n, _)| n), t.slot));
    // The tasks leave the node first: what they hold there is free for nobody else.
    after
        .tasks
        .retain(|t| !leaving.iter().any(|l| l.id == t.id));
    leaving
        .iter()
        .filter_map(|t| {
            let (name, mode) = service_name(t)?;
            let task = match t.slot {
                Some(slot) => format!("{name}.{slot}"),
                None => name.clone(),
            };
            if mode == ServiceMode::Global {
                return Some(Move {
                    task_id: t.id.clone(),
                    task,
                    places: Vec::new(),
                    stuck: None,
                    stops: true,
                });
            }
            Some(place(&mut after, t, task))
        })
        .collect()
}

/// Where `t` could go in `after`; when somewhere, it is put on the likeliest node.
fn place(after: &mut ClusterSnapshot, t: &TaskInfo, task: String) -> Move {
    let mut waiting = t.clone();
    waiting.node_id = None;
    waiting.state = TaskState::Pending;
    waiting.desired_state = TaskState::Running;
    let Some(reason) = explain(after, &waiting) else {
        return Move {
            task_id: t.id.clone(),
            task,
            places: Vec::new(),
            stuck: None,
            stops: false,
        };
    };
    let load = |node_id: &str| {
        after
            .tasks
            .iter()
            .filter(|x| x.service_id == t.service_id && x.node_id.as_deref() == Some(node_id))
            .filter(|x| x.is_active())
            .count()
    };
    let mut fitting: Vec<(usize, &str, String)> = reason
        .nodes
        .iter()
        .filter(|v| v.rejection.is_none())
        .map(|v| (load(&v.node_id), v.node_id.as_str(), v.node.clone()))
        .collect();
    fitting.sort();
    if fitting.is_empty() {
        return Move {
            task_id: t.id.clone(),
            task,
            places: Vec::new(),
            stuck: Some(reason),
            stops: false,
        };
    }
    let mut placed = t.clone();
    placed.node_id = Some(fitting[0].1.to_string());
    placed.state = TaskState::Running;
    let places = fitting.into_iter().map(|(_, _, name)| name).collect();
    after.tasks.push(placed);
    Move {
        task_id: t.id.clone(),
        task,
        places,
        stuck: None,
        stops: false,
    }
}

/// The preview as plan notes: one line per task, and a warning first when a task would
/// find no node.
pub fn notes(node: &str, moves: &[Move]) -> Vec<String> {
    if moves.is_empty() {
        return vec![format!("draining {node} moves no task: it runs none")];
    }
    let stuck = moves.iter().filter(|m| m.stuck.is_some()).count();
    let mut out = Vec::new();
    if stuck > 0 {
        out.push(format!(
            "{}after draining {node}, {stuck} task(s) would find no node and stay pending \
             (their service runs fewer replicas until that changes)",
            crate::swarm::plan::WARNING
        ));
    }
    out.push(format!("draining {node} moves {} task(s):", moves.len()));
    for m in moves {
        let line = match (&m.stuck, m.stops) {
            (_, true) => format!(
                "  {}: stops (a global service runs one task per node)",
                m.task
            ),
            (Some(r), _) => format!(
                "  {}: NO node can take it: {}. Fix: {}",
                m.task, r.summary, r.fix
            ),
            (None, _) => format!("  {}: can run on {}", m.task, m.places.join(", ")),
        };
        out.push(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn snapshot() -> ClusterSnapshot {
        let node = |id: &str, name: &str| {
            json!({"id": id, "hostname": name, "role": "worker", "leader": false,
                   "availability": "active", "state": "ready", "address": "10.0.0.1",
                   "engine_version": "20.10", "labels": {},
                   "scheduling": {"resources": {"nano_cpus": 2_000_000_000i64,
                                                "memory_bytes": 4_000_000_000i64}}})
        };
        let service = |id: &str, name: &str, mode: &str, constraints: Vec<&str>| json!({"id": id, "name": name, "mode": mode, "constraints": constraints});
        let task = |id: &str, svc: &str, slot: Option<u64>, node: &str| {
            json!({"id": id, "service_id": svc, "slot": slot, "node_id": node,
                   "desired_state": "running", "state": "running"})
        };
        let mut snap = ClusterSnapshot::empty("t");
        snap.nodes = ["n1", "n2", "n3"]
            .iter()
            .zip(["node1", "node2", "node3"])
            .map(|(id, name)| serde_json::from_value(node(id, name)).unwrap())
            .collect();
        snap.services = vec![
            serde_json::from_value(service("s1", "web", "replicated", vec![])).unwrap(),
            serde_json::from_value(service(
                "s2",
                "pinned",
                "replicated",
                vec!["node.hostname==node3"],
            ))
            .unwrap(),
            serde_json::from_value(service("s3", "agent", "global", vec![])).unwrap(),
        ];
        snap.tasks = vec![
            serde_json::from_value(task("t1", "s1", Some(1), "n3")).unwrap(),
            serde_json::from_value(task("t2", "s1", Some(2), "n1")).unwrap(),
            serde_json::from_value(task("t3", "s2", Some(1), "n3")).unwrap(),
            serde_json::from_value(task("t4", "s3", None, "n3")).unwrap(),
        ];
        snap
    }

    #[test]
    fn a_task_pinned_to_the_drained_node_is_flagged_and_the_others_find_places() {
        let moves = preview(&snapshot(), "n3");
        let by_task = |name: &str| moves.iter().find(|m| m.task == name).unwrap();
        assert_eq!(moves.len(), 3);
        // web.1 goes where web has fewest tasks: node2 (node1 runs web.2).
        assert_eq!(by_task("web.1").places, ["node2", "node1"]);
        let pinned = by_task("pinned.1");
        assert!(pinned.places.is_empty());
        let reason = pinned.stuck.as_ref().expect("pinned.1 has nowhere to go");
        assert!(
            reason.summary.contains("node.hostname==node3"),
            "{}",
            reason.summary
        );
        assert!(by_task("agent").stops);
        let notes = notes("node3", &moves);
        assert!(
            notes[0].starts_with("WARNING: after draining node3, 1 task(s)"),
            "{notes:?}"
        );
        assert!(
            notes
                .iter()
                .any(|n| n.contains("pinned.1: NO node can take it"))
        );
    }

    #[test]
    fn draining_an_idle_node_moves_nothing() {
        let moves = preview(&snapshot(), "n2");
        assert!(moves.is_empty());
        assert_eq!(
            notes("node2", &moves),
            ["draining node2 moves no task: it runs none"]
        );
    }

    #[test]
    fn moves_count_against_each_other() {
        // web with at most one task per node: web.1 leaving node3 can only go to node2.
        let mut snap = snapshot();
        snap.services[0].max_replicas_per_node = Some(1);
        let moves = preview(&snap, "n3");
        let web = moves.iter().find(|m| m.task == "web.1").unwrap();
        assert_eq!(web.places, ["node2"]);
    }
}
