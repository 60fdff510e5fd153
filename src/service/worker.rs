//! The service loop: runs commands on the runtime and reports back.

use std::path::{Path, PathBuf};

use tokio::sync::mpsc;

use super::{Command, Event, Notice, RepaintHook, activity, hosts};
use crate::cluster::Cluster;
use crate::inventory::Inventory;
use crate::snapshot::ClusterSnapshot;
use crate::ssh::{HostKeyPolicy, SshOptions};

pub(super) async fn run(
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<Event>,
    repaint: RepaintHook,
) {
    let out = Outbox { events, repaint };
    // Kept between refreshes so sessions and engine clients are reused (warm refresh).
    let mut cluster: Option<(PathBuf, Cluster)> = None;
    // Live updates for the open cluster; replaced when another inventory is opened.
    let mut live: Option<tokio::task::JoinHandle<()>> = None;
    while let Some(cmd) = commands.recv().await {
        match cmd {
            Command::Shutdown => break,
            Command::OpenSnapshot { path } => {
                let out = out.clone();
                tokio::spawn(async move { open_snapshot(path, out).await });
            }
            Command::LoadInventory { path } => spawn(&out, hosts::load_inventory(path)),
            Command::SaveInventory { path, inventory } => {
                spawn(&out, hosts::save_inventory(path, *inventory))
            }
            Command::TestHost {
                host,
                known_hosts,
                policy,
            } => spawn(&out, hosts::test_host(*host, known_hosts, policy)),
            Command::StoreSecret { key, secret } => spawn(&out, hosts::store_secret(key, secret)),
            Command::ImportHosts { from } => spawn(&out, hosts::import(from)),
            Command::PickFile { purpose } => spawn(&out, hosts::pick_file(purpose)),
            Command::LoadAudit => spawn(&out, activity::load()),
            Command::ExportAudit => spawn(&out, activity::export()),
            Command::StartLab { hosts } => {
                let out = out.clone();
                tokio::spawn(async move { start_lab(hosts, out).await });
            }
            Command::Refresh { inventory } => {
                let reuse = cluster.as_ref().filter(|(p, _)| *p == inventory);
                let c = match reuse {
                    Some((_, c)) => c.clone(),
                    None => match open_cluster(&inventory) {
                        Ok(c) => {
                            cluster = Some((inventory, c.clone()));
                            if let Some(old) =
                                live.replace(tokio::spawn(follow(c.clone(), out.clone())))
                            {
                                old.abort();
                            }
                            c
                        }
                        Err(e) => {
                            out.send(Event::Notice(Notice::error(e))).await;
                            continue;
                        }
                    },
                };
                let out = out.clone();
                tokio::spawn(async move { refresh(c, out).await });
            }
        }
    }
}

/// Runs a job on the runtime and sends its events, in order.
fn spawn<F>(out: &Outbox, job: F)
where
    F: std::future::Future<Output = Vec<Event>> + Send + 'static,
{
    let out = out.clone();
    tokio::spawn(async move {
        for event in job.await {
            out.send(event).await;
        }
    });
}

#[derive(Clone)]
pub(super) struct Outbox {
    events: mpsc::Sender<Event>,
    repaint: RepaintHook,
}

impl Outbox {
    async fn send(&self, event: Event) {
        // A closed channel means the window is gone; nothing left to tell.
        if self.events.send(event).await.is_ok() {
            (self.repaint)();
        }
    }
}

async fn open_snapshot(path: PathBuf, out: Outbox) {
    let result = tokio::fs::read_to_string(&path)
        .await
        .map_err(|e| e.to_string())
        .and_then(|text| ClusterSnapshot::from_json(&text).map_err(|e| e.to_string()));
    match result {
        Ok(snap) => out.send(Event::Snapshot(Box::new(snap))).await,
        Err(e) => {
            out.send(Event::Notice(Notice::error(format!(
                "cannot open snapshot {}: {e}",
                path.display()
            ))))
            .await
        }
    }
}

/// Re-snapshots whenever a host reports Docker events, instead of polling. Bursts (a
/// join touches every node) are coalesced into one refresh.
async fn follow(cluster: Cluster, out: Outbox) {
    const SETTLE: std::time::Duration = std::time::Duration::from_millis(300);
    let (tx, mut rx) = mpsc::channel(256);
    let _watchers = cluster.watch(tx);
    while rx.recv().await.is_some() {
        tokio::time::sleep(SETTLE).await;
        while rx.try_recv().is_ok() {}
        let snap = cluster.snapshot().await;
        out.send(Event::Snapshot(Box::new(snap))).await;
    }
}

/// The practice lab named "practice": reused when it is already running.
async fn start_lab(hosts: usize, out: Outbox) {
    use crate::lab::{self, LabError, LabSpec};
    out.send(Event::Busy {
        what: format!("starting a practice lab of {hosts} hosts"),
    })
    .await;
    let result = tokio::task::spawn_blocking(move || {
        let spec = LabSpec::new(lab::DEFAULT_NAME, hosts);
        match lab::up(&spec) {
            Err(LabError::NameInUse { .. }) => lab::load(lab::DEFAULT_NAME),
            other => other,
        }
    })
    .await;
    let done = match result {
        Ok(Ok(lab)) => Event::LabReady {
            inventory: lab.inventory,
        },
        Ok(Err(e)) => Event::Notice(Notice::error(format!("practice lab: {e}"))),
        Err(e) => Event::Notice(Notice::error(format!("practice lab: {e}"))),
    };
    out.send(done).await;
    out.send(Event::Idle).await;
}

fn open_cluster(path: &Path) -> Result<Cluster, String> {
    let inventory = Inventory::load(path).map_err(|e| e.to_string())?;
    let opts = SshOptions::for_inventory(&inventory, HostKeyPolicy::Strict);
    let source = path.display().to_string();
    Ok(Cluster::new(
        inventory,
        source,
        opts,
        crate::secrets::ssh_source(),
    ))
}

async fn refresh(cluster: Cluster, out: Outbox) {
    let n = cluster.inventory().hosts.len();
    out.send(Event::Busy {
        what: format!("taking a snapshot of {n} host(s)"),
    })
    .await;
    let snap = cluster.snapshot().await;
    for h in snap.failed_hosts() {
        let text = h.error.clone().unwrap_or_default();
        out.send(Event::Notice(Notice::error(text))).await;
    }
    out.send(Event::Snapshot(Box::new(snap))).await;
    out.send(Event::Idle).await;
}
