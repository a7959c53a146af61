use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// Identity of one node in the cluster; never zero (Raft implementations commonly reserve 0).
///
/// Serialized as a bare integer; deserializing refuses 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct NodeId(u64);

impl NodeId {
    /// A node id; refuses 0.
    pub fn new(id: u64) -> Result<NodeId, Error> {
        if id == 0 {
            return Err(Error::BadNodeId {
                value: id.to_string(),
                reason: "must be greater than 0".to_owned(),
            });
        }
        Ok(NodeId(id))
    }

    /// The raw number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl TryFrom<u64> for NodeId {
    type Error = Error;
    fn try_from(id: u64) -> Result<NodeId, Error> {
        NodeId::new(id)
    }
}

impl From<NodeId> for u64 {
    fn from(id: NodeId) -> u64 {
        id.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for NodeId {
    type Err = Error;
    fn from_str(s: &str) -> Result<NodeId, Error> {
        let id: u64 = s.trim().parse().map_err(|_| Error::BadNodeId {
            value: s.to_owned(),
            reason: "expected a whole number greater than 0".to_owned(),
        })?;
        NodeId::new(id)
    }
}

/// Longest accepted region name, in characters.
pub const REGION_NAME_LEN_MAX: usize = 32;

/// Name of a region, e.g. `stockholm`: 1..=32 characters of `[a-z0-9_-]`.
///
/// Serialized as a bare string; deserializing validates.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region(String);

impl Region {
    /// A region name; refuses empty, too long, or characters outside `[a-z0-9_-]`.
    pub fn new(name: impl Into<String>) -> Result<Region, Error> {
        let name = name.into();
        let bad = |reason: String| Error::BadRegion {
            value: name.clone(),
            reason,
        };
        if name.is_empty() {
            return Err(bad("must not be empty".to_owned()));
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
        {
            return Err(bad(format!(
                "character {c:?} not allowed, only a-z, 0-9, '_' and '-'"
            )));
        }
        // Only ASCII got past the check above, so bytes and characters agree.
        if name.len() > REGION_NAME_LEN_MAX {
            return Err(bad(format!(
                "is {} characters, at most {REGION_NAME_LEN_MAX} allowed",
                name.len()
            )));
        }
        Ok(Region(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Region {
    type Error = Error;
    fn try_from(name: String) -> Result<Region, Error> {
        Region::new(name)
    }
}

impl From<Region> for String {
    fn from(region: Region) -> String {
        region.0
    }
}

impl AsRef<str> for Region {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Region {
    type Err = Error;
    fn from_str(s: &str) -> Result<Region, Error> {
        Region::new(s)
    }
}
