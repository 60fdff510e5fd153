//! Clock skew: each host's clock against the workstation's and against the other hosts',
//! counted only beyond what the round trip of the reading leaves uncertain.
//!
//! Why the thresholds: swarm backdates every node certificate by one hour, so a node whose
//! clock is more than an hour behind the manager that issued it rejects the certificate as
//! not yet valid (mutual TLS at join and at each rotation fails); half of that is an error,
//! to be fixed before it bites. Raft elections and heartbeats count local ticks and
//! durations, not wall-clock times, so skew does not break quorum itself; but task times,
//! `docker service logs` and swarmdeck's merged logs order events by each host's clock, and
//! with time sync working hosts agree within milliseconds: a second apart means it is not.

use super::Finding;
use super::facts::{HostFacts, HostReading};
use crate::severity::Severity;

/// Skew past this (beyond the reading's uncertainty) is flagged.
pub const SKEW_WARNING_MS: i64 = 1_000;
/// And past this as an error: half of swarm's one-hour certificate backdate.
pub const SKEW_ERROR_MS: i64 = 30 * 60 * 1_000;

const FIX: &str = "run time sync on every host (chrony or systemd-timesyncd: `timedatectl \
                   set-ntp true`, then `timedatectl` shows \"System clock synchronized: yes\")";

fn seconds(ms: i64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

pub fn findings(facts: &HostFacts) -> Vec<Finding> {
    let read: Vec<&HostReading> = facts.hosts.iter().filter(|h| h.clock.is_some()).collect();
    let mut out = between_hosts(&read).into_iter().collect::<Vec<_>>();
    out.extend(read.iter().filter_map(|h| against_workstation(h)));
    out
}

/// The two hosts furthest apart, when they are surely apart.
fn between_hosts(read: &[&HostReading]) -> Option<Finding> {
    let offset = |h: &HostReading| h.clock.map_or(0, |c| c.offset_ms());
    let ahead = read.iter().max_by_key(|h| offset(h))?;
    let behind = read.iter().min_by_key(|h| offset(h))?;
    let (a, b) = (ahead.clock?, behind.clock?);
    let apart = a.offset_ms() - b.offset_ms();
    let surely = apart - a.uncertainty_ms() - b.uncertainty_ms();
    if surely < SKEW_WARNING_MS {
        return None;
    }
    Some(Finding {
        severity: match surely >= SKEW_ERROR_MS {
            true => Severity::Error,
            false => Severity::Warning,
        },
        area: "clock skew",
        subject: format!("{} / {}", ahead.host, behind.host),
        summary: format!(
            "the clocks of {} and {} are {} apart (± {}): {}",
            ahead.host,
            behind.host,
            seconds(apart),
            seconds(a.uncertainty_ms() + b.uncertainty_ms()),
            match surely >= SKEW_ERROR_MS {
                true =>
                    "past half of swarm's one-hour certificate backdate, nodes soon \
                         reject the certificates their managers issue",
                false =>
                    "task times and merged logs are out of order; past an hour, nodes \
                          reject the certificates their managers issue",
            }
        ),
        fix: FIX.into(),
    })
}

fn against_workstation(h: &HostReading) -> Option<Finding> {
    let c = h.clock?;
    let surely = c.offset_ms().abs() - c.uncertainty_ms();
    if surely < SKEW_WARNING_MS {
        return None;
    }
    Some(Finding {
        severity: Severity::Warning,
        area: "clock skew",
        subject: h.host.clone(),
        summary: format!(
            "{}'s clock is {} {} this workstation's (± {}): ages and times swarmdeck shows \
             for it are off by as much",
            h.host,
            seconds(c.offset_ms().abs()),
            if c.offset_ms() > 0 {
                "ahead of"
            } else {
                "behind"
            },
            seconds(c.uncertainty_ms())
        ),
        fix: format!("{FIX}, and on this workstation"),
    })
}

#[cfg(test)]
mod tests {
    use super::super::facts::ClockSample;
    use super::*;

    fn host(name: &str, host_ms: i64, rtt: i64) -> HostReading {
        HostReading {
            host: name.into(),
            clock: Some(ClockSample {
                sent_ms: 1_000_000,
                host_ms,
                received_ms: 1_000_000 + rtt,
            }),
            ..Default::default()
        }
    }

    fn facts(hosts: Vec<HostReading>) -> HostFacts {
        HostFacts {
            hosts,
            ..Default::default()
        }
    }

    #[test]
    fn hosts_within_the_round_trip_of_each_other_are_not_flagged() {
        // 400 ms apart, read with 1 s round trips: nothing sure.
        let f = findings(&facts(vec![
            host("a", 1_000_500, 1_000),
            host("b", 1_000_900, 1_000),
        ]));
        assert!(f.is_empty(), "{f:#?}");
    }

    #[test]
    fn two_hosts_seconds_apart_are_a_warning_naming_both() {
        let f = findings(&facts(vec![
            host("a", 1_000_010, 20),
            host("b", 1_005_010, 20),
            host("c", 1_000_020, 20),
        ]));
        let between = f.iter().find(|f| f.subject == "b / a").unwrap();
        assert_eq!(between.severity, Severity::Warning);
        assert!(
            between.summary.contains("are 5.0 s apart (± 0.0 s)"),
            "{}",
            between.summary
        );
        assert!(between.fix.contains("timedatectl set-ntp true"));
        // b is also 5 s ahead of the workstation.
        let b = f.iter().find(|f| f.subject == "b").unwrap();
        assert!(
            b.summary.contains("5.0 s ahead of this workstation"),
            "{}",
            b.summary
        );
        assert_eq!(f.len(), 2, "{f:#?}");
    }

    #[test]
    fn an_hour_of_skew_between_hosts_is_an_error() {
        let f = findings(&facts(vec![
            host("a", 1_000_000 - 40 * 60 * 1000, 10),
            host("b", 1_000_005, 10),
        ]));
        let between = f.iter().find(|f| f.subject == "b / a").unwrap();
        assert_eq!(between.severity, Severity::Error);
        assert!(between.summary.contains("certificate backdate"));
    }
}
