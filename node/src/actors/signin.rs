//! A business's sign-in by e-mail, as operations of its business actor: issuing a single-use
//! link ([`IssueLink`]), following one ([`UseLink`]: the link record is deleted, a dashboard
//! session record written, the address and the organisation number claim confirmed, in one
//! commit), checking a browser's session ([`CheckWebSession`]) and ending it or all of them
//! ([`EndWebSession`]). The records (`mlink/`, `wsess/`) are the business actor's, so they are
//! written through Raft with its epoch like everything it owns, and any node reaches them by
//! calling the actor.

use serde::{Deserialize, Serialize};
use svea_storage::IndexMode;

use super::business::{current, Business, BusinessActor, BusinessOp};
use super::cell::{Persisted, Slot};
use super::keys::{Index, LinkGrant, LinkRecord, WebSessionGrant, WebSessionRecord};
use super::{ActorEnv, ActorError};
use crate::domain::signin::{Email, LinkPurpose, TokenHash};
use crate::domain::BusinessId;

/// Stores a link for the business's contact address; answers the address to mail it to, or
/// `None` (nothing stored) when the business has none.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssueLink {
    /// The link token's hash.
    pub hash: TokenHash,
    /// What it is for.
    pub purpose: LinkPurpose,
    /// How long it is good, milliseconds (`signup.signin_link_ttl_ms`).
    pub ttl_ms: i64,
}

/// Follows a link: if it is this business's and not expired, it is deleted (single use) and a
/// dashboard session `session` begins, lasting `session_ttl_ms`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UseLink {
    /// The link token's hash.
    pub link: TokenHash,
    /// The new session id's hash.
    pub session: TokenHash,
    /// How long the session lasts, milliseconds.
    pub session_ttl_ms: i64,
}

/// What following a link did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum LinkOutcome {
    /// Signed in; `verified_now` when this link confirmed the address (and the number).
    SignedIn {
        /// The business.
        business: Box<Business>,
        /// Whether the address was confirmed by this link.
        verified_now: bool,
    },
    /// No such link: never issued, or used already.
    Unknown,
    /// The link is past its time (and is deleted now).
    Expired,
}

/// The business, if `session` is one of its live dashboard sessions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckWebSession {
    /// The session id's hash.
    pub session: TokenHash,
}

/// Ends `session`; with `everywhere`, every session of the business begun until now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndWebSession {
    /// The session id's hash.
    pub session: TokenHash,
    /// Every session, not only this one.
    pub everywhere: bool,
}

/// Adds an API key (dashboard "create key"); `None` when the business has
/// [`super::business::EXTRA_KEYS_MAX`] already.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateKey {
    /// The new key's hash.
    pub hash: crate::domain::KeyHash,
    /// Its first characters.
    pub prefix: String,
}

/// Removes the created API key with this prefix; `None` when there is none.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevokeKey {
    /// The key's prefix, as listed.
    pub prefix: String,
}

op!(BusinessActor, BusinessId: CreateKey -> Option<Business>);
op!(BusinessActor, BusinessId: RevokeKey -> Option<Business>);
op!(BusinessActor, BusinessId: IssueLink -> Option<Email>);
op!(BusinessActor, BusinessId: UseLink -> LinkOutcome);
op!(BusinessActor, BusinessId: CheckWebSession -> Option<Business>);
op!(BusinessActor, BusinessId: EndWebSession -> ());

impl BusinessOp for CreateKey {
    async fn run(self, env: &ActorEnv, _key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<Option<Business>, ActorError> {
        let mut next = current(slot, id)?.clone();
        if next.extra_keys.len() >= super::business::EXTRA_KEYS_MAX {
            return Ok(None);
        }
        next.extra_keys.push(super::business::ExtraKey { hash: self.hash, prefix: self.prefix, created_at: env.clock.now() });
        slot.commit(env, next.clone(), vec![], vec![]).await?;
        tracing::info!(keys = next.extra_keys.len(), "api key created");
        Ok(Some(next))
    }
}

impl BusinessOp for RevokeKey {
    async fn run(self, env: &ActorEnv, _key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<Option<Business>, ActorError> {
        let mut next = current(slot, id)?.clone();
        let before = next.extra_keys.len();
        next.extra_keys.retain(|k| k.prefix != self.prefix);
        if next.extra_keys.len() == before {
            return Ok(None);
        }
        slot.commit(env, next.clone(), vec![], vec![]).await?;
        tracing::info!(keys = next.extra_keys.len(), "api key revoked");
        Ok(Some(next))
    }
}

impl BusinessOp for IssueLink {
    async fn run(self, env: &ActorEnv, _key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<Option<Email>, ActorError> {
        let business = current(slot, id)?.clone();
        let Some(email) = business.contact_email.clone() else { return Ok(None) };
        let expires_ms = env.clock.now().timestamp_millis().saturating_add(self.ttl_ms);
        let grant = LinkGrant { business: id.clone(), purpose: self.purpose, expires_ms };
        let record = LinkRecord { hash: self.hash.hex() };
        match slot.commit(env, business, vec![record.write(&grant, IndexMode::InsertNew)?], vec![]).await? {
            Persisted::Ok => Ok(Some(email)),
            // 256 random bits do not collide; refuse rather than reuse a record.
            Persisted::IndexTaken { key, .. } => Err(ActorError::Internal(format!("record {key} already exists"))),
        }
    }
}

impl BusinessOp for UseLink {
    async fn run(self, env: &ActorEnv, key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<LinkOutcome, ActorError> {
        slot.confirm_owner(env, key).await?;
        let mut next = current(slot, id)?.clone();
        let view = env.cluster.view();
        let link = LinkRecord { hash: self.link.hex() };
        let Some(grant) = link.read(view)?.filter(|g| &g.business == id) else { return Ok(LinkOutcome::Unknown) };
        let now = env.clock.now();
        let now_ms = now.timestamp_millis();
        if now_ms > grant.expires_ms {
            slot.commit(env, next, vec![], vec![link.key()]).await?;
            return Ok(LinkOutcome::Expired);
        }
        let mut writes = Vec::with_capacity(3);
        let deletes = vec![link.key()];
        let verified_now = !next.email_verified;
        next.email_verified = true;
        // The organisation number's registration is marked verified in the directory by the
        // caller (`core::signin`), in the number's own Raft group.
        let grant = WebSessionGrant { business: id.clone(), created_ms: now_ms, expires_ms: now_ms.saturating_add(self.session_ttl_ms) };
        writes.push(WebSessionRecord { hash: self.session.hex() }.write(&grant, IndexMode::InsertNew)?);
        match slot.commit(env, next.clone(), writes, deletes).await? {
            Persisted::Ok => {
                tracing::info!(event = "link_followed", verified_now, "business signed in by e-mail link");
                Ok(LinkOutcome::SignedIn { business: Box::new(next), verified_now })
            }
            Persisted::IndexTaken { key, .. } => Err(ActorError::Internal(format!("record {key} already exists"))),
        }
    }
}

impl BusinessOp for CheckWebSession {
    async fn run(self, env: &ActorEnv, key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<Option<Business>, ActorError> {
        slot.confirm_owner(env, key).await?;
        let business = current(slot, id)?;
        let Some(grant) = (WebSessionRecord { hash: self.session.hex() }).read(env.cluster.view())? else { return Ok(None) };
        let now_ms = env.clock.now().timestamp_millis();
        let live = &grant.business == id && now_ms <= grant.expires_ms && grant.created_ms >= business.sessions_not_before_ms;
        Ok(live.then(|| business.clone()))
    }
}

impl BusinessOp for EndWebSession {
    async fn run(self, env: &ActorEnv, _key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<(), ActorError> {
        let mut next = current(slot, id)?.clone();
        if self.everywhere {
            next.sessions_not_before_ms = env.clock.now().timestamp_millis().saturating_add(1);
        }
        slot.commit(env, next, vec![], vec![WebSessionRecord { hash: self.session.hex() }.key()]).await?;
        tracing::info!(event = "signed_out", everywhere = self.everywhere, "dashboard session ended");
        Ok(())
    }
}
