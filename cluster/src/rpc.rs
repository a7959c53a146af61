//! What nodes ask each other, typed: every request type names its response type, so a caller
//! gets exactly that type back from [`Transport::call`](crate::transport::Transport::call) and
//! never matches an answer it could not have received.
//!
//! On the wire (cluster-internal; nothing persisted uses it) one request travels on one QUIC
//! bidirectional stream as one frame ([`frame`](crate::transport::frame)) whose body is the
//! [`RpcKind`] byte followed by the request's bincode payload; a snapshot's bytes follow that
//! frame on the same stream. The answer is one frame holding a [`Reply`] of the request's
//! response type. The server ([`server`](crate::server)) decodes the payload by its kind.

use openraft::error::RaftError;
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse};
use openraft::{SnapshotMeta, Vote};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use svea_storage::codec::{encode, CodecError};
use svea_storage::{Command, CommandResult, GroupId, RaftNodeId, SveaNode, TypeConfig};

use crate::membership::{MembershipError, MembershipOp, ReplicationStatus};

/// Which request a frame carries: its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RpcKind {
    /// [`Append`].
    Append = 1,
    /// [`RequestVote`].
    Vote = 2,
    /// [`InstallSnapshot`].
    InstallSnapshot = 3,
    /// [`ForwardWrite`].
    ForwardWrite = 4,
    /// [`ReadIndex`].
    ReadIndex = 5,
    /// [`AppCall`].
    AppCall = 6,
    /// [`Ping`].
    Ping = 7,
    /// [`ChangeMembership`].
    ChangeMembership = 8,
    /// [`Replication`].
    Replication = 9,
    /// [`Campaign`].
    Campaign = 10,
}

impl RpcKind {
    const ALL: [RpcKind; 10] = [
        RpcKind::Append,
        RpcKind::Vote,
        RpcKind::InstallSnapshot,
        RpcKind::ForwardWrite,
        RpcKind::ReadIndex,
        RpcKind::AppCall,
        RpcKind::Ping,
        RpcKind::ChangeMembership,
        RpcKind::Replication,
        RpcKind::Campaign,
    ];
}

impl TryFrom<u8> for RpcKind {
    type Error = u8;

    fn try_from(byte: u8) -> Result<Self, u8> {
        RpcKind::ALL.into_iter().find(|k| *k as u8 == byte).ok_or(byte)
    }
}

/// A request one node sends another, and the type of its answer.
pub trait Rpc: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The frame's kind byte.
    const KIND: RpcKind;
    /// What the receiving node answers.
    type Response: Serialize + DeserializeOwned + Send + 'static;
}

/// The answer frame: the request's response, or why the receiver refused the request as a whole
/// (an unknown kind, an undecodable payload). A refusal reaches the caller as
/// [`TransportError::Refused`](crate::transport::TransportError::Refused).
pub type Reply<T> = Result<T, String>;

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

macro_rules! rpc {
    ($request:ty, $kind:ident, $response:ty) => {
        impl Rpc for $request {
            const KIND: RpcKind = RpcKind::$kind;
            type Response = $response;
        }
    };
}

/// Raft log replication and heartbeats.
#[derive(Debug, Serialize, Deserialize)]
pub struct Append(pub AppendEntriesRequest<TypeConfig>);
rpc!(Append, Append, Result<AppendEntriesResponse<RaftNodeId>, RaftError<RaftNodeId>>);

/// Raft election.
#[derive(Debug, Serialize, Deserialize)]
pub struct RequestVote(pub VoteRequest<RaftNodeId>);
rpc!(RequestVote, Vote, Result<VoteResponse<RaftNodeId>, RaftError<RaftNodeId>>);

/// A full snapshot; its `len` bytes follow the request frame on the same stream.
#[derive(Debug, Serialize, Deserialize)]
pub struct InstallSnapshot {
    /// The leader's vote.
    pub vote: Vote<RaftNodeId>,
    /// Snapshot metadata.
    pub meta: SnapshotMeta<RaftNodeId, SveaNode>,
    /// Bytes of snapshot data that follow.
    pub len: u64,
}
rpc!(InstallSnapshot, InstallSnapshot, Result<SnapshotResponse<RaftNodeId>, String>);

/// A follower's batch of writes forwarded to the leader: one command, or a [`Command::Batch`] of
/// the commands its write batcher gathered. The leader queues it whole with its own writes (it
/// travels in one entry) and answers with the entry's log index and the state machine's answer
/// (a [`CommandResult::Batch`] for a batch, one result per command).
#[derive(Debug, Serialize, Deserialize)]
pub struct ForwardWrite(pub Command);
rpc!(ForwardWrite, ForwardWrite, Result<(u64, CommandResult), ForwardError>);

/// A follower asks the leader for a linearizable read index: apply up to it, then read locally.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReadIndex;
rpc!(ReadIndex, ReadIndex, Result<u64, ForwardError>);

/// An application (actor) call, opaque to the cluster layer.
#[derive(Debug, Serialize, Deserialize)]
pub struct AppCall(pub Vec<u8>);
rpc!(AppCall, AppCall, Result<Vec<u8>, String>);

/// Liveness probe for failure detection.
#[derive(Debug, Serialize, Deserialize)]
pub struct Ping;
/// The answer to [`Ping`].
#[derive(Debug, Serialize, Deserialize)]
pub struct Pong;
rpc!(Ping, Ping, Pong);

/// A membership change forwarded to the leader.
#[derive(Debug, Serialize, Deserialize)]
pub struct ChangeMembership(pub MembershipOp);
rpc!(ChangeMembership, ChangeMembership, Result<(), MembershipError>);

/// Asks the leader for its replication progress.
#[derive(Debug, Serialize, Deserialize)]
pub struct Replication;
rpc!(Replication, Replication, Result<ReplicationStatus, MembershipError>);

/// Asks the receiver to start an election now (leadership hand-over by a draining leader).
#[derive(Debug, Serialize, Deserialize)]
pub struct Campaign;
rpc!(Campaign, Campaign, Result<(), String>);

/// The body of a request frame for `group`: the kind byte, the group byte, then the payload.
pub(crate) fn encode_request<R: Rpc>(request: &R, group: GroupId) -> Result<Vec<u8>, CodecError> {
    let payload = encode(request)?;
    let mut body = Vec::with_capacity(2 + payload.len());
    body.push(R::KIND as u8);
    // GROUPS_MAX fits a byte (checked below).
    body.push(group as u8);
    body.extend_from_slice(&payload);
    Ok(body)
}

const _: () = assert!(svea_storage::GROUPS_MAX <= u8::MAX as GroupId, "a group id travels as one byte");

/// Splits a request frame's body into its kind, its group and its payload.
pub(crate) fn split_request(body: &[u8]) -> Result<(RpcKind, GroupId, &[u8]), String> {
    let [kind, group, payload @ ..] = body else {
        return Err("request frame shorter than its header".into());
    };
    let kind = RpcKind::try_from(*kind).map_err(|k| format!("unknown request kind {k}"))?;
    Ok((kind, GroupId::from(*group), payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_byte() {
        for kind in RpcKind::ALL {
            assert_eq!(RpcKind::try_from(kind as u8), Ok(kind));
        }
        assert_eq!(RpcKind::try_from(0), Err(0));
        assert_eq!(RpcKind::try_from(11), Err(11));
    }

    #[test]
    fn a_request_frame_names_its_kind_then_its_group() {
        let body = encode_request(&Campaign, 2).expect("encode");
        let (kind, group, payload) = split_request(&body).expect("split");
        assert_eq!((kind, group), (RpcKind::Campaign, 2));
        let _: Campaign = svea_storage::codec::decode(payload).expect("decode");
        assert!(split_request(&[]).is_err());
        assert!(split_request(&[RpcKind::Ping as u8]).is_err(), "no group byte");
        assert!(split_request(&[200, 0]).is_err());
    }
}
