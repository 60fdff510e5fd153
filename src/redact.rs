//! Keeping secrets out of logs, audit trails, snapshots and error messages.
//!
//! Swarm join tokens (`SWMTKN-…`) and unlock keys (`SWMKEY-…`) are recognisable by prefix,
//! so any text leaving the engine can be scrubbed. Passwords are not recognisable: they are
//! held in [`Secret`], whose `Debug`/`Display` never print the value.

use std::borrow::Cow;
use std::fmt;

const SECRET_PREFIXES: [&str; 2] = ["SWMTKN-", "SWMKEY-"];
const MASK: &str = "<redacted>";

/// Replaces every join token and unlock key in `text` with `<redacted>`.
pub fn redact(text: &str) -> Cow<'_, str> {
    if !SECRET_PREFIXES.iter().any(|p| text.contains(p)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((at, prefix)) = next_secret(rest) {
        out.push_str(&rest[..at]);
        out.push_str(MASK);
        let tail = &rest[at + prefix.len()..];
        let end = tail.find(|c| !is_secret_char(c)).unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Join tokens are base-36 words joined by dashes; unlock keys are base64 (`+`, `/`, `=`
/// padding). `%` covers a URL-encoded `+` or `/`. Anything else ends the secret.
fn is_secret_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-+/=%".contains(c)
}

fn next_secret(text: &str) -> Option<(usize, &'static str)> {
    SECRET_PREFIXES
        .iter()
        .filter_map(|p| text.find(p).map(|i| (i, *p)))
        .min_by_key(|(i, _)| *i)
}

/// A secret value (password, passphrase, token) that never prints itself.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for handing to the one place that needs it (an SSH auth call, a join).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self(s.to_string())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_tokens_and_keys() {
        let s = "docker swarm join --token SWMTKN-1-61ztec5kyafptydic6jfc1i33t-5vy9t8u35tuq 10.0.0.1:2377; key SWMKEY-1-abcDEF123";
        let r = redact(s);
        assert!(!r.contains("SWMTKN"), "{r}");
        assert!(!r.contains("SWMKEY"), "{r}");
        assert!(!r.contains("61ztec"), "{r}");
        assert_eq!(
            r,
            "docker swarm join --token <redacted> 10.0.0.1:2377; key <redacted>"
        );
    }

    /// Unlock keys are `SWMKEY-1-` and base64: `+`, `/` and padding are part of the key.
    #[test]
    fn scrubs_whole_base64_unlock_keys() {
        let key = "SWMKEY-1-8mN+2xQ/vT0kLw9+Zr/AbCdEfGhIjK1m3n5p7r9t+v/XyZ=";
        for text in [
            key.to_string(),
            format!("key {key}, rotated"),
            format!("{{\"UnlockKey\":\"{key}\"}}"),
            format!("key={key}\nnext"),
        ] {
            let r = redact(&text);
            assert!(!r.contains("SWMKEY"), "{r}");
            for tail in ["vT0", "Zr", "AbCd", "XyZ", "+", "/"] {
                assert!(!r.contains(tail), "{tail:?} left in {r}");
            }
        }
        assert_eq!(
            redact(&format!("key {key}, rotated")),
            "key <redacted>, rotated"
        );
        assert_eq!(
            redact(&format!("{{\"UnlockKey\":\"{key}\"}}")),
            "{\"UnlockKey\":\"<redacted>\"}"
        );
    }

    #[test]
    fn leaves_clean_text_alone() {
        assert!(matches!(redact("node ls"), Cow::Borrowed("node ls")));
    }

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "<redacted> <redacted>");
        assert_eq!(s.expose(), "hunter2");
    }
}
