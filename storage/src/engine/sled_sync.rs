//! What makes a sled flush durable: `fdatasync` of the files sled writes, and `fsync` of the
//! directories whose entries changed.
//!
//! sled 0.34's `Db::flush` writes its buffers with `pwrite` and then calls `sync_file_range`
//! (`WAIT_BEFORE | WRITE | WAIT_AFTER`) on the written range: the pages reach the drive, but not
//! the file's metadata (its size, when the log grew past the old end) and not the drive's
//! volatile cache. It opens no file with `O_DIRECT`. The files it writes, from its 0.34.7 source:
//!
//! - `db`: the log and pages, in 512 KiB segments; `pwrite` + `sync_file_range` per flush, and a
//!   `sync_all` from its own background thread every `flush_every_ms` (500 ms), which is not
//!   tied to any flush we wait for;
//! - `conf`: written once when the store is created, never synced by sled;
//! - `blobs/<lsn>`: one new file per value (or page) over a quarter segment (~128 KiB), written
//!   before its log record and never synced by sled, nor is the directory entry;
//! - `snap.<lsn>`: its recovery snapshot, `sync_all`ed and then renamed into place, with no
//!   directory fsync after the rename or after deleting the old one.
//!
//! [`SledFiles::sync`] runs after every `Db::flush` and closes those gaps: `fdatasync` on `db`
//! (which forces its dirty pages, the size and the drive cache, whichever descriptor wrote them:
//! the sync acts on the inode), `fdatasync` on every file that appeared in the store's directory
//! or in `blobs/` since the last sync, and `fsync` on a directory whose list of names changed.
//! Listing two small directories costs microseconds; the `fdatasync` on `db` is the price.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// sled's data file in its directory.
const DB_FILE: &str = "db";
/// sled's directory of values too large to sit in a log segment.
const BLOBS_DIR: &str = "blobs";

/// The files of one sled store and what the last sync saw of its directories.
pub(crate) struct SledFiles {
    db: File,
    /// The store's directory, then `blobs/`: each with the names it held at the last sync.
    dirs: Mutex<[Watched; 2]>,
}

struct Watched {
    path: PathBuf,
    /// `None` until the first sync, which syncs every file it finds.
    names: Option<BTreeSet<OsString>>,
}

impl SledFiles {
    /// The files of the sled store opened at `dir` (after sled created them). Syncs the parent
    /// directory once, so a store created just now is found after a power loss.
    pub(crate) fn open(dir: &Path) -> io::Result<SledFiles> {
        let db = File::open(dir.join(DB_FILE))?;
        if let Some(parent) = dir.canonicalize()?.parent() {
            File::open(parent)?.sync_all()?;
        }
        let watched = |path: PathBuf| Watched { path, names: None };
        Ok(SledFiles { db, dirs: Mutex::new([watched(dir.to_path_buf()), watched(dir.join(BLOBS_DIR))]) })
    }

    /// Puts on stable storage everything sled wrote to its files before this call, and the
    /// directory entries that name them. Blocking.
    pub(crate) fn sync(&self) -> io::Result<()> {
        self.db.sync_data()?;
        let mut dirs = self.dirs.lock().unwrap_or_else(|p| p.into_inner());
        for dir in dirs.iter_mut() {
            dir.sync_new_entries()?;
        }
        Ok(())
    }
}

impl Watched {
    /// `fdatasync`s every regular file not seen at the last sync, then `fsync`s the directory if
    /// its list of names changed (files created, renamed into place or removed).
    fn sync_new_entries(&mut self) -> io::Result<()> {
        let mut names = BTreeSet::new();
        for entry in std::fs::read_dir(&self.path)? {
            names.insert(entry?.file_name());
        }
        if self.names.as_ref() == Some(&names) {
            return Ok(());
        }
        for name in &names {
            if self.names.as_ref().is_some_and(|seen| seen.contains(name)) || name == DB_FILE {
                continue;
            }
            sync_file(&self.path.join(name))?;
        }
        File::open(&self.path)?.sync_all()?;
        self.names = Some(names);
        Ok(())
    }
}

/// `fdatasync` of the regular file at `path`. A file sled removed or renamed meanwhile (a blob
/// collected, a snapshot moved into place) is skipped: the next sync sees the new name.
fn sync_file(path: &Path) -> io::Result<()> {
    match File::open(path) {
        Ok(f) if f.metadata()?.is_file() => f.sync_data(),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}
