//! The service loop: runs commands on the runtime and reports back.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc;

use tokio_util::sync::CancellationToken;

use super::jobs::Registry;
use super::{
    Command, Event, Job, JobId, JobUpdate, Notice, RepaintHook, activity, build, connectivity,
    console, hosts, logs,
};
use crate::cluster::{Cluster, Pending};
use crate::inventory::Inventory;
use crate::snapshot::{ClusterSnapshot, NodeInfo};
use crate::ssh::{HostKeyPolicy, SshOptions};

pub(super) async fn run(
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<Event>,
    repaint: RepaintHook,
) {
    let mut worker = Worker {
        out: Outbox { events, repaint },
        cluster: None,
        live: None,
        jobs: Registry::default(),
    };
    while let Some(cmd) = commands.recv().await {
        if matches!(cmd, Command::Shutdown) {
            break;
        }
        worker.handle(cmd).await;
    }
    // Jobs stop at their next safe point; the runtime ends with the process.
    worker.jobs.cancel_all();
}

/// What the service keeps between commands.
struct Worker {
    out: Outbox,
    /// The open cluster, kept so sessions and engine clients are reused (warm refresh).
    cluster: Option<(PathBuf, Cluster)>,
    /// Live updates for the open cluster; replaced when another inventory is opened.
    live: Option<tokio::task::JoinHandle<()>>,
    /// The jobs running now.
    jobs: Registry,
}

impl Worker {
    async fn handle(&mut self, cmd: Command) {
        let out = &self.out;
        match cmd {
            Command::Shutdown => {}
            Command::OpenBundle { path } => spawn(out, activity::open_bundle(path)),
            Command::SaveBundle { bundle } => spawn(out, activity::save_bundle(*bundle)),
            Command::LoadInventory { path } => spawn(out, hosts::load_inventory(path)),
            Command::EditInventory { path, edit } => spawn(out, hosts::edit_inventory(path, *edit)),
            Command::TestHost {
                host,
                known_hosts,
                policy,
            } => spawn(out, hosts::test_host(*host, known_hosts, policy)),
            Command::StoreSecret { key, secret } => spawn(out, hosts::store_secret(key, secret)),
            Command::ImportHosts { from } => spawn(out, hosts::import(from)),
            Command::PickFile { purpose } => spawn(out, hosts::pick_file(purpose)),
            Command::LoadAudit => spawn(out, activity::load()),
            Command::ExportAudit => spawn(out, activity::export()),
            Command::Refresh { inventory } => {
                if let Some(c) = self.open(inventory).await {
                    let out = self.out.clone();
                    tokio::spawn(async move { refresh(c, out).await });
                }
            }
            Command::LoadConnectivityHistory => spawn(out, connectivity::history()),
            Command::Start { id, job } => self.start(id, job).await,
            Command::Cancel { id } => {
                if !self.jobs.cancel(id) {
                    let msg = format!("job {id} has already ended");
                    self.out.send(Event::Notice(Notice::info(msg))).await;
                }
            }
        }
    }

    /// Starts a job unless it conflicts with a running one or needs a cluster that is not
    /// open; either way the job's updates end with [`JobUpdate::Ended`].
    async fn start(&mut self, id: JobId, job: Job) {
        let tx = JobTx {
            id,
            out: self.out.clone(),
        };
        let (kind, what) = (job.kind(), job.describe());
        let cluster = match (&job, &self.cluster) {
            (Job::StartLab { .. }, _) => None,
            (_, Some((_, c))) => Some(c.clone()),
            (_, None) => {
                let reason = format!(
                    "not started: {what} needs an open cluster; open an inventory (or start \
                     the practice lab) first"
                );
                tx.refuse(reason).await;
                return;
            }
        };
        let running = match self.jobs.admit(id, kind, &what) {
            Ok(r) => r,
            Err(reason) => return tx.refuse(reason).await,
        };
        tx.send(JobUpdate::Started { kind, what }).await;
        let registry = self.jobs.clone();
        tokio::spawn(async move {
            run_job(job, cluster, running.cancel, &tx).await;
            registry.finish(id);
            tx.send(JobUpdate::Ended).await;
        });
    }

    /// The cluster of `inventory`, reusing the open one; opening another starts watching it.
    async fn open(&mut self, inventory: PathBuf) -> Option<Cluster> {
        if let Some((p, c)) = &self.cluster
            && *p == inventory
        {
            return Some(c.clone());
        }
        match open_cluster(&inventory) {
            Ok(c) => {
                self.cluster = Some((inventory, c.clone()));
                let watcher = tokio::spawn(follow(c.clone(), self.out.clone()));
                if let Some(old) = self.live.replace(watcher) {
                    old.abort();
                }
                Some(c)
            }
            Err(e) => {
                self.out.send(Event::Notice(Notice::error(e))).await;
                None
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

/// Runs a started job to its end. Jobs that change hosts take `cancel` to their steps;
/// read-only ones are simply dropped when cancelled.
async fn run_job(job: Job, cluster: Option<Cluster>, cancel: CancellationToken, tx: &JobTx) {
    let Some(cluster) = cluster else {
        if let Job::StartLab { hosts } = job {
            start_lab(hosts, tx).await;
        }
        return;
    };
    match job {
        Job::Apply { plan, .. } => build::apply_plan(cluster, plan, cancel, tx).await,
        Job::Connectivity(request) => connectivity::run(cluster, request, cancel, tx).await,
        Job::ApplyFirewall { plans, persist } => {
            // Rules are applied host by host in one go: not cut in the middle.
            build::apply_firewall(cluster, plans, persist, tx).await
        }
        Job::Preflight => {
            tokio::select! {
                r = crate::preflight::run(&cluster) => {
                    tx.send(JobUpdate::Preflight(Box::new(r))).await;
                }
                _ = cancel.cancelled() => {}
            }
        }
        Job::Plan(change) => {
            tokio::select! {
                r = crate::swarm::change::plan(&cluster, &change, false) => {
                    tx.send(JobUpdate::Planned(r.map_err(|e| e.failure()))).await;
                }
                _ = cancel.cancelled() => {}
            }
        }
        Job::Logs(request) => logs::run(cluster, request, cancel, tx).await,
        Job::Console(request) => console::run(cluster, request, cancel, tx).await,
        Job::Backups => {
            let rows = tokio::task::spawn_blocking(crate::backup::archive::list_default).await;
            let rows = rows.unwrap_or_else(|e| Err(e.to_string()));
            tx.send(JobUpdate::Backups(rows)).await;
        }
        Job::Doctor(snap) => {
            tokio::select! {
                facts = crate::doctor::gather(&cluster, &snap) => {
                    tx.send(JobUpdate::Doctor(Box::new(facts))).await;
                }
                _ = cancel.cancelled() => {}
            }
        }
        Job::Certs => {
            tokio::select! {
                r = crate::certs::read(&cluster) => {
                    tx.send(JobUpdate::Certs(Box::new(r))).await;
                }
                _ = cancel.cancelled() => {}
            }
        }
        Job::StartLab { .. } => {}
    }
}

/// Where a job sends its updates.
#[derive(Clone)]
pub(super) struct JobTx {
    id: JobId,
    out: Outbox,
}

impl JobTx {
    pub(super) async fn send(&self, update: JobUpdate) {
        let id = self.id;
        self.out.send(Event::Job { id, update }).await;
    }

    pub(super) async fn notice(&self, notice: Notice) {
        self.out.send(Event::Notice(notice)).await;
    }

    pub(super) async fn snapshot(&self, snap: crate::snapshot::ClusterSnapshot) {
        self.out.send(Event::Snapshot(Box::new(snap))).await;
    }

    async fn refuse(&self, reason: String) {
        self.send(JobUpdate::Refused { reason }).await;
        self.send(JobUpdate::Ended).await;
    }
}

#[derive(Clone)]
pub(super) struct Outbox {
    events: mpsc::Sender<Event>,
    repaint: RepaintHook,
}

impl Outbox {
    pub(super) async fn send(&self, event: Event) {
        // A closed channel means the window is gone; nothing left to tell.
        if self.events.send(event).await.is_ok() {
            (self.repaint)();
        }
    }
}

/// Follows Docker events instead of polling. Bursts (a join touches every node) are
/// coalesced. A change to services, their tasks' containers or overlay attachments is read
/// again alone (`Cluster::refresh_changed`); anything else, or a view in trouble, means a
/// whole snapshot. A service whose tasks are still on their way (the managers hear of a
/// started container a moment after its event) is read again shortly. Between events
/// every host is asked `GET /_ping` every few seconds: a hung engine or a cut link sends no
/// event, and a view is only as true as its last confirmation. Each confirmation is
/// reported, so the UI can mark data that has not been confirmed for a while.
async fn follow(cluster: Cluster, out: Outbox) {
    const SETTLE: Duration = Duration::from_millis(300);
    let (tx, mut rx) = mpsc::channel(256);
    let _watchers = cluster.watch(tx);
    let mut answering: Option<HashMap<String, bool>> = None;
    let mut last: Option<ClusterSnapshot> = None;
    let mut troubled = false;
    let mut settling = std::collections::BTreeSet::new();
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let mut pending = Pending::default();
        tokio::select! {
            got = rx.recv() => {
                let Some(first) = got else { return };
                pending.add(first);
                tokio::time::sleep(SETTLE).await;
                while let Ok(more) = rx.try_recv() {
                    pending.add(more);
                }
            }
            _ = tokio::time::sleep(SETTLING), if !settling.is_empty() => {
                pending.services = std::mem::take(&mut settling);
            }
            _ = tick.tick() => {
                let (now, listed) = tokio::join!(cluster.check_hosts(), cluster.check_nodes());
                let nodes_changed = listed.is_some_and(|l| last.as_ref().is_none_or(|s| !same_nodes(s, &l)));
                pending.whole = answering.as_ref() != Some(&now) || nodes_changed || troubled;
                answering = Some(now);
                if !pending.whole {
                    out.send(Event::Confirmed { at: crate::snapshot::now_secs() }).await;
                    continue;
                }
            }
        }
        let partial = match &last {
            Some(prev) if !troubled => cluster.refresh_changed(prev, &pending).await,
            _ => None,
        };
        let snap = match partial {
            Some(snap) => {
                out.send(Event::Refreshed {
                    services: pending.services.len(),
                    hosts: pending.attachments.len(),
                })
                .await;
                snap
            }
            None => cluster.snapshot().await,
        };
        troubled = is_troubled(&snap);
        settling = snap.settling_services();
        last = Some(snap.clone());
        out.send(Event::Snapshot(Box::new(snap))).await;
    }
}

/// Whether the managers' node list is the one `snap` holds (without swarmdeck's own
/// observations of nodes gone quiet).
fn same_nodes(snap: &ClusterSnapshot, listed: &[NodeInfo]) -> bool {
    snap.nodes.len() == listed.len()
        && snap.nodes.iter().zip(listed).all(|(a, b)| {
            &NodeInfo {
                observed_down: None,
                ..a.clone()
            } == b
        })
}

/// How soon a live view reads again a service whose tasks are in transition.
const SETTLING: Duration = Duration::from_millis(700);

/// How often a live view confirms that every host still answers.
const HEARTBEAT: Duration = Duration::from_secs(2);

/// A snapshot with failing hosts or an unreadable swarm is taken again at every heartbeat:
/// its "since" figures age, and it recovers as soon as the hosts do.
fn is_troubled(snap: &crate::snapshot::ClusterSnapshot) -> bool {
    snap.failed_hosts().next().is_some() || snap.swarm_error.is_some()
}

/// The practice lab named "practice": reused when it is already running.
async fn start_lab(hosts: usize, tx: &JobTx) {
    use crate::lab::{self, LabError, LabSpec};
    let result = tokio::task::spawn_blocking(move || {
        let spec = LabSpec::new(lab::DEFAULT_NAME, hosts);
        match lab::up(&spec) {
            Err(LabError::NameInUse { .. }) => lab::load(lab::DEFAULT_NAME),
            other => other,
        }
    })
    .await;
    match result {
        Ok(Ok(lab)) => {
            let inventory = lab.inventory;
            tx.send(JobUpdate::LabReady { inventory }).await
        }
        Ok(Err(e)) => tx.notice(Notice::error(format!("practice lab: {e}"))).await,
        Err(e) => tx.notice(Notice::error(format!("practice lab: {e}"))).await,
    }
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
