//! Workloads in a snapshot: services, their tasks, and the names of secrets and configs
//! (never their data), as one manager lists them. Conversions from the Engine API models
//! are pure functions; every field a newer or older engine may leave out has a default.

use std::collections::BTreeMap;

use bollard::models::{
    Config, EndpointPortConfig, Mount, MountType, Secret, Service, ServiceSpecMode, Task, TaskSpec,
    TaskState as ApiTaskState,
};
use serde::{Deserialize, Serialize};

use crate::docker::lenient::Lenient;

pub use super::states::TaskState;

/// The label `docker stack deploy` puts on everything it creates.
pub const STACK_LABEL: &str = "com.docker.stack.namespace";

/// CPU (in billionths of a CPU) and memory (bytes), as the Engine API counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    #[serde(default)]
    pub nano_cpus: i64,
    #[serde(default)]
    pub memory_bytes: i64,
}

impl Resources {
    pub fn is_zero(&self) -> bool {
        self.nano_cpus == 0 && self.memory_bytes == 0
    }

    fn from_parts(nano_cpus: Option<i64>, memory_bytes: Option<i64>) -> Self {
        Resources {
            nano_cpus: nano_cpus.unwrap_or(0),
            memory_bytes: memory_bytes.unwrap_or(0),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceResources {
    #[serde(default)]
    pub reservations: Resources,
    #[serde(default)]
    pub limits: Resources,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceMode {
    Replicated,
    Global,
    ReplicatedJob,
    GlobalJob,
    /// A mode a newer engine or swarmdeck knows.
    #[serde(other)]
    Other,
}

impl ServiceMode {
    /// As `docker service ls` shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceMode::Replicated => "replicated",
            ServiceMode::Global => "global",
            ServiceMode::ReplicatedJob => "replicated job",
            ServiceMode::GlobalJob => "global job",
            ServiceMode::Other => "other",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PublishMode {
    /// The routing mesh: every node listens, any node forwards to a task.
    Ingress,
    /// The port is bound on the node that runs the task: one task per node and port.
    Host,
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    /// 0 when the engine picks none (host mode without a published port).
    #[serde(default)]
    pub published: u32,
    pub target: u32,
    /// "tcp", "udp" or "sctp".
    pub protocol: String,
    pub mode: PublishMode,
}

impl PublishedPort {
    /// `*:8080->80/tcp` as `docker service ls` writes ingress ports, `8080->80/tcp (host)`
    /// for host-mode ones.
    pub fn describe(&self) -> String {
        let published = match self.published {
            0 => "*".to_string(),
            p => p.to_string(),
        };
        match self.mode {
            PublishMode::Host => format!("{published}->{}/{} (host)", self.target, self.protocol),
            _ => format!("*:{published}->{}/{}", self.target, self.protocol),
        }
    }
}

/// A rolling update's progress: "updating", "paused", "completed", "rollback_started", ….
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateStatus {
    pub state: String,
    #[serde(default)]
    pub message: String,
}

/// An operating system and architecture, as nodes report them and services require.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub arch: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub id: String,
    pub name: String,
    pub mode: ServiceMode,
    /// Tasks running now (the engine's own count when it gives one).
    #[serde(default)]
    pub running: u64,
    /// Tasks wanted: the replica count, or one per eligible node for global services.
    #[serde(default)]
    pub desired: u64,
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub ports: Vec<PublishedPort>,
    /// The IDs of the networks the tasks attach to.
    #[serde(default)]
    pub networks: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Placement constraints as written, e.g. `node.labels.zone==a`.
    #[serde(default)]
    pub constraints: Vec<String>,
    /// Placement preferences, e.g. `spread=node.labels.zone`.
    #[serde(default)]
    pub preferences: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replicas_per_node: Option<u64>,
    #[serde(default)]
    pub resources: ServiceResources,
    /// Platforms the image supports (from the registry when the service was created).
    #[serde(default)]
    pub platforms: Vec<Platform>,
    /// Drivers of volumes the tasks mount that are not "local" (each needs its plugin).
    #[serde(default)]
    pub volume_drivers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_driver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_status: Option<UpdateStatus>,
    /// The stack it belongs to (the `com.docker.stack.namespace` label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    /// How swarm replaces its tasks on an update, and on a rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_config: Option<UpdatePolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_config: Option<UpdatePolicy>,
    /// The virtual IPs the swarm gave it, one per network (endpoint mode `vip`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vips: Vec<VirtualIp>,
}

/// A service's `UpdateConfig` or `RollbackConfig`, as the engine holds it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UpdatePolicy {
    /// Tasks replaced at once (0: all).
    pub parallelism: u64,
    pub delay_ns: i64,
    /// `pause`, `continue` or `rollback`.
    pub failure_action: String,
    pub monitor_ns: i64,
    /// The share of tasks that may fail before the failure action, as written ("0.1").
    pub max_failure_ratio: String,
    /// `stop-first` or `start-first`.
    pub order: String,
}

/// `UpdateConfig` and `RollbackConfig` are two API types with the same fields.
macro_rules! policy_of {
    ($u:expr) => {
        UpdatePolicy::of(
            $u.parallelism,
            $u.delay,
            $u.failure_action.map(|a| a.to_string()),
            $u.monitor,
            $u.max_failure_ratio,
            $u.order.map(|o| o.to_string()),
        )
    };
}

impl UpdatePolicy {
    fn of(
        parallelism: Option<i64>,
        delay: Option<i64>,
        failure_action: Option<String>,
        monitor: Option<i64>,
        max_failure_ratio: Option<f64>,
        order: Option<String>,
    ) -> UpdatePolicy {
        UpdatePolicy {
            parallelism: parallelism.unwrap_or(0).max(0) as u64,
            delay_ns: delay.unwrap_or(0),
            failure_action: failure_action.unwrap_or_default(),
            monitor_ns: monitor.unwrap_or(0),
            max_failure_ratio: max_failure_ratio.unwrap_or(0.0).to_string(),
            order: order.unwrap_or_default(),
        }
    }

    /// "1 at a time, 10 s apart, on failure pause, stop-first".
    pub fn describe(&self) -> String {
        let at_once = match self.parallelism {
            0 => "all at once".to_string(),
            n => format!("{n} at a time"),
        };
        let secs = |ns: i64| ns as f64 / 1e9;
        let mut out = format!("{at_once}, {} s apart", secs(self.delay_ns));
        for (label, v) in [("on failure", &self.failure_action), ("order", &self.order)] {
            if !v.is_empty() {
                out.push_str(&format!(", {label} {v}"));
            }
        }
        if self.monitor_ns > 0 {
            out.push_str(&format!(", watched {} s", secs(self.monitor_ns)));
        }
        if self.max_failure_ratio != "0" {
            out.push_str(&format!(", up to {} failing", self.max_failure_ratio));
        }
        out
    }
}

/// A service's address on one network, e.g. `10.0.1.2/24`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualIp {
    pub network_id: String,
    pub addr: String,
}

impl From<&bollard::models::Platform> for Platform {
    fn from(p: &bollard::models::Platform) -> Self {
        Platform {
            os: p.os.clone().unwrap_or_default(),
            arch: p.architecture.clone().unwrap_or_default(),
        }
    }
}

impl ServiceInfo {
    /// The image without its digest, as `docker service ls` shows it.
    pub fn image_short(&self) -> &str {
        self.image.split('@').next().unwrap_or(&self.image)
    }

    /// "2/3", or for global services the same from the engine's counts.
    pub fn replicas(&self) -> String {
        let max = self
            .max_replicas_per_node
            .map(|m| format!(" (max {m} per node)"))
            .unwrap_or_default();
        format!("{}/{}{max}", self.running, self.desired)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskInfo {
    pub id: String,
    pub service_id: String,
    /// Replicated services number their tasks; global ones do not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<u64>,
    /// The node the scheduler assigned it to; none while it is pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    pub desired_state: TaskState,
    pub state: TaskState,
    /// The engine's error, e.g. "no suitable node (scheduling constraints not satisfied
    /// on 3 nodes)".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub message: String,
    /// When the task entered its state (RFC 3339, as the engine wrote it).
    #[serde(default)]
    pub timestamp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// The task's container's addresses on overlays, as its host reports them.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// What the task reserves on its node (its own spec: during an update it may differ
    /// from the service's).
    #[serde(default)]
    pub reservations: Resources,
}

impl TaskInfo {
    /// Pending for want of a node: desired running, not yet placed.
    pub fn is_unplaced(&self) -> bool {
        self.state == TaskState::Pending
            && self.desired_state.rank() <= TaskState::Running.rank()
            && self.node_id.is_none()
    }

    /// Whether the scheduler counts it against its node's limits: on a node, between
    /// assigned and running.
    pub fn holds_node(&self) -> bool {
        self.node_id.is_some() && self.state.holds_node()
    }

    /// Whether the scheduler counts it as one of its service's tasks on its node (for
    /// the max-replicas-per-node limit): it is meant to run.
    /// On its way to its desired state: placed but not yet running, or asked to stop and
    /// still holding its node. The managers learn of these steps from the node a moment
    /// after the container's own events, and no event says when.
    pub fn in_transition(&self) -> bool {
        let running = TaskState::Running.rank();
        let desired = self.desired_state.rank();
        self.state.holds_node()
            && ((desired == running && self.state.rank() < running) || desired > running)
    }

    pub fn is_active(&self) -> bool {
        self.holds_node() && self.desired_state.rank() <= TaskState::Complete.rank()
    }
}

fn task_state(s: Option<ApiTaskState>) -> TaskState {
    s.map_or(TaskState::Other(String::new()), |s| {
        TaskState::from(s.to_string().as_str())
    })
}

fn mode_of(mode: Option<&ServiceSpecMode>) -> ServiceMode {
    match mode {
        Some(m) if m.replicated.is_some() => ServiceMode::Replicated,
        Some(m) if m.global.is_some() => ServiceMode::Global,
        Some(m) if m.replicated_job.is_some() => ServiceMode::ReplicatedJob,
        Some(m) if m.global_job.is_some() => ServiceMode::GlobalJob,
        _ => ServiceMode::Other,
    }
}

fn port_of(p: &EndpointPortConfig) -> PublishedPort {
    let mode = match p.publish_mode.map(|m| m.to_string()).as_deref() {
        Some("host") => PublishMode::Host,
        // The API's default publish mode is ingress.
        Some("ingress" | "") | None => PublishMode::Ingress,
        Some(_) => PublishMode::Other,
    };
    PublishedPort {
        published: p.published_port.unwrap_or(0).clamp(0, u32::MAX.into()) as u32,
        target: p.target_port.unwrap_or(0).clamp(0, u32::MAX.into()) as u32,
        protocol: p
            .protocol
            .map(|p| p.to_string())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "tcp".into()),
        mode,
    }
}

fn reservations_of(spec: Option<&TaskSpec>) -> Resources {
    spec.and_then(|t| t.resources.as_ref())
        .and_then(|r| r.reservations.as_ref())
        .map(|r| Resources::from_parts(r.nano_cpus, r.memory_bytes))
        .unwrap_or_default()
}

fn volume_driver(m: &Mount) -> Option<String> {
    if m.typ != Some(MountType::VOLUME) {
        return None;
    }
    let name = m
        .volume_options
        .as_ref()?
        .driver_config
        .as_ref()?
        .name
        .clone()?;
    (!name.is_empty() && name != "local").then_some(name)
}

/// A service from `GET /services?status=true` on a manager. `tasks` are its tasks, for
/// engines that give no counts of their own.
pub fn service_from_api(s: &Service, tasks: &[TaskInfo]) -> ServiceInfo {
    let spec = s.spec.as_ref();
    let template = spec.and_then(|s| s.task_template.as_ref());
    let placement = template.and_then(|t| t.placement.as_ref());
    let container = template.and_then(|t| t.container_spec.as_ref());
    let id = s.id.clone().unwrap_or_default();
    let labels: BTreeMap<String, String> = spec
        .and_then(|s| s.labels.clone())
        .unwrap_or_default()
        .into_iter()
        .collect();
    let mode = mode_of(spec.and_then(|s| s.mode.as_ref()));
    let mine = || tasks.iter().filter(|t| t.service_id == id);
    let status = s.service_status.as_ref();
    let running = status.and_then(|s| s.running_tasks).unwrap_or_else(|| {
        mine()
            .filter(|t| t.state == TaskState::Running && t.desired_state == TaskState::Running)
            .count() as u64
    });
    let desired = status.and_then(|s| s.desired_tasks).unwrap_or_else(|| {
        spec.and_then(|s| s.mode.as_ref())
            .and_then(|m| m.replicated.as_ref())
            .and_then(|r| r.replicas)
            .map_or_else(
                || {
                    mine()
                        .filter(|t| t.desired_state == TaskState::Running)
                        .count() as u64
                },
                |r| r.max(0) as u64,
            )
    });
    // The endpoint's ports are what the swarm allocated; the spec's until it has.
    let ports = s
        .endpoint
        .as_ref()
        .and_then(|e| e.ports.as_ref())
        .or_else(|| {
            spec.and_then(|s| s.endpoint_spec.as_ref())
                .and_then(|e| e.ports.as_ref())
        })
        .map(|p| p.iter().map(port_of).collect())
        .unwrap_or_default();
    let networks = template
        .and_then(|t| t.networks.as_ref())
        .or_else(|| spec.and_then(|s| s.networks.as_ref()))
        .map(|n| n.iter().filter_map(|n| n.target.clone()).collect())
        .unwrap_or_default();
    let limits = template
        .and_then(|t| t.resources.as_ref())
        .and_then(|r| r.limits.as_ref())
        .map(|l| Resources::from_parts(l.nano_cpus, l.memory_bytes))
        .unwrap_or_default();
    ServiceInfo {
        name: spec.and_then(|s| s.name.clone()).unwrap_or_default(),
        mode,
        running,
        desired,
        image: container.and_then(|c| c.image.clone()).unwrap_or_default(),
        ports,
        networks,
        stack: labels.get(STACK_LABEL).cloned(),
        update_config: spec
            .and_then(|s| s.update_config.as_ref())
            .map(|u| policy_of!(u)),
        rollback_config: spec
            .and_then(|s| s.rollback_config.as_ref())
            .map(|u| policy_of!(u)),
        vips: s
            .endpoint
            .as_ref()
            .and_then(|e| e.virtual_ips.as_ref())
            .map(|v| {
                v.iter()
                    .filter_map(|v| {
                        Some(VirtualIp {
                            network_id: v.network_id.clone()?,
                            addr: v.addr.clone()?,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default(),
        labels,
        constraints: placement
            .and_then(|p| p.constraints.clone())
            .unwrap_or_default(),
        preferences: placement
            .and_then(|p| p.preferences.as_ref())
            .map(|p| {
                p.iter()
                    .filter_map(|p| p.spread.as_ref()?.spread_descriptor.clone())
                    .map(|d| format!("spread={d}"))
                    .collect()
            })
            .unwrap_or_default(),
        max_replicas_per_node: placement
            .and_then(|p| p.max_replicas)
            .filter(|m| *m > 0)
            .map(|m| m as u64),
        resources: ServiceResources {
            reservations: reservations_of(template),
            limits,
        },
        platforms: placement
            .and_then(|p| p.platforms.as_ref())
            .map(|p| p.iter().map(Platform::from).collect())
            .unwrap_or_default(),
        volume_drivers: container
            .and_then(|c| c.mounts.as_ref())
            .map(|m| m.iter().filter_map(volume_driver).collect())
            .unwrap_or_default(),
        log_driver: template
            .and_then(|t| t.log_driver.as_ref())
            .and_then(|l| l.name.clone())
            .filter(|n| !n.is_empty()),
        update_status: s.update_status.as_ref().map(|u| UpdateStatus {
            state: u.state.map(|s| s.to_string()).unwrap_or_default(),
            message: u.message.clone().unwrap_or_default(),
        }),
        id,
    }
}

/// A task from `GET /tasks` on a manager.
pub fn task_from_api(t: &Task) -> TaskInfo {
    let status = t.status.as_ref();
    TaskInfo {
        id: t.id.clone().unwrap_or_default(),
        service_id: t.service_id.clone().unwrap_or_default(),
        slot: t.slot.filter(|s| *s > 0).map(|s| s as u64),
        node_id: t.node_id.clone().filter(|n| !n.is_empty()),
        desired_state: task_state(t.desired_state),
        state: task_state(status.and_then(|s| s.state)),
        error: status.and_then(|s| s.err.clone()).filter(|e| !e.is_empty()),
        message: status.and_then(|s| s.message.clone()).unwrap_or_default(),
        timestamp: status.and_then(|s| s.timestamp.clone()).unwrap_or_default(),
        container_id: status
            .and_then(|s| s.container_status.as_ref())
            .and_then(|c| c.container_id.clone())
            .filter(|c| !c.is_empty()),
        addresses: Vec::new(),
        reservations: reservations_of(t.spec.as_ref()),
    }
}

/// A task some of whose words this build did not know: they are kept as `Other`.
pub fn task_from_lenient(t: &Lenient<Task>) -> TaskInfo {
    let mut info = task_from_api(&t.value);
    if let Some(w) = t.word("Status.State") {
        info.state = TaskState::from(w);
    }
    if let Some(w) = t.word("DesiredState") {
        info.desired_state = TaskState::from(w);
    }
    info
}

/// Secret names only: the API never returns their data, and neither does a snapshot.
pub fn secret_name(s: &Secret) -> String {
    s.spec
        .as_ref()
        .and_then(|s| s.name.clone())
        .unwrap_or_default()
}

/// Config names only: their data stays on the managers.
pub fn config_name(c: &Config) -> String {
    c.spec
        .as_ref()
        .and_then(|s| s.name.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_states_keep_swarms_order_and_unknown_words() {
        let later: TaskState = serde_json::from_str("\"hibernating\"").unwrap();
        assert_eq!(later, TaskState::Other("hibernating".into()));
        assert_eq!(serde_json::to_string(&later).unwrap(), "\"hibernating\"");
        assert!(TaskState::Assigned.holds_node() && TaskState::Running.holds_node());
        assert!(!TaskState::Pending.holds_node() && !TaskState::Shutdown.holds_node());
        assert!(!later.holds_node());
        assert!(TaskState::New.rank() < TaskState::Orphaned.rank());
        assert!(TaskState::Orphaned.rank() < later.rank());
    }

    #[test]
    fn service_conversion_reads_placement_ports_and_resources() {
        let json = r#"{
            "ID": "s1",
            "Spec": {
                "Name": "web",
                "Labels": {"com.docker.stack.namespace": "shop"},
                "TaskTemplate": {
                    "ContainerSpec": {"Image": "nginx:1.25@sha256:abc",
                        "Mounts": [{"Type": "volume", "Source": "d", "Target": "/d",
                                    "VolumeOptions": {"DriverConfig": {"Name": "rexray"}}}]},
                    "Resources": {"Reservations": {"MemoryBytes": 2147483648, "NanoCPUs": 500000000},
                                  "Limits": {"MemoryBytes": 4294967296}},
                    "Placement": {"Constraints": ["node.labels.zone==d"],
                                  "Preferences": [{"Spread": {"SpreadDescriptor": "node.labels.zone"}}],
                                  "MaxReplicas": 1},
                    "Networks": [{"Target": "net1"}]
                },
                "Mode": {"Replicated": {"Replicas": 4}}
            },
            "Endpoint": {"Ports": [
                {"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "host"},
                {"Protocol": "udp", "TargetPort": 53, "PublishedPort": 30053, "PublishMode": "ingress"}
            ]},
            "ServiceStatus": {"RunningTasks": 3, "DesiredTasks": 4},
            "UpdateStatus": {"State": "paused", "Message": "update paused due to failure"}
        }"#;
        let s: Service = serde_json::from_str(json).unwrap();
        let info = service_from_api(&s, &[]);
        assert_eq!(info.name, "web");
        assert_eq!(info.mode, ServiceMode::Replicated);
        assert_eq!((info.running, info.desired), (3, 4));
        assert_eq!(info.image_short(), "nginx:1.25");
        assert_eq!(info.stack.as_deref(), Some("shop"));
        assert_eq!(info.constraints, ["node.labels.zone==d"]);
        assert_eq!(info.preferences, ["spread=node.labels.zone"]);
        assert_eq!(info.max_replicas_per_node, Some(1));
        assert_eq!(info.resources.reservations.memory_bytes, 2 << 30);
        assert_eq!(info.resources.reservations.nano_cpus, 500_000_000);
        assert_eq!(info.resources.limits.memory_bytes, 4 << 30);
        assert_eq!(info.networks, ["net1"]);
        assert_eq!(info.volume_drivers, ["rexray"]);
        assert_eq!(info.ports[0].mode, PublishMode::Host);
        assert_eq!(info.ports[0].describe(), "8080->80/tcp (host)");
        assert_eq!(info.ports[1].describe(), "*:30053->53/udp");
        assert_eq!(info.update_status.unwrap().state, "paused");
    }

    #[test]
    fn counts_come_from_tasks_when_the_engine_gives_none() {
        let json = r#"{"ID": "s1", "Spec": {"Name": "g", "Mode": {"Global": {}}}}"#;
        let s: Service = serde_json::from_str(json).unwrap();
        let task = |state: &str| {
            task_from_api(
                &serde_json::from_str(&format!(
                    r#"{{"ID": "t", "ServiceID": "s1", "NodeID": "n1", "DesiredState": "running",
                        "Status": {{"State": "{state}"}}}}"#
                ))
                .unwrap(),
            )
        };
        let info = service_from_api(&s, &[task("running"), task("pending")]);
        assert_eq!(info.mode, ServiceMode::Global);
        assert_eq!((info.running, info.desired), (1, 2));
    }

    #[test]
    fn secrets_and_configs_keep_their_names_only() {
        let config: Config = serde_json::from_str(
            r#"{"ID": "c1", "Spec": {"Name": "app.conf", "Data": "cGFzc3dvcmQ9aHVudGVyMg=="}}"#,
        )
        .unwrap();
        let secret: Secret =
            serde_json::from_str(r#"{"ID": "s1", "Spec": {"Name": "db-password"}}"#).unwrap();
        let mut snap = crate::snapshot::ClusterSnapshot::empty("t");
        snap.configs.push(config_name(&config));
        snap.secrets.push(secret_name(&secret));
        let json = snap.to_json();
        assert!(json.contains("\"app.conf\"") && json.contains("\"db-password\""));
        assert!(!json.contains("cGFzc3dvcmQ9aHVudGVyMg"), "{json}");
    }

    #[test]
    fn task_conversion_reads_the_engines_words() {
        let json = r#"{"ID": "t1", "ServiceID": "s1", "Slot": 4, "DesiredState": "running",
            "Spec": {"Resources": {"Reservations": {"MemoryBytes": 1024}}},
            "Status": {"Timestamp": "2026-11-30T10:00:00Z", "State": "pending",
                       "Message": "pending task scheduling",
                       "Err": "no suitable node (max replicas per node limit exceed)"}}"#;
        let t = task_from_api(&serde_json::from_str(json).unwrap());
        assert_eq!(t.slot, Some(4));
        assert!(t.is_unplaced());
        assert_eq!(t.reservations.memory_bytes, 1024);
        assert!(t.error.unwrap().starts_with("no suitable node"));
    }

    #[test]
    fn a_newer_engines_task_state_is_kept_as_its_word() {
        let body = r#"[{"ID": "t1", "ServiceID": "s1", "DesiredState": "running",
            "Status": {"State": "checkpointed", "Message": "a newer engine's state"}}]"#;
        let lenient = crate::docker::lenient::decode_list(body).unwrap();
        let t = task_from_lenient(&lenient[0]);
        assert_eq!(t.state, TaskState::Other("checkpointed".into()));
        assert_eq!(t.state.to_string(), "checkpointed");
        assert_eq!(t.desired_state, TaskState::Running);
        assert_eq!(t.service_id, "s1");
    }

    #[test]
    fn tasks_between_a_containers_event_and_the_managers_word_are_in_transition() {
        let task = |desired: TaskState, state: TaskState| -> TaskInfo {
            serde_json::from_value(serde_json::json!({"id": "t", "service_id": "s",
                "desired_state": desired.as_str(), "state": state.as_str()}))
            .unwrap()
        };
        use TaskState::*;
        assert!(task(Running, Starting).in_transition());
        assert!(task(Running, Assigned).in_transition());
        assert!(task(Shutdown, Running).in_transition());
        assert!(!task(Running, Running).in_transition());
        // A pending task waits for the scheduler: a node or service event will tell.
        assert!(!task(Running, Pending).in_transition());
        assert!(!task(Shutdown, Shutdown).in_transition());
        assert!(!task(Shutdown, Failed).in_transition());
    }

    #[test]
    fn update_and_rollback_policies_are_read_and_described() {
        let json = r#"{"ID": "s1", "Spec": {"Name": "web",
            "UpdateConfig": {"Parallelism": 2, "Delay": 10000000000, "FailureAction": "rollback",
                             "Monitor": 5000000000, "MaxFailureRatio": 0.25, "Order": "start-first"},
            "RollbackConfig": {"Parallelism": 0, "FailureAction": "pause"}}}"#;
        let svc = service_from_api(&serde_json::from_str(json).unwrap(), &[]);
        let update = svc.update_config.unwrap();
        assert_eq!(
            update.describe(),
            "2 at a time, 10 s apart, on failure rollback, order start-first, watched 5 s, up to 0.25 failing"
        );
        assert_eq!(
            svc.rollback_config.unwrap().describe(),
            "all at once, 0 s apart, on failure pause"
        );
    }
}
