//! The fault matrix: every operation against every way a host misbehaves, on a real
//! 3-manager lab (real sshd, real dockerd). For each fault on node2 (an engine hung or
//! killed, sshd hung or killed, node2 cut off from the workstation or from the other hosts,
//! 30 % packet loss, a thin link, and quorum lost), each cell checks that the operation
//! returns, names the host and the layer, loses nothing (every applied step audited, no
//! probe left behind), and that the app's live view recovers by itself once the fault is
//! healed. The matrix is printed with the measured times; the 10 s bounds live in
//! `swarmdeck-bench faults`, not in asserts that would flake on a loaded machine.

mod common;

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use common::lab::TestLab;
use swarmdeck::connectivity::{HostState, Report};
use swarmdeck::lab::fault::{self, Fault};
use swarmdeck::live_view::LiveView;
use swarmdeck::snapshot::ClusterSnapshot;

/// Generous caps: a cell that has not answered by then is hung, which is the bug this
/// test exists to catch. Time to truth itself is measured, not asserted.
const CAP: Duration = Duration::from_secs(90);
/// node2: a manager, not the leader.
const TARGET: usize = 1;

struct Cli {
    inventory: PathBuf,
    home: tempfile::TempDir,
    audit: PathBuf,
}

impl Cli {
    fn new(lab: &TestLab) -> Cli {
        let home = tempfile::tempdir().unwrap();
        let audit = home.path().join("audit.jsonl");
        Cli {
            inventory: lab.inventory.clone(),
            home,
            audit,
        }
    }

    /// Runs the CLI with a hard cap; returns its output and how long it took.
    fn run(&self, args: &[&str]) -> (Output, Duration) {
        let t = Instant::now();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_swarmdeck"))
            .arg("--inventory")
            .arg(&self.inventory)
            .args(args)
            .env("HOME", self.home.path())
            .env("SWARMDECK_AUDIT_LOG", &self.audit)
            .env("SWARMDECK_CONNECTIVITY_HISTORY", self.home.path().join("h"))
            .env_remove("SWARMDECK_LOG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        loop {
            if child.try_wait().unwrap().is_some() {
                return (child.wait_with_output().unwrap(), t.elapsed());
            }
            if t.elapsed() > CAP {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "swarmdeck {args:?} hung for {CAP:?}:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn audit_lines(&self) -> usize {
        std::fs::read_to_string(&self.audit)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Waits until the app's live view satisfies `want`; how long it took, and the snapshot.
fn until(
    view: &mut LiveView,
    want: impl Fn(&ClusterSnapshot) -> bool,
    what: &str,
) -> (Duration, ClusterSnapshot) {
    match view.until(Instant::now(), CAP, want) {
        Some(t) => (t, view.current.clone().expect("a snapshot was shown")),
        None => panic!(
            "live view: {what} not shown within {CAP:?}; last: {:#?}",
            view.current
        ),
    }
}

/// One row of the printed matrix: the measured seconds of each cell.
struct Row {
    fault: Fault,
    live: Duration,
    status: Duration,
    preflight: Duration,
    plan: Duration,
    node: Duration,
    connectivity: Duration,
    recovered: Duration,
}

fn three_managers(lab: &TestLab) {
    lab.form_swarm(|_| {});
    lab.ssh_ok("node1", &["docker", "node", "promote", "node2", "node3"]);
    lab.create_overlay("faultnet", &[]);
}

/// What every CLI cell printed must name the host (and, where one host fails, its layer).
fn names_host(fault: Fault, hit: &[String], said: &str) -> bool {
    match fault {
        // The hosts still work: nothing to name.
        Fault::PacketLoss | Fault::ThinLink | Fault::CutFromPeers => true,
        // Two engines down, or (once the survivor notices) the lost majority itself.
        Fault::QuorumLost => {
            said.contains("quorum") || hit.iter().any(|h| said.contains(h.as_str()))
        }
        _ => hit.iter().all(|h| said.contains(h.as_str())),
    }
}

#[test]
fn fault_matrix() {
    let Some(lab) = TestLab::start(3) else { return };
    three_managers(&lab);
    let cli = Cli::new(&lab);
    let mut view = LiveView::open(&lab.inventory).expect("the service starts");
    until(&mut view, fault::all_healthy, "a healthy 3-manager swarm");

    let mut rows = Vec::new();
    for f in Fault::ALL {
        eprintln!("\n===== {} on node2 =====", f.name());
        let injected = lab.inject(f, TARGET).unwrap();
        let hit = injected.hosts.clone();
        let (shown_after, shown) = until(&mut view, |s| f.is_shown(s, &hit), f.name());
        eprintln!("live view after {shown_after:?}: {:?}", shown.hosts);
        let row = std::thread::scope(|s| {
            let status = s.spawn(|| check_status(&cli, f, &hit));
            let preflight = s.spawn(|| check_names(&cli, f, &hit, &["preflight"]));
            let plan = s.spawn(|| check_names(&cli, f, &hit, &["bootstrap", "--managers", "3"]));
            let conn = s.spawn(|| check_connectivity(&cli, &lab, f, &hit));
            let node = check_node_action(&cli, f);
            Row {
                fault: f,
                live: shown_after,
                status: status.join().unwrap(),
                preflight: preflight.join().unwrap(),
                plan: plan.join().unwrap(),
                node,
                connectivity: conn.join().unwrap(),
                recovered: Duration::ZERO,
            }
        });
        lab.heal(injected).unwrap();
        let (recovered, _) = until(&mut view, fault::all_healthy, "recovery");
        no_probes_left(&lab);
        let (out, _) = cli.run(&["status"]);
        assert!(
            out.status.success(),
            "status after healing:\n{}",
            text(&out)
        );
        rows.push(Row { recovered, ..row });
    }
    print_matrix(&rows);
}

fn check_status(cli: &Cli, f: Fault, hit: &[String]) -> Duration {
    let (out, took) = cli.run(&["status", "--json"]);
    let snap = ClusterSnapshot::from_json(&String::from_utf8_lossy(&out.stdout))
        .unwrap_or_else(|e| panic!("status --json under {}: {e}\n{}", f.name(), text(&out)));
    assert!(
        f.is_shown(&snap, hit),
        "status under {} does not show it: {:#?}",
        f.name(),
        snap.hosts
    );
    took
}

/// An operation that must return and name the host it could not use.
fn check_names(cli: &Cli, f: Fault, hit: &[String], args: &[&str]) -> Duration {
    let (out, took) = cli.run(args);
    let said = text(&out);
    assert!(
        out.status.success() || names_host(f, hit, &said),
        "{args:?} under {} failed without naming {hit:?}:\n{said}",
        f.name()
    );
    eprintln!("--- {args:?} under {} ({took:?}):\n{said}", f.name());
    took
}

/// A node action on a healthy node: it returns, and every step it applied is audited.
fn check_node_action(cli: &Cli, f: Fault) -> Duration {
    let before = cli.audit_lines();
    let mut took = Duration::ZERO;
    let mut steps = 0;
    for args in [
        ["node", "pause", "node1", "--yes"],
        ["node", "activate", "node1", "--yes"],
    ] {
        let (out, t) = cli.run(&args);
        took += t;
        let said = text(&out);
        eprintln!("--- {args:?} under {} ({t:?}):\n{said}", f.name());
        steps += said
            .lines()
            .filter(|l| l.trim_start().starts_with("done") || l.trim_start().starts_with("FAILED"))
            .count();
        if f == Fault::QuorumLost {
            assert!(
                !out.status.success(),
                "a node action without quorum: {said}"
            );
        }
    }
    assert_eq!(
        cli.audit_lines() - before,
        steps,
        "every applied step is in the audit log"
    );
    took
}

fn check_connectivity(cli: &Cli, lab: &TestLab, f: Fault, hit: &[String]) -> Duration {
    let (out, took) = cli.run(&["connectivity", "--network", "faultnet", "--json"]);
    let report: Report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("connectivity under {}: {e}\n{}", f.name(), text(&out)));
    let host_fault = matches!(
        f,
        Fault::EngineHung
            | Fault::EngineKilled
            | Fault::SshdHung
            | Fault::SshdKilled
            | Fault::CutFromWorkstation
            | Fault::QuorumLost
    );
    for h in hit.iter().filter(|_| host_fault) {
        let r = report.hosts.iter().find(|r| &r.host == h).unwrap();
        let want = match f {
            Fault::EngineHung | Fault::EngineKilled | Fault::QuorumLost => HostState::EngineDown,
            _ => HostState::SshDown,
        };
        assert_eq!(r.state, want, "{h} under {}: {:?}", f.name(), r.error);
    }
    // What the run started on the hosts it could reach is gone.
    for h in lab
        .hosts
        .iter()
        .filter(|h| !hit.contains(&h.name) || !host_fault)
    {
        probes_gone(lab, &h.name, f);
    }
    took
}

fn probes_gone(lab: &TestLab, host: &str, f: Fault) {
    let left = lab.ssh_ok(
        host,
        &[
            "docker",
            "ps",
            "-aq",
            "--filter",
            &format!("label={}", swarmdeck::connectivity::probe::LABEL),
        ],
    );
    assert!(
        left.is_empty(),
        "{host}: probes left after {}: {left}",
        f.name()
    );
}

fn no_probes_left(lab: &TestLab) {
    for h in &lab.hosts {
        let deadline = Instant::now() + CAP;
        // The engine that was down may still be coming back.
        while !lab.ssh(&h.name, &["docker", "info"]).status.success() {
            assert!(Instant::now() < deadline, "{} did not come back", h.name);
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn print_matrix(rows: &[Row]) {
    let s = |d: Duration| format!("{:.1}", d.as_secs_f64());
    eprintln!("\nfault matrix (seconds; each cell returned, named host and layer, lost nothing)");
    eprintln!(
        "{:<24} {:>6} {:>7} {:>9} {:>6} {:>6} {:>7} {:>9}",
        "fault on node2", "live", "status", "preflight", "plan", "node", "connect", "recovered"
    );
    for r in rows {
        eprintln!(
            "{:<24} {:>6} {:>7} {:>9} {:>6} {:>6} {:>7} {:>9}",
            r.fault.name(),
            s(r.live),
            s(r.status),
            s(r.preflight),
            s(r.plan),
            s(r.node),
            s(r.connectivity),
            s(r.recovered)
        );
    }
}
