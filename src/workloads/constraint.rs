//! Placement constraints as swarm parses and matches them (`node.labels.zone==a`,
//! `node.role!=manager`, …): the same keys, operators, character sets and case-insensitive
//! comparison as swarmkit's `manager/constraint`.

use std::net::IpAddr;

use crate::snapshot::{NodeInfo, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    NotEq,
}

/// What a constraint looks at on a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    NodeId,
    Hostname,
    Ip,
    Role,
    Os,
    Arch,
    NodeLabel(String),
    EngineLabel(String),
    /// A key swarm does not know: no node matches it.
    Unknown(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    /// As the service spec writes it.
    pub text: String,
    pub key: Key,
    pub op: Op,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConstraintError {
    #[error("constraint `{0}` has neither == nor !=")]
    NoOperator(String),
    #[error("constraint `{text}`: key `{key}` is invalid")]
    Key { text: String, key: String },
    #[error("constraint `{text}`: value `{value}` is invalid")]
    Value { text: String, value: String },
}

fn key_ok(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && k.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn value_ok(v: &str) -> bool {
    !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || ":-_.*()?+[]\\^$|/\t\n\x0c\r ".contains(c))
}

fn key_of(k: &str) -> Key {
    let lower = k.to_ascii_lowercase();
    let suffix = |prefix: &str| {
        (lower.len() > prefix.len() && lower.starts_with(prefix)).then(|| k[prefix.len()..].into())
    };
    match lower.as_str() {
        "node.id" => Key::NodeId,
        "node.hostname" => Key::Hostname,
        "node.ip" => Key::Ip,
        "node.role" => Key::Role,
        "node.platform.os" => Key::Os,
        "node.platform.arch" => Key::Arch,
        _ => suffix("node.labels.")
            .map(Key::NodeLabel)
            .or_else(|| suffix("engine.labels.").map(Key::EngineLabel))
            .unwrap_or_else(|| Key::Unknown(k.into())),
    }
}

impl Constraint {
    /// Parses one constraint as swarm does: `==` is looked for before `!=`.
    pub fn parse(text: &str) -> Result<Constraint, ConstraintError> {
        for (token, op) in [("==", Op::Eq), ("!=", Op::NotEq)] {
            let Some((key, value)) = text.split_once(token) else {
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            if !key_ok(key) {
                return Err(ConstraintError::Key {
                    text: text.into(),
                    key: key.into(),
                });
            }
            if !value_ok(value) {
                return Err(ConstraintError::Value {
                    text: text.into(),
                    value: value.into(),
                });
            }
            return Ok(Constraint {
                text: text.into(),
                key: key_of(key),
                op,
                value: value.into(),
            });
        }
        Err(ConstraintError::NoOperator(text.into()))
    }

    fn holds(&self, equal: bool) -> bool {
        equal == (self.op == Op::Eq)
    }

    /// The node's value for this constraint's key ("" when it has none), for people.
    pub fn actual(&self, n: &NodeInfo) -> String {
        let s = &n.scheduling;
        match &self.key {
            Key::NodeId => n.id.clone(),
            Key::Hostname => n.hostname.clone(),
            Key::Ip => n.address.clone(),
            Key::Role => role_word(n.role).into(),
            Key::Os => s.platform.os.clone(),
            Key::Arch => s.platform.arch.clone(),
            Key::NodeLabel(l) => n.labels.get(l).cloned().unwrap_or_default(),
            Key::EngineLabel(l) => s.engine_labels.get(l).cloned().unwrap_or_default(),
            Key::Unknown(_) => String::new(),
        }
    }

    /// Whether the node satisfies the constraint.
    pub fn matches(&self, n: &NodeInfo) -> bool {
        match &self.key {
            Key::Unknown(_) => false,
            Key::Ip => self.ip_matches(&n.address),
            _ => self.holds(self.value.eq_ignore_ascii_case(&self.actual(n))),
        }
    }

    /// `node.ip==10.0.0.5` or `node.ip==10.0.0.0/24`; any other value matches no node.
    fn ip_matches(&self, addr: &str) -> bool {
        let node: Option<IpAddr> = addr.parse().ok();
        if let Ok(ip) = self.value.parse::<IpAddr>() {
            return self.holds(node == Some(ip));
        }
        let Some((net, bits)) = self.value.split_once('/') else {
            return false;
        };
        let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else {
            return false;
        };
        self.holds(node.is_some_and(|ip| in_subnet(ip, net, bits)))
    }
}

fn in_subnet(ip: IpAddr, net: IpAddr, bits: u32) -> bool {
    let (ip, net, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a) as u128, u32::from(b) as u128, 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return false,
    };
    if bits > width {
        return false;
    }
    let shift = width - bits;
    shift >= 128 || ip >> shift == net >> shift
}

/// As swarm spells roles in constraints.
pub fn role_word(r: Role) -> &'static str {
    match r {
        Role::Manager => "manager",
        Role::Worker => "worker",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> NodeInfo {
        let mut n = crate::snapshot::node_from_api(
            &serde_json::from_str(
                r#"{"ID": "n1abc", "Spec": {"Role": "manager", "Labels": {"zone": "A"}},
                    "Description": {"Hostname": "node1",
                        "Platform": {"OS": "linux", "Architecture": "x86_64"},
                        "Engine": {"Labels": {"disk": "ssd"}}},
                    "Status": {"State": "ready", "Addr": "10.0.0.1"}}"#,
            )
            .unwrap(),
        );
        n.availability = "active".into();
        n
    }

    fn m(text: &str) -> bool {
        Constraint::parse(text).unwrap().matches(&node())
    }

    #[test]
    fn every_key_matches_like_swarm() {
        assert!(m("node.id==n1abc") && !m("node.id!=n1abc"));
        assert!(m("node.hostname==NODE1") && m("node.hostname != node2"));
        assert!(m("node.role==manager") && !m("node.role==worker"));
        assert!(m("node.platform.os==linux") && m("node.platform.arch==x86_64"));
        // Labels compare case-insensitively; a missing label is "".
        assert!(m("node.labels.zone==a") && !m("node.labels.zone==d"));
        assert!(m("node.labels.rack!=r1") && !m("node.labels.rack==r1"));
        assert!(m("engine.labels.disk==ssd") && !m("engine.labels.disk==hdd"));
        assert!(m("node.ip==10.0.0.1") && m("node.ip==10.0.0.0/24") && !m("node.ip!=10.0.0.0/8"));
        assert!(!m("node.ip==fd00::/8") && !m("node.ip==not-an-ip"));
        // A key swarm does not know matches no node, whatever the operator.
        assert!(!m("node.colour==red") && !m("node.colour!=red"));
    }

    #[test]
    fn parsing_follows_swarms_rules() {
        let c = Constraint::parse(" node.labels.zone == d ").unwrap();
        assert_eq!(c.key, Key::NodeLabel("zone".into()));
        assert_eq!((c.op, c.value.as_str()), (Op::Eq, "d"));
        assert!(matches!(
            Constraint::parse("node.labels.zone=d"),
            Err(ConstraintError::NoOperator(_))
        ));
        assert!(matches!(
            Constraint::parse("1node==a"),
            Err(ConstraintError::Key { .. })
        ));
        assert!(matches!(
            Constraint::parse("node.role==a;b"),
            Err(ConstraintError::Value { .. })
        ));
        // `==` first: `a!=b==c` is the key `a!` (invalid), as swarm reads it.
        assert!(Constraint::parse("a!=b==c").is_err());
    }

    proptest::proptest! {
        #![proptest_config(crate::prop_config(500))]

        /// Any text is parsed or refused, never a panic; what parses matches or not.
        #[test]
        fn any_text_parses_or_is_refused(text in "\\PC{0,40}(==|!=)?\\PC{0,20}") {
            if let Ok(c) = Constraint::parse(&text) {
                let _ = c.matches(&node());
            }
        }
    }
}
