//! The wizard: hosts → preflight → firewall → init → join → overlay → test. Each step says
//! what it will do on which host with the exact docker command, asks before changing a
//! host, shows progress, can be cancelled, and skips what is already done (plans are
//! computed from the live state, so a half-built cluster resumes where it stopped).

use eframe::egui::{self, RichText};

use super::connectivity_panel::{self, ConnectivityView};
use super::panel::{Context, PanelView};
use super::plan_flow::{self, PlanFlow};
use super::preflight_view;
use super::style;
use crate::firewall::{self, HostPlan};
use crate::outcome::Failure;
use crate::service::{ConnectivityRequest, Job, JobId, JobUpdate};
use crate::swarm::change::Change;
use crate::swarm::{Action, BootstrapOptions, OverlaySpec};

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
}

/// The steps of the bootstrap plan each build stage shows and applies.
fn init_steps(action: &Action) -> bool {
    matches!(action, Action::Init { .. })
}

fn join_steps(action: &Action) -> bool {
    matches!(
        action,
        Action::Join { .. } | Action::Leave { .. } | Action::Promote { .. } | Action::Demote { .. }
    )
}

fn overlay_steps(action: &Action) -> bool {
    matches!(action, Action::CreateOverlay(_))
}

#[derive(Debug, Clone)]
pub struct WizardView {
    pub stage: Stage,
    pub managers: usize,
    pub overlay: String,
    pub encrypted: bool,
    pub persist_firewall: bool,
    /// The preflight run in progress, and whether this visit of the stage started one.
    pub preflight_job: Option<JobId>,
    /// This visit of the stage already started its read (preflight or plan): a refused or
    /// cancelled one is not started again by itself.
    asked: bool,
    pub firewall: FirewallFlow,
    /// One flow per build stage, each with its part of the bootstrap plan.
    pub init: PlanFlow,
    pub join: PlanFlow,
    pub overlay_flow: PlanFlow,
    /// The last step's connectivity run over the overlay the wizard made, and its report.
    pub test: ConnectivityView,
    pub test_report: Option<crate::connectivity::Report>,
}

/// The firewall step: its rules are shell commands per host, not swarm steps, so it has
/// its own small flow (with the shared confirmation).
#[derive(Debug, Clone, Default)]
pub struct FirewallFlow {
    pub confirm: bool,
    pub job: Option<JobId>,
    pub result: Option<Result<usize, Failure>>,
}

impl Default for WizardView {
    fn default() -> Self {
        Self {
            stage: Stage::Hosts,
            managers: 0,
            overlay: "appnet".into(),
            encrypted: false,
            persist_firewall: true,
            preflight_job: None,
            asked: false,
            firewall: FirewallFlow::default(),
            init: PlanFlow::with_filter(init_steps),
            join: PlanFlow::with_filter(join_steps),
            overlay_flow: PlanFlow::with_filter(overlay_steps),
            test: ConnectivityView::default(),
            test_report: None,
        }
    }
}

impl PanelView for WizardView {
    fn show(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>) {
        show(ui, self, cx);
    }

    fn on_job(&mut self, id: JobId, update: &JobUpdate, cx: &mut Context<'_>) {
        if self.test.job == Some(id)
            && let JobUpdate::ConnectivityDone(Ok(report)) = update
        {
            self.test_report = Some((**report).clone());
        }
        self.test.on_job(id, update, cx);
        if self.preflight_job == Some(id) && matches!(update, JobUpdate::Ended) {
            self.preflight_job = None;
        }
        if self.firewall.job == Some(id) {
            match update {
                JobUpdate::FirewallApplied(r) => self.firewall.result = Some(r.clone()),
                JobUpdate::Ended => self.firewall.job = None,
                _ => {}
            }
        }
        for flow in [&mut self.init, &mut self.join, &mut self.overlay_flow] {
            flow.on_job(id, update);
        }
        if matches!(update, JobUpdate::Applied(_)) {
            // The hosts changed: the other stages' plans are stale.
            for flow in self.flows_mut() {
                if flow.result().is_none() && !flow.busy() {
                    flow.reset();
                }
            }
        }
    }

    fn reset(&mut self) {
        *self = Self {
            managers: self.managers,
            overlay: self.overlay.clone(),
            encrypted: self.encrypted,
            ..Self::default()
        };
    }
}

impl WizardView {
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

    /// The plan flow of the build stage on screen.
    pub fn current_flow(&self) -> Option<&PlanFlow> {
        match self.stage {
            Stage::Init => Some(&self.init),
            Stage::Join => Some(&self.join),
            Stage::Overlay => Some(&self.overlay_flow),
            _ => None,
        }
    }

    fn flows_mut(&mut self) -> [&mut PlanFlow; 3] {
        [&mut self.init, &mut self.join, &mut self.overlay_flow]
    }

    fn flow_mut(&mut self, stage: Stage) -> Option<&mut PlanFlow> {
        match stage {
            Stage::Init => Some(&mut self.init),
            Stage::Join => Some(&mut self.join),
            Stage::Overlay => Some(&mut self.overlay_flow),
            _ => None,
        }
    }

    /// Moves to `stage`; a stage that reads the hosts starts reading them at once.
    fn open(&mut self, stage: Stage) {
        if stage != self.stage {
            self.stage = stage;
            self.asked = false;
            if let Some(flow) = self.flow_mut(stage)
                && !flow.busy()
            {
                flow.reset();
            }
        }
    }
}

fn show(ui: &mut egui::Ui, view: &mut WizardView, cx: &mut Context<'_>) {
    ui.heading("Build a swarm");
    stage_bar(ui, view);
    if !cx.live() {
        ui.colored_label(
            style::warn(ui),
            "Read-only: this is the demo. Open an inventory (or start the practice lab) to \
             build a real swarm; every step below then runs on your hosts after you confirm it.",
        );
    }
    ui.separator();
    egui::ScrollArea::vertical().show(ui, |ui| match view.stage {
        Stage::Hosts => hosts_stage(ui, view, cx.hosts, cx.live()),
        Stage::Preflight => preflight_stage(ui, view, cx),
        Stage::Firewall => firewall_stage(ui, view, cx),
        Stage::Init | Stage::Join | Stage::Overlay => build_stage(ui, view, cx),
        Stage::Test => test_stage(ui, view, cx),
    });
}

/// The last step: the connectivity tester on the overlay the wizard made, its matrix and
/// verdict shown here.
fn test_stage(ui: &mut egui::Ui, view: &mut WizardView, cx: &mut Context<'_>) {
    let overlay = view.overlay.trim().to_string();
    ui.add(
        egui::Label::new(format!(
            "Last step: a probe container on every host, and every pair checks name \
             resolution, ping, a TCP connection and a full-size packet over {overlay}. The \
             probes are removed afterwards."
        ))
        .wrap(),
    );
    let exists = cx
        .snapshot
        .is_some_and(|s| s.networks.iter().any(|n| n.name == overlay));
    if !exists && cx.live() {
        ui.colored_label(
            style::warn(ui),
            format!("{overlay} does not exist yet: create it in step 6 first."),
        );
    }
    ui.horizontal(|ui| {
        if view.test.running() {
            ui.spinner();
            ui.label(format!(
                "testing {overlay}… {}/{} pairs",
                view.test.done, view.test.total
            ));
            if ui.button("Cancel").clicked()
                && let Some(job) = view.test.job
            {
                cx.cancel(job);
            }
        } else if ui
            .add_enabled(
                cx.live() && exists,
                egui::Button::new(format!("▶ Test {overlay}")),
            )
            .clicked()
        {
            view.test.request = ConnectivityRequest {
                network: Some(overlay.clone()),
                encrypted: false,
            };
            view.test_report = None;
            view.test.start(cx);
        }
    });
    if view.test.running() {
        connectivity_panel::running_matrix(ui, &mut view.test);
    } else if let Some(report) = view.test_report.clone() {
        connectivity_panel::matrix_and_verdict(ui, &mut view.test, &report);
        if report.healthy() {
            ui.colored_label(
                style::ok(ui),
                "Your swarm is built and its overlay works between every pair of hosts.",
            );
        }
    }
}

fn stage_bar(ui: &mut egui::Ui, view: &mut WizardView) {
    ui.horizontal(|ui| {
        for s in Stage::ALL {
            if ui.selectable_label(view.stage == s, s.title()).clicked() {
                view.open(s);
            }
        }
    });
}

fn next_button(ui: &mut egui::Ui, view: &mut WizardView) {
    ui.add_space(8.0);
    if view.stage != Stage::Test && ui.button("Next ▶").clicked() {
        view.open(view.stage.next());
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

fn preflight_stage(ui: &mut egui::Ui, view: &mut WizardView, cx: &mut Context<'_>) {
    ui.label("Checks Docker, swarm membership, addresses, clocks, firewalls, ports 2377/7946 between the hosts and kernel support for encrypted overlays. It changes nothing.");
    // Read-only, so it runs as soon as the step opens.
    let idle = view.preflight_job.is_none();
    if cx.live() && idle && !view.asked {
        view.asked = true;
        view.preflight_job = Some(cx.start(Job::Preflight));
    }
    ui.horizontal(|ui| {
        if view.preflight_job.is_some() {
            ui.spinner();
            ui.label("checking every host…");
        } else if ui
            .add_enabled(cx.live(), egui::Button::new("Run preflight again"))
            .clicked()
        {
            view.preflight_job = Some(cx.start(Job::Preflight));
        }
    });
    if let Some(r) = cx.preflight.as_ref() {
        preflight_view::show(ui, r, cx.hosts.len());
    }
    next_button(ui, view);
}

fn firewall_stage(ui: &mut egui::Ui, view: &mut WizardView, cx: &mut Context<'_>) {
    ui.label("Swarm needs 2377/tcp, 7946/tcp+udp and 4789/udp between the hosts (and ESP for encrypted overlays). The plan opens them only to the cluster's own addresses.");
    let Some(report) = cx.preflight.as_ref() else {
        ui.label("Run preflight first: the plan depends on each host's firewall.");
        next_button(ui, view);
        return;
    };
    let plans: Vec<HostPlan> = firewall::plan(report, None);
    if plans.iter().all(|p| p.steps.is_empty()) {
        ui.colored_label(style::ok(ui), "No firewall changes needed.");
    }
    for p in &plans {
        firewall_plan(ui, p);
    }
    ui.checkbox(&mut view.persist_firewall, "keep the rules across reboots");
    let any = plans.iter().any(|p| !p.steps.is_empty());
    let fw = &mut view.firewall;
    if fw.job.is_some() {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("applying the rules, then checking again…");
        });
    } else if ui
        .add_enabled(cx.live() && any, egui::Button::new("Apply firewall rules…"))
        .clicked()
    {
        fw.confirm = true;
    }
    if fw.confirm {
        let answer = plan_flow::confirm_modal(ui, "Change these hosts' firewalls?", |ui| {
            for p in plans.iter().filter(|p| !p.steps.is_empty()) {
                firewall_plan(ui, p);
            }
        });
        match answer {
            Some(true) => {
                fw.confirm = false;
                fw.result = None;
                fw.job = Some(cx.start(Job::ApplyFirewall {
                    plans: plans.clone(),
                    persist: view.persist_firewall,
                }));
            }
            Some(false) => fw.confirm = false,
            None => {}
        }
    }
    match &view.firewall.result {
        Some(Ok(n)) => {
            ui.colored_label(
                style::ok(ui),
                format!("{n} rule(s) applied; preflight ran again to verify."),
            );
        }
        Some(Err(e)) => plan_flow::failure_text(ui, e),
        None => {}
    }
    next_button(ui, view);
}

/// One host's firewall commands, with the file diffs they make.
fn firewall_plan(ui: &mut egui::Ui, p: &HostPlan) {
    if p.steps.is_empty() && p.notes.is_empty() {
        ui.label(p.summary());
        return;
    }
    egui::CollapsingHeader::new(p.summary())
        .id_salt(("firewall", &p.host))
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

fn build_stage(ui: &mut egui::Ui, view: &mut WizardView, cx: &mut Context<'_>) {
    let stage = view.stage;
    ui.label(match stage {
        Stage::Init => "Create the swarm on the first manager.",
        Stage::Join => "Join the other hosts as managers and workers (tokens are fetched from a manager and never shown).",
        _ => "Create the attachable overlay network that containers on every host can join.",
    });
    let change = Change::Bootstrap(view.options(cx.hosts.len()));
    let first_look = !std::mem::replace(&mut view.asked, true);
    let Some(flow) = view.flow_mut(stage) else {
        return;
    };
    // Planning reads the hosts and changes nothing: done as soon as the step opens.
    if cx.live() && first_look && matches!(flow.stage, plan_flow::Stage::Idle) {
        flow.request(cx, change.clone());
    }
    let can_plan = cx.live() && !flow.busy();
    if ui
        .add_enabled(can_plan, egui::Button::new("⟳ Plan again"))
        .on_hover_text("Read the hosts again and plan this step from what they are now")
        .on_disabled_hover_text("Read-only, or a plan is being made or applied")
        .clicked()
    {
        flow.request(cx, change);
    }
    flow.show(ui, cx);
    next_button(ui, view);
}
