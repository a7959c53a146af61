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
use svea_storage::{RaftNodeId, SveaNode, TypeConfig};

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
