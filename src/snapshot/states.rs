//! The engine's words for node, host and task states, as types.
//!
//! Each is stored and shown as the lowercase word the Engine API uses, so snapshots,
//! bundles and `status --json` read exactly as before. A word this build does not know (a
//! newer engine's, or a newer swarmdeck's file) is kept as `Other`, never refused.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An enum of engine words with an `Other` fallback: the word table is written once and
/// gives `as_str`, parsing (`From<&str>`), `Display` and serde.
macro_rules! engine_words {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $word:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A word this build does not know, kept as it was sent.
            Other(String),
        }

        impl $name {
            /// The word as the Engine API spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $word,)+
                    Self::Other(word) => word,
                }
            }
        }

        impl From<&str> for $name {
            fn from(word: &str) -> Self {
                match word {
                    $($word => Self::$variant,)+
                    other => Self::Other(other.to_string()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // `pad`, so width and alignment work in tables.
                f.pad(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d).map(|word| Self::from(word.as_str()))
            }
        }
    };
}

engine_words! {
    /// A node's state as the managers see it (`Status.State`).
    NodeState {
        Ready = "ready",
        Down = "down",
        Unknown = "unknown",
        Disconnected = "disconnected",
    }
}

engine_words! {
    /// Whether a node takes tasks, as `docker node update --availability` spells it.
    Availability {
        Active = "active",
        Pause = "pause",
        Drain = "drain",
    }
}

engine_words! {
    /// A manager's Raft reachability (`ManagerStatus.Reachability`).
    Reachability {
        Reachable = "reachable",
        Unreachable = "unreachable",
        Unknown = "unknown",
    }
}

engine_words! {
    /// A host's own view of its swarm membership (`Swarm.LocalNodeState`).
    LocalNodeState {
        Inactive = "inactive",
        Pending = "pending",
        Active = "active",
        Error = "error",
        Locked = "locked",
    }
}

engine_words! {
    /// A swarm task's state (`Status.State`, `DesiredState`), in the order swarm moves a
    /// task through them.
    TaskState {
        New = "new",
        Allocated = "allocated",
        Pending = "pending",
        Assigned = "assigned",
        Accepted = "accepted",
        Preparing = "preparing",
        Ready = "ready",
        Starting = "starting",
        Running = "running",
        Complete = "complete",
        Shutdown = "shutdown",
        Failed = "failed",
        Rejected = "rejected",
        Remove = "remove",
        Orphaned = "orphaned",
    }
}

impl TaskState {
    /// The state's place in swarm's order (unknown words after every known one): swarm
    /// compares states by it, e.g. "desired state at most running".
    pub fn rank(&self) -> u8 {
        use TaskState::*;
        let order = [
            New, Allocated, Pending, Assigned, Accepted, Preparing, Ready, Starting, Running,
            Complete, Shutdown, Failed, Rejected, Remove, Orphaned,
        ];
        order
            .iter()
            .position(|s| s == self)
            .map_or(u8::MAX, |p| p as u8)
    }

    /// Whether a task in this state holds its node's resources and ports, as the
    /// scheduler counts them: from assigned to running.
    pub fn holds_node(&self) -> bool {
        (TaskState::Assigned.rank()..=TaskState::Running.rank()).contains(&self.rank())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_unknown_words_are_kept() {
        for word in ["ready", "down", "unknown", "disconnected", "rebooting"] {
            let s = NodeState::from(word);
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{word}\""));
            assert_eq!(serde_json::from_str::<NodeState>(&json).unwrap(), s);
            assert_eq!(s.to_string(), word);
        }
        assert_eq!(NodeState::from("ready"), NodeState::Ready);
        assert_eq!(
            NodeState::from("rebooting"),
            NodeState::Other("rebooting".into())
        );
        let a: Availability = serde_json::from_str("\"drain\"").unwrap();
        assert_eq!(a, Availability::Drain);
        let a: Availability = serde_json::from_str("\"standby\"").unwrap();
        assert_eq!(a, Availability::Other("standby".into()));
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"standby\"");
        let l: LocalNodeState = serde_json::from_str("\"locked\"").unwrap();
        assert_eq!(l, LocalNodeState::Locked);
        assert_eq!(Reachability::from("reachable"), Reachability::Reachable);
        // Width and alignment apply, as for the strings these replace.
        assert_eq!(format!("[{:<7}]", Availability::Drain), "[drain  ]");
    }
}
