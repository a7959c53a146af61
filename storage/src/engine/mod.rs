//! The key-value engine under the log and state machine: named trees of ordered byte keys, point
//! reads, range scans, atomic batches and an explicit flush.
//!
//! Two engines implement it: sled ([`sled`], production) and an in-memory disk ([`mem`], the
//! simulations) that keeps flushed and not-yet-flushed writes apart, so a simulated crash loses
//! exactly what was never flushed. [`crate::LogStore`], [`crate::StateMachineStore`] and
//! [`crate::StateView`] are written once against [`Engine`] and [`Tree`].

pub mod mem;
mod sled_sync;

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use crate::error::Error;

/// One key-value pair as stored.
pub type Pair = (Vec<u8>, Vec<u8>);

/// Writes applied atomically by [`Tree::apply_batch`]: `None` removes the key.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    ops: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl Batch {
    /// Sets `key` to `value`.
    pub fn insert(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push((key.into(), Some(value.into())));
    }

    /// Removes `key` (absent keys are ignored).
    pub fn remove(&mut self, key: impl Into<Vec<u8>>) {
        self.ops.push((key.into(), None));
    }
}

/// A storage engine: a set of named trees and a flush that makes every earlier write durable.
#[derive(Clone)]
pub enum Engine {
    /// sled on disk.
    Sled(SledEngine),
    /// The simulations' in-memory disk.
    Mem(mem::MemEngine),
}

/// sled, and the files its flushes are made durable in (see [`sled_sync`]).
#[derive(Clone)]
pub struct SledEngine {
    db: ::sled::Db,
    files: Arc<sled_sync::SledFiles>,
}

impl SledEngine {
    /// Opens (or creates) the sled store in `dir`, its page cache bounded to `cache_bytes`.
    pub(crate) fn open(dir: &Path, cache_bytes: u64) -> Result<SledEngine, Error> {
        let open_err = |source| Error::Open { path: dir.to_path_buf(), source };
        let db = ::sled::Config::new()
            .path(dir)
            .mode(::sled::Mode::HighThroughput)
            .cache_capacity(cache_bytes)
            .open()
            .map_err(open_err)?;
        let files = sled_sync::SledFiles::open(dir).map_err(|source| Error::Sync { source })?;
        Ok(SledEngine { db, files: Arc::new(files) })
    }

    /// sled's flush (its buffers written, `sync_file_range`), then one `fdatasync` of its data
    /// file and the directory syncs its new files need: the writes are on stable storage.
    fn flush_durable(&self) -> Result<(), Error> {
        self.db.flush().map_err(Error::sled("flush"))?;
        self.files.sync().map_err(|source| Error::Sync { source })
    }
}

impl Engine {
    /// Opens (or creates) the tree `name`.
    pub(crate) fn open_tree(&self, name: &str) -> Result<Tree, Error> {
        let name = interned(name);
        match self {
            Engine::Sled(s) => s.db.open_tree(name).map(Tree::Sled).map_err(Error::sled("open tree")),
            Engine::Mem(m) => Ok(Tree::Mem(m.tree(name))),
        }
    }

    /// Makes every write completed before this call durable: on stable storage, data and the
    /// metadata needed to read it (`fdatasync` level) for sled, so call it off the async
    /// threads; immediate for the in-memory engine.
    pub(crate) fn flush_blocking(&self) -> Result<(), Error> {
        match self {
            Engine::Sled(s) => s.flush_durable(),
            Engine::Mem(m) => {
                m.flush();
                Ok(())
            }
        }
    }
}

/// `name` as a `&'static str`: tree names are a small fixed set (four per Raft group, at most
/// [`crate::GROUPS_MAX`] groups, plus the format marker), so each distinct name is allocated once
/// and kept for the life of the process; the in-memory engine keys its trees by them.
fn interned(name: &str) -> &'static str {
    static NAMES: std::sync::Mutex<std::collections::BTreeSet<&'static str>> = std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut names = NAMES.lock().unwrap_or_else(|p| p.into_inner());
    match names.get(name) {
        Some(n) => n,
        None => {
            let n: &'static str = Box::leak(name.to_owned().into_boxed_str());
            names.insert(n);
            n
        }
    }
}

/// One ordered tree of an [`Engine`]. Cheap to clone.
#[derive(Clone)]
pub(crate) enum Tree {
    Sled(::sled::Tree),
    Mem(mem::MemTree),
}

impl Tree {
    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        match self {
            Tree::Sled(t) => t.get(key).map(|v| v.map(|v| v.to_vec())).map_err(Error::sled("read")),
            Tree::Mem(t) => Ok(t.get(key)),
        }
    }

    pub(crate) fn insert(&self, key: &[u8], value: Vec<u8>) -> Result<(), Error> {
        let mut b = Batch::default();
        b.insert(key, value);
        self.apply_batch(b)
    }

    pub(crate) fn apply_batch(&self, batch: Batch) -> Result<(), Error> {
        match self {
            Tree::Sled(t) => {
                let mut b = ::sled::Batch::default();
                for (k, v) in batch.ops {
                    match v {
                        Some(v) => b.insert(k, v),
                        None => b.remove(k),
                    }
                }
                t.apply_batch(b).map_err(Error::sled("write batch"))
            }
            Tree::Mem(t) => {
                t.apply_batch(batch.ops);
                Ok(())
            }
        }
    }

    /// Up to `limit` pairs with keys in `(start, end)`, in key order.
    pub(crate) fn range(&self, start: Bound<Vec<u8>>, end: Bound<Vec<u8>>, limit: usize) -> Result<Vec<Pair>, Error> {
        match self {
            Tree::Sled(t) => {
                let mut out = Vec::new();
                for kv in t.range::<Vec<u8>, _>((start, end)).take(limit) {
                    let (k, v) = kv.map_err(Error::sled("scan"))?;
                    out.push((k.to_vec(), v.to_vec()));
                }
                Ok(out)
            }
            Tree::Mem(t) => Ok(t.range(start, end, limit)),
        }
    }

    /// Up to `limit` pairs whose key starts with `prefix`, in key order.
    pub(crate) fn scan_prefix(&self, prefix: &[u8], limit: usize) -> Result<Vec<Pair>, Error> {
        let end = match prefix_end(prefix) {
            Some(e) => Bound::Excluded(e),
            None => Bound::Unbounded,
        };
        self.range(Bound::Included(prefix.to_vec()), end, limit)
    }

    /// The pair with the greatest key.
    pub(crate) fn last(&self) -> Result<Option<Pair>, Error> {
        match self {
            Tree::Sled(t) => t.last().map(|o| o.map(|(k, v)| (k.to_vec(), v.to_vec()))).map_err(Error::sled("read last")),
            Tree::Mem(t) => Ok(t.last()),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Tree::Sled(t) => t.len(),
            Tree::Mem(t) => t.len(),
        }
    }
}

/// The smallest key greater than every key starting with `prefix` (`None`: no such key).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}
