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
/// How often a membership change whose group's leader is unreachable looks for its successor.
/// With a group per region, removing a dead node meets a group it led: its followers elect a
/// new leader within `failover_after` plus an election, and the change waits for it (bounded
/// by the membership-change timeout) rather than failing.
const FAILOVER_POLL: std::time::Duration = std::time::Duration::from_millis(250);

impl GroupNode {
    /// Runs a membership change in this handle's group on its leader (here, or forwarded to it),
    /// retrying a few times while leadership moves. Bounded by the membership-change timeout per
    /// attempt.
    pub async fn change_membership(&self, op: MembershipOp) -> Result<(), Error> {
        let mut last = None;
        let mut attempts = 0;
        let failing_over_until = tokio::time::Instant::now() + self.inner.membership_timeout;
        while attempts < MEMBERSHIP_ATTEMPTS_MAX {
            let leader = match membership::apply(&self.inner.raft, op.clone(), self.inner.membership_timeout, &self.inner.counters).await {
                Ok(()) => return Ok(()),
                Err(MembershipError::NotLeader { leader }) => leader,
                Err(e) => return Err(e.into()),
            };
            let reachable = leader.is_some_and(|l| l != self.inner.id && self.inner.health.node_reachable(l));
            let answer = match (leader, &self.inner.transport) {
                (Some(l), Some(t)) if reachable => {
                    let request = ChangeMembership(op.clone());
                    match self.while_reachable(l, t.call_in(l, self.inner.group, &request, self.inner.membership_timeout)).await {
                        Ok(answer) => answer.unwrap_or_else(|e| Err(MembershipError::Failed(e.to_string()))),
                        // The leader died during the call: its group fails over, as below.
                        Err(Error::Unreachable { .. }) => Err(MembershipError::NotLeader { leader: None }),
                        Err(e) => return Err(e),
                    }
                }
                _ => Err(MembershipError::NotLeader { leader }),
            };
            match answer {
                Ok(()) => return Ok(()),
                Err(e @ MembershipError::NotLeader { .. }) => {
                    last = Some(e);
                    let failing_over = leader.is_some_and(|l| l != self.inner.id && !self.inner.health.node_reachable(l));
                    if failing_over && tokio::time::Instant::now() < failing_over_until {
                        tokio::time::sleep(FAILOVER_POLL).await;
                        continue;
                    }
                    attempts += 1;
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
