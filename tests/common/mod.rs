//! Shared test fixtures. Each test binary uses only some of them.
#![allow(dead_code)]

pub mod lab;

/// A multi-threaded runtime for one test (SSH sessions belong to the runtime that made them).
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}
