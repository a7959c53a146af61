//! The `swish` payout rail: Swish's Payout API over mutual TLS, each instruction signed with the
//! merchant's payout signing key.
//!
//! What Swish documents, and where (Swish developer documentation: the Payout API reference,
//! developer.swish.nu/api/payouts/v1; the guide "Make a payout",
//! developer.swish.nu/documentation/guides/make-a-payout; the MSS user guide v1.6, sections 9
//! "Create payout request" and 10 "Retrieve payout result"):
//! - Create: `POST {api}/api/v1/payouts` with `{"payload": {...}, "callbackUrl": ..., "signature":
//!   ...}`; `201 Created` with a `Location` of the payout. Issue 21 names `PUT
//!   /api/v1/payouts/{instructionUUID}` (the form of Swish's *payment* and *refund* APIs, v2);
//!   the Payout API documents `POST /api/v1/payouts` with the id inside the payload, so that is
//!   what svea sends. The instruction UUID still identifies the payout: Swish refuses a second
//!   create with the same `payoutInstructionUUID` (`409`, or `422` with `RP09`, "the given
//!   instruction UUID is not available"), and svea then asks what became of the first.
//! - Retrieve: `GET {api}/api/v1/payouts/{payoutInstructionUUID}`: the payout object, whose
//!   `status` is `CREATED`, `DEBITED` (money left the merchant's account), `PAID` or `ERROR`
//!   (with `errorCode` and `errorMessage`).
//! - Callback: Swish posts the same payout object to `callbackUrl` when the payout settles
//!   (`http/swish.rs` trusts only its instruction id and asks `GET` for the rest).
//! - Signature: the SHA-512 hash of the payload's JSON bytes, signed with the signing
//!   certificate's RSA key (SHA512withRSA, PKCS#1 v1.5), base64. That is a hash of the hash:
//!   Swish's guide signs the digest with a SHA-512 signature, as both maintained clients do
//!   (`getswish` 0.4.1 `_sign_payload`, and SwishApi's `PayoutRequestEnvelope`, which notes
//!   "hashing is done twice ... This is required"). The body carries the exact bytes signed.
//!
//! Calls are blocking (ureq over rustls with ring); the payout driver runs them on tokio's
//! blocking pool under `payouts.call_timeout_ms`. Each waits at most `swish.timeout_ms` (ureq's
//! own timeout, and the wait for one of `swish.calls_in_flight_max` call slots), so an abandoned
//! call's thread ends by then too and never more calls are in flight than the limit.

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA512};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use svea_config::SwishConfig;

use super::rail::{PayoutId, PayoutOrder, PayoutRail, RailError, RailState};

/// Largest answer read from Swish: a payout object is well under 2 KiB.
pub const RESPONSE_BYTES_MAX: u64 = 64 * 1024;
/// Longest `message` Swish accepts (Payout API: "max 50 characters").
pub const MESSAGE_CHARS_MAX: usize = 50;
/// Longest `payerPaymentReference` Swish accepts (Payout API: 1 to 35 characters).
pub const PAYER_REFERENCE_CHARS_MAX: usize = 35;
const _: () = assert!(super::rail::PAYOUT_ID_LEN <= PAYER_REFERENCE_CHARS_MAX);

/// Why the Swish rail could not be built from `[swish]`.
#[derive(Debug, thiserror::Error)]
pub enum SwishSetupError {
    /// `[swish]` has no credentials.
    #[error("payouts.rail = \"swish\" needs the [swish] credentials (cert_file, key_file, root_ca_file, signing_key_file, signing_cert_serial, payer_alias, callback_url)")]
    NoMerchant,
    /// A file could not be read or holds no usable PEM.
    #[error("swish.{key} ({path}): {reason}")]
    File {
        /// The config key.
        key: &'static str,
        /// The file.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// rustls refused the certificates or key.
    #[error("swish TLS setup: {0}")]
    Tls(String),
}

/// The payout object's fields svea reads (Payout API v1, "Payout object"); Swish sends more
/// (`paymentReference`, `payerAlias`, `payeeAlias`, `amount`, `dateCreated`, `datePaid`, ...),
/// which are ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayoutObject {
    /// `payoutInstructionUUID`: the id svea gave.
    #[serde(rename = "payoutInstructionUUID")]
    pub payout_instruction_uuid: Option<String>,
    /// `status`: `CREATED`, `DEBITED`, `PAID` or `ERROR`.
    pub status: Option<String>,
    /// `errorCode` when `status` is `ERROR`.
    pub error_code: Option<String>,
    /// `errorMessage` when `status` is `ERROR`.
    pub error_message: Option<String>,
}

/// One entry of Swish's error answer (`422`, `400`): `[{"errorCode": "...", "errorMessage": "..."}]`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SwishErrorEntry {
    error_code: Option<String>,
    error_message: Option<String>,
}

/// The payload of a payout instruction, in the order Swish's reference lists its fields. The
/// exact bytes of its JSON are what is signed and sent.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    /// "Unique identifier of the payout, 32 hexadecimal characters (a UUID without dashes), upper
    /// case": the ledger's [`PayoutId`].
    #[serde(rename = "payoutInstructionUUID")]
    payout_instruction_uuid: &'a str,
    /// "Merchant's reference for the payout, 1-35 characters": the same id (it is what the
    /// merchant's bank statement shows beside the payout).
    payer_payment_reference: &'a str,
    /// "The serial number of the signing certificate, in hexadecimal".
    signing_certificate_serial_number: &'a str,
    /// "The Swish number of the merchant making the payout".
    payer_alias: &'a str,
    /// "The mobile phone number of the person receiving the payout": `46` and the national
    /// number without its leading zero ([`crate::domain::payee`]).
    payee_alias: &'a str,
    /// "The social security number of the person receiving the payout", 12 digits; Swish checks
    /// it belongs to the owner of `payeeAlias`.
    #[serde(rename = "payeeSSN")]
    payee_ssn: &'a str,
    /// "The amount to be paid, in kronor with at most two decimals and a period": `"123.45"`.
    amount: String,
    /// "The currency to use. The only supported value is SEK".
    currency: &'static str,
    /// "PAYOUT" (the only payout type).
    payout_type: &'static str,
    /// "Date and time the instruction was created, ISO 8601": when the ledger started the
    /// payout, so every retry of the same id sends the same payload.
    instruction_date: String,
    /// "Merchant supplied message about the payout, max 50 characters".
    message: String,
}

/// Call slots: at most `max` calls in flight, a caller waits for one up to a deadline.
struct Slots {
    used: Mutex<usize>,
    freed: Condvar,
    max: usize,
}

struct Slot<'a>(&'a Slots);

impl Slots {
    fn take(&self, within: Duration) -> Option<Slot<'_>> {
        let deadline = Instant::now() + within;
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        while *used >= self.max {
            let left = deadline.checked_duration_since(Instant::now())?;
            used = self.freed.wait_timeout(used, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        *used += 1;
        Some(Slot(self))
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut used = self.0.used.lock().unwrap_or_else(|e| e.into_inner());
        *used -= 1;
        self.0.freed.notify_one();
    }
}

/// The Swish payout rail.
pub struct Swish {
    agent: ureq::Agent,
    payouts_url: String,
    signer: RsaKeyPair,
    rng: SystemRandom,
    serial: String,
    payer_alias: String,
    callback_url: String,
    timeout: Duration,
    slots: Slots,
}

impl std::fmt::Debug for Swish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Swish").field("payouts_url", &self.payouts_url).field("payer_alias", &self.payer_alias).finish_non_exhaustive()
    }
}

impl Swish {
    /// The rail `[swish]` describes: reads the merchant's certificate chain and key, Swish's root
    /// and the signing key.
    pub fn new(config: &SwishConfig) -> Result<Swish, SwishSetupError> {
        let m = config.merchant.as_ref().ok_or(SwishSetupError::NoMerchant)?;
        let file_error = |key: &'static str, path: &Path, reason: String| SwishSetupError::File { key, path: path.display().to_string(), reason };
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&m.cert_file)
            .and_then(|certs| certs.collect::<Result<_, _>>())
            .map_err(|e| file_error("cert_file", &m.cert_file, e.to_string()))?;
        if chain.is_empty() {
            return Err(file_error("cert_file", &m.cert_file, "no certificate in it".into()));
        }
        let key = PrivateKeyDer::from_pem_file(&m.key_file).map_err(|e| file_error("key_file", &m.key_file, e.to_string()))?;
        let mut roots = rustls::RootCertStore::empty();
        let root_certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&m.root_ca_file)
            .and_then(|certs| certs.collect::<Result<_, _>>())
            .map_err(|e| file_error("root_ca_file", &m.root_ca_file, e.to_string()))?;
        for cert in root_certs {
            roots.add(cert).map_err(|e| file_error("root_ca_file", &m.root_ca_file, e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(file_error("root_ca_file", &m.root_ca_file, "no certificate in it".into()));
        }
        let signer = match PrivateKeyDer::from_pem_file(&m.signing_key_file) {
            Ok(PrivateKeyDer::Pkcs1(der)) => RsaKeyPair::from_der(der.secret_pkcs1_der()),
            Ok(PrivateKeyDer::Pkcs8(der)) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()),
            Ok(_) => return Err(file_error("signing_key_file", &m.signing_key_file, "not an RSA key".into())),
            Err(e) => return Err(file_error("signing_key_file", &m.signing_key_file, e.to_string())),
        }
        .map_err(|e| file_error("signing_key_file", &m.signing_key_file, format!("unusable RSA key: {e}")))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| SwishSetupError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| SwishSetupError::Tls(e.to_string()))?;
        let agent = ureq::AgentBuilder::new().tls_config(Arc::new(tls)).timeout(config.timeout).redirects(0).build();
        Ok(Swish {
            agent,
            payouts_url: format!("{}/api/v1/payouts", config.api_base),
            signer,
            rng: SystemRandom::new(),
            serial: m.signing_cert_serial.clone(),
            payer_alias: m.payer_alias.clone(),
            callback_url: m.callback_url.clone(),
            timeout: config.timeout,
            slots: Slots { used: Mutex::new(0), freed: Condvar::new(), max: config.calls_in_flight_max },
        })
    }

    /// The body of the create call for `order`: the payload's exact bytes, signed.
    pub fn create_body(&self, order: &PayoutOrder) -> Result<String, RailError> {
        let instructed = chrono::DateTime::from_timestamp_millis(order.instructed_ms)
            .ok_or_else(|| RailError::Unexpected(format!("instruction time {} out of range", order.instructed_ms)))?;
        let payload = Payload {
            payout_instruction_uuid: order.id.as_str(),
            payer_payment_reference: order.id.as_str(),
            signing_certificate_serial_number: &self.serial,
            payer_alias: &self.payer_alias,
            payee_alias: &order.payee.alias,
            payee_ssn: &order.payee.ssn,
            amount: order.amount.to_sek_string(),
            currency: "SEK",
            payout_type: "PAYOUT",
            instruction_date: instructed.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            message: order.message.chars().take(MESSAGE_CHARS_MAX).collect(),
        };
        let payload = serde_json::to_string(&payload).map_err(|e| RailError::Unexpected(e.to_string()))?;
        let signature = self.sign(payload.as_bytes())?;
        // `{"payload": ..., "callbackUrl": ..., "signature": ...}` with the payload's exact
        // bytes, the ones signed (callbackUrl: "URL that Swish will use to notify the caller
        // about the result; HTTPS"; signature: base64 of the signature, see `sign`).
        let quoted = |s: &str| serde_json::to_string(s).map_err(|e| RailError::Unexpected(e.to_string()));
        Ok(format!(r#"{{"payload":{payload},"callbackUrl":{},"signature":{}}}"#, quoted(&self.callback_url)?, quoted(&signature)?))
    }

    /// Base64 of SHA512withRSA over the SHA-512 digest of `payload` (see the module docs).
    fn sign(&self, payload: &[u8]) -> Result<String, RailError> {
        let digest = ring::digest::digest(&ring::digest::SHA512, payload);
        let mut signature = vec![0u8; self.signer.public().modulus_len()];
        self.signer
            .sign(&RSA_PKCS1_SHA512, &self.rng, digest.as_ref(), &mut signature)
            .map_err(|_| RailError::Unexpected("payout signing failed".into()))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(signature))
    }

    fn slot(&self) -> Result<Slot<'_>, RailError> {
        self.slots.take(self.timeout).ok_or(RailError::Timeout)
    }

    /// One call: the status and the body (bounded), or why there was no answer.
    fn call(&self, request: ureq::Request, body: Option<&str>) -> Result<(u16, String), RailError> {
        let _slot = self.slot()?;
        let answer = match body {
            Some(b) => request.set("Content-Type", "application/json").send_string(b),
            None => request.call(),
        };
        let response = match answer {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(ureq::Error::Transport(t)) => return Err(transport_error(&t)),
        };
        let status = response.status();
        let mut bytes = Vec::new();
        response.into_reader().take(RESPONSE_BYTES_MAX + 1).read_to_end(&mut bytes).map_err(|e| io_error(&e))?;
        if bytes.len() as u64 > RESPONSE_BYTES_MAX {
            return Err(RailError::Unexpected(format!("answer longer than {RESPONSE_BYTES_MAX} bytes")));
        }
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    }
}

impl PayoutRail for Swish {
    fn name(&self) -> &'static str {
        "swish"
    }

    fn send(&self, order: &PayoutOrder) -> Result<RailState, RailError> {
        let body = self.create_body(order)?;
        let (status, text) = self.call(self.agent.post(&self.payouts_url), Some(&body))?;
        match status {
            // "201 Created: the payout request was successfully created" (Payout API).
            200 | 201 => Ok(RailState::InFlight),
            // The id was used before: this is a retry of an instruction Swish has. Ask about it.
            409 => self.status(&order.id),
            422 => {
                let entries: Vec<SwishErrorEntry> = serde_json::from_str(&text).unwrap_or_default();
                let first = entries.into_iter().next();
                let code = first.as_ref().and_then(|e| e.error_code.clone()).unwrap_or_default();
                if code == "RP09" {
                    return self.status(&order.id);
                }
                let message = first.and_then(|e| e.error_message).unwrap_or_default();
                Ok(failed(&code, &message))
            }
            // 400 (malformed), 401/403 (certificate), 415, 429, 5xx: svea's or Swish's problem,
            // not the customer's. The payout stays in flight and is sent again with the same id.
            other => Err(RailError::Unexpected(format!("create answered http {other}: {}", excerpt(&text)))),
        }
    }

    fn status(&self, id: &PayoutId) -> Result<RailState, RailError> {
        let url = format!("{}/{}", self.payouts_url, id.as_str());
        let (status, text) = self.call(self.agent.get(&url), None)?;
        if status != 200 {
            return Err(RailError::Unexpected(format!("retrieve answered http {status}: {}", excerpt(&text))));
        }
        let object: PayoutObject = serde_json::from_str(&text).map_err(|e| RailError::Unexpected(format!("payout object unparsable: {e}")))?;
        if object.payout_instruction_uuid.as_deref() != Some(id.as_str()) {
            return Err(RailError::Unexpected("payout object is about another instruction".into()));
        }
        state_of(&object)
    }
}

/// What a payout object's `status` says about the payout.
pub fn state_of(object: &PayoutObject) -> Result<RailState, RailError> {
    match object.status.as_deref() {
        Some("CREATED") | Some("DEBITED") => Ok(RailState::InFlight),
        Some("PAID") => Ok(RailState::Paid),
        Some("ERROR") => Ok(failed(object.error_code.as_deref().unwrap_or(""), object.error_message.as_deref().unwrap_or(""))),
        other => Err(RailError::Unexpected(format!("payout status {:?} is not documented", other.map(excerpt)))),
    }
}

/// A refusal with a reason a customer understands. The codes are Swish's (Payout API, "Error
/// codes"); an unknown one keeps Swish's own message, cut short.
pub fn failed(code: &str, message: &str) -> RailState {
    let reason = match code {
        "ACMT07" | "ACMT01" | "BE18" => "Numret är inte kopplat till Swish. Kontrollera ditt Swishnummer.",
        "VR01" | "VR02" | "BE22" | "RF02" => "Personnumret hör inte till Swishnumret. Kontrollera dina uppgifter.",
        "AM02" => "Beloppet är för stort för en Swish-utbetalning.",
        "AM06" => "Beloppet är för litet för en Swish-utbetalning.",
        "RF07" | "RF08" => "Din bank avvisade utbetalningen.",
        "FF10" | "TM01" | "DS24" | "BANKIDCL" => "Swish eller banken kunde inte genomföra utbetalningen just nu.",
        _ if message.is_empty() => "Swish kunde inte genomföra utbetalningen.",
        _ => return RailState::Failed { code: excerpt(code), reason: format!("Swish: {}", excerpt(message)) },
    };
    RailState::Failed { code: if code.is_empty() { "ERROR".into() } else { excerpt(code) }, reason: reason.to_owned() }
}

/// At most 80 characters of something Swish said (it is stored and shown).
fn excerpt(text: &str) -> String {
    text.chars().take(80).collect()
}

fn io_error(e: &std::io::Error) -> RailError {
    match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => RailError::Timeout,
        _ => RailError::Connect(e.to_string()),
    }
}

fn transport_error(t: &ureq::Transport) -> RailError {
    match std::error::Error::source(t).and_then(|s| s.downcast_ref::<std::io::Error>()) {
        Some(io) => io_error(io),
        None => RailError::Connect(t.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(status: &str, code: Option<&str>) -> PayoutObject {
        PayoutObject {
            payout_instruction_uuid: Some("0123456789ABCDEF0123456789ABCDEF".into()),
            status: Some(status.into()),
            error_code: code.map(str::to_owned),
            error_message: code.map(|_| "Payee not Enrolled".to_owned()),
        }
    }

    #[test]
    fn payout_statuses_map_to_rail_states() {
        assert_eq!(state_of(&object("CREATED", None)).unwrap(), RailState::InFlight);
        assert_eq!(state_of(&object("DEBITED", None)).unwrap(), RailState::InFlight);
        assert_eq!(state_of(&object("PAID", None)).unwrap(), RailState::Paid);
        match state_of(&object("ERROR", Some("ACMT07"))).unwrap() {
            RailState::Failed { code, reason } => {
                assert_eq!(code, "ACMT07");
                assert!(reason.contains("Swishnummer"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(state_of(&object("SOMETHING", None)).is_err());
    }

    #[test]
    fn an_unknown_code_keeps_swishs_words_cut_short() {
        match failed("XX99", &"x".repeat(500)) {
            RailState::Failed { code, reason } => {
                assert_eq!(code, "XX99");
                assert!(reason.starts_with("Swish: ") && reason.len() <= 90);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn call_slots_are_bounded_and_a_full_house_times_out() {
        let slots = Slots { used: Mutex::new(0), freed: Condvar::new(), max: 2 };
        let a = slots.take(Duration::from_millis(1)).expect("first");
        let _b = slots.take(Duration::from_millis(1)).expect("second");
        assert!(slots.take(Duration::from_millis(20)).is_none());
        drop(a);
        assert!(slots.take(Duration::from_millis(1)).is_some());
    }
}
