//! The command line: `swarmdeck` opens the desktop app; subcommands drive the same engine
//! headless, for scripts and tests. This module knows nothing of the UI: [`parse`] says
//! whether to run a command or open the window, and `main` opens it.

use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::swarm::secrets;

pub mod backup;
pub mod bootstrap;
pub mod cert;
pub mod connectivity;
pub mod doctor;
pub mod exec;
pub mod generate;
pub mod hosts;
pub mod lab;
pub mod logs;
pub mod maintain;
pub mod node;
pub mod node_label;
pub mod preflight;
pub mod secret;
pub mod service;
pub mod service_rebalance;
pub mod stack;
pub mod status;
pub mod target;
pub mod workloads;

#[derive(Debug, Parser)]
#[command(
    name = "swarmdeck",
    version,
    about = "Build, see and troubleshoot Docker Swarm clusters over SSH"
)]
struct Cli {
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

    /// Which panel to open first.
    // The names are the window's, handed to `definition` by main.
    #[arg(long)]
    pub panel: Option<String>,

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
    /// Every finding about the swarm with its fix, most urgent first (overlay addresses,
    /// quorum, down nodes, engine versions, pending tasks); exits 1 on an error.
    Doctor(doctor::DoctorArgs),
    /// A service's or task's logs, read from each node that runs a task, merged in time
    /// order (-f follows).
    Logs(logs::LogsArgs),
    /// Scale, update or roll back a service (plan; --yes applies), then follow the rollout.
    Service(Box<service::ServiceArgs>),
    /// Stacks from Compose files: deploy (plan; --yes applies, then follows the rollouts),
    /// ls, rm.
    Stack(stack::StackArgs),
    /// Run a command in a task's container, on the node that runs it (-i stdin, -t a
    /// terminal): `exec [-i] [-t] SERVICE[.SLOT]|TASK -- CMD...`.
    Exec(exec::ExecArgs),
    /// Swarm secrets: create (from a file or stdin), ls, rm, rotate (a new version, every
    /// service moved to it, the old removed). The data is never shown.
    Secret(secret::ObjectArgs),
    /// Swarm configs: the same commands as `secret`.
    Config(secret::ObjectArgs),
    /// Node certificates: ls (read from every node), expiry (their lifetime), rotate (a
    /// new root CA, followed until every node is on it).
    Cert(cert::CertArgs),
    /// Manage the inventory: add, remove, list, import, export, test.
    Hosts(hosts::HostsArgs),
    /// Write the man page or shell completions (for packagers).
    #[command(hide = true)]
    Generate(generate::GenerateArgs),
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
    /// Rolling maintenance: a command run node by node, each drained first and its tasks
    /// back before the next (`maintain (--node NODE… | --all) [--yes] -- COMMAND…`).
    Maintain(Box<maintain::MaintainArgs>),
    /// Diagnose lost quorum and recover with --force-new-cluster (--yes applies).
    Recover(bootstrap::RecoverArgs),
    /// The audit log of applied steps: show, or export as a shell script.
    Audit(bootstrap::AuditArgs),
    /// Back up the swarm's state from a follower manager, list backups, restore one onto a
    /// fresh host (plans; --yes applies).
    Backup(backup::BackupArgs),
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Launch {
    /// A headless command: [`run`] it.
    Headless(Headless),
    /// No command: open the window with these options.
    Window(WindowArgs),
}

/// A subcommand with the flags it shares with every other.
#[derive(Debug)]
pub struct Headless {
    command: Command,
    target: target::TargetArgs,
    inventory: Option<PathBuf>,
    /// The names `--panel` accepts, for the man page and completions.
    panels: &'static [&'static str],
}

/// The window's options as typed; `panel` is one of the names given to [`parse`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowArgs {
    pub demo: bool,
    pub inventory: Option<PathBuf>,
    pub open: Option<PathBuf>,
    pub screenshot: Option<PathBuf>,
    pub panel: Option<String>,
    pub report_startup: bool,
}

/// The command line's definition; `panels` are the names `--panel` accepts (listed in
/// `--help`, anything else refused).
pub fn definition(panels: &'static [&'static str]) -> clap::Command {
    Cli::command().mut_arg("panel", |a| {
        a.value_parser(clap::builder::PossibleValuesParser::new(
            panels.iter().copied(),
        ))
        .ignore_case(true)
    })
}

/// Parses the process's arguments (exits with clap's message on an error or `--help`).
pub fn parse(panels: &'static [&'static str]) -> Launch {
    parse_from(panels, std::env::args_os()).unwrap_or_else(|e| e.exit())
}

pub fn parse_from<I, T>(panels: &'static [&'static str], args: I) -> Result<Launch, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    // `exec`'s words are its own (`-i` there is not the global key): read them raw.
    for (candidate, words) in exec::escaped(&args) {
        if let Ok(Launch::Headless(h)) = parse_argv(panels, candidate)
            && matches!(&h.command, Command::Exec(a) if a.words == words)
        {
            return Ok(Launch::Headless(h));
        }
    }
    parse_argv(panels, args)
}

fn parse_argv(
    panels: &'static [&'static str],
    args: Vec<std::ffi::OsString>,
) -> Result<Launch, clap::Error> {
    let mut matches = definition(panels).try_get_matches_from(args)?;
    let cli = Cli::from_arg_matches_mut(&mut matches)?;
    Ok(match cli.command {
        Some(command) => Launch::Headless(Headless {
            command,
            target: cli.target,
            inventory: cli.inventory,
            panels,
        }),
        None => Launch::Window(WindowArgs {
            demo: cli.demo,
            inventory: cli.inventory,
            open: cli.open,
            screenshot: cli.screenshot,
            panel: cli.panel,
            report_startup: cli.report_startup,
        }),
    })
}

/// Runs a headless command to its end.
pub fn run(headless: Headless) -> anyhow::Result<()> {
    let Headless {
        command,
        target,
        inventory,
        panels,
    } = headless;
    let file = inventory.as_deref();
    match command {
        Command::Lab(args) => lab::run(args),
        Command::Preflight(args) => preflight::run(args, &target, file, &runtime()?),
        Command::Firewall(args) => preflight::firewall(args, &target, file, &runtime()?),
        Command::Bootstrap(args) => bootstrap::run(args, &target, file, &runtime()?),
        Command::Node(args) => node::run(args, &target, file, &runtime()?),
        Command::Network(args) => node::network(args, &target, file, &runtime()?),
        Command::Swarm(args) => node::swarm_cmd(args, &target, file, &runtime()?),
        Command::Maintain(args) => maintain::run(*args, &target, file, &runtime()?),
        Command::Recover(args) => bootstrap::recover(args, &target, file, &runtime()?),
        Command::Audit(args) => bootstrap::audit(args),
        Command::Backup(args) => backup::run(args, &target, file, &runtime()?),
        Command::Connectivity(args) => connectivity::run(args, &target, file, &runtime()?),
        Command::Generate(args) => generate::run(args, definition(panels)),
        Command::Hosts(args) => hosts::run(args, &target, file, &runtime()?),
        Command::Status(args) => status::run(args, &target, file, &runtime()?),
        Command::Services(args) => workloads::services(args, &target, file, &runtime()?),
        Command::Ps(args) => workloads::ps(args, &target, file, &runtime()?),
        Command::Doctor(args) => doctor::run(args, &target, file, &runtime()?),
        Command::Logs(args) => logs::run(args, &target, file, &runtime()?),
        Command::Service(args) => service::run(*args, &target, file, &runtime()?),
        Command::Exec(args) => exec::run(args, &target, file, &runtime()?),
        Command::Secret(args) => {
            secret::run(secrets::Kind::Secret, args, &target, file, &runtime()?)
        }
        Command::Config(args) => {
            secret::run(secrets::Kind::Config, args, &target, file, &runtime()?)
        }
        Command::Stack(args) => stack::run(args, &target, file, &runtime()?),
        Command::Cert(args) => cert::run(args, &target, file, &runtime()?),
    }
}

/// The runtime for headless commands; created here and handed down, never global.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::{Launch, WindowArgs, definition, parse_from};

    const PANELS: &[&str] = &["overview", "hosts"];

    #[test]
    fn command_line_definition_is_consistent() {
        definition(PANELS).debug_assert();
    }

    #[test]
    fn global_host_flags_coexist_with_lab_host_counts() {
        let Ok(Launch::Headless(h)) =
            parse_from(PANELS, ["swarmdeck", "lab", "up", "5", "--name", "x"])
        else {
            panic!("lab up is a headless command");
        };
        assert!(h.target.hosts.is_empty());
        let Ok(Launch::Headless(h)) = parse_from(
            PANELS,
            ["swarmdeck", "-H", "root@10.0.0.1", "status", "--json"],
        ) else {
            panic!("status is a headless command");
        };
        assert_eq!(h.target.hosts, vec!["root@10.0.0.1"]);
    }

    #[test]
    fn no_command_opens_the_window_on_a_named_panel() {
        let Ok(Launch::Window(w)) = parse_from(PANELS, ["swarmdeck", "--demo", "--panel", "hosts"])
        else {
            panic!("no command opens the window");
        };
        let want = WindowArgs {
            demo: true,
            panel: Some("hosts".into()),
            ..Default::default()
        };
        assert_eq!(w, want);
        let Ok(Launch::Window(w)) = parse_from(PANELS, ["swarmdeck", "--panel", "Hosts"]) else {
            panic!("a panel name in another case is taken");
        };
        assert_eq!(w.panel.as_deref(), Some("Hosts"));
        let err = parse_from(PANELS, ["swarmdeck", "--panel", "nope"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue);
        let help = definition(PANELS).render_help().to_string();
        assert!(
            help.contains("[possible values: overview, hosts]"),
            "{help}"
        );
    }
}
