//! The app's log job: the engine function the CLI's `swarmdeck logs` runs
//! ([`crate::workloads::logs::logs`]), its merged lines sent on in batches so a chatty
//! service costs the window a few events a second, not one per line. A node whose lines
//! are missing is sent at once, between the batches, in the order it happened.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::JobUpdate;
use super::worker::JobTx;
use crate::cluster::Cluster;
use crate::workloads::log_lines::LogLine;
use crate::workloads::logs::{self, LogEvent, LogNotice, LogRequest};

/// A batch leaves at least this often while lines come.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// At most this many lines in one update…
pub const BATCH_LINES: usize = 500;
/// …and this many bytes of text.
pub const BATCH_BYTES: usize = 256 * 1024;
/// Events from the engine to the batcher.
const CHANNEL: usize = 1024;

/// What a log job reports, between `Started` and `Ended`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogUpdate {
    /// Merged lines, in time order, at most [`BATCH_LINES`] and about [`BATCH_BYTES`].
    Lines(Vec<LogLine>),
    /// A node's or a task's lines are missing (its host, its layer).
    Notice(LogNotice),
    /// Nothing could be read (no swarm manager answered, no such service or task).
    Failed(String),
}

/// Lines gathered until a batch is full or due.
#[derive(Debug, Default)]
pub struct Batch {
    lines: Vec<LogLine>,
    bytes: usize,
}

impl Batch {
    /// Adds a line; true when the batch is full and should leave now.
    pub fn push(&mut self, line: LogLine) -> bool {
        self.bytes += line.line.len();
        self.lines.push(line);
        self.lines.len() >= BATCH_LINES || self.bytes >= BATCH_BYTES
    }

    /// The lines gathered so far (None: nothing to send).
    pub fn take(&mut self) -> Option<Vec<LogLine>> {
        self.bytes = 0;
        (!self.lines.is_empty()).then(|| std::mem::take(&mut self.lines))
    }
}

/// Reads `req` until its streams end, the job is cancelled (which drops the reads and
/// with them every host's stream) or the window is gone.
pub(super) async fn run(cluster: Cluster, req: LogRequest, cancel: CancellationToken, tx: &JobTx) {
    let (events, mut rx) = mpsc::channel(CHANNEL);
    let read = logs::logs(&cluster, &req, events);
    tokio::pin!(read);
    let mut batch = Batch::default();
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reading = true;
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            done = &mut read, if reading => {
                reading = false;
                if let Err(e) = done {
                    flush(&mut batch, tx).await;
                    let why = crate::redact::redact(&e.to_string()).into_owned();
                    tx.send(JobUpdate::Logs(LogUpdate::Failed(why))).await;
                }
            }
            got = rx.recv() => match got {
                Some(LogEvent::Line(l)) => {
                    if batch.push(l) {
                        flush(&mut batch, tx).await;
                    }
                }
                Some(LogEvent::Notice(n)) => {
                    flush(&mut batch, tx).await;
                    tx.send(JobUpdate::Logs(LogUpdate::Notice(n))).await;
                }
                None => break,
            },
            _ = tick.tick() => flush(&mut batch, tx).await,
        }
    }
    flush(&mut batch, tx).await;
}

async fn flush(batch: &mut Batch, tx: &JobTx) {
    if let Some(lines) = batch.take() {
        tx.send(JobUpdate::Logs(LogUpdate::Lines(lines))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::jobs::{JobId, JobKind, Registry};
    use crate::workloads::log_lines::Stream;

    fn line(text: String) -> LogLine {
        LogLine {
            time: "2026-01-01T00:00:00Z".into(),
            at: 0,
            node: "node1".into(),
            task: "web.1".into(),
            task_id: "t".into(),
            stream: Stream::Stdout,
            line: text,
        }
    }

    #[test]
    fn a_batch_is_bounded_in_lines_and_bytes() {
        let mut b = Batch::default();
        assert_eq!(b.take(), None, "nothing to send");
        for i in 1..BATCH_LINES {
            assert!(!b.push(line(i.to_string())), "not full at {i}");
        }
        assert!(b.push(line("last".into())), "full at {BATCH_LINES} lines");
        assert_eq!(b.take().map(|l| l.len()), Some(BATCH_LINES));
        assert_eq!(b.take(), None, "taking empties it");
        assert!(!b.push(line("x".repeat(BATCH_BYTES / 2))));
        assert!(b.push(line("x".repeat(BATCH_BYTES / 2))), "full in bytes");
    }

    #[test]
    fn log_jobs_run_side_by_side_and_beside_changes() {
        let r = Registry::default();
        r.admit(JobId(1), JobKind::Logs, "logs of web").unwrap();
        r.admit(JobId(2), JobKind::Logs, "logs of db").unwrap();
        r.admit(JobId(3), JobKind::Apply, "drain node2").unwrap();
        r.admit(JobId(4), JobKind::Connectivity, "test")
            .unwrap_err();
        r.admit(JobId(5), JobKind::Logs, "logs of web.1").unwrap();
    }
}
