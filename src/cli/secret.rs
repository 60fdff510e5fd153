//! `swarmdeck secret|config create|ls|rm|rotate`: the data comes from a file or stdin and
//! is never shown, logged, audited or put in a plan or an error. `rotate` is one plan:
//! the next version created, every service moved to it, the old ones removed.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::swarm::change::Change;
use crate::swarm::secrets::{self, Kind, ObjectChange, ObjectOp};
use crate::untrusted::visible as v;

use super::bootstrap::{ApplyArgs, connect, plan, show_and_apply};
use super::target::TargetArgs;

#[derive(Debug, clap::Args)]
pub struct ObjectArgs {
    #[command(subcommand)]
    pub command: ObjectCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ObjectCommand {
    /// Create one from FILE, or from stdin (`-` or no FILE).
    Create {
        /// Its name (a docker name).
        name: String,
        /// The file with the data; `-` or none: stdin.
        file: Option<PathBuf>,
        #[command(flatten)]
        apply: ApplyArgs,
    },
    /// List them (names, IDs, times, the services that use each; never the data).
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// Remove one.
    Rm {
        /// Its name.
        name: String,
        #[command(flatten)]
        apply: ApplyArgs,
    },
    /// New data as NAME.vN+1; every service using NAME (or a version of it) moves to it,
    /// then the old ones are removed.
    Rotate {
        /// Its name, or any version of it (NAME.vN).
        name: String,
        /// The file with the new data; `-` or none: stdin.
        file: Option<PathBuf>,
        #[command(flatten)]
        apply: ApplyArgs,
    },
}

/// The data from a file or stdin, at most swarm's limit, encoded for the Engine API and
/// held as a [`crate::redact::Secret`] from here on.
fn read_data(kind: Kind, file: Option<&Path>) -> anyhow::Result<crate::redact::Secret> {
    let max = kind.max_bytes();
    let mut buf = Vec::new();
    let limit = max as u64 + 1;
    match file {
        Some(p) if p != Path::new("-") => std::fs::File::open(p)
            .with_context(|| format!("cannot read {}", v(&p.display().to_string())))?
            .take(limit)
            .read_to_end(&mut buf)?,
        _ => std::io::stdin().lock().take(limit).read_to_end(&mut buf)?,
    };
    if buf.len() > max {
        bail!(
            "swarm takes at most {} KiB of {} data",
            max / 1024,
            kind.word()
        );
    }
    let data = secrets::encode(&buf);
    buf.fill(0);
    Ok(data)
}

pub fn run(
    kind: Kind,
    args: ObjectArgs,
    target: &TargetArgs,
    inventory: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let (name, op, apply) = match args.command {
        ObjectCommand::Ls { json } => return list(kind, json, target, inventory, rt),
        ObjectCommand::Create { name, file, apply } => {
            let data = read_data(kind, file.as_deref())?;
            (name, ObjectOp::Create(data), apply)
        }
        ObjectCommand::Rm { name, apply } => (name, ObjectOp::Remove, apply),
        ObjectCommand::Rotate { name, file, apply } => {
            let data = read_data(kind, file.as_deref())?;
            (name, ObjectOp::Rotate(data), apply)
        }
    };
    let cluster = connect(target, inventory)?;
    let change = Change::Object(ObjectChange { kind, name, op });
    let plan = plan(rt, &cluster, &change, false)?;
    show_and_apply(rt, &cluster, &plan, &apply)?;
    Ok(())
}

fn list(
    kind: Kind,
    json: bool,
    target: &TargetArgs,
    inventory: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let cluster = connect(target, inventory)?;
    let objects = rt.block_on(async {
        let state = crate::swarm::state::gather(&cluster).await;
        secrets::list(&cluster, &state, kind).await
    });
    let objects = objects.map_err(|e| anyhow::Error::msg(e.redacted()))?;
    if json {
        let raw = serde_json::to_string(&objects)?;
        println!("{}", crate::untrusted::inert_json(&raw));
        return Ok(());
    }
    println!("{:<30} {:<26} {:<32} USED BY", "NAME", "ID", "UPDATED");
    for o in &objects {
        println!(
            "{:<30} {:<26} {:<32} {}",
            v(&o.name),
            v(&o.id),
            v(&o.updated),
            v(&o.used_by.join(", "))
        );
    }
    Ok(())
}
