//! The value formats of Compose files as docker reads them (pure): Go durations, memory
//! sizes, CPU counts, published ports and volume short syntax.

/// A Go duration (`1h2m3.5s`, `300ms`, `0`) in nanoseconds.
pub fn duration_nanos(text: &str) -> Result<i64, String> {
    let bad = || format!("{text:?} is not a duration (like 10s, 1m30s, 500ms)");
    let s = text.trim();
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(bad());
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let n: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += n * scale;
        rest = &rest[unit_len..];
    }
    if total > i64::MAX as f64 {
        return Err(bad());
    }
    Ok(total.round() as i64)
}

/// A memory size as docker reads it (`512m`, `1GiB`, `1.5g`, `1024`): binary multiples.
pub fn memory_bytes(text: &str) -> Result<i64, String> {
    let bad = || format!("{text:?} is not a size (like 512M or 1G)");
    let s = text.trim();
    let num_len = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let n: f64 = s[..num_len].parse().map_err(|_| bad())?;
    let unit = s[num_len..].trim_start().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let power = match unit {
        "" => 0,
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        _ => return Err(bad()),
    };
    Ok((n * 1024f64.powi(power)) as i64)
}

/// CPUs (`0.5`, `2`) as nano-CPUs, exactly (no binary rounding).
pub fn nano_cpus(text: &str) -> Result<i64, String> {
    let bad = || format!("{text:?} is not a CPU count (like 0.5 or 2)");
    let s = text.trim();
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 9
        || !int.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || (int.is_empty() && frac.is_empty())
    {
        return Err(bad());
    }
    let whole: i64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let frac: i64 = format!("{frac:0<9}").parse().map_err(|_| bad())?;
    whole
        .checked_mul(1_000_000_000)
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(bad)
}

/// One published port of the short syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    pub target: u16,
    /// 0: the engine picks one.
    pub published: u16,
    pub protocol: String,
}

/// `80`, `8080:80`, `8000-8001:80-81`, `53:53/udp`. A host IP is refused: swarm's
/// published ports bind every address.
pub fn short_ports(text: &str) -> Result<Vec<PortSpec>, String> {
    let bad = |why: &str| format!("port {text:?}: {why}");
    let (ports, protocol) = match text.split_once('/') {
        Some((p, proto)) => (p, proto.to_string()),
        None => (text, "tcp".to_string()),
    };
    if !["tcp", "udp", "sctp"].contains(&protocol.as_str()) {
        return Err(bad("the protocol is tcp, udp or sctp"));
    }
    let parts: Vec<&str> = ports.split(':').collect();
    let (published, target) = match parts.as_slice() {
        [t] => (None, *t),
        [p, t] => (Some(*p), *t),
        _ => {
            return Err(bad(
                "a host IP cannot be set for swarm services (they publish on every address)",
            ));
        }
    };
    let range = |s: &str| -> Result<(u16, u16), String> {
        let (a, b) = s.split_once('-').unwrap_or((s, s));
        let a: u16 = a.trim().parse().map_err(|_| bad("not a port number"))?;
        let b: u16 = b.trim().parse().map_err(|_| bad("not a port number"))?;
        if b < a {
            return Err(bad("a range goes from low to high"));
        }
        Ok((a, b))
    };
    let (t0, t1) = range(target)?;
    let published = published.map(range).transpose()?;
    if let Some((p0, p1)) = published
        && p1 - p0 != t1 - t0
    {
        return Err(bad("the published and target ranges differ in size"));
    }
    Ok((0..=(t1 - t0))
        .map(|i| PortSpec {
            target: t0 + i,
            published: published.map(|(p0, _)| p0 + i).unwrap_or(0),
            protocol: protocol.clone(),
        })
        .collect())
}

/// A service volume of the short syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec {
    /// `bind` or `volume`.
    pub kind: &'static str,
    pub source: Option<String>,
    pub target: String,
    pub read_only: bool,
    pub nocopy: bool,
}

/// `/data` (anonymous), `name:/data[:ro]`, `/host:/data[:rw]`, `./rel:/data`.
pub fn short_volume(text: &str) -> Result<VolumeSpec, String> {
    let bad = |why: &str| format!("volume {text:?}: {why}");
    let parts: Vec<&str> = text.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [t] => (None, *t, None),
        [s, t] => (Some(*s), *t, None),
        [s, t, m] => (Some(*s), *t, Some(*m)),
        _ => return Err(bad("write source:target[:mode]")),
    };
    if target.is_empty() {
        return Err(bad("the target path is empty"));
    }
    let (mut read_only, mut nocopy) = (false, false);
    for m in mode.iter().flat_map(|m| m.split(',')) {
        match m {
            "ro" => read_only = true,
            "rw" => read_only = false,
            "nocopy" => nocopy = true,
            other => {
                return Err(bad(&format!(
                    "mode {other:?} is not supported (ro, rw, nocopy)"
                )));
            }
        }
    }
    let bind = source.is_some_and(|s| s.starts_with('/') || s.starts_with('.'));
    Ok(VolumeSpec {
        kind: if bind { "bind" } else { "volume" },
        source: source.map(str::to_string),
        target: target.to_string(),
        read_only,
        nocopy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_go_reads_them() {
        for (s, n) in [
            ("10s", 10_000_000_000),
            ("1m30s", 90_000_000_000),
            ("1h", 3_600_000_000_000),
            ("500ms", 500_000_000),
            ("1.5s", 1_500_000_000),
            ("0", 0),
            ("2us", 2_000),
        ] {
            assert_eq!(duration_nanos(s), Ok(n), "{s}");
        }
        for bad in ["", "10", "s", "1x", "1.2.3s", "-1s"] {
            assert!(duration_nanos(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_and_cpus() {
        assert_eq!(memory_bytes("512M"), Ok(512 << 20));
        assert_eq!(memory_bytes("1g"), Ok(1 << 30));
        assert_eq!(memory_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(memory_bytes("64mb"), Ok(64 << 20));
        assert_eq!(memory_bytes("1024"), Ok(1024));
        assert!(memory_bytes("lots").is_err());
        assert_eq!(nano_cpus("0.5"), Ok(500_000_000));
        assert_eq!(nano_cpus("2"), Ok(2_000_000_000));
        assert_eq!(nano_cpus(".25"), Ok(250_000_000));
        assert!(nano_cpus("0.0000000001").is_err());
        assert!(nano_cpus("x").is_err());
    }

    #[test]
    fn port_short_syntax() {
        let p = |t, pb, pr: &str| PortSpec {
            target: t,
            published: pb,
            protocol: pr.into(),
        };
        assert_eq!(short_ports("80"), Ok(vec![p(80, 0, "tcp")]));
        assert_eq!(short_ports("8080:80"), Ok(vec![p(80, 8080, "tcp")]));
        assert_eq!(short_ports("53:53/udp"), Ok(vec![p(53, 53, "udp")]));
        assert_eq!(
            short_ports("9000-9001:90-91"),
            Ok(vec![p(90, 9000, "tcp"), p(91, 9001, "tcp")])
        );
        for bad in ["1.2.3.4:80:80", "80/icmp", "x", "9000-9002:90-91", "90-80"] {
            assert!(short_ports(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn volume_short_syntax() {
        let v = short_volume("data:/srv:ro").unwrap();
        assert_eq!(
            (v.kind, v.source.as_deref(), v.read_only),
            ("volume", Some("data"), true)
        );
        let b = short_volume("/etc/hosts:/h").unwrap();
        assert_eq!(b.kind, "bind");
        let a = short_volume("/cache").unwrap();
        assert_eq!((a.kind, a.source), ("volume", None));
        assert!(short_volume("a:/b:z").is_err());
        assert!(short_volume("a:b:c:d").is_err());
    }
}
