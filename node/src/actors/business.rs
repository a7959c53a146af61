//! The business actor: profile, locations, reward budget and analytics of one business.
//!
//! Sessions report to it: `SessionOpened` when a session opens and `Settle` when it ends
//! (feedback scored, or expired). Both are idempotent on the session id through insert-new
//! records written atomically with the business state (`bopen/<b>/<s>`, `bsettle/<b>/<s>`), so a
//! retried settlement never pays twice, and the reward is capped by the remaining budget.

use std::collections::BTreeMap;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use svea_storage::codec::{decode, encode};
use svea_storage::{IndexMode, IndexWrite};
use tracing::Instrument;

use super::cell::{must_deactivate, Persisted, Slot};
use super::{ActorEnv, ActorError, Passivate};
use crate::domain::{compute_reward, BusinessId, LocationId, OrgNumber, Ore, QrToken, RewardDecision, RewardPolicy, RewardTier, SessionId};

/// A store location with its QR token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// Location id.
    pub id: LocationId,
    /// Display name.
    pub name: String,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Unguessable token printed as the location's QR code.
    pub qr_token: QrToken,
}

/// Counters of one day (UTC).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayStats {
    /// Sessions opened.
    pub opened: u64,
    /// Sessions that ended rewarded.
    pub completed: u64,
    /// Sessions whose feedback scored below the lowest tier.
    pub rejected: u64,
    /// Sessions that expired unfinished.
    pub expired: u64,
    /// Cashback paid.
    pub rewards_paid: Ore,
}

/// Analytics of a business, updated with every settlement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Analytics {
    /// All-time totals.
    pub total: DayStats,
    /// Sum of quality scores of scored sessions.
    pub score_sum: u64,
    /// Number of scored sessions.
    pub scored: u64,
    /// Scored sessions per reward tier: none, low, mid, high.
    pub tiers: [u64; 4],
    /// Per day, keyed `YYYY-MM-DD` (UTC).
    pub per_day: BTreeMap<String, DayStats>,
}

impl Analytics {
    fn day(&mut self, at: DateTime<Utc>) -> &mut DayStats {
        self.per_day.entry(at.format("%Y-%m-%d").to_string()).or_default()
    }

    /// Average quality score of scored sessions, if any.
    pub fn average_score(&self) -> Option<f64> {
        (self.scored > 0).then(|| self.score_sum as f64 / self.scored as f64)
    }
}

/// The business actor's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Business {
    /// Business id.
    pub id: BusinessId,
    /// Name.
    pub name: String,
    /// Swedish organisationsnummer.
    pub org_number: OrgNumber,
    /// Region nearest to the first location.
    pub home_region: String,
    /// Store locations.
    pub locations: Vec<Location>,
    /// Reward percentages.
    pub policy: RewardPolicy,
    /// Total reward budget.
    pub budget: Ore,
    /// Paid so far; never exceeds `budget`.
    pub paid: Ore,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Analytics.
    pub analytics: Analytics,
}

impl Business {
    /// Budget still available for rewards.
    pub fn remaining(&self) -> Ore {
        self.budget.checked_sub(self.paid).unwrap_or(Ore::ZERO).max(Ore::ZERO)
    }
}

/// How a session ended, as reported to its business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Feedback was scored on a confirmed purchase.
    Scored {
        /// Quality score 0..=100.
        score: u8,
        /// Purchase amount.
        purchase: Ore,
    },
    /// The session expired before completing.
    Expired,
}

/// What the business decided for a session; stored, and returned unchanged on every retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    /// The outcome that was settled.
    pub outcome: Outcome,
    /// Tier, amount paid and cap.
    pub decision: RewardDecision,
}

/// A validated request to create a business (ids and tokens already generated).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewBusiness {
    /// Name.
    pub name: String,
    /// Organisationsnummer.
    pub org_number: OrgNumber,
    /// Locations with ids and tokens.
    pub locations: Vec<Location>,
    /// Region nearest to the first location.
    pub home_region: String,
    /// Reward percentages.
    pub policy: RewardPolicy,
    /// Total budget.
    pub budget: Ore,
}

/// Calls a business actor understands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum BusinessMsg {
    /// Create the business (its id is the actor's).
    Create(NewBusiness),
    /// Read the business.
    Get,
    /// A session of this business opened (idempotent per session).
    SessionOpened {
        /// The session.
        session: SessionId,
        /// When it opened.
        opened_at: DateTime<Utc>,
    },
    /// A session ended; pay its reward if any (idempotent per session).
    Settle {
        /// The session.
        session: SessionId,
        /// When it opened (counts it as opened if that report was lost).
        opened_at: DateTime<Utc>,
        /// How it ended.
        outcome: Outcome,
    },
}

/// Answers of a business actor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum BusinessReply {
    /// The business as it is now.
    Business(Box<Business>),
    /// The opening was recorded (or had been).
    Opened,
    /// The session's settlement (new or earlier).
    Settled(Settlement),
}

/// Envelope of a business call, as delivered to the actix actor.
#[derive(Message)]
#[rtype(result = "Result<BusinessReply, ActorError>")]
pub struct BusinessCall(pub BusinessMsg);

/// One business.
pub struct BusinessActor {
    id: BusinessId,
    key: String,
    env: ActorEnv,
    mailbox_len: usize,
    slot: Slot<Business>,
}

actor_shell!(BusinessActor, BusinessId, Business, BusinessCall, BusinessReply, "business", business_id);

fn opened_key(b: &BusinessId, s: &SessionId) -> String {
    format!("bopen/{b}/{s}")
}

fn settled_key(b: &BusinessId, s: &SessionId) -> String {
    format!("bsettle/{b}/{s}")
}

/// Secondary record mapping a QR token to its business and location.
pub fn qr_key(token: &QrToken) -> String {
    format!("qr/{token}")
}

async fn handle(
    env: &ActorEnv,
    key: &str,
    id: &BusinessId,
    slot: &mut Slot<Business>,
    msg: BusinessMsg,
) -> Result<BusinessReply, ActorError> {
    slot.ensure_active(env, key).await?;
    match msg {
        BusinessMsg::Create(new) => {
            if let Some(existing) = &slot.state {
                return Err(ActorError::Conflict {
                    kind: "business-exists".into(),
                    detail: format!("business {} already exists", existing.id),
                });
            }
            let business = Business {
                id: id.clone(),
                name: new.name,
                org_number: new.org_number,
                home_region: new.home_region,
                locations: new.locations,
                policy: new.policy,
                budget: new.budget,
                paid: Ore::ZERO,
                created_at: env.clock.now(),
                analytics: Analytics::default(),
            };
            let mut writes = Vec::with_capacity(business.locations.len());
            for l in &business.locations {
                writes.push(IndexWrite {
                    key: qr_key(&l.qr_token),
                    value: encode(&(id.clone(), l.id.clone()))?,
                    mode: IndexMode::InsertNew,
                });
            }
            match slot.commit(env, business.clone(), writes, vec![]).await? {
                Persisted::Ok => {
                    tracing::info!(locations = business.locations.len(), "business created");
                    Ok(BusinessReply::Business(Box::new(business)))
                }
                // 256-bit random tokens do not collide; if one does, refuse rather than alias.
                Persisted::IndexTaken { key, .. } => Err(ActorError::Conflict {
                    kind: "qr-token-collision".into(),
                    detail: format!("record {key} already exists; retry"),
                }),
            }
        }
        BusinessMsg::Get => {
            slot.confirm_owner(env, key).await?;
            Ok(BusinessReply::Business(Box::new(current(slot, id)?.clone())))
        }
        BusinessMsg::SessionOpened { session, opened_at } => {
            let okey = opened_key(id, &session);
            if env.cluster.view().index(&okey)?.is_some() {
                return Ok(BusinessReply::Opened);
            }
            let mut next = current(slot, id)?.clone();
            next.analytics.total.opened += 1;
            next.analytics.day(opened_at).opened += 1;
            let w = IndexWrite { key: okey, value: vec![], mode: IndexMode::InsertNew };
            // A concurrent duplicate cannot exist (this actor is the only writer), and an equal
            // value is accepted by the store, so IndexTaken cannot happen here.
            slot.commit(env, next, vec![w], vec![]).await?;
            Ok(BusinessReply::Opened)
        }
        BusinessMsg::Settle { session, opened_at, outcome } => {
            let skey = settled_key(id, &session);
            if let Some(bytes) = env.cluster.view().index(&skey)? {
                return Ok(BusinessReply::Settled(decode(&bytes)?));
            }
            let mut next = current(slot, id)?.clone();
            let now = env.clock.now();
            let mut writes = Vec::with_capacity(2);
            let okey = opened_key(id, &session);
            if env.cluster.view().index(&okey)?.is_none() {
                // The opening report was lost (crash between the session's write and ours).
                next.analytics.total.opened += 1;
                next.analytics.day(opened_at).opened += 1;
                writes.push(IndexWrite { key: okey, value: vec![], mode: IndexMode::InsertNew });
            }
            let decision = match outcome {
                Outcome::Scored { score, purchase } => {
                    let d = compute_reward(&next.policy, score, purchase, next.remaining());
                    next.paid = next
                        .paid
                        .checked_add(d.amount)
                        .ok_or_else(|| ActorError::Internal("paid amount overflow".into()))?;
                    // Guarantee 3: a business never pays beyond its budget.
                    assert!(next.paid <= next.budget, "reward exceeded budget");
                    next.analytics.score_sum += u64::from(score);
                    next.analytics.scored += 1;
                    next.analytics.tiers[tier_index(d.tier)] += 1;
                    let rewarded = d.tier != RewardTier::None;
                    for stats in [&mut next.analytics.total, next.analytics.per_day.entry(day_key(now)).or_default()] {
                        if rewarded {
                            stats.completed += 1;
                        } else {
                            stats.rejected += 1;
                        }
                        stats.rewards_paid = stats.rewards_paid.checked_add(d.amount).unwrap_or(stats.rewards_paid);
                    }
                    d
                }
                Outcome::Expired => {
                    next.analytics.total.expired += 1;
                    next.analytics.day(now).expired += 1;
                    RewardDecision { tier: RewardTier::None, amount: Ore::ZERO, capped_by: None }
                }
            };
            let settlement = Settlement { outcome, decision };
            writes.push(IndexWrite { key: skey, value: encode(&settlement)?, mode: IndexMode::InsertNew });
            match slot.commit(env, next, writes, vec![]).await? {
                Persisted::Ok => {
                    tracing::info!(session_id = %session, reward_ore = decision.amount.as_ore(), "session settled");
                    Ok(BusinessReply::Settled(settlement))
                }
                Persisted::IndexTaken { key, existing } if key.starts_with("bsettle/") => {
                    Ok(BusinessReply::Settled(decode(&existing)?))
                }
                Persisted::IndexTaken { key, .. } => Err(ActorError::Internal(format!("unexpected record {key}"))),
            }
        }
    }
}

fn day_key(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

fn tier_index(t: RewardTier) -> usize {
    match t {
        RewardTier::None => 0,
        RewardTier::Low => 1,
        RewardTier::Mid => 2,
        RewardTier::High => 3,
    }
}

fn current<'a>(slot: &'a Slot<Business>, id: &BusinessId) -> Result<&'a Business, ActorError> {
    slot.state.as_ref().ok_or_else(|| ActorError::NotFound { what: crate::actors::Missing::Business, id: id.to_string() })
}
