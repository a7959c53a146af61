//! The write batcher: commands waiting at the same moment travel and commit together.
//!
//! openraft 0.9 appends one entry per `client_write` and waits for its flush before the next, so
//! throughput comes from putting many commands in one entry. Every write of this node (and, on
//! the leader, every write a follower forwarded) is queued here as a [`Unit`]; one task owned by
//! the [`GroupNode`] takes whatever is queued at that moment, up to [`BATCH_COMMANDS_MAX`]
//! commands and [`BATCH_BYTES_MAX`] bytes, and proposes it as ONE entry
//! ([`Command::Batch`], or the command itself when it is alone), or forwards it to the leader as
//! ONE [`ForwardWrite`]. There is no linger: when the queue holds one write, it goes at once.
//! Up to [`BATCHES_IN_FLIGHT_MAX`] batches are in flight, so the next one forms while earlier
//! ones commit.
//!
//! Each unit gets its own answer: its commands' results with the entry's index. A failure of the
//! whole batch (no leader, timeout, forward error) gives every unit the same error the single
//! write would have got; [`GroupNode::write`] retries only the errors that prove nothing was
//! sent, exactly as for a single command. A unit forwarded here by a follower is never forwarded
//! again: when this node is not the leader it answers "not the leader" and the follower retries.

use std::sync::Weak;

use futures::stream::{FuturesUnordered, StreamExt};
use openraft::error::{ClientWriteError, RaftError};
use svea_storage::{Command, CommandResult};
use tokio::sync::{mpsc, oneshot};

use super::{GroupNode, Inner};
use crate::error::Error;
use crate::rpc::ForwardWrite;

/// Most units waiting for the batcher; a writer beyond it waits for room (within its timeout).
pub(crate) const WRITE_QUEUE_LEN_MAX: usize = 4096;
/// Most commands in one batch (one Raft entry).
pub(crate) const BATCH_COMMANDS_MAX: usize = 256;
/// Most bytes of commands in one batch ([`Command::size_bytes`], an upper bound of the encoded
/// size). A single unit over it travels alone. Well under the default `limits.max_frame_bytes`,
/// so an append carrying such an entry still fits a frame.
pub(crate) const BATCH_BYTES_MAX: usize = 512 * 1024;
/// Batches proposed or forwarded and not yet answered; more wait in the queue and form the
/// next batch.
pub(crate) const BATCHES_IN_FLIGHT_MAX: usize = 4;

const _: () = assert!(BATCH_COMMANDS_MAX > 1, "a batch holds more than one command");
const _: () = assert!(BATCH_COMMANDS_MAX <= WRITE_QUEUE_LEN_MAX, "one batch fits the queue");
const _: () = assert!(BATCHES_IN_FLIGHT_MAX >= 1, "at least one batch can be in flight");

/// Where a unit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A write of this node: forwarded to the leader when this node does not lead.
    Local,
    /// A follower's batch forwarded to this node: proposed here or refused, never sent on.
    Forwarded,
}

/// A unit's answer: the entry's log index and the unit's result.
type Outcome = Result<(u64, CommandResult), Error>;

/// One submission, answered as a whole: one caller's command, or a follower's forwarded batch.
pub(crate) struct Unit {
    cmds: Vec<Command>,
    /// The submitter sent a [`Command::Batch`] and gets a [`CommandResult::Batch`] back.
    packed: bool,
    origin: Origin,
    bytes: usize,
    reply: oneshot::Sender<Outcome>,
}

/// The sending side of the batcher's queue. Cheap to clone.
#[derive(Clone)]
pub(crate) struct WriteQueue {
    tx: mpsc::Sender<Unit>,
}

/// The queue's receiving side, for [`run`].
pub(crate) type WriteQueueRx = mpsc::Receiver<Unit>;

impl WriteQueue {
    /// A queue and the receiver its batcher task takes.
    pub(crate) fn new() -> (Self, WriteQueueRx) {
        let (tx, rx) = mpsc::channel(WRITE_QUEUE_LEN_MAX);
        (WriteQueue { tx }, rx)
    }

    /// Queues `cmd` (a batch's commands stay together as one unit) and waits for its answer.
    pub(crate) async fn submit(&self, cmd: Command, origin: Origin) -> Outcome {
        let bytes = cmd.size_bytes();
        let (cmds, packed) = match cmd {
            Command::Batch(cmds) => (cmds, true),
            single => (vec![single], false),
        };
        let (reply, answer) = oneshot::channel();
        let stopped = || Error::Fatal("the write batcher stopped".into());
        self.tx.send(Unit { cmds, packed, origin, bytes, reply }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// The batcher task: forms batches from the queue and keeps up to [`BATCHES_IN_FLIGHT_MAX`] in
/// flight. Holds the node weakly, so dropping the last [`GroupNode`] still stops it; owned by
/// the node's tasks (stopped on shutdown).
pub(super) async fn run(node: Weak<Inner>, mut queue: WriteQueueRx) {
    let mut in_flight = FuturesUnordered::new();
    let mut held: Option<Unit> = None;
    loop {
        let room = in_flight.len() < BATCHES_IN_FLIGHT_MAX;
        let first = match held.take() {
            Some(unit) if room => unit,
            still_held => {
                held = still_held;
                tokio::select! {
                    // No random branch choice: the simulations replay bit for bit.
                    biased;
                    Some(()) = in_flight.next(), if !in_flight.is_empty() => continue,
                    unit = queue.recv(), if room && held.is_none() => match unit {
                        Some(unit) => unit,
                        None => break,
                    },
                }
            }
        };
        let batch = gather(first, &mut queue, &mut held);
        let Some(inner) = node.upgrade() else { break };
        in_flight.push(GroupNode::detached(inner).commit(batch));
    }
    while in_flight.next().await.is_some() {}
}

/// `first` plus whatever is queued right now, within the batch limits. A unit that does not fit
/// is held for the next batch.
fn gather(first: Unit, queue: &mut WriteQueueRx, held: &mut Option<Unit>) -> Vec<Unit> {
    let (mut count, mut bytes) = (first.cmds.len(), first.bytes);
    let mut units = vec![first];
    while count < BATCH_COMMANDS_MAX && bytes < BATCH_BYTES_MAX {
        let Ok(unit) = queue.try_recv() else { break };
        if count + unit.cmds.len() > BATCH_COMMANDS_MAX || bytes + unit.bytes > BATCH_BYTES_MAX {
            *held = Some(unit);
            break;
        }
        count += unit.cmds.len();
        bytes += unit.bytes;
        units.push(unit);
    }
    units
}

/// The entry that carries `units`: a lone unit's own command, or one batch of every command.
fn entry_of<'a>(units: impl Iterator<Item = &'a Unit> + Clone) -> Command {
    let mut lone = units.clone();
    if let (Some(unit), None) = (lone.next(), lone.next()) {
        if !unit.packed {
            if let [cmd] = unit.cmds.as_slice() {
                return cmd.clone();
            }
        }
    }
    Command::Batch(units.flat_map(|u| u.cmds.iter().cloned()).collect())
}

/// Hands each unit its share of the entry's `result` (built by [`entry_of`] from the same
/// units, in the same order).
fn split<'a>(index: u64, result: CommandResult, units: impl Iterator<Item = &'a Unit> + Clone) -> Vec<Outcome> {
    let total: usize = units.clone().map(|u| u.cmds.len()).sum();
    let mut lone = units.clone();
    let results = match (lone.next(), lone.next(), result) {
        (Some(unit), None, result) if !unit.packed && unit.cmds.len() == 1 => return vec![Ok((index, result))],
        (_, _, CommandResult::Batch(results)) if results.len() == total => results,
        (_, _, other) => {
            // Applied, but not in the shape proposed: the outcome of each command is unknown.
            let e = Error::Forward(format!("entry {index} of {total} commands answered {other:?}"));
            return units.map(|_| Err(e.for_another_caller())).collect();
        }
    };
    let mut results = results.into_iter();
    units
        .map(|u| {
            let mine: Vec<CommandResult> = results.by_ref().take(u.cmds.len()).collect();
            let result = match (u.packed, <[CommandResult; 1]>::try_from(mine)) {
                (false, Ok([one])) => one,
                (_, Ok(one)) => CommandResult::Batch(one.into()),
                (_, Err(mine)) => CommandResult::Batch(mine),
            };
            Ok((index, result))
        })
        .collect()
}

impl GroupNode {
    /// Proposes (or forwards) one batch and answers every unit in it, within the client-write
    /// timeout. Units whose callers already gave up are left out before anything is sent.
    async fn commit(self, mut units: Vec<Unit>) {
        units.retain(|u| !u.reply.is_closed());
        if units.is_empty() {
            return;
        }
        let after = self.inner.write_timeout;
        let outcomes = match tokio::time::timeout(after, self.propose(&units)).await {
            Ok(outcomes) => outcomes,
            Err(_) => units.iter().map(|_| Err(Error::Timeout { op: "raft write", after })).collect(),
        };
        for (unit, outcome) in units.into_iter().zip(outcomes) {
            // A caller that gave up meanwhile has nobody to tell.
            let _ = unit.reply.send(outcome);
        }
    }

    /// One attempt for the whole batch: the outcome of each unit, in order.
    async fn propose(&self, units: &[Unit]) -> Vec<Outcome> {
        let all = || units.iter().map(|_| ());
        if self.inner.freeze.is_frozen() {
            return all().map(|()| Err(Error::NotLeader { leader: None })).collect();
        }
        let leader = match self.inner.raft.client_write(entry_of(units.iter())).await {
            Ok(resp) => return split(resp.log_id.index, resp.data, units.iter()),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => f.leader_id,
            Err(RaftError::APIError(other)) => return all().map(|()| Err(Error::Fatal(other.to_string()))).collect(),
            Err(RaftError::Fatal(f)) => return all().map(|()| Err(Error::Fatal(f.to_string()))).collect(),
        };
        // Not the leader: this node's own writes go to the leader as one request; units a
        // follower forwarded here go back to it as "not the leader" (it retries them).
        let local = || units.iter().filter(|u| u.origin == Origin::Local);
        let forwarded: Vec<Outcome> = if local().next().is_none() {
            Vec::new()
        } else {
            let request = ForwardWrite(entry_of(local()));
            match self.forward_to_leader(leader, &request, self.inner.write_timeout).await {
                Ok((index, result)) => split(index, result, local()),
                Err(e) => local().map(|_| Err(e.for_another_caller())).collect(),
            }
        };
        let mut forwarded = forwarded.into_iter();
        units
            .iter()
            .map(|u| match u.origin {
                Origin::Local => forwarded.next().unwrap_or_else(|| Err(Error::NotLeader { leader })),
                Origin::Forwarded => Err(Error::NotLeader { leader }),
            })
            .collect()
    }
}
