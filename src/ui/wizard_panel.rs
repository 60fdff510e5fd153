//! The wizard: hosts → preflight → firewall → init → join → overlay → test. Each step says
//! what it will do on which host with the exact docker command, asks before changing a
//! host, shows progress, can be cancelled, and skips what is already done (plans are
//! computed from the live state, so a half-built cluster resumes where it stopped).

use eframe::egui::{self, RichText};

use super::style;
use crate::firewall::{self, HostPlan};
use crate::preflight;
use crate::service::{Command, PlanPurpose};
use crate::swarm::{Action, BootstrapOptions, OverlaySpec, Plan, Step};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Hosts,
    Preflight,
    Firewall,
    Init,
    Join,
    Overlay,
    Test,
}

impl Stage {
    pub const ALL: [Stage; 7] = [
        Stage::Hosts,
        Stage::Preflight,
        Stage::Firewall,
        Stage::Init,
        Stage::Join,
        Stage::Overlay,
        Stage::Test,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Stage::Hosts => "1 Hosts",
            Stage::Preflight => "2 Preflight",
            Stage::Firewall => "3 Firewall",
            Stage::Init => "4 Init",
            Stage::Join => "5 Join",
            Stage::Overlay => "6 Overlay",
            Stage::Test => "7 Test",
        }
    }

    fn next(self) -> Stage {
        let i = Stage::ALL.iter().position(|s| *s == self).unwrap_or(0);
        Stage::ALL[(i + 1).min(Stage::ALL.len() - 1)]
    }

    /// Which plan steps belong to this stage.
    fn owns(self, action: &Action) -> bool {
        match self {
            Stage::Init => matches!(action, Action::Init { .. }),
            Stage::Join => matches!(
                action,
                Action::Join { .. }
                    | Action::Leave { .. }
                    | Action::Promote { .. }
                    | Action::Demote { .. }
            ),
            Stage::Overlay => matches!(action, Action::CreateOverlay(_)),
            _ => false,
        }
    }
}

/// A step's result as it came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepResult {
    pub host: String,
    pub description: String,
    pub result: Result<(), String>,
}

#[derive(Debug, Clone)]
pub struct WizardView {
    pub stage: Stage,
    pub managers: usize,
    pub overlay: String,
    pub encrypted: bool,
    pub persist_firewall: bool,
    pub preflight: Option<preflight::Report>,
    pub busy: Option<String>,
    /// The full bootstrap plan from the live state; each stage shows its part.
    pub plan: Option<Result<Plan, String>>,
    /// The stage whose steps wait for the user's yes.
    pub confirm: Option<Stage>,
    pub applying: bool,
    pub results: Vec<StepResult>,
    pub applied: Option<Result<usize, String>>,
    pub firewall_result: Option<Result<usize, String>>,
}

impl Default for WizardView {
    fn default() -> Self {
        Self {
            stage: Stage::Hosts,
            managers: 0,
            overlay: "appnet".into(),
            encrypted: false,
            persist_firewall: true,
            preflight: None,
            busy: None,
            plan: None,
            confirm: None,
            applying: false,
            results: Vec::new(),
            applied: None,
            firewall_result: None,
        }
    }
}

impl WizardView {
    pub fn on_preflight(&mut self, report: preflight::Report) {
        self.busy = None;
        self.preflight = Some(report);
    }

    pub fn on_plan(&mut self, result: Result<Plan, String>) {
        self.busy = None;
        self.plan = Some(result);
    }

    pub fn on_step(&mut self, r: StepResult) {
        self.results.push(r);
    }

    pub fn on_applied(&mut self, result: Result<usize, String>) {
        self.applying = false;
        self.applied = Some(result);
        // The hosts changed: plan again before anything else is applied.
        self.plan = None;
    }

    fn options(&self, hosts: usize) -> BootstrapOptions {
        BootstrapOptions {
            managers: (self.managers > 0).then_some(self.managers.min(hosts.max(1))),
            overlay: Some(OverlaySpec {
                name: self.overlay.trim().to_string(),
                attachable: true,
                encrypted: self.encrypted,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn plan_for(&self, stage: Stage) -> Option<Result<Plan, String>> {
        self.plan.as_ref().map(|r| {
            r.clone().map(|p| Plan {
                steps: p
                    .steps
                    .into_iter()
                    .filter(|s| stage.owns(&s.action))
                    .collect(),
                notes: p.notes,
            })
        })
    }
}

/// What the wizard needs from the rest of the app.
pub struct Context<'a> {
    pub hosts: Vec<String>,
    /// A live inventory is open (not the demo).
    pub live: bool,
    pub view: &'a mut WizardView,
}

pub fn show(ui: &mut egui::Ui, cx: Context<'_>) -> Vec<Command> {
    let mut cmds = Vec::new();
    let view = cx.view;
    ui.heading("Build a swarm");
    stage_bar(ui, view);
    if !cx.live {
        ui.colored_label(
            style::warn(ui),
            "Read-only: this is the demo. Open an inventory (or start the practice lab) to \
             build a real swarm; every step below then runs on your hosts after you confirm it.",
        );
    }
    ui.separator();
    egui::ScrollArea::vertical().show(ui, |ui| match view.stage {
        Stage::Hosts => hosts_stage(ui, view, &cx.hosts, cx.live),
        Stage::Preflight => preflight_stage(ui, view, cx.live, &mut cmds),
        Stage::Firewall => firewall_stage(ui, view, cx.live, &mut cmds),
        Stage::Init | Stage::Join | Stage::Overlay => {
            build_stage(ui, view, cx.live, cx.hosts.len(), &mut cmds)
        }
        Stage::Test => {
            ui.label(
                "Last step: test that containers on every host reach each other over the overlay.",
            );
            ui.label(
                "Open the Connectivity panel and run the test on the overlay you just created.",
            );
        }
    });
    confirm_window(ui, view, &mut cmds);
    cmds
}

fn stage_bar(ui: &mut egui::Ui, view: &mut WizardView) {
    ui.horizontal(|ui| {
        for s in Stage::ALL {
            if ui.selectable_label(view.stage == s, s.title()).clicked() {
                view.stage = s;
            }
        }
    });
}

fn next_button(ui: &mut egui::Ui, view: &mut WizardView) {
    ui.add_space(8.0);
    if view.stage != Stage::Test && ui.button("Next ▶").clicked() {
        view.stage = view.stage.next();
        view.applied = None;
        view.results.clear();
    }
}

fn hosts_stage(ui: &mut egui::Ui, view: &mut WizardView, hosts: &[String], live: bool) {
    ui.label(if live {
        "The swarm is built from the hosts of the open inventory (edit them in the Hosts panel):"
    } else {
        "The demo's hosts (your own are in the Hosts panel):"
    });
    for h in hosts {
        ui.label(format!("• {h}"));
    }
    if hosts.is_empty() {
        ui.colored_label(style::warn(ui), "No hosts yet.");
    }
    let n = hosts.len();
    let default = crate::swarm::plan::default_managers(n);
    ui.add_space(6.0);
    ui.horizontal(|ui| {
        let label = ui.label("Managers:");
        let mut m = if view.managers == 0 {
            default
        } else {
            view.managers
        };
        if ui
            .add(egui::DragValue::new(&mut m).range(1..=n.max(1)))
            .labelled_by(label.id)
            .changed()
        {
            view.managers = m;
        }
        let ft = crate::quorum::fault_tolerance(m);
        ui.label(format!("tolerates {ft} manager failure(s)"));
        if m % 2 == 0 {
            ui.colored_label(
                style::warn(ui),
                "an even count adds no fault tolerance: prefer an odd one",
            );
        }
    });
    ui.horizontal(|ui| {
        let label = ui.label("Overlay network:");
        ui.text_edit_singleline(&mut view.overlay)
            .labelled_by(label.id);
        ui.checkbox(
            &mut view.encrypted,
            "encrypted (IPsec; needs ESP/GCM in every host's kernel)",
        );
    });
    next_button(ui, view);
}

fn preflight_stage(ui: &mut egui::Ui, view: &mut WizardView, live: bool, cmds: &mut Vec<Command>) {
    ui.label("Checks Docker, swarm membership, addresses, clocks, firewalls, ports 2377/7946 between the hosts and kernel support for encrypted overlays. It changes nothing.");
    ui.horizontal(|ui| {
        if ui
            .add_enabled(
                live && view.busy.is_none(),
                egui::Button::new("Run preflight"),
            )
            .clicked()
        {
            view.busy = Some("preflight".into());
            cmds.push(Command::Preflight);
        }
        if view.busy.is_some() {
            ui.spinner();
        }
    });
    if let Some(r) = &view.preflight {
        findings(ui, r);
    }
    next_button(ui, view);
}

fn findings(ui: &mut egui::Ui, report: &preflight::Report) {
    if report.findings.is_empty() {
        ui.colored_label(style::ok(ui), "No problems found.");
        return;
    }
    egui::Grid::new("preflight")
        .striped(true)
        .num_columns(4)
        .show(ui, |ui| {
            for t in ["", "Host", "Finding", "Fix"] {
                ui.strong(t);
            }
            ui.end_row();
            for f in &report.findings {
                let (mark, color) = match f.severity {
                    preflight::Severity::Error => ("⛔", style::bad(ui)),
                    preflight::Severity::Warning => ("⚠", style::warn(ui)),
                    _ => ("ℹ", ui.visuals().text_color()),
                };
                ui.colored_label(color, mark);
                ui.label(&f.host);
                ui.label(&f.message).on_hover_text(&f.evidence);
                ui.monospace(f.fix.as_deref().unwrap_or(""));
                ui.end_row();
            }
        });
}

fn firewall_stage(ui: &mut egui::Ui, view: &mut WizardView, live: bool, cmds: &mut Vec<Command>) {
    ui.label("Swarm needs 2377/tcp, 7946/tcp+udp and 4789/udp between the hosts (and ESP for encrypted overlays). The plan opens them only to the cluster's own addresses.");
    let Some(report) = &view.preflight else {
        ui.label("Run preflight first: the plan depends on each host's firewall.");
        next_button(ui, view);
        return;
    };
    let plans: Vec<HostPlan> = firewall::plan(report, None);
    if plans.iter().all(|p| p.steps.is_empty()) {
        ui.colored_label(style::ok(ui), "No firewall changes needed.");
    }
    for p in &plans {
        egui::CollapsingHeader::new(format!(
            "{} ({:?}): {} command(s)",
            p.host,
            p.backend,
            p.steps.len()
        ))
        .default_open(true)
        .show(ui, |ui| {
            for s in &p.steps {
                if let Some(f) = &s.file {
                    ui.label(&s.description);
                    ui.monospace(f.diff());
                }
                ui.monospace(format!("$ {}", s.shell()));
            }
            for n in &p.notes {
                ui.label(RichText::new(n).weak());
            }
        });
    }
    ui.checkbox(&mut view.persist_firewall, "keep the rules across reboots");
    let any = plans.iter().any(|p| !p.steps.is_empty());
    if ui
        .add_enabled(
            live && any && view.busy.is_none(),
            egui::Button::new("Apply firewall rules…"),
        )
        .clicked()
    {
        view.confirm = Some(Stage::Firewall);
    }
    if let Some(r) = &view.firewall_result {
        match r {
            Ok(n) => ui.colored_label(
                style::ok(ui),
                format!("{n} rule(s) applied; preflight ran again to verify."),
            ),
            Err(e) => ui.colored_label(style::bad(ui), e),
        };
    }
    next_button(ui, view);
    let _ = cmds;
}

fn build_stage(
    ui: &mut egui::Ui,
    view: &mut WizardView,
    live: bool,
    hosts: usize,
    cmds: &mut Vec<Command>,
) {
    let stage = view.stage;
    ui.label(match stage {
        Stage::Init => "Create the swarm on the first manager.",
        Stage::Join => "Join the other hosts as managers and workers (tokens are fetched from a manager and never shown).",
        _ => "Create the attachable overlay network that containers on every host can join.",
    });
    ui.horizontal(|ui| {
        if ui
            .add_enabled(
                live && view.busy.is_none() && !view.applying,
                egui::Button::new("Plan this step"),
            )
            .clicked()
        {
            view.busy = Some("planning".into());
            cmds.push(Command::PlanBootstrap {
                opts: view.options(hosts),
            });
        }
        if view.busy.is_some() {
            ui.spinner();
        }
    });
    match view.plan_for(stage) {
        None => {}
        Some(Err(e)) => {
            ui.colored_label(style::bad(ui), e);
        }
        Some(Ok(plan)) if plan.is_empty() => {
            ui.colored_label(
                style::ok(ui),
                "Already done on these hosts: nothing to change.",
            );
        }
        Some(Ok(plan)) => {
            steps_table(ui, &plan.steps);
            for n in &plan.notes {
                ui.label(RichText::new(format!("note: {n}")).weak());
            }
            if ui
                .add_enabled(live && !view.applying, egui::Button::new("Apply…"))
                .clicked()
            {
                view.confirm = Some(stage);
            }
        }
    }
    progress(ui, view, cmds);
    next_button(ui, view);
}

fn steps_table(ui: &mut egui::Ui, steps: &[Step]) {
    egui::Grid::new("plan_steps")
        .striped(true)
        .num_columns(3)
        .show(ui, |ui| {
            for t in ["Host", "What", "CLI equivalent"] {
                ui.strong(t);
            }
            ui.end_row();
            for s in steps {
                ui.label(&s.host);
                ui.label(&s.description);
                ui.monospace(&s.cli);
                ui.end_row();
            }
        });
}

fn progress(ui: &mut egui::Ui, view: &mut WizardView, cmds: &mut Vec<Command>) {
    if view.applying {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(format!("applying… {} step(s) done", view.results.len()));
            if ui.button("Cancel").clicked() {
                cmds.push(Command::CancelApply);
            }
        });
    }
    for r in &view.results {
        match &r.result {
            Ok(()) => ui.colored_label(style::ok(ui), format!("✔ [{}] {}", r.host, r.description)),
            Err(e) => ui.colored_label(
                style::bad(ui),
                format!("✖ [{}] {}: {e}", r.host, r.description),
            ),
        };
    }
    match &view.applied {
        Some(Ok(n)) => {
            ui.colored_label(style::ok(ui), format!("Done: {n} step(s) applied."));
        }
        Some(Err(e)) => {
            ui.colored_label(
                style::bad(ui),
                format!("Stopped: {e}. Plan again to resume from here."),
            );
        }
        None => {}
    }
}

/// Nothing changes a host before the user has seen the list of changes and said yes.
fn confirm_window(ui: &mut egui::Ui, view: &mut WizardView, cmds: &mut Vec<Command>) {
    let Some(stage) = view.confirm else { return };
    let mut answer = None;
    egui::Window::new("Change these hosts?")
        .collapsible(false)
        .resizable(false)
        .show(ui.ctx(), |ui| {
            if stage == Stage::Firewall {
                ui.label("These firewall commands will run on the hosts listed above.");
            } else if let Some(Ok(plan)) = view.plan_for(stage) {
                let mut hosts: Vec<&str> = plan.steps.iter().map(|s| s.host.as_str()).collect();
                hosts.dedup();
                ui.label(format!(
                    "{} step(s) will change {}:",
                    plan.steps.len(),
                    hosts.join(", ")
                ));
                steps_table(ui, &plan.steps);
            }
            ui.horizontal(|ui| {
                if ui.button("Yes, apply").clicked() {
                    answer = Some(true);
                }
                if ui.button("No").clicked() {
                    answer = Some(false);
                }
            });
        });
    match answer {
        Some(true) => {
            view.confirm = None;
            if stage == Stage::Firewall {
                if let Some(report) = &view.preflight {
                    view.busy = Some("firewall".into());
                    cmds.push(Command::ApplyFirewall {
                        plans: firewall::plan(report, None),
                        persist: view.persist_firewall,
                    });
                }
            } else if let Some(Ok(plan)) = view.plan_for(stage) {
                view.applying = true;
                view.results.clear();
                view.applied = None;
                cmds.push(Command::ApplyPlan {
                    purpose: PlanPurpose::Bootstrap,
                    plan,
                });
            }
        }
        Some(false) => view.confirm = None,
        None => {}
    }
}
