//! Which hosts a command acts on: `-H user@addr[:port]` flags, or an inventory file.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::import;
use crate::inventory::{AuthMethod, HostSpec, Inventory, default_inventory_path};
use crate::limits::Deadlines;
use crate::ssh::{HostKeyPolicy, SshOptions};

/// Connection flags shared by every command that talks to hosts.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TargetArgs {
    /// A host as `[user@]address[:port]` (repeatable), like `docker -H ssh://…`; names in
    /// ~/.ssh/config resolve as `ssh` resolves them.
    #[arg(
        id = "target_host",
        short = 'H',
        long = "host",
        value_name = "[USER@]ADDR[:PORT]",
        global = true
    )]
    pub hosts: Vec<String>,

    /// Private key for `-H` hosts (default: the ssh-agent).
    #[arg(short = 'i', long = "identity", value_name = "KEYFILE", global = true)]
    pub identity: Option<PathBuf>,

    /// Extra known_hosts file to trust (repeatable), besides ~/.ssh/known_hosts.
    #[arg(long = "known-hosts", value_name = "FILE", global = true)]
    pub known_hosts: Vec<PathBuf>,

    /// Record unknown host keys (like OpenSSH's StrictHostKeyChecking=accept-new).
    /// Changed keys are always refused.
    #[arg(long, global = true)]
    pub accept_new_host_keys: bool,

    /// Seconds one remote request (and a TCP connect) may take before the host is reported
    /// as not answering (default 5, or the inventory's `[timeouts] request`). Long
    /// operations (joins, image imports) get the inventory's `long` deadline.
    #[arg(long, value_name = "SECS", global = true)]
    pub timeout: Option<f64>,
}

impl TargetArgs {
    /// The inventory to act on: `-H` hosts if given, else the inventory file.
    pub fn inventory(&self, file: Option<&Path>) -> anyhow::Result<(Inventory, String)> {
        if !self.hosts.is_empty() {
            let config = import::read_user_ssh_config()?;
            let hosts = self
                .hosts
                .iter()
                .map(|h| self.host(h, config.as_deref()))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let inv = Inventory {
                known_hosts: self.known_hosts.clone(),
                timeouts: Default::default(),
                hosts,
            };
            inv.validate().map_err(anyhow::Error::msg)?;
            return Ok((inv, "command line".to_string()));
        }
        let path = match file {
            Some(p) => p.to_path_buf(),
            None => default_inventory_path()?,
        };
        let inv = Inventory::load(&path)
            .with_context(|| "no hosts given: pass -H user@host or --inventory FILE")?;
        Ok((inv, path.display().to_string()))
    }

    /// A `-H` value as `ssh` would reach it: through `~/.ssh/config` when there is one; `-i`
    /// wins over the config's IdentityFile.
    fn host(&self, target: &str, ssh_config: Option<&str>) -> anyhow::Result<HostSpec> {
        let mut host = match ssh_config {
            Some(text) => import::resolve_target(text, target)
                .map_err(|e| anyhow::anyhow!("{e} (resolving -H through ~/.ssh/config)"))?,
            None => {
                HostSpec::parse_target(target, AuthMethod::Agent).map_err(anyhow::Error::msg)?
            }
        };
        if let Some(path) = &self.identity {
            host.auth = AuthMethod::Key { path: path.clone() };
        }
        Ok(host)
    }

    pub fn ssh_options(&self, inventory: &Inventory) -> SshOptions {
        let policy = if self.accept_new_host_keys {
            HostKeyPolicy::AcceptNew
        } else {
            HostKeyPolicy::Strict
        };
        let mut opts = SshOptions::for_inventory(inventory, policy);
        let request = self
            .timeout
            .filter(|t| t.is_finite() && *t >= 0.0)
            .map(std::time::Duration::from_secs_f64);
        opts.deadlines = Deadlines::resolve(&inventory.timeouts, request);
        for extra in &self.known_hosts {
            if !inventory.known_hosts.contains(extra) {
                opts.known_hosts.extra_files.push(extra.clone());
            }
        }
        opts
    }
}
