//! `swarmdeck cert ls|expiry|rotate`: every node's certificate read from the node itself,
//! the node certificate lifetime (`docker swarm update --cert-expiry`) and CA rotation
//! (`docker swarm ca --rotate`), planned, confirmed with `--yes` and audited; a rotation is
//! followed until every node holds a certificate from the new CA.

use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::certs::rotation::{self, RotationProgress};
use crate::certs::table::{CertRow, rows};
use crate::certs::{self, CertChange, CertReport, findings::Verdict, human_left, utc};
use crate::doctor::Finding;
use crate::swarm::change::Change;
use crate::untrusted::visible as v;

use super::bootstrap::{ApplyArgs, connect, plan, show_and_apply};
use super::target::TargetArgs;

#[derive(Debug, clap::Args)]
pub struct CertArgs {
    #[command(subcommand)]
    pub command: CertCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum CertCommand {
    /// Every node's certificate, read from the node: host, node ID, role, not-after, time
    /// left, issuing CA, and what is wrong with it.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// Issue node certificates for DURATION from now on (`docker swarm update
    /// --cert-expiry`): 48h, 2160h (the default, 90 days), at least 1h.
    Expiry {
        duration: String,
        #[command(flatten)]
        apply: ApplyArgs,
    },
    /// A new root CA and every node's certificate reissued from it (`docker swarm ca
    /// --rotate`), followed until every node is on the new CA.
    Rotate {
        #[command(flatten)]
        apply: ApplyArgs,
        /// Seconds to wait for every node to follow.
        #[arg(long, default_value_t = 600, value_name = "SECS")]
        wait_timeout: u64,
        /// Apply and return without following.
        #[arg(long)]
        detach: bool,
    },
}

pub fn run(
    args: CertArgs,
    target: &TargetArgs,
    inventory: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let cluster = connect(target, inventory)?;
    match args.command {
        CertCommand::Ls { json } => list(&cluster, rt, json),
        CertCommand::Expiry { duration, apply } => {
            let secs = certs::parse_expiry(&duration)?;
            let plan = plan(
                rt,
                &cluster,
                &Change::Cert(CertChange::Expiry { secs }),
                false,
            )?;
            show_and_apply(rt, &cluster, &plan, &apply)?;
            Ok(())
        }
        CertCommand::Rotate {
            apply,
            wait_timeout,
            detach,
        } => {
            let plan = plan(rt, &cluster, &Change::Cert(CertChange::Rotate), false)?;
            if !show_and_apply(rt, &cluster, &plan, &apply)? || detach {
                return Ok(());
            }
            let host = &plan.steps[0].host;
            println!("\nfollowing the rotation (Ctrl-C stops waiting; the rotation goes on):");
            let show = |p: &RotationProgress| println!("  {}", v(&p.line()));
            let cancel = tokio_util::sync::CancellationToken::new();
            let done = rt.block_on(async {
                let on_ctrl_c = cancel.clone();
                let watcher = tokio::spawn(async move {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        on_ctrl_c.cancel();
                    }
                });
                let limit = Duration::from_secs(wait_timeout);
                let done = rotation::follow(&cluster, host, limit, &show, &cancel).await;
                watcher.abort();
                done
            });
            match done {
                Ok(p) => {
                    println!(
                        "CA rotation complete: all {} nodes have a certificate from the new CA",
                        p.total
                    );
                    Ok(())
                }
                Err(crate::swarm::SwarmError::Cancelled { .. }) => {
                    eprintln!("stopped waiting; the rotation goes on (`swarmdeck cert ls`)");
                    std::process::exit(130);
                }
                Err(e) => Err(anyhow::Error::msg(e.redacted())),
            }
        }
    }
}

#[derive(Serialize)]
struct Listing {
    rows: Vec<CertRow>,
    findings: Vec<Finding>,
    report: CertReport,
}

fn list(
    cluster: &crate::cluster::Cluster,
    rt: &tokio::runtime::Runtime,
    json: bool,
) -> anyhow::Result<()> {
    let report = rt.block_on(certs::read(cluster));
    let listing = Listing {
        rows: rows(&report),
        findings: certs::findings(&report),
        report,
    };
    if json {
        let raw = serde_json::to_string(&listing)?;
        println!("{}", crate::untrusted::inert_json(&raw));
    } else {
        print!("{}", render(&listing));
    }
    Ok(())
}

fn render(l: &Listing) -> String {
    let mut out = String::new();
    match &l.report.swarm {
        Some(s) => {
            let _ = writeln!(
                out,
                "swarm {}: node certificates valid for {}, CA {}{}",
                v(&s.cluster_id),
                human_left(s.node_cert_expiry as i64),
                s.root
                    .as_ref()
                    .map(|r| {
                        format!(
                            "{} (until {})",
                            r.key_id.as_deref().map(certs::short_id).unwrap_or("?"),
                            utc(r.not_after)
                        )
                    })
                    .unwrap_or_else(|| "unknown".into()),
                if s.rotation_in_progress {
                    ", CA rotation in progress"
                } else {
                    ""
                }
            );
        }
        None => {
            let _ = writeln!(
                out,
                "the swarm's settings could not be read: {}",
                v(l.report
                    .swarm_error
                    .as_deref()
                    .unwrap_or("no manager answered"))
            );
        }
    }
    let _ = writeln!(
        out,
        "\n{:<12} {:<26} {:<8} {:<21} {:>6}  {:<15} STATUS",
        "HOST", "NODE", "ROLE", "NOT AFTER", "LEFT", "CA"
    );
    for r in &l.rows {
        let status = match r.verdict {
            Some(verdict) => verdict.word().to_string(),
            None => "-".into(),
        };
        let status = match (r.note.is_empty(), r.verdict) {
            (true, _) => status,
            (false, None | Some(Verdict::Ok)) => r.note.clone(),
            (false, Some(_)) => format!("{status}; {}", r.note),
        };
        let _ = writeln!(
            out,
            "{:<12} {:<26} {:<8} {:<21} {:>6}  {:<15} {}",
            v(r.host.as_deref().unwrap_or("-")),
            v(if r.node_id.is_empty() {
                "-"
            } else {
                &r.node_id
            }),
            r.role,
            r.not_after.map(utc).unwrap_or_else(|| "-".into()),
            r.left.map(human_left).unwrap_or_else(|| "-".into()),
            r.ca_text(),
            v(&status)
        );
    }
    for h in &l.report.hosts {
        for f in &h.failures {
            let _ = writeln!(
                out,
                "{}: {} ({})",
                v(&h.host),
                v(&f.message),
                f.layer.describe()
            );
        }
    }
    if !l.findings.is_empty() {
        out.push('\n');
    }
    for f in &l.findings {
        let _ = writeln!(out, "{:<6} {}", f.severity.as_str(), v(&f.summary));
        let _ = writeln!(out, "       fix: {}", v(&f.fix));
    }
    out
}
