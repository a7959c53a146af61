//! The per-node actor registry: routes calls to actors, activating them on first use and
//! passivating them when idle.
//!
//! Callers on any thread use a [`RegistryHandle`] (bounded queue; a full queue answers
//! [`ActorError::Busy`] at once). The registry itself runs on the node's core `LocalSet`; its table
//! is only touched there and never across an `.await`, so routing needs no locks. Each actor has
//! at most `actor_mailbox_len` calls in flight; one more answers `Busy` (HTTP 503 + Retry-After).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::time::Instant;

use super::business::{BusinessActor, BusinessCall, BusinessMsg, BusinessReply};
use super::session::{SessionActor, SessionCall, SessionMsg, SessionReply};
use super::{placement, ActorEnv, ActorError, ActorKey};

/// How often the registry looks for idle actors, at most.
const PASSIVATION_TICK_MAX: Duration = Duration::from_secs(5);

/// A call for one actor.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum Request {
    /// For a business actor.
    Business(BusinessMsg),
    /// For a session actor.
    Session(SessionMsg),
}

impl Request {
    /// Whether the call may create the actor's state (so a missing state is not "not found").
    fn creates(&self) -> bool {
        matches!(self, Request::Business(BusinessMsg::Create(_)) | Request::Session(SessionMsg::Open(_)))
    }
}

/// An actor's answer.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum Reply {
    /// From a business actor.
    Business(BusinessReply),
    /// From a session actor.
    Session(SessionReply),
}

struct Envelope {
    key: ActorKey,
    request: Request,
    reply: oneshot::Sender<Result<Reply, ActorError>>,
    /// The call came from another node that believes this node owns the actor.
    forwarded: bool,
}

/// Cloneable, `Send` handle for calling actors through the registry.
#[derive(Clone)]
pub struct RegistryHandle {
    tx: mpsc::Sender<Envelope>,
    call_timeout: Duration,
    active: Arc<AtomicUsize>,
    shutdown: Arc<Notify>,
}

impl RegistryHandle {
    /// Calls the actor at `key` and waits (bounded by the call timeout) for its answer.
    pub async fn call(&self, key: ActorKey, request: Request) -> Result<Reply, ActorError> {
        self.call_inner(key, request, false).await
    }

    /// Serves a call forwarded by another node (see [`AppCall`]).
    pub async fn call_forwarded(&self, key: ActorKey, request: Request) -> Result<Reply, ActorError> {
        self.call_inner(key, request, true).await
    }

    async fn call_inner(&self, key: ActorKey, request: Request, forwarded: bool) -> Result<Reply, ActorError> {
        let (reply, rx) = oneshot::channel();
        self.tx.try_send(Envelope { key, request, reply, forwarded }).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => ActorError::Busy { what: "node routing queue".into() },
            mpsc::error::TrySendError::Closed(_) => ActorError::Unavailable("node is shutting down".into()),
        })?;
        match tokio::time::timeout(self.call_timeout, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(ActorError::Unavailable("node is shutting down".into())),
            Err(_) => Err(ActorError::Unavailable(format!("no answer within {:?}", self.call_timeout))),
        }
    }

    /// Calls a business actor.
    pub async fn business(&self, id: crate::domain::BusinessId, msg: BusinessMsg) -> Result<BusinessReply, ActorError> {
        match self.call(ActorKey::Business(id), Request::Business(msg)).await? {
            Reply::Business(r) => Ok(r),
            Reply::Session(_) => Err(ActorError::Internal("session reply from a business actor".into())),
        }
    }

    /// Calls a session actor.
    pub async fn session(&self, id: crate::domain::SessionId, msg: SessionMsg) -> Result<SessionReply, ActorError> {
        match self.call(ActorKey::Session(id), Request::Session(msg)).await? {
            Reply::Session(r) => Ok(r),
            Reply::Business(_) => Err(ActorError::Internal("business reply from a session actor".into())),
        }
    }

    /// Number of actors active on this node right now.
    pub fn active_actors(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// Asks the registry to stop all actors and its loop.
    pub fn shutdown(&self) {
        self.shutdown.notify_one();
    }
}

/// Sizes and timeouts of the registry.
#[derive(Debug, Clone, Copy)]
pub struct RegistryLimits {
    /// Calls queued for routing, node-wide.
    pub queue_len: usize,
    /// Calls in flight per actor.
    pub mailbox_len: usize,
    /// Passivate an actor after this long without calls.
    pub idle_after: Duration,
    /// Upper bound for one call, routing included.
    pub call_timeout: Duration,
}

/// Creates the handle and the receiving end; [`run`] consumes the latter on the core `LocalSet`.
pub fn channel(limits: RegistryLimits) -> (RegistryHandle, RegistryInbox) {
    let (tx, rx) = mpsc::channel(limits.queue_len);
    let active = Arc::new(AtomicUsize::new(0));
    let shutdown = Arc::new(Notify::new());
    (
        RegistryHandle { tx, call_timeout: limits.call_timeout, active: active.clone(), shutdown: shutdown.clone() },
        RegistryInbox { rx, limits, active, shutdown },
    )
}

/// The registry's receiving end.
pub struct RegistryInbox {
    rx: mpsc::Receiver<Envelope>,
    limits: RegistryLimits,
    active: Arc<AtomicUsize>,
    shutdown: Arc<Notify>,
}

#[derive(Clone)]
enum ActorAddr {
    Business(Addr<BusinessActor>),
    Session(Addr<SessionActor>),
}

struct Entry {
    addr: ActorAddr,
    instance: u64,
    inflight: usize,
    last_used: Instant,
}

struct Table {
    /// Ordered, so passivation visits actors in the same order on every run (a simulation seed
    /// must replay exactly).
    actors: BTreeMap<ActorKey, Entry>,
    next_instance: u64,
    limits: RegistryLimits,
    env: ActorEnv,
    active: Arc<AtomicUsize>,
}

impl Table {
    /// Finds or starts the actor and reserves a mailbox slot.
    fn acquire(&mut self, key: &ActorKey) -> Result<(ActorAddr, u64), ActorError> {
        if let Some(e) = self.actors.get_mut(key) {
            if e.inflight >= self.limits.mailbox_len {
                return Err(ActorError::Busy { what: format!("actor {key}") });
            }
            e.inflight += 1;
            e.last_used = Instant::now();
            return Ok((e.addr.clone(), e.instance));
        }
        let mailbox = self.limits.mailbox_len;
        let addr = match key {
            ActorKey::Business(id) => ActorAddr::Business(BusinessActor::new(id.clone(), self.env.clone(), mailbox).start()),
            ActorKey::Session(id) => ActorAddr::Session(SessionActor::new(id.clone(), self.env.clone(), mailbox).start()),
        };
        self.next_instance += 1;
        let instance = self.next_instance;
        self.actors.insert(key.clone(), Entry { addr: addr.clone(), instance, inflight: 1, last_used: Instant::now() });
        self.active.store(self.actors.len(), Ordering::Relaxed);
        Ok((addr, instance))
    }

    fn release(&mut self, key: &ActorKey, instance: u64, drop_actor: bool) {
        let Some(e) = self.actors.get_mut(key) else { return };
        if e.instance != instance {
            return;
        }
        e.inflight -= 1;
        e.last_used = Instant::now();
        if drop_actor {
            // The actor stops itself after a fenced or unknown-outcome write; forget it so the
            // next call activates a fresh instance that reloads from the store.
            self.actors.remove(key);
            self.active.store(self.actors.len(), Ordering::Relaxed);
        }
    }

    fn is_active(&self, key: &ActorKey) -> bool {
        self.actors.contains_key(key)
    }

    fn passivate_idle(&mut self) {
        let idle_after = self.limits.idle_after;
        let now = Instant::now();
        let idle: Vec<ActorKey> = self
            .actors
            .iter()
            .filter(|(_, e)| e.inflight == 0 && now.duration_since(e.last_used) >= idle_after)
            .map(|(k, _)| k.clone())
            .collect();
        for key in idle {
            if let Some(e) = self.actors.remove(&key) {
                tracing::debug!(actor = %key, "passivating idle actor");
                stop(&e.addr);
            }
        }
        self.active.store(self.actors.len(), Ordering::Relaxed);
    }

    fn stop_all(&mut self) {
        for (_, e) in std::mem::take(&mut self.actors) {
            stop(&e.addr);
        }
        self.active.store(0, Ordering::Relaxed);
    }
}

fn stop(addr: &ActorAddr) {
    match addr {
        ActorAddr::Business(a) => a.do_send(super::Passivate),
        ActorAddr::Session(a) => a.do_send(super::Passivate),
    }
}

/// Runs the registry until shutdown. `env.registry` must be the handle paired with `inbox`.
pub async fn run(env: ActorEnv, inbox: RegistryInbox) {
    let RegistryInbox { mut rx, limits, active, shutdown } = inbox;
    let table = Rc::new(RefCell::new(Table { actors: BTreeMap::new(), next_instance: 0, limits, env: env.clone(), active }));
    let tick = (limits.idle_after / 4).clamp(Duration::from_millis(10), PASSIVATION_TICK_MAX);
    let mut ticker = tokio::time::interval(tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            msg = rx.recv() => {
                let Some(env_msg) = msg else { break };
                tokio::task::spawn_local(route(table.clone(), env.clone(), env_msg));
            }
            _ = ticker.tick() => table.borrow_mut().passivate_idle(),
            _ = shutdown.notified() => break,
        }
    }
    table.borrow_mut().stop_all();
    tracing::info!("actor registry stopped");
}

async fn route(table: Rc<RefCell<Table>>, env: ActorEnv, msg: Envelope) {
    let Envelope { key, request, reply, forwarded } = msg;
    let result = deliver(&table, &env, &key, request, forwarded).await;
    let _ = reply.send(result);
}

/// Where a call should run.
pub enum Target {
    Local,
    Remote(u64),
}

/// An actor call sent to the owning node.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct AppCall {
    /// The actor.
    pub key: ActorKey,
    /// The call.
    pub request: Request,
}

/// Rounds of "resolve owner, deliver" per call: a fenced or misrouted attempt refreshes the
/// local view (read barrier) and tries again.
const ROUTE_ATTEMPTS_MAX: usize = 3;

/// Delivers one call to the actor's owner: locally, or over QUIC to the node that owns it. A
/// call that finds no owner places the actor (sessions: here; businesses: a node of their home
/// region). A fenced local attempt, or a remote node saying it is not the owner, refreshes this
/// node's view and routes again.
async fn deliver(
    table: &Rc<RefCell<Table>>,
    env: &ActorEnv,
    key: &ActorKey,
    request: Request,
    forwarded: bool,
) -> Result<Reply, ActorError> {
    let me = env.cluster.id();
    let stored_key = key.to_string();
    let mut refreshed = false;
    let mut last_err = None;
    for _ in 0..ROUTE_ATTEMPTS_MAX {
        let owner = env.cluster.view().owner(&stored_key)?;
        let draining = placement::is_draining(&env.cluster, me);
        let target = match owner {
            Some(o) if o.node == me && !draining => Target::Local,
            // A draining node serves nothing itself: it hands the actor on, then routes there.
            Some(o) if o.node == me => match hand_off(env, &stored_key, o).await? {
                Some(target) => target,
                None => continue,
            },
            // The owner left or has been unreachable for failover_after: serve it here (the
            // activation claims the next epoch, which fences the old owner if it comes back),
            // or, when this node is draining, hand it straight to a successor.
            Some(o) if !forwarded && placement::owner_lost(&env.cluster, o.node) => {
                if !draining {
                    Target::Local
                } else {
                    match hand_off(env, &stored_key, o).await? {
                        Some(target) => target,
                        None => continue,
                    }
                }
            }
            Some(o) => Target::Remote(o.node),
            None if request.creates() => placement(env, &request),
            None if !refreshed => {
                env.cluster.read_barrier().await?;
                refreshed = true;
                continue;
            }
            None => return Err(not_found(key)),
        };
        let result = match target {
            Target::Local => deliver_local(table, env, key, &request).await,
            // A forwarded call is only ever served by the owner: a second hop would mean our
            // views disagree, so let the sender refresh instead of bouncing the call around.
            Target::Remote(_) if forwarded => Err(ActorError::Fenced { key: stored_key.clone() }),
            Target::Remote(node) => forward(env, node, key, &request).await,
        };
        match result {
            Err(ActorError::Fenced { .. }) => {
                last_err = result.err();
                env.cluster.read_barrier().await?;
                refreshed = true;
            }
            other => return other,
        }
    }
    Err(last_err.unwrap_or_else(|| ActorError::Unavailable(format!("could not route to {key}"))))
}

fn not_found(key: &ActorKey) -> ActorError {
    match key {
        ActorKey::Business(id) => ActorError::NotFound { what: crate::actors::Missing::Business, id: id.to_string() },
        ActorKey::Session(id) => ActorError::NotFound { what: crate::actors::Missing::Session, id: id.to_string() },
    }
}

/// Where a new actor lives: a session with the node that opened it (the customer's region), a
/// business with a node of its home region (this one if it is there, else the lowest id). A
/// draining node places nothing on itself: the best other candidate gets it.
fn placement(env: &ActorEnv, request: &Request) -> Target {
    let me = env.cluster.id();
    let draining = placement::is_draining(&env.cluster, me);
    let home = match request {
        Request::Business(BusinessMsg::Create(new)) => new.home_region.as_str(),
        _ => env.region.as_str(),
    };
    if home == env.region && !draining {
        return Target::Local;
    }
    let exclude = draining.then_some(me);
    match placement::candidates(&env.cluster, &env.regions, home, exclude).first() {
        Some(id) if *id == me => Target::Local,
        Some(id) => Target::Remote(*id),
        // Nobody else can take it: serving here beats refusing.
        None => Target::Local,
    }
}

/// Hands `actor`, owned by `owner` (this node, or a lost node while this one drains), to the
/// best successor with a fenced claim in the successor's name. `None`: the claim raced with
/// another and the caller should look again; `Some(Local)` when no other node can take it.
pub async fn hand_off(env: &ActorEnv, actor: &str, owner: svea_storage::Owner) -> Result<Option<Target>, ActorError> {
    let me = env.cluster.id();
    let Some(to) = placement::candidates(&env.cluster, &env.regions, &env.region, Some(me)).first().copied() else {
        return Ok(Some(Target::Local));
    };
    let moved = placement::hand_to(&env.cluster, actor, owner, to).await?;
    Ok(moved.then_some(Target::Remote(to)))
}

async fn deliver_local(table: &Rc<RefCell<Table>>, env: &ActorEnv, key: &ActorKey, request: &Request) -> Result<Reply, ActorError> {
    if !request.creates() && !table.borrow().is_active(key) && !exists(env, key).await? {
        return Err(not_found(key));
    }
    let (addr, instance) = table.borrow_mut().acquire(key)?;
    let result = match (&addr, request.clone()) {
        (ActorAddr::Business(a), Request::Business(m)) => flatten(a.send(BusinessCall(m)).await).map(Reply::Business),
        (ActorAddr::Session(a), Request::Session(m)) => flatten(a.send(SessionCall(m)).await).map(Reply::Session),
        _ => Err(ActorError::Internal(format!("request kind does not match actor {key}"))),
    };
    let drop_actor = matches!(result, Err(ActorError::Fenced { .. } | ActorError::Unavailable(_) | ActorError::Internal(_)));
    table.borrow_mut().release(key, instance, drop_actor);
    result
}

async fn forward(env: &ActorEnv, node: u64, key: &ActorKey, request: &Request) -> Result<Reply, ActorError> {
    let call = AppCall { key: key.clone(), request: request.clone() };
    let bytes = svea_storage::codec::encode(&call)?;
    let answer = env.cluster.call_app(node, bytes, env.forward_timeout).await?;
    let result: Result<Reply, ActorError> = svea_storage::codec::decode(&answer)?;
    result
}

fn flatten<T>(r: Result<Result<T, ActorError>, actix::MailboxError>) -> Result<T, ActorError> {
    match r {
        Ok(inner) => inner,
        // The actor stopped between routing and delivery (passivation race or a fenced write).
        Err(e) => Err(ActorError::Fenced { key: format!("mailbox: {e}") }),
    }
}

/// Whether the actor has state in the store; confirms with the leader before saying no.
async fn exists(env: &ActorEnv, key: &ActorKey) -> Result<bool, ActorError> {
    let k = key.to_string();
    if env.cluster.view().state(&k)?.is_some() {
        return Ok(true);
    }
    env.cluster.read_barrier().await?;
    Ok(env.cluster.view().state(&k)?.is_some())
}
