//! Running backup and restore plans: each step audited like every other plan's, with one
//! difference from [`crate::swarm::ops::apply`]: the steps that bring a stopped engine
//! back ([`BackupStep::always`]) run even after an earlier step failed or a cancel.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tokio_util::sync::CancellationToken;

use crate::cluster::Cluster;
use crate::host_engine::{self, EngineOp};
use crate::redact::{Secret, redact};
use crate::ssh::RemoteCommand;
use crate::swarm::ops::{self, Outcome, Progress};
use crate::swarm::plan::{Action, Plan, Step};
use crate::swarm::{AuditLog, SwarmError};

use super::archive;
use super::{ArchiveTarget, BackupError, BackupStep, NodeKeyTarget, ReplaceSource, unlock};

/// Whether a plan is a backup's or a restore's (it has a backup step).
pub fn is_backup_plan(plan: &Plan) -> bool {
    plan.steps
        .iter()
        .any(|s| matches!(s.action, Action::Backup(_)))
}

fn always(step: &Step) -> bool {
    matches!(&step.action, Action::Backup(b) if b.always())
}

/// Applies a backup or restore plan batch by batch. After a failure or a cancel, only the
/// steps that bring the engine back run; the others are audited as not run. Returns the
/// number of steps done, or the first failure.
pub async fn apply(
    cluster: &Cluster,
    plan: &Plan,
    audit: &AuditLog,
    progress: Progress<'_>,
    cancel: &CancellationToken,
) -> Result<usize, SwarmError> {
    let mut done = 0;
    let mut not_run = 0;
    let mut first_err: Option<SwarmError> = None;
    for batch in plan.batches() {
        let halted = first_err.is_some() || cancel.is_cancelled();
        let (run, skip): (Vec<&Step>, Vec<&Step>) =
            batch.into_iter().partition(|s| !halted || always(s));
        for step in skip {
            ops::record(cluster, audit, step, &Outcome::NotRun)?;
            not_run += 1;
        }
        let results = join_all(run.iter().map(|s| ops::run_step(cluster, s))).await;
        for (step, res) in run.iter().zip(results) {
            ops::record(cluster, audit, step, &Outcome::Ran(&res))?;
            progress(step, res.as_ref().map(|_| ()));
            match res {
                Ok(()) => done += 1,
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None if not_run > 0 => Err(SwarmError::Cancelled { done, not_run }),
        None => Ok(done),
    }
}

fn failed(host: &str, step: &str, message: impl std::fmt::Display, fix: &str) -> SwarmError {
    SwarmError::Step {
        host: host.to_string(),
        step: step.to_string(),
        message: redact(&message.to_string()).into_owned(),
        fix: fix.to_string(),
    }
}

/// A remote command of a step that failed: what it was for, its status and its stderr.
fn remote_failed(
    res: &crate::ssh::stream::StreamOutput,
    (host, what): (&str, &str),
    said: &str,
    fix: &str,
) -> SwarmError {
    let stderr = crate::untrusted::visible(res.stderr_lossy().trim()).into_owned();
    failed(
        host,
        what,
        format!("{said} ({}): {stderr}", res.status),
        fix,
    )
}

/// Runs one backup step on `host`.
pub async fn run_step(
    cluster: &Cluster,
    host: &str,
    what: &str,
    step: &BackupStep,
) -> Result<(), SwarmError> {
    match step {
        BackupStep::KeepUnlockKey { archive } => {
            let key = ops::unlock_key(cluster, host).await?;
            keep_unlock_key(archive, key)
                .await
                .map_err(SwarmError::from)
        }
        BackupStep::StopEngine => engine(cluster, host, what, EngineOp::Stop).await,
        BackupStep::StartEngine => {
            engine(cluster, host, what, EngineOp::Start).await?;
            wait_engine(cluster, host, what).await
        }
        BackupStep::Archive(t) => archive_to(cluster, host, what, t).await,
        BackupStep::Unlock { archive } => {
            let key = unlock_key_of(archive).await?;
            ops::run_unlock(cluster, host, &key).await
        }
        BackupStep::WaitManager { node_id } => wait_manager(cluster, host, what, node_id).await,
        BackupStep::Replace(r) => replace(cluster, host, what, r).await,
        BackupStep::UnwrapNodeKey(k) => write_node_key(cluster, host, what, k).await,
    }
}

async fn engine(cluster: &Cluster, host: &str, what: &str, op: EngineOp) -> Result<(), SwarmError> {
    let spec = ops::spec(cluster, host)?;
    let session = cluster.pool().session(spec).await?;
    host_engine::run(&session, op, cluster.deadlines().long)
        .await
        .map_err(|e| {
            failed(
                host,
                what,
                e,
                &format!("run `{}` on the host", host_engine::script(op)),
            )
        })
}

/// Asks `probe` every `every` until it says yes (`Ok`) or `within` passes; then fails with
/// its last answer after `said`.
async fn poll<F, Fut>(
    host: &str,
    what: &str,
    (within, every): (Duration, Duration),
    said: &str,
    fix: &str,
    mut probe: F,
) -> Result<(), SwarmError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let until = Instant::now() + within;
    loop {
        let last = match probe().await {
            Ok(()) => return Ok(()),
            Err(last) => last,
        };
        if Instant::now() > until {
            return Err(failed(host, what, format!("{said}: {last}"), fix));
        }
        tokio::time::sleep(every).await;
    }
}

/// Until the engine's API answers again after a start.
async fn wait_engine(cluster: &Cluster, host: &str, what: &str) -> Result<(), SwarmError> {
    let spec = ops::spec(cluster, host)?;
    let timing = (cluster.deadlines().long, Duration::from_millis(500));
    let said = "the engine did not answer after the start";
    let fix = "see the host's dockerd log (`journalctl -u docker` or /var/log/docker.log)";
    poll(host, what, timing, said, fix, || async {
        let d = cluster.engine(spec).await.map_err(|e| e.to_string())?;
        d.ping().await.map(drop).map_err(|e| e.to_string())
    })
    .await
}

/// Until the node is an active manager that the swarm counts as reachable.
async fn wait_manager(
    cluster: &Cluster,
    host: &str,
    what: &str,
    node_id: &str,
) -> Result<(), SwarmError> {
    use bollard::models::{LocalNodeState, Reachability};
    let spec = ops::spec(cluster, host)?;
    let timing = (cluster.deadlines().long * 2, Duration::from_secs(1));
    let said = "the node is not a reachable manager yet";
    let fix = "check `swarmdeck status`; with autolock unlock it with `swarmdeck swarm unlock`";
    poll(host, what, timing, said, fix, || async {
        let d = cluster.engine(spec).await.map_err(|e| e.to_string())?;
        let info = d.info().await.map_err(|e| e.to_string())?;
        let swarm = info.swarm.unwrap_or_default();
        if swarm.local_node_state == Some(LocalNodeState::LOCKED) {
            return Err("the swarm on it is locked (autolock)".into());
        }
        if swarm.control_available != Some(true) {
            return Err(format!("not yet a manager ({:?})", swarm.local_node_state));
        }
        let node = d.inspect_node(node_id).await.map_err(|e| e.to_string())?;
        match node.manager_status.and_then(|m| m.reachability) {
            Some(Reachability::REACHABLE) => Ok(()),
            r => Err(format!("reachability {r:?}")),
        }
    })
    .await
}

/// Streams the host's swarm directory into a temporary file beside the archive, checks it,
/// then renames it into place and writes the metadata. A failed archive leaves no file.
async fn archive_to(
    cluster: &Cluster,
    host: &str,
    what: &str,
    t: &ArchiveTarget,
) -> Result<(), SwarmError> {
    let dir = t.path.parent().unwrap_or(std::path::Path::new("."));
    archive::ensure_dir(dir)?;
    let tmp = tempfile::Builder::new()
        .prefix(".incomplete-")
        .tempfile_in(dir)
        .map_err(|e| BackupError::file(dir, e))?;
    let file = tmp.reopen().map_err(|e| BackupError::file(tmp.path(), e))?;
    let mut out = tokio::fs::File::from_std(file);
    let spec = ops::spec(cluster, host)?;
    let session = cluster.pool().session(spec).await?;
    let cmd = RemoteCommand::new(["tar", "-czf", "-", "-C", &t.meta.docker_root, "swarm"])
        .sudo(spec.sudo);
    let res = session
        .exec_download(&cmd, &mut out, t.max_size, cluster.deadlines().long * 5)
        .await?;
    if !res.success() {
        return Err(remote_failed(
            &res,
            (host, what),
            "tar failed",
            "check that the swarm directory exists and the SSH user may read it (root, or sudo)",
        ));
    }
    if res.stdout_bytes == 0 {
        return Err(failed(
            host,
            what,
            "the archive is empty",
            "see the host's tar",
        ));
    }
    out.sync_all()
        .await
        .map_err(|e| BackupError::file(tmp.path(), e))?;
    drop(out);
    let mut meta = t.meta.clone();
    meta.size = res.stdout_bytes;
    meta.sha256 = archive::sha256_file(tmp.path())?;
    meta.created = crate::snapshot::now_secs();
    meta.created_utc = crate::swarm::audit::fmt_time(meta.created);
    tmp.persist_noclobber(&t.path)
        .map_err(|e| BackupError::file(&t.path, e.error))?;
    archive::write_meta(&t.path, &meta)?;
    Ok(())
}

/// The restore's remote side: unpack into a fresh directory beside the swarm directory,
/// and only when that worked move the current one aside and the new one into place.
const REPLACE_SCRIPT: &str = r#"set -e
root="$1"; aside="$2"
cd "$root"
rm -rf swarm.restoring
mkdir -m 0700 swarm.restoring
tar -xzf - -C swarm.restoring
if [ ! -d swarm.restoring/swarm ]; then echo "the archive holds no swarm directory" >&2; exit 3; fi
if [ -e swarm ]; then mv swarm "$aside"; fi
mv swarm.restoring/swarm swarm
rmdir swarm.restoring
"#;

async fn replace(
    cluster: &Cluster,
    host: &str,
    what: &str,
    r: &ReplaceSource,
) -> Result<(), SwarmError> {
    // Checked again now: the file may have changed since the plan.
    let actual = archive::sha256_file(&r.archive)?;
    if actual != r.sha256 {
        return Err(BackupError::Checksum {
            path: r.archive.clone(),
            expected: r.sha256.clone(),
            actual,
        }
        .into());
    }
    let file = tokio::fs::File::open(&r.archive)
        .await
        .map_err(|e| BackupError::file(&r.archive, e))?;
    let spec = ops::spec(cluster, host)?;
    let session = cluster.pool().session(spec).await?;
    let cmd = RemoteCommand::new(["sh", "-c", REPLACE_SCRIPT, "sh", &r.docker_root, &r.aside])
        .sudo(spec.sudo);
    let res = session
        .exec_upload(&cmd, file, cluster.deadlines().long * 5)
        .await?;
    if !res.success() {
        return Err(remote_failed(
            &res,
            (host, what),
            "the host could not unpack the archive",
            "the host's swarm directory was left as it was; check its disk space and that the \
             SSH user may write the engine's data root (root, or sudo)",
        ));
    }
    Ok(())
}

/// Puts the unlock key into the OS keyring under the archive's name.
pub async fn keep_unlock_key(archive: &str, key: Secret) -> Result<(), BackupError> {
    let name = archive::keyring_name(archive);
    let archive = archive.to_string();
    tokio::task::spawn_blocking(move || {
        let ring = crate::secrets::Keyring::open()?;
        ring.set(&name, &key)
    })
    .await
    .map_err(|e| BackupError::KeyringStore {
        archive: archive.clone(),
        why: e.to_string(),
    })?
    .map_err(|e| BackupError::KeyringStore {
        archive,
        why: e.to_string(),
    })
}

/// The unlock key the keyring holds for an archive.
pub async fn unlock_key_of(archive: &str) -> Result<Secret, BackupError> {
    let name = archive::keyring_name(archive);
    let found = tokio::task::spawn_blocking(move || {
        crate::secrets::Keyring::open().and_then(|ring| ring.get(&name))
    })
    .await;
    let why = match found {
        Ok(Ok(Some(key))) => return Ok(key),
        Ok(Ok(None)) => "no entry".to_string(),
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    };
    Err(BackupError::NoUnlockKey {
        archive: archive.to_string(),
        why,
    })
}

/// The archive's node key opened with the unlock key the keyring holds for `name`. Held in
/// memory only.
pub async fn unwrapped_node_key(
    archive: &std::path::Path,
    name: &str,
) -> Result<zeroize::Zeroizing<String>, BackupError> {
    let key = unlock_key_of(name).await.map_err(|e| match e {
        BackupError::NoUnlockKey { archive, why } => {
            BackupError::RestoreKeyMissing { archive, why }
        }
        other => other,
    })?;
    let refused = |e: unlock::UnlockError| BackupError::NodeKey {
        archive: name.to_string(),
        why: e.to_string(),
    };
    let kek = unlock::kek_from_unlock_key(key.expose()).map_err(refused)?;
    let locked = archive::read_node_key(archive)?;
    unlock::unwrap_node_key(&locked, &kek).map_err(refused)
}

/// Replaces the node key in the restored swarm directory (the engine stopped) with the
/// unlocked one: sent on stdin, written 0600 beside it, then renamed over it.
const NODE_KEY_SCRIPT: &str = r#"set -e
umask 077
dir="$1/swarm/certificates"
cat > "$dir/.swarm-node.key.restoring"
chmod 0600 "$dir/.swarm-node.key.restoring"
mv "$dir/.swarm-node.key.restoring" "$dir/swarm-node.key"
"#;

async fn write_node_key(
    cluster: &Cluster,
    host: &str,
    what: &str,
    k: &NodeKeyTarget,
) -> Result<(), SwarmError> {
    let key = unwrapped_node_key(&k.archive, &k.name).await?;
    let spec = ops::spec(cluster, host)?;
    let session = cluster.pool().session(spec).await?;
    let cmd =
        RemoteCommand::new(["sh", "-c", NODE_KEY_SCRIPT, "sh", &k.docker_root]).sudo(spec.sudo);
    let res = session
        .exec_upload(&cmd, key.as_bytes(), cluster.deadlines().long)
        .await?;
    if !res.success() {
        return Err(remote_failed(
            &res,
            (host, what),
            "the host could not write the node key",
            "the restored manager starts locked; restore again once the SSH user may write \
             the engine's data root (root, or sudo)",
        ));
    }
    Ok(())
}
