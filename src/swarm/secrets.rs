//! Swarm secrets and configs: created from data the user hands over (a file or stdin),
//! listed, removed, and rotated as one plan: `NAME.vN+1` created, every service that uses
//! the chain moved to it with the same target, uid, gid and mode (each step waits until
//! the service's update completed), then the old ones removed.
//!
//! The data is held base64-encoded in a [`Secret`], which never prints itself: plans,
//! steps, their CLI equivalents, the audit log and errors name objects only.

use std::collections::BTreeSet;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    ConfigSpec, SecretSpec, ServiceSpec, ServiceUpdateStatusStateEnum, TaskSpecContainerSpecFile,
};
use bollard::query_parameters::UpdateServiceOptions;
use serde::Serialize;

use crate::cluster::Cluster;
use crate::redact::Secret;
use crate::untrusted::visible;

use super::plan::{Action, Plan, Step, quote};
use super::state::SwarmState;
use super::{SwarmError, validate_name};

/// Swarm's own limits: 500 KiB of secret data, 1000 KiB of config data.
pub const MAX_SECRET_BYTES: usize = 500 * 1024;
pub const MAX_CONFIG_BYTES: usize = 1000 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Secret,
    Config,
}

impl Kind {
    pub fn word(self) -> &'static str {
        match self {
            Kind::Secret => "secret",
            Kind::Config => "config",
        }
    }

    pub fn max_bytes(self) -> usize {
        match self {
            Kind::Secret => MAX_SECRET_BYTES,
            Kind::Config => MAX_CONFIG_BYTES,
        }
    }
}

/// The data of a secret or config, base64-encoded as the Engine API takes it.
pub fn encode(data: &[u8]) -> Secret {
    Secret::new(data_encoding::BASE64.encode(data))
}

/// What the user asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectChange {
    pub kind: Kind,
    pub name: String,
    pub op: ObjectOp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectOp {
    Create(Secret),
    Remove,
    /// New data for the newest of the name's versions.
    Rotate(Secret),
}

impl ObjectChange {
    pub fn describe(&self) -> String {
        let verb = match self.op {
            ObjectOp::Create(_) => "create",
            ObjectOp::Remove => "remove",
            ObjectOp::Rotate(_) => "rotate",
        };
        format!("{verb} {} {}", self.kind.word(), visible(&self.name))
    }
}

/// Where a service mounts a secret or config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub target: String,
    pub uid: String,
    pub gid: String,
    pub mode: u32,
}

/// One step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectStep {
    Create {
        kind: Kind,
        name: String,
        data: Secret,
    },
    /// The service's references to `from` become references to `to`, same mounts; done
    /// when the service's update completed.
    Repoint {
        kind: Kind,
        service_id: String,
        service: String,
        from: Vec<String>,
        to: String,
        mounts: Vec<Mount>,
    },
    Remove {
        kind: Kind,
        name: String,
    },
}

impl ObjectStep {
    pub fn cli(&self) -> String {
        match self {
            ObjectStep::Create { kind, name, .. } => {
                format!("docker {} create {} -", kind.word(), quote(name))
            }
            ObjectStep::Repoint {
                kind,
                service,
                from,
                to,
                mounts,
                ..
            } => {
                let w = kind.word();
                let mut s = "docker service update".to_string();
                for f in from {
                    s.push_str(&format!(" --{w}-rm {}", quote(f)));
                }
                for m in mounts {
                    let add = format!(
                        "source={to},target={},uid={},gid={},mode={:04o}",
                        m.target, m.uid, m.gid, m.mode
                    );
                    s.push_str(&format!(" --{w}-add {}", quote(&add)));
                }
                format!("{s} {}", quote(service))
            }
            ObjectStep::Remove { kind, name } => {
                format!("docker {} rm {}", kind.word(), quote(name))
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            ObjectStep::Create { kind, name, .. } => {
                format!("create {} {}", kind.word(), visible(name))
            }
            ObjectStep::Repoint {
                kind,
                service,
                from,
                to,
                ..
            } => format!(
                "move service {} from {} {} to {}, and wait until its update completed",
                visible(service),
                kind.word(),
                visible(&from.join(", ")),
                visible(to)
            ),
            ObjectStep::Remove { kind, name } => {
                format!("remove {} {}", kind.word(), visible(name))
            }
        }
    }
}

/// `NAME.v7` → (`NAME`, 7); a name without a version is the chain's first (1).
pub fn version_of(name: &str) -> (&str, u64) {
    if let Some((base, v)) = name.rsplit_once(".v")
        && !base.is_empty()
        && !v.is_empty()
        && v.chars().all(|c| c.is_ascii_digit())
        && let Ok(n) = v.parse()
    {
        return (base, n);
    }
    (name, 1)
}

/// The existing members of `name`'s chain (its base and every `base.vN`), oldest first.
pub fn chain<'a>(name: &str, existing: &'a [String]) -> Vec<(&'a str, u64)> {
    let base = version_of(name).0;
    let mut out: Vec<(&str, u64)> = existing
        .iter()
        .map(|e| (e.as_str(), version_of(e)))
        .filter(|(_, (b, _))| *b == base)
        .map(|(e, (_, n))| (e, n))
        .collect();
    out.sort_by_key(|(_, n)| *n);
    out
}

/// A service's mounts of the named objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    pub service_id: String,
    pub service: String,
    pub name: String,
    pub mount: Mount,
}

/// Plans `change` on the manager that answers.
pub async fn plan(
    cluster: &Cluster,
    state: &SwarmState,
    change: &ObjectChange,
) -> Result<Plan, SwarmError> {
    let kind = change.kind;
    validate_name(kind.word(), &change.name)?;
    let at = super::actions::anchor(state)?;
    let d = engine(cluster, at).await?;
    let names = names(&d, at, kind).await?;
    let step = |o: ObjectStep, batch| Step::new(at, Action::Object(o), batch);
    let mut plan = Plan::default();
    match &change.op {
        ObjectOp::Create(data) => {
            if names.contains(&change.name) {
                plan.notes.push(format!(
                    "{} {} exists already: `swarmdeck {} rotate` gives it new data",
                    kind.word(),
                    change.name,
                    kind.word()
                ));
            } else {
                plan.steps.push(step(
                    ObjectStep::Create {
                        kind,
                        name: change.name.clone(),
                        data: data.clone(),
                    },
                    0,
                ));
            }
        }
        ObjectOp::Remove => {
            if names.contains(&change.name) {
                plan.steps.push(step(
                    ObjectStep::Remove {
                        kind,
                        name: change.name.clone(),
                    },
                    0,
                ));
            } else {
                plan.notes
                    .push(format!("there is no {} {}", kind.word(), change.name));
            }
        }
        ObjectOp::Rotate(data) => {
            let uses = uses(&d, at, kind).await?;
            plan = rotation(&names, &uses, change, data, &step)?;
        }
    }
    Ok(plan)
}

/// The rotation plan (pure): create the next version, move every service off the chain,
/// remove the chain's old members.
fn rotation(
    names: &[String],
    uses: &[Use],
    change: &ObjectChange,
    data: &Secret,
    step: &dyn Fn(ObjectStep, usize) -> Step,
) -> Result<Plan, SwarmError> {
    let kind = change.kind;
    let members = chain(&change.name, names);
    let Some(&(_, newest)) = members.last() else {
        return Ok(Plan {
            notes: vec![format!(
                "there is no {} {} to rotate: create it first",
                kind.word(),
                change.name
            )],
            ..Plan::default()
        });
    };
    let base = version_of(&change.name).0;
    let to = format!("{base}.v{}", newest + 1);
    validate_name(kind.word(), &to)?;
    let mut plan = Plan::default();
    plan.steps.push(step(
        ObjectStep::Create {
            kind,
            name: to.clone(),
            data: data.clone(),
        },
        0,
    ));
    let old: BTreeSet<&str> = members.iter().map(|(n, _)| *n).collect();
    let mut services: Vec<(&str, &str)> = uses
        .iter()
        .filter(|u| old.contains(u.name.as_str()))
        .map(|u| (u.service_id.as_str(), u.service.as_str()))
        .collect();
    services.sort();
    services.dedup();
    for (id, service) in services {
        let mine = uses
            .iter()
            .filter(|u| u.service_id == id && old.contains(u.name.as_str()));
        let from: BTreeSet<String> = mine.clone().map(|u| u.name.clone()).collect();
        plan.steps.push(step(
            ObjectStep::Repoint {
                kind,
                service_id: id.to_string(),
                service: service.to_string(),
                from: from.into_iter().collect(),
                to: to.clone(),
                mounts: mine.map(|u| u.mount.clone()).collect(),
            },
            1,
        ));
    }
    for name in old {
        plan.steps.push(step(
            ObjectStep::Remove {
                kind,
                name: name.to_string(),
            },
            2,
        ));
    }
    Ok(plan)
}

async fn engine(cluster: &Cluster, host: &str) -> Result<Docker, SwarmError> {
    let spec = cluster
        .inventory()
        .hosts
        .iter()
        .find(|h| h.name == host)
        .ok_or(SwarmError::NoManager)?;
    Ok(cluster.engine(spec).await?)
}

fn failed(host: &str, step: &str, e: bollard::errors::Error) -> SwarmError {
    SwarmError::step(host, step, e, "run `swarmdeck status` and try again")
}

/// A secret or config as listed: never its data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectInfo {
    pub name: String,
    pub id: String,
    pub created: String,
    pub updated: String,
    pub used_by: Vec<String>,
}

/// The names of the swarm's secrets or configs.
async fn names(d: &Docker, host: &str, kind: Kind) -> Result<Vec<String>, SwarmError> {
    Ok(list_on(d, host, kind)
        .await?
        .into_iter()
        .map(|o| o.name)
        .collect())
}

/// Every secret or config with the services that use it, from the manager that answers.
pub async fn list(
    cluster: &Cluster,
    state: &SwarmState,
    kind: Kind,
) -> Result<Vec<ObjectInfo>, SwarmError> {
    let at = super::actions::anchor(state)?;
    let d = engine(cluster, at).await?;
    let mut objects = list_on(&d, at, kind).await?;
    let uses = uses(&d, at, kind).await?;
    for o in &mut objects {
        let mut by: Vec<String> = uses
            .iter()
            .filter(|u| u.name == o.name)
            .map(|u| u.service.clone())
            .collect();
        by.dedup();
        o.used_by = by;
    }
    objects.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(objects)
}

async fn list_on(d: &Docker, host: &str, kind: Kind) -> Result<Vec<ObjectInfo>, SwarmError> {
    let what = format!("listing {}s", kind.word());
    let info = |name: Option<String>,
                id: Option<String>,
                created: Option<String>,
                updated: Option<String>| ObjectInfo {
        name: name.unwrap_or_default(),
        id: id.unwrap_or_default(),
        created: created.unwrap_or_default(),
        updated: updated.unwrap_or_default(),
        used_by: Vec::new(),
    };
    Ok(match kind {
        Kind::Secret => d
            .list_secrets(None)
            .await
            .map_err(|e| failed(host, &what, e))?
            .into_iter()
            .map(|s| {
                let name = s.spec.and_then(|sp| sp.name);
                info(
                    name,
                    s.id,
                    s.created_at.map(|t| t.to_string()),
                    s.updated_at.map(|t| t.to_string()),
                )
            })
            .collect(),
        Kind::Config => d
            .list_configs(None)
            .await
            .map_err(|e| failed(host, &what, e))?
            .into_iter()
            .map(|c| {
                let name = c.spec.and_then(|sp| sp.name);
                info(
                    name,
                    c.id,
                    c.created_at.map(|t| t.to_string()),
                    c.updated_at.map(|t| t.to_string()),
                )
            })
            .collect(),
    })
}

/// Every service's mounts of secrets (or configs), by name.
async fn uses(d: &Docker, host: &str, kind: Kind) -> Result<Vec<Use>, SwarmError> {
    let services = d
        .list_services(None)
        .await
        .map_err(|e| failed(host, "listing services", e))?;
    let mut out = Vec::new();
    for s in services {
        let id = s.id.unwrap_or_default();
        let spec = s.spec.unwrap_or_default();
        let service = spec.name.clone().unwrap_or_else(|| id.clone());
        let Some(cs) = spec.task_template.and_then(|t| t.container_spec) else {
            continue;
        };
        let refs: Vec<(Option<String>, Option<TaskSpecContainerSpecFile>)> = match kind {
            Kind::Secret => cs
                .secrets
                .unwrap_or_default()
                .into_iter()
                .map(|r| (r.secret_name, r.file))
                .collect(),
            Kind::Config => cs
                .configs
                .unwrap_or_default()
                .into_iter()
                .map(|r| {
                    let file = r.file.map(|f| TaskSpecContainerSpecFile {
                        name: f.name,
                        uid: f.uid,
                        gid: f.gid,
                        mode: f.mode,
                    });
                    (r.config_name, file)
                })
                .collect(),
        };
        for (name, file) in refs {
            let (Some(name), Some(file)) = (name, file) else {
                continue;
            };
            out.push(Use {
                service_id: id.clone(),
                service: service.clone(),
                mount: Mount {
                    target: file.name.unwrap_or_else(|| name.clone()),
                    uid: file.uid.unwrap_or_else(|| "0".into()),
                    gid: file.gid.unwrap_or_else(|| "0".into()),
                    mode: file.mode.unwrap_or(0o444),
                },
                name,
            });
        }
    }
    Ok(out)
}

/// Runs one step on the manager `host`; `wait` bounds a service update's completion.
pub async fn run(
    d: &Docker,
    host: &str,
    what: &str,
    step: &ObjectStep,
    wait: Duration,
) -> Result<(), SwarmError> {
    match step {
        ObjectStep::Create { kind, name, data } => {
            let data = Some(data.expose().to_string());
            let name = Some(name.clone());
            let made = match kind {
                Kind::Secret => {
                    d.create_secret(SecretSpec {
                        name,
                        data,
                        ..Default::default()
                    })
                    .await
                }
                Kind::Config => {
                    d.create_config(ConfigSpec {
                        name,
                        data,
                        ..Default::default()
                    })
                    .await
                }
            };
            made.map(drop).map_err(|e| failed(host, what, e))
        }
        ObjectStep::Remove { kind, name } => match kind {
            Kind::Secret => d.delete_secret(name).await,
            Kind::Config => d.delete_config(name).await,
        }
        .map_err(|e| failed(host, what, e)),
        ObjectStep::Repoint {
            kind,
            service_id,
            from,
            to,
            ..
        } => repoint(d, host, what, *kind, service_id, from, to, wait).await,
    }
}

#[allow(clippy::too_many_arguments)]
async fn repoint(
    d: &Docker,
    host: &str,
    what: &str,
    kind: Kind,
    service_id: &str,
    from: &[String],
    to: &str,
    wait: Duration,
) -> Result<(), SwarmError> {
    let new_id = match kind {
        Kind::Secret => d.inspect_secret(to).await.map(|s| s.id),
        Kind::Config => d.inspect_config(to).await.map(|c| c.id),
    }
    .map_err(|e| failed(host, what, e))?
    .unwrap_or_default();
    let service = d
        .inspect_service(service_id, None)
        .await
        .map_err(|e| failed(host, what, e))?;
    let before = service
        .update_status
        .as_ref()
        .and_then(|u| u.started_at.as_ref().map(|t| t.to_string()));
    let version = service.version.and_then(|v| v.index).unwrap_or(0);
    let mut spec: ServiceSpec = service.spec.unwrap_or_default();
    if let Some(cs) = spec
        .task_template
        .as_mut()
        .and_then(|t| t.container_spec.as_mut())
    {
        let moved = |name: &mut Option<String>, id: &mut Option<String>| {
            if name.as_deref().is_some_and(|n| from.iter().any(|f| f == n)) {
                *name = Some(to.to_string());
                *id = Some(new_id.clone());
            }
        };
        match kind {
            Kind::Secret => {
                for r in cs.secrets.iter_mut().flatten() {
                    moved(&mut r.secret_name, &mut r.secret_id);
                }
            }
            Kind::Config => {
                for r in cs.configs.iter_mut().flatten() {
                    moved(&mut r.config_name, &mut r.config_id);
                }
            }
        }
    }
    let opts = UpdateServiceOptions {
        version: i32::try_from(version).unwrap_or(i32::MAX),
        ..Default::default()
    };
    d.update_service(service_id, spec, opts, None)
        .await
        .map_err(|e| failed(host, what, e))?;
    wait_updated(d, host, what, service_id, before, wait).await
}

/// Until the service's update (the one started after `before`) completed.
async fn wait_updated(
    d: &Docker,
    host: &str,
    what: &str,
    service_id: &str,
    before: Option<String>,
    wait: Duration,
) -> Result<(), SwarmError> {
    let give_up = tokio::time::Instant::now() + wait;
    loop {
        let s = d
            .inspect_service(service_id, None)
            .await
            .map_err(|e| failed(host, what, e))?;
        if let Some(u) = &s.update_status
            && u.started_at.as_ref().map(|t| t.to_string()) != before
        {
            match u.state {
                Some(ServiceUpdateStatusStateEnum::COMPLETED) => return Ok(()),
                Some(ServiceUpdateStatusStateEnum::UPDATING) | None => {}
                Some(other) => {
                    let said = u.message.clone().unwrap_or_default();
                    return Err(SwarmError::step(
                        host,
                        what,
                        format!("the update ended {other:?}: {said}"),
                        "see `swarmdeck ps SERVICE` for the failing tasks",
                    ));
                }
            }
        }
        if tokio::time::Instant::now() >= give_up {
            return Err(SwarmError::step(
                host,
                what,
                format!(
                    "the update did not complete within {}",
                    crate::limits::human(wait)
                ),
                "see `swarmdeck ps SERVICE`; the old one was not removed",
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_chains() {
        assert_eq!(version_of("db_pw"), ("db_pw", 1));
        assert_eq!(version_of("db_pw.v3"), ("db_pw", 3));
        assert_eq!(version_of("db_pw.vx"), ("db_pw.vx", 1));
        assert_eq!(version_of(".v2"), (".v2", 1));
        let existing: Vec<String> = ["db_pw.v3", "db_pw", "other", "db_pw.v2", "db_pw_x.v9"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            chain("db_pw.v2", &existing),
            vec![("db_pw", 1), ("db_pw.v2", 2), ("db_pw.v3", 3)]
        );
    }

    #[test]
    fn rotation_creates_the_next_version_moves_services_and_removes_the_old() {
        let names: Vec<String> = vec!["pw".into(), "pw.v2".into()];
        let mount = Mount {
            target: "db_password".into(),
            uid: "0".into(),
            gid: "0".into(),
            mode: 0o400,
        };
        let uses = vec![Use {
            service_id: "s1".into(),
            service: "api".into(),
            name: "pw.v2".into(),
            mount,
        }];
        let change = ObjectChange {
            kind: Kind::Secret,
            name: "pw".into(),
            op: ObjectOp::Rotate(encode(b"hunter2")),
        };
        let data = encode(b"hunter2");
        let step = |o, b| Step::new("node1", Action::Object(o), b);
        let plan = rotation(&names, &uses, &change, &data, &step).unwrap();
        let clis: Vec<&str> = plan.steps.iter().map(|s| s.cli.as_str()).collect();
        assert_eq!(
            clis,
            [
                "docker secret create pw.v3 -",
                "docker service update --secret-rm pw.v2 --secret-add \
                 source=pw.v3,target=db_password,uid=0,gid=0,mode=0400 api",
                "docker secret rm pw",
                "docker secret rm pw.v2",
            ]
        );
        let shown = format!("{}{:?}", plan.render(), plan);
        assert!(
            !shown.contains("hunter2") && !shown.contains(data.expose()),
            "{shown}"
        );
    }
}
