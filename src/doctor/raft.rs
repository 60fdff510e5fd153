//! The Raft store each manager keeps: its size on disk against the snapshot settings, and
//! the old tasks the task history limit makes it keep.

use super::Finding;
use super::facts::{HostFacts, SwarmSettings};
use crate::severity::Severity;
use crate::snapshot::{ClusterSnapshot, TaskState};

/// Raft snapshots this large are flagged: a snapshot is the whole store, which every
/// manager holds in memory and a manager that joins or falls behind receives in full. A
/// swarm of a few hundred services keeps a few MiB. (The log beside it is written in 64 MB
/// segments ahead of use, so the directory's total says little about the store.)
pub const RAFT_WARNING_BYTES: u64 = 256 << 20;
/// And this large as an error: snapshots this size make joins and leader changes slow
/// enough to time out.
pub const RAFT_ERROR_BYTES: u64 = 1 << 30;
/// swarm's own task history limit; more keeps more dead tasks in Raft.
pub const DEFAULT_TASK_HISTORY: i64 = 5;
/// A limit from here on is flagged, whatever the swarm holds today.
pub const TASK_HISTORY_WARNING: i64 = 50;
/// Or this many old tasks kept, whatever the limit.
pub const HISTORY_TASKS_WARNING: usize = 1000;

/// Tasks swarm keeps for history: asked to stop (desired state past running).
pub fn history_tasks(snap: &ClusterSnapshot) -> usize {
    let running = TaskState::Running.rank();
    snap.tasks
        .iter()
        .filter(|t| t.desired_state.rank() > running)
        .count()
}

fn settings_text(s: Option<&SwarmSettings>) -> String {
    let n = |v: Option<u64>| v.map_or("unknown".to_string(), |v| v.to_string());
    match s {
        Some(s) => format!(
            "snapshot every {} entries, {} old snapshot(s) kept, task history limit {}",
            n(s.snapshot_interval),
            n(s.keep_old_snapshots),
            s.task_history_limit
                .map_or("unknown".to_string(), |v| v.to_string())
        ),
        None => "the swarm's settings could not be read".into(),
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

pub fn findings(snap: &ClusterSnapshot, facts: &HostFacts) -> Vec<Finding> {
    let mut out = size(snap, facts);
    out.extend(history(snap, facts));
    out
}

fn size(snap: &ClusterSnapshot, facts: &HostFacts) -> Vec<Finding> {
    let history = history_tasks(snap);
    facts
        .hosts
        .iter()
        .filter_map(|h| Some((h, h.raft_snapshot_bytes?)))
        .filter(|(_, b)| *b >= RAFT_WARNING_BYTES)
        .map(|(h, bytes)| Finding {
            severity: match bytes >= RAFT_ERROR_BYTES {
                true => Severity::Error,
                false => Severity::Warning,
            },
            area: "raft data",
            subject: h.host.clone(),
            summary: format!(
                "manager {}'s Raft snapshots take {} ({} with the log; {}; {history} old \
                 task(s) kept): every manager holds the store in memory and a joining manager \
                 receives all of it",
                h.host,
                mib(bytes),
                mib(h.raft_bytes.unwrap_or(bytes)),
                settings_text(facts.swarm.as_ref())
            ),
            fix: format!(
                "keep fewer old tasks (`docker swarm update --task-history-limit \
                 {DEFAULT_TASK_HISTORY}`) and old snapshots (`docker swarm update \
                 --max-snapshots 0`), remove unused services, networks, secrets and configs; \
                 the store shrinks at the next snapshot"
            ),
        })
        .collect()
}

fn history(snap: &ClusterSnapshot, facts: &HostFacts) -> Option<Finding> {
    let limit = facts.swarm.as_ref()?.task_history_limit?;
    let kept = history_tasks(snap);
    if limit < TASK_HISTORY_WARNING && kept < HISTORY_TASKS_WARNING {
        return None;
    }
    let slots = snap
        .tasks
        .iter()
        .map(|t| {
            (
                &t.service_id,
                t.slot,
                t.slot.is_none().then_some(&t.node_id),
            )
        })
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    Some(Finding {
        severity: Severity::Warning,
        area: "task history",
        subject: format!("limit {limit}"),
        summary: format!(
            "the task history limit is {limit} (swarm's default is {DEFAULT_TASK_HISTORY}) \
             and the swarm keeps {kept} old task(s): each slot ({slots} now) may keep \
             {limit}, every one in Raft on every manager and in each `docker service ps`"
        ),
        fix: format!("`docker swarm update --task-history-limit {DEFAULT_TASK_HISTORY}`"),
    })
}

#[cfg(test)]
mod tests {
    use super::super::facts::HostReading;
    use super::*;
    use serde_json::json;

    fn snap_with_history(running: usize, shutdown: usize) -> ClusterSnapshot {
        let mut snap = ClusterSnapshot::empty("t");
        let task = |i: usize, desired: &str, state: &str| {
            serde_json::from_value(json!({"id": format!("t{i}"), "service_id": "s1",
                "slot": i % 3 + 1, "node_id": "n1", "desired_state": desired, "state": state}))
            .unwrap()
        };
        snap.tasks = (0..running)
            .map(|i| task(i, "running", "running"))
            .chain((0..shutdown).map(|i| task(running + i, "shutdown", "shutdown")))
            .collect();
        snap
    }

    fn facts(limit: i64, raft: Option<u64>) -> HostFacts {
        HostFacts {
            swarm: Some(SwarmSettings {
                host: "m1".into(),
                snapshot_interval: Some(10_000),
                keep_old_snapshots: Some(0),
                task_history_limit: Some(limit),
                subnet_size: 24,
                ..Default::default()
            }),
            hosts: vec![HostReading {
                host: "m1".into(),
                manager: true,
                raft_bytes: raft.map(|b| b + (128 << 20)),
                raft_snapshot_bytes: raft,
                ..Default::default()
            }],
            failures: Vec::new(),
        }
    }

    #[test]
    fn a_high_task_history_limit_is_flagged_with_the_command_that_lowers_it() {
        let snap = snap_with_history(3, 7);
        assert_eq!(history_tasks(&snap), 7);
        let f = findings(&snap, &facts(50, Some(1 << 20)));
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].area, "task history");
        assert!(
            f[0].summary.contains("limit is 50") && f[0].summary.contains("keeps 7 old task(s)"),
            "{}",
            f[0].summary
        );
        assert!(
            f[0].summary.contains("each slot (3 now)"),
            "{}",
            f[0].summary
        );
        assert_eq!(f[0].fix, "`docker swarm update --task-history-limit 5`");
        // The default limit and little history: nothing.
        assert!(findings(&snap, &facts(5, Some(1 << 20))).is_empty());
        // The default limit but a thousand old tasks: flagged.
        assert_eq!(
            findings(&snap_with_history(3, 1000), &facts(5, None)).len(),
            1
        );
    }

    #[test]
    fn raft_data_past_the_thresholds_names_the_manager_and_the_settings() {
        let snap = snap_with_history(3, 2);
        let f = findings(&snap, &facts(5, Some(300 << 20)));
        assert_eq!((f[0].area, f[0].severity), ("raft data", Severity::Warning));
        assert!(
            f[0].summary
                .contains("manager m1's Raft snapshots take 300.0 MiB (428.0 MiB with the log")
                && f[0]
                    .summary
                    .contains("snapshot every 10000 entries, 0 old snapshot(s)")
                && f[0].summary.contains("2 old task(s)"),
            "{}",
            f[0].summary
        );
        assert!(f[0].fix.contains("--task-history-limit 5"), "{}", f[0].fix);
        let f = findings(&snap, &facts(5, Some(2 << 30)));
        assert_eq!(f[0].severity, Severity::Error);
    }
}
