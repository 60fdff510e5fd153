//! Backup and restore of a swarm's state on a lab of three managers, through the real
//! binary: refused on the leader and when it would lose quorum, taken from a follower,
//! every manager's state destroyed, restored onto the source host with the others
//! rejoining; then with autolock on, a backup whose restarted follower is unlocked with the
//! key kept in the OS keyring, the key never shown; the autolocked archive refused while
//! the keyring lacks its key, then, every manager's state destroyed, restored with the key
//! given on stdin: the node key unwrapped on the workstation, the swarm back autolocked
//! with the same unlock key, the others rejoined.

mod common;

use std::time::{Duration, Instant};

use common::lab::TestLab;
use swarmdeck::secrets::{Keyring, SecretKey};

/// The binary against the lab with a private HOME, audit log and trace logging; every
/// output is kept for the final check that no unlock key was shown.
struct Cli<'a> {
    lab: &'a TestLab,
    home: tempfile::TempDir,
    seen: std::cell::RefCell<String>,
}

impl Cli<'_> {
    fn audit(&self) -> std::path::PathBuf {
        self.home.path().join("audit.jsonl")
    }

    fn run(&self, args: &[&str]) -> (bool, String) {
        self.run_stdin(args, "")
    }

    fn run_stdin(&self, args: &[&str], stdin: &str) -> (bool, String) {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_swarmdeck"));
        cmd.arg("--inventory")
            .arg(&self.lab.inventory)
            .args(args)
            .env("HOME", self.home.path())
            .env("SWARMDECK_LOG", "trace")
            .env("SWARMDECK_AUDIT_LOG", self.audit())
            .env_remove("SWARMDECK_BACKUP_DIR");
        let out = common::output_with_stdin(cmd, stdin.as_bytes());
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        self.seen.borrow_mut().push_str(&text);
        (out.status.success(), text)
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, text) = self.run(args);
        assert!(ok, "swarmdeck {args:?} failed:\n{}", tail(&text));
        text
    }
}

/// The end of a long trace-level output, where the result is.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

fn phase(name: &str) {
    eprintln!("\n=== backup lab test: {name} ===");
}

/// Polls `check` every half second until it holds or `secs` pass.
fn wait_for(what: &str, secs: u64, mut check: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Sorted names of a kind of swarm object as the docker CLI on `host` lists them.
fn names(lab: &TestLab, host: &str, kind: &str) -> Vec<String> {
    let mut v: Vec<String> = lab
        .ssh_ok(host, &["docker", kind, "ls", "--format", "{{.Name}}"])
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// What the restore must bring back: services, networks, secrets and configs.
fn swarm_objects(lab: &TestLab, host: &str) -> Vec<Vec<String>> {
    let mut networks = names(lab, host, "network");
    // The overlays only: local networks are the host's own, not the swarm's.
    networks.retain(|n| n == "backnet" || n == "ingress");
    ["service", "secret", "config"]
        .iter()
        .map(|k| names(lab, host, k))
        .chain([networks])
        .collect()
}

/// Hostnames of the nodes `host`'s manager lists as Ready.
fn ready_nodes(lab: &TestLab, host: &str) -> Vec<String> {
    let out = lab.ssh(
        host,
        &[
            "docker",
            "node",
            "ls",
            "--format",
            "{{.Hostname}} {{.Status}}",
        ],
    );
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(" Ready").map(str::to_string))
        .collect();
    v.sort();
    v
}

fn all_ready(lab: &TestLab, host: &str) -> bool {
    ready_nodes(lab, host) == ["node1", "node2", "node3"]
}

/// Whether `from`'s manager lists each of `nodes` as a Ready manager that is reachable (or
/// leads). By hostname: after a restore the old entries of the same names stay, Down.
fn managers_up(lab: &TestLab, from: &str, nodes: &[&str]) -> bool {
    let out = lab.ssh(
        from,
        &[
            "docker",
            "node",
            "ls",
            "--format",
            "{{.Hostname}} {{.Status}} {{.ManagerStatus}}",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    nodes.iter().all(|n| {
        [format!("{n} Ready Reachable"), format!("{n} Ready Leader")]
            .iter()
            .any(|want| text.lines().any(|l| l == want))
    })
}

fn leave_all(lab: &TestLab) {
    for h in ["node1", "node2", "node3"] {
        lab.ssh_ok(h, &["docker", "swarm", "leave", "--force"]);
    }
    for h in ["node1", "node2", "node3"] {
        let state = lab.ssh_ok(
            h,
            &["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"],
        );
        assert_eq!(state, "inactive", "{h} still in a swarm");
    }
}

/// The archive a `backup create` printed.
fn written_archive(out: &str) -> std::path::PathBuf {
    let line = out
        .lines()
        .skip_while(|l| !l.starts_with("backup written:"))
        .nth(1)
        .unwrap_or_else(|| panic!("no archive printed:\n{}", tail(out)));
    std::path::PathBuf::from(line.trim())
}

#[test]
fn backup_refusals_then_restore_with_rejoin_then_autolock_key_in_the_keyring() {
    let Some(lab) = TestLab::start(3) else { return };
    let cli = Cli {
        lab: &lab,
        home: tempfile::tempdir().unwrap(),
        seen: Default::default(),
    };

    phase("a swarm of three managers with a service, an overlay, a secret and a config");
    lab.form_swarm(|_| {});
    lab.ssh_ok("node1", &["docker", "node", "promote", "node2", "node3"]);
    lab.create_overlay("backnet", &[]);
    lab.create_service("web", &["--network", "backnet"], &["sleep", "3600"]);
    lab.ssh_quiet("node1", "docker secret create db_pw - >/dev/null", "s3cret");
    lab.ssh_quiet("node1", "docker config create app_conf - >/dev/null", "a=1");
    wait_for("node2 and node3 reachable managers", 60, || {
        managers_up(&lab, "node1", &["node2", "node3"])
    });
    let before = swarm_objects(&lab, "node1");
    assert!(before[0].contains(&"web".to_string()), "{before:?}");

    phase("refused on the leader, naming a follower");
    let (ok, out) = cli.run(&["backup", "create", "--from", "node1", "--yes"]);
    assert!(
        !ok,
        "a backup on the leader must be refused:\n{}",
        tail(&out)
    );
    assert!(
        out.contains("node1 is the swarm's leader") && out.contains("--from node2"),
        "{}",
        tail(&out)
    );

    phase("refused when stopping node2's engine would leave 1 of 3 (node3's engine stopped)");
    lab.ssh_ok("node3", &["service", "docker", "stop"]);
    let (ok, out) = cli.run(&["backup", "create", "--from", "node2", "--yes"]);
    assert!(
        !ok,
        "a backup losing quorum must be refused:\n{}",
        tail(&out)
    );
    assert!(
        out.contains("stopping the engine of manager node2 would leave 1 reachable of 3")
            && out.contains("--force"),
        "{}",
        tail(&out)
    );
    assert!(
        lab.ssh_ok(
            "node2",
            &["docker", "info", "--format", "{{.Swarm.ControlAvailable}}"]
        ) == "true",
        "the refused backup touched node2's engine"
    );
    lab.ssh_ok("node3", &["service", "docker", "start"]);
    wait_for("node3 back as a reachable manager", 90, || {
        managers_up(&lab, "node1", &["node3"])
    });

    phase("taken from a follower (chosen by swarmdeck)");
    let out = cli.ok(&["backup", "create", "--yes"]);
    assert!(
        out.contains("[node2] stop the Docker engine on node2"),
        "{}",
        tail(&out)
    );
    let archive = written_archive(&out);
    let data_dir = cli.home.path().join(".local/share/swarmdeck/backups");
    assert_eq!(archive.parent(), Some(data_dir.as_path()));
    use std::os::unix::fs::PermissionsExt;
    for f in [
        archive.clone(),
        archive.with_extension("").with_extension("json"),
    ] {
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", f.display());
    }
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(archive.with_extension("").with_extension("json")).unwrap(),
    )
    .unwrap();
    assert_eq!(meta["source_host"], "node2");
    assert_eq!(meta["autolock"], false);
    assert_eq!(meta["nodes"].as_array().unwrap().len(), 3);
    eprintln!("archive {} ({} bytes)", archive.display(), meta["size"]);
    assert!(
        managers_up(&lab, "node1", &["node2"]),
        "node2 is no manager after the backup"
    );
    let listed = cli.ok(&["backup", "list"]);
    assert!(
        listed.contains(&archive.display().to_string()) && listed.contains("(verified)"),
        "{}",
        tail(&listed)
    );

    phase("an archive that fails (a size cap of 0) still starts node3's engine again");
    let (ok, out) = cli.run(&[
        "backup",
        "create",
        "--from",
        "node3",
        "--max-size-mib",
        "0",
        "--yes",
    ]);
    assert!(!ok, "an archive over the cap must fail:\n{}", tail(&out));
    assert!(
        out.contains("printed more than")
            && out.contains("done   [node3] start the Docker engine on node3 again")
            && out.contains("done   [node3] wait until node3 is a reachable manager again"),
        "{}",
        tail(&out)
    );
    assert!(
        managers_up(&lab, "node1", &["node3"]),
        "node3 did not come back"
    );
    let files: Vec<String> = std::fs::read_dir(&data_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 2, "the failed archive left a file: {files:?}");

    phase("every manager leaves: the swarm is gone");
    leave_all(&lab);

    phase("refused onto node1: not the address the state was taken at");
    let name = archive.file_name().unwrap().to_str().unwrap().to_string();
    let (ok, out) = cli.run(&["backup", "restore", &name, "--onto", "node1", "--yes"]);
    assert!(
        !ok,
        "a restore at another address must be refused:\n{}",
        tail(&out)
    );
    assert!(out.contains("restore onto node2"), "{}", tail(&out));
    assert_eq!(
        lab.ssh_ok(
            "node1",
            &["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"]
        ),
        "inactive"
    );

    phase("restored onto node2 (the source); node1 and node3 rejoin");
    let out = cli.ok(&[
        "backup", "restore", &name, "--onto", "node2", "--rejoin", "--yes",
    ]);
    assert!(out.contains("--force-new-cluster"), "{}", tail(&out));
    assert_eq!(swarm_objects(&lab, "node2"), before);
    wait_for("node1 and node3 Ready in node2's node list", 120, || {
        all_ready(&lab, "node2")
    });

    phase("autolock on: a second backup keeps the key in the keyring");
    lab.ssh_quiet(
        "node2",
        "docker swarm update --autolock=true >/dev/null",
        "",
    );
    wait_for(
        "node1 and node3 reachable managers of the restored swarm",
        90,
        || managers_up(&lab, "node2", &["node1", "node3"]),
    );
    let out = cli.ok(&["backup", "create", "--from", "node3", "--yes"]);
    let locked = written_archive(&out);
    assert!(out.contains("autolock: yes"), "{}", tail(&out));
    let locked_name = locked.file_name().unwrap().to_str().unwrap().to_string();
    let keyring = Keyring::keyutils().expect("the kernel keyring");
    let entry = SecretKey::BackupUnlockKey {
        archive: locked_name.clone(),
    };
    let key = keyring
        .get(&entry)
        .unwrap()
        .expect("the unlock key in the keyring");
    assert!(key.expose().starts_with("SWMKEY-"));
    let meta_text =
        std::fs::read_to_string(locked.with_extension("").with_extension("json")).unwrap();
    assert!(!meta_text.contains("SWMKEY"), "{meta_text}");
    assert!(
        managers_up(&lab, "node2", &["node3"]),
        "node3 is no manager after the backup"
    );

    phase("an autolocked archive whose key the keyring lacks is refused, touching no host");
    keyring.delete(&entry).unwrap();
    let (ok, out) = cli.run(&[
        "backup",
        "restore",
        &locked_name,
        "--onto",
        "node3",
        "--yes",
    ]);
    assert!(
        !ok,
        "a restore without its key must be refused:\n{}",
        tail(&out)
    );
    assert!(
        out.contains(&format!(
            "refused: {locked_name} was taken from an autolocked swarm"
        )) && out.contains("--unlock-key-stdin"),
        "{}",
        tail(&out)
    );
    assert!(managers_up(&lab, "node2", &["node1", "node3"]));

    phase("every manager's state destroyed; restored onto node3 with the key on stdin");
    leave_all(&lab);
    let (ok, out) = cli.run_stdin(
        &[
            "backup",
            "restore",
            &locked_name,
            "--onto",
            "node3",
            "--rejoin",
            "--unlock-key-stdin",
            "--yes",
        ],
        &format!("{}\n", key.expose()),
    );
    assert!(ok, "the autolocked restore failed:\n{}", tail(&out));
    assert!(
        out.contains("kept in the OS keyring as swarmdeck:backup-unlock-key:")
            && out.contains(
                "done   [node3] unwrap the node key on node3 with the unlock key from the OS \
                 keyring (never stored)"
            ),
        "{}",
        tail(&out)
    );
    let kept = keyring.get(&entry).unwrap().expect("the key kept again");
    assert!(
        kept.expose() == key.expose(),
        "the keyring holds another key"
    );
    assert_eq!(swarm_objects(&lab, "node3"), before);
    assert_eq!(
        lab.ssh_ok(
            "node3",
            &["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"]
        ),
        "active"
    );
    assert_eq!(
        lab.ssh_ok(
            "node3",
            &[
                "docker",
                "info",
                "--format",
                "{{.Swarm.Cluster.Spec.EncryptionConfig.AutoLockManagers}}"
            ]
        ),
        "true",
        "autolock is off after the restore"
    );
    let now = lab.ssh_ok("node3", &["docker", "swarm", "unlock-key", "-q"]);
    assert!(
        now == key.expose(),
        "the restored swarm's unlock key is not the one kept for the archive"
    );
    // The restored manager sealed its node key again with the swarm's key.
    let root = lab.ssh_ok(
        "node3",
        &["docker", "info", "--format", "{{.DockerRootDir}}"],
    );
    let key_file = format!("{root}/swarm/certificates/swarm-node.key");
    wait_for("node3's node key sealed again", 60, || {
        lab.ssh_ok("node3", &["head", "-1", &key_file]) == "-----BEGIN ENCRYPTED PRIVATE KEY-----"
    });
    wait_for("node1 and node2 Ready in node3's node list", 120, || {
        all_ready(&lab, "node3")
    });
    wait_for(
        "node1 and node2 reachable managers of the restored swarm",
        90,
        || managers_up(&lab, "node3", &["node1", "node2"]),
    );

    // The node key as the restore sent it, to look for it in the outputs below.
    let sealed = swarmdeck::backup::archive::read_node_key(&locked).unwrap();
    let kek = swarmdeck::backup::unlock::kek_from_unlock_key(key.expose()).unwrap();
    let unwrapped = swarmdeck::backup::unlock::unwrap_node_key(&sealed, &kek).unwrap();
    let key_lines: Vec<&str> = unwrapped
        .lines()
        .chain(sealed.lines())
        .filter(|l| l.len() >= 40)
        .map(|l| l.strip_prefix("raft-dek: ").unwrap_or(l))
        .collect();
    assert!(key_lines.len() >= 6, "too few key lines to look for");

    phase("no unlock key nor node key in any output, logs or the audit log");
    let audit = std::fs::read_to_string(cli.audit()).unwrap();
    assert!(
        audit.contains("docker swarm init --force-new-cluster"),
        "{audit}"
    );
    for (what, text) in [
        ("CLI output and logs", cli.seen.borrow().clone()),
        ("audit", audit),
    ] {
        assert!(!text.contains("SWMKEY-"), "an unlock key in the {what}");
        assert!(!text.contains(key.expose()), "the unlock key in the {what}");
        assert!(!text.contains("PRIVATE KEY"), "a private key in the {what}");
        assert!(
            !key_lines.iter().any(|l| text.contains(l)),
            "node key material in the {what}"
        );
    }
    keyring.delete(&entry).unwrap();
}
