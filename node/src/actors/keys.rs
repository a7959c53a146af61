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
use svea_cluster::View as StateView;
use svea_storage::{IndexMode, IndexWrite};

use super::business::Settlement;
use crate::domain::Fingerprint;
use super::ActorError;
use crate::domain::{
    BusinessId, DeviceHash, LocationId, NetworkHash, Ore, OrgNumber, RewardDecision, PosId, Provider, PurchaseVerification, QrToken, ReportedPurchase, RewardTier, Scored,
    SessionId, TransactionId,
};

/// Address of an actor: `business/<id>`, `session/<id>` or `wallet/<device hash>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum ActorKey {
    /// A business actor.
    Business(BusinessId),
    /// A feedback-session actor.
    Session(SessionId),
    /// A customer's wallet (by their device's keyed hash): their cashback, payee and payouts.
    Wallet(DeviceHash),
    /// A cluster-wide unique name (an organisation number, a till account) and who holds it.
    Directory(super::directory::DirectoryId),
}

impl fmt::Display for ActorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActorKey::Business(id) => write!(f, "business/{id}"),
            ActorKey::Session(id) => write!(f, "session/{id}"),
            ActorKey::Wallet(id) => write!(f, "wallet/{id}"),
            ActorKey::Directory(id) => write!(f, "{}{id}", super::groups::DIRECTORY_ACTOR),
        }
    }
}

impl ActorKey {
    /// The key as stored (owner and state records).
    pub fn stored(&self) -> String {
        self.to_string()
    }
}

/// Where secondary records are read: the locally applied state ([`StateView`]), or that state
/// with the records a batch of operations is about to write laid over it
/// ([`super::settles::Pending`]), so a later operation of the batch sees an earlier one's.
pub trait Reads {
    /// The record under `key`, if any.
    fn index(&self, key: &str) -> Result<Option<Vec<u8>>, svea_storage::Error>;
}

impl Reads for StateView {
    fn index(&self, key: &str) -> Result<Option<Vec<u8>>, svea_storage::Error> {
        StateView::index(self, key)
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
    fn read(&self, view: &(impl Reads + ?Sized)) -> Result<Option<Self::Value>, ActorError> {
        match view.index(&self.key())? {
            Some(bytes) => Ok(Some(decode(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Whether the record exists in the locally applied state.
    fn exists(&self, view: &(impl Reads + ?Sized)) -> Result<bool, ActorError> {
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

index!(
    /// A QR token whose location its business removed: the business, so that a customer who
    /// scans an old poster is told the code is retired (410) rather than that it never existed.
    /// Written in the same command that deletes the token's [`QrRecord`].
    QrRetiredRecord(token: QrToken) -> BusinessId, "qrgone/"
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
/// How an organisation number was registered: by which business, when, and whether the company
/// confirmed it (the e-mail verification of the sign-up issue sets `verified`; until then the
/// number is released `signup.release_unverified_org_number_after_ms` after `registered_ms`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrgClaim {
    /// The business that registered it (the same as its [`OrgRecord`]).
    pub business: BusinessId,
    /// When, Unix milliseconds.
    pub registered_ms: i64,
    /// Whether the company confirmed it; a verified number is never released by the sweeper.
    pub verified: bool,
}

/// The registration of an organisation number (written with the business beside [`OrgRecord`],
/// which alone guards uniqueness; deleted with it when the number is released). A business
/// created before this record existed has none: the sweeper never releases its number, an
/// operator can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgClaimRecord {
    /// The organisation number.
    pub org: OrgNumber,
}

impl OrgClaimRecord {
    /// Prefix shared by every record of this kind.
    pub const PREFIX: &'static str = "orgclaim/";
}

impl Index for OrgClaimRecord {
    type Value = OrgClaim;
    fn key(&self) -> String {
        format!("{}{}", Self::PREFIX, self.org)
    }
}

/// An organisation number not verified yet, in time order of its registration (`orgwait/<ms>/<nr>`
/// -> business): what the sweeper scans, oldest first, to release the numbers nobody verified.
/// Deleted when the number is verified or released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgUnverifiedRecord {
    /// When it was registered.
    pub at: TextStamp,
    /// The organisation number.
    pub org: OrgNumber,
}

impl OrgUnverifiedRecord {
    /// Prefix shared by every record of this kind.
    pub const PREFIX: &'static str = "orgwait/";

    /// The record a `orgwait/` key names, if it is one.
    pub fn parse_key(key: &str) -> Option<OrgUnverifiedRecord> {
        let (at, org) = key.strip_prefix(Self::PREFIX)?.split_once('/')?;
        if at.len() != TEXT_STAMP_DIGITS || !at.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(OrgUnverifiedRecord { at: TextStamp(at.to_owned()), org: org.parse().ok()? })
    }
}

impl Index for OrgUnverifiedRecord {
    type Value = BusinessId;
    fn key(&self) -> String {
        format!("{}{}/{}", Self::PREFIX, self.at.as_str(), self.org)
    }
}

/// A single-use link svea mailed a business (`mlink/<sha-256 of the token, hex>`): whose, what
/// for, until when. Written by the business actor when it issues the link, deleted when the link
/// is followed (or found expired), so a link works once, on any node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRecord {
    /// Hex SHA-256 of the token ([`crate::domain::signin::TokenHash::hex`]).
    pub hash: String,
}

/// What a [`LinkRecord`] holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LinkGrant {
    /// The business it signs in.
    pub business: BusinessId,
    /// Verification or sign-in.
    pub purpose: crate::domain::signin::LinkPurpose,
    /// Unix milliseconds after which it is refused.
    pub expires_ms: i64,
}

impl LinkRecord {
    /// Prefix shared by every record of this kind.
    pub const PREFIX: &'static str = "mlink/";
}

impl Index for LinkRecord {
    type Value = LinkGrant;
    fn key(&self) -> String {
        format!("{}{}", Self::PREFIX, self.hash)
    }
}

/// A browser's dashboard session (`wsess/<sha-256 of the session id, hex>`), written by the
/// business actor when a link is followed and deleted at sign-out: every node asks the business
/// actor, which reads this record, so a sign-out ends the session on every node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSessionRecord {
    /// Hex SHA-256 of the session id.
    pub hash: String,
}

/// What a [`WebSessionRecord`] holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WebSessionGrant {
    /// The business signed in.
    pub business: BusinessId,
    /// When it began, Unix milliseconds ("sign out everywhere" ends every session begun before).
    pub created_ms: i64,
    /// When it ends, Unix milliseconds.
    pub expires_ms: i64,
}

impl WebSessionRecord {
    /// Prefix shared by every record of this kind.
    pub const PREFIX: &'static str = "wsess/";
}

impl Index for WebSessionRecord {
    type Value = WebSessionGrant;
    fn key(&self) -> String {
        format!("{}{}", Self::PREFIX, self.hash)
    }
}

/// A business whose contact address is this one (`bemail/<sha-256 of the address, hex>/<business>`
/// -> ()): what a sign-in by e-mail looks up. An address may be the contact of several businesses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailRecord {
    /// [`crate::domain::signin::Email::key`].
    pub email: String,
    /// The business.
    pub business: BusinessId,
}

impl EmailRecord {
    /// Prefix shared by every record of this kind.
    pub const PREFIX: &'static str = "bemail/";

    /// The prefix of one address's records.
    pub fn prefix_of(email: &crate::domain::signin::Email) -> String {
        format!("{}{}/", Self::PREFIX, email.key())
    }

    /// The business a scanned key names.
    pub fn business_of(key: &str) -> Option<BusinessId> {
        key.strip_prefix(Self::PREFIX)?.split_once('/')?.1.parse().ok()
    }
}

impl Index for EmailRecord {
    type Value = ();
    fn key(&self) -> String {
        format!("{}{}/{}", Self::PREFIX, self.email, self.business)
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
    /// The open session of a device (by its hash) at a location (insert-new: one open session per
    /// device).
    ActiveRecord(location: LocationId, device: DeviceHash) -> SessionId, "active/"
);
index!(
    /// A session of a device (by its hash), written when it opens: what a customer's export and
    /// erasure page through (`dev/<hash>/`). Deleted when the session is erased.
    DeviceSessionRecord(device: DeviceHash, session: SessionId) -> (), "dev/"
);
index!(
    /// A session holds a feedback text given at `at` (scanned by the retention sweeper, oldest
    /// first). Deleted when the text is redacted.
    FeedbackTextRecord(at: TextStamp, session: SessionId) -> (), "text/"
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
    /// How a business verifies purchases (written with the business's state; absent means
    /// self-declared). Sessions read it when a purchase is confirmed.
    PosModeRecord(business: BusinessId) -> PurchaseVerification, "posmode/"
);
index!(
    /// The business a till account belongs to (insert-new: an account is registered once).
    PosAccountRecord(provider: Provider, account: PosId) -> BusinessId, "posacct/"
);
index!(
    /// A till delivery already processed (insert-new, written with the purchase it recorded:
    /// a replayed delivery records nothing).
    PosEventRecord(provider: Provider, event: PosId) -> (LocationId, TransactionId), "posevent/"
);
index!(
    /// A purchase the till reported at a location, by its receipt id (insert-new).
    PosPurchaseRecord(location: LocationId, receipt: TransactionId) -> ReportedPurchase, "pospurchase/"
);
index!(
    /// The session a reported purchase backs (insert-new, written by that session's
    /// confirmation: a purchase backs at most one reward).
    PosClaimRecord(location: LocationId, receipt: TransactionId) -> SessionId, "posclaim/"
);
index!(
    /// A session waiting for the till to report this purchase, with the amount it confirmed
    /// (one record per waiting session, so a waiting session never blocks another; deleted when
    /// it stops waiting). The webhook path finds the waiting sessions through them, exact
    /// amounts first.
    PosWaitRecord(location: LocationId, receipt: TransactionId, session: SessionId) -> Ore, "poswait/"
);

impl PosWaitRecord {
    /// Prefix of every waiting session's record for a receipt. A receipt id may contain `/`, so
    /// a scan of this prefix also meets longer receipts' records: [`PosWaitRecord::session_in`]
    /// keeps only this receipt's.
    pub fn prefix_of(location: &LocationId, receipt: &TransactionId) -> String {
        format!("{}{location}/{receipt}/", Self::PREFIX)
    }

    /// The session a key found under [`PosWaitRecord::prefix_of`] names, if it is this receipt's.
    pub fn session_in(prefix: &str, key: &str) -> Option<SessionId> {
        let rest = key.strip_prefix(prefix)?;
        (!rest.contains('/')).then(|| rest.parse().ok()).flatten()
    }
}

/// One try slot of a reported receipt: `0..pos.receipt_mismatches_max`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TrySlot(String);

impl TrySlot {
    /// Slot `n`.
    pub fn nth(n: u32) -> TrySlot {
        TrySlot(n.to_string())
    }

    /// The slot as it appears in keys.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

index!(
    /// A confirmation evaluated against a reported receipt: the session that took try slot
    /// `slot` (insert-new, written with that session's state). Slots are taken in order, so of
    /// concurrent tries exactly one gets each slot; a receipt whose every slot is taken is locked
    /// until its business releases it (which deletes them). The slot comes first in the key
    /// because a receipt id may contain `/`.
    PosTryRecord(location: LocationId, slot: TrySlot, receipt: TransactionId) -> SessionId, "postry/"
);

/// A receipt locked by its mismatches, as its business's list shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LockedReceipt {
    /// Where it was bought.
    pub location: LocationId,
    /// The receipt id.
    pub receipt: TransactionId,
    /// When its last try slot was taken.
    pub at: chrono::DateTime<chrono::Utc>,
}

index!(
    /// A receipt of a business that took its last try slot (written with that try, deleted by the
    /// business's release): what its dashboard and `GET .../pos/locks` list.
    PosLockRecord(business: BusinessId, location: LocationId, receipt: TransactionId) -> LockedReceipt, "poslock/"
);

impl PosLockRecord {
    /// Prefix of every lock record of `business`.
    pub fn prefix_of(business: &BusinessId) -> String {
        format!("{}{business}/", Self::PREFIX)
    }

    /// A lock record's value as a scan of [`PosLockRecord::prefix_of`] returns it.
    pub fn decode_scanned(bytes: &[u8]) -> Result<LockedReceipt, ActorError> {
        Ok(decode(bytes)?)
    }
}

index!(
    /// A till purchase by the provider's own id (insert-new, written with the purchase): where a
    /// refund or cancellation, which names only that id, finds the receipt.
    PosRefRecord(business: BusinessId, provider: Provider, till_id: PosId) -> (LocationId, TransactionId), "posref/"
);

/// The first refund or cancellation a till reported for a purchase.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RefundRecorded {
    /// The provider's event that reported it.
    pub event: PosId,
    /// Amount refunded; `None` for a cancellation.
    pub amount: Option<Ore>,
    /// When svea recorded it.
    pub at: chrono::DateTime<chrono::Utc>,
}

index!(
    /// A reported purchase that its till refunded or cancelled (insert-new, written by the
    /// business): it backs no reward any more. A claim checks it; a settlement reads it and
    /// withholds.
    PosRefundRecord(location: LocationId, receipt: TransactionId) -> RefundRecorded, "posrefund/"
);

index!(
    /// A paid reward its business reversed because the till refunded the purchase: the amount
    /// (insert-new, written with the business state that gave it back, so it happens once).
    ReversalRecord(business: BusinessId, session: SessionId) -> Ore, "brev/"
);
/// When a feedback text was given, as it sorts in a [`FeedbackTextRecord`] key: Unix milliseconds,
/// zero-padded to a fixed width so key order is time order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TextStamp(String);

/// Digits of a [`TextStamp`]: every non-negative `i64`.
const TEXT_STAMP_DIGITS: usize = 19;

impl TextStamp {
    /// The stamp of `at` (times before 1970 sort as 1970; svea has none).
    pub fn at(at: chrono::DateTime<chrono::Utc>) -> TextStamp {
        TextStamp(format!("{:0width$}", at.timestamp_millis().max(0), width = TEXT_STAMP_DIGITS))
    }

    /// The stamp as it appears in keys.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Unix milliseconds.
    pub fn millis(&self) -> i64 {
        self.0.parse().unwrap_or(i64::MAX)
    }
}

/// The stamp and session of a `<prefix><stamp>/<session>` key, if it is one.
fn stamp_and_session(key: &str, prefix: &str) -> Option<(TextStamp, SessionId)> {
    let (at, session) = key.strip_prefix(prefix)?.split_once('/')?;
    if at.len() != TEXT_STAMP_DIGITS || !at.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((TextStamp(at.to_owned()), session.parse().ok()?))
}

impl FeedbackTextRecord {
    /// The record a `text/` key names, if it is one.
    pub fn parse_key(key: &str) -> Option<FeedbackTextRecord> {
        let (at, session) = stamp_and_session(key, Self::PREFIX)?;
        Some(FeedbackTextRecord { at, session })
    }
}

impl DeviceSessionRecord {
    /// Prefix of every record of `device`.
    pub fn prefix_of(device: &DeviceHash) -> String {
        format!("{}{device}/", Self::PREFIX)
    }

    /// The record a `dev/<hash>/` key names, if it is one.
    pub fn parse_key(key: &str) -> Option<DeviceSessionRecord> {
        let (device, session) = key.strip_prefix(Self::PREFIX)?.split_once('/')?;
        Some(DeviceSessionRecord { device: device.parse().ok()?, session: session.parse().ok()? })
    }
}
index!(
    /// A device's rewarded sessions at a business on one Swedish day: `(day, count)`. One record
    /// per device and business, overwritten when a new day starts, so old days need no pruning.
    DeviceDayRecord(business: BusinessId, device: DeviceHash) -> (String, u32), "bdev/"
);
index!(
    /// One of a business's last `abuse.feedback_fingerprints_kept` feedback fingerprints, in ring
    /// slot `slot` (`0..kept`, overwritten in turn), compared against new feedback. (`bfp2/`:
    /// the containment sample of issue 20; the whole-text MinHash records before it were `bfp/`.)
    FingerprintRecord(business: BusinessId, slot: String) -> Fingerprint, "bfp2/"
);
index!(
    /// A rewarded feedback text's fingerprint in every business's record of the last day, with
    /// the business that recorded it: `dfp/<given at>/<session>`, oldest first. Written with the
    /// business's settlement (at most `abuse.day_fingerprints_per_business_max` per business and
    /// day), deleted with the text (erasure, retention) and by the sweeper a day after it was given.
    DayFingerprintRecord(at: TextStamp, session: SessionId) -> (BusinessId, Fingerprint), "dfp/"
);

impl DayFingerprintRecord {
    /// The record a `dfp/` key names, if it is one.
    pub fn parse_key(key: &str) -> Option<DayFingerprintRecord> {
        let (at, session) = stamp_and_session(key, Self::PREFIX)?;
        Some(DayFingerprintRecord { at, session })
    }
}

index!(
    /// A client network's (by its keyed hash) rewarded sessions at a business on one Swedish day:
    /// `(day, count)`, overwritten when a new day starts, like [`DeviceDayRecord`].
    NetworkDayRecord(business: BusinessId, network: NetworkHash) -> (String, u32), "bnet/"
);
index!(
    /// A reward the business's hourly brake holds for its review (`bheld/<business>/<session>`):
    /// written with the settlement that held it, deleted when the business releases or refuses it.
    HeldRecord(business: BusinessId, session: SessionId) -> HeldReward, "bheld/"
);
index!(
    /// The highest purchase a customer may declare at a business without its till (written with
    /// the business and with each change of its setting; sessions read it when a purchase is
    /// confirmed).
    DeclaredMaxRecord(business: BusinessId) -> Ore, "bdeclmax/"
);

/// A reward held for its business's review, as the dashboard lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HeldReward {
    /// When the brake held it.
    pub held_at: chrono::DateTime<chrono::Utc>,
    /// What it would have paid then (tier, amount, cap).
    pub reward: RewardDecision,
    /// The purchase it rewards.
    pub purchase: Ore,
    /// The feedback's score.
    pub score: u8,
    /// The customer a release pays (their wallet).
    pub device: DeviceHash,
}

impl HeldRecord {
    /// Prefix of every record of `business`.
    pub fn prefix_of(business: &BusinessId) -> String {
        format!("{}{business}/", Self::PREFIX)
    }

    /// The record a `bheld/` key names, if it is one.
    pub fn parse_key(key: &str) -> Option<HeldRecord> {
        let (business, session) = key.strip_prefix(Self::PREFIX)?.split_once('/')?;
        Some(HeldRecord { business: business.parse().ok()?, session: session.parse().ok()? })
    }
}

/// One feedback as its business's list and export show it: written with the session's
/// settlement, deleted with its text (erasure, retention), so the list never outlives the text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeedbackEntry {
    /// The text as given (trimmed).
    pub text: String,
    /// Its score (total, who gave it, the rubric's breakdown).
    pub score: Scored,
    /// The tier it fell into.
    pub tier: RewardTier,
    /// Cashback paid for it.
    pub reward: Ore,
    /// Where it was given.
    pub location: LocationId,
    /// That location's name, as the customer saw it.
    pub location_name: String,
    /// When it was given.
    pub given_at: chrono::DateTime<chrono::Utc>,
}

/// When a feedback was given, as it sorts in a [`BusinessFeedbackRecord`] key: `i64::MAX` minus
/// Unix milliseconds, zero-padded, so key order is newest first and a forward scan pages from the
/// newest (feedback arriving later sorts before every page already read).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NewestFirst(String);

impl NewestFirst {
    /// The stamp of `at` (times before 1970 sort as 1970).
    pub fn at(at: chrono::DateTime<chrono::Utc>) -> NewestFirst {
        NewestFirst(format!("{:0width$}", i64::MAX - at.timestamp_millis().max(0), width = TEXT_STAMP_DIGITS))
    }

    /// A stamp as it appears in keys, if `raw` is one.
    pub fn parse(raw: &str) -> Option<NewestFirst> {
        (raw.len() == TEXT_STAMP_DIGITS && raw.bytes().all(|b| b.is_ascii_digit())).then(|| NewestFirst(raw.to_owned()))
    }

    /// The stamp as it appears in keys.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

index!(
    /// A business's feedback, newest first (`bfb/<business>/<newest-first stamp>/<session>`):
    /// what its feedback list and export page through.
    BusinessFeedbackRecord(business: BusinessId, newest_first: NewestFirst, session: SessionId) -> FeedbackEntry, "bfb/"
);

impl BusinessFeedbackRecord {
    /// The record of the feedback session `session` of `business` gave at `given_at`.
    pub fn of(business: &BusinessId, given_at: chrono::DateTime<chrono::Utc>, session: &SessionId) -> BusinessFeedbackRecord {
        BusinessFeedbackRecord { business: business.clone(), newest_first: NewestFirst::at(given_at), session: session.clone() }
    }

    /// Prefix of every record of `business`.
    pub fn prefix_of(business: &BusinessId) -> String {
        format!("{}{business}/", Self::PREFIX)
    }

    /// The record a `bfb/` key names, if it is one.
    pub fn parse_key(key: &str) -> Option<BusinessFeedbackRecord> {
        let mut parts = key.strip_prefix(Self::PREFIX)?.splitn(3, '/');
        let business = parts.next()?.parse().ok()?;
        let newest_first = NewestFirst::parse(parts.next()?)?;
        let session = parts.next()?.parse().ok()?;
        Some(BusinessFeedbackRecord { business, newest_first, session })
    }
}

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
        assert_eq!(OpenRecord::parse_key(&format!("open/{s}")), Some(s.clone()));
        let d: DeviceHash = "ab".repeat(32).parse().expect("hash");
        let dev = DeviceSessionRecord { device: d.clone(), session: s.clone() };
        assert_eq!(dev.key(), format!("dev/{d}/{s}"));
        assert!(dev.key().starts_with(&DeviceSessionRecord::prefix_of(&d)));
        assert_eq!(DeviceSessionRecord::parse_key(&dev.key()), Some(dev));
        let at = chrono::DateTime::from_timestamp_millis(1_774_999_800_000).expect("time");
        let text = FeedbackTextRecord { at: TextStamp::at(at), session: s.clone() };
        assert_eq!(text.key(), format!("text/0000001774999800000/{s}"));
        assert_eq!(FeedbackTextRecord::parse_key(&text.key()), Some(text.clone()));
        assert_eq!(text.at.millis(), 1_774_999_800_000);
        let held = HeldRecord { business: b.clone(), session: s.clone() };
        assert_eq!(held.key(), format!("bheld/{b}/{s}"));
        assert!(held.key().starts_with(&HeldRecord::prefix_of(&b)));
        assert_eq!(HeldRecord::parse_key(&held.key()), Some(held));
        assert_eq!(DeclaredMaxRecord { business: b.clone() }.key(), format!("bdeclmax/{b}"));
        let day = DayFingerprintRecord { at: TextStamp::at(at), session: s.clone() };
        assert_eq!(day.key(), format!("dfp/0000001774999800000/{s}"));
        assert_eq!(DayFingerprintRecord::parse_key(&day.key()), Some(day));
        assert_eq!(DayFingerprintRecord::parse_key("dfp/12/x"), None);
    }

    #[test]
    fn unverified_org_numbers_sort_by_registration_and_parse_back() {
        let org: OrgNumber = "556036-0793".parse().expect("org");
        let t = |ms| TextStamp::at(chrono::DateTime::from_timestamp_millis(ms).expect("time"));
        let rec = OrgUnverifiedRecord { at: t(1_774_999_800_000), org: org.clone() };
        assert_eq!(rec.key(), format!("orgwait/0000001774999800000/{org}"));
        assert_eq!(OrgUnverifiedRecord::parse_key(&rec.key()), Some(rec.clone()));
        assert!(OrgUnverifiedRecord { at: t(1), org: org.clone() }.key() < rec.key());
        assert_eq!(OrgUnverifiedRecord::parse_key("orgwait/1/556036-0793"), None);
        assert_eq!(OrgClaimRecord { org: org.clone() }.key(), format!("orgclaim/{org}"));
    }

    #[test]
    fn business_feedback_records_sort_newest_first_and_parse_back() {
        let b = BusinessId::random();
        let s = SessionId::random();
        let t = |ms| chrono::DateTime::from_timestamp_millis(ms).expect("time");
        let newer = BusinessFeedbackRecord::of(&b, t(1_774_999_800_001), &s);
        let older = BusinessFeedbackRecord::of(&b, t(1_774_999_800_000), &s);
        assert!(newer.key() < older.key());
        assert!(newer.key().starts_with(&BusinessFeedbackRecord::prefix_of(&b)));
        assert_eq!(BusinessFeedbackRecord::parse_key(&newer.key()), Some(newer.clone()));
        assert_eq!(BusinessFeedbackRecord::parse_key("bfb/x/1/y"), None);
        assert!(NewestFirst::at(t(0)) > NewestFirst::at(t(10_000_000_000_000)));
    }

    #[test]
    fn text_records_sort_by_time() {
        let t = |ms| TextStamp::at(chrono::DateTime::from_timestamp_millis(ms).expect("time"));
        assert!(t(999).as_str() < t(1000).as_str());
        assert!(t(1_000_000_000_000).as_str() < t(10_000_000_000_000).as_str());
        let last = chrono::DateTime::<chrono::Utc>::MAX_UTC;
        assert_eq!(TextStamp::at(last).millis(), last.timestamp_millis());
        assert!(t(10_000_000_000_000).as_str() < TextStamp::at(last).as_str());
    }
}

/// Name of the cluster-wide maintenance record (`Command::SetCluster`).
pub const MAINTENANCE_RECORD: &str = "maintenance";

/// Maintenance mode as replicated: present while it is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Maintenance {
    /// What customers are told.
    pub message: String,
    /// Seconds customers are asked to wait before retrying (`Retry-After`).
    pub retry_after_s: u32,
    /// When it was switched on, Unix milliseconds.
    pub since_ms: i64,
}

/// The command that switches maintenance mode on (`Some`) or off (`None`).
pub fn maintenance_command(m: Option<&Maintenance>) -> Result<svea_storage::Command, ActorError> {
    let value = m.map(encode).transpose()?;
    Ok(svea_storage::Command::SetCluster { key: MAINTENANCE_RECORD.to_owned(), value })
}

/// Maintenance mode in the locally applied state.
pub fn maintenance(view: &StateView) -> Result<Option<Maintenance>, ActorError> {
    match view.cluster_record(MAINTENANCE_RECORD)? {
        None => Ok(None),
        Some(bytes) => Ok(Some(decode(&bytes)?)),
    }
}

// ---- The ledger (issue 21) ----

use crate::domain::ledger::PayoutId;
use crate::domain::ledger::{Account, Entry, EntryId, ExternalRef, Posting};

/// Digits of a posting number in its key: every `u64`, so key order is posting order.
const POSTING_SEQ_DIGITS: usize = 20;

/// A ledger entry by its id (`ledger/<entry>`, insert-new: an entry is written once, by the
/// actor whose state change caused it, in the same write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRecord {
    /// The entry.
    pub entry: EntryId,
}

impl EntryRecord {
    /// Prefix of every entry.
    pub const PREFIX: &'static str = "ledger/";
}

impl Index for EntryRecord {
    type Value = Entry;
    fn key(&self) -> String {
        format!("{}{}", Self::PREFIX, self.entry)
    }
}

/// One account's posting number `seq` (`lacct/<account>/<seq>`, insert-new), written by the
/// account's owner with the entry or, for a customer's side of a reward, when the wallet
/// receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostingRecord {
    /// The account.
    pub account: Account,
    /// Its posting number, from 0.
    pub seq: u64,
}

impl PostingRecord {
    /// Prefix of every posting.
    pub const PREFIX: &'static str = "lacct/";

    /// Prefix of every posting of `account`, in order.
    pub fn prefix_of(account: &Account) -> String {
        format!("{}{}/", Self::PREFIX, account.as_key())
    }

    /// A posting's value as a scan returns it.
    pub fn decode_scanned(bytes: &[u8]) -> Result<Posting, ActorError> {
        Ok(decode(bytes)?)
    }
}

impl Index for PostingRecord {
    type Value = Posting;
    fn key(&self) -> String {
        format!("{}{:0width$}", Self::prefix_of(&self.account), self.seq, width = POSTING_SEQ_DIGITS)
    }
}

/// That `entry` is posted on `account`, and as which number (`lpost/<account>/<entry>`,
/// insert-new): what makes a second posting of one entry impossible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedRecord {
    /// The account.
    pub account: Account,
    /// The entry.
    pub entry: EntryId,
}

impl PostedRecord {
    /// Prefix of every such record.
    pub const PREFIX: &'static str = "lpost/";
}

impl Index for PostedRecord {
    type Value = u64;
    fn key(&self) -> String {
        format!("{}{}/{}", Self::PREFIX, self.account.as_key(), self.entry)
    }
}

/// The writes of `entry` with its postings `(account, number, posting)`: all insert-new, so a
/// replay of the same write changes nothing and a second, different one is refused.
pub fn entry_writes(entry: &Entry, postings: &[(Account, u64, Posting)]) -> Result<Vec<IndexWrite>, ActorError> {
    // The rules of every entry are checked where it is written too: a loud stop beats a ledger
    // that does not balance.
    assert!(entry.check().is_ok(), "unbalanced ledger entry {}", entry.id);
    let mut writes = Vec::with_capacity(1 + 2 * postings.len());
    writes.push(EntryRecord { entry: entry.id.clone() }.write(entry, IndexMode::InsertNew)?);
    for (account, seq, posting) in postings {
        writes.push(PostingRecord { account: account.clone(), seq: *seq }.write(posting, IndexMode::InsertNew)?);
        writes.push(PostedRecord { account: account.clone(), entry: entry.id.clone() }.write(seq, IndexMode::InsertNew)?);
    }
    Ok(writes)
}

/// Cashback on its way from a business to a customer's wallet (or back, for a reversal):
/// written by the business with the entry that moved it (`lout/<entry>`), deleted by the wallet
/// in the same write as its posting. Whatever crashes between the two writes, the record stays
/// until the wallet has it: `core/payouts.rs` delivers what is left.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Transfer {
    /// The entry (its customer leg is what the wallet posts).
    pub entry: EntryId,
    /// The customer.
    pub device: DeviceHash,
    /// The business it came from.
    pub business: BusinessId,
}

/// A [`Transfer`] not yet received by its wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRecord {
    /// The entry.
    pub entry: EntryId,
}

impl OutboxRecord {
    /// Prefix of every such record.
    pub const PREFIX: &'static str = "lout/";

    /// A transfer as a scan of [`OutboxRecord::PREFIX`] returns it.
    pub fn decode_scanned(bytes: &[u8]) -> Result<Transfer, ActorError> {
        Ok(decode(bytes)?)
    }
}

impl Index for OutboxRecord {
    type Value = Transfer;
    fn key(&self) -> String {
        format!("{}{}", Self::PREFIX, self.entry)
    }
}

/// A paid top-up by the provider's payment id (`topup/<payment>`): its business, amount and how
/// much of it was refunded so far (Stripe reports refunds cumulatively). Written by the business.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PaidTopUp {
    /// The business it funded.
    pub business: BusinessId,
    /// Amount paid.
    pub amount: Ore,
    /// Refunded of it so far.
    pub refunded: Ore,
}

/// See [`PaidTopUp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopUpRecord {
    /// The provider's payment id.
    pub payment: ExternalRef,
}

impl Index for TopUpRecord {
    type Value = PaidTopUp;
    fn key(&self) -> String {
        format!("topup/{}", self.payment)
    }
}

/// A checkout session already credited, and by which entry (`topupcs/<session>`, insert-new:
/// two events about one checkout credit it once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRecord {
    /// The provider's checkout session id.
    pub session: ExternalRef,
}

impl Index for CheckoutRecord {
    type Value = EntryId;
    fn key(&self) -> String {
        format!("topupcs/{}", self.session)
    }
}

index!(
    /// Whether a business has funds for rewards (`bfunded/<business>`, upserted by the business
    /// whenever that flips): what the customer's start page reads, without a call to the business.
    FundedRecord(business: BusinessId) -> bool, "bfunded/"
);

/// Where a payout is and what became of it (`pay/<payout id>`): written by its wallet when it
/// starts (insert-new) and when it settles. The payee travels sealed with it while it is in
/// flight (the same id always carries the same content) and is dropped when it settles.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PayoutRecord {
    /// The customer.
    pub device: DeviceHash,
    /// Amount.
    pub amount: Ore,
    /// The rail's name when it started (`ledger-only`, `swish`).
    pub rail: String,
    /// The payee as sealed when it started; `None` for a rail that needs none, and once settled.
    pub payee: Option<crate::domain::payee::SealedPayee>,
    /// When it started, Unix milliseconds.
    pub started_ms: i64,
    /// Its state.
    pub state: PayoutState,
}

/// A payout's state as the ledger records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PayoutState {
    /// Sent or about to be; not settled.
    InFlight,
    /// Paid, at this time (Unix milliseconds).
    Paid {
        /// When it was recorded paid.
        at_ms: i64,
    },
    /// Failed and returned to the balance.
    Failed {
        /// When it was recorded failed.
        at_ms: i64,
        /// The rail's code.
        code: String,
        /// Why, for the customer.
        reason: String,
    },
}

/// See [`PayoutRecord`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutIdRecord {
    /// The payout.
    pub id: PayoutId,
}

impl Index for PayoutIdRecord {
    type Value = PayoutRecord;
    fn key(&self) -> String {
        format!("pay/{}", self.id)
    }
}

/// A payout in flight (`payfly/<payout id>` -> its customer), written when it starts and deleted
/// when it settles: what the payout driver scans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlyingRecord {
    /// The payout.
    pub id: PayoutId,
}

impl FlyingRecord {
    /// Prefix of every such record.
    pub const PREFIX: &'static str = "payfly/";

    /// The payout a `payfly/` key names.
    pub fn parse_key(key: &str) -> Option<PayoutId> {
        PayoutId::parse(key.strip_prefix(Self::PREFIX)?)
    }
}

impl Index for FlyingRecord {
    type Value = DeviceHash;
    fn key(&self) -> String {
        format!("{}{}", Self::PREFIX, self.id)
    }
}
