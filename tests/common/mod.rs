//! Shared test fixtures. Each test binary uses only some of them.
#![allow(dead_code)]

pub mod lab;
