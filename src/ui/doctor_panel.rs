//! Doctor: every finding about the swarm on screen with its fix, most urgent first, and each
//! overlay's addresses in use against its subnets (`doctor::examine`, as `swarmdeck doctor`).

use eframe::egui::{self, RichText};

use super::panel::{Context, PanelView};
use super::style;
use super::workload_view::SnapshotCache;
use crate::doctor::{self, Finding, Usage};
use crate::service::{JobId, JobUpdate};
use crate::untrusted::visible;

/// The findings, computed again only when the snapshot changes.
#[derive(Default)]
pub struct DoctorView {
    found: SnapshotCache<(Vec<Finding>, Vec<Usage>)>,
}

impl PanelView for DoctorView {
    fn show(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>) {
        let Some(snap) = cx.snapshot else {
            ui.label("No cluster open.");
            return;
        };
        let (findings, overlays) = self.found.get(snap, "doctor", || {
            (doctor::examine(snap), doctor::overlay_usage(snap))
        });
        ui.label(
            RichText::new(
                "What swarmdeck finds wrong or at risk, most urgent first, each with its fix \
                 (the same as `swarmdeck doctor`).",
            )
            .weak(),
        );
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                findings_list(ui, findings);
                ui.add_space(12.0);
                overlays_table(ui, overlays);
            });
    }

    fn on_job(&mut self, _id: JobId, _update: &JobUpdate, _cx: &mut Context<'_>) {}

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
