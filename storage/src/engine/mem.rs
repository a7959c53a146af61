//! An in-memory disk for the simulations: what was flushed survives a crash, nothing else does.
//!
//! A [`MemDisk`] is the durable medium; it outlives simulated processes. [`MemDisk::open`] gives a
//! [`MemEngine`] (one process's view) whose trees start from the durable contents. Writes go to the
//! engine's live copy and to a list of pending operations; [`MemEngine::flush`] moves the pending
//! operations, in order, onto the disk. [`MemDisk::crash`] retires every engine opened before it:
//! their later writes and flushes never reach the disk, exactly as if the process had died.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use super::Pair;

type Trees = BTreeMap<&'static str, BTreeMap<Vec<u8>, Vec<u8>>>;

/// One pending write: tree, key, value (`None` removes).
type Op = (&'static str, Vec<u8>, Option<Vec<u8>>);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct DiskState {
    durable: Trees,
    /// Incremented by every crash; engines of an older generation are dead.
    generation: u64,
    flushes: u64,
    flush_latency: Duration,
    /// The engine of the process now using the disk (to judge its promises when it crashes).
    current: Option<Weak<EngineShared>>,
}

/// The durable medium of one simulated host. Cheap to clone; clones share the medium.
#[derive(Clone)]
pub struct MemDisk {
    state: Arc<Mutex<DiskState>>,
}

impl Default for MemDisk {
    fn default() -> Self {
        MemDisk { state: Arc::new(Mutex::new(DiskState { durable: Trees::new(), generation: 0, flushes: 0, flush_latency: Duration::ZERO, current: None })) }
    }
}

impl MemDisk {
    /// An empty disk.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty disk whose every flush takes `latency` (of tokio time, simulated in the
    /// simulations): the window in which a crash loses writes already handed to the disk.
    pub fn with_flush_latency(latency: Duration) -> Self {
        let disk = Self::default();
        lock(&disk.state).flush_latency = latency;
        disk
    }

    /// A process's view of the disk, starting from exactly the durable contents.
    pub fn open(&self) -> MemEngine {
        let mut s = lock(&self.state);
        let inner = Arc::new(EngineShared {
            disk: self.clone(),
            generation: s.generation,
            live: Mutex::new(Live { trees: s.durable.clone(), pending: Vec::new(), flushed: 0, acknowledged: 0 }),
        });
        s.current = Some(Arc::downgrade(&inner));
        MemEngine { inner }
    }

    /// The process using this disk died: every engine opened so far stops reaching the disk, and
    /// its unflushed writes are gone.
    pub fn crash(&self) -> Crash {
        let mut s = lock(&self.state);
        s.generation += 1;
        let broken = s.current.take().and_then(|w| w.upgrade()).map_or(0, |e| {
            let live = lock(&e.live);
            live.acknowledged.saturating_sub(live.flushed)
        });
        Crash { acknowledged_but_lost: broken }
    }

    /// How many flushes reached the disk (for tests and statistics).
    pub fn flushes(&self) -> u64 {
        lock(&self.state).flushes
    }

    /// A copy of the durable contents of tree `name`, in key order.
    pub fn durable_tree(&self, name: &str) -> Vec<Pair> {
        lock(&self.state).durable.get(name).map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default()
    }
}

struct Live {
    trees: Trees,
    pending: Vec<Op>,
    /// How many writes of this process reached the disk (those still pending follow them).
    flushed: u64,
    /// How many of them the store has told its callers were durable.
    acknowledged: u64,
}

/// What a crash did to the promises of the process that died.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Crash {
    /// Writes the store had reported durable (to openraft: a flushed log entry, a saved vote)
    /// that were not on the disk, so the crash lost them. Always 0 for a correct store.
    pub acknowledged_but_lost: u64,
}

struct EngineShared {
    disk: MemDisk,
    generation: u64,
    live: Mutex<Live>,
}

/// One process's view of a [`MemDisk`]. Cheap to clone.
#[derive(Clone)]
pub struct MemEngine {
    inner: Arc<EngineShared>,
}

impl MemEngine {
    pub(crate) fn tree(&self, name: &'static str) -> MemTree {
        lock(&self.inner.live).trees.entry(name).or_default();
        MemTree { engine: self.clone(), name }
    }

    /// Writes every pending operation to the disk, unless the disk crashed since this engine was
    /// opened (then they are dropped: a dead process flushes nothing).
    pub fn flush(&self) {
        let all = self.pending();
        self.flush_prefix(all);
    }

    /// Writes the first `n` pending operations to the disk (those that were pending when a flush
    /// started: a real disk makes no promise about writes that arrive during a flush), unless
    /// the disk crashed since this engine was opened.
    pub fn flush_prefix(&self, n: usize) {
        let pending: Vec<Op> = {
            let mut live = lock(&self.inner.live);
            let n = n.min(live.pending.len());
            live.flushed += n as u64;
            live.pending.drain(..n).collect()
        };
        let mut disk = lock(&self.inner.disk.state);
        if disk.generation != self.inner.generation {
            return;
        }
        disk.flushes += 1;
        for (tree, key, value) in pending {
            let t = disk.durable.entry(tree).or_default();
            match value {
                Some(v) => t.insert(key, v),
                None => t.remove(&key),
            };
        }
    }

    /// How long one flush takes.
    pub fn flush_latency(&self) -> Duration {
        lock(&self.inner.disk.state).flush_latency
    }

    /// How many writes this process has made so far (flushed and pending).
    pub fn written(&self) -> u64 {
        let live = lock(&self.inner.live);
        live.flushed + live.pending.len() as u64
    }

    /// Records that the store reported the first `upto` writes of this process durable.
    pub fn note_acknowledged(&self, upto: u64) {
        let mut live = lock(&self.inner.live);
        live.acknowledged = live.acknowledged.max(upto);
    }

    /// How many writes are not yet flushed.
    pub fn pending(&self) -> usize {
        lock(&self.inner.live).pending.len()
    }
}

/// One tree of a [`MemEngine`].
#[derive(Clone)]
pub(crate) struct MemTree {
    engine: MemEngine,
    name: &'static str,
}

impl MemTree {
    fn with<R>(&self, f: impl FnOnce(&BTreeMap<Vec<u8>, Vec<u8>>) -> R) -> R {
        let live = lock(&self.engine.inner.live);
        match live.trees.get(self.name) {
            Some(t) => f(t),
            None => f(&BTreeMap::new()),
        }
    }

    pub(crate) fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.with(|t| t.get(key).cloned())
    }

    pub(crate) fn apply_batch(&self, ops: Vec<(Vec<u8>, Option<Vec<u8>>)>) {
        let mut live = lock(&self.engine.inner.live);
        let Live { trees, pending, .. } = &mut *live;
        let t = trees.entry(self.name).or_default();
        for (k, v) in ops {
            match &v {
                Some(v) => t.insert(k.clone(), v.clone()),
                None => t.remove(&k),
            };
            pending.push((self.name, k, v));
        }
    }

    pub(crate) fn range(&self, start: Bound<Vec<u8>>, end: Bound<Vec<u8>>, limit: usize) -> Vec<Pair> {
        if let (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e)) = (&start, &end) {
            // BTreeMap::range panics on an inverted range; an empty answer is what sled gives.
            if s > e || (s == e && (matches!(start, Bound::Excluded(_)) || matches!(end, Bound::Excluded(_)))) {
                return Vec::new();
            }
        }
        self.with(|t| t.range((start, end)).take(limit).map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    pub(crate) fn last(&self) -> Option<Pair> {
        self.with(|t| t.iter().next_back().map(|(k, v)| (k.clone(), v.clone())))
    }

    pub(crate) fn len(&self) -> usize {
        self.with(|t| t.len())
    }
}
