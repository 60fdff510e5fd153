//! One shape for every panel: the [`PanelView`] trait, the [`Context`] each panel gets
//! (what is shown, how fresh, the jobs, where commands go) and the registry that puts
//! panels in the navigation. Adding a panel is one new file and one line in
//! [`panels!`](crate::ui::registry).

use eframe::egui;

use super::jobs::UiJobs;
use super::state::{Freshness, Panel, Source};
use crate::service::{Command, Job, JobId, JobUpdate, Notice};
use crate::snapshot::ClusterSnapshot;

/// A screen of the app.
pub trait PanelView {
    /// Draws the panel; what the user asks for goes through `cx`.
    fn show(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>);

    /// An update of a job this panel started (never of another panel's).
    fn on_job(&mut self, _id: JobId, _update: &JobUpdate, _cx: &mut Context<'_>) {}

    /// Another cluster is on screen: forget selections and plans made for the old one.
    fn reset(&mut self) {}
}

/// What every panel sees of the app, and how it asks for work.
pub struct Context<'a> {
    pub source: &'a Source,
    pub snapshot: Option<&'a ClusterSnapshot>,
    pub freshness: Freshness,
    /// A refresh in progress.
    pub busy: Option<&'a str>,
    /// The hosts of the open inventory (the snapshot's for a demo or a bundle).
    pub hosts: &'a [String],
    /// The last preflight report (saved in bundles).
    pub preflight: &'a mut Option<crate::preflight::Report>,
    /// The last connectivity run (saved in bundles).
    pub connectivity: &'a mut Option<crate::connectivity::Report>,
    pub jobs: &'a mut UiJobs,
    pub notices: &'a mut Vec<Notice>,
    /// Set to switch to another panel after this frame.
    pub goto: &'a mut Option<Panel>,
    /// A node (by ID) a panel asks the next one to show; the Placement panel takes it.
    pub focus_node: &'a mut Option<String>,
    /// A stack a panel asks the Services panel to filter by (Stacks → Services).
    pub focus_stack: &'a mut Option<String>,
    /// Logs a panel asks the Logs panel to read (Services, Placement → Logs).
    pub open_logs: &'a mut Option<super::logs_panel::LogTarget>,
    /// The task a panel asks the Console panel to bind to.
    pub open_console: &'a mut Option<super::console_panel::ConsoleTarget>,
    pub commands: &'a mut Vec<Command>,
    /// The panel being drawn: the owner of the jobs it starts.
    pub owner: Panel,
}

impl Context<'_> {
    /// Live hosts are open: changes can be planned and applied (not a demo or bundle).
    pub fn live(&self) -> bool {
        matches!(self.source, Source::Inventory(_))
    }

    /// Starts a job owned by this panel; its updates come to [`PanelView::on_job`].
    pub fn start(&mut self, job: Job) -> JobId {
        let (id, cmd) = self.jobs.start(self.owner, job);
        self.commands.push(cmd);
        id
    }

    /// Asks a job to stop at its next safe point.
    pub fn cancel(&mut self, id: JobId) {
        let cmd = self.jobs.cancel(id);
        self.commands.push(cmd);
    }

    pub fn send(&mut self, cmd: Command) {
        self.commands.push(cmd);
    }

    pub fn notice(&mut self, notice: Notice) {
        super::state::push_notice(self.notices, notice);
    }
}

/// Declares the panels: each line `Variant => field: Type` adds a navigation entry (in
/// this order), the `--panel` name (the field), the title (the variant) and the panel's
/// state in [`Panels`].
macro_rules! panels {
    ($($variant:ident => $field:ident : $ty:ty),+ $(,)?) => {
        /// The screens in the navigation bar.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Panel {
            $($variant),+
        }

        impl Panel {
            pub const ALL: &'static [Panel] = &[$(Panel::$variant),+];

            /// Every panel's [`Panel::name`], in navigation order (what `--panel` takes).
            pub const NAMES: &'static [&'static str] = &[$(stringify!($field)),+];

            pub fn title(self) -> &'static str {
                match self {
                    $(Panel::$variant => stringify!($variant)),+
                }
            }

            /// The name used by `--panel`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Panel::$variant => stringify!($field)),+
                }
            }

            /// The panel called `name` (as `--panel` takes it), case-insensitive.
            pub fn from_name(name: &str) -> Result<Panel, String> {
                Panel::ALL
                    .iter()
                    .copied()
                    .find(|p| p.name().eq_ignore_ascii_case(name.trim()))
                    .ok_or_else(|| {
                        let names: Vec<&str> = Panel::ALL.iter().map(|p| p.name()).collect();
                        format!("no panel {name:?}; panels: {}", names.join(", "))
                    })
            }
        }

        /// Every panel's own state.
        #[derive(Default)]
        pub struct Panels {
            $(pub $field: $ty),+
        }

        impl Panels {
            pub fn get_mut(&mut self, panel: Panel) -> &mut dyn PanelView {
                match panel {
                    $(Panel::$variant => &mut self.$field),+
                }
            }
        }
    };
}

pub(crate) use panels;
