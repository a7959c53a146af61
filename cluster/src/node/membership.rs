//! The node's side of membership: run a change on the leader (here, or forwarded to it) and ask
//! the leader for its replication progress. What a change does on the leader is
//! [`crate::membership`].

use super::leadership::LEADER_WAIT_LEASES;
use super::GroupNode;
use crate::error::Error;
use crate::membership::{self, MembershipError, MembershipOp, ReplicationStatus};
use crate::rpc::{ChangeMembership, Replication};

/// Attempts of a membership change that meets "not the leader" (leadership moving meanwhile).
const MEMBERSHIP_ATTEMPTS_MAX: u32 = 5;

impl GroupNode {
    /// Runs a membership change in this handle's group on its leader (here, or forwarded to it),
    /// retrying a few times while leadership moves. Bounded by the membership-change timeout per
    /// attempt.
    pub async fn change_membership(&self, op: MembershipOp) -> Result<(), Error> {
        let mut last = None;
        for _ in 0..MEMBERSHIP_ATTEMPTS_MAX {
            let leader = match membership::apply(&self.inner.raft, op.clone(), self.inner.membership_timeout, &self.inner.counters).await {
                Ok(()) => return Ok(()),
                Err(MembershipError::NotLeader { leader }) => leader,
                Err(e) => return Err(e.into()),
            };
            let answer = match (leader, &self.inner.transport) {
                (Some(l), Some(t)) if l != self.inner.id && self.inner.health.node_reachable(l) => {
                    let request = ChangeMembership(op.clone());
                    self.while_reachable(l, t.call_in(l, self.inner.group, &request, self.inner.membership_timeout))
                        .await?
                        .unwrap_or_else(|e| Err(MembershipError::Failed(e.to_string())))
                }
                _ => Err(MembershipError::NotLeader { leader }),
            };
            match answer {
                Ok(()) => return Ok(()),
                Err(e @ MembershipError::NotLeader { .. }) => {
                    last = Some(e);
                    self.wait_for_leader(self.inner.leader_lease * LEADER_WAIT_LEASES).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(last.unwrap_or(MembershipError::NotLeader { leader: None }).into())
    }

    /// The leader's replication progress, asked of the leader when this node follows.
    pub async fn replication(&self) -> Result<ReplicationStatus, Error> {
        match membership::replication(&self.inner.raft) {
            Ok(r) => Ok(r),
            Err(MembershipError::NotLeader { leader: Some(l) }) if l != self.inner.id => {
                self.fail_fast(l)?;
                let t = self.inner.transport.as_ref().ok_or(Error::NotLeader { leader: Some(l) })?;
                match self.while_reachable(l, t.call_in(l, self.inner.group, &Replication, self.inner.read_timeout)).await? {
                    Ok(r) => Ok(r?),
                    Err(e) => Err(Error::Forward(e.to_string())),
                }
            }
            Err(e) => Err(e.into()),
        }
    }
}
