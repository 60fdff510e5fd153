//! `swarmdeck node label NODE add KEY=VALUE...` / `rm KEY...`: a node's labels changed on
//! its ID, planned, confirmed with `--yes` and audited like every node action
//! (`docker node update --label-add/--label-rm`).

use crate::cluster::Cluster;
use crate::swarm::change::Change;
use crate::swarm::labels::{LabelChange, parse_assignment, validate_key};

use super::bootstrap::{ApplyArgs, plan, show_and_apply};

#[derive(Debug, clap::Args)]
pub struct LabelArgs {
    /// The node's ID (or a unique prefix of it), its hostname, or its inventory host name.
    pub node: String,
    #[command(subcommand)]
    pub edit: LabelCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum LabelCommand {
    /// Set labels (`KEY=VALUE`, or `KEY` for an empty value).
    Add {
        #[arg(required = true, value_name = "KEY=VALUE")]
        labels: Vec<String>,
    },
    /// Remove labels.
    Rm {
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
    },
}

/// The change the words ask for, validated before anything is read from the hosts.
pub fn change(args: &LabelArgs) -> anyhow::Result<LabelChange> {
    let mut change = LabelChange {
        node: args.node.clone(),
        ..Default::default()
    };
    let invalid = |e: crate::swarm::SwarmError| anyhow::Error::msg(e.redacted());
    match &args.edit {
        LabelCommand::Add { labels } => {
            for l in labels {
                let (k, v) = parse_assignment(l).map_err(invalid)?;
                change.add.insert(k, v);
            }
        }
        LabelCommand::Rm { keys } => {
            for k in keys {
                validate_key(k).map_err(invalid)?;
                change.remove.insert(k.clone());
            }
        }
    }
    Ok(change)
}

pub fn run(
    args: &LabelArgs,
    cluster: &Cluster,
    rt: &tokio::runtime::Runtime,
    apply: &ApplyArgs,
) -> anyhow::Result<()> {
    let change = Change::NodeLabels(change(args)?);
    let plan = plan(rt, cluster, &change, false)?;
    show_and_apply(rt, cluster, &plan, apply)?;
    Ok(())
}
