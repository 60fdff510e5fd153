//! `swarmdeck service scale|update|rollback|rebalance`: a service change planned with its
//! docker CLI equivalent, applied with `--yes`, then followed slot by slot until swarm
//! completes, pauses or rolls it back (`--detach` does not wait). Ctrl-C while waiting
//! stops waiting and leaves the service as it is.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio_util::sync::CancellationToken;

use crate::cluster::Cluster;
use crate::swarm::change::Change;
use crate::swarm::plan::{Action, Plan};
use crate::swarm::service::{
    ServiceChange, ServiceEdit, SpecUpdate, parse_cpus, parse_env, parse_memory, valid_env_key,
};
use crate::untrusted::visible;
use crate::workloads::rollout::{self, FollowError, Phase, RolloutProgress};

use super::bootstrap::{ApplyArgs, Say, connect, plan, show_and_apply_saying};
use super::target::TargetArgs;

#[derive(Debug, clap::Args)]
pub struct ServiceArgs {
    #[command(subcommand)]
    pub command: ServiceCommand,
    #[command(flatten)]
    pub apply: ApplyArgs,
    /// Apply and return without following the rollout.
    #[arg(long, global = true)]
    pub detach: bool,
    /// Print the rollout's final state as JSON (progress lines go to stderr).
    #[arg(long, global = true)]
    pub json: bool,
    /// Stop waiting for the rollout after this many seconds (the rollout goes on).
    #[arg(long, value_name = "SECS", default_value_t = 600, global = true)]
    pub wait_timeout: u64,
}

#[derive(Debug, clap::Subcommand)]
pub enum ServiceCommand {
    /// Set replicated services' replica counts: `web=5 api=2`.
    Scale {
        #[arg(value_name = "SERVICE=N", required = true)]
        targets: Vec<String>,
    },
    /// Change a service's image, environment or resources, or redeploy it (--force).
    Update(UpdateArgs),
    /// Go back to the spec before the last update.
    Rollback {
        /// The service's name or ID.
        service: String,
    },
    /// Spread replicated services' tasks over every node again (a forced redeploy of
    /// each), e.g. after a node came back; refused without quorum.
    Rebalance(super::service_rebalance::RebalanceArgs),
}

#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    /// The service's name or ID.
    pub service: String,
    /// The new image, e.g. registry.example/app:2.1 (as the nodes can pull or already have it).
    #[arg(long)]
    pub image: Option<String>,
    /// Set an environment variable (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    pub env_add: Vec<String>,
    /// Unset an environment variable (repeatable).
    #[arg(long, value_name = "KEY")]
    pub env_rm: Vec<String>,
    /// Memory limit, e.g. 64M (0: none).
    #[arg(long, value_name = "SIZE")]
    pub limit_memory: Option<String>,
    /// CPU limit, e.g. 0.5 (0: none).
    #[arg(long, value_name = "CPUS")]
    pub limit_cpu: Option<String>,
    /// Memory reservation, e.g. 32M.
    #[arg(long, value_name = "SIZE")]
    pub reserve_memory: Option<String>,
    /// CPU reservation, e.g. 0.25.
    #[arg(long, value_name = "CPUS")]
    pub reserve_cpu: Option<String>,
    /// Replace every task even when nothing else changes.
    #[arg(long)]
    pub force: bool,
}

impl UpdateArgs {
    fn spec_update(&self) -> anyhow::Result<SpecUpdate> {
        let opt = |t: &Option<String>, parse: fn(&str) -> Result<i64, _>| {
            t.as_deref().map(parse).transpose()
        };
        for k in &self.env_rm {
            if !valid_env_key(k) {
                bail!("invalid environment variable name {:?}", visible(k));
            }
        }
        let u = SpecUpdate {
            image: self.image.clone(),
            env_add: self
                .env_add
                .iter()
                .map(|e| parse_env(e))
                .collect::<Result<_, _>>()?,
            env_rm: self.env_rm.clone(),
            limit_cpu: opt(&self.limit_cpu, parse_cpus)?,
            limit_memory: opt(&self.limit_memory, parse_memory)?,
            reserve_cpu: opt(&self.reserve_cpu, parse_cpus)?,
            reserve_memory: opt(&self.reserve_memory, parse_memory)?,
            force: self.force,
        };
        if u == SpecUpdate::default() {
            bail!(
                "nothing to update: give --image, --env-add, --env-rm, a limit, a reservation or --force"
            );
        }
        Ok(u)
    }
}

/// `web=5` → ("web", 5).
fn scale_target(text: &str) -> anyhow::Result<(String, u64)> {
    let (name, n) = text
        .rsplit_once('=')
        .with_context(|| format!("write SERVICE=N, not {:?}", visible(text)))?;
    let n = n
        .parse()
        .with_context(|| format!("{:?}: the replica count must be a number", visible(text)))?;
    Ok((name.to_string(), n))
}

pub fn run(
    args: ServiceArgs,
    target: &TargetArgs,
    inventory: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let changes: Vec<ServiceChange> = match &args.command {
        ServiceCommand::Scale { targets } => targets
            .iter()
            .map(|t| {
                scale_target(t).map(|(service, n)| ServiceChange {
                    service,
                    edit: ServiceEdit::Scale(n),
                })
            })
            .collect::<anyhow::Result<_>>()?,
        ServiceCommand::Update(u) => vec![ServiceChange {
            service: u.service.clone(),
            edit: ServiceEdit::Update(u.spec_update()?),
        }],
        ServiceCommand::Rollback { service } => vec![ServiceChange {
            service: service.clone(),
            edit: ServiceEdit::Rollback,
        }],
        ServiceCommand::Rebalance(r) => {
            return super::service_rebalance::run(r, &args, target, inventory, rt);
        }
    };
    let cluster = connect(target, inventory)?;
    let say = args.say();
    let mut ends = Ends::default();
    for change in changes {
        let rollback = change.edit == ServiceEdit::Rollback;
        let plan = plan(rt, &cluster, &Change::Service(change), false)?;
        if !show_and_apply_saying(rt, &cluster, &plan, &args.apply, say)? {
            continue;
        }
        ends.follow(rt, &cluster, &plan, rollback, &args)?;
    }
    ends.finish(args.json)
}

impl ServiceArgs {
    pub(super) fn say(&self) -> Say {
        if self.json { Say::Stderr } else { Say::Stdout }
    }
}

/// The rollouts followed so far, and why those that failed did.
#[derive(Default)]
pub(super) struct Ends {
    finals: Vec<RolloutProgress>,
    failed: Vec<String>,
}

impl Ends {
    /// Follows the rollout of each service step of an applied plan, in order.
    pub(super) fn follow(
        &mut self,
        rt: &tokio::runtime::Runtime,
        cluster: &Cluster,
        plan: &Plan,
        rollback: bool,
        args: &ServiceArgs,
    ) -> anyhow::Result<()> {
        let waiting = Waiting {
            detach: args.detach,
            timeout: Duration::from_secs(args.wait_timeout),
        };
        let steps = plan.steps.iter().filter_map(|s| match &s.action {
            Action::Service(step) => Some((s.host.as_str(), step.service_id.as_str())),
            _ => None,
        });
        for (host, service_id) in steps {
            let end = watch(rt, cluster, host, service_id, rollback, waiting, args.say())?;
            if let Some(why) = failure(&end) {
                self.failed.push(why);
            }
            self.finals.push(end);
        }
        Ok(())
    }

    /// Prints the final states as JSON when asked; fails when a rollout did.
    pub(super) fn finish(self, json: bool) -> anyhow::Result<()> {
        if json {
            println!("{}", serde_json::to_string_pretty(&self.finals)?);
        }
        if !self.failed.is_empty() {
            bail!("{}", self.failed.join("\n"));
        }
        Ok(())
    }
}

/// Why a rollout that ended did not do what was asked.
fn failure(p: &RolloutProgress) -> Option<String> {
    let name = visible(&p.service);
    match &p.phase {
        Phase::Paused { reason } => Some(format!(
            "{name}: the rollout is paused: {}. Fix the cause (e.g. `swarmdeck service update \
             {name} --image …` with an image every node has), or `swarmdeck service rollback \
             {name}`",
            visible(reason)
        )),
        Phase::RolledBack { reason } => Some(format!(
            "{name}: swarm rolled the update back: {}",
            visible(reason)
        )),
        _ => None,
    }
}

/// How long and whether to follow a rollout after applying.
#[derive(Debug, Clone, Copy)]
pub(super) struct Waiting {
    pub detach: bool,
    pub timeout: Duration,
}

/// Follows the rollout (or reads it once with `--detach`), printing a line per change.
pub(super) fn watch(
    rt: &tokio::runtime::Runtime,
    cluster: &Cluster,
    host: &str,
    service_id: &str,
    rollback: bool,
    waiting: Waiting,
    say: Say,
) -> anyhow::Result<RolloutProgress> {
    let h = cluster
        .inventory()
        .host(host)
        .context("the plan's host left the inventory")?;
    rt.block_on(async {
        let d = cluster
            .engine(h)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if waiting.detach {
            let names = rollout::node_names(&d).await;
            let p = rollout::read(&d, host, service_id, rollback, &names).await?;
            say.line(format_args!("{} (not waiting: --detach)", p.summary()));
            return Ok(p);
        }
        let cancel = CancellationToken::new();
        let on_ctrl_c = cancel.clone();
        let watcher = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                on_ctrl_c.cancel();
            }
        });
        say.line("following the rollout (Ctrl-C stops waiting; the service is left as it is):");
        let mut shown = std::collections::BTreeMap::new();
        let end = rollout::follow(
            &d,
            host,
            service_id,
            rollback,
            waiting.timeout,
            &cancel,
            |p| print_progress(say, p, &mut shown),
        )
        .await;
        watcher.abort();
        match end {
            Ok(p) => {
                say.line(p.summary());
                Ok(p)
            }
            Err(e @ FollowError::Cancelled { .. }) => {
                say.line(&e);
                std::process::exit(130)
            }
            Err(e) => Err(e.into()),
        }
    })
}

/// Prints the summary and each slot whose row changed since last shown.
fn print_progress(
    say: Say,
    p: &RolloutProgress,
    shown: &mut std::collections::BTreeMap<String, String>,
) {
    say.line(format_args!("  {}", p.summary()));
    for s in &p.slots {
        let side = |t: &Option<rollout::TaskView>| match t {
            Some(t) => format!(
                "{} {} on {}{}",
                visible(&t.image),
                t.state,
                if t.node.is_empty() { "-" } else { &t.node },
                t.error
                    .as_deref()
                    .map(|e| format!(" ({})", visible(e)))
                    .unwrap_or_default()
            ),
            None => "-".into(),
        };
        let row = format!(
            "    slot {}: {} → {}{}",
            visible(&s.slot),
            side(&s.old),
            side(&s.new),
            if s.updated { "  [updated]" } else { "" }
        );
        if shown.get(&s.slot) != Some(&row) {
            say.line(&row);
            shown.insert(s.slot.clone(), row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_targets_and_update_flags_parse() {
        assert_eq!(scale_target("web=5").unwrap(), ("web".into(), 5));
        assert!(scale_target("web").is_err() && scale_target("web=x").is_err());
        let u = UpdateArgs {
            service: "web".into(),
            image: None,
            env_add: vec!["A=1".into()],
            env_rm: vec!["B".into()],
            limit_memory: Some("64M".into()),
            limit_cpu: None,
            reserve_memory: None,
            reserve_cpu: Some("0.5".into()),
            force: false,
        };
        let s = u.spec_update().unwrap();
        assert_eq!(s.limit_memory, Some(64 << 20));
        assert_eq!(s.reserve_cpu, Some(500_000_000));
        let empty = UpdateArgs {
            env_add: vec![],
            env_rm: vec![],
            limit_memory: None,
            reserve_cpu: None,
            ..u
        };
        assert!(empty.spec_update().is_err());
    }
}
