//! `swarmdeck-bench bootstrap`: a swarm built from 3 bare lab hosts — `swarm init`, two
//! joins and an attachable overlay — by swarmdeck in process (SSH + Engine API: gather,
//! plan, apply) vs a plain bash script running the same docker commands on the hosts over
//! the system `ssh`, in the same run.
//!
//! Every round starts two fresh labs, one per contender, so both begin from bare hosts.
//! Lab start-up and tear-down are not timed. A contender that did not build the swarm is
//! reported as failed and left out of the medians.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::connect::{new_cluster, ssh_options};
use super::docker_cli::{SshHome, wait_until};
use super::lab_guard::LabGuard;
use super::{Report, Row, Summary, fmt_duration};
use crate::inventory::Inventory;
use crate::redact::redact;
use crate::swarm::{self, AuditLog, BootstrapOptions, OverlaySpec, Step, SwarmError};

/// Row keys, in table order.
pub const ROWS: [&str; 1] = ["bootstrap-vs-script"];
const HOSTS: usize = 3;
const OVERLAY: &str = "benchnet";
/// A contender still running after this has failed (the script is killed, with its ssh).
pub const TIMEOUT: Duration = Duration::from_secs(180);

/// The baseline, as a simple script would do it: one ssh per docker command, one after
/// another. `$1..$3` are the hosts' addresses. The join token stays in a shell variable and
/// reaches the joining host on ssh's stdin (not on a command line); stdout, where
/// `swarm init` prints a join command, is dropped.
const SCRIPT: &str = r#"set -euo pipefail
ip1=$1 ip2=$2 ip3=$3
ssh "root@$ip1" "docker swarm init --advertise-addr $ip1" >/dev/null
token=$(ssh "root@$ip1" docker swarm join-token -q worker)
printf '%s\n' "$token" | ssh "root@$ip2" "docker swarm join --token \"\$(cat)\" $ip1:2377" >/dev/null
printf '%s\n' "$token" | ssh "root@$ip3" "docker swarm join --token \"\$(cat)\" $ip1:2377" >/dev/null
ssh "root@$ip1" docker network create -d overlay --attachable benchnet >/dev/null
"#;

/// Settings for [`BootstrapBench::run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapBench {
    /// Rounds; each starts two fresh labs. Medians are over rounds.
    pub rounds: usize,
}

impl Default for BootstrapBench {
    fn default() -> Self {
        Self { rounds: 3 }
    }
}

/// One contender's attempt: its time, or why it did not build the swarm.
type Outcome = Result<Duration, String>;

/// Did the job get done? node1 lists every host as a node and has the overlay. Not timed.
fn verify(lab: &LabGuard) -> Result<(), String> {
    let line = format!(
        "printf '%s %s' \"$(docker node ls -q | wc -l)\" \
         \"$(docker network inspect -f '{{{{.Driver}}}}' {OVERLAY} 2>/dev/null)\""
    );
    let out = lab
        .ssh(&lab.lab.hosts[0].name, &line, None, true)
        .map_err(|e| format!("checking the result: {e:#}"))?;
    let want = [HOSTS.to_string(), "overlay".to_string()];
    if out.split_whitespace().collect::<Vec<_>>() != want {
        return Err(format!(
            "did not finish: node1 reports {out:?} (nodes, driver of {OVERLAY}); want \
             \"{HOSTS} overlay\""
        ));
    }
    Ok(())
}

/// swarmdeck in process: new Cluster + gather + bootstrap plan + apply, until apply returns.
fn swarmdeck(
    rt: &tokio::runtime::Runtime,
    lab: &LabGuard,
    dir: &std::path::Path,
    round: usize,
) -> anyhow::Result<Outcome> {
    let inv = Inventory::load(&lab.lab.inventory)?;
    let opts = ssh_options(&inv, dir);
    let audit = AuditLog::new(dir.join(format!("audit-{round}.jsonl")));
    let options = BootstrapOptions {
        managers: Some(1),
        overlay: Some(OverlaySpec {
            name: OVERLAY.into(),
            attachable: true,
            ..Default::default()
        }),
        ..Default::default()
    };
    let quiet = |_: &Step, _: Result<(), &SwarmError>| {};
    let (elapsed, result) = rt.block_on(async {
        let t = Instant::now();
        let cluster = new_cluster(&inv.hosts, &inv, &opts);
        let result = tokio::time::timeout(TIMEOUT, async {
            let state = swarm::state::gather(&cluster).await;
            let plan = swarm::plan::bootstrap(&state, &options)?;
            swarm::ops::apply(&cluster, &plan, &audit, &quiet, &Default::default()).await
        })
        .await;
        let elapsed = t.elapsed();
        cluster.pool().close_all().await;
        (elapsed, result)
    });
    Ok(match result {
        Err(_) => Err(format!("had not finished after {} s", TIMEOUT.as_secs())),
        Ok(Err(e)) => Err(e.redacted()),
        Ok(Ok(_)) => verify(lab).map(|()| elapsed),
    })
}

/// The bash script as one process, from spawn to exit.
fn script(lab: &LabGuard, env: &SshHome) -> anyhow::Result<Outcome> {
    let mut stderr = tempfile::tempfile().context("creating a temporary file")?;
    let mut cmd = Command::new("bash");
    env.env(&mut cmd);
    cmd.arg("-c")
        .arg(SCRIPT)
        .arg("bench-bootstrap")
        .args(lab.lab.hosts.iter().map(|h| h.ip.to_string()))
        .stdout(Stdio::null())
        .stderr(stderr.try_clone()?)
        // Its own process group, so a hung run is killed together with its ssh.
        .process_group(0);
    let t = Instant::now();
    let mut child = cmd.spawn().context("running bash")?;
    let status = wait_until(&mut child, t + TIMEOUT)?;
    let elapsed = t.elapsed();
    let Some(status) = status else {
        // The group of our own child, by its id.
        let pid = i32::try_from(child.id()).context("pid out of range")?;
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        let _ = child.wait();
        return Ok(Err(format!(
            "had not finished after {} s; killed",
            TIMEOUT.as_secs()
        )));
    };
    if !status.success() {
        let mut text = String::new();
        stderr.seek(SeekFrom::Start(0))?;
        stderr.read_to_string(&mut text)?;
        return Ok(Err(format!(
            "the script failed ({status}): {}",
            redact(text.trim())
        )));
    }
    Ok(verify(lab).map(|()| elapsed))
}

/// Starts two labs at once (start-up is not measured).
fn two_labs() -> anyhow::Result<(LabGuard, LabGuard)> {
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| LabGuard::up(HOSTS));
        let b = s.spawn(|| LabGuard::up(HOSTS));
        (a.join(), b.join())
    });
    let a = a.map_err(|_| anyhow!("starting a lab panicked"))?;
    let b = b.map_err(|_| anyhow!("starting a lab panicked"))?;
    Ok((a?, b?))
}

impl BootstrapBench {
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.rounds == 0 {
            bail!("--rounds must be at least 1");
        }
        Ok(())
    }

    /// Runs every round on labs of its own (torn down before returning, also on error).
    /// `progress` gets one line per step. Needs root (the lab does).
    pub fn run(
        &self,
        rt: &tokio::runtime::Runtime,
        progress: &mut dyn FnMut(&str),
    ) -> anyhow::Result<Report> {
        self.validate()?;
        let tmp = tempfile::tempdir().context("creating a temporary directory")?;
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        let mut failures = Vec::new();
        let mut labs = Vec::new();
        let mut ssh_path = None;
        for round in 1..=self.rounds {
            let of = self.rounds;
            progress(&format!(
                "round {round}/{of}: starting two {HOSTS}-host labs"
            ));
            let t = Instant::now();
            let (lab_a, lab_b) = two_labs()?;
            labs.extend([lab_a.lab.name.clone(), lab_b.lab.name.clone()]);
            progress(&format!(
                "round {round}/{of}: labs {} and {} up in {}",
                lab_a.lab.name,
                lab_b.lab.name,
                fmt_duration(t.elapsed())
            ));
            let dir = tmp.path().join(format!("round-{round}"));
            let env = SshHome::new(&lab_b.lab, &dir)?;
            ssh_path.get_or_insert_with(|| env.ssh.clone());
            // Alternate who goes first, so neither always runs on a quieter machine.
            let order = if round % 2 == 1 {
                [true, false]
            } else {
                [false, true]
            };
            for is_ours in order {
                if is_ours {
                    progress(&format!(
                        "round {round}/{of}: swarmdeck on {}",
                        lab_a.lab.name
                    ));
                    match swarmdeck(rt, &lab_a, &dir, round)? {
                        Ok(d) => ours.push(d),
                        Err(e) => failures.push(format!("swarmdeck, round {round}: {e}")),
                    }
                } else {
                    progress(&format!("round {round}/{of}: script on {}", lab_b.lab.name));
                    match script(&lab_b, &env)? {
                        Ok(d) => theirs.push(d),
                        Err(e) => failures.push(format!("script, round {round}: {e}")),
                    }
                }
            }
            progress(&format!("round {round}/{of}: tearing down both labs"));
            lab_a.down()?;
            lab_b.down()?;
        }
        let mut notes = vec![
            format!(
                "each round starts two fresh {HOSTS}-host labs (one per contender, bare \
                 hosts); lab start-up and tear-down are not timed"
            ),
            format!(
                "swarmdeck: new Cluster + gather (SSH + Engine API to every host, host facts) \
                 + bootstrap plan (1 manager, attachable overlay {OVERLAY}) + apply (init, the \
                 2 worker joins in parallel, overlay; audit log to a temp file), until apply \
                 returns; russh trusts only the lab's known_hosts (strict)"
            ),
            format!(
                "script: one bash process, from spawn to exit: 5 ssh runs one after another \
                 (swarm init, join-token -q worker, join on node2, join on node3, network \
                 create); {} with the lab key, known_hosts and StrictHostKeyChecking yes; the \
                 token goes in a shell variable and on ssh's stdin, never printed",
                ssh_path
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ),
            format!(
                "both checked afterwards, untimed: node1 lists {HOSTS} nodes and the overlay \
                 {OVERLAY}; a contender that failed or took over {} s is left out of its median",
                TIMEOUT.as_secs()
            ),
        ];
        notes.extend(failures.iter().map(|f| format!("FAILED: {f}")));
        notes.push(format!(
            "{} round(s); swarmdeck ran first in odd rounds, the script in even rounds; \
             ratio = swarmdeck / script (below 1 is faster); {} CPUs, timings are noisy, \
             compare within one run",
            self.rounds,
            std::thread::available_parallelism()
                .map(|p| p.get())
                .unwrap_or(1)
        ));
        Ok(Report {
            title: format!(
                "swarmdeck-bench bootstrap: {HOSTS} bare hosts -> swarm (init, 2 joins, overlay), \
                 in process vs a shell script over ssh"
            ),
            rows: vec![Row {
                key: ROWS[0],
                what: "swarmdeck bootstrap (in process)".into(),
                ours: Summary::new(ours),
                baseline: Some(("bash script: ssh + docker CLI".into(), Summary::new(theirs))),
                target: None,
            }],
            notes,
            labs,
        })
    }
}
