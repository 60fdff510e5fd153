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

/// How deep `Include`s may nest (OpenSSH's own limit).
const MAX_INCLUDE_DEPTH: usize = 16;

/// An ssh config line's keyword and value: `Keyword value`, `Keyword=value` or with tabs.
fn split_keyword(line: &str) -> (&str, &str) {
    let end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let (key, rest) = line.split_at(end);
    let rest = rest.trim_start();
    (key, rest.strip_prefix('=').unwrap_or(rest).trim_start())
}

/// The config in the one form the parser reads: `Keyword value` lines; options before the
/// first `Host` under `Host *` (ssh applies them to every host); `Match all` as `Host *`;
/// other `Match` blocks left out: their conditions are not evaluated here, and leaving them
/// out is safer than giving their options to the `Host` above them.
fn normalize(text: &str) -> String {
    let mut out = String::new();
    let (mut in_block, mut skipping) = (false, false);
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = split_keyword(line);
        match key.to_ascii_lowercase().as_str() {
            "host" => (in_block, skipping) = (true, false),
            "match" => {
                (in_block, skipping) = (true, !value.eq_ignore_ascii_case("all"));
                if !skipping {
                    out.push_str("Host *\n");
                }
                continue;
            }
            _ if skipping => continue,
            _ if !in_block => {
                out.push_str("Host *\n");
                in_block = true;
            }
            _ => {}
        }
        out.push_str(&format!("{key} {value}\n"));
    }
    out
}

/// Reads an ssh config with its `Include`d files inlined where they stand: relative paths
/// are under `ssh_dir`, globs expand in sorted order and missing files are skipped, as ssh
/// does.
fn read_including(path: &Path, ssh_dir: &Path, depth: usize) -> Result<String, ImportError> {
    let parse_err = |message: String| ImportError::Parse {
        path: path.to_owned(),
        message,
    };
    if depth > MAX_INCLUDE_DEPTH {
        return Err(parse_err(format!(
            "Include nested more than {MAX_INCLUDE_DEPTH} deep (a loop?)"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut out = String::new();
    for line in text.lines() {
        let (key, value) = split_keyword(line.trim());
        if !key.eq_ignore_ascii_case("include") {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        for pattern in value.split_whitespace() {
            for file in include_files(pattern, ssh_dir).map_err(parse_err)? {
                out.push_str(&read_including(&file, ssh_dir, depth + 1)?);
            }
        }
    }
    Ok(out)
}

/// The files an `Include` pattern names (`~/` is home, relative is under `ssh_dir`; `*`
/// and `?` only in the file name).
fn include_files(pattern: &str, ssh_dir: &Path) -> Result<Vec<PathBuf>, String> {
    // An absolute (or home-expanded) path replaces `ssh_dir` in the join.
    let path = ssh_dir.join(expand_home(Path::new(pattern)));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if !name.contains(['*', '?', '[']) {
        return Ok(if path.is_file() { vec![path] } else { vec![] });
    }
    let matcher = globset::Glob::new(name)
        .map_err(|e| format!("Include {pattern}: {e}"))?
        .compile_matcher();
    let dir = path.parent().unwrap_or(ssh_dir);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(vec![]);
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| matcher.is_match(n)))
        .collect();
    files.sort();
    Ok(files)
}

/// Concrete `Host` aliases in an ssh config (patterns with wildcards or negations are
/// defaults for other hosts, not hosts themselves).
pub fn ssh_config_aliases(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in normalize(text).lines() {
        let (key, value) = split_keyword(line);
        if !key.eq_ignore_ascii_case("host") {
            continue;
        }
        for w in value.split_whitespace() {
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
    let cfg = russh_config::parse(&normalize(text), alias).map_err(|e| format!("{alias}: {e}"))?;
    let hc = &cfg.host_config;
    let auth = match hc.identity_file.as_ref().and_then(|f| f.first()) {
        Some(path) => AuthMethod::Key {
            path: expand_home(path),
        },
        None => AuthMethod::Agent,
    };
    let hops = match (
        hc.proxy_jump.as_deref().map(str::trim),
        hc.proxy_command.as_deref().map(str::trim),
    ) {
        (Some(j), _) => (!j.eq_ignore_ascii_case("none")).then(|| j.to_string()),
        (None, Some(c)) if c.eq_ignore_ascii_case("none") => None,
        (None, Some(c)) => {
            let jump = proxy_command_jump(c);
            if jump.is_none() {
                // Not its text: a ProxyCommand may hold a password (`sshpass -p …`).
                let alias = crate::untrusted::visible(alias);
                tracing::warn!(%alias, "a ProxyCommand other than `ssh -W %h:%p HOST` is not run; connecting directly");
            }
            jump
        }
        (None, None) => None,
    };
    let jump = match hops {
        None => None,
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

/// `ProxyCommand ssh [-q] [-l USER] [-p PORT] -W %h:%p HOST`, the classic spelling of a
/// jump host, as the jump `[USER@]HOST[:PORT]`; `None` for any other command.
fn proxy_command_jump(command: &str) -> Option<String> {
    let mut words = command.split_whitespace();
    if words.next()?.rsplit('/').next() != Some("ssh") {
        return None;
    }
    let (mut dest, mut forwards, mut user, mut port) = (None, false, None, None);
    while let Some(word) = words.next() {
        match word {
            "-W" => forwards = matches!(words.next(), Some("%h:%p" | "[%h]:%p")),
            "-l" => user = Some(words.next()?),
            "-p" => port = Some(words.next()?.parse::<u16>().ok()?),
            "-q" | "-x" | "-a" | "-T" | "-C" | "-4" | "-6" => {}
            w if w.starts_with('-') || dest.is_some() => return None,
            w => dest = Some(w),
        }
    }
    let dest = dest.filter(|_| forwards)?;
    let mut target = match user {
        Some(u) if !dest.contains('@') => format!("{u}@{dest}"),
        _ => dest.to_string(),
    };
    if let Some(p) = port {
        target.push_str(&format!(":{p}"));
    }
    Some(target)
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
    let cfg = russh_config::parse(&normalize(text), name).map_err(|e| format!("{jump:?}: {e}"))?;
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
    home().map(|home| home.join(".ssh/config"))
}

/// The user's home, only when absolute: a relative or empty HOME would make `~` mean the
/// current directory, and its files would be trusted as the user's own.
fn home() -> Option<PathBuf> {
    std::env::home_dir().filter(|h| h.is_absolute())
}

/// The user's ssh config text, includes inlined; `None` when there is none.
pub fn read_user_ssh_config() -> Result<Option<String>, ImportError> {
    match user_ssh_config_path() {
        Some(path) if path.exists() => read_config_file(&path).map(Some),
        _ => Ok(None),
    }
}

/// A config file with its includes (relative ones under the file's own folder, `~/.ssh`
/// for the user's config).
fn read_config_file(path: &Path) -> Result<String, ImportError> {
    read_including(path, path.parent().unwrap_or(Path::new(".")), 0)
}

/// The known_hosts files the user's ssh config names for every host (`UserKnownHostsFile`,
/// `GlobalKnownHostsFile` at the top or under `Host *`): ssh trusts them for any host, so
/// swarmdeck does too. Files named only for some hosts are not read: trusting them for
/// every host would trust more than ssh does.
pub fn configured_known_hosts() -> Vec<PathBuf> {
    match read_user_ssh_config() {
        Ok(Some(text)) => known_hosts_files(&text),
        Ok(None) => Vec::new(),
        Err(e) => {
            tracing::warn!("reading the ssh config for its known_hosts files: {e}");
            Vec::new()
        }
    }
}

fn known_hosts_files(text: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut every_host = false;
    for line in normalize(text).lines() {
        let (key, value) = split_keyword(line);
        if key.eq_ignore_ascii_case("host") {
            every_host = value.split_whitespace().all(|p| p == "*");
            continue;
        }
        if !every_host
            || !(key.eq_ignore_ascii_case("userknownhostsfile")
                || key.eq_ignore_ascii_case("globalknownhostsfile"))
        {
            continue;
        }
        for word in value.split_whitespace().map(|w| w.trim_matches('"')) {
            let path = expand_home(Path::new(word));
            if !word.eq_ignore_ascii_case("none") && !out.contains(&path) {
                out.push(path);
            }
        }
    }
    out
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
    let text = read_config_file(path)?;
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
    match (p.strip_prefix("~"), home()) {
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

    const CONFIG_TOKENS: &[&str] = &[
        "Host ",
        "Match ",
        "all",
        "exec x",
        "HostName ",
        "User ",
        "Port ",
        "22",
        "99999",
        "IdentityFile ",
        "~/id",
        "ProxyJump ",
        "ProxyCommand ",
        "ssh ",
        "-W ",
        "%h:%p ",
        "-l ",
        "-p ",
        "-q ",
        "none",
        "UserKnownHostsFile ",
        "GlobalKnownHostsFile ",
        "Include ",
        "*",
        "!",
        "?",
        "web1",
        "10.0.0.1",
        "=",
        "\"",
        "\n",
        "\t",
        " ",
        "#",
        ",",
        "@",
        ":",
    ];

    /// Token soup, or lines of `Keyword value…` made of the tokens.
    fn config_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            3 => proptest::sample::select(CONFIG_TOKENS).prop_map(str::to_string),
            1 => any::<char>().prop_map(String::from),
        ];
        let soup = proptest::collection::vec(piece, 0..100).prop_map(|v| v.concat());
        let word = proptest::sample::select(CONFIG_TOKENS).prop_map(|t| t.trim().to_string());
        let line = proptest::collection::vec(word, 0..5).prop_map(|w| w.join(" "));
        let lines = proptest::collection::vec(line, 0..24).prop_map(|l| l.join("\n"));
        prop_oneof![soup, lines]
    }

    proptest::proptest! {
        #![proptest_config(crate::prop_config(1000))]

        /// The ssh config's own readers (the parts russh-config does not do) on hostile
        /// text: no panic, output linear in the input.
        #[test]
        fn ssh_config_text_is_read_in_bounds(text in config_text()) {
            let n = text.len();
            let normal = normalize(&text);
            proptest::prop_assert!(normal.len() <= 2 * n + 16, "{} from {n}", normal.len());
            for line in text.lines() {
                let (k, v) = split_keyword(line);
                proptest::prop_assert!(k.len() + v.len() <= line.len());
            }
            let files = known_hosts_files(&text);
            proptest::prop_assert!(files.len() <= n);
            if let Some(j) = proxy_command_jump(&text) {
                proptest::prop_assert!(j.len() <= n + 6);
            }
        }

        /// Hosts as `ssh` would reach them, from hostile configs: each alias resolves or is
        /// refused, and what resolves is a valid target.
        #[test]
        fn ssh_config_hosts_resolve_or_refuse(
            text in config_text(),
            target in "(web1|root@|:2222|10.0.0.1|\\*| ){0,4}",
        ) {
            let aliases = ssh_config_aliases(&text);
            proptest::prop_assert!(aliases.iter().map(String::len).sum::<usize>() <= text.len());
            for alias in aliases.iter().take(4) {
                if let Ok(h) = host_from_ssh_config(&text, alias) {
                    proptest::prop_assert_eq!(&h.name, alias);
                    proptest::prop_assert!(h.jump.as_ref().map_or(0, String::len) <= 3 * text.len() + 64);
                }
            }
            if let Ok(h) = resolve_target(&text, &target) {
                proptest::prop_assert!(Target::parse(&h.address).is_ok());
            }
        }
    }

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

    /// A ProxyCommand that is not run is reported without its text: it may hold a password.
    #[test]
    fn skipped_proxy_command_is_logged_without_its_text() {
        let config = "Host app\n    HostName 10.0.0.5\n    ProxyCommand sshpass -p hunter2 ssh -W %h:%p gate\n";
        let (host, log) =
            crate::logging::capture::logged("trace", || host_from_ssh_config(config, "app"));
        assert_eq!(host.unwrap().jump, None);
        assert!(log.contains("ProxyCommand") && log.contains("app"), "{log}");
        assert!(
            !log.contains("hunter2") && !log.contains("sshpass"),
            "{log}"
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
Host app5
    HostName 10.0.0.15
    ProxyCommand ssh -q -W %h:%p bastion
Host app6
    HostName 10.0.0.16
    ProxyCommand /usr/bin/ssh -l ops -p 2222 -W %h:%p 203.0.113.5
Host app7
    HostName 10.0.0.17
    ProxyCommand nc -X connect -x proxy:8080 %h %p
";
        let jump = |alias: &str| host_from_ssh_config(JUMPS, alias).unwrap().jump;
        for (alias, want) in [
            ("app1", Some("gate@198.51.100.7:2200")),
            ("app2", Some("ops@203.0.113.5:2222")),
            // Several hops, each resolved on its own, in order.
            ("app3", Some("ops@203.0.113.5:22,gate@198.51.100.7:2200")),
            ("app4", None),
            // The classic `ProxyCommand ssh -W %h:%p HOST` is the same jump.
            ("app5", Some("gate@198.51.100.7:2200")),
            ("app6", Some("ops@203.0.113.5:2222")),
            // Any other command is not run: a direct connection (with a warning).
            ("app7", None),
            ("bastion", None),
        ] {
            assert_eq!(jump(alias).as_deref(), want, "{alias}");
        }
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
    fn config_syntax_ssh_accepts_is_read() {
        // Options before any Host, `=` and tabs, Match blocks: all real-world syntax.
        const CONFIG: &str = "\
# global defaults
Port\t2200

Host web1
\tHostName = 10.0.0.21
Match host other exec \"true\"
    User wrong
Match all
    User=ops
    IdentityFile /keys/all
";
        let web = host_from_ssh_config(CONFIG, "web1").unwrap();
        assert_eq!(
            (web.address.as_str(), web.user.as_str(), web.port),
            ("10.0.0.21", "ops", 2200)
        );
        assert_eq!(
            web.auth,
            AuthMethod::Key {
                path: "/keys/all".into()
            }
        );
        assert_eq!(ssh_config_aliases(CONFIG), vec!["web1".to_string()]);
    }

    #[test]
    fn includes_are_inlined_where_they_stand() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("config.d")).unwrap();
        std::fs::write(
            d.join("config.d/20-db"),
            "Host db1\n    HostName 10.0.0.32\n",
        )
        .unwrap();
        std::fs::write(
            d.join("config.d/10-web"),
            "Host web1\n    HostName 10.0.0.31\nInclude nested\n",
        )
        .unwrap();
        std::fs::write(d.join("nested"), "Host cache1\n    HostName 10.0.0.33\n").unwrap();
        std::fs::write(d.join("not-included"), "Host nope\n").unwrap();
        std::fs::write(
            d.join("config"),
            "Include config.d/* missing-file\nHost *\n    User ops\n",
        )
        .unwrap();
        let hosts = from_ssh_config_file(&d.join("config")).unwrap();
        let got: Vec<(&str, &str, &str)> = hosts
            .iter()
            .map(|h| (h.name.as_str(), h.address.as_str(), h.user.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("web1", "10.0.0.31", "ops"),
                ("cache1", "10.0.0.33", "ops"),
                ("db1", "10.0.0.32", "ops"),
            ]
        );
        // A file that includes itself is stopped, naming the file.
        std::fs::write(d.join("loop"), "Include loop\n").unwrap();
        let e = from_ssh_config_file(&d.join("loop"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("nested more than 16") && e.contains("loop"),
            "{e}"
        );
    }

    #[test]
    fn known_hosts_files_named_for_every_host() {
        const CONFIG: &str = "\
UserKnownHostsFile /etc/corp/known_hosts none
Host lab-*
    UserKnownHostsFile /srv/lab/kh
Host *
    GlobalKnownHostsFile=\"/srv/all/kh\" /etc/corp/known_hosts
";
        // Only those for every host: lab-*'s file would trust its keys for all hosts.
        assert_eq!(
            known_hosts_files(CONFIG),
            ["/etc/corp/known_hosts", "/srv/all/kh"].map(PathBuf::from)
        );
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
