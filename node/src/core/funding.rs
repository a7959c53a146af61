//! Money into a business: top-ups (from the funding provider, or demo) and top-up refunds, each
//! one ledger entry written by the business actor (`actors/business.rs`, `RecordTopUp`,
//! `RecordTopUpRefund`). This is the interface the Stripe work calls from its webhook.

use chrono::{DateTime, Utc};
use svea_cluster::ClusterNode;

use crate::actors::business::{RecordTopUp, RecordTopUpRefund, TopUpOutcome};
use crate::actors::keys::{Index, TopUpRecord};
use crate::actors::registry::RegistryHandle;
use crate::actors::{ActorError, Missing};
use crate::domain::ledger::ExternalRef;
use crate::domain::{BusinessId, DomainError, Ore};

/// The largest single top-up: 1 000 000 SEK. Above it a business talks to a person first.
pub const TOP_UP_ORE_MAX: i64 = 100_000_000;

/// A paid top-up as the funding provider reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopUp {
    /// The business it funds.
    pub business: BusinessId,
    /// The provider's event id (Stripe `evt_...`): the entry's id, so a replay credits nothing.
    pub event_id: ExternalRef,
    /// The checkout session it completes (Stripe `cs_...`): credited once, whatever the events.
    pub checkout_session: Option<ExternalRef>,
    /// The payment a refund will name (Stripe's payment intent `pi_...`).
    pub payment_ref: Option<ExternalRef>,
    /// Amount paid.
    pub amount: Ore,
    /// When the provider says it happened, Unix milliseconds.
    pub at_ms: i64,
}

/// A refund of a top-up as the funding provider reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopUpRefund {
    /// The provider's event id: the entry's id.
    pub event_id: ExternalRef,
    /// The payment refunded (as in [`TopUp::payment_ref`]).
    pub payment_ref: ExternalRef,
    /// Refunded of that payment IN TOTAL so far (Stripe's `charge.amount_refunded` is
    /// cumulative); the entry debits the difference from what was recorded before.
    pub refunded_total: Ore,
    /// When, Unix milliseconds.
    pub at_ms: i64,
}

/// `text` as an outside reference, or the typed refusal naming `what`.
pub fn external_ref(what: &'static str, text: &str) -> Result<ExternalRef, ActorError> {
    ExternalRef::parse(text).ok_or_else(|| ActorError::Domain(DomainError::ExternalRef { what: what.to_owned() }))
}

/// Checks a top-up amount: 0.01 to [`TOP_UP_ORE_MAX`].
pub fn check_amount(amount: Ore) -> Result<Ore, ActorError> {
    if amount <= Ore::ZERO || amount.as_ore() > TOP_UP_ORE_MAX {
        return Err(ActorError::Domain(DomainError::TopUpAmountOutOfRange { amount, max: Ore::from_ore(TOP_UP_ORE_MAX) }));
    }
    Ok(amount)
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Credits a top-up (idempotent on the event id and on the checkout session). An unknown
/// business is `NotFound { Business }`.
pub async fn record_top_up(registry: &RegistryHandle, t: TopUp) -> Result<TopUpOutcome, ActorError> {
    let amount = check_amount(t.amount)?;
    let op = RecordTopUp { event: t.event_id, checkout_session: t.checkout_session, payment: t.payment_ref, amount, at: at(t.at_ms) };
    registry.call(t.business, op).await
}

/// Debits a top-up refund: finds the business by the payment (`topup/<payment>`, after a read
/// barrier when this node has not seen it), then records the difference to what was refunded
/// before. An unknown payment is `NotFound { Payment }`.
pub async fn record_top_up_refund(cluster: &ClusterNode, registry: &RegistryHandle, r: TopUpRefund) -> Result<(BusinessId, TopUpOutcome), ActorError> {
    if r.refunded_total < Ore::ZERO {
        return Err(ActorError::Domain(DomainError::TopUpAmountOutOfRange { amount: r.refunded_total, max: Ore::from_ore(TOP_UP_ORE_MAX) }));
    }
    let record = TopUpRecord { payment: r.payment_ref.clone() };
    let mut found = record.read(cluster.view())?;
    if found.is_none() {
        cluster.read_barrier().await?;
        found = record.read(cluster.view())?;
    }
    let paid = found.ok_or_else(|| ActorError::NotFound { what: Missing::Payment, id: r.payment_ref.to_string() })?;
    let op = RecordTopUpRefund { event: r.event_id, payment: r.payment_ref, refunded_total: r.refunded_total, at: at(r.at_ms) };
    let outcome = registry.call(paid.business.clone(), op).await?;
    Ok((paid.business, outcome))
}
