//! The app's console job: one command line run in a task's container by the engine of
//! the node that runs it, through the same engine functions as `swarmdeck exec`
//! ([`crate::workloads::exec::target`], [`crate::workloads::exec::start`]) as
//! `sh -c LINE`. Its output goes back in batches (a few updates a second, bounded in
//! bytes), then its exit code. Cancelling drops the stream.

use std::time::Duration;

use bollard::container::LogOutput;
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::JobUpdate;
use super::worker::JobTx;
use crate::cluster::Cluster;
use crate::workloads::exec::{self, ExecRequest};

/// A batch leaves at least this often while output comes…
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// …or as soon as it holds this many bytes.
pub const BATCH_BYTES: usize = 64 * 1024;

/// One command line to run in a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleRequest {
    /// The task's ID (a task name or a service with one running task works too).
    pub task: String,
    /// Given to `sh -c` in the container: the user's own command, never a host's text.
    pub line: String,
}

impl ConsoleRequest {
    /// What the engine runs.
    pub fn exec(&self) -> ExecRequest {
        ExecRequest {
            target: self.task.clone(),
            cmd: vec!["sh".into(), "-c".into(), self.line.clone()],
            stdin: false,
            tty: false,
        }
    }
}

/// Which stream a piece of output came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutStream {
    Stdout,
    Stderr,
}

/// A piece of output as the engine framed it (not split into lines; raw host text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub stream: OutStream,
    pub text: String,
}

/// What a console job reports, between `Started` and `Ended`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleUpdate {
    /// The command is about to start here: the node's hostname and the inventory host
    /// whose connection runs it.
    Located {
        node: String,
        host: String,
    },
    Output(Vec<Chunk>),
    /// The command ended with this code.
    Exited(i64),
    /// It could not be started or followed (names the host and layer where known).
    Failed(String),
}

/// Output gathered until it is due or large enough.
#[derive(Debug, Default)]
pub struct Batch {
    chunks: Vec<Chunk>,
    bytes: usize,
}

impl Batch {
    /// Adds a piece (merged into the last one when on the same stream); true when the
    /// batch is full and should leave now.
    pub fn push(&mut self, stream: OutStream, text: &str) -> bool {
        self.bytes += text.len();
        match self.chunks.last_mut() {
            Some(last) if last.stream == stream => last.text.push_str(text),
            _ => self.chunks.push(Chunk {
                stream,
                text: text.to_string(),
            }),
        }
        self.bytes >= BATCH_BYTES
    }

    /// The output gathered so far (None: nothing to send).
    pub fn take(&mut self) -> Option<Vec<Chunk>> {
        self.bytes = 0;
        (!self.chunks.is_empty()).then(|| std::mem::take(&mut self.chunks))
    }
}

/// Runs `req` until the command ends or the job is cancelled.
pub(super) async fn run(
    cluster: Cluster,
    req: ConsoleRequest,
    cancel: CancellationToken,
    tx: &JobTx,
) {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => {}
        r = follow(&cluster, &req, tx) => if let Err(e) = r {
            let why = crate::redact::redact(&e.to_string()).into_owned();
            tx.send(JobUpdate::Console(ConsoleUpdate::Failed(why))).await;
        }
    }
}

async fn follow(
    cluster: &Cluster,
    req: &ConsoleRequest,
    tx: &JobTx,
) -> Result<(), exec::ExecError> {
    let at = exec::target(cluster, &req.task).await?;
    let located = ConsoleUpdate::Located {
        node: at.node.clone(),
        host: at.host.clone(),
    };
    tx.send(JobUpdate::Console(located)).await;
    let mut session = exec::start(cluster, &at, &req.exec()).await?;
    let mut batch = Batch::default();
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            got = session.output.next() => match got {
                Some(Ok(frame)) => {
                    let (stream, bytes) = match frame {
                        LogOutput::StdErr { message } => (OutStream::Stderr, message),
                        LogOutput::StdOut { message }
                        | LogOutput::Console { message }
                        | LogOutput::StdIn { message } => (OutStream::Stdout, message),
                    };
                    if batch.push(stream, &String::from_utf8_lossy(&bytes)) {
                        flush(&mut batch, tx).await;
                    }
                }
                Some(Err(e)) => {
                    flush(&mut batch, tx).await;
                    return Err(exec::ExecError::Engine {
                        host: at.host.clone(),
                        step: "reading the output",
                        layer: crate::snapshot::Layer::Engine,
                        error: crate::redact::redact(&e.to_string()).into_owned(),
                    });
                }
                None => break,
            },
            _ = tick.tick() => flush(&mut batch, tx).await,
        }
    }
    flush(&mut batch, tx).await;
    let code = session.handle.exit_code().await?;
    tx.send(JobUpdate::Console(ConsoleUpdate::Exited(code)))
        .await;
    Ok(())
}

async fn flush(batch: &mut Batch, tx: &JobTx) {
    if let Some(chunks) = batch.take() {
        tx.send(JobUpdate::Console(ConsoleUpdate::Output(chunks)))
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::jobs::{JobId, JobKind, Registry};

    #[test]
    fn the_line_goes_to_sh_as_one_argument() {
        let req = ConsoleRequest {
            task: "t1".into(),
            line: "echo a; echo 'b c' >&2".into(),
        };
        let e = req.exec();
        assert_eq!(e.cmd, ["sh", "-c", "echo a; echo 'b c' >&2"]);
        assert_eq!(e.target, "t1");
        assert!(!e.tty && !e.stdin);
    }

    #[test]
    fn a_batch_merges_a_stream_and_is_bounded_in_bytes() {
        let mut b = Batch::default();
        assert_eq!(b.take(), None, "nothing to send");
        assert!(!b.push(OutStream::Stdout, "a\n"));
        assert!(!b.push(OutStream::Stdout, "b\n"));
        assert!(!b.push(OutStream::Stderr, "err\n"));
        let chunks = b.take().unwrap();
        assert_eq!(chunks.len(), 2, "{chunks:?}");
        assert_eq!(chunks[0].text, "a\nb\n");
        assert_eq!(chunks[1].stream, OutStream::Stderr);
        assert_eq!(b.take(), None, "taking empties it");
        assert!(!b.push(OutStream::Stdout, &"x".repeat(BATCH_BYTES - 1)));
        assert!(b.push(OutStream::Stdout, "x"), "full in bytes");
    }

    #[test]
    fn console_commands_conflict_with_nothing() {
        let r = Registry::default();
        r.admit(JobId(1), JobKind::Apply, "drain node2").unwrap();
        r.admit(JobId(2), JobKind::Connectivity, "x").unwrap_err();
        r.admit(JobId(3), JobKind::Console, "hostname").unwrap();
        r.admit(JobId(4), JobKind::Console, "ls").unwrap();
        r.finish(JobId(1));
        r.admit(JobId(5), JobKind::Connectivity, "test").unwrap();
        r.admit(JobId(6), JobKind::Apply, "drain node3")
            .unwrap_err();
        r.admit(JobId(7), JobKind::Console, "ps").unwrap();
    }
}
