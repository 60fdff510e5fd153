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
use super::{ArchiveTarget, BackupChange, BackupError, BackupStep, NodeKeyTarget, ReplaceSource};

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
            if verified.meta.autolock {
                // Refused before any host is touched when the key is missing or wrong.
                super::run::unwrapped_node_key(path, &verified.meta.archive).await?;
            }
            check_fresh(state, cluster.inventory(), onto, *force)?;
            let facts = read_facts(cluster, onto, None).await?;
            let advertise = state
                .host(onto)
                .and_then(|h| h.advertise.clone())
                .or_else(|| cluster.inventory().host(onto).map(|h| h.address.clone()))
                .unwrap_or_default();
            let mut notes = check_address(&verified.meta, onto, &advertise, *force)?;
            let mut plan = restore_steps(state, &verified, onto, &facts, &advertise, *rejoin);
            plan.notes.append(&mut notes);
            Ok(plan)
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
    let first_follower = state.hosts.iter().find(follower);
    let host = match from {
        Some(name) => state.host(name).ok_or_else(|| BackupError::UnknownHost {
            host: name.to_string(),
            known: state.host_names(),
        })?,
        None => first_follower.ok_or(BackupError::NoFollower)?,
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
                follower: follower.host.clone(),
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
        Ok(vec![format!(
            "{}forced: {refusal}",
            crate::swarm::plan::WARNING
        )])
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
        steps.push(BackupStep::Unlock { archive });
    }
    steps.push(BackupStep::WaitManager {
        node_id: source.node_id.clone(),
    });
    let mut plan = Plan {
        steps: steps
            .into_iter()
            .enumerate()
            .map(|(i, s)| Step::new(host, Action::Backup(s), i))
            .collect(),
        ..Plan::default()
    };
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

/// A restored manager must have the address its state was taken at (swarm keeps managers'
/// addresses in its Raft membership): refused elsewhere unless forced.
pub fn check_address(
    meta: &BackupMeta,
    onto: &str,
    address: &str,
    force: bool,
) -> Result<Vec<String>, SwarmError> {
    let Some(source) = meta.nodes.iter().find(|n| n.id == meta.source_node_id) else {
        return Ok(Vec::new());
    };
    if source.address == address {
        return Ok(Vec::new());
    }
    let refusal = BackupError::AddressMismatch {
        host: onto.to_string(),
        address: address.to_string(),
        source_host: meta.source_host.clone(),
        source_address: source.address.clone(),
    };
    if force {
        Ok(vec![format!(
            "{}forced: {refusal}",
            crate::swarm::plan::WARNING
        )])
    } else {
        Err(refusal.into())
    }
}

/// The former role of an inventory host: the node of the archive with its hostname or
/// address.
fn former_role<'a>(meta: &'a BackupMeta, h: &crate::swarm::HostFacts) -> Option<&'a NodeRecord> {
    fn ip(a: &str) -> &str {
        a.rsplit_once(':').map_or(a, |(ip, _)| ip)
    }
    meta.nodes.iter().find(|n| {
        h.engine_name.as_deref() == Some(n.hostname.as_str())
            || h.advertise.as_deref() == Some(n.address.as_str())
            || h.node_addr.as_deref().map(ip) == Some(n.address.as_str())
    })
}

/// Stop, replace, start, force a new cluster; then, with `rejoin`, the
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
    ];
    if meta.autolock {
        actions.push(Action::Backup(BackupStep::UnwrapNodeKey(Box::new(
            NodeKeyTarget {
                archive: verified.path.clone(),
                name: meta.archive.clone(),
                docker_root: facts.docker_root.clone(),
            },
        ))));
    }
    actions.push(Action::Backup(BackupStep::StartEngine));
    actions.push(Action::ForceNewCluster {
        advertise: advertise.to_string(),
        autolock: meta.autolock,
    });
    let mut plan = Plan {
        steps: actions
            .into_iter()
            .enumerate()
            .map(|(i, a)| Step::new(onto, a, i))
            .collect(),
        ..Plan::default()
    };
    plan.notes.push(format!(
        "archive {} of cluster {} taken {} from {}: {} manager(s), engine {}",
        meta.archive,
        crate::untrusted::visible(&meta.cluster_id),
        meta.created_utc,
        meta.source_host,
        meta.managers().count(),
        crate::untrusted::visible(&meta.engine_version)
    ));
    if meta.autolock {
        plan.notes.push(
            "the archive's swarm was autolocked: its node key is unwrapped on this workstation \
             with the unlock key from the OS keyring and sent over SSH, never written here nor \
             logged; the restored manager seals it again with the swarm's key, so autolock \
             and the unlock key stay as they were"
                .into(),
        );
    }
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
    let mut batch = plan.steps.len();
    let remote = format!("{advertise}:{MANAGEMENT_PORT}");
    let mut joins: Vec<(String, Role)> = Vec::new();
    let mut leaves = Vec::new();
    for h in others {
        let Some(node) = former_role(meta, h) else {
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
    plan.notes.push(
        "the hosts join with new node IDs: their old nodes stay in the node list as Down \
         (`docker node rm` removes them)"
            .into(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::FailureKind;
    use crate::snapshot::{Availability, NodeInfo, NodeState, Reachability};
    use crate::swarm::HostFacts;

    fn host(i: usize) -> HostFacts {
        HostFacts {
            engine_name: Some(format!("node{i}")),
            state: LocalState::Active,
            node_id: Some(format!("id{i}")),
            node_addr: Some(format!("10.0.0.{i}")),
            control_available: true,
            advertise: Some(format!("10.0.0.{i}")),
            ..HostFacts::new(format!("node{i}"), format!("root@10.0.0.{i}"))
        }
    }

    fn node(i: usize, reachable: bool) -> NodeInfo {
        NodeInfo {
            id: format!("id{i}"),
            hostname: format!("node{i}"),
            role: Role::Manager,
            leader: i == 1,
            reachability: Some(if reachable {
                Reachability::Reachable
            } else {
                Reachability::Unreachable
            }),
            availability: Availability::Active,
            state: NodeState::Ready,
            address: format!("10.0.0.{i}"),
            engine_version: "26.1".into(),
            labels: Default::default(),
            observed_down: None,
            scheduling: Default::default(),
        }
    }

    fn three_managers() -> SwarmState {
        SwarmState {
            hosts: (1..=3).map(host).collect(),
            nodes: (1..=3).map(|i| node(i, true)).collect(),
            answered_by: Some("node1".into()),
            ..Default::default()
        }
    }

    fn inventory() -> Inventory {
        let mut inv = Inventory::default();
        for i in 1..=3 {
            inv.hosts.push(crate::inventory::HostSpec {
                name: format!("node{i}"),
                address: format!("10.0.0.{i}"),
                port: 22,
                user: "root".into(),
                auth: Default::default(),
                sudo: false,
                labels: Default::default(),
                jump: None,
            });
        }
        inv
    }

    #[test]
    fn the_leader_is_refused_naming_a_follower_and_a_follower_is_chosen() {
        let s = three_managers();
        let e = choose_source(&s, Some("node1")).unwrap_err().to_string();
        assert!(
            e.contains("node1 is the swarm's leader") && e.contains("--from node2"),
            "{e}"
        );
        assert_eq!(choose_source(&s, None).unwrap().host, "node2");
        assert_eq!(choose_source(&s, Some("node3")).unwrap().node_id, "id3");
        let e = choose_source(&s, Some("nodeX")).unwrap_err().to_string();
        assert!(e.contains("no host \"nodeX\""), "{e}");
    }

    #[test]
    fn stopping_a_follower_is_refused_when_it_loses_quorum_with_the_figures() {
        let mut s = three_managers();
        let notes = quorum_check(&s, &inventory(), "node2", false).unwrap();
        assert!(notes[0].contains("2 of 3 managers reachable"), "{notes:?}");
        // node3's engine does not answer, though the leader still counts it reachable.
        s.hosts[2].state = LocalState::Unreachable("engine down".into());
        let e = quorum_check(&s, &inventory(), "node2", false).unwrap_err();
        assert_eq!(e.failure().kind, FailureKind::NeedsForce);
        let msg = e.to_string();
        assert!(
            msg.contains("stopping the engine of manager node2 would leave 1 reachable of 3")
                && msg.contains("2 are needed")
                && msg.contains("--force"),
            "{msg}"
        );
        let forced = quorum_check(&s, &inventory(), "node2", true).unwrap();
        assert!(
            forced[0].starts_with("WARNING: forced: refused"),
            "{forced:?}"
        );
    }

    fn meta(autolock: bool) -> BackupMeta {
        let s = three_managers();
        let source = choose_source(&s, None).unwrap();
        let facts = EngineFacts {
            docker_root: "/var/lib/docker".into(),
            engine_version: "26.1".into(),
            cluster_id: "clusterid0123456789".into(),
            autolock,
        };
        draft_meta(&s, &source, &facts, 0)
    }

    #[test]
    fn a_backup_always_brings_the_engine_back_and_unlocks_it_with_autolock() {
        let s = three_managers();
        let source = choose_source(&s, None).unwrap();
        let plan = create_steps(&source, meta(true), Path::new("/b"), 1 << 20);
        let kinds: Vec<(&str, bool)> = plan
            .steps
            .iter()
            .map(|s| match &s.action {
                Action::Backup(b) => (s.cli.as_str(), b.always()),
                _ => panic!("only backup steps"),
            })
            .collect();
        assert_eq!(kinds.len(), 6);
        assert!(
            kinds[0].0.starts_with("docker swarm unlock-key -q"),
            "{kinds:?}"
        );
        assert!(kinds[1].0.contains("service docker stop") && !kinds[1].1);
        assert!(kinds[2].0.starts_with("ssh HOST tar -czf - -C /var/lib/docker swarm > /b/swarm-19700101-000000-clusterid012.tar.gz"), "{kinds:?}");
        assert!(!kinds[2].1);
        assert!(kinds[3].0.contains("service docker start") && kinds[3].1);
        assert!(kinds[4].0.starts_with("docker swarm unlock") && kinds[4].1);
        assert!(kinds[5].1);
        assert!(plan.steps.iter().all(|s| s.host == "node2"));
        assert!(!plan.render().contains("SWMKEY"));
        let plain = create_steps(&source, meta(false), Path::new("/b"), 1 << 20);
        assert_eq!(plain.steps.len(), 4);
    }

    #[test]
    fn restores_go_to_the_source_address_onto_a_fresh_engine() {
        let m = meta(false);
        assert!(
            check_address(&m, "node2", "10.0.0.2", false)
                .unwrap()
                .is_empty()
        );
        let e = check_address(&m, "node1", "10.0.0.1", false).unwrap_err();
        assert_eq!(e.failure().kind, FailureKind::NeedsForce);
        assert!(e.to_string().contains("restore onto node2"), "{e}");
        assert!(check_address(&m, "node1", "10.0.0.1", true).unwrap()[0].contains("forced"));
        let s = three_managers();
        let e = check_fresh(&s, &inventory(), "node2", false).unwrap_err();
        assert!(e.to_string().contains("is in a swarm (active)"), "{e}");
        assert_eq!(e.failure().kind, FailureKind::NeedsForce);
        assert!(check_fresh(&s, &inventory(), "node2", true).is_ok());
    }

    #[test]
    fn a_restore_forces_a_new_cluster_and_the_others_rejoin_as_their_role() {
        let mut s = three_managers();
        s.hosts[1].state = LocalState::Inactive;
        let mut m = meta(false);
        m.nodes[2].role = "worker".into();
        let v = archive::Verified {
            path: "/b/a.tar.gz".into(),
            meta: m,
        };
        let facts = EngineFacts {
            docker_root: "/data/docker".into(),
            engine_version: "25.0".into(),
            ..Default::default()
        };
        let plan = restore_steps(&s, &v, "node2", &facts, "10.0.0.2", true);
        let cli: Vec<(&str, &str, usize)> = plan
            .steps
            .iter()
            .map(|s| (s.host.as_str(), s.cli.as_str(), s.batch))
            .collect();
        assert!(cli[0].1.contains("service docker stop"));
        assert!(
            cli[1]
                .1
                .starts_with("mv /data/docker/swarm /data/docker/swarm.before-restore-")
        );
        assert!(cli[2].1.contains("service docker start"));
        assert_eq!(
            cli[3],
            (
                "node2",
                "docker swarm init --force-new-cluster --advertise-addr 10.0.0.2",
                3
            )
        );
        // node1 and node3 are in the old swarm: they leave together, then node1 joins as
        // the manager it was, then node3 as a worker.
        assert_eq!(cli[4], ("node1", "docker swarm leave --force", 4));
        assert_eq!(cli[5], ("node3", "docker swarm leave --force", 4));
        assert_eq!(
            cli[6],
            (
                "node1",
                "docker swarm join --token <redacted> --advertise-addr 10.0.0.1 10.0.0.2:2377",
                5
            )
        );
        assert!(matches!(
            &plan.steps[6].action,
            Action::Join {
                role: Role::Manager,
                ..
            }
        ));
        assert!(matches!(
            &plan.steps[7].action,
            Action::Join {
                role: Role::Worker,
                ..
            }
        ));
        assert!(
            plan.notes
                .iter()
                .any(|n| n.contains("older than the backup's 26.1"))
        );
        let alone = restore_steps(&s, &v, "node2", &facts, "10.0.0.2", false);
        assert_eq!(alone.steps.len(), 4);
        assert!(alone.notes.iter().any(|n| n.contains("--rejoin")));
    }

    #[test]
    fn an_autolocked_restore_unwraps_the_node_key_before_the_engine_starts() {
        let s = three_managers();
        let v = archive::Verified {
            path: "/b/a.tar.gz".into(),
            meta: meta(true),
        };
        let facts = EngineFacts {
            docker_root: "/var/lib/docker".into(),
            engine_version: "26.1".into(),
            ..Default::default()
        };
        let plan = restore_steps(&s, &v, "node2", &facts, "10.0.0.2", false);
        let order: Vec<&str> = plan
            .steps
            .iter()
            .map(|s| match &s.action {
                Action::Backup(BackupStep::StopEngine) => "stop",
                Action::Backup(BackupStep::Replace(_)) => "replace",
                Action::Backup(BackupStep::UnwrapNodeKey(_)) => "unwrap",
                Action::Backup(BackupStep::StartEngine) => "start",
                Action::ForceNewCluster { .. } => "force-new-cluster",
                _ => "other",
            })
            .collect();
        assert_eq!(
            order,
            ["stop", "replace", "unwrap", "start", "force-new-cluster"]
        );
        let unwrap = &plan.steps[2];
        assert!(
            unwrap
                .cli
                .contains("swarmdeck:backup-unlock-key:swarm-19700101-000000-clusterid012.tar.gz")
                && unwrap
                    .cli
                    .contains("/var/lib/docker/swarm/certificates/swarm-node.key"),
            "{}",
            unwrap.cli
        );
        assert!(!matches!(&unwrap.action, Action::Backup(b) if b.always()));
        assert_eq!(
            plan.steps[4].cli,
            "docker swarm init --force-new-cluster --autolock --advertise-addr 10.0.0.2"
        );
        let text = plan.render();
        assert!(
            text.contains("with the unlock key from the OS keyring (never stored)"),
            "{text}"
        );
        assert!(!text.contains("SWMKEY"));
    }
}
