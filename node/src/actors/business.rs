//! The business actor: profile, locations, reward budget and analytics of one business.
//!
//! Sessions report to it: `SessionOpened` when a session opens (off the customer's path) and
//! `Settle` when it ends (feedback scored, or expired; written in one atomic command with the
//! session's settled state, see `actors::session`). Both are idempotent on the session id through insert-new
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
//!
//! Issue 20 adds: rewards per client network and Swedish day (`bnet/<b>/<network>`), and the
//! hourly brake ([`crate::domain::brake`]): past it a reward is held as `pending_review`
//! (`bheld/<b>/<s>`, not paid) until the business releases it ([`ReviewHeld`]: paid then, budget
//! and daily cap checked again) or refuses it (settled at 0). Each business also keeps the
//! ceiling of a purchase its customers may declare without the till (`bdeclmax/<b>`).

use std::collections::BTreeMap;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use svea_config::Region;
use svea_storage::IndexMode;
use tracing::Instrument;

use super::cell::{Persisted, Slot};
use super::keys::{
    DayFingerprintRecord, DeclaredMaxRecord, DeviceDayRecord, FingerprintRecord, HeldRecord, HeldReward, Index, NetworkDayRecord, OpenedRecord,
    PosClaimRecord, PosEventRecord, PosLockRecord, PosModeRecord, PosPurchaseRecord, PosRefRecord, PosRefundRecord,
    PosTryRecord, QrRecord, QrRetiredRecord, EmailRecord, LinkGrant, LinkRecord, QrTarget, RefundRecorded, ReversalRecord, SettledRecord, TextStamp, TrySlot,
    CheckoutRecord, EntryRecord, FundedRecord, OutboxRecord, PaidTopUp, TopUpRecord, Transfer,
};
use crate::domain::ledger::{Account, Book, Entry, EntryId, EntryKind, ExternalRef, Funds};
use super::{ActorEnv, ActorError, ConflictKind, Missing, Op};
use super::remote::RemoteCall;
use crate::domain::pos::{Delivery, PosError, PosIntegration, Provider, PurchaseVerification};
use crate::domain::{
    compute_reward, swedish_day_key, Brake, BusinessId, Cap, DeviceHash, Fingerprint, HourlyRewards, KeyHash, LocationId,
    NetworkHash, OrgNumber, Ore, QrToken, RewardDecision, RewardPolicy, RewardTier, SessionId, TransactionId,
};
use crate::domain::similarity::{DuplicateRule, Shingles};
use crate::domain::signin::{Email, LinkPurpose, TokenHash};

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
    /// Street address as the business gave it (may be empty).
    pub address: String,
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
            let budget_left = self.remaining().checked_add(paid_after).unwrap_or(self.remaining());
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
    /// The business's ledger account (`business:<id>`): its postings so far and the running
    /// totals its latest posting stamped (written in the same command as that posting; the
    /// postings under `lacct/business:<id>/` are the record). Funded, refunded, rewarded and
    /// available all follow from it ([`Business::funds`]); nothing else stores money.
    pub book: Book,
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
    /// Rewards paid per hour over the last week: the hourly brake's counts (a fixed ring).
    pub hourly_rewards: HourlyRewards,
    /// Rewards the brake holds for the business's review now (`HeldRecord`s).
    pub held_pending: u32,
    /// Highest purchase a customer may declare here while purchases are self-declared
    /// (`abuse.declared_amount_max_sek` when the business was created; its own setting since).
    pub declared_amount_max: Ore,
    /// Fingerprints this business added to every business's record of the last day
    /// (`DayFingerprintRecord`) on its latest Swedish day with one: at most
    /// `abuse.day_fingerprints_per_business_max` a day.
    pub day_fingerprints: DayCount,
    /// The most cashback this business pays on one Swedish day, its own choice below the
    /// cluster's cap (`abuse.business_daily_reward_cap_sek`); `None`: that cap
    /// ([`Business::daily_cap`]).
    pub daily_budget: Option<Ore>,
    /// The contact e-mail given at sign-up: where the verification and sign-in links go
    /// (`None` for a business created through the API without one).
    pub contact_email: Option<Email>,
    /// Whether a link mailed to `contact_email` was followed (the address, and with it the
    /// organisation number claim, is confirmed).
    pub email_verified: bool,
    /// Dashboard sessions begun before this instant (Unix milliseconds) are over: "sign out
    /// everywhere".
    pub sessions_not_before_ms: i64,
    /// API keys the business created from its dashboard for tills and scripts, beside
    /// `key_hash` (at most [`EXTRA_KEYS_MAX`]); each works like it until revoked.
    pub extra_keys: Vec<ExtraKey>,
}

/// Most API keys a business may create beside its first one.
pub const EXTRA_KEYS_MAX: usize = 10;

/// An API key created from the dashboard: its hash, the start of the key people recognise it by
/// (`svea_sk_<business>_` and four characters of the secret) and when it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtraKey {
    /// SHA-256 of the key.
    pub hash: KeyHash,
    /// The key's first characters (shown in the dashboard's list; revoke names it).
    pub prefix: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl Business {
    /// Whether `key` is one of the business's keys now (the first one or a created one), each
    /// compared in constant time.
    pub fn has_key(&self, key: &crate::domain::ApiKey) -> bool {
        let extra = self.extra_keys.iter().fold(false, |any, k| any | k.hash.matches(key));
        self.key_hash.matches(key) | extra
    }
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
    /// Rewarded sessions per client network, business and Swedish day.
    pub per_network_day: u32,
    /// The hourly brake.
    pub brake: Brake,
    /// Ceiling of a self-declared purchase of a business created now (and of one that has no
    /// `DeclaredMaxRecord`).
    pub declared_amount_max: Ore,
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
            per_network_day: c.rewarded_sessions_per_network_day,
            brake: Brake { factor: c.brake_factor, floor_per_hour: c.brake_floor_per_hour },
            declared_amount_max: Ore::from_ore(c.declared_amount_max_ore),
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
    /// The client network had its rewarded sessions at this business for the day already.
    NetworkDailyLimit,
    /// The business's hourly brake holds the reward until the business reviews it: not paid
    /// (yet); `Settlement::held` says what it would pay.
    PendingReview,
    /// The business reviewed the held reward and refused it.
    ReviewRefused,
    /// The till refunded or cancelled the purchase before the reward was settled.
    PurchaseRefunded,
    /// The business has no funds for rewards (not topped up yet, spent, or refunded).
    NoFunds,
}

impl Business {
    /// Paid on the Swedish day `day` (`YYYY-MM-DD`), and what is left of the daily `cap` then.
    /// The most this business pays on one day: its own daily budget, never above the cluster's
    /// cap `cluster_cap`.
    pub fn daily_cap(&self, cluster_cap: Ore) -> Ore {
        self.daily_budget.map_or(cluster_cap, |b| b.min(cluster_cap))
    }

    fn paid_on(&self, day: &str, cap: Ore) -> (Ore, Ore) {
        let paid = if self.paid_today.day == day { self.paid_today.paid } else { Ore::ZERO };
        (paid, cap.checked_sub(paid).unwrap_or(Ore::ZERO).max(Ore::ZERO))
    }

    /// Funds still available for rewards (never below zero).
    pub fn remaining(&self) -> Ore {
        self.funds().spendable()
    }

    /// The business's money, as its ledger account shows it.
    pub fn funds(&self) -> Funds {
        Funds::of(&self.book.totals)
    }

    /// Rewarded to customers so far (net of reversals), from the ledger.
    pub fn paid(&self) -> Ore {
        self.funds().rewarded
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
    /// The reward the hourly brake held for review, as it would have been paid then (`Some`
    /// once held, also after the review).
    pub held: Option<RewardDecision>,
}

impl Settlement {
    /// Whether the reward waits for the business's review.
    pub fn pending_review(&self) -> bool {
        self.withheld == Some(Withheld::PendingReview)
    }
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
    /// A demo top-up credited with the creation (`funding.provider = "demo"`; 0 for none).
    pub opening_top_up: Ore,
    /// Hash of the API key handed to the creator.
    pub key_hash: KeyHash,
    /// How customers prove their purchase.
    pub purchase_verification: PurchaseVerification,
    /// The contact e-mail, if the business gave one (the sign-up page does).
    pub contact_email: Option<Email>,
    /// The verification link mailed to `contact_email`: its hash is stored with the business,
    /// in the same commit, so the mail never names a link that does not exist.
    pub verify_link: Option<TokenHash>,
    /// How long the verification link is good, milliseconds (`signup.verify_link_ttl_ms`).
    pub verify_link_ttl_ms: i64,
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

/// Sessions of this business opened: [`SessionOpened`] for many at once, one commit (a node
/// coalesces the reports that arrive while one is being written). Idempotent per session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionsOpened {
    /// The sessions, at most [`SESSIONS_OPENED_MAX`].
    pub sessions: Vec<SessionOpened>,
}

/// Most sessions one [`SessionsOpened`] counts (a bound on one command's size).
pub const SESSIONS_OPENED_MAX: usize = 256;

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
    /// The client network the session was opened from, as its keyed hash (per-network daily
    /// limit); `None` when it was opened without one (in-process tools) or erased.
    pub network: Option<NetworkHash>,
    /// The till purchase that backs the session (location, receipt), when a till reported it: a
    /// refund of it recorded by now withholds the reward.
    pub till_purchase: Option<(LocationId, TransactionId)>,
    /// The session's fence and state: the settlement writes the session's settled state with
    /// the business's own, in one atomic command (issue 22). `None` settles the business alone.
    pub fence: Option<super::session::SessionFence>,
}

/// What settling answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Settled {
    /// The session is settled: now (with `written`, the session's state this command wrote) or
    /// before (`written` is `None`; the stored session has it).
    Done {
        /// The settlement, as stored.
        settlement: Settlement,
        /// The session's state written with it, if this call wrote it.
        written: Option<super::session::SessionWritten>,
    },
    /// The session's fence no longer held (it wrote since, or its owner moved): nothing was
    /// written. The session reconciles and asks again.
    SessionMoved,
}

impl Settled {
    /// The settlement, if one was made.
    pub fn settlement(&self) -> Option<Settlement> {
        match self {
            Settled::Done { settlement, .. } => Some(*settlement),
            Settled::SessionMoved => None,
        }
    }
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
op!(BusinessActor, BusinessId: SessionsOpened -> ());
op!(BusinessActor, BusinessId: Settle -> Settled);
op!(BusinessActor, BusinessId: SetVerification -> Business);
op!(BusinessActor, BusinessId: RegisterPos -> Result<Business, PosError>);
op!(BusinessActor, BusinessId: RecordPurchase -> Result<Recorded, PosError>);
/// Gave up the business's organisation number: an operation of the business before the number
/// moved to the directory (issue 22; `directory::ReleaseOrg` now). Kept so the forwarded-call
/// enum keeps its numbering; a node of this version refuses it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseOrgNumber {
    /// Release only an unverified number registered at or before this time (the sweeper).
    pub unverified_registered_before: Option<DateTime<Utc>>,
}

/// What releasing an organisation number did (`directory::ReleaseOrg`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrgReleased {
    /// Released now: another business may register it.
    Released(OrgNumber),
    /// The business does not hold its number (released before, or never registered it).
    NotHeld,
    /// Kept: verified, registered later than asked, or registered before registrations were
    /// recorded (the sweeper's conditions; an operator's release has none).
    Kept,
}
op!(BusinessActor, BusinessId: ReviewHeld -> Settlement);
op!(BusinessActor, BusinessId: SetDeclaredAmountMax -> Business);
op!(BusinessActor, BusinessId: SetDailyBudget -> Business);
op!(BusinessActor, BusinessId: ChangeLocations -> Business);
op!(BusinessActor, BusinessId: SetRewardPolicy -> Business);

/// One change to a business's locations: one Raft command each, with the QR index records it
/// implies written or deleted in the same command (as creation writes them).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ChangeLocations {
    /// Adds a location (validated, id and token made by the caller); at most
    /// [`LOCATIONS_MAX`](crate::domain::validate::LOCATIONS_MAX) locations in all.
    Add(Location),
    /// Renames a location (the name validated); its QR record carries the new name.
    Rename {
        /// Which location.
        id: LocationId,
        /// Its new name.
        name: String,
    },
    /// Removes a location: its QR record is deleted and a retired record written in its place,
    /// so its token stops working. A business keeps at least
    /// [`LOCATIONS_MIN`](crate::domain::validate::LOCATIONS_MIN) location.
    Remove(LocationId),
}

/// Sets the business's reward percentages (a policy already validated).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetRewardPolicy(pub RewardPolicy);
op!(BusinessActor, BusinessId: RecordTopUp -> TopUpOutcome);
op!(BusinessActor, BusinessId: RecordTopUpRefund -> TopUpOutcome);

/// Credits a top-up (card -> business), once per provider event and once per checkout session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordTopUp {
    /// The provider's event (or a demo top-up's own id): the entry's id.
    pub event: ExternalRef,
    /// The checkout session it completes, if any (a second event about it credits nothing).
    pub checkout_session: Option<ExternalRef>,
    /// The provider's payment id, which a later refund names (`topup/<payment>`).
    pub payment: Option<ExternalRef>,
    /// Amount, positive.
    pub amount: Ore,
    /// When the provider says it happened.
    pub at: DateTime<Utc>,
}

/// Debits a top-up refund (business -> card): the difference between `refunded_total` and what
/// was refunded of that payment before (the provider reports refunds cumulatively).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordTopUpRefund {
    /// The provider's event: the entry's id.
    pub event: ExternalRef,
    /// The payment refunded.
    pub payment: ExternalRef,
    /// Refunded of it in total, as the provider reports it now.
    pub refunded_total: Ore,
    /// When the provider says it happened.
    pub at: DateTime<Utc>,
}

/// What a top-up or refund did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TopUpOutcome {
    /// Recorded now: this much moved; the business's funds after it.
    Recorded {
        /// Amount of the entry.
        amount: Ore,
        /// Funds after it.
        funds: Funds,
    },
    /// Nothing new: the event (or checkout session) was recorded before, or the refund total is
    /// not above what was refunded already.
    Duplicate {
        /// Funds now.
        funds: Funds,
    },
}

/// The business's decision on a reward its hourly brake held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReviewDecision {
    /// Pay it (as far as the budget and today's cap allow).
    Release,
    /// Settle it at 0.
    Refuse,
}

impl ReviewDecision {
    /// The name used in the API and the metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewDecision::Release => "release",
            ReviewDecision::Refuse => "refuse",
        }
    }
}

/// Decides a held reward of session `session` (idempotent: the same decision again answers the
/// settlement as decided; the other one is refused with `held-reward-decided`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviewHeld {
    /// The session whose reward is held.
    pub session: SessionId,
    /// Release or refuse.
    pub decision: ReviewDecision,
}

/// Sets the ceiling of a self-declared purchase (already checked against its bounds).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetDeclaredAmountMax(pub Ore);

/// Sets the business's daily reward budget ([`Business::daily_budget`]): 1 kr up to the cluster's
/// daily cap, checked here against the cap this node runs with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetDailyBudget(pub Ore);
op!(BusinessActor, BusinessId: ReleaseReceipt -> bool);
op!(BusinessActor, BusinessId: ForgetTransfer -> bool);

/// Deletes the business's transfer record (`lout/<entry>`) of a cashback its customer's wallet
/// has posted. A wallet in the business's Raft group deletes it in the write that posts it; a
/// wallet in another group cannot, so the payout driver asks the business (issue 22). True when
/// deleted; false when it is gone already or the wallet's posting is not seen here yet (the
/// driver asks again next round).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForgetTransfer {
    /// The transfer's entry.
    pub entry: EntryId,
}

impl BusinessOp for ForgetTransfer {
    async fn run(self, env: &ActorEnv, _key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<bool, ActorError> {
        let business = current(slot, id)?.clone();
        let view = env.cluster.view();
        let outbox = OutboxRecord { entry: self.entry.clone() };
        let Some(transfer) = outbox.read(view)? else { return Ok(false) };
        if &transfer.business != id {
            return Err(ActorError::Internal(format!("transfer {} is not this business's", self.entry)));
        }
        let posted = super::keys::PostedRecord { account: Account::Customer(transfer.device.clone()), entry: self.entry.clone() };
        if !posted.exists(view)? {
            return Ok(false);
        }
        slot.commit(env, business, vec![], vec![outbox.key()]).await?;
        Ok(true)
    }
}

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
    /// A refund or cancellation of a recorded purchase is recorded now: the purchase backs no
    /// reward any more; `session` claimed it, and `reversed` of its paid reward went back to the
    /// budget.
    Refunded {
        /// The session that claimed the purchase, if one had.
        session: Option<SessionId>,
        /// What was reversed of a paid reward (0 if none was paid).
        reversed: Ore,
    },
}

/// Releases a receipt its mismatches locked (`pos.receipt_mismatches_max`): deletes its try
/// slots and lock record, so it takes tries again. Answers whether it was locked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseReceipt {
    /// Where it was bought (a location of this business).
    pub location: LocationId,
    /// The receipt id.
    pub receipt: TransactionId,
    /// `pos.receipt_mismatches_max`: how many slots to delete.
    pub slots: u32,
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
            book: Book::default(),
            created_at: now,
            analytics: Analytics::default(),
            paid_today: DayPaid::default(),
            fingerprints_recorded: 0,
            hourly_rewards: HourlyRewards::default(),
            held_pending: 0,
            declared_amount_max: env.limits.declared_amount_max,
            day_fingerprints: DayCount::default(),
            daily_budget: None,
            contact_email: self.contact_email.clone(),
            email_verified: false,
            sessions_not_before_ms: 0,
            extra_keys: Vec::new(),
            key_hash: self.key_hash,
            key_issued_at: now,
            purchase_verification: self.purchase_verification,
            pos: BTreeMap::new(),
            pos_purchases: 0,
        };
        let mut business = business;
        let mut writes = Vec::with_capacity(business.locations.len() + 8);
        if self.opening_top_up > Ore::ZERO {
            // The demo's opening budget is a top-up like any other: one entry, card -> business.
            let event = ExternalRef::parse(&format!("demo-open-{id}")).ok_or_else(|| ActorError::Internal("business ids are key-safe".into()))?;
            let entry = Entry::transfer(EntryId::top_up(&event), EntryKind::TopUp, now.timestamp_millis(), Account::Card, Account::Business(id.clone()), self.opening_top_up, "demo".into())
                .map_err(ledger_broken)?;
            let (book, w) = post_business(id, &business.book, &entry)?;
            business.book = book;
            writes.extend(w);
        }
        writes.push(FundedRecord { business: id.clone() }.write(&(business.remaining() > Ore::ZERO), IndexMode::Upsert)?);
        // The organisation number is held in the directory before this runs (`core`:
        // `directory::HoldOrg`): it is unique in the whole cluster, this write only in its group.
        writes.push(PosModeRecord { business: id.clone() }.write(&business.purchase_verification, IndexMode::Upsert)?);
        writes.push(DeclaredMaxRecord { business: id.clone() }.write(&business.declared_amount_max, IndexMode::Upsert)?);
        if let Some(email) = &business.contact_email {
            writes.push(EmailRecord { email: email.key(), business: id.clone() }.write(&(), IndexMode::Upsert)?);
        }
        if let Some(hash) = &self.verify_link {
            let grant = LinkGrant { business: id.clone(), purpose: LinkPurpose::Verify, expires_ms: now.timestamp_millis().saturating_add(self.verify_link_ttl_ms) };
            writes.push(LinkRecord { hash: hash.hex() }.write(&grant, IndexMode::InsertNew)?);
        }
        for l in &business.locations {
            let target = QrTarget { business: id.clone(), location: l.id.clone(), business_name: business.name.clone(), location_name: l.name.clone() };
            writes.push(QrRecord { token: l.qr_token.clone() }.write(&target, IndexMode::InsertNew)?);
        }
        match slot.commit(env, business.clone(), writes, vec![]).await? {
            Persisted::Ok => {
                tracing::info!(locations = business.locations.len(), "business created");
                Ok(business)
            }
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
    async fn run(self, env: &ActorEnv, key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<(), ActorError> {
        SessionsOpened { sessions: vec![self] }.run(env, key, id, slot).await
    }
}

impl BusinessOp for SessionsOpened {
    async fn run(self, env: &ActorEnv, _key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<(), ActorError> {
        if self.sessions.len() > SESSIONS_OPENED_MAX {
            // Only nodes send this (their coalescer cuts batches at the bound).
            return Err(ActorError::Internal(format!("{} sessions in one report, at most {SESSIONS_OPENED_MAX}", self.sessions.len())));
        }
        let mut next = current(slot, id)?.clone();
        let mut writes = Vec::with_capacity(self.sessions.len());
        let mut counted = std::collections::BTreeSet::new();
        for s in self.sessions {
            let opened = OpenedRecord { business: id.clone(), session: s.session.clone() };
            if !counted.insert(s.session) || opened.exists(env.cluster.view())? {
                continue;
            }
            next.analytics.total.opened += 1;
            next.analytics.day(s.opened_at).opened += 1;
            writes.push(opened.write(&(), IndexMode::InsertNew)?);
        }
        if writes.is_empty() {
            return Ok(());
        }
        // A concurrent duplicate cannot exist (this actor is the only writer), and an equal
        // value is accepted by the store, so IndexTaken cannot happen here.
        slot.commit(env, next, writes, vec![]).await?;
        Ok(())
    }
}

impl BusinessOp for Settle {
    async fn run(self, env: &ActorEnv, _key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<Settled, ActorError> {
        let mut answers = super::settles::settle_batch(env, id, slot, vec![self]).await?;
        answers.pop().unwrap_or_else(|| Err(ActorError::Internal("a settlement of one answered nothing".into())))
    }
}

/// What settling one session decided, before it is written.
pub(super) enum Prepared {
    /// Settled before: the stored settlement.
    Stored(Settlement),
    /// Settled now, once [`New::writes`] and [`New::other`] are committed with the business state.
    New(Box<New>),
}

/// A settlement made and not yet written.
pub(super) struct New {
    pub(super) session: SessionId,
    pub(super) settlement: Settlement,
    /// The business's records it writes (the settled record among them).
    pub(super) writes: Vec<svea_storage::IndexWrite>,
    /// Key of its settled record (`bsettle/<b>/<s>`).
    pub(super) settled_key: String,
    /// The session's own fenced write of its settled state, when the settlement carries it.
    pub(super) other: Option<svea_storage::Command>,
    /// The session's state `other` writes.
    pub(super) written: Option<super::session::SessionWritten>,
    /// The `outcome` label and budget left after it, for the metrics once written.
    counted: (&'static str, f64),
}

impl New {
    /// Logs and counts the settlement once it is written.
    pub(super) fn written(&self, env: &ActorEnv, id: &BusinessId) {
        let (session, decision, withheld) = (&self.session, self.settlement.decision, self.settlement.withheld);
        tracing::info!(session_id = %session, reward_ore = decision.amount.as_ore(), withheld = ?withheld, "session settled");
        let paid = u64::try_from(decision.amount.as_ore()).unwrap_or(0);
        env.metrics.session_settled(id.as_str(), self.counted.0, paid, self.counted.1);
        if self.settlement.held.is_some() {
            tracing::warn!(session_id = %session, "reward held for the business's review (hourly brake)");
            env.metrics.reward_held();
        }
    }
}

/// Settles `settle` on `next` (the business as the settlements before it in the same batch left
/// it), reading records through `reads` (the store with those settlements' records laid over
/// it). `business` is changed only when a new settlement is made.
pub(super) fn prepare_settle(
    env: &ActorEnv,
    id: &BusinessId,
    business: &mut Business,
    reads: &super::settles::Pending<'_>,
    settle: &Settle,
    now: DateTime<Utc>,
) -> Result<Prepared, ActorError> {
    let Settle { session, opened_at, outcome, device, fingerprint, network, till_purchase, fence } = settle;
    let (opened_at, outcome) = (*opened_at, *outcome);
    let settled = SettledRecord { business: id.clone(), session: session.clone() };
    if let Some(s) = settled.read(reads)? {
        return Ok(Prepared::Stored(s));
    }
    let mut trial = business.clone();
    let next = &mut trial;
    let mut writes = Vec::with_capacity(4);
    let mut withheld = None;
    let mut held = None;
    let opened = OpenedRecord { business: id.clone(), session: session.clone() };
    if !opened.exists(reads)? {
        // The opening report was lost (crash between the session's write and ours).
        next.analytics.total.opened += 1;
        next.analytics.day(opened_at).opened += 1;
        writes.push(opened.write(&(), IndexMode::InsertNew)?);
    }
    let decision = match outcome {
        Outcome::Scored { score, purchase } => {
            let mut d = compute_reward(&next.policy, score, purchase, next.remaining());
            // This actor writes the refund records, so its own view has every one of them:
            // a refund recorded before this settlement is seen here, one after it reverses.
            let refunded = match till_purchase {
                Some((location, receipt)) => PosRefundRecord { location: location.clone(), receipt: receipt.clone() }.exists(reads)?,
                None => false,
            };
            if refunded && d.tier != RewardTier::None {
                d.amount = Ore::ZERO;
                d.capped_by = None;
                withheld = Some(Withheld::PurchaseRefunded);
            } else if d.tier != RewardTier::None && next.remaining() == Ore::ZERO {
                // The funding gate: no funds (none yet, spent, or a refund took them), no reward.
                // `compute_reward` said so already (capped by the budget, to 0); the reason
                // says why in the customer's words.
                d.amount = Ore::ZERO;
                withheld = Some(Withheld::NoFunds);
            } else if d.tier != RewardTier::None {
                let checked = Checked { device: device.as_ref(), fingerprint: fingerprint.as_ref(), network: network.as_ref() };
                let limited = apply_limits(env, reads, id, session, next, now, checked, &mut d)?;
                withheld = limited.withheld;
                writes.extend(limited.writes);
                if let Some(h) = limited.held {
                    held = Some(h);
                    let device = device.clone().ok_or_else(|| ActorError::Internal("a held reward has a device (the limits withhold one without)".into()))?;
                    let record = HeldReward { held_at: now, reward: h, purchase, score, device };
                    writes.push(HeldRecord { business: id.clone(), session: session.clone() }.write(&record, IndexMode::InsertNew)?);
                    next.held_pending = next.held_pending.saturating_add(1);
                }
            }
            if d.amount > Ore::ZERO {
                let device = device.as_ref().ok_or_else(|| ActorError::Internal("a paid reward has a device (the limits withhold one without)".into()))?;
                writes.extend(reserve_reward(id, session, device, next, d.amount, now)?);
            }
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
    let settlement = Settlement { outcome, decision, withheld, held };
    let counted = (settlement_outcome(&settlement), budget_left_ratio(next));
    // Planted bug (simulations only; a constant false in a shipped build): no idempotency
    // record, and the session's state not in the same command (the settlement as it was
    // before issue 22, less its record): the session asks again, and is paid again.
    let fence = if svea_storage::planted::settle_without_record() { None } else { fence.as_ref() };
    if !svea_storage::planted::settle_without_record() {
        writes.push(settled.write(&settlement, IndexMode::InsertNew)?);
    }
    // The session's settled state, fenced by the session's own claim and version, in the
    // same command: both are written or neither.
    let (mut other, mut written) = (None, None);
    if let Some(f) = fence {
        if f.session.id != *session {
            return Err(ActorError::Internal(format!("the settlement of session {session} carries the fence of session {}", f.session.id)));
        }
        let (final_state, swrites, sdeletes) = super::session::settled(&f.session, settlement, now)?;
        other = Some(svea_storage::Command::Put {
            actor: super::ActorKey::from(session.clone()).stored(),
            node: f.owner.node,
            epoch: f.owner.epoch,
            expected_version: f.version,
            state: svea_storage::codec::encode(&final_state)?,
            index_writes: swrites,
            index_deletes: sdeletes,
        });
        written = Some(super::session::SessionWritten { owner: f.owner, version: f.version + 1, session: Box::new(final_state) });
    }
    let settled_key = settled.key();
    *business = trial;
    Ok(Prepared::New(Box::new(New { session: session.clone(), settlement, writes, settled_key, other, written, counted })))
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
    let budget = b.funds().funded.as_ore();
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
        // The account is held for this business in the directory before this runs (`core`:
        // `directory::HoldTillAccount`), the old one released after it.
        next.pos.insert(provider, integration);
        slot.commit(env, next.clone(), vec![], vec![]).await?;
        tracing::info!(provider = provider.as_str(), "till registered");
        Ok(Ok(next))
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
        if let Some(refund) = d.refund {
            return record_refund(env, id, slot, d.provider, d.event_id, refund).await;
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
        let mut writes = vec![
            event.write(&(location.clone(), purchase.receipt.clone()), IndexMode::InsertNew)?,
            record.write(&purchase, IndexMode::InsertNew)?,
        ];
        if let Some(till_id) = &purchase.till_id {
            let by_id = PosRefRecord { business: id.clone(), provider: d.provider, till_id: till_id.clone() };
            // Upsert: a till id names one purchase; a second receipt under it would be the till's bug.
            writes.push(by_id.write(&(location.clone(), purchase.receipt.clone()), IndexMode::Upsert)?);
        }
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

impl BusinessOp for SetDeclaredAmountMax {
    async fn run(self, env: &ActorEnv, _key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<Business, ActorError> {
        let mut next = current(slot, id)?.clone();
        next.declared_amount_max = self.0;
        let record = DeclaredMaxRecord { business: id.clone() }.write(&self.0, IndexMode::Upsert)?;
        slot.commit(env, next.clone(), vec![record], vec![]).await?;
        tracing::info!(declared_amount_max_ore = self.0.as_ore(), "declared purchase ceiling set");
        Ok(next)
    }
}

impl BusinessOp for SetDailyBudget {
    async fn run(self, env: &ActorEnv, _key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<Business, ActorError> {
        let max = env.limits.business_daily_cap;
        if !(DAILY_BUDGET_MIN..=max).contains(&self.0) {
            return Err(crate::domain::DomainError::DailyBudgetOutOfRange { amount: self.0, min: DAILY_BUDGET_MIN, max }.into());
        }
        let mut next = current(slot, id)?.clone();
        next.daily_budget = Some(self.0);
        slot.commit(env, next.clone(), vec![], vec![]).await?;
        tracing::info!(daily_budget_ore = self.0.as_ore(), "daily reward budget set");
        Ok(next)
    }
}

/// The smallest daily reward budget a business may set: 1 kr.
pub const DAILY_BUDGET_MIN: Ore = Ore::from_ore(100);

impl BusinessOp for ChangeLocations {
    async fn run(self, env: &ActorEnv, _key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<Business, ActorError> {
        use crate::domain::validate::{validate_location_count, validate_location_name};
        let mut next = current(slot, id)?.clone();
        let position = |next: &Business, lid: &LocationId| {
            next.locations.iter().position(|l| &l.id == lid).ok_or_else(|| ActorError::NotFound { what: Missing::Location, id: lid.to_string() })
        };
        let target = |b: &Business, l: &Location| QrTarget { business: id.clone(), location: l.id.clone(), business_name: b.name.clone(), location_name: l.name.clone() };
        let mut writes = Vec::with_capacity(2);
        let mut deletes = Vec::with_capacity(1);
        match &self {
            ChangeLocations::Add(l) => {
                validate_location_count(next.locations.len() + 1)?;
                validate_location_name(&l.name)?;
                writes.push(QrRecord { token: l.qr_token.clone() }.write(&target(&next, l), IndexMode::InsertNew)?);
                next.locations.push(l.clone());
            }
            ChangeLocations::Rename { id: lid, name } => {
                let i = position(&next, lid)?;
                next.locations[i].name = validate_location_name(name)?.to_string();
                let l = &next.locations[i];
                writes.push(QrRecord { token: l.qr_token.clone() }.write(&target(&next, l), IndexMode::Upsert)?);
            }
            ChangeLocations::Remove(lid) => {
                let i = position(&next, lid)?;
                validate_location_count(next.locations.len() - 1)?;
                // A till's purchases must keep landing at a location of the business.
                if let Some(till) = next.pos.values().find(|t| t.default_location.as_ref() == Some(lid) || t.locations.values().any(|l| l == lid)) {
                    return Err(crate::domain::DomainError::LocationUsedByTill { location: lid.to_string(), provider: till.provider.as_str().to_owned() }.into());
                }
                let l = next.locations.remove(i);
                deletes.push(QrRecord { token: l.qr_token.clone() }.key());
                writes.push(QrRetiredRecord { token: l.qr_token.clone() }.write(id, IndexMode::Upsert)?);
            }
        }
        match slot.commit(env, next.clone(), writes, deletes).await? {
            Persisted::Ok => {
                tracing::info!(locations = next.locations.len(), change = self.as_str(), "locations changed");
                Ok(next)
            }
            // 256-bit random tokens do not collide; if one does, refuse rather than alias.
            Persisted::IndexTaken { key, .. } => Err(ActorError::conflict(ConflictKind::QrTokenCollision, format!("record {key} already exists; retry"))),
        }
    }
}

impl ChangeLocations {
    /// The change's name, for logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            ChangeLocations::Add(_) => "add",
            ChangeLocations::Rename { .. } => "rename",
            ChangeLocations::Remove(_) => "remove",
        }
    }
}

impl BusinessOp for SetRewardPolicy {
    async fn run(self, env: &ActorEnv, _key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<Business, ActorError> {
        self.0.validate()?;
        let mut next = current(slot, id)?.clone();
        next.policy = self.0;
        slot.commit(env, next.clone(), vec![], vec![]).await?;
        tracing::info!(basis_points = ?self.0.tiers.map(|t| t.basis_points), "reward percentages set");
        Ok(next)
    }
}

impl BusinessOp for RecordTopUp {
    async fn run(self, env: &ActorEnv, _key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<TopUpOutcome, ActorError> {
        let mut next = current(slot, id)?.clone();
        let view = env.cluster.view();
        let entry_id = EntryId::top_up(&self.event);
        let checkout = self.checkout_session.as_ref().map(|s| CheckoutRecord { session: s.clone() });
        // This actor writes every record below, so its own view is complete.
        let seen = EntryRecord { entry: entry_id.clone() }.exists(view)? || checkout.as_ref().map(|c| c.exists(view)).transpose()?.unwrap_or(false);
        if seen {
            return Ok(TopUpOutcome::Duplicate { funds: next.funds() });
        }
        let reference = self.payment.as_ref().map(|p| p.to_string()).unwrap_or_else(|| self.event.to_string());
        let entry = Entry::transfer(entry_id.clone(), EntryKind::TopUp, self.at.timestamp_millis(), Account::Card, Account::Business(id.clone()), self.amount, reference).map_err(ledger_broken)?;
        let (book, mut writes) = post_business(id, &next.book, &entry)?;
        next.book = book;
        if let Some(c) = &checkout {
            writes.push(c.write(&entry_id, IndexMode::InsertNew)?);
        }
        if let Some(p) = &self.payment {
            writes.push(TopUpRecord { payment: p.clone() }.write(&PaidTopUp { business: id.clone(), amount: self.amount, refunded: Ore::ZERO }, IndexMode::InsertNew)?);
        }
        writes.push(FundedRecord { business: id.clone() }.write(&(next.remaining() > Ore::ZERO), IndexMode::Upsert)?);
        let funds = next.funds();
        match slot.commit(env, next, writes, vec![]).await? {
            Persisted::Ok => {
                tracing::info!(event = "top_up", amount_ore = self.amount.as_ore(), available_ore = funds.available.as_ore(), "top-up credited");
                env.metrics.ledger_entry(EntryKind::TopUp, self.amount);
                Ok(TopUpOutcome::Recorded { amount: self.amount, funds })
            }
            // A payment id reused by another checkout: the provider's bug; credit nothing twice.
            Persisted::IndexTaken { .. } => Ok(TopUpOutcome::Duplicate { funds: current(slot, id)?.funds() }),
        }
    }
}

impl BusinessOp for RecordTopUpRefund {
    async fn run(self, env: &ActorEnv, _key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<TopUpOutcome, ActorError> {
        let mut next = current(slot, id)?.clone();
        let view = env.cluster.view();
        let record = TopUpRecord { payment: self.payment.clone() };
        let paid = record.read(view)?.filter(|p| &p.business == id).ok_or_else(|| ActorError::NotFound { what: Missing::Payment, id: self.payment.to_string() })?;
        let entry_id = EntryId::top_up_refund(&self.event);
        // Never more than was paid; only what is new since the last report.
        let total = self.refunded_total.min(paid.amount);
        let delta = total.checked_sub(paid.refunded).unwrap_or(Ore::ZERO);
        if (EntryRecord { entry: entry_id.clone() }).exists(view)? || delta <= Ore::ZERO {
            return Ok(TopUpOutcome::Duplicate { funds: next.funds() });
        }
        let entry = Entry::transfer(entry_id, EntryKind::TopUpRefunded, self.at.timestamp_millis(), Account::Business(id.clone()), Account::Card, delta, self.payment.to_string()).map_err(ledger_broken)?;
        let (book, mut writes) = post_business(id, &next.book, &entry)?;
        next.book = book;
        writes.push(record.write(&PaidTopUp { refunded: total, ..paid }, IndexMode::Upsert)?);
        writes.push(FundedRecord { business: id.clone() }.write(&(next.remaining() > Ore::ZERO), IndexMode::Upsert)?);
        let funds = next.funds();
        slot.commit(env, next, writes, vec![]).await?;
        tracing::warn!(event = "top_up_refunded", amount_ore = delta.as_ore(), available_ore = funds.available.as_ore(), "top-up refunded");
        env.metrics.ledger_entry(EntryKind::TopUpRefunded, delta);
        Ok(TopUpOutcome::Recorded { amount: delta, funds })
    }
}

impl BusinessOp for ReviewHeld {
    async fn run(self, env: &ActorEnv, _key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<Settlement, ActorError> {
        let not_held = || ActorError::NotFound { what: Missing::HeldReward, id: self.session.to_string() };
        let settled = SettledRecord { business: id.clone(), session: self.session.clone() };
        let Some(stored) = settled.read(env.cluster.view())? else { return Err(not_held()) };
        let Some(held) = stored.held else { return Err(not_held()) };
        match (stored.withheld, self.decision) {
            (Some(Withheld::PendingReview), _) => {}
            // Decided so already: a retry gets the same answer.
            (None, ReviewDecision::Release) | (Some(Withheld::ReviewRefused), ReviewDecision::Refuse) => return Ok(stored),
            _ => {
                return Err(ActorError::conflict(
                    ConflictKind::HeldRewardDecided,
                    format!("the held reward of session {} was decided already", self.session),
                ))
            }
        }
        let mut next = current(slot, id)?.clone();
        let now = env.clock.now();
        let mut decided = stored;
        let mut reward_writes = Vec::new();
        match self.decision {
            ReviewDecision::Release => {
                // Budget and today's cap are checked again: both may have moved since it was held.
                let day = swedish_day_key(now);
                let cap = next.daily_cap(env.limits.business_daily_cap);
                let (paid_today, cap_left) = next.paid_on(&day, cap);
                let mut d = held;
                if d.amount > next.remaining() {
                    d.amount = next.remaining();
                    d.capped_by = Some(Cap::Budget);
                }
                if d.amount > cap_left {
                    d.amount = cap_left;
                    d.capped_by = Some(Cap::BusinessDailyCap);
                }
                if d.amount <= Ore::ZERO {
                    return Err(ActorError::conflict(
                        ConflictKind::ReleaseNotPayable,
                        format!("the held reward of session {} cannot be paid now: the budget or today's reward cap is spent", self.session),
                    ));
                }
                let held_record = HeldRecord { business: id.clone(), session: self.session.clone() }.read(env.cluster.view())?;
                let device = held_record.map(|h| h.device).ok_or_else(|| not_held())?;
                reward_writes = reserve_reward(id, &self.session, &device, &mut next, d.amount, now)?;
                let paid = paid_today.checked_add(d.amount).ok_or_else(|| ActorError::Internal("daily paid amount overflow".into()))?;
                assert!(paid <= cap, "released reward exceeded the daily cap");
                next.paid_today = DayPaid { day, paid };
                for stats in [&mut next.analytics.total, next.analytics.per_day.entry(swedish_day_key(now)).or_default()] {
                    stats.rewards_paid = stats.rewards_paid.checked_add(d.amount).unwrap_or(stats.rewards_paid);
                }
                decided.decision = d;
                decided.withheld = None;
            }
            ReviewDecision::Refuse => decided.withheld = Some(Withheld::ReviewRefused),
        }
        next.held_pending = next.held_pending.saturating_sub(1);
        let counted = budget_left_ratio(&next);
        let mut writes = vec![settled.write(&decided, IndexMode::Upsert)?];
        writes.extend(reward_writes);
        let deletes = vec![HeldRecord { business: id.clone(), session: self.session.clone() }.key()];
        slot.commit(env, next, writes, deletes).await?;
        tracing::info!(session_id = %self.session, decision = self.decision.as_str(), reward_ore = decided.decision.amount.as_ore(), "held reward reviewed");
        let paid = u64::try_from(decided.decision.amount.as_ore()).unwrap_or(0);
        env.metrics.reward_reviewed(id.as_str(), self.decision.as_str(), paid, counted);
        Ok(decided)
    }
}

/// Records a till's refund or cancellation of a recorded purchase (the delivery is verified and
/// its event new): the purchase backs no reward any more (`posrefund/`, first refund wins), and
/// a reward already paid for it is reversed once (`brev/`), all in this business's one write with
/// the event record, so a replay does nothing. Any refund, partial or whole, reverses the whole
/// reward (docs/trust-model.md, "Purchases verified by the till").
async fn record_refund(
    env: &ActorEnv,
    id: &BusinessId,
    slot: &mut Slot<Business>,
    provider: Provider,
    event_id: crate::domain::PosId,
    refund: crate::domain::TillRefund,
) -> Result<Result<Recorded, PosError>, ActorError> {
    let by_id = PosRefRecord { business: id.clone(), provider, till_id: refund.till_id.clone() };
    let Some((location, receipt)) = by_id.read(env.cluster.view())? else {
        // A refund of a purchase svea never recorded (not SEK, before the till was registered):
        // nothing backs a reward, nothing to undo.
        return Ok(Ok(Recorded::Nothing));
    };
    let event = PosEventRecord { provider, event: event_id.clone() };
    let refunded = PosRefundRecord { location: location.clone(), receipt: receipt.clone() };
    let mut writes = vec![event.write(&(location.clone(), receipt.clone()), IndexMode::InsertNew)?];
    writes.push(refunded.write(&RefundRecorded { event: event_id, amount: refund.amount, at: env.clock.now() }, IndexMode::InsertNew)?);
    // The claim is written by the session, on whichever node owns it (in this business's
    // group): read it current.
    super::group_barrier(&env.cluster, id.clone()).await?;
    let claimed = PosClaimRecord { location: location.clone(), receipt: receipt.clone() }.read(env.cluster.view())?;
    let mut next = current(slot, id)?.clone();
    let mut reversed = Ore::ZERO;
    if let Some(session) = &claimed {
        let settled = SettledRecord { business: id.clone(), session: session.clone() }.read(env.cluster.view())?;
        let reversal = ReversalRecord { business: id.clone(), session: session.clone() };
        let paid = settled.map(|s| s.decision.amount).unwrap_or(Ore::ZERO);
        if paid > Ore::ZERO && !reversal.exists(env.cluster.view())? {
            writes.extend(reverse_reward(id, session, &mut next, paid, env.clock.now(), env.cluster.view())?);
            writes.push(reversal.write(&paid, IndexMode::InsertNew)?);
            reversed = paid;
        }
    }
    match slot.commit(env, next, writes, vec![]).await? {
        Persisted::Ok => {
            tracing::info!(provider = provider.as_str(), location_id = %location, reversed_ore = reversed.as_ore(), claimed = claimed.is_some(), "till refund recorded");
            Ok(Ok(Recorded::Refunded { session: claimed, reversed }))
        }
        // A refund of this purchase was recorded before (another event): the first one counts.
        // A refund of this purchase was recorded before (another event, e.g. a second partial
        // refund): the first one counted already, and this event is not recorded either.
        Persisted::IndexTaken { .. } => Ok(Ok(Recorded::Nothing)),
    }
}

impl BusinessOp for ReleaseReceipt {
    async fn run(self, env: &ActorEnv, _key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<bool, ActorError> {
        let business = current(slot, id)?;
        if !business.locations.iter().any(|l| l.id == self.location) {
            return Err(ActorError::NotFound { what: Missing::Location, id: self.location.to_string() });
        }
        // The slots are written by sessions on any node (in this business's group): read them
        // current.
        super::group_barrier(&env.cluster, id.clone()).await?;
        let view = env.cluster.view();
        let lock = PosLockRecord { business: id.clone(), location: self.location.clone(), receipt: self.receipt.clone() };
        let mut deletes = Vec::new();
        for n in 0..self.slots.min(svea_config::POS_TRIES_MAX) {
            let record = PosTryRecord { location: self.location.clone(), slot: TrySlot::nth(n), receipt: self.receipt.clone() };
            if record.exists(view)? {
                deletes.push(record.key());
            }
        }
        let locked = lock.exists(view)?;
        if !locked {
            return Ok(false);
        }
        deletes.push(lock.key());
        slot.commit(env, business.clone(), vec![], deletes).await?;
        tracing::info!(location_id = %self.location, receipt = %self.receipt, "locked receipt released");
        Ok(true)
    }
}

/// What the abuse limits decided for one reward: the reason it was withheld, if it was, the
/// reward the brake held (paid 0 now), and the records to commit with the business state.
struct Limited {
    withheld: Option<Withheld>,
    held: Option<RewardDecision>,
    writes: Vec<svea_storage::IndexWrite>,
}

/// What a settlement brings for the limits to check: the session's device and network (keyed
/// hashes) and its text's shingles.
struct Checked<'a> {
    device: Option<&'a DeviceHash>,
    fingerprint: Option<&'a TextPrint>,
    network: Option<&'a NetworkHash>,
}

/// Applies [`RewardLimits`] to `d`, a reward in a tier: a duplicate text (of the business's
/// recent texts or of every business's last day), a device or a client network past its rewarded
/// sessions for the day or a business past its daily cap pays 0; otherwise the daily cap may
/// shorten it, and past the hourly brake it is held (paid 0 until reviewed). Updates `next`'s day
/// counters, hourly ring and fingerprint ring position and returns the records that go with them.
#[allow(clippy::too_many_arguments)]
fn apply_limits(
    env: &ActorEnv,
    reads: &super::settles::Pending<'_>,
    id: &BusinessId,
    session: &SessionId,
    next: &mut Business,
    now: DateTime<Utc>,
    checked: Checked<'_>,
    d: &mut RewardDecision,
) -> Result<Limited, ActorError> {
    let Checked { device, fingerprint, network } = checked;
    // A reward whose text or device link the customer erased before it was settled cannot be
    // checked against the limits, so it is not paid: erasing must not be a way around them.
    let (Some(device), Some(fingerprint)) = (device, fingerprint) else {
        d.amount = Ore::ZERO;
        d.capped_by = None;
        let why = if device.is_none() { Withheld::DeviceDailyLimit } else { Withheld::DuplicateFeedback };
        return Ok(Limited { withheld: Some(why), held: None, writes: Vec::new() });
    };
    let limits = &env.limits;
    let mut writes = Vec::with_capacity(3);
    let day = swedish_day_key(now);
    let duplicate = is_duplicate(env, reads, id, next, &fingerprint.shingles, now)?;
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
    let rewarded_today = match device_day.read(reads)? {
        Some((d, n)) if d == day => n,
        _ => 0,
    };
    // A session without a network (opened by an in-process tool, or before networks were
    // recorded) is not counted per network; every session opened over HTTP has one.
    let network_day = network.map(|n| NetworkDayRecord { business: id.clone(), network: n.clone() });
    let network_today = match network_day.as_ref().map(|r| r.read(reads)).transpose()?.flatten() {
        Some((d, n)) if d == day => n,
        _ => 0,
    };
    let cap = next.daily_cap(limits.business_daily_cap);
    let (paid_today, cap_left) = next.paid_on(&day, cap);
    let mut withheld = if duplicate {
        Some(Withheld::DuplicateFeedback)
    } else if rewarded_today >= limits.per_device_day {
        Some(Withheld::DeviceDailyLimit)
    } else if network_today >= limits.per_network_day {
        Some(Withheld::NetworkDailyLimit)
    } else if cap_left == Ore::ZERO {
        Some(Withheld::BusinessDailyCap)
    } else {
        if d.amount > cap_left {
            d.amount = cap_left;
            d.capped_by = Some(Cap::BusinessDailyCap);
        }
        None
    };
    let mut held = None;
    if withheld.is_none() && d.amount > Ore::ZERO && limits.brake.holds(&next.hourly_rewards, next.created_at, now) {
        held = Some(*d);
        withheld = Some(Withheld::PendingReview);
    }
    if withheld.is_some() {
        d.amount = Ore::ZERO;
        d.capped_by = None;
    }
    // A held reward counts against its device's and network's limits like a paid one: holding
    // must not open room for more of the same.
    if d.amount > Ore::ZERO || held.is_some() {
        writes.push(device_day.write(&(day.clone(), rewarded_today.saturating_add(1)), IndexMode::Upsert)?);
        if let Some(r) = &network_day {
            writes.push(r.write(&(day.clone(), network_today.saturating_add(1)), IndexMode::Upsert)?);
        }
    }
    if d.amount > Ore::ZERO {
        next.hourly_rewards.record(now);
        let paid = paid_today.checked_add(d.amount).ok_or_else(|| ActorError::Internal("daily paid amount overflow".into()))?;
        // The cap holds for every day, whatever the retries: it is decided here only.
        assert!(paid <= cap, "reward exceeded the daily cap");
        next.paid_today = DayPaid { day, paid };
    }
    Ok(Limited { withheld, held, writes })
}

/// Whether the new text (`new`, all its shingles) is a near-duplicate ([`DuplicateRule`]) of a
/// text the rubric publishes, of one of the business's recorded texts, or of any business's text
/// of the last day (the oldest `day_fingerprints_scan_max` of them). The last day's records of
/// other businesses are read as this node has applied them: one written a moment ago through
/// another node may be missed, which costs an attacker a race per copy, not a way around.
fn is_duplicate(env: &ActorEnv, reads: &super::settles::Pending<'_>, id: &BusinessId, b: &Business, new: &Shingles, now: DateTime<Utc>) -> Result<bool, ActorError> {
    let rule = env.limits.duplicates;
    if crate::domain::scoring::PUBLISHED_EXAMPLES.iter().any(|example| rule.judges(&Fingerprint::of(example), new)) {
        return Ok(true);
    }
    let recorded = b.fingerprints_recorded.min(u64::from(env.limits.fingerprints_kept.max(1)));
    for slot in 0..recorded {
        let record = FingerprintRecord { business: id.clone(), slot: slot.to_string() };
        // A record this version cannot read (none today) compares as unlike.
        if let Ok(Some(earlier)) = record.read(reads) {
            if rule.judges(&earlier, new) {
                return Ok(true);
            }
        }
    }
    let since = TextStamp::at(now - chrono::Duration::hours(DAY_FINGERPRINTS_HOURS));
    let first = format!("{}{}", DayFingerprintRecord::PREFIX, since.as_str());
    let limit = usize::try_from(env.limits.day_fingerprints_scan_max).unwrap_or(usize::MAX);
    let stored = reads.view().scan_index_after(DayFingerprintRecord::PREFIX, Some(&first), limit)?;
    // The texts settled earlier in the same batch are not stored yet: they count too.
    let batch = reads.written_after(DayFingerprintRecord::PREFIX, &first).map(|(k, v)| (k.clone(), v.clone()));
    for (key, bytes) in stored.into_iter().chain(batch) {
        let Some(record) = DayFingerprintRecord::parse_key(&key) else { continue };
        if let Ok((_, earlier)) = record.decode(&bytes) {
            if rule.judges(&earlier, new) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// The ledger writes of a business's posting of `entry` on its own account: the book after it
/// and the records (entry, posting, posted-once).
fn post_business(id: &BusinessId, book: &Book, entry: &Entry) -> Result<(Book, Vec<svea_storage::IndexWrite>), ActorError> {
    let account = Account::Business(id.clone());
    let (next, posting) = book.post(&account, entry).map_err(ledger_broken)?;
    let writes = super::keys::entry_writes(entry, &[(account, book.postings, posting)])?;
    Ok((next, writes))
}

/// A ledger rule broke on svea's own numbers: a bug, never the client's fault.
fn ledger_broken(e: crate::domain::ledger::LedgerError) -> ActorError {
    ActorError::Internal(e.to_string())
}

/// The reward of `session` reserved for its customer: one entry business -> customer, posted on
/// the business's account, and the transfer its wallet takes (`lout/`). Updates `next`'s book
/// and its funded flag. Guarantee 3: a reward never reserves more than the funds.
fn reserve_reward(id: &BusinessId, session: &SessionId, device: &DeviceHash, next: &mut Business, amount: Ore, now: DateTime<Utc>) -> Result<Vec<svea_storage::IndexWrite>, ActorError> {
    assert!(amount > Ore::ZERO && amount <= next.remaining(), "a reward reserves more than the business's funds");
    let entry = Entry::transfer(EntryId::reward(id, session), EntryKind::RewardReserved, now.timestamp_millis(), Account::Business(id.clone()), Account::Customer(device.clone()), amount, session.to_string())
        .map_err(ledger_broken)?;
    let (book, mut writes) = post_business(id, &next.book, &entry)?;
    next.book = book;
    assert!(next.funds().available >= Ore::ZERO, "a reward took the business's funds below zero");
    writes.push(OutboxRecord { entry: entry.id.clone() }.write(&Transfer { entry: entry.id.clone(), device: device.clone(), business: id.clone() }, IndexMode::InsertNew)?);
    writes.push(FundedRecord { business: id.clone() }.write(&(next.remaining() > Ore::ZERO), IndexMode::Upsert)?);
    Ok(writes)
}

/// A reward given back after a till refund: one entry customer -> business (the customer is the
/// reward entry's), posted on the business's account, and the transfer the wallet takes.
fn reverse_reward(id: &BusinessId, session: &SessionId, next: &mut Business, amount: Ore, now: DateTime<Utc>, view: &svea_cluster::View) -> Result<Vec<svea_storage::IndexWrite>, ActorError> {
    let reward = EntryRecord { entry: EntryId::reward(id, session) }.read(view)?.ok_or_else(|| ActorError::Internal(format!("paid reward of session {session} has no ledger entry")))?;
    let device = reward
        .legs
        .iter()
        .find_map(|l| match &l.account {
            Account::Customer(d) => Some(d.clone()),
            _ => None,
        })
        .ok_or_else(|| ActorError::Internal(format!("reward entry {} has no customer", reward.id)))?;
    let entry = Entry::transfer(EntryId::reversal(id, session), EntryKind::RewardReversed, now.timestamp_millis(), Account::Customer(device.clone()), Account::Business(id.clone()), amount, session.to_string())
        .map_err(ledger_broken)?;
    let (book, mut writes) = post_business(id, &next.book, &entry)?;
    next.book = book;
    writes.push(OutboxRecord { entry: entry.id.clone() }.write(&Transfer { entry: entry.id.clone(), device, business: id.clone() }, IndexMode::InsertNew)?);
    writes.push(FundedRecord { business: id.clone() }.write(&(next.remaining() > Ore::ZERO), IndexMode::Upsert)?);
    Ok(writes)
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

pub(super) fn current<'a>(slot: &'a Slot<Business>, id: &BusinessId) -> Result<&'a Business, ActorError> {
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
            book: Book { postings: 4, totals: crate::domain::ledger::Totals { by_kind: [10_000, -600, 0, 0, 0, 0, 0] } },
            created_at: Utc::now(),
            analytics: a,
            key_hash: crate::domain::ApiKey::random(&BusinessId::random()).hash(),
            key_issued_at: Utc::now(),
            purchase_verification: PurchaseVerification::default(),
            pos: BTreeMap::new(),
            pos_purchases: 0,
            paid_today: DayPaid::default(),
            fingerprints_recorded: 0,
            hourly_rewards: HourlyRewards::default(),
            held_pending: 0,
            declared_amount_max: Ore::from_ore(100_000),
            day_fingerprints: DayCount::default(),
            daily_budget: None,
            contact_email: None,
            email_verified: false,
            sessions_not_before_ms: 0,
            extra_keys: Vec::new(),
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
