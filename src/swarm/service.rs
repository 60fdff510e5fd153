//! Changes to a running service: scale, update (image, env, resources, forced redeploy)
//! and rollback. Planned like every change: the current spec is read by ID, the new one
//! computed (pure), the changed fields shown old → new with the docker CLI equivalent;
//! applied with the spec's version index, so a change made by someone else since the plan
//! fails with "plan again" instead of being overwritten.

use std::fmt::Write;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{Limit, ResourceObject, ServiceSpec, TaskSpecResources};
use bollard::query_parameters::UpdateServiceOptions;

use crate::cluster::Cluster;
use crate::ssh::RemoteCommand;
use crate::untrusted::visible;

use super::SwarmError;
use super::plan::{Action, Plan, Step, quote};
use super::state::SwarmState;

/// What to change on a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceEdit {
    /// `docker service scale NAME=N` (replicated services only).
    Scale(u64),
    /// `docker service update …`.
    Update(SpecUpdate),
    /// `docker service rollback`: back to the spec before the last update.
    Rollback,
}

/// The fields `docker service update` changes here; `None`/empty leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecUpdate {
    pub image: Option<String>,
    /// `KEY=VALUE`: set (replacing any value the key had).
    pub env_add: Vec<(String, String)>,
    /// Keys to unset.
    pub env_rm: Vec<String>,
    /// Billionths of a CPU.
    pub limit_cpu: Option<i64>,
    pub limit_memory: Option<i64>,
    pub reserve_cpu: Option<i64>,
    pub reserve_memory: Option<i64>,
    /// Replace every task even if nothing else changes (`--force`).
    pub force: bool,
}

/// A change to one service, named by its ID or name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceChange {
    pub service: String,
    pub edit: ServiceEdit,
}

impl ServiceChange {
    pub fn describe(&self) -> String {
        let s = visible(&self.service);
        match &self.edit {
            ServiceEdit::Scale(n) => format!("scale {s} to {n}"),
            ServiceEdit::Update(_) => format!("update {s}"),
            ServiceEdit::Rollback => format!("roll back {s}"),
        }
    }
}

/// One changed field of a spec, as shown in a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub field: String,
    pub old: String,
    pub new: String,
}

/// The planned step: which service (by ID), at which version, what changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceStep {
    pub service_id: String,
    pub name: String,
    /// The spec's version index the plan was computed from.
    pub version: u64,
    pub edit: ServiceEdit,
    pub diff: Vec<FieldChange>,
}

/// Why a service change is refused or failed, with what to do.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(
        "{service} is a global service: it runs one task on every eligible node and has no \
         replica count to scale. Change where it runs with placement constraints instead"
    )]
    GlobalScale { service: String },
    #[error("{service} is a {mode} service: only replicated services scale")]
    NotReplicated { service: String, mode: String },
    #[error(
        "{service} has no previous spec to roll back to (it was not updated since it was created)"
    )]
    NoPrevious { service: String },
    #[error("no service {service:?} in the swarm (`swarmdeck services` lists them)")]
    Unknown { service: String },
    #[error("invalid {what} {value:?}: {why}")]
    Invalid {
        what: &'static str,
        value: String,
        why: &'static str,
    },
    #[error(
        "{service} was changed by someone else since the plan (spec version {planned}, now \
         {now}): plan again"
    )]
    Stale {
        service: String,
        planned: u64,
        now: u64,
    },
}

impl ServiceError {
    pub fn is_stale(&self) -> bool {
        matches!(self, ServiceError::Stale { .. })
    }
}

/// Env keys whose values are shown as `<redacted>` in plans, the audit log and the
/// exported script: values such keys hold are credentials.
fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    ["PASS", "SECRET", "TOKEN", "KEY", "CREDENTIAL", "AUTH"]
        .iter()
        .any(|w| k.contains(w))
}

fn shown_value(key: &str, value: &str) -> String {
    if is_secret_key(key) {
        "<redacted>".into()
    } else {
        value.to_string()
    }
}

// ---- parsing what users type --------------------------------------------------------

/// `--limit-cpu 0.5` → billionths of a CPU (as `docker service update` takes it).
pub fn parse_cpus(text: &str) -> Result<i64, ServiceError> {
    let bad = |why| ServiceError::Invalid {
        what: "CPU count",
        value: text.to_string(),
        why,
    };
    let v: f64 = text
        .trim()
        .parse()
        .map_err(|_| bad("write e.g. 0.5 or 2"))?;
    if !v.is_finite() || !(0.0..=1e6).contains(&v) {
        return Err(bad("must be between 0 and 1000000"));
    }
    Ok((v * 1e9).round() as i64)
}

/// `--limit-memory 64M` → bytes, with docker's units (b, k, m, g, t; powers of 1024).
pub fn parse_memory(text: &str) -> Result<i64, ServiceError> {
    let bad = |why| ServiceError::Invalid {
        what: "memory size",
        value: text.to_string(),
        why,
    };
    let t = text.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let t = t.strip_suffix('i').unwrap_or(t);
    let (num, shift) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 10),
        Some('m') => (&t[..t.len() - 1], 20),
        Some('g') => (&t[..t.len() - 1], 30),
        Some('t') => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| bad("write e.g. 64M, 512k or 1G"))?;
    let bytes = v * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > i64::MAX as f64 {
        return Err(bad("out of range"));
    }
    Ok(bytes.round() as i64)
}

/// `KEY=VALUE` for `--env-add`.
pub fn parse_env(text: &str) -> Result<(String, String), ServiceError> {
    match text.split_once('=') {
        Some((k, v)) if valid_env_key(k) => Ok((k.to_string(), v.to_string())),
        _ => Err(ServiceError::Invalid {
            what: "environment variable",
            value: text.to_string(),
            why: "write KEY=VALUE with a key of letters, digits and '_'",
        }),
    }
}

pub fn valid_env_key(k: &str) -> bool {
    !k.is_empty()
        && !k.starts_with(|c: char| c.is_ascii_digit())
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn cpus_text(nano: i64) -> String {
    let v = nano as f64 / 1e9;
    format!("{v}")
}

fn memory_text(bytes: i64) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        let n = 1i64 << shift;
        if bytes >= n && bytes % n == 0 {
            return format!("{}{unit}", bytes / n);
        }
    }
    format!("{bytes}B")
}

// ---- the spec, old and new (pure) ---------------------------------------------------

fn replicas(spec: &ServiceSpec) -> Option<i64> {
    spec.mode.as_ref()?.replicated.as_ref()?.replicas
}

fn mode_word(spec: &ServiceSpec) -> &'static str {
    match spec.mode.as_ref() {
        Some(m) if m.global.is_some() => "global",
        Some(m) if m.replicated_job.is_some() => "replicated job",
        Some(m) if m.global_job.is_some() => "global job",
        _ => "replicated",
    }
}

fn image(spec: &ServiceSpec) -> String {
    spec.task_template
        .as_ref()
        .and_then(|t| t.container_spec.as_ref())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

fn env(spec: &ServiceSpec) -> Vec<String> {
    spec.task_template
        .as_ref()
        .and_then(|t| t.container_spec.as_ref())
        .and_then(|c| c.env.clone())
        .unwrap_or_default()
}

fn env_key(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(k, _)| k)
}

fn force_counter(spec: &ServiceSpec) -> u64 {
    spec.task_template
        .as_ref()
        .and_then(|t| t.force_update)
        .unwrap_or(0)
}

/// (limit cpu, limit memory, reserve cpu, reserve memory), 0 when unset.
fn resources(spec: &ServiceSpec) -> [i64; 4] {
    let r = spec
        .task_template
        .as_ref()
        .and_then(|t| t.resources.as_ref());
    let l = r.and_then(|r| r.limits.as_ref());
    let s = r.and_then(|r| r.reservations.as_ref());
    [
        l.and_then(|l| l.nano_cpus).unwrap_or(0),
        l.and_then(|l| l.memory_bytes).unwrap_or(0),
        s.and_then(|s| s.nano_cpus).unwrap_or(0),
        s.and_then(|s| s.memory_bytes).unwrap_or(0),
    ]
}

/// The spec after `edit`. `previous` is the spec before the last update (rollback).
pub fn edited_spec(
    name: &str,
    spec: &ServiceSpec,
    previous: Option<&ServiceSpec>,
    edit: &ServiceEdit,
) -> Result<ServiceSpec, ServiceError> {
    let mut new = spec.clone();
    match edit {
        ServiceEdit::Scale(n) => {
            let mode = mode_word(spec);
            let replicated = new
                .mode
                .as_mut()
                .and_then(|m| m.replicated.as_mut())
                .filter(|_| mode == "replicated");
            match replicated {
                Some(r) => r.replicas = Some(*n as i64),
                None if mode == "global" => {
                    return Err(ServiceError::GlobalScale {
                        service: name.into(),
                    });
                }
                None => {
                    return Err(ServiceError::NotReplicated {
                        service: name.into(),
                        mode: mode.into(),
                    });
                }
            }
        }
        ServiceEdit::Rollback => {
            return previous.cloned().ok_or_else(|| ServiceError::NoPrevious {
                service: name.into(),
            });
        }
        ServiceEdit::Update(u) => update_spec(&mut new, u),
    }
    Ok(new)
}

fn update_spec(spec: &mut ServiceSpec, u: &SpecUpdate) {
    let task = spec.task_template.get_or_insert_with(Default::default);
    let container = task.container_spec.get_or_insert_with(Default::default);
    if let Some(i) = &u.image {
        container.image = Some(i.clone());
    }
    if !u.env_add.is_empty() || !u.env_rm.is_empty() {
        let mut vars = container.env.take().unwrap_or_default();
        let touched = |e: &String| {
            let k = env_key(e);
            u.env_rm.iter().any(|r| r == k) || u.env_add.iter().any(|(a, _)| a == k)
        };
        vars.retain(|e| !touched(e));
        vars.extend(u.env_add.iter().map(|(k, v)| format!("{k}={v}")));
        container.env = Some(vars);
    }
    let limits_set = u.limit_cpu.is_some() || u.limit_memory.is_some();
    let reserve_set = u.reserve_cpu.is_some() || u.reserve_memory.is_some();
    if limits_set || reserve_set {
        let r = task
            .resources
            .get_or_insert_with(TaskSpecResources::default);
        if limits_set {
            let l = r.limits.get_or_insert_with(Limit::default);
            l.nano_cpus = u.limit_cpu.or(l.nano_cpus);
            l.memory_bytes = u.limit_memory.or(l.memory_bytes);
        }
        if reserve_set {
            let s = r.reservations.get_or_insert_with(ResourceObject::default);
            s.nano_cpus = u.reserve_cpu.or(s.nano_cpus);
            s.memory_bytes = u.reserve_memory.or(s.memory_bytes);
        }
    }
    if u.force {
        task.force_update = Some(task.force_update.unwrap_or(0) + 1);
    }
}

/// The fields that differ between two specs, old → new, in a fixed order. Values of env
/// keys that name credentials are shown as `<redacted>`.
pub fn diff(old: &ServiceSpec, new: &ServiceSpec) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let mut push = |field: &str, o: String, n: String| {
        if o != n {
            out.push(FieldChange {
                field: field.into(),
                old: o,
                new: n,
            });
        }
    };
    let count = |s: &ServiceSpec| replicas(s).map_or("-".into(), |r| r.to_string());
    push("replicas", count(old), count(new));
    push("image", image(old), image(new));
    let (oe, ne) = (env(old), env(new));
    let mut keys: Vec<&str> = oe.iter().chain(&ne).map(|e| env_key(e)).collect();
    keys.sort_unstable();
    keys.dedup();
    for k in keys {
        let value = |vars: &[String]| {
            vars.iter()
                .find(|e| env_key(e) == k)
                .map_or("(unset)".into(), |e| {
                    shown_value(k, e.split_once('=').map_or("", |(_, v)| v))
                })
        };
        // Compare real values; a changed secret shows as <redacted> → <redacted>.
        let real = |vars: &[String]| vars.iter().find(|e| env_key(e) == k).cloned();
        if real(&oe) != real(&ne) {
            out.push(FieldChange {
                field: format!("env {k}"),
                old: value(&oe),
                new: value(&ne),
            });
        }
    }
    let (or, nr) = (resources(old), resources(new));
    let names = ["limit cpu", "limit memory", "reserve cpu", "reserve memory"];
    for (i, field) in names.iter().enumerate() {
        if or[i] != nr[i] {
            let text = |v: i64| match (v, i % 2) {
                (0, _) => "none".to_string(),
                (v, 0) => cpus_text(v),
                (v, _) => memory_text(v),
            };
            out.push(FieldChange {
                field: (*field).into(),
                old: text(or[i]),
                new: text(nr[i]),
            });
        }
    }
    if force_counter(old) != force_counter(new) {
        out.push(FieldChange {
            field: "forced redeploy".into(),
            old: force_counter(old).to_string(),
            new: force_counter(new).to_string(),
        });
    }
    out
}

// ---- the step's text ----------------------------------------------------------------

impl ServiceStep {
    /// The docker CLI command that does the same.
    pub fn cli(&self) -> String {
        let name = quote(&self.name);
        match &self.edit {
            ServiceEdit::Scale(n) => format!("docker service scale {name}={n}"),
            ServiceEdit::Rollback => format!("docker service rollback {name}"),
            ServiceEdit::Update(u) => {
                let mut s = "docker service update".to_string();
                if let Some(i) = &u.image {
                    let _ = write!(s, " --image {}", quote(i));
                }
                for (k, v) in &u.env_add {
                    let _ = write!(
                        s,
                        " --env-add {}",
                        quote(&format!("{k}={}", shown_value(k, v)))
                    );
                }
                for k in &u.env_rm {
                    let _ = write!(s, " --env-rm {}", quote(k));
                }
                let flags = [
                    ("--limit-cpu", u.limit_cpu.map(cpus_text)),
                    ("--limit-memory", u.limit_memory.map(|b| b.to_string())),
                    ("--reserve-cpu", u.reserve_cpu.map(cpus_text)),
                    ("--reserve-memory", u.reserve_memory.map(|b| b.to_string())),
                ];
                for (flag, v) in flags {
                    if let Some(v) = v {
                        let _ = write!(s, " {flag} {v}");
                    }
                }
                if u.force {
                    s.push_str(" --force");
                }
                let _ = write!(s, " {name}");
                s
            }
        }
    }

    /// One line for people: the service and each changed field, old → new.
    pub fn describe(&self) -> String {
        let verb = match self.edit {
            ServiceEdit::Scale(_) => "scale",
            ServiceEdit::Update(_) => "update",
            ServiceEdit::Rollback => "roll back",
        };
        let fields: Vec<String> = self
            .diff
            .iter()
            .map(|c| {
                format!(
                    "{}: {} → {}",
                    visible(&c.field),
                    visible(&c.old),
                    visible(&c.new)
                )
            })
            .collect();
        format!(
            "{verb} service {} ({})",
            visible(&self.name),
            fields.join("; ")
        )
    }
}

// ---- reading and applying -----------------------------------------------------------

/// The service's spec with its ID, name and version, as one manager answers.
struct Current {
    id: String,
    name: String,
    version: u64,
    spec: ServiceSpec,
}

async fn inspect(d: &Docker, host: &str, service: &str) -> Result<Current, SwarmError> {
    let s = d
        .inspect_service(service, None)
        .await
        .map_err(|e| match &e {
            bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            } => SwarmError::Service(ServiceError::Unknown {
                service: service.into(),
            }),
            _ => SwarmError::step(
                host,
                "read the service",
                e,
                "run `swarmdeck services` to check the swarm answers",
            ),
        })?;
    let spec = s.spec.unwrap_or_default();
    Ok(Current {
        id: s.id.unwrap_or_default(),
        name: spec.name.clone().unwrap_or_default(),
        version: s.version.and_then(|v| v.index).unwrap_or(0),
        spec,
    })
}

/// The spec before the last update: the Engine API returns it as `PreviousSpec`, which
/// bollard's model leaves out, so it is read with `docker service inspect` on the host.
async fn previous_spec(
    cluster: &Cluster,
    host: &str,
    id: &str,
) -> Result<Option<ServiceSpec>, SwarmError> {
    let h = super::ops::spec(cluster, host)?;
    let session = cluster.pool().session(h).await?;
    let cmd = RemoteCommand::new([
        "docker",
        "service",
        "inspect",
        "--format",
        "{{json .PreviousSpec}}",
        id,
    ])
    .sudo(h.sudo)
    .timeout(Duration::from_secs(30));
    let out = session.exec(&cmd).await?;
    let what = "read the service's previous spec";
    if !out.success() {
        return Err(SwarmError::step(
            host,
            what,
            out.stderr_lossy().trim(),
            "the host must be a manager with the docker CLI",
        ));
    }
    let text = out.stdout_lossy();
    let text = text.trim();
    if text.is_empty() || text == "null" {
        return Ok(None);
    }
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| SwarmError::step(host, what, e, "report this engine's version"))
}

/// Plans a service change on the manager that answers for the swarm.
pub async fn plan(
    cluster: &Cluster,
    state: &SwarmState,
    change: &ServiceChange,
) -> Result<Plan, SwarmError> {
    let at = super::actions::anchor(state)?;
    let d = cluster.engine(super::ops::spec(cluster, at)?).await?;
    let cur = inspect(&d, at, &change.service).await?;
    let previous = match change.edit {
        ServiceEdit::Rollback => previous_spec(cluster, at, &cur.id).await?,
        _ => None,
    };
    let new = edited_spec(&cur.name, &cur.spec, previous.as_ref(), &change.edit)
        .map_err(SwarmError::Service)?;
    plan_of(
        at,
        cur.id,
        cur.name,
        cur.version,
        &cur.spec,
        &new,
        &change.edit,
    )
}

/// The plan for a computed spec: one step, or none when nothing changes.
fn plan_of(
    host: &str,
    service_id: String,
    name: String,
    version: u64,
    old: &ServiceSpec,
    new: &ServiceSpec,
    edit: &ServiceEdit,
) -> Result<Plan, SwarmError> {
    let diff = diff(old, new);
    if diff.is_empty() {
        return Ok(Plan {
            steps: Vec::new(),
            notes: vec![format!(
                "nothing to change: {} is already as requested",
                visible(&name)
            )],
        });
    }
    let step = ServiceStep {
        service_id,
        name,
        version,
        edit: edit.clone(),
        diff,
    };
    Ok(Plan::of(Step::new(host, Action::Service(step), 0)))
}

/// Applies a planned service step on `d`: refused as stale when the spec's version moved
/// since the plan; the engine refuses the same race between our read and our write.
pub(super) async fn apply(d: &Docker, host: &str, step: &ServiceStep) -> Result<(), SwarmError> {
    let what = step.describe();
    let cur = inspect(d, host, &step.service_id).await?;
    let stale = |now| {
        SwarmError::Service(ServiceError::Stale {
            service: step.name.clone(),
            planned: step.version,
            now,
        })
    };
    if cur.version != step.version {
        return Err(stale(cur.version));
    }
    let (spec, rollback) = match &step.edit {
        // As `docker service rollback`: the current spec, and the engine swaps in the
        // previous one.
        ServiceEdit::Rollback => (cur.spec.clone(), Some("previous".to_string())),
        edit => (
            edited_spec(&cur.name, &cur.spec, None, edit).map_err(SwarmError::Service)?,
            None,
        ),
    };
    let opts = UpdateServiceOptions {
        version: cur.version as i32,
        rollback,
        ..Default::default()
    };
    d.update_service(&step.service_id, spec, opts, None)
        .await
        .map_err(|e| {
            if e.to_string().contains("update out of sequence") {
                stale(cur.version + 1)
            } else {
                SwarmError::step(host, &what, e, "run `swarmdeck ps SERVICE` for the tasks")
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{
        ServiceSpecMode, ServiceSpecModeReplicated, TaskSpec, TaskSpecContainerSpec,
    };

    fn spec(image: &str, replicas: Option<i64>, env: &[&str]) -> ServiceSpec {
        ServiceSpec {
            name: Some("web".into()),
            mode: Some(match replicas {
                Some(n) => ServiceSpecMode {
                    replicated: Some(ServiceSpecModeReplicated { replicas: Some(n) }),
                    ..Default::default()
                },
                None => ServiceSpecMode {
                    global: Some(Default::default()),
                    ..Default::default()
                },
            }),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some(image.into()),
                    env: Some(env.iter().map(|e| e.to_string()).collect()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn shown(d: &[FieldChange]) -> Vec<String> {
        d.iter()
            .map(|c| format!("{}: {} -> {}", c.field, c.old, c.new))
            .collect()
    }

    fn update(u: SpecUpdate) -> ServiceEdit {
        ServiceEdit::Update(u)
    }

    #[test]
    fn an_image_update_changes_exactly_the_image() {
        let old = spec("probe:v1", Some(3), &["A=1"]);
        let edit = update(SpecUpdate {
            image: Some("probe:v2".into()),
            ..Default::default()
        });
        let new = edited_spec("web", &old, None, &edit).unwrap();
        assert_eq!(
            diff(&old, &new),
            vec![FieldChange {
                field: "image".into(),
                old: "probe:v1".into(),
                new: "probe:v2".into()
            }]
        );
    }

    #[test]
    fn env_add_replaces_and_env_rm_unsets_and_secrets_stay_hidden() {
        let old = spec("i", Some(1), &["A=1", "B=2", "DB_PASSWORD=hunter2"]);
        let edit = update(SpecUpdate {
            env_add: vec![("A".into(), "9".into()), ("DB_PASSWORD".into(), "x".into())],
            env_rm: vec!["B".into()],
            ..Default::default()
        });
        let new = edited_spec("web", &old, None, &edit).unwrap();
        assert_eq!(env(&new), vec!["A=9", "DB_PASSWORD=x"]);
        let d = diff(&old, &new);
        assert_eq!(
            shown(&d),
            vec![
                "env A: 1 -> 9",
                "env B: 2 -> (unset)",
                "env DB_PASSWORD: <redacted> -> <redacted>"
            ]
        );
        let step = ServiceStep {
            service_id: "id".into(),
            name: "web".into(),
            version: 1,
            edit,
            diff: d,
        };
        let cli = step.cli();
        assert_eq!(
            cli,
            "docker service update --env-add A=9 --env-add 'DB_PASSWORD=<redacted>' --env-rm B web"
        );
        assert!(!step.describe().contains("hunter2") && !cli.contains('x'));
    }

    #[test]
    fn scale_refuses_global_services_and_no_op_plans_say_so() {
        let global = spec("i", None, &[]);
        let err = edited_spec("agent", &global, None, &ServiceEdit::Scale(3)).unwrap_err();
        assert!(err.to_string().contains("global service"), "{err}");
        let old = spec("i", Some(3), &[]);
        let same = edited_spec("web", &old, None, &ServiceEdit::Scale(3)).unwrap();
        let plan = plan_of(
            "n1",
            "id".into(),
            "web".into(),
            1,
            &old,
            &same,
            &ServiceEdit::Scale(3),
        )
        .unwrap();
        assert!(plan.is_empty());
        assert!(
            plan.notes[0].contains("nothing to change"),
            "{:?}",
            plan.notes
        );
        let five = edited_spec("web", &old, None, &ServiceEdit::Scale(5)).unwrap();
        let plan = plan_of(
            "n1",
            "id".into(),
            "web".into(),
            1,
            &old,
            &five,
            &ServiceEdit::Scale(5),
        )
        .unwrap();
        assert_eq!(plan.steps[0].cli, "docker service scale web=5");
        assert_eq!(
            plan.steps[0].description,
            "scale service web (replicas: 3 → 5)"
        );
    }

    #[test]
    fn resources_and_force_show_in_units_and_the_cli_matches() {
        let old = spec("i", Some(1), &[]);
        let u = SpecUpdate {
            limit_cpu: Some(parse_cpus("0.5").unwrap()),
            limit_memory: Some(parse_memory("64M").unwrap()),
            reserve_memory: Some(parse_memory("512k").unwrap()),
            force: true,
            ..Default::default()
        };
        let new = edited_spec("web", &old, None, &update(u.clone())).unwrap();
        let d = diff(&old, &new);
        assert_eq!(
            shown(&d),
            vec![
                "limit cpu: none -> 0.5",
                "limit memory: none -> 64MiB",
                "reserve memory: none -> 512KiB",
                "forced redeploy: 0 -> 1"
            ]
        );
        let step = ServiceStep {
            service_id: "id".into(),
            name: "web".into(),
            version: 1,
            edit: update(u),
            diff: d,
        };
        assert_eq!(
            step.cli(),
            "docker service update --limit-cpu 0.5 --limit-memory 67108864 --reserve-memory \
             524288 --force web"
        );
    }

    #[test]
    fn rollback_needs_a_previous_spec() {
        let cur = spec("probe:v2", Some(3), &[]);
        let prev = spec("probe:v1", Some(3), &[]);
        assert!(matches!(
            edited_spec("web", &cur, None, &ServiceEdit::Rollback),
            Err(ServiceError::NoPrevious { .. })
        ));
        let back = edited_spec("web", &cur, Some(&prev), &ServiceEdit::Rollback).unwrap();
        assert_eq!(diff(&cur, &back)[0].new, "probe:v1");
    }

    #[test]
    fn sizes_and_cpus_parse_as_docker_does() {
        assert_eq!(parse_memory("64M").unwrap(), 64 << 20);
        assert_eq!(parse_memory("1g").unwrap(), 1 << 30);
        assert_eq!(parse_memory("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_memory("100").unwrap(), 100);
        assert_eq!(parse_memory("1.5k").unwrap(), 1536);
        assert!(parse_memory("lots").is_err() && parse_memory("-1m").is_err());
        assert_eq!(parse_cpus("0.25").unwrap(), 250_000_000);
        assert!(parse_cpus("x").is_err() && parse_cpus("-1").is_err());
        assert!(parse_env("A=b=c").unwrap() == ("A".into(), "b=c".into()));
        assert!(parse_env("=x").is_err() && parse_env("1A=x").is_err() && parse_env("A").is_err());
    }
}
