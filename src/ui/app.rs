//! The eframe application: `logic` drains service events into state, `ui` draws.

use std::sync::Arc;

use eframe::egui::{self, RichText};

use super::RunOptions;
use super::screenshot::ScreenshotJob;
use super::state::{AppState, Panel, Source, source_label};
use crate::service::{
    Command, Event, FilePurpose, JobId, JobUpdate, Notice, ServiceHandle, Severity,
};

pub struct SwarmdeckApp {
    pub state: AppState,
    service: Option<ServiceHandle>,
    screenshot: Option<ScreenshotJob>,
    /// A file given to open has not been read yet: a screenshot waits for it.
    opening: bool,
    startup: Startup,
}

/// Time to the first drawn frame, reported on exit when asked for.
#[derive(Default)]
struct Startup {
    started: Option<std::time::Instant>,
    first_frame: Option<std::time::Duration>,
    report: bool,
}

impl Drop for SwarmdeckApp {
    fn drop(&mut self) {
        if !self.startup.report {
            return;
        }
        let ms = |d: Option<std::time::Duration>| d.map_or(-1.0, |d| d.as_secs_f64() * 1e3);
        eprintln!(
            "swarmdeck startup: first_frame_ms={:.1} peak_rss_mb={:.1}",
            ms(self.startup.first_frame),
            peak_rss_mb().unwrap_or(-1.0)
        );
    }
}

/// Peak resident memory of this process, from /proc (Linux), for the start-up report.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

impl SwarmdeckApp {
    pub fn new(ctx: &egui::Context, opts: RunOptions) -> Self {
        super::style::install_fallback_fonts(ctx);
        let source = match (&opts.inventory, opts.demo) {
            (Some(path), _) => Source::Inventory(path.clone()),
            (None, true) => Source::Demo,
            (None, false) => Source::Nothing,
        };
        let open = opts.open.clone();
        let mut state = AppState::new(source, opts.panel.unwrap_or(Panel::Overview));
        let repaint_ctx = ctx.clone();
        let service = match ServiceHandle::spawn(Arc::new(move || repaint_ctx.request_repaint())) {
            Ok(s) => Some(s),
            Err(e) => {
                state.push_notice(Notice::error(format!(
                    "cannot start the background service: {e}"
                )));
                None
            }
        };
        // The Hosts panel edits the open inventory, or the user's default one.
        state.panels.hosts.path = match &state.source {
            Source::Inventory(p) => Some(p.clone()),
            _ => crate::inventory::default_inventory_path().ok(),
        };
        let mut app = Self {
            state,
            service,
            screenshot: opts.screenshot.map(ScreenshotJob::new),
            opening: open.is_some(),
            startup: Startup {
                started: opts.started,
                first_frame: None,
                report: opts.report_startup,
            },
        };
        if let Some(path) = app.state.panels.hosts.path.clone() {
            app.send(Command::LoadInventory { path });
        }
        if let Some(path) = open {
            app.send(Command::OpenBundle { path: Some(path) });
        }
        app.refresh();
        app
    }

    /// Switches to another inventory: its hosts in the Hosts panel, its cluster everywhere.
    fn open_inventory(&mut self, path: std::path::PathBuf) {
        self.state.switch_source(Source::Inventory(path.clone()));
        self.state.panels.hosts = Default::default();
        self.state.panels.hosts.path = Some(path.clone());
        self.send(Command::LoadInventory { path });
        self.refresh();
    }

    /// Asks the service for a fresh snapshot of the current inventory.
    fn refresh(&mut self) {
        let Source::Inventory(path) = &self.state.source else {
            return;
        };
        let cmd = Command::Refresh {
            inventory: path.clone(),
        };
        self.send(cmd);
    }

    fn send(&mut self, cmd: Command) {
        let result = match &self.service {
            Some(s) => s.send(cmd).map_err(|e| e.to_string()),
            None => Err("the background service is not running".to_string()),
        };
        if let Err(e) = result {
            self.state.push_notice(Notice::error(e));
        }
    }

    fn drain_events(&mut self) {
        while let Some(event) = self.service.as_mut().and_then(|s| s.try_recv()) {
            match event {
                Event::Snapshot(snap) => self.state.set_snapshot(*snap),
                Event::Confirmed { at } => self.state.confirmed_at = Some(at),
                // The snapshot that follows carries the change.
                Event::Refreshed { .. } => {}
                Event::Busy { what } => self.state.busy = Some(what),
                Event::Idle => self.state.busy = None,
                Event::Notice(n) => {
                    // A file that could not be opened says so in a notice.
                    self.opening = false;
                    self.state.push_notice(n)
                }
                Event::Job { id, update } => self.on_job(id, update),
                Event::Inventory { path, inventory } => {
                    let hosts = &mut self.state.panels.hosts;
                    if hosts.path.as_ref() == Some(&path) {
                        hosts.inventory = Some(*inventory);
                    }
                }
                Event::HostTested { name, outcome } => {
                    self.state.panels.hosts.on_tested(name, outcome)
                }
                Event::Imported { hosts, .. } => {
                    let view = &mut self.state.panels.hosts;
                    let known = view.inventory.clone().unwrap_or_default();
                    view.imported = hosts
                        .into_iter()
                        .filter(|h| known.host(&h.name).is_none())
                        .collect();
                    if view.imported.is_empty() {
                        self.state.push_notice(Notice::info("no new hosts found"));
                    }
                }
                Event::Bundle { path, bundle } => {
                    self.opening = false;
                    self.state.open_bundle(path, *bundle)
                }
                Event::ConnectivityHistory(runs) => {
                    self.state.panels.connectivity.history = Some(runs)
                }
                Event::Audit { path, entries } => {
                    let activity = &mut self.state.panels.activity;
                    activity.path = Some(path);
                    activity.entries = Some(entries);
                    activity.requested = false;
                }
                Event::FilePicked {
                    purpose: FilePurpose::PrivateKey,
                    path,
                } => {
                    if let Some(form) = self.state.panels.hosts.form.as_mut() {
                        form.key_path = path.display().to_string();
                    }
                }
                Event::FilePicked {
                    purpose: FilePurpose::Stack(file),
                    path,
                } => self.state.panels.stacks.picked(file, path),
                Event::FilePicked {
                    purpose: FilePurpose::Object,
                    path,
                } => self.state.panels.secrets.picked(path),
            }
        }
    }

    fn on_job(&mut self, id: JobId, update: JobUpdate) {
        if let JobUpdate::LabReady { inventory } = &update {
            self.open_inventory(inventory.clone());
        }
        for cmd in self.state.on_job(id, update) {
            self.send(cmd);
        }
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        egui::Panel::top("top_bar").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.heading("swarmdeck");
                ui.separator();
                ui.label(source_label(
                    &self.state.source,
                    self.state.snapshot.as_ref(),
                ));
                if let Some(busy) = &self.state.busy {
                    ui.spinner();
                    ui.label(busy);
                }
                let jobs = self.state.jobs.running().count();
                if jobs > 0
                    && ui
                        .link(format!("{jobs} job(s) running"))
                        .on_hover_text("Listed in the Activity panel, where they can be cancelled")
                        .clicked()
                {
                    self.state.panel = Panel::Activity;
                }
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    egui::widgets::global_theme_preference_buttons(ui);
                    ui.separator();
                    let bundle = self.state.bundle();
                    if ui
                        .add_enabled(bundle.is_some(), egui::Button::new("Save bundle…"))
                        .on_hover_text(
                            "Snapshot + preflight + connectivity, to troubleshoot offline",
                        )
                        .clicked()
                        && let Some(b) = bundle
                    {
                        self.send(Command::SaveBundle {
                            bundle: Box::new(b),
                        });
                    }
                    if ui.button("Open bundle…").clicked() {
                        self.send(Command::OpenBundle { path: None });
                    }
                    // Never disabled: every host's part has a deadline, so another
                    // refresh is always worth asking for.
                    let can_refresh = matches!(self.state.source, Source::Inventory(_));
                    if ui
                        .add_enabled(can_refresh, egui::Button::new("⟳ Refresh"))
                        .clicked()
                    {
                        self.refresh();
                    }
                });
            });
        });
    }

    fn nav(&mut self, ui: &mut egui::Ui) {
        egui::Panel::left("nav")
            .resizable(false)
            .default_size(150.0)
            .show(ui, |ui| {
                ui.add_space(6.0);
                for panel in Panel::ALL {
                    ui.selectable_value(&mut self.state.panel, *panel, panel.title());
                }
            });
    }

    fn notices(&mut self, ui: &mut egui::Ui) {
        if self.state.notices.is_empty() {
            return;
        }
        egui::Panel::bottom("notices").show(ui, |ui| {
            let mut dismiss = None;
            for (i, n) in self.state.notices.iter().enumerate().rev() {
                ui.horizontal(|ui| {
                    let (icon, color) = match n.severity {
                        Severity::Error => ("⛔", super::style::bad(ui)),
                        Severity::Warning => ("⚠", super::style::warn(ui)),
                        Severity::Info => ("ℹ", ui.visuals().text_color()),
                    };
                    if ui.small_button("×").on_hover_text("Dismiss").clicked() {
                        dismiss = Some(i);
                    }
                    let text = RichText::new(format!("{icon} {}", n.text)).color(color);
                    ui.add(egui::Label::new(text).wrap());
                });
            }
            if let Some(i) = dismiss {
                self.state.notices.remove(i);
            }
        });
    }
}

/// The selected panel's content; returns the commands the user asked for.
pub(super) fn draw_panel(ui: &mut egui::Ui, state: &mut AppState) -> Vec<Command> {
    let mut commands = Vec::new();
    let panel = state.panel;
    let goto = state.with_context(panel, &mut commands, |view, cx| {
        view.show(ui, cx);
        cx.goto.take()
    });
    if let Some(p) = goto {
        state.panel = p;
    }
    commands
}

impl eframe::App for SwarmdeckApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.drain_events();
        match &mut self.screenshot {
            Some(_) if self.opening => ctx.request_repaint(),
            Some(job) => job.tick(ctx),
            None => {}
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        if self.startup.first_frame.is_none() {
            self.startup.first_frame = self.startup.started.map(|s| s.elapsed());
        }
        self.top_bar(ui);
        self.nav(ui);
        self.notices(ui);
        let mut cmds = Vec::new();
        egui::CentralPanel::default_margins().show(ui, |ui| {
            super::health::banner(ui, &self.state);
            cmds = draw_panel(ui, &mut self.state);
        });
        for cmd in cmds {
            self.send(cmd);
        }
        if std::mem::take(&mut self.state.panels.hosts.open_requested)
            && let Some(path) = self.state.panels.hosts.path.clone()
        {
            self.open_inventory(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use egui_kittest::Harness;
    use egui_kittest::kittest::{NodeT, Queryable};

    use super::*;

    fn demo_app(panel: Option<Panel>) -> Harness<'static, SwarmdeckApp> {
        let mut h = Harness::builder()
            .with_size([1280.0, 820.0])
            .build_eframe(move |cc| {
                SwarmdeckApp::new(
                    &cc.egui_ctx,
                    RunOptions {
                        demo: true,
                        panel,
                        ..Default::default()
                    },
                )
            });
        h.run_steps(3);
        h
    }

    #[test]
    fn demo_overview_lists_every_node_and_the_quorum_figures() {
        let h = demo_app(None);
        let snap = crate::snapshot::demo();
        assert_eq!(snap.nodes.len(), 5, "the demo is a 5-node cluster");
        for n in &snap.nodes {
            assert!(
                h.query_all_by_label(&n.hostname).next().is_some(),
                "{} is shown",
                n.hostname
            );
        }
        h.get_by_label("★ Leader");
        h.get_by_label("quorum healthy");
        h.get_by_label("(3 of 3 managers reachable, 2 needed)");
        h.get_by_label("appnet  ·  10.42.0.0/24  ·  attachable");
    }

    #[test]
    fn demo_placement_shows_the_stack_and_a_pending_tasks_reason() {
        let mut h = demo_app(Some(Panel::Placement));
        // shop_web runs one task on each of four nodes; two services wait for a node.
        for slot in 1..=4 {
            h.get_by_label(&format!("shop_web.{slot}"));
        }
        h.get_by_label("shop_db.1").click();
        h.run_steps(3);
        h.get_by_label_contains("no node has label zone=d");
        h.get_by_label_contains("docker node update --label-add zone=d");
        h.get_by_label("shop_cache.1").click();
        h.run_steps(3);
        h.get_by_label_contains("unreserved memory");
    }

    #[test]
    fn navigating_to_quorum_highlights_this_cluster() {
        let mut h = demo_app(None);
        assert!(h.query_by_label("◀ this cluster").is_none());
        h.get_by_label("Quorum").click();
        h.run_steps(2);
        h.get_by_label("◀ this cluster");
        h.get_by_label_contains("This cluster: 3 managers, 3 reachable, majority 2");
    }

    #[test]
    fn connectivity_grid_shows_the_failing_cell_its_evidence_and_the_fix() {
        let mut h = demo_app(Some(Panel::Connectivity));
        // The demo run had udp/4789 dropped on node4: its cells fail, the others pass.
        let report = crate::snapshot::demo_connectivity();
        let bad = report.cell("node1", "node4").expect("cell node1→node4");
        assert!(bad.icmp.failed() && bad.dns.passed());
        assert!(report.cell("node1", "node2").unwrap().all_passed());
        h.get_by_label("node1 → node4").click();
        h.run_steps(2);
        // The evidence window names the pair and shows each check's outcome.
        assert!(h.query_all_by_label("FAIL").next().is_some());
        h.get_by_label_contains(&bad.icmp.detail);
        // The diagnosis names the host, the port and the command that fixes it.
        h.get_by_label("node4: overlay data traffic (VXLAN, 4789/udp) does not get through");
        h.get_by_label("node4 · 4789/udp");
        h.get_by_label_contains("iptables -D INPUT -p udp -m udp --dport 4789 -j DROP");
        // The demo has no live hosts to test.
        assert!(h.get_by_label("▶ Run test").accesskit_node().is_disabled());
    }

    #[test]
    fn hosts_panel_on_the_demo_offers_to_open_the_users_inventory() {
        let mut h = demo_app(Some(Panel::Hosts));
        h.get_by_label_contains("These are your own hosts");
        // Pointed at an empty inventory of the test's own (no host to reach), the button
        // switches the whole app to it.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inventory.toml");
        crate::inventory::Inventory::default().save(&path).unwrap();
        h.state_mut().state.panels.hosts.path = Some(path.clone());
        h.get_by_label("Open this inventory").click();
        h.run_steps(3);
        assert_eq!(h.state().state.source, Source::Inventory(path.clone()));
        h.get_by_label(&format!("Inventory {}", path.display()));
        assert!(
            h.query_by_label_contains("These are your own hosts")
                .is_none()
        );
    }

    #[test]
    fn wizard_walks_through_every_stage_on_the_demo() {
        let mut h = demo_app(Some(Panel::Wizard));
        h.get_by_label_contains("Read-only: this is the demo.");
        h.get_by_label("The demo's hosts (your own are in the Hosts panel):");
        // Hosts: the demo's five, with the advised manager count and its fault tolerance.
        for n in 1..=5 {
            h.get_by_label(&format!("• node{n}"));
        }
        h.get_by_label("tolerates 2 manager failure(s)");
        let stages = [
            "Checks Docker, swarm membership",
            "Run preflight first",
            "Create the swarm on the first manager.",
            "Join the other hosts as managers and workers",
            "Create the attachable overlay network",
            "Last step: a probe container on every host",
        ];
        for text in stages {
            h.get_by_label("Next ▶").click();
            h.run_steps(2);
            h.get_by_label_contains(text);
        }
        assert!(
            h.query_by_label("Next ▶").is_none(),
            "the last stage has no next"
        );
        // In the demo nothing can be planned or applied.
        h.get_by_label("5 Join").click();
        h.run_steps(2);
        assert!(
            h.get_by_label("⟳ Plan again")
                .accesskit_node()
                .is_disabled()
        );
    }

    #[test]
    fn a_saved_bundle_opens_offline_in_every_panel() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.json");
        let mut bundle = crate::snapshot::Bundle::new(crate::snapshot::demo());
        bundle.connectivity = Some(crate::snapshot::demo_connectivity());
        std::fs::write(&path, bundle.to_json()).unwrap();
        let opts = RunOptions {
            open: Some(path.clone()),
            panel: Some(Panel::Connectivity),
            ..Default::default()
        };
        let mut h = Harness::builder()
            .with_size([1280.0, 820.0])
            .build_eframe(move |cc| SwarmdeckApp::new(&cc.egui_ctx, opts));
        let start = std::time::Instant::now();
        while h.state().state.source != Source::Bundle(path.clone()) {
            assert!(start.elapsed().as_secs() < 10, "the bundle did not open");
            h.run_steps(1);
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        h.run_steps(2);
        h.get_by_label_contains("(read-only)");
        h.get_by_label("node4: overlay data traffic (VXLAN, 4789/udp) does not get through");
        assert_eq!(h.state().state.snapshot.as_ref().unwrap().nodes.len(), 5);
        // What is shown can be saved again as a bundle.
        assert!(h.state().state.bundle().unwrap().connectivity.is_some());
    }

    #[test]
    fn quorum_what_if_changes_the_verdict() {
        let mut h = demo_app(Some(Panel::Quorum));
        assert!(
            h.query_by_label_contains("Then: 3 voting managers, 3 up")
                .is_some()
        );
        h.get_by_label("node2 down").click();
        h.run_steps(2);
        h.get_by_label_contains("Then: 3 voting managers, 2 up, majority 2");
        assert!(
            h.query_all_by_label("quorum holds, but one more manager failure loses it")
                .next()
                .is_some()
        );
        h.get_by_label("node3 down").click();
        h.run_steps(2);
        assert!(
            h.query_all_by_label("quorum lost: the swarm cannot be managed")
                .next()
                .is_some()
        );
        // Demoting the last healthy manager is what the engine would refuse.
        h.get_by_label("demote node1").click();
        h.run_steps(2);
        h.get_by_label_contains("refused: demoting manager node1");
        h.get_by_label("Reset").click();
        h.run_steps(2);
        assert!(
            h.query_by_label_contains("Then: 3 voting managers, 3 up")
                .is_some()
        );
    }

    #[test]
    fn topology_selects_a_node_and_shows_its_details() {
        let mut h = demo_app(Some(Panel::Topology));
        h.get_by_label("Select a node in the picture.");
        // Inside the pan/zoom scene, activate the card the way assistive technology does.
        h.get_by_label("node4").click_accesskit();
        h.run_steps(2);
        assert!(h.query_by_label("Select a node in the picture.").is_none());
        h.get_by_label("web4 on appnet 10.42.0.6/24");
        let node4 = crate::snapshot::demo()
            .nodes
            .into_iter()
            .find(|n| n.hostname == "node4")
            .unwrap();
        // Selected by ID: hostnames may be shared by cloned machines.
        assert_eq!(
            h.state().state.panels.topology.selected.as_deref(),
            Some(node4.id.as_str())
        );
    }
}
