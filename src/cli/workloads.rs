//! `swarmdeck services` and `swarmdeck ps SERVICE`: the swarm's services and a service's
//! tasks as one manager lists them, with why each pending task finds no node.

use std::fmt::Write;
use std::path::Path;

use anyhow::bail;
use serde::Serialize;

use crate::snapshot::{ClusterSnapshot, ServiceInfo, TaskInfo};
use crate::untrusted::visible as v;
use crate::workloads::{self, PendingReason};

use super::target::TargetArgs;

#[derive(Debug, clap::Args)]
pub struct ServicesArgs {
    /// Print the services as JSON (as the snapshot holds them).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// The service's name or ID (or a prefix of its ID that only it has).
    pub service: String,
    /// Print the tasks and the pending reasons as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A snapshot whose workloads were read, or why they could not be.
pub(super) fn workloads_snapshot(
    target: &TargetArgs,
    inventory: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<ClusterSnapshot> {
    let cluster = super::bootstrap::connect(target, inventory)?;
    checked_snapshot(&cluster, rt)
}

/// A snapshot of `cluster` whose workloads were read, or why they could not be.
pub(super) fn checked_snapshot(
    cluster: &crate::cluster::Cluster,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<ClusterSnapshot> {
    let snap = rt.block_on(cluster.snapshot());
    if snap.swarm.is_none() || snap.nodes_as_of.is_some() {
        let why = snap
            .swarm_error
            .as_deref()
            .unwrap_or("not a swarm yet, or every manager is unreachable");
        bail!("no swarm manager answered: {}", v(why));
    }
    if let Some(why) = &snap.workloads_error {
        bail!(
            "the manager listed the nodes but not the services: {}",
            v(why)
        );
    }
    Ok(snap)
}

pub fn services(
    args: ServicesArgs,
    target: &TargetArgs,
    inventory: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let snap = workloads_snapshot(target, inventory, rt)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&snap.services)?);
    } else {
        print!("{}", render_services(&snap.services));
    }
    Ok(())
}

pub fn ps(
    args: PsArgs,
    target: &TargetArgs,
    inventory: Option<&Path>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let snap = workloads_snapshot(target, inventory, rt)?;
    let Some(service) = snap.service(&args.service) else {
        let known: Vec<String> = snap.services.iter().map(|s| v(&s.name).into()).collect();
        bail!(
            "no service {} (or several match it); services: {}",
            v(&args.service),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        );
    };
    let tasks = snap.tasks_of(&service.id);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&task_report(&snap, &tasks))?
        );
    } else {
        print!("{}", render_tasks(&snap, service, &tasks));
    }
    Ok(())
}

/// Columns padded to their widest cell; every cell already made visible.
fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let head: Vec<String> = head.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&head).chain(rows) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}   ");
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

/// NAME, MODE, REPLICAS, IMAGE, PORTS, STACK: one line per service.
pub fn render_services(services: &[ServiceInfo]) -> String {
    let rows: Vec<Vec<String>> = services
        .iter()
        .map(|s| {
            let ports: Vec<String> = s.ports.iter().map(|p| p.describe()).collect();
            vec![
                v(&s.name).into(),
                s.mode.as_str().into(),
                s.replicas(),
                v(s.image_short()).into(),
                v(&ports.join(", ")).into(),
                v(s.stack.as_deref().unwrap_or("-")).into(),
            ]
        })
        .collect();
    table(
        &["NAME", "MODE", "REPLICAS", "IMAGE", "PORTS", "STACK"],
        &rows,
    )
}

/// One task as `ps --json` prints it: the task, its node's name, and for a pending task
/// why it waits.
#[derive(Serialize)]
struct TaskLine<'a> {
    #[serde(flatten)]
    task: &'a TaskInfo,
    node: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending: Option<PendingReason>,
}

fn node_name(snap: &ClusterSnapshot, task: &TaskInfo) -> Option<String> {
    let id = task.node_id.as_deref()?;
    Some(
        snap.node(id)
            .map_or_else(|| id.to_string(), |n| n.label_among(&snap.nodes)),
    )
}

fn task_report<'a>(snap: &ClusterSnapshot, tasks: &[&'a TaskInfo]) -> Vec<TaskLine<'a>> {
    tasks
        .iter()
        .map(|t| TaskLine {
            task: t,
            node: node_name(snap, t),
            pending: workloads::explain(snap, t),
        })
        .collect()
}

/// SLOT, NODE, DESIRED, STATE, ERROR / REASON; then each distinct pending reason with its
/// nodes, fix and the engine's own words.
pub fn render_tasks(snap: &ClusterSnapshot, service: &ServiceInfo, tasks: &[&TaskInfo]) -> String {
    let report = task_report(snap, tasks);
    let rows: Vec<Vec<String>> = report
        .iter()
        .map(|line| {
            let t = line.task;
            let slot = t.slot.map_or_else(|| "-".to_string(), |s| s.to_string());
            let why = match (&line.pending, &t.error) {
                (Some(p), _) => format!("pending: {}", p.summary),
                (None, Some(e)) => e.clone(),
                (None, None) => String::new(),
            };
            vec![
                slot,
                v(line.node.as_deref().unwrap_or("-")).into(),
                v(t.desired_state.as_str()).into(),
                v(t.state.as_str()).into(),
                v(&why).into(),
            ]
        })
        .collect();
    let mut out = format!("service {} ({})\n", v(&service.name), v(&service.id));
    out.push_str(&table(
        &["SLOT", "NODE", "DESIRED", "STATE", "ERROR / WHY PENDING"],
        &rows,
    ));
    let mut shown: Vec<&PendingReason> = Vec::new();
    for p in report.iter().filter_map(|l| l.pending.as_ref()) {
        // Tasks of one service usually wait for the same reason: say it once.
        if shown
            .iter()
            .any(|s| s.summary == p.summary && s.nodes == p.nodes)
        {
            continue;
        }
        shown.push(p);
        out.push_str(&render_reason(p));
    }
    out
}

fn render_reason(p: &PendingReason) -> String {
    let mut out = String::new();
    let short = p.task_id.get(..12).unwrap_or(&p.task_id);
    let _ = writeln!(out, "\ntask {} is pending: {}", v(short), v(&p.summary));
    for n in &p.nodes {
        let verdict = n
            .rejection
            .as_ref()
            .map_or_else(|| "fits".to_string(), |r| r.describe());
        let _ = writeln!(out, "  {}: {}", v(&n.node), v(&verdict));
    }
    let _ = writeln!(out, "  fix: {}", v(&p.fix));
    if let Some(says) = &p.engine_says {
        let _ = writeln!(out, "  the engine says: {}", v(says));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_hostile_names_stay_on_one_line() {
        let mut snap = ClusterSnapshot::empty("t");
        let svc: bollard::models::Service = serde_json::from_str(
            r#"{"ID": "s1", "Spec": {"Name": "web\u001b[2J\nx", "Mode": {"Replicated": {"Replicas": 2}},
                "TaskTemplate": {"ContainerSpec": {"Image": "img:1@sha256:00"}}},
                "Endpoint": {"Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080,
                                        "PublishMode": "ingress"}]}}"#,
        )
        .unwrap();
        snap.services
            .push(crate::snapshot::workloads::service_from_api(&svc, &[]));
        let text = render_services(&snap.services);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].starts_with("NAME"), "{text}");
        assert!(lines[1].contains("web\\u{1b}[2J\\nx"), "{text}");
        assert!(
            lines[1].contains("0/2") && lines[1].contains("img:1 "),
            "{text}"
        );
        assert!(lines[1].contains("*:8080->80/tcp"), "{text}");
        assert!(!text.contains('\u{1b}'));
    }
}
