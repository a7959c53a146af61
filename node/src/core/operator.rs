//! Operator actions on the running cluster: status, adding a node (learner, catch-up, voter),
//! draining this node, removing a dead node. Used by `/v1/cluster` and `svea cluster`. Answers
//! are plain values; the HTTP layer owns their JSON shapes (`http::cluster_json`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use svea_cluster::membership::{MembershipOp, ReplicationStatus};
use svea_storage::{RaftNodeId, SveaNode};

use super::{remote, NodeHandle};
use crate::actors::business::OrgReleased;
use crate::actors::directory::{DirectoryId, ReleaseOrg};
use crate::actors::keys::{self, Index as _, Maintenance};
use crate::actors::{placement, ActorError, ConflictKind, Missing};
use crate::domain::{BusinessId, OrgNumber};

/// Owner records read per page while counting or handing off actors.
pub const OWNER_PAGE: usize = 1000;
/// Hand-off claims in flight at once while draining.
pub const HANDOFF_CONCURRENCY: usize = 16;
/// How often a drain re-checks a condition it waits for.
const WAIT_POLL: Duration = Duration::from_millis(20);
/// Passes over the owner records while draining (actors activated meanwhile are caught by the next).
pub const HANDOFF_PASSES_MAX: usize = 5;
/// How long the status waits for another member's routing counts (one QUIC round trip on a
/// healthy link); a member that does not answer in time is shown without them.
pub const ROUTED_ASK_TIMEOUT: Duration = Duration::from_millis(500);

/// What a node says of itself, for the console's node table: asked of every reachable member
/// each time the status is gathered ([`facts`] here, [`remote::facts_at`] elsewhere). Travels
/// between nodes (bincode, in an actor call's answer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeFacts {
    /// `svea --version`.
    pub version: String,
    /// The git revision it was built from.
    pub revision: String,
    /// Seconds since it started.
    pub uptime_s: u64,
    /// Bytes its data directory holds (`None`: it could not be read).
    pub disk_bytes: Option<u64>,
    /// HTTP answers it gave in the last [`crate::window::WINDOW_S`] seconds.
    pub answers_last_minute: u64,
    /// Of those, server errors (5xx).
    pub errors_last_minute: u64,
    /// The Raft term it is in.
    pub term: u64,
    /// The leader it follows.
    pub leader: Option<u64>,
    /// Where its GeoIP routing sent customers in the last minute, per region.
    pub routed_last_minute: BTreeMap<String, u64>,
}

/// What this node says of itself ([`NodeFacts`]). Reads the clock and the data directory: for
/// the operator's status only, never on an actor's or Raft's path.
pub fn facts(node: &NodeHandle) -> NodeFacts {
    let events = node.telemetry().events();
    let (answers, errors) = events.answers_last_minute();
    let s = node.cluster().status();
    NodeFacts {
        version: crate::VERSION.to_owned(),
        revision: crate::REVISION.to_owned(),
        uptime_s: events.uptime().as_secs(),
        disk_bytes: crate::telemetry::store_bytes(&node.config().node.data_dir),
        answers_last_minute: answers,
        errors_last_minute: errors,
        term: s.term,
        leader: s.leader,
        routed_last_minute: node.routed().counts(std::time::Instant::now()),
    }
}

/// What a drain did. Travels between nodes (bincode) when the drain was asked of another node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrainReport {
    /// The drained node.
    pub node: u64,
    /// Actors handed to other nodes.
    pub handed_off: u64,
    /// Where leadership went, if this node led.
    pub leadership_moved_to: Option<u64>,
    /// Removed from the membership (the process exits next).
    pub removed: bool,
}

/// Counts owner records per node (every actor ever claimed, active or passivated).
pub fn owned_actors(node: &NodeHandle) -> Result<BTreeMap<RaftNodeId, u64>, ActorError> {
    Ok(owned_actors_by_kind(node)?.into_iter().map(|(id, kinds)| (id, kinds.values().sum())).collect())
}

/// The kind of actor an owner record names (`business/<id>` -> `business`).
fn actor_kind(actor: &str) -> &str {
    actor.split_once('/').map_or(actor, |(kind, _)| kind)
}

/// Counts owner records per node and kind of actor.
pub fn owned_actors_by_kind(node: &NodeHandle) -> Result<BTreeMap<RaftNodeId, BTreeMap<String, u64>>, ActorError> {
    let view = node.cluster().view();
    let mut counts: BTreeMap<RaftNodeId, BTreeMap<String, u64>> = BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let page = view.scan_owners(after.as_deref(), OWNER_PAGE)?;
        for (actor, owner) in &page {
            *counts.entry(owner.node).or_default().entry(actor_kind(actor).to_owned()).or_insert(0) += 1;
        }
        match page.last() {
            Some((actor, _)) if page.len() == OWNER_PAGE => after = Some(actor.clone()),
            _ => return Ok(counts),
        }
    }
}

/// The cluster as this node sees it ([`status`]): what the operator API and the console show.
#[derive(Debug, Clone)]
pub struct Status {
    /// The cluster's name.
    pub cluster: String,
    /// This node's view of the Raft group and its members.
    pub raft: svea_cluster::ClusterStatus,
    /// Each Raft group's replication progress as its leader reports it, group 0 first, or why it
    /// is missing (no leader, leader unreachable).
    pub replication: Result<Vec<ReplicationStatus>, String>,
    /// Owner records per member and kind of actor.
    pub owned: BTreeMap<RaftNodeId, BTreeMap<String, u64>>,
    /// The members the failure detector reaches.
    pub reachable: BTreeSet<RaftNodeId>,
    /// Regions with a reachable member.
    pub healthy_regions: BTreeSet<String>,
    /// What each member that answered in time says of itself.
    pub facts: BTreeMap<RaftNodeId, NodeFacts>,
    /// Each Raft group as this node sees it, group 0 first, with its home region (`None` with
    /// `cluster.groups = "one"`).
    pub groups: Vec<(Option<String>, svea_cluster::ClusterStatus)>,
}

/// The cluster as this node sees it, with the leader's replication progress.
pub async fn status(node: &NodeHandle) -> Result<Status, ActorError> {
    let cluster = node.cluster();
    let raft = cluster.status();
    let replication = cluster.replication().await.map_err(|e| e.to_string());
    let owned = owned_actors_by_kind(node)?;
    let health = cluster.health();
    let facts = facts_everywhere(node, &raft.members.keys().copied().collect::<Vec<_>>()).await;
    let reachable = raft.members.keys().copied().filter(|id| health.node_reachable(*id)).collect();
    Ok(Status {
        cluster: node.config().cluster.name.clone(),
        raft,
        replication,
        owned,
        reachable,
        healthy_regions: cluster.healthy_regions(),
        facts,
        groups: node.config().group_homes().into_iter().map(|h| h.map(String::from)).zip(cluster.statuses()).collect(),
    })
}

/// Every member's [`NodeFacts`], asked at once: this node's own, and each reachable other
/// member's within [`ROUTED_ASK_TIMEOUT`] (the ones that do not answer are left out).
async fn facts_everywhere(node: &NodeHandle, members: &[RaftNodeId]) -> BTreeMap<RaftNodeId, NodeFacts> {
    let cluster = node.cluster();
    let me = cluster.id();
    let health = cluster.health();
    let asked = members.iter().copied().filter(|id| *id != me && health.node_reachable(*id));
    let answers = futures::future::join_all(asked.map(|id| async move { (id, remote::facts_at(cluster, id, ROUTED_ASK_TIMEOUT).await) })).await;
    let mut out: BTreeMap<RaftNodeId, NodeFacts> = answers.into_iter().filter_map(|(id, a)| Some((id, a?))).collect();
    out.insert(me, facts(node));
    out
}

/// This node's id and member record (what `svea cluster add` sends to the cluster).
pub fn describe_self(node: &NodeHandle) -> (RaftNodeId, SveaNode) {
    let n = &node.config().node;
    let record = SveaNode {
        region: n.region.to_string(),
        raft_addr: n.raft_addr.to_string(),
        http_addr: n.http_addr.to_string(),
        public_url: n.public_url.clone(),
        draining: false,
    };
    (n.id.get(), record)
}

/// Adds a node: as learner first (waits until it has caught up with the log), then as voter.
pub async fn add(node: &NodeHandle, id: RaftNodeId, member: SveaNode) -> Result<(), ActorError> {
    if !node.config().regions.iter().any(|r| r.name.as_str() == member.region) {
        return Err(ActorError::conflict(ConflictKind::UnknownRegion, format!("region {:?} is not in the region table", member.region)));
    }
    if id == 0 {
        return Err(ActorError::conflict(ConflictKind::MembershipRefused, "node id must be > 0"));
    }
    let member = SveaNode { draining: false, ..member };
    let cluster = node.cluster();
    tracing::info!(event = "membership", op = "add", node = id, region = %member.region, "adding node as learner");
    cluster.change_membership(MembershipOp::AddLearner { id, node: member }).await?;
    cluster.change_membership(MembershipOp::Promote { id }).await?;
    tracing::info!(event = "membership", op = "add", node = id, "node is a voter");
    Ok(())
}

/// Removes a dead node. A reachable node must be drained instead (it would keep serving actors
/// it no longer owns in anyone's view until it noticed).
pub async fn remove(node: &NodeHandle, id: RaftNodeId, force: bool) -> Result<(), ActorError> {
    let cluster = node.cluster();
    if id == cluster.id() {
        return Err(ActorError::conflict(ConflictKind::MembershipRefused, "a node cannot remove itself: drain it"));
    }
    if !force && cluster.is_member(id) && cluster.health().node_reachable(id) {
        return Err(ActorError::conflict(
            ConflictKind::MembershipRefused,
            format!("node {id} is reachable: drain it instead (or pass force)"),
        ));
    }
    cluster.change_membership(MembershipOp::Remove { id }).await?;
    Ok(())
}

/// Drains node `id`: here when it is this node, else by asking that node to drain itself (a
/// drain runs on the node it drains: it hands off the actors it owns, then leaves). `Ok((report,
/// here))`: `here` says this process must stop now. Waits for the other node up to
/// `timeouts.membership_change` x [`DRAIN_ASK_CHANGES`].
pub async fn drain_node(node: &NodeHandle, id: RaftNodeId) -> Result<(DrainReport, bool), ActorError> {
    let me = node.cluster().id();
    if id == me {
        return drain(node).await.map(|r| (r, true));
    }
    if node.cluster().member(id).is_none() {
        return Err(ActorError::NotFound { what: Missing::Node, id: id.to_string() });
    }
    let timeout = node.config().timeouts.membership_change.saturating_mul(DRAIN_ASK_CHANGES);
    tracing::info!(event = "drain", node = id, by = me, "asking the node to drain itself");
    remote::drain_at(node.cluster(), id, timeout).await.map(|r| (r, false))
}

/// A drain asked of another node waits this many `timeouts.membership_change`: the drain makes
/// two membership changes, hands off actors and may move leadership.
pub const DRAIN_ASK_CHANGES: u32 = 4;

/// Drains this node: marks it draining (no new actors here), hands every actor it owns to a
/// successor (same region first), hands leadership away if it leads, and leaves the cluster.
pub async fn drain(node: &NodeHandle) -> Result<DrainReport, ActorError> {
    let cluster = node.cluster();
    let me = cluster.id();
    let limit = node.config().timeouts.membership_change;
    tracing::info!(event = "drain", node = me, "drain started");
    cluster.change_membership(MembershipOp::SetDraining { id: me, draining: true }).await?;
    wait_until(limit, || placement::is_draining(cluster, me)).await?;

    let mut handed_off = 0;
    for pass in 0..HANDOFF_PASSES_MAX {
        let moved = hand_off_all(node).await?;
        handed_off += moved;
        tracing::info!(event = "drain", node = me, pass, moved, "hand-off pass done");
        if moved == 0 {
            break;
        }
    }
    if owned_actors(node)?.get(&me).copied().unwrap_or(0) > 0 {
        return Err(ActorError::Unavailable("actors are still being claimed here; run the drain again".into()));
    }

    let mut leadership_moved_to = None;
    if cluster.leads_any() {
        let regions = &node.config().regions;
        let voters = cluster.status().voters;
        let to = placement::candidates(cluster, regions, node.config().node.region.as_str(), Some(me))
            .into_iter()
            .find(|id| voters.contains(id))
            .ok_or_else(|| ActorError::Unavailable("no reachable voter to hand leadership to".into()))?;
        cluster.transfer_leadership(to).await?;
        leadership_moved_to = Some(to);
    }
    cluster.change_membership(MembershipOp::Remove { id: me }).await?;
    tracing::info!(event = "drain", node = me, handed_off, ?leadership_moved_to, "drain finished; node left the cluster");
    Ok(DrainReport { node: me, handed_off, leadership_moved_to, removed: true })
}

/// One pass: every actor this node owns is claimed in a successor's name.
async fn hand_off_all(node: &NodeHandle) -> Result<u64, ActorError> {
    let cluster = node.cluster();
    let me = cluster.id();
    let regions = &node.config().regions;
    let mut moved = 0;
    let mut after: Option<String> = None;
    loop {
        let page = cluster.view().scan_owners(after.as_deref(), OWNER_PAGE)?;
        let full = page.len() == OWNER_PAGE;
        after = page.last().map(|(a, _)| a.clone());
        let mine: Vec<(String, svea_storage::Owner)> = page.into_iter().filter(|(_, o)| o.node == me).collect();
        let to = placement::candidates(cluster, regions, node.config().node.region.as_str(), Some(me));
        let Some(&to) = to.first() else {
            if mine.is_empty() && !full {
                return Ok(moved);
            }
            return Err(ActorError::Unavailable("no other node can take this node's actors".into()));
        };
        let results: Vec<Result<bool, ActorError>> = futures::stream::iter(mine)
            // `false`: someone claimed it meanwhile (a takeover, a call): no longer ours to move.
            .map(|(actor, owner)| async move { placement::hand_to(cluster, &actor, owner, to).await })
            .buffer_unordered(HANDOFF_CONCURRENCY)
            .collect()
            .await;
        for r in results {
            moved += u64::from(r?);
        }
        if !full {
            return Ok(moved);
        }
    }
}

async fn wait_until(limit: Duration, cond: impl Fn() -> bool) -> Result<(), ActorError> {
    let deadline = tokio::time::Instant::now() + limit;
    while !cond() {
        if tokio::time::Instant::now() >= deadline {
            return Err(ActorError::Unavailable(format!("not done within {limit:?}")));
        }
        tokio::time::sleep(WAIT_POLL).await;
    }
    Ok(())
}

/// Longest maintenance message, in characters.
pub const MAINTENANCE_MESSAGE_CHARS_MAX: usize = 500;
/// Largest `Retry-After` maintenance mode may ask for (a day).
pub const MAINTENANCE_RETRY_AFTER_S_MAX: u32 = 86_400;
/// `Retry-After` when the operator names none.
pub const MAINTENANCE_RETRY_AFTER_S_DEFAULT: u32 = 300;

/// Maintenance mode in this node's applied state (no read barrier: customers' requests ask it
/// on every call, and a switch reaches every node within one replication round).
pub fn maintenance(node: &NodeHandle) -> Result<Option<Maintenance>, ActorError> {
    keys::maintenance(node.cluster().view())
}

/// An operator's switch of maintenance mode: on with what customers are told and when they may
/// retry (the defaults when absent), or off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceSwitch {
    /// On or off.
    pub on: bool,
    /// What customers are told (on only).
    pub message: Option<String>,
    /// Seconds customers wait before retrying (on only).
    pub retry_after_s: Option<u32>,
}

/// Switches maintenance mode through Raft (every region agrees, and it survives restarts);
/// `input` is validated by the caller. Answers the state after the write.
pub async fn set_maintenance(node: &NodeHandle, input: MaintenanceSwitch, now_ms: i64) -> Result<Option<Maintenance>, ActorError> {
    let record = input.on.then(|| Maintenance {
        message: input.message.unwrap_or_default(),
        retry_after_s: input.retry_after_s.unwrap_or(MAINTENANCE_RETRY_AFTER_S_DEFAULT),
        since_ms: now_ms,
    });
    node.cluster().write(keys::maintenance_command(record.as_ref())?).await?;
    tracing::info!(event = "maintenance", on = input.on, "maintenance mode switched");
    Ok(record)
}

/// Releases a registered organisation number (a company shows it is theirs and a squatter holds
/// it): the business that holds it gives it up through its own fenced write, and another
/// business may register it. Answers the business that held it; `NotFound` when no business
/// holds it.
pub async fn release_org_number(node: &NodeHandle, org: OrgNumber) -> Result<BusinessId, ActorError> {
    let not_found = || ActorError::NotFound { what: Missing::OrgNumber, id: org.to_string() };
    node.cluster().read_barrier().await?;
    let Some(business) = keys::OrgRecord { org: org.clone() }.read(node.cluster().view())? else { return Err(not_found()) };
    let release = ReleaseOrg { business: business.clone(), unverified_registered_before: None };
    match node.registry.call(DirectoryId::Org(org), release).await? {
        OrgReleased::Released(_) => {
            tracing::info!(event = "org_released", org_number = %org, business_id = %business, by = "operator", "organisation number released");
            Ok(business)
        }
        // Released by someone else (the sweeper, another operator) in the meantime.
        OrgReleased::NotHeld | OrgReleased::Kept => Err(not_found()),
    }
}

/// Backups a node streams at once: each holds a cut of the whole state in memory.
pub const BACKUPS_IN_FLIGHT_MAX: usize = 1;
static BACKUPS_IN_FLIGHT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A backup being streamed; holds one of [`BACKUPS_IN_FLIGHT_MAX`] until dropped.
pub struct BackupStream {
    encoder: svea_storage::backup::Encoder,
    /// Index of group 0's last entry in the cut (every group's is in the file's metadata).
    pub index: u64,
}

impl BackupStream {
    /// Length of the whole file.
    pub fn total_bytes(&self) -> u64 {
        self.encoder.total_bytes()
    }
}

impl Iterator for BackupStream {
    type Item = Vec<u8>;
    fn next(&mut self) -> Option<Vec<u8>> {
        self.encoder.next()
    }
}

impl Drop for BackupStream {
    fn drop(&mut self) {
        BACKUPS_IN_FLIGHT.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A backup of the cluster's state, a section per Raft group: a read barrier in every group
/// (so every write acknowledged before this call is in it), then each group's cut at its
/// applied, hence committed, index (consistent per group, not one instant across groups:
/// `ClusterNode::backup_cut` says why that is enough).
pub async fn backup(node: &NodeHandle, now_ms: i64) -> Result<BackupStream, ActorError> {
    let taken = BACKUPS_IN_FLIGHT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    if taken >= BACKUPS_IN_FLIGHT_MAX {
        BACKUPS_IN_FLIGHT.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        return Err(ActorError::Busy { what: format!("backups on this node ({BACKUPS_IN_FLIGHT_MAX} at a time)") });
    }
    let cut = node.cluster().backup_cut().await;
    let made = cut.map_err(ActorError::from).and_then(|sections| {
        let cuts: Vec<_> = sections.iter().map(svea_storage::backup::Section::cut).collect();
        let index = cuts.first().map_or(0, |c| c.index);
        let meta = svea_storage::backup::BackupMeta {
            cluster: node.config().cluster.name.clone(),
            storage_format: svea_storage::FORMAT,
            created_at_ms: now_ms,
            node: node.node_id(),
            groups: Vec::new(),
        };
        let encoder = svea_storage::backup::Encoder::new(meta, sections).map_err(|e| ActorError::Internal(e.to_string()))?;
        tracing::info!(event = "backup", ?cuts, bytes = encoder.total_bytes(), "backup cut taken");
        Ok((encoder, index))
    });
    match made {
        Ok((encoder, index)) => Ok(BackupStream { encoder, index }),
        Err(e) => {
            BACKUPS_IN_FLIGHT.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            Err(e)
        }
    }
}
