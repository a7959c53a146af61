//! The console's view of the cluster: the operator status ([`ClusterOut`]) projected onto the
//! region table and the map. Pure: the same status always gives the same view, which is what
//! both the page and `GET /ops/console.json` show.

use std::collections::BTreeMap;

use serde::Serialize;
use svea_config::RegionSpec;

use super::map;
use crate::http::cluster_json::{ClusterOut, MaintenanceOut, NodeFacts};
use crate::window::WINDOW_S;

/// `up` or `down`, as the page's `data-health` attributes say it.
pub fn health(up: bool) -> &'static str {
    if up {
        "up"
    } else {
        "down"
    }
}

/// One region on the map and in the table.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RegionView {
    /// Its name in the region table (`id="region-<name>"` on the page).
    pub name: String,
    /// `up` when at least one of its nodes is healthy, else `down` (no nodes: `down`).
    pub health: &'static str,
    /// Position on the map (SVG units of `sweden.svg`).
    pub x: f64,
    /// Position on the map (y grows southwards).
    pub y: f64,
    /// Its member nodes.
    pub nodes: Vec<u64>,
    /// Customers routed here in the last minute (by the members that answered).
    pub routed_last_minute: u64,
}

/// One node in the table.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct NodeView {
    /// Node id (`id="node-<id>"` on the page).
    pub id: u64,
    /// Its region.
    pub region: String,
    /// The failure detector's view from the answering node: `up` or `down`.
    pub health: &'static str,
    /// Whether it leads.
    pub leader: bool,
    /// `voter` or `learner`.
    pub role: String,
    /// Marked draining.
    pub draining: bool,
    /// Entries behind the leader (`None`: not known, no leader reachable).
    pub lag: Option<u64>,
    /// Actors it owns, per kind.
    pub actors: BTreeMap<String, u64>,
    /// Where its routing sent customers in the last minute (`None`: it did not answer).
    pub routed_last_minute: Option<BTreeMap<String, u64>>,
    /// What it says of itself: build, uptime, disk, errors, its term and leader (`None`: it did
    /// not answer).
    pub facts: Option<NodeFacts>,
}

/// Cashback payouts as this node sees them (issue 21): the payouts in flight in the whole cluster
/// (its driver's last scan of the `payfly/` records), and the payouts started, paid and failed by
/// wallets this node owns since it started, with the rail they go out on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"rail": "swish", "in_flight": 2, "stuck": 0, "started": 40, "paid": 37, "failed": 1}))]
pub struct PayoutsView {
    /// `payouts.rail`: `ledger-only` or `swish`.
    pub rail: String,
    /// Payouts in flight (sent or about to be, not settled), cluster-wide.
    pub in_flight: i64,
    /// Of those, the ones this node's driver stopped sending after `payouts.attempts_max`
    /// unanswered sends (only asked about now: see the runbook of `SveaPayoutsFailing`).
    pub stuck: i64,
    /// Started by wallets this node owns, since it started.
    pub started: u64,
    /// Paid, likewise.
    pub paid: u64,
    /// Failed and returned to the customers' balances, likewise.
    pub failed: u64,
}

/// What the console shows.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "cluster": "svea", "node": 1, "term": 3, "leader": 1, "routed_window_s": 60, "replication_error": null,
    "payouts": {"rail": "ledger-only", "in_flight": 0, "stuck": 0, "started": 3, "paid": 3, "failed": 0},
    "maintenance": {"on": false, "message": null, "retry_after_s": null, "since_ms": null},
    "regions": [
        {"name": "stockholm", "health": "up", "x": 402.5, "y": 611.0, "nodes": [1], "routed_last_minute": 12},
        {"name": "gothenburg", "health": "up", "x": 118.0, "y": 702.4, "nodes": [2], "routed_last_minute": 4},
        {"name": "malmo", "health": "down", "x": 170.2, "y": 880.9, "nodes": [3], "routed_last_minute": 0}
    ],
    "nodes": [
        {"id": 1, "region": "stockholm", "health": "up", "leader": true, "role": "voter", "draining": false, "lag": 0,
         "actors": {"business": 2, "session": 9}, "routed_last_minute": {"stockholm": 10, "malmo": 2},
         "facts": {"version": "0.1.0", "revision": "4dffa76", "uptime_s": 3600, "disk_bytes": 52428800, "answers_last_minute": 120, "errors_last_minute": 0,
                   "term": 3, "leader": 1, "routed_last_minute": {"stockholm": 10, "malmo": 2}}},
        {"id": 3, "region": "malmo", "health": "down", "leader": false, "role": "voter", "draining": false, "lag": null,
         "actors": {}, "routed_last_minute": null, "facts": null}
    ]
}))]
pub struct ConsoleView {
    /// Cluster name.
    pub cluster: String,
    /// The node answering (this console's node).
    pub node: u64,
    /// Its Raft term.
    pub term: u64,
    /// The leader it follows.
    pub leader: Option<u64>,
    /// Every region of the region table, in its order.
    pub regions: Vec<RegionView>,
    /// Every member, by id.
    pub nodes: Vec<NodeView>,
    /// Seconds the routing counts cover.
    pub routed_window_s: u64,
    /// Why replication lag is missing, if it is.
    pub replication_error: Option<String>,
    /// Cashback payouts as this node sees them.
    pub payouts: PayoutsView,
    /// Maintenance mode, cluster-wide.
    pub maintenance: MaintenanceOut,
}

/// Projects the operator status onto the region table (`regions`, in the config's order).
pub fn project(status: &ClusterOut, regions: &[RegionSpec]) -> ConsoleView {
    let nodes: Vec<NodeView> = status
        .members
        .iter()
        .map(|m| NodeView {
            id: m.id,
            region: m.region.clone(),
            health: health(m.reachable),
            leader: m.leader,
            role: m.role.clone(),
            draining: m.draining,
            lag: m.lag,
            actors: m.actors_by_kind.clone(),
            routed_last_minute: m.routed_last_minute.clone(),
            facts: m.facts.clone(),
        })
        .collect();
    let regions = regions
        .iter()
        .map(|spec| {
            let name = spec.name.as_str();
            let (x, y) = map::project(spec.lat, spec.lon);
            let members: Vec<&NodeView> = nodes.iter().filter(|n| n.region == name).collect();
            RegionView {
                name: name.to_owned(),
                health: health(members.iter().any(|n| n.health == "up")),
                x,
                y,
                nodes: members.iter().map(|n| n.id).collect(),
                routed_last_minute: status.regions.iter().find(|r| r.name == name).map_or(0, |r| r.routed_last_minute),
            }
        })
        .collect();
    ConsoleView {
        cluster: status.cluster.clone(),
        node: status.node,
        term: status.term,
        leader: status.leader,
        regions,
        nodes,
        routed_window_s: WINDOW_S,
        replication_error: status.replication_error.clone(),
        payouts: PayoutsView::default(),
        maintenance: MaintenanceOut { on: false, message: None, retry_after_s: None, since_ms: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::cluster_json::{MemberOut, RegionOut};

    fn member(id: u64, region: &str, reachable: bool, leader: bool) -> MemberOut {
        MemberOut {
            id,
            region: region.into(),
            role: "voter".into(),
            leader,
            draining: false,
            reachable,
            raft_addr: format!("127.0.0.1:{}", 7000 + id),
            public_url: format!("http://127.0.0.1:{}", 8000 + id),
            matched_index: Some(10),
            lag: Some(id - 1),
            owned_actors: 3,
            actors_by_kind: BTreeMap::from([("business".into(), 1), ("session".into(), 2)]),
            routed_last_minute: reachable.then(|| BTreeMap::from([(region.to_owned(), id)])),
            facts: None,
        }
    }

    fn status(members: Vec<MemberOut>) -> ClusterOut {
        let mut regions: Vec<RegionOut> = Vec::new();
        for m in &members {
            match regions.iter_mut().find(|r| r.name == m.region) {
                Some(r) => r.nodes.push(m.id),
                None => regions.push(RegionOut { name: m.region.clone(), healthy: true, nodes: vec![m.id], routed_last_minute: 7 }),
            }
        }
        ClusterOut {
            cluster: "svea".into(),
            node: 1,
            term: 4,
            leader: Some(1),
            leader_url: None,
            last_log_index: Some(10),
            last_applied_index: Some(10),
            members,
            regions,
            replication_error: None,
            groups: Vec::new(),
        }
    }

    fn table() -> Vec<RegionSpec> {
        svea_config::RawConfig::default().validate().expect("built-in config").regions
    }

    #[test]
    fn every_configured_region_is_shown_up_while_one_of_its_nodes_is_healthy() {
        let s = status(vec![
            member(1, "stockholm", true, true),
            member(2, "gothenburg", false, false),
            member(4, "gothenburg", true, false),
            member(3, "malmo", false, false),
        ]);
        let v = project(&s, &table());
        let names: Vec<&str> = v.regions.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["stockholm", "gothenburg", "malmo"]);
        let health: Vec<&str> = v.regions.iter().map(|r| r.health).collect();
        assert_eq!(health, ["up", "up", "down"], "gothenburg has one healthy node; malmo none");
        assert_eq!(v.regions[1].nodes, [2, 4]);
        assert_eq!((v.term, v.leader, v.node), (4, Some(1), 1));
        let n2 = v.nodes.iter().find(|n| n.id == 2).expect("node 2");
        assert_eq!((n2.health, n2.leader, n2.lag, n2.routed_last_minute.clone()), ("down", false, Some(1), None));
        let n1 = v.nodes.iter().find(|n| n.id == 1).expect("node 1");
        assert!(n1.leader);
        assert_eq!(n1.actors["session"], 2);
        assert_eq!(v.regions[0].routed_last_minute, 7);
    }

    #[test]
    fn a_region_without_members_is_down_and_sits_on_its_city() {
        let v = project(&status(vec![member(1, "stockholm", true, true)]), &table());
        let malmo = v.regions.iter().find(|r| r.name == "malmo").expect("malmo");
        assert_eq!((malmo.health, malmo.nodes.len(), malmo.routed_last_minute), ("down", 0, 0));
        assert_eq!((malmo.x, malmo.y), map::project(55.60, 13.00));
    }
}
