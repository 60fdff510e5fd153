//! Preflight: checks every host (in parallel) before a swarm is built or changed, and
//! reports findings with severity, host, evidence and the command that fixes them.
//!
//! One fixed shell script per host gathers the evidence (peer addresses are passed as
//! positional arguments, never pasted into the script); the Engine API gives the Docker
//! facts. Parsing and the rules are pure ([`parse`], [`rules`]).

pub mod group;
pub mod parse;
pub mod rules;

use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;
use serde::{Deserialize, Serialize};

use crate::cluster::Cluster;
use crate::inventory::HostSpec;
use crate::ssh::RemoteCommand;

pub use group::{FindingGroup, Verdict};
pub use parse::{Backend, PortState};
pub use rules::{Finding, Severity};

/// Ports probed over TCP from every host to every peer.
pub const TCP_PORTS: [u16; 2] = [2377, 7946];

/// The evidence script. `$@` are the peers' IPv4 addresses. The TCP probe's bash must not
/// read rc files (bash does under sshd): a slow .bashrc would pass for a dropped port, and
/// `timeout` killing it mid-way can leave the rc file's locks behind.
const SCRIPT: &str = r#"
echo @@hostname; hostname
echo @@machine-id; cat /etc/machine-id 2>/dev/null
echo @@date; date +%s.%N
echo @@addr; ip -o -4 addr show 2>&1
echo @@link; ip -o link show 2>&1
echo @@route; for p in "$@"; do echo "$p $(ip -o route get "$p" 2>&1 | head -n1)"; done
echo @@crypto; grep -E '^name' /proc/crypto 2>/dev/null | grep -Ei 'gcm|rfc4106'
echo @@kconfig; { zcat /proc/config.gz 2>/dev/null || cat "/boot/config-$(uname -r)" 2>/dev/null; } | grep -E '^(# )?CONFIG_(INET_ESP|CRYPTO_GCM|XFRM_USER)[= ]'
echo @@xfrm; [ -e /proc/net/xfrm_stat ] && echo present
echo @@modules; ls "/lib/modules/$(uname -r)/kernel/net/ipv4/" 2>/dev/null | grep -E '^esp4'
echo @@fw
command -v firewall-cmd >/dev/null 2>&1 && echo "firewalld $(firewall-cmd --state 2>&1)"
command -v ufw >/dev/null 2>&1 && echo "ufw $(ufw status 2>&1 | head -n1)"
command -v nft >/dev/null 2>&1 && echo "nft $(nft list ruleset 2>/dev/null | grep -c 'hook input')"
command -v iptables >/dev/null 2>&1 && echo "iptables $(iptables -S INPUT 2>/dev/null | tr '\n' ';')"
echo @@reach
for p in "$@"; do for port in 2377 7946; do
  ( if err=$(timeout 2 env -u SSH_CLIENT -u SSH2_CLIENT -u SSH_CONNECTION bash --norc --noprofile -c 'exec 3<>"/dev/tcp/$0/$1"' "$p" "$port" 2>&1); then echo "$p $port open";
    else rc=$?; if [ "$rc" = 124 ]; then echo "$p $port filtered";
    elif printf '%s' "$err" | grep -qi 'no route to host'; then echo "$p $port rejected";
    else echo "$p $port closed"; fi; fi ) &
done; done; wait
echo @@end
"#;

/// What one host told us.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HostReport {
    pub host: String,
    /// The address peers use for this host (workstation-resolved inventory address).
    pub ip: Option<Ipv4Addr>,
    pub error: Option<String>,
    pub docker_version: Option<String>,
    pub api_version: Option<String>,
    pub swarm_state: Option<crate::snapshot::LocalNodeState>,
    pub cluster_id: Option<String>,
    pub node_id: Option<String>,
    pub is_manager: bool,
    pub hostname: Option<String>,
    pub machine_id: Option<String>,
    /// Host clock minus workstation clock, seconds.
    pub clock_skew: Option<f64>,
    pub candidates: Vec<String>,
    /// Source address and device of the route towards the peers.
    pub advertise: Option<String>,
    pub advertise_dev: Option<String>,
    pub mtu: Option<u32>,
    pub backend: Option<Backend>,
    pub firewall_evidence: String,
    /// Ok, or why encrypted overlays cannot work here.
    pub encryption: Option<Result<(), String>>,
    /// (peer ip, port, state) as seen from this host.
    pub reach: Vec<(String, u16, PortState)>,
}

/// Every host's report plus the findings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    pub hosts: Vec<HostReport>,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
    }

    pub fn host(&self, name: &str) -> Option<&HostReport> {
        self.hosts.iter().find(|h| h.host == name)
    }

    /// Hosts whose kernel cannot do encrypted overlays, with the reason.
    pub fn encryption_blockers(&self) -> Vec<(String, String)> {
        self.hosts
            .iter()
            .filter_map(|h| match &h.encryption {
                Some(Err(why)) => Some((h.host.clone(), why.clone())),
                _ => None,
            })
            .collect()
    }

    /// Why an encrypted overlay must not be created on these hosts (IPsec would silently
    /// drop all its traffic), or None when every host can do it.
    pub fn encryption_refusal(&self) -> Option<String> {
        let blockers = self.encryption_blockers();
        if blockers.is_empty() {
            return None;
        }
        let list: Vec<String> = blockers
            .iter()
            .map(|(h, why)| format!("  {h}: {why}"))
            .collect();
        Some(format!(
            "refusing to create an encrypted overlay:\n{}\nCreate it unencrypted, or use hosts \
             whose kernel has CONFIG_INET_ESP and CONFIG_CRYPTO_GCM",
            list.join("\n")
        ))
    }

    /// The findings as rows: the same finding on several hosts is one row.
    pub fn grouped(&self) -> Vec<FindingGroup> {
        group::group(&self.findings)
    }

    /// Whether the swarm can be built on these hosts.
    pub fn verdict(&self) -> Verdict {
        group::verdict(self.hosts.len(), &self.grouped())
    }

    /// The rows and the verdict as text.
    pub fn render(&self) -> String {
        group::render(&self.grouped(), self.hosts.len())
    }
}

/// Runs the preflight on every host in parallel.
pub async fn run(cluster: &Cluster) -> Report {
    let hosts = &cluster.inventory().hosts;
    let ips = join_all(hosts.iter().map(HostSpec::resolve_ipv4)).await;
    let reports = join_all(hosts.iter().enumerate().map(|(i, h)| {
        let peers: Vec<Ipv4Addr> = ips
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .filter_map(|(_, p)| *p)
            .collect();
        probe_host(cluster, h, ips[i], peers)
    }))
    .await;
    let findings = rules::evaluate(&reports);
    Report {
        hosts: reports,
        findings,
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

async fn probe_host(
    cluster: &Cluster,
    h: &HostSpec,
    ip: Option<Ipv4Addr>,
    peers: Vec<Ipv4Addr>,
) -> HostReport {
    let mut r = HostReport {
        host: h.name.clone(),
        ip,
        ..Default::default()
    };
    match cluster.engine(h).await {
        Ok(d) => {
            // At once: a hung engine costs one deadline, not two.
            let (version, info) = tokio::join!(d.version(), d.info());
            if let Ok(v) = version {
                r.docker_version = v.version;
                r.api_version = v.api_version;
            }
            match info {
                Ok(info) => {
                    let mut f = crate::swarm::state::HostFacts::new(&h.name, "");
                    crate::swarm::state::apply_info(&mut f, &info);
                    r.swarm_state = f.state.engine_state();
                    r.cluster_id = f.cluster_id;
                    r.node_id = f.node_id;
                    r.is_manager = f.control_available;
                }
                Err(e) => {
                    let e = crate::docker::DockerError::explain(&h.name, &d, e).await;
                    r.error = Some(crate::redact::redact(&e.to_string()).into_owned());
                }
            }
        }
        Err(e) => r.error = Some(crate::redact::redact(&e.to_string()).into_owned()),
    }
    let session = match cluster.pool().session(h).await {
        Ok(s) => s,
        Err(e) => {
            r.error.get_or_insert(e.to_string());
            return r;
        }
    };
    let cmd = RemoteCommand::new(["sh".to_string(), "-c".into(), SCRIPT.into(), "sh".into()])
        .args(peers.iter().map(|p| p.to_string()))
        .sudo(h.sudo)
        .timeout(Duration::from_secs(30));
    let sent = now();
    match session.exec(&cmd).await {
        Ok(out) => {
            let received = now();
            fill(&mut r, &out.stdout_lossy(), (sent + received) / 2.0);
        }
        Err(e) => {
            r.error.get_or_insert(e.to_string());
        }
    }
    r
}

/// Fills a report from the script output; `at` is the workstation time the host's
/// `date` most likely ran at.
pub fn fill(r: &mut HostReport, text: &str, at: f64) {
    let s = parse::sections(text);
    let get = |k: &str| s.get(k).map(String::as_str).unwrap_or("");
    r.hostname = Some(get("hostname").trim().to_string()).filter(|x| !x.is_empty());
    r.machine_id = Some(get("machine-id").trim().to_string()).filter(|x| !x.is_empty());
    r.clock_skew = parse::epoch(get("date")).map(|t| t - at);
    let addrs = parse::ip_addrs(get("addr"));
    r.candidates = parse::candidate_addrs(&addrs)
        .iter()
        .map(|a| format!("{} ({})", a.addr, a.dev))
        .collect();
    let first_route = get("route").lines().next().unwrap_or("");
    r.advertise = crate::swarm::state::route_src(first_route).map(|a| a.to_string());
    r.advertise_dev = crate::swarm::state::route_dev(first_route);
    if r.advertise.is_none()
        && let [only] = parse::candidate_addrs(&addrs).as_slice()
    {
        r.advertise = Some(only.addr.to_string());
        r.advertise_dev = Some(only.dev.clone());
    }
    r.mtu = r
        .advertise_dev
        .as_ref()
        .and_then(|d| parse::link_mtus(get("link")).get(d).copied());
    r.firewall_evidence = get("fw").trim().to_string();
    r.backend = Some(parse::firewall_backend(get("fw")));
    r.encryption = Some(parse::encryption_support(
        get("kconfig"),
        get("crypto"),
        get("xfrm").contains("present"),
        get("modules"),
    ));
    r.reach = parse::reach(get("reach"));
    if !s.contains_key("end") {
        r.error
            .get_or_insert("the preflight script did not finish".into());
    }
}
