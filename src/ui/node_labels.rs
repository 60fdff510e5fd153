//! A node's labels in the Topology panel's node details: each label with a Remove button,
//! which services' placement constraints read each label (and whether this node meets
//! them), and a form that adds one. Changes go through the panel's [`PlanFlow`] as
//! [`Change::NodeLabels`], acting on the node's ID.

use eframe::egui::{self, RichText};

use super::panel::Context;
use super::plan_flow::PlanFlow;
use super::style;
use crate::snapshot::{ClusterSnapshot, NodeInfo};
use crate::swarm::change::Change;
use crate::swarm::labels::{self, LabelChange};
use crate::untrusted::visible;

/// What the add form holds between frames.
#[derive(Debug, Clone, Default)]
pub struct LabelForm {
    pub key: String,
    pub value: String,
    /// Why the last typed label was refused.
    pub error: Option<String>,
}

/// Draws the section; a click asks `flow` for a plan and returns true (the caller marks
/// the node as the one acted on).
pub fn show(
    ui: &mut egui::Ui,
    snap: &ClusterSnapshot,
    node: &NodeInfo,
    form: &mut LabelForm,
    flow: &mut PlanFlow,
    cx: &mut Context<'_>,
) -> bool {
    let enabled = cx.live() && !flow.busy();
    let mut asked = None;
    ui.strong("Labels");
    if node.labels.is_empty() {
        ui.label(RichText::new("none").weak());
    }
    egui::Grid::new("node_labels")
        .num_columns(2)
        .show(ui, |ui| {
            for (k, v) in &node.labels {
                ui.label(format!("{}={}", visible(k), visible(v)));
                let remove = egui::Button::new(format!("Remove {}", visible(k))).small();
                if ui
                    .add_enabled(enabled, remove)
                    .on_hover_text(format!("docker node update --label-rm {}", visible(k)))
                    .clicked()
                {
                    asked = Some(LabelChange {
                        node: node.id.clone(),
                        remove: [k.clone()].into(),
                        ..Default::default()
                    });
                }
                ui.end_row();
            }
        });
    uses(ui, snap, node);
    ui.horizontal_wrapped(|ui| {
        ui.add(
            egui::TextEdit::singleline(&mut form.key)
                .hint_text("key")
                .desired_width(90.0),
        );
        ui.label("=");
        ui.add(
            egui::TextEdit::singleline(&mut form.value)
                .hint_text("value")
                .desired_width(90.0),
        );
        if ui
            .add_enabled(enabled, egui::Button::new("Add label"))
            .clicked()
        {
            match labels::parse_assignment(&format!("{}={}", form.key, form.value)) {
                Ok((k, v)) => {
                    form.error = None;
                    asked = Some(LabelChange {
                        node: node.id.clone(),
                        add: [(k, v)].into(),
                        ..Default::default()
                    });
                }
                Err(e) => form.error = Some(e.to_string()),
            }
        }
    });
    if let Some(e) = &form.error {
        ui.colored_label(style::warn(ui), visible(e));
    }
    match asked {
        Some(change) => {
            flow.request(cx, Change::NodeLabels(change));
            true
        }
        None => false,
    }
}

/// Each label key a service's constraints read, with those constraints and whether this
/// node meets them: why a label matters here.
fn uses(ui: &mut egui::Ui, snap: &ClusterSnapshot, node: &NodeInfo) {
    let by_key = labels::uses(snap, node);
    if by_key.is_empty() {
        ui.label(RichText::new("No service's placement reads node labels.").weak());
        return;
    }
    ui.label(RichText::new("Placement constraints on labels").weak());
    for (key, uses) in &by_key {
        let has = node.labels.contains_key(key);
        for u in uses {
            let verdict = if u.met { "met here" } else { "not met here" };
            let text = format!(
                "{}{}: {} wants {} ({verdict})",
                visible(key),
                if has { "" } else { " (not on this node)" },
                visible(&u.service),
                visible(&u.constraint),
            );
            if u.met {
                ui.label(text);
            } else {
                ui.colored_label(style::warn(ui), text);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use egui_kittest::kittest::Queryable;

    use super::*;
    use crate::ui::Panel;
    use crate::ui::topology::tests::{last_plan, live, live_demo};

    #[test]
    fn a_nodes_labels_and_the_constraints_they_drive_are_shown() {
        let mut h = live_demo(Panel::Topology);
        h.get_by_label("node1").click_accesskit();
        h.run_steps(2);
        h.get_by_label("zone=a");
        // The demo's shop_db waits for zone=d: node1's zone label does not meet it.
        h.get_by_label("zone: shop_db wants node.labels.zone==d (not met here)");
    }

    #[test]
    fn adding_and_removing_a_label_plans_a_change_on_the_nodes_id() {
        let node1 = crate::snapshot::demo().nodes[0].clone();
        let mut h = live_demo(Panel::Topology);
        h.get_by_label("node1").click_accesskit();
        h.run_steps(2);
        h.get_by_label("Remove zone").click();
        h.run_steps(2);
        let want = LabelChange {
            node: node1.id.clone(),
            remove: ["zone".to_string()].into(),
            ..Default::default()
        };
        assert_eq!(last_plan(&h).1, Change::NodeLabels(want));

        let mut h = live_demo(Panel::Topology);
        h.get_by_label("node1").click_accesskit();
        h.run_steps(2);
        let form = &mut h.state_mut().state.panels.topology.labels;
        (form.key, form.value) = ("zone".into(), "d".into());
        h.run_steps(2);
        h.get_by_label("Add label").click();
        h.run_steps(2);
        let want = LabelChange {
            node: node1.id.clone(),
            add: [("zone".to_string(), "d".to_string())].into(),
            ..Default::default()
        };
        assert_eq!(last_plan(&h).1, Change::NodeLabels(want));
    }

    #[test]
    fn a_typed_label_is_validated_and_a_hosts_label_stays_inert() {
        let mut snap = crate::snapshot::demo();
        snap.nodes[0]
            .labels
            .insert("note".into(), "x\x1b[2Jforged".into());
        let mut h = live(snap, Panel::Topology);
        h.get_by_label("node1").click_accesskit();
        h.run_steps(2);
        h.get_by_label("note=x\\u{1b}[2Jforged");
        let form = &mut h.state_mut().state.panels.topology.labels;
        (form.key, form.value) = ("zone".into(), "a b".into());
        h.run_steps(2);
        h.get_by_label("Add label").click();
        h.run_steps(2);
        h.get_by_label_contains("invalid label value");
        assert!(h.state().cmds.is_empty(), "nothing planned");
    }
}
