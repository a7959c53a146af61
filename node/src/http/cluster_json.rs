//! The operator API's JSON shapes (`/v1/cluster`, the console's live JSON, `svea cluster`): what
//! the node core's plain answers (`core::operator`) look like on the wire to an operator, with
//! their OpenAPI schemas. The core holds no HTTP or JSON type; these convert from its values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use svea_storage::{RaftNodeId, SveaNode};

use crate::actors::keys::Maintenance;
use crate::core::operator;

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
    /// Where its GeoIP routing sent customers in the last [`crate::window::WINDOW_S`] seconds,
    /// per region; `None` when it did not answer (unreachable, or not within
    /// [`operator::ROUTED_ASK_TIMEOUT`]).
    pub routed_last_minute: Option<BTreeMap<String, u64>>,
    /// What it says of itself (build, uptime, disk, errors, its view of the Raft group); `None`
    /// when it did not answer within [`operator::ROUTED_ASK_TIMEOUT`].
    pub facts: Option<NodeFacts>,
}

/// What a node says of itself, for the console's node table (`core::operator::NodeFacts`, asked
/// of every reachable member each time the status is gathered).
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
    "regions": [{"name": "stockholm", "healthy": true, "nodes": [1], "routed_last_minute": 33}], "replication_error": null,
    "groups": [{"group": 0, "home": "stockholm", "leader": 1, "term": 7, "last_applied_index": 1842}]}))]
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
    /// Every Raft group as the answering node sees it, group 0 first (one per region with
    /// `cluster.groups = "per-region"`; the fields above are group 0's).
    pub groups: Vec<GroupOut>,
}

/// One Raft group as the answering node sees it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"group": 1, "home": "gothenburg", "leader": 2, "term": 4, "last_applied_index": 977}))]
pub struct GroupOut {
    /// The group's number.
    pub group: u16,
    /// The region its leader belongs in (`null` for the one group of `cluster.groups = "one"`).
    pub home: Option<String>,
    /// The leader it follows.
    pub leader: Option<u64>,
    /// Its term in this group.
    pub term: u64,
    /// Its last applied index in this group.
    pub last_applied_index: Option<u64>,
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

/// What an operator's release of an organisation number answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"org_number": "556036-0793", "released_from": "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e"}))]
pub struct OrgReleaseOut {
    /// The number, now free: the next business to register it gets it.
    pub org_number: String,
    /// The business that held it (it keeps existing, without the number).
    pub released_from: String,
}

impl MemberIn {
    /// The member record of node `id` as the membership keeps it.
    pub fn of(id: RaftNodeId, n: SveaNode) -> MemberIn {
        MemberIn { id, region: n.region, raft_addr: n.raft_addr, http_addr: n.http_addr, public_url: n.public_url }
    }

    /// The record the membership keeps for it (not draining).
    pub fn node(&self) -> SveaNode {
        SveaNode {
            region: self.region.clone(),
            raft_addr: self.raft_addr.clone(),
            http_addr: self.http_addr.clone(),
            public_url: self.public_url.clone(),
            draining: false,
        }
    }
}

impl From<operator::NodeFacts> for NodeFacts {
    fn from(f: operator::NodeFacts) -> Self {
        let operator::NodeFacts { version, revision, uptime_s, disk_bytes, answers_last_minute, errors_last_minute, term, leader, routed_last_minute } = f;
        NodeFacts { version, revision, uptime_s, disk_bytes, answers_last_minute, errors_last_minute, term, leader, routed_last_minute }
    }
}

impl From<operator::DrainReport> for DrainOut {
    fn from(r: operator::DrainReport) -> Self {
        DrainOut { node: r.node, handed_off: r.handed_off, leadership_moved_to: r.leadership_moved_to, removed: r.removed }
    }
}

impl From<operator::Status> for ClusterOut {
    fn from(status: operator::Status) -> Self {
        let operator::Status { cluster, raft: s, replication, owned, reachable, healthy_regions: healthy, facts, groups } = status;
        let (replication, replication_error) = match replication {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(e)),
        };
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
                    reachable: reachable.contains(id),
                    raft_addr: n.raft_addr.clone(),
                    public_url: n.public_url.clone(),
                    matched_index: matched,
                    lag,
                    owned_actors: owned.get(id).map_or(0, |k| k.values().sum()),
                    actors_by_kind: owned.get(id).cloned().unwrap_or_default(),
                    routed_last_minute: facts.get(id).map(|f| f.routed_last_minute.clone()),
                    facts: facts.get(id).cloned().map(NodeFacts::from),
                }
            })
            .collect();
        let mut regions: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for (id, n) in &s.members {
            regions.entry(n.region.clone()).or_default().push(*id);
        }
        ClusterOut {
            cluster,
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
            groups: groups
                .into_iter()
                .enumerate()
                .map(|(g, (home, st))| GroupOut { group: g as u16, home, leader: st.leader, term: st.term, last_applied_index: st.last_applied_index })
                .collect(),
        }
    }
}

impl From<&MaintenanceIn> for operator::MaintenanceSwitch {
    fn from(m: &MaintenanceIn) -> Self {
        operator::MaintenanceSwitch { on: m.on, message: m.message.clone(), retry_after_s: m.retry_after_s }
    }
}

/// The answer to an operator's release of `org_number`, held by `business` until now.
pub fn org_released(org_number: &crate::domain::OrgNumber, business: &crate::domain::BusinessId) -> OrgReleaseOut {
    OrgReleaseOut { org_number: org_number.to_string(), released_from: business.to_string() }
}
