//! The practice lab on this machine: real dockerd and sshd per host, reached like real
//! machines. Needs root (see `common::lab`); tests run in parallel, each on its own lab.

mod common;

use std::path::Path;
use std::time::Duration;

use common::lab::{TestLab, lab_available};
use swarmdeck::inventory::{AuthMethod, Inventory};
use swarmdeck::lab::{self, LabError, LabSpec};

fn pid_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let state = s[s.rfind(')')? + 1..]
                .split_whitespace()
                .next()?
                .to_string();
            Some(state != "Z" && state != "X")
        })
        .unwrap_or(false)
}

fn netns_with_prefix(prefix: &str) -> Vec<String> {
    std::fs::read_dir("/run/netns")
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}

/// Everything a lab may leave behind, as human-readable findings (empty = clean).
fn leftovers(name: &str, dir: &Path, pids: &[u32]) -> Vec<String> {
    let mut found: Vec<String> = netns_with_prefix(&format!("sdk-{name}-"))
        .into_iter()
        .map(|n| format!("netns {n}"))
        .collect();
    if Path::new("/sys/class/net")
        .join(format!("sdk-{name}"))
        .exists()
    {
        found.push(format!("veth sdk-{name}"));
    }
    found.extend(
        pids.iter()
            .filter(|&&p| pid_alive(p))
            .map(|p| format!("pid {p}")),
    );
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir_s = dir.to_string_lossy();
    found.extend(
        mountinfo
            .lines()
            .filter(|l| l.contains(dir_s.as_ref()))
            .map(|l| format!("mount {l}")),
    );
    if dir.exists() {
        found.push(format!("dir {}", dir.display()));
    }
    for h in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        let cg = h.path().join(format!("sdk-{name}-n1"));
        if cg.exists() {
            found.push(format!("cgroup {}", cg.display()));
        }
    }
    found
}

#[test]
fn three_hosts_answer_over_ssh_with_strict_host_keys() {
    let Some(lab) = TestLab::start(3) else { return };
    let mut machine_ids = Vec::new();
    for h in &lab.hosts {
        // Several words: each is quoted, so the Go template arrives as one argument.
        let name = lab.ssh_ok(&h.name, &["docker", "info", "--format", "{{.Name}}"]);
        assert_eq!(name, h.name);
        // One word: a shell command line. The SSH layer uses /var/run/docker.sock.
        let out = lab.ssh_ok(
            &h.name,
            &["docker -H unix:///var/run/docker.sock image inspect -f ok swarmdeck/probe:1 && cat /etc/machine-id && hostname"],
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.first(), Some(&"ok"), "{out}");
        assert_eq!(lines.get(2), Some(&h.name.as_str()), "{out}");
        machine_ids.push(lines[1].to_string());
    }
    machine_ids.sort();
    machine_ids.dedup();
    assert_eq!(machine_ids.len(), 3, "hosts must not share /etc/machine-id");

    // Each host writes to an /etc of its own: not this machine's, not its neighbour's.
    let marker = format!("/etc/swarmdeck-lab-{}", lab.name);
    lab.ssh_ok("node1", &["sh", "-c", &format!("echo node1 > {marker}")]);
    assert_eq!(lab.ssh_ok("node1", &["cat", &marker]), "node1");
    assert!(
        !std::path::Path::new(&marker).exists(),
        "{marker} reached this machine"
    );
    let other = lab.ssh("node2", &["cat", &marker]);
    assert!(!other.status.success(), "{marker} reached node2");

    let inv = Inventory::load(&lab.inventory).unwrap();
    assert_eq!(inv.known_hosts, vec![lab.known_hosts.clone()]);
    assert_eq!(inv.hosts.len(), 3);
    assert_eq!(inv.hosts[2].address, lab.hosts[2].ip.to_string());
    assert_eq!(
        inv.hosts[0].auth,
        AuthMethod::Key {
            path: lab.key.clone()
        }
    );

    let status = lab::list()
        .into_iter()
        .find(|s| s.name == lab.name)
        .unwrap();
    assert!(
        status.hosts.iter().all(|h| h.dockerd_alive && h.sshd_alive),
        "{status:?}"
    );
}

#[test]
fn down_leaves_nothing_behind() {
    let Some(lab) = TestLab::start(2) else { return };
    // A running container: its processes have namespaces (and cgroups) of their own.
    lab.ssh_ok(
        "node1",
        &["docker", "run", "-d", "swarmdeck/probe:1", "sleep", "600"],
    );
    let name = lab.name.clone();
    let dir = lab.dir.clone();
    let pids: Vec<u32> = lab
        .hosts
        .iter()
        .flat_map(|h| [h.pids.boot, h.pids.dockerd, h.pids.sshd])
        .map(|p| p.expect("recorded pid"))
        .collect();
    assert!(pids.iter().all(|&p| pid_alive(p)));
    lab.down().expect("lab down");
    assert_eq!(leftovers(&name, &dir, &pids), Vec::<String>::new());
    assert!(matches!(lab::down(&name), Err(LabError::NotFound { .. })));
    // The supernet blackhole is there exactly while some lab (of any test running in
    // parallel) is up: read under the lock `up` and `down` take to change either.
    let st = lab::supernet_state().unwrap();
    assert_eq!(st.blackhole, !st.lab_namespaces.is_empty(), "{st:?}");
}

/// Lab hosts have their own copy-on-write copies of the machine's trees: deleting a file of
/// the machine's /var/tmp or /tmp inside a host, or writing into /root or /usr, leaves the
/// machine's files as they were; the host's dockerd still runs containers on its data root.
#[test]
fn a_host_changes_only_its_own_copy_of_the_machines_files() {
    let unique = format!("swarmdeck-lab-test-{}", std::process::id());
    let var_dir = Path::new("/var/tmp").join(&unique);
    let tmp_file = Path::new("/tmp").join(&unique);
    std::fs::create_dir_all(&var_dir).unwrap();
    std::fs::write(var_dir.join("keep"), "machine's").unwrap();
    std::fs::write(&tmp_file, "machine's").unwrap();
    struct Cleanup(Vec<std::path::PathBuf>);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            for p in &self.0 {
                let _ = std::fs::remove_dir_all(p).or_else(|_| std::fs::remove_file(p));
            }
        }
    }
    let root_file = Path::new("/root").join(&unique);
    let usr_file = Path::new("/usr/local").join(&unique);
    let _cleanup = Cleanup(vec![
        var_dir.clone(),
        tmp_file.clone(),
        root_file.clone(),
        usr_file.clone(),
    ]);
    let Some(lab) = TestLab::start(1) else { return };

    // The host sees the machine's files, and deletes its own copies of them.
    let keep = var_dir.join("keep");
    let (var_s, tmp_s) = (var_dir.to_str().unwrap(), tmp_file.to_str().unwrap());
    assert_eq!(
        lab.ssh_ok("node1", &["cat", keep.to_str().unwrap()]),
        "machine's"
    );
    lab.ssh_ok("node1", &["rm", "-rf", var_s, tmp_s]);
    let gone = lab.ssh("node1", &["ls", var_s, tmp_s]);
    assert!(!gone.status.success(), "the host still has its copies");
    assert_eq!(std::fs::read_to_string(&keep).unwrap(), "machine's");
    assert_eq!(std::fs::read_to_string(&tmp_file).unwrap(), "machine's");

    // What the host writes stays in the host.
    for f in [&root_file, &usr_file] {
        let f = f.to_str().unwrap();
        lab.ssh_ok("node1", &["sh", "-c", "echo host > \"$1\"", "sh", f]);
        assert_eq!(lab.ssh_ok("node1", &["cat", f]), "host");
        assert!(!Path::new(f).exists(), "{f} reached this machine");
    }

    // dockerd, with its data root in the lab's directory, still runs containers.
    let out = lab.ssh_ok(
        "node1",
        &["docker", "run", "--rm", "swarmdeck/probe:1", "echo", "ran"],
    );
    assert_eq!(out, "ran");
}

#[test]
fn two_labs_at_once_get_different_subnets() {
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| TestLab::start(1));
        let b = s.spawn(|| TestLab::start(1));
        (a.join().unwrap(), b.join().unwrap())
    });
    let (Some(a), Some(b)) = (a, b) else { return };
    assert_ne!(a.subnet, b.subnet);
    assert_eq!(a.ssh_ok("node1", &["hostname"]), "node1");
    assert_eq!(b.ssh_ok("node1", &["hostname"]), "node1");
}

#[test]
fn a_taken_name_is_refused_without_harming_the_lab() {
    let Some(lab) = TestLab::start(1) else { return };
    let err = lab::up(&LabSpec::new(lab.name.clone(), 1)).unwrap_err();
    assert!(matches!(err, LabError::NameInUse { .. }), "{err}");
    assert!(err.to_string().contains("lab down --name"), "{err}");
    assert_eq!(lab.ssh_ok("node1", &["hostname"]), "node1");
}

#[test]
fn a_failed_up_cleans_up_after_itself() {
    if !lab_available() {
        return;
    }
    let name = lab::unique_name('t');
    let spec = LabSpec::new(name.clone(), 1).with_ready_timeout(Duration::ZERO);
    let err = lab::up(&spec).unwrap_err();
    let LabError::HostNotReady { ref host, .. } = err else {
        panic!("expected HostNotReady, got {err}");
    };
    assert_eq!(host, "node1");
    let root = std::env::var(lab::ROOT_ENV).unwrap_or_else(|_| lab::DEFAULT_ROOT.into());
    let dir = Path::new(&root).join(&name);
    assert_eq!(leftovers(&name, &dir, &[]), Vec::<String>::new());
}

#[test]
fn invalid_names_never_reach_the_system() {
    for bad in ["", "UPPER", "toolongname", "a;b", "../x"] {
        let err = lab::up(&LabSpec::new(bad, 1)).unwrap_err();
        assert!(
            matches!(err, LabError::InvalidName { .. }),
            "{bad:?}: {err}"
        );
    }
}
