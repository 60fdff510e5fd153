//! Overview: cluster summary, the nodes table, overlay networks and unreachable hosts;
//! for hosts that are not a swarm yet, each host's state and the way to build one.

use eframe::egui::{self, RichText};
use egui_extras::{Column, TableBuilder};

use super::panel::{Context, PanelView};
use super::state::Panel;
use super::style;
use crate::quorum::{self, Scenario};
use crate::service::{Job, JobKind};
use crate::snapshot::{ClusterSnapshot, HostStatus, LocalNodeState, NodeInfo, Role};

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
    if !is_swarm(snap) {
        if let Some(panel) = bare_hosts(ui, snap) {
            *cx.goto = Some(panel);
        }
        return;
    }
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

/// Whether the snapshot shows a swarm (or what is left of one): nodes, a swarm nobody
/// can answer for, or a host that is in a swarm.
fn is_swarm(snap: &ClusterSnapshot) -> bool {
    !snap.nodes.is_empty()
        || snap.swarm.is_some()
        || snap.swarm_error.is_some()
        || snap.hosts.iter().any(|h| {
            matches!(
                h.swarm_state,
                Some(LocalNodeState::Active | LocalNodeState::Locked | LocalNodeState::Pending)
            )
        })
}

/// Hosts that are not a swarm yet: each one's state, and the next step. Returns the panel
/// to switch to when the user asks.
fn bare_hosts(ui: &mut egui::Ui, snap: &ClusterSnapshot) -> Option<Panel> {
    let mut go = None;
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Wrap);
        if snap.hosts.is_empty() {
            ui.heading("No hosts yet");
            ui.label("This inventory has no hosts. Add the machines that will form the swarm.");
            if ui.button("Add hosts in the Hosts panel").clicked() {
                go = Some(Panel::Hosts);
            }
            return;
        }
        let unreachable: Vec<String> = snap
            .failed_hosts()
            .map(|h| crate::untrusted::visible(&h.host).into_owned())
            .collect();
        let answered = snap.hosts.len() - unreachable.len();
        // With no host answering, nobody can tell whether they form a swarm.
        let (heading, none) = match (answered, unreachable.len()) {
            (0, _) => ("No host answered", "none of them answered".to_string()),
            (_, 0) => (
                "Hosts, not a swarm yet",
                "none of them is in a swarm".to_string(),
            ),
            (n, _) => (
                "Hosts, not a swarm yet",
                format!("none of the {n} that answered is in a swarm"),
            ),
        };
        ui.heading(heading);
        ui.label(format!(
            "{} host(s) in this inventory; {none}. The wizard checks the hosts, opens the \
             ports swarm needs, creates the swarm and joins every host, showing each command \
             before it runs.",
            snap.hosts.len()
        ));
        ui.add_space(8.0);
        hosts_table(ui, &snap.hosts);
        failed_hosts(ui, snap);
        ui.add_space(12.0);
        let next = if unreachable.is_empty() {
            "Next step: build the swarm.".to_string()
        } else {
            let it = if unreachable.len() == 1 { "it" } else { "them" };
            format!(
                "Next step: make {} reachable (the reason is listed above) or remove {it} in \
                 the Hosts panel, then build the swarm.",
                unreachable.join(", ")
            )
        };
        ui.label(RichText::new(next).strong());
        if ui
            .button(RichText::new("Build a swarm with the wizard").heading())
            .clicked()
        {
            go = Some(Panel::Wizard);
        }
    });
    go
}

/// What a host's swarm state means, for people.
fn swarm_state_text(state: Option<&LocalNodeState>) -> &str {
    match state {
        Some(LocalNodeState::Inactive) => "not in a swarm",
        Some(LocalNodeState::Active) => "in a swarm",
        Some(LocalNodeState::Pending) => "joining a swarm",
        Some(LocalNodeState::Locked) => "in a locked swarm",
        Some(LocalNodeState::Error) => "swarm error",
        Some(LocalNodeState::Other(word)) => word,
        None => "—",
    }
}

fn hosts_table(ui: &mut egui::Ui, hosts: &[HostStatus]) {
    TableBuilder::new(ui)
        .id_salt("bare_hosts")
        .striped(true)
        .column(Column::auto().at_least(120.0))
        .column(Column::auto().at_least(110.0))
        .column(Column::auto().at_least(170.0))
        .column(Column::auto().at_least(90.0))
        .column(Column::remainder())
        .header(22.0, |mut h| {
            for title in ["Host", "Address", "Reachable", "Docker", "Swarm"] {
                h.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(20.0, hosts.len(), |mut row| {
                let h = &hosts[row.index()];
                row.col(|ui| {
                    ui.label(crate::untrusted::visible(&h.host));
                });
                row.col(|ui| {
                    ui.monospace(crate::untrusted::visible(&h.address));
                });
                row.col(|ui| {
                    let (text, color) = match (&h.error, h.layer) {
                        (None, _) => ("✔ yes".to_string(), style::ok(ui)),
                        (Some(_), layer) => (
                            format!("✖ no ({})", layer.map_or("host", |l| l.describe())),
                            style::bad(ui),
                        ),
                    };
                    ui.colored_label(color, text);
                });
                row.col(|ui| {
                    ui.label(h.engine_version.as_deref().unwrap_or("—"));
                });
                row.col(|ui| {
                    ui.label(crate::untrusted::visible(swarm_state_text(
                        h.swarm_state.as_ref(),
                    )));
                });
            });
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

#[cfg(test)]
mod tests {
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    use super::*;
    use crate::snapshot::Layer;
    use crate::ui::{RunOptions, Source, SwarmdeckApp};

    fn host(name: &str, n: u8, error: Option<(Layer, &str)>) -> HostStatus {
        let reachable = error.is_none();
        HostStatus {
            host: name.into(),
            address: format!("10.213.1.{n}"),
            engine_name: reachable.then(|| name.to_string()),
            engine_version: reachable.then(|| "27.5.1".to_string()),
            swarm_state: reachable.then_some(LocalNodeState::Inactive),
            node_id: None,
            control_available: false,
            error: error.map(|(_, e)| e.to_string()),
            layer: error.map(|(l, _)| l),
            failing_since: None,
        }
    }

    /// Three hosts out of the box, one of which refuses the SSH login.
    fn bare_hosts_snapshot() -> ClusterSnapshot {
        let mut snap = ClusterSnapshot::empty("inventory.toml");
        snap.hosts = vec![
            host("node1", 1, None),
            host("node2", 2, None),
            host(
                "node3",
                3,
                Some((Layer::Ssh, "node3: SSH login refused for root")),
            ),
        ];
        snap
    }

    #[test]
    fn a_snapshot_without_nodes_or_swarm_members_is_no_swarm() {
        let mut snap = bare_hosts_snapshot();
        assert!(!is_swarm(&snap));
        snap.hosts[0].swarm_state = Some(LocalNodeState::Active);
        assert!(is_swarm(&snap), "a host in a swarm");
        assert!(is_swarm(&crate::snapshot::demo()));
        let mut lost = bare_hosts_snapshot();
        lost.swarm_error = Some("the swarm does not have a leader".into());
        assert!(is_swarm(&lost), "a swarm nobody can answer for");
    }

    #[test]
    fn bare_hosts_show_their_state_and_the_button_opens_the_wizard() {
        let mut h = Harness::builder()
            .with_size([1280.0, 820.0])
            .build_eframe(|cc| SwarmdeckApp::new(&cc.egui_ctx, RunOptions::default()));
        {
            let state = &mut h.state_mut().state;
            state.source = Source::Inventory("inventory.toml".into());
            state.set_snapshot(bare_hosts_snapshot());
        }
        h.run_steps(3);
        h.get_by_label("Hosts, not a swarm yet");
        for n in 1..=3 {
            h.get_by_label(&format!("10.213.1.{n}"));
        }
        assert_eq!(h.query_all_by_label("✔ yes").count(), 2);
        assert_eq!(h.query_all_by_label("27.5.1").count(), 2);
        assert_eq!(h.query_all_by_label("not in a swarm").count(), 2);
        h.get_by_label("✖ no (SSH)");
        h.get_by_label_contains("node3: SSH login refused for root");
        h.get_by_label_contains("none of the 2 that answered is in a swarm");
        h.get_by_label_contains("Next step: make node3 reachable");
        // None of the swarm view's alarms for a swarm that does not exist yet.
        assert!(h.query_by_label("no managers").is_none());
        assert!(h.query_by_label("Managers").is_none());
        h.get_by_label("Build a swarm with the wizard").click();
        h.run_steps(2);
        assert_eq!(h.state().state.panel, Panel::Wizard);
        assert!(
            h.query_by_label("Build a swarm with the wizard").is_none(),
            "the wizard is shown instead"
        );
    }
}
