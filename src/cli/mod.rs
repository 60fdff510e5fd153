//! The command line: `swarmdeck` opens the desktop app; subcommands drive the same engine
//! headless, for scripts and tests.

use clap::{Parser, Subcommand};

pub mod bench;
pub mod bootstrap;
pub mod connectivity;
pub mod generate;
pub mod hosts;
pub mod lab;
pub mod logs;
pub mod node;
pub mod preflight;
pub mod status;
pub mod target;
pub mod workloads;

#[derive(Debug, Parser)]
#[command(
    name = "swarmdeck",
    version,
    about = "Build, see and troubleshoot Docker Swarm clusters over SSH"
)]
pub struct Cli {
    /// Open the app on the built-in demo cluster (no network needed).
    #[arg(long)]
    pub demo: bool,

    /// The inventory file (default: ~/.config/swarmdeck/inventory.toml).
    #[arg(long, value_name = "FILE", global = true)]
    pub inventory: Option<std::path::PathBuf>,

    /// Open a saved bundle (or `status --json` snapshot) to troubleshoot offline.
    #[arg(long, value_name = "FILE")]
    pub open: Option<std::path::PathBuf>,

    /// Render the window to this PNG file and exit (for docs and visual checks).
    #[arg(long, value_name = "FILE.png")]
    pub screenshot: Option<std::path::PathBuf>,

    /// Which panel to open first: overview, wizard, topology, quorum, networks,
    /// connectivity, hosts or activity.
    #[arg(long, value_parser = crate::ui::Panel::from_name)]
    pub panel: Option<crate::ui::Panel>,

    /// Print the time to the first frame and peak memory on exit.
    #[arg(long, hide = true)]
    pub report_startup: bool,

    #[command(flatten)]
    pub target: target::TargetArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// A practice cluster of real Docker hosts in network namespaces on this machine.
    Lab(lab::LabArgs),
    /// Connect to every host and show the cluster: hosts, nodes, quorum, overlays.
    Status(status::StatusArgs),
    /// The swarm's services: mode, replicas running/desired, image, ports, stack.
    Services(workloads::ServicesArgs),
    /// A service's tasks, and for each pending one why no node takes it and what to change.
    Ps(workloads::PsArgs),
    /// A service's or task's logs, read from each node that runs a task, merged in time
    /// order (-f follows).
    Logs(logs::LogsArgs),
    /// Manage the inventory: add, remove, list, import, export, test.
    Hosts(hosts::HostsArgs),
    /// Write the man page or shell completions (for packagers).
    #[command(hide = true)]
    Generate(generate::GenerateArgs),
    /// Measure swarmdeck against the docker CLI on practice labs (needs root).
    Bench(bench::BenchArgs),
    /// Test overlay and underlay connectivity between every pair of hosts, with a diagnosis.
    Connectivity(connectivity::ConnectivityArgs),
    /// Check hosts before building a swarm: Docker, swarm state, addresses, clones, clocks,
    /// firewall, kernel support for encrypted overlays, swarm ports between hosts.
    Preflight(preflight::PreflightArgs),
    /// Open swarm's ports on each host's firewall for the cluster's hosts (plan; --yes applies).
    Firewall(preflight::FirewallArgs),
    /// Build the swarm: init, joins, overlay (plan with docker CLI equivalents; --yes applies).
    Bootstrap(bootstrap::BootstrapArgs),
    /// Node actions, refused when they would lose quorum (unless --force).
    Node(node::NodeArgs),
    /// Overlay networks.
    Network(node::NetworkArgs),
    /// Join-token and unlock-key rotation.
    Swarm(node::SwarmArgs),
    /// Diagnose lost quorum and recover with --force-new-cluster (--yes applies).
    Recover(bootstrap::RecoverArgs),
    /// The audit log of applied steps: show, or export as a shell script.
    Audit(bootstrap::AuditArgs),
}

pub fn main() -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    crate::logging::init();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Lab(args)) => lab::run(args),
        Some(Command::Bench(args)) => bench::run(args, &runtime()?),
        Some(Command::Preflight(args)) => {
            preflight::run(args, &cli.target, cli.inventory.as_deref(), &runtime()?)
        }
        Some(Command::Firewall(args)) => {
            preflight::firewall(args, &cli.target, cli.inventory.as_deref(), &runtime()?)
        }
        Some(Command::Bootstrap(args)) => {
            bootstrap::run(args, &cli.target, cli.inventory.as_deref(), &runtime()?)
        }
        Some(Command::Node(args)) => {
            node::run(args, &cli.target, cli.inventory.as_deref(), &runtime()?)
        }
        Some(Command::Network(args)) => {
            node::network(args, &cli.target, cli.inventory.as_deref(), &runtime()?)
        }
        Some(Command::Swarm(args)) => {
            node::swarm_cmd(args, &cli.target, cli.inventory.as_deref(), &runtime()?)
        }
        Some(Command::Recover(args)) => {
            bootstrap::recover(args, &cli.target, cli.inventory.as_deref(), &runtime()?)
        }
        Some(Command::Audit(args)) => bootstrap::audit(args),
        Some(Command::Connectivity(args)) => {
            connectivity::run(args, &cli.target, cli.inventory.as_deref(), &runtime()?)
        }
        Some(Command::Generate(args)) => generate::run(args),
        Some(Command::Hosts(args)) => {
            hosts::run(args, &cli.target, cli.inventory.as_deref(), &runtime()?)
        }
        Some(Command::Status(args)) => {
            status::run(args, &cli.target, cli.inventory.as_deref(), &runtime()?)
        }
        Some(Command::Services(args)) => {
            workloads::services(args, &cli.target, cli.inventory.as_deref(), &runtime()?)
        }
        Some(Command::Logs(args)) => {
            logs::run(args, &cli.target, cli.inventory.as_deref(), &runtime()?)
        }
        Some(Command::Ps(args)) => {
            workloads::ps(args, &cli.target, cli.inventory.as_deref(), &runtime()?)
        }
        None => crate::ui::run(crate::ui::RunOptions {
            demo: cli.demo,
            inventory: cli.inventory,
            screenshot: cli.screenshot,
            open: cli.open,
            panel: cli.panel,
            started: Some(started),
            report_startup: cli.report_startup,
        }),
    }
}

/// The runtime for headless commands; created here and handed down, never global.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }

    #[test]
    fn global_host_flags_coexist_with_lab_host_counts() {
        use clap::Parser;
        let cli =
            super::Cli::try_parse_from(["swarmdeck", "lab", "up", "5", "--name", "x"]).unwrap();
        assert!(cli.target.hosts.is_empty());
        let cli =
            super::Cli::try_parse_from(["swarmdeck", "-H", "root@10.0.0.1", "status", "--json"])
                .unwrap();
        assert_eq!(cli.target.hosts, vec!["root@10.0.0.1"]);
    }
}
