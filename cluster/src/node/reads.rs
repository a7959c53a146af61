//! The linearizable read path: a read index confirmed by a quorum (asked of the leader when this
//! node follows), applied locally before the caller reads its own state. Concurrent barriers
//! share rounds (see [`crate::read_rounds`]): one quorum check, or one request to the leader,
//! serves every barrier that began before it started.

use std::sync::Arc;
use std::time::Duration;

use openraft::error::{CheckIsLeaderError, RaftError};
use svea_storage::{RaftNodeId, SveaNode};

use super::GroupNode;
use crate::error::Error;
use crate::rpc::ReadIndex;

impl GroupNode {
    /// Makes local reads linearizable: confirms with a quorum that the leader still leads, takes
    /// its commit index (asking the leader over the transport when this node follows), and waits
    /// until this node has applied it. The confirmation is shared with the barriers that arrive
    /// while one is in flight, and always starts after this call began.
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

    /// A consistent cut of the replicated data for a backup, taken after a read barrier: it holds
    /// every write acknowledged anywhere before this call, and is the state after exactly the
    /// entry it names (applied entries are committed ones).
    pub async fn backup_cut(&self) -> Result<(Option<openraft::LogId<RaftNodeId>>, Vec<(Vec<u8>, Vec<u8>)>), Error> {
        self.read_barrier().await?;
        Ok(self.inner.sm.backup_cut()?)
    }

    /// This group's backup section: the cut of what this node has applied, without a barrier,
    /// so a backup's only after one (`ClusterNode::backup_cut` confirms every group first).
    pub fn local_cut(&self) -> Result<svea_storage::backup::Section, Error> {
        let (applied, pairs) = self.inner.sm.backup_cut()?;
        Ok(svea_storage::backup::Section { group: self.inner.group, applied, pairs })
    }

    async fn read_index_once(&self, after: Duration) -> Result<Option<u64>, Error> {
        let inner = &self.inner;
        match inner.reads.confirm_leadership(&inner.raft, &inner.freeze, &inner.counters).await {
            Ok(log_id) => Ok(log_id.map(|l| l.index)),
            Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f))) => {
                let leader = f.leader_id;
                let ask = || async {
                    inner.counters.read_index_round();
                    self.forward_to_leader(leader, &ReadIndex, inner.read_timeout).await.map_err(Arc::new)
                };
                inner.reads.forwarded.join(ask).await.map(Some).map_err(|e| e.for_another_caller())
            }
            Err(RaftError::APIError(other)) => Err(Error::Timeout { op: format_static(&other), after }),
            Err(RaftError::Fatal(f)) => Err(Error::Fatal(f.to_string())),
        }
    }

    /// Read-index rounds this node has started (quorum checks as leader, requests to the leader
    /// as follower); concurrent barriers share them.
    pub fn read_index_rounds(&self) -> u64 {
        self.inner.counters.read_index_rounds()
    }
}

fn format_static(e: &CheckIsLeaderError<RaftNodeId, SveaNode>) -> &'static str {
    match e {
        CheckIsLeaderError::QuorumNotEnough(_) => "leadership check (no quorum)",
        _ => "leadership check",
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use svea_config::loopback::{Cluster, Node};
    use svea_storage::{Command, Owner};

    use crate::network::NoPeers;
    use crate::ClusterNode;

    /// How long the one-node cluster may take to elect itself.
    const LEADER_TIMEOUT: Duration = Duration::from_secs(10);

    async fn one_node(dir: &std::path::Path) -> ClusterNode {
        let cfg = Cluster::new("reads", [Node::loopback(1, "stockholm", 18080, 19080)])
            .dir(dir)
            .tls(dir)
            .configs()
            .expect("configs")[0]
            .clone()
            .validate()
            .expect("config");
        let disk = svea_storage::engine::mem::MemDisk::new();
        let (log, sm) = svea_storage::open_in_memory(&disk, Duration::from_secs(1)).expect("store");
        let node = ClusterNode::start(&cfg, log, sm, NoPeers, None).await.expect("start");
        node.bootstrap_if_new(&cfg.initial_members()).await.expect("bootstrap");
        node.raft().wait(Some(LEADER_TIMEOUT)).current_leader(1, "leader").await.expect("leader");
        node
    }

    #[tokio::test]
    async fn concurrent_barriers_share_rounds_and_see_acknowledged_writes() {
        let dir = tempfile::tempdir().expect("tmp");
        let node = one_node(dir.path()).await;
        for round in 0..3u64 {
            let actor = format!("session/{round}");
            node.write(Command::Claim { actor: actor.clone(), node: 1, expected_epoch: 0 }).await.expect("write");
            let before = node.groups()[0].read_index_rounds();
            let barriers: Vec<_> = (0..100).map(|_| node.read_barrier()).collect();
            for r in futures::future::join_all(barriers).await {
                r.expect("barrier");
            }
            let rounds = node.groups()[0].read_index_rounds() - before;
            assert!((1..=2).contains(&rounds), "100 concurrent barriers ran {rounds} rounds");
            // Every barrier began after the write was acknowledged, so the write is visible.
            assert_eq!(node.view().owner(&actor).expect("read"), Some(Owner { node: 1, epoch: 1 }));
        }
        node.shutdown().await.expect("shutdown");
    }
}
