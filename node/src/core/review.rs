//! Rewards a business's hourly brake held (`pending_review`), and the business's review of each.
//!
//! The business settles a held reward at 0 and records it under `bheld/<business>/<session>`
//! ([`crate::actors::business`]). Listing reads those records after a read barrier. Deciding is
//! two calls, outside both actors' slots like every settlement: the business decides
//! ([`ReviewHeld`]: release pays it, refuse settles it at 0; idempotent), then the session records
//! the decision ([`RecordReview`]). Should the second call fail, the session takes the decision
//! from the business's settlement record the next time it is read.

use svea_cluster::ClusterNode;

use crate::actors::business::{ReviewDecision, ReviewHeld, Settlement};
use crate::actors::keys::{HeldRecord, HeldReward, Index};
use crate::actors::registry::RegistryHandle;
use crate::actors::session::RecordReview;
use crate::actors::ActorError;
use crate::domain::{BusinessId, SessionId};

/// Held rewards one listing answers at most: the dashboard shows them for a decision each, and
/// a business with more decides these first (the rest follow as these are decided).
pub const HELD_LIST_MAX: usize = 200;

/// Held records one listing reads at most (bounded work per request): the oldest
/// [`HELD_LIST_MAX`] of them are answered. Records sort by session id, not time, so beyond this
/// many held rewards "oldest" means oldest of those read.
pub const HELD_SCAN_MAX: usize = 5000;

const _: () = assert!(HELD_LIST_MAX <= HELD_SCAN_MAX);

/// The held rewards of a business, oldest first.
#[derive(Debug, Clone)]
pub struct HeldPage {
    /// The rewards, with their sessions.
    pub items: Vec<(SessionId, HeldReward)>,
    /// Whether there are more than [`HELD_LIST_MAX`].
    pub more: bool,
}

/// The oldest held rewards of `business` (at most [`HELD_LIST_MAX`]), after a read barrier so
/// every reward held before the request is seen.
pub async fn list(cluster: &ClusterNode, business: &BusinessId) -> Result<HeldPage, ActorError> {
    cluster.read_barrier().await?;
    let view = cluster.view();
    let batch = view.scan_index_after(&HeldRecord::prefix_of(business), None, HELD_SCAN_MAX)?;
    let mut items = Vec::with_capacity(batch.len());
    for (key, value) in batch {
        let Some(record) = HeldRecord::parse_key(&key) else {
            return Err(ActorError::Internal(format!("held reward key {key:?} does not parse")));
        };
        let held = record.decode(&value)?;
        items.push((record.session, held));
    }
    // A business reviews in the order they were held.
    items.sort_by(|a, b| a.1.held_at.cmp(&b.1.held_at).then_with(|| a.0.as_str().cmp(b.0.as_str())));
    let more = items.len() > HELD_LIST_MAX;
    items.truncate(HELD_LIST_MAX);
    Ok(HeldPage { items, more })
}

/// Releases or refuses the held reward of `session` at `business`, then tells the session.
pub async fn decide(cluster: &ClusterNode, registry: &RegistryHandle, business: BusinessId, session: SessionId, decision: ReviewDecision) -> Result<Settlement, ActorError> {
    let decided = registry.call(business.clone(), ReviewHeld { session: session.clone(), decision }).await?;
    if decided.decision.amount > crate::domain::Ore::ZERO {
        // The released reward's transfer to the wallet (its record names the customer). Not seen
        // here yet (the business is on another node): the payout driver delivers it.
        let entry = crate::domain::ledger::EntryId::reward(&business, &session);
        if let Ok(Some(t)) = (crate::actors::keys::OutboxRecord { entry: entry.clone() }).read(cluster.view()) {
            if let Err(e) = super::payouts::deliver(registry, t.device, entry).await {
                tracing::warn!(session_id = %session, error = %e, "released cashback not delivered to the wallet yet; the payout driver will");
            }
        }
    }
    if let Err(e) = registry.call(session.clone(), RecordReview(decided)).await {
        // The business's record is the truth; the session adopts it when it is next read.
        tracing::warn!(session_id = %session, error = %e, "could not record the review on the session; its next read will");
    }
    Ok(decided)
}
