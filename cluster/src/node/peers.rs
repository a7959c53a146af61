//! Calls from this node to another one, guarded by the failure detector: a call to a node that
//! has been silent for `failover_after` is refused before anything is sent, and a call in flight
//! gives up as soon as its target goes silent. A caller whose call found its target silent can
//! wait for the detector's verdict ([`GroupNode::await_verdict`]) instead of failing at once.

use std::time::Duration;

use svea_storage::RaftNodeId;

use super::GroupNode;
use crate::error::Error;
use crate::rpc::{AppCall, ForwardError, Rpc};
use crate::transport::TransportError;

/// How often an in-flight call re-checks whether its target is still reachable, and how often a
/// caller waiting for a verdict looks again.
const HEALTH_POLL: Duration = Duration::from_millis(50);

/// What the failure detector concluded about a peer that a call could not reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Declared unreachable (silent for `failover_after`): its actors may be taken over.
    Lost,
    /// It answered a ping after the call was sent: it is alive, the call failed for another reason.
    Alive,
    /// Neither within the wait (at most `failover_after` and one poll after the call was sent).
    Undecided,
}

impl GroupNode {
    /// Sends an application (actor) call to another node and returns its answer.
    pub async fn call_app(&self, node: RaftNodeId, payload: Vec<u8>, timeout: Duration) -> Result<Vec<u8>, Error> {
        let t = self.inner.transport.as_ref().ok_or(Error::NotLeader { leader: None })?;
        self.fail_fast(node)?;
        self.ensure_peer_addr(node);
        match self.while_reachable(node, t.call(node, &AppCall(payload), timeout)).await? {
            Ok(answer) => answer.map_err(Error::Forward),
            Err(TransportError::Refused(e)) => Err(Error::Forward(e)),
            Err(e) => Err(Error::Unreachable { node, reason: e.to_string() }),
        }
    }

    /// Sends a write or read-index `request` to `leader` (the leader this node was told of).
    /// Every outcome but "not the leader either" or "unreachable before sending" may have taken
    /// effect at the leader, so it is reported as [`Error::Forward`], which is never retried here.
    pub(super) async fn forward_to_leader<R, T>(&self, leader: Option<RaftNodeId>, request: &R, timeout: Duration) -> Result<T, Error>
    where
        R: Rpc<Response = Result<T, ForwardError>>,
    {
        let (Some(leader), Some(t)) = (leader, &self.inner.transport) else {
            return Err(Error::NotLeader { leader });
        };
        if leader == self.inner.id {
            return Err(Error::NotLeader { leader: None });
        }
        self.leader_reachable(leader)?;
        match self.while_reachable(leader, t.call_in(leader, self.inner.group, request, timeout)).await? {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(ForwardError::NotLeader { leader })) => Err(Error::NotLeader { leader }),
            // The leader may have committed before failing to answer: the outcome is unknown.
            Ok(Err(ForwardError::Failed(e))) => Err(Error::Forward(e)),
            Err(e) => Err(Error::Forward(e.to_string())),
        }
    }

    /// Refuses at once to wait on a node the failure detector has not heard from for
    /// `failover_after`: a dead peer's cached QUIC connection would otherwise hold every call for
    /// the full timeout. The caller answers 503 and the client retries (by then a new leader or
    /// owner is usually in place).
    pub(super) fn fail_fast(&self, node: RaftNodeId) -> Result<(), Error> {
        if self.inner.health.node_reachable(node) {
            return Ok(());
        }
        Err(Error::Unreachable {
            node,
            reason: format!("silent for {:?}", self.inner.health.silent_for(node)),
        })
    }

    /// Like [`Self::fail_fast`] for the leader: nothing was sent, so the caller may wait for
    /// the election that follows and retry.
    fn leader_reachable(&self, leader: RaftNodeId) -> Result<(), Error> {
        if self.inner.health.node_reachable(leader) {
            return Ok(());
        }
        Err(Error::LeaderDown { node: leader })
    }

    /// Runs `fut` (a call to `node`) but gives up as soon as the failure detector declares `node`
    /// unreachable: a peer that died mid-call would otherwise hold the call until QUIC's idle
    /// timeout.
    pub(super) async fn while_reachable<T>(&self, node: RaftNodeId, fut: impl std::future::Future<Output = T>) -> Result<T, Error> {
        let health = self.inner.health.clone();
        let watch = async move {
            let mut tick = tokio::time::interval(HEALTH_POLL);
            while health.node_reachable(node) {
                tick.tick().await;
            }
        };
        tokio::select! {
            r = fut => Ok(r),
            _ = watch => Err(Error::Unreachable { node, reason: "stopped answering during the call".into() }),
        }
    }

    /// Waits until the failure detector decides about `node`, which did not answer a call sent
    /// at `sent`: declared unreachable, or answering pings again. Bounded: a silent node is
    /// declared unreachable `failover_after` after its last answer, which came before `sent`, so
    /// the wait ends by `sent + failover_after` plus one poll (then [`Verdict::Undecided`]).
    pub async fn await_verdict(&self, node: RaftNodeId, sent: tokio::time::Instant) -> Verdict {
        let health = &self.inner.health;
        let deadline = sent + health.failover_after() + HEALTH_POLL;
        loop {
            if !health.node_reachable(node) {
                return Verdict::Lost;
            }
            if health.answered_since(node, sent) {
                return Verdict::Alive;
            }
            if tokio::time::Instant::now() >= deadline {
                return Verdict::Undecided;
            }
            tokio::time::sleep(HEALTH_POLL).await;
        }
    }

    /// Makes sure the transport knows where `node` listens (from the current membership).
    fn ensure_peer_addr(&self, node: RaftNodeId) {
        let Some(t) = &self.inner.transport else { return };
        let m = self.inner.raft.metrics().borrow().membership_config.clone();
        if let Some(n) = m.membership().get_node(&node) {
            if let Ok(addr) = n.raft_addr.parse::<svea_config::PeerAddr>() {
                t.set_peer_addr(node, addr);
            }
        }
    }
}
