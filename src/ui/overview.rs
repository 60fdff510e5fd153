//! Overview: cluster summary, the nodes table, overlay networks and unreachable hosts.

use eframe::egui::{self, RichText};
use egui_extras::{Column, TableBuilder};

use super::panel::{Context, PanelView};
use super::style;
use crate::quorum::{self, Scenario};
use crate::service::{Job, JobKind};
use crate::snapshot::{ClusterSnapshot, NodeInfo, Role};

/// The overview keeps no state of its own.
#[derive(Debug, Clone, Default)]
pub struct OverviewView;

impl PanelView for OverviewView {
    fn show(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>) {
        show(ui, cx);
    }
}

fn show(ui: &mut egui::Ui, cx: &mut Context<'_>) {
    let Some(snap) = cx.snapshot else {
        return empty(ui, cx);
    };
    egui::ScrollArea::vertical().show(ui, |ui| {
        summary(ui, snap);
        ui.add_space(12.0);
        ui.heading("Nodes");
        nodes_table(ui, snap);
        failed_hosts(ui, snap);
        ui.add_space(12.0);
        ui.heading("Overlay networks");
        networks(ui, snap);
    });
}

fn empty(ui: &mut egui::Ui, cx: &mut Context<'_>) {
    let lab = cx
        .jobs
        .running()
        .find(|(_, j)| j.kind == JobKind::Lab)
        .map(|(_, j)| j.what.clone());
    let busy = cx.busy.map(str::to_string).or(lab);
    ui.vertical_centered(|ui| {
        ui.add_space(60.0);
        if let Some(busy) = &busy {
            ui.spinner();
            ui.label(busy);
            return;
        }
        ui.heading("No cluster open");
        ui.label("Add your hosts in the Hosts panel, start swarmdeck with --demo to explore a");
        ui.label("captured 5-node cluster, or practise on this machine:");
        ui.add_space(8.0);
        if cfg!(target_os = "linux")
            && ui
                .button("Start a practice lab (3 hosts on this machine, needs root)")
                .clicked()
        {
            cx.start(Job::StartLab { hosts: 3 });
        }
    });
}

fn summary(ui: &mut egui::Ui, snap: &ClusterSnapshot) {
    let managers = snap.managers();
    let a = quorum::assess(&managers, &Scenario::default());
    let workers = snap.nodes.iter().filter(|n| n.role == Role::Worker).count();
    let leader = snap.leader().map_or("none", |n| n.hostname.as_str());
    let overlays = snap
        .networks
        .iter()
        .filter(|n| n.driver == "overlay")
        .count();
    ui.horizontal_wrapped(|ui| {
        card(ui, "Managers", &managers.len().to_string());
        card(ui, "Workers", &workers.to_string());
        card(ui, "Leader", leader);
        card(ui, "Majority", &a.majority.to_string());
        card(ui, "Fault tolerance", &a.fault_tolerance.to_string());
        card(ui, "Overlays", &overlays.to_string());
    });
    ui.horizontal(|ui| {
        ui.label("Raft:");
        ui.label(style::verdict(ui, a.verdict));
        ui.label(format!(
            "({} of {} managers reachable, {} needed)",
            a.alive, a.members, a.majority
        ));
    });
}

fn card(ui: &mut egui::Ui, title: &str, value: &str) {
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.set_min_width(110.0);
        ui.vertical(|ui| {
            ui.label(RichText::new(title).small().weak());
            ui.label(RichText::new(value).heading().strong());
        });
    });
}

fn role_label(n: &NodeInfo) -> String {
    match (n.role, n.leader) {
        (Role::Manager, true) => "★ Leader".to_string(),
        (Role::Manager, false) => "Manager".to_string(),
        (Role::Worker, _) => "Worker".to_string(),
    }
}

fn nodes_table(ui: &mut egui::Ui, snap: &ClusterSnapshot) {
    let mut nodes: Vec<&NodeInfo> = snap.nodes.iter().collect();
    // Managers first (leader on top), then workers, each by name.
    nodes.sort_by_key(|n| (n.role != Role::Manager, !n.leader, n.hostname.clone()));
    TableBuilder::new(ui)
        .id_salt("nodes")
        .striped(true)
        .column(Column::auto().at_least(120.0))
        .column(Column::auto().at_least(90.0))
        .columns(Column::auto().at_least(80.0), 3)
        .column(Column::auto().at_least(110.0))
        .column(Column::remainder())
        .header(22.0, |mut h| {
            for title in [
                "Hostname",
                "Role",
                "State",
                "Availability",
                "Raft",
                "Address",
                "Engine",
            ] {
                h.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        // Only the visible rows are laid out: large clusters stay cheap to draw.
        .body(|body| {
            body.rows(20.0, nodes.len(), |mut row| {
                let n = nodes[row.index()];
                {
                    row.col(|ui| {
                        ui.label(crate::untrusted::visible(&n.hostname));
                    });
                    row.col(|ui| {
                        ui.label(role_label(n));
                    });
                    row.col(|ui| {
                        if n.observed_down.is_some() {
                            let text = RichText::new("down (engine silent)").color(style::bad(ui));
                            ui.label(text).on_hover_text(
                                "SSH to this node's host works but its Docker engine does not \
                                 answer; the managers will list it down shortly",
                            );
                        } else {
                            ui.label(style::node_state(ui, &n.state));
                        }
                    });
                    row.col(|ui| {
                        ui.label(style::availability(ui, &n.availability));
                    });
                    row.col(|ui| {
                        ui.label(n.reachability.as_ref().map_or("—", |r| r.as_str()));
                    });
                    row.col(|ui| {
                        ui.monospace(&n.address);
                    });
                    row.col(|ui| {
                        ui.label(&n.engine_version);
                    });
                }
            });
        });
}

fn failed_hosts(ui: &mut egui::Ui, snap: &ClusterSnapshot) {
    let failed: Vec<_> = snap.failed_hosts().collect();
    if failed.is_empty() {
        return;
    }
    ui.add_space(8.0);
    ui.colored_label(
        style::bad(ui),
        format!("{} host(s) could not be read:", failed.len()),
    );
    let now = crate::snapshot::now_secs();
    for h in failed {
        let layer = h.layer.map_or("host", |l| l.describe());
        let since = h
            .failing_since
            .map(|s| format!(", {}", crate::snapshot::since_text(s, now)))
            .unwrap_or_default();
        ui.add(
            egui::Label::new(format!(
                "• {} ({}) — {layer}{since}: {}",
                h.host,
                h.address,
                h.error.as_deref().unwrap_or_default()
            ))
            .wrap(),
        );
    }
}

fn networks(ui: &mut egui::Ui, snap: &ClusterSnapshot) {
    let overlays: Vec<_> = snap
        .networks
        .iter()
        .filter(|n| n.driver == "overlay")
        .collect();
    if overlays.is_empty() {
        ui.label("No overlay networks.");
        return;
    }
    for net in overlays {
        let mut flags = Vec::new();
        if net.ingress {
            flags.push("ingress");
        }
        if net.attachable {
            flags.push("attachable");
        }
        if net.encrypted {
            flags.push("encrypted");
        }
        let title = format!(
            "{}  ·  {}  ·  {}",
            net.name,
            net.subnets.join(", "),
            flags.join(", ")
        );
        egui::CollapsingHeader::new(title)
            .id_salt(&net.id)
            .default_open(!net.ingress)
            .show(ui, |ui| {
                if net.containers.is_empty() {
                    ui.label(RichText::new("no containers attached").weak());
                }
                for c in &net.containers {
                    ui.label(format!(
                        "{} on {}  {}",
                        c.name,
                        c.node,
                        c.ipv4.as_deref().unwrap_or("")
                    ));
                }
            });
    }
}
