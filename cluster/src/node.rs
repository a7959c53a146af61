//! One node's membership in the replicated store: openraft wiring plus the write and read paths.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use openraft::network::RaftNetworkFactory;
use openraft::{Raft, ServerState, SnapshotPolicy};
use svea_config::{Config, MemberSpec};
use svea_storage::{Command, CommandResult, LogStore, RaftNodeId, StateMachineStore, StateView, SveaNode, TypeConfig};

use crate::error::Error;

/// A committed and locally applied command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// Log index of the entry.
    pub index: u64,
    /// What the state machine answered.
    pub result: CommandResult,
}

/// What a node sees of the cluster right now (from Raft metrics).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClusterStatus {
    /// This node's id.
    pub node_id: RaftNodeId,
    /// Current term.
    pub term: u64,
    /// Leader this node follows, if any.
    pub leader: Option<RaftNodeId>,
    /// Leader, Follower, Candidate or Learner.
    pub role: String,
    /// Last log index written locally.
    pub last_log_index: Option<u64>,
    /// Last log index applied locally.
    pub last_applied_index: Option<u64>,
    /// Voter ids.
    pub voters: Vec<RaftNodeId>,
    /// All members with their addresses.
    pub members: BTreeMap<RaftNodeId, SveaNode>,
}

/// Converts a configured member to the node record kept in Raft membership.
pub fn member_node(m: &MemberSpec) -> SveaNode {
    SveaNode {
        region: m.region.to_string(),
        raft_addr: m.raft_addr.to_string(),
        http_addr: m.http_addr.to_string(),
        public_url: m.public_url.clone(),
    }
}

/// Builds openraft's config from svea's, so every Raft timing lives in one place.
pub fn raft_config(cfg: &Config) -> Result<openraft::Config, Error> {
    let ms = |d: Duration| d.as_millis() as u64;
    let rc = openraft::Config {
        cluster_name: cfg.cluster.name.clone(),
        heartbeat_interval: ms(cfg.timeouts.heartbeat),
        election_timeout_min: ms(cfg.timeouts.election_min),
        election_timeout_max: ms(cfg.timeouts.election_max),
        install_snapshot_timeout: ms(cfg.timeouts.raft_rpc).max(1),
        snapshot_policy: SnapshotPolicy::LogsSinceLast(cfg.limits.snapshot_logs_since_last),
        max_in_snapshot_log_to_keep: cfg.limits.max_in_snapshot_log_to_keep,
        ..Default::default()
    };
    rc.validate().map_err(|e| Error::RaftConfig(e.to_string()))
}

/// This node's handle on the cluster. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct ClusterNode {
    inner: Arc<Inner>,
}

struct Inner {
    id: RaftNodeId,
    raft: Raft<TypeConfig>,
    view: StateView,
    sm: StateMachineStore,
    write_timeout: Duration,
    read_timeout: Duration,
}

impl ClusterNode {
    /// Starts Raft on the given storage and network. Must run inside a tokio runtime; openraft
    /// spawns its tasks on it.
    pub async fn start<N>(cfg: &Config, log: LogStore, sm: StateMachineStore, network: N) -> Result<Self, Error>
    where
        N: RaftNetworkFactory<TypeConfig>,
    {
        let rc = Arc::new(raft_config(cfg)?);
        let id = cfg.node.id.get();
        let view = sm.view();
        let raft = Raft::new(id, rc, network, log, sm.clone()).await.map_err(|e| Error::Fatal(e.to_string()))?;
        Ok(ClusterNode {
            inner: Arc::new(Inner {
                id,
                raft,
                view,
                sm,
                write_timeout: cfg.timeouts.client_write,
                read_timeout: cfg.timeouts.raft_rpc,
            }),
        })
    }

    /// Forms the cluster from the configured initial members if this store has never been part
    /// of one. Restarting a node, or starting it twice, never re-initializes.
    pub async fn bootstrap_if_new(&self, members: &[MemberSpec]) -> Result<bool, Error> {
        let raft = &self.inner.raft;
        if raft.is_initialized().await.map_err(|e| Error::Fatal(e.to_string()))? {
            return Ok(false);
        }
        // Only the lowest id initializes; the others receive membership from it. This keeps two
        // nodes from proposing competing first configurations.
        let lowest = members.iter().map(|m| m.id.get()).min();
        if lowest != Some(self.inner.id) {
            return Ok(false);
        }
        let nodes: BTreeMap<RaftNodeId, SveaNode> = members.iter().map(|m| (m.id.get(), member_node(m))).collect();
        match raft.initialize(nodes).await {
            Ok(()) => {
                tracing::info!(node = self.inner.id, members = members.len(), "cluster initialized");
                Ok(true)
            }
            Err(RaftError::APIError(openraft::error::InitializeError::NotAllowed(_))) => Ok(false),
            Err(e) => Err(Error::Initialize(e.to_string())),
        }
    }

    /// This node's id.
    pub fn id(&self) -> RaftNodeId {
        self.inner.id
    }

    /// Proposes a command, waits until it is committed and applied on this node, and returns
    /// the state machine's answer. Bounded by the configured client-write timeout.
    pub async fn write(&self, cmd: Command) -> Result<Committed, Error> {
        let after = self.inner.write_timeout;
        let fut = async {
            let resp = self.inner.raft.client_write(cmd).await.map_err(|e| match e {
                RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => Error::NotLeader { leader: f.leader_id },
                RaftError::APIError(other) => Error::Fatal(other.to_string()),
                RaftError::Fatal(f) => Error::Fatal(f.to_string()),
            })?;
            let index = resp.log_id.index;
            self.wait_applied(index).await?;
            Ok(Committed { index, result: resp.data })
        };
        tokio::time::timeout(after, fut).await.map_err(|_| Error::Timeout { op: "raft write", after })?
    }

    /// Waits until this node has applied at least `index`.
    pub async fn wait_applied(&self, index: u64) -> Result<(), Error> {
        let after = self.inner.write_timeout;
        self.inner
            .raft
            .wait(Some(after))
            .applied_index_at_least(Some(index), "wait applied")
            .await
            .map(|_| ())
            .map_err(|e| match e {
                openraft::metrics::WaitError::Timeout(..) => Error::Timeout { op: "apply", after },
                other => Error::Fatal(other.to_string()),
            })
    }

    /// Confirms with a quorum that this node leads and that its state machine has applied
    /// everything committed before the call: afterwards local reads are linearizable.
    pub async fn read_barrier(&self) -> Result<(), Error> {
        let after = self.inner.read_timeout;
        let fut = async {
            let log_id = self.inner.raft.ensure_linearizable().await.map_err(|e| match e {
                RaftError::APIError(openraft::error::CheckIsLeaderError::ForwardToLeader(f)) => {
                    Error::NotLeader { leader: f.leader_id }
                }
                RaftError::APIError(other) => Error::Timeout { op: format_static(&other), after },
                RaftError::Fatal(f) => Error::Fatal(f.to_string()),
            })?;
            if let Some(l) = log_id {
                self.wait_applied(l.index).await?;
            }
            Ok(())
        };
        tokio::time::timeout(after, fut).await.map_err(|_| Error::Timeout { op: "read barrier", after })?
    }

    /// The locally applied state. Reads are linearizable only after [`Self::read_barrier`] or a
    /// write of this node that was applied.
    pub fn view(&self) -> &StateView {
        &self.inner.view
    }

    /// A snapshot of Raft's view of the cluster.
    pub fn status(&self) -> ClusterStatus {
        let m = self.inner.raft.metrics().borrow().clone();
        let membership = m.membership_config.membership();
        ClusterStatus {
            node_id: m.id,
            term: m.current_term,
            leader: m.current_leader,
            role: match m.state {
                ServerState::Leader => "leader",
                ServerState::Follower => "follower",
                ServerState::Candidate => "candidate",
                ServerState::Learner => "learner",
                ServerState::Shutdown => "shutdown",
            }
            .to_string(),
            last_log_index: m.last_log_index,
            last_applied_index: m.last_applied.map(|l| l.index),
            voters: membership.voter_ids().collect(),
            members: membership.nodes().map(|(k, v)| (*k, v.clone())).collect(),
        }
    }

    /// The underlying openraft handle (for transports delivering RPCs and for tests).
    pub fn raft(&self) -> &Raft<TypeConfig> {
        &self.inner.raft
    }

    /// Stops Raft and flushes the store.
    pub async fn shutdown(&self) -> Result<(), Error> {
        self.inner.raft.shutdown().await.map_err(|e| Error::Fatal(e.to_string()))?;
        self.inner.sm.flush().await?;
        Ok(())
    }
}

fn format_static(e: &openraft::error::CheckIsLeaderError<RaftNodeId, SveaNode>) -> &'static str {
    match e {
        openraft::error::CheckIsLeaderError::QuorumNotEnough(_) => "leadership check (no quorum)",
        _ => "leadership check",
    }
}
