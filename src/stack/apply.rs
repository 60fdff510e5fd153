//! The steps of a stack plan: what each does through the Engine API, the docker CLI
//! command that does the same, and one line for people. A secret's or config's data is
//! read from its file only when the step runs; it is never in a step, a plan, the audit
//! log or an error.

use std::fmt::Write;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{ConfigSpec, NetworkCreateRequest, SecretSpec, ServiceSpec};
use bollard::query_parameters::UpdateServiceOptions;

use super::convert::FileObjectSpec;
use crate::redact::redact;
use crate::swarm::SwarmError;
use crate::swarm::plan::quote;
use crate::untrusted::visible;

/// An Engine API spec in a step. Compared by value; `Eq` so steps fit in
/// [`crate::swarm::plan::Action`] (specs hold no NaN).
#[derive(Debug, Clone, PartialEq)]
pub struct Spec<T>(pub T);

impl<T: PartialEq> Eq for Spec<T> {}

/// An object on the swarm, by name and ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub name: String,
    pub id: String,
}

/// One step of a stack plan, run on a manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackStep {
    CreateNetwork(Spec<NetworkCreateRequest>),
    CreateSecret(FileObjectSpec),
    CreateConfig(FileObjectSpec),
    CreateService(Spec<ServiceSpec>),
    /// Replaces the service's spec at `version` (the engine refuses it if the service
    /// changed since it was read).
    UpdateService {
        id: String,
        version: u64,
        spec: Spec<ServiceSpec>,
        /// The spec's fields that differ, for people.
        changed: Vec<String>,
        /// The file deployed, for the CLI equivalent of a change docker's service flags
        /// cannot say in one command.
        compose_file: String,
    },
    RemoveService(Named),
    RemoveNetwork(Named),
    RemoveSecret(Named),
    RemoveConfig(Named),
}

impl StackStep {
    pub fn describe(&self) -> String {
        match self {
            StackStep::CreateNetwork(n) => format!("create network {}", visible(&n.0.name)),
            StackStep::CreateSecret(s) => format!("create secret {}", visible(&s.name)),
            StackStep::CreateConfig(c) => format!("create config {}", visible(&c.name)),
            StackStep::CreateService(s) => format!(
                "create service {}",
                visible(s.0.name.as_deref().unwrap_or(""))
            ),
            StackStep::UpdateService { spec, changed, .. } => format!(
                "update service {} (changed: {})",
                visible(spec.0.name.as_deref().unwrap_or("")),
                visible(&changed.join(", "))
            ),
            StackStep::RemoveService(n) => format!("remove service {}", visible(&n.name)),
            StackStep::RemoveNetwork(n) => format!("remove network {}", visible(&n.name)),
            StackStep::RemoveSecret(n) => format!("remove secret {}", visible(&n.name)),
            StackStep::RemoveConfig(n) => format!("remove config {}", visible(&n.name)),
        }
    }

    /// The docker CLI command that does the same.
    pub fn cli(&self) -> String {
        match self {
            StackStep::CreateNetwork(n) => network_cli(&n.0),
            StackStep::CreateSecret(s) => file_object_cli("secret", s),
            StackStep::CreateConfig(c) => file_object_cli("config", c),
            StackStep::CreateService(s) => service_create_cli(&s.0),
            StackStep::UpdateService {
                spec,
                changed,
                compose_file,
                ..
            } => service_update_cli(&spec.0, changed, compose_file),
            StackStep::RemoveService(n) => format!("docker service rm {}", quote(&n.name)),
            StackStep::RemoveNetwork(n) => format!("docker network rm {}", quote(&n.name)),
            StackStep::RemoveSecret(n) => format!("docker secret rm {}", quote(&n.name)),
            StackStep::RemoveConfig(n) => format!("docker config rm {}", quote(&n.name)),
        }
    }
}

fn labels_flags(out: &mut String, flag: &str, labels: impl IntoIterator<Item = (String, String)>) {
    let mut l: Vec<(String, String)> = labels.into_iter().collect();
    l.sort();
    for (k, v) in l {
        let _ = write!(out, " {flag} {}", quote(&format!("{k}={v}")));
    }
}

fn network_cli(n: &NetworkCreateRequest) -> String {
    let mut s = format!(
        "docker network create -d {}",
        quote(n.driver.as_deref().unwrap_or("overlay"))
    );
    if n.attachable == Some(true) {
        s.push_str(" --attachable");
    }
    if n.internal == Some(true) {
        s.push_str(" --internal");
    }
    labels_flags(&mut s, "--label", n.labels.clone().unwrap_or_default());
    let mut opts: Vec<_> = n.options.clone().unwrap_or_default().into_iter().collect();
    opts.sort();
    for (k, v) in opts {
        let _ = write!(s, " --opt {}", quote(&format!("{k}={v}")));
    }
    for c in n.ipam.iter().flat_map(|i| i.config.iter().flatten()) {
        if let Some(sub) = &c.subnet {
            let _ = write!(s, " --subnet {}", quote(sub));
        }
    }
    let _ = write!(s, " {}", quote(&n.name));
    s
}

fn file_object_cli(kind: &str, f: &FileObjectSpec) -> String {
    let mut s = format!("docker {kind} create");
    labels_flags(&mut s, "--label", f.labels.clone());
    let _ = write!(
        s,
        " {} {}",
        quote(&f.name),
        quote(&f.path.display().to_string())
    );
    s
}

/// Nanoseconds as a Go duration (`90s`, `500ms`).
fn go_duration(n: i64) -> String {
    if n % 1_000_000_000 == 0 {
        format!("{}s", n / 1_000_000_000)
    } else if n % 1_000_000 == 0 {
        format!("{}ms", n / 1_000_000)
    } else {
        format!("{n}ns")
    }
}

/// `docker service create` with the flags that give `spec`.
fn service_create_cli(spec: &ServiceSpec) -> String {
    let mut s = "docker service create --detach --no-resolve-image".to_string();
    let mut flag = |f: &str, v: &str| {
        let _ = write!(s, " --{f} {}", quote(v));
    };
    flag("name", spec.name.as_deref().unwrap_or(""));
    if let Some(m) = &spec.mode {
        if m.global.is_some() {
            flag("mode", "global");
        } else if let Some(r) = m.replicated.as_ref().and_then(|r| r.replicas) {
            flag("replicas", &r.to_string());
        }
        if m.replicated_job.is_some() {
            flag("mode", "replicated-job");
        }
        if m.global_job.is_some() {
            flag("mode", "global-job");
        }
    }
    let mut labels: Vec<_> = spec
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    labels.sort();
    for (k, v) in labels {
        flag("label", &format!("{k}={v}"));
    }
    let t = spec.task_template.clone().unwrap_or_default();
    let c = t.container_spec.clone().unwrap_or_default();
    let mut cl: Vec<_> = c.labels.clone().unwrap_or_default().into_iter().collect();
    cl.sort();
    for (k, v) in cl {
        flag("container-label", &format!("{k}={v}"));
    }
    for e in c.env.iter().flatten() {
        flag("env", e);
    }
    for (f, v) in [
        ("workdir", &c.dir),
        ("user", &c.user),
        ("hostname", &c.hostname),
    ] {
        if let Some(v) = v {
            flag(f, v);
        }
    }
    if let Some(ep) = &c.command {
        flag("entrypoint", &ep.join(" "));
    }
    for n in t.networks.iter().flatten() {
        let mut v = format!("name={}", n.target.as_deref().unwrap_or(""));
        for a in n.aliases.iter().flatten() {
            let _ = write!(v, ",alias={a}");
        }
        flag("network", &v);
    }
    for p in spec
        .endpoint_spec
        .iter()
        .flat_map(|e| e.ports.iter().flatten())
    {
        let mut v = format!("target={}", p.target_port.unwrap_or(0));
        if let Some(pb) = p.published_port.filter(|p| *p > 0) {
            let _ = write!(v, ",published={pb}");
        }
        if let Some(pr) = p.protocol {
            let _ = write!(v, ",protocol={pr}");
        }
        if let Some(m) = p.publish_mode {
            let _ = write!(v, ",mode={m}");
        }
        flag("publish", &v);
    }
    if let Some(m) = spec.endpoint_spec.as_ref().and_then(|e| e.mode) {
        flag("endpoint-mode", m.as_ref());
    }
    for m in c.mounts.iter().flatten() {
        let mut v = format!("type={}", m.typ.map(|t| t.to_string()).unwrap_or_default());
        if let Some(src) = &m.source {
            let _ = write!(v, ",source={src}");
        }
        let _ = write!(v, ",target={}", m.target.as_deref().unwrap_or(""));
        if m.read_only == Some(true) {
            v.push_str(",readonly");
        }
        flag("mount", &v);
    }
    for sec in c.secrets.iter().flatten() {
        let f = sec.file.clone().unwrap_or_default();
        flag(
            "secret",
            &format!(
                "source={},target={},uid={},gid={},mode={:o}",
                sec.secret_name.as_deref().unwrap_or(""),
                f.name.unwrap_or_default(),
                f.uid.unwrap_or_default(),
                f.gid.unwrap_or_default(),
                f.mode.unwrap_or(0)
            ),
        );
    }
    for conf in c.configs.iter().flatten() {
        let f = conf.file.clone().unwrap_or_default();
        flag(
            "config",
            &format!(
                "source={},target={},uid={},gid={},mode={:o}",
                conf.config_name.as_deref().unwrap_or(""),
                f.name.unwrap_or_default(),
                f.uid.unwrap_or_default(),
                f.gid.unwrap_or_default(),
                f.mode.unwrap_or(0)
            ),
        );
    }
    let p = t.placement.clone().unwrap_or_default();
    for con in p.constraints.iter().flatten() {
        flag("constraint", con);
    }
    for pref in p.preferences.iter().flatten() {
        if let Some(d) = pref
            .spread
            .as_ref()
            .and_then(|s| s.spread_descriptor.as_ref())
        {
            flag("placement-pref", &format!("spread={d}"));
        }
    }
    if let Some(m) = p.max_replicas {
        flag("replicas-max-per-node", &m.to_string());
    }
    let r = t.resources.clone().unwrap_or_default();
    if let Some(l) = &r.limits {
        if let Some(c) = l.nano_cpus {
            flag("limit-cpu", &format!("{}", c as f64 / 1e9));
        }
        if let Some(m) = l.memory_bytes {
            flag("limit-memory", &m.to_string());
        }
        if let Some(p) = l.pids {
            flag("limit-pids", &p.to_string());
        }
    }
    if let Some(l) = &r.reservations {
        if let Some(c) = l.nano_cpus {
            flag("reserve-cpu", &format!("{}", c as f64 / 1e9));
        }
        if let Some(m) = l.memory_bytes {
            flag("reserve-memory", &m.to_string());
        }
    }
    if let Some(rp) = &t.restart_policy {
        if let Some(c) = rp.condition {
            flag("restart-condition", c.as_ref());
        }
        if let Some(d) = rp.delay {
            flag("restart-delay", &go_duration(d));
        }
        if let Some(m) = rp.max_attempts {
            flag("restart-max-attempts", &m.to_string());
        }
        if let Some(w) = rp.window {
            flag("restart-window", &go_duration(w));
        }
    }
    if let Some(u) = &spec.update_config {
        if let Some(p) = u.parallelism {
            flag("update-parallelism", &p.to_string());
        }
        if let Some(d) = u.delay {
            flag("update-delay", &go_duration(d));
        }
        if let Some(a) = u.failure_action {
            flag("update-failure-action", a.as_ref());
        }
        if let Some(m) = u.monitor {
            flag("update-monitor", &go_duration(m));
        }
        if let Some(r) = u.max_failure_ratio {
            flag("update-max-failure-ratio", &r.to_string());
        }
        if let Some(o) = u.order {
            flag("update-order", o.as_ref());
        }
    }
    if let Some(u) = &spec.rollback_config {
        if let Some(p) = u.parallelism {
            flag("rollback-parallelism", &p.to_string());
        }
        if let Some(d) = u.delay {
            flag("rollback-delay", &go_duration(d));
        }
        if let Some(a) = u.failure_action {
            flag("rollback-failure-action", a.as_ref());
        }
        if let Some(m) = u.monitor {
            flag("rollback-monitor", &go_duration(m));
        }
        if let Some(o) = u.order {
            flag("rollback-order", o.as_ref());
        }
    }
    if let Some(h) = &c.health_check {
        match h.test.as_deref() {
            Some([none]) if none == "NONE" => {
                let _ = 0;
            }
            Some([kind, rest @ ..]) if kind == "CMD-SHELL" || kind == "CMD" => {
                flag("health-cmd", &rest.join(" "))
            }
            _ => {}
        }
        for (f, v) in [
            ("health-interval", h.interval),
            ("health-timeout", h.timeout),
            ("health-start-period", h.start_period),
        ] {
            if let Some(v) = v {
                flag(f, &go_duration(v));
            }
        }
        if let Some(r) = h.retries {
            flag("health-retries", &r.to_string());
        }
    }
    if let Some(g) = c.stop_grace_period {
        flag("stop-grace-period", &go_duration(g));
    }
    if matches!(c.health_check.as_ref().and_then(|h| h.test.as_deref()), Some([n]) if n == "NONE") {
        s.push_str(" --no-healthcheck");
    }
    let _ = write!(s, " {}", quote(c.image.as_deref().unwrap_or("")));
    for a in c.args.iter().flatten() {
        let _ = write!(s, " {}", quote(a));
    }
    s
}

/// `docker service update` for an image or replica change; for other changes the
/// command that makes the same update is docker's own stack deploy of the file.
fn service_update_cli(spec: &ServiceSpec, changed: &[String], compose_file: &str) -> String {
    let name = spec.name.as_deref().unwrap_or("");
    let simple = changed.iter().all(|c| {
        c == "TaskTemplate.ContainerSpec.Image"
            || c == "Labels.com.docker.stack.image"
            || c == "Mode.Replicated.Replicas"
    });
    if !simple {
        let stack = spec
            .labels
            .as_ref()
            .and_then(|l| l.get(super::LABEL_NAMESPACE))
            .cloned()
            .unwrap_or_default();
        return format!(
            "docker stack deploy --resolve-image never -c {} {}",
            quote(compose_file),
            quote(&stack)
        );
    }
    let mut s = "docker service update --detach --no-resolve-image".to_string();
    let c = spec
        .task_template
        .as_ref()
        .and_then(|t| t.container_spec.as_ref());
    if changed.iter().any(|c| c.contains("Image"))
        && let Some(image) = c.and_then(|c| c.image.as_deref())
    {
        let _ = write!(
            s,
            " --image {} --label-add {}",
            quote(image),
            quote(&format!("{}={image}", super::LABEL_IMAGE))
        );
    }
    if let Some(r) = spec
        .mode
        .as_ref()
        .and_then(|m| m.replicated.as_ref())
        .and_then(|r| r.replicas)
        && changed.iter().any(|c| c.contains("Replicas"))
    {
        let _ = write!(s, " --replicas {r}");
    }
    let _ = write!(s, " {}", quote(name));
    s
}

fn failed(host: &str, what: &str, e: impl std::fmt::Display, fix: &str) -> SwarmError {
    SwarmError::Step {
        host: host.to_string(),
        step: what.to_string(),
        message: redact(&e.to_string()).into_owned(),
        fix: fix.to_string(),
    }
}

/// Reads a secret's or config's file, base64-encoded for the Engine API. The error names
/// the path only.
fn file_data(host: &str, what: &str, f: &FileObjectSpec) -> Result<String, SwarmError> {
    let bytes = std::fs::read(&f.path).map_err(|e| {
        failed(
            host,
            what,
            format!("cannot read {}: {}", f.path.display(), e.kind()),
            "check the file beside the compose file",
        )
    })?;
    Ok(data_encoding::BASE64.encode(&bytes))
}

/// Fills in the IDs of the secrets and configs `spec` names (the engine wants both).
async fn with_ids(
    d: &Docker,
    host: &str,
    what: &str,
    spec: &ServiceSpec,
) -> Result<ServiceSpec, SwarmError> {
    let mut spec = spec.clone();
    let fix = "create it first (deploy the stack's file), or declare it `external` if it exists";
    let Some(c) = spec
        .task_template
        .as_mut()
        .and_then(|t| t.container_spec.as_mut())
    else {
        return Ok(spec);
    };
    let missing = |m: String| failed(host, what, m, fix);
    if c.secrets.as_ref().is_some_and(|s| !s.is_empty()) {
        let all: Vec<_> = d
            .list_secrets(None)
            .await
            .map_err(|e| failed(host, what, e, fix))?
            .into_iter()
            .map(|s| (s.spec.and_then(|s| s.name), s.id))
            .collect();
        for r in c.secrets.iter_mut().flatten() {
            r.secret_id = Some(find_id(&all, "secret", &r.secret_name).map_err(missing)?);
        }
    }
    if c.configs.as_ref().is_some_and(|s| !s.is_empty()) {
        let all: Vec<_> = d
            .list_configs(None)
            .await
            .map_err(|e| failed(host, what, e, fix))?
            .into_iter()
            .map(|s| (s.spec.and_then(|s| s.name), s.id))
            .collect();
        for r in c.configs.iter_mut().flatten() {
            r.config_id = Some(find_id(&all, "config", &r.config_name).map_err(missing)?);
        }
    }
    Ok(spec)
}

/// The ID of the object called `name` among (name, ID) pairs.
fn find_id(
    pairs: &[(Option<String>, Option<String>)],
    kind: &str,
    name: &Option<String>,
) -> Result<String, String> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, id)| id.clone())
        .ok_or_else(|| format!("{kind} {:?} not found", name.clone().unwrap_or_default()))
}

/// Runs `step` on `host`'s engine (a manager).
pub async fn run(d: &Docker, host: &str, what: &str, step: &StackStep) -> Result<(), SwarmError> {
    let fix = "run the same command again: it plans from the swarm's actual state";
    match step {
        StackStep::CreateNetwork(n) => {
            d.create_network(n.0.clone()).await.map_err(|e| {
                failed(
                    host,
                    what,
                    e,
                    "check the subnet does not overlap another network",
                )
            })?;
        }
        StackStep::CreateSecret(f) => {
            let spec = SecretSpec {
                name: Some(f.name.clone()),
                labels: Some(f.labels.clone().into_iter().collect()),
                data: Some(file_data(host, what, f)?),
                ..Default::default()
            };
            d.create_secret(spec)
                .await
                .map_err(|e| failed(host, what, e, fix))?;
        }
        StackStep::CreateConfig(f) => {
            let spec = ConfigSpec {
                name: Some(f.name.clone()),
                labels: Some(f.labels.clone().into_iter().collect()),
                data: Some(file_data(host, what, f)?),
                ..Default::default()
            };
            d.create_config(spec)
                .await
                .map_err(|e| failed(host, what, e, fix))?;
        }
        StackStep::CreateService(s) => {
            let spec = with_ids(d, host, what, &s.0).await?;
            d.create_service(spec, None)
                .await
                .map_err(|e| failed(host, what, e, fix))?;
        }
        StackStep::UpdateService {
            id, version, spec, ..
        } => {
            let spec = with_ids(d, host, what, &spec.0).await?;
            let opts = UpdateServiceOptions {
                version: i32::try_from(*version).unwrap_or(i32::MAX),
                ..Default::default()
            };
            d.update_service(id, spec, opts, None)
                .await
                .map_err(|e| failed(host, what, e, fix))?;
        }
        StackStep::RemoveService(n) => {
            d.delete_service(&n.id)
                .await
                .map_err(|e| failed(host, what, e, fix))?;
        }
        StackStep::RemoveNetwork(n) => remove_network(d, host, what, &n.id).await?,
        StackStep::RemoveSecret(n) => {
            d.delete_secret(&n.id)
                .await
                .map_err(|e| failed(host, what, e, fix))?;
        }
        StackStep::RemoveConfig(n) => {
            d.delete_config(&n.id)
                .await
                .map_err(|e| failed(host, what, e, fix))?;
        }
    }
    Ok(())
}

/// Whether the engine refused to remove a network only because tasks or containers still
/// use it (swarm's and the local driver's words).
fn still_in_use(message: &str) -> bool {
    message.contains("is in use by task") || message.contains("active endpoints")
}

/// A network is removed once the removed services' tasks have left it: retried for up
/// to 60 s while the engine says they still use it.
async fn remove_network(d: &Docker, host: &str, what: &str, id: &str) -> Result<(), SwarmError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match d.remove_network(id).await {
            Ok(()) => return Ok(()),
            Err(e) if still_in_use(&e.to_string()) && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => {
                return Err(failed(
                    host,
                    what,
                    e,
                    "a container outside the stack may still use it: `docker network inspect` it",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn secret_steps_show_the_path_never_the_data() {
        let f = FileObjectSpec {
            name: "app_pw".into(),
            labels: BTreeMap::from([("com.docker.stack.namespace".into(), "app".into())]),
            path: "/srv/app/pw.txt".into(),
        };
        let step = StackStep::CreateSecret(f);
        assert_eq!(
            step.cli(),
            "docker secret create --label com.docker.stack.namespace=app app_pw /srv/app/pw.txt"
        );
        assert_eq!(step.describe(), "create secret app_pw");
    }

    #[test]
    fn networks_still_in_use_are_waited_for() {
        assert!(still_in_use(
            "rpc error: code = FailedPrecondition desc = network x is in use by task y"
        ));
        assert!(still_in_use(
            "error while removing network: network n has active endpoints"
        ));
        assert!(!still_in_use("network n not found"));
    }

    #[test]
    fn image_updates_are_one_service_update() {
        let spec: ServiceSpec = serde_json::from_value(serde_json::json!({
            "Name": "app_web",
            "Labels": {"com.docker.stack.namespace": "app"},
            "TaskTemplate": {"ContainerSpec": {"Image": "probe:2"}}
        }))
        .unwrap();
        let changed = vec![
            "Labels.com.docker.stack.image".to_string(),
            "TaskTemplate.ContainerSpec.Image".to_string(),
        ];
        assert_eq!(
            service_update_cli(&spec, &changed, "stack.yml"),
            "docker service update --detach --no-resolve-image --image probe:2 --label-add \
             com.docker.stack.image=probe:2 app_web"
        );
        assert_eq!(
            service_update_cli(
                &spec,
                &["TaskTemplate.ContainerSpec.Env".into()],
                "/s/a b.yml"
            ),
            "docker stack deploy --resolve-image never -c '/s/a b.yml' app"
        );
    }
}
