//! Batch entries: a batch's commands apply in order, each sees the ones before it and gets its
//! own result, a refusal refuses only its own command, batches do not nest, and the state
//! machine reports every command of a batch to its observer and counts it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::storage::RaftStateMachine;
use openraft::{CommittedLeaderId, LogId};
use svea_storage::{Command, CommandResult, Owner, Refusal};

use crate::fencing::claim;

fn put(actor: &str, node: u64, epoch: u64, expected_version: u64, state: &[u8]) -> Command {
    crate::fencing::put(actor, node, epoch, expected_version, state, vec![])
}

use crate::run;

#[test]
fn a_batch_applies_in_order_and_each_command_sees_the_ones_before_it() {
    let mut kv = BTreeMap::new();
    let batch = Command::Batch(vec![
        claim("session/a", 1, 0),
        put("session/a", 1, 1, 0, b"one"),
        put("session/a", 1, 1, 1, b"two"),
        claim("session/a", 2, 1),
    ]);
    assert_eq!(
        run(&mut kv, &batch),
        CommandResult::Batch(vec![
            CommandResult::Claimed(Owner { node: 1, epoch: 1 }),
            CommandResult::Written { version: 1 },
            CommandResult::Written { version: 2 },
            CommandResult::Claimed(Owner { node: 2, epoch: 2 }),
        ])
    );
    // The same commands one entry each leave exactly the same store.
    let mut one_by_one = BTreeMap::new();
    if let Command::Batch(cmds) = &batch {
        for cmd in cmds {
            run(&mut one_by_one, cmd);
        }
    }
    assert_eq!(kv, one_by_one);
}

#[test]
fn a_refused_command_refuses_only_itself() {
    let mut kv = BTreeMap::new();
    run(&mut kv, &claim("business/b", 1, 0));
    let batch = Command::Batch(vec![
        put("business/b", 2, 1, 0, b"not the owner"),
        put("business/b", 1, 1, 5, b"stale version"),
        put("business/b", 1, 1, 0, b"ok"),
        claim("business/b", 3, 0),
    ]);
    assert_eq!(
        run(&mut kv, &batch),
        CommandResult::Batch(vec![
            CommandResult::Refused(Refusal::NotOwner { current: Some(Owner { node: 1, epoch: 1 }) }),
            CommandResult::Refused(Refusal::VersionMismatch { expected: 5, current: 0 }),
            CommandResult::Written { version: 1 },
            CommandResult::Refused(Refusal::EpochMoved { current: Some(Owner { node: 1, epoch: 1 }) }),
        ])
    );
}

#[test]
fn a_nested_batch_is_refused_and_changes_nothing() {
    let mut kv = BTreeMap::new();
    let batch = Command::Batch(vec![Command::Batch(vec![claim("session/n", 1, 0)]), claim("session/m", 1, 0)]);
    assert_eq!(
        run(&mut kv, &batch),
        CommandResult::Batch(vec![
            CommandResult::Refused(Refusal::NestedBatch),
            CommandResult::Claimed(Owner { node: 1, epoch: 1 }),
        ])
    );
    let mut only_m = BTreeMap::new();
    run(&mut only_m, &claim("session/m", 1, 0));
    assert_eq!(kv, only_m);
}

#[test]
fn the_state_machine_reports_and_counts_every_command_of_a_batch() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let disk = svea_storage::engine::mem::MemDisk::new();
    let seen: Arc<Mutex<Vec<(u64, usize, CommandResult)>>> = Arc::default();
    rt.block_on(async {
        let (_log, mut sm) = svea_storage::open_in_memory(&disk, Duration::from_secs(10)).expect("open");
        let record = seen.clone();
        sm.set_apply_observer(Arc::new(move |log_id, position, _cmd: &Command, result: &CommandResult| {
            record.lock().expect("observer lock").push((log_id.index, position, result.clone()));
        }));
        let entry = |index, cmd| openraft::Entry::<svea_storage::TypeConfig> {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: openraft::EntryPayload::Normal(cmd),
        };
        let results = sm
            .apply([
                entry(1, claim("session/x", 1, 0)),
                entry(2, Command::Batch(vec![put("session/x", 1, 1, 0, b"x"), claim("session/y", 1, 0)])),
            ])
            .await
            .expect("apply");
        assert_eq!(results.len(), 2, "one result per entry");
        assert_eq!(sm.commands_applied(), 3, "a batch's commands count one each");
        assert_eq!(sm.view().last_applied_index().expect("read"), 2);
    });
    let seen = seen.lock().expect("observer lock").clone();
    assert_eq!(
        seen,
        vec![
            (1, 0, CommandResult::Claimed(Owner { node: 1, epoch: 1 })),
            (2, 0, CommandResult::Written { version: 1 }),
            (2, 1, CommandResult::Claimed(Owner { node: 1, epoch: 1 })),
        ]
    );
}
