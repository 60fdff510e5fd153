//! The Hosts panel against a real lab host whose recorded key does not match: the app
//! drives the real engine through its service, and refuses loudly with no way to override.

mod common;

use std::time::{Duration, Instant};

use common::lab::TestLab;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use swarmdeck::inventory::{AuthMethod, HostSpec, Inventory};
use swarmdeck::ui::{Panel, RunOptions, SwarmdeckApp};

/// Steps the app until `done` holds (the service answers asynchronously).
fn run_until(h: &mut Harness<'_, SwarmdeckApp>, what: &str, done: impl Fn(&SwarmdeckApp) -> bool) {
    let start = Instant::now();
    while !done(h.state()) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        h.run_steps(1);
        std::thread::sleep(Duration::from_millis(20));
    }
    h.run_steps(2);
}

#[test]
fn changed_host_key_is_refused_loudly_in_the_app() {
    let Some(lab) = TestLab::start(1) else { return };
    let dir = tempfile::tempdir().unwrap();
    // A known_hosts that records a different key for the host: what a MITM looks like.
    let other = dir.path().join("other");
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .unwrap();
    assert!(st.success());
    let fake = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let fake: Vec<&str> = fake.split_whitespace().take(2).collect();
    let kh = dir.path().join("recorded_hosts");
    std::fs::write(&kh, format!("{} {}\n", lab.hosts[0].ip, fake.join(" "))).unwrap();

    let inv_path = dir.path().join("inv.toml");
    let mut host = HostSpec::parse_target(
        &format!("root@{}", lab.hosts[0].ip),
        AuthMethod::Key {
            path: lab.key.clone(),
        },
    )
    .unwrap();
    host.name = "node1".into();
    Inventory {
        known_hosts: vec![kh.clone()],
        hosts: vec![host],
    }
    .save(&inv_path)
    .unwrap();

    let opts = RunOptions {
        inventory: Some(inv_path),
        panel: Some(Panel::Hosts),
        ..Default::default()
    };
    let mut h = Harness::builder()
        .with_size([1280.0, 820.0])
        .build_eframe(move |cc| SwarmdeckApp::new(&cc.egui_ctx, opts));
    run_until(&mut h, "the inventory", |a| {
        a.state.hosts.inventory.is_some()
    });
    h.get_by_label("Test").click();
    run_until(&mut h, "the connection test", |a| {
        matches!(
            a.state.hosts.tests.get("node1"),
            Some(swarmdeck::ui::TestState::Done(_))
        )
    });
    h.get_by_label("⛔ Host key changed — connection refused");
    h.get_by_label("The SSH host key of node1 has CHANGED.");
    // The refusal names the file and line to look at (in the dialog, and in the notice
    // from the snapshot the app took on opening).
    assert!(
        h.query_all_by_label_contains("recorded_hosts:1")
            .next()
            .is_some()
    );
    assert!(
        h.query_by_label("Trust this key and connect").is_none(),
        "a changed key must not be trustable from the app"
    );
    h.get_by_label("Close").click();
    h.run_steps(2);
    assert!(
        h.query_by_label("⛔ Host key changed — connection refused")
            .is_none()
    );
    h.get_by_label("⛔ HOST KEY CHANGED: refused");
}
