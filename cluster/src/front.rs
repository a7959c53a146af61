//! The node's one handle on the cluster, whatever the number of Raft groups: [`ClusterNode`]
//! routes every write, read and read barrier to the group that holds its key, by a [`Placer`] the
//! application supplies (the cluster knows no keys of its own), and runs node-wide work
//! (membership, leadership hand-over, shutdown) in every group.
//!
//! A command whose keys belong to different groups is refused before anything is proposed
//! ([`Error::CrossGroup`]): a group's log only ever holds its own keys, which is what the
//! simulation's "wrong group" check relies on.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use openraft::network::RaftNetworkFactory;
use svea_config::{Config, MemberSpec};
use svea_storage::{Command, GroupId, GroupStore, LogStore, Owner, RaftNodeId, StateMachineStore, StateView, SveaNode, TypeConfig, Versioned};

use crate::error::Error;
use crate::health::Health;
use crate::membership::{MembershipOp, ReplicationStatus};
use crate::metrics::Counters;
use crate::node::{ClusterStatus, Committed, GroupNode, Verdict};
use crate::transport::Transport;

/// Where a scan's records are: in one group, or spread over every group (a family each group
/// holds its own share of, such as records ordered by time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// All of them in this group.
    Group(GroupId),
    /// Some in each group.
    Every,
}

/// The application's rule of which group holds which key. Pure and the same on every node:
/// it reads the key alone.
pub trait Placer: Send + Sync + 'static {
    /// The group of an actor's owner and state records.
    fn actor(&self, actor: &str) -> GroupId;
    /// Where one secondary record is: in a fixed group (a command writing it from another
    /// group is refused), or `Every`: with whichever actor writes it, so a read looks in every
    /// group (the application writes each such key from one actor only).
    fn index(&self, key: &str) -> Placement;
    /// Where the secondary records under `prefix` are.
    fn index_prefix(&self, prefix: &str) -> Placement;
}

/// Every key in group 0: a cluster of one group.
#[derive(Debug, Clone, Copy, Default)]
pub struct OneGroup;

impl Placer for OneGroup {
    fn actor(&self, _: &str) -> GroupId {
        0
    }
    fn index(&self, _: &str) -> Placement {
        Placement::Group(0)
    }
    fn index_prefix(&self, _: &str) -> Placement {
        Placement::Group(0)
    }
}

/// This node's handle on the cluster: every Raft group it runs and the placement of keys over
/// them. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct ClusterNode {
    groups: Arc<[GroupNode]>,
    placer: Arc<dyn Placer>,
    /// Every group's applied state, through `placer`.
    view: View,
}

impl ClusterNode {
    /// Starts a cluster of one Raft group on the given storage and network. Must run inside a
    /// tokio runtime; openraft spawns its tasks on it.
    ///
    /// `transport`, when given, serves this node's Raft RPCs and forwards writes and read
    /// barriers to the leader; without it the node can only be a cluster of one.
    pub async fn start<N>(cfg: &Config, log: LogStore, sm: StateMachineStore, network: N, transport: Option<Arc<Transport>>) -> Result<Self, Error>
    where
        N: RaftNetworkFactory<TypeConfig> + Clone,
    {
        Self::start_groups(cfg, vec![(log, sm)], vec![None], |_| network.clone(), transport, Arc::new(OneGroup)).await
    }

    /// Starts one Raft instance per group of `stores` (group `g` is `stores[g]`, its leader at
    /// home in region `homes[g]`), every group over the one `transport` (`network(g)` is group
    /// `g`'s Raft network), keys placed by `placer`.
    pub async fn start_groups<N, F>(
        cfg: &Config,
        stores: Vec<GroupStore>,
        homes: Vec<Option<String>>,
        network: F,
        transport: Option<Arc<Transport>>,
        placer: Arc<dyn Placer>,
    ) -> Result<Self, Error>
    where
        N: RaftNetworkFactory<TypeConfig>,
        F: FnMut(GroupId) -> N,
    {
        let groups = GroupNode::start_groups(cfg, stores, homes, network, transport).await?;
        let view = View { views: groups.iter().map(|g| g.view().clone()).collect(), placer: placer.clone() };
        let node = ClusterNode { groups: groups.into(), placer, view };
        let weak: Vec<_> = node.groups.iter().map(GroupNode::downgrade).collect();
        node.groups[0].own_task(tokio::spawn(keep_store_small(weak, cfg.timeouts.store_rewrite, cfg.timeouts.membership_change)));
        Ok(node)
    }

    /// Forms every group from the configured initial members if this store has never been part
    /// of the cluster (each group initialized by one node: see [`GroupNode::bootstrap_if_new`]).
    /// True when this node initialized at least one group.
    pub async fn bootstrap_if_new(&self, members: &[MemberSpec]) -> Result<bool, Error> {
        let mut initialized = false;
        for g in self.groups.iter() {
            initialized |= g.bootstrap_if_new(members).await?;
        }
        Ok(initialized)
    }

    /// Group 0: the group node-wide facts (membership, health) are read from. Every group has
    /// the same members.
    fn first(&self) -> &GroupNode {
        &self.groups[0]
    }

    /// This node's handle on group `group`, if it runs one.
    pub fn group(&self, group: GroupId) -> Option<&GroupNode> {
        self.groups.get(usize::from(group))
    }

    /// Every group this node runs, group 0 first.
    pub fn groups(&self) -> &[GroupNode] {
        &self.groups
    }

    /// How many groups this node runs.
    pub fn group_count(&self) -> GroupId {
        self.groups.len() as GroupId
    }

    /// The key placement.
    pub fn placer(&self) -> &Arc<dyn Placer> {
        &self.placer
    }

    /// The group a command belongs to: its actor's, every index record of it in that group too.
    pub fn group_of(&self, cmd: &Command) -> Result<GroupId, Error> {
        let group = match cmd {
            Command::SetCluster { .. } => 0,
            Command::Claim { actor, .. } => self.placer.actor(actor),
            Command::Put { actor, index_writes, index_deletes, .. } => {
                let group = self.placer.actor(actor);
                let keys = index_writes.iter().map(|w| w.key.as_str()).chain(index_deletes.iter().map(String::as_str));
                for key in keys {
                    let Placement::Group(other) = self.placer.index(key) else { continue };
                    if other != group {
                        return Err(Error::CrossGroup { first: format!("actor {actor} (group {group})"), other: format!("record {key} (group {other})") });
                    }
                }
                group
            }
            // Every part of an atomic command (all or nothing in one entry) and of a batch (one
            // entry) in one group.
            Command::Batch(cmds) | Command::Atomic(cmds) => {
                let mut groups = cmds.iter().map(|c| self.group_of(c));
                let first = groups.next().transpose()?.unwrap_or(0);
                for g in groups {
                    let g = g?;
                    if g != first {
                        return Err(Error::CrossGroup { first: format!("group {first}"), other: format!("group {g}") });
                    }
                }
                first
            }
        };
        self.groups.get(usize::from(group)).map(|_| group).ok_or(Error::Fatal(format!("key placed in group {group}, which this node does not run")))
    }

    /// Proposes `cmd` in the group its keys belong to and waits until it is committed and
    /// applied here (see [`GroupNode::write`]).
    pub async fn write(&self, cmd: Command) -> Result<Committed, Error> {
        let group = self.group_of(&cmd)?;
        let group = if svea_storage::planted::wrong_group() && self.group_count() > 1 { (group + 1) % self.group_count() } else { group };
        self.groups[usize::from(group)].write(cmd).await
    }

    /// Makes local reads of every group linearizable (one barrier per group, concurrently).
    pub async fn read_barrier(&self) -> Result<(), Error> {
        futures::future::try_join_all(self.groups.iter().map(GroupNode::read_barrier)).await.map(|_| ())
    }

    /// Makes local reads of the group holding `actor` linearizable.
    pub async fn read_barrier_for_actor(&self, actor: &str) -> Result<(), Error> {
        self.groups[usize::from(self.placer.actor(actor))].read_barrier().await
    }

    /// The locally applied state of every group, read through the placement.
    pub fn view(&self) -> &View {
        &self.view
    }

    /// This node's id.
    pub fn id(&self) -> RaftNodeId {
        self.first().id()
    }

    /// Whether `node` is a member (voter or learner).
    pub fn is_member(&self, node: RaftNodeId) -> bool {
        self.first().is_member(node)
    }

    /// `node`'s record in the membership.
    pub fn member(&self, node: RaftNodeId) -> Option<SveaNode> {
        self.first().member(node)
    }

    /// Every member's record.
    pub fn members(&self) -> BTreeMap<RaftNodeId, SveaNode> {
        self.first().members()
    }

    /// Commands applied here since start, over every group.
    pub fn commands_applied(&self) -> u64 {
        self.groups.iter().map(GroupNode::commands_applied).sum()
    }

    /// The node's event counters (shared by its groups).
    pub fn counters(&self) -> &Arc<Counters> {
        self.first().counters()
    }

    /// The node's reachability view (shared by its groups).
    pub fn health(&self) -> &Arc<Health> {
        self.first().health()
    }

    /// Regions with at least one member this node can reach.
    pub fn healthy_regions(&self) -> std::collections::BTreeSet<String> {
        self.first().healthy_regions()
    }

    /// The transport, if this node has one.
    pub fn transport(&self) -> Option<&Arc<Transport>> {
        self.first().transport()
    }

    /// Group 0's Raft view (each group's: [`Self::statuses`]).
    pub fn status(&self) -> ClusterStatus {
        self.first().status()
    }

    /// Every group's Raft view, group 0 first.
    pub fn statuses(&self) -> Vec<ClusterStatus> {
        self.groups.iter().map(GroupNode::status).collect()
    }

    /// Group 0's leader.
    pub fn leader(&self) -> Option<RaftNodeId> {
        self.first().leader()
    }

    /// Group 0's openraft handle (tests).
    pub fn raft(&self) -> &openraft::Raft<TypeConfig> {
        self.first().raft()
    }

    /// An application call to `node` (no group's).
    pub async fn call_app(&self, node: RaftNodeId, payload: Vec<u8>, timeout: Duration) -> Result<Vec<u8>, Error> {
        self.first().call_app(node, payload, timeout).await
    }

    /// What the failure detector says of `node` after a call sent at `sent` went unanswered.
    pub async fn await_verdict(&self, node: RaftNodeId, sent: tokio::time::Instant) -> Verdict {
        self.first().await_verdict(node, sent).await
    }

    /// Runs a membership change in every group (every node is a voter of every group): group 0
    /// first, except a removal, which leaves group 0 last. Group 0's membership is the one the
    /// transport admits peers by, so a node being removed stays admitted (and can still forward
    /// its own drain's changes) until it has left every other group. A change is idempotent:
    /// one cut short is finished by running it again.
    pub async fn change_membership(&self, op: MembershipOp) -> Result<(), Error> {
        let removal = matches!(op, MembershipOp::Remove { .. });
        let order: Vec<&GroupNode> = if removal { self.groups.iter().rev().collect() } else { self.groups.iter().collect() };
        for g in order {
            g.change_membership(op.clone()).await?;
        }
        Ok(())
    }

    /// The replication progress of every group, as its leader reports it, group 0 first.
    pub async fn replication(&self) -> Result<Vec<ReplicationStatus>, Error> {
        let mut out = Vec::with_capacity(self.groups.len());
        for g in self.groups.iter() {
            out.push(g.replication().await?);
        }
        Ok(out)
    }

    /// Hands the leadership of every group this node leads to voter `to`.
    pub async fn transfer_leadership(&self, to: RaftNodeId) -> Result<(), Error> {
        for g in self.groups.iter() {
            if g.leader() == Some(g.id()) {
                g.transfer_leadership(to).await?;
            }
        }
        Ok(())
    }

    /// Whether this node leads any group.
    pub fn leads_any(&self) -> bool {
        self.groups.iter().any(|g| g.leader() == Some(g.id()))
    }

    /// A cut of every group's replicated data for a backup, one section per group, group 0
    /// first: a read barrier in every group (concurrently), then each group's cut, taken one
    /// after the other with no await between them. A group's cut is its state after exactly the
    /// entry it names and holds every write acknowledged in that group before this call.
    ///
    /// The cut is consistent per group, not one instant across groups: each group's cut is at
    /// what this node has applied of it, so a write racing the backup may be in one group's cut
    /// while what it caused in another group is not, or the reverse. That is acceptable because
    /// no command spans groups ([`Error::CrossGroup`]) and what one group causes in another is a
    /// delivery keyed by its cause, idempotent and retried until it lands: a settlement's wallet
    /// credit is delivered again by the payout driver from the business's transfer record, a
    /// directory hold is verified again against its business. A restore holding a cause without
    /// its effect therefore completes it. The reverse (a wallet credited for a settlement its
    /// business's cut does not hold) stays as restored; its cause was not acknowledged to
    /// anyone before the backup was asked for.
    pub async fn backup_cut(&self) -> Result<Vec<svea_storage::backup::Section>, Error> {
        self.read_barrier().await?;
        self.groups.iter().map(GroupNode::local_cut).collect()
    }

    /// Stops every group, closes the transport, stops every task and flushes the store.
    pub async fn shutdown(&self) -> Result<(), Error> {
        let mut stopped = Ok(());
        for g in self.groups.iter() {
            stopped = stopped.and(g.stop_raft().await);
        }
        if let Some(t) = self.transport() {
            t.close();
        }
        for g in self.groups.iter() {
            g.stop_tasks().await;
        }
        stopped?;
        self.first().flush().await
    }
}

/// Every `every`: snapshots each group and purges its log behind the snapshot, then rewrites the
/// node's store into a fresh generation, so what was deleted (an erased feedback text, an old
/// snapshot, purged log entries) leaves the node's files within `every`. Each snapshot is waited
/// for at most `limit`. Ends when the node stops.
async fn keep_store_small(groups: Vec<crate::node::WeakGroup>, every: Duration, limit: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let started = tokio::time::Instant::now();
        let mut live = Vec::with_capacity(groups.len());
        for g in &groups {
            let Some(g) = g.upgrade() else { return };
            live.push(g);
        }
        let mut purged = Vec::with_capacity(live.len());
        for g in &live {
            match g.snapshot_and_purge(limit).await {
                Ok(upto) => purged.push(upto),
                Err(e) => {
                    tracing::warn!(event = "store_rewrite", group = g.group_id(), error = %e, "snapshot before the store rewrite failed; trying next time");
                    purged.push(None);
                }
            }
        }
        match live[0].rewrite_store().await {
            Ok(Some(r)) => tracing::info!(
                event = "store_rewrite",
                generation = r.generation,
                pairs = r.pairs,
                bytes_before = r.bytes_before,
                bytes_after = r.bytes_after,
                ?purged,
                took_ms = started.elapsed().as_millis() as u64,
                "store rewritten"
            ),
            Ok(None) => {}
            Err(e) => tracing::error!(event = "store_rewrite", error = %e, "store rewrite failed; the old generation stays in force"),
        }
    }
}

/// The locally applied state of every group of a node, each key read in the group that holds
/// it. Reads are linearizable only after a read barrier (or a write of this node) in that group.
#[derive(Clone)]
pub struct View {
    views: Vec<StateView>,
    placer: Arc<dyn Placer>,
}

type Pairs = Vec<(String, Vec<u8>)>;

impl View {
    fn of(&self, group: GroupId) -> Result<&StateView, svea_storage::Error> {
        self.views.get(usize::from(group)).ok_or(svea_storage::Error::NoGroup(group))
    }

    /// An actor's owner.
    pub fn owner(&self, actor: &str) -> Result<Option<Owner>, svea_storage::Error> {
        self.of(self.placer.actor(actor))?.owner(actor)
    }

    /// An actor's state and version.
    pub fn state(&self, actor: &str) -> Result<Option<Versioned>, svea_storage::Error> {
        self.of(self.placer.actor(actor))?.state(actor)
    }

    /// A cluster-wide record (group 0's).
    pub fn cluster_record(&self, key: &str) -> Result<Option<Vec<u8>>, svea_storage::Error> {
        self.of(0)?.cluster_record(key)
    }

    /// A secondary record: read in its group, or, for a record kept with its writer, in each
    /// group until found.
    pub fn index(&self, key: &str) -> Result<Option<Vec<u8>>, svea_storage::Error> {
        match self.placer.index(key) {
            Placement::Group(g) => self.of(g)?.index(key),
            Placement::Every => {
                for v in &self.views {
                    if let Some(found) = v.index(key)? {
                        return Ok(Some(found));
                    }
                }
                Ok(None)
            }
        }
    }

    /// Up to `limit` secondary records under `prefix`, in key order (over every group when the
    /// prefix's records are spread).
    pub fn scan_index(&self, prefix: &str, limit: usize) -> Result<Pairs, svea_storage::Error> {
        self.scan_index_after(prefix, None, limit)
    }

    /// [`Self::scan_index`] starting after record `after`.
    pub fn scan_index_after(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Pairs, svea_storage::Error> {
        match self.placer.index_prefix(prefix) {
            Placement::Group(g) => self.of(g)?.scan_index_after(prefix, after, limit),
            Placement::Every => merged(self.views.iter().map(|v| v.scan_index_after(prefix, after, limit)), limit),
        }
    }

    /// Owner records of every group in key order, after actor `after`, at most `limit`.
    pub fn scan_owners(&self, after: Option<&str>, limit: usize) -> Result<Vec<(String, Owner)>, svea_storage::Error> {
        merged(self.views.iter().map(|v| v.scan_owners(after, limit)), limit)
    }

    /// Group 0's last applied index.
    pub fn last_applied_index(&self) -> Result<u64, svea_storage::Error> {
        self.of(0)?.last_applied_index()
    }

    /// Every stored pair of every group, group by group.
    pub fn pairs(&self) -> Result<Vec<(Vec<u8>, Vec<u8>)>, svea_storage::Error> {
        let mut out = Vec::new();
        for v in &self.views {
            out.extend(v.pairs()?);
        }
        Ok(out)
    }

    /// Keys stored over every group.
    pub fn len(&self) -> usize {
        self.views.iter().map(StateView::len).sum()
    }

    /// Whether no group stores anything.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Group `group`'s own view (the simulation compares replicas group by group).
    pub fn group(&self, group: GroupId) -> Option<&StateView> {
        self.views.get(usize::from(group))
    }
}

/// The first `limit` of several key-ordered lists, in key order.
fn merged<T>(lists: impl Iterator<Item = Result<Vec<(String, T)>, svea_storage::Error>>, limit: usize) -> Result<Vec<(String, T)>, svea_storage::Error> {
    let mut all = Vec::new();
    for l in lists {
        all.extend(l?);
    }
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all.truncate(limit);
    Ok(all)
}
