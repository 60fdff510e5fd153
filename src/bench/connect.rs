//! `bench connect`: how fast swarmdeck connects and reads a cluster, next to the plain
//! docker CLI over ssh on the same lab in the same run.
//!
//! - cold `status`: a new [`Cluster`] per round (SSH connect + Engine API negotiation +
//!   snapshot of every host) vs a script running `docker -H ssh://…` `info`, `node ls` and
//!   `network ls` per host one after another, and vs ONE such docker command;
//! - warm refresh: further snapshots on the same `Cluster` (as the app refreshes), and the
//!   same with every host's `/info` read again;
//! - connect + `info` to many hosts in parallel vs to one host, with the CPU time the lab
//!   hosts' sshd and dockerd spent on it (they share this machine's cores with us).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::future::join_all;

use super::docker_cli::DockerCli;
use super::lab_guard::LabGuard;
use super::{Report, Row, Summary, Target, fmt_duration};
use crate::cluster::Cluster;
use crate::inventory::{HostSpec, Inventory};
use crate::lab::MAX_HOSTS;
use crate::snapshot::ClusterSnapshot;
use crate::ssh::{HostKeyPolicy, KnownHosts, NoSecrets, SshOptions};

/// What the docker CLI script runs on every host.
const SCRIPT: [&[&str]; 3] = [&["info"], &["node", "ls"], &["network", "ls"]];
/// The targets the report checks.
const WARM_TARGET: Duration = Duration::from_millis(15);
const MANY_FACTOR: f64 = 2.0;
const COLD_FACTOR: f64 = 0.5;

/// Row keys, in table order.
pub const ROWS: [&str; 6] = [
    "cold-vs-script",
    "cold-vs-one-command",
    "warm-refresh",
    "warm-refresh-full",
    "warm-vs-script",
    "many-vs-one",
];

/// Settings for [`ConnectBench::run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectBench {
    /// Hosts in the swarm lab (every one a manager).
    pub hosts: usize,
    /// Hosts for the "many hosts" measurement (its own lab).
    pub many_hosts: usize,
    /// Rounds per measurement; medians are over rounds.
    pub rounds: usize,
    /// Warm snapshots per round.
    pub warm_per_round: usize,
}

impl Default for ConnectBench {
    fn default() -> Self {
        Self {
            hosts: 3,
            many_hosts: 12,
            rounds: 5,
            warm_per_round: 5,
        }
    }
}

/// SSH options that trust only the lab's known_hosts (strict) and never write anywhere the
/// user's files live.
pub(super) fn ssh_options(inv: &Inventory, dir: &std::path::Path) -> SshOptions {
    SshOptions {
        host_key_policy: HostKeyPolicy::Strict,
        known_hosts: KnownHosts::with_files(inv.known_hosts.clone(), dir.join("app_known_hosts")),
        ..SshOptions::default()
    }
}

pub(super) fn new_cluster(hosts: &[HostSpec], inv: &Inventory, opts: &SshOptions) -> Cluster {
    let inv = Inventory {
        hosts: hosts.to_vec(),
        ..inv.clone()
    };
    Cluster::new(inv, "bench", opts.clone(), Arc::new(NoSecrets))
}

/// The snapshot must be complete, or the timing means nothing.
fn check(snap: &ClusterSnapshot, hosts: usize) -> anyhow::Result<()> {
    if let Some(h) = snap.failed_hosts().next() {
        bail!(
            "snapshot failed for {}: {}",
            h.host,
            h.error.as_deref().unwrap_or("?")
        );
    }
    if snap.swarm.is_none() || snap.nodes.len() != hosts {
        bail!(
            "snapshot incomplete: swarm {:?}, {} of {hosts} nodes",
            snap.swarm.as_ref().map(|s| &s.answered_by),
            snap.nodes.len()
        );
    }
    Ok(())
}

/// CPU time used by the lab hosts' sshd and dockerd, with the children they reaped (SSH
/// sessions, `runc --version`).
fn hosts_cpu(lab: &crate::lab::Lab) -> Duration {
    lab.hosts
        .iter()
        .flat_map(|h| [h.pids.sshd, h.pids.dockerd])
        .flatten()
        .map(process_cpu)
        .sum()
}

/// utime + stime + cutime + cstime of a process (fields 14-17 of /proc/PID/stat).
fn process_cpu(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // The command name may hold spaces and parentheses: count fields after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(4)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|&hz| hz > 0)
        .unwrap_or(100);
    Duration::from_secs_f64(ticks as f64 / hz as f64)
}

/// CPU time this process has used.
fn own_cpu() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    getrusage(UsageWho::RUSAGE_SELF).map_or(Duration::ZERO, |u| {
        let t = |tv: nix::sys::time::TimeVal| {
            Duration::new(tv.tv_sec() as u64, tv.tv_usec() as u32 * 1000)
        };
        t(u.user_time()) + t(u.system_time())
    })
}

/// One "connect + info" round: wall time, and CPU time of the lab hosts and of swarmdeck.
struct ManyRound {
    wall: Duration,
    hosts_cpu: Duration,
    own_cpu: Duration,
}

/// Samples from the swarm lab's rounds.
#[derive(Default)]
struct SwarmSamples {
    cold: Vec<Duration>,
    warm: Vec<Duration>,
    warm_full: Vec<Duration>,
    script: Vec<Duration>,
    single: Vec<Duration>,
}

fn measured_round(
    rt: &tokio::runtime::Runtime,
    lab: &crate::lab::Lab,
    hosts: &[HostSpec],
    inv: &Inventory,
    opts: &SshOptions,
) -> anyhow::Result<ManyRound> {
    let (h0, o0) = (hosts_cpu(lab), own_cpu());
    let wall = connect_and_info(rt, hosts, inv, opts)?;
    let own = own_cpu().saturating_sub(o0);
    // Let sshd reap the closed sessions, so their CPU time is counted.
    std::thread::sleep(Duration::from_millis(300));
    Ok(ManyRound {
        wall,
        hosts_cpu: hosts_cpu(lab).saturating_sub(h0),
        own_cpu: own,
    })
}

/// Connect (SSH + Engine API) and `info` on every host in parallel, on a fresh cluster.
fn connect_and_info(
    rt: &tokio::runtime::Runtime,
    hosts: &[HostSpec],
    inv: &Inventory,
    opts: &SshOptions,
) -> anyhow::Result<Duration> {
    rt.block_on(async {
        let t = Instant::now();
        let cluster = new_cluster(hosts, inv, opts);
        let results = join_all(hosts.iter().map(|h| {
            let cluster = cluster.clone();
            async move {
                let d = cluster.engine(h).await?;
                d.info()
                    .await
                    .map_err(|source| crate::docker::DockerError::Api {
                        host: h.name.clone(),
                        source,
                    })
            }
        }))
        .await;
        let elapsed = t.elapsed();
        cluster.pool().close_all().await;
        for r in results {
            r?;
        }
        Ok(elapsed)
    })
}

/// What the lab hosts themselves cost: on a machine whose cores also run every lab host,
/// their CPU time bounds the wall time from below.
fn cpu_note(one: &[ManyRound], many: &[ManyRound], m: usize) -> String {
    let cpus = std::thread::available_parallelism()
        .map(|p| p.get())
        .unwrap_or(1);
    let med = |rounds: &[ManyRound], f: fn(&ManyRound) -> Duration| {
        Summary::new(rounds.iter().map(f).collect()).median()
    };
    let (h1, hm) = (med(one, |r| r.hosts_cpu), med(many, |r| r.hosts_cpu));
    let (o1, om) = (med(one, |r| r.own_cpu), med(many, |r| r.own_cpu));
    let floor = hm / cpus as u32;
    let wall1 = med(one, |r| r.wall);
    format!(
        "CPU per connect + info round (medians): the lab hosts' sshd + dockerd used {} for 1 \
         host and {} for {m}; swarmdeck used {} and {}. The {m} hosts share this machine's \
         {cpus} CPUs, so their own work alone needs at least {} of wall time ({:.1}× the \
         1-host round): on real hosts, each with its own CPU, that part runs in parallel",
        fmt_duration(h1),
        fmt_duration(hm),
        fmt_duration(o1),
        fmt_duration(om),
        fmt_duration(floor),
        if wall1.is_zero() {
            0.0
        } else {
            floor.as_secs_f64() / wall1.as_secs_f64()
        }
    )
}

impl ConnectBench {
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(1..=MAX_HOSTS).contains(&self.hosts) {
            bail!("--hosts must be 1 to {MAX_HOSTS}");
        }
        if !(2..=MAX_HOSTS).contains(&self.many_hosts) {
            bail!("--many must be 2 to {MAX_HOSTS}");
        }
        if self.rounds == 0 || self.warm_per_round == 0 {
            bail!("--rounds must be at least 1");
        }
        Ok(())
    }

    /// Runs every measurement on labs of its own (torn down before returning, also on
    /// error). `progress` gets one line per step. Needs root (the lab does).
    pub fn run(
        &self,
        rt: &tokio::runtime::Runtime,
        progress: &mut dyn FnMut(&str),
    ) -> anyhow::Result<Report> {
        self.validate()?;
        let tmp = tempfile::tempdir().context("creating a temporary directory")?;
        let (swarm, swarm_lab, mut notes) = self.swarm_rounds(rt, tmp.path(), progress)?;
        let (one, many, many_lab) = self.many_rounds(rt, tmp.path(), progress)?;
        notes.push(cpu_note(&one, &many, self.many_hosts));
        let rows = self.rows(swarm, &one, &many);
        notes.extend(self.method_notes());
        Ok(Report {
            title: "swarmdeck-bench connect: in process (russh + bollard) vs docker CLI over ssh"
                .into(),
            rows,
            notes,
            labs: vec![swarm_lab, many_lab],
        })
    }

    /// On a swarm of `hosts` managers: cold status, warm refreshes, and the docker CLI
    /// script and single command, each round. Returns the samples, the lab's name and notes.
    fn swarm_rounds(
        &self,
        rt: &tokio::runtime::Runtime,
        tmp: &std::path::Path,
        progress: &mut dyn FnMut(&str),
    ) -> anyhow::Result<(SwarmSamples, String, Vec<String>)> {
        let n = self.hosts;
        progress(&format!("starting a {n}-host lab"));
        let t = Instant::now();
        let lab = LabGuard::up(n)?;
        let name = lab.lab.name.clone();
        progress(&format!(
            "lab {name} up in {}; forming a swarm of {n} managers",
            fmt_duration(t.elapsed())
        ));
        lab.form_swarm()?;
        let inv = Inventory::load(&lab.lab.inventory)?;
        let opts = ssh_options(&inv, tmp);
        let cli = DockerCli::new(&lab.lab, tmp)?;
        let mut notes = vec![format!(
            "baseline: {} ({}), ssh {} with the lab key, known_hosts and StrictHostKeyChecking \
             yes; each docker command opens its own SSH connection",
            cli.path().display(),
            cli.version,
            cli.ssh.display()
        )];
        let mut s = SwarmSamples::default();
        let mut hung = 0;
        for round in 1..=self.rounds {
            progress(&format!("{n} hosts: round {round}/{}", self.rounds));
            self.in_process_round(rt, &inv, &opts, &mut s)?;
            let t = Instant::now();
            let mut finished = true;
            for h in &lab.lab.hosts {
                for args in SCRIPT {
                    finished &= cli.run(h.ip, args)?;
                }
            }
            if finished {
                s.script.push(t.elapsed());
            } else {
                hung += 1;
            }
            let t = Instant::now();
            if cli.run(lab.lab.hosts[0].ip, &["info"])? {
                s.single.push(t.elapsed());
            } else {
                hung += 1;
            }
        }
        progress(&format!("tearing down lab {name}"));
        lab.down()?;
        if hung > 0 {
            notes.push(format!(
                "{hung} docker CLI run(s) had not finished after {} and were killed; those \
                 samples are left out of the docker medians (in-process rounds all finished)",
                fmt_duration(super::docker_cli::COMMAND_TIMEOUT)
            ));
        }
        Ok((s, name, notes))
    }

    /// One cold snapshot on a new cluster, then warm ones, then warm ones with every host's
    /// engine facts forgotten.
    fn in_process_round(
        &self,
        rt: &tokio::runtime::Runtime,
        inv: &Inventory,
        opts: &SshOptions,
        s: &mut SwarmSamples,
    ) -> anyhow::Result<()> {
        let n = self.hosts;
        let t = Instant::now();
        let cluster = new_cluster(&inv.hosts, inv, opts);
        let snap = rt.block_on(cluster.snapshot());
        s.cold.push(t.elapsed());
        check(&snap, n)?;
        for _ in 0..self.warm_per_round {
            let t = Instant::now();
            let snap = rt.block_on(cluster.snapshot());
            s.warm.push(t.elapsed());
            check(&snap, n)?;
        }
        for _ in 0..self.warm_per_round {
            rt.block_on(cluster.forget_engine_facts());
            let t = Instant::now();
            let snap = rt.block_on(cluster.snapshot());
            s.warm_full.push(t.elapsed());
            check(&snap, n)?;
        }
        rt.block_on(cluster.pool().close_all());
        Ok(())
    }

    /// Connect + info on one host and on `many_hosts`, each round, with CPU times. Returns
    /// (one, many, the lab's name).
    fn many_rounds(
        &self,
        rt: &tokio::runtime::Runtime,
        tmp: &std::path::Path,
        progress: &mut dyn FnMut(&str),
    ) -> anyhow::Result<(Vec<ManyRound>, Vec<ManyRound>, String)> {
        let m = self.many_hosts;
        progress(&format!("starting a {m}-host lab"));
        let t = Instant::now();
        let lab = LabGuard::up(m)?;
        let name = lab.lab.name.clone();
        progress(&format!("lab {name} up in {}", fmt_duration(t.elapsed())));
        let inv = Inventory::load(&lab.lab.inventory)?;
        let opts = ssh_options(&inv, tmp);
        let (mut one, mut many) = (Vec::new(), Vec::new());
        for round in 1..=self.rounds {
            progress(&format!("1 vs {m} hosts: round {round}/{}", self.rounds));
            one.push(measured_round(rt, &lab.lab, &inv.hosts[..1], &inv, &opts)?);
            many.push(measured_round(rt, &lab.lab, &inv.hosts, &inv, &opts)?);
        }
        progress(&format!("tearing down lab {name}"));
        lab.down()?;
        Ok((one, many, name))
    }

    /// The report's rows, in [`ROWS`] order.
    fn rows(&self, s: SwarmSamples, one: &[ManyRound], many: &[ManyRound]) -> Vec<Row> {
        let (n, m) = (self.hosts, self.many_hosts);
        let (cold, warm, warm_full, script, single) = (
            Summary::new(s.cold),
            Summary::new(s.warm),
            Summary::new(s.warm_full),
            Summary::new(s.script),
            Summary::new(s.single),
        );
        let (one, many) = (
            Summary::new(one.iter().map(|r| r.wall).collect()),
            Summary::new(many.iter().map(|r| r.wall).collect()),
        );
        let script_name = format!("docker CLI script: {n}× (info, node ls, network ls)");
        let cold_name = format!("cold status, {n} hosts (new Cluster: connect + snapshot)");
        let warm_name = format!("warm refresh, {n} hosts (same Cluster)");
        vec![
            Row {
                key: ROWS[0],
                what: cold_name.clone(),
                ours: cold.clone(),
                baseline: Some((script_name.clone(), script.clone())),
                target: None,
            },
            Row {
                key: ROWS[1],
                what: cold_name,
                ours: cold.clone(),
                baseline: Some((
                    "ONE docker CLI command (info, 1 host)".into(),
                    single.clone(),
                )),
                target: Some(Target {
                    text: format!(
                        "cold status of {n} hosts ≤ half of ONE docker CLI command over ssh (≤ {})",
                        fmt_duration(single.median().mul_f64(COLD_FACTOR))
                    ),
                    met: !single.samples().is_empty()
                        && cold.median().as_secs_f64()
                            <= single.median().as_secs_f64() * COLD_FACTOR,
                }),
            },
            Row {
                key: ROWS[2],
                what: warm_name.clone(),
                ours: warm.clone(),
                baseline: None,
                target: Some(Target {
                    text: format!("warm refresh of {n} hosts < {}", fmt_duration(WARM_TARGET)),
                    met: warm.median() < WARM_TARGET,
                }),
            },
            Row {
                key: ROWS[3],
                what: format!("warm refresh, {n} hosts, every host's /info read again"),
                ours: warm_full,
                baseline: None,
                target: None,
            },
            Row {
                key: ROWS[4],
                what: warm_name,
                ours: warm,
                baseline: Some((script_name, script)),
                target: None,
            },
            Row {
                key: ROWS[5],
                what: format!("connect + info, {m} hosts in parallel"),
                ours: many.clone(),
                baseline: Some(("connect + info, 1 host".into(), one.clone())),
                target: Some(Target {
                    text: format!("{m} hosts < {MANY_FACTOR}× the time of 1"),
                    met: many.median().as_secs_f64() < one.median().as_secs_f64() * MANY_FACTOR,
                }),
            },
        ]
    }

    /// How the figures were taken.
    fn method_notes(&self) -> Vec<String> {
        vec![
            format!(
                "{} round(s); warm refresh: {} snapshots per round; medians over all samples; \
                 ratio = swarmdeck / compared (below 1 is faster)",
                self.rounds, self.warm_per_round
            ),
            "a warm refresh reads the swarm (nodes, networks, every host's overlay \
             containers) each time; a host's /info (which makes a 20.10 engine run `runc \
             --version`) is reused only while the host's GET /swarm and the managers' node \
             list confirm it, and for at most 30 s"
                .into(),
            format!(
                "the {}-host swarm lab and the {}-host lab ran one after the other on this \
                 machine ({} CPUs); timings are noisy, compare within one run",
                self.hosts,
                self.many_hosts,
                std::thread::available_parallelism()
                    .map(|p| p.get())
                    .unwrap_or(1)
            ),
        ]
    }
}
