//! Firewall plans: open swarm's ports (2377/tcp, 7946/tcp+udp, 4789/udp) on each host,
//! for the cluster's own addresses only, with the exact commands of the host's backend
//! (firewalld, ufw, nftables, iptables), made persistent, shown before they are applied,
//! and verified after.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::cluster::Cluster;
use crate::preflight::{self, Backend};
use crate::ssh::RemoteCommand;
use crate::swarm::plan::quote;
use crate::swarm::{AuditEntry, AuditLog, SwarmError};

/// (protocol, port) pairs swarm needs between its hosts.
pub const SWARM_PORTS: [(&str, u16); 4] =
    [("tcp", 2377), ("tcp", 7946), ("udp", 7946), ("udp", 4789)];

/// Marks the rules swarmdeck added, so they can be found again.
const TAG: &str = "swarmdeck";

/// One command of a firewall plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FwStep {
    pub description: String,
    pub argv: Vec<String>,
    /// Skip the step when this command succeeds (the rule is already there).
    pub check: Option<Vec<String>>,
    /// Makes the rules survive a reboot (skipped with `persist = false`).
    pub persist: bool,
}

impl FwStep {
    fn new(description: impl Into<String>, argv: &[&str]) -> Self {
        FwStep {
            description: description.into(),
            argv: argv.iter().map(|s| s.to_string()).collect(),
            check: None,
            persist: false,
        }
    }

    fn check(mut self, argv: &[&str]) -> Self {
        self.check = Some(argv.iter().map(|s| s.to_string()).collect());
        self
    }

    fn persisting(mut self) -> Self {
        self.persist = true;
        self
    }

    /// The command as a user would type it.
    pub fn shell(&self) -> String {
        self.argv
            .iter()
            .map(|a| quote(a).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The plan for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPlan {
    pub host: String,
    pub backend: Backend,
    pub steps: Vec<FwStep>,
    pub notes: Vec<String>,
}

/// The commands that open swarm's ports on a host with `backend` to `peers`.
pub fn plan_host(host: &str, backend: Backend, peers: &[Ipv4Addr]) -> HostPlan {
    let mut p = HostPlan {
        host: host.to_string(),
        backend,
        steps: Vec::new(),
        notes: Vec::new(),
    };
    if peers.is_empty() {
        p.notes.push("no peers: nothing to open".into());
        return p;
    }
    match backend {
        Backend::None => p.notes.push("no active firewall: nothing to open".into()),
        Backend::Iptables => iptables(&mut p, peers),
        Backend::Firewalld => firewalld(&mut p, peers),
        Backend::Ufw => ufw(&mut p, peers),
        Backend::Nftables => nftables(&mut p, peers),
    }
    p
}

fn iptables(p: &mut HostPlan, peers: &[Ipv4Addr]) {
    for peer in peers {
        let src = format!("{peer}/32");
        for (proto, port) in SWARM_PORTS {
            let port = port.to_string();
            let rule = [
                "-p",
                proto,
                "-s",
                &src,
                "--dport",
                &port,
                "-m",
                "comment",
                "--comment",
                TAG,
                "-j",
                "ACCEPT",
            ];
            let mut add = vec!["iptables", "-I", "INPUT", "1"];
            add.extend(rule);
            let mut chk = vec!["iptables", "-C", "INPUT"];
            chk.extend(rule);
            p.steps
                .push(FwStep::new(format!("allow {port}/{proto} from {peer}"), &add).check(&chk));
        }
    }
    p.steps.push(
        FwStep::new(
            "save the rules for the next boot (iptables-persistent / netfilter-persistent)",
            &[
                "sh",
                "-c",
                "mkdir -p /etc/iptables && iptables-save > /etc/iptables/rules.v4",
            ],
        )
        .persisting(),
    );
    p.notes.push(
        "on RHEL-like hosts without iptables-persistent use `service iptables save` instead".into(),
    );
}

fn firewalld(p: &mut HostPlan, peers: &[Ipv4Addr]) {
    for peer in peers {
        for (proto, port) in SWARM_PORTS {
            let rule = format!(
                "rule family=\"ipv4\" source address=\"{peer}/32\" port port=\"{port}\" protocol=\"{proto}\" accept"
            );
            let add = format!("--add-rich-rule={rule}");
            let query = format!("--query-rich-rule={rule}");
            p.steps.push(
                FwStep::new(
                    format!("allow {port}/{proto} from {peer} (permanent)"),
                    &["firewall-cmd", "--permanent", &add],
                )
                .check(&["firewall-cmd", "--permanent", &query])
                .persisting(),
            );
        }
    }
    p.steps.push(FwStep::new(
        "load the permanent rules",
        &["firewall-cmd", "--reload"],
    ));
}

fn ufw(p: &mut HostPlan, peers: &[Ipv4Addr]) {
    for peer in peers {
        let peer = peer.to_string();
        for (proto, port) in SWARM_PORTS {
            let port = port.to_string();
            p.steps.push(FwStep::new(
                format!("allow {port}/{proto} from {peer} (ufw keeps it across reboots)"),
                &[
                    "ufw", "allow", "proto", proto, "from", &peer, "to", "any", "port", &port,
                    "comment", TAG,
                ],
            ));
        }
    }
}

/// Writes every table except the x_tables-named ones iptables-nft manages (Docker's) to
/// /etc/nftables.conf, checked with `nft -c` before it replaces the old file.
const NFT_SAVE: &str = "f=/etc/nftables.conf; { echo '#!/usr/sbin/nft -f'; echo 'flush ruleset'; \
nft list tables | while read -r _ fam name; do \
case \"$fam:$name\" in inet:*) ;; *:filter|*:nat|*:mangle|*:raw|*:security|*:broute) continue;; esac; \
nft list table \"$fam\" \"$name\"; done; } > \"$f.new\" && nft -c -f \"$f.new\" && mv \"$f.new\" \"$f\"";

fn nftables(p: &mut HostPlan, peers: &[Ipv4Addr]) {
    let set = format!(
        "{{ {} }}",
        peers
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let has = format!("nft list chain inet filter input | grep -q 'comment \"{TAG}\"'");
    for (proto, ports) in [("tcp", "{ 2377, 7946 }"), ("udp", "{ 7946, 4789 }")] {
        p.steps.push(
            FwStep::new(
                format!("accept {proto} {ports} from the cluster's hosts"),
                &[
                    "nft",
                    "insert",
                    "rule",
                    "inet",
                    "filter",
                    "input",
                    "ip",
                    "saddr",
                    &set,
                    proto,
                    "dport",
                    ports,
                    "accept",
                    "comment",
                    &format!("\"{TAG}\""),
                ],
            )
            .check(&[
                "sh",
                "-c",
                &format!("{has} && nft list chain inet filter input | grep -q '{proto} dport'"),
            ]),
        );
    }
    p.steps.push(
        FwStep::new(
            "save the native nftables tables to /etc/nftables.conf (loaded at boot by \
             nftables.service); Docker's iptables-nft tables are left to Docker, which \
             recreates them when it starts",
            &["sh", "-c", NFT_SAVE],
        )
        .persisting(),
    );
    p.notes.push(
        "assumes the input chain is `inet filter input` (Debian's default nftables.conf)".into(),
    );
}

/// Plans for every host from a preflight report: each host opens its ports to all others.
pub fn plan(report: &preflight::Report, only: Option<&str>) -> Vec<HostPlan> {
    let ips: Vec<(String, Ipv4Addr)> = report
        .hosts
        .iter()
        .filter_map(|h| Some((h.host.clone(), h.ip?)))
        .collect();
    report
        .hosts
        .iter()
        .filter(|h| only.is_none_or(|o| o == h.host))
        .map(|h| {
            let peers: Vec<Ipv4Addr> = ips
                .iter()
                .filter(|(n, _)| *n != h.host)
                .map(|(_, ip)| *ip)
                .collect();
            match h.backend {
                Some(b) => plan_host(&h.host, b, &peers),
                None => HostPlan {
                    host: h.host.clone(),
                    backend: Backend::None,
                    steps: Vec::new(),
                    notes: vec![format!(
                        "not checked: {}",
                        h.error.as_deref().unwrap_or("no preflight data")
                    )],
                },
            }
        })
        .collect()
}

/// Plans as shown to users.
pub fn render(plans: &[HostPlan], persist: bool) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for p in plans {
        let _ = writeln!(s, "{} ({}):", p.host, p.backend.as_str());
        for st in &p.steps {
            let skip = if st.persist && !persist {
                " [skipped: --no-persist]"
            } else {
                ""
            };
            let _ = writeln!(s, "  - {}{skip}\n      $ {}", st.description, st.shell());
        }
        for n in &p.notes {
            let _ = writeln!(s, "  note: {n}");
        }
    }
    s
}

/// Applies the plans (hosts in parallel, steps in order), skipping rules already present
/// and, unless `persist`, the persistence steps. Every command is recorded in `audit`.
pub async fn apply(
    cluster: &Cluster,
    plans: &[HostPlan],
    persist: bool,
    audit: &AuditLog,
) -> Result<usize, SwarmError> {
    let results = futures_util::future::join_all(
        plans.iter().map(|p| apply_host(cluster, p, persist, audit)),
    )
    .await;
    let mut done = 0;
    for r in results {
        done += r?;
    }
    Ok(done)
}

async fn apply_host(
    cluster: &Cluster,
    p: &HostPlan,
    persist: bool,
    audit: &AuditLog,
) -> Result<usize, SwarmError> {
    let Some(spec) = cluster.inventory().host(&p.host) else {
        return Ok(0);
    };
    let session = cluster.pool().session(spec).await?;
    let mut done = 0;
    for st in p.steps.iter().filter(|s| persist || !s.persist) {
        if let Some(chk) = &st.check {
            let c = RemoteCommand::new(chk.clone())
                .sudo(spec.sudo)
                .timeout(Duration::from_secs(30));
            if session.exec(&c).await.is_ok_and(|o| o.success()) {
                continue;
            }
        }
        let c = RemoteCommand::new(st.argv.clone())
            .sudo(spec.sudo)
            .timeout(Duration::from_secs(60));
        let out = session.exec(&c).await?;
        let outcome = if out.success() {
            "ok".to_string()
        } else {
            format!("failed: {}", out.stderr_lossy().trim())
        };
        audit.append(&AuditEntry {
            time: crate::snapshot::now_secs(),
            host: p.host.clone(),
            target: crate::swarm::state::target_of(spec),
            step: st.description.clone(),
            cli: st.shell(),
            outcome: outcome.clone(),
            token_from: None,
        })?;
        if !out.success() {
            return Err(SwarmError::Step {
                host: p.host.clone(),
                step: st.description.clone(),
                message: outcome,
                fix: format!("run `{}` on the host to see why", st.shell()),
            });
        }
        done += 1;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers() -> Vec<Ipv4Addr> {
        vec![Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3)]
    }

    #[test]
    fn iptables_plan_inserts_tagged_rules_per_peer_and_saves() {
        let p = plan_host("node1", Backend::Iptables, &peers());
        assert_eq!(p.steps.len(), 2 * 4 + 1);
        assert_eq!(
            p.steps[0].shell(),
            "iptables -I INPUT 1 -p tcp -s 10.0.0.2/32 --dport 2377 -m comment --comment swarmdeck -j ACCEPT"
        );
        assert_eq!(
            p.steps[0].check.as_ref().unwrap().join(" "),
            "iptables -C INPUT -p tcp -s 10.0.0.2/32 --dport 2377 -m comment --comment swarmdeck -j ACCEPT"
        );
        assert!(
            p.steps
                .iter()
                .any(|s| s.shell().contains("udp -s 10.0.0.3/32 --dport 4789"))
        );
        let last = p.steps.last().unwrap();
        assert!(
            last.persist
                && last
                    .shell()
                    .contains("iptables-save > /etc/iptables/rules.v4")
        );
    }

    #[test]
    fn firewalld_plan_uses_permanent_rich_rules_then_reload() {
        let p = plan_host("node1", Backend::Firewalld, &peers());
        assert_eq!(
            p.steps[0].shell(),
            "firewall-cmd --permanent '--add-rich-rule=rule family=\"ipv4\" source address=\"10.0.0.2/32\" port port=\"2377\" protocol=\"tcp\" accept'"
        );
        assert!(p.steps[0].check.as_ref().unwrap()[2].starts_with("--query-rich-rule="));
        assert_eq!(p.steps.last().unwrap().shell(), "firewall-cmd --reload");
        assert_eq!(p.steps.len(), 2 * 4 + 1);
    }

    #[test]
    fn ufw_plan_allows_from_each_peer() {
        let p = plan_host("node1", Backend::Ufw, &peers());
        assert_eq!(p.steps.len(), 8);
        assert_eq!(
            p.steps[3].shell(),
            "ufw allow proto udp from 10.0.0.2 to any port 4789 comment swarmdeck"
        );
    }

    #[test]
    fn nftables_plan_inserts_into_input_with_peer_set_and_saves() {
        let p = plan_host("node1", Backend::Nftables, &peers());
        assert_eq!(
            p.steps[0].shell(),
            "nft insert rule inet filter input ip saddr '{ 10.0.0.2, 10.0.0.3 }' tcp dport '{ 2377, 7946 }' accept comment '\"swarmdeck\"'"
        );
        assert!(p.steps[1].shell().contains("udp dport '{ 7946, 4789 }'"));
        assert!(p.steps[2].persist && p.steps[2].shell().contains("/etc/nftables.conf"));
    }

    #[test]
    fn no_firewall_no_steps() {
        let p = plan_host("node1", Backend::None, &peers());
        assert!(p.steps.is_empty() && p.notes[0].contains("no active firewall"));
        assert!(render(&[p], true).contains("node1 (none)"));
    }
}
