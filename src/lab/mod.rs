//! The practice lab: real Docker hosts on this machine, each a network namespace (plus its
//! own mount and UTS namespaces) running a real dockerd and a real OpenSSH sshd, reachable
//! from the workstation (root namespace) like real machines.
//!
//! Blocking std code with threads; async callers use `spawn_blocking`. Needs Linux and root.

pub mod fault;
mod host;
mod keys;
pub(crate) mod net;
mod probe_image;
mod state;
mod sys;
mod teardown;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::inventory::{AuthMethod, HostSpec, Inventory, InventoryError};
pub use host::HostPids;
use net::Names;
pub use net::{Prefix, SUPERNET, unheld_lab_address};
pub use probe_image::IMAGE as PROBE_IMAGE;
pub use state::{DEFAULT_ROOT, ROOT_ENV};

/// Name used when none is given.
pub const DEFAULT_NAME: &str = "practice";
pub const DEFAULT_HOSTS: usize = 3;
pub const MAX_HOSTS: usize = 32;
/// Packages the lab needs, as the fix for any missing tool.
pub const INSTALL_HINT: &str =
    "apt-get install -y docker.io openssh-server busybox-static iptables";
/// Programs are looked up here (not in the caller's PATH), the same PATH hosts boot with.
const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("the practice lab needs Linux (network namespaces); this is {os}")]
    NotLinux { os: &'static str },
    #[error(
        "the practice lab needs root (it creates network namespaces and starts dockerd); fix: run it with sudo"
    )]
    NotRoot,
    #[error("`{tool}` is missing or unusable ({detail}); fix: {INSTALL_HINT}")]
    MissingTool { tool: String, detail: String },
    #[error(
        "invalid lab name {name:?}: {reason}; fix: use 1 to 8 lowercase letters or digits, e.g. --name {DEFAULT_NAME}"
    )]
    InvalidName { name: String, reason: &'static str },
    #[error("a lab has 1 to {MAX_HOSTS} hosts, not {hosts}")]
    InvalidHostCount { hosts: usize },
    #[error(
        "lab name {name:?} is already in use ({what}); fix: `swarmdeck lab down --name {name}` or choose another --name"
    )]
    NameInUse { name: String, what: String },
    #[error(
        "no lab named {name:?}; fix: `swarmdeck lab up --name {name}` (`swarmdeck lab status` lists labs)"
    )]
    NotFound { name: String },
    #[error("lab {lab:?} has no host {host:?} (its hosts: {known})")]
    UnknownHost {
        lab: String,
        host: String,
        known: String,
    },
    #[error(
        "host {host} of lab {lab}: its network namespace {netns} is gone; fix: `swarmdeck lab down --name {lab}` and `swarmdeck lab up --name {lab}`"
    )]
    NamespaceMissing {
        lab: String,
        host: String,
        netns: String,
    },
    #[error(
        "no free subnet for a new lab: {detail}; fix: tear down a lab you no longer need (`swarmdeck lab status`) or remove the conflicting route"
    )]
    NoFreeSubnet { detail: String },
    #[error(
        "lab state root {path:?} must be an absolute path of letters, digits and / . _ -; fix: set {ROOT_ENV} to such a path"
    )]
    InvalidRoot { path: PathBuf },
    #[error("could not {what}: `{cmd}` failed: {detail}")]
    Command {
        what: String,
        cmd: String,
        detail: String,
    },
    #[error("could not {what}: {err}")]
    Io { what: String, err: std::io::Error },
    #[error("lab state {path}: {message}; fix: `swarmdeck lab down --name <lab>` works without it")]
    State { path: PathBuf, message: String },
    #[error(
        "host {host} of lab {lab} did not come up: {reason}; fix: see the log, then `swarmdeck lab up` again. Last lines of {log}:\n{tail}"
    )]
    HostNotReady {
        lab: String,
        host: String,
        reason: String,
        log: PathBuf,
        tail: String,
    },
    #[error(
        "tearing down lab {lab} left {what} behind; fix: run `swarmdeck lab down --name {lab}` again"
    )]
    Leftover { lab: String, what: String },
    #[error(transparent)]
    Inventory(#[from] InventoryError),
}

impl LabError {
    fn io(what: impl Into<String>, err: std::io::Error) -> LabError {
        LabError::Io {
            what: what.into(),
            err,
        }
    }
}

/// What to build. Non-exhaustive so options (password auth, non-root users, …) can be
/// added without breaking callers; start from [`LabSpec::new`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LabSpec {
    /// `[a-z0-9]{1,8}`: it becomes part of namespace and interface names.
    pub name: String,
    pub hosts: usize,
    /// How long to wait for every host's dockerd and sshd to answer.
    pub ready_timeout: Duration,
}

impl LabSpec {
    pub fn new(name: impl Into<String>, hosts: usize) -> LabSpec {
        LabSpec {
            name: name.into(),
            hosts,
            ready_timeout: Duration::from_secs(60),
        }
    }

    pub fn with_ready_timeout(mut self, timeout: Duration) -> LabSpec {
        self.ready_timeout = timeout;
        self
    }

    /// sshd `-o` options besides listen address, host key and pid file. Password login and
    /// extra users will add theirs here.
    fn sshd_options(&self, lab_dir: &Path) -> Vec<(String, String)> {
        vec![
            (
                "AuthorizedKeysFile".into(),
                lab_dir
                    .join("authorized_keys")
                    .to_string_lossy()
                    .into_owned(),
            ),
            ("PermitRootLogin".into(), "prohibit-password".into()),
        ]
    }
}

impl Default for LabSpec {
    fn default() -> LabSpec {
        LabSpec::new(DEFAULT_NAME, DEFAULT_HOSTS)
    }
}

/// One host of a lab, as recorded in `lab.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabHost {
    /// Hostname and node name: `node1`…`nodeN`.
    pub name: String,
    pub ip: Ipv4Addr,
    pub netns: String,
    /// Per-host directory (logs, host key, docker data root).
    pub dir: PathBuf,
    pub pids: HostPids,
}

/// A lab as recorded in `<root>/<name>/lab.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lab {
    pub name: String,
    pub dir: PathBuf,
    /// Third octet of the lab's 10.213.X.0/24.
    pub octet: u8,
    pub subnet: String,
    pub workstation_ip: Ipv4Addr,
    pub root_veth: String,
    pub switch_netns: String,
    pub hosts: Vec<LabHost>,
    /// Client private key (`id_ed25519`) accepted by every host for root.
    pub key: PathBuf,
    pub known_hosts: PathBuf,
    pub inventory: PathBuf,
    /// False while `up` is still running (or if it died half-way).
    pub ready: bool,
}

impl Lab {
    fn plan(spec: &LabSpec, dir: PathBuf, octet: u8) -> Lab {
        let names = Names {
            lab: spec.name.clone(),
        };
        let hosts = (1..=spec.hosts)
            .map(|i| LabHost {
                name: format!("node{i}"),
                ip: Ipv4Addr::new(10, 213, octet, i as u8),
                netns: names.host_netns(i),
                dir: dir.join(format!("n{i}")),
                pids: HostPids::default(),
            })
            .collect();
        Lab {
            name: spec.name.clone(),
            octet,
            subnet: Prefix::lab(octet).to_string(),
            workstation_ip: Ipv4Addr::new(10, 213, octet, net::WORKSTATION_OCTET),
            root_veth: names.root_veth(),
            switch_netns: names.switch_netns(),
            hosts,
            key: dir.join("id_ed25519"),
            known_hosts: dir.join("known_hosts"),
            inventory: dir.join("inventory.toml"),
            dir,
            ready: false,
        }
    }

    /// A host by name (`node1`) or address.
    pub fn host(&self, name_or_ip: &str) -> Result<&LabHost, LabError> {
        self.hosts
            .iter()
            .find(|h| h.name == name_or_ip || h.ip.to_string() == name_or_ip)
            .ok_or_else(|| LabError::UnknownHost {
                lab: self.name.clone(),
                host: name_or_ip.to_string(),
                known: self
                    .hosts
                    .iter()
                    .map(|h| h.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Fails unless the host's namespace exists: never connect to a lab address whose
    /// namespace is gone (the address would not be a lab host any more).
    pub fn check_host(&self, host: &LabHost) -> Result<(), LabError> {
        if sys::netns_exists(&host.netns) {
            Ok(())
        } else {
            Err(LabError::NamespaceMissing {
                lab: self.name.clone(),
                host: host.name.clone(),
                netns: host.netns.clone(),
            })
        }
    }

    /// The system OpenSSH client, set up to reach `host` with the lab key and strict
    /// host-key checking against the lab's known_hosts. `cmd` words are shell-quoted, so
    /// they arrive on the host as the same words.
    pub fn ssh_command(
        &self,
        host: &str,
        cmd: &[String],
    ) -> Result<std::process::Command, LabError> {
        let h = self.host(host)?;
        self.check_host(h)?;
        let mut c = std::process::Command::new(which("ssh").unwrap_or_else(|| "ssh".into()));
        c.arg("-i")
            .arg(&self.key)
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
            .args([
                "-o",
                "GlobalKnownHostsFile=/dev/null",
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "ConnectTimeout=5",
                // Keys only: never stop at a password or passphrase prompt.
                "-o",
                "BatchMode=yes",
                "--",
            ])
            .arg(format!("root@{}", h.ip));
        if !cmd.is_empty() {
            c.arg(remote_command(cmd));
        }
        Ok(c)
    }
}

/// ssh joins its arguments with spaces for the remote shell. A single word is taken as a
/// shell command line, as `ssh host 'docker ps | head'` would; several words are quoted
/// one by one so each arrives intact (`--format '{{.Name}}'` stays one argument).
fn remote_command(words: &[String]) -> String {
    if let [line] = words {
        return line.clone();
    }
    words
        .iter()
        .map(|w| shell_escape::unix::escape(w.into()).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A lab name unique among running processes: `prefix` + pid + a per-process counter, in
/// base 36, at most 8 characters (tests and benchmarks run many labs at once).
pub fn unique_name(prefix: char) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    fn base36(mut n: usize) -> String {
        const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        let mut out = Vec::new();
        loop {
            out.push(DIGITS[n % 36]);
            n /= 36;
            if n == 0 {
                break;
            }
        }
        out.reverse();
        String::from_utf8(out).expect("ascii digits")
    }
    let pid = base36(std::process::id() as usize);
    let n = base36(COUNTER.fetch_add(1, Ordering::Relaxed) % (36 * 36));
    format!("{prefix}{pid}{n}")
}

/// Starts a `hosts`-host lab under a fresh [`unique_name`]. A lab already holding that name
/// was left by a dead process that had our pid, so it is removed and the start tried again.
pub fn up_unique(prefix: char, hosts: usize) -> Result<Lab, LabError> {
    let spec = LabSpec::new(unique_name(prefix), hosts);
    match up(&spec) {
        Err(LabError::NameInUse { .. }) => {
            let _ = down(&spec.name);
            up(&spec)
        }
        other => other,
    }
}

/// Checks a lab name: it goes into namespace and interface names.
pub fn validate_name(name: &str) -> Result<(), LabError> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.len() > 8 {
        "it is longer than 8 characters"
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        "only a-z and 0-9 are allowed"
    } else {
        return Ok(());
    };
    Err(LabError::InvalidName {
        name: name.to_string(),
        reason,
    })
}

fn which(program: &str) -> Option<PathBuf> {
    SYSTEM_PATH
        .split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}

/// Whether an ELF file asks for a dynamic loader (PT_INTERP); a dynamic busybox would fail
/// inside the scratch probe image with a confusing "no such file".
fn elf_is_dynamic(bytes: &[u8]) -> Option<bool> {
    let u16_at = |o: usize| Some(u16::from_le_bytes(bytes.get(o..o + 2)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(bytes.get(o..o + 8)?.try_into().ok()?));
    if bytes.get(..5)? != b"\x7fELF\x02" {
        return None;
    }
    let phoff = usize::try_from(u64_at(0x20)?).ok()?;
    let phentsize = usize::from(u16_at(0x36)?);
    let phnum = usize::from(u16_at(0x38)?);
    Some((0..phnum).any(|i| {
        let o = phoff + i * phentsize;
        bytes.get(o..o + 4) == Some(&3u32.to_le_bytes()[..])
    }))
}

/// Checks everything `up` needs (Linux, root, programs) and returns the engine's major
/// version. Tests call it to decide whether lab tests can run here.
pub fn preflight() -> Result<u32, LabError> {
    if !cfg!(target_os = "linux") {
        return Err(LabError::NotLinux {
            os: std::env::consts::OS,
        });
    }
    if !nix::unistd::geteuid().is_root() {
        return Err(LabError::NotRoot);
    }
    if !Path::new("/proc/self/ns/net").exists() {
        return Err(LabError::MissingTool {
            tool: "network namespaces".into(),
            detail: "/proc/self/ns/net is missing: the kernel lacks CONFIG_NET_NS".into(),
        });
    }
    let tools = [
        ("ip", "iproute2"),
        ("dockerd", "docker.io"),
        ("docker", "docker.io"),
        ("containerd", "docker.io"),
        ("iptables", "iptables"),
        ("sshd", "openssh-server"),
        ("ssh", "openssh-client"),
        ("ssh-keygen", "openssh-client"),
        ("unshare", "util-linux"),
        ("setsid", "util-linux"),
        ("tar", "tar"),
    ];
    for (tool, package) in tools {
        if which(tool).is_none() {
            return Err(LabError::MissingTool {
                tool: tool.into(),
                detail: format!("not found in {SYSTEM_PATH}; package {package}"),
            });
        }
    }
    let busybox = std::fs::read("/bin/busybox").map_err(|e| LabError::MissingTool {
        tool: "/bin/busybox".into(),
        detail: format!("{e}; package busybox-static"),
    })?;
    if elf_is_dynamic(&busybox) != Some(false) {
        return Err(LabError::MissingTool {
            tool: "/bin/busybox".into(),
            detail: "it is not a static binary; package busybox-static replaces it".into(),
        });
    }
    dockerd_major()
}

/// "Docker version 20.10.24+dfsg1, build …" → 20.
fn dockerd_major() -> Result<u32, LabError> {
    let out = sys::run("ask dockerd its version", "dockerd", &["--version"])?;
    out.split_whitespace()
        .nth(2)
        .and_then(|v| v.split('.').next()?.parse().ok())
        .ok_or_else(|| LabError::MissingTool {
            tool: "dockerd".into(),
            detail: format!("unrecognised version {:?}", out.trim()),
        })
}

/// Brings a lab up and returns it once every host's dockerd and sshd answer. On failure
/// everything created so far is torn down again.
pub fn up(spec: &LabSpec) -> Result<Lab, LabError> {
    validate_name(&spec.name)?;
    if !(1..=MAX_HOSTS).contains(&spec.hosts) {
        return Err(LabError::InvalidHostCount { hosts: spec.hosts });
    }
    let dockerd_major = preflight()?;
    let root = state::root()?;
    let lock = state::RootLock::take(&root)?;
    let mut lab = reserve(spec, &root)?;
    // From here on the lab's directory exists: any failure is cleaned up by `down`.
    let built = build_network(&lab);
    drop(lock);
    let result = built.and_then(|()| boot(spec, &mut lab, dockerd_major));
    match result {
        Ok(()) => Ok(lab),
        Err(e) => {
            if let Err(cleanup) = down(&spec.name) {
                tracing::warn!("cleaning up after a failed `lab up`: {cleanup}");
            }
            Err(e)
        }
    }
}

/// Under the root lock: checks the name is free, picks a subnet, and records both by
/// creating the lab directory and its lab.json.
fn reserve(spec: &LabSpec, root: &Path) -> Result<Lab, LabError> {
    let names = Names {
        lab: spec.name.clone(),
    };
    let dir = state::lab_dir(root, &spec.name);
    let in_use = |what: String| LabError::NameInUse {
        name: spec.name.clone(),
        what,
    };
    if dir.exists() {
        return Err(in_use(format!("{} exists", dir.display())));
    }
    if let Some(ns) = sys::netns_list().into_iter().find(|n| names.owns_netns(n)) {
        return Err(in_use(format!("network namespace {ns} exists")));
    }
    if Path::new("/sys/class/net").join(names.root_veth()).exists() {
        return Err(in_use(format!("interface {} exists", names.root_veth())));
    }
    let octet = net::choose_subnet(&net::root_routes()?, &state::reserved_octets(root))
        .map_err(|detail| LabError::NoFreeSubnet { detail })?;
    let lab = Lab::plan(spec, dir, octet);
    state::create_private_dir(&lab.dir)?;
    if let Err(e) = state::save(&lab) {
        let _ = std::fs::remove_dir_all(&lab.dir);
        return Err(e);
    }
    Ok(lab)
}

fn build_network(lab: &Lab) -> Result<(), LabError> {
    let names = Names {
        lab: lab.name.clone(),
    };
    {
        // The route goes in with the lab's first namespace, never after the last lab's
        // `down` found none and removed it.
        let _machine = net::MachineLock::take()?;
        net::ensure_blackhole()?;
        net::create_switch(&names, lab.octet)?;
    }
    for i in 1..=lab.hosts.len() {
        net::create_host(&names, i, lab.octet)?;
    }
    Ok(())
}

/// Keys, probe image, boot scripts; then starts every host and waits for all in parallel.
fn boot(spec: &LabSpec, lab: &mut Lab, dockerd_major: u32) -> Result<(), LabError> {
    let cgroups = host::detect_cgroups()?;
    let plans: Vec<host::HostPlan> = lab
        .hosts
        .iter()
        .map(|h| host::HostPlan {
            lab: lab.name.clone(),
            name: h.name.clone(),
            ip: h.ip,
            netns: h.netns.clone(),
            dir: h.dir.clone(),
            lab_dir: lab.dir.clone(),
            sshd_options: spec.sshd_options(&lab.dir),
            cgroups: cgroups.clone(),
        })
        .collect();
    for p in &plans {
        host::write_files(p, dockerd_major)?;
    }
    // Key generation and the image tar are independent: do them side by side.
    std::thread::scope(|s| {
        let client = s.spawn(|| keys::generate(&lab.key, &format!("swarmdeck-lab-{}", lab.name)));
        let probe = s.spawn(|| probe_image::build(&lab.dir));
        let host_keys: Vec<_> = plans
            .iter()
            .map(|p| {
                s.spawn(move || keys::generate(&p.host_key(), &format!("{}@lab-{}", p.name, p.lab)))
            })
            .collect();
        std::iter::once(client)
            .chain(std::iter::once(probe))
            .chain(host_keys)
            .try_for_each(|t| t.join().expect("key/image thread panicked"))
    })?;
    write_ssh_files(lab, &plans)?;
    for p in &plans {
        host::spawn(p)?;
    }
    let deadline = Instant::now() + spec.ready_timeout;
    let results: Vec<Result<HostPids, LabError>> = std::thread::scope(|s| {
        let waits: Vec<_> = plans
            .iter()
            .map(|p| s.spawn(move || host::wait_ready(p, deadline)))
            .collect();
        waits
            .into_iter()
            .map(|t| t.join().expect("readiness thread panicked"))
            .collect()
    });
    for (h, r) in lab.hosts.iter_mut().zip(results) {
        h.pids = r?;
    }
    write_inventory(lab)?;
    lab.ready = true;
    state::save(lab)
}

fn write_ssh_files(lab: &Lab, plans: &[host::HostPlan]) -> Result<(), LabError> {
    let client = keys::public_key(&lab.key)?;
    let auth = lab.dir.join("authorized_keys");
    crate::fsutil::write_atomic(&auth, format!("{client}\n").as_bytes(), 0o600)
        .map_err(|e| LabError::io(format!("write {}", auth.display()), e))?;
    let entries = plans
        .iter()
        .map(|p| Ok((p.ip, keys::public_key(&p.host_key())?)))
        .collect::<Result<Vec<_>, LabError>>()?;
    crate::fsutil::write_atomic(
        &lab.known_hosts,
        keys::known_hosts(&entries).as_bytes(),
        0o644,
    )
    .map_err(|e| LabError::io(format!("write {}", lab.known_hosts.display()), e))
}

fn write_inventory(lab: &Lab) -> Result<(), LabError> {
    let inv = Inventory {
        known_hosts: vec![lab.known_hosts.clone()],
        timeouts: Default::default(),
        hosts: lab
            .hosts
            .iter()
            .map(|h| HostSpec {
                name: h.name.clone(),
                address: h.ip.to_string(),
                port: 22,
                user: "root".into(),
                auth: AuthMethod::Key {
                    path: lab.key.clone(),
                },
                sudo: false,
                labels: [("lab".to_string(), lab.name.clone())].into(),
                jump: None,
            })
            .collect(),
    };
    inv.save(&lab.inventory)?;
    Ok(())
}

/// Tears a lab down completely: every process in its namespaces and cgroups, the cgroups,
/// namespaces, workstation veth, any mount under its directory, and the directory; with the
/// last lab on the machine, the supernet blackhole route.
/// Idempotent, and works on a half-built lab or one whose lab.json is gone.
pub fn down(name: &str) -> Result<(), LabError> {
    validate_name(name)?;
    if !nix::unistd::geteuid().is_root() {
        return Err(LabError::NotRoot);
    }
    let root = state::root()?;
    let dir = state::lab_dir(&root, name);
    let names = Names {
        lab: name.to_string(),
    };
    let recorded: Vec<u32> = match state::load(&root, name) {
        Ok(lab) => lab
            .hosts
            .iter()
            .flat_map(|h| [h.pids.boot, h.pids.dockerd, h.pids.sshd])
            .flatten()
            .collect(),
        Err(_) => Vec::new(),
    };
    let has_netns = sys::netns_list().iter().any(|n| names.owns_netns(n));
    let has_veth = Path::new("/sys/class/net").join(names.root_veth()).exists();
    if !dir.exists() && !has_netns && !has_veth {
        return Err(LabError::NotFound {
            name: name.to_string(),
        });
    }
    teardown::kill_processes(&names, &dir, &recorded)?;
    {
        let _machine = net::MachineLock::take()?;
        net::delete_all(&names)?;
        net::drop_blackhole_if_last(&net::all_lab_namespaces())?;
    }
    teardown::remove_cgroups(&names)?;
    teardown::unmount_under(name, &dir)?;
    if dir.exists() {
        // Under the lock, so a concurrent `up` never sees a half-removed lab.json.
        let _lock = state::RootLock::take(&root)?;
        std::fs::remove_dir_all(&dir)
            .map_err(|e| LabError::io(format!("remove {}", dir.display()), e))?;
    }
    Ok(())
}

/// The supernet blackhole and the namespaces of every lab on this machine, read together
/// under the lock that `up` and `down` take to change them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupernetState {
    pub blackhole: bool,
    pub lab_namespaces: Vec<String>,
}

pub fn supernet_state() -> Result<SupernetState, LabError> {
    let _machine = net::MachineLock::take()?;
    Ok(SupernetState {
        blackhole: net::blackhole_present()?,
        lab_namespaces: net::all_lab_namespaces(),
    })
}

/// Reads a lab's recorded state.
pub fn load(name: &str) -> Result<Lab, LabError> {
    validate_name(name)?;
    state::load(&state::root()?, name)
}

/// What `status` shows for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostStatus {
    pub name: String,
    pub ip: Ipv4Addr,
    pub netns_exists: bool,
    pub dockerd_alive: bool,
    pub sshd_alive: bool,
    /// "inactive", "manager", "worker", … when dockerd answered.
    pub swarm: Option<String>,
}

/// One lab as `status` shows it; `lab` is None if its lab.json could not be read.
#[derive(Debug, Clone)]
pub struct LabStatus {
    pub name: String,
    pub lab: Option<Lab>,
    pub hosts: Vec<HostStatus>,
    pub problem: Option<String>,
}

/// Every lab under the state root, with liveness of each host's dockerd and sshd.
pub fn list() -> Vec<LabStatus> {
    let Ok(root) = state::root() else {
        return Vec::new();
    };
    state::lab_names(&root)
        .into_iter()
        .map(|name| match state::load(&root, &name) {
            Ok(lab) => LabStatus {
                name,
                hosts: lab.hosts.iter().map(host_status).collect(),
                problem: (!lab.ready).then(|| "not ready (starting, or `up` failed)".into()),
                lab: Some(lab),
            },
            Err(e) => LabStatus {
                name,
                lab: None,
                hosts: Vec::new(),
                problem: Some(e.to_string()),
            },
        })
        .collect()
}

fn host_status(h: &LabHost) -> HostStatus {
    let dockerd = h
        .pids
        .dockerd
        .filter(|&p| sys::alive_in(p, "dockerd", &h.netns));
    HostStatus {
        name: h.name.clone(),
        ip: h.ip,
        netns_exists: sys::netns_exists(&h.netns),
        dockerd_alive: dockerd.is_some(),
        sshd_alive: h
            .pids
            .sshd
            .is_some_and(|p| sys::alive_in(p, "sshd", &h.netns)),
        swarm: dockerd.and_then(swarm_state),
    }
}

/// Swarm role from the engine's /info (one local HTTP request through the host's mount
/// namespace).
fn swarm_state(dockerd_pid: u32) -> Option<String> {
    let (code, body) = host::docker_get(
        &host::docker_socket(dockerd_pid),
        "/info",
        Duration::from_secs(2),
    )?;
    if code != 200 {
        return None;
    }
    let info: serde_json::Value = serde_json::from_str(&body).ok()?;
    let swarm = info.get("Swarm")?;
    let state = swarm.get("LocalNodeState")?.as_str()?.to_string();
    Some(match (state.as_str(), swarm.get("ControlAvailable")) {
        ("active", Some(serde_json::Value::Bool(true))) => "manager".into(),
        ("active", _) => "worker".into(),
        _ => state,
    })
}

/// Lab names that still have namespaces or a workstation veth but no state directory (for
/// example from another state root); `down --name` removes them.
pub fn orphans() -> Vec<String> {
    let known = state::root()
        .map(|r| state::lab_names(&r))
        .unwrap_or_default();
    let mut out: Vec<String> = sys::netns_list()
        .iter()
        .filter_map(|n| {
            let rest = n.strip_prefix("sdk-")?;
            let (lab, _) = rest.split_once('-')?;
            let names = Names { lab: lab.into() };
            (validate_name(lab).is_ok() && names.owns_netns(n)).then(|| lab.to_string())
        })
        .filter(|l| !known.contains(l))
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("practice").is_ok());
        assert!(validate_name("a1").is_ok());
        for bad in ["", "Practice", "toolongnm", "a-b", "a b", "a;rm", "ü"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        let msg = validate_name("a-b").unwrap_err().to_string();
        assert!(msg.contains("a-z and 0-9"), "{msg}");
    }

    #[test]
    fn plan_addresses_and_names() {
        let lab = Lab::plan(&LabSpec::new("x", 3), PathBuf::from("/l/x"), 9);
        assert_eq!(lab.subnet, "10.213.9.0/24");
        assert_eq!(lab.workstation_ip, Ipv4Addr::new(10, 213, 9, 254));
        assert_eq!(lab.hosts[2].name, "node3");
        assert_eq!(lab.hosts[2].ip, Ipv4Addr::new(10, 213, 9, 3));
        assert_eq!(lab.hosts[2].netns, "sdk-x-n3");
        assert_eq!(lab.root_veth, "sdk-x");
        assert!(lab.host("10.213.9.2").is_ok());
        assert!(
            lab.host("node4")
                .unwrap_err()
                .to_string()
                .contains("node1, node2, node3")
        );
    }

    #[test]
    fn ssh_refuses_missing_namespace_and_quotes_words() {
        let lab = Lab::plan(&LabSpec::new("zzunit", 1), PathBuf::from("/l/x"), 9);
        // The namespace does not exist: refused before any connection.
        assert!(matches!(
            lab.ssh_command("node1", &[]),
            Err(LabError::NamespaceMissing { .. })
        ));
        let words: Vec<String> = ["docker", "info", "--format", "{{.Name}}", "a b", "it's"]
            .map(String::from)
            .into();
        assert_eq!(
            remote_command(&words),
            "docker info --format '{{.Name}}' 'a b' 'it'\\''s'"
        );
        let line = vec!["docker ps | head -1".to_string()];
        assert_eq!(remote_command(&line), "docker ps | head -1");
    }

    #[test]
    fn static_busybox_detection() {
        if let Ok(b) = std::fs::read("/bin/busybox") {
            assert!(elf_is_dynamic(&b).is_some());
        }
        let sh = std::fs::read("/bin/sh").unwrap();
        // /bin/sh is dynamically linked on every distribution we target.
        assert_eq!(elf_is_dynamic(&sh), Some(true));
        assert_eq!(elf_is_dynamic(b"nope"), None);
    }
}
