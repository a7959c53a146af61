//! The Raft log and vote on the storage engine.
//!
//! Layout: tree `raft_log` maps big-endian index -> encoded entry; tree `raft_meta` holds the
//! vote, the committed log id and the last purged log id. An append is readable at once and
//! reported to openraft as persisted only from the flusher, after an engine flush that started
//! after the append completed.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{AnyError, Entry, LogId, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote};

use crate::codec::{decode, encode};
use crate::engine::{Batch, Engine, Tree};
use crate::error::Error;
use crate::flusher::{Flusher, Waiter};
use crate::{tree_name, GroupId};
use crate::types::{RaftNodeId, TypeConfig};

const KEY_VOTE: &[u8] = b"vote";
const KEY_COMMITTED: &[u8] = b"committed";
const KEY_PURGED: &[u8] = b"last_purged";

/// Tree of the log entries.
pub(crate) const LOG_TREE: &str = "raft_log";
/// Tree of the vote, committed id and purge marker.
pub(crate) const META_TREE: &str = "raft_meta";

/// The Raft log store. Cheap to clone; clones share the trees.
#[derive(Clone)]
pub struct LogStore {
    inner: Arc<Inner>,
}

struct Inner {
    log: Tree,
    meta: Tree,
    flusher: Flusher,
}

type SErr = StorageError<RaftNodeId>;

fn io_err<E: std::error::Error + 'static>(mk: fn(AnyError) -> StorageIOError<RaftNodeId>, e: E) -> SErr {
    SErr::from(mk(AnyError::new(&e)))
}

impl LogStore {
    pub(crate) fn open(engine: &Engine, flusher: Flusher, group: GroupId) -> Result<Self, Error> {
        let log = engine.open_tree(&tree_name(group, LOG_TREE))?;
        let meta = engine.open_tree(&tree_name(group, META_TREE))?;
        Ok(LogStore { inner: Arc::new(Inner { log, meta, flusher }) })
    }

    /// Installs the observer of this store (its log, state machine and flusher); once only:
    /// false when one was installed already.
    pub fn set_observer(&self, observer: std::sync::Arc<dyn crate::StorageObserver>) -> bool {
        self.inner.flusher.observer.set(observer)
    }

    fn read_meta<T: serde::de::DeserializeOwned>(&self, key: &[u8], what: &'static str) -> Result<Option<T>, Error> {
        match self.inner.meta.get(key)? {
            None => Ok(None),
            Some(v) => decode(&v).map(Some).map_err(Error::corrupt(what)),
        }
    }

    fn write_meta<T: serde::Serialize>(&self, key: &[u8], value: &T, what: &'static str) -> Result<(), Error> {
        let bytes = encode(value).map_err(Error::corrupt(what))?;
        self.inner.meta.insert(key, bytes)
    }

    fn last_entry_id(&self) -> Result<Option<LogId<RaftNodeId>>, Error> {
        match self.inner.log.last()? {
            None => Ok(None),
            Some((_, v)) => {
                let e: Entry<TypeConfig> = decode(&v).map_err(Error::corrupt("log entry"))?;
                Ok(Some(e.log_id))
            }
        }
    }

    /// Removes every entry whose key falls in `range`, atomically.
    fn remove_range(&self, start: Bound<Vec<u8>>, end: Bound<Vec<u8>>) -> Result<(), Error> {
        let mut batch = Batch::default();
        for (k, _) in self.inner.log.range(start, end, usize::MAX)? {
            batch.remove(k);
        }
        self.inner.log.apply_batch(batch)
    }

    /// Number of entries currently in the log (for metrics and tests).
    pub fn len(&self) -> usize {
        self.inner.log.len()
    }

    /// Whether the log holds no entries.
    pub fn is_empty(&self) -> bool {
        self.inner.log.len() == 0
    }
}

/// Marks an empty store's log as purged up to `at` (a store seeded from a backup: its state
/// machine starts at `at`, and the entries before it exist nowhere). Not flushed here.
pub(crate) fn seed_purged(engine: &Engine, group: GroupId, at: LogId<RaftNodeId>) -> Result<(), Error> {
    let meta = engine.open_tree(&tree_name(group, META_TREE))?;
    meta.insert(KEY_PURGED, encode(&at).map_err(Error::corrupt("last purged"))?)?;
    meta.insert(KEY_COMMITTED, encode(&Some(at)).map_err(Error::corrupt("committed"))?)
}

fn idx_key(i: u64) -> Vec<u8> {
    i.to_be_bytes().to_vec()
}

fn to_bound(b: Bound<&u64>) -> Bound<Vec<u8>> {
    match b {
        Bound::Included(i) => Bound::Included(idx_key(*i)),
        Bound::Excluded(i) => Bound::Excluded(idx_key(*i)),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, SErr> {
        let pairs = self
            .inner
            .log
            .range(to_bound(range.start_bound()), to_bound(range.end_bound()), usize::MAX)
            .map_err(|e| io_err(StorageIOError::read_logs, e))?;
        let mut out = Vec::with_capacity(pairs.len());
        for (_, v) in pairs {
            let entry: Entry<TypeConfig> = decode(&v).map_err(|e| io_err(StorageIOError::read_logs, e))?;
            out.push(entry);
        }
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, SErr> {
        let last_purged: Option<LogId<RaftNodeId>> =
            self.read_meta(KEY_PURGED, "last purged").map_err(|e| io_err(StorageIOError::read_logs, e))?;
        let last = self.last_entry_id().map_err(|e| io_err(StorageIOError::read_logs, e))?;
        Ok(LogState { last_purged_log_id: last_purged, last_log_id: last.or(last_purged) })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<RaftNodeId>) -> Result<(), SErr> {
        self.write_meta(KEY_VOTE, vote, "vote").map_err(|e| io_err(StorageIOError::write_vote, e))?;
        // A vote must be durable before openraft acts on it.
        self.inner.flusher.flush().await.map_err(|e| io_err(StorageIOError::write_vote, e))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<RaftNodeId>>, SErr> {
        self.read_meta(KEY_VOTE, "vote").map_err(|e| io_err(StorageIOError::read_vote, e))
    }

    async fn save_committed(&mut self, committed: Option<LogId<RaftNodeId>>) -> Result<(), SErr> {
        // Not flushed on purpose: losing it only means re-applying from the last applied entry
        // once a leader re-commits.
        if let (Some(o), Some(c)) = (self.inner.flusher.observer.get(), committed) {
            o.committed(c.index);
        }
        self.write_meta(KEY_COMMITTED, &committed, "committed").map_err(|e| io_err(StorageIOError::write, e))
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<RaftNodeId>>, SErr> {
        let c: Option<Option<LogId<RaftNodeId>>> =
            self.read_meta(KEY_COMMITTED, "committed").map_err(|e| io_err(StorageIOError::read, e))?;
        Ok(c.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), SErr>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = Batch::default();
        for entry in entries {
            let bytes = encode(&entry).map_err(|e| io_err(StorageIOError::write_logs, e))?;
            batch.insert(idx_key(entry.log_id.index), bytes);
        }
        let observer = self.inner.flusher.observer.clone();
        let started = observer.start();
        self.inner.log.apply_batch(batch).map_err(|e| io_err(StorageIOError::write_logs, e))?;
        // Durable only after a flush that starts after this point; the flusher calls back.
        let waiter = Waiter::Callback(Box::new(move |res: Result<(), String>| {
            observer.finish(started, |o, took| o.log_appended(took));
            callback.log_io_completed(res.map_err(std::io::Error::other));
        }));
        self.inner.flusher.enqueue(waiter).await.map_err(|e| io_err(StorageIOError::write_logs, e))
    }

    async fn truncate(&mut self, log_id: LogId<RaftNodeId>) -> Result<(), SErr> {
        self.remove_range(Bound::Included(idx_key(log_id.index)), Bound::Unbounded).map_err(|e| io_err(StorageIOError::write_logs, e))
    }

    async fn purge(&mut self, log_id: LogId<RaftNodeId>) -> Result<(), SErr> {
        // Record the purge point first so a crash in between never leaves a hole unexplained.
        self.write_meta(KEY_PURGED, &log_id, "last purged").map_err(|e| io_err(StorageIOError::write_logs, e))?;
        self.remove_range(Bound::Unbounded, Bound::Included(idx_key(log_id.index))).map_err(|e| io_err(StorageIOError::write_logs, e))
    }
}
