//! Rolling maintenance: a command (an engine upgrade, a package update) run on nodes one
//! at a time, each drained first and given its tasks back before the next. Workers go
//! first, then managers one at a time with the leader last; before each manager the
//! quorum what-if ([`crate::quorum`]) must show that a majority stays reachable while it
//! is down. The run is a plan of ordinary steps (drain and restore are
//! [`Action::SetAvailability`]; the command and the waits are [`Action::Maintenance`]),
//! applied by [`super::ops::apply`], which stops at the first failure, so nodes not yet
//! reached stay untouched and the failed node stays drained.
//!
//! Ordering, the what-if, the waits' conditions and the stop report are pure; [`run`]
//! does the step on the hosts.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::cluster::Cluster;
use crate::quorum::{self, Assessment, Manager, Scenario, Verdict};
use crate::snapshot::workloads::ServiceMode;
use crate::snapshot::{
    Availability, ClusterSnapshot, LocalNodeState, NodeInfo, NodeState, Reachability, Role,
    TaskState,
};
use crate::ssh::RemoteCommand;
use crate::untrusted::{visible, visible_lines};

use super::plan::{Action, Plan, Step, WARNING, quote};
use super::state::SwarmState;
use super::{SwarmError, validate_name};

/// How long one step may take unless the user says otherwise: an engine upgrade pulls
/// packages, a node reboots, tasks start again.
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(600);

/// How often a wait reads the swarm again.
const POLL: Duration = Duration::from_millis(700);

/// How much of a command's output a failure shows (its end, where errors are).
const OUTPUT_TAIL: usize = 4096;

/// Which nodes to maintain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    /// IDs (what the app sends), unique hostnames or inventory host names.
    Nodes(Vec<String>),
}

/// What the user asks for: a shell line run on each selected node's host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceRequest {
    pub nodes: Selection,
    /// One shell line, run with `sh -c` (with `sudo -n` where the host uses sudo).
    pub command: String,
    /// Deadline of each step: the command, and each wait.
    pub step_timeout: Duration,
}

impl MaintenanceRequest {
    pub fn describe(&self) -> String {
        let which = match &self.nodes {
            Selection::All => "every node".to_string(),
            Selection::Nodes(n) => format!("{} node(s)", n.len()),
        };
        format!("rolling maintenance of {which}")
    }
}

/// One step of a node's maintenance other than drain and restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceStep {
    pub node_id: String,
    /// The node as its docker command names it.
    pub name: String,
    /// The node's place in the run (1-based) and the number of nodes.
    pub position: (usize, usize),
    pub phase: Phase,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// The what-if before a manager: a majority stays reachable without it.
    QuorumCheck,
    /// Wait until no task holds the node (replicated ones moved, global ones stopped).
    TasksLeft { timeout: Duration },
    /// The user's command on the node's own host.
    Command {
        line: String,
        sudo: bool,
        timeout: Duration,
    },
    /// Wait until the node is ready again (for a manager: reachable, and its engine
    /// answering as a manager).
    NodeBack {
        host: String,
        manager: bool,
        timeout: Duration,
    },
    /// Wait until the global services that ran on the node run there again and every
    /// service runs its desired tasks.
    TasksBack {
        global: Vec<String>,
        timeout: Duration,
    },
}

impl MaintenanceStep {
    fn command(line: &str, sudo: bool, timeout: Duration) -> RemoteCommand {
        RemoteCommand::shell(line).sudo(sudo).timeout(timeout)
    }

    /// The command that does (or watches) the same on the step's host.
    pub fn cli(&self) -> String {
        let n = quote(&self.name);
        match &self.phase {
            Phase::QuorumCheck => format!(
                "docker node ls --filter role=manager   # a majority stays reachable without {n}"
            ),
            Phase::TasksLeft { .. } => format!("docker node ps {n}   # until no task runs there"),
            Phase::Command { line, sudo, .. } => Self::command(line, *sudo, DEFAULT_STEP_TIMEOUT)
                .command_line()
                .unwrap_or_else(|e| format!("# not runnable: {e}")),
            Phase::NodeBack { manager, .. } => format!(
                "docker node inspect --format '{{{{.Status.State}}}} \
                 {{{{.ManagerStatus.Reachability}}}}' {n}   # until {}",
                if *manager { "ready reachable" } else { "ready" }
            ),
            Phase::TasksBack { .. } => format!(
                "docker node ps {n}; docker service ls   # until every service runs its \
                 replicas"
            ),
        }
    }

    pub fn describe(&self) -> String {
        let (i, of) = self.position;
        let n = visible(&self.name);
        let what = match &self.phase {
            Phase::QuorumCheck => {
                format!("check that a majority of managers stays reachable without {n}")
            }
            Phase::TasksLeft { .. } => format!("wait until the tasks have left {n}"),
            Phase::Command { line, .. } => format!("run `{}` on {n}", visible(line)),
            Phase::NodeBack { manager: true, .. } => {
                format!("wait until {n} is ready and reachable as a manager again")
            }
            Phase::NodeBack { .. } => format!("wait until {n} is ready again"),
            Phase::TasksBack { .. } => format!(
                "wait until the tasks are back ({n}'s global tasks running, every service \
                 converged)"
            ),
        };
        format!("node {i}/{of} {n}: {what}")
    }
}

/// The order nodes are maintained in: workers, then managers, the leader last (each group
/// by hostname, then ID), so the leader changes once at most.
pub fn order<'a>(nodes: &[&'a NodeInfo]) -> Vec<&'a NodeInfo> {
    let mut out = nodes.to_vec();
    out.sort_by_key(|n| {
        let rank = match (n.role, n.leader) {
            (Role::Worker, _) => 0,
            (Role::Manager, false) => 1,
            (Role::Manager, true) => 2,
        };
        (rank, n.hostname.clone(), n.id.clone())
    });
    out
}

/// The quorum what-if for taking `name` down for a while. Unlike a demotion (which
/// [`quorum::check_manager_action`] weighs), a restarting manager stays a Raft member:
/// the majority stays the same and one fewer member is alive. Err holds the refusal with
/// its figures.
pub fn what_if_down(managers: &[Manager], name: &str) -> Result<Assessment, String> {
    let scenario = Scenario {
        down: [name.to_string()].into(),
        ..Default::default()
    };
    let after = quorum::assess(managers, &scenario);
    if !matches!(after.verdict, Verdict::Lost | Verdict::NoManagers) {
        return Ok(after);
    }
    let unreachable: Vec<&str> = managers
        .iter()
        .filter(|m| !m.reachable && m.name != name)
        .map(|m| m.name.as_str())
        .collect();
    Err(format!(
        "taking manager {} down would leave {} reachable of {} managers, but {} are needed \
         for a majority (unreachable already: {}); the swarm could not be managed until it \
         is back",
        visible(name),
        after.alive,
        after.members,
        after.majority,
        if unreachable.is_empty() {
            "none".to_string()
        } else {
            visible(&unreachable.join(", ")).into_owned()
        }
    ))
}

/// Engine versions per node, e.g. `20.10.24 on node1, node2; 24.0.7 on node3 (skew: 2
/// versions)`.
pub fn versions(nodes: &[NodeInfo]) -> String {
    let mut by: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for n in nodes {
        let v = if n.engine_version.is_empty() {
            "unknown"
        } else {
            n.engine_version.as_str()
        };
        by.entry(v).or_default().push(n.label_among(nodes));
    }
    let parts: Vec<String> = by
        .iter()
        .map(|(v, names)| format!("{} on {}", visible(v), visible(&names.join(", "))))
        .collect();
    let skew = if by.len() > 1 {
        format!("skew: {} versions", by.len())
    } else {
        "no skew".into()
    };
    format!("{} ({skew})", parts.join("; "))
}

/// The plan for `req` on the live state and a snapshot taken now (for the tasks).
pub async fn plan(
    cluster: &Cluster,
    state: &SwarmState,
    req: &MaintenanceRequest,
) -> Result<Plan, SwarmError> {
    let snap = cluster.snapshot().await;
    let sudo: BTreeMap<String, bool> = cluster
        .inventory()
        .hosts
        .iter()
        .map(|h| (h.name.clone(), h.sudo))
        .collect();
    plan_with(state, &snap, &sudo, req)
}

fn refuse(host: &str, step: &str, message: impl std::fmt::Display, fix: &str) -> SwarmError {
    SwarmError::step(host, step, message, fix)
}

/// The nodes `selection` names, each once.
fn select<'a>(
    state: &'a SwarmState,
    selection: &Selection,
) -> Result<Vec<&'a NodeInfo>, SwarmError> {
    let mut out: Vec<&NodeInfo> = Vec::new();
    match selection {
        Selection::All => out.extend(state.nodes.iter()),
        Selection::Nodes(names) => {
            for name in names {
                validate_name("node", name)?;
                let n = state.resolve_node(name)?;
                if !out.iter().any(|o| o.id == n.id) {
                    out.push(n);
                }
            }
        }
    }
    Ok(out)
}

/// [`plan`] from what was read: `sudo` is each inventory host's sudo setting.
pub fn plan_with(
    state: &SwarmState,
    snap: &ClusterSnapshot,
    sudo: &BTreeMap<String, bool>,
    req: &MaintenanceRequest,
) -> Result<Plan, SwarmError> {
    const PLANNING: &str = "plan the rolling maintenance";
    let line = req.command.trim();
    if line.is_empty() || line.contains('\0') {
        return Err(refuse(
            "swarmdeck",
            PLANNING,
            "the command is empty or holds a NUL byte",
            "give the command after `--`, e.g. `-- service docker restart`",
        ));
    }
    let anchor = super::actions::anchor(state)?;
    let chosen = select(state, &req.nodes)?;
    if chosen.is_empty() {
        return Err(refuse(
            anchor,
            PLANNING,
            "no node selected",
            "name nodes or use --all",
        ));
    }
    let managers = state.managers();
    let ordered = order(&chosen);
    let mut hosts = Vec::new();
    for n in &ordered {
        let label = n.label_among(&state.nodes);
        let Some(h) = state
            .hosts
            .iter()
            .find(|h| h.node_id.as_deref() == Some(&n.id))
        else {
            return Err(refuse(
                anchor,
                PLANNING,
                format!(
                    "node {} is no host of the inventory, so swarmdeck cannot run the command there",
                    visible(&label)
                ),
                "add its host to the inventory (`swarmdeck hosts add`), or leave the node out",
            ));
        };
        if n.state != NodeState::Ready {
            return Err(refuse(
                &h.host,
                PLANNING,
                format!("node {} is {}, not ready", visible(&label), n.state),
                "bring it back first (or leave it out): the maintenance waits for each node to come back ready",
            ));
        }
        if n.role == Role::Manager
            && let Err(why) = what_if_down(&managers, &label)
        {
            return Err(refuse(
                &h.host,
                &format!(
                    "quorum check before maintaining manager {}",
                    visible(&label)
                ),
                why,
                "bring the unreachable managers back first, then run the maintenance again \
                 (workers alone can be maintained with --node)",
            ));
        }
        hosts.push(h.host.clone());
    }
    let total = ordered.len();
    let mut plan = Plan::default();
    let mut batch = 0;
    let mut push = |plan: &mut Plan, host: &str, action: Action| {
        plan.steps.push(Step {
            changes: !matches!(
                &action,
                Action::Maintenance(m) if !matches!(m.phase, Phase::Command { .. })
            ),
            ..Step::new(host, action, batch)
        });
        batch += 1;
    };
    let timeout = req.step_timeout;
    for (i, (n, host)) in ordered.iter().zip(&hosts).enumerate() {
        let manager = n.role == Role::Manager;
        // The steps that read or change the swarm go to a manager other than this node,
        // which is down for part of its turn.
        let at = if anchor != host.as_str() {
            anchor.to_string()
        } else {
            state
                .control_hosts()
                .map(|h| h.host.clone())
                .find(|h| h != host)
                .unwrap_or_else(|| anchor.to_string())
        };
        let name = n.cli_name_among(&state.nodes).to_string();
        let step = |phase| {
            Action::Maintenance(MaintenanceStep {
                node_id: n.id.clone(),
                name: name.clone(),
                position: (i + 1, total),
                phase,
            })
        };
        let availability = |availability| Action::SetAvailability {
            node_id: n.id.clone(),
            name: name.clone(),
            availability,
        };
        if manager {
            push(&mut plan, &at, step(Phase::QuorumCheck));
        }
        let was = n.availability.clone();
        if was != Availability::Drain {
            push(&mut plan, &at, availability(Availability::Drain));
        }
        push(&mut plan, &at, step(Phase::TasksLeft { timeout }));
        push(
            &mut plan,
            host,
            step(Phase::Command {
                line: line.to_string(),
                sudo: sudo.get(host).copied().unwrap_or(false),
                timeout,
            }),
        );
        push(
            &mut plan,
            &at,
            step(Phase::NodeBack {
                host: host.clone(),
                manager,
                timeout,
            }),
        );
        if was != Availability::Drain {
            push(&mut plan, &at, availability(was));
        }
        push(
            &mut plan,
            &at,
            step(Phase::TasksBack {
                global: global_services_on(snap, &n.id),
                timeout,
            }),
        );
    }
    plan.notes.extend(notes(state, snap, &ordered));
    Ok(plan)
}

/// The global services with a task meant to run on the node.
fn global_services_on(snap: &ClusterSnapshot, node_id: &str) -> Vec<String> {
    let mut out: Vec<String> = snap
        .tasks
        .iter()
        .filter(|t| t.node_id.as_deref() == Some(node_id) && t.desired_state == TaskState::Running)
        .filter(|t| {
            snap.services
                .iter()
                .any(|s| s.id == t.service_id && s.mode == ServiceMode::Global)
        })
        .map(|t| t.service_id.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

fn notes(state: &SwarmState, snap: &ClusterSnapshot, ordered: &[&NodeInfo]) -> Vec<String> {
    let names: Vec<String> = ordered
        .iter()
        .map(|n| n.label_among(&state.nodes))
        .collect();
    let mut out = vec![
        format!("engine versions before: {}", versions(&state.nodes)),
        format!(
            "order: {} (workers first, then managers one at a time, the leader last); each \
             node is drained, its tasks wait to leave, the command runs, the node must come \
             back ready, its availability is set back and its tasks must be back before the \
             next node",
            names.join(", ")
        ),
        "the run stops at the first failure: the nodes not reached stay untouched, and the \
         failed node stays drained so that no task is placed on a half-maintained node"
            .to_string(),
    ];
    let current =
        snap.swarm.is_some() && snap.nodes_as_of.is_none() && snap.workloads_error.is_none();
    if !current {
        out.push(format!(
            "{WARNING}the tasks could not be read now, so where each node's tasks go is unknown"
        ));
        return out;
    }
    for n in ordered {
        let label = n.label_among(&state.nodes);
        let moves = crate::workloads::drain::preview(snap, &n.id);
        out.extend(crate::workloads::drain::notes(&label, &moves));
    }
    out
}

/// Why the swarm as read is not yet what a wait needs (Err), or that it is.
type Check = Result<(), String>;

fn current(snap: &ClusterSnapshot) -> Check {
    match (&snap.swarm, snap.nodes_as_of, &snap.workloads_error) {
        (None, ..) => Err(format!(
            "no manager answered{}",
            snap.swarm_error
                .as_deref()
                .map(|e| format!(" ({})", visible(e)))
                .unwrap_or_default()
        )),
        (_, Some(_), _) => Err("the managers' node list is not current".into()),
        (_, _, Some(e)) => Err(format!("the tasks could not be read: {}", visible(e))),
        _ => Ok(()),
    }
}

fn service_name(snap: &ClusterSnapshot, id: &str) -> String {
    snap.services
        .iter()
        .find(|s| s.id == id)
        .map(|s| visible(&s.name).into_owned())
        .unwrap_or_else(|| id.to_string())
}

/// Replicated and global services whose running tasks are not their desired number.
fn unconverged(snap: &ClusterSnapshot) -> Vec<String> {
    snap.services
        .iter()
        .filter(|s| matches!(s.mode, ServiceMode::Replicated | ServiceMode::Global))
        .filter(|s| s.running != s.desired)
        .map(|s| format!("{} runs {}/{}", visible(&s.name), s.running, s.desired))
        .collect()
}

/// No task holds the node, and every service runs its desired tasks (the replicated
/// ones moved elsewhere).
pub fn tasks_left(snap: &ClusterSnapshot, node_id: &str) -> Check {
    current(snap)?;
    let on: Vec<String> = snap
        .tasks
        .iter()
        .filter(|t| t.node_id.as_deref() == Some(node_id) && t.state.holds_node())
        .map(|t| format!("{} ({})", service_name(snap, &t.service_id), t.state))
        .collect();
    if !on.is_empty() {
        return Err(format!("still on the node: {}", on.join(", ")));
    }
    let behind = unconverged(snap);
    if !behind.is_empty() {
        return Err(format!("not yet moved: {}", behind.join(", ")));
    }
    Ok(())
}

/// The node is ready in the managers' list and its own engine is back in the swarm; a
/// manager is also reachable and answers as a manager itself.
pub fn node_back(snap: &ClusterSnapshot, node_id: &str, host: &str, manager: bool) -> Check {
    if snap.swarm.is_none() || snap.nodes_as_of.is_some() {
        current(snap)?;
    }
    let n = snap
        .nodes
        .iter()
        .find(|n| n.id == node_id)
        .ok_or("the node is not in the managers' list")?;
    if n.state != NodeState::Ready || n.observed_down.is_some() {
        return Err(format!("the node is {}", n.state));
    }
    if manager && n.reachability != Some(Reachability::Reachable) {
        let r = n
            .reachability
            .as_ref()
            .map_or("no manager status".to_string(), |r| r.to_string());
        return Err(format!("the manager is {r}"));
    }
    let h = snap
        .hosts
        .iter()
        .find(|h| h.host == host)
        .ok_or("its host was not read")?;
    if let Some(e) = &h.error {
        return Err(format!("its host: {}", visible(e)));
    }
    if h.swarm_state != Some(LocalNodeState::Active) {
        return Err("its engine is not back in the swarm".into());
    }
    if manager && !h.control_available {
        return Err("its engine does not answer as a manager yet".into());
    }
    Ok(())
}

/// Every global service that ran on the node runs there again, and every service runs
/// its desired tasks.
pub fn tasks_back(snap: &ClusterSnapshot, node_id: &str, global: &[String]) -> Check {
    current(snap)?;
    let missing: Vec<String> = global
        .iter()
        .filter(|svc| {
            !snap.tasks.iter().any(|t| {
                &t.service_id == *svc
                    && t.node_id.as_deref() == Some(node_id)
                    && t.desired_state == TaskState::Running
                    && t.state == TaskState::Running
            })
        })
        .map(|svc| service_name(snap, svc))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "not yet running on the node: {}",
            missing.join(", ")
        ));
    }
    let behind = unconverged(snap);
    if !behind.is_empty() {
        return Err(format!("not yet converged: {}", behind.join(", ")));
    }
    Ok(())
}

/// The live managers as the quorum model sees them, from a current node list.
fn live_managers(snap: &ClusterSnapshot) -> Result<Vec<Manager>, String> {
    if snap.swarm.is_none() || snap.nodes_as_of.is_some() {
        current(snap)?;
    }
    Ok(snap
        .nodes
        .iter()
        .filter(|n| n.role == Role::Manager && n.reachability.is_some())
        .map(|n| n.as_manager(&snap.nodes))
        .collect())
}

/// Runs one step; `host` is the step's host.
pub async fn run(cluster: &Cluster, host: &str, step: &MaintenanceStep) -> Result<(), SwarmError> {
    let what = step.describe();
    let node = step.node_id.as_str();
    match &step.phase {
        Phase::QuorumCheck => {
            let snap = cluster.snapshot().await;
            let managers = live_managers(&snap).map_err(|e| {
                SwarmError::step(host, &what, e, "run `swarmdeck status` and try again")
            })?;
            let label = snap
                .nodes
                .iter()
                .find(|n| n.id == node)
                .map(|n| n.label_among(&snap.nodes))
                .unwrap_or_else(|| step.name.clone());
            what_if_down(&managers, &label).map(|_| ()).map_err(|why| {
                SwarmError::step(
                    host,
                    &what,
                    why,
                    "bring the unreachable managers back first, then maintain the rest",
                )
            })
        }
        Phase::TasksLeft { timeout } => {
            wait(cluster, host, &what, *timeout, |s| tasks_left(s, node)).await
        }
        Phase::Command {
            line,
            sudo,
            timeout,
        } => run_command(cluster, host, &what, line, *sudo, *timeout).await,
        Phase::NodeBack {
            host: node_host,
            manager,
            timeout,
        } => {
            wait(cluster, host, &what, *timeout, |s| {
                node_back(s, node, node_host, *manager)
            })
            .await
        }
        Phase::TasksBack { global, timeout } => {
            wait(cluster, host, &what, *timeout, |s| {
                tasks_back(s, node, global)
            })
            .await
        }
    }
}

/// Reads the swarm until `check` passes, or fails with its last reason at `timeout`.
async fn wait(
    cluster: &Cluster,
    host: &str,
    what: &str,
    timeout: Duration,
    check: impl Fn(&ClusterSnapshot) -> Check,
) -> Result<(), SwarmError> {
    let start = Instant::now();
    loop {
        let snap = cluster.snapshot().await;
        let why = match check(&snap) {
            Ok(()) => return Ok(()),
            Err(why) => why,
        };
        if start.elapsed() >= timeout {
            return Err(SwarmError::step(
                host,
                what,
                format!("not done after {}s: {why}", timeout.as_secs()),
                "see `swarmdeck status` and `swarmdeck ps SERVICE` for what is missing; a \
                 longer --step-timeout if it only needs more time",
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The end of `bytes` as inert text, at most [`OUTPUT_TAIL`] bytes.
fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_end();
    let mut start = text.len().saturating_sub(OUTPUT_TAIL);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    if text.is_empty() {
        return "(no output)".into();
    }
    let cut = if start > 0 { "…" } else { "" };
    format!("{cut}{}", visible_lines(&text[start..]))
}

async fn run_command(
    cluster: &Cluster,
    host: &str,
    what: &str,
    line: &str,
    sudo: bool,
    timeout: Duration,
) -> Result<(), SwarmError> {
    let h = super::ops::spec(cluster, host)?;
    let session = cluster.pool().session(h).await?;
    let cmd = MaintenanceStep::command(line, sudo, timeout);
    let out = session.exec(&cmd).await.map_err(|e| {
        SwarmError::step(
            host,
            what,
            e,
            "the node is left drained: see what the command did on the host, finish it by \
             hand, then set the node's availability back",
        )
    })?;
    let mut output = out.stdout.clone();
    output.extend_from_slice(&out.stderr);
    if out.success() {
        if !output.is_empty() {
            tracing::info!(host, output = %tail(&output), "maintenance command output");
        }
        return Ok(());
    }
    let status = match &out.signal {
        Some(sig) => format!("was killed by signal {}", visible(sig)),
        None => format!("exited with status {}", out.status),
    };
    Err(SwarmError::step(
        host,
        what,
        format!("the command {status}; its output: {}", tail(&output)),
        "the node is left drained: put right what the command reports on the host, then \
         set the node's availability back (or run the maintenance for it again)",
    ))
}

/// The node a step of a maintenance plan acts on.
fn node_of(step: &Step) -> Option<&str> {
    match &step.action {
        Action::Maintenance(m) => Some(&m.node_id),
        Action::SetAvailability { node_id, .. } => Some(node_id),
        _ => None,
    }
}

/// The node's name as the plan's steps give it.
fn name_in(plan: &Plan, node_id: &str) -> String {
    plan.steps
        .iter()
        .find_map(|s| match &s.action {
            Action::Maintenance(m) if m.node_id == node_id => Some(m.name.clone()),
            _ => None,
        })
        .unwrap_or_else(|| node_id.to_string())
}

/// Where a run stopped and what that left, for a failure at `failed` (a step of `plan`):
/// which node, its state, the fix, and the nodes never reached.
pub fn stop_report(plan: &Plan, failed: &Step) -> String {
    let Some(node) = node_of(failed) else {
        return format!("stopped at: {}", visible(&failed.description));
    };
    let name = name_in(plan, node);
    let n = visible(&name).into_owned();
    let mut nodes: Vec<&str> = Vec::new();
    for s in &plan.steps {
        if let Some(id) = node_of(s)
            && !nodes.contains(&id)
        {
            nodes.push(id);
        }
    }
    let at = nodes.iter().position(|id| *id == node).unwrap_or(0);
    let restore = plan.steps.iter().find_map(|s| match &s.action {
        Action::SetAvailability {
            node_id,
            availability,
            ..
        } if node_id == node && *availability != Availability::Drain => Some(availability.clone()),
        _ => None,
    });
    let back_to = restore.clone().unwrap_or(Availability::Drain);
    let drained_fix = format!(
        "{n} is left drained, so no task is placed on a half-maintained node. Fix: put right \
         what failed on {n}, then `docker node update --availability {back_to} {}` (or run the \
         maintenance for {n} alone again)",
        quote(&name)
    );
    let state = match &failed.action {
        Action::Maintenance(m) => match m.phase {
            Phase::QuorumCheck => {
                format!("{n} is untouched. Fix: bring the unreachable managers back first")
            }
            Phase::TasksLeft { .. } => format!(
                "{n} is drained but its tasks did not all leave or find another node. {drained_fix}"
            ),
            Phase::Command { .. } => {
                format!("the command failed on {n}. {drained_fix}")
            }
            Phase::NodeBack { .. } => format!(
                "{n} did not come back (its engine or its place in the swarm). {drained_fix}"
            ),
            Phase::TasksBack { .. } => format!(
                "{n} is back and {} again, but not every task is back yet. Fix: see \
                 `swarmdeck services` and `docker node ps {}`",
                restore.unwrap_or(Availability::Drain),
                quote(&name)
            ),
        },
        Action::SetAvailability {
            availability: Availability::Drain,
            ..
        } => format!("{n} could not be drained and is as it was"),
        _ => format!(
            "{n} is back but still drained. Fix: `docker node update --availability {back_to} {}`",
            quote(&name)
        ),
    };
    let rest: Vec<String> = nodes[at + 1..]
        .iter()
        .map(|id| visible(&name_in(plan, id)).into_owned())
        .collect();
    let untouched = if rest.is_empty() {
        "no node after it was to be maintained".to_string()
    } else {
        format!("not reached, untouched: {}", rest.join(", "))
    };
    format!(
        "stopped at node {}/{} {n}, step \"{}\": {state}. {untouched}",
        at + 1,
        nodes.len(),
        visible(&failed.description)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::workloads::ServiceInfo;
    use crate::snapshot::{HostStatus, SwarmSummary, TaskInfo};
    use crate::swarm::state::{HostFacts, LocalState};

    fn node(i: usize, role: Role, leader: bool) -> NodeInfo {
        NodeInfo {
            id: format!("id{i}"),
            hostname: format!("node{i}"),
            role,
            leader,
            reachability: (role == Role::Manager).then_some(Reachability::Reachable),
            availability: Availability::Active,
            state: NodeState::Ready,
            address: format!("10.0.0.{i}"),
            engine_version: "20.10.24".into(),
            labels: Default::default(),
            observed_down: None,
            scheduling: Default::default(),
        }
    }

    /// node1..3 managers (node2 the leader), node4..5 workers, all in the inventory.
    fn state() -> SwarmState {
        let nodes = vec![
            node(1, Role::Manager, false),
            node(2, Role::Manager, true),
            node(3, Role::Manager, false),
            node(4, Role::Worker, false),
            node(5, Role::Worker, false),
        ];
        let hosts = (1..=5)
            .map(|i| HostFacts {
                state: LocalState::Active,
                node_id: Some(format!("id{i}")),
                control_available: i <= 3,
                ..HostFacts::new(format!("node{i}"), format!("root@10.0.0.{i}"))
            })
            .collect();
        SwarmState {
            hosts,
            nodes,
            answered_by: Some("node2".into()),
            ..Default::default()
        }
    }

    fn snap(s: &SwarmState) -> ClusterSnapshot {
        ClusterSnapshot {
            swarm: Some(SwarmSummary {
                cluster_id: "c".into(),
                created_at: None,
                answered_by: "node2".into(),
            }),
            nodes: s.nodes.clone(),
            hosts: s
                .hosts
                .iter()
                .map(|h| HostStatus {
                    host: h.host.clone(),
                    address: String::new(),
                    engine_name: None,
                    engine_version: None,
                    swarm_state: Some(LocalNodeState::Active),
                    node_id: h.node_id.clone(),
                    control_available: h.control_available,
                    error: None,
                    layer: None,
                    failing_since: None,
                })
                .collect(),
            ..ClusterSnapshot::empty("test")
        }
    }

    fn req(nodes: Selection) -> MaintenanceRequest {
        MaintenanceRequest {
            nodes,
            command: "service docker restart".into(),
            step_timeout: DEFAULT_STEP_TIMEOUT,
        }
    }

    fn plan_of(s: &SwarmState, r: &MaintenanceRequest) -> Result<Plan, SwarmError> {
        let sudo = [("node4".to_string(), true)].into();
        plan_with(s, &snap(s), &sudo, r)
    }

    #[test]
    fn workers_first_then_managers_with_the_leader_last() {
        let s = state();
        let refs: Vec<&NodeInfo> = s.nodes.iter().collect();
        let names: Vec<&str> = order(&refs).iter().map(|n| n.hostname.as_str()).collect();
        assert_eq!(names, ["node4", "node5", "node1", "node3", "node2"]);
    }

    #[test]
    fn each_node_is_drained_run_waited_for_and_restored_in_order() {
        let s = state();
        let p = plan_of(&s, &req(Selection::All)).unwrap();
        let clis: Vec<(&str, &str)> = p
            .steps
            .iter()
            .take(6)
            .map(|s| (s.host.as_str(), s.cli.as_str()))
            .collect();
        assert_eq!(
            clis[0],
            ("node2", "docker node update --availability drain node4")
        );
        assert!(clis[1].1.starts_with("docker node ps node4"), "{clis:?}");
        // The command runs on the node's own host, with its sudo setting.
        assert_eq!(
            clis[2],
            ("node4", "sudo -n -- sh -c 'service docker restart'")
        );
        assert!(clis[3].1.starts_with("docker node inspect"), "{clis:?}");
        assert_eq!(
            clis[4],
            ("node2", "docker node update --availability active node4")
        );
        assert!(clis[5].1.contains("docker service ls"), "{clis:?}");
        // Every step is its own batch: one after the other.
        let batches: Vec<usize> = p.steps.iter().map(|s| s.batch).collect();
        assert!(batches.windows(2).all(|w| w[0] < w[1]));
        // Managers get the quorum check first; the leader's steps go to another manager.
        let leader: Vec<&Step> = p
            .steps
            .iter()
            .filter(|s| node_of(s) == Some("id2"))
            .collect();
        assert!(
            leader[0]
                .cli
                .starts_with("docker node ls --filter role=manager")
        );
        assert!(
            leader
                .iter()
                .all(|s| s.host != "node2" || s.cli.contains("sh -c"))
        );
        assert_eq!(p.steps.last().map(|s| node_of(s)), Some(Some("id2")));
        assert!(p.notes[0].contains("20.10.24 on node1, node2, node3, node4, node5 (no skew)"));
    }

    #[test]
    fn a_manager_that_would_lose_quorum_refuses_the_plan_with_figures() {
        let mut s = state();
        s.nodes[2].reachability = Some(Reachability::Unreachable);
        s.nodes[2].state = NodeState::Down;
        let e = plan_of(&s, &req(Selection::Nodes(vec!["node1".into()]))).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("taking manager node1 down would leave 1 reachable of 3 managers, but 2")
                && msg.contains("unreachable already: node3"),
            "{msg}"
        );
        // Workers alone are fine.
        assert!(plan_of(&s, &req(Selection::Nodes(vec!["node4".into()]))).is_ok());
        // Two managers: either one down loses the majority (a demotion would not).
        let two = vec![
            Manager {
                name: "a".into(),
                reachable: true,
                zone: None,
            },
            Manager {
                name: "b".into(),
                reachable: true,
                zone: None,
            },
        ];
        assert!(what_if_down(&two, "a").is_err());
        assert!(quorum::check_manager_action(&two, "a", quorum::ManagerAction::Demote).is_ok());
    }

    #[test]
    fn a_drained_node_stays_drained_and_a_node_not_ready_is_refused() {
        let mut s = state();
        s.nodes[3].availability = Availability::Drain;
        let p = plan_of(&s, &req(Selection::Nodes(vec!["node4".into()]))).unwrap();
        assert!(
            p.steps.iter().all(|s| !s.cli.contains("--availability")),
            "{p:?}"
        );
        s.nodes[4].state = NodeState::Down;
        let e = plan_of(&s, &req(Selection::Nodes(vec!["node5".into()]))).unwrap_err();
        assert!(e.to_string().contains("not ready"), "{e}");
        let mut empty = req(Selection::All);
        empty.command = "  ".into();
        assert!(plan_of(&state(), &empty).is_err());
    }

    #[test]
    fn version_skew_names_each_version_and_its_nodes() {
        let mut s = state();
        s.nodes[4].engine_version = "24.0.7".into();
        assert_eq!(
            versions(&s.nodes),
            "20.10.24 on node1, node2, node3, node4; 24.0.7 on node5 (skew: 2 versions)"
        );
    }

    fn task(svc: &str, node: &str, state: TaskState, desired: TaskState) -> TaskInfo {
        TaskInfo {
            id: format!("{svc}-{node}"),
            service_id: svc.into(),
            node_id: Some(node.into()),
            state,
            desired_state: desired,
            ..serde_json::from_value(serde_json::json!({
                "id": "", "service_id": "", "desired_state": "running", "state": "running",
                "message": "", "timestamp": ""
            }))
            .unwrap()
        }
    }

    fn service(id: &str, mode: ServiceMode, running: u64, desired: u64) -> ServiceInfo {
        let mut s: ServiceInfo = serde_json::from_value(serde_json::json!({
            "id": id, "name": id, "mode": "replicated", "running": running,
            "desired": desired, "image": "x"
        }))
        .unwrap();
        s.mode = mode;
        s
    }

    #[test]
    fn waits_pass_only_when_the_tasks_have_left_and_come_back() {
        let s = state();
        let mut sn = snap(&s);
        sn.services = vec![
            service("web", ServiceMode::Replicated, 2, 2),
            service("agent", ServiceMode::Global, 4, 4),
        ];
        sn.tasks = vec![task("web", "id4", TaskState::Running, TaskState::Shutdown)];
        assert!(
            tasks_left(&sn, "id4")
                .unwrap_err()
                .contains("web (running)")
        );
        sn.tasks[0].state = TaskState::Shutdown;
        assert!(tasks_left(&sn, "id4").is_ok());
        sn.services[0].running = 1;
        assert!(tasks_left(&sn, "id4").unwrap_err().contains("web runs 1/2"));

        sn.services[0].running = 2;
        let global = vec!["agent".to_string()];
        assert!(
            tasks_back(&sn, "id4", &global)
                .unwrap_err()
                .contains("agent")
        );
        sn.tasks.push(task(
            "agent",
            "id4",
            TaskState::Starting,
            TaskState::Running,
        ));
        assert!(tasks_back(&sn, "id4", &global).is_err());
        sn.tasks[1].state = TaskState::Running;
        assert!(tasks_back(&sn, "id4", &global).is_ok());

        // A manager is back when ready, reachable, and its engine answers as a manager.
        assert!(node_back(&sn, "id1", "node1", true).is_ok());
        sn.hosts[0].control_available = false;
        assert!(node_back(&sn, "id1", "node1", true).is_err());
        sn.nodes[0].reachability = Some(Reachability::Unreachable);
        assert!(
            node_back(&sn, "id1", "node1", true)
                .unwrap_err()
                .contains("unreachable")
        );
        sn.nodes_as_of = Some(1);
        assert!(node_back(&sn, "id4", "node4", false).is_err());
    }

    #[test]
    fn the_stop_report_names_the_node_its_state_and_the_nodes_not_reached() {
        let s = state();
        let p = plan_of(&s, &req(Selection::All)).unwrap();
        let failed = p
            .steps
            .iter()
            .find(|s| node_of(s) == Some("id5") && s.cli.contains("sh -c"))
            .unwrap();
        let r = stop_report(&p, failed);
        assert!(r.starts_with("stopped at node 2/5 node5"), "{r}");
        assert!(r.contains("node5 is left drained"), "{r}");
        assert!(
            r.contains("docker node update --availability active node5"),
            "{r}"
        );
        assert!(
            r.contains("not reached, untouched: node1, node3, node2"),
            "{r}"
        );
    }
}
