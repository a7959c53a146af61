//! The session actor: one customer's feedback session,
//! `opened -> purchase_confirmed -> rewarded | rejected`, or `expired`.
//!
//! Every step is idempotent, and a customer's flow is three commits (issue 22): opening (the
//! claim and the first state in one atomic command), the purchase, and the settlement. Feedback
//! is not stored on its own: the session computes its feedback (text, score) and hands it, with
//! its fence (owner epoch and version), to its business in [`Step::Settle`]; the business decides
//! the settlement and writes its own state and the session's final state in ONE atomic command,
//! each fenced by its own actor ([`settled`] computes the session's part). The session takes the
//! written state only once committed ([`RecordSettlement`]); a refused or lost command leaves
//! both as they were, and asking again is idempotent (the business's `bsettle/` record).
//!
//! A session never calls its business itself. When it needs a settlement (feedback, or an
//! expiry) the operation answers [`Step::Settle`] without writing anything; the caller
//! (`core::sessions`) gets the settlement from the business and hands the outcome back with
//! [`RecordSettlement`], then repeats the operation. So no actor waits on another actor inside
//! its one-message-at-a-time slot, and the path from a session to its business is one typed call.

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use svea_config::Region;
use svea_storage::{IndexMode, Owner};
use tracing::Instrument;

use super::business::{Outcome, Settle, Settlement, TextPrint, Withheld};
use super::cell::{Persisted, Slot};
use super::keys::{
    ActiveRecord, BusinessFeedbackRecord, DayFingerprintRecord, DeclaredMaxRecord, DeviceSessionRecord, FeedbackEntry, FeedbackTextRecord, Index, LockedReceipt,
    OpenRecord, PosClaimRecord, PosLockRecord, PosModeRecord, PosPurchaseRecord, PosRefundRecord, PosTryRecord, PosWaitRecord, SettledRecord, TextStamp, TrySlot,
    TxnRecord,
};
use super::{ActorEnv, ActorError, ConflictKind, Missing, Op};
use crate::domain::pos::purchase_matches;
use crate::domain::scoring::Scored;
use crate::domain::{
    validate_feedback_text, validate_purchase_amount, validate_purchase_time, BusinessId, DeviceHash, DomainError,
    LocationId, NetworkHash, Ore, PurchaseVerification, RewardTier, SessionId, Shingles, TransactionId,
};

/// Life-cycle state of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionState {
    /// Opened by scanning a QR code.
    Opened,
    /// The purchase was confirmed at a business whose till reports purchases, and the till has
    /// not reported it yet: it waits until `await_until`.
    AwaitingPurchase,
    /// The purchase was confirmed.
    PurchaseConfirmed,
    /// Feedback scored within a reward tier (the reward may be 0 when the budget ran out).
    Rewarded,
    /// Feedback scored below the lowest tier.
    Rejected,
    /// Not completed in time.
    Expired,
}

impl SessionState {
    /// The name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Opened => "opened",
            SessionState::AwaitingPurchase => "awaiting_purchase",
            SessionState::PurchaseConfirmed => "purchase_confirmed",
            SessionState::Rewarded => "rewarded",
            SessionState::Rejected => "rejected",
            SessionState::Expired => "expired",
        }
    }

    fn is_terminal(self) -> bool {
        matches!(self, SessionState::Rewarded | SessionState::Rejected | SessionState::Expired)
    }
}

/// A purchase as the customer confirms it; [`Purchase::new`] checks the amount (the time can only
/// be checked against the session).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purchase {
    /// Amount paid.
    pub amount: Ore,
    /// When it was paid.
    pub purchased_at: DateTime<Utc>,
    /// The till's transaction id, unique per business.
    pub transaction_id: TransactionId,
}

/// Submitted feedback, its score and (once settled) the business's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    /// The text as submitted (trimmed); `None` once redacted.
    pub text: Option<String>,
    /// When it was given.
    pub given_at: DateTime<Utc>,
    /// Its quality score (the total that counts, who gave it, and the rubric's breakdown), as
    /// the first submission brought it: a retry never scores again.
    pub score: Scored,
    /// The settlement; `None` while pending.
    pub settlement: Option<Settlement>,
    /// Why and when the text was removed, if it was.
    pub redacted: Option<Redaction>,
}

/// Why a feedback text was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RedactionReason {
    /// The customer erased their data.
    Erased,
    /// It was older than `retention.feedback_days`.
    Retention,
}

impl RedactionReason {
    /// The name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            RedactionReason::Erased => "erased",
            RedactionReason::Retention => "retention",
        }
    }
}

/// A removal of a feedback text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redaction {
    /// Why.
    pub reason: RedactionReason,
    /// When.
    pub at: DateTime<Utc>,
}

/// The session actor's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Session id.
    pub id: SessionId,
    /// Business whose QR code was scanned.
    pub business_id: BusinessId,
    /// Location of that QR code.
    pub location_id: LocationId,
    /// The business's and the location's names, as the customer is shown them.
    pub place: Place,
    /// The customer's device, as its keyed hash (never the raw id); `None` once erased.
    pub device: Option<DeviceHash>,
    /// Region that opened it.
    pub region: Region,
    /// Opening time.
    pub opened_at: DateTime<Utc>,
    /// Expiry time unless completed.
    pub expires_at: DateTime<Utc>,
    /// Current state.
    pub state: SessionState,
    /// Confirmed purchase.
    pub purchase: Option<Purchase>,
    /// Feedback.
    pub feedback: Option<Feedback>,
    /// When it reached a final state.
    pub ended_at: Option<DateTime<Utc>>,
    /// While `AwaitingPurchase`: until when it waits for the till (`pos.await_purchase_ms`).
    pub await_until: Option<DateTime<Utc>>,
    /// The last purchase the till did not back, and why (shown until a purchase is confirmed).
    pub purchase_refusal: Option<PurchaseRefusal>,
    /// The client network it was opened from, as its keyed hash (the per-network reward limit);
    /// `None` when opened without one (in-process tools) and once erased.
    pub network: Option<NetworkHash>,
    /// Till confirmations that ended unbacked (refusals), against `pos.session_failed_tries_max`.
    pub failed_tries: u32,
    /// While `AwaitingPurchase`: the till's report was compared with this purchase and did not
    /// match, so the wait ends `purchase-not-reported` (as a purchase never reported does).
    pub await_evaluated: bool,
    /// The purchase was backed by a till report (claimed), so a refund of it counts.
    pub till_backed: bool,
    /// The till refunded or cancelled the purchase.
    pub refund: Option<RefundMark>,
}

/// A till's refund of a session's purchase, as the session shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundMark {
    /// What the business took back of a paid reward (0 when none was paid).
    pub reversed: Ore,
    /// When the session learnt of it.
    pub at: DateTime<Utc>,
}

/// A purchase confirmation the till did not back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseRefusal {
    /// Why (`purchase-not-reported`, which a mismatch answers too, or `purchase-already-claimed`).
    pub kind: ConflictKind,
    /// The purchase as the customer confirmed it.
    pub purchase: Purchase,
    /// Whether it was compared with a till report (a retry of it is then answered at once).
    pub evaluated: bool,
}

impl Purchase {
    /// A purchase of `amount` (1.00 to 100 000.00 SEK) at `purchased_at` with the till's id.
    pub fn new(amount: Ore, purchased_at: DateTime<Utc>, transaction_id: TransactionId) -> Result<Purchase, DomainError> {
        validate_purchase_amount(amount)?;
        Ok(Purchase { amount, purchased_at, transaction_id })
    }
}

/// Feedback text as a customer may submit it: trimmed, 20 to 5000 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackText(String);

impl FeedbackText {
    /// Checks and trims `text`.
    pub fn new(text: &str) -> Result<FeedbackText, DomainError> {
        Ok(FeedbackText(validate_feedback_text(text)?.to_string()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a session operation answers: the session, or the settlement it needs first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Step {
    /// Done; the session as it is now.
    Done(Box<Session>),
    /// Nothing was done: the session needs `settle` from its business first (see the module docs).
    Settle {
        /// The business to ask.
        business: BusinessId,
        /// What to ask it.
        settle: Settle,
    },
}

/// The operations a session actor serves.
pub trait SessionOp: Op<Actor = SessionActor> {
    /// Runs the operation on the activated actor.
    #[allow(async_fn_in_trait)]
    async fn run(self, env: &ActorEnv, key: &str, id: &SessionId, slot: &mut Slot<Session>) -> Result<Self::Reply, ActorError>;
}

/// One feedback session.
pub struct SessionActor {
    id: SessionId,
    key: String,
    env: ActorEnv,
    mailbox_len: usize,
    slot: Slot<Session>,
}

actor_shell!(SessionActor, SessionId, Session, "session", session_id, SessionOp);

/// Opens the session (its id is the actor's) for a device at a location.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenSession {
    /// The business.
    pub business_id: BusinessId,
    /// The location.
    pub location_id: LocationId,
    /// Their names.
    pub place: Place,
    /// The device, as its keyed hash.
    pub device: DeviceHash,
    /// The client network, as its keyed hash, when the session is opened over HTTP.
    pub network: Option<NetworkHash>,
}

/// The names a customer sees for where they are giving feedback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    /// The business's name.
    pub business_name: String,
    /// The location's name.
    pub location_name: String,
}

/// What opening answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Opened {
    /// The session (new, or this one existed already: opening is idempotent).
    Session(Box<Session>),
    /// The device has another open session at the location; nothing was created.
    DeviceHasSession(SessionId),
}

/// Reads the session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GetSession;

/// Confirms the purchase.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfirmPurchase(pub Purchase);

/// Submits feedback with the score the node core gave it (`core::scoring`, outside the actor's
/// slot). Only the first submission's score is stored: a retry with the same text gets the
/// session as it is, whatever score it carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GiveFeedback {
    /// The text.
    pub text: FeedbackText,
    /// Its score.
    pub score: Scored,
}

/// Expires the session if its time is up (from the node's sweeper).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Expire;

/// What the business's settlement did to this session; the session takes it and reconciles.
/// With `written`, the business wrote that state under this session's fence: it is taken if
/// the fence is still this activation's. Otherwise the session re-reads its stored state (after
/// a read barrier; an owner that moved on is `Fenced`), and if that still needs the
/// `settlement` (a settlement written before issue 22, without the session's state) records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordSettlement {
    /// The business's settlement, when it has one (`None`: it refused the session's fence).
    pub settlement: Option<Settlement>,
    /// The session state the settlement wrote, when this call's settlement wrote it.
    pub written: Option<SessionWritten>,
}

/// A session's fence as it hands it to its business for the settlement: the business writes
/// `session`'s settled state fenced by `owner` and `version`, in one command with its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionFence {
    /// The session's owner (node and epoch) of the activation that asks.
    pub owner: Owner,
    /// The stored version that activation holds.
    pub version: u64,
    /// The session as it is to be settled (with its feedback, which is not stored before).
    pub session: Box<Session>,
}

/// The session state a settlement wrote, and its new version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionWritten {
    /// The fence it was written under.
    pub owner: Owner,
    /// The version after the write.
    pub version: u64,
    /// The settled session.
    pub session: Box<Session>,
}

/// Records the business's review of this session's held reward (its settlement as decided);
/// changes nothing unless the session's reward is still pending review.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordReview(pub Settlement);

/// The till reported a purchase this session waits for (from the webhook path): back the
/// waiting confirmation with it, or refuse it, as `ConfirmPurchase` would.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MatchPurchase;
/// Erases what ties this session to a customer: its feedback text and its device link (the
/// customer's erasure request; the device's records go too). Scores, rewards and the business's
/// analytics stay. A session of another device is left as it is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Erase(pub DeviceHash);

/// Deletes this session's fingerprint from every business's record of the last day, if it is
/// there (the sweeper, once the day has passed). The text and everything else stay.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForgetDayFingerprint;

/// Redacts the feedback text if it was given at or before the cutoff (the retention sweeper).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RedactOldText {
    /// Texts given at or before this are redacted.
    pub given_before: DateTime<Utc>,
}

op!(SessionActor, SessionId: OpenSession -> Opened, creates = true);
op!(SessionActor, SessionId: GetSession -> Step);
op!(SessionActor, SessionId: ConfirmPurchase -> Step);
op!(SessionActor, SessionId: GiveFeedback -> Step);
op!(SessionActor, SessionId: Expire -> Step);
op!(SessionActor, SessionId: RecordSettlement -> Step);
op!(SessionActor, SessionId: RecordReview -> Step);
op!(SessionActor, SessionId: MatchPurchase -> Step);

fn wait_record(s: &Session, p: &Purchase) -> PosWaitRecord {
    PosWaitRecord { location: s.location_id.clone(), receipt: p.transaction_id.clone(), session: s.id.clone() }
}

/// The wait record of a session that waits for its till (it wrote it when it started waiting;
/// deleting a record that a mismatched wait never wrote is harmless).
fn wait_delete(s: &Session) -> Option<String> {
    match (&s.purchase, s.await_until) {
        (Some(p), Some(_)) => Some(wait_record(s, p).key()),
        _ => None,
    }
}

/// How the session's business verifies purchases: the record the business writes with its
/// state. Read after a read barrier unless this node already sees `pos` (a business switching
/// to `pos` must not let one stale node accept a self-declared purchase).
async fn verification(env: &ActorEnv, s: &Session) -> Result<PurchaseVerification, ActorError> {
    let mode = PosModeRecord { business: s.business_id.clone() };
    if mode.read(env.cluster.view())? == Some(PurchaseVerification::Pos) {
        return Ok(PurchaseVerification::Pos);
    }
    // The business writes the record, in its group: that group's barrier is enough.
    super::group_barrier(&env.cluster, s.business_id.clone()).await?;
    Ok(mode.read(env.cluster.view())?.unwrap_or_default())
}

/// The till's report of `p` at the session's location, if it arrived; after a read barrier when
/// `barrier` (a "not reported" answer must not come from a node that is behind).
async fn reported(env: &ActorEnv, s: &Session, p: &Purchase, barrier: bool) -> Result<Option<crate::domain::ReportedPurchase>, ActorError> {
    let record = PosPurchaseRecord { location: s.location_id.clone(), receipt: p.transaction_id.clone() };
    if barrier {
        // Tills' reports are written by the business actor, in its group.
        super::group_barrier(&env.cluster, s.business_id.clone()).await?;
    }
    record.read(env.cluster.view())
}

/// Stops waiting (if it was) and keeps the refusal visible; answers the session as it is then.
/// Every new refusal counts as one failed try of the session (`pos.session_failed_tries_max`),
/// whatever its kind, so the count tells nothing about the receipt.
async fn refuse(env: &ActorEnv, slot: &mut Slot<Session>, s: &Session, p: &Purchase, kind: ConflictKind, evaluated: bool) -> Result<Session, ActorError> {
    let refusal = PurchaseRefusal { kind, purchase: p.clone(), evaluated };
    if s.state == SessionState::Opened && s.purchase_refusal.as_ref() == Some(&refusal) {
        return Ok(s.clone());
    }
    let mut next = s.clone();
    next.state = SessionState::Opened;
    next.purchase = None;
    next.await_until = None;
    next.await_evaluated = false;
    next.purchase_refusal = Some(refusal);
    next.failed_tries = next.failed_tries.saturating_add(1);
    slot.commit(env, next.clone(), vec![], wait_delete(s).into_iter().collect()).await?;
    tracing::info!(refusal = kind.as_str(), failed_tries = next.failed_tries, "till purchase refused");
    Ok(next)
}

fn refusal_error(kind: ConflictKind, p: &Purchase) -> ActorError {
    let detail = match kind {
        // One answer for "not reported" and "reported with another amount" (issue 20): a
        // different answer would tell a guesser which receipts the till reported.
        ConflictKind::PurchaseNotReported => format!("the till has not reported purchase {} at this location with this amount", p.transaction_id),
        _ => format!("purchase {} already backs another session", p.transaction_id),
    };
    ActorError::conflict(kind, detail)
}

/// What evaluating a confirmation against a reported receipt did.
enum Attempt {
    /// It matched and this session claimed the purchase (committed).
    Claimed(Session),
    /// It matched, and another session had claimed the purchase first (nothing committed).
    ClaimedByOther,
    /// It did not match: the try took one of the receipt's slots, committed with `unbacked`.
    Mismatched(Session),
    /// The receipt takes no tries: locked by its mismatches, or refunded (nothing committed).
    /// The caller treats it as a purchase the till has not reported.
    Blocked,
}

/// Evaluates `p` against the till's report `r`, at most once per free try slot of the receipt
/// (`postry/`, `pos.receipt_mismatches_max` of them). Every evaluation takes the next free slot
/// with insert-new in the same write as its outcome, so concurrent tries serialise on the slots
/// and a receipt is never evaluated more times than it has slots; a match claims the purchase
/// (`posclaim/`, insert-new) in that write too. On a mismatch `unbacked` is committed (with the
/// deletes `unbacked_deletes`); the try that takes the last slot also writes the business's lock
/// record.
async fn attempt(
    env: &ActorEnv,
    slot: &mut Slot<Session>,
    s: &Session,
    p: &Purchase,
    r: &crate::domain::ReportedPurchase,
    unbacked: Session,
    unbacked_deletes: Vec<String>,
) -> Result<Attempt, ActorError> {
    let max = env.pos.receipt_mismatches_max;
    let (location, receipt) = (s.location_id.clone(), p.transaction_id.clone());
    for _ in 0..=max {
        let view = env.cluster.view();
        if (PosRefundRecord { location: location.clone(), receipt: receipt.clone() }).exists(view)? {
            return Ok(Attempt::Blocked);
        }
        let mut taken = 0;
        while taken < max && (PosTryRecord { location: location.clone(), slot: TrySlot::nth(taken), receipt: receipt.clone() }).exists(view)? {
            taken += 1;
        }
        if taken >= max {
            return Ok(Attempt::Blocked);
        }
        let try_record = PosTryRecord { location: location.clone(), slot: TrySlot::nth(taken), receipt: receipt.clone() };
        let mut writes = vec![try_record.write(&s.id, IndexMode::InsertNew)?];
        let claim = PosClaimRecord { location: location.clone(), receipt: receipt.clone() };
        let (next, deletes) = match purchase_matches(r, p.amount, p.purchased_at, env.pos.match_window) {
            Ok(()) => {
                let mut next = s.clone();
                next.state = SessionState::PurchaseConfirmed;
                next.purchase = Some(p.clone());
                next.await_until = None;
                next.await_evaluated = false;
                next.purchase_refusal = None;
                next.till_backed = true;
                writes.push(claim.write(&s.id, IndexMode::InsertNew)?);
                (next, wait_delete(s).into_iter().collect())
            }
            Err(m) => {
                tracing::info!(mismatch = ?m, slot = taken, "confirmation does not match the till");
                if taken + 1 == max {
                    let lock = PosLockRecord { business: s.business_id.clone(), location: location.clone(), receipt: receipt.clone() };
                    let value = LockedReceipt { location: location.clone(), receipt: receipt.clone(), at: env.clock.now() };
                    writes.push(lock.write(&value, IndexMode::Upsert)?);
                }
                (unbacked.clone(), unbacked_deletes.clone())
            }
        };
        let matched = next.state == SessionState::PurchaseConfirmed;
        match slot.commit(env, next.clone(), writes, deletes).await? {
            Persisted::Ok if matched => {
                tracing::info!(amount_ore = p.amount.as_ore(), "purchase confirmed by the till");
                return Ok(Attempt::Claimed(next));
            }
            Persisted::Ok => return Ok(Attempt::Mismatched(next)),
            Persisted::IndexTaken { key, .. } if key == claim.key() => return Ok(Attempt::ClaimedByOther),
            // Another session took this slot first; the refused write is applied here now, so
            // the next round sees it and takes the next slot.
            Persisted::IndexTaken { .. } => continue,
        }
    }
    Err(ActorError::Busy { what: format!("receipt {receipt}") })
}

/// A waiting session, once more: backed if the till reported its purchase and it matches
/// (checked after a read barrier when `barrier` or when the wait is over), refused
/// `purchase-not-reported` once `await_until` passed (whether the till never reported it or
/// reported another amount: one answer), `purchase-already-claimed` when another session
/// claimed that exact purchase first; else unchanged. Any other session is returned as it is.
async fn resolve_awaiting(env: &ActorEnv, slot: &mut Slot<Session>, s: Session, barrier: bool) -> Result<Session, ActorError> {
    let (Some(p), Some(until), SessionState::AwaitingPurchase) = (s.purchase.clone(), s.await_until, s.state) else {
        return Ok(s);
    };
    let over = env.clock.now() >= until;
    // Read even when this wait was evaluated already: both kinds of wait take the same steps.
    let report = reported(env, &s, &p, barrier || over).await?;
    if let (Some(r), false) = (report, s.await_evaluated) {
        let mut unbacked = s.clone();
        unbacked.await_evaluated = true;
        match attempt(env, slot, &s, &p, &r, unbacked, wait_delete(&s).into_iter().collect()).await? {
            Attempt::Claimed(next) => return Ok(next),
            Attempt::ClaimedByOther => return refuse(env, slot, &s, &p, ConflictKind::PurchaseAlreadyClaimed, true).await,
            Attempt::Mismatched(next) if over => return refuse(env, slot, &next, &p, ConflictKind::PurchaseNotReported, true).await,
            Attempt::Mismatched(next) => return Ok(next),
            Attempt::Blocked => {}
        }
    }
    if over {
        return refuse(env, slot, &s, &p, ConflictKind::PurchaseNotReported, s.await_evaluated).await;
    }
    Ok(s)
}

/// Starts waiting for the till to report `p` (the session is `Opened`).
fn awaiting(env: &ActorEnv, s: &Session, p: &Purchase, evaluated: bool) -> Result<Session, ActorError> {
    let wait = chrono::Duration::from_std(env.pos.await_purchase).map_err(|e| ActorError::Internal(format!("await window out of range: {e}")))?;
    let mut next = s.clone();
    next.state = SessionState::AwaitingPurchase;
    next.purchase = Some(p.clone());
    next.await_until = Some(env.clock.now() + wait);
    next.await_evaluated = evaluated;
    next.purchase_refusal = None;
    Ok(next)
}

/// `ConfirmPurchase` at a business whose till reports purchases (the session is `Opened`).
///
/// A purchase the till reported and this confirmation matches is claimed at once (200). Any
/// other confirmation waits `pos.await_purchase_ms` and then ends `purchase-not-reported`: a
/// purchase the till has not reported, one it reported with another amount or time (the try
/// takes one of the receipt's slots), and a receipt that takes no tries (locked, refunded) all
/// get that one answer, by the same steps, so the answers tell a guesser nothing.
async fn confirm_by_till(env: &ActorEnv, slot: &mut Slot<Session>, s: Session, p: Purchase) -> Result<Step, ActorError> {
    if s.failed_tries >= env.pos.session_failed_tries_max {
        return Err(ActorError::conflict(
            ConflictKind::PurchaseTriesExhausted,
            format!("session {} had {} till confirmations that were not backed; it can no longer claim a till purchase", s.id, s.failed_tries),
        ));
    }
    let report = reported(env, &s, &p, true).await?;
    // The same receipt and amount again after its wait ended (the time may differ: it is typed
    // again): answered at once. Only a report that arrived since, or a receipt released since,
    // and so was never compared with this amount, is evaluated. Another amount is a new try.
    let retry = s
        .purchase_refusal
        .clone()
        .filter(|r| r.kind == ConflictKind::PurchaseNotReported && r.purchase.transaction_id == p.transaction_id && r.purchase.amount == p.amount);
    if let Some(refused) = retry {
        let (Some(r), false) = (report, refused.evaluated) else { return Err(refusal_error(ConflictKind::PurchaseNotReported, &p)) };
        let mut unbacked = s.clone();
        unbacked.purchase_refusal = Some(PurchaseRefusal { evaluated: true, ..refused });
        return match attempt(env, slot, &s, &p, &r, unbacked, vec![]).await? {
            Attempt::Claimed(next) => done(&next),
            Attempt::ClaimedByOther => {
                refuse(env, slot, &s, &p, ConflictKind::PurchaseAlreadyClaimed, true).await?;
                Err(refusal_error(ConflictKind::PurchaseAlreadyClaimed, &p))
            }
            Attempt::Mismatched(_) | Attempt::Blocked => Err(refusal_error(ConflictKind::PurchaseNotReported, &p)),
        };
    }
    let waiting = match report {
        Some(r) => match attempt(env, slot, &s, &p, &r, awaiting(env, &s, &p, true)?, vec![]).await? {
            Attempt::Claimed(next) => return done(&next),
            Attempt::ClaimedByOther => {
                refuse(env, slot, &s, &p, ConflictKind::PurchaseAlreadyClaimed, true).await?;
                return Err(refusal_error(ConflictKind::PurchaseAlreadyClaimed, &p));
            }
            Attempt::Mismatched(next) => Some(next),
            Attempt::Blocked => None,
        },
        None => None,
    };
    let next = match waiting {
        Some(next) => next,
        None => {
            let next = awaiting(env, &s, &p, false)?;
            slot.commit(env, next.clone(), vec![wait_record(&s, &p).write(&p.amount, IndexMode::Upsert)?], vec![]).await?;
            next
        }
    };
    tracing::info!(receipt = %p.transaction_id, "waiting for the till to report the purchase");
    // The webhook path records the purchase, then looks for wait records; checking once more
    // after writing ours means one of the two always sees the other.
    done(&resolve_awaiting(env, slot, next, true).await?)
}

/// The till refunded or cancelled this session's purchase (from the webhook path, after its
/// business recorded the refund and reversed a paid reward): marks the session, so it and its
/// page show it. Idempotent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PurchaseRefunded {
    /// What the business reversed of a paid reward (0 when nothing was paid yet: the
    /// settlement withholds it instead).
    pub reversed: Ore,
}

op!(SessionActor, SessionId: PurchaseRefunded -> Step);

impl SessionOp for PurchaseRefunded {
    async fn run(self, env: &ActorEnv, _key: &str, id: &SessionId, slot: &mut Slot<Session>) -> Result<Step, ActorError> {
        let session = match current(env, id, slot)? {
            Ok(s) => s,
            Err(step) => return Ok(step),
        };
        if session.refund.is_some_and(|r| r.reversed == self.reversed) {
            return done(&session);
        }
        let mut next = session.clone();
        next.refund = Some(RefundMark { reversed: self.reversed, at: env.clock.now() });
        slot.commit(env, next.clone(), vec![], vec![]).await?;
        tracing::info!(reversed_ore = self.reversed.as_ore(), "purchase refunded by the till");
        done(&next)
    }
}

op!(SessionActor, SessionId: Erase -> Step);
op!(SessionActor, SessionId: RedactOldText -> Step);
op!(SessionActor, SessionId: ForgetDayFingerprint -> Step);

fn ended_deletes(s: &Session) -> Vec<String> {
    let mut deletes = vec![OpenRecord { session: s.id.clone() }.key()];
    if let Some(device) = &s.device {
        deletes.push(ActiveRecord { location: s.location_id.clone(), device: device.clone() }.key());
    }
    deletes.extend(wait_delete(s));
    deletes
}

fn text_record(s: &Session, f: &Feedback) -> FeedbackTextRecord {
    FeedbackTextRecord { at: TextStamp::at(f.given_at), session: s.id.clone() }
}

/// The entry of `s`'s feedback in its business's list.
fn list_record(s: &Session, f: &Feedback) -> BusinessFeedbackRecord {
    BusinessFeedbackRecord::of(&s.business_id, f.given_at, &s.id)
}

/// The write of `s`'s feedback into its business's list, once settled in a score (and while it
/// still has its text: an erased or redacted text is never listed).
fn list_write(s: &Session) -> Result<Option<svea_storage::IndexWrite>, ActorError> {
    let Some(f) = &s.feedback else { return Ok(None) };
    let (Some(text), Some(settlement)) = (&f.text, &f.settlement) else { return Ok(None) };
    if !matches!(settlement.outcome, Outcome::Scored { .. }) {
        return Ok(None);
    }
    let entry = FeedbackEntry {
        text: text.clone(),
        score: f.score.clone(),
        tier: settlement.decision.tier,
        reward: settlement.decision.amount,
        location: s.location_id.clone(),
        location_name: s.place.location_name.clone(),
        given_at: f.given_at,
    };
    Ok(Some(list_record(s, f).write(&entry, IndexMode::Upsert)?))
}

/// Removes the feedback text of `next` for `reason`, returning the deletes of its text record
/// and of its entry in the business's list (empty when there was no text).
fn redact(next: &mut Session, reason: RedactionReason, now: DateTime<Utc>) -> Vec<String> {
    let list = next.feedback.as_ref().map(|f| list_record(next, f).key());
    let id = next.id.clone();
    let Some(f) = next.feedback.as_mut() else { return Vec::new() };
    if f.text.take().is_none() {
        return Vec::new();
    }
    f.redacted = Some(Redaction { reason, at: now });
    let mut deletes = vec![FeedbackTextRecord { at: TextStamp::at(f.given_at), session: id.clone() }.key()];
    deletes.extend(list);
    // Its fingerprint in every business's last day goes with the text.
    deletes.push(DayFingerprintRecord { at: TextStamp::at(f.given_at), session: id }.key());
    deletes
}

fn done(s: &Session) -> Result<Step, ActorError> {
    Ok(Step::Done(Box::new(s.clone())))
}

fn expired_error(s: &Session) -> ActorError {
    ActorError::conflict(ConflictKind::SessionExpired, format!("session {} expired at {}", s.id, s.expires_at))
}

fn settle_step(slot: &Slot<Session>, s: &Session, outcome: Outcome) -> Step {
    let fingerprint = match outcome {
        Outcome::Scored { .. } => s
            .feedback
            .as_ref()
            .and_then(|f| f.text.as_deref().map(|t| TextPrint { shingles: Shingles::of(t), given_at: f.given_at })),
        Outcome::Expired => None,
    };
    let till_purchase = s.purchase.as_ref().filter(|_| s.till_backed).map(|p| (s.location_id.clone(), p.transaction_id.clone()));
    let fence = slot
        .cell
        .as_ref()
        .filter(|c| c.claimed)
        .map(|c| SessionFence { owner: c.owner, version: c.version, session: Box::new(s.clone()) });
    let settle = Settle { session: s.id.clone(), opened_at: s.opened_at, outcome, device: s.device.clone(), fingerprint, network: s.network.clone(), till_purchase, fence };
    Step::Settle { business: s.business_id.clone(), settle }
}

/// The session as `settlement` leaves it at `now`, with the records written and deleted with
/// it: its final state, out of the open indexes, its text record and its entry in the
/// business's feedback list. Pure: the business calls it to write the session's part of the
/// settlement, the session to record a settlement written without it.
pub fn settled(s: &Session, settlement: Settlement, now: DateTime<Utc>) -> Result<(Session, Vec<svea_storage::IndexWrite>, Vec<String>), ActorError> {
    let mut next = s.clone();
    next.state = match settlement.outcome {
        // The business had settled this session as expired (the deadline won a race).
        Outcome::Expired => SessionState::Expired,
        Outcome::Scored { .. } if next.feedback.is_none() => {
            return Err(ActorError::Internal(format!("scored settlement for session {} without feedback", s.id)))
        }
        Outcome::Scored { .. } if settlement.decision.tier == RewardTier::None => SessionState::Rejected,
        Outcome::Scored { .. } => SessionState::Rewarded,
    };
    next.ended_at = Some(now);
    if let Some(f) = next.feedback.as_mut() {
        f.settlement = Some(settlement);
    }
    let deletes = ended_deletes(&next);
    let mut writes: Vec<_> = list_write(&next)?.into_iter().collect();
    if let Some(f) = next.feedback.as_ref().filter(|f| f.text.is_some()) {
        writes.push(text_record(&next, f).write(&(), IndexMode::Upsert)?);
    }
    Ok((next, writes, deletes))
}

/// The session, unless it needs a settlement first: feedback accepted before the deadline is
/// settled even if the deadline passed meanwhile; an open session past its deadline expires.
fn current(env: &ActorEnv, id: &SessionId, slot: &Slot<Session>) -> Result<Result<Session, Step>, ActorError> {
    let Some(session) = slot.state.clone() else {
        return Err(ActorError::NotFound { what: Missing::Session, id: id.to_string() });
    };
    if let (Some(p), Some(f)) = (&session.purchase, &session.feedback) {
        if f.settlement.is_none() {
            let outcome = Outcome::Scored { score: f.score.total, purchase: p.amount };
            return Ok(Err(settle_step(slot, &session, outcome)));
        }
    }
    if !session.state.is_terminal() && env.clock.now() >= session.expires_at {
        return Ok(Err(settle_step(slot, &session, Outcome::Expired)));
    }
    Ok(Ok(session))
}

impl SessionOp for OpenSession {
    async fn run(self, env: &ActorEnv, _key: &str, id: &SessionId, slot: &mut Slot<Session>) -> Result<Opened, ActorError> {
        if let Some(existing) = &slot.state {
            return Ok(Opened::Session(Box::new(existing.clone())));
        }
        let now = env.clock.now();
        let expiry = chrono::Duration::from_std(env.session_expiry)
            .map_err(|e| ActorError::Internal(format!("session expiry out of range: {e}")))?;
        let session = Session {
            id: id.clone(),
            business_id: self.business_id,
            location_id: self.location_id,
            place: self.place,
            device: Some(self.device.clone()),
            region: env.region.clone(),
            opened_at: now,
            expires_at: now + expiry,
            state: SessionState::Opened,
            purchase: None,
            feedback: None,
            ended_at: None,
            await_until: None,
            purchase_refusal: None,
            network: self.network,
            failed_tries: 0,
            await_evaluated: false,
            till_backed: false,
            refund: None,
        };
        let active = ActiveRecord { location: session.location_id.clone(), device: self.device.clone() };
        let writes = vec![
            OpenRecord { session: id.clone() }.write(&session.expires_at.timestamp_millis(), IndexMode::Upsert)?,
            active.write(id, IndexMode::InsertNew)?,
            DeviceSessionRecord { device: self.device, session: id.clone() }.write(&(), IndexMode::Upsert)?,
        ];
        match slot.commit(env, session.clone(), writes, vec![]).await? {
            Persisted::Ok => {}
            Persisted::IndexTaken { existing, .. } => return Ok(Opened::DeviceHasSession(active.decode(&existing)?)),
        }
        tracing::info!(business_id = %session.business_id, "session opened");
        Ok(Opened::Session(Box::new(session)))
    }
}

impl SessionOp for GetSession {
    async fn run(self, env: &ActorEnv, key: &str, id: &SessionId, slot: &mut Slot<Session>) -> Result<Step, ActorError> {
        let session = match current(env, id, slot)? {
            Ok(s) => s,
            Err(step) => return Ok(step),
        };
        slot.confirm_owner(env, key).await?;
        let session = resolve_review(env, slot, session).await?;
        done(&resolve_awaiting(env, slot, session, false).await?)
    }
}

impl SessionOp for MatchPurchase {
    async fn run(self, env: &ActorEnv, _key: &str, id: &SessionId, slot: &mut Slot<Session>) -> Result<Step, ActorError> {
        match current(env, id, slot)? {
            Ok(s) => done(&resolve_awaiting(env, slot, s, true).await?),
            Err(step) => Ok(step),
        }
    }
}

impl SessionOp for Expire {
    async fn run(self, env: &ActorEnv, _key: &str, id: &SessionId, slot: &mut Slot<Session>) -> Result<Step, ActorError> {
        match current(env, id, slot)? {
            Ok(s) => done(&s),
            Err(step) => Ok(step),
        }
    }
}

impl SessionOp for ConfirmPurchase {
    async fn run(self, env: &ActorEnv, _key: &str, id: &SessionId, slot: &mut Slot<Session>) -> Result<Step, ActorError> {
        let session = match current(env, id, slot)? {
            Ok(s) => s,
            Err(step) => return Ok(step),
        };
        let purchase = self.0;
        let session = resolve_awaiting(env, slot, session, false).await?;
        match session.state {
            SessionState::Opened => {}
            SessionState::Expired => return Err(expired_error(&session)),
            SessionState::AwaitingPurchase if session.purchase.as_ref() == Some(&purchase) => return done(&session),
            _ if session.purchase.as_ref() == Some(&purchase) => return done(&session),
            _ => {
                return Err(ActorError::conflict(
                    ConflictKind::PurchaseAlreadyConfirmed,
                    format!("session {} already has a different confirmed purchase", session.id),
                ))
            }
        }
        validate_purchase_time(purchase.purchased_at, session.opened_at, env.clock.now())?;
        if verification(env, &session).await? == PurchaseVerification::Pos {
            return confirm_by_till(env, slot, session, purchase).await;
        }
        // Self-declared: up to the business's ceiling (read after `verification`'s read barrier,
        // so a lowered ceiling holds on every node at once). Above it only the till can vouch.
        let max = DeclaredMaxRecord { business: session.business_id.clone() }.read(env.cluster.view())?.unwrap_or(env.limits.declared_amount_max);
        if purchase.amount > max {
            return Err(DomainError::DeclaredAmountNeedsTill { amount: purchase.amount, max }.into());
        }
        let mut next = session.clone();
        next.state = SessionState::PurchaseConfirmed;
        next.purchase = Some(purchase.clone());
        let unique = TxnRecord { business: session.business_id.clone(), transaction: purchase.transaction_id.clone() }
            .write(&session.id, IndexMode::InsertNew)?;
        match slot.commit(env, next.clone(), vec![unique], vec![]).await? {
            Persisted::Ok => {
                tracing::info!(amount_ore = purchase.amount.as_ore(), "purchase confirmed");
                done(&next)
            }
            Persisted::IndexTaken { .. } => Err(ActorError::conflict(
                ConflictKind::TransactionIdReused,
                format!("transaction id {} was already used for another session of this business", purchase.transaction_id),
            )),
        }
    }
}

impl SessionOp for GiveFeedback {
    async fn run(self, env: &ActorEnv, _key: &str, id: &SessionId, slot: &mut Slot<Session>) -> Result<Step, ActorError> {
        let session = match current(env, id, slot)? {
            Ok(s) => s,
            Err(step) => return Ok(step),
        };
        let text = self.text.as_str();
        let session = resolve_awaiting(env, slot, session, false).await?;
        match session.state {
            SessionState::Opened => {
                return Err(ActorError::conflict(ConflictKind::PurchaseNotConfirmed, "confirm the purchase before giving feedback"))
            }
            SessionState::AwaitingPurchase => {
                return Err(ActorError::conflict(ConflictKind::PurchaseNotConfirmed, "the purchase is still waiting for the till's report"))
            }
            SessionState::Expired => return Err(expired_error(&session)),
            SessionState::Rewarded | SessionState::Rejected => {
                return match &session.feedback {
                    Some(f) if f.text.as_deref() == Some(text) => done(&session),
                    // A redacted text cannot be compared: a retry after a redaction gets the
                    // session as it is (nothing is scored or paid again).
                    Some(f) if f.redacted.is_some() => done(&session),
                    _ => Err(ActorError::conflict(
                        ConflictKind::FeedbackAlreadySubmitted,
                        format!("session {} already has feedback", session.id),
                    )),
                };
            }
            SessionState::PurchaseConfirmed => {}
        }
        // The score comes from this node's core or, forwarded, from another node's: either way
        // from our own code, so a bad one is a bug, not a customer's input.
        if !self.score.is_valid() {
            return Err(ActorError::Internal(format!("feedback score out of range: {:?}", self.score)));
        }
        let score = self.score;
        tracing::info!(score = score.total, score_source = score.source.as_str(), "feedback scored");
        let mut pending = session.clone();
        let feedback = Feedback { text: Some(text.to_string()), given_at: env.clock.now(), score, settlement: None, redacted: None };
        let purchase = session.purchase.as_ref().map(|p| p.amount).ok_or_else(|| ActorError::Internal(format!("session {id} is purchase_confirmed without a purchase")))?;
        let outcome = Outcome::Scored { score: feedback.score.total, purchase };
        pending.feedback = Some(feedback);
        // Not stored here: the business writes it, settled, with its settlement (one commit).
        Ok(settle_step(slot, &pending, outcome))
    }
}

impl SessionOp for RecordSettlement {
    async fn run(self, env: &ActorEnv, key: &str, id: &SessionId, slot: &mut Slot<Session>) -> Result<Step, ActorError> {
        let fits = |slot: &Slot<Session>, w: &SessionWritten| {
            slot.cell.as_ref().is_some_and(|c| c.claimed && c.owner == w.owner && c.version + 1 == w.version)
        };
        if let Some(w) = self.written.filter(|w| fits(slot, w)) {
            // Written under our fence, and nothing of ours was written since: take it.
            if let Some(c) = slot.cell.as_mut() {
                c.version = w.version;
            }
            slot.state = Some(*w.session);
            return done_settled(slot, id);
        }
        // Anything else: what is stored is the truth. Our claim must still hold, and a newer
        // version (a settlement written under our fence whose answer we did not get) is taken.
        slot.confirm_owner(env, key).await?;
        let stored = env.cluster.view().state(key)?;
        if let (Some(v), Some(c)) = (stored, slot.cell.as_mut()) {
            if v.version != c.version {
                slot.state = Some(svea_storage::codec::decode::<Session>(&v.bytes)?);
                c.version = v.version;
            }
        }
        let Some(session) = slot.state.clone() else {
            return Err(ActorError::NotFound { what: Missing::Session, id: id.to_string() });
        };
        let Some(settlement) = self.settlement else { return done(&session) };
        let pending = session.feedback.as_ref().is_some_and(|f| f.settlement.is_none());
        if session.state.is_terminal() && !pending {
            return done(&session);
        }
        if matches!(settlement.outcome, Outcome::Scored { .. }) && session.feedback.is_none() {
            // The business settled feedback this session never stored (its answer was lost and
            // the session moved on): the next operation asks again and gets the same settlement.
            return done(&session);
        }
        // A settlement written without the session's state (before issue 22): record it.
        let (next, writes, deletes) = settled(&session, settlement, env.clock.now())?;
        slot.commit(env, next.clone(), writes, deletes).await?;
        tracing::info!(state = next.state.as_str(), reward_ore = settlement.decision.amount.as_ore(), "session settled");
        done(&next)
    }
}

fn done_settled(slot: &Slot<Session>, id: &SessionId) -> Result<Step, ActorError> {
    match &slot.state {
        Some(s) => {
            tracing::info!(state = s.state.as_str(), "session settled");
            done(s)
        }
        None => Err(ActorError::NotFound { what: Missing::Session, id: id.to_string() }),
    }
}

impl SessionOp for RecordReview {
    async fn run(self, env: &ActorEnv, _key: &str, id: &SessionId, slot: &mut Slot<Session>) -> Result<Step, ActorError> {
        let Some(session) = slot.state.clone() else {
            return Err(ActorError::NotFound { what: Missing::Session, id: id.to_string() });
        };
        done(&adopt_review(env, slot, session, self.0).await?)
    }
}

/// Whether the session's reward waits for its business's review.
fn pending_review(s: &Session) -> bool {
    s.feedback.as_ref().and_then(|f| f.settlement).is_some_and(|st| st.pending_review())
}

/// Takes the business's decided settlement of a held reward (and updates the business's
/// feedback list entry with what it paid); a session not pending review, or a settlement still
/// pending, stays as it is.
async fn adopt_review(env: &ActorEnv, slot: &mut Slot<Session>, s: Session, decided: Settlement) -> Result<Session, ActorError> {
    if !pending_review(&s) || decided.pending_review() || decided.held.is_none() {
        return Ok(s);
    }
    let mut next = s.clone();
    if let Some(f) = next.feedback.as_mut() {
        f.settlement = Some(decided);
    }
    let writes: Vec<_> = list_write(&next)?.into_iter().collect();
    slot.commit(env, next.clone(), writes, vec![]).await?;
    tracing::info!(reward_ore = decided.decision.amount.as_ore(), withheld = ?decided.withheld, "held reward review recorded");
    Ok(next)
}

/// A session pending review, once more: if its business decided meanwhile (its settlement
/// record says so) but the review never reached the session (the caller failed between the two
/// writes), take the decision now.
async fn resolve_review(env: &ActorEnv, slot: &mut Slot<Session>, s: Session) -> Result<Session, ActorError> {
    if !pending_review(&s) {
        return Ok(s);
    }
    match (SettledRecord { business: s.business_id.clone(), session: s.id.clone() }).read(env.cluster.view())? {
        Some(decided) if decided.withheld != Some(Withheld::PendingReview) => adopt_review(env, slot, s, decided).await,
        _ => Ok(s),
    }
}

impl SessionOp for Erase {
    async fn run(self, env: &ActorEnv, _key: &str, id: &SessionId, slot: &mut Slot<Session>) -> Result<Step, ActorError> {
        let session = match current(env, id, slot)? {
            Ok(s) => s,
            Err(step) => return Ok(step),
        };
        let link = DeviceSessionRecord { device: self.0.clone(), session: id.clone() };
        if session.device.as_ref() != Some(&self.0) {
            // Not this device's session (or erased already): only a stale link can point here.
            if link.exists(env.cluster.view())? {
                slot.commit(env, session.clone(), vec![], vec![link.key()]).await?;
            }
            return done(&session);
        }
        let mut next = session.clone();
        let mut deletes = vec![link.key()];
        if !next.state.is_terminal() {
            // Its device's open-session record points here (an ended session's is gone already).
            deletes.push(ActiveRecord { location: next.location_id.clone(), device: self.0 }.key());
        }
        next.device = None;
        next.network = None;
        deletes.extend(redact(&mut next, RedactionReason::Erased, env.clock.now()));
        slot.commit(env, next.clone(), vec![], deletes).await?;
        tracing::info!("session erased at the customer's request");
        done(&next)
    }
}

impl SessionOp for RedactOldText {
    async fn run(self, env: &ActorEnv, _key: &str, id: &SessionId, slot: &mut Slot<Session>) -> Result<Step, ActorError> {
        let session = match current(env, id, slot)? {
            Ok(s) => s,
            Err(step) => return Ok(step),
        };
        let Some(f) = session.feedback.as_ref().filter(|f| f.given_at <= self.given_before) else {
            return done(&session);
        };
        let records = [text_record(&session, f).key(), list_record(&session, f).key()];
        let mut next = session.clone();
        let deletes = redact(&mut next, RedactionReason::Retention, env.clock.now());
        if deletes.is_empty() {
            // No text left (erased meanwhile); only its records, if any, are left to remove.
            let view = env.cluster.view();
            let mut left = Vec::with_capacity(records.len());
            for k in records {
                if view.index(&k)?.is_some() {
                    left.push(k);
                }
            }
            if !left.is_empty() {
                slot.commit(env, session.clone(), vec![], left).await?;
            }
            return done(&session);
        }
        slot.commit(env, next.clone(), vec![], deletes).await?;
        tracing::info!("feedback text redacted after its retention");
        done(&next)
    }
}

impl SessionOp for ForgetDayFingerprint {
    async fn run(self, env: &ActorEnv, _key: &str, id: &SessionId, slot: &mut Slot<Session>) -> Result<Step, ActorError> {
        let session = match current(env, id, slot)? {
            Ok(s) => s,
            Err(step) => return Ok(step),
        };
        let Some(f) = &session.feedback else { return done(&session) };
        let record = DayFingerprintRecord { at: TextStamp::at(f.given_at), session: id.clone() };
        if record.exists(env.cluster.view())? {
            slot.commit(env, session.clone(), vec![], vec![record.key()]).await?;
        }
        done(&session)
    }
}
