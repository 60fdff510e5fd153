//! The panels in the navigation, in order. Adding a panel: write its file (a type with
//! `Default` and [`PanelView`](super::panel::PanelView)) and add its line here.

use super::panel::{PanelView, panels};
use super::{
    activity_panel, backups_panel, certs_panel, connectivity_panel, console_panel, doctor_panel,
    hosts_panel, logs_panel, maintenance_panel, networks_panel, overview, placement_panel,
    quorum_panel, secrets_panel, services_panel, stacks_panel, topology, wizard_panel,
};

panels! {
    Overview => overview: overview::OverviewView,
    Wizard => wizard: wizard_panel::WizardView,
    Topology => topology: topology::TopologyView,
    Quorum => quorum: quorum_panel::QuorumView,
    Services => services: services_panel::ServicesView,
    Stacks => stacks: stacks_panel::StacksView,
    Secrets => secrets: secrets_panel::SecretsView,
    Placement => placement: placement_panel::PlacementView,
    Logs => logs: logs_panel::LogsView,
    Console => console: console_panel::ConsoleView,
    Networks => networks: networks_panel::NetworksView,
    Connectivity => connectivity: connectivity_panel::ConnectivityView,
    Doctor => doctor: doctor_panel::DoctorView,
    Certificates => certificates: certs_panel::CertsView,
    Backups => backups: backups_panel::BackupsView,
    Maintenance => maintenance: maintenance_panel::MaintenanceView,
    Hosts => hosts: hosts_panel::HostsView,
    Activity => activity: activity_panel::ActivityView,
}
