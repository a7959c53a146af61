//! An in-memory disk for the simulations: what was flushed survives a crash, and of what was not,
//! a prefix may.
//!
//! A [`MemDisk`] is the durable medium; it outlives simulated processes. [`MemDisk::open`] gives a
//! [`MemEngine`] (one process's view) whose trees start from the durable contents. Writes go to the
//! engine's live copy and to a list of pending operations; [`MemEngine::flush`] moves the pending
//! operations, in order, onto the disk. [`MemDisk::crash_keeping`] retires every engine opened
//! before it: their later writes and flushes never reach the disk, exactly as if the process had
//! died; of the writes it made since its last flush, the disk keeps the oldest few whole batches.
//!
//! Why a prefix: sled is log-structured. Its writes reach the file in the order they were made,
//! each batch (`apply_batch`) atomically, and `flush` only waits for them; a crash before the
//! flush may leave any prefix of the unflushed writes on disk, never a later write without an
//! earlier one, never half a batch. So a store that writes two things in two batches, the second
//! relying on the first, is tested in the order it wrote them.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use super::Pair;

type Trees = BTreeMap<&'static str, BTreeMap<Vec<u8>, Vec<u8>>>;

/// One pending write: tree, key, value (`None` removes).
type Op = (&'static str, Vec<u8>, Option<Vec<u8>>);

/// The pending writes of one `apply_batch`: reach the disk all together or not at all.
type Unit = Vec<Op>;

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
        self.crash_keeping(|_| 0)
    }

    /// The process using this disk died: every engine opened so far stops reaching the disk. Of
    /// its unflushed batches, the oldest `keep(n)` (of `n`, capped at `n`) reached the disk before
    /// it died, in the order they were written; the rest are gone.
    pub fn crash_keeping(&self, keep: impl FnOnce(usize) -> usize) -> Crash {
        let mut s = lock(&self.state);
        let current = s.current.take().and_then(|w| w.upgrade());
        let mut kept_writes = 0u64;
        let broken = current.map_or(0, |e| {
            let mut live = lock(&e.live);
            if e.generation == s.generation {
                let n = live.pending.len();
                let kept: Vec<Unit> = live.pending.drain(..keep(n).min(n)).collect();
                for unit in kept {
                    kept_writes += unit.len() as u64;
                    write_unit(&mut s.durable, unit);
                }
            }
            live.acknowledged.saturating_sub(live.flushed + kept_writes)
        });
        s.generation += 1;
        Crash { acknowledged_but_lost: broken, kept_writes }
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

fn write_unit(durable: &mut Trees, unit: Unit) {
    for (tree, key, value) in unit {
        let t = durable.entry(tree).or_default();
        match value {
            Some(v) => t.insert(key, v),
            None => t.remove(&key),
        };
    }
}

struct Live {
    trees: Trees,
    /// Batches not yet flushed, oldest first.
    pending: Vec<Unit>,
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
    /// Unflushed writes the disk kept anyway (a prefix of them).
    pub kept_writes: u64,
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

    /// Writes every pending batch to the disk, unless the disk crashed since this engine was
    /// opened (then they are dropped: a dead process flushes nothing).
    pub fn flush(&self) {
        let all = self.pending();
        self.flush_prefix(all);
    }

    /// Writes the first `n` pending batches to the disk (those that were pending when a flush
    /// started: a real disk makes no promise about writes that arrive during a flush), unless
    /// the disk crashed since this engine was opened.
    pub fn flush_prefix(&self, n: usize) {
        // Both locks, disk first as in a crash, so a crash never sees batches half moved.
        let mut disk = lock(&self.inner.disk.state);
        let mut live = lock(&self.inner.live);
        let n = n.min(live.pending.len());
        let units: Vec<Unit> = live.pending.drain(..n).collect();
        live.flushed += units.iter().map(|u| u.len() as u64).sum::<u64>();
        drop(live);
        if disk.generation != self.inner.generation {
            return;
        }
        disk.flushes += 1;
        for unit in units {
            write_unit(&mut disk.durable, unit);
        }
    }

    /// How long one flush takes.
    pub fn flush_latency(&self) -> Duration {
        lock(&self.inner.disk.state).flush_latency
    }

    /// How many writes this process has made so far (flushed and pending).
    pub fn written(&self) -> u64 {
        let live = lock(&self.inner.live);
        live.flushed + live.pending.iter().map(|u| u.len() as u64).sum::<u64>()
    }

    /// Records that the store reported the first `upto` writes of this process durable.
    pub fn note_acknowledged(&self, upto: u64) {
        let mut live = lock(&self.inner.live);
        live.acknowledged = live.acknowledged.max(upto);
    }

    /// How many batches are not yet flushed.
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
        let mut unit = Unit::with_capacity(ops.len());
        for (k, v) in ops {
            match &v {
                Some(v) => t.insert(k.clone(), v.clone()),
                None => t.remove(&k),
            };
            unit.push((self.name, k, v));
        }
        if !unit.is_empty() {
            pending.push(unit);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn write(engine: &MemEngine, tree: &'static str, pairs: &[(&str, &str)]) {
        engine.tree(tree).apply_batch(pairs.iter().map(|(k, v)| (k.as_bytes().to_vec(), Some(v.as_bytes().to_vec()))).collect());
    }

    fn keys(disk: &MemDisk, tree: &str) -> Vec<String> {
        disk.durable_tree(tree).into_iter().map(|(k, _)| String::from_utf8(k).expect("utf-8")).collect()
    }

    #[test]
    fn a_crash_keeps_a_prefix_of_whole_batches_in_the_order_written() {
        let disk = MemDisk::new();
        let e = disk.open();
        write(&e, "a", &[("flushed", "1")]);
        e.flush();
        write(&e, "a", &[("b1-x", "1"), ("b1-y", "1")]);
        write(&e, "b", &[("b2", "1")]);
        write(&e, "a", &[("b3", "1")]);
        assert_eq!(e.pending(), 3, "three batches since the flush");
        let mut offered = None;
        let crash = disk.crash_keeping(|n| {
            offered = Some(n);
            2
        });
        assert_eq!(offered, Some(3));
        assert_eq!(crash.kept_writes, 3, "the first two batches, whole");
        assert_eq!(keys(&disk, "a"), ["b1-x", "b1-y", "flushed"]);
        assert_eq!(keys(&disk, "b"), ["b2"]);
        // The dead process's later writes and flushes never arrive.
        write(&e, "a", &[("late", "1")]);
        e.flush();
        assert_eq!(keys(&disk, "a"), ["b1-x", "b1-y", "flushed"]);
        // The next process starts from exactly what the disk kept.
        let next = disk.open();
        assert_eq!(next.tree("a").get(b"b3"), None);
        assert!(next.tree("b").get(b"b2").is_some());
    }

    #[test]
    fn acknowledged_writes_count_as_lost_only_when_the_kept_prefix_misses_them() {
        let disk = MemDisk::new();
        let e = disk.open();
        write(&e, "a", &[("1", "1")]);
        write(&e, "a", &[("2", "1")]);
        e.note_acknowledged(2); // a store that lied: neither is flushed
        let crash = disk.crash_keeping(|_| 1);
        assert_eq!((crash.kept_writes, crash.acknowledged_but_lost), (1, 1));
        let e = disk.open();
        write(&e, "a", &[("3", "1")]);
        e.note_acknowledged(1);
        assert_eq!(disk.crash_keeping(|n| n).acknowledged_but_lost, 0, "all kept");
    }
}
