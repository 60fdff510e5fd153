//! Frame-time measurement of the real panels on a large synthetic cluster, headless:
//! egui layout plus tessellation per frame (the CPU side of a frame; GPU upload excluded).
//! Built with the `bench` feature only, for `swarmdeck-bench ui`.

use std::time::{Duration, Instant};

use eframe::egui;

use super::{AppState, Panel, Source};
use crate::snapshot::{
    AttachedContainer, Availability, ClusterSnapshot, NetworkInfo, NodeInfo, NodeState,
    Reachability, Role,
};

/// Median, 95th percentile and worst frame for one panel.
#[derive(Debug, Clone)]
pub struct FrameStats {
    pub panel: Panel,
    pub frames: usize,
    pub median: Duration,
    pub p95: Duration,
    pub max: Duration,
}

/// A cluster of `n` nodes: 5 managers (one leader), the rest workers, three overlays with
/// containers on every other node, some nodes drained or down.
pub fn synthetic_cluster(n: usize) -> ClusterSnapshot {
    let mut snap = ClusterSnapshot::empty("synthetic");
    for i in 0..n {
        let manager = i < 5.min(n);
        snap.nodes.push(NodeInfo {
            id: format!("id{i:04}"),
            hostname: format!("node{i:03}"),
            role: if manager { Role::Manager } else { Role::Worker },
            leader: i == 0,
            reachability: manager.then_some(Reachability::Reachable),
            availability: if i % 17 == 3 {
                Availability::Drain
            } else {
                Availability::Active
            },
            state: if i % 23 == 7 {
                NodeState::Down
            } else {
                NodeState::Ready
            },
            address: format!("10.1.{}.{}", i / 250, i % 250 + 1),
            engine_version: "20.10.24".to_string(),
            labels: [("zone".to_string(), format!("z{}", i % 3))].into(),
            observed_down: None,
            scheduling: Default::default(),
        });
    }
    for (k, name) in ["frontend", "backend", "metrics"].iter().enumerate() {
        snap.networks.push(NetworkInfo {
            id: format!("net{k}"),
            name: name.to_string(),
            driver: "overlay".into(),
            scope: "swarm".into(),
            attachable: true,
            encrypted: k == 2,
            ingress: false,
            subnets: vec![format!("10.{}.0.0/24", 40 + k)],
            containers: (0..n)
                .filter(|i| (i + k) % 2 == 0)
                .map(|i| AttachedContainer {
                    node: format!("node{i:03}"),
                    name: format!("{name}{i}"),
                    ipv4: Some(format!("10.{}.0.{}/24", 40 + k, i % 250 + 2)),
                })
                .collect(),
        });
    }
    add_workloads(&mut snap, n);
    snap
}

/// Ten tasks meant to run per node across fifty services, a shut-down task of history
/// for every tenth, and one service whose constraint no node meets (its tasks pending).
fn add_workloads(snap: &mut ClusterSnapshot, nodes: usize) {
    let services = 50;
    for k in 0..=services {
        let stuck = k == services;
        let service = serde_json::json!({
            "id": format!("svc{k:02}"), "name": format!("app{k:02}"),
            "mode": "replicated", "running": if stuck { 0 } else { nodes / 5 },
            "desired": if stuck { 3 } else { nodes / 5 },
            "image": "registry.example/app:1.0",
            "constraints": if stuck { vec!["node.labels.zone==nowhere"] } else { vec![] },
            "stack": format!("stack{}", k % 4),
        });
        snap.services
            .push(serde_json::from_value(service).expect("a service"));
    }
    let task = |i: usize, k: usize, node: Option<usize>, state: &str, desired: &str| {
        serde_json::from_value(serde_json::json!({
            "id": format!("task{i:06}"), "service_id": format!("svc{k:02}"),
            "slot": i / services + 1, "node_id": node.map(|n| format!("id{n:04}")),
            "desired_state": desired, "state": state,
            "timestamp": "2026-11-30T10:00:00Z",
        }))
        .expect("a task")
    };
    for i in 0..nodes * 10 {
        let node = i % nodes;
        snap.tasks
            .push(task(i, i % services, Some(node), "running", "running"));
        if i % 10 == 0 {
            snap.tasks.push(task(
                nodes * 20 + i,
                i % services,
                Some(node),
                "shutdown",
                "shutdown",
            ));
        }
    }
    for i in 0..3 {
        snap.tasks
            .push(task(nodes * 40 + i, services, None, "pending", "running"));
    }
}

/// The median time to decode a snapshot's JSON (as `--open` and bundles do), over `rounds`.
pub fn decode_time(json: &str, rounds: usize) -> Duration {
    let mut times: Vec<Duration> = (0..rounds.max(1))
        .map(|_| {
            let start = Instant::now();
            let snap = ClusterSnapshot::from_json(json).expect("the synthetic snapshot decodes");
            std::hint::black_box(snap);
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// Runs `frames` frames of each panel on a cluster of `nodes` nodes.
pub fn measure(nodes: usize, frames: usize) -> Vec<FrameStats> {
    let snap = synthetic_cluster(nodes);
    Panel::ALL
        .iter()
        .map(|&panel| {
            let mut state = AppState::new(Source::Nothing, panel);
            state.set_snapshot(snap.clone());
            time_panel(&mut state, frames)
        })
        .collect()
}

fn time_panel(state: &mut AppState, frames: usize) -> FrameStats {
    let ctx = egui::Context::default();
    let input = || egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1280.0, 820.0),
        )),
        ..Default::default()
    };
    let mut times = Vec::with_capacity(frames);
    // Two warm-up frames: fonts and layout caches fill on the first ones.
    for i in 0..frames + 2 {
        let start = Instant::now();
        let mut out = ctx.run_ui(input(), |ui| {
            super::app::draw_panel(ui, state);
        });
        let _ = ctx.tessellate(std::mem::take(&mut out.shapes), out.pixels_per_point);
        // No GPU here: font atlas uploads are measured as built, then dropped.
        out.textures_delta.clear();
        if i >= 2 {
            times.push(start.elapsed());
        }
    }
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    FrameStats {
        panel: state.panel,
        frames,
        median: at(0.5),
        p95: at(0.95),
        max: *times.last().unwrap_or(&Duration::ZERO),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_every_panel_on_a_hundred_nodes() {
        let stats = measure(100, 3);
        assert_eq!(stats.len(), Panel::ALL.len());
        assert!(stats.iter().all(|s| s.frames == 3 && s.max >= s.median));
        let snap = synthetic_cluster(100);
        assert_eq!(snap.nodes.len(), 100);
        assert_eq!(snap.tasks.iter().filter(|t| t.is_unplaced()).count(), 3);
    }
}
