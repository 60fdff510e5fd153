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
pub mod ops;
pub mod plan;
pub mod state;

pub use audit::{AuditEntry, AuditError, AuditLog};
pub use plan::{Action, BootstrapOptions, OverlaySpec, Plan, Step};
pub use state::{HostFacts, LocalState, SwarmState};

use crate::docker::DockerError;
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

    fn step(host: &str, step: &str, message: impl std::fmt::Display, fix: &str) -> Self {
        let message = redact(&message.to_string()).into_owned();
        let fix = if is_quorum_error(&message) {
            "quorum lost: too few managers are reachable to change the swarm. Bring managers              back, or run `swarmdeck recover` for the figures and the recovery plan"
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
