//! Property tests for the public parsers of text that comes from outside: known_hosts
//! files, inventories and targets, what hosts print for preflight and connectivity
//! checks, and Compose files' variables, `.env` files and value formats. Inputs are
//! bounded, case counts fixed (the whole file runs in seconds); each property says: no
//! panic, it terminates, and the output is at most a constant times the input. The ssh
//! config readers, Docker's error text and swarm answers are tested the same way beside
//! their code (`import`, `docker`, `cluster`), where the private parts are.

use proptest::prelude::*;
use proptest::test_runner::Config;

use swarmdeck::connectivity::parse as conn;
use swarmdeck::inventory::{AuthMethod, HostSpec, Inventory, Target};
use swarmdeck::preflight::parse as pre;
use swarmdeck::ssh::known_hosts;
use swarmdeck::stack::{interpolate, units};

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Text made of `tokens` and arbitrary characters (control characters, non-ASCII, NUL),
/// at most `max` pieces; or, as often, lines of space-separated tokens (what line-and-word
/// parsers read), at most `max` tokens in all.
fn text_of(tokens: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => proptest::sample::select(tokens).prop_map(str::to_string),
        1 => any::<char>().prop_map(String::from),
        1 => "[ \t\r\n]{1,3}",
    ];
    let soup = proptest::collection::vec(piece, 0..max).prop_map(|v| v.concat());
    let word = proptest::sample::select(tokens).prop_map(|t| t.trim().to_string());
    let line = proptest::collection::vec(word, 0..12).prop_map(|w| w.join(" "));
    let lines = proptest::collection::vec(line, 0..max.div_ceil(6)).prop_map(|l| l.join("\n"));
    prop_oneof![soup, lines]
}

const ED_KEY: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ";

const KNOWN_HOSTS_TOKENS: &[&str] = &[
    "@revoked ",
    "@cert-authority ",
    "@bogus ",
    "|1|",
    "|1|O33ESRMWPVkMYIwJ1Uw+n877jTo=|nuuC5vEqXlEZ/8BXQR7m619W6Ak=",
    "ssh-ed25519 ",
    "ecdsa-sha2-nistp256 ",
    "ssh-rsa ",
    ED_KEY,
    "AAAA",
    "=",
    "*",
    "?",
    "!",
    ",",
    "[",
    "]:",
    "2222",
    "node1",
    "10.0.0.1",
    "#",
    "\n",
    " ",
];

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn known_hosts_parse_and_verdict_never_panic(
        text in text_of(KNOWN_HOSTS_TOKENS, 120),
        host in text_of(&["node1", "10.0.0.1", "*", "?", "[", "]", ":", ",", "!"], 6),
        port in any::<u16>(),
    ) {
        let entries = known_hosts::parse(&text);
        prop_assert!(entries.len() <= text.lines().count());
        let files = vec![(std::path::PathBuf::from("/kh"), entries)];
        let key = russh::keys::PublicKey::from_openssh(&format!("ssh-ed25519 {ED_KEY}")).unwrap();
        let host_port = known_hosts::host_port_string(&host, port);
        match known_hosts::verdict_for(&files, &host_port, &key) {
            known_hosts::Verdict::OtherTypeKnown { known } => prop_assert!(known.len() <= 8),
            known_hosts::Verdict::Changed { line, .. } | known_hosts::Verdict::Revoked { line, .. } => {
                prop_assert!(line >= 1 && line <= text.lines().count())
            }
            _ => {}
        }
        let algs = known_hosts::known_algorithms(&files, &host_port);
        let ordered = known_hosts::order_host_key_algorithms(&algs, &russh::Preferred::DEFAULT.key);
        prop_assert_eq!(ordered.len(), russh::Preferred::DEFAULT.key.len());
    }

    /// A name that can be recorded is recorded as itself: the line it makes trusts that
    /// host (any case) and no other, so no address becomes a pattern.
    #[test]
    fn recorded_host_names_match_only_themselves(
        host in text_of(&["a", "B", "1", ".", "-", ":", "%", "*", "?", ",", "!", " ", "[", "]", "|"], 8),
        other in text_of(&["a", "b", "1", ".", "-", ":", "x"], 8),
        port in 1u16..,
    ) {
        let Ok(field) = known_hosts::host_field(&host, port) else {
            prop_assert!(host.is_empty() || host.contains(|c: char| !(c.is_ascii_alphanumeric() || ".-_:%".contains(c))));
            return Ok(());
        };
        prop_assert!(!field.contains(['*', '?', '!', ',', ' ', '\t', '\n', '|']));
        let entries = known_hosts::parse(&format!("{field} ssh-ed25519 {ED_KEY}\n"));
        prop_assert_eq!(entries.len(), 1);
        prop_assert!(entries[0].matches(&known_hosts::host_port_string(&host.to_uppercase(), port)));
        let other_hp = known_hosts::host_port_string(&other, port);
        prop_assert_eq!(
            entries[0].matches(&other_hp),
            other_hp == known_hosts::host_port_string(&host, port)
        );
    }
}

const TARGET_TOKENS: &[&str] = &[
    "ssh://", "root", "@", "[", "]", ":", "22", "65536", "0", "fd00::1", "10.0.0.1", "host", ",",
    " ", "$(id)", ";", "%",
];

const TOML_TOKENS: &[&str] = &[
    "[[host]]\n",
    "name = ",
    "address = ",
    "port = ",
    "user = ",
    "jump = ",
    "sudo = true\n",
    "known_hosts = [",
    "]",
    "[host.labels]\n",
    "[host.auth]\n",
    "method = \"key\"\n",
    "method = \"password\"\n",
    "path = ",
    "\"",
    "'",
    "a",
    "10.0.0.1",
    "root@h:22,b@g",
    "70000",
    "-1",
    "\n",
    "=",
    "{",
    "}",
    "\\u0000",
];

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn targets_parse_or_refuse(text in text_of(TARGET_TOKENS, 16)) {
        if let Ok(t) = Target::parse(&text) {
            prop_assert!(t.address.len() <= text.len());
            prop_assert!(!t.address.is_empty());
            prop_assert!(t.address.chars().all(|c| c.is_ascii_alphanumeric() || ".-:_%".contains(c)));
        }
        if let Ok(h) = HostSpec::parse_target(&text, AuthMethod::Agent) {
            prop_assert!(h.name.len() <= text.len() + 6);
            prop_assert!(h.port > 0);
        }
    }

    #[test]
    fn inventory_toml_loads_or_refuses(text in text_of(TOML_TOKENS, 60)) {
        if let Ok(inv) = toml::from_str::<Inventory>(&text) {
            let _ = inv.validate();
            for h in &inv.hosts {
                let _ = h.check_jumps();
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inv.toml");
        std::fs::write(&path, &text).unwrap();
        match Inventory::load(&path) {
            Ok(inv) => prop_assert!(inv.hosts.len() <= text.len()),
            Err(e) => prop_assert!(e.to_string().contains("inv.toml")),
        }
    }

    #[test]
    fn jump_chains_parse_or_refuse(jump in text_of(TARGET_TOKENS, 40)) {
        let mut h = HostSpec::parse_target("root@10.0.0.9", AuthMethod::Agent).unwrap();
        h.jump = Some(jump.clone());
        let _ = h.check_jumps();
        let mut hops = 0;
        let mut hop = h.jump_host();
        while let Some(Ok(next)) = hop {
            hops += 1;
            prop_assert!(hops <= jump.len() + 1);
            hop = next.jump_host();
        }
    }
}

const PREFLIGHT_TOKENS: &[&str] = &[
    "@@",
    "addrs",
    "links",
    "reach",
    "fw",
    "1: lo ",
    "2: eth0@if5: ",
    "inet ",
    "10.213.1.1/24",
    "/33",
    "/",
    "mtu ",
    "1500",
    "4294967296",
    "open",
    "closed",
    "filtered",
    "rejected",
    "firewalld running",
    "ufw Status: active",
    "iptables -A INPUT -j DROP;",
    "-P INPUT DROP",
    "nft 3",
    "CONFIG_INET_ESP=y",
    "# CONFIG_CRYPTO_GCM is not set",
    "gcm(aes)",
    "esp4",
    "1712345678.123",
    "NaN",
    "inf",
    "\n",
    " ",
];

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn preflight_output_parses_in_bounds(text in text_of(PREFLIGHT_TOKENS, 120)) {
        let n = text.len();
        let lines = text.lines().count();
        let sections = pre::sections(&text);
        let size: usize = sections.iter().map(|(k, v)| k.len() + v.len()).sum();
        prop_assert!(size <= 2 * n + 1, "{size} from {n}");
        let addrs = pre::ip_addrs(&text);
        prop_assert!(addrs.len() <= lines);
        prop_assert!(pre::candidate_addrs(&addrs).len() <= addrs.len());
        prop_assert!(pre::link_mtus(&text).len() <= lines);
        prop_assert!(pre::reach(&text).len() <= lines);
        let _ = pre::firewall_backend(&text);
        if let Err(e) = pre::encryption_support(&text, &text, n % 2 == 0, &text) {
            prop_assert!(e.len() <= 1024, "{e}");
        }
        let _ = pre::epoch(&text);
    }
}

const CONNECTIVITY_TOKENS: &[&str] = &[
    "3 packets transmitted, 2 packets received",
    "transmitted",
    ",",
    "round-trip min/avg/max = 0.1/0.2/0.3 ms",
    " = ",
    "/",
    "Name:",
    "Address:",
    "probe-node1",
    "10.0.1.5",
    "-A INPUT ",
    "-I INPUT ",
    "-p udp ",
    "-p tcp ",
    "--dport ",
    "--dports ",
    "dport ",
    "{ ",
    "} ",
    "4789",
    "7946",
    "2377",
    "1:65535",
    "1-65535",
    "-j DROP",
    "-j REJECT",
    "drop",
    "reject",
    "type ",
    "== crypto ==",
    "== config ==",
    "== modules ==",
    "name : rfc4106(gcm(aes))",
    "name : gcm(aes)",
    "CONFIG_INET_ESP=m",
    "esp4",
    "2: eth0 inet 10.0.1.5/24",
    "2: eth0@if9: mtu 1450",
    "\n",
    " ",
];

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn connectivity_output_parses_in_bounds(
        text in text_of(CONNECTIVITY_TOKENS, 150),
        name in "[a-z0-9.-]{0,12}",
    ) {
        let n = text.len();
        let lines = text.lines().count();
        let _ = conn::ping(&text);
        if let Some(a) = conn::nslookup(&text, &name) {
            prop_assert!(a.len() <= n);
        }
        let _ = conn::mtu_for_ip(&text, "10.0.1.5");
        for rules in [conn::iptables_blocking(&text), conn::nft_blocking(&text)] {
            // At most one finding per swarm port and line, each quoting its line.
            prop_assert!(rules.len() <= conn::SWARM_PORTS.len() * lines);
            let size: usize = rules
                .iter()
                .map(|r| r.rule.len() + r.remove.as_ref().map_or(0, String::len))
                .sum();
            prop_assert!(size <= 3 * conn::SWARM_PORTS.len() * (n + 16), "{size} from {n}");
        }
        let report = conn::crypto(&text);
        prop_assert!(report.evidence.len() <= 4);
        let _ = conn::valid_name(&text);
    }

    /// Rules that name the swarm ports many times over (long nft sets, repeated --dport):
    /// one finding per port and line, never one per mention.
    #[test]
    fn firewall_rules_naming_ports_many_times_stay_linear(
        parts in proptest::collection::vec(
            prop_oneof![
                proptest::sample::select(&["4789", "7946", "1-65535", "2377:2377", "22"][..])
                    .prop_map(str::to_string),
                "[0-9:-]{1,11}",
            ],
            0..200,
        ),
    ) {
        let nft = format!("udp dport {{ {} }} drop", parts.join(", "));
        let ipt: String = parts.iter().map(|p| format!(" --dport {p}")).collect();
        let ipt = format!("-A INPUT -p udp{ipt} -j DROP");
        for (text, rules) in [
            (&nft, conn::nft_blocking(&nft)),
            (&ipt, conn::iptables_blocking(&ipt)),
        ] {
            prop_assert!(rules.len() <= conn::SWARM_PORTS.len(), "{} findings", rules.len());
            let size: usize = rules.iter().map(|r| r.rule.len()).sum();
            prop_assert!(size <= conn::SWARM_PORTS.len() * text.len());
        }
    }

    #[test]
    fn elf_headers_are_read_without_trusting_offsets(
        bytes in proptest::collection::vec(any::<u8>(), 0..256),
        phoff in prop_oneof![any::<u64>(), 0u64..512, u64::MAX - 512..=u64::MAX],
        phentsize in prop_oneof![any::<u16>(), Just(56u16)],
        phnum in prop_oneof![any::<u16>(), 0u16..8],
    ) {
        let _ = conn::elf_is_static(&bytes);
        // A well-formed start with hostile program-header fields.
        let mut elf = vec![0u8; 64];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        elf[0x20..0x28].copy_from_slice(&phoff.to_le_bytes());
        elf[0x36..0x38].copy_from_slice(&phentsize.to_le_bytes());
        elf[0x38..0x3a].copy_from_slice(&phnum.to_le_bytes());
        elf.extend_from_slice(&bytes);
        let _ = conn::elf_is_static(&elf);
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Compose interpolation: text without `$` is unchanged; `$$` doubling gives any text
    /// back; a set variable is substituted wherever it stands; no input panics, nor does
    /// any `.env` text or value-format parser.
    #[test]
    fn compose_interpolation_and_value_formats(
        s in "\\PC{0,40}",
        value in "[a-z0-9 ]{0,8}",
        soup in text_of(&["$", "${", "}", ":-", ":?", "-", "?", "$$", "A", "=", "#", "'", "\"", ":", "/udp", "ms"], 40),
    ) {
        let vars = interpolate::Vars::new([("V".to_string(), value.clone())], []);
        let run = |t: &str| interpolate::interpolate(t, &vars, &mut Vec::new());
        let _ = run(&soup);
        let _ = run(&s);
        if !s.contains('$') {
            prop_assert_eq!(run(&s).unwrap(), s.clone());
        }
        let escaped = s.replace('$', "$$");
        prop_assert_eq!(run(&escaped).unwrap(), s.clone());
        prop_assert_eq!(run(&format!("{escaped}${{V}}{escaped}")).unwrap(), format!("{s}{value}{s}"));
        let _ = interpolate::parse_dotenv(&soup);
        let _ = units::duration_nanos(&soup);
        let _ = units::memory_bytes(&soup);
        let _ = units::nano_cpus(&soup);
        let _ = units::short_ports(&soup);
        let _ = units::short_volume(&soup);
    }
}

/// What hosts print for the doctor: `ip` addresses and routes, `date +%s%N`, `du -b`.
const DOCTOR_TOKENS: &[&str] = &[
    "1:",
    "lo",
    "eth0",
    "docker0",
    "br-1a",
    "inet",
    "10.213.4.2/24",
    "10.0.0.0/8",
    "default",
    "via",
    "dev",
    "blackhole",
    "proto",
    "kernel",
    "\n---\n",
    "1764561600123456789",
    "%N",
    "N",
    "\t",
    "128012288",
    "/var/lib/docker/swarm/raft",
    "/var/lib/docker/swarm/raft/snap-v3",
    "999999999999999999999999",
    "9223372036854775807",
    "-1",
    "\n",
];

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn doctor_readings_parse_in_bounds(text in text_of(DOCTOR_TOKENS, 80)) {
        use swarmdeck::doctor::facts;
        let underlay = facts::parse_underlay(&text);
        prop_assert!(underlay.len() <= text.len());
        if let Some(ms) = facts::parse_clock(&text) {
            let c = facts::ClockSample { sent_ms: 0, host_ms: ms, received_ms: 10 };
            let _ = (c.offset_ms(), c.uncertainty_ms());
        }
        if let Some(r) = facts::parse_raft_du(&text, "/var/lib/docker/swarm/raft") {
            prop_assert!(text.contains("/var/lib/docker/swarm/raft"));
            let _ = r.total;
        }
    }
}
