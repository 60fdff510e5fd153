//! Topology: managers (leader marked) and workers as cards, overlay networks as buses with
//! a line to every node that has containers on them. Pan with drag, zoom with the wheel,
//! click a node for its details.

use std::collections::HashSet;

use eframe::egui::{self, Color32, Pos2, Rect, RichText, Sense, Stroke, Vec2};

use super::panel::{Context, PanelView};
use super::plan_flow::PlanFlow;
use super::style;
use crate::quorum::{self, ManagerAction};
use crate::service::{JobId, JobUpdate};
use crate::snapshot::{Availability, ClusterSnapshot, NodeInfo, Role};
use crate::swarm::actions::NodeOp;
use crate::swarm::change::Change;

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
    /// Each column's x and the top of its lowest card: a card above another routes its
    /// link around it.
    pub columns: Vec<(f32, f32)>,
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
        // Once per network, not once per node: a large swarm has 10,000 containers.
        let present: HashSet<&str> = snap.networks[ni]
            .containers
            .iter()
            .map(|c| c.node.as_str())
            .collect();
        for (node_i, _) in &nodes {
            if present.contains(snap.nodes[*node_i].hostname.as_str()) {
                links.push((*node_i, ni));
            }
        }
    }
    let bottom = y + overlays.len() as f32 * BUS_GAP;
    let mut columns: Vec<(f32, f32)> = Vec::new();
    for (_, r) in &nodes {
        match columns.iter_mut().find(|(x, _)| *x == r.min.x) {
            Some((_, lowest)) => *lowest = lowest.max(r.min.y),
            None => columns.push((r.min.x, r.min.y)),
        }
    }
    Layout {
        nodes,
        buses,
        links,
        columns,
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
    /// The node action on its way, and the ID of the node it is for.
    pub flow: PlanFlow,
    pub acting_on: Option<String>,
    /// The add-label form of the node details.
    pub labels: super::node_labels::LabelForm,
}

impl PanelView for TopologyView {
    fn show(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>) {
        show(ui, self, cx);
    }

    fn on_job(&mut self, id: JobId, update: &JobUpdate, _cx: &mut Context<'_>) {
        self.flow.on_job(id, update);
    }

    fn reset(&mut self) {
        *self = Self::default();
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

fn show(ui: &mut egui::Ui, view: &mut TopologyView, cx: &mut Context<'_>) {
    let Some(snap) = cx.snapshot else {
        ui.label("No cluster open.");
        return;
    };
    let lay = layout(snap);
    let mut clicked = None;
    egui::Panel::right("node_details")
        .default_size(300.0)
        .resizable(true)
        .show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| details(ui, snap, view, cx));
        });
    ui.horizontal(|ui| {
        ui.label(RichText::new("Drag to pan, scroll to zoom, click a node for details.").weak());
        if ui.button("Fit").clicked() {
            view.scene_rect = None;
        }
    });
    let scene_rect = view.scene_rect.get_or_insert(lay.bounds);
    let shared = shared_names(&snap.nodes);
    egui::Scene::new()
        .zoom_range(0.1..=2.0)
        .show(ui, scene_rect, |ui| {
            paint_buses(ui, snap, &lay);
            // Only the cards in view are drawn (and can be clicked).
            let visible = ui.clip_rect();
            for (i, rect) in lay.nodes.iter().filter(|(_, r)| visible.intersects(*r)) {
                let node = &snap.nodes[*i];
                let selected = view.selected.as_deref() == Some(node.id.as_str());
                let shared = shared.contains(node.hostname.as_str());
                if node_card(ui, *rect, node, shared, selected).clicked() {
                    clicked = Some(node.id.clone());
                }
            }
        });
    if let Some(c) = clicked {
        view.selected = Some(c);
    }
}

/// Hostnames that more than one node has (cloned machines), found once per frame.
fn shared_names(nodes: &[NodeInfo]) -> HashSet<&str> {
    let mut seen = HashSet::new();
    nodes
        .iter()
        .filter(|n| !seen.insert(n.hostname.as_str()))
        .map(|n| n.hostname.as_str())
        .collect()
}

fn paint_buses(ui: &mut egui::Ui, snap: &ClusterSnapshot, lay: &Layout) {
    let painter = ui.painter().clone();
    let rect_of: std::collections::HashMap<usize, Rect> = lay.nodes.iter().copied().collect();
    for (k, (ni, y, x0, x1)) in lay.buses.iter().enumerate() {
        let color = bus_color(k, snap.networks[*ni].encrypted);
        painter.line_segment(
            [Pos2::new(*x0, *y), Pos2::new(*x1, *y)],
            Stroke::new(4.0, color),
        );
        for (node_i, link_net) in &lay.links {
            if link_net != ni {
                continue;
            }
            if let Some(r) = rect_of.get(node_i) {
                let path = link_path(lay, *r, *y, k);
                painter.add(egui::Shape::line(path.clone(), Stroke::new(2.0, color)));
                if let Some(end) = path.last() {
                    painter.circle_filled(*end, 5.0, color);
                }
            }
        }
    }
    // Each label where no link line runs through its text.
    let color = ui.visuals().strong_text_color();
    for (k, (ni, y, _, _)) in lay.buses.iter().enumerate() {
        let net = &snap.networks[*ni];
        let mut label = format!("{}  {}", net.name, net.subnets.join(", "));
        if net.encrypted {
            label.push_str("  🔒");
        }
        let galley = painter.layout_no_wrap(label, egui::FontId::proportional(13.0), color);
        let at = Pos2::new(label_x(lay, k, galley.size().x), y - 4.0 - galley.size().y);
        painter.galley(at, galley, color);
    }
}

/// Where bus `k`'s label starts: the first place from the bus's left end where `width`
/// fits between the link lines that come down through the band above the bus; the left
/// end when there is no such place.
pub fn label_x(lay: &Layout, k: usize, width: f32) -> f32 {
    const PAD: f32 = 6.0;
    let (_, _, x0, x1) = lay.buses[k];
    let card_of: std::collections::HashMap<usize, Rect> = lay.nodes.iter().copied().collect();
    let mut lines: Vec<f32> = lay
        .links
        .iter()
        .filter_map(|(node_i, net)| {
            let lane = lay.buses.iter().position(|(ni, ..)| ni == net)?;
            let card = card_of.get(node_i)?;
            let end = link_path(lay, *card, lay.buses[lane].1, lane).last()?.x;
            (lane >= k).then_some(end)
        })
        .collect();
    lines.sort_by(f32::total_cmp);
    let mut x = x0;
    for line in lines {
        if line < x - PAD {
            continue;
        }
        if line > x + width + PAD {
            break;
        }
        x = line + PAD;
    }
    if x + width <= x1 { x } else { x0 }
}

/// From a card down to its bus. A card with another card below it routes through the gap
/// beside that column, so a line never seems to join two nodes; each bus gets its own lane.
pub fn link_path(lay: &Layout, card: Rect, bus_y: f32, lane: usize) -> Vec<Pos2> {
    let start = card.center_bottom();
    let blocked = lay
        .columns
        .iter()
        .any(|(x, lowest)| *x == card.min.x && *lowest > card.min.y);
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
/// One node's card; `shared`: another node has its hostname, so its short ID is shown too.
fn node_card(
    ui: &mut egui::Ui,
    rect: Rect,
    node: &NodeInfo,
    shared: bool,
    selected: bool,
) -> egui::Response {
    let id = ui.scope_id().with(("node", &node.id));
    let resp = ui.interact(rect, id, Sense::click());
    let label = match shared {
        true => format!("{} ({})", node.hostname, node.short_id()),
        false => node.hostname.clone(),
    };
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
    // Strong and normal text, never the weak grey: the cards sit on their own fill and
    // must read in both themes.
    let text = visuals.strong_text_color();
    let detail = visuals.text_color();
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
        detail,
    );
    let address = if shared {
        format!("{} · {}", node.address, node.short_id())
    } else {
        node.address.clone()
    };
    painter.text(
        Pos2::new(x, rect.min.y + 46.0),
        egui::Align2::LEFT_TOP,
        address,
        egui::FontId::monospace(11.0),
        detail,
    );
    resp
}

fn details(
    ui: &mut egui::Ui,
    snap: &ClusterSnapshot,
    view: &mut TopologyView,
    cx: &mut Context<'_>,
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
    });
    ui.separator();
    if super::node_labels::show(ui, snap, node, &mut view.labels, &mut view.flow, cx) {
        view.acting_on = Some(node.id.clone());
    }
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
    // Counted as the Placement panel draws them: tasks meant to run.
    let tasks = snap
        .tasks
        .iter()
        .filter(|t| {
            t.node_id.as_deref() == Some(node.id.as_str())
                && t.desired_state == crate::snapshot::TaskState::Running
        })
        .count();
    ui.horizontal_wrapped(|ui| {
        ui.label(format!("Tasks on this node: {tasks}"));
        if ui.button("Open in Placement").clicked() {
            *cx.focus_node = Some(node.id.clone());
            *cx.goto = Some(super::state::Panel::Placement);
        }
    });
    ui.separator();
    node_actions(ui, snap, node, view, cx);
}

fn node_actions(
    ui: &mut egui::Ui,
    snap: &ClusterSnapshot,
    node: &NodeInfo,
    view: &mut TopologyView,
    cx: &mut Context<'_>,
) {
    ui.strong("Actions");
    let label = node.label_among(&snap.nodes);
    let live = cx.live();
    ui.horizontal_wrapped(|ui| {
        for op in actions_for(node) {
            if ui
                .add_enabled(live && !view.flow.busy(), egui::Button::new(op_name(op)))
                .clicked()
            {
                view.acting_on = Some(node.id.clone());
                // By ID: hostnames may be shared by cloned machines.
                let change = Change::Node {
                    node: node.id.clone(),
                    op,
                    force: false,
                };
                view.flow.request(cx, change);
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
    if view.acting_on.as_deref() == Some(node.id.as_str()) {
        view.flow.show(ui, cx);
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
pub(super) mod tests {
    use super::*;
    use crate::outcome::{Failure, FailureKind};
    use crate::service::{Command, Job};
    use crate::ui::{AppState, Panel, Source};
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    /// The panel and the commands it sent.
    pub(in crate::ui) struct Shown {
        pub state: AppState,
        pub cmds: Vec<Command>,
    }

    /// A live app state (an inventory is open) showing the demo cluster on `panel`.
    pub(in crate::ui) fn live_demo(panel: Panel) -> Harness<'static, Shown> {
        live(crate::snapshot::demo(), panel)
    }

    /// A live app state showing `snap` on `panel`, and the commands it sends.
    pub(in crate::ui) fn live(snap: ClusterSnapshot, panel: Panel) -> Harness<'static, Shown> {
        let mut state = AppState::new(Source::Inventory("inventory.toml".into()), panel);
        state.set_snapshot(snap);
        let mut h = Harness::builder()
            .with_size([1280.0, 820.0])
            .build_ui_state(
                |ui, s: &mut Shown| {
                    let cmds = crate::ui::app::draw_panel(ui, &mut s.state);
                    s.cmds.extend(cmds);
                },
                Shown {
                    state,
                    cmds: Vec::new(),
                },
            );
        h.run_steps(2);
        h
    }

    /// The plan job the last click started, with its change.
    pub(in crate::ui) fn last_plan(h: &Harness<'_, Shown>) -> (JobId, Change) {
        match h.state().cmds.last() {
            Some(Command::Start {
                id,
                job: Job::Plan(change),
            }) => (*id, change.clone()),
            other => panic!("expected a plan job, got {other:?}"),
        }
    }

    fn refusal(kind: FailureKind, message: &str) -> Failure {
        Failure {
            kind,
            host: Some("node1".into()),
            layer: Some(crate::snapshot::Layer::Swarm),
            message: message.into(),
            fix: None,
        }
    }

    #[test]
    fn force_it_anyway_comes_from_the_typed_outcome_not_the_text() {
        let mut h = live_demo(Panel::Topology);
        h.get_by_label("node1").click_accesskit();
        h.run_steps(2);
        h.get_by_label("Demote").click();
        h.run_steps(2);
        let (id, change) = last_plan(&h);
        // A failure that mentions --force but is not a quorum refusal offers nothing.
        let text = "node1: step failed: add --force to do it anyway";
        let cmds = h.state_mut().state.on_job(
            id,
            JobUpdate::Planned(Err(refusal(FailureKind::Failed, text))),
        );
        assert!(cmds.is_empty());
        h.run_steps(2);
        h.get_by_label_contains("add --force to do it anyway");
        assert!(h.query_by_label("Force it anyway…").is_none());
        // The typed refusal offers it, and forcing plans the same change with force set.
        h.get_by_label("Demote").click();
        h.run_steps(2);
        let (id, _) = last_plan(&h);
        let text = "demoting manager node1 would leave 2 managers with 1 reachable";
        h.state_mut().state.on_job(
            id,
            JobUpdate::Planned(Err(refusal(FailureKind::NeedsForce, text))),
        );
        h.run_steps(2);
        h.get_by_label("Force it anyway…").click();
        h.run_steps(2);
        let (_, forced) = last_plan(&h);
        assert_eq!(Some(forced), change.forced());
        assert!(matches!(
            last_plan(&h).1,
            Change::Node {
                force: true,
                op: NodeOp::Demote,
                ..
            }
        ));
    }

    #[test]
    fn a_node_actions_step_events_never_reach_the_wizard() {
        let mut h = live_demo(Panel::Topology);
        h.get_by_label("node4").click_accesskit();
        h.run_steps(2);
        h.get_by_label("Drain").click();
        h.run_steps(2);
        let (id, _) = last_plan(&h);
        let node4 = crate::snapshot::demo().nodes[3].clone();
        let step = crate::swarm::Step::new(
            "node1",
            crate::swarm::Action::SetAvailability {
                node_id: node4.id.clone(),
                name: node4.hostname.clone(),
                availability: crate::swarm::plan::Availability::Drain,
            },
            0,
        );
        let plan = crate::swarm::Plan::of(step.clone());
        h.state_mut()
            .state
            .on_job(id, JobUpdate::Planned(Ok(plan.clone())));
        h.state_mut().state.on_job(id, JobUpdate::Ended);
        h.run_steps(2);
        h.get_by_label("Apply…").click();
        h.run_steps(4);
        h.get_by_label("Change these hosts?");
        h.get_by_label("Yes, apply").click();
        h.run_steps(2);
        let apply = match h.state().cmds.last() {
            Some(Command::Start {
                id,
                job: Job::Apply { .. },
            }) => *id,
            other => panic!("expected an apply job, got {other:?}"),
        };
        let report = crate::service::StepReport {
            host: step.host.clone(),
            description: step.description.clone(),
            result: Ok(()),
        };
        let state = &mut h.state_mut().state;
        state.on_job(apply, JobUpdate::Step(report));
        state.on_job(apply, JobUpdate::Applied(Ok(1)));
        state.on_job(apply, JobUpdate::Ended);
        assert_eq!(state.panels.topology.flow.result(), Some(&Ok(1)));
        for flow in [
            &state.panels.wizard.init,
            &state.panels.wizard.join,
            &state.panels.wizard.overlay_flow,
        ] {
            assert!(matches!(flow.stage, crate::ui::plan_flow::Stage::Idle));
        }
        assert!(state.jobs.is_empty(), "the job ended");
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
        let mut h = live(snap, Panel::Topology);
        let label = format!("node4 ({})", &clone_id[..12]);
        h.get_by_label(&label).click_accesskit();
        h.run_steps(2);
        assert_eq!(
            h.state().state.panels.topology.selected.as_deref(),
            Some(clone_id.as_str())
        );
        h.get_by_label("Drain").click();
        h.run_steps(2);
        match h.state().cmds.as_slice() {
            [
                Command::Start {
                    job: Job::Plan(Change::Node { node, op, force }),
                    ..
                },
            ] => {
                assert_eq!((node, *op, *force), (&clone_id, NodeOp::Drain, false));
            }
            other => panic!("expected one node action, got {other:?}"),
        }
    }

    #[test]
    fn bus_labels_sit_between_the_link_lines() {
        let snap = crate::snapshot::demo();
        let lay = layout(&snap);
        let width = 140.0;
        for k in 0..lay.buses.len() {
            let x = label_x(&lay, k, width);
            let (_, _, x0, x1) = lay.buses[k];
            assert!(x >= x0 && x + width <= x1, "bus {k}: {x}");
            for (node_i, net) in &lay.links {
                let lane = lay.buses.iter().position(|(ni, ..)| ni == net).unwrap();
                let card = lay.nodes.iter().find(|(i, _)| i == node_i).unwrap().1;
                let line = link_path(&lay, card, lay.buses[lane].1, lane)
                    .last()
                    .unwrap()
                    .x;
                if lane >= k {
                    assert!(
                        line < x || line > x + width,
                        "bus {k}'s label at {x} crosses the line at {line}"
                    );
                }
            }
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
