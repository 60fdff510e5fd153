//! What the UI shows, separate from how it is drawn.

use std::path::PathBuf;

use crate::service::{Notice, Severity};
use crate::snapshot::ClusterSnapshot;

/// The screens in the navigation bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Panel {
    Overview,
    Quorum,
}

impl Panel {
    pub const ALL: [Panel; 2] = [Panel::Overview, Panel::Quorum];

    pub fn title(self) -> &'static str {
        match self {
            Panel::Overview => "Overview",
            Panel::Quorum => "Quorum",
        }
    }
}

/// Where the cluster on screen comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Nothing,
    Demo,
    Inventory(PathBuf),
}

pub struct AppState {
    pub source: Source,
    pub snapshot: Option<ClusterSnapshot>,
    pub panel: Panel,
    pub busy: Option<String>,
    pub notices: Vec<Notice>,
}

impl AppState {
    pub fn new(source: Source, panel: Panel) -> Self {
        let snapshot = (source == Source::Demo).then(crate::snapshot::demo);
        Self {
            source,
            snapshot,
            panel,
            busy: None,
            notices: Vec::new(),
        }
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
