//! `swarmdeck connectivity`: the N×N overlay/underlay test with a diagnosis, its history
//! and the comparison of two runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::cluster::Cluster;
use crate::connectivity::history::{self, History};
use crate::connectivity::{self, Options, Phase, Progress, Severity, render};
use crate::untrusted::{visible, visible_lines};

use super::target::TargetArgs;

#[derive(Debug, clap::Args)]
pub struct ConnectivityArgs {
    /// Test this existing attachable overlay (default: a temporary one, removed afterwards).
    #[arg(long, value_name = "NAME")]
    pub network: Option<String>,
    /// Make the temporary overlay encrypted (tests IPsec support between the hosts).
    #[arg(long, conflicts_with = "network")]
    pub encrypted: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Upper bound for the whole run, in seconds (cleanup comes on top).
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub run_timeout: u64,
    /// Upper bound for each command in a probe or on a host, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub exec_timeout: u64,
    /// Checks running at once.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub parallel: usize,
    /// After the run, show what changed since the previous saved run.
    #[arg(long)]
    pub compare: bool,
    /// Don't run: list saved runs and show what changed between the last two.
    #[arg(long, conflicts_with_all = ["network", "encrypted", "compare"])]
    pub history: bool,
    /// Don't save this run in the history.
    #[arg(long)]
    pub no_save: bool,
    /// Where runs are saved (default: the user's data directory, or
    /// $SWARMDECK_CONNECTIVITY_HISTORY).
    #[arg(long, value_name = "DIR")]
    pub history_dir: Option<PathBuf>,
}

fn history_at(args: &ConnectivityArgs) -> anyhow::Result<History> {
    match &args.history_dir {
        Some(d) => Ok(History::new(d)),
        None => History::default_location()
            .context("cannot find the user's data directory (is HOME set?); pass --history-dir"),
    }
}

/// Runs the test, prints the grid (or JSON) and the findings; fails (exit 1) when an error
/// was found, after printing.
pub fn run(
    args: ConnectivityArgs,
    target: &TargetArgs,
    inventory: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let hist = history_at(&args)?;
    if args.history {
        return show_history(&hist, args.json);
    }
    let (inv, source) = target.inventory(inventory)?;
    let opts = target.ssh_options(&inv);
    let cluster = Cluster::new(inv, source.clone(), opts, crate::secrets::ssh_source());
    let options = Options {
        network: args.network.clone(),
        encrypted: args.encrypted,
        exec_timeout: Duration::from_secs(args.exec_timeout.max(1)),
        run_timeout: Duration::from_secs(args.run_timeout.max(1)),
        parallel: args.parallel.max(1),
        ..Options::default()
    };
    let quiet = args.json;
    let mut report = rt.block_on(async {
        let cancel = CancellationToken::new();
        let on_ctrl_c = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("cancelling: removing the probes …");
                on_ctrl_c.cancel();
            }
        });
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let printer = tokio::spawn(async move {
            while let Some(p) = rx.recv().await {
                if !quiet {
                    print_progress(&p);
                }
            }
        });
        let r = connectivity::run(&cluster, options, Some(tx), cancel).await;
        let _ = printer.await;
        cluster.pool().close_all().await;
        r
    })?;
    report.source = source;
    if !args.no_save {
        match hist.save(&report) {
            Ok(p) => tracing::info!(path = %p.display(), "saved the run"),
            Err(e) => eprintln!("could not save the run in {}: {e}", hist.dir().display()),
        }
    }
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", visible_lines(&render::render(&report)));
    }
    if args.compare {
        match hist.previous(&report.run_id)? {
            Some(prev) => print_changes(&prev, &report),
            None => println!("\nno earlier run saved to compare with"),
        }
    }
    let errors = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    if errors > 0 || report.error.is_some() {
        anyhow::bail!("connectivity problems found ({errors} error finding(s))");
    }
    Ok(())
}

fn print_progress(p: &Progress) {
    match p {
        Progress::Phase(ph) => {
            let what = match ph {
                Phase::Connect => "connecting to the hosts",
                Phase::Sweep => "removing leftovers of earlier runs, reading firewalls",
                Phase::Underlay => "checking swarm ports between the hosts",
                Phase::Network => "preparing the overlay",
                Phase::Probes => "starting probe containers",
                Phase::Matrix => "testing every pair",
                Phase::Cleanup => "removing the probes",
            };
            eprintln!("… {what}");
        }
        Progress::Host {
            host,
            state,
            detail,
        } if !detail.is_empty() => {
            eprintln!("  {host}: {state:?}: {}", visible(detail))
        }
        Progress::Cell { cell, done, total } => eprintln!(
            "  [{done}/{total}] {}→{} {}",
            cell.from,
            cell.to,
            visible(&render::cell_text(cell))
        ),
        _ => {}
    }
}

fn print_changes(prev: &connectivity::Report, now: &connectivity::Report) {
    let changes = history::compare(prev, now);
    println!("\nchanges since run {} :", prev.run_id);
    if changes.is_empty() {
        println!("  none");
    }
    for c in changes {
        println!("  {}", visible(&c.to_string()));
    }
}

fn show_history(hist: &History, json: bool) -> anyhow::Result<()> {
    let runs = hist.list()?;
    if json {
        let list: Vec<&connectivity::Report> = runs.iter().map(|(_, r)| r).collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    if runs.is_empty() {
        println!("no saved runs in {}", hist.dir().display());
        return Ok(());
    }
    for (_, r) in &runs {
        let failed = r.cells.iter().filter(|c| !c.all_passed()).count();
        println!(
            "{}  started {}  {} host(s)  {}/{} pairs pass  {} finding(s)",
            r.run_id,
            r.started_unix,
            r.hosts.len(),
            r.cells.len() - failed,
            r.cells.len(),
            r.findings.len()
        );
    }
    if let [.., (_, a), (_, b)] = runs.as_slice() {
        print_changes(a, b);
    }
    Ok(())
}
