//! Reading every node's certificate: each inventory host's `swarm-node.crt` and
//! `swarm-root-ca.crt` over SSH (the host's sudo setting, a deadline, an output cap), its
//! engine's local swarm state (`GET /info`), and the swarm's CA settings and node list
//! from a manager. Every host is read at once under its own deadline, so one sick host
//! costs one deadline and never holds the others; a failure carries the host and layer.

use std::time::Duration;

use bollard::Docker;
use bollard::models::{LocalNodeState, Node, Swarm, SystemInfo};
use bollard::query_parameters::ListNodesOptions;
use futures_util::future::join_all;
use serde::Serialize;

use crate::cluster::Cluster;
use crate::docker::DockerError;
use crate::inventory::HostSpec;
use crate::redact::redact;
use crate::snapshot::{Layer, NodeInfo, Role};
use crate::ssh::{RemoteCommand, SshError};

use super::{CertInfo, MAX_CERT_FILE, NODE_CERT, ROOT_CA, parse_first};

/// Where engines keep their data unless configured otherwise.
const DEFAULT_DATA_ROOT: &str = "/var/lib/docker";

/// A failed part of a host's read, with the layer it failed at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadFailure {
    pub layer: Layer,
    pub message: String,
}

impl ReadFailure {
    fn ssh(e: &SshError) -> Self {
        ReadFailure {
            layer: e.layer(),
            message: redact(&e.to_string()).into_owned(),
        }
    }

    fn docker(e: &DockerError) -> Self {
        ReadFailure {
            layer: e.layer(),
            message: redact(&e.to_string()).into_owned(),
        }
    }
}

/// What the engine on a host says of its own swarm membership (`GET /info` → `Swarm`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LocalNode {
    /// `active`, `pending`, `error`, `inactive`, `locked`.
    pub state: String,
    /// The engine's error for a node that cannot start its swarm part (host text).
    pub error: Option<String>,
    /// The node ID the engine thinks it has (host text).
    pub node_id: Option<String>,
    pub manager: bool,
}

/// One inventory host's certificates and local state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostCerts {
    pub host: String,
    pub local: Option<LocalNode>,
    /// The node's own certificate (the first of `swarm-node.crt`).
    pub node_cert: Option<CertInfo>,
    /// The root it trusts (the first of `swarm-root-ca.crt`).
    pub ca: Option<CertInfo>,
    /// Parts that could not be read (the engine, a file), each with its layer.
    pub failures: Vec<ReadFailure>,
}

/// The swarm's CA as a manager reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SwarmCa {
    /// The inventory host whose engine answered.
    pub answered_by: String,
    pub cluster_id: String,
    /// The spec's version index, which a change is applied at.
    pub version: u64,
    /// `CAConfig.NodeCertExpiry` in seconds (swarm's default when unset).
    pub node_cert_expiry: u64,
    pub force_rotate: u64,
    pub rotation_in_progress: bool,
    /// The swarm's current root CA (`TLSInfo.TrustRoot`).
    pub root: Option<CertInfo>,
}

/// A node as the managers list it, with what certificates care about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeRecord {
    pub id: String,
    pub hostname: String,
    pub role: Role,
    pub ready: bool,
    /// The node's state word (`ready`, `down`, `unknown`, `disconnected`).
    pub state: String,
    /// When the swarm last updated the node's record (seconds since the epoch): for a down
    /// node, when it went down unless its spec was edited since.
    pub updated_at: Option<i64>,
    /// Whether the node reports a certificate from the swarm's current issuer and the
    /// current trust root (`Description.TLSInfo` against the swarm's `TLSInfo`).
    pub on_current_ca: bool,
}

/// Everything `swarmdeck cert ls` shows and the findings are made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertReport {
    /// When it was read (seconds since the epoch).
    pub now: i64,
    pub swarm: Option<SwarmCa>,
    /// Why no manager's view could be read.
    pub swarm_error: Option<String>,
    pub nodes: Vec<NodeRecord>,
    pub hosts: Vec<HostCerts>,
}

impl CertReport {
    /// The host whose certificate names this node (CN = node ID).
    pub fn host_of(&self, node_id: &str) -> Option<&HostCerts> {
        self.hosts.iter().find(|h| {
            h.node_cert
                .as_ref()
                .is_some_and(|c| c.common_name == node_id)
        })
    }
}

/// Reads every host of the cluster's inventory at once, then the swarm from a manager.
pub async fn read(cluster: &Cluster) -> CertReport {
    let hosts = &cluster.inventory().hosts;
    let hosts: Vec<HostCerts> = join_all(hosts.iter().map(|h| read_host_bounded(cluster, h))).await;
    let managers: Vec<&str> = hosts
        .iter()
        .filter(|h| h.local.as_ref().is_some_and(|l| l.manager))
        .map(|h| h.host.as_str())
        .collect();
    let (swarm, nodes, swarm_error) = match read_swarm(cluster, &managers).await {
        Ok((ca, nodes)) => (Some(ca), nodes, None),
        Err(e) => (None, Vec::new(), Some(e)),
    };
    CertReport {
        now: crate::snapshot::now_secs() as i64,
        swarm,
        swarm_error,
        nodes,
        hosts,
    }
}

async fn read_host_bounded(cluster: &Cluster, h: &HostSpec) -> HostCerts {
    let d = cluster.deadlines();
    // Connect, log in, `GET /info` and two file reads.
    let budget = d.host_budget() + d.request * 2;
    match tokio::time::timeout(budget, read_host(cluster, h)).await {
        Ok(read) => read,
        Err(_) => HostCerts {
            host: h.name.clone(),
            local: None,
            node_cert: None,
            ca: None,
            failures: vec![ReadFailure {
                layer: Layer::Ssh,
                message: format!(
                    "{}: reading the certificates took longer than {}",
                    h.name,
                    crate::limits::human(budget)
                ),
            }],
        },
    }
}

async fn read_host(cluster: &Cluster, h: &HostSpec) -> HostCerts {
    let mut out = HostCerts {
        host: h.name.clone(),
        local: None,
        node_cert: None,
        ca: None,
        failures: Vec::new(),
    };
    let session = match cluster.pool().session(h).await {
        Ok(s) => s,
        Err(e) => {
            out.failures.push(ReadFailure::ssh(&e));
            return out;
        }
    };
    let mut root = DEFAULT_DATA_ROOT.to_string();
    match engine_info(cluster, h).await {
        Ok(info) => {
            out.local = Some(local_node(&info));
            if let Some(r) = info.docker_root_dir.filter(|r| usable_root(r)) {
                root = r;
            }
        }
        Err(e) => out.failures.push(ReadFailure::docker(&e)),
    }
    let timeout = cluster.deadlines().request * 2;
    let file = |rel: &str| {
        RemoteCommand::new(["cat", "--", &format!("{root}/{rel}")])
            .sudo(h.sudo)
            .timeout(timeout)
            .max_output(MAX_CERT_FILE)
    };
    let (node_cmd, ca_cmd) = (file(NODE_CERT), file(ROOT_CA));
    let (node, ca) = tokio::join!(session.exec(&node_cmd), session.exec(&ca_cmd));
    let not_in_swarm = out.local.as_ref().is_some_and(|l| l.state == "inactive");
    for (res, rel, slot) in [
        (node, NODE_CERT, &mut out.node_cert),
        (ca, ROOT_CA, &mut out.ca),
    ] {
        let what = format!("{}: {root}/{rel}", h.name);
        match res {
            Ok(o) if o.success() => match parse_first(&o.stdout, &what) {
                Ok(c) => *slot = Some(c),
                Err(e) => out.failures.push(ReadFailure {
                    layer: Layer::Swarm,
                    message: e.to_string(),
                }),
            },
            // A host that is in no swarm has no certificates: nothing failed.
            Ok(_) if not_in_swarm => {}
            Ok(o) => out.failures.push(file_failure(&what, &o.stderr_lossy())),
            Err(e) => out.failures.push(ReadFailure::ssh(&e)),
        }
    }
    out
}

/// A certificate file `cat` could not read: missing is the swarm's layer (the host is in
/// no swarm, or its engine keeps its data elsewhere); anything else (a permission refused
/// to the SSH user) the SSH login's.
fn file_failure(what: &str, stderr: &str) -> ReadFailure {
    let stderr = stderr.trim();
    ReadFailure {
        layer: if stderr.contains("No such file") {
            Layer::Swarm
        } else {
            Layer::Ssh
        },
        message: format!(
            "{what}: cannot read it: {}",
            crate::untrusted::visible(stderr)
        ),
    }
}

async fn engine_info(cluster: &Cluster, h: &HostSpec) -> Result<SystemInfo, DockerError> {
    let d = cluster.engine(h).await?;
    match d.info().await {
        Ok(info) => Ok(info),
        Err(e) => Err(DockerError::explain(&h.name, &d, e).await),
    }
}

/// An engine's data root as a path to read under: absolute, printable, no `..`.
fn usable_root(root: &str) -> bool {
    root.starts_with('/')
        && !crate::untrusted::has_control(root)
        && !root.split('/').any(|part| part == "..")
}

/// The engine's view of its own swarm membership.
pub fn local_node(info: &SystemInfo) -> LocalNode {
    let s = info.swarm.as_ref();
    let state = match s.and_then(|s| s.local_node_state.as_ref()) {
        Some(LocalNodeState::ACTIVE) => "active",
        Some(LocalNodeState::PENDING) => "pending",
        Some(LocalNodeState::ERROR) => "error",
        Some(LocalNodeState::LOCKED) => "locked",
        _ => "inactive",
    };
    LocalNode {
        state: state.into(),
        error: s
            .and_then(|s| s.error.clone())
            .filter(|e| !e.trim().is_empty()),
        node_id: s.and_then(|s| s.node_id.clone()).filter(|n| !n.is_empty()),
        manager: s.and_then(|s| s.control_available).unwrap_or(false),
    }
}

/// The swarm's CA settings and its nodes from the first manager that answers.
async fn read_swarm(
    cluster: &Cluster,
    managers: &[&str],
) -> Result<(SwarmCa, Vec<NodeRecord>), String> {
    let mut why = "no inventory host is a manager that answers".to_string();
    for host in managers {
        let Some(h) = cluster.inventory().host(host) else {
            continue;
        };
        let d = match cluster.engine(h).await {
            Ok(d) => d,
            Err(e) => {
                why = e.to_string();
                continue;
            }
        };
        match swarm_view(&d, host).await {
            Ok(v) => return Ok(v),
            Err(e) => why = DockerError::explain(host, &d, e).await.to_string(),
        }
    }
    Err(redact(&why).into_owned())
}

async fn swarm_view(
    d: &Docker,
    host: &str,
) -> Result<(SwarmCa, Vec<NodeRecord>), bollard::errors::Error> {
    let (swarm, nodes) = tokio::join!(d.inspect_swarm(), d.list_nodes(None::<ListNodesOptions>));
    let swarm = swarm?;
    let nodes = crate::docker::lenient::list(nodes)?;
    let ca = swarm_ca(host, &swarm);
    let current = swarm.tls_info.clone().unwrap_or_default();
    let mut records: Vec<NodeRecord> = nodes
        .iter()
        .map(|n| {
            let info = crate::snapshot::node_from_lenient(n);
            node_record(&info, &n.value, &current)
        })
        .collect();
    records.sort_by(|a, b| {
        (a.role != Role::Manager, &a.hostname).cmp(&(b.role != Role::Manager, &b.hostname))
    });
    Ok((ca, records))
}

/// The CA part of `GET /swarm`.
pub fn swarm_ca(host: &str, swarm: &Swarm) -> SwarmCa {
    let ca = swarm.spec.as_ref().and_then(|s| s.ca_config.as_ref());
    SwarmCa {
        answered_by: host.to_string(),
        cluster_id: swarm.id.clone().unwrap_or_default(),
        version: swarm.version.as_ref().and_then(|v| v.index).unwrap_or(0),
        node_cert_expiry: ca
            .and_then(|c| c.node_cert_expiry)
            .filter(|n| *n > 0)
            .map_or(super::DEFAULT_EXPIRY_SECS, |n| {
                Duration::from_nanos(n as u64).as_secs()
            }),
        force_rotate: ca.and_then(|c| c.force_rotate).unwrap_or(0),
        rotation_in_progress: swarm.root_rotation_in_progress.unwrap_or(false),
        root: swarm
            .tls_info
            .as_ref()
            .and_then(|t| t.trust_root.as_deref())
            .and_then(|pem| parse_first(pem.as_bytes(), "the swarm's trust root").ok()),
    }
}

fn node_record(info: &NodeInfo, node: &Node, current: &bollard::models::TlsInfo) -> NodeRecord {
    let tls = node
        .description
        .as_ref()
        .and_then(|d| d.tls_info.clone())
        .unwrap_or_default();
    NodeRecord {
        id: info.id.clone(),
        hostname: info.hostname.clone(),
        role: info.role,
        ready: info.is_ready(),
        state: info.state.as_str().to_string(),
        updated_at: node
            .updated_at
            .as_deref()
            .and_then(crate::workloads::log_lines::parse_time)
            .map(|ns| (ns / 1_000_000_000) as i64),
        on_current_ca: super::rotation::follows(&tls, current),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_the_swarms_layer_a_refused_one_the_logins() {
        let missing = file_failure(
            "node3: /var/lib/docker/swarm/certificates/swarm-node.crt",
            "cat: /var/lib/docker/swarm/certificates/swarm-node.crt: No such file or directory\n",
        );
        assert_eq!(missing.layer, Layer::Swarm);
        assert!(missing.message.ends_with("No such file or directory"));
        let refused = file_failure("node3: f", "cat: f: Permission denied\x1b[2J");
        assert_eq!(refused.layer, Layer::Ssh);
        assert!(
            refused.message.contains("Permission denied\\u{1b}[2J"),
            "{}",
            refused.message
        );
    }

    #[test]
    fn only_an_absolute_plain_data_root_is_read_under() {
        assert!(usable_root("/var/lib/docker"));
        assert!(usable_root("/srv/lab/node1/docker"));
        for bad in ["docker", "", "/var/../etc", "/var/lib/docker\n/etc"] {
            assert!(!usable_root(bad), "{bad:?}");
        }
    }
}
