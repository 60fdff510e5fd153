//! The inventory: which hosts make up a cluster and how to reach them over SSH.
//! Stored as TOML (atomic writes, mode 0600). Holds no secrets: passwords and key
//! passphrases live only in the OS keyring.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How swarmdeck authenticates to a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "method", rename_all = "kebab-case")]
pub enum AuthMethod {
    /// Keys offered by the running ssh-agent (`SSH_AUTH_SOCK`).
    #[default]
    Agent,
    /// A private key file; an encrypted key's passphrase comes from the keyring.
    Key { path: PathBuf },
    /// A password from the keyring.
    Password,
}

/// One host as the user described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostSpec {
    /// Display name, unique in the inventory.
    pub name: String,
    /// DNS name or IP address the workstation connects to.
    pub address: String,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default = "default_user")]
    pub user: String,
    #[serde(default)]
    pub auth: AuthMethod,
    /// Run privileged remote commands through `sudo -n`.
    #[serde(default)]
    pub sudo: bool,
    /// Free-form labels, e.g. `zone = "a"`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Reach the host through these SSH servers, `[user@]address[:port]`, several separated
    /// by commas and tried in order (OpenSSH's ProxyJump, `ssh -J`). Their host keys are
    /// checked like any other; they authenticate with this host's method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jump: Option<String>,
}

fn default_port() -> u16 {
    22
}

fn default_user() -> String {
    "root".to_string()
}

impl HostSpec {
    /// Parses `[user@]address[:port]` (optionally `ssh://`); IPv6 addresses go in brackets:
    /// `root@[fd00::1]:2222`. Rejects anything that is not a plain host name, address or user,
    /// since these strings end up in remote commands and known_hosts lookups.
    pub fn parse_target(text: &str, auth: AuthMethod) -> Result<HostSpec, String> {
        let target = Target::parse(text)?;
        let port = target.port.unwrap_or(22);
        let name = target.name();
        Ok(HostSpec {
            name,
            address: target.address,
            port,
            user: target.user.unwrap_or_else(default_user),
            auth,
            sudo: false,
            labels: BTreeMap::new(),
            jump: None,
        })
    }

    /// `user@address`, with `:port` when it is not 22 (an IPv6 address then goes in
    /// brackets): what [`HostSpec::parse_target`] reads back to the same host.
    pub fn target(&self) -> String {
        let port = (self.port != 22).then_some(self.port);
        format!("{}@{}", self.user, with_port(&self.address, port))
    }

    /// The jump host this host's connection comes from, if any, as a host of its own
    /// (named after both, for errors), authenticating like this host. With several hops it
    /// is the last one, and it is reached through the others.
    pub fn jump_host(&self) -> Option<Result<HostSpec, String>> {
        let jump = self.jump.as_deref()?;
        let (earlier, last) = match jump.rsplit_once(',') {
            Some((earlier, last)) => (Some(earlier.trim()), last.trim()),
            None => (None, jump.trim()),
        };
        Some(
            HostSpec::parse_target(last, self.auth.clone())
                .map(|mut j| {
                    j.name = format!("{} (jump host of {})", j.name, self.name);
                    j.jump = earlier.map(str::to_string);
                    j
                })
                .map_err(|e| format!("{}: jump host {e}", self.name)),
        )
    }

    /// Checks every hop of the jump chain.
    pub fn check_jumps(&self) -> Result<(), String> {
        let mut hop = self.jump_host();
        while let Some(next) = hop {
            hop = next?.jump_host();
        }
        Ok(())
    }
}

impl HostSpec {
    /// The checks `parse_target` makes, for a host from a file: a name without control
    /// characters, an address and user that are neither options nor shell text, a port,
    /// labels without control characters, valid jump hosts.
    pub fn validate(&self) -> Result<(), String> {
        use crate::untrusted::has_control;
        let name = &self.name;
        if name.trim().is_empty() {
            return Err(format!(
                "a host with address {:?} has no name",
                self.address
            ));
        }
        if has_control(name) || name.trim() != name {
            return Err(format!(
                "host name {name:?} holds control characters or surrounding spaces"
            ));
        }
        if self.address.trim().is_empty() {
            return Err(format!("host {name:?} has no address"));
        }
        if !valid_address(&self.address) {
            return Err(format!(
                "host {name:?}: {:?} is not a valid host name or address",
                self.address
            ));
        }
        if !valid_user(&self.user) {
            return Err(format!(
                "host {name:?}: {:?} is not a valid user name",
                self.user
            ));
        }
        if self.port == 0 {
            return Err(format!("host {name:?}: port 0 is not a valid port"));
        }
        if let Some((k, v)) = self
            .labels
            .iter()
            .find(|(k, v)| k.is_empty() || has_control(k) || has_control(v))
        {
            return Err(format!(
                "host {name:?}: label {k:?}={v:?} is empty or holds control characters"
            ));
        }
        self.check_jumps()
    }

    /// The host's IPv4 address as the workstation resolves it (a literal, or DNS).
    pub async fn resolve_ipv4(&self) -> Option<std::net::Ipv4Addr> {
        use std::net::IpAddr;
        if let Ok(IpAddr::V4(ip)) = self.address.parse::<IpAddr>() {
            return Some(ip);
        }
        tokio::net::lookup_host((self.address.as_str(), self.port))
            .await
            .ok()?
            .find_map(|a| match a.ip() {
                IpAddr::V4(ip) => Some(ip),
                IpAddr::V6(_) => None,
            })
    }
}

fn valid_address_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || ".-:_%".contains(c)
}

/// A host name or address as ssh and the remote commands take it: no option (`-…`), no
/// shell or pattern characters.
fn valid_address(address: &str) -> bool {
    !address.is_empty() && !address.starts_with('-') && address.chars().all(valid_address_char)
}

fn valid_user(user: &str) -> bool {
    !user.is_empty()
        && !user.starts_with('-')
        && user
            .chars()
            .all(|c| c.is_alphanumeric() || "._-".contains(c))
}

/// `[user@]address[:port]` as written: the parts it sets, before any defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub user: Option<String>,
    pub address: String,
    pub port: Option<u16>,
}

impl Target {
    /// Parses and checks a target (optionally `ssh://`); IPv6 addresses go in brackets
    /// when a port follows.
    pub fn parse(text: &str) -> Result<Target, String> {
        let text = text.strip_prefix("ssh://").unwrap_or(text);
        let (user, rest) = match text.rsplit_once('@') {
            Some((u, r)) => (Some(u.to_string()), r),
            None => (None, text),
        };
        let (address, port) = split_port(rest)?;
        if !valid_address(&address) {
            return Err(format!(
                "{text:?} is not a valid host: use [user@]address[:port]"
            ));
        }
        if let Some(user) = &user
            && !valid_user(user)
        {
            return Err(format!("{text:?}: {user:?} is not a valid user name"));
        }
        Ok(Target {
            user,
            address,
            port,
        })
    }

    /// The host's name: its address, with the port when it is not 22.
    pub fn name(&self) -> String {
        with_port(&self.address, self.port.filter(|&p| p != 22))
    }
}

/// `address:port`, or `[address]:port` for an IPv6 address (whose own colons would
/// otherwise swallow the port); the bare address without a port.
fn with_port(address: &str, port: Option<u16>) -> String {
    match port {
        Some(port) if address.contains(':') => format!("[{address}]:{port}"),
        Some(port) => format!("{address}:{port}"),
        None => address.to_string(),
    }
}

fn split_port(rest: &str) -> Result<(String, Option<u16>), String> {
    if let Some(v6) = rest.strip_prefix('[') {
        let (addr, tail) = v6
            .split_once(']')
            .ok_or_else(|| format!("{rest:?}: missing ']' after the IPv6 address"))?;
        let port = match tail.strip_prefix(':') {
            Some(p) => Some(parse_port(p)?),
            None if tail.is_empty() => None,
            None => return Err(format!("{rest:?}: unexpected {tail:?} after the address")),
        };
        return Ok((addr.to_string(), port));
    }
    match rest.split_once(':') {
        Some((a, p)) if !p.contains(':') => Ok((a.to_string(), Some(parse_port(p)?))),
        // Several colons: a bare IPv6 address without a port.
        _ => Ok((rest.to_string(), None)),
    }
}

fn parse_port(p: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{p:?} is not a valid port (1-65535)")),
    }
}

/// A set of hosts plus the known_hosts files to trust besides the user's own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// Extra known_hosts files checked after `~/.ssh/known_hosts` (e.g. a practice lab's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub known_hosts: Vec<PathBuf>,
    /// Per-inventory deadlines (`[timeouts]`, seconds); unset ones keep the defaults.
    #[serde(default, skip_serializing_if = "crate::limits::TimeoutTable::is_empty")]
    pub timeouts: crate::limits::TimeoutTable,
    #[serde(default, rename = "host")]
    pub hosts: Vec<HostSpec>,
}

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot read inventory {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("inventory {path} is not valid TOML: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("inventory {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("cannot write inventory {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot find the user's config directory for the default inventory (is HOME set?)")]
    NoConfigDir,
}

/// `~/.config/swarmdeck/inventory.toml` (or the platform's equivalent): the inventory the
/// CLI and the app use when none is named.
pub fn default_inventory_path() -> Result<PathBuf, InventoryError> {
    let dirs =
        directories::ProjectDirs::from("", "", "swarmdeck").ok_or(InventoryError::NoConfigDir)?;
    Ok(dirs.config_dir().join("inventory.toml"))
}

impl Inventory {
    pub fn load(path: &Path) -> Result<Self, InventoryError> {
        let text = std::fs::read_to_string(path).map_err(|source| InventoryError::Read {
            path: path.to_owned(),
            source,
        })?;
        let inv: Inventory = toml::from_str(&text).map_err(|e| InventoryError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        inv.validate().map_err(|message| InventoryError::Invalid {
            path: path.to_owned(),
            message,
        })?;
        Ok(inv)
    }

    pub fn save(&self, path: &Path) -> Result<(), InventoryError> {
        let text = toml::to_string_pretty(self).map_err(|e| InventoryError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        crate::fsutil::write_atomic(path, text.as_bytes(), 0o600).map_err(|source| {
            InventoryError::Write {
                path: path.to_owned(),
                source,
            }
        })
    }

    /// Names must be unique and every host needs an address; anything else is a user error
    /// we report before touching the network. Run on every load, not only when a host is
    /// added: a file edited by hand, imported or shared holds the same checks as one
    /// written by `hosts add`.
    pub fn validate(&self) -> Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        for h in &self.hosts {
            h.validate()?;
            if !seen.insert(h.name.as_str()) {
                return Err(format!("host name {:?} appears twice", h.name));
            }
        }
        Ok(())
    }

    pub fn host(&self, name: &str) -> Option<&HostSpec> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// Applies one edit the user made to a copy loaded earlier onto this inventory (the
    /// file as it is now), so hosts others added meanwhile stay. An edit of a host that
    /// changed or went away since is refused: the user decides again on what is there.
    pub fn apply(&mut self, edit: &HostEdit) -> Result<(), String> {
        let position = |inv: &Inventory, name: &str| inv.hosts.iter().position(|h| h.name == name);
        let changed = |name: &str| {
            format!(
                "host {name:?} was changed in the inventory file since it was loaded (by \
                 another swarmdeck?); nothing was saved: check it and edit it again"
            )
        };
        match edit {
            HostEdit::Add(host) => match self.host(&host.name) {
                Some(same) if same == host => {}
                Some(_) => {
                    return Err(format!(
                        "a host named {:?} is already in the inventory file; nothing was \
                         saved: choose another name",
                        host.name
                    ));
                }
                None => self.hosts.push(host.clone()),
            },
            HostEdit::Replace { before, after } => {
                let i = position(self, &before.name).ok_or_else(|| {
                    format!(
                        "host {:?} was removed from the inventory file since it was loaded; \
                         nothing was saved: add it again if you still want it",
                        before.name
                    )
                })?;
                if &self.hosts[i] != before {
                    return Err(changed(&before.name));
                }
                if after.name != before.name && self.host(&after.name).is_some() {
                    return Err(format!(
                        "a host named {:?} is already in the inventory file; nothing was saved",
                        after.name
                    ));
                }
                self.hosts[i] = after.clone();
            }
            HostEdit::Remove(before) => match position(self, &before.name) {
                None => {}
                Some(i) if &self.hosts[i] == before => {
                    self.hosts.remove(i);
                }
                Some(_) => return Err(changed(&before.name)),
            },
        }
        self.validate()
    }

    /// Re-reads the file at `path` (a missing one is empty), applies `edit` to it and
    /// writes it back atomically: the merged inventory.
    pub fn edit_file(path: &Path, edit: &HostEdit) -> Result<Inventory, String> {
        let mut inv = if path.exists() {
            Inventory::load(path).map_err(|e| e.to_string())?
        } else {
            Inventory::default()
        };
        inv.apply(edit)?;
        inv.save(path).map_err(|e| e.to_string())?;
        Ok(inv)
    }
}

/// A label the user typed that is not `KEY=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("label {0:?} is not KEY=VALUE")]
    NoEquals(String),
    #[error("label {0:?} has an empty key")]
    EmptyKey(String),
}

/// One `KEY=VALUE` label as typed (a CLI flag, a field of the Hosts form). Spaces around
/// key and value are dropped; the value may be empty and may hold `=`. What a label may
/// contain is [`HostSpec::validate`]'s to say.
pub fn parse_label(text: &str) -> Result<(String, String), LabelError> {
    let (k, v) = text
        .split_once('=')
        .ok_or_else(|| LabelError::NoEquals(text.to_string()))?;
    let (k, v) = (k.trim(), v.trim());
    if k.is_empty() {
        return Err(LabelError::EmptyKey(text.to_string()));
    }
    Ok((k.to_string(), v.to_string()))
}

/// One change to the inventory, as the user made it on the copy they saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostEdit {
    /// A new host (typed in, or imported).
    Add(HostSpec),
    /// The host `before` (as it was loaded) becomes `after` (possibly renamed).
    Replace { before: HostSpec, after: HostSpec },
    /// The host as it was loaded.
    Remove(HostSpec),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse_as_key_equals_value() {
        let ok = |k: &str, v: &str| Ok((k.to_string(), v.to_string()));
        assert_eq!(parse_label("zone=a"), ok("zone", "a"));
        assert_eq!(parse_label(" rack = 3 "), ok("rack", "3"));
        assert_eq!(parse_label("empty="), ok("empty", ""));
        assert_eq!(parse_label("url=a=b"), ok("url", "a=b"));
        assert_eq!(
            parse_label("zone"),
            Err(LabelError::NoEquals("zone".into()))
        );
        assert_eq!(parse_label(" =a"), Err(LabelError::EmptyKey(" =a".into())));
        assert_eq!(
            parse_label("zone").unwrap_err().to_string(),
            "label \"zone\" is not KEY=VALUE"
        );
    }

    fn h(s: &str) -> HostSpec {
        HostSpec::parse_target(s, AuthMethod::Agent).unwrap()
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
    fn targets_read_back_to_the_same_host_ipv6_too() {
        for text in [
            "root@fd00::1",
            "ops@[fd00::1]:2222",
            "root@[fe80::1%eth0]:22",
            "root@10.0.0.1",
            "ops@10.0.0.1:2200",
            "root@node1",
        ] {
            let a = h(text);
            let b = h(&a.target());
            assert_eq!(
                (&b.user, &b.address, b.port),
                (&a.user, &a.address, a.port),
                "{text}"
            );
        }
        assert_eq!(h("root@fd00::1").target(), "root@fd00::1");
        assert_eq!(h("root@[fd00::1]:2222").target(), "root@[fd00::1]:2222");
        assert_eq!(h("root@[fd00::1]:2222").name, "[fd00::1]:2222");
        assert_eq!(h("root@[fd00::1]:22").target(), "root@fd00::1");
    }

    #[test]
    fn edits_apply_to_the_file_as_it_is_now() {
        let (a, b, c) = (h("root@10.0.0.1"), h("root@10.0.0.2"), h("root@10.0.0.3"));
        // The app loaded [a, b]; the CLI has added c to the file since.
        let now = Inventory {
            known_hosts: vec![PathBuf::from("/lab/known_hosts")],
            hosts: vec![a.clone(), b.clone(), c.clone()],
            ..Default::default()
        };
        let mut a2 = a.clone();
        a2.port = 2222;
        let mut inv = now.clone();
        inv.apply(&HostEdit::Replace {
            before: a.clone(),
            after: a2.clone(),
        })
        .unwrap();
        assert_eq!(inv.hosts, vec![a2.clone(), b.clone(), c.clone()]);
        assert_eq!(inv.known_hosts, now.known_hosts);
        let mut inv = now.clone();
        inv.apply(&HostEdit::Remove(b.clone())).unwrap();
        assert_eq!(inv.hosts, vec![a.clone(), c.clone()]);
        let mut d = h("root@10.0.0.4");
        d.name = "d".into();
        let mut inv = now.clone();
        inv.apply(&HostEdit::Add(d.clone())).unwrap();
        assert_eq!(inv.hosts.len(), 4);
        // What changed meanwhile is never overwritten or dropped silently.
        let mut changed = now.clone();
        changed.hosts[0].user = "ops".into();
        let e = changed
            .clone()
            .apply(&HostEdit::Replace {
                before: a.clone(),
                after: a2,
            })
            .unwrap_err();
        assert!(e.contains("was changed in the inventory file"), "{e}");
        assert!(changed.clone().apply(&HostEdit::Remove(a.clone())).is_err());
        let mut taken = c.clone();
        taken.user = "other".into();
        let e = now.clone().apply(&HostEdit::Add(taken)).unwrap_err();
        assert!(e.contains("already in the inventory file"), "{e}");
        let mut renamed = a.clone();
        renamed.name = c.name.clone();
        assert!(
            now.clone()
                .apply(&HostEdit::Replace {
                    before: a,
                    after: renamed
                })
                .is_err()
        );
    }

    #[test]
    fn rejects_hostile_targets() {
        for bad in [
            "root@host;rm -rf /",
            "a b",
            "host:0",
            "host:99999",
            "$(id)@x",
            "",
            "x@",
        ] {
            assert!(
                HostSpec::parse_target(bad, AuthMethod::Agent).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn jump_chains_are_walked_from_the_last_hop() {
        let mut h = HostSpec::parse_target("root@10.0.0.9", AuthMethod::Agent).unwrap();
        h.name = "app".into();
        h.jump = Some("a@192.0.2.1, b@192.0.2.2:2200".into());
        h.check_jumps().unwrap();
        // The last hop is the one the target's connection comes from; it goes through the
        // earlier ones.
        let last = h.jump_host().unwrap().unwrap();
        assert_eq!((last.address.as_str(), last.port), ("192.0.2.2", 2200));
        assert_eq!(last.jump.as_deref(), Some("a@192.0.2.1"));
        let first = last.jump_host().unwrap().unwrap();
        assert_eq!(
            (first.user.as_str(), first.address.as_str()),
            ("a", "192.0.2.1")
        );
        assert!(first.jump_host().is_none());
        // A bad hop anywhere in the chain is found.
        for bad in [
            "a@192.0.2.1,,b@192.0.2.2",
            "bad host,b@192.0.2.2",
            "a@192.0.2.1,",
        ] {
            h.jump = Some(bad.into());
            assert!(
                h.check_jumps().unwrap_err().contains("jump host"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn round_trips_through_toml() {
        let inv = Inventory {
            known_hosts: vec![PathBuf::from("/tmp/kh")],
            timeouts: Default::default(),
            hosts: vec![HostSpec {
                name: "h1".into(),
                address: "10.0.0.1".into(),
                port: 2222,
                user: "ops".into(),
                auth: AuthMethod::Key {
                    path: "/k/id".into(),
                },
                sudo: true,
                labels: [("zone".to_string(), "a".to_string())].into(),
                jump: Some("ops@bastion:2200".into()),
            }],
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("inv.toml");
        inv.save(&p).unwrap();
        assert_eq!(Inventory::load(&p).unwrap(), inv);
    }

    #[test]
    fn defaults_and_duplicates() {
        let inv: Inventory = toml::from_str("[[host]]\nname='a'\naddress='x'\n").unwrap();
        assert_eq!(inv.hosts[0].port, 22);
        assert_eq!(inv.hosts[0].user, "root");
        assert_eq!(inv.hosts[0].auth, AuthMethod::Agent);
        let dup: Inventory =
            toml::from_str("[[host]]\nname='a'\naddress='x'\n[[host]]\nname='a'\naddress='y'\n")
                .unwrap();
        assert!(dup.validate().unwrap_err().contains("twice"));
    }

    /// A file written by hand or shared by someone else gets the checks `hosts add` makes:
    /// names without control characters, addresses and users that are no shell text or
    /// option.
    #[test]
    fn hostile_inventory_files_are_refused_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("inv.toml");
        for (bad, why) in [
            (
                "name = \"evil\\ntouch /tmp/pwned\"\naddress = \"10.0.0.1\"",
                "control",
            ),
            (
                "name = \"\\u001b[31mred\"\naddress = \"10.0.0.1\"",
                "control",
            ),
            (
                "name = \"a\"\naddress = \"10.0.0.1; rm -rf /\"",
                "not a valid host",
            ),
            (
                "name = \"a\"\naddress = \"-oProxyCommand=sh\"",
                "not a valid host",
            ),
            (
                "name = \"a\"\naddress = \"h\"\nuser = \"$(id)\"",
                "user name",
            ),
            ("name = \"a\"\naddress = \"h\"\nport = 0", "port"),
            (
                "name = \"a\"\naddress = \"h\"\nlabels = { zone = \"a\\u001b]0;x\\u0007\" }",
                "label",
            ),
            ("name = \"a\"\naddress = \"h\"\njump = \"x;y\"", "jump host"),
        ] {
            std::fs::write(&p, format!("[[host]]\n{bad}\n")).unwrap();
            let err = Inventory::load(&p).unwrap_err().to_string();
            assert!(
                err.contains(why) && err.contains("inv.toml"),
                "{bad}: {err}"
            );
        }
        std::fs::write(&p, "[[host]]\nname = \"web 1\"\naddress = \"fd00::1\"\n").unwrap();
        assert_eq!(Inventory::load(&p).unwrap().hosts[0].name, "web 1");
    }

    #[test]
    fn broken_file_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, "[[host]\nname=").unwrap();
        let err = Inventory::load(&p).unwrap_err().to_string();
        assert!(err.contains("bad.toml"), "{err}");
    }
}
