//! A parsed Compose file as Engine API objects, the way `docker stack deploy` makes them:
//! names prefixed with the stack's name, the namespace labels on everything, the image in
//! a service label, and docker's defaults (secret files 0444 owned by 0:0, a `default`
//! overlay for services that name no network, each service reachable by its short name).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use bollard::models::{
    EndpointPortConfig, EndpointSpec, HealthConfig, Ipam, IpamConfig, Limit, Mount,
    MountVolumeOptions, MountVolumeOptionsDriverConfig, NetworkAttachmentConfig,
    NetworkCreateRequest, ResourceObject, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated,
    ServiceSpecModeReplicatedJob, ServiceSpecRollbackConfig, ServiceSpecUpdateConfig, TaskSpec,
    TaskSpecContainerSpec, TaskSpecContainerSpecConfigs, TaskSpecContainerSpecFile,
    TaskSpecContainerSpecFile1, TaskSpecContainerSpecPrivileges, TaskSpecContainerSpecSecrets,
    TaskSpecPlacement, TaskSpecPlacementPreferences, TaskSpecPlacementSpread, TaskSpecResources,
    TaskSpecRestartPolicy,
};
use serde::de::DeserializeOwned;

use super::compose::{
    ComposeFile, External, FileObject, FileRef, ListOrMap, Port, ResourceSet, Service,
    ServiceNetworks, ServiceVolume, StrOrList, UpdateConfig,
};
use super::interpolate::Vars;
use super::units;

/// The label docker puts on every object of a stack.
pub const LABEL_NAMESPACE: &str = "com.docker.stack.namespace";
/// The service label holding the image as the file names it.
pub const LABEL_IMAGE: &str = "com.docker.stack.image";

/// A network, secret or config of the stack, by its full name.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkObject {
    pub name: String,
    pub request: NetworkCreateRequest,
}

/// A secret or config to create from a file on this workstation. The data is read only
/// when it is created, never kept in plans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileObjectSpec {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub path: PathBuf,
}

/// Everything a stack deploy creates or updates.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StackSpec {
    pub namespace: String,
    /// By full name (`stack_service`), sorted.
    pub services: Vec<ServiceSpec>,
    pub networks: Vec<NetworkObject>,
    pub secrets: Vec<FileObjectSpec>,
    pub configs: Vec<FileObjectSpec>,
}

/// Converts `file` (parsed from a file in `dir`) for the stack `namespace`.
pub fn convert(
    file: &ComposeFile,
    namespace: &str,
    dir: &Path,
    vars: &Vars,
) -> Result<StackSpec, String> {
    let ns = Ns(namespace);
    let mut services = Vec::new();
    for (name, svc) in &file.services {
        services.push(
            service(file, &ns, name, svc, dir, vars).map_err(|e| format!("service {name}: {e}"))?,
        );
    }
    Ok(StackSpec {
        namespace: namespace.to_string(),
        services,
        networks: networks(file, &ns)?,
        secrets: file_objects(&file.secrets, &ns, dir, "secret")?,
        configs: file_objects(&file.configs, &ns, dir, "config")?,
    })
}

struct Ns<'a>(&'a str);

impl Ns<'_> {
    fn scope(&self, name: &str) -> String {
        format!("{}_{name}", self.0)
    }

    /// `labels` plus the namespace label.
    fn labels(&self, labels: &Option<ListOrMap>) -> HashMap<String, String> {
        let mut out: HashMap<String, String> = labels
            .iter()
            .flat_map(ListOrMap::pairs)
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect();
        out.insert(LABEL_NAMESPACE.into(), self.0.into());
        out
    }
}

/// An Engine API enum from the word the file uses (the same words as the API).
fn word<T: DeserializeOwned>(what: &str, w: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(w.to_string()))
        .map_err(|_| format!("{what}: {w:?} is not a value the engine accepts"))
}

fn dur(what: &str, d: &Option<String>) -> Result<Option<i64>, String> {
    d.as_deref()
        .map(|s| units::duration_nanos(s).map_err(|e| format!("{what}: {e}")))
        .transpose()
}

fn words(v: &Option<StrOrList>, what: &str) -> Result<Option<Vec<String>>, String> {
    Ok(match v {
        None => None,
        Some(StrOrList::List(l)) => Some(l.iter().map(|s| s.0.clone()).collect()),
        Some(StrOrList::Str(s)) => {
            Some(shlex::split(s).ok_or_else(|| format!("{what}: unbalanced quotes in {s:?}"))?)
        }
    })
}

fn service(
    file: &ComposeFile,
    ns: &Ns<'_>,
    name: &str,
    svc: &Service,
    dir: &Path,
    vars: &Vars,
) -> Result<ServiceSpec, String> {
    let image = svc
        .image
        .clone()
        .ok_or("no image: swarm services run an image (`build` is ignored by stacks)")?;
    let deploy = svc.deploy.clone().unwrap_or_default();
    let mut labels = ns.labels(&deploy.labels);
    labels.insert(LABEL_IMAGE.into(), image.clone());
    let container = TaskSpecContainerSpec {
        image: Some(image),
        labels: Some(ns.labels(&svc.labels)),
        command: words(&svc.entrypoint, "entrypoint")?,
        args: words(&svc.command, "command")?,
        hostname: svc.hostname.clone(),
        env: env(&svc.environment, vars),
        dir: svc.working_dir.clone(),
        user: svc.user.as_ref().map(|u| u.0.clone()),
        mounts: Some(mounts(file, ns, svc, dir)?),
        stop_grace_period: dur("stop_grace_period", &svc.stop_grace_period)?,
        health_check: healthcheck(svc)?,
        secrets: Some(secret_refs(file, ns, &svc.secrets)?),
        configs: Some(config_refs(file, ns, &svc.configs)?),
        // docker sends an empty set of privileges; the engine reports it back.
        privileges: Some(TaskSpecContainerSpecPrivileges {
            no_new_privileges: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    };
    let placement = deploy.placement.clone().unwrap_or_default();
    Ok(ServiceSpec {
        name: Some(ns.scope(name)),
        labels: Some(labels),
        task_template: Some(TaskSpec {
            container_spec: Some(container),
            resources: Some(resources(&deploy.resources)?),
            restart_policy: restart_policy(svc)?,
            placement: Some(TaskSpecPlacement {
                constraints: (!placement.constraints.is_empty())
                    .then(|| placement.constraints.clone()),
                preferences: (!placement.preferences.is_empty()).then(|| {
                    placement
                        .preferences
                        .iter()
                        .map(|p| TaskSpecPlacementPreferences {
                            spread: Some(TaskSpecPlacementSpread {
                                spread_descriptor: Some(p.spread.clone()),
                            }),
                        })
                        .collect()
                }),
                max_replicas: placement
                    .max_replicas_per_node
                    .as_ref()
                    .map(|m| m.number("max_replicas_per_node").map(|n| n as i64))
                    .transpose()?,
                platforms: None,
            }),
            networks: Some(service_networks(file, ns, name, &svc.networks)?),
            ..Default::default()
        }),
        mode: Some(mode(&deploy.mode, &deploy.replicas)?),
        update_config: update_config(&deploy.update_config)?,
        rollback_config: update_config(&deploy.rollback_config)?.map(|u| {
            ServiceSpecRollbackConfig {
                parallelism: u.parallelism,
                delay: u.delay,
                failure_action: u
                    .failure_action
                    .and_then(|a| word("rollback_config.failure_action", a.as_ref()).ok()),
                monitor: u.monitor,
                max_failure_ratio: u.max_failure_ratio,
                order: u
                    .order
                    .and_then(|o| word("rollback_config.order", o.as_ref()).ok()),
            }
        }),
        networks: None,
        endpoint_spec: Some(endpoint(svc, &deploy.endpoint_mode)?),
    })
}

/// `KEY=VALUE` strings, sorted; a name without a value takes the variables' value, or
/// stays a bare name (as docker does).
fn env(e: &Option<ListOrMap>, vars: &Vars) -> Option<Vec<String>> {
    let pairs = e.as_ref()?.pairs();
    let mut map: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (k, v) in pairs {
        let v = v.or_else(|| vars.get(&k).map(str::to_string));
        map.insert(k, v);
    }
    let mut out: Vec<String> = map
        .into_iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k,
        })
        .collect();
    out.sort();
    Some(out)
}

fn healthcheck(svc: &Service) -> Result<Option<HealthConfig>, String> {
    let Some(h) = &svc.healthcheck else {
        return Ok(None);
    };
    if h.disable {
        if h.test.is_some() {
            return Err("healthcheck: test and disable can't be set at the same time".into());
        }
        return Ok(Some(HealthConfig {
            test: Some(vec!["NONE".into()]),
            ..Default::default()
        }));
    }
    let test = match &h.test {
        None => None,
        Some(StrOrList::Str(s)) => Some(vec!["CMD-SHELL".to_string(), s.clone()]),
        Some(StrOrList::List(l)) => Some(l.iter().map(|s| s.0.clone()).collect()),
    };
    Ok(Some(HealthConfig {
        test,
        interval: dur("healthcheck.interval", &h.interval)?,
        timeout: dur("healthcheck.timeout", &h.timeout)?,
        start_period: dur("healthcheck.start_period", &h.start_period)?,
        retries: h
            .retries
            .as_ref()
            .map(|r| r.number("healthcheck.retries").map(|n| n as i64))
            .transpose()?,
        start_interval: None,
    }))
}

fn resource_set(r: &ResourceSet, what: &str) -> Result<(Option<i64>, Option<i64>), String> {
    let cpus = r
        .cpus
        .as_ref()
        .map(|c| units::nano_cpus(&c.0).map_err(|e| format!("{what}.cpus: {e}")))
        .transpose()?;
    let mem = r
        .memory
        .as_ref()
        .map(|m| units::memory_bytes(&m.0).map_err(|e| format!("{what}.memory: {e}")))
        .transpose()?;
    Ok((cpus, mem))
}

fn resources(r: &Option<super::compose::Resources>) -> Result<TaskSpecResources, String> {
    let r = r.clone().unwrap_or_default();
    let limits = match &r.limits {
        None => None,
        Some(l) => {
            let (cpus, mem) = resource_set(l, "resources.limits")?;
            Some(Limit {
                nano_cpus: cpus,
                memory_bytes: mem,
                pids: l
                    .pids
                    .as_ref()
                    .map(|p| p.number("resources.limits.pids").map(|n| n as i64))
                    .transpose()?,
            })
        }
    };
    let reservations = match &r.reservations {
        None => None,
        Some(l) => {
            if l.pids.is_some() {
                return Err("resources.reservations.pids: pids can only be limited".into());
            }
            let (cpus, mem) = resource_set(l, "resources.reservations")?;
            Some(ResourceObject {
                nano_cpus: cpus,
                memory_bytes: mem,
                generic_resources: None,
            })
        }
    };
    Ok(TaskSpecResources {
        limits,
        reservations,
        ..Default::default()
    })
}

fn restart_policy(svc: &Service) -> Result<Option<TaskSpecRestartPolicy>, String> {
    let deploy = svc.deploy.clone().unwrap_or_default();
    if let Some(p) = &deploy.restart_policy {
        return Ok(Some(TaskSpecRestartPolicy {
            condition: p
                .condition
                .as_deref()
                .map(|c| word("restart_policy.condition", c))
                .transpose()?,
            delay: dur("restart_policy.delay", &p.delay)?,
            max_attempts: p
                .max_attempts
                .as_ref()
                .map(|m| m.number("restart_policy.max_attempts").map(|n| n as i64))
                .transpose()?,
            window: dur("restart_policy.window", &p.window)?,
        }));
    }
    // docker reads `restart` when there is no restart_policy.
    let Some(r) = svc.restart.as_deref() else {
        return Ok(None);
    };
    let (name, count) = r.split_once(':').unwrap_or((r, "0"));
    let count: i64 = count
        .parse()
        .map_err(|_| format!("restart: {r:?}: the retry count is a whole number"))?;
    let attempts = (count > 0).then_some(count);
    let condition = match name {
        "no" | "" => return Ok(None),
        "always" | "unless-stopped" => "any",
        "on-failure" => "on-failure",
        other => return Err(format!("restart: unknown policy {other:?}")),
    };
    Ok(Some(TaskSpecRestartPolicy {
        condition: Some(word("restart", condition)?),
        max_attempts: attempts,
        ..Default::default()
    }))
}

fn mode(
    mode: &Option<String>,
    replicas: &Option<super::compose::Scalar>,
) -> Result<ServiceSpecMode, String> {
    let replicas = replicas
        .as_ref()
        .map(|r| r.number("replicas").map(|n| n as i64))
        .transpose()?;
    let no_replicas = |m: &str| match replicas {
        Some(_) => Err(format!(
            "replicas can only be used with replicated or replicated-job mode, not {m}"
        )),
        None => Ok(()),
    };
    Ok(match mode.as_deref().unwrap_or("replicated") {
        "replicated" => ServiceSpecMode {
            // The engine makes an absent count 1, and reports 1.
            replicated: Some(ServiceSpecModeReplicated {
                replicas: Some(replicas.unwrap_or(1)),
            }),
            ..Default::default()
        },
        "global" => {
            no_replicas("global")?;
            ServiceSpecMode {
                global: Some(HashMap::new()),
                ..Default::default()
            }
        }
        "replicated-job" => ServiceSpecMode {
            replicated_job: Some(ServiceSpecModeReplicatedJob {
                max_concurrent: replicas,
                total_completions: replicas,
            }),
            ..Default::default()
        },
        "global-job" => {
            no_replicas("global-job")?;
            ServiceSpecMode {
                global_job: Some(HashMap::new()),
                ..Default::default()
            }
        }
        other => return Err(format!("deploy.mode: unknown mode {other:?}")),
    })
}

fn update_config(u: &Option<UpdateConfig>) -> Result<Option<ServiceSpecUpdateConfig>, String> {
    let Some(u) = u else { return Ok(None) };
    let ratio = u
        .max_failure_ratio
        .as_ref()
        .map(|r| {
            r.0.trim()
                .parse::<f64>()
                .map_err(|_| format!("max_failure_ratio: {:?} is not a number", r.0))
        })
        .transpose()?;
    Ok(Some(ServiceSpecUpdateConfig {
        parallelism: Some(
            u.parallelism
                .as_ref()
                .map(|p| p.number("parallelism"))
                .transpose()?
                .unwrap_or(1) as i64,
        ),
        delay: dur("delay", &u.delay)?,
        failure_action: u
            .failure_action
            .as_deref()
            .map(|a| word("failure_action", a))
            .transpose()?,
        monitor: dur("monitor", &u.monitor)?,
        max_failure_ratio: ratio,
        order: u.order.as_deref().map(|o| word("order", o)).transpose()?,
    }))
}

fn endpoint(svc: &Service, mode: &Option<String>) -> Result<EndpointSpec, String> {
    let mut ports = Vec::new();
    for p in &svc.ports {
        match p {
            Port::Short(s) => {
                for spec in units::short_ports(&s.0)? {
                    ports.push(EndpointPortConfig {
                        protocol: Some(word("ports", &spec.protocol)?),
                        target_port: Some(spec.target.into()),
                        published_port: Some(spec.published.into()),
                        publish_mode: Some(word("ports", "ingress")?),
                        name: None,
                    });
                }
            }
            Port::Long(l) => ports.push(EndpointPortConfig {
                protocol: l
                    .protocol
                    .as_deref()
                    .map(|p| word("ports.protocol", p))
                    .transpose()?,
                target_port: Some(l.target.number("ports.target")? as i64),
                published_port: l
                    .published
                    .as_ref()
                    .map(|p| p.number("ports.published").map(|n| n as i64))
                    .transpose()?,
                publish_mode: l
                    .mode
                    .as_deref()
                    .map(|m| word("ports.mode", m))
                    .transpose()?,
                name: None,
            }),
        }
    }
    // docker sorts by published port, target port, protocol, mode.
    let key = |p: &EndpointPortConfig| {
        (
            p.published_port.unwrap_or(0),
            p.target_port.unwrap_or(0),
            p.protocol.map(|x| x.to_string()).unwrap_or_default(),
            p.publish_mode.map(|x| x.to_string()).unwrap_or_default(),
        )
    };
    ports.sort_by_key(key);
    Ok(EndpointSpec {
        mode: mode
            .as_deref()
            .map(|m| word("endpoint_mode", &m.to_ascii_lowercase()))
            .transpose()?,
        ports: Some(ports),
    })
}

fn mounts(
    file: &ComposeFile,
    ns: &Ns<'_>,
    svc: &Service,
    dir: &Path,
) -> Result<Vec<Mount>, String> {
    let mut out = Vec::new();
    for v in &svc.volumes {
        let (kind, source, target, read_only, nocopy) = match v {
            ServiceVolume::Short(s) => {
                let v = units::short_volume(s)?;
                (
                    v.kind.to_string(),
                    v.source,
                    v.target,
                    v.read_only,
                    v.nocopy,
                )
            }
            ServiceVolume::Long(l) => (
                l.kind.clone(),
                l.source.clone(),
                l.target.clone(),
                l.read_only,
                l.volume.as_ref().is_some_and(|o| o.nocopy),
            ),
        };
        let mut m = Mount {
            target: Some(target),
            typ: Some(word("volumes.type", &kind)?),
            read_only: read_only.then_some(true),
            ..Default::default()
        };
        match (kind.as_str(), source) {
            ("bind", Some(src)) => {
                // docker resolves relative paths against the file's directory.
                let p = Path::new(&src);
                let abs = if p.is_relative() {
                    dir.join(p)
                } else {
                    p.to_path_buf()
                };
                m.source = Some(clean(&abs));
            }
            ("bind", None) => return Err("a bind mount needs a source".into()),
            ("volume", None) => {}
            ("volume", Some(src)) => {
                let Some(top) = file.volumes.get(&src) else {
                    return Err(format!(
                        "undefined volume {src:?}: declare it under top-level `volumes:`"
                    ));
                };
                let top = top.clone().unwrap_or_default();
                m.source = Some(top.name.clone().unwrap_or_else(|| ns.scope(&src)));
                let mut opts = MountVolumeOptions {
                    no_copy: nocopy.then_some(true),
                    ..Default::default()
                };
                if !External::is_external(&top.external) {
                    opts.labels = Some(ns.labels(&top.labels));
                    if top.driver.is_some() || top.driver_opts.is_some() {
                        opts.driver_config = Some(MountVolumeOptionsDriverConfig {
                            name: top.driver.clone(),
                            options: top
                                .driver_opts
                                .as_ref()
                                .map(|o| o.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect()),
                        });
                    }
                }
                m.volume_options = Some(opts);
            }
            (other, _) => {
                return Err(format!(
                    "volume type {other:?} is not supported (bind, volume)"
                ));
            }
        }
        out.push(m);
    }
    Ok(out)
}

/// `a/./b/../c` as `a/c`, without touching the filesystem.
fn clean(p: &Path) -> String {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.display().to_string()
}

/// The full name, file name, uid, gid and mode of a secret or config a service uses.
fn file_ref(
    r: &FileRef,
    tops: &BTreeMap<String, FileObject>,
    ns: &Ns<'_>,
    kind: &str,
) -> Result<(String, String, String, String, u32), String> {
    let (source, target, uid, gid, mode) = match r {
        FileRef::Short(s) => (s.clone(), None, None, None, None),
        FileRef::Long(l) => (
            l.source.clone(),
            l.target.clone(),
            l.uid.as_ref().map(|u| u.0.clone()),
            l.gid.as_ref().map(|g| g.0.clone()),
            l.mode.as_ref().map(|m| m.number("mode")).transpose()?,
        ),
    };
    let top = tops.get(&source).ok_or_else(|| {
        format!("undefined {kind} {source:?}: declare it under top-level `{kind}s:`")
    })?;
    let name = top.name.clone().unwrap_or_else(|| ns.scope(&source));
    Ok((
        name,
        target.unwrap_or(source),
        uid.unwrap_or_else(|| "0".into()),
        gid.unwrap_or_else(|| "0".into()),
        mode.map(|m| m as u32).unwrap_or(0o444),
    ))
}

fn secret_refs(
    file: &ComposeFile,
    ns: &Ns<'_>,
    refs: &[FileRef],
) -> Result<Vec<TaskSpecContainerSpecSecrets>, String> {
    let mut out = Vec::new();
    for r in refs {
        let (name, target, uid, gid, mode) = file_ref(r, &file.secrets, ns, "secret")?;
        out.push(TaskSpecContainerSpecSecrets {
            file: Some(TaskSpecContainerSpecFile {
                name: Some(target),
                uid: Some(uid),
                gid: Some(gid),
                mode: Some(mode),
            }),
            secret_id: None,
            secret_name: Some(name),
        });
    }
    out.sort_by(|a, b| a.secret_name.cmp(&b.secret_name));
    Ok(out)
}

fn config_refs(
    file: &ComposeFile,
    ns: &Ns<'_>,
    refs: &[FileRef],
) -> Result<Vec<TaskSpecContainerSpecConfigs>, String> {
    let mut out = Vec::new();
    for r in refs {
        let (name, target, uid, gid, mode) = file_ref(r, &file.configs, ns, "config")?;
        out.push(TaskSpecContainerSpecConfigs {
            file: Some(TaskSpecContainerSpecFile1 {
                name: Some(target),
                uid: Some(uid),
                gid: Some(gid),
                mode: Some(mode),
            }),
            config_name: Some(name),
            ..Default::default()
        });
    }
    out.sort_by(|a, b| a.config_name.cmp(&b.config_name));
    Ok(out)
}

/// The networks a service attaches to, sorted by name, each with the service's short
/// name as an alias.
fn service_networks(
    file: &ComposeFile,
    ns: &Ns<'_>,
    service: &str,
    nets: &Option<ServiceNetworks>,
) -> Result<Vec<NetworkAttachmentConfig>, String> {
    let listed: Vec<(String, Vec<String>)> = match nets {
        None => vec![("default".into(), vec![])],
        Some(ServiceNetworks::List(l)) if l.is_empty() => vec![("default".into(), vec![])],
        Some(ServiceNetworks::List(l)) => l.iter().map(|n| (n.clone(), vec![])).collect(),
        Some(ServiceNetworks::Map(m)) if m.is_empty() => vec![("default".into(), vec![])],
        Some(ServiceNetworks::Map(m)) => m
            .iter()
            .map(|(n, c)| (n.clone(), c.clone().unwrap_or_default().aliases))
            .collect(),
    };
    let mut out = Vec::new();
    for (net, mut aliases) in listed {
        let top = file.networks.get(&net);
        if top.is_none() && net != "default" {
            return Err(format!(
                "undefined network {net:?}: declare it under top-level `networks:`"
            ));
        }
        let top = top.cloned().flatten().unwrap_or_default();
        aliases.push(service.to_string());
        out.push(NetworkAttachmentConfig {
            target: Some(top.name.clone().unwrap_or_else(|| ns.scope(&net))),
            aliases: Some(aliases),
            driver_opts: None,
        });
    }
    out.sort_by(|a, b| a.target.cmp(&b.target));
    Ok(out)
}

/// The networks services use that the stack creates (not external ones).
fn networks(file: &ComposeFile, ns: &Ns<'_>) -> Result<Vec<NetworkObject>, String> {
    let mut used = std::collections::BTreeSet::new();
    for svc in file.services.values() {
        match &svc.networks {
            Some(ServiceNetworks::List(l)) if !l.is_empty() => used.extend(l.iter().cloned()),
            Some(ServiceNetworks::Map(m)) if !m.is_empty() => used.extend(m.keys().cloned()),
            _ => {
                used.insert("default".to_string());
            }
        }
    }
    let mut out = Vec::new();
    for net in used {
        let top = file
            .networks
            .get(&net)
            .cloned()
            .flatten()
            .unwrap_or_default();
        if External::is_external(&top.external) {
            continue;
        }
        let name = top.name.clone().unwrap_or_else(|| ns.scope(&net));
        let ipam = top
            .ipam
            .as_ref()
            .filter(|i| i.driver.is_some() || !i.config.is_empty());
        out.push(NetworkObject {
            request: NetworkCreateRequest {
                name: name.clone(),
                driver: Some(top.driver.clone().unwrap_or_else(|| "overlay".into())),
                scope: None,
                internal: top.internal.then_some(true),
                attachable: top.attachable.then_some(true),
                options: top
                    .driver_opts
                    .as_ref()
                    .map(|o| o.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect()),
                labels: Some(ns.labels(&top.labels)),
                ipam: ipam.map(|i| Ipam {
                    driver: i.driver.clone(),
                    config: Some(
                        i.config
                            .iter()
                            .map(|c| IpamConfig {
                                subnet: Some(c.subnet.clone()),
                                ..Default::default()
                            })
                            .collect(),
                    ),
                    options: None,
                }),
                ..Default::default()
            },
            name,
        });
    }
    Ok(out)
}

fn file_objects(
    tops: &BTreeMap<String, FileObject>,
    ns: &Ns<'_>,
    dir: &Path,
    kind: &str,
) -> Result<Vec<FileObjectSpec>, String> {
    let mut out = Vec::new();
    for (key, obj) in tops {
        if External::is_external(&obj.external) {
            continue;
        }
        let Some(file) = &obj.file else {
            return Err(format!(
                "{kind} {key}: only `file:` sources are supported (or `external: true`)"
            ));
        };
        out.push(FileObjectSpec {
            name: obj.name.clone().unwrap_or_else(|| ns.scope(key)),
            labels: ns.labels(&obj.labels).into_iter().collect(),
            path: dir.join(file),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::compose::parse;

    fn spec(text: &str) -> StackSpec {
        let vars = Vars::default();
        let l = parse(Path::new("/srv/app/stack.yml"), text, &vars).unwrap();
        convert(&l.file, "app", &l.dir, &vars).unwrap()
    }

    #[test]
    fn names_labels_and_default_network_as_docker_makes_them() {
        let s = spec(
            "services:\n  web:\n    image: probe:1\n    labels: [a=b]\n    deploy:\n      labels: {c: d}\n",
        );
        let svc = &s.services[0];
        assert_eq!(svc.name.as_deref(), Some("app_web"));
        let labels = svc.labels.as_ref().unwrap();
        assert_eq!(labels[LABEL_NAMESPACE], "app");
        assert_eq!(labels[LABEL_IMAGE], "probe:1");
        assert_eq!(labels["c"], "d");
        let c = svc
            .task_template
            .as_ref()
            .unwrap()
            .container_spec
            .as_ref()
            .unwrap();
        assert_eq!(c.labels.as_ref().unwrap()[LABEL_NAMESPACE], "app");
        assert_eq!(c.labels.as_ref().unwrap()["a"], "b");
        let nets = svc
            .task_template
            .as_ref()
            .unwrap()
            .networks
            .as_ref()
            .unwrap();
        assert_eq!(nets[0].target.as_deref(), Some("app_default"));
        assert_eq!(nets[0].aliases.as_deref(), Some(&["web".to_string()][..]));
        assert_eq!(s.networks.len(), 1);
        assert_eq!(s.networks[0].name, "app_default");
        assert_eq!(s.networks[0].request.driver.as_deref(), Some("overlay"));
    }

    #[test]
    fn secrets_configs_and_mounts() {
        let s = spec(
            "services:\n  web:\n    image: x\n    secrets: [pw]\n    configs: [{source: conf, target: /etc/c, mode: 288}]\n    volumes: [\"data:/d:ro\", \"./site:/s\"]\nsecrets:\n  pw: {file: ./pw.txt}\nconfigs:\n  conf: {file: c.txt}\nvolumes:\n  data: {}\n",
        );
        let c = s.services[0]
            .task_template
            .as_ref()
            .unwrap()
            .container_spec
            .clone()
            .unwrap();
        let sec = &c.secrets.unwrap()[0];
        assert_eq!(sec.secret_name.as_deref(), Some("app_pw"));
        let f = sec.file.as_ref().unwrap();
        assert_eq!((f.name.as_deref(), f.mode), (Some("pw"), Some(0o444)));
        let conf = &c.configs.unwrap()[0];
        assert_eq!(conf.file.as_ref().unwrap().mode, Some(288));
        let m = c.mounts.unwrap();
        assert_eq!(m[0].source.as_deref(), Some("app_data"));
        assert_eq!(m[0].read_only, Some(true));
        assert_eq!(m[1].source.as_deref(), Some("/srv/app/site"));
        assert_eq!(s.secrets[0].path, Path::new("/srv/app/./pw.txt"));
        assert_eq!(s.configs[0].name, "app_conf");
    }

    #[test]
    fn undefined_references_are_errors() {
        let vars = Vars::default();
        for text in [
            "services:\n  w:\n    image: x\n    secrets: [nope]\n",
            "services:\n  w:\n    image: x\n    networks: [nope]\n",
            "services:\n  w:\n    image: x\n    volumes: [\"nope:/x\"]\n",
            "services:\n  w:\n    build: .\n",
            "services:\n  w:\n    image: x\n    deploy: {mode: global, replicas: 2}\n",
        ] {
            let l = parse(Path::new("/s.yml"), text, &vars).unwrap();
            assert!(convert(&l.file, "a", &l.dir, &vars).is_err(), "{text}");
        }
    }
}
