//! What nodes say to each other: one request and one response per QUIC bidirectional stream.

use openraft::error::RaftError;
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse};
use openraft::{SnapshotMeta, Vote};
use serde::{Deserialize, Serialize};
use svea_storage::{Command, CommandResult, RaftNodeId, SveaNode, TypeConfig};

use crate::membership::{MembershipError, MembershipOp, ReplicationStatus};

/// A request frame.
#[derive(Debug, Serialize, Deserialize)]
pub enum WireRequest {
    /// Raft log replication and heartbeats.
    Append(AppendEntriesRequest<TypeConfig>),
    /// Raft election.
    Vote(VoteRequest<RaftNodeId>),
    /// A full snapshot; its `len` bytes follow the frame on the same stream.
    Snapshot {
        /// The leader's vote.
        vote: Vote<RaftNodeId>,
        /// Snapshot metadata.
        meta: SnapshotMeta<RaftNodeId, SveaNode>,
        /// Bytes of snapshot data that follow.
        len: u64,
    },
    /// A client write forwarded by a follower to the leader.
    ClientWrite(Command),
    /// A follower asks the leader for a linearizable read index.
    ReadIndex,
    /// An application (actor) call, opaque to the cluster layer.
    App(Vec<u8>),
    /// Liveness probe for failure detection.
    Ping,
    /// A membership change forwarded to the leader.
    Membership(MembershipOp),
    /// Ask the leader for its replication progress.
    Replication,
    /// Ask the receiver to start an election now (leadership hand-over by a draining leader).
    Campaign,
}

/// Why a forwarded write or read could not be served by the receiving node.
#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error)]
pub enum ForwardError {
    /// The receiver is not the leader either.
    #[error("node is not the leader; leader is {leader:?}")]
    NotLeader {
        /// The leader the receiver knows of.
        leader: Option<RaftNodeId>,
    },
    /// Anything else (leadership lost mid-way, no quorum, shutdown).
    #[error("{0}")]
    Failed(String),
}

/// A response frame.
#[derive(Debug, Serialize, Deserialize)]
pub enum WireResponse {
    /// To `Append`.
    Append(Result<AppendEntriesResponse<RaftNodeId>, RaftError<RaftNodeId>>),
    /// To `Vote`.
    Vote(Result<VoteResponse<RaftNodeId>, RaftError<RaftNodeId>>),
    /// To `Snapshot`.
    Snapshot(Result<SnapshotResponse<RaftNodeId>, String>),
    /// To `ClientWrite`: log index and the state machine's answer.
    ClientWrite(Result<(u64, CommandResult), ForwardError>),
    /// To `ReadIndex`: apply up to this index, then read locally.
    ReadIndex(Result<u64, ForwardError>),
    /// To `App`.
    App(Result<Vec<u8>, String>),
    /// The request was refused as a whole (malformed, not ready).
    Refused(String),
    /// To `Ping`.
    Pong,
    /// To `Membership`.
    Membership(Result<(), MembershipError>),
    /// To `Replication`.
    Replication(Result<ReplicationStatus, MembershipError>),
    /// To `Campaign`.
    Campaign(Result<(), String>),
}
