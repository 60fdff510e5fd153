//! `swarmdeck lab …`: start, inspect, enter and tear down practice labs.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::lab::{self, DEFAULT_HOSTS, DEFAULT_NAME, Lab, LabSpec, SUPERNET};

#[derive(Debug, Args)]
pub struct LabArgs {
    #[command(subcommand)]
    pub command: LabCommand,
}

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Start N hosts (network namespaces with a real dockerd and sshd) and write an inventory.
    Up {
        /// Number of hosts.
        #[arg(default_value_t = DEFAULT_HOSTS)]
        hosts: usize,
        /// Lab name: 1 to 8 of a-z, 0-9.
        #[arg(long, default_value = DEFAULT_NAME)]
        name: String,
        /// Seconds to wait for every host's dockerd and sshd.
        #[arg(long, default_value_t = 60)]
        ready_timeout: u64,
    },
    /// Show every lab, its hosts and whether their dockerd and sshd are alive.
    Status,
    /// Stop a lab and remove everything it created.
    Down {
        #[arg(long, default_value = DEFAULT_NAME, conflicts_with = "all")]
        name: String,
        /// Tear down every lab.
        #[arg(long)]
        all: bool,
    },
    /// Run the system ssh client against a lab host (give --name before HOST).
    Ssh {
        #[arg(long, default_value = DEFAULT_NAME)]
        name: String,
        /// Host name (node1…) or address.
        host: String,
        /// Command to run instead of a login shell. One argument is a shell command line
        /// (`'docker ps | head'`); several are passed word by word, each quoted.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        cmd: Vec<String>,
    },
}

pub fn run(args: LabArgs) -> anyhow::Result<()> {
    match args.command {
        LabCommand::Up {
            hosts,
            name,
            ready_timeout,
        } => up(hosts, name, Duration::from_secs(ready_timeout)),
        LabCommand::Status => {
            status();
            Ok(())
        }
        LabCommand::Down { name, all } => down(&name, all),
        LabCommand::Ssh { name, host, cmd } => ssh(&name, &host, &cmd),
    }
}

fn up(hosts: usize, name: String, timeout: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    eprintln!("Starting lab {name:?} with {hosts} hosts…");
    let lab = lab::up(&LabSpec::new(name, hosts).with_ready_timeout(timeout))?;
    print_up(&lab, started.elapsed().as_secs_f64());
    Ok(())
}

/// `--name X` for follow-up commands, empty for the default lab.
fn name_flag(name: &str) -> String {
    if name == DEFAULT_NAME {
        String::new()
    } else {
        format!(" --name {name}")
    }
}

fn print_up(lab: &Lab, secs: f64) {
    println!(
        "Lab {:?} is up: {} hosts on {} in {secs:.1} s",
        lab.name,
        lab.hosts.len(),
        lab.subnet
    );
    for h in &lab.hosts {
        println!("  {:<8} {:<15} netns {}", h.name, h.ip, h.netns);
    }
    println!(
        "  {:<8} {:<15} (this machine, {})",
        "you", lab.workstation_ip, lab.root_veth
    );
    println!("Client key:   {}", lab.key.display());
    println!("Known hosts:  {}", lab.known_hosts.display());
    println!("Inventory:    {}", lab.inventory.display());
    println!(
        "Logs:         {}/n*/{{boot,dockerd,sshd}}.log",
        lab.dir.display()
    );
    let n = name_flag(&lab.name);
    let first = &lab.hosts[0];
    println!("Try:");
    println!("  swarmdeck lab ssh{n} {} docker info", first.name);
    println!(
        "  ssh -i {} -o UserKnownHostsFile={} -o IdentitiesOnly=yes root@{}",
        lab.key.display(),
        lab.known_hosts.display(),
        first.ip
    );
    println!(
        "  swarmdeck lab ssh{n} {} docker swarm init --advertise-addr {}",
        first.name, first.ip
    );
    println!(
        "  swarmdeck lab ssh{n} {} docker run --rm {} ping -c1 {}",
        first.name,
        lab::PROBE_IMAGE,
        lab.workstation_ip
    );
    println!("  swarmdeck lab status");
    println!("  swarmdeck lab down{n}");
}

fn yes_no(b: bool) -> &'static str {
    if b { "up" } else { "DOWN" }
}

fn status() {
    let labs = lab::list();
    if labs.is_empty() {
        println!("No labs. Start one with `swarmdeck lab up`.");
    }
    for l in &labs {
        match &l.lab {
            Some(lab) => println!(
                "Lab {} ({}, state {})",
                l.name,
                lab.subnet,
                lab.dir.display()
            ),
            None => println!("Lab {}", l.name),
        }
        if let Some(p) = &l.problem {
            println!("  problem: {p}");
        }
        if !l.hosts.is_empty() {
            println!(
                "  {:<8} {:<15} {:<7} {:<7} {:<7} SWARM",
                "HOST", "IP", "NETNS", "DOCKERD", "SSHD"
            );
        }
        for h in &l.hosts {
            println!(
                "  {:<8} {:<15} {:<7} {:<7} {:<7} {}",
                h.name,
                h.ip,
                yes_no(h.netns_exists),
                yes_no(h.dockerd_alive),
                yes_no(h.sshd_alive),
                h.swarm.as_deref().unwrap_or("-")
            );
        }
    }
    for o in lab::orphans() {
        println!(
            "Leftover namespaces of lab {o} without state; remove with `swarmdeck lab down --name {o}`"
        );
    }
    println!(
        "Note: {SUPERNET} is blackholed in the root namespace while any lab is up, so addresses of \
         a lab being torn down never route out of this machine; the last `lab down` removes the \
         route, and swarmdeck never connects to a lab address no lab holds."
    );
}

fn down(name: &str, all: bool) -> anyhow::Result<()> {
    let names: Vec<String> = if all {
        let mut v: Vec<String> = lab::list().into_iter().map(|l| l.name).collect();
        v.extend(lab::orphans());
        v
    } else {
        vec![name.to_string()]
    };
    for n in &names {
        let started = Instant::now();
        lab::down(n).with_context(|| format!("tearing down lab {n:?}"))?;
        println!(
            "Lab {n:?} is down ({:.1} s); nothing of it is left.",
            started.elapsed().as_secs_f64()
        );
    }
    if all && names.is_empty() {
        println!("No labs to tear down.");
    }
    Ok(())
}

fn ssh(name: &str, host: &str, cmd: &[String]) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    let lab = lab::load(name)?;
    let mut command = lab.ssh_command(host, cmd)?;
    // exec: the user's terminal talks to ssh directly, and ssh's exit code is ours.
    let err = command.exec();
    Err(err).context("could not run the system `ssh` client (package openssh-client)")
}
