//! Placement: one column per node (managers first, the leader marked), a card per task
//! meant to run there coloured by its service, and a lane for tasks waiting for a node.
//! Only the columns and cards in view are drawn, so a thousand nodes stay cheap.

use std::collections::HashMap;

use eframe::egui::{self, Align2, Color32, FontId, Pos2, Rect, RichText, Sense, Stroke, Vec2};

use super::console_panel::ConsoleTarget;
use super::logs_panel::LogTarget;
use super::panel::{Context, PanelView};
use super::style;
use super::workload_view::{self as wv, SnapshotCache};
use crate::snapshot::{Availability, ClusterSnapshot, NodeInfo, Role, TaskInfo, TaskState};
use crate::untrusted::visible;
use crate::workloads::{self, PendingReason};

const LANE_W: f32 = 170.0;
const HEADER_H: f32 = 66.0;
const CARD: Vec2 = Vec2::new(156.0, 40.0);
const CARD_STEP: f32 = 46.0;

/// Service names by service ID.
type Names<'a> = HashMap<&'a str, &'a str>;

#[derive(Debug, Default)]
pub struct PlacementView {
    /// The selected task's ID.
    pub selected_task: Option<String>,
    /// The selected node's ID (its column is highlighted).
    pub selected_node: Option<String>,
    /// Bring the selected node's column into view on the next frame.
    scroll_to_node: bool,
    reason: SnapshotCache<Option<PendingReason>>,
}

/// A column: a node's tasks, or (no node) the tasks waiting for one.
pub struct Lane<'a> {
    pub node: Option<&'a NodeInfo>,
    pub tasks: Vec<&'a TaskInfo>,
}

/// The pending lane (when a task waits) then managers (leader first) then workers, each
/// by name; every task whose desired state is running in its node's lane.
pub fn lanes(snap: &ClusterSnapshot) -> Vec<Lane<'_>> {
    let mut nodes: Vec<&NodeInfo> = snap.nodes.iter().collect();
    nodes.sort_by(|a, b| {
        (a.role != Role::Manager, !a.leader, &a.hostname, &a.id).cmp(&(
            b.role != Role::Manager,
            !b.leader,
            &b.hostname,
            &b.id,
        ))
    });
    let mut pending = Lane {
        node: None,
        tasks: Vec::new(),
    };
    let mut out: Vec<Lane> = nodes
        .into_iter()
        .map(|n| Lane {
            node: Some(n),
            tasks: Vec::new(),
        })
        .collect();
    let index: HashMap<&str, usize> = out
        .iter()
        .enumerate()
        .filter_map(|(i, l)| Some((l.node?.id.as_str(), i)))
        .collect();
    for t in snap
        .tasks
        .iter()
        .filter(|t| t.desired_state == TaskState::Running)
    {
        match t.node_id.as_deref().and_then(|id| index.get(id)) {
            Some(&i) => out[i].tasks.push(t),
            None if t.is_unplaced() => pending.tasks.push(t),
            // On a node the swarm no longer lists: nowhere to draw it.
            None => {}
        }
    }
    if !pending.tasks.is_empty() {
        out.insert(0, pending);
    }
    out
}

impl PanelView for PlacementView {
    fn show(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>) {
        if let Some(id) = cx.focus_node.take() {
            self.selected_node = Some(id);
            self.selected_task = None;
            self.scroll_to_node = true;
        }
        let Some(snap) = cx.snapshot else {
            ui.label("No cluster open.");
            return;
        };
        let now = wv::age_reference(cx.freshness);
        let (logs, console) = egui::Panel::right("placement_details")
            .default_size(320.0)
            .resizable(true)
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .show(ui, |ui| self.details(ui, snap, now))
                    .inner
            })
            .inner;
        if let Some(target) = logs {
            super::logs_panel::open(cx, target);
        }
        if let Some(target) = console {
            super::console_panel::open(cx, target);
        }
        let lanes = lanes(snap);
        let running: usize = lanes
            .iter()
            .filter(|l| l.node.is_some())
            .map(|l| l.tasks.len())
            .sum();
        let waiting = lanes
            .iter()
            .find(|l| l.node.is_none())
            .map_or(0, |l| l.tasks.len());
        ui.horizontal_wrapped(|ui| {
            ui.heading("Placement");
            ui.label(format!(
                "{} nodes, {running} tasks placed, {waiting} pending. Tasks meant to run, \
                 coloured by service; click one for its details.",
                snap.nodes.len()
            ));
        });
        if snap.tasks.is_empty() {
            ui.label(RichText::new("No tasks: this cluster runs no services.").weak());
        }
        let names: Names = snap
            .services
            .iter()
            .map(|s| (s.id.as_str(), s.name.as_str()))
            .collect();
        self.board(ui, &lanes, &names);
    }

    fn reset(&mut self) {
        *self = Self::default();
    }
}

impl PlacementView {
    /// The columns and cards in view, in a scroll area as large as the whole board.
    fn board(&mut self, ui: &mut egui::Ui, lanes: &[Lane], names: &Names) {
        let deepest = lanes.iter().map(|l| l.tasks.len()).max().unwrap_or(0);
        let size = Vec2::new(
            lanes.len() as f32 * LANE_W,
            HEADER_H + deepest as f32 * CARD_STEP + 8.0,
        );
        egui::ScrollArea::both()
            .id_salt("placement_board")
            .auto_shrink([false, false])
            .show_viewport(ui, |ui, viewport| {
                let (board, _) = ui.allocate_exact_size(size, Sense::hover());
                let origin = board.min;
                if self.scroll_to_node {
                    self.scroll_to_node = false;
                    let at = lanes
                        .iter()
                        .position(|l| l.node.map(|n| &n.id) == self.selected_node.as_ref());
                    if let Some(i) = at {
                        let lane = Rect::from_min_size(
                            origin + Vec2::new(i as f32 * LANE_W, 0.0),
                            Vec2::new(LANE_W, HEADER_H),
                        );
                        ui.scroll_to_rect(lane, Some(egui::Align::Center));
                    }
                }
                let first = (viewport.min.x / LANE_W).floor().max(0.0) as usize;
                let last = ((viewport.max.x / LANE_W).ceil().max(0.0) as usize).min(lanes.len());
                for (i, lane) in lanes.iter().enumerate().take(last).skip(first) {
                    let x = origin.x + i as f32 * LANE_W;
                    self.lane(ui, lane, names, x, origin.y, viewport);
                }
            });
    }

    fn lane(
        &mut self,
        ui: &mut egui::Ui,
        lane: &Lane,
        names: &Names,
        x: f32,
        top: f32,
        viewport: Rect,
    ) {
        let header = Rect::from_min_size(
            Pos2::new(x + 4.0, top),
            Vec2::new(LANE_W - 8.0, HEADER_H - 6.0),
        );
        if lane_header(ui, lane, header, self.selected_node.as_deref()).clicked() {
            self.selected_node = lane.node.map(|n| n.id.clone());
        }
        // Cards in view only: the viewport is in board coordinates.
        let first = ((viewport.min.y - HEADER_H) / CARD_STEP).floor().max(0.0) as usize;
        let last = (((viewport.max.y - HEADER_H) / CARD_STEP).ceil().max(0.0) as usize)
            .min(lane.tasks.len());
        if first >= last {
            return;
        }
        let mut tasks: Vec<&TaskInfo> = lane.tasks.clone();
        tasks.sort_by(|a, b| (&a.service_id, a.slot, &a.id).cmp(&(&b.service_id, b.slot, &b.id)));
        for (k, t) in tasks.iter().enumerate().take(last).skip(first) {
            let min = Pos2::new(
                x + (LANE_W - CARD.x) / 2.0,
                top + HEADER_H + k as f32 * CARD_STEP,
            );
            let selected = self.selected_task.as_deref() == Some(t.id.as_str());
            let service = names
                .get(t.service_id.as_str())
                .copied()
                .unwrap_or(&t.service_id);
            if task_card(ui, Rect::from_min_size(min, CARD), t, service, selected).clicked() {
                self.selected_task = Some(t.id.clone());
            }
        }
    }

    /// The selected task's details; the logs or the console to open when asked.
    fn details(
        &mut self,
        ui: &mut egui::Ui,
        snap: &ClusterSnapshot,
        now: u64,
    ) -> (Option<LogTarget>, Option<ConsoleTarget>) {
        let task = self
            .selected_task
            .as_deref()
            .and_then(|id| snap.tasks.iter().find(|t| t.id == id));
        let Some(task) = task else {
            ui.heading("Task");
            ui.label("Click a task card for its details.");
            legend(ui);
            return (None, None);
        };
        let (logs, console) = ui
            .horizontal(|ui| {
                ui.heading("Task");
                let has_logs = task.container_id.is_some();
                let logs = ui
                    .add_enabled(has_logs, egui::Button::new("Show logs"))
                    .on_hover_text("Read this task's logs from its node")
                    .on_disabled_hover_text("This task has no container, so no logs")
                    .clicked();
                (logs, super::console_panel::button(ui, snap, task))
            })
            .inner;
        wv::task_details(ui, snap, task, now);
        if task.is_unplaced() {
            ui.add_space(8.0);
            let reason = self
                .reason
                .get(snap, &task.id, || workloads::explain(snap, task));
            if let Some(r) = reason {
                let name = service_name(snap, task);
                wv::pending_reason(ui, r, &wv::task_name(name, task));
            }
        }
        (logs.then(|| LogTarget::task(snap, task)), console)
    }
}

fn service_name<'a>(snap: &'a ClusterSnapshot, task: &'a TaskInfo) -> &'a str {
    snap.services
        .iter()
        .find(|s| s.id == task.service_id)
        .map_or(task.service_id.as_str(), |s| s.name.as_str())
}

/// A node's name, role and (when it takes no new tasks) why, and its task count.
fn lane_header(
    ui: &mut egui::Ui,
    lane: &Lane,
    rect: Rect,
    selected: Option<&str>,
) -> egui::Response {
    let (title, role, trouble) = match lane.node {
        None => (
            "Pending".to_string(),
            "waiting for a node".to_string(),
            None,
        ),
        Some(n) => {
            let role = match (n.role, n.leader) {
                (Role::Manager, true) => "★ leader",
                (Role::Manager, false) => "manager",
                (Role::Worker, _) => "worker",
            };
            (
                visible(&n.hostname).into_owned(),
                role.to_string(),
                node_trouble(ui, n),
            )
        }
    };
    let detail = match &trouble {
        Some((t, _)) => format!("{role} · {t}"),
        None => role,
    };
    let count = match lane.tasks.len() {
        1 => "1 task".to_string(),
        n => format!("{n} tasks"),
    };
    let id = ui
        .scope_id()
        .with(("lane", lane.node.map(|n| n.id.as_str())));
    let resp = ui.interact(rect, id, Sense::click());
    resp.widget_info(|| {
        let label = format!("{title} ({detail}, {count})");
        egui::WidgetInfo::labeled(egui::Role::Button, true, label)
    });
    let visuals = ui.visuals();
    let is_selected = lane.node.is_some() && lane.node.map(|n| n.id.as_str()) == selected;
    let stroke = if is_selected || resp.hovered() {
        Stroke::new(2.0, visuals.strong_text_color())
    } else {
        Stroke::new(1.0, visuals.widgets.noninteractive.bg_stroke.color)
    };
    let painter = ui.painter();
    painter.rect(
        rect,
        6.0,
        visuals.faint_bg_color,
        stroke,
        egui::StrokeKind::Inside,
    );
    let color = trouble.map_or(visuals.text_color(), |(_, c)| c);
    let lines = [
        (title, 6.0, 14.0, visuals.strong_text_color()),
        (detail, 25.0, 12.0, color),
        (count, 42.0, 11.0, visuals.text_color()),
    ];
    for (text, dy, size, color) in lines {
        let at = Pos2::new(rect.min.x + 8.0, rect.min.y + dy);
        painter.text(
            at,
            Align2::LEFT_TOP,
            text,
            FontId::proportional(size),
            color,
        );
    }
    resp
}

/// Why a node takes no new tasks ("down", "drain", "pause"), in its colour; None when it
/// is ready and active.
fn node_trouble(ui: &egui::Ui, n: &NodeInfo) -> Option<(String, Color32)> {
    if !n.is_ready() {
        let state = if n.observed_down.is_some() {
            "down (engine silent)"
        } else {
            n.state.as_str()
        };
        return Some((visible(state).into_owned(), style::bad(ui)));
    }
    (n.availability != Availability::Active).then(|| {
        (
            visible(n.availability.as_str()).into_owned(),
            style::warn(ui),
        )
    })
}

/// One task: its service's colour, its name and state; a thick border when selected.
fn task_card(
    ui: &mut egui::Ui,
    rect: Rect,
    t: &TaskInfo,
    service: &str,
    selected: bool,
) -> egui::Response {
    let id = ui.scope_id().with(("task", &t.id));
    let resp = ui.interact(rect, id, Sense::click());
    let name = wv::task_name(service, t);
    resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, name.clone()));
    let fill = wv::service_color(service);
    // Dark text on the light service colours reads in both themes.
    let ink = Color32::from_gray(20);
    let stroke = if selected || resp.hovered() {
        Stroke::new(3.0, ui.visuals().strong_text_color())
    } else {
        Stroke::new(1.0, fill.gamma_multiply(0.6))
    };
    let painter = ui.painter();
    painter.rect(rect, 6.0, fill, stroke, egui::StrokeKind::Inside);
    let x = rect.min.x + 8.0;
    painter.text(
        Pos2::new(x, rect.min.y + 4.0),
        Align2::LEFT_TOP,
        name,
        FontId::proportional(13.0),
        ink,
    );
    let dot = Pos2::new(x + 4.0, rect.min.y + 28.0);
    painter.circle(
        dot,
        4.0,
        wv::task_state_color(ui, &t.state),
        Stroke::new(1.0, ink),
    );
    painter.text(
        Pos2::new(x + 12.0, rect.min.y + 21.0),
        Align2::LEFT_TOP,
        visible(t.state.as_str()),
        FontId::proportional(11.0),
        ink,
    );
    resp
}

fn legend(ui: &mut egui::Ui) {
    ui.add_space(12.0);
    ui.strong("Legend");
    ui.label("Columns are nodes: managers first, ★ the Raft leader; a node that takes no new tasks says why (down, drain, pause).");
    ui.label(
        "Cards are tasks meant to run, in their service's colour; the dot is the task's state.",
    );
    ui.colored_label(style::ok(ui), "■ running");
    ui.colored_label(
        style::warn(ui),
        "■ on its way (pending, preparing, starting…)",
    );
    ui.colored_label(style::bad(ui), "■ failed or rejected");
}

#[cfg(test)]
mod tests {
    use egui_kittest::kittest::Queryable;

    use super::super::workload_view::testing::{cluster, showing};
    use super::*;
    use crate::ui::Panel;

    #[test]
    fn lanes_put_tasks_meant_to_run_under_their_nodes_and_pending_first() {
        let snap = cluster();
        let lanes = lanes(&snap);
        let names: Vec<(Option<&str>, Vec<&str>)> = lanes
            .iter()
            .map(|l| {
                (
                    l.node.map(|n| n.hostname.as_str()),
                    l.tasks.iter().map(|t| t.id.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                (None, vec!["t-zoned1"]),
                (Some("node1"), vec!["t-web1"]),
                (Some("node2"), vec!["t-web2", "t-web3"]),
                // The shut-down history task does not clutter the drained node.
                (Some("node3"), vec![]),
            ]
        );
    }

    #[test]
    fn cards_sit_under_their_node_and_a_click_opens_the_task() {
        let mut h = showing(cluster(), Panel::Placement);
        let column_x = |h: &egui_kittest::Harness<'_, crate::ui::AppState>, label: &str| {
            h.get_by_label(label).rect().center().x
        };
        let node1 = "node1 (★ leader, 1 task)";
        let node2 = "node2 (worker, 2 tasks)";
        let pending = "Pending (waiting for a node, 1 task)";
        assert_eq!(column_x(&h, "web.1"), column_x(&h, node1));
        assert_eq!(column_x(&h, "web.2"), column_x(&h, node2));
        assert_eq!(column_x(&h, "web.3"), column_x(&h, node2));
        assert_eq!(column_x(&h, "zoned.1"), column_x(&h, pending));
        assert!(column_x(&h, pending) < column_x(&h, node1));
        h.get_by_label("node3 (worker · drain, 0 tasks)");
        h.get_by_label("web.1").click();
        h.run_steps(2);
        assert_eq!(
            h.state().panels.placement.selected_task.as_deref(),
            Some("t-web1")
        );
        h.get_by_label("c0ffee01");
        h.get_by_label("10.0.1.5/24");
        // A pending card says why it waits.
        h.get_by_label("zoned.1").click();
        h.run_steps(2);
        h.get_by_label_contains("Fix: ");
    }

    #[test]
    fn topology_opens_a_node_in_placement() {
        let mut h = showing(cluster(), Panel::Topology);
        h.get_by_label("node2").click_accesskit();
        h.run_steps(2);
        h.get_by_label("Tasks on this node: 2");
        h.get_by_label("Open in Placement").click();
        h.run_steps(3);
        let state = h.state();
        assert_eq!(state.panel, Panel::Placement);
        assert_eq!(
            state.panels.placement.selected_node.as_deref(),
            Some("n2bbbbbbbbbbbb")
        );
    }
}
