//! `[swish]`: how svea reaches Swish's Payout API (the `swish` payout rail): the API's base URL,
//! the merchant's TLS client certificate and key, the root that Swish's server certificate must
//! chain to, the payout signing key and its certificate's serial number, the merchant's payout
//! Swish number, the callback URL Swish posts results to, and the bounds on every call. Raw as
//! written, typed, and the check between them, in one place.
//!
//! The files and numbers come from Swish's certificate portal (portal.swish.nu) once a payout
//! agreement is signed (Swish developer documentation, "Getting started with the Swish Payout
//! API", developer.swish.nu/documentation/getting-started/swish-payout-api). They are given all
//! together or not at all: a node with none of them cannot use the `swish` rail.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Swish's production API (developer.swish.nu: `https://cpc.getswish.net/swish-cpcapi/api/v1/...`);
/// svea appends `/api/v1/payouts`.
const API_BASE: &str = "https://cpc.getswish.net/swish-cpcapi";
/// A payout call waits at most this long: nobody waits on it (the payout driver retries with the
/// same instruction id), but a hung call holds one of the call slots.
const TIMEOUT_MS: u64 = 10_000;
/// Swish calls in flight from one node at once.
const CALLS_IN_FLIGHT_MAX: u32 = 4;

/// Longest `swish.timeout_ms` that may be configured.
pub const TIMEOUT_MS_MAX: u64 = 60_000;
/// Most `swish.calls_in_flight_max` that may be configured.
pub const CALLS_IN_FLIGHT_MAX_MAX: u32 = 64;
/// Longest `swish.api_base` or `swish.callback_url` accepted.
pub const URL_LEN_MAX: usize = 2048;
/// Longest signing certificate serial number accepted, in hexadecimal digits (X.509 serial
/// numbers are at most 20 octets, RFC 5280 4.1.2.2).
pub const SERIAL_HEX_LEN_MAX: usize = 40;
const _: () = assert!(TIMEOUT_MS <= TIMEOUT_MS_MAX && CALLS_IN_FLIGHT_MAX <= CALLS_IN_FLIGHT_MAX_MAX);

/// `[swish]` as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawSwish {
    /// Swish's API base URL, `https://`, without `/api/v1/...` (tests point it at a fake).
    pub api_base: String,
    /// PEM file: the merchant's TLS client certificate and the chain up to Swish's root.
    pub cert_file: String,
    /// PEM file: the private key of `cert_file`.
    pub key_file: String,
    /// PEM file: the root Swish's server certificate must chain to.
    pub root_ca_file: String,
    /// PEM file: the private key of the payout signing certificate.
    pub signing_key_file: String,
    /// The payout signing certificate's serial number, hexadecimal (`signingCertificateSerialNumber`).
    pub signing_cert_serial: String,
    /// The merchant's Swish number payouts are made from (`payerAlias`), 10 digits.
    pub payer_alias: String,
    /// Where Swish posts a payout's result (`callbackUrl`): `https://<this cluster>/v1/payouts/swish/callback`.
    pub callback_url: String,
    /// Longest wait for one Swish call, in milliseconds.
    pub timeout_ms: u64,
    /// Swish calls in flight from this node at once; a call that finds none free within
    /// `timeout_ms` is retried later.
    pub calls_in_flight_max: u32,
}

impl Default for RawSwish {
    fn default() -> RawSwish {
        RawSwish {
            api_base: API_BASE.to_owned(),
            cert_file: String::new(),
            key_file: String::new(),
            root_ca_file: String::new(),
            signing_key_file: String::new(),
            signing_cert_serial: String::new(),
            payer_alias: String::new(),
            callback_url: String::new(),
            timeout_ms: TIMEOUT_MS,
            calls_in_flight_max: CALLS_IN_FLIGHT_MAX,
        }
    }
}

/// The merchant's Swish payout credentials: every file and number `[swish]` needs to pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwishMerchant {
    /// `swish.cert_file`.
    pub cert_file: PathBuf,
    /// `swish.key_file`.
    pub key_file: PathBuf,
    /// `swish.root_ca_file`.
    pub root_ca_file: PathBuf,
    /// `swish.signing_key_file`.
    pub signing_key_file: PathBuf,
    /// `swish.signing_cert_serial`, upper-case hexadecimal.
    pub signing_cert_serial: String,
    /// `swish.payer_alias`, 10 digits.
    pub payer_alias: String,
    /// `swish.callback_url`, `https://`.
    pub callback_url: String,
}

/// `[swish]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwishConfig {
    /// `swish.api_base`: `https://`, no trailing `/`.
    pub api_base: String,
    /// The credentials, when all of them are given; `None` when none is.
    pub merchant: Option<SwishMerchant>,
    /// `swish.timeout_ms`, in (0, [`TIMEOUT_MS_MAX`]].
    pub timeout: Duration,
    /// `swish.calls_in_flight_max`, 1..=[`CALLS_IN_FLIGHT_MAX_MAX`].
    pub calls_in_flight_max: usize,
}

impl RawSwish {
    /// Checks the bounds and formats; the credentials are all given or none.
    pub fn validate(&self) -> Result<SwishConfig, Error> {
        let invalid = |key: &str, reason: String| Error::Invalid { key: format!("swish.{key}"), reason };
        let api_base = self.api_base.trim().trim_end_matches('/').to_owned();
        if !api_base.starts_with("https://") || api_base.len() > URL_LEN_MAX || api_base.contains(char::is_whitespace) {
            return Err(invalid("api_base", format!("{:?} is not an https:// URL of at most {URL_LEN_MAX} characters", self.api_base)));
        }
        if self.timeout_ms == 0 || self.timeout_ms > TIMEOUT_MS_MAX {
            return Err(invalid("timeout_ms", format!("{} is not within 1..={TIMEOUT_MS_MAX}", self.timeout_ms)));
        }
        if self.calls_in_flight_max == 0 || self.calls_in_flight_max > CALLS_IN_FLIGHT_MAX_MAX {
            return Err(invalid("calls_in_flight_max", format!("{} is not within 1..={CALLS_IN_FLIGHT_MAX_MAX}", self.calls_in_flight_max)));
        }
        let given = [
            ("cert_file", &self.cert_file),
            ("key_file", &self.key_file),
            ("root_ca_file", &self.root_ca_file),
            ("signing_key_file", &self.signing_key_file),
            ("signing_cert_serial", &self.signing_cert_serial),
            ("payer_alias", &self.payer_alias),
            ("callback_url", &self.callback_url),
        ];
        let missing: Vec<&str> = given.iter().filter(|(_, v)| v.trim().is_empty()).map(|(k, _)| *k).collect();
        let merchant = if missing.len() == given.len() {
            None
        } else if let Some(first) = missing.first() {
            return Err(invalid(first, format!("missing: the [swish] credentials are given all together (also missing: {missing:?})")));
        } else {
            let serial = self.signing_cert_serial.trim().to_ascii_uppercase();
            if serial.len() > SERIAL_HEX_LEN_MAX || !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid("signing_cert_serial", format!("{serial:?} is not at most {SERIAL_HEX_LEN_MAX} hexadecimal digits")));
            }
            // Swish numbers of merchants are 10 digits starting with 123 (Swish for business);
            // payout numbers too (developer.swish.nu, Payout API, `payerAlias`).
            let alias = self.payer_alias.trim();
            if alias.len() != 10 || !alias.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("payer_alias", format!("{alias:?} is not a 10-digit Swish number")));
            }
            // Swish calls back over HTTPS only (Payout API, `callbackUrl`).
            let callback = self.callback_url.trim();
            if !callback.starts_with("https://") || callback.len() > URL_LEN_MAX || callback.contains(char::is_whitespace) {
                return Err(invalid("callback_url", format!("{callback:?} is not an https:// URL of at most {URL_LEN_MAX} characters")));
            }
            Some(SwishMerchant {
                cert_file: PathBuf::from(self.cert_file.trim()),
                key_file: PathBuf::from(self.key_file.trim()),
                root_ca_file: PathBuf::from(self.root_ca_file.trim()),
                signing_key_file: PathBuf::from(self.signing_key_file.trim()),
                signing_cert_serial: serial,
                payer_alias: alias.to_owned(),
                callback_url: callback.to_owned(),
            })
        };
        Ok(SwishConfig {
            api_base,
            merchant,
            timeout: Duration::from_millis(self.timeout_ms),
            calls_in_flight_max: self.calls_in_flight_max as usize,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete() -> RawSwish {
        RawSwish {
            cert_file: "/etc/svea/swish.pem".into(),
            key_file: "/etc/svea/swish.key".into(),
            root_ca_file: "/etc/svea/swish-root.pem".into(),
            signing_key_file: "/etc/svea/swish-signing.key".into(),
            signing_cert_serial: "4f24c03a0295a0b53596240ea8c0f430".into(),
            payer_alias: "1234679304".into(),
            callback_url: "https://svea.example/v1/payouts/swish/callback".into(),
            ..RawSwish::default()
        }
    }

    #[test]
    fn defaults_have_no_merchant_and_the_issues_bounds() {
        let c = RawSwish::default().validate().expect("defaults");
        assert_eq!(c.merchant, None);
        assert_eq!(c.api_base, "https://cpc.getswish.net/swish-cpcapi");
        assert_eq!((c.timeout, c.calls_in_flight_max), (Duration::from_secs(10), 4));
    }

    #[test]
    fn credentials_are_all_or_none_and_checked() {
        let c = complete().validate().expect("complete");
        let m = c.merchant.expect("merchant");
        assert_eq!(m.signing_cert_serial, "4F24C03A0295A0B53596240EA8C0F430");
        let bad = RawSwish { key_file: String::new(), ..complete() };
        assert!(bad.validate().unwrap_err().to_string().contains("swish.key_file"));
        let bad = RawSwish { payer_alias: "070-1234567".into(), ..complete() };
        assert!(bad.validate().unwrap_err().to_string().contains("swish.payer_alias"));
        let bad = RawSwish { callback_url: "http://svea.example/cb".into(), ..complete() };
        assert!(bad.validate().unwrap_err().to_string().contains("swish.callback_url"));
        let bad = RawSwish { signing_cert_serial: "not hex".into(), ..complete() };
        assert!(bad.validate().unwrap_err().to_string().contains("swish.signing_cert_serial"));
        let bad = RawSwish { api_base: "http://cpc.getswish.net".into(), ..complete() };
        assert!(bad.validate().unwrap_err().to_string().contains("swish.api_base"));
        let bad = RawSwish { timeout_ms: 0, ..complete() };
        assert!(bad.validate().unwrap_err().to_string().contains("swish.timeout_ms"));
        let bad = RawSwish { calls_in_flight_max: 65, ..complete() };
        assert!(bad.validate().unwrap_err().to_string().contains("swish.calls_in_flight_max"));
    }
}
