//! Lists from engines newer than this build: bollard's types refuse a whole list when one
//! item holds a word they do not know (a new task state, a new node availability). Such a
//! list is decoded again item by item, and each value that refuses to decode is set aside
//! (the field becomes absent) and kept beside its item, so one unknown word costs that field
//! only, and the snapshot can still show the word as it was sent.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// How many values one item may set aside before it counts as unreadable.
const MAX_SET_ASIDE: usize = 16;

/// An item decoded leniently, with the values its type refused (JSON path → value).
#[derive(Debug, Clone)]
pub struct Lenient<T> {
    pub value: T,
    pub set_aside: Vec<(String, Value)>,
}

impl<T> Lenient<T> {
    /// The word that was set aside at `path` (e.g. `Status.State`), if any.
    pub fn word(&self, path: &str) -> Option<&str> {
        self.set_aside
            .iter()
            .find(|(p, _)| p == path)
            .and_then(|(_, v)| v.as_str())
    }
}

/// A list bollard decoded (nothing set aside), or, when its decode refused the body, the
/// same body decoded leniently. Other errors pass through.
pub fn list<T: DeserializeOwned>(
    decoded: Result<Vec<T>, bollard::errors::Error>,
) -> Result<Vec<Lenient<T>>, bollard::errors::Error> {
    match decoded {
        Ok(items) => Ok(items
            .into_iter()
            .map(|value| Lenient {
                value,
                set_aside: Vec::new(),
            })
            .collect()),
        Err(bollard::errors::Error::JsonDataError {
            message,
            contents,
            column,
        }) => decode_list(&contents).map_err(|_| bollard::errors::Error::JsonDataError {
            message,
            contents,
            column,
        }),
        Err(e) => Err(e),
    }
}

/// Decodes a JSON array item by item, setting aside the values an item's type refuses.
/// Fails only when the body is not an array or an item stays unreadable.
pub fn decode_list<T: DeserializeOwned>(body: &str) -> Result<Vec<Lenient<T>>, String> {
    let items: Vec<Value> = serde_json::from_str(body).map_err(|e| e.to_string())?;
    items.into_iter().map(decode_item).collect()
}

fn decode_item<T: DeserializeOwned>(mut item: Value) -> Result<Lenient<T>, String> {
    let mut set_aside = Vec::new();
    loop {
        match serde_path_to_error::deserialize::<_, T>(&item) {
            Ok(value) => return Ok(Lenient { value, set_aside }),
            Err(e) => {
                let path = e.path().to_string();
                let refused = take(&mut item, e.path());
                match refused {
                    Some(v) if set_aside.len() < MAX_SET_ASIDE => set_aside.push((path, v)),
                    _ => return Err(format!("{path}: {}", e.into_inner())),
                }
            }
        }
    }
}

/// Removes the value at `path` from `item` and returns it (`None` if there is none, or it
/// is the whole item: nothing smaller to set aside).
fn take(item: &mut Value, path: &serde_path_to_error::Path) -> Option<Value> {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path.iter().collect();
    let (last, parents) = segments.split_last()?;
    let mut at = item;
    for s in parents {
        at = match (s, at) {
            (Segment::Map { key }, Value::Object(m)) => m.get_mut(key.as_str())?,
            (Segment::Seq { index }, Value::Array(a)) => a.get_mut(*index)?,
            _ => return None,
        };
    }
    match (last, at) {
        (Segment::Map { key }, Value::Object(m)) => m.remove(key.as_str()),
        // An item of a list cannot be removed without shifting the others' paths: blank it.
        (Segment::Seq { index }, Value::Array(a)) => a.get_mut(*index).map(Value::take),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{Node, Task, TaskState};

    const TASKS: &str = r#"[
        {"ID": "t1", "DesiredState": "running", "Status": {"State": "running"}},
        {"ID": "t2", "DesiredState": "running", "Status": {"State": "hibernating", "Message": "new word"}},
        {"ID": "t3", "DesiredState": "paused-by-operator", "Status": {"State": "pending"}}
    ]"#;

    #[test]
    fn bollard_refuses_a_list_with_an_unknown_task_state() {
        assert!(serde_json::from_str::<Vec<Task>>(TASKS).is_err());
    }

    #[test]
    fn an_unknown_word_costs_its_field_only_and_is_kept() {
        let tasks: Vec<Lenient<Task>> = decode_list(TASKS).unwrap();
        assert_eq!(tasks.len(), 3);
        assert_eq!(
            tasks[0].value.status.as_ref().unwrap().state,
            Some(TaskState::RUNNING)
        );
        assert!(tasks[0].set_aside.is_empty());
        let t2 = &tasks[1];
        assert_eq!(t2.value.id.as_deref(), Some("t2"));
        assert_eq!(t2.value.status.as_ref().unwrap().state, None);
        assert_eq!(
            t2.value.status.as_ref().unwrap().message.as_deref(),
            Some("new word")
        );
        assert_eq!(t2.word("Status.State"), Some("hibernating"));
        assert_eq!(tasks[2].word("DesiredState"), Some("paused-by-operator"));
        assert_eq!(tasks[2].value.desired_state, None);
    }

    #[test]
    fn nodes_keep_their_other_fields_around_an_unknown_availability() {
        let body = r#"[{"ID": "n1", "Spec": {"Availability": "hibernate", "Role": "manager"},
            "Description": {"Hostname": "node1"}}]"#;
        let nodes: Vec<Lenient<Node>> = decode_list(body).unwrap();
        let n = &nodes[0].value;
        assert_eq!(
            n.description.as_ref().unwrap().hostname.as_deref(),
            Some("node1")
        );
        assert!(n.spec.as_ref().unwrap().role.is_some());
        assert_eq!(nodes[0].word("Spec.Availability"), Some("hibernate"));
    }

    #[test]
    fn a_body_that_is_not_a_list_is_an_error() {
        assert!(decode_list::<Task>("{}").is_err());
        assert!(decode_list::<Task>("[1, 2]").is_err());
    }

    #[test]
    fn bollards_refusal_is_decoded_again_from_its_body() {
        let refused = serde_json::from_str::<Vec<Task>>(TASKS).unwrap_err();
        let err = bollard::errors::Error::JsonDataError {
            message: refused.to_string(),
            contents: TASKS.to_string(),
            column: refused.column(),
        };
        let tasks = list::<Task>(Err(err)).unwrap();
        assert_eq!(tasks[1].word("Status.State"), Some("hibernating"));
        let other = bollard::errors::Error::DockerResponseServerError {
            status_code: 500,
            message: "boom".into(),
        };
        assert!(list::<Task>(Err(other)).is_err());
    }
}
