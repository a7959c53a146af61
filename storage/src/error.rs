//! Errors of the storage crate.

use std::path::PathBuf;
use std::time::Duration;

use crate::codec::CodecError;

/// Errors opening or using the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The sled database could not be opened.
    #[error("cannot open store at {path}: {source}")]
    Open {
        /// Database directory.
        path: PathBuf,
        /// The sled error.
        source: sled::Error,
    },
    /// A sled operation failed.
    #[error("sled {op} failed: {source}")]
    Sled {
        /// What was being done.
        op: &'static str,
        /// The sled error.
        source: sled::Error,
    },
    /// The files under sled could not be opened for, or put on stable storage by, `fdatasync`.
    #[error("cannot sync the store's files to stable storage: {source}")]
    Sync {
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Stored bytes could not be decoded (corruption or version skew).
    #[error("corrupt {what}: {source}")]
    Corrupt {
        /// What was being decoded.
        what: &'static str,
        /// The codec error.
        source: CodecError,
    },
    /// A flush failed or did not finish in time.
    #[error("flush failed: {0}")]
    Flush(String),
    /// A flush did not finish in time.
    #[error("flush did not finish within {after:?}")]
    FlushTimeout {
        /// The configured limit.
        after: Duration,
    },
    /// The background flusher stopped (the store is shutting down or failed).
    #[error("flusher stopped")]
    FlusherGone,
    /// A key was placed in a Raft group this node does not run.
    #[error("no raft group {0} on this node")]
    NoGroup(u16),
    /// A store was asked for no Raft group, or for more than it can hold.
    #[error("a store holds 1 to {max} raft groups, not {asked}")]
    Groups {
        /// The number asked for.
        asked: u16,
        /// [`crate::GROUPS_MAX`].
        max: u16,
    },
    /// The store was written in another on-disk format than this build reads.
    #[error("the store at {path} is in on-disk format {found}, this build reads format {expected}: start from an empty data directory (or an older build)")]
    Format {
        /// Where the store is.
        path: String,
        /// The format found ("unmarked" for stores older than the marker).
        found: String,
        /// The format this build writes and reads.
        expected: u32,
    },
    /// The file is not a svea backup (it does not start with the backup magic).
    #[error("not a svea backup: the file does not start with \"SVEABKP\"")]
    NotABackup,
    /// The backup is in a file format this build does not read.
    #[error("unsupported backup version {found}: this build reads versions 1 to {supported}")]
    BackupVersion {
        /// The version in the file.
        found: u32,
        /// The newest version this build reads (and the one it writes).
        supported: u32,
    },
    /// The backup file ends before the length its header names.
    #[error("truncated backup: the file is shorter than the {expected} bytes its header names")]
    BackupTruncated {
        /// Bytes the header names.
        expected: u64,
    },
    /// The backup's contents do not match its checksum (or its header's own check).
    #[error("corrupt backup: {0}")]
    BackupCorrupt(String),
    /// The backup holds a store format other than this build's.
    #[error("the backup holds store format {found}, this build reads format {expected}: restore it with a build of that format")]
    BackupStoreFormat {
        /// The format in the backup.
        found: u32,
        /// This build's format.
        expected: u32,
    },
    /// The backup holds a Raft group the restoring node will not run: its data would be lost.
    #[error("the backup holds {in_backup} raft groups (up to group {highest}), the restoring configuration runs {runs}: restore it with a configuration that runs every group of the backup")]
    BackupGroups {
        /// Groups in the backup.
        in_backup: usize,
        /// The highest group id in the backup.
        highest: u16,
        /// Groups the restoring store will run (ids 0 to `runs - 1`).
        runs: u16,
    },
    /// Reading or writing a backup file failed.
    #[error("cannot {what} the backup: {source}")]
    BackupIo {
        /// What was being done.
        what: &'static str,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A restore was pointed at a store that already holds data.
    #[error("{path} is not empty: a backup is restored only into an empty data directory")]
    NotEmpty {
        /// The directory.
        path: PathBuf,
    },
}

impl Error {
    pub(crate) fn sled(op: &'static str) -> impl FnOnce(sled::Error) -> Error {
        move |source| Error::Sled { op, source }
    }
    pub(crate) fn corrupt(what: &'static str) -> impl FnOnce(CodecError) -> Error {
        move |source| Error::Corrupt { what, source }
    }
}
