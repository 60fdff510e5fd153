//! The node certificate lifetime (`docker swarm update --cert-expiry`) and CA rotation
//! (`docker swarm ca --rotate`) as planned, confirmed and audited steps: one swarm spec
//! update on a manager, applied at the spec's version index the plan was read at (a change
//! by someone else since is refused as stale). A rotation increments
//! `CAConfig.ForceRotate`, which makes swarm generate a new root and reissue every node's
//! certificate from it; [`super::rotation::follow`] watches that happen.

use bollard::Docker;
use bollard::query_parameters::UpdateSwarmOptions;

use crate::cluster::Cluster;
use crate::swarm::plan::{Action, Plan, Step, WARNING};
use crate::swarm::state::SwarmState;
use crate::swarm::{SwarmError, ops};

use super::read::{SwarmCa, swarm_ca};
use super::{CertError, go_duration, human_left};

/// What the user asks of the swarm's certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertChange {
    /// Node certificates are issued for this many seconds from now on.
    Expiry { secs: u64 },
    /// A new root CA, and every node's certificate reissued from it.
    Rotate,
}

impl CertChange {
    pub fn describe(&self) -> String {
        match self {
            CertChange::Expiry { secs } => {
                format!(
                    "set the node certificate lifetime to {}",
                    go_duration(*secs)
                )
            }
            CertChange::Rotate => "rotate the swarm's root CA".into(),
        }
    }
}

/// What the step changes in the swarm's spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertOp {
    Expiry {
        from: u64,
        to: u64,
    },
    /// `CAConfig.ForceRotate` set to this (one more than it was).
    Rotate {
        force_rotate: u64,
    },
}

/// The step: the swarm spec's change, at the version index it was planned at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertStep {
    pub op: CertOp,
    pub version: u64,
}

impl CertStep {
    pub fn cli(&self) -> String {
        match &self.op {
            CertOp::Expiry { to, .. } => {
                format!("docker swarm update --cert-expiry {}", go_duration(*to))
            }
            CertOp::Rotate { .. } => "docker swarm ca --rotate".into(),
        }
    }

    pub fn describe(&self) -> String {
        match &self.op {
            CertOp::Expiry { from, to } => format!(
                "set the node certificate lifetime to {} (was {})",
                go_duration(*to),
                go_duration(*from)
            ),
            CertOp::Rotate { .. } => {
                "rotate the swarm's root CA: a new root, every node's certificate reissued \
                 from it"
                    .into()
            }
        }
    }
}

/// Plans `change` on the manager that answers for `state`.
pub async fn plan(
    cluster: &Cluster,
    state: &SwarmState,
    change: &CertChange,
) -> Result<Plan, SwarmError> {
    let at = crate::swarm::actions::anchor(state)?;
    let d = cluster.engine(ops::spec(cluster, at)?).await?;
    let swarm = d.inspect_swarm().await.map_err(|e| SwarmError::Step {
        host: at.into(),
        step: "read the swarm's CA settings".into(),
        message: crate::redact::redact(&e.to_string()).into_owned(),
        fix: "run it against a manager with quorum".into(),
    })?;
    Ok(plan_for(at, &swarm_ca(at, &swarm), change))
}

/// The plan for `change` against the swarm's CA as `ca` reports it (pure).
pub fn plan_for(at: &str, ca: &SwarmCa, change: &CertChange) -> Plan {
    let mut plan = Plan::default();
    let op = match change {
        CertChange::Expiry { secs } if *secs == ca.node_cert_expiry => {
            plan.notes.push(format!(
                "nothing to change: node certificates are already issued for {}",
                go_duration(*secs)
            ));
            return plan;
        }
        CertChange::Expiry { secs } => {
            plan.notes.push(format!(
                "certificates issued from now on are valid for {}; each node's current \
                 certificate keeps its lifetime until swarm renews it (at 50-80 % of it). \
                 `swarmdeck cert rotate` reissues every node's certificate now",
                human_left(*secs as i64)
            ));
            if *secs < 24 * 3600 {
                plan.notes.push(format!(
                    "{WARNING}a node that is off longer than {} comes back with an expired \
                     certificate and must leave and join again",
                    human_left(*secs as i64)
                ));
            }
            CertOp::Expiry {
                from: ca.node_cert_expiry,
                to: *secs,
            }
        }
        CertChange::Rotate => {
            plan.notes.push(format!(
                "every node receives a certificate from the new root; nodes that are down \
                 receive theirs when they return, and the rotation finishes only then. New \
                 certificates are valid for {}",
                human_left(ca.node_cert_expiry as i64)
            ));
            if ca.rotation_in_progress {
                plan.notes.push(format!(
                    "{WARNING}a CA rotation is already in progress: this one replaces it"
                ));
            }
            CertOp::Rotate {
                force_rotate: ca.force_rotate + 1,
            }
        }
    };
    let step = CertStep {
        op,
        version: ca.version,
    };
    plan.steps.push(Step::new(at, Action::Cert(step), 0));
    plan
}

/// Applies a planned step on `d` (a manager): refused as stale when the swarm's spec moved
/// since the plan; the engine refuses the same race between our read and our write.
pub async fn apply(d: &Docker, host: &str, step: &CertStep) -> Result<(), SwarmError> {
    let what = step.describe();
    let fail = |e: &dyn std::fmt::Display| SwarmError::Step {
        host: host.into(),
        step: what.clone(),
        message: crate::redact::redact(&e.to_string()).into_owned(),
        fix: "run it against a manager with quorum (`swarmdeck status`)".into(),
    };
    let swarm = d.inspect_swarm().await.map_err(|e| fail(&e))?;
    let now = swarm.version.as_ref().and_then(|v| v.index).unwrap_or(0);
    let stale = |now| {
        SwarmError::Certs(CertError::Stale {
            planned: step.version,
            now,
        })
    };
    if now != step.version {
        return Err(stale(now));
    }
    let mut spec = swarm.spec.unwrap_or_default();
    let ca = spec.ca_config.get_or_insert_with(Default::default);
    match &step.op {
        CertOp::Expiry { to, .. } => ca.node_cert_expiry = Some(*to as i64 * 1_000_000_000),
        CertOp::Rotate { force_rotate } => ca.force_rotate = Some(*force_rotate),
    }
    let opts = UpdateSwarmOptions {
        version: now as i64,
        ..Default::default()
    };
    d.update_swarm(spec, opts).await.map_err(|e| {
        if e.to_string().contains("update out of sequence") {
            stale(now + 1)
        } else {
            fail(&e)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca(expiry: u64, force_rotate: u64, in_progress: bool) -> SwarmCa {
        SwarmCa {
            answered_by: "node1".into(),
            cluster_id: "c".into(),
            version: 42,
            node_cert_expiry: expiry,
            force_rotate,
            rotation_in_progress: in_progress,
            root: None,
        }
    }

    #[test]
    fn the_lifetime_is_one_swarm_update_at_the_planned_version() {
        let plan = plan_for(
            "node1",
            &ca(super::super::DEFAULT_EXPIRY_SECS, 0, false),
            &CertChange::Expiry { secs: 48 * 3600 },
        );
        assert_eq!(plan.steps.len(), 1);
        let s = &plan.steps[0];
        assert_eq!(s.host, "node1");
        assert_eq!(s.cli, "docker swarm update --cert-expiry 48h0m0s");
        assert_eq!(
            s.description,
            "set the node certificate lifetime to 48h0m0s (was 2160h0m0s)"
        );
        assert_eq!(
            s.action,
            Action::Cert(CertStep {
                op: CertOp::Expiry {
                    from: 2160 * 3600,
                    to: 48 * 3600
                },
                version: 42
            })
        );
        assert!(plan.notes[0].contains("cert rotate"), "{:?}", plan.notes);
        let same = plan_for(
            "node1",
            &ca(48 * 3600, 0, false),
            &CertChange::Expiry { secs: 48 * 3600 },
        );
        assert!(same.is_empty());
        assert!(same.notes[0].starts_with("nothing to change"));
        let short = plan_for(
            "node1",
            &ca(48 * 3600, 0, false),
            &CertChange::Expiry { secs: 3600 },
        );
        assert!(short.notes.iter().any(|n| n.starts_with(WARNING)));
    }

    #[test]
    fn a_rotation_increments_force_rotate() {
        let plan = plan_for("node1", &ca(48 * 3600, 3, true), &CertChange::Rotate);
        let s = &plan.steps[0];
        assert_eq!(s.cli, "docker swarm ca --rotate");
        assert_eq!(
            s.action,
            Action::Cert(CertStep {
                op: CertOp::Rotate { force_rotate: 4 },
                version: 42
            })
        );
        assert!(
            plan.notes
                .iter()
                .any(|n| n.starts_with(WARNING) && n.contains("already in progress")),
            "{:?}",
            plan.notes
        );
    }
}
