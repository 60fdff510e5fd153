//! A connected cluster: the inventory's hosts, one SSH session and one Docker engine
//! client per host (reused across refreshes), and the snapshot taken through them.

use std::collections::HashMap;
use std::sync::Arc;

use bollard::Docker;
use bollard::query_parameters::{
    EventsOptionsBuilder, InspectNetworkOptions, ListNetworksOptions, ListNodesOptions,
};
use futures_util::StreamExt;
use futures_util::future::join_all;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinSet;

use crate::docker::{DockerError, DockerHost};
use crate::inventory::{HostSpec, Inventory};
use crate::snapshot::{self, ClusterSnapshot, HostStatus, NetworkInfo, SwarmSummary};
use crate::ssh::{SecretSource, SshOptions, SshPool};

/// Connections to every host of an inventory. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    inventory: Arc<Inventory>,
    source: String,
    pool: SshPool,
    engines: Arc<Mutex<HashMap<String, Docker>>>,
}

impl Cluster {
    pub fn new(
        inventory: Inventory,
        source: impl Into<String>,
        opts: SshOptions,
        secrets: Arc<dyn SecretSource>,
    ) -> Self {
        Self {
            inventory: Arc::new(inventory),
            source: source.into(),
            pool: SshPool::new(opts, secrets),
            engines: Arc::default(),
        }
    }

    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    pub fn pool(&self) -> &SshPool {
        &self.pool
    }

    /// The host's engine client, connecting (SSH, then Docker) on first use.
    pub async fn engine(&self, host: &HostSpec) -> Result<Docker, DockerError> {
        // Reuse the engine client while its SSH session is alive.
        if let Some(d) = self.engines.lock().await.get(&host.name)
            && self.pool.cached(&host.name).is_some()
        {
            return Ok(d.clone());
        }
        let session = self.pool.session(host).await?;
        let docker = DockerHost::connect(&session).await?;
        self.engines
            .lock()
            .await
            .insert(host.name.clone(), docker.clone());
        Ok(docker)
    }

    /// Forgets a host's engine so the next call reconnects (after an error).
    async fn forget(&self, host: &str) {
        self.engines.lock().await.remove(host);
    }

    /// Connects to all hosts in parallel and gathers a snapshot. Hosts that fail are
    /// recorded with their error; the rest of the snapshot is still filled in.
    pub async fn snapshot(&self) -> ClusterSnapshot {
        let mut snap = ClusterSnapshot::empty(self.source.clone());
        let probes = join_all(self.inventory.hosts.iter().map(|h| self.probe_host(h))).await;
        let mut live: Vec<(&HostSpec, Docker, HostStatus)> = Vec::new();
        for (host, probe) in self.inventory.hosts.iter().zip(probes) {
            match probe {
                Ok((docker, status)) => live.push((host, docker, status)),
                Err(e) => {
                    self.forget(&host.name).await;
                    snap.hosts.push(failed(host, &e.to_string()));
                }
            }
        }
        if let Some((host, docker)) = pick_manager(&live) {
            self.read_swarm(&mut snap, host, &docker).await;
        }
        attach_containers(&mut snap, &live).await;
        snap.hosts.extend(live.into_iter().map(|(_, _, s)| s));
        snap.hosts
            .sort_by_key(|h| self.inventory.hosts.iter().position(|i| i.name == h.host));
        snap
    }

    /// Watches every host's Docker events (nodes, networks, containers) and sends the
    /// host's name on `changed` whenever something happened there. Each host's stream is
    /// re-opened after a pause when it breaks. Dropping the returned set stops watching.
    pub fn watch(&self, changed: mpsc::Sender<String>) -> JoinSet<()> {
        let mut set = JoinSet::new();
        for host in self.inventory.hosts.clone() {
            let cluster = self.clone();
            let changed = changed.clone();
            set.spawn(async move { cluster.watch_host(host, changed).await });
        }
        set
    }

    async fn watch_host(&self, host: HostSpec, changed: mpsc::Sender<String>) {
        const RETRY: std::time::Duration = std::time::Duration::from_secs(3);
        let filters: HashMap<&str, Vec<&str>> =
            [("type", vec!["node", "network", "container"])].into();
        loop {
            if let Ok(docker) = self.engine(&host).await {
                let opts = EventsOptionsBuilder::new().filters(&filters).build();
                let mut events = docker.events(Some(opts));
                while let Some(ev) = events.next().await {
                    if ev.is_err() || changed.send(host.name.clone()).await.is_err() {
                        break;
                    }
                }
                if changed.is_closed() {
                    return;
                }
                // The stream broke: the host or its engine went away. Say so once, so the
                // next snapshot shows it, then keep trying.
                self.forget(&host.name).await;
                let _ = changed.send(host.name.clone()).await;
            }
            tokio::time::sleep(RETRY).await;
        }
    }

    async fn probe_host(&self, host: &HostSpec) -> Result<(Docker, HostStatus), DockerError> {
        let docker = self.engine(host).await?;
        let info = docker.info().await.map_err(|source| DockerError::Api {
            host: host.name.clone(),
            source,
        })?;
        Ok((
            docker,
            snapshot::host_from_info(&host.name, &host.address, &info),
        ))
    }

    async fn read_swarm(&self, snap: &mut ClusterSnapshot, host: &HostSpec, docker: &Docker) {
        // Independent requests, each on its own SSH channel: one round trip, not three.
        let (nodes, networks, swarm) = tokio::join!(
            docker.list_nodes(None::<ListNodesOptions>),
            docker.list_networks(None::<ListNetworksOptions>),
            docker.inspect_swarm(),
        );
        match (nodes, networks) {
            (Ok(nodes), Ok(networks)) => {
                snap.nodes = nodes.iter().map(snapshot::node_from_api).collect();
                snap.nodes.sort_by(|a, b| a.hostname.cmp(&b.hostname));
                snap.networks = networks
                    .iter()
                    .filter(|n| n.scope.as_deref() == Some("swarm"))
                    .map(snapshot::network_from_api)
                    .collect();
                snap.networks.sort_by(|a, b| a.name.cmp(&b.name));
                let swarm = swarm.ok();
                let cluster_id = swarm
                    .as_ref()
                    .and_then(|s| s.id.clone())
                    .unwrap_or_default();
                snap.swarm = Some(SwarmSummary {
                    cluster_id,
                    created_at: swarm.and_then(|s| s.created_at),
                    answered_by: host.name.clone(),
                });
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(host = %host.name, error = %e, "manager could not list the swarm");
            }
        }
    }
}

fn failed(host: &HostSpec, error: &str) -> HostStatus {
    HostStatus {
        host: host.name.clone(),
        address: host.address.clone(),
        engine_name: None,
        engine_version: None,
        swarm_state: None,
        node_id: None,
        control_available: false,
        error: Some(crate::redact::redact(error).into_owned()),
    }
}

/// The first host that is an active manager able to answer for the cluster.
fn pick_manager<'a>(live: &[(&'a HostSpec, Docker, HostStatus)]) -> Option<(&'a HostSpec, Docker)> {
    live.iter()
        .find(|(_, _, s)| s.control_available)
        .map(|(h, d, _)| (*h, d.clone()))
}

/// Each host only sees its own containers on an overlay; ask every live host in parallel.
async fn attach_containers(snap: &mut ClusterSnapshot, live: &[(&HostSpec, Docker, HostStatus)]) {
    let overlays: Vec<String> = snap
        .networks
        .iter()
        .filter(|n| n.driver == "overlay" && !n.ingress)
        .map(|n| n.id.clone())
        .collect();
    let asks = live.iter().flat_map(|(h, d, s)| {
        let node = s.engine_name.clone().unwrap_or_else(|| h.name.clone());
        overlays.iter().map(move |id| {
            let d = d.clone();
            let node = node.clone();
            let id = id.clone();
            async move {
                let found = d
                    .inspect_network(&id, None::<InspectNetworkOptions>)
                    .await
                    .map(|n| snapshot::attached_from_inspect(&node, &n))
                    .unwrap_or_default();
                (id, found)
            }
        })
    });
    for (id, found) in join_all(asks).await {
        if let Some(net) = snap
            .networks
            .iter_mut()
            .find(|n: &&mut NetworkInfo| n.id == id)
        {
            net.containers.extend(found);
        }
    }
    for net in &mut snap.networks {
        net.containers
            .sort_by(|a, b| (&a.node, &a.name).cmp(&(&b.node, &b.name)));
    }
}
