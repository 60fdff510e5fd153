//! A rollout as users watch it: per slot (or per node, for global services) the task
//! being replaced and the task replacing it, by node, with state and error; how many
//! slots run the new spec; and whether swarm paused, rolled back or completed it.
//! [`progress`] is pure; [`follow`] reads one service and its tasks (`GET
//! /tasks?filters=service=ID`) about once a second until the rollout ends or a deadline.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{Service, Task, TaskSpec};
use bollard::query_parameters::{ListNodesOptions, ListTasksOptions};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::snapshot::TaskState;
use crate::snapshot::workloads::{UpdateStatus, task_from_api};

/// One task of the service, as the progress needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutTask {
    pub id: String,
    pub slot: Option<u64>,
    pub node_id: Option<String>,
    pub image: String,
    pub state: TaskState,
    pub desired_state: TaskState,
    pub error: Option<String>,
    /// When it was created (RFC 3339): orders a slot's tasks.
    pub created_at: String,
    /// Its spec is the service's current one (swarm's own test for "updated").
    pub current: bool,
}

impl RolloutTask {
    fn wanted(&self) -> bool {
        self.desired_state.rank() <= TaskState::Running.rank()
    }
}

/// A task as shown in a slot row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskView {
    pub id: String,
    pub image: String,
    pub state: String,
    /// The node's hostname (its ID when the node is gone), empty while unplaced.
    pub node: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One slot: what ran there before, what runs (or tries to) now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlotProgress {
    /// The slot number, or the node's name for a global service.
    pub slot: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<TaskView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<TaskView>,
    /// A task of the current spec runs here.
    pub updated: bool,
}

/// Where the rollout is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    InProgress,
    /// Swarm paused it (failure action "pause"): the reason, with the tasks' error.
    Paused {
        reason: String,
    },
    /// Swarm rolled it back after a failure (failure action "rollback").
    RolledBack {
        reason: String,
    },
    /// Every slot runs the current spec.
    Completed,
}

impl Phase {
    pub fn is_over(&self) -> bool {
        !matches!(self, Phase::InProgress)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RolloutProgress {
    pub service: String,
    pub image: String,
    pub slots: Vec<SlotProgress>,
    pub updated: usize,
    pub total: usize,
    #[serde(flatten)]
    pub phase: Phase,
    /// Swarm's update state and message as it says them ("updating", "paused", …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_status: Option<UpdateStatus>,
}

impl RolloutProgress {
    /// One line: "web: 2/3 updated (updating)".
    pub fn summary(&self) -> String {
        use crate::untrusted::visible;
        let state = match &self.phase {
            Phase::InProgress => self
                .update_status
                .as_ref()
                .map_or("in progress".to_string(), |u| {
                    visible(&u.state).into_owned()
                }),
            Phase::Paused { reason } => format!("PAUSED: {}", visible(reason)),
            Phase::RolledBack { reason } => format!("ROLLED BACK: {}", visible(reason)),
            Phase::Completed => "completed".into(),
        };
        format!(
            "{}: {}/{} updated ({state})",
            visible(&self.service),
            self.updated,
            self.total
        )
    }
}

/// What the service says of itself, for [`progress`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceView {
    pub name: String,
    /// The image of the current spec.
    pub image: String,
    /// Replicas wanted; `None` for global services.
    pub replicas: Option<u64>,
    pub update_status: Option<UpdateStatus>,
    /// This rollout is a rollback (a completed rollback is then what was asked).
    pub rollback: bool,
}

/// The rollout's progress from the service, its tasks and the node names (pure).
pub fn progress(
    service: &ServiceView,
    tasks: &[RolloutTask],
    node_names: &BTreeMap<String, String>,
) -> RolloutProgress {
    let mut by_slot: BTreeMap<(u64, String), Vec<&RolloutTask>> = BTreeMap::new();
    for t in tasks {
        let key = match (t.slot, &t.node_id) {
            (Some(s), _) => (s, String::new()),
            (None, Some(n)) => (0, node_name(node_names, n)),
            (None, None) => continue,
        };
        by_slot.entry(key).or_default().push(t);
    }
    let mut slots = Vec::new();
    for ((slot, node), mut ts) in by_slot {
        ts.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        if let Some(row) = slot_row(&ts, node_names) {
            let name = if node.is_empty() {
                slot.to_string()
            } else {
                node
            };
            slots.push(SlotProgress { slot: name, ..row });
        }
    }
    let updated = slots.iter().filter(|s| s.updated).count();
    let total = match service.replicas {
        Some(r) => (r as usize).max(slots.len()),
        None => slots.len(),
    };
    let phase = phase(service, &slots, updated, total);
    RolloutProgress {
        service: service.name.clone(),
        image: service.image.clone(),
        slots,
        updated,
        total,
        phase,
        update_status: service.update_status.clone(),
    }
}

fn node_name(names: &BTreeMap<String, String>, id: &str) -> String {
    names.get(id).cloned().unwrap_or_else(|| id.to_string())
}

fn view(t: &RolloutTask, names: &BTreeMap<String, String>) -> TaskView {
    TaskView {
        id: t.id.clone(),
        image: t.image.clone(),
        state: t.state.as_str().to_string(),
        node: t
            .node_id
            .as_deref()
            .map(|n| node_name(names, n))
            .unwrap_or_default(),
        error: t.error.clone(),
    }
}

/// A slot's row from its tasks, oldest first; `None` for a slot nothing is wanted in
/// any more (scaled down) and no new task failed.
fn slot_row(ts: &[&RolloutTask], names: &BTreeMap<String, String>) -> Option<SlotProgress> {
    let new = ts
        .iter()
        .rev()
        .filter(|t| t.current)
        .find(|t| t.wanted())
        .or_else(|| ts.iter().rev().find(|t| t.current && t.error.is_some()));
    let old = ts
        .iter()
        .rev()
        .filter(|t| !t.current)
        .find(|t| t.wanted())
        .or_else(|| ts.iter().rev().find(|t| !t.current));
    let live = ts.iter().any(|t| t.wanted());
    if !live && new.is_none() {
        return None;
    }
    Some(SlotProgress {
        slot: String::new(),
        updated: new.is_some_and(|t| t.state == TaskState::Running && t.wanted()),
        old: old.map(|t| view(t, names)),
        new: new.map(|t| view(t, names)),
    })
}

fn phase(service: &ServiceView, slots: &[SlotProgress], updated: usize, total: usize) -> Phase {
    let (state, message) = service
        .update_status
        .as_ref()
        .map_or(("", ""), |u| (u.state.as_str(), u.message.as_str()));
    let with_error = |message: &str| {
        let err = slots
            .iter()
            .filter_map(|s| s.new.as_ref()?.error.as_deref())
            .next();
        match err {
            Some(e) if !message.contains(e) => format!("{message} (task error: {e})"),
            _ => message.to_string(),
        }
    };
    match state {
        "paused" | "rollback_paused" => {
            return Phase::Paused {
                reason: with_error(message),
            };
        }
        "rollback_completed" if !service.rollback => {
            return Phase::RolledBack {
                reason: with_error(message),
            };
        }
        _ => {}
    }
    let old_left = slots
        .iter()
        .any(|s| s.old.as_ref().is_some_and(|o| o.state == "running") && !s.updated);
    let settling = matches!(state, "updating" | "rollback_started");
    if updated == total && !old_left && !settling {
        Phase::Completed
    } else {
        Phase::InProgress
    }
}

// ---- reading the service ------------------------------------------------------------

/// The service's view and tasks from the Engine API models (pure).
pub fn from_api(
    service: &Service,
    tasks: &[Task],
    rollback: bool,
) -> (ServiceView, Vec<RolloutTask>) {
    let spec = service.spec.as_ref();
    let template = spec.and_then(|s| s.task_template.as_ref());
    let image_of = |t: Option<&bollard::models::TaskSpec>| {
        t.and_then(|t| t.container_spec.as_ref())
            .and_then(|c| c.image.clone())
            .unwrap_or_default()
    };
    let view = ServiceView {
        name: spec.and_then(|s| s.name.clone()).unwrap_or_default(),
        image: image_of(template),
        replicas: spec
            .and_then(|s| s.mode.as_ref())
            .and_then(|m| m.replicated.as_ref())
            .map(|r| r.replicas.unwrap_or(1).max(0) as u64),
        update_status: service.update_status.as_ref().map(|u| UpdateStatus {
            state: u.state.map(|s| s.to_string()).unwrap_or_default(),
            message: u.message.clone().unwrap_or_default(),
        }),
        rollback,
    };
    let tasks = tasks
        .iter()
        .map(|t| {
            let info = task_from_api(t);
            RolloutTask {
                id: info.id,
                slot: info.slot,
                node_id: info.node_id,
                image: image_of(t.spec.as_ref()),
                state: info.state,
                desired_state: info.desired_state,
                error: info.error,
                created_at: t.created_at.clone().unwrap_or_default(),
                current: same_spec(t.spec.as_ref(), template),
            }
        })
        .collect();
    (view, tasks)
}

/// Whether a task runs its service's current spec: swarm's own test, on the API's
/// rendering of both. A task's spec as the engine returns it lacks the service's restart
/// policy and runtime, and the stop grace period when it is the default, and leaves out
/// what is empty: those are set aside (a change of only the restart policy or grace
/// period is therefore not followed task by task).
pub fn same_spec(task: Option<&TaskSpec>, service: Option<&TaskSpec>) -> bool {
    let norm = |t: Option<&TaskSpec>| {
        let mut v = serde_json::to_value(t).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.remove("RestartPolicy");
            o.remove("Runtime");
            if let Some(c) = o.get_mut("ContainerSpec").and_then(|c| c.as_object_mut()) {
                c.remove("StopGracePeriod");
            }
        }
        prune(&mut v);
        v
    };
    norm(task) == norm(service)
}

/// Removes nulls, zeros, `false` and empty objects and arrays, so an absent field and an
/// empty one compare equal.
fn prune(v: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Object(o) => {
            o.retain(|_, x| !prune(x));
            o.is_empty()
        }
        Value::Array(a) => {
            for x in a.iter_mut() {
                prune(x);
            }
            a.is_empty()
        }
        Value::Null => true,
        Value::Bool(b) => !*b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
    }
}

/// Why following stopped before the rollout ended.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error("{host}: cannot read service {service}: {message}")]
    Read {
        host: String,
        service: String,
        message: String,
    },
    #[error("still rolling out after {secs} s; stopped waiting ({last})")]
    Deadline { secs: u64, last: String },
    #[error("stopped waiting on request; the rollout goes on ({last})")]
    Cancelled { last: String },
}

/// Reads the service and its tasks once.
pub async fn read(
    d: &Docker,
    host: &str,
    service_id: &str,
    rollback: bool,
    node_names: &BTreeMap<String, String>,
) -> Result<RolloutProgress, FollowError> {
    let fail = |e: bollard::errors::Error| FollowError::Read {
        host: host.into(),
        service: service_id.into(),
        message: crate::redact::redact(&e.to_string()).into_owned(),
    };
    let service = d.inspect_service(service_id, None).await.map_err(fail)?;
    let filters =
        std::collections::HashMap::from([("service".to_string(), vec![service_id.to_string()])]);
    let tasks = d
        .list_tasks(Some(ListTasksOptions {
            filters: Some(filters),
        }))
        .await
        .map_err(fail)?;
    let (view, tasks) = from_api(&service, &tasks, rollback);
    Ok(progress(&view, &tasks, node_names))
}

/// Node ID → hostname, from one manager.
pub async fn node_names(d: &Docker) -> BTreeMap<String, String> {
    let nodes = d
        .list_nodes(None::<ListNodesOptions>)
        .await
        .unwrap_or_default();
    nodes
        .into_iter()
        .filter_map(|n| {
            let name = n.description?.hostname?;
            Some((n.id?, name))
        })
        .collect()
}

/// Follows a service's rollout on `d` (a manager) about once a second, calling `seen` with
/// each new progress, until it completes, pauses or rolls back; or `deadline` passes; or
/// `cancel` (the service is left as it is).
pub async fn follow(
    d: &Docker,
    host: &str,
    service_id: &str,
    rollback: bool,
    deadline: Duration,
    cancel: &CancellationToken,
    mut seen: impl FnMut(&RolloutProgress),
) -> Result<RolloutProgress, FollowError> {
    let start = Instant::now();
    let names = node_names(d).await;
    let mut last: Option<RolloutProgress> = None;
    loop {
        let p = read(d, host, service_id, rollback, &names).await?;
        if last.as_ref() != Some(&p) {
            seen(&p);
        }
        // Swarm needs a moment to start the update: a status left from the last one is
        // not this one's end, so the first read never ends it.
        if p.phase.is_over() && last.is_some() {
            return Ok(p);
        }
        let summary = p.summary();
        last = Some(p);
        if start.elapsed() >= deadline {
            return Err(FollowError::Deadline {
                secs: deadline.as_secs(),
                last: summary,
            });
        }
        tokio::select! {
            _ = cancel.cancelled() => return Err(FollowError::Cancelled { last: summary }),
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(
        id: &str,
        slot: u64,
        node: &str,
        image: &str,
        state: &str,
        desired: &str,
    ) -> RolloutTask {
        RolloutTask {
            id: id.into(),
            slot: Some(slot),
            node_id: Some(node.into()),
            image: image.into(),
            state: TaskState::from(state),
            desired_state: TaskState::from(desired),
            error: None,
            created_at: format!("2026-01-01T00:00:0{}Z", id.len()),
            current: image == "v2",
        }
    }

    fn service(state: &str, message: &str) -> ServiceView {
        ServiceView {
            name: "web".into(),
            image: "v2".into(),
            replicas: Some(2),
            update_status: (!state.is_empty()).then(|| UpdateStatus {
                state: state.into(),
                message: message.into(),
            }),
            rollback: false,
        }
    }

    fn names() -> BTreeMap<String, String> {
        [("n1", "node1"), ("n2", "node2"), ("n3", "node3")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    /// The service's task template and its tasks' specs as a 20.10 engine returned them
    /// (`docker service inspect`, `docker inspect TASK`), before and after
    /// `--env-add A=1 --limit-memory 64M --stop-grace-period 2s`.
    #[test]
    fn task_specs_match_their_service_as_the_engine_renders_them() {
        let parse = |s: &str| serde_json::from_str::<TaskSpec>(s).unwrap();
        let service = parse(
            r#"{"ContainerSpec":{"Image":"swarmdeck/probe:1","Args":["sleep","3600"],"Env":["A=1"],"Init":false,"StopGracePeriod":2000000000,"DNSConfig":{},"Isolation":"default"},"Resources":{"Limits":{"MemoryBytes":67108864},"Reservations":{}},"RestartPolicy":{"Condition":"any","Delay":5000000000,"MaxAttempts":0},"Placement":{},"ForceUpdate":0,"Runtime":"container"}"#,
        );
        let new = parse(
            r#"{"ContainerSpec":{"Image":"swarmdeck/probe:1","Args":["sleep","3600"],"Env":["A=1"],"Init":false,"StopGracePeriod":2000000000,"DNSConfig":{},"Isolation":"default"},"Resources":{"Limits":{"MemoryBytes":67108864},"Reservations":{}},"Placement":{},"ForceUpdate":0}"#,
        );
        let old = parse(
            r#"{"ContainerSpec":{"Image":"swarmdeck/probe:1","Args":["sleep","3600"],"Init":false,"DNSConfig":{},"Isolation":"default"},"Resources":{"Limits":{},"Reservations":{}},"Placement":{},"ForceUpdate":0}"#,
        );
        assert!(same_spec(Some(&new), Some(&service)));
        assert!(!same_spec(Some(&old), Some(&service)));
        let mut forced = service.clone();
        forced.force_update = Some(1);
        assert!(!same_spec(Some(&new), Some(&forced)));
    }

    #[test]
    fn a_rolling_update_shows_each_slot_old_to_new_by_node() {
        let tasks = vec![
            task("a", 1, "n1", "v1", "shutdown", "shutdown"),
            task("bb", 1, "n2", "v2", "running", "running"),
            task("c", 2, "n3", "v1", "running", "running"),
            task("dd", 2, "n3", "v2", "preparing", "running"),
        ];
        let p = progress(&service("updating", "update in progress"), &tasks, &names());
        assert_eq!((p.updated, p.total), (1, 2));
        assert_eq!(p.phase, Phase::InProgress);
        let s1 = &p.slots[0];
        assert_eq!(s1.slot, "1");
        assert_eq!(s1.old.as_ref().unwrap().node, "node1");
        assert_eq!(s1.new.as_ref().unwrap().node, "node2");
        assert!(s1.updated);
        let s2 = &p.slots[1];
        assert_eq!(s2.old.as_ref().unwrap().state, "running");
        assert_eq!(s2.new.as_ref().unwrap().state, "preparing");
        assert!(!s2.updated);
        assert_eq!(p.summary(), "web: 1/2 updated (updating)");
    }

    #[test]
    fn completes_only_when_every_slot_runs_the_new_spec() {
        let mut tasks = vec![
            task("a", 1, "n1", "v1", "shutdown", "shutdown"),
            task("bb", 1, "n1", "v2", "running", "running"),
            task("cc", 2, "n2", "v2", "running", "running"),
        ];
        let done = progress(&service("completed", "update completed"), &tasks, &names());
        assert_eq!(done.phase, Phase::Completed);
        // A status left "completed" by an earlier update ends nothing while old tasks run.
        tasks[2] = task("c", 2, "n2", "v1", "running", "running");
        let p = progress(&service("completed", "update completed"), &tasks, &names());
        assert_eq!(p.phase, Phase::InProgress);
    }

    #[test]
    fn a_paused_update_says_why_with_the_tasks_error() {
        let mut bad = task("bb", 1, "n2", "v2", "rejected", "shutdown");
        bad.error = Some("No such image: probe:nope".into());
        let tasks = vec![task("a", 1, "n1", "v1", "shutdown", "shutdown"), bad];
        let p = progress(
            &service(
                "paused",
                "update paused due to failure or early termination of task bb",
            ),
            &tasks,
            &names(),
        );
        let Phase::Paused { reason } = &p.phase else {
            panic!("{:?}", p.phase)
        };
        assert!(reason.contains("No such image"), "{reason}");
        assert!(p.summary().contains("PAUSED"), "{}", p.summary());
        assert_eq!(p.slots[0].new.as_ref().unwrap().state, "rejected");
    }

    #[test]
    fn rolled_back_is_a_failure_unless_a_rollback_was_asked() {
        let tasks = vec![task("bb", 1, "n1", "v2", "running", "running")];
        let mut s = service("rollback_completed", "rollback completed");
        s.replicas = Some(1);
        assert!(matches!(
            progress(&s, &tasks, &names()).phase,
            Phase::RolledBack { .. }
        ));
        s.rollback = true;
        assert_eq!(progress(&s, &tasks, &names()).phase, Phase::Completed);
    }

    #[test]
    fn scaling_up_counts_new_slots_and_scaled_down_slots_drop_out() {
        let tasks = vec![
            task("aa", 1, "n1", "v2", "running", "running"),
            task("bb", 2, "n2", "v2", "running", "running"),
            task("cc", 3, "n3", "v2", "shutdown", "shutdown"),
        ];
        let p = progress(&service("", ""), &tasks, &names());
        assert_eq!((p.updated, p.total, p.slots.len()), (2, 2, 2));
        assert_eq!(p.phase, Phase::Completed);
        let mut five = service("", "");
        five.replicas = Some(5);
        let p = progress(&five, &tasks, &names());
        assert_eq!((p.updated, p.total), (2, 5));
        assert_eq!(p.phase, Phase::InProgress);
    }
}
