//! `swarmdeck bootstrap`, `recover` and `audit`: build a swarm from bare hosts, recover
//! from lost quorum, and show what was done. Plans are printed with their docker CLI
//! equivalents and applied only with `--yes`.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cluster::Cluster;
use crate::redact::redact;
use crate::swarm::change::Change;
use crate::swarm::{self, AuditLog, BootstrapOptions, OverlaySpec, Plan, Step, SwarmError};
use crate::untrusted::visible;

use super::target::TargetArgs;

/// Consent and the audit log, shared by every command that changes hosts.
#[derive(Debug, Clone, clap::Args)]
pub struct ApplyArgs {
    /// Apply the plan (without it the plan is only shown).
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
    /// Audit log file (default: audit.jsonl in the user's data directory).
    #[arg(long, value_name = "FILE", env = swarm::audit::AUDIT_ENV, global = true)]
    pub audit_log: Option<PathBuf>,
}

impl ApplyArgs {
    pub fn audit(&self) -> anyhow::Result<AuditLog> {
        match &self.audit_log {
            Some(p) => Ok(AuditLog::new(p)),
            None => Ok(AuditLog::default_location()?),
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct BootstrapArgs {
    /// Number of managers (default: 1 for fewer than 3 hosts, 3 for 3-4, 5 from 5).
    #[arg(long)]
    pub managers: Option<usize>,
    /// Create this attachable overlay network.
    #[arg(long, value_name = "NAME")]
    pub overlay: Option<String>,
    /// Encrypt the overlay's traffic (IPsec; refused when a kernel cannot do it).
    #[arg(long, requires = "overlay")]
    pub encrypted: bool,
    /// The overlay's subnet, e.g. 10.20.0.0/24.
    #[arg(long, requires = "overlay")]
    pub subnet: Option<String>,
    /// The overlay's MTU (at most the hosts' MTU minus 50).
    #[arg(long, requires = "overlay")]
    pub mtu: Option<u32>,
    /// VXLAN data-path port (default 4789).
    #[arg(long)]
    pub data_path_port: Option<u32>,
    /// Address pool for overlay subnets (repeatable), e.g. 10.20.0.0/16.
    #[arg(long = "default-addr-pool", value_name = "CIDR")]
    pub default_addr_pool: Vec<String>,
    /// Subnet size carved from the pools (e.g. 24).
    #[arg(long, value_name = "BITS")]
    pub pool_mask_length: Option<u32>,
    /// Lock managers' keys at rest: a restarted manager needs the unlock key.
    #[arg(long)]
    pub autolock: bool,
    /// With --autolock: print the unlock key once at the end (store it safely).
    #[arg(long, requires = "autolock")]
    pub show_unlock_key: bool,
    /// Create an encrypted overlay even where the kernel check says it cannot work.
    #[arg(long)]
    pub ignore_kernel_check: bool,
    #[command(flatten)]
    pub apply: ApplyArgs,
}

impl BootstrapArgs {
    fn options(&self) -> BootstrapOptions {
        BootstrapOptions {
            managers: self.managers,
            overlay: self.overlay.as_ref().map(|name| OverlaySpec {
                name: name.clone(),
                attachable: true,
                encrypted: self.encrypted,
                subnet: self.subnet.clone(),
                mtu: self.mtu,
            }),
            data_path_port: self.data_path_port,
            default_addr_pool: self.default_addr_pool.clone(),
            subnet_size: self.pool_mask_length,
            autolock: self.autolock,
        }
    }
}

/// The cluster of the `-H` hosts or the inventory file.
pub fn connect(target: &TargetArgs, inventory: Option<&Path>) -> anyhow::Result<Cluster> {
    let (inv, source) = target.inventory(inventory)?;
    let opts = target.ssh_options(&inv);
    Ok(Cluster::new(
        inv,
        source,
        opts,
        crate::secrets::ssh_source(),
    ))
}

fn err(e: SwarmError) -> anyhow::Error {
    anyhow::Error::msg(e.redacted())
}

/// Where a command's human-readable lines go: stdout, or stderr when stdout carries JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Say {
    Stdout,
    Stderr,
}

impl Say {
    pub fn line(self, text: impl std::fmt::Display) {
        match self {
            Say::Stdout => println!("{text}"),
            Say::Stderr => eprintln!("{text}"),
        }
    }
}

/// Prints each step as it finishes.
pub(super) fn progress(say: Say, step: &Step, res: Result<(), &SwarmError>) {
    match res {
        Ok(()) => say.line(format_args!(
            "  done   [{}] {}",
            step.host, step.description
        )),
        Err(e) => say.line(format_args!(
            "  FAILED [{}] {}: {}",
            step.host,
            step.description,
            visible(&e.redacted())
        )),
    }
}

/// Shows the plan, then applies it when `--yes` was given. Ctrl-C stops cooperatively:
/// the steps already sent to hosts finish and are audited, the rest are not started.
pub fn show_and_apply(
    rt: &tokio::runtime::Runtime,
    cluster: &Cluster,
    plan: &Plan,
    apply: &ApplyArgs,
) -> anyhow::Result<bool> {
    show_and_apply_saying(rt, cluster, plan, apply, Say::Stdout)
}

/// [`show_and_apply`], its lines going where `say` says.
pub fn show_and_apply_saying(
    rt: &tokio::runtime::Runtime,
    cluster: &Cluster,
    plan: &Plan,
    apply: &ApplyArgs,
    say: Say,
) -> anyhow::Result<bool> {
    say.line(plan.render().trim_end());
    if plan.is_empty() {
        return Ok(false);
    }
    if !apply.yes {
        say.line("\nnot applied: run again with --yes to apply these steps");
        return Ok(false);
    }
    let audit = apply.audit()?;
    say.line(format_args!(
        "\napplying (audit log: {}):",
        audit.path().display()
    ));
    let report = move |step: &Step, res: Result<(), &SwarmError>| progress(say, step, res);
    let done = apply_stopping_on_ctrl_c(rt, cluster, plan, &audit, &report).map_err(|e| {
        anyhow::Error::msg(format!(
            "{}\nThe steps done so far stay done; fix the cause and run the same command \
                 again: it continues from the hosts' actual state.",
            e.redacted()
        ))
    })?;
    say.line(format_args!("{done} step(s) applied"));
    Ok(true)
}

/// Applies `plan`; the first Ctrl-C stops it cooperatively (the steps in flight finish and
/// are audited, the rest are not started), a second one quits at once.
pub fn apply_stopping_on_ctrl_c(
    rt: &tokio::runtime::Runtime,
    cluster: &Cluster,
    plan: &Plan,
    audit: &AuditLog,
    report: swarm::ops::Progress<'_>,
) -> Result<usize, SwarmError> {
    let cancel = tokio_util::sync::CancellationToken::new();
    rt.block_on(async {
        let on_ctrl_c = cancel.clone();
        let watcher = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                on_ctrl_c.cancel();
                eprintln!("stopping after the steps in flight (Ctrl-C again to quit now)");
                let _ = tokio::signal::ctrl_c().await;
                std::process::exit(130);
            }
        });
        let done = swarm::ops::apply(cluster, plan, audit, report, &cancel).await;
        watcher.abort();
        done
    })
}

/// Plans `change` with the engine function the app uses too.
pub fn plan(
    rt: &tokio::runtime::Runtime,
    cluster: &Cluster,
    change: &Change,
    ignore_kernel_check: bool,
) -> anyhow::Result<Plan> {
    rt.block_on(swarm::change::plan(cluster, change, ignore_kernel_check))
        .map_err(err)
}

pub fn run(
    args: BootstrapArgs,
    target: &TargetArgs,
    inventory: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let cluster = connect(target, inventory)?;
    let opts = args.options();
    let change = Change::Bootstrap(opts.clone());
    let plan = plan(rt, &cluster, &change, args.ignore_kernel_check)?;
    let state = rt.block_on(swarm::state::gather(&cluster));
    println!(
        "bootstrap of {} host(s), {} manager(s):",
        state.hosts.len(),
        opts.managers
            .unwrap_or_else(|| swarm::plan::default_managers(state.hosts.len()))
    );
    let applied = show_and_apply(rt, &cluster, &plan, &args.apply)?;
    if applied && args.autolock && args.show_unlock_key {
        let host = plan
            .steps
            .iter()
            .find(|s| matches!(s.action, swarm::Action::Init { .. }))
            .map(|s| s.host.clone())
            .or(state.answered_by.clone())
            .context("no manager to read the unlock key from")?;
        let key = rt
            .block_on(swarm::ops::unlock_key(&cluster, &host))
            .map_err(err)?;
        // Printed only because the user asked for it; never logged or audited.
        println!(
            "unlock key (store it safely, it is shown only now): {}",
            key.expose()
        );
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct RecoverArgs {
    #[command(flatten)]
    pub apply: ApplyArgs,
}

/// Diagnoses quorum and offers the force-new-cluster recovery.
pub fn recover(
    args: RecoverArgs,
    target: &TargetArgs,
    inventory: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let cluster = connect(target, inventory)?;
    let state = rt.block_on(swarm::state::gather(&cluster));
    for h in &state.hosts {
        if let swarm::LocalState::Unreachable(e) = &h.state {
            println!("{}: unreachable: {}", h.host, visible(&redact(e)));
        }
    }
    let plan = plan(rt, &cluster, &Change::Recover, false)?;
    show_and_apply(rt, &cluster, &plan, &args.apply)?;
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
    /// Audit log file (default: audit.jsonl in the user's data directory).
    #[arg(long, value_name = "FILE", env = swarm::audit::AUDIT_ENV, global = true)]
    pub audit_log: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// List the recorded steps.
    Show,
    /// Print a shell script that repeats the successful steps over ssh.
    Export {
        /// Write the script here (mode 0700) instead of standard output.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

pub fn audit(args: AuditArgs) -> anyhow::Result<()> {
    let log = match &args.audit_log {
        Some(p) => AuditLog::new(p),
        None => AuditLog::default_location()?,
    };
    let entries = log.read()?;
    match args.command {
        AuditCommand::Show => {
            for e in &entries {
                // The log is a file anyone may have edited: every value shown inert.
                println!(
                    "{}  {:<10} {:<7} {}\n    $ {}",
                    swarm::audit::fmt_time(e.time),
                    visible(&e.host),
                    e.verdict(),
                    visible(&e.step),
                    visible(&e.cli)
                );
                if !e.ok() && !e.not_run() {
                    println!("    {}", visible(&e.outcome));
                }
            }
            if entries.is_empty() {
                println!("the audit log {} is empty", log.path().display());
            }
        }
        AuditCommand::Export { output } => {
            let script = swarm::audit::export_script(&entries);
            match output {
                Some(p) => crate::fsutil::write_atomic(&p, script.as_bytes(), 0o700)
                    .with_context(|| format!("writing {}", p.display()))?,
                None => print!("{script}"),
            }
        }
    }
    Ok(())
}
