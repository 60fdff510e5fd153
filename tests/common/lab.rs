//! `TestLab`: a uniquely named practice lab for one test, torn down on drop (also when the
//! test panics). Lab tests need root and network namespaces: without them a test is skipped
//! loudly, except under CI (`CI` set), where it fails.

use std::process::Output;

use swarmdeck::lab::{self, Lab, LabError, LabSpec};

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
        let name = lab::unique_name('t');
        let spec = LabSpec::new(name.clone(), hosts);
        let lab = match lab::up(&spec) {
            // A lab of a crashed earlier test process that had our pid: it is dead, so its
            // leftovers are ours to remove.
            Err(LabError::NameInUse { .. }) => {
                let _ = lab::down(&name);
                lab::up(&spec)
            }
            other => other,
        };
        match lab {
            Ok(lab) => Some(TestLab {
                lab,
                torn_down: false,
            }),
            Err(e) => panic!("lab up {name} failed: {e}"),
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
