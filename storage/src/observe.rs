//! Timing hooks for the node's metrics: storage measures, the node records. Storage knows no
//! metrics library; the node installs one [`StorageObserver`] per store
//! ([`LogStore::set_observer`](crate::LogStore::set_observer)) and turns the calls into
//! histograms and counters. Without an observer nothing is timed (no clock is read at all, so
//! the simulations stay as they were); with one, timings only measure and never decide.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

// tokio's clock: the real one in a node, the simulation's virtual one there (so a simulated
// disk's flush latency is what the histogram sees, and no OS clock is read).
use tokio::time::Instant;

/// Receives storage events. Every method has an empty default.
pub trait StorageObserver: Send + Sync + 'static {
    /// A log append became durable: from the write until the flush that covers it returned.
    fn log_appended(&self, _took: Duration) {}
    /// One engine flush (for sled: `Db::flush` and the `fdatasync` of its file).
    fn flushed(&self, _took: Duration) {}
    /// One Raft entry applied to the state machine.
    fn entry_applied(&self, _took: Duration) {}
    /// The committed index openraft reported to the log store.
    fn committed(&self, _index: u64) {}
    /// A snapshot was built here.
    fn snapshot_built(&self) {}
    /// A snapshot from the leader was installed here.
    fn snapshot_installed(&self) {}
}

/// The observer slot one store's log, state machine and flusher share: set once.
#[derive(Clone, Default)]
pub(crate) struct Slot(Arc<OnceLock<Arc<dyn StorageObserver>>>);

impl Slot {
    /// The observer, if one is installed.
    pub(crate) fn get(&self) -> Option<&Arc<dyn StorageObserver>> {
        self.0.get()
    }

    /// Installs `o`; a second call is ignored (false).
    pub(crate) fn set(&self, o: Arc<dyn StorageObserver>) -> bool {
        self.0.set(o).is_ok()
    }

    /// A stopwatch started now when an observer is installed, else none (no clock read).
    pub(crate) fn start(&self) -> Option<Instant> {
        self.get().map(|_| Instant::now())
    }

    /// Reports `started.elapsed()` through `f` when both exist.
    pub(crate) fn finish(&self, started: Option<Instant>, f: impl FnOnce(&dyn StorageObserver, Duration)) {
        if let (Some(o), Some(t)) = (self.get(), started) {
            f(o.as_ref(), t.elapsed());
        }
    }
}
