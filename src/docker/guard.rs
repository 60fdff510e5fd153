//! Deadlines and size limits on each Engine API exchange.
//!
//! Every request runs on its own SSH channel, so the channel's byte stream is where a
//! bound holds for the whole exchange, headers and body alike: [`Guarded`] fails the
//! stream once the request's deadline passes or the answer outgrows its limit. The budget
//! depends on the request ([`budget`]): reads must be quick, changes may take the engine a
//! while, streams (events, logs) have no end but a bounded line, and an exec or attach
//! session lasts and says as much as its command.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::Method;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::limits::{self, Deadlines};

/// Why a guarded exchange was cut off. Travels inside an `io::Error` through hyper and
/// bollard, and is recovered by [`exceeded`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Exceeded {
    #[error("no answer to {request} within {}", limits::human(*.after))]
    Deadline { request: String, after: Duration },
    #[error("the answer to {request} is larger than {}", limits::human_bytes(*.limit))]
    Size { request: String, limit: u64 },
}

/// How much time and how many bytes one request may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// None for streams that may stay open (events, followed logs, exec and attach
    /// sessions, whose callers bound them).
    pub deadline: Option<Duration>,
    pub limit: Limit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The whole answer.
    Total(u64),
    /// Each line of a stream (one JSON event, one log line).
    Line(u64),
    /// Nothing: an exec or attach session's output is the user's program's, read as it
    /// comes for as long as it runs; a caller that keeps it bounds what it keeps.
    Unbounded,
}

/// `GET /v1.41/containers/x/json?all=1` → `GET /containers/x/json`: names the request in
/// messages without query strings (they may carry filters, never secrets, but are noise).
pub fn request_name(method: &Method, path: &str) -> String {
    format!("{method} {}", unversioned(path))
}

fn unversioned(path: &str) -> &str {
    let path = path.split('?').next().unwrap_or(path);
    match path.strip_prefix("/v") {
        Some(rest) => match rest.find('/') {
            Some(i) if rest[..i].chars().all(|c| c.is_ascii_digit() || c == '.') => &rest[i..],
            _ => path,
        },
        None => path,
    }
}

/// The budget of one request.
pub fn budget(method: &Method, path: &str, d: &Deadlines) -> Budget {
    let path = unversioned(path);
    let last = path.rsplit('/').next().unwrap_or("");
    let total = |deadline| Budget {
        deadline: Some(deadline),
        limit: Limit::Total(limits::MAX_BODY_BYTES),
    };
    if path == "/events" || last == "logs" || last == "stats" {
        return Budget {
            deadline: None,
            limit: Limit::Line(limits::MAX_LINE_BYTES),
        };
    }
    if (path.starts_with("/exec/") && last == "start") || last == "attach" {
        return Budget {
            deadline: None,
            limit: Limit::Unbounded,
        };
    }
    if path.starts_with("/images/") && matches!(last, "create" | "load") {
        return Budget {
            deadline: Some(d.long),
            limit: Limit::Line(limits::MAX_LINE_BYTES),
        };
    }
    // Reads answer from memory; changes may wait for Raft, a stop grace period or a join.
    if (*method == Method::GET || *method == Method::HEAD) && last != "wait" {
        total(d.request)
    } else {
        total(d.long)
    }
}

/// A byte stream that fails once its deadline passes or its reads exceed the limit.
pub struct Guarded<S> {
    inner: S,
    request: String,
    budget: Budget,
    deadline: Option<Pin<Box<Sleep>>>,
    read: u64,
    line: u64,
}

impl<S> Guarded<S> {
    /// `started` is when the exchange began (before its channel was opened).
    pub fn new(inner: S, request: String, budget: Budget, started: Instant) -> Self {
        let deadline = budget
            .deadline
            .map(|d| Box::pin(tokio::time::sleep_until(started + d)));
        Self {
            inner,
            request,
            budget,
            deadline,
            read: 0,
            line: 0,
        }
    }

    fn fail(&self, why: Exceeded) -> std::io::Error {
        let kind = match why {
            Exceeded::Deadline { .. } => std::io::ErrorKind::TimedOut,
            Exceeded::Size { .. } => std::io::ErrorKind::InvalidData,
        };
        std::io::Error::new(kind, why)
    }

    /// Polls the deadline (registering the waker, so a silent peer still wakes us).
    fn expired(&mut self, cx: &mut Context<'_>) -> Option<std::io::Error> {
        let sleep = self.deadline.as_mut()?;
        if sleep.as_mut().poll(cx).is_pending() {
            return None;
        }
        let after = self.budget.deadline.unwrap_or_default();
        Some(self.fail(Exceeded::Deadline {
            request: self.request.clone(),
            after,
        }))
    }

    /// Counts what was just read; an error once the limit is passed.
    fn account(&mut self, fresh: &[u8]) -> Option<std::io::Error> {
        let limit = match self.budget.limit {
            Limit::Total(max) => {
                self.read += fresh.len() as u64;
                (self.read > max).then_some(max)
            }
            Limit::Line(max) => {
                match fresh.iter().rposition(|&b| b == b'\n') {
                    Some(i) => self.line = (fresh.len() - i - 1) as u64,
                    None => self.line += fresh.len() as u64,
                }
                (self.line > max).then_some(max)
            }
            Limit::Unbounded => None,
        }?;
        Some(self.fail(Exceeded::Size {
            request: self.request.clone(),
            limit,
        }))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if let Some(e) = self.expired(cx) {
            return Poll::Ready(Err(e));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled
            && let Some(e) = self.account(&buf.filled()[before..])
        {
            // A failed read hands over nothing.
            buf.set_filled(before);
            return Poll::Ready(Err(e));
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if let Some(e) = self.expired(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The first error of type `T` inside a bollard error: carried by an `io::Error` (which
/// bollard wraps transparently, so its `source()` skips it) or anywhere down the chain.
fn find<'a, T: std::error::Error + 'static>(e: &'a bollard::errors::Error) -> Option<&'a T> {
    let carried = |io: &'a std::io::Error| io.get_ref().and_then(|i| i.downcast_ref::<T>());
    if let bollard::errors::Error::IOError { err } = e
        && let Some(x) = carried(err)
    {
        return Some(x);
    }
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(x) = err.downcast_ref::<T>() {
            return Some(x);
        }
        if let Some(x) = err.downcast_ref::<std::io::Error>().and_then(carried) {
            return Some(x);
        }
        cur = err.source();
    }
    None
}

/// The guard's verdict inside an error from hyper or bollard, if that is why it failed.
pub fn exceeded(e: &bollard::errors::Error) -> Option<&Exceeded> {
    find(e)
}

/// An SSH failure (a channel that would not open) inside an error from bollard.
pub fn ssh_failure(e: &bollard::errors::Error) -> Option<&crate::ssh::SshError> {
    find(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn d() -> Deadlines {
        Deadlines::default()
    }

    #[test]
    fn reads_are_quick_changes_long_streams_open() {
        let b = budget(&Method::GET, "/v1.41/info", &d());
        assert_eq!(b.deadline, Some(d().request));
        assert_eq!(b.limit, Limit::Total(limits::MAX_BODY_BYTES));
        assert_eq!(
            budget(&Method::GET, "/_ping", &d()).deadline,
            Some(d().request)
        );
        assert_eq!(
            budget(&Method::POST, "/v1.41/swarm/join", &d()).deadline,
            Some(d().long)
        );
        assert_eq!(
            budget(&Method::POST, "/v1.41/containers/abc/wait", &d()).deadline,
            Some(d().long)
        );
        let events = budget(&Method::GET, "/v1.41/events?filters=x", &d());
        assert_eq!(events.deadline, None);
        assert_eq!(events.limit, Limit::Line(limits::MAX_LINE_BYTES));
        let exec = budget(&Method::POST, "/v1.41/exec/abc/start", &d());
        assert_eq!(exec.deadline, None);
        assert_eq!(exec.limit, Limit::Unbounded);
        assert_eq!(
            budget(&Method::GET, "/v1.41/containers/abc/logs", &d()).deadline,
            None
        );
        assert_eq!(
            budget(&Method::POST, "/images/create?fromSrc=-", &d()),
            Budget {
                deadline: Some(d().long),
                limit: Limit::Line(limits::MAX_LINE_BYTES)
            }
        );
    }

    #[test]
    fn an_ssh_failure_is_found_inside_bollards_error() {
        let ssh = crate::ssh::SshError::Timeout {
            host: "n".into(),
            what: "opening an SSH channel".into(),
            after: Duration::from_secs(5),
        };
        let e = bollard::errors::Error::IOError {
            err: std::io::Error::other(ssh),
        };
        assert!(matches!(
            ssh_failure(&e),
            Some(crate::ssh::SshError::Timeout { .. })
        ));
        assert_eq!(exceeded(&e), None);
    }

    #[test]
    fn request_names_drop_version_and_query() {
        assert_eq!(
            request_name(&Method::GET, "/v1.41/containers/json?all=1"),
            "GET /containers/json"
        );
        assert_eq!(request_name(&Method::GET, "/_ping"), "GET /_ping");
        assert_eq!(request_name(&Method::GET, "/volumes"), "GET /volumes");
    }

    fn guarded(
        s: tokio::io::DuplexStream,
        deadline: Option<Duration>,
        limit: Limit,
    ) -> Guarded<tokio::io::DuplexStream> {
        let budget = Budget { deadline, limit };
        Guarded::new(s, "GET /info".into(), budget, Instant::now())
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_peer_fails_at_the_deadline() {
        let (ours, _theirs) = tokio::io::duplex(64);
        let mut g = guarded(ours, Some(Duration::from_secs(5)), Limit::Total(1024));
        let mut buf = [0u8; 8];
        let err = g.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        let err = bollard::errors::Error::IOError { err };
        let why = exceeded(&err).expect("the reason travels in the error");
        assert_eq!(
            why.to_string(),
            "no answer to GET /info within 5 s",
            "names the request and the deadline"
        );
    }

    #[tokio::test]
    async fn an_endless_answer_fails_at_the_limit() {
        let (ours, mut theirs) = tokio::io::duplex(4096);
        let mut g = guarded(ours, None, Limit::Total(1000));
        tokio::spawn(async move {
            let chunk = [b'x'; 256];
            while theirs.write_all(&chunk).await.is_ok() {}
        });
        let mut sink = Vec::new();
        let err = bollard::errors::Error::IOError {
            err: g.read_to_end(&mut sink).await.unwrap_err(),
        };
        assert!(matches!(
            exceeded(&err),
            Some(Exceeded::Size { limit: 1000, .. })
        ));
        assert!(
            sink.len() <= 1000 + 4096,
            "stopped near the limit: {}",
            sink.len()
        );
    }

    #[tokio::test]
    async fn streams_are_bounded_per_line_not_in_total() {
        let (ours, mut theirs) = tokio::io::duplex(4096);
        let mut g = guarded(ours, None, Limit::Line(100));
        let writer = tokio::spawn(async move {
            for _ in 0..100 {
                theirs.write_all(&[b'e'; 50]).await.unwrap();
                theirs.write_all(b"\n").await.unwrap();
            }
            // Then one line that never ends.
            while theirs.write_all(&[b'y'; 64]).await.is_ok() {}
        });
        let mut sink = Vec::new();
        let err = bollard::errors::Error::IOError {
            err: g.read_to_end(&mut sink).await.unwrap_err(),
        };
        assert!(matches!(
            exceeded(&err),
            Some(Exceeded::Size { limit: 100, .. })
        ));
        assert!(
            sink.len() > 1000,
            "short lines passed first: far more than one line's limit"
        );
        writer.abort();
    }
}
