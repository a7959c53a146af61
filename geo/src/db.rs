//! [`GeoDb`]: an open MaxMind DB file, looked up from many threads and replaced on disk while running.

use std::fs::{self, File};
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use maxminddb::{Reader, WithinOptions};
use serde::Serialize;
use tracing::{info, warn};

use crate::record::RawRecord;
use crate::{Error, Location};

/// Largest GeoIP file we load into memory. The biggest public city databases (DB-IP city, with
/// IPv6) are a few hundred MB; the subsets svea ships are a few MB.
pub const GEO_DB_BYTES_MAX: u64 = 1 << 30;

/// How many records [`GeoDb::open`] decodes to decide that a file is a city database.
const PROBE_RECORDS: usize = 64;

/// Shortest polling interval [`spawn_watcher`] accepts; shorter ones are raised to it.
pub const WATCH_INTERVAL_MIN: Duration = Duration::from_millis(10);

/// What identifies one version of the file on disk without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    /// A replacement by rename is a new inode even when size and mtime (coarse on some
    /// filesystems) happen to agree.
    inode: u64,
}

impl FileStamp {
    fn of(meta: &fs::Metadata) -> FileStamp {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        FileStamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode,
        }
    }
}

/// One loaded version of the file.
struct Loaded {
    reader: Reader<Vec<u8>>,
    stamp: FileStamp,
}

/// Facts about the loaded database, for status pages and logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DbInfo {
    /// The file.
    pub path: PathBuf,
    /// `database_type` from the metadata (`GeoLite2-City`, `DBIP-City-Lite`, `svea-City`).
    pub database_type: String,
    /// When the database was built, seconds since 1970 (from its metadata).
    pub build_epoch: u64,
    /// 4 or 6.
    pub ip_version: u16,
    /// Size of the file in bytes.
    pub bytes: u64,
}

/// A MaxMind DB city database (GeoIP2/GeoLite2-City or DB-IP / ip-location-db city layout), loaded
/// into memory, swappable while lookups run.
///
/// Lookups take a read lock only long enough to clone an `Arc`, so a reload never blocks them for
/// the time it takes to read and verify a file, and a failed reload leaves the old database in place.
pub struct GeoDb {
    path: PathBuf,
    current: RwLock<Arc<Loaded>>,
    /// The version of the file that last failed to load, so a broken file is reported once rather
    /// than read and verified again at every poll.
    failed: Mutex<Option<FileStamp>>,
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDb").field("info", &self.info()).finish()
    }
}

impl GeoDb {
    /// Opens and fully verifies the database at `path`. A file that is missing, not a MaxMind DB,
    /// corrupt anywhere, or not a city database is an error naming the file.
    pub fn open(path: impl Into<PathBuf>) -> Result<GeoDb, Error> {
        let path = path.into();
        let loaded = load(&path)?;
        Ok(GeoDb {
            path,
            current: RwLock::new(Arc::new(loaded)),
            failed: Mutex::new(None),
        })
    }

    /// The file this database is loaded from and reloaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn current(&self) -> Arc<Loaded> {
        // A panic while holding the lock cannot leave the Arc half-written: use it as it is.
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Facts about the currently loaded version.
    pub fn info(&self) -> DbInfo {
        let loaded = self.current();
        let meta = loaded.reader.metadata();
        DbInfo {
            path: self.path.clone(),
            database_type: meta.database_type.clone(),
            build_epoch: meta.build_epoch,
            ip_version: meta.ip_version,
            bytes: loaded.stamp.len,
        }
    }

    /// Where `ip` is according to the database: `Ok(None)` when the database has no record for
    /// it (including an IPv6 address in an IPv4-only database). IPv4-mapped IPv6 addresses are
    /// looked up as IPv4. An error means this record is corrupt; other lookups are unaffected.
    pub fn lookup(&self, ip: IpAddr) -> Result<Option<Location>, Error> {
        let ip = ip.to_canonical();
        let loaded = self.current();
        let reader = &loaded.reader;
        if ip.is_ipv6() && reader.metadata().ip_version == 4 {
            return Ok(None);
        }
        let failed = |source| Error::Lookup {
            path: self.path.clone(),
            ip,
            source,
        };
        let found = reader.lookup(ip).map_err(failed)?;
        let record: Option<RawRecord<'_>> = found.decode().map_err(failed)?;
        Ok(record.map(RawRecord::into_location))
    }

    /// Loads the file again if it changed on disk (size, modification time or inode) since it was
    /// loaded. `Ok(true)` when the new version is now in use, `Ok(false)` when nothing changed or
    /// this version already failed to load. On an error the previous version stays in use, and
    /// the same broken version is not reported again.
    pub fn reload_if_changed(&self) -> Result<bool, Error> {
        let meta = fs::metadata(&self.path).map_err(|e| Error::io(&self.path, "stat", e))?;
        let stamp = FileStamp::of(&meta);
        // Held for the whole reload: two callers never load the same version twice.
        let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
        if stamp == self.current().stamp || *failed == Some(stamp) {
            return Ok(false);
        }
        match load(&self.path) {
            Ok(loaded) => {
                *failed = None;
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(loaded);
                Ok(true)
            }
            Err(e) => {
                *failed = Some(stamp);
                Err(e)
            }
        }
    }
}

/// Reads, parses and verifies one version of the file, and checks that it is a city database.
fn load(path: &Path) -> Result<Loaded, Error> {
    let (reader, meta) = read(path)?;
    // The search tree and every referenced record, once, so a corrupt replacement is refused at
    // load time instead of failing lookups later.
    reader.verify().map_err(|source| Error::Corrupt {
        path: path.to_owned(),
        source,
    })?;
    probe_schema(path, &reader)?;
    Ok(Loaded {
        reader,
        stamp: FileStamp::of(&meta),
    })
}

/// Reads and parses the file (metadata and layout only, no full verification).
pub(crate) fn read_reader(path: &Path) -> Result<Reader<Vec<u8>>, Error> {
    read(path).map(|(reader, _)| reader)
}

/// Size and modification time come from the same open file as the bytes, so they describe what
/// was read even if the path is being replaced right now.
fn read(path: &Path) -> Result<(Reader<Vec<u8>>, fs::Metadata), Error> {
    let mut file = File::open(path).map_err(|e| Error::io(path, "open", e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, "stat", e))?;
    let too_big = |len: u64| Error::Unsupported {
        path: path.to_owned(),
        reason: format!("it is {len} bytes, at most {GEO_DB_BYTES_MAX} allowed"),
    };
    if meta.len() > GEO_DB_BYTES_MAX {
        return Err(too_big(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    (&mut file)
        .take(GEO_DB_BYTES_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, "read", e))?;
    if bytes.len() as u64 > GEO_DB_BYTES_MAX {
        return Err(too_big(bytes.len() as u64));
    }
    let reader = Reader::from_source(bytes).map_err(|source| Error::Corrupt {
        path: path.to_owned(),
        source,
    })?;
    Ok((reader, meta))
}

/// Refuses a database whose first records carry nothing a city database has (an ASN or ISP
/// database, say). An empty database is accepted: every lookup is simply "not found".
pub(crate) fn probe_schema(path: &Path, reader: &Reader<Vec<u8>>) -> Result<(), Error> {
    let corrupt = |source| Error::Corrupt {
        path: path.to_owned(),
        source,
    };
    let mut seen = 0;
    for network in reader.networks(WithinOptions::default()).map_err(corrupt)? {
        let record: Option<RawRecord<'_>> = network.map_err(corrupt)?.decode().map_err(corrupt)?;
        if record.is_some_and(|r| r.looks_like_city_record()) {
            return Ok(());
        }
        seen += 1;
        if seen == PROBE_RECORDS {
            break;
        }
    }
    if seen == 0 {
        return Ok(());
    }
    Err(Error::Unsupported {
        path: path.to_owned(),
        reason: format!(
            "none of its first {seen} records has coordinates, a city or a country in the \
             MaxMind city or DB-IP city layout (database type {:?})",
            reader.metadata().database_type
        ),
    })
}

/// Polls `db`'s file every `every` (at least [`WATCH_INTERVAL_MIN`]) and swaps in a changed,
/// valid version. Reading and verifying run on tokio's blocking pool, so a large file never stalls
/// the runtime. A failed reload is logged once per broken version and the loaded database stays.
/// Abort the returned handle to stop watching.
pub fn spawn_watcher(db: Arc<GeoDb>, every: Duration) -> tokio::task::JoinHandle<()> {
    let every = every.max(WATCH_INTERVAL_MIN);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let reloading = Arc::clone(&db);
            match tokio::task::spawn_blocking(move || reloading.reload_if_changed()).await {
                Ok(Ok(true)) => {
                    let info = db.info();
                    info!(
                        path = %info.path.display(),
                        database_type = %info.database_type,
                        build_epoch = info.build_epoch,
                        bytes = info.bytes,
                        "geoip database reloaded"
                    );
                }
                Ok(Ok(false)) => {}
                Ok(Err(error)) => {
                    warn!(%error, "geoip database not reloaded; keeping the loaded version");
                }
                Err(join) if join.is_cancelled() => return,
                Err(join) => {
                    warn!(error = %join, path = %db.path().display(), "geoip reload panicked");
                }
            }
        }
    })
}
