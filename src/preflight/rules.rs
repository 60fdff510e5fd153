//! The preflight rules: host reports in, findings out. Pure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::HostReport;
use super::parse::PortState;
pub use crate::severity::Severity;
use crate::snapshot::LocalNodeState;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    pub host: String,
    /// Short check name, e.g. "port", "clock", "encryption".
    pub check: String,
    pub message: String,
    pub evidence: String,
    pub fix: Option<String>,
}

fn finding(
    severity: Severity,
    host: &str,
    check: &'static str,
    message: impl Into<String>,
    evidence: impl Into<String>,
    fix: Option<String>,
) -> Finding {
    Finding {
        severity,
        host: host.to_string(),
        check: check.to_string(),
        message: message.into(),
        evidence: evidence.into(),
        fix,
    }
}

/// Clock skew (seconds) that deserves a warning, and one that breaks TLS between nodes.
const SKEW_WARN: f64 = 2.0;
const SKEW_ERROR: f64 = 60.0;

/// All findings, errors first, then by host.
pub fn evaluate(reports: &[HostReport]) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in reports {
        host_findings(r, &mut out);
    }
    duplicates(reports, &mut out);
    clusters(reports, &mut out);
    reachability(reports, &mut out);
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.host.cmp(&b.host)));
    out
}

fn host_findings(r: &HostReport, out: &mut Vec<Finding>) {
    let h = r.host.as_str();
    if let Some(e) = &r.error {
        out.push(finding(
            Severity::Error,
            h,
            "connect",
            "the host could not be checked fully",
            e.clone(),
            None,
        ));
    }
    match &r.docker_version {
        Some(v) => out.push(finding(
            Severity::Info,
            h,
            "docker",
            format!(
                "Docker {v}, API {}",
                r.api_version.as_deref().unwrap_or("?")
            ),
            "GET /version",
            None,
        )),
        None if r.error.is_none() => out.push(finding(
            Severity::Error,
            h,
            "docker",
            "Docker did not answer",
            "GET /version failed",
            Some("install and start Docker Engine (`systemctl start docker`)".into()),
        )),
        None => {}
    }
    if r.swarm_state == Some(LocalNodeState::Active) {
        out.push(finding(
            Severity::Info,
            h,
            "swarm",
            format!(
                "already in a swarm as {}{}",
                if r.is_manager { "manager" } else { "worker" },
                r.cluster_id
                    .as_ref()
                    .map(|c| format!(" (cluster {c})"))
                    .unwrap_or_default()
            ),
            format!("node id {}", r.node_id.as_deref().unwrap_or("?")),
            None,
        ));
    }
    if let Some(s) = r.clock_skew {
        let sev = if s.abs() >= SKEW_ERROR {
            Some(Severity::Error)
        } else if s.abs() >= SKEW_WARN {
            Some(Severity::Warning)
        } else {
            None
        };
        if let Some(sev) = sev {
            out.push(finding(
                sev,
                h,
                "clock",
                format!("clock is {s:+.1} s off the workstation's; swarm TLS certificates and Raft need synchronised clocks"),
                "date +%s.%N",
                Some("timedatectl set-ntp true (or start chrony/ntpd)".into()),
            ));
        }
    }
    if r.candidates.len() > 1 {
        out.push(finding(
            Severity::Warning,
            h,
            "advertise",
            format!(
                "several interfaces could carry swarm traffic; swarmdeck advertises {} (the route towards the other hosts)",
                r.advertise.as_deref().unwrap_or("?")
            ),
            format!("ip -o -4 addr: {}", r.candidates.join(", ")),
            Some("make sure that address is the one the other hosts reach this host at".into()),
        ));
    }
    if let (Some(mtu), Some(dev)) = (r.mtu, &r.advertise_dev)
        && mtu < 1500
    {
        out.push(finding(
            Severity::Warning,
            h,
            "mtu",
            format!(
                "{dev} has MTU {mtu}: VXLAN adds 50 bytes, so overlays need MTU {} or less",
                mtu.saturating_sub(50)
            ),
            format!("ip -o link show {dev}"),
            Some(format!(
                "swarmdeck network create NAME --mtu {}",
                mtu.saturating_sub(50)
            )),
        ));
    }
    if let Some(b) = r.backend {
        out.push(finding(
            Severity::Info,
            h,
            "firewall",
            format!("firewall backend: {b}"),
            r.firewall_evidence.clone(),
            None,
        ));
    }
    if let Some(Err(why)) = &r.encryption {
        out.push(finding(
            Severity::Warning,
            h,
            "encryption",
            format!("encrypted overlays will not work: {why}"),
            "/proc/config.gz, /proc/crypto, /proc/net/xfrm_stat",
            Some(
                "use unencrypted overlays here, or a kernel with CONFIG_INET_ESP and \
                 CONFIG_CRYPTO_GCM"
                    .into(),
            ),
        ));
    }
}

/// Reads one identity field of a host report.
type Field = fn(&HostReport) -> Option<&String>;

/// Cloned machines: the same hostname, machine id or node id on several hosts.
fn duplicates(reports: &[HostReport], out: &mut Vec<Finding>) {
    let checks: [(&'static str, Field, &str); 3] = [
        (
            "hostname",
            |r| r.hostname.as_ref(),
            "hostnamectl set-hostname <unique name>",
        ),
        (
            "machine-id",
            |r| r.machine_id.as_ref(),
            "rm /etc/machine-id && systemd-machine-id-setup, then restart docker",
        ),
        (
            "node-id",
            |r| r.node_id.as_ref(),
            "the host's /var/lib/docker/swarm was copied: docker swarm leave --force, then join again",
        ),
    ];
    for (what, get, fix) in checks {
        let mut by: BTreeMap<&String, Vec<&str>> = BTreeMap::new();
        for r in reports {
            if let Some(v) = get(r) {
                by.entry(v).or_default().push(&r.host);
            }
        }
        for (v, hosts) in by.into_iter().filter(|(_, h)| h.len() > 1) {
            for h in &hosts {
                out.push(finding(
                    Severity::Error,
                    h,
                    "duplicate",
                    format!(
                        "{what} {v} is shared by {}: cloned machines confuse swarm",
                        hosts.join(", ")
                    ),
                    format!("{what} on each host"),
                    Some(fix.to_string()),
                ));
            }
        }
    }
}

fn clusters(reports: &[HostReport], out: &mut Vec<Finding>) {
    let mut ids: Vec<&String> = reports
        .iter()
        .filter_map(|r| r.cluster_id.as_ref())
        .collect();
    ids.sort();
    ids.dedup();
    if ids.len() > 1 {
        for r in reports.iter().filter(|r| r.cluster_id.is_some()) {
            out.push(finding(
                Severity::Error,
                &r.host,
                "swarm",
                format!("the hosts manage {} different swarms", ids.len()),
                format!("cluster {}", r.cluster_id.as_deref().unwrap_or("?")),
                Some("one swarm per inventory: make the extra hosts `docker swarm leave`".into()),
            ));
        }
    }
}

/// Filtered and rejected ports are reported on the host whose firewall stops them, naming
/// who could not connect.
fn reachability(reports: &[HostReport], out: &mut Vec<Finding>) {
    let by_ip: BTreeMap<String, &HostReport> = reports
        .iter()
        .filter_map(|r| Some((r.ip?.to_string(), r)))
        .collect();
    let mut blocked: BTreeMap<(&str, u16, bool), Vec<&str>> = BTreeMap::new();
    for r in reports {
        for (peer, port, st) in &r.reach {
            let Some(target) = by_ip.get(peer) else {
                continue;
            };
            match st {
                PortState::Filtered | PortState::Rejected => blocked
                    .entry((&target.host, *port, *st == PortState::Rejected))
                    .or_default()
                    .push(&r.host),
                PortState::Closed if *port == 2377 && target.is_manager => out.push(finding(
                    Severity::Warning,
                    &target.host,
                    "port",
                    format!(
                        "nothing listens on 2377/tcp on {} although it is a manager",
                        target.host
                    ),
                    format!("connection refused from {}", r.host),
                    Some("check dockerd on it (`docker info`)".into()),
                )),
                _ => {}
            }
        }
    }
    for ((host, port, rejected), from) in blocked {
        let ip = reports
            .iter()
            .find(|r| r.host == host)
            .and_then(|r| r.ip)
            .map(|i| i.to_string())
            .unwrap_or_default();
        let from = from.join(", ");
        let (what, evidence) = if rejected {
            (
                format!(
                    "{port}/tcp on {host} is refused to {from}: a firewall on {host} rejects it"
                ),
                format!(
                    "connecting to {ip}:{port} failed at once with \"no route to host\" (an ICMP \
                     \"prohibited\" answer)"
                ),
            )
        } else {
            (
                format!(
                    "{port}/tcp on {host} gets no answer from {from}: a firewall on {host} drops it"
                ),
                format!("connecting to {ip}:{port} timed out after 2 s"),
            )
        };
        out.push(finding(
            Severity::Error,
            host,
            "port",
            what,
            evidence,
            Some(format!(
                "swarmdeck firewall --only {host} --yes (opens swarm ports for the cluster's hosts)"
            )),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preflight::parse::Backend;

    fn rep(i: u8) -> HostReport {
        HostReport {
            host: format!("node{i}"),
            ip: Some(std::net::Ipv4Addr::new(10, 0, 0, i)),
            docker_version: Some("20.10.24".into()),
            api_version: Some("1.41".into()),
            hostname: Some(format!("node{i}")),
            machine_id: Some(format!("m{i}")),
            clock_skew: Some(0.1),
            mtu: Some(1500),
            advertise_dev: Some("eth0".into()),
            backend: Some(Backend::Iptables),
            encryption: Some(Ok(())),
            ..Default::default()
        }
    }

    fn errors(f: &[Finding]) -> Vec<(&str, &str)> {
        f.iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| (f.host.as_str(), f.check.as_str()))
            .collect()
    }

    #[test]
    fn clean_hosts_have_no_errors_or_warnings() {
        let f = evaluate(&[rep(1), rep(2)]);
        assert!(f.iter().all(|f| f.severity == Severity::Info), "{f:?}");
    }

    #[test]
    fn blocked_port_is_reported_on_the_dropping_host() {
        let mut b = rep(2);
        b.reach = vec![("10.0.0.1".into(), 2377, PortState::Filtered)];
        let mut c = rep(3);
        c.reach = vec![
            ("10.0.0.1".into(), 2377, PortState::Filtered),
            ("10.0.0.2".into(), 2377, PortState::Closed),
        ];
        let f = evaluate(&[rep(1), b, c]);
        assert_eq!(errors(&f), vec![("node1", "port")]);
        let e = f.iter().find(|f| f.check == "port").unwrap();
        assert!(
            e.message.contains("2377/tcp on node1") && e.message.contains("node2, node3"),
            "{e:?}"
        );
        assert!(e.fix.as_ref().unwrap().contains("swarmdeck firewall"));
    }

    #[test]
    fn rejected_port_is_reported_as_refused_by_a_firewall() {
        let mut b = rep(2);
        b.reach = vec![("10.0.0.1".into(), 7946, PortState::Rejected)];
        let f = evaluate(&[rep(1), b]);
        assert_eq!(errors(&f), vec![("node1", "port")]);
        let e = f.iter().find(|f| f.check == "port").unwrap();
        assert!(
            e.message.contains("7946/tcp on node1 is refused to node2"),
            "{e:?}"
        );
        assert!(e.evidence.contains("no route to host"), "{e:?}");
    }

    #[test]
    fn clones_skew_mtu_and_encryption() {
        let mut a = rep(1);
        let mut b = rep(2);
        b.machine_id = a.machine_id.clone();
        b.clock_skew = Some(-5.0);
        a.mtu = Some(1450);
        a.encryption = Some(Err("the kernel lacks CONFIG_INET_ESP".into()));
        let f = evaluate(&[a, b]);
        assert_eq!(
            errors(&f),
            vec![("node1", "duplicate"), ("node2", "duplicate")]
        );
        let warn: Vec<(&str, &str)> = f
            .iter()
            .filter(|f| f.severity == Severity::Warning)
            .map(|f| (f.host.as_str(), f.check.as_str()))
            .collect();
        assert_eq!(
            warn,
            vec![
                ("node1", "mtu"),
                ("node1", "encryption"),
                ("node2", "clock")
            ]
        );
        let text = crate::preflight::group::render(&crate::preflight::group::group(&f), 2);
        assert!(text.contains("--mtu 1400"), "{text}");
    }

    #[test]
    fn different_swarms_are_errors() {
        let mut a = rep(1);
        let mut b = rep(2);
        a.cluster_id = Some("c1".into());
        b.cluster_id = Some("c2".into());
        assert_eq!(errors(&evaluate(&[a, b])).len(), 2);
    }
}
