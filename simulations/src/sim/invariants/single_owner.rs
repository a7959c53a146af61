//! At most one owner's writes accepted per actor and epoch, checked on the stream of applied
//! commands every node reports:
//!
//! - replicas agree: in each Raft group, the same log index (and position in a batch entry) applies the same command
//!   with the same result on every node (and on one node across restarts). A committed entry that
//!   was lost and its index reused shows up here;
//! - fencing: replaying the log in index order (a batch's commands in their order), every accepted claim moves the actor's epoch by
//!   exactly one, and every accepted write comes from the node that claimed the actor's current
//!   epoch. A state machine that accepts a stale epoch fails this.

use std::collections::BTreeMap;

use svea_storage::{Command, CommandResult, Owner};

use crate::sim::host::{Applied, ApplyLog};

/// Checks agreement and fencing; returns at most a few lines.
pub fn check(log: &ApplyLog) -> Vec<String> {
    const LINES_MAX: usize = 8;
    let mut out = Vec::new();
    if log.overflowed {
        out.push("single owner: the apply log overflowed; the run is too long to check".into());
    }
    let mut by_index: BTreeMap<(svea_storage::GroupId, u64, usize), &Applied> = BTreeMap::new();
    for a in &log.records {
        match by_index.get(&(a.group, a.index, a.position)) {
            None => {
                by_index.insert((a.group, a.index, a.position), a);
            }
            Some(first) => {
                if (first.term, &first.command, &first.result) != (a.term, &a.command, &a.result) && out.len() < LINES_MAX {
                    out.push(format!(
                        "replicas disagree in group {} at log index {} position {}: node {} applied {} (term {}) -> {:?}, node {} applied {} (term {}) -> {:?}",
                        a.group,
                        a.index,
                        a.position,
                        first.node,
                        describe(&first.command),
                        first.term,
                        first.result,
                        a.node,
                        describe(&a.command),
                        a.term,
                        a.result
                    ));
                }
            }
        }
    }
    let mut owners: BTreeMap<&str, Owner> = BTreeMap::new();
    for ((_, index, _), a) in &by_index {
        if out.len() >= LINES_MAX {
            break;
        }
        // An accepted atomic command's parts are checked like commands of their own, in order.
        let parts: Vec<(&Command, &CommandResult)> = match (&a.command, &a.result) {
            (Command::Atomic(cmds), CommandResult::Atomic(results)) => cmds.iter().zip(results).collect(),
            (cmd, result) => vec![(cmd, result)],
        };
        for (command, result) in parts {
            match (command, result) {
                (Command::Claim { actor, node, .. }, CommandResult::Claimed(new)) => {
                    let before = owners.get(actor.as_str()).map(|o| o.epoch).unwrap_or(0);
                    if new.epoch != before + 1 || new.node != *node {
                        out.push(format!(
                            "single owner: claim of {actor} at index {index} gave {new:?} after epoch {before}"
                        ));
                    }
                    owners.insert(actor, *new);
                }
                (Command::Put { actor, node, epoch, .. }, CommandResult::Written { .. }) => {
                    let current = owners.get(actor.as_str()).copied();
                    if current != Some(Owner { node: *node, epoch: *epoch }) {
                        out.push(format!(
                            "single owner: write to {actor} at index {index} by node {node} epoch {epoch} accepted while the owner was {current:?}"
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// A command in a few words (no state bytes), for violation lines.
pub(super) fn describe(c: &Command) -> String {
    match c {
        Command::Claim { actor, node, expected_epoch } => format!("claim {actor} by {node} from epoch {expected_epoch}"),
        Command::Put { actor, node, epoch, expected_version, .. } => {
            format!("put {actor} by {node}@{epoch} on version {expected_version}")
        }
        Command::Batch(cmds) => format!("a nested batch of {} commands", cmds.len()),
        Command::Atomic(parts) => format!("atomically [{}]", parts.iter().map(describe).collect::<Vec<_>>().join("; ")),
        Command::SetCluster { key, value } => format!("set cluster record {key} ({})", if value.is_some() { "set" } else { "deleted" }),
    }
}
