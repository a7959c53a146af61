//! `[stripe]`: funding a business's budget by card through Stripe Checkout. Raw as written,
//! typed, and the check between them, in one place. The keys are required (checked) only when
//! funding goes through Stripe (`funding.provider = "stripe"`); otherwise they may stay empty.
//!
//! The secret key and the webhook signing secret are never printed: both `Debug`s redact them,
//! and no error message quotes them.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Stripe's API, as its API reference names it (docs.stripe.com/api, "Base URL").
const API_BASE: &str = "https://api.stripe.com";
/// A business waits on the other end of the redirect: ten seconds, then it is told to try again.
const TIMEOUT_MS: u64 = 10_000;
/// Stripe's own libraries refuse a `Stripe-Signature` older (or newer) than five minutes
/// (docs.stripe.com/webhooks, "Check the webhook signatures": "a default tolerance of five minutes").
const WEBHOOK_TOLERANCE_S: u64 = 300;
/// Smallest top-up: Stripe's minimum charge in SEK is 3.00 (docs.stripe.com/currencies,
/// "Minimum and maximum charge amounts"); below 50 SEK a top-up pays no reward worth having.
const TOP_UP_MIN_SEK: u64 = 50;
/// Largest top-up in one Checkout: 100 000 SEK; more is a bank transfer and a conversation.
const TOP_UP_MAX_SEK: u64 = 100_000;
/// Calls to Stripe in flight at once from one node.
const CALLS_IN_FLIGHT_MAX: u32 = 8;
/// Largest webhook body read: an event carries one object (a Checkout Session, a Charge with its
/// refunds list), a few kilobytes; 256 KiB leaves room and bounds what a stranger can send.
const WEBHOOK_BODY_BYTES_MAX: u64 = 256 * 1024;

/// Upper bound of `stripe.timeout_ms`.
pub const STRIPE_TIMEOUT_MS_MAX: u64 = 60_000;
/// Upper bound of `stripe.webhook_tolerance_s`: an hour.
pub const STRIPE_WEBHOOK_TOLERANCE_S_MAX: u64 = 3_600;
/// Upper bound of `stripe.top_up_max_sek` (Stripe's maximum amount of one charge is 999 999.99
/// in most currencies, docs.stripe.com/currencies).
pub const STRIPE_TOP_UP_MAX_SEK_MAX: u64 = 999_999;
/// Upper bound of `stripe.calls_in_flight_max`.
pub const STRIPE_CALLS_IN_FLIGHT_MAX_MAX: u32 = 64;
/// Upper bound of `stripe.webhook_body_bytes_max`.
pub const STRIPE_WEBHOOK_BODY_BYTES_MAX_MAX: u64 = 4 * 1024 * 1024;
/// Longest `stripe.api_base`.
pub const STRIPE_API_BASE_LEN_MAX: usize = 512;
const _: () = assert!(TIMEOUT_MS <= STRIPE_TIMEOUT_MS_MAX);
const _: () = assert!(WEBHOOK_TOLERANCE_S <= STRIPE_WEBHOOK_TOLERANCE_S_MAX);
const _: () = assert!(TOP_UP_MIN_SEK <= TOP_UP_MAX_SEK && TOP_UP_MAX_SEK <= STRIPE_TOP_UP_MAX_SEK_MAX);
const _: () = assert!(CALLS_IN_FLIGHT_MAX <= STRIPE_CALLS_IN_FLIGHT_MAX_MAX);
const _: () = assert!(WEBHOOK_BODY_BYTES_MAX <= STRIPE_WEBHOOK_BODY_BYTES_MAX_MAX);

/// `[stripe]` as written.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawStripe {
    /// The secret API key (`sk_live_...`, `sk_test_...`, or a restricted `rk_...`); set it with
    /// `SVEA_STRIPE_SECRET_KEY` rather than in the file.
    pub secret_key: String,
    /// The webhook endpoint's signing secret (`whsec_...`); `SVEA_STRIPE_WEBHOOK_SECRET`.
    pub webhook_secret: String,
    /// Base URL of Stripe's API, `https://`, no trailing `/`.
    pub api_base: String,
    /// A PEM file of extra certificate authorities trusted for `api_base`, beside the system's
    /// (a test's fake Stripe); empty: the system's only.
    pub ca_file: String,
    /// Longest wait for one answer from Stripe, in milliseconds.
    pub timeout_ms: u64,
    /// Largest distance between a webhook's signed time and now, in seconds, either way.
    pub webhook_tolerance_s: u64,
    /// Smallest top-up a business may start, whole SEK.
    pub top_up_min_sek: u64,
    /// Largest top-up a business may start, whole SEK.
    pub top_up_max_sek: u64,
    /// Calls to Stripe in flight at once from this node; a call that finds none free within
    /// `timeout_ms` is answered 503.
    pub calls_in_flight_max: u32,
    /// Largest webhook body read, in bytes; a larger one is refused 413.
    pub webhook_body_bytes_max: u64,
}

impl Default for RawStripe {
    fn default() -> RawStripe {
        RawStripe {
            secret_key: String::new(),
            webhook_secret: String::new(),
            api_base: API_BASE.to_owned(),
            ca_file: String::new(),
            timeout_ms: TIMEOUT_MS,
            webhook_tolerance_s: WEBHOOK_TOLERANCE_S,
            top_up_min_sek: TOP_UP_MIN_SEK,
            top_up_max_sek: TOP_UP_MAX_SEK,
            calls_in_flight_max: CALLS_IN_FLIGHT_MAX,
            webhook_body_bytes_max: WEBHOOK_BODY_BYTES_MAX,
        }
    }
}

impl std::fmt::Debug for RawStripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawStripe")
            .field("secret_key", &redacted(&self.secret_key))
            .field("webhook_secret", &redacted(&self.webhook_secret))
            .field("api_base", &self.api_base)
            .field("ca_file", &self.ca_file)
            .field("timeout_ms", &self.timeout_ms)
            .field("webhook_tolerance_s", &self.webhook_tolerance_s)
            .field("top_up_min_sek", &self.top_up_min_sek)
            .field("top_up_max_sek", &self.top_up_max_sek)
            .field("calls_in_flight_max", &self.calls_in_flight_max)
            .field("webhook_body_bytes_max", &self.webhook_body_bytes_max)
            .finish()
    }
}

fn redacted(secret: &str) -> &'static str {
    if secret.is_empty() {
        "<unset>"
    } else {
        "<redacted>"
    }
}

/// `[stripe]`, checked.
#[derive(Clone, PartialEq, Eq)]
pub struct StripeConfig {
    /// `stripe.secret_key`; empty when Stripe is not the funding provider.
    pub secret_key: String,
    /// `stripe.webhook_secret`; empty when Stripe is not the funding provider.
    pub webhook_secret: String,
    /// `stripe.api_base`, without a trailing `/`.
    pub api_base: String,
    /// `stripe.ca_file`.
    pub ca_file: Option<PathBuf>,
    /// `stripe.timeout_ms`, in (0, 60 s].
    pub timeout: Duration,
    /// `stripe.webhook_tolerance_s`, in [1 s, 1 h].
    pub webhook_tolerance: Duration,
    /// `stripe.top_up_min_sek` in öre.
    pub top_up_min_ore: i64,
    /// `stripe.top_up_max_sek` in öre.
    pub top_up_max_ore: i64,
    /// `stripe.calls_in_flight_max`, 1..=64.
    pub calls_in_flight_max: usize,
    /// `stripe.webhook_body_bytes_max`.
    pub webhook_body_bytes_max: usize,
}

impl StripeConfig {
    /// Whether the secret key is a live-mode key (`sk_live_`/`rk_live_`): then only live-mode
    /// events count, and with a test key only test-mode ones.
    pub fn live(&self) -> bool {
        self.secret_key.starts_with("sk_live_") || self.secret_key.starts_with("rk_live_")
    }
}

impl std::fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeConfig")
            .field("secret_key", &redacted(&self.secret_key))
            .field("webhook_secret", &redacted(&self.webhook_secret))
            .field("api_base", &self.api_base)
            .field("ca_file", &self.ca_file)
            .field("timeout", &self.timeout)
            .field("webhook_tolerance", &self.webhook_tolerance)
            .field("top_up_min_ore", &self.top_up_min_ore)
            .field("top_up_max_ore", &self.top_up_max_ore)
            .field("calls_in_flight_max", &self.calls_in_flight_max)
            .field("webhook_body_bytes_max", &self.webhook_body_bytes_max)
            .finish()
    }
}

/// Shortest secret accepted after its prefix: Stripe's keys are far longer; a few characters
/// is a placeholder someone forgot to replace.
const SECRET_TAIL_LEN_MIN: usize = 16;

impl RawStripe {
    /// Checks the bounds; `required`: Stripe is the funding provider, so both secrets must be set.
    pub fn validate(&self, required: bool) -> Result<StripeConfig, Error> {
        let invalid = |key: &str, reason: String| Error::Invalid { key: format!("stripe.{key}"), reason };
        let within = |key: &str, value: u64, lo: u64, hi: u64| {
            if (lo..=hi).contains(&value) {
                Ok(value)
            } else {
                Err(invalid(key, format!("{value} is not within {lo}..={hi}")))
            }
        };
        let secret_key = self.secret_key.trim().to_owned();
        let webhook_secret = self.webhook_secret.trim().to_owned();
        let key_ok = ["sk_live_", "sk_test_", "rk_live_", "rk_test_"]
            .iter()
            .any(|p| secret_key.strip_prefix(p).is_some_and(|tail| tail.len() >= SECRET_TAIL_LEN_MIN && tail.bytes().all(|b| b.is_ascii_alphanumeric())));
        if (required || !secret_key.is_empty()) && !key_ok {
            return Err(invalid(
                "secret_key",
                format!("must be a Stripe secret key (sk_live_..., sk_test_..., rk_...; SVEA_STRIPE_SECRET_KEY){}", if required { ", required when funding.provider is \"stripe\"" } else { "" }),
            ));
        }
        let whsec_ok = webhook_secret
            .strip_prefix("whsec_")
            .is_some_and(|tail| tail.len() >= SECRET_TAIL_LEN_MIN && tail.bytes().all(|b| b.is_ascii_alphanumeric()));
        if (required || !webhook_secret.is_empty()) && !whsec_ok {
            return Err(invalid(
                "webhook_secret",
                format!("must be the webhook endpoint's signing secret (whsec_...; SVEA_STRIPE_WEBHOOK_SECRET){}", if required { ", required when funding.provider is \"stripe\"" } else { "" }),
            ));
        }
        let api_base = self.api_base.trim().trim_end_matches('/').to_owned();
        let host = api_base.strip_prefix("https://").unwrap_or_default();
        if api_base.len() > STRIPE_API_BASE_LEN_MAX || host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
            return Err(invalid("api_base", format!("must be https://host[:port] of at most {STRIPE_API_BASE_LEN_MAX} characters, got {:?}", self.api_base)));
        }
        let ca_file = (!self.ca_file.trim().is_empty()).then(|| PathBuf::from(self.ca_file.trim()));
        let timeout_ms = within("timeout_ms", self.timeout_ms, 1, STRIPE_TIMEOUT_MS_MAX)?;
        let tolerance_s = within("webhook_tolerance_s", self.webhook_tolerance_s, 1, STRIPE_WEBHOOK_TOLERANCE_S_MAX)?;
        let max = within("top_up_max_sek", self.top_up_max_sek, 1, STRIPE_TOP_UP_MAX_SEK_MAX)?;
        let min = within("top_up_min_sek", self.top_up_min_sek, 1, max)?;
        let in_flight = within("calls_in_flight_max", u64::from(self.calls_in_flight_max), 1, u64::from(STRIPE_CALLS_IN_FLIGHT_MAX_MAX))?;
        let body = within("webhook_body_bytes_max", self.webhook_body_bytes_max, 1024, STRIPE_WEBHOOK_BODY_BYTES_MAX_MAX)?;
        Ok(StripeConfig {
            secret_key,
            webhook_secret,
            api_base,
            ca_file,
            timeout: Duration::from_millis(timeout_ms),
            webhook_tolerance: Duration::from_secs(tolerance_s),
            // Bounded above by STRIPE_TOP_UP_MAX_SEK_MAX: the products fit an i64.
            top_up_min_ore: min as i64 * 100,
            top_up_max_ore: max as i64 * 100,
            calls_in_flight_max: in_flight as usize,
            webhook_body_bytes_max: body as usize,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk_test_51AbCdEfGhIjKlMnOpQrStUv";
    const WHSEC: &str = "whsec_0123456789abcdefABCDEF0123";

    #[test]
    fn defaults_need_no_secret_until_stripe_funds_budgets() {
        let c = RawStripe::default().validate(false).expect("defaults");
        assert_eq!(c.api_base, "https://api.stripe.com");
        assert_eq!(c.webhook_tolerance, Duration::from_secs(300));
        assert_eq!(c.timeout, Duration::from_secs(10));
        assert_eq!((c.top_up_min_ore, c.top_up_max_ore), (5_000, 10_000_000));
        let err = RawStripe::default().validate(true).unwrap_err().to_string();
        assert!(err.contains("stripe.secret_key") && err.contains("required"), "{err}");
        let raw = RawStripe { secret_key: KEY.into(), ..RawStripe::default() };
        assert!(raw.validate(true).unwrap_err().to_string().contains("stripe.webhook_secret"));
        let raw = RawStripe { secret_key: KEY.into(), webhook_secret: WHSEC.into(), ..RawStripe::default() };
        let c = raw.validate(true).expect("both secrets");
        assert!(!c.live());
    }

    #[test]
    fn bad_values_name_their_key_and_never_quote_a_secret() {
        let raw = RawStripe { secret_key: "pk_test_51AbCdEfGhIjKlMnOpQrStUv".into(), ..RawStripe::default() };
        let err = raw.validate(false).unwrap_err().to_string();
        assert!(err.contains("stripe.secret_key") && !err.contains("AbCdEf"), "{err}");
        let raw = RawStripe { api_base: "http://api.stripe.com".into(), ..RawStripe::default() };
        assert!(raw.validate(false).unwrap_err().to_string().contains("stripe.api_base"));
        let raw = RawStripe { top_up_min_sek: 200_000, ..RawStripe::default() };
        assert!(raw.validate(false).unwrap_err().to_string().contains("stripe.top_up_min_sek"));
        let raw = RawStripe { webhook_tolerance_s: 0, ..RawStripe::default() };
        assert!(raw.validate(false).unwrap_err().to_string().contains("stripe.webhook_tolerance_s"));
        let raw = RawStripe { secret_key: KEY.into(), webhook_secret: WHSEC.into(), ..RawStripe::default() };
        let shown = format!("{raw:?} {:?}", raw.validate(true).unwrap());
        assert!(!shown.contains("AbCdEf") && !shown.contains("0123456789abcdef"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }
}
