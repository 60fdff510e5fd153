//! A CA rotation followed until every node holds a certificate from the new CA and trusts
//! the new root: the swarm's `TLSInfo` and `RootRotationInProgress` against each node's
//! `Description.TLSInfo` (the test `docker swarm ca --rotate` makes), read from a manager
//! about once a second until done, a deadline or a cancel.

use std::time::{Duration, Instant};

use bollard::models::{Node, Swarm, TlsInfo};
use bollard::query_parameters::ListNodesOptions;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::cluster::Cluster;
use crate::swarm::SwarmError;

use super::CertError;

/// How often the swarm is read while following.
const POLL: Duration = Duration::from_secs(1);

/// Whether a node's TLS state is the swarm's current one: its certificate issued by the
/// current issuer (subject and key) and the current root trusted.
pub fn follows(node: &TlsInfo, current: &TlsInfo) -> bool {
    issued_by_current(node, current) && node.trust_root == current.trust_root
}

fn issued_by_current(node: &TlsInfo, current: &TlsInfo) -> bool {
    current.cert_issuer_public_key.is_some()
        && node.cert_issuer_public_key == current.cert_issuer_public_key
        && node.cert_issuer_subject == current.cert_issuer_subject
}

/// Where a rotation stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RotationProgress {
    pub total: usize,
    /// Nodes with a certificate from the new issuer.
    pub certs: usize,
    /// Nodes that trust only the new root (and so hold a certificate from it).
    pub on_new_ca: usize,
    pub in_progress: bool,
    /// The nodes the rotation waits for, as `hostname (ID, state)`: those without a
    /// certificate from the new issuer, or when every node has one, those that do not yet
    /// trust the new root alone.
    pub lagging: Vec<String>,
}

impl RotationProgress {
    pub fn done(&self) -> bool {
        !self.in_progress && self.on_new_ca == self.total
    }

    /// `2/3 nodes on the new CA (certificates 3/3; rotation in progress)`.
    pub fn line(&self) -> String {
        format!(
            "{}/{} nodes on the new CA (certificates {}/{}{})",
            self.on_new_ca,
            self.total,
            self.certs,
            self.total,
            if self.in_progress {
                "; rotation in progress"
            } else {
                ""
            }
        )
    }
}

/// The progress `nodes` show against `swarm`'s TLS state (pure).
pub fn progress(swarm: &Swarm, nodes: &[Node]) -> RotationProgress {
    let current = swarm.tls_info.clone().unwrap_or_default();
    let in_progress = swarm.root_rotation_in_progress.unwrap_or(false);
    let mut p = RotationProgress {
        total: nodes.len(),
        certs: 0,
        on_new_ca: 0,
        in_progress,
        lagging: Vec::new(),
    };
    let (mut no_cert, mut no_root) = (Vec::new(), Vec::new());
    for n in nodes {
        let tls = n
            .description
            .as_ref()
            .and_then(|d| d.tls_info.clone())
            .unwrap_or_default();
        if issued_by_current(&tls, &current) {
            p.certs += 1;
        } else {
            no_cert.push(describe(n));
        }
        // Until the swarm ends the rotation, a node's trust root may still hold both.
        if !in_progress && follows(&tls, &current) {
            p.on_new_ca += 1;
        } else {
            no_root.push(describe(n));
        }
    }
    p.lagging = if no_cert.is_empty() { no_root } else { no_cert };
    p
}

fn describe(n: &Node) -> String {
    let host = n
        .description
        .as_ref()
        .and_then(|d| d.hostname.as_deref())
        .unwrap_or("?");
    let id = n.id.as_deref().unwrap_or("?");
    let state = n
        .status
        .as_ref()
        .and_then(|s| s.state.as_ref())
        .map_or("unknown".to_string(), |s| s.to_string());
    crate::untrusted::visible(&format!("{host} ({}, {state})", super::short_id(id))).into_owned()
}

/// Follows the rotation from `host` (a manager) until every node is on the new CA, `limit`
/// passes (an error naming the nodes that did not follow) or `cancel`.
pub async fn follow(
    cluster: &Cluster,
    host: &str,
    limit: Duration,
    on_progress: &(dyn Fn(&RotationProgress) + Sync),
    cancel: &CancellationToken,
) -> Result<RotationProgress, SwarmError> {
    let h = crate::swarm::ops::spec(cluster, host)?;
    let d = cluster.engine(h).await?;
    let start = Instant::now();
    let mut last: Option<RotationProgress> = None;
    loop {
        let (swarm, nodes) =
            tokio::join!(d.inspect_swarm(), d.list_nodes(None::<ListNodesOptions>));
        match (swarm, nodes) {
            (Ok(swarm), Ok(nodes)) => {
                let p = progress(&swarm, &nodes);
                if last.as_ref() != Some(&p) {
                    on_progress(&p);
                }
                if p.done() {
                    return Ok(p);
                }
                last = Some(p);
            }
            // A manager busy with the rotation may miss a beat: the deadline decides.
            (Err(e), _) | (_, Err(e)) => {
                tracing::debug!(host, error = %e, "reading the rotation's progress");
            }
        }
        if start.elapsed() >= limit {
            let lagging = last
                .map(|p| p.lagging.join(", "))
                .unwrap_or_else(|| "every node (the manager did not answer)".into());
            return Err(SwarmError::Certs(CertError::NotFollowed {
                lagging,
                after: crate::limits::human(limit),
            }));
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = cancel.cancelled() => return Err(SwarmError::Cancelled { done: 1, not_run: 0 }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{NodeDescription, NodeState, NodeStatus};

    fn tls(key: &str, root: &str) -> TlsInfo {
        TlsInfo {
            trust_root: Some(root.into()),
            cert_issuer_subject: Some("MBMxETAPBgNVBAMTCHN3YXJtLWNh".into()),
            cert_issuer_public_key: Some(key.into()),
        }
    }

    fn node(name: &str, t: TlsInfo, state: NodeState) -> Node {
        Node {
            id: Some(format!("{name}id0000000000")),
            description: Some(NodeDescription {
                hostname: Some(name.into()),
                tls_info: Some(t),
                ..Default::default()
            }),
            status: Some(NodeStatus {
                state: Some(state),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn swarm(t: TlsInfo, in_progress: bool) -> Swarm {
        Swarm {
            tls_info: Some(t),
            root_rotation_in_progress: Some(in_progress),
            ..Default::default()
        }
    }

    #[test]
    fn a_rotation_is_done_when_every_node_has_the_new_issuer_and_root() {
        let new = tls("NEWKEY", "NEWROOT");
        let old = tls("OLDKEY", "OLDROOT");
        let nodes = vec![
            node("node1", new.clone(), NodeState::READY),
            node("node2", tls("NEWKEY", "OLD+NEW"), NodeState::READY),
            node("node3", old.clone(), NodeState::DOWN),
        ];
        let p = progress(&swarm(new.clone(), true), &nodes);
        assert_eq!((p.certs, p.on_new_ca, p.total), (2, 0, 3));
        assert!(!p.done());
        assert_eq!(
            p.line(),
            "0/3 nodes on the new CA (certificates 2/3; rotation in progress)"
        );
        assert_eq!(p.lagging, vec!["node3 (node3id0, down)".to_string()]);

        let nodes = vec![
            node("node1", new.clone(), NodeState::READY),
            node("node2", new.clone(), NodeState::READY),
            node("node3", old, NodeState::DOWN),
        ];
        let p = progress(&swarm(new.clone(), false), &nodes);
        assert_eq!(p.line(), "2/3 nodes on the new CA (certificates 2/3)");
        assert_eq!(p.lagging, vec!["node3 (node3id0, down)".to_string()]);
        assert!(!p.done());

        let all: Vec<Node> = ["node1", "node2", "node3"]
            .iter()
            .map(|n| node(n, new.clone(), NodeState::READY))
            .collect();
        let p = progress(&swarm(new, false), &all);
        assert!(p.done());
        assert_eq!(p.line(), "3/3 nodes on the new CA (certificates 3/3)");
    }

    #[test]
    fn a_swarm_that_reports_no_issuer_has_no_node_on_it() {
        let empty = TlsInfo::default();
        assert!(!follows(&empty, &empty));
    }
}
