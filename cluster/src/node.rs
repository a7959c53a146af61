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
use crate::health::{run_pinger, Health};
use crate::membership::{self, MembershipError, MembershipOp, ReplicationStatus};
use crate::metrics::Counters;
use crate::transport::wire::{ForwardError, WireRequest, WireResponse};
use crate::transport::Transport;

/// How often an in-flight call re-checks whether its target is still reachable.
const HEALTH_POLL: Duration = Duration::from_millis(50);
/// First pause before retrying a write or read that no leader accepted (doubles, capped).
const RETRY_BACKOFF_MIN: Duration = Duration::from_millis(25);
/// Longest pause between such retries.
const RETRY_BACKOFF_MAX: Duration = Duration::from_millis(200);
/// Attempts per write or read barrier while waiting for a leader (the timeout usually ends it first).
const LEADER_WAIT_ATTEMPTS_MAX: u32 = 100;
/// Attempts of a membership change that meets "not the leader" (leadership moving meanwhile).
const MEMBERSHIP_ATTEMPTS_MAX: u32 = 5;

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

/// This node's handle on the cluster. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct ClusterNode {
    inner: Arc<Inner>,
}

struct Inner {
    id: RaftNodeId,
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
    /// Set while this node hands leadership away (see [`ClusterNode::transfer_leadership`]).
    frozen: std::sync::atomic::AtomicBool,
}

impl ClusterNode {
    /// Starts Raft on the given storage and network. Must run inside a tokio runtime; openraft
    /// spawns its tasks on it.
    ///
    /// `transport`, when given, serves this node's Raft RPCs and forwards writes and read
    /// barriers to the leader; without it the node can only be a cluster of one.
    pub async fn start<N>(
        cfg: &Config,
        log: LogStore,
        sm: StateMachineStore,
        network: N,
        transport: Option<Arc<Transport>>,
    ) -> Result<Self, Error>
    where
        N: RaftNetworkFactory<TypeConfig>,
    {
        let rc = Arc::new(raft_config(cfg)?);
        let id = cfg.node.id.get();
        let view = sm.view();
        let raft = Raft::new(id, rc, network, log, sm.clone()).await.map_err(|e| Error::Fatal(e.to_string()))?;
        let counters = Arc::new(Counters::default());
        let health = Health::new(id, cfg.timeouts.failover_after, counters.clone());
        tokio::spawn(watch_leadership(raft.clone(), counters.clone()));
        if let Some(t) = &transport {
            t.serve(raft.clone(), counters.clone(), cfg.timeouts.membership_change);
            let metrics = raft.metrics();
            let members = move || {
                let m = metrics.borrow().membership_config.clone();
                m.membership().nodes().map(|(k, v)| (*k, v.clone())).collect()
            };
            // Probe a few times per failover window; each probe may take at most half of it.
            let every = (cfg.timeouts.failover_after / 4).max(Duration::from_millis(50));
            tokio::spawn(run_pinger(health.clone(), t.clone(), members, every, cfg.timeouts.failover_after / 2));
        }
        Ok(ClusterNode {
            inner: Arc::new(Inner {
                id,
                transport,
                health,
                raft,
                view,
                sm,
                write_timeout: cfg.timeouts.client_write,
                read_timeout: cfg.timeouts.raft_rpc,
                membership_timeout: cfg.timeouts.membership_change,
                leader_lease: cfg.timeouts.election_max,
                counters,
                frozen: std::sync::atomic::AtomicBool::new(false),
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
    /// the state machine's answer. A follower forwards the command to the leader over the
    /// transport, then waits for its own state machine to apply the entry, so a write is always
    /// visible locally when this returns. Bounded by the configured client-write timeout.
    ///
    /// While no leader accepts the command (an election, a leadership hand-over, a leader the
    /// failure detector declared down before anything was sent), the write waits and retries
    /// within the same timeout: the command was not sent, so retrying cannot apply it twice.
    pub async fn write(&self, cmd: Command) -> Result<Committed, Error> {
        let after = self.inner.write_timeout;
        let fut = async {
            let (index, result) = self.retry_without_leader(|| self.write_once(&cmd)).await?;
            self.wait_applied(index).await?;
            Ok(Committed { index, result })
        };
        tokio::time::timeout(after, fut).await.map_err(|_| Error::Timeout { op: "raft write", after })?
    }

    async fn write_once(&self, cmd: &Command) -> Result<(u64, CommandResult), Error> {
        if self.frozen() {
            return Err(Error::NotLeader { leader: None });
        }
        match self.inner.raft.client_write(cmd.clone()).await {
            Ok(resp) => Ok((resp.log_id.index, resp.data)),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => self.forward_write(f.leader_id, cmd.clone()).await,
            Err(RaftError::APIError(other)) => Err(Error::Fatal(other.to_string())),
            Err(RaftError::Fatal(f)) => Err(Error::Fatal(f.to_string())),
        }
    }

    /// Runs `attempt` until it gets past "no leader took it" (bounded by attempts; the caller
    /// bounds the time). Only errors that prove nothing was sent are retried.
    async fn retry_without_leader<T, F, Fut>(&self, mut attempt: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let mut backoff = RETRY_BACKOFF_MIN;
        let mut attempts = 0;
        loop {
            attempts += 1;
            match attempt().await {
                Err(e @ (Error::NotLeader { .. } | Error::LeaderDown { .. })) if attempts < LEADER_WAIT_ATTEMPTS_MAX => {
                    tracing::debug!(error = %e, attempts, "no leader accepted the request; waiting");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(RETRY_BACKOFF_MAX);
                }
                other => return other,
            }
        }
    }

    fn frozen(&self) -> bool {
        self.inner.frozen.load(std::sync::atomic::Ordering::SeqCst)
    }

    async fn forward_write(&self, leader: Option<RaftNodeId>, cmd: Command) -> Result<(u64, CommandResult), Error> {
        let (Some(leader), Some(t)) = (leader, &self.inner.transport) else {
            return Err(Error::NotLeader { leader });
        };
        if leader == self.inner.id {
            return Err(Error::NotLeader { leader: None });
        }
        self.leader_reachable(leader)?;
        match self.while_reachable(leader, t.call(leader, &WireRequest::ClientWrite(cmd), self.inner.write_timeout)).await? {
            Ok(WireResponse::ClientWrite(Ok(r))) => Ok(r),
            Ok(WireResponse::ClientWrite(Err(ForwardError::NotLeader { leader }))) => Err(Error::NotLeader { leader }),
            // The leader may have committed before failing to answer: the outcome is unknown.
            Ok(WireResponse::ClientWrite(Err(ForwardError::Failed(e)))) => Err(Error::Forward(e)),
            Ok(other) => Err(Error::Forward(format!("unexpected answer {other:?}"))),
            Err(e) => Err(Error::Forward(e.to_string())),
        }
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
        if self.frozen() {
            return Err(Error::NotLeader { leader: None });
        }
        match self.inner.raft.ensure_linearizable().await {
            Ok(log_id) => Ok(log_id.map(|l| l.index)),
            Err(RaftError::APIError(openraft::error::CheckIsLeaderError::ForwardToLeader(f))) => {
                Ok(Some(self.forward_read_index(f.leader_id).await?))
            }
            Err(RaftError::APIError(other)) => Err(Error::Timeout { op: format_static(&other), after }),
            Err(RaftError::Fatal(f)) => Err(Error::Fatal(f.to_string())),
        }
    }

    async fn forward_read_index(&self, leader: Option<RaftNodeId>) -> Result<u64, Error> {
        let (Some(leader), Some(t)) = (leader, &self.inner.transport) else {
            return Err(Error::NotLeader { leader });
        };
        if leader == self.inner.id {
            return Err(Error::NotLeader { leader: None });
        }
        self.leader_reachable(leader)?;
        match self.while_reachable(leader, t.call(leader, &WireRequest::ReadIndex, self.inner.read_timeout)).await? {
            Ok(WireResponse::ReadIndex(Ok(i))) => Ok(i),
            Ok(WireResponse::ReadIndex(Err(ForwardError::NotLeader { leader }))) => Err(Error::NotLeader { leader }),
            Ok(WireResponse::ReadIndex(Err(ForwardError::Failed(e)))) => Err(Error::Forward(e)),
            Ok(other) => Err(Error::Forward(format!("unexpected answer {other:?}"))),
            Err(e) => Err(Error::Forward(e.to_string())),
        }
    }

    /// Sends an application (actor) call to another node and returns its answer.
    pub async fn call_app(&self, node: RaftNodeId, payload: Vec<u8>, timeout: Duration) -> Result<Vec<u8>, Error> {
        let t = self.inner.transport.as_ref().ok_or(Error::NotLeader { leader: None })?;
        self.fail_fast(node)?;
        self.ensure_peer_addr(node);
        match self.while_reachable(node, t.call(node, &WireRequest::App(payload), timeout)).await? {
            Ok(WireResponse::App(Ok(bytes))) => Ok(bytes),
            Ok(WireResponse::App(Err(e))) | Ok(WireResponse::Refused(e)) => Err(Error::Forward(e)),
            Ok(other) => Err(Error::Forward(format!("unexpected answer {other:?}"))),
            Err(e) => Err(Error::Unreachable { node, reason: e.to_string() }),
        }
    }

    /// Refuses at once to wait on a node the failure detector has not heard from for
    /// `failover_after`: a dead peer's cached QUIC connection would otherwise hold every call for
    /// the full timeout. The caller answers 503 and the client retries (by then a new leader or
    /// owner is usually in place).
    fn fail_fast(&self, node: RaftNodeId) -> Result<(), Error> {
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
    async fn while_reachable<T>(&self, node: RaftNodeId, fut: impl std::future::Future<Output = T>) -> Result<T, Error> {
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

    /// Makes sure the transport knows where `node` listens (from the current membership).
    fn ensure_peer_addr(&self, node: RaftNodeId) {
        let Some(t) = &self.inner.transport else { return };
        let m = self.inner.raft.metrics().borrow().membership_config.clone();
        if let Some(n) = m.membership().get_node(&node) {
            if let Ok(addr) = n.raft_addr.parse() {
                t.set_peer_addr(node, addr);
            }
        }
    }

    /// Runs a membership change on the leader (here, or forwarded to it), retrying a few times
    /// while leadership moves. Bounded by the membership-change timeout per attempt.
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
                    let request = WireRequest::Membership(op.clone());
                    match self.while_reachable(l, t.call(l, &request, self.inner.membership_timeout)).await? {
                        Ok(WireResponse::Membership(r)) => r,
                        Ok(other) => Err(MembershipError::Failed(format!("unexpected answer {other:?}"))),
                        Err(e) => Err(MembershipError::Failed(e.to_string())),
                    }
                }
                _ => Err(MembershipError::NotLeader { leader }),
            };
            match answer {
                Ok(()) => return Ok(()),
                Err(e @ MembershipError::NotLeader { .. }) => {
                    last = Some(e);
                    self.wait_for_leader(self.inner.leader_lease * 3).await;
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
                match self.while_reachable(l, t.call(l, &WireRequest::Replication, self.inner.read_timeout)).await? {
                    Ok(WireResponse::Replication(r)) => Ok(r?),
                    Ok(other) => Err(Error::Forward(format!("unexpected answer {other:?}"))),
                    Err(e) => Err(Error::Forward(e.to_string())),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Waits (at most `limit`) until this node knows a leader other than a frozen self.
    pub async fn wait_for_leader(&self, limit: Duration) -> Option<RaftNodeId> {
        let mut rx = self.inner.raft.metrics();
        let wait = async {
            loop {
                let leader = rx.borrow().current_leader;
                if let Some(l) = leader.filter(|l| *l != self.inner.id || !self.frozen()) {
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
    /// Whatever happens, writes are unfrozen and heartbeats resume (as a follower they are
    /// moot). Bounded by the membership-change timeout.
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
        self.inner.frozen.store(true, std::sync::atomic::Ordering::SeqCst);
        t.freeze_writes(true);
        raft.runtime_config().heartbeat(false);
        let limit = self.inner.membership_timeout;
        let outcome = tokio::time::timeout(limit, self.hand_over(&t, to)).await;
        raft.runtime_config().heartbeat(true);
        t.freeze_writes(false);
        self.inner.frozen.store(false, std::sync::atomic::Ordering::SeqCst);
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
        // 2. The successor has our whole log (entries appended before the freeze included).
        loop {
            let r = membership::replication(raft)?;
            if r.matched.get(&to).copied().flatten() >= r.last_log_index {
                break;
            }
            tokio::time::sleep(HEALTH_POLL).await;
        }
        // 3. Wait out the lease the last append gave the followers, then let `to` campaign.
        let mut rx = raft.metrics();
        for _ in 0..MEMBERSHIP_ATTEMPTS_MAX {
            tokio::time::sleep(self.inner.leader_lease + self.inner.leader_lease / 4).await;
            match t.call(to, &WireRequest::Campaign, self.inner.read_timeout).await {
                Ok(WireResponse::Campaign(Ok(()))) => {}
                Ok(other) => return Err(Error::Forward(format!("campaign refused: {other:?}"))),
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
            if tokio::time::timeout(self.inner.leader_lease * 2, stepped_down).await.is_ok() {
                return Ok(());
            }
            tracing::warn!(event = "leadership", to, "successor did not win its election; asking again");
        }
        Err(Error::Forward(format!("node {to} did not become leader")))
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
        }
    }

    /// The underlying openraft handle (for transports delivering RPCs and for tests).
    pub fn raft(&self) -> &Raft<TypeConfig> {
        &self.inner.raft
    }

    /// Stops Raft and flushes the store.
    pub async fn shutdown(&self) -> Result<(), Error> {
        self.inner.raft.shutdown().await.map_err(|e| Error::Fatal(e.to_string()))?;
        if let Some(t) = &self.inner.transport {
            t.close();
        }
        self.inner.sm.flush().await?;
        Ok(())
    }
}

/// Logs and counts every change of the leader this node follows, and of the membership.
async fn watch_leadership(raft: Raft<TypeConfig>, counters: Arc<Counters>) {
    let mut rx = raft.metrics();
    let (mut leader, mut membership) = {
        let m = rx.borrow();
        (m.current_leader, m.membership_config.log_id().map(|l| l.index))
    };
    while rx.changed().await.is_ok() {
        let m = rx.borrow().clone();
        if m.current_leader != leader {
            counters.leader_changed();
            tracing::info!(event = "leader_change", node = m.id, term = m.current_term, previous = ?leader, leader = ?m.current_leader, "leader changed");
            leader = m.current_leader;
        }
        let applied = m.membership_config.log_id().map(|l| l.index);
        if applied != membership {
            let mem = m.membership_config.membership();
            let voters: Vec<RaftNodeId> = mem.voter_ids().collect();
            let learners: Vec<RaftNodeId> = mem.learner_ids().collect();
            tracing::info!(event = "membership", node = m.id, ?voters, ?learners, log_index = ?applied, "membership in effect");
            membership = applied;
        }
    }
}

fn format_static(e: &openraft::error::CheckIsLeaderError<RaftNodeId, SveaNode>) -> &'static str {
    match e {
        openraft::error::CheckIsLeaderError::QuorumNotEnough(_) => "leadership check (no quorum)",
        _ => "leadership check",
    }
}
