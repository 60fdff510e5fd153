//! The run's first phases, on the hosts themselves: connecting (SSH, engine, swarm
//! state), sweeping what expired runs left while reading firewall and crypto facts, and
//! the TCP checks between hosts on the underlay.

use std::sync::Arc;

use bollard::Docker;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::{Check, HostState, Outcome, Run, UnderlayCheck, now_unix, probe, underlay};
use crate::cluster::Cluster;
use crate::docker::DockerError;
use crate::inventory::HostSpec;
use crate::snapshot::Layer;
use crate::ssh::SshSession;

/// A connected host during a run.
#[derive(Clone)]
pub(super) struct Live {
    pub(super) spec: HostSpec,
    pub(super) session: SshSession,
    pub(super) docker: Docker,
    /// Active swarm member.
    pub(super) swarm: bool,
    pub(super) manager: bool,
    /// Underlay address the swarm uses (advertise address).
    pub(super) addr: String,
}

/// Connects to every host in parallel: SSH, engine, swarm state.
pub(super) async fn connect(cluster: &Cluster, run: &Arc<Run>) {
    let mut set = JoinSet::new();
    for spec in cluster.inventory().hosts.clone() {
        let cluster = cluster.clone();
        // Each step has its own deadline; this only bounds their sum.
        let t = cluster.deadlines().host_budget() + run.opts.exec_timeout;
        set.spawn(async move {
            let r = tokio::time::timeout(t, connect_host(&cluster, &spec)).await;
            let r = r.unwrap_or_else(|_| {
                // A session means SSH got through: what is left is the engine.
                let state = if cluster.pool().cached(&spec.name).is_some() {
                    HostState::EngineDown
                } else {
                    HostState::SshDown
                };
                let layer = if state == HostState::SshDown {
                    "SSH"
                } else {
                    "the Docker engine"
                };
                Err((
                    state,
                    format!(
                        "{}: no answer from {layer} within {}",
                        spec.name,
                        crate::limits::human(t)
                    ),
                ))
            });
            (spec, r)
        });
    }
    while let Some(j) = set.join_next().await {
        let Ok((spec, r)) = j else { continue };
        match r {
            Ok(live) => {
                {
                    let mut rep = run.report.lock().await;
                    if let Some(h) = rep.hosts.iter_mut().find(|h| h.host == spec.name) {
                        h.manager = live.manager;
                        h.node_addr = Some(live.addr.clone());
                    }
                }
                let state = if live.swarm {
                    HostState::Ok
                } else {
                    HostState::NotInSwarm
                };
                run.set_host(&spec.name, state, None).await;
                run.live.lock().await.push(live);
            }
            Err((state, e)) => run.set_host(&spec.name, state, Some(e)).await,
        }
    }
    let mut live = run.live.lock().await;
    let order: Vec<String> = cluster
        .inventory()
        .hosts
        .iter()
        .map(|h| h.name.clone())
        .collect();
    live.sort_by_key(|l| order.iter().position(|n| *n == l.spec.name));
}

async fn connect_host(cluster: &Cluster, spec: &HostSpec) -> Result<Live, (HostState, String)> {
    let session = cluster
        .pool()
        .session(spec)
        .await
        .map_err(|e| (HostState::SshDown, e.to_string()))?;
    let failed = |e: DockerError| {
        let state = match e.layer() {
            Layer::Network | Layer::Ssh => HostState::SshDown,
            _ => HostState::EngineDown,
        };
        (state, e.to_string())
    };
    let docker = cluster.engine(spec).await.map_err(failed)?;
    let info = docker
        .info()
        .await
        .map_err(|e| failed(DockerError::api(&spec.name, e)))?;
    let swarm = info.swarm.as_ref();
    let active = swarm
        .and_then(|s| s.local_node_state)
        .is_some_and(|s| s == bollard::models::LocalNodeState::ACTIVE);
    // The address the engine reports for itself is used only when it is an IP address.
    let reported = swarm
        .and_then(|s| s.node_addr.as_deref())
        .filter(|a| !a.is_empty());
    let addr = match reported.map(underlay::checked_address) {
        Some(Ok(ip)) => ip.to_string(),
        Some(Err(_)) | None => {
            if let Some(bad) = reported {
                let bad = crate::untrusted::visible(bad);
                tracing::warn!(host = %spec.name, "ignoring the engine's NodeAddr {bad:?}: not an IP address");
            }
            match spec.resolve_ipv4().await {
                Some(ip) => ip.to_string(),
                None => spec.address.clone(),
            }
        }
    };
    Ok(Live {
        spec: spec.clone(),
        session,
        docker,
        swarm: active,
        manager: swarm.and_then(|s| s.control_available).unwrap_or(false),
        addr,
    })
}

/// Removes what crashed earlier runs left (past their promised end), and reads each host's
/// firewall and crypto facts meanwhile.
pub(super) async fn sweep(run: &Arc<Run>) {
    let live = run.live.lock().await.clone();
    let now = now_unix();
    let mut set = JoinSet::new();
    for l in live {
        let t = run.opts.exec_timeout * 3;
        set.spawn(async move {
            let swept = tokio::time::timeout(t, async {
                let mut n = probe::remove_containers(&l.docker, None, now).await?;
                if l.manager {
                    n += probe::remove_networks(&l.docker, None, now).await?;
                }
                n += probe::remove_images(&l.docker, None, now).await?;
                Ok::<usize, String>(n)
            })
            .await
            .unwrap_or_else(|_| Err("sweeping timed out".into()));
            let facts = underlay::facts(&l.session, t, &l.addr).await;
            (l.spec.name, swept, facts)
        });
    }
    while let Some(j) = set.join_next().await {
        let Ok((host, swept, facts)) = j else {
            continue;
        };
        let mut r = run.report.lock().await;
        let Some(h) = r.hosts.iter_mut().find(|h| h.host == host) else {
            continue;
        };
        match swept {
            Ok(n) => h.swept = n,
            Err(e) => tracing::warn!(%host, "sweeping leftovers failed: {e}"),
        }
        match facts {
            Ok(f) => {
                h.firewall = Some(f.firewall);
                h.crypto = Some(f.crypto);
                h.link = f.link;
            }
            Err(e) => tracing::warn!(%host, "reading firewall/crypto facts failed: {e}"),
        }
    }
}

/// TCP 7946 (and 2377 to managers) between every ordered pair of hosts, on the underlay.
/// UDP is recorded as untestable: nothing confirms a UDP "connection".
pub(super) async fn underlay_checks(run: &Arc<Run>) {
    let live = run.live.lock().await.clone();
    let secs = run.opts.exec_timeout.as_secs().clamp(1, 3);
    let mut set = JoinSet::new();
    let limit = Arc::new(Semaphore::new(run.opts.parallel.max(1)));
    for a in &live {
        for b in live.iter().filter(|b| b.spec.name != a.spec.name) {
            let mut ports = vec![7946];
            if b.manager {
                ports.push(2377);
            }
            for port in ports {
                let (session, from, to, addr) = (
                    a.session.clone(),
                    a.spec.name.clone(),
                    b.spec.name.clone(),
                    b.addr.clone(),
                );
                let limit = limit.clone();
                set.spawn(async move {
                    let _p = limit.acquire_owned().await;
                    let check = underlay::tcp(&session, &addr, port, secs).await;
                    UnderlayCheck {
                        from,
                        to,
                        port,
                        proto: "tcp".into(),
                        check,
                    }
                });
            }
            for port in [7946, 4789] {
                run.report.lock().await.underlay.push(UnderlayCheck {
                    from: a.spec.name.clone(),
                    to: b.spec.name.clone(),
                    port,
                    proto: "udp".into(),
                    check: Check {
                        outcome: Outcome::Untestable,
                        detail: "UDP has no handshake to confirm; judged by the overlay matrix \
                                 and firewall rules"
                            .into(),
                        latency_ms: None,
                    },
                });
            }
        }
    }
    while let Some(j) = set.join_next().await {
        if let Ok(u) = j {
            run.report.lock().await.underlay.push(u);
        }
    }
    let mut r = run.report.lock().await;
    let order: Vec<String> = r.hosts.iter().map(|h| h.host.clone()).collect();
    let pos = |n: &str| order.iter().position(|o| o == n);
    r.underlay
        .sort_by_key(|u| (pos(&u.from), pos(&u.to), u.port, u.proto.clone()));
}
