//! Secrets and configs: the swarm's names (never their data), and a secret or config
//! created, rotated or removed through the shared [`PlanFlow`] (`Change::Object`, the plan
//! the CLI's `secret|config create|rotate|rm` makes). Data comes from a file or a masked
//! field; a typed value is forgotten as soon as the plan is asked for.

use std::path::{Path, PathBuf};

use eframe::egui::{self, RichText};
use egui_extras::{Column, TableBuilder};

use super::panel::{Context, PanelView};
use super::plan_flow::PlanFlow;
use super::style;
use crate::redact::Secret;
use crate::service::{Command, FilePurpose, JobId, JobUpdate};
use crate::swarm::change::Change;
use crate::swarm::secrets::{Kind, ObjectChange, ObjectOp, encode, version_of};
use crate::untrusted::visible;

const READ_ONLY: &str = "Read-only: open an inventory to change hosts";

/// The form (create or rotate) and the flow of the last change.
#[derive(Debug, Clone)]
pub struct SecretsView {
    pub kind: Kind,
    pub name: String,
    /// Rotate the name's newest version instead of creating it.
    pub rotate: bool,
    /// A file holding the data.
    pub file: String,
    /// Or the data typed in (masked); cleared once planned.
    pub typed: String,
    pub flow: PlanFlow,
    /// Why the last Plan click could not read the data.
    pub problem: Option<String>,
}

impl Default for SecretsView {
    fn default() -> Self {
        SecretsView {
            kind: Kind::Secret,
            name: String::new(),
            rotate: false,
            file: String::new(),
            typed: String::new(),
            flow: PlanFlow::default(),
            problem: None,
        }
    }
}

impl PanelView for SecretsView {
    fn show(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>) {
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.heading("Secrets and configs");
            match cx.snapshot {
                Some(snap) => {
                    let (secrets, configs) = (snap.secrets.clone(), snap.configs.clone());
                    list(ui, self, Kind::Secret, &secrets, cx);
                    ui.add_space(8.0);
                    list(ui, self, Kind::Config, &configs, cx);
                }
                None => {
                    ui.label("No cluster open.");
                }
            }
            ui.add_space(12.0);
            form(ui, self, cx);
            ui.add_space(8.0);
            self.flow.show(ui, cx);
        });
    }

    fn on_job(&mut self, id: JobId, update: &JobUpdate, _cx: &mut Context<'_>) {
        self.flow.on_job(id, update);
    }

    fn reset(&mut self) {
        self.flow.reset();
        self.typed.clear();
    }
}

impl SecretsView {
    /// The data file the dialog gave back.
    pub fn picked(&mut self, path: PathBuf) {
        self.file = path.display().to_string();
        self.problem = None;
    }

    /// Why the form cannot be planned yet, if it cannot (without reading the file).
    pub fn form_problem(&self) -> Option<String> {
        let name = self.name.trim();
        if name.is_empty() {
            return Some(format!("name the {}", self.kind.word()));
        }
        if let Err(e) = crate::swarm::validate_name(self.kind.word(), name) {
            return Some(e.redacted());
        }
        match (self.file.trim().is_empty(), self.typed.is_empty()) {
            (true, true) => Some("choose a file or type the value".into()),
            (false, false) => Some("either a file or a typed value, not both".into()),
            _ => None,
        }
    }

    /// The change the form asks for: the data read (bounded by swarm's limit) now.
    fn change(&mut self) -> Result<Change, String> {
        let data = if self.typed.is_empty() {
            read_data(Path::new(self.file.trim()), self.kind)?
        } else {
            encode(std::mem::take(&mut self.typed).as_bytes())
        };
        let op = if self.rotate {
            ObjectOp::Rotate(data)
        } else {
            ObjectOp::Create(data)
        };
        Ok(Change::Object(ObjectChange {
            kind: self.kind,
            name: self.name.trim().to_string(),
            op,
        }))
    }
}

/// A data file's bytes, encoded; refused past swarm's size limit before reading it whole.
/// A local file: no network is waited on.
pub fn read_data(path: &Path, kind: Kind) -> Result<Secret, String> {
    let too_big = |len: u64| {
        format!(
            "{} is {len} bytes; a {} holds at most {} KiB",
            path.display(),
            kind.word(),
            kind.max_bytes() / 1024
        )
    };
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > kind.max_bytes() as u64 {
        return Err(too_big(meta.len()));
    }
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if data.len() > kind.max_bytes() {
        return Err(too_big(data.len() as u64));
    }
    Ok(encode(&data))
}

fn list(
    ui: &mut egui::Ui,
    view: &mut SecretsView,
    kind: Kind,
    names: &[String],
    cx: &mut Context<'_>,
) {
    let title = match kind {
        Kind::Secret => "Secrets",
        Kind::Config => "Configs",
    };
    ui.strong(title);
    if names.is_empty() {
        ui.label(format!("No {}s.", kind.word()));
        return;
    }
    let can_change = cx.live() && !view.flow.busy();
    let mut rotate = None;
    let mut remove = None;
    let mut sorted: Vec<&String> = names.iter().collect();
    sorted.sort_by(|a, b| {
        let (va, vb) = (version_of(a), version_of(b));
        (va.0, va.1).cmp(&(vb.0, vb.1))
    });
    TableBuilder::new(ui)
        .id_salt(("objects", kind.word()))
        .striped(true)
        .column(Column::auto().at_least(200.0))
        .column(Column::auto().at_least(60.0))
        .column(Column::remainder())
        .header(22.0, |mut h| {
            for t in ["Name", "Version", ""] {
                h.col(|ui| {
                    ui.strong(t);
                });
            }
        })
        .body(|mut body| {
            for name in sorted {
                let (base, version) = version_of(name);
                body.row(20.0, |mut row| {
                    row.col(|ui| {
                        ui.label(visible(name));
                    });
                    row.col(|ui| {
                        ui.label(format!("v{version}"));
                    });
                    row.col(|ui| {
                        ui.horizontal(|ui| {
                            if ui
                                .add_enabled(can_change, egui::Button::new("Rotate…").small())
                                .on_hover_text(
                                    "New data as the next version; every service using it is \
                                     moved to it, then the old one is removed",
                                )
                                .on_disabled_hover_text(READ_ONLY)
                                .clicked()
                            {
                                rotate = Some(base.to_string());
                            }
                            if ui
                                .add_enabled(can_change, egui::Button::new("Remove…").small())
                                .on_disabled_hover_text(READ_ONLY)
                                .clicked()
                            {
                                remove = Some(name.clone());
                            }
                        });
                    });
                });
            }
        });
    if let Some(base) = rotate {
        view.kind = kind;
        view.name = base;
        view.rotate = true;
        view.problem = None;
    }
    if let Some(name) = remove {
        view.flow.request(
            cx,
            Change::Object(ObjectChange {
                kind,
                name,
                op: ObjectOp::Remove,
            }),
        );
    }
}

fn form(ui: &mut egui::Ui, view: &mut SecretsView, cx: &mut Context<'_>) {
    let live = cx.live();
    ui.heading(if view.rotate { "Rotate" } else { "Create" });
    ui.add_enabled_ui(live, |ui| {
        ui.horizontal(|ui| {
            ui.radio_value(&mut view.kind, Kind::Secret, "secret");
            ui.radio_value(&mut view.kind, Kind::Config, "config");
            ui.separator();
            ui.radio_value(&mut view.rotate, false, "create");
            ui.radio_value(&mut view.rotate, true, "rotate");
        });
    });
    egui::Grid::new("object_form")
        .num_columns(2)
        .show(ui, |ui| {
            let l = ui.label("Name");
            ui.add_enabled(
                live,
                egui::TextEdit::singleline(&mut view.name).hint_text("e.g. db_password"),
            )
            .labelled_by(l.id);
            ui.end_row();
            let l = ui.label("Data file");
            ui.horizontal(|ui| {
                ui.add_enabled(live, egui::TextEdit::singleline(&mut view.file))
                    .labelled_by(l.id);
                if ui
                    .add_enabled(live, egui::Button::new("Browse…"))
                    .on_disabled_hover_text(READ_ONLY)
                    .clicked()
                {
                    cx.send(Command::PickFile {
                        purpose: FilePurpose::Object,
                    });
                }
            });
            ui.end_row();
            let l = ui.label("or the value");
            ui.add_enabled(
                live,
                egui::TextEdit::singleline(&mut view.typed)
                    .password(true)
                    .hint_text("typed here, never shown"),
            )
            .labelled_by(l.id);
            ui.end_row();
        });
    let problem = view.form_problem();
    let can_plan = live && !view.flow.busy() && problem.is_none();
    let plan = ui
        .add_enabled(can_plan, egui::Button::new("Plan"))
        .on_disabled_hover_text(if live {
            problem
                .clone()
                .unwrap_or_else(|| "a plan is in progress".into())
        } else {
            READ_ONLY.into()
        });
    if plan.clicked() {
        match view.change() {
            Ok(change) => {
                view.problem = None;
                view.flow.request(cx, change);
            }
            Err(e) => view.problem = Some(e),
        }
    }
    if let Some(p) = view.problem.as_ref().or(problem.as_ref())
        && live
        && !view.name.trim().is_empty()
    {
        ui.colored_label(style::bad(ui), visible(p));
    }
    ui.label(
        RichText::new(
            "The data goes to the swarm's manager only: swarmdeck keeps none of it, and the \
             plan, the audit and the logs never show it.",
        )
        .weak(),
    );
}

#[cfg(test)]
mod tests {
    use egui_kittest::kittest::Queryable;

    use super::*;
    use crate::ui::Panel;
    use crate::ui::topology::tests::{last_plan, live};

    fn with_objects() -> crate::snapshot::ClusterSnapshot {
        let mut snap = crate::snapshot::demo();
        snap.secrets = vec!["db_password".into(), "db_password.v2".into()];
        snap.configs = vec!["nginx_conf".into(), "evil\x1b[2J".into()];
        snap
    }

    #[test]
    fn names_are_listed_inert_and_rotate_fills_the_form_with_the_base_name() {
        let mut h = live(with_objects(), Panel::Secrets);
        h.get_by_label("db_password.v2");
        h.get_by_label("evil\\u{1b}[2J");
        assert!(h.query_by_label_contains("\x1b").is_none());
        h.get_all_by_label("Rotate…").nth(1).unwrap().click();
        h.run_steps(2);
        let v = &h.state().state.panels.secrets;
        assert_eq!(
            (v.kind, v.name.as_str(), v.rotate),
            (Kind::Secret, "db_password", true)
        );
    }

    #[test]
    fn a_typed_value_is_planned_encoded_and_then_forgotten() {
        let mut h = live(with_objects(), Panel::Secrets);
        let v = &mut h.state_mut().state.panels.secrets;
        (v.name, v.typed) = ("api_key".into(), "s3cret".into());
        h.run_steps(2);
        h.get_by_label("Plan").click();
        h.run_steps(2);
        let (_, change) = last_plan(&h);
        let want = Change::Object(ObjectChange {
            kind: Kind::Secret,
            name: "api_key".into(),
            op: ObjectOp::Create(encode(b"s3cret")),
        });
        assert_eq!(change, want);
        assert!(h.state().state.panels.secrets.typed.is_empty());
    }

    #[test]
    fn the_form_wants_a_name_and_one_source_and_a_file_within_swarms_limit() {
        let mut v = SecretsView::default();
        assert_eq!(v.form_problem().as_deref(), Some("name the secret"));
        v.name = "ok".into();
        assert_eq!(
            v.form_problem().as_deref(),
            Some("choose a file or type the value")
        );
        (v.file, v.typed) = ("/x".into(), "y".into());
        assert!(v.form_problem().unwrap().contains("not both"));
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'x'; 500 * 1024 + 1]).unwrap();
        let err = read_data(&big, Kind::Secret).unwrap_err();
        assert!(err.contains("at most 500 KiB"), "{err}");
        assert!(read_data(&big, Kind::Config).is_ok());
    }
}
