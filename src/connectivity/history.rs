//! Saved runs (JSON files in the user's data directory) and what changed between two.

use std::path::{Path, PathBuf};

use super::model::{Outcome, Report};

/// Overrides the history directory (tests, portable setups).
pub const DIR_ENV: &str = "SWARMDECK_CONNECTIVITY_HISTORY";

/// Where runs are kept.
#[derive(Debug, Clone)]
pub struct History {
    dir: PathBuf,
}

impl History {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// `$SWARMDECK_CONNECTIVITY_HISTORY`, else `<data dir>/swarmdeck/connectivity`.
    pub fn default_location() -> Option<Self> {
        if let Some(d) = std::env::var_os(DIR_ENV) {
            return Some(Self::new(d));
        }
        let dirs = directories::ProjectDirs::from("", "", "swarmdeck")?;
        Some(Self::new(dirs.data_dir().join("connectivity")))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Saves a report atomically as `<started>-<run id>.json` (0600: it names hosts).
    pub fn save(&self, r: &Report) -> std::io::Result<PathBuf> {
        let path = self
            .dir
            .join(format!("{:012}-{}.json", r.started_unix, r.run_id));
        crate::fsutil::write_atomic(&path, r.to_json().as_bytes(), 0o600)?;
        Ok(path)
    }

    /// All saved runs, oldest first. Unreadable files are skipped (with a warning).
    pub fn list(&self) -> std::io::Result<Vec<(PathBuf, Report)>> {
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        for e in entries {
            let p = e?.path();
            if p.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            match std::fs::read(&p)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<Report>(&b).map_err(|e| e.to_string()))
            {
                Ok(r) => out.push((p, r)),
                Err(e) => tracing::warn!(path = %p.display(), "skipping history file: {e}"),
            }
        }
        out.sort_by(|a, b| (a.1.started_unix, &a.0).cmp(&(b.1.started_unix, &b.0)));
        Ok(out)
    }

    /// The newest saved run other than `run_id`.
    pub fn previous(&self, run_id: &str) -> std::io::Result<Option<Report>> {
        Ok(self
            .list()?
            .into_iter()
            .rev()
            .map(|(_, r)| r)
            .find(|r| r.run_id != run_id))
    }
}

fn mark(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "pass",
        Outcome::Fail => "FAIL",
        Outcome::Skipped => "skipped",
        Outcome::Untestable => "untestable",
    }
}

/// What changed from `old` to `new`, one line each: cells, underlay checks, host states and
/// findings. Empty when nothing changed.
pub fn compare(old: &Report, new: &Report) -> Vec<String> {
    let mut out = Vec::new();
    for c in &new.cells {
        let Some(o) = old.cell(&c.from, &c.to) else {
            out.push(format!("{}→{}: new pair", c.from, c.to));
            continue;
        };
        for (name, a, b) in [
            ("dns", &o.dns, &c.dns),
            ("icmp", &o.icmp, &c.icmp),
            ("tcp", &o.tcp, &c.tcp),
            ("large", &o.large, &c.large),
        ] {
            if a.outcome != b.outcome {
                out.push(format!(
                    "{}→{} {name}: {} → {} ({})",
                    c.from,
                    c.to,
                    mark(a.outcome),
                    mark(b.outcome),
                    b.detail
                ));
            }
        }
    }
    for u in &new.underlay {
        if let Some(o) = old
            .underlay
            .iter()
            .find(|o| (&o.from, &o.to, o.port, &o.proto) == (&u.from, &u.to, u.port, &u.proto))
            && o.check.outcome != u.check.outcome
        {
            out.push(format!(
                "underlay {}→{} {}/{}: {} → {}",
                u.from,
                u.to,
                u.port,
                u.proto,
                mark(o.check.outcome),
                mark(u.check.outcome)
            ));
        }
    }
    for h in &new.hosts {
        if let Some(o) = old.host(&h.host)
            && o.state != h.state
        {
            out.push(format!("{}: {:?} → {:?}", h.host, o.state, h.state));
        }
    }
    for f in &new.findings {
        if !old
            .findings
            .iter()
            .any(|o| o.kind == f.kind && o.hosts == f.hosts)
        {
            out.push(format!("new finding: {}", f.title));
        }
    }
    for f in &old.findings {
        if !new
            .findings
            .iter()
            .any(|n| n.kind == f.kind && n.hosts == f.hosts)
        {
            out.push(format!("resolved: {}", f.title));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::model::*;
    use super::*;

    pub(crate) fn sample(run: &str, started: u64, icmp_ok: bool) -> Report {
        let icmp = if icmp_ok {
            Check::pass("3/3 replies", Some(0.2))
        } else {
            Check::fail("0/3 replies")
        };
        Report {
            version: REPORT_VERSION,
            run_id: run.into(),
            started_unix: started,
            duration_ms: 1,
            source: "t".into(),
            network: None,
            hosts: vec![
                HostReport::new("a", "10.0.0.1"),
                HostReport::new("b", "10.0.0.2"),
            ],
            cells: vec![Cell {
                from: "a".into(),
                to: "b".into(),
                dns: Check::pass("ok", None),
                icmp,
                tcp: Check::pass("ok", None),
                large: Check::pass("ok", None),
            }],
            underlay: vec![],
            findings: vec![],
            interrupted: None,
            error: None,
            cleaned_up: true,
        }
    }

    #[test]
    fn saves_lists_and_compares_runs() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::new(dir.path().join("hist"));
        assert!(h.list().unwrap().is_empty());
        let old = sample("r1", 100, true);
        let new = sample("r2", 200, false);
        h.save(&new).unwrap();
        h.save(&old).unwrap();
        std::fs::write(dir.path().join("hist/garbage.json"), "{").unwrap();
        let runs = h.list().unwrap();
        assert_eq!(
            runs.iter()
                .map(|(_, r)| r.run_id.as_str())
                .collect::<Vec<_>>(),
            ["r1", "r2"]
        );
        assert_eq!(h.previous("r2").unwrap().unwrap().run_id, "r1");
        let changes = compare(&old, &new);
        assert_eq!(changes, vec!["a→b icmp: pass → FAIL (0/3 replies)"]);
        assert!(compare(&old, &old).is_empty());
    }
}
