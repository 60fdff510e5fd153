//! Every filter of swarm's scheduler and their combinations, on hand-made snapshots.

use super::*;
use crate::snapshot::workloads::{PublishedPort, ServiceMode, ServiceResources, TaskState};
use crate::snapshot::{NodeScheduling, Plugin, Role};

const GIB: i64 = 1 << 30;

fn node(id: &str, zone: &str) -> NodeInfo {
    NodeInfo {
        id: id.into(),
        hostname: id.into(),
        role: Role::Worker,
        leader: false,
        reachability: None,
        availability: "active".into(),
        state: "ready".into(),
        address: "10.0.0.1".into(),
        engine_version: "24.0.7".into(),
        labels: [("zone".to_string(), zone.to_string())].into(),
        observed_down: None,
        scheduling: NodeScheduling {
            resources: Resources {
                nano_cpus: 2_000_000_000,
                memory_bytes: 4 * GIB,
            },
            engine_labels: Default::default(),
            platform: Platform {
                os: "linux".into(),
                arch: "x86_64".into(),
            },
            plugins: ["bridge", "overlay"]
                .iter()
                .map(|n| Plugin {
                    kind: "Network".into(),
                    name: n.to_string(),
                })
                .chain(std::iter::once(Plugin {
                    kind: "Volume".into(),
                    name: "local".into(),
                }))
                .collect(),
        },
    }
}

pub(crate) fn service() -> ServiceInfo {
    ServiceInfo {
        id: "svc".into(),
        name: "web".into(),
        mode: ServiceMode::Replicated,
        running: 0,
        desired: 1,
        image: "swarmdeck/probe:1".into(),
        ports: Vec::new(),
        networks: Vec::new(),
        labels: Default::default(),
        constraints: Vec::new(),
        preferences: Vec::new(),
        max_replicas_per_node: None,
        resources: ServiceResources::default(),
        platforms: Vec::new(),
        volume_drivers: Vec::new(),
        log_driver: None,
        update_status: None,
        stack: None,
        vips: Vec::new(),
        update_config: None,
        rollback_config: None,
    }
}

fn task(id: &str, service: &str, node: Option<&str>, state: TaskState) -> TaskInfo {
    TaskInfo {
        id: id.into(),
        service_id: service.into(),
        slot: Some(1),
        node_id: node.map(Into::into),
        desired_state: TaskState::Running,
        state,
        error: None,
        message: String::new(),
        timestamp: String::new(),
        container_id: None,
        addresses: Vec::new(),
        reservations: Resources::default(),
    }
}

/// Three ready, active nodes in zones a, b, c; `web` with one pending task.
fn snap(svc: ServiceInfo) -> ClusterSnapshot {
    let mut s = ClusterSnapshot::empty("test");
    s.nodes = vec![node("node1", "a"), node("node2", "b"), node("node3", "c")];
    let mut pending = task("pend", &svc.id, None, TaskState::Pending);
    pending.error = Some("no suitable node (1 node not available for new tasks)".into());
    s.tasks.push(pending);
    s.services.push(svc);
    s
}

fn why(s: &ClusterSnapshot) -> PendingReason {
    let t = s.tasks.iter().find(|t| t.id == "pend").unwrap();
    explain(s, t).expect("a pending task is explained")
}

fn filters(r: &PendingReason) -> Vec<Option<Filter>> {
    r.nodes
        .iter()
        .map(|n| n.rejection.as_ref().map(Rejection::filter))
        .collect()
}

#[test]
fn only_unplaced_tasks_are_explained() {
    let mut s = snap(service());
    s.tasks[0].node_id = Some("node1".into());
    assert!(explain(&s, &s.tasks[0]).is_none());
    let running = task("r", "svc", Some("node1"), TaskState::Running);
    assert!(explain(&s, &running).is_none());
}

#[test]
fn drained_paused_and_down_nodes_are_not_ready() {
    let mut s = snap(service());
    s.nodes[0].availability = "drain".into();
    s.nodes[1].availability = "pause".into();
    s.nodes[2].state = "down".into();
    let r = why(&s);
    assert_eq!(filters(&r), vec![Some(Filter::Ready); 3]);
    assert_eq!(
        r.summary,
        "no node is available for new tasks (node1 drain, node2 pause, node3 down)"
    );
    assert!(r.fix.contains("swarmdeck node activate NODE"), "{}", r.fix);
    assert_eq!(
        r.engine_says.as_deref(),
        Some("no suitable node (1 node not available for new tasks)")
    );
}

#[test]
fn constraint_no_node_meets_names_the_label_and_the_nodes() {
    let mut svc = service();
    svc.constraints = vec!["node.labels.zone==d".into()];
    let r = why(&snap(svc));
    assert_eq!(filters(&r), vec![Some(Filter::Constraint); 3]);
    assert_eq!(
        r.summary,
        "no node has label zone=d (node1, node2 and node3)"
    );
    assert!(
        r.fix
            .starts_with("add it with `docker node update --label-add zone=d NODE`"),
        "{}",
        r.fix
    );
    assert!(
        r.fix.contains("--constraint-rm node.labels.zone==d web"),
        "{}",
        r.fix
    );
    assert_eq!(
        r.nodes[0].rejection.as_ref().unwrap().describe(),
        "fails `node.labels.zone==d` (has a)"
    );
}

#[test]
fn other_constraints_name_each_nodes_value() {
    let mut svc = service();
    svc.constraints = vec![
        "node.role==manager".into(),
        "engine.labels.disk==ssd".into(),
    ];
    let mut s = snap(svc);
    s.nodes[0].role = Role::Manager;
    let r = why(&s);
    assert_eq!(filters(&r), vec![Some(Filter::Constraint); 3]);
    // node1 passes the role and fails the engine label; the others fail the role first.
    assert!(
        r.summary
            .contains("node1 fails `engine.labels.disk==ssd` (node1: no value)"),
        "{}",
        r.summary
    );
    assert!(
        r.summary
            .contains("node2 and node3 fail `node.role==manager` (node2: worker, node3: worker)"),
        "{}",
        r.summary
    );
}

#[test]
fn an_unparsable_constraint_disables_the_filter_as_in_swarm() {
    let mut svc = service();
    svc.constraints = vec!["node.labels.zone=d".into()];
    let r = why(&snap(svc));
    assert_eq!(filters(&r), vec![None; 3]);
    assert!(
        r.summary.starts_with("node1, node2 and node3 can take it"),
        "{}",
        r.summary
    );
}

#[test]
fn reservations_count_what_tasks_on_the_node_already_reserve() {
    let mut svc = service();
    svc.resources.reservations.memory_bytes = 2 * GIB;
    let mut s = snap(svc);
    // node1 has 4 GiB, 2.5 GiB of it reserved by a running task of another service; node2
    // has 1.5 GiB reserved by an assigned one; node3 keeps 4 GiB but a shut-down task
    // reserves nothing.
    let mut other = |id: &str, node: &str, state: TaskState, gib: f64| {
        let mut t = task(id, "other", Some(node), state);
        t.reservations.memory_bytes = (gib * GIB as f64) as i64;
        s.tasks.push(t);
    };
    other("o1", "node1", TaskState::Running, 2.5);
    other("o2", "node2", TaskState::Assigned, 3.0);
    other("o3", "node3", TaskState::Shutdown, 4.0);
    let r = why(&s);
    assert_eq!(
        filters(&r),
        vec![Some(Filter::Resources), Some(Filter::Resources), None]
    );
    assert_eq!(
        r.nodes[0].rejection.as_ref().unwrap().describe(),
        "1.5 GiB memory unreserved, 2 GiB needed"
    );
    assert!(r.summary.starts_with("node3 can take it"), "{}", r.summary);
}

#[test]
fn memory_larger_than_any_node_says_every_node_and_the_amounts() {
    let mut svc = service();
    svc.resources.reservations.memory_bytes = 64 * GIB;
    let mut s = snap(svc);
    let mut t = task("o1", "other", Some("node1"), TaskState::Running);
    t.reservations.memory_bytes = GIB / 2;
    s.tasks.push(t);
    let r = why(&s);
    assert_eq!(filters(&r), vec![Some(Filter::Resources); 3]);
    assert_eq!(
        r.summary,
        "every node has less than 64 GiB unreserved memory (node1 3.5 GiB, node2 4 GiB, \
         node3 4 GiB)"
    );
    assert_eq!(
        r.fix,
        "lower the reservation (`docker service update --reserve-memory … web`) or add capacity"
    );
}

#[test]
fn cpu_reservations_are_checked_too() {
    let mut svc = service();
    svc.resources.reservations.nano_cpus = 3_000_000_000;
    let r = why(&snap(svc));
    assert!(
        r.summary
            .starts_with("every node has fewer than 3 unreserved CPUs (node1 2,"),
        "{}",
        r.summary
    );
    assert!(r.fix.contains("--reserve-cpu"), "{}", r.fix);
}

#[test]
fn the_tasks_own_reservation_wins_over_the_services() {
    let mut svc = service();
    svc.resources.reservations.memory_bytes = GIB;
    let mut s = snap(svc);
    s.tasks[0].reservations.memory_bytes = 8 * GIB;
    assert_eq!(filters(&why(&s)), vec![Some(Filter::Resources); 3]);
}

#[test]
fn missing_network_and_volume_plugins() {
    let mut svc = service();
    svc.volume_drivers = vec!["rexray".into()];
    let mut s = snap(svc);
    s.nodes[2].scheduling.plugins.push(Plugin {
        kind: "Volume".into(),
        name: "rexray:latest".into(),
    });
    let r = why(&s);
    assert_eq!(
        filters(&r),
        vec![Some(Filter::Plugin), Some(Filter::Plugin), None]
    );

    let mut svc = service();
    svc.networks = vec!["n1".into()];
    let mut s = snap(svc);
    s.networks.push(crate::snapshot::NetworkInfo {
        id: "n1".into(),
        name: "weave".into(),
        driver: "weaveworks/net-plugin".into(),
        scope: "swarm".into(),
        attachable: false,
        encrypted: false,
        ingress: false,
        subnets: Vec::new(),
        containers: Vec::new(),
    });
    let r = why(&s);
    assert_eq!(
        r.summary,
        "every node (node1, node2 and node3) lacks the Network plugin weaveworks/net-plugin"
    );
    // A node described without plugins (an older snapshot) is not judged.
    s.nodes[0].scheduling.plugins.clear();
    assert_eq!(why(&s).nodes[0].rejection, None);
}

#[test]
fn log_drivers_count_only_where_the_engine_lists_log_plugins() {
    let mut svc = service();
    svc.log_driver = Some("gelf".into());
    let mut s = snap(svc);
    s.nodes[0].scheduling.plugins.push(Plugin {
        kind: "Log".into(),
        name: "json-file".into(),
    });
    assert_eq!(filters(&why(&s)), vec![Some(Filter::Plugin), None, None]);
}

#[test]
fn platforms_compare_with_swarms_aliases() {
    let mut svc = service();
    svc.platforms = vec![Platform {
        os: "linux".into(),
        arch: "amd64".into(),
    }];
    let mut s = snap(svc);
    s.nodes[1].scheduling.platform.arch = "aarch64".into();
    s.nodes[2].scheduling.platform.os = "windows".into();
    let r = why(&s);
    assert_eq!(
        filters(&r),
        vec![None, Some(Filter::Platform), Some(Filter::Platform)]
    );
}

#[test]
fn host_ports_taken_on_every_node() {
    let mut svc = service();
    svc.ports = vec![PublishedPort {
        published: 8080,
        target: 80,
        protocol: "tcp".into(),
        mode: PublishMode::Host,
    }];
    let mut s = snap(svc);
    for n in ["node1", "node2", "node3"] {
        s.tasks
            .push(task(&format!("t-{n}"), "svc", Some(n), TaskState::Running));
    }
    let r = why(&s);
    assert_eq!(filters(&r), vec![Some(Filter::HostPort); 3]);
    assert_eq!(
        r.summary,
        "host port 8080/tcp is already taken on every node (node1, node2 and node3)"
    );
    assert!(r.fix.contains("docker service scale web=N"), "{}", r.fix);
    // Ingress ports are not bound on the node: no conflict.
    s.services[0].ports[0].mode = PublishMode::Ingress;
    assert_eq!(filters(&why(&s)), vec![None; 3]);
}

#[test]
fn max_replicas_per_node_counts_active_tasks_of_the_service() {
    let mut svc = service();
    svc.max_replicas_per_node = Some(1);
    let mut s = snap(svc);
    s.tasks
        .push(task("a", "svc", Some("node1"), TaskState::Running));
    s.tasks
        .push(task("b", "svc", Some("node2"), TaskState::Starting));
    // Being shut down: not active, so it does not count.
    let mut leaving = task("c", "svc", Some("node3"), TaskState::Running);
    leaving.desired_state = TaskState::Shutdown;
    s.tasks.push(leaving);
    // Another service's task does not count either.
    s.tasks
        .push(task("d", "other", Some("node3"), TaskState::Running));
    let r = why(&s);
    assert_eq!(
        filters(&r),
        vec![Some(Filter::MaxReplicas), Some(Filter::MaxReplicas), None]
    );
    s.tasks[3].desired_state = TaskState::Running;
    let r = why(&s);
    assert_eq!(
        r.summary,
        "every node (node1, node2 and node3) already runs 1 task(s) of web, the most allowed \
         per node"
    );
    assert!(r.fix.contains("--replicas-max-per-node N web"), "{}", r.fix);
}

#[test]
fn filters_run_in_swarms_order_and_each_node_gets_the_first() {
    let mut svc = service();
    svc.constraints = vec!["node.labels.zone!=c".into()];
    svc.resources.reservations.memory_bytes = 3 * GIB;
    svc.max_replicas_per_node = Some(1);
    let mut s = snap(svc);
    // node1: drained AND a zone it may use: not ready comes first.
    s.nodes[0].availability = "drain".into();
    // node2: too little memory left; node3: in zone c AND short of memory: resources first.
    for (id, node) in [("o", "node2"), ("o3", "node3")] {
        let mut big = task(id, "other", Some(node), TaskState::Running);
        big.reservations.memory_bytes = 2 * GIB;
        s.tasks.push(big);
    }
    let r = why(&s);
    use Filter::{Constraint, Ready, Resources as Res};
    assert_eq!(filters(&r), [Some(Ready), Some(Res), Some(Res)]);
    assert_eq!(
        r.summary,
        "not available for new tasks (node1 drain); every eligible node has less than 3 GiB \
         unreserved memory (node2 2 GiB, node3 2 GiB)"
    );
    assert!(r.fix.contains("swarmdeck node activate") && r.fix.contains("--reserve-memory"));

    // Free node3's memory: it now fails the constraint; node2 still lacks memory.
    s.tasks.retain(|t| t.id != "o3");
    let r = why(&s);
    assert_eq!(filters(&r), [Some(Ready), Some(Res), Some(Constraint)]);
    assert!(
        r.summary
            .ends_with("node3 fails `node.labels.zone!=c` (node3: c)"),
        "{}",
        r.summary
    );
}

#[test]
fn a_swarm_without_nodes_says_so() {
    let mut s = snap(service());
    s.nodes.clear();
    assert_eq!(why(&s).summary, "the swarm lists no nodes");
}

#[test]
fn amounts_read_like_people_write_them() {
    assert_eq!(bytes(1536 * 1024 * 1024), "1.5 GiB");
    assert_eq!(bytes(512 * 1024 * 1024), "512 MiB");
    assert_eq!(bytes(2 * GIB), "2 GiB");
    assert_eq!(bytes(100), "100 B");
    assert_eq!(cpus(500_000_000), "0.50");
    assert_eq!(cpus(2_000_000_000), "2");
}
