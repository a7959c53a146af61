//! The per-node actor registry: hosts the actors that run here, activating them on first use
//! and passivating them when idle, and runs each call through [`super::routing`].
//!
//! Callers on any thread use a [`RegistryHandle`]. At most `queue_len` calls are queued or in
//! flight on a node at once (a permit is taken before a call is queued and released when its
//! answer is sent); one more answers [`ActorError::Busy`] at once. The registry itself runs on the
//! node's core `LocalSet`; its tables are only touched there and never across an `.await`, so
//! routing needs no locks. Each actor has at most `mailbox_len` calls in flight; one more answers
//! `Busy` (HTTP 503 + Retry-After).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr};
use futures::future::LocalBoxFuture;
use tokio::sync::{mpsc, oneshot, Notify, Semaphore};
use tokio::time::Instant;
use tracing::Instrument;

use super::business::BusinessActor;
use super::session::SessionActor;
use super::directory::DirectoryActor;
use super::wallet::WalletActor;
use super::{ActorEnv, ActorError, Hosted, Op};
use crate::telemetry::{Events, KindLabel};

/// How often the registry looks for idle actors, at most.
const PASSIVATION_TICK_MAX: Duration = Duration::from_secs(5);
/// How often the registry looks for idle actors, at least (tiny idle timeouts in tests).
const PASSIVATION_TICK_MIN: Duration = Duration::from_millis(10);
/// Idle checks per idle timeout: an idle actor stops at most a quarter timeout late.
const PASSIVATION_TICKS_PER_IDLE: u32 = 4;

/// One call, typed at the caller and erased for the queue: run on the core thread, it routes the
/// call and answers the caller's typed channel.
type Job = Box<dyn FnOnce(Rc<Router>) -> LocalBoxFuture<'static, ()> + Send>;

/// Cloneable, `Send` handle for calling actors through the registry.
#[derive(Clone)]
pub struct RegistryHandle {
    tx: mpsc::Sender<Job>,
    /// Calls queued or in flight on this node; see the module docs.
    permits: Arc<Semaphore>,
    call_timeout: Duration,
    active: Arc<AtomicUsize>,
    shutdown: Arc<Notify>,
    /// `queue_len`: the permits there are.
    queue_len: usize,
    /// Busy answers are counted (`svea_actor_busy_total`).
    metrics: Events,
    /// Settlements this node waits for, sent to each business in batches.
    settles: super::settles::SettleQueue,
}

impl RegistryHandle {
    /// Calls actor `id` with `op` and waits (bounded by the call timeout) for its answer.
    pub async fn call<O: Op>(&self, id: <O::Actor as Hosted>::Id, op: O) -> Result<O::Reply, ActorError> {
        self.submit(id, op, false).await
    }

    /// Serves a call forwarded by another node that believes this node owns the actor (see
    /// [`super::remote::RemoteCall::serve`]): it is served here or refused, never forwarded again.
    pub async fn call_forwarded<O: Op>(&self, id: <O::Actor as Hosted>::Id, op: O) -> Result<O::Reply, ActorError> {
        self.submit(id, op, true).await
    }

    async fn submit<O: Op>(&self, id: <O::Actor as Hosted>::Id, op: O, forwarded: bool) -> Result<O::Reply, ActorError> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                self.metrics.busy.inc();
                return Err(ActorError::Busy { what: "node routing queue".into() });
            }
            Err(tokio::sync::TryAcquireError::Closed) => return Err(shutting_down()),
        };
        let (reply, rx) = oneshot::channel();
        // The caller's request id and log span go with the call to the core thread (and from
        // there with a forward to the owning node), so its log lines name the request.
        let (request_id, span) = (crate::request_id::current(), tracing::Span::current());
        let job: Job = Box::new(move |router: Rc<Router>| {
            let call = async move {
                let result = super::routing::deliver(&router, id, op, forwarded).await;
                let _ = reply.send(result);
                drop(permit);
            };
            Box::pin(crate::request_id::scope(request_id, call).instrument(span))
        });
        self.tx.try_send(job).map_err(|e| match e {
            // Cannot happen while the queue is as long as the permits; kept for the type.
            mpsc::error::TrySendError::Full(_) => ActorError::Busy { what: "node routing queue".into() },
            mpsc::error::TrySendError::Closed(_) => shutting_down(),
        })?;
        match tokio::time::timeout(self.call_timeout, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(shutting_down()),
            Err(_) => Err(ActorError::Unavailable(format!("no answer within {:?}", self.call_timeout))),
        }
    }

    /// Asks `business` to settle, in one commit with the other settlements this node asks of it
    /// meanwhile ([`super::settles`]).
    pub async fn settle(&self, business: crate::domain::BusinessId, settle: super::business::Settle) -> Result<super::business::Settled, ActorError> {
        self.settles.settle(self, business, settle).await
    }

    /// Number of actors active on this node right now.
    pub fn active_actors(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// Calls queued or in flight on this node right now (`svea_registry_queue_depth`).
    pub fn queue_depth(&self) -> usize {
        self.queue_len.saturating_sub(self.permits.available_permits())
    }

    /// Asks the registry to stop all actors and its loop; calls after this are refused.
    pub fn shutdown(&self) {
        self.permits.close();
        self.shutdown.notify_one();
    }
}

fn shutting_down() -> ActorError {
    ActorError::Unavailable("node is shutting down".into())
}

/// Sizes and timeouts of the registry.
#[derive(Debug, Clone, Copy)]
pub struct RegistryLimits {
    /// Calls queued or in flight, node-wide.
    pub queue_len: usize,
    /// Calls in flight per actor.
    pub mailbox_len: usize,
    /// Passivate an actor after this long without calls.
    pub idle_after: Duration,
    /// Upper bound for one call, routing included.
    pub call_timeout: Duration,
}

/// Creates the handle and the receiving end; [`run`] consumes the latter on the core `LocalSet`.
pub fn channel(limits: RegistryLimits, metrics: Events) -> (RegistryHandle, RegistryInbox) {
    let (tx, rx) = mpsc::channel(limits.queue_len);
    let active = Arc::new(AtomicUsize::new(0));
    let shutdown = Arc::new(Notify::new());
    let permits = Arc::new(Semaphore::new(limits.queue_len));
    (
        RegistryHandle {
            tx,
            permits,
            call_timeout: limits.call_timeout,
            active: active.clone(),
            shutdown: shutdown.clone(),
            queue_len: limits.queue_len,
            metrics,
            settles: super::settles::SettleQueue::default(),
        },
        RegistryInbox { rx, limits, active, shutdown },
    )
}

/// The registry's receiving end.
pub struct RegistryInbox {
    rx: mpsc::Receiver<Job>,
    limits: RegistryLimits,
    active: Arc<AtomicUsize>,
    shutdown: Arc<Notify>,
}

struct Entry<A: Actor> {
    addr: Addr<A>,
    instance: u64,
    inflight: usize,
    last_used: Instant,
}

/// The activations of one actor kind on this node. Ordered, so passivation visits actors in the
/// same order on every run (a simulation seed must replay exactly).
pub struct Table<A: Hosted> {
    actors: BTreeMap<A::Id, Entry<A>>,
}

impl<A: Hosted> Default for Table<A> {
    fn default() -> Self {
        Table { actors: BTreeMap::new() }
    }
}

impl<A: Hosted> Table<A> {
    fn passivate_idle(&mut self, idle_after: Duration, now: Instant, metrics: &Events)
    where
        A: Tabled,
    {
        self.actors.retain(|id, e| {
            let idle = e.inflight == 0 && now.duration_since(e.last_used) >= idle_after;
            if idle {
                tracing::debug!(actor = %A::key(id), "passivating idle actor");
                e.addr.do_send(super::Passivate);
                passivated::<A>(metrics, id);
            }
            !idle
        });
    }

    fn stop_all(&mut self, metrics: &Events)
    where
        A: Tabled,
    {
        for (id, e) in std::mem::take(&mut self.actors) {
            e.addr.do_send(super::Passivate);
            passivated::<A>(metrics, &id);
        }
    }
}

/// Counts a passivation; a business's budget gauge goes with it (this node no longer hosts it).
fn passivated<A: Tabled>(metrics: &Events, id: &A::Id) {
    metrics.passivations.get_or_create(&KindLabel { kind: A::KIND }).inc();
    if A::KIND == BusinessActor::KIND {
        metrics.business_gone(&id.to_string());
    }
}

/// What the core thread keeps: the actors running here and what they need.
pub struct Router {
    /// What every actor gets.
    pub env: ActorEnv,
    limits: RegistryLimits,
    businesses: RefCell<Table<BusinessActor>>,
    sessions: RefCell<Table<SessionActor>>,
    wallets: RefCell<Table<WalletActor>>,
    directory: RefCell<Table<DirectoryActor>>,
    next_instance: std::cell::Cell<u64>,
    active: Arc<AtomicUsize>,
}

/// The table an actor kind lives in.
pub trait Tabled: Hosted {
    /// The kind's name on `/metrics` (`kind` label).
    const KIND: &'static str;
    /// This kind's table in `router`.
    fn table(router: &Router) -> &RefCell<Table<Self>>;
}

impl Tabled for BusinessActor {
    const KIND: &'static str = "business";
    fn table(router: &Router) -> &RefCell<Table<Self>> {
        &router.businesses
    }
}

impl Tabled for SessionActor {
    const KIND: &'static str = "session";
    fn table(router: &Router) -> &RefCell<Table<Self>> {
        &router.sessions
    }
}

impl Tabled for WalletActor {
    const KIND: &'static str = "wallet";
    fn table(router: &Router) -> &RefCell<Table<Self>> {
        &router.wallets
    }
}

impl Tabled for DirectoryActor {
    const KIND: &'static str = "directory";
    fn table(router: &Router) -> &RefCell<Table<Self>> {
        &router.directory
    }
}

impl Router {
    fn count_active(&self) {
        let (b, s, w) = (self.businesses.borrow().actors.len(), self.sessions.borrow().actors.len(), self.wallets.borrow().actors.len());
        let d = self.directory.borrow().actors.len();
        self.active.store(b + s + w + d, Ordering::Relaxed);
        for (kind, n) in [(BusinessActor::KIND, b), (SessionActor::KIND, s), (WalletActor::KIND, w), (DirectoryActor::KIND, d)] {
            self.env.metrics.actors_active.get_or_create(&KindLabel { kind }).set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// Whether actor `id` is active here.
    pub fn is_active<A: Tabled>(&self, id: &A::Id) -> bool {
        A::table(self).borrow().actors.contains_key(id)
    }

    /// Finds or starts actor `id` and reserves a mailbox slot: its address and instance number
    /// (for [`Self::release`]).
    pub fn acquire<A: Tabled>(&self, id: &A::Id) -> Result<(Addr<A>, u64), ActorError> {
        let mut table = A::table(self).borrow_mut();
        if let Some(e) = table.actors.get_mut(id) {
            if e.inflight >= self.limits.mailbox_len {
                self.env.metrics.busy.inc();
                return Err(ActorError::Busy { what: format!("actor {}", A::key(id)) });
            }
            e.inflight += 1;
            e.last_used = Instant::now();
            return Ok((e.addr.clone(), e.instance));
        }
        let addr = A::inactive(id.clone(), self.env.clone(), self.limits.mailbox_len).start();
        let instance = self.next_instance.get() + 1;
        self.next_instance.set(instance);
        table.actors.insert(id.clone(), Entry { addr: addr.clone(), instance, inflight: 1, last_used: Instant::now() });
        drop(table);
        self.env.metrics.activations.get_or_create(&KindLabel { kind: A::KIND }).inc();
        self.count_active();
        Ok((addr, instance))
    }

    /// Gives the mailbox slot back. `drop_actor`: the actor stopped itself after a fenced or
    /// unknown-outcome write; forget it so the next call activates a fresh instance that reloads
    /// from the store.
    pub fn release<A: Tabled>(&self, id: &A::Id, instance: u64, drop_actor: bool) {
        let mut table = A::table(self).borrow_mut();
        let Some(e) = table.actors.get_mut(id) else { return };
        if e.instance != instance {
            return;
        }
        e.inflight -= 1;
        e.last_used = Instant::now();
        if drop_actor {
            table.actors.remove(id);
            drop(table);
            self.count_active();
        }
    }

    fn passivate_idle(&self) {
        let now = Instant::now();
        self.businesses.borrow_mut().passivate_idle(self.limits.idle_after, now, &self.env.metrics);
        self.sessions.borrow_mut().passivate_idle(self.limits.idle_after, now, &self.env.metrics);
        self.wallets.borrow_mut().passivate_idle(self.limits.idle_after, now, &self.env.metrics);
        self.directory.borrow_mut().passivate_idle(self.limits.idle_after, now, &self.env.metrics);
        self.count_active();
    }

    fn stop_all(&self) {
        self.businesses.borrow_mut().stop_all(&self.env.metrics);
        self.sessions.borrow_mut().stop_all(&self.env.metrics);
        self.wallets.borrow_mut().stop_all(&self.env.metrics);
        self.directory.borrow_mut().stop_all(&self.env.metrics);
        self.count_active();
    }
}

/// Runs the registry until shutdown.
pub async fn run(env: ActorEnv, inbox: RegistryInbox) {
    let RegistryInbox { mut rx, limits, active, shutdown } = inbox;
    let router = Rc::new(Router {
        env,
        limits,
        businesses: RefCell::default(),
        sessions: RefCell::default(),
        wallets: RefCell::default(),
        directory: RefCell::default(),
        next_instance: std::cell::Cell::new(0),
        active,
    });
    let tick = (limits.idle_after / PASSIVATION_TICKS_PER_IDLE).clamp(PASSIVATION_TICK_MIN, PASSIVATION_TICK_MAX);
    let mut ticker = tokio::time::interval(tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            job = rx.recv() => {
                let Some(job) = job else { break };
                // Bounded: every job holds one of `queue_len` permits until it has answered.
                tokio::task::spawn_local(job(router.clone()));
            }
            _ = ticker.tick() => router.passivate_idle(),
            _ = shutdown.notified() => break,
        }
    }
    router.stop_all();
    tracing::info!("actor registry stopped");
}
