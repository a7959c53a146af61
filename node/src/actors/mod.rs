//! svea's actors: one per business and one per feedback session, hosted by a per-node
//! [`registry::Registry`] that activates them on demand and passivates them when idle.
//!
//! Every actor's state lives in the replicated store under its [`ActorKey`]. An actor that
//! activates claims ownership with the next epoch ([`cell::OwnedCell`]), loads its state, and from
//! then on writes with `Put{epoch, expected_version}`: if another node claimed it meanwhile the
//! write is refused, the actor deactivates and the request is retried once through a fresh
//! activation.
//!
//! All of this runs on one tokio current-thread runtime inside a `LocalSet`, with no actix
//! `System`; the cluster handle and the clock are injected through [`ActorEnv`].

/// The actix shell every actor type shares: a bounded mailbox, passivation on request, and one
/// message at a time (`AtomicResponse`) that takes the actor's slot out, runs the module's
/// `handle(env, key, id, slot, msg)` inside a span carrying the actor's id, puts the slot back, and
/// stops the actor when its in-memory state may no longer match the store.
macro_rules! actor_shell {
    ($actor:ident, $id:ty, $state:ty, $call:ident, $reply:ty, $kind:literal, $id_field:ident) => {
        impl $actor {
            /// A not yet activated actor for `id`.
            pub fn new(id: $id, env: ActorEnv, mailbox_len: usize) -> Self {
                let key = format!(concat!($kind, "/{}"), id);
                $actor { id, key, env, mailbox_len, slot: Slot::<$state>::default() }
            }
        }

        impl Actor for $actor {
            type Context = Context<Self>;

            fn started(&mut self, ctx: &mut Self::Context) {
                ctx.set_mailbox_capacity(self.mailbox_len);
            }
        }

        impl Handler<Passivate> for $actor {
            type Result = ();
            fn handle(&mut self, _: Passivate, ctx: &mut Self::Context) {
                ctx.stop();
            }
        }

        impl Handler<$call> for $actor {
            type Result = AtomicResponse<Self, Result<$reply, ActorError>>;

            fn handle(&mut self, $call(msg): $call, _ctx: &mut Self::Context) -> Self::Result {
                let env = self.env.clone();
                let key = self.key.clone();
                let id = self.id.clone();
                let mut slot = std::mem::take(&mut self.slot);
                let span = tracing::info_span!($kind, $id_field = %id, node = env.cluster.id());
                let fut = async move {
                    let result = handle(&env, &key, &id, &mut slot, msg).await;
                    (slot, result)
                }
                .instrument(span);
                AtomicResponse::new(Box::pin(fut.into_actor(self).map(|(slot, result), act, ctx| {
                    act.slot = slot;
                    if must_deactivate(&result) {
                        ctx.stop();
                    }
                    result
                })))
            }
        }
    };
}

pub mod business;
pub mod cell;
pub mod placement;
pub mod registry;
pub mod session;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use svea_cluster::ClusterNode;

use crate::domain::{BusinessId, DomainError, SessionId};
use crate::domain::scoring::Scorer;

/// Address of an actor: `business/<id>` or `session/<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum ActorKey {
    /// A business actor.
    Business(BusinessId),
    /// A feedback-session actor.
    Session(SessionId),
}

impl fmt::Display for ActorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActorKey::Business(id) => write!(f, "business/{id}"),
            ActorKey::Session(id) => write!(f, "session/{id}"),
        }
    }
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
    /// The node's region name.
    pub region: String,
    /// The region table (successor order when actors move).
    pub regions: Arc<Vec<svea_config::RegionSpec>>,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Feedback scorer.
    pub scorer: Arc<dyn Scorer>,
    /// How long a session stays open without completing.
    pub session_expiry: Duration,
    /// Route to other actors (sessions settle with their business).
    pub registry: registry::RegistryHandle,
    /// Upper bound for a call forwarded to another node.
    pub forward_timeout: Duration,
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
}

impl Missing {
    /// Human-readable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Missing::Business => "business",
            Missing::Session => "session",
            Missing::QrToken => "qr token",
            Missing::Node => "node",
        }
    }
}

/// Why an actor call failed. [`crate::http`] maps each variant to one HTTP status.
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
        /// Stable machine-readable kind, e.g. `purchase-already-confirmed`.
        kind: String,
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
    /// Ownership moved to another node or epoch; the registry retries once via a fresh owner.
    #[error("actor {key} lost ownership")]
    Fenced {
        /// The actor.
        key: String,
    },
    /// Stored data could not be read: a bug or corruption, never the client's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<svea_cluster::Error> for ActorError {
    fn from(e: svea_cluster::Error) -> Self {
        use svea_cluster::membership::MembershipError;
        match e {
            svea_cluster::Error::Storage(s) => ActorError::Internal(s.to_string()),
            svea_cluster::Error::Membership(MembershipError::NotMember(id)) => {
                ActorError::NotFound { what: Missing::Node, id: id.to_string() }
            }
            svea_cluster::Error::Membership(MembershipError::Refused(detail)) => {
                ActorError::Conflict { kind: "membership-refused".into(), detail }
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
