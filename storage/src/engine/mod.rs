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

/// sled, and the files its flushes are made durable in (see [`sled_sync`]), in generations: a
/// [`SledEngine::rewrite`] copies the live data into a fresh sled store and deletes the old one,
/// which is how stale bytes (deleted records, overwritten snapshots, purged log entries) leave the
/// disk: sled 0.34 reuses freed segments lazily and never clears them.
///
/// Layout: a store that was never rewritten is sled's files in the store directory itself
/// (generation 0, as every store before generations); generation `n` > 0 lives in `gen-<n>/`, and
/// the file `CURRENT` names it. `CURRENT` is replaced by an atomic rename only after the new
/// generation is complete and durable, so a crash during a rewrite leaves the old generation in
/// force; a leftover directory is removed at the next open.
#[derive(Clone)]
pub struct SledEngine {
    shared: Arc<SledShared>,
}

struct SledShared {
    root: std::path::PathBuf,
    cache_bytes: u64,
    /// The generation in force. Every tree operation holds it shared; a rewrite holds it
    /// exclusively while it copies and switches.
    current: std::sync::RwLock<SledGen>,
}

struct SledGen {
    number: u64,
    dir: std::path::PathBuf,
    db: ::sled::Db,
    files: sled_sync::SledFiles,
    /// The trees opened so far, by name.
    trees: std::collections::BTreeMap<&'static str, ::sled::Tree>,
}

/// The file naming the generation in force (absent: generation 0).
const CURRENT_FILE: &str = "CURRENT";
/// Pairs copied per batch by a rewrite.
const REWRITE_BATCH_PAIRS: usize = 1000;

/// What a [`SledEngine::rewrite`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewritten {
    /// The new generation.
    pub generation: u64,
    /// Pairs copied (every tree).
    pub pairs: u64,
    /// Bytes on disk before and after.
    pub bytes_before: u64,
    /// See `bytes_before`.
    pub bytes_after: u64,
}

fn gen_dir_name(n: u64) -> String {
    format!("gen-{n}")
}

fn open_sled(dir: &Path, cache_bytes: u64) -> Result<::sled::Db, Error> {
    ::sled::Config::new()
        .path(dir)
        .mode(::sled::Mode::HighThroughput)
        .cache_capacity(cache_bytes)
        .open()
        .map_err(|source| Error::Open { path: dir.to_path_buf(), source })
}

/// The sizes of the regular files under `dir`, summed; `None` when `dir` cannot be read. Visits
/// at most `max_entries` entries (past the bound the sum is a lower bound) and never follows a
/// symbolic link. The node's `svea_store_bytes` and a rewrite's report both measure this way.
pub fn dir_bytes(dir: &Path, max_entries: usize) -> Option<u64> {
    let mut pending = vec![std::fs::read_dir(dir).ok()?];
    let (mut total, mut visited) = (0u64, 0usize);
    while let Some(entries) = pending.last_mut() {
        let Some(entry) = entries.next() else {
            pending.pop();
            continue;
        };
        visited += 1;
        if visited > max_entries {
            break;
        }
        let Ok(entry) = entry else { continue };
        // `DirEntry::metadata` does not follow links: a link is counted as itself, not its target.
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            if let Ok(inner) = std::fs::read_dir(entry.path()) {
                pending.push(inner);
            }
        } else if meta.is_file() {
            total = total.saturating_add(meta.len());
        }
    }
    Some(total)
}

impl SledEngine {
    /// Opens (or creates) the sled store in `dir`, its page cache bounded to `cache_bytes`: the
    /// generation `CURRENT` names, or sled's files in `dir` itself. Generations not in force
    /// (left by a crash during a rewrite) are removed.
    pub(crate) fn open(dir: &Path, cache_bytes: u64) -> Result<SledEngine, Error> {
        let io = |source| Error::Sync { source };
        let number = match std::fs::read_to_string(dir.join(CURRENT_FILE)) {
            Ok(text) => text
                .trim()
                .strip_prefix("gen-")
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(|| Error::Sync { source: std::io::Error::other(format!("{} names no generation: {text:?}", dir.join(CURRENT_FILE).display())) })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io(e)),
        };
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.filter_map(Result::ok) {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with("gen-") && name != gen_dir_name(number) {
                    tracing::info!(dir = %e.path().display(), "removing a store generation not in force");
                    std::fs::remove_dir_all(e.path()).map_err(io)?;
                }
            }
        }
        let gen_dir = if number == 0 { dir.to_path_buf() } else { dir.join(gen_dir_name(number)) };
        let db = open_sled(&gen_dir, cache_bytes)?;
        let files = sled_sync::SledFiles::open(&gen_dir).map_err(io)?;
        let current = SledGen { number, dir: gen_dir, db, files, trees: Default::default() };
        Ok(SledEngine { shared: Arc::new(SledShared { root: dir.to_path_buf(), cache_bytes, current: std::sync::RwLock::new(current) }) })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, SledGen> {
        self.shared.current.read().unwrap_or_else(|p| p.into_inner())
    }

    /// sled's flush (its buffers written, `sync_file_range`), then one `fdatasync` of its data
    /// file and the directory syncs its new files need: the writes are on stable storage.
    fn flush_durable(&self) -> Result<(), Error> {
        let current = self.read();
        current.db.flush().map_err(Error::sled("flush"))?;
        current.files.sync().map_err(|source| Error::Sync { source })
    }

    /// The generation in force.
    pub fn generation(&self) -> u64 {
        self.read().number
    }

    /// Copies every tree's live pairs into a new generation, makes it durable, puts it in force
    /// and deletes the old one. Every tree operation waits meanwhile (it holds the generation
    /// exclusively); what was flushed before stays durable throughout (the old generation is in
    /// force until the new one is complete and durable). Blocking.
    pub fn rewrite(&self) -> Result<Rewritten, Error> {
        let io = |source| Error::Sync { source };
        let root = &self.shared.root;
        let bytes_before = dir_bytes(root, usize::MAX).unwrap_or(0);
        let mut current = self.shared.current.write().unwrap_or_else(|p| p.into_inner());
        let number = current.number + 1;
        let dir = root.join(gen_dir_name(number));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io)?;
        }
        crate::private_dir::create_private_dir(&dir).map_err(io)?;
        let db = open_sled(&dir, self.shared.cache_bytes)?;
        let mut pairs = 0u64;
        for name in current.db.tree_names() {
            let from = current.db.open_tree(&name).map_err(Error::sled("open tree"))?;
            let to = db.open_tree(&name).map_err(Error::sled("open tree"))?;
            let mut batch = ::sled::Batch::default();
            let mut in_batch = 0;
            for kv in from.iter() {
                let (k, v) = kv.map_err(Error::sled("scan"))?;
                batch.insert(k, v);
                in_batch += 1;
                pairs += 1;
                if in_batch == REWRITE_BATCH_PAIRS {
                    to.apply_batch(std::mem::take(&mut batch)).map_err(Error::sled("write batch"))?;
                    in_batch = 0;
                }
            }
            to.apply_batch(batch).map_err(Error::sled("write batch"))?;
        }
        db.flush().map_err(Error::sled("flush"))?;
        let files = sled_sync::SledFiles::open(&dir).map_err(io)?;
        files.sync().map_err(io)?;
        // The switch: CURRENT names the new generation, by an atomic rename, then the root's
        // entry is synced.
        let tmp = root.join(format!("{CURRENT_FILE}.tmp"));
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(gen_dir_name(number).as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, root.join(CURRENT_FILE)).map_err(io)?;
        std::fs::File::open(root).and_then(|d| d.sync_all()).map_err(io)?;
        let trees = current.trees.keys().map(|name| db.open_tree(name).map(|t| (*name, t))).collect::<Result<_, _>>().map_err(Error::sled("open tree"))?;
        let old = std::mem::replace(&mut *current, SledGen { number, dir, db, files, trees });
        drop(current);
        let (old_number, old_dir) = (old.number, old.dir.clone());
        drop(old);
        if old_number == 0 {
            // Generation 0 is sled's files in the root itself: remove exactly those.
            for e in std::fs::read_dir(root).map_err(io)?.filter_map(Result::ok) {
                let name = e.file_name().to_string_lossy().into_owned();
                let sleds = name == "db" || name == "conf" || name == "blobs" || name.starts_with("snap.");
                if sleds {
                    let removed = if e.path().is_dir() { std::fs::remove_dir_all(e.path()) } else { std::fs::remove_file(e.path()) };
                    removed.map_err(io)?;
                }
            }
        } else {
            std::fs::remove_dir_all(&old_dir).map_err(io)?;
        }
        std::fs::File::open(root).and_then(|d| d.sync_all()).map_err(io)?;
        Ok(Rewritten { generation: number, pairs, bytes_before, bytes_after: dir_bytes(root, usize::MAX).unwrap_or(0) })
    }
}

impl Engine {
    /// Opens (or creates) the tree `name`.
    pub(crate) fn open_tree(&self, name: &str) -> Result<Tree, Error> {
        let name = interned(name);
        match self {
            Engine::Sled(s) => {
                let mut current = s.shared.current.write().unwrap_or_else(|p| p.into_inner());
                if !current.trees.contains_key(name) {
                    let t = current.db.open_tree(name).map_err(Error::sled("open tree"))?;
                    current.trees.insert(name, t);
                }
                Ok(Tree::Sled(SledTree { engine: s.clone(), name }))
            }
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
    Sled(SledTree),
    Mem(mem::MemTree),
}

/// A sled tree by name, in whichever generation is in force when it is used.
#[derive(Clone)]
pub(crate) struct SledTree {
    engine: SledEngine,
    name: &'static str,
}

impl SledTree {
    /// Runs `f` on the tree in the generation in force (held for the call). `what` names the
    /// operation in an error.
    fn with<T>(&self, what: &'static str, f: impl FnOnce(&::sled::Tree) -> ::sled::Result<T>) -> Result<T, Error> {
        let current = self.engine.read();
        match current.trees.get(self.name) {
            Some(t) => f(t).map_err(Error::sled(what)),
            // Registered by `Engine::open_tree`, and a rewrite carries every registered tree
            // over; opening it again is the same tree.
            None => f(&current.db.open_tree(self.name).map_err(Error::sled("open tree"))?).map_err(Error::sled(what)),
        }
    }
}

impl Tree {
    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        match self {
            Tree::Sled(t) => t.with("read", |t| t.get(key)).map(|v| v.map(|v| v.to_vec())),
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
                t.with("write batch", |t| t.apply_batch(b))
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
            Tree::Sled(t) => t.with("scan", |t| {
                let mut out = Vec::new();
                for kv in t.range::<Vec<u8>, _>((start, end)).take(limit) {
                    let (k, v) = kv?;
                    out.push((k.to_vec(), v.to_vec()));
                }
                Ok(out)
            }),
            Tree::Mem(t) => Ok(t.range(start, end, limit)),
        }
    }

    /// Up to `limit` pairs whose key starts with `prefix`, in key order.
    pub(crate) fn scan_prefix(&self, prefix: &[u8], limit: usize) -> Result<Vec<Pair>, Error> {
        self.range(Bound::Included(prefix.to_vec()), prefix_bound(prefix), limit)
    }

    /// The pair with the greatest key.
    pub(crate) fn last(&self) -> Result<Option<Pair>, Error> {
        match self {
            Tree::Sled(t) => t.with("read last", |t| t.last()).map(|o| o.map(|(k, v)| (k.to_vec(), v.to_vec()))),
            Tree::Mem(t) => Ok(t.last()),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Tree::Sled(t) => t.with("count", |t| Ok(t.len())).unwrap_or(0),
            Tree::Mem(t) => t.len(),
        }
    }
}

/// The end of the keys starting with `prefix`, as a range bound.
pub(crate) fn prefix_bound(prefix: &[u8]) -> Bound<Vec<u8>> {
    match prefix_end(prefix) {
        Some(e) => Bound::Excluded(e),
        None => Bound::Unbounded,
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
