//! Jobs: every long operation the app starts. A job has an id chosen by whoever starts it
//! (so its events can be routed before the service answers), a kind (which decides what
//! it conflicts with) and a cancellation token that the job checks between its steps.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use super::ConnectivityRequest;
use crate::outcome::Failure;
use crate::swarm::Plan;
use crate::swarm::change::Change;

/// A job's identity; the UI counts them up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(pub u64);

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What a job does, for conflicts and the list of running jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Reads every host (changes nothing).
    Preflight,
    /// Computes a plan from the live state (changes nothing).
    Plan,
    /// Changes hosts: a confirmed plan.
    Apply,
    /// Changes hosts: firewall rules.
    Firewall,
    /// Starts probe containers on every host and removes them.
    Connectivity,
    /// Starts the practice lab on this machine.
    Lab,
    /// Reads a service's or task's logs (changes nothing; several at once are fine).
    Logs,
    /// Runs one command line in a task's container (conflicts with nothing).
    Console,
    /// Lists the backup archives on this machine, checksums verified (changes nothing).
    Backups,
    /// Reads the doctor's facts from every host (changes nothing).
    Doctor,
}

impl JobKind {
    /// Two jobs changing the same hosts at once would interleave their steps; two testers
    /// would race for the probe containers; two labs for the same namespaces.
    pub fn conflicts_with(self, other: JobKind) -> bool {
        use JobKind::*;
        matches!(
            (self, other),
            (Apply | Firewall, Apply | Firewall)
                | (Connectivity, Connectivity)
                | (Lab, Lab)
                | (Apply, Connectivity)
                | (Connectivity, Apply)
        )
    }

    pub fn noun(self) -> &'static str {
        match self {
            JobKind::Preflight => "preflight",
            JobKind::Plan => "planning",
            JobKind::Apply => "change",
            JobKind::Firewall => "firewall change",
            JobKind::Connectivity => "connectivity test",
            JobKind::Lab => "practice lab start",
            JobKind::Logs => "log reading",
            JobKind::Console => "console command",
            JobKind::Backups => "backup listing",
            JobKind::Doctor => "doctor's reading",
        }
    }
}

/// A job to start.
#[derive(Debug)]
pub enum Job {
    /// Check every host of the open cluster before building a swarm.
    Preflight,
    /// Open swarm's ports on the hosts as planned (asks nothing: the UI asked).
    ApplyFirewall {
        plans: Vec<crate::firewall::HostPlan>,
        persist: bool,
    },
    /// Compute the steps of a change from the live state.
    Plan(Change),
    /// Apply a plan the user confirmed; `what` names it in the job list and notices.
    Apply { plan: Plan, what: String },
    /// Run the connectivity tester on the open cluster.
    Connectivity(ConnectivityRequest),
    /// Start (or reuse) the practice lab on this machine and open it.
    StartLab { hosts: usize },
    /// Read logs as `swarmdeck logs` does; the lines come in batches.
    Logs(crate::workloads::logs::LogRequest),
    /// Run one command line in a task, as `swarmdeck exec TASK sh -c LINE` does.
    Console(super::console::ConsoleRequest),
    /// List the backup archives, as `swarmdeck backup list` does.
    Backups,
    /// Read what the doctor needs beyond this snapshot from its hosts.
    Doctor(Box<crate::snapshot::ClusterSnapshot>),
    /// Read every node's certificate, as `swarmdeck cert ls` does (changes nothing).
    Certs,
}

impl Job {
    pub fn kind(&self) -> JobKind {
        match self {
            Job::Preflight => JobKind::Preflight,
            Job::ApplyFirewall { .. } => JobKind::Firewall,
            Job::Plan(_) => JobKind::Plan,
            Job::Apply { .. } => JobKind::Apply,
            Job::Connectivity(_) => JobKind::Connectivity,
            Job::StartLab { .. } => JobKind::Lab,
            Job::Logs(_) => JobKind::Logs,
            Job::Console(_) => JobKind::Console,
            Job::Backups => JobKind::Backups,
            Job::Doctor(_) => JobKind::Doctor,
            // Reads every host and changes nothing, as a preflight does.
            Job::Certs => JobKind::Preflight,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Job::Preflight => "preflight checks".into(),
            Job::ApplyFirewall { plans, .. } => {
                format!("open swarm's ports on {} host(s)", plans.len())
            }
            Job::Plan(c) => format!("plan: {}", c.describe()),
            Job::Apply { what, plan } => {
                let what = if what.is_empty() { "change" } else { what };
                format!("{what} ({} step(s))", plan.steps.len())
            }
            Job::Connectivity(r) => match &r.network {
                Some(n) => format!("connectivity test on {n}"),
                None => "connectivity test on a temporary overlay".into(),
            },
            Job::StartLab { hosts } => format!("start a practice lab of {hosts} hosts"),
            Job::Logs(r) => format!("logs of {}", crate::untrusted::visible(&r.target)),
            Job::Console(r) => format!("console: {}", crate::untrusted::visible(&r.line)),
            Job::Backups => "list the backups".into(),
            Job::Doctor(_) => "doctor: read the hosts' clocks, routes and Raft data".into(),
            Job::Certs => "read the nodes' certificates".into(),
        }
    }
}

/// A step of an applied plan, as it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepReport {
    pub host: String,
    pub description: String,
    pub result: Result<(), Failure>,
}

/// What a job reports, in order: `Started` (or `Refused`), its own updates, `Ended`.
#[derive(Debug)]
pub enum JobUpdate {
    Started {
        kind: JobKind,
        what: String,
    },
    /// Not started: a conflicting job runs; the reason names it.
    Refused {
        reason: String,
    },
    Preflight(Box<crate::preflight::Report>),
    FirewallApplied(Result<usize, Failure>),
    Planned(Result<Plan, Failure>),
    Step(StepReport),
    Applied(Result<usize, Failure>),
    /// A service change's rollout as it goes (after `Applied`).
    Rollout(Box<crate::workloads::rollout::RolloutProgress>),
    ConnectivityProgress(crate::connectivity::Progress),
    ConnectivityDone(Result<Box<crate::connectivity::Report>, Failure>),
    LabReady {
        inventory: PathBuf,
    },
    Logs(super::logs::LogUpdate),
    Console(super::console::ConsoleUpdate),
    /// The backup archives with their metadata, or why the directory cannot be read.
    Backups(Result<Vec<crate::backup::archive::Listed>, String>),
    /// What the doctor read from the hosts.
    Doctor(Box<crate::doctor::HostFacts>),
    Certs(Box<crate::certs::CertReport>),
    /// The job is over (whatever its outcome); always the last update.
    Ended,
}

/// A job the service runs now.
#[derive(Debug, Clone)]
pub struct Running {
    pub kind: JobKind,
    pub what: String,
    pub cancel: CancellationToken,
}

/// The running jobs, shared by the service loop (which starts them) and the jobs
/// themselves (which leave when they end). Locked only for map operations, never across
/// an await.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    running: Arc<Mutex<BTreeMap<JobId, Running>>>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<JobId, Running>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a job unless a conflicting one runs; the refusal names that one.
    pub fn admit(&self, id: JobId, kind: JobKind, what: &str) -> Result<Running, String> {
        let mut running = self.lock();
        if let Some((other_id, other)) = running.iter().find(|(_, r)| kind.conflicts_with(r.kind)) {
            return Err(format!(
                "not started: {what} would run alongside the {} in progress ({} {other_id}); \
                 wait for it to end or cancel it in the Activity panel",
                other.kind.noun(),
                other.what,
            ));
        }
        if running.contains_key(&id) {
            return Err(format!("not started: job {id} already exists"));
        }
        let job = Running {
            kind,
            what: what.to_string(),
            cancel: CancellationToken::new(),
        };
        running.insert(id, job.clone());
        Ok(job)
    }

    pub fn cancel(&self, id: JobId) -> bool {
        match self.lock().get(&id) {
            Some(r) => {
                r.cancel.cancel();
                true
            }
            None => false,
        }
    }

    pub fn finish(&self, id: JobId) {
        self.lock().remove(&id);
    }

    pub fn cancel_all(&self) {
        for r in self.lock().values() {
            r.cancel.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_to_hosts_never_run_two_at_a_time() {
        let r = Registry::default();
        r.admit(JobId(1), JobKind::Apply, "build the swarm")
            .unwrap();
        let refused = r
            .admit(JobId(2), JobKind::Apply, "drain node2")
            .unwrap_err();
        assert!(refused.contains("build the swarm #1"), "{refused}");
        assert!(r.admit(JobId(3), JobKind::Firewall, "fw").is_err());
        assert!(r.admit(JobId(4), JobKind::Connectivity, "test").is_err());
        // Reading while a change runs is fine.
        r.admit(JobId(5), JobKind::Plan, "plan").unwrap();
        r.admit(JobId(6), JobKind::Preflight, "preflight").unwrap();
        r.finish(JobId(1));
        r.admit(JobId(7), JobKind::Apply, "drain node2").unwrap();
    }

    #[test]
    fn cancel_reaches_the_job_token() {
        let r = Registry::default();
        let job = r.admit(JobId(1), JobKind::Apply, "x").unwrap();
        assert!(!job.cancel.is_cancelled());
        assert!(r.cancel(JobId(1)));
        assert!(job.cancel.is_cancelled());
        assert!(!r.cancel(JobId(9)), "unknown jobs are not cancelled");
    }
}
