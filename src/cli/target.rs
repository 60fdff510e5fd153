//! Which hosts a command acts on: `-H user@addr[:port]` flags, or an inventory file.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::inventory::{AuthMethod, HostSpec, Inventory};
use crate::ssh::{HostKeyPolicy, SshOptions};

/// Connection flags shared by every command that talks to hosts.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TargetArgs {
    /// A host as `[user@]address[:port]` (repeatable), like `docker -H ssh://…`.
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
}

impl TargetArgs {
    /// The inventory to act on: `-H` hosts if given, else the inventory file.
    pub fn inventory(&self, file: Option<&Path>) -> anyhow::Result<(Inventory, String)> {
        if !self.hosts.is_empty() {
            let auth = match &self.identity {
                Some(path) => AuthMethod::Key { path: path.clone() },
                None => AuthMethod::Agent,
            };
            let hosts = self
                .hosts
                .iter()
                .map(|h| parse_host(h, auth.clone()))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let inv = Inventory {
                known_hosts: self.known_hosts.clone(),
                hosts,
            };
            inv.validate().map_err(anyhow::Error::msg)?;
            return Ok((inv, "command line".to_string()));
        }
        let path = match file {
            Some(p) => p.to_path_buf(),
            None => default_inventory_path()?,
        };
        let mut inv = Inventory::load(&path)
            .with_context(|| "no hosts given: pass -H user@host or --inventory FILE")?;
        inv.known_hosts.extend(self.known_hosts.iter().cloned());
        Ok((inv, path.display().to_string()))
    }

    pub fn ssh_options(&self, inventory: &Inventory) -> SshOptions {
        let policy = if self.accept_new_host_keys {
            HostKeyPolicy::AcceptNew
        } else {
            HostKeyPolicy::Strict
        };
        SshOptions::for_inventory(inventory, policy)
    }
}

/// `~/.config/swarmdeck/inventory.toml` (or the platform's equivalent).
pub fn default_inventory_path() -> anyhow::Result<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "swarmdeck")
        .context("cannot find the user's config directory (is HOME set?)")?;
    Ok(dirs.config_dir().join("inventory.toml"))
}

/// Parses `[user@]address[:port]`; IPv6 addresses go in brackets: `root@[fd00::1]:2222`.
pub fn parse_host(text: &str, auth: AuthMethod) -> anyhow::Result<HostSpec> {
    let text = text.strip_prefix("ssh://").unwrap_or(text);
    let (user, rest) = match text.rsplit_once('@') {
        Some((u, r)) => (u.to_string(), r),
        None => ("root".to_string(), text),
    };
    let (address, port) = split_port(rest)?;
    if address.is_empty() || !address.chars().all(valid_address_char) {
        bail!("{text:?} is not a valid host: use [user@]address[:port]");
    }
    if user.is_empty()
        || !user
            .chars()
            .all(|c| c.is_alphanumeric() || "._-".contains(c))
    {
        bail!("{text:?}: {user:?} is not a valid user name");
    }
    let name = if port == 22 {
        address.clone()
    } else {
        format!("{address}:{port}")
    };
    Ok(HostSpec {
        name,
        address,
        port,
        user,
        auth,
        sudo: false,
        labels: Default::default(),
    })
}

fn valid_address_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || ".-:_%".contains(c)
}

fn split_port(rest: &str) -> anyhow::Result<(String, u16)> {
    if let Some(v6) = rest.strip_prefix('[') {
        let (addr, tail) = v6
            .split_once(']')
            .with_context(|| format!("{rest:?}: missing ']' after the IPv6 address"))?;
        let port = match tail.strip_prefix(':') {
            Some(p) => parse_port(p)?,
            None if tail.is_empty() => 22,
            None => bail!("{rest:?}: unexpected {tail:?} after the address"),
        };
        return Ok((addr.to_string(), port));
    }
    match rest.split_once(':') {
        Some((a, p)) if !p.contains(':') => Ok((a.to_string(), parse_port(p)?)),
        // A bare IPv6 address without a port.
        Some(_) => Ok((rest.to_string(), 22)),
        None => Ok((rest.to_string(), 22)),
    }
}

fn parse_port(p: &str) -> anyhow::Result<u16> {
    match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => bail!("{p:?} is not a valid port (1-65535)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> HostSpec {
        parse_host(s, AuthMethod::Agent).unwrap()
    }

    #[test]
    fn parses_the_docker_style_forms() {
        let a = h("ops@10.1.2.3:2222");
        assert_eq!(
            (a.user.as_str(), a.address.as_str(), a.port),
            ("ops", "10.1.2.3", 2222)
        );
        assert_eq!(a.name, "10.1.2.3:2222");
        let b = h("ssh://node1");
        assert_eq!(
            (b.user.as_str(), b.address.as_str(), b.port),
            ("root", "node1", 22)
        );
        let c = h("root@[fd00::1]:2200");
        assert_eq!((c.address.as_str(), c.port), ("fd00::1", 2200));
        assert_eq!(h("fd00::2").address, "fd00::2");
    }

    #[test]
    fn rejects_hostile_input() {
        for bad in [
            "root@host;rm -rf /",
            "a b",
            "host:0",
            "host:99999",
            "$(id)@x",
            "",
            "x@",
        ] {
            assert!(parse_host(bad, AuthMethod::Agent).is_err(), "{bad:?}");
        }
    }
}
