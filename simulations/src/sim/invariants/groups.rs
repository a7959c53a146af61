//! Every command is applied in the Raft group its keys belong to (issue 22): an actor's owner and
//! state records, and the secondary records placed in a fixed group, only ever in that group's
//! log, by the node's own placement (`svea_node::actors::groups::KeyPlacer`). A write routed to
//! another group (the planted bug `wrong-group`) would still apply there, fenced and answered,
//! and split an actor's history over two logs; this check sees it on the first such command.

use svea_cluster::{Placement, Placer};
use svea_node::actors::groups::KeyPlacer;
use svea_storage::{Command, GroupId};

use super::acked_writes::cap;
use super::single_owner::describe;
use crate::sim::host::ApplyLog;

/// Checks every applied command against a placement over `groups` groups.
pub fn check(log: &ApplyLog, groups: GroupId) -> Vec<String> {
    let placer = KeyPlacer::new(groups);
    let wrong = log.records.iter().filter_map(|a| {
        let mut keys = Vec::new();
        collect(&a.command, &placer, &mut keys);
        let (key, home) = keys.into_iter().find(|(_, g)| *g != a.group)?;
        Some(format!("groups: node {} applied {} in group {} at index {}, but {key} belongs to group {home}", a.node, describe(&a.command), a.group, a.index))
    });
    cap(wrong.collect())
}

/// Every key of `cmd` whose group the placement fixes, with that group.
fn collect(cmd: &Command, placer: &KeyPlacer, out: &mut Vec<(String, GroupId)>) {
    match cmd {
        Command::SetCluster { key, .. } => out.push((key.clone(), 0)),
        Command::Claim { actor, .. } => out.push((actor.clone(), placer.actor(actor))),
        Command::Put { actor, index_writes, index_deletes, .. } => {
            out.push((actor.clone(), placer.actor(actor)));
            for key in index_writes.iter().map(|w| &w.key).chain(index_deletes) {
                if let Placement::Group(g) = placer.index(key) {
                    out.push((key.clone(), g));
                }
            }
        }
        Command::Batch(cmds) | Command::Atomic(cmds) => cmds.iter().for_each(|c| collect(c, placer, out)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::host::Applied;
    use svea_storage::CommandResult;

    fn claim(actor: &str, group: GroupId) -> Applied {
        let command = Command::Claim { actor: actor.into(), node: 1, expected_epoch: 0 };
        Applied { node: 1, group, index: 3, position: 0, term: 1, command, result: CommandResult::Claimed(svea_storage::Owner { node: 1, epoch: 1 }) }
    }

    #[test]
    fn a_command_in_its_own_group_passes_and_one_in_another_group_is_reported() {
        let business = "business/b_20000000000000000000000000000000";
        let right = ApplyLog { records: vec![claim(business, 2)], overflowed: false };
        assert!(check(&right, 3).is_empty());
        let wrong = ApplyLog { records: vec![claim(business, 1)], overflowed: false };
        let found = check(&wrong, 3);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("belongs to group 2"), "{found:?}");
    }
}
