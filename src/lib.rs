//! swarmdeck: build, see and troubleshoot Docker Swarm clusters over plain SSH.
//!
//! The engine (`inventory`, `ssh`, `docker`, `cluster`, `snapshot`, `quorum`, `lab`) is plain async
//! Rust and knows nothing of egui. `service` owns the tokio runtime for the GUI and talks
//! to `ui` through bounded channels only.
#![forbid(unsafe_code)]

pub mod backup;
/// Benchmarks, for `swarmdeck-bench` only: not part of the product.
#[cfg(feature = "bench")]
pub mod bench;
pub mod certs;
pub mod cli;
pub mod cluster;
pub mod connectivity;
pub mod docker;
pub mod doctor;
pub mod firewall;
pub mod fsutil;
pub mod host_engine;
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
pub mod stack;
pub mod swarm;
pub mod ui;
pub mod untrusted;
pub mod workloads;

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

/// The window (`ui`) and the command line (`cli`) are two faces of the same engine and do
/// not use each other; `main.rs` wires them together.
#[cfg(test)]
mod layering {
    use std::path::Path;

    /// Every `.rs` file under `src/<module>`, with its text.
    fn sources(module: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut dirs = vec![
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("src")
                .join(module),
        ];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    out.push((path.display().to_string(), text));
                }
            }
        }
        assert!(!out.is_empty(), "no sources under src/{module}");
        out
    }

    /// Whether `text` reaches `crate::<module>`, directly or in a `crate::{…}` group.
    fn uses(text: &str, module: &str) -> bool {
        let direct = format!("crate::{module}");
        let direct_hit = text.match_indices(&direct).any(|(i, _)| {
            let next = text[i + direct.len()..].chars().next();
            !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
        });
        let grouped = text.match_indices("crate::{").any(|(i, _)| {
            let group = &text[i + "crate::{".len()..];
            let group = &group[..group.find(';').unwrap_or(group.len())];
            group
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .any(|word| word == module)
        });
        direct_hit || grouped
    }

    #[test]
    fn ui_and_cli_do_not_use_each_other() {
        for (path, text) in sources("ui") {
            assert!(!uses(&text, "cli"), "{path} uses crate::cli");
        }
        for (path, text) in sources("cli") {
            assert!(!uses(&text, "ui"), "{path} uses crate::ui");
        }
    }

    #[test]
    fn the_check_sees_both_spellings() {
        assert!(uses("let p = crate::cli::target::x();", "cli"));
        assert!(uses("use crate::{inventory, cli::Launch};", "cli"));
        assert!(uses("use crate::{ui};", "ui"));
        assert!(!uses(
            "use crate::inventory::default_inventory_path;",
            "cli"
        ));
        assert!(!uses(
            "crate::uid::x; use crate::{snapshot, untrusted};",
            "ui"
        ));
    }
}
