//! Quorum: the Raft table for 1–9 managers with the current cluster's row highlighted.

use eframe::egui::{self, RichText};
use egui_extras::{Column, TableBuilder};

use super::state::AppState;
use super::style;
use crate::quorum::{self, AdviceLevel, Scenario};

const TABLE_MAX: usize = 9;

pub fn show(ui: &mut egui::Ui, state: &AppState) {
    let managers = state
        .snapshot
        .as_ref()
        .map(|s| s.managers())
        .unwrap_or_default();
    let current = managers.len();
    ui.heading("Raft quorum");
    ui.label(
        "Managers keep the swarm state with Raft. A change commits only when a majority of \
         managers agree, so the cluster stays manageable while a majority is up. Odd counts \
         give the best fault tolerance per manager.",
    );
    ui.add_space(8.0);
    if current > 0 {
        let a = quorum::assess(&managers, &Scenario::default());
        ui.horizontal(|ui| {
            ui.label(format!(
                "This cluster: {} managers, {} reachable, majority {}, tolerates {} failure(s) —",
                a.members, a.alive, a.majority, a.fault_tolerance
            ));
            ui.label(style::verdict(ui, a.verdict));
        });
    }
    ui.add_space(8.0);
    table(ui, current);
    ui.add_space(8.0);
    for advice in quorum::advise(&managers) {
        let color = match advice.level {
            AdviceLevel::Warning => style::warn(ui),
            AdviceLevel::Info => ui.visuals().text_color(),
        };
        ui.colored_label(color, format!("• {}", advice.text));
    }
}

fn table(ui: &mut egui::Ui, current: usize) {
    let highlight = ui.visuals().selection.bg_fill;
    TableBuilder::new(ui)
        .id_salt("quorum_table")
        .striped(true)
        .columns(Column::exact(120.0), 3)
        .header(22.0, |mut h| {
            for title in ["Managers", "Majority", "Fault tolerance"] {
                h.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|mut body| {
            for row in quorum::table(TABLE_MAX) {
                let is_current = row.managers == current;
                body.row(20.0, |mut r| {
                    let cells = [row.managers, row.majority, row.fault_tolerance];
                    for (i, v) in cells.into_iter().enumerate() {
                        r.col(|ui| {
                            if is_current {
                                ui.painter()
                                    .rect_filled(ui.max_rect().expand(2.0), 0.0, highlight);
                            }
                            let mut text = RichText::new(v.to_string());
                            if is_current {
                                text = text.strong();
                            }
                            ui.label(text);
                            if is_current && i == 0 {
                                ui.label(RichText::new("◀ this cluster").small());
                            }
                        });
                    }
                });
            }
        });
}
