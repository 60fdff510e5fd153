//! What the doctor reads beyond a snapshot: the swarm's settings (address pool, Raft
//! snapshots, task history) from the manager that answered, and from every host its clock,
//! its underlay addresses and routes, and on managers the size of the Raft data. Hosts are
//! read at once, each under its own deadline; a read that fails is kept with its host and
//! layer and the rest still counts.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;
use serde::Serialize;

use crate::cluster::Cluster;
use crate::inventory::HostSpec;
use crate::lab::net::{Route, parse_addrs, parse_routes};
use crate::snapshot::{ClusterSnapshot, Layer, Role};
use crate::ssh::{RemoteCommand, SshSession};

/// Clock readings per host: the one with the shortest round trip is kept.
const CLOCK_SAMPLES: usize = 3;

/// Everything [`gather`] read.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HostFacts {
    /// The swarm's own settings, when a manager gave them.
    pub swarm: Option<SwarmSettings>,
    pub hosts: Vec<HostReading>,
    /// Each read that failed, with its host and layer.
    pub failures: Vec<GatherFailure>,
}

/// From `docker swarm inspect` (join tokens are never kept).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SwarmSettings {
    /// The inventory host that answered.
    pub host: String,
    /// `DefaultAddrPool`: where overlays' subnets come from (10.0.0.0/8 unless set).
    pub default_addr_pool: Vec<String>,
    /// `SubnetSize`: the prefix length each overlay gets from the pool (24 unless set).
    pub subnet_size: u32,
    /// `Raft.SnapshotInterval`: log entries between Raft snapshots.
    pub snapshot_interval: Option<u64>,
    /// `Raft.KeepOldSnapshots`: snapshots kept besides the newest.
    pub keep_old_snapshots: Option<u64>,
    /// `Orchestration.TaskHistoryRetentionLimit`: old tasks kept per slot.
    pub task_history_limit: Option<i64>,
}

/// One host's readings; a missing one failed (see [`HostFacts::failures`]) or does not
/// apply (Raft data on a worker).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostReading {
    pub host: String,
    /// The swarm node the host is, as the snapshot says.
    pub node: Option<String>,
    pub manager: bool,
    pub clock: Option<ClockSample>,
    /// Its addresses' subnets and its routes (docker's own bridges and the default route
    /// left out), as CIDRs.
    pub underlay: Vec<String>,
    /// Bytes under `<docker root>/swarm/raft` (managers only): the snapshots and the log,
    /// whose 64 MB segments are written in full ahead of use.
    pub raft_bytes: Option<u64>,
    /// Of those, the snapshots': the size of the store itself once swarm has taken one.
    pub raft_snapshot_bytes: Option<u64>,
}

/// The host's clock read once, between two readings of the workstation's (all in
/// milliseconds since the epoch).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ClockSample {
    pub sent_ms: i64,
    pub host_ms: i64,
    pub received_ms: i64,
}

impl ClockSample {
    /// How far the host's clock is ahead of the workstation's (negative: behind): its
    /// reading against the midpoint of the round trip.
    pub fn offset_ms(&self) -> i64 {
        self.host_ms
            .saturating_sub(self.sent_ms / 2 + self.received_ms / 2)
    }

    /// The most the offset can be wrong by: half the round trip.
    pub fn uncertainty_ms(&self) -> i64 {
        (self.received_ms - self.sent_ms).max(0) / 2 + 1
    }
}

/// A read that did not work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatherFailure {
    pub host: String,
    pub layer: Layer,
    /// What was being read ("clock", "Raft data size", …).
    pub what: String,
    pub error: String,
}

/// Reads the facts for `snap`'s swarm: every host that answered the snapshot, at once.
pub async fn gather(cluster: &Cluster, snap: &ClusterSnapshot) -> HostFacts {
    let answered: Vec<&HostSpec> = cluster
        .inventory()
        .hosts
        .iter()
        .filter(|h| {
            snap.hosts
                .iter()
                .any(|s| s.host == h.name && s.error.is_none())
        })
        .collect();
    let settings = async {
        match &snap.swarm {
            Some(s) => Some(swarm_settings(cluster, &s.answered_by).await),
            None => None,
        }
    };
    let (settings, readings) = tokio::join!(
        settings,
        join_all(answered.iter().map(|h| read_host(cluster, snap, h)))
    );
    let mut facts = HostFacts::default();
    match settings {
        Some(Ok(s)) => facts.swarm = Some(s),
        Some(Err(f)) => facts.failures.push(f),
        None => {}
    }
    for (reading, failures) in readings {
        facts.hosts.push(reading);
        facts.failures.extend(failures);
    }
    facts
}

async fn swarm_settings(cluster: &Cluster, host: &str) -> Result<SwarmSettings, GatherFailure> {
    let what = "swarm settings";
    let spec = cluster
        .inventory()
        .host(host)
        .ok_or_else(|| failure(host, Layer::Other, what, "not in the inventory"))?;
    let d = cluster
        .engine(spec)
        .await
        .map_err(|e| failure(host, e.layer(), what, e))?;
    let swarm = d
        .inspect_swarm()
        .await
        .map_err(|e| failure(host, Layer::Engine, what, e))?;
    let spec = swarm.spec.unwrap_or_default();
    let raft = spec.raft.unwrap_or_default();
    Ok(SwarmSettings {
        host: host.to_string(),
        default_addr_pool: swarm.default_addr_pool.unwrap_or_default(),
        subnet_size: swarm.subnet_size.unwrap_or(24),
        snapshot_interval: raft.snapshot_interval,
        keep_old_snapshots: raft.keep_old_snapshots,
        task_history_limit: spec
            .orchestration
            .and_then(|o| o.task_history_retention_limit),
    })
}

fn failure(host: &str, layer: Layer, what: &str, e: impl std::fmt::Display) -> GatherFailure {
    GatherFailure {
        host: host.to_string(),
        layer,
        what: what.to_string(),
        error: crate::redact::redact(&e.to_string()).into_owned(),
    }
}

/// One host's readings under one deadline (login, then a few short commands).
async fn read_host(
    cluster: &Cluster,
    snap: &ClusterSnapshot,
    host: &HostSpec,
) -> (HostReading, Vec<GatherFailure>) {
    let d = cluster.deadlines();
    let node = snap
        .hosts
        .iter()
        .find(|s| s.host == host.name)
        .and_then(|s| s.node_id.as_deref())
        .and_then(|id| snap.nodes.iter().find(|n| n.id == id));
    let mut reading = HostReading {
        host: host.name.clone(),
        node: node.map(|n| n.label_among(&snap.nodes)),
        manager: node.is_some_and(|n| n.role == Role::Manager),
        ..Default::default()
    };
    let mut failures = Vec::new();
    let budget = d.connect + d.login + d.request * 6;
    let read = async {
        let session = cluster
            .pool()
            .session(host)
            .await
            .map_err(|e| failure(&host.name, e.layer(), "login", e))?;
        let exec_deadline = d.request;
        match clock(&session, exec_deadline).await {
            Ok(c) => reading.clock = Some(c),
            Err(e) => failures.push(failure(&host.name, e.0, "clock", e.1)),
        }
        match underlay(&session, exec_deadline).await {
            Ok(u) => reading.underlay = u,
            Err(e) => failures.push(failure(&host.name, e.0, "addresses and routes", e.1)),
        }
        if reading.manager {
            match raft_bytes(cluster, host, &session, exec_deadline).await {
                Ok(b) => {
                    reading.raft_bytes = Some(b.total);
                    reading.raft_snapshot_bytes = Some(b.snapshots);
                }
                Err(e) => failures.push(failure(&host.name, e.0, "Raft data size", e.1)),
            }
        }
        Ok::<(), GatherFailure>(())
    };
    match tokio::time::timeout(budget, read).await {
        Ok(Ok(())) => {}
        Ok(Err(f)) => failures.push(f),
        Err(_) => failures.push(failure(
            &host.name,
            Layer::Ssh,
            "host facts",
            format!("no answer within {} s", budget.as_secs()),
        )),
    }
    (reading, failures)
}

type ReadError = (Layer, String);

/// Runs `cmd` and returns its stdout, or why not.
async fn run(session: &SshSession, cmd: RemoteCommand) -> Result<String, ReadError> {
    let out = session
        .exec(&cmd)
        .await
        .map_err(|e| (e.layer(), e.to_string()))?;
    if !out.success() {
        let err = out.stderr_lossy();
        return Err((
            Layer::Other,
            format!(
                "`{}` exited with {}: {}",
                cmd.summary(),
                out.status,
                crate::untrusted::visible(err.trim())
            ),
        ));
    }
    Ok(out.stdout_lossy().into_owned())
}

fn epoch_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The host's clock, read a few times; the reading with the shortest round trip is kept.
async fn clock(session: &SshSession, deadline: Duration) -> Result<ClockSample, ReadError> {
    let mut best: Option<ClockSample> = None;
    for _ in 0..CLOCK_SAMPLES {
        let cmd = RemoteCommand::new(["date", "+%s%N"]).timeout(deadline);
        let sent_ms = epoch_ms();
        let out = run(session, cmd).await?;
        let received_ms = epoch_ms();
        let host_ms = parse_clock(&out).ok_or_else(|| {
            (
                Layer::Other,
                format!(
                    "`date +%s%N` printed {:?}",
                    crate::untrusted::visible(out.trim())
                ),
            )
        })?;
        let s = ClockSample {
            sent_ms,
            host_ms,
            received_ms,
        };
        if best.is_none_or(|b| s.uncertainty_ms() < b.uncertainty_ms()) {
            best = Some(s);
        }
    }
    best.ok_or((Layer::Other, "no clock reading".into()))
}

/// `date +%s%N` in milliseconds; a `date` without `%N` prints it literally (seconds only).
pub fn parse_clock(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Some(secs) = t.strip_suffix("%N").or_else(|| t.strip_suffix('N')) {
        return secs.parse::<i64>().ok().and_then(|s| s.checked_mul(1000));
    }
    if t.len() < 10 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Nanoseconds in an i64 last until 2262; a larger number is no clock.
    t.parse::<i64>().ok().map(|ns| ns / 1_000_000)
}

/// The host's own addresses' subnets and its routes, in one round trip.
async fn underlay(session: &SshSession, deadline: Duration) -> Result<Vec<String>, ReadError> {
    let cmd = RemoteCommand::shell("ip -4 -o addr show && echo --- && ip -4 route show")
        .timeout(deadline);
    let out = run(session, cmd).await?;
    Ok(parse_underlay(&out))
}

/// Interfaces docker makes for itself: their subnets come from the engine, not the underlay.
fn docker_made(line: &str) -> bool {
    line.split_whitespace().any(|w| {
        w == "lo"
            || w.starts_with("docker")
            || w.starts_with("br-")
            || w.starts_with("veth")
            || w.starts_with("vx-")
    })
}

/// `ip -4 -o addr show`, `---`, `ip -4 route show` → CIDRs (no default route, no loopback,
/// nothing on docker's own interfaces), sorted and once each.
pub fn parse_underlay(text: &str) -> Vec<String> {
    let (addrs, routes) = text.split_once("\n---\n").unwrap_or((text, ""));
    let keep = |r: &Route| r.prefix.len > 0 && !docker_made(&r.line);
    let mut out: Vec<String> = parse_addrs(addrs)
        .into_iter()
        .chain(parse_routes(routes))
        .filter(keep)
        .map(|r| {
            // An address counts as its whole subnet.
            let mask = u32::MAX
                .checked_shl(32 - u32::from(r.prefix.len))
                .unwrap_or(0);
            let net = std::net::Ipv4Addr::from(u32::from(r.prefix.addr) & mask);
            format!("{net}/{}", r.prefix.len)
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The Raft directory's size, and its snapshots' part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RaftSize {
    pub total: u64,
    pub snapshots: u64,
}

/// Bytes of the Raft data under the engine's root directory, with the host's sudo.
async fn raft_bytes(
    cluster: &Cluster,
    host: &HostSpec,
    session: &SshSession,
    deadline: Duration,
) -> Result<RaftSize, ReadError> {
    let d = cluster
        .engine(host)
        .await
        .map_err(|e| (e.layer(), e.to_string()))?;
    let info = d.info().await.map_err(|e| (Layer::Engine, e.to_string()))?;
    let root = info
        .docker_root_dir
        .filter(|r| r.starts_with('/'))
        .unwrap_or_else(|| "/var/lib/docker".into());
    let dir = format!("{}/swarm/raft", root.trim_end_matches('/'));
    let cmd = RemoteCommand::new(["du", "-b", "--max-depth=1", "--", dir.as_str()])
        .sudo(host.sudo)
        .timeout(deadline);
    let out = run(session, cmd).await?;
    parse_raft_du(&out, &dir).ok_or_else(|| {
        (
            Layer::Other,
            format!(
                "`du -b` printed {:?}",
                crate::untrusted::visible(out.trim())
            ),
        )
    })
}

/// `du -b --max-depth=1 DIR`: the line for DIR is the total, the `snap*` lines the
/// snapshots.
pub fn parse_raft_du(text: &str, dir: &str) -> Option<RaftSize> {
    let mut total = None;
    let mut snapshots = 0;
    for line in text.lines() {
        let (bytes, path) = line.split_once('\t')?;
        let bytes: u64 = bytes.trim().parse().ok()?;
        if path == dir {
            total = Some(bytes);
        } else if path
            .rsplit('/')
            .next()
            .is_some_and(|name| name.starts_with("snap"))
        {
            snapshots = u64::saturating_add(snapshots, bytes);
        }
    }
    Some(RaftSize {
        total: total?,
        snapshots,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_readings_in_nanoseconds_or_seconds_only() {
        assert_eq!(
            parse_clock("1764561600123456789\n"),
            Some(1_764_561_600_123)
        );
        assert_eq!(parse_clock("1764561600%N"), Some(1_764_561_600_000));
        assert_eq!(parse_clock("soon"), None);
        assert_eq!(parse_clock(""), None);
    }

    #[test]
    fn a_clock_offset_is_against_the_round_trips_midpoint() {
        let s = ClockSample {
            sent_ms: 1_000,
            host_ms: 1_560,
            received_ms: 1_040,
        };
        assert_eq!((s.offset_ms(), s.uncertainty_ms()), (540, 21));
    }

    #[test]
    fn raft_sizes_from_du_count_the_snapshots_apart() {
        let dir = "/var/lib/docker/swarm/raft";
        let text = "4096\t/var/lib/docker/swarm/raft/snap-v3-encrypted\n\
            128004096\t/var/lib/docker/swarm/raft/wal-v3-encrypted\n\
            128012288\t/var/lib/docker/swarm/raft\n";
        assert_eq!(
            parse_raft_du(text, dir),
            Some(RaftSize {
                total: 128_012_288,
                snapshots: 4096
            })
        );
        assert_eq!(parse_raft_du("du: cannot access\n", dir), None);
        assert_eq!(parse_raft_du("12\t/elsewhere\n", dir), None);
    }

    #[test]
    fn the_underlay_leaves_out_docker_bridges_loopback_and_the_default_route() {
        let text = "1: lo    inet 127.0.0.1/8 scope host lo\n\
            2: eth0    inet 10.213.4.2/24 brd 10.213.4.255 scope global eth0\n\
            3: docker0    inet 172.17.0.1/16 brd 172.17.255.255 scope global docker0\n\
            5: docker_gwbridge    inet 172.18.0.1/16 scope global docker_gwbridge\n\
            ---\n\
            default via 10.213.4.254 dev eth0\n\
            10.213.4.0/24 dev eth0 proto kernel scope link src 10.213.4.2\n\
            192.168.50.0/24 via 10.213.4.9 dev eth0\n\
            172.17.0.0/16 dev docker0 proto kernel scope link src 172.17.0.1\n";
        assert_eq!(parse_underlay(text), ["10.213.4.0/24", "192.168.50.0/24"]);
    }
}
