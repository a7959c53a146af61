//! The session actor: one customer's feedback session,
//! `opened -> purchase_confirmed -> rewarded | rejected`, or `expired`.
//!
//! Every step is idempotent. Feedback is settled in three writes so that a crash at any point
//! resumes with the same text and score: (1) the scored feedback is stored as pending, (2) the
//! business settles the session (idempotent on the session id, pays at most once), (3) the session
//! records the settlement and leaves the open indexes.

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use svea_storage::codec::encode;
use svea_storage::{IndexMode, IndexWrite};
use tracing::Instrument;

use super::business::{BusinessMsg, BusinessReply, Outcome, Settlement};
use super::cell::{must_deactivate, Persisted, Slot};
use super::{ActorEnv, ActorError, Passivate};
use crate::domain::scoring::QualityScore;
use crate::domain::{
    validate_feedback_text, validate_purchase_amount, validate_purchase_time, BusinessId, DeviceId, LocationId, Ore,
    RewardTier, SessionId, TransactionId,
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

/// A confirmed purchase.
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
    /// The customer's device.
    pub device_id: DeviceId,
    /// Region that opened it.
    pub region: String,
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

/// A request to open a session at a location.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenSession {
    /// The business.
    pub business_id: BusinessId,
    /// The location.
    pub location_id: LocationId,
    /// The device.
    pub device_id: DeviceId,
}

/// Calls a session actor understands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum SessionMsg {
    /// Open the session (its id is the actor's).
    Open(OpenSession),
    /// Confirm the purchase.
    ConfirmPurchase {
        /// Amount.
        amount: Ore,
        /// Purchase time.
        purchased_at: DateTime<Utc>,
        /// Transaction id.
        transaction_id: TransactionId,
    },
    /// Submit feedback.
    Feedback {
        /// The text.
        text: String,
    },
    /// Read the session.
    Get,
    /// Expire it if its time is up (from the node's sweeper).
    Expire,
}

/// Answers of a session actor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum SessionReply {
    /// The session as it is now.
    Session(Box<Session>),
    /// `Open` found this device already has an open session at the location.
    AlreadyOpen(SessionId),
}

/// Envelope of a session call, as delivered to the actix actor.
#[derive(Message)]
#[rtype(result = "Result<SessionReply, ActorError>")]
pub struct SessionCall(pub SessionMsg);

/// One feedback session.
pub struct SessionActor {
    id: SessionId,
    key: String,
    env: ActorEnv,
    mailbox_len: usize,
    slot: Slot<Session>,
}

actor_shell!(SessionActor, SessionId, Session, SessionCall, SessionReply, "session", session_id);

/// Secondary record listing open sessions with their expiry (scanned by the sweeper).
pub fn open_key(id: &SessionId) -> String {
    format!("open/{id}")
}

/// Secondary record: the open session of a device at a location.
pub fn active_key(location: &LocationId, device: &DeviceId) -> String {
    format!("active/{location}/{device}")
}

fn txn_key(business: &BusinessId, txn: &TransactionId) -> String {
    format!("txn/{business}/{txn}")
}

fn ended_deletes(s: &Session) -> Vec<String> {
    vec![open_key(&s.id), active_key(&s.location_id, &s.device_id)]
}

fn reply(s: &Session) -> Result<SessionReply, ActorError> {
    Ok(SessionReply::Session(Box::new(s.clone())))
}

fn expired_error(s: &Session) -> ActorError {
    ActorError::Conflict { kind: "session-expired".into(), detail: format!("session {} expired at {}", s.id, s.expires_at) }
}

async fn handle(
    env: &ActorEnv,
    key: &str,
    id: &SessionId,
    slot: &mut Slot<Session>,
    msg: SessionMsg,
) -> Result<SessionReply, ActorError> {
    slot.ensure_active(env, key).await?;
    if let SessionMsg::Open(open) = msg {
        return open_session(env, id, slot, open).await;
    }
    let Some(mut session) = slot.state.clone() else {
        return Err(ActorError::NotFound { what: crate::actors::Missing::Session, id: id.to_string() });
    };
    let now = env.clock.now();
    // Feedback accepted before expiry is finished even if the deadline passed meanwhile.
    if let Some(f) = &session.feedback {
        if f.settlement.is_none() {
            session = settle_feedback(env, slot, session).await?;
        }
    }
    if !session.state.is_terminal() && now >= session.expires_at {
        session = expire(env, slot, session).await?;
    }
    match msg {
        SessionMsg::Open(_) => unreachable!("handled above"),
        SessionMsg::Get => {
            slot.confirm_owner(env, key).await?;
            reply(&session)
        }
        SessionMsg::Expire => reply(&session),
        SessionMsg::ConfirmPurchase { amount, purchased_at, transaction_id } => {
            let purchase = Purchase { amount, purchased_at, transaction_id };
            match session.state {
                SessionState::Opened => {}
                SessionState::Expired => return Err(expired_error(&session)),
                _ if session.purchase.as_ref() == Some(&purchase) => return reply(&session),
                _ => {
                    return Err(ActorError::Conflict {
                        kind: "purchase-already-confirmed".into(),
                        detail: format!("session {} already has a different confirmed purchase", session.id),
                    })
                }
            }
            validate_purchase_amount(amount)?;
            validate_purchase_time(purchased_at, session.opened_at, now)?;
            let mut next = session.clone();
            next.state = SessionState::PurchaseConfirmed;
            next.purchase = Some(purchase.clone());
            let unique = IndexWrite {
                key: txn_key(&session.business_id, &purchase.transaction_id),
                value: session.id.as_str().as_bytes().to_vec(),
                mode: IndexMode::InsertNew,
            };
            match slot.commit(env, next.clone(), vec![unique], vec![]).await? {
                Persisted::Ok => {
                    tracing::info!(amount_ore = amount.as_ore(), "purchase confirmed");
                    reply(&next)
                }
                Persisted::IndexTaken { .. } => Err(ActorError::Conflict {
                    kind: "transaction-id-reused".into(),
                    detail: format!(
                        "transaction id {} was already used for another session of this business",
                        purchase.transaction_id
                    ),
                }),
            }
        }
        SessionMsg::Feedback { text } => {
            let text = validate_feedback_text(&text)?.to_string();
            match session.state {
                SessionState::Opened => {
                    return Err(ActorError::Conflict {
                        kind: "purchase-not-confirmed".into(),
                        detail: "confirm the purchase before giving feedback".into(),
                    })
                }
                SessionState::Expired => return Err(expired_error(&session)),
                SessionState::Rewarded | SessionState::Rejected => {
                    return match &session.feedback {
                        Some(f) if f.text == text => reply(&session),
                        _ => Err(ActorError::Conflict {
                            kind: "feedback-already-submitted".into(),
                            detail: format!("session {} already has feedback", session.id),
                        }),
                    };
                }
                SessionState::PurchaseConfirmed => {}
            }
            let score = env.scorer.score(&text);
            let mut pending = session.clone();
            pending.feedback = Some(Feedback { text, score, settlement: None });
            if !matches!(slot.commit(env, pending.clone(), vec![], vec![]).await?, Persisted::Ok) {
                return Err(ActorError::Internal("pending feedback write touched an index".into()));
            }
            let done = settle_feedback(env, slot, pending).await?;
            reply(&done)
        }
    }
}

async fn open_session(env: &ActorEnv, id: &SessionId, slot: &mut Slot<Session>, open: OpenSession) -> Result<SessionReply, ActorError> {
    if let Some(existing) = &slot.state {
        return reply(existing);
    }
    let now = env.clock.now();
    let expiry = chrono::Duration::from_std(env.session_expiry)
        .map_err(|e| ActorError::Internal(format!("session expiry out of range: {e}")))?;
    let session = Session {
        id: id.clone(),
        business_id: open.business_id,
        location_id: open.location_id,
        device_id: open.device_id,
        region: env.region.clone(),
        opened_at: now,
        expires_at: now + expiry,
        state: SessionState::Opened,
        purchase: None,
        feedback: None,
        ended_at: None,
    };
    let writes = vec![
        IndexWrite { key: open_key(id), value: encode(&session.expires_at.timestamp_millis())?, mode: IndexMode::Upsert },
        IndexWrite {
            key: active_key(&session.location_id, &session.device_id),
            value: id.as_str().as_bytes().to_vec(),
            mode: IndexMode::InsertNew,
        },
    ];
    match slot.commit(env, session.clone(), writes, vec![]).await? {
        Persisted::Ok => {}
        Persisted::IndexTaken { existing, .. } => {
            let other = String::from_utf8_lossy(&existing).parse::<SessionId>().map_err(|e| ActorError::Internal(e.to_string()))?;
            return Ok(SessionReply::AlreadyOpen(other));
        }
    }
    tracing::info!(business_id = %session.business_id, "session opened");
    // Best effort: if this report is lost, settling the session counts the opening.
    let report = BusinessMsg::SessionOpened { session: id.clone(), opened_at: now };
    if let Err(e) = env.registry.business(session.business_id.clone(), report).await {
        tracing::warn!(error = %e, "could not report session opening; settlement will");
    }
    reply(&session)
}

async fn settle_feedback(env: &ActorEnv, slot: &mut Slot<Session>, session: Session) -> Result<Session, ActorError> {
    let (Some(purchase), Some(feedback)) = (&session.purchase, &session.feedback) else {
        return Err(ActorError::Internal("settling feedback without purchase".into()));
    };
    let outcome = Outcome::Scored { score: feedback.score.total, purchase: purchase.amount };
    let settlement = settle(env, &session, outcome).await?;
    let mut done = session.clone();
    done.state = match settlement.outcome {
        // The business had already settled this session as expired (the deadline won a race).
        Outcome::Expired => SessionState::Expired,
        Outcome::Scored { .. } if settlement.decision.tier == RewardTier::None => SessionState::Rejected,
        Outcome::Scored { .. } => SessionState::Rewarded,
    };
    done.ended_at = Some(env.clock.now());
    if let Some(f) = done.feedback.as_mut() {
        f.settlement = Some(settlement);
    }
    let deletes = ended_deletes(&done);
    slot.commit(env, done.clone(), vec![], deletes).await?;
    tracing::info!(state = done.state.as_str(), reward_ore = settlement.decision.amount.as_ore(), "feedback settled");
    Ok(done)
}

async fn expire(env: &ActorEnv, slot: &mut Slot<Session>, session: Session) -> Result<Session, ActorError> {
    // Settle first: the business record decides; a crash before our write is repaired by the
    // next sweep, which gets the same settlement back.
    settle(env, &session, Outcome::Expired).await?;
    let mut done = session;
    done.state = SessionState::Expired;
    done.ended_at = Some(env.clock.now());
    let deletes = ended_deletes(&done);
    slot.commit(env, done.clone(), vec![], deletes).await?;
    tracing::info!("session expired");
    Ok(done)
}

async fn settle(env: &ActorEnv, session: &Session, outcome: Outcome) -> Result<Settlement, ActorError> {
    let msg = BusinessMsg::Settle { session: session.id.clone(), opened_at: session.opened_at, outcome };
    match env.registry.business(session.business_id.clone(), msg).await {
        Ok(BusinessReply::Settled(s)) => Ok(s),
        Ok(other) => Err(ActorError::Internal(format!("unexpected business reply {other:?}"))),
        // The business's own failures say nothing about this session's ownership.
        Err(ActorError::Fenced { .. }) => Err(ActorError::Busy { what: "business".into() }),
        Err(e) => Err(e),
    }
}
