//! Unwrapping an autolocked manager's node key on the workstation, so a restored manager
//! starts unlocked.
//!
//! With autolock, swarmkit keeps a manager's TLS key (`certificates/swarm-node.key`) as
//! PKCS#8 PBES2 sealed with the KEK, and the Raft data key (DEK) in the PEM header
//! `raft-dek` as a `MaybeEncryptedRecord` protobuf sealed with NaCl secretbox under the same
//! KEK. The unlock key is `SWMKEY-1-` + base64 (no padding) of the KEK. Docker Engine can
//! only unlock a manager that reaches its swarm's leader, which a restored lone manager
//! never does; so the key file is rewritten here as an unlocked manager's (plain PKCS#8,
//! DEK record `NotEncrypted`). Once the restored manager runs, it reads the swarm's
//! autolock setting and KEK from its Raft store and seals its key file again.
//!
//! Pure functions: nothing here touches a disk or logs. Key material lives in
//! [`Zeroizing`] buffers and errors never carry it.

use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::{Nonce, XSalsa20Poly1305};
use data_encoding::{BASE64, BASE64_NOPAD};
use zeroize::Zeroizing;

const UNLOCK_KEY_PREFIX: &str = "SWMKEY-1-";
const ENCRYPTED_LABEL: &str = "ENCRYPTED PRIVATE KEY";
const PLAIN_LABEL: &str = "PRIVATE KEY";
/// swarmkit's DEK headers (manager/deks.go) and the KEK version (ca/keyreadwriter.go).
const DEK_HEADERS: [&str; 2] = ["raft-dek", "raft-dek-pending"];
const KEK_VERSION_HEADER: &str = "kek-version";
/// `MaybeEncryptedRecord.Algorithm` NACLSecretboxSalsa20Poly1305 (api/raft.proto).
const ALGO_SECRETBOX: u64 = 1;

/// Why a node key could not be unwrapped. Never holds key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnlockError {
    #[error("not a swarm unlock key (it starts with SWMKEY-1- and holds 32 bytes)")]
    NotAnUnlockKey,
    #[error("the node key is not a PEM block swarmkit writes ({0})")]
    Malformed(&'static str),
    #[error("the node key is not encrypted: the swarm was not locked when it was archived")]
    NotEncrypted,
    #[error(
        "the unlock key does not open the node key ({0}): it belongs to another swarm or an older key"
    )]
    WrongKey(&'static str),
}

/// The 32-byte KEK an unlock key stands for.
pub fn kek_from_unlock_key(unlock_key: &str) -> Result<Zeroizing<Vec<u8>>, UnlockError> {
    let b64 = unlock_key
        .trim()
        .strip_prefix(UNLOCK_KEY_PREFIX)
        .ok_or(UnlockError::NotAnUnlockKey)?;
    let kek = Zeroizing::new(
        BASE64_NOPAD
            .decode(b64.as_bytes())
            .map_err(|_| UnlockError::NotAnUnlockKey)?,
    );
    if kek.len() != 32 {
        return Err(UnlockError::NotAnUnlockKey);
    }
    Ok(kek)
}

/// A PEM block with RFC 1421-style headers, as Go's `encoding/pem` writes them.
struct Pem<'a> {
    label: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    der: Zeroizing<Vec<u8>>,
}

fn parse_pem(text: &str) -> Result<Pem<'_>, UnlockError> {
    let mut lines = text.lines().map(str::trim_end).skip_while(|l| l.is_empty());
    let label = lines
        .next()
        .and_then(|l| l.strip_prefix("-----BEGIN "))
        .and_then(|l| l.strip_suffix("-----"))
        .ok_or(UnlockError::Malformed("no BEGIN line"))?;
    let mut headers = Vec::new();
    let mut body = Zeroizing::new(String::new());
    let mut in_body = false;
    for line in lines.by_ref() {
        if line.starts_with("-----END ") {
            if line != format!("-----END {label}-----") {
                return Err(UnlockError::Malformed("END line does not match"));
            }
            let der = BASE64
                .decode(body.as_bytes())
                .map_err(|_| UnlockError::Malformed("body is not base64"))?;
            return Ok(Pem {
                label,
                headers,
                der: Zeroizing::new(der),
            });
        }
        match line.split_once(": ") {
            Some((k, v)) if !in_body => headers.push((k, v)),
            _ if line.is_empty() => in_body = true,
            _ => {
                in_body = true;
                body.push_str(line);
            }
        }
    }
    Err(UnlockError::Malformed("no END line"))
}

fn encode_pem(p: &Pem<'_>, headers: &[(&str, &str)]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(format!("-----BEGIN {}-----\n", p.label));
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\n"));
    }
    if !headers.is_empty() {
        out.push('\n');
    }
    let b64 = Zeroizing::new(BASE64.encode(&p.der));
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {}-----\n", p.label));
    out
}

/// A protobuf varint at `buf[*at..]`.
fn varint(buf: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*at)?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// `MaybeEncryptedRecord { algorithm = 1; data = 2; nonce = 3 }` (api/raft.proto).
#[derive(Debug, Default, PartialEq, Eq)]
struct Record {
    algorithm: u64,
    data: Zeroizing<Vec<u8>>,
    nonce: Vec<u8>,
}

fn decode_record(buf: &[u8]) -> Option<Record> {
    let mut r = Record::default();
    let mut at = 0;
    while at < buf.len() {
        let tag = varint(buf, &mut at)?;
        match (tag >> 3, tag & 7) {
            (1, 0) => r.algorithm = varint(buf, &mut at)?,
            (field @ (2 | 3), 2) => {
                let len = usize::try_from(varint(buf, &mut at)?).ok()?;
                let bytes = buf.get(at..at.checked_add(len)?)?.to_vec();
                at += len;
                if field == 2 {
                    r.data = Zeroizing::new(bytes);
                } else {
                    r.nonce = bytes;
                }
            }
            _ => return None,
        }
    }
    Some(r)
}

/// An unencrypted record of `data`, as proto3 encodes it (algorithm 0 is left out).
fn encode_plain_record(data: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(vec![0x12]);
    let mut len = data.len();
    while len >= 0x80 {
        out.push((len as u8 & 0x7f) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    out.extend_from_slice(data);
    out
}

/// A sealed DEK header value opened with the KEK, re-encoded as an unencrypted record.
fn unwrap_dek(value: &str, kek: &[u8]) -> Result<Zeroizing<String>, UnlockError> {
    let raw = Zeroizing::new(
        BASE64
            .decode(value.as_bytes())
            .map_err(|_| UnlockError::Malformed("DEK header is not base64"))?,
    );
    let rec = decode_record(&raw).ok_or(UnlockError::Malformed("DEK header is no record"))?;
    if rec.algorithm != ALGO_SECRETBOX || rec.nonce.len() != 24 {
        return Err(UnlockError::Malformed("DEK header is not a NaCl secretbox"));
    }
    let cipher = XSalsa20Poly1305::new_from_slice(kek).map_err(|_| UnlockError::NotAnUnlockKey)?;
    let dek = Zeroizing::new(
        cipher
            .decrypt(Nonce::from_slice(&rec.nonce), rec.data.as_slice())
            .map_err(|_| UnlockError::WrongKey("Raft data key"))?,
    );
    Ok(Zeroizing::new(BASE64.encode(&encode_plain_record(&dek))))
}

/// The node key file `pem_text` (an autolocked manager's `swarm-node.key`) as an unlocked
/// manager's: the private key decrypted, its DEK headers opened, `kek-version` 0.
///
/// `kek-version` is set to 0 so that any KEK version the swarm's Raft store holds is newer
/// (swarmkit's `compareKEKs` refuses a KEK of the same version with another value), and
/// the manager seals the file with it as soon as it runs.
pub fn unwrap_node_key(pem_text: &str, kek: &[u8]) -> Result<Zeroizing<String>, UnlockError> {
    let pem = parse_pem(pem_text)?;
    if pem.label == PLAIN_LABEL {
        return Err(UnlockError::NotEncrypted);
    }
    if pem.label != ENCRYPTED_LABEL {
        return Err(UnlockError::Malformed("not a private key"));
    }
    let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(pem.der.as_slice())
        .map_err(|_| UnlockError::Malformed("not PKCS#8 EncryptedPrivateKeyInfo"))?;
    let plain = info
        .decrypt(kek)
        .map_err(|_| UnlockError::WrongKey("private key"))?;
    let mut opened = Vec::new();
    for (k, v) in &pem.headers {
        if DEK_HEADERS.contains(k) {
            opened.push((*k, unwrap_dek(v, kek)?));
        }
    }
    let headers: Vec<(&str, &str)> = pem
        .headers
        .iter()
        .map(|&(k, v)| match opened.iter().find(|(o, _)| *o == k) {
            Some((_, dek)) => (k, dek.as_str()),
            None if k == KEK_VERSION_HEADER => (k, "0"),
            None => (k, v),
        })
        .collect();
    let out = Pem {
        label: PLAIN_LABEL,
        headers: Vec::new(),
        der: Zeroizing::new(plain.as_bytes().to_vec()),
    };
    Ok(encode_pem(&out, &headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    // A throwaway lab swarm (`docker swarm init --autolock` on Docker Engine 20.10), then
    // `docker swarm update --autolock=false`, which rewrote the same key file unlocked.
    // These keys guard nothing.
    const LOCKED: &str = include_str!("testdata/locked-swarm-node.key");
    const UNLOCKED: &str = include_str!("testdata/unlocked-swarm-node.key");
    const CERT: &str = include_str!("testdata/swarm-node.crt");
    const UNLOCK_KEY: &str = include_str!("testdata/unlock-key.txt");

    fn header<'a>(p: &'a Pem<'_>, name: &str) -> &'a str {
        p.headers.iter().find(|(k, _)| *k == name).unwrap().1
    }

    #[test]
    fn the_unlock_key_is_unpadded_base64_of_32_bytes() {
        assert_eq!(kek_from_unlock_key(UNLOCK_KEY).unwrap().len(), 32);
        let e = kek_from_unlock_key("SWMTKN-1-abc").unwrap_err();
        assert_eq!(e, UnlockError::NotAnUnlockKey);
        let short = format!("{UNLOCK_KEY_PREFIX}{}", BASE64_NOPAD.encode(&[1; 16]));
        assert!(kek_from_unlock_key(&short).is_err());
        let padded = format!("{UNLOCK_KEY_PREFIX}{}", BASE64.encode(&[1; 32]));
        assert!(kek_from_unlock_key(&padded).is_err());
    }

    #[test]
    fn a_locked_key_unwraps_to_what_the_engine_writes_unlocked() {
        let kek = kek_from_unlock_key(UNLOCK_KEY).unwrap();
        let out = unwrap_node_key(LOCKED, &kek).unwrap();
        let mine = parse_pem(&out).unwrap();
        let engine = parse_pem(UNLOCKED).unwrap();
        assert_eq!(mine.label, "PRIVATE KEY");
        // The same private key and the same DEK record as the engine's own unlocked file.
        assert_eq!(mine.der, engine.der);
        assert_eq!(header(&mine, "raft-dek"), header(&engine, "raft-dek"));
        assert_eq!(header(&mine, "kek-version"), "0");
        let names: Vec<&str> = mine.headers.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, ["kek-version", "raft-dek"]);
        let rec =
            decode_record(&BASE64.decode(header(&mine, "raft-dek").as_bytes()).unwrap()).unwrap();
        assert_eq!((rec.algorithm, rec.data.len()), (0, 32));
        assert!(rec.nonce.is_empty());
        pkcs8::PrivateKeyInfoRef::try_from(mine.der.as_slice()).expect("plain PKCS#8");
        // Go writes the EC public key into the PKCS#8: it is the certificate's.
        let cert = parse_pem(CERT).unwrap();
        let (_, x509) = x509_parser::parse_x509_certificate(&cert.der).unwrap();
        let public = x509.public_key().subject_public_key.data.to_vec();
        assert_eq!(public.len(), 65);
        assert!(mine.der.windows(public.len()).any(|w| w == public));
        // Written as Go's encoding/pem reads it.
        assert!(out.starts_with("-----BEGIN PRIVATE KEY-----\nkek-version: 0\nraft-dek: "));
        assert!(
            out.lines()
                .all(|l| l.len() <= 64 || l.starts_with("raft-dek"))
        );
    }

    #[test]
    fn another_key_or_an_unlocked_file_is_refused_without_key_material() {
        let other = [7u8; 32];
        let e = unwrap_node_key(LOCKED, &other).unwrap_err();
        assert_eq!(e, UnlockError::WrongKey("private key"));
        let kek = kek_from_unlock_key(UNLOCK_KEY).unwrap();
        assert_eq!(
            unwrap_node_key(UNLOCKED, &kek).unwrap_err(),
            UnlockError::NotEncrypted
        );
        // The private key opens but the DEK header was sealed with another key.
        let foreign = XSalsa20Poly1305::new_from_slice(&other).unwrap();
        let sealed = foreign
            .encrypt(Nonce::from_slice(&[3; 24]), [9u8; 32].as_slice())
            .unwrap();
        let mut rec = vec![0x08, 0x01, 0x12, 48];
        rec.extend_from_slice(&sealed);
        rec.extend_from_slice(&[0x1a, 24]);
        rec.extend_from_slice(&[3; 24]);
        let pem = parse_pem(LOCKED).unwrap();
        let swapped = LOCKED.replace(header(&pem, "raft-dek"), &BASE64.encode(&rec));
        assert_eq!(
            unwrap_node_key(&swapped, &kek).unwrap_err(),
            UnlockError::WrongKey("Raft data key")
        );
        for e in [UnlockError::WrongKey("x"), UnlockError::NotAnUnlockKey] {
            assert!(!e.to_string().contains(UNLOCK_KEY.trim()));
        }
        assert!(matches!(
            unwrap_node_key("garbage", &kek),
            Err(UnlockError::Malformed(_))
        ));
    }

    #[test]
    fn pending_dek_and_other_headers_are_kept_in_order() {
        let kek = kek_from_unlock_key(UNLOCK_KEY).unwrap();
        let pem = parse_pem(LOCKED).unwrap();
        let dek = header(&pem, "raft-dek");
        let text = LOCKED.replace(
            &format!("raft-dek: {dek}\n"),
            &format!("raft-dek: {dek}\nraft-dek-needs-rotation: true\nraft-dek-pending: {dek}\n"),
        );
        let out = unwrap_node_key(&text, &kek).unwrap();
        let mine = parse_pem(&out).unwrap();
        let names: Vec<&str> = mine.headers.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            [
                "kek-version",
                "raft-dek",
                "raft-dek-needs-rotation",
                "raft-dek-pending"
            ]
        );
        assert_eq!(header(&mine, "raft-dek-pending"), header(&mine, "raft-dek"));
        assert_eq!(header(&mine, "raft-dek-needs-rotation"), "true");
    }

    #[test]
    fn records_round_trip_with_long_lengths() {
        let data = vec![5u8; 300];
        let rec = decode_record(&encode_plain_record(&data)).unwrap();
        assert_eq!((rec.algorithm, rec.data.as_slice()), (0, data.as_slice()));
        assert!(decode_record(&[0x12, 0x05, 1]).is_none());
        assert!(decode_record(&[0x0d]).is_none());
    }
}
