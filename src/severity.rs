//! How much a finding or a notice matters: one scale for preflight, connectivity and the
//! app's notices. Saved in bundles as "info", "warning", "error".

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    /// The tag before a finding in text reports: problems stand out in capitals.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "WARN",
            Severity::Error => "ERROR",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_the_reports_always_did() {
        for (s, word) in [
            (Severity::Info, "\"info\""),
            (Severity::Warning, "\"warning\""),
            (Severity::Error, "\"error\""),
        ] {
            assert_eq!(serde_json::to_string(&s).unwrap(), word);
            assert_eq!(serde_json::from_str::<Severity>(word).unwrap(), s);
        }
        assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Error);
    }
}
