//! Backups: the swarm-state archives on this machine with their metadata (checksums
//! verified, read as a service job), a backup taken from a follower and an archive
//! restored onto a host, each planned and applied through [`PlanFlow`] as
//! `Change::Backup`, the plans `swarmdeck backup create|restore` make.

use eframe::egui::{self, RichText};

use super::panel::{Context, PanelView};
use super::plan_flow::PlanFlow;
use super::style;
use crate::backup::{self, BackupChange, archive};
use crate::service::{Job, JobId, JobUpdate};
use crate::swarm::change::Change;
use crate::untrusted::visible;

/// One archive as listed: its file name and what is known of it.
#[derive(Debug, Clone)]
pub struct Row {
    pub path: std::path::PathBuf,
    pub name: String,
    /// The metadata when the checksum matches, else why the archive cannot be used.
    pub meta: Result<backup::BackupMeta, String>,
}

#[derive(Default)]
pub struct BackupsView {
    rows: Option<Result<Vec<Row>, String>>,
    listing: Option<JobId>,
    /// The host a backup is taken from (empty: the first follower).
    pub from: String,
    /// The host a restore goes onto, and whether the others rejoin.
    pub onto: String,
    pub rejoin: bool,
    pub flow: PlanFlow,
}

impl PanelView for BackupsView {
    fn show(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>) {
        if self.rows.is_none() && self.listing.is_none() && cx.live() {
            self.listing = Some(cx.start(Job::Backups));
        }
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.heading("Backups of the swarm's state");
            ui.label(
                RichText::new(
                    "A follower manager's /var/lib/docker/swarm, taken with its engine stopped \
                     (refused on the leader and when the others would lose quorum), and \
                     restored onto the host it came from with --force-new-cluster (the same \
                     plans as `swarmdeck backup`).",
                )
                .weak(),
            );
            ui.add_space(8.0);
            create_form(ui, self, cx);
            ui.add_space(12.0);
            archives(ui, self, cx);
            self.flow.show(ui, cx);
        });
    }

    fn on_job(&mut self, id: JobId, update: &JobUpdate, _cx: &mut Context<'_>) {
        if Some(id) == self.listing {
            match update {
                JobUpdate::Backups(rows) => {
                    self.rows = Some(rows.as_ref().map(|r| rows_of(r)).map_err(Clone::clone))
                }
                JobUpdate::Ended => self.listing = None,
                _ => {}
            }
            return;
        }
        // A finished backup or restore changes the list.
        if matches!(update, JobUpdate::Applied(_)) {
            self.rows = None;
        }
        self.flow.on_job(id, update);
    }

    fn reset(&mut self) {
        *self = Self::default();
    }
}

fn rows_of(listed: &[archive::Listed]) -> Vec<Row> {
    listed
        .iter()
        .map(|l| Row {
            path: l.path.clone(),
            name: l
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            meta: l
                .result
                .as_ref()
                .map(|v| v.meta.clone())
                .map_err(|e| crate::redact::redact(&e.to_string()).into_owned()),
        })
        .collect()
}

fn host_choice(ui: &mut egui::Ui, label: &str, value: &mut String, hosts: &[String], none: &str) {
    egui::ComboBox::from_label(label)
        .selected_text(if value.is_empty() {
            none
        } else {
            value.as_str()
        })
        .show_ui(ui, |ui| {
            if !none.is_empty() {
                ui.selectable_value(value, String::new(), none);
            }
            for h in hosts {
                ui.selectable_value(value, h.clone(), visible(h));
            }
        });
}

fn create_form(ui: &mut egui::Ui, view: &mut BackupsView, cx: &mut Context<'_>) {
    ui.horizontal(|ui| {
        host_choice(
            ui,
            "back up from",
            &mut view.from,
            cx.hosts,
            "the first follower",
        );
        let can = cx.live() && !view.flow.busy();
        if ui
            .add_enabled(can, egui::Button::new("Back up now"))
            .clicked()
        {
            match archive::default_dir() {
                Ok(dir) => view.flow.request(
                    cx,
                    Change::Backup(BackupChange::Create {
                        from: (!view.from.is_empty()).then(|| view.from.clone()),
                        dir,
                        force: false,
                        max_size: backup::DEFAULT_MAX_SIZE,
                    }),
                ),
                Err(e) => {
                    view.rows = Some(Err(e.to_string()));
                }
            }
        }
    });
}

fn archives(ui: &mut egui::Ui, view: &mut BackupsView, cx: &mut Context<'_>) {
    ui.horizontal(|ui| {
        ui.strong("Archives");
        if ui
            .add_enabled(
                view.listing.is_none() && cx.live(),
                egui::Button::new("Refresh"),
            )
            .clicked()
        {
            view.listing = Some(cx.start(Job::Backups));
        }
    });
    let rows = match &view.rows {
        None => {
            ui.label("Reading the archives…");
            return;
        }
        Some(Err(e)) => {
            ui.colored_label(style::bad(ui), visible(e));
            return;
        }
        Some(Ok(rows)) if rows.is_empty() => {
            ui.label("No backups yet.");
            return;
        }
        Some(Ok(rows)) => rows.clone(),
    };
    ui.horizontal(|ui| {
        host_choice(ui, "restore onto", &mut view.onto, cx.hosts, "");
        ui.checkbox(&mut view.rejoin, "the other hosts rejoin");
    });
    for row in rows {
        ui.separator();
        ui.label(RichText::new(&row.name).monospace());
        match &row.meta {
            Ok(m) => {
                ui.label(format!(
                    "taken {} from {}, cluster {}, {} manager(s), engine {}, {}, autolock {}; \
                     checksum verified",
                    m.created_utc,
                    visible(&m.source_host),
                    visible(&m.cluster_id),
                    m.managers().count(),
                    visible(&m.engine_version),
                    crate::limits::human_bytes(m.size),
                    if m.autolock {
                        "yes (key in the OS keyring)"
                    } else {
                        "no"
                    }
                ));
                let can = cx.live() && !view.flow.busy() && !view.onto.is_empty();
                let label = format!("Restore {}", row.name);
                if ui.add_enabled(can, egui::Button::new(label)).clicked() {
                    view.flow.request(
                        cx,
                        Change::Backup(BackupChange::Restore {
                            archive: row.path.clone(),
                            onto: view.onto.clone(),
                            rejoin: view.rejoin,
                            force: false,
                        }),
                    );
                }
            }
            Err(e) => {
                ui.colored_label(style::bad(ui), format!("unusable: {}", visible(e)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use egui_kittest::kittest::Queryable;

    use super::*;
    use crate::ui::Panel;
    use crate::ui::topology::tests::{last_plan, live_demo};

    #[test]
    fn back_up_now_plans_a_backup_from_the_first_follower() {
        let mut h = live_demo(Panel::Backups);
        h.get_by_label("Back up now").click();
        h.run_steps(2);
        let (_, change) = last_plan(&h);
        let Change::Backup(BackupChange::Create {
            from,
            force,
            max_size,
            ..
        }) = change
        else {
            panic!("a backup plan, not {change:?}");
        };
        assert_eq!(
            (from, force, max_size),
            (None, false, backup::DEFAULT_MAX_SIZE)
        );
    }

    #[test]
    fn listed_archives_offer_a_restore_onto_the_chosen_host() {
        let mut h = live_demo(Panel::Backups);
        let meta = archive::sample_meta("swarm-1.tar.gz", "00".into());
        {
            let view = &mut h.state_mut().state.panels.backups;
            view.listing = None;
            view.rows = Some(Ok(vec![Row {
                path: "/b/swarm-1.tar.gz".into(),
                name: "swarm-1.tar.gz".into(),
                meta: Ok(meta),
            }]));
            view.onto = "node2".into();
            view.rejoin = true;
        }
        h.run_steps(2);
        h.get_by_label("Restore swarm-1.tar.gz").click();
        h.run_steps(2);
        assert_eq!(
            last_plan(&h).1,
            Change::Backup(BackupChange::Restore {
                archive: "/b/swarm-1.tar.gz".into(),
                onto: "node2".into(),
                rejoin: true,
                force: false,
            })
        );
    }
}
