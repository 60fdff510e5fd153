//! Planning a backup or a restore: which manager, the quorum check, the steps with their
//! CLI equivalents. The choices are pure functions of the swarm's state; the few facts a
//! plan needs from the hosts (data root, engine version, autolock) are read first.

use std::collections::BTreeSet;
use std::path::Path;

use crate::cluster::Cluster;
use crate::inventory::Inventory;
use crate::quorum::{self, QuorumRefusal, Scenario, Verdict};
use crate::snapshot::Role;
use crate::swarm::plan::{Action, MANAGEMENT_PORT, Plan, Step};
use crate::swarm::state::{LocalState, SwarmState};
use crate::swarm::{SwarmError, actions};

use super::archive::{self, BackupMeta, NodeRecord};
use super::{ArchiveTarget, BackupChange, BackupError, BackupStep, ReplaceSource};

/// Plans `change` on the state just read (the entry `swarm::change::plan` calls).
pub async fn plan(
    cluster: &Cluster,
    state: &SwarmState,
    change: &BackupChange,
) -> Result<Plan, SwarmError> {
    match change {
        BackupChange::Create {
            from,
            dir,
            force,
            max_size,
        } => {
            let source = choose_source(state, from.as_deref())?;
            let mut notes = quorum_check(state, cluster.inventory(), &source.label, *force)?;
            let facts = read_facts(cluster, &source.host, Some(actions::anchor(state)?)).await?;
            let now = crate::snapshot::now_secs();
            let meta = draft_meta(state, &source, &facts, now);
            let mut plan = create_steps(&source, meta, dir, *max_size);
            notes.push(format!(
                "{} ({}) is a follower: while its engine is stopped the other managers keep the \
                 swarm running",
                source.host, source.label
            ));
            plan.notes.extend(notes);
            Ok(plan)
        }
        BackupChange::Restore {
            archive: path,
            onto,
            rejoin,
            force,
        } => {
            let verified = archive::verify(path)?;
            check_fresh(state, cluster.inventory(), onto, *force)?;
            let facts = read_facts(cluster, onto, None).await?;
            if verified.meta.autolock {
                super::run::unlock_key_of(&verified.meta.archive).await?;
            }
            let advertise = state
                .host(onto)
                .and_then(|h| h.advertise.clone())
                .or_else(|| cluster.inventory().host(onto).map(|h| h.address.clone()))
                .unwrap_or_default();
            Ok(restore_steps(
                state,
                &verified,
                onto,
                &facts,
                &advertise,
                *rejoin,
            ))
        }
    }
}

/// The manager a backup is taken from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub host: String,
    pub node_id: String,
    pub hostname: String,
    /// The node's name among the managers (what the quorum figures call it).
    pub label: String,
}

/// The named host when it is a reachable manager and not the leader, else the first
/// inventory host that is one. A leader is refused, naming a follower to use instead.
pub fn choose_source(state: &SwarmState, from: Option<&str>) -> Result<Source, SwarmError> {
    actions::anchor(state)?;
    let follower = |h: &&crate::swarm::HostFacts| {
        state
            .node_of(h)
            .is_some_and(|n| n.is_reachable_manager() && !n.leader)
    };
    let first_follower = state.hosts.iter().find(follower).map(|h| h.host.clone());
    let host = match from {
        Some(name) => state.host(name).ok_or_else(|| BackupError::UnknownHost {
            host: name.to_string(),
            known: state
                .hosts
                .iter()
                .map(|h| h.host.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?,
        None => match state.hosts.iter().find(follower) {
            Some(h) => h,
            None => return Err(BackupError::NoFollower.into()),
        },
    };
    let node = state
        .node_of(host)
        .filter(|n| n.is_reachable_manager())
        .ok_or_else(|| BackupError::NotAManager {
            host: host.host.clone(),
        })?;
    if node.leader {
        return Err(match first_follower {
            Some(follower) => BackupError::Leader {
                host: host.host.clone(),
                follower,
            },
            None => BackupError::LeaderOnly {
                host: host.host.clone(),
            },
        }
        .into());
    }
    Ok(Source {
        host: host.host.clone(),
        node_id: node.id.clone(),
        hostname: node.hostname.clone(),
        label: node.label_among(&state.nodes),
    })
}

/// The quorum what-if of stopping the source's engine: refused when the rest would not
/// form a majority, unless forced (then a note with the figures). Managers whose host's
/// engine does not answer count as down even when the leader has not noticed yet.
pub fn quorum_check(
    state: &SwarmState,
    inventory: &Inventory,
    label: &str,
    force: bool,
) -> Result<Vec<String>, SwarmError> {
    let managers = state.managers();
    let silent: BTreeSet<&str> = state
        .hosts
        .iter()
        .filter(|h| matches!(h.state, LocalState::Unreachable(_)))
        .filter_map(|h| inventory.host(&h.host))
        .map(|h| h.address.as_str())
        .collect();
    let mut down: BTreeSet<String> = state
        .nodes
        .iter()
        .filter(|n| n.role == Role::Manager && silent.contains(n.address.as_str()))
        .map(|n| n.label_among(&state.nodes))
        .collect();
    down.insert(label.to_string());
    let after = quorum::assess(
        &managers,
        &Scenario {
            down,
            ..Default::default()
        },
    );
    if !matches!(after.verdict, Verdict::Lost | Verdict::NoManagers) {
        return Ok(vec![format!(
            "while the engine is stopped: {} of {} managers reachable, {} needed for a majority",
            after.alive, after.members, after.majority
        )]);
    }
    let refusal = QuorumRefusal {
        verb: "stopping the engine of",
        node: label.to_string(),
        members_after: after.members,
        alive_after: after.alive,
        majority_after: after.majority,
    };
    if force {
        Ok(vec![format!("{}forced: {refusal}", crate::swarm::plan::WARNING)])
    } else {
        Err(SwarmError::Quorum(refusal))
    }
}

/// What a plan needs from a host's engine (and, for a backup, the swarm's autolock).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineFacts {
    pub docker_root: String,
    pub engine_version: String,
    pub cluster_id: String,
    pub autolock: bool,
}

async fn read_facts(
    cluster: &Cluster,
    host: &str,
    manager: Option<&str>,
) -> Result<EngineFacts, SwarmError> {
    let fail = |host: &str, e: &dyn std::fmt::Display| BackupError::Engine {
        host: host.to_string(),
        message: crate::redact::redact(&e.to_string()).into_owned(),
    };
    let spec = crate::swarm::ops::spec(cluster, host)?;
    let d = cluster.engine(spec).await?;
    let info = d.info().await.map_err(|e| fail(host, &e))?;
    let docker_root = info
        .docker_root_dir
        .filter(|r| r.starts_with('/') && !r.contains('\0'))
        .unwrap_or_else(|| "/var/lib/docker".into());
    let mut facts = EngineFacts {
        docker_root,
        engine_version: info.server_version.unwrap_or_default(),
        cluster_id: info
            .swarm
            .and_then(|s| s.cluster)
            .and_then(|c| c.id)
            .unwrap_or_default(),
        autolock: false,
    };
    if let Some(m) = manager {
        let d = cluster.engine(crate::swarm::ops::spec(cluster, m)?).await?;
        let swarm = d.inspect_swarm().await.map_err(|e| fail(m, &e))?;
        facts.autolock = swarm
            .spec
            .and_then(|s| s.encryption_config)
            .and_then(|e| e.auto_lock_managers)
            .unwrap_or(false);
        if facts.cluster_id.is_empty() {
            facts.cluster_id = swarm.id.unwrap_or_default();
        }
    }
    Ok(facts)
}

fn role_word(role: Role) -> &'static str {
    match role {
        Role::Manager => "manager",
        Role::Worker => "worker",
    }
}

/// The metadata known before the archive exists (size and checksum come after).
pub fn draft_meta(
    state: &SwarmState,
    source: &Source,
    facts: &EngineFacts,
    now: u64,
) -> BackupMeta {
    let base = archive::base_name(now, &facts.cluster_id);
    BackupMeta {
        archive: format!("{base}.tar.gz"),
        created: now,
        created_utc: crate::swarm::audit::fmt_time(now),
        cluster_id: facts.cluster_id.clone(),
        source_host: source.host.clone(),
        source_node_id: source.node_id.clone(),
        source_hostname: source.hostname.clone(),
        nodes: state
            .nodes
            .iter()
            .map(|n| NodeRecord {
                id: n.id.clone(),
                hostname: n.hostname.clone(),
                address: n.address.clone(),
                role: role_word(n.role).into(),
            })
            .collect(),
        engine_version: facts.engine_version.clone(),
        docker_root: facts.docker_root.clone(),
        size: 0,
        sha256: String::new(),
        autolock: facts.autolock,
    }
}

/// Keep the key (autolock), stop, archive, start, unlock (autolock), wait.
pub fn create_steps(source: &Source, meta: BackupMeta, dir: &Path, max_size: u64) -> Plan {
    let host = source.host.as_str();
    let archive = meta.archive.clone();
    let autolock = meta.autolock;
    let mut steps = Vec::new();
    if autolock {
        steps.push(BackupStep::KeepUnlockKey {
            archive: archive.clone(),
        });
    }
    steps.push(BackupStep::StopEngine);
    steps.push(BackupStep::Archive(Box::new(ArchiveTarget {
        path: dir.join(&archive),
        max_size,
        meta,
    })));
    steps.push(BackupStep::StartEngine);
    if autolock {
        steps.push(BackupStep::Unlock {
            archive,
            recovery: true,
        });
    }
    steps.push(BackupStep::WaitManager {
        node_id: source.node_id.clone(),
    });
    let mut plan = Plan::default();
    plan.steps = steps
        .into_iter()
        .enumerate()
        .map(|(i, s)| Step::new(host, Action::Backup(s), i))
        .collect();
    if autolock {
        plan.notes.push(
            "the swarm is autolocked: its unlock key is kept in the OS keyring under the \
             archive's name (never in the archive, its metadata, logs or the audit log)"
                .into(),
        );
    }
    plan
}

/// Refuses a restore onto a host whose engine is in a swarm, unless forced.
pub fn check_fresh(
    state: &SwarmState,
    inventory: &Inventory,
    onto: &str,
    force: bool,
) -> Result<(), SwarmError> {
    let known = || {
        inventory
            .hosts
            .iter()
            .map(|h| h.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let h = state.host(onto).ok_or_else(|| BackupError::UnknownHost {
        host: onto.to_string(),
        known: known(),
    })?;
    let state_word = match &h.state {
        LocalState::Inactive => return Ok(()),
        LocalState::Unreachable(e) => {
            return Err(BackupError::Engine {
                host: onto.to_string(),
                message: crate::redact::redact(e).into_owned(),
            }
            .into());
        }
        LocalState::Pending => "pending",
        LocalState::Active => "active",
        LocalState::Locked => "locked",
        LocalState::Error => "error",
    };
    if force {
        return Ok(());
    }
    Err(BackupError::NotFresh {
        host: onto.to_string(),
        state: state_word.into(),
    }
    .into())
}

/// The former role of an inventory host: the node of the archive with its hostname or
/// address.
fn former_role<'a>(
    meta: &'a BackupMeta,
    h: &crate::swarm::HostFacts,
    address: Option<&str>,
) -> Option<&'a NodeRecord> {
    let addr_of = |a: &str| a.rsplit_once(':').map(|(ip, _)| ip.to_string());
    meta.nodes.iter().find(|n| {
        h.engine_name.as_deref() == Some(n.hostname.as_str())
            || [h.advertise.as_deref(), address]
                .into_iter()
                .flatten()
                .any(|a| a == n.address)
            || h.node_addr.as_deref().and_then(addr_of).as_deref() == Some(n.address.as_str())
    })
}

/// Stop, replace, start, unlock (autolock), force a new cluster; then, with `rejoin`, the
/// other hosts leave their old swarm and join as their former role.
pub fn restore_steps(
    state: &SwarmState,
    verified: &archive::Verified,
    onto: &str,
    facts: &EngineFacts,
    advertise: &str,
    rejoin: bool,
) -> Plan {
    let meta = &verified.meta;
    let stamp: String = crate::swarm::audit::fmt_time(crate::snapshot::now_secs())
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let mut actions = vec![
        Action::Backup(BackupStep::StopEngine),
        Action::Backup(BackupStep::Replace(Box::new(ReplaceSource {
            archive: verified.path.clone(),
            sha256: meta.sha256.clone(),
            docker_root: facts.docker_root.clone(),
            aside: format!("swarm.before-restore-{stamp}"),
        }))),
        Action::Backup(BackupStep::StartEngine),
    ];
    if meta.autolock {
        actions.push(Action::Backup(BackupStep::Unlock {
            archive: meta.archive.clone(),
            recovery: false,
        }));
    }
    actions.push(Action::ForceNewCluster {
        advertise: advertise.to_string(),
    });
    let mut plan = Plan::default();
    plan.steps = actions
        .into_iter()
        .enumerate()
        .map(|(i, a)| Step::new(onto, a, i))
        .collect();
    plan.notes.push(format!(
        "archive {} of cluster {} taken {} from {}: {} manager(s), engine {}",
        meta.archive,
        crate::untrusted::visible(&meta.cluster_id),
        meta.created_utc,
        meta.source_host,
        meta.managers().count(),
        crate::untrusted::visible(&meta.engine_version)
    ));
    if facts.engine_version < meta.engine_version {
        plan.notes.push(format!(
            "{}{onto} runs engine {}, older than the backup's {}: restore onto the same or a \
             newer engine",
            crate::swarm::plan::WARNING,
            crate::untrusted::visible(&facts.engine_version),
            crate::untrusted::visible(&meta.engine_version)
        ));
    }
    let others: Vec<&crate::swarm::HostFacts> =
        state.hosts.iter().filter(|h| h.host != onto).collect();
    if !rejoin {
        if !others.is_empty() {
            plan.notes.push(
                "the other hosts stay as they are; plan again with --rejoin to have them leave \
                 their old swarm and join the restored one as their former role"
                    .into(),
            );
        }
        return plan;
    }
    add_rejoin(&mut plan, state, meta, onto, advertise, &others);
    plan
}

fn add_rejoin(
    plan: &mut Plan,
    state: &SwarmState,
    meta: &BackupMeta,
    onto: &str,
    advertise: &str,
    others: &[&crate::swarm::HostFacts],
) {
    let _ = state;
    let mut batch = plan.steps.len();
    let remote = format!("{advertise}:{MANAGEMENT_PORT}");
    let mut joins: Vec<(String, Role)> = Vec::new();
    let mut leaves = Vec::new();
    for h in others {
        let Some(node) = former_role(meta, h, None) else {
            plan.notes.push(format!(
                "{} was no node of the backed-up swarm: it is left as it is",
                h.host
            ));
            continue;
        };
        if h.state != LocalState::Inactive {
            leaves.push(Step::new(&h.host, Action::Leave { force: true }, batch));
        }
        let role = if node.role == "manager" {
            Role::Manager
        } else {
            Role::Worker
        };
        joins.push((h.host.clone(), role));
    }
    if !leaves.is_empty() {
        plan.steps.extend(leaves);
        batch += 1;
    }
    // Managers one at a time (each joining manager changes the Raft membership), workers
    // together.
    joins.sort_by_key(|(_, r)| *r != Role::Manager);
    for (host, role) in joins {
        let advertise = state.host(&host).and_then(|h| h.advertise.clone());
        plan.steps.push(Step::new(
            &host,
            Action::Join {
                role,
                token_from: onto.to_string(),
                remote: remote.clone(),
                advertise,
            },
            batch,
        ));
        if role == Role::Manager {
            batch += 1;
        }
    }
    plan.notes.push(format!(
        "the old nodes stay in the node list as Down: remove them with `docker node rm` once \
         the hosts have joined again ({} joined with new node IDs)",
        others.len()
    ));
}
