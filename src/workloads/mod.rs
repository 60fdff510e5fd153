//! Workloads you can see: services and tasks as a snapshot holds them, and why a task
//! waits for a node. Pure logic over [`crate::snapshot::ClusterSnapshot`]; reading them
//! from a manager lives in [`crate::cluster`].

pub mod constraint;
pub mod pending;

pub use pending::{PendingReason, Rejection, explain};
