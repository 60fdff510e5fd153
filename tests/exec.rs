//! `swarmdeck exec` through the real CLI against a real 3-host lab swarm: the command runs
//! in the task's container on the node that runs it (the last one here, while the
//! inventory starts with node1), with its exit code, its stdin, a real pseudo-terminal
//! that follows the local one's size, and a clear failure when that node's sshd is gone.

mod common;

use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::lab::TestLab;
use rustix::termios::{self, LocalModes, Winsize};

fn swarmdeck(lab: &TestLab, home: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_swarmdeck"));
    cmd.arg("--inventory")
        .arg(&lab.inventory)
        .env("HOME", home)
        .env_remove("SWARMDECK_LOG");
    cmd
}

fn exec(lab: &TestLab, home: &std::path::Path, args: &[&str]) -> Output {
    swarmdeck(lab, home)
        .arg("exec")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run swarmdeck")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The container of `service`'s running task on `host`, once there is one.
fn running_container(lab: &TestLab, host: &str, service: &str) -> String {
    let filter = format!("label=com.docker.swarm.service.name={service}");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let id = lab.ssh_ok(host, &["docker", "ps", "-q", "--filter", &filter]);
        if !id.is_empty() {
            return id;
        }
        assert!(Instant::now() < deadline, "{service} never ran on {host}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn exec_runs_on_the_tasks_node_with_its_exit_code_stdin_and_a_pty() {
    let Some(lab) = TestLab::start(3) else { return };
    lab.form_swarm(|_| {});
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let last = lab.hosts[2].name.clone();
    let constraint = format!("node.hostname=={last}");
    lab.create_service("execd", &["--constraint", &constraint], &["sleep", "3600"]);
    let container = running_container(&lab, &last, "execd");
    let want = lab.ssh_ok(
        &last,
        &[
            "docker",
            "inspect",
            "-f",
            "{{.Config.Hostname}}",
            &container,
        ],
    );

    // The container's hostname, from node3's engine, while the inventory starts at node1.
    let started = Instant::now();
    let out = exec(&lab, home, &["execd", "--", "hostname"]);
    eprintln!("exec hostname: {:?}", started.elapsed());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), want);
    let by_slot = exec(&lab, home, &["execd.1", "--", "hostname"]);
    assert_eq!(
        text(&by_slot.stdout).trim(),
        want,
        "{}",
        text(&by_slot.stderr)
    );

    // The command's exit code is ours; stdout and stderr stay apart without -t.
    let out = exec(
        &lab,
        home,
        &["execd", "--", "sh", "-c", "echo out; echo err >&2; exit 3"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "out\n");
    assert!(text(&out.stderr).contains("err\n"), "{}", text(&out.stderr));

    // -i: our stdin reaches the command, and its end ends the command's.
    let mut cmd = swarmdeck(&lab, home);
    cmd.args(["exec", "-i", "execd", "--", "sh", "-c", "cat; echo done"]);
    let out = common::output_with_stdin(cmd, b"from stdin\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "from stdin\ndone\n");

    pty_session(&lab, home);
    sshd_killed(&lab, home, &last);
}

/// `-it` under a real pseudo-terminal: the command has a tty, its size is ours and follows
/// a resize, Ctrl-D ends it, and our terminal is back in its mode afterwards.
fn pty_session(lab: &TestLab, home: &std::path::Path) {
    let (master, slave) = open_pty();
    let size = |rows, cols| Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    termios::tcsetwinsize(&master, size(40, 120)).unwrap();
    let before = termios::tcgetattr(&slave).unwrap();
    let mut cmd = swarmdeck(lab, home);
    cmd.args([
        "exec",
        "-it",
        "execd",
        "--",
        "sh",
        "-c",
        "tty; stty size; while read x; do stty size; done; exit 7",
    ])
    .stdin(slave.try_clone().unwrap())
    .stdout(slave.try_clone().unwrap())
    .stderr(slave.try_clone().unwrap());
    // The child leads its own session with the pty as its terminal, as a shell's job would:
    // the pty's size changes reach it as SIGWINCH.
    // SAFETY: only async-signal-safe system calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::setsid()?;
            rustix::process::ioctl_tiocsctty(BorrowedFd::borrow_raw(0))?;
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    // The command holds the child's copies of the slave: without them, the reader ends
    // once the child and we close ours.
    drop(cmd);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let (mut m, seen) = (
            std::fs::File::from(master.try_clone().unwrap()),
            seen.clone(),
        );
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once the last slave fd is closed.
            while let Ok(n @ 1..) = m.read(&mut buf) {
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let mut keys = std::fs::File::from(master.try_clone().unwrap());
    let wait_for = |want: &str, keys: &mut std::fs::File| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if text(&seen.lock().unwrap()).contains(want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {want:?} in the session: {:?}",
                text(&seen.lock().unwrap())
            );
            // Enter, as a raw terminal sends it: the remote loop prints the size again.
            keys.write_all(b"\r").unwrap();
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    wait_for("/dev/pts/", &mut keys);
    wait_for("40 120", &mut keys);
    termios::tcsetwinsize(&master, size(30, 100)).unwrap();
    wait_for("30 100", &mut keys);
    // Ctrl-D: end of input for the remote terminal's `read`, then `exit 7`.
    keys.write_all(&[4]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the session did not end on Ctrl-D"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let session = text(&seen.lock().unwrap());
    eprintln!("pty session: {session:?}");
    assert_eq!(status.code(), Some(7), "{session}");
    let after = termios::tcgetattr(&slave).unwrap();
    assert!(
        after
            .local_modes
            .contains(LocalModes::ICANON | LocalModes::ECHO),
        "the terminal is back in canonical mode with echo"
    );
    assert_eq!(after.local_modes, before.local_modes);
    assert_eq!(after.input_modes, before.input_modes);
    assert_eq!(after.output_modes, before.output_modes);
    drop((slave, keys, master));
    reader.join().unwrap();
}

fn open_pty() -> (OwnedFd, OwnedFd) {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    let slave = rustix::fs::open(
        name.as_c_str(),
        rustix::fs::OFlags::RDWR | rustix::fs::OFlags::NOCTTY,
        rustix::fs::Mode::empty(),
    )
    .unwrap();
    assert!(termios::isatty(slave.as_fd()));
    (master, slave)
}

/// With the task's node's sshd killed, exec names that host and the SSH layer, and says
/// so within one host's deadline (not hanging on the dead host).
fn sshd_killed(lab: &TestLab, home: &std::path::Path, last: &str) {
    let injected = lab
        .inject(swarmdeck::lab::fault::Fault::SshdKilled, 2)
        .unwrap();
    let started = Instant::now();
    let out = exec(lab, home, &["execd", "--", "hostname"]);
    let took = started.elapsed();
    let err = text(&out.stderr);
    eprintln!("with {last}'s sshd killed ({took:?}): {err}");
    lab.heal(injected).unwrap();
    assert!(!out.status.success());
    assert!(
        err.contains(&format!("{last}: SSH not answering")),
        "names the host and the layer: {err}"
    );
    let budget = swarmdeck::limits::Deadlines::default().host_budget();
    assert!(took < budget, "{took:?} ≥ one host's budget {budget:?}");
}

/// Runs the CLI with `stdin`, at `SWARMDECK_LOG=trace` (every log line is output too);
/// returns success and everything it printed.
fn run_logged(
    lab: &TestLab,
    home: &std::path::Path,
    args: &[&str],
    stdin: &[u8],
) -> (bool, String) {
    let mut cmd = swarmdeck(lab, home);
    cmd.args(args).env("SWARMDECK_LOG", "trace");
    let out = common::output_with_stdin(cmd, stdin);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    (out.status.success(), all)
}

#[test]
fn secret_and_config_rotation_moves_the_service_and_leaks_the_value_nowhere() {
    let Some(lab) = TestLab::start(1) else { return };
    lab.form_swarm(|_| {});
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let audit = home.join("audit.jsonl");
    let audit_arg = audit.to_str().unwrap();
    let nonce = std::process::id();
    let values = [
        format!("first-secret-{nonce}-Qx7"),
        format!("second-secret-{nonce}-Zk4"),
        format!("first-config-{nonce}-Lm2"),
        format!("second-config-{nonce}-Wp9"),
    ];
    let mut printed = String::new();
    let ok = |printed: &mut String, args: &[&str], stdin: &str| {
        let mut all = args.to_vec();
        all.extend(["--yes", "--audit-log", audit_arg]);
        let (success, out) = run_logged(&lab, home, &all, stdin.as_bytes());
        assert!(success, "{args:?}: {out}");
        printed.push_str(&out);
    };
    ok(
        &mut printed,
        &["secret", "create", "db_pw", "-"],
        &values[0],
    );
    ok(&mut printed, &["config", "create", "app_conf"], &values[2]);
    lab.create_service(
        "rot",
        &[
            "--secret",
            "source=db_pw,target=db_password,mode=0400",
            "--config",
            "source=app_conf,target=/etc/app.conf",
        ],
        &["sleep", "3600"],
    );
    running_container(&lab, "node1", "rot");
    let read = |path: &str| {
        let out = exec(&lab, home, &["rot", "--", "cat", path]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    assert_eq!(read("/run/secrets/db_password"), values[0]);
    assert_eq!(read("/etc/app.conf"), values[2]);

    // Rotation as one plan, shown first.
    let (success, plan) = run_logged(
        &lab,
        home,
        &["secret", "rotate", "db_pw"],
        values[1].as_bytes(),
    );
    assert!(success, "{plan}");
    for want in [
        "$ docker secret create db_pw.v2 -",
        "$ docker service update --secret-rm db_pw --secret-add \
         source=db_pw.v2,target=db_password,uid=0,gid=0,mode=0400 rot",
        "$ docker secret rm db_pw",
        "not applied",
    ] {
        assert!(plan.contains(want), "{want} in {plan}");
    }
    printed.push_str(&plan);
    let started = Instant::now();
    ok(&mut printed, &["secret", "rotate", "db_pw"], &values[1]);
    eprintln!("secret rotated in {:?}", started.elapsed());
    assert_eq!(read("/run/secrets/db_password"), values[1]);
    ok(
        &mut printed,
        &["config", "rotate", "app_conf", "-"],
        &values[3],
    );
    assert_eq!(read("/etc/app.conf"), values[3]);
    assert_eq!(read("/run/secrets/db_password"), values[1], "kept across");

    // The old ones are gone; the chain goes on from the newest.
    let secrets = lab.ssh_ok(
        "node1",
        &["docker", "secret", "ls", "--format", "{{.Name}}"],
    );
    assert_eq!(secrets, "db_pw.v2");
    let configs = lab.ssh_ok(
        "node1",
        &["docker", "config", "ls", "--format", "{{.Name}}"],
    );
    assert_eq!(configs, "app_conf.v2");
    let listed = swarmdeck(&lab, home)
        .args(["secret", "ls", "--json"])
        .output()
        .unwrap();
    printed.push_str(&text(&listed.stdout));
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed[0]["name"], "db_pw.v2", "{listed}");
    assert_eq!(listed[0]["used_by"], serde_json::json!(["rot"]), "{listed}");

    // Nowhere: not in any output (logs at trace included) nor in the audit log, neither
    // as typed nor base64-encoded.
    let log = std::fs::read_to_string(&audit).unwrap();
    assert!(log.contains("docker secret create db_pw.v2 -"), "{log}");
    for value in &values {
        let encoded = data_encoding::BASE64.encode(value.as_bytes());
        for (what, hay) in [("output", &printed), ("audit log", &log)] {
            assert!(!hay.contains(value.as_str()), "the value is in the {what}");
            assert!(
                !hay.contains(&encoded),
                "the encoded value is in the {what}"
            );
        }
    }
}
