//! One node's membership in the replicated store: [`GroupNode`], its openraft wiring, its
//! background tasks and its accessors. The node's work is split by concern, one `impl GroupNode`
//! block per file:
//!
//! - [`writes`]: proposing commands (here or forwarded to the leader) and waiting for them;
//! - [`batcher`]: the write batcher, which puts the writes waiting at one moment in one entry;
//! - [`reads`]: the linearizable read barrier (read index);
//! - [`leadership`]: waiting for a leader, handing leadership over, logging leader changes;
//! - [`membership`]: membership changes and replication progress, run on or asked of the leader;
//! - [`peers`]: calls to other nodes, guarded by the failure detector.

pub(crate) mod batcher;
mod leadership;
mod membership;
mod peers;
mod reads;
mod writes;

pub use peers::Verdict;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::error::RaftError;
use openraft::network::RaftNetworkFactory;
use openraft::{Raft, ServerState, SnapshotPolicy};
use svea_config::{Config, MemberSpec};
use svea_storage::{CommandResult, GroupId, GroupStore, RaftNodeId, StateMachineStore, StateView, SveaNode, TypeConfig};
use tokio::task::JoinHandle;

use crate::error::Error;
use crate::freeze::Freeze;
use crate::health::{ping_schedule, run_pinger, Health};
use crate::metrics::Counters;
use crate::read_rounds::ReadRounds;
use crate::server::{GroupServer, Server};
use crate::transport::Transport;

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
    /// As leader: each other member's last log index known replicated there (0 when none
    /// yet); empty on followers.
    pub matched: BTreeMap<RaftNodeId, u64>,
}

/// Converts a configured member to the node record kept in Raft membership.
pub fn member_node(m: &MemberSpec) -> SveaNode {
    SveaNode {
        region: m.region.to_string(),
        raft_addr: m.raft_addr.to_string(),
        http_addr: m.http_addr.to_string(),
        public_url: m.public_url.clone(),
        draining: false,
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

/// A handle on a group that does not keep it running (a background task's).
pub(crate) struct WeakGroup(std::sync::Weak<Inner>);

impl WeakGroup {
    /// The group, while it runs.
    pub(crate) fn upgrade(&self) -> Option<GroupNode> {
        self.0.upgrade().map(|inner| GroupNode { inner })
    }
}

/// This node's handle on one Raft group of the cluster ([`crate::ClusterNode`] holds them all).
/// Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct GroupNode {
    inner: Arc<Inner>,
}

struct Inner {
    id: RaftNodeId,
    /// This group's number.
    group: GroupId,
    /// The region this group's leader belongs in (see `leadership::bring_leadership_home`).
    home: Option<String>,
    /// This node's region.
    region: String,
    transport: Option<Arc<Transport>>,
    health: Arc<Health>,
    raft: Raft<TypeConfig>,
    view: StateView,
    sm: StateMachineStore,
    write_timeout: Duration,
    read_timeout: Duration,
    membership_timeout: Duration,
    /// Followers reject votes for this long after hearing from a leader (openraft's leader
    /// lease, its `election_timeout_max`).
    leader_lease: Duration,
    counters: Arc<Counters>,
    /// Frozen while this node hands leadership away (see [`GroupNode::transfer_leadership`]);
    /// shared with the RPC server, which refuses forwarded writes and reads meanwhile.
    freeze: Arc<Freeze>,
    /// The read-index rounds concurrent barriers share; shared with the RPC server, whose
    /// read-index answers (as leader) join the same quorum checks.
    reads: Arc<ReadRounds>,
    /// The write batcher's queue (its task is one of `tasks`).
    writes: batcher::WriteQueue,
    /// Every task this node spawned; stopped by [`GroupNode::shutdown`].
    tasks: Tasks,
}

/// A node's background tasks (leader watch, write batcher, pinger, the transport's accept loop). Aborted on
/// shutdown, or when the last [`GroupNode`] handle is dropped without one.
#[derive(Default)]
struct Tasks(Mutex<Vec<JoinHandle<()>>>);

impl Tasks {
    fn own(&self, task: JoinHandle<()>) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(task);
    }

    fn abort_all(&self) -> Vec<JoinHandle<()>> {
        let tasks: Vec<_> = self.0.lock().unwrap_or_else(|p| p.into_inner()).drain(..).collect();
        for t in &tasks {
            t.abort();
        }
        tasks
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        self.abort_all();
    }
}

impl GroupNode {
    /// Starts one Raft instance per group of `stores` (group `g` is `stores[g]`, its home region
    /// `homes[g]`: where its leader belongs, `None` for a group that belongs nowhere), every group
    /// over the one `transport` (`network(g)` is group `g`'s Raft network) and sharing the
    /// failure detector, the counters and the store's one flusher.
    pub async fn start_groups<N, F>(
        cfg: &Config,
        stores: Vec<GroupStore>,
        homes: Vec<Option<String>>,
        mut network: F,
        transport: Option<Arc<Transport>>,
    ) -> Result<Vec<Self>, Error>
    where
        N: RaftNetworkFactory<TypeConfig>,
        F: FnMut(GroupId) -> N,
    {
        if stores.is_empty() || stores.len() != homes.len() || stores.len() > usize::from(svea_storage::GROUPS_MAX) {
            return Err(Error::Fatal(format!("{} group stores for {} home regions", stores.len(), homes.len())));
        }
        let rc = Arc::new(raft_config(cfg)?);
        let id = cfg.node.id.get();
        let counters = Arc::new(Counters::default());
        let health = Health::new(id, cfg.timeouts.failover_after, counters.clone());
        let mut inners = Vec::with_capacity(stores.len());
        let mut served = Vec::with_capacity(stores.len());
        let mut queues = Vec::with_capacity(stores.len());
        for (g, ((log, sm), home)) in stores.into_iter().zip(homes).enumerate() {
            let group = g as GroupId;
            let view = sm.view();
            let raft = Raft::new(id, rc.clone(), network(group), log, sm.clone()).await.map_err(|e| Error::Fatal(e.to_string()))?;
            let freeze = Arc::new(Freeze::default());
            let reads = Arc::new(ReadRounds::default());
            let tasks = Tasks::default();
            tasks.own(tokio::spawn(leadership::watch_leadership(raft.clone(), group, counters.clone())));
            let (writes, queued) = batcher::WriteQueue::new();
            served.push(GroupServer { raft: raft.clone(), freeze: freeze.clone(), reads: reads.clone(), writes: writes.clone() });
            queues.push(queued);
            inners.push(Arc::new(Inner {
                id,
                group,
                home,
                region: cfg.node.region.to_string(),
                transport: transport.clone(),
                health: health.clone(),
                raft,
                view,
                sm,
                write_timeout: cfg.timeouts.client_write,
                read_timeout: cfg.timeouts.raft_rpc,
                membership_timeout: cfg.timeouts.membership_change,
                leader_lease: cfg.timeouts.election_max,
                counters: counters.clone(),
                freeze,
                reads,
                writes,
                tasks,
            }));
        }
        let first = inners[0].clone();
        if let Some(t) = &transport {
            let server = Server {
                groups: served,
                counters: counters.clone(),
                membership_timeout: cfg.timeouts.membership_change,
                max_snapshot_bytes: t.max_snapshot_bytes(),
                app: t.app_slot(),
            };
            first.tasks.own(t.serve(Arc::new(server)));
            let metrics = first.raft.metrics();
            let members = move || {
                let m = metrics.borrow().membership_config.clone();
                m.membership().nodes().map(|(k, v)| (*k, v.clone())).collect()
            };
            let h = health.clone();
            t.on_answer(Arc::new(move |peer| h.record_ok(peer)));
            let (every, timeout) = ping_schedule(cfg.timeouts.failover_after);
            first.tasks.own(tokio::spawn(run_pinger(health.clone(), t.clone(), members, every, timeout)));
        }
        for (inner, queued) in inners.iter().zip(queues) {
            inner.tasks.own(tokio::spawn(batcher::run(Arc::downgrade(inner), queued)));
        }
        drop(first);
        for inner in &inners {
            if inner.home.is_some() && inner.transport.is_some() {
                inner.tasks.own(tokio::spawn(leadership::bring_leadership_home(Arc::downgrade(inner), cfg.timeouts.failover_after)));
            }
        }
        Ok(inners.into_iter().map(|inner| GroupNode { inner }).collect())
    }

    /// A handle that does not keep the group running.
    pub(crate) fn downgrade(&self) -> WeakGroup {
        WeakGroup(Arc::downgrade(&self.inner))
    }

    /// A handle on `inner` (the write batcher's and the home-coming task's).
    fn detached(inner: Arc<Inner>) -> Self {
        GroupNode { inner }
    }

    /// This handle's group.
    pub fn group_id(&self) -> GroupId {
        self.inner.group
    }

    /// The region this group's leader belongs in, if any.
    pub fn home(&self) -> Option<&str> {
        self.inner.home.as_deref()
    }

    /// Forms this handle's group from the configured initial members if this store has never
    /// been part of it. Restarting a node, or starting it twice, never re-initializes.
    pub async fn bootstrap_if_new(&self, members: &[MemberSpec]) -> Result<bool, Error> {
        let raft = &self.inner.raft;
        if raft.is_initialized().await.map_err(|e| Error::Fatal(e.to_string()))? {
            return Ok(false);
        }
        // Only one node initializes; the others receive membership from it. This keeps two
        // nodes from proposing competing first configurations. It is the lowest id of the
        // group's home region (it campaigns first, so the group's first leader is at home), or
        // the lowest id of all when the group has no home or its region no member.
        let lowest = |of: &mut dyn Iterator<Item = &MemberSpec>| of.map(|m| m.id.get()).min();
        let at_home = self.inner.home.as_deref().and_then(|h| lowest(&mut members.iter().filter(|m| m.region.as_str() == h)));
        if at_home.or(lowest(&mut members.iter())) != Some(self.inner.id) {
            return Ok(false);
        }
        let nodes: BTreeMap<RaftNodeId, SveaNode> = members.iter().map(|m| (m.id.get(), member_node(m))).collect();
        match raft.initialize(nodes).await {
            Ok(()) => {
                tracing::info!(node = self.inner.id, group = self.inner.group, members = members.len(), "cluster initialized");
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

    /// Whether `node` is in the current membership (voter or learner).
    pub fn is_member(&self, node: RaftNodeId) -> bool {
        self.member(node).is_some()
    }

    /// `node`'s record in the current membership, without copying the rest of the metrics
    /// (routing asks this on every call).
    pub fn member(&self, node: RaftNodeId) -> Option<SveaNode> {
        self.inner.raft.metrics().borrow().membership_config.membership().get_node(&node).cloned()
    }

    /// Every member's record in the current membership.
    pub fn members(&self) -> BTreeMap<RaftNodeId, SveaNode> {
        self.inner.raft.metrics().borrow().membership_config.membership().nodes().map(|(k, v)| (*k, v.clone())).collect()
    }

    /// Commands this node's state machine applied since it started, a batch's commands each
    /// counted (for `/metrics`).
    pub fn commands_applied(&self) -> u64 {
        self.inner.sm.commands_applied()
    }

    /// This node's event counters.
    pub fn counters(&self) -> &Arc<Counters> {
        &self.inner.counters
    }

    /// This node's reachability view.
    pub fn health(&self) -> &Arc<Health> {
        &self.inner.health
    }

    /// Regions with at least one member this node can reach (its own region always).
    pub fn healthy_regions(&self) -> std::collections::BTreeSet<String> {
        self.inner.health.healthy_regions(&self.members())
    }

    /// The transport, if this node has one.
    pub fn transport(&self) -> Option<&Arc<Transport>> {
        self.inner.transport.as_ref()
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
            matched: m
                .replication
                .iter()
                .flat_map(|r| r.iter())
                .filter(|(id, _)| **id != m.id)
                .map(|(id, l)| (*id, l.map_or(0, |l| l.index)))
                .collect(),
        }
    }

    /// The underlying openraft handle (for transports delivering RPCs and for tests).
    pub fn raft(&self) -> &Raft<TypeConfig> {
        &self.inner.raft
    }

    /// Stops Raft, closes the transport, stops every background task and flushes the store.
    /// Builds a snapshot of this group's applied state and purges the log behind it, so the
    /// entries before it (the bytes of data deleted since included) are no longer kept. Waits,
    /// at most `limit`, for the snapshot. Answers the index purged up to (`None`: nothing
    /// applied yet).
    pub async fn snapshot_and_purge(&self, limit: Duration) -> Result<Option<u64>, Error> {
        let raft = &self.inner.raft;
        let applied = raft.metrics().borrow().last_applied;
        let Some(applied) = applied else { return Ok(None) };
        raft.trigger().snapshot().await.map_err(|e| Error::Fatal(e.to_string()))?;
        raft.wait(Some(limit))
            .metrics(|m| m.snapshot.is_some_and(|s| s.index >= applied.index), "snapshot built")
            .await
            .map_err(|_| Error::Timeout { op: "snapshot", after: limit })?;
        let snapshot = raft.metrics().borrow().snapshot;
        let Some(upto) = snapshot else { return Ok(None) };
        raft.trigger().purge_log(upto.index).await.map_err(|e| Error::Fatal(e.to_string()))?;
        Ok(Some(upto.index))
    }

    /// Rewrites this node's store (every group's trees: they share it) into a fresh generation
    /// on the blocking pool; `None` on the simulations' in-memory disk.
    pub async fn rewrite_store(&self) -> Result<Option<svea_storage::engine::Rewritten>, Error> {
        let sm = self.inner.sm.clone();
        match tokio::task::spawn_blocking(move || sm.rewrite_store()).await {
            Ok(r) => Ok(r?),
            Err(e) => Err(Error::Fatal(format!("store rewrite task failed: {e}"))),
        }
    }

    /// Keeps `task` running until the node stops.
    pub(crate) fn own_task(&self, task: JoinHandle<()>) {
        self.inner.tasks.own(task);
    }

    /// Stops Raft in this group; the node's shutdown ([`crate::ClusterNode::shutdown`]) stops
    /// every group this way, then closes the transport and stops the tasks.
    pub(crate) async fn stop_raft(&self) -> Result<(), Error> {
        self.inner.raft.shutdown().await.map_err(|e| Error::Fatal(e.to_string()))
    }

    /// Stops every task of this group (and, for group 0, the node's accept loop and pinger).
    pub(crate) async fn stop_tasks(&self) {
        for task in self.inner.tasks.abort_all() {
            // Aborted: this returns at the task's next await point.
            let _ = task.await;
        }
    }

    /// Waits until everything this node's store wrote is durable (one flusher serves every
    /// group, so one flush covers them all).
    pub(crate) async fn flush(&self) -> Result<(), Error> {
        Ok(self.inner.sm.flush().await?)
    }
}
