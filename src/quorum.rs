//! Raft quorum arithmetic for swarm managers: majority, fault tolerance, "what if"
//! scenarios, placement advice and the safety check behind demote/remove/leave.
//!
//! Pure logic: no I/O, so the UI's what-if and the engine's refusals agree exactly.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Managers needed to commit a Raft entry: more than half of the voting members.
pub fn majority(managers: usize) -> usize {
    if managers == 0 { 0 } else { managers / 2 + 1 }
}

/// Managers that may fail while the rest still form a majority.
pub fn fault_tolerance(managers: usize) -> usize {
    managers.saturating_sub(1) / 2
}

/// One row of the classic table: managers, majority, fault tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuorumRow {
    pub managers: usize,
    pub majority: usize,
    pub fault_tolerance: usize,
}

/// Rows for 1..=max managers.
pub fn table(max: usize) -> Vec<QuorumRow> {
    (1..=max)
        .map(|n| QuorumRow {
            managers: n,
            majority: majority(n),
            fault_tolerance: fault_tolerance(n),
        })
        .collect()
}

/// A manager as the quorum model sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manager {
    pub name: String,
    /// Currently reachable as a Raft member.
    pub reachable: bool,
    /// Failure domain from node labels (e.g. `zone`), if any.
    pub zone: Option<String>,
}

/// What the user imagines: some managers down, some demoted to workers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scenario {
    pub down: BTreeSet<String>,
    pub demoted: BTreeSet<String>,
}

/// The figures and verdict for the managers under a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// Voting members after demotions.
    pub members: usize,
    /// Members still up (reachable and not marked down).
    pub alive: usize,
    pub majority: usize,
    pub fault_tolerance: usize,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Quorum holds and at least one more manager may fail.
    Healthy,
    /// Quorum holds, but the next manager failure loses it.
    AtRisk,
    /// Fewer alive members than the majority: the cluster cannot be managed.
    Lost,
    /// No managers at all.
    NoManagers,
}

impl Verdict {
    pub fn describe(self) -> &'static str {
        match self {
            Verdict::Healthy => "quorum healthy",
            Verdict::AtRisk => "quorum holds, but one more manager failure loses it",
            Verdict::Lost => "quorum lost: the swarm cannot be managed",
            Verdict::NoManagers => "no managers",
        }
    }
}

/// Assess managers under a scenario. Demoting removes a member from Raft (the majority
/// shrinks); a node that is down stays a member (the majority stays, the alive count drops).
pub fn assess(managers: &[Manager], scenario: &Scenario) -> Assessment {
    let members: Vec<&Manager> = managers
        .iter()
        .filter(|m| !scenario.demoted.contains(&m.name))
        .collect();
    let alive = members
        .iter()
        .filter(|m| m.reachable && !scenario.down.contains(&m.name))
        .count();
    let n = members.len();
    let maj = majority(n);
    let verdict = if n == 0 {
        Verdict::NoManagers
    } else if alive < maj {
        Verdict::Lost
    } else if alive == maj {
        Verdict::AtRisk
    } else {
        Verdict::Healthy
    };
    Assessment {
        members: n,
        alive,
        majority: maj,
        fault_tolerance: fault_tolerance(n),
        verdict,
    }
}

/// An action that changes the set of managers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManagerAction {
    Demote,
    Remove,
    Leave,
}

impl ManagerAction {
    fn verb(self) -> &'static str {
        match self {
            ManagerAction::Demote => "demoting",
            ManagerAction::Remove => "removing",
            ManagerAction::Leave => "leaving the swarm from",
        }
    }
}

/// Why an action is refused: the consequence in numbers, ready to show to a user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refused: {verb} manager {node} would leave {alive_after} reachable of {members_after} \
     managers, but {majority_after} are needed for a majority; the swarm could no longer be \
     managed. Bring managers back or promote a worker first, or force it if you accept that."
)]
pub struct QuorumRefusal {
    pub verb: &'static str,
    pub node: String,
    pub members_after: usize,
    pub alive_after: usize,
    pub majority_after: usize,
}

/// Checks that taking `node` out of the managers keeps a working majority.
/// Non-managers always pass: workers do not vote.
pub fn check_manager_action(
    managers: &[Manager],
    node: &str,
    action: ManagerAction,
) -> Result<Assessment, QuorumRefusal> {
    if !managers.iter().any(|m| m.name == node) {
        return Ok(assess(managers, &Scenario::default()));
    }
    let scenario = Scenario {
        demoted: [node.to_string()].into(),
        ..Default::default()
    };
    let after = assess(managers, &scenario);
    if matches!(after.verdict, Verdict::Lost | Verdict::NoManagers) {
        return Err(QuorumRefusal {
            verb: action.verb(),
            node: node.to_string(),
            members_after: after.members,
            alive_after: after.alive,
            majority_after: after.majority,
        });
    }
    Ok(after)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AdviceLevel {
    Info,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    pub level: AdviceLevel,
    pub text: String,
}

fn advice(level: AdviceLevel, text: impl Into<String>) -> Advice {
    Advice {
        level,
        text: text.into(),
    }
}

/// Placement advice: odd manager counts, not too many, spread across zones so that no
/// single zone holds a majority.
pub fn advise(managers: &[Manager]) -> Vec<Advice> {
    let n = managers.len();
    let mut out = Vec::new();
    match n {
        0 => out.push(advice(
            AdviceLevel::Warning,
            "no managers: init a swarm first",
        )),
        1 => out.push(advice(
            AdviceLevel::Warning,
            "a single manager tolerates no failure; 3 managers tolerate 1",
        )),
        _ if n.is_multiple_of(2) => out.push(advice(
            AdviceLevel::Warning,
            format!(
                "{n} managers tolerate {} failure(s), no more than {}; use an odd count \
                 ({} or {})",
                fault_tolerance(n),
                n - 1,
                n - 1,
                n + 1
            ),
        )),
        _ => {}
    }
    if n > 7 {
        out.push(advice(
            AdviceLevel::Warning,
            format!("{n} managers: every Raft write waits on a majority of {}; more than 7 managers mostly adds latency", majority(n)),
        ));
    }
    out.extend(zone_advice(managers));
    out
}

pub fn zone_advice(managers: &[Manager]) -> Vec<Advice> {
    let n = managers.len();
    let mut by_zone: BTreeMap<&str, usize> = BTreeMap::new();
    let mut unzoned = 0;
    for m in managers {
        match &m.zone {
            Some(z) => *by_zone.entry(z.as_str()).or_default() += 1,
            None => unzoned += 1,
        }
    }
    if by_zone.is_empty() || n < 2 {
        return Vec::new();
    }
    let mut out = Vec::new();
    if unzoned > 0 {
        out.push(advice(
            AdviceLevel::Info,
            format!(
                "{unzoned} manager(s) have no zone label; zone advice counts only labelled ones"
            ),
        ));
    }
    let maj = majority(n);
    for (zone, count) in &by_zone {
        if *count >= maj {
            out.push(advice(
                AdviceLevel::Warning,
                format!(
                    "zone {zone} holds {count} of {n} managers: losing that zone loses quorum \
                     (majority {maj}); aim for {}",
                    ideal_spread(n, by_zone.len().max(3))
                ),
            ));
        }
    }
    out
}

/// The even spread of `n` managers over `zones` zones, e.g. 5 over 3 as "2-2-1".
pub fn ideal_spread(n: usize, zones: usize) -> String {
    if zones == 0 {
        return n.to_string();
    }
    (0..zones)
        .map(|i| (n / zones + usize::from(i < n % zones)).to_string())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mgrs(names: &[&str]) -> Vec<Manager> {
        names
            .iter()
            .map(|n| Manager {
                name: n.to_string(),
                reachable: true,
                zone: None,
            })
            .collect()
    }

    #[test]
    fn classic_table_matches_raft() {
        let rows: Vec<(usize, usize, usize)> = table(9)
            .into_iter()
            .map(|r| (r.managers, r.majority, r.fault_tolerance))
            .collect();
        assert_eq!(
            rows,
            vec![
                (1, 1, 0),
                (2, 2, 0),
                (3, 2, 1),
                (4, 3, 1),
                (5, 3, 2),
                (6, 4, 2),
                (7, 4, 3),
                (8, 5, 3),
                (9, 5, 4)
            ]
        );
    }

    #[test]
    fn down_nodes_keep_majority_demoted_shrink_it() {
        let m = mgrs(&["a", "b", "c"]);
        let one_down = Scenario {
            down: ["a".to_string()].into(),
            ..Default::default()
        };
        let a = assess(&m, &one_down);
        assert_eq!((a.members, a.alive, a.majority), (3, 2, 2));
        assert_eq!(a.verdict, Verdict::AtRisk);

        let two_down = Scenario {
            down: ["a".to_string(), "b".to_string()].into(),
            ..Default::default()
        };
        assert_eq!(assess(&m, &two_down).verdict, Verdict::Lost);

        let demoted = Scenario {
            demoted: ["a".to_string()].into(),
            ..Default::default()
        };
        let d = assess(&m, &demoted);
        assert_eq!((d.members, d.alive, d.majority), (2, 2, 2));
        assert_eq!(d.verdict, Verdict::AtRisk);
    }

    #[test]
    fn demote_refused_when_it_would_lose_quorum() {
        // 3 managers, one already unreachable: demoting a healthy one leaves 1 of 2 alive.
        let mut m = mgrs(&["a", "b", "c"]);
        m[2].reachable = false;
        let err = check_manager_action(&m, "a", ManagerAction::Demote).unwrap_err();
        assert_eq!(
            (err.members_after, err.alive_after, err.majority_after),
            (2, 1, 2)
        );
        assert!(err.to_string().contains("1 reachable of 2"), "{err}");
        // Demoting the unreachable one is fine: 2 of 2 remain.
        assert!(check_manager_action(&m, "c", ManagerAction::Demote).is_ok());
    }

    #[test]
    fn healthy_three_may_lose_one_and_last_manager_is_protected() {
        let m = mgrs(&["a", "b", "c"]);
        assert!(check_manager_action(&m, "a", ManagerAction::Remove).is_ok());
        let solo = mgrs(&["a"]);
        assert!(check_manager_action(&solo, "a", ManagerAction::Leave).is_err());
        // Workers don't vote.
        assert!(check_manager_action(&m, "worker1", ManagerAction::Remove).is_ok());
    }

    #[test]
    fn advice_flags_even_counts_and_zone_majorities() {
        let four = mgrs(&["a", "b", "c", "d"]);
        assert!(advise(&four).iter().any(|a| a.text.contains("odd count")));
        assert!(advise(&mgrs(&["a", "b", "c"])).is_empty());

        let mut five = mgrs(&["a", "b", "c", "d", "e"]);
        for (m, z) in five.iter_mut().zip(["z1", "z1", "z1", "z2", "z3"]) {
            m.zone = Some(z.to_string());
        }
        let adv = advise(&five);
        assert!(
            adv.iter()
                .any(|a| a.text.contains("zone z1 holds 3 of 5") && a.text.contains("2-2-1")),
            "{adv:?}"
        );
    }

    #[test]
    fn spreads() {
        assert_eq!(ideal_spread(5, 3), "2-2-1");
        assert_eq!(ideal_spread(3, 3), "1-1-1");
        assert_eq!(ideal_spread(7, 3), "3-2-2");
    }
}
