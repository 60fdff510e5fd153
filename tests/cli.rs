//! The headless CLI as scripts use it: the real binary against a real lab.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::lab::TestLab;

/// Runs swarmdeck with a private HOME so the user's config, known_hosts and keyring
/// entries are never touched.
fn swarmdeck(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_swarmdeck"))
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .output()
        .expect("run swarmdeck")
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
}

#[test]
fn accept_new_records_the_key_and_a_changed_key_is_refused() {
    let Some(lab) = TestLab::start(1) else { return };
    let home = tempfile::tempdir().unwrap();
    let key = lab.key.to_str().unwrap();
    let h1 = format!("root@{}", lab.hosts[0].ip);
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
