//! Every change a user can ask for, planned by one function that the CLI and the app both
//! call: the live state is read, the plan computed (pure), and checks that need the hosts
//! (the kernel's support for an encrypted overlay) run on what the plan would create.

use crate::cluster::Cluster;

use super::actions::{self, NodeOp};
use super::plan::{self, Action, BootstrapOptions, OverlaySpec, Plan};
use super::service::{self, ServiceChange};
use super::{SwarmError, state};

/// A change to plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// From bare hosts (or a partial swarm) to the requested swarm.
    Bootstrap(BootstrapOptions),
    /// A node action on the node with this ID (or unique name), quorum-checked.
    Node {
        node: String,
        op: NodeOp,
        force: bool,
    },
    /// An inventory host leaves its swarm.
    Leave { host: String, force: bool },
    /// An overlay network.
    Network(OverlaySpec),
    /// `--force-new-cluster` recovery after lost quorum.
    Recover,
    /// Scale, update or roll back a service.
    Service(ServiceChange),
    /// Labels added to or removed from a node.
    NodeLabels(super::labels::LabelChange),
    /// A secret or config created, removed or rotated.
    Object(super::secrets::ObjectChange),
    /// A stack deployed from a Compose file or removed.
    Stack(crate::stack::StackChange),
    /// A backup of the swarm's state taken, or one restored.
    Backup(crate::backup::BackupChange),
    /// A command run node by node: drain, command, back, tasks back (rolling maintenance).
    Maintenance(super::maintenance::MaintenanceRequest),
    /// Services redeployed to spread their tasks over every node again.
    Rebalance(super::rebalance::Rebalance),
    /// The node certificate lifetime changed, or the CA rotated.
    Cert(crate::certs::CertChange),
}

impl Change {
    /// What the change is, for progress and job lists.
    pub fn describe(&self) -> String {
        match self {
            Change::Bootstrap(_) => "build the swarm".into(),
            Change::Node { node, op, .. } => format!("{} {node}", op.verb()),
            Change::Leave { host, .. } => format!("{host} leaves the swarm"),
            Change::Network(o) => format!("create overlay {}", o.name),
            Change::Recover => "recover the swarm".into(),
            Change::Service(c) => c.describe(),
            Change::NodeLabels(l) => l.describe(),
            Change::Object(o) => o.describe(),
            Change::Stack(s) => s.describe(),
            Change::Backup(b) => b.describe(),
            Change::Maintenance(m) => m.describe(),
            Change::Rebalance(r) => r.describe(),
            Change::Cert(c) => c.describe(),
        }
    }
}

impl Change {
    /// The same change with `force` set, for changes that have one and do not yet.
    pub fn forced(&self) -> Option<Change> {
        match self {
            Change::Node {
                node,
                op,
                force: false,
            } => Some(Change::Node {
                node: node.clone(),
                op: *op,
                force: true,
            }),
            Change::Leave { host, force: false } => Some(Change::Leave {
                host: host.clone(),
                force: true,
            }),
            Change::Backup(b) => b.forced().map(Change::Backup),
            _ => None,
        }
    }
}

/// Plans `change` on the cluster's live state. An encrypted overlay the plan would create
/// is refused when a host's kernel cannot carry it (it would drop every packet), unless
/// `ignore_kernel_check`.
pub async fn plan(
    cluster: &Cluster,
    change: &Change,
    ignore_kernel_check: bool,
) -> Result<Plan, SwarmError> {
    let state = state::gather(cluster).await;
    let plan = match change {
        Change::Bootstrap(opts) => plan::bootstrap(&state, opts)?,
        Change::Node { node, op, force } => actions::node_action(&state, node, *op, *force)?,
        Change::Leave { host, force } => actions::leave(&state, host, *force)?,
        Change::Network(spec) => actions::create_network(&state, spec.clone())?,
        Change::Recover => actions::recovery(&state)?,
        Change::Service(c) => service::plan(cluster, &state, c).await?,
        Change::NodeLabels(l) => super::labels::plan(&state, l)?,
        Change::Object(o) => super::secrets::plan(cluster, &state, o).await?,
        Change::Stack(s) => {
            crate::stack::change::plan(cluster, actions::anchor(&state)?, s).await?
        }
        Change::Backup(b) => crate::backup::plan(cluster, &state, b).await?,
        Change::Maintenance(m) => super::maintenance::plan(cluster, &state, m).await?,
        Change::Rebalance(r) => super::rebalance::plan(cluster, &state, r).await?,
        Change::Cert(c) => crate::certs::change::plan(cluster, &state, c).await?,
    };
    let mut plan = plan;
    if let Some((node_id, name)) = drains(&plan) {
        plan.notes
            .extend(drain_preview(cluster, &node_id, &name).await);
    }
    if creates_encrypted_overlay(&plan) && !ignore_kernel_check {
        let report = crate::preflight::run(cluster).await;
        if let Some(refusal) = report.encryption_refusal() {
            return Err(SwarmError::EncryptionUnsupported { refusal });
        }
    }
    Ok(plan)
}

/// The node a plan drains, as (ID, name). A maintenance plan previews each of its
/// nodes itself.
fn drains(plan: &Plan) -> Option<(String, String)> {
    if plan
        .steps
        .iter()
        .any(|s| matches!(s.action, Action::Maintenance(_)))
    {
        return None;
    }
    plan.steps.iter().find_map(|s| match &s.action {
        Action::SetAvailability {
            node_id,
            name,
            availability: crate::snapshot::Availability::Drain,
        } => Some((node_id.clone(), name.clone())),
        _ => None,
    })
}

/// Which tasks a drain would move and whether each finds a node, read from a snapshot
/// taken now (the plan's own state holds no tasks).
async fn drain_preview(cluster: &Cluster, node_id: &str, name: &str) -> Vec<String> {
    let snap = cluster.snapshot().await;
    let unknown = |why: &str| {
        vec![format!(
            "the tasks on {name} could not be read, so where they would go is unknown: {why}"
        )]
    };
    match (&snap.swarm, &snap.workloads_error) {
        (None, _) => unknown("no manager answered"),
        (_, Some(why)) => unknown(why),
        _ if snap.nodes_as_of.is_some() => unknown("the managers' lists are not current"),
        _ => {
            crate::workloads::drain::notes(name, &crate::workloads::drain::preview(&snap, node_id))
        }
    }
}

fn creates_encrypted_overlay(plan: &Plan) -> bool {
    plan.steps
        .iter()
        .any(|s| matches!(&s.action, Action::CreateOverlay(o) if o.encrypted))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swarm::Step;

    #[test]
    fn only_plans_creating_an_encrypted_overlay_need_the_kernel_check() {
        let overlay = |encrypted| {
            Plan::of(Step::new(
                "node1",
                Action::CreateOverlay(OverlaySpec {
                    name: "appnet".into(),
                    encrypted,
                    ..Default::default()
                }),
                0,
            ))
        };
        assert!(creates_encrypted_overlay(&overlay(true)));
        assert!(!creates_encrypted_overlay(&overlay(false)));
        assert!(!creates_encrypted_overlay(&Plan::default()));
    }
}
