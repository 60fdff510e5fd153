//! The lab's network: one /24 per lab out of 10.213.0.0/16, a "switch" namespace holding
//! the bridge (never the root namespace: its FORWARD policy and bridge-nf-call-iptables
//! would eat host-to-host traffic), one veth per host and one for the workstation.

use std::fmt;
use std::net::Ipv4Addr;

use super::{LabError, sys};

/// All labs live in this /16; while any lab is up the root namespace blackholes it, so the
/// addresses of a lab being torn down (or of a /24 no lab holds) never route out through
/// the default route. The last lab to go removes the route: the machine's routing is left
/// as it was found. swarmdeck itself never connects to a lab address no lab holds
/// ([`unheld_lab_address`]).
pub const SUPERNET: Prefix = Prefix {
    addr: Ipv4Addr::new(10, 213, 0, 0),
    len: 16,
};

/// The workstation's (root namespace) address in every lab: `.254`.
pub const WORKSTATION_OCTET: u8 = 254;

/// An IPv4 prefix such as 10.213.4.0/24.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    pub addr: Ipv4Addr,
    pub len: u8,
}

impl Prefix {
    fn mask(len: u8) -> u32 {
        if len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(len.min(32)))
        }
    }

    /// Parses `a.b.c.d/len`, `a.b.c.d` (a /32) or `default` (0.0.0.0/0).
    pub fn parse(s: &str) -> Option<Prefix> {
        if s == "default" {
            return Some(Prefix {
                addr: Ipv4Addr::UNSPECIFIED,
                len: 0,
            });
        }
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a.parse().ok()?, l.parse().ok()?),
            None => (s.parse().ok()?, 32),
        };
        (len <= 32).then_some(Prefix { addr, len })
    }

    /// The /24 of lab subnet `octet` (10.213.octet.0/24).
    pub fn lab(octet: u8) -> Prefix {
        Prefix {
            addr: Ipv4Addr::new(10, 213, octet, 0),
            len: 24,
        }
    }

    /// Two prefixes overlap iff they agree on the shorter one's bits.
    pub fn overlaps(&self, other: &Prefix) -> bool {
        let m = Self::mask(self.len.min(other.len));
        u32::from(self.addr) & m == u32::from(other.addr) & m
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// A route or interface address of the root namespace, reduced to what subnet choice needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub prefix: Prefix,
    pub blackhole: bool,
    /// The original line, for error messages.
    pub line: String,
}

const ROUTE_TYPES: &[&str] = &[
    "unicast",
    "local",
    "broadcast",
    "multicast",
    "blackhole",
    "unreachable",
    "prohibit",
    "throw",
    "anycast",
    "nat",
];

/// Parses `ip -4 route show table all`.
pub fn parse_routes(text: &str) -> Vec<Route> {
    text.lines()
        .filter_map(|line| {
            let mut tokens = line.split_whitespace();
            let mut first = tokens.next()?;
            let mut kind = "unicast";
            if ROUTE_TYPES.contains(&first) {
                kind = first;
                first = tokens.next()?;
            }
            Some(Route {
                prefix: Prefix::parse(first)?,
                blackhole: kind == "blackhole",
                line: line.trim().to_string(),
            })
        })
        .collect()
}

/// Parses `ip -4 -o addr show`: each address's own subnet counts as in use.
pub fn parse_addrs(text: &str) -> Vec<Route> {
    text.lines()
        .filter_map(|line| {
            let mut tokens = line.split_whitespace();
            tokens.find(|t| *t == "inet")?;
            Some(Route {
                prefix: Prefix::parse(tokens.next()?)?,
                blackhole: false,
                line: line.split_whitespace().collect::<Vec<_>>().join(" "),
            })
        })
        .collect()
}

/// Whether an existing route rules out `candidate`. The default route overlaps everything
/// and our own supernet blackhole is expected; anything else overlapping (a VPN's 10.0.0.0/8,
/// another lab's /24, an address) means the space is in use.
fn blocks(route: &Route, candidate: &Prefix) -> bool {
    route.prefix.len > 0
        && !(route.blackhole && route.prefix == SUPERNET)
        && route.prefix.overlaps(candidate)
}

/// Picks the third octet of a free 10.213.X.0/24: not reserved by another lab's state and
/// overlapping no route or address of the root namespace. Pure, so it is unit-tested.
pub fn choose_subnet(existing: &[Route], reserved: &[u8]) -> Result<u8, String> {
    let mut first_conflict = None;
    for octet in 1..=253u8 {
        if reserved.contains(&octet) {
            continue;
        }
        let candidate = Prefix::lab(octet);
        match existing.iter().find(|r| blocks(r, &candidate)) {
            None => return Ok(octet),
            Some(r) => {
                first_conflict.get_or_insert_with(|| r.line.clone());
            }
        }
    }
    Err(match first_conflict {
        Some(line) => format!(
            "every /24 in {SUPERNET} is in use ({} by other labs; e.g. route `{line}`)",
            reserved.len()
        ),
        None => format!(
            "all {} /24s in {SUPERNET} belong to other labs",
            reserved.len()
        ),
    })
}

/// Reads the root namespace's routes (all tables) and addresses.
pub fn root_routes() -> Result<Vec<Route>, LabError> {
    let mut routes = parse_routes(&sys::ip(
        "read the routing tables",
        &["-4", "route", "show", "table", "all"],
    )?);
    routes.extend(parse_addrs(&sys::ip(
        "read interface addresses",
        &["-4", "-o", "addr", "show"],
    )?));
    Ok(routes)
}

/// Names of everything one lab creates in the kernel. Lab names are `[a-z0-9]{1,8}`, so
/// the root veth (`sdk-` + name) stays within the 15-character interface name limit.
#[derive(Debug, Clone)]
pub struct Names {
    pub lab: String,
}

impl Names {
    pub fn switch_netns(&self) -> String {
        format!("sdk-{}-sw", self.lab)
    }
    pub fn host_netns(&self, index: usize) -> String {
        format!("sdk-{}-n{index}", self.lab)
    }
    pub fn root_veth(&self) -> String {
        format!("sdk-{}", self.lab)
    }
    /// Whether `netns` is one of this lab's namespaces (exact pattern, so lab "a" never
    /// matches lab "ab").
    pub fn owns_netns(&self, netns: &str) -> bool {
        let Some(rest) = netns.strip_prefix(&format!("sdk-{}-", self.lab)) else {
            return false;
        };
        rest == "sw"
            || rest
                .strip_prefix('n')
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    }
}

/// `ip route replace blackhole 10.213.0.0/16`, for as long as any lab is up.
pub fn ensure_blackhole() -> Result<(), LabError> {
    sys::ip(
        "install the lab supernet blackhole route",
        &["route", "replace", "blackhole", &SUPERNET.to_string()],
    )
    .map(drop)
}

/// Whether the root namespace has the supernet blackhole.
pub fn blackhole_present() -> Result<bool, LabError> {
    let out = sys::ip(
        "read the lab supernet route",
        &[
            "-4",
            "route",
            "show",
            "exact",
            &SUPERNET.to_string(),
            "type",
            "blackhole",
        ],
    )?;
    Ok(!out.trim().is_empty())
}

/// Removes the supernet blackhole when `namespaces` (those of every lab on this machine,
/// from any state root) is empty: the last lab is gone. Call under [`MachineLock`], after
/// deleting a lab's namespaces.
pub fn drop_blackhole_if_last(namespaces: &[String]) -> Result<(), LabError> {
    if !namespaces.is_empty() || !blackhole_present()? {
        return Ok(());
    }
    sys::ip(
        "remove the lab supernet blackhole route (no lab is left)",
        &["route", "del", "blackhole", &SUPERNET.to_string()],
    )
    .map(drop)
}

/// Network namespaces of any lab on this machine (`sdk-<lab>-sw`, `sdk-<lab>-n<i>`),
/// whatever state root it was started from.
pub fn all_lab_namespaces() -> Vec<String> {
    sys::netns_list()
        .into_iter()
        .filter(|n| is_lab_netns(n))
        .collect()
}

fn is_lab_netns(netns: &str) -> bool {
    let Some((lab, _)) = netns
        .strip_prefix("sdk-")
        .and_then(|rest| rest.rsplit_once('-'))
    else {
        return false;
    };
    super::validate_name(lab).is_ok()
        && Names {
            lab: lab.to_string(),
        }
        .owns_netns(netns)
}

/// Serialises, across every lab and state root on this machine, the steps that decide
/// whether the supernet route is needed: installing it with a lab's first namespace, and
/// removing it with the last lab's.
pub struct MachineLock(std::fs::File);

/// In /run: one machine, one lock, gone at reboot with the namespaces it guards.
const MACHINE_LOCK: &str = "/run/swarmdeck-labs.lock";

impl MachineLock {
    pub fn take() -> Result<MachineLock, LabError> {
        let file = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(MACHINE_LOCK)
            .map_err(|e| LabError::io(format!("open {MACHINE_LOCK}"), e))?;
        file.lock()
            .map_err(|e| LabError::io(format!("lock {MACHINE_LOCK}"), e))?;
        Ok(MachineLock(file))
    }
}

impl Drop for MachineLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// Why swarmdeck will not connect to `ip`: an address of the labs' supernet that no lab on
/// this machine holds (no route more specific than the default goes there), so the
/// connection would leave the machine. None for every other address.
pub fn unheld_lab_address(ip: std::net::IpAddr) -> Option<String> {
    let std::net::IpAddr::V4(v4) = ip else {
        return None;
    };
    let host = Prefix { addr: v4, len: 32 };
    if !SUPERNET.overlaps(&host) {
        return None;
    }
    let table = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    (!held(&table, v4)).then(|| {
        format!(
            "{ip} is a practice-lab address ({SUPERNET}) but no lab on this machine holds it \
             (torn down?); swarmdeck does not send lab traffic off this machine. Start the lab \
             again (`swarmdeck lab up`) or fix the inventory"
        )
    })
}

/// Whether the most specific route for `ip` in /proc/net/route `table` is a real one, more
/// specific than the default route (a lab's /24 on its workstation veth, or a network the
/// user routes there on purpose).
fn held(table: &str, ip: Ipv4Addr) -> bool {
    let host = Prefix { addr: ip, len: 32 };
    parse_proc_routes(table)
        .into_iter()
        .filter(|r| r.prefix.overlaps(&host))
        .max_by_key(|r| r.prefix.len)
        .is_some_and(|r| r.prefix.len > 0 && !r.blackhole)
}

/// Parses /proc/net/route (the main table): addresses and masks are the raw network-order
/// bytes printed as a native u32; a blackhole route has no interface (`*`).
fn parse_proc_routes(text: &str) -> Vec<Route> {
    let hex = |s: &str| {
        u32::from_str_radix(s, 16)
            .ok()
            .map(|v| Ipv4Addr::from(v.to_ne_bytes()))
    };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (iface, dest, mask) = (f.first()?, hex(f.get(1)?)?, hex(f.get(7)?)?);
            Some(Route {
                prefix: Prefix {
                    addr: dest,
                    len: u32::from(mask).count_ones() as u8,
                },
                blackhole: *iface == "*",
                line: line.trim().to_string(),
            })
        })
        .collect()
}

/// Creates the switch namespace with its bridge and the workstation's veth into it.
pub fn create_switch(names: &Names, octet: u8) -> Result<(), LabError> {
    let sw = names.switch_netns();
    let veth = names.root_veth();
    let ws_addr = format!("10.213.{octet}.{WORKSTATION_OCTET}/24");
    let steps: &[(&str, Vec<&str>)] = &[
        ("create the switch namespace", vec!["netns", "add", &sw]),
        (
            "bring up lo in the switch",
            vec!["-n", &sw, "link", "set", "lo", "up"],
        ),
        (
            "create the switch bridge",
            vec!["-n", &sw, "link", "add", "br0", "type", "bridge"],
        ),
        (
            "bring up the switch bridge",
            vec!["-n", &sw, "link", "set", "br0", "up"],
        ),
        (
            "create the workstation veth",
            vec![
                "link", "add", &veth, "type", "veth", "peer", "name", "ws", "netns", &sw,
            ],
        ),
        (
            "plug the workstation veth into the switch",
            vec!["-n", &sw, "link", "set", "ws", "master", "br0", "up"],
        ),
        (
            "address the workstation veth",
            vec!["addr", "add", &ws_addr, "dev", &veth],
        ),
        (
            "bring up the workstation veth",
            vec!["link", "set", &veth, "up"],
        ),
    ];
    run_steps(steps)
}

/// Creates host `index`'s namespace, cabled to the switch as eth0 with address .index.
pub fn create_host(names: &Names, index: usize, octet: u8) -> Result<(), LabError> {
    let sw = names.switch_netns();
    let ns = names.host_netns(index);
    let port = format!("h{index}");
    let addr = format!("10.213.{octet}.{index}/24");
    let steps: &[(&str, Vec<&str>)] = &[
        ("create the host namespace", vec!["netns", "add", &ns]),
        (
            "bring up lo on the host",
            vec!["-n", &ns, "link", "set", "lo", "up"],
        ),
        (
            "cable the host to the switch",
            vec![
                "-n", &sw, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
                &ns,
            ],
        ),
        (
            "plug the host cable into the bridge",
            vec!["-n", &sw, "link", "set", &port, "master", "br0", "up"],
        ),
        (
            "address the host's eth0",
            vec!["-n", &ns, "addr", "add", &addr, "dev", "eth0"],
        ),
        (
            "bring up the host's eth0",
            vec!["-n", &ns, "link", "set", "eth0", "up"],
        ),
        // Tools expect a default route (`swarm init` picks its advertise address from it).
        // On-link via eth0 goes nowhere: no gateway answers, so nothing leaves the lab.
        (
            "give the host a default route",
            vec!["-n", &ns, "route", "add", "default", "dev", "eth0"],
        ),
    ];
    run_steps(steps)
}

fn run_steps(steps: &[(&str, Vec<&str>)]) -> Result<(), LabError> {
    for (what, args) in steps {
        sys::ip(what, args)?;
    }
    Ok(())
}

/// Deletes the root veth (if still there) and every namespace of the lab. Call only after
/// their processes are gone.
pub fn delete_all(names: &Names) -> Result<(), LabError> {
    let veth = names.root_veth();
    if std::path::Path::new("/sys/class/net").join(&veth).exists() {
        sys::ip("delete the workstation veth", &["link", "del", &veth])?;
    }
    for ns in sys::netns_list()
        .into_iter()
        .filter(|n| names.owns_netns(n))
    {
        sys::ip("delete a lab namespace", &["netns", "del", &ns])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_addresses_are_held_only_by_a_labs_own_route() {
        // The default route, the supernet blackhole, and lab 10.213.5.0/24 on its veth.
        let table = "\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
*\t0000D50A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
sdk-t1\t0005D50A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
";
        if cfg!(target_endian = "little") {
            assert!(held(table, Ipv4Addr::new(10, 213, 5, 1)));
            // Another lab's /24 that is gone: the blackhole, or only the default route.
            assert!(!held(table, Ipv4Addr::new(10, 213, 6, 1)));
            let no_blackhole: String = table
                .lines()
                .filter(|l| !l.starts_with('*'))
                .collect::<Vec<_>>()
                .join("\n");
            assert!(!held(&no_blackhole, Ipv4Addr::new(10, 213, 6, 1)));
        }
        assert!(!held("", Ipv4Addr::new(10, 213, 6, 1)));
        // Addresses outside the supernet are never refused.
        assert!(unheld_lab_address("192.0.2.9".parse().unwrap()).is_none());
        assert!(unheld_lab_address("::1".parse().unwrap()).is_none());
    }

    #[test]
    fn lab_namespaces_of_any_lab_are_recognised() {
        for ns in ["sdk-t1abc-sw", "sdk-practice-n1", "sdk-a-n12"] {
            assert!(is_lab_netns(ns), "{ns}");
        }
        for ns in [
            "sdk-",
            "sdk-Upper-n1",
            "sdk-a-x1",
            "other-a-n1",
            "sdk-a-n",
            "sdk-a-b-n1",
        ] {
            assert!(!is_lab_netns(ns), "{ns}");
        }
    }

    const ROUTES: &str = "\
default via 192.0.2.1 dev eth0
192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.2
blackhole 10.213.0.0/16
10.213.1.0/24 dev sdk-a proto kernel scope link src 10.213.1.254
local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1
local 10.213.1.254 dev sdk-a table local proto kernel scope host src 10.213.1.254
broadcast 127.255.255.255 dev lo table local proto kernel scope link src 127.0.0.1
";

    #[test]
    fn parses_route_kinds() {
        let r = parse_routes(ROUTES);
        assert_eq!(r[0].prefix, Prefix::parse("0.0.0.0/0").unwrap());
        assert!(r[2].blackhole && r[2].prefix == SUPERNET);
        assert_eq!(r[5].prefix, Prefix::parse("10.213.1.254/32").unwrap());
        assert_eq!(r.len(), 7);
    }

    #[test]
    fn parses_addresses() {
        let a = parse_addrs(
            "4: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\\       valid_lft forever",
        );
        assert_eq!(a[0].prefix, Prefix::parse("192.0.2.2/24").unwrap());
    }

    #[test]
    fn skips_used_and_reserved_subnets() {
        let r = parse_routes(ROUTES);
        // .1 has a route; .2 is reserved by a starting lab.
        assert_eq!(choose_subnet(&r, &[2]), Ok(3));
        assert_eq!(choose_subnet(&[], &[]), Ok(1));
    }

    #[test]
    fn a_broader_route_blocks_and_is_named() {
        let r = parse_routes("10.0.0.0/8 via 192.0.2.9 dev tun0\n");
        let err = choose_subnet(&r, &[]).unwrap_err();
        assert!(err.contains("10.0.0.0/8 via 192.0.2.9"), "{err}");
        // A foreign (non-blackhole) route on the whole supernet blocks everything too.
        let r = parse_routes("10.213.0.0/16 dev tun0\n");
        assert!(choose_subnet(&r, &[]).is_err());
    }

    #[test]
    fn full_supernet() {
        let reserved: Vec<u8> = (1..=253).collect();
        assert!(
            choose_subnet(&[], &reserved)
                .unwrap_err()
                .contains("other labs")
        );
    }

    #[test]
    fn overlap() {
        let p = |s| Prefix::parse(s).unwrap();
        assert!(p("10.213.5.0/24").overlaps(&p("10.213.5.7")));
        assert!(!p("10.213.5.0/24").overlaps(&p("10.213.6.0/24")));
        assert!(p("10.0.0.0/8").overlaps(&p("10.213.6.0/24")));
    }

    #[test]
    fn netns_ownership_is_exact() {
        let a = Names { lab: "a".into() };
        assert!(a.owns_netns("sdk-a-sw"));
        assert!(a.owns_netns("sdk-a-n12"));
        assert!(!a.owns_netns("sdk-ab-n1"));
        assert!(!a.owns_netns("sdk-a-n"));
        assert!(!a.owns_netns("sdk-a-x1"));
    }
}
