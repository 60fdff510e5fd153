//! `swarmdeck service rebalance SERVICE…`: each replicated service redeployed (`docker
//! service update --force`) so its tasks spread over every node again, e.g. after a node
//! came back. The plan shows the tasks per node now, the nodes that run none, global
//! services skipped and a single stop-first replica's downtime; it is refused without
//! quorum. Applied with `--yes`, then each rollout is followed as `service update` does.

use std::path::Path;

use crate::swarm::change::Change;
use crate::swarm::rebalance::Rebalance;

use super::bootstrap::{connect, plan, show_and_apply_saying};
use super::service::{Ends, ServiceArgs};
use super::target::TargetArgs;

#[derive(Debug, clap::Args)]
pub struct RebalanceArgs {
    /// The services' names or IDs.
    #[arg(value_name = "SERVICE", required = true)]
    pub services: Vec<String>,
}

pub fn run(
    r: &RebalanceArgs,
    args: &ServiceArgs,
    target: &TargetArgs,
    inventory: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let cluster = connect(target, inventory)?;
    let change = Change::Rebalance(Rebalance {
        services: r.services.clone(),
    });
    let plan = plan(rt, &cluster, &change, false)?;
    let mut ends = Ends::default();
    if show_and_apply_saying(rt, &cluster, &plan, &args.apply, args.say())? {
        ends.follow(rt, &cluster, &plan, false, args)?;
    }
    ends.finish(args.json)
}
