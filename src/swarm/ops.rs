//! Executing plan steps through the Engine API of each host (bollard over SSH), recording
//! each in the audit log. Batches run in order; the steps of one batch (worker joins) run
//! in parallel.

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    Ipam, IpamConfig, NetworkCreateRequest, NodeSpecAvailabilityEnum, NodeSpecRoleEnum,
    SwarmInitRequest, SwarmJoinRequest, SwarmSpec, SwarmSpecEncryptionConfig,
};
use bollard::query_parameters::{
    DeleteNodeOptions, LeaveSwarmOptions, UpdateNodeOptions, UpdateSwarmOptions,
};
use futures_util::future::join_all;
use tokio_util::sync::CancellationToken;

use crate::cluster::Cluster;
use crate::inventory::HostSpec;
use crate::redact::{Secret, redact};
use crate::snapshot::Role;
use crate::ssh::RemoteCommand;

use super::SwarmError;
use super::audit::{AuditEntry, AuditLog};
use super::plan::{Action, Availability, OverlaySpec, Plan, Step};
use super::state::target_of;

const LISTEN_ADDR: &str = "0.0.0.0:2377";

/// The audit outcome of a step cancelled before it reached its host.
pub const NOT_RUN: &str = "not run: cancelled";

/// What the caller is told as each step finishes (for progress output).
pub type Progress<'a> = &'a (dyn Fn(&Step, Result<(), &SwarmError>) + Sync);

/// Applies a plan: batch by batch, stopping after the first batch with a failure. Every
/// step is recorded in `audit`. Returns the number of steps done.
///
/// Cancelling is cooperative: `cancel` is checked before each batch, so a step already
/// sent to a host finishes and is audited with its outcome; the steps not started are
/// audited as not run, and the result is [`SwarmError::Cancelled`].
pub async fn apply(
    cluster: &Cluster,
    plan: &Plan,
    audit: &AuditLog,
    progress: Progress<'_>,
    cancel: &CancellationToken,
) -> Result<usize, SwarmError> {
    // A backup's or restore's engine must come back even after a failure: its own runner.
    if crate::backup::run::is_backup_plan(plan) {
        return crate::backup::run::apply(cluster, plan, audit, progress, cancel).await;
    }
    let mut done = 0;
    let batches = plan.batches();
    for (i, batch) in batches.iter().enumerate() {
        if cancel.is_cancelled() {
            let rest: Vec<&Step> = batches[i..].iter().flatten().copied().collect();
            for step in &rest {
                record(cluster, audit, step, &Outcome::NotRun)?;
            }
            return Err(SwarmError::Cancelled {
                done,
                not_run: rest.len(),
            });
        }
        let results = join_all(batch.iter().map(|s| run_step(cluster, s))).await;
        let mut first_err = None;
        for (step, res) in batch.iter().zip(results) {
            record(cluster, audit, step, &Outcome::Ran(&res))?;
            progress(step, res.as_ref().map(|_| ()));
            match res {
                Ok(()) => done += 1,
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
    }
    Ok(done)
}

/// What became of a step, for the audit log.
pub(crate) enum Outcome<'a> {
    Ran(&'a Result<(), SwarmError>),
    /// Cancelled before it was sent to its host.
    NotRun,
}

pub(crate) fn record(
    cluster: &Cluster,
    audit: &AuditLog,
    step: &Step,
    outcome: &Outcome<'_>,
) -> Result<(), SwarmError> {
    let target = |h: &str| {
        cluster
            .inventory()
            .host(h)
            .map(target_of)
            .unwrap_or_default()
    };
    let token_from = match &step.action {
        Action::Join {
            role, token_from, ..
        } => Some((
            target(token_from),
            match role {
                Role::Manager => "manager".to_string(),
                Role::Worker => "worker".to_string(),
            },
        )),
        _ => None,
    };
    let entry = AuditEntry {
        time: crate::snapshot::now_secs(),
        host: step.host.clone(),
        target: target(&step.host),
        step: step.description.clone(),
        cli: step.cli.clone(),
        outcome: match outcome {
            Outcome::Ran(Ok(())) => "ok".into(),
            Outcome::Ran(Err(e)) => format!("failed: {}", e.redacted()),
            Outcome::NotRun => NOT_RUN.into(),
        },
        token_from,
    };
    audit.append(&entry)?;
    Ok(())
}

pub(crate) fn spec<'a>(cluster: &'a Cluster, host: &str) -> Result<&'a HostSpec, SwarmError> {
    cluster
        .inventory()
        .host(host)
        .ok_or_else(|| SwarmError::UnknownNode {
            node: host.to_string(),
            known: cluster
                .inventory()
                .hosts
                .iter()
                .map(|h| h.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

async fn engine(cluster: &Cluster, host: &str) -> Result<Docker, SwarmError> {
    Ok(cluster.engine(spec(cluster, host)?).await?)
}

/// Runs one step on its host.
pub async fn run_step(cluster: &Cluster, step: &Step) -> Result<(), SwarmError> {
    let host = step.host.as_str();
    let d = engine(cluster, host).await?;
    let what = step.description.as_str();
    match &step.action {
        Action::Init {
            advertise,
            data_path_port,
            default_addr_pool,
            subnet_size,
            autolock,
        } => {
            let req = SwarmInitRequest {
                listen_addr: Some(LISTEN_ADDR.into()),
                advertise_addr: Some(advertise.clone()),
                data_path_port: *data_path_port,
                default_addr_pool: (!default_addr_pool.is_empty())
                    .then(|| default_addr_pool.clone()),
                subnet_size: *subnet_size,
                spec: autolock.then(|| SwarmSpec {
                    encryption_config: Some(SwarmSpecEncryptionConfig {
                        auto_lock_managers: Some(true),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            };
            d.init_swarm(req).await.map_err(|e| {
                SwarmError::step(host, what, e, "check `swarmdeck preflight` for this host")
            })?;
        }
        Action::Join {
            role,
            token_from,
            remote,
            advertise,
        } => {
            let token = join_token(cluster, token_from, *role).await?;
            let req = SwarmJoinRequest {
                listen_addr: Some(LISTEN_ADDR.into()),
                advertise_addr: advertise.clone(),
                remote_addrs: Some(vec![remote.clone()]),
                join_token: Some(token.expose().to_string()),
                ..Default::default()
            };
            d.join_swarm(req).await.map_err(|e| {
                SwarmError::step(
                    host,
                    what,
                    e,
                    &format!(
                        "this host must reach {remote} (2377/tcp) and the manager this host: run \
                         `swarmdeck preflight` and `swarmdeck firewall`, then bootstrap again \
                         (it resumes)"
                    ),
                )
            })?;
        }
        Action::Leave { force } => {
            d.leave_swarm(Some(LeaveSwarmOptions { force: *force }))
                .await
                .map_err(|e| SwarmError::step(host, what, e, "see the host's dockerd log"))?;
        }
        Action::CreateOverlay(o) => create_overlay(&d, host, what, o).await?,
        Action::Promote { node_id, .. } => {
            update_node(&d, host, what, node_id, |s| {
                s.role = Some(NodeSpecRoleEnum::MANAGER)
            })
            .await?
        }
        Action::Demote { node_id, .. } => {
            update_node(&d, host, what, node_id, |s| {
                s.role = Some(NodeSpecRoleEnum::WORKER)
            })
            .await?
        }
        Action::SetAvailability {
            node_id,
            availability,
            ..
        } => {
            let a = match availability {
                Availability::Active => NodeSpecAvailabilityEnum::ACTIVE,
                Availability::Pause => NodeSpecAvailabilityEnum::PAUSE,
                Availability::Drain => NodeSpecAvailabilityEnum::DRAIN,
                Availability::Other(word) => {
                    return Err(SwarmError::Step {
                        host: host.into(),
                        step: what.into(),
                        message: format!(
                            "availability {} is not one swarmdeck sets",
                            crate::untrusted::visible(word)
                        ),
                        fix: "choose active, pause or drain".into(),
                    });
                }
            };
            update_node(&d, host, what, node_id, |s| s.availability = Some(a)).await?
        }
        Action::RemoveNode { node_id, force, .. } => {
            d.delete_node(node_id, Some(DeleteNodeOptions { force: *force }))
                .await
                .map_err(|e| {
                    SwarmError::step(
                        host,
                        what,
                        e,
                        "a node that is up must leave first (`docker swarm leave` on it), or use --force",
                    )
                })?;
        }
        Action::RotateJoinToken { role } => {
            rotate(&d, host, what, |o| match role {
                Role::Manager => o.rotate_manager_token = true,
                Role::Worker => o.rotate_worker_token = true,
            })
            .await?
        }
        Action::NodeLabels(e) => {
            update_node(&d, host, what, &e.node_id, |s| {
                e.apply(s.labels.get_or_insert_with(Default::default))
            })
            .await?
        }
        Action::Object(o) => {
            super::secrets::run(&d, host, what, o, cluster.deadlines().long).await?
        }
        Action::RotateUnlockKey => {
            rotate(&d, host, what, |o| o.rotate_manager_unlock_key = true).await?
        }
        Action::Service(step) => super::service::apply(&d, host, step).await?,
        Action::ForceNewCluster {
            advertise,
            autolock,
        } => {
            // The spec's autolock, not the request's: the engine merges it into the
            // swarm's spec, so the swarm keeps its autolock and unlock key.
            let spec = autolock.then(|| bollard::models::SwarmSpec {
                encryption_config: Some(bollard::models::SwarmSpecEncryptionConfig {
                    auto_lock_managers: Some(true),
                }),
                ..Default::default()
            });
            let req = SwarmInitRequest {
                listen_addr: Some(LISTEN_ADDR.into()),
                advertise_addr: Some(advertise.clone()),
                force_new_cluster: Some(true),
                spec,
                ..Default::default()
            };
            d.init_swarm(req)
                .await
                .map_err(|e| SwarmError::step(host, what, e, "see the host's dockerd log"))?;
        }
        Action::Stack(s) => crate::stack::apply::run(&d, host, what, s).await?,
        Action::Backup(b) => crate::backup::run::run_step(cluster, host, what, b).await?,
        Action::Maintenance(m) => super::maintenance::run(cluster, host, m).await?,
        Action::Cert(c) => crate::certs::change::apply(&d, host, c).await?,
    }
    Ok(())
}

async fn create_overlay(
    d: &Docker,
    host: &str,
    what: &str,
    o: &OverlaySpec,
) -> Result<(), SwarmError> {
    let mut options = HashMap::new();
    if o.encrypted {
        options.insert("encrypted".to_string(), String::new());
    }
    if let Some(m) = o.mtu {
        options.insert("com.docker.network.driver.mtu".to_string(), m.to_string());
    }
    let req = NetworkCreateRequest {
        name: o.name.clone(),
        driver: Some("overlay".into()),
        attachable: Some(o.attachable),
        options: Some(options),
        ipam: o.subnet.as_ref().map(|s| Ipam {
            config: Some(vec![IpamConfig {
                subnet: Some(s.clone()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    d.create_network(req).await.map_err(|e| {
        SwarmError::step(
            host,
            what,
            e,
            "check the subnet does not overlap another network",
        )
    })?;
    Ok(())
}

async fn update_node(
    d: &Docker,
    host: &str,
    what: &str,
    node_id: &str,
    change: impl FnOnce(&mut bollard::models::NodeSpec),
) -> Result<(), SwarmError> {
    let fix = "run `swarmdeck status` and try again";
    let node = d
        .inspect_node(node_id)
        .await
        .map_err(|e| SwarmError::step(host, what, e, fix))?;
    let version = node.version.and_then(|v| v.index).unwrap_or(0) as i64;
    let mut spec = node.spec.unwrap_or_default();
    change(&mut spec);
    d.update_node(node_id, spec, UpdateNodeOptions { version })
        .await
        .map_err(|e| SwarmError::step(host, what, e, fix))
}

async fn rotate(
    d: &Docker,
    host: &str,
    what: &str,
    set: impl FnOnce(&mut UpdateSwarmOptions),
) -> Result<(), SwarmError> {
    let fix = "run it on a manager with quorum";
    let swarm = d
        .inspect_swarm()
        .await
        .map_err(|e| SwarmError::step(host, what, e, fix))?;
    let mut opts = UpdateSwarmOptions {
        version: swarm.version.and_then(|v| v.index).unwrap_or(0) as i64,
        ..Default::default()
    };
    set(&mut opts);
    d.update_swarm(swarm.spec.unwrap_or_default(), opts)
        .await
        .map_err(|e| SwarmError::step(host, what, e, fix))
}

/// The join token for `role`, read from a manager's `GET /swarm`. Held as a [`Secret`].
pub async fn join_token(
    cluster: &Cluster,
    manager: &str,
    role: Role,
) -> Result<Secret, SwarmError> {
    let d = engine(cluster, manager).await?;
    let what = "read the join token";
    let swarm = d.inspect_swarm().await.map_err(|e| {
        SwarmError::step(manager, what, e, "the host must be a manager of the swarm")
    })?;
    let tokens = swarm.join_tokens.unwrap_or_default();
    let token = match role {
        Role::Manager => tokens.manager,
        Role::Worker => tokens.worker,
    };
    token
        .filter(|t| !t.is_empty())
        .map(Secret::new)
        .ok_or_else(|| {
            SwarmError::step(
                manager,
                what,
                "the manager returned no token",
                "retry in a moment",
            )
        })
}

/// The unlock key of an autolocked swarm (`docker swarm unlock-key -q` on a manager; the
/// Engine API endpoint is not in bollard). Held as a [`Secret`]; show it only when the
/// user asked for it.
pub async fn unlock_key(cluster: &Cluster, manager: &str) -> Result<Secret, SwarmError> {
    let h = spec(cluster, manager)?;
    let session = cluster.pool().session(h).await?;
    let cmd = RemoteCommand::new(["docker", "swarm", "unlock-key", "-q"])
        .sudo(h.sudo)
        .timeout(Duration::from_secs(30));
    let out = session.exec(&cmd).await?;
    let key = out.stdout_lossy().trim().to_string();
    if !out.success() || key.is_empty() {
        return Err(SwarmError::step(
            manager,
            "read the unlock key",
            redact(out.stderr_lossy().trim()),
            "autolock must be on (`docker swarm update --autolock=true`) and the host a manager",
        ));
    }
    Ok(Secret::new(key))
}

/// What the audit log and the exported script show for an unlock: the key is typed at
/// `docker swarm unlock`'s prompt, never written down.
pub const UNLOCK_CLI: &str = "docker swarm unlock   # paste the unlock key at the prompt";

/// Unlocks a manager that restarted with autolock on: `docker swarm unlock` on the host,
/// with the key on its stdin (never on a command line, in the audit log or in an error).
/// Recorded in `audit`.
pub async fn unlock(
    cluster: &Cluster,
    host: &str,
    key: &Secret,
    audit: &AuditLog,
) -> Result<(), SwarmError> {
    let res = run_unlock(cluster, host, key).await;
    let entry = AuditEntry {
        time: crate::snapshot::now_secs(),
        host: host.to_string(),
        target: cluster
            .inventory()
            .host(host)
            .map(target_of)
            .unwrap_or_default(),
        step: format!("unlock the swarm on {host}"),
        cli: UNLOCK_CLI.into(),
        outcome: match &res {
            Ok(()) => "ok".into(),
            Err(e) => format!("failed: {}", e.redacted()),
        },
        token_from: None,
    };
    audit.append(&entry)?;
    res
}

pub(crate) async fn run_unlock(
    cluster: &Cluster,
    host: &str,
    key: &Secret,
) -> Result<(), SwarmError> {
    let what = "unlock the swarm";
    let h = spec(cluster, host)?;
    let session = cluster.pool().session(h).await?;
    let mut input = key.expose().trim().as_bytes().to_vec();
    input.push(b'\n');
    let cmd = RemoteCommand::new(["docker", "swarm", "unlock"])
        .sudo(h.sudo)
        .stdin(input)
        .timeout(Duration::from_secs(60));
    let out = session.exec(&cmd).await?;
    if out.success() {
        return Ok(());
    }
    let err = redact(out.stderr_lossy().trim()).into_owned();
    let fix = if err.contains("not locked") {
        "the swarm on this host is not locked: nothing to do"
    } else if err.contains("invalid key") || err.contains("wrong") {
        "that is not this swarm's current unlock key; a manager that is unlocked shows it with \
         `swarmdeck swarm unlock-key --show-unlock-key`"
    } else {
        "check the host's dockerd log"
    };
    Err(SwarmError::step(host, what, err, fix))
}
