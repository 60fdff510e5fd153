//! `swarmdeck maintain (--node NODE… | --all) [--yes] [--step-timeout D] -- COMMAND…`:
//! rolling maintenance, one node at a time (drain, wait for its tasks to leave, the
//! command over SSH, back ready, availability restored, tasks back), workers first and
//! the leader last, each manager only when the quorum what-if allows it. Stops at the
//! first failure and says where, in what state it left that node, and the fix.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use crate::swarm::change::Change;
use crate::swarm::maintenance::{self, DEFAULT_STEP_TIMEOUT, MaintenanceRequest, Selection};
use crate::swarm::{Step, SwarmError};
use crate::untrusted::visible;

use super::bootstrap::{ApplyArgs, Say, apply_stopping_on_ctrl_c, connect, plan, progress};
use super::target::TargetArgs;

#[derive(Debug, clap::Args)]
pub struct MaintainArgs {
    /// A node to maintain: its ID (or a unique prefix), hostname or inventory host name.
    /// Repeatable; the order is swarmdeck's (workers first, the leader last).
    #[arg(long = "node", value_name = "NODE", required_unless_present = "all")]
    pub nodes: Vec<String>,
    /// Every node of the swarm.
    #[arg(long, conflicts_with = "nodes")]
    pub all: bool,
    /// Deadline of each step (the command, and each wait), e.g. 90s, 10m, 1h.
    #[arg(long, value_name = "D", value_parser = parse_timeout, default_value = "10m")]
    pub step_timeout: Duration,
    #[command(flatten)]
    pub apply: ApplyArgs,
    /// The command, after `--`: its words joined with spaces make one shell line (as ssh
    /// does), run with `sh -c` on each node's host (under `sudo -n` where the inventory
    /// says sudo).
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    crate::workloads::log_lines::parse_duration(text)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{text:?} is no duration like 90s, 10m or 1h"))
}

impl MaintainArgs {
    pub fn request(&self) -> MaintenanceRequest {
        MaintenanceRequest {
            nodes: if self.all {
                Selection::All
            } else {
                Selection::Nodes(self.nodes.clone())
            },
            command: self.command.join(" "),
            step_timeout: self.step_timeout,
        }
    }
}

pub fn run(
    args: MaintainArgs,
    target: &TargetArgs,
    inventory: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let cluster = connect(target, inventory)?;
    let plan = plan(rt, &cluster, &Change::Maintenance(args.request()), false)?;
    if args.step_timeout != DEFAULT_STEP_TIMEOUT {
        println!("each step may take {}s", args.step_timeout.as_secs());
    }
    println!("{}", plan.render().trim_end());
    if !args.apply.yes {
        println!("\nnot applied: run again with --yes to maintain these nodes");
        return Ok(());
    }
    let audit = args.apply.audit()?;
    println!("\nmaintaining (audit log: {}):", audit.path().display());
    let failed: Mutex<Option<Step>> = Mutex::new(None);
    let report = |step: &Step, res: Result<(), &SwarmError>| {
        progress(Say::Stdout, step, res);
        if res.is_err() {
            *failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(step.clone());
        }
    };
    let result = apply_stopping_on_ctrl_c(rt, &cluster, &plan, &audit, &report);
    let after = rt.block_on(cluster.snapshot());
    println!(
        "engine versions after: {}",
        maintenance::versions(&after.nodes)
    );
    match result {
        Ok(done) => {
            println!("{done} step(s) applied: every node maintained");
            Ok(())
        }
        Err(e) => {
            let failed = failed.into_inner().unwrap_or_else(|e| e.into_inner());
            let mut text = format!("rolling maintenance stopped: {}", e.redacted());
            if let Some(step) = &failed {
                text.push('\n');
                text.push_str(&maintenance::stop_report(&plan, step));
                text.push_str(&now(&after, step));
            }
            anyhow::bail!("{}", crate::untrusted::visible_lines(&text))
        }
    }
}

/// The failed node as the swarm shows it now.
fn now(snap: &crate::snapshot::ClusterSnapshot, step: &Step) -> String {
    let id = match &step.action {
        crate::swarm::Action::Maintenance(m) => m.node_id.as_str(),
        crate::swarm::Action::SetAvailability { node_id, .. } => node_id.as_str(),
        _ => return String::new(),
    };
    match snap.nodes.iter().find(|n| n.id == id) {
        Some(n) if snap.nodes_as_of.is_none() => format!(
            "\nnow: {} is {}, availability {}",
            visible(&n.label_among(&snap.nodes)),
            n.state,
            n.availability
        ),
        _ => "\nnow: the node's state could not be read".into(),
    }
}
