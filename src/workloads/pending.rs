//! Why a task is pending: every node run through swarm's scheduler filters in the order
//! swarmkit runs them (ready, resources, plugins, constraints, platform, host ports, max
//! replicas per node), the first that rejects each node, one sentence saying why no node
//! takes the task and what to change. Pure: computed from a snapshot.

use std::collections::BTreeMap;

use serde::Serialize;

use super::constraint::Constraint;
use crate::snapshot::workloads::{Platform, PublishMode, Resources};
use crate::snapshot::{Availability, ClusterSnapshot, NodeInfo, NodeState, ServiceInfo, TaskInfo};
use crate::swarm::plan::quote;

/// Swarm's filters, in the order its scheduler runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    Ready,
    Resources,
    Plugin,
    Constraint,
    Platform,
    HostPort,
    MaxReplicas,
}

/// Why one node cannot take the task: the first filter that says no.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "filter", rename_all = "snake_case")]
pub enum Rejection {
    /// Not ready (down, unknown, disconnected) or not active (drain, pause).
    Ready { state: String, availability: String },
    /// The reservation does not fit in what the node has left.
    Resources { need: Resources, free: Resources },
    /// A plugin the task needs ("Volume", "Network", "Log") is not on the node.
    Plugin { kind: String, name: String },
    /// The first constraint the node fails, with the node's value for its key.
    Constraint { constraint: String, actual: String },
    /// The node's platform is not one the image supports.
    Platform { node: Platform },
    /// A host-mode port the task publishes is taken on the node.
    HostPort { port: u32, protocol: String },
    /// The node already runs as many of the service's tasks as allowed.
    MaxReplicas { max: u64 },
}

impl Rejection {
    pub fn filter(&self) -> Filter {
        match self {
            Rejection::Ready { .. } => Filter::Ready,
            Rejection::Resources { .. } => Filter::Resources,
            Rejection::Plugin { .. } => Filter::Plugin,
            Rejection::Constraint { .. } => Filter::Constraint,
            Rejection::Platform { .. } => Filter::Platform,
            Rejection::HostPort { .. } => Filter::HostPort,
            Rejection::MaxReplicas { .. } => Filter::MaxReplicas,
        }
    }

    /// One line about one node, e.g. "1.5 GiB memory unreserved, 2 GiB needed".
    pub fn describe(&self) -> String {
        match self {
            Rejection::Ready {
                state,
                availability,
            } => format!("not available for new tasks ({state}, {availability})"),
            Rejection::Resources { need, free } => shortfalls(need, free).join(", "),
            Rejection::Plugin { kind, name } => format!("no {kind} plugin {name}"),
            Rejection::Constraint { constraint, actual } if actual.is_empty() => {
                format!("fails `{constraint}` (has no value for it)")
            }
            Rejection::Constraint { constraint, actual } => {
                format!("fails `{constraint}` (has {actual})")
            }
            Rejection::Platform { node } => {
                format!("platform {} not supported by the image", platform(node))
            }
            Rejection::HostPort { port, protocol } => {
                format!("host port {port}/{protocol} already in use")
            }
            Rejection::MaxReplicas { max } => {
                format!("already runs {max} task(s) of the service (max {max} per node)")
            }
        }
    }
}

/// One node's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeVerdict {
    pub node_id: String,
    /// The node's name among the swarm's nodes.
    pub node: String,
    /// None: the node passes every filter swarmdeck checks.
    pub rejection: Option<Rejection>,
}

/// Why a pending task finds no node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingReason {
    pub task_id: String,
    pub nodes: Vec<NodeVerdict>,
    /// One sentence naming the reason and the nodes.
    pub summary: String,
    /// What to change.
    pub fix: String,
    /// The engine's own words (the task's error, else its message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine_says: Option<String>,
}

/// What the scheduler knows about a node besides its description: what the tasks placed
/// there take.
#[derive(Debug, Default)]
struct NodeLoad {
    reserved: Resources,
    host_ports: Vec<(u32, String)>,
    /// Active tasks per service.
    tasks_by_service: BTreeMap<String, u64>,
}

fn load_of(snap: &ClusterSnapshot, node_id: &str) -> NodeLoad {
    let mut load = NodeLoad::default();
    for t in snap
        .tasks
        .iter()
        .filter(|t| t.node_id.as_deref() == Some(node_id) && t.holds_node())
    {
        load.reserved.nano_cpus += t.reservations.nano_cpus;
        load.reserved.memory_bytes += t.reservations.memory_bytes;
        if let Some(s) = snap.services.iter().find(|s| s.id == t.service_id) {
            load.host_ports.extend(host_ports(s));
        }
        if t.is_active() {
            *load
                .tasks_by_service
                .entry(t.service_id.clone())
                .or_default() += 1;
        }
    }
    load
}

fn host_ports(s: &ServiceInfo) -> impl Iterator<Item = (u32, String)> + '_ {
    s.ports
        .iter()
        .filter(|p| p.mode == PublishMode::Host && p.published != 0)
        .map(|p| (p.published, p.protocol.clone()))
}

/// What the task needs from a node, read once from its service.
struct Needs<'a> {
    service: &'a ServiceInfo,
    reservations: Resources,
    plugins: Vec<(String, String)>,
    constraints: Vec<Constraint>,
}

impl<'a> Needs<'a> {
    fn of(snap: &ClusterSnapshot, service: &'a ServiceInfo, task: &TaskInfo) -> Self {
        let networks = service.networks.iter().filter_map(|id| {
            let n = snap.networks.iter().find(|n| &n.id == id)?;
            Some(("Network".to_string(), n.driver.clone()))
        });
        let volumes = service
            .volume_drivers
            .iter()
            .map(|d| ("Volume".to_string(), d.clone()));
        let reservations = if task.reservations.is_zero() {
            service.resources.reservations
        } else {
            task.reservations
        };
        Needs {
            service,
            reservations,
            plugins: networks.chain(volumes).collect(),
            // Swarm drops the whole filter when a constraint does not parse.
            constraints: service
                .constraints
                .iter()
                .map(|c| Constraint::parse(c))
                .collect::<Result<_, _>>()
                .unwrap_or_default(),
        }
    }

    /// The first filter that rejects the node, in swarm's order.
    fn check(&self, n: &NodeInfo, load: &NodeLoad) -> Option<Rejection> {
        self.ready(n)
            .or_else(|| self.resources(n, load))
            .or_else(|| self.plugin(n))
            .or_else(|| self.constraint(n))
            .or_else(|| self.platform(n))
            .or_else(|| self.host_port(load))
            .or_else(|| self.max_replicas(load))
    }

    fn ready(&self, n: &NodeInfo) -> Option<Rejection> {
        (n.state != NodeState::Ready || n.availability != Availability::Active).then(|| {
            Rejection::Ready {
                state: n.state.to_string(),
                availability: n.availability.to_string(),
            }
        })
    }

    fn resources(&self, n: &NodeInfo, load: &NodeLoad) -> Option<Rejection> {
        let total = n.scheduling.resources;
        // A node described without resources (a snapshot from before they were read)
        // cannot be judged.
        if self.reservations.is_zero() || total.is_zero() {
            return None;
        }
        let free = Resources {
            nano_cpus: total.nano_cpus - load.reserved.nano_cpus,
            memory_bytes: total.memory_bytes - load.reserved.memory_bytes,
        };
        let need = self.reservations;
        (need.nano_cpus > free.nano_cpus || need.memory_bytes > free.memory_bytes)
            .then_some(Rejection::Resources { need, free })
    }

    fn plugin(&self, n: &NodeInfo) -> Option<Rejection> {
        let have = &n.scheduling.plugins;
        // Swarm passes a node whose engine it has no description of.
        if have.is_empty() {
            return None;
        }
        let found = |kind: &str, name: &str| {
            have.iter().any(|p| {
                p.kind == kind && (p.name == name || p.name.strip_suffix(":latest") == Some(name))
            })
        };
        let missing = self.plugins.iter().find(|(k, name)| !found(k, name));
        if let Some((kind, name)) = missing {
            return Some(Rejection::Plugin {
                kind: kind.clone(),
                name: name.clone(),
            });
        }
        // A log driver counts only where the engine lists log plugins at all.
        let log = self.service.log_driver.as_deref().filter(|l| *l != "none");
        let lists_logs = have.iter().any(|p| p.kind == "Log");
        log.filter(|l| lists_logs && !found("Log", l))
            .map(|l| Rejection::Plugin {
                kind: "Log".into(),
                name: l.into(),
            })
    }

    fn constraint(&self, n: &NodeInfo) -> Option<Rejection> {
        let failed = self.constraints.iter().find(|c| !c.matches(n))?;
        Some(Rejection::Constraint {
            constraint: failed.text.trim().to_string(),
            actual: failed.actual(n),
        })
    }

    fn platform(&self, n: &NodeInfo) -> Option<Rejection> {
        let supported = &self.service.platforms;
        let node = &n.scheduling.platform;
        let fits = supported.is_empty() || supported.iter().any(|p| platform_fits(p, node));
        (!fits).then(|| Rejection::Platform { node: node.clone() })
    }

    fn host_port(&self, load: &NodeLoad) -> Option<Rejection> {
        host_ports(self.service)
            .find(|p| load.host_ports.contains(p))
            .map(|(port, protocol)| Rejection::HostPort { port, protocol })
    }

    fn max_replicas(&self, load: &NodeLoad) -> Option<Rejection> {
        let max = self.service.max_replicas_per_node?;
        let running = load
            .tasks_by_service
            .get(&self.service.id)
            .copied()
            .unwrap_or(0);
        (running >= max).then_some(Rejection::MaxReplicas { max })
    }
}

fn arch_word(a: &str) -> &str {
    match a {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    }
}

fn platform_fits(image: &Platform, node: &Platform) -> bool {
    (image.arch.is_empty() || arch_word(&image.arch) == arch_word(&node.arch))
        && (image.os.is_empty() || image.os == node.os)
}

fn platform(p: &Platform) -> String {
    format!("{}/{}", p.os, p.arch)
}

/// Why `task` is pending, node by node, when it is a task waiting for a node.
pub fn explain(snap: &ClusterSnapshot, task: &TaskInfo) -> Option<PendingReason> {
    if !task.is_unplaced() {
        return None;
    }
    let service = snap.services.iter().find(|s| s.id == task.service_id)?;
    let needs = Needs::of(snap, service, task);
    let nodes: Vec<NodeVerdict> = snap
        .nodes
        .iter()
        .map(|n| NodeVerdict {
            node_id: n.id.clone(),
            node: n.label_among(&snap.nodes),
            rejection: needs.check(n, &load_of(snap, &n.id)),
        })
        .collect();
    let (summary, fix) = sentence(service, &nodes);
    let engine_says = task
        .error
        .clone()
        .or_else(|| Some(task.message.clone()).filter(|m| !m.is_empty()));
    Some(PendingReason {
        task_id: task.id.clone(),
        nodes,
        summary,
        fix,
        engine_says,
    })
}

/// "node1", "node1 and node2", "node1, node2 and node3".
fn names(nodes: &[&NodeVerdict]) -> String {
    let names: Vec<&str> = nodes.iter().map(|n| n.node.as_str()).collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// The summary and the fix: one clause per filter that rejected nodes, in swarm's order.
fn sentence(service: &ServiceInfo, nodes: &[NodeVerdict]) -> (String, String) {
    if nodes.is_empty() {
        return (
            "the swarm lists no nodes".into(),
            "join nodes to the swarm".into(),
        );
    }
    let fitting: Vec<&NodeVerdict> = nodes.iter().filter(|n| n.rejection.is_none()).collect();
    if !fitting.is_empty() {
        return (
            format!(
                "{} can take it as far as swarmdeck can tell (it checks readiness, \
                 reservations, plugins, constraints, platforms, host ports and replicas \
                 per node): the scheduler may not have retried yet, or it waits on \
                 something else (generic resources, cluster volumes)",
                names(&fitting)
            ),
            format!(
                "look again in a few seconds; if it stays pending, read the engine's \
                 message (`docker service ps --no-trunc {}`)",
                quote(&service.name)
            ),
        );
    }
    let mut groups: BTreeMap<Filter, Vec<&NodeVerdict>> = BTreeMap::new();
    for n in nodes {
        if let Some(r) = &n.rejection {
            groups.entry(r.filter()).or_default().push(n);
        }
    }
    let mut reached = nodes.len();
    let mut summaries = Vec::new();
    let mut fixes = Vec::new();
    for (filter, group) in &groups {
        let all_nodes = reached == nodes.len();
        let scope = Scope {
            // "every eligible node (node3)" says less than "node3".
            every: group.len() == reached && (all_nodes || group.len() > 1),
            all_nodes,
        };
        let (summary, fix) = clause(*filter, service, group, scope);
        summaries.push(summary);
        fixes.push(fix);
        reached -= group.len();
    }
    (summaries.join("; "), fixes.join("; "))
}

/// Whether a clause covers every node that reached its filter, and whether that is every
/// node of the swarm.
#[derive(Clone, Copy)]
struct Scope {
    every: bool,
    all_nodes: bool,
}

impl Scope {
    /// "every node" / "every eligible node" / "node1 and node2", with a fitting verb.
    fn who(self, group: &[&NodeVerdict], verb_one: &str, verb_many: &str) -> String {
        let verb = if group.len() == 1 && !self.every {
            verb_one
        } else {
            verb_many
        };
        match (self.every, self.all_nodes) {
            (true, true) => format!("every node ({}) {verb_one}", names(group)),
            (true, false) => format!("every eligible node ({}) {verb_one}", names(group)),
            (false, _) => format!("{} {verb}", names(group)),
        }
    }
}

fn clause(
    filter: Filter,
    service: &ServiceInfo,
    group: &[&NodeVerdict],
    scope: Scope,
) -> (String, String) {
    let svc = quote(&service.name);
    let first = group[0].rejection.as_ref().expect("grouped by rejection");
    match (filter, first) {
        (Filter::Ready, _) => ready_clause(group, scope),
        (Filter::Resources, Rejection::Resources { need, .. }) => {
            resources_clause(&svc, *need, group, scope)
        }
        (Filter::Plugin, Rejection::Plugin { kind, name }) => (
            format!(
                "{} the {kind} plugin {name}",
                scope.who(group, "lacks", "lack")
            ),
            format!("install the plugin `{name}` on the nodes that should run it"),
        ),
        (Filter::Constraint, _) => constraint_clause(&svc, group, scope),
        (Filter::Platform, _) => (
            format!(
                "{} a platform the image does not support ({})",
                scope.who(group, "has", "have"),
                service
                    .platforms
                    .iter()
                    .map(platform)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "run it on nodes of a supported platform, or use an image built for theirs".into(),
        ),
        (Filter::HostPort, Rejection::HostPort { port, protocol }) => (
            format!(
                "host port {port}/{protocol} is already taken on {}",
                match (scope.every, scope.all_nodes) {
                    (true, true) => format!("every node ({})", names(group)),
                    (true, false) => format!("every eligible node ({})", names(group)),
                    (false, _) => names(group),
                }
            ),
            format!(
                "a host-mode port lets each node run one task: use at most as many replicas \
                 as nodes (`docker service scale {svc}=N`), add nodes, or publish through \
                 the routing mesh (`docker service update --publish-rm {port} --publish-add \
                 published={port},target=… {svc}`)"
            ),
        ),
        (Filter::MaxReplicas, Rejection::MaxReplicas { max }) => (
            format!(
                "{} {max} task(s) of {svc}, the most allowed per node",
                scope.who(group, "already runs", "already run")
            ),
            format!(
                "raise the limit (`docker service update --replicas-max-per-node N {svc}`), \
                 lower the replicas (`docker service scale {svc}=N`) or add nodes"
            ),
        ),
        _ => (
            format!("{} rejected", names(group)),
            "see each node's reason".into(),
        ),
    }
}

fn ready_clause(group: &[&NodeVerdict], scope: Scope) -> (String, String) {
    let each: Vec<String> = group
        .iter()
        .map(|n| match &n.rejection {
            Some(Rejection::Ready {
                state,
                availability,
            }) if state == "ready" => format!("{} {availability}", n.node),
            Some(Rejection::Ready { state, .. }) => format!("{} {state}", n.node),
            _ => n.node.clone(),
        })
        .collect();
    let who = if scope.every {
        "no node is available for new tasks"
    } else {
        "not available for new tasks"
    };
    let summary = format!("{who} ({})", each.join(", "));
    let fix = "activate drained or paused nodes (`swarmdeck node activate NODE`, i.e. `docker \
               node update --availability active NODE`) and bring down nodes back";
    (summary, fix.into())
}

fn resources_clause(
    svc: &str,
    need: Resources,
    group: &[&NodeVerdict],
    scope: Scope,
) -> (String, String) {
    let free = |n: &NodeVerdict| match n.rejection {
        Some(Rejection::Resources { free, .. }) => free,
        _ => Resources::default(),
    };
    let short_memory = group
        .iter()
        .any(|n| need.memory_bytes > free(n).memory_bytes);
    let short_cpu = group.iter().any(|n| need.nano_cpus > free(n).nano_cpus);
    // "node1 1.5 GiB, node2 2 GiB": what each node has left of one resource.
    let each = |amount: &dyn Fn(Resources) -> String| {
        let each: Vec<String> = group
            .iter()
            .map(|n| format!("{} {}", n.node, amount(free(n))))
            .collect();
        each.join(", ")
    };
    type Amount<'a> = &'a dyn Fn(Resources) -> String;
    let kinds: [(bool, String, &str, Amount, &str); 2] = [
        (
            short_memory,
            format!("less than {}", bytes(need.memory_bytes)),
            "memory",
            &|r| bytes(r.memory_bytes),
            "--reserve-memory",
        ),
        (
            short_cpu,
            format!("fewer than {}", cpus(need.nano_cpus)),
            "CPUs",
            &|r| cpus(r.nano_cpus),
            "--reserve-cpu",
        ),
    ];
    let short = kinds.iter().filter(|k| k.0);
    let what: Vec<String> = short
        .clone()
        .map(|(_, limit, name, amount, _)| format!("{limit} unreserved {name} ({})", each(*amount)))
        .collect();
    let flags: Vec<&str> = short.map(|k| k.4).collect();
    let who = match (scope.every, scope.all_nodes, group.len()) {
        (true, true, _) => "every node has".to_string(),
        (true, false, _) => "every eligible node has".to_string(),
        (false, _, 1) => format!("{} has", group[0].node),
        (false, _, _) => format!("{} have", names(group)),
    };
    let fix = format!(
        "lower the reservation (`docker service update {} {svc}`) or add capacity",
        flags
            .iter()
            .map(|f| format!("{f} …"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    (format!("{who} {}", what.join(" and ")), fix)
}

fn constraint_clause(svc: &str, group: &[&NodeVerdict], scope: Scope) -> (String, String) {
    // Nodes grouped by the constraint they fail first.
    let mut by: BTreeMap<&str, Vec<&NodeVerdict>> = BTreeMap::new();
    for n in group {
        if let Some(Rejection::Constraint { constraint, .. }) = &n.rejection {
            by.entry(constraint.as_str()).or_default().push(n);
        }
    }
    let one_constraint = by.len() == 1;
    let mut summaries = Vec::new();
    let mut fixes = Vec::new();
    for (text, nodes) in by {
        let scope = Scope {
            every: scope.every && one_constraint,
            ..scope
        };
        let parsed = Constraint::parse(text).ok();
        let label = parsed.as_ref().and_then(|c| match (&c.key, c.op) {
            (super::constraint::Key::NodeLabel(k), super::constraint::Op::Eq) => {
                Some((k.clone(), c.value.clone()))
            }
            _ => None,
        });
        let drop = format!(
            "change the constraint (`docker service update --constraint-rm {} {svc}`)",
            quote(text)
        );
        match label {
            Some((k, v)) => {
                let who = if scope.every {
                    format!("no node has label {k}={v} ({})", names(&nodes))
                } else {
                    format!("{} lack label {k}={v}", names(&nodes))
                };
                summaries.push(who);
                fixes.push(format!(
                    "add it with `docker node update --label-add {} NODE`, or {drop}",
                    quote(&format!("{k}={v}"))
                ));
            }
            None => {
                let each: Vec<String> = nodes
                    .iter()
                    .map(|n| match &n.rejection {
                        Some(Rejection::Constraint { actual, .. }) if actual.is_empty() => {
                            format!("{}: no value", n.node)
                        }
                        Some(Rejection::Constraint { actual, .. }) => {
                            format!("{}: {actual}", n.node)
                        }
                        _ => n.node.clone(),
                    })
                    .collect();
                summaries.push(format!(
                    "{} `{text}` ({})",
                    scope.who(&nodes, "fails", "fail"),
                    each.join(", ")
                ));
                fixes.push(format!("{drop}, or change the nodes to meet it"));
            }
        }
    }
    (summaries.join("; "), fixes.join("; "))
}

/// "1.5 GiB", "512 MiB", "0 B".
pub fn bytes(b: i64) -> String {
    const UNITS: [(&str, f64); 4] = [
        ("TiB", 1_099_511_627_776.0),
        ("GiB", 1_073_741_824.0),
        ("MiB", 1_048_576.0),
        ("KiB", 1024.0),
    ];
    let v = b as f64;
    for (unit, size) in UNITS {
        if v.abs() >= size {
            let n = v / size;
            return if (n - n.round()).abs() < 0.05 {
                format!("{n:.0} {unit}")
            } else {
                format!("{n:.1} {unit}")
            };
        }
    }
    format!("{b} B")
}

/// "0.5", "2" (CPUs from billionths).
pub fn cpus(nano: i64) -> String {
    let v = nano as f64 / 1e9;
    if (v - v.round()).abs() < 0.005 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn shortfalls(need: &Resources, free: &Resources) -> Vec<String> {
    let mut out = Vec::new();
    if need.memory_bytes > free.memory_bytes {
        out.push(format!(
            "{} memory unreserved, {} needed",
            bytes(free.memory_bytes),
            bytes(need.memory_bytes)
        ));
    }
    if need.nano_cpus > free.nano_cpus {
        out.push(format!(
            "{} CPUs unreserved, {} needed",
            cpus(free.nano_cpus),
            cpus(need.nano_cpus)
        ));
    }
    out
}

#[cfg(test)]
#[path = "pending_tests.rs"]
pub(crate) mod tests;
