//! The baseline: the plain docker CLI talking to lab hosts with `-H ssh://root@<ip>`, as a
//! script would. It gets its own HOME (`.ssh/config` naming the lab key and known_hosts,
//! strict host-key checking) and docker config dir, so nothing of the user's is used.
//!
//! OpenSSH reads `~/.ssh/config` from the passwd entry, not `$HOME`, so a two-line `ssh`
//! wrapper first on PATH passes that config with `-F` (the docker CLI runs `ssh` from PATH).
//! [`SshHome`] is that set-up alone, for baselines that run `ssh` themselves.

use std::ffi::OsString;
use std::io::{Read, Seek, SeekFrom};
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::lab::Lab;

/// A docker command still running after this is counted as hung and killed.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn find_in(path: &OsString, program: &str) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// `"…"` for ssh_config, refusing what it cannot quote.
fn ssh_config_path(p: &Path) -> anyhow::Result<String> {
    let s = p.to_str().context("non-UTF-8 path")?;
    if s.contains('"') || s.contains('\n') {
        bail!("path {s:?} cannot be written into an ssh_config");
    }
    Ok(format!("\"{s}\""))
}

/// A HOME of its own for the system `ssh`: `.ssh/config` naming the lab key and known_hosts
/// (strict host-key checking, keys only), and an `ssh` wrapper first on PATH that passes
/// that config. Whatever runs with [`SshHome::env`] and calls `ssh` uses only the lab's files.
pub struct SshHome {
    home: PathBuf,
    path_env: OsString,
    /// The real client the wrapper runs.
    pub ssh: PathBuf,
}

impl SshHome {
    /// Sets it up under `dir` for `lab`. Uses the `ssh` a user's PATH finds.
    pub fn new(lab: &Lab, dir: &Path) -> anyhow::Result<SshHome> {
        let user_path = std::env::var_os("PATH").unwrap_or_else(|| SYSTEM_PATH.into());
        let ssh = find_in(&user_path, "ssh")
            .or_else(|| find_in(&SYSTEM_PATH.into(), "ssh"))
            .context("no `ssh` on PATH")?;
        let home = dir.join("home");
        let ssh_dir = home.join(".ssh");
        let bin = dir.join("bin");
        for d in [&ssh_dir, &bin] {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        std::fs::set_permissions(&ssh_dir, std::fs::Permissions::from_mode(0o700))?;
        let config = ssh_dir.join("config");
        let text = format!(
            "Host *\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  \
             GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  BatchMode yes\n",
            ssh_config_path(&lab.key)?,
            ssh_config_path(&lab.known_hosts)?
        );
        crate::fsutil::write_atomic(&config, text.as_bytes(), 0o600)
            .with_context(|| format!("writing {}", config.display()))?;
        let wrapper = format!(
            "#!/bin/sh\nexec {} -F {} \"$@\"\n",
            shell_escape::unix::escape(ssh.to_string_lossy()),
            shell_escape::unix::escape(config.to_string_lossy())
        );
        crate::fsutil::write_atomic(&bin.join("ssh"), wrapper.as_bytes(), 0o755)
            .context("writing the ssh wrapper")?;
        let mut paths = vec![bin];
        paths.extend(std::env::split_paths(&user_path));
        let path_env = std::env::join_paths(paths).context("building PATH")?;
        Ok(SshHome {
            home,
            path_env,
            ssh,
        })
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    /// HOME and PATH (wrapper first) for `c`, stdin closed.
    pub fn env(&self, c: &mut Command) {
        c.env("HOME", &self.home)
            .env("PATH", &self.path_env)
            .stdin(Stdio::null());
    }
}

/// Waits for `child` until `deadline`: `None` if it is still running then (the caller
/// decides how to stop it).
pub fn wait_until(child: &mut Child, deadline: Instant) -> std::io::Result<Option<ExitStatus>> {
    loop {
        if let Some(st) = child.try_wait()? {
            return Ok(Some(st));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

pub struct DockerCli {
    docker: PathBuf,
    env: SshHome,
    pub version: String,
    pub ssh: PathBuf,
}

impl DockerCli {
    /// Sets up HOME under `dir` for `lab` ([`SshHome`]) with a docker config dir of its
    /// own. Uses the `docker` and `ssh` a user's PATH finds.
    pub fn new(lab: &Lab, dir: &Path) -> anyhow::Result<DockerCli> {
        let user_path = std::env::var_os("PATH").unwrap_or_else(|| SYSTEM_PATH.into());
        let docker = find_in(&user_path, "docker")
            .or_else(|| find_in(&SYSTEM_PATH.into(), "docker"))
            .context("no `docker` CLI on PATH to compare with")?;
        let env = SshHome::new(lab, dir)?;
        let docker_dir = env.home().join(".docker");
        std::fs::create_dir_all(&docker_dir)
            .with_context(|| format!("creating {}", docker_dir.display()))?;
        let mut cli = DockerCli {
            docker,
            ssh: env.ssh.clone(),
            env,
            version: String::new(),
        };
        let out = cli
            .base_command()
            .arg("--version")
            .output()
            .context("running docker --version")?;
        cli.version = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Ok(cli)
    }

    pub fn path(&self) -> &Path {
        &self.docker
    }

    fn base_command(&self) -> Command {
        let mut c = Command::new(&self.docker);
        self.env.env(&mut c);
        c.env("DOCKER_CONFIG", self.env.home().join(".docker"))
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH");
        c
    }

    /// `docker -H ssh://root@<ip> <args>`, output dropped. `Ok(false)` if it had not
    /// finished after [`COMMAND_TIMEOUT`] (it is killed then); failure is an error.
    pub fn run(&self, ip: Ipv4Addr, args: &[&str]) -> anyhow::Result<bool> {
        Ok(self.output(ip, args)?.is_some())
    }

    /// Like [`DockerCli::run`], keeping stdout: `None` if it was killed as hung.
    pub fn output(&self, ip: Ipv4Addr, args: &[&str]) -> anyhow::Result<Option<String>> {
        let mut stderr = tempfile::tempfile().context("creating a temporary file")?;
        let mut stdout = tempfile::tempfile().context("creating a temporary file")?;
        let mut child = self
            .base_command()
            .arg("-H")
            .arg(format!("ssh://root@{ip}"))
            .args(args)
            .stdout(stdout.try_clone()?)
            .stderr(stderr.try_clone()?)
            .spawn()
            .with_context(|| format!("running docker {}", args.join(" ")))?;
        let Some(status) = wait_until(&mut child, Instant::now() + COMMAND_TIMEOUT)? else {
            // Our own child, by its handle.
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        };
        let read = |f: &mut std::fs::File| -> anyhow::Result<String> {
            let mut text = String::new();
            f.seek(SeekFrom::Start(0))?;
            f.read_to_string(&mut text)?;
            Ok(text)
        };
        if !status.success() {
            let text = read(&mut stderr)?;
            bail!(
                "`docker -H ssh://root@{ip} {}` failed ({status}): {}",
                args.join(" "),
                crate::redact::redact(text.trim())
            );
        }
        Ok(Some(read(&mut stdout)?))
    }
}
