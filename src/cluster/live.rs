//! Live changes without whole snapshots. The Engine API has no task events, so a task's
//! changes are seen through its service's events (from managers) and its container's
//! events (from the host that runs it, labelled with the service's ID). Such changes are
//! brought into the last snapshot by reading again only those services and their tasks,
//! and a container joining or leaving an overlay by reading only that host's overlays.
//! Anything else (nodes, networks created or removed, a broken event stream) still means
//! a whole snapshot.

use std::collections::BTreeSet;

use bollard::models::{EventMessage, EventMessageTypeEnum};
use bollard::query_parameters::{ListServicesOptions, ListTasksOptions};

use crate::docker::lenient;
use crate::snapshot::{self, ClusterSnapshot};

use super::Cluster;
use super::read::{inspect_overlays, overlay_ids};

/// The label swarm puts on a task's container: its service's ID.
const SERVICE_ID_LABEL: &str = "com.docker.swarm.service.id";

/// What one event from one host says changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// Something only a whole snapshot shows (nodes, networks, a stream that broke).
    Cluster,
    /// A service, or one of its tasks' containers.
    Service(String),
    /// A container joined or left an overlay on this host.
    Attachments(String),
}

impl Changed {
    /// Reads one event from `host`'s stream.
    pub fn of(host: &str, ev: &EventMessage) -> Changed {
        let attrs = ev.actor.as_ref().and_then(|a| a.attributes.as_ref());
        let attr = |k: &str| attrs.and_then(|a| a.get(k)).filter(|v| !v.is_empty());
        let action = ev.action.as_deref().unwrap_or_default();
        match ev.typ {
            Some(EventMessageTypeEnum::SERVICE) => ev
                .actor
                .as_ref()
                .and_then(|a| a.id.clone())
                .map_or(Changed::Cluster, Changed::Service),
            Some(EventMessageTypeEnum::CONTAINER) => {
                attr(SERVICE_ID_LABEL).map_or(Changed::Cluster, |id| Changed::Service(id.clone()))
            }
            Some(EventMessageTypeEnum::NETWORK)
                if matches!(action, "connect" | "disconnect") && attr("container").is_some() =>
            {
                Changed::Attachments(host.to_string())
            }
            _ => {
                tracing::debug!(host, typ = ?ev.typ, action, "event: a whole snapshot is due");
                Changed::Cluster
            }
        }
    }
}

/// Changes gathered while events settle.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pending {
    pub whole: bool,
    pub services: BTreeSet<String>,
    pub attachments: BTreeSet<String>,
}

impl Pending {
    pub fn add(&mut self, c: Changed) {
        match c {
            Changed::Cluster => self.whole = true,
            Changed::Service(id) => {
                self.services.insert(id);
            }
            Changed::Attachments(host) => {
                self.attachments.insert(host);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        !self.whole && self.services.is_empty() && self.attachments.is_empty()
    }
}

impl Cluster {
    /// `prev` brought up to date for `pending`'s services (read again, with their tasks,
    /// from the manager that answered for `prev`) and hosts' overlay attachments. `None`
    /// when only a whole snapshot will do: a whole change, no manager answered `prev`, its
    /// engine is not connected, or a read failed.
    pub async fn refresh_changed(
        &self,
        prev: &ClusterSnapshot,
        pending: &Pending,
    ) -> Option<ClusterSnapshot> {
        if pending.whole {
            return None;
        }
        let mut next = prev.clone();
        let (services, attachments) = tokio::join!(
            self.reread_services(prev, &pending.services),
            self.reread_attachments(prev, &pending.attachments),
        );
        if !pending.services.is_empty() {
            let (services, tasks) = services?;
            replace_services(&mut next, &pending.services, services, tasks);
        }
        for (node, network, containers) in attachments? {
            if let Some(net) = next.networks.iter_mut().find(|n| n.id == network) {
                net.containers.retain(|c| c.node != node);
                net.containers.extend(containers);
                net.containers
                    .sort_by(|a, b| (&a.node, &a.name).cmp(&(&b.node, &b.name)));
            }
        }
        next.fill_task_addresses();
        next.taken_at = snapshot::now_secs();
        Some(next)
    }

    async fn reread_services(
        &self,
        prev: &ClusterSnapshot,
        ids: &BTreeSet<String>,
    ) -> Option<(Vec<snapshot::ServiceInfo>, Vec<snapshot::TaskInfo>)> {
        if ids.is_empty() {
            return Some((Vec::new(), Vec::new()));
        }
        let manager = &prev.swarm.as_ref()?.answered_by;
        let docker = self.cached_engine(manager).await?;
        let ids: Vec<String> = ids.iter().cloned().collect();
        let services = ListServicesOptions {
            filters: Some([("id".to_string(), ids)].into()),
            status: Some(true),
        };
        let services = lenient::list(docker.list_services(Some(services)).await).ok()?;
        // Asked only for services that still exist: a manager refuses a task filter
        // naming a removed one, whose tasks are gone with it.
        let existing: Vec<String> = services.iter().filter_map(|s| s.value.id.clone()).collect();
        let tasks = match existing.is_empty() {
            true => Vec::new(),
            false => {
                let filters = ListTasksOptions {
                    filters: Some([("service".to_string(), existing)].into()),
                };
                lenient::list(docker.list_tasks(Some(filters)).await).ok()?
            }
        };
        let tasks: Vec<snapshot::TaskInfo> = tasks
            .iter()
            .map(snapshot::workloads::task_from_lenient)
            .collect();
        let services = services
            .iter()
            .map(|s| snapshot::workloads::service_from_api(&s.value, &tasks))
            .collect();
        Some((services, tasks))
    }

    /// For each host: every overlay of `prev` as that host sees it now, as (the host's
    /// node name, network id, its containers there).
    async fn reread_attachments(
        &self,
        prev: &ClusterSnapshot,
        hosts: &BTreeSet<String>,
    ) -> Option<Vec<(String, String, Vec<snapshot::AttachedContainer>)>> {
        let overlays = overlay_ids(prev);
        let mut asks = Vec::new();
        let mut node_of = Vec::new();
        for host in hosts {
            let status = prev.hosts.iter().find(|h| &h.host == host)?;
            let node = status.engine_name.clone().unwrap_or_else(|| host.clone());
            let docker = self.cached_engine(host).await?;
            node_of.push((host.clone(), node));
            asks.extend(
                overlays
                    .iter()
                    .map(|id| (host.clone(), docker.clone(), id.clone())),
            );
        }
        let answers = inspect_overlays(asks).await;
        Some(
            answers
                .into_iter()
                .map(|a| {
                    let node = node_of
                        .iter()
                        .find(|(h, _)| *h == a.host)
                        .map_or_else(|| a.host.clone(), |(_, n)| n.clone());
                    let containers = a
                        .network
                        .as_ref()
                        .map(|n| snapshot::attached_from_inspect(&node, n))
                        .unwrap_or_default();
                    (node, a.id, containers)
                })
                .collect(),
        )
    }
}

/// Swaps `ids`' services and tasks in `snap` for the ones read again (a service that is
/// gone is read as none). Tasks still there keep their addresses until overlays are read.
fn replace_services(
    snap: &mut ClusterSnapshot,
    ids: &BTreeSet<String>,
    services: Vec<snapshot::ServiceInfo>,
    mut tasks: Vec<snapshot::TaskInfo>,
) {
    for t in &mut tasks {
        if let Some(old) = snap.tasks.iter().find(|o| o.id == t.id) {
            t.addresses = old.addresses.clone();
        }
    }
    snap.services.retain(|s| !ids.contains(&s.id));
    snap.services.extend(services);
    snap.services.sort_by(|a, b| a.name.cmp(&b.name));
    snap.tasks.retain(|t| !ids.contains(&t.service_id));
    snap.tasks.extend(tasks);
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::EventActor;

    fn event(
        typ: EventMessageTypeEnum,
        action: &str,
        id: &str,
        attrs: &[(&str, &str)],
    ) -> EventMessage {
        EventMessage {
            typ: Some(typ),
            action: Some(action.into()),
            actor: Some(EventActor {
                id: Some(id.into()),
                attributes: Some(
                    attrs
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn events_name_what_to_read_again() {
        use EventMessageTypeEnum::*;
        let svc = event(SERVICE, "update", "s1", &[("name", "web")]);
        assert_eq!(Changed::of("h1", &svc), Changed::Service("s1".into()));
        let task = event(CONTAINER, "start", "c1", &[(SERVICE_ID_LABEL, "s2")]);
        assert_eq!(Changed::of("h1", &task), Changed::Service("s2".into()));
        let plain = event(CONTAINER, "start", "c2", &[("name", "probe")]);
        assert_eq!(Changed::of("h1", &plain), Changed::Cluster);
        let join = event(NETWORK, "connect", "n1", &[("container", "c1")]);
        assert_eq!(Changed::of("h2", &join), Changed::Attachments("h2".into()));
        let created = event(NETWORK, "create", "n1", &[("name", "appnet")]);
        assert_eq!(Changed::of("h2", &created), Changed::Cluster);
        let node = event(NODE, "update", "n1", &[]);
        assert_eq!(Changed::of("h1", &node), Changed::Cluster);
    }

    #[test]
    fn pending_changes_gather_and_a_whole_one_wins() {
        let mut p = Pending::default();
        assert!(p.is_empty());
        p.add(Changed::Service("s1".into()));
        p.add(Changed::Service("s1".into()));
        p.add(Changed::Attachments("h1".into()));
        assert_eq!(p.services.len(), 1);
        assert!(!p.whole);
        p.add(Changed::Cluster);
        assert!(p.whole && !p.is_empty());
    }

    #[test]
    fn a_services_tasks_are_replaced_and_others_kept() {
        use crate::snapshot::{ServiceInfo, TaskInfo};
        let mut snap = ClusterSnapshot::empty("t");
        let svc = |id: &str, name: &str| -> ServiceInfo {
            serde_json::from_value(
                serde_json::json!({"id": id, "name": name, "mode": "replicated"}),
            )
            .unwrap()
        };
        let task = |id: &str, service: &str| -> TaskInfo {
            serde_json::from_value(serde_json::json!({"id": id, "service_id": service,
                "desired_state": "running", "state": "running"}))
            .unwrap()
        };
        snap.services = vec![svc("s1", "api"), svc("s2", "web")];
        snap.tasks = vec![task("t1", "s1"), task("t2", "s2"), task("t3", "s2")];
        snap.tasks[1].addresses = vec!["10.0.1.5/24".into()];
        let ids: BTreeSet<String> = ["s2".to_string(), "gone".to_string()].into();
        let fresh = vec![task("t2", "s2"), task("t4", "s2")];
        replace_services(&mut snap, &ids, vec![svc("s2", "web")], fresh);
        let ids: Vec<&str> = snap.tasks.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["t1", "t2", "t4"]);
        assert_eq!(snap.tasks[1].addresses, ["10.0.1.5/24"]);
        assert_eq!(snap.services.len(), 2);
    }
}
