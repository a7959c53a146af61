//! A till's webhook delivery, end to end: find the business its account belongs to, have the
//! business verify and record it, and complete the session that waits for that purchase.
//!
//! The business actor verifies the signature with the secret in its own state (it never leaves
//! it) and records the purchase with the provider's event id, both insert-new, in one write. The
//! waiting session is found through its `poswait/` record and completed with
//! [`MatchPurchase`] through the registry, so it runs wherever the session lives (another
//! region's node included), and the session actor never calls another actor.

use crate::actors::business::{RecordPurchase, Recorded};
use crate::actors::keys::{Index, LockedReceipt, PosAccountRecord, PosLockRecord, PosPurchaseRecord, PosWaitRecord};
use crate::actors::registry::RegistryHandle;
use crate::actors::session::{MatchPurchase, PurchaseRefunded};
use crate::actors::ActorError;
use crate::domain::pos::{Delivery, PosError};
use crate::domain::{BusinessId, Ore};
use svea_cluster::ClusterNode;

/// What a delivery did, for the webhook's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// A purchase was recorded.
    Recorded,
    /// Nothing new (a replay, another event for a recorded receipt, or no purchase in it).
    Duplicate,
}

/// Why a delivery was not taken: the till's fault, or the cluster's.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Refused as input (signature, time, content).
    #[error(transparent)]
    Pos(#[from] PosError),
    /// The node could not do it now.
    #[error(transparent)]
    Actor(#[from] ActorError),
}

/// Most waiting sessions one delivery completes; a session beyond them completes when it is
/// next touched (the customer's page polls it), so the bound only delays.
pub const POS_WAITERS_NOTIFIED_MAX: usize = 32;

/// Most locked receipts one business's list shows.
pub const POS_LOCKS_LISTED_MAX: usize = 200;

/// Handles one parsed delivery; `tolerance_ms` is `pos.timestamp_tolerance_ms`.
pub async fn deliver(cluster: &ClusterNode, registry: &RegistryHandle, delivery: Delivery, tolerance_ms: u64) -> Result<WebhookOutcome, WebhookError> {
    let account = PosAccountRecord { provider: delivery.provider, account: delivery.account.clone() };
    let mut business = account.read(cluster.view())?;
    if business.is_none() {
        cluster.read_barrier().await.map_err(ActorError::from)?;
        business = account.read(cluster.view())?;
    }
    // An account nobody registered cannot be verified: the same answer as a wrong signature.
    let Some(business) = business else { return Err(PosError::BadSignature.into()) };
    let (location, receipt) = match registry.call(business, RecordPurchase { delivery, tolerance_ms }).await?? {
        Recorded::New(location, receipt) => (location, receipt),
        Recorded::Nothing => return Ok(WebhookOutcome::Duplicate),
        Recorded::Refunded { session, reversed } => {
            if let Some(session) = session {
                // Best effort: the business has withheld or reversed already; this only marks the
                // session so it and its page say so.
                if let Err(e) = super::sessions::run(registry, session.clone(), PurchaseRefunded { reversed }).await {
                    tracing::warn!(session_id = %session, error = %e, "could not mark the session of a refunded purchase");
                }
            }
            return Ok(WebhookOutcome::Recorded);
        }
    };
    cluster.read_barrier().await.map_err(ActorError::from)?;
    let reported = PosPurchaseRecord { location: location.clone(), receipt: receipt.clone() }.read(cluster.view())?;
    let prefix = PosWaitRecord::prefix_of(&location, &receipt);
    let mut waiting = Vec::new();
    for (key, value) in cluster.view().scan_index(&prefix, POS_WAITERS_NOTIFIED_MAX).map_err(ActorError::from)? {
        let Some(session) = PosWaitRecord::session_in(&prefix, &key) else { continue };
        let amount = PosWaitRecord { location: location.clone(), receipt: receipt.clone(), session: session.clone() }.decode(&value)?;
        waiting.push((session, amount));
    }
    // Sessions that confirmed the reported amount first: the first exact match claims the
    // purchase before any other waiting session's mismatch is counted against the receipt.
    let exact = |amount: &Ore| reported.as_ref().is_some_and(|r| r.amount == *amount);
    waiting.sort_by_key(|(_, amount)| !exact(amount));
    for (session, _) in waiting {
        // Best effort: the purchase is recorded, and the session checks it again whenever it is
        // touched, so a failure here only delays the completion.
        if let Err(e) = super::sessions::run(registry, session.clone(), MatchPurchase).await {
            tracing::warn!(session_id = %session, error = %e, "could not complete a session waiting for this purchase");
        }
    }
    Ok(WebhookOutcome::Recorded)
}

/// The receipts of `business` that their mismatches locked, oldest first by location and
/// receipt (at most [`POS_LOCKS_LISTED_MAX`]), after a read barrier.
pub async fn locked_receipts(cluster: &ClusterNode, business: &BusinessId) -> Result<Vec<LockedReceipt>, ActorError> {
    cluster.read_barrier().await?;
    let prefix = PosLockRecord::prefix_of(business);
    let mut out = Vec::new();
    for (_, value) in cluster.view().scan_index(&prefix, POS_LOCKS_LISTED_MAX)? {
        out.push(PosLockRecord::decode_scanned(&value)?);
    }
    Ok(out)
}
