//! Benchmarks on real lab hosts: swarmdeck's in-process SSH + Engine API against the plain
//! docker CLI over ssh, measured in the same run on the same lab (timings on a shared
//! machine are noisy; only comparisons within one run mean something).
//!
//! Library code (no UI), built with the `bench` feature only: the `swarmdeck-bench` binary
//! (`src/bin/swarmdeck-bench.rs`) prints the [`Report`].

pub mod bootstrap;
pub mod connect;
mod docker_cli;
pub mod faults;
mod lab_guard;
pub mod live;

use std::fmt::Write;
use std::time::Duration;

pub use bootstrap::BootstrapBench;
pub use connect::ConnectBench;

/// The timings of one measurement, sorted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    samples: Vec<Duration>,
}

impl Summary {
    pub fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        Self { samples }
    }

    pub fn samples(&self) -> &[Duration] {
        &self.samples
    }

    /// The median (mean of the two middle samples for an even count); zero when empty.
    pub fn median(&self) -> Duration {
        let n = self.samples.len();
        match n {
            0 => Duration::ZERO,
            _ if n % 2 == 1 => self.samples[n / 2],
            _ => (self.samples[n / 2 - 1] + self.samples[n / 2]) / 2,
        }
    }

    pub fn min(&self) -> Duration {
        self.samples.first().copied().unwrap_or_default()
    }

    pub fn max(&self) -> Duration {
        self.samples.last().copied().unwrap_or_default()
    }
}

/// A goal for a measurement and whether this run met it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub text: String,
    pub met: bool,
}

/// One line of the table: a swarmdeck measurement, optionally compared with a baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Stable identifier (`cold-vs-script`, …) for scripts and tests.
    pub key: &'static str,
    pub what: String,
    pub ours: Summary,
    /// What `ours` is compared with, and its timings.
    pub baseline: Option<(String, Summary)>,
    pub target: Option<Target>,
}

impl Row {
    /// ours / baseline, by medians; none when either has no samples.
    pub fn ratio(&self) -> Option<f64> {
        let (_, b) = self.baseline.as_ref()?;
        if self.ours.samples().is_empty() {
            return None;
        }
        let b = b.median().as_secs_f64();
        (b > 0.0).then(|| self.ours.median().as_secs_f64() / b)
    }
}

/// A finished benchmark.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    pub title: String,
    pub rows: Vec<Row>,
    /// Context: tool versions, lab sizes, rounds, caveats.
    pub notes: Vec<String>,
    /// Names of the labs the benchmark started (all torn down when it returns).
    pub labs: Vec<String>,
}

impl Report {
    pub fn row(&self, key: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.key == key)
    }

    /// The table, with medians, ranges, ratios and targets.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.title);
        let header = [
            "measurement",
            "median",
            "min..max",
            "compared with",
            "median",
            "min..max",
            "ratio",
        ];
        let mut lines: Vec<[String; 7]> = vec![header.map(String::from)];
        for r in &self.rows {
            let range = |s: &Summary| {
                if s.samples().is_empty() {
                    "-".to_string()
                } else {
                    format!("{}..{}", fmt_duration(s.min()), fmt_duration(s.max()))
                }
            };
            let median = |s: &Summary| {
                if s.samples().is_empty() {
                    "none".to_string()
                } else {
                    fmt_duration(s.median())
                }
            };
            let (bname, bmed, brange) = match &r.baseline {
                Some((name, s)) => (name.clone(), median(s), range(s)),
                None => ("-".into(), "-".into(), "-".into()),
            };
            lines.push([
                r.what.clone(),
                median(&r.ours),
                range(&r.ours),
                bname,
                bmed,
                brange,
                r.ratio().map(fmt_ratio).unwrap_or_else(|| "-".into()),
            ]);
        }
        let widths: Vec<usize> = (0..7)
            .map(|i| {
                lines
                    .iter()
                    .map(|l| l[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for (n, l) in lines.iter().enumerate() {
            let mut line = String::new();
            for (i, cell) in l.iter().enumerate() {
                let pad = widths[i] - cell.chars().count();
                // Left-align text columns, right-align numbers.
                if matches!(i, 0 | 3) {
                    let _ = write!(line, "{cell}{}  ", " ".repeat(pad));
                } else {
                    let _ = write!(line, "{}{cell}  ", " ".repeat(pad));
                }
            }
            let _ = writeln!(out, "{}", line.trim_end());
            if n > 0
                && let Some(t) = &self.rows[n - 1].target
            {
                let verdict = if t.met { "met" } else { "NOT MET" };
                let _ = writeln!(out, "    target: {} — {verdict}", t.text);
            }
        }
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        out
    }
}

/// `84.1 ms`, `1.24 s`, `850 µs`.
pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 0.001 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.0} µs", s * 1e6)
    }
}

/// `0.031× (32.3× faster)` or `1.40× (slower)`.
pub fn fmt_ratio(r: f64) -> String {
    if r > 0.0 && r < 1.0 {
        format!("{r:.3}× ({:.1}× faster)", 1.0 / r)
    } else {
        format!("{r:.2}×")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn medians() {
        assert_eq!(Summary::new(vec![]).median(), Duration::ZERO);
        assert_eq!(
            Summary::new(ms(&[30, 10, 20])).median(),
            Duration::from_millis(20)
        );
        let s = Summary::new(ms(&[40, 10, 20, 30]));
        assert_eq!(s.median(), Duration::from_millis(25));
        assert_eq!(s.min(), Duration::from_millis(10));
        assert_eq!(s.max(), Duration::from_millis(40));
    }

    #[test]
    fn renders_rows_ratios_and_targets() {
        let report = Report {
            title: "t".into(),
            rows: vec![
                Row {
                    key: "a",
                    what: "ours".into(),
                    ours: Summary::new(ms(&[50])),
                    baseline: Some(("theirs".into(), Summary::new(ms(&[500])))),
                    target: Some(Target {
                        text: "≤ half".into(),
                        met: true,
                    }),
                },
                Row {
                    key: "b",
                    what: "alone".into(),
                    ours: Summary::new(ms(&[2000])),
                    baseline: None,
                    target: Some(Target {
                        text: "< 15 ms".into(),
                        met: false,
                    }),
                },
            ],
            notes: vec!["n".into()],
            labs: vec![],
        };
        assert!((report.rows[0].ratio().unwrap() - 0.1).abs() < 1e-9);
        assert_eq!(report.rows[1].ratio(), None);
        let text = report.render();
        assert!(text.contains("0.100× (10.0× faster)"), "{text}");
        assert!(text.contains("target: ≤ half — met"), "{text}");
        assert!(text.contains("target: < 15 ms — NOT MET"), "{text}");
        assert!(text.contains("2.00 s"), "{text}");
        assert!(text.contains("note: n"), "{text}");
        // The target line follows its own row.
        let a = text.find("ours").unwrap();
        let t = text.find("≤ half").unwrap();
        let b = text.find("alone").unwrap();
        assert!(a < t && t < b, "{text}");
    }

    #[test]
    fn durations_format() {
        assert_eq!(fmt_duration(Duration::from_micros(850)), "850 µs");
        assert_eq!(fmt_duration(Duration::from_micros(84_100)), "84.1 ms");
        assert_eq!(fmt_duration(Duration::from_millis(1240)), "1.24 s");
    }
}
