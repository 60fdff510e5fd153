//! The bootstrap plan: from the hosts as they are to the swarm the user asked for (init,
//! joins, promotions, the overlay), resuming whatever an interrupted run left. Pure.

use crate::quorum::{self, Manager};
use crate::snapshot::{NodeInfo, NodeState, Role};

use super::plan::{Action, MANAGEMENT_PORT, OverlaySpec, Plan, Step};
use super::state::{HostFacts, LocalState, SwarmState};
use super::{SwarmError, validate_name};

/// What `bootstrap` should build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootstrapOptions {
    /// Manager count; default from [`default_managers`].
    pub managers: Option<usize>,
    pub overlay: Option<OverlaySpec>,
    pub data_path_port: Option<u32>,
    pub default_addr_pool: Vec<String>,
    pub subnet_size: Option<u32>,
    pub autolock: bool,
}

/// 1 manager for fewer than 3 hosts, 3 for 3-4, 5 from 5 on.
pub fn default_managers(hosts: usize) -> usize {
    match hosts {
        0..=2 => 1,
        3 | 4 => 3,
        _ => 5,
    }
}

/// Refuses states a bootstrap must not touch: unreadable, locked or foreign hosts, or
/// managers of different swarms. Returns our cluster id, if a swarm exists.
fn check_hosts(state: &SwarmState) -> Result<Option<String>, SwarmError> {
    for h in &state.hosts {
        match &h.state {
            LocalState::Unreachable(e) => {
                return Err(SwarmError::Unreachable {
                    host: h.host.clone(),
                    error: e.clone(),
                });
            }
            LocalState::Locked => {
                return Err(SwarmError::Locked {
                    host: h.host.clone(),
                });
            }
            _ => {}
        }
    }
    let mut ids: Vec<(&str, &str)> = state
        .control_hosts()
        .filter_map(|h| Some((h.host.as_str(), h.cluster_id.as_deref()?)))
        .collect();
    ids.sort_by_key(|(_, id)| *id);
    ids.dedup_by_key(|(_, id)| *id);
    if ids.len() > 1 {
        let detail = ids
            .iter()
            .map(|(h, id)| format!("{h} manages cluster {id}"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(SwarmError::SplitSwarm { detail });
    }
    let ours = ids.first().map(|(_, id)| id.to_string());
    let has_managers = state.control_hosts().next().is_some();
    if has_managers && state.answered_by.is_none() {
        let (host, err) = state
            .manager_errors
            .first()
            .cloned()
            .unwrap_or_else(|| ("?".into(), "no answer".into()));
        return Err(SwarmError::QuorumLost(format!(
            "the swarm's managers cannot list the cluster ({host}: {err}); run `swarmdeck \
             recover` to see the quorum and the recovery plan"
        )));
    }
    for h in state.hosts.iter().filter(|h| h.is_member()) {
        let known = h
            .node_id
            .as_deref()
            .is_some_and(|id| state.node_by_id(id).is_some());
        if !known {
            let detail = match (&ours, h.remote_managers.first()) {
                (None, Some((_, addr))) => {
                    format!("its managers ({addr}, …) are not in this inventory")
                }
                (None, None) => "a swarm whose managers are not in this inventory".into(),
                (Some(id), _) => format!(
                    "node {} is not a node of cluster {id}",
                    h.node_id.as_deref().unwrap_or("?")
                ),
            };
            return Err(SwarmError::ForeignSwarm {
                host: h.host.clone(),
                detail,
            });
        }
    }
    Ok(ours)
}

fn remote_of(h: &HostFacts) -> Option<String> {
    let addr = h.node_addr.clone().or_else(|| h.advertise.clone())?;
    Some(format!("{addr}:{MANAGEMENT_PORT}"))
}

fn advertise_of(h: &HostFacts) -> Result<String, SwarmError> {
    h.advertise.clone().ok_or_else(|| SwarmError::Step {
        host: h.host.clone(),
        step: "choose the advertise address".into(),
        message: "`ip route get` towards the other hosts gave no source address".into(),
        fix: "check the host's routes (`ip route`), or run `swarmdeck preflight`".into(),
    })
}

/// A plan being built, batch by batch: a batch's steps run in parallel, batches in order.
#[derive(Default)]
struct Batches {
    plan: Plan,
    next: usize,
}

impl Batches {
    /// A step that runs on its own.
    fn alone(&mut self, host: &str, action: Action) {
        self.together(vec![(host.to_string(), action)]);
    }

    /// Steps that run in parallel.
    fn together(&mut self, steps: Vec<(String, Action)>) {
        if steps.is_empty() {
            return;
        }
        for (host, action) in steps {
            self.plan.steps.push(Step::new(&host, action, self.next));
        }
        self.next += 1;
    }
}

/// The bootstrap plan: init (if no swarm), manager joins one at a time, worker joins in
/// parallel, promotions if managers are still missing, and the overlay. Empty when the
/// hosts are already as requested.
pub fn bootstrap(state: &SwarmState, opts: &BootstrapOptions) -> Result<Plan, SwarmError> {
    if let Some(o) = &opts.overlay {
        validate_name("network", &o.name)?;
    }
    let ours = check_hosts(state)?;
    let want = opts
        .managers
        .unwrap_or_else(|| default_managers(state.hosts.len()))
        .clamp(1, state.hosts.len().max(1));
    let mut out = Batches::default();
    let anchor = anchor_or_init(state, opts, &mut out)?;
    let remote = remote_of(anchor).ok_or_else(|| SwarmError::Step {
        host: anchor.host.clone(),
        step: "find the manager address".into(),
        message: "no advertise address".into(),
        fix: "run `swarmdeck preflight`".into(),
    })?;
    let is_anchor = |h: &HostFacts| h.host == anchor.host;
    let member = |h: &HostFacts| h.is_member() && state.node_of(h).is_some();
    let mut managers = state
        .hosts
        .iter()
        .filter(|h| {
            is_anchor(h) || (member(h) && state.node_of(h).is_some_and(|n| n.role == Role::Manager))
        })
        .count();
    let joiners: Vec<&HostFacts> = state
        .hosts
        .iter()
        .filter(|h| !is_anchor(h) && !member(h))
        .collect();
    undo_partial_joins(state, &joiners, anchor, &mut out);
    let mut workers = Vec::new();
    for h in &joiners {
        let role = if managers < want {
            managers += 1;
            Role::Manager
        } else {
            Role::Worker
        };
        let action = Action::Join {
            role,
            token_from: anchor.host.clone(),
            remote: remote.clone(),
            advertise: h.advertise.clone(),
        };
        match role {
            // Managers one at a time: each join changes the Raft membership.
            Role::Manager => out.alone(&h.host, action),
            Role::Worker => workers.push((h.host.clone(), action)),
        }
    }
    out.together(workers);
    // Still short of managers: promote existing workers, one at a time.
    for h in state.hosts.iter().filter(|h| member(h)) {
        if managers >= want {
            break;
        }
        if let Some(n) = state.node_of(h).filter(|n| n.role == Role::Worker) {
            let promote = Action::Promote {
                node_id: n.id.clone(),
                name: n.cli_name_among(&state.nodes).to_string(),
            };
            out.alone(&anchor.host, promote);
            managers += 1;
        }
    }
    if let Some(o) = &opts.overlay {
        overlay_step(state, o, anchor, &mut out);
    }
    let mut plan = out.plan;
    plan.notes.extend(manager_advice(want));
    if ours.is_some() && managers > want {
        plan.notes.push(format!(
            "the swarm has {managers} managers, more than the {want} requested; swarmdeck does not \
             demote automatically (use `swarmdeck node demote`)"
        ));
    }
    Ok(plan)
}

/// The manager that hands out tokens and answers for the cluster; without one, the first
/// host, with its `swarm init` step.
fn anchor_or_init<'a>(
    state: &'a SwarmState,
    opts: &BootstrapOptions,
    out: &mut Batches,
) -> Result<&'a HostFacts, SwarmError> {
    if let Some(h) = state.control_hosts().next() {
        return Ok(h);
    }
    let first = state.hosts.first().ok_or(SwarmError::NoManager)?;
    let init = Action::Init {
        advertise: advertise_of(first)?,
        data_path_port: opts.data_path_port,
        default_addr_pool: opts.default_addr_pool.clone(),
        subnet_size: opts.subnet_size,
        autolock: opts.autolock,
    };
    out.alone(&first.host, init);
    Ok(first)
}

/// Undoes what interrupted joins left: a host stuck half-joined leaves first, and a node
/// entry its earlier attempt left on the managers is removed. That entry is recognised by
/// the host's own node ID, or by its hostname *and* address: a down node of a cloned
/// machine with the same hostname is another machine's, and stays.
fn undo_partial_joins(
    state: &SwarmState,
    joiners: &[&HostFacts],
    anchor: &HostFacts,
    out: &mut Batches,
) {
    for h in joiners {
        if matches!(
            h.state,
            LocalState::Pending | LocalState::Error | LocalState::Active
        ) {
            out.alone(&h.host, Action::Leave { force: true });
        }
        let earlier_attempt = |n: &&NodeInfo| {
            h.node_id.as_deref() == Some(n.id.as_str())
                || (Some(&n.hostname) == h.engine_name.as_ref()
                    && Some(&n.address) == h.advertise.as_ref())
        };
        for stale in state
            .nodes
            .iter()
            .filter(|n| n.role == Role::Worker && n.state != NodeState::Ready)
            .filter(earlier_attempt)
        {
            let remove = Action::RemoveNode {
                node_id: stale.id.clone(),
                // By id: the host's new node will carry the same hostname.
                name: stale.id.clone(),
                force: false,
            };
            out.alone(&anchor.host, remove);
        }
    }
}

/// The overlay, unless a network of that name exists (a different one is left alone, with
/// a note).
fn overlay_step(state: &SwarmState, o: &OverlaySpec, anchor: &HostFacts, out: &mut Batches) {
    match state.networks.iter().find(|n| n.name == o.name) {
        None => out.alone(&anchor.host, Action::CreateOverlay(o.clone())),
        Some(n) if n.encrypted != o.encrypted || n.driver != "overlay" => {
            out.plan.notes.push(format!(
                "network {} exists ({} driver, encrypted={}); not changing it",
                n.name, n.driver, n.encrypted
            ))
        }
        Some(_) => {}
    }
}

/// Advice on a manager count (odd counts), from the quorum model.
fn manager_advice(n: usize) -> Vec<String> {
    let managers: Vec<Manager> = (0..n)
        .map(|i| Manager {
            name: format!("m{i}"),
            reachable: true,
            zone: None,
        })
        .collect();
    quorum::advise(&managers)
        .into_iter()
        .map(|a| a.text)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Availability, NetworkInfo, NodeInfo, Reachability};

    fn host(i: usize) -> HostFacts {
        HostFacts {
            engine_name: Some(format!("node{i}")),
            advertise: Some(format!("10.0.0.{i}")),
            ..HostFacts::new(format!("node{i}"), format!("root@10.0.0.{i}"))
        }
    }

    fn node(i: usize, role: Role) -> NodeInfo {
        NodeInfo {
            id: format!("id{i}"),
            hostname: format!("node{i}"),
            role,
            leader: i == 1,
            reachability: (role == Role::Manager).then_some(Reachability::Reachable),
            availability: Availability::Active,
            state: NodeState::Ready,
            address: format!("10.0.0.{i}"),
            engine_version: "20.10".into(),
            labels: Default::default(),
            observed_down: None,
            scheduling: Default::default(),
        }
    }

    fn bare(n: usize) -> SwarmState {
        SwarmState {
            hosts: (1..=n).map(host).collect(),
            ..Default::default()
        }
    }

    /// The state after a bootstrap with these roles (index 0 = node1).
    fn built(roles: &[Role], net: Option<&str>) -> SwarmState {
        let mut s = bare(roles.len());
        for (i, (h, r)) in s.hosts.iter_mut().zip(roles).enumerate() {
            h.state = LocalState::Active;
            h.node_id = Some(format!("id{}", i + 1));
            h.node_addr = h.advertise.clone();
            h.control_available = *r == Role::Manager;
            h.cluster_id = (*r == Role::Manager).then(|| "c1".into());
        }
        s.nodes = roles
            .iter()
            .enumerate()
            .map(|(i, r)| node(i + 1, *r))
            .collect();
        s.answered_by = Some("node1".into());
        if let Some(n) = net {
            s.networks.push(NetworkInfo {
                id: "n".into(),
                name: n.into(),
                driver: "overlay".into(),
                scope: "swarm".into(),
                attachable: true,
                encrypted: false,
                ingress: false,
                subnets: vec![],
                containers: vec![],
            });
        }
        s
    }

    fn overlay() -> BootstrapOptions {
        BootstrapOptions {
            overlay: Some(OverlaySpec {
                name: "appnet".into(),
                attachable: true,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn manager_defaults() {
        let d: Vec<usize> = (1..=7).map(default_managers).collect();
        assert_eq!(d, vec![1, 1, 3, 3, 5, 5, 5]);
    }

    #[test]
    fn bare_three_hosts_one_manager() {
        let opts = BootstrapOptions {
            managers: Some(1),
            ..overlay()
        };
        let p = bootstrap(&bare(3), &opts).unwrap();
        let clis: Vec<&str> = p.steps.iter().map(|s| s.cli.as_str()).collect();
        assert_eq!(
            clis,
            vec![
                "docker swarm init --advertise-addr 10.0.0.1",
                "docker swarm join --token <redacted> --advertise-addr 10.0.0.2 10.0.0.1:2377",
                "docker swarm join --token <redacted> --advertise-addr 10.0.0.3 10.0.0.1:2377",
                "docker network create -d overlay --attachable appnet",
            ]
        );
        // Both workers join in one parallel batch.
        assert_eq!(p.batches().len(), 3);
        assert_eq!(p.batches()[1].len(), 2);
        assert!(
            p.notes.iter().any(|n| n.contains("single manager")),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn five_hosts_three_managers_join_one_at_a_time() {
        let opts = BootstrapOptions {
            managers: Some(3),
            ..Default::default()
        };
        let p = bootstrap(&bare(5), &opts).unwrap();
        let roles: Vec<Option<Role>> = p
            .steps
            .iter()
            .map(|s| match &s.action {
                Action::Join { role, .. } => Some(*role),
                _ => None,
            })
            .collect();
        use Role::*;
        assert_eq!(
            roles,
            vec![
                None,
                Some(Manager),
                Some(Manager),
                Some(Worker),
                Some(Worker)
            ]
        );
        let b: Vec<usize> = p.batches().iter().map(|b| b.len()).collect();
        assert_eq!(b, vec![1, 1, 1, 2]);
        assert!(p.notes.is_empty(), "{:?}", p.notes);
        // Even counts get advice.
        let p4 = bootstrap(
            &bare(5),
            &BootstrapOptions {
                managers: Some(4),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(
            p4.notes.iter().any(|n| n.contains("odd count")),
            "{:?}",
            p4.notes
        );
    }

    #[test]
    fn finished_cluster_gives_empty_plan() {
        use Role::*;
        let s = built(&[Manager, Worker, Worker], Some("appnet"));
        let opts = BootstrapOptions {
            managers: Some(1),
            ..overlay()
        };
        let p = bootstrap(&s, &opts).unwrap();
        assert!(p.is_empty(), "{p:?}");
        assert!(p.render().contains("nothing to do"));
    }

    #[test]
    fn resumes_after_interruption() {
        use Role::*;
        // node3's join was interrupted: it is inactive, and a down node entry remains.
        let mut s = built(&[Manager, Worker, Worker], None);
        s.hosts[2].state = LocalState::Inactive;
        s.hosts[2].node_id = None;
        s.nodes[2].state = NodeState::Down;
        // A cloned machine with node3's hostname, down too: another machine's node.
        let mut clone = node(9, Worker);
        clone.hostname = "node3".into();
        clone.state = NodeState::Down;
        s.nodes.push(clone);
        let opts = BootstrapOptions {
            managers: Some(1),
            ..overlay()
        };
        let p = bootstrap(&s, &opts).unwrap();
        let clis: Vec<&str> = p.steps.iter().map(|s| s.cli.as_str()).collect();
        assert_eq!(
            clis,
            vec![
                "docker node rm id3",
                "docker swarm join --token <redacted> --advertise-addr 10.0.0.3 10.0.0.1:2377",
                "docker network create -d overlay --attachable appnet",
            ]
        );
        // A host stuck in "pending" leaves first.
        s.hosts[2].state = LocalState::Pending;
        let p = bootstrap(&s, &opts).unwrap();
        assert_eq!(p.steps[0].cli, "docker swarm leave --force");
        assert_eq!(p.steps[0].host, "node3");
    }

    #[test]
    fn promotes_workers_when_managers_are_missing() {
        use Role::*;
        let s = built(&[Manager, Worker, Worker], None);
        let p = bootstrap(
            &s,
            &BootstrapOptions {
                managers: Some(3),
                ..Default::default()
            },
        )
        .unwrap();
        let clis: Vec<&str> = p.steps.iter().map(|s| s.cli.as_str()).collect();
        assert_eq!(
            clis,
            vec!["docker node promote node2", "docker node promote node3"]
        );
    }

    #[test]
    fn foreign_and_split_swarms_are_refused() {
        let mut s = bare(2);
        s.hosts[1].state = LocalState::Active;
        s.hosts[1].node_id = Some("x".into());
        s.hosts[1].remote_managers = vec![("m".into(), "192.168.9.9:2377".into())];
        let e = bootstrap(&s, &BootstrapOptions::default()).unwrap_err();
        assert!(
            matches!(e, SwarmError::ForeignSwarm { ref host, .. } if host == "node2"),
            "{e}"
        );
        assert!(e.to_string().contains("192.168.9.9"), "{e}");

        use Role::*;
        let mut s = built(&[Manager, Manager], None);
        s.hosts[1].cluster_id = Some("c2".into());
        let e = bootstrap(&s, &BootstrapOptions::default()).unwrap_err();
        assert!(matches!(e, SwarmError::SplitSwarm { .. }), "{e}");
    }

    #[test]
    fn locked_unreachable_and_bad_names_are_refused() {
        let mut s = bare(2);
        s.hosts[1].state = LocalState::Locked;
        assert!(matches!(
            bootstrap(&s, &BootstrapOptions::default()),
            Err(SwarmError::Locked { .. })
        ));
        s.hosts[1].state = LocalState::Unreachable("down".into());
        assert!(matches!(
            bootstrap(&s, &BootstrapOptions::default()),
            Err(SwarmError::Unreachable { .. })
        ));
        let mut o = overlay();
        o.overlay.as_mut().unwrap().name = "x; rm -rf /".into();
        assert!(matches!(
            bootstrap(&bare(1), &o),
            Err(SwarmError::InvalidName { .. })
        ));
    }
}
