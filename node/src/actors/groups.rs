//! Which Raft group holds which key (issue 22): the node's [`Placer`].
//!
//! With `cluster.groups = "per-region"` a node runs one group per region of the region table,
//! group `g` led from region `g`. A business is written in its home region's group, and so are
//! its sessions: both ids carry the group in their first hex digit (their *home digit*, minted
//! by [`crate::domain::BusinessId::homed`]; a session takes its business's). The key alone tells
//! the group, on every node, with no lookup:
//! - `business/b_<d>…` and `session/s_<d>…` are in group `d mod groups`;
//! - `wallet/<device hash>`: the hash's first hex digit `mod groups` (a customer's wallet is
//!   nobody's home; spreading wallets spreads their writes);
//! - `directory/…` (the directory actor: organisation numbers, till accounts) and the
//!   directory's records (`org/`, `orgclaim/`, `orgwait/`, `posacct/`) are in group 0, so a
//!   number registers once in the whole cluster;
//! - a secondary record whose first segment is a business or session id is in that id's
//!   group: a command writing it from another group is refused before it is proposed;
//! - any other secondary record is kept with the actor that writes it (`Placement::Every`): a
//!   point read looks in each group, a scan merges every group's.
//!
//! Ids minted before groups existed have random home digits: `d mod groups` is still one fixed
//! group, the same for a business and (taking its digit) its sessions.

use svea_cluster::{Placement, Placer};
use svea_storage::GroupId;

/// Families of the directory, in group 0: records unique in the whole cluster.
const DIRECTORY_FAMILIES: [&str; 4] = ["org/", "orgclaim/", "orgwait/", "posacct/"];

/// The prefix of the directory actor's keys.
pub const DIRECTORY_ACTOR: &str = "directory/";

/// The group of the directory: the cluster-wide unique records.
pub const DIRECTORY_GROUP: GroupId = 0;

/// The placement of svea's keys over `groups` Raft groups.
#[derive(Debug, Clone, Copy)]
pub struct KeyPlacer {
    groups: GroupId,
}

impl KeyPlacer {
    /// Over `groups` groups (at least one).
    pub fn new(groups: GroupId) -> Self {
        KeyPlacer { groups: groups.max(1) }
    }

    /// The group of a home digit.
    pub fn group_of_digit(&self, digit: u8) -> GroupId {
        GroupId::from(digit) % self.groups
    }

    /// Where the secondary records under `key` (a key or a prefix) are, `first` being its first
    /// segment after the family: the directory's in group 0, an id's in its group, else with
    /// their writer.
    fn placed(&self, key: &str, first: Option<&str>) -> Placement {
        if DIRECTORY_FAMILIES.iter().any(|f| key.starts_with(f)) {
            return Placement::Group(DIRECTORY_GROUP);
        }
        first.and_then(|s| self.id_group(s)).map_or(Placement::Every, Placement::Group)
    }

    /// The group of a business or session id (`b_…`, `s_…`), if `segment` is one.
    fn id_group(&self, segment: &str) -> Option<GroupId> {
        let hex = segment.strip_prefix("b_").or_else(|| segment.strip_prefix("s_"))?;
        if hex.len() != 32 {
            return None;
        }
        hex_digit(hex.as_bytes()[0]).map(|d| self.group_of_digit(d))
    }
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

impl Placer for KeyPlacer {
    fn actor(&self, actor: &str) -> GroupId {
        let Some((kind, rest)) = actor.split_once('/') else { return DIRECTORY_GROUP };
        match kind {
            "business" | "session" => self.id_group(rest).unwrap_or(DIRECTORY_GROUP),
            "wallet" => rest.bytes().next().and_then(hex_digit).map_or(DIRECTORY_GROUP, |d| self.group_of_digit(d)),
            _ => DIRECTORY_GROUP,
        }
    }

    fn index(&self, key: &str) -> Placement {
        let first = key.split_once('/').map(|(_, rest)| rest.split('/').next().unwrap_or(rest));
        self.placed(key, first)
    }

    fn index_prefix(&self, prefix: &str) -> Placement {
        // Only a whole first segment names an id: `bfb/b_<32 hex>/` is one business's records,
        // `bfb/b_0` is not.
        let first = prefix.split_once('/').and_then(|(_, rest)| rest.split_once('/')).map(|(id, _)| id);
        self.placed(prefix, first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{BusinessId, SessionId};

    #[test]
    fn a_business_its_sessions_and_their_records_are_in_the_group_of_its_home_digit() {
        let p = KeyPlacer::new(3);
        for home in 0..3u8 {
            let b = BusinessId::random().homed(home);
            let s = SessionId::random().homed(b.home());
            assert_eq!(p.actor(&format!("business/{b}")), GroupId::from(home));
            assert_eq!(p.actor(&format!("session/{s}")), GroupId::from(home));
            assert_eq!(p.index(&format!("bfb/{b}/0001/{s}")), Placement::Group(GroupId::from(home)));
            assert_eq!(p.index(&format!("open/{s}")), Placement::Group(GroupId::from(home)));
            assert_eq!(p.index_prefix(&format!("bfb/{b}/")), Placement::Group(GroupId::from(home)));
        }
    }

    #[test]
    fn directory_records_are_in_group_0_and_records_without_an_id_are_with_their_writer() {
        let p = KeyPlacer::new(3);
        assert_eq!(p.index("org/5561234567"), Placement::Group(0));
        assert_eq!(p.index_prefix("orgwait/"), Placement::Group(0));
        assert_eq!(p.index("posacct/zettle/acc-1"), Placement::Group(0));
        assert_eq!(p.actor("directory/org:5561234567"), 0);
        assert_eq!(p.index("qr/abc"), Placement::Every);
        assert_eq!(p.index_prefix("bfb/"), Placement::Every);
        assert_eq!(p.index_prefix("bfb/b_0"), Placement::Every, "a partial id names no business");
    }

    #[test]
    fn an_old_id_with_any_home_digit_stays_in_one_group_with_its_sessions() {
        let p = KeyPlacer::new(3);
        let b: BusinessId = "b_f0000000000000000000000000000000".parse().unwrap();
        let s = SessionId::random().homed(b.home());
        assert_eq!(p.actor(&format!("business/{b}")), 15 % 3);
        assert_eq!(p.actor(&format!("session/{s}")), 15 % 3);
        assert_eq!(KeyPlacer::new(1).actor(&format!("business/{b}")), 0);
    }
}
