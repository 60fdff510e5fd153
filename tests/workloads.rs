//! Services and tasks through the real CLI against a real 3-host lab swarm: the services as
//! the docker CLI lists them, and pending tasks explained node by node with the fix. The
//! services run the lab's preloaded `swarmdeck/probe:1` image (no registry needed).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::lab::TestLab;

fn swarmdeck(lab: &TestLab, home: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    common::swarmdeck_cli(lab, home, args)
}

fn json(lab: &TestLab, home: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let (ok, out, err) = swarmdeck(lab, home, args);
    assert!(ok, "swarmdeck {args:?} failed:\n{out}{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}):\n{out}"))
}

/// `docker service create --detach` of the probe image running `sleep`, with `opts`.
fn create(lab: &TestLab, name: &str, opts: &[&str]) {
    create_running(lab, name, opts, &["sleep", "3600"]);
}

/// `docker service create --detach` of the probe image running `command`, with `opts`.
fn create_running(lab: &TestLab, name: &str, opts: &[&str], command: &[&str]) {
    lab.create_service(name, opts, command);
}

/// Counts of a service's tasks meant to run, by current state, from `swarmdeck ps --json`.
fn states(tasks: &serde_json::Value) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for t in tasks.as_array().unwrap() {
        if t["desired_state"] == "running" {
            *out.entry(t["state"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    out
}

/// The first pending task's reason of `service`, once `running` tasks run and `pending`
/// wait (polled: the scheduler takes a moment).
fn pending_reason(
    lab: &TestLab,
    home: &std::path::Path,
    service: &str,
    running: usize,
    pending: usize,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let tasks = json(lab, home, &["ps", service, "--json"]);
        let seen = states(&tasks);
        let want: BTreeMap<String, usize> = [("running", running), ("pending", pending)]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| (s.to_string(), n))
            .collect();
        if seen == want {
            let first = tasks
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["state"] == "pending")
                .expect("a pending task");
            return first["pending"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "{service}: tasks {seen:?}, want {want:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The reason of `service`'s one pending task (once `running` others run): every node is
/// rejected by `filter`, and the engine's own words are kept beside it.
fn explained(
    lab: &TestLab,
    home: &std::path::Path,
    service: &str,
    running: usize,
    filter: &str,
) -> serde_json::Value {
    let reason = pending_reason(lab, home, service, running, 1);
    eprintln!("{service}: {reason:#}");
    let every_node: BTreeMap<String, String> = ["node1", "node2", "node3"]
        .iter()
        .map(|n| (n.to_string(), filter.to_string()))
        .collect();
    assert_eq!(rejections(&reason), every_node, "{service}");
    let engine = reason["engine_says"].as_str().unwrap_or_default();
    assert!(engine.starts_with("no suitable node ("), "{reason}");
    reason
}

fn assert_fix(reason: &serde_json::Value, want: &str) {
    let fix = reason["fix"].as_str().unwrap();
    assert!(fix.contains(want), "{want} in {fix}");
}

/// Each node's rejecting filter, by node name.
fn rejections(reason: &serde_json::Value) -> BTreeMap<String, String> {
    reason["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["node"].as_str().unwrap().to_string(),
                n["rejection"]["filter"]
                    .as_str()
                    .unwrap_or("none")
                    .to_string(),
            )
        })
        .collect()
}

/// A lab of three hosts in one swarm (node1 its manager), and a private HOME.
fn swarm_of_three() -> Option<(TestLab, tempfile::TempDir)> {
    let lab = TestLab::start(3)?;
    lab.form_swarm(|_| {});
    Some((lab, tempfile::tempdir().unwrap()))
}

#[test]
fn services_match_docker_and_pending_tasks_name_the_nodes_and_the_fix() {
    let Some((lab, home)) = swarm_of_three() else {
        return;
    };
    let home = home.path();
    let memory: i64 = lab
        .ssh_ok(
            "node1",
            &[
                "docker",
                "node",
                "inspect",
                "-f",
                "{{.Description.Resources.MemoryBytes}}",
                "self",
            ],
        )
        .parse()
        .unwrap();
    let too_much = (memory * 2).to_string();

    lab.create_overlay("appnet", &["--subnet", "10.77.0.0/24"]);
    create(
        &lab,
        "web",
        &[
            "--replicas",
            "2",
            "--network",
            "appnet",
            "--publish",
            "8081:80",
            "--label",
            "com.docker.stack.namespace=shop",
        ],
    );
    create(&lab, "agent", &["--mode", "global"]);
    create(&lab, "zoned", &["--constraint", "node.labels.zone==d"]);
    create(&lab, "big", &["--reserve-memory", &too_much]);
    create(
        &lab,
        "hostport",
        &[
            "--replicas",
            "4",
            "--publish",
            "mode=host,published=8080,target=80",
        ],
    );
    create(
        &lab,
        "capped",
        &["--replicas", "4", "--replicas-max-per-node", "1"],
    );

    // Pending explained: a constraint no node meets.
    let zoned = explained(&lab, home, "zoned", 0, "constraint");
    assert_eq!(
        zoned["summary"],
        "no node has label zone=d (node1, node2 and node3)"
    );
    assert_fix(
        &zoned,
        "add it with `docker node update --label-add zone=d NODE`",
    );

    // A memory reservation larger than any node has.
    let big = explained(&lab, home, "big", 0, "resources");
    let summary = big["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("every node has less than ")
            && summary.contains("unreserved memory (node1 ")
            && summary.contains("node3 "),
        "{summary}"
    );
    assert_fix(&big, "--reserve-memory … big");

    // A host-mode port taken on every node by the service's own tasks.
    let hostport = explained(&lab, home, "hostport", 3, "host_port");
    assert_eq!(
        hostport["summary"],
        "host port 8080/tcp is already taken on every node (node1, node2 and node3)"
    );
    assert_fix(&hostport, "docker service scale hostport=N");

    // Max replicas per node reached on every node.
    let capped = explained(&lab, home, "capped", 3, "max_replicas");
    assert_eq!(
        capped["summary"],
        "every node (node1, node2 and node3) already runs 1 task(s) of capped, the most \
         allowed per node"
    );
    assert_fix(&capped, "--replicas-max-per-node N capped");

    // The text table says the same, with the engine's words beside it.
    let (ok, text, err) = swarmdeck(&lab, home, &["ps", "capped"]);
    assert!(ok, "{text}{err}");
    eprintln!("$ swarmdeck ps capped\n{text}");
    assert!(
        text.contains("pending: every node (node1, node2 and node3)"),
        "{text}"
    );
    assert!(text.contains("  node2: already runs 1 task(s)"), "{text}");
    assert!(
        text.contains("  the engine says: no suitable node"),
        "{text}"
    );

    // Once every task that can run runs, the services are those `docker service ls` lists.
    let deadline = Instant::now() + Duration::from_secs(60);
    let docker_ls = loop {
        let ls = lab.ssh_ok(
            "node1",
            &[
                "docker",
                "service",
                "ls",
                "--format",
                "{{.Name}}|{{.Mode}}|{{.Replicas}}|{{.Image}}|{{.Ports}}",
            ],
        );
        let settled = ["web|replicated|2/2", "agent|global|3/3"]
            .iter()
            .all(|want| ls.lines().any(|l| l.starts_with(want)));
        if settled || Instant::now() > deadline {
            break ls;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let services = json(&lab, home, &["services", "--json"]);
    let ours: Vec<String> = services
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let ingress: Vec<String> = s["ports"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["mode"] == "ingress")
                .map(|p| {
                    format!(
                        "*:{}->{}/{}",
                        p["published"],
                        p["target"],
                        p["protocol"].as_str().unwrap()
                    )
                })
                .collect();
            let max = s["max_replicas_per_node"]
                .as_u64()
                .map(|m| format!(" (max {m} per node)"))
                .unwrap_or_default();
            format!(
                "{}|{}|{}/{}{max}|{}|{}",
                s["name"].as_str().unwrap(),
                s["mode"].as_str().unwrap(),
                s["running"],
                s["desired"],
                s["image"].as_str().unwrap(),
                ingress.join(",")
            )
        })
        .collect();
    let mut theirs: Vec<&str> = docker_ls.lines().collect();
    theirs.sort();
    assert_eq!(ours, theirs, "swarmdeck services vs docker service ls");
    let web = &services[services
        .as_array()
        .unwrap()
        .iter()
        .position(|s| s["name"] == "web")
        .unwrap()];
    assert_eq!(web["stack"], "shop");

    // web's running tasks have their addresses on appnet, as their hosts report them.
    let tasks = json(&lab, home, &["ps", "web", "--json"]);
    let running: Vec<&serde_json::Value> = tasks
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["state"] == "running")
        .collect();
    assert_eq!(running.len(), 2, "{tasks:#}");
    for t in running {
        let addresses = t["addresses"].as_array().unwrap();
        assert_eq!(addresses.len(), 1, "{t:#}");
        assert!(
            addresses[0].as_str().unwrap().starts_with("10.77.0."),
            "{t:#}"
        );
        assert!(t["node"].as_str().unwrap().starts_with("node"), "{t:#}");
    }

    let (ok, text, err) = swarmdeck(&lab, home, &["services"]);
    assert!(ok, "{text}{err}");
    eprintln!("$ swarmdeck services\n{text}");
    let web_line = text
        .lines()
        .find(|l| l.starts_with("web "))
        .expect("web listed");
    for want in [
        "replicated",
        "2/2",
        "swarmdeck/probe:1",
        "*:8081->80/tcp",
        "shop",
    ] {
        assert!(web_line.contains(want), "{want} in {web_line}");
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("hostport ") && l.contains("8080->80/tcp (host)")),
        "{text}"
    );
}

/// A global service of the probe image running `script` in `sh -c`, each task's container
/// named after its node (so every line says which node wrote it).
fn create_global_sh(lab: &TestLab, name: &str, script: &str) {
    let opts = ["--mode", "global", "--hostname", "{{.Node.Hostname}}"];
    create_running(lab, name, &opts, &["sh", "-c", script]);
}

/// `swarmdeck logs … --json`: the lines, and what the command said on stderr.
fn log_lines(
    lab: &TestLab,
    home: &std::path::Path,
    args: &[&str],
) -> (bool, Vec<serde_json::Value>, String) {
    let mut words = vec!["logs"];
    words.extend_from_slice(args);
    words.push("--json");
    let (ok, out, err) = swarmdeck(lab, home, &words);
    let lines = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (ok, lines, err)
}

/// Lines per node, and whether the times never go back.
fn per_node(lines: &[serde_json::Value]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for l in lines {
        let node = l["node"].as_str().unwrap().to_string();
        let text = l["line"].as_str().unwrap();
        assert!(
            text.starts_with(&format!("{node} ")),
            "the line was written on the node it is said to come from: {l}"
        );
        *out.entry(node).or_default() += 1;
    }
    out
}

fn assert_time_order(lines: &[serde_json::Value]) {
    let times: Vec<&str> = lines.iter().map(|l| l["time"].as_str().unwrap()).collect();
    // The engines write fixed-width UTC times: text order is time order.
    for pair in times.windows(2) {
        assert!(
            pair[0] <= pair[1],
            "out of time order: {pair:?}\n{times:#?}"
        );
    }
}

/// `(time, text)` of each line of `docker service logs --timestamps` on node1.
fn docker_service_logs(lab: &TestLab, service: &str, tail: &str) -> BTreeMap<String, String> {
    let out = lab.ssh_ok(
        "node1",
        &[
            "docker",
            "service",
            "logs",
            "--timestamps",
            "--tail",
            tail,
            service,
        ],
    );
    out.lines()
        .map(|l| {
            let (time, rest) = l.split_once(' ').unwrap();
            let (_, text) = rest.split_once("| ").unwrap();
            (time.to_string(), text.to_string())
        })
        .collect()
}

#[test]
fn logs_come_from_each_node_in_time_order_and_survive_a_lost_node() {
    let Some((lab, home)) = swarm_of_three() else {
        return;
    };
    let home = home.path();
    let all: BTreeMap<String, usize> = ["node1", "node2", "node3"]
        .iter()
        .map(|n| (n.to_string(), 5))
        .collect();

    // Three managers: losing one leaves a majority that still lists the tasks.
    lab.ssh_ok("node1", &["docker", "node", "promote", "node2", "node3"]);

    // A service that wrote 12 lines and stopped writing: a fixed set to compare with
    // `docker service logs`, which reads them through the manager.
    create_global_sh(
        &lab,
        "burst",
        "s=x; for k in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do s=$s$s; done; \
         echo \"$(hostname) long $s\"; \
         i=0; while [ $i -lt 12 ]; do echo \"$(hostname) $i\"; i=$((i+1)); done; sleep 3600",
    );
    // And one that keeps writing, to follow and to lose a node under.
    create_global_sh(
        &lab,
        "ticker",
        "i=0; while true; do echo \"$(hostname) $i\"; i=$((i+1)); sleep 0.2; done",
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let burst = loop {
        let (ok, lines, err) = log_lines(&lab, home, &["burst", "--tail", "5"]);
        // Every task has written its last line ("… 11"): the set no longer changes.
        let finished = ["node1", "node2", "node3"].iter().all(|n| {
            lines
                .iter()
                .any(|l| l["line"].as_str() == Some(&format!("{n} 11")))
        });
        if ok && per_node(&lines) == all && finished {
            break lines;
        }
        assert!(
            Instant::now() < deadline,
            "burst never logged 5 lines on each node: {err}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_time_order(&burst);
    let ours: BTreeMap<String, String> = burst
        .iter()
        .map(|l| {
            (
                l["time"].as_str().unwrap().to_string(),
                l["line"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        ours,
        docker_service_logs(&lab, "burst", "5"),
        "the same lines, at the same times, as the manager's service logs"
    );
    let texts: Vec<&str> = burst.iter().map(|l| l["line"].as_str().unwrap()).collect();
    for n in ["node1", "node2", "node3"] {
        for i in 7..12 {
            assert!(
                texts.contains(&format!("{n} {i}").as_str()),
                "{n} {i} in {texts:?}"
            );
        }
    }

    // A 32 KiB line, which the engine sends in 16 KiB parts, is one line.
    let (ok, whole, err) = log_lines(&lab, home, &["burst"]);
    assert!(ok, "{err}");
    let long: Vec<usize> = whole
        .iter()
        .filter_map(|l| l["line"].as_str().unwrap().split_once(" long "))
        .map(|(_, xs)| xs.len())
        .collect();
    assert_eq!(long, [32768; 3], "one whole long line per node");
    assert_eq!(whole.len(), 3 * 13, "the long line and 12 more per node");

    // One task by its ID: that task's lines only.
    let task_id = burst[0]["task_id"].as_str().unwrap();
    let (ok, one, err) = log_lines(&lab, home, &[task_id, "--tail", "5"]);
    assert!(ok, "{err}");
    assert_eq!(one.len(), 5);
    assert!(
        one.iter()
            .all(|l| l["task_id"] == task_id && l["node"] == burst[0]["node"])
    );

    // The text form: TIME NODE TASK | line.
    let (ok, text, err) = swarmdeck(&lab, home, &["logs", "ticker", "--tail", "2"]);
    assert!(ok, "{text}{err}");
    eprintln!("$ swarmdeck logs ticker --tail 2\n{text}");
    assert_eq!(text.lines().count(), 6, "{text}");
    for l in text.lines() {
        let words: Vec<&str> = l.split(' ').collect();
        assert!(
            words[1].starts_with("node") && words[2].starts_with("ticker."),
            "{l}"
        );
        assert_eq!(words[3], "|", "{l}");
        assert_eq!(words[4], words[1], "{l}");
    }

    // Followed: new lines from every node until Ctrl-C, which ends it cleanly.
    let (ok, before, _) = log_lines(&lab, home, &["ticker", "--tail", "1"]);
    assert!(ok);
    let last_seen = |lines: &[serde_json::Value], node: &str| -> i64 {
        lines
            .iter()
            .filter(|l| l["node"] == node)
            .map(|l| {
                l["line"]
                    .as_str()
                    .unwrap()
                    .split(' ')
                    .nth(1)
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .max()
            .unwrap_or(-1)
    };
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_swarmdeck"))
        .arg("--inventory")
        .arg(&lab.inventory)
        .args(["logs", "ticker", "-f", "--tail", "0", "--json"])
        .env("HOME", home)
        .env_remove("SWARMDECK_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let stopped = Instant::now();
    let out = child.wait_with_output().unwrap();
    let followed: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    eprintln!(
        "followed for 3 s: {} lines, ended {:?} after Ctrl-C",
        followed.len(),
        stopped.elapsed()
    );
    assert!(
        out.status.success(),
        "Ctrl-C ends follow mode cleanly: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stopped.elapsed() < Duration::from_secs(5));
    assert_time_order(&followed);
    for n in ["node1", "node2", "node3"] {
        assert!(
            last_seen(&followed, n) > last_seen(&before, n),
            "{n}: new lines while following: {followed:#?}"
        );
    }

    // node3's sshd killed: the other two nodes' lines still come, and node3 is named with
    // its layer.
    let injected = lab
        .inject(swarmdeck::lab::fault::Fault::SshdKilled, 2)
        .unwrap();
    let (ok, lines, err) = log_lines(&lab, home, &["ticker", "--tail", "3"]);
    eprintln!("with node3's sshd killed:\n{err}");
    assert!(!ok, "missing lines make the command fail after printing");
    let two: BTreeMap<String, usize> = [("node1".to_string(), 3), ("node2".to_string(), 3)].into();
    assert_eq!(per_node(&lines), two);
    assert_time_order(&lines);
    assert!(
        err.contains("node3: SSH not answering; its tasks' logs are missing"),
        "{err}"
    );
    lab.heal(injected).unwrap();
    // Healed (sshd restarted in the background): all three nodes' lines again.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (ok, lines, err) = log_lines(&lab, home, &["ticker", "--tail", "1"]);
        if ok && per_node(&lines).len() == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "node3 never came back: {err}");
        std::thread::sleep(Duration::from_millis(500));
    }

    // node2's engine hung, a manager's: the same, at the engine layer.
    let injected = lab
        .inject(swarmdeck::lab::fault::Fault::EngineHung, 1)
        .unwrap();
    let (ok, lines, err) = log_lines(&lab, home, &["ticker", "--tail", "3"]);
    eprintln!("with node2's engine hung:\n{err}");
    lab.heal(injected).unwrap();
    assert!(!ok);
    let two: BTreeMap<String, usize> = [("node1".to_string(), 3), ("node3".to_string(), 3)].into();
    assert_eq!(per_node(&lines), two);
    assert!(
        err.contains("node2: Docker engine not answering; its tasks' logs are missing"),
        "{err}"
    );
}

/// Tasks of `service` meant to run and running, as (task ID, node hostname), in a snapshot.
fn running_tasks(
    snap: &swarmdeck::snapshot::ClusterSnapshot,
    service: &str,
) -> std::collections::BTreeSet<(String, String)> {
    use swarmdeck::snapshot::TaskState;
    let Some(svc) = snap.service(service) else {
        return Default::default();
    };
    snap.tasks
        .iter()
        .filter(|t| t.service_id == svc.id)
        .filter(|t| t.desired_state == TaskState::Running && t.state == TaskState::Running)
        .map(|t| {
            let node = t.node_id.as_deref().unwrap_or_default();
            let host = snap.nodes.iter().find(|n| n.id == node);
            (
                t.id.clone(),
                host.map_or(node.to_string(), |n| n.hostname.clone()),
            )
        })
        .collect()
}

/// The same pairs as `docker service ps` on the manager lists them.
fn docker_running_tasks(
    lab: &TestLab,
    service: &str,
) -> std::collections::BTreeSet<(String, String)> {
    let out = lab.ssh_ok(
        "node1",
        &[
            "docker",
            "service",
            "ps",
            "--no-trunc",
            "--filter",
            "desired-state=running",
            "--format",
            "{{.ID}} {{.Node}} {{.CurrentState}}",
            service,
        ],
    );
    out.lines()
        .filter(|l| l.contains(" Running "))
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.to_string(), w.next()?.to_string()))
        })
        .collect()
}

#[test]
fn a_service_scaled_by_the_docker_cli_is_read_again_alone_in_the_live_view() {
    let Some((lab, _home)) = swarm_of_three() else {
        return;
    };
    let limit = Duration::from_secs(60);
    swarmdeck::logging::init();
    let mut view = swarmdeck::live_view::LiveView::open(&lab.inventory).expect("service starts");
    view.until(Instant::now(), limit, |s| s.nodes.len() == 3)
        .expect("the swarm is shown");
    create(&lab, "live", &["--replicas", "1"]);
    if view
        .until(Instant::now(), limit, |s| {
            running_tasks(s, "live").len() == 1
        })
        .is_none()
    {
        let snap = view.current.clone().unwrap();
        panic!(
            "the new service's task is not shown running: shown {:?} {:?}; docker says {:?}",
            snap.service("live"),
            snap.tasks,
            docker_running_tasks(&lab, "live")
        );
    }
    // Let the creation's events settle before counting.
    std::thread::sleep(Duration::from_secs(3));
    view.until(Instant::now(), limit, |_| true);
    let (whole, partial) = (view.whole, view.partial);

    let start = Instant::now();
    lab.ssh_ok(
        "node1",
        &["docker", "service", "scale", "--detach", "live=3"],
    );
    let shown = view
        .until(start, limit, |s| running_tasks(s, "live").len() == 3)
        .expect("the scale to 3 is shown without a refresh");
    let snap = view.current.clone().unwrap();
    eprintln!(
        "scale 1→3 shown after {shown:?}: {} partial, {} whole snapshot(s) on the way",
        view.partial - partial,
        view.whole - whole
    );
    assert!(
        view.partial > partial,
        "the change came in a partial refresh"
    );
    assert_eq!(view.whole, whole, "a service change cost a whole snapshot");
    // What the view shows is what docker says: the same tasks on the same nodes.
    assert_eq!(
        running_tasks(&snap, "live"),
        docker_running_tasks(&lab, "live")
    );
    let svc = snap.service("live").unwrap();
    assert_eq!((svc.running, svc.desired), (3, 3), "{svc:?}");

    // Removing it is read back alone too: the service and its tasks leave the view.
    let (whole, start) = (view.whole, Instant::now());
    lab.ssh_ok("node1", &["docker", "service", "rm", "live"]);
    view.until(start, limit, |s| {
        s.service("live").is_none() && !s.tasks.iter().any(|t| t.service_id == svc.id)
    })
    .expect("the removal is shown");
    assert_eq!(view.whole, whole, "a removal cost a whole snapshot");
}

#[test]
fn draining_a_node_flags_the_task_only_it_can_run_before_anything_changes() {
    let Some((lab, home)) = swarm_of_three() else {
        return;
    };
    let home = home.path();
    create(&lab, "pinned", &["--constraint", "node.hostname==node3"]);
    create(
        &lab,
        "spread",
        &["--replicas", "3", "--replicas-max-per-node", "1"],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while docker_running_tasks(&lab, "pinned").len() + docker_running_tasks(&lab, "spread").len()
        < 4
    {
        assert!(Instant::now() < deadline, "the services never ran");
        std::thread::sleep(Duration::from_millis(300));
    }
    let (ok, out, err) = swarmdeck(&lab, home, &["node", "drain", "node3"]);
    assert!(ok, "{out}{err}");
    eprintln!("{out}");
    // The plan, before any confirmation, names the stuck task, why, and the fix.
    assert!(
        out.contains("WARNING: after draining node3, 2 task(s) would find no node"),
        "{out}"
    );
    let line = |task: &str| {
        out.lines()
            .find(|l| l.contains(&format!("{task}: ")))
            .unwrap_or_else(|| panic!("no line for {task}:\n{out}"))
            .to_string()
    };
    let pinned = line("pinned.1");
    assert!(pinned.contains("NO node can take it"), "{pinned}");
    assert!(pinned.contains("node.hostname==node3"), "{pinned}");
    // spread runs one task per node on all three: its task on node3 has nowhere to go.
    let spread_on_node3: Vec<String> = out
        .lines()
        .filter(|l| l.contains("spread.") && l.contains("NO node can take it"))
        .map(str::to_string)
        .collect();
    assert_eq!(spread_on_node3.len(), 1, "{out}");
    assert!(
        spread_on_node3[0].contains("max 1 per node") || spread_on_node3[0].contains("per node"),
        "{out}"
    );
    assert!(out.contains("not applied"), "{out}");
    // Nothing changed: node3 is still active and its tasks still run there.
    let availability = lab.ssh_ok(
        "node1",
        &[
            "docker",
            "node",
            "inspect",
            "-f",
            "{{.Spec.Availability}}",
            "node3",
        ],
    );
    assert_eq!(availability.trim(), "active");

    // Once another node can take the pinned task's constraint, only spread's is flagged.
    lab.ssh_ok(
        "node1",
        &[
            "docker",
            "service",
            "update",
            "--detach",
            "--constraint-rm",
            "node.hostname==node3",
            "pinned",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, out, _) = swarmdeck(&lab, home, &["node", "drain", "node3"]);
        if out.contains("WARNING: after draining node3, 1 task(s)") {
            assert!(!out.contains("pinned.1: NO node"), "{out}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the updated constraint never counted:\n{out}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// node3's labels as `docker node inspect` on the manager shows them.
fn node_labels(lab: &TestLab, node: &str) -> BTreeMap<String, String> {
    let raw = lab.ssh_ok(
        "node1",
        &[
            "docker",
            "node",
            "inspect",
            "-f",
            "{{json .Spec.Labels}}",
            node,
        ],
    );
    serde_json::from_str::<Option<BTreeMap<String, String>>>(&raw)
        .unwrap()
        .unwrap_or_default()
}

#[test]
fn node_labels_added_make_a_constrained_service_placeable_and_removed_are_gone() {
    let Some((lab, home)) = swarm_of_three() else {
        return;
    };
    let home = home.path();
    let audit = home.join("audit.jsonl");
    let audit_arg = audit.to_str().unwrap();
    create(&lab, "gold", &["--constraint", "node.labels.tier==gold"]);
    let before = explained(&lab, home, "gold", 0, "constraint");
    assert_eq!(
        before["summary"],
        "no node has label tier=gold (node1, node2 and node3)"
    );

    // Planned, not applied without --yes.
    let (ok, plan, err) = swarmdeck(&lab, home, &["node", "label", "node3", "add", "tier=gold"]);
    assert!(ok, "{plan}{err}");
    assert!(
        plan.contains("$ docker node update --label-add tier=gold node3"),
        "{plan}"
    );
    assert!(plan.contains("not applied"), "{plan}");
    assert_eq!(node_labels(&lab, "node3"), BTreeMap::new());

    // Typed labels are validated before anything is planned.
    let (ok, _, err) = swarmdeck(&lab, home, &["node", "label", "node3", "add", "tier=a b"]);
    assert!(!ok && err.contains("invalid label value"), "{err}");

    // Applied: the engine has it, and the pending task finds its node.
    let args = ["node", "label", "node3", "add", "tier=gold", "--yes"];
    let (ok, out, err) = swarmdeck(
        &lab,
        home,
        &[&args[..], &["--audit-log", audit_arg]].concat(),
    );
    assert!(ok, "{out}{err}");
    let want: BTreeMap<String, String> = [("tier".to_string(), "gold".to_string())].into();
    assert_eq!(node_labels(&lab, "node3"), want);
    let deadline = Instant::now() + Duration::from_secs(90);
    let placed = loop {
        let tasks = json(&lab, home, &["ps", "gold", "--json"]);
        if states(&tasks) == BTreeMap::from([("running".to_string(), 1)]) {
            break tasks;
        }
        assert!(Instant::now() < deadline, "gold never ran: {tasks:#}");
        std::thread::sleep(Duration::from_millis(500));
    };
    let node3 = lab.ssh_ok(
        "node1",
        &["docker", "node", "inspect", "-f", "{{.ID}}", "node3"],
    );
    let running: Vec<&serde_json::Value> = placed
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["state"] == "running")
        .collect();
    assert_eq!(running[0]["node_id"], node3.as_str(), "{placed:#}");
    let log = std::fs::read_to_string(&audit).unwrap();
    assert!(
        log.contains("docker node update --label-add tier=gold node3"),
        "{log}"
    );

    // Removed: gone from the engine.
    let args = ["node", "label", node3.as_str(), "rm", "tier", "--yes"];
    let (ok, out, err) = swarmdeck(
        &lab,
        home,
        &[&args[..], &["--audit-log", audit_arg]].concat(),
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("--label-rm tier"), "{out}");
    assert_eq!(node_labels(&lab, "node3"), BTreeMap::new());
}

#[test]
fn doctor_flags_an_overlay_past_three_quarters_full_counting_what_the_engines_allocated() {
    let Some((lab, home)) = swarm_of_three() else {
        return;
    };
    let home = home.path();
    // 13 usable addresses: 6 tasks, the service's VIP and a load balancer on each of the
    // three nodes take 10 (77 %).
    lab.create_overlay("tiny", &["--subnet", "10.199.77.0/28"]);
    create(
        &lab,
        "packed",
        &[
            "--replicas",
            "6",
            "--replicas-max-per-node",
            "2",
            "--network",
            "tiny",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while docker_running_tasks(&lab, "packed").len() < 6 {
        assert!(Instant::now() < deadline, "packed never ran its 6 tasks");
        std::thread::sleep(Duration::from_millis(300));
    }
    // What the engines hold on tiny: every node's endpoints (tasks and its load balancer)
    // and the service's virtual IP.
    let mut allocated = std::collections::BTreeSet::new();
    for host in ["node1", "node2", "node3"] {
        let out = lab.ssh_ok(
            host,
            &[
                "docker",
                "network",
                "inspect",
                "-f",
                "{{range .Containers}}{{.IPv4Address}} {{end}}",
                "tiny",
            ],
        );
        allocated.extend(out.split_whitespace().map(str::to_string));
    }
    let vip = lab.ssh_ok(
        "node1",
        &[
            "docker",
            "service",
            "inspect",
            "-f",
            "{{range .Endpoint.VirtualIPs}}{{.Addr}} {{end}}",
            "packed",
        ],
    );
    allocated.extend(vip.split_whitespace().map(str::to_string));

    // Old tasks kept per slot, raised from swarm's 5.
    lab.ssh_ok(
        "node1",
        &["docker", "swarm", "update", "--task-history-limit", "50"],
    );
    let (ok, out, err) = swarmdeck(&lab, home, &["doctor", "--json"]);
    assert!(ok, "no finding here is an error:\n{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    host_facts_match_the_hosts(&lab, &report);
    let usage = report["overlays"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["network"] == "tiny")
        .unwrap_or_else(|| panic!("no usage for tiny: {out}"));
    let used = ["tasks", "vips", "containers", "load_balancers"]
        .iter()
        .map(|k| usage[*k].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(
        used as usize,
        allocated.len(),
        "doctor {usage} vs engines {allocated:?}"
    );
    assert_eq!(usage["capacity"], 13);
    let finding = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["area"] == "overlay capacity" && f["subject"] == "tiny")
        .unwrap_or_else(|| panic!("tiny is not flagged: {out}"));
    assert_eq!(finding["severity"], "warning");
    let summary = finding["summary"].as_str().unwrap();
    assert!(
        summary.contains(&format!("uses {used} of its 13 addresses")),
        "{summary}"
    );
    assert!(
        finding["fix"]
            .as_str()
            .unwrap()
            .contains("--network-rm tiny"),
        "{finding}"
    );
    // The text report says the same, most urgent first.
    let (_, text, _) = swarmdeck(&lab, home, &["doctor"]);
    assert!(
        text.contains("WARN   overlay capacity  overlay tiny uses"),
        "{text}"
    );
    assert!(text.contains("task history limit 50"), "{text}");
    // The app's service reads the same facts as its Doctor panel's job.
    let facts = doctor_in_app(&lab);
    assert_eq!(facts.hosts.len(), 3, "{facts:#?}");
    assert!(facts.hosts.iter().all(|h| h.clock.is_some()), "{facts:#?}");
    assert_eq!(
        facts.swarm.as_ref().and_then(|s| s.task_history_limit),
        Some(50)
    );
}

/// The app's service runs the Doctor panel's job on a snapshot it took: what it reads.
fn doctor_in_app(lab: &TestLab) -> swarmdeck::doctor::HostFacts {
    use swarmdeck::service::{Command, Event, Job, JobId, JobUpdate, ServiceHandle};
    let mut svc = ServiceHandle::spawn(std::sync::Arc::new(|| {})).expect("service starts");
    svc.send(Command::Refresh {
        inventory: lab.inventory.clone(),
    })
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut started = false;
    while Instant::now() < deadline {
        match svc.try_recv() {
            Some(Event::Snapshot(snap)) if !started => {
                started = true;
                let job = Job::Doctor(snap);
                svc.send(Command::Start { id: JobId(1), job }).unwrap();
            }
            Some(Event::Job {
                update: JobUpdate::Doctor(facts),
                ..
            }) => return *facts,
            Some(Event::Job {
                update: JobUpdate::Refused { reason },
                ..
            }) => panic!("{reason}"),
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    panic!("the doctor job did not report");
}

/// The doctor's readings against the hosts' own: the task history limit as set, the Raft
/// data as `du` on the manager counts it, every host's clock read. The lab's hosts share
/// the machine's one clock (network namespaces cannot set another), so no skew can be made
/// here: the unit tests of `doctor::clock` cover the findings; this shows the readings.
fn host_facts_match_the_hosts(lab: &TestLab, report: &serde_json::Value) {
    let facts = &report["facts"];
    assert_eq!(facts["swarm"]["task_history_limit"], 50, "{facts:#}");
    assert_eq!(facts["failures"], serde_json::json!([]), "{facts:#}");
    let history = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["area"] == "task history")
        .unwrap_or_else(|| panic!("no task history finding: {report:#}"));
    assert!(
        history["summary"]
            .as_str()
            .unwrap()
            .contains("the task history limit is 50"),
        "{history}"
    );
    assert_eq!(
        history["fix"],
        "`docker swarm update --task-history-limit 5`"
    );
    let hosts = facts["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 3, "{facts:#}");
    for h in hosts {
        let c = &h["clock"];
        let offset = c["host_ms"].as_i64().unwrap()
            - (c["sent_ms"].as_i64().unwrap() + c["received_ms"].as_i64().unwrap()) / 2;
        let rtt = c["received_ms"].as_i64().unwrap() - c["sent_ms"].as_i64().unwrap();
        assert!(offset.abs() <= rtt / 2 + 1, "one clock, yet {h}");
        assert_eq!(h["manager"], h["host"] == "node1", "{h}");
    }
    let node1 = hosts.iter().find(|h| h["host"] == "node1").unwrap();
    let read = node1["raft_bytes"]
        .as_u64()
        .expect("the manager's Raft size");
    let root = lab.ssh_ok("node1", &["docker", "info", "-f", "{{.DockerRootDir}}"]);
    let du = lab.ssh_ok(
        "node1",
        &["du", "-sb", &format!("{}/swarm/raft", root.trim())],
    );
    let du: u64 = du.split_whitespace().next().unwrap().parse().unwrap();
    // Raft writes between the two reads; its WAL segments are preallocated, so little.
    let diff = read.abs_diff(du);
    assert!(
        read > 0 && diff <= du / 10,
        "doctor read {read} B, du {du} B"
    );
    assert!(
        !report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["area"] == "clock skew"),
        "{report:#}"
    );
}

/// The node each running task of `service` is on, from `docker service ps` on the manager:
/// (node, current state) per task meant to run.
fn docker_ps_nodes(lab: &TestLab, service: &str) -> Vec<(String, String)> {
    let out = lab.ssh_ok(
        "node1",
        &[
            "docker",
            "service",
            "ps",
            "--filter",
            "desired-state=running",
            "--format",
            "{{.Node}} {{.CurrentState}}",
            service,
        ],
    );
    out.lines()
        .filter_map(|l| {
            let (node, state) = l.split_once(' ')?;
            Some((node.to_string(), state.to_string()))
        })
        .collect()
}

/// `docker node update --availability VALUE NODE` on the manager.
fn set_availability(lab: &TestLab, node: &str, value: &str) {
    lab.ssh_ok(
        "node1",
        &["docker", "node", "update", "--availability", value, node],
    );
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn all_running_on(tasks: &[(String, String)], n: usize) -> bool {
    tasks.len() == n && tasks.iter().all(|(_, s)| s.starts_with("Running"))
}

#[test]
fn a_returned_node_is_named_by_the_doctor_and_rebalance_gives_it_tasks_again() {
    let Some((lab, home)) = swarm_of_three() else {
        return;
    };
    let home = home.path();
    create(
        &lab,
        "spread",
        &[
            "--replicas",
            "6",
            "--update-parallelism",
            "3",
            "--update-monitor",
            "1s",
        ],
    );
    wait_for("6 running tasks", || {
        all_running_on(&docker_ps_nodes(&lab, "spread"), 6)
    });
    set_availability(&lab, "node3", "drain");
    wait_for("node3 drained", || {
        let t = docker_ps_nodes(&lab, "spread");
        all_running_on(&t, 6) && !t.iter().any(|(n, _)| n == "node3")
    });
    set_availability(&lab, "node3", "active");

    // Back and active, node3 still runs none: the doctor says so, with the fix.
    let report = json(&lab, home, &["doctor", "--json"]);
    let spread = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["area"] == "task spread" && f["subject"] == "spread")
        .unwrap_or_else(|| panic!("no task spread finding: {report:#}"));
    let summary = spread["summary"].as_str().unwrap();
    assert!(
        summary.contains(
            "node(s) node3 returned or joined and run none of service spread's 6 replicas"
        ),
        "{summary}"
    );
    assert!(
        spread["fix"]
            .as_str()
            .unwrap()
            .contains("swarmdeck service rebalance spread"),
        "{spread}"
    );

    // The plan alone: the tasks per node, node3 idle, the command; nothing changes.
    let (ok, plan, err) = swarmdeck(&lab, home, &["service", "rebalance", "spread"]);
    assert!(ok, "{plan}{err}");
    assert!(plan.contains("node3 run(s) none"), "{plan}");
    assert!(
        plan.contains("docker service update --force spread"),
        "{plan}"
    );
    assert!(plan.contains("not applied"), "{plan}");
    assert!(
        !docker_ps_nodes(&lab, "spread")
            .iter()
            .any(|(n, _)| n == "node3")
    );

    // Applied and followed: node3 runs tasks again, all six running.
    let (ok, out, err) = swarmdeck(&lab, home, &["service", "rebalance", "spread", "--yes"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("following the rollout"), "{out}");
    wait_for("six running tasks after the rebalance", || {
        all_running_on(&docker_ps_nodes(&lab, "spread"), 6)
    });
    let tasks = docker_ps_nodes(&lab, "spread");
    let on_node3 = tasks.iter().filter(|(n, _)| n == "node3").count();
    assert!(
        on_node3 >= 1,
        "node3 runs none after the rebalance: {tasks:?}"
    );
    let report = json(&lab, home, &["doctor", "--json"]);
    assert!(
        !report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["area"] == "task spread"),
        "{report:#}"
    );
}

/// Runs the CLI and returns its result with how long it took.
fn timed(
    lab: &TestLab,
    home: &std::path::Path,
    args: &[&str],
) -> ((bool, String, String), Duration) {
    let t = Instant::now();
    let r = swarmdeck(lab, home, args);
    let took = t.elapsed();
    eprintln!("swarmdeck {args:?}: ok={} in {took:.2?}", r.0);
    (r, took)
}

/// A finding of `doctor --json` about `host`, or a panic showing the report.
fn doctor_finding(report: &str, area: &str, host: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(report).unwrap();
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["area"] == area && f["subject"] == host)
        .cloned()
        .unwrap_or_else(|| panic!("no {area} finding for {host}:\n{report}"))
}

#[test]
fn changes_and_the_doctor_finish_with_a_hung_engine_and_name_its_host_and_layer() {
    use swarmdeck::lab::fault::Fault;
    let Some((lab, home)) = swarm_of_three() else {
        return;
    };
    let home = home.path();
    let dir = tempfile::tempdir().unwrap();
    let compose = dir.path().join("compose.yml");
    let write = |replicas: u32| {
        std::fs::write(
            &compose,
            format!(
                "services:\n  web:\n    image: swarmdeck/probe:1\n    command: [\"sleep\", \"3600\"]\n    deploy:\n      replicas: {replicas}\n"
            ),
        )
        .unwrap()
    };
    let compose_arg = compose.to_str().unwrap();

    // A worker's engine hangs (its socket accepts, nothing answers). Wait until the
    // manager has marked it down, so no task is placed on it.
    let hung = lab.inject(Fault::EngineHung, 2).unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let state = lab.ssh_ok(
            "node1",
            &[
                "docker",
                "node",
                "inspect",
                "-f",
                "{{.Status.State}}",
                "node3",
            ],
        );
        if state.trim() == "down" {
            break;
        }
        assert!(Instant::now() < deadline, "node3 never went down: {state}");
        std::thread::sleep(Duration::from_millis(500));
    }

    // The doctor names the host and the layer.
    let ((_, report, err), _) = timed(&lab, home, &["doctor", "--json"]);
    let host = doctor_finding(&report, "hosts", "node3");
    assert!(
        host["summary"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("engine"),
        "{host}\n{err}"
    );
    // Changes through the healthy manager go ahead and finish.
    write(2);
    let ((ok, out, err), _) = timed(
        &lab,
        home,
        &["stack", "deploy", "-c", compose_arg, "--yes", "hang"],
    );
    assert!(ok, "stack deploy with a hung worker:\n{out}{err}");
    let ((ok, out, err), _) = timed(&lab, home, &["service", "scale", "hang_web=3", "--yes"]);
    assert!(ok, "scale with a hung worker:\n{out}{err}");
    assert_eq!(docker_running_tasks(&lab, "hang_web").len(), 3);
    let ((ok, out, err), _) = timed(
        &lab,
        home,
        &["node", "label", "node2", "add", "disk=ssd", "--yes"],
    );
    assert!(ok, "label with a hung worker:\n{out}{err}");
    assert_eq!(
        node_labels(&lab, "node2").get("disk").map(String::as_str),
        Some("ssd")
    );
    let ((ok, plan, err), _) = timed(&lab, home, &["node", "drain", "node2"]);
    assert!(ok, "drain plan with a hung worker:\n{plan}{err}");
    assert!(
        plan.contains("hang_web"),
        "the drain preview lists the tasks:\n{plan}"
    );

    // The only manager's engine hangs too: every change stops at once, naming it and the
    // layer, and nothing is changed.
    let manager = lab.inject(Fault::EngineHung, 0).unwrap();
    write(1);
    let ((ok, out, err), _) = timed(
        &lab,
        home,
        &["stack", "deploy", "-c", compose_arg, "--yes", "hang"],
    );
    assert!(!ok, "a deploy without a manager succeeded:\n{out}{err}");
    let text = format!("{out}{err}");
    eprintln!("{text}");
    assert!(text.contains("node1"), "{text}");
    assert!(text.to_lowercase().contains("engine"), "{text}");
    let ((ok, out, err), _) = timed(&lab, home, &["service", "scale", "hang_web=1", "--yes"]);
    assert!(!ok, "a scale without a manager succeeded:\n{out}{err}");
    assert!(format!("{out}{err}").contains("node1"), "{out}{err}");
    let ((ok, report, err), _) = timed(&lab, home, &["doctor", "--json"]);
    assert!(!ok, "the doctor exits 1 on an error:\n{report}{err}");
    let manager_finding = doctor_finding(&report, "hosts", "node1");
    assert_eq!(manager_finding["severity"], "error", "{manager_finding}");
    lab.heal(manager).unwrap();
    lab.heal(hung).unwrap();
    // Nothing changed while the manager hung (the spec; tasks may be moving while the
    // manager catches up on missed heartbeats).
    let replicas = lab.ssh_ok(
        "node1",
        &[
            "docker",
            "service",
            "inspect",
            "-f",
            "{{.Spec.Mode.Replicated.Replicas}}",
            "hang_web",
        ],
    );
    assert_eq!(replicas.trim(), "3");
}
