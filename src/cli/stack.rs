//! `swarmdeck stack deploy|ls|rm`: stacks from Compose files, planned against what the
//! swarm runs, each step shown with its docker CLI equivalent and applied with --yes.

use std::path::{Path, PathBuf};

use crate::stack::{StackChange, change, diff};

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
            let change = StackChange::Deploy {
                file: compose_file,
                env_file,
                name,
                prune,
            };
            plan_and_apply(&change, target, inventory, rt, &apply)
        }
        StackCommand::Ls { json } => {
            let (cluster, at) = answering_manager(target, inventory, rt)?;
            let current = rt
                .block_on(change::read(&cluster, &at, None))
                .map_err(|e| anyhow::Error::msg(e.redacted()))?;
            let all = diff::summaries(&current);
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
            plan_and_apply(&StackChange::Remove { name }, target, inventory, rt, &apply)
        }
    }
}

/// The files first (their errors need no host, their warnings go to stderr), then the
/// plan against the swarm, shown and applied with --yes.
fn plan_and_apply(
    stack_change: &StackChange,
    target: &TargetArgs,
    inventory: Option<&Path>,
    rt: &tokio::runtime::Runtime,
    apply: &ApplyArgs,
) -> anyhow::Result<()> {
    let prepared = change::prepare(stack_change).map_err(|e| anyhow::Error::msg(e.to_string()))?;
    for w in prepared.warnings() {
        eprintln!("warning: {}", crate::untrusted::visible(w));
    }
    let (cluster, at) = answering_manager(target, inventory, rt)?;
    let plan = rt
        .block_on(change::plan_prepared(&cluster, &at, &prepared))
        .map_err(|e| anyhow::Error::msg(e.redacted()))?;
    if !show_and_apply(rt, &cluster, &plan, apply)? {
        return Ok(());
    }
    follow_updates(rt, &cluster, &plan)
}

/// After a deploy, each updated service's rollout is followed slot by slot, as `swarmdeck
/// service update` does: the deploy ends when they complete, or fails with the reason when
/// one pauses or rolls back.
fn follow_updates(
    rt: &tokio::runtime::Runtime,
    cluster: &crate::cluster::Cluster,
    plan: &crate::swarm::Plan,
) -> anyhow::Result<()> {
    use crate::swarm::plan::Action;
    use crate::workloads::rollout::Phase;
    let waiting = super::service::Waiting {
        detach: false,
        timeout: std::time::Duration::from_secs(600),
    };
    for step in &plan.steps {
        let Action::Stack(s) = &step.action else {
            continue;
        };
        let crate::stack::StackStep::UpdateService { id, .. } = s.as_ref() else {
            continue;
        };
        let say = super::bootstrap::Say::Stdout;
        let end = super::service::watch(rt, cluster, &step.host, id, false, waiting, say)?;
        if let Phase::Paused { reason } | Phase::RolledBack { reason } = &end.phase {
            anyhow::bail!(
                "{}: the rollout did not complete: {}",
                crate::untrusted::visible(&end.service),
                crate::untrusted::visible(reason)
            );
        }
    }
    Ok(())
}
