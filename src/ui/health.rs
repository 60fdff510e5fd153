//! The line above every panel that says how true the view is: not confirmed lately,
//! the swarm unreadable, hosts not answering (with the layer and since when), or a capture
//! that is not live at all. Nothing looks healthy because it was healthy a minute ago.

use eframe::egui::{self, RichText};

use super::state::{AppState, Freshness};
use super::style;
use crate::snapshot::{self, ClusterSnapshot, NodeState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Quiet,
    Warn,
    Bad,
}

/// What the banner says at `now` (seconds since the epoch), most serious first.
pub fn lines(state: &AppState, now: u64) -> Vec<(Tone, String)> {
    let mut out = Vec::new();
    let Some(snap) = &state.snapshot else {
        return out;
    };
    match state.freshness(now) {
        Freshness::Unconfirmed { since } => out.push((
            Tone::Bad,
            format!(
                "Not live: nothing confirmed {}. What is shown may no longer be true; \
                 swarmdeck keeps trying.",
                snapshot::since_text(since, now)
            ),
        )),
        Freshness::Captured { at } => out.push((
            Tone::Quiet,
            format!("Captured {}, not live.", crate::swarm::audit::fmt_time(at)),
        )),
        Freshness::Live | Freshness::Nothing => {}
    }
    swarm_lines(snap, now, &mut out);
    host_lines(snap, now, &mut out);
    out
}

fn swarm_lines(snap: &ClusterSnapshot, now: u64, out: &mut Vec<(Tone, String)>) {
    let Some(why) = &snap.swarm_error else {
        return;
    };
    let text = match snap.nodes_as_of {
        Some(at) => format!(
            "No manager can answer for the swarm ({why}). Nodes and networks are the last \
             list a manager gave, from {}.",
            snapshot::since_text(at, now).trim_start_matches("since ")
        ),
        None => format!("No manager can answer for the swarm: {why}"),
    };
    out.push((Tone::Bad, text));
}

fn host_lines(snap: &ClusterSnapshot, now: u64, out: &mut Vec<(Tone, String)>) {
    for h in snap.failed_hosts() {
        let layer = h.layer.map_or("host", |l| l.describe());
        let since = h
            .failing_since
            .map(|s| format!(" {}", snapshot::since_text(s, now)))
            .unwrap_or_default();
        out.push((
            Tone::Warn,
            format!("{}: {layer} not answering{since}.", h.host),
        ));
    }
    for n in &snap.nodes {
        let Some(down) = &n.observed_down else {
            continue;
        };
        if n.state == NodeState::Ready {
            out.push((
                Tone::Bad,
                format!(
                    "Node {} counted as down: {}; the managers still list it ready (they \
                     notice after 15–20 s).",
                    n.hostname, down.reason
                ),
            ));
        }
    }
}

/// Draws the banner (nothing when all is live and well).
pub fn banner(ui: &mut egui::Ui, state: &AppState) {
    let lines = lines(state, snapshot::now_secs());
    if lines.is_empty() {
        return;
    }
    for (tone, text) in lines {
        let color = match tone {
            Tone::Quiet => ui.visuals().weak_text_color(),
            Tone::Warn => style::warn(ui),
            Tone::Bad => style::bad(ui),
        };
        let icon = if tone == Tone::Quiet { "ℹ" } else { "⚠" };
        ui.add(egui::Label::new(RichText::new(format!("{icon} {text}")).color(color)).wrap());
    }
    // Keep the banner on screen while it ages.
    ui.ctx()
        .request_repaint_after(std::time::Duration::from_secs(1));
    ui.separator();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{HostStatus, Layer, ObservedDown};
    use crate::ui::state::{Panel, Source};

    fn live(snap: ClusterSnapshot) -> AppState {
        let mut s = AppState::new(Source::Inventory("inv.toml".into()), Panel::Overview);
        s.set_snapshot(snap);
        s
    }

    #[test]
    fn a_healthy_live_view_says_nothing() {
        let mut snap = crate::snapshot::demo();
        snap.taken_at = 1000;
        assert!(lines(&live(snap), 1002).is_empty());
    }

    #[test]
    fn failures_name_host_layer_and_age() {
        let mut snap = crate::snapshot::demo();
        snap.taken_at = 1000;
        let down_host = snap.hosts[1].host.clone();
        snap.hosts[1] = HostStatus {
            error: Some("no answer".into()),
            layer: Some(Layer::Engine),
            failing_since: Some(990),
            ..snap.hosts[1].clone()
        };
        snap.nodes[0].observed_down = Some(ObservedDown {
            since: 990,
            reason: "x's engine does not answer swarmdeck (SSH to it works)".into(),
        });
        let said = lines(&live(snap), 1004);
        let text: Vec<&str> = said.iter().map(|(_, t)| t.as_str()).collect();
        assert!(
            text.iter().any(|t| t
                .starts_with(&format!("{down_host}: Docker engine not answering since"))
                && t.contains("(14 s)")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|t| t.contains("counted as down")),
            "{text:?}"
        );
    }

    #[test]
    fn an_old_view_and_a_lost_swarm_are_marked() {
        let mut snap = crate::snapshot::demo();
        snap.taken_at = 1000;
        snap.swarm_error = Some("the swarm does not have a leader".into());
        snap.nodes_as_of = Some(900);
        let said = lines(&live(snap), 1030);
        assert_eq!(said[0].0, Tone::Bad);
        assert!(
            said[0].1.starts_with("Not live: nothing confirmed since"),
            "{said:?}"
        );
        assert!(said[1].1.contains("does not have a leader"), "{said:?}");
        assert!(said[1].1.contains("(130 s)"), "{said:?}");
    }
}
