//! `swarmdeck node …`, `network create` and `swarm join-token|unlock-key|unlock`:
//! quorum-safe node actions, overlays, secret rotation and unlocking. Tokens are never
//! printed; the unlock key only with `--show-unlock-key`, and it is read only from stdin.

use std::path::Path;

use anyhow::bail;

use crate::cluster::Cluster;
use crate::snapshot::Role;
use crate::swarm::actions::NodeOp;
use crate::swarm::change::Change;
use crate::swarm::plan::{Action, OverlaySpec, Plan, Step};
use crate::swarm::{self, SwarmError, validate_name};

use super::bootstrap::{ApplyArgs, connect, plan, show_and_apply};
use super::target::TargetArgs;

#[derive(Debug, clap::Args)]
pub struct NodeArgs {
    #[command(subcommand)]
    pub command: NodeCommand,
    /// Go ahead even if it loses quorum (and `docker node rm --force` for remove).
    #[arg(long, global = true)]
    pub force: bool,
    #[command(flatten)]
    pub apply: ApplyArgs,
}

/// Which node: the same words for every node action.
#[derive(Debug, clap::Args)]
pub struct NodeRef {
    /// The node's ID (or a unique prefix of it), its hostname, or its inventory host name.
    /// A hostname that several nodes share (cloned machines) is refused, with their IDs.
    pub node: String,
}

#[derive(Debug, clap::Subcommand)]
pub enum NodeCommand {
    /// Make a worker a manager.
    Promote(NodeRef),
    /// Make a manager a worker (refused if it would lose quorum).
    Demote(NodeRef),
    /// Move tasks off the node and schedule none there.
    Drain(NodeRef),
    /// Keep tasks, schedule no new ones.
    Pause(NodeRef),
    /// Schedule tasks on the node again.
    Activate(NodeRef),
    /// Remove the node from the swarm (managers are demoted first).
    Remove(NodeRef),
    /// Make an inventory host leave its swarm.
    Leave { host: String },
    /// Add or remove a node's labels (`label NODE add KEY=VALUE...`, `label NODE rm KEY...`).
    Label(super::node_label::LabelArgs),
}

fn err(e: SwarmError) -> anyhow::Error {
    anyhow::Error::msg(e.redacted())
}

pub fn run(
    args: NodeArgs,
    target: &TargetArgs,
    inventory: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let cluster = connect(target, inventory)?;
    let (node, op) = match &args.command {
        NodeCommand::Promote(r) => (&r.node, NodeOp::Promote),
        NodeCommand::Demote(r) => (&r.node, NodeOp::Demote),
        NodeCommand::Drain(r) => (&r.node, NodeOp::Drain),
        NodeCommand::Pause(r) => (&r.node, NodeOp::Pause),
        NodeCommand::Activate(r) => (&r.node, NodeOp::Activate),
        NodeCommand::Remove(r) => (&r.node, NodeOp::Remove),
        NodeCommand::Label(l) => return super::node_label::run(l, &cluster, rt, &args.apply),
        NodeCommand::Leave { host } => {
            let change = Change::Leave {
                host: host.clone(),
                force: args.force,
            };
            show_and_apply(
                rt,
                &cluster,
                &plan(rt, &cluster, &change, false)?,
                &args.apply,
            )?;
            return Ok(());
        }
    };
    let change = Change::Node {
        node: node.clone(),
        op,
        force: args.force,
    };
    let plan = plan(rt, &cluster, &change, false)?;
    show_and_apply(rt, &cluster, &plan, &args.apply)?;
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct NetworkArgs {
    #[command(subcommand)]
    pub command: NetworkCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum NetworkCommand {
    /// Create an overlay network (attachable unless --no-attachable).
    Create {
        name: String,
        /// Encrypt traffic with IPsec (refused when a kernel cannot do it).
        #[arg(long)]
        encrypted: bool,
        #[arg(long, value_name = "CIDR")]
        subnet: Option<String>,
        #[arg(long)]
        mtu: Option<u32>,
        /// Only swarm services may attach (not standalone containers).
        #[arg(long)]
        no_attachable: bool,
        /// Create an encrypted overlay even where the kernel check says it cannot work.
        #[arg(long)]
        ignore_kernel_check: bool,
        #[command(flatten)]
        apply: ApplyArgs,
    },
}

pub fn network(
    args: NetworkArgs,
    target: &TargetArgs,
    inventory: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let NetworkCommand::Create {
        name,
        encrypted,
        subnet,
        mtu,
        no_attachable,
        ignore_kernel_check,
        apply,
    } = args.command;
    validate_name("network", &name).map_err(err)?;
    let cluster = connect(target, inventory)?;
    let spec = OverlaySpec {
        name,
        attachable: !no_attachable,
        encrypted,
        subnet,
        mtu,
    };
    let plan = plan(rt, &cluster, &Change::Network(spec), ignore_kernel_check)?;
    show_and_apply(rt, &cluster, &plan, &apply)?;
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct SwarmArgs {
    #[command(subcommand)]
    pub command: SwarmCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum SwarmCommand {
    /// Rotate a join token (the old one stops working). Tokens are never printed.
    JoinToken {
        /// `worker` or `manager`.
        role: String,
        #[arg(long)]
        rotate: bool,
        #[command(flatten)]
        apply: ApplyArgs,
    },
    /// Rotate the unlock key of an autolocked swarm, or print it when explicitly asked.
    UnlockKey {
        #[arg(long)]
        rotate: bool,
        /// Print the unlock key (it is never logged or written to the audit log).
        #[arg(long)]
        show_unlock_key: bool,
        #[command(flatten)]
        apply: ApplyArgs,
    },
    /// Unlock a manager that restarted with autolock on (the key is read from stdin).
    Unlock {
        /// The locked host (its inventory name).
        host: String,
        /// Read the unlock key from stdin (the only way: keys never go on command lines).
        #[arg(long, required = true)]
        unlock_key_stdin: bool,
        #[command(flatten)]
        apply: ApplyArgs,
    },
}

/// `swarm unlock`: works on a host no manager can answer for (it is the locked one).
fn unlock_cmd(
    host: &str,
    apply: &ApplyArgs,
    target: &TargetArgs,
    inventory: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let key = read_unlock_key(std::io::stdin().lock())?;
    let cluster = connect(target, inventory)?;
    if cluster.inventory().host(host).is_none() {
        bail!("no host {host:?} in the inventory");
    }
    // Shown like a plan step; not one, as steps never hold secrets and this needs the key.
    println!(
        " 1. [{host}] unlock the swarm on {host}\n      $ {}",
        swarm::ops::UNLOCK_CLI
    );
    if !apply.yes {
        println!("\nnot applied: run again with --yes to apply these steps");
        return Ok(());
    }
    let audit = apply.audit()?;
    rt.block_on(swarm::ops::unlock(&cluster, host, &key, &audit))
        .map_err(err)?;
    println!("{host}: unlocked");
    Ok(())
}

/// The unlock key from `input`: one line with the key's prefix. Never echoed back, even
/// when wrong.
pub(super) fn read_unlock_key(
    mut input: impl std::io::Read,
) -> anyhow::Result<crate::redact::Secret> {
    let mut text = String::new();
    input
        .read_to_string(&mut text)
        .map_err(|e| anyhow::anyhow!("reading the unlock key from stdin: {e}"))?;
    let key = text.trim();
    if !key.starts_with("SWMKEY-") || key.contains(char::is_whitespace) {
        bail!(
            "stdin does not hold an unlock key (one line, as `docker swarm unlock-key -q` \
             prints it); get it from an unlocked manager with `swarmdeck swarm unlock-key \
             --show-unlock-key`"
        );
    }
    Ok(crate::redact::Secret::new(key.to_string()))
}

pub fn swarm_cmd(
    args: SwarmArgs,
    target: &TargetArgs,
    inventory: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    match args.command {
        // No manager can answer for a locked host (it is the locked one): no state first.
        SwarmCommand::Unlock { host, apply, .. } => {
            unlock_cmd(&host, &apply, target, inventory, rt)
        }
        SwarmCommand::JoinToken {
            role,
            rotate,
            apply,
        } => {
            let role = match role.as_str() {
                "worker" => Role::Worker,
                "manager" => Role::Manager,
                other => bail!("role must be worker or manager, not {other:?}"),
            };
            if !rotate {
                bail!(
                    "swarmdeck never shows join tokens; it fetches them itself when hosts join. \
                     Use --rotate to replace a leaked token"
                );
            }
            let (cluster, at) = answering_manager(target, inventory, rt)?;
            let plan = Plan::of(Step::new(&at, Action::RotateJoinToken { role }, 0));
            show_and_apply(rt, &cluster, &plan, &apply).map(drop)
        }
        SwarmCommand::UnlockKey {
            rotate,
            show_unlock_key,
            apply,
        } => {
            let (cluster, at) = answering_manager(target, inventory, rt)?;
            if rotate {
                let plan = Plan::of(Step::new(&at, Action::RotateUnlockKey, 0));
                show_and_apply(rt, &cluster, &plan, &apply)?;
            }
            if show_unlock_key {
                let key = rt
                    .block_on(swarm::ops::unlock_key(&cluster, &at))
                    .map_err(err)?;
                println!("{}", key.expose());
            } else if !rotate {
                println!(
                    "the unlock key is shown only with --show-unlock-key (it unlocks the \
                     managers' encrypted Raft logs: keep it out of logs and chats)"
                );
            }
            Ok(())
        }
    }
}

/// The cluster and the manager that answers for it.
pub(super) fn answering_manager(
    target: &TargetArgs,
    inventory: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<(Cluster, String)> {
    let cluster = connect(target, inventory)?;
    let state = rt.block_on(swarm::state::gather(&cluster));
    let at = match state.answered_by.clone() {
        Some(at) => at,
        None => return Err(err(state.no_manager())),
    };
    Ok((cluster, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlock_keys_are_read_from_stdin_and_never_echoed() {
        let key = read_unlock_key("SWMKEY-1-abcDEF123\n".as_bytes()).unwrap();
        assert_eq!(key.expose(), "SWMKEY-1-abcDEF123");
        for bad in ["", "hunter2\n", "SWMKEY-1-abc def\n", "SWMTKN-1-xyz\n"] {
            let e = read_unlock_key(bad.as_bytes()).unwrap_err().to_string();
            assert!(e.contains("does not hold an unlock key"), "{e}");
            assert!(!e.contains("SWM") && !e.contains("hunter2"), "{e}");
        }
    }
}
