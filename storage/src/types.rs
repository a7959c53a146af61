//! The replicated data model: Raft type configuration, commands and their results.

use std::fmt;
use std::io::Cursor;

use serde::{Deserialize, Serialize};

/// Raft node id (the numeric value of `svea_config::NodeId`).
pub type RaftNodeId = u64;

/// What the cluster knows about a member: where it lives and how to reach it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SveaNode {
    /// Region name (a key of the configured region table).
    pub region: String,
    /// Raft/QUIC address.
    pub raft_addr: String,
    /// HTTP listen address.
    pub http_addr: String,
    /// URL customers should use for this node.
    pub public_url: String,
    /// The node is being drained: it takes no new actors and hands its own to other nodes.
    pub draining: bool,
}

impl fmt::Display for SveaNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{} ({})", self.region, self.raft_addr, self.public_url)
    }
}

openraft::declare_raft_types!(
    /// Raft types of svea's replicated store.
    pub TypeConfig:
        D = Command,
        R = CommandResult,
        NodeId = RaftNodeId,
        Node = SveaNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = crate::rt::SveaRuntime,
);

/// Current owner of an actor: a node and the epoch it claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// Owning node.
    pub node: RaftNodeId,
    /// Ownership epoch; strictly increases with each claim of the actor.
    pub epoch: u64,
}

/// An actor's stored state with its version (number of accepted writes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versioned {
    /// Incremented by one on every accepted write; 0 means never written.
    pub version: u64,
    /// Opaque state bytes owned by the actor's code.
    pub bytes: Vec<u8>,
}

/// How a secondary record is written alongside a state write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IndexMode {
    /// Insert if absent; if present with the same value it is a no-op; with another value the whole
    /// command is refused with [`Refusal::IndexTaken`]. Used for uniqueness and idempotency records.
    InsertNew,
    /// Insert or replace.
    Upsert,
}

/// One secondary-record write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexWrite {
    /// Record key (free-form, e.g. `qr/<token>`).
    pub key: String,
    /// Record value.
    pub value: Vec<u8>,
    /// Write mode.
    pub mode: IndexMode,
}

/// A command replicated through Raft and applied by the state machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Make `node` the owner of `actor` with epoch `expected_epoch + 1`, only if the current epoch
    /// is still `expected_epoch` (0 when the actor never had an owner).
    Claim {
        /// Actor key, e.g. `session/s_...`.
        actor: String,
        /// The claiming node.
        node: RaftNodeId,
        /// The epoch the claimer saw.
        expected_epoch: u64,
    },
    /// Replace an actor's state, atomically with secondary-record writes and deletes. Applies only
    /// if (`node`, `epoch`) is the actor's current owner and the stored version is `expected_version`.
    Put {
        /// Actor key.
        actor: String,
        /// Writer node.
        node: RaftNodeId,
        /// Writer's ownership epoch.
        epoch: u64,
        /// Version the writer based its change on.
        expected_version: u64,
        /// New state bytes.
        state: Vec<u8>,
        /// Secondary records to write.
        index_writes: Vec<IndexWrite>,
        /// Secondary records to delete (absent keys are ignored).
        index_deletes: Vec<String>,
    },
    /// Several commands in one log entry, applied in order: each sees the effects of the ones
    /// before it, each gets its own result (a refusal refuses only its own command), and the whole
    /// entry is written atomically. A batch inside a batch is refused
    /// ([`Refusal::NestedBatch`]); the cluster's write batcher never builds one.
    Batch(Vec<Command>),
    /// Set (or, with `None`, delete) a cluster-wide record such as maintenance mode: not owned by
    /// any actor, written only by the operator API. Answers [`CommandResult::Empty`].
    SetCluster {
        /// Record key (free-form, e.g. `maintenance`).
        key: String,
        /// New value; `None` deletes the record.
        value: Option<Vec<u8>>,
    },
    /// Several commands applied all or nothing (issue 22): each part is checked against the
    /// key space as the parts before it leave it; if every part is accepted they are all
    /// written, answered [`CommandResult::Atomic`] with one result per part; if any part is
    /// refused nothing is written and the answer is [`Refusal::AtomicPart`] naming it. Every
    /// [`Command::Put`] inside is fenced by its own actor's owner and version, so one command can
    /// change several actors (a settlement: the business and its session) and a
    /// [`Command::Claim`] followed by the first `Put` of the same actor creates it in one commit.
    /// A batch or an atomic command inside is refused ([`Refusal::NestedBatch`]). Appended last:
    /// bincode numbers variants by position, so older entries decode as before.
    Atomic(Vec<Command>),
}

/// What a command costs in a batch, beyond its variable-length fields: the enum tag, the
/// integers and the length prefixes (a generous upper bound in bincode's encoding).
const COMMAND_FIXED_BYTES: usize = 64;

impl Command {
    /// An upper bound on the command's encoded size, cheap to compute (no encoding): what the
    /// cluster's write batcher counts against its byte limit.
    pub fn size_bytes(&self) -> usize {
        COMMAND_FIXED_BYTES
            + match self {
                Command::Claim { actor, .. } => actor.len(),
                Command::Put { actor, state, index_writes, index_deletes, .. } => {
                    actor.len()
                        + state.len()
                        + index_writes.iter().map(|w| COMMAND_FIXED_BYTES + w.key.len() + w.value.len()).sum::<usize>()
                        + index_deletes.iter().map(|k| COMMAND_FIXED_BYTES + k.len()).sum::<usize>()
                }
                Command::Batch(cmds) | Command::Atomic(cmds) => cmds.iter().map(Command::size_bytes).sum(),
                Command::SetCluster { key, value } => key.len() + value.as_ref().map_or(0, Vec::len),
            }
    }
}

/// Why the state machine refused a command. Refusals are deterministic results, not errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// The writer is not the current owner at that epoch (stale epoch, or another node).
    NotOwner {
        /// The owner at the time of apply.
        current: Option<Owner>,
    },
    /// A claim saw an outdated epoch.
    EpochMoved {
        /// The owner at the time of apply.
        current: Option<Owner>,
    },
    /// The stored version is not the expected one.
    VersionMismatch {
        /// Version the writer expected.
        expected: u64,
        /// Version stored.
        current: u64,
    },
    /// An `InsertNew` secondary record already exists with another value.
    IndexTaken {
        /// The record key.
        key: String,
        /// The value stored under it.
        existing: Vec<u8>,
    },
    /// A [`Command::Batch`] inside a batch, or a batch or atomic command inside a
    /// [`Command::Atomic`]: neither nests.
    NestedBatch,
    /// A part of a [`Command::Atomic`] was refused, so nothing of it was written.
    AtomicPart {
        /// The refused part's position in the command (0 for the first).
        part: u32,
        /// Why that part was refused.
        refusal: Box<Refusal>,
    },
}

/// Result of applying one log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandResult {
    /// Blank or membership entries carry no command; a [`Command::SetCluster`] was applied.
    Empty,
    /// The claim succeeded.
    Claimed(Owner),
    /// The write succeeded; the new version.
    Written {
        /// Version after the write.
        version: u64,
    },
    /// The command was refused; nothing changed.
    Refused(Refusal),
    /// The results of a [`Command::Batch`], one per command, in the batch's order.
    Batch(Vec<CommandResult>),
    /// Every part of a [`Command::Atomic`] was accepted and written: one result per part, in order.
    Atomic(Vec<CommandResult>),
}
