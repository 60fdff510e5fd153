//! Typed outcomes: how a job that changes hosts failed, carrying what a caller acts on
//! (force allowed? which host, which layer, the fix) so nobody searches error text.

use crate::snapshot::Layer;

/// Why a job did not do what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Refused for safety (quorum); the user may force it, knowing the figures.
    NeedsForce,
    /// Refused: the request cannot be planned as asked (names, foreign swarm, kernel).
    Refused,
    /// The user stopped it; what ran is done and audited.
    Cancelled,
    /// A host, its engine or the swarm failed.
    Failed,
    /// What the plan was computed from changed before it was applied: plan again.
    Stale,
}

/// A failure as users see it: the message is redacted (no token, key or password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    /// The inventory host (or node) it happened on, when one is to blame.
    pub host: Option<String>,
    pub layer: Option<Layer>,
    pub message: String,
    pub fix: Option<String>,
}

impl Failure {
    /// A failure known only by its text (files, dialogs): redacted here.
    pub fn failed(message: impl AsRef<str>) -> Self {
        Self {
            kind: FailureKind::Failed,
            host: None,
            layer: None,
            message: crate::redact::redact(message.as_ref()).into_owned(),
            fix: None,
        }
    }

    pub fn needs_force(&self) -> bool {
        self.kind == FailureKind::NeedsForce
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
