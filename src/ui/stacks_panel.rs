//! Stacks: the swarm's stacks (its services grouped by stack, with task counts), a Compose
//! file deployed as a stack and a stack removed, each through the shared [`PlanFlow`]
//! (`Change::Stack`, the plan the CLI's `stack deploy|rm` makes).

use std::collections::BTreeMap;
use std::path::PathBuf;

use eframe::egui::{self, RichText};
use egui_extras::{Column, TableBuilder};

use super::panel::{Context, PanelView};
use super::plan_flow::PlanFlow;
use super::state::Panel;
use super::style;
use crate::service::{Command, FilePurpose, JobId, JobUpdate};
use crate::snapshot::{ClusterSnapshot, ServiceInfo};
use crate::stack::{StackChange, StackFile};
use crate::swarm::change::Change;
use crate::untrusted::visible;

const READ_ONLY: &str = "Read-only: open an inventory to change hosts";

/// The deploy form and the flow of the last deploy or removal.
#[derive(Debug, Clone, Default)]
pub struct StacksView {
    pub compose: String,
    pub env_file: String,
    pub name: String,
    pub prune: bool,
    pub flow: PlanFlow,
}

/// One stack as the snapshot shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRow {
    pub name: String,
    /// (service name, running, desired), by name.
    pub services: Vec<(String, u64, u64)>,
}

impl StackRow {
    pub fn running(&self) -> u64 {
        self.services.iter().map(|s| s.1).sum()
    }

    pub fn desired(&self) -> u64 {
        self.services.iter().map(|s| s.2).sum()
    }
}

/// The snapshot's services grouped by their stack, by stack name.
pub fn stacks(snap: &ClusterSnapshot) -> Vec<StackRow> {
    let mut by: BTreeMap<&str, Vec<&ServiceInfo>> = BTreeMap::new();
    for s in &snap.services {
        if let Some(stack) = &s.stack {
            by.entry(stack).or_default().push(s);
        }
    }
    by.into_iter()
        .map(|(name, mut svcs)| {
            svcs.sort_by(|a, b| a.name.cmp(&b.name));
            StackRow {
                name: name.to_string(),
                services: svcs
                    .iter()
                    .map(|s| (s.name.clone(), s.running, s.desired))
                    .collect(),
            }
        })
        .collect()
}

impl PanelView for StacksView {
    fn show(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>) {
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.heading("Stacks");
            match cx.snapshot {
                Some(snap) => match stacks(snap) {
                    rows if rows.is_empty() => {
                        ui.label("No stacks on this swarm yet.");
                    }
                    rows => list(ui, self, &rows, cx),
                },
                None => {
                    ui.label("No cluster open.");
                }
            }
            ui.add_space(12.0);
            deploy_form(ui, self, cx);
            ui.add_space(8.0);
            self.flow.show(ui, cx);
        });
    }

    fn on_job(&mut self, id: JobId, update: &JobUpdate, _cx: &mut Context<'_>) {
        self.flow.on_job(id, update);
    }

    fn reset(&mut self) {
        self.flow.reset();
    }
}

impl StacksView {
    /// A file the dialog gave back.
    pub fn picked(&mut self, file: StackFile, path: PathBuf) {
        let text = path.display().to_string();
        match file {
            StackFile::Compose => self.compose = text,
            StackFile::Env => self.env_file = text,
        }
    }

    /// Why the form cannot be planned yet, if it cannot.
    pub fn form_problem(&self) -> Option<String> {
        if self.compose.trim().is_empty() {
            return Some("choose a Compose file".into());
        }
        let name = self.name.trim();
        if name.is_empty() {
            return Some("name the stack".into());
        }
        crate::swarm::validate_name("stack", name)
            .err()
            .map(|e| e.redacted())
    }

    fn change(&self) -> StackChange {
        StackChange::Deploy {
            file: PathBuf::from(self.compose.trim()),
            env_file: Some(self.env_file.trim())
                .filter(|e| !e.is_empty())
                .map(PathBuf::from),
            name: self.name.trim().to_string(),
            prune: self.prune,
        }
    }
}

fn list(ui: &mut egui::Ui, view: &mut StacksView, rows: &[StackRow], cx: &mut Context<'_>) {
    let can_change = cx.live() && !view.flow.busy();
    let mut open = None;
    let mut remove = None;
    TableBuilder::new(ui)
        .id_salt("stacks")
        .striped(true)
        .column(Column::auto().at_least(120.0))
        .column(Column::auto().at_least(80.0))
        .column(Column::remainder())
        .column(Column::auto())
        .header(22.0, |mut h| {
            for t in ["Stack", "Tasks", "Services", ""] {
                h.col(|ui| {
                    ui.strong(t);
                });
            }
        })
        .body(|mut body| {
            for r in rows {
                body.row(20.0, |mut row| {
                    row.col(|ui| {
                        if ui
                            .link(visible(&r.name))
                            .on_hover_text("Show its services in the Services panel")
                            .clicked()
                        {
                            open = Some(r.name.clone());
                        }
                    });
                    row.col(|ui| {
                        let text = format!("{}/{}", r.running(), r.desired());
                        let color = if r.running() < r.desired() {
                            style::warn(ui)
                        } else {
                            style::ok(ui)
                        };
                        ui.colored_label(color, text);
                    });
                    row.col(|ui| {
                        let services: Vec<String> = r
                            .services
                            .iter()
                            .map(|(n, run, want)| format!("{} {run}/{want}", visible(n)))
                            .collect();
                        ui.label(services.join(", "));
                    });
                    row.col(|ui| {
                        if ui
                            .add_enabled(can_change, egui::Button::new("Remove…").small())
                            .on_hover_text("Plan removing its services, networks, secrets, configs")
                            .on_disabled_hover_text(READ_ONLY)
                            .clicked()
                        {
                            remove = Some(r.name.clone());
                        }
                    });
                });
            }
        });
    if let Some(name) = open {
        *cx.focus_stack = Some(name);
        *cx.goto = Some(Panel::Services);
    }
    if let Some(name) = remove {
        view.flow
            .request(cx, Change::Stack(StackChange::Remove { name }));
    }
}

fn deploy_form(ui: &mut egui::Ui, view: &mut StacksView, cx: &mut Context<'_>) {
    ui.heading("Deploy a stack");
    let live = cx.live();
    let pick = |cx: &mut Context<'_>, file| {
        cx.send(Command::PickFile {
            purpose: FilePurpose::Stack(file),
        })
    };
    if ui
        .add_enabled(live, egui::Button::new("Deploy a Compose file…"))
        .on_hover_text("Choose a Compose file, name the stack, then plan")
        .on_disabled_hover_text(READ_ONLY)
        .clicked()
    {
        pick(cx, StackFile::Compose);
    }
    egui::Grid::new("stack_form").num_columns(2).show(ui, |ui| {
        let l = ui.label("Compose file");
        ui.add_enabled(live, egui::TextEdit::singleline(&mut view.compose))
            .labelled_by(l.id);
        ui.end_row();
        let l = ui.label("Stack name");
        ui.add_enabled(
            live,
            egui::TextEdit::singleline(&mut view.name).hint_text("e.g. shop"),
        )
        .labelled_by(l.id);
        ui.end_row();
        let l = ui.label("Env file");
        ui.horizontal(|ui| {
            ui.add_enabled(
                live,
                egui::TextEdit::singleline(&mut view.env_file)
                    .hint_text("optional (default: .env beside the file)"),
            )
            .labelled_by(l.id);
            if ui
                .add_enabled(live, egui::Button::new("Browse…"))
                .on_disabled_hover_text(READ_ONLY)
                .clicked()
            {
                pick(cx, StackFile::Env);
            }
        });
        ui.end_row();
    });
    ui.add_enabled(
        live,
        egui::Checkbox::new(
            &mut view.prune,
            "prune (remove the stack's services the file no longer has)",
        ),
    );
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
        view.flow.request(cx, Change::Stack(view.change()));
    }
    if live
        && let Some(p) = problem
        && !view.name.trim().is_empty()
    {
        ui.colored_label(style::bad(ui), p);
    }
    ui.label(
        RichText::new(
            "Variables come from the env file (or .env beside the Compose file), overridden by \
             this app's environment, as `docker stack deploy` reads them.",
        )
        .weak(),
    );
}

#[cfg(test)]
mod tests {
    use egui_kittest::kittest::{NodeT, Queryable};

    use super::*;
    use crate::ui::workload_view::testing::harness;
    use crate::ui::{AppState, Source};

    #[test]
    fn the_demo_lists_shop_with_its_services_and_deploy_is_read_only() {
        let mut h = harness(AppState::new(Source::Demo, Panel::Stacks));
        h.get_by_label("shop");
        h.get_by_label("4/6");
        h.get_by_label("shop_cache 0/1, shop_db 0/1, shop_web 4/4");
        assert!(
            h.get_by_label("Deploy a Compose file…")
                .accesskit_node()
                .is_disabled()
        );
        assert!(h.get_by_label("Plan").accesskit_node().is_disabled());
        assert!(h.get_by_label("Remove…").accesskit_node().is_disabled());
        // The stack's name opens its services.
        h.get_by_label("shop").click();
        h.run_steps(2);
        let s = h.state();
        assert_eq!(s.panel, Panel::Services);
        assert_eq!(
            s.panels.services.stack,
            super::super::services_panel::StackFilter::Named("shop".into())
        );
    }

    #[test]
    fn a_hosts_stack_and_service_names_stay_inert() {
        let mut snap = crate::snapshot::demo();
        for svc in &mut snap.services {
            if svc.stack.as_deref() == Some("shop") {
                svc.stack = Some("shop\x1b[2J".into());
            }
        }
        snap.services[0].name = "evil\x1b]0;owned\x07".into();
        let h = crate::ui::workload_view::testing::showing(snap, Panel::Stacks);
        h.get_by_label("shop\\u{1b}[2J");
        assert!(
            h.query_by_label_contains("\x1b").is_none(),
            "no raw escape reaches the screen"
        );
    }

    #[test]
    fn the_form_asks_for_a_file_and_a_valid_name_before_planning() {
        let mut v = StacksView::default();
        assert_eq!(v.form_problem().as_deref(), Some("choose a Compose file"));
        v.picked(StackFile::Compose, PathBuf::from("/srv/shop/compose.yml"));
        assert_eq!(v.form_problem().as_deref(), Some("name the stack"));
        v.name = "-bad name".into();
        assert!(v.form_problem().unwrap().contains("invalid stack name"));
        v.name = "shop".into();
        assert_eq!(v.form_problem(), None);
        assert_eq!(
            v.change(),
            StackChange::Deploy {
                file: "/srv/shop/compose.yml".into(),
                env_file: None,
                name: "shop".into(),
                prune: false,
            }
        );
    }
}
