//! The GeoIP database svea ships: the Nordic subset of DB-IP City Lite (CC BY 4.0, see NOTICE),
//! built with `svea geo build-db`. Embedded so a fresh clone routes without downloading anything.

use std::fs;
use std::path::{Path, PathBuf};

use crate::{Error, GeoDb};

/// The bundled database's bytes (`geo/data/`).
pub static NORDIC_MMDB: &[u8] = include_bytes!("../data/dbip-city-lite-nordic.mmdb");

/// The file name [`materialize`] writes.
pub const NORDIC_FILE_NAME: &str = "dbip-city-lite-nordic.mmdb";

/// Writes the bundled database into `dir` (unless a file of the same size is there already) and
/// returns its path, so it can be opened and watched like any configured file. The file appears
/// by rename, so a concurrent reader never sees it half-written.
pub fn materialize(dir: &Path) -> Result<PathBuf, Error> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create directory", e))?;
    let path = dir.join(NORDIC_FILE_NAME);
    let present = fs::metadata(&path).is_ok_and(|m| m.len() == NORDIC_MMDB.len() as u64);
    if !present {
        let tmp = dir.join(format!(".{NORDIC_FILE_NAME}.tmp"));
        fs::write(&tmp, NORDIC_MMDB).map_err(|e| Error::io(&tmp, "write", e))?;
        fs::rename(&tmp, &path).map_err(|e| Error::io(&path, "rename", e))?;
    }
    Ok(path)
}

/// Opens `configured`, or the bundled database materialized under `fallback_dir` when none is.
pub fn open_or_bundled(configured: Option<&Path>, fallback_dir: &Path) -> Result<GeoDb, Error> {
    match configured {
        Some(path) => GeoDb::open(path),
        None => GeoDb::open(materialize(fallback_dir)?),
    }
}
