//! A stack deployed or removed, planned by the functions the CLI (`stack deploy|rm`) and
//! the app (`Change::Stack`) both call: the files are read first (their errors need no
//! host), then the stack's objects are read from a manager and the plan computed.

use std::path::PathBuf;

use std::collections::HashMap;

use bollard::models::HealthConfig;

use crate::cluster::Cluster;
use crate::ssh::RemoteCommand;
use crate::swarm::{Plan, SwarmError};
use crate::untrusted::visible;

use super::{Loaded, StackError, diff};

/// What to do with a stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackChange {
    /// Create or update stack `name` from a Compose file; `prune` removes the stack's
    /// services the file no longer has.
    Deploy {
        file: PathBuf,
        env_file: Option<PathBuf>,
        name: String,
        prune: bool,
    },
    /// Remove the stack's services, networks, secrets and configs.
    Remove { name: String },
}

impl StackChange {
    pub fn name(&self) -> &str {
        match self {
            StackChange::Deploy { name, .. } | StackChange::Remove { name } => name,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            StackChange::Deploy { name, .. } => format!("deploy stack {}", visible(name)),
            StackChange::Remove { name } => format!("remove stack {}", visible(name)),
        }
    }
}

/// Which file of a deployment is being picked in the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackFile {
    Compose,
    Env,
}

/// A change whose files are read and checked, ready to compare with the swarm.
#[derive(Debug, Clone)]
pub enum Prepared {
    Deploy {
        loaded: Box<Loaded>,
        file: String,
        name: String,
        prune: bool,
    },
    Remove {
        name: String,
    },
}

impl Prepared {
    /// What loading the file warned about (ignored keys, unset variables).
    pub fn warnings(&self) -> &[String] {
        match self {
            Prepared::Deploy { loaded, .. } => &loaded.warnings,
            Prepared::Remove { .. } => &[],
        }
    }
}

/// Reads the Compose file (with the env file and this process's environment) or checks
/// the name to remove; nothing here needs a host.
pub fn prepare(change: &StackChange) -> Result<Prepared, StackError> {
    match change {
        StackChange::Deploy {
            file,
            env_file,
            name,
            prune,
        } => {
            let loaded = super::load(file, env_file.as_deref(), name, std::env::vars())?;
            Ok(Prepared::Deploy {
                loaded: Box::new(loaded),
                file: file.display().to_string(),
                name: name.clone(),
                prune: *prune,
            })
        }
        StackChange::Remove { name } => {
            crate::swarm::validate_name("stack", name).map_err(|e| StackError::Invalid {
                file: "stack name".into(),
                line: None,
                message: e.to_string(),
                fix: "name the stack with letters, digits, '_', '.' or '-'".into(),
            })?;
            Ok(Prepared::Remove { name: name.clone() })
        }
    }
}

/// The plan for `prepared` against the stack's objects as manager `at` reports them. An
/// empty plan carries a note saying why there is nothing to do.
pub async fn plan_prepared(
    cluster: &Cluster,
    at: &str,
    prepared: &Prepared,
) -> Result<Plan, SwarmError> {
    let (name, mut plan) = match prepared {
        Prepared::Deploy {
            loaded,
            file,
            name,
            prune,
        } => {
            let current = read(cluster, at, Some(name)).await?;
            let mut plan = diff::plan(&loaded.spec, &current, *prune, at, file);
            if let Some(why) = &current.health_unread {
                plan.notes.push(format!(
                    "the running services' health checks could not be read back ({why}): a \
                     change to a health check alone is not seen"
                ));
            }
            (name, plan)
        }
        Prepared::Remove { name } => {
            let current = read(cluster, at, Some(name)).await?;
            (name, diff::remove_plan(&current, at))
        }
    };
    if plan.is_empty() {
        plan.notes.push(match prepared {
            Prepared::Deploy { .. } => {
                format!("nothing to change: stack {name} runs as the file says")
            }
            Prepared::Remove { .. } => format!("nothing to remove: no stack {name} on the swarm"),
        });
    }
    Ok(plan)
}

/// [`prepare`] then [`plan_prepared`], the loading warnings added to the plan's notes
/// (the app shows notes; the CLI prints the warnings itself).
pub async fn plan(cluster: &Cluster, at: &str, change: &StackChange) -> Result<Plan, SwarmError> {
    let prepared = prepare(change)?;
    let mut plan = plan_prepared(cluster, at, &prepared).await?;
    let warnings =
        (prepared.warnings().iter()).map(|w| format!("{}{w}", crate::swarm::plan::WARNING));
    plan.notes.splice(0..0, warnings);
    Ok(plan)
}

/// The stack's objects (all stacks' for `None`) as manager `at` reports them.
pub async fn read(
    cluster: &Cluster,
    at: &str,
    name: Option<&str>,
) -> Result<diff::Current, SwarmError> {
    let d = cluster
        .engine(crate::swarm::ops::spec(cluster, at)?)
        .await?;
    let mut current = diff::read(&d, name).await.map_err(|e| SwarmError::Step {
        host: at.to_string(),
        step: "reading the stack's objects".into(),
        message: e.to_string(),
        fix: "check that the manager answers (`swarmdeck doctor`), then plan again".into(),
    })?;
    if name.is_some() && !current.services.is_empty() {
        match health_checks(cluster, at, &current.services).await {
            Ok(checks) => put_health_checks(&mut current, checks),
            Err(why) => current.health_unread = Some(why),
        }
    }
    Ok(current)
}

/// Each service's health check as the engine holds it, by service ID. The Engine API names
/// the field `Healthcheck` and bollard's model `HealthCheck`, so a read through the model
/// never has it; the manager's docker CLI prints it.
async fn health_checks(
    cluster: &Cluster,
    at: &str,
    services: &[bollard::models::Service],
) -> Result<HashMap<String, Option<HealthConfig>>, String> {
    // IDs come from the engine: only plain ones reach the remote command.
    let ids: Vec<String> = services
        .iter()
        .filter_map(|s| s.id.clone())
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()))
        .collect();
    let h = crate::swarm::ops::spec(cluster, at).map_err(|e| e.to_string())?;
    let session = cluster.pool().session(h).await.map_err(|e| e.to_string())?;
    let mut argv = vec![
        "docker".to_string(),
        "service".into(),
        "inspect".into(),
        "--format".into(),
        "{{.ID}} {{json .Spec.TaskTemplate.ContainerSpec.Healthcheck}}".into(),
    ];
    argv.extend(ids);
    let cmd = RemoteCommand::new(argv)
        .sudo(h.sudo)
        .timeout(cluster.deadlines().request);
    let out = session.exec(&cmd).await.map_err(|e| e.to_string())?;
    if !out.success() {
        return Err(visible(out.stderr_lossy().trim()).into_owned());
    }
    parse_health_checks(&out.stdout_lossy())
}

/// `ID JSON` lines, JSON `null` for a service without a health check.
fn parse_health_checks(text: &str) -> Result<HashMap<String, Option<HealthConfig>>, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (id, json) = l
                .trim()
                .split_once(' ')
                .ok_or("a line without a health check")?;
            let check: Option<HealthConfig> =
                serde_json::from_str(json).map_err(|e| format!("{id}: {e}"))?;
            Ok((id.to_string(), check))
        })
        .collect()
}

fn put_health_checks(
    current: &mut diff::Current,
    mut checks: HashMap<String, Option<HealthConfig>>,
) {
    for s in &mut current.services {
        let check = s.id.as_ref().and_then(|id| checks.remove(id)).flatten();
        if let Some(c) = s
            .spec
            .as_mut()
            .and_then(|sp| sp.task_template.as_mut())
            .and_then(|t| t.container_spec.as_mut())
        {
            c.health_check = check;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_checks_printed_by_the_docker_cli_are_read_per_service() {
        let text = "abc123 {\"Test\":[\"CMD\",\"true\"],\"Interval\":30000000000}\ndef456 null\n";
        let checks = parse_health_checks(text).unwrap();
        let abc = checks["abc123"].as_ref().unwrap();
        assert_eq!(
            abc.test.as_deref(),
            Some(&["CMD".to_string(), "true".to_string()][..])
        );
        assert_eq!(abc.interval, Some(30_000_000_000));
        assert!(checks["def456"].is_none());
        assert!(parse_health_checks("abc123 {not json").is_err());
    }
}
