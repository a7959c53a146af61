//! Owner fencing and versioning, through the same deterministic `execute` every replica runs.

use std::collections::BTreeMap;

use svea_storage::machine::execute;
use svea_storage::{Command, CommandResult, IndexMode, IndexWrite, Owner, Refusal};

#[derive(Default)]
struct Kv(BTreeMap<Vec<u8>, Vec<u8>>);

impl Kv {
    fn run(&mut self, cmd: Command) -> CommandResult {
        let (res, muts) = execute(|k| Ok(self.0.get(k).cloned()), &cmd).expect("execute");
        for (k, v) in muts {
            match v {
                Some(v) => self.0.insert(k, v),
                None => self.0.remove(&k),
            };
        }
        res
    }
}

pub(crate) fn claim(actor: &str, node: u64, expected_epoch: u64) -> Command {
    Command::Claim { actor: actor.into(), node, expected_epoch }
}

pub(crate) fn put(actor: &str, node: u64, epoch: u64, expected_version: u64, state: &[u8], idx: Vec<IndexWrite>) -> Command {
    Command::Put {
        actor: actor.into(),
        node,
        epoch,
        expected_version,
        state: state.to_vec(),
        index_writes: idx,
        index_deletes: vec![],
    }
}

#[test]
fn claims_increase_the_epoch_only_from_the_expected_one() {
    let mut kv = Kv::default();
    assert_eq!(kv.run(claim("session/a", 1, 0)), CommandResult::Claimed(Owner { node: 1, epoch: 1 }));
    // A second claimer that still believes epoch 0 is refused and told who owns it.
    assert_eq!(
        kv.run(claim("session/a", 2, 0)),
        CommandResult::Refused(Refusal::EpochMoved { current: Some(Owner { node: 1, epoch: 1 }) })
    );
    assert_eq!(kv.run(claim("session/a", 2, 1)), CommandResult::Claimed(Owner { node: 2, epoch: 2 }));
}

#[test]
fn writes_from_a_stale_epoch_are_refused_and_change_nothing() {
    let mut kv = Kv::default();
    kv.run(claim("business/b", 1, 0));
    assert_eq!(kv.run(put("business/b", 1, 1, 0, b"v1", vec![])), CommandResult::Written { version: 1 });
    kv.run(claim("business/b", 2, 1));
    let before = kv.0.clone();
    // Node 1 still thinks it owns the actor at epoch 1.
    assert_eq!(
        kv.run(put("business/b", 1, 1, 1, b"stale", vec![])),
        CommandResult::Refused(Refusal::NotOwner { current: Some(Owner { node: 2, epoch: 2 }) })
    );
    // Right epoch number but wrong node is refused too.
    assert!(matches!(kv.run(put("business/b", 1, 2, 1, b"x", vec![])), CommandResult::Refused(Refusal::NotOwner { .. })));
    assert_eq!(kv.0, before);
    assert_eq!(kv.run(put("business/b", 2, 2, 1, b"v2", vec![])), CommandResult::Written { version: 2 });
}

#[test]
fn a_stale_version_is_refused() {
    let mut kv = Kv::default();
    kv.run(claim("session/s", 1, 0));
    kv.run(put("session/s", 1, 1, 0, b"a", vec![]));
    assert_eq!(
        kv.run(put("session/s", 1, 1, 0, b"b", vec![])),
        CommandResult::Refused(Refusal::VersionMismatch { expected: 0, current: 1 })
    );
}

#[test]
fn insert_new_records_enforce_uniqueness_atomically_with_the_state_write() {
    let mut kv = Kv::default();
    let rec = |v: &[u8]| IndexWrite { key: "txn/b1/T-1".into(), value: v.to_vec(), mode: IndexMode::InsertNew };
    kv.run(claim("session/s1", 1, 0));
    kv.run(claim("session/s2", 1, 0));
    assert_eq!(kv.run(put("session/s1", 1, 1, 0, b"one", vec![rec(b"s1")])), CommandResult::Written { version: 1 });
    // Retrying with the same value is idempotent.
    assert_eq!(kv.run(put("session/s1", 1, 1, 1, b"one", vec![rec(b"s1")])), CommandResult::Written { version: 2 });
    let before = kv.0.clone();
    // Another session reusing the transaction id is refused, and its state write does not happen.
    assert_eq!(
        kv.run(put("session/s2", 1, 1, 0, b"two", vec![rec(b"s2")])),
        CommandResult::Refused(Refusal::IndexTaken { key: "txn/b1/T-1".into(), existing: b"s1".to_vec() })
    );
    assert_eq!(kv.0, before);
}
