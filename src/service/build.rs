//! Service jobs that change hosts: the firewall rules and confirmed plans, each step
//! reported as it ends.

use tokio_util::sync::CancellationToken;

use super::worker::JobTx;
use super::{JobUpdate, StepReport};
use crate::cluster::Cluster;
use crate::firewall::HostPlan;
use crate::outcome::Failure;
use crate::swarm::{AuditLog, Plan, SwarmError, ops};

fn audit_log() -> Result<AuditLog, Failure> {
    AuditLog::default_location().map_err(|e| SwarmError::from(e).failure())
}

/// Applies a plan the user confirmed; every step is audited and reported as it ends, and
/// a fresh snapshot follows so every panel shows the result. Cancelling stops before the
/// next batch of steps (see [`ops::apply`]).
pub(super) async fn apply_plan(
    cluster: Cluster,
    plan: Plan,
    cancel: CancellationToken,
    tx: &JobTx,
) {
    let audit = match audit_log() {
        Ok(a) => a,
        Err(e) => return tx.send(JobUpdate::Applied(Err(e))).await,
    };
    let (steps, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let forward = {
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(step) = rx.recv().await {
                tx.send(JobUpdate::Step(step)).await;
            }
        })
    };
    let report = move |step: &crate::swarm::Step, res: Result<(), &SwarmError>| {
        let _ = steps.send(StepReport {
            host: step.host.clone(),
            description: step.description.clone(),
            result: res.map_err(SwarmError::failure),
        });
    };
    let result = ops::apply(&cluster, &plan, &audit, &report, &cancel)
        .await
        .map_err(|e| e.failure());
    drop(report);
    let _ = forward.await;
    let applied = result.is_ok();
    tx.send(JobUpdate::Applied(result)).await;
    if applied {
        super::rollout::follow_applied(&cluster, &plan, &cancel, tx).await;
    }
    let snap = cluster.snapshot().await;
    tx.snapshot(snap).await;
}

/// Opens swarm's ports as planned, then runs preflight again to verify.
pub(super) async fn apply_firewall(
    cluster: Cluster,
    plans: Vec<HostPlan>,
    persist: bool,
    tx: &JobTx,
) {
    let result = match audit_log() {
        Ok(audit) => crate::firewall::apply(&cluster, &plans, persist, &audit)
            .await
            .map_err(|e| Failure::failed(e.redacted())),
        Err(e) => Err(e),
    };
    tx.send(JobUpdate::FirewallApplied(result)).await;
    let report = crate::preflight::run(&cluster).await;
    tx.send(JobUpdate::Preflight(Box::new(report))).await;
}
