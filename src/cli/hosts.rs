//! `swarmdeck hosts …`: manage the inventory, import hosts, test connections.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use futures_util::future::join_all;

use crate::docker::{DockerHost, DockerOptions};
use crate::import;
use crate::inventory::{AuthMethod, HostSpec, Inventory, default_inventory_path};
use crate::redact::Secret;
use crate::secrets::{Keyring, SecretKey};
use crate::ssh::SshSession;
use crate::untrusted::visible;

use super::target::TargetArgs;

#[derive(Debug, clap::Args)]
pub struct HostsArgs {
    #[command(subcommand)]
    pub command: HostsCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum HostsCommand {
    /// List the inventory's hosts.
    List,
    /// Add a host (or replace one with --replace).
    Add {
        /// Display name, unique in the inventory.
        name: String,
        /// Where to connect: [user@]address[:port].
        target: String,
        /// Authenticate with this private key (default: the ssh-agent).
        #[arg(long, value_name = "FILE", conflicts_with = "password_stdin")]
        key: Option<PathBuf>,
        /// Authenticate with a password read from standard input; it is stored in the OS
        /// keyring, never in the inventory.
        #[arg(long)]
        password_stdin: bool,
        /// With --key: read the key's passphrase from standard input and store it in the OS
        /// keyring (for encrypted keys).
        #[arg(long, requires = "key")]
        passphrase_stdin: bool,
        /// Run Docker through `sudo -n` when the user cannot open the socket.
        #[arg(long)]
        sudo: bool,
        /// A label, e.g. `zone=a` (repeatable).
        #[arg(long = "label", value_name = "KEY=VALUE", value_parser = crate::inventory::parse_label)]
        labels: Vec<(String, String)>,
        /// Reach the host through this SSH server, like `ssh -J`; several hops are
        /// separated by commas. They authenticate the same way as the host.
        #[arg(long, value_name = "[USER@]ADDR[:PORT]")]
        jump: Option<String>,
        /// Replace a host of the same name.
        #[arg(long)]
        replace: bool,
    },
    /// Remove a host (and its stored password).
    Remove { name: String },
    /// Connect to hosts (all by default) and check SSH and Docker.
    Test { names: Vec<String> },
    /// Add hosts from `ssh-config` (~/.ssh/config), `docker-contexts` (ssh:// contexts) or
    /// an inventory file exported earlier.
    Import {
        /// `ssh-config`, `docker-contexts`, or a path to an inventory TOML file.
        source: String,
        /// Only these names (ssh aliases or context names).
        #[arg(long = "only", value_name = "NAME")]
        only: Vec<String>,
    },
    /// Write the inventory to a file (same TOML format; holds no secrets).
    Export { file: PathBuf },
}

pub fn run(
    args: HostsArgs,
    target: &TargetArgs,
    file: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let path = match file {
        Some(p) => p.to_path_buf(),
        None => default_inventory_path()?,
    };
    match args.command {
        HostsCommand::List => list(&load_or_empty(&path)?),
        HostsCommand::Add {
            name,
            target: addr,
            key,
            password_stdin,
            passphrase_stdin,
            sudo,
            labels,
            jump,
            replace,
        } => {
            let auth = match (key, password_stdin) {
                (Some(path), _) => AuthMethod::Key { path },
                (None, true) => AuthMethod::Password,
                (None, false) => AuthMethod::Agent,
            };
            let mut host = HostSpec::parse_target(&addr, auth).map_err(anyhow::Error::msg)?;
            host.name = name;
            host.sudo = sudo;
            host.labels = labels.into_iter().collect();
            host.jump = jump;
            host.validate().map_err(anyhow::Error::msg)?;
            // Refused before any secret is read or stored: a taken name must not cost the
            // existing host its stored password.
            let inv = inventory_to_add_to(&path, &host.name, replace)?;
            if password_stdin {
                store_secret(&host.name, &password_key(&host), "password")?;
            }
            if passphrase_stdin && let AuthMethod::Key { path } = &host.auth {
                let key = SecretKey::KeyPassphrase { path: path.clone() };
                store_secret(&host.name, &key, "key passphrase")?;
            }
            add(&path, inv, host)
        }
        HostsCommand::Remove { name } => remove(&path, &name),
        HostsCommand::Test { names } => {
            let inv = Inventory::load(&path)?;
            test(&inv, &names, target, rt)
        }
        HostsCommand::Import { source, only } => import_hosts(&path, &source, &only),
        HostsCommand::Export { file } => {
            let inv = Inventory::load(&path)?;
            inv.save(&file)?;
            println!("exported {} host(s) to {}", inv.hosts.len(), file.display());
            Ok(())
        }
    }
}

/// A missing inventory is an empty one; a broken one is an error (never overwritten).
fn load_or_empty(path: &Path) -> anyhow::Result<Inventory> {
    if path.exists() {
        Ok(Inventory::load(path)?)
    } else {
        Ok(Inventory::default())
    }
}

fn list(inv: &Inventory) -> anyhow::Result<()> {
    if inv.hosts.is_empty() {
        println!("no hosts; add one with `swarmdeck hosts add NAME user@address`");
        return Ok(());
    }
    println!("{:<16} {:<28} {:<10} LABELS", "NAME", "TARGET", "AUTH");
    for h in &inv.hosts {
        let auth = match &h.auth {
            AuthMethod::Agent => "agent".to_string(),
            AuthMethod::Key { path } => format!("key {}", path.display()),
            AuthMethod::Password => "password".to_string(),
        };
        let labels: Vec<String> = h.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let target = format!("{}@{}:{}", h.user, h.address, h.port);
        println!(
            "{:<16} {:<28} {:<10} {}{}",
            h.name,
            target,
            auth,
            labels.join(","),
            if h.sudo { " (sudo)" } else { "" }
        );
        if let Some(j) = &h.jump {
            println!("{:<16} via {j}", "");
        }
    }
    Ok(())
}

/// Reads a secret from standard input and stores it in the OS keyring (never a file).
fn store_secret(host: &str, key: &SecretKey, what: &str) -> anyhow::Result<()> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read the {what} from standard input"))?;
    let secret = Secret::new(text.trim_end_matches(['\n', '\r']));
    if secret.expose().is_empty() {
        bail!("no {what} on standard input");
    }
    let keyring = Keyring::open()?;
    keyring.set(key, &secret)?;
    eprintln!("{what} for {host} {}", keyring.backend().stored_note());
    Ok(())
}

fn password_key(host: &HostSpec) -> SecretKey {
    SecretKey::Password {
        user: host.user.clone(),
        address: host.address.clone(),
        port: host.port,
    }
}

/// The inventory a host named `name` will be added to, refused when the name is taken
/// (unless `replace`).
fn inventory_to_add_to(path: &Path, name: &str, replace: bool) -> anyhow::Result<Inventory> {
    let inv = load_or_empty(path)?;
    if !replace && inv.host(name).is_some() {
        bail!(
            "a host named {name:?} is already in {}; use --replace to change it",
            path.display()
        );
    }
    Ok(inv)
}

fn add(path: &Path, mut inv: Inventory, host: HostSpec) -> anyhow::Result<()> {
    match inv.hosts.iter().position(|h| h.name == host.name) {
        Some(i) => inv.hosts[i] = host.clone(),
        None => inv.hosts.push(host.clone()),
    }
    inv.validate().map_err(anyhow::Error::msg)?;
    inv.save(path)?;
    println!("added {} to {}", host.name, path.display());
    Ok(())
}

/// The keyring entry a host's authentication reads, if any.
fn secret_of(host: &HostSpec) -> Option<SecretKey> {
    match &host.auth {
        AuthMethod::Password => Some(password_key(host)),
        AuthMethod::Key { path } => Some(SecretKey::KeyPassphrase { path: path.clone() }),
        AuthMethod::Agent => None,
    }
}

fn remove(path: &Path, name: &str) -> anyhow::Result<()> {
    let mut inv = Inventory::load(path)?;
    let Some(i) = inv.hosts.iter().position(|h| h.name == name) else {
        bail!("no host named {name:?} in {}", path.display());
    };
    let host = inv.hosts.remove(i);
    inv.save(path)?;
    // The host's secret goes with it, unless another host still uses it (one key file and
    // its passphrase often serve many hosts).
    let still_used = |key: &SecretKey| inv.hosts.iter().any(|h| secret_of(h).as_ref() == Some(key));
    match secret_of(&host) {
        Some(key) if still_used(&key) => {
            println!("kept its stored secret: other hosts in the inventory use it too");
        }
        Some(key) => {
            if let Err(e) = Keyring::open().and_then(|k| k.delete(&key)) {
                eprintln!("warning: the stored secret could not be removed: {e}");
            }
        }
        None => {}
    }
    println!("removed {name} from {}", path.display());
    Ok(())
}

fn import_hosts(path: &Path, source: &str, only: &[String]) -> anyhow::Result<()> {
    let found = match source {
        "ssh-config" => {
            let path = import::user_ssh_config_path().context("HOME is not set")?;
            import::from_ssh_config_file(&path)?
        }
        "docker-contexts" => {
            let home = std::env::home_dir().context("HOME is not set")?;
            let dir = std::env::var_os("DOCKER_CONFIG")
                .map(PathBuf::from)
                .unwrap_or_else(|| home.join(".docker"));
            import::from_docker_contexts(&dir)?
        }
        file => Inventory::load(Path::new(file))?.hosts,
    };
    let mut inv = load_or_empty(path)?;
    let mut added = Vec::new();
    for host in found {
        if !only.is_empty() && !only.contains(&host.name) {
            continue;
        }
        if inv.host(&host.name).is_some() {
            eprintln!("skipped {}: already in the inventory", visible(&host.name));
            continue;
        }
        if let Err(e) = host.validate() {
            eprintln!("skipped {}: {}", visible(&host.name), visible(&e));
            continue;
        }
        added.push(host.name.clone());
        inv.hosts.push(host);
    }
    inv.validate().map_err(anyhow::Error::msg)?;
    inv.save(path)?;
    println!(
        "imported {} host(s) into {}: {}",
        added.len(),
        path.display(),
        added.join(", ")
    );
    Ok(())
}

fn test(
    inv: &Inventory,
    names: &[String],
    target: &TargetArgs,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let hosts: Vec<&HostSpec> = inv
        .hosts
        .iter()
        .filter(|h| names.is_empty() || names.contains(&h.name))
        .collect();
    if let Some(missing) = names.iter().find(|n| inv.host(n).is_none()) {
        bail!("no host named {missing:?} in the inventory");
    }
    let opts = target.ssh_options(inv);
    let secrets = crate::secrets::ssh_source();
    let results = rt.block_on(join_all(hosts.iter().map(|h| {
        let opts = &opts;
        let secrets = secrets.clone();
        async move {
            let session = SshSession::connect(h, opts, secrets.as_ref()).await?;
            let link = DockerHost::connect_with(&session, &DockerOptions::default()).await?;
            anyhow::Ok(format!(
                "ok: Docker {} (API {}) via {}",
                link.engine_version.as_deref().unwrap_or("?"),
                link.api_version,
                link.via
            ))
        }
    })));
    let mut failed = 0;
    for (h, r) in hosts.iter().zip(results) {
        match r {
            Ok(line) => println!("{:<16} {}", h.name, visible(&line)),
            Err(e) => {
                failed += 1;
                let e = format!("{e:#}");
                println!("{:<16} FAILED: {}", h.name, visible(&e));
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} host(s) failed", hosts.len());
    }
    Ok(())
}
