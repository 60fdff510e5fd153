//! `swarmdeck-bench`: the benchmarks, a developer's tool apart from the product (built only
//! with `--features bench`). `connect`, `bootstrap` and `faults` measure on practice labs of
//! their own (needs root) against the docker CLI over ssh; `ui` measures the app's frames
//! and start-up.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use swarmdeck::bench::{BootstrapBench, ConnectBench};

#[derive(Debug, Parser)]
#[command(
    name = "swarmdeck-bench",
    version,
    about = "Measure swarmdeck against the docker CLI on practice labs (needs root), and the app's frames"
)]
struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Connect + status in process vs the docker CLI over ssh (cold, warm, many hosts).
    /// Starts its own labs and always tears them down.
    Connect {
        /// Hosts in the swarm lab (all managers).
        #[arg(long, default_value_t = 3)]
        hosts: usize,
        /// Hosts for the "many hosts" measurement.
        #[arg(long, default_value_t = 12)]
        many: usize,
        /// Rounds per measurement (medians are over rounds).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Building a swarm from 3 bare hosts (init, 2 joins, overlay) in process vs a shell
    /// script running the same docker commands over ssh. Each round starts two fresh labs
    /// (one per contender) and tears them down.
    Bootstrap {
        /// Rounds (medians are over rounds).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// Time to truth: each fault (engine hung or killed, sshd hung or killed, a host cut
    /// off, packet loss, a thin link, quorum lost) on a 3-manager lab, until `status` and
    /// the live view show it and recover, against the plain docker CLI over ssh.
    Faults,
    /// A live change: a service scaled by the plain docker CLI on a manager, until the
    /// app's live view shows it, against `docker service ls` asked in a loop over ssh.
    Live {
        /// Scale changes measured (medians are over them).
        #[arg(long, default_value_t = 6)]
        rounds: usize,
    },
    /// Frame time of every panel on a large synthetic cluster (ten tasks per node), its
    /// snapshot's decode time, and, when a display is available, time to first frame and
    /// peak memory of the real window on the demo and on that cluster.
    Ui {
        /// Nodes in the synthetic cluster.
        #[arg(long, default_value_t = 100)]
        nodes: usize,
        /// Frames measured per panel.
        #[arg(long, default_value_t = 200)]
        frames: usize,
    },
    /// The app's window on the demo cluster, reporting its start-up on exit (what `ui`
    /// starts to measure it).
    #[command(hide = true)]
    Window {
        #[arg(long, value_name = "FILE.png")]
        screenshot: std::path::PathBuf,
        /// A snapshot to open instead of the demo.
        #[arg(long, value_name = "FILE")]
        open: Option<std::path::PathBuf>,
    },
}

fn main() -> ExitCode {
    let started = std::time::Instant::now();
    swarmdeck::logging::init();
    match run(BenchArgs::parse(), started) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let text = format!("{e:#}");
            eprintln!(
                "swarmdeck-bench: {}",
                swarmdeck::untrusted::visible_lines(&text)
            );
            ExitCode::FAILURE
        }
    }
}

fn run(args: BenchArgs, started: std::time::Instant) -> anyhow::Result<()> {
    match args.command {
        BenchCommand::Connect {
            hosts,
            many,
            rounds,
        } => {
            let bench = ConnectBench {
                hosts,
                many_hosts: many,
                rounds,
                ..ConnectBench::default()
            };
            let report = bench.run(&swarmdeck::cli::runtime()?, &mut |line| {
                eprintln!("bench: {line}")
            })?;
            print!("{}", report.render());
            Ok(())
        }
        BenchCommand::Bootstrap { rounds } => {
            let report = BootstrapBench { rounds }
                .run(&swarmdeck::cli::runtime()?, &mut |line| {
                    eprintln!("bench: {line}")
                })?;
            print!("{}", report.render());
            Ok(())
        }
        BenchCommand::Faults => {
            let text = swarmdeck::bench::faults::run(&swarmdeck::cli::runtime()?, &mut |line| {
                eprintln!("bench: {line}")
            })?;
            print!("{text}");
            Ok(())
        }
        BenchCommand::Live { rounds } => {
            let text = swarmdeck::bench::live::run(rounds, &mut |line| eprintln!("bench: {line}"))?;
            print!("{text}");
            Ok(())
        }
        BenchCommand::Ui { nodes, frames } => ui(nodes, frames),
        BenchCommand::Window { screenshot, open } => {
            swarmdeck::ui::run(swarmdeck::ui::RunOptions {
                demo: open.is_none(),
                open,
                screenshot: Some(screenshot),
                started: Some(started),
                report_startup: true,
                ..Default::default()
            })
        }
    }
}

/// Targets from the product's requirements, printed next to what was measured.
const FRAME_TARGET_MS: f64 = 4.0;
/// The workload panels' target, on 1,000 nodes and 10,000 tasks.
const WORKLOAD_FRAME_TARGET_MS: f64 = 8.0;
const DECODE_TARGET_MS: f64 = 100.0;
const FIRST_FRAME_TARGET_MS: f64 = 500.0;
const MEMORY_TARGET_MB: f64 = 150.0;
const LARGE_MEMORY_TARGET_MB: f64 = 250.0;

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT MET" }
}

fn ui(nodes: usize, frames: usize) -> anyhow::Result<()> {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    println!(
        "swarmdeck-bench ui: {nodes}-node cluster, {frames} frames per panel (CPU: layout + tessellation)"
    );
    println!(
        "{:<14} {:>10} {:>10} {:>10}",
        "panel", "median ms", "p95 ms", "max ms"
    );
    let stats = swarmdeck::ui::bench::measure(nodes, frames);
    for s in &stats {
        println!(
            "{:<14} {:>10.2} {:>10.2} {:>10.2}",
            s.panel.title(),
            ms(s.median),
            ms(s.p95),
            ms(s.max)
        );
    }
    let workload = |p: &swarmdeck::ui::Panel| {
        matches!(
            p,
            swarmdeck::ui::Panel::Services | swarmdeck::ui::Panel::Placement
        )
    };
    let worst = |pick: &dyn Fn(&swarmdeck::ui::Panel) -> bool| {
        stats
            .iter()
            .filter(|s| pick(&s.panel))
            .map(|s| ms(s.median))
            .fold(0.0, f64::max)
    };
    let others = worst(&|p| !workload(p));
    println!(
        "target: median frame < {FRAME_TARGET_MS} ms on every other panel — {} (worst median {others:.2} ms)",
        met(others < FRAME_TARGET_MS)
    );
    let workloads = worst(&workload);
    println!(
        "target: Services and Placement median frame ≤ {WORKLOAD_FRAME_TARGET_MS} ms — {} (worst median {workloads:.2} ms)",
        met(workloads <= WORKLOAD_FRAME_TARGET_MS)
    );
    let snap = swarmdeck::ui::bench::synthetic_cluster(nodes);
    let json = snap.to_json();
    let decode = swarmdeck::ui::bench::decode_time(&json, 10);
    println!(
        "snapshot decode ({} nodes, {} tasks, {:.1} MB of JSON): median {:.1} ms — target ≤ {DECODE_TARGET_MS} ms: {}",
        snap.nodes.len(),
        snap.tasks.len(),
        json.len() as f64 / 1e6,
        ms(decode),
        met(ms(decode) <= DECODE_TARGET_MS)
    );
    startup(None, MEMORY_TARGET_MB)?;
    let file = tempfile::Builder::new().suffix(".json").tempfile()?;
    std::fs::write(file.path(), json)?;
    startup(Some(file.path()), LARGE_MEMORY_TARGET_MB)
}

/// Starts the real window on the demo (needs a display, e.g. under xvfb-run) in a process of
/// its own, this binary's hidden `window` command (the app's own code), and reads the
/// start-up report it prints on exit.
fn startup(open: Option<&std::path::Path>, memory_target: f64) -> anyhow::Result<()> {
    let what = open.map_or("the demo", |_| "the large cluster");
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        println!("start-up on {what}: not measured (no display; run under xvfb-run for it)");
        return Ok(());
    }
    let shot = tempfile::Builder::new().suffix(".png").tempfile()?;
    let out = std::process::Command::new(std::env::current_exe()?)
        .args(["window", "--screenshot"])
        .arg(shot.path())
        .args(
            open.map(|p| vec![std::ffi::OsStr::new("--open"), p.as_os_str()])
                .unwrap_or_default(),
        )
        .output()?;
    let text = String::from_utf8_lossy(&out.stderr);
    let field = |name: &str| -> Option<f64> {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(name)?.parse().ok())
    };
    match (field("first_frame_ms="), field("peak_rss_mb=")) {
        (Some(first), Some(rss)) => {
            println!(
                "{what}: first frame {first:.0} ms — target < {FIRST_FRAME_TARGET_MS} ms: {}",
                met(first < FIRST_FRAME_TARGET_MS)
            );
            println!(
                "{what}: peak memory {rss:.0} MB — target < {memory_target} MB: {}",
                met(rss < memory_target)
            );
        }
        _ => println!(
            "start-up on {what}: the window did not report ({})",
            text.trim()
        ),
    }
    Ok(())
}
