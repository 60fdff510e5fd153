//! Tearing a lab down so that nothing is left: processes, cgroups, namespaces, veth, mounts,
//! files. Works from naming conventions alone, so a half-built lab (or a missing lab.json)
//! is cleaned up too.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::net::Names;
use super::{LabError, sys};

/// Cgroup directories docker created for this lab's hosts (`--cgroup-parent /sdk-L-nI`), in
/// every hierarchy mounted in the root namespace.
fn lab_cgroups(names: &Names) -> Vec<PathBuf> {
    let Ok(mi) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mounts: Vec<String> = mi
        .lines()
        .filter(|l| l.contains(" - cgroup ") || l.contains(" - cgroup2 "))
        .filter_map(|l| sys::mount_points(l).pop())
        .collect();
    let mut out = Vec::new();
    for m in mounts {
        let Ok(rd) = std::fs::read_dir(&m) else {
            continue;
        };
        for e in rd.flatten() {
            if e.file_name().to_str().is_some_and(|n| names.owns_netns(n)) && e.path().is_dir() {
                out.push(e.path());
            }
        }
    }
    out
}

/// Pids listed in `cgroup.procs` of `dir` and every cgroup below it.
fn cgroup_pids(dir: &Path, out: &mut BTreeSet<u32>) {
    if let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        out.extend(text.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                cgroup_pids(&e.path(), out);
            }
        }
    }
}

/// Every process that belongs to the lab: inside one of its network namespaces, inside one
/// of its hosts' cgroups (containers have namespaces of their own), a recorded pid whose
/// command line still names the lab directory, and all their descendants.
fn lab_processes(names: &Names, dir: &Path, recorded: &[u32]) -> BTreeSet<u32> {
    let ns_ids: Vec<sys::NsId> = sys::netns_list()
        .iter()
        .filter(|n| names.owns_netns(n))
        .filter_map(|n| sys::netns_id(n))
        .collect();
    let pids = sys::all_pids();
    let mut set = BTreeSet::new();
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for &pid in &pids {
        let Some((state, ppid)) = sys::stat(pid) else {
            continue;
        };
        if state == 'Z' {
            continue;
        }
        children.entry(ppid).or_default().push(pid);
        if sys::pid_netns(pid).is_some_and(|ns| ns_ids.contains(&ns)) {
            set.insert(pid);
        }
    }
    for cg in lab_cgroups(names) {
        cgroup_pids(&cg, &mut set);
    }
    let dir_s = dir.to_string_lossy();
    for &pid in recorded {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if sys::alive(pid) && String::from_utf8_lossy(&cmdline).contains(dir_s.as_ref()) {
            set.insert(pid);
        }
    }
    // A host still on its way in (`setsid -f ip netns exec … boot.sh` before it entered
    // the namespace) is recognised by its boot script argument.
    for &pid in &pids {
        if runs_boot_script_of(pid, dir) {
            set.insert(pid);
        }
    }
    let mut stack: Vec<u32> = set.iter().copied().collect();
    while let Some(p) = stack.pop() {
        for &c in children.get(&p).map(Vec::as_slice).unwrap_or_default() {
            if set.insert(c) {
                stack.push(c);
            }
        }
    }
    set.remove(&std::process::id());
    set.retain(|&p| sys::alive(p));
    set
}

/// Whether one of `pid`'s arguments is a boot script of the lab in `dir` (`<dir>/nI/boot.sh`).
fn runs_boot_script_of(pid: u32, dir: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    cmdline.split(|&b| b == 0).any(|arg| {
        let p = Path::new(std::ffi::OsStr::from_bytes(arg));
        p.parent().and_then(Path::parent) == Some(dir) && p.file_name() == Some("boot.sh".as_ref())
    })
}

/// SIGKILLs the lab's processes until none is left (new ones may appear while killing).
pub fn kill_processes(names: &Names, dir: &Path, recorded: &[u32]) -> Result<(), LabError> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let victims = lab_processes(names, dir, recorded);
        if victims.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(LabError::Leftover {
                lab: names.lab.clone(),
                what: format!("processes {victims:?} that survived SIGKILL"),
            });
        }
        for &pid in &victims {
            sys::kill9(pid);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Removes the hosts' cgroup trees, deepest first. A cgroup can be busy for a moment after
/// its last process died, so retry briefly.
pub fn remove_cgroups(names: &Names) -> Result<(), LabError> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut left = Vec::new();
        for cg in lab_cgroups(names) {
            let mut dirs = Vec::new();
            collect_dirs(&cg, &mut dirs);
            // Children were pushed after their parents: remove in reverse.
            for d in dirs.iter().rev() {
                if let Err(e) = std::fs::remove_dir(d)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    left.push(format!("{} ({e})", d.display()));
                }
            }
        }
        if left.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(LabError::Leftover {
                lab: names.lab.clone(),
                what: format!("cgroups {}", left.join(", ")),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    out.push(dir.to_path_buf());
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                collect_dirs(&e.path(), out);
            }
        }
    }
}

/// Mount points at or under `dir` in this (root) mount namespace.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    sys::mount_points(&mi)
        .into_iter()
        .filter(|m| Path::new(m).starts_with(dir))
        .collect()
}

/// Hosts mount only inside their own mount namespaces, which die with their processes;
/// anything still mounted under the lab directory here is detached (deepest first).
pub fn unmount_under(lab: &str, dir: &Path) -> Result<(), LabError> {
    let mut mounts = mounts_under(dir);
    mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in &mounts {
        sys::run("unmount a leftover lab mount", "umount", &["-l", m])?;
    }
    let left = mounts_under(dir);
    if left.is_empty() {
        Ok(())
    } else {
        Err(LabError::Leftover {
            lab: lab.to_string(),
            what: format!("mounts {}", left.join(", ")),
        })
    }
}
