//! The expiry sweeper: sessions that nobody touches again would never be counted as expired, so
//! every `expiry_sweep` the node expires the sessions it is responsible for whose time is up.

use std::sync::Arc;
use std::time::Duration;

use svea_storage::RaftNodeId;

use super::NodeHandle;
use crate::actors::keys::{Index, OpenRecord};
use crate::actors::{placement, ActorKey, Clock};

/// How many open sessions one sweep looks at, at most.
pub const SWEEP_BATCH_MAX: usize = 1000;

/// Whether this node expires a session owned by `owner`: its own; or, when the owner is lost
/// (unreachable or no longer a member) or unknown, if this node has the lowest id of the nodes
/// that may take actors (so one survivor, not all of them, takes such sessions over).
fn sweeps_for(node: &NodeHandle, owner: Option<RaftNodeId>) -> bool {
    let cluster = &node.cluster;
    let me = cluster.id();
    match owner {
        Some(o) if o == me => !placement::is_draining(cluster, me),
        Some(o) if !placement::owner_lost(cluster, o) => false,
        _ => {
            let candidates = placement::candidates(cluster, &node.config.regions, node.config.node.region.as_str(), None);
            candidates.iter().min() == Some(&me)
        }
    }
}

/// Runs the sweeper until its task is aborted (at shutdown).
pub async fn run(node: NodeHandle, clock: Arc<dyn Clock>, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let now_ms = clock.now().timestamp_millis();
        let open = match node.cluster.view().scan_index(OpenRecord::PREFIX, SWEEP_BATCH_MAX) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "expiry sweep could not scan open sessions");
                continue;
            }
        };
        for (key, value) in open {
            let Some(sid) = OpenRecord::parse_key(&key) else { continue };
            let Ok(expires_ms) = (OpenRecord { session: sid.clone() }).decode(&value) else { continue };
            if expires_ms > now_ms {
                continue;
            }
            let owner = node.cluster.view().owner(&ActorKey::Session(sid.clone()).stored()).ok().flatten();
            if !sweeps_for(&node, owner.map(|o| o.node)) {
                continue;
            }
            if let Err(e) = node.expire_session(sid.clone()).await {
                tracing::warn!(session_id = %sid, error = %e, "expiry sweep could not expire session");
            }
        }
    }
}
