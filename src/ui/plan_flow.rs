//! The one way the app changes hosts: plan → review → confirm → apply → result, with
//! cancel. Every panel that changes hosts holds a [`PlanFlow`] and draws it; the plan
//! widget ([`plan_steps`]) and the confirmation ([`confirm_modal`]) are shared too.

use eframe::egui::{self, RichText};

use super::panel::Context;
use super::style;
use crate::outcome::{Failure, FailureKind};
use crate::service::{Job, JobId, JobUpdate, StepReport};
use crate::swarm::change::Change;
use crate::swarm::{Action, Plan, Step};

/// Which steps of a plan a flow shows and applies (the wizard splits one bootstrap plan
/// into stages).
pub type StepFilter = fn(&Action) -> bool;

#[derive(Debug, Clone, Default)]
pub enum Stage {
    #[default]
    Idle,
    Planning {
        job: JobId,
    },
    /// Planning failed or was refused; `change` may be forced when the failure says so.
    Refused {
        failure: Failure,
    },
    Review {
        plan: Plan,
    },
    Confirm {
        plan: Plan,
    },
    Applying {
        job: JobId,
        plan: Plan,
        steps: Vec<StepReport>,
        cancelling: bool,
    },
    Done {
        steps: Vec<StepReport>,
        result: Result<usize, Failure>,
    },
}

/// A change on its way to the hosts.
#[derive(Debug, Clone, Default)]
pub struct PlanFlow {
    pub stage: Stage,
    /// What was asked for: planned again to force it.
    change: Option<Change>,
    filter: Option<StepFilter>,
    /// How the change is named in the job list ("drain node2").
    what: String,
}

impl PlanFlow {
    pub fn with_filter(filter: StepFilter) -> Self {
        Self {
            filter: Some(filter),
            ..Default::default()
        }
    }

    /// Plans `change` from the hosts' live state.
    pub fn request(&mut self, cx: &mut Context<'_>, change: Change) {
        self.what = change.describe();
        let job = cx.start(Job::Plan(change.clone()));
        self.change = Some(change);
        self.stage = Stage::Planning { job };
    }

    /// Whether a job of this flow runs now.
    pub fn busy(&self) -> bool {
        matches!(self.stage, Stage::Planning { .. } | Stage::Applying { .. })
    }

    pub fn change(&self) -> Option<&Change> {
        self.change.as_ref()
    }

    /// The plan under review, if any.
    pub fn plan(&self) -> Option<&Plan> {
        match &self.stage {
            Stage::Review { plan } | Stage::Confirm { plan } | Stage::Applying { plan, .. } => {
                Some(plan)
            }
            _ => None,
        }
    }

    /// The applied result, once there is one.
    pub fn result(&self) -> Option<&Result<usize, Failure>> {
        match &self.stage {
            Stage::Done { result, .. } => Some(result),
            _ => None,
        }
    }

    pub fn reset(&mut self) {
        *self = Self {
            filter: self.filter,
            ..Default::default()
        };
    }

    fn mine(&self, id: JobId) -> bool {
        matches!(self.stage, Stage::Planning { job } | Stage::Applying { job, .. } if job == id)
    }

    /// Takes an update of one of this flow's jobs; others' are ignored.
    pub fn on_job(&mut self, id: JobId, update: &JobUpdate) {
        if !self.mine(id) {
            return;
        }
        let stage = std::mem::take(&mut self.stage);
        self.stage = match (stage, update) {
            (Stage::Planning { .. }, JobUpdate::Planned(Ok(plan))) => Stage::Review {
                plan: self.filtered(plan.clone()),
            },
            (Stage::Planning { .. }, JobUpdate::Planned(Err(failure))) => Stage::Refused {
                failure: failure.clone(),
            },
            // Refused or cancelled before a plan came: back to where the user was.
            (Stage::Planning { .. }, JobUpdate::Ended | JobUpdate::Refused { .. }) => Stage::Idle,
            (Stage::Applying { plan, .. }, JobUpdate::Refused { .. }) => Stage::Review { plan },
            (
                Stage::Applying {
                    job,
                    plan,
                    mut steps,
                    cancelling,
                },
                JobUpdate::Step(s),
            ) => {
                steps.push(s.clone());
                Stage::Applying {
                    job,
                    plan,
                    steps,
                    cancelling,
                }
            }
            (Stage::Applying { steps, .. }, JobUpdate::Applied(result)) => Stage::Done {
                steps,
                result: result.clone(),
            },
            (Stage::Applying { steps, .. }, JobUpdate::Ended) => Stage::Done {
                steps,
                result: Err(Failure::failed("the job ended without a result")),
            },
            (stage, _) => stage,
        };
    }

    fn filtered(&self, mut plan: Plan) -> Plan {
        if let Some(keep) = self.filter {
            plan.steps.retain(|s| keep(&s.action));
        }
        plan
    }

    /// Draws the flow where it stands, with the buttons that move it on.
    pub fn show(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>) {
        let mut next = None;
        match &mut self.stage {
            Stage::Idle => {}
            Stage::Planning { job } => {
                let job = *job;
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("planning from the hosts' live state…");
                    if ui.small_button("Cancel").clicked() {
                        cx.cancel(job);
                    }
                });
            }
            Stage::Refused { failure } => {
                failure_text(ui, failure);
                let forced = self.change.as_ref().and_then(Change::forced);
                if failure.needs_force()
                    && let Some(forced) = forced
                    && ui
                        .button("Force it anyway…")
                        .on_hover_text("Plan it again, accepting the consequence above")
                        .clicked()
                {
                    next = Some(Next::Plan(forced));
                }
            }
            Stage::Review { plan } => {
                if review(ui, plan, cx.live()) {
                    next = Some(Next::Confirm);
                }
            }
            Stage::Confirm { plan } => {
                review(ui, plan, false);
                match confirm_modal(ui, "Change these hosts?", |ui| {
                    ui.label(changes_summary(&plan.steps));
                    plan_steps(ui, &plan.steps);
                }) {
                    Some(true) => next = Some(Next::Apply),
                    Some(false) => next = Some(Next::Back),
                    None => {}
                }
            }
            Stage::Applying {
                job,
                plan,
                steps,
                cancelling,
            } => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(format!(
                        "applying… {} of {} step(s) done",
                        steps.len(),
                        plan.steps.len()
                    ));
                    if *cancelling {
                        ui.label(RichText::new("stopping after the steps in flight…").weak());
                    } else if ui
                        .button("Cancel")
                        .on_hover_text(
                            "Stops before the next step; steps already sent to a host finish \
                             and are recorded in the audit log",
                        )
                        .clicked()
                    {
                        *cancelling = true;
                        cx.cancel(*job);
                    }
                });
                step_results(ui, steps);
            }
            Stage::Done { steps, result } => {
                step_results(ui, steps);
                match result {
                    Ok(n) => {
                        ui.colored_label(style::ok(ui), format!("Done: {n} step(s) applied."));
                    }
                    Err(f) if f.kind == FailureKind::Cancelled => {
                        ui.colored_label(style::warn(ui), &f.message);
                    }
                    Err(f) => {
                        failure_text(ui, f);
                        ui.label("Steps done so far stay done: plan again to continue.");
                    }
                }
            }
        }
        match next {
            Some(Next::Plan(change)) => self.request(cx, change),
            Some(Next::Confirm) => {
                if let Stage::Review { plan } = std::mem::take(&mut self.stage) {
                    self.stage = Stage::Confirm { plan };
                }
            }
            Some(Next::Back) => {
                if let Stage::Confirm { plan } = std::mem::take(&mut self.stage) {
                    self.stage = Stage::Review { plan };
                }
            }
            Some(Next::Apply) => {
                if let Stage::Confirm { plan } = std::mem::take(&mut self.stage) {
                    let what = self.what.clone();
                    let job = cx.start(Job::Apply {
                        plan: plan.clone(),
                        what,
                    });
                    self.stage = Stage::Applying {
                        job,
                        plan,
                        steps: Vec::new(),
                        cancelling: false,
                    };
                }
            }
            None => {}
        }
    }
}

/// What the user asked for this frame.
enum Next {
    Plan(Change),
    Confirm,
    Back,
    Apply,
}

/// The plan and its notes; returns true when the user asks to apply it.
fn review(ui: &mut egui::Ui, plan: &Plan, can_apply: bool) -> bool {
    if plan.is_empty() {
        ui.colored_label(
            style::ok(ui),
            "Nothing to change: the hosts are already so.",
        );
    } else {
        plan_steps(ui, &plan.steps);
    }
    for n in &plan.notes {
        let n = crate::untrusted::visible(n);
        // A note that warns (e.g. a drain that would leave tasks pending) must not be missed.
        let text = match n.strip_prefix(crate::swarm::plan::WARNING) {
            Some(w) => RichText::new(format!("⚠ {w}")).color(style::warn(ui)).strong(),
            None => RichText::new(format!("note: {n}")).weak(),
        };
        ui.add(egui::Label::new(text).wrap());
    }
    !plan.is_empty()
        && ui
            .add_enabled(can_apply, egui::Button::new("Apply…"))
            .on_disabled_hover_text("Read-only: open an inventory to change hosts")
            .clicked()
}

/// "3 step(s) will change node1, node2:"
pub fn changes_summary(steps: &[Step]) -> String {
    let mut hosts: Vec<&str> = Vec::new();
    for s in steps {
        if !hosts.contains(&s.host.as_str()) {
            hosts.push(&s.host);
        }
    }
    format!("{} step(s) will change {}:", steps.len(), hosts.join(", "))
}

/// The plan widget: numbered steps, each with its host and the docker command that does
/// the same, wrapped to the width available.
pub fn plan_steps(ui: &mut egui::Ui, steps: &[Step]) {
    for (i, s) in steps.iter().enumerate() {
        ui.add(egui::Label::new(format!("{}. [{}] {}", i + 1, s.host, s.description)).wrap());
        ui.add(egui::Label::new(RichText::new(format!("$ {}", s.cli)).monospace()).wrap());
        ui.add_space(2.0);
    }
}

fn step_results(ui: &mut egui::Ui, steps: &[StepReport]) {
    for r in steps {
        match &r.result {
            Ok(()) => ui.colored_label(style::ok(ui), format!("✔ [{}] {}", r.host, r.description)),
            Err(e) => ui.colored_label(
                style::bad(ui),
                format!("✖ [{}] {}: {}", r.host, r.description, e.message),
            ),
        };
    }
}

/// A failure with where it happened and the fix, wrapped.
pub fn failure_text(ui: &mut egui::Ui, f: &Failure) {
    let mut head = String::new();
    if let Some(layer) = f.layer {
        head = format!("{} · ", layer.describe());
    }
    let color = if f.needs_force() {
        style::warn(ui)
    } else {
        style::bad(ui)
    };
    ui.add(egui::Label::new(RichText::new(format!("{head}{}", f.message)).color(color)).wrap());
    if let Some(fix) = &f.fix {
        ui.add(egui::Label::new(format!("Fix: {fix}")).wrap());
    }
}

/// A centred modal that dims the window: nothing changes a host before the user has seen
/// the list of changes and said yes. Returns the answer once given.
pub fn confirm_modal(
    ui: &mut egui::Ui,
    title: &str,
    body: impl FnOnce(&mut egui::Ui),
) -> Option<bool> {
    let mut answer = None;
    let modal = egui::Modal::new(egui::Id::unique("confirm_change")).show(ui.ctx(), |ui| {
        ui.set_max_width(560.0);
        ui.heading(title);
        egui::ScrollArea::vertical()
            .max_height(360.0)
            .show(ui, body);
        ui.separator();
        ui.horizontal(|ui| {
            if ui.button("Yes, apply").clicked() {
                answer = Some(true);
            }
            if ui.button("No").clicked() {
                answer = Some(false);
            }
        });
    });
    if answer.is_none() && modal.should_close() {
        answer = Some(false);
    }
    answer
}
