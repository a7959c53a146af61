//! The replicated state machine and its snapshots, on the storage engine.
//!
//! Tree `sm` holds the key space of [`crate::machine`] plus two meta keys (last applied log id,
//! last membership) written atomically with each entry's mutations. Applying does not flush: after
//! a crash the tree is a consistent prefix and openraft re-applies committed entries from the log.
//!
//! The tree is its own snapshot. Building a snapshot (openraft asks every
//! `snapshot_logs_since_last` entries, before it purges the log behind it) flushes the tree and
//! reports the log id it is applied up to: from then on the tree holds at least that state
//! across a crash, so the log before it may go. Only when a peer needs a snapshot (it is behind
//! the purged log, or starts empty) is the tree's current content copied out
//! ([`RaftStateMachine::get_current_snapshot`]), as one consistent cut with the log id it is
//! applied up to. Before issue 22 every snapshot copied, encoded and stored the whole tree: a
//! loaded node spent over a third of its core thread building snapshots nobody fetched, and
//! kept a second copy of its data on disk. A store written by that version may still hold such
//! a snapshot in tree `snapshot`: on open, a state machine older than it is restored from it, and
//! the next snapshot removes it.

use std::io::Cursor;
use std::sync::{Arc, RwLock};

use openraft::storage::{RaftStateMachine, Snapshot, SnapshotMeta};
use openraft::{
    AnyError, EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, StorageError, StorageIOError, StoredMembership,
};
use serde::{Deserialize, Serialize};

use crate::codec::{decode, encode};
use crate::engine::{Batch, Engine, Tree};
use crate::error::Error;
use crate::flusher::Flusher;
use crate::{tree_name, GroupId};

/// Tree of the applied state (owner, state, secondary and meta keys).
const SM_TREE: &str = "sm";
/// Tree of the current snapshot (its meta and its data).
const SNAPSHOT_TREE: &str = "snapshot";
use crate::machine::{cluster_key, execute, index_key, owner_key, state_key, INDEX_PREFIX, OWNER_PREFIX};
use crate::types::{Command, CommandResult, Owner, RaftNodeId, SveaNode, TypeConfig, Versioned};

const META_APPLIED: &[u8] = b"\x00applied";
const META_MEMBERSHIP: &[u8] = b"\x00membership";
const SNAP_META: &[u8] = b"meta";
const SNAP_DATA: &[u8] = b"data";

type SErr = StorageError<RaftNodeId>;
type Membership = StoredMembership<RaftNodeId, SveaNode>;

/// Whether `key` is one of the state machine's own meta keys (they start with a zero byte; the
/// replicated data's keys start with a prefix such as `o/`).
fn is_meta_key(key: &[u8]) -> bool {
    key.first() == Some(&0)
}

/// A snapshot of `pairs` (every key of the `sm` tree) applied up to `applied`.
fn snapshot_of(
    pairs: Vec<(Vec<u8>, Vec<u8>)>,
    applied: Option<LogId<RaftNodeId>>,
    membership: Membership,
) -> Result<(SnapshotMeta<RaftNodeId, SveaNode>, Vec<u8>), Error> {
    let data = encode(&SnapshotBody { pairs }).map_err(Error::corrupt("snapshot body"))?;
    Ok((snapshot_meta(applied, membership), data))
}

/// The meta of the snapshot of a tree applied up to `applied`. Its id names that log id: every
/// replica applied up to it holds the same tree, so the same id means the same data.
fn snapshot_meta(applied: Option<LogId<RaftNodeId>>, membership: Membership) -> SnapshotMeta<RaftNodeId, SveaNode> {
    let snapshot_id = match applied {
        Some(l) => format!("{}-{}", l.leader_id.term, l.index),
        None => "0-0".to_owned(),
    };
    SnapshotMeta { last_log_id: applied, last_membership: membership, snapshot_id }
}

/// Seeds an empty store's state machine with a backup's `pairs` as applied up to `at` under
/// `membership`; that state is the current snapshot (see the module docs). Not flushed here.
pub(crate) fn seed(
    engine: &Engine,
    group: GroupId,
    pairs: impl IntoIterator<Item = Result<(Vec<u8>, Vec<u8>), Error>>,
    at: LogId<RaftNodeId>,
    membership: openraft::Membership<RaftNodeId, SveaNode>,
) -> Result<(), Error> {
    /// Pairs written per batch while seeding.
    const SEED_BATCH_PAIRS: usize = 1000;
    let sm = engine.open_tree(&tree_name(group, SM_TREE))?;
    let mut batch = Batch::default();
    let mut in_batch = 0;
    for pair in pairs {
        let (k, v) = pair?;
        batch.insert(k, v);
        in_batch += 1;
        if in_batch == SEED_BATCH_PAIRS {
            sm.apply_batch(std::mem::take(&mut batch))?;
            in_batch = 0;
        }
    }
    let stored = Membership::new(Some(at), membership);
    batch.insert(META_MEMBERSHIP, encode(&stored).map_err(Error::corrupt("membership"))?);
    batch.insert(META_APPLIED, encode(&Some(at)).map_err(Error::corrupt("applied log id"))?);
    // The tree is its own snapshot: a member that starts empty is sent it (the log before `at`
    // does not exist).
    sm.apply_batch(batch)
}

fn io_err<E: std::error::Error + 'static>(mk: fn(AnyError) -> StorageIOError<RaftNodeId>, e: E) -> SErr {
    SErr::from(mk(AnyError::new(&e)))
}

/// The serialized form of a snapshot: every key of the `sm` tree.
#[derive(Serialize, Deserialize)]
struct SnapshotBody {
    pairs: Vec<(Vec<u8>, Vec<u8>)>,
}

struct Shared {
    engine: Engine,
    sm: Tree,
    snap: Tree,
    flusher: Flusher,
    /// Writers (apply, install) take it exclusively; snapshot building takes it shared, so a
    /// snapshot is one consistent cut of the tree.
    cut: RwLock<()>,
    observer: RwLock<Option<ApplyObserver>>,
    /// Commands applied since this store was opened, a batch's commands each counted.
    commands_applied: std::sync::atomic::AtomicU64,
}

/// How many commands an entry's command counts for: a batch its commands, anything else one.
fn command_count(cmd: &Command) -> u64 {
    match cmd {
        Command::Batch(cmds) => cmds.len() as u64,
        _ => 1,
    }
}

/// Called after every applied normal entry, once per command, with the entry's log id, the
/// command's position in the entry (0 for an entry of one command; a batch's commands in
/// order), the command and its own result (see [`StateMachineStore::set_apply_observer`]).
pub type ApplyObserver = Arc<dyn Fn(LogId<RaftNodeId>, usize, &crate::Command, &CommandResult) + Send + Sync>;

/// The replicated state machine. Cheap to clone.
#[derive(Clone)]
pub struct StateMachineStore {
    shared: Arc<Shared>,
}

/// Read-only view of the locally applied state, for the node's reads between writes.
#[derive(Clone)]
pub struct StateView {
    sm: Tree,
}

impl StateMachineStore {
    pub(crate) fn open(engine: &Engine, flusher: Flusher, group: GroupId) -> Result<Self, Error> {
        let sm = engine.open_tree(&tree_name(group, SM_TREE))?;
        let snap = engine.open_tree(&tree_name(group, SNAPSHOT_TREE))?;
        let store = StateMachineStore {
            shared: Arc::new(Shared {
                engine: engine.clone(),
                sm,
                snap,
                flusher,
                cut: RwLock::new(()),
                observer: RwLock::new(None),
                commands_applied: std::sync::atomic::AtomicU64::new(0),
            }),
        };
        store.recover_from_snapshot()?;
        Ok(store)
    }

    /// Rewrites the store this state machine lives in (every group's trees) into a fresh
    /// generation, so the bytes of deleted and overwritten records leave the disk (see
    /// [`crate::engine::SledEngine::rewrite`]); `None` on the simulations' in-memory disk.
    /// Blocks every store operation of the node while it copies: call it off the async threads.
    pub fn rewrite_store(&self) -> Result<Option<crate::engine::Rewritten>, Error> {
        match &self.shared.engine {
            Engine::Sled(s) => s.rewrite().map(Some),
            Engine::Mem(_) => Ok(None),
        }
    }

    /// A read view of the applied state.
    pub fn view(&self) -> StateView {
        StateView { sm: self.shared.sm.clone() }
    }

    fn applied(&self) -> Result<Option<LogId<RaftNodeId>>, Error> {
        match self.shared.sm.get(META_APPLIED)? {
            None => Ok(None),
            Some(b) => decode(&b).map_err(Error::corrupt("applied log id")),
        }
    }

    fn stored_snapshot_meta(&self) -> Result<Option<SnapshotMeta<RaftNodeId, SveaNode>>, Error> {
        match self.shared.snap.get(SNAP_META)? {
            None => Ok(None),
            Some(b) => decode(&b).map(Some).map_err(Error::corrupt("snapshot meta")),
        }
    }

    /// If the state machine on disk is older than the persisted snapshot (a crash after log purge
    /// but before the state machine was flushed), restore it from the snapshot.
    fn recover_from_snapshot(&self) -> Result<(), Error> {
        let Some(meta) = self.stored_snapshot_meta()? else { return Ok(()) };
        if self.applied()? >= meta.last_log_id {
            return Ok(());
        }
        let data = self.shared.snap.get(SNAP_DATA)?.unwrap_or_default();
        tracing::warn!(snapshot = ?meta.last_log_id, "state machine behind snapshot; restoring from snapshot");
        self.replace_tree(&data)
    }

    fn replace_tree(&self, data: &[u8]) -> Result<(), Error> {
        let body: SnapshotBody = decode(data).map_err(Error::corrupt("snapshot body"))?;
        let _w = self.shared.cut.write().unwrap_or_else(|p| p.into_inner());
        let mut batch = Batch::default();
        for (k, _) in self.shared.sm.scan_prefix(b"", usize::MAX)? {
            batch.remove(k);
        }
        for (k, v) in body.pairs {
            batch.insert(k, v);
        }
        self.shared.sm.apply_batch(batch)
    }

    /// The applied log id and membership, read together (under the cut).
    fn applied_meta(&self) -> Result<(Option<LogId<RaftNodeId>>, Membership), Error> {
        let applied = self.applied()?;
        let membership: Membership = match self.shared.sm.get(META_MEMBERSHIP)? {
            None => Membership::default(),
            Some(b) => decode(&b).map_err(Error::corrupt("membership"))?,
        };
        Ok((applied, membership))
    }

    /// A copy of the whole tree as a snapshot: one consistent cut and the log id it is applied
    /// up to. Only when a peer needs it (see the module docs).
    fn copy_out(&self) -> Result<(SnapshotMeta<RaftNodeId, SveaNode>, Vec<u8>), Error> {
        let (pairs, applied, membership) = {
            let _r = self.shared.cut.read().unwrap_or_else(|p| p.into_inner());
            let pairs = self.shared.sm.scan_prefix(b"", usize::MAX)?;
            let (applied, membership) = self.applied_meta()?;
            (pairs, applied, membership)
        };
        snapshot_of(pairs, applied, membership)
    }

    /// Makes the tree durable up to what it is applied to now and reports that as the snapshot.
    async fn mark_snapshot(&self) -> Result<SnapshotMeta<RaftNodeId, SveaNode>, Error> {
        let (applied, membership) = {
            let _r = self.shared.cut.read().unwrap_or_else(|p| p.into_inner());
            self.applied_meta()?
        };
        // Logs up to the snapshot may be purged next: the tree, applied at least this far, must be
        // durable first. The flush covers everything written before it began.
        self.shared.flusher.flush().await?;
        // A snapshot copied out by an earlier version is older than this state now: it goes.
        if self.shared.snap.get(SNAP_META)?.is_some() {
            let mut batch = Batch::default();
            batch.remove(SNAP_META);
            batch.remove(SNAP_DATA);
            self.shared.snap.apply_batch(batch)?;
        }
        Ok(snapshot_meta(applied, membership))
    }

    /// One consistent cut of the replicated data (meta keys left out) and the log id it was
    /// applied up to: what a backup holds. Taken under the same lock as a snapshot, so it is the
    /// state after exactly one entry; like a snapshot it is held in memory while it is written out.
    pub fn backup_cut(&self) -> Result<(Option<LogId<RaftNodeId>>, Vec<(Vec<u8>, Vec<u8>)>), Error> {
        let _r = self.shared.cut.read().unwrap_or_else(|p| p.into_inner());
        let mut pairs = self.shared.sm.scan_prefix(b"", usize::MAX)?;
        pairs.retain(|(k, _)| !is_meta_key(k));
        Ok((self.applied()?, pairs))
    }


    fn apply_entry(&self, entry: &openraft::Entry<TypeConfig>) -> Result<CommandResult, Error> {
        let _w = self.shared.cut.write().unwrap_or_else(|p| p.into_inner());
        let mut batch = Batch::default();
        let result = match &entry.payload {
            EntryPayload::Blank => CommandResult::Empty,
            EntryPayload::Normal(cmd) => {
                let sm = &self.shared.sm;
                let get = |k: &[u8]| sm.get(k);
                let (result, muts) = execute(get, cmd)?;
                for (k, v) in muts {
                    match v {
                        Some(v) => batch.insert(k, v),
                        None => batch.remove(k),
                    }
                }
                result
            }
            EntryPayload::Membership(m) => {
                let stored = Membership::new(Some(entry.log_id), m.clone());
                batch.insert(META_MEMBERSHIP, encode(&stored).map_err(Error::corrupt("membership"))?);
                CommandResult::Empty
            }
        };
        // The applied log id goes in the same batch as the data it covers: sled writes a batch
        // atomically, so after any crash the two agree (a replica never believes it applied an
        // entry whose data it lost, and never re-applies one it has).
        let applied = encode(&Some(entry.log_id)).map_err(Error::corrupt("applied log id"))?;
        if crate::planted::applied_index_first() {
            // Planted bug (simulations only): the applied log id in a batch of its own, first.
            let mut first = Batch::default();
            first.insert(META_APPLIED, applied);
            self.shared.sm.apply_batch(first)?;
        } else {
            batch.insert(META_APPLIED, applied);
        }
        self.shared.sm.apply_batch(batch)?;
        if let EntryPayload::Normal(cmd) = &entry.payload {
            self.shared.commands_applied.fetch_add(command_count(cmd), std::sync::atomic::Ordering::Relaxed);
            if let Some(observe) = self.shared.observer.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
                match (cmd, &result) {
                    (Command::Batch(cmds), CommandResult::Batch(results)) => {
                        for (position, (cmd, result)) in cmds.iter().zip(results).enumerate() {
                            observe(entry.log_id, position, cmd, result);
                        }
                    }
                    _ => observe(entry.log_id, 0, cmd, &result),
                }
            }
        }
        Ok(result)
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    /// Only the returned meta is used by openraft 0.9 (`core::sm::worker`): the data stays in
    /// the tree until a peer asks for it.
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, SErr> {
        let meta = self.mark_snapshot().await.map_err(|e| io_err(|a| StorageIOError::write_snapshot(None, a), e))?;
        tracing::info!(last_log_id = ?meta.last_log_id, "snapshot taken (the state machine flushed up to it)");
        if let Some(o) = self.shared.flusher.observer.get() {
            o.snapshot_built();
        }
        Ok(Snapshot { meta, snapshot: Box::new(Cursor::new(Vec::new())) })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = StateMachineStore;

    async fn applied_state(&mut self) -> Result<(Option<LogId<RaftNodeId>>, Membership), SErr> {
        let applied = self.applied().map_err(|e| io_err(StorageIOError::read_state_machine, e))?;
        let membership = match self.shared.sm.get(META_MEMBERSHIP).map_err(|e| io_err(StorageIOError::read_state_machine, e))? {
            None => Membership::default(),
            Some(b) => decode(&b).map_err(|e| io_err(StorageIOError::read_state_machine, e))?,
        };
        Ok((applied, membership))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<CommandResult>, SErr>
    where
        I: IntoIterator<Item = openraft::Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut out = Vec::new();
        let observer = self.shared.flusher.observer.clone();
        for (n, entry) in entries.into_iter().enumerate() {
            // The node's network, Raft core and actors share this thread: between two entries
            // (each up to a batch of commands) let them run, so applying a long catch-up does not
            // hold back heartbeats and answers until the peers time them out. Counted in entries,
            // not time, so a simulated run stays deterministic.
            if n > 0 {
                tokio::task::yield_now().await;
            }
            let started = observer.start();
            let r = self.apply_entry(&entry).map_err(|e| SErr::from(StorageIOError::apply(entry.log_id, AnyError::new(&e))))?;
            observer.finish(started, |o, took| o.entry_applied(took));
            out.push(r);
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, SErr> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<RaftNodeId, SveaNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), SErr> {
        let data = snapshot.into_inner();
        let sig = meta.signature();
        let werr = |e: Error| SErr::from(StorageIOError::write_snapshot(Some(sig.clone()), AnyError::new(&e)));
        // One atomic batch, flushed before openraft purges the log behind it: after a crash the
        // tree is either all the old state or all the new.
        self.replace_tree(&data).map_err(werr)?;
        self.shared.flusher.flush().await.map_err(werr)?;
        tracing::info!(last_log_id = ?meta.last_log_id, bytes = data.len(), "snapshot installed");
        if let Some(o) = self.shared.flusher.observer.get() {
            o.snapshot_installed();
        }
        Ok(())
    }

    /// The tree as it is now (see the module docs); `None` before anything was applied.
    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, SErr> {
        let rerr = |e: Error| io_err(|a| StorageIOError::read_snapshot(None, a), e);
        let (meta, data) = self.copy_out().map_err(rerr)?;
        if meta.last_log_id.is_none() {
            return Ok(None);
        }
        tracing::info!(last_log_id = ?meta.last_log_id, bytes = data.len(), "snapshot copied out of the state machine");
        Ok(Some(Snapshot { meta, snapshot: Box::new(Cursor::new(data)) }))
    }
}

impl StateView {
    fn get_decoded<T: serde::de::DeserializeOwned>(&self, key: &[u8], what: &'static str) -> Result<Option<T>, Error> {
        match self.sm.get(key)? {
            None => Ok(None),
            Some(b) => decode(&b).map(Some).map_err(Error::corrupt(what)),
        }
    }

    /// The current owner of an actor, as applied locally.
    pub fn owner(&self, actor: &str) -> Result<Option<Owner>, Error> {
        self.get_decoded(&owner_key(actor), "owner record")
    }

    /// An actor's state and version, as applied locally.
    pub fn state(&self, actor: &str) -> Result<Option<Versioned>, Error> {
        self.get_decoded(&state_key(actor), "state record")
    }

    /// A cluster-wide record ([`Command::SetCluster`]), as applied locally.
    pub fn cluster_record(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        self.sm.get(&cluster_key(key))
    }

    /// A secondary record, as applied locally.
    pub fn index(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        self.sm.get(&index_key(key))
    }

    /// Up to `limit` secondary records whose key starts with `prefix`, in key order.
    pub fn scan_index(&self, prefix: &str, limit: usize) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let pairs = self.sm.scan_prefix(&index_key(prefix), limit)?;
        Ok(pairs
            .into_iter()
            .map(|(k, v)| (String::from_utf8_lossy(&k[INDEX_PREFIX.len()..]).into_owned(), v))
            .collect())
    }

    /// Up to `limit` secondary records whose key starts with `prefix`, in key order, starting after
    /// the record `after` (from the first when `None`): pages through one prefix.
    pub fn scan_index_after(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let Some(after) = after else { return self.scan_index(prefix, limit) };
        let first = index_key(prefix);
        // The smallest key greater than `i/<after>`, but never before the prefix.
        let start = [index_key(after), vec![0]].concat().max(first.clone());
        let mut out = Vec::new();
        // Bounded by the prefix's end: a range open to the end would copy up to `limit` pairs of
        // whatever follows the prefix before the check below stopped at the first of them.
        let end = crate::engine::prefix_bound(&first);
        for (k, v) in self.sm.range(std::ops::Bound::Included(start), end, limit)? {
            if !k.starts_with(&first) {
                break;
            }
            out.push((String::from_utf8_lossy(&k[INDEX_PREFIX.len()..]).into_owned(), v));
        }
        Ok(out)
    }

    /// Owner records in key order, starting after actor `after` (from the first when `None`),
    /// at most `limit` of them: pages through every actor's owner for hand-off and status.
    pub fn scan_owners(&self, after: Option<&str>, limit: usize) -> Result<Vec<(String, Owner)>, Error> {
        let start = match after {
            // The smallest key greater than `o/<after>`.
            Some(a) => [owner_key(a), vec![0]].concat(),
            None => OWNER_PREFIX.to_vec(),
        };
        let mut out = Vec::new();
        for (k, v) in self.sm.range(std::ops::Bound::Included(start), crate::engine::prefix_bound(OWNER_PREFIX), limit)? {
            if !k.starts_with(OWNER_PREFIX) {
                break;
            }
            let actor = String::from_utf8_lossy(&k[OWNER_PREFIX.len()..]).into_owned();
            out.push((actor, decode(&v).map_err(Error::corrupt("owner record"))?));
        }
        Ok(out)
    }

    /// Index of the last log entry applied locally (0 when none).
    pub fn last_applied_index(&self) -> Result<u64, Error> {
        let applied: Option<Option<LogId<RaftNodeId>>> = self.get_decoded(META_APPLIED, "applied log id")?;
        Ok(applied.flatten().map(|l| l.index).unwrap_or(0))
    }

    /// Every stored pair in key order, meta keys included: two replicas that applied the same
    /// log hold identical lists (the simulations compare them after healing).
    pub fn pairs(&self) -> Result<Vec<(Vec<u8>, Vec<u8>)>, Error> {
        self.sm.scan_prefix(b"", usize::MAX)
    }

    /// Flushes nothing; exposes the db size for metrics.
    pub fn len(&self) -> usize {
        self.sm.len()
    }

    /// Whether the key space is empty.
    pub fn is_empty(&self) -> bool {
        self.sm.len() == 0
    }
}

impl StateMachineStore {
    /// Flushes everything written so far (used on clean shutdown).
    pub async fn flush(&self) -> Result<(), Error> {
        self.shared.flusher.flush().await
    }

    /// Commands applied by this process since the store was opened (a batch's commands each
    /// count; entries re-applied after a restart count again). A counter for `/metrics`.
    pub fn commands_applied(&self) -> u64 {
        self.shared.commands_applied.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Lets an observer see every applied command and its result (the simulations check owner
    /// fencing and replica agreement on this stream). The observer must be cheap: it runs inside
    /// the apply.
    pub fn set_apply_observer(&self, observer: ApplyObserver) {
        *self.shared.observer.write().unwrap_or_else(|p| p.into_inner()) = Some(observer);
    }

    /// The engine under this store (the simulations read the in-memory disk through it).
    pub fn engine(&self) -> &Engine {
        &self.shared.engine
    }
}
