//! Every applied command gets its own answer: on the stream of applied commands every node
//! reports (a batch entry's commands one by one), each result is one the state machine can give
//! that very command. A claim is answered `Claimed` with the claimer as owner at the next epoch,
//! or `EpochMoved`; a put is answered `Written` with the version after the one it expected, or
//! `NotOwner`, `VersionMismatch` (naming the version it expected) or `IndexTaken`; a nested batch
//! is refused. A state machine that hands a batch's results to the wrong commands (or applies
//! them out of order and answers in that order) fails this.

use svea_storage::{Command, CommandResult, Owner, Refusal};

use super::acked_writes::cap;
use super::single_owner::describe;
use crate::sim::host::ApplyLog;

/// Checks every record of the apply log; returns at most a few lines.
pub fn check(log: &ApplyLog) -> Vec<String> {
    let wrong = log.records.iter().filter(|a| !answers(&a.command, &a.result)).map(|a| {
        format!(
            "answers: node {} at log index {} position {} answered {:?} to {}",
            a.node,
            a.index,
            a.position,
            a.result,
            describe(&a.command)
        )
    });
    cap(wrong.collect())
}

/// Whether `result` is an answer `execute` can give to `command`.
fn answers(command: &Command, result: &CommandResult) -> bool {
    match (command, result) {
        (Command::Claim { node, expected_epoch, .. }, CommandResult::Claimed(owner)) => {
            *owner == Owner { node: *node, epoch: expected_epoch + 1 }
        }
        (Command::Claim { .. }, CommandResult::Refused(Refusal::EpochMoved { .. })) => true,
        (Command::Put { expected_version, .. }, CommandResult::Written { version }) => *version == expected_version + 1,
        (Command::Put { expected_version, .. }, CommandResult::Refused(Refusal::VersionMismatch { expected, .. })) => {
            expected == expected_version
        }
        (Command::Put { .. }, CommandResult::Refused(Refusal::NotOwner { .. } | Refusal::IndexTaken { .. })) => true,
        (Command::Batch(_), CommandResult::Refused(Refusal::NestedBatch)) => true,
        // An atomic command: every part answered as alone, or one refused part named and no more.
        (Command::Atomic(parts), CommandResult::Atomic(results)) => {
            parts.len() == results.len() && parts.iter().zip(results).all(|(p, r)| !matches!(r, CommandResult::Refused(_)) && answers(p, r))
        }
        (Command::Atomic(parts), CommandResult::Refused(Refusal::AtomicPart { part, refusal })) => {
            let refused = |p: &Command| matches!(p, Command::Batch(_) | Command::Atomic(_)) && **refusal == Refusal::NestedBatch || answers(p, &CommandResult::Refused((**refusal).clone()));
            usize::try_from(*part).ok().and_then(|i| parts.get(i)).is_some_and(refused)
        }
        (Command::SetCluster { .. }, CommandResult::Empty) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::host::Applied;

    fn put(actor: &str, expected_version: u64) -> Command {
        Command::Put {
            actor: actor.into(),
            node: 1,
            epoch: 1,
            expected_version,
            state: vec![],
            index_writes: vec![],
            index_deletes: vec![],
        }
    }

    fn log(records: Vec<(Command, CommandResult)>) -> ApplyLog {
        let records = records
            .into_iter()
            .enumerate()
            .map(|(position, (command, result))| Applied { node: 1, group: 0, index: 7, position, term: 1, command, result })
            .collect();
        ApplyLog { records, overflowed: false }
    }

    #[test]
    fn results_handed_to_the_wrong_commands_are_rejected() {
        let right = log(vec![
            (put("session/a", 3), CommandResult::Written { version: 4 }),
            (put("session/b", 0), CommandResult::Written { version: 1 }),
        ]);
        assert!(check(&right).is_empty(), "{:?}", check(&right));
        let swapped = log(vec![
            (put("session/a", 3), CommandResult::Written { version: 1 }),
            (put("session/b", 0), CommandResult::Written { version: 4 }),
        ]);
        assert_eq!(check(&swapped).len(), 2, "{:?}", check(&swapped));
        let claim = Command::Claim { actor: "session/c".into(), node: 2, expected_epoch: 1 };
        assert_eq!(check(&log(vec![(claim, CommandResult::Written { version: 1 })])).len(), 1);
    }
}
