//! The linearizable read path: a read index confirmed by a quorum (asked of the leader when this
//! node follows), applied locally before the caller reads its own state.

use std::time::Duration;

use openraft::error::{CheckIsLeaderError, RaftError};
use svea_storage::{RaftNodeId, SveaNode};

use super::ClusterNode;
use crate::error::Error;
use crate::rpc::ReadIndex;

impl ClusterNode {
    /// Makes local reads linearizable: confirms with a quorum that the leader still leads, takes
    /// its commit index (asking the leader over the transport when this node follows), and waits
    /// until this node has applied it.
    pub async fn read_barrier(&self) -> Result<(), Error> {
        let after = self.inner.read_timeout;
        let fut = async {
            let index = self.retry_without_leader(|| self.read_index_once(after)).await?;
            if let Some(i) = index {
                self.wait_applied(i).await?;
            }
            Ok(())
        };
        tokio::time::timeout(after, fut).await.map_err(|_| Error::Timeout { op: "read barrier", after })?
    }

    async fn read_index_once(&self, after: Duration) -> Result<Option<u64>, Error> {
        if self.inner.freeze.is_frozen() {
            return Err(Error::NotLeader { leader: None });
        }
        match self.inner.raft.ensure_linearizable().await {
            Ok(log_id) => Ok(log_id.map(|l| l.index)),
            Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f))) => {
                Ok(Some(self.forward_to_leader(f.leader_id, &ReadIndex, self.inner.read_timeout).await?))
            }
            Err(RaftError::APIError(other)) => Err(Error::Timeout { op: format_static(&other), after }),
            Err(RaftError::Fatal(f)) => Err(Error::Fatal(f.to_string())),
        }
    }
}

fn format_static(e: &CheckIsLeaderError<RaftNodeId, SveaNode>) -> &'static str {
    match e {
        CheckIsLeaderError::QuorumNotEnough(_) => "leadership check (no quorum)",
        _ => "leadership check",
    }
}
