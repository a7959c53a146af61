//! svea's durable storage: the Raft log, vote and replicated state machine on sled (or, for the
//! simulations, on an in-memory disk that loses exactly what was not flushed).
//!
//! Owns: the binary codec ([`codec`]), the replicated data model ([`types`]: commands, owner
//! fencing, versions), the deterministic apply logic ([`machine`]), and the openraft storage
//! traits ([`LogStore`], [`StateMachineStore`]) written once against a small key-value
//! [`engine`] with two implementations (sled, in-memory), and the Raft runtime type ([`rt`]) whose
//! randomness a simulation can seed.
//!
//! Does not own: networking, Raft wiring or anything about HTTP, JSON, actors or the feedback
//! domain; state bytes are opaque here.

pub mod backup;
pub mod codec;
pub mod engine;
mod error;
mod flusher;
mod log_store;
pub mod machine;
pub mod observe;
pub mod planted;
pub mod private_dir;
pub mod rt;
mod state_machine;
pub mod types;

use std::path::Path;
use std::time::Duration;

pub use error::Error;
pub use log_store::LogStore;
pub use observe::StorageObserver;
pub use private_dir::create_private_dir;
pub use state_machine::{ApplyObserver, StateMachineStore, StateView};
pub use types::{Command, CommandResult, IndexMode, IndexWrite, Owner, RaftNodeId, Refusal, SveaNode, TypeConfig, Versioned};

/// A Raft group's number in a node's store. Each group has its own log, vote, state machine and
/// snapshot in trees of their own ([`tree_name`]); every group of a node shares the one engine
/// and the one flusher, so one flush (one `fdatasync`) makes every group's appends durable.
pub type GroupId = u16;

/// The most groups one store holds (a group per region; the region table is small).
pub const GROUPS_MAX: GroupId = 16;

/// The name of `base`'s tree for `group`: group 0 keeps the names a one-group store always had
/// (so a store written before groups existed opens as group 0 unchanged), group `g` > 0 prefixes
/// them with `g<g>/`.
pub fn tree_name(group: GroupId, base: &str) -> String {
    if group == 0 {
        base.to_owned()
    } else {
        format!("g{group}/{base}")
    }
}

/// One group's stores: its Raft log (with its vote) and its state machine.
pub type GroupStore = (LogStore, StateMachineStore);

/// Opens (or creates) the store under `dir` and starts its flusher on the current tokio runtime.
///
/// `flush_timeout` bounds every wait for durability; a flush that takes longer fails the write.
pub fn open(dir: &Path, flush_timeout: Duration) -> Result<(LogStore, StateMachineStore), Error> {
    open_with_cache(dir, flush_timeout, DEFAULT_CACHE_BYTES)
}

/// Opens the store under `dir` with `groups` Raft groups in it (see [`GroupId`]): one sled
/// engine, one flusher, and each group's log and state machine in their own trees.
pub fn open_groups(dir: &Path, flush_timeout: Duration, cache_bytes: u64, groups: GroupId) -> Result<Vec<GroupStore>, Error> {
    let sled = engine::SledEngine::open(dir, cache_bytes)?;
    open_engine_groups(engine::Engine::Sled(sled), &dir.display().to_string(), flush_timeout, groups)
}

/// [`open_groups`] on a simulated disk.
pub fn open_in_memory_groups(disk: &engine::mem::MemDisk, flush_timeout: Duration, groups: GroupId) -> Result<Vec<GroupStore>, Error> {
    open_engine_groups(engine::Engine::Mem(disk.open()), "<in-memory disk>", flush_timeout, groups)
}

/// sled's page cache when the caller does not choose one (the node's config does).
pub const DEFAULT_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// [`open`] with sled's page cache bounded to `cache_bytes` (sled's own default is 1 GiB).
pub fn open_with_cache(dir: &Path, flush_timeout: Duration, cache_bytes: u64) -> Result<(LogStore, StateMachineStore), Error> {
    let sled = engine::SledEngine::open(dir, cache_bytes)?;
    open_engine(engine::Engine::Sled(sled), &dir.display().to_string(), flush_timeout)
}

/// Opens the store on a simulated disk (see [`engine::mem`]) and starts its flusher on the
/// current tokio runtime. Everything flushed to `disk` before is there; nothing else is.
pub fn open_in_memory(disk: &engine::mem::MemDisk, flush_timeout: Duration) -> Result<(LogStore, StateMachineStore), Error> {
    open_engine(engine::Engine::Mem(disk.open()), "<in-memory disk>", flush_timeout)
}

/// The on-disk format this build reads and writes. 2: log ids are standard Raft `(term, index)`
/// (openraft's `single-term-leader`, one leader per term). Unmarked stores are format 1, whose
/// log ids also carried the leader's node id; they do not decode as format 2. 3: every value the
/// node keeps in its secondary records is codec-encoded (format 2 kept some session ids as raw
/// UTF-8), so a format-2 store would misread them. 4: businesses keep their API key's hash and
/// till registrations, sessions the names a customer is shown and their till-purchase state, QR
/// records the names, and organisation numbers have a record; format-3 state does not decode as
/// that. 5: sessions keep a keyed hash of the device id instead of the id, and their feedback its
/// time and redaction (privacy), businesses their daily paid total and fingerprint ring (abuse
/// limits); format-4 states do not decode as that. 6: a session's feedback score records who
/// gave it (rubric or a named model) beside the rubric's breakdown; format-5 sessions do not
/// decode as that. 7: a business's per-day analytics keep the day's score sum, scored sessions
/// and tier counts (the dashboard's charts), and each listed feedback has a `bfb/` record;
/// format-6 businesses do not decode as that. 8: sessions keep their client network's keyed
/// hash, settlements the reward the hourly brake held, businesses their hourly reward ring, held
/// count and declared-purchase ceiling (issue 20's limits); format-7 states do not decode as that.
/// 9: a business keeps its ledger account's book instead of a budget and a paid total, held
/// rewards their customer, and the ledger's records exist (issue 21); format-8 businesses do not
/// decode as that.
pub const FORMAT: u32 = 9;
const FORMAT_TREE: &str = "svea_format";
const FORMAT_KEY: &[u8] = b"format";

/// Checks the store's format marker, writing (and flushing) it into a store that has no data yet.
pub(crate) fn check_format(engine: &engine::Engine, path: &str) -> Result<(), Error> {
    let refuse = |found: String| Error::Format { path: path.to_string(), found, expected: FORMAT };
    let tree = engine.open_tree(FORMAT_TREE)?;
    match tree.get(FORMAT_KEY)? {
        Some(bytes) => {
            let found = <[u8; 4]>::try_from(bytes.as_slice())
                .map(u32::from_be_bytes)
                .map_err(|_| refuse(format!("unreadable marker {bytes:?}")))?;
            if found != FORMAT {
                return Err(refuse(found.to_string()));
            }
            Ok(())
        }
        None => {
            for name in [log_store::LOG_TREE, log_store::META_TREE] {
                if engine.open_tree(name)?.last()?.is_some() {
                    return Err(refuse("unmarked (format 1)".into()));
                }
            }
            tree.insert(FORMAT_KEY, FORMAT.to_be_bytes().to_vec())?;
            engine.flush_blocking()
        }
    }
}

fn open_engine(engine: engine::Engine, path: &str, flush_timeout: Duration) -> Result<(LogStore, StateMachineStore), Error> {
    let mut groups = open_engine_groups(engine, path, flush_timeout, 1)?;
    Ok(groups.remove(0))
}

fn open_engine_groups(engine: engine::Engine, path: &str, flush_timeout: Duration, groups: GroupId) -> Result<Vec<GroupStore>, Error> {
    if groups == 0 || groups > GROUPS_MAX {
        return Err(Error::Groups { asked: groups, max: GROUPS_MAX });
    }
    check_format(&engine, path)?;
    let flusher = flusher::Flusher::start(engine.clone(), flush_timeout);
    (0..groups)
        .map(|g| Ok((LogStore::open(&engine, flusher.clone(), g)?, StateMachineStore::open(&engine, flusher.clone(), g)?)))
        .collect()
}
