//! A till's webhook delivery, end to end: find the business its account belongs to, have the
//! business verify and record it, and complete the session that waits for that purchase.
//!
//! The business actor verifies the signature with the secret in its own state (it never leaves
//! it) and records the purchase with the provider's event id, both insert-new, in one write. The
//! waiting session is found through its `poswait/` record and completed with
//! [`MatchPurchase`] through the registry, so it runs wherever the session lives (another
//! region's node included), and the session actor never calls another actor.

use crate::actors::business::{RecordPurchase, Recorded};
use crate::actors::keys::{Index, PosAccountRecord, PosWaitRecord};
use crate::actors::registry::RegistryHandle;
use crate::actors::session::MatchPurchase;
use crate::actors::ActorError;
use crate::domain::pos::{Delivery, PosError};
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
    };
    let wait = PosWaitRecord { location, receipt };
    cluster.read_barrier().await.map_err(ActorError::from)?;
    if let Some(session) = wait.read(cluster.view())? {
        // Best effort: the purchase is recorded, and the session checks it again whenever it is
        // touched, so a failure here only delays the completion.
        if let Err(e) = super::sessions::run(registry, session.clone(), MatchPurchase).await {
            tracing::warn!(session_id = %session, error = %e, "could not complete the session waiting for this purchase");
        }
    }
    Ok(WebhookOutcome::Recorded)
}
