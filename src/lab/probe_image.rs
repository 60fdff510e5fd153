//! `swarmdeck/probe:1`: a 2 MB image made of the static busybox, imported into every lab host
//! so exercises can run containers without a registry.

use std::path::Path;

use super::{LabError, sys};

pub const IMAGE: &str = "swarmdeck/probe:1";
/// The image's root filesystem as a tar, in the lab directory; each host imports it.
pub const TAR_NAME: &str = "probe.tar";
const BUSYBOX: &str = "/bin/busybox";

/// Applets linked into /bin: enough to debug networks (ping, nslookup, wget, nc, ip,
/// traceroute) and to keep a container alive (sleep).
const APPLETS: &[&str] = &[
    "sh",
    "ash",
    "cat",
    "echo",
    "env",
    "grep",
    "head",
    "hostname",
    "id",
    "ip",
    "ifconfig",
    "kill",
    "ls",
    "mkdir",
    "nc",
    "netstat",
    "nslookup",
    "ping",
    "ps",
    "route",
    "rm",
    "sleep",
    "tail",
    "telnet",
    "top",
    "traceroute",
    "true",
    "false",
    "uname",
    "wget",
    "httpd",
    "date",
    "vi",
];

/// Builds `<lab_dir>/probe.tar` from a scratch rootfs next to it (removed afterwards).
pub fn build(lab_dir: &Path) -> Result<(), LabError> {
    let rootfs = lab_dir.join("probe-rootfs");
    let bin = rootfs.join("bin");
    for d in ["bin", "etc", "tmp", "proc", "sys", "dev"] {
        let p = rootfs.join(d);
        std::fs::create_dir_all(&p)
            .map_err(|e| LabError::io(format!("create {}", p.display()), e))?;
    }
    std::fs::copy(BUSYBOX, bin.join("busybox"))
        .map_err(|e| LabError::io(format!("copy {BUSYBOX} (package busybox-static)"), e))?;
    for applet in APPLETS {
        std::os::unix::fs::symlink("busybox", bin.join(applet))
            .map_err(|e| LabError::io(format!("link applet {applet}"), e))?;
    }
    let tar = lab_dir.join(TAR_NAME);
    let (rootfs_s, tar_s) = (rootfs.to_string_lossy(), tar.to_string_lossy());
    let result = sys::run(
        "pack the probe image",
        "tar",
        &[
            "--owner=0",
            "--group=0",
            "-C",
            &rootfs_s,
            "-cf",
            &tar_s,
            ".",
        ],
    );
    let _ = std::fs::remove_dir_all(&rootfs);
    result.map(drop)
}
