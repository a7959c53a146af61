//! The session actor: one customer's feedback session,
//! `opened -> purchase_confirmed -> rewarded | rejected`, or `expired`.
//!
//! Every step is idempotent. Feedback is settled in three writes so that a crash at any point
//! resumes with the same text and score: (1) the scored feedback is stored as pending, (2) the
//! business settles the session (idempotent on the session id, pays at most once), (3) the session
//! records the settlement and leaves the open indexes.
//!
//! A session never calls its business itself. When it needs a settlement (pending feedback, or
//! an expiry) any operation answers [`Step::Settle`] without doing anything else; the caller
//! (`core::sessions`) gets the settlement from the business and hands it back with
//! [`RecordSettlement`], then repeats the operation. So no actor waits on another actor inside
//! its one-message-at-a-time slot, and the path from a session to its business is one typed call.

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use svea_config::Region;
use svea_storage::IndexMode;
use tracing::Instrument;

use super::business::{Outcome, Settle, Settlement};
use super::cell::{Persisted, Slot};
use super::keys::{ActiveRecord, Index, OpenRecord, TxnRecord};
use super::{ActorEnv, ActorError, ConflictKind, Missing, Op};
use crate::domain::scoring::QualityScore;
use crate::domain::{
    validate_feedback_text, validate_purchase_amount, validate_purchase_time, BusinessId, DeviceId, DomainError,
    Fingerprint, LocationId, Ore, RewardTier, SessionId, TransactionId,
};

/// Life-cycle state of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionState {
    /// Opened by scanning a QR code.
    Opened,
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
    /// The text as submitted (trimmed).
    pub text: String,
    /// Its quality score.
    pub score: QualityScore,
    /// The settlement; `None` while pending.
    pub settlement: Option<Settlement>,
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
    /// The customer's device.
    pub device_id: DeviceId,
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
    /// The device.
    pub device_id: DeviceId,
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

/// Submits feedback.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GiveFeedback(pub FeedbackText);

/// Expires the session if its time is up (from the node's sweeper).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Expire;

/// Records the settlement the business made for this session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordSettlement(pub Settlement);

op!(SessionActor, SessionId: OpenSession -> Opened, creates = true);
op!(SessionActor, SessionId: GetSession -> Step);
op!(SessionActor, SessionId: ConfirmPurchase -> Step);
op!(SessionActor, SessionId: GiveFeedback -> Step);
op!(SessionActor, SessionId: Expire -> Step);
op!(SessionActor, SessionId: RecordSettlement -> Step);

fn ended_deletes(s: &Session) -> Vec<String> {
    vec![OpenRecord { session: s.id.clone() }.key(), ActiveRecord { location: s.location_id.clone(), device: s.device_id.clone() }.key()]
}

fn done(s: &Session) -> Result<Step, ActorError> {
    Ok(Step::Done(Box::new(s.clone())))
}

fn expired_error(s: &Session) -> ActorError {
    ActorError::conflict(ConflictKind::SessionExpired, format!("session {} expired at {}", s.id, s.expires_at))
}

fn settle_step(s: &Session, outcome: Outcome) -> Step {
    let fingerprint = match outcome {
        Outcome::Scored { .. } => s.feedback.as_ref().map(|f| Fingerprint::of(&f.text)),
        Outcome::Expired => None,
    };
    let settle = Settle { session: s.id.clone(), opened_at: s.opened_at, outcome, device: s.device_id.clone(), fingerprint };
    Step::Settle { business: s.business_id.clone(), settle }
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
            return Ok(Err(settle_step(&session, outcome)));
        }
    }
    if !session.state.is_terminal() && env.clock.now() >= session.expires_at {
        return Ok(Err(settle_step(&session, Outcome::Expired)));
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
            device_id: self.device_id,
            region: env.region.clone(),
            opened_at: now,
            expires_at: now + expiry,
            state: SessionState::Opened,
            purchase: None,
            feedback: None,
            ended_at: None,
        };
        let active = ActiveRecord { location: session.location_id.clone(), device: session.device_id.clone() };
        let writes = vec![
            OpenRecord { session: id.clone() }.write(&session.expires_at.timestamp_millis(), IndexMode::Upsert)?,
            active.write(id, IndexMode::InsertNew)?,
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
        done(&session)
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
        match session.state {
            SessionState::Opened => {}
            SessionState::Expired => return Err(expired_error(&session)),
            _ if session.purchase.as_ref() == Some(&purchase) => return done(&session),
            _ => {
                return Err(ActorError::conflict(
                    ConflictKind::PurchaseAlreadyConfirmed,
                    format!("session {} already has a different confirmed purchase", session.id),
                ))
            }
        }
        validate_purchase_time(purchase.purchased_at, session.opened_at, env.clock.now())?;
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
        let text = self.0.as_str();
        match session.state {
            SessionState::Opened => {
                return Err(ActorError::conflict(ConflictKind::PurchaseNotConfirmed, "confirm the purchase before giving feedback"))
            }
            SessionState::Expired => return Err(expired_error(&session)),
            SessionState::Rewarded | SessionState::Rejected => {
                return match &session.feedback {
                    Some(f) if f.text == text => done(&session),
                    _ => Err(ActorError::conflict(
                        ConflictKind::FeedbackAlreadySubmitted,
                        format!("session {} already has feedback", session.id),
                    )),
                };
            }
            SessionState::PurchaseConfirmed => {}
        }
        let score = env.scorer.score(text);
        let mut pending = session.clone();
        pending.feedback = Some(Feedback { text: text.to_string(), score, settlement: None });
        if !matches!(slot.commit(env, pending.clone(), vec![], vec![]).await?, Persisted::Ok) {
            return Err(ActorError::Internal("pending feedback write touched an index".into()));
        }
        // Stored with its score: whoever touches the session next settles it (normally our caller).
        match current(env, id, slot)? {
            Ok(s) => done(&s),
            Err(step) => Ok(step),
        }
    }
}

impl SessionOp for RecordSettlement {
    async fn run(self, env: &ActorEnv, _key: &str, id: &SessionId, slot: &mut Slot<Session>) -> Result<Step, ActorError> {
        let Some(session) = slot.state.clone() else {
            return Err(ActorError::NotFound { what: Missing::Session, id: id.to_string() });
        };
        let settlement = self.0;
        let pending = session.feedback.as_ref().is_some_and(|f| f.settlement.is_none());
        if session.state.is_terminal() && !pending {
            // Recorded already (a retry, or a concurrent caller got there first).
            return done(&session);
        }
        let mut next = session.clone();
        next.state = match settlement.outcome {
            // The business had settled this session as expired (the deadline won a race).
            Outcome::Expired => SessionState::Expired,
            Outcome::Scored { .. } if next.feedback.is_none() => {
                return Err(ActorError::Internal(format!("scored settlement for session {id} without feedback")))
            }
            Outcome::Scored { .. } if settlement.decision.tier == RewardTier::None => SessionState::Rejected,
            Outcome::Scored { .. } => SessionState::Rewarded,
        };
        next.ended_at = Some(env.clock.now());
        if let Some(f) = next.feedback.as_mut() {
            f.settlement = Some(settlement);
        }
        let deletes = ended_deletes(&next);
        slot.commit(env, next.clone(), vec![], deletes).await?;
        tracing::info!(state = next.state.as_str(), reward_ore = settlement.decision.amount.as_ore(), "session settled");
        done(&next)
    }
}
