//! `bench live`: how soon a change made elsewhere shows. On a 3-manager lab a service is
//! scaled by the plain docker CLI on a manager (1 → 2, then back), and two clocks start when
//! that command returns: the app's live view (the service following events) until it shows
//! every replica running, and the docker CLI asking `docker service ls` over ssh again and
//! again (what `watch docker service ls` does) until it shows the same. `sleep` as a
//! container's first process ignores SIGTERM, so the service stops its tasks after 1 s.

use std::time::{Duration, Instant};

use anyhow::Context;

use super::docker_cli::DockerCli;
use super::lab_guard::LabGuard;
use super::{Summary, fmt_duration};
use crate::live_view::LiveView;
use crate::snapshot::{ClusterSnapshot, TaskState};

/// The promise: a live change shows within this.
pub const BOUND: Duration = Duration::from_secs(2);
const GIVE_UP: Duration = Duration::from_secs(60);
const SERVICE: &str = "bench-live";

/// Tasks of the benchmark's service running, as the live view shows them; counted as
/// `docker service ls` counts them (a task asked to stop runs until its container stops).
fn running(snap: &ClusterSnapshot) -> usize {
    let Some(svc) = snap.service(SERVICE) else {
        return 0;
    };
    snap.tasks
        .iter()
        .filter(|t| t.service_id == svc.id)
        .filter(|t| t.state == TaskState::Running)
        .count()
}

pub fn run(rounds: usize, log: &mut dyn FnMut(&str)) -> anyhow::Result<String> {
    let guard = LabGuard::up(3)?;
    guard.form_swarm()?;
    let lab = &guard.lab;
    guard.ssh(
        "node1",
        &format!(
            "docker service create --detach --name {SERVICE} --replicas 1 --stop-grace-period 1s {} sleep 3600",
            crate::lab::PROBE_IMAGE
        ),
        None,
        false,
    )?;
    let dir = tempfile::tempdir()?;
    let docker = DockerCli::new(lab, dir.path())?;
    let mut view = LiveView::open(&lab.inventory)?;
    view.until(Instant::now(), GIVE_UP, |s| running(s) == 1)
        .context("the live view never showed the service running")?;
    // [scale up, scale down] × [app, docker CLI]
    let mut times: [[Vec<Duration>; 2]; 2] = Default::default();
    for round in 0..rounds {
        let want = if round % 2 == 0 { 2 } else { 1 };
        guard.ssh(
            "node1",
            &format!("docker service scale --detach {SERVICE}={want} >/dev/null"),
            None,
            false,
        )?;
        let start = Instant::now();
        let (shown, listed) = std::thread::scope(|s| {
            let listed = s.spawn(|| docker_lists(&docker, lab, want, start));
            let shown = view.until(start, GIVE_UP, |s| running(s) == want);
            (shown, listed.join().unwrap_or(None))
        });
        log(&format!(
            "scale to {want}: app {}, docker CLI {}",
            secs(shown),
            secs(listed)
        ));
        let row = &mut times[round % 2];
        row[0].push(shown.context("the live view never showed the scale")?);
        row[1].push(listed.context("docker service ls never showed the scale")?);
    }
    guard.down()?;
    let mut out = format!(
        "swarmdeck-bench live: {rounds} scale changes by the docker CLI on a manager, 3-manager lab\n\
         {:<40} {:>10} {:>10} {:>10}\n",
        "clock from the scale command", "median", "min", "max"
    );
    let labels = [
        ["1 → 2: app live view", "1 → 2: docker service ls in a loop"],
        ["2 → 1: app live view", "2 → 1: docker service ls in a loop"],
    ];
    let mut slowest_up = Duration::ZERO;
    for (row, names) in times.into_iter().zip(labels) {
        for (i, (samples, name)) in row.into_iter().zip(names).enumerate() {
            if samples.is_empty() {
                continue;
            }
            let sum = Summary::new(samples);
            if i == 0 && name.starts_with("1 → 2") {
                slowest_up = sum.max();
            }
            out.push_str(&format!(
                "{name:<40} {:>10} {:>10} {:>10}\n",
                fmt_duration(sum.median()),
                fmt_duration(sum.min()),
                fmt_duration(sum.max())
            ));
        }
    }
    out.push_str(&format!(
        "target: a scale 1 → 2 shown by the app within {} — {} (slowest {}); a scale down \
         waits for the stopped task's container (stop grace period 1 s)\n",
        fmt_duration(BOUND),
        if slowest_up <= BOUND {
            "met"
        } else {
            "NOT MET"
        },
        fmt_duration(slowest_up),
    ));
    Ok(out)
}

/// `docker service ls` on node1 over ssh, again and again, until the service shows
/// `want/want` replicas.
fn docker_lists(
    docker: &DockerCli,
    lab: &crate::lab::Lab,
    want: usize,
    start: Instant,
) -> Option<Duration> {
    let args = [
        "service",
        "ls",
        "--filter",
        "name=bench-live",
        "--format",
        "{{.Replicas}}",
    ];
    let done = format!("{want}/{want}");
    while start.elapsed() < GIVE_UP {
        if let Ok(Some(out)) = docker.output(lab.hosts[0].ip, &args)
            && out.trim() == done
        {
            return Some(start.elapsed());
        }
    }
    None
}

fn secs(d: Option<Duration>) -> String {
    d.map_or_else(
        || format!("> {} s", GIVE_UP.as_secs()),
        |d| format!("{:.2} s", d.as_secs_f64()),
    )
}
