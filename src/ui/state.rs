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

/// A live view is confirmed every few seconds; past this it is marked as not live.
pub const STALE_AFTER_SECS: u64 = 10;

/// How current the cluster on screen is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    Nothing,
    /// Confirmed within [`STALE_AFTER_SECS`].
    Live,
    /// A live view whose last confirmation is older than expected.
    Unconfirmed {
        since: u64,
    },
    /// A demo or a bundle: a capture from that time, never live.
    Captured {
        at: u64,
    },
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
    /// When the service last confirmed that the snapshot on screen still holds (seconds
    /// since the epoch).
    pub confirmed_at: Option<u64>,
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
            confirmed_at: None,
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
        self.confirmed_at = Some(snap.taken_at);
        self.snapshot = Some(snap);
    }

    /// How current the cluster on screen is at `now` (seconds since the epoch).
    pub fn freshness(&self, now: u64) -> Freshness {
        let Some(snap) = &self.snapshot else {
            return Freshness::Nothing;
        };
        if !matches!(self.source, Source::Inventory(_)) {
            return Freshness::Captured { at: snap.taken_at };
        }
        let confirmed = self.confirmed_at.unwrap_or(snap.taken_at);
        let age = now.saturating_sub(confirmed);
        if age > STALE_AFTER_SECS {
            Freshness::Unconfirmed { since: confirmed }
        } else {
            Freshness::Live
        }
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
    fn a_live_view_turns_stale_when_nobody_confirms_it() {
        use super::{AppState, Freshness, STALE_AFTER_SECS, Source};
        let mut s = AppState::new(Source::Inventory("inv.toml".into()), Panel::Overview);
        assert_eq!(s.freshness(100), Freshness::Nothing);
        let mut snap = crate::snapshot::ClusterSnapshot::empty("t");
        snap.taken_at = 100;
        s.set_snapshot(snap);
        assert_eq!(s.freshness(100 + STALE_AFTER_SECS), Freshness::Live);
        assert_eq!(
            s.freshness(101 + STALE_AFTER_SECS),
            Freshness::Unconfirmed { since: 100 }
        );
        s.confirmed_at = Some(150);
        assert_eq!(s.freshness(155), Freshness::Live);
        let demo = AppState::new(Source::Demo, Panel::Overview);
        assert!(matches!(demo.freshness(0), Freshness::Captured { .. }));
    }

    #[test]
    fn every_panel_is_in_the_navigation() {
        assert_eq!(Panel::value_variants(), Panel::ALL.as_slice());
    }
}
