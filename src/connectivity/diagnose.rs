//! From results to findings: a pure function, so every rule is unit-tested with constructed
//! result sets.
//!
//! The signatures, verified in the practice lab:
//! - 4789/udp blocked on X: names still resolve to and from X (gossip is fine), but ICMP and
//!   TCP over the overlay fail for every pair involving X.
//! - 7946 blocked on X: X's endpoints never reach the others' network database, so names do
//!   not resolve to or from X, and the data plane to X fails as well (no VTEP entry).
//! - encrypted overlay on a kernel without ESP/GCM: names resolve, all data traffic is lost.
//! - MTU: small pings pass, full-size ones fail.

use std::collections::BTreeSet;

use super::model::{
    Cell, Check, Finding, FindingKind, HostState, Link, Outcome, Report, Severity, UnderlayCheck,
};
use super::parse::{BlockingRule, EspSupport};

/// All findings for a report, most severe first.
pub fn diagnose(r: &Report) -> Vec<Finding> {
    let mut out = Vec::new();
    host_states(r, &mut out);
    let explained = encryption(r, &mut out);
    let mut covered: BTreeSet<(String, u16)> = BTreeSet::new();
    gossip(r, &mut out, &mut covered);
    if !explained {
        vxlan(r, &mut out, &mut covered);
    }
    underlay_ports(r, &mut out, &mut covered);
    firewall_only(r, &mut out, &covered);
    mtu(r, &mut out);
    dns(r, &mut out);
    incomplete(r, &mut out);
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

fn host_states(r: &Report, out: &mut Vec<Finding>) {
    for h in &r.hosts {
        let err = h.error.clone().unwrap_or_default();
        let (kind, title, fix) = match h.state {
            HostState::Ok => {
                if h.probe.is_none() && r.network.is_some() && r.error.is_none() && !err.is_empty()
                {
                    out.push(Finding {
                        kind: FindingKind::ProbeFailed,
                        severity: Severity::Error,
                        hosts: vec![h.host.clone()],
                        port: String::new(),
                        title: format!("{}: the probe container could not be started", h.host),
                        evidence: vec![err],
                        fix: "see the error above; the host's pairs were not tested".into(),
                    });
                }
                continue;
            }
            HostState::SshDown => (
                FindingKind::HostUnreachable,
                format!("{} is unreachable over SSH", h.host),
                format!(
                    "check that the machine is up and sshd listens: `ssh -v {}`",
                    h.address
                ),
            ),
            HostState::EngineDown => (
                FindingKind::EngineDown,
                format!("{}: the Docker engine does not answer", h.host),
                "start it on the host: `sudo systemctl start docker` (see `journalctl -u docker`)"
                    .into(),
            ),
            HostState::EngineLost => (
                FindingKind::EngineDown,
                format!("{}: the Docker engine stopped answering during the run", h.host),
                "check and restart it: `sudo systemctl restart docker` (see `journalctl -u docker`); \
                 the next run removes the probe left there"
                    .into(),
            ),
            HostState::NotInSwarm => (
                FindingKind::NotInSwarm,
                format!("{} is not an active member of the swarm", h.host),
                "join it: on a manager run `docker swarm join-token worker`, then run the printed \
                 `docker swarm join …` on this host"
                    .into(),
            ),
        };
        out.push(Finding {
            kind,
            severity: Severity::Error,
            hosts: vec![h.host.clone()],
            port: String::new(),
            title,
            evidence: if err.is_empty() { vec![] } else { vec![err] },
            fix,
        });
    }
}

/// Cells where the given check was actually decided (pass or fail).
fn decided(r: &Report, pick: fn(&Cell) -> &Check) -> Vec<&Cell> {
    r.cells
        .iter()
        .filter(|c| matches!(pick(c).outcome, Outcome::Pass | Outcome::Fail))
        .collect()
}

/// Hosts that explain every failure of a check: each fails on all its decided pairs, and
/// either some pair without it passes or `evidence` (a firewall rule) points at it. Cells
/// involving `skip` hosts (already explained) are ignored. Empty when the failures don't
/// single out hosts.
fn isolated(
    r: &Report,
    pick: fn(&Cell) -> &Check,
    skip: &[String],
    evidence: impl Fn(&str) -> bool,
) -> Vec<String> {
    let cells: Vec<&Cell> = decided(r, pick)
        .into_iter()
        .filter(|c| !skip.iter().any(|h| c.involves(h)))
        .collect();
    let failing: Vec<&&Cell> = cells.iter().filter(|c| pick(c).failed()).collect();
    if failing.is_empty() {
        return vec![];
    }
    let names: BTreeSet<&str> = cells
        .iter()
        .flat_map(|c| [c.from.as_str(), c.to.as_str()])
        .collect();
    let culprits: Vec<String> = names
        .into_iter()
        .filter(|h| {
            let mine: Vec<&&Cell> = cells.iter().filter(|c| c.involves(h)).collect();
            let others_pass = cells.iter().any(|c| !c.involves(h) && pick(c).passed());
            !mine.is_empty()
                && mine.iter().all(|c| pick(c).failed())
                && (others_pass || evidence(h))
        })
        .map(str::to_string)
        .collect();
    let explained = failing
        .iter()
        .all(|c| culprits.iter().any(|h| c.involves(h)));
    if explained { culprits } else { vec![] }
}

fn rules_on<'a>(r: &'a Report, host: &str, port: u16) -> Vec<&'a BlockingRule> {
    r.host(host)
        .and_then(|h| h.firewall.as_ref())
        .map(|f| f.blocking.iter().filter(|b| b.port == port).collect())
        .unwrap_or_default()
}

fn failing_pairs(r: &Report, host: &str, pick: fn(&Cell) -> &Check, what: &str) -> String {
    let pairs: Vec<String> = r
        .cells
        .iter()
        .filter(|c| c.involves(host) && pick(c).failed())
        .map(|c| format!("{}→{}", c.from, c.to))
        .collect();
    format!("{what} fails on {}", pairs.join(", "))
}

fn underlay_to<'a>(r: &'a Report, host: &str, port: u16) -> Vec<&'a UnderlayCheck> {
    r.underlay
        .iter()
        .filter(|u| u.to == host && u.port == port && u.proto == "tcp")
        .collect()
}

fn remove_fix(rules: &[&BlockingRule], port: u16, proto: &str) -> String {
    let exact: Vec<String> = rules.iter().filter_map(|r| r.remove.clone()).collect();
    if exact.is_empty() {
        format!(
            "allow {port}/{proto} from the other swarm hosts, e.g. `iptables -I INPUT -p {proto} \
             --dport {port} -j ACCEPT` (or `ufw allow {port}/{proto}`, `firewall-cmd --add-port \
             {port}/{proto} --permanent`)"
        )
    } else {
        format!(
            "remove the rule{}: `{}` (and from the saved firewall config)",
            if exact.len() > 1 { "s" } else { "" },
            exact.join("` ; `")
        )
    }
}

fn gossip(r: &Report, out: &mut Vec<Finding>, covered: &mut BTreeSet<(String, u16)>) {
    for host in isolated(r, |c| &c.dns, &[], |h| !rules_on(r, h, 7946).is_empty()) {
        let rules = rules_on(r, &host, 7946);
        let mut evidence = vec![failing_pairs(
            r,
            &host,
            |c| &c.dns,
            "name resolution of the peer probe",
        )];
        evidence.extend(
            rules
                .iter()
                .map(|b| format!("firewall on {host}: {}", b.rule)),
        );
        let blocked_tcp: Vec<String> = underlay_to(r, &host, 7946)
            .iter()
            .filter(|u| u.check.failed())
            .map(|u| format!("7946/tcp {}→{host}: {}", u.from, u.check.detail))
            .collect();
        evidence.extend(blocked_tcp);
        evidence.push(
            "Docker's embedded DNS and the overlay's peer table are spread by gossip on 7946; a \
             host that cannot gossip is invisible to the others"
                .into(),
        );
        let fix = if rules.is_empty() {
            remove_fix(&[], 7946, "tcp").replace(
                "allow 7946/tcp",
                "allow 7946/tcp and 7946/udp (both are needed)",
            )
        } else {
            remove_fix(&rules, 7946, "tcp")
        };
        covered.insert((host.clone(), 7946));
        // A host that cannot gossip also fails the data plane; don't blame 4789 for it.
        covered.insert((host.clone(), 4789));
        out.push(Finding {
            kind: FindingKind::GossipBlocked,
            severity: Severity::Error,
            hosts: vec![host.clone()],
            port: "7946/tcp+udp".into(),
            title: format!(
                "{host}: gossip (7946/tcp+udp) is blocked; names don't resolve to or from it"
            ),
            evidence,
            fix,
        });
    }
}

fn vxlan(r: &Report, out: &mut Vec<Finding>, covered: &mut BTreeSet<(String, u16)>) {
    let skip: Vec<String> = covered
        .iter()
        .filter(|(_, p)| *p == 4789)
        .map(|(h, _)| h.clone())
        .collect();
    let fw = |h: &str| !rules_on(r, h, 4789).is_empty();
    let icmp = isolated(r, |c| &c.icmp, &skip, fw);
    let tcp = isolated(r, |c| &c.tcp, &skip, fw);
    for host in icmp.iter().filter(|h| tcp.contains(h)) {
        if covered.contains(&(host.clone(), 4789)) {
            continue;
        }
        let rules = rules_on(r, host, 4789);
        let mut evidence = vec![
            failing_pairs(r, host, |c| &c.icmp, "ICMP over the overlay"),
            failing_pairs(r, host, |c| &c.tcp, "TCP over the overlay"),
        ];
        let dns_ok = r
            .cells
            .iter()
            .filter(|c| c.involves(host))
            .all(|c| !c.dns.failed());
        if dns_ok {
            evidence.push("names still resolve, so gossip on 7946 works".into());
        }
        let underlay_ok = underlay_to(r, host, 7946)
            .iter()
            .chain(underlay_to(r, host, 2377).iter())
            .any(|u| u.check.passed());
        if underlay_ok {
            evidence.push(format!("the underlay reaches {host} over TCP"));
        }
        evidence.extend(
            rules
                .iter()
                .map(|b| format!("firewall on {host}: {}", b.rule)),
        );
        if rules.is_empty() {
            evidence.push(format!(
                "no rule on {host} names 4789; look for a cloud security group or a firewall \
                 in between"
            ));
        }
        covered.insert((host.clone(), 4789));
        out.push(Finding {
            kind: FindingKind::VxlanBlocked,
            severity: Severity::Error,
            hosts: vec![host.clone()],
            port: "4789/udp".into(),
            title: format!("{host}: overlay data traffic (VXLAN, 4789/udp) does not get through"),
            evidence,
            fix: remove_fix(&rules, 4789, "udp"),
        });
    }
    // Data plane failing without a single culprit.
    let bad: Vec<&Cell> = r
        .cells
        .iter()
        .filter(|c| c.icmp.failed() && c.tcp.failed())
        .filter(|c| !covered.iter().any(|(h, p)| *p == 4789 && c.involves(h)))
        .collect();
    if !bad.is_empty() {
        let mut hosts: Vec<String> = r
            .hosts
            .iter()
            .filter(|h| !rules_on(r, &h.host, 4789).is_empty())
            .map(|h| h.host.clone())
            .collect();
        let mut evidence = vec![format!(
            "ICMP and TCP fail on {}",
            bad.iter()
                .map(|c| format!("{}→{}", c.from, c.to))
                .collect::<Vec<_>>()
                .join(", ")
        )];
        for h in &hosts {
            covered.insert((h.clone(), 4789));
            evidence.extend(
                rules_on(r, h, 4789)
                    .iter()
                    .map(|b| format!("firewall on {h}: {}", b.rule)),
            );
        }
        if hosts.is_empty() {
            hosts = bad
                .iter()
                .flat_map(|c| [c.from.clone(), c.to.clone()])
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
        }
        out.push(Finding {
            kind: FindingKind::OverlayFailing,
            severity: Severity::Error,
            hosts,
            port: "4789/udp".into(),
            title: "overlay data traffic fails between several hosts".into(),
            evidence,
            fix: "open 4789/udp between all swarm hosts (host firewalls and anything in between), \
                  then run the test again"
                .into(),
        });
    }
}

fn encryption(r: &Report, out: &mut Vec<Finding>) -> bool {
    let Some(net) = r.network.as_ref().filter(|n| n.encrypted) else {
        return false;
    };
    let lacking: Vec<&str> = r
        .hosts
        .iter()
        .filter(|h| h.crypto.as_ref().map(|c| c.esp) == Some(EspSupport::Missing))
        .map(|h| h.host.as_str())
        .collect();
    if lacking.is_empty() {
        return false;
    }
    let mut evidence: Vec<String> = r
        .hosts
        .iter()
        .filter(|h| lacking.contains(&h.host.as_str()))
        .filter_map(|h| {
            let c = h.crypto.as_ref()?;
            Some(format!("{}: {}", h.host, c.evidence.join("; ")))
        })
        .collect();
    let data: Vec<&Cell> = r.cells.iter().filter(|c| !c.icmp.passed()).collect();
    evidence.push(format!(
        "{} of {} overlay pairs fail ICMP on encrypted network {}",
        data.len(),
        r.cells.len(),
        net.name
    ));
    out.push(Finding {
        kind: FindingKind::EncryptionUnsupported,
        severity: Severity::Error,
        hosts: lacking.iter().map(|s| s.to_string()).collect(),
        port: "ESP (IP protocol 50)".into(),
        title: format!(
            "network {} is encrypted, but the kernel of {} lacks IPsec ESP/AES-GCM: traffic is \
             silently dropped",
            net.name,
            lacking.join(", ")
        ),
        evidence,
        fix: format!(
            "use a kernel with CONFIG_INET_ESP and CONFIG_CRYPTO_GCM (or `modprobe esp4 gcm` where \
             they are modules), or recreate the network without encryption: `docker network rm \
             {0}` then `docker network create -d overlay --attachable {0}`",
            net.name
        ),
    });
    true
}

fn underlay_ports(r: &Report, out: &mut Vec<Finding>, covered: &mut BTreeSet<(String, u16)>) {
    let targets: BTreeSet<(&str, u16)> = r
        .underlay
        .iter()
        .filter(|u| u.proto == "tcp")
        .map(|u| (u.to.as_str(), u.port))
        .collect();
    for (host, port) in targets {
        if covered.contains(&(host.to_string(), port)) {
            continue;
        }
        let checks = underlay_to(r, host, port);
        let failed: Vec<&&UnderlayCheck> = checks.iter().filter(|u| u.check.failed()).collect();
        if failed.is_empty() {
            continue;
        }
        let rules = rules_on(r, host, port);
        let mut evidence: Vec<String> = failed
            .iter()
            .map(|u| format!("{port}/tcp {}→{host}: {}", u.from, u.check.detail))
            .collect();
        evidence.extend(
            rules
                .iter()
                .map(|b| format!("firewall on {host}: {}", b.rule)),
        );
        let (kind, what) = if port == 2377 {
            (
                FindingKind::ControlPlaneBlocked,
                "the swarm control plane (2377/tcp) of this manager",
            )
        } else {
            (FindingKind::GossipBlocked, "gossip (7946/tcp)")
        };
        covered.insert((host.to_string(), port));
        out.push(Finding {
            kind,
            severity: if failed.len() == checks.len() {
                Severity::Error
            } else {
                Severity::Warning
            },
            hosts: vec![host.to_string()],
            port: format!("{port}/tcp"),
            title: format!(
                "{host}: {what} is not reachable from {} host(s)",
                failed.len()
            ),
            evidence,
            fix: remove_fix(&rules, port, "tcp"),
        });
    }
}

/// Rules that block swarm ports even if this run did not trip over them (yet).
fn firewall_only(r: &Report, out: &mut Vec<Finding>, covered: &BTreeSet<(String, u16)>) {
    for h in &r.hosts {
        let Some(fw) = &h.firewall else { continue };
        let ports: BTreeSet<u16> = fw.blocking.iter().map(|b| b.port).collect();
        for port in ports {
            if covered.contains(&(h.host.clone(), port)) {
                continue;
            }
            let rules: Vec<&BlockingRule> = fw.blocking.iter().filter(|b| b.port == port).collect();
            out.push(Finding {
                kind: match port {
                    2377 => FindingKind::ControlPlaneBlocked,
                    7946 => FindingKind::GossipBlocked,
                    _ => FindingKind::VxlanBlocked,
                },
                severity: Severity::Warning,
                hosts: vec![h.host.clone()],
                port: format!("{port}/{}", rules[0].proto),
                title: format!("{}: a firewall rule blocks swarm port {port}", h.host),
                evidence: rules.iter().map(|b| b.rule.clone()).collect(),
                fix: remove_fix(&rules, port, &rules[0].proto),
            });
        }
    }
}

fn mtu(r: &Report, out: &mut Vec<Finding>) {
    let bad: Vec<&Cell> = r
        .cells
        .iter()
        .filter(|c| c.icmp.passed() && c.large.failed())
        .collect();
    if bad.is_empty() {
        return;
    }
    let hosts: BTreeSet<String> = bad
        .iter()
        .flat_map(|c| [c.from.clone(), c.to.clone()])
        .collect();
    let overlay_mtu = r
        .hosts
        .iter()
        .filter_map(|h| h.probe.as_ref()?.mtu)
        .max()
        .unwrap_or(1450);
    let needed = overlay_mtu + 50;
    let net = r
        .network
        .as_ref()
        .map(|n| n.name.clone())
        .unwrap_or_else(|| "NETWORK".into());
    let mut evidence: Vec<String> = bad
        .iter()
        .map(|c| {
            format!(
                "{}→{}: small pings pass, full-size fails ({})",
                c.from, c.to, c.large.detail
            )
        })
        .collect();
    evidence.push(format!(
        "the overlay MTU is {overlay_mtu}; VXLAN adds 50 bytes, so the path between the hosts \
         must carry {needed} bytes"
    ));
    let culprit = narrow_path(r, &bad, needed);
    let lower = |m: u32| m.saturating_sub(50).min(overlay_mtu.saturating_sub(100));
    let (title, fix, hosts) = match &culprit {
        Some((host, Some(link))) => (
            format!(
                "{host}'s path is too small for the overlay: its {} has MTU {}, the overlay \
                 needs {needed}",
                link.dev, link.mtu
            ),
            format!(
                "on {host}, raise the MTU of {} to {needed} (`ip link set {} mtu {needed}`, and \
                 in its network configuration), or make the overlay MTU {} (`docker network \
                 create -d overlay --attachable --opt com.docker.network.driver.mtu={} {net}`, \
                 recreating the network)",
                link.dev,
                link.dev,
                lower(link.mtu),
                lower(link.mtu)
            ),
            vec![host.clone()],
        ),
        Some((host, None)) => (
            format!("large packets to and from {host} are lost on the overlay: an MTU mismatch"),
            format!(
                "check the MTU of {host}'s interfaces and the path to it (`ip link` on \
                 {host}): it must carry {needed} bytes; or lower the overlay MTU with \
                 `--opt com.docker.network.driver.mtu={}` when recreating {net}",
                overlay_mtu.saturating_sub(100)
            ),
            vec![host.clone()],
        ),
        None => (
            "large packets are lost on the overlay: an MTU mismatch".into(),
            format!(
                "make the overlay MTU 50 below the smallest underlay MTU, e.g. `docker network \
                 create -d overlay --attachable --opt com.docker.network.driver.mtu={} {net}` \
                 (recreate the network), or raise the MTU of the path between the hosts",
                overlay_mtu.saturating_sub(100)
            ),
            hosts.into_iter().collect(),
        ),
    };
    if let Some((host, Some(link))) = &culprit {
        evidence.push(format!("{host}: {} has MTU {}", link.dev, link.mtu));
    }
    out.push(Finding {
        kind: FindingKind::MtuMismatch,
        severity: Severity::Error,
        hosts,
        port: String::new(),
        title,
        evidence,
        fix,
    });
}

/// The host at fault for lost large packets: the one whose interface is too small for
/// the overlay, else the one host that every failing pair involves.
fn narrow_path(r: &Report, bad: &[&Cell], needed: u32) -> Option<(String, Option<Link>)> {
    let small = r
        .hosts
        .iter()
        .filter_map(|h| Some((h.host.clone(), h.link.clone()?)))
        .filter(|(_, l)| l.mtu < needed)
        .min_by_key(|(_, l)| l.mtu);
    if let Some((host, link)) = small {
        return Some((host, Some(link)));
    }
    let mut common: Option<BTreeSet<&str>> = None;
    for c in bad {
        let pair: BTreeSet<&str> = [c.from.as_str(), c.to.as_str()].into();
        common = Some(match common {
            None => pair,
            Some(k) => k.intersection(&pair).copied().collect(),
        });
    }
    match common?.into_iter().collect::<Vec<_>>().as_slice() {
        [only] => Some((only.to_string(), None)),
        _ => None,
    }
}

fn dns(r: &Report, out: &mut Vec<Finding>) {
    let gossip_hosts: Vec<&String> = out
        .iter()
        .filter(|f| f.kind == FindingKind::GossipBlocked && f.port.contains('+'))
        .flat_map(|f| f.hosts.iter())
        .collect();
    let bad: Vec<&Cell> = r
        .cells
        .iter()
        .filter(|c| c.dns.failed() && c.icmp.passed())
        .filter(|c| !gossip_hosts.iter().any(|h| c.involves(h)))
        .collect();
    if bad.is_empty() {
        return;
    }
    let hosts: BTreeSet<String> = bad.iter().map(|c| c.from.clone()).collect();
    out.push(Finding {
        kind: FindingKind::DnsFailing,
        severity: Severity::Error,
        hosts: hosts.into_iter().collect(),
        port: String::new(),
        title: "service discovery fails while IP traffic works".into(),
        evidence: bad
            .iter()
            .map(|c| {
                format!(
                    "{}→{}: ping by IP passes, name lookup fails ({})",
                    c.from, c.to, c.dns.detail
                )
            })
            .collect(),
        fix: "containers must use Docker's embedded DNS (127.0.0.11): don't override \
              /etc/resolv.conf or --dns in them; if it still fails, restart Docker on the hosts \
              named (`sudo systemctl restart docker`) and check 7946/tcp+udp both ways"
            .into(),
    });
}

fn incomplete(r: &Report, out: &mut Vec<Finding>) {
    if let Some(why) = &r.interrupted {
        let skipped = r
            .cells
            .iter()
            .filter(|c| c.icmp.outcome == Outcome::Skipped)
            .count();
        out.push(Finding {
            kind: FindingKind::Incomplete,
            severity: Severity::Warning,
            hosts: vec![],
            port: String::new(),
            title: format!("the run stopped early: {why}"),
            evidence: vec![format!("{skipped} pair(s) were not tested")],
            fix: "run the test again; raise --timeout if hosts are slow".into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::*;
    use super::super::parse::{BlockingRule, CryptoReport, EspSupport};
    use super::*;

    fn ok() -> Check {
        Check::pass("ok", Some(0.2))
    }
    fn bad() -> Check {
        Check::fail("lost")
    }

    fn report(hosts: &[&str]) -> Report {
        let mut cells = Vec::new();
        for a in hosts {
            for b in hosts {
                if a != b {
                    cells.push(Cell {
                        from: a.to_string(),
                        to: b.to_string(),
                        dns: ok(),
                        icmp: ok(),
                        tcp: ok(),
                        large: ok(),
                    });
                }
            }
        }
        let mut underlay = Vec::new();
        for a in hosts {
            for b in hosts {
                if a != b {
                    underlay.push(UnderlayCheck {
                        from: a.to_string(),
                        to: b.to_string(),
                        port: 7946,
                        proto: "tcp".into(),
                        check: ok(),
                    });
                }
            }
        }
        Report {
            version: REPORT_VERSION,
            run_id: "t".into(),
            started_unix: 0,
            duration_ms: 0,
            source: "test".into(),
            network: Some(NetworkReport {
                name: "net".into(),
                temporary: true,
                encrypted: false,
                id: None,
            }),
            hosts: hosts
                .iter()
                .map(|h| {
                    let mut r = HostReport::new(h, "10.0.0.1");
                    r.probe = Some(Probe {
                        container: format!("p-{h}"),
                        image: "swarmdeck/probe:1".into(),
                        image_source: ImageSource::Preloaded,
                        ip: "10.0.1.2".into(),
                        mtu: Some(1450),
                    });
                    r.firewall = Some(Firewall {
                        source: "iptables".into(),
                        blocking: vec![],
                        input_policy_drop: false,
                    });
                    r
                })
                .collect(),
            cells,
            underlay,
            findings: vec![],
            interrupted: None,
            error: None,
            cleaned_up: true,
        }
    }

    fn set(r: &mut Report, host: &str, f: impl Fn(&mut Cell)) {
        for c in r.cells.iter_mut().filter(|c| c.involves(host)) {
            f(c);
        }
    }

    /// The data plane (VXLAN) fails: names resolve, nothing else gets through.
    fn data_lost(c: &mut Cell) {
        c.icmp = bad();
        c.tcp = bad();
        c.large = bad();
    }

    /// Gossip fails too: not even names resolve.
    fn all_lost(c: &mut Cell) {
        data_lost(c);
        c.dns = bad();
    }

    fn add_rule(r: &mut Report, host: &str, port: u16, proto: &str) {
        let rule = format!("-A INPUT -p {proto} -m {proto} --dport {port} -j DROP");
        let h = r.hosts.iter_mut().find(|h| h.host == host).unwrap();
        h.firewall.as_mut().unwrap().blocking.push(BlockingRule {
            port,
            proto: proto.into(),
            remove: Some(format!("iptables -D {}", &rule[3..])),
            rule,
        });
    }

    #[test]
    fn healthy_matrix_has_no_findings() {
        let r = report(&["a", "b", "c"]);
        assert!(diagnose(&r).is_empty());
    }

    #[test]
    fn vxlan_blocked_on_one_host() {
        let mut r = report(&["a", "b", "c"]);
        set(&mut r, "c", data_lost);
        add_rule(&mut r, "c", 4789, "udp");
        let f = diagnose(&r);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].kind, FindingKind::VxlanBlocked);
        assert_eq!(f[0].hosts, vec!["c"]);
        assert_eq!(f[0].port, "4789/udp");
        assert!(
            f[0].fix
                .contains("iptables -D INPUT -p udp -m udp --dport 4789 -j DROP")
        );
        assert!(
            f[0].evidence
                .iter()
                .any(|e| e.contains("names still resolve"))
        );
        // Without a visible rule it still names the host, and says where else to look.
        let mut r2 = r.clone();
        r2.hosts[2].firewall.as_mut().unwrap().blocking.clear();
        let f = diagnose(&r2);
        assert_eq!(f[0].hosts, vec!["c"]);
        assert!(f[0].fix.contains("-j ACCEPT"), "{}", f[0].fix);
    }

    #[test]
    fn gossip_on_one_host_and_vxlan_on_another() {
        let mut r = report(&["a", "b", "c"]);
        set(&mut r, "b", all_lost);
        set(&mut r, "c", data_lost);
        add_rule(&mut r, "c", 4789, "udp");
        let f = diagnose(&r);
        let got: Vec<(FindingKind, Vec<String>)> =
            f.iter().map(|f| (f.kind, f.hosts.clone())).collect();
        assert_eq!(
            got,
            vec![
                (FindingKind::GossipBlocked, vec!["b".to_string()]),
                (FindingKind::VxlanBlocked, vec!["c".to_string()]),
            ],
            "{f:#?}"
        );
    }

    #[test]
    fn gossip_blocked_on_one_host() {
        let mut r = report(&["a", "b", "c"]);
        set(&mut r, "b", all_lost);
        add_rule(&mut r, "b", 7946, "tcp");
        add_rule(&mut r, "b", 7946, "udp");
        for u in r.underlay.iter_mut().filter(|u| u.to == "b") {
            u.check = Check::fail("timed out");
        }
        let f = diagnose(&r);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].kind, FindingKind::GossipBlocked);
        assert_eq!(f[0].hosts, vec!["b"]);
        assert!(f[0].port.starts_with("7946"));
        assert!(f[0].evidence.iter().any(|e| e.contains("7946/tcp a→b")));
    }

    #[test]
    fn encrypted_overlay_without_esp() {
        let mut r = report(&["a", "b", "c"]);
        r.network.as_mut().unwrap().encrypted = true;
        r.cells.iter_mut().for_each(data_lost);
        for h in &mut r.hosts {
            h.crypto = Some(CryptoReport {
                esp: EspSupport::Missing,
                evidence: vec!["CONFIG_INET_ESP is not set in the kernel config".into()],
            });
        }
        let f = diagnose(&r);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].kind, FindingKind::EncryptionUnsupported);
        assert_eq!(f[0].hosts, vec!["a", "b", "c"]);
        assert!(f[0].fix.contains("CONFIG_INET_ESP"));
        // Same failures on a plain overlay: no crypto blame, a data-plane finding instead.
        r.network.as_mut().unwrap().encrypted = false;
        let f = diagnose(&r);
        assert_eq!(f[0].kind, FindingKind::OverlayFailing, "{f:#?}");
    }

    #[test]
    fn mtu_mismatch() {
        let mut r = report(&["a", "b", "c"]);
        for c in r.cells.iter_mut().filter(|c| c.involves("a")) {
            c.large = Check::fail("1422-byte pings: 0 of 2 answered");
        }
        let f = diagnose(&r);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].kind, FindingKind::MtuMismatch);
        // Every failing pair involves a: it is named, though its MTU is not known.
        assert_eq!(f[0].hosts, vec!["a"]);
        assert!(f[0].title.contains("to and from a"), "{}", f[0].title);
        assert!(f[0].fix.contains("com.docker.network.driver.mtu=1350"));
        // With the interfaces known, the headline names the host, interface and MTU.
        r.hosts[0].link = Some(Link {
            dev: "eth0".into(),
            mtu: 1400,
        });
        r.hosts[1].link = Some(Link {
            dev: "eth0".into(),
            mtu: 1500,
        });
        let f = diagnose(&r);
        assert_eq!(f[0].hosts, vec!["a"]);
        assert_eq!(
            f[0].title,
            "a's path is too small for the overlay: its eth0 has MTU 1400, the overlay needs 1500"
        );
        assert!(
            f[0].fix.contains("ip link set eth0 mtu 1500"),
            "{}",
            f[0].fix
        );
        assert!(f[0].fix.contains("driver.mtu=1350"), "{}", f[0].fix);
    }

    #[test]
    fn host_or_engine_down() {
        let mut r = report(&["a", "b", "c"]);
        r.hosts[1].state = HostState::SshDown;
        r.hosts[1].error = Some("b: cannot reach".into());
        r.hosts[2].state = HostState::EngineLost;
        for c in r
            .cells
            .iter_mut()
            .filter(|c| c.involves("b") || c.involves("c"))
        {
            *c = Cell::skipped(&c.from, &c.to, "host down");
        }
        let f = diagnose(&r);
        let kinds: Vec<FindingKind> = f.iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds,
            vec![FindingKind::HostUnreachable, FindingKind::EngineDown],
            "{f:#?}"
        );
        assert_eq!(f[1].hosts, vec!["c"]);
        assert!(f[1].fix.contains("systemctl"));
    }

    #[test]
    fn dns_failing_while_ip_works() {
        let mut r = report(&["a", "b", "c"]);
        for c in &mut r.cells {
            c.dns = Check::fail("no servers could be reached");
        }
        let f = diagnose(&r);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].kind, FindingKind::DnsFailing);
        assert_eq!(f[0].hosts, vec!["a", "b", "c"]);
    }

    #[test]
    fn firewall_rules_are_reported_even_without_symptoms() {
        let mut r = report(&["a", "b", "c"]);
        add_rule(&mut r, "a", 2377, "tcp");
        let f = diagnose(&r);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].kind, FindingKind::ControlPlaneBlocked);
        assert_eq!(f[0].severity, Severity::Warning);
    }

    #[test]
    fn control_plane_port_unreachable() {
        let mut r = report(&["a", "b", "c"]);
        for from in ["b", "c"] {
            r.underlay.push(UnderlayCheck {
                from: from.into(),
                to: "a".into(),
                port: 2377,
                proto: "tcp".into(),
                check: Check::fail("connection refused"),
            });
        }
        let f = diagnose(&r);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].kind, FindingKind::ControlPlaneBlocked);
        assert_eq!(f[0].severity, Severity::Error);
        assert_eq!(f[0].hosts, vec!["a"]);
    }

    #[test]
    fn interrupted_runs_say_so() {
        let mut r = report(&["a", "b"]);
        r.interrupted = Some("cancelled".into());
        r.cells[0] = Cell::skipped("a", "b", "cancelled");
        let f = diagnose(&r);
        assert_eq!(f[0].kind, FindingKind::Incomplete);
        assert!(f[0].evidence[0].contains("1 pair"));
    }
}
