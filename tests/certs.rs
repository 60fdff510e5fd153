//! Swarm certificates against a real lab of one manager and two workers: every node's
//! certificate as `swarmdeck cert ls` reads it matches `openssl x509` on that host; a new
//! lifetime (`cert expiry 48h`) reaches every node after a CA rotation (`cert rotate`),
//! which completes with progress output and leaves the swarm healthy; a node that is down
//! during a rotation is named when the wait ends, and the rotation completes once it is
//! back; a host whose sshd hangs is named with its layer while the others are shown.
//!
//! A node that cannot rejoin because its certificate expired cannot be made here (swarm's
//! shortest lifetime is 1 h and a lab host's clock is the workstation's): its diagnosis is
//! unit-tested on engine info of the shape moby reports (`certs::findings`).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::lab::TestLab;

/// What the test compares, per node, from `cert ls --json`.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    host: String,
    node_id: String,
    role: String,
    not_before: i64,
    not_after: i64,
    ca: String,
}

fn cert_ls(lab: &TestLab, home: &Path) -> (Vec<Row>, serde_json::Value) {
    let (ok, out, err) = common::swarmdeck_cli(lab, home, &["cert", "ls", "--json"]);
    assert!(ok, "cert ls failed:\n{out}{err}");
    let v: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"));
    let rows = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| Row {
            host: r["host"].as_str().unwrap_or_else(|| panic!("{r}")).into(),
            node_id: r["node_id"].as_str().unwrap().into(),
            role: r["role"].as_str().unwrap().into(),
            not_before: r["not_before"].as_i64().unwrap(),
            not_after: r["not_after"].as_i64().unwrap(),
            ca: r["ca"].as_str().unwrap().into(),
        })
        .collect();
    (rows, v)
}

/// A host's node certificate as openssl reads it from the engine's own data root:
/// (not-before, not-after) in seconds since the epoch.
fn openssl_dates(lab: &TestLab, host: &str) -> (i64, i64) {
    let root = lab.ssh_ok(host, &["docker", "info", "--format", "{{.DockerRootDir}}"]);
    let file = format!("{root}/swarm/certificates/swarm-node.crt");
    let date = |flag: &str| -> i64 {
        let line = lab.ssh_ok(host, &["openssl", "x509", flag, "-noout", "-in", &file]);
        let (_, when) = line.split_once('=').expect("openssl prints key=date");
        lab.ssh_ok(host, &["date", "-u", "-d", when, "+%s"])
            .parse()
            .unwrap()
    };
    (date("-startdate"), date("-enddate"))
}

/// Every node's certificate as swarmdeck read it matches openssl on the node's own host,
/// and the host's engine says it is that node.
fn assert_matches_openssl(lab: &TestLab, rows: &[Row]) {
    assert_eq!(rows.len(), 3, "{rows:#?}");
    for r in rows {
        let (start, end) = openssl_dates(lab, &r.host);
        assert_eq!(
            (r.not_before, r.not_after),
            (start, end),
            "{}: swarmdeck and openssl disagree",
            r.host
        );
        let id = lab.ssh_ok(
            &r.host,
            &["docker", "info", "--format", "{{.Swarm.NodeID}}"],
        );
        assert_eq!(
            r.node_id, id,
            "{}: the certificate names another node",
            r.host
        );
        let want = if r.host == "node1" {
            "manager"
        } else {
            "worker"
        };
        assert_eq!(r.role, want, "{}", r.host);
    }
}

const DAYS_90: i64 = 90 * 24 * 3600;

fn service_running(lab: &TestLab, name: &str, want: usize) -> bool {
    let out = lab.ssh_ok(
        "node1",
        &[
            "docker",
            "service",
            "ps",
            name,
            "--filter",
            "desired-state=running",
            "--format",
            "{{.CurrentState}}",
        ],
    );
    out.lines().filter(|l| l.starts_with("Running")).count() == want
}

fn wait_for(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn certificates_match_openssl_rotation_reaches_every_node_or_names_a_down_one_and_a_hung_host_is_named()
 {
    let Some(lab) = TestLab::start(3) else { return };
    let home = tempfile::tempdir().unwrap();
    let audit = home.path().join("audit.jsonl");
    let audit = audit.to_str().unwrap();
    lab.form_swarm(|_| {});
    lab.create_service("web", &["--replicas", "3"], &["sleep", "3600"]);
    wait_for("web 3/3 running", Duration::from_secs(120), || {
        service_running(&lab, "web", 3)
    });

    // Every node's certificate, read from its own host, as openssl reads it.
    let (before, listing) = cert_ls(&lab, home.path());
    assert_matches_openssl(&lab, &before);
    assert!(
        listing["findings"].as_array().unwrap().is_empty(),
        "a fresh swarm has no certificate findings: {}",
        listing["findings"]
    );
    for r in &before {
        // Swarm's default, 90 days (its start backdated a little).
        let life = r.not_after - r.not_before;
        assert!((DAYS_90..=DAYS_90 + 3600).contains(&life), "{r:?}");
    }
    let (ok, text, err) = common::swarmdeck_cli(&lab, home.path(), &["cert", "ls"]);
    assert!(ok, "{text}{err}");
    eprintln!("{text}");
    assert!(text.contains("NOT AFTER"), "{text}");
    for host in ["node1", "node2", "node3"] {
        let line = text.lines().find(|l| l.starts_with(host));
        assert!(line.is_some_and(|l| l.ends_with(" ok")), "{host}: {text}");
    }
    let old_ca = before[0].ca.clone();
    assert!(before.iter().all(|r| r.ca == old_ca), "{before:#?}");

    // The lifetime: planned without --yes (nothing changes), applied with it, audited.
    let (ok, out, err) = common::swarmdeck_cli(&lab, home.path(), &["cert", "expiry", "48h"]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("$ docker swarm update --cert-expiry 48h0m0s"),
        "{out}"
    );
    assert!(out.contains("not applied"), "{out}");
    let expiry = || {
        lab.ssh_ok(
            "node1",
            &[
                "docker",
                "info",
                "--format",
                "{{.Swarm.Cluster.Spec.CAConfig.NodeCertExpiry}}",
            ],
        )
    };
    assert_eq!(expiry(), "2160h0m0s");
    let (ok, out, err) = common::swarmdeck_cli(
        &lab,
        home.path(),
        &["cert", "expiry", "48h", "--yes", "--audit-log", audit],
    );
    assert!(ok, "{out}{err}");
    assert_eq!(expiry(), "48h0m0s");
    let log = std::fs::read_to_string(audit).unwrap();
    assert!(
        log.contains("docker swarm update --cert-expiry 48h0m0s") && log.contains("\"ok\""),
        "{log}"
    );

    // The rotation reissues every certificate from a new root, with the new lifetime.
    let (ok, out, err) = common::swarmdeck_cli(
        &lab,
        home.path(),
        &["cert", "rotate", "--yes", "--audit-log", audit],
    );
    assert!(ok, "cert rotate failed:\n{out}{err}");
    assert!(out.contains("$ docker swarm ca --rotate"), "{out}");
    assert!(out.contains("3/3 nodes on the new CA"), "{out}");
    assert!(out.contains("CA rotation complete"), "{out}");
    eprintln!("{out}");
    assert!(
        std::fs::read_to_string(audit)
            .unwrap()
            .contains("docker swarm ca --rotate")
    );

    let (after, listing) = cert_ls(&lab, home.path());
    assert_matches_openssl(&lab, &after);
    let new_ca = after[0].ca.clone();
    assert_ne!(new_ca, old_ca, "the rotation made a new root");
    let mut lifetimes = BTreeMap::new();
    for r in &after {
        assert_eq!(r.ca, new_ca, "{} is on the new CA", r.host);
        lifetimes.insert(r.host.clone(), r.not_after - r.not_before);
    }
    eprintln!("lifetimes after the rotation (s): {lifetimes:?}");
    for (host, life) in &lifetimes {
        // Swarm backdates a certificate's start a little; 48 h is the rest.
        assert!(
            (48 * 3600..=48 * 3600 + 3600).contains(life),
            "{host}: lifetime {life} s is not 48 h: {lifetimes:?}"
        );
    }
    assert_eq!(
        listing["report"]["swarm"]["node_cert_expiry"].as_u64(),
        Some(48 * 3600)
    );

    // The swarm stays healthy: every node ready, the service's tasks running.
    let nodes = lab.ssh_ok(
        "node1",
        &["docker", "node", "ls", "--format", "{{.Status}}"],
    );
    assert_eq!(
        nodes.lines().filter(|l| *l == "Ready").count(),
        3,
        "{nodes}"
    );
    wait_for(
        "web 3/3 running after the rotation",
        Duration::from_secs(60),
        || service_running(&lab, "web", 3),
    );

    a_node_that_does_not_follow_a_rotation_is_named(&lab, home.path(), audit);
    hung_host_is_named_and_holds_no_other(&lab, home.path());
}

/// node3's engine killed: a rotation's follow ends at its deadline naming node3 (down);
/// node3 back, the rotation completes and every node is on the newest CA.
fn a_node_that_does_not_follow_a_rotation_is_named(lab: &TestLab, home: &Path, audit: &str) {
    let injected = lab
        .inject(swarmdeck::lab::fault::Fault::EngineKilled, 2)
        .unwrap();
    wait_for("node3 down", Duration::from_secs(90), || {
        lab.ssh_ok(
            "node1",
            &[
                "docker",
                "node",
                "inspect",
                "node3",
                "--format",
                "{{.Status.State}}",
            ],
        ) == "down"
    });
    let (ok, out, err) = common::swarmdeck_cli(
        lab,
        home,
        &[
            "cert",
            "rotate",
            "--yes",
            "--wait-timeout",
            "20",
            "--audit-log",
            audit,
        ],
    );
    eprintln!("rotation with node3 down:\n{out}{err}");
    assert!(
        !ok,
        "a rotation a down node cannot follow does not end well"
    );
    assert!(
        err.contains("did not finish within 20 s")
            && err.contains("not yet on the new CA: node3 (")
            && err.contains(", down). The rotation goes on"),
        "{err}"
    );
    lab.heal(injected).unwrap();
    wait_for(
        "the rotation completes once node3 is back",
        Duration::from_secs(120),
        || rotation_done(lab, home),
    );
}

/// No rotation in progress, and every node's certificate, read from its host, is from the
/// swarm's root (a node whose engine is still starting has none yet).
fn rotation_done(lab: &TestLab, home: &Path) -> bool {
    let (ok, out, _) = common::swarmdeck_cli(lab, home, &["cert", "ls", "--json"]);
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&out) else {
        return false;
    };
    let swarm = &v["report"]["swarm"];
    let rows = v["rows"].as_array().cloned().unwrap_or_default();
    ok && swarm["rotation_in_progress"] == false
        && rows.len() == 3
        && rows.iter().all(|r| r["ca"] == swarm["root"]["key_id"])
}

/// node3's sshd hung: `cert ls` still shows node1's and node2's certificates, names node3
/// with its layer, and ends within node3's one deadline.
fn hung_host_is_named_and_holds_no_other(lab: &TestLab, home: &Path) {
    let injected = lab
        .inject(swarmdeck::lab::fault::Fault::SshdHung, 2)
        .unwrap();
    let start = Instant::now();
    let (ok, out, err) = common::swarmdeck_cli(lab, home, &["cert", "ls", "--json"]);
    let took = start.elapsed();
    lab.heal(injected).unwrap();
    assert!(ok, "{out}{err}");
    eprintln!("cert ls with node3's sshd hung took {took:?}");
    // Connect 5 s, login 8 s, then the reads: the host's budget, never the others' time.
    assert!(took < Duration::from_secs(40), "{took:?}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{out}");
    for r in rows {
        match r["hostname"].as_str().unwrap() {
            "node3" => {
                assert!(r["host"].is_null() && r["not_after"].is_null(), "{r}");
                assert!(r["note"].as_str().unwrap().contains("node3"), "{r}");
            }
            _ => assert!(r["not_after"].as_i64().is_some(), "{r}"),
        }
    }
    let node3 = v["report"]["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == "node3")
        .unwrap();
    assert_eq!(node3["failures"][0]["layer"], "ssh", "{node3}");
}
