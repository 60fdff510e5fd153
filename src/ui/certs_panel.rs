//! Certificates: every node's certificate as read from the node (a `Job::Certs` on the
//! service thread, what `swarmdeck cert ls` reads), the findings about them, and the node
//! certificate lifetime and CA rotation through the shared [`PlanFlow`] (`Change::Cert`).

use eframe::egui::{self, RichText};

use super::panel::{Context, PanelView};
use super::plan_flow::PlanFlow;
use super::style;
use crate::certs::table::{CertRow, rows};
use crate::certs::{self, CertChange, CertReport, findings::Verdict, human_left, utc};
use crate::doctor::Finding;
use crate::service::{Job, JobId, JobUpdate};
use crate::swarm::change::Change;
use crate::untrusted::visible;

/// The last read, the read in flight, the lifetime form and the flow of the last change.
#[derive(Debug, Default)]
pub struct CertsView {
    report: Option<(CertReport, Vec<CertRow>, Vec<Finding>)>,
    reading: Option<JobId>,
    /// A read was started for this cluster: the first one comes unasked, later ones on
    /// request.
    asked: bool,
    expiry: String,
    flow: PlanFlow,
}

impl PanelView for CertsView {
    fn show(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>) {
        ui.heading("Certificates");
        if !cx.live() {
            ui.label("Certificates are read from live hosts: open an inventory.");
            return;
        }
        if !self.asked && cx.snapshot.is_some() {
            self.asked = true;
            self.reading = Some(cx.start(Job::Certs));
        }
        ui.horizontal(|ui| {
            let label = match (&self.reading, &self.report) {
                (Some(_), _) => "Reading…",
                (None, Some(_)) => "Read again",
                (None, None) => "Read certificates",
            };
            if ui
                .add_enabled(self.reading.is_none(), egui::Button::new(label))
                .on_hover_text("Read every node's certificate from its host (`swarmdeck cert ls`)")
                .clicked()
            {
                self.reading = Some(cx.start(Job::Certs));
            }
            if let Some((report, ..)) = &self.report {
                ui.label(RichText::new(format!("read at {}", utc(report.now))).weak());
            }
        });
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                if let Some((report, rows, findings)) = &self.report {
                    summary(ui, report);
                    let on = rows.iter().filter(|r| r.current_ca == Some(true)).count();
                    ui.label(format!(
                        "{on}/{} nodes on the swarm's current CA (read again to follow a \
                         rotation)",
                        rows.len()
                    ));
                    table(ui, rows);
                    findings_list(ui, findings);
                }
                ui.add_space(12.0);
                self.changes(ui, cx);
                self.flow.show(ui, cx);
            });
    }

    fn on_job(&mut self, id: JobId, update: &JobUpdate, _cx: &mut Context<'_>) {
        if Some(id) != self.reading {
            self.flow.on_job(id, update);
            return;
        }
        match update {
            JobUpdate::Certs(r) => {
                let report = (**r).clone();
                let rows = rows(&report);
                let findings = certs::findings(&report);
                self.report = Some((report, rows, findings));
            }
            JobUpdate::Ended => self.reading = None,
            _ => {}
        }
    }

    fn reset(&mut self) {
        *self = Self::default();
    }
}

impl CertsView {
    fn changes(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>) {
        let idle = !self.flow.busy();
        ui.horizontal(|ui| {
            ui.label("Node certificate lifetime:");
            ui.add(
                egui::TextEdit::singleline(&mut self.expiry)
                    .hint_text("e.g. 2160h")
                    .desired_width(90.0),
            );
            let parsed = certs::parse_expiry(self.expiry.trim());
            let plan = ui.add_enabled(idle && parsed.is_ok(), egui::Button::new("Plan"));
            if let (true, Ok(secs)) = (plan.clicked(), &parsed) {
                self.flow
                    .request(cx, Change::Cert(CertChange::Expiry { secs: *secs }));
            }
            if let (false, Err(e)) = (self.expiry.trim().is_empty(), &parsed) {
                ui.colored_label(style::warn(ui), e.to_string());
            }
        });
        if ui
            .add_enabled(idle, egui::Button::new("Rotate the CA…"))
            .on_hover_text(
                "A new root CA, every node's certificate reissued from it \
                 (`docker swarm ca --rotate`); read again to see each node follow",
            )
            .clicked()
        {
            self.flow.request(cx, Change::Cert(CertChange::Rotate));
        }
    }
}

fn summary(ui: &mut egui::Ui, report: &CertReport) {
    match &report.swarm {
        Some(s) => {
            let ca = s.root.as_ref().map_or("unknown".to_string(), |r| {
                format!(
                    "{} (until {})",
                    r.key_id.as_deref().map(certs::short_id).unwrap_or("?"),
                    utc(r.not_after)
                )
            });
            ui.label(format!(
                "Node certificates are issued for {}; CA {ca}{}",
                human_left(s.node_cert_expiry as i64),
                if s.rotation_in_progress {
                    "; a CA rotation is in progress"
                } else {
                    ""
                }
            ));
        }
        None => {
            ui.colored_label(
                style::warn(ui),
                format!(
                    "The swarm's settings could not be read: {}",
                    visible(
                        report
                            .swarm_error
                            .as_deref()
                            .unwrap_or("no manager answered")
                    )
                ),
            );
        }
    }
}

fn table(ui: &mut egui::Ui, rows: &[CertRow]) {
    egui::Grid::new("certificates")
        .striped(true)
        .num_columns(7)
        .show(ui, |ui| {
            for h in ["Host", "Node", "Role", "Not after", "Left", "CA", "Status"] {
                ui.strong(h);
            }
            ui.end_row();
            for r in rows {
                ui.label(visible(r.host.as_deref().unwrap_or("-")));
                ui.monospace(visible(certs::short_id(&r.node_id)))
                    .on_hover_text(visible(&r.node_id));
                ui.label(&r.role);
                ui.label(r.not_after.map(utc).unwrap_or_else(|| "-".into()));
                ui.label(r.left.map(human_left).unwrap_or_else(|| "-".into()));
                ui.monospace(r.ca_text());
                let color = match r.verdict {
                    Some(Verdict::Expired) => style::bad(ui),
                    Some(Verdict::RenewalOverdue) => style::warn(ui),
                    _ => ui.visuals().text_color(),
                };
                let word = r.verdict.map_or("-", Verdict::word);
                let text = match r.note.is_empty() {
                    true => word.to_string(),
                    false => format!("{word}; {}", r.note),
                };
                ui.label(RichText::new(visible(&text)).color(color));
                ui.end_row();
            }
        });
}

fn findings_list(ui: &mut egui::Ui, findings: &[Finding]) {
    ui.add_space(8.0);
    if findings.is_empty() {
        ui.colored_label(style::ok(ui), "No certificate findings.");
    }
    for f in findings {
        ui.label(
            RichText::new(format!("{} {}", f.severity.as_str(), visible(&f.summary)))
                .color(style::severity(ui, f.severity)),
        );
        ui.indent(("cert-fix", &f.subject), |ui| {
            ui.label(format!("fix: {}", visible(&f.fix)));
        });
    }
}

#[cfg(test)]
mod tests {
    use egui_kittest::kittest::Queryable;

    use super::super::workload_view::testing::{cluster, showing};
    use super::*;
    use crate::certs::CertInfo;
    use crate::certs::read::{HostCerts, NodeRecord, SwarmCa};
    use crate::service::JobKind;
    use crate::snapshot::Role;
    use crate::ui::{AppState, Panel, Source};

    fn report() -> CertReport {
        let now = 1_800_000_000;
        let cert = |id: &str, born: i64| CertInfo {
            common_name: id.into(),
            unit: "swarm-worker".into(),
            organization: "c1".into(),
            issuer: "CN=swarm-ca".into(),
            not_before: born,
            not_after: born + 90 * 86400,
            issuer_key_id: Some("0a1b2c3d4e5f".into()),
            key_id: None,
        };
        let host = |name: &str, c| HostCerts {
            host: name.into(),
            local: None,
            node_cert: Some(c),
            ca: None,
            failures: Vec::new(),
        };
        let node = |id: &str, name: &str| NodeRecord {
            id: id.into(),
            hostname: name.into(),
            role: Role::Worker,
            ready: true,
            state: "ready".into(),
            updated_at: None,
            on_current_ca: true,
        };
        CertReport {
            now,
            swarm: Some(SwarmCa {
                answered_by: "node1".into(),
                cluster_id: "c1".into(),
                version: 7,
                node_cert_expiry: 90 * 86400,
                force_rotate: 0,
                rotation_in_progress: false,
                root: None,
            }),
            swarm_error: None,
            nodes: vec![node("aaaa1111", "node1"), node("bbbb2222", "node2")],
            hosts: vec![
                host("node1", cert("aaaa1111", now - 10 * 86400)),
                host("node2", cert("bbbb2222", now - 95 * 86400)),
            ],
        }
    }

    fn reading(h: &egui_kittest::Harness<'_, AppState>) -> Option<JobId> {
        let id = h.state().panels.certificates.reading?;
        h.state()
            .jobs
            .running()
            .any(|(j, u)| *j == id && u.owner == Panel::Certificates)
            .then_some(id)
    }

    #[test]
    fn the_read_is_a_job_and_its_rows_and_findings_are_shown() {
        let mut h = showing(cluster(), Panel::Certificates);
        // The first read starts as the panel opens on a live cluster.
        let id = reading(&h).expect("the read runs as a job on the service thread");
        h.get_by_label("Reading…");
        h.state_mut().on_job(
            id,
            JobUpdate::Started {
                kind: JobKind::Preflight,
                what: "read the nodes' certificates".into(),
            },
        );
        h.state_mut()
            .on_job(id, JobUpdate::Certs(Box::new(report())));
        h.state_mut().on_job(id, JobUpdate::Ended);
        h.run_steps(2);
        h.get_by_label("Read again");
        h.get_by_label("node2");
        h.get_by_label("EXPIRED");
        assert!(
            h.query_by_label_contains("2/2 nodes on the swarm's current CA")
                .is_some()
        );
        assert!(
            h.query_by_label_contains("the certificate of node2 (node bbbb2222) expired 5d ago")
                .is_some()
        );
        h.get_by_label("Rotate the CA…").click();
        h.run_steps(2);
        assert!(
            h.state().panels.certificates.flow.busy(),
            "the rotation is planned through the plan flow"
        );
    }

    #[test]
    fn a_capture_has_no_certificates_to_read() {
        let h = super::super::workload_view::testing::harness(AppState::new(
            Source::Demo,
            Panel::Certificates,
        ));
        h.get_by_label("Certificates are read from live hosts: open an inventory.");
    }
}
