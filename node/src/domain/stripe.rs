//! Stripe, as svea meets it: the `Stripe-Signature` of a webhook delivery and the few fields of
//! the two events that move a business's money. Pure: the caller passes the raw body, the
//! header, the secret and the time.
//!
//! Signatures (docs.stripe.com/webhooks, "Check the webhook signatures", "Verify manually"):
//! the header is a comma-separated list of `key=value` elements; `t` is the signing time in Unix
//! seconds, each `v1` is the hex HMAC-SHA256, keyed with the endpoint's signing secret (the whole
//! `whsec_...` text), of `<t>.<the raw payload bytes>`; other schemes (`v0`) are ignored. There
//! may be several `v1` (while a secret is rolled, one per secret): any match verifies. The
//! comparison is constant-time, and a signing time further than the tolerance from now (either
//! way; Stripe's libraries use 300 s) is refused, so a captured delivery cannot be replayed
//! later. The signature is over bytes, so nothing is parsed before it verifies.
//!
//! Events (docs.stripe.com/api/events/object): `id` (`evt_...`, the same on every retry of one
//! delivery, so it is what deliveries are deduplicated on), `type`, `created` (Unix seconds),
//! `livemode`, `data.object` (the object the event is about). serde reads only the fields named
//! here; Stripe adds fields without a new API version, and none of them is needed.
//!
//! - `checkout.session.completed` and `checkout.session.async_payment_succeeded`
//!   (docs.stripe.com/api/checkout/sessions/object; docs.stripe.com/checkout/fulfillment): the
//!   Checkout Session's `id` (`cs_...`), `amount_total` (integer, the currency's smallest unit:
//!   öre), `currency` (three-letter ISO code in lower case: must be `sek`), `payment_status`
//!   (`paid`; `unpaid` while a delayed method such as a bank debit has not settled: nothing is
//!   credited until `async_payment_succeeded` says `paid`; `no_payment_required`: nothing to
//!   credit), `client_reference_id` (what svea passed: the business id) and `metadata` (the same
//!   business id under `svea_business_id`), `payment_intent` (`pi_...`, the payment that a later
//!   refund names).
//! - `charge.refunded` (docs.stripe.com/api/charges/object): the Charge's `payment_intent`,
//!   `amount`, `amount_refunded` (cumulative: everything refunded so far, not this refund) and
//!   `currency`.

use std::collections::BTreeMap;
use std::fmt;

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::{BusinessId, Ore};

/// The header Stripe signs deliveries in.
pub const SIGNATURE_HEADER: &str = "stripe-signature";
/// Longest `Stripe-Signature` read: `t`, a `v0` and a few `v1` are about 300 bytes.
pub const SIGNATURE_HEADER_LEN_MAX: usize = 2048;
/// Most `v1` signatures tried: one per active signing secret, two while a secret is rolled;
/// more is not Stripe, and each costs an HMAC comparison.
pub const SIGNATURES_MAX: usize = 8;
/// Longest Stripe object id accepted (Stripe ids are at most 255 characters).
pub const STRIPE_ID_LEN_MAX: usize = 255;
/// The metadata key under which svea names the business of a Checkout Session.
pub const METADATA_BUSINESS: &str = "svea_business_id";
/// The metadata key under which svea names the top-up request of a Checkout Session.
pub const METADATA_TOP_UP: &str = "svea_top_up";

/// Why a delivery or an event was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StripeError {
    /// No `Stripe-Signature` header.
    #[error("the Stripe-Signature header is missing")]
    MissingSignature,
    /// The header is not `t=<seconds>,v1=<hex>...`.
    #[error("the Stripe-Signature header is malformed: {0}")]
    MalformedSignature(&'static str),
    /// No `v1` matches the payload under the endpoint's secret.
    #[error("no v1 signature matches the payload")]
    BadSignature,
    /// The signing time is too far from now.
    #[error("the signature's time {signed_at} is {skew_s} s from now, beyond the tolerance of {tolerance_s} s")]
    Stale {
        /// `t`, Unix seconds.
        signed_at: i64,
        /// |now - t|.
        skew_s: u64,
        /// The tolerance.
        tolerance_s: u64,
    },
    /// The event lacks a field Stripe always sends, or a field has the wrong form.
    #[error("the event is malformed: {0}")]
    MalformedEvent(String),
    /// Money in a currency other than SEK.
    #[error("currency {0:?} is not sek")]
    Currency(String),
}

impl StripeError {
    /// The stable kind of the refusal (the suffix of its problem `type`).
    pub fn kind(&self) -> &'static str {
        match self {
            StripeError::MissingSignature | StripeError::MalformedSignature(_) | StripeError::BadSignature => "invalid-stripe-signature",
            StripeError::Stale { .. } => "stale-stripe-signature",
            StripeError::MalformedEvent(_) => "invalid-stripe-event",
            StripeError::Currency(_) => "unsupported-currency",
        }
    }
}

/// Defines a Stripe object id: a fixed prefix, then letters, digits and `_`.
macro_rules! stripe_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        pub struct $name(String);

        impl $name {
            /// The prefix Stripe gives every such id.
            pub const PREFIX: &'static str = $prefix;

            /// The id if `text` is one.
            pub fn parse(text: &str) -> Result<$name, StripeError> {
                let ok = text.len() <= STRIPE_ID_LEN_MAX
                    && text.strip_prefix($prefix).is_some_and(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
                if ok {
                    Ok($name(text.to_owned()))
                } else {
                    let shown: String = text.chars().take(40).collect();
                    Err(StripeError::MalformedEvent(format!("{shown:?} is not a {} id", $prefix)))
                }
            }

            /// The id as Stripe wrote it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

stripe_id!(
    /// An event (`evt_...`): the same on every retried delivery of it.
    EventId,
    "evt_"
);
stripe_id!(
    /// A Checkout Session (`cs_test_...`, `cs_live_...`).
    CheckoutSessionId,
    "cs_"
);
stripe_id!(
    /// A PaymentIntent (`pi_...`): the payment of a Checkout Session, named by its refunds.
    PaymentIntentId,
    "pi_"
);

/// Verifies `header` (the `Stripe-Signature` value) over `payload` under `secret` at `now_s`
/// (Unix seconds) within `tolerance_s`. Every `v1` is tried; the comparison is constant-time.
pub fn verify(header: Option<&str>, payload: &[u8], secret: &str, now_s: i64, tolerance_s: u64) -> Result<(), StripeError> {
    let header = header.ok_or(StripeError::MissingSignature)?;
    if header.len() > SIGNATURE_HEADER_LEN_MAX {
        return Err(StripeError::MalformedSignature("longer than 2048 bytes"));
    }
    let mut signed_at = None;
    let mut signatures = Vec::new();
    for element in header.split(',') {
        let Some((key, value)) = element.trim().split_once('=') else {
            return Err(StripeError::MalformedSignature("an element is not key=value"));
        };
        match key {
            "t" => {
                let t: i64 = value.parse().map_err(|_| StripeError::MalformedSignature("t is not a number of seconds"))?;
                if signed_at.replace(t).is_some() {
                    return Err(StripeError::MalformedSignature("t is given twice"));
                }
            }
            "v1" => {
                // A v1 that is not 64 hex digits can match nothing; it is skipped, not an error,
                // so a later, well-formed one is still tried.
                if let Some(bytes) = decode_hex_32(value) {
                    if signatures.len() == SIGNATURES_MAX {
                        return Err(StripeError::MalformedSignature("more than 8 v1 signatures"));
                    }
                    signatures.push(bytes);
                }
            }
            _ => {} // other schemes (v0, the test-mode scheme) are not ours to check
        }
    }
    let signed_at = signed_at.ok_or(StripeError::MalformedSignature("no t element"))?;
    if signatures.is_empty() {
        return Err(StripeError::BadSignature);
    }
    let expected = signature(secret, signed_at, payload);
    // Every signature is compared (no early exit), each in constant time.
    let matched = signatures.iter().fold(subtle::Choice::from(0), |any, s| any | s.ct_eq(&expected));
    if !bool::from(matched) {
        return Err(StripeError::BadSignature);
    }
    let skew_s = now_s.abs_diff(signed_at);
    if skew_s > tolerance_s {
        return Err(StripeError::Stale { signed_at, skew_s, tolerance_s });
    }
    Ok(())
}

/// HMAC-SHA256 under `secret` of `<t>.<payload>`.
pub fn signature(secret: &str, t: i64, payload: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac takes keys of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac.finalize().into_bytes().into()
}

fn decode_hex_32(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let nibble = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

/// A verified event, reduced to what svea acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `id`.
    pub id: EventId,
    /// `type`, as sent (for logs and the answer).
    pub kind: String,
    /// `created`, Unix seconds.
    pub created_s: i64,
    /// `livemode`: a live-mode event (real money) or a test-mode one.
    pub livemode: bool,
    /// What it says.
    pub body: EventBody,
}

/// What an event says, for the types svea acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventBody {
    /// A Checkout Session whose payment is complete (`payment_status: paid`).
    Paid(CheckoutPaid),
    /// A Checkout Session completed whose payment has not settled (`unpaid`, a delayed method)
    /// or needs none: nothing to credit yet.
    NotPaid {
        /// The session.
        session: CheckoutSessionId,
        /// Its `payment_status`.
        payment_status: String,
    },
    /// A charge refunded, wholly or in part.
    Refunded(ChargeRefunded),
    /// Any other type: acknowledged, nothing done.
    Other,
}

/// A paid Checkout Session: money for one business's budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutPaid {
    /// `data.object.id`.
    pub session: CheckoutSessionId,
    /// `client_reference_id` / `metadata.svea_business_id`.
    pub business: BusinessId,
    /// `amount_total`, öre, > 0.
    pub amount: Ore,
    /// `payment_intent`.
    pub payment: PaymentIntentId,
    /// `metadata.svea_top_up`, when svea set it (the top-up request).
    pub top_up: Option<String>,
}

/// A refunded charge: `refunded_total` of the payment's `amount` has gone back to the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRefunded {
    /// `data.object.payment_intent`.
    pub payment: PaymentIntentId,
    /// `amount`, öre.
    pub amount: Ore,
    /// `amount_refunded`, öre, cumulative, 0..=amount.
    pub refunded_total: Ore,
}

#[derive(Deserialize)]
struct RawEvent {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    created: i64,
    livemode: bool,
    data: RawData,
}

#[derive(Deserialize)]
struct RawData {
    object: serde_json::Value,
}

#[derive(Deserialize)]
struct RawCheckoutSession {
    id: String,
    amount_total: Option<i64>,
    currency: Option<String>,
    payment_status: String,
    client_reference_id: Option<String>,
    #[serde(default)]
    metadata: Option<BTreeMap<String, String>>,
    payment_intent: Option<String>,
}

#[derive(Deserialize)]
struct RawCharge {
    amount: i64,
    amount_refunded: i64,
    currency: String,
    payment_intent: Option<String>,
}

fn malformed(what: impl fmt::Display) -> StripeError {
    StripeError::MalformedEvent(what.to_string())
}

fn sek(currency: Option<&str>) -> Result<(), StripeError> {
    match currency {
        Some("sek") => Ok(()),
        Some(other) => Err(StripeError::Currency(other.chars().take(8).collect())),
        None => Err(malformed("currency is missing")),
    }
}

/// Parses a verified event's payload.
pub fn parse_event(payload: &[u8]) -> Result<Event, StripeError> {
    let raw: RawEvent = serde_json::from_slice(payload).map_err(|e| malformed(format!("not a Stripe event: {e}")))?;
    let id = EventId::parse(&raw.id)?;
    let body = match raw.kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => checkout(raw.data.object)?,
        "charge.refunded" => EventBody::Refunded(refunded(raw.data.object)?),
        _ => EventBody::Other,
    };
    Ok(Event { id, kind: raw.kind.chars().take(100).collect(), created_s: raw.created, livemode: raw.livemode, body })
}

fn checkout(object: serde_json::Value) -> Result<EventBody, StripeError> {
    let s: RawCheckoutSession = serde_json::from_value(object).map_err(|e| malformed(format!("not a Checkout Session: {e}")))?;
    let session = CheckoutSessionId::parse(&s.id)?;
    if s.payment_status != "paid" {
        return Ok(EventBody::NotPaid { session, payment_status: s.payment_status.chars().take(40).collect() });
    }
    sek(s.currency.as_deref())?;
    let amount = s.amount_total.filter(|a| *a > 0).ok_or_else(|| malformed("a paid session's amount_total is missing or not positive"))?;
    let metadata = s.metadata.unwrap_or_default();
    let named = |text: &str| text.parse::<BusinessId>().map_err(|e| malformed(format!("the session's business: {e}")));
    let business = match (s.client_reference_id.as_deref(), metadata.get(METADATA_BUSINESS)) {
        (Some(a), Some(b)) if a != b => return Err(malformed("client_reference_id and metadata name different businesses")),
        (Some(a), _) => named(a)?,
        (None, Some(b)) => named(b)?,
        (None, None) => return Err(malformed("the session names no business (client_reference_id, metadata)")),
    };
    let payment = PaymentIntentId::parse(s.payment_intent.as_deref().ok_or_else(|| malformed("a paid session's payment_intent is missing"))?)?;
    let top_up = metadata.get(METADATA_TOP_UP).map(|t| t.chars().take(100).collect());
    Ok(EventBody::Paid(CheckoutPaid { session, business, amount: Ore::from_ore(amount), payment, top_up }))
}

fn refunded(object: serde_json::Value) -> Result<ChargeRefunded, StripeError> {
    let c: RawCharge = serde_json::from_value(object).map_err(|e| malformed(format!("not a Charge: {e}")))?;
    sek(Some(&c.currency))?;
    if c.amount <= 0 || !(0..=c.amount).contains(&c.amount_refunded) {
        return Err(malformed(format!("amount_refunded {} is not within 0..=amount {}", c.amount_refunded, c.amount)));
    }
    let payment = PaymentIntentId::parse(c.payment_intent.as_deref().ok_or_else(|| malformed("the charge's payment_intent is missing"))?)?;
    Ok(ChargeRefunded { payment, amount: Ore::from_ore(c.amount), refunded_total: Ore::from_ore(c.amount_refunded) })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret_0123456789abcdef";
    const NOW: i64 = 1_772_451_720;

    fn header(secret: &str, t: i64, payload: &[u8]) -> String {
        let hex: String = signature(secret, t, payload).iter().map(|b| format!("{b:02x}")).collect();
        format!("t={t},v1={hex},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39")
    }

    #[test]
    fn a_signature_of_t_dot_payload_under_the_secret_verifies() {
        let body = br#"{"id":"evt_1"}"#;
        assert_eq!(verify(Some(&header(SECRET, NOW, body)), body, SECRET, NOW, 300), Ok(()));
        // Within the tolerance either way.
        assert_eq!(verify(Some(&header(SECRET, NOW - 300, body)), body, SECRET, NOW, 300), Ok(()));
        assert_eq!(verify(Some(&header(SECRET, NOW + 300, body)), body, SECRET, NOW, 300), Ok(()));
    }

    #[test]
    fn forged_altered_stale_or_foreign_signatures_are_refused() {
        let body = br#"{"id":"evt_1","amount_total":10000}"#;
        let good = header(SECRET, NOW, body);
        assert_eq!(verify(None, body, SECRET, NOW, 300), Err(StripeError::MissingSignature));
        assert_eq!(verify(Some(&good), br#"{"id":"evt_1","amount_total":99999}"#, SECRET, NOW, 300), Err(StripeError::BadSignature));
        assert_eq!(verify(Some(&header("whsec_another_secret_0123456789", NOW, body)), body, SECRET, NOW, 300), Err(StripeError::BadSignature));
        assert!(matches!(verify(Some(&header(SECRET, NOW - 301, body)), body, SECRET, NOW, 300), Err(StripeError::Stale { skew_s: 301, .. })));
        assert!(matches!(verify(Some(&header(SECRET, NOW + 301, body)), body, SECRET, NOW, 300), Err(StripeError::Stale { .. })));
        // The signed time is part of what is signed: moving t breaks the signature.
        let moved = good.replacen(&format!("t={NOW}"), &format!("t={}", NOW + 1), 1);
        assert_eq!(verify(Some(&moved), body, SECRET, NOW, 300), Err(StripeError::BadSignature));
        // Only v0: nothing of ours to check.
        assert_eq!(verify(Some(&format!("t={NOW},v0=00")), body, SECRET, NOW, 300), Err(StripeError::BadSignature));
        assert!(matches!(verify(Some("v1=00"), body, SECRET, NOW, 300), Err(StripeError::MalformedSignature(_))));
        assert!(matches!(verify(Some("garbage"), body, SECRET, NOW, 300), Err(StripeError::MalformedSignature(_))));
        assert!(matches!(verify(Some(&"t=1,".repeat(1000)), body, SECRET, NOW, 300), Err(StripeError::MalformedSignature(_))));
    }

    #[test]
    fn every_v1_is_tried() {
        let body = b"{}";
        let good = header(SECRET, NOW, body);
        let v1 = good.split(',').find(|e| e.starts_with("v1=")).unwrap();
        let rolled = format!("t={NOW},v1={},v1=zz,{v1}", "0".repeat(64));
        assert_eq!(verify(Some(&rolled), body, SECRET, NOW, 300), Ok(()));
        let many = format!("t={NOW},{}", vec![format!("v1={}", "0".repeat(64)); 9].join(","));
        assert!(matches!(verify(Some(&many), body, SECRET, NOW, 300), Err(StripeError::MalformedSignature(_))));
    }

    fn session_event(kind: &str, status: &str, currency: &str) -> Vec<u8> {
        serde_json::json!({
            "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy", "object": "event", "api_version": "2023-08-16", "created": NOW,
            "livemode": false, "type": kind, "pending_webhooks": 1, "request": {"id": null, "idempotency_key": null},
            "data": {"object": {"id": "cs_test_a1b2c3", "object": "checkout.session", "amount_total": 50000, "currency": currency,
                "payment_status": status, "client_reference_id": "b_0123456789abcdef0123456789abcdef", "mode": "payment",
                "metadata": {"svea_business_id": "b_0123456789abcdef0123456789abcdef", "svea_top_up": "t1"},
                "payment_intent": "pi_3Ab12CdEf", "status": "complete"}}
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_paid_checkout_session_names_its_business_amount_and_payment() {
        let e = parse_event(&session_event("checkout.session.completed", "paid", "sek")).unwrap();
        assert_eq!(e.id.as_str(), "evt_1NG8Du2eZvKYlo2CUI79vXWy");
        assert!(!e.livemode);
        let EventBody::Paid(p) = e.body else { panic!("{:?}", e.body) };
        assert_eq!((p.session.as_str(), p.business.as_ref(), p.amount, p.payment.as_str()), ("cs_test_a1b2c3", "b_0123456789abcdef0123456789abcdef", Ore::from_ore(50000), "pi_3Ab12CdEf"));
        assert_eq!(p.top_up.as_deref(), Some("t1"));
        let e = parse_event(&session_event("checkout.session.async_payment_succeeded", "paid", "sek")).unwrap();
        assert!(matches!(e.body, EventBody::Paid(_)));
    }

    #[test]
    fn unpaid_sessions_foreign_currencies_and_strangers_are_not_credited() {
        let e = parse_event(&session_event("checkout.session.completed", "unpaid", "sek")).unwrap();
        assert!(matches!(e.body, EventBody::NotPaid { ref payment_status, .. } if payment_status == "unpaid"));
        assert_eq!(parse_event(&session_event("checkout.session.completed", "paid", "eur")).unwrap_err(), StripeError::Currency("eur".into()));
        let e = parse_event(&session_event("customer.created", "paid", "eur")).unwrap();
        assert_eq!(e.body, EventBody::Other);
        let mut v: serde_json::Value = serde_json::from_slice(&session_event("checkout.session.completed", "paid", "sek")).unwrap();
        v["data"]["object"]["client_reference_id"] = "b_ffffffffffffffffffffffffffffffff".into();
        assert!(matches!(parse_event(v.to_string().as_bytes()), Err(StripeError::MalformedEvent(_))));
        v["data"]["object"]["client_reference_id"] = serde_json::Value::Null;
        v["data"]["object"]["metadata"] = serde_json::json!({});
        assert!(matches!(parse_event(v.to_string().as_bytes()), Err(StripeError::MalformedEvent(_))));
        assert!(matches!(parse_event(b"[1,2]"), Err(StripeError::MalformedEvent(_))));
        assert!(matches!(parse_event(br#"{"id":"nope","type":"x","created":1,"livemode":false,"data":{"object":{}}}"#), Err(StripeError::MalformedEvent(_))));
    }

    #[test]
    fn a_refunded_charge_gives_the_cumulative_refund() {
        let body = serde_json::json!({"id": "evt_2", "object": "event", "created": NOW, "livemode": false, "type": "charge.refunded",
            "data": {"object": {"id": "ch_1", "object": "charge", "amount": 50000, "amount_refunded": 20000, "currency": "sek",
                "payment_intent": "pi_3Ab12CdEf", "refunded": false}}});
        let e = parse_event(body.to_string().as_bytes()).unwrap();
        assert_eq!(e.body, EventBody::Refunded(ChargeRefunded { payment: PaymentIntentId::parse("pi_3Ab12CdEf").unwrap(), amount: Ore::from_ore(50000), refunded_total: Ore::from_ore(20000) }));
        let mut over = body.clone();
        over["data"]["object"]["amount_refunded"] = 50001.into();
        assert!(matches!(parse_event(over.to_string().as_bytes()), Err(StripeError::MalformedEvent(_))));
    }
}
