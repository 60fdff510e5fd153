//! A service's changes in the Services panel: Scale, Update image, Redeploy and Rollback
//! through the one [`PlanFlow`], then the rollout as it goes: per slot the task replaced
//! and the task replacing it (image, state, node, error), and a banner when swarm pauses
//! or rolls it back.

use eframe::egui::{self, RichText};

use super::panel::Context;
use super::plan_flow::{PlanFlow, Stage};
use super::style;
use crate::service::{JobId, JobUpdate};
use crate::snapshot::ServiceInfo;
use crate::snapshot::workloads::ServiceMode;
use crate::swarm::change::Change;
use crate::swarm::service::{ServiceChange, ServiceEdit, SpecUpdate};
use crate::untrusted::visible;
use crate::workloads::rollout::{Phase, RolloutProgress, TaskView};

#[derive(Debug, Default)]
pub struct RolloutActions {
    pub flow: PlanFlow,
    /// The service the inputs, flow and progress are for.
    service_id: Option<String>,
    replicas: u64,
    image: String,
    /// The apply job whose rollout is shown.
    job: Option<JobId>,
    pub progress: Option<RolloutProgress>,
}

impl RolloutActions {
    /// Draws the actions for `service`, the flow where it stands and the rollout.
    pub fn show(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>, service: &ServiceInfo) {
        if self.service_id.as_deref() != Some(service.id.as_str()) && !self.flow.busy() {
            *self = Self {
                service_id: Some(service.id.clone()),
                replicas: service.desired,
                image: service.image_short().to_string(),
                ..Self::default()
            };
        }
        ui.add_space(6.0);
        ui.strong("Change");
        let mut edit = None;
        let mut rebalance = false;
        ui.add_enabled_ui(cx.live() && !self.flow.busy(), |ui| {
            ui.horizontal_wrapped(|ui| {
                if service.mode == ServiceMode::Replicated {
                    ui.add(egui::DragValue::new(&mut self.replicas).range(0..=1000));
                    if ui.button("Scale").clicked() {
                        edit = Some(ServiceEdit::Scale(self.replicas));
                    }
                    ui.separator();
                }
                ui.add(egui::TextEdit::singleline(&mut self.image).desired_width(220.0));
                if ui.button("Update image").clicked() && !self.image.trim().is_empty() {
                    edit = Some(ServiceEdit::Update(SpecUpdate {
                        image: Some(self.image.trim().to_string()),
                        ..Default::default()
                    }));
                }
                ui.separator();
                if ui
                    .button("Redeploy")
                    .on_hover_text("Replace every task with the same spec (--force)")
                    .clicked()
                {
                    edit = Some(ServiceEdit::Update(SpecUpdate {
                        force: true,
                        ..Default::default()
                    }));
                }
                if service.mode == ServiceMode::Replicated {
                    rebalance = ui
                        .button("Rebalance")
                        .on_hover_text(
                            "Spread the tasks over every node again, e.g. after a node came \
                             back: a forced redeploy, refused without quorum",
                        )
                        .clicked();
                }
                if ui
                    .button("Rollback")
                    .on_hover_text("Back to the spec before the last update")
                    .clicked()
                {
                    edit = Some(ServiceEdit::Rollback);
                }
            });
        })
        .response
        .on_disabled_hover_text("Open an inventory to change services (not a demo or bundle)");
        if let Some(edit) = edit {
            self.progress = None;
            self.job = None;
            let change = ServiceChange {
                service: service.id.clone(),
                edit,
            };
            self.flow.request(cx, Change::Service(change));
        }
        if rebalance {
            self.progress = None;
            self.job = None;
            let r = crate::swarm::rebalance::Rebalance {
                services: vec![service.id.clone()],
            };
            self.flow.request(cx, Change::Rebalance(r));
        }
        self.flow.show(ui, cx);
        if let Some(p) = &self.progress {
            progress(ui, p);
        }
    }

    /// Takes the flow's job updates, and the rollout that follows an apply.
    pub fn on_job(&mut self, id: JobId, update: &JobUpdate) {
        if let Stage::Applying { job, .. } = &self.flow.stage
            && *job == id
        {
            self.job = Some(id);
        }
        self.flow.on_job(id, update);
        if let JobUpdate::Rollout(p) = update
            && self.job == Some(id)
        {
            self.progress = Some((**p).clone());
        }
    }
}

/// The banner, the count and one row per slot.
pub fn progress(ui: &mut egui::Ui, p: &RolloutProgress) {
    ui.add_space(6.0);
    ui.strong("Rollout");
    match &p.phase {
        Phase::Paused { reason } => {
            banner(ui, style::bad(ui), &format!("Paused: {}", visible(reason)));
        }
        Phase::RolledBack { reason } => {
            banner(
                ui,
                style::bad(ui),
                &format!("Rolled back: {}", visible(reason)),
            );
        }
        Phase::Completed => {
            ui.colored_label(style::ok(ui), "Completed");
        }
        Phase::InProgress => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("in progress");
            });
        }
    }
    ui.label(format!("{} of {} slot(s) updated", p.updated, p.total));
    egui::Grid::new("rollout_slots")
        .striped(true)
        .num_columns(4)
        .show(ui, |ui| {
            for h in ["slot", "was", "", "now"] {
                ui.label(RichText::new(h).weak());
            }
            ui.end_row();
            for s in &p.slots {
                ui.label(visible(&s.slot));
                ui.label(task_text(s.old.as_ref()));
                ui.label("→");
                let color = if s.updated {
                    style::ok(ui)
                } else if s.new.as_ref().is_some_and(|t| t.error.is_some()) {
                    style::bad(ui)
                } else {
                    ui.visuals().text_color()
                };
                ui.colored_label(color, task_text(s.new.as_ref()));
                ui.end_row();
            }
        });
}

fn banner(ui: &mut egui::Ui, color: egui::Color32, text: &str) {
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.add(egui::Label::new(RichText::new(text).color(color).strong()).wrap());
    });
}

/// "probe:2 running on node2 (error)".
fn task_text(t: Option<&TaskView>) -> String {
    let Some(t) = t else {
        return "—".into();
    };
    let node = if t.node.is_empty() { "—" } else { &t.node };
    let mut s = format!("{} {} on {}", visible(&t.image), t.state, visible(node));
    if let Some(e) = &t.error {
        s.push_str(&format!(" ({})", visible(e)));
    }
    s
}

#[cfg(test)]
mod tests {
    use egui_kittest::kittest::Queryable;

    use super::super::workload_view::testing::{cluster, showing};
    use crate::swarm::service::{FieldChange, ServiceStep};
    use crate::swarm::{Action, Plan, Step};
    use crate::ui::Panel;
    use crate::ui::plan_flow::Stage;
    use crate::workloads::rollout::{Phase, RolloutProgress, SlotProgress, TaskView};

    fn task(image: &str, state: &str, node: &str, error: Option<&str>) -> TaskView {
        TaskView {
            id: "t".into(),
            image: image.into(),
            state: state.into(),
            node: node.into(),
            error: error.map(str::to_string),
        }
    }

    #[test]
    fn the_services_detail_shows_the_plan_and_a_paused_rollout_with_its_reason() {
        let mut h = showing(cluster(), Panel::Services);
        h.get_by_label("web").click();
        h.run_steps(2);
        // Demo data: the actions are there, disabled.
        h.get_by_label("Update image");
        h.get_by_label("Rollback");
        let step = ServiceStep {
            service_id: "s-web".into(),
            name: "web".into(),
            version: 7,
            edit: crate::swarm::service::ServiceEdit::Update(Default::default()),
            diff: vec![FieldChange {
                field: "image".into(),
                old: "probe:1".into(),
                new: "probe:2".into(),
            }],
        };
        let plan = Plan::of(Step::new("node1", Action::Service(step), 0));
        let rollout = &mut h.state_mut().panels.services.rollout;
        rollout.flow.stage = Stage::Review { plan };
        rollout.progress = Some(RolloutProgress {
            service: "web".into(),
            image: "probe:2".into(),
            slots: vec![SlotProgress {
                slot: "1".into(),
                old: Some(task("probe:1", "shutdown", "node1", None)),
                new: Some(task(
                    "probe:2",
                    "rejected",
                    "node2",
                    Some("No such image: probe:2"),
                )),
                updated: false,
            }],
            updated: 0,
            total: 1,
            phase: Phase::Paused {
                reason: "update paused due to failure".into(),
            },
            update_status: None,
        });
        h.run_steps(2);
        h.get_by_label("1. [node1] update service web (image: probe:1 → probe:2)");
        h.get_by_label("$ docker service update web");
        h.get_by_label("Paused: update paused due to failure");
        h.get_by_label("0 of 1 slot(s) updated");
        h.get_by_label("probe:1 shutdown on node1");
        h.get_by_label("probe:2 rejected on node2 (No such image: probe:2)");
    }

    #[test]
    fn rebalance_plans_the_selected_service_through_the_plan_flow() {
        use crate::ui::topology::tests::{last_plan, live};
        let mut h = live(cluster(), Panel::Services);
        // The task table uses arrows.
        crate::ui::style::install_fallback_fonts(&h.ctx);
        h.get_by_label("web").click();
        h.run_steps(2);
        h.get_by_label("Rebalance").click();
        h.run_steps(2);
        let (_, change) = last_plan(&h);
        assert_eq!(
            change,
            crate::swarm::change::Change::Rebalance(crate::swarm::rebalance::Rebalance {
                services: vec!["s-web".into()],
            })
        );
    }
}
