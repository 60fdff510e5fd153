//! Shared test fixtures. Each test binary uses only some of them.
#![allow(dead_code)]

pub mod lab;

/// A multi-threaded runtime for one test (SSH sessions belong to the runtime that made them).
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The real binary against `lab`'s inventory with a private HOME (and so its own audit
/// log): (success, stdout, stderr).
pub fn swarmdeck_cli(
    lab: &lab::TestLab,
    home: &std::path::Path,
    args: &[&str],
) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_swarmdeck"))
        .arg("--inventory")
        .arg(&lab.inventory)
        .args(args)
        .env("HOME", home)
        .env_remove("SWARMDECK_LOG")
        .env_remove("SWARMDECK_AUDIT_LOG")
        .output()
        .expect("run swarmdeck");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Polls `f` every 300 ms until it holds; fails the test after `timeout`. Says how long
/// it took.
pub fn wait_for(what: &str, timeout: std::time::Duration, mut f: impl FnMut() -> bool) {
    let t = std::time::Instant::now();
    while !f() {
        assert!(
            t.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    eprintln!("{what}: after {:?}", t.elapsed());
}

/// SIGKILLs a lab process and waits (up to 10 s) until it is gone.
pub fn kill_and_wait(pid: u32) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::path::Path::new(&format!("/proc/{pid}")).exists()
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} survived SIGKILL"
    );
}

/// Runs `cmd` with `stdin` as its input (then EOF) and collects its output. Secrets go
/// this way, never on a command line.
pub fn output_with_stdin(mut cmd: std::process::Command, stdin: &[u8]) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}
