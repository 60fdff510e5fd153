//! The Compose file model `docker stack deploy` reads (version 3 files and the Compose
//! specification's swarm keys), parsed with interpolation done on the values: syntax and
//! type errors name the file and line; keys `docker stack deploy` ignores are warnings.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_norway::Value;

use super::StackError;
use super::interpolate::{InterpolateError, Vars, interpolate};

/// Service keys `docker stack deploy` accepts but ignores (docker/cli's unsupported and
/// deprecated properties, and `depends_on`, which swarm has no use for). `restart` is
/// also used when `deploy.restart_policy` is absent, as docker does.
pub const IGNORED_KEYS: &[&str] = &[
    "build",
    "cap_add",
    "cap_drop",
    "cgroup_parent",
    "container_name",
    "depends_on",
    "devices",
    "domainname",
    "expose",
    "external_links",
    "ipc",
    "links",
    "mac_address",
    "network_mode",
    "pid",
    "privileged",
    "restart",
    "security_opt",
    "shm_size",
    "sysctls",
    "ulimits",
    "userns_mode",
];

/// A string, number or boolean scalar, kept as the text Compose would use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Any {
            S(String),
            U(u64),
            I(i64),
            F(f64),
            B(bool),
        }
        Ok(Scalar(
            match Any::deserialize(d)
                .map_err(|_| serde::de::Error::custom("expected a string, number or boolean"))?
            {
                Any::S(s) => s,
                Any::U(n) => n.to_string(),
                Any::I(n) => n.to_string(),
                Any::F(n) => n.to_string(),
                Any::B(b) => b.to_string(),
            },
        ))
    }
}

impl Scalar {
    /// The value as an unsigned number (an interpolated value is text).
    pub fn number(&self, what: &str) -> Result<u64, String> {
        self.0
            .trim()
            .parse()
            .map_err(|_| format!("{what}: {:?} is not a whole number", self.0))
    }
}

/// A string, or a list of strings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum StrOrList {
    Str(String),
    List(Vec<Scalar>),
}

/// `KEY=VALUE` items, or a map (a null value: no value).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ListOrMap {
    List(Vec<Scalar>),
    Map(BTreeMap<String, Option<Scalar>>),
}

impl ListOrMap {
    /// Pairs in file order (map: key order); `None` where a name has no `=` or a null.
    pub fn pairs(&self) -> Vec<(String, Option<String>)> {
        match self {
            ListOrMap::List(items) => items
                .iter()
                .map(|s| match s.0.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (s.0.clone(), None),
                })
                .collect(),
            ListOrMap::Map(m) => m
                .iter()
                .map(|(k, v)| (k.clone(), v.as_ref().map(|s| s.0.clone())))
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComposeFile {
    pub version: Option<Scalar>,
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
    #[serde(default)]
    pub networks: BTreeMap<String, Option<Network>>,
    #[serde(default)]
    pub volumes: BTreeMap<String, Option<Volume>>,
    #[serde(default)]
    pub secrets: BTreeMap<String, FileObject>,
    #[serde(default)]
    pub configs: BTreeMap<String, FileObject>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub image: Option<String>,
    pub command: Option<StrOrList>,
    pub entrypoint: Option<StrOrList>,
    pub environment: Option<ListOrMap>,
    pub user: Option<Scalar>,
    pub working_dir: Option<String>,
    pub hostname: Option<String>,
    pub labels: Option<ListOrMap>,
    #[serde(default)]
    pub ports: Vec<Port>,
    pub healthcheck: Option<Healthcheck>,
    pub deploy: Option<Deploy>,
    pub networks: Option<ServiceNetworks>,
    #[serde(default)]
    pub volumes: Vec<ServiceVolume>,
    #[serde(default)]
    pub secrets: Vec<FileRef>,
    #[serde(default)]
    pub configs: Vec<FileRef>,
    pub stop_grace_period: Option<String>,
    pub restart: Option<String>,
    // Accepted and ignored, as by `docker stack deploy` (see IGNORED_KEYS).
    pub build: Option<IgnoredAny>,
    pub cap_add: Option<IgnoredAny>,
    pub cap_drop: Option<IgnoredAny>,
    pub cgroup_parent: Option<IgnoredAny>,
    pub container_name: Option<IgnoredAny>,
    pub depends_on: Option<IgnoredAny>,
    pub devices: Option<IgnoredAny>,
    pub domainname: Option<IgnoredAny>,
    pub expose: Option<IgnoredAny>,
    pub external_links: Option<IgnoredAny>,
    pub ipc: Option<IgnoredAny>,
    pub links: Option<IgnoredAny>,
    pub mac_address: Option<IgnoredAny>,
    pub network_mode: Option<IgnoredAny>,
    pub pid: Option<IgnoredAny>,
    pub privileged: Option<IgnoredAny>,
    pub security_opt: Option<IgnoredAny>,
    pub shm_size: Option<IgnoredAny>,
    pub sysctls: Option<IgnoredAny>,
    pub ulimits: Option<IgnoredAny>,
    pub userns_mode: Option<IgnoredAny>,
}

/// `"8080:80/udp"`, `80`, or the long syntax.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Port {
    Short(Scalar),
    Long(PortLong),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortLong {
    pub target: Scalar,
    pub published: Option<Scalar>,
    pub protocol: Option<String>,
    pub mode: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Healthcheck {
    pub test: Option<StrOrList>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub start_period: Option<String>,
    pub retries: Option<Scalar>,
    #[serde(default)]
    pub disable: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deploy {
    pub mode: Option<String>,
    pub replicas: Option<Scalar>,
    pub labels: Option<ListOrMap>,
    pub placement: Option<Placement>,
    pub resources: Option<Resources>,
    pub update_config: Option<UpdateConfig>,
    pub rollback_config: Option<UpdateConfig>,
    pub restart_policy: Option<RestartPolicy>,
    pub endpoint_mode: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    #[serde(default)]
    pub constraints: Vec<String>,
    #[serde(default)]
    pub preferences: Vec<Preference>,
    pub max_replicas_per_node: Option<Scalar>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preference {
    pub spread: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    pub limits: Option<ResourceSet>,
    pub reservations: Option<ResourceSet>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceSet {
    pub cpus: Option<Scalar>,
    pub memory: Option<Scalar>,
    pub pids: Option<Scalar>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateConfig {
    pub parallelism: Option<Scalar>,
    pub delay: Option<String>,
    pub failure_action: Option<String>,
    pub monitor: Option<String>,
    pub max_failure_ratio: Option<Scalar>,
    pub order: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartPolicy {
    pub condition: Option<String>,
    pub delay: Option<String>,
    pub max_attempts: Option<Scalar>,
    pub window: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ServiceNetworks {
    List(Vec<String>),
    Map(BTreeMap<String, Option<ServiceNetwork>>),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceNetwork {
    #[serde(default)]
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ServiceVolume {
    Short(String),
    Long(VolumeLong),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeLong {
    #[serde(rename = "type")]
    pub kind: String,
    pub source: Option<String>,
    pub target: String,
    #[serde(default)]
    pub read_only: bool,
    pub volume: Option<VolumeOpts>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeOpts {
    #[serde(default)]
    pub nocopy: bool,
}

/// A service's use of a secret or config: its name, or the long syntax.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum FileRef {
    Short(String),
    Long(FileRefLong),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRefLong {
    pub source: String,
    pub target: Option<String>,
    pub uid: Option<Scalar>,
    pub gid: Option<Scalar>,
    pub mode: Option<Scalar>,
}

/// `external: true`, or the old `external: {name: …}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum External {
    Flag(bool),
    Named { name: String },
}

impl External {
    pub fn is_external(e: &Option<External>) -> bool {
        matches!(e, Some(External::Flag(true)) | Some(External::Named { .. }))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    pub driver: Option<String>,
    pub driver_opts: Option<BTreeMap<String, Scalar>>,
    #[serde(default)]
    pub attachable: bool,
    #[serde(default)]
    pub internal: bool,
    pub labels: Option<ListOrMap>,
    pub external: Option<External>,
    pub name: Option<String>,
    pub ipam: Option<Ipam>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ipam {
    pub driver: Option<String>,
    #[serde(default)]
    pub config: Vec<IpamConfig>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpamConfig {
    pub subnet: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    pub driver: Option<String>,
    pub driver_opts: Option<BTreeMap<String, Scalar>>,
    pub labels: Option<ListOrMap>,
    pub external: Option<External>,
    pub name: Option<String>,
}

/// A top-level secret or config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileObject {
    pub file: Option<String>,
    pub external: Option<External>,
    pub name: Option<String>,
    pub labels: Option<ListOrMap>,
}

/// A parsed file with what to warn about.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub file: ComposeFile,
    /// The file's directory: relative `file:` and bind sources are resolved from it.
    pub dir: PathBuf,
    pub warnings: Vec<String>,
}

/// Parses `text` (the contents of `path`) with `vars`.
pub fn parse(path: &Path, text: &str, vars: &Vars) -> Result<Loaded, StackError> {
    let file = path.display().to_string();
    let invalid = |line: Option<usize>, message: String, fix: &str| StackError::Invalid {
        file: file.clone(),
        line,
        message,
        fix: fix.to_string(),
    };
    let mut value: Value = serde_norway::from_str(text).map_err(|e| {
        invalid(
            e.location().map(|l| l.line()),
            yaml_message(&e),
            "correct the YAML at that line (indentation, a missing ':' or quote)",
        )
    })?;
    if !value.is_mapping() {
        return Err(invalid(
            None,
            "the file is not a mapping of top-level keys".into(),
            "start with `services:`",
        ));
    }
    let mut unset = Vec::new();
    interpolate_values(&mut value, vars, &mut unset).map_err(|e| {
        let line = match &e {
            InterpolateError::Required { var, .. } => line_of(text, &format!("${{{var}")),
            InterpolateError::Invalid { at } => line_of(text, at),
        };
        invalid(
            line,
            e.to_string(),
            "set the variable in the environment or in the .env file beside the compose file \
             (or --env-file)",
        )
    })?;
    let compose: ComposeFile = serde_norway::from_value(value).map_err(|e| {
        // A value's error has no position: the text's own parse (uninterpolated) finds
        // the line of a structural mistake.
        let line = serde_norway::from_str::<ComposeFile>(text)
            .err()
            .and_then(|raw| raw.location().map(|l| l.line()));
        invalid(
            line,
            yaml_message(&e),
            "check the key's spelling and value type against the Compose file reference; keys \
             outside `docker stack deploy`'s set are not accepted",
        )
    })?;
    let mut warnings: Vec<String> = unset
        .iter()
        .map(|v| format!("variable {v} is not set: it is replaced by an empty string"))
        .collect();
    warnings.extend(ignored_keys(&compose));
    Ok(Loaded {
        file: compose,
        dir: path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
        warnings,
    })
}

/// serde_norway's message without its own " at line N column M" (we say file:line).
fn yaml_message(e: &serde_norway::Error) -> String {
    let m = e.to_string();
    match m.find(" at line ") {
        Some(i) => m[..i].to_string(),
        None => m,
    }
}

/// The 1-based line where `needle` first appears.
fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}

/// Interpolates every string value (keys stay as written, as in Compose).
fn interpolate_values(
    v: &mut Value,
    vars: &Vars,
    unset: &mut Vec<String>,
) -> Result<(), InterpolateError> {
    match v {
        Value::String(s) => *s = interpolate(s, vars, unset)?,
        Value::Sequence(items) => {
            for i in items {
                interpolate_values(i, vars, unset)?;
            }
        }
        Value::Mapping(m) => {
            for (_, val) in m.iter_mut() {
                interpolate_values(val, vars, unset)?;
            }
        }
        Value::Tagged(t) => interpolate_values(&mut t.value, vars, unset)?,
        _ => {}
    }
    Ok(())
}

/// One warning per service and ignored key it sets.
fn ignored_keys(file: &ComposeFile) -> Vec<String> {
    let mut out = Vec::new();
    for (name, s) in &file.services {
        let set = [
            s.build.is_some(),
            s.cap_add.is_some(),
            s.cap_drop.is_some(),
            s.cgroup_parent.is_some(),
            s.container_name.is_some(),
            s.depends_on.is_some(),
            s.devices.is_some(),
            s.domainname.is_some(),
            s.expose.is_some(),
            s.external_links.is_some(),
            s.ipc.is_some(),
            s.links.is_some(),
            s.mac_address.is_some(),
            s.network_mode.is_some(),
            s.pid.is_some(),
            s.privileged.is_some(),
            s.restart.is_some(),
            s.security_opt.is_some(),
            s.shm_size.is_some(),
            s.sysctls.is_some(),
            s.ulimits.is_some(),
            s.userns_mode.is_some(),
        ];
        for (key, on) in IGNORED_KEYS.iter().zip(set) {
            if on {
                let extra = if *key == "restart" {
                    " (used as the restart policy when deploy.restart_policy is absent)"
                } else {
                    ""
                };
                out.push(format!(
                    "service {name}: `{key}` is ignored by swarm stacks{extra}"
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, vars: &[(&str, &str)]) -> Result<Loaded, StackError> {
        let vars = Vars::new(vars.iter().map(|(a, b)| (a.to_string(), b.to_string())), []);
        parse(Path::new("/d/stack.yml"), text, &vars)
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let e = load("services:\n  web:\n    image: x\n   bad: [\n", &[]).unwrap_err();
        let StackError::Invalid { file, line, .. } = &e else {
            panic!("{e}")
        };
        assert_eq!(file, "/d/stack.yml");
        assert!(line.is_some_and(|l| l >= 3), "{e}");
        assert!(e.to_string().starts_with("/d/stack.yml:"), "{e}");
    }

    #[test]
    fn type_errors_and_unknown_keys_name_the_line() {
        let e = load("services:\n  web:\n    image: x\n    replicas: 3\n", &[]).unwrap_err();
        let StackError::Invalid { line, message, .. } = &e else {
            panic!("{e}")
        };
        assert_eq!(*line, Some(4), "{e}");
        assert!(message.contains("replicas"), "{message}");
    }

    #[test]
    fn required_variable_message_is_shown_with_its_line() {
        let e = load("services:\n  web:\n    image: \"${X:?need X}\"\n", &[]).unwrap_err();
        let s = e.to_string();
        assert!(s.contains("need X") && s.contains("stack.yml:3"), "{s}");
    }

    #[test]
    fn values_are_interpolated_and_ignored_keys_warned() {
        let l = load(
            "services:\n  web:\n    image: \"probe:${TAG:-1}\"\n    build: .\n    depends_on: [db]\n    ports: [\"${P}:80\"]\n",
            &[("P", "8080")],
        )
        .unwrap();
        let web = &l.file.services["web"];
        assert_eq!(web.image.as_deref(), Some("probe:1"));
        assert_eq!(web.ports, vec![Port::Short(Scalar("8080:80".into()))]);
        assert_eq!(l.warnings.len(), 2, "{:?}", l.warnings);
        assert!(l.warnings[0].contains("`build`"), "{:?}", l.warnings);
        assert!(l.warnings[1].contains("`depends_on`"), "{:?}", l.warnings);
    }
}
