//! `swarmdeck doctor`: every finding about the live swarm with its fix, most urgent first,
//! each overlay's addresses in use against its subnets, and what was read from each host
//! (clock offset, Raft data size) besides the snapshot.

use std::fmt::Write;
use std::path::Path;

use serde::Serialize;

use crate::doctor::{self, Finding, HostFacts, Usage};
use crate::severity::Severity;
use crate::untrusted::visible as v;

use super::target::TargetArgs;

#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Print the findings and the overlays' usage as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Report {
    findings: Vec<Finding>,
    overlays: Vec<Usage>,
    /// What was read from the hosts beyond the snapshot.
    facts: HostFacts,
}

/// Exits 1 when a finding is an error, so scripts can act on it.
pub fn run(
    args: DoctorArgs,
    target: &TargetArgs,
    inventory: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    // No manager answering is itself a finding: the doctor reports rather than stops.
    let cluster = super::bootstrap::connect(target, inventory)?;
    let snap = rt.block_on(cluster.snapshot());
    let facts = rt.block_on(doctor::gather(&cluster, &snap));
    let report = Report {
        findings: doctor::examine(&snap, &facts, Vec::new()),
        overlays: doctor::overlay_usage(&snap),
        facts,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    if report
        .findings
        .iter()
        .any(|f| f.severity == Severity::Error)
    {
        std::process::exit(1);
    }
    Ok(())
}

fn render(r: &Report) -> String {
    let mut out = String::new();
    if r.findings.is_empty() {
        out.push_str("no findings: the swarm looks healthy\n");
    }
    for f in &r.findings {
        let _ = writeln!(
            out,
            "{:<6} {:<17} {}",
            f.severity.as_str(),
            f.area,
            v(&f.summary)
        );
        let _ = writeln!(out, "{:<24} fix: {}", "", v(&f.fix));
    }
    if !r.overlays.is_empty() {
        let _ = writeln!(
            out,
            "\n{:<24} {:>14} {:>6}  SUBNETS",
            "OVERLAY", "ADDRESSES", "USED"
        );
        for u in &r.overlays {
            let _ = writeln!(
                out,
                "{:<24} {:>14} {:>5.0}%  {}",
                v(&u.network),
                format!("{}/{}", u.used(), u.capacity),
                u.ratio() * 100.0,
                v(&u.subnets.join(", "))
            );
        }
    }
    hosts_table(&mut out, &r.facts);
    out
}

/// Each host's clock offset and, on managers, its Raft data size; then the swarm's settings.
fn hosts_table(out: &mut String, f: &HostFacts) {
    if f.hosts.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n{:<24} {:>18} {:>14} {:>14}",
        "HOST", "CLOCK OFFSET", "RAFT DATA", "OF IT SNAPSHOTS"
    );
    for h in &f.hosts {
        let clock = h.clock.map_or("-".to_string(), |c| {
            format!("{:+} ms ±{}", c.offset_ms(), c.uncertainty_ms())
        });
        let bytes = |b: Option<u64>| b.map_or("-".to_string(), |b| format!("{b} B"));
        let _ = writeln!(
            out,
            "{:<24} {clock:>18} {:>14} {:>14}",
            v(&h.host),
            bytes(h.raft_bytes),
            bytes(h.raft_snapshot_bytes)
        );
    }
    if let Some(s) = &f.swarm {
        let n = |x: Option<u64>| x.map_or("?".to_string(), |x| x.to_string());
        let _ = writeln!(
            out,
            "\naddress pool {} (/{} each); Raft snapshot every {} entries, {} old kept; task \
             history limit {}",
            v(&pool_text(s)),
            s.subnet_size,
            n(s.snapshot_interval),
            n(s.keep_old_snapshots),
            s.task_history_limit
                .map_or("?".to_string(), |x| x.to_string())
        );
    }
}

fn pool_text(s: &doctor::facts::SwarmSettings) -> String {
    match s.default_addr_pool.is_empty() {
        true => format!("{} (default)", doctor::pool::DEFAULT_POOL),
        false => s.default_addr_pool.join(", "),
    }
}
