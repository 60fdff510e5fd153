//! Building and operating swarms on real hosts: a practice lab of network namespaces with
//! real dockerd 20.10 and sshd, driven through the `swarmdeck` binary and the library. No
//! mocks. Every CLI output and audit file is checked for leaked tokens and keys.

mod common;

use common::{output_with_stdin, rt, wait_for};

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::lab::TestLab;
use swarmdeck::snapshot::Role;
use swarmdeck::swarm::{self, BootstrapOptions, OverlaySpec};

/// A bootstrap with one manager and the overlay appnet, applied.
const BOOTSTRAP_APPNET: [&str; 6] = [
    "bootstrap",
    "--managers",
    "1",
    "--overlay",
    "appnet",
    "--yes",
];

/// Runs the CLI against the lab with its own HOME and audit log.
struct Cli<'a> {
    lab: &'a TestLab,
    home: tempfile::TempDir,
    audit: PathBuf,
    /// Everything the CLI printed, for the secret check.
    seen: std::cell::RefCell<String>,
    /// `SWARMDECK_LOG` for every run (None: unset).
    log: Option<&'static str>,
}

impl<'a> Cli<'a> {
    fn new(lab: &'a TestLab) -> Self {
        let home = tempfile::tempdir().unwrap();
        let audit = home.path().join("audit.jsonl");
        Cli {
            lab,
            home,
            audit,
            seen: Default::default(),
            log: None,
        }
    }

    /// Every run logs everything it can (`SWARMDECK_LOG=trace`): stderr then holds every
    /// log line of every crate, for the secret check.
    fn at_trace(lab: &'a TestLab) -> Self {
        Cli {
            log: Some("trace"),
            ..Cli::new(lab)
        }
    }

    /// The CLI against the lab, with this test's HOME and audit log.
    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_swarmdeck"));
        cmd.arg("--inventory")
            .arg(&self.lab.inventory)
            .args(args)
            .env("HOME", self.home.path())
            .env("SWARMDECK_AUDIT_LOG", &self.audit);
        match self.log {
            Some(level) => cmd.env("SWARMDECK_LOG", level),
            None => cmd.env_remove("SWARMDECK_LOG"),
        };
        cmd
    }

    /// Records what a run printed (for the secret check) and shows it in the test log.
    fn seen(&self, shown: &str, out: &Output) -> (bool, String) {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("$ swarmdeck {shown}\n{text}");
        self.seen.borrow_mut().push_str(&text);
        (out.status.success(), text)
    }

    fn run(&self, args: &[&str]) -> (bool, String) {
        let t = Instant::now();
        let out = self.command(args).output().unwrap();
        self.seen(&format!("{} ({:?})", args.join(" "), t.elapsed()), &out)
    }

    /// Runs with `stdin` as input; what it prints is checked like any other output.
    fn run_with_stdin(&self, args: &[&str], stdin: &str) -> (bool, String) {
        let out = output_with_stdin(self.command(args), stdin.as_bytes());
        self.seen(&format!("{} < (stdin)", args.join(" ")), &out)
    }

    /// Stdout of a command that prints a secret on purpose: kept out of the test output
    /// and of the leak check. Its stderr (the logs) is checked like any other output.
    fn secret(&self, args: &[&str]) -> String {
        let out = self.command(args).output().unwrap();
        let logs = String::from_utf8_lossy(&out.stderr);
        self.seen.borrow_mut().push_str(&logs);
        assert!(
            out.status.success(),
            "swarmdeck {args:?} failed:\n{}",
            swarmdeck::redact::redact(&logs)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, text) = self.run(args);
        assert!(ok, "swarmdeck {args:?} failed:\n{text}");
        text
    }

    fn fails(&self, args: &[&str]) -> String {
        let (ok, text) = self.run(args);
        assert!(!ok, "swarmdeck {args:?} should have failed:\n{text}");
        text
    }

    /// The firewall fix for node1 on `backend`: the plan is shown first (holding each of
    /// `plan_has`), then applied and verified.
    fn fix_firewall_on_node1(&self, backend: &str, plan_has: &[&str]) {
        let text = self.ok(&["firewall", "--only", "node1"]);
        assert!(text.contains(&format!("node1 ({backend})")), "{text}");
        for want in plan_has {
            assert!(text.contains(want), "{want:?} not in the plan:\n{text}");
        }
        let text = self.ok(&["firewall", "--only", "node1", "--yes"]);
        assert!(text.contains("verified"), "{text}");
    }

    /// Bootstrap of one manager and two workers on the lab's three hosts; nothing leaked.
    fn bootstrap_three_hosts(&self) {
        self.ok(&["bootstrap", "--managers", "1", "--yes"]);
        let nodes = self.lab.ssh_ok("node1", &["docker", "node", "ls", "-q"]);
        assert_eq!(nodes.lines().count(), 3, "{nodes}");
        self.assert_no_secrets();
    }

    /// No join token or unlock key in anything printed or in the audit log.
    fn assert_no_secrets(&self) {
        let audit = std::fs::read_to_string(&self.audit).unwrap_or_default();
        for (what, text) in [("output", self.seen.borrow().clone()), ("audit", audit)] {
            for secret in ["SWMTKN-", "SWMKEY-"] {
                assert!(
                    !text.contains(secret),
                    "{secret} leaked into the {what}:\n{text}"
                );
            }
        }
    }
}

fn local_state(lab: &TestLab, host: &str) -> String {
    lab.ssh_ok(
        host,
        &["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"],
    )
}

fn kill_dockerd(lab: &TestLab, i: usize) -> Vec<String> {
    let pid = current_dockerd(lab, i);
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let argv: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    assert!(argv[0].ends_with("dockerd"), "{argv:?}");
    let st = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    argv
}

/// The host's running dockerd (recorded at boot, or the one we restarted).
fn current_dockerd(lab: &TestLab, i: usize) -> u32 {
    let h = &lab.hosts[i];
    let out = lab.ssh_ok(&h.name, &["cat", "/run/docker.pid"]);
    out.trim()
        .parse()
        .unwrap_or_else(|_| h.pids.dockerd.unwrap())
}

/// Starts dockerd again inside the host (through its sshd, so in its namespaces).
fn restart_dockerd(lab: &TestLab, i: usize, argv: &[String]) {
    let host = lab.hosts[i].name.clone();
    let log = lab.hosts[i].dir.join("dockerd.restart.log");
    let mut words = vec![
        "sh".to_string(),
        "-c".into(),
        // The killed dockerd's containerd may linger (or wait unreaped): a new dockerd
        // that finds its pid file waits for it forever. Stop it and start afresh.
        "log=$1; shift; p=/run/docker/containerd/containerd.pid; \
         if [ -f \"$p\" ]; then kill -9 \"$(cat \"$p\")\" 2>/dev/null; fi; \
         rm -f /run/docker.pid \"$p\"; setsid -f \"$@\" >>\"$log\" 2>&1 </dev/null"
            .into(),
        "sh".into(),
        log.to_string_lossy().into_owned(),
    ];
    words.extend(argv.iter().cloned());
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    lab.ssh_ok(&host, &w);
    let t = Instant::now();
    while !lab
        .ssh(&host, &["docker", "info", "--format", "{{.ID}}"])
        .status
        .success()
    {
        if t.elapsed() > Duration::from_secs(120) {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("dockerd on {host} did not come back:\n{tail}");
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    eprintln!("dockerd on {host} back after {:?}", t.elapsed());
}

/// What boot makes of node1's saved rules: `script` loads and lists them in an empty
/// ruleset (a new network namespace of the host).
fn at_boot(lab: &TestLab, script: &str) -> String {
    lab.ssh_ok("node1", &["unshare", "-n", "sh", "-c", script])
}

fn audit_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The seed scenario from bare hosts, the second bootstrap that changes nothing, the
/// encrypted-overlay kernel refusal, the audit export, and no secrets anywhere.
#[test]
fn seed_scenario_from_bare_hosts() {
    let Some(lab) = TestLab::start(3) else {
        return;
    };
    let cli = Cli::new(&lab);

    // Encrypted overlay on this kernel: refused with the kernel's reason, before anything.
    let text = cli.fails(&["bootstrap", "--overlay", "secure", "--encrypted", "--yes"]);
    assert!(
        text.contains("refusing to create an encrypted overlay"),
        "{text}"
    );
    assert!(
        text.contains("CONFIG_INET_ESP") && text.contains("node1"),
        "{text}"
    );
    assert_eq!(local_state(&lab, "node1"), "inactive");

    // The plan first, not applied.
    let text = cli.ok(&["bootstrap", "--managers", "1", "--overlay", "appnet"]);
    let ip1 = lab.hosts[0].ip.to_string();
    assert!(
        text.contains(&format!("$ docker swarm init --advertise-addr {ip1}")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "docker swarm join --token <redacted> --advertise-addr {} {ip1}:2377",
            lab.hosts[1].ip
        )),
        "{text}"
    );
    assert!(
        text.contains("docker network create -d overlay --attachable appnet"),
        "{text}"
    );
    assert!(text.contains("run again with --yes"), "{text}");
    assert_eq!(local_state(&lab, "node1"), "inactive");

    let t = Instant::now();
    cli.ok(&BOOTSTRAP_APPNET);
    eprintln!("bootstrap applied in {:?}", t.elapsed());
    for h in ["node1", "node2", "node3"] {
        assert_eq!(local_state(&lab, h), "active", "{h}");
    }
    let nodes = lab.ssh_ok(
        "node1",
        &[
            "docker",
            "node",
            "ls",
            "--format",
            "{{.Hostname}} {{.Status}} {{.ManagerStatus}}",
        ],
    );
    assert_eq!(nodes.lines().count(), 3, "{nodes}");
    assert!(nodes.contains("node1 Ready Leader"), "{nodes}");

    // Idempotent: the second run has nothing to do and changes nothing.
    let before = audit_text(&cli.audit).lines().count();
    let text = cli.ok(&BOOTSTRAP_APPNET);
    assert!(text.contains("nothing to do"), "{text}");
    assert_eq!(audit_text(&cli.audit).lines().count(), before);

    // Containers on all three hosts reach each other by name over the overlay.
    for i in 1..=3 {
        lab.ssh_ok(
            &format!("node{i}"),
            &[
                "docker",
                "run",
                "-d",
                "--name",
                &format!("c{i}"),
                "--network",
                "appnet",
                "swarmdeck/probe:1",
                "sleep",
                "3600",
            ],
        );
    }
    for i in 1..=3 {
        for j in (1..=3).filter(|j| *j != i) {
            let out = lab.ssh(
                &format!("node{i}"),
                &[
                    "docker",
                    "exec",
                    &format!("c{i}"),
                    "ping",
                    "-c",
                    "2",
                    "-W",
                    "3",
                    &format!("c{j}"),
                ],
            );
            assert!(
                out.status.success(),
                "c{i} -> c{j}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    // An encrypted overlay on the running swarm: refused with the kernel reason.
    let text = cli.fails(&["network", "create", "secure", "--encrypted", "--yes"]);
    assert!(text.contains("CONFIG_CRYPTO_GCM"), "{text}");
    // A plain one is created; an invalid name never reaches a host.
    cli.ok(&["network", "create", "plain", "--mtu", "1400", "--yes"]);
    let opts = lab.ssh_ok(
        "node1",
        &[
            "docker",
            "network",
            "inspect",
            "plain",
            "--format",
            "{{json .Options}}",
        ],
    );
    assert!(
        opts.contains("\"com.docker.network.driver.mtu\":\"1400\""),
        "{opts}"
    );
    let text = cli.fails(&["network", "create", "bad;name", "--yes"]);
    assert!(text.contains("invalid network name"), "{text}");

    // Preflight on the built swarm: the kernel warning names the reason.
    let (_, text) = cli.run(&["preflight"]);
    assert!(text.contains("encrypted overlays will not work"), "{text}");

    // The audit log and its export.
    let audit = audit_text(&cli.audit);
    assert_eq!(
        audit
            .lines()
            .filter(|l| l.contains("\"outcome\":\"ok\""))
            .count(),
        5,
        "{audit}"
    );
    let script = cli.ok(&["audit", "export"]);
    assert!(
        script.contains(&format!("docker swarm init --advertise-addr {ip1}")),
        "{script}"
    );
    assert!(
        script.contains("docker swarm join-token -q worker"),
        "{script}"
    );
    assert!(!script.contains("<redacted>"), "{script}");
    cli.ok(&["audit", "show"]);
    cli.assert_no_secrets();
}

/// Five hosts, three managers; 2377/tcp dropped on the first manager: preflight names the
/// host and port, the firewall plan fixes it, and the joins then succeed.
#[test]
fn blocked_manager_port_is_found_fixed_and_five_hosts_get_three_managers() {
    let Some(lab) = TestLab::start(5) else {
        return;
    };
    let cli = Cli::new(&lab);
    lab.drop_port("node1", "INPUT", "tcp", 2377);

    let text = cli.fails(&["preflight"]);
    assert!(
        text.contains("2377/tcp on node1 gets no answer from node2, node3, node4, node5"),
        "{text}"
    );
    assert!(text.contains("swarmdeck firewall --only node1"), "{text}");

    // The admin's own boot rules on node1, which the save must keep.
    let admin_rules = "# the admin's own rules\n*filter\n:INPUT ACCEPT [0:0]\n\
        -A INPUT -p tcp --dport 8443 -m comment --comment admin-rule -j ACCEPT\nCOMMIT\n\
        *nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -s 192.168.77.0/24 -j MASQUERADE\nCOMMIT\n";
    let admin_file = lab.hosts[0].dir.join("admin-rules.v4");
    std::fs::write(&admin_file, admin_rules).unwrap();
    lab.ssh_ok(
        "node1",
        &[
            "sh",
            "-c",
            "mkdir -p /etc/iptables && cp \"$1\" /etc/iptables/rules.v4",
            "sh",
            &admin_file.to_string_lossy(),
        ],
    );

    // Plan shown first (with what goes into which file), then applied, saved for boot in
    // node1's own /etc.
    let text = cli.ok(&["firewall", "--only", "node1", "--no-persist"]);
    assert!(text.contains("node1 (iptables)"), "{text}");
    assert!(text.contains("iptables -I INPUT 1 -p tcp -s"), "{text}");
    assert!(text.contains("[skipped: --no-persist]"), "{text}");
    assert!(
        text.contains("/etc/iptables/rules.v4: swarmdeck's block")
            && text.contains("+ -I INPUT -p tcp -s"),
        "the plan shows the change to rules.v4:\n{text}"
    );
    let machine_rules = Path::new("/etc/iptables/rules.v4").exists();
    let text = cli.ok(&["firewall", "--only", "node1", "--yes"]);
    assert!(text.contains("verified"), "{text}");
    let saved = lab.ssh_ok("node1", &["cat", "/etc/iptables/rules.v4"]);
    assert!(
        saved.contains("--dport 2377") && saved.contains("swarmdeck"),
        "{saved}"
    );
    // Only swarmdeck's rules were added: the admin's stay, Docker's live rules are not saved.
    assert!(
        saved.contains("admin-rule") && saved.contains("MASQUERADE") && !saved.contains("DOCKER"),
        "{saved}"
    );
    let backup = lab.ssh_ok(
        "node1",
        &["sh", "-c", "cat /etc/iptables/rules.v4.swarmdeck-*.bak"],
    );
    assert_eq!(
        backup,
        admin_rules.trim_end(),
        "the backup holds the old file"
    );
    let booted = at_boot(
        &lab,
        "iptables-restore < /etc/iptables/rules.v4 && iptables -S INPUT && iptables -t nat -S",
    );
    assert!(
        booted.contains("admin-rule") && booted.contains("MASQUERADE"),
        "{booted}"
    );
    assert_eq!(
        booted.matches("--comment swarmdeck").count(),
        4 * 4,
        "{booted}"
    );
    assert_eq!(
        Path::new("/etc/iptables/rules.v4").exists(),
        machine_rules,
        "the save reached this machine's /etc"
    );
    let rules = lab.ssh_ok("node1", &["iptables", "-S", "INPUT"]);
    let accept = rules.find("swarmdeck").unwrap();
    let drop = rules.find("-j DROP").unwrap();
    assert!(accept < drop, "ACCEPT rules come before the DROP:\n{rules}");
    // Applying again adds nothing (rules are checked first).
    let text = cli.ok(&["firewall", "--only", "node1", "--no-persist", "--yes"]);
    assert!(text.contains("0 command(s) applied"), "{text}");

    let t = Instant::now();
    let text = cli.ok(&["bootstrap", "--managers", "3", "--yes"]);
    eprintln!("5-host bootstrap applied in {:?}", t.elapsed());
    assert!(text.contains("5 host(s), 3 manager(s)"), "{text}");
    let managers = lab.ssh_ok(
        "node1",
        &["docker", "node", "ls", "--filter", "role=manager", "-q"],
    );
    assert_eq!(managers.lines().count(), 3, "{managers}");
    let workers = lab.ssh_ok(
        "node1",
        &["docker", "node", "ls", "--filter", "role=worker", "-q"],
    );
    assert_eq!(workers.lines().count(), 2, "{workers}");
    let text = cli.ok(&["bootstrap", "--managers", "3", "--yes"]);
    assert!(text.contains("nothing to do"), "{text}");
    cli.ok(&["node", "drain", "node5", "--yes"]);
    let avail = lab.ssh_ok(
        "node1",
        &[
            "docker",
            "node",
            "inspect",
            "node5",
            "--format",
            "{{.Spec.Availability}}",
        ],
    );
    assert_eq!(avail, "drain");
    cli.ok(&["node", "activate", "node5", "--yes"]);
    cli.assert_no_secrets();
}

/// Interrupted: node3's join hangs (its 2377 traffic is dropped) and its dockerd is
/// killed mid-join. After a restart the same bootstrap finishes.
#[test]
fn interrupted_bootstrap_resumes() {
    let Some(lab) = TestLab::start(3) else {
        return;
    };
    let cli = Cli::new(&lab);
    lab.drop_port("node3", "OUTPUT", "tcp", 2377);
    let child = cli
        .command(&BOOTSTRAP_APPNET)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("node2 joined", Duration::from_secs(60), || {
        local_state(&lab, "node2") == "active"
    });
    wait_for("node3 joining", Duration::from_secs(30), || {
        local_state(&lab, "node3") == "pending"
    });
    let argv = kill_dockerd(&lab, 2);
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("interrupted run:\n{text}");
    cli.seen.borrow_mut().push_str(&text);
    assert!(!out.status.success());
    assert!(text.contains("FAILED [node3]"), "{text}");
    assert!(text.contains("run the same command"), "{text}");

    lab.undrop_port("node3", "OUTPUT", "tcp", 2377);
    restart_dockerd(&lab, 2, &argv);
    eprintln!("node3 after restart: {}", local_state(&lab, "node3"));

    // dockerd may finish the join by itself after the restart; either way the same
    // bootstrap completes what is left.
    let text = cli.ok(&BOOTSTRAP_APPNET);
    assert!(!text.contains("swarm init"), "no second init: {text}");
    assert!(text.contains("create overlay network appnet"), "{text}");
    wait_for("3 ready nodes", Duration::from_secs(30), || {
        ready_nodes(&lab).len() == 3
    });
    assert_eq!(local_state(&lab, "node3"), "active");
    let text = cli.ok(&BOOTSTRAP_APPNET);
    assert!(text.contains("nothing to do"), "{text}");
    let audit = audit_text(&cli.audit);
    assert!(
        audit.contains("\"host\":\"node3\"") && audit.contains("failed:"),
        "{audit}"
    );
    cli.assert_no_secrets();
}

/// Three managers: a demote that would lose quorum is refused; two of three down is
/// diagnosed as lost quorum and recovered with --force-new-cluster when confirmed.
#[test]
fn quorum_refusal_loss_and_recovery() {
    let Some(lab) = TestLab::start(3) else {
        return;
    };
    let cli = Cli::new(&lab);
    let text = cli.ok(&["bootstrap", "--yes"]);
    assert!(text.contains("3 manager(s)"), "{text}");

    // The library view agrees: three reachable managers.
    let kh = tempfile::tempdir().unwrap();
    let c = lab.cluster(&kh.path().join("kh"));
    let rt = rt();
    let state = rt.block_on(swarm::state::gather(&c));
    assert_eq!(state.managers().len(), 3);
    assert!(state.nodes.iter().all(|n| n.role == Role::Manager));

    kill_dockerd(&lab, 2);
    wait_for("node3 unreachable", Duration::from_secs(60), || {
        let ls = lab.ssh_ok(
            "node1",
            &[
                "docker",
                "node",
                "inspect",
                "node3",
                "--format",
                "{{.ManagerStatus.Reachability}}",
            ],
        );
        ls == "unreachable"
    });
    let text = cli.fails(&["node", "demote", "node2", "--yes"]);
    assert!(
        text.contains("refused: demoting manager node2 would leave 1 reachable of 2"),
        "{text}"
    );
    assert!(text.contains("--force"), "{text}");
    let managers = lab.ssh_ok(
        "node1",
        &["docker", "node", "ls", "--filter", "role=manager", "-q"],
    );
    assert_eq!(managers.lines().count(), 3, "nothing was demoted");

    kill_dockerd(&lab, 1);
    let ip1 = lab.hosts[0].ip.to_string();
    let mut text = String::new();
    wait_for("lost quorum diagnosed", Duration::from_secs(60), || {
        text = cli.ok(&["recover"]);
        text.contains("quorum lost")
    });
    assert!(text.contains("3 managers, 1 reachable, 2 needed"), "{text}");
    assert!(
        text.contains(&format!(
            "docker swarm init --force-new-cluster --advertise-addr {ip1}"
        )),
        "{text}"
    );
    assert!(text.contains("not applied"), "{text}");
    // Other commands explain the loss instead of failing obscurely.
    // (Either the diagnosis before the step, or the manager's own error during it.)
    let text = cli.fails(&["node", "drain", "node2", "--yes"]);
    assert!(
        text.contains("quorum lost") && text.contains("swarmdeck recover"),
        "{text}"
    );

    cli.ok(&["recover", "--yes"]);
    wait_for("node1 manages again", Duration::from_secs(60), || {
        lab.ssh("node1", &["docker", "node", "ls"]).status.success()
    });
    let state = rt.block_on(swarm::state::gather(&c));
    assert_eq!(state.answered_by.as_deref(), Some("node1"));
    let text = cli.ok(&["recover"]);
    assert!(text.contains("nothing to recover"), "{text}");
    cli.assert_no_secrets();
}

/// One manager, the rest workers, and the attachable overlay appnet.
fn one_manager_and_appnet() -> BootstrapOptions {
    BootstrapOptions {
        managers: Some(1),
        overlay: Some(OverlaySpec {
            name: "appnet".into(),
            attachable: true,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// What the app works with: a cluster of the lab, a runtime, and an audit log in a
/// temporary directory (kept while the returned `TempDir` lives).
fn library(
    lab: &TestLab,
) -> (
    tempfile::TempDir,
    swarmdeck::cluster::Cluster,
    tokio::runtime::Runtime,
    swarm::AuditLog,
) {
    let dir = tempfile::tempdir().unwrap();
    let c = lab.cluster(&dir.path().join("kh"));
    let audit = swarm::AuditLog::new(dir.path().join("audit.jsonl"));
    (dir, c, rt(), audit)
}

/// Progress nobody watches.
fn quiet(_: &swarm::Step, _: Result<(), &swarm::SwarmError>) {}

/// The library path used by the wizard: plan from live state, apply a partial plan, and
/// the recomputed plan holds only what is left.
#[test]
fn partial_plan_then_recomputed_plan_finishes() {
    let Some(lab) = TestLab::start(3) else {
        return;
    };
    let (_dir, c, rt, audit) = library(&lab);
    let opts = one_manager_and_appnet();
    let state = rt.block_on(swarm::state::gather(&c));
    let plan = swarm::plan::bootstrap(&state, &opts).unwrap();
    assert_eq!(plan.steps.len(), 4);
    // Only init and node2's join.
    let partial = swarm::Plan {
        steps: plan.steps[..2].to_vec(),
        notes: vec![],
    };
    assert_eq!(
        rt.block_on(swarm::ops::apply(
            &c,
            &partial,
            &audit,
            &quiet,
            &Default::default()
        ))
        .unwrap(),
        2
    );
    let state = rt.block_on(swarm::state::gather(&c));
    let rest = swarm::plan::bootstrap(&state, &opts).unwrap();
    let clis: Vec<&str> = rest.steps.iter().map(|s| s.cli.as_str()).collect();
    assert_eq!(clis.len(), 2, "{clis:?}");
    assert!(
        clis[0].starts_with("docker swarm join --token <redacted>"),
        "{clis:?}"
    );
    assert_eq!(rest.steps[0].host, "node3");
    assert_eq!(
        rt.block_on(swarm::ops::apply(
            &c,
            &rest,
            &audit,
            &quiet,
            &Default::default()
        ))
        .unwrap(),
        2
    );
    let state = rt.block_on(swarm::state::gather(&c));
    assert!(swarm::plan::bootstrap(&state, &opts).unwrap().is_empty());
    // The token the joins used never reached the audit log.
    let text = audit_text(audit.path());
    assert!(!text.contains("SWMTKN-"), "{text}");
    assert_eq!(text.lines().count(), 4);
}

/// Autolock end to end: bootstrap with --autolock, join-token rotation (the old token stops
/// working), unlock-key rotation, a restarted manager that comes back locked, refused with
/// the old key and unlocked with the new one through `swarmdeck swarm unlock`; and a
/// connectivity run.
///
/// Every run logs at `trace` (all crates): no join token or unlock key, by prefix or by
/// the values read from the lab, reaches stdout, stderr or the audit log. Real unlock keys
/// (base64, with `+` and `/`) from many rotations are redacted whole.
#[test]
fn autolock_rotation_and_unlock_leak_no_secret_even_at_trace() {
    let Some(lab) = TestLab::start(3) else {
        return;
    };
    let cli = Cli::at_trace(&lab);
    cli.ok(&["bootstrap", "--managers", "1", "--autolock", "--yes"]);
    let text = cli.ok(&["status"]);
    assert!(
        text.contains("TRACE") || text.contains("DEBUG"),
        "logs at trace: {text}"
    );
    let quiet = |host: &str, words: &[&str]| {
        let out = lab.ssh(host, words);
        assert!(out.status.success(), "{host}: {:?} failed", words);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    // Every secret value read from the lab, for the final check.
    let mut secrets: Vec<String> = Vec::new();
    let autolock = quiet(
        "node1",
        &[
            "docker",
            "info",
            "--format",
            "{{.Swarm.Cluster.Spec.EncryptionConfig.AutoLockManagers}}",
        ],
    );
    assert_eq!(autolock, "true");

    // Join-token rotation: the old worker token no longer lets a host in.
    let old_token = quiet("node1", &["docker", "swarm", "join-token", "-q", "worker"]);
    let manager_token = quiet("node1", &["docker", "swarm", "join-token", "-q", "manager"]);
    let text = cli.ok(&["swarm", "join-token", "worker", "--rotate", "--yes"]);
    assert!(text.contains("rotate the worker join token"), "{text}");
    let new_token = quiet("node1", &["docker", "swarm", "join-token", "-q", "worker"]);
    assert!(new_token.starts_with("SWMTKN-") && new_token != old_token);
    secrets.extend([old_token.clone(), new_token.clone(), manager_token]);
    quiet("node3", &["docker", "swarm", "leave"]);
    let join = format!(
        "docker swarm join --token \"$(cat)\" {}:2377",
        lab.hosts[0].ip
    );
    let cmd = lab.lab.ssh_command("node3", &[join]).unwrap();
    let out = output_with_stdin(cmd, old_token.as_bytes());
    assert!(
        !out.status.success(),
        "the rotated-out token still joined node3"
    );
    // swarmdeck fetches the current token itself.
    let text = cli.ok(&["bootstrap", "--managers", "1", "--yes"]);
    assert!(text.contains("join node3"), "{text}");
    assert_eq!(local_state(&lab, "node3"), "active");

    // Real unlock keys are base64: most hold `+` or `/`. Each one is redacted whole,
    // through swarmdeck's rotation (logged at trace) and the engine's own.
    for round in 0..12 {
        if round % 4 == 0 {
            cli.ok(&["swarm", "unlock-key", "--rotate", "--yes"]);
        } else {
            quiet(
                "node1",
                &["docker", "swarm", "unlock-key", "--rotate", "-q"],
            );
        }
        let key = quiet("node1", &["docker", "swarm", "unlock-key", "-q"]);
        assert!(key.starts_with("SWMKEY-1-"));
        // Compared, not printed: a failure must not show what is left of the key.
        let redacted =
            swarmdeck::redact::redact(&format!("key {key}, next")) == "key <redacted>, next";
        assert!(
            redacted,
            "round {round}: an unlock key is not redacted whole"
        );
        secrets.push(key);
    }
    let with_base64_marks = secrets.iter().filter(|k| k.contains(['+', '/'])).count();
    eprintln!("{with_base64_marks} of the keys and tokens hold `+` or `/`");
    assert!(with_base64_marks > 0, "no key with `+` or `/` was tried");

    // Unlock-key rotation through swarmdeck, shown on request.
    let key1 = cli.secret(&["swarm", "unlock-key", "--show-unlock-key"]);
    assert!(key1.starts_with("SWMKEY-"));
    cli.ok(&["swarm", "unlock-key", "--rotate", "--yes"]);
    let key2 = cli.secret(&["swarm", "unlock-key", "--show-unlock-key"]);
    assert!(key2.starts_with("SWMKEY-") && key2 != key1);
    secrets.extend([key1.clone(), key2.clone()]);

    // A connectivity run, logged at trace like the rest (before the restart below: a
    // dockerd killed with SIGKILL may leave node1's VXLAN broken for a while).
    cli.ok(&["connectivity"]);

    // The manager restarts: locked until unlocked.
    let argv = kill_dockerd(&lab, 0);
    restart_dockerd(&lab, 0, &argv);
    wait_for("node1 locked", Duration::from_secs(30), || {
        local_state(&lab, "node1") == "locked"
    });
    let text = cli.ok(&["status"]);
    assert!(text.contains("locked"), "{text}");
    let text = cli.fails(&["bootstrap", "--managers", "1", "--yes"]);
    assert!(text.contains("swarmdeck swarm unlock node1"), "{text}");
    let text = cli.fails(&["swarm", "unlock", "node1", "--unlock-key-stdin", "--yes"]);
    assert!(text.contains("does not hold an unlock key"), "{text}");
    let (ok, text) = cli.run_with_stdin(
        &["swarm", "unlock", "node1", "--unlock-key-stdin", "--yes"],
        &key1,
    );
    assert!(!ok, "the rotated-out key unlocked node1: {text}");
    assert!(text.contains("node1"), "{text}");
    assert_eq!(local_state(&lab, "node1"), "locked");
    let (ok, text) = cli.run_with_stdin(
        &["swarm", "unlock", "node1", "--unlock-key-stdin", "--yes"],
        &key2,
    );
    assert!(ok, "{text}");
    wait_for("node1 active", Duration::from_secs(30), || {
        local_state(&lab, "node1") == "active"
    });
    let text = cli.ok(&["bootstrap", "--managers", "1", "--yes"]);
    assert!(text.contains("nothing to do"), "{text}");

    let audit = audit_text(&cli.audit);
    assert!(audit.contains("unlock the swarm on node1"), "{audit}");
    assert!(audit.contains("rotate the unlock key"), "{audit}");
    let seen = cli.seen.borrow().clone();
    for secret in &secrets {
        // The whole value, and its tail (what a redactor stopping at `+` or `/` leaves).
        let tail = &secret[secret.len() - 12..];
        for (what, text) in [("audit", &audit), ("output", &seen)] {
            assert!(
                !text.contains(secret.as_str()),
                "a secret leaked into the {what}"
            );
            assert!(
                !text.contains(tail),
                "a secret's tail leaked into the {what}"
            );
        }
    }
    cli.assert_no_secrets();
}

/// Sets lab host `i`'s kernel hostname to `name`, byte for byte (the kernel takes newlines
/// and escapes), in the host's own UTS namespace through its sshd; then restarts its
/// dockerd, which reads the hostname at start and hands it to the swarm as the node's name.
fn set_hostname(lab: &TestLab, i: usize, name: &str) {
    let host = lab.hosts[i].name.clone();
    let hex: String = name.bytes().map(|b| format!("{b:02x}")).collect();
    let set = "import socket, sys; socket.sethostname(bytes.fromhex(sys.argv[1]).decode())";
    lab.ssh_ok(&host, &["python3", "-c", set, &hex]);
    let argv = kill_dockerd(lab, i);
    restart_dockerd(lab, i, &argv);
}

/// Runs `script` with `sh` in an empty scratch directory, `ssh` on PATH replaced by a stub
/// that only records its arguments (one per line, each call ended by `.`). Returns what
/// the stub recorded and the names left in the scratch directory.
fn run_with_ssh_stub(script: &Path) -> (String, Vec<String>) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (bin, scratch, log) = (
        dir.path().join("bin"),
        dir.path().join("scratch"),
        dir.path().join("ssh.log"),
    );
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&scratch).unwrap();
    let stub = bin.join("ssh");
    let record = "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done >>\"$SSH_LOG\"\necho . >>\"$SSH_LOG\"\n";
    std::fs::write(&stub, record).unwrap();
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = std::process::Command::new("sh")
        .arg(script)
        .current_dir(&scratch)
        .env("PATH", path)
        .env("SSH_LOG", &log)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the replay script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left = std::fs::read_dir(&scratch)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    (std::fs::read_to_string(&log).unwrap_or_default(), left)
}

/// Hostnames are hostile data. One worker is named "x⏎touch pwned" (a newline and a
/// command), another is full of terminal escapes. Drained by node ID through the CLI, their
/// names reach plans, status, the audit log and the exported script: the script passes
/// `sh -n`, running it (with `ssh` stubbed, so nothing runs remotely) creates no file, and
/// no CLI output holds a raw ESC byte.
#[test]
fn hostile_hostnames_stay_inert_in_output_and_replay_script() {
    let Some(lab) = TestLab::start(3) else {
        return;
    };
    let newline_name = "x\ntouch pwned";
    let escape_name = "\x1b[31mred\x1b]0;owned\x07\x1b[2J";
    set_hostname(&lab, 1, newline_name);
    set_hostname(&lab, 2, escape_name);
    let cli = Cli::new(&lab);
    cli.ok(&["bootstrap", "--managers", "1", "--yes"]);
    let node_id =
        |host: &str| lab.ssh_ok(host, &["docker", "info", "--format", "{{.Swarm.NodeID}}"]);
    let (id2, id3) = (node_id("node2"), node_id("node3"));
    // The premise: the swarm lists the hostile names as they are.
    let listed = lab.ssh_ok(
        "node1",
        &[
            "docker",
            "node",
            "inspect",
            "--format",
            "{{.Description.Hostname}}",
            &id2,
            &id3,
        ],
    );
    assert_eq!(listed, format!("{newline_name}\n{escape_name}"));

    let text = cli.ok(&["node", "drain", &id2, "--yes"]);
    assert!(
        text.contains("set x\\ntouch pwned availability to drain"),
        "{text}"
    );
    let text = cli.ok(&["node", "drain", &id3, "--yes"]);
    assert!(text.contains("\\u{1b}[31mred"), "{text}");
    let text = cli.ok(&["status"]);
    assert!(
        text.contains("x\\ntouch pwned") && text.contains("drain"),
        "{text}"
    );
    cli.ok(&["audit", "show"]);
    let seen = cli.seen.borrow().clone();
    assert!(
        !seen.contains('\x1b') && !seen.contains('\x07'),
        "raw control bytes in CLI output"
    );

    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("replay.sh");
    cli.ok(&["audit", "export", "-o", script.to_str().unwrap()]);
    let text = std::fs::read_to_string(&script).unwrap();
    eprintln!("{text}");
    assert!(text.contains("x\\ntouch pwned"), "{text}");
    // Printable: no control character but the line ends, so `cat` of it is safe too.
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{text:?}"
    );
    let parse = std::process::Command::new("sh")
        .arg("-n")
        .arg(&script)
        .status()
        .unwrap();
    assert!(parse.success(), "sh -n refused the script:\n{text}");
    let (calls, left) = run_with_ssh_stub(&script);
    assert!(
        left.is_empty(),
        "the script created {left:?} on the workstation:\n{text}"
    );
    // The drains reach ssh as the same commands, names and all, quoted for the remote
    // shell.
    for name in [newline_name, escape_name] {
        let drain = format!("docker node update --availability drain '{name}'");
        assert!(calls.contains(&drain), "{drain:?} not in {calls:?}");
    }
    cli.assert_no_secrets();
}

/// A host firewalled with native nftables (Debian's `inet filter` table, input policy
/// drop, and the admin's own NAT table in /etc/nftables.conf): preflight finds 2377
/// closed, the nftables plan opens the swarm ports to the peers and, showing the change
/// first, adds only its own block to the host's /etc/nftables.conf (the admin's tables
/// stay, Docker's are not saved, the old file is backed up); the file loads at boot and on
/// a reload with both, and the joins work.
#[test]
fn nftables_host_is_opened_persisted_and_joined() {
    let Some(lab) = TestLab::start(3) else {
        return;
    };
    let cli = Cli::new(&lab);
    let ruleset = lab.hosts[0].dir.join("debian-nftables.conf");
    std::fs::write(
        &ruleset,
        "table inet filter {\n\
         \tchain input {\n\
         \t\ttype filter hook input priority filter; policy drop;\n\
         \t\tct state established,related accept\n\
         \t\tiif lo accept\n\
         \t\ttcp dport 22 accept\n\
         \t}\n\
         }\n",
    )
    .unwrap();
    lab.ssh_ok("node1", &["nft", "-f", &ruleset.to_string_lossy()]);
    // The admin's boot file: the same filter table, and a NAT table of their own.
    let admin_conf = format!(
        "#!/usr/sbin/nft -f\nflush ruleset\n\n{}\ntable ip nat {{\n\
         \tchain postrouting {{\n\
         \t\ttype nat hook postrouting priority srcnat; policy accept;\n\
         \t\tip saddr 192.168.77.0/24 oifname \"eth0\" masquerade\n\
         \t}}\n\
         }}\n",
        std::fs::read_to_string(&ruleset).unwrap()
    );
    let admin_file = lab.hosts[0].dir.join("admin-nftables.conf");
    std::fs::write(&admin_file, &admin_conf).unwrap();
    let copy = format!("cp {} /etc/nftables.conf", admin_file.display());
    lab.ssh_ok("node1", &["sh", "-c", &copy]);
    let machine_conf = std::fs::read("/etc/nftables.conf").ok();

    let text = cli.fails(&["preflight"]);
    assert!(
        text.contains("2377/tcp on node1 gets no answer from node2, node3"),
        "{text}"
    );
    cli.fix_firewall_on_node1(
        "nftables",
        &[
            "nft insert rule inet filter input",
            "/etc/nftables.conf: swarmdeck's block",
            "+ insert rule inet filter input ip saddr",
        ],
    );
    // Again: the rules are found and not added twice (only the save runs again, and
    // finds the file as it should be: no second block, no second backup).
    let text = cli.ok(&["firewall", "--only", "node1", "--yes"]);
    assert!(text.contains("1 command(s) applied"), "{text}");
    let chain = lab.ssh_ok(
        "node1",
        &["nft", "list", "chain", "inet", "filter", "input"],
    );
    assert_eq!(chain.matches("comment \"swarmdeck\"").count(), 2, "{chain}");

    // Saved in node1's own /etc: the admin's file with swarmdeck's block added, the
    // peers in it, without Docker's tables; the old file backed up beside it.
    let saved = lab.ssh_ok("node1", &["cat", "/etc/nftables.conf"]);
    assert!(
        saved.starts_with(admin_conf.trim_end()),
        "the admin's file changed:\n{saved}"
    );
    assert_eq!(saved.matches("# BEGIN swarmdeck").count(), 1, "{saved}");
    assert!(saved.contains(&lab.hosts[1].ip.to_string()), "{saved}");
    assert!(!saved.contains("DOCKER"), "{saved}");
    let backups = lab.ssh_ok(
        "node1",
        &["sh", "-c", "ls /etc/nftables.conf.swarmdeck-*.bak"],
    );
    assert_eq!(backups.lines().count(), 1, "{backups}");
    assert_eq!(
        lab.ssh_ok("node1", &["cat", backups.trim()]),
        admin_conf.trim_end()
    );
    assert_eq!(
        std::fs::read("/etc/nftables.conf").ok(),
        machine_conf,
        "this machine's /etc/nftables.conf changed"
    );
    let booted = at_boot(&lab, "nft -f /etc/nftables.conf && nft list ruleset");
    assert!(booted.contains("policy drop"), "{booted}");
    for port in ["2377", "7946", "4789"] {
        assert!(
            booted.contains(port),
            "{port} missing after reload:\n{booted}"
        );
    }
    assert!(
        booted.contains("masquerade"),
        "the admin's NAT table is gone:\n{booted}"
    );

    cli.bootstrap_three_hosts();

    // A reload on the running host: the admin's NAT table and swarmdeck's rules, once.
    let reloaded = lab.ssh_ok(
        "node1",
        &["sh", "-c", "nft -f /etc/nftables.conf && nft list ruleset"],
    );
    assert!(reloaded.contains("masquerade"), "{reloaded}");
    assert_eq!(
        reloaded.matches("comment \"swarmdeck\"").count(),
        2,
        "{reloaded}"
    );
}

/// A host behind ufw (default deny incoming, SSH allowed): preflight finds the swarm ports
/// closed, the ufw plan opens them to the peers (ufw keeps them in the host's own
/// /etc/ufw), and the joins then work. This machine's ufw is untouched.
#[test]
fn ufw_host_is_opened_and_joined() {
    let Some(lab) = TestLab::start(3) else {
        return;
    };
    let cli = Cli::new(&lab);
    let machine_ufw = std::fs::read_to_string("/etc/ufw/ufw.conf").ok();
    lab.ssh_ok(
        "node1",
        &[
            "sh",
            "-c",
            "ufw allow 22/tcp >/dev/null && ufw --force enable",
        ],
    );
    let text = cli.fails(&["preflight"]);
    assert!(
        text.contains("2377/tcp on node1 gets no answer from node2, node3"),
        "{text}"
    );
    cli.fix_firewall_on_node1("ufw", &["ufw allow proto tcp from"]);
    let status = lab.ssh_ok("node1", &["ufw", "status"]);
    for port in ["2377/tcp", "7946/tcp", "7946/udp", "4789/udp"] {
        assert!(status.contains(port), "{port} not open:\n{status}");
    }
    let saved = lab.ssh_ok("node1", &["cat", "/etc/ufw/user.rules"]);
    assert!(saved.contains(&lab.hosts[1].ip.to_string()), "{saved}");
    assert_eq!(
        std::fs::read_to_string("/etc/ufw/ufw.conf").ok(),
        machine_ufw,
        "this machine's ufw configuration changed"
    );

    cli.bootstrap_three_hosts();
}

/// Runs a system D-Bus and firewalld inside a lab host (its own /run, /etc and network
/// namespace), as a RHEL-like server has them, and waits until firewalld answers.
fn start_firewalld(lab: &TestLab, host: &str) {
    assert!(
        Path::new("/usr/sbin/firewalld").exists(),
        "firewalld is not installed: run scripts/install-deps"
    );
    lab.ssh_ok(
        host,
        &[
            "sh",
            "-c",
            "mkdir -p /run/dbus && dbus-daemon --system --fork && \
             setsid -f firewalld --nofork --nopid >/run/firewalld.log 2>&1 </dev/null; \
             for i in $(seq 150); do firewall-cmd --state >/dev/null 2>&1 && exit 0; sleep 0.2; done; \
             cat /run/firewalld.log; exit 1",
        ],
    );
}

/// A host behind firewalld (default zone public: SSH only, everything else rejected):
/// preflight names the rejected ports, the firewalld plan adds permanent rich rules for
/// the peers and reloads, and the joins then work. The permanent rules live in the host's
/// own /etc/firewalld.
#[test]
fn firewalld_host_is_opened_and_joined() {
    let Some(lab) = TestLab::start(3) else {
        return;
    };
    let cli = Cli::new(&lab);
    start_firewalld(&lab, "node1");
    let zone = "/etc/firewalld/zones/public.xml";
    let machine_zone = std::fs::read_to_string(zone).ok();

    let text = cli.fails(&["preflight"]);
    assert!(
        text.contains("2377/tcp on node1 is refused to node2, node3"),
        "{text}"
    );
    assert!(text.contains("a firewall on node1 rejects it"), "{text}");
    cli.fix_firewall_on_node1("firewalld", &["firewall-cmd --permanent"]);
    // Again: the rich rules are found, not added twice (only the reload runs again).
    cli.ok(&["firewall", "--only", "node1", "--yes"]);
    let rules = lab.ssh_ok("node1", &["firewall-cmd", "--list-rich-rules"]);
    assert_eq!(rules.lines().count(), 8, "2 peers × 4 ports:\n{rules}");
    let saved = lab.ssh_ok("node1", &["cat", zone]);
    assert!(saved.contains(&lab.hosts[1].ip.to_string()), "{saved}");
    assert_eq!(
        std::fs::read_to_string(zone).ok(),
        machine_zone,
        "this machine's firewalld zone changed"
    );

    cli.bootstrap_three_hosts();
}

/// The hostnames node1 lists as Ready (none while node1 manages no swarm).
fn ready_nodes(lab: &TestLab) -> Vec<String> {
    let out = lab.ssh(
        "node1",
        &[
            "docker",
            "node",
            "ls",
            "--format",
            "{{.Hostname}} {{.Status}}",
        ],
    );
    if !out.status.success() {
        return Vec::new();
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(" Ready"))
        .map(String::from)
        .collect()
}

/// Waits until node2 and node3 are Ready in the swarm, and checks node4 (whose engine is
/// hung) is not: its join is still in flight.
fn wait_for_joins_but_node4(lab: &TestLab) {
    let mut ready = Vec::new();
    wait_for("node2 and node3 joined", Duration::from_secs(90), || {
        ready = ready_nodes(lab);
        ["node2", "node3"]
            .iter()
            .all(|h| ready.iter().any(|r| r == h))
    });
    assert!(!ready.iter().any(|r| r == "node4"), "{ready:?}");
}

/// A bootstrap of node1 (manager) and three workers with overlay appnet, cancelled while
/// the joins ran: every step that reached a host is recorded with its outcome, the overlay
/// as not run, nothing else, and no join token.
fn assert_audit_of_cancelled_bootstrap(audit: &swarm::AuditLog) {
    let text = audit_text(audit.path());
    assert!(!text.contains("SWMTKN-"), "{text}");
    let entries = audit.read().unwrap();
    let want = [
        ("node1", "initialise the swarm on node1", "ok"),
        ("node2", "join node2 as a worker", "ok"),
        ("node3", "join node3 as a worker", "ok"),
        ("node4", "join node4 as a worker", "ok"),
        (
            "node1",
            "create overlay network appnet",
            swarm::ops::NOT_RUN,
        ),
    ];
    assert_eq!(entries.len(), want.len(), "{text}");
    for (e, (host, step, outcome)) in entries.iter().zip(want) {
        assert!(
            e.host == host && e.step.starts_with(step) && e.outcome == outcome,
            "{e:?} is not ({host}, {step}, {outcome}) in:\n{text}"
        );
    }
}

/// Four Ready nodes and the overlay appnet: the bootstrap completed.
fn assert_swarm_complete(lab: &TestLab) {
    wait_for("4 ready nodes", Duration::from_secs(60), || {
        ready_nodes(lab).len() == 4
    });
    let driver = lab.ssh_ok(
        "node1",
        &[
            "docker",
            "network",
            "inspect",
            "appnet",
            "--format",
            "{{.Driver}}",
        ],
    );
    assert_eq!(driver, "overlay");
}

/// Reads lines into `seen` until one holds `want`.
fn read_until(r: &mut impl std::io::BufRead, want: &str, seen: &mut String) {
    loop {
        let mut line = String::new();
        let n = r.read_line(&mut line).unwrap();
        assert!(n > 0, "{want:?} never came:\n{seen}");
        seen.push_str(&line);
        if line.contains(want) {
            return;
        }
    }
}

/// Cancelling a bootstrap while the joins run, through the library and through Ctrl-C in
/// the CLI: the joins already sent finish (node4's engine is hung, so its join is surely
/// in flight, and finishes once the engine continues), the overlay is not started, the
/// audit log lists every step that touched a host with its outcome and the overlay as not
/// run; planning again leaves exactly the overlay, and applying it completes the swarm.
#[test]
fn cancelled_bootstrap_is_audited_and_bootstrap_again_completes() {
    use swarmdeck::lab::fault::Fault;
    use swarmdeck::swarm::change::Change;
    let Some(lab) = TestLab::start(4) else {
        return;
    };
    let (_dir, c, rt, audit) = library(&lab);
    let change = Change::Bootstrap(one_manager_and_appnet());
    let plan = rt
        .block_on(swarm::change::plan(&c, &change, false))
        .unwrap();
    let sizes: Vec<usize> = plan.batches().iter().map(Vec::len).collect();
    assert_eq!(sizes, [1, 3, 1], "init, three joins at once, the overlay");
    // Planning connected to every engine: node4's join goes out on that connection and
    // waits for the hung engine.
    let hung = lab.inject(Fault::EngineHung, 3).unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let t = Instant::now();
    let res = std::thread::scope(|s| {
        let applying =
            s.spawn(|| rt.block_on(swarm::ops::apply(&c, &plan, &audit, &quiet, &cancel)));
        wait_for_joins_but_node4(&lab);
        cancel.cancel();
        assert!(!applying.is_finished(), "node4's join cannot have finished");
        let healed = Instant::now();
        lab.heal(hung).unwrap();
        let res = applying.join().unwrap();
        eprintln!(
            "apply returned {:?} after node4's engine continued",
            healed.elapsed()
        );
        res
    });
    eprintln!("cancelled apply took {:?}: {res:?}", t.elapsed());
    assert!(
        matches!(
            res,
            Err(swarm::SwarmError::Cancelled {
                done: 4,
                not_run: 1
            })
        ),
        "{res:?}"
    );
    assert_audit_of_cancelled_bootstrap(&audit);

    let rest = rt
        .block_on(swarm::change::plan(&c, &change, false))
        .unwrap();
    assert_eq!(rest.steps.len(), 1, "{}", rest.render());
    assert!(
        matches!(&rest.steps[0].action, swarm::Action::CreateOverlay(o) if o.name == "appnet"),
        "{}",
        rest.render()
    );
    let done = rt.block_on(swarm::ops::apply(
        &c,
        &rest,
        &audit,
        &quiet,
        &Default::default(),
    ));
    assert_eq!(done.unwrap(), 1);
    assert_swarm_complete(&lab);

    // The CLI on bare hosts again: Ctrl-C (SIGINT) while the joins run.
    for h in ["node4", "node3", "node2", "node1"] {
        lab.ssh_ok(h, &["docker", "swarm", "leave", "--force"]);
    }
    let cli = Cli::new(&lab);
    // The audit log is a FIFO: the CLI's first entry (the init's) waits for this test to
    // open it, so the joins start only after node4's engine is hung.
    let mkfifo = std::process::Command::new("mkfifo")
        .arg(&cli.audit)
        .status()
        .unwrap();
    assert!(mkfifo.success());
    let args = BOOTSTRAP_APPNET;
    let t = Instant::now();
    let mut child = cli
        .command(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut text = String::new();
    // Printed after planning, which read every engine.
    read_until(&mut stdout, "applying (audit log", &mut text);
    let hung = lab.inject(Fault::EngineHung, 3).unwrap();
    let mut fifo = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NONBLOCK)
            .open(&cli.audit)
            .unwrap()
    };
    wait_for_joins_but_node4(&lab);
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    read_until(&mut stderr, "stopping after the steps in flight", &mut text);
    assert!(
        child.try_wait().unwrap().is_none(),
        "node4's join is in flight"
    );
    lab.heal(hung).unwrap();
    let status = child.wait().unwrap();
    eprintln!("interrupted CLI bootstrap took {:?}", t.elapsed());
    use std::io::Read;
    stdout.read_to_string(&mut text).unwrap();
    stderr.read_to_string(&mut text).unwrap();
    eprintln!(
        "$ swarmdeck {} (SIGINT during the joins)\n{text}",
        args.join(" ")
    );
    cli.seen.borrow_mut().push_str(&text);
    assert!(!status.success(), "{status}");
    assert!(text.contains("done   [node4] join node4"), "{text}");
    assert!(
        text.contains("stopped on request after 4 step(s); 1 step(s) did not run"),
        "{text}"
    );
    for outcome in ["done  ", "FAILED"] {
        let line = format!("{outcome} [node1] create overlay");
        assert!(
            !text.contains(&line),
            "the overlay was not to start: {text}"
        );
    }
    // Every writer has gone: the FIFO holds all the CLI wrote. Kept as a regular file.
    let mut written = String::new();
    fifo.read_to_string(&mut written).unwrap();
    std::fs::remove_file(&cli.audit).unwrap();
    std::fs::write(&cli.audit, &written).unwrap();
    assert_audit_of_cancelled_bootstrap(&swarm::AuditLog::new(&cli.audit));
    let shown = cli.ok(&["audit", "show"]);
    let overlay = shown
        .lines()
        .find(|l| l.contains("appnet"))
        .unwrap_or_default();
    assert!(overlay.contains("NOT RUN"), "{shown}");
    assert!(!shown.contains("FAILED"), "{shown}");

    let text = cli.ok(&args);
    assert!(!text.contains("swarm init"), "{text}");
    assert!(text.contains("1 step(s) applied"), "{text}");
    assert_swarm_complete(&lab);
    cli.assert_no_secrets();
}
