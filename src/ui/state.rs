//! What the UI shows, separate from how it is drawn.

use std::path::PathBuf;

pub use super::registry::{Panel, Panels};

use super::panel::{Context, PanelView};

use super::jobs::UiJobs;
use crate::service::{Command, JobId, JobUpdate, Notice, Severity};
use crate::snapshot::ClusterSnapshot;

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
    /// A refresh in progress (jobs are listed in `jobs`).
    pub busy: Option<String>,
    pub notices: Vec<Notice>,
    pub jobs: UiJobs,
    /// The last preflight report and connectivity run: shown by several panels and saved
    /// in bundles.
    pub preflight: Option<crate::preflight::Report>,
    pub connectivity: Option<crate::connectivity::Report>,
    /// A node one panel asked another to show (Topology's "open in Placement").
    pub focus_node: Option<String>,
    /// A stack one panel asked the Services panel to show.
    pub focus_stack: Option<String>,
    /// Logs one panel asked the Logs panel to read.
    pub open_logs: Option<super::logs_panel::LogTarget>,
    /// The task one panel asked the Console panel to bind to.
    pub open_console: Option<super::console_panel::ConsoleTarget>,
    pub panels: Panels,
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
            jobs: UiJobs::default(),
            preflight: None,
            connectivity: (source == Source::Demo).then(crate::snapshot::demo_connectivity),
            focus_node: None,
            focus_stack: None,
            open_logs: None,
            open_console: None,
            panels: Panels::default(),
            source,
        }
    }

    /// A new snapshot of the cluster on screen.
    pub fn set_snapshot(&mut self, snap: ClusterSnapshot) {
        self.confirmed_at = Some(snap.taken_at);
        self.snapshot = Some(snap);
    }

    /// Another cluster goes on screen: panels forget what they held for the old one.
    pub fn switch_source(&mut self, source: Source) {
        self.source = source;
        self.snapshot = None;
        self.confirmed_at = None;
        self.preflight = None;
        self.connectivity = None;
        self.focus_node = None;
        self.focus_stack = None;
        self.open_logs = None;
        self.open_console = None;
        for p in Panel::ALL {
            self.panels.get_mut(*p).reset();
        }
    }

    /// A job's update: what every panel shares is kept here, the rest goes to the panel
    /// that started the job, and to no other. Returns the commands the panel sends.
    pub fn on_job(&mut self, id: JobId, update: JobUpdate) -> Vec<Command> {
        let owner = self.jobs.owner(id);
        self.jobs.on_update(id, &update);
        match &update {
            JobUpdate::Refused { reason } => self.push_notice(Notice::warning(reason)),
            JobUpdate::Preflight(r) => self.preflight = Some((**r).clone()),
            JobUpdate::ConnectivityDone(Ok(r)) => self.connectivity = Some((**r).clone()),
            JobUpdate::ConnectivityDone(Err(f)) => self.push_notice(Notice::error(&f.message)),
            _ => {}
        }
        let mut commands = Vec::new();
        if let Some(owner) = owner {
            self.with_context(owner, &mut commands, |panel, cx| {
                panel.on_job(id, &update, cx)
            });
        }
        commands
    }

    /// Runs `f` on `panel` with the context every panel gets.
    pub fn with_context<R>(
        &mut self,
        panel: Panel,
        commands: &mut Vec<Command>,
        f: impl FnOnce(&mut dyn PanelView, &mut Context<'_>) -> R,
    ) -> R {
        let hosts = self.host_names();
        let freshness = self.freshness(crate::snapshot::now_secs());
        let mut goto = None;
        let AppState {
            source,
            snapshot,
            busy,
            notices,
            jobs,
            preflight,
            connectivity,
            focus_node,
            focus_stack,
            open_logs,
            open_console,
            panels,
            ..
        } = self;
        let mut cx = Context {
            source,
            snapshot: snapshot.as_ref(),
            freshness,
            busy: busy.as_deref(),
            hosts: &hosts,
            preflight,
            connectivity,
            jobs,
            notices,
            goto: &mut goto,
            focus_node,
            focus_stack,
            open_logs,
            open_console,
            commands,
            owner: panel,
        };
        f(panels.get_mut(panel), &mut cx)
    }

    /// The hosts changes would apply to: the open inventory's; the snapshot's for a demo
    /// or a bundle.
    pub fn host_names(&self) -> Vec<String> {
        match (&self.panels.hosts.inventory, &self.snapshot, &self.source) {
            (Some(i), _, Source::Inventory(_)) => i.hosts.iter().map(|h| h.name.clone()).collect(),
            (_, Some(s), _) => s.hosts.iter().map(|h| h.host.clone()).collect(),
            _ => Vec::new(),
        }
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
        self.switch_source(Source::Bundle(path));
        self.set_snapshot(bundle.snapshot);
        self.preflight = bundle.preflight;
        self.connectivity = bundle.connectivity;
    }

    /// What the user would save as a bundle now, if a cluster is shown.
    pub fn bundle(&self) -> Option<crate::snapshot::Bundle> {
        let mut b = crate::snapshot::Bundle::new(self.snapshot.clone()?);
        b.preflight = self.preflight.clone();
        b.connectivity = self.connectivity.clone();
        Some(b)
    }

    pub fn push_notice(&mut self, notice: Notice) {
        push_notice(&mut self.notices, notice);
    }

    pub fn has_errors(&self) -> bool {
        self.notices.iter().any(|n| n.severity == Severity::Error)
    }
}

/// What is on screen, as the top bar names it.
pub fn source_label(source: &Source, snapshot: Option<&ClusterSnapshot>) -> String {
    match (source, snapshot) {
        (Source::Demo, Some(s)) => format!("Demo cluster ({})", s.source),
        (Source::Inventory(p), _) => format!("Inventory {}", p.display()),
        (Source::Bundle(p), _) => format!("Bundle {} (read-only)", p.display()),
        (Source::Nothing, _) | (Source::Demo, None) => "No cluster open".to_string(),
    }
}

/// Keeps the list short; the newest matter.
pub fn push_notice(notices: &mut Vec<Notice>, notice: Notice) {
    const MAX: usize = 8;
    notices.push(notice);
    if notices.len() > MAX {
        notices.remove(0);
    }
}

#[cfg(test)]
mod tests {
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
    fn panels_are_found_by_their_name() {
        for p in Panel::ALL {
            assert_eq!(Panel::from_name(p.name()), Ok(*p));
        }
        let names: Vec<&str> = Panel::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(Panel::NAMES, names.as_slice());
        assert_eq!(Panel::from_name("Topology"), Ok(Panel::Topology));
        let e = Panel::from_name("nope").unwrap_err();
        assert!(e.contains("overview, wizard, topology"), "{e}");
    }
}
