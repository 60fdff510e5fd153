//! Workloads you can see: services and tasks as a snapshot holds them, why a task waits
//! for a node, their logs, and commands run in them. Pure logic over
//! [`crate::snapshot::ClusterSnapshot`] (reading them from a manager lives in
//! [`crate::cluster`]), except [`logs`] and [`exec`], which talk to the engine of the node
//! that runs each task.

pub mod constraint;
pub mod drain;
pub mod exec;
pub mod log_lines;
pub mod logs;
pub mod pending;
pub mod rollout;

pub use pending::{PendingReason, Rejection, explain};
