//! Membership changes, run on the leader: a node joins as learner, catches up and becomes a
//! voter; a node is marked draining; a node leaves. Also the leader's replication view.
//!
//! Every change is validated against the current membership first, so an operator mistake (a
//! second node with the same id, removing the last voter) is refused with a reason instead of
//! reaching openraft. Each change is logged with structured fields and counted.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use openraft::{ChangeMembers, Raft};
use serde::{Deserialize, Serialize};
use svea_storage::{RaftNodeId, SveaNode, TypeConfig};

use crate::metrics::Counters;

/// One membership change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MembershipOp {
    /// Add a node as learner and wait until it has caught up with the leader's log.
    AddLearner {
        /// New node id.
        id: RaftNodeId,
        /// Where it lives.
        node: SveaNode,
    },
    /// Make a caught-up learner a voter.
    Promote {
        /// The learner.
        id: RaftNodeId,
    },
    /// Mark a member as draining (it takes no new actors) or not.
    SetDraining {
        /// The member.
        id: RaftNodeId,
        /// Draining or not.
        draining: bool,
    },
    /// Remove a member (voter or learner) from the cluster.
    Remove {
        /// The member.
        id: RaftNodeId,
    },
}

impl MembershipOp {
    /// Stable name for logs and counters.
    pub fn name(&self) -> &'static str {
        match self {
            MembershipOp::AddLearner { .. } => "add_learner",
            MembershipOp::Promote { .. } => "promote",
            MembershipOp::SetDraining { .. } => "set_draining",
            MembershipOp::Remove { .. } => "remove",
        }
    }

    /// The node the change is about.
    pub fn target(&self) -> RaftNodeId {
        match self {
            MembershipOp::AddLearner { id, .. }
            | MembershipOp::Promote { id }
            | MembershipOp::SetDraining { id, .. }
            | MembershipOp::Remove { id } => *id,
        }
    }
}

/// Why a membership change did not happen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum MembershipError {
    /// This node is not the leader.
    #[error("node is not the leader; leader is {leader:?}")]
    NotLeader {
        /// The leader this node knows of.
        leader: Option<RaftNodeId>,
    },
    /// The node is not a member.
    #[error("node {0} is not a member of the cluster")]
    NotMember(RaftNodeId),
    /// The change contradicts the current membership (an operator error; nothing changed).
    #[error("{0}")]
    Refused(String),
    /// The change could not complete now (no quorum, timeout, shutdown); it may have partly
    /// happened (a learner added but not promoted): retrying is safe.
    #[error("{0}")]
    Failed(String),
}

/// The leader's view of replication: how far each member's log matches the leader's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationStatus {
    /// The leader that reported it.
    pub leader: RaftNodeId,
    /// Its term.
    pub term: u64,
    /// The leader's last log index.
    pub last_log_index: Option<u64>,
    /// Per member: the highest log index known to match the leader's (None: nothing yet).
    pub matched: BTreeMap<RaftNodeId, Option<u64>>,
}

/// The leader's replication view; `NotLeader` elsewhere.
pub fn replication(raft: &Raft<TypeConfig>) -> Result<ReplicationStatus, MembershipError> {
    let m = raft.metrics().borrow().clone();
    let Some(progress) = m.replication.as_ref().filter(|_| m.current_leader == Some(m.id)) else {
        return Err(MembershipError::NotLeader { leader: m.current_leader });
    };
    let mut matched: BTreeMap<RaftNodeId, Option<u64>> = progress.iter().map(|(id, l)| (*id, l.map(|l| l.index))).collect();
    matched.insert(m.id, m.last_log_index);
    Ok(ReplicationStatus { leader: m.id, term: m.current_term, last_log_index: m.last_log_index, matched })
}

/// Applies `op` on this node, which must be the leader. Idempotent: a change already in effect
/// answers `Ok` without writing anything.
pub async fn apply(raft: &Raft<TypeConfig>, op: MembershipOp, timeout: Duration, counters: &Counters) -> Result<(), MembershipError> {
    let m = raft.metrics().borrow().clone();
    if m.current_leader != Some(m.id) {
        return Err(MembershipError::NotLeader { leader: m.current_leader });
    }
    let membership = m.membership_config.membership().clone();
    let voters: BTreeSet<RaftNodeId> = membership.voter_ids().collect();
    let known = |id: &RaftNodeId| membership.get_node(id).cloned();
    let change = match &op {
        MembershipOp::AddLearner { id, node } => {
            if let Some(existing) = known(id) {
                let same = existing.raft_addr == node.raft_addr && existing.region == node.region;
                if !same {
                    return Err(MembershipError::Refused(format!("node {id} is already a member at {existing}")));
                }
                if voters.contains(id) {
                    return Err(MembershipError::Refused(format!("node {id} is already a voter")));
                }
            }
            if let Some((other, _)) = membership.nodes().find(|(o, n)| *o != id && n.raft_addr == node.raft_addr) {
                return Err(MembershipError::Refused(format!("raft address {} is already used by node {other}", node.raft_addr)));
            }
            // Adding the same learner again is how an interrupted `add` resumes: openraft waits
            // for it to catch up either way.
            let added = with_timeout(timeout, "add learner", raft.add_learner(*id, node.clone(), true)).await?;
            added.map_err(write_error)?;
            log_change(&op, counters, m.current_term);
            return Ok(());
        }
        MembershipOp::Promote { id } => {
            if known(id).is_none() {
                return Err(MembershipError::NotMember(*id));
            }
            if voters.contains(id) {
                return Ok(());
            }
            ChangeMembers::AddVoterIds([*id].into())
        }
        MembershipOp::SetDraining { id, draining } => {
            let Some(mut node) = known(id) else { return Err(MembershipError::NotMember(*id)) };
            if node.draining == *draining {
                return Ok(());
            }
            node.draining = *draining;
            ChangeMembers::SetNodes([(*id, node)].into())
        }
        MembershipOp::Remove { id } => {
            if known(id).is_none() {
                return Err(MembershipError::NotMember(*id));
            }
            if *id == m.id {
                return Err(MembershipError::Refused(format!(
                    "node {id} is the leader: drain it instead, which moves leadership away first"
                )));
            }
            if voters.contains(id) {
                if voters.len() <= 1 {
                    return Err(MembershipError::Refused("cannot remove the last voter".into()));
                }
                ChangeMembers::RemoveVoters([*id].into())
            } else {
                ChangeMembers::RemoveNodes([*id].into())
            }
        }
    };
    let changed = with_timeout(timeout, op.name(), raft.change_membership(change, false)).await?;
    changed.map_err(write_error)?;
    log_change(&op, counters, m.current_term);
    Ok(())
}

async fn with_timeout<T>(after: Duration, what: &str, fut: impl std::future::Future<Output = T>) -> Result<T, MembershipError> {
    tokio::time::timeout(after, fut)
        .await
        .map_err(|_| MembershipError::Failed(format!("{what} did not complete within {after:?}")))
}

fn write_error(e: RaftError<RaftNodeId, ClientWriteError<RaftNodeId, SveaNode>>) -> MembershipError {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => MembershipError::NotLeader { leader: f.leader_id },
        RaftError::APIError(ClientWriteError::ChangeMembershipError(c)) => MembershipError::Refused(c.to_string()),
        RaftError::Fatal(f) => MembershipError::Failed(f.to_string()),
    }
}

fn log_change(op: &MembershipOp, counters: &Counters, term: u64) {
    counters.membership_change(op.name());
    match op {
        MembershipOp::AddLearner { id, node } => {
            tracing::info!(event = "membership", op = op.name(), node = id, region = %node.region, raft_addr = %node.raft_addr, term, "learner added and caught up")
        }
        MembershipOp::SetDraining { id, draining } => {
            tracing::info!(event = "membership", op = op.name(), node = id, draining, term, "member drain flag set")
        }
        _ => tracing::info!(event = "membership", op = op.name(), node = op.target(), term, "membership changed"),
    }
}
