//! Rolling maintenance (`swarmdeck maintain`) on a real lab of five hosts: three managers
//! (node1 the leader) and two workers, a replicated and a global service. The command is a
//! real engine restart (`service docker restart`, the lab hosts' init script).

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::query_parameters::ListNodesOptions;
use common::lab::TestLab;
use common::{swarmdeck_cli, wait_for};
use futures_util::future::join_all;
use swarmdeck::cluster::Cluster;

const MANAGERS: [&str; 3] = ["node1", "node2", "node3"];
/// Workers first, then the managers by name, the leader (node1) last.
const ORDER: [&str; 5] = ["node4", "node5", "node2", "node3", "node1"];
const RESTART: &str = "service docker restart";

/// Runs `words` on the first manager whose docker CLI answers, if one does.
fn try_on_a_manager(lab: &TestLab, words: &[&str]) -> Option<String> {
    MANAGERS.iter().find_map(|m| {
        let out = lab.ssh(m, words);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    })
}

fn on_a_manager(lab: &TestLab, words: &[&str]) -> String {
    try_on_a_manager(lab, words).unwrap_or_else(|| panic!("no manager answered {words:?}"))
}

/// `docker node inspect --format` on a manager; None while none answers (an election).
fn try_inspect(lab: &TestLab, node: &str, format: &str) -> Option<String> {
    try_on_a_manager(
        lab,
        &["docker", "node", "inspect", node, "--format", format],
    )
}

fn dockerd_pids(lab: &TestLab) -> Vec<String> {
    ORDER
        .iter()
        .map(|h| lab.ssh_ok(h, &["cat", "/run/docker.pid"]))
        .collect()
}

fn inspect(lab: &TestLab, node: &str, format: &str) -> String {
    on_a_manager(
        lab,
        &["docker", "node", "inspect", node, "--format", format],
    )
}

fn availability(lab: &TestLab, node: &str) -> String {
    inspect(lab, node, "{{.Spec.Availability}}")
}

/// `web` runs 2/2 and `agent` one task on each of the five nodes.
fn services_converged(lab: &TestLab) -> bool {
    let words = [
        "docker",
        "service",
        "ls",
        "--format",
        "{{.Name}} {{.Replicas}}",
    ];
    let ls = try_on_a_manager(lab, &words).unwrap_or_default();
    ls.contains("web 2/2") && ls.contains("agent 5/5")
}

/// The global service runs on `node` (as `docker node ps` shows it).
fn agent_runs_on(lab: &TestLab, node: &str) -> bool {
    let words = [
        "docker",
        "node",
        "ps",
        node,
        "--filter",
        "desired-state=running",
        "--format",
        "{{.Name}} {{.CurrentState}}",
    ];
    let ps = try_on_a_manager(lab, &words).unwrap_or_default();
    ps.lines()
        .any(|l| l.starts_with("agent.") && l.contains("Running"))
}

fn maintain(lab: &TestLab, home: &Path, extra: &[&str], command: &str) -> (bool, String) {
    let audit = home.join("audit.jsonl");
    let mut args = vec![
        "maintain",
        "--audit-log",
        audit.to_str().unwrap(),
        "--step-timeout",
        "4m",
    ];
    args.extend_from_slice(extra);
    args.extend(["--", command]);
    let t = Instant::now();
    let (ok, out, err) = swarmdeck_cli(lab, home, &args);
    eprintln!(
        "$ swarmdeck {} ({:?})\n{out}{err}",
        args.join(" "),
        t.elapsed()
    );
    (ok, format!("{out}{err}"))
}

/// One poll of the managers: how many of their engines run, and whether one of them
/// could list the nodes (which needs a Raft leader).
struct Poll {
    at: Duration,
    engines_up: usize,
    listed: bool,
}

/// Each manager's engine asked at once over the Engine API (kept SSH sessions, so a poll
/// takes a fraction of a second): `GET /_ping` says whether its engine runs (a running
/// manager engine is a live Raft member; the roles do not change during the run, which
/// the end checks), then `GET /nodes` on one that does, which answers only while the
/// managers have a leader. (`GET /info` is no use here: on a manager it waits for the
/// leader too.)
async fn poll(cluster: &Cluster, start: Instant) -> Poll {
    let limit = Duration::from_secs(2);
    let ask = |m: &'static str| async move {
        let h = cluster.inventory().host(m).expect("a lab host");
        let d = tokio::time::timeout(limit, cluster.engine(h))
            .await
            .ok()?
            .ok()?;
        tokio::time::timeout(limit, d.ping()).await.ok()?.ok()?;
        Some(d)
    };
    let up: Vec<Docker> = join_all(MANAGERS.map(ask))
        .await
        .into_iter()
        .flatten()
        .collect();
    let mut listed = false;
    for d in &up {
        let nodes = tokio::time::timeout(limit, d.list_nodes(None::<ListNodesOptions>)).await;
        if matches!(nodes, Ok(Ok(_))) {
            listed = true;
            break;
        }
    }
    Poll {
        at: start.elapsed(),
        engines_up: up.len(),
        listed,
    }
}

/// Polls the managers about every 0.5 s until `stop`.
fn watch_quorum(lab: &TestLab, stop: &AtomicBool) -> Vec<Poll> {
    let kh = tempfile::tempdir().unwrap();
    let cluster = lab.cluster(&kh.path().join("known_hosts"));
    let rt = common::rt();
    let start = Instant::now();
    let mut polls = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        polls.push(rt.block_on(poll(&cluster, start)));
        std::thread::sleep(Duration::from_millis(500).saturating_sub(t.elapsed()));
    }
    polls
}

/// The index of the first line holding every one of `parts`.
fn line_of(text: &str, parts: &[&str]) -> usize {
    text.lines()
        .position(|l| parts.iter().all(|p| l.contains(p)))
        .unwrap_or_else(|| panic!("no line with {parts:?} in:\n{text}"))
}

fn set_up(lab: &TestLab) {
    lab.form_swarm(|_| {});
    lab.ssh_ok("node1", &["docker", "node", "promote", "node2", "node3"]);
    wait_for("three reachable managers", Duration::from_secs(90), || {
        ["node2", "node3"].iter().all(|m| {
            try_inspect(lab, m, "{{.ManagerStatus.Reachability}}").as_deref() == Some("reachable")
        })
    });
    assert_eq!(inspect(lab, "node1", "{{.ManagerStatus.Leader}}"), "true");
    lab.create_service("web", &["--replicas", "2"], &["sleep", "3600"]);
    lab.create_service("agent", &["--mode", "global"], &["sleep", "3600"]);
    wait_for("services converged", Duration::from_secs(120), || {
        services_converged(lab)
    });
}

/// A manager already down: the run refuses, with the figures, before anything changes.
fn refuses_when_a_manager_is_already_down(lab: &TestLab, home: &Path) {
    lab.ssh_ok("node3", &["service", "docker", "stop"]);
    wait_for("node3 unreachable", Duration::from_secs(60), || {
        try_inspect(lab, "node3", "{{.ManagerStatus.Reachability}}").as_deref()
            == Some("unreachable")
    });
    let (ok, text) = maintain(lab, home, &["--all", "--yes"], RESTART);
    assert!(!ok, "{text}");
    assert!(
        text.contains(
            "taking manager node2 down would leave 1 reachable of 3 managers, but 2 are needed"
        ) && text.contains("unreachable already: node3"),
        "{text}"
    );
    assert!(!home.join("audit.jsonl").exists(), "nothing was applied");
    for n in ["node1", "node2", "node4", "node5"] {
        assert_eq!(availability(lab, n), "active", "{n}");
    }
    lab.ssh_ok("node3", &["service", "docker", "start"]);
    wait_for("node3 back", Duration::from_secs(90), || {
        try_inspect(
            lab,
            "node3",
            "{{.Status.State}} {{.ManagerStatus.Reachability}}",
        )
        .as_deref()
            == Some("ready reachable")
            && services_converged(lab)
    });
}

/// A command that fails on the second node (node5) stops the run there: node4 was done
/// (restarted, active again), node5 is left drained with its engine not restarted, and
/// the managers were never touched.
fn stops_at_the_first_failure(lab: &TestLab, home: &Path) {
    let before = dockerd_pids(lab);
    let failing = "test \"$(hostname)\" != node5 && service docker restart";
    let (ok, text) = maintain(lab, home, &["--all", "--yes"], failing);
    assert!(!ok, "{text}");
    assert!(text.contains("stopped at node 2/5 node5"), "{text}");
    assert!(text.contains("node5 is left drained"), "{text}");
    assert!(text.contains("the command exited with status 1"), "{text}");
    assert!(
        text.contains("not reached, untouched: node2, node3, node1"),
        "{text}"
    );
    assert!(
        text.contains("now: node5 is ready, availability drain"),
        "{text}"
    );
    let after = dockerd_pids(lab);
    assert_ne!(before[0], after[0], "node4's engine was restarted");
    assert_eq!(before[1..], after[1..], "no other engine was restarted");
    assert_eq!(availability(lab, "node4"), "active");
    assert_eq!(availability(lab, "node5"), "drain");
    for m in MANAGERS {
        assert_eq!(availability(lab, m), "active", "{m}");
    }
    // The audit log holds steps on node4 and node5 only.
    let audit = std::fs::read_to_string(home.join("audit.jsonl")).unwrap();
    for line in audit.lines() {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        let step = entry["step"].as_str().unwrap();
        assert!(
            step.contains("node4") || step.contains("node5"),
            "a step for another node: {step}"
        );
    }
    // The fix the report gives.
    on_a_manager(
        lab,
        &[
            "docker",
            "node",
            "update",
            "--availability",
            "active",
            "node5",
        ],
    );
    wait_for("node5's tasks back", Duration::from_secs(90), || {
        agent_runs_on(lab, "node5") && services_converged(lab)
    });
    std::fs::remove_file(home.join("audit.jsonl")).unwrap();
}

/// Every node, one at a time: quorum held at every poll, each engine really restarted,
/// each node's tasks back before the next node is drained, the leader last.
fn every_node_restarted_one_at_a_time(lab: &TestLab, home: &Path) {
    let before = dockerd_pids(lab);
    let stop = AtomicBool::new(false);
    let (ok, text, polls) = std::thread::scope(|s| {
        let watcher = s.spawn(|| watch_quorum(lab, &stop));
        let (ok, text) = maintain(lab, home, &["--all", "--yes"], RESTART);
        stop.store(true, Ordering::Relaxed);
        (ok, text, watcher.join().unwrap())
    });
    assert!(ok, "{text}");
    assert!(text.contains("every node maintained"), "{text}");

    // Quorum: at every poll at least 2 of the 3 managers' engines ran (the majority), and
    // the watch did see one down (2 up) during the run. The node list may be unavailable
    // while the managers elect a leader after a manager's restart: briefly, never for long.
    let timeline: String = polls
        .iter()
        .map(|p| format!("{}{}", p.engines_up, if p.listed { "" } else { "!" }))
        .collect::<Vec<_>>()
        .join(" ");
    let span = polls.last().unwrap().at;
    eprintln!(
        "quorum watch: {} polls over {span:?} (managers' engines up; ! = no node list): \
         {timeline}",
        polls.len()
    );
    assert!(
        polls.len() as f64 >= span.as_secs_f64(),
        "too few polls: {} in {span:?}",
        polls.len()
    );
    for p in &polls {
        assert!(
            p.engines_up >= 2,
            "at {:?} only {} manager engine(s) up",
            p.at,
            p.engines_up
        );
    }
    let fewest = polls.iter().map(|p| p.engines_up).min().unwrap();
    assert_eq!(fewest, 2, "the watch never saw a manager restart");
    // One stretch with a manager down per manager, one after the other.
    let downs = polls
        .windows(2)
        .filter(|w| w[0].engines_up == 3 && w[1].engines_up == 2)
        .count();
    assert_eq!(downs, 3, "each manager's restart seen once: {timeline}");
    let mut gap_start: Option<Duration> = None;
    let mut longest = Duration::ZERO;
    for p in &polls {
        match (p.listed, gap_start) {
            (false, None) => gap_start = Some(p.at),
            (true, Some(s)) => {
                longest = longest.max(p.at - s);
                gap_start = None;
            }
            _ => {}
        }
    }
    eprintln!("longest time without a node list: {longest:?}");
    assert!(gap_start.is_none(), "no node list at the end of the run");
    assert!(
        longest < Duration::from_secs(20),
        "{longest:?} without a node list"
    );

    // Each engine really restarted.
    let after = dockerd_pids(lab);
    for (i, h) in ORDER.iter().enumerate() {
        assert_ne!(before[i], after[i], "{h}'s dockerd was not restarted");
    }
    // In order, the leader last; each node drained, restarted, back, restored and its
    // tasks back before the next node is drained.
    let mut last_back = 0;
    for (i, h) in ORDER.iter().enumerate() {
        let pos = format!("node {}/5 {h}:", i + 1);
        let drain = line_of(&text, &["done", &format!("set {h} availability to drain")]);
        let left = line_of(&text, &["done", &pos, "tasks have left"]);
        let run = line_of(&text, &["done", &pos, &format!("run `{RESTART}`")]);
        let ready = line_of(&text, &["done", &pos, "is ready"]);
        let active = line_of(&text, &["done", &format!("set {h} availability to active")]);
        let back = line_of(&text, &["done", &pos, "tasks are back"]);
        assert!(
            last_back < drain
                && drain < left
                && left < run
                && run < ready
                && ready < active
                && active < back,
            "{h} out of order:\n{text}"
        );
        last_back = back;
    }
    assert!(
        text.contains("engine versions before: ") && text.contains("engine versions after: "),
        "{text}"
    );
    let version = lab.ssh_ok(
        "node1",
        &["docker", "version", "--format", "{{.Server.Version}}"],
    );
    let all = format!("{version} on node1, node2, node3, node4, node5 (no skew)");
    assert_eq!(text.matches(&all).count(), 2, "{text}");

    // The swarm as it was: every node ready and active, managers reachable, services
    // converged, the global service on every node. (A new leader lists the other nodes
    // as `unknown` until their next heartbeat reaches it: a few seconds.)
    wait_for(
        "every node ready and active",
        Duration::from_secs(60),
        || {
            ORDER.iter().all(|h| {
                try_inspect(lab, h, "{{.Status.State}} {{.Spec.Availability}}").as_deref()
                    == Some("ready active")
            })
        },
    );
    for h in ORDER {
        assert!(agent_runs_on(lab, h), "agent not on {h}");
    }
    for m in MANAGERS {
        assert_eq!(
            inspect(lab, m, "{{.ManagerStatus.Reachability}}"),
            "reachable"
        );
    }
    assert!(services_converged(lab));
}

#[test]
fn rolling_maintenance_keeps_quorum_stops_at_a_failure_and_refuses_without_a_majority() {
    let Some(lab) = TestLab::start(5) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    set_up(&lab);
    refuses_when_a_manager_is_already_down(&lab, home.path());
    stops_at_the_first_failure(&lab, home.path());
    every_node_restarted_one_at_a_time(&lab, home.path());
    lab.down().unwrap();
}
