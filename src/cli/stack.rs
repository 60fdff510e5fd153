//! `swarmdeck stack deploy|ls|rm`: stacks from Compose files, planned against what the
//! swarm runs, each step shown with its docker CLI equivalent and applied with --yes.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cluster::Cluster;
use crate::stack::{self, diff};

use super::bootstrap::{ApplyArgs, show_and_apply};
use super::node::answering_manager;
use super::target::TargetArgs;

#[derive(Debug, clap::Args)]
pub struct StackArgs {
    #[command(subcommand)]
    pub command: StackCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum StackCommand {
    /// Create or update a stack from a Compose file (plan; --yes applies).
    Deploy {
        /// The Compose file.
        #[arg(short = 'c', long = "compose-file", value_name = "FILE")]
        compose_file: PathBuf,
        /// Variables for interpolation (default: `.env` beside the compose file). The
        /// environment's values win over the file's.
        #[arg(long, value_name = "FILE")]
        env_file: Option<PathBuf>,
        /// Remove the stack's services the file no longer has.
        #[arg(long)]
        prune: bool,
        /// The stack's name (prefix of its services, networks, secrets and configs).
        name: String,
        #[command(flatten)]
        apply: ApplyArgs,
    },
    /// The stacks on the swarm and their service counts.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// Remove a stack: its services, networks, secrets and configs (plan; --yes applies).
    Rm {
        name: String,
        #[command(flatten)]
        apply: ApplyArgs,
    },
}

pub fn run(
    args: StackArgs,
    target: &TargetArgs,
    inventory: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    match args.command {
        StackCommand::Deploy {
            compose_file,
            env_file,
            prune,
            name,
            apply,
        } => {
            let loaded = stack::load(&compose_file, env_file.as_deref(), &name, std::env::vars())
                .map_err(|e| anyhow::Error::msg(e.to_string()))?;
            for w in &loaded.warnings {
                eprintln!("warning: {}", crate::untrusted::visible(w));
            }
            let (cluster, at) = answering_manager(target, inventory, rt)?;
            let current = read(rt, &cluster, &at, Some(&name))?;
            let plan = diff::plan(
                &loaded.spec,
                &current,
                prune,
                &at,
                &compose_file.display().to_string(),
            );
            if plan.is_empty() {
                println!("nothing to change: stack {name} runs as the file says");
                return Ok(());
            }
            show_and_apply(rt, &cluster, &plan, &apply).map(drop)
        }
        StackCommand::Ls { json } => {
            let (cluster, at) = answering_manager(target, inventory, rt)?;
            let all = diff::summaries(&read(rt, &cluster, &at, None)?);
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                println!("{:<30} SERVICES", "NAME");
                for s in all {
                    println!("{:<30} {}", crate::untrusted::visible(&s.name), s.services);
                }
            }
            Ok(())
        }
        StackCommand::Rm { name, apply } => {
            crate::swarm::validate_name("stack", &name)
                .map_err(|e| anyhow::Error::msg(e.redacted()))?;
            let (cluster, at) = answering_manager(target, inventory, rt)?;
            let current = read(rt, &cluster, &at, Some(&name))?;
            let plan = diff::remove_plan(&current, &at);
            if plan.is_empty() {
                println!("nothing to remove: no stack {name} on the swarm");
                return Ok(());
            }
            show_and_apply(rt, &cluster, &plan, &apply).map(drop)
        }
    }
}

/// The stack's objects as the manager `at` reports them.
fn read(
    rt: &tokio::runtime::Runtime,
    cluster: &Cluster,
    at: &str,
    name: Option<&str>,
) -> anyhow::Result<diff::Current> {
    let host = cluster
        .inventory()
        .host(at)
        .with_context(|| format!("no host {at:?} in the inventory"))?
        .clone();
    rt.block_on(async {
        let d = cluster.engine(&host).await?;
        diff::read(&d, name)
            .await
            .map_err(|e| anyhow::anyhow!("{at}: reading the stack's objects failed: {e}"))
    })
}
