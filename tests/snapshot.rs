//! Cluster snapshots against real lab hosts (network namespaces with a real sshd and
//! dockerd) when some of them are down, a non-root user reaching Docker through sudo, and
//! the connect and bootstrap benchmarks. No mocks; every test has its own lab.

mod common;

use common::lab::{OpsAccess, add_ops_user, inventory};
use common::{kill_and_wait, rt};

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::lab::TestLab;
use swarmdeck::cluster::Cluster;
use swarmdeck::docker::{DockerError, DockerHost, DockerOptions, Via};
use swarmdeck::inventory::{AuthMethod, Inventory};
use swarmdeck::snapshot::LocalNodeState;
use swarmdeck::ssh::{
    NoSecrets, RemoteCommand, Secret, SecretRequest, SshError, SshOptions, SshSession,
};

/// TCP connect timeout for these tests; failures must be reported within it (+ margin).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Scheduling slack on a busy 2-core machine: a bound on a timeout, not a benchmark.
const MARGIN: Duration = Duration::from_millis(1500);

fn opts(lab: &TestLab, app: &Path) -> SshOptions {
    SshOptions {
        deadlines: swarmdeck::limits::Deadlines {
            connect: CONNECT_TIMEOUT,
            login: Duration::from_secs(10),
            ..lab.ssh_options(app).deadlines
        },
        ..lab.ssh_options(app)
    }
}

fn link_down(lab: &TestLab, i: usize) {
    let h = &lab.hosts[i];
    lab.check_host(h).unwrap();
    let st = std::process::Command::new("ip")
        .args([
            "netns", "exec", &h.netns, "ip", "link", "set", "eth0", "down",
        ])
        .status()
        .unwrap();
    assert!(st.success(), "ip link set eth0 down in {}", h.netns);
}

#[test]
fn partial_snapshot_when_a_host_is_down() {
    let Some(lab) = TestLab::start(3) else {
        return;
    };
    lab.form_swarm(|_| {});
    let inv = inventory(&lab);
    let tmp = tempfile::tempdir().unwrap();
    // node3's SSH server dies; its engine (and swarm membership) stays up.
    kill_and_wait(lab.hosts[2].pids.sshd.expect("lab records sshd's pid"));
    let rt = rt();

    let cluster = Cluster::new(
        inv.clone(),
        "lab",
        opts(&lab, &tmp.path().join("kh")),
        Arc::new(NoSecrets),
    );
    let t = Instant::now();
    let snap = rt.block_on(cluster.snapshot());
    let took = t.elapsed();
    assert!(took < CONNECT_TIMEOUT + MARGIN, "snapshot took {took:?}");

    let names: Vec<&str> = snap.hosts.iter().map(|h| h.host.as_str()).collect();
    assert_eq!(names, ["node1", "node2", "node3"]);
    assert!(snap.hosts[0].error.is_none(), "{:?}", snap.hosts[0]);
    assert!(snap.hosts[1].error.is_none(), "{:?}", snap.hosts[1]);
    let err = snap.hosts[2].error.as_deref().expect("node3 failed");
    eprintln!("node3: {err}");
    assert!(err.starts_with("node3:"), "{err}");
    assert!(err.contains("refused"), "{err}");
    assert!(err.contains(&lab.hosts[2].ip.to_string()), "{err}");
    assert_eq!(snap.failed_hosts().count(), 1);

    // The manager still answers for the whole cluster, node3 included.
    let swarm = snap.swarm.as_ref().expect("the manager answered");
    assert_eq!(swarm.answered_by, "node1");
    assert!(!swarm.cluster_id.is_empty());
    // When the swarm was created (RFC 3339, from the manager's swarm inspect): moments ago.
    let created = swarm
        .created_at
        .as_deref()
        .expect("created_at is filled in");
    let (date, time) = created
        .split_once('T')
        .unwrap_or_else(|| panic!("{created}"));
    assert!(time.ends_with('Z') || time.contains('+'), "{created}");
    let days = |d: &str| {
        let o = std::process::Command::new("date")
            .args(["-u", "-d", d, "+%F"])
            .output()
            .unwrap();
        String::from_utf8(o.stdout).unwrap().trim().to_string()
    };
    assert!(
        [days("now"), days("10 minutes ago")].contains(&date.to_string()),
        "{created}"
    );
    let hostnames: Vec<&str> = snap.nodes.iter().map(|n| n.hostname.as_str()).collect();
    assert_eq!(hostnames, ["node1", "node2", "node3"]);
    assert!(
        snap.networks.iter().any(|n| n.name == "ingress"),
        "{:?}",
        snap.networks
    );

    let json = snap.to_json();
    assert!(
        !json.contains("SWMTKN-"),
        "a join token leaked into the snapshot"
    );
    let text = swarmdeck::cli::status::render(&snap);
    assert!(text.contains("node3") && text.contains("ERROR"), "{text}");
    assert!(!text.contains("SWMTKN-"));

    // A partitioned host (link down) on a fresh connection: reported within the timeout.
    link_down(&lab, 1);
    let cluster = Cluster::new(
        inv,
        "lab",
        opts(&lab, &tmp.path().join("kh")),
        Arc::new(NoSecrets),
    );
    let t = Instant::now();
    let snap = rt.block_on(cluster.snapshot());
    let took = t.elapsed();
    assert!(took < CONNECT_TIMEOUT + MARGIN, "snapshot took {took:?}");
    let err = snap.hosts[1].error.as_deref().expect("node2 failed");
    eprintln!("node2: {err}");
    assert!(err.starts_with("node2:"), "{err}");
    assert!(
        err.contains("no answer") || err.contains("no route"),
        "{err}"
    );
    assert_eq!(snap.failed_hosts().count(), 2);
    assert_eq!(snap.swarm.as_ref().unwrap().answered_by, "node1");
    assert_eq!(snap.nodes.len(), 3);
    assert!(!snap.to_json().contains("SWMTKN-"));
}

#[test]
fn sshd_down_and_dockerd_down_are_distinct_and_bounded() {
    let Some(lab) = TestLab::start(3) else {
        return;
    };
    let inv = inventory(&lab);
    let tmp = tempfile::tempdir().unwrap();
    kill_and_wait(lab.hosts[0].pids.sshd.expect("sshd pid"));
    kill_and_wait(lab.hosts[1].pids.dockerd.expect("dockerd pid"));
    link_down(&lab, 2);
    let rt = rt();
    let o = opts(&lab, &tmp.path().join("kh"));

    rt.block_on(async {
        let cluster = Cluster::new(inv.clone(), "lab", o.clone(), Arc::new(NoSecrets));
        let timed = |i: usize| {
            let cluster = cluster.clone();
            let h = inv.hosts[i].clone();
            async move {
                let t = Instant::now();
                let r = cluster.engine(&h).await;
                (r.map(|_| ()), t.elapsed())
            }
        };

        // sshd down: connection refused, straight away.
        let (r, took) = timed(0).await;
        let e = r.unwrap_err();
        eprintln!("sshd down ({took:?}): {e}");
        assert!(
            matches!(e, DockerError::Ssh(SshError::Unreachable { .. })),
            "{e}"
        );
        let sshd_msg = e.to_string();
        assert!(sshd_msg.starts_with("node1:"), "{sshd_msg}");
        assert!(sshd_msg.contains("refused"), "{sshd_msg}");
        assert!(took < CONNECT_TIMEOUT + MARGIN, "{took:?}");

        // dockerd down: SSH works, the engine does not.
        let (r, took) = timed(1).await;
        let e = r.unwrap_err();
        eprintln!("dockerd down ({took:?}): {e}");
        assert!(matches!(e, DockerError::DaemonNotRunning { .. }), "{e}");
        let dockerd_msg = e.to_string();
        assert!(dockerd_msg.starts_with("node2:"), "{dockerd_msg}");
        assert!(dockerd_msg.contains("not running"), "{dockerd_msg}");
        assert!(took < CONNECT_TIMEOUT + MARGIN, "{took:?}");

        // Partitioned: no answer (or no route) within the connect timeout.
        let (r, took) = timed(2).await;
        let e = r.unwrap_err();
        eprintln!("link down ({took:?}): {e}");
        assert!(
            matches!(e, DockerError::Ssh(SshError::Unreachable { .. })),
            "{e}"
        );
        let link_msg = e.to_string();
        assert!(link_msg.starts_with("node3:"), "{link_msg}");
        assert!(
            link_msg.contains("no answer") || link_msg.contains("no route"),
            "{link_msg}"
        );
        assert!(took < CONNECT_TIMEOUT + MARGIN, "{took:?}");

        assert_ne!(sshd_msg, dockerd_msg);
        assert!(!sshd_msg.contains("Docker daemon"), "{sshd_msg}");
        assert!(!dockerd_msg.contains("refused by"), "{dockerd_msg}");

        // The same through a whole snapshot, all hosts in parallel: bounded by the timeout.
        let cluster = Cluster::new(inv.clone(), "lab", o.clone(), Arc::new(NoSecrets));
        let t = Instant::now();
        let snap = cluster.snapshot().await;
        let took = t.elapsed();
        assert!(took < CONNECT_TIMEOUT + MARGIN, "snapshot took {took:?}");
        assert_eq!(snap.failed_hosts().count(), 3);
        assert!(snap.swarm.is_none());
        let errs: Vec<&str> = snap
            .hosts
            .iter()
            .map(|h| h.error.as_deref().unwrap())
            .collect();
        assert!(errs[0].starts_with("node1:") && errs[0].contains("refused"));
        assert!(errs[1].starts_with("node2:") && errs[1].contains("Docker daemon is not running"));
        assert!(errs[2].starts_with("node3:"));
    });
}

/// sudo is a test dependency (scripts/install-deps); never installed by a test.
fn sudo_available() -> bool {
    if Path::new("/usr/bin/sudo").exists() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "CI must run the sudo lab test, but /usr/bin/sudo is missing (scripts/install-deps)"
        );
    }
    eprintln!();
    eprintln!("==================================================================");
    eprintln!("SUDO LAB TEST NOT RUN: /usr/bin/sudo is missing; run scripts/install-deps");
    eprintln!("==================================================================");
    false
}

#[test]
fn non_root_user_reaches_docker_through_sudo() {
    if !sudo_available() {
        return;
    }
    let Some(lab) = TestLab::start(1) else {
        return;
    };
    let inv = inventory(&lab);
    let tmp = tempfile::tempdir().unwrap();
    let o = opts(&lab, &tmp.path().join("kh"));
    let real_rule = Path::new("/etc/sudoers.d/swarmdeck-ops");
    rt().block_on(async {
        let root = SshSession::connect(&inv.hosts[0], &o, &NoSecrets)
            .await
            .unwrap();
        add_ops_user(&root, "pw-sudo-1", OpsAccess::SudoDocker).await;
        assert!(!real_rule.exists(), "the rule leaked into the real /etc");

        let mut ops = inv.hosts[0].clone();
        ops.user = "ops".into();
        ops.auth = AuthMethod::Password;
        let secrets =
            Arc::new(|r: &SecretRequest<'_>| (r.user == "ops").then(|| Secret::new("pw-sudo-1")));

        // Without sudo: the socket is not ops's, and the error says so.
        let s = SshSession::connect(&ops, &o, secrets.as_ref())
            .await
            .unwrap();
        assert_eq!(
            s.exec(&RemoteCommand::new(["id", "-un"]))
                .await
                .unwrap()
                .stdout_lossy()
                .trim(),
            "ops"
        );
        let e = DockerHost::connect(&s).await.unwrap_err();
        assert!(matches!(e, DockerError::PermissionDenied { .. }), "{e}");

        // sudo = true in the host spec: `sudo -n docker system dial-stdio`.
        ops.sudo = true;
        let s = SshSession::connect(&ops, &o, secrets.as_ref())
            .await
            .unwrap();
        let link = DockerHost::connect_with(&s, &DockerOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(link.via, Via::DialStdio { sudo: true });
        let info = link.docker.info().await.unwrap();
        assert_eq!(info.name.as_deref(), Some("node1"));

        // And through a Cluster, as the app and `status` use it.
        let cluster = Cluster::new(
            Inventory {
                hosts: vec![ops.clone()],
                ..inv.clone()
            },
            "lab",
            o.clone(),
            secrets.clone(),
        );
        let snap = cluster.snapshot().await;
        assert_eq!(snap.failed_hosts().count(), 0, "{:?}", snap.hosts);
        assert_eq!(snap.hosts[0].engine_name.as_deref(), Some("node1"));
        let d = cluster.engine(&ops).await.unwrap();
        assert!(d.info().await.unwrap().server_version.is_some());
    });
    assert!(!real_rule.exists(), "the rule leaked into the real /etc");
}

/// A benchmark's labs are torn down: no namespace left, not listed.
#[cfg(feature = "bench")]
fn assert_labs_gone(names: &[String]) {
    for name in names {
        assert!(
            !Path::new(&format!("/run/netns/sdk-{name}-n1")).exists(),
            "lab {name} left behind"
        );
        assert!(
            swarmdeck::lab::list().iter().all(|l| &l.name != name),
            "lab {name} still listed"
        );
    }
}

/// Built with `--features bench` (as `scripts/test` does): benchmarks are not in the product.
#[cfg(feature = "bench")]
#[test]
fn bench_connect_produces_every_row() {
    if !common::lab::lab_available() {
        return;
    }
    let bench = swarmdeck::bench::ConnectBench {
        hosts: 3,
        many_hosts: 4,
        rounds: 1,
        warm_per_round: 2,
    };
    let report = bench
        .run(&rt(), &mut |line| eprintln!("bench: {line}"))
        .unwrap_or_else(|e| panic!("{e:#}"));
    let text = report.render();
    eprintln!("{text}");
    for key in swarmdeck::bench::connect::ROWS {
        let row = report
            .row(key)
            .unwrap_or_else(|| panic!("no row {key}: {text}"));
        assert!(!row.ours.samples().is_empty(), "{key}");
        assert!(row.ours.median() > Duration::ZERO, "{key}");
        if let Some((_, base)) = &row.baseline {
            // A docker CLI run that hangs (> 30 s) is killed and left out, and said so.
            assert!(base.samples().len() <= 1, "{key}");
            if base.samples().is_empty() {
                assert!(text.contains("were killed"), "{text}");
            } else {
                assert!(row.ratio().is_some(), "{key}");
            }
        }
    }
    assert_eq!(
        report.row("cold-vs-script").unwrap().ours.samples().len(),
        1
    );
    assert_eq!(report.row("warm-refresh").unwrap().ours.samples().len(), 2);
    assert!(report.row("cold-vs-script").unwrap().baseline.is_some());
    assert!(report.row("cold-vs-one-command").unwrap().target.is_some());
    assert!(report.row("warm-refresh").unwrap().target.is_some());
    assert!(report.row("many-vs-one").unwrap().target.is_some());
    assert_eq!(text.matches("target:").count(), 3, "{text}");
    assert!(!text.contains("SWMTKN-"));
    // Its labs are gone.
    assert_eq!(report.labs.len(), 2);
    assert_labs_gone(&report.labs);
}

/// Built with `--features bench` (as `scripts/test` does): benchmarks are not in the product.
#[cfg(feature = "bench")]
#[test]
fn bench_bootstrap_produces_both_contenders() {
    if !common::lab::lab_available() {
        return;
    }
    let bench = swarmdeck::bench::BootstrapBench { rounds: 1 };
    let report = bench
        .run(&rt(), &mut |line| eprintln!("bench: {line}"))
        .unwrap_or_else(|e| panic!("{e:#}"));
    let text = report.render();
    eprintln!("{text}");
    assert_eq!(report.rows.len(), swarmdeck::bench::bootstrap::ROWS.len());
    let row = report
        .row("bootstrap-vs-script")
        .unwrap_or_else(|| panic!("no row: {text}"));
    // Both contenders built the swarm (a failed one has no sample and a FAILED note).
    assert_eq!(row.ours.samples().len(), 1, "{text}");
    let (name, script) = row.baseline.as_ref().expect("the script is compared");
    assert_eq!(script.samples().len(), 1, "{text}");
    assert!(row.ours.median() > Duration::ZERO && script.median() > Duration::ZERO);
    assert!(row.ratio().is_some(), "{text}");
    assert!(text.contains(&row.what) && text.contains(name), "{text}");
    assert!(!text.contains("FAILED"), "{text}");
    assert!(text.contains("not timed"), "{text}");
    assert!(!text.contains("SWMTKN-"), "{text}");
    // Two labs for the round, both gone.
    assert_eq!(report.labs.len(), 2);
    assert_labs_gone(&report.labs);
}

/// Warm snapshots reuse a host's engine facts only while the host and the managers' node
/// list confirm them: leaving, re-joining, promotion and demotion each show up, and a warm
/// snapshot ends up agreeing with a cold one.
#[test]
fn warm_snapshots_follow_membership_changes() {
    let Some(lab) = TestLab::start(3) else {
        return;
    };
    lab.form_swarm(|_| {});
    let inv = inventory(&lab);
    let tmp = tempfile::tempdir().unwrap();
    let rt = rt();
    let new_cluster = || {
        Cluster::new(
            inv.clone(),
            "lab",
            opts(&lab, &tmp.path().join("kh")),
            Arc::new(NoSecrets),
        )
    };
    let cluster = new_cluster();
    let cold = rt.block_on(cluster.snapshot());
    let warm = rt.block_on(cluster.snapshot());
    assert_eq!(cold.hosts, warm.hosts);
    assert_eq!(cold.nodes, warm.nodes);
    let old_id = warm.hosts[2]
        .node_id
        .clone()
        .expect("node3 is in the swarm");

    // Polls warm snapshots until `done` holds; returns the snapshot and how long it took.
    let until = |what: &str, done: &dyn Fn(&swarmdeck::snapshot::ClusterSnapshot) -> bool| {
        let t = Instant::now();
        loop {
            let snap = rt.block_on(cluster.snapshot());
            if done(&snap) {
                eprintln!("{what}: seen by a warm snapshot after {:?}", t.elapsed());
                return snap;
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "{what}: warm snapshots never showed it: {:?}",
                snap.hosts
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };

    lab.ssh_ok("node3", &["docker", "swarm", "leave"]);
    until("node3 left", &|s| {
        s.hosts[2].swarm_state == Some(LocalNodeState::Inactive) && s.hosts[2].node_id.is_none()
    });

    lab.join_worker("node3");
    let snap = until("node3 re-joined", &|s| {
        s.hosts[2]
            .node_id
            .as_ref()
            .is_some_and(|id| *id != old_id && s.nodes.iter().any(|n| n.id == *id))
    });
    assert_eq!(snap.hosts[2].swarm_state, Some(LocalNodeState::Active));

    lab.ssh_ok("node1", &["docker", "node", "promote", "node2"]);
    until("node2 promoted", &|s| s.hosts[1].control_available);
    lab.ssh_ok("node1", &["docker", "node", "demote", "node2"]);
    until("node2 demoted", &|s| !s.hosts[1].control_available);

    // Whatever the warm snapshots reused, they agree with a cold read now.
    let warm = rt.block_on(cluster.snapshot());
    let cold = rt.block_on(new_cluster().snapshot());
    assert_eq!(warm.hosts, cold.hosts);
    assert_eq!(warm.nodes, cold.nodes);
    assert!(!warm.to_json().contains("SWMTKN-"));
}
