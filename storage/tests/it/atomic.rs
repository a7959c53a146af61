//! Atomic commands (issue 22): several actors' fenced writes in one command, all or nothing.
//! Every part is checked against the parts before it, a refused part leaves the store exactly as
//! it was and is named in the answer, each actor is fenced by its own owner and version, a claim
//! and the first write of a new actor make one commit, and the outcome is the same on every
//! replica (inside a batch too).

use std::collections::BTreeMap;

use svea_storage::codec::{decode, encode};
use svea_storage::{Command, CommandResult, IndexMode, IndexWrite, Owner, Refusal};

use crate::fencing::{claim, put};

type Store = BTreeMap<Vec<u8>, Vec<u8>>;

use crate::run;

fn insert_new(key: &str, value: &[u8]) -> IndexWrite {
    IndexWrite { key: key.into(), value: value.to_vec(), mode: IndexMode::InsertNew }
}

/// A business (node 1, epoch 1, version 1) and a session (node 2, epoch 1, version 1).
fn two_actors() -> Store {
    let mut kv = Store::new();
    for cmd in [claim("business/b", 1, 0), put("business/b", 1, 1, 0, b"b0", vec![]), claim("session/s", 2, 0), put("session/s", 2, 1, 0, b"s0", vec![])] {
        run(&mut kv, &cmd);
    }
    kv
}

fn refused_part(part: u32, refusal: Refusal) -> CommandResult {
    CommandResult::Refused(Refusal::AtomicPart { part, refusal: Box::new(refusal) })
}

#[test]
fn a_claim_and_the_first_write_of_a_new_actor_are_one_commit() {
    let mut kv = Store::new();
    let create = Command::Atomic(vec![claim("session/new", 3, 0), put("session/new", 3, 1, 0, b"opened", vec![insert_new("active/l/d", b"new")])]);
    assert_eq!(
        run(&mut kv, &create),
        CommandResult::Atomic(vec![CommandResult::Claimed(Owner { node: 3, epoch: 1 }), CommandResult::Written { version: 1 }])
    );
    // The same two commands one by one leave the same store.
    let mut one_by_one = Store::new();
    run(&mut one_by_one, &claim("session/new", 3, 0));
    run(&mut one_by_one, &put("session/new", 3, 1, 0, b"opened", vec![insert_new("active/l/d", b"new")]));
    assert_eq!(kv, one_by_one);
    // A second creator (it saw no owner either) is refused at its claim, and its write with it.
    let before = kv.clone();
    let again = Command::Atomic(vec![claim("session/new", 4, 0), put("session/new", 4, 1, 0, b"other", vec![])]);
    assert_eq!(run(&mut kv, &again), refused_part(0, Refusal::EpochMoved { current: Some(Owner { node: 3, epoch: 1 }) }));
    assert_eq!(kv, before, "a refused creation wrote nothing");
}

#[test]
fn two_actors_change_together_each_fenced_by_its_own_owner() {
    let mut kv = two_actors();
    let settle = Command::Atomic(vec![
        put("business/b", 1, 1, 1, b"b1", vec![insert_new("bsettle/b/s", b"paid")]),
        put("session/s", 2, 1, 1, b"s1", vec![]),
    ]);
    assert_eq!(run(&mut kv, &settle), CommandResult::Atomic(vec![CommandResult::Written { version: 2 }, CommandResult::Written { version: 2 }]));
    // A retry of the same command is refused as a whole: the business's version moved on.
    let before = kv.clone();
    assert_eq!(run(&mut kv, &settle), refused_part(0, Refusal::VersionMismatch { expected: 1, current: 2 }));
    assert_eq!(kv, before);
}

#[test]
fn any_refused_part_writes_nothing_and_is_named() {
    let base = two_actors();
    let business = || put("business/b", 1, 1, 1, b"b1", vec![insert_new("bsettle/b/s", b"paid")]);
    let cases = [
        // The session moved on (its actor wrote meanwhile): the business's settlement is not written either.
        (put("session/s", 2, 1, 0, b"s1", vec![]), Refusal::VersionMismatch { expected: 0, current: 1 }),
        // The session was taken over by another node (epoch 2): the old owner's fence no longer holds.
        (put("session/s", 2, 0, 1, b"s1", vec![]), Refusal::NotOwner { current: Some(Owner { node: 2, epoch: 1 }) }),
        // The same epoch from another node is not the owner either.
        (put("session/s", 9, 1, 1, b"s1", vec![]), Refusal::NotOwner { current: Some(Owner { node: 2, epoch: 1 }) }),
        // An insert-new record another value holds.
        (put("session/s", 2, 1, 1, b"s1", vec![insert_new("bsettle/b/s", b"other")]), Refusal::IndexTaken { key: "bsettle/b/s".into(), existing: b"paid".to_vec() }),
        // Nesting is refused.
        (Command::Batch(vec![]), Refusal::NestedBatch),
        (Command::Atomic(vec![]), Refusal::NestedBatch),
    ];
    for (second, refusal) in cases {
        let mut kv = base.clone();
        let cmd = Command::Atomic(vec![business(), second.clone()]);
        assert_eq!(run(&mut kv, &cmd), refused_part(1, refusal), "{second:?}");
        assert_eq!(kv, base, "nothing of {second:?}'s command was written");
    }
}

#[test]
fn each_part_sees_the_parts_before_it() {
    let mut kv = two_actors();
    // Two writes of the same actor: the second must expect the first's version.
    let chained = Command::Atomic(vec![put("session/s", 2, 1, 1, b"s1", vec![]), put("session/s", 2, 1, 2, b"s2", vec![])]);
    assert_eq!(run(&mut kv, &chained), CommandResult::Atomic(vec![CommandResult::Written { version: 2 }, CommandResult::Written { version: 3 }]));
    // A record written by an earlier part is seen by a later part's insert-new.
    let before = kv.clone();
    let clash = Command::Atomic(vec![
        put("business/b", 1, 1, 1, b"b1", vec![insert_new("bsettle/b/s", b"one")]),
        put("session/s", 2, 1, 3, b"s3", vec![insert_new("bsettle/b/s", b"two")]),
    ]);
    assert_eq!(run(&mut kv, &clash), refused_part(1, Refusal::IndexTaken { key: "bsettle/b/s".into(), existing: b"one".to_vec() }));
    assert_eq!(kv, before);
}

#[test]
fn inside_a_batch_an_atomic_command_is_one_unit_and_replicas_agree() {
    let cmds = Command::Batch(vec![
        Command::Atomic(vec![put("business/b", 1, 1, 1, b"b1", vec![]), put("session/s", 2, 1, 0, b"stale", vec![])]),
        put("business/b", 1, 1, 1, b"b1-alone", vec![]),
        Command::Atomic(vec![claim("session/t", 1, 0), put("session/t", 1, 1, 0, b"t", vec![])]),
    ]);
    let mut a = two_actors();
    let mut b = two_actors();
    let result = run(&mut a, &cmds);
    assert_eq!(
        result,
        CommandResult::Batch(vec![
            refused_part(1, Refusal::VersionMismatch { expected: 0, current: 1 }),
            // The refused atomic command left the business at version 1 for the next command.
            CommandResult::Written { version: 2 },
            CommandResult::Atomic(vec![CommandResult::Claimed(Owner { node: 1, epoch: 1 }), CommandResult::Written { version: 1 }]),
        ])
    );
    // Deterministic: another replica applying the same entry gets the same answer and store.
    assert_eq!(run(&mut b, &cmds), result);
    assert_eq!(a, b);
}

#[test]
fn atomic_commands_encode_without_changing_the_older_commands() {
    // Appending the variant keeps every older command's encoding (bincode writes the variant's
    // position first): a log written before it decodes as it did, so svea_storage::FORMAT stays.
    let claim_bytes = encode(&claim("session/a", 1, 0)).expect("encode");
    assert_eq!(claim_bytes[0], 0, "Claim is still variant 0");
    let atomic = Command::Atomic(vec![claim("session/a", 1, 0)]);
    let bytes = encode(&atomic).expect("encode");
    assert_eq!(bytes[0], 4, "Atomic is the last variant (after Claim, Put, Batch, SetCluster)");
    assert_eq!(&bytes[2..], &claim_bytes[..], "its parts are encoded as they are alone");
    assert_eq!(decode::<Command>(&bytes).expect("decode"), atomic);
}
