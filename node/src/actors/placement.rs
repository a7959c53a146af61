//! Where actors go: which nodes may take new or handed-off actors, in which order.
//!
//! A node may take actors when it is a member, reachable from here, and not draining. Actors
//! leaving a region (a drain, a failover) prefer nodes of the same region, then the regions
//! nearest to it; within a region the lowest node id comes first, so every node picks the same
//! successor from the same view.

use svea_cluster::ClusterNode;
use svea_config::RegionSpec;
use svea_storage::{Command, CommandResult, Owner, RaftNodeId};

use super::ActorError;

/// Region names ordered from `from` outwards: `from` first, then by distance between region
/// centres (ties by name). Regions missing from the table come last, by name.
pub fn region_order(regions: &[RegionSpec], from: &str) -> Vec<String> {
    match regions.iter().find(|r| r.name.as_str() == from) {
        Some(origin) => svea_geo::distances_km(regions, origin.lat, origin.lon).into_iter().map(|(r, _)| r.to_string()).collect(),
        None => {
            let mut names: Vec<String> = regions.iter().map(|r| r.name.to_string()).collect();
            names.sort();
            names.insert(0, from.to_owned());
            names
        }
    }
}

/// Whether member `id` is marked draining in the membership.
pub fn is_draining(cluster: &ClusterNode, id: RaftNodeId) -> bool {
    cluster.member(id).is_some_and(|n| n.draining)
}

/// Whether the owner `id` can no longer serve its actors: it left the membership, or the
/// failure detector has not heard from it for `failover_after`.
pub fn owner_lost(cluster: &ClusterNode, id: RaftNodeId) -> bool {
    !cluster.is_member(id) || !cluster.health().node_reachable(id)
}

/// Nodes that may take actors, best first, starting from region `from` (see the module docs);
/// `exclude` is left out (a draining node looking for successors).
pub fn candidates(cluster: &ClusterNode, regions: &[RegionSpec], from: &str, exclude: Option<RaftNodeId>) -> Vec<RaftNodeId> {
    let members = cluster.members();
    let health = cluster.health();
    let order = region_order(regions, from);
    let rank = |region: &str| order.iter().position(|r| r == region).unwrap_or(order.len());
    let mut ok: Vec<(usize, RaftNodeId)> = members
        .iter()
        .filter(|(id, n)| Some(**id) != exclude && !n.draining && health.node_reachable(**id))
        .map(|(id, n)| (rank(&n.region), *id))
        .collect();
    ok.sort();
    ok.into_iter().map(|(_, id)| id).collect()
}

/// Hands `actor`, held by `owner`, to node `to` with a claim fenced by `owner`'s epoch, made in
/// `to`'s name. `false`: the actor was claimed by someone else meanwhile (no longer `owner`'s to
/// move). Counted and logged.
pub async fn hand_to(cluster: &ClusterNode, actor: &str, owner: Owner, to: RaftNodeId) -> Result<bool, ActorError> {
    let claim = Command::Claim { actor: actor.to_owned(), node: to, expected_epoch: owner.epoch };
    match cluster.write(claim).await?.result {
        CommandResult::Claimed(o) => {
            cluster.counters().actor_handoff();
            tracing::debug!(event = "actor_handoff", actor, from = owner.node, to, epoch = o.epoch, "actor handed off");
            Ok(true)
        }
        _ => Ok(false),
    }
}
