//! Snapshot bundles: a cluster snapshot with the preflight and connectivity results taken
//! with it, saved as one JSON file to troubleshoot offline or hand to a colleague.

use serde::{Deserialize, Serialize};

use super::{ClusterSnapshot, SnapshotError};

pub const BUNDLE_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bundle {
    pub version: u32,
    pub snapshot: ClusterSnapshot,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight: Option<crate::preflight::Report>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connectivity: Option<crate::connectivity::Report>,
}

impl Bundle {
    pub fn new(snapshot: ClusterSnapshot) -> Self {
        Self {
            version: BUNDLE_VERSION,
            snapshot,
            preflight: None,
            connectivity: None,
        }
    }

    /// The bundle as JSON, scrubbed of anything that looks like a token or key.
    pub fn to_json(&self) -> String {
        let text = serde_json::to_string_pretty(self).expect("bundle serialises");
        crate::redact::redact(&text).into_owned()
    }

    /// Reads a bundle, or a bare snapshot file (as `status --json` writes).
    pub fn from_json(text: &str) -> Result<Self, SnapshotError> {
        let value: serde_json::Value = serde_json::from_str(text)?;
        if value.get("snapshot").is_none() {
            return ClusterSnapshot::from_json(text).map(Bundle::new);
        }
        let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
        if version != u64::from(BUNDLE_VERSION) {
            return Err(SnapshotError::Version(version));
        }
        let bundle: Bundle = serde_json::from_value(value)?;
        // The snapshot inside is checked like a snapshot file.
        ClusterSnapshot::from_json(&serde_json::to_string(&bundle.snapshot)?)?;
        Ok(bundle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_results_and_reads_bare_snapshots() {
        let mut b = Bundle::new(crate::snapshot::demo());
        b.connectivity = Some(crate::snapshot::demo_connectivity());
        b.preflight = Some(crate::preflight::Report::default());
        let back = Bundle::from_json(&b.to_json()).unwrap();
        assert_eq!(back.snapshot, b.snapshot);
        assert_eq!(back.connectivity, b.connectivity);
        assert!(back.preflight.is_some());
        let bare = Bundle::from_json(&crate::snapshot::demo().to_json()).unwrap();
        assert!(bare.connectivity.is_none());
        assert!(Bundle::from_json("{\"version\":7,\"snapshot\":{}}").is_err());
    }
}
