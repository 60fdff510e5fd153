//! `swarmdeck logs SERVICE|TASK`: each task's output read from the node that runs it,
//! merged in time order, like `docker service logs --timestamps`, and still there when a
//! manager or another node is gone.

use std::io::Write;
use std::path::Path;

use anyhow::anyhow;
use tokio::sync::mpsc;

use crate::untrusted::visible as v;
use crate::workloads::log_lines::{LogLine, parse_since};
use crate::workloads::logs::{self, LogEvent, LogRequest};

use super::target::TargetArgs;

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// A service's name or ID, or a task's ID (or unique prefix) or name (SERVICE.SLOT).
    pub target: String,
    /// Keep printing new lines until Ctrl-C.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only lines since then: a duration back from now (90s, 10m, 1h30m, 2d), an RFC 3339
    /// time, or seconds since the epoch.
    #[arg(long, value_name = "DURATION|TIMESTAMP")]
    pub since: Option<String>,
    /// Only the last N lines of each task.
    #[arg(long, value_name = "N")]
    pub tail: Option<u64>,
    /// One JSON object per line: time, node, task, task_id, stream, line.
    #[arg(long)]
    pub json: bool,
}

/// Prints the lines as they come and a line on stderr for each node whose lines are
/// missing; fails (exit 1) at the end when any are, unless stopped by Ctrl-C or SIGTERM.
pub fn run(
    args: LogsArgs,
    target: &TargetArgs,
    inventory: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let since = match args.since.as_deref() {
        Some(s) => Some(parse_since(s, crate::snapshot::now_secs()).ok_or_else(|| {
            anyhow!(
                "--since {}: give a duration (10m, 1h30m), an RFC 3339 time or seconds since \
                 the epoch",
                v(s)
            )
        })?),
        None => None,
    };
    let cluster = super::bootstrap::connect(target, inventory)?;
    let req = LogRequest {
        target: args.target,
        follow: args.follow,
        since,
        tail: args.tail,
    };
    let json = args.json;
    rt.block_on(async move {
        let (tx, rx) = mpsc::channel(1024);
        let both = async { tokio::join!(logs::logs(&cluster, &req, tx), print(rx, json)) };
        let (read, missing) = tokio::select! {
            done = both => done,
            _ = stopped() => return Ok(()),
        };
        read.map_err(|e| anyhow!("{}", v(&e.to_string())))?;
        if missing > 0 {
            anyhow::bail!("the logs of {missing} node(s) or task(s) are missing (see above)");
        }
        Ok(())
    })
}

/// Ctrl-C, or SIGTERM (from `timeout`, a service manager).
async fn stopped() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

/// Prints every event; the number of notices (missing lines).
async fn print(mut rx: mpsc::Receiver<LogEvent>, json: bool) -> usize {
    let mut missing = 0;
    let mut broken = false;
    while let Some(event) = rx.recv().await {
        match event {
            LogEvent::Line(l) if !broken => {
                let text = if json {
                    let raw = serde_json::to_string(&l).unwrap_or_default();
                    crate::untrusted::inert_json(&raw).into_owned()
                } else {
                    render(&l)
                };
                // A closed pipe (`| head`) ends the output, not the program with a panic.
                let mut out = std::io::stdout().lock();
                broken = writeln!(out, "{text}").and_then(|_| out.flush()).is_err();
            }
            LogEvent::Line(_) => {}
            LogEvent::Notice(n) => {
                missing += 1;
                eprintln!("{}", v(&n.to_string()));
            }
        }
    }
    missing
}

/// `TIME NODE TASK | line`, every part made inert.
pub fn render(l: &LogLine) -> String {
    format!(
        "{} {} {} | {}",
        v(&l.time),
        v(&l.node),
        v(&l.task),
        v(&l.line)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workloads::log_lines::Stream;

    #[test]
    fn a_line_from_a_container_cannot_control_the_terminal() {
        let l = LogLine {
            time: "2026-11-30T22:48:41.000000001Z".into(),
            at: 1,
            node: "node1".into(),
            task: "web.1".into(),
            task_id: "abc".into(),
            stream: Stream::Stderr,
            line: "ok\x1b[2J\rforged\u{9b}31m".into(),
        };
        assert_eq!(
            render(&l),
            "2026-11-30T22:48:41.000000001Z node1 web.1 | ok\\u{1b}[2J\\rforged\\u{9b}31m"
        );
        let raw = serde_json::to_string(&l).unwrap();
        let json = crate::untrusted::inert_json(&raw);
        assert!(!crate::untrusted::has_control(&json), "{json}");
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["line"], l.line, "JSON keeps the text exactly");
        assert_eq!(back["stream"], "stderr");
    }
}
