//! Console: command lines run one at a time in a chosen task's container, on the node
//! that runs it (the job runs the same engine functions as `swarmdeck exec TASK sh -c
//! LINE`). A line console, not a terminal: each command's stdout and stderr come back
//! as lines, stderr marked, then its exit code. Full-screen programs and prompts that
//! wait for input have no place here; `swarmdeck exec -it` is for those.

use std::collections::VecDeque;

use eframe::egui::{self, Key, RichText};

use super::panel::{Context, PanelView};
use super::state::Panel;
use super::style;
use crate::service::console::{Chunk, ConsoleRequest, ConsoleUpdate, OutStream};
use crate::service::{Job, JobId, JobUpdate};
use crate::snapshot::{ClusterSnapshot, TaskInfo, TaskState};
use crate::untrusted::visible;

/// Rows kept; the oldest go first.
pub const MAX_ROWS: usize = 5000;
/// A line longer than this (or output without a newline) is cut into rows of this size.
pub const MAX_LINE: usize = 4096;
/// Commands remembered for Up/Down.
pub const MAX_HISTORY: usize = 200;
const ROW_HEIGHT: f32 = 17.0;

/// The task a console is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleTarget {
    /// The task's ID: what the engine is asked for.
    pub task_id: String,
    /// How people name it: `web.2`.
    pub name: String,
    /// The node that runs it, as the snapshot names it.
    pub node: String,
}

impl ConsoleTarget {
    pub fn new(snap: &ClusterSnapshot, t: &TaskInfo) -> Self {
        let node = t
            .node_id
            .as_deref()
            .and_then(|id| snap.node(id))
            .map_or_else(|| "—".to_string(), |n| n.label_among(&snap.nodes));
        Self {
            task_id: t.id.clone(),
            name: crate::workloads::logs::task_name(snap, t),
            node,
        }
    }
}

/// Whether a command can run in `t`: it runs and has its container.
pub fn can_run_in(t: &TaskInfo) -> bool {
    t.state == TaskState::Running && t.container_id.is_some()
}

/// A "Console" button for a task, enabled while the task runs; the target when pressed.
pub fn button(ui: &mut egui::Ui, snap: &ClusterSnapshot, t: &TaskInfo) -> Option<ConsoleTarget> {
    ui.add_enabled(can_run_in(t), egui::Button::new("Open console"))
        .on_hover_text("Run commands in this task's container, on its node")
        .on_disabled_hover_text("Only a running task's container can run commands")
        .clicked()
        .then(|| ConsoleTarget::new(snap, t))
}

/// Binds the Console panel to `target`, and shows it.
pub fn open(cx: &mut Context<'_>, target: ConsoleTarget) {
    *cx.open_console = Some(target);
    *cx.goto = Some(Panel::Console);
}

/// What a row of the console holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowKind {
    /// The command line as typed.
    Command,
    Stdout,
    Stderr,
    /// The command's exit code.
    Exit(i64),
    /// Why a command could not run or was stopped.
    Note,
}

/// One row: its text is inert (no control character of the host's reaches the screen).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub kind: RowKind,
    pub text: String,
}

/// The console's rows, at most [`MAX_ROWS`]; output is split into lines, a line's end
/// waiting for its newline (stdout's and stderr's apart).
#[derive(Debug, Default)]
pub struct ConsoleBuffer {
    rows: VecDeque<Row>,
    partial: [String; 2],
}

impl ConsoleBuffer {
    pub fn rows(&self) -> &VecDeque<Row> {
        &self.rows
    }

    pub fn push(&mut self, kind: RowKind, text: &str) {
        if self.rows.len() == MAX_ROWS {
            self.rows.pop_front();
        }
        self.rows.push_back(Row {
            kind,
            text: visible(text).into_owned(),
        });
    }

    /// Output of the running command: whole lines become rows.
    pub fn output(&mut self, chunk: &Chunk) {
        let (i, kind) = match chunk.stream {
            OutStream::Stdout => (0, RowKind::Stdout),
            OutStream::Stderr => (1, RowKind::Stderr),
        };
        let mut pending = std::mem::take(&mut self.partial[i]);
        pending.push_str(&chunk.text);
        let mut rest = pending.as_str();
        while let Some(end) = rest.find('\n') {
            self.line(kind.clone(), &rest[..end]);
            rest = &rest[end + 1..];
        }
        while rest.len() > MAX_LINE {
            let cut = (0..=MAX_LINE).rev().find(|c| rest.is_char_boundary(*c));
            let (head, tail) = rest.split_at(cut.unwrap_or(rest.len()));
            self.push(kind.clone(), head);
            rest = tail;
        }
        self.partial[i] = rest.to_string();
    }

    fn line(&mut self, kind: RowKind, line: &str) {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.len() <= MAX_LINE {
            return self.push(kind, line);
        }
        let mut rest = line;
        while !rest.is_empty() {
            let cut = (0..=MAX_LINE.min(rest.len()))
                .rev()
                .find(|c| rest.is_char_boundary(*c) && *c > 0)
                .unwrap_or(rest.len());
            let (head, tail) = rest.split_at(cut);
            self.push(kind.clone(), head);
            rest = tail;
        }
    }

    /// The command's output is over: a last line without its newline is a row too.
    pub fn finish(&mut self) {
        for (i, kind) in [(0, RowKind::Stdout), (1, RowKind::Stderr)] {
            let last = std::mem::take(&mut self.partial[i]);
            if !last.is_empty() {
                self.line(kind, &last);
            }
        }
    }

    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

/// Earlier command lines, newest last; Up and Down walk them.
#[derive(Debug, Default)]
pub struct History {
    lines: Vec<String>,
    /// The line shown now (None: the user's own new line).
    at: Option<usize>,
}

impl History {
    /// Remembers a line run (not twice in a row).
    pub fn push(&mut self, line: &str) {
        self.at = None;
        if self.lines.last().map(String::as_str) != Some(line) {
            if self.lines.len() == MAX_HISTORY {
                self.lines.remove(0);
            }
            self.lines.push(line.to_string());
        }
    }

    /// The line before the one shown (Up).
    pub fn up(&mut self) -> Option<&str> {
        let at = match self.at {
            None => self.lines.len().checked_sub(1)?,
            Some(i) => i.saturating_sub(1),
        };
        self.at = Some(at);
        self.lines.get(at).map(String::as_str)
    }

    /// The line after the one shown (Down); an empty line past the newest.
    pub fn down(&mut self) -> Option<&str> {
        let i = self.at? + 1;
        if i >= self.lines.len() {
            self.at = None;
            return Some("");
        }
        self.at = Some(i);
        self.lines.get(i).map(String::as_str)
    }
}

#[derive(Debug, Default)]
pub struct ConsoleView {
    pub target: Option<ConsoleTarget>,
    pub input: String,
    pub history: History,
    pub rows: ConsoleBuffer,
    /// The command running now.
    pub job: Option<JobId>,
    /// Where the last command ran: the node's hostname, the inventory host.
    pub located: Option<(String, String)>,
    stopping: bool,
    focus: bool,
}

impl PanelView for ConsoleView {
    fn show(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>) {
        if let Some(t) = cx.open_console.take() {
            self.bind(t, cx);
        }
        ui.heading("Console");
        if !cx.live() {
            ui.add_space(12.0);
            ui.label(
                RichText::new("The console needs a live cluster")
                    .strong()
                    .size(16.0),
            );
            ui.label(
                "A demo or a saved bundle has no containers to run commands in. Open an \
                 inventory (or start the practice lab from the Overview), then press Open console \
                 beside a running task in Services or Placement.",
            );
            return;
        }
        let Some(target) = self.target.clone() else {
            ui.label(
                RichText::new("Press Open console beside a running task in Services or Placement.")
                    .weak(),
            );
            return;
        };
        self.header(ui, cx, &target);
        ui.separator();
        self.input_line(ui, cx, &target);
        ui.separator();
        self.output(ui);
    }

    fn on_job(&mut self, id: JobId, update: &JobUpdate, _cx: &mut Context<'_>) {
        if self.job != Some(id) {
            return;
        }
        match update {
            JobUpdate::Refused { reason } => self.rows.push(RowKind::Note, reason),
            JobUpdate::Console(ConsoleUpdate::Located { node, host }) => {
                self.located = Some((node.clone(), host.clone()));
            }
            JobUpdate::Console(ConsoleUpdate::Output(chunks)) => {
                for c in chunks {
                    self.rows.output(c);
                }
            }
            JobUpdate::Console(ConsoleUpdate::Exited(code)) => {
                self.rows.finish();
                self.rows
                    .push(RowKind::Exit(*code), &format!("exit {code}"));
            }
            JobUpdate::Console(ConsoleUpdate::Failed(why)) => {
                self.rows.finish();
                self.rows.push(RowKind::Note, why);
            }
            JobUpdate::Ended => {
                self.rows.finish();
                if self.stopping {
                    self.rows.push(
                        RowKind::Note,
                        "stopped: no longer reading (a command that ignores its closed \
                         output runs on in the container until it ends)",
                    );
                }
                self.job = None;
                self.stopping = false;
            }
            _ => {}
        }
    }

    fn reset(&mut self) {
        let history = std::mem::take(&mut self.history);
        *self = Self {
            history,
            ..Self::default()
        };
    }
}

impl ConsoleView {
    /// Binds the console to another task: the running command stops, the rows go.
    fn bind(&mut self, target: ConsoleTarget, cx: &mut Context<'_>) {
        if self.target.as_ref() == Some(&target) {
            return;
        }
        if let Some(id) = self.job.take() {
            cx.cancel(id);
        }
        self.rows.clear();
        self.located = None;
        self.stopping = false;
        self.target = Some(target);
        self.focus = true;
    }

    fn header(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>, target: &ConsoleTarget) {
        ui.horizontal(|ui| {
            ui.label(RichText::new(visible(&target.name)).strong().monospace());
            ui.label("on node");
            ui.label(RichText::new(visible(&target.node)).strong());
            if let Some((node, host)) = &self.located {
                ui.label(
                    RichText::new(format!(
                        "(hostname {}, through host {})",
                        visible(node),
                        visible(host)
                    ))
                    .weak(),
                );
            }
            if let Some(id) = self.job {
                ui.spinner();
                let stop = ui
                    .add_enabled(!self.stopping, egui::Button::new("Stop"))
                    .on_hover_text("Stop reading the running command");
                if stop.clicked() {
                    self.stopping = true;
                    cx.cancel(id);
                }
            }
        });
        if let Some(t) = cx
            .snapshot
            .and_then(|s| s.tasks.iter().find(|t| t.id == target.task_id))
            && !can_run_in(t)
        {
            ui.colored_label(
                style::warn(ui),
                format!(
                    "This task is {} now: commands will find no container.",
                    visible(t.state.as_str())
                ),
            );
        }
    }

    fn input_line(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>, target: &ConsoleTarget) {
        let running = self.job.is_some();
        ui.horizontal(|ui| {
            let prompt = ui.label(RichText::new("$").monospace().strong());
            let edit = egui::TextEdit::singleline(&mut self.input)
                .font(egui::TextStyle::Monospace)
                .hint_text("a command line, run with sh -c in the container")
                .desired_width(ui.available_width() - 60.0);
            let resp = ui.add(edit).labelled_by(prompt.id);
            if std::mem::take(&mut self.focus) {
                resp.request_focus();
            }
            if resp.has_focus() {
                let (up, down) =
                    ui.input(|i| (i.key_pressed(Key::ArrowUp), i.key_pressed(Key::ArrowDown)));
                let recalled = if up {
                    self.history.up()
                } else if down {
                    self.history.down()
                } else {
                    None
                };
                if let Some(line) = recalled {
                    self.input = line.to_string();
                }
            }
            let entered = resp.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
            let ready = !running && !self.input.trim().is_empty();
            let run = ui
                .add_enabled(ready, egui::Button::new("Run"))
                .on_disabled_hover_text(if running {
                    "A command is running: wait for it or Stop it"
                } else {
                    "Type a command line first"
                });
            if (entered || run.clicked()) && ready {
                self.run(cx, target);
                self.focus = true;
            } else if entered {
                self.focus = true;
            }
        });
    }

    fn run(&mut self, cx: &mut Context<'_>, target: &ConsoleTarget) {
        let line = std::mem::take(&mut self.input);
        self.history.push(&line);
        self.rows.push(RowKind::Command, &format!("$ {line}"));
        self.stopping = false;
        self.job = Some(cx.start(Job::Console(ConsoleRequest {
            task: target.task_id.clone(),
            line,
        })));
    }

    fn output(&self, ui: &mut egui::Ui) {
        let rows = self.rows.rows();
        egui::ScrollArea::both()
            .auto_shrink([false, false])
            .stick_to_bottom(true)
            .show_rows(ui, ROW_HEIGHT, rows.len(), |ui, range| {
                for row in rows.range(range) {
                    let text = RichText::new(&row.text).monospace();
                    let text = match row.kind {
                        RowKind::Command => text.strong(),
                        RowKind::Stdout => text,
                        RowKind::Stderr => text.color(style::warn(ui)),
                        RowKind::Exit(0) => text.color(style::ok(ui)),
                        RowKind::Exit(_) | RowKind::Note => text.color(style::bad(ui)),
                    };
                    ui.add(egui::Label::new(text).extend());
                }
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(stream: OutStream, text: &str) -> Chunk {
        Chunk {
            stream,
            text: text.into(),
        }
    }

    fn texts(b: &ConsoleBuffer) -> Vec<(RowKind, &str)> {
        b.rows()
            .iter()
            .map(|r| (r.kind.clone(), r.text.as_str()))
            .collect()
    }

    #[test]
    fn output_becomes_lines_per_stream_and_a_last_line_without_newline_counts() {
        let mut b = ConsoleBuffer::default();
        b.output(&out(OutStream::Stdout, "one\ntw"));
        b.output(&out(OutStream::Stderr, "err"));
        b.output(&out(OutStream::Stdout, "o\r\nthree"));
        assert_eq!(
            texts(&b),
            [(RowKind::Stdout, "one"), (RowKind::Stdout, "two")]
        );
        b.finish();
        assert_eq!(
            texts(&b)[2..],
            [(RowKind::Stdout, "three"), (RowKind::Stderr, "err")]
        );
    }

    #[test]
    fn a_hosts_output_cannot_control_the_screen_and_stays_bounded() {
        let mut b = ConsoleBuffer::default();
        b.output(&out(OutStream::Stdout, "\x1b[2J\u{202e}forged\n"));
        assert!(!crate::untrusted::has_control(&b.rows()[0].text));
        b.output(&out(OutStream::Stdout, &"é".repeat(MAX_LINE)));
        assert!(b.rows().iter().all(|r| r.text.len() <= MAX_LINE));
        for i in 0..MAX_ROWS + 10 {
            b.push(RowKind::Stdout, &i.to_string());
        }
        assert_eq!(b.rows().len(), MAX_ROWS);
        assert_eq!(b.rows().back().unwrap().text, (MAX_ROWS + 9).to_string());
    }

    #[test]
    fn up_and_down_walk_the_history() {
        let mut h = History::default();
        assert_eq!(h.up(), None, "nothing yet");
        h.push("ls");
        h.push("hostname");
        h.push("hostname");
        assert_eq!(h.up(), Some("hostname"));
        assert_eq!(h.up(), Some("ls"));
        assert_eq!(h.up(), Some("ls"), "stays at the oldest");
        assert_eq!(h.down(), Some("hostname"));
        assert_eq!(h.down(), Some(""), "past the newest: a new line");
        assert_eq!(h.down(), None);
    }

    #[test]
    fn open_console_binds_the_panel_to_a_running_task_with_a_container() {
        use crate::ui::Panel;
        use crate::ui::workload_view::testing::{cluster, showing};
        use egui_kittest::kittest::{NodeT, Queryable};
        let mut h = showing(cluster(), Panel::Services);
        h.get_by_label("web").click();
        h.run_steps(2);
        // web.1 has its container; web.2 and web.3 are running without one recorded.
        let buttons: Vec<bool> = h
            .query_all_by_label("Open console")
            .map(|b| b.accesskit_node().is_disabled())
            .collect();
        assert_eq!(buttons.len(), 4, "one per task, the shut-down one too");
        assert_eq!(buttons.iter().filter(|d| !**d).count(), 1, "{buttons:?}");
        h.query_all_by_label("Open console")
            .find(|b| !b.accesskit_node().is_disabled())
            .unwrap()
            .click();
        h.run_steps(3);
        assert_eq!(h.state().panel, Panel::Console);
        let target = h.state().panels.console.target.clone().unwrap();
        assert_eq!(
            (target.name.as_str(), target.task_id.as_str()),
            ("web.1", "t-web1")
        );
        h.get_by_label("node1");
        h.get_by_label("Run");
        assert!(
            h.state().jobs.running().next().is_none(),
            "nothing runs until asked"
        );
    }

    #[test]
    fn the_demo_says_the_console_needs_a_live_cluster() {
        use crate::ui::{AppState, Panel, Source};
        let mut state = AppState::new(Source::Demo, Panel::Console);
        let snap = crate::ui::workload_view::testing::cluster();
        let task = snap.tasks.iter().find(|t| can_run_in(t)).unwrap();
        state.open_console = Some(ConsoleTarget::new(&snap, task));
        let mut h = crate::ui::workload_view::testing::harness(state);
        use egui_kittest::kittest::Queryable;
        h.get_by_label("The console needs a live cluster");
        assert!(h.query_by_label("Run").is_none(), "nothing to run in");
        h.run_steps(1);
        assert!(h.state().jobs.running().next().is_none(), "no job started");
    }
}
