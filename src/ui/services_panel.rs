//! Services: the swarm's services filtered by stack and state, and for the selected one
//! its spec, its tasks, and why each pending task finds no node.

use std::collections::{BTreeSet, HashMap};

use eframe::egui::{self, RichText};
use egui_extras::{Column, TableBuilder};

use super::logs_panel::LogTarget;
use super::panel::{Context, PanelView};
use super::style;
use super::workload_view::{self as wv, task_state_color};
use crate::service::{JobId, JobUpdate};
use crate::snapshot::workloads::{Resources, ServiceResources};
use crate::snapshot::{ClusterSnapshot, ServiceInfo, TaskInfo};
use crate::untrusted::visible;
use crate::workloads::{self, PendingReason};

/// Which services the list shows by stack.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StackFilter {
    #[default]
    All,
    /// Services outside any stack.
    NoStack,
    Named(String),
}

/// Which services the list shows by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StateFilter {
    #[default]
    All,
    /// Fewer tasks running than desired.
    Degraded,
    /// At least one task waits for a node.
    Pending,
}

#[derive(Debug, Default)]
pub struct ServicesView {
    pub stack: StackFilter,
    pub state: StateFilter,
    /// The selected service's ID.
    pub selected: Option<String>,
    /// The pending reasons of the selected service.
    explained: wv::SnapshotCache<Vec<Explained>>,
    /// Scale, update, rollback of the selected service, and its rollout.
    pub rollout: super::rollout_view::RolloutActions,
}

/// One reason and the tasks it holds back.
#[derive(Debug, Clone)]
struct Explained {
    tasks: Vec<String>,
    reason: PendingReason,
}

impl PanelView for ServicesView {
    fn show(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>) {
        if let Some(stack) = cx.focus_stack.take() {
            self.stack = StackFilter::Named(stack);
        }
        let Some(snap) = cx.snapshot else {
            ui.label("No cluster open.");
            return;
        };
        if let Some(why) = &snap.workloads_error {
            ui.colored_label(
                style::bad(ui),
                format!("The services could not be read: {}", visible(why)),
            );
        }
        if snap.services.is_empty() {
            ui.heading("Services");
            ui.label("This cluster runs no services.");
            return;
        }
        let pending = pending_counts(snap);
        self.filters(ui, snap, &pending);
        let shown: Vec<&ServiceInfo> = snap
            .services
            .iter()
            .filter(|s| self.keeps(s, &pending))
            .collect();
        let list_height = (ui.available_height() * 0.4).max(120.0);
        self.list(ui, &shown, &pending, list_height);
        ui.separator();
        let now = wv::age_reference(cx.freshness);
        let logs = egui::ScrollArea::vertical()
            .id_salt("service_detail")
            .auto_shrink([false, false])
            .show(ui, |ui| self.detail(ui, cx, snap, now))
            .inner;
        if let Some(target) = logs {
            super::logs_panel::open(cx, target);
        }
    }

    fn on_job(&mut self, id: JobId, update: &JobUpdate, _cx: &mut Context<'_>) {
        self.rollout.on_job(id, update);
    }

    fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Pending tasks per service ID.
fn pending_counts(snap: &ClusterSnapshot) -> HashMap<&str, usize> {
    let mut counts = HashMap::new();
    for t in snap.tasks.iter().filter(|t| t.is_unplaced()) {
        *counts.entry(t.service_id.as_str()).or_default() += 1;
    }
    counts
}

fn degraded(s: &ServiceInfo) -> bool {
    s.running < s.desired
}

impl ServicesView {
    fn keeps(&self, s: &ServiceInfo, pending: &HashMap<&str, usize>) -> bool {
        let stack = match &self.stack {
            StackFilter::All => true,
            StackFilter::NoStack => s.stack.is_none(),
            StackFilter::Named(name) => s.stack.as_ref() == Some(name),
        };
        let state = match self.state {
            StateFilter::All => true,
            StateFilter::Degraded => degraded(s),
            StateFilter::Pending => pending.contains_key(s.id.as_str()),
        };
        stack && state
    }

    fn filters(
        &mut self,
        ui: &mut egui::Ui,
        snap: &ClusterSnapshot,
        pending: &HashMap<&str, usize>,
    ) {
        let stacks: BTreeSet<&str> = snap
            .services
            .iter()
            .filter_map(|s| s.stack.as_deref())
            .collect();
        let degraded_n = snap.services.iter().filter(|s| degraded(s)).count();
        ui.horizontal_wrapped(|ui| {
            ui.heading("Services");
            ui.label(format!(
                "{} services, {degraded_n} degraded, {} with pending tasks",
                snap.services.len(),
                pending.len()
            ));
        });
        ui.horizontal_wrapped(|ui| {
            let stack_label = ui.label("Stack:");
            let current = match &self.stack {
                StackFilter::All => "all stacks".to_string(),
                StackFilter::NoStack => "no stack".to_string(),
                StackFilter::Named(n) => visible(n).into_owned(),
            };
            egui::ComboBox::from_id_salt("stack_filter")
                .selected_text(current)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.stack, StackFilter::All, "all stacks");
                    ui.selectable_value(&mut self.stack, StackFilter::NoStack, "no stack");
                    for s in stacks {
                        let choice = StackFilter::Named(s.to_string());
                        ui.selectable_value(&mut self.stack, choice, visible(s));
                    }
                })
                .response
                .labelled_by(stack_label.id);
            ui.separator();
            ui.label("Show:");
            ui.selectable_value(&mut self.state, StateFilter::All, "All");
            ui.selectable_value(
                &mut self.state,
                StateFilter::Degraded,
                "Degraded (running < desired)",
            );
            ui.selectable_value(&mut self.state, StateFilter::Pending, "With pending tasks");
        });
    }

    fn list(
        &mut self,
        ui: &mut egui::Ui,
        shown: &[&ServiceInfo],
        pending: &HashMap<&str, usize>,
        height: f32,
    ) {
        if shown.is_empty() {
            ui.label(RichText::new("No service matches these filters.").weak());
            return;
        }
        TableBuilder::new(ui)
            .id_salt("services")
            .striped(true)
            .max_scroll_height(height)
            .column(Column::auto().at_least(140.0).clip(true))
            .column(Column::auto().at_least(80.0).clip(true))
            .column(Column::auto().at_least(90.0))
            .column(Column::auto().at_least(110.0))
            .column(Column::initial(220.0).at_least(120.0).clip(true))
            .column(Column::remainder().clip(true))
            .header(22.0, |mut h| {
                for t in ["Name", "Stack", "Mode", "Replicas", "Image", "Ports"] {
                    h.col(|ui| {
                        ui.strong(t);
                    });
                }
            })
            // Only the visible rows are laid out: hundreds of services stay cheap.
            .body(|body| {
                body.rows(22.0, shown.len(), |mut row| {
                    let s = shown[row.index()];
                    let selected = self.selected.as_deref() == Some(s.id.as_str());
                    row.col(|ui| {
                        if ui.selectable_label(selected, visible(&s.name)).clicked() {
                            self.selected = Some(s.id.clone());
                        }
                    });
                    row.col(|ui| {
                        ui.label(visible(s.stack.as_deref().unwrap_or("—")));
                    });
                    row.col(|ui| {
                        ui.label(s.mode.as_str());
                    });
                    row.col(|ui| {
                        let waiting = pending.get(s.id.as_str()).copied().unwrap_or(0);
                        let color = if degraded(s) || waiting > 0 {
                            style::warn(ui)
                        } else {
                            style::ok(ui)
                        };
                        let text = match waiting {
                            0 => s.replicas(),
                            n => format!("{} ({n} pending)", s.replicas()),
                        };
                        ui.colored_label(color, text);
                    });
                    row.col(|ui| {
                        ui.add(egui::Label::new(visible(s.image_short())).truncate())
                            .on_hover_text(visible(&s.image));
                    });
                    row.col(|ui| {
                        let ports: Vec<String> = s.ports.iter().map(|p| p.describe()).collect();
                        ui.add(egui::Label::new(ports.join(", ")).truncate());
                    });
                });
            });
    }

    /// The selected service; the logs to open when asked.
    fn detail(
        &mut self,
        ui: &mut egui::Ui,
        cx: &mut Context<'_>,
        snap: &ClusterSnapshot,
        now: u64,
    ) -> Option<LogTarget> {
        let Some(service) = self
            .selected
            .as_deref()
            .and_then(|id| snap.services.iter().find(|s| s.id == id))
        else {
            ui.label(
                RichText::new("Select a service for its spec, its tasks and why any of them wait.")
                    .weak(),
            );
            return None;
        };
        let logs = ui
            .horizontal(|ui| {
                ui.heading(
                    RichText::new(visible(&service.name)).color(wv::service_color(&service.name)),
                );
                ui.label(RichText::new(visible(&service.id)).monospace().weak());
                ui.button("Show logs")
                    .on_hover_text("Read this service's logs from its nodes")
                    .clicked()
            })
            .inner;
        spec(ui, snap, service);
        self.rollout.show(ui, cx, service);
        let tasks = snap.tasks_of(&service.id);
        ui.add_space(8.0);
        ui.strong(format!("Tasks ({})", tasks.len()));
        let mut console = None;
        let task_logs = tasks_table(ui, snap, service, &tasks, now, &mut console);
        if let Some(target) = console {
            super::console_panel::open(cx, target);
        }
        let explained = self.explained_for(snap, service, &tasks);
        if !explained.is_empty() {
            ui.add_space(8.0);
            ui.strong("Why tasks are pending");
            for e in explained {
                wv::pending_reason(ui, &e.reason, &e.tasks.join(", "));
            }
        }
        logs.then(|| LogTarget::service(service)).or(task_logs)
    }

    /// The pending reasons of `service`, worked out again only when the snapshot changed.
    fn explained_for(
        &mut self,
        snap: &ClusterSnapshot,
        service: &ServiceInfo,
        tasks: &[&TaskInfo],
    ) -> &[Explained] {
        if !tasks.iter().any(|t| t.is_unplaced()) {
            return &[];
        }
        self.explained
            .get(snap, &service.id, || explain_all(snap, service, tasks))
    }
}

/// Each distinct reason once, with the tasks it holds back (tasks of one service usually
/// wait for the same reason).
fn explain_all(
    snap: &ClusterSnapshot,
    service: &ServiceInfo,
    tasks: &[&TaskInfo],
) -> Vec<Explained> {
    let mut out: Vec<Explained> = Vec::new();
    for t in tasks {
        let Some(reason) = workloads::explain(snap, t) else {
            continue;
        };
        let name = wv::task_name(&service.name, t);
        match out
            .iter_mut()
            .find(|e| e.reason.summary == reason.summary && e.reason.nodes == reason.nodes)
        {
            Some(e) => e.tasks.push(name),
            None => out.push(Explained {
                tasks: vec![name],
                reason,
            }),
        }
    }
    out
}

fn resources_text(r: &ServiceResources) -> String {
    let part = |what: &str, res: &Resources| {
        (!res.is_zero()).then(|| {
            format!(
                "{what} {} CPUs, {}",
                workloads::pending::cpus(res.nano_cpus),
                workloads::pending::bytes(res.memory_bytes)
            )
        })
    };
    let parts: Vec<String> = [
        part("reserves", &r.reservations),
        part("limited to", &r.limits),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        "none set".to_string()
    } else {
        parts.join("; ")
    }
}

fn or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        visible(&items.join(", ")).into_owned()
    }
}

/// The spec as a two-column grid.
fn policy(p: Option<&crate::snapshot::workloads::UpdatePolicy>) -> String {
    p.map_or_else(
        || "the engine's defaults".into(),
        |p| visible(&p.describe()).into_owned(),
    )
}

fn spec(ui: &mut egui::Ui, snap: &ClusterSnapshot, s: &ServiceInfo) {
    let networks: Vec<String> = s
        .networks
        .iter()
        .map(|id| {
            snap.networks
                .iter()
                .find(|n| &n.id == id)
                .map_or_else(|| id.clone(), |n| n.name.clone())
        })
        .collect();
    let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let ports: Vec<String> = s.ports.iter().map(|p| p.describe()).collect();
    let mut placement = or_none(&s.constraints);
    if let Some(m) = s.max_replicas_per_node {
        placement.push_str(&format!("; at most {m} per node"));
    }
    let update = s.update_status.as_ref().map_or_else(
        || "no update so far".to_string(),
        |u| match u.message.as_str() {
            "" => visible(&u.state).into_owned(),
            m => format!("{}: {}", visible(&u.state), visible(m)),
        },
    );
    let rows = [
        ("Image", visible(&s.image).into_owned()),
        ("Mode", s.mode.as_str().to_string()),
        ("Replicas", s.replicas()),
        (
            "Stack",
            visible(s.stack.as_deref().unwrap_or("—")).into_owned(),
        ),
        ("Ports", or_none(&ports)),
        ("Constraints", placement),
        ("Preferences", or_none(&s.preferences)),
        ("Resources", resources_text(&s.resources)),
        ("Networks", or_none(&networks)),
        ("Labels", or_none(&labels)),
        ("Update", update),
        ("Update policy", policy(s.update_config.as_ref())),
        ("Rollback policy", policy(s.rollback_config.as_ref())),
    ];
    egui::Grid::new(("service_spec", &s.id))
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            for (k, v) in rows {
                ui.label(RichText::new(k).weak());
                ui.add(egui::Label::new(v).wrap());
                ui.end_row();
            }
        });
}

fn tasks_table(
    ui: &mut egui::Ui,
    snap: &ClusterSnapshot,
    service: &ServiceInfo,
    tasks: &[&TaskInfo],
    now: u64,
    console: &mut Option<super::console_panel::ConsoleTarget>,
) -> Option<LogTarget> {
    if tasks.is_empty() {
        ui.label(RichText::new("No tasks.").weak());
        return None;
    }
    let mut logs = None;
    ui.push_id(("tasks", &service.id), |ui| {
        TableBuilder::new(ui)
            .striped(true)
            // The detail pane scrolls; rows outside it are still skipped.
            .vscroll(false)
            .column(Column::auto().at_least(50.0))
            .column(Column::auto().at_least(120.0).clip(true))
            .column(Column::auto().at_least(170.0))
            .column(Column::auto().at_least(60.0))
            .column(Column::auto().at_least(40.0))
            .column(Column::auto().at_least(60.0))
            .column(Column::remainder().clip(true))
            .header(22.0, |mut h| {
                for t in [
                    "Slot",
                    "Node",
                    "Desired → current",
                    "Age",
                    "Logs",
                    "Console",
                    "Error",
                ] {
                    h.col(|ui| {
                        ui.strong(t);
                    });
                }
            })
            .body(|body| {
                body.rows(20.0, tasks.len(), |mut row| {
                    let t = tasks[row.index()];
                    row.col(|ui| {
                        ui.label(t.slot.map_or_else(|| "—".to_string(), |s| s.to_string()));
                    });
                    row.col(|ui| {
                        ui.label(wv::node_name(snap, t));
                    });
                    row.col(|ui| {
                        ui.horizontal(|ui| {
                            ui.label(visible(t.desired_state.as_str()));
                            ui.label("→");
                            ui.colored_label(
                                task_state_color(ui, &t.state),
                                visible(t.state.as_str()),
                            );
                        });
                    });
                    row.col(|ui| {
                        ui.label(wv::age(t, now));
                    });
                    row.col(|ui| {
                        let has_logs = t.container_id.is_some();
                        let button = ui
                            .add_enabled(has_logs, egui::Button::new("Logs").small())
                            .on_hover_text("Read this task's logs from its node")
                            .on_disabled_hover_text("This task has no container, so no logs");
                        if button.clicked() {
                            logs = Some(LogTarget::task(snap, t));
                        }
                    });
                    row.col(|ui| {
                        if let Some(target) = super::console_panel::button(ui, snap, t) {
                            *console = Some(target);
                        }
                    });
                    row.col(|ui| {
                        let why = t.error.as_deref().unwrap_or("");
                        ui.add(
                            egui::Label::new(RichText::new(visible(why)).color(style::bad(ui)))
                                .truncate(),
                        )
                        .on_hover_text(visible(why));
                    });
                });
            });
    });
    logs
}

#[cfg(test)]
mod tests {
    use egui_kittest::kittest::Queryable;

    use super::super::workload_view::testing::{cluster, showing};
    use crate::ui::Panel;

    #[test]
    fn the_list_shows_every_service_and_the_filters_narrow_it() {
        let mut h = showing(cluster(), Panel::Services);
        h.get_by_label("web");
        h.get_by_label("zoned");
        h.get_by_label_contains("2 services, 1 degraded, 1 with pending tasks");
        h.get_by_label("With pending tasks").click();
        h.run_steps(2);
        assert!(h.query_by_label("web").is_none());
        h.get_by_label("zoned");
        h.get_by_label("Degraded (running < desired)").click();
        h.run_steps(2);
        assert!(h.query_by_label("web").is_none());
        h.get_by_label("zoned");
        h.get_by_label("All").click();
        h.run_steps(2);
        h.get_by_label("web");
        // By stack: only web is in "shop", only zoned in none.
        h.state_mut().panels.services.stack = super::StackFilter::Named("shop".into());
        h.run_steps(2);
        h.get_by_label("web");
        assert!(h.query_by_label("zoned").is_none());
        h.state_mut().panels.services.stack = super::StackFilter::NoStack;
        h.run_steps(2);
        assert!(h.query_by_label("web").is_none());
        h.get_by_label("zoned");
    }

    #[test]
    fn a_selected_service_shows_its_spec_tasks_and_why_one_is_pending() {
        let snap = cluster();
        let task = snap.tasks.iter().find(|t| t.id == "t-zoned1").unwrap();
        let reason = crate::workloads::explain(&snap, task).expect("the task is pending");
        assert!(reason.fix.contains("node.labels.zone==x"), "{}", reason.fix);
        let mut h = showing(snap.clone(), Panel::Services);
        h.get_by_label_contains("Select a service");
        h.get_by_label("zoned").click();
        h.run_steps(2);
        h.get_by_label("node.labels.zone==x");
        h.get_by_label("Tasks (1)");
        h.get_by_label(&format!("zoned.1 pending: {}", reason.summary));
        h.get_by_label(&format!("Fix: {}", reason.fix));
        h.get_by_label_contains("fails `node.labels.zone==x`");
        // The engine's words in the task's row and beside the reason.
        h.get_by_label("The engine says");
        let says = "no suitable node (scheduling constraints not satisfied on 3 nodes)";
        assert_eq!(h.query_all_by_label(says).count(), 2);
        // The other service: its tasks on their nodes, the history included, nothing pending.
        h.get_by_label("web").click();
        h.run_steps(2);
        h.get_by_label("Tasks (4)");
        h.get_by_label("node3");
        // In the list and in the spec.
        assert_eq!(h.query_all_by_label("*:8080->80/tcp").count(), 2);
        assert!(h.query_by_label_contains("pending:").is_none());
    }
}
