//! Leadership seen from one node: waiting for a leader, handing leadership to another voter
//! (openraft 0.9 has no transfer), and logging every change of leader and membership.

use std::sync::Arc;
use std::time::Duration;

use openraft::Raft;
use svea_storage::{GroupId, RaftNodeId, TypeConfig};

use super::{GroupNode, Inner};
use crate::error::Error;
use crate::membership::{self, MembershipError};
use crate::metrics::Counters;
use crate::rpc::Campaign;
use crate::transport::Transport;

/// A node that was told "not the leader" waits at most this many leader leases for a new one
/// before it retries: an election ends within one lease, a hand-over within
/// [`STEP_DOWN_WAIT_LEASES`] after the lease it waits out.
pub(super) const LEADER_WAIT_LEASES: u32 = 3;
/// Once the successor campaigns, the old leader waits this many leases to see it win: one for a
/// split vote's re-election timer, one for the votes' round trips.
const STEP_DOWN_WAIT_LEASES: u32 = 2;
/// Before asking the successor to campaign, the old leader waits out the followers' lease plus
/// `1 / LEASE_MARGIN_DIVISOR` of it: the margin covers the last heartbeat's flight time and
/// timer skew, so every voter already accepts a new leader when the vote request arrives.
const LEASE_MARGIN_DIVISOR: u32 = 4;
/// Times the successor is asked to campaign before the hand-over gives up (the membership-change
/// timeout usually ends it first).
const CAMPAIGN_ATTEMPTS_MAX: u32 = 5;
/// How often the hand-over checks whether the successor has caught up with the log.
const CATCH_UP_POLL: Duration = Duration::from_millis(50);

/// A home node counts as caught up for a hand-over when it lacks at most this many of the
/// leader's entries (the hand-over itself then waits, writes frozen, for the rest).
const HOME_CATCH_UP_LAG_MAX: u64 = 256;
/// How often a group's leader checks whether its home region can take leadership back, as a
/// fraction of the failure detector's window.
const HOME_CHECKS_PER_FAILOVER_WINDOW: u32 = 4;

const _: () = assert!(STEP_DOWN_WAIT_LEASES >= 2, "an election may need a second round");
const _: () = assert!(LEADER_WAIT_LEASES > STEP_DOWN_WAIT_LEASES, "a waiting node outlasts a hand-over's election");
const _: () = assert!(LEASE_MARGIN_DIVISOR >= 2, "the margin is a fraction of a lease, not a second lease");

impl GroupNode {
    /// The leader this node knows of right now, if any.
    pub fn leader(&self) -> Option<RaftNodeId> {
        self.inner.raft.metrics().borrow().current_leader
    }

    /// Waits (at most `limit`) until this node knows a leader other than a frozen self.
    pub async fn wait_for_leader(&self, limit: Duration) -> Option<RaftNodeId> {
        let mut rx = self.inner.raft.metrics();
        let wait = async {
            loop {
                let leader = rx.borrow().current_leader;
                if let Some(l) = leader.filter(|l| *l != self.inner.id || !self.inner.freeze.is_frozen()) {
                    return Some(l);
                }
                if rx.changed().await.is_err() {
                    return None;
                }
            }
        };
        tokio::time::timeout(limit, wait).await.ok().flatten()
    }

    /// Hands leadership from this node (the leader) to voter `to`; openraft 0.9 has no
    /// leadership transfer, so this builds one from its parts:
    ///
    /// 1. stop accepting writes and read-index requests here (callers wait and retry: nothing
    ///    is lost), and stop heartbeats, so no append refreshes the followers' leader lease;
    /// 2. wait until `to` has every entry of our log, so it is electable;
    /// 3. wait out the leader lease, then ask `to` to campaign; every voter grants it (its log is
    ///    as long as any) and this node steps down on seeing the higher term.
    ///
    /// Step 1 holds a [`FreezeGuard`](crate::freeze::FreezeGuard): however this ends (success,
    /// error, timeout, or the future dropped by a caller's shorter timeout), writes are unfrozen
    /// and heartbeats resume (as a follower they are moot). Bounded by the membership-change
    /// timeout.
    pub async fn transfer_leadership(&self, to: RaftNodeId) -> Result<(), Error> {
        let raft = &self.inner.raft;
        let t = self.inner.transport.clone().ok_or(Error::NotLeader { leader: None })?;
        let m = raft.metrics().borrow().clone();
        if m.current_leader != Some(self.inner.id) {
            return Err(MembershipError::NotLeader { leader: m.current_leader }.into());
        }
        if !m.membership_config.membership().voter_ids().any(|v| v == to) || to == self.inner.id {
            return Err(MembershipError::Refused(format!("node {to} is not another voter")).into());
        }
        self.fail_fast(to)?;
        tracing::info!(event = "leadership", to, term = m.current_term, "handing leadership over");
        let limit = self.inner.membership_timeout;
        let outcome = {
            let _frozen = self.inner.freeze.hold(raft);
            tokio::time::timeout(limit, self.hand_over(&t, to)).await
        };
        match outcome {
            Ok(Ok(())) => {
                self.inner.counters.leadership_transfer();
                let term = raft.metrics().borrow().current_term;
                tracing::info!(event = "leadership", to, term, "leadership handed over");
                Ok(())
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Timeout { op: "leadership transfer", after: limit }),
        }
    }

    async fn hand_over(&self, t: &Transport, to: RaftNodeId) -> Result<(), Error> {
        let raft = &self.inner.raft;
        let lease = self.inner.leader_lease;
        // 2. The successor has our whole log (entries appended before the freeze included).
        loop {
            let r = membership::replication(raft)?;
            if r.matched.get(&to).copied().flatten() >= r.last_log_index {
                break;
            }
            tokio::time::sleep(CATCH_UP_POLL).await;
        }
        // 3. Wait out the lease the last append gave the followers, then let `to` campaign.
        let mut rx = raft.metrics();
        for _ in 0..CAMPAIGN_ATTEMPTS_MAX {
            tokio::time::sleep(lease + lease / LEASE_MARGIN_DIVISOR).await;
            match t.call_in(to, self.inner.group, &Campaign, self.inner.read_timeout).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(Error::Forward(format!("campaign refused: {e}"))),
                Err(e) => return Err(Error::Forward(e.to_string())),
            }
            let stepped_down = async {
                loop {
                    if rx.borrow().current_leader.is_some_and(|l| l != self.inner.id) {
                        return;
                    }
                    if rx.changed().await.is_err() {
                        return;
                    }
                }
            };
            if tokio::time::timeout(lease * STEP_DOWN_WAIT_LEASES, stepped_down).await.is_ok() {
                return Ok(());
            }
            tracing::warn!(event = "leadership", to, "successor did not win its election; asking again");
        }
        Err(Error::Forward(format!("node {to} did not become leader")))
    }
}

/// Logs and counts every change of the leader this node follows, and of the membership. Ends
/// when Raft stops; owned by the node, which also aborts it on shutdown.
pub(super) async fn watch_leadership(raft: Raft<TypeConfig>, group: GroupId, counters: Arc<Counters>) {
    let mut rx = raft.metrics();
    let (mut leader, mut membership) = {
        let m = rx.borrow();
        (m.current_leader, m.membership_config.log_id().map(|l| l.index))
    };
    while rx.changed().await.is_ok() {
        let m = rx.borrow().clone();
        if m.current_leader != leader {
            counters.leader_changed();
            tracing::info!(event = "leader_change", node = m.id, group, term = m.current_term, previous = ?leader, leader = ?m.current_leader, "leader changed");
            leader = m.current_leader;
        }
        let applied = m.membership_config.log_id().map(|l| l.index);
        if applied != membership {
            let mem = m.membership_config.membership();
            let voters: Vec<RaftNodeId> = mem.voter_ids().collect();
            let learners: Vec<RaftNodeId> = mem.learner_ids().collect();
            tracing::info!(event = "membership", node = m.id, group, ?voters, ?learners, log_index = ?applied, "membership in effect");
            membership = applied;
        }
    }
}

impl GroupNode {
    /// The voter of this group's home region that should lead it instead of this node, if this
    /// node leads it away from home: a member of the home region, not draining, reachable, and at
    /// most [`HOME_CATCH_UP_LAG_MAX`] entries behind (lowest id first).
    fn home_successor(&self) -> Option<RaftNodeId> {
        let home = self.inner.home.as_deref()?;
        if home == self.inner.region || self.leader() != Some(self.inner.id) || self.inner.freeze.is_frozen() {
            return None;
        }
        let progress = membership::replication(&self.inner.raft).ok()?;
        let last = progress.last_log_index.unwrap_or(0);
        let m = self.inner.raft.metrics().borrow().membership_config.clone();
        let membership = m.membership();
        membership
            .voter_ids()
            .filter(|id| *id != self.inner.id)
            .filter(|id| membership.get_node(id).is_some_and(|n| n.region == home && !n.draining))
            .filter(|id| self.inner.health.node_reachable(*id))
            .find(|id| progress.matched.get(id).copied().flatten().unwrap_or(0) + HOME_CATCH_UP_LAG_MAX >= last)
    }
}

/// Brings a group's leadership home: while this node leads the group from outside its home
/// region, and a node of the home region has been reachable and caught up for a whole
/// failure-detector window (so a node that flaps does not pull leadership back and forth), hands
/// leadership to it ([`GroupNode::transfer_leadership`], the drain's hand-over). Ends when the
/// group stops.
pub(super) async fn bring_leadership_home(node: std::sync::Weak<Inner>, failover_after: Duration) {
    let every = (failover_after / HOME_CHECKS_PER_FAILOVER_WINDOW).max(CATCH_UP_POLL);
    let mut eligible_since: Option<(RaftNodeId, tokio::time::Instant)> = None;
    loop {
        tokio::time::sleep(every).await;
        let Some(inner) = node.upgrade() else { return };
        let me = GroupNode::detached(inner);
        let Some(to) = me.home_successor() else {
            eligible_since = None;
            continue;
        };
        let since = match eligible_since {
            Some((n, at)) if n == to => at,
            _ => {
                eligible_since = Some((to, tokio::time::Instant::now()));
                continue;
            }
        };
        if since.elapsed() < failover_after {
            continue;
        }
        eligible_since = None;
        let group = me.inner.group;
        tracing::info!(event = "leadership", group, to, home = ?me.inner.home, "bringing the group's leadership home");
        match me.transfer_leadership(to).await {
            Ok(()) => me.inner.counters.leadership_home(),
            Err(e) => tracing::warn!(event = "leadership", group, to, error = %e, "could not bring leadership home; trying again later"),
        }
    }
}
