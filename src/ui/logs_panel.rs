//! Logs: a service's or a task's output, read from each node that runs a task (the job
//! runs the same engine function as `swarmdeck logs -f`), merged in time order. Search
//! narrows the lines; Follow keeps the newest in view until the user scrolls up; a node
//! whose lines are missing is named with its layer while the others keep streaming.

use std::collections::HashSet;

use eframe::egui::{self, Align, Layout, RichText};

use super::log_buffer::{Filter, LogBuffer};
use super::panel::{Context, PanelView};
use super::state::Panel;
use super::style;
use super::workload_view as wv;
use crate::service::JobId;
use crate::service::logs::LogUpdate;
use crate::service::{Job, JobUpdate};
use crate::snapshot::{ClusterSnapshot, ServiceInfo, TaskInfo};
use crate::untrusted::visible;
use crate::workloads::log_lines::{LogLine, Stream};
use crate::workloads::logs::{LogNotice, LogRequest};

/// Whose logs to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTarget {
    /// What the engine is asked for: a service's or a task's ID.
    pub id: String,
    /// How people name it: `web`, `web.2`.
    pub name: String,
}

impl LogTarget {
    pub fn service(s: &ServiceInfo) -> Self {
        Self {
            id: s.id.clone(),
            name: s.name.clone(),
        }
    }

    pub fn task(snap: &ClusterSnapshot, t: &TaskInfo) -> Self {
        Self {
            id: t.id.clone(),
            name: crate::workloads::logs::task_name(snap, t),
        }
    }
}

/// Asks the Logs panel to read `target`, and shows it.
pub fn open(cx: &mut Context<'_>, target: LogTarget) {
    *cx.open_logs = Some(target);
    *cx.goto = Some(Panel::Logs);
}

/// Where the lines start: the last N per task (None: all of them).
const TAILS: [(Option<u64>, &str); 4] = [
    (Some(100), "last 100 lines per task"),
    (Some(1000), "last 1000 lines per task"),
    (Some(10_000), "last 10 000 lines per task"),
    (None, "every line kept"),
];
/// How far back: seconds before now (None: no limit).
const SINCES: [(Option<i64>, &str); 4] = [
    (None, "any time"),
    (Some(300), "5 minutes ago"),
    (Some(3600), "1 hour ago"),
    (Some(86_400), "1 day ago"),
];
const ROW_HEIGHT: f32 = 18.0;

/// How the read is going.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Reading {
    #[default]
    Idle,
    Starting,
    Streaming,
    /// Every stream ended (the tasks' containers are gone, or none has a container).
    Ended,
    Stopped,
    Failed(String),
}

#[derive(Debug)]
pub struct LogsView {
    pub target: Option<LogTarget>,
    pub job: Option<JobId>,
    pub reading: Reading,
    pub lines: LogBuffer,
    pub notices: Vec<LogNotice>,
    pub search: String,
    filter: Filter,
    /// Keep the newest line in view.
    pub follow: bool,
    /// Follow is on but the user scrolled up: the view stays where it is.
    pub paused: bool,
    /// Lines below the view while paused.
    pub below: usize,
    jump_to_end: bool,
    pub tail: Option<u64>,
    pub since: Option<i64>,
    /// The line shown in full (its number in the buffer).
    pub selected: Option<u64>,
    /// Jobs of an earlier read still to be told to stop.
    stale: HashSet<JobId>,
}

impl Default for LogsView {
    fn default() -> Self {
        Self {
            target: None,
            job: None,
            reading: Reading::Idle,
            lines: LogBuffer::default(),
            notices: Vec::new(),
            search: String::new(),
            filter: Filter::default(),
            follow: true,
            paused: false,
            below: 0,
            jump_to_end: false,
            tail: Some(1000),
            since: None,
            selected: None,
            stale: HashSet::new(),
        }
    }
}

impl PanelView for LogsView {
    fn show(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>) {
        for id in self.stale.drain() {
            cx.cancel(id);
        }
        if let Some(t) = cx.open_logs.take() {
            self.target = Some(t);
            self.restart(cx);
        }
        // Cancelled elsewhere (the Activity panel): say so rather than "ended".
        if let Some(id) = self.job
            && cx.jobs.running().any(|(j, u)| *j == id && u.cancelling)
        {
            self.reading = Reading::Stopped;
        }
        self.header(ui, cx);
        if !cx.live() {
            ui.add_space(12.0);
            ui.label(
                RichText::new("Logs need a live cluster")
                    .strong()
                    .size(16.0),
            );
            ui.label(
                "A demo or a saved bundle holds no logs. Open an inventory (or start the \
                 practice lab from the Overview) to read a service's or a task's logs from \
                 its nodes.",
            );
            return;
        }
        if self.target.is_none() {
            ui.label(
                RichText::new(
                    "Choose a service above, or press Logs beside a service in Services or a \
                     task in Placement.",
                )
                .weak(),
            );
            return;
        }
        self.controls(ui, cx);
        self.status(ui);
        self.rows(ui);
        self.full_line(ui);
    }

    fn on_job(&mut self, id: JobId, update: &JobUpdate, cx: &mut Context<'_>) {
        if self.job != Some(id) {
            // A read replaced or stopped: its last batches are dropped.
            if self.stale.remove(&id) {
                cx.cancel(id);
            }
            return;
        }
        match update {
            JobUpdate::Started { .. } if self.reading == Reading::Starting => {
                self.reading = Reading::Streaming
            }
            JobUpdate::Refused { reason } => self.reading = Reading::Failed(reason.clone()),
            JobUpdate::Logs(LogUpdate::Lines(lines)) => self.lines.extend(lines.iter().cloned()),
            JobUpdate::Logs(LogUpdate::Notice(n)) => self.notices.push(n.clone()),
            JobUpdate::Logs(LogUpdate::Failed(why)) => self.reading = Reading::Failed(why.clone()),
            JobUpdate::Ended => {
                self.job = None;
                if matches!(self.reading, Reading::Starting | Reading::Streaming) {
                    self.reading = Reading::Ended;
                }
            }
            _ => {}
        }
    }

    fn reset(&mut self) {
        let stale = self.job.take();
        *self = Self {
            follow: self.follow,
            tail: self.tail,
            since: self.since,
            stale: std::mem::take(&mut self.stale),
            ..Self::default()
        };
        self.stale.extend(stale);
    }
}

impl LogsView {
    /// Stops the current read and starts one for the target with the chosen window.
    fn restart(&mut self, cx: &mut Context<'_>) {
        self.stop(cx);
        self.lines.clear();
        self.notices.clear();
        self.selected = None;
        self.paused = false;
        self.reading = Reading::Idle;
        let Some(target) = &self.target else { return };
        if !cx.live() {
            return;
        }
        let now = crate::snapshot::now_secs() as i64;
        let request = LogRequest {
            target: target.id.clone(),
            follow: true,
            since: self.since.map(|s| now - s),
            tail: self.tail,
        };
        self.job = Some(cx.start(Job::Logs(request)));
        self.reading = Reading::Starting;
    }

    fn stop(&mut self, cx: &mut Context<'_>) {
        if let Some(id) = self.job.take() {
            cx.cancel(id);
            self.reading = Reading::Stopped;
        }
    }

    /// The title and the service picker.
    fn header(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>) {
        ui.horizontal_wrapped(|ui| {
            ui.heading("Logs");
            if let Some(t) = &self.target {
                ui.heading(RichText::new(visible(&t.name)).color(wv::service_color(
                    t.name.split('.').next().unwrap_or(&t.name),
                )));
            }
            let Some(snap) = cx.snapshot.filter(|_| cx.live()) else {
                return;
            };
            if snap.services.is_empty() {
                return;
            }
            let label = ui.label("Service:");
            let mut picked = None;
            let current = self
                .target
                .as_ref()
                .map_or("choose…".into(), |t| visible(&t.name));
            egui::ComboBox::from_id_salt("logs_service")
                .selected_text(current)
                .show_ui(ui, |ui| {
                    for s in &snap.services {
                        let on = self.target.as_ref().is_some_and(|t| t.id == s.id);
                        if ui.selectable_label(on, visible(&s.name)).clicked() {
                            picked = Some(LogTarget::service(s));
                        }
                    }
                })
                .response
                .labelled_by(label.id);
            if let Some(t) = picked {
                self.target = Some(t);
                self.restart(cx);
            }
        });
    }

    /// Follow, where to start, stop/restart, clear and the search box.
    fn controls(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>) {
        let mut again = false;
        ui.horizontal_wrapped(|ui| {
            if ui
                .checkbox(&mut self.follow, "Follow")
                .on_hover_text("Keep the newest line in view; scrolling up pauses it")
                .changed()
                && self.follow
            {
                self.jump_to_end = true;
            }
            ui.separator();
            let label = ui.label("Start with:");
            again |= choice(ui, "logs_tail", &mut self.tail, &TAILS, label.id);
            let label = ui.label("Since:");
            again |= choice(ui, "logs_since", &mut self.since, &SINCES, label.id);
            ui.separator();
            if self.job.is_some() && ui.button("Stop").on_hover_text("Stop reading").clicked() {
                self.stop(cx);
            }
            if ui
                .button("Restart")
                .on_hover_text(
                    "Read again from the chosen start (picks up new tasks and nodes back online)",
                )
                .clicked()
            {
                again = true;
            }
            if ui.button("Clear").clicked() {
                self.lines.clear();
                self.selected = None;
            }
        });
        if again {
            self.restart(cx);
        }
        ui.horizontal(|ui| {
            let label = ui.label("Search:");
            ui.add(
                egui::TextEdit::singleline(&mut self.search)
                    .hint_text("text, node or task (plain, any case)")
                    .desired_width(320.0),
            )
            .labelled_by(label.id);
            self.filter.update(&self.lines, &self.search);
            if self.filter.active() {
                ui.label(format!(
                    "{} of {} lines match",
                    self.filter.shown(&self.lines),
                    self.lines.len()
                ));
                if ui.small_button("Clear search").clicked() {
                    self.search.clear();
                }
            } else {
                ui.label(format!("{} lines", self.lines.len()));
            }
        });
    }

    /// How the read goes, what is missing and what was dropped.
    fn status(&self, ui: &mut egui::Ui) {
        let streaming = self.reading == Reading::Streaming;
        match &self.reading {
            Reading::Idle => {}
            Reading::Starting => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Connecting to the nodes…");
                });
            }
            Reading::Streaming => {
                ui.colored_label(style::ok(ui), "● Streaming from the nodes");
            }
            Reading::Ended => {
                ui.label("Every stream ended (the tasks' containers stopped or are gone).");
            }
            Reading::Stopped => {
                ui.label("Stopped. Restart to read again.");
            }
            Reading::Failed(why) => {
                ui.colored_label(style::bad(ui), format!("Not read: {}", visible(why)));
            }
        }
        for n in &self.notices {
            let mut text = notice_text(n);
            if streaming {
                text.push_str("; other nodes streaming");
            }
            ui.colored_label(style::warn(ui), format!("⚠ {text}"));
        }
        if self.lines.dropped > 0 {
            ui.label(
                RichText::new(format!(
                    "{} older lines ({}) dropped to keep the newest {} within {} lines and {}",
                    self.lines.dropped,
                    crate::workloads::pending::bytes(self.lines.dropped_bytes as i64),
                    self.lines.len(),
                    super::log_buffer::MAX_LINES,
                    crate::workloads::pending::bytes(super::log_buffer::MAX_BYTES as i64),
                ))
                .weak(),
            );
        }
        if self.follow && self.paused {
            ui.colored_label(
                style::warn(ui),
                format!(
                    "⏸ Follow paused: you scrolled up ({} newer lines below)",
                    self.below
                ),
            );
        }
    }

    /// The lines shown, only those in view laid out.
    fn rows(&mut self, ui: &mut egui::Ui) {
        if self.paused && self.follow && ui.button("Jump to the newest line").clicked() {
            self.jump_to_end = true;
        }
        let shown = self.filter.shown(&self.lines);
        if shown == 0 {
            let why = if self.filter.active() && !self.lines.is_empty() {
                "No line matches the search."
            } else {
                "No lines yet."
            };
            ui.label(RichText::new(why).weak());
            return;
        }
        header_row(ui);
        let reserve = if self.selected.is_some() { 160.0 } else { 0.0 };
        let height = (ui.available_height() - reserve).max(ROW_HEIGHT * 4.0);
        let mut area = egui::ScrollArea::vertical()
            .id_salt("log_rows")
            .auto_shrink([false, false])
            .max_height(height)
            .stick_to_bottom(self.follow);
        if std::mem::take(&mut self.jump_to_end) {
            let row = ROW_HEIGHT + ui.spacing().item_spacing.y;
            area = area.vertical_scroll_offset(row * shown as f32);
        }
        let mut clicked = None;
        let mut last_row = 0;
        let out = area.show_rows(ui, ROW_HEIGHT, shown, |ui, range| {
            last_row = range.end;
            for i in range {
                let Some(n) = self.filter.nth(&self.lines, i) else {
                    continue;
                };
                let Some(l) = self.lines.get(n) else { continue };
                if row(ui, l, self.selected == Some(n)) {
                    clicked = Some(n);
                }
            }
        });
        if let Some(n) = clicked {
            self.selected = (self.selected != Some(n)).then_some(n);
        }
        let end = out.state.clamped_offset().y + out.inner_rect.height();
        let at_end = end + ROW_HEIGHT >= out.content_size.y;
        self.paused = self.follow && !at_end;
        self.below = shown.saturating_sub(last_row);
    }

    /// The selected line in full, wrapped and selectable.
    fn full_line(&mut self, ui: &mut egui::Ui) {
        let Some(l) = self.selected.and_then(|n| self.lines.get(n)) else {
            return;
        };
        ui.separator();
        let mut close = false;
        ui.horizontal(|ui| {
            ui.strong("Line in full");
            ui.label(
                RichText::new(format!(
                    "{} · {} · {} · {}",
                    visible(&l.time),
                    visible(&l.node),
                    visible(&l.task),
                    stream_name(l.stream)
                ))
                .monospace()
                .weak(),
            );
            close = ui.small_button("Close").clicked();
        });
        egui::ScrollArea::vertical()
            .id_salt("log_full_line")
            .max_height(130.0)
            .show(ui, |ui| {
                ui.add(
                    egui::Label::new(RichText::new(visible(&l.line)).monospace())
                        .wrap()
                        .selectable(true),
                );
            });
        if close {
            self.selected = None;
        }
    }
}

/// A combo box over `options`; true when the user picked another.
fn choice<T: PartialEq + Copy>(
    ui: &mut egui::Ui,
    id: &str,
    value: &mut T,
    options: &[(T, &str)],
    label: egui::Id,
) -> bool {
    let before = *value;
    let current = options
        .iter()
        .find(|(v, _)| v == value)
        .map_or("", |(_, t)| *t);
    egui::ComboBox::from_id_salt(id)
        .selected_text(current)
        .show_ui(ui, |ui| {
            for (v, text) in options {
                ui.selectable_value(value, *v, *text);
            }
        })
        .response
        .labelled_by(label);
    *value != before
}

/// Column widths: time, node, task; the line takes the rest.
const WIDTHS: [f32; 3] = [110.0, 90.0, 130.0];

fn cell(ui: &mut egui::Ui, width: f32, text: RichText) {
    ui.allocate_ui_with_layout(
        egui::vec2(width, ROW_HEIGHT),
        Layout::left_to_right(Align::Center),
        |ui| {
            ui.set_width(width);
            ui.add(egui::Label::new(text).truncate());
        },
    );
}

fn header_row(ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        for (title, width) in ["Time (UTC)", "Node", "Task"].into_iter().zip(WIDTHS) {
            cell(ui, width, RichText::new(title).strong());
        }
        ui.label(RichText::new("Line").strong());
        ui.label(
            RichText::new("(stderr highlighted; click a line to see all of it)")
                .weak()
                .small(),
        );
    });
}

/// One line: time, node, task, text (truncated; a click shows it in full). True when
/// clicked.
fn row(ui: &mut egui::Ui, l: &LogLine, selected: bool) -> bool {
    let service = l.task.split('.').next().unwrap_or(&l.task);
    ui.horizontal(|ui| {
        ui.set_height(ROW_HEIGHT);
        let time = l.time.get(11..23).unwrap_or(&l.time);
        let [time_w, node_w, task_w] = WIDTHS;
        cell(ui, time_w, RichText::new(visible(time)).monospace().weak());
        cell(ui, node_w, RichText::new(visible(&l.node)).monospace());
        let task = RichText::new(visible(&l.task))
            .monospace()
            .color(wv::service_color(service));
        cell(ui, task_w, task);
        let mut text = RichText::new(visible(&l.line)).monospace();
        if l.stream == Stream::Stderr {
            text = text.color(style::warn(ui));
        }
        if selected {
            text = text.strong();
        }
        ui.add(
            egui::Label::new(text)
                .truncate()
                .sense(egui::Sense::click()),
        )
        .on_hover_text("Click to see the whole line")
        .clicked()
    })
    .inner
}

fn stream_name(s: Stream) -> &'static str {
    match s {
        Stream::Stdout => "stdout",
        Stream::Stderr => "stderr",
    }
}

/// "node3: SSH — connection refused": the host, the layer, the engine's or SSH's words
/// (without the host's name again when they start with it).
pub fn notice_text(n: &LogNotice) -> String {
    let said = |host: &str, error: &str| -> String {
        let error = error.strip_prefix(&format!("{host}: ")).unwrap_or(error);
        visible(error).into_owned()
    };
    match n {
        LogNotice::Unreachable { host, layer, error } => format!(
            "{}: {} — {}",
            visible(host),
            layer.describe(),
            said(host, error)
        ),
        LogNotice::BrokeOff {
            host,
            task,
            layer,
            error,
        } => format!(
            "{}: {} — the logs of {} broke off: {}",
            visible(host),
            layer.describe(),
            visible(task),
            said(host, error)
        ),
        LogNotice::NotInInventory { node } => format!(
            "{}: in no inventory host — its tasks' logs are missing",
            visible(node)
        ),
    }
}

#[cfg(test)]
mod tests {
    use egui_kittest::Harness;
    use egui_kittest::kittest::{NodeT, Queryable};

    use super::super::workload_view::testing::{cluster, harness, showing};
    use super::*;
    use crate::service::JobKind;
    use crate::snapshot::Layer;
    use crate::ui::{AppState, Source};

    fn line(time: &str, node: &str, text: &str) -> LogLine {
        LogLine {
            time: time.into(),
            at: crate::workloads::log_lines::parse_time(time).unwrap(),
            node: node.into(),
            task: "web.1".into(),
            task_id: "t-web1".into(),
            stream: Stream::Stdout,
            line: text.into(),
        }
    }

    /// The Logs panel's read, once the window has started it as a logs job of that panel.
    fn logs_job(h: &Harness<'_, AppState>) -> Option<JobId> {
        let id = h.state().panels.logs.job?;
        h.state()
            .jobs
            .running()
            .any(|(j, u)| *j == id && u.kind == JobKind::Logs && u.owner == Panel::Logs)
            .then_some(id)
    }

    #[test]
    fn the_demo_says_logs_need_a_live_cluster() {
        let state = AppState::new(Source::Demo, Panel::Services);
        let first = state.snapshot.as_ref().unwrap().services[0].clone();
        let mut h = harness(state);
        h.state_mut().panels.services.selected = Some(first.id.clone());
        h.run_steps(2);
        h.get_by_label("Show logs").click();
        h.run_steps(3);
        assert_eq!(h.state().panel, Panel::Logs);
        h.get_by_label("Logs need a live cluster");
        assert_eq!(logs_job(&h), None, "nothing is read from a capture");
        let target = h.state().panels.logs.target.clone().unwrap();
        assert_eq!(target.id, first.id);
    }

    #[test]
    fn lines_show_in_order_search_narrows_them_and_a_lost_node_is_named() {
        let mut h = showing(cluster(), Panel::Services);
        h.get_by_label("web").click();
        h.run_steps(2);
        h.get_by_label("Show logs").click();
        h.run_steps(2);
        assert_eq!(h.state().panel, Panel::Logs);
        let id = logs_job(&h).expect("the service's logs are being read");
        assert_eq!(h.state().panels.logs.target.as_ref().unwrap().id, "s-web");
        h.get_by_label("Connecting to the nodes…");

        let started = JobUpdate::Started {
            kind: JobKind::Logs,
            what: "logs of s-web".into(),
        };
        h.state_mut().on_job(id, started);
        let lines = vec![
            line("2026-11-30T10:00:01.000000000Z", "node1", "GET / 200"),
            line("2026-11-30T10:00:02.000000000Z", "node2", "GET /x 404"),
            line(
                "2026-11-30T10:00:03.000000000Z",
                "node1",
                "evil\x1b[2J\rforged",
            ),
        ];
        h.state_mut()
            .on_job(id, JobUpdate::Logs(LogUpdate::Lines(lines)));
        let lost = LogNotice::Unreachable {
            host: "node3".into(),
            layer: Layer::Ssh,
            error: "connection refused".into(),
        };
        h.state_mut()
            .on_job(id, JobUpdate::Logs(LogUpdate::Notice(lost)));
        h.run_steps(3);
        h.get_by_label("● Streaming from the nodes");
        h.get_by_label("⚠ node3: SSH — connection refused; other nodes streaming");
        h.get_by_label("3 lines");
        h.get_by_label("GET / 200");
        h.get_by_label("GET /x 404");
        h.get_by_label("10:00:02.000");
        h.get_by_label("evil\\u{1b}[2J\\rforged");
        assert!(
            h.query_by_label_contains("\x1b").is_none(),
            "a host's control characters are never drawn"
        );

        h.get_by_label("Search:").click();
        h.run_steps(1);
        h.get_by_label("Search:").type_text("get /X");
        h.run_steps(3);
        h.get_by_label("1 of 3 lines match");
        h.get_by_label("GET /x 404");
        assert!(h.query_by_label("GET / 200").is_none());

        // Stop ends the read: the service is told to cancel the job.
        h.get_by_label("Stop").click();
        h.run_steps(2);
        assert!(
            h.state()
                .jobs
                .running()
                .any(|(j, u)| *j == id && u.cancelling)
        );
        h.get_by_label("Stopped. Restart to read again.");
        h.get_by_label("Restart");
    }

    #[test]
    fn a_task_opens_its_own_logs_from_placement_and_from_the_services_table() {
        let mut h = showing(cluster(), Panel::Placement);
        h.get_by_label("web.1").click();
        h.run_steps(2);
        h.get_by_label("Show logs").click();
        h.run_steps(2);
        assert_eq!(h.state().panel, Panel::Logs);
        let target = h.state().panels.logs.target.clone().unwrap();
        assert_eq!(
            (target.id.as_str(), target.name.as_str()),
            ("t-web1", "web.1")
        );
        let first = logs_job(&h).expect("the task's logs are being read");

        h.state_mut().panel = Panel::Services;
        h.state_mut().panels.services.selected = Some("s-web".into());
        h.run_steps(2);
        // web.1 is the only task with a container: the others' buttons are disabled.
        for b in h.query_all_by_label("Logs") {
            if !b.accesskit_node().is_disabled() {
                b.click();
            }
        }
        h.run_steps(2);
        assert_eq!(h.state().panel, Panel::Logs);
        let second = logs_job(&h).expect("read again");
        assert_ne!(first, second, "a new read replaces the old one");
        assert!(
            h.state()
                .jobs
                .running()
                .any(|(id, j)| *id == first && j.cancelling),
            "the old read is cancelled"
        );
    }

    #[test]
    fn a_full_buffer_draws_only_the_rows_in_view_and_follows_the_newest() {
        let mut h = showing(cluster(), Panel::Logs);
        let view = &mut h.state_mut().panels.logs;
        view.target = Some(LogTarget {
            id: "s-web".into(),
            name: "web".into(),
        });
        let lines = (0..super::super::log_buffer::MAX_LINES + 500).map(|i| {
            let mut l = line("2026-11-30T10:00:01.000000000Z", "node1", "");
            l.line = format!("request {i}");
            l
        });
        view.lines.extend(lines);
        assert_eq!(view.lines.dropped, 500, "the ring keeps its cap");
        let start = std::time::Instant::now();
        h.run_steps(10);
        let per_frame = start.elapsed() / 10;
        eprintln!("{per_frame:?} per frame with 100 000 lines");
        let drawn = h.query_all_by_label_contains("request ").count();
        assert!((1..100).contains(&drawn), "{drawn} rows drawn");
        h.get_by_label("request 100499");
        h.get_by_label_contains("500 older lines");
        assert!(!h.state().panels.logs.paused);

        // Scrolling up pauses Follow, visibly; new lines then stay below the view.
        for _ in 0..3 {
            h.get_by_label("request 100499").scroll_up();
            h.run_steps(1);
        }
        h.run_steps(2);
        assert!(h.state().panels.logs.paused, "scrolled up: paused");
        assert!(h.query_by_label("request 100499").is_none());
        let more = (0..5).map(|i| {
            let mut l = line("2026-11-30T10:00:02.000000000Z", "node2", "");
            l.line = format!("newer {i}");
            l
        });
        h.state_mut().panels.logs.lines.extend(more);
        h.run_steps(2);
        h.get_by_label_contains("Follow paused: you scrolled up");
        assert!(h.query_by_label("newer 4").is_none(), "the view stays put");
        h.get_by_label("Jump to the newest line").click();
        h.run_steps(3);
        h.get_by_label("newer 4");
        assert!(!h.state().panels.logs.paused, "following again");

        h.state_mut().panels.logs.search = "REQUEST 10049".into();
        let start = std::time::Instant::now();
        h.run_steps(1);
        eprintln!(
            "{:?} for a frame that searches 100 000 lines",
            start.elapsed()
        );
        h.run_steps(1);
        // request 10049 and request 100490 to 100499.
        h.get_by_label("11 of 100000 lines match");
    }

    #[test]
    fn notices_name_the_host_and_the_layer() {
        let broke = LogNotice::BrokeOff {
            host: "node2".into(),
            task: "web.2".into(),
            layer: Layer::Engine,
            error: "node2: unexpected EOF\x07".into(),
        };
        assert_eq!(
            notice_text(&broke),
            "node2: Docker engine — the logs of web.2 broke off: unexpected EOF\\u{7}"
        );
        let lost = LogNotice::NotInInventory {
            node: "edge9".into(),
        };
        assert_eq!(
            notice_text(&lost),
            "edge9: in no inventory host — its tasks' logs are missing"
        );
    }
}
