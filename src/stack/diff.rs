//! What runs versus what the file asks for: the stack's objects as the engine reports
//! them, compared on their specs (normalised: IDs, versions and empty values dropped),
//! and the plan of steps that brings the swarm to the file.

use std::collections::{BTreeMap, HashMap};

use bollard::Docker;
use bollard::models::{Config, Network, Secret, Service, ServiceSpec};
use bollard::query_parameters::{
    ListConfigsOptions, ListNetworksOptions, ListSecretsOptions, ListServicesOptions,
};
use serde_json::Value;

use super::apply::{Named, Spec, StackStep};
use super::convert::{LABEL_IMAGE, LABEL_NAMESPACE, StackSpec};
use crate::swarm::plan::{Action, Plan, Step};

/// The stack's objects on the swarm (by the namespace label).
#[derive(Debug, Clone, Default)]
pub struct Current {
    pub services: Vec<Service>,
    pub networks: Vec<Network>,
    pub secrets: Vec<Secret>,
    pub configs: Vec<Config>,
    /// Every network's name by ID (the engine reports a service's networks by ID).
    pub network_names: HashMap<String, String>,
    /// Why the services' health checks could not be read back, if they could not.
    pub health_unread: Option<String>,
}

fn label_filter(key: &str, value: Option<&str>) -> HashMap<String, Vec<String>> {
    let f = match value {
        Some(v) => format!("{key}={v}"),
        None => key.to_string(),
    };
    HashMap::from([("label".to_string(), vec![f])])
}

/// Reads stack `namespace`'s objects from a manager (`None`: every stack's).
pub async fn read(d: &Docker, namespace: Option<&str>) -> Result<Current, bollard::errors::Error> {
    let f = label_filter(LABEL_NAMESPACE, namespace);
    // Every network: services name theirs by ID, external ones too.
    let (services, all_networks, secrets, configs) = tokio::try_join!(
        d.list_services(Some(ListServicesOptions {
            filters: Some(f.clone()),
            ..Default::default()
        })),
        d.list_networks(None::<ListNetworksOptions>),
        d.list_secrets(Some(ListSecretsOptions {
            filters: Some(f.clone())
        })),
        d.list_configs(Some(ListConfigsOptions { filters: Some(f) })),
    )?;
    let network_names = all_networks
        .iter()
        .filter_map(|n| Some((n.id.clone()?, n.name.clone()?)))
        .collect();
    let networks = all_networks
        .into_iter()
        .filter(|n| {
            let ns = n.labels.as_ref().and_then(|l| l.get(LABEL_NAMESPACE));
            ns.is_some_and(|ns| namespace.is_none_or(|want| want == ns))
        })
        .collect();
    Ok(Current {
        services,
        networks,
        secrets,
        configs,
        network_names,
        health_unread: None,
    })
}

/// One stack as `stack ls` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StackSummary {
    pub name: String,
    pub services: usize,
}

/// Every stack with services, by name (as `docker stack ls` counts them).
pub fn summaries(current: &Current) -> Vec<StackSummary> {
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for s in &current.services {
        if let Some(ns) = s
            .spec
            .as_ref()
            .and_then(|sp| sp.labels.as_ref())
            .and_then(|l| l.get(LABEL_NAMESPACE))
        {
            *by.entry(ns.clone()).or_default() += 1;
        }
    }
    by.into_iter()
        .map(|(name, services)| StackSummary { name, services })
        .collect()
}

/// A spec as JSON with what is not the user's to set removed: object IDs, the force-update
/// counter, and empty values (null, false, 0, "", [], {}), which the engine leaves out.
/// `health`: compare health checks too (they were read back, see `change::read`).
pub fn normalise(spec: &ServiceSpec, health: bool) -> Value {
    let mut v = serde_json::to_value(spec).unwrap_or(Value::Null);
    if let Some(t) = v.get_mut("TaskTemplate").and_then(Value::as_object_mut) {
        t.remove("ForceUpdate");
    }
    for list in ["Secrets", "Configs"] {
        if let Some(items) = v
            .pointer_mut(&format!("/TaskTemplate/ContainerSpec/{list}"))
            .and_then(Value::as_array_mut)
        {
            for i in items {
                if let Some(o) = i.as_object_mut() {
                    o.remove("SecretID");
                    o.remove("ConfigID");
                }
            }
        }
    }
    // The Engine API client's model names the field `HealthCheck`, the engine
    // `Healthcheck`: it is sent (the engine reads JSON keys in any case) but a read through
    // the model never has it. Unless it was read back another way, it is not compared.
    if let Some(c) = v
        .pointer_mut("/TaskTemplate/ContainerSpec")
        .and_then(Value::as_object_mut)
        .filter(|_| !health)
    {
        c.remove("HealthCheck");
    }
    prune(&mut v);
    // What the engine fills in when a spec leaves it out.
    if let Some(ports) = v
        .pointer_mut("/EndpointSpec/Ports")
        .and_then(Value::as_array_mut)
    {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            p.entry("Protocol").or_insert_with(|| "tcp".into());
            p.entry("PublishMode").or_insert_with(|| "ingress".into());
        }
        ports.sort_by_key(|p| p.to_string());
    }
    for (parent, key, default) in [
        ("/EndpointSpec", "Mode", "vip"),
        ("/TaskTemplate", "Runtime", "container"),
        ("/TaskTemplate/ContainerSpec", "Isolation", "default"),
    ] {
        if let Some(o) = v.pointer_mut(parent).and_then(Value::as_object_mut)
            && o.get(key).and_then(Value::as_str) == Some(default)
        {
            o.remove(key);
        }
    }
    prune(&mut v);
    v
}

/// The service's spec as the engine reports it, its networks named instead of by ID.
fn reported(svc: &Service, network_names: &HashMap<String, String>) -> ServiceSpec {
    let mut spec = svc.spec.clone().unwrap_or_default();
    for n in spec
        .task_template
        .iter_mut()
        .flat_map(|t| t.networks.iter_mut().flatten())
    {
        if let Some(name) = n.target.as_ref().and_then(|id| network_names.get(id)) {
            n.target = Some(name.clone());
        }
    }
    spec
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

fn prune(v: &mut Value) {
    match v {
        Value::Object(o) => {
            for val in o.values_mut() {
                prune(val);
            }
            o.retain(|_, val| !is_empty(val));
        }
        Value::Array(a) => a.iter_mut().for_each(prune),
        _ => {}
    }
}

/// The paths (`TaskTemplate.ContainerSpec.Image`, `Labels.com.docker.stack.image`) where
/// two normalised specs differ.
pub fn changed_fields(want: &Value, have: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(want, have, String::new(), &mut out);
    out
}

fn walk(a: &Value, b: &Value, path: String, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(l), Some(r)) => walk(l, r, p, out),
                    _ => out.push(p),
                }
            }
        }
        _ if a == b => {}
        _ => out.push(if path.is_empty() {
            "(spec)".into()
        } else {
            path
        }),
    }
}

/// The desired spec as it would be sent to update `svc`: the image kept as the engine
/// has it when the file names the same image (it may be pinned to a digest), as docker
/// does with --resolve-image never.
fn as_update(want: &ServiceSpec, svc: &Service) -> ServiceSpec {
    let mut spec = want.clone();
    let have = svc.spec.clone().unwrap_or_default();
    let same_image = want.labels.as_ref().and_then(|l| l.get(LABEL_IMAGE))
        == have.labels.as_ref().and_then(|l| l.get(LABEL_IMAGE));
    if let (true, Some(t), Some(ht)) = (
        same_image,
        spec.task_template.as_mut(),
        have.task_template.as_ref(),
    ) && let (Some(c), Some(hc)) = (t.container_spec.as_mut(), ht.container_spec.as_ref())
    {
        c.image = hc.image.clone();
    }
    if let (Some(t), Some(ht)) = (spec.task_template.as_mut(), have.task_template.as_ref()) {
        t.force_update = ht.force_update;
    }
    spec
}

/// The steps that take `current` to `spec` on `host` (a manager): networks, secrets and
/// configs first, then services created or updated, then (with `prune`) services the
/// file no longer has. Existing networks, secrets and configs are left as they are.
pub fn plan(
    spec: &StackSpec,
    current: &Current,
    prune_services: bool,
    host: &str,
    compose_file: &str,
) -> Plan {
    let mut steps = Vec::new();
    let mut add =
        |s: StackStep, batch: usize| steps.push(Step::new(host, Action::Stack(Box::new(s)), batch));
    let net_names: Vec<&str> = current
        .networks
        .iter()
        .filter_map(|n| n.name.as_deref())
        .collect();
    for n in &spec.networks {
        if !net_names.contains(&n.name.as_str()) {
            add(StackStep::CreateNetwork(Spec(n.request.clone())), 0);
        }
    }
    let names = |v: Vec<Option<&String>>| v.into_iter().flatten().cloned().collect::<Vec<String>>();
    let secrets = names(
        current
            .secrets
            .iter()
            .map(|s| s.spec.as_ref().and_then(|s| s.name.as_ref()))
            .collect(),
    );
    for s in &spec.secrets {
        if !secrets.contains(&s.name) {
            add(StackStep::CreateSecret(s.clone()), 0);
        }
    }
    let configs = names(
        current
            .configs
            .iter()
            .map(|s| s.spec.as_ref().and_then(|s| s.name.as_ref()))
            .collect(),
    );
    for c in &spec.configs {
        if !configs.contains(&c.name) {
            add(StackStep::CreateConfig(c.clone()), 0);
        }
    }
    let by_name: HashMap<&str, &Service> = current
        .services
        .iter()
        .filter_map(|s| Some((s.spec.as_ref()?.name.as_deref()?, s)))
        .collect();
    for want in &spec.services {
        let name = want.name.clone().unwrap_or_default();
        match by_name.get(name.as_str()) {
            None => add(StackStep::CreateService(Spec(want.clone())), 1),
            Some(svc) => {
                let update = as_update(want, svc);
                let health = current.health_unread.is_none();
                let changed = changed_fields(
                    &normalise(&update, health),
                    &normalise(&reported(svc, &current.network_names), health),
                );
                if !changed.is_empty() {
                    add(
                        StackStep::UpdateService {
                            id: svc.id.clone().unwrap_or_default(),
                            version: svc.version.as_ref().and_then(|v| v.index).unwrap_or(0),
                            spec: Spec(update),
                            changed,
                            compose_file: compose_file.to_string(),
                        },
                        1,
                    );
                }
            }
        }
    }
    if prune_services {
        let wanted: Vec<&str> = spec
            .services
            .iter()
            .filter_map(|s| s.name.as_deref())
            .collect();
        for (name, svc) in &by_name {
            if !wanted.contains(name) {
                add(StackStep::RemoveService(named(name, &svc.id)), 2);
            }
        }
    }
    let mut plan = Plan {
        steps,
        notes: Vec::new(),
    };
    plan.steps
        .sort_by(|a, b| a.batch.cmp(&b.batch).then(a.cli.cmp(&b.cli)));
    plan
}

fn named(name: &str, id: &Option<String>) -> Named {
    Named {
        name: name.to_string(),
        id: id.clone().unwrap_or_default(),
    }
}

/// `stack rm`: services first, then networks, secrets and configs, as docker removes them.
pub fn remove_plan(current: &Current, host: &str) -> Plan {
    let mut steps = Vec::new();
    for s in &current.services {
        let name = s
            .spec
            .as_ref()
            .and_then(|s| s.name.clone())
            .unwrap_or_default();
        steps.push((StackStep::RemoveService(named(&name, &s.id)), 0));
    }
    for n in &current.networks {
        steps.push((
            StackStep::RemoveNetwork(named(n.name.as_deref().unwrap_or(""), &n.id)),
            1,
        ));
    }
    for s in &current.secrets {
        let name = s
            .spec
            .as_ref()
            .and_then(|s| s.name.clone())
            .unwrap_or_default();
        steps.push((StackStep::RemoveSecret(named(&name, &s.id)), 1));
    }
    for c in &current.configs {
        let name = c
            .spec
            .as_ref()
            .and_then(|s| s.name.clone())
            .unwrap_or_default();
        steps.push((StackStep::RemoveConfig(named(&name, &c.id)), 1));
    }
    let mut plan = Plan {
        steps: steps
            .into_iter()
            .map(|(s, b)| Step::new(host, Action::Stack(Box::new(s)), b))
            .collect(),
        notes: Vec::new(),
    };
    plan.steps
        .sort_by(|a, b| a.batch.cmp(&b.batch).then(a.cli.cmp(&b.cli)));
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn normalising_drops_ids_counters_and_empty_values() {
        let spec: ServiceSpec = serde_json::from_value(json!({
            "Name": "a_web",
            "Labels": {},
            "TaskTemplate": {
                "ForceUpdate": 3,
                "ContainerSpec": {"Image": "x", "Secrets": [{"SecretID": "id1", "SecretName": "a_s"}], "Env": []},
                "Placement": {}
            },
            "EndpointSpec": {"Ports": [], "Mode": "vip"}
        }))
        .unwrap();
        assert_eq!(
            normalise(&spec, false),
            json!({"Name": "a_web", "TaskTemplate": {"ContainerSpec": {"Image": "x", "Secrets": [{"SecretName": "a_s"}]}}})
        );
    }

    #[test]
    fn the_engines_defaults_are_no_change() {
        let sent: ServiceSpec = serde_json::from_value(json!({
            "TaskTemplate": {"ContainerSpec": {"Image": "x"}},
            "EndpointSpec": {"Ports": [{"TargetPort": 82, "PublishedPort": 2}, {"TargetPort": 81, "PublishedPort": 0, "Protocol": "udp"}]}
        }))
        .unwrap();
        let reported: ServiceSpec = serde_json::from_value(json!({
            "TaskTemplate": {"ContainerSpec": {"Image": "x", "Isolation": "default"}, "Runtime": "container"},
            "EndpointSpec": {"Mode": "vip", "Ports": [
                {"TargetPort": 81, "Protocol": "udp", "PublishMode": "ingress"},
                {"TargetPort": 82, "PublishedPort": 2, "Protocol": "tcp", "PublishMode": "ingress"}
            ]}
        }))
        .unwrap();
        assert_eq!(normalise(&sent, false), normalise(&reported, false));
    }

    #[test]
    fn changed_fields_name_the_paths() {
        let a = json!({"Labels": {"com.docker.stack.image": "p:2"}, "TaskTemplate": {"ContainerSpec": {"Image": "p:2", "Env": ["A=1"]}}});
        let b = json!({"Labels": {"com.docker.stack.image": "p:1"}, "TaskTemplate": {"ContainerSpec": {"Image": "p:1", "Env": ["A=1"]}, "Placement": {"Constraints": ["x"]}}});
        assert_eq!(
            changed_fields(&a, &b),
            vec![
                "Labels.com.docker.stack.image",
                "TaskTemplate.ContainerSpec.Image",
                "TaskTemplate.Placement"
            ]
        );
        assert!(changed_fields(&a, &a).is_empty());
    }

    #[test]
    fn stacks_are_counted_by_their_services() {
        let svc = |ns: &str| Service {
            spec: Some(ServiceSpec {
                labels: Some(HashMap::from([(
                    LABEL_NAMESPACE.to_string(),
                    ns.to_string(),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        };
        let c = Current {
            services: vec![svc("b"), svc("a"), svc("b")],
            ..Default::default()
        };
        assert_eq!(
            summaries(&c),
            vec![
                StackSummary {
                    name: "a".into(),
                    services: 1
                },
                StackSummary {
                    name: "b".into(),
                    services: 2
                }
            ]
        );
    }
}
