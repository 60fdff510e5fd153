//! The app's live view without a window: the service following an inventory, as a window
//! holds it. The fault-matrix tests and `swarmdeck-bench faults` use it to measure how
//! soon the app shows what happened to a host, and that it recovers by itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::service::{Command, Event, ServiceHandle};
use crate::snapshot::ClusterSnapshot;

/// The app's live view as a window would hold it: the last snapshot, and whether the
/// service still confirms it.
pub struct LiveView {
    svc: ServiceHandle,
    pub current: Option<ClusterSnapshot>,
    /// Snapshots that were the last one with only changed services or attachments read
    /// again, and whole snapshots.
    pub partial: usize,
    pub whole: usize,
}

impl LiveView {
    /// Starts the service on an inventory, as the app does when it opens one.
    pub fn open(inventory: &std::path::Path) -> anyhow::Result<LiveView> {
        let svc = ServiceHandle::spawn(Arc::new(|| {})).context("starting the service")?;
        svc.send(Command::Refresh {
            inventory: inventory.to_path_buf(),
        })?;
        Ok(LiveView {
            svc,
            current: None,
            partial: 0,
            whole: 0,
        })
    }

    /// Time from `start` until the view satisfies `want` (a snapshot taken, or confirmed
    /// to still hold, since `start`); `None` after `limit`.
    pub fn until(
        &mut self,
        start: Instant,
        limit: Duration,
        want: impl Fn(&ClusterSnapshot) -> bool,
    ) -> Option<Duration> {
        let since = crate::snapshot::now_secs().saturating_sub(start.elapsed().as_secs());
        // A `Refreshed` event announces that the next snapshot is a partial one.
        let mut partial_next = false;
        while start.elapsed() < limit {
            while let Some(ev) = self.svc.try_recv() {
                let at = match ev {
                    Event::Refreshed { .. } => {
                        partial_next = true;
                        continue;
                    }
                    Event::Snapshot(s) => {
                        let at = s.taken_at;
                        self.current = Some(*s);
                        match std::mem::take(&mut partial_next) {
                            true => self.partial += 1,
                            false => self.whole += 1,
                        }
                        at
                    }
                    Event::Confirmed { at } => at,
                    _ => continue,
                };
                if at >= since && self.current.as_ref().is_some_and(&want) {
                    return Some(start.elapsed());
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}
