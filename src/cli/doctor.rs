//! `swarmdeck doctor`: every finding about the live swarm with its fix, most urgent first,
//! and each overlay's addresses in use against its subnets.

use std::fmt::Write;
use std::path::Path;

use serde::Serialize;

use crate::doctor::{self, Finding, Usage};
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
    let report = Report {
        findings: doctor::examine(&snap),
        overlays: doctor::overlay_usage(&snap),
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
    out
}
