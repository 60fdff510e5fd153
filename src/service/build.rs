//! Service jobs behind the wizard and node actions: preflight, firewall apply, plans and
//! their application, each step reported as it finishes.

use super::worker::Outbox;
use super::{Event, Notice, PlanPurpose};
use crate::cluster::Cluster;
use crate::firewall::HostPlan;
use crate::swarm::actions::{NodeOp, node_action};
use crate::swarm::{AuditLog, BootstrapOptions, Plan, ops, plan, state};

pub(super) async fn preflight(cluster: Cluster) -> Vec<Event> {
    vec![Event::Preflight(Box::new(
        crate::preflight::run(&cluster).await,
    ))]
}

/// An encrypted overlay on a kernel without ESP/GCM silently drops everything: refuse it
/// before planning, with each host's reason.
async fn encryption_refusal(cluster: &Cluster, encrypted: bool) -> Option<String> {
    if !encrypted {
        return None;
    }
    crate::preflight::run(cluster).await.encryption_refusal()
}

pub(super) async fn plan_bootstrap(cluster: Cluster, opts: BootstrapOptions) -> Vec<Event> {
    let encrypted = opts.overlay.as_ref().is_some_and(|o| o.encrypted);
    let result = match encryption_refusal(&cluster, encrypted).await {
        Some(refusal) => Err(refusal),
        None => {
            let state = state::gather(&cluster).await;
            plan::bootstrap(&state, &opts).map_err(|e| e.redacted())
        }
    };
    vec![Event::Plan {
        purpose: PlanPurpose::Bootstrap,
        result,
    }]
}

pub(super) async fn plan_node(
    cluster: Cluster,
    node_id: String,
    op: NodeOp,
    force: bool,
) -> Vec<Event> {
    let state = state::gather(&cluster).await;
    let result = node_action(&state, &node_id, op, force).map_err(|e| e.redacted());
    vec![Event::Plan {
        purpose: PlanPurpose::Node,
        result,
    }]
}

pub(super) async fn plan_network(cluster: Cluster, spec: crate::swarm::OverlaySpec) -> Vec<Event> {
    let result = match encryption_refusal(&cluster, spec.encrypted).await {
        Some(refusal) => Err(refusal),
        None => {
            let state = state::gather(&cluster).await;
            crate::swarm::actions::create_network(&state, spec).map_err(|e| e.redacted())
        }
    };
    vec![Event::Plan {
        purpose: PlanPurpose::Network,
        result,
    }]
}

fn audit_log() -> Result<AuditLog, String> {
    AuditLog::default_location().map_err(|e| e.to_string())
}

/// Applies a plan the user confirmed; every step is audited and reported as it ends, and
/// a fresh snapshot follows so every panel shows the result.
pub(super) async fn apply_plan(cluster: Cluster, purpose: PlanPurpose, plan: Plan, out: Outbox) {
    let audit = match audit_log() {
        Ok(a) => a,
        Err(e) => {
            out.send(Event::Notice(Notice::error(format!("audit log: {e}"))))
                .await;
            return;
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let forward = {
        let out = out.clone();
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                out.send(ev).await;
            }
        })
    };
    let report = move |step: &crate::swarm::Step, res: Result<(), &crate::swarm::SwarmError>| {
        let _ = tx.send(Event::StepDone {
            host: step.host.clone(),
            description: step.description.clone(),
            result: res.map_err(|e| e.redacted()),
        });
    };
    let result = ops::apply(&cluster, &plan, &audit, &report)
        .await
        .map_err(|e| e.redacted());
    drop(report);
    let _ = forward.await;
    out.send(Event::Applied { purpose, result }).await;
    let snap = cluster.snapshot().await;
    out.send(Event::Snapshot(Box::new(snap))).await;
}

/// Opens swarm's ports as planned, then runs preflight again to verify.
pub(super) async fn apply_firewall(
    cluster: Cluster,
    plans: Vec<HostPlan>,
    persist: bool,
) -> Vec<Event> {
    let result = match audit_log() {
        Ok(audit) => crate::firewall::apply(&cluster, &plans, persist, &audit)
            .await
            .map_err(|e| e.redacted()),
        Err(e) => Err(e),
    };
    let mut events = vec![Event::FirewallApplied(result)];
    events.extend(preflight(cluster).await);
    events
}
