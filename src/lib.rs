//! swarmdeck: build, see and troubleshoot Docker Swarm clusters over plain SSH.
//!
//! The engine (`inventory`, `ssh`, `docker`, `cluster`, `snapshot`, `quorum`, `lab`) is plain async
//! Rust and knows nothing of egui. `service` owns the tokio runtime for the GUI and talks
//! to `ui` through bounded channels only.
#![forbid(unsafe_code)]

/// Benchmarks, for `swarmdeck-bench` only: not part of the product.
#[cfg(feature = "bench")]
pub mod bench;
pub mod cli;
pub mod cluster;
pub mod connectivity;
pub mod docker;
pub mod firewall;
pub mod fsutil;
pub mod import;
pub mod inventory;
pub mod lab;
pub mod limits;
pub mod live_view;
pub mod logging;
pub mod outcome;
pub mod preflight;
pub mod quorum;
pub mod redact;
pub mod secrets;
pub mod service;
pub mod severity;
pub mod snapshot;
pub mod ssh;
pub mod swarm;
pub mod ui;
pub mod untrusted;

/// Settings of the property tests beside the code: a fixed number of cases (bounded time),
/// and no regression files written into the source tree.
#[cfg(test)]
pub(crate) fn prop_config(cases: u32) -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        cases,
        failure_persistence: None,
        ..Default::default()
    }
}
