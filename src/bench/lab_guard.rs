//! A lab the benchmark starts for itself and always tears down (also on error or panic).

use std::io::Write;
use std::process::Stdio;

use anyhow::{Context, bail};

use crate::lab::{self, Lab};

pub struct LabGuard {
    pub lab: Lab,
    torn_down: bool,
}

impl LabGuard {
    pub fn up(hosts: usize) -> anyhow::Result<LabGuard> {
        let lab = lab::up_unique('b', hosts)
            .with_context(|| format!("starting a benchmark lab of {hosts} hosts"))?;
        Ok(LabGuard {
            lab,
            torn_down: false,
        })
    }

    /// Tears down now, reporting errors (drop only logs them).
    pub fn down(mut self) -> anyhow::Result<()> {
        self.torn_down = true;
        lab::down(&self.lab.name).with_context(|| format!("tearing down lab {}", self.lab.name))
    }

    /// Runs a shell line on a lab host over the system ssh client (strict host keys, lab
    /// key). `stdin` is sent to the command (how secrets travel: never on a command line).
    /// Returns stdout only when `keep_stdout`; errors carry redacted stderr.
    pub fn ssh(
        &self,
        host: &str,
        line: &str,
        stdin: Option<&str>,
        keep_stdout: bool,
    ) -> anyhow::Result<String> {
        let mut cmd = self.lab.ssh_command(host, &[line.to_string()])?;
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(if keep_stdout {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().context("running ssh")?;
        if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(data.as_bytes())
                .context("writing to ssh's stdin")?;
        }
        let out = child.wait_with_output().context("waiting for ssh")?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            bail!(
                "{host}: a setup command failed ({}): {}",
                out.status,
                crate::redact::redact(err.trim())
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Makes every host a swarm manager: `swarm init` on the first, the others join with
    /// the manager token (sent over stdin, never printed).
    pub fn form_swarm(&self) -> anyhow::Result<()> {
        let first = &self.lab.hosts[0];
        self.ssh(
            &first.name,
            &format!("docker swarm init --advertise-addr {}", first.ip),
            None,
            false,
        )?;
        if self.lab.hosts.len() > 1 {
            let token = crate::redact::Secret::new(self.ssh(
                &first.name,
                "docker swarm join-token -q manager",
                None,
                true,
            )?);
            for h in &self.lab.hosts[1..] {
                self.ssh(
                    &h.name,
                    &format!(
                        "docker swarm join --advertise-addr {} --token \"$(cat)\" {}:2377 >/dev/null",
                        h.ip, first.ip
                    ),
                    Some(token.expose()),
                    false,
                )?;
            }
        }
        Ok(())
    }
}

impl Drop for LabGuard {
    fn drop(&mut self) {
        if !self.torn_down
            && let Err(e) = lab::down(&self.lab.name)
        {
            eprintln!(
                "tearing down benchmark lab {}: {e}; run `swarmdeck lab down --name {}`",
                self.lab.name, self.lab.name
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_valid_lab_names() {
        for _ in 0..40 {
            let n = crate::lab::unique_name('b');
            crate::lab::validate_name(&n).unwrap();
        }
    }
}
