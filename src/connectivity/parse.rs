//! Pure parsers for what the probes and hosts print: busybox `ping`, `nslookup`, `ip -o`,
//! `iptables -S`, `nft list ruleset`, `/proc/crypto` and kernel config, and ELF headers.

use serde::{Deserialize, Serialize};

/// The ports Docker Swarm needs between hosts.
pub const SWARM_PORTS: [u16; 3] = [2377, 7946, 4789];

/// Summary of a `ping` run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PingStats {
    pub sent: u32,
    pub received: u32,
    /// Average round trip in milliseconds, when any reply came back.
    pub avg_ms: Option<f64>,
}

/// Parses busybox (and iputils) ping output: the "N packets transmitted, M (packets)
/// received" line and the "min/avg/max" line.
pub fn ping(output: &str) -> Option<PingStats> {
    let mut stats: Option<PingStats> = None;
    for line in output.lines() {
        if line.contains("transmitted") {
            let nums: Vec<u32> = line
                .split(',')
                .filter_map(|part| part.split_whitespace().next()?.parse().ok())
                .collect();
            if nums.len() >= 2 {
                stats = Some(PingStats {
                    sent: nums[0],
                    received: nums[1],
                    avg_ms: None,
                });
            }
        } else if let Some((_, values)) = line.split_once(" = ")
            && line.contains("min/avg/max")
            && let Some(s) = stats.as_mut()
        {
            s.avg_ms = values.split('/').nth(1).and_then(|v| v.trim().parse().ok());
        }
    }
    stats
}

/// The first IPv4 address nslookup gives for `name`, if it answered for it. Busybox prints
/// the server first ("Server:" / "Address: 127.0.0.11:53"), then "Name:" and "Address:".
pub fn nslookup(output: &str, name: &str) -> Option<String> {
    let mut in_answer = false;
    for line in output.lines() {
        let line = line.trim();
        if let Some(n) = line.strip_prefix("Name:") {
            let n = n.trim();
            in_answer = n == name || n.starts_with(&format!("{name}."));
        } else if in_answer && let Some(a) = line.strip_prefix("Address:") {
            let a = a.trim();
            let a = a.split_whitespace().next().unwrap_or(a);
            if a.parse::<std::net::Ipv4Addr>().is_ok() {
                return Some(a.to_string());
            }
        }
    }
    None
}

/// The MTU of the interface holding `ip`, from `ip -o -4 addr` followed by `ip -o link`.
pub fn mtu_for_ip(output: &str, ip: &str) -> Option<u32> {
    let iface = output.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        let _idx = w.next()?;
        let name = w.next()?;
        let inet = w.next()?;
        let addr = w.next()?;
        (inet == "inet" && addr.split('/').next() == Some(ip)).then(|| name.to_string())
    })?;
    output.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        let _idx = w.next()?;
        let name = w.next()?.trim_end_matches(':');
        let name = name.split('@').next()?;
        if name != iface {
            return None;
        }
        let words: Vec<&str> = l.split_whitespace().collect();
        let pos = words.iter().position(|w| *w == "mtu")?;
        words.get(pos + 1)?.parse().ok()
    })
}

/// A firewall rule that drops or rejects traffic to one of the swarm ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockingRule {
    pub port: u16,
    /// "tcp", "udp" or "any".
    pub proto: String,
    /// The rule as printed by the host.
    pub rule: String,
    /// A command that removes it, when one can be derived exactly (iptables).
    pub remove: Option<String>,
}

/// The swarm ports a rule's words name, each once. Every word is read once, so a hostile
/// line costs linear time and yields at most [`SWARM_PORTS`].
fn rule_ports(words: &[&str]) -> Vec<u16> {
    let mut ports = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let names_port = matches!(
            words[i],
            "--dport" | "--dports" | "--destination-port" | "dport"
        );
        i += 1;
        let Some(first) = words.get(i).filter(|_| names_port) else {
            continue;
        };
        // nft sets: `dport { 22, 7946 }` span several words.
        let v = if first.starts_with('{') {
            let end = words[i..]
                .iter()
                .position(|w| w.starts_with('}'))
                .map_or(words.len(), |p| i + p);
            let set = words[i..end].join(",");
            i = end;
            set
        } else {
            first.to_string()
        };
        let v = v.trim_matches(|c| c == '{' || c == '}' || c == ',');
        for part in v.split(',').filter(|p| !p.is_empty()) {
            let (lo, hi) = match part.split_once([':', '-']) {
                Some((a, b)) => (a.parse().ok(), b.parse().ok()),
                None => (part.parse().ok(), part.parse().ok()),
            };
            if let (Some(lo), Some(hi)) = (lo, hi) {
                for p in SWARM_PORTS.iter().filter(|p| (lo..=hi).contains(*p)) {
                    if !ports.contains(p) {
                        ports.push(*p);
                    }
                }
            }
        }
    }
    ports
}

/// DROP/REJECT rules in `iptables -S` output that name a swarm port. Rules without a port
/// (Docker's own isolation rules) are ignored: they are not about the underlay.
pub fn iptables_blocking(output: &str) -> Vec<BlockingRule> {
    let mut out = Vec::new();
    for line in output.lines().map(str::trim) {
        if !line.starts_with("-A ") && !line.starts_with("-I ") {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let target = words
            .iter()
            .position(|w| *w == "-j")
            .and_then(|i| words.get(i + 1));
        if !matches!(target, Some(&"DROP") | Some(&"REJECT")) {
            continue;
        }
        let proto = words
            .iter()
            .position(|w| *w == "-p")
            .and_then(|i| words.get(i + 1))
            .map(|p| p.to_string())
            .unwrap_or_else(|| "any".into());
        let remove = Some(format!("iptables -D {}", &line[3..]));
        for port in rule_ports(&words) {
            out.push(BlockingRule {
                port,
                proto: proto.clone(),
                rule: line.to_string(),
                remove: remove.clone(),
            });
        }
    }
    out
}

/// drop/reject rules in `nft list ruleset` output that name a swarm port.
pub fn nft_blocking(output: &str) -> Vec<BlockingRule> {
    let mut out = Vec::new();
    for line in output.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        if !words.iter().any(|w| *w == "drop" || *w == "reject") || line.starts_with("type ") {
            continue;
        }
        // iptables-nft rules show up here as well; they carry a counter/comment, no matter.
        let proto = if words.contains(&"udp") {
            "udp"
        } else if words.contains(&"tcp") {
            "tcp"
        } else {
            "any"
        };
        for port in rule_ports(&words) {
            out.push(BlockingRule {
                port,
                proto: proto.to_string(),
                rule: line.to_string(),
                remove: None,
            });
        }
    }
    out
}

/// What the kernel offers for encrypted overlays (IPsec ESP with AES-GCM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EspSupport {
    /// `rfc4106(gcm(aes))` is registered, or the kernel has ESP and GCM built in / as modules.
    Supported,
    /// The kernel config says ESP or GCM is not set and no module provides them.
    Missing,
    /// Nothing conclusive could be read.
    Unknown,
}

/// Evidence for [`EspSupport`], from one script's output with `== section ==` markers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CryptoReport {
    pub esp: EspSupport,
    pub evidence: Vec<String>,
}

/// Reads the `== crypto ==`, `== config ==` and `== modules ==` sections printed by the
/// host check script.
pub fn crypto(output: &str) -> CryptoReport {
    let section = |name: &str| -> Vec<&str> {
        let marker = format!("== {name} ==");
        output
            .lines()
            .skip_while(|l| l.trim() != marker)
            .skip(1)
            .take_while(|l| !l.starts_with("== "))
            .collect()
    };
    let algos: Vec<&str> = section("crypto")
        .into_iter()
        .filter_map(|l| l.strip_prefix("name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).trim())
        .collect();
    let mut evidence = Vec::new();
    if algos.contains(&"rfc4106(gcm(aes))") {
        evidence.push("/proc/crypto lists rfc4106(gcm(aes))".into());
        return CryptoReport {
            esp: EspSupport::Supported,
            evidence,
        };
    }
    let config = section("config");
    let setting = |key: &str| -> Option<bool> {
        config.iter().find_map(|l| {
            let l = l.trim();
            if l == format!("# {key} is not set") {
                Some(false)
            } else {
                let v = l.strip_prefix(key)?.strip_prefix('=')?;
                Some(v == "y" || v == "m")
            }
        })
    };
    let modules = section("modules");
    let has_module = |m: &str| modules.iter().any(|l| l.trim() == m);
    let esp = setting("CONFIG_INET_ESP").or(has_module("esp4").then_some(true));
    let gcm = setting("CONFIG_CRYPTO_GCM")
        .or(algos.iter().any(|a| a.starts_with("gcm(")).then_some(true))
        .or(has_module("gcm").then_some(true));
    for (key, v) in [("CONFIG_INET_ESP", esp), ("CONFIG_CRYPTO_GCM", gcm)] {
        match v {
            Some(true) => evidence.push(format!("{key} is enabled")),
            Some(false) => evidence.push(format!("{key} is not set in the kernel config")),
            None => evidence.push(format!("{key}: no kernel config found")),
        }
    }
    if !algos.is_empty() {
        evidence.push("/proc/crypto has no rfc4106(gcm(aes))".into());
    }
    let esp_support = match (esp, gcm) {
        (Some(false), _) | (_, Some(false)) => EspSupport::Missing,
        (Some(true), Some(true)) => EspSupport::Supported,
        _ => EspSupport::Unknown,
    };
    CryptoReport {
        esp: esp_support,
        evidence,
    }
}

/// Whether an ELF executable is statically linked: it has no PT_INTERP program header.
/// Errors when the bytes are not a 64-bit little-endian ELF file.
pub fn elf_is_static(bytes: &[u8]) -> Result<bool, String> {
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" {
        return Err("not an ELF file".into());
    }
    if bytes[4] != 2 || bytes[5] != 1 {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as usize;
    let u64_at = |o: usize| -> Option<usize> {
        let b: [u8; 8] = bytes.get(o..o + 8)?.try_into().ok()?;
        usize::try_from(u64::from_le_bytes(b)).ok()
    };
    let phoff = u64_at(0x20).ok_or("truncated ELF header")?;
    let phentsize = u16_at(0x36);
    let phnum = u16_at(0x38);
    for i in 0..phnum {
        // Offsets come from the file: checked, never trusted to fit.
        let t = i
            .checked_mul(phentsize)
            .and_then(|o| o.checked_add(phoff))
            .and_then(|o| bytes.get(o..o.checked_add(4)?))
            .ok_or("truncated program headers")?;
        if u32::from_le_bytes(t.try_into().expect("4 bytes")) == 3 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Network and container names reaching Docker or a remote shell:
/// `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 64 characters.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && name.len() <= 64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_busybox_ping() {
        let ok = "PING 10.0.1.4 (10.0.1.4): 56 data bytes\n\
                  64 bytes from 10.0.1.4: seq=0 ttl=64 time=0.208 ms\n\n\
                  --- 10.0.1.4 ping statistics ---\n\
                  3 packets transmitted, 3 packets received, 0% packet loss\n\
                  round-trip min/avg/max = 0.126/0.161/0.208 ms\n";
        assert_eq!(
            ping(ok),
            Some(PingStats {
                sent: 3,
                received: 3,
                avg_ms: Some(0.161)
            })
        );
        let lost = "--- 10.0.1.6 ping statistics ---\n\
                    3 packets transmitted, 0 packets received, 100% packet loss\n";
        assert_eq!(
            ping(lost),
            Some(PingStats {
                sent: 3,
                received: 0,
                avg_ms: None
            })
        );
        // iputils wording.
        let iputils = "2 packets transmitted, 1 received, 50% packet loss, time 1001ms\n\
                       rtt min/avg/max/mdev = 0.050/0.060/0.070/0.010 ms";
        assert_eq!(ping(iputils).unwrap().received, 1);
        assert_eq!(ping(iputils).unwrap().avg_ms, Some(0.06));
        assert_eq!(ping("ping: bad address 'x'"), None);
    }

    #[test]
    fn parses_busybox_nslookup() {
        let ok = "Server:\t\t127.0.0.11\nAddress:\t127.0.0.11:53\n\n\
                  Non-authoritative answer:\n\nNon-authoritative answer:\n\
                  Name:\tp2\nAddress: 10.0.1.4\n\n";
        assert_eq!(nslookup(ok, "p2").as_deref(), Some("10.0.1.4"));
        assert_eq!(nslookup(ok, "p3"), None);
        let fail = ";; connection timed out; no servers could be reached\n";
        assert_eq!(nslookup(fail, "p2"), None);
        let nx =
            "Server:\t\t127.0.0.11\nAddress:\t127.0.0.11:53\n\n** server can't find p9: NXDOMAIN\n";
        assert_eq!(nslookup(nx, "p9"), None);
    }

    #[test]
    fn finds_the_mtu_of_the_overlay_interface() {
        let out = "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n\
                   52: eth0    inet 10.0.1.4/24 brd 10.0.1.255 scope global eth0\\ x\n\
                   54: eth1    inet 172.18.0.3/16 brd 172.18.255.255 scope global eth1\n\
                   1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue\n\
                   52: eth0@if53: <BROADCAST,MULTICAST,UP,LOWER_UP,M-DOWN> mtu 1450 qdisc noqueue\n\
                   54: eth1@if55: <BROADCAST,MULTICAST,UP,LOWER_UP,M-DOWN> mtu 1500 qdisc noqueue\n";
        assert_eq!(mtu_for_ip(out, "10.0.1.4"), Some(1450));
        assert_eq!(mtu_for_ip(out, "172.18.0.3"), Some(1500));
        assert_eq!(mtu_for_ip(out, "10.9.9.9"), None);
    }

    #[test]
    fn finds_iptables_rules_blocking_swarm_ports() {
        let out = "-P INPUT ACCEPT\n-P FORWARD DROP\n\
                   -A INPUT -p udp -m udp --dport 4789 -j DROP\n\
                   -A INPUT -p tcp -m multiport --dports 22,7946,8000:8100 -j REJECT --reject-with icmp-port-unreachable\n\
                   -A INPUT -p tcp -m tcp --dport 2377 -j ACCEPT\n\
                   -A FORWARD -i docker_gwbridge -o docker_gwbridge -j DROP\n\
                   -A INPUT -p udp --dport 7000:8000 -j DROP\n";
        let rules = iptables_blocking(out);
        let summary: Vec<(u16, &str)> = rules.iter().map(|r| (r.port, r.proto.as_str())).collect();
        assert_eq!(
            summary,
            vec![(4789, "udp"), (7946, "tcp"), (7946, "udp")],
            "{rules:?}"
        );
        assert_eq!(
            rules[0].remove.as_deref(),
            Some("iptables -D INPUT -p udp -m udp --dport 4789 -j DROP")
        );
    }

    #[test]
    fn finds_nft_rules_blocking_swarm_ports() {
        let out = "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\
                   \t\tudp dport 4789 drop\n\t\ttcp dport { 22, 7946 } reject\n\t\ttcp dport 2377 accept\n\t}\n}\n";
        let rules = nft_blocking(out);
        let summary: Vec<(u16, &str)> = rules.iter().map(|r| (r.port, r.proto.as_str())).collect();
        assert_eq!(summary, vec![(4789, "udp"), (7946, "tcp")]);
    }

    #[test]
    fn reads_esp_gcm_support() {
        let lab = "== crypto ==\nname         : aes\nname         : cbc(aes)\n\
                   == config ==\n# CONFIG_INET_ESP is not set\nCONFIG_CRYPTO_AES=y\n# CONFIG_CRYPTO_GCM is not set\n\
                   == modules ==\n";
        let r = crypto(lab);
        assert_eq!(r.esp, EspSupport::Missing, "{r:?}");
        assert!(r.evidence.iter().any(|e| e.contains("CONFIG_INET_ESP")));
        let loaded = "== crypto ==\nname         : rfc4106(gcm(aes))\n== config ==\n";
        assert_eq!(crypto(loaded).esp, EspSupport::Supported);
        let modular = "== crypto ==\nname : aes\n== config ==\nCONFIG_INET_ESP=m\nCONFIG_CRYPTO_GCM=m\n== modules ==\n";
        assert_eq!(crypto(modular).esp, EspSupport::Supported);
        let modules_only = "== crypto ==\nname : aes\n== config ==\n== modules ==\nesp4\ngcm\n";
        assert_eq!(crypto(modules_only).esp, EspSupport::Supported);
        assert_eq!(
            crypto("== crypto ==\n== config ==\n").esp,
            EspSupport::Unknown
        );
    }

    #[test]
    fn tells_static_from_dynamic_elf() {
        for p in ["/bin/busybox", "/usr/bin/busybox"] {
            if let Ok(b) = std::fs::read(p) {
                // Debian's busybox-static is what the lab uses; a dynamic busybox is fine too.
                let _ = elf_is_static(&b).unwrap();
            }
        }
        let ls = std::fs::read("/bin/ls").unwrap();
        assert_eq!(elf_is_static(&ls), Ok(false));
        assert!(elf_is_static(b"#!/bin/sh\necho hi\n").is_err());
    }

    #[test]
    fn validates_names() {
        assert!(valid_name("appnet"));
        assert!(valid_name("my_net.v2-x"));
        for bad in [
            "",
            "-x",
            ".x",
            "a b",
            "a;b",
            "$(id)",
            "a/b",
            &"x".repeat(65),
        ] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
