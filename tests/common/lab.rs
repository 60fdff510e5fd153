//! `TestLab`: a uniquely named practice lab for one test, torn down on drop (also when the
//! test panics). Lab tests need root and network namespaces: without them a test is skipped
//! loudly, except under CI (`CI` set), where it fails.

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use swarmdeck::cluster::Cluster;
use swarmdeck::lab::{self, Lab, LabError};
use swarmdeck::ssh::known_hosts::KnownHosts;
use swarmdeck::ssh::{HostKeyPolicy, NoSecrets, RemoteCommand, Secret, SshOptions, SshSession};

/// Whether lab tests can run here. Skips (None) with a loud message, or panics under CI.
pub fn lab_available() -> bool {
    let why = match lab::preflight() {
        Ok(_) => match std::process::Command::new("unshare")
            .args(["-n", "true"])
            .status()
        {
            Ok(s) if s.success() => return true,
            _ => "network namespaces are unavailable (`unshare -n true` failed)".to_string(),
        },
        Err(e @ (LabError::NotRoot | LabError::NotLinux { .. } | LabError::MissingTool { .. })) => {
            e.to_string()
        }
        Err(e) => panic!("lab preflight failed unexpectedly: {e}"),
    };
    if std::env::var_os("CI").is_some() {
        panic!("CI must run the lab tests, but: {why}");
    }
    eprintln!();
    eprintln!("==================================================================");
    eprintln!("LAB TEST NOT RUN: needs root and network namespaces: {why}");
    eprintln!("==================================================================");
    false
}

/// The inventory the lab wrote (hosts, key, known_hosts).
pub fn inventory(lab: &TestLab) -> swarmdeck::inventory::Inventory {
    swarmdeck::inventory::Inventory::load(&lab.inventory).expect("lab writes a valid inventory")
}

pub struct TestLab {
    pub lab: Lab,
    torn_down: bool,
}

impl std::ops::Deref for TestLab {
    type Target = Lab;
    fn deref(&self) -> &Lab {
        &self.lab
    }
}

impl TestLab {
    /// Starts a lab of `hosts` hosts, or returns None when lab tests cannot run here.
    pub fn start(hosts: usize) -> Option<TestLab> {
        if !lab_available() {
            return None;
        }
        match lab::up_unique('t', hosts) {
            Ok(lab) => Some(TestLab {
                lab,
                torn_down: false,
            }),
            Err(e) => panic!("lab up ({hosts} hosts) failed: {e}"),
        }
    }

    /// Tears down now (instead of on drop), reporting errors.
    pub fn down(mut self) -> Result<(), LabError> {
        self.torn_down = true;
        lab::down(&self.lab.name)
    }

    /// Runs `words` on `host` through the system ssh client with the lab's key and strict
    /// host-key checking against the lab's known_hosts.
    pub fn ssh(&self, host: &str, words: &[&str]) -> Output {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        let mut cmd = self.lab.ssh_command(host, &words).expect("ssh command");
        cmd.output().expect("run ssh")
    }

    /// Like `ssh`, but asserts success and returns trimmed stdout.
    pub fn ssh_ok(&self, host: &str, words: &[&str]) -> String {
        let out = self.ssh(host, words);
        assert!(
            out.status.success(),
            "ssh {host} {words:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// `docker service create --detach` on node1 of the preloaded probe image (no registry
    /// needed) running `command`, with `opts`, as a user would with the plain docker CLI.
    pub fn create_service(&self, name: &str, opts: &[&str], command: &[&str]) {
        let mut words = vec![
            "docker",
            "service",
            "create",
            "--detach",
            "--no-resolve-image",
            "--name",
            name,
        ];
        words.extend_from_slice(opts);
        words.push("swarmdeck/probe:1");
        words.extend_from_slice(command);
        self.ssh_ok("node1", &words);
    }

    /// Runs a shell line on a host with `stdin` as its input. Fails with redacted stderr and
    /// without the input: secrets travel on stdin and never reach test output.
    pub fn ssh_quiet(&self, host: &str, line: &str, stdin: &str) -> String {
        let cmd = self.ssh_command(host, &[line.to_string()]).unwrap();
        let out = super::output_with_stdin(cmd, stdin.as_bytes());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{host}: `{line}` failed: {}",
            swarmdeck::redact::redact(&stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// node1 inits a swarm; every other host joins as a worker, `before_join(host)` running
    /// just before.
    pub fn form_swarm(&self, before_join: impl Fn(&str)) {
        let first = &self.hosts[0];
        // `swarm init` prints a join command with the token: keep it out of the output.
        let init = format!("docker swarm init --advertise-addr {} >/dev/null", first.ip);
        self.ssh_quiet(&first.name, &init, "");
        for h in &self.hosts[1..] {
            before_join(&h.name);
            self.join_worker(&h.name);
        }
        let nodes = self.ssh_ok(&first.name, &["docker", "node", "ls", "-q"]);
        assert_eq!(nodes.lines().count(), self.hosts.len(), "{nodes}");
    }

    /// Creates an attachable overlay on node1 (a manager), with `extra` options.
    pub fn create_overlay(&self, name: &str, extra: &[&str]) {
        let mut words = vec![
            "docker",
            "network",
            "create",
            "-d",
            "overlay",
            "--attachable",
        ];
        words.extend_from_slice(extra);
        words.push(name);
        self.ssh_ok("node1", &words);
    }

    /// `host` joins node1's swarm as a worker. The token is handed to `docker swarm join` on
    /// stdin: it is never printed or put on a command line.
    pub fn join_worker(&self, host: &str) {
        let first = &self.hosts[0];
        let token =
            Secret::new(self.ssh_quiet(&first.name, "docker swarm join-token -q worker", ""));
        assert!(token.expose().starts_with("SWMTKN-"));
        let ip = self.host(host).expect("a lab host").ip;
        let join = format!(
            "docker swarm join --advertise-addr {ip} --token \"$(cat)\" {}:2377 >/dev/null",
            first.ip
        );
        self.ssh_quiet(host, &join, token.expose());
    }

    /// Drops incoming (`INPUT`) or outgoing (`OUTPUT`) `proto` traffic to `port` on `host`:
    /// a firewall fault for the product to find.
    pub fn drop_port(&self, host: &str, chain: &str, proto: &str, port: u16) {
        self.drop_rule(host, "-I", chain, proto, port);
    }

    /// Removes what [`TestLab::drop_port`] added.
    pub fn undrop_port(&self, host: &str, chain: &str, proto: &str, port: u16) {
        self.drop_rule(host, "-D", chain, proto, port);
    }

    fn drop_rule(&self, host: &str, op: &str, chain: &str, proto: &str, port: u16) {
        let port = port.to_string();
        let rule = [
            "iptables", op, chain, "-p", proto, "--dport", &port, "-j", "DROP",
        ];
        self.ssh_ok(host, &rule);
    }

    /// SSH options that check host keys strictly against the lab's known_hosts; keys the
    /// app would learn go to `app_kh`, never to the user's files.
    pub fn ssh_options(&self, app_kh: &Path) -> SshOptions {
        SshOptions {
            host_key_policy: HostKeyPolicy::Strict,
            known_hosts: KnownHosts::with_files(
                vec![self.known_hosts.clone()],
                app_kh.to_path_buf(),
            ),
            // Generous: lab tests share two cores with many engines.
            deadlines: swarmdeck::limits::Deadlines {
                connect: Duration::from_secs(5),
                login: Duration::from_secs(20),
                request: Duration::from_secs(15),
                long: Duration::from_secs(120),
            },
            ..SshOptions::default()
        }
    }

    /// A cluster over the lab's inventory with [`TestLab::ssh_options`].
    pub fn cluster(&self, app_kh: &Path) -> Cluster {
        let inv = inventory(self);
        Cluster::new(inv, "lab", self.ssh_options(app_kh), Arc::new(NoSecrets))
    }
}

impl Drop for TestLab {
    fn drop(&mut self) {
        if !self.torn_down
            && let Err(e) = lab::down(&self.lab.name)
        {
            eprintln!("tearing down test lab {}: {e}", self.lab.name);
        }
    }
}

/// How user `ops` may reach Docker on its host.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum OpsAccess {
    /// Not at all: not in the docker group, no sudo rule.
    None,
    DockerGroup,
    /// A NOPASSWD sudo rule for the docker CLI, not in the docker group.
    SudoDocker,
}

/// Adds user `ops` (password login, home in the host's own /run) to ONE lab host through
/// its root session, or changes its access when it exists. Lab hosts have their own /etc, so
/// the workstation's is never written.
pub async fn add_ops_user(root: &SshSession, password: &str, access: OpsAccess) {
    let mut openssl = std::process::Command::new("openssl");
    openssl.args(["passwd", "-6", "-stdin"]);
    let hash = super::output_with_stdin(openssl, password.as_bytes());
    assert!(hash.status.success(), "openssl passwd failed");
    let hash = String::from_utf8(hash.stdout).unwrap().trim().to_string();
    let script = r#"set -e
id ops >/dev/null 2>&1 || useradd -M -d /run/ops -s /bin/sh -p "$1" ops
mkdir -p /run/ops && chown ops: /run/ops
gpasswd -d ops docker >/dev/null 2>&1 || true
rm -f /etc/sudoers.d/swarmdeck-ops
case "$2" in
docker-group) usermod -aG docker ops ;;
sudo-docker)
  cmds=
  for p in /usr/local/bin/docker /usr/bin/docker; do
    if [ -x "$p" ]; then cmds="$cmds${cmds:+, }$p"; fi
  done
  echo "ops ALL=(root) NOPASSWD: $cmds" > /etc/sudoers.d/swarmdeck-ops
  chmod 0440 /etc/sudoers.d/swarmdeck-ops
  visudo -cf /etc/sudoers.d/swarmdeck-ops >/dev/null ;;
esac
"#;
    let access = match access {
        OpsAccess::None => "none",
        OpsAccess::DockerGroup => "docker-group",
        OpsAccess::SudoDocker => "sudo-docker",
    };
    let out = root
        .exec(&RemoteCommand::new([
            "sh", "-c", script, "sh", &hash, access,
        ]))
        .await
        .unwrap();
    assert!(out.success(), "{}", out.stderr_lossy());
}
