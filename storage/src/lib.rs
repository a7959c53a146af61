//! svea's durable storage: the Raft log, vote and replicated state machine on sled.
//!
//! Owns: the binary codec ([`codec`]), the replicated data model ([`types`]: commands, owner
//! fencing, versions), the deterministic apply logic ([`machine`]), and the openraft storage
//! traits implemented on sled ([`LogStore`], [`StateMachineStore`]).
//!
//! Does not own: networking, Raft wiring or anything about HTTP, JSON, actors or the feedback
//! domain; state bytes are opaque here.

pub mod codec;
mod error;
mod flusher;
mod log_store;
pub mod machine;
mod state_machine;
pub mod types;

use std::path::Path;
use std::time::Duration;

pub use error::Error;
pub use log_store::LogStore;
pub use state_machine::{StateMachineStore, StateView};
pub use types::{Command, CommandResult, IndexMode, IndexWrite, Owner, RaftNodeId, Refusal, SveaNode, TypeConfig, Versioned};

/// Opens (or creates) the store under `dir` and starts its flusher on the current tokio runtime.
///
/// `flush_timeout` bounds every wait for durability; a flush that takes longer fails the write.
pub fn open(dir: &Path, flush_timeout: Duration) -> Result<(LogStore, StateMachineStore), Error> {
    let db = sled::Config::new()
        .path(dir)
        .mode(sled::Mode::HighThroughput)
        .open()
        .map_err(|source| Error::Open { path: dir.to_path_buf(), source })?;
    let flusher = flusher::Flusher::start(db.clone(), flush_timeout);
    let log = LogStore::open(&db, flusher.clone())?;
    let sm = StateMachineStore::open(&db, flusher)?;
    Ok((log, sm))
}
