//! Service jobs behind the Connectivity panel: a run with live progress and cancel, and
//! the history of earlier runs.

use tokio_util::sync::CancellationToken;

use super::worker::JobTx;
use super::{ConnectivityRequest, Event, JobUpdate, Notice};
use crate::cluster::Cluster;
use crate::connectivity::history::History;
use crate::connectivity::{self, Options};
use crate::outcome::Failure;

pub(super) async fn run(
    cluster: Cluster,
    request: ConnectivityRequest,
    cancel: CancellationToken,
    tx: &JobTx,
) {
    let opts = Options {
        network: request.network,
        encrypted: request.encrypted,
        ..Options::default()
    };
    let (progress, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let forward = {
        let jobs = tx.clone();
        tokio::spawn(async move {
            while let Some(p) = rx.recv().await {
                jobs.send(JobUpdate::ConnectivityProgress(p)).await;
            }
        })
    };
    let result = connectivity::run(&cluster, opts, Some(progress), cancel).await;
    let _ = forward.await;
    match result {
        Ok(report) => {
            save(&report, tx).await;
            let done = Ok(Box::new(report));
            tx.send(JobUpdate::ConnectivityDone(done)).await;
        }
        Err(e) => {
            let failure = Failure::failed(e.to_string());
            tx.send(JobUpdate::ConnectivityDone(Err(failure))).await
        }
    }
}

async fn save(report: &connectivity::Report, tx: &JobTx) {
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
        let msg = format!("the run was not kept in the history: {e}");
        tx.notice(Notice::error(msg)).await;
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
