//! Every key the node writes into the replicated store, and the encoding of every value behind it.
//!
//! Actor keys (`business/<id>`, `session/<id>`) name an actor's owner and state records; index
//! keys name the small secondary records written atomically with an actor's state. Each index has
//! its own type that knows its key's layout and its value's type, so no other module formats a key
//! or decodes a record by hand. Values go through `storage::codec`, like everything else stored.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;
use svea_storage::codec::{decode, encode};
use svea_storage::{IndexMode, IndexWrite, StateView};

use super::business::Settlement;
use crate::domain::Fingerprint;
use super::ActorError;
use crate::domain::{BusinessId, DeviceId, LocationId, OrgNumber, QrToken, SessionId, TransactionId};

/// Address of an actor: `business/<id>` or `session/<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum ActorKey {
    /// A business actor.
    Business(BusinessId),
    /// A feedback-session actor.
    Session(SessionId),
}

impl fmt::Display for ActorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActorKey::Business(id) => write!(f, "business/{id}"),
            ActorKey::Session(id) => write!(f, "session/{id}"),
        }
    }
}

impl ActorKey {
    /// The key as stored (owner and state records).
    pub fn stored(&self) -> String {
        self.to_string()
    }
}

/// A secondary record: its key layout and the type of its value.
pub trait Index {
    /// What the record holds.
    type Value: Serialize + DeserializeOwned;

    /// The key as stored.
    fn key(&self) -> String;

    /// A write of `value` under this record.
    fn write(&self, value: &Self::Value, mode: IndexMode) -> Result<IndexWrite, ActorError> {
        Ok(IndexWrite { key: self.key(), value: encode(value)?, mode })
    }

    /// The record's value in the locally applied state.
    fn read(&self, view: &StateView) -> Result<Option<Self::Value>, ActorError> {
        match view.index(&self.key())? {
            Some(bytes) => Ok(Some(decode(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Whether the record exists in the locally applied state.
    fn exists(&self, view: &StateView) -> Result<bool, ActorError> {
        Ok(view.index(&self.key())?.is_some())
    }

    /// Decodes a value the store returned for this record (an insert-new refusal).
    fn decode(&self, bytes: &[u8]) -> Result<Self::Value, ActorError> {
        Ok(decode(bytes)?)
    }
}

macro_rules! index {
    ($(#[$doc:meta])* $name:ident($($field:ident: $ty:ty),+) -> $value:ty, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name { $(pub $field: $ty),+ }

        impl $name {
            /// Prefix shared by every record of this kind (for scans).
            pub const PREFIX: &'static str = $prefix;
        }

        impl Index for $name {
            type Value = $value;
            fn key(&self) -> String {
                let mut k = String::from(Self::PREFIX);
                $( k.push_str(self.$field.as_str()); k.push('/'); )+
                k.pop();
                k
            }
        }
    };
}

/// Where a QR token leads: its business and location, with the names a customer is shown (so
/// opening a session needs no call to the business).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QrTarget {
    /// The business.
    pub business: BusinessId,
    /// The location.
    pub location: LocationId,
    /// The business's name.
    pub business_name: String,
    /// The location's name.
    pub location_name: String,
}

index!(
    /// A QR token's business and location.
    QrRecord(token: QrToken) -> QrTarget, "qr/"
);

/// The business that registered an organisation number (insert-new: a number registers once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgRecord {
    /// The organisation number.
    pub org: OrgNumber,
}

impl OrgRecord {
    /// Prefix shared by every record of this kind.
    pub const PREFIX: &'static str = "org/";
}

impl Index for OrgRecord {
    type Value = BusinessId;
    fn key(&self) -> String {
        format!("{}{}", Self::PREFIX, self.org)
    }
}
index!(
    /// The session that used a till transaction id (insert-new: a transaction backs one session).
    TxnRecord(business: BusinessId, transaction: TransactionId) -> SessionId, "txn/"
);
index!(
    /// An open session and when it expires, in Unix milliseconds (scanned by the expiry sweeper).
    OpenRecord(session: SessionId) -> i64, "open/"
);
index!(
    /// The open session of a device at a location (insert-new: one open session per device).
    ActiveRecord(location: LocationId, device: DeviceId) -> SessionId, "active/"
);
index!(
    /// A business counted a session's opening (idempotency of `SessionOpened`).
    OpenedRecord(business: BusinessId, session: SessionId) -> (), "bopen/"
);
index!(
    /// A business settled a session, and how (idempotency of `Settle`: a retry gets this back).
    SettledRecord(business: BusinessId, session: SessionId) -> Settlement, "bsettle/"
);

index!(
    /// A device's rewarded sessions at a business on one Swedish day: `(day, count)`. One record
    /// per device and business, overwritten when a new day starts, so old days need no pruning.
    DeviceDayRecord(business: BusinessId, device: DeviceId) -> (String, u32), "bdev/"
);
index!(
    /// One of a business's last `abuse.feedback_fingerprints_kept` feedback fingerprints, in ring
    /// slot `slot` (`0..kept`, overwritten in turn), compared against new feedback.
    FingerprintRecord(business: BusinessId, slot: String) -> Fingerprint, "bfp/"
);

impl OpenRecord {
    /// The session an `open/` key names, if it is one.
    pub fn parse_key(key: &str) -> Option<SessionId> {
        key.strip_prefix(Self::PREFIX)?.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_their_stored_layout() {
        let b: BusinessId = BusinessId::random();
        let s: SessionId = SessionId::random();
        assert_eq!(ActorKey::Session(s.clone()).stored(), format!("session/{s}"));
        assert_eq!(SettledRecord { business: b.clone(), session: s.clone() }.key(), format!("bsettle/{b}/{s}"));
        assert_eq!(OpenRecord { session: s.clone() }.key(), format!("open/{s}"));
        assert_eq!(OpenRecord::parse_key(&format!("open/{s}")), Some(s));
    }
}
