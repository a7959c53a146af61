//! Operator actions on the running cluster: status, adding a node (learner, catch-up, voter),
//! draining this node, removing a dead node. Used by `/v1/cluster` and `svea cluster`.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use svea_cluster::membership::MembershipOp;
use svea_storage::{RaftNodeId, SveaNode};

use super::{remote, NodeHandle};
use crate::actors::business::{OrgReleased, ReleaseOrgNumber};
use crate::actors::keys::{self, Index as _, Maintenance};
use crate::actors::{placement, ActorError, ConflictKind, Missing};
use crate::domain::OrgNumber;

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

/// How a node describes itself to an operator adding it (`GET /v1/cluster/self`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"id": 4, "region": "gothenburg", "raft_addr": "10.0.3.14:9080", "http_addr": "10.0.3.14:8080", "public_url": "https://gothenburg-2.svea.example"}))]
pub struct MemberIn {
    /// Node id (unique in the cluster), 1 to 2^63 - 1.
    #[schema(minimum = 1, maximum = 9223372036854775807_i64)]
    pub id: u64,
    /// Region (in the region table).
    pub region: String,
    /// QUIC address peers use: `ip:port`, or `host:port` with a DNS name (a pod's headless
    /// Service name), stored as the name and resolved at every connect.
    pub raft_addr: String,
    /// HTTP address: `ip:port` or `host:port`.
    pub http_addr: String,
    /// Public URL.
    pub public_url: String,
}

/// One member as the status shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"id": 1, "region": "stockholm", "role": "voter", "leader": true, "draining": false, "reachable": true, "raft_addr": "10.0.1.11:9080", "public_url": "https://stockholm-1.svea.example", "matched_index": 1842, "lag": 0, "owned_actors": 412, "actors_by_kind": {"business": 40, "session": 372}, "routed_last_minute": {"stockholm": 31, "gothenburg": 2}}))]
pub struct MemberOut {
    /// Node id.
    pub id: u64,
    /// Region.
    pub region: String,
    /// `voter` or `learner`.
    pub role: String,
    /// Whether it is the leader.
    pub leader: bool,
    /// Marked draining.
    pub draining: bool,
    /// Reachable from the node answering.
    pub reachable: bool,
    /// QUIC address.
    pub raft_addr: String,
    /// Public URL.
    pub public_url: String,
    /// Highest log index known to match the leader's (from the leader).
    pub matched_index: Option<u64>,
    /// Entries behind the leader's last log index.
    pub lag: Option<u64>,
    /// Actors it owns, per the answering node's applied state.
    pub owned_actors: u64,
    /// The same, per kind of actor (`business`, `session`).
    pub actors_by_kind: BTreeMap<String, u64>,
    /// Where its GeoIP routing sent customers in the last [`super::routed::ROUTED_WINDOW_S`] seconds,
    /// per region; `None` when it did not answer (unreachable, or not within
    /// [`ROUTED_ASK_TIMEOUT`]).
    pub routed_last_minute: Option<BTreeMap<String, u64>>,
    /// What it says of itself (build, uptime, disk, errors, its view of the Raft group); `None`
    /// when it did not answer within [`ROUTED_ASK_TIMEOUT`].
    pub facts: Option<NodeFacts>,
}

/// What a node says of itself, for the console's node table: asked of every reachable member
/// each time the status is gathered ([`facts`] here, [`remote::facts_at`] elsewhere).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"version": "0.1.0", "revision": "4dffa76", "uptime_s": 86400, "disk_bytes": 52428800, "answers_last_minute": 1200, "errors_last_minute": 3, "term": 7, "leader": 1, "routed_last_minute": {"stockholm": 31, "gothenburg": 2, "malmo": 0}}))]
pub struct NodeFacts {
    /// `svea --version`.
    pub version: String,
    /// The git revision it was built from.
    pub revision: String,
    /// Seconds since it started.
    pub uptime_s: u64,
    /// Bytes its data directory holds (`None`: it could not be read).
    pub disk_bytes: Option<u64>,
    /// HTTP answers it gave in the last [`super::routed::ROUTED_WINDOW_S`] seconds.
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

/// One region's health as the answering node sees it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"name": "stockholm", "healthy": true, "nodes": [1], "routed_last_minute": 33}))]
pub struct RegionOut {
    /// Region name.
    pub name: String,
    /// At least one member reachable.
    pub healthy: bool,
    /// Member ids in the region.
    pub nodes: Vec<u64>,
    /// Customers the members that answered routed here in the last minute.
    pub routed_last_minute: u64,
}

/// `GET /v1/cluster`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"cluster": "svea-prod", "node": 1, "term": 7, "leader": 1, "leader_url": "https://stockholm-1.svea.example",
    "last_log_index": 1842, "last_applied_index": 1842, "members": [{"id": 1, "region": "stockholm", "role": "voter", "leader": true, "draining": false, "reachable": true, "raft_addr": "10.0.1.11:9080", "public_url": "https://stockholm-1.svea.example", "matched_index": 1842, "lag": 0, "owned_actors": 412, "actors_by_kind": {"business": 40, "session": 372}, "routed_last_minute": {"stockholm": 31, "gothenburg": 2}}],
    "regions": [{"name": "stockholm", "healthy": true, "nodes": [1], "routed_last_minute": 33}], "replication_error": null}))]
pub struct ClusterOut {
    /// Cluster name.
    pub cluster: String,
    /// Node that answered.
    pub node: u64,
    /// Its term.
    pub term: u64,
    /// The leader it follows.
    pub leader: Option<u64>,
    /// The leader's public URL.
    pub leader_url: Option<String>,
    /// Its last log index.
    pub last_log_index: Option<u64>,
    /// Its last applied index.
    pub last_applied_index: Option<u64>,
    /// Every member.
    pub members: Vec<MemberOut>,
    /// Every region with members.
    pub regions: Vec<RegionOut>,
    /// Why replication lag is missing (no leader, leader unreachable).
    pub replication_error: Option<String>,
}

/// What a drain did.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"node": 2, "handed_off": 137, "leadership_moved_to": 1, "removed": true}))]
pub struct DrainOut {
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

/// The cluster as this node sees it, with the leader's replication progress.
pub async fn status(node: &NodeHandle) -> Result<ClusterOut, ActorError> {
    let cluster = node.cluster();
    let s = cluster.status();
    let (replication, replication_error) = match cluster.replication().await {
        Ok(r) => (Some(r), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let owned = owned_actors_by_kind(node)?;
    let health = cluster.health();
    let facts = facts_everywhere(node, &s.members.keys().copied().collect::<Vec<_>>()).await;
    let members: Vec<MemberOut> = s
        .members
        .iter()
        .map(|(id, n)| {
            // Group 0's matched index; the lag is the largest of any group's.
            let matched = replication.as_ref().and_then(|r| r.first()?.matched.get(id).copied().flatten());
            let lag = replication.as_ref().and_then(|groups| {
                groups
                    .iter()
                    .filter_map(|r| {
                        let last = r.last_log_index.unwrap_or(0);
                        r.matched.get(id).map(|m| last.saturating_sub(m.unwrap_or(0)))
                    })
                    .max()
            });
            MemberOut {
                id: *id,
                region: n.region.clone(),
                role: if s.voters.contains(id) { "voter" } else { "learner" }.into(),
                leader: s.leader == Some(*id),
                draining: n.draining,
                reachable: health.node_reachable(*id),
                raft_addr: n.raft_addr.clone(),
                public_url: n.public_url.clone(),
                matched_index: matched,
                lag,
                owned_actors: owned.get(id).map_or(0, |k| k.values().sum()),
                actors_by_kind: owned.get(id).cloned().unwrap_or_default(),
                routed_last_minute: facts.get(id).map(|f| f.routed_last_minute.clone()),
                facts: facts.get(id).cloned(),
            }
        })
        .collect();
    let healthy = cluster.healthy_regions();
    let mut regions: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (id, n) in &s.members {
        regions.entry(n.region.clone()).or_default().push(*id);
    }
    Ok(ClusterOut {
        cluster: node.config().cluster.name.clone(),
        node: s.node_id,
        term: s.term,
        leader: s.leader,
        leader_url: s.leader.and_then(|l| s.members.get(&l)).map(|n| n.public_url.clone()),
        last_log_index: s.last_log_index,
        last_applied_index: s.last_applied_index,
        members,
        regions: regions
            .into_iter()
            .map(|(name, nodes)| {
                let routed_last_minute = facts.values().filter_map(|f| f.routed_last_minute.get(&name)).sum();
                RegionOut { healthy: healthy.contains(&name), name, nodes, routed_last_minute }
            })
            .collect(),
        replication_error,
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

/// This node as a member record (what `svea cluster add` sends to the cluster).
pub fn describe_self(node: &NodeHandle) -> MemberIn {
    let n = &node.config().node;
    MemberIn {
        id: n.id.get(),
        region: n.region.to_string(),
        raft_addr: n.raft_addr.to_string(),
        http_addr: n.http_addr.to_string(),
        public_url: n.public_url.clone(),
    }
}

/// Adds a node: as learner first (waits until it has caught up with the log), then as voter.
pub async fn add(node: &NodeHandle, m: MemberIn) -> Result<(), ActorError> {
    if !node.config().regions.iter().any(|r| r.name.as_str() == m.region) {
        return Err(ActorError::conflict(ConflictKind::UnknownRegion, format!("region {:?} is not in the region table", m.region)));
    }
    if m.id == 0 {
        return Err(ActorError::conflict(ConflictKind::MembershipRefused, "node id must be > 0"));
    }
    let member = SveaNode {
        region: m.region.clone(),
        raft_addr: m.raft_addr.clone(),
        http_addr: m.http_addr.clone(),
        public_url: m.public_url.clone(),
        draining: false,
    };
    let cluster = node.cluster();
    tracing::info!(event = "membership", op = "add", node = m.id, region = %m.region, "adding node as learner");
    cluster.change_membership(MembershipOp::AddLearner { id: m.id, node: member }).await?;
    cluster.change_membership(MembershipOp::Promote { id: m.id }).await?;
    tracing::info!(event = "membership", op = "add", node = m.id, "node is a voter");
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
pub async fn drain_node(node: &NodeHandle, id: RaftNodeId) -> Result<(DrainOut, bool), ActorError> {
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
pub async fn drain(node: &NodeHandle) -> Result<DrainOut, ActorError> {
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
    Ok(DrainOut { node: me, handed_off, leadership_moved_to, removed: true })
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

/// `PUT /v1/cluster/maintenance`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"on": true, "message": "Vi uppgraderar svea till kl. 06:00. / We are upgrading until 06:00.", "retry_after_s": 600}))]
#[serde(deny_unknown_fields)]
pub struct MaintenanceIn {
    /// On or off.
    pub on: bool,
    /// What customers are told (on only): at most 500 characters, no control characters
    /// (`MAINTENANCE_MESSAGE_CHARS_MAX`).
    #[serde(default)]
    #[schema(max_length = 500, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*$")]
    pub message: Option<String>,
    /// Seconds customers wait before retrying (on only), 1 to 86400
    /// (`MAINTENANCE_RETRY_AFTER_S_MAX`).
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 1, maximum = 86400)]
    pub retry_after_s: Option<u32>,
}

/// A JSON number that is a whole `u32`: JSON Schema's `integer` (the document's word) admits
/// `600.0` as well as `600`, and serde's `u32` only the latter.
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let Some(n) = Option::<f64>::deserialize(d)? else { return Ok(None) };
    if n.fract() != 0.0 || !(0.0..=f64::from(u32::MAX)).contains(&n) {
        return Err(serde::de::Error::custom(format!("{n} is not a whole number of seconds")));
    }
    // Whole and in range, checked above: the cast is exact.
    Ok(Some(n as u32))
}

/// Maintenance mode as the operator API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"on": true, "message": "Vi uppgraderar svea till kl. 06:00. / We are upgrading until 06:00.", "retry_after_s": 600, "since_ms": 1764648000000_i64}))]
pub struct MaintenanceOut {
    /// Whether it is on.
    pub on: bool,
    /// The message customers see.
    pub message: Option<String>,
    /// The `Retry-After` customers get.
    pub retry_after_s: Option<u32>,
    /// When it was switched on, Unix milliseconds.
    pub since_ms: Option<i64>,
}

impl From<Option<Maintenance>> for MaintenanceOut {
    fn from(m: Option<Maintenance>) -> Self {
        MaintenanceOut {
            on: m.is_some(),
            message: m.as_ref().map(|m| m.message.clone()),
            retry_after_s: m.as_ref().map(|m| m.retry_after_s),
            since_ms: m.map(|m| m.since_ms),
        }
    }
}

/// Maintenance mode in this node's applied state (no read barrier: customers' requests ask it
/// on every call, and a switch reaches every node within one replication round).
pub fn maintenance(node: &NodeHandle) -> Result<Option<Maintenance>, ActorError> {
    keys::maintenance(node.cluster().view())
}

/// Switches maintenance mode through Raft (every region agrees, and it survives restarts);
/// `input` is validated by the caller. Answers the state after the write.
pub async fn set_maintenance(node: &NodeHandle, input: MaintenanceIn, now_ms: i64) -> Result<MaintenanceOut, ActorError> {
    let record = input.on.then(|| Maintenance {
        message: input.message.unwrap_or_default(),
        retry_after_s: input.retry_after_s.unwrap_or(MAINTENANCE_RETRY_AFTER_S_DEFAULT),
        since_ms: now_ms,
    });
    node.cluster().write(keys::maintenance_command(record.as_ref())?).await?;
    tracing::info!(event = "maintenance", on = input.on, "maintenance mode switched");
    Ok(record.into())
}

/// What an operator's release of an organisation number answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"org_number": "556036-0793", "released_from": "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e"}))]
pub struct OrgReleaseOut {
    /// The number, now free: the next business to register it gets it.
    pub org_number: String,
    /// The business that held it (it keeps existing, without the number).
    pub released_from: String,
}

/// Releases a registered organisation number (a company shows it is theirs and a squatter holds
/// it): the business that holds it gives it up through its own fenced write, and another
/// business may register it. `NotFound` when no business holds it.
pub async fn release_org_number(node: &NodeHandle, org: OrgNumber) -> Result<OrgReleaseOut, ActorError> {
    let not_found = || ActorError::NotFound { what: Missing::OrgNumber, id: org.to_string() };
    node.cluster().read_barrier().await?;
    let Some(business) = keys::OrgRecord { org: org.clone() }.read(node.cluster().view())? else { return Err(not_found()) };
    let release = ReleaseOrgNumber { unverified_registered_before: None };
    match node.registry.call(business.clone(), release).await? {
        OrgReleased::Released(_) => {
            tracing::info!(event = "org_released", org_number = %org, business_id = %business, by = "operator", "organisation number released");
            Ok(OrgReleaseOut { org_number: org.to_string(), released_from: business.to_string() })
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
    /// Index of the last entry in the cut.
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

/// A backup of the cluster's state: a read barrier (so every write acknowledged before this
/// call is in it), then one consistent cut at the applied, hence committed, index.
pub async fn backup(node: &NodeHandle, now_ms: i64) -> Result<BackupStream, ActorError> {
    let taken = BACKUPS_IN_FLIGHT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    if taken >= BACKUPS_IN_FLIGHT_MAX {
        BACKUPS_IN_FLIGHT.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        return Err(ActorError::Busy { what: format!("backups on this node ({BACKUPS_IN_FLIGHT_MAX} at a time)") });
    }
    let cut = node.cluster().backup_cut().await;
    let made = cut.map_err(ActorError::from).and_then(|(applied, pairs)| {
        let meta = svea_storage::backup::BackupMeta {
            cluster: node.config().cluster.name.clone(),
            term: applied.map_or(0, |l| l.leader_id.term),
            index: applied.map_or(0, |l| l.index),
            storage_format: svea_storage::FORMAT,
            created_at_ms: now_ms,
            node: node.node_id(),
            pairs: 0,
        };
        let index = meta.index;
        let encoder = svea_storage::backup::Encoder::new(meta, pairs).map_err(|e| ActorError::Internal(e.to_string()))?;
        tracing::info!(event = "backup", index, bytes = encoder.total_bytes(), "backup cut taken");
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
