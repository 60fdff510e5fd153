//! The connectivity tester against real 3-host swarms in the practice lab, with fault
//! injection (iptables in a host's namespace, a killed dockerd). No mocks.

mod common;

use common::rt;

use std::time::{Duration, Instant};

use common::lab::TestLab;
use swarmdeck::cluster::Cluster;
use swarmdeck::connectivity::{
    self, FindingKind, HostState, ImageSource, Options, Phase, Progress, Report,
};
use tokio_util::sync::CancellationToken;

/// Containers, networks and images on a host (names/ids), for before/after comparisons.
fn inventory_of(lab: &TestLab, host: &str) -> (String, String, String) {
    let ps = lab.ssh_ok(host, &["docker", "ps", "-a", "--format", "{{.Names}}"]);
    let nets = lab.ssh_ok(host, &["docker", "network", "ls", "--format", "{{.Name}}"]);
    let imgs = lab.ssh_ok(
        host,
        &["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"],
    );
    (ps, nets, imgs)
}

fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(str::to_string).collect();
    v.sort();
    v
}

/// One runtime per test: the cluster's SSH sessions live on it.
fn run(rt: &tokio::runtime::Runtime, c: &Cluster, opts: Options) -> Report {
    rt.block_on(async {
        connectivity::run(c, opts, None, CancellationToken::new())
            .await
            .expect("valid request")
    })
}

fn kinds(r: &Report) -> Vec<FindingKind> {
    r.findings.iter().map(|f| f.kind).collect()
}

#[test]
fn healthy_swarm_passes_and_leaves_nothing_then_blocked_vxlan_is_named() {
    let Some(lab) = TestLab::start(3) else {
        return;
    };
    lab.form_swarm(|_| {});
    // node3 has no preloaded probe image: the tester builds one from its busybox.
    lab.ssh_ok("node3", &["docker", "image", "rm", "swarmdeck/probe:1"]);
    // A leftover of a "crashed" earlier run on node2, past its promised end.
    lab.ssh_ok(
        "node2",
        &[
            "docker",
            "run",
            "-d",
            "--name",
            "sdprobe-crashed",
            "--label",
            "swarmdeck.probe=crashed",
            "--label",
            "swarmdeck.probe.until=1",
            "swarmdeck/probe:1",
            "sleep",
            "600",
        ],
    );
    let before: Vec<_> = ["node1", "node2", "node3"]
        .iter()
        .map(|h| inventory_of(&lab, h))
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let c = lab.cluster(&tmp.path().join("kh"));
    let rt = rt();

    let t = Instant::now();
    let r = run(&rt, &c, Options::default());
    eprintln!(
        "healthy run in {:?}\n{}",
        t.elapsed(),
        connectivity::render::render(&r)
    );
    assert!(r.healthy(), "{}", r.to_json());
    assert_eq!(r.cells.len(), 6);
    assert!(r.cells.iter().all(|c| c.icmp.latency_ms.is_some()));
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    assert!(r.cleaned_up);
    let probe = |h: &str| r.host(h).unwrap().probe.clone().unwrap();
    assert_eq!(probe("node1").image_source, ImageSource::Preloaded);
    assert_eq!(probe("node3").image_source, ImageSource::HostBusybox);
    assert_eq!(probe("node1").mtu, Some(1450));
    assert_eq!(
        r.host("node2").unwrap().swept,
        1,
        "the expired leftover was swept"
    );
    assert!(r.host("node1").unwrap().manager);
    // Underlay TCP: 7946 both ways, 2377 to the manager.
    assert!(
        r.underlay
            .iter()
            .filter(|u| u.proto == "tcp")
            .all(|u| u.check.passed()),
        "{:#?}",
        r.underlay
    );
    assert!(r.underlay.iter().any(|u| u.port == 2377 && u.to == "node1"));
    // Nothing left behind: containers, the temporary network, the imported image.
    for (i, h) in ["node1", "node2", "node3"].iter().enumerate() {
        let after = inventory_of(&lab, h);
        let mut expected_ps = sorted_lines(&before[i].0);
        expected_ps.retain(|n| n != "sdprobe-crashed");
        assert_eq!(sorted_lines(&after.0), expected_ps, "{h} containers");
        assert!(!after.1.contains("sdprobe"), "{h} networks: {}", after.1);
        assert_eq!(
            sorted_lines(&after.2),
            sorted_lines(&before[i].2),
            "{h} images"
        );
    }

    // Fault: VXLAN dropped on node3, through the CLI (JSON, history, --compare).
    lab.drop_port("node3", "INPUT", "udp", 4789);
    let hist = tmp.path().join("history");
    std::fs::create_dir_all(&hist).unwrap();
    let first = swarmdeck::connectivity::history::History::new(&hist);
    first.save(&r).unwrap();
    let t = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_swarmdeck"))
        .arg("--inventory")
        .arg(&lab.inventory)
        .args(["connectivity", "--json", "--history-dir"])
        .arg(&hist)
        .env("HOME", tmp.path())
        .output()
        .unwrap();
    eprintln!("blocked-vxlan CLI run in {:?}", t.elapsed());
    assert!(!out.status.success(), "problems found: exit 1");
    let r2: Report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    eprintln!("{}", connectivity::render::render(&r2));
    let f = r2
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::VxlanBlocked)
        .unwrap_or_else(|| panic!("{:#?}", r2.findings));
    assert_eq!(f.hosts, vec!["node3"]);
    assert_eq!(f.port, "4789/udp");
    assert!(
        f.fix
            .contains("iptables -D INPUT -p udp -m udp --dport 4789 -j DROP"),
        "{}",
        f.fix
    );
    assert!(r2.cell("node1", "node2").unwrap().all_passed());
    assert!(r2.cell("node1", "node3").unwrap().icmp.failed());
    assert!(r2.cell("node3", "node1").unwrap().dns.passed());
    assert!(r2.cleaned_up);

    // History: both runs saved; the comparison names what broke.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_swarmdeck"))
        .args(["connectivity", "--history", "--history-dir"])
        .arg(&hist)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}");
    assert!(out.status.success());
    assert!(
        text.contains(&r.run_id) && text.contains(&r2.run_id),
        "{text}"
    );
    assert!(text.contains("node1→node3 icmp: pass → FAIL"), "{text}");
    assert!(text.contains("new finding: node3"), "{text}");

    // Fault: node2's link carries only 1400 bytes; the overlay needs 1500 (1450 + VXLAN).
    lab.undrop_port("node3", "INPUT", "udp", 4789);
    let set_mtu = |mtu: &str| {
        let st = std::process::Command::new("ip")
            .args(["netns", "exec", &lab.hosts[1].netns])
            .args(["ip", "link", "set", "eth0", "mtu", mtu])
            .status()
            .unwrap();
        assert!(st.success(), "setting node2's MTU to {mtu}");
    };
    set_mtu("1400");
    let r3 = run(&rt, &c, Options::default());
    set_mtu("1500");
    eprintln!("{}", connectivity::render::render(&r3));
    let f = r3
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::MtuMismatch)
        .unwrap_or_else(|| panic!("{:#?}", r3.findings));
    assert_eq!(f.hosts, vec!["node2"], "the host at fault is named");
    assert_eq!(
        f.title,
        "node2's path is too small for the overlay: its eth0 has MTU 1400, the overlay needs 1500"
    );
    assert!(f.fix.contains("ip link set eth0 mtu 1500"), "{}", f.fix);
    assert!(r3.cell("node1", "node3").unwrap().all_passed());
}

#[test]
fn gossip_blocked_host_and_encrypted_overlay_are_diagnosed() {
    let Some(lab) = TestLab::start(3) else {
        return;
    };
    // 7946 closed on node2 before it joins: it never gossips with the others.
    lab.form_swarm(|h| {
        if h == "node2" {
            for proto in ["tcp", "udp"] {
                lab.drop_port(h, "INPUT", proto, 7946);
            }
        }
    });
    let tmp = tempfile::tempdir().unwrap();
    let c = lab.cluster(&tmp.path().join("kh"));
    let rt = rt();
    let t = Instant::now();
    let r = run(&rt, &c, Options::default());
    eprintln!(
        "gossip run in {:?}\n{}",
        t.elapsed(),
        connectivity::render::render(&r)
    );
    let f = r
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::GossipBlocked)
        .unwrap_or_else(|| panic!("{:#?}", r.findings));
    assert_eq!(f.hosts, vec!["node2"]);
    assert!(f.port.starts_with("7946"), "{}", f.port);
    assert!(
        !r.findings
            .iter()
            .any(|f| f.hosts.iter().any(|h| h != "node2")),
        "only node2 is blamed: {:#?}",
        r.findings
    );
    assert!(r.cell("node1", "node3").unwrap().all_passed());
    assert!(r.cell("node1", "node2").unwrap().dns.failed());
    assert!(r.cleaned_up);

    // Unblock, then an encrypted overlay on this kernel (no ESP/GCM): all data is lost.
    for proto in ["tcp", "udp"] {
        lab.undrop_port("node2", "INPUT", proto, 7946);
    }
    lab.create_overlay("secure", &["--opt", "encrypted"]);
    let t = Instant::now();
    let r = run(
        &rt,
        &c,
        Options {
            network: Some("secure".into()),
            ..Options::default()
        },
    );
    eprintln!(
        "encrypted run in {:?}\n{}",
        t.elapsed(),
        connectivity::render::render(&r)
    );
    assert!(r.network.as_ref().unwrap().encrypted);
    assert!(!r.network.as_ref().unwrap().temporary);
    let f = r
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::EncryptionUnsupported)
        .unwrap_or_else(|| panic!("{:#?}", r.findings));
    assert_eq!(f.hosts, vec!["node1", "node2", "node3"]);
    assert!(f.fix.contains("CONFIG_INET_ESP"));
    assert!(r.cells.iter().all(|c| c.icmp.failed()), "{}", r.to_json());
    // The user's network stays; the probes go.
    let nets = lab.ssh_ok(
        "node1",
        &["docker", "network", "ls", "--format", "{{.Name}}"],
    );
    assert!(nets.lines().any(|n| n == "secure"), "{nets}");
    for h in ["node1", "node2", "node3"] {
        let ps = lab.ssh_ok(
            h,
            &["docker", "ps", "-aq", "--filter", "label=swarmdeck.probe"],
        );
        assert!(ps.is_empty(), "{h}: {ps}");
    }
}

#[test]
fn engine_killed_mid_run_is_marked_and_the_others_are_cleaned() {
    let Some(lab) = TestLab::start(3) else {
        return;
    };
    lab.form_swarm(|_| {});
    let pid = lab.hosts[2].pids.dockerd.expect("dockerd pid");
    let tmp = tempfile::tempdir().unwrap();
    let c = lab.cluster(&tmp.path().join("kh"));
    let rt = rt();
    let opts = Options {
        run_timeout: Duration::from_secs(60),
        exec_timeout: Duration::from_secs(8),
        ..Options::default()
    };
    let t = Instant::now();
    let r = rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let run = tokio::spawn({
            let c = c.clone();
            async move { connectivity::run(&c, opts, Some(tx), CancellationToken::new()).await }
        });
        while let Some(p) = rx.recv().await {
            if p == Progress::Phase(Phase::Matrix) {
                // Only the pid the lab started.
                nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                )
                .unwrap();
                eprintln!("killed node3's dockerd at {:?}", t.elapsed());
            }
        }
        run.await.unwrap().unwrap()
    });
    let took = t.elapsed();
    eprintln!(
        "run with a dying engine in {took:?}\n{}",
        connectivity::render::render(&r)
    );
    assert!(
        took < Duration::from_secs(60 + 60 + 30),
        "bounded by its timeouts"
    );
    assert_eq!(r.host("node3").unwrap().state, HostState::EngineLost);
    assert!(
        kinds(&r).contains(&FindingKind::EngineDown),
        "{:#?}",
        r.findings
    );
    let f = r
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::EngineDown)
        .unwrap();
    assert_eq!(f.hosts, vec!["node3"]);
    assert!(!r.cleaned_up, "node3's probe could not be removed");
    assert!(!r.host("node3").unwrap().leftovers.is_empty());
    assert!(r.cell("node1", "node2").unwrap().all_passed());
    for h in ["node1", "node2"] {
        let ps = lab.ssh_ok(
            h,
            &["docker", "ps", "-aq", "--filter", "label=swarmdeck.probe"],
        );
        assert!(ps.is_empty(), "{h}: {ps}");
    }
    // The temporary network stays while the swarm still counts node3's attachment (its
    // engine is dead, so nothing can release it); the report says so, and a later run
    // sweeps it once it expires.
    let nets = lab.ssh_ok(
        "node1",
        &["docker", "network", "ls", "--format", "{{.Name}}"],
    );
    let net = &r.network.as_ref().unwrap().name;
    if nets.lines().any(|n| n == net) {
        let left = r.host("node1").unwrap().leftovers.join("; ");
        assert!(left.contains(net.as_str()), "{left}");
    }
}

/// Benchmark, not a test (no timing asserts): the full 3-host matrix through swarmdeck vs a
/// shell script doing the same `docker exec` checks over system ssh, in the same lab and run.
/// `cargo test --test connectivity bench -- --ignored --nocapture`
#[test]
#[ignore = "benchmark; run explicitly"]
fn bench_matrix_vs_shell_script() {
    let Some(lab) = TestLab::start(3) else {
        return;
    };
    lab.form_swarm(|_| {});
    let tmp = tempfile::tempdir().unwrap();
    let c = lab.cluster(&tmp.path().join("kh"));
    let rt = rt();
    // swarmdeck: everything (connect, sweep, underlay, network, probes, matrix, cleanup).
    let t = Instant::now();
    let r = run(&rt, &c, Options::default());
    let ours = t.elapsed();
    assert!(r.healthy(), "{}", r.to_json());
    let t = Instant::now();
    let r = run(&rt, &c, Options::default());
    let ours_warm = t.elapsed();
    assert!(r.healthy(), "{}", connectivity::render::render(&r));

    // The script's probes are set up beforehand and not timed (in its favour).
    lab.create_overlay("benchnet", &[]);
    let mut ips = Vec::new();
    for h in ["node1", "node2", "node3"] {
        lab.ssh_ok(
            h,
            &[
                "docker",
                "run",
                "-d",
                "--name",
                &format!("b-{h}"),
                "--network",
                "benchnet",
                "swarmdeck/probe:1",
                "sh",
                "-c",
                "nc -ll -p 7777 -e /bin/cat & exec sleep 600",
            ],
        );
        ips.push(lab.ssh_ok(
            h,
            &[
                "docker",
                "inspect",
                "-f",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                &format!("b-{h}"),
            ],
        ));
    }
    std::thread::sleep(Duration::from_secs(2));
    let ssh = format!(
        "ssh -i {} -o UserKnownHostsFile={} -o IdentitiesOnly=yes -o BatchMode=yes",
        lab.key.display(),
        lab.known_hosts.display()
    );
    let mut script = String::from("set -u\n");
    for (i, a) in lab.hosts.iter().enumerate() {
        for (j, _) in lab.hosts.iter().enumerate().filter(|(j, _)| *j != i) {
            let (from, to, ip) = (
                format!("b-node{}", i + 1),
                format!("b-node{}", j + 1),
                &ips[j],
            );
            let ex = format!("{ssh} root@{} docker exec {from}", a.ip);
            script.push_str(&format!(
                "( {ex} nslookup {to} >/dev/null; {ex} ping -c 3 -W 1 {ip} >/dev/null; \
                 {ex} sh -c \"'echo x | nc -w 2 {ip} 7777'\" >/dev/null; \
                 {ex} ping -c 2 -W 1 -s 1422 {ip} >/dev/null ) &\n"
            ));
        }
    }
    script.push_str("wait\n");
    let t = Instant::now();
    let st = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .status()
        .unwrap();
    let shell = t.elapsed();
    assert!(st.success());
    eprintln!(
        "BENCH 3-host matrix (6 pairs x 4 checks):\n  swarmdeck full run (setup, matrix, \
         underlay, cleanup): {ours:?} (warm: {ours_warm:?})\n  shell script, docker exec over \
         ssh, pairs in parallel, probes pre-started: {shell:?}"
    );
}
