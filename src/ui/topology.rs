//! Topology: managers (leader marked) and workers as cards, overlay networks as buses with
//! a line to every node that has containers on them. Pan with drag, zoom with the wheel,
//! click a node for its details.

use eframe::egui::{self, Color32, Pos2, Rect, RichText, Sense, Stroke, Vec2};

use super::state::AppState;
use super::style;
use crate::quorum::{self, ManagerAction};
use crate::service::Command;
use crate::snapshot::{Availability, ClusterSnapshot, NodeInfo, Role};
use crate::swarm::Plan;
use crate::swarm::actions::NodeOp;

const CARD: Vec2 = Vec2::new(170.0, 70.0);
const GAP: Vec2 = Vec2::new(28.0, 40.0);
const BUS_GAP: f32 = 46.0;

/// Where everything goes, in scene coordinates. Pure, so it is tested without a screen.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// (index into `snapshot.nodes`, card rectangle)
    pub nodes: Vec<(usize, Rect)>,
    /// (index into `snapshot.networks`, y of the bus, x range)
    pub buses: Vec<(usize, f32, f32, f32)>,
    /// (node index, network index): the node has containers on that network.
    pub links: Vec<(usize, usize)>,
    pub bounds: Rect,
}

/// Managers on the first row (leader first), workers wrapped on the rows below, overlay
/// buses underneath. Rows wrap so that large clusters stay roughly as wide as tall.
pub fn layout(snap: &ClusterSnapshot) -> Layout {
    let mut managers: Vec<usize> = (0..snap.nodes.len())
        .filter(|&i| snap.nodes[i].role == Role::Manager)
        .collect();
    managers.sort_by_key(|&i| (!snap.nodes[i].leader, snap.nodes[i].hostname.clone()));
    let mut workers: Vec<usize> = (0..snap.nodes.len())
        .filter(|&i| snap.nodes[i].role == Role::Worker)
        .collect();
    workers.sort_by_key(|&i| snap.nodes[i].hostname.clone());

    let per_row = ((snap.nodes.len() as f32).sqrt().ceil() as usize).max(5);
    let mut nodes = Vec::new();
    let mut y = 0.0;
    for group in [&managers, &workers] {
        for row in group.chunks(per_row) {
            for (col, &i) in row.iter().enumerate() {
                let min = Pos2::new(col as f32 * (CARD.x + GAP.x), y);
                nodes.push((i, Rect::from_min_size(min, CARD)));
            }
            y += CARD.y + GAP.y;
        }
    }
    let width = nodes.iter().map(|(_, r)| r.max.x).fold(CARD.x, f32::max);

    let overlays: Vec<usize> = (0..snap.networks.len())
        .filter(|&i| snap.networks[i].driver == "overlay")
        .collect();
    let mut buses = Vec::new();
    let mut links = Vec::new();
    for (k, &ni) in overlays.iter().enumerate() {
        let bus_y = y + k as f32 * BUS_GAP;
        buses.push((ni, bus_y, 0.0, width));
        for (node_i, _) in &nodes {
            let host = &snap.nodes[*node_i].hostname;
            if snap.networks[ni].containers.iter().any(|c| &c.node == host) {
                links.push((*node_i, ni));
            }
        }
    }
    let bottom = y + overlays.len() as f32 * BUS_GAP;
    Layout {
        nodes,
        buses,
        links,
        bounds: Rect::from_min_max(
            Pos2::new(-20.0, -20.0),
            Pos2::new(width + 20.0, bottom + 20.0),
        ),
    }
}

/// View state kept between frames.
#[derive(Debug, Clone, Default)]
pub struct TopologyView {
    pub scene_rect: Option<Rect>,
    /// The selected node's ID (hostnames may be shared by cloned machines).
    pub selected: Option<String>,
    /// The node action being planned or confirmed.
    pub action: Option<NodeAction>,
}

/// A node action on its way: asked → planned (or refused) → confirmed → applied.
#[derive(Debug, Clone)]
pub struct NodeAction {
    /// The node's ID: what the engine acts on.
    pub node_id: String,
    /// How the node is named to the user.
    pub label: String,
    pub op: NodeOp,
    pub force: bool,
    pub plan: Option<Result<Plan, String>>,
    pub applying: bool,
    pub result: Option<Result<usize, String>>,
}

impl TopologyView {
    pub fn on_plan(&mut self, result: Result<Plan, String>) {
        if let Some(a) = self.action.as_mut() {
            a.plan = Some(result);
        }
    }

    pub fn on_applied(&mut self, result: Result<usize, String>) {
        if let Some(a) = self.action.as_mut() {
            a.applying = false;
            a.result = Some(result);
        }
    }
}

fn op_name(op: NodeOp) -> &'static str {
    match op {
        NodeOp::Promote => "Promote",
        NodeOp::Demote => "Demote",
        NodeOp::Drain => "Drain",
        NodeOp::Pause => "Pause",
        NodeOp::Activate => "Activate",
        NodeOp::Remove => "Remove",
    }
}

/// The actions that make sense for a node in its current role and availability.
fn actions_for(node: &NodeInfo) -> Vec<NodeOp> {
    let mut ops = vec![match node.role {
        Role::Manager => NodeOp::Demote,
        Role::Worker => NodeOp::Promote,
    }];
    for (op, avail) in [
        (NodeOp::Drain, Availability::Drain),
        (NodeOp::Pause, Availability::Pause),
        (NodeOp::Activate, Availability::Active),
    ] {
        if node.availability != avail {
            ops.push(op);
        }
    }
    ops.push(NodeOp::Remove);
    ops
}

pub fn show(ui: &mut egui::Ui, state: &mut AppState) -> Vec<Command> {
    let mut cmds = Vec::new();
    let live = matches!(state.source, super::Source::Inventory(_));
    let Some(snap) = state.snapshot.as_ref() else {
        ui.label("No cluster open.");
        return cmds;
    };
    let lay = layout(snap);
    let mut clicked = None;
    egui::Panel::right("node_details")
        .default_size(300.0)
        .resizable(true)
        .show(ui, |ui| {
            details(ui, snap, &mut state.topology, live, &mut cmds);
        });
    ui.horizontal(|ui| {
        ui.label(RichText::new("Drag to pan, scroll to zoom, click a node for details.").weak());
        if ui.button("Fit").clicked() {
            state.topology.scene_rect = None;
        }
    });
    let scene_rect = state.topology.scene_rect.get_or_insert(lay.bounds);
    egui::Scene::new()
        .zoom_range(0.1..=2.0)
        .show(ui, scene_rect, |ui| {
            paint_buses(ui, snap, &lay);
            for (i, rect) in &lay.nodes {
                let node = &snap.nodes[*i];
                let selected = state.topology.selected.as_deref() == Some(node.id.as_str());
                if node_card(ui, *rect, node, &snap.nodes, selected).clicked() {
                    clicked = Some(node.id.clone());
                }
            }
        });
    if let Some(c) = clicked {
        if state.topology.selected.as_ref() != Some(&c) {
            state.topology.action = None;
        }
        state.topology.selected = Some(c);
    }
    cmds
}

fn paint_buses(ui: &mut egui::Ui, snap: &ClusterSnapshot, lay: &Layout) {
    let painter = ui.painter().clone();
    let text_color = ui.visuals().text_color();
    for (k, (ni, y, x0, x1)) in lay.buses.iter().enumerate() {
        let net = &snap.networks[*ni];
        let color = bus_color(k, net.encrypted);
        painter.line_segment(
            [Pos2::new(*x0, *y), Pos2::new(*x1, *y)],
            Stroke::new(4.0, color),
        );
        let mut label = format!("{}  {}", net.name, net.subnets.join(", "));
        if net.encrypted {
            label.push_str("  🔒");
        }
        painter.text(
            Pos2::new(*x0, y - 4.0),
            egui::Align2::LEFT_BOTTOM,
            label,
            egui::FontId::proportional(13.0),
            text_color,
        );
        for (node_i, link_net) in &lay.links {
            if link_net != ni {
                continue;
            }
            if let Some((_, r)) = lay.nodes.iter().find(|(i, _)| i == node_i) {
                let path = link_path(lay, *r, *y, k);
                painter.add(egui::Shape::line(path.clone(), Stroke::new(2.0, color)));
                if let Some(end) = path.last() {
                    painter.circle_filled(*end, 5.0, color);
                }
            }
        }
    }
}

/// From a card down to its bus. A card with another card below it routes through the gap
/// beside that column, so a line never seems to join two nodes; each bus gets its own lane.
pub fn link_path(lay: &Layout, card: Rect, bus_y: f32, lane: usize) -> Vec<Pos2> {
    let start = card.center_bottom();
    let blocked = lay
        .nodes
        .iter()
        .any(|(_, r)| r.min.x == card.min.x && r.min.y > card.min.y);
    if !blocked {
        return vec![start, Pos2::new(start.x, bus_y)];
    }
    let offset = lane as f32 * 5.0;
    let turn_y = card.max.y + GAP.y / 2.0 - 8.0 + offset;
    let lane_x = card.max.x + GAP.x / 2.0 - 6.0 + offset;
    vec![
        start,
        Pos2::new(start.x, turn_y),
        Pos2::new(lane_x, turn_y),
        Pos2::new(lane_x, bus_y),
    ]
}

fn bus_color(k: usize, encrypted: bool) -> Color32 {
    if encrypted {
        return Color32::from_rgb(0xb0, 0x7c, 0xe8);
    }
    const PALETTE: [Color32; 4] = [
        Color32::from_rgb(0x4f, 0x9d, 0xde),
        Color32::from_rgb(0x3c, 0xb3, 0x9c),
        Color32::from_rgb(0xe0, 0x8e, 0x45),
        Color32::from_rgb(0x8f, 0x9b, 0xab),
    ];
    PALETTE[k % PALETTE.len()]
}

/// One node as a clickable card: border colour is its state, a dashed look for drained
/// or paused nodes, a star for the leader. A hostname another node shares (cloned
/// machines) comes with the node's short ID, so the two cards can be told apart.
fn node_card(
    ui: &mut egui::Ui,
    rect: Rect,
    node: &NodeInfo,
    all: &[NodeInfo],
    selected: bool,
) -> egui::Response {
    let id = ui.scope_id().with(("node", &node.id));
    let resp = ui.interact(rect, id, Sense::click());
    let label = node.label_among(all);
    resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, label.clone()));
    let visuals = ui.visuals();
    let state_color = style::node_state_color(ui, &node.state);
    let fill = if node.role == Role::Manager {
        visuals.faint_bg_color.gamma_multiply(1.6)
    } else {
        visuals.extreme_bg_color
    };
    let stroke_w = if selected || resp.hovered() { 3.0 } else { 1.5 };
    let painter = ui.painter();
    painter.rect(
        rect,
        8.0,
        fill,
        Stroke::new(stroke_w, state_color),
        egui::StrokeKind::Inside,
    );
    if node.availability != Availability::Active {
        painter.rect_stroke(
            rect.shrink(5.0),
            6.0,
            Stroke::new(1.0, style::warn(ui)),
            egui::StrokeKind::Inside,
        );
    }
    let role = match (node.role, node.leader) {
        (Role::Manager, true) => "★ leader",
        (Role::Manager, false) => "manager",
        (Role::Worker, _) => "worker",
    };
    let text = visuals.text_color();
    let weak = visuals.weak_text_color();
    let x = rect.min.x + 10.0;
    painter.text(
        Pos2::new(x, rect.min.y + 8.0),
        egui::Align2::LEFT_TOP,
        crate::untrusted::visible(&node.hostname),
        egui::FontId::proportional(15.0),
        text,
    );
    painter.text(
        Pos2::new(x, rect.min.y + 28.0),
        egui::Align2::LEFT_TOP,
        format!("{role} · {} · {}", node.state, node.availability),
        egui::FontId::proportional(12.0),
        weak,
    );
    let address = if node.name_is_shared(all) {
        format!("{} · {}", node.address, node.short_id())
    } else {
        node.address.clone()
    };
    painter.text(
        Pos2::new(x, rect.min.y + 46.0),
        egui::Align2::LEFT_TOP,
        address,
        egui::FontId::monospace(11.0),
        weak,
    );
    resp
}

fn details(
    ui: &mut egui::Ui,
    snap: &ClusterSnapshot,
    view: &mut TopologyView,
    live: bool,
    cmds: &mut Vec<Command>,
) {
    ui.heading("Node");
    let selected = view.selected.clone();
    let Some(node) = selected.and_then(|s| snap.nodes.iter().find(|n| n.id == s)) else {
        ui.label("Select a node in the picture.");
        legend(ui);
        return;
    };
    egui::Grid::new("node_grid").num_columns(2).show(ui, |ui| {
        let rows = [
            (
                "Hostname",
                crate::untrusted::visible(&node.hostname).into_owned(),
            ),
            (
                "Role",
                if node.leader {
                    "manager (leader)".into()
                } else {
                    format!("{:?}", node.role).to_lowercase()
                },
            ),
            ("State", node.state.to_string()),
            ("Availability", node.availability.to_string()),
            (
                "Raft",
                node.reachability
                    .as_ref()
                    .map_or_else(|| "—".into(), |r| r.to_string()),
            ),
            ("Address", node.address.clone()),
            ("Engine", node.engine_version.clone()),
            ("ID", node.id.clone()),
        ];
        for (k, v) in rows {
            ui.label(RichText::new(k).weak());
            ui.label(v);
            ui.end_row();
        }
        for (k, v) in &node.labels {
            ui.label(RichText::new(format!("label {k}")).weak());
            ui.label(v);
            ui.end_row();
        }
    });
    ui.separator();
    ui.strong("Containers on overlays");
    let mut any = false;
    for net in &snap.networks {
        for c in net.containers.iter().filter(|c| c.node == node.hostname) {
            any = true;
            ui.label(format!(
                "{} on {} {}",
                c.name,
                net.name,
                c.ipv4.as_deref().unwrap_or("")
            ));
        }
    }
    if !any {
        ui.label(RichText::new("none").weak());
    }
    ui.separator();
    node_actions(ui, snap, node, view, live, cmds);
}

fn node_actions(
    ui: &mut egui::Ui,
    snap: &ClusterSnapshot,
    node: &NodeInfo,
    view: &mut TopologyView,
    live: bool,
    cmds: &mut Vec<Command>,
) {
    ui.strong("Actions");
    let label = node.label_among(&snap.nodes);
    ui.horizontal_wrapped(|ui| {
        for op in actions_for(node) {
            if ui
                .add_enabled(live, egui::Button::new(op_name(op)))
                .clicked()
            {
                view.action = Some(NodeAction {
                    node_id: node.id.clone(),
                    label: label.clone(),
                    op,
                    force: false,
                    plan: None,
                    applying: false,
                    result: None,
                });
                cmds.push(Command::PlanNodeAction {
                    node_id: node.id.clone(),
                    op,
                    force: false,
                });
            }
        }
    });
    if !live {
        ui.label(RichText::new("Read-only in the demo.").weak());
    }
    // What quorum says before asking the hosts: the same check the engine applies.
    if node.role == Role::Manager {
        let managers = snap.managers();
        if let Err(r) = quorum::check_manager_action(&managers, &label, ManagerAction::Demote) {
            ui.colored_label(style::warn(ui), format!("Quorum: {r}"));
        }
    }
    let Some(action) = view.action.as_mut() else {
        return;
    };
    if action.node_id != node.id {
        return;
    }
    match (&action.plan, &action.result) {
        (_, Some(Ok(n))) => {
            ui.colored_label(
                style::ok(ui),
                format!("{}: done ({n} step(s)).", op_name(action.op)),
            );
        }
        (_, Some(Err(e))) => {
            ui.colored_label(style::bad(ui), e);
        }
        (None, None) => {
            ui.spinner();
        }
        (Some(Err(e)), None) => {
            ui.colored_label(style::bad(ui), e);
            if e.contains("--force")
                && !action.force
                && ui
                    .button("Force it anyway…")
                    .on_hover_text("Accept the consequence above")
                    .clicked()
            {
                action.force = true;
                action.plan = None;
                cmds.push(Command::PlanNodeAction {
                    node_id: action.node_id.clone(),
                    op: action.op,
                    force: true,
                });
            }
        }
        (Some(Ok(plan)), None) => {
            for s in &plan.steps {
                ui.label(&s.description);
                ui.monospace(format!("$ {}", s.cli));
            }
            for n in &plan.notes {
                ui.label(RichText::new(format!("note: {n}")).weak());
            }
            if action.applying {
                ui.spinner();
            } else if plan.is_empty() {
                ui.label("Nothing to change.");
            } else if ui
                .button(format!(
                    "Yes, {} {}",
                    op_name(action.op).to_lowercase(),
                    action.label
                ))
                .clicked()
            {
                action.applying = true;
                cmds.push(Command::ApplyPlan {
                    purpose: crate::service::PlanPurpose::Node,
                    plan: plan.clone(),
                });
            }
        }
    }
}

fn legend(ui: &mut egui::Ui) {
    ui.add_space(12.0);
    ui.strong("Legend");
    ui.colored_label(style::ok(ui), "■ ready");
    ui.colored_label(style::bad(ui), "■ down / disconnected");
    ui.colored_label(style::warn(ui), "■ inner frame: drained or paused");
    ui.label("★ Raft leader; managers have the lighter cards");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::{Panel, Source};
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    /// The panel and the commands it sent.
    struct Shown {
        state: AppState,
        cmds: Vec<Command>,
    }

    #[test]
    fn a_cloned_hostname_is_told_apart_and_its_node_acted_on_by_id() {
        let mut snap = crate::snapshot::demo();
        // node5 is a clone of node4: the same hostname, a node ID of its own.
        let clone = snap
            .nodes
            .iter_mut()
            .find(|n| n.hostname == "node5")
            .unwrap();
        clone.hostname = "node4".into();
        let clone_id = clone.id.clone();
        let mut state = AppState::new(Source::Inventory("inventory.toml".into()), Panel::Topology);
        state.set_snapshot(snap);
        let mut h = Harness::new_ui_state(
            |ui, s: &mut Shown| {
                let cmds = show(ui, &mut s.state);
                s.cmds.extend(cmds);
            },
            Shown {
                state,
                cmds: Vec::new(),
            },
        );
        h.run_steps(2);
        let label = format!("node4 ({})", &clone_id[..12]);
        h.get_by_label(&label).click_accesskit();
        h.run_steps(2);
        assert_eq!(
            h.state().state.topology.selected.as_deref(),
            Some(clone_id.as_str())
        );
        h.get_by_label("Drain").click();
        h.run_steps(2);
        match h.state().cmds.as_slice() {
            [Command::PlanNodeAction { node_id, op, force }] => {
                assert_eq!((node_id, *op, *force), (&clone_id, NodeOp::Drain, false));
            }
            other => panic!("expected one node action, got {other:?}"),
        }
    }

    #[test]
    fn managers_lead_and_links_follow_containers() {
        let snap = crate::snapshot::demo();
        let lay = layout(&snap);
        assert_eq!(lay.nodes.len(), snap.nodes.len());
        // The leader's card is the first on the first row.
        let (first, rect) = lay.nodes[0];
        assert!(snap.nodes[first].leader);
        assert_eq!(rect.min, Pos2::ZERO);
        // Workers sit below every manager.
        let lowest_manager = lay
            .nodes
            .iter()
            .filter(|(i, _)| snap.nodes[*i].role == Role::Manager)
            .map(|(_, r)| r.min.y)
            .fold(0.0, f32::max);
        assert!(
            lay.nodes
                .iter()
                .filter(|(i, _)| snap.nodes[*i].role == Role::Worker)
                .all(|(_, r)| r.min.y > lowest_manager)
        );
        // appnet has containers on node1, node2, node4 and node5: four links.
        let appnet = snap
            .networks
            .iter()
            .position(|n| n.name == "appnet")
            .unwrap();
        assert_eq!(lay.links.iter().filter(|(_, n)| *n == appnet).count(), 4);
        // Links from cards with a card below them never cross another card.
        for (node_i, _) in &lay.links {
            let (_, card) = lay.nodes.iter().find(|(i, _)| i == node_i).unwrap();
            let path = link_path(&lay, *card, lay.bounds.max.y, 0);
            for seg in path.windows(2) {
                let seg_rect = Rect::from_two_pos(seg[0], seg[1]).shrink(0.5);
                for (other, r) in &lay.nodes {
                    assert!(
                        other == node_i || !r.intersects(seg_rect),
                        "link of {node_i} crosses {other}"
                    );
                }
            }
        }
        // Cards never overlap.
        for (a, ra) in &lay.nodes {
            for (b, rb) in &lay.nodes {
                assert!(a == b || !ra.intersects(*rb));
            }
        }
    }
}
