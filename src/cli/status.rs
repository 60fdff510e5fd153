//! `swarmdeck status`: connect to every host and print the cluster snapshot.

use crate::snapshot::{ClusterSnapshot, Role};
use std::path::Path;

use super::target::TargetArgs;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Print the snapshot as JSON (the format the app saves and opens).
    #[arg(long)]
    pub json: bool,
}

/// Prints the snapshot; fails (exit 1) when any host could not be read, after printing.
pub fn run(
    args: StatusArgs,
    target: &TargetArgs,
    inventory: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let cluster = super::bootstrap::connect(target, inventory)?;
    let snap = rt.block_on(cluster.snapshot());
    if args.json {
        println!("{}", snap.to_json());
    } else {
        print!("{}", render(&snap));
    }
    let failed = snap.failed_hosts().count();
    if failed > 0 {
        anyhow::bail!("{failed} of {} host(s) could not be read", snap.hosts.len());
    }
    Ok(())
}

/// A human-readable summary: hosts, nodes, overlays, quorum.
/// Every value from a host (names, addresses, states, errors) is shown with its control
/// characters escaped: one value, one line, no terminal control.
pub fn render(snap: &ClusterSnapshot) -> String {
    use crate::untrusted::visible as v;
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "HOST            ADDRESS          ENGINE       SWARM");
    let now = crate::snapshot::now_secs();
    for h in &snap.hosts {
        match &h.error {
            Some(e) => {
                let layer = h.layer.map_or("host", |l| l.describe());
                let since = h
                    .failing_since
                    .map(|s| format!(" {}", crate::snapshot::since_text(s, now)))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{:<15} {:<16} ERROR ({layer}{since}): {}",
                    h.host,
                    h.address,
                    v(e)
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "{:<15} {:<16} {:<12} {}",
                    h.host,
                    h.address,
                    v(h.engine_version.as_deref().unwrap_or("?")),
                    v(h.swarm_state.as_ref().map_or("?", |s| s.as_str()))
                );
            }
        }
    }
    if let Some(why) = &snap.swarm_error {
        let _ = writeln!(out, "\nNO MANAGER CAN ANSWER FOR THE SWARM: {}", v(why));
        if let Some(at) = snap.nodes_as_of {
            let _ = writeln!(
                out,
                "the nodes below are the last list a manager gave, from {} — not live",
                crate::snapshot::since_text(at, now).trim_start_matches("since ")
            );
        }
    }
    if snap.swarm.is_none() {
        let _ = writeln!(
            out,
            "\nno swarm manager answered: not a swarm yet, or managers unreachable"
        );
        return out;
    }
    let _ = writeln!(
        out,
        "\nNODE            ROLE      STATE   AVAIL   RAFT         ADDRESS"
    );
    for n in &snap.nodes {
        let role = match (n.role, n.leader) {
            (Role::Manager, true) => "leader",
            (Role::Manager, false) => "manager",
            (Role::Worker, _) => "worker",
        };
        let state = if n.observed_down.is_some() {
            "DOWN*"
        } else {
            n.state.as_str()
        };
        let _ = writeln!(
            out,
            "{:<15} {:<9} {:<7} {:<7} {:<12} {}",
            v(&n.hostname),
            role,
            v(state),
            v(n.availability.as_str()),
            v(n.reachability.as_ref().map_or("-", |r| r.as_str())),
            v(&n.address)
        );
    }
    for n in &snap.nodes {
        if let Some(down) = &n.observed_down {
            let _ = writeln!(
                out,
                "* {}: counted as down {}: {}",
                v(&n.hostname),
                crate::snapshot::since_text(down.since, now),
                v(&down.reason)
            );
        }
    }
    let a = crate::quorum::assess(&snap.managers(), &Default::default());
    let _ = writeln!(
        out,
        "\nquorum: {} managers, {} reachable, majority {}, tolerates {} failure(s): {}",
        a.members,
        a.alive,
        a.majority,
        a.fault_tolerance,
        a.verdict.describe()
    );
    for net in snap.networks.iter().filter(|n| n.driver == "overlay") {
        let _ = writeln!(
            out,
            "overlay {} {} attachable={} encrypted={} containers={}",
            v(&net.name),
            v(&net.subnets.join(",")),
            net.attachable,
            net.encrypted,
            net.containers.len()
        );
    }
    out
}
