//! A preflight report for people: one row per finding (the same on several hosts named
//! once: "all 3 hosts: …"), its fix, and the verdict. Every text wraps to the width given.

use eframe::egui::{self, RichText};

use super::style;
use crate::preflight::{FindingGroup, Report, Severity};
use crate::untrusted::visible;

/// Draws the rows of `report` and its verdict; `hosts` is how many hosts were meant to be
/// checked (a row on all of them reads "all N hosts").
pub fn show(ui: &mut egui::Ui, report: &Report, hosts: usize) {
    ui.scope(|ui| {
        ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Wrap);
        let groups = report.grouped();
        let (facts, problems): (Vec<_>, Vec<_>) =
            groups.iter().partition(|g| g.severity == Severity::Info);
        if problems.is_empty() {
            ui.colored_label(style::ok(ui), "No problems found.");
        }
        for g in &problems {
            row(ui, g, hosts);
        }
        if !facts.is_empty() {
            egui::CollapsingHeader::new(format!("What was found on the hosts ({})", facts.len()))
                .id_salt("preflight_facts")
                .show(ui, |ui| {
                    for g in &facts {
                        row(ui, g, hosts);
                    }
                });
        }
        ui.add_space(6.0);
        verdict(ui, report);
    });
}

fn row(ui: &mut egui::Ui, g: &FindingGroup, hosts: usize) {
    let (mark, color) = match g.severity {
        Severity::Error => ("⛔", style::bad(ui)),
        Severity::Warning => ("⚠", style::warn(ui)),
        Severity::Info => ("ℹ", ui.visuals().text_color()),
    };
    let line = format!("{mark} {}", visible(&g.line(hosts)));
    let evidence: Vec<String> = g
        .evidence
        .iter()
        .map(|e| format!("{}: {}", e.hosts.join(", "), e.text))
        .collect();
    let resp = ui.add(egui::Label::new(RichText::new(line).color(color)).wrap());
    // A blocker's evidence is its reason (e.g. why a host could not be checked): shown;
    // the others' on hover.
    let blocker = g.severity == Severity::Error;
    if !evidence.is_empty() && !blocker {
        resp.on_hover_text(visible(&evidence.join("\n")).into_owned());
    }
    ui.indent(("fixes", &g.check, &g.hosts), |ui| {
        for e in evidence.iter().filter(|_| blocker) {
            ui.add(egui::Label::new(RichText::new(visible(e)).weak()).wrap());
        }
        for fix in &g.fixes {
            ui.add(
                egui::Label::new(RichText::new(format!("fix: {}", visible(fix))).monospace())
                    .wrap(),
            );
        }
    });
}

fn verdict(ui: &mut egui::Ui, report: &Report) {
    let v = report.verdict();
    let color = if !v.ready() {
        style::bad(ui)
    } else if v.warnings > 0 {
        style::warn(ui)
    } else {
        style::ok(ui)
    };
    ui.add(egui::Label::new(RichText::new(v.to_string()).color(color).strong()).wrap());
    if !v.ready() && v.hosts > 0 {
        ui.add(
            egui::Label::new("Fix the blockers (each ⛔ row says how), then run preflight again.")
                .wrap(),
        );
    }
}

#[cfg(test)]
mod tests {
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    use super::*;
    use crate::preflight::{Finding, HostReport};

    fn finding(
        sev: Severity,
        host: &str,
        check: &str,
        message: &str,
        fix: Option<&str>,
    ) -> Finding {
        Finding {
            severity: sev,
            host: host.into(),
            check: check.into(),
            message: message.into(),
            evidence: format!("evidence from {host}"),
            fix: fix.map(String::from),
        }
    }

    fn report(findings: Vec<Finding>) -> Report {
        Report {
            hosts: (1..=3)
                .map(|i| HostReport {
                    host: format!("node{i}"),
                    ..Default::default()
                })
                .collect(),
            findings,
        }
    }

    #[test]
    fn rows_name_hosts_once_and_the_verdict_closes_the_list() {
        let long = "encrypted overlays will not work: the kernel lacks CONFIG_INET_ESP, which \
                    IPsec needs for every encrypted overlay; without it the overlay's traffic \
                    is dropped without a word";
        let mut findings: Vec<Finding> = (1..=3)
            .map(|i| {
                finding(
                    Severity::Warning,
                    &format!("node{i}"),
                    "encryption",
                    long,
                    Some("use unencrypted overlays"),
                )
            })
            .collect();
        findings.insert(
            0,
            finding(
                Severity::Error,
                "node2",
                "port",
                "2377/tcp on node2 gets no answer from node1, node3: a firewall on node2 drops it",
                Some("swarmdeck firewall --only node2 --yes"),
            ),
        );
        findings.push(finding(
            Severity::Info,
            "node1",
            "docker",
            "Docker 27.5.1, API 1.47",
            None,
        ));
        findings.push(finding(
            Severity::Info,
            "node2",
            "docker",
            "Docker 27.5.1, API 1.47",
            None,
        ));
        let r = report(findings);
        let width = 420.0;
        let mut h = Harness::builder()
            .with_size([width, 600.0])
            .build_ui(move |ui| show(ui, &r, 3));
        h.run();
        h.get_by_label(&format!("⚠ all 3 hosts: {long}"));
        h.get_by_label(
            "⛔ node2: 2377/tcp on node2 gets no answer from node1, node3: a firewall on node2 drops it",
        );
        h.get_by_label("fix: swarmdeck firewall --only node2 --yes");
        // A blocker shows why; a warning keeps its evidence for the hover.
        h.get_by_label("node2: evidence from node2");
        assert!(
            h.query_by_label_contains("node1: evidence from node1")
                .is_none()
        );
        assert_eq!(
            h.query_all_by_label("fix: use unencrypted overlays")
                .count(),
            1,
            "one fix for the three hosts"
        );
        h.get_by_label("not ready: 1 blocker, 1 warning");
        // Facts are folded away; opened, the Docker row names its two hosts once.
        assert!(h.query_by_label_contains("Docker 27.5.1").is_none());
        h.get_by_label("What was found on the hosts (1)").click();
        h.run();
        h.get_by_label("ℹ node1, node2: Docker 27.5.1, API 1.47");
        // Long rows wrap inside the width instead of running off to the right.
        let rect = h.get_by_label(&format!("⚠ all 3 hosts: {long}")).rect();
        assert!(rect.right() <= width, "{rect:?}");
        assert!(rect.height() > 30.0, "wrapped over several lines: {rect:?}");
    }

    #[test]
    fn hosts_without_problems_are_ready_to_build() {
        let r = report(vec![finding(
            Severity::Info,
            "node1",
            "docker",
            "Docker 27",
            None,
        )]);
        let mut h = Harness::new_ui(move |ui| show(ui, &r, 3));
        h.run();
        h.get_by_label("No problems found.");
        h.get_by_label("ready to build: 0 blockers, 0 warnings");
    }
}
