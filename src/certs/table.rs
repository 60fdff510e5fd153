//! One row per node for `swarmdeck cert ls` and the Certificates panel (pure): the node as
//! the managers list it, joined to the certificate whose subject names it.

use serde::Serialize;

use super::findings::{Verdict, verdict};
use super::read::{CertReport, HostCerts};
use super::short_id;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertRow {
    /// The inventory host the certificate was read from (none: not read).
    pub host: Option<String>,
    pub node_id: String,
    /// The node's hostname as the managers list it (empty: a certificate no node has).
    pub hostname: String,
    /// `manager`/`worker`, from the certificate's OU when it was read.
    pub role: String,
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
    /// Seconds left at the report's time.
    pub left: Option<i64>,
    /// The issuing CA's key identifier (hex).
    pub ca: Option<String>,
    /// Whether the node is on the swarm's current CA (as the managers see it), or for a
    /// certificate no node has, whether its issuer is the current root.
    pub current_ca: Option<bool>,
    pub verdict: Option<Verdict>,
    /// Why there is no certificate, or what else is off (node down, another swarm's).
    pub note: String,
}

/// The rows of `report`: every node, then certificates that name no node.
pub fn rows(report: &CertReport) -> Vec<CertRow> {
    let current = report
        .swarm
        .as_ref()
        .and_then(|s| s.root.as_ref())
        .and_then(|r| r.key_id.clone());
    let mut out: Vec<CertRow> = report
        .nodes
        .iter()
        .map(|n| {
            let host = report.host_of(&n.id);
            let mut row = row(report, host, current.as_deref());
            row.node_id.clone_from(&n.id);
            row.hostname.clone_from(&n.hostname);
            // The manager's view of the node's issuer and trust root (what a rotation
            // waits for), rather than the trust root, which changes only once it is done.
            if row.ca.is_some() {
                row.current_ca = Some(n.on_current_ca);
            }
            if host.is_none() {
                row.role = role_word(n.role).into();
                row.note = match report.hosts.iter().find(|h| h.host == n.hostname) {
                    Some(h) if !h.failures.is_empty() => h.failures[0].message.clone(),
                    _ => "no inventory host holds this node's certificate".into(),
                };
            }
            if !n.ready {
                row.note = join(&format!("node is {}", n.state), &row.note);
            }
            row
        })
        .collect();
    for h in &report.hosts {
        let Some(c) = &h.node_cert else { continue };
        if report.nodes.iter().any(|n| n.id == c.common_name) {
            continue;
        }
        let mut row = row(report, Some(h), current.as_deref());
        row.note = match &report.swarm {
            Some(s) if s.cluster_id != c.organization => {
                "a certificate of another swarm (cluster ID in O differs)".into()
            }
            Some(_) => "no node of the swarm has this ID (removed?)".into(),
            None => report.swarm_error.clone().unwrap_or_default(),
        };
        out.push(row);
    }
    out
}

fn role_word(role: crate::snapshot::Role) -> &'static str {
    match role {
        crate::snapshot::Role::Manager => "manager",
        crate::snapshot::Role::Worker => "worker",
    }
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (_, true) => a.into(),
        (true, _) => b.into(),
        _ => format!("{a}; {b}"),
    }
}

fn row(report: &CertReport, host: Option<&HostCerts>, current: Option<&str>) -> CertRow {
    let cert = host.and_then(|h| h.node_cert.as_ref());
    let ca = cert.and_then(|c| c.issuer_key_id.clone());
    CertRow {
        host: host.map(|h| h.host.clone()),
        node_id: cert.map(|c| c.common_name.clone()).unwrap_or_default(),
        hostname: String::new(),
        role: cert
            .and_then(|c| c.role())
            .map(role_word)
            .unwrap_or_default()
            .into(),
        not_before: cert.map(|c| c.not_before),
        not_after: cert.map(|c| c.not_after),
        left: cert.map(|c| c.not_after - report.now),
        current_ca: match (&ca, current) {
            (Some(a), Some(b)) => Some(a == b),
            _ => None,
        },
        ca,
        verdict: cert.map(|c| verdict(c, report.now)),
        note: String::new(),
    }
}

impl CertRow {
    /// The CA column: `1a2b3c4d` (current) or `1a2b3c4d (old)`.
    pub fn ca_text(&self) -> String {
        match (&self.ca, self.current_ca) {
            (Some(id), Some(false)) => format!("{} (old)", short_id(id)),
            (Some(id), _) => short_id(id).to_string(),
            (None, _) => "-".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certs::CertInfo;
    use crate::certs::read::{HostCerts, NodeRecord, SwarmCa};
    use crate::snapshot::Role;

    #[test]
    fn each_node_gets_the_certificate_that_names_it_whatever_the_host_is_called() {
        let cert = |id: &str, ca: &str| CertInfo {
            common_name: id.into(),
            unit: "swarm-manager".into(),
            organization: "c1".into(),
            issuer: "CN=swarm-ca".into(),
            not_before: 0,
            not_after: 1000,
            issuer_key_id: Some(ca.into()),
            key_id: None,
        };
        let host = |name: &str, c: Option<CertInfo>| HostCerts {
            host: name.into(),
            local: None,
            node_cert: c,
            ca: None,
            failures: Vec::new(),
        };
        let node = |id: &str, name: &str, ready| NodeRecord {
            id: id.into(),
            hostname: name.into(),
            role: Role::Worker,
            ready,
            state: if ready { "ready" } else { "down" }.into(),
            updated_at: None,
            on_current_ca: false,
        };
        let mut root = cert("swarm-ca", "newca0000");
        root.key_id = Some("newca0000".into());
        let report = CertReport {
            now: 400,
            swarm: Some(SwarmCa {
                answered_by: "a".into(),
                cluster_id: "c1".into(),
                version: 1,
                node_cert_expiry: 1000,
                force_rotate: 0,
                rotation_in_progress: false,
                root: Some(root),
            }),
            swarm_error: None,
            // The host "b" holds the certificate of the node the managers call "a".
            nodes: vec![node("id1", "a", true), node("id2", "z", false)],
            hosts: vec![
                host("b", Some(cert("id1", "oldca0000"))),
                host("c", Some(cert("id9", "newca0000"))),
            ],
        };
        let rows = rows(&report);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].host.as_deref(), Some("b"));
        assert_eq!(rows[0].hostname, "a");
        assert_eq!(rows[0].role, "manager");
        assert_eq!(rows[0].left, Some(600));
        assert_eq!(rows[0].ca_text(), "oldca000 (old)");
        assert_eq!(rows[1].host, None);
        assert_eq!(rows[1].role, "worker");
        assert!(
            rows[1].note.starts_with("node is down; "),
            "{}",
            rows[1].note
        );
        assert_eq!(rows[2].node_id, "id9");
        assert_eq!(rows[2].ca_text(), "newca000");
        assert!(rows[2].note.contains("no node"), "{}", rows[2].note);
    }
}
