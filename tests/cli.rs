//! The headless CLI as scripts use it: the real binary against a real lab.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::lab::TestLab;

/// Runs swarmdeck with a private HOME so the user's config and known_hosts are never
/// touched (keyring entries are named after this test's temporary paths).
fn swarmdeck(home: &Path, args: &[&str]) -> Output {
    swarmdeck_with_input(home, args, "")
}

fn swarmdeck_with_input(home: &Path, args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_swarmdeck"))
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env_remove("SSH_AUTH_SOCK")
        // No session bus (not even at $XDG_RUNTIME_DIR/bus): the kernel keyutils store.
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("XDG_RUNTIME_DIR", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run swarmdeck");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.as_bytes()).expect("write stdin");
    drop(stdin);
    child.wait_with_output().expect("swarmdeck output")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn hosts_add_test_and_status_over_a_real_lab() {
    let Some(lab) = TestLab::start(2) else { return };
    let home = tempfile::tempdir().unwrap();
    let inv = home.path().join("inv.toml");
    let inv_s = inv.to_str().unwrap();
    let key = lab.key.to_str().unwrap();
    let kh = lab.known_hosts.to_str().unwrap();
    for h in &lab.hosts {
        let target = format!("root@{}", h.ip);
        let o = swarmdeck(
            home.path(),
            &[
                "--inventory",
                inv_s,
                "hosts",
                "add",
                &h.name,
                &target,
                "--key",
                key,
                "--label",
                "zone=a",
            ],
        );
        assert!(o.status.success(), "{}", text(&o));
    }
    let listed = text(&swarmdeck(
        home.path(),
        &["--inventory", inv_s, "hosts", "list"],
    ));
    assert!(
        listed.contains("node1") && listed.contains("zone=a"),
        "{listed}"
    );

    // Unknown host keys are refused without consent: the message carries the fingerprint.
    let refused = swarmdeck(home.path(), &["--inventory", inv_s, "hosts", "test"]);
    assert!(!refused.status.success());
    let msg = text(&refused);
    assert!(
        msg.contains("not known yet") && msg.contains("SHA256:"),
        "{msg}"
    );

    // With the lab's known_hosts the keys are verified and Docker answers over SSH.
    let ok = swarmdeck(
        home.path(),
        &["--inventory", inv_s, "--known-hosts", kh, "hosts", "test"],
    );
    let out = text(&ok);
    assert!(ok.status.success(), "{out}");
    assert_eq!(out.matches("ok: Docker").count(), 2, "{out}");
    assert!(out.contains("API 1.41"), "{out}");

    // Ad-hoc hosts like `docker -H ssh://`, JSON out.
    let h1 = format!("root@{}", lab.hosts[0].ip);
    let st = swarmdeck(
        home.path(),
        &[
            "-H",
            &h1,
            "-i",
            key,
            "--known-hosts",
            kh,
            "status",
            "--json",
        ],
    );
    assert!(st.status.success(), "{}", text(&st));
    let snap: serde_json::Value =
        serde_json::from_slice(&st.stdout).expect("status --json is JSON");
    assert_eq!(snap["hosts"][0]["engine_name"], "node1");
    assert_eq!(snap["hosts"][0]["swarm_state"], "inactive");

    // `-H` names resolve through ~/.ssh/config as `ssh` resolves them (address and key
    // from the alias; there is no host called "lab-two" otherwise), and the known_hosts
    // file the config names for every host is trusted as ssh trusts it.
    std::fs::create_dir_all(home.path().join(".ssh")).unwrap();
    std::fs::write(
        home.path().join(".ssh/config"),
        format!(
            "UserKnownHostsFile {kh}\nHost lab-two\n    HostName {}\n    User root\n    \
             IdentityFile {key}\n",
            lab.hosts[1].ip
        ),
    )
    .unwrap();
    let st = swarmdeck(home.path(), &["-H", "lab-two", "status", "--json"]);
    assert!(st.status.success(), "{}", text(&st));
    let snap: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(snap["hosts"][0]["host"], "lab-two");
    assert_eq!(snap["hosts"][0]["engine_name"], "node2");
}

#[test]
fn accept_new_records_the_key_and_a_changed_key_is_refused() {
    let Some(lab) = TestLab::start(1) else { return };
    let home = tempfile::tempdir().unwrap();
    let key = lab.key.to_str().unwrap();
    let h1 = format!("root@{}", lab.hosts[0].ip);

    // No usable home (HOME relative): nothing is recorded, least of all in the current
    // directory, and the error says why.
    let cwd = tempfile::tempdir().unwrap();
    let homeless = Command::new(env!("CARGO_BIN_EXE_swarmdeck"))
        .args(["-H", &h1, "-i", key, "--accept-new-host-keys", "status"])
        .current_dir(cwd.path())
        .env("HOME", "relative-home")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let msg = text(&homeless);
    assert!(!homeless.status.success(), "{msg}");
    assert!(
        msg.contains("no per-user folder to record host keys in"),
        "{msg}"
    );
    let left: Vec<_> = std::fs::read_dir(cwd.path()).unwrap().collect();
    assert!(
        left.is_empty(),
        "wrote into the current directory: {left:?}"
    );

    let first = swarmdeck(
        home.path(),
        &["-H", &h1, "-i", key, "--accept-new-host-keys", "status"],
    );
    assert!(first.status.success(), "{}", text(&first));
    let app_kh = home.path().join(".config/swarmdeck/known_hosts");
    let recorded = std::fs::read_to_string(&app_kh).expect("accept-new records the key");
    assert!(
        recorded.contains(&lab.hosts[0].ip.to_string()),
        "{recorded}"
    );

    // Pretend the host was replaced: its recorded key no longer matches.
    let other = home.path().join("other");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .unwrap();
    assert!(st.success());
    let other_pub = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let fake: Vec<&str> = other_pub.split_whitespace().take(2).collect();
    std::fs::write(&app_kh, format!("{} {}\n", lab.hosts[0].ip, fake.join(" "))).unwrap();
    let changed = swarmdeck(
        home.path(),
        &["-H", &h1, "-i", key, "--accept-new-host-keys", "status"],
    );
    assert!(!changed.status.success());
    let msg = text(&changed);
    assert!(msg.contains("CHANGED") || msg.contains("changed"), "{msg}");
    assert!(
        msg.contains("known_hosts:1"),
        "names the file and line: {msg}"
    );
}

#[test]
fn broken_inventory_names_the_file_and_is_left_alone() {
    let home = tempfile::tempdir().unwrap();
    let inv = home.path().join("inv.toml");
    std::fs::write(&inv, "[[host]\nname = ").unwrap();
    let o = swarmdeck(
        home.path(),
        &[
            "--inventory",
            inv.to_str().unwrap(),
            "hosts",
            "add",
            "x",
            "root@10.213.250.1",
        ],
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("inv.toml"), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&inv).unwrap(), "[[host]\nname = ");
}

#[test]
fn encrypted_key_passphrase_lives_in_the_keyring() {
    let Some(lab) = TestLab::start(1) else { return };
    let home = tempfile::tempdir().unwrap();
    // The lab's key, re-encrypted with a passphrase: same public key, so sshd accepts it.
    let enc = home.path().join("id_encrypted");
    std::fs::copy(&lab.key, &enc).unwrap();
    let st = Command::new("ssh-keygen")
        .args(["-q", "-p", "-N", "correct horse", "-f"])
        .arg(&enc)
        .status()
        .unwrap();
    assert!(st.success());
    let inv = home.path().join("inv.toml");
    let (inv_s, enc_s) = (inv.to_str().unwrap(), enc.to_str().unwrap());
    let kh = lab.known_hosts.to_str().unwrap();
    let target = format!("root@{}", lab.hosts[0].ip);

    // Without the passphrase the key cannot be used, and the error says so.
    let add = [
        "--inventory",
        inv_s,
        "hosts",
        "add",
        "n1",
        &target,
        "--key",
        enc_s,
    ];
    assert!(swarmdeck(home.path(), &add).status.success());
    let test = ["--inventory", inv_s, "--known-hosts", kh, "hosts", "test"];
    let locked = swarmdeck(home.path(), &test);
    assert!(!locked.status.success());
    assert!(
        text(&locked).to_lowercase().contains("passphrase"),
        "{}",
        text(&locked)
    );

    // Stored from standard input into the OS keyring: never in the inventory.
    let mut replace = add.to_vec();
    replace.extend(["--replace", "--passphrase-stdin"]);
    let stored = swarmdeck_with_input(home.path(), &replace, "correct horse\n");
    assert!(stored.status.success(), "{}", text(&stored));
    // Where it is, and that this store forgets at reboot.
    let said = text(&stored);
    assert!(
        said.contains("stored in the kernel keyutils keyring") && said.contains("lost at reboot"),
        "{said}"
    );
    assert!(
        !std::fs::read_to_string(&inv)
            .unwrap()
            .contains("correct horse")
    );
    let ok = swarmdeck(home.path(), &test);
    assert!(ok.status.success(), "{}", text(&ok));

    // A second host with the same key file: removing it keeps the passphrase n1 needs.
    let add2 = [
        "--inventory",
        inv_s,
        "hosts",
        "add",
        "n2",
        &target,
        "--key",
        enc_s,
    ];
    assert!(swarmdeck(home.path(), &add2).status.success());
    let rm2 = swarmdeck(
        home.path(),
        &["--inventory", inv_s, "hosts", "remove", "n2"],
    );
    assert!(rm2.status.success(), "{}", text(&rm2));
    assert!(
        text(&rm2).contains("kept its stored secret"),
        "{}",
        text(&rm2)
    );
    let still = swarmdeck(home.path(), &test);
    assert!(
        still.status.success(),
        "n1 lost its passphrase: {}",
        text(&still)
    );

    // Removing the last host that uses it removes the secret: the key is locked again
    // for a new entry.
    let rm = ["--inventory", inv_s, "hosts", "remove", "n1"];
    assert!(swarmdeck(home.path(), &rm).status.success());
    assert!(swarmdeck(home.path(), &add).status.success());
    assert!(!swarmdeck(home.path(), &test).status.success());
}

/// `hosts add --password-stdin` under a name already taken is refused before anything is
/// stored: the existing host keeps its password (real kernel keyring, real binary).
#[test]
fn taken_name_is_refused_before_the_stored_password_changes() {
    use swarmdeck::secrets::{Keyring, SecretKey};
    let home = tempfile::tempdir().unwrap();
    let inv = home.path().join("inv.toml");
    let inv_s = inv.to_str().unwrap();
    // Named after this process: keyring entries are per user, tests run in parallel.
    let user = format!("t{}", std::process::id());
    let target = format!("{user}@10.213.250.9");
    let add = [
        "--inventory",
        inv_s,
        "hosts",
        "add",
        "db",
        &target,
        "--password-stdin",
    ];
    let first = swarmdeck_with_input(home.path(), &add, "first secret\n");
    assert!(first.status.success(), "{}", text(&first));
    let again = swarmdeck_with_input(home.path(), &add, "second secret\n");
    assert!(!again.status.success());
    assert!(text(&again).contains("already in"), "{}", text(&again));
    assert!(!text(&again).contains("stored"), "{}", text(&again));

    let key = SecretKey::Password {
        user,
        address: "10.213.250.9".into(),
        port: 22,
    };
    let keyring = Keyring::keyutils().unwrap();
    let stored = keyring
        .get(&key)
        .unwrap()
        .expect("the first password is stored");
    assert_eq!(stored.expose(), "first secret");

    // Removing the host removes its password.
    let rm = swarmdeck(
        home.path(),
        &["--inventory", inv_s, "hosts", "remove", "db"],
    );
    assert!(rm.status.success(), "{}", text(&rm));
    assert!(keyring.get(&key).unwrap().is_none());
}
