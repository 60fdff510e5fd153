//! Probe containers and what they need, through the Engine API: the image (preloaded, or
//! built from the host's static busybox and imported), the temporary overlay, `docker exec`
//! with output and exit code, and label-based removal (this run's, and expired earlier ones).

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, ExecConfig, HostConfig, NetworkCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, InspectNetworkOptions, ListContainersOptions,
    ListImagesOptions, ListNetworksOptions, RemoveContainerOptions, RemoveImageOptions,
};
use futures_util::StreamExt;

use super::model::ImageSource;
use super::parse;
use crate::limits::MAX_OUTPUT_BYTES;
use crate::ssh::{RemoteCommand, SshSession};

/// Label on everything a run creates; its value is the run id.
pub const LABEL: &str = "swarmdeck.probe";
/// Unix time by which the creating run promised to be done; later runs sweep what is past it.
pub const LABEL_UNTIL: &str = "swarmdeck.probe.until";
pub const PRELOADED_IMAGE: &str = "swarmdeck/probe:1";
pub const IMPORT_REPO: &str = "swarmdeck/probe-import";
pub const ECHO_PORT: u16 = 7777;

/// Applets linked into the imported image: the ones the probes run.
const APPLETS: &[&str] = &["sh", "cat", "echo", "ip", "nc", "nslookup", "ping", "sleep"];

/// Output of a command run inside a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecResult {
    pub code: i64,
    pub stdout: String,
    pub stderr: String,
}

impl ExecResult {
    /// stdout and stderr together, for parsers that don't care which.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
    /// The last non-empty output line, for short failure details.
    pub fn last_line(&self) -> String {
        self.text()
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
            .to_string()
    }
}

/// `docker exec` through the API: create, start attached, collect, then read the exit code.
/// Errors are API/transport failures (the command itself failing is an `Ok` with a code).
pub async fn exec(
    d: &Docker,
    container: &str,
    cmd: &[String],
    timeout: Duration,
) -> Result<ExecResult, String> {
    let run = async {
        let created = d
            .create_exec(
                container,
                ExecConfig {
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    cmd: Some(cmd.to_vec()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        let mut out = ExecResult {
            code: -1,
            stdout: String::new(),
            stderr: String::new(),
        };
        match d
            .start_exec(&created.id, None)
            .await
            .map_err(|e| e.to_string())?
        {
            bollard::exec::StartExecResults::Attached { mut output, .. } => {
                while let Some(chunk) = output.next().await {
                    // The engine does not bound an exec's output; what is kept here is.
                    if (out.stdout.len() + out.stderr.len()) as u64 > MAX_OUTPUT_BYTES {
                        return Err(format!(
                            "the output is larger than {}",
                            crate::limits::human_bytes(MAX_OUTPUT_BYTES)
                        ));
                    }
                    match chunk.map_err(|e| e.to_string())? {
                        bollard::container::LogOutput::StdErr { message } => {
                            out.stderr.push_str(&String::from_utf8_lossy(&message))
                        }
                        other => out
                            .stdout
                            .push_str(&String::from_utf8_lossy(&other.into_bytes())),
                    }
                }
            }
            bollard::exec::StartExecResults::Detached => {}
        }
        let inspected = d
            .inspect_exec(&created.id)
            .await
            .map_err(|e| e.to_string())?;
        out.code = inspected
            .exit_code
            .ok_or("the engine reported no exit code")?;
        Ok(out)
    };
    tokio::time::timeout(timeout, run)
        .await
        .map_err(|_| format!("no result within {timeout:?}"))?
}

fn label_filter(value: Option<&str>) -> HashMap<String, Vec<String>> {
    let f = match value {
        Some(v) => format!("{LABEL}={v}"),
        None => LABEL.to_string(),
    };
    HashMap::from([("label".to_string(), vec![f])])
}

/// Labels for everything this run creates.
pub fn labels(run_id: &str, until_unix: u64) -> HashMap<String, String> {
    HashMap::from([
        (LABEL.to_string(), run_id.to_string()),
        (LABEL_UNTIL.to_string(), until_unix.to_string()),
    ])
}

/// Whether a labelled object is ours to remove: this run's, or an earlier run's that is past
/// its promised end (a crashed run). A concurrent run's live probes are left alone.
pub fn removable(labels: Option<&HashMap<String, String>>, run: Option<&str>, now: u64) -> bool {
    let Some(l) = labels else { return false };
    let Some(owner) = l.get(LABEL) else {
        return false;
    };
    match run {
        Some(run) => owner == run,
        None => l
            .get(LABEL_UNTIL)
            .and_then(|u| u.parse::<u64>().ok())
            .is_none_or(|until| until < now),
    }
}

/// Removes labelled containers (`run`: this run's; `None`: expired ones of earlier runs).
/// Returns how many were removed.
pub async fn remove_containers(d: &Docker, run: Option<&str>, now: u64) -> Result<usize, String> {
    let list = d
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(label_filter(run)),
            ..Default::default()
        }))
        .await
        .map_err(|e| format!("list containers: {e}"))?;
    let mut n = 0;
    for c in list {
        if !removable(c.labels.as_ref(), run, now) {
            continue;
        }
        let Some(id) = c.id else { continue };
        d.remove_container(
            &id,
            Some(RemoveContainerOptions {
                force: true,
                v: true,
                ..Default::default()
            }),
        )
        .await
        .map_err(|e| format!("remove container {id:.12}: {e}"))?;
        n += 1;
    }
    Ok(n)
}

/// Removes labelled images (only ones a run imported carry the label).
pub async fn remove_images(d: &Docker, run: Option<&str>, now: u64) -> Result<usize, String> {
    let list = d
        .list_images(Some(ListImagesOptions {
            filters: Some(label_filter(run)),
            ..Default::default()
        }))
        .await
        .map_err(|e| format!("list images: {e}"))?;
    let mut n = 0;
    for img in list {
        if !removable(Some(&img.labels), run, now) {
            continue;
        }
        d.remove_image(
            &img.id,
            Some(RemoveImageOptions {
                force: true,
                ..Default::default()
            }),
            None,
        )
        .await
        .map_err(|e| format!("remove image {}: {e}", img.id))?;
        n += 1;
    }
    Ok(n)
}

/// Removes labelled networks (on a manager). Retries while the swarm still sees endpoints
/// of just-removed containers.
pub async fn remove_networks(d: &Docker, run: Option<&str>, now: u64) -> Result<usize, String> {
    let list = d
        .list_networks(Some(ListNetworksOptions {
            filters: Some(label_filter(run)),
        }))
        .await
        .map_err(|e| format!("list networks: {e}"))?;
    let mut n = 0;
    for net in list {
        if !removable(net.labels.as_ref(), run, now) {
            continue;
        }
        let Some(id) = net.id else { continue };
        let mut last = String::new();
        let mut removed = false;
        for _ in 0..20 {
            match d.remove_network(&id).await {
                Ok(()) => {
                    removed = true;
                    break;
                }
                Err(e) => {
                    last = e.to_string();
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        if !removed {
            return Err(format!(
                "remove network {}: {last} (a container of a host whose engine is gone still \
                 holds it; it goes once that host is back, or after `docker node rm --force \
                 <node>` on a manager; a later run sweeps it)",
                net.name.unwrap_or(id)
            ));
        }
        n += 1;
    }
    Ok(n)
}

/// What an existing network is: it must be an attachable overlay.
pub async fn inspect_network(d: &Docker, name: &str) -> Result<(String, bool), String> {
    let n = d
        .inspect_network(name, None::<InspectNetworkOptions>)
        .await
        .map_err(|e| format!("network {name} not found on the manager ({e})"))?;
    if n.driver.as_deref() != Some("overlay") {
        return Err(format!(
            "network {name} is a {} network, not an overlay",
            n.driver.unwrap_or_default()
        ));
    }
    if n.attachable != Some(true) {
        return Err(format!(
            "network {name} is not attachable, so probe containers cannot join it; create it \
             with `docker network create -d overlay --attachable {name}` or test without \
             --network"
        ));
    }
    let encrypted = n
        .options
        .as_ref()
        .is_some_and(|o| o.contains_key("encrypted"));
    Ok((n.id.unwrap_or_default(), encrypted))
}

/// Creates the run's temporary attachable overlay on a manager.
pub async fn create_network(
    d: &Docker,
    name: &str,
    encrypted: bool,
    labels: HashMap<String, String>,
) -> Result<String, String> {
    let options = encrypted.then(|| HashMap::from([("encrypted".to_string(), String::new())]));
    let r = d
        .create_network(NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("overlay".into()),
            attachable: Some(true),
            labels: Some(labels),
            options,
            ..Default::default()
        })
        .await
        .map_err(|e| format!("create network {name}: {e}"))?;
    Ok(r.id)
}

/// The probe image on this host: the preloaded one, else one built from its busybox.
pub async fn ensure_image(
    session: &SshSession,
    d: &Docker,
    run_id: &str,
    labels: &HashMap<String, String>,
    timeout: Duration,
) -> Result<(String, ImageSource), String> {
    if d.inspect_image(PRELOADED_IMAGE).await.is_ok() {
        return Ok((PRELOADED_IMAGE.to_string(), ImageSource::Preloaded));
    }
    let busybox = read_static_busybox(session, timeout).await?;
    let tar = rootfs_tar(&busybox);
    let image = format!("{IMPORT_REPO}:{run_id}");
    let changes = labels
        .iter()
        .map(|(k, v)| format!("LABEL {k}={v}"))
        .collect();
    let mut stream = d.create_image(
        Some(CreateImageOptions {
            from_src: Some("-".into()),
            repo: Some(IMPORT_REPO.into()),
            tag: Some(run_id.into()),
            changes,
            ..Default::default()
        }),
        Some(bollard::body_full(tar.into())),
        None,
    );
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| format!("import the probe image: {e}"))?;
        if let Some(e) = info.error_detail.and_then(|e| e.message) {
            return Err(format!("import the probe image: {e}"));
        }
    }
    Ok((image, ImageSource::HostBusybox))
}

/// Reads the host's busybox over SSH and checks that it is static (it must run alone in an
/// empty image).
async fn read_static_busybox(session: &SshSession, timeout: Duration) -> Result<Vec<u8>, String> {
    let mut why = Vec::new();
    for path in ["/bin/busybox", "/usr/bin/busybox"] {
        let out = session
            .exec(&RemoteCommand::new(["cat", path]).timeout(timeout))
            .await
            .map_err(|e| e.to_string())?;
        if !out.success() {
            why.push(format!("{path}: missing"));
            continue;
        }
        match parse::elf_is_static(&out.stdout) {
            Ok(true) => return Ok(out.stdout),
            Ok(false) => why.push(format!("{path}: dynamically linked")),
            Err(e) => why.push(format!("{path}: {e}")),
        }
    }
    Err(format!(
        "no {PRELOADED_IMAGE} image and no static busybox to build one ({}); install \
         busybox-static on the host, or load the image: `docker load` / `docker import`",
        why.join(", ")
    ))
}

/// A tar of the probe's root filesystem: /bin/busybox plus applet symlinks.
pub fn rootfs_tar(busybox: &[u8]) -> Vec<u8> {
    let mut t = Vec::with_capacity(busybox.len() + 16 * 1024);
    for dir in ["bin/", "etc/", "tmp/", "proc/", "sys/", "dev/"] {
        tar_entry(&mut t, dir, b'5', 0o755, b"", "");
    }
    tar_entry(&mut t, "bin/busybox", b'0', 0o755, busybox, "");
    for applet in APPLETS {
        tar_entry(
            &mut t,
            &format!("bin/{applet}"),
            b'2',
            0o777,
            b"",
            "busybox",
        );
    }
    t.extend_from_slice(&[0u8; 1024]);
    t
}

/// One ustar entry (names are short, so no prefix field is needed).
fn tar_entry(t: &mut Vec<u8>, name: &str, kind: u8, mode: u32, data: &[u8], link: &str) {
    let mut h = [0u8; 512];
    let put = |h: &mut [u8; 512], at: usize, s: &[u8]| h[at..at + s.len()].copy_from_slice(s);
    put(&mut h, 0, name.as_bytes());
    put(&mut h, 100, format!("{mode:07o}\0").as_bytes());
    put(&mut h, 108, b"0000000\0");
    put(&mut h, 116, b"0000000\0");
    put(&mut h, 124, format!("{:011o}\0", data.len()).as_bytes());
    put(&mut h, 136, b"00000000000\0");
    put(&mut h, 148, b"        ");
    h[156] = kind;
    put(&mut h, 157, link.as_bytes());
    put(&mut h, 257, b"ustar\0");
    put(&mut h, 263, b"00");
    let sum: u32 = h.iter().map(|b| *b as u32).sum();
    put(&mut h, 148, format!("{sum:06o}\0 ").as_bytes());
    t.extend_from_slice(&h);
    t.extend_from_slice(data);
    let pad = (512 - data.len() % 512) % 512;
    t.extend(std::iter::repeat_n(0u8, pad));
}

/// Starts the probe container: attached to the overlay, running a TCP echo server, and
/// exiting by itself after an hour should every cleanup fail.
pub async fn start_probe(
    d: &Docker,
    name: &str,
    image: &str,
    network: &str,
    labels: HashMap<String, String>,
) -> Result<String, String> {
    let server = format!("nc -ll -p {ECHO_PORT} -e /bin/cat & exec sleep 3600");
    d.create_container(
        Some(CreateContainerOptions {
            name: Some(name.to_string()),
            ..Default::default()
        }),
        ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(vec!["sh".into(), "-c".into(), server]),
            labels: Some(labels),
            host_config: Some(HostConfig {
                network_mode: Some(network.to_string()),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await
    .map_err(|e| format!("create probe container: {e}"))?;
    d.start_container(name, None)
        .await
        .map_err(|e| format!("start probe container: {e}"))?;
    let info = d
        .inspect_container(name, None)
        .await
        .map_err(|e| format!("inspect probe container: {e}"))?;
    info.network_settings
        .and_then(|s| s.networks)
        .and_then(|n| n.get(network).cloned())
        .and_then(|e| e.ip_address)
        .filter(|ip| !ip.is_empty())
        .ok_or_else(|| format!("the probe got no address on {network}"))
        // Other probes ping and connect to it: only an IP address may reach their commands.
        .and_then(|ip| match ip.parse::<std::net::IpAddr>() {
            Ok(_) => Ok(ip),
            Err(_) => Err(format!(
                "the engine reports the probe's address on {network} as {:?}, not an IP address",
                crate::untrusted::visible(&ip)
            )),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rootfs_tar_is_readable_by_tar() {
        let data = b"#!fake busybox\n".repeat(100);
        let t = rootfs_tar(&data);
        assert_eq!(t.len() % 512, 0);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.tar");
        std::fs::write(&p, &t).unwrap();
        let out = std::process::Command::new("tar")
            .arg("-tvf")
            .arg(&p)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let list = String::from_utf8_lossy(&out.stdout);
        assert!(list.contains("bin/busybox"), "{list}");
        assert!(list.contains("bin/nc -> busybox"), "{list}");
        assert!(list.contains(&data.len().to_string()), "{list}");
        let x = std::process::Command::new("tar")
            .arg("-xf")
            .arg(&p)
            .arg("-C")
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(x.success());
        assert_eq!(std::fs::read(dir.path().join("bin/busybox")).unwrap(), data);
    }

    #[test]
    fn removable_only_ours_or_expired() {
        let l = labels("run1", 100);
        assert!(removable(Some(&l), Some("run1"), 50));
        assert!(!removable(Some(&l), Some("run2"), 50));
        assert!(!removable(Some(&l), None, 50), "live run's probe is kept");
        assert!(removable(Some(&l), None, 101), "expired one is swept");
        let no_until = HashMap::from([(LABEL.to_string(), "old".to_string())]);
        assert!(removable(Some(&no_until), None, 0));
        assert!(!removable(Some(&HashMap::new()), None, 0));
        assert!(!removable(None, None, 0));
    }
}
