//! Maintenance: a command run node by node (rolling maintenance), the nodes chosen with
//! check boxes; planned, confirmed, applied and followed step by step through the panel's
//! [`PlanFlow`] as `Change::Maintenance`, the plan `swarmdeck maintain` makes.

use std::collections::BTreeSet;
use std::time::Duration;

use eframe::egui::{self, RichText};

use super::panel::{Context, PanelView};
use super::plan_flow::PlanFlow;
use super::style;
use crate::service::{JobId, JobUpdate};
use crate::snapshot::{ClusterSnapshot, Role};
use crate::swarm::change::Change;
use crate::swarm::maintenance::{self, DEFAULT_STEP_TIMEOUT, MaintenanceRequest, Selection};
use crate::untrusted::visible;

const READ_ONLY: &str = "Read-only: open an inventory to change hosts";

/// The form (nodes, command, deadline per step) and the flow of the last run.
#[derive(Debug, Clone)]
pub struct MaintenanceView {
    /// The chosen nodes, by ID.
    pub chosen: BTreeSet<String>,
    pub command: String,
    pub step_minutes: u64,
    pub flow: PlanFlow,
}

impl Default for MaintenanceView {
    fn default() -> Self {
        Self {
            chosen: BTreeSet::new(),
            command: String::new(),
            step_minutes: DEFAULT_STEP_TIMEOUT.as_secs() / 60,
            flow: PlanFlow::default(),
        }
    }
}

impl MaintenanceView {
    /// Why the form cannot be planned yet, if it cannot.
    pub fn form_problem(&self) -> Option<&'static str> {
        if self.chosen.is_empty() {
            Some("choose at least one node")
        } else if self.command.trim().is_empty() {
            Some("type the command to run on each node")
        } else {
            None
        }
    }

    pub fn request(&self) -> MaintenanceRequest {
        MaintenanceRequest {
            nodes: Selection::Nodes(self.chosen.iter().cloned().collect()),
            command: self.command.trim().to_string(),
            step_timeout: Duration::from_secs(self.step_minutes.max(1) * 60),
        }
    }
}

impl PanelView for MaintenanceView {
    fn show(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>) {
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.heading("Rolling maintenance");
            ui.label(
                "Runs a command (an engine upgrade, a restart) on the chosen nodes one at a \
                 time: each is drained, its tasks leave, the command runs on its host over \
                 SSH, the node must come back ready, its availability is set back and its \
                 tasks must be back before the next. Workers go first, the leader last; a \
                 manager only when a majority stays reachable without it. The run stops at \
                 the first failure, leaving that node drained.",
            );
            ui.add_space(8.0);
            match cx.snapshot {
                Some(snap) => nodes(ui, self, snap, cx.live()),
                None => {
                    ui.label("No cluster open.");
                }
            }
            ui.add_space(8.0);
            form(ui, self, cx);
            ui.add_space(8.0);
            self.flow.show(ui, cx);
        });
    }

    fn on_job(&mut self, id: JobId, update: &JobUpdate, _cx: &mut Context<'_>) {
        self.flow.on_job(id, update);
    }

    fn reset(&mut self) {
        *self = Self::default();
    }
}

/// One check box per node, with what the order and the skew depend on.
fn nodes(ui: &mut egui::Ui, view: &mut MaintenanceView, snap: &ClusterSnapshot, live: bool) {
    view.chosen
        .retain(|id| snap.nodes.iter().any(|n| &n.id == id));
    ui.horizontal(|ui| {
        if ui.add_enabled(live, egui::Button::new("All")).clicked() {
            view.chosen = snap.nodes.iter().map(|n| n.id.clone()).collect();
        }
        if ui.add_enabled(live, egui::Button::new("None")).clicked() {
            view.chosen.clear();
        }
    });
    egui::Grid::new("maintenance-nodes")
        .striped(true)
        .show(ui, |ui| {
            for n in &snap.nodes {
                let mut on = view.chosen.contains(&n.id);
                let label = visible(&n.label_among(&snap.nodes)).into_owned();
                if ui
                    .add_enabled(live, egui::Checkbox::new(&mut on, label))
                    .changed()
                {
                    if on {
                        view.chosen.insert(n.id.clone());
                    } else {
                        view.chosen.remove(&n.id);
                    }
                }
                let role = match (n.role, n.leader) {
                    (Role::Manager, true) => "manager (leader)",
                    (Role::Manager, false) => "manager",
                    (Role::Worker, _) => "worker",
                };
                ui.label(role);
                ui.label(format!("{} · {}", n.state, n.availability));
                ui.label(format!("engine {}", visible(&n.engine_version)));
                ui.end_row();
            }
        });
    ui.label(
        RichText::new(format!(
            "Engine versions: {}",
            maintenance::versions(&snap.nodes)
        ))
        .weak(),
    );
}

fn form(ui: &mut egui::Ui, view: &mut MaintenanceView, cx: &mut Context<'_>) {
    let live = cx.live();
    ui.horizontal(|ui| {
        let l = ui.label("Command:");
        ui.add_enabled(
            live,
            egui::TextEdit::singleline(&mut view.command)
                .hint_text("e.g. service docker restart")
                .desired_width(360.0),
        )
        .labelled_by(l.id);
    });
    ui.horizontal(|ui| {
        let l = ui.label("Each step may take up to");
        ui.add_enabled(
            live,
            egui::DragValue::new(&mut view.step_minutes)
                .range(1..=240)
                .suffix(" min"),
        )
        .labelled_by(l.id);
    });
    let problem = view.form_problem();
    let can_plan = live && !view.flow.busy() && problem.is_none();
    let plan = ui
        .add_enabled(can_plan, egui::Button::new("Plan maintenance"))
        .on_disabled_hover_text(if live {
            problem.unwrap_or("a plan is in progress")
        } else {
            READ_ONLY
        });
    if plan.clicked() {
        view.flow.request(cx, Change::Maintenance(view.request()));
    }
    if live && let Some(p) = problem {
        ui.colored_label(style::warn(ui), p);
    }
}

#[cfg(test)]
mod tests {
    use egui_kittest::kittest::{NodeT, Queryable};

    use super::*;
    use crate::ui::registry::Panel;
    use crate::ui::workload_view::testing::harness;
    use crate::ui::{AppState, Source};

    #[test]
    fn the_form_needs_nodes_and_a_command_and_asks_for_them_by_id() {
        let mut v = MaintenanceView::default();
        assert_eq!(v.form_problem(), Some("choose at least one node"));
        v.chosen.insert("id4".into());
        assert_eq!(
            v.form_problem(),
            Some("type the command to run on each node")
        );
        v.command = " service docker restart ".into();
        assert_eq!(v.form_problem(), None);
        let r = v.request();
        assert_eq!(r.nodes, Selection::Nodes(vec!["id4".into()]));
        assert_eq!(r.command, "service docker restart");
        assert_eq!(r.step_timeout, DEFAULT_STEP_TIMEOUT);
    }

    #[test]
    fn the_demo_lists_its_nodes_read_only() {
        let h = harness(AppState::new(Source::Demo, Panel::Maintenance));
        let snap = crate::snapshot::demo();
        for n in &snap.nodes {
            let label = n.label_among(&snap.nodes);
            assert!(h.get_by_label(&label).accesskit_node().is_disabled());
        }
        assert!(
            h.get_by_label("Plan maintenance")
                .accesskit_node()
                .is_disabled()
        );
    }
}
