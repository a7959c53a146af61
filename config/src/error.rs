use std::path::PathBuf;

/// Everything that can go wrong while reading, overriding or validating configuration.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config file could not be read from disk.
    #[error("cannot read config file {}", path.display())]
    Read {
        /// The file we tried to read.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },

    /// The config file is larger than [`crate::CONFIG_FILE_BYTES_MAX`]; probably not a config file.
    #[error("config file {} is larger than {limit_bytes} bytes", path.display())]
    TooLarge {
        /// The file we tried to read.
        path: PathBuf,
        /// The limit it exceeds.
        limit_bytes: u64,
    },

    /// The TOML text is malformed, has a value of the wrong type, or has a key we do not know.
    #[error("cannot parse config {origin}: {message}")]
    Parse {
        /// The file path, or `<string>` when parsing text handed to us directly.
        origin: String,
        /// The parser's explanation, with line and column when known.
        message: String,
    },

    /// A value parsed but breaks a rule; `key` is the dotted TOML key, e.g. `timeouts.heartbeat_ms`.
    #[error("invalid config {key}: {reason}")]
    Invalid {
        /// Dotted key of the offending value, e.g. `cluster.initial_members[1].raft_addr`.
        key: String,
        /// Why the value is refused, with the value itself.
        reason: String,
    },

    /// An environment variable is named after a section of the configuration (`SVEA_NODE_...`) but
    /// names no overridable key: a typo, refused rather than silently ignored.
    #[error("unknown environment variable {name}: it is named after a config section but no config key is overridden by it (regions and cluster.initial_members cannot be set from the environment)")]
    UnknownEnv {
        /// The variable's name.
        name: String,
    },

    /// A known `SVEA_` environment variable holds a value that does not parse.
    #[error("bad environment variable {name}: {reason}")]
    BadEnv {
        /// The variable's name.
        name: String,
        /// Why the value is refused, with the value itself.
        reason: String,
    },

    /// A dotted key given to [`crate::RawConfig::set`] names no config value.
    #[error("unknown config key {key}")]
    UnknownKey {
        /// The dotted key, e.g. `timeouts.heartbeat_msec`.
        key: String,
    },

    /// A value given to [`crate::RawConfig::set`] does not fit its key's type or format.
    #[error("bad value for config {key}: {reason}")]
    BadValue {
        /// Dotted key of the value, e.g. `timeouts.heartbeat_ms`.
        key: String,
        /// Why the value is refused, with the value itself.
        reason: String,
    },

    /// A config cannot be written as TOML (a number above TOML's largest integer, 2^63 - 1).
    #[error("cannot write config as toml: {message}")]
    Serialize {
        /// The serializer's explanation.
        message: String,
    },

    /// A config file could not be written to disk.
    #[error("cannot write config file {}", path.display())]
    Write {
        /// The file we tried to write.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },

    /// A string or number is not a valid node id (see [`crate::NodeId`]).
    #[error("invalid node id {value:?}: {reason}")]
    BadNodeId {
        /// The refused input.
        value: String,
        /// Why it was refused.
        reason: String,
    },

    /// A string is not a valid region name (see [`crate::Region`]).
    #[error("invalid region name {value:?}: {reason}")]
    BadRegion {
        /// The refused input.
        value: String,
        /// Why it was refused.
        reason: String,
    },
}

impl Error {
    /// The reason alone, for re-wrapping a typed-id error under a config key or env variable.
    pub(crate) fn into_reason(self) -> String {
        match self {
            Error::BadNodeId { reason, .. } | Error::BadRegion { reason, .. } => reason,
            other => other.to_string(),
        }
    }
}
