//! The business actor: profile, locations, reward budget and analytics of one business.
//!
//! Sessions report to it: `SessionOpened` when a session opens and `Settle` when it ends
//! (feedback scored, or expired). Both are idempotent on the session id through insert-new
//! records written atomically with the business state (`bopen/<b>/<s>`, `bsettle/<b>/<s>`), so a
//! retried settlement never pays twice, and the reward is capped by the remaining budget.
//!
//! `Settle` also applies the abuse limits ([`RewardLimits`], from `[abuse]`), inside the same
//! idempotent, replicated decision: feedback containing most of, or mostly contained in, a text
//! the rubric publishes, one of the business's last texts (`bfp2/<b>/<slot>` fingerprints) or any
//! business's text of the last day (`dfp/<given at>/<session>`), a device past its rewarded sessions for the Swedish day
//! (`bdev/<b>/<device>`), or a business past its daily cap get a reward of 0 and a typed reason
//! ([`Withheld`]) in the settlement. The counters and fingerprints are written with the same
//! commit as the business state, so a retry sees them and returns the stored settlement.

use std::collections::BTreeMap;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use svea_config::Region;
use svea_storage::IndexMode;
use tracing::Instrument;

use super::cell::{Persisted, Slot};
use super::keys::{
    DeviceDayRecord, FingerprintRecord, Index, OpenedRecord, OrgRecord, PosAccountRecord, PosEventRecord, PosModeRecord, PosPurchaseRecord, QrRecord,
    QrTarget, SettledRecord, DayFingerprintRecord, TextStamp,
};
use super::{ActorEnv, ActorError, ConflictKind, Missing, Op};
use crate::core::remote::RemoteCall;
use crate::domain::pos::{Delivery, PosError, PosIntegration, Provider, PurchaseVerification};
use crate::domain::{
    compute_reward, swedish_day_key, BusinessId, Cap, DeviceHash, Fingerprint, KeyHash, LocationId, OrgNumber,
    Ore, QrToken, RewardDecision, RewardPolicy, RewardTier, SessionId, TransactionId,
};
use crate::domain::similarity::{DuplicateRule, Shingles};

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

/// Counters of one Swedish day (Europe/Stockholm).
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
    /// Sum of the quality scores of sessions scored that day.
    pub score_sum: u64,
    /// Sessions scored that day.
    pub scored: u64,
    /// Sessions scored that day per reward tier: none, low, mid, high.
    pub tiers: [u64; 4],
}

impl DayStats {
    /// Average quality score of the sessions scored that day, if any.
    pub fn average_score(&self) -> Option<f64> {
        (self.scored > 0).then(|| self.score_sum as f64 / self.scored as f64)
    }
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
    /// Per Swedish day (Europe/Stockholm, summer time included), keyed `YYYY-MM-DD`.
    pub per_day: BTreeMap<String, DayStats>,
}

impl Analytics {
    /// The counters of the Swedish day of `at`.
    fn day(&mut self, at: DateTime<Utc>) -> &mut DayStats {
        self.per_day.entry(swedish_day_key(at)).or_default()
    }

    /// Average quality score of scored sessions, if any.
    pub fn average_score(&self) -> Option<f64> {
        (self.scored > 0).then(|| self.score_sum as f64 / self.scored as f64)
    }
}

/// One Swedish day of a business's charts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayPoint {
    /// The day (Europe/Stockholm).
    pub day: chrono::NaiveDate,
    /// Its counters (zero for a day without sessions).
    pub stats: DayStats,
    /// Budget left at the end of the day.
    pub budget_left: Ore,
}

impl Business {
    /// The `days` Swedish days ending with `last` (oldest first), every day present: a chart's
    /// series. The budget left at the end of a day is what is left now plus what was paid after it.
    pub fn daily_series(&self, last: chrono::NaiveDate, days: u32) -> Vec<DayPoint> {
        let per_day = &self.analytics.per_day;
        let mut out = Vec::with_capacity(usize::try_from(days).unwrap_or(0));
        let mut paid_after = Ore::ZERO;
        // Paid on days after `last` (none unless `last` is in the past).
        let last_key = last.format("%Y-%m-%d").to_string();
        for (_, d) in per_day.range::<String, _>((std::ops::Bound::Excluded(&last_key), std::ops::Bound::Unbounded)) {
            paid_after = paid_after.checked_add(d.rewards_paid).unwrap_or(paid_after);
        }
        let mut day = last;
        for _ in 0..days {
            let stats = per_day.get(&day.format("%Y-%m-%d").to_string()).cloned().unwrap_or_default();
            let budget_left = self.remaining().checked_add(paid_after).unwrap_or(self.budget).min(self.budget);
            paid_after = paid_after.checked_add(stats.rewards_paid).unwrap_or(paid_after);
            out.push(DayPoint { day, stats, budget_left });
            match day.pred_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
        out.reverse();
        out
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
    pub home_region: Region,
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
    /// SHA-256 of the business's API key (the key itself is never stored).
    pub key_hash: KeyHash,
    /// When the key was issued or last rotated.
    pub key_issued_at: DateTime<Utc>,
    /// How customers prove their purchase.
    pub purchase_verification: PurchaseVerification,
    /// Till registrations, at most one per provider (secrets inside: never answer them).
    pub pos: BTreeMap<Provider, PosIntegration>,
    /// Purchases the till reported.
    pub pos_purchases: u64,
    /// Cashback paid on the latest Swedish day with a reward (the daily cap's counter).
    pub paid_today: DayPaid,
    /// Feedback fingerprints recorded so far; the next goes to ring slot
    /// `fingerprints_recorded % kept` (`FingerprintRecord`).
    pub fingerprints_recorded: u64,
    /// Fingerprints this business added to every business's record of the last day
    /// (`DayFingerprintRecord`) on its latest Swedish day with one: at most
    /// `abuse.day_fingerprints_per_business_max` a day.
    pub day_fingerprints: DayCount,
}

/// A count on one Swedish day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCount {
    /// The day, `YYYY-MM-DD` in Europe/Stockholm (`domain::day`); empty before the first.
    pub day: String,
    /// The count that day.
    pub count: u32,
}

/// Cashback paid on one Swedish day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayPaid {
    /// The day, `YYYY-MM-DD` in Europe/Stockholm (`domain::day`); empty before the first reward.
    pub day: String,
    /// Paid that day.
    pub paid: Ore,
}

/// The abuse limits a business applies when it settles (`[abuse]` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RewardLimits {
    /// Rewarded sessions per device, business and Swedish day.
    pub per_device_day: u32,
    /// Cashback a business pays at most per Swedish day.
    pub business_daily_cap: Ore,
    /// When feedback counts as a near-duplicate of an earlier text.
    pub duplicates: DuplicateRule,
    /// Fingerprints kept per business (ring slots).
    pub fingerprints_kept: u32,
    /// Fingerprints of every business's last day read per settlement, at most (oldest first).
    pub day_fingerprints_scan_max: u32,
    /// Fingerprints one business adds to the last day's record per Swedish day, at most.
    pub day_fingerprints_per_business_max: u32,
}

impl RewardLimits {
    /// The limits `[abuse]` configures.
    pub fn from_config(c: &svea_config::AbuseConfig) -> RewardLimits {
        RewardLimits {
            per_device_day: c.rewarded_sessions_per_device_day,
            business_daily_cap: Ore::from_ore(c.business_daily_reward_cap_ore),
            duplicates: DuplicateRule { containment_percent: c.duplicate_containment_percent, similarity_percent: c.duplicate_similarity_percent },
            fingerprints_kept: c.feedback_fingerprints_kept,
            day_fingerprints_scan_max: c.day_fingerprints_scan_max,
            day_fingerprints_per_business_max: c.day_fingerprints_per_business_max,
        }
    }
}

/// Why feedback in a reward tier was paid nothing (the session is still `rewarded`, with 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Withheld {
    /// The text repeats, nearly repeats, contains or is contained in earlier feedback at this
    /// business, any business's feedback of the last day, or a text the rubric publishes.
    DuplicateFeedback,
    /// The device had its rewarded sessions at this business for the day already.
    DeviceDailyLimit,
    /// The business paid its daily reward cap already.
    BusinessDailyCap,
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
    /// Why nothing was paid for feedback in a reward tier, if an abuse limit said so.
    pub withheld: Option<Withheld>,
}

/// Creates the business (its id is the actor's): validated, ids and tokens already generated.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewBusiness {
    /// Name.
    pub name: String,
    /// Organisationsnummer.
    pub org_number: OrgNumber,
    /// Locations with ids and tokens.
    pub locations: Vec<Location>,
    /// Region nearest to the first location.
    pub home_region: Region,
    /// Reward percentages.
    pub policy: RewardPolicy,
    /// Total budget.
    pub budget: Ore,
    /// Hash of the API key handed to the creator.
    pub key_hash: KeyHash,
    /// How customers prove their purchase.
    pub purchase_verification: PurchaseVerification,
}

/// Reads the business.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GetBusiness;

/// Replaces the business's API key if `presented` is still its key (checked inside the actor, so
/// a key rotated away a moment ago cannot rotate again): the old key stops working when this
/// commits. Answers `None`, changing nothing, when `presented` is not the current key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RotateKey {
    /// Hash of the key the caller presented.
    pub presented: KeyHash,
    /// Hash of the new key.
    pub key_hash: KeyHash,
}

/// A session of this business opened (idempotent per session).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionOpened {
    /// The session.
    pub session: SessionId,
    /// When it opened.
    pub opened_at: DateTime<Utc>,
}

/// A session ended; pay its reward if any (idempotent per session: a retry gets the stored
/// settlement back).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settle {
    /// The session.
    pub session: SessionId,
    /// When it opened (counts it as opened if that report was lost).
    pub opened_at: DateTime<Utc>,
    /// How it ended.
    pub outcome: Outcome,
    /// The session's device, as its keyed hash (per-device daily limit); `None` once the
    /// customer erased the link.
    pub device: Option<DeviceHash>,
    /// The feedback text's shingles and when it was given, for a scored outcome (duplicate
    /// check); `None` when the text is gone (erased or redacted before the settlement).
    pub fingerprint: Option<TextPrint>,
}

/// What a business needs of a feedback text to judge it a near-duplicate and to record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextPrint {
    /// Every shingle of the text.
    pub shingles: Shingles,
    /// When it was given (the key of its record in the last day's fingerprints, so the session
    /// can delete it with its text).
    pub given_at: DateTime<Utc>,
}

/// The operations a business actor serves.
pub trait BusinessOp: Op<Actor = BusinessActor> {
    /// Runs the operation on the activated actor.
    #[allow(async_fn_in_trait)]
    async fn run(self, env: &ActorEnv, key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<Self::Reply, ActorError>;
}

/// One business.
pub struct BusinessActor {
    id: BusinessId,
    key: String,
    env: ActorEnv,
    mailbox_len: usize,
    slot: Slot<Business>,
}

actor_shell!(BusinessActor, BusinessId, Business, "business", business_id, BusinessOp);

impl Op for NewBusiness {
    type Actor = BusinessActor;
    type Reply = Business;
    const CREATES: bool = true;
    fn home_region(&self) -> Option<&Region> {
        Some(&self.home_region)
    }
    fn remote(self, id: BusinessId) -> RemoteCall {
        RemoteCall::CreateBusiness(id, self)
    }
}

op!(BusinessActor, BusinessId: GetBusiness -> Business);
op!(BusinessActor, BusinessId: RotateKey -> Option<Business>);
op!(BusinessActor, BusinessId: SessionOpened -> ());
op!(BusinessActor, BusinessId: Settle -> Settlement);
op!(BusinessActor, BusinessId: SetVerification -> Business);
op!(BusinessActor, BusinessId: RegisterPos -> Result<Business, PosError>);
op!(BusinessActor, BusinessId: RecordPurchase -> Result<Recorded, PosError>);

/// Sets how the business's customers prove their purchase.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetVerification(pub PurchaseVerification);

/// Registers (or replaces) the business's integration with one till system.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterPos(pub PosIntegration);

/// A till delivery for this business (its account's record named it): verify it with the
/// registration's secret, refuse it if its signed time is further than `tolerance_ms` from now,
/// and record its purchase once (idempotent on the provider's event id).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordPurchase {
    /// The delivery as parsed, untrusted.
    pub delivery: Delivery,
    /// `pos.timestamp_tolerance_ms`.
    pub tolerance_ms: u64,
}

/// What recording a delivery did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Recorded {
    /// The purchase is recorded now, at this location under this receipt id.
    New(LocationId, TransactionId),
    /// Nothing new: the event (or the receipt) was recorded before, or the event reports no purchase.
    Nothing,
}

impl BusinessOp for NewBusiness {
    async fn run(self, env: &ActorEnv, _key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<Business, ActorError> {
        if let Some(existing) = &slot.state {
            return Err(ActorError::conflict(ConflictKind::BusinessExists, format!("business {} already exists", existing.id)));
        }
        let now = env.clock.now();
        let business = Business {
            id: id.clone(),
            name: self.name,
            org_number: self.org_number,
            home_region: self.home_region,
            locations: self.locations,
            policy: self.policy,
            budget: self.budget,
            paid: Ore::ZERO,
            created_at: now,
            analytics: Analytics::default(),
            paid_today: DayPaid::default(),
            fingerprints_recorded: 0,
            day_fingerprints: DayCount::default(),
            key_hash: self.key_hash,
            key_issued_at: now,
            purchase_verification: self.purchase_verification,
            pos: BTreeMap::new(),
            pos_purchases: 0,
        };
        let org = OrgRecord { org: business.org_number.clone() };
        let mut writes = Vec::with_capacity(business.locations.len() + 2);
        // An organisation number registers once: the record is written with the business, so
        // of two concurrent creations with one number exactly one commits.
        writes.push(org.write(id, IndexMode::InsertNew)?);
        writes.push(PosModeRecord { business: id.clone() }.write(&business.purchase_verification, IndexMode::Upsert)?);
        for l in &business.locations {
            let target = QrTarget { business: id.clone(), location: l.id.clone(), business_name: business.name.clone(), location_name: l.name.clone() };
            writes.push(QrRecord { token: l.qr_token.clone() }.write(&target, IndexMode::InsertNew)?);
        }
        match slot.commit(env, business.clone(), writes, vec![]).await? {
            Persisted::Ok => {
                tracing::info!(locations = business.locations.len(), "business created");
                Ok(business)
            }
            Persisted::IndexTaken { key, .. } if key == org.key() => Err(ActorError::conflict(
                ConflictKind::OrgNumberRegistered,
                format!("organisation number {} is already registered", business.org_number),
            )),
            // 256-bit random tokens do not collide; if one does, refuse rather than alias.
            Persisted::IndexTaken { key, .. } => {
                Err(ActorError::conflict(ConflictKind::QrTokenCollision, format!("record {key} already exists; retry")))
            }
        }
    }
}

impl BusinessOp for GetBusiness {
    async fn run(self, env: &ActorEnv, key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<Business, ActorError> {
        slot.confirm_owner(env, key).await?;
        Ok(current(slot, id)?.clone())
    }
}

impl BusinessOp for RotateKey {
    async fn run(self, env: &ActorEnv, _key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<Option<Business>, ActorError> {
        let mut next = current(slot, id)?.clone();
        if !next.key_hash.same_as(&self.presented) {
            return Ok(None);
        }
        next.key_hash = self.key_hash;
        next.key_issued_at = env.clock.now();
        slot.commit(env, next.clone(), vec![], vec![]).await?;
        tracing::info!("api key rotated");
        Ok(Some(next))
    }
}

impl BusinessOp for SessionOpened {
    async fn run(self, env: &ActorEnv, _key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<(), ActorError> {
        let opened = OpenedRecord { business: id.clone(), session: self.session };
        if opened.exists(env.cluster.view())? {
            return Ok(());
        }
        let mut next = current(slot, id)?.clone();
        next.analytics.total.opened += 1;
        next.analytics.day(self.opened_at).opened += 1;
        // A concurrent duplicate cannot exist (this actor is the only writer), and an equal
        // value is accepted by the store, so IndexTaken cannot happen here.
        slot.commit(env, next, vec![opened.write(&(), IndexMode::InsertNew)?], vec![]).await?;
        Ok(())
    }
}

impl BusinessOp for Settle {
    async fn run(self, env: &ActorEnv, _key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<Settlement, ActorError> {
        let Settle { session, opened_at, outcome, device, fingerprint } = self;
        let settled = SettledRecord { business: id.clone(), session: session.clone() };
        if let Some(s) = settled.read(env.cluster.view())? {
            return Ok(s);
        }
        let mut next = current(slot, id)?.clone();
        let now = env.clock.now();
        let mut writes = Vec::with_capacity(4);
        let mut withheld = None;
        let opened = OpenedRecord { business: id.clone(), session: session.clone() };
        if !opened.exists(env.cluster.view())? {
            // The opening report was lost (crash between the session's write and ours).
            next.analytics.total.opened += 1;
            next.analytics.day(opened_at).opened += 1;
            writes.push(opened.write(&(), IndexMode::InsertNew)?);
        }
        let decision = match outcome {
            Outcome::Scored { score, purchase } => {
                let mut d = compute_reward(&next.policy, score, purchase, next.remaining());
                if d.tier != RewardTier::None {
                    let limited = apply_limits(env, id, &session, &mut next, now, device.as_ref(), fingerprint.as_ref(), &mut d)?;
                    withheld = limited.withheld;
                    writes.extend(limited.writes);
                }
                next.paid = next.paid.checked_add(d.amount).ok_or_else(|| ActorError::Internal("paid amount overflow".into()))?;
                // Guarantee 3: a business never pays beyond its budget.
                assert!(next.paid <= next.budget, "reward exceeded budget");
                next.analytics.score_sum += u64::from(score);
                next.analytics.scored += 1;
                next.analytics.tiers[tier_index(d.tier)] += 1;
                let rewarded = d.tier != RewardTier::None;
                for stats in [&mut next.analytics.total, next.analytics.per_day.entry(swedish_day_key(now)).or_default()] {
                    if rewarded {
                        stats.completed += 1;
                    } else {
                        stats.rejected += 1;
                    }
                    stats.rewards_paid = stats.rewards_paid.checked_add(d.amount).unwrap_or(stats.rewards_paid);
                    stats.score_sum += u64::from(score);
                    stats.scored += 1;
                    stats.tiers[tier_index(d.tier)] += 1;
                }
                d
            }
            Outcome::Expired => {
                next.analytics.total.expired += 1;
                next.analytics.day(now).expired += 1;
                RewardDecision { tier: RewardTier::None, amount: Ore::ZERO, capped_by: None }
            }
        };
        let settlement = Settlement { outcome, decision, withheld };
        let counted = (settlement_outcome(&settlement), budget_left_ratio(&next));
        // Planted bug (simulations only; a constant false in a shipped build): no idempotency record.
        if !svea_storage::planted::settle_without_record() {
            writes.push(settled.write(&settlement, IndexMode::InsertNew)?);
        }
        match slot.commit(env, next, writes, vec![]).await? {
            Persisted::Ok => {
                tracing::info!(session_id = %session, reward_ore = decision.amount.as_ore(), withheld = ?withheld, "session settled");
                let paid = u64::try_from(decision.amount.as_ore()).unwrap_or(0);
                env.metrics.session_settled(id.as_str(), counted.0, paid, counted.1);
                Ok(settlement)
            }
            Persisted::IndexTaken { key, existing } if key == settled.key() => settled.decode(&existing),
            Persisted::IndexTaken { key, .. } => Err(ActorError::Internal(format!("record {key} exists with another value"))),
        }
    }
}

/// The `outcome` label of `svea_sessions_total` (one of `telemetry::SESSION_OUTCOMES`).
fn settlement_outcome(s: &Settlement) -> &'static str {
    match (s.outcome, s.withheld.is_some(), s.decision.tier) {
        (Outcome::Expired, _, _) => "expired",
        (_, true, _) => "withheld",
        (_, false, RewardTier::None) => "not_rewarded",
        _ => "rewarded",
    }
}

/// The budget a business has left, as a share of its budget (1 for a zero budget: nothing of
/// it is spent).
fn budget_left_ratio(b: &Business) -> f64 {
    let budget = b.budget.as_ore();
    if budget <= 0 {
        return 1.0;
    }
    b.remaining().as_ore() as f64 / budget as f64
}

impl BusinessOp for SetVerification {
    async fn run(self, env: &ActorEnv, _key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<Business, ActorError> {
        let mut next = current(slot, id)?.clone();
        next.purchase_verification = self.0;
        let mode = PosModeRecord { business: id.clone() }.write(&self.0, IndexMode::Upsert)?;
        slot.commit(env, next.clone(), vec![mode], vec![]).await?;
        tracing::info!(purchase_verification = self.0.as_str(), "purchase verification set");
        Ok(next)
    }
}

impl BusinessOp for RegisterPos {
    async fn run(self, env: &ActorEnv, _key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<Result<Business, PosError>, ActorError> {
        let integration = self.0;
        let mut next = current(slot, id)?.clone();
        let known = |l: &LocationId| next.locations.iter().any(|x| &x.id == l);
        if let Some(l) = integration.locations.values().chain(integration.default_location.iter()).find(|l| !known(l)) {
            return Ok(Err(PosError::Invalid(format!("location {l} is not a location of this business"))));
        }
        let provider = integration.provider;
        let record = PosAccountRecord { provider, account: integration.account.clone() };
        let mut deletes = Vec::new();
        if let Some(old) = next.pos.get(&provider).filter(|old| old.account != integration.account) {
            deletes.push(PosAccountRecord { provider, account: old.account.clone() }.key());
        }
        next.pos.insert(provider, integration);
        // Insert-new: an equal value (this business again) is accepted, another business's is not.
        match slot.commit(env, next.clone(), vec![record.write(id, IndexMode::InsertNew)?], deletes).await? {
            Persisted::Ok => {
                tracing::info!(provider = provider.as_str(), "till registered");
                Ok(Ok(next))
            }
            Persisted::IndexTaken { .. } => Ok(Err(PosError::AccountTaken(record.account.to_string()))),
        }
    }
}

impl BusinessOp for RecordPurchase {
    async fn run(self, env: &ActorEnv, _key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<Result<Recorded, PosError>, ActorError> {
        let d = self.delivery;
        let business = current(slot, id)?;
        // Verified before anything else is believed; an unknown or foreign account fails here too.
        if !business.pos.get(&d.provider).is_some_and(|i| d.verify(i)) {
            return Ok(Err(PosError::BadSignature));
        }
        if let Err(e) = d.check_fresh(env.clock.now(), std::time::Duration::from_millis(self.tolerance_ms)) {
            return Ok(Err(e));
        }
        let event = PosEventRecord { provider: d.provider, event: d.event_id.clone() };
        if event.exists(env.cluster.view())? {
            return Ok(Ok(Recorded::Nothing));
        }
        let Some(purchase) = d.purchase else { return Ok(Ok(Recorded::Nothing)) };
        let Some(integration) = business.pos.get(&d.provider) else { return Ok(Err(PosError::BadSignature)) };
        let locations: Vec<LocationId> = business.locations.iter().map(|l| l.id.clone()).collect();
        let location = match integration.location_for(purchase.till_location.as_ref(), &locations) {
            Ok(l) => l,
            Err(e) => return Ok(Err(e)),
        };
        let record = PosPurchaseRecord { location: location.clone(), receipt: purchase.receipt.clone() };
        if record.exists(env.cluster.view())? {
            // Another event about the same receipt (e.g. Shopify's orders/create, then orders/paid).
            return Ok(Ok(Recorded::Nothing));
        }
        let mut next = business.clone();
        next.pos_purchases = next.pos_purchases.saturating_add(1);
        let writes = vec![
            event.write(&(location.clone(), purchase.receipt.clone()), IndexMode::InsertNew)?,
            record.write(&purchase, IndexMode::InsertNew)?,
        ];
        match slot.commit(env, next, writes, vec![]).await? {
            Persisted::Ok => {
                tracing::info!(provider = d.provider.as_str(), location_id = %location, amount_ore = purchase.amount.as_ore(), "till purchase recorded");
                Ok(Ok(Recorded::New(location, purchase.receipt)))
            }
            // This actor is the only writer of both records; an equal retry is accepted.
            Persisted::IndexTaken { .. } => Ok(Ok(Recorded::Nothing)),
        }
    }
}

/// What the abuse limits decided for one reward: the reason it was withheld, if it was, and the
/// records to commit with the business state.
struct Limited {
    withheld: Option<Withheld>,
    writes: Vec<svea_storage::IndexWrite>,
}

/// Applies [`RewardLimits`] to `d`, a reward in a tier: a duplicate text, a device past its
/// rewarded sessions for the day or a business past its daily cap pays 0; otherwise the daily cap
/// may shorten it. Updates `next`'s day counter and fingerprint ring position and returns the
/// records that go with them. Reads only this business's own records, current on its owner.
#[allow(clippy::too_many_arguments)]
fn apply_limits(
    env: &ActorEnv,
    id: &BusinessId,
    session: &SessionId,
    next: &mut Business,
    now: DateTime<Utc>,
    device: Option<&DeviceHash>,
    fingerprint: Option<&TextPrint>,
    d: &mut RewardDecision,
) -> Result<Limited, ActorError> {
    // A reward whose text or device link the customer erased before it was settled cannot be
    // checked against the limits, so it is not paid: erasing must not be a way around them.
    let (Some(device), Some(fingerprint)) = (device, fingerprint) else {
        d.amount = Ore::ZERO;
        d.capped_by = None;
        let why = if device.is_none() { Withheld::DeviceDailyLimit } else { Withheld::DuplicateFeedback };
        return Ok(Limited { withheld: Some(why), writes: Vec::new() });
    };
    let limits = &env.limits;
    let view = env.cluster.view();
    let mut writes = Vec::with_capacity(3);
    let day = swedish_day_key(now);
    let duplicate = is_duplicate(env, id, next, &fingerprint.shingles, now)?;
    if !duplicate {
        let fp = fingerprint.shingles.fingerprint();
        let kept = u64::from(limits.fingerprints_kept.max(1));
        let slot = (next.fingerprints_recorded % kept).to_string();
        writes.push(FingerprintRecord { business: id.clone(), slot }.write(&fp, IndexMode::Upsert)?);
        next.fingerprints_recorded += 1;
        // Every business's last day: bounded per business and day, so one business cannot fill it.
        if next.day_fingerprints.day != day {
            next.day_fingerprints = DayCount { day: day.clone(), count: 0 };
        }
        if next.day_fingerprints.count < limits.day_fingerprints_per_business_max {
            let record = DayFingerprintRecord { at: TextStamp::at(fingerprint.given_at), session: session.clone() };
            writes.push(record.write(&(id.clone(), fp), IndexMode::Upsert)?);
            next.day_fingerprints.count += 1;
        }
    }
    let device_day = DeviceDayRecord { business: id.clone(), device: device.clone() };
    let rewarded_today = match device_day.read(view)? {
        Some((d, n)) if d == day => n,
        _ => 0,
    };
    let paid_today = if next.paid_today.day == day { next.paid_today.paid } else { Ore::ZERO };
    let cap_left = limits.business_daily_cap.checked_sub(paid_today).unwrap_or(Ore::ZERO).max(Ore::ZERO);
    let withheld = if duplicate {
        Some(Withheld::DuplicateFeedback)
    } else if rewarded_today >= limits.per_device_day {
        Some(Withheld::DeviceDailyLimit)
    } else if cap_left == Ore::ZERO {
        Some(Withheld::BusinessDailyCap)
    } else {
        if d.amount > cap_left {
            d.amount = cap_left;
            d.capped_by = Some(Cap::BusinessDailyCap);
        }
        None
    };
    if withheld.is_some() {
        d.amount = Ore::ZERO;
        d.capped_by = None;
    }
    if d.amount > Ore::ZERO {
        writes.push(device_day.write(&(day.clone(), rewarded_today.saturating_add(1)), IndexMode::Upsert)?);
        let paid = paid_today.checked_add(d.amount).ok_or_else(|| ActorError::Internal("daily paid amount overflow".into()))?;
        // The cap holds for every day, whatever the retries: it is decided here only.
        assert!(paid <= limits.business_daily_cap, "reward exceeded the daily cap");
        next.paid_today = DayPaid { day, paid };
    }
    Ok(Limited { withheld, writes })
}

/// Whether the new text (`new`, all its shingles) is a near-duplicate ([`DuplicateRule`]) of a
/// text the rubric publishes, of one of the business's recorded texts, or of any business's text
/// of the last day (the oldest `day_fingerprints_scan_max` of them). The last day's records of
/// other businesses are read as this node has applied them: one written a moment ago through
/// another node may be missed, which costs an attacker a race per copy, not a way around.
fn is_duplicate(env: &ActorEnv, id: &BusinessId, b: &Business, new: &Shingles, now: DateTime<Utc>) -> Result<bool, ActorError> {
    let rule = env.limits.duplicates;
    if crate::domain::scoring::PUBLISHED_EXAMPLES.iter().any(|example| rule.judges(&Fingerprint::of(example), new)) {
        return Ok(true);
    }
    let view = env.cluster.view();
    let recorded = b.fingerprints_recorded.min(u64::from(env.limits.fingerprints_kept.max(1)));
    for slot in 0..recorded {
        let record = FingerprintRecord { business: id.clone(), slot: slot.to_string() };
        // A record this version cannot read (none today) compares as unlike.
        if let Ok(Some(earlier)) = record.read(view) {
            if rule.judges(&earlier, new) {
                return Ok(true);
            }
        }
    }
    let since = TextStamp::at(now - chrono::Duration::hours(DAY_FINGERPRINTS_HOURS));
    let first = format!("{}{}", DayFingerprintRecord::PREFIX, since.as_str());
    let limit = usize::try_from(env.limits.day_fingerprints_scan_max).unwrap_or(usize::MAX);
    for (key, bytes) in view.scan_index_after(DayFingerprintRecord::PREFIX, Some(&first), limit)? {
        let Some(record) = DayFingerprintRecord::parse_key(&key) else { continue };
        if let Ok((_, earlier)) = record.decode(&bytes) {
            if rule.judges(&earlier, new) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Hours a text stays in every business's record of the last day (the sweeper purges it after).
pub const DAY_FINGERPRINTS_HOURS: i64 = 24;

fn tier_index(t: RewardTier) -> usize {
    match t {
        RewardTier::None => 0,
        RewardTier::Low => 1,
        RewardTier::Mid => 2,
        RewardTier::High => 3,
    }
}

fn current<'a>(slot: &'a Slot<Business>, id: &BusinessId) -> Result<&'a Business, ActorError> {
    slot.state.as_ref().ok_or_else(|| ActorError::NotFound { what: Missing::Business, id: id.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::day::tests::utc;

    #[test]
    fn daily_series_fills_every_day_and_tracks_the_budget_left() {
        let mut a = Analytics::default();
        let paid = |ore| DayStats { rewards_paid: Ore::from_ore(ore), ..DayStats::default() };
        a.per_day.insert("2026-05-01".into(), paid(300));
        a.per_day.insert("2026-05-03".into(), paid(200));
        a.per_day.insert("2026-05-05".into(), paid(100));
        let b = Business {
            id: BusinessId::random(),
            name: "Kafé".into(),
            org_number: "556036-0793".parse().expect("org"),
            home_region: "stockholm".parse().expect("region"),
            locations: Vec::new(),
            policy: RewardPolicy::default(),
            budget: Ore::from_ore(10_000),
            paid: Ore::from_ore(600),
            created_at: Utc::now(),
            analytics: a,
            key_hash: crate::domain::ApiKey::random(&BusinessId::random()).hash(),
            key_issued_at: Utc::now(),
            purchase_verification: PurchaseVerification::default(),
            pos: BTreeMap::new(),
            pos_purchases: 0,
            paid_today: DayPaid::default(),
            fingerprints_recorded: 0,
            day_fingerprints: DayCount::default(),
        };
        let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("day");
        let series = b.daily_series(day("2026-05-04"), 4);
        let days: Vec<String> = series.iter().map(|p| p.day.to_string()).collect();
        assert_eq!(days, ["2026-05-01", "2026-05-02", "2026-05-03", "2026-05-04"]);
        let left: Vec<i64> = series.iter().map(|p| p.budget_left.as_ore()).collect();
        // 10 000 - 300 after the 1st, - 200 after the 3rd; the 5th (after the window) is not yet paid.
        assert_eq!(left, [9_700, 9_700, 9_500, 9_500]);
        assert_eq!(series[1].stats, DayStats::default());
    }

    #[test]
    fn analytics_count_sessions_on_their_swedish_day() {
        let mut a = Analytics::default();
        a.day(utc("2026-03-31T23:30:00Z")).opened += 1; // 01:30 CEST on 1 April
        a.day(utc("2026-01-15T23:30:00Z")).opened += 1; // 00:30 CET on 16 January
        a.day(utc("2026-10-25T22:30:00Z")).opened += 1; // 23:30 CET on 25 October, after the change
        a.day(utc("2026-10-24T21:30:00Z")).opened += 1; // 23:30 CEST on 24 October
        let days: Vec<&str> = a.per_day.keys().map(String::as_str).collect();
        assert_eq!(days, ["2026-01-16", "2026-04-01", "2026-10-24", "2026-10-25"]);
    }
}
