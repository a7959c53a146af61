//! A customer's flow stays at three commits (issue 22): on the stream of applied commands, no
//! session's state is written by more than [`SESSION_WRITES_MAX`] accepted commands (opening,
//! purchase, settlement: a claim alone, a takeover's, writes no state and is not counted), and
//! every accepted command that writes a business's settlement record (`bsettle/<b>/<s>`) writes
//! the settled state of that session too: the settlement, the business's state and the session's
//! final state are one atomic command. A flow that goes back to storing pending feedback, or a
//! settlement written apart from its session, fails this.

use std::collections::BTreeMap;

use svea_storage::{Command, CommandResult};

use super::acked_writes::cap;
use crate::sim::host::ApplyLog;

/// Accepted commands that write one session's state, at most: opening (with its claim),
/// purchase, and the settlement with the session's final state. The workload neither erases
/// nor redacts, and its businesses take self-declared purchases, so nothing else writes one.
pub const SESSION_WRITES_MAX: usize = 3;

const SETTLED_PREFIX: &str = "bsettle/";
const SESSION_PREFIX: &str = "session/";

/// Checks every session the log wrote; returns at most a few lines.
pub fn check(log: &ApplyLog) -> Vec<String> {
    // One record per log position (every node reports every entry).
    let mut by_position: BTreeMap<(svea_storage::GroupId, u64, usize), (&Command, &CommandResult)> = BTreeMap::new();
    for a in &log.records {
        by_position.entry((a.group, a.index, a.position)).or_insert((&a.command, &a.result));
    }
    let mut writes: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for ((_, index, position), (command, result)) in by_position {
        let parts: Vec<&Command> = match (command, result) {
            (Command::Atomic(parts), CommandResult::Atomic(_)) => parts.iter().collect(),
            (Command::Put { .. }, CommandResult::Written { .. }) => vec![command],
            _ => continue,
        };
        let mut sessions = Vec::new();
        let mut settled = Vec::new();
        for part in parts {
            if let Command::Put { actor, index_writes, .. } = part {
                if let Some(session) = actor.strip_prefix(SESSION_PREFIX) {
                    sessions.push(session);
                }
                for w in index_writes {
                    if let Some(session) = w.key.strip_prefix(SETTLED_PREFIX).and_then(|rest| rest.split('/').nth(1)) {
                        settled.push(session);
                    }
                }
            }
        }
        for s in &sessions {
            *writes.entry(s).or_default() += 1;
        }
        for s in settled {
            if !sessions.contains(&s) {
                out.push(format!(
                    "flow commits: the settlement of session {s} at log index {index} position {position} was written without the session's state"
                ));
            }
        }
    }
    out.extend(writes.into_iter().filter(|(_, n)| *n > SESSION_WRITES_MAX).map(|(s, n)| {
        format!("flow commits: session {s} was written by {n} commands, more than the flow's {SESSION_WRITES_MAX}")
    }));
    cap(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::host::Applied;
    use svea_storage::{IndexMode, IndexWrite, Owner};

    fn put(actor: &str, expected_version: u64, records: &[&str]) -> Command {
        let index_writes = records.iter().map(|k| IndexWrite { key: (*k).into(), value: vec![], mode: IndexMode::InsertNew }).collect();
        Command::Put { actor: actor.into(), node: 1, epoch: 1, expected_version, state: vec![], index_writes, index_deletes: vec![] }
    }

    fn claim(actor: &str) -> Command {
        Command::Claim { actor: actor.into(), node: 1, expected_epoch: 0 }
    }

    fn written(v: u64) -> CommandResult {
        CommandResult::Written { version: v }
    }

    /// Each command its own entry, applied on two nodes.
    fn log(commands: Vec<(Command, CommandResult)>) -> ApplyLog {
        let records = commands
            .into_iter()
            .enumerate()
            .flat_map(|(i, (command, result))| {
                [1, 2].map(|node| Applied { node, group: 0, index: 10 + i as u64, position: 0, term: 1, command: command.clone(), result: result.clone() })
            })
            .collect();
        ApplyLog { records, overflowed: false }
    }

    fn three_commit_flow() -> Vec<(Command, CommandResult)> {
        vec![
            (
                Command::Atomic(vec![claim("session/s1"), put("session/s1", 0, &["active/l/d"])]),
                CommandResult::Atomic(vec![CommandResult::Claimed(Owner { node: 1, epoch: 1 }), written(1)]),
            ),
            (put("session/s1", 1, &["txn/b1/T-1"]), written(2)),
            (
                Command::Atomic(vec![put("business/b1", 7, &["bsettle/b1/s1"]), put("session/s1", 2, &[])]),
                CommandResult::Atomic(vec![written(8), written(3)]),
            ),
        ]
    }

    #[test]
    fn a_three_commit_flow_passes() {
        let found = check(&log(three_commit_flow()));
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn the_flow_before_issue_22_is_rejected() {
        // Claim, open, purchase, pending feedback, settlement, settled session: the session's
        // state written four times and the settlement apart from it.
        let old = vec![
            (claim("session/s1"), CommandResult::Claimed(Owner { node: 1, epoch: 1 })),
            (put("session/s1", 0, &[]), written(1)),
            (put("session/s1", 1, &[]), written(2)),
            (put("session/s1", 2, &["feedback/x"]), written(3)),
            (put("business/b1", 7, &["bsettle/b1/s1"]), written(8)),
            (put("session/s1", 3, &[]), written(4)),
        ];
        let found = check(&log(old));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("without the session's state"), "{found:?}");
        assert!(found[1].contains("written by 4 commands"), "{found:?}");
    }

    #[test]
    fn refused_commands_and_bare_claims_are_not_counted() {
        let mut flow = three_commit_flow();
        // A takeover's claim, and a settlement refused as a whole (the session moved on).
        flow.insert(2, (claim("session/s1"), CommandResult::Claimed(Owner { node: 2, epoch: 2 })));
        flow.insert(
            2,
            (
                Command::Atomic(vec![put("business/b1", 7, &["bsettle/b1/s1"]), put("session/s1", 1, &[])]),
                CommandResult::Refused(svea_storage::Refusal::AtomicPart {
                    part: 1,
                    refusal: Box::new(svea_storage::Refusal::VersionMismatch { expected: 1, current: 2 }),
                }),
            ),
        );
        let found = check(&log(flow));
        assert!(found.is_empty(), "{found:?}");
    }
}
