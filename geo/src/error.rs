use std::io;
use std::net::IpAddr;
use std::path::PathBuf;

use maxminddb::MaxMindDbError;

/// Everything that can go wrong in `svea-geo`. Every variant about a file names it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read, stat'ed or written.
    #[error("geoip database {}: {op}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What we were doing (`read`, `stat`, `write`, `rename`, `create directory`).
        op: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// The file is not a MaxMind DB, or it is corrupt (truncated, bad search tree, bad data section).
    #[error("geoip database {} is not a valid maxmind db: {source}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the reader found.
        #[source]
        source: MaxMindDbError,
    },

    /// The file is a valid MaxMind DB but not a city database in either supported schema
    /// (GeoIP2/GeoLite2-City or DB-IP / ip-location-db city).
    #[error("geoip database {} is not supported: {reason}", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    /// Looking up or decoding the record for one address failed (a corrupt record).
    #[error("geoip database {}: lookup of {ip} failed: {source}", path.display())]
    Lookup {
        /// The file.
        path: PathBuf,
        /// The address looked up.
        ip: IpAddr,
        /// What the reader found.
        #[source]
        source: MaxMindDbError,
    },

    /// The MaxMind DB writer cannot encode what it was given (too many nodes or too much data for
    /// 32-bit records, a string or map larger than the format allows).
    #[error("maxmind db writer: {reason}")]
    TooLarge {
        /// What is too large, with its size.
        reason: String,
    },

    /// A country code for `build_subset` is not two ASCII letters.
    #[error("country code {value:?} is invalid: expected two letters such as SE")]
    BadCountry {
        /// The code as given.
        value: String,
    },

    /// `build_subset` was called without any input file or without any country.
    #[error("build_subset needs at least one {what}")]
    NothingToBuild {
        /// `input file` or `country`.
        what: &'static str,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, op: &'static str, source: io::Error) -> Error {
        Error::Io {
            path: path.into(),
            op,
            source,
        }
    }
}

/// The name the brief and the node use for this crate's error.
pub type GeoError = Error;
