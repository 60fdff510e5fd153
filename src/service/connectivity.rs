//! Service jobs behind the Connectivity panel: a run with live progress and cancel, and
//! the history of earlier runs.

use tokio_util::sync::CancellationToken;

use super::worker::Outbox;
use super::{ConnectivityRequest, Event, Notice};
use crate::cluster::Cluster;
use crate::connectivity::history::History;
use crate::connectivity::{self, Options};

pub(super) async fn run(
    cluster: Cluster,
    request: ConnectivityRequest,
    cancel: CancellationToken,
    out: Outbox,
) {
    let opts = Options {
        network: request.network,
        encrypted: request.encrypted,
        ..Options::default()
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let forward = {
        let out = out.clone();
        tokio::spawn(async move {
            while let Some(p) = rx.recv().await {
                out.send(Event::ConnectivityProgress(p)).await;
            }
        })
    };
    let result = connectivity::run(&cluster, opts, Some(tx), cancel.clone()).await;
    let _ = forward.await;
    // The run is over: a new one may start.
    cancel.cancel();
    match result {
        Ok(report) => {
            save(&report, &out).await;
            out.send(Event::ConnectivityDone(Box::new(report))).await;
        }
        Err(e) => out.send(Event::Notice(Notice::error(e.to_string()))).await,
    }
}

async fn save(report: &connectivity::Report, out: &Outbox) {
    let report = report.clone();
    let saved = tokio::task::spawn_blocking(move || {
        History::default_location()
            .ok_or_else(|| "no data directory for the history".to_string())?
            .save(&report)
            .map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    if let Err(e) = saved {
        out.send(Event::Notice(Notice::error(format!(
            "the run was not kept in the history: {e}"
        ))))
        .await;
    }
}

pub(super) async fn history() -> Vec<Event> {
    let listed = tokio::task::spawn_blocking(|| match History::default_location() {
        Some(h) => h.list().map_err(|e| e.to_string()),
        None => Ok(Vec::new()),
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    match listed {
        Ok(runs) => vec![Event::ConnectivityHistory(
            runs.into_iter().map(|(_, r)| r).collect(),
        )],
        Err(e) => vec![Event::Notice(Notice::error(format!(
            "connectivity history: {e}"
        )))],
    }
}
