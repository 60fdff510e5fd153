//! The overlay phases: the network under test (given, or a temporary one), one probe
//! container per swarm host, and the N×N matrix of checks between the probes, each judged
//! from the command's output.

use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::hosts::Live;
use super::{
    Cell, Check, HostState, NetworkReport, Probe, Progress, Report, Run, parse, probe, probe_name,
};

/// The network to test: the given one (checked), or a temporary one created on a manager.
pub(super) async fn network(run: &Arc<Run>) -> Option<String> {
    let live = run.live.lock().await.clone();
    let Some(manager) = live.iter().find(|l| l.manager && l.swarm) else {
        run.report.lock().await.error = Some(
            "no reachable swarm manager: the overlay cannot be set up. Form the swarm (`docker \
             swarm init` on one host) or fix the managers named above"
                .into(),
        );
        return None;
    };
    let d = &manager.docker;
    let result = match &run.opts.network {
        Some(name) => probe::inspect_network(d, name)
            .await
            .map(|(id, encrypted)| NetworkReport {
                name: name.clone(),
                temporary: false,
                encrypted,
                id: Some(id),
            }),
        None => {
            let name = format!("sdprobe-{}", run.run_id);
            probe::create_network(d, &name, run.opts.encrypted, run.labels())
                .await
                .map(|id| NetworkReport {
                    name,
                    temporary: true,
                    encrypted: run.opts.encrypted,
                    id: Some(id),
                })
        }
    };
    let mut r = run.report.lock().await;
    match result {
        Ok(net) => {
            let name = net.name.clone();
            r.network = Some(net);
            Some(name)
        }
        Err(e) => {
            r.error = Some(format!("{}: {e}", manager.spec.name));
            None
        }
    }
}

/// A started probe, as the matrix needs it.
#[derive(Clone)]
pub(super) struct Started {
    host: String,
    docker: Docker,
    container: String,
    ip: String,
    mtu: Option<u32>,
}

pub(super) async fn start_probes(run: &Arc<Run>, network: &str) -> Vec<Started> {
    let live = run.live.lock().await.clone();
    let order = run.host_names().await;
    let mut set = JoinSet::new();
    for l in live.into_iter().filter(|l| l.swarm) {
        let idx = order.iter().position(|n| *n == l.spec.name).unwrap_or(0);
        let run = run.clone();
        let network = network.to_string();
        set.spawn(async move {
            let r = tokio::time::timeout(
                run.opts.exec_timeout * 4,
                start_probe(&run, &l, idx, &network),
            )
            .await
            .unwrap_or_else(|_| Err("starting the probe timed out".into()));
            (l, r)
        });
    }
    let mut started = Vec::new();
    while let Some(j) = set.join_next().await {
        let Ok((l, r)) = j else { continue };
        match r {
            Ok((s, p)) => {
                run.emit(Progress::ProbeReady {
                    host: l.spec.name.clone(),
                    container: p.container.clone(),
                    source: p.image_source,
                });
                if let Some(h) = run
                    .report
                    .lock()
                    .await
                    .hosts
                    .iter_mut()
                    .find(|h| h.host == l.spec.name)
                {
                    h.probe = Some(p);
                }
                started.push(s);
            }
            Err(e) => {
                let state = engine_state(&l.docker).await;
                run.set_host(&l.spec.name, state, Some(format!("{}: {e}", l.spec.name)))
                    .await;
            }
        }
    }
    started.sort_by_key(|s| order.iter().position(|n| *n == s.host));
    started
}

async fn start_probe(
    run: &Run,
    l: &Live,
    idx: usize,
    network: &str,
) -> Result<(Started, Probe), String> {
    let labels = run.labels();
    let (image, source) = probe::ensure_image(
        &l.session,
        &l.docker,
        &run.run_id,
        &labels,
        run.opts.exec_timeout * 2,
    )
    .await?;
    let name = probe_name(&run.run_id, idx, &l.spec.name);
    let ip = probe::start_probe(&l.docker, &name, &image, network, labels).await?;
    let cmd: Vec<String> = ["sh", "-c", "ip -o -4 addr; ip -o link"]
        .map(String::from)
        .to_vec();
    let mtu = probe::exec(&l.docker, &name, &cmd, run.opts.exec_timeout)
        .await
        .ok()
        .and_then(|o| parse::mtu_for_ip(&o.stdout, &ip));
    Ok((
        Started {
            host: l.spec.name.clone(),
            docker: l.docker.clone(),
            container: name.clone(),
            ip: ip.clone(),
            mtu,
        },
        Probe {
            container: name,
            image,
            image_source: source,
            ip,
            mtu,
        },
    ))
}

/// Whether the engine still answers: tells a dead engine from a failed command.
async fn engine_state(d: &Docker) -> HostState {
    match tokio::time::timeout(Duration::from_secs(5), d.ping()).await {
        Ok(Ok(_)) => HostState::Ok,
        _ => HostState::EngineLost,
    }
}

/// Every ordered pair of probes, all at once but bounded by `parallel` concurrent execs.
pub(super) async fn matrix(run: &Arc<Run>, probes: Vec<Started>) {
    let hosts = run.host_names().await;
    // Pairs where a side has no probe are recorded as skipped up front.
    {
        let mut r = run.report.lock().await;
        for a in &hosts {
            for b in hosts.iter().filter(|b| *b != a) {
                let have = |h: &String| probes.iter().any(|p| p.host == *h);
                if !have(a) || !have(b) {
                    let who = if have(a) { b } else { a };
                    r.cells
                        .push(Cell::skipped(a, b, &format!("no probe on {who}")));
                }
            }
        }
    }
    let total = probes.len() * probes.len().saturating_sub(1);
    let limit = Arc::new(Semaphore::new(run.opts.parallel.max(1)));
    let mut set = JoinSet::new();
    for a in &probes {
        for b in probes.iter().filter(|b| b.host != a.host) {
            let (a, b, limit) = (a.clone(), b.clone(), limit.clone());
            let t = run.opts.exec_timeout;
            set.spawn(async move { pair(&a, &b, &limit, t).await });
        }
    }
    let mut done = 0;
    let mut troubled: Vec<String> = Vec::new();
    while let Some(j) = set.join_next().await {
        let Ok((cell, engine_trouble)) = j else {
            continue;
        };
        done += 1;
        if engine_trouble && !troubled.contains(&cell.from) {
            troubled.push(cell.from.clone());
        }
        run.emit(Progress::Cell {
            cell: Box::new(cell.clone()),
            done,
            total,
        });
        run.report.lock().await.cells.push(cell);
    }
    for host in troubled {
        if let Some(p) = probes.iter().find(|p| p.host == host)
            && engine_state(&p.docker).await == HostState::EngineLost
        {
            run.set_host(
                &host,
                HostState::EngineLost,
                Some(format!(
                    "{host}: the Docker engine stopped answering during the run"
                )),
            )
            .await;
        }
    }
    sort_cells(&mut *run.report.lock().await, &hosts);
}

pub(super) fn sort_cells(r: &mut Report, hosts: &[String]) {
    let pos = |n: &str| hosts.iter().position(|h| h == n);
    r.cells.sort_by_key(|c| (pos(&c.from), pos(&c.to)));
}

/// The four checks from probe `a` to probe `b`, concurrently. The flag says an exec failed
/// at the API level (the engine on `a` may be gone).
async fn pair(a: &Started, b: &Started, limit: &Semaphore, t: Duration) -> (Cell, bool) {
    let run = |cmd: Vec<String>| async move {
        let _p = limit.acquire().await;
        probe::exec(&a.docker, &a.container, &cmd, t).await
    };
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let size = a
        .mtu
        .unwrap_or(1450)
        .min(b.mtu.unwrap_or(1450))
        .saturating_sub(28);
    let size_s = size.to_string();
    let token = format!("swarmdeck-{}", a.container);
    let echo = "echo \"$0\" | nc -w 2 \"$1\" \"$2\"";
    let port = probe::ECHO_PORT.to_string();
    // A just-started peer may not have reached every host's DNS yet: one retry.
    let lookup = async {
        let first = run(words(&["nslookup", &b.container])).await;
        match &first {
            Ok(o) if parse::nslookup(&o.stdout, &b.container).is_none() => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                run(words(&["nslookup", &b.container])).await
            }
            _ => first,
        }
    };
    let (dns, icmp, tcp, large) = tokio::join!(
        lookup,
        run(words(&["ping", "-c", "3", "-W", "1", &b.ip])),
        run(words(&["sh", "-c", echo, &token, &b.ip, &port])),
        run(words(&["ping", "-c", "2", "-W", "1", "-s", &size_s, &b.ip])),
    );
    let trouble = [&dns, &icmp, &tcp, &large].iter().any(|r| r.is_err());
    let cell = Cell {
        from: a.host.clone(),
        to: b.host.clone(),
        dns: judge(dns, |o| dns_check(o, &b.container, &b.ip)),
        icmp: judge(icmp, |o| ping_check(o, "")),
        tcp: judge(tcp, |o| tcp_check(o, &token)),
        large: judge(large, |o| ping_check(o, &format!("{size}-byte pings: "))),
    };
    (cell, trouble)
}

fn judge(r: Result<probe::ExecResult, String>, f: impl Fn(&probe::ExecResult) -> Check) -> Check {
    match r {
        Ok(o) => f(&o),
        Err(e) => Check::skipped(format!("could not run: {e}")),
    }
}

/// Name resolution passes when the probe's name resolves, to its own address.
pub fn dns_check(o: &probe::ExecResult, name: &str, ip: &str) -> Check {
    match parse::nslookup(&o.stdout, name) {
        Some(addr) if addr == ip => Check::pass(format!("{name} → {addr}"), None),
        Some(addr) => Check::fail(format!("{name} resolves to {addr}, the probe is at {ip}")),
        None => Check::fail(format!("does not resolve: {}", o.last_line())),
    }
}

pub fn ping_check(o: &probe::ExecResult, prefix: &str) -> Check {
    match parse::ping(&o.text()) {
        Some(s) if s.received > 0 => Check::pass(
            format!("{prefix}{}/{} replies", s.received, s.sent),
            s.avg_ms,
        ),
        Some(s) => Check::fail(format!("{prefix}0/{} replies", s.sent)),
        None => Check::fail(format!("{prefix}{}", o.last_line())),
    }
}

pub fn tcp_check(o: &probe::ExecResult, token: &str) -> Check {
    if o.stdout.contains(token) {
        Check::pass(format!("echo on {}", probe::ECHO_PORT), None)
    } else if o.last_line().is_empty() {
        Check::fail(format!(
            "no echo from port {} (exit {})",
            probe::ECHO_PORT,
            o.code
        ))
    } else {
        Check::fail(o.last_line())
    }
}

#[cfg(test)]
mod tests {
    use super::super::probe::ExecResult;
    use super::*;

    fn out(code: i64, stdout: &str) -> ExecResult {
        ExecResult {
            code,
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }

    #[test]
    fn judges_exec_output() {
        let ns = "Server:\t127.0.0.11\nAddress:\t127.0.0.11:53\n\nName:\tp2\nAddress: 10.0.1.4\n";
        assert!(dns_check(&out(0, ns), "p2", "10.0.1.4").passed());
        assert!(dns_check(&out(0, ns), "p2", "10.0.1.9").failed());
        let c = dns_check(
            &out(1, ";; connection timed out; no servers could be reached\n"),
            "p2",
            "x",
        );
        assert!(c.failed() && c.detail.contains("no servers"), "{c:?}");
        let p = ping_check(
            &out(
                0,
                "3 packets transmitted, 3 packets received, 0% packet loss\nround-trip min/avg/max = 0.1/0.2/0.3 ms\n",
            ),
            "",
        );
        assert_eq!(p.latency_ms, Some(0.2));
        assert!(
            ping_check(
                &out(
                    1,
                    "3 packets transmitted, 0 packets received, 100% packet loss\n"
                ),
                ""
            )
            .failed()
        );
        assert!(tcp_check(&out(0, "swarmdeck-x\n"), "swarmdeck-x").passed());
        assert!(tcp_check(&out(1, ""), "swarmdeck-x").failed());
    }
}
