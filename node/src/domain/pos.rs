//! Purchases verified by the till: which till systems svea accepts, a business's registration with
//! one, a webhook delivery as parsed (not yet trusted) and the check of its signature, and the rule
//! that matches a customer's confirmation against a reported purchase.
//!
//! Pure logic, like the rest of `domain`: the HTTP layer parses each provider's request into a
//! [`Delivery`] (`http/pos/`), the business actor verifies it with the registration's secret and
//! records the purchase. The signature schemes, as each provider documents them:
//!
//! - **Zettle** (Pusher API, "Create webhook event subscriptions", step 4, in
//!   github.com/iZettle/api-documentation `pusher-api/tutorials/create-webhook-event-subscriptions.md`):
//!   header `X-iZettle-Signature` = lowercase hex of HMAC-SHA256 keyed with the subscription's
//!   `signingKey`, over the body's `timestamp` and `payload` fields joined by a dot:
//!   `<timestamp>.<payload>` (`payload` is the JSON text carried as a string in the body).
//! - **Square** (developer.squareup.com/docs/webhooks/step3validate and step2subscribe): header
//!   `x-square-hmacsha256-signature` = base64 of HMAC-SHA256 keyed with the subscription's
//!   signature key, over the notification URL (exactly as registered) followed by the raw body.
//! - **Shopify** (shopify.dev/docs/apps/build/webhooks, "verify deliveries"): header
//!   `X-Shopify-Hmac-Sha256` = base64 of HMAC-SHA256 keyed with the app's client secret, over the
//!   raw body.
//!
//! Signatures are compared in constant time (`hmac`'s `verify_slice`).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{LocationId, Ore, TransactionId};

/// Longest till account identity, event id or till location id accepted.
pub const POS_ID_LEN_MAX: usize = 128;

/// Longest webhook secret accepted (Zettle's signing keys are 64 characters).
pub const POS_SECRET_LEN_MAX: usize = 256;

/// Shortest webhook secret accepted: a guessable secret would let anyone report purchases.
pub const POS_SECRET_LEN_MIN: usize = 16;

/// Most till locations one registration may map to svea locations.
pub const POS_LOCATION_MAP_LEN_MAX: usize = 100;

/// Longest Square notification URL accepted.
pub const POS_NOTIFICATION_URL_LEN_MAX: usize = 2048;

/// The till systems svea takes purchases from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Provider {
    /// Zettle (PayPal) Pusher API, `PurchaseCreated` (a refund is a purchase with `refund: true`).
    Zettle,
    /// Square webhooks, `payment.created` / `payment.updated`, `refund.created` / `refund.updated`.
    Square,
    /// Shopify webhooks, `orders/create` / `orders/paid`, `refunds/create`, `orders/cancelled`.
    Shopify,
}

impl Provider {
    /// The name used in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Zettle => "zettle",
            Provider::Square => "square",
            Provider::Shopify => "shopify",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = PosError;
    fn from_str(s: &str) -> Result<Self, PosError> {
        match s {
            "zettle" => Ok(Provider::Zettle),
            "square" => Ok(Provider::Square),
            "shopify" => Ok(Provider::Shopify),
            other => Err(PosError::UnknownProvider(truncate(other))),
        }
    }
}

/// How a business's customers prove their purchase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PurchaseVerification {
    /// The customer's word (amount, time, receipt id as typed).
    #[default]
    SelfDeclared,
    /// Only purchases the business's till reported by webhook.
    Pos,
}

impl PurchaseVerification {
    /// The name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            PurchaseVerification::SelfDeclared => "self_declared",
            PurchaseVerification::Pos => "pos",
        }
    }
}

impl FromStr for PurchaseVerification {
    type Err = PosError;
    fn from_str(s: &str) -> Result<Self, PosError> {
        match s {
            "self_declared" => Ok(PurchaseVerification::SelfDeclared),
            "pos" => Ok(PurchaseVerification::Pos),
            other => Err(PosError::Invalid(format!("purchase_verification {:?} is not \"pos\" or \"self_declared\"", truncate(other)))),
        }
    }
}

/// Why till input was refused. Each maps to one problem type in `http::error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum PosError {
    /// No such provider.
    #[error("unknown till provider {0:?}")]
    UnknownProvider(String),
    /// The delivery or registration is malformed.
    #[error("{0}")]
    Invalid(String),
    /// The signature does not match (wrong secret, altered body) or the account is unknown.
    #[error("webhook signature does not verify")]
    BadSignature,
    /// The signed timestamp is outside the tolerance.
    #[error("webhook timestamp {at} is more than {tolerance_ms} ms from now")]
    Stale {
        /// The signed time.
        at: DateTime<Utc>,
        /// The tolerance.
        tolerance_ms: u64,
    },
    /// The purchase is in a currency svea does not pay cashback in.
    #[error("purchase currency {0:?} is not SEK")]
    Currency(String),
    /// The till location is mapped to no svea location and the business has several.
    #[error("till location {0:?} is not mapped to a location of this business")]
    UnmappedLocation(String),
    /// Another business registered this till account.
    #[error("till account {0} is registered to another business")]
    AccountTaken(String),
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// A till-side identifier: account identity, event id, till location id. Printable ASCII without
/// spaces or `/` (it becomes part of a store key), 1 to [`POS_ID_LEN_MAX`] characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PosId(String);

impl PosId {
    /// Checks `s`; `what` names it in the error.
    pub fn new(s: &str, what: &str) -> Result<PosId, PosError> {
        if s.is_empty() || s.len() > POS_ID_LEN_MAX || !s.chars().all(|c| c.is_ascii_graphic() && c != '/') {
            return Err(PosError::Invalid(format!(
                "{what} {:?} must be 1 to {POS_ID_LEN_MAX} printable ascii characters without spaces or '/'",
                truncate(s)
            )));
        }
        Ok(PosId(s.to_owned()))
    }

    /// The identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PosId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A business's registration with one till system. The secret never leaves the business's
/// state: no API answer includes it and `Debug` redacts it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PosIntegration {
    /// The till system.
    pub provider: Provider,
    /// The account identity its deliveries name (Zettle organizationUuid, Square merchant_id,
    /// Shopify shop domain).
    pub account: PosId,
    secret: String,
    /// Square only: the notification URL exactly as registered (it is signed).
    pub notification_url: Option<String>,
    /// Till location id -> svea location.
    pub locations: BTreeMap<PosId, LocationId>,
    /// Where purchases without a mapped till location belong.
    pub default_location: Option<LocationId>,
}

impl fmt::Debug for PosIntegration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PosIntegration")
            .field("provider", &self.provider)
            .field("account", &self.account)
            .field("secret", &"<redacted>")
            .field("notification_url", &self.notification_url)
            .field("locations", &self.locations)
            .field("default_location", &self.default_location)
            .finish()
    }
}

impl PosIntegration {
    /// A registration; checks the secret and, for Square, the notification URL.
    pub fn new(
        provider: Provider,
        account: PosId,
        secret: &str,
        notification_url: Option<String>,
        locations: BTreeMap<PosId, LocationId>,
        default_location: Option<LocationId>,
    ) -> Result<PosIntegration, PosError> {
        if secret.len() < POS_SECRET_LEN_MIN || secret.len() > POS_SECRET_LEN_MAX || secret.chars().any(|c| c.is_control()) {
            return Err(PosError::Invalid(format!(
                "secret must be {POS_SECRET_LEN_MIN} to {POS_SECRET_LEN_MAX} characters without control characters"
            )));
        }
        if locations.len() > POS_LOCATION_MAP_LEN_MAX {
            return Err(PosError::Invalid(format!("at most {POS_LOCATION_MAP_LEN_MAX} till locations may be mapped")));
        }
        match (provider, &notification_url) {
            (Provider::Square, None) => return Err(PosError::Invalid("square needs the notification_url it signs".into())),
            (Provider::Square, Some(u)) if u.len() > POS_NOTIFICATION_URL_LEN_MAX || (!u.starts_with("https://") && !u.starts_with("http://")) => {
                return Err(PosError::Invalid("notification_url must be an http(s) URL of at most 2048 characters".into()))
            }
            (Provider::Square, Some(_)) => {}
            (_, Some(_)) => return Err(PosError::Invalid(format!("{provider} does not sign a notification_url"))),
            (_, None) => {}
        }
        Ok(PosIntegration { provider, account, secret: secret.to_owned(), notification_url, locations, default_location })
    }

    /// The svea location a purchase at `till_location` belongs to, given the business's locations.
    pub fn location_for(&self, till_location: Option<&PosId>, business_locations: &[LocationId]) -> Result<LocationId, PosError> {
        if let Some(l) = till_location.and_then(|t| self.locations.get(t)) {
            return Ok(l.clone());
        }
        if let Some(l) = &self.default_location {
            return Ok(l.clone());
        }
        match business_locations {
            [only] => Ok(only.clone()),
            _ => Err(PosError::UnmappedLocation(till_location.map(|t| t.to_string()).unwrap_or_default())),
        }
    }
}

/// What the provider signed, besides the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Signed {
    /// The raw body (Shopify).
    Body,
    /// The registered notification URL, then the raw body (Square).
    NotificationUrlThenBody,
    /// `<timestamp>.<payload>` from the body's fields (Zettle).
    TimestampDotPayload {
        /// The body's `timestamp` field as sent.
        timestamp: String,
        /// The body's `payload` field (a JSON text).
        payload: String,
    },
}

/// How the signature header encodes the HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Encoding {
    /// Standard base64 (Square, Shopify).
    Base64,
    /// Hexadecimal (Zettle).
    Hex,
}

/// A purchase as a till reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedPurchase {
    /// The receipt or transaction id the customer sees (and types).
    pub receipt: TransactionId,
    /// Amount paid.
    pub amount: Ore,
    /// When it was paid.
    pub at: DateTime<Utc>,
    /// The till's location id, if the provider sends one.
    pub till_location: Option<PosId>,
    /// The provider's own id of the purchase (Zettle `purchaseUuid`, Square payment `id`, Shopify
    /// order `id`): what its refund and cancellation events name.
    pub till_id: Option<PosId>,
}

/// A refund or cancellation as a till reports it: it names the purchase by the provider's own id
/// ([`ReportedPurchase::till_id`]). Any refund, partial or whole, counts the same: svea cannot
/// tell a returned item from a pretext, so the purchase backs no reward any more (docs/trust-model.md,
/// "Purchases verified by the till").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TillRefund {
    /// The refunded purchase, by the provider's id.
    pub till_id: PosId,
    /// Amount refunded; `None` for a cancellation of the whole purchase.
    pub amount: Option<Ore>,
}

/// A webhook delivery as parsed from the request: nothing in it is trusted until
/// [`Delivery::verify`] passes with the account's registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The till system.
    pub provider: Provider,
    /// The account it names.
    pub account: PosId,
    /// The provider's event id (idempotency).
    pub event_id: PosId,
    /// The signature header's value.
    pub signature: String,
    /// Its encoding.
    pub encoding: Encoding,
    /// What was signed.
    pub signed: Signed,
    /// The raw body.
    pub body: Vec<u8>,
    /// The signed delivery time, where the provider signs one.
    pub signed_at: Option<DateTime<Utc>>,
    /// The purchase, or `None` for an event that reports none (e.g. an unpaid order).
    pub purchase: Option<ReportedPurchase>,
    /// The refund or cancellation it reports, if it reports one.
    pub refund: Option<TillRefund>,
}

impl Delivery {
    /// Whether the signature is the provider's HMAC-SHA256 of what it signs under the
    /// registration's secret, compared in constant time.
    pub fn verify(&self, integration: &PosIntegration) -> bool {
        if integration.provider != self.provider || integration.account != self.account {
            return false;
        }
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(integration.secret.as_bytes()) else {
            return false;
        };
        match &self.signed {
            Signed::Body => mac.update(&self.body),
            Signed::NotificationUrlThenBody => {
                let Some(url) = &integration.notification_url else { return false };
                mac.update(url.as_bytes());
                mac.update(&self.body);
            }
            Signed::TimestampDotPayload { timestamp, payload } => {
                mac.update(timestamp.as_bytes());
                mac.update(b".");
                mac.update(payload.as_bytes());
            }
        }
        let given = match self.encoding {
            Encoding::Base64 => STANDARD.decode(self.signature.trim()).ok(),
            Encoding::Hex => decode_hex(self.signature.trim()),
        };
        match given {
            Some(bytes) => mac.verify_slice(&bytes).is_ok(),
            None => false,
        }
    }

    /// Refuses a delivery whose signed time is further than `tolerance` from `now`.
    pub fn check_fresh(&self, now: DateTime<Utc>, tolerance: std::time::Duration) -> Result<(), PosError> {
        let Some(at) = self.signed_at else { return Ok(()) };
        let tolerance_ms = u64::try_from(tolerance.as_millis()).unwrap_or(u64::MAX);
        let off_ms = (now - at).num_milliseconds().unsigned_abs();
        if off_ms > tolerance_ms {
            return Err(PosError::Stale { at, tolerance_ms });
        }
        Ok(())
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || !s.is_ascii() {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// Why a confirmation does not match a reported purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// Another amount.
    Amount,
    /// Further apart in time than the window.
    Time,
}

/// Whether a customer's confirmation (`amount`, `at`) is the purchase the till reported: same
/// amount, times at most `window` apart (the receipt id matched already: it is the record's key).
pub fn purchase_matches(reported: &ReportedPurchase, amount: Ore, at: DateTime<Utc>, window: std::time::Duration) -> Result<(), Mismatch> {
    if reported.amount != amount {
        return Err(Mismatch::Amount);
    }
    let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
    if (reported.at - at).num_milliseconds().unsigned_abs() > window_ms {
        return Err(Mismatch::Time);
    }
    Ok(())
}

/// `mac` as a provider's signature header carries it (for tests and fixtures).
pub fn encode(encoding: Encoding, mac: &[u8]) -> String {
    match encoding {
        Encoding::Base64 => STANDARD.encode(mac),
        Encoding::Hex => mac.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// HMAC-SHA256 of `parts` under `secret`: what a provider sends, for tests and fixtures.
pub fn sign(secret: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac takes keys of any length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn hex_decoding_refuses_what_is_not_hex() {
        assert_eq!(decode_hex("00ff"), Some(vec![0, 255]));
        assert_eq!(decode_hex("0g"), None);
        assert_eq!(decode_hex("abc"), None);
        assert_eq!(decode_hex("é0"), None);
    }

    #[test]
    fn a_purchase_matches_on_amount_and_time_window() {
        let r = ReportedPurchase { receipt: "R1".parse().unwrap(), amount: Ore::from_ore(8300), at: at("2026-01-01T12:00:00Z"), till_location: None, till_id: None };
        let w = std::time::Duration::from_secs(600);
        assert_eq!(purchase_matches(&r, Ore::from_ore(8300), at("2026-01-01T12:09:00Z"), w), Ok(()));
        assert_eq!(purchase_matches(&r, Ore::from_ore(8301), at("2026-01-01T12:00:00Z"), w), Err(Mismatch::Amount));
        assert_eq!(purchase_matches(&r, Ore::from_ore(8300), at("2026-01-01T12:11:00Z"), w), Err(Mismatch::Time));
    }

    #[test]
    fn registrations_check_secret_and_square_url() {
        let acct = PosId::new("merchant-1", "account").unwrap();
        let ok = PosIntegration::new(Provider::Shopify, acct.clone(), "0123456789abcdef", None, BTreeMap::new(), None);
        assert!(ok.is_ok());
        assert!(format!("{:?}", ok.unwrap()).contains("<redacted>"));
        assert!(PosIntegration::new(Provider::Shopify, acct.clone(), "short", None, BTreeMap::new(), None).is_err());
        assert!(PosIntegration::new(Provider::Square, acct.clone(), "0123456789abcdef", None, BTreeMap::new(), None).is_err());
        assert!(PosIntegration::new(Provider::Zettle, acct, "0123456789abcdef", Some("https://x".into()), BTreeMap::new(), None).is_err());
        assert!(PosId::new("a/b", "account").is_err());
        assert!(PosId::new("", "account").is_err());
    }

    #[test]
    fn stale_deliveries_are_refused() {
        let d = Delivery {
            provider: Provider::Zettle,
            account: PosId::new("a", "account").unwrap(),
            event_id: PosId::new("e", "event").unwrap(),
            signature: String::new(),
            encoding: Encoding::Hex,
            signed: Signed::Body,
            body: vec![],
            signed_at: Some(at("2026-01-01T12:00:00Z")),
            purchase: None,
            refund: None,
        };
        let tol = std::time::Duration::from_secs(300);
        assert!(d.check_fresh(at("2026-01-01T12:04:59Z"), tol).is_ok());
        assert!(matches!(d.check_fresh(at("2026-01-01T12:05:01Z"), tol), Err(PosError::Stale { .. })));
        assert!(matches!(d.check_fresh(at("2026-01-01T11:54:00Z"), tol), Err(PosError::Stale { .. })));
    }
}
