//! A command in a task's container, run by the engine of the node that runs the task
//! (`POST /containers/{id}/exec`, then `POST /exec/{id}/start` hijacked into a raw
//! stream) over that node's own SSH connection: the docker CLI can only exec on the
//! engine it talks to. The task is found in a snapshot and mapped to its inventory host
//! as the logs are ([`super::logs::locate`]).
//!
//! Every call has its deadline (the guard's, by request kind) except the session's stream
//! itself, which ends when the command ends or the caller stops writing and reading.

use std::pin::Pin;
use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use bollard::query_parameters::ResizeExecOptions;
use futures_util::Stream;
use tokio::io::AsyncWrite;

use super::logs::{Unplaced, locate, no_swarm, resolve, task_name};
use crate::cluster::Cluster;
use crate::docker::DockerError;
use crate::snapshot::{ClusterSnapshot, Layer, TaskInfo, TaskState};
use crate::untrusted::visible as v;

/// What to run, and how.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    /// A service's name or ID (its one running task), a task's name (`SERVICE.SLOT`), its
    /// ID or a unique prefix of it.
    pub target: String,
    pub cmd: Vec<String>,
    /// Forward stdin to the command (`-i`).
    pub stdin: bool,
    /// A pseudo-terminal (`-t`): one raw stream, the terminal's size kept in step.
    pub tty: bool,
}

/// Where the command runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecTarget {
    /// The inventory host whose connection is used.
    pub host: String,
    /// The node's hostname, as swarm knows it.
    pub node: String,
    /// `SERVICE.SLOT` (or `SERVICE.NODEID` for global services).
    pub task: String,
    pub container: String,
}

/// Why a command could not be started or followed; each names the host and layer where
/// one is involved. Texts from hosts in it are made inert where they are shown.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("no swarm manager answered: {}", v(.why))]
    NoSwarm { why: String },
    #[error("no service or task {} (or several match it)", v(.target))]
    NotFound { target: String },
    #[error(
        "{} has {} running tasks ({}): name one as SERVICE.SLOT or by its task ID",
        v(.target), .tasks.len(), v(&.tasks.join(", "))
    )]
    Ambiguous { target: String, tasks: Vec<String> },
    #[error(
        "{} is not running (its task is {state}); `swarmdeck ps` shows why",
        v(.task)
    )]
    NotRunning { task: String, state: String },
    #[error(
        "{host}: {} not answering, so {} cannot run a command there: {}",
        .layer.describe(), v(.task), v(.error)
    )]
    Unreachable {
        host: String,
        task: String,
        layer: Layer,
        error: String,
    },
    #[error(
        "{} runs on node {}, which is in no inventory host (by address): add its host to \
         run commands there",
        v(.task), v(.node)
    )]
    NotInInventory { task: String, node: String },
    #[error("{host}: {step} failed at the {} layer: {}", .layer.describe(), v(.error))]
    Engine {
        host: String,
        step: &'static str,
        layer: Layer,
        error: String,
    },
}

impl ExecError {
    /// The layer a failure is at, where it is one host's.
    pub fn layer(&self) -> Option<Layer> {
        match self {
            ExecError::Engine { layer, .. } | ExecError::Unreachable { layer, .. } => Some(*layer),
            _ => None,
        }
    }

    async fn engine(
        host: &str,
        step: &'static str,
        docker: &Docker,
        e: bollard::errors::Error,
    ) -> Self {
        Self::from_docker(step, &DockerError::explain(host, docker, e).await)
    }

    fn from_docker(step: &'static str, e: &DockerError) -> Self {
        ExecError::Engine {
            host: e.host().to_string(),
            step,
            layer: e.layer(),
            error: crate::redact::redact(&e.to_string()).into_owned(),
        }
    }
}

/// The task `target` names that can run a command: a task by name or ID, or a service's
/// only running task.
pub fn find<'a>(snap: &'a ClusterSnapshot, target: &str) -> Result<&'a TaskInfo, ExecError> {
    let not_found = || ExecError::NotFound {
        target: target.to_string(),
    };
    let tasks = resolve(snap, target).ok_or_else(not_found)?;
    let running: Vec<&TaskInfo> = tasks
        .iter()
        .copied()
        .filter(|t| t.state == TaskState::Running && t.container_id.is_some())
        .collect();
    match (running.as_slice(), tasks.as_slice()) {
        ([one], _) => Ok(one),
        ([], [one]) => Err(ExecError::NotRunning {
            task: task_name(snap, one),
            state: one.state.to_string(),
        }),
        ([], _) => Err(ExecError::NotRunning {
            task: target.to_string(),
            state: "not running anywhere".into(),
        }),
        (many, _) => Err(ExecError::Ambiguous {
            target: target.to_string(),
            tasks: many.iter().map(|t| task_name(snap, t)).collect(),
        }),
    }
}

/// Finds the task in a fresh snapshot and the inventory host that runs it.
pub async fn target(cluster: &Cluster, target: &str) -> Result<ExecTarget, ExecError> {
    let snap = cluster.snapshot().await;
    if let Some(why) = no_swarm(&snap) {
        return Err(ExecError::NoSwarm { why });
    }
    let task = find(&snap, target)?;
    let name = task_name(&snap, task);
    match locate(&snap, cluster.inventory().hosts.as_slice(), task) {
        Some(Ok((host, node))) => Ok(ExecTarget {
            host: host.name.clone(),
            node: node.hostname.clone(),
            task: name,
            container: task.container_id.clone().unwrap_or_default(),
        }),
        Some(Err(Unplaced::Unreachable { host, layer, error })) => Err(ExecError::Unreachable {
            host,
            task: name,
            layer,
            error: crate::redact::redact(&error).into_owned(),
        }),
        Some(Err(Unplaced::NotInInventory { node })) => {
            Err(ExecError::NotInInventory { task: name, node })
        }
        None => Err(ExecError::NotRunning {
            task: name,
            state: task.state.to_string(),
        }),
    }
}

/// The command's output, frame by frame (stdout, stderr, or one console stream with a tty).
pub type Output = Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;

/// A started command: its output to read, its input to write (when `stdin` was asked),
/// and the handle to resize its terminal and read its exit code.
pub struct ExecSession {
    pub output: Output,
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
    pub handle: ExecHandle,
}

/// What stays callable while the stream is in use.
#[derive(Clone)]
pub struct ExecHandle {
    docker: Docker,
    host: String,
    id: String,
}

/// Creates and starts the command in the target's container, on its own host.
pub async fn start(
    cluster: &Cluster,
    at: &ExecTarget,
    req: &ExecRequest,
) -> Result<ExecSession, ExecError> {
    let spec = cluster
        .inventory()
        .hosts
        .iter()
        .find(|h| h.name == at.host)
        .ok_or_else(|| ExecError::NotFound {
            target: at.host.clone(),
        })?;
    let docker = cluster
        .engine(spec)
        .await
        .map_err(|e| ExecError::from_docker("connecting", &e))?;
    let host = at.host.clone();
    let config = ExecConfig {
        attach_stdin: Some(req.stdin),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(req.tty),
        cmd: Some(req.cmd.clone()),
        ..Default::default()
    };
    let created = match docker.create_exec(&at.container, config).await {
        Ok(c) => c,
        Err(e) => return Err(ExecError::engine(&host, "creating the exec", &docker, e).await),
    };
    let opts = StartExecOptions {
        detach: false,
        tty: req.tty,
        output_capacity: None,
    };
    let started = match docker.start_exec(&created.id, Some(opts)).await {
        Ok(s) => s,
        Err(e) => return Err(ExecError::engine(&host, "starting the exec", &docker, e).await),
    };
    let StartExecResults::Attached { output, input } = started else {
        return Err(ExecError::Engine {
            host,
            step: "starting the exec",
            layer: Layer::Engine,
            error: "the engine detached the command".into(),
        });
    };
    Ok(ExecSession {
        output,
        input,
        handle: ExecHandle {
            docker,
            host,
            id: created.id,
        },
    })
}

impl ExecHandle {
    /// Sets the command's terminal size (rows, columns).
    pub async fn resize(&self, rows: u16, cols: u16) -> Result<(), ExecError> {
        let size = ResizeExecOptions {
            h: i32::from(rows),
            w: i32::from(cols),
        };
        match self.docker.resize_exec(&self.id, size).await {
            Ok(()) => Ok(()),
            Err(e) => Err(ExecError::engine(&self.host, "resizing", &self.docker, e).await),
        }
    }

    /// The command's exit code, once its stream has ended. The engine marks the exec
    /// finished a moment after the stream closes: ask again briefly until it has.
    pub async fn exit_code(&self) -> Result<i64, ExecError> {
        let mut pause = Duration::from_millis(20);
        for _ in 0..12 {
            let inspected = match self.docker.inspect_exec(&self.id).await {
                Ok(i) => i,
                Err(e) => {
                    return Err(ExecError::engine(
                        &self.host,
                        "reading the exit code",
                        &self.docker,
                        e,
                    )
                    .await);
                }
            };
            if inspected.running != Some(true)
                && let Some(code) = inspected.exit_code
            {
                return Ok(code);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
        Err(ExecError::Engine {
            host: self.host.clone(),
            step: "reading the exit code",
            layer: Layer::Engine,
            error: "the engine still reports the command running after its output ended".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, slot: u64, state: TaskState) -> TaskInfo {
        TaskInfo {
            id: id.into(),
            service_id: "s1".into(),
            slot: Some(slot),
            node_id: Some("n1".into()),
            desired_state: TaskState::Running,
            state,
            error: None,
            message: String::new(),
            timestamp: format!("2026-01-01T00:00:0{slot}Z"),
            container_id: Some(format!("c{id}")),
            addresses: Vec::new(),
            reservations: Default::default(),
        }
    }

    fn snap(tasks: Vec<TaskInfo>) -> ClusterSnapshot {
        let mut s = ClusterSnapshot::empty("t");
        let mut web = crate::workloads::pending::tests::service();
        web.id = "s1".into();
        s.services.push(web);
        s.tasks = tasks;
        s
    }

    #[test]
    fn a_service_with_one_running_task_is_that_task() {
        let s = snap(vec![
            task("a", 1, TaskState::Shutdown),
            task("b", 1, TaskState::Running),
        ]);
        assert_eq!(find(&s, "web").unwrap().id, "b");
        assert_eq!(find(&s, "web.1").unwrap().id, "b", "the newest of the slot");
        let old = find(&s, "a").unwrap_err();
        assert!(matches!(old, ExecError::NotRunning { .. }), "{old}");
    }

    #[test]
    fn several_running_tasks_ask_for_a_slot() {
        let s = snap(vec![
            task("a", 1, TaskState::Running),
            task("b", 2, TaskState::Running),
        ]);
        let e = find(&s, "web").unwrap_err();
        assert!(matches!(e, ExecError::Ambiguous { .. }), "{e}");
        assert!(e.to_string().contains("web.1, web.2"), "{e}");
        assert_eq!(find(&s, "web.2").unwrap().id, "b");
        assert!(matches!(find(&s, "nope"), Err(ExecError::NotFound { .. })));
    }

    #[test]
    fn a_hosts_text_in_an_error_cannot_control_the_terminal() {
        let e = ExecError::Engine {
            host: "n1".into(),
            step: "creating the exec",
            layer: Layer::Engine,
            error: "no such container\x1b[2J\rforged".into(),
        };
        assert!(!crate::untrusted::has_control(&e.to_string()), "{e}");
    }
}
