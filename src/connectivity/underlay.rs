//! Host-level checks over SSH: TCP to the swarm ports of the other hosts on their real
//! interfaces, the firewall rules that touch the swarm ports, and kernel support for
//! encrypted overlays.

use std::net::IpAddr;
use std::time::Duration;

use super::model::{Check, Firewall, Link};
use super::parse::{self, CryptoReport};
use crate::ssh::{ExecOutput, RemoteCommand, SshSession};

/// Tries a TCP connection from the host to `addr:port` (bash's /dev/tcp under `timeout`, or
/// `nc -z` where bash is missing). The address and port are positional arguments, never
/// pasted into the script, and `--` ends nc's options. The address is an [`IpAddr`]: the
/// one a peer reports about itself (its `NodeAddr`) is checked before it gets here.
pub fn tcp_command(addr: IpAddr, port: u16, secs: u64) -> RemoteCommand {
    let script = "if command -v bash >/dev/null 2>&1; then \
                  timeout \"$3\" bash -c 'exec 3<>\"/dev/tcp/$0/$1\"' \"$1\" \"$2\"; \
                  else nc -z -w \"$3\" -- \"$1\" \"$2\"; fi";
    RemoteCommand::new([
        "sh",
        "-c",
        script,
        "sh",
        &addr.to_string(),
        &port.to_string(),
        &secs.to_string(),
    ])
    .timeout(Duration::from_secs(secs + 5))
}

/// `addr` as an IP address, or the check that says why it is not tried.
pub fn checked_address(addr: &str) -> Result<IpAddr, Check> {
    addr.parse().map_err(|_| {
        Check::skipped(format!(
            "not tried: {:?} is not an IP address",
            crate::untrusted::visible(addr)
        ))
    })
}

/// Reads a TCP check's result.
pub fn tcp_outcome(out: &ExecOutput, secs: u64) -> Check {
    let err = out.stderr_lossy().to_lowercase();
    match out.status {
        0 if out.signal.is_none() => Check::pass("connected", None),
        124 => Check::fail(format!("no answer within {secs} s (packets dropped?)")),
        _ if err.contains("refused") => {
            Check::fail("connection refused (nothing listens, or a REJECT rule)")
        }
        _ if err.contains("no route") => Check::fail("no route to host"),
        s => Check::fail(format!(
            "failed (exit {s}): {}",
            err.lines().last().unwrap_or("").trim()
        )),
    }
}

/// A timed-out connection is tried once more before it counts: one SYN lost on a busy
/// host must not become a "port blocked" diagnosis. Refusals are final at once.
pub async fn tcp(session: &SshSession, addr: &str, port: u16, secs: u64) -> Check {
    let addr = match checked_address(addr) {
        Ok(ip) => ip,
        Err(refused) => return refused,
    };
    let mut check = Check::skipped("not run");
    for attempt in 0..2 {
        check = match session.exec(&tcp_command(addr, port, secs)).await {
            Ok(out) => tcp_outcome(&out, secs),
            Err(e) => return Check::skipped(format!("could not run the check: {e}")),
        };
        let timed_out = check.failed() && check.detail.starts_with("no answer");
        if !timed_out {
            break;
        }
        if attempt == 1 {
            check.detail = format!("{} (twice)", check.detail);
        }
    }
    check
}

/// One script for the firewall and crypto facts, sections marked `== name ==`.
const FACTS: &str = r#"
echo '== iptables =='; iptables -S 2>/dev/null || echo '(unavailable)'
echo '== nft =='; nft list ruleset 2>/dev/null || echo '(unavailable)'
echo '== crypto =='; grep '^name' /proc/crypto 2>/dev/null
echo '== config =='
k=$(uname -r)
{ zcat /proc/config.gz 2>/dev/null || cat "/boot/config-$k" 2>/dev/null; } | grep -E 'CONFIG_INET_ESP[ =]|CONFIG_CRYPTO_GCM[ =]'
echo '== modules =='
find "/lib/modules/$k" \( -name 'esp4.ko*' -o -name 'gcm.ko*' \) 2>/dev/null | sed 's|.*/||; s|\.ko.*||'
echo '== links =='; ip -o link show 2>/dev/null
echo '== addrs =='; ip -o -4 addr show 2>/dev/null
echo '== end =='
"#;

fn section<'a>(text: &'a str, name: &str) -> String {
    let marker = format!("== {name} ==");
    let lines: Vec<&'a str> = text
        .lines()
        .skip_while(|l| l.trim() != marker)
        .skip(1)
        .take_while(|l| !l.starts_with("== "))
        .collect();
    lines.join("\n")
}

/// What the facts script found on one host.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub firewall: Firewall,
    pub crypto: CryptoReport,
    /// The interface that carries `addr` (the node's swarm address) and its MTU.
    pub link: Option<Link>,
}

/// The interface that carries the swarm address (`addr`) and its MTU.
pub fn link_of(text: &str, addr: &str) -> Option<Link> {
    let addr: std::net::Ipv4Addr = addr.parse().ok()?;
    let dev = crate::preflight::parse::ip_addrs(&section(text, "addrs"))
        .into_iter()
        .find(|a| a.addr == addr)?
        .dev;
    let mtu = *crate::preflight::parse::link_mtus(&section(text, "links")).get(&dev)?;
    Some(Link { dev, mtu })
}

/// Parses the facts script's output; `addr` is the host's swarm address.
pub fn parse_facts(text: &str, addr: &str) -> Facts {
    let (firewall, crypto) = firewall_and_crypto(text);
    Facts {
        firewall,
        crypto,
        link: link_of(text, addr),
    }
}

fn firewall_and_crypto(text: &str) -> (Firewall, CryptoReport) {
    let ipt = section(text, "iptables");
    let nft = section(text, "nft");
    let ipt_ok = !ipt.contains("(unavailable)") && !ipt.trim().is_empty();
    let nft_ok = !nft.contains("(unavailable)") && !nft.trim().is_empty();
    let mut blocking = parse::iptables_blocking(&ipt);
    // iptables-nft rules appear in both listings; keep nft-only ones.
    for r in parse::nft_blocking(&nft) {
        if !blocking
            .iter()
            .any(|b| b.port == r.port && (b.proto == r.proto || b.proto == "any"))
        {
            blocking.push(r);
        }
    }
    let source = match (ipt_ok, nft_ok) {
        (true, true) => "iptables+nft",
        (true, false) => "iptables",
        (false, true) => "nft",
        (false, false) => "none readable",
    };
    let fw = Firewall {
        source: source.into(),
        blocking,
        input_policy_drop: ipt.lines().any(|l| l.trim() == "-P INPUT DROP"),
    };
    (fw, parse::crypto(text))
}

/// Runs the facts script (with the host's sudo setting: iptables needs root); `addr` is
/// the host's swarm address.
pub async fn facts(session: &SshSession, timeout: Duration, addr: &str) -> Result<Facts, String> {
    let sudo = session.host().sudo;
    let out = session
        .exec(&RemoteCommand::shell(FACTS).sudo(sudo).timeout(timeout))
        .await
        .map_err(|e| e.to_string())?;
    Ok(parse_facts(&out.stdout_lossy(), addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(status: u32, stderr: &str) -> ExecOutput {
        ExecOutput {
            status,
            stdout: vec![],
            stderr: stderr.as_bytes().to_vec(),
            signal: None,
        }
    }

    #[test]
    fn tcp_outcomes() {
        assert!(tcp_outcome(&out(0, ""), 2).passed());
        assert!(tcp_outcome(&out(124, ""), 2).detail.contains("no answer"));
        let refused = "bash: connect: Connection refused\nbash: line 1: /dev/tcp/10.0.0.2/7946: Connection refused";
        assert!(tcp_outcome(&out(1, refused), 2).detail.contains("refused"));
        assert!(tcp_outcome(&out(1, "nc: bad"), 2).failed());
    }

    /// A peer's self-reported address is used only when it is an IP address: option-like
    /// or shell-like text is refused before any command is built.
    #[test]
    fn peer_addresses_must_be_ip_addresses() {
        for bad in [
            "-e/bin/sh",
            "--exec=/bin/sh",
            "10.0.0.2; rm -rf /",
            "$(id)",
            "10.0.0.2 -e sh",
            "host\nname",
            "",
        ] {
            let refused = checked_address(bad).unwrap_err();
            assert!(!refused.passed() && !refused.failed(), "{bad:?}");
            assert!(refused.detail.contains("not an IP address"), "{bad:?}");
            assert!(!refused.detail.contains('\n'), "{}", refused.detail);
        }
        assert_eq!(checked_address("10.0.0.2").unwrap().to_string(), "10.0.0.2");
        assert_eq!(checked_address("fd00::1").unwrap().to_string(), "fd00::1");
    }

    /// The address reaches `nc` after `--` and as a positional argument of the script.
    #[test]
    fn tcp_command_passes_the_address_after_the_options() {
        let c = tcp_command("10.0.0.2".parse().unwrap(), 7946, 2);
        let line = c.command_line().unwrap();
        assert!(line.contains(r#"nc -z -w "$3" -- "$1" "$2""#), "{line}");
        assert!(line.ends_with(" sh 10.0.0.2 7946 2"), "{line}");
    }

    #[test]
    fn parses_the_facts_script() {
        let text = "== iptables ==\n-P INPUT ACCEPT\n-A INPUT -p udp -m udp --dport 4789 -j DROP\n\
                    == nft ==\ntable ip filter {\n chain INPUT {\n  udp dport 4789 counter packets 0 bytes 0 drop\n  tcp dport 7946 drop\n }\n}\n\
                    == crypto ==\nname         : aes\n== config ==\n# CONFIG_INET_ESP is not set\n# CONFIG_CRYPTO_GCM is not set\n\
                    == modules ==\n== end ==\n";
        let Facts {
            firewall: fw,
            crypto,
            link,
        } = parse_facts(text, "10.0.0.2");
        assert_eq!(link, None);
        assert_eq!(fw.source, "iptables+nft");
        let ports: Vec<(u16, &str)> = fw
            .blocking
            .iter()
            .map(|b| (b.port, b.proto.as_str()))
            .collect();
        assert_eq!(ports, vec![(4789, "udp"), (7946, "tcp")]);
        assert_eq!(crypto.esp, parse::EspSupport::Missing);
    }

    #[test]
    fn finds_the_swarm_interface_and_its_mtu() {
        let text = "== links ==\n1: lo: <LOOPBACK,UP> mtu 65536 qdisc noqueue\n\
                    2: eth0@if9: <BROADCAST,UP> mtu 1400 qdisc noqueue\n\
                    3: docker_gwbridge: <BROADCAST> mtu 1500 qdisc noqueue\n\
                    == addrs ==\n1: lo    inet 127.0.0.1/8 scope host lo\n\
                    2: eth0    inet 10.213.7.2/24 brd 10.213.7.255 scope global eth0\n\
                    3: docker_gwbridge    inet 172.18.0.1/16 scope global docker_gwbridge\n\
                    == end ==\n";
        assert_eq!(
            link_of(text, "10.213.7.2"),
            Some(Link {
                dev: "eth0".into(),
                mtu: 1400
            })
        );
        assert_eq!(link_of(text, "10.0.0.9"), None);
        assert_eq!(link_of(text, "not an address"), None);
    }
}
