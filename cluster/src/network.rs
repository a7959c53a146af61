//! The Raft network seam.
//!
//! openraft talks to peers through [`openraft::network::RaftNetworkFactory`]. The QUIC transport
//! plugs in here; until a node has peers, [`NoPeers`] answers every RPC with "unreachable", which
//! is exactly right for a single-member cluster (it never sends one).

use std::future::Future;

use openraft::error::{NetworkError, RPCError, RaftError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse};
use openraft::{OptionalSend, Snapshot, Vote};
use svea_storage::{GroupId, RaftNodeId, SveaNode, TypeConfig};

use crate::rpc::{Append, RequestVote};

/// A network with no peers: every RPC fails as unreachable.
#[derive(Clone, Default)]
pub struct NoPeers;

/// The per-target client of [`NoPeers`].
pub struct NoPeer {
    target: RaftNodeId,
}

impl RaftNetworkFactory<TypeConfig> for NoPeers {
    type Network = NoPeer;
    async fn new_client(&mut self, target: RaftNodeId, _node: &SveaNode) -> NoPeer {
        NoPeer { target }
    }
}

fn unreachable(target: RaftNodeId) -> Unreachable {
    Unreachable::new(&std::io::Error::other(format!("no transport to node {target}")))
}

impl RaftNetwork<TypeConfig> for NoPeer {
    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<RaftNodeId>, RPCError<RaftNodeId, SveaNode, RaftError<RaftNodeId>>> {
        Err(RPCError::Unreachable(unreachable(self.target)))
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<RaftNodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<RaftNodeId>, RPCError<RaftNodeId, SveaNode, RaftError<RaftNodeId>>> {
        Err(RPCError::Unreachable(unreachable(self.target)))
    }

    async fn full_snapshot(
        &mut self,
        _vote: Vote<RaftNodeId>,
        _snapshot: Snapshot<TypeConfig>,
        _cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<RaftNodeId>, StreamingError<TypeConfig, openraft::error::Fatal<RaftNodeId>>> {
        Err(StreamingError::Network(NetworkError::new(&std::io::Error::other(format!(
            "no transport to node {}",
            self.target
        )))))
    }
}

/// openraft's network of one Raft group over the QUIC [`Transport`](crate::transport::Transport):
/// every group of a node shares the transport (one connection per peer), and each request names
/// its group.
#[derive(Clone)]
pub struct QuicNetwork {
    transport: std::sync::Arc<crate::transport::Transport>,
    group: GroupId,
}

impl QuicNetwork {
    /// Wraps a transport, for group 0.
    pub fn new(transport: std::sync::Arc<crate::transport::Transport>) -> Self {
        QuicNetwork { transport, group: 0 }
    }

    /// The same transport, for Raft group `group`.
    pub fn in_group(&self, group: GroupId) -> Self {
        QuicNetwork { transport: self.transport.clone(), group }
    }
}

/// openraft's per-peer client over QUIC.
pub struct QuicPeer {
    target: RaftNodeId,
    group: GroupId,
    transport: std::sync::Arc<crate::transport::Transport>,
}

impl RaftNetworkFactory<TypeConfig> for QuicNetwork {
    type Network = QuicPeer;
    async fn new_client(&mut self, target: RaftNodeId, node: &SveaNode) -> QuicPeer {
        match node.raft_addr.parse::<svea_config::PeerAddr>() {
            Ok(addr) => self.transport.set_peer_addr(target, addr),
            Err(e) => tracing::error!(target, addr = %node.raft_addr, error = %e, "member has an unparsable raft address"),
        }
        QuicPeer { target, group: self.group, transport: self.transport.clone() }
    }
}

fn rpc_error<E: std::error::Error>(target: RaftNodeId, e: crate::transport::TransportError) -> RPCError<RaftNodeId, SveaNode, E> {
    use crate::transport::TransportError as T;
    match e {
        T::Unreachable { .. } | T::UnknownPeer(_) => RPCError::Unreachable(Unreachable::new(&e)),
        other => {
            tracing::debug!(target, error = %other, "raft rpc failed");
            RPCError::Network(NetworkError::new(&other))
        }
    }
}

impl QuicPeer {
    /// Raft's view of a Raft RPC's outcome: the peer's own error is a remote error, the
    /// transport's is a network one.
    #[allow(clippy::result_large_err, reason = "the error type is the one openraft's RaftNetwork returns")]
    fn answer<T>(
        &self,
        answer: Result<Result<T, RaftError<RaftNodeId>>, crate::transport::TransportError>,
    ) -> Result<T, RPCError<RaftNodeId, SveaNode, RaftError<RaftNodeId>>> {
        match answer {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(RPCError::RemoteError(openraft::error::RemoteError::new(self.target, e))),
            Err(e) => Err(rpc_error(self.target, e)),
        }
    }
}

impl RaftNetwork<TypeConfig> for QuicPeer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<RaftNodeId>, RPCError<RaftNodeId, SveaNode, RaftError<RaftNodeId>>> {
        let answer = self.transport.call_in(self.target, self.group, &Append(rpc), option.hard_ttl()).await;
        self.answer(answer)
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<RaftNodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<RaftNodeId>, RPCError<RaftNodeId, SveaNode, RaftError<RaftNodeId>>> {
        let answer = self.transport.call_in(self.target, self.group, &RequestVote(rpc), option.hard_ttl()).await;
        self.answer(answer)
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote<RaftNodeId>,
        snapshot: Snapshot<TypeConfig>,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<RaftNodeId>, StreamingError<TypeConfig, openraft::error::Fatal<RaftNodeId>>> {
        use crate::transport::TransportError as T;
        let send = self.transport.send_snapshot(self.target, self.group, vote, snapshot, option.hard_ttl());
        tokio::select! {
            closed = cancel => Err(StreamingError::Closed(closed)),
            r = send => match r {
                Ok(resp) => Ok(resp),
                Err(e @ (T::Unreachable { .. } | T::UnknownPeer(_))) => Err(StreamingError::Unreachable(Unreachable::new(&e))),
                Err(e) => Err(StreamingError::Network(NetworkError::new(&e))),
            }
        }
    }
}
