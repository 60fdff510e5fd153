//! Doctor: every finding about the swarm on screen with its fix, most urgent first, and each
//! overlay's addresses in use against its subnets (`doctor::examine`, as `swarmdeck doctor`).
//! What the doctor reads from the hosts besides the snapshot (clocks, routes, Raft data,
//! the swarm's settings) is a `Job::Doctor` on the service thread, started when the panel
//! first shows a live cluster and again on request; until it ends the snapshot's findings
//! show alone.

use eframe::egui::{self, RichText};

use super::panel::{Context, PanelView};
use super::style;
use super::workload_view::SnapshotCache;
use crate::doctor::{self, Finding, HostFacts, Usage};
use crate::service::{Job, JobId, JobUpdate};
use crate::untrusted::visible;

/// The findings, computed again only when the snapshot or the hosts' facts change.
#[derive(Default)]
pub struct DoctorView {
    found: SnapshotCache<(Vec<Finding>, Vec<Usage>)>,
    /// The last facts read from the hosts, and how many times they were read.
    facts: HostFacts,
    reads: u64,
    /// The reading in progress.
    job: Option<JobId>,
    /// A reading was started for this cluster (refused or not: never again unasked).
    asked: bool,
}

impl DoctorView {
    fn read_hosts(&mut self, cx: &mut Context<'_>, snap: &crate::snapshot::ClusterSnapshot) {
        self.asked = true;
        self.job = Some(cx.start(Job::Doctor(Box::new(snap.clone()))));
    }

    /// The reading's state and the button that reads again.
    fn reading_bar(
        &mut self,
        ui: &mut egui::Ui,
        cx: &mut Context<'_>,
        snap: &crate::snapshot::ClusterSnapshot,
    ) {
        if !cx.live() {
            ui.label(
                RichText::new(
                    "Clocks, routes, Raft data and the swarm's settings are read from live \
                     hosts only.",
                )
                .weak(),
            );
            return;
        }
        if !self.asked {
            self.read_hosts(cx, snap);
        }
        ui.horizontal(|ui| match self.job {
            Some(_) => {
                ui.spinner();
                ui.label("Reading clocks, routes and Raft data from the hosts…");
            }
            None => {
                ui.label(format!(
                    "Read from {} host(s); {} read(s) failed.",
                    self.facts.hosts.len(),
                    self.facts.failures.len()
                ));
                if ui.button("Read the hosts again").clicked() {
                    self.read_hosts(cx, snap);
                }
            }
        });
    }
}

impl PanelView for DoctorView {
    fn show(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>) {
        let Some(snap) = cx.snapshot else {
            ui.label("No cluster open.");
            return;
        };
        ui.label(
            RichText::new(
                "What swarmdeck finds wrong or at risk, most urgent first, each with its fix \
                 (the same as `swarmdeck doctor`).",
            )
            .weak(),
        );
        self.reading_bar(ui, cx, snap);
        let facts = &self.facts;
        let (findings, overlays) = self.found.get(snap, &format!("doctor {}", self.reads), || {
            (
                doctor::examine(snap, facts, Vec::new()),
                doctor::overlay_usage(snap),
            )
        });
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                findings_list(ui, findings);
                ui.add_space(12.0);
                overlays_table(ui, overlays);
                ui.add_space(12.0);
                hosts_table(ui, facts);
            });
    }

    fn on_job(&mut self, id: JobId, update: &JobUpdate, _cx: &mut Context<'_>) {
        if self.job != Some(id) {
            return;
        }
        match update {
            JobUpdate::Doctor(facts) => {
                self.facts = (**facts).clone();
                self.reads += 1;
            }
            JobUpdate::Ended | JobUpdate::Refused { .. } => self.job = None,
            _ => {}
        }
    }

    fn reset(&mut self) {
        *self = Self::default();
    }
}

fn findings_list(ui: &mut egui::Ui, findings: &[Finding]) {
    if findings.is_empty() {
        ui.colored_label(style::ok(ui), "No findings: the swarm looks healthy.");
        return;
    }
    for f in findings {
        let color = style::severity(ui, f.severity);
        ui.horizontal_wrapped(|ui| {
            ui.label(
                RichText::new(f.severity.as_str())
                    .color(color)
                    .strong()
                    .monospace(),
            );
            ui.label(RichText::new(f.area).strong());
            ui.add(egui::Label::new(visible(&f.summary)).wrap());
        });
        ui.indent(("fix", &f.subject, f.area), |ui| {
            ui.add(egui::Label::new(RichText::new(format!("fix: {}", visible(&f.fix)))).wrap());
        });
        ui.add_space(6.0);
    }
}

/// Each host's clock offset and, on managers, its Raft data, as last read.
fn hosts_table(ui: &mut egui::Ui, facts: &HostFacts) {
    if facts.hosts.is_empty() {
        return;
    }
    ui.strong("Hosts as read");
    egui::Grid::new("doctor_hosts")
        .striped(true)
        .show(ui, |ui| {
            for h in ["host", "clock offset", "Raft data", "of it snapshots"] {
                ui.label(RichText::new(h).weak());
            }
            ui.end_row();
            let mib = |b: Option<u64>| {
                b.map_or("—".to_string(), |b| {
                    format!("{:.1} MiB", b as f64 / f64::from(1 << 20))
                })
            };
            for h in &facts.hosts {
                ui.label(visible(&h.host));
                ui.label(h.clock.map_or("—".to_string(), |c| {
                    format!("{:+} ms ± {}", c.offset_ms(), c.uncertainty_ms())
                }));
                ui.label(mib(h.raft_bytes));
                ui.label(mib(h.raft_snapshot_bytes));
                ui.end_row();
            }
        });
}

fn overlays_table(ui: &mut egui::Ui, overlays: &[Usage]) {
    if overlays.is_empty() {
        return;
    }
    ui.strong("Overlay addresses");
    egui::Grid::new("overlay_usage")
        .striped(true)
        .show(ui, |ui| {
            for h in [
                "overlay",
                "in use / usable",
                "",
                "tasks",
                "VIPs",
                "load balancers",
                "subnets",
            ] {
                ui.label(RichText::new(h).weak());
            }
            ui.end_row();
            for u in overlays {
                ui.label(visible(&u.network));
                ui.label(format!("{}/{}", u.used(), u.capacity));
                let ratio = u.ratio() as f32;
                let bar = egui::ProgressBar::new(ratio.min(1.0))
                    .desired_width(120.0)
                    .text(format!("{:.0} %", ratio * 100.0));
                ui.add(if u.ratio() >= doctor::CAPACITY_WARNING {
                    bar.fill(style::warn(ui))
                } else {
                    bar
                });
                ui.label(u.tasks.to_string());
                ui.label(u.vips.to_string());
                ui.label(u.load_balancers.to_string());
                ui.label(visible(&u.subnets.join(", ")));
                ui.end_row();
            }
        });
}

#[cfg(test)]
mod tests {
    use egui_kittest::kittest::Queryable;

    use super::super::workload_view::testing::showing;
    use crate::ui::Panel;

    #[test]
    fn the_demos_waiting_tasks_are_findings_with_their_fix() {
        let h = showing(crate::snapshot::demo(), Panel::Doctor);
        h.get_by_label_contains("task(s) of shop_db wait for a node");
        h.get_by_label_contains("docker node update --label-add zone=d");
        h.get_by_label_contains("task(s) of shop_cache wait for a node");
        h.get_by_label("Overlay addresses");
    }

    #[test]
    fn a_live_cluster_has_its_hosts_read_once_on_the_service_thread_and_the_facts_shown() {
        use crate::doctor::facts::{ClockSample, HostReading};
        use crate::service::{Command, Job, JobUpdate};
        use crate::ui::topology::tests::live;
        let mut h = live(crate::snapshot::demo(), Panel::Doctor);
        let started: Vec<_> = h
            .state()
            .cmds
            .iter()
            .filter_map(|c| match c {
                Command::Start {
                    id,
                    job: Job::Doctor(_),
                } => Some(*id),
                _ => None,
            })
            .collect();
        assert_eq!(started.len(), 1, "one reading, not one per frame");
        h.get_by_label("Reading clocks, routes and Raft data from the hosts…");
        let facts = crate::doctor::HostFacts {
            hosts: vec![HostReading {
                host: "node2".into(),
                clock: Some(ClockSample {
                    sent_ms: 1_000,
                    host_ms: 9_000,
                    received_ms: 1_010,
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        let state = &mut h.state_mut().state;
        let _ = state.on_job(started[0], JobUpdate::Doctor(Box::new(facts)));
        let _ = state.on_job(started[0], JobUpdate::Ended);
        h.run_steps(2);
        h.get_by_label_contains("node2's clock is 8.0 s ahead of this workstation");
        h.get_by_label("+7995 ms ± 6");
        h.get_by_label("Read the hosts again");
    }

    #[test]
    fn a_hosts_error_text_and_names_stay_inert() {
        let mut snap = crate::snapshot::demo();
        snap.hosts[1].error = Some("refused\x1b[2J\rforged".into());
        snap.hosts[1].layer = Some(crate::snapshot::Layer::Engine);
        snap.services[0].name = "evil\x1b]0;owned\x07".into();
        let h = showing(snap, Panel::Doctor);
        h.get_by_label_contains("refused\\u{1b}[2J\\rforged");
        assert!(
            h.query_by_label_contains("\x1b").is_none(),
            "no raw escape reaches the screen"
        );
    }
}
