//! The service loop: runs commands on the runtime and reports back.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc;

use tokio_util::sync::CancellationToken;

use super::{Command, Event, Notice, RepaintHook, activity, build, connectivity, hosts};
use crate::cluster::Cluster;
use crate::inventory::Inventory;
use crate::snapshot::NodeInfo;
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
        connectivity: None,
        applying: None,
    };
    while let Some(cmd) = commands.recv().await {
        if matches!(cmd, Command::Shutdown) {
            break;
        }
        worker.handle(cmd).await;
    }
}

/// What the service keeps between commands.
struct Worker {
    out: Outbox,
    /// The open cluster, kept so sessions and engine clients are reused (warm refresh).
    cluster: Option<(PathBuf, Cluster)>,
    /// Live updates for the open cluster; replaced when another inventory is opened.
    live: Option<tokio::task::JoinHandle<()>>,
    /// Cancels the connectivity run in progress.
    connectivity: Option<CancellationToken>,
    /// The plan being applied; aborting it stops after the step in flight.
    applying: Option<tokio::task::JoinHandle<()>>,
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
            Command::StartLab { hosts } => {
                let out = out.clone();
                tokio::spawn(async move { start_lab(hosts, out).await });
            }
            Command::Refresh { inventory } => {
                if let Some(c) = self.open(inventory).await {
                    let out = self.out.clone();
                    tokio::spawn(async move { refresh(c, out).await });
                }
            }
            Command::RunConnectivity { request } => self.run_connectivity(request).await,
            Command::CancelConnectivity => {
                if let Some(token) = &self.connectivity {
                    token.cancel();
                }
            }
            Command::LoadConnectivityHistory => spawn(out, connectivity::history()),
            Command::Preflight => {
                if let Some(c) = self.require_cluster().await {
                    spawn(&self.out, build::preflight(c));
                }
            }
            Command::ApplyFirewall { plans, persist } => {
                if let Some(c) = self.require_cluster().await {
                    spawn(&self.out, build::apply_firewall(c, plans, persist));
                }
            }
            Command::PlanBootstrap { opts } => {
                if let Some(c) = self.require_cluster().await {
                    spawn(&self.out, build::plan_bootstrap(c, opts));
                }
            }
            Command::PlanNodeAction { node_id, op, force } => {
                if let Some(c) = self.require_cluster().await {
                    spawn(&self.out, build::plan_node(c, node_id, op, force));
                }
            }
            Command::PlanNetwork { spec } => {
                if let Some(c) = self.require_cluster().await {
                    spawn(&self.out, build::plan_network(c, spec));
                }
            }
            Command::ApplyPlan { purpose, plan } => {
                if let Some(c) = self.require_cluster().await {
                    let out = self.out.clone();
                    let task = tokio::spawn(build::apply_plan(c, purpose, plan, out));
                    if let Some(old) = self.applying.replace(task) {
                        old.abort();
                    }
                }
            }
            Command::CancelApply => {
                if let Some(task) = self.applying.take() {
                    task.abort();
                    let msg = "stopped; steps already done stay done, plan again to resume";
                    self.out.send(Event::Notice(Notice::info(msg))).await;
                    self.out
                        .send(Event::Applied {
                            purpose: super::PlanPurpose::Bootstrap,
                            result: Err("cancelled".into()),
                        })
                        .await;
                }
            }
        }
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

    /// The open cluster, or a notice saying one is needed.
    async fn require_cluster(&self) -> Option<Cluster> {
        if let Some((_, c)) = &self.cluster {
            return Some(c.clone());
        }
        let msg = "open an inventory first: this works on the open cluster's hosts";
        self.out.send(Event::Notice(Notice::error(msg))).await;
        None
    }

    async fn run_connectivity(&mut self, request: super::ConnectivityRequest) {
        let Some((_, cluster)) = self.cluster.clone() else {
            let msg = "open an inventory first: the tester runs on the open cluster's hosts";
            self.out.send(Event::Notice(Notice::error(msg))).await;
            return;
        };
        if self
            .connectivity
            .as_ref()
            .is_some_and(|t| !t.is_cancelled())
        {
            let msg = "a connectivity test is already running";
            self.out.send(Event::Notice(Notice::error(msg))).await;
            return;
        }
        let token = CancellationToken::new();
        self.connectivity = Some(token.clone());
        let out = self.out.clone();
        tokio::spawn(async move { connectivity::run(cluster, request, token, out).await });
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
    pub(super) async fn send(&self, event: Event) {
        // A closed channel means the window is gone; nothing left to tell.
        if self.events.send(event).await.is_ok() {
            (self.repaint)();
        }
    }
}

/// Re-snapshots whenever a host reports Docker events, instead of polling. Bursts (a
/// join touches every node) are coalesced into one refresh. Between events every host is
/// asked `GET /_ping` every few seconds: a hung engine or a cut link sends no event, and a
/// view is only as true as its last confirmation. Each confirmation is reported, so the UI
/// can mark data that has not been confirmed for a while.
async fn follow(cluster: Cluster, out: Outbox) {
    const SETTLE: Duration = Duration::from_millis(300);
    let (tx, mut rx) = mpsc::channel(256);
    let _watchers = cluster.watch(tx);
    let mut answering: Option<HashMap<String, bool>> = None;
    let mut nodes: Vec<NodeInfo> = Vec::new();
    let mut troubled = false;
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            got = rx.recv() => {
                if got.is_none() {
                    return;
                }
                tokio::time::sleep(SETTLE).await;
                while rx.try_recv().is_ok() {}
            }
            _ = tick.tick() => {
                let (now, listed) = tokio::join!(cluster.check_hosts(), cluster.check_nodes());
                let changed = answering.as_ref() != Some(&now)
                    || listed.is_some_and(|l| l != nodes);
                answering = Some(now);
                if !changed && !troubled {
                    out.send(Event::Confirmed { at: crate::snapshot::now_secs() }).await;
                    continue;
                }
            }
        }
        let snap = cluster.snapshot().await;
        troubled = is_troubled(&snap);
        // As the managers list them: without swarmdeck's own observations.
        nodes = snap
            .nodes
            .iter()
            .map(|n| NodeInfo {
                observed_down: None,
                ..n.clone()
            })
            .collect();
        out.send(Event::Snapshot(Box::new(snap))).await;
    }
}

/// How often a live view confirms that every host still answers.
const HEARTBEAT: Duration = Duration::from_secs(2);

/// A snapshot with failing hosts or an unreadable swarm is taken again at every heartbeat:
/// its "since" figures age, and it recovers as soon as the hosts do.
fn is_troubled(snap: &crate::snapshot::ClusterSnapshot) -> bool {
    snap.failed_hosts().next().is_some() || snap.swarm_error.is_some()
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
