//! Networks: the swarm's overlays with their flags and attachments, and a short guide to
//! Docker's five network drivers and when each fits.

use eframe::egui::{self, RichText};
use egui_extras::{Column, TableBuilder};

use super::state::AppState;

/// Docker's network drivers, in the words a newcomer needs.
pub const DRIVERS: [(&str, &str, &str); 5] = [
    (
        "bridge",
        "The default: a private network on one host, with NAT to the outside.",
        "Containers on the same host that talk to each other.",
    ),
    (
        "host",
        "No network isolation: the container uses the host's interfaces directly.",
        "Maximum network performance, or software that must see the host's network.",
    ),
    (
        "overlay",
        "A virtual network across every Docker host of a swarm (VXLAN on udp/4789).",
        "Containers or services on different hosts that must reach each other by name.",
    ),
    (
        "macvlan",
        "Gives each container its own MAC address on the physical network.",
        "Legacy applications that expect to sit directly on the LAN, like a VM would.",
    ),
    (
        "none",
        "No networking at all besides loopback.",
        "Batch jobs that must not talk to anything.",
    ),
];

pub fn show(ui: &mut egui::Ui, state: &AppState) {
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.heading("Overlay networks");
        match &state.snapshot {
            Some(snap) if !snap.networks.is_empty() => overlays(ui, snap),
            Some(_) => {
                ui.label("This cluster has no swarm networks yet.");
            }
            None => {
                ui.label("No cluster open.");
            }
        }
        ui.add_space(16.0);
        guide(ui);
    });
}

fn overlays(ui: &mut egui::Ui, snap: &crate::snapshot::ClusterSnapshot) {
    TableBuilder::new(ui)
        .id_salt("networks")
        .striped(true)
        .column(Column::auto().at_least(120.0))
        .columns(Column::auto().at_least(90.0), 5)
        .column(Column::remainder())
        .header(22.0, |mut h| {
            for t in [
                "Name",
                "Driver",
                "Subnet",
                "Attachable",
                "Encrypted",
                "Ingress",
                "Containers",
            ] {
                h.col(|ui| {
                    ui.strong(t);
                });
            }
        })
        .body(|mut body| {
            for n in &snap.networks {
                body.row(20.0, |mut row| {
                    let yes_no = |b: bool| if b { "yes" } else { "no" };
                    let cells = [
                        n.name.clone(),
                        n.driver.clone(),
                        n.subnets.join(", "),
                        yes_no(n.attachable).to_string(),
                        yes_no(n.encrypted).to_string(),
                        yes_no(n.ingress).to_string(),
                        n.containers
                            .iter()
                            .map(|c| format!("{}@{}", c.name, c.node))
                            .collect::<Vec<_>>()
                            .join(", "),
                    ];
                    for c in cells {
                        row.col(|ui| {
                            ui.label(c);
                        });
                    }
                });
            }
        });
    ui.add_space(6.0);
    ui.label(
        RichText::new(
            "Encrypted overlays use IPsec (ESP with AES-GCM) between hosts; a kernel without \
             ESP/GCM support silently drops their traffic. Preflight checks this before one is \
             created.",
        )
        .weak(),
    );
}

fn guide(ui: &mut egui::Ui) {
    ui.heading("Which driver?");
    egui::Grid::new("drivers")
        .num_columns(3)
        .striped(true)
        .spacing([16.0, 6.0])
        .show(ui, |ui| {
            ui.strong("Driver");
            ui.strong("What it is");
            ui.strong("Use it for");
            ui.end_row();
            for (name, what, when) in DRIVERS {
                ui.monospace(name);
                ui.label(what);
                ui.label(when);
                ui.end_row();
            }
        });
    ui.add_space(6.0);
    ui.label(
        "Overlays need 2377/tcp (cluster management), 7946/tcp+udp (gossip) and 4789/udp \
         (VXLAN data) open between every pair of hosts, plus ESP (IP protocol 50) when encrypted. \
         Standalone containers can join an overlay only if it was created --attachable.",
    );
}
