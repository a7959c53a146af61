//! The deterministic heart of the state machine: how one command changes the key space.
//!
//! [`execute`] reads through a lookup function and returns the result plus the mutations to write
//! atomically. It never touches clocks, randomness or I/O, so every replica (and the in-memory
//! store of the simulations) computes the same thing from the same log.
//!
//! A [`Command::Batch`] runs its commands one after the other against an overlay of the
//! mutations of the commands before it, so each sees their effects; the entry's mutations are
//! the overlay's final contents, written in one atomic batch by the state machine.
//!
//! A [`Command::Atomic`] runs its parts the same way, but all or nothing: the first refused
//! part discards the overlay, so the command writes nothing and says which part was refused.

use std::collections::BTreeMap;

use crate::codec::{decode, encode};
use crate::error::Error;
use crate::types::{Command, CommandResult, IndexMode, Owner, Refusal, Versioned};

/// Key prefix of owner records.
pub const OWNER_PREFIX: &[u8] = b"o/";
/// Key prefix of actor state records.
pub const STATE_PREFIX: &[u8] = b"s/";
/// Key prefix of secondary records.
pub const INDEX_PREFIX: &[u8] = b"i/";

/// Key prefix of cluster-wide records ([`Command::SetCluster`]).
pub const CLUSTER_PREFIX: &[u8] = b"c/";

/// Storage key of a cluster-wide record.
pub fn cluster_key(key: &str) -> Vec<u8> {
    [CLUSTER_PREFIX, key.as_bytes()].concat()
}
/// Storage key of an actor's owner record.
pub fn owner_key(actor: &str) -> Vec<u8> {
    [OWNER_PREFIX, actor.as_bytes()].concat()
}
/// Storage key of an actor's state record.
pub fn state_key(actor: &str) -> Vec<u8> {
    [STATE_PREFIX, actor.as_bytes()].concat()
}
/// Storage key of a secondary record.
pub fn index_key(key: &str) -> Vec<u8> {
    [INDEX_PREFIX, key.as_bytes()].concat()
}

/// One write produced by a command: `None` deletes the key.
pub type Mutation = (Vec<u8>, Option<Vec<u8>>);

/// Applies `cmd` against the key space visible through `get`.
pub fn execute<F>(get: F, cmd: &Command) -> Result<(CommandResult, Vec<Mutation>), Error>
where
    F: Fn(&[u8]) -> Result<Option<Vec<u8>>, Error>,
{
    match cmd {
        Command::Batch(cmds) => execute_batch(&get, cmds),
        Command::Atomic(parts) => execute_atomic(&get, parts),
        single => execute_one(&get, single),
    }
}

/// Applies the commands of a batch in order, each against the key space as the commands
/// before it left it. A nested batch is refused and changes nothing.
fn execute_batch<F>(get: &F, cmds: &[Command]) -> Result<(CommandResult, Vec<Mutation>), Error>
where
    F: Fn(&[u8]) -> Result<Option<Vec<u8>>, Error>,
{
    // A BTreeMap: the entry's mutations come out in key order on every replica.
    let mut overlay: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    let mut results = Vec::with_capacity(cmds.len());
    let backwards = crate::planted::apply_batch_out_of_order();
    for i in 0..cmds.len() {
        let cmd = &cmds[if backwards { cmds.len() - 1 - i } else { i }];
        if matches!(cmd, Command::Batch(_)) {
            results.push(CommandResult::Refused(Refusal::NestedBatch));
            continue;
        }
        let seen = |k: &[u8]| match overlay.get(k) {
            Some(v) => Ok(v.clone()),
            None => get(k),
        };
        let (result, muts) = match cmd {
            Command::Atomic(parts) => execute_atomic(&seen, parts)?,
            single => execute_one(&seen, single)?,
        };
        overlay.extend(muts);
        results.push(result);
    }
    Ok((CommandResult::Batch(results), overlay.into_iter().collect()))
}

/// Applies the parts of an atomic command in order, each against the key space as the parts
/// before it left it; the first refused part refuses the whole command and nothing is written.
fn execute_atomic<F>(get: &F, parts: &[Command]) -> Result<(CommandResult, Vec<Mutation>), Error>
where
    F: Fn(&[u8]) -> Result<Option<Vec<u8>>, Error>,
{
    let mut overlay: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    let mut results = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let refuse = |refusal: Refusal| {
            let part = u32::try_from(i).unwrap_or(u32::MAX);
            Ok((CommandResult::Refused(Refusal::AtomicPart { part, refusal: Box::new(refusal) }), vec![]))
        };
        if matches!(part, Command::Batch(_) | Command::Atomic(_)) {
            return refuse(Refusal::NestedBatch);
        }
        let seen = |k: &[u8]| match overlay.get(k) {
            Some(v) => Ok(v.clone()),
            None => get(k),
        };
        match execute_one(&seen, part)? {
            (CommandResult::Refused(r), _) => return refuse(r),
            (result, muts) => {
                overlay.extend(muts);
                results.push(result);
            }
        }
    }
    Ok((CommandResult::Atomic(results), overlay.into_iter().collect()))
}

/// Applies one command that is not a batch.
fn execute_one<F>(get: &F, cmd: &Command) -> Result<(CommandResult, Vec<Mutation>), Error>
where
    F: Fn(&[u8]) -> Result<Option<Vec<u8>>, Error>,
{
    match cmd {
        Command::Batch(_) | Command::Atomic(_) => Ok((CommandResult::Refused(Refusal::NestedBatch), vec![])),
        // Unfenced on purpose: a cluster-wide record belongs to no actor, only the operator API
        // writes it, and the last write wins on every replica alike.
        Command::SetCluster { key, value } => Ok((CommandResult::Empty, vec![(cluster_key(key), value.clone())])),
        Command::Claim { actor, node, expected_epoch } => {
            let key = owner_key(actor);
            let current: Option<Owner> = match get(&key)? {
                None => None,
                Some(b) => Some(decode(&b).map_err(Error::corrupt("owner record"))?),
            };
            let epoch = current.map(|o| o.epoch).unwrap_or(0);
            if epoch != *expected_epoch {
                return Ok((CommandResult::Refused(Refusal::EpochMoved { current }), vec![]));
            }
            let owner = Owner { node: *node, epoch: epoch + 1 };
            let bytes = encode(&owner).map_err(Error::corrupt("owner record"))?;
            Ok((CommandResult::Claimed(owner), vec![(key, Some(bytes))]))
        }
        Command::Put { actor, node, epoch, expected_version, state, index_writes, index_deletes } => {
            let current: Option<Owner> = match get(&owner_key(actor))? {
                None => None,
                Some(b) => Some(decode(&b).map_err(Error::corrupt("owner record"))?),
            };
            let stale_accepted = crate::planted::accept_stale_epoch() && current.is_some_and(|c| *epoch < c.epoch);
            if current != Some(Owner { node: *node, epoch: *epoch }) && !stale_accepted {
                return Ok((CommandResult::Refused(Refusal::NotOwner { current }), vec![]));
            }
            let skey = state_key(actor);
            let version = match get(&skey)? {
                None => 0,
                Some(b) => decode::<Versioned>(&b).map_err(Error::corrupt("state record"))?.version,
            };
            if version != *expected_version {
                return Ok((
                    CommandResult::Refused(Refusal::VersionMismatch { expected: *expected_version, current: version }),
                    vec![],
                ));
            }
            let mut muts = Vec::with_capacity(1 + index_writes.len() + index_deletes.len());
            for w in index_writes {
                let ikey = index_key(&w.key);
                if w.mode == IndexMode::InsertNew {
                    if let Some(existing) = get(&ikey)? {
                        if existing != w.value {
                            return Ok((
                                CommandResult::Refused(Refusal::IndexTaken { key: w.key.clone(), existing }),
                                vec![],
                            ));
                        }
                    }
                }
                muts.push((ikey, Some(w.value.clone())));
            }
            for k in index_deletes {
                muts.push((index_key(k), None));
            }
            let new_version = version + 1;
            let rec = Versioned { version: new_version, bytes: state.clone() };
            muts.push((skey, Some(encode(&rec).map_err(Error::corrupt("state record"))?)));
            Ok((CommandResult::Written { version: new_version }, muts))
        }
    }
}
