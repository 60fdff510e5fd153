//! What the UI shows, separate from how it is drawn.

use std::path::PathBuf;

use super::activity_panel::ActivityView;
use super::connectivity_panel::ConnectivityView;
use super::hosts_panel::HostsView;
use super::networks_panel::NetworksView;
use super::topology::TopologyView;
use super::wizard_panel::WizardView;
use crate::quorum::Scenario;
use crate::service::{Notice, Severity};
use crate::snapshot::ClusterSnapshot;

/// The screens in the navigation bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Panel {
    Overview,
    Wizard,
    Topology,
    Quorum,
    Networks,
    Connectivity,
    Hosts,
    Activity,
}

impl Panel {
    pub const ALL: [Panel; 8] = [
        Panel::Overview,
        Panel::Wizard,
        Panel::Topology,
        Panel::Quorum,
        Panel::Networks,
        Panel::Connectivity,
        Panel::Hosts,
        Panel::Activity,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Panel::Overview => "Overview",
            Panel::Wizard => "Wizard",
            Panel::Topology => "Topology",
            Panel::Quorum => "Quorum",
            Panel::Networks => "Networks",
            Panel::Connectivity => "Connectivity",
            Panel::Hosts => "Hosts",
            Panel::Activity => "Activity",
        }
    }
}

/// Where the cluster on screen comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Nothing,
    Demo,
    Inventory(PathBuf),
    /// A saved bundle, read-only.
    Bundle(PathBuf),
}

pub struct AppState {
    pub source: Source,
    pub snapshot: Option<ClusterSnapshot>,
    pub panel: Panel,
    pub busy: Option<String>,
    pub notices: Vec<Notice>,
    pub topology: TopologyView,
    pub hosts: HostsView,
    pub activity: ActivityView,
    pub connectivity: ConnectivityView,
    pub wizard: WizardView,
    pub networks: NetworksView,
    /// The quorum panel's imagined failures and demotions.
    pub whatif: Scenario,
}

impl AppState {
    pub fn new(source: Source, panel: Panel) -> Self {
        let snapshot = (source == Source::Demo).then(crate::snapshot::demo);
        Self {
            snapshot,
            panel,
            busy: None,
            notices: Vec::new(),
            topology: TopologyView::default(),
            hosts: HostsView::default(),
            activity: ActivityView::default(),
            connectivity: ConnectivityView {
                report: (source == Source::Demo).then(crate::snapshot::demo_connectivity),
                ..Default::default()
            },
            whatif: Scenario::default(),
            wizard: WizardView::default(),
            networks: NetworksView::default(),
            source,
        }
    }

    /// A new snapshot; a what-if about nodes that no longer exist is dropped.
    pub fn set_snapshot(&mut self, snap: ClusterSnapshot) {
        let names: std::collections::BTreeSet<String> = snap
            .nodes
            .iter()
            .map(|n| n.label_among(&snap.nodes))
            .collect();
        self.whatif.down.retain(|n| names.contains(n));
        self.whatif.demoted.retain(|n| names.contains(n));
        self.snapshot = Some(snap);
    }

    /// Shows a bundle: its snapshot everywhere, its preflight in the wizard and its
    /// connectivity run in the Connectivity panel.
    pub fn open_bundle(&mut self, path: PathBuf, bundle: crate::snapshot::Bundle) {
        self.source = Source::Bundle(path);
        self.set_snapshot(bundle.snapshot);
        self.wizard.preflight = bundle.preflight;
        self.connectivity.report = bundle.connectivity;
        self.topology = TopologyView::default();
    }

    /// What the user would save as a bundle now, if a cluster is shown.
    pub fn bundle(&self) -> Option<crate::snapshot::Bundle> {
        let mut b = crate::snapshot::Bundle::new(self.snapshot.clone()?);
        b.preflight = self.wizard.preflight.clone();
        b.connectivity = self.connectivity.report.clone();
        Some(b)
    }

    pub fn push_notice(&mut self, notice: Notice) {
        // Keep the list short; the newest matter.
        const MAX: usize = 8;
        self.notices.push(notice);
        if self.notices.len() > MAX {
            self.notices.remove(0);
        }
    }

    pub fn has_errors(&self) -> bool {
        self.notices.iter().any(|n| n.severity == Severity::Error)
    }
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::Panel;

    #[test]
    fn every_panel_is_in_the_navigation() {
        assert_eq!(Panel::value_variants(), Panel::ALL.as_slice());
    }
}
