//! Faults on demand: a lab host made to misbehave the way real hosts do, and healed again.
//! Used by the fault-matrix tests and `swarmdeck-bench faults` to measure how soon swarmdeck
//! tells the truth.
//!
//! Everything happens inside the lab's own namespaces: signals to the host's own
//! processes (found by network namespace, never by name alone), iptables and tc in the
//! host's network namespace, restarts through `nsenter` into the host's namespaces.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::{Lab, LabError, LabHost, sys};
use crate::snapshot::{ClusterSnapshot, Layer, Role};

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `kill -STOP` of dockerd: its socket still accepts, nothing answers.
    EngineHung,
    /// dockerd killed.
    EngineKilled,
    /// Every sshd process of the host stopped: connections stall, new ones get no banner.
    SshdHung,
    /// Every sshd process of the host killed: sessions drop, new ones are refused.
    SshdKilled,
    /// The host drops everything from and to the workstation; the swarm still sees it.
    CutFromWorkstation,
    /// The host drops everything from and to the other hosts; the workstation still
    /// reaches it.
    CutFromPeers,
    /// 30 % of the packets the host receives are dropped.
    PacketLoss,
    /// The host sends at 256 kbit/s (tbf).
    ThinLink,
    /// Two of three managers' engines killed: the swarm has no majority.
    QuorumLost,
}

impl Fault {
    pub const ALL: [Fault; 9] = [
        Fault::EngineHung,
        Fault::EngineKilled,
        Fault::SshdHung,
        Fault::SshdKilled,
        Fault::CutFromWorkstation,
        Fault::CutFromPeers,
        Fault::PacketLoss,
        Fault::ThinLink,
        Fault::QuorumLost,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::EngineHung => "engine hung",
            Fault::EngineKilled => "engine killed",
            Fault::SshdHung => "sshd hung",
            Fault::SshdKilled => "sshd killed",
            Fault::CutFromWorkstation => "cut from workstation",
            Fault::CutFromPeers => "cut from other hosts",
            Fault::PacketLoss => "30 % packet loss",
            Fault::ThinLink => "thin link (256 kbit/s)",
            Fault::QuorumLost => "quorum lost",
        }
    }

    /// The hosts (by index) the fault hits when `target` is named.
    fn hosts(self, target: usize, lab: &Lab) -> Vec<usize> {
        match self {
            Fault::QuorumLost => vec![target, (target + 1) % lab.hosts.len()],
            _ => vec![target],
        }
    }
}

impl Fault {
    /// Whether a snapshot tells the truth about this fault on `hit` (the hosts it hit):
    /// each names the host and the layer a user should look at.
    pub fn is_shown(self, snap: &ClusterSnapshot, hit: &[String]) -> bool {
        let host = |name: &String| snap.hosts.iter().find(|h| &h.host == name);
        let failing_at = |name: &String, layers: &[Layer]| {
            host(name)
                .is_some_and(|h| h.error.is_some() && h.layer.is_some_and(|l| layers.contains(&l)))
        };
        let node = |name: &String| snap.nodes.iter().find(|n| &n.hostname == name);
        match self {
            Fault::EngineHung | Fault::EngineKilled => hit
                .iter()
                .all(|h| failing_at(h, &[Layer::Engine]) && node(h).is_some_and(|n| !n.is_ready())),
            Fault::SshdHung | Fault::SshdKilled => hit.iter().all(|h| failing_at(h, &[Layer::Ssh])),
            Fault::CutFromWorkstation => hit
                .iter()
                .all(|h| failing_at(h, &[Layer::Network, Layer::Ssh])),
            Fault::CutFromPeers => hit.iter().all(|h| {
                node(h).is_some_and(|n| {
                    !n.is_ready() || n.role == Role::Manager && !n.is_reachable_manager()
                })
            }),
            // The truth here is that the host still works, only slower: read, or named.
            Fault::PacketLoss | Fault::ThinLink => hit.iter().all(|h| host(h).is_some()),
            // The figures say it (two managers counted down), or the swarm does (no
            // manager can answer); a fresh look without a node list has only the latter.
            Fault::QuorumLost => {
                let a = crate::quorum::assess(&snap.managers(), &Default::default());
                (a.alive < a.majority || snap.swarm_error.is_some())
                    && hit.iter().all(|h| failing_at(h, &[Layer::Engine]))
            }
        }
    }
}

/// Whether a snapshot shows every host and node healthy: the view after a fault healed.
pub fn all_healthy(snap: &ClusterSnapshot) -> bool {
    snap.failed_hosts().next().is_none()
        && snap.swarm_error.is_none()
        && snap.nodes_as_of.is_none()
        && !snap.nodes.is_empty()
        && snap
            .nodes
            .iter()
            .all(|n| n.is_ready() && (n.role == Role::Worker || n.is_reachable_manager()))
}

/// A fault in place; [`Lab::heal`] undoes it.
#[derive(Debug)]
pub struct Injected {
    pub fault: Fault,
    /// Names of the hosts it hit.
    pub hosts: Vec<String>,
    undo: Vec<Undo>,
}

#[derive(Debug)]
enum Undo {
    Continue(Vec<u32>),
    Restart { host: usize, daemon: &'static str },
    Iptables { host: usize, rule: Vec<String> },
    Qdisc { host: usize },
}

impl Lab {
    /// Makes host `target` (an index) misbehave; [`Fault::QuorumLost`] hits `target` and
    /// the host after it (two of three managers).
    pub fn inject(&self, fault: Fault, target: usize) -> Result<Injected, LabError> {
        let mut undo = Vec::new();
        let hosts = fault.hosts(target, self);
        for &i in &hosts {
            self.inject_one(fault, i, &mut undo)?;
        }
        Ok(Injected {
            fault,
            hosts: hosts.iter().map(|&i| self.hosts[i].name.clone()).collect(),
            undo,
        })
    }

    fn inject_one(&self, fault: Fault, i: usize, undo: &mut Vec<Undo>) -> Result<(), LabError> {
        let h = &self.hosts[i];
        match fault {
            Fault::EngineHung => {
                let pids = host_processes(h, "dockerd");
                signal(&pids, Signal::SIGSTOP)?;
                undo.push(Undo::Continue(pids));
            }
            Fault::EngineKilled | Fault::QuorumLost => {
                kill_all(h, "dockerd")?;
                undo.push(Undo::Restart {
                    host: i,
                    daemon: "dockerd",
                });
            }
            Fault::SshdHung => {
                let pids = host_processes(h, "sshd");
                signal(&pids, Signal::SIGSTOP)?;
                undo.push(Undo::Continue(pids));
            }
            Fault::SshdKilled => {
                kill_all(h, "sshd")?;
                undo.push(Undo::Restart {
                    host: i,
                    daemon: "sshd",
                });
            }
            Fault::CutFromWorkstation => {
                let ws = self.workstation_ip.to_string();
                for rule in [
                    vec!["INPUT", "-s", &ws, "-j", "DROP"],
                    vec!["OUTPUT", "-d", &ws, "-j", "DROP"],
                ] {
                    undo.push(self.add_rule(i, &rule)?);
                }
            }
            Fault::CutFromPeers => {
                let peers: Vec<String> = self
                    .hosts
                    .iter()
                    .filter(|p| p.name != h.name)
                    .map(|p| p.ip.to_string())
                    .collect();
                for p in &peers {
                    for rule in [
                        vec!["INPUT", "-s", p, "-j", "DROP"],
                        vec!["OUTPUT", "-d", p, "-j", "DROP"],
                    ] {
                        undo.push(self.add_rule(i, &rule)?);
                    }
                }
            }
            Fault::PacketLoss => {
                let rule = [
                    "INPUT",
                    "-m",
                    "statistic",
                    "--mode",
                    "random",
                    "--probability",
                    "0.3",
                    "-j",
                    "DROP",
                ];
                undo.push(self.add_rule(i, &rule)?);
            }
            Fault::ThinLink => {
                netns(
                    h,
                    "thin link",
                    &[
                        "tc", "qdisc", "add", "dev", "eth0", "root", "tbf", "rate", "256kbit",
                        "burst", "16kb", "latency", "400ms",
                    ],
                )?;
                undo.push(Undo::Qdisc { host: i });
            }
        }
        Ok(())
    }

    fn add_rule(&self, i: usize, rule: &[&str]) -> Result<Undo, LabError> {
        let h = &self.hosts[i];
        let mut args = vec!["iptables", "-w", "-I"];
        args.extend_from_slice(rule);
        netns(h, "fault rule", &args)?;
        Ok(Undo::Iptables {
            host: i,
            rule: rule.iter().map(|s| s.to_string()).collect(),
        })
    }

    /// Undoes a fault: processes continued or restarted (waiting until they answer),
    /// rules and queues removed. Tries every step, reports the first failure.
    pub fn heal(&self, injected: Injected) -> Result<(), LabError> {
        let mut first = None;
        for u in injected.undo.into_iter().rev() {
            let r = match u {
                Undo::Continue(pids) => signal(&pids, Signal::SIGCONT),
                Undo::Restart { host, daemon } => self.restart(host, daemon),
                Undo::Iptables { host, rule } => {
                    let mut args = vec!["iptables", "-w", "-D"];
                    args.extend(rule.iter().map(String::as_str));
                    netns(&self.hosts[host], "remove fault rule", &args).map(drop)
                }
                Undo::Qdisc { host } => netns(
                    &self.hosts[host],
                    "remove thin link",
                    &["tc", "qdisc", "del", "dev", "eth0", "root"],
                )
                .map(drop),
            };
            if let Err(e) = r {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Starts a daemon again inside the host's namespaces, with the line its boot script
    /// started it with (sshd rewrites its own command line, so /proc cannot tell).
    fn restart(&self, i: usize, daemon: &str) -> Result<(), LabError> {
        let h = &self.hosts[i];
        let failed = |detail: String| LabError::Command {
            what: format!("restart {daemon} on {}", h.name),
            cmd: "nsenter".into(),
            detail,
        };
        let boot = std::fs::read_to_string(h.dir.join("boot.sh"))
            .map_err(|e| LabError::io(format!("read {}'s boot script", h.name), e))?;
        let line = boot_line(&boot, daemon)
            .ok_or_else(|| failed(format!("no {daemon} line in the boot script")))?;
        let anchor = anchor(h).ok_or_else(|| failed("no process left in the host".into()))?;
        // A killed dockerd's containerd may linger with its pid file: a new dockerd waits
        // for it for ever. Stop it and start afresh.
        // The daemon must not hold our pipes: nsenter's output is read to the end.
        let script = format!(
            "exec >>\"$D/restart.log\" 2>&1 </dev/null; \
             p=/run/docker/containerd/containerd.pid; \
             if [ {daemon} = dockerd ] && [ -f \"$p\" ]; then \
               kill -9 \"$(cat \"$p\")\" 2>/dev/null; rm -f /run/docker.pid \"$p\"; fi; \
             {line} & echo $! > \"$D/{daemon}.pid\"; wait"
        );
        let target = anchor.to_string();
        let dir = h.dir.to_string_lossy().into_owned();
        let args = [
            "-t",
            &target,
            "-m",
            "-u",
            "-n",
            "--",
            "env",
            &format!("D={dir}"),
            "setsid",
            "-f",
            "sh",
            "-c",
            &script,
        ];
        sys::run("restart a lab daemon", "nsenter", &args)?;
        wait_for(
            || !host_processes(h, daemon).is_empty(),
            Duration::from_secs(30),
        )
        .then_some(())
        .ok_or_else(|| failed(sys::tail(&h.dir.join(format!("{daemon}.log")), 5)))
    }
}

/// The boot script's line that starts `daemon` (without its trailing `&`): our own
/// generated script, with every value quoted.
fn boot_line<'a>(script: &'a str, daemon: &str) -> Option<&'a str> {
    let start = match daemon {
        "sshd" => "/usr/sbin/sshd ",
        _ => "dockerd ",
    };
    script
        .lines()
        .find(|l| l.starts_with(start))
        .map(|l| l.trim_end().trim_end_matches('&').trim_end())
}

/// A live process whose namespaces are the host's: its init while it runs, else any
/// daemon of it (processes in the host's network namespace; containers have their own).
fn anchor(h: &LabHost) -> Option<u32> {
    let boot = std::fs::read_to_string(h.dir.join("boot.pid"))
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
        .filter(|&p| sys::alive(p));
    boot.or_else(|| {
        ["sshd", "dockerd"]
            .iter()
            .flat_map(|d| host_processes(h, d))
            .find(|&p| sys::alive(p))
    })
}

/// Runs a command in the host's network namespace.
fn netns(h: &LabHost, what: &str, args: &[&str]) -> Result<String, LabError> {
    let mut full = vec!["netns", "exec", &h.netns];
    full.extend_from_slice(args);
    sys::ip(&format!("{what} on {}", h.name), &full)
}

/// The host's processes named `comm` (in its network namespace: containers have their
/// own, and no process of this machine or of another host is ever touched).
fn host_processes(h: &LabHost, comm: &str) -> Vec<u32> {
    let Some(ns) = sys::netns_id(&h.netns) else {
        return Vec::new();
    };
    sys::all_pids()
        .into_iter()
        .filter(|&p| sys::pid_netns(p) == Some(ns))
        .filter(|&p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == comm)
        })
        .collect()
}

fn signal(pids: &[u32], sig: Signal) -> Result<(), LabError> {
    let failed = |detail: String| LabError::Command {
        what: format!("send {sig}"),
        cmd: format!("kill -s {sig} {pids:?}"),
        detail,
    };
    if pids.is_empty() {
        return Err(failed("no such process in the host".into()));
    }
    for &p in pids {
        let pid = i32::try_from(p).map_err(|_| failed(format!("bad pid {p}")))?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig)
            .map_err(|e| failed(e.to_string()))?;
    }
    Ok(())
}

/// Kills every process of the daemon in the host (sshd: the listener and every session).
fn kill_all(h: &LabHost, comm: &str) -> Result<(), LabError> {
    let pids = host_processes(h, comm);
    if pids.is_empty() {
        return Err(LabError::Command {
            what: format!("kill {comm} on {}", h.name),
            cmd: "kill".into(),
            detail: "not running".into(),
        });
    }
    for &p in &pids {
        sys::kill9(p);
    }
    wait_for(
        || pids.iter().all(|&p| !sys::alive(p)),
        Duration::from_secs(10),
    );
    Ok(())
}

fn wait_for(mut cond: impl FnMut() -> bool, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    cond()
}
