//! `swarmdeck backup create|list|restore`: the swarm's state archived from a follower
//! manager, listed with checksums verified, restored onto a fresh host. Plans are shown
//! with their CLI equivalents and applied only with `--yes`. The unlock key of an
//! autolocked swarm stays in the OS keyring and is never printed.

use std::path::{Path, PathBuf};

use crate::backup::{self, BackupChange, archive};
use crate::swarm::change::Change;
use crate::untrusted::visible;

use super::bootstrap::{ApplyArgs, connect, plan, show_and_apply};
use super::target::TargetArgs;

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub command: BackupCommand,
    /// Where archives are kept (default: backups in the user's data directory).
    #[arg(long, value_name = "DIR", env = archive::BACKUP_DIR_ENV, global = true)]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum BackupCommand {
    /// Archive a follower manager's /var/lib/docker/swarm (its engine stopped meanwhile;
    /// refused on the leader and when the rest would lose quorum, unless --force).
    Create {
        /// The manager to take it from (default: the first follower of the inventory).
        #[arg(long, value_name = "HOST")]
        from: Option<String>,
        /// The largest archive accepted, in MiB.
        #[arg(long, value_name = "MIB", default_value_t = backup::DEFAULT_MAX_SIZE >> 20)]
        max_size_mib: u64,
        /// Go ahead even when stopping its engine loses quorum.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        apply: ApplyArgs,
    },
    /// The archives with their metadata, each checksum verified.
    List,
    /// Put an archive onto a host whose engine is in no swarm and make it the only manager
    /// of a new cluster (--force-new-cluster).
    Restore {
        /// The archive: a path, or a file name in the backup directory.
        archive: PathBuf,
        /// The inventory host to restore onto.
        #[arg(long, value_name = "HOST")]
        onto: String,
        /// The other inventory hosts leave their old swarm and join again as their former
        /// role.
        #[arg(long)]
        rejoin: bool,
        /// Restore even though the host's engine is in a swarm (its state is moved aside).
        #[arg(long)]
        force: bool,
        /// An autolocked archive whose unlock key the OS keyring lacks: read the key from
        /// stdin, check that it opens the archive, and keep it in the keyring under the
        /// archive's name.
        #[arg(long)]
        unlock_key_stdin: bool,
        #[command(flatten)]
        apply: ApplyArgs,
    },
}

pub fn run(
    args: BackupArgs,
    target: &TargetArgs,
    inventory: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let dir = match args.dir {
        Some(d) => d,
        None => archive::default_dir()?,
    };
    match args.command {
        BackupCommand::List => list(&dir),
        BackupCommand::Create {
            from,
            max_size_mib,
            force,
            apply,
        } => {
            let cluster = connect(target, inventory)?;
            let change = Change::Backup(BackupChange::Create {
                from,
                dir,
                force,
                max_size: max_size_mib.saturating_mul(1 << 20),
            });
            let plan = plan(rt, &cluster, &change, false)?;
            if show_and_apply(rt, &cluster, &plan, &apply)?
                && let Some(path) = archive_of(&plan)
            {
                let v = archive::verify(&path)?;
                println!("\nbackup written:");
                print_one(&v);
            }
            Ok(())
        }
        BackupCommand::Restore {
            archive,
            onto,
            rejoin,
            force,
            unlock_key_stdin,
            apply,
        } => {
            let archive = if archive.components().count() == 1 && !archive.exists() {
                dir.join(archive)
            } else {
                archive
            };
            if unlock_key_stdin {
                let key = super::node::read_unlock_key(std::io::stdin().lock())?;
                keep_restore_key(rt, &archive, key)?;
            }
            let cluster = connect(target, inventory)?;
            let change = Change::Backup(BackupChange::Restore {
                archive,
                onto,
                rejoin,
                force,
            });
            let plan = plan(rt, &cluster, &change, false)?;
            show_and_apply(rt, &cluster, &plan, &apply)?;
            Ok(())
        }
    }
}

/// Checks that `key` opens the autolocked archive's node key, then keeps it in the OS
/// keyring under the archive's name, where the restore reads it.
fn keep_restore_key(
    rt: &tokio::runtime::Runtime,
    archive: &Path,
    key: crate::redact::Secret,
) -> anyhow::Result<()> {
    let v = archive::verify(archive)?;
    if !v.meta.autolock {
        anyhow::bail!(
            "{} was taken with autolock off: it needs no unlock key; drop --unlock-key-stdin",
            v.meta.archive
        );
    }
    let refused = |e: backup::unlock::UnlockError| backup::BackupError::NodeKey {
        archive: v.meta.archive.clone(),
        why: e.to_string(),
    };
    let kek = backup::unlock::kek_from_unlock_key(key.expose()).map_err(refused)?;
    backup::unlock::unwrap_node_key(&archive::read_node_key(archive)?, &kek).map_err(refused)?;
    rt.block_on(backup::run::keep_unlock_key(&v.meta.archive, key))?;
    println!(
        "the unlock key opens {}; kept in the OS keyring as swarmdeck:{}",
        v.meta.archive,
        backup::keyring_account(&v.meta.archive)
    );
    Ok(())
}

/// The archive a create plan writes.
fn archive_of(plan: &crate::swarm::Plan) -> Option<PathBuf> {
    plan.steps.iter().find_map(|s| match &s.action {
        crate::swarm::Action::Backup(backup::BackupStep::Archive(t)) => Some(t.path.clone()),
        _ => None,
    })
}

fn list(dir: &Path) -> anyhow::Result<()> {
    let rows = archive::list(dir)?;
    if rows.is_empty() {
        println!("no backups in {}", dir.display());
    }
    for row in rows {
        match &row.result {
            Ok(v) => print_one(v),
            Err(e) => println!(
                "{}\n  UNUSABLE: {}",
                row.path.display(),
                visible(&e.to_string())
            ),
        }
    }
    Ok(())
}

fn print_one(v: &backup::Verified) {
    let m = &v.meta;
    let managers: Vec<String> = m
        .managers()
        .map(|n| visible(&n.hostname).into_owned())
        .collect();
    println!("{}", v.path.display());
    println!(
        "  taken {} from {} (node {}), cluster {}",
        m.created_utc,
        visible(&m.source_host),
        visible(&m.source_node_id),
        visible(&m.cluster_id)
    );
    println!(
        "  managers: {} ({}); engine {}; {}; sha256 {} (verified)",
        managers.len(),
        managers.join(", "),
        visible(&m.engine_version),
        crate::limits::human_bytes(m.size),
        m.sha256
    );
    println!(
        "  autolock: {}",
        if m.autolock {
            "yes (the unlock key is in the OS keyring)"
        } else {
            "no"
        }
    );
}
