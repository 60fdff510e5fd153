//! Networks: the swarm's overlays with their flags and attachments, and a short guide to
//! Docker's five network drivers and when each fits.

use eframe::egui::{self, RichText};
use egui_extras::{Column, TableBuilder};

use super::panel::{Context, PanelView};
use super::plan_flow::PlanFlow;
use super::style;
use crate::service::{JobId, JobUpdate};
use crate::swarm::OverlaySpec;
use crate::swarm::change::Change;

/// The "create an overlay" form and where its plan is.
#[derive(Debug, Clone)]
pub struct NetworksView {
    pub name: String,
    pub attachable: bool,
    pub encrypted: bool,
    pub subnet: String,
    pub mtu: String,
    /// A form value that cannot be planned (the MTU is not a number).
    pub form_error: Option<String>,
    pub flow: PlanFlow,
}

impl Default for NetworksView {
    fn default() -> Self {
        Self {
            name: String::new(),
            attachable: true,
            encrypted: false,
            subnet: String::new(),
            mtu: String::new(),
            form_error: None,
            flow: PlanFlow::default(),
        }
    }
}

impl PanelView for NetworksView {
    fn show(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>) {
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.heading("Overlay networks");
            match cx.snapshot {
                Some(snap) if !snap.networks.is_empty() => overlays(ui, snap),
                Some(_) => {
                    ui.label("This cluster has no swarm networks yet.");
                }
                None => {
                    ui.label("No cluster open.");
                }
            }
            ui.add_space(12.0);
            create_form(ui, self, cx);
            ui.add_space(16.0);
            guide(ui);
        });
    }

    fn on_job(&mut self, id: JobId, update: &JobUpdate, _cx: &mut Context<'_>) {
        self.flow.on_job(id, update);
    }

    fn reset(&mut self) {
        self.flow.reset();
    }
}

impl NetworksView {
    fn spec(&self) -> Result<OverlaySpec, String> {
        let mtu = match self.mtu.trim() {
            "" => None,
            m => Some(
                m.parse::<u32>()
                    .map_err(|_| format!("MTU {m:?} is not a number"))?,
            ),
        };
        Ok(OverlaySpec {
            name: self.name.trim().to_string(),
            attachable: self.attachable,
            encrypted: self.encrypted,
            subnet: Some(self.subnet.trim().to_string()).filter(|s| !s.is_empty()),
            mtu,
        })
    }
}

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

fn create_form(ui: &mut egui::Ui, view: &mut NetworksView, cx: &mut Context<'_>) {
    ui.heading("Create an overlay");
    egui::Grid::new("net_form").num_columns(2).show(ui, |ui| {
        let l = ui.label("Name");
        ui.text_edit_singleline(&mut view.name).labelled_by(l.id);
        ui.end_row();
        let l = ui.label("Subnet");
        ui.add(
            egui::TextEdit::singleline(&mut view.subnet).hint_text("optional, e.g. 10.50.0.0/24"),
        )
        .labelled_by(l.id);
        ui.end_row();
        let l = ui.label("MTU");
        ui.add(egui::TextEdit::singleline(&mut view.mtu).hint_text("optional, e.g. 1400"))
            .labelled_by(l.id);
        ui.end_row();
    });
    ui.checkbox(
        &mut view.attachable,
        "attachable (standalone containers may join)",
    );
    ui.checkbox(&mut view.encrypted, "encrypted (IPsec between hosts)");
    if view.encrypted {
        ui.colored_label(
            style::warn(ui),
            "Every host's kernel must support ESP and AES-GCM, or all traffic on the network is \
             silently dropped. swarmdeck checks each host first and refuses otherwise.",
        );
    }
    let can_plan = cx.live() && !view.flow.busy() && !view.name.trim().is_empty();
    if ui
        .add_enabled(can_plan, egui::Button::new("Plan"))
        .clicked()
    {
        match view.spec() {
            Ok(spec) => {
                view.form_error = None;
                view.flow.request(cx, Change::Network(spec));
            }
            Err(e) => view.form_error = Some(e),
        }
    }
    if let Some(e) = &view.form_error {
        ui.colored_label(style::bad(ui), e);
    }
    view.flow.show(ui, cx);
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
