//! What the Services and Placement panels both draw: a task's details, why a pending task
//! finds no node, a stable colour per service, and task ages.

use std::borrow::Cow;

use eframe::egui::{self, Color32, RichText};

use super::style;
use crate::snapshot::{ClusterSnapshot, TaskInfo, TaskState};
use crate::untrusted::visible;
use crate::workloads::PendingReason;

/// A colour of its own for each service name, the same on every run and every machine
/// (FNV-1a of the name picks the hue), readable on both themes.
pub fn service_color(name: &str) -> Color32 {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let hue = (hash % 360) as f32 / 360.0;
    let sat = 0.45 + ((hash >> 16) % 20) as f32 / 100.0;
    egui::ecolor::Hsva::new(hue, sat, 0.78, 1.0).into()
}

/// The state a task's state word is shown in: running is good, on its way is a warning,
/// failed or rejected is bad.
pub fn task_state_color(ui: &egui::Ui, state: &TaskState) -> Color32 {
    match state {
        TaskState::Running | TaskState::Complete => style::ok(ui),
        TaskState::Failed | TaskState::Rejected | TaskState::Orphaned => style::bad(ui),
        TaskState::Shutdown | TaskState::Remove => ui.visuals().weak_text_color(),
        _ => style::warn(ui),
    }
}

/// "web.2" for a replicated task, "web" plus the node's short ID for a global one.
pub fn task_name(service: &str, task: &TaskInfo) -> String {
    let service = visible(service);
    match (task.slot, task.node_id.as_deref()) {
        (Some(slot), _) => format!("{service}.{slot}"),
        (None, Some(node)) => format!("{service}.{}", node.get(..6).unwrap_or(node)),
        (None, None) => format!("{service}.{}", task.id.get(..6).unwrap_or(&task.id)),
    }
}

/// The node a task is on, as people name it; "—" while it has none.
pub fn node_name<'a>(snap: &'a ClusterSnapshot, task: &'a TaskInfo) -> Cow<'a, str> {
    match task.node_id.as_deref() {
        None => Cow::Borrowed("—"),
        Some(id) => match snap.node(id) {
            Some(n) => Cow::Owned(visible(&n.label_among(&snap.nodes)).into_owned()),
            None => visible(id),
        },
    }
}

/// Seconds since the epoch of an RFC 3339 time as the engine writes it
/// ("2026-11-30T10:00:00.123456789Z", or with a "+01:00" offset); None for anything else
/// and for the engine's zero time.
pub fn rfc3339_secs(ts: &str) -> Option<u64> {
    let (date, rest) = ts.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = rest.get(..8)?.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (hh, mm, ss) = (t.next()??, t.next()??, t.next()??);
    let zone = rest[8..].trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset = match zone {
        "Z" | "z" => 0,
        z => {
            let sign = match z.get(..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let (oh, om) = z.get(1..)?.split_once(':')?;
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60)
        }
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let secs = days_from_civil(y, m, day) * 86_400 + hh * 3600 + mm * 60 + ss - offset;
    u64::try_from(secs).ok().filter(|s| *s > 0)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// How long ago a task entered its state, at `now`: "40 s", "5 min", "3 h", "2 d".
pub fn age(task: &TaskInfo, now: u64) -> String {
    let Some(at) = rfc3339_secs(&task.timestamp) else {
        return "—".to_string();
    };
    let s = now.saturating_sub(at);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}

/// The moment ages are counted to: now for a live view, the capture for a demo or bundle.
pub fn age_reference(freshness: super::state::Freshness) -> u64 {
    match freshness {
        super::state::Freshness::Captured { at } => at,
        _ => crate::snapshot::now_secs(),
    }
}

/// Every field of one task, as a two-column grid.
pub fn task_details(ui: &mut egui::Ui, snap: &ClusterSnapshot, task: &TaskInfo, now: u64) {
    let service = snap.services.iter().find(|s| s.id == task.service_id);
    let service_name = service.map_or(task.service_id.as_str(), |s| s.name.as_str());
    egui::Grid::new(("task_grid", &task.id))
        .num_columns(2)
        .show(ui, |ui| {
            let row = |ui: &mut egui::Ui, k: &str, v: RichText| {
                ui.label(RichText::new(k).weak());
                ui.add(egui::Label::new(v).wrap());
                ui.end_row();
            };
            row(ui, "Service", RichText::new(visible(service_name)).strong());
            let slot = task
                .slot
                .map_or_else(|| "— (global)".into(), |s| s.to_string());
            row(ui, "Slot", slot.into());
            row(ui, "Node", node_name(snap, task).into_owned().into());
            let state = RichText::new(visible(task.state.as_str()))
                .color(task_state_color(ui, &task.state));
            row(ui, "State", state);
            row(ui, "Desired", visible(task.desired_state.as_str()).into());
            let since = format!("{} ago", age(task, now));
            row(ui, "In this state", since.into());
            if let Some(e) = &task.error {
                row(ui, "Error", RichText::new(visible(e)).color(style::bad(ui)));
            }
            if !task.message.is_empty() {
                row(ui, "Message", visible(&task.message).into());
            }
            let container = task.container_id.as_deref().map_or("—", |c| c);
            row(
                ui,
                "Container",
                RichText::new(visible(container)).monospace(),
            );
            let addresses = if task.addresses.is_empty() {
                "—".to_string()
            } else {
                visible(&task.addresses.join(", ")).into_owned()
            };
            row(ui, "Addresses", RichText::new(addresses).monospace());
            row(ui, "Task ID", RichText::new(visible(&task.id)).monospace());
        });
}

/// Something worked out from a whole snapshot for one subject (a service, a task),
/// kept until the snapshot changes: pending reasons run every node through the
/// scheduler's filters, too costly for every frame of a large cluster.
#[derive(Debug)]
pub struct SnapshotCache<T> {
    key: Option<(String, u64, u64)>,
    value: T,
}

impl<T: Default> Default for SnapshotCache<T> {
    fn default() -> Self {
        Self {
            key: None,
            value: T::default(),
        }
    }
}

impl<T> SnapshotCache<T> {
    /// The value for `subject` in `snap`, computed again only when either changed.
    pub fn get(
        &mut self,
        snap: &ClusterSnapshot,
        subject: &str,
        compute: impl FnOnce() -> T,
    ) -> &T {
        let key = (subject.to_string(), snap.taken_at, fingerprint(snap));
        if self.key.as_ref() != Some(&key) {
            self.value = compute();
            self.key = Some(key);
        }
        &self.value
    }
}

/// A hash of what placement depends on, so a newer snapshot taken within the same second
/// is not mistaken for the old one.
fn fingerprint(snap: &ClusterSnapshot) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for n in &snap.nodes {
        (
            &n.id,
            &n.state,
            &n.availability,
            &n.labels,
            &n.observed_down.is_some(),
        )
            .hash(&mut h);
    }
    for t in &snap.tasks {
        (&t.id, &t.node_id, &t.state, &t.desired_state).hash(&mut h);
    }
    for s in &snap.services {
        (&s.id, &s.constraints, s.running, s.desired).hash(&mut h);
    }
    h.finish()
}

/// Nodes named in one line of a pending reason before "and N more".
const NAMED_NODES: usize = 12;

/// Why a pending task finds no node: the sentence, the fix, the nodes grouped by what
/// rejects them, and the engine's own words beside them. `tasks` names the tasks it is
/// about ("web.3, web.4").
pub fn pending_reason(ui: &mut egui::Ui, reason: &PendingReason, tasks: &str) {
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.label(
            RichText::new(format!("{tasks} pending: {}", visible(&reason.summary)))
                .color(style::warn(ui))
                .strong(),
        );
        ui.label(RichText::new(format!("Fix: {}", visible(&reason.fix))).strong());
        // A grid, not a horizontal layout: its cells take only the height they need.
        let half = ui.available_width() * 0.5;
        egui::Grid::new(("pending_reason", &reason.task_id))
            .num_columns(2)
            .spacing([24.0, 4.0])
            .show(ui, |ui| {
                ui.label(RichText::new("Node by node").weak());
                ui.label(RichText::new("The engine says").weak());
                ui.end_row();
                ui.vertical(|ui| {
                    ui.set_width(half);
                    for (verdict, nodes) in group_verdicts(reason) {
                        let fits = verdict.is_none();
                        let text = verdict.unwrap_or_else(|| "fits".to_string());
                        let color = if fits { style::ok(ui) } else { style::bad(ui) };
                        ui.horizontal_wrapped(|ui| {
                            ui.label(RichText::new(format!("{nodes}:")).strong());
                            ui.colored_label(color, visible(&text));
                        });
                    }
                });
                let says = reason.engine_says.as_deref().unwrap_or("nothing");
                ui.vertical(|ui| {
                    ui.add(egui::Label::new(visible(says)).wrap());
                });
                ui.end_row();
            });
    });
}

/// The nodes of a reason grouped by their verdict (None: the node fits), in the order
/// the verdicts first appear; each group's nodes as one line.
fn group_verdicts(reason: &PendingReason) -> Vec<(Option<String>, String)> {
    let mut groups: Vec<(Option<String>, Vec<&str>)> = Vec::new();
    for n in &reason.nodes {
        let verdict = n.rejection.as_ref().map(|r| r.describe());
        match groups.iter_mut().find(|(v, _)| *v == verdict) {
            Some((_, names)) => names.push(&n.node),
            None => groups.push((verdict, vec![&n.node])),
        }
    }
    groups
        .into_iter()
        .map(|(v, names)| {
            let mut line: Vec<String> = names
                .iter()
                .take(NAMED_NODES)
                .map(|n| visible(n).into_owned())
                .collect();
            if names.len() > NAMED_NODES {
                line.push(format!("and {} more", names.len() - NAMED_NODES));
            }
            (v, line.join(", "))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_times_read_as_epoch_seconds() {
        assert_eq!(rfc3339_secs("1970-01-01T00:01:00Z"), Some(60));
        let t = rfc3339_secs("2026-11-30T10:00:00.123456789Z").unwrap();
        assert_eq!(crate::swarm::audit::fmt_time(t), "2026-11-30 10:00:00 UTC");
        assert_eq!(rfc3339_secs("2026-11-30T11:00:00+01:00"), Some(t));
        assert_eq!(
            rfc3339_secs("2024-02-29T00:00:00Z").map(|s| s % 86_400),
            Some(0)
        );
        for bad in [
            "",
            "0001-01-01T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "yesterday",
        ] {
            assert_eq!(rfc3339_secs(bad), None, "{bad}");
        }
    }

    #[test]
    fn ages_and_service_colours() {
        let mut t: TaskInfo = serde_json::from_value(serde_json::json!({
            "id": "t1", "service_id": "s1", "desired_state": "running", "state": "running",
            "timestamp": "1970-01-01T00:00:00.5Z"
        }))
        .unwrap();
        assert_eq!(age(&t, 40), "—", "the zero time is no time");
        t.timestamp = "1970-01-01T00:00:10Z".into();
        assert_eq!(age(&t, 50), "40 s");
        assert_eq!(age(&t, 10 + 7200), "2 h");
        assert_eq!(service_color("web"), service_color("web"));
        assert_ne!(service_color("web"), service_color("db"));
    }
}

/// A small cluster with workloads, and a harness that shows it on a panel, for the
/// Services and Placement tests.
#[cfg(test)]
pub mod testing {
    use egui_kittest::Harness;

    use crate::snapshot::ClusterSnapshot;
    use crate::ui::{AppState, Panel, Source};

    /// node1 (manager, leader, zone a), node2 (worker, zone a), node3 (worker, drained);
    /// "web" (stack shop) runs three tasks on node1 and node2 and has a shut-down one in
    /// its history; "zoned" wants `node.labels.zone==x`, which no node has: its one task
    /// is pending.
    pub fn cluster() -> ClusterSnapshot {
        let json = serde_json::json!({
            "version": 1, "taken_at": 1_764_496_800u64, "source": "test", "swarm": null,
            "networks": [], "hosts": [],
            "nodes": [
                {"id": "n1aaaaaaaaaaaa", "hostname": "node1", "role": "manager", "leader": true,
                 "reachability": "reachable", "availability": "active", "state": "ready",
                 "address": "10.0.0.1", "engine_version": "28.0", "labels": {"zone": "a"}},
                {"id": "n2bbbbbbbbbbbb", "hostname": "node2", "role": "worker", "leader": false,
                 "reachability": null, "availability": "active", "state": "ready",
                 "address": "10.0.0.2", "engine_version": "28.0", "labels": {"zone": "a"}},
                {"id": "n3cccccccccccc", "hostname": "node3", "role": "worker", "leader": false,
                 "reachability": null, "availability": "drain", "state": "ready",
                 "address": "10.0.0.3", "engine_version": "28.0"}
            ],
            "services": [
                {"id": "s-web", "name": "web", "mode": "replicated", "running": 3, "desired": 3,
                 "image": "nginx:1.27@sha256:00", "stack": "shop",
                 "labels": {"com.docker.stack.namespace": "shop"},
                 "ports": [{"published": 8080, "target": 80, "protocol": "tcp", "mode": "ingress"}]},
                {"id": "s-zoned", "name": "zoned", "mode": "replicated", "running": 0, "desired": 1,
                 "image": "swarmdeck/probe:1", "constraints": ["node.labels.zone==x"]}
            ],
            "tasks": [
                {"id": "t-web1", "service_id": "s-web", "slot": 1, "node_id": "n1aaaaaaaaaaaa",
                 "desired_state": "running", "state": "running", "container_id": "c0ffee01",
                 "addresses": ["10.0.1.5/24"], "timestamp": "2025-11-30T09:50:00Z"},
                {"id": "t-web2", "service_id": "s-web", "slot": 2, "node_id": "n2bbbbbbbbbbbb",
                 "desired_state": "running", "state": "running"},
                {"id": "t-web3", "service_id": "s-web", "slot": 3, "node_id": "n2bbbbbbbbbbbb",
                 "desired_state": "running", "state": "running"},
                {"id": "t-web1-old", "service_id": "s-web", "slot": 1, "node_id": "n3cccccccccccc",
                 "desired_state": "shutdown", "state": "shutdown"},
                {"id": "t-zoned1", "service_id": "s-zoned", "slot": 1,
                 "desired_state": "running", "state": "pending",
                 "error": "no suitable node (scheduling constraints not satisfied on 3 nodes)"}
            ]
        });
        serde_json::from_value(json).expect("the test cluster parses")
    }

    /// A live app state showing `snap` on `panel`.
    pub fn showing(snap: ClusterSnapshot, panel: Panel) -> Harness<'static, AppState> {
        let mut state = AppState::new(Source::Inventory("inventory.toml".into()), panel);
        state.set_snapshot(snap);
        harness(state)
    }

    /// A harness drawing `state`'s panel, after two frames.
    pub fn harness(state: AppState) -> Harness<'static, AppState> {
        let mut h = Harness::builder()
            .with_size([1280.0, 820.0])
            .build_ui_state(
                |ui, s: &mut AppState| {
                    crate::ui::app::draw_panel(ui, s);
                },
                state,
            );
        // As the app does: the engine's messages and the task table use arrows.
        crate::ui::style::install_fallback_fonts(&h.ctx);
        h.run_steps(2);
        h
    }
}
