//! Ownership and fenced persistence of one actor's state, shared by every actor type.

use serde::de::DeserializeOwned;
use serde::Serialize;
use svea_storage::codec::{decode, encode};
use svea_storage::{Command, CommandResult, IndexWrite, Owner, Refusal};

use super::{ActorEnv, ActorError};

/// How many times activation retries a claim that raced with another claimer.
pub const CLAIM_ATTEMPTS_MAX: usize = 3;

/// An actor's claim on its key plus the version of the state it holds.
#[derive(Debug, Clone)]
pub struct OwnedCell {
    /// Actor key as stored (`session/<id>`).
    pub key: String,
    /// The ownership this node holds.
    pub owner: Owner,
    /// Version of the state last read or written.
    pub version: u64,
}

/// Outcome of a fenced write.
#[derive(Debug)]
pub enum Persisted {
    /// Written; the cell's version advanced.
    Ok,
    /// An insert-new secondary record exists with another value; nothing was written.
    IndexTaken {
        /// The record key.
        key: String,
        /// Its current value.
        existing: Vec<u8>,
    },
}

impl OwnedCell {
    /// Claims `key` for this node with the next epoch and loads its state. The claim is applied
    /// locally before the state is read, so the read sees every write of earlier owners.
    ///
    /// Claims only from this node's own earlier claim, from no owner, or from an owner the failure
    /// detector has not heard from for `failover_after` (a takeover); a live owner elsewhere is
    /// never displaced: that answers `Fenced` and the registry routes the call there.
    pub async fn activate<S: DeserializeOwned>(env: &ActorEnv, key: String) -> Result<(OwnedCell, Option<S>), ActorError> {
        let node = env.cluster.id();
        for _ in 0..CLAIM_ATTEMPTS_MAX {
            let current = env.cluster.view().owner(&key)?;
            if let Some(o) = current {
                if o.node != node {
                    if !super::placement::owner_lost(&env.cluster, o.node) {
                        return Err(ActorError::Fenced { key });
                    }
                    env.cluster.counters().actor_takeover();
                    tracing::warn!(event = "actor_takeover", actor = %key, from = o.node, epoch = o.epoch + 1, "taking over actor from unreachable owner");
                }
            }
            let expected_epoch = current.map(|o| o.epoch).unwrap_or(0);
            let committed = env.cluster.write(Command::Claim { actor: key.clone(), node, expected_epoch }).await?;
            match committed.result {
                CommandResult::Claimed(owner) => {
                    let stored = env.cluster.view().state(&key)?;
                    let (version, state) = match stored {
                        None => (0, None),
                        Some(v) => (v.version, Some(decode::<S>(&v.bytes)?)),
                    };
                    tracing::debug!(actor = %key, node, epoch = owner.epoch, version, "actor activated");
                    return Ok((OwnedCell { key, owner, version }, state));
                }
                CommandResult::Refused(Refusal::EpochMoved { current }) => {
                    tracing::debug!(actor = %key, ?current, "claim raced; retrying");
                    // Our local view was behind; the refused entry is applied now, so the
                    // next read sees the newer epoch.
                    continue;
                }
                // One response type carries every command's answer (openraft's `R`); a claim is only
                // ever answered Claimed or Refused by `machine::execute`.
                other => return Err(ActorError::Internal(format!("a claim was answered {other:?}: the state machine broke its contract"))),
            }
        }
        Err(ActorError::Unavailable(format!("could not claim {key} after {CLAIM_ATTEMPTS_MAX} attempts")))
    }

    /// Writes `state` fenced by this cell's epoch and version, atomically with the secondary
    /// records. A refusal by epoch or version means this activation is stale: the caller must
    /// drop the actor (the registry retries through a fresh activation).
    pub async fn persist<S: Serialize>(
        &mut self,
        env: &ActorEnv,
        state: &S,
        index_writes: Vec<IndexWrite>,
        index_deletes: Vec<String>,
    ) -> Result<Persisted, ActorError> {
        let cmd = Command::Put {
            actor: self.key.clone(),
            node: self.owner.node,
            epoch: self.owner.epoch,
            expected_version: self.version,
            state: encode(state)?,
            index_writes,
            index_deletes,
        };
        let committed = env.cluster.write(cmd).await?;
        match committed.result {
            CommandResult::Written { version } => {
                self.version = version;
                Ok(Persisted::Ok)
            }
            CommandResult::Refused(Refusal::IndexTaken { key, existing }) => Ok(Persisted::IndexTaken { key, existing }),
            CommandResult::Refused(r) => {
                tracing::warn!(actor = %self.key, epoch = self.owner.epoch, refusal = ?r, "write fenced; deactivating");
                Err(ActorError::Fenced { key: self.key.clone() })
            }
            // As for claims: a put is only ever answered Written or Refused.
            other => Err(ActorError::Internal(format!("a put was answered {other:?}: the state machine broke its contract"))),
        }
    }
}

/// What an actor holds between messages: its claim and its state (both absent before
/// activation). Taken out of the actor for the duration of one atomic message and put back.
#[derive(Debug)]
pub struct Slot<S> {
    /// The claim, once activated.
    pub cell: Option<OwnedCell>,
    /// The state, once it exists.
    pub state: Option<S>,
}

impl<S> Default for Slot<S> {
    fn default() -> Self {
        Slot { cell: None, state: None }
    }
}

impl<S: DeserializeOwned + Serialize> Slot<S> {
    /// Activates on first use: claims the key and loads the state.
    pub async fn ensure_active(&mut self, env: &ActorEnv, key: &str) -> Result<(), ActorError> {
        if self.cell.is_none() {
            let (cell, state) = OwnedCell::activate::<S>(env, key.to_string()).await?;
            self.cell = Some(cell);
            self.state = state;
        }
        Ok(())
    }

    /// Before answering a read from memory: confirms with a quorum (read barrier) that this
    /// activation still owns the actor, so a node cut off from the majority, or one whose actor
    /// was taken over, never presents stale state as current. A lost claim is `Fenced`.
    pub async fn confirm_owner(&self, env: &ActorEnv, key: &str) -> Result<(), ActorError> {
        let Some(cell) = &self.cell else { return Ok(()) };
        env.cluster.read_barrier().await?;
        if env.cluster.view().owner(key)? != Some(cell.owner) {
            tracing::info!(actor = %key, epoch = cell.owner.epoch, "ownership moved; deactivating");
            return Err(ActorError::Fenced { key: key.to_string() });
        }
        Ok(())
    }

    /// Persists `next` and, only once committed, makes it the actor's state.
    pub async fn commit(
        &mut self,
        env: &ActorEnv,
        next: S,
        index_writes: Vec<IndexWrite>,
        index_deletes: Vec<String>,
    ) -> Result<Persisted, ActorError> {
        let cell = self.cell.as_mut().ok_or_else(|| ActorError::Internal("commit before activation".into()))?;
        let outcome = cell.persist(env, &next, index_writes, index_deletes).await?;
        if matches!(outcome, Persisted::Ok) {
            self.state = Some(next);
        }
        Ok(outcome)
    }
}

/// Whether an actor must stop after answering with `result`: its in-memory state may no longer
/// match the store (fenced, or a write whose outcome is unknown).
pub fn must_deactivate<T>(result: &Result<T, ActorError>) -> bool {
    matches!(result, Err(ActorError::Fenced { .. } | ActorError::Unavailable(_) | ActorError::Internal(_)))
}
