//! Activity: every change swarmdeck made, with its CLI equivalent, newest first;
//! exportable as a shell script that reproduces it.

use eframe::egui::{self, RichText};
use egui_extras::{Column, TableBuilder};

use super::panel::{Context, PanelView};
use super::style;
use crate::service::Command;
use crate::swarm::audit::{AuditEntry, Verdict, fmt_time};

#[derive(Debug, Clone, Default)]
pub struct ActivityView {
    /// None until the log was read once.
    pub entries: Option<Vec<AuditEntry>>,
    pub path: Option<std::path::PathBuf>,
    /// The log was asked for and has not arrived yet.
    pub requested: bool,
}

impl PanelView for ActivityView {
    fn show(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>) {
        ui.heading("Activity");
        running_jobs(ui, cx);
        for cmd in show(ui, self) {
            cx.send(cmd);
        }
    }
}

/// The jobs running now, each with its panel and a Cancel button.
fn running_jobs(ui: &mut egui::Ui, cx: &mut Context<'_>) {
    ui.strong("Running now");
    if cx.jobs.is_empty() {
        ui.label(RichText::new("Nothing is running.").weak());
    }
    let mut cancel = None;
    for (id, job) in cx.jobs.running() {
        ui.horizontal(|ui| {
            ui.spinner();
            let state = match (job.started, job.cancelling) {
                (_, true) => " (stopping after the steps in flight)",
                (false, _) => " (starting)",
                _ => "",
            };
            ui.label(format!(
                "{id} {}{state} · from {}",
                job.what,
                job.owner.title()
            ));
            if !job.cancelling && ui.small_button("Cancel").clicked() {
                cancel = Some(*id);
            }
        });
    }
    if let Some(id) = cancel {
        cx.cancel(id);
    }
    ui.add_space(8.0);
    ui.strong("Done on hosts (audit log)");
}

fn show(ui: &mut egui::Ui, view: &mut ActivityView) -> Vec<Command> {
    let mut cmds = Vec::new();
    ui.horizontal(|ui| {
        if let Some(p) = &view.path {
            ui.label(RichText::new(format!("Audit log: {}", p.display())).weak());
        }
        if ui.button("⟳ Reload").clicked() {
            cmds.push(Command::LoadAudit);
        }
        let any = view.entries.as_ref().is_some_and(|e| !e.is_empty());
        if ui
            .add_enabled(any, egui::Button::new("Export as script…"))
            .on_hover_text("A shell script that repeats these steps with the docker CLI over ssh")
            .clicked()
        {
            cmds.push(Command::ExportAudit);
        }
    });
    ui.add_space(6.0);
    let Some(entries) = &view.entries else {
        if !view.requested {
            cmds.push(Command::LoadAudit);
        }
        view.requested = true;
        ui.spinner();
        return cmds;
    };
    if entries.is_empty() {
        ui.label("Nothing yet. Every change swarmdeck makes on a host is recorded here with its docker command.");
        return cmds;
    }
    TableBuilder::new(ui)
        .id_salt("audit")
        .striped(true)
        .column(Column::auto().at_least(150.0))
        .column(Column::auto().at_least(80.0))
        .column(Column::auto().at_least(180.0))
        .column(Column::remainder().at_least(200.0))
        .column(Column::auto().at_least(60.0))
        .header(22.0, |mut h| {
            for t in ["Time", "Host", "Step", "CLI equivalent", "Outcome"] {
                h.col(|ui| {
                    ui.strong(t);
                });
            }
        })
        .body(|mut body| {
            for e in entries.iter().rev() {
                body.row(20.0, |mut row| {
                    row.col(|ui| {
                        ui.label(fmt_time(e.time));
                    });
                    row.col(|ui| {
                        ui.label(&e.host);
                    });
                    row.col(|ui| {
                        ui.label(&e.step);
                    });
                    row.col(|ui| {
                        ui.monospace(&e.cli);
                    });
                    row.col(|ui| {
                        let color = match e.verdict() {
                            Verdict::Ok => style::ok(ui),
                            Verdict::NotRun => style::warn(ui),
                            Verdict::Failed => style::bad(ui),
                        };
                        ui.colored_label(color, &e.outcome);
                    });
                });
            }
        });
    cmds
}
