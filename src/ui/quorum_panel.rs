//! Quorum: the Raft table for 1–9 managers with this cluster's row highlighted, and a
//! "what if" where managers can be marked down or demoted to watch the verdict change.

use eframe::egui::{self, RichText};
use egui_extras::{Column, TableBuilder};

use super::panel::{Context, PanelView};
use super::style;
use crate::quorum::{self, AdviceLevel, Manager, ManagerAction, Scenario};

const TABLE_MAX: usize = 9;

/// The what-if: managers imagined down or demoted.
#[derive(Debug, Clone, Default)]
pub struct QuorumView {
    pub whatif: Scenario,
}

impl PanelView for QuorumView {
    fn show(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>) {
        if let Some(snap) = cx.snapshot {
            forget_gone_nodes(&mut self.whatif, snap);
        }
        show(ui, cx.snapshot, &mut self.whatif);
    }

    fn reset(&mut self) {
        *self = Self::default();
    }
}

/// A what-if about nodes that are no longer in the swarm is dropped.
fn forget_gone_nodes(whatif: &mut Scenario, snap: &crate::snapshot::ClusterSnapshot) {
    // Drawn every frame: nothing to check (or allocate) while nothing is imagined.
    if whatif.down.is_empty() && whatif.demoted.is_empty() {
        return;
    }
    let names: std::collections::BTreeSet<String> = snap
        .nodes
        .iter()
        .map(|n| n.label_among(&snap.nodes))
        .collect();
    whatif.down.retain(|n| names.contains(n));
    whatif.demoted.retain(|n| names.contains(n));
}

fn show(ui: &mut egui::Ui, snap: Option<&crate::snapshot::ClusterSnapshot>, whatif: &mut Scenario) {
    let managers = snap.map(|s| s.managers()).unwrap_or_default();
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.heading("Raft quorum");
        ui.label(
            "Managers keep the swarm state with Raft. A change commits only when a majority of \
             managers agree, so the cluster stays manageable while a majority is up. Odd counts \
             give the best fault tolerance per manager.",
        );
        ui.add_space(8.0);
        let now = quorum::assess(&managers, &Scenario::default());
        if !managers.is_empty() {
            ui.horizontal(|ui| {
                ui.label(format!(
                    "This cluster: {} managers, {} reachable, majority {}, tolerates {} failure(s) —",
                    now.members, now.alive, now.majority, now.fault_tolerance
                ));
                ui.label(style::verdict(ui, now.verdict));
            });
        }
        ui.add_space(8.0);
        let imagined = quorum::assess(&managers, whatif);
        table(ui, managers.len(), imagined.members);
        ui.add_space(12.0);
        if !managers.is_empty() {
            what_if(ui, &managers, whatif);
        }
        ui.add_space(8.0);
        ui.strong("Advice");
        let advice = quorum::advise(&managers);
        if advice.is_empty() {
            ui.label("Manager count and placement look right.");
        }
        for a in advice {
            let color = match a.level {
                AdviceLevel::Warning => style::warn(ui),
                AdviceLevel::Info => ui.visuals().text_color(),
            };
            ui.colored_label(color, format!("• {}", a.text));
        }
    });
}

fn what_if(ui: &mut egui::Ui, managers: &[Manager], scenario: &mut Scenario) {
    ui.heading("What if…");
    ui.label("Mark managers as down (outage, maintenance) or demoted to workers.");
    egui::Grid::new("whatif_grid")
        .num_columns(4)
        .striped(true)
        .show(ui, |ui| {
            ui.strong("Manager");
            ui.strong("Zone");
            ui.strong("Down");
            ui.strong("Demoted");
            ui.end_row();
            for m in managers {
                ui.label(&m.name);
                ui.label(m.zone.as_deref().unwrap_or("—"));
                toggle(ui, &mut scenario.down, &m.name, &format!("{} down", m.name));
                toggle(
                    ui,
                    &mut scenario.demoted,
                    &m.name,
                    &format!("demote {}", m.name),
                );
                ui.end_row();
            }
        });
    let a = quorum::assess(managers, scenario);
    ui.add_space(6.0);
    ui.horizontal(|ui| {
        ui.label(format!(
            "Then: {} voting managers, {} up, majority {}, tolerates {} more failure(s) —",
            a.members, a.alive, a.majority, a.fault_tolerance
        ));
        ui.label(style::verdict(ui, a.verdict));
    });
    // The same check that refuses a real demote, so the what-if and the engine agree.
    for name in &scenario.demoted {
        let others = Scenario {
            demoted: scenario
                .demoted
                .iter()
                .filter(|d| *d != name)
                .cloned()
                .collect(),
            down: scenario.down.clone(),
        };
        let remaining: Vec<Manager> = managers
            .iter()
            .filter(|m| !others.demoted.contains(&m.name))
            .map(|m| Manager {
                reachable: m.reachable && !others.down.contains(&m.name),
                ..m.clone()
            })
            .collect();
        if let Err(refusal) = quorum::check_manager_action(&remaining, name, ManagerAction::Demote)
        {
            ui.colored_label(style::bad(ui), refusal.to_string());
        }
    }
    if ui.button("Reset").clicked() {
        *scenario = Scenario::default();
    }
}

fn toggle(
    ui: &mut egui::Ui,
    set: &mut std::collections::BTreeSet<String>,
    name: &str,
    label: &str,
) {
    let mut on = set.contains(name);
    let resp = ui.checkbox(&mut on, "");
    resp.widget_info(|| egui::WidgetInfo::selected(egui::Role::CheckBox, true, on, label));
    if resp.changed() {
        if on {
            set.insert(name.to_string());
        } else {
            set.remove(name);
        }
    }
}

fn table(ui: &mut egui::Ui, current: usize, imagined: usize) {
    let highlight = ui.visuals().selection.bg_fill;
    TableBuilder::new(ui)
        .id_salt("quorum_table")
        .striped(true)
        .columns(Column::exact(110.0), 3)
        .column(Column::remainder())
        .header(22.0, |mut h| {
            for title in ["Managers", "Majority", "Fault tolerance", ""] {
                h.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|mut body| {
            for row in quorum::table(TABLE_MAX) {
                let is_current = row.managers == current;
                body.row(20.0, |mut r| {
                    for v in [row.managers, row.majority, row.fault_tolerance] {
                        r.col(|ui| {
                            if is_current {
                                ui.painter()
                                    .rect_filled(ui.max_rect().expand(2.0), 0.0, highlight);
                            }
                            let text = RichText::new(v.to_string());
                            ui.label(if is_current { text.strong() } else { text });
                        });
                    }
                    r.col(|ui| {
                        if is_current {
                            ui.label(RichText::new("◀ this cluster").strong());
                        } else if row.managers == imagined && imagined != current {
                            ui.label(RichText::new("◀ what if").italics());
                        }
                    });
                });
            }
        });
}
