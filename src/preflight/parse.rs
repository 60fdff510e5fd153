//! Pure parsers for what the preflight script prints on a host.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Splits the script output into `@@section` blocks.
pub fn sections(text: &str) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("@@") {
            current = Some(name.trim().to_string());
            out.entry(name.trim().to_string()).or_default();
        } else if let Some(c) = &current {
            let s = out.entry(c.clone()).or_default();
            s.push_str(line);
            s.push('\n');
        }
    }
    out
}

/// One IPv4 address of an interface (`ip -o -4 addr`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfAddr {
    pub dev: String,
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

/// `2: eth0    inet 10.213.1.1/24 brd … scope global eth0\ valid_lft …`
pub fn ip_addrs(text: &str) -> Vec<IfAddr> {
    text.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let dev = w.get(1)?.trim_end_matches(':');
            let i = w.iter().position(|x| *x == "inet")?;
            let (a, p) = w.get(i + 1)?.split_once('/')?;
            Some(IfAddr {
                dev: dev.split('@').next()?.to_string(),
                addr: a.parse().ok()?,
                prefix: p.parse().ok()?,
            })
        })
        .collect()
}

/// Interfaces that could carry swarm traffic: not loopback, not docker's own bridges.
pub fn candidate_addrs(addrs: &[IfAddr]) -> Vec<IfAddr> {
    addrs
        .iter()
        .filter(|a| {
            let docker_own = a.dev == "docker0"
                || a.dev == "docker_gwbridge"
                || a.dev.starts_with("br-")
                || a.dev.starts_with("veth");
            !a.addr.is_loopback() && !docker_own
        })
        .cloned()
        .collect()
}

/// MTU per device from `ip -o link` (`2: eth0@if5: <…> mtu 1500 qdisc …`).
pub fn link_mtus(text: &str) -> BTreeMap<String, u32> {
    text.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let dev = w
                .get(1)?
                .trim_end_matches(':')
                .split('@')
                .next()?
                .to_string();
            let i = w.iter().position(|x| *x == "mtu")?;
            Some((dev, w.get(i + 1)?.parse().ok()?))
        })
        .collect()
}

/// Result of a TCP probe from one host to a peer's port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PortState {
    Open,
    /// Refused: reachable, nothing listens (or a REJECT rule).
    Closed,
    /// No answer: a firewall drops it, or the host is down.
    Filtered,
    /// An immediate ICMP "prohibited" answer: a firewall rejects it (firewalld's default).
    Rejected,
}

/// `PEER PORT open|closed|filtered|rejected` lines.
pub fn reach(text: &str) -> Vec<(String, u16, PortState)> {
    text.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let st = match *w.get(2)? {
                "open" => PortState::Open,
                "closed" => PortState::Closed,
                "filtered" => PortState::Filtered,
                "rejected" => PortState::Rejected,
                _ => return None,
            };
            Some((w[0].to_string(), w.get(1)?.parse().ok()?, st))
        })
        .collect()
}

/// The firewall in charge on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Firewalld,
    Ufw,
    Nftables,
    Iptables,
    None,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Firewalld => "firewalld",
            Backend::Ufw => "ufw",
            Backend::Nftables => "nftables",
            Backend::Iptables => "iptables",
            Backend::None => "none",
        }
    }
}

/// The backend for people: its name, or that no firewall is active.
impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::None => f.write_str("no active firewall"),
            b => f.write_str(b.as_str()),
        }
    }
}

/// Decides the backend from the `@@fw` section: a running firewalld or an active ufw
/// manage the rules; otherwise iptables if INPUT has rules or a non-ACCEPT policy, then
/// native nftables if some chain hooks input; else none.
pub fn firewall_backend(text: &str) -> Backend {
    let line = |p: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(p).map(|r| r.trim().to_string()))
    };
    if line("firewalld ").is_some_and(|s| s == "running") {
        return Backend::Firewalld;
    }
    if line("ufw ").is_some_and(|s| s.eq_ignore_ascii_case("status: active")) {
        return Backend::Ufw;
    }
    if let Some(rules) = line("iptables ") {
        let busy = rules.split(';').map(str::trim).any(|r| {
            (r.starts_with("-A INPUT")) || (r.starts_with("-P INPUT") && r != "-P INPUT ACCEPT")
        });
        if busy {
            return Backend::Iptables;
        }
    }
    if line("nft ")
        .and_then(|n| n.parse::<u32>().ok())
        .is_some_and(|n| n > 0)
    {
        return Backend::Nftables;
    }
    Backend::None
}

/// Whether the kernel can carry encrypted overlays (IPsec ESP with AES-GCM over XFRM), and
/// why not. Kernel config is definitive when available; otherwise `/proc/crypto`, the
/// XFRM proc file and the module tree are the evidence.
pub fn encryption_support(
    kconfig: &str,
    crypto: &str,
    xfrm: bool,
    modules: &str,
) -> Result<(), String> {
    let opt = |name: &str| -> Option<bool> {
        kconfig.lines().find_map(|l| {
            let l = l.trim();
            if l == format!("# {name} is not set") {
                Some(false)
            } else {
                l.strip_prefix(&format!("{name}="))
                    .map(|v| v == "y" || v == "m")
            }
        })
    };
    let mut missing = Vec::new();
    if opt("CONFIG_INET_ESP").is_some() || opt("CONFIG_CRYPTO_GCM").is_some() {
        for (k, what) in [
            ("CONFIG_INET_ESP", "IPsec ESP"),
            ("CONFIG_CRYPTO_GCM", "AES-GCM"),
            ("CONFIG_XFRM_USER", "XFRM netlink"),
        ] {
            if opt(k) == Some(false) {
                missing.push(format!("{k} ({what})"));
            }
        }
    } else {
        let has_gcm = crypto.contains("gcm(aes)") || crypto.contains("rfc4106");
        let can_load = modules.lines().any(|l| l.trim().starts_with("esp4"));
        if !has_gcm && !can_load {
            missing.push("gcm(aes)/rfc4106 in /proc/crypto and an esp4 module".into());
        }
    }
    if !xfrm {
        missing.push("XFRM (/proc/net/xfrm_stat is missing)".into());
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the kernel lacks {}: encrypted overlays would silently drop all traffic (dockerd \
             logs `rfc4106(gcm(aes)) … function not implemented`)",
            missing.join(", ")
        ))
    }
}

/// Seconds since the epoch from `date +%s.%N`.
pub fn epoch(text: &str) -> Option<f64> {
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_sections() {
        let s = sections("@@a\nx\ny\n@@b\n@@c\nz\n");
        assert_eq!(s["a"], "x\ny\n");
        assert_eq!(s["b"], "");
        assert_eq!(s["c"], "z\n");
    }

    #[test]
    fn parses_addresses_and_mtus() {
        let t = "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n\
                 2: eth0    inet 10.213.1.1/24 brd 10.213.1.255 scope global eth0\\ valid_lft forever\n\
                 3: docker0    inet 172.17.0.1/16 brd 172.17.255.255 scope global docker0\n\
                 5: ens4    inet 192.168.0.5/24 scope global ens4\n";
        let a = ip_addrs(t);
        assert_eq!(a.len(), 4);
        let c = candidate_addrs(&a);
        let devs: Vec<&str> = c.iter().map(|a| a.dev.as_str()).collect();
        assert_eq!(devs, vec!["eth0", "ens4"]);
        let m = link_mtus(
            "1: lo: <LOOPBACK,UP> mtu 65536 qdisc noqueue\n2: eth0@if7: <BROADCAST> mtu 1450 qdisc noqueue\n",
        );
        assert_eq!(m["eth0"], 1450);
        assert_eq!(m["lo"], 65536);
    }

    #[test]
    fn parses_reachability() {
        let r = reach(
            "10.0.0.1 2377 filtered\n10.0.0.1 7946 open\n10.0.0.2 2377 closed\ngarbage\n10.0.0.3 7946 rejected\n",
        );
        assert_eq!(
            r,
            vec![
                ("10.0.0.1".into(), 2377, PortState::Filtered),
                ("10.0.0.1".into(), 7946, PortState::Open),
                ("10.0.0.2".into(), 2377, PortState::Closed),
                ("10.0.0.3".into(), 7946, PortState::Rejected),
            ]
        );
    }

    #[test]
    fn detects_firewall_backends() {
        assert_eq!(
            firewall_backend("firewalld running\nnft 3\n"),
            Backend::Firewalld
        );
        assert_eq!(
            firewall_backend("firewalld not running\nufw Status: active\n"),
            Backend::Ufw
        );
        assert_eq!(
            firewall_backend("ufw Status: inactive\nnft 0\niptables -P INPUT ACCEPT;\n"),
            Backend::None
        );
        assert_eq!(
            firewall_backend(
                "nft 1\niptables -P INPUT ACCEPT;-A INPUT -p tcp -m tcp --dport 2377 -j DROP;\n"
            ),
            Backend::Iptables
        );
        assert_eq!(
            firewall_backend("iptables -P INPUT DROP;\n"),
            Backend::Iptables
        );
        assert_eq!(
            firewall_backend("nft 1\niptables -P INPUT ACCEPT;\n"),
            Backend::Nftables
        );
    }

    #[test]
    fn encryption_needs_esp_gcm_and_xfrm() {
        // This build machine's kernel.
        let lab = "CONFIG_XFRM=y\nCONFIG_XFRM_USER=y\n# CONFIG_INET_ESP is not set\n# CONFIG_CRYPTO_GCM is not set\n";
        let e = encryption_support(lab, "name : cbc(aes)\n", true, "").unwrap_err();
        assert!(
            e.contains("CONFIG_INET_ESP") && e.contains("CONFIG_CRYPTO_GCM"),
            "{e}"
        );
        assert!(e.contains("silently drop"), "{e}");
        let good = "CONFIG_XFRM_USER=y\nCONFIG_INET_ESP=m\nCONFIG_CRYPTO_GCM=y\n";
        assert!(encryption_support(good, "", true, "").is_ok());
        // No config: module or /proc/crypto evidence.
        assert!(encryption_support("", "name : rfc4106(gcm(aes))\n", true, "").is_ok());
        assert!(encryption_support("", "", true, "esp4.ko.xz\n").is_ok());
        assert!(encryption_support("", "", true, "").is_err());
        assert!(encryption_support(good, "", false, "").is_err());
    }

    #[test]
    fn parses_epoch() {
        assert_eq!(epoch("1700000000.250000000\n"), Some(1_700_000_000.25));
        assert_eq!(epoch("x"), None);
    }
}
