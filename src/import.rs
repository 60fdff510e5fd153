//! Hosts from where users already keep them: `~/.ssh/config` and docker contexts.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::inventory::{AuthMethod, HostSpec, Target};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
}

/// Concrete `Host` aliases in an ssh config (patterns with wildcards or negations are
/// defaults for other hosts, not hosts themselves).
pub fn ssh_config_aliases(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let mut words = line.split_whitespace();
        let Some(key) = words.next() else { continue };
        if !key.eq_ignore_ascii_case("host") {
            continue;
        }
        for w in words {
            let w = w.trim_matches('"');
            if !w.contains(['*', '?', '!']) && !out.iter().any(|a| a == w) {
                out.push(w.to_string());
            }
        }
    }
    out
}

/// One host as `ssh ALIAS` would reach it: HostName, User, Port and IdentityFile applied.
pub fn host_from_ssh_config(text: &str, alias: &str) -> Result<HostSpec, String> {
    let cfg = russh_config::parse(text, alias).map_err(|e| format!("{alias}: {e}"))?;
    let hc = &cfg.host_config;
    let auth = match hc.identity_file.as_ref().and_then(|f| f.first()) {
        Some(path) => AuthMethod::Key {
            path: expand_home(path),
        },
        None => AuthMethod::Agent,
    };
    if hc.proxy_command.is_some() {
        tracing::warn!(%alias, "ProxyCommand is not supported; connecting directly");
    }
    let jump = match hc.proxy_jump.as_deref().map(str::trim) {
        None => None,
        Some(j) if j.eq_ignore_ascii_case("none") => None,
        Some(hops) => Some(
            hops.split(',')
                .map(|hop| jump_target(text, hop.trim()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{alias}: ProxyJump {e}"))?
                .join(","),
        ),
    };
    Ok(HostSpec {
        name: alias.to_string(),
        address: cfg.host().to_string(),
        port: cfg.port(),
        user: hc.user.clone().unwrap_or_else(|| "root".to_string()),
        auth,
        sudo: false,
        labels: Default::default(),
        jump,
    })
}

/// A ProxyJump value as `user@address:port`, with a jump host that is itself an alias of
/// the config resolved like `ssh` does (its HostName, User and Port).
fn jump_target(text: &str, jump: &str) -> Result<String, String> {
    let jump = jump.strip_prefix("ssh://").unwrap_or(jump);
    let (user, rest) = match jump.rsplit_once('@') {
        Some((u, r)) => (Some(u.to_string()), r),
        None => (None, jump),
    };
    let (name, port) = match rest.rsplit_once(':') {
        Some((n, p)) if !n.contains(':') => (
            n,
            Some(
                p.parse::<u16>()
                    .map_err(|_| format!("{jump:?}: bad port"))?,
            ),
        ),
        _ => (rest, None),
    };
    let cfg = russh_config::parse(text, name).map_err(|e| format!("{jump:?}: {e}"))?;
    let user = user
        .or_else(|| cfg.host_config.user.clone())
        .unwrap_or_else(|| "root".to_string());
    let target = format!("{user}@{}:{}", cfg.host(), port.unwrap_or(cfg.port()));
    // Validated like any host the inventory holds.
    HostSpec::parse_target(&target, AuthMethod::Agent)?;
    Ok(target)
}

/// Where the user's ssh config lives: `~/.ssh/config`.
pub fn user_ssh_config_path() -> Option<PathBuf> {
    std::env::home_dir().map(|home| home.join(".ssh/config"))
}

/// The user's ssh config text; `None` when there is none.
pub fn read_user_ssh_config() -> Result<Option<String>, ImportError> {
    let Some(path) = user_ssh_config_path() else {
        return Ok(None);
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ImportError::Read { path, source }),
    }
}

/// A `[user@]address[:port]` target as `ssh` would reach it: the ssh config's HostName,
/// User, Port, IdentityFile and ProxyJump for that name fill in what the target leaves out.
/// The host keeps the name as typed.
pub fn resolve_target(config: &str, target: &str) -> Result<HostSpec, String> {
    let typed = Target::parse(target)?;
    let mut host = host_from_ssh_config(config, &typed.address)?;
    Target::parse(&host.address).map_err(|e| format!("{}: HostName {e}", typed.address))?;
    host.name = typed.name();
    if let Some(user) = typed.user {
        host.user = user;
    }
    if let Some(port) = typed.port {
        host.port = port;
    }
    Ok(host)
}

/// All concrete hosts of an ssh config file.
pub fn from_ssh_config_file(path: &Path) -> Result<Vec<HostSpec>, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Read {
        path: path.to_owned(),
        source,
    })?;
    ssh_config_aliases(&text)
        .iter()
        .map(|a| host_from_ssh_config(&text, a))
        .collect::<Result<_, _>>()
        .map_err(|message| ImportError::Parse {
            path: path.to_owned(),
            message,
        })
}

fn expand_home(p: &Path) -> PathBuf {
    match (p.strip_prefix("~"), std::env::home_dir()) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => p.to_path_buf(),
    }
}

#[derive(Deserialize)]
struct ContextMeta {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Endpoints", default)]
    endpoints: std::collections::HashMap<String, Endpoint>,
}

#[derive(Deserialize)]
struct Endpoint {
    #[serde(rename = "Host", default)]
    host: Option<String>,
}

/// Docker contexts whose endpoint is `ssh://…` (others are local sockets or TLS).
/// `dir` is the docker config directory, usually `~/.docker`.
pub fn from_docker_contexts(dir: &Path) -> Result<Vec<HostSpec>, ImportError> {
    let meta_dir = dir.join("contexts/meta");
    let Ok(entries) = std::fs::read_dir(&meta_dir) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path().join("meta.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let meta: ContextMeta = serde_json::from_str(&text).map_err(|e| ImportError::Parse {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let Some(url) = meta.endpoints.get("docker").and_then(|e| e.host.clone()) else {
            continue;
        };
        if !url.starts_with("ssh://") {
            continue;
        }
        let mut spec = HostSpec::parse_target(&url, AuthMethod::Agent).map_err(|message| {
            ImportError::Parse {
                path: path.clone(),
                message,
            }
        })?;
        spec.name = meta.name;
        out.push(spec);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // As in OpenSSH, the first value obtained wins: specific hosts first, defaults last.
    const CONFIG: &str = "\
Host web1 web2
    HostName 192.0.2.10
    Port 2222
    IdentityFile /keys/web
Host db
    HostName db.example.internal
    User postgres
Host !bastion *.corp
    User x
Host *
    User admin
";

    #[test]
    fn aliases_skip_patterns() {
        assert_eq!(ssh_config_aliases(CONFIG), vec!["web1", "web2", "db"]);
    }

    #[test]
    fn resolves_hostname_user_port_and_key() {
        let web = host_from_ssh_config(CONFIG, "web1").unwrap();
        assert_eq!(web.address, "192.0.2.10");
        assert_eq!(web.user, "admin", "inherited from Host *");
        assert_eq!(web.port, 2222);
        assert_eq!(
            web.auth,
            AuthMethod::Key {
                path: "/keys/web".into()
            }
        );
        let db = host_from_ssh_config(CONFIG, "db").unwrap();
        assert_eq!(
            (db.address.as_str(), db.user.as_str(), db.port),
            ("db.example.internal", "postgres", 22)
        );
    }

    #[test]
    fn proxy_jump_resolves_an_alias_or_takes_a_target() {
        const JUMPS: &str = "\
Host bastion
    HostName 198.51.100.7
    User gate
    Port 2200
Host app1
    HostName 10.0.0.11
    ProxyJump bastion
Host app2
    HostName 10.0.0.12
    ProxyJump ops@203.0.113.5:2222
Host app3
    HostName 10.0.0.13
    ProxyJump ops@203.0.113.5, bastion
Host app4
    HostName 10.0.0.14
    ProxyJump none
";
        let jump = |alias: &str| host_from_ssh_config(JUMPS, alias).map(|h| h.jump);
        assert_eq!(
            jump("app1").unwrap().as_deref(),
            Some("gate@198.51.100.7:2200")
        );
        assert_eq!(
            jump("app2").unwrap().as_deref(),
            Some("ops@203.0.113.5:2222")
        );
        // Several hops, each resolved on its own, in order.
        assert_eq!(
            jump("app3").unwrap().as_deref(),
            Some("ops@203.0.113.5:22,gate@198.51.100.7:2200")
        );
        assert_eq!(jump("app4").unwrap(), None);
        assert_eq!(jump("bastion").unwrap(), None);
        // The jump host is a host of its own, named after both for errors.
        let app1 = host_from_ssh_config(JUMPS, "app1").unwrap();
        let j = app1.jump_host().unwrap().unwrap();
        assert_eq!(
            (j.address.as_str(), j.port, j.user.as_str()),
            ("198.51.100.7", 2200, "gate")
        );
        assert!(j.name.contains("jump host of app1"), "{}", j.name);
    }

    #[test]
    fn targets_resolve_through_the_ssh_config_like_ssh() {
        const CONFIG: &str = "\
Host web1
    HostName 10.0.0.21
    User ops
    Port 2222
    IdentityFile /keys/web
    ProxyJump gate@198.51.100.7
Host *
    User admin
";
        let web = resolve_target(CONFIG, "web1").unwrap();
        assert_eq!(web.name, "web1");
        assert_eq!(
            (web.address.as_str(), web.user.as_str(), web.port),
            ("10.0.0.21", "ops", 2222)
        );
        assert_eq!(
            web.auth,
            AuthMethod::Key {
                path: "/keys/web".into()
            }
        );
        assert_eq!(web.jump.as_deref(), Some("gate@198.51.100.7:22"));
        // What the target says wins over the config.
        let root = resolve_target(CONFIG, "root@web1:22").unwrap();
        assert_eq!((root.user.as_str(), root.port), ("root", 22));
        assert_eq!(root.address, "10.0.0.21");
        // Other names pass through, with the config's defaults (`Host *`).
        let other = resolve_target(CONFIG, "192.0.2.5").unwrap();
        assert_eq!(
            (other.address.as_str(), other.user.as_str(), other.port),
            ("192.0.2.5", "admin", 22)
        );
        assert_eq!(other.auth, AuthMethod::Agent);
        assert!(resolve_target(CONFIG, "bad host").is_err());
    }

    #[test]
    fn docker_contexts_with_ssh_endpoints() {
        let dir = tempfile::tempdir().unwrap();
        let write = |id: &str, json: &str| {
            let p = dir.path().join("contexts/meta").join(id);
            std::fs::create_dir_all(&p).unwrap();
            std::fs::write(p.join("meta.json"), json).unwrap();
        };
        write(
            "a",
            r#"{"Name":"prod","Metadata":{},"Endpoints":{"docker":{"Host":"ssh://ops@10.9.0.1:2200","SkipTLSVerify":false}}}"#,
        );
        write(
            "b",
            r#"{"Name":"local","Metadata":{},"Endpoints":{"docker":{"Host":"unix:///var/run/docker.sock"}}}"#,
        );
        let hosts = from_docker_contexts(dir.path()).unwrap();
        assert_eq!(hosts.len(), 1);
        assert_eq!(
            (
                hosts[0].name.as_str(),
                hosts[0].user.as_str(),
                hosts[0].address.as_str(),
                hosts[0].port
            ),
            ("prod", "ops", "10.9.0.1", 2200)
        );
    }
}
