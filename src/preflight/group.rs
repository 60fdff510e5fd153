//! Findings for people: the same finding on several hosts becomes one row ("all 3 hosts:
//! …", "node1, node2: …"), and a verdict says whether the swarm can be built. Pure; the
//! CLI and the UI show the same rows.

use std::collections::{BTreeSet, HashMap};
use std::fmt::{self, Write};

use super::rules::{Finding, Severity};

/// One row: a finding as found on one or more hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingGroup {
    pub severity: Severity,
    pub check: String,
    /// The hosts, in the order of the findings (errors first, then by host).
    pub hosts: Vec<String>,
    /// The message; on several hosts, a mention of the host itself reads "each host".
    pub message: String,
    /// What was seen, per host; hosts that saw the same share one entry.
    pub evidence: Vec<Evidence>,
    /// The distinct fixes in host order (a fix that names its host differs per host).
    pub fixes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub hosts: Vec<String>,
    pub text: String,
}

/// How many hosts a row names before it says "and N more".
const NAMED: usize = 6;

impl FindingGroup {
    /// Who has it, among `total` hosts: "all 3 hosts", "node1, node2", "node1".
    pub fn who(&self, total: usize) -> String {
        if self.hosts.len() > 1 && self.hosts.len() == total {
            return format!("all {total} hosts");
        }
        let named = self.hosts.len().min(NAMED);
        let mut s = self.hosts[..named].join(", ");
        if self.hosts.len() > named {
            let _ = write!(s, " and {} more", self.hosts.len() - named);
        }
        s
    }

    /// The row as one line: "all 3 hosts: encrypted overlays will not work: …".
    pub fn line(&self, total: usize) -> String {
        format!("{}: {}", self.who(total), self.message)
    }
}

/// Whether the swarm can be built, counted in rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Hosts the preflight looked at.
    pub hosts: usize,
    /// Error rows: each stops the build.
    pub blockers: usize,
    pub warnings: usize,
}

impl Verdict {
    pub fn ready(&self) -> bool {
        self.hosts > 0 && self.blockers == 0
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.hosts == 0 {
            return f.write_str("not ready: no host was checked");
        }
        let head = if self.ready() {
            "ready to build"
        } else {
            "not ready"
        };
        write!(
            f,
            "{head}: {}, {}",
            count(self.blockers, "blocker"),
            count(self.warnings, "warning")
        )
    }
}

fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// The verdict over `hosts` hosts from their rows.
pub fn verdict(hosts: usize, groups: &[FindingGroup]) -> Verdict {
    let rows = |s| groups.iter().filter(|g| g.severity == s).count();
    Verdict {
        hosts,
        blockers: rows(Severity::Error),
        warnings: rows(Severity::Warning),
    }
}

/// What makes two findings the same row: severity, check, and message and fix as the
/// pieces between the mentions of the finding's own host. Comparing pieces (never a
/// pattern built from host text) keeps a hostile name from matching anything else.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Key<'a> {
    severity: Severity,
    check: &'a str,
    message: Vec<&'a str>,
    fix: Option<Vec<&'a str>>,
}

/// Groups findings, keeping their order (the first finding of a row places it).
pub fn group(findings: &[Finding]) -> Vec<FindingGroup> {
    // A text several hosts report word for word (e.g. "shared by node1, node2") is
    // the same finding as it stands, even when it names the host itself.
    let mut exact: HashMap<(Severity, &str, &str, Option<&str>), BTreeSet<&str>> = HashMap::new();
    for f in findings {
        exact.entry(exact_key(f)).or_default().insert(&f.host);
    }
    let mut rows: HashMap<Key, usize> = HashMap::new();
    let mut groups: Vec<(Vec<&str>, FindingGroup)> = Vec::new();
    for f in findings {
        let shared = exact[&exact_key(f)].len() > 1;
        let pieces = |text| {
            if shared {
                vec![text]
            } else {
                cut_at_host(text, &f.host)
            }
        };
        let key = Key {
            severity: f.severity,
            check: &f.check,
            message: pieces(f.message.as_str()),
            fix: f.fix.as_deref().map(pieces),
        };
        match rows.get(&key) {
            Some(&i) => add(&mut groups[i].1, f),
            None => {
                let message = key.message.clone();
                rows.insert(key, groups.len());
                groups.push((message, start(f)));
            }
        }
    }
    groups
        .into_iter()
        .map(|(pieces, mut g)| {
            if g.hosts.len() > 1 {
                g.message = pieces.join("each host");
            }
            g
        })
        .collect()
}

fn exact_key(f: &Finding) -> (Severity, &str, &str, Option<&str>) {
    (f.severity, &f.check, &f.message, f.fix.as_deref())
}

fn start(f: &Finding) -> FindingGroup {
    let mut g = FindingGroup {
        severity: f.severity,
        check: f.check.clone(),
        hosts: Vec::new(),
        message: f.message.clone(),
        evidence: Vec::new(),
        fixes: Vec::new(),
    };
    add(&mut g, f);
    g
}

fn add(g: &mut FindingGroup, f: &Finding) {
    if !g.hosts.contains(&f.host) {
        g.hosts.push(f.host.clone());
    }
    if !f.evidence.is_empty() {
        match g.evidence.iter_mut().find(|e| e.text == f.evidence) {
            Some(e) if !e.hosts.contains(&f.host) => e.hosts.push(f.host.clone()),
            Some(_) => {}
            None => g.evidence.push(Evidence {
                hosts: vec![f.host.clone()],
                text: f.evidence.clone(),
            }),
        }
    }
    if let Some(fix) = &f.fix
        && !g.fixes.contains(fix)
    {
        g.fixes.push(fix.clone());
    }
}

/// `text` cut at each mention of `host` as a whole name (not inside "node10" or
/// "node1.example" when the host is "node1").
fn cut_at_host<'a>(text: &'a str, host: &str) -> Vec<&'a str> {
    if host.is_empty() {
        return vec![text];
    }
    let mut pieces = Vec::new();
    let mut from = 0;
    for (at, _) in text.match_indices(host) {
        let end = at + host.len();
        if at < from || !starts_name(&text[..at]) || !ends_name(&text[end..]) {
            continue;
        }
        pieces.push(&text[from..at]);
        from = end;
    }
    pieces.push(&text[from..]);
    pieces
}

fn name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '-' || c == '_'
}

/// Whether a name can start right after `before`.
fn starts_name(before: &str) -> bool {
    before
        .chars()
        .next_back()
        .is_none_or(|c| !name_char(c) && c != '.')
}

/// Whether a name can end right before `after` (a full stop ends a sentence, not a name).
fn ends_name(after: &str) -> bool {
    let mut chars = after.chars();
    match chars.next() {
        None => true,
        Some('.') => chars.next().is_none_or(|c| !name_char(c)),
        Some(c) => !name_char(c),
    }
}

/// The rows for people, then the verdict; `total` hosts were checked.
pub fn render(groups: &[FindingGroup], total: usize) -> String {
    let mut s = String::new();
    for g in groups {
        let _ = writeln!(
            s,
            "{:<5} {} [{}]: {}",
            g.severity.as_str(),
            g.who(total),
            g.check,
            g.message
        );
        if g.severity != Severity::Info {
            for e in &g.evidence {
                let text = e.text.replace('\n', "; ");
                if g.evidence.len() == 1 {
                    let _ = writeln!(s, "      evidence: {text}");
                } else {
                    let _ = writeln!(s, "      evidence ({}): {text}", e.hosts.join(", "));
                }
            }
        }
        for fix in &g.fixes {
            let _ = writeln!(s, "      fix: {fix}");
        }
    }
    let _ = writeln!(s, "{}", verdict(total, groups));
    crate::redact::redact(&s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(sev: Severity, host: &str, check: &str, message: &str, fix: Option<&str>) -> Finding {
        Finding {
            severity: sev,
            host: host.into(),
            check: check.into(),
            message: message.into(),
            evidence: format!("seen on {host}"),
            fix: fix.map(String::from),
        }
    }

    /// The same finding on each of `hosts`.
    fn on(
        hosts: &[&str],
        sev: Severity,
        check: &str,
        message: &str,
        fix: Option<&str>,
    ) -> Vec<Finding> {
        hosts
            .iter()
            .map(|h| f(sev, h, check, message, fix))
            .collect()
    }

    #[test]
    fn the_same_finding_on_every_host_is_one_row() {
        let why = "encrypted overlays will not work: the kernel lacks CONFIG_INET_ESP";
        let hosts = ["node1", "node2", "node3"];
        let rows = group(&on(
            &hosts,
            Severity::Warning,
            "encryption",
            why,
            Some("use plain"),
        ));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].line(3), format!("all 3 hosts: {why}"));
        assert_eq!(rows[0].line(4), format!("node1, node2, node3: {why}"));
        assert_eq!(rows[0].fixes, ["use plain"]);
        assert_eq!(rows[0].evidence.len(), 3, "each host's evidence is kept");
    }

    #[test]
    fn a_message_naming_its_own_host_groups_with_the_same_on_others() {
        let msg = |h: &str| {
            format!("2377/tcp on {h} gets no answer from node3: a firewall on {h} drops it")
        };
        let fix = |h: &str| format!("swarmdeck firewall --only {h} --yes");
        let rows = group(&[
            f(
                Severity::Error,
                "node1",
                "port",
                &msg("node1"),
                Some(&fix("node1")),
            ),
            f(
                Severity::Error,
                "node2",
                "port",
                &msg("node2"),
                Some(&fix("node2")),
            ),
            f(
                Severity::Error,
                "node10",
                "port",
                &msg("node10"),
                Some(&fix("node10")),
            ),
        ]);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].hosts, ["node1", "node2", "node10"]);
        assert_eq!(
            rows[0].message,
            "2377/tcp on each host gets no answer from node3: a firewall on each host drops it"
        );
        assert_eq!(rows[0].fixes, [fix("node1"), fix("node2"), fix("node10")]);
        // One host alone keeps its own words.
        let one = group(&[f(Severity::Error, "node1", "port", &msg("node1"), None)]);
        assert_eq!(one[0].line(3), format!("node1: {}", msg("node1")));
    }

    #[test]
    fn different_findings_stay_apart() {
        let rows = group(&[
            f(
                Severity::Warning,
                "node1",
                "clock",
                "clock is +5.0 s off",
                None,
            ),
            f(
                Severity::Warning,
                "node2",
                "clock",
                "clock is -3.0 s off",
                None,
            ),
            f(
                Severity::Error,
                "node3",
                "clock",
                "clock is +5.0 s off",
                None,
            ),
            f(
                Severity::Warning,
                "node4",
                "mtu",
                "clock is +5.0 s off",
                None,
            ),
            // Another host's name is not this host's: node1's message names node2.
            f(
                Severity::Warning,
                "node1",
                "port",
                "2377/tcp on node2",
                None,
            ),
            f(
                Severity::Warning,
                "node3",
                "port",
                "2377/tcp on node2",
                None,
            ),
        ]);
        let lines: Vec<String> = rows.iter().map(|g| g.line(4)).collect();
        assert_eq!(
            lines,
            [
                "node1: clock is +5.0 s off",
                "node2: clock is -3.0 s off",
                "node3: clock is +5.0 s off",
                "node4: clock is +5.0 s off",
                "node1, node3: 2377/tcp on node2",
            ]
        );
    }

    #[test]
    fn host_text_is_matched_as_a_whole_name_and_never_as_a_pattern() {
        assert_eq!(cut_at_host("on node1.", "node1"), ["on ", "."]);
        assert_eq!(cut_at_host("on node1:2377", "node1"), ["on ", ":2377"]);
        assert_eq!(cut_at_host("on node10", "node1"), ["on node10"]);
        assert_eq!(cut_at_host("on node1.lan", "node1"), ["on node1.lan"]);
        assert_eq!(cut_at_host("on x.node1", "node1"), ["on x.node1"]);
        assert_eq!(cut_at_host("a .* b", ".*"), ["a ", " b"]);
        assert_eq!(cut_at_host("a b", ".*"), ["a b"]);
        assert_eq!(cut_at_host("anything", ""), ["anything"]);
        // A host named like regex syntax stands for its literal name only.
        let rows = group(&[
            f(Severity::Warning, "n.*", "x", "bad on n.*", None),
            f(Severity::Warning, "n1", "x", "bad on n1", None),
            f(Severity::Warning, "n2", "x", "bad on nX", None),
        ]);
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[0].line(3), "n.*, n1: bad on each host");
        assert_eq!(rows[1].line(3), "n2: bad on nX");
    }

    #[test]
    fn a_text_shared_word_for_word_groups_although_it_names_each_host() {
        let msg = "machine-id m1 is shared by node1, node2: cloned machines confuse swarm";
        let hosts = ["node1", "node2"];
        let rows = group(&on(
            &hosts,
            Severity::Error,
            "duplicate",
            msg,
            Some("new id"),
        ));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].line(3), format!("node1, node2: {msg}"));
    }

    #[test]
    fn one_host_twice_is_named_once_with_both_evidences() {
        let mut a = f(Severity::Warning, "node1", "port", "nothing listens", None);
        let mut b = a.clone();
        a.evidence = "refused from node2".into();
        b.evidence = "refused from node3".into();
        let rows = group(&[a, b]);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].hosts, ["node1"]);
        assert_eq!(rows[0].evidence.len(), 2);
    }

    #[test]
    fn long_host_lists_are_cut_short() {
        let names: Vec<String> = (1..=9).map(|i| format!("n{i}")).collect();
        let hosts: Vec<&str> = names.iter().map(String::as_str).collect();
        let rows = group(&on(&hosts, Severity::Info, "docker", "Docker 27", None));
        assert_eq!(rows[0].who(9), "all 9 hosts");
        assert_eq!(rows[0].who(12), "n1, n2, n3, n4, n5, n6 and 3 more");
    }

    #[test]
    fn the_verdict_counts_rows_and_says_whether_to_go_on() {
        let down = ["node1", "node2"];
        let mut findings = on(
            &down,
            Severity::Error,
            "connect",
            "could not be checked",
            None,
        );
        findings.extend([
            f(Severity::Error, "node1", "clock", "clock is 90 s off", None),
            f(Severity::Warning, "node1", "mtu", "MTU 1450", None),
            f(Severity::Info, "node1", "docker", "Docker 27", None),
        ]);
        let rows = group(&findings);
        let v = verdict(3, &rows);
        assert_eq!(v.to_string(), "not ready: 2 blockers, 1 warning");
        assert!(!v.ready());
        let v = verdict(3, &rows[2..]);
        assert_eq!(v.to_string(), "ready to build: 0 blockers, 1 warning");
        assert!(v.ready());
        assert_eq!(
            verdict(3, &[]).to_string(),
            "ready to build: 0 blockers, 0 warnings"
        );
        assert_eq!(
            verdict(0, &[]).to_string(),
            "not ready: no host was checked"
        );
        assert!(!verdict(0, &[]).ready());
    }

    #[test]
    fn the_text_rendering_ends_with_the_verdict() {
        let why = "encrypted overlays will not work";
        let hosts = ["node1", "node2"];
        let rows = group(&on(
            &hosts,
            Severity::Warning,
            "encryption",
            why,
            Some("use plain"),
        ));
        let text = render(&rows, 2);
        assert_eq!(
            text,
            "WARN  all 2 hosts [encryption]: encrypted overlays will not work\n\
             \x20     evidence (node1): seen on node1\n\
             \x20     evidence (node2): seen on node2\n\
             \x20     fix: use plain\n\
             ready to build: 0 blockers, 1 warning\n"
        );
    }
}
