//! After a confirmed service change is applied: its rollout followed (see
//! [`crate::workloads::rollout::follow`]), each new progress sent to the panel that asked
//! for the change, until swarm completes, pauses or rolls it back. Cancelling the job
//! stops following and leaves the service as it is.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::worker::JobTx;
use super::{JobUpdate, Notice};
use crate::cluster::Cluster;
use crate::swarm::service::ServiceEdit;
use crate::swarm::{Action, Plan};
use crate::workloads::rollout::{self, FollowError};

/// How long the app watches one rollout.
const WATCH: Duration = Duration::from_secs(600);

/// Follows the rollout of every service step of `plan`, in order.
pub(super) async fn follow_applied(
    cluster: &Cluster,
    plan: &Plan,
    cancel: &CancellationToken,
    tx: &JobTx,
) {
    for step in &plan.steps {
        let Action::Service(s) = &step.action else {
            continue;
        };
        let Some(host) = cluster.inventory().host(&step.host) else {
            continue;
        };
        let d = match cluster.engine(host).await {
            Ok(d) => d,
            Err(e) => return tx.notice(Notice::error(e.to_string())).await,
        };
        let (seen, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let forward = {
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(p) = rx.recv().await {
                    tx.send(JobUpdate::Rollout(Box::new(p))).await;
                }
            })
        };
        let rollback = s.edit == ServiceEdit::Rollback;
        let end = rollout::follow(
            &d,
            &step.host,
            &s.service_id,
            rollback,
            WATCH,
            cancel,
            |p| {
                let _ = seen.send(p.clone());
            },
        )
        .await;
        drop(seen);
        let _ = forward.await;
        match end {
            Ok(_) | Err(FollowError::Cancelled { .. }) => {}
            Err(e) => tx.notice(Notice::warning(e.to_string())).await,
        }
    }
}
