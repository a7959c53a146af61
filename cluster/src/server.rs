//! The serving side of the RPCs in [`rpc`](crate::rpc): one handler per request type, each
//! returning exactly that type's response. The transport accepts connections and streams, reads
//! the request frame and hands it to the [`Handler`] it was given, which [`Server`] is; this
//! module decodes it by kind and answers. It knows the transport only through that seam
//! ([`serve`](crate::serve)).

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use openraft::error::{CheckIsLeaderError, RaftError};
use openraft::{Raft, Snapshot};
use svea_storage::codec::{decode, encode, CodecError};
use svea_storage::{GroupId, RaftNodeId, TypeConfig};

use crate::error::Error;
use crate::freeze::Freeze;
use crate::membership;
use crate::node::batcher::{Origin, WriteQueue};
use crate::metrics::Counters;
use crate::read_rounds::ReadRounds;
use crate::rpc::{
    Append, AppCall, Campaign, ChangeMembership, ForwardError, ForwardWrite, InstallSnapshot, Ping, Pong, ReadIndex, Replication,
    Reply, RequestVote, Rpc, RpcKind,
};
use crate::serve::{AppSlot, Handler, FRAME_TOO_LARGE};

/// Everything serving requests needs: the node's Raft groups, indexed by their [`GroupId`], and
/// what the node shares between them.
pub(crate) struct Server {
    pub(crate) groups: Vec<GroupServer>,
    pub(crate) counters: Arc<Counters>,
    /// Bound on a membership change forwarded here.
    pub(crate) membership_timeout: Duration,
    /// Largest snapshot accepted.
    pub(crate) max_snapshot_bytes: u64,
    pub(crate) app: AppSlot,
}

/// What serving one Raft group's requests needs.
pub(crate) struct GroupServer {
    pub(crate) raft: Raft<TypeConfig>,
    /// Set while this node hands the group's leadership away: forwarded writes and reads are
    /// refused.
    pub(crate) freeze: Arc<Freeze>,
    /// The group's read-index rounds: read indexes served here share its quorum checks.
    pub(crate) reads: Arc<ReadRounds>,
    /// The group's write batcher's queue: forwarded writes share entries with this node's own.
    pub(crate) writes: WriteQueue,
}

/// Decodes an `R` from `payload`, runs `handle` on it and encodes its answer. `handle` can only
/// return `R`'s response type.
async fn answer<R: Rpc, F: std::future::Future<Output = R::Response>>(
    payload: &[u8],
    handle: impl FnOnce(R) -> F,
) -> Result<Vec<u8>, CodecError> {
    let reply: Reply<R::Response> = match decode::<R>(payload) {
        Ok(request) => Ok(handle(request).await),
        Err(e) => Err(format!("undecodable {:?} request: {e}", R::KIND)),
    };
    encode(&reply)
}

impl Handler for Server {
    fn admits(&self, peer: RaftNodeId) -> bool {
        Server::admits(self, peer)
    }

    fn dispatch<'a>(
        &'a self,
        peer: RaftNodeId,
        kind: RpcKind,
        group: GroupId,
        payload: &'a [u8],
        recv: &'a mut quinn::RecvStream,
    ) -> BoxFuture<'a, Result<Vec<u8>, CodecError>> {
        Box::pin(Server::dispatch(self, peer, kind, group, payload, recv))
    }
}

impl Server {
    /// Whether `peer` may be served: it is a voter or learner of this node's current membership.
    /// A valid certificate is not enough: a node the operator removed keeps its certificate, and
    /// must not send votes, appends, membership changes or actor calls any more. A node that has
    /// no membership yet (it was never part of a cluster: it waits to be added) has nothing to
    /// protect and must hear from the leader that adds it, so it admits every certified peer.
    pub(crate) fn admits(&self, peer: RaftNodeId) -> bool {
        // Every group has the same members (membership changes go to every group, group 0
        // first), so group 0's decides.
        let Some(first) = self.groups.first() else { return false };
        let metrics = first.raft.metrics();
        let metrics = metrics.borrow();
        let membership = metrics.membership_config.membership();
        membership.nodes().next().is_none() || membership.get_node(&peer).is_some()
    }

    /// Answers one request from `peer`: the encoded [`Reply`]. `recv` carries what follows the
    /// request frame (a snapshot's bytes).
    pub(crate) async fn dispatch(
        &self,
        peer: RaftNodeId,
        kind: RpcKind,
        group: GroupId,
        payload: &[u8],
        recv: &mut quinn::RecvStream,
    ) -> Result<Vec<u8>, CodecError> {
        // Requests of no group first; a group's request names a group this node runs.
        match kind {
            RpcKind::AppCall => return answer(payload, |AppCall(bytes)| self.app_call(peer, bytes)).await,
            RpcKind::Ping => return answer(payload, |Ping| async { Pong }).await,
            _ => {}
        }
        let Some(g) = self.groups.get(usize::from(group)) else {
            return encode(&Reply::<()>::Err(format!("this node runs no raft group {group}")));
        };
        match kind {
            RpcKind::Append => answer(payload, |Append(r)| g.raft.append_entries(r)).await,
            RpcKind::Vote => answer(payload, |RequestVote(r)| g.raft.vote(r)).await,
            RpcKind::InstallSnapshot => answer(payload, move |r: InstallSnapshot| self.install_snapshot(g, peer, r, recv)).await,
            RpcKind::ForwardWrite => answer(payload, |ForwardWrite(cmd)| forwarded_write(g, cmd)).await,
            RpcKind::ReadIndex => answer(payload, |ReadIndex| self.read_index(g)).await,
            RpcKind::ChangeMembership => answer(payload, |ChangeMembership(op)| self.change_membership(g, group, peer, op)).await,
            RpcKind::Replication => answer(payload, |Replication| async { membership::replication(&g.raft) }).await,
            RpcKind::Campaign => answer(payload, |Campaign| campaign(g, group, peer)).await,
            RpcKind::AppCall | RpcKind::Ping => unreachable!("answered above"),
        }
    }

    async fn install_snapshot(
        &self,
        g: &GroupServer,
        peer: RaftNodeId,
        InstallSnapshot { vote, meta, len }: InstallSnapshot,
        recv: &mut quinn::RecvStream,
    ) -> <InstallSnapshot as Rpc>::Response {
        if len > self.max_snapshot_bytes {
            let _ = recv.stop(quinn::VarInt::from_u32(FRAME_TOO_LARGE));
            return Err(format!("snapshot of {len} bytes is over the limit of {} bytes", self.max_snapshot_bytes));
        }
        // `len` is at most `max_snapshot_bytes`, which fits memory by configuration.
        let data = match recv.read_to_end(len as usize).await {
            Ok(d) if d.len() as u64 == len => d,
            Ok(d) => return Err(format!("snapshot truncated: {} of {len} bytes", d.len())),
            Err(e) => return Err(format!("snapshot stream failed: {e}")),
        };
        tracing::info!(from = peer, bytes = len, "receiving snapshot");
        let snapshot = Snapshot { meta, snapshot: Box::new(std::io::Cursor::new(data)) };
        g.raft.install_full_snapshot(vote, snapshot).await.map_err(|e| e.to_string())
    }

    async fn read_index(&self, g: &GroupServer) -> <ReadIndex as Rpc>::Response {
        // Frozen (handing leadership over): the shared round answers "not the leader".
        match g.reads.confirm_leadership(&g.raft, &g.freeze, &self.counters).await {
            Ok(log_id) => Ok(log_id.map(|l| l.index).unwrap_or(0)),
            Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f))) => Err(ForwardError::NotLeader { leader: f.leader_id }),
            Err(e) => Err(ForwardError::Failed(e.to_string())),
        }
    }

    async fn app_call(&self, peer: RaftNodeId, payload: Vec<u8>) -> <AppCall as Rpc>::Response {
        match self.app.get() {
            Some(h) => h.call(peer, payload).await,
            None => Err("node not ready for actor calls".into()),
        }
    }

    async fn change_membership(
        &self,
        g: &GroupServer,
        group: GroupId,
        peer: RaftNodeId,
        op: membership::MembershipOp,
    ) -> <ChangeMembership as Rpc>::Response {
        tracing::info!(from = peer, group, op = op.name(), node = op.target(), "membership change forwarded to this leader");
        membership::apply(&g.raft, op, self.membership_timeout, &self.counters).await
    }
}

async fn forwarded_write(g: &GroupServer, cmd: svea_storage::Command) -> <ForwardWrite as Rpc>::Response {
    if g.freeze.is_frozen() {
        return Err(ForwardError::NotLeader { leader: None });
    }
    match g.writes.submit(cmd, Origin::Forwarded).await {
        Ok(answer) => Ok(answer),
        Err(Error::NotLeader { leader }) => Err(ForwardError::NotLeader { leader }),
        Err(e) => Err(ForwardError::Failed(e.to_string())),
    }
}

async fn campaign(g: &GroupServer, group: GroupId, peer: RaftNodeId) -> <Campaign as Rpc>::Response {
    tracing::info!(event = "leadership", from = peer, group, "asked to campaign: starting an election");
    g.raft.trigger().elect().await.map_err(|e| e.to_string())
}
