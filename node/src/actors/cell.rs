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
    /// Whether the claim is in the store. A new actor's cell is created unclaimed
    /// ([`OwnedCell::fresh`]): its first write carries the claim in the same atomic command.
    pub claimed: bool,
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

/// Outcome of a fenced write together with other actors' writes ([`OwnedCell::persist_with`]).
#[derive(Debug)]
pub enum PersistedWith {
    /// This actor's part decided the outcome (written, or an index taken: nothing written).
    Own(Persisted),
    /// One of the other actors' commands was refused, so nothing was written.
    OtherRefused {
        /// Position of the refused command among the others.
        part: usize,
        /// Why it was refused.
        refusal: Refusal,
    },
}

impl PersistedWith {
    /// The outcome of a write with no other commands, where no other can be refused.
    fn alone(self) -> Result<Persisted, ActorError> {
        match self {
            PersistedWith::Own(p) => Ok(p),
            PersistedWith::OtherRefused { part, refusal } => {
                Err(ActorError::Internal(format!("a write alone had its part {part} refused ({refusal:?}): the state machine broke its contract")))
            }
        }
    }
}

impl OwnedCell {
    /// The cell of an actor that has no owner yet, as this node sees it: epoch 1 for this node,
    /// not yet claimed. Its first write claims it in the same atomic command (one commit instead
    /// of two); if another node claimed it meanwhile, that write is refused and nothing is written.
    pub fn fresh(env: &ActorEnv, key: String) -> OwnedCell {
        OwnedCell { key, owner: Owner { node: env.cluster.id(), epoch: 1 }, version: 0, claimed: false }
    }

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
                    return Ok((OwnedCell { key, owner, version, claimed: true }, state));
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
        self.persist_with(env, state, index_writes, index_deletes, Vec::new()).await?.alone()
    }

    /// As [`OwnedCell::persist`], in one atomic command with `others`: other actors' writes,
    /// each fenced by its own actor's owner and version ([`Command::Atomic`]). All are written
    /// or none: a refused other answers [`PersistedWith::OtherRefused`] and this cell is unchanged.
    pub async fn persist_with<S: Serialize>(
        &mut self,
        env: &ActorEnv,
        state: &S,
        index_writes: Vec<IndexWrite>,
        index_deletes: Vec<String>,
        others: Vec<Command>,
    ) -> Result<PersistedWith, ActorError> {
        let put = Command::Put {
            actor: self.key.clone(),
            node: self.owner.node,
            epoch: self.owner.epoch,
            expected_version: self.version,
            state: encode(state)?,
            index_writes,
            index_deletes,
        };
        // Our own commands come first: the claim (a new actor's), then our write.
        let mut parts = Vec::with_capacity(2 + others.len());
        if !self.claimed {
            assert_eq!((self.owner.epoch, self.version), (1, 0), "an unclaimed cell is a new actor's");
            parts.push(Command::Claim { actor: self.key.clone(), node: self.owner.node, expected_epoch: 0 });
        }
        parts.push(put);
        let ours = parts.len();
        parts.extend(others);
        let cmd = if parts.len() == 1 { parts.remove(0) } else { Command::Atomic(parts) };
        let committed = env.cluster.write(cmd).await?;
        let (own, refusal) = match committed.result {
            CommandResult::Written { version } => (Some(version), None),
            CommandResult::Atomic(results) => match results.get(ours - 1) {
                Some(CommandResult::Written { version }) => (Some(*version), None),
                other => return Err(ActorError::Internal(format!("an atomic write answered {other:?} for its put: the state machine broke its contract"))),
            },
            CommandResult::Refused(Refusal::AtomicPart { part, refusal }) => {
                let part = usize::try_from(part).unwrap_or(usize::MAX);
                if part >= ours {
                    return Ok(PersistedWith::OtherRefused { part: part - ours, refusal: *refusal });
                }
                (None, Some(*refusal))
            }
            CommandResult::Refused(r) => (None, Some(r)),
            // As for claims: a put is only ever answered Written or Refused.
            other => return Err(ActorError::Internal(format!("a put was answered {other:?}: the state machine broke its contract"))),
        };
        match (own, refusal) {
            (Some(version), _) => {
                self.version = version;
                self.claimed = true;
                Ok(PersistedWith::Own(Persisted::Ok))
            }
            (None, Some(Refusal::IndexTaken { key, existing })) => Ok(PersistedWith::Own(Persisted::IndexTaken { key, existing })),
            (None, r) => {
                tracing::warn!(actor = %self.key, epoch = self.owner.epoch, refusal = ?r, "write fenced; deactivating");
                Err(ActorError::Fenced { key: self.key.clone() })
            }
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
    /// Activates on first use: claims the key and loads the state. For an operation that
    /// `creates` the actor, a key this node sees no owner of gets an unclaimed cell instead
    /// ([`OwnedCell::fresh`]): the creating write claims it in the same commit. Any other
    /// operation finding an unclaimed cell (its creation did not write) activates for real.
    pub async fn ensure_active(&mut self, env: &ActorEnv, key: &str, creates: bool) -> Result<(), ActorError> {
        if self.cell.as_ref().is_some_and(|c| !c.claimed && !creates) {
            self.cell = None;
        }
        if self.cell.is_none() && creates && env.cluster.view().owner(key)?.is_none() {
            self.cell = Some(OwnedCell::fresh(env, key.to_string()));
            self.state = None;
            return Ok(());
        }
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
        let Some(cell) = self.cell.as_ref().filter(|c| c.claimed) else { return Ok(()) };
        // The owner record is in the actor's own group.
        env.cluster.read_barrier_for_actor(key).await?;
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
        self.commit_with(env, next, index_writes, index_deletes, Vec::new()).await?.alone()
    }

    /// As [`Slot::commit`], atomically with other actors' fenced writes (all or none).
    pub async fn commit_with(
        &mut self,
        env: &ActorEnv,
        next: S,
        index_writes: Vec<IndexWrite>,
        index_deletes: Vec<String>,
        others: Vec<Command>,
    ) -> Result<PersistedWith, ActorError> {
        let cell = self.cell.as_mut().ok_or_else(|| ActorError::Internal("commit before activation".into()))?;
        let outcome = cell.persist_with(env, &next, index_writes, index_deletes, others).await?;
        if matches!(outcome, PersistedWith::Own(Persisted::Ok)) {
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
