//! Firewall plans: open swarm's ports (2377/tcp, 7946/tcp+udp, 4789/udp) on each host,
//! for the cluster's own addresses only, with the exact commands of the host's backend
//! (firewalld, ufw, nftables, iptables), made persistent, shown before they are applied,
//! and verified after.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::cluster::Cluster;
use crate::preflight::{self, Backend};
use crate::ssh::RemoteCommand;
use crate::swarm::plan::quote;
use crate::swarm::{AuditEntry, AuditLog, SwarmError};

/// (protocol, port) pairs swarm needs between its hosts.
pub const SWARM_PORTS: [(&str, u16); 4] =
    [("tcp", 2377), ("tcp", 7946), ("udp", 7946), ("udp", 4789)];

/// Marks the rules swarmdeck added, so they can be found again.
const TAG: &str = "swarmdeck";

/// One command of a firewall plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FwStep {
    pub description: String,
    pub argv: Vec<String>,
    /// Skip the step when this command succeeds (the rule is already there).
    pub check: Option<Vec<String>>,
    /// Makes the rules survive a reboot (skipped with `persist = false`).
    pub persist: bool,
    /// What the step writes into a file, shown before it runs.
    pub file: Option<FileBlock>,
}

/// swarmdeck's own block in a boot-time rules file. Saving replaces only swarmdeck's earlier
/// block (between the markers) and keeps the rest of the file as it is, with a timestamped
/// backup of the old file beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileBlock {
    pub path: String,
    /// The block, markers included.
    pub lines: Vec<String>,
}

const BEGIN: &str = "# BEGIN swarmdeck";
const END: &str = "# END swarmdeck";

impl FileBlock {
    fn new(path: &str, rules: impl IntoIterator<Item = String>) -> Self {
        let mut lines = vec![format!(
            "{BEGIN}: swarm ports open to the cluster hosts (swarmdeck replaces this block \
             as a whole)"
        )];
        lines.extend(rules);
        lines.push(END.to_string());
        FileBlock {
            path: path.to_string(),
            lines,
        }
    }

    /// The change for people: which file, then the block's lines as `+ ` lines.
    pub fn diff(&self) -> String {
        let mut s = format!(
            "{}: swarmdeck's block (an earlier one is replaced, the rest of the file is kept, \
             the old file is backed up beside it as {}.swarmdeck-<time>.bak)",
            self.path, self.path
        );
        for l in &self.lines {
            s.push_str("\n+ ");
            s.push_str(l);
        }
        s
    }
}

/// How a block is merged into its file (`sh -c MERGE sh FILE FORMAT BLOCK`): remove the
/// earlier swarmdeck block, put the new one at the end (nft) or before the `*filter`
/// table's COMMIT (iptables-restore format), check the result with the backend's own
/// parser, and only if it changed back up the old file and move the new one in place.
const MERGE: &str = r##"set -eu
f=$1 format=$2 block=$3 new="$1.swarmdeck-new" src=/dev/null fresh=1
trap 'rm -f "$new"' EXIT
mkdir -p "$(dirname "$f")"
if [ -e "$f" ]; then
  b=$(grep -c '^# BEGIN swarmdeck' "$f" || true) e=$(grep -c '^# END swarmdeck' "$f" || true)
  if [ "$b" != "$e" ]; then
    echo "$f: the swarmdeck markers do not pair up ($b BEGIN, $e END); fix the file by hand" >&2
    exit 1
  fi
  cp -p "$f" "$new"
  src=$f fresh=0
fi
SWARMDECK_BLOCK=$block awk -v format="$format" -v fresh="$fresh" '
BEGIN { if (fresh && format == "nft") print "#!/usr/sbin/nft -f" }
/^# BEGIN swarmdeck/ { skip = 1; next }
skip { if (/^# END swarmdeck/) skip = 0; next }
format == "iptables" && /^\*/ { table = $1 }
format == "iptables" && table == "*filter" && $1 == "COMMIT" && !done { print ENVIRON["SWARMDECK_BLOCK"]; done = 1 }
{ print }
END {
  if (done) exit
  if (format == "iptables") { print "*filter"; print ENVIRON["SWARMDECK_BLOCK"]; print "COMMIT" }
  else print ENVIRON["SWARMDECK_BLOCK"]
}' "$src" > "$new"
case $format in
  nft) nft -c -f "$new" ;;
  *) iptables-restore --test < "$new" ;;
esac || { echo "$f: the merged file does not load; $f is unchanged" >&2; exit 1; }
if [ "$fresh" = 0 ] && cmp -s "$f" "$new"; then echo "$f: unchanged"; exit 0; fi
if [ "$fresh" = 0 ]; then
  bak="$f.swarmdeck-$(date +%Y%m%d-%H%M%S).bak"
  if [ -e "$bak" ]; then bak="$bak.$$"; fi
  cp -p "$f" "$bak"
  echo "backup: $bak"
fi
mv -f "$new" "$f"
echo "$f: swarmdeck block saved""##;

impl FileBlock {
    /// The step that merges this block into its file.
    fn merge_step(self, description: &str, format: &str) -> FwStep {
        let block = self.lines.join("\n");
        let argv = ["sh", "-c", MERGE, "sh", &self.path, format, &block];
        let mut step = FwStep::new(description, &argv).persisting();
        step.file = Some(self);
        step
    }
}

impl FwStep {
    fn new(description: impl Into<String>, argv: &[&str]) -> Self {
        FwStep {
            description: description.into(),
            argv: argv.iter().map(|s| s.to_string()).collect(),
            check: None,
            persist: false,
            file: None,
        }
    }

    fn check(mut self, argv: &[&str]) -> Self {
        self.check = Some(argv.iter().map(|s| s.to_string()).collect());
        self
    }

    fn persisting(mut self) -> Self {
        self.persist = true;
        self
    }

    /// The command as a user would type it.
    pub fn shell(&self) -> String {
        self.argv
            .iter()
            .map(|a| quote(a).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The plan for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPlan {
    pub host: String,
    /// The host's firewall; None when the preflight could not check the host.
    pub backend: Option<Backend>,
    pub steps: Vec<FwStep>,
    pub notes: Vec<String>,
}

impl HostPlan {
    /// The host's firewall for people: "ufw", "no active firewall", "not checked".
    pub fn firewall(&self) -> String {
        self.backend
            .map_or_else(|| "not checked".to_string(), |b| b.to_string())
    }

    /// One line for people: "node1 (ufw): 2 commands", "node1 (no active firewall):
    /// nothing to change".
    pub fn summary(&self) -> String {
        let what = match self.steps.len() {
            0 => "nothing to change".to_string(),
            1 => "1 command".to_string(),
            n => format!("{n} commands"),
        };
        format!("{} ({}): {what}", self.host, self.firewall())
    }
}

/// The commands that open swarm's ports on a host with `backend` to `peers`.
pub fn plan_host(host: &str, backend: Backend, peers: &[Ipv4Addr]) -> HostPlan {
    let mut p = HostPlan {
        host: host.to_string(),
        backend: Some(backend),
        steps: Vec::new(),
        notes: Vec::new(),
    };
    if peers.is_empty() {
        p.notes.push("no peers: nothing to open".into());
        return p;
    }
    match backend {
        // The summary says it: "node1 (no active firewall): nothing to change".
        Backend::None => {}
        Backend::Iptables => iptables(&mut p, peers),
        Backend::Firewalld => firewalld(&mut p, peers),
        Backend::Ufw => ufw(&mut p, peers),
        Backend::Nftables => nftables(&mut p, peers),
    }
    p
}

/// Where iptables-persistent (netfilter-persistent) loads IPv4 rules from at boot.
const RULES_V4: &str = "/etc/iptables/rules.v4";

fn iptables(p: &mut HostPlan, peers: &[Ipv4Addr]) {
    let mut saved = Vec::new();
    for peer in peers {
        let src = format!("{peer}/32");
        for (proto, port) in SWARM_PORTS {
            let port = port.to_string();
            let rule = [
                "-p",
                proto,
                "-s",
                &src,
                "--dport",
                &port,
                "-m",
                "comment",
                "--comment",
                TAG,
                "-j",
                "ACCEPT",
            ];
            let mut add = vec!["iptables", "-I", "INPUT", "1"];
            add.extend(rule);
            let mut chk = vec!["iptables", "-C", "INPUT"];
            chk.extend(rule);
            p.steps
                .push(FwStep::new(format!("allow {port}/{proto} from {peer}"), &add).check(&chk));
            saved.push(format!("-I INPUT {}", rule.join(" ")));
        }
    }
    p.steps.push(FileBlock::new(RULES_V4, saved).merge_step(
        "keep swarmdeck's rules for the next boot in the *filter table of rules.v4 \
         (iptables-persistent / netfilter-persistent); the rest of the file, and the live \
         rules of others (Docker's), are left alone",
        "iptables",
    ));
    p.notes.push(
        "on RHEL-like hosts without iptables-persistent use `service iptables save` instead".into(),
    );
}

fn firewalld(p: &mut HostPlan, peers: &[Ipv4Addr]) {
    for peer in peers {
        for (proto, port) in SWARM_PORTS {
            let rule = format!(
                "rule family=\"ipv4\" source address=\"{peer}/32\" port port=\"{port}\" protocol=\"{proto}\" accept"
            );
            let add = format!("--add-rich-rule={rule}");
            let query = format!("--query-rich-rule={rule}");
            p.steps.push(
                FwStep::new(
                    format!("allow {port}/{proto} from {peer} (permanent)"),
                    &["firewall-cmd", "--permanent", &add],
                )
                .check(&["firewall-cmd", "--permanent", &query])
                .persisting(),
            );
        }
    }
    p.steps.push(FwStep::new(
        "load the permanent rules",
        &["firewall-cmd", "--reload"],
    ));
}

fn ufw(p: &mut HostPlan, peers: &[Ipv4Addr]) {
    for peer in peers {
        let peer = peer.to_string();
        for (proto, port) in SWARM_PORTS {
            let port = port.to_string();
            p.steps.push(FwStep::new(
                format!("allow {port}/{proto} from {peer} (ufw keeps it across reboots)"),
                &[
                    "ufw", "allow", "proto", proto, "from", &peer, "to", "any", "port", &port,
                    "comment", TAG,
                ],
            ));
        }
    }
}

/// Loaded at boot by nftables.service.
const NFTABLES_CONF: &str = "/etc/nftables.conf";

fn nftables(p: &mut HostPlan, peers: &[Ipv4Addr]) {
    let set = format!(
        "{{ {} }}",
        peers
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let has = format!("nft list chain inet filter input | grep -q 'comment \"{TAG}\"'");
    // Run at boot after the file's own tables: the chain is the user's (their policy
    // stays); `add` keeps the file loadable should that table ever go.
    let mut saved = vec![
        "add table inet filter".to_string(),
        "add chain inet filter input".to_string(),
    ];
    for (proto, ports) in [("tcp", "{ 2377, 7946 }"), ("udp", "{ 7946, 4789 }")] {
        saved.push(format!(
            "insert rule inet filter input ip saddr {set} {proto} dport {ports} accept comment \"{TAG}\""
        ));
        p.steps.push(
            FwStep::new(
                format!("accept {proto} {ports} from the cluster's hosts"),
                &[
                    "nft",
                    "insert",
                    "rule",
                    "inet",
                    "filter",
                    "input",
                    "ip",
                    "saddr",
                    &set,
                    proto,
                    "dport",
                    ports,
                    "accept",
                    "comment",
                    &format!("\"{TAG}\""),
                ],
            )
            .check(&[
                "sh",
                "-c",
                &format!("{has} && nft list chain inet filter input | grep -q '{proto} dport'"),
            ]),
        );
    }
    p.steps
        .push(FileBlock::new(NFTABLES_CONF, saved).merge_step(
            "keep swarmdeck's rules for the next boot at the end of /etc/nftables.conf \
         (nftables.service); the file's own tables stay as they are",
            "nft",
        ));
    p.notes.push(
        "assumes the input chain is `inet filter input` (Debian's default nftables.conf)".into(),
    );
}

/// Plans for every host from a preflight report: each host opens its ports to all others.
pub fn plan(report: &preflight::Report, only: Option<&str>) -> Vec<HostPlan> {
    let ips: Vec<(String, Ipv4Addr)> = report
        .hosts
        .iter()
        .filter_map(|h| Some((h.host.clone(), h.ip?)))
        .collect();
    report
        .hosts
        .iter()
        .filter(|h| only.is_none_or(|o| o == h.host))
        .map(|h| {
            let peers: Vec<Ipv4Addr> = ips
                .iter()
                .filter(|(n, _)| *n != h.host)
                .map(|(_, ip)| *ip)
                .collect();
            match h.backend {
                Some(b) => plan_host(&h.host, b, &peers),
                None => HostPlan {
                    host: h.host.clone(),
                    backend: None,
                    steps: Vec::new(),
                    notes: vec![format!(
                        "not checked: {}",
                        h.error.as_deref().unwrap_or("no preflight data")
                    )],
                },
            }
        })
        .collect()
}

/// Plans as shown to users.
pub fn render(plans: &[HostPlan], persist: bool) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for p in plans {
        let _ = writeln!(s, "{}", p.summary());
        for st in &p.steps {
            let skip = if st.persist && !persist {
                " [skipped: --no-persist]"
            } else {
                ""
            };
            let _ = writeln!(s, "  - {}{skip}", st.description);
            if let Some(f) = &st.file {
                for line in f.diff().lines() {
                    let _ = writeln!(s, "      {line}");
                }
            }
            let _ = writeln!(s, "      $ {}", st.shell());
        }
        for n in &p.notes {
            let _ = writeln!(s, "  note: {n}");
        }
    }
    s
}

/// Applies the plans (hosts in parallel, steps in order), skipping rules already present
/// and, unless `persist`, the persistence steps. Every command is recorded in `audit`.
pub async fn apply(
    cluster: &Cluster,
    plans: &[HostPlan],
    persist: bool,
    audit: &AuditLog,
) -> Result<usize, SwarmError> {
    let results = futures_util::future::join_all(
        plans.iter().map(|p| apply_host(cluster, p, persist, audit)),
    )
    .await;
    let mut done = 0;
    for r in results {
        done += r?;
    }
    Ok(done)
}

async fn apply_host(
    cluster: &Cluster,
    p: &HostPlan,
    persist: bool,
    audit: &AuditLog,
) -> Result<usize, SwarmError> {
    let Some(spec) = cluster.inventory().host(&p.host) else {
        return Ok(0);
    };
    let session = cluster.pool().session(spec).await?;
    let mut done = 0;
    for st in p.steps.iter().filter(|s| persist || !s.persist) {
        if let Some(chk) = &st.check {
            let c = RemoteCommand::new(chk.clone())
                .sudo(spec.sudo)
                .timeout(Duration::from_secs(30));
            if session.exec(&c).await.is_ok_and(|o| o.success()) {
                continue;
            }
        }
        let c = RemoteCommand::new(st.argv.clone())
            .sudo(spec.sudo)
            .timeout(Duration::from_secs(60));
        let out = session.exec(&c).await?;
        let outcome = if out.success() {
            "ok".to_string()
        } else {
            format!("failed: {}", out.stderr_lossy().trim())
        };
        audit.append(&AuditEntry {
            time: crate::snapshot::now_secs(),
            host: p.host.clone(),
            target: crate::swarm::state::target_of(spec),
            step: st.description.clone(),
            cli: st.shell(),
            outcome: outcome.clone(),
            token_from: None,
        })?;
        if !out.success() {
            return Err(SwarmError::Step {
                host: p.host.clone(),
                step: st.description.clone(),
                message: outcome,
                fix: format!("run `{}` on the host to see why", st.shell()),
            });
        }
        done += 1;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers() -> Vec<Ipv4Addr> {
        vec![Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3)]
    }

    #[test]
    fn iptables_plan_inserts_tagged_rules_per_peer_and_saves() {
        let p = plan_host("node1", Backend::Iptables, &peers());
        assert_eq!(p.steps.len(), 2 * 4 + 1);
        assert_eq!(
            p.steps[0].shell(),
            "iptables -I INPUT 1 -p tcp -s 10.0.0.2/32 --dport 2377 -m comment --comment swarmdeck -j ACCEPT"
        );
        assert_eq!(
            p.steps[0].check.as_ref().unwrap().join(" "),
            "iptables -C INPUT -p tcp -s 10.0.0.2/32 --dport 2377 -m comment --comment swarmdeck -j ACCEPT"
        );
        assert!(
            p.steps
                .iter()
                .any(|s| s.shell().contains("udp -s 10.0.0.3/32 --dport 4789"))
        );
        // Only swarmdeck's own rules are kept for boot, merged into rules.v4.
        let last = p.steps.last().unwrap();
        assert!(last.persist && !last.shell().contains("iptables-save"));
        let file = last.file.as_ref().unwrap();
        assert_eq!(file.path, "/etc/iptables/rules.v4");
        assert_eq!(file.lines.len(), 2 * 4 + 2);
        assert_eq!(
            file.lines[1],
            "-I INPUT -p tcp -s 10.0.0.2/32 --dport 2377 -m comment --comment swarmdeck -j ACCEPT"
        );
        assert!(file.lines[0].starts_with(BEGIN) && file.lines[9] == END);
        assert_eq!(&last.argv[4..6], ["/etc/iptables/rules.v4", "iptables"]);
        assert_eq!(last.argv[6], file.lines.join("\n"));
    }

    #[test]
    fn firewalld_plan_uses_permanent_rich_rules_then_reload() {
        let p = plan_host("node1", Backend::Firewalld, &peers());
        assert_eq!(
            p.steps[0].shell(),
            "firewall-cmd --permanent '--add-rich-rule=rule family=\"ipv4\" source address=\"10.0.0.2/32\" port port=\"2377\" protocol=\"tcp\" accept'"
        );
        assert!(p.steps[0].check.as_ref().unwrap()[2].starts_with("--query-rich-rule="));
        assert_eq!(p.steps.last().unwrap().shell(), "firewall-cmd --reload");
        assert_eq!(p.steps.len(), 2 * 4 + 1);
    }

    #[test]
    fn ufw_plan_allows_from_each_peer() {
        let p = plan_host("node1", Backend::Ufw, &peers());
        assert_eq!(p.steps.len(), 8);
        assert_eq!(
            p.steps[3].shell(),
            "ufw allow proto udp from 10.0.0.2 to any port 4789 comment swarmdeck"
        );
    }

    #[test]
    fn nftables_plan_inserts_into_input_with_peer_set_and_saves() {
        let p = plan_host("node1", Backend::Nftables, &peers());
        assert_eq!(
            p.steps[0].shell(),
            "nft insert rule inet filter input ip saddr '{ 10.0.0.2, 10.0.0.3 }' tcp dport '{ 2377, 7946 }' accept comment '\"swarmdeck\"'"
        );
        assert!(p.steps[1].shell().contains("udp dport '{ 7946, 4789 }'"));
        // For boot: swarmdeck's block at the end of the file, the same rules in the same
        // chain; no table of the file is rewritten or dropped.
        let save = &p.steps[2];
        assert!(save.persist && !save.shell().contains("flush ruleset"));
        let file = save.file.as_ref().unwrap();
        assert_eq!(file.path, "/etc/nftables.conf");
        assert_eq!(
            file.lines[1..file.lines.len() - 1],
            [
                "add table inet filter",
                "add chain inet filter input",
                "insert rule inet filter input ip saddr { 10.0.0.2, 10.0.0.3 } tcp dport { 2377, 7946 } accept comment \"swarmdeck\"",
                "insert rule inet filter input ip saddr { 10.0.0.2, 10.0.0.3 } udp dport { 7946, 4789 } accept comment \"swarmdeck\"",
            ]
        );
        // The plan shows what goes into which file before anything runs.
        let shown = render(&[p], true);
        assert!(
            shown.contains("/etc/nftables.conf: swarmdeck's block")
                && shown.contains(
                    "+ insert rule inet filter input ip saddr { 10.0.0.2, 10.0.0.3 } tcp"
                ),
            "{shown}"
        );
    }

    #[test]
    fn no_firewall_no_steps() {
        let p = plan_host("node1", Backend::None, &peers());
        assert!(p.steps.is_empty() && p.notes.is_empty());
        assert_eq!(
            render(&[p], true),
            "node1 (no active firewall): nothing to change\n"
        );
    }

    #[test]
    fn a_plan_sums_itself_up_in_words() {
        let ufw = plan_host("node1", Backend::Ufw, &peers()[..1]);
        assert_eq!(ufw.summary(), "node1 (ufw): 4 commands");
        let mut one = ufw.clone();
        one.steps.truncate(1);
        assert_eq!(one.summary(), "node1 (ufw): 1 command");
        let none = plan_host("node2", Backend::None, &peers());
        assert_eq!(
            none.summary(),
            "node2 (no active firewall): nothing to change"
        );
        // A host the preflight could not check is not said to have no firewall.
        let report = preflight::Report {
            hosts: vec![preflight::HostReport {
                host: "node3".into(),
                error: Some("SSH login refused".into()),
                ..Default::default()
            }],
            findings: Vec::new(),
        };
        let unchecked = &plan(&report, None)[0];
        assert_eq!(
            unchecked.summary(),
            "node3 (not checked): nothing to change"
        );
        assert!(unchecked.notes[0].contains("SSH login refused"));
        for (b, name) in [
            (Backend::Iptables, "iptables"),
            (Backend::Nftables, "nftables"),
            (Backend::Firewalld, "firewalld"),
        ] {
            assert_eq!(plan_host("n", b, &peers()).firewall(), name);
        }
    }
}
