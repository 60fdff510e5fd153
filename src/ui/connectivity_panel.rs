//! Connectivity: run the tester, watch the N×N overlay matrix fill in, open a cell's
//! evidence, read the findings with their fixes, compare with earlier runs.

use eframe::egui::{self, Color32, RichText};

use super::panel::{Context, PanelView};
use super::style;
use crate::connectivity::history::compare;
use crate::connectivity::render::cell_text;
use crate::connectivity::{Cell, Check, Finding, Outcome, Phase, Progress, Report};
use crate::service::{Command, ConnectivityRequest, Job, JobId, JobUpdate};
use crate::snapshot::ClusterSnapshot;

#[derive(Debug, Clone, Default)]
pub struct ConnectivityView {
    pub request: ConnectivityRequest,
    /// The run in progress.
    pub job: Option<JobId>,
    /// Asked this frame: start a run, or cancel the one in progress.
    start_requested: bool,
    cancel_requested: bool,
    pub phase: Option<Phase>,
    pub done: usize,
    pub total: usize,
    /// Cells of the run in progress, as they arrive.
    pub live: Vec<Cell>,
    /// (from, to) of the cell whose evidence is open.
    pub selected: Option<(String, String)>,
    pub history: Option<Vec<Report>>,
    /// Index into `history` to compare the shown report with.
    pub compare_with: Option<usize>,
    /// The overlay to test while the user has not picked one (e.g. the one the wizard
    /// just created), when the snapshot has it.
    pub preferred_network: Option<String>,
    /// The user picked the overlay (or a temporary one); no default applies any more.
    pub network_picked: bool,
}

impl ConnectivityView {
    pub fn on_progress(&mut self, p: Progress) {
        match p {
            Progress::Phase(phase) => self.phase = Some(phase),
            Progress::Cell { cell, done, total } => {
                self.done = done;
                self.total = total;
                self.live.push(*cell);
            }
            Progress::Finished { .. } | Progress::Host { .. } | Progress::ProbeReady { .. } => {}
        }
    }

    /// The run ended (the report itself is kept by the app, for every panel and bundles).
    pub fn on_ended(&mut self) {
        self.job = None;
        self.phase = None;
        self.live.clear();
        // The history gained a run; read it again when it is next shown.
        self.history = None;
    }

    pub fn running(&self) -> bool {
        self.job.is_some()
    }

    /// Starts a run of `self.request`, owned by the panel drawing `cx`.
    pub fn start(&mut self, cx: &mut Context<'_>) {
        self.done = 0;
        self.total = 0;
        self.live.clear();
        self.selected = None;
        self.job = Some(cx.start(Job::Connectivity(self.request.clone())));
    }
}

impl PanelView for ConnectivityView {
    fn show(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>) {
        let report = cx.connectivity.clone();
        for cmd in show(ui, self, cx.snapshot, report, cx.live()) {
            cx.send(cmd);
        }
        if std::mem::take(&mut self.start_requested) && !self.running() {
            self.start(cx);
        }
        if std::mem::take(&mut self.cancel_requested)
            && let Some(job) = self.job
        {
            cx.cancel(job);
        }
    }

    fn on_job(&mut self, id: JobId, update: &JobUpdate, _cx: &mut Context<'_>) {
        if self.job != Some(id) {
            return;
        }
        match update {
            JobUpdate::ConnectivityProgress(p) => self.on_progress(p.clone()),
            JobUpdate::Ended => self.on_ended(),
            _ => {}
        }
    }

    fn reset(&mut self) {
        *self = Self::default();
    }
}

fn show(
    ui: &mut egui::Ui,
    view: &mut ConnectivityView,
    snapshot: Option<&ClusterSnapshot>,
    report: Option<Report>,
    can_run: bool,
) -> Vec<Command> {
    let mut cmds = Vec::new();
    ui.heading("Connectivity");
    ui.label(
        "One probe container per host on an overlay; every pair checks name resolution, ping, a \
         TCP connection and a full-size packet, and the hosts check 2377/7946 between them. \
         Works offline; the probes are always removed.",
    );
    controls(ui, view, snapshot, can_run);
    ui.separator();
    egui::ScrollArea::vertical().show(ui, |ui| {
        if view.running() {
            running_matrix(ui, view);
        } else if let Some(report) = report {
            matrix_and_verdict(ui, view, &report);
            history(ui, view, &report, &mut cmds);
        } else {
            ui.label("No run yet.");
        }
    });
    cmds
}

/// A finished run: the verdict, the N×N matrix (a cell opens its evidence) and the
/// diagnosis with its fixes. Other panels embed it to show a run.
pub fn matrix_and_verdict(ui: &mut egui::Ui, view: &mut ConnectivityView, report: &Report) {
    summary(ui, report);
    grid(ui, &report.cells, &mut view.selected, Some(report));
    evidence(ui, view, report);
    findings(ui, &report.findings);
}

/// The run in progress: the cells that have arrived, a spinner for the others.
pub fn running_matrix(ui: &mut egui::Ui, view: &mut ConnectivityView) {
    grid(ui, &view.live, &mut view.selected, None);
}

/// The overlay a run tests unless the user picks one: `preferred` when the snapshot has
/// it as an attachable swarm overlay, else the first such overlay, else None (a
/// temporary one).
pub fn default_network(
    preferred: Option<&str>,
    snapshot: Option<&ClusterSnapshot>,
) -> Option<String> {
    let attachable = attachable_overlays(snapshot);
    preferred
        .and_then(|p| attachable.iter().find(|n| n.as_str() == p))
        .or(attachable.first())
        .cloned()
}

/// Names of the overlays a probe container can join.
fn attachable_overlays(snapshot: Option<&ClusterSnapshot>) -> Vec<String> {
    snapshot
        .map(|s| {
            s.networks
                .iter()
                .filter(|n| n.driver == "overlay" && n.scope == "swarm" && n.attachable)
                .filter(|n| !n.ingress)
                .map(|n| n.name.clone())
                .collect()
        })
        .unwrap_or_default()
}

fn controls(
    ui: &mut egui::Ui,
    view: &mut ConnectivityView,
    snapshot: Option<&ClusterSnapshot>,
    can_run: bool,
) {
    let attachable = attachable_overlays(snapshot);
    if !view.network_picked && !view.running() {
        view.request.network = default_network(view.preferred_network.as_deref(), snapshot);
    }
    ui.horizontal(|ui| {
        let current = view
            .request
            .network
            .clone()
            .unwrap_or_else(|| "a temporary one".into());
        egui::ComboBox::from_label("overlay to test")
            .selected_text(current)
            .show_ui(ui, |ui| {
                let mut picked =
                    ui.selectable_value(&mut view.request.network, None, "a temporary one");
                for n in attachable {
                    picked |= ui.selectable_value(&mut view.request.network, Some(n.clone()), n);
                }
                if picked.clicked() {
                    view.network_picked = true;
                }
            });
        if view.request.network.is_none() {
            ui.checkbox(&mut view.request.encrypted, "encrypted");
        }
        if view.running() {
            if ui.button("Cancel").clicked() {
                view.cancel_requested = true;
            }
            ui.spinner();
            let phase = view.phase.map(|p| format!("{p:?}")).unwrap_or_default();
            ui.label(format!("{phase} {}/{}", view.done, view.total));
            if view.total > 0 {
                ui.add(
                    egui::ProgressBar::new(view.done as f32 / view.total as f32)
                        .desired_width(160.0),
                );
            }
        } else if ui
            .add_enabled(can_run, egui::Button::new("▶ Run test"))
            .on_disabled_hover_text("Open an inventory to test its hosts")
            .clicked()
        {
            view.start_requested = true;
        }
    });
}

fn summary(ui: &mut egui::Ui, r: &Report) {
    let net = r.network.as_ref().map_or("?".to_string(), |n| {
        let mut s = n.name.clone();
        if n.temporary {
            s.push_str(" (temporary)");
        }
        if n.encrypted {
            s.push_str(" (encrypted)");
        }
        s
    });
    let verdict = if r.healthy() {
        RichText::new("healthy: every pair passed").color(style::ok(ui))
    } else {
        RichText::new(format!("{} finding(s)", r.findings.len())).color(style::bad(ui))
    };
    ui.horizontal(|ui| {
        ui.label(format!(
            "Run {} on {net}, {:.1} s —",
            r.run_id,
            r.duration_ms as f64 / 1000.0
        ));
        ui.label(verdict.strong());
        if !r.cleaned_up {
            ui.colored_label(style::warn(ui), "· leftovers remain (swept next run)");
        }
    });
    if let Some(e) = r.error.as_ref().or(r.interrupted.as_ref()) {
        ui.colored_label(style::bad(ui), e);
    }
}

fn cell_color(ui: &egui::Ui, c: &Cell) -> Color32 {
    let checks = [&c.dns, &c.icmp, &c.tcp, &c.large];
    if checks.iter().all(|k| k.passed()) {
        style::ok(ui)
    } else if checks.iter().any(|k| k.failed()) {
        style::bad(ui)
    } else {
        ui.visuals().weak_text_color()
    }
}

/// Rows are the probing host, columns the probed one.
fn grid(
    ui: &mut egui::Ui,
    cells: &[Cell],
    selected: &mut Option<(String, String)>,
    report: Option<&Report>,
) {
    let mut hosts: Vec<String> = match report {
        Some(r) => r.hosts.iter().map(|h| h.host.clone()).collect(),
        None => Vec::new(),
    };
    for c in cells {
        for h in [&c.from, &c.to] {
            if !hosts.contains(h) {
                hosts.push(h.clone());
            }
        }
    }
    if hosts.is_empty() {
        return;
    }
    ui.label(RichText::new("rows probe columns; marks: dns · ping · tcp · large packet").weak());
    egui::Grid::new("conn_grid")
        .spacing([6.0, 6.0])
        .show(ui, |ui| {
            ui.label("");
            for to in &hosts {
                ui.strong(to);
            }
            ui.end_row();
            for from in &hosts {
                ui.strong(from);
                for to in &hosts {
                    if from == to {
                        ui.label(RichText::new("—").weak());
                        continue;
                    }
                    match cells.iter().find(|c| &c.from == from && &c.to == to) {
                        Some(c) => {
                            let color = cell_color(ui, c);
                            let text = RichText::new(cell_text(c)).color(color);
                            let resp = ui
                                .add(egui::Button::new(text).min_size(egui::vec2(120.0, 24.0)))
                                .on_hover_text("Open the evidence");
                            let label = format!("{from} → {to}");
                            resp.widget_info(|| {
                                egui::WidgetInfo::labeled(egui::Role::Button, true, &label)
                            });
                            if resp.clicked() {
                                *selected = Some((from.clone(), to.clone()));
                            }
                        }
                        None => {
                            ui.spinner();
                        }
                    }
                }
                ui.end_row();
            }
        });
}

fn evidence(ui: &mut egui::Ui, view: &mut ConnectivityView, report: &Report) {
    let Some((from, to)) = view.selected.clone() else {
        return;
    };
    let Some(cell) = report.cell(&from, &to) else {
        return;
    };
    let mut open = true;
    egui::Window::new(format!("{from} → {to}"))
        .open(&mut open)
        .collapsible(false)
        .show(ui.ctx(), |ui| {
            egui::Grid::new("evidence").num_columns(3).show(ui, |ui| {
                for (name, check) in [
                    ("name resolution", &cell.dns),
                    ("ping", &cell.icmp),
                    ("TCP 7777", &cell.tcp),
                    ("large packet", &cell.large),
                ] {
                    ui.label(name);
                    check_label(ui, check);
                    ui.monospace(&check.detail);
                    ui.end_row();
                }
            });
        });
    if !open {
        view.selected = None;
    }
}

fn check_label(ui: &mut egui::Ui, c: &Check) {
    let (text, color) = match c.outcome {
        Outcome::Pass => (
            match c.latency_ms {
                Some(ms) => format!("pass {ms:.2} ms"),
                None => "pass".to_string(),
            },
            style::ok(ui),
        ),
        Outcome::Fail => ("FAIL".to_string(), style::bad(ui)),
        Outcome::Skipped => ("skipped".to_string(), ui.visuals().weak_text_color()),
        Outcome::Untestable => ("untestable".to_string(), ui.visuals().weak_text_color()),
    };
    ui.colored_label(color, text);
}

fn findings(ui: &mut egui::Ui, findings: &[Finding]) {
    ui.add_space(10.0);
    ui.heading("Diagnosis");
    if findings.is_empty() {
        ui.label("Nothing to report.");
        return;
    }
    for f in findings {
        let color = style::severity(ui, f.severity);
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.colored_label(color, RichText::new(&f.title).strong());
            let mut place = f.hosts.join(", ");
            if !f.port.is_empty() {
                place.push_str(&format!(" · {}", f.port));
            }
            ui.label(RichText::new(place).weak());
            for e in &f.evidence {
                ui.label(format!("• {e}"));
            }
            if !f.fix.is_empty() {
                ui.label(RichText::new("Fix:").strong());
                ui.monospace(&f.fix);
            }
        });
    }
}

fn history(
    ui: &mut egui::Ui,
    view: &mut ConnectivityView,
    report: &Report,
    cmds: &mut Vec<Command>,
) {
    ui.add_space(10.0);
    ui.heading("History");
    let Some(runs) = &view.history else {
        if ui.button("Show earlier runs").clicked() {
            cmds.push(Command::LoadConnectivityHistory);
        }
        return;
    };
    let others: Vec<(usize, &Report)> = runs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.run_id != report.run_id)
        .collect();
    if others.is_empty() {
        ui.label("No earlier runs.");
        return;
    }
    for (i, r) in others.iter().rev().take(10) {
        ui.horizontal(|ui| {
            let state = if r.healthy() { "healthy" } else { "problems" };
            ui.label(format!(
                "{}  {}  {state}",
                crate::swarm::audit::fmt_time(r.started_unix),
                r.run_id
            ));
            if ui.small_button("Compare").clicked() {
                view.compare_with = Some(*i);
            }
        });
    }
    if let Some(old) = view.compare_with.and_then(|i| runs.get(i)) {
        ui.add_space(6.0);
        ui.strong(format!("Changes since run {}", old.run_id));
        let changes = compare(old, report);
        if changes.is_empty() {
            ui.label("No changes.");
        }
        for c in changes {
            ui.label(format!("• {c}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    use super::*;
    use crate::snapshot::NetworkInfo;

    fn overlay(name: &str, attachable: bool) -> NetworkInfo {
        NetworkInfo {
            id: format!("id-{name}"),
            name: name.into(),
            driver: "overlay".into(),
            scope: "swarm".into(),
            attachable,
            encrypted: false,
            ingress: false,
            subnets: Vec::new(),
            containers: Vec::new(),
        }
    }

    fn snapshot(nets: Vec<NetworkInfo>) -> ClusterSnapshot {
        let mut s = ClusterSnapshot::empty("t");
        s.networks = nets;
        s
    }

    #[test]
    fn the_default_overlay_is_the_preferred_then_the_first_attachable_one() {
        let s = snapshot(vec![
            overlay("internal", false),
            overlay("appnet", true),
            overlay("wizardnet", true),
        ]);
        assert_eq!(default_network(None, Some(&s)).as_deref(), Some("appnet"));
        assert_eq!(
            default_network(Some("wizardnet"), Some(&s)).as_deref(),
            Some("wizardnet")
        );
        // A preferred overlay the snapshot does not (yet) have is not tested blindly.
        assert_eq!(
            default_network(Some("gone"), Some(&s)).as_deref(),
            Some("appnet")
        );
        assert_eq!(
            default_network(Some("internal"), Some(&s)).as_deref(),
            Some("appnet"),
            "a probe cannot join a non-attachable overlay"
        );
        assert_eq!(default_network(None, Some(&snapshot(vec![]))), None);
        assert_eq!(default_network(None, None), None);
        let demo = crate::snapshot::demo();
        assert_eq!(
            default_network(None, Some(&demo)).as_deref(),
            Some("appnet")
        );
    }

    #[test]
    fn the_panel_tests_the_wizards_overlay_until_the_user_picks_another() {
        let s = snapshot(vec![overlay("appnet", true), overlay("wizardnet", true)]);
        let view = ConnectivityView {
            preferred_network: Some("wizardnet".into()),
            ..Default::default()
        };
        let mut h = Harness::new_ui_state(
            move |ui, view: &mut ConnectivityView| {
                show(ui, view, Some(&s), None, true);
            },
            view,
        );
        h.run();
        assert_eq!(h.state().request.network.as_deref(), Some("wizardnet"));
        h.get_by_label("overlay to test").click();
        h.run();
        h.get_by_label("a temporary one").click();
        h.run();
        assert_eq!(h.state().request.network, None);
        assert!(h.state().network_picked);
        h.run();
        assert_eq!(h.state().request.network, None, "the user's choice stays");
    }
}
