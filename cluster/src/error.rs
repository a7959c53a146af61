//! Errors of the cluster crate.

use std::time::Duration;

/// Errors of cluster operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Raft configuration derived from svea's config was rejected by openraft.
    #[error("invalid raft config: {0}")]
    RaftConfig(String),
    /// The local store could not be opened.
    #[error(transparent)]
    Storage(#[from] svea_storage::Error),
    /// This node is not the leader and cannot forward (no route to the leader yet).
    #[error("not the leader; leader is {leader:?}")]
    NotLeader {
        /// The leader this node knows of, if any.
        leader: Option<u64>,
    },
    /// No quorum confirmed leadership or a write in time.
    #[error("{op} did not complete within {after:?}")]
    Timeout {
        /// The operation.
        op: &'static str,
        /// The configured limit.
        after: Duration,
    },
    /// A command's keys belong to different Raft groups: nothing was proposed (a group's log
    /// holds only its own keys; records shared across groups are written one group at a time).
    #[error("a command may not span raft groups: {first} and {other}")]
    CrossGroup {
        /// The command's first key and its group.
        first: String,
        /// A key in another group, and its group.
        other: String,
    },
    /// Raft stopped (shutdown or a storage failure); the node must restart.
    #[error("raft stopped: {0}")]
    Fatal(String),
    /// A forwarded write or read failed at or on the way to the leader; its outcome is unknown.
    #[error("forwarded request failed: {0}")]
    Forward(String),
    /// The leader this node knows of has been silent for `failover_after`; nothing was sent.
    #[error("leader {node} unreachable; waiting for a new one")]
    LeaderDown {
        /// The silent leader.
        node: u64,
    },
    /// Another node could not be reached.
    #[error("node {node} unreachable: {reason}")]
    Unreachable {
        /// The node.
        node: u64,
        /// Why.
        reason: String,
    },
    /// A membership change was refused or failed.
    #[error(transparent)]
    Membership(#[from] crate::membership::MembershipError),
    /// Bootstrapping the cluster failed.
    #[error("cannot initialize cluster: {0}")]
    Initialize(String),
}

impl Error {
    /// The same error for another caller that shares one outcome: every write of a batch that
    /// failed as a whole (the write batcher), every barrier of a read-index round. Every variant
    /// a write or read can end in is copied; storage errors, whose source cannot be cloned, keep
    /// their message.
    pub(crate) fn for_another_caller(&self) -> Error {
        match self {
            Error::NotLeader { leader } => Error::NotLeader { leader: *leader },
            Error::Timeout { op, after } => Error::Timeout { op: *op, after: *after },
            Error::Fatal(e) => Error::Fatal(e.clone()),
            Error::Forward(e) => Error::Forward(e.clone()),
            Error::LeaderDown { node } => Error::LeaderDown { node: *node },
            Error::Unreachable { node, reason } => Error::Unreachable { node: *node, reason: reason.clone() },
            Error::Membership(m) => Error::Membership(m.clone()),
            Error::RaftConfig(e) => Error::RaftConfig(e.clone()),
            Error::Initialize(e) => Error::Initialize(e.clone()),
            Error::Storage(e) => Error::Fatal(e.to_string()),
            Error::CrossGroup { first, other } => Error::CrossGroup { first: first.clone(), other: other.clone() },
        }
    }

    /// Whether a client may retry the operation later (possibly elsewhere).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::NotLeader { .. }
            | Error::LeaderDown { .. }
            | Error::Timeout { .. }
            | Error::Forward(_)
            | Error::Unreachable { .. } => true,
            Error::Membership(m) => matches!(
                m,
                crate::membership::MembershipError::NotLeader { .. } | crate::membership::MembershipError::Failed(_)
            ),
            _ => false,
        }
    }
}
