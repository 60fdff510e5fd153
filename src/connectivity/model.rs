//! The results of a connectivity run (serde; saved as history and printed as JSON).

use serde::{Deserialize, Serialize};

pub use crate::severity::Severity;

use super::parse::{BlockingRule, CryptoReport};

/// Version of the saved report format.
pub const REPORT_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Pass,
    Fail,
    /// Not run: a side was down, or the run was cancelled or timed out.
    Skipped,
    /// Cannot be decided from here (e.g. a UDP port: nothing confirms a UDP "connect").
    Untestable,
}

/// One check between two hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub outcome: Outcome,
    /// What was seen (a short excerpt of the output, or why it was skipped).
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
}

impl Check {
    pub fn pass(detail: impl Into<String>, latency_ms: Option<f64>) -> Self {
        Self {
            outcome: Outcome::Pass,
            detail: detail.into(),
            latency_ms,
        }
    }
    pub fn fail(detail: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Fail,
            detail: detail.into(),
            latency_ms: None,
        }
    }
    pub fn skipped(detail: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Skipped,
            detail: detail.into(),
            latency_ms: None,
        }
    }
    pub fn passed(&self) -> bool {
        self.outcome == Outcome::Pass
    }
    pub fn failed(&self) -> bool {
        self.outcome == Outcome::Fail
    }
}

/// What the probe on `from` saw of the probe on `to`, over the overlay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub from: String,
    pub to: String,
    /// `nslookup <peer probe name>` through Docker's embedded DNS.
    pub dns: Check,
    /// `ping -c 3` to the peer's overlay IP (latency = average round trip).
    pub icmp: Check,
    /// A TCP echo through `nc` to port 7777 of the peer.
    pub tcp: Check,
    /// `ping -s <overlay MTU - 28>`: a full-size packet.
    pub large: Check,
}

impl Cell {
    pub fn skipped(from: &str, to: &str, why: &str) -> Self {
        Self {
            from: from.into(),
            to: to.into(),
            dns: Check::skipped(why),
            icmp: Check::skipped(why),
            tcp: Check::skipped(why),
            large: Check::skipped(why),
        }
    }
    pub fn all_passed(&self) -> bool {
        [&self.dns, &self.icmp, &self.tcp, &self.large]
            .iter()
            .all(|c| c.passed())
    }
    pub fn involves(&self, host: &str) -> bool {
        self.from == host || self.to == host
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostState {
    /// Connected, engine answering, part of the swarm.
    Ok,
    /// SSH could not connect.
    SshDown,
    /// SSH works but the Docker engine does not answer.
    EngineDown,
    /// The engine answered at first and stopped during the run.
    EngineLost,
    /// The engine is not part of a swarm (or its swarm state is not active).
    NotInSwarm,
}

/// Where a host's probe image came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageSource {
    /// `swarmdeck/probe:1` was already on the host.
    Preloaded,
    /// Built from the host's static busybox and imported by this run (removed afterwards).
    HostBusybox,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub container: String,
    pub image: String,
    pub image_source: ImageSource,
    /// The probe's address on the tested overlay.
    pub ip: String,
    /// MTU of the probe's overlay interface.
    pub mtu: Option<u32>,
}

/// A host's network interface and its MTU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub dev: String,
    pub mtu: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Firewall {
    /// "iptables", "nft", "iptables+nft" or "none readable".
    pub source: String,
    /// DROP/REJECT rules naming 2377, 7946 or 4789.
    pub blocking: Vec<BlockingRule>,
    /// `-P INPUT DROP`: everything not explicitly allowed is dropped.
    pub input_policy_drop: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostReport {
    pub host: String,
    pub address: String,
    pub state: HostState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The swarm advertise address (underlay), when the engine told us.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_addr: Option<String>,
    pub manager: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<Probe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firewall: Option<Firewall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crypto: Option<CryptoReport>,
    /// The interface carrying the swarm address, and its MTU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<Link>,
    /// Leftovers of earlier runs removed from this host before testing.
    pub swept: usize,
    /// What this run could not remove (the next run sweeps it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leftovers: Vec<String>,
}

impl HostReport {
    pub fn new(host: &str, address: &str) -> Self {
        Self {
            host: host.into(),
            address: address.into(),
            state: HostState::Ok,
            error: None,
            node_addr: None,
            manager: false,
            probe: None,
            firewall: None,
            crypto: None,
            link: None,
            swept: 0,
            leftovers: Vec::new(),
        }
    }
}

/// A host-to-host check on the real interfaces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnderlayCheck {
    pub from: String,
    pub to: String,
    pub port: u16,
    pub proto: String,
    pub check: Check,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkReport {
    pub name: String,
    /// Created (and removed) by this run.
    pub temporary: bool,
    pub encrypted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    HostUnreachable,
    EngineDown,
    NotInSwarm,
    VxlanBlocked,
    GossipBlocked,
    ControlPlaneBlocked,
    EncryptionUnsupported,
    MtuMismatch,
    DnsFailing,
    OverlayFailing,
    ProbeFailed,
    Incomplete,
}

/// One diagnosis: what is wrong, where, why we think so, and what to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    pub hosts: Vec<String>,
    /// e.g. "4789/udp"; empty when no port is involved.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub port: String,
    pub title: String,
    pub evidence: Vec<String>,
    /// The fix, as commands where one can be given.
    pub fix: String,
}

/// Everything one run found. Saved as JSON history; `findings` is derived from the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub version: u32,
    pub run_id: String,
    pub started_unix: u64,
    pub duration_ms: u64,
    /// Where the hosts came from (inventory path or "command line").
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkReport>,
    pub hosts: Vec<HostReport>,
    pub cells: Vec<Cell>,
    pub underlay: Vec<UnderlayCheck>,
    pub findings: Vec<Finding>,
    /// Why the run stopped early ("cancelled", "timed out after …"), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    /// A problem that kept the matrix from running at all (no manager, bad network …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// True when everything this run created was removed.
    pub cleaned_up: bool,
}

impl Report {
    pub fn host(&self, name: &str) -> Option<&HostReport> {
        self.hosts.iter().find(|h| h.host == name)
    }
    pub fn cell(&self, from: &str, to: &str) -> Option<&Cell> {
        self.cells.iter().find(|c| c.from == from && c.to == to)
    }
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serializes")
    }
    /// True when every cell passed and nothing was found.
    pub fn healthy(&self) -> bool {
        self.error.is_none()
            && self.interrupted.is_none()
            && !self.cells.is_empty()
            && self.cells.iter().all(Cell::all_passed)
            && self.findings.iter().all(|f| f.severity == Severity::Info)
    }
}
