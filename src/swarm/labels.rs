//! Node labels: adding and removing them as a planned, confirmed and audited step on the
//! node's ID (`docker node update --label-add/--label-rm`), and which services' placement
//! constraints read each label. Pure, except for the step's application in [`super::ops`].
//!
//! Labels typed by the user are validated before anything is planned; labels read from
//! hosts are data, shown only through [`crate::untrusted`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::snapshot::{ClusterSnapshot, NodeInfo};
use crate::untrusted::visible;
use crate::workloads::constraint::{Constraint, Key};

use super::plan::{Action, Plan, Step, quote};
use super::state::SwarmState;
use super::{SwarmError, validate_name};

/// Longest label value swarmdeck sets.
const MAX_VALUE: usize = 256;

/// What the user asks of one node's labels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelChange {
    /// The node's ID (what the app sends) or a name only it has.
    pub node: String,
    pub add: BTreeMap<String, String>,
    pub remove: BTreeSet<String>,
}

impl LabelChange {
    pub fn describe(&self) -> String {
        format!("change the labels of node {}", visible(&self.node))
    }
}

/// The step: the node by ID, the labels to set and to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelEdit {
    pub node_id: String,
    /// The node as its docker command names it.
    pub name: String,
    pub add: BTreeMap<String, String>,
    pub remove: BTreeSet<String>,
}

impl LabelEdit {
    /// `docker node update --label-add k=v --label-rm k NODE`.
    pub fn cli(&self) -> String {
        let mut s = "docker node update".to_string();
        for (k, v) in &self.add {
            s.push_str(&format!(" --label-add {}", quote(&format!("{k}={v}"))));
        }
        for k in &self.remove {
            s.push_str(&format!(" --label-rm {}", quote(k)));
        }
        format!("{s} {}", quote(&self.name))
    }

    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.add.is_empty() {
            let set: Vec<String> = self.add.iter().map(|(k, v)| format!("{k}={v}")).collect();
            parts.push(format!("set label {}", set.join(", ")));
        }
        if !self.remove.is_empty() {
            let rm: Vec<&str> = self.remove.iter().map(String::as_str).collect();
            parts.push(format!("remove label {}", rm.join(", ")));
        }
        format!("{} on node {}", parts.join(" and "), visible(&self.name))
    }

    /// The node spec's labels after the edit.
    pub fn apply(&self, labels: &mut HashMap<String, String>) {
        for k in &self.remove {
            labels.remove(k);
        }
        for (k, v) in &self.add {
            labels.insert(k.clone(), v.clone());
        }
    }
}

/// A label key as swarmdeck sets it: a docker name (letters, digits, `_`, `.`, `-`).
pub fn validate_key(key: &str) -> Result<(), SwarmError> {
    validate_name("label key", key)
}

/// A label value: at most 256 of letters, digits and `-_.:/@+,=` (no spaces, quotes or
/// control characters: it must read the same in a constraint, a shell and a terminal).
pub fn validate_value(value: &str) -> Result<(), SwarmError> {
    let ok = value.len() <= MAX_VALUE
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@+,=".contains(c));
    if ok {
        Ok(())
    } else {
        Err(SwarmError::InvalidLabel {
            text: value.to_string(),
        })
    }
}

/// `KEY=VALUE` (or `KEY`, an empty value, as docker takes it), validated.
pub fn parse_assignment(text: &str) -> Result<(String, String), SwarmError> {
    let (k, v) = text.split_once('=').unwrap_or((text, ""));
    validate_key(k)?;
    validate_value(v)?;
    Ok((k.to_string(), v.to_string()))
}

/// The plan for `change`: one step on the manager that answers, acting on the node's ID;
/// nothing when the node already has the labels asked for and none of those to remove.
pub fn plan(state: &SwarmState, change: &LabelChange) -> Result<Plan, SwarmError> {
    validate_name("node", &change.node)?;
    for (k, v) in &change.add {
        validate_key(k)?;
        validate_value(v)?;
    }
    for k in &change.remove {
        validate_key(k)?;
    }
    let at = super::actions::anchor(state)?;
    let n = state.resolve_node(&change.node)?;
    let label = n.label_among(&state.nodes);
    let mut plan = Plan::default();
    let add: BTreeMap<String, String> = change
        .add
        .iter()
        .filter(|(k, v)| n.labels.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove: BTreeSet<String> = change
        .remove
        .iter()
        .filter(|k| n.labels.contains_key(*k) && !change.add.contains_key(*k))
        .cloned()
        .collect();
    for (k, v) in change.add.iter().filter(|(k, _)| !add.contains_key(*k)) {
        plan.notes.push(format!("{label} already has {k}={v}"));
    }
    for k in change.remove.iter().filter(|k| !n.labels.contains_key(*k)) {
        plan.notes.push(format!("{label} has no label {k}"));
    }
    if add.is_empty() && remove.is_empty() {
        return Ok(plan);
    }
    let edit = LabelEdit {
        node_id: n.id.clone(),
        name: n.cli_name_among(&state.nodes).to_string(),
        add,
        remove,
    };
    plan.steps.push(Step::new(at, Action::NodeLabels(edit), 0));
    Ok(plan)
}

/// A service constraint that reads a node label, and whether this node meets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelUse {
    pub service: String,
    /// The constraint as the service spec writes it.
    pub constraint: String,
    pub met: bool,
}

/// For each label key that some service's placement constraints read, those constraints
/// and whether `node` meets each; keys the node has come first in the map's order.
pub fn uses(snap: &ClusterSnapshot, node: &NodeInfo) -> BTreeMap<String, Vec<LabelUse>> {
    let mut out: BTreeMap<String, Vec<LabelUse>> = BTreeMap::new();
    for s in &snap.services {
        for text in &s.constraints {
            let Ok(c) = Constraint::parse(text) else {
                continue;
            };
            if let Key::NodeLabel(key) = &c.key {
                out.entry(key.clone()).or_default().push(LabelUse {
                    service: s.name.clone(),
                    constraint: c.text.clone(),
                    met: c.matches(node),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit() -> LabelEdit {
        LabelEdit {
            node_id: "abc".into(),
            name: "node3".into(),
            add: [("zone".to_string(), "b".to_string())].into(),
            remove: ["old".to_string()].into(),
        }
    }

    #[test]
    fn the_cli_equivalent_is_docker_node_update() {
        assert_eq!(
            edit().cli(),
            "docker node update --label-add zone=b --label-rm old node3"
        );
        assert_eq!(
            edit().describe(),
            "set label zone=b and remove label old on node node3"
        );
        let mut labels: HashMap<String, String> = [
            ("old".to_string(), "x".to_string()),
            ("keep".to_string(), "y".to_string()),
        ]
        .into();
        edit().apply(&mut labels);
        let want: HashMap<String, String> = [
            ("zone".to_string(), "b".to_string()),
            ("keep".to_string(), "y".to_string()),
        ]
        .into();
        assert_eq!(labels, want);
    }

    #[test]
    fn typed_labels_are_validated() {
        assert_eq!(
            parse_assignment("zone=eu-1").unwrap(),
            ("zone".into(), "eu-1".into())
        );
        assert_eq!(parse_assignment("ssd").unwrap(), ("ssd".into(), "".into()));
        for bad in [
            "=x",
            "zone=a b",
            "zone=$(reboot)",
            "zo ne=a",
            "zone=a\x1b[2J",
            "-x=1",
            "zone='a'",
        ] {
            assert!(parse_assignment(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_assignment(&format!("k={}", "v".repeat(257))).is_err());
    }
}
