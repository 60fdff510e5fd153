//! `swarmdeck preflight` and `swarmdeck firewall`: check hosts before building a swarm,
//! and open swarm's ports for the cluster's own addresses.

use std::path::Path;

use anyhow::bail;

use crate::firewall;
use crate::preflight::{self, Severity};
use crate::untrusted::{visible, visible_lines};

use super::bootstrap::{ApplyArgs, connect};
use super::target::TargetArgs;

#[derive(Debug, clap::Args)]
pub struct PreflightArgs {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also show informational findings.
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

/// Prints the findings, the same on several hosts as one row, and the verdict; fails
/// (exit 1) when something blocks the build.
pub fn run(
    args: PreflightArgs,
    target: &TargetArgs,
    inventory: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let cluster = connect(target, inventory)?;
    let mut report = rt.block_on(preflight::run(&cluster));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        if !args.verbose {
            report.findings.retain(|f| f.severity != Severity::Info);
        }
        if report.findings.is_empty() {
            println!(
                "preflight: no problems found on {} host(s)",
                report.hosts.len()
            );
        }
        print!("{}", visible_lines(&report.render()));
    }
    let verdict = report.verdict();
    if !verdict.ready() {
        bail!("preflight: {verdict}");
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct FirewallArgs {
    /// Only this inventory host.
    #[arg(long, value_name = "HOST")]
    pub only: Option<String>,
    /// Don't make the rules persistent (they are lost at reboot).
    #[arg(long)]
    pub no_persist: bool,
    #[command(flatten)]
    pub apply: ApplyArgs,
}

/// Shows each host's firewall plan, applies it with --yes, then verifies with a new
/// preflight that no swarm port is still dropped.
pub fn firewall(
    args: FirewallArgs,
    target: &TargetArgs,
    inventory: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let cluster = connect(target, inventory)?;
    let report = rt.block_on(preflight::run(&cluster));
    let plans = firewall::plan(&report, args.only.as_deref());
    if let Some(o) = &args.only
        && plans.is_empty()
    {
        bail!("no host {o:?} in the inventory");
    }
    print!(
        "{}",
        visible_lines(&firewall::render(&plans, !args.no_persist))
    );
    if plans.iter().all(|p| p.steps.is_empty()) {
        return Ok(());
    }
    if !args.apply.yes {
        println!("\nnot applied: run again with --yes to apply these commands");
        return Ok(());
    }
    let audit = args.apply.audit()?;
    let done = rt
        .block_on(firewall::apply(&cluster, &plans, !args.no_persist, &audit))
        .map_err(|e| anyhow::Error::msg(e.redacted()))?;
    println!("{done} command(s) applied (rules already present were skipped); verifying…");
    let after = rt.block_on(preflight::run(&cluster));
    let left: Vec<_> = after
        .findings
        .iter()
        .filter(|f| f.check == "port" && f.severity == Severity::Error)
        .filter(|f| args.only.as_deref().is_none_or(|o| o == f.host))
        .collect();
    if left.is_empty() {
        println!("verified: every host reaches the swarm ports it needs");
        Ok(())
    } else {
        for f in &left {
            println!("still blocked: {} {}", f.host, visible(&f.message));
        }
        bail!(
            "{} port problem(s) remain after applying the firewall plan",
            left.len()
        )
    }
}
