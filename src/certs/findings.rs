//! Findings about the swarm's certificates, each with its fix (pure): a node certificate
//! expired or past its renewal window, the CA close to its end, nodes down so long that
//! they will come back with an expired certificate, and engines that cannot rejoin
//! because their certificate expired.
//!
//! Swarm renews a node's certificate by itself at a random point between 50 % and 80 % of
//! its lifetime (swarmkit's `CertLowerRotationRange`/`CertUpperRotationRange`). A healthy
//! node's certificate therefore never has less than 20 % of its lifetime left: one that
//! does has missed its renewal (the node cannot reach a manager, or the CA cannot sign),
//! and that is the warning. Warning earlier would flag every healthy node in turn.

use serde::Serialize;

use crate::doctor::Finding;
use crate::severity::Severity;
use crate::untrusted::visible;

use super::read::{CertReport, HostCerts, NodeRecord};
use super::{CertInfo, human_left, short_id, utc};

/// The latest point of a certificate's lifetime at which swarm renews it.
pub const RENEWAL_LATEST: f64 = 0.8;
/// A CA with less than this left is flagged (or less than two node lifetimes).
pub const CA_WARNING_SECS: i64 = 365 * 86400;

const AREA: &str = "certificates";

/// Where a node certificate stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    /// Past the last point swarm renews at, not expired yet.
    RenewalOverdue,
    Expired,
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::RenewalOverdue => "renewal overdue",
            Verdict::Expired => "EXPIRED",
        }
    }
}

/// A node certificate's verdict at `now`.
pub fn verdict(cert: &CertInfo, now: i64) -> Verdict {
    let life = cert.lifetime().max(1) as f64;
    if now >= cert.not_after {
        Verdict::Expired
    } else if (now - cert.not_before) as f64 >= life * RENEWAL_LATEST {
        Verdict::RenewalOverdue
    } else {
        Verdict::Ok
    }
}

/// Every certificate finding in `report`, most urgent first.
pub fn findings(report: &CertReport) -> Vec<Finding> {
    let mut out = Vec::new();
    for h in &report.hosts {
        out.extend(node_cert(report, h));
        out.extend(cannot_rejoin(h));
    }
    out.extend(ca(report));
    out.extend(long_down(report));
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

/// `node1 (host node1)`, or the host alone when no node has this ID.
fn subject(report: &CertReport, host: &HostCerts, node_id: &str) -> String {
    match report.nodes.iter().find(|n| n.id == node_id) {
        Some(n) if n.hostname == host.host => visible(&n.hostname).into_owned(),
        Some(n) => format!("{} (host {})", visible(&n.hostname), host.host),
        None => host.host.clone(),
    }
}

/// The steps that bring back a node whose certificate the swarm no longer accepts.
fn rejoin_fix(host: &str, node_id: Option<&str>) -> String {
    let rm = match node_id.filter(|id| is_node_id(id)) {
        Some(id) => format!("`docker node rm --force {id}`"),
        None => "`docker node rm --force OLD-NODE-ID`".into(),
    };
    format!(
        "on {host}: `docker swarm leave --force`; on a manager: {rm} (the old node, by its \
         ID); then join {host} again (`swarmdeck bootstrap` resumes it, or `docker swarm join`)"
    )
}

/// A swarm node ID: 25 lowercase letters and digits.
fn is_node_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

fn node_cert(report: &CertReport, h: &HostCerts) -> Option<Finding> {
    let cert = h.node_cert.as_ref()?;
    let id = cert.common_name.as_str();
    let who = subject(report, h, id);
    let left = cert.not_after - report.now;
    match verdict(cert, report.now) {
        Verdict::Ok => None,
        Verdict::Expired => Some(Finding {
            severity: Severity::Error,
            area: AREA,
            subject: who.clone(),
            summary: format!(
                "the certificate of {who} (node {}) expired {} ago ({}): the swarm no longer \
                 accepts it",
                visible(short_id(id)),
                human_left(-left),
                utc(cert.not_after)
            ),
            fix: rejoin_fix(&h.host, Some(id)),
        }),
        Verdict::RenewalOverdue => Some(Finding {
            severity: Severity::Warning,
            area: AREA,
            subject: who.clone(),
            summary: format!(
                "the certificate of {who} expires in {} ({}) and was not renewed: swarm renews \
                 by {:.0} % of its lifetime, it is at {:.0} %",
                human_left(left),
                utc(cert.not_after),
                RENEWAL_LATEST * 100.0,
                (report.now - cert.not_before) as f64 * 100.0 / cert.lifetime().max(1) as f64
            ),
            fix: format!(
                "{} must reach a manager (2377/tcp) to renew: check it is up and connected \
                 (`swarmdeck connectivity`); `swarmdeck cert rotate` reissues every node's \
                 certificate now",
                h.host
            ),
        }),
    }
}

/// Whether the engine's error says its certificate is expired or not accepted.
pub fn certificate_rejected(error: &str) -> bool {
    let e = error.to_ascii_lowercase();
    let about_cert = e.contains("certificate") || e.contains("x509");
    about_cert
        && [
            "expired",
            "not yet valid",
            "invalid",
            "bad certificate",
            "unknown authority",
        ]
        .iter()
        .any(|w| e.contains(w))
}

fn cannot_rejoin(h: &HostCerts) -> Option<Finding> {
    let local = h.local.as_ref()?;
    let error = local.error.as_deref()?;
    if local.state == "active" || !certificate_rejected(error) {
        return None;
    }
    // Go says "has expired or is not yet valid: current time T is before START" when the
    // host's clock is behind, "... is after END" when the certificate ran out.
    let e = error.to_ascii_lowercase();
    let clock = e.contains("is before") || (e.contains("not yet valid") && !e.contains("expired"));
    let fix = if clock {
        format!(
            "{}'s clock is behind the certificate's start: set it right (NTP), then restart \
             its engine; if it still fails, {}",
            h.host,
            rejoin_fix(&h.host, local.node_id.as_deref())
        )
    } else {
        rejoin_fix(&h.host, local.node_id.as_deref())
    };
    Some(Finding {
        severity: Severity::Error,
        area: AREA,
        subject: h.host.clone(),
        summary: format!(
            "{} cannot rejoin the swarm: its engine is in state {} because its certificate is \
             not accepted: {}",
            h.host,
            visible(&local.state),
            visible(error)
        ),
        fix,
    })
}

fn ca(report: &CertReport) -> Option<Finding> {
    let swarm = report.swarm.as_ref()?;
    let root = swarm.root.as_ref()?;
    let left = root.not_after - report.now;
    let soon = CA_WARNING_SECS.max(2 * swarm.node_cert_expiry as i64);
    let fix = "rotate the CA: `swarmdeck cert rotate` (`docker swarm ca --rotate`); every node \
               gets a certificate from the new root"
        .to_string();
    let key = root.key_id.as_deref().map(short_id).unwrap_or("?");
    if left <= 0 {
        Some(Finding {
            severity: Severity::Error,
            area: AREA,
            subject: format!("CA {key}"),
            summary: format!(
                "the swarm's root CA expired {} ago ({}): no node certificate it signed is valid",
                human_left(-left),
                utc(root.not_after)
            ),
            fix,
        })
    } else if left < soon {
        Some(Finding {
            severity: Severity::Warning,
            area: AREA,
            subject: format!("CA {key}"),
            summary: format!(
                "the swarm's root CA expires in {} ({})",
                human_left(left),
                utc(root.not_after)
            ),
            fix,
        })
    } else {
        None
    }
}

/// Nodes down so long that the certificate they hold has, or may have, expired. Nodes whose
/// certificate was read are judged by it instead (see [`node_cert`]).
fn long_down(report: &CertReport) -> Vec<Finding> {
    let Some(swarm) = report.swarm.as_ref() else {
        return Vec::new();
    };
    let life = swarm.node_cert_expiry as i64;
    report
        .nodes
        .iter()
        .filter(|n| !n.ready && report.host_of(&n.id).is_none())
        .filter_map(|n| down_finding(n, report.now, life))
        .collect()
}

fn down_finding(n: &NodeRecord, now: i64, life: i64) -> Option<Finding> {
    let since = n.updated_at?;
    let down = now - since;
    // When it went down its certificate had between 20 % (renewal at 80 % at the latest)
    // and 100 % of its lifetime left.
    let certain = down >= life;
    let possible = down as f64 >= life as f64 * (1.0 - RENEWAL_LATEST);
    if !possible {
        return None;
    }
    let name = visible(&n.hostname);
    let summary = if certain {
        format!(
            "{name} has been {} since {} ({}), longer than the node certificate lifetime ({}): \
             its certificate has expired, and it will come back unable to rejoin",
            n.state,
            utc(since),
            human_left(down),
            human_left(life)
        )
    } else {
        format!(
            "{name} has been {} since {} ({}); with a node certificate lifetime of {} its \
             certificate may have expired when it comes back",
            n.state,
            utc(since),
            human_left(down),
            human_left(life)
        )
    };
    Some(Finding {
        severity: if certain {
            Severity::Error
        } else {
            Severity::Warning
        },
        area: AREA,
        subject: name.into_owned(),
        summary,
        fix: format!(
            "if it comes back: on the host `docker swarm leave --force`, then on a manager \
             `docker node rm --force {}`, then join it again; if it is gone for good: \
             `swarmdeck node rm {}`",
            n.id, n.id
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certs::read::{LocalNode, SwarmCa};
    use crate::snapshot::Role;

    const DAY: i64 = 86400;
    const NOW: i64 = 1_800_000_000;

    fn cert(id: &str, born: i64, life: i64) -> CertInfo {
        CertInfo {
            common_name: id.into(),
            unit: "swarm-worker".into(),
            organization: "cluster0".into(),
            issuer: "CN=swarm-ca".into(),
            not_before: born,
            not_after: born + life,
            issuer_key_id: Some("aabbccdd0011".into()),
            key_id: None,
        }
    }

    fn host(name: &str, c: Option<CertInfo>) -> HostCerts {
        HostCerts {
            host: name.into(),
            local: Some(LocalNode {
                state: "active".into(),
                ..Default::default()
            }),
            node_cert: c,
            ca: None,
            failures: Vec::new(),
        }
    }

    fn record(id: &str, name: &str, ready: bool, since: i64) -> NodeRecord {
        NodeRecord {
            id: id.into(),
            hostname: name.into(),
            role: Role::Worker,
            ready,
            state: if ready { "ready" } else { "down" }.into(),
            updated_at: Some(since),
            on_current_ca: true,
        }
    }

    fn report(hosts: Vec<HostCerts>, nodes: Vec<NodeRecord>, ca_life_left: i64) -> CertReport {
        let mut root = cert(
            "swarm-ca",
            NOW - 20 * 365 * DAY,
            20 * 365 * DAY + ca_life_left,
        );
        root.key_id = Some("0123456789abcdef".into());
        CertReport {
            now: NOW,
            swarm: Some(SwarmCa {
                answered_by: "node1".into(),
                cluster_id: "cluster0".into(),
                version: 10,
                node_cert_expiry: 90 * DAY as u64,
                force_rotate: 0,
                rotation_in_progress: false,
                root: Some(root),
            }),
            swarm_error: None,
            nodes,
            hosts,
        }
    }

    #[test]
    fn the_doctor_lists_an_expired_certificate_it_read() {
        let gone = cert("n1", NOW - 91 * DAY, 90 * DAY);
        let facts = crate::doctor::HostFacts {
            certificates: Some(report(
                vec![host("node1", Some(gone))],
                vec![record("n1", "node1", true, NOW)],
                400 * DAY,
            )),
            ..Default::default()
        };
        let snap = crate::snapshot::demo();
        let found = crate::doctor::examine(&snap, &facts, Vec::new());
        let f = found
            .iter()
            .find(|f| f.area == "certificates")
            .expect("a certificate finding");
        assert_eq!(f.severity, crate::severity::Severity::Error, "{f:?}");
        assert_eq!(found[0].severity, crate::severity::Severity::Error);
    }

    #[test]
    fn a_certificate_inside_its_renewal_window_is_not_flagged() {
        // 90-day certificates: swarm renews between day 45 and day 72.
        for age in [0, 44, 45, 60, 71] {
            let c = cert("n1", NOW - age * DAY, 90 * DAY);
            assert_eq!(verdict(&c, NOW), Verdict::Ok, "day {age}");
        }
        let late = cert("n1", NOW - 73 * DAY, 90 * DAY);
        assert_eq!(verdict(&late, NOW), Verdict::RenewalOverdue);
        let gone = cert("n1", NOW - 91 * DAY, 90 * DAY);
        assert_eq!(verdict(&gone, NOW), Verdict::Expired);
        // The same rule for a 1-hour lifetime: overdue after 48 minutes.
        assert_eq!(verdict(&cert("n", NOW - 47 * 60, 3600), NOW), Verdict::Ok);
        assert_eq!(
            verdict(&cert("n", NOW - 49 * 60, 3600), NOW),
            Verdict::RenewalOverdue
        );
    }

    #[test]
    fn expired_and_overdue_certificates_name_the_node_and_the_fix() {
        let r = report(
            vec![
                host("node1", Some(cert("aaaa1111", NOW - 10 * DAY, 90 * DAY))),
                host("node2", Some(cert("bbbb2222", NOW - 80 * DAY, 90 * DAY))),
                host("node3", Some(cert("cccc3333", NOW - 93 * DAY, 90 * DAY))),
            ],
            vec![
                record("aaaa1111", "node1", true, NOW - DAY),
                record("bbbb2222", "node2", true, NOW - DAY),
                record("cccc3333", "node3", true, NOW - DAY),
            ],
            10 * 365 * DAY,
        );
        let f = findings(&r);
        assert_eq!(f.len(), 2, "{f:#?}");
        assert_eq!(f[0].severity, Severity::Error);
        assert_eq!(f[0].subject, "node3");
        assert!(f[0].summary.contains("expired 3d ago"), "{}", f[0].summary);
        assert!(
            f[0].fix.contains("docker node rm --force cccc3333"),
            "{}",
            f[0].fix
        );
        assert_eq!(f[1].severity, Severity::Warning);
        assert_eq!(f[1].subject, "node2");
        assert!(f[1].summary.contains("at 89 %"), "{}", f[1].summary);
        assert!(f[1].fix.contains("swarmdeck cert rotate"));
    }

    #[test]
    fn a_ca_close_to_its_end_is_flagged() {
        let fine = report(vec![], vec![], 2 * 365 * DAY);
        assert!(findings(&fine).is_empty());
        let soon = findings(&report(vec![], vec![], 100 * DAY));
        assert_eq!(soon.len(), 1);
        assert_eq!(soon[0].severity, Severity::Warning);
        assert!(soon[0].summary.contains("expires in 100d"), "{soon:?}");
        assert!(soon[0].fix.contains("docker swarm ca --rotate"));
        let gone = findings(&report(vec![], vec![], -DAY));
        assert_eq!(gone[0].severity, Severity::Error);
    }

    #[test]
    fn nodes_down_longer_than_their_certificate_lets_them_are_flagged() {
        let r = report(
            vec![],
            vec![
                record("up0001", "up", true, NOW - 200 * DAY),
                record("brief01", "brief", false, NOW - 5 * DAY),
                record("long001", "long", false, NOW - 30 * DAY),
                record("gone001", "gone", false, NOW - 120 * DAY),
            ],
            10 * 365 * DAY,
        );
        let f = findings(&r);
        assert_eq!(f.len(), 2, "{f:#?}");
        assert_eq!(
            (f[0].severity, f[0].subject.as_str()),
            (Severity::Error, "gone")
        );
        assert!(
            f[0].summary
                .contains("longer than the node certificate lifetime (90d)"),
            "{}",
            f[0].summary
        );
        assert!(f[0].fix.contains("docker node rm --force gone001"));
        assert_eq!(
            (f[1].severity, f[1].subject.as_str()),
            (Severity::Warning, "long")
        );
        // A down node whose certificate was read is judged by that certificate.
        let mut r = r;
        r.hosts.push(host(
            "gone",
            Some(cert("gone001", NOW - 10 * DAY, 90 * DAY)),
        ));
        assert!(!findings(&r).iter().any(|f| f.subject == "gone"));
    }

    /// `GET /info`'s `Swarm` of an engine whose node certificate expired while it was
    /// off, as moby reports it (LocalNodeState `error` or `pending`, the TLS error in
    /// `Error`).
    fn engine_info(state: &str, error: &str) -> bollard::models::SystemInfo {
        serde_json::from_value(serde_json::json!({
            "Swarm": {
                "NodeID": "x3k9q2w7e5r1t8y4u6i0o2p3a",
                "NodeAddr": "10.213.0.12",
                "LocalNodeState": state,
                "ControlAvailable": false,
                "Error": error,
                "RemoteManagers": null
            }
        }))
        .unwrap()
    }

    #[test]
    fn an_engine_that_cannot_rejoin_for_its_expired_certificate_is_named_with_the_fix() {
        let expired = "x509: certificate has expired or is not yet valid: current time \
                       2027-03-05T10:00:00Z is after 2027-03-01T09:12:00Z";
        let mut h = host("node3", None);
        h.local = Some(crate::certs::read::local_node(&engine_info(
            "error", expired,
        )));
        let f = findings(&report(vec![h], vec![], 10 * 365 * DAY));
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].severity, Severity::Error);
        assert_eq!(f[0].subject, "node3");
        assert!(
            f[0].summary.contains("node3 cannot rejoin the swarm"),
            "{}",
            f[0].summary
        );
        assert!(f[0].fix.contains("on node3: `docker swarm leave --force`"));
        assert!(
            f[0].fix
                .contains("`docker node rm --force x3k9q2w7e5r1t8y4u6i0o2p3a`"),
            "{}",
            f[0].fix
        );

        let mut h = host("node3", None);
        h.local = Some(crate::certs::read::local_node(&engine_info(
            "pending",
            "rpc error: code = Unavailable desc = connection error: desc = \"transport: \
             authentication handshake failed: remote error: tls: expired certificate\"",
        )));
        assert_eq!(findings(&report(vec![h], vec![], 10 * 365 * DAY)).len(), 1);

        // Other errors, and an active node, are not this finding.
        for (state, error) in [
            (
                "pending",
                "rpc error: code = DeadlineExceeded desc = context deadline exceeded",
            ),
            ("active", expired),
        ] {
            let mut h = host("node3", None);
            h.local = Some(crate::certs::read::local_node(&engine_info(state, error)));
            assert!(
                findings(&report(vec![h], vec![], 10 * 365 * DAY)).is_empty(),
                "{state}: {error}"
            );
        }
        // A clock behind the certificate's start is a different fix.
        let mut h = host("node3", None);
        h.local = Some(crate::certs::read::local_node(&engine_info(
            "error",
            "x509: certificate has expired or is not yet valid: current time \
             2026-01-01T00:00:00Z is before 2026-11-30T09:00:00Z",
        )));
        let f = findings(&report(vec![h], vec![], 10 * 365 * DAY));
        assert!(
            f[0].fix.starts_with("node3's clock is behind"),
            "{}",
            f[0].fix
        );

        // A node ID that is not one is never put into a command.
        let mut h = host("node3", None);
        h.local = Some(LocalNode {
            state: "error".into(),
            error: Some(expired.into()),
            node_id: Some("$(reboot)".into()),
            manager: false,
        });
        let f = findings(&report(vec![h], vec![], 10 * 365 * DAY));
        assert!(f[0].fix.contains("OLD-NODE-ID"), "{}", f[0].fix);
        assert!(!f[0].fix.contains("reboot"));
    }
}
