//! Building and operating a swarm: the live state of every host ([`state`]), plans of
//! steps with their CLI equivalents ([`plan`]) and the bootstrap plan that takes the hosts
//! where the user wants ([`bootstrap`], pure), executing steps through the Engine API
//! ([`ops`]), quorum-safe node actions and recovery, and the audit log of what was done
//! ([`audit`]).
//!
//! Every step carries the docker CLI command that does the same, so users learn it. Join
//! tokens and unlock keys are held as [`crate::redact::Secret`] and never shown or logged.

pub mod actions;
pub mod audit;
pub mod bootstrap;
pub mod change;
pub mod labels;
pub mod maintenance;
pub mod ops;
pub mod plan;
pub mod rebalance;
pub mod secrets;
pub mod service;
pub mod state;

pub use audit::{AuditEntry, AuditError, AuditLog};
pub use plan::{Action, BootstrapOptions, OverlaySpec, Plan, Step};
pub use state::{HostFacts, LocalState, SwarmState};

use crate::docker::DockerError;
use crate::outcome::{Failure, FailureKind};
use crate::quorum::QuorumRefusal;
use crate::redact::redact;
use crate::ssh::SshError;

/// Swarm failures. Each names the host and step where it happened and what to do.
#[derive(Debug, thiserror::Error)]
pub enum SwarmError {
    #[error(
        "invalid {kind} name {name:?}: docker names start with a letter or digit and contain only \
         letters, digits, '_', '.' and '-'"
    )]
    InvalidName { kind: &'static str, name: String },
    #[error(
        "invalid label value {text:?}: at most 256 of letters, digits and `-_.:/@+,=` (no \
         spaces, quotes or control characters)"
    )]
    InvalidLabel { text: String },
    #[error(transparent)]
    Docker(Box<DockerError>),
    #[error(transparent)]
    Ssh(Box<SshError>),
    #[error("{host}: {step} failed: {message}. Fix: {fix}")]
    Step {
        host: String,
        step: String,
        message: String,
        fix: String,
    },
    #[error(
        "{host} is already in another swarm ({detail}). swarmdeck does not take hosts out of a \
         swarm silently: on {host} run `docker swarm leave` (add --force for a manager) if it \
         should join this one, or remove it from the inventory"
    )]
    ForeignSwarm { host: String, detail: String },
    #[error(
        "the inventory's managers belong to different swarms ({detail}); build one swarm per \
         inventory: split the inventory or make the extra hosts leave their swarm"
    )]
    SplitSwarm { detail: String },
    #[error("{host}: cannot read the host ({error}); fix it, then run the command again")]
    Unreachable { host: String, error: String },
    #[error(
        "{host}: the swarm is locked (autolock) after a restart. Unlock it with the unlock \
         key (`swarmdeck swarm unlock {host} --unlock-key-stdin --yes`, or `docker swarm \
         unlock` on the host), then run the command again"
    )]
    Locked { host: String },
    #[error("no manager of the swarm answered; is the swarm initialised and a manager up?")]
    NoManager,
    /// No manager answered, and why, host by host.
    #[error(
        "no manager of the swarm answered: {detail}; fix those hosts, then run the command again"
    )]
    NoManagerAnswered { detail: String },
    #[error("{0}")]
    QuorumLost(String),
    #[error("{0} (add --force to do it anyway)")]
    Quorum(#[from] QuorumRefusal),
    #[error("no node {node:?} in the swarm (nodes: {known})")]
    UnknownNode { node: String, known: String },
    #[error(
        "several nodes are named {node:?} (cloned machines?); name the one you mean by its \
         ID: {candidates}"
    )]
    AmbiguousNode { node: String, candidates: String },
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(
        "stopped on request after {done} step(s); {not_run} step(s) did not run. Plan again to \
         continue from the hosts' actual state"
    )]
    Cancelled { done: usize, not_run: usize },
    #[error("{refusal}\n(or pass --ignore-kernel-check if you know better)")]
    EncryptionUnsupported { refusal: String },
    #[error(transparent)]
    Service(#[from] service::ServiceError),
    #[error(transparent)]
    Stack(#[from] crate::stack::StackError),
    #[error(transparent)]
    Certs(#[from] crate::certs::CertError),
    #[error(transparent)]
    Backup(#[from] crate::backup::BackupError),
}

impl From<DockerError> for SwarmError {
    fn from(e: DockerError) -> Self {
        SwarmError::Docker(Box::new(e))
    }
}

impl From<SshError> for SwarmError {
    fn from(e: SshError) -> Self {
        SwarmError::Ssh(Box::new(e))
    }
}

impl SwarmError {
    /// The error text with any token or key scrubbed, ready for users and logs.
    pub fn redacted(&self) -> String {
        redact(&self.to_string()).into_owned()
    }

    /// The typed outcome callers act on: whether forcing is allowed, the host, the layer
    /// and the fix, with the text redacted.
    pub fn failure(&self) -> Failure {
        use crate::snapshot::Layer;
        let (kind, host, layer, fix): (_, Option<&str>, _, Option<&str>) = match self {
            SwarmError::Quorum(r) => (
                FailureKind::NeedsForce,
                Some(r.node.as_str()),
                Some(Layer::Swarm),
                Some("bring another manager up first, or force it knowing the figures"),
            ),
            SwarmError::Cancelled { .. } => (FailureKind::Cancelled, None, None, None),
            SwarmError::InvalidName { .. }
            | SwarmError::InvalidLabel { .. }
            | SwarmError::SplitSwarm { .. }
            | SwarmError::UnknownNode { .. }
            | SwarmError::AmbiguousNode { .. }
            | SwarmError::EncryptionUnsupported { .. } => (FailureKind::Refused, None, None, None),
            SwarmError::ForeignSwarm { host, .. } => {
                (FailureKind::Refused, Some(host.as_str()), None, None)
            }
            SwarmError::Docker(e) => (FailureKind::Failed, Some(e.host()), Some(e.layer()), None),
            SwarmError::Ssh(e) => (FailureKind::Failed, Some(e.host()), Some(e.layer()), None),
            SwarmError::Step {
                host, message, fix, ..
            } => {
                // The engine says it only in words; `step` chose the fix by the same test.
                let layer = is_quorum_error(message).then_some(Layer::Swarm);
                (
                    FailureKind::Failed,
                    Some(host.as_str()),
                    layer,
                    Some(fix.as_str()),
                )
            }
            SwarmError::Unreachable { host, .. } => {
                (FailureKind::Failed, Some(host.as_str()), None, None)
            }
            SwarmError::Locked { host } => (
                FailureKind::Failed,
                Some(host.as_str()),
                Some(Layer::Swarm),
                None,
            ),
            SwarmError::NoManager
            | SwarmError::NoManagerAnswered { .. }
            | SwarmError::QuorumLost(_) => (FailureKind::Failed, None, Some(Layer::Swarm), None),
            SwarmError::Audit(_) => (FailureKind::Failed, None, None, None),
            SwarmError::Service(e) if e.is_stale() => (
                FailureKind::Stale,
                None,
                Some(Layer::Swarm),
                Some("plan again: the plan will start from the spec as it is now"),
            ),
            SwarmError::Service(_) | SwarmError::Stack(_) => {
                (FailureKind::Refused, None, None, None)
            }
            SwarmError::Certs(crate::certs::CertError::Stale { .. }) => (
                FailureKind::Stale,
                None,
                Some(Layer::Swarm),
                Some("plan again: the plan will start from the swarm's settings as they are now"),
            ),
            SwarmError::Certs(crate::certs::CertError::NotFollowed { .. }) => {
                (FailureKind::Failed, None, Some(Layer::Swarm), None)
            }
            SwarmError::Certs(_) => (FailureKind::Refused, None, None, None),
            SwarmError::Backup(e) => {
                let (kind, host) = e.kind_and_host();
                (kind, host, None, None)
            }
        };
        let message = match self {
            // The CLI's words name a flag; the app offers a button instead.
            SwarmError::Quorum(r) => redact(&r.to_string()).into_owned(),
            other => other.redacted(),
        };
        Failure {
            kind,
            host: host.map(str::to_string),
            layer,
            message,
            fix: fix.map(|f| redact(f).into_owned()),
        }
    }

    fn step(host: &str, step: &str, message: impl std::fmt::Display, fix: &str) -> Self {
        let message = redact(&message.to_string()).into_owned();
        let fix = if is_quorum_error(&message) {
            "quorum lost: too few managers are reachable to change the swarm. Bring managers \
             back, or run `swarmdeck recover` for the figures and the recovery plan"
                .to_string()
        } else {
            fix.to_string()
        };
        SwarmError::Step {
            host: host.to_string(),
            step: step.to_string(),
            message,
            fix,
        }
    }
}

/// Whether a manager's error means the swarm has no Raft quorum (swarmkit's wording).
pub fn is_quorum_error(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "does not have a leader",
        "lost leader status",
        "too few managers are online",
        "raft: failed to process the request",
        "raft: no elected cluster leader",
    ]
    .iter()
    .any(|p| m.contains(p))
}

/// Checks a node or network name against docker's rule `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn validate_name(kind: &'static str, name: &str) -> Result<(), SwarmError> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && name.len() <= 255;
    if ok {
        Ok(())
    } else {
        Err(SwarmError::InvalidName {
            kind,
            name: name.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_errors_get_the_recover_fix() {
        let e = SwarmError::step(
            "node1",
            "drain node2",
            "rpc error: code = Unknown desc = raft: failed to process the request: node lost leader status",
            "retry",
        );
        assert!(e.to_string().contains("swarmdeck recover"), "{e}");
        let e = SwarmError::step("node1", "x", "The swarm does not have a leader.", "retry");
        assert!(e.to_string().contains("quorum lost"), "{e}");
        let f = e.failure();
        assert_eq!(f.layer, Some(crate::snapshot::Layer::Swarm));
        assert_eq!(f.host.as_deref(), Some("node1"));
        let plain = SwarmError::step("node1", "x", "no such node", "retry").failure();
        assert_eq!(plain.layer, None);
        assert!(!is_quorum_error("no such node"));
    }

    #[test]
    fn names_follow_docker_rules() {
        for ok in ["net1", "my_net", "a.b-c", "9x"] {
            assert!(validate_name("network", ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", "_x", "a b", "a;rm -rf /", "$(id)", "a/b", "ü"] {
            assert!(validate_name("network", bad).is_err(), "{bad}");
        }
    }
}
