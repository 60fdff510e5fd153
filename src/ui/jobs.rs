//! The jobs this window started: who started each (so its updates go to that panel and
//! nowhere else) and which are still running (the Activity panel lists them).

use std::collections::BTreeMap;

use super::state::Panel;
use crate::service::{Command, Job, JobId, JobKind, JobUpdate};

/// A job as the window knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiJob {
    pub owner: Panel,
    pub kind: JobKind,
    pub what: String,
    /// The service started it (until then it may still be refused).
    pub started: bool,
    pub cancelling: bool,
}

#[derive(Debug, Default)]
pub struct UiJobs {
    next: u64,
    running: BTreeMap<JobId, UiJob>,
}

impl UiJobs {
    /// Records a job for `owner` and returns the command that starts it.
    pub fn start(&mut self, owner: Panel, job: Job) -> (JobId, Command) {
        self.next += 1;
        let id = JobId(self.next);
        let entry = UiJob {
            owner,
            kind: job.kind(),
            what: job.describe(),
            started: false,
            cancelling: false,
        };
        self.running.insert(id, entry);
        (id, Command::Start { id, job })
    }

    /// Marks a job as being cancelled and returns the command that asks for it.
    pub fn cancel(&mut self, id: JobId) -> Command {
        if let Some(j) = self.running.get_mut(&id) {
            j.cancelling = true;
        }
        Command::Cancel { id }
    }

    /// Who started `id`, if this window did.
    pub fn owner(&self, id: JobId) -> Option<Panel> {
        self.running.get(&id).map(|j| j.owner)
    }

    /// Follows a job's life: started, then gone when it ends.
    pub fn on_update(&mut self, id: JobId, update: &JobUpdate) {
        match update {
            JobUpdate::Started { .. } => {
                if let Some(j) = self.running.get_mut(&id) {
                    j.started = true;
                }
            }
            JobUpdate::Ended => {
                self.running.remove(&id);
            }
            _ => {}
        }
    }

    pub fn running(&self) -> impl Iterator<Item = (&JobId, &UiJob)> {
        self.running.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_belongs_to_the_panel_that_started_it_until_it_ends() {
        let mut jobs = UiJobs::default();
        let (a, _) = jobs.start(Panel::Wizard, Job::Preflight);
        let (b, cmd) = jobs.start(Panel::Topology, Job::Preflight);
        assert_ne!(a, b);
        assert!(matches!(cmd, Command::Start { id, .. } if id == b));
        assert_eq!(jobs.owner(a), Some(Panel::Wizard));
        assert_eq!(jobs.owner(b), Some(Panel::Topology));
        jobs.on_update(a, &JobUpdate::Ended);
        assert_eq!(jobs.owner(a), None);
        assert_eq!(jobs.running().count(), 1);
    }
}
