//! The swarm's default address pool: how many overlay subnets it can give and how many are
//! taken, and whether its subnets cover a host's own network (an overlay given such a
//! subnet shadows it: its containers reach the overlay, not the hosts behind that range).

use std::collections::BTreeMap;

use super::facts::{HostFacts, SwarmSettings};
use super::{CAPACITY_ERROR, CAPACITY_WARNING, Finding};
use crate::lab::net::Prefix;
use crate::severity::Severity;
use crate::snapshot::ClusterSnapshot;

/// The pool swarm uses when `swarm init` was given none.
pub const DEFAULT_POOL: &str = "10.0.0.0/8";

/// An underlay among the pool's next this many subnets is as good as taken.
pub const NEAR_SUBNETS: u64 = 16;

/// The pool's subnets: how many in all and how many overlays took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolUse {
    pub pools: Vec<String>,
    pub subnet_size: u32,
    pub capacity: u64,
    /// (overlay name, subnet) for every overlay subnet inside the pool.
    pub taken: Vec<(String, String)>,
}

fn pools(s: &SwarmSettings) -> Vec<Prefix> {
    let pools: Vec<Prefix> = s
        .default_addr_pool
        .iter()
        .filter_map(|p| Prefix::parse(p))
        .collect();
    match pools.is_empty() {
        true => Prefix::parse(DEFAULT_POOL).into_iter().collect(),
        false => pools,
    }
}

/// Subnets of `/size` in `pool` (0 when the size is shorter than the pool).
fn subnets_in(pool: &Prefix, size: u32) -> u64 {
    match size.checked_sub(u32::from(pool.len)) {
        Some(bits) if bits < 64 => 1u64 << bits,
        _ => 0,
    }
}

fn inside(inner: &Prefix, outer: &Prefix) -> bool {
    inner.len >= outer.len && outer.overlaps(inner)
}

pub fn pool_use(snap: &ClusterSnapshot, s: &SwarmSettings) -> PoolUse {
    let pools = pools(s);
    let taken = snap
        .networks
        .iter()
        .filter(|n| n.driver == "overlay")
        .flat_map(|n| n.subnets.iter().map(move |s| (n, s)))
        .filter(|(_, sub)| {
            Prefix::parse(sub).is_some_and(|p| pools.iter().any(|pool| inside(&p, pool)))
        })
        .map(|(n, sub)| (n.name.clone(), sub.clone()))
        .collect();
    PoolUse {
        pools: pools.iter().map(Prefix::to_string).collect(),
        subnet_size: s.subnet_size,
        capacity: pools.iter().map(|p| subnets_in(p, s.subnet_size)).sum(),
        taken,
    }
}

pub fn findings(snap: &ClusterSnapshot, facts: &HostFacts) -> Vec<Finding> {
    let Some(s) = &facts.swarm else {
        return Vec::new();
    };
    let u = pool_use(snap, s);
    let mut out: Vec<Finding> = exhaustion(&u).into_iter().collect();
    out.extend(overlaps(snap, facts, s, &u));
    out
}

fn exhaustion(u: &PoolUse) -> Option<Finding> {
    let ratio = match u.capacity {
        0 => 1.0,
        c => u.taken.len() as f64 / c as f64,
    };
    if ratio < CAPACITY_WARNING {
        return None;
    }
    Some(Finding {
        severity: match ratio >= CAPACITY_ERROR {
            true => Severity::Error,
            false => Severity::Warning,
        },
        area: "address pool",
        subject: u.pools.join(", "),
        summary: format!(
            "the swarm's default address pool {} holds {} subnet(s) of /{} and overlays take \
             {} ({:.0} %); when none is left `docker network create -d overlay` fails unless \
             it is given --subnet",
            u.pools.join(", "),
            u.capacity,
            u.subnet_size,
            u.taken.len(),
            ratio * 100.0
        ),
        fix: "remove overlays no service uses (`docker network rm NAME`), or create new ones \
              with an explicit `--subnet` outside the pool; a larger pool is only set when the \
              swarm is made (`docker swarm init --default-addr-pool CIDR --default-addr-pool-mask-length N`)"
            .into(),
    })
}

/// Underlay ranges the pool covers, each with the hosts that have it.
fn overlaps(
    snap: &ClusterSnapshot,
    facts: &HostFacts,
    s: &SwarmSettings,
    u: &PoolUse,
) -> Vec<Finding> {
    let pools = pools(s);
    let mut by_range: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for h in &facts.hosts {
        for r in &h.underlay {
            by_range.entry(r.as_str()).or_default().push(&h.host);
        }
    }
    let mut out = Vec::new();
    for (range, hosts) in by_range {
        let Some(r) = Prefix::parse(range) else {
            continue;
        };
        let Some(pool) = pools.iter().find(|p| p.overlaps(&r)) else {
            continue;
        };
        let shadowing: Vec<String> = snap
            .networks
            .iter()
            .filter(|n| n.driver == "overlay")
            .flat_map(|n| n.subnets.iter().map(move |sub| (n, sub)))
            .filter(|(_, sub)| Prefix::parse(sub).is_some_and(|p| p.overlaps(&r)))
            .map(|(n, sub)| format!("{} ({sub})", n.name))
            .collect();
        let index = subnet_index(pool, &r, s.subnet_size);
        let near = index < u.taken.len() as u64 + NEAR_SUBNETS;
        let hosts = hosts.join(", ");
        let severity = match shadowing.is_empty() && !near {
            true => Severity::Info,
            false => Severity::Error,
        };
        let summary = match shadowing.is_empty() {
            false => format!(
                "overlay(s) {} cover {range}, the network of {hosts}: their containers reach \
                 the overlay instead of the hosts in that range",
                shadowing.join(", ")
            ),
            true => format!(
                "the default address pool {pool} covers {range}, the network of {hosts}: it is \
                 about subnet {} of the pool (overlays take {} now); an overlay given it would \
                 shadow those hosts",
                index + 1,
                u.taken.len()
            ),
        };
        out.push(Finding {
            severity,
            area: "address pool",
            subject: range.to_string(),
            summary,
            fix: format!(
                "give overlays subnets outside {range} (`docker network create -d overlay \
                 --subnet CIDR`); a swarm made anew takes a pool clear of the hosts' networks \
                 with `docker swarm init --default-addr-pool CIDR` (e.g. one not in {range})"
            ),
        });
    }
    out
}

/// Which of the pool's subnets (counted from 0, in the order swarm hands them out) first
/// touches `range`.
fn subnet_index(pool: &Prefix, range: &Prefix, size: u32) -> u64 {
    if range.len <= pool.len {
        return 0;
    }
    let offset = u32::from(range.addr).saturating_sub(u32::from(pool.addr));
    u64::from(offset) >> (32 - size.min(32))
}

#[cfg(test)]
mod tests {
    use super::super::facts::HostReading;
    use super::*;
    use serde_json::json;

    fn overlays(subnets: &[&str]) -> ClusterSnapshot {
        let mut snap = ClusterSnapshot::empty("t");
        snap.networks = subnets
            .iter()
            .enumerate()
            .map(|(i, s)| {
                serde_json::from_value(json!({"id": format!("n{i}"), "name": format!("net{i}"),
                    "driver": "overlay", "scope": "swarm", "attachable": false,
                    "encrypted": false, "ingress": false, "subnets": [s], "containers": []}))
                .unwrap()
            })
            .collect();
        snap
    }

    fn facts(pool: &[&str], size: u32, underlay: &[&str]) -> HostFacts {
        HostFacts {
            swarm: Some(SwarmSettings {
                host: "m1".into(),
                default_addr_pool: pool.iter().map(|s| s.to_string()).collect(),
                subnet_size: size,
                ..Default::default()
            }),
            hosts: vec![HostReading {
                host: "node1".into(),
                underlay: underlay.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            }],
            failures: Vec::new(),
        }
    }

    #[test]
    fn a_small_pool_nearly_taken_is_flagged_and_a_roomy_one_is_not() {
        // A /24 pool of /26 subnets: 4 in all, 3 taken (75 %).
        let snap = overlays(&[
            "10.50.0.0/26",
            "10.50.0.64/26",
            "10.50.0.128/26",
            "10.9.0.0/24",
        ]);
        let f = findings(&snap, &facts(&["10.50.0.0/24"], 26, &[]));
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(
            f[0].summary
                .contains("holds 4 subnet(s) of /26 and overlays take 3 (75 %)"),
            "{}",
            f[0].summary
        );
        assert!(f[0].fix.contains("--default-addr-pool"), "{}", f[0].fix);
        // The default pool: 65,536 /24s.
        let u = pool_use(&snap, facts(&[], 24, &[]).swarm.as_ref().unwrap());
        assert_eq!((u.capacity, u.taken.len()), (65_536, 4));
        assert!(findings(&snap, &facts(&[], 24, &[])).is_empty());
    }

    #[test]
    fn a_pool_over_a_hosts_network_is_an_error_when_an_overlay_has_it_or_soon_would() {
        let snap = overlays(&["10.0.0.0/24", "10.0.1.0/24"]);
        // Already shadowed.
        let f = findings(&snap, &facts(&[], 24, &["10.0.1.0/24"]));
        assert_eq!(f[0].severity, Severity::Error);
        assert!(
            f[0].summary.contains("net1 (10.0.1.0/24)"),
            "{}",
            f[0].summary
        );
        assert!(
            f[0].fix.contains("swarm init --default-addr-pool"),
            "{}",
            f[0].fix
        );
        // The pool's 6th subnet: the next overlays get it.
        let f = findings(&snap, &facts(&[], 24, &["10.0.5.0/24"]));
        assert_eq!(f[0].severity, Severity::Error);
        assert!(
            f[0].summary.contains("about subnet 6 of the pool"),
            "{}",
            f[0].summary
        );
        // A VPN route over the whole pool: every overlay shadows part of it.
        let f = findings(&snap, &facts(&[], 24, &["10.0.0.0/8"]));
        assert_eq!(f[0].severity, Severity::Error);
        // Far into the pool (10.213.4.0/24 is subnet 54,533): a note.
        let f = findings(&snap, &facts(&[], 24, &["10.213.4.0/24"]));
        assert_eq!(f[0].severity, Severity::Info);
        assert!(
            f[0].summary.contains("about subnet 54533"),
            "{}",
            f[0].summary
        );
        // Outside the pool: nothing.
        assert!(findings(&snap, &facts(&[], 24, &["192.168.1.0/24"])).is_empty());
    }
}
