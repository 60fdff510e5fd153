//! Swarm certificates: every node's TLS certificate and its root CA, read from the node's
//! own certificate directory over SSH ([`read`]), findings with their fix ([`findings`],
//! pure), the node certificate lifetime and CA rotation as planned, confirmed and audited
//! steps ([`change`]), and a rotation followed until every node holds a certificate from
//! the new CA ([`rotation`]).
//!
//! Swarm writes a node's identity into its certificate's subject: the node ID in CN, its
//! role in OU (`swarm-manager`/`swarm-worker`), the cluster ID in O. A certificate is mapped
//! to its node by that subject, never by what the host calls itself. Everything read from a
//! host (file contents, the engine's words) is data: parsed, compared, shown inert.

pub mod change;
pub mod findings;
pub mod read;
pub mod rotation;
pub mod table;

use serde::Serialize;
use x509_parser::prelude::{FromDer, ParsedExtension, X509Certificate};

pub use change::{CertChange, CertStep};
pub use findings::findings;
pub use read::{CertReport, read};

/// The file swarm keeps a node's certificate in (the node's, then its chain), under the
/// engine's data root.
pub const NODE_CERT: &str = "swarm/certificates/swarm-node.crt";
/// The root CA certificate(s) the node trusts.
pub const ROOT_CA: &str = "swarm/certificates/swarm-root-ca.crt";
/// Largest certificate file read (a node's file holds its certificate and at most an
/// intermediate or two: a few KiB).
pub const MAX_CERT_FILE: u64 = 64 << 10;

/// Swarm's shortest node certificate lifetime (swarmkit's `MinNodeCertExpiration`).
pub const MIN_EXPIRY_SECS: u64 = 3600;
/// Swarm's default node certificate lifetime: 90 days.
pub const DEFAULT_EXPIRY_SECS: u64 = 90 * 24 * 3600;

/// What one certificate says, as far as swarm and its operators care.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    /// CN: the node ID for a node certificate, `swarm-ca` for swarm's own root.
    pub common_name: String,
    /// OU: `swarm-manager` or `swarm-worker` for a node certificate.
    pub unit: String,
    /// O: the cluster ID for a node certificate.
    pub organization: String,
    /// The issuer as a distinguished name (`CN=swarm-ca`).
    pub issuer: String,
    /// Seconds since the epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// The issuing key's identifier (authority key identifier), hex; for a CA its own key
    /// identifier. Tells one swarm CA from the next even though both are `CN=swarm-ca`.
    pub issuer_key_id: Option<String>,
    /// This certificate's own key identifier, hex (CAs carry one).
    pub key_id: Option<String>,
}

impl CertInfo {
    /// Seconds the certificate is valid for in all.
    pub fn lifetime(&self) -> i64 {
        self.not_after - self.not_before
    }

    /// The role swarm wrote into OU.
    pub fn role(&self) -> Option<crate::snapshot::Role> {
        match self.unit.as_str() {
            "swarm-manager" => Some(crate::snapshot::Role::Manager),
            "swarm-worker" => Some(crate::snapshot::Role::Worker),
            _ => None,
        }
    }
}

/// Why a certificate could not be understood or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("{what}: no PEM certificate in it")]
    NoCertificate { what: String },
    #[error("{what}: not a valid certificate: {reason}")]
    Invalid { what: String, reason: String },
    #[error(
        "the swarm's settings were changed by someone else since the plan (version {planned}, \
         now {now}): plan again"
    )]
    Stale { planned: u64, now: u64 },
    #[error(
        "invalid certificate lifetime {text:?}: a duration such as 48h, 2160h or 90m, at least \
         1h (swarm's minimum)"
    )]
    InvalidExpiry { text: String },
    #[error(
        "the CA rotation did not finish within {after}: not yet on the new CA: {lagging}. The \
         rotation goes on; bring those nodes back (or remove the ones gone for good with \
         `swarmdeck node rm NODE`) and follow it with `swarmdeck cert ls`"
    )]
    NotFollowed { lagging: String, after: String },
}

/// The first certificate of a PEM file (a node's own, before its chain).
pub fn parse_first(pem: &[u8], what: &str) -> Result<CertInfo, CertError> {
    let block = x509_parser::pem::Pem::iter_from_buffer(pem)
        .next()
        .ok_or_else(|| CertError::NoCertificate { what: what.into() })?
        .map_err(|e| CertError::Invalid {
            what: what.into(),
            reason: e.to_string(),
        })?;
    parse_der(&block.contents, what)
}

/// One DER certificate.
pub fn parse_der(der: &[u8], what: &str) -> Result<CertInfo, CertError> {
    let invalid = |reason: String| CertError::Invalid {
        what: what.into(),
        reason,
    };
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| invalid(e.to_string()))?;
    Ok(info(&cert))
}

fn info(cert: &X509Certificate<'_>) -> CertInfo {
    fn first<'a>(
        mut it: impl Iterator<Item = &'a x509_parser::x509::AttributeTypeAndValue<'a>>,
    ) -> String {
        it.next()
            .and_then(|a| a.as_str().ok())
            .unwrap_or_default()
            .to_string()
    }
    let subject = cert.subject();
    let mut issuer_key_id = None;
    let mut key_id = None;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                issuer_key_id = aki.key_identifier.as_ref().map(|k| hex(k.0));
            }
            ParsedExtension::SubjectKeyIdentifier(k) => key_id = Some(hex(k.0)),
            _ => {}
        }
    }
    // A self-signed root names no authority key: it is its own issuer.
    if issuer_key_id.is_none() && cert.subject() == cert.issuer() {
        issuer_key_id.clone_from(&key_id);
    }
    CertInfo {
        common_name: first(subject.iter_common_name()),
        unit: first(subject.iter_organizational_unit()),
        organization: first(subject.iter_organization()),
        issuer: cert.issuer().to_string(),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        issuer_key_id,
        key_id,
    }
}

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

/// A CA key identifier cut to what a person compares by eye.
pub fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// A duration as `docker swarm update --cert-expiry` prints and takes it (`48h0m0s`).
pub fn go_duration(secs: u64) -> String {
    format!("{}h{}m{}s", secs / 3600, secs / 60 % 60, secs % 60)
}

/// A lifetime typed by a user (`48h`, `2160h`, `90m`, `1h30m`), at least swarm's minimum.
pub fn parse_expiry(text: &str) -> Result<u64, CertError> {
    let bad = || CertError::InvalidExpiry { text: text.into() };
    let nanos = crate::stack::units::duration_nanos(text).map_err(|_| bad())?;
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| bad())?;
    if secs < MIN_EXPIRY_SECS || nanos % 1_000_000_000 != 0 {
        return Err(bad());
    }
    Ok(secs)
}

/// Days (and for short lifetimes hours) for people: `89d`, `47h`, `-3d` for the past.
pub fn human_left(secs: i64) -> String {
    let sign = if secs < 0 { "-" } else { "" };
    let a = secs.unsigned_abs();
    match a {
        _ if a >= 2 * 86400 => format!("{sign}{}d", a / 86400),
        _ if a >= 3600 => format!("{sign}{}h", a / 3600),
        _ => format!("{sign}{}m", a / 60),
    }
}

/// A UTC time as `2026-12-03 04:10:00Z`.
pub fn utc(secs: i64) -> String {
    match x509_parser::time::ASN1Time::from_timestamp(secs) {
        Ok(t) => {
            let d = t.to_datetime();
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
                d.year(),
                u8::from(d.month()),
                d.day(),
                d.hour(),
                d.minute(),
                d.second()
            )
        }
        Err(_) => secs.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A worker certificate shaped as swarm issues it (node ID in CN, role in OU, cluster
    /// in O, valid 48 h), then its root CA, as a node's `swarm-node.crt` and
    /// `swarm-root-ca.crt` hold them (made with openssl, P-256).
    pub const NODE_PEM: &str = include_str!("testdata/node.crt");
    pub const CA_PEM: &str = include_str!("testdata/ca.crt");

    #[test]
    fn a_node_certificate_names_its_node_role_and_cluster() {
        let c = parse_first(NODE_PEM.as_bytes(), "swarm-node.crt").unwrap();
        assert_eq!(c.common_name, "q5k2mv8x3nyl0jw7t1rfh9cd4");
        assert_eq!(c.unit, "swarm-worker");
        assert_eq!(c.role(), Some(crate::snapshot::Role::Worker));
        assert_eq!(c.organization, "7w4pa1bz0kq8sx2dy5mf3ne6u");
        assert_eq!(c.issuer, "CN=swarm-ca");
        assert_eq!(c.lifetime(), 48 * 3600);
        let ca = parse_first(CA_PEM.as_bytes(), "swarm-root-ca.crt").unwrap();
        assert_eq!(ca.common_name, "swarm-ca");
        assert!(ca.key_id.is_some());
        assert_eq!(c.issuer_key_id, ca.key_id, "the node's issuer is this CA");
        assert_eq!(ca.issuer_key_id, ca.key_id, "a root issues itself");
    }

    #[test]
    fn what_is_not_a_certificate_is_said_so() {
        assert!(matches!(
            parse_first(b"hello", "f"),
            Err(CertError::NoCertificate { .. })
        ));
        let broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            parse_first(broken.as_bytes(), "f"),
            Err(CertError::Invalid { .. })
        ));
    }

    proptest::proptest! {
        #![proptest_config(crate::prop_config(300))]

        /// Any bytes a host sends, raw or wrapped as PEM, parse or are refused: no panic.
        #[test]
        fn any_file_parses_or_is_refused(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600),
            cut in 0usize..900,
        ) {
            let _ = parse_first(&bytes, "f");
            let body = data_encoding::BASE64.encode(&bytes);
            let pem = format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n");
            let _ = parse_first(pem.as_bytes(), "f");
            // A real certificate cut anywhere.
            let _ = parse_first(&NODE_PEM.as_bytes()[..cut.min(NODE_PEM.len())], "f");
        }

        #[test]
        fn any_typed_lifetime_parses_or_is_refused(text in "\\PC{0,16}") {
            if let Ok(secs) = parse_expiry(&text) {
                proptest::prop_assert!(secs >= MIN_EXPIRY_SECS);
            }
        }

        #[test]
        fn any_engine_error_is_judged_without_panic(text in "\\PC{0,80}") {
            let _ = findings::certificate_rejected(&text);
        }
    }

    #[test]
    fn lifetimes_are_read_as_docker_reads_them() {
        assert_eq!(parse_expiry("48h").unwrap(), 48 * 3600);
        assert_eq!(parse_expiry("1h30m").unwrap(), 5400);
        assert_eq!(parse_expiry("2160h").unwrap(), DEFAULT_EXPIRY_SECS);
        for bad in ["30m", "0", "", "48", "1h0.5s", "-1h", "1d"] {
            assert!(parse_expiry(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(go_duration(48 * 3600), "48h0m0s");
        assert_eq!(go_duration(5430), "1h30m30s");
        assert_eq!(human_left(89 * 86400 + 5), "89d");
        assert_eq!(human_left(47 * 3600), "47h");
        assert_eq!(human_left(-3 * 86400), "-3d");
        assert_eq!(utc(0), "1970-01-01 00:00:00Z");
    }
}
