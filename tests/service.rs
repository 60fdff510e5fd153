//! The GUI's service thread against a real lab: snapshots arrive as events, and changes on
//! the hosts arrive by themselves (Docker events), without another refresh command.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::lab::TestLab;
use swarmdeck::service::{Command, Event, ServiceHandle};
use swarmdeck::snapshot::ClusterSnapshot;

/// Waits for a snapshot that satisfies `want`, failing after `limit`.
fn wait_for(
    svc: &mut ServiceHandle,
    limit: Duration,
    want: impl Fn(&ClusterSnapshot) -> bool,
) -> ClusterSnapshot {
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < limit {
        while let Some(ev) = svc.try_recv() {
            match ev {
                Event::Snapshot(s) if want(&s) => return *s,
                Event::Snapshot(s) => last = Some(s),
                Event::Notice(n) => eprintln!("notice: {}", n.text),
                _ => {}
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no matching snapshot within {limit:?}; last: {last:#?}");
}

#[test]
fn snapshots_follow_docker_events_without_polling() {
    let Some(lab) = TestLab::start(2) else { return };
    let ip1 = lab.hosts[0].ip.to_string();
    lab.ssh_ok(
        "node1",
        &["docker", "swarm", "init", "--advertise-addr", &ip1],
    );

    // The service reads the lab's inventory, which names the lab's known_hosts.
    let mut svc = ServiceHandle::spawn(Arc::new(|| {})).expect("service starts");
    svc.send(Command::Refresh {
        inventory: lab.inventory.clone(),
    })
    .unwrap();
    let first = wait_for(&mut svc, Duration::from_secs(20), |s| s.swarm.is_some());
    assert_eq!(first.nodes.len(), 1);
    assert!(!first.networks.iter().any(|n| n.name == "livenet"));

    // A change made behind swarmdeck's back shows up on its own.
    lab.create_overlay("livenet", &[]);
    let next = wait_for(&mut svc, Duration::from_secs(20), |s| {
        s.networks.iter().any(|n| n.name == "livenet")
    });
    let net = next.networks.iter().find(|n| n.name == "livenet").unwrap();
    assert!(net.attachable);
    assert!(!next.to_json().contains("SWMTKN-"));
}
