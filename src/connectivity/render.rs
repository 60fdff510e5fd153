//! Text output: the N×N grid (✓/✗ with latency), underlay summary and findings.

use std::fmt::Write;

use super::model::{Cell, Check, Outcome, Report};

fn symbol(c: &Check) -> char {
    match c.outcome {
        Outcome::Pass => '✓',
        Outcome::Fail => '✗',
        Outcome::Skipped => '-',
        Outcome::Untestable => '?',
    }
}

/// One grid cell: all four checks as symbols (dns icmp tcp large) and the ICMP latency.
pub fn cell_text(c: &Cell) -> String {
    let marks: String = [&c.dns, &c.icmp, &c.tcp, &c.large]
        .iter()
        .map(|k| symbol(k))
        .collect();
    match c.icmp.latency_ms {
        Some(ms) => format!("{marks} {ms:.2}ms"),
        None => marks,
    }
}

fn pad(s: &str, w: usize) -> String {
    let n = s.chars().count();
    format!("{s}{}", " ".repeat(w.saturating_sub(n)))
}

/// The whole report as text.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let hosts: Vec<&str> = r.hosts.iter().map(|h| h.host.as_str()).collect();
    if let Some(n) = &r.network {
        let _ = writeln!(
            out,
            "network {}{}{}  run {}",
            n.name,
            if n.temporary { " (temporary)" } else { "" },
            if n.encrypted { " encrypted" } else { "" },
            r.run_id
        );
    }
    for h in &r.hosts {
        let probe = h
            .probe
            .as_ref()
            .map(|p| {
                format!(
                    "probe {} mtu {} image {:?}",
                    p.ip,
                    p.mtu.unwrap_or(0),
                    p.image_source
                )
            })
            .unwrap_or_else(|| "no probe".into());
        let _ = writeln!(
            out,
            "  {} {:?}{} — {probe}",
            h.host,
            h.state,
            if h.manager { " manager" } else { "" }
        );
    }
    let w = r
        .cells
        .iter()
        .map(|c| cell_text(c).chars().count())
        .chain(hosts.iter().map(|h| h.chars().count()))
        .max()
        .unwrap_or(4)
        + 2;
    let _ = writeln!(
        out,
        "\nfrom \\ to   (each cell: dns icmp tcp large, ICMP latency)"
    );
    let _ = write!(out, "{}", pad("", w));
    for h in &hosts {
        let _ = write!(out, "{}", pad(h, w));
    }
    out.push('\n');
    for a in &hosts {
        let _ = write!(out, "{}", pad(a, w));
        for b in &hosts {
            let text = if a == b {
                "·".to_string()
            } else {
                r.cell(a, b).map(cell_text).unwrap_or_else(|| "-".into())
            };
            let _ = write!(out, "{}", pad(&text, w));
        }
        out.push('\n');
    }
    let tcp: Vec<_> = r.underlay.iter().filter(|u| u.proto == "tcp").collect();
    if !tcp.is_empty() {
        let ok = tcp.iter().filter(|u| u.check.passed()).count();
        let _ = writeln!(
            out,
            "\nunderlay TCP (7946, 2377 to managers): {ok}/{} ok; UDP 7946/4789 untestable by connect, judged by the matrix",
            tcp.len()
        );
        for u in tcp.iter().filter(|u| !u.check.passed()) {
            let _ = writeln!(
                out,
                "  ✗ {}→{} {}/tcp: {}",
                u.from, u.to, u.port, u.check.detail
            );
        }
    }
    if let Some(e) = &r.error {
        let _ = writeln!(out, "\nERROR: {e}");
    }
    if r.findings.is_empty() {
        if r.healthy() {
            let _ = writeln!(
                out,
                "\nall pairs pass: the overlay works between every pair of hosts"
            );
        }
    } else {
        let _ = writeln!(out, "\nfindings:");
        for f in &r.findings {
            let _ = writeln!(out, "  [{:?}] {}", f.severity, f.title);
            for e in &f.evidence {
                let _ = writeln!(out, "      - {e}");
            }
            let _ = writeln!(out, "      fix: {}", f.fix);
        }
    }
    if !r.cleaned_up {
        let _ = writeln!(out, "\ncleanup incomplete (the next run removes the rest):");
        for h in r.hosts.iter().filter(|h| !h.leftovers.is_empty()) {
            let _ = writeln!(out, "  {}: {}", h.host, h.leftovers.join("; "));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::model::*;
    use super::*;

    #[test]
    fn grid_shows_marks_and_latency() {
        let c = Cell {
            from: "a".into(),
            to: "b".into(),
            dns: Check::pass("", None),
            icmp: Check::pass("", Some(0.161)),
            tcp: Check::fail("x"),
            large: Check::skipped("y"),
        };
        assert_eq!(cell_text(&c), "✓✓✗- 0.16ms");
        let r = Report {
            version: REPORT_VERSION,
            run_id: "r".into(),
            started_unix: 0,
            duration_ms: 0,
            source: "t".into(),
            network: None,
            hosts: vec![HostReport::new("a", "1"), HostReport::new("b", "2")],
            cells: vec![
                c.clone(),
                Cell {
                    from: "b".into(),
                    to: "a".into(),
                    ..c
                },
            ],
            underlay: vec![],
            findings: vec![],
            interrupted: None,
            error: None,
            cleaned_up: true,
        };
        let text = render(&r);
        assert!(text.contains("✓✓✗- 0.16ms"), "{text}");
        assert!(
            text.lines().any(|l| l.starts_with("a ") && l.contains('·')),
            "{text}"
        );
    }
}
