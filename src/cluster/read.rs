//! What one manager says about the swarm (nodes, networks, identity, workloads) and what
//! each host says about the overlays it is attached to: the Engine API reads a snapshot is
//! made of, each under its channel's deadline and size limit.

use bollard::Docker;
use bollard::models::NetworkInspect;
use bollard::query_parameters::{
    InspectNetworkOptions, ListConfigsOptions, ListNetworksOptions, ListNodesOptions,
    ListSecretsOptions, ListServicesOptions, ListTasksOptions,
};
use futures_util::future::join_all;

use crate::docker::{DockerError, lenient};
use crate::inventory::HostSpec;
use crate::snapshot::{self, ClusterSnapshot, NetworkInfo, NodeInfo, SwarmSummary};

/// The swarm as one manager sees it.
pub(super) struct SwarmView {
    pub(super) swarm: SwarmSummary,
    pub(super) nodes: Vec<NodeInfo>,
    pub(super) networks: Vec<NetworkInfo>,
    /// Or why they could not be read (the nodes still count).
    pub(super) workloads: Result<Workloads, String>,
}

/// Services, tasks and the names of secrets and configs, from one manager.
#[derive(Debug, Clone, Default)]
pub(super) struct Workloads {
    pub(super) services: Vec<snapshot::ServiceInfo>,
    pub(super) tasks: Vec<snapshot::TaskInfo>,
    pub(super) secrets: Vec<String>,
    pub(super) configs: Vec<String>,
}

impl Workloads {
    pub(super) fn of(snap: &ClusterSnapshot) -> Workloads {
        Workloads {
            services: snap.services.clone(),
            tasks: snap.tasks.clone(),
            secrets: snap.secrets.clone(),
            configs: snap.configs.clone(),
        }
    }

    pub(super) fn put_into(self, snap: &mut ClusterSnapshot) {
        snap.services = self.services;
        snap.tasks = self.tasks;
        snap.secrets = self.secrets;
        snap.configs = self.configs;
    }
}

/// One host's answer about one overlay (`None`: it could not say, e.g. not attached).
pub(super) struct Inspected {
    pub(super) host: String,
    pub(super) id: String,
    pub(super) network: Option<NetworkInspect>,
}

pub(super) fn overlay_ids(snap: &ClusterSnapshot) -> Vec<String> {
    snap.networks
        .iter()
        .filter(|n| n.driver == "overlay" && !n.ingress)
        .map(|n| n.id.clone())
        .collect()
}

/// Nodes, swarm-scoped networks, the swarm's identity and its workloads from one manager.
pub(super) async fn read_swarm(host: &HostSpec, docker: &Docker) -> Result<SwarmView, String> {
    // Independent requests, each on its own SSH channel (and under its own deadline and
    // size limit): one round trip, not several.
    let (nodes, networks, swarm, workloads) = tokio::join!(
        docker.list_nodes(None::<ListNodesOptions>),
        docker.list_networks(None::<ListNetworksOptions>),
        docker.inspect_swarm(),
        read_workloads(host, docker),
    );
    let (nodes, networks) = match (lenient::list(nodes), networks) {
        (Ok(nodes), Ok(networks)) => (nodes, networks),
        (Err(e), _) | (_, Err(e)) => {
            let e = DockerError::explain(&host.name, docker, e).await;
            tracing::warn!(host = %host.name, error = %e, "manager could not list the swarm");
            return Err(e.to_string());
        }
    };
    let mut nodes: Vec<NodeInfo> = nodes.iter().map(snapshot::node_from_lenient).collect();
    nodes.sort_by(|a, b| a.hostname.cmp(&b.hostname));
    let mut networks: Vec<NetworkInfo> = networks
        .iter()
        .filter(|n| n.scope.as_deref() == Some("swarm"))
        .map(snapshot::network_from_api)
        .collect();
    networks.sort_by(|a, b| a.name.cmp(&b.name));
    let swarm = swarm.ok();
    Ok(SwarmView {
        swarm: SwarmSummary {
            cluster_id: swarm
                .as_ref()
                .and_then(|s| s.id.clone())
                .unwrap_or_default(),
            created_at: swarm.and_then(|s| s.created_at),
            answered_by: host.name.clone(),
        },
        nodes,
        networks,
        workloads,
    })
}

/// Services (with the engine's task counts), tasks, and secret and config names.
async fn read_workloads(host: &HostSpec, docker: &Docker) -> Result<Workloads, String> {
    let with_status = ListServicesOptions {
        status: Some(true),
        ..Default::default()
    };
    let (services, tasks, secrets, configs) = tokio::join!(
        docker.list_services(Some(with_status)),
        docker.list_tasks(None::<ListTasksOptions>),
        docker.list_secrets(None::<ListSecretsOptions>),
        docker.list_configs(None::<ListConfigsOptions>),
    );
    // A newer engine's word costs its field, not the list.
    let services =
        lenient::list(services).map(|v| v.into_iter().map(|s| s.value).collect::<Vec<_>>());
    let tasks = lenient::list(tasks);
    let failed = match (services, tasks, secrets, configs) {
        (Ok(services), Ok(tasks), Ok(secrets), Ok(configs)) => {
            let tasks: Vec<_> = tasks
                .iter()
                .map(snapshot::workloads::task_from_lenient)
                .collect();
            let mut services: Vec<_> = services
                .iter()
                .map(|s| snapshot::workloads::service_from_api(s, &tasks))
                .collect();
            services.sort_by(|a, b| a.name.cmp(&b.name));
            let names = |mut v: Vec<String>| {
                v.sort();
                v
            };
            return Ok(Workloads {
                services,
                tasks,
                secrets: names(
                    secrets
                        .iter()
                        .map(snapshot::workloads::secret_name)
                        .collect(),
                ),
                configs: names(
                    configs
                        .iter()
                        .map(snapshot::workloads::config_name)
                        .collect(),
                ),
            });
        }
        (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => e,
    };
    let e = DockerError::explain(&host.name, docker, failed).await;
    tracing::warn!(host = %host.name, error = %e, "manager could not list the workloads");
    Err(crate::redact::redact(&e.to_string()).into_owned())
}

/// Inspects overlays on hosts, all in parallel: one (host, engine, network id) per ask.
pub(super) async fn inspect_overlays(asks: Vec<(String, Docker, String)>) -> Vec<Inspected> {
    join_all(asks.into_iter().map(|(host, d, id)| async move {
        let network = d
            .inspect_network(&id, None::<InspectNetworkOptions>)
            .await
            .ok();
        Inspected { host, id, network }
    }))
    .await
}
