//! `[funding]` and `[payouts]`: where a business's reward money comes from and how a customer's
//! cashback leaves svea (issue 21). Raw as written, typed, and the checks between them, in one
//! place, including the one rule that spans both: real money never goes out while fake money
//! comes in (`payouts.rail = "swish"` needs `funding.provider = "stripe"`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A payout is made once a customer's balance reaches this many kronor: small enough that a few
/// rewards get there, large enough that a payout's fixed cost stays a small share of it.
const PAYOUT_MINIMUM_SEK: u32 = 50;
/// A payout the rail has not settled is sent again (same id) or asked about this often.
const PAYOUT_RETRY_INTERVAL_MS: u64 = 30_000;
/// Sends of one payout that get no answer, before the driver stops sending it and only asks the
/// rail about it (it stays in flight and is counted as stuck: an operator looks at it).
const PAYOUT_ATTEMPTS_MAX: u32 = 10;
/// One call to the payout rail waits this long at most.
const PAYOUT_CALL_TIMEOUT_MS: u64 = 10_000;
/// Payouts one node's driver handles per round, at most (the rest wait for the next round).
const PAYOUTS_IN_FLIGHT_MAX: u32 = 64;

/// Highest payout minimum that may be configured (a customer must be able to reach it).
pub const PAYOUT_MINIMUM_SEK_MAX: u32 = 10_000;
/// Longest retry interval that may be configured: an hour.
pub const PAYOUT_RETRY_INTERVAL_MS_MAX: u64 = 3_600_000;
/// Most sends of one payout that may be configured.
pub const PAYOUT_ATTEMPTS_MAX_MAX: u32 = 1_000;
/// Longest rail call that may be configured: two minutes.
pub const PAYOUT_CALL_TIMEOUT_MS_MAX: u64 = 120_000;
/// Most payouts per driver round that may be configured.
pub const PAYOUTS_IN_FLIGHT_MAX_MAX: u32 = 10_000;

/// Where a business's reward money comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FundingProvider {
    /// Demo money: a sign-up's `reward_budget_sek` and `POST /v1/businesses/{id}/top-ups` are
    /// credited at once. Nothing is charged.
    #[serde(rename = "demo")]
    Demo,
    /// Stripe Checkout: a top-up is credited only when Stripe says it was paid.
    #[serde(rename = "stripe")]
    Stripe,
}

impl FundingProvider {
    /// The name in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            FundingProvider::Demo => "demo",
            FundingProvider::Stripe => "stripe",
        }
    }
}

/// How a customer's cashback leaves svea.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PayoutRailKind {
    /// Nothing leaves svea: every payout is recorded as paid and shown as demo.
    #[serde(rename = "ledger-only")]
    LedgerOnly,
    /// Swish's Payout API.
    #[serde(rename = "swish")]
    Swish,
}

impl PayoutRailKind {
    /// The name in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            PayoutRailKind::LedgerOnly => "ledger-only",
            PayoutRailKind::Swish => "swish",
        }
    }
}

/// `[funding]` as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawFunding {
    /// `demo` or `stripe`.
    pub provider: String,
}

impl Default for RawFunding {
    fn default() -> RawFunding {
        RawFunding { provider: FundingProvider::Demo.as_str().to_owned() }
    }
}

/// `[funding]`, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FundingConfig {
    /// Where reward money comes from.
    pub provider: FundingProvider,
}

/// `[payouts]` as written. `Debug` prints no byte of `payee_key`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawPayouts {
    /// `ledger-only` or `swish`.
    pub rail: String,
    /// A payout is made when a customer's balance reaches this many kronor.
    pub minimum_sek: u32,
    /// How often an unsettled payout is sent again or asked about, in milliseconds.
    pub retry_interval_ms: u64,
    /// Unanswered sends of one payout before the driver only asks about it.
    pub attempts_max: u32,
    /// One rail call's timeout, in milliseconds.
    pub call_timeout_ms: u64,
    /// Payouts one node's driver handles per round.
    pub in_flight_max: u32,
    /// The key customers' payees (Swish number, personnummer) are sealed under: 64 hexadecimal
    /// characters (32 random bytes); `SVEA_PAYOUTS_PAYEE_KEY`. Required with the `swish` rail.
    pub payee_key: String,
}

impl std::fmt::Debug for RawPayouts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawPayouts")
            .field("rail", &self.rail)
            .field("minimum_sek", &self.minimum_sek)
            .field("retry_interval_ms", &self.retry_interval_ms)
            .field("attempts_max", &self.attempts_max)
            .field("call_timeout_ms", &self.call_timeout_ms)
            .field("in_flight_max", &self.in_flight_max)
            .field("payee_key", &if self.payee_key.is_empty() { "" } else { "<redacted>" })
            .finish()
    }
}

/// Length of `payouts.payee_key`, in bytes (ChaCha20-Poly1305's key).
pub const PAYEE_KEY_BYTES: usize = 32;

/// The payee sealing key's bytes. `Debug` prints none of them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PayeeKeyBytes(pub [u8; PAYEE_KEY_BYTES]);

impl std::fmt::Debug for PayeeKeyBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PayeeKeyBytes(<redacted>)")
    }
}

impl PayeeKeyBytes {
    /// The key from 64 hexadecimal characters; `None` for anything else.
    pub fn from_hex(text: &str) -> Option<PayeeKeyBytes> {
        let text = text.trim();
        if text.len() != PAYEE_KEY_BYTES * 2 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut out = [0u8; PAYEE_KEY_BYTES];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(PayeeKeyBytes(out))
    }
}

impl Default for RawPayouts {
    fn default() -> RawPayouts {
        RawPayouts {
            rail: PayoutRailKind::LedgerOnly.as_str().to_owned(),
            minimum_sek: PAYOUT_MINIMUM_SEK,
            retry_interval_ms: PAYOUT_RETRY_INTERVAL_MS,
            attempts_max: PAYOUT_ATTEMPTS_MAX,
            call_timeout_ms: PAYOUT_CALL_TIMEOUT_MS,
            in_flight_max: PAYOUTS_IN_FLIGHT_MAX,
            payee_key: String::new(),
        }
    }
}

/// `[payouts]`, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayoutsConfig {
    /// The rail.
    pub rail: PayoutRailKind,
    /// The payout minimum in öre (`minimum_sek` * 100).
    pub minimum_ore: i64,
    /// Retry interval.
    pub retry_interval: Duration,
    /// Unanswered sends before only asking.
    pub attempts_max: u32,
    /// One rail call's timeout.
    pub call_timeout: Duration,
    /// Payouts per driver round.
    pub in_flight_max: u32,
    /// The payee sealing key (`None`: unset; customers cannot give a payee on this cluster).
    pub payee_key: Option<PayeeKeyBytes>,
}

fn invalid(key: &str, reason: String) -> Error {
    Error::Invalid { key: key.to_owned(), reason }
}

fn within<T: PartialOrd + std::fmt::Display + Copy>(key: &str, v: T, lo: T, hi: T) -> Result<T, Error> {
    if v < lo || v > hi {
        return Err(invalid(key, format!("{v} is not within {lo}..={hi}")));
    }
    Ok(v)
}

/// Checks both sections and the rule between them.
pub fn validate(funding: &RawFunding, payouts: &RawPayouts) -> Result<(FundingConfig, PayoutsConfig), Error> {
    let provider = match funding.provider.as_str() {
        "demo" => FundingProvider::Demo,
        "stripe" => FundingProvider::Stripe,
        other => return Err(invalid("funding.provider", format!("{other:?} is not one of \"demo\", \"stripe\""))),
    };
    let rail = match payouts.rail.as_str() {
        "ledger-only" => PayoutRailKind::LedgerOnly,
        "swish" => PayoutRailKind::Swish,
        other => return Err(invalid("payouts.rail", format!("{other:?} is not one of \"ledger-only\", \"swish\""))),
    };
    if rail == PayoutRailKind::Swish && provider == FundingProvider::Demo {
        return Err(invalid(
            "payouts.rail",
            "\"swish\" pays real money out, but funding.provider \"demo\" takes none in: set funding.provider = \"stripe\"".to_owned(),
        ));
    }
    let minimum = within("payouts.minimum_sek", payouts.minimum_sek, 1, PAYOUT_MINIMUM_SEK_MAX)?;
    let retry = within("payouts.retry_interval_ms", payouts.retry_interval_ms, 1, PAYOUT_RETRY_INTERVAL_MS_MAX)?;
    let attempts = within("payouts.attempts_max", payouts.attempts_max, 1, PAYOUT_ATTEMPTS_MAX_MAX)?;
    let timeout = within("payouts.call_timeout_ms", payouts.call_timeout_ms, 1, PAYOUT_CALL_TIMEOUT_MS_MAX)?;
    let in_flight = within("payouts.in_flight_max", payouts.in_flight_max, 1, PAYOUTS_IN_FLIGHT_MAX_MAX)?;
    // The key is never echoed in the error: it is a secret, even when malformed.
    let payee_key = match payouts.payee_key.trim() {
        "" if rail == PayoutRailKind::Swish => {
            return Err(invalid("payouts.payee_key", "required with payouts.rail = \"swish\": 64 hexadecimal characters (32 random bytes; openssl rand -hex 32), SVEA_PAYOUTS_PAYEE_KEY".to_owned()))
        }
        "" => None,
        text => Some(PayeeKeyBytes::from_hex(text).ok_or_else(|| invalid("payouts.payee_key", "must be 64 hexadecimal characters (32 bytes; openssl rand -hex 32)".to_owned()))?),
    };
    Ok((
        FundingConfig { provider },
        PayoutsConfig {
            rail,
            minimum_ore: i64::from(minimum) * 100,
            retry_interval: Duration::from_millis(retry),
            attempts_max: attempts,
            call_timeout: Duration::from_millis(timeout),
            in_flight_max: in_flight,
            payee_key,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_issues_and_swish_needs_real_funding() {
        let (f, p) = validate(&RawFunding::default(), &RawPayouts::default()).expect("defaults");
        assert_eq!(f.provider, FundingProvider::Demo);
        assert_eq!(p.rail, PayoutRailKind::LedgerOnly);
        assert_eq!(p.minimum_ore, 5_000);
        assert_eq!((p.retry_interval, p.attempts_max, p.call_timeout, p.in_flight_max), (Duration::from_secs(30), 10, Duration::from_secs(10), 64));
        let swish = RawPayouts { rail: "swish".into(), ..RawPayouts::default() };
        let e = validate(&RawFunding::default(), &swish).unwrap_err().to_string();
        assert!(e.contains("payouts.rail") && e.contains("funding.provider"), "{e}");
        let stripe = RawFunding { provider: "stripe".into() };
        let e = validate(&stripe, &swish).unwrap_err().to_string();
        assert!(e.contains("payouts.payee_key"), "swish needs a key to seal payees under: {e}");
        let swish = RawPayouts { payee_key: "ab".repeat(32), ..swish };
        let p = validate(&stripe, &swish).expect("real money both ways").1;
        assert_eq!((p.rail, p.payee_key), (PayoutRailKind::Swish, Some(PayeeKeyBytes([0xab; 32]))));
        let bad = RawFunding { provider: "paypal".into() };
        assert!(validate(&bad, &RawPayouts::default()).unwrap_err().to_string().contains("funding.provider"));
        let bad = RawPayouts { minimum_sek: 0, ..RawPayouts::default() };
        assert!(validate(&RawFunding::default(), &bad).unwrap_err().to_string().contains("payouts.minimum_sek"));
        let bad = RawPayouts { in_flight_max: 0, ..RawPayouts::default() };
        assert!(validate(&RawFunding::default(), &bad).unwrap_err().to_string().contains("payouts.in_flight_max"));
    }

    #[test]
    fn the_payee_key_is_64_hex_characters_and_never_printed() {
        let secret = "0f".repeat(32);
        let raw = RawPayouts { payee_key: secret.clone(), ..RawPayouts::default() };
        assert!(!format!("{raw:?}").contains(&secret));
        let p = validate(&RawFunding::default(), &raw).expect("a ledger-only cluster may seal payees too").1;
        assert!(!format!("{p:?}").contains("15, 15"), "{p:?}");
        for bad in ["0f".repeat(31), "zz".repeat(32), "0f".repeat(33)] {
            let raw = RawPayouts { payee_key: bad.clone(), ..RawPayouts::default() };
            let e = validate(&RawFunding::default(), &raw).unwrap_err().to_string();
            assert!(e.contains("payouts.payee_key") && !e.contains(&bad), "{e}");
        }
    }
}
