//! Settlements of one business, many per commit.
//!
//! A business settles its sessions one after another (each decision depends on the budget, the
//! daily cap and the limits the one before it left), and each settlement is a commit. Before
//! this, a busy business settled one session per commit round trip: at 4 customers per business
//! the fourth waited for three commits. Now a node queues the settlements it asks of a business
//! ([`SettleQueue`]) and sends whatever waits as one [`SettleMany`]; the business decides them in
//! order, each on the state the one before it left and reading the records the ones before it
//! are about to write ([`Pending`]), and writes them all, with each session's fenced final state,
//! in ONE atomic command.
//!
//! All or nothing per command, exactly-once per session: a session whose fence no longer holds
//! (it moved on) or whose settlement is found stored after all is taken out and the rest are
//! decided again from the start, so no decision rests on one that was not written. Each round
//! takes at least one settlement out or commits, so a batch of `n` makes at most `n` rounds.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use svea_cluster::View as StateView;
use svea_storage::IndexWrite;
use tokio::sync::oneshot;

use super::business::{self, Business, BusinessActor, BusinessOp, New, Prepared, Settle, Settled};
use super::cell::{Persisted, PersistedWith, Slot};
use super::keys::Reads;
use super::registry::RegistryHandle;
use super::{ActorEnv, ActorError};
use crate::domain::BusinessId;

/// Most settlements in one [`SettleMany`] (a bound on one command's size: each carries its
/// session's state, feedback text included).
pub const SETTLE_BATCH_MAX: usize = 32;
/// Settlements waiting on one node for their business, at most; one more answers `Busy`.
pub const SETTLES_QUEUED_MAX: usize = 4096;

/// Settles many sessions of one business in one commit; one answer per settlement, in order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SettleMany {
    /// At most [`SETTLE_BATCH_MAX`].
    pub settles: Vec<Settle>,
}

op!(BusinessActor, BusinessId: SettleMany -> Vec<Result<Settled, ActorError>>);

impl BusinessOp for SettleMany {
    async fn run(self, env: &ActorEnv, _key: &str, id: &BusinessId, slot: &mut Slot<Business>) -> Result<Self::Reply, ActorError> {
        if self.settles.len() > SETTLE_BATCH_MAX {
            return Err(ActorError::Internal(format!("{} settlements in one batch (at most {SETTLE_BATCH_MAX})", self.settles.len())));
        }
        settle_batch(env, id, slot, self.settles).await
    }
}

/// The store as this node applied it, with the records a batch is about to write laid over it.
pub struct Pending<'v> {
    view: &'v StateView,
    writes: BTreeMap<String, Vec<u8>>,
}

impl<'v> Pending<'v> {
    /// Nothing pending yet.
    pub fn over(view: &'v StateView) -> Self {
        Pending { view, writes: BTreeMap::new() }
    }

    /// The store underneath.
    pub fn view(&self) -> &'v StateView {
        self.view
    }

    /// Lays `writes` over what is there.
    fn add(&mut self, writes: &[IndexWrite]) {
        for w in writes {
            self.writes.insert(w.key.clone(), w.value.clone());
        }
    }

    /// Pending records under `prefix` from key `from` on, in key order.
    pub fn written_after<'a>(&'a self, prefix: &'a str, from: &str) -> impl Iterator<Item = (&'a String, &'a Vec<u8>)> + 'a {
        self.writes.range(from.to_owned()..).take_while(move |(k, _)| k.starts_with(prefix))
    }
}

impl Reads for Pending<'_> {
    fn index(&self, key: &str) -> Result<Option<Vec<u8>>, svea_storage::Error> {
        match self.writes.get(key) {
            Some(v) => Ok(Some(v.clone())),
            None => self.view.index(key),
        }
    }
}

/// Settles `settles` in order in as few commits as the store allows (one, unless a session moved
/// on or a settlement was stored meanwhile). An error that leaves the actor's state unknown (the
/// commit's) answers the whole batch; one settlement's own refusal answers only it.
pub(super) async fn settle_batch(env: &ActorEnv, id: &BusinessId, slot: &mut Slot<Business>, settles: Vec<Settle>) -> Result<Vec<Result<Settled, ActorError>>, ActorError> {
    let now = env.clock.now();
    let mut answers: Vec<Option<Result<Settled, ActorError>>> = vec![None; settles.len()];
    let mut live: Vec<usize> = (0..settles.len()).collect();
    while !live.is_empty() {
        let mut next = business::current(slot, id)?.clone();
        let mut pending = Pending::over(env.cluster.view());
        let mut made = Vec::with_capacity(live.len());
        for &i in &live {
            match business::prepare_settle(env, id, &mut next, &pending, &settles[i], now) {
                Ok(Prepared::Stored(settlement)) => answers[i] = Some(Ok(Settled::Done { settlement, written: None })),
                Ok(Prepared::New(new)) => {
                    pending.add(&new.writes);
                    made.push((i, new));
                }
                Err(e) if super::cell::must_deactivate::<()>(&Err(e.clone())) => return Err(e),
                Err(e) => answers[i] = Some(Err(e)),
            }
        }
        drop(pending);
        live = made.iter().map(|(i, _)| *i).collect();
        if made.is_empty() {
            break;
        }
        let mut writes = Vec::new();
        let mut others = Vec::new();
        // Which settlement each of `others` belongs to.
        let mut other_of = Vec::new();
        for (k, (_, new)) in made.iter_mut().enumerate() {
            writes.extend(new.writes.iter().cloned());
            if let Some(o) = new.other.take() {
                others.push(o);
                other_of.push(k);
            }
        }
        let out = match slot.commit_with(env, next, writes, vec![], others).await? {
            PersistedWith::Own(Persisted::Ok) => {
                for (i, new) in made {
                    new.written(env, id);
                    let New { settlement, written, .. } = *new;
                    answers[i] = Some(Ok(Settled::Done { settlement, written }));
                }
                break;
            }
            PersistedWith::OtherRefused { part, refusal } => {
                let (i, new) = other_of.get(part).and_then(|k| made.get(*k)).ok_or_else(|| ActorError::Internal(format!("part {part} of a batch of settlements refused, beyond its parts")))?;
                tracing::info!(session_id = %new.session, ?refusal, "session moved on before its settlement; settling the others without it");
                answers[*i] = Some(Ok(Settled::SessionMoved));
                *i
            }
            PersistedWith::Own(Persisted::IndexTaken { key, existing }) => match made.iter().find(|(_, n)| n.settled_key == key) {
                // Settled meanwhile (a retry that another node's batch wrote first): that one stands.
                Some((i, _)) => {
                    let settlement = svea_storage::codec::decode::<business::Settlement>(&existing)?;
                    answers[*i] = Some(Ok(Settled::Done { settlement, written: None }));
                    *i
                }
                None => {
                    let owner = made.iter().find(|(_, n)| n.writes.iter().any(|w| w.key == key)).map(|(i, _)| *i);
                    let e = ActorError::Internal(format!("record {key} exists with another value"));
                    let Some(i) = owner else { return Err(e) };
                    answers[i] = Some(Err(e));
                    i
                }
            },
        };
        live.retain(|&i| i != out);
    }
    answers
        .into_iter()
        .map(|a| a.ok_or_else(|| ActorError::Internal("a settlement of a batch was left unanswered".into())))
        .collect::<Result<Vec<_>, _>>()
}

/// Work waiting per key (a business), sent a batch at a time by one sender task per key: a key
/// has an entry exactly while its sender runs, so work queued while a batch is in flight joins
/// the next batch instead of starting a second sender. Bounded: at most `max_queued` items wait
/// in all. Shared by the settlements here and the opening reports (`core::sessions`).
pub struct Batches<K, T> {
    by_key: HashMap<K, Vec<T>>,
    queued: usize,
    max_queued: usize,
}

impl<K: std::hash::Hash + Eq + Clone, T> Batches<K, T> {
    /// Empty, holding at most `max_queued` items.
    pub fn new(max_queued: usize) -> Self {
        Batches { by_key: HashMap::new(), queued: 0, max_queued }
    }

    /// Queues `item` for `key`: `Ok(true)` when `key` has no sender yet (the caller starts one),
    /// `Err(item)` when the queue is full.
    pub fn push(&mut self, key: &K, item: T) -> Result<bool, T> {
        if self.queued >= self.max_queued {
            return Err(item);
        }
        self.queued += 1;
        let start = !self.by_key.contains_key(key);
        self.by_key.entry(key.clone()).or_default().push(item);
        Ok(start)
    }

    /// The sender's next batch for `key`, at most `max` items; `None` when nothing is left, and
    /// then the sender stops (the next push starts a new one).
    pub fn take(&mut self, key: &K, max: usize) -> Option<Vec<T>> {
        let list = self.by_key.get_mut(key)?;
        if list.is_empty() {
            self.by_key.remove(key);
            return None;
        }
        let batch: Vec<T> = list.drain(..list.len().min(max)).collect();
        self.queued = self.queued.saturating_sub(batch.len());
        Some(batch)
    }
}

/// The settlements a node is waiting for, per business; see the module docs.
#[derive(Clone)]
pub struct SettleQueue(Arc<Mutex<Batches<BusinessId, (Settle, oneshot::Sender<Answer>)>>>);

impl Default for SettleQueue {
    fn default() -> Self {
        SettleQueue(Arc::new(Mutex::new(Batches::new(SETTLES_QUEUED_MAX))))
    }
}

type Answer = Result<Settled, ActorError>;

impl SettleQueue {
    /// Asks `business` to settle, together with whatever else this node asks of it meanwhile.
    pub async fn settle(&self, registry: &RegistryHandle, business: BusinessId, settle: Settle) -> Answer {
        let (reply, answer) = oneshot::channel();
        let queued = self.0.lock().unwrap_or_else(PoisonError::into_inner).push(&business, (settle, reply));
        let Ok(start) = queued else { return Err(ActorError::Busy { what: "settlements".into() }) };
        if start {
            tokio::task::spawn_local(self.clone().send(registry.clone(), business));
        }
        // The sender answers every settlement it takes (its call is bounded by the registry's
        // timeout); a dropped sender means the node is stopping.
        answer.await.unwrap_or_else(|_| Err(ActorError::Unavailable("node is shutting down".into())))
    }

    /// Sends `business`'s waiting settlements, a batch at a time, until none is left.
    async fn send(self, registry: RegistryHandle, business: BusinessId) {
        loop {
            let Some(batch) = self.0.lock().unwrap_or_else(PoisonError::into_inner).take(&business, SETTLE_BATCH_MAX) else { return };
            // Callers that gave up have nobody to tell; their sessions ask again.
            let (settles, replies): (Vec<Settle>, Vec<oneshot::Sender<Answer>>) = batch.into_iter().filter(|(_, r)| !r.is_closed()).unzip();
            if settles.is_empty() {
                continue;
            }
            let n = settles.len();
            // A settlement alone goes as the `Settle` every version serves (a node not yet
            // upgraded does not know `SettleMany`): under light load, every one.
            let answered = match <[Settle; 1]>::try_from(settles) {
                Ok([one]) => registry.call(business.clone(), one).await.map(|s| vec![Ok(s)]),
                Err(settles) => registry.call(business.clone(), SettleMany { settles }).await,
            };
            match answered {
                Ok(answers) if answers.len() == n => {
                    for (reply, answer) in replies.into_iter().zip(answers) {
                        let _ = reply.send(answer);
                    }
                }
                Ok(answers) => {
                    let e = ActorError::Internal(format!("{n} settlements answered {} times", answers.len()));
                    replies.into_iter().for_each(|r| drop(r.send(Err(e.clone()))));
                }
                Err(e) => replies.into_iter().for_each(|r| drop(r.send(Err(e.clone())))),
            }
        }
    }
}
