//! `bench faults`: time to truth. On a 3-manager lab, each fault of
//! [`crate::lab::fault::Fault`] is injected on node2, and three clocks start:
//! - `status`: a fresh connection and snapshot (what `swarmdeck status` does), taken again
//!   until it shows the fault;
//! - the live view (the app's service, following events and its heartbeat) until it shows
//!   the fault, and after healing until it shows every host healthy again;
//! - the plain docker CLI: `docker -H ssh://root@node2 node ls` once (the sick host itself:
//!   how long until it answers or fails, hung ones killed at 30 s), and
//!   `docker -H ssh://root@node1 node ls` again and again until node2 is no longer
//!   Ready/Reachable there (for the faults the swarm itself notices).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::docker_cli::{COMMAND_TIMEOUT, DockerCli};
use super::lab_guard::LabGuard;
use crate::cluster::Cluster;
use crate::lab::fault::{self, Fault};
use crate::live_view::LiveView;
use crate::snapshot::ClusterSnapshot;
use crate::ssh::{HostKeyPolicy, NoSecrets, SshOptions};

/// The promise: every fault is shown within this.
pub const BOUND: Duration = Duration::from_secs(10);
/// A clock still running after this has failed to show the truth.
const GIVE_UP: Duration = Duration::from_secs(60);
const TARGET: usize = 1;

/// What one fault measured; `None`: not shown within [`GIVE_UP`].
#[derive(Debug, Clone)]
pub struct FaultTimes {
    pub fault: Fault,
    pub status: Option<Duration>,
    pub live: Option<Duration>,
    pub recovered: Option<Duration>,
    /// The docker CLI asked on the sick host: how it ended and when.
    pub docker_sick: (Duration, &'static str),
    /// The docker CLI on node1 showing node2 not ready/reachable (faults the swarm sees).
    pub docker_swarm: Option<Option<Duration>>,
}

pub fn run(rt: &tokio::runtime::Runtime, log: &mut dyn FnMut(&str)) -> anyhow::Result<String> {
    let guard = LabGuard::up(3)?;
    let lab = &guard.lab;
    guard.ssh(
        "node1",
        &format!(
            "docker swarm init --advertise-addr {} >/dev/null",
            lab.hosts[0].ip
        ),
        None,
        false,
    )?;
    let token = guard.ssh("node1", "docker swarm join-token -q manager", None, true)?;
    for h in &lab.hosts[1..] {
        let line = format!(
            "read -r t; docker swarm join --token \"$t\" {}:2377 >/dev/null",
            lab.hosts[0].ip
        );
        guard.ssh(&h.name, &line, Some(token.trim()), false)?;
    }
    let dir = tempfile::tempdir()?;
    let docker = DockerCli::new(lab, dir.path())?;
    let mut view = LiveView::open(&lab.inventory)?;
    view.until(Instant::now(), GIVE_UP, fault::all_healthy)
        .context("the live view never showed the healthy swarm")?;
    let mut rows = Vec::new();
    for f in Fault::ALL {
        log(&format!("{} on node2", f.name()));
        let injected = lab.inject(f, TARGET)?;
        let start = Instant::now();
        let hit = injected.hosts.clone();
        // Every clock runs at once, from the fault on.
        let shown = |s: &ClusterSnapshot| f.is_shown(s, &hit);
        let (live, status, docker_sick, docker_swarm) = std::thread::scope(|scope| {
            let status = scope.spawn(|| status_until(rt, lab, start, shown));
            let sick = scope.spawn(|| sick_host(&docker, lab, f));
            let swarm = scope.spawn(|| swarm_sees(f).then(|| docker_sees(&docker, lab, start)));
            let live = view.until(start, GIVE_UP, shown);
            let clock = "a bench clock panicked";
            (
                live,
                status.join().expect(clock),
                sick.join().expect(clock),
                swarm.join().expect(clock),
            )
        });
        lab.heal(injected)?;
        let healed = Instant::now();
        let recovered = view.until(healed, GIVE_UP, fault::all_healthy);
        rows.push(FaultTimes {
            fault: f,
            status,
            live,
            recovered,
            docker_sick,
            docker_swarm,
        });
    }
    drop(view);
    guard.down()?;
    Ok(render(&rows, &docker.version))
}

/// Faults the swarm itself notices, so `node ls` on a healthy manager can show them.
fn swarm_sees(f: Fault) -> bool {
    matches!(
        f,
        Fault::EngineHung | Fault::EngineKilled | Fault::CutFromPeers
    )
}

/// Time from `start` until a fresh connection's snapshot shows `want`.
fn status_until(
    rt: &tokio::runtime::Runtime,
    lab: &crate::lab::Lab,
    start: Instant,
    want: impl Fn(&ClusterSnapshot) -> bool,
) -> Option<Duration> {
    let inventory = crate::inventory::Inventory::load(&lab.inventory).ok()?;
    while start.elapsed() < GIVE_UP {
        let opts = SshOptions::for_inventory(&inventory, HostKeyPolicy::Strict);
        let cluster = Cluster::new(inventory.clone(), "bench", opts, Arc::new(NoSecrets));
        let snap = rt.block_on(cluster.snapshot());
        if want(&snap) {
            return Some(start.elapsed());
        }
    }
    None
}

/// `docker -H ssh://root@node2 node ls` once: when it ended, and how.
fn sick_host(docker: &DockerCli, lab: &crate::lab::Lab, f: Fault) -> (Duration, &'static str) {
    let ip = match f {
        Fault::QuorumLost => lab.hosts[0].ip,
        _ => lab.hosts[TARGET].ip,
    };
    let t = Instant::now();
    let outcome = match docker.output(ip, &["node", "ls"]) {
        Ok(Some(_)) => "answered",
        Ok(None) => "hung (killed)",
        Err(_) => "failed",
    };
    (t.elapsed(), outcome)
}

/// Time until `docker node ls` on node1 shows node2 not Ready or not Reachable.
fn docker_sees(docker: &DockerCli, lab: &crate::lab::Lab, start: Instant) -> Option<Duration> {
    let node2 = lab.hosts[TARGET].name.as_str();
    while start.elapsed() < GIVE_UP {
        let args = [
            "node",
            "ls",
            "--format",
            "{{.Hostname}} {{.Status}} {{.ManagerStatus}}",
        ];
        if let Ok(Some(out)) = docker.output(lab.hosts[0].ip, &args) {
            let shown = out.lines().any(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.first() == Some(&node2)
                    && (w.get(1) != Some(&"Ready") || w.get(2) == Some(&"Unreachable"))
            });
            if shown {
                return Some(start.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

fn secs(d: Option<Duration>) -> String {
    d.map_or_else(
        || format!("> {} s", GIVE_UP.as_secs()),
        |d| format!("{:.1} s", d.as_secs_f64()),
    )
}

fn render(rows: &[FaultTimes], docker_version: &str) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "swarmdeck-bench faults: time to truth on a 3-manager lab, fault on node2 (bound {} s)",
        BOUND.as_secs()
    );
    let _ = writeln!(
        out,
        "{:<24} {:>9} {:>9} {:>10} {:>24} {:>18}",
        "fault", "status", "live view", "recovered", "docker node ls on node2", "node1 shows it"
    );
    for r in rows {
        let sick = format!(
            "{} after {:.1} s",
            r.docker_sick.1,
            r.docker_sick.0.as_secs_f64()
        );
        let swarm = match r.docker_swarm {
            None => "-".to_string(),
            Some(t) => secs(t),
        };
        let _ = writeln!(
            out,
            "{:<24} {:>9} {:>9} {:>10} {:>24} {:>18}",
            r.fault.name(),
            secs(r.status),
            secs(r.live),
            secs(r.recovered),
            sick,
            swarm
        );
    }
    let within = |d: Option<Duration>| d.is_some_and(|d| d <= BOUND);
    let met = rows
        .iter()
        .all(|r| within(r.status) && within(r.live) && within(r.recovered));
    let _ = writeln!(
        out,
        "target: status and live view show every fault, and recover, within {} s — {}",
        BOUND.as_secs(),
        if met { "met" } else { "NOT MET" }
    );
    let _ = writeln!(
        out,
        "note: {docker_version}; docker commands are killed after {} s (hung)",
        COMMAND_TIMEOUT.as_secs()
    );
    out
}
