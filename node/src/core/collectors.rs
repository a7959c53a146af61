//! The node core's scrape-time collector: what `/metrics` reads at every scrape from state kept
//! elsewhere (Raft, membership, the failure detector, the cluster's event counters, the data
//! directory, the actor registry's queue, scoring, `/proc`), so none of it is copied or stale.
//! Registered into telemetry's registry by `core::start` ([`crate::telemetry::Telemetry::go_live`]):
//! telemetry keeps the registry and the families, the core feeds it.

use std::sync::Arc;

use prometheus_client::encoding::DescriptorEncoder;
use svea_cluster::ClusterNode;

use super::scoring::FeedbackScoring;
use crate::actors::registry::RegistryHandle;
use crate::telemetry::{counter, counter_family, gauge, gauge_family, process, sat, store, Live};

/// What the collector reads: set once the node core is up.
pub struct LiveState {
    /// Raft, membership, failure detector, cluster counters.
    pub cluster: ClusterNode,
    /// The routing queue.
    pub registry: RegistryHandle,
    /// Scoring counters.
    pub scoring: Arc<FeedbackScoring>,
    /// The node's data directory (`node.data_dir`): its size and its file system's free space.
    pub data_dir: std::path::PathBuf,
}

impl Live for LiveState {
    fn encode(&self, e: &mut DescriptorEncoder) -> std::fmt::Result {
        let live = self;
        let s = live.cluster.status();
        gauge(e, "svea_raft_term", "Current Raft term", sat(s.term))?;
        gauge(e, "svea_raft_is_leader", "1 when this node leads.", i64::from(s.leader == Some(s.node_id)))?;
        gauge(e, "svea_raft_leader_id", "Id of the leader this node follows (0 when unknown)", sat(s.leader.unwrap_or(0)))?;
        let last = s.last_log_index.unwrap_or(0);
        gauge(e, "svea_raft_last_log_index", "Last Raft log index written on this node", sat(last))?;
        gauge(e, "svea_raft_applied_index", "Index of the last Raft entry applied on this node", sat(s.last_applied_index.unwrap_or(0)))?;
        gauge_family(
            e,
            "svea_raft_replication_lag_entries",
            "As leader: entries each follower is behind this node's last log index",
            s.matched.iter().map(|(id, m)| ([("follower", id.to_string())], sat(last.saturating_sub(*m)))),
        )?;
        let health = live.cluster.health();
        gauge_family(
            e,
            "svea_cluster_peer_up",
            "The failure detector's view of each other member: 1 reachable, 0 not",
            s.members
                .iter()
                .filter(|(id, _)| **id != s.node_id)
                .map(|(id, n)| ([("peer", id.to_string()), ("peer_region", n.region.clone())], i64::from(health.node_reachable(*id)))),
        )?;
        let mut per_region = std::collections::BTreeMap::<&str, i64>::new();
        for n in s.members.values() {
            *per_region.entry(n.region.as_str()).or_default() += 1;
        }
        // `member_region`, not `region`: see [`crate::telemetry::GeoLabels::routed_region`].
        gauge_family(
            e,
            "svea_cluster_members",
            "Members (voters and learners) per region",
            per_region.into_iter().map(|(r, n)| ([("member_region", r)], n)),
        )?;
        store(e, &live.data_dir)?;
        gauge(e, "svea_registry_queue_depth", "Actor calls queued or in flight on this node", sat(live.registry.queue_depth() as u64))?;
        counter(
            e,
            "svea_commands_applied",
            "Commands applied on this node since it started (each command of a batch entry counts)",
            live.cluster.commands_applied(),
        )?;
        let samples = live.cluster.counters().samples();
        let mut i = 0;
        while i < samples.len() {
            let (name, help, _, _) = samples[i];
            let group: Vec<_> = samples[i..].iter().take_while(|x| x.0 == name).collect();
            i += group.len();
            match group[0].2 {
                None => counter(e, name, help, group[0].3)?,
                Some(_) => counter_family(e, name, help, group.iter().filter_map(|(_, _, l, v)| l.map(|(k, l)| ([(k, l)], *v))))?,
            }
        }
        live.scoring.encode(e)?;
        process(e)
    }
}
