//! svea's actors: one per business and one per feedback session, hosted by a per-node
//! [`registry`] that activates them on demand and passivates them when idle.
//!
//! Every actor's state lives in the replicated store under its [`ActorKey`]. An actor that
//! activates claims ownership with the next epoch ([`cell::OwnedCell`]), loads its state, and from
//! then on writes with `Put{epoch, expected_version}`: if another node claimed it meanwhile the
//! write is refused, the actor deactivates and the call is routed again.
//!
//! Calls are typed: every operation is its own type implementing [`Op`], which names the actor
//! kind it is for and the reply it gets, so neither the registry nor a caller ever matches a
//! reply at run time. An actor never calls another actor: what a session needs from its business
//! (a settlement) it asks of its caller ([`session::Step::Settle`]), and `core::sessions` carries it
//! over. [`routing`] is the one place that decides where a call runs.
//!
//! All of this runs on one tokio current-thread runtime inside a `LocalSet`, with no actix
//! `System`; the cluster handle and the clock are injected through [`ActorEnv`].

/// The actix shell every actor type shares: a bounded mailbox, passivation on request, and one
/// message at a time (`AtomicResponse`) that takes the actor's slot out, runs the operation's
/// `run(env, id, slot)` inside a span carrying the actor's id, puts the slot back, and stops the
/// actor when its in-memory state may no longer match the store.
macro_rules! actor_shell {
    ($actor:ident, $id:ty, $state:ty, $kind:literal, $id_field:ident, $op_trait:ident) => {
        impl $actor {
            /// A not yet activated actor for `id`.
            pub fn new(id: $id, env: ActorEnv, mailbox_len: usize) -> Self {
                let key = crate::actors::ActorKey::from(id.clone()).stored();
                $actor { id, key, env, mailbox_len, slot: Slot::<$state>::default() }
            }
        }

        impl Actor for $actor {
            type Context = Context<Self>;

            fn started(&mut self, ctx: &mut Self::Context) {
                ctx.set_mailbox_capacity(self.mailbox_len);
            }
        }

        impl Handler<crate::actors::Passivate> for $actor {
            type Result = ();
            fn handle(&mut self, _: crate::actors::Passivate, ctx: &mut Self::Context) {
                ctx.stop();
            }
        }

        impl<O: $op_trait> Handler<crate::actors::Call<O>> for $actor {
            type Result = AtomicResponse<Self, Result<O::Reply, ActorError>>;

            fn handle(&mut self, call: crate::actors::Call<O>, _ctx: &mut Self::Context) -> Self::Result {
                let env = self.env.clone();
                let key = self.key.clone();
                let id = self.id.clone();
                let mut slot = std::mem::take(&mut self.slot);
                let span = tracing::info_span!($kind, $id_field = %id, node = env.cluster.id());
                let fut = async move {
                    let result = match slot.ensure_active(&env, &key, <O as crate::actors::Op>::CREATES).await {
                        Ok(()) => call.0.run(&env, &key, &id, &mut slot).await,
                        Err(e) => Err(e),
                    };
                    (slot, result)
                }
                .instrument(span);
                AtomicResponse::new(Box::pin(fut.into_actor(self).map(|(slot, result), act, ctx| {
                    act.slot = slot;
                    if crate::actors::cell::must_deactivate(&result) {
                        ctx.stop();
                    }
                    result
                })))
            }
        }

        impl crate::actors::Hosted for $actor {
            type Id = $id;
            fn key(id: &$id) -> crate::actors::ActorKey {
                crate::actors::ActorKey::from(id.clone())
            }
            fn inactive(id: $id, env: ActorEnv, mailbox_len: usize) -> Self {
                $actor::new(id, env, mailbox_len)
            }
        }
    };
}

/// Implements [`Op`] for an operation type served by `$actor`: its reply, whether it creates the
/// actor, and its [`crate::actors::remote::RemoteCall`] variant (named like the type).
macro_rules! op {
    ($actor:ident, $id:ty: $op:ident -> $reply:ty $(, creates = $creates:expr)?) => {
        impl crate::actors::Op for $op {
            type Actor = $actor;
            type Reply = $reply;
            $(const CREATES: bool = $creates;)?
            fn remote(self, id: $id) -> crate::actors::remote::RemoteCall {
                crate::actors::remote::RemoteCall::$op(id, self)
            }
        }
    };
}

pub mod business;
pub mod cell;
pub mod directory;
pub mod groups;
pub mod keys;
pub mod placement;
pub mod registry;
pub mod remote;
pub mod routing;
pub mod session;
pub mod settles;
pub mod signin;
pub mod wallet;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use svea_cluster::ClusterNode;
use svea_config::Region;

use crate::domain::{BusinessId, DomainError, SessionId};

pub use keys::ActorKey;

impl From<BusinessId> for ActorKey {
    fn from(id: BusinessId) -> Self {
        ActorKey::Business(id)
    }
}

impl From<crate::domain::DeviceHash> for ActorKey {
    fn from(id: crate::domain::DeviceHash) -> Self {
        ActorKey::Wallet(id)
    }
}

impl From<directory::DirectoryId> for ActorKey {
    fn from(id: directory::DirectoryId) -> Self {
        ActorKey::Directory(id)
    }
}

impl From<SessionId> for ActorKey {
    fn from(id: SessionId) -> Self {
        ActorKey::Session(id)
    }
}

/// An actor type the registry can host.
pub trait Hosted: actix::Actor<Context = actix::Context<Self>> + actix::Handler<Passivate> + Sized {
    /// Its identifier.
    type Id: Clone + fmt::Display + Ord + Send + Serialize + DeserializeOwned + 'static;
    /// Its key in the store.
    fn key(id: &Self::Id) -> ActorKey;
    /// A not yet activated actor.
    fn inactive(id: Self::Id, env: ActorEnv, mailbox_len: usize) -> Self;
}

/// One operation on one kind of actor, with its own reply type.
pub trait Op: Clone + Send + Serialize + DeserializeOwned + 'static {
    /// The actor kind that serves it.
    type Actor: registry::Tabled + actix::Handler<Call<Self>>;
    /// What it answers.
    type Reply: Send + Serialize + DeserializeOwned + 'static;
    /// Whether the operation may create the actor's state, so a missing actor is not "not found".
    const CREATES: bool = false;

    /// Where a new actor should live, when this operation creates it somewhere other than the
    /// region of the node that got the call (a business lives in its home region).
    fn home_region(&self) -> Option<&Region> {
        None
    }

    /// The operation as sent to another node (see [`crate::actors::remote`]).
    fn remote(self, id: <Self::Actor as Hosted>::Id) -> crate::actors::remote::RemoteCall;
}

/// A read barrier on the Raft group of actor `id` only (its records, and its sessions' when it is
/// a business, live there): one group's leader confirms instead of every group's.
pub async fn group_barrier(cluster: &ClusterNode, id: impl Into<ActorKey>) -> Result<(), ActorError> {
    cluster.read_barrier_for_actor(&id.into().stored()).await.map_err(ActorError::from)
}

/// An operation as delivered to the actix actor.
pub struct Call<O: Op>(pub O);

impl<O: Op> actix::Message for Call<O> {
    type Result = Result<O::Reply, ActorError>;
}

/// The wall clock, injected so simulations can run actors under simulated time.
pub trait Clock: Send + Sync {
    /// Current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// What every actor gets from its node.
#[derive(Clone)]
pub struct ActorEnv {
    /// This node's cluster membership (writes, reads, id).
    pub cluster: ClusterNode,
    /// The node's region.
    pub region: Region,
    /// The region table (successor order when actors move).
    pub regions: Arc<Vec<svea_config::RegionSpec>>,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// How long a session stays open without completing.
    pub session_expiry: Duration,
    /// Upper bound for a call forwarded to another node.
    pub forward_timeout: Duration,
    /// The windows of purchases verified by the till.
    pub pos: svea_config::PosConfig,
    /// The abuse limits businesses apply when they settle.
    pub limits: business::RewardLimits,
    /// What actors count for `/metrics` (activations, settlements); counting never decides.
    pub metrics: crate::telemetry::Events,
    /// When wallets start payouts (`[payouts]` and the rail).
    pub payouts: wallet::PayoutRules,
}

/// What a [`ActorError::NotFound`] did not find.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Missing {
    /// A business id.
    Business,
    /// A session id.
    Session,
    /// A QR token.
    QrToken,
    /// A cluster member.
    Node,
    /// A location of a business.
    Location,
    /// A registered organisation number.
    OrgNumber,
    /// A reward held for review (no reward of that session is or was held).
    HeldReward,
    /// A customer's wallet (no reward ever reached it).
    Wallet,
    /// A payout id.
    Payout,
    /// A top-up payment (no top-up was credited with that payment id).
    Payment,
    /// A QR token whose location its business removed (it worked once; it answers 410).
    RetiredQrToken,
}

impl Missing {
    /// Human-readable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Missing::Business => "business",
            Missing::Session => "session",
            Missing::QrToken => "qr token",
            Missing::Node => "node",
            Missing::Location => "location",
            Missing::OrgNumber => "organisation number",
            Missing::HeldReward => "held reward of session",
            Missing::Wallet => "wallet",
            Missing::Payout => "payout",
            Missing::Payment => "top-up payment",
            Missing::RetiredQrToken => "retired qr token",
        }
    }
}

/// The stable kinds of [`ActorError::Conflict`]: part of the public API (the suffix of the
/// problem `type` URI), so each is named once here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ConflictKind {
    /// A business with this id exists already.
    BusinessExists,
    /// A generated QR token collided with an existing one.
    QrTokenCollision,
    /// Another business registered this organisation number.
    OrgNumberRegistered,
    /// The session has expired.
    SessionExpired,
    /// The session has another confirmed purchase.
    PurchaseAlreadyConfirmed,
    /// The till transaction id backs another session of this business.
    TransactionIdReused,
    /// Feedback before the purchase was confirmed.
    PurchaseNotConfirmed,
    /// The session has other feedback already.
    FeedbackAlreadySubmitted,
    /// A membership change was refused.
    MembershipRefused,
    /// The region is not in the region table.
    UnknownRegion,
    /// An operator action was sent to the wrong node. No longer answered (a drain sent to
    /// another node is forwarded to the node it drains); kept so the variants after it keep
    /// their numbers between nodes of different versions.
    WrongNode,
    /// The business's till did not report the confirmed purchase within `pos.await_purchase_ms`.
    PurchaseNotReported,
    /// The session had `pos.session_failed_tries_max` till confirmations that ended unbacked: it
    /// can no longer claim a till purchase. (A confirmation that differs from the till's report
    /// is answered `PurchaseNotReported`, like one the till never reported.)
    PurchaseTriesExhausted,
    /// The till's reported purchase backs another session already.
    PurchaseAlreadyClaimed,
    /// The held reward was released or refused already (the other way).
    HeldRewardDecided,
    /// A held reward cannot be released now: the budget or today's reward cap is spent.
    ReleaseNotPayable,
    /// An `Idempotency-Key` sent again with another request, or after its window
    /// (`domain::signup`).
    IdempotencyKeyReused,
}

impl ConflictKind {
    /// The kind as it appears in problem documents.
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictKind::BusinessExists => "business-exists",
            ConflictKind::QrTokenCollision => "qr-token-collision",
            ConflictKind::OrgNumberRegistered => "org-number-registered",
            ConflictKind::SessionExpired => "session-expired",
            ConflictKind::PurchaseAlreadyConfirmed => "purchase-already-confirmed",
            ConflictKind::TransactionIdReused => "transaction-id-reused",
            ConflictKind::PurchaseNotConfirmed => "purchase-not-confirmed",
            ConflictKind::FeedbackAlreadySubmitted => "feedback-already-submitted",
            ConflictKind::MembershipRefused => "membership-refused",
            ConflictKind::UnknownRegion => "unknown-region",
            ConflictKind::WrongNode => "wrong-node",
            ConflictKind::PurchaseNotReported => "purchase-not-reported",
            ConflictKind::PurchaseTriesExhausted => "purchase-tries-exhausted",
            ConflictKind::PurchaseAlreadyClaimed => "purchase-already-claimed",
            ConflictKind::HeldRewardDecided => "held-reward-decided",
            ConflictKind::ReleaseNotPayable => "release-not-payable",
            ConflictKind::IdempotencyKeyReused => "idempotency-key-reused",
        }
    }
}

impl fmt::Display for ConflictKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an actor call failed. `crate::http` maps each variant to one HTTP status.
#[derive(Debug, Clone, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum ActorError {
    /// The request broke a domain rule; nothing changed.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The addressed business or session does not exist.
    #[error("{} {id} not found", what.as_str())]
    NotFound {
        /// What kind of thing.
        what: Missing,
        /// The id that was looked up.
        id: String,
    },
    /// The request conflicts with the actor's current state (e.g. a replay with other data).
    #[error("{detail}")]
    Conflict {
        /// Stable machine-readable kind.
        kind: ConflictKind,
        /// Human-readable detail.
        detail: String,
    },
    /// The actor's mailbox (or the node's routing queue) is full; retry shortly.
    #[error("{what} is busy, retry shortly")]
    Busy {
        /// What was full.
        what: String,
    },
    /// The cluster could not commit or confirm in time (no quorum, leader change, timeout).
    /// The outcome of the request may be unknown; every step is safe to retry.
    #[error("cluster unavailable: {0}")]
    Unavailable(String),
    /// Ownership moved to another node or epoch; the registry routes the call again.
    #[error("actor {key} lost ownership")]
    Fenced {
        /// The actor.
        key: String,
    },
    /// Stored data could not be read: a bug or corruption, never the client's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ActorError {
    /// A conflict of `kind`.
    pub fn conflict(kind: ConflictKind, detail: impl Into<String>) -> Self {
        ActorError::Conflict { kind, detail: detail.into() }
    }

    /// `key` was looked up and does not exist.
    pub fn not_found(key: &ActorKey) -> Self {
        match key {
            ActorKey::Business(id) => ActorError::NotFound { what: Missing::Business, id: id.to_string() },
            ActorKey::Session(id) => ActorError::NotFound { what: Missing::Session, id: id.to_string() },
            ActorKey::Wallet(_) => ActorError::NotFound { what: Missing::Wallet, id: "(this device)".into() },
            // Every directory operation may create its actor.
            ActorKey::Directory(id) => ActorError::Internal(format!("directory name {id} looked up without being created")),
        }
    }
}

impl From<svea_cluster::Error> for ActorError {
    fn from(e: svea_cluster::Error) -> Self {
        use svea_cluster::membership::MembershipError;
        match e {
            svea_cluster::Error::Storage(s) => ActorError::Internal(s.to_string()),
            // A command whose keys span Raft groups is a placement bug, never the client's fault.
            e @ svea_cluster::Error::CrossGroup { .. } => ActorError::Internal(e.to_string()),
            svea_cluster::Error::Membership(MembershipError::NotMember(id)) => {
                ActorError::NotFound { what: Missing::Node, id: id.to_string() }
            }
            svea_cluster::Error::Membership(MembershipError::Refused(detail)) => {
                ActorError::conflict(ConflictKind::MembershipRefused, detail)
            }
            other => ActorError::Unavailable(other.to_string()),
        }
    }
}

impl From<svea_storage::Error> for ActorError {
    fn from(e: svea_storage::Error) -> Self {
        ActorError::Internal(e.to_string())
    }
}

impl From<svea_storage::codec::CodecError> for ActorError {
    fn from(e: svea_storage::codec::CodecError) -> Self {
        ActorError::Internal(e.to_string())
    }
}

/// Tells an actor to stop (idle passivation or node shutdown). Its state is already durable.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct Passivate;
