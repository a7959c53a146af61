//! The client of Stripe's API, for one call: create a Checkout Session for a business's top-up
//! (docs.stripe.com/api/checkout/sessions/create), `POST {stripe.api_base}/v1/checkout/sessions`,
//! form-encoded as every Stripe API request is, authenticated with `Authorization: Bearer
//! <secret key>` (docs.stripe.com/api/authentication):
//!
//! - `mode=payment` (a one-time payment), `line_items[0][price_data][currency]=sek`,
//!   `line_items[0][price_data][unit_amount]` (integer, the currency's smallest unit: öre),
//!   `line_items[0][price_data][product_data][name]`, `line_items[0][quantity]=1`;
//! - `success_url` (Stripe puts the session's id in place of `{CHECKOUT_SESSION_ID}`) and
//!   `cancel_url`, both on this node's dashboard;
//! - `client_reference_id` (the business id, "to reconcile the Session with your internal
//!   systems") and `metadata[svea_business_id]`, `metadata[svea_top_up]`, which the
//!   `checkout.session.completed` event carries back (`domain::stripe`).
//!
//! Every request carries an `Idempotency-Key` (docs.stripe.com/api/idempotent_requests): Stripe
//! saves the first answer to a key for at least 24 hours and answers every retry with the same
//! key with it, so a retried top-up (a timeout, a double click, a reload) opens one Checkout
//! Session, never two; the same key with other parameters is refused with an
//! `idempotency_error`. The key is derived from the business and the top-up request's id, so it
//! is the same on every retry of that request and on every node.
//!
//! The answer is the Checkout Session object: svea reads its `id` (`cs_...`) and `url` (the page
//! on Stripe's domain to redirect the business to). An error answer is Stripe's error object
//! (docs.stripe.com/api/errors): `error.type` (`api_error`, `card_error`, `idempotency_error`,
//! `invalid_request_error`), `error.message`, `error.code`.
//!
//! ureq is blocking, so each call runs on tokio's blocking pool under a tokio timeout
//! (`stripe.timeout_ms`, which also bounds the wait for one of `stripe.calls_in_flight_max`
//! slots), exactly as `core/ollama.rs`; ureq's own timeout is the same, so an abandoned call's
//! thread ends by then too. TLS is rustls with the ring provider, trusting the system's
//! certificate authorities and, when `stripe.ca_file` names one, the authorities in that file.

use std::io::Read;

use rustls::pki_types::pem::PemObject;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use svea_config::StripeConfig;
use tokio::sync::Semaphore;

use crate::actors::ActorError;
use crate::domain::stripe::{ChargeRefunded, CheckoutPaid, CheckoutSessionId, Event, METADATA_BUSINESS, METADATA_TOP_UP};
use crate::domain::{BusinessId, Ore};

/// Largest answer read from Stripe: a Checkout Session object is a few kilobytes.
pub const RESPONSE_BYTES_MAX: u64 = 256 * 1024;
/// Longest top-up request id a client may give (it goes into the idempotency key's hash and the
/// session's metadata, whose values Stripe caps at 500 characters).
pub const TOP_UP_REQUEST_LEN_MAX: usize = 100;
/// Characters of Stripe's error message kept (it is logged and may be shown to the business).
const MESSAGE_CHARS_MAX: usize = 200;

/// Why no Checkout Session came back.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StripeCallError {
    /// Unreachable, reset, TLS failure.
    #[error("stripe unreachable: {0}")]
    Connect(String),
    /// No answer (or no free call slot) within `stripe.timeout_ms`.
    #[error("stripe gave no answer within {after:?}")]
    Timeout {
        /// The timeout.
        after: Duration,
    },
    /// The same top-up request was made before with other parameters (another amount): Stripe's
    /// `idempotency_error`.
    #[error("this top-up request was made before with another amount: {message}")]
    IdempotencyConflict {
        /// Stripe's message.
        message: String,
    },
    /// Stripe is overloaded or failing (429, 5xx, `api_error`): try again later.
    #[error("stripe is unavailable (http {status}): {message}")]
    Unavailable {
        /// The status.
        status: u16,
        /// Stripe's message.
        message: String,
    },
    /// Stripe refused the request (a bad key, a bad parameter): svea's configuration or code is
    /// at fault, not the business.
    #[error("stripe refused the request (http {status}, {kind}): {message}")]
    Refused {
        /// The status.
        status: u16,
        /// `error.type`.
        kind: String,
        /// `error.message`.
        message: String,
    },
    /// An answer that is not a Checkout Session with an `id` and a `url`.
    #[error("stripe's answer is not a checkout session: {0}")]
    Unparsable(String),
}

/// Why the client could not be made from `[stripe]`.
#[derive(Debug, thiserror::Error)]
pub enum StripeSetupError {
    /// `stripe.ca_file` could not be read or holds no certificate.
    #[error("stripe.ca_file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// No certificate authority to trust at all.
    #[error("no certificate authority to trust for stripe.api_base: the system has none and stripe.ca_file is unset")]
    NoRoots,
    /// rustls refused the configuration.
    #[error("tls: {0}")]
    Tls(String),
}

/// A top-up a business asked for, before Stripe has heard of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopUpRequest {
    /// Who pays.
    pub business: BusinessId,
    /// How much, öre, within `stripe.top_up_min_sek..=top_up_max_sek`.
    pub amount: Ore,
    /// The request's id: the same on every retry of one top-up (the dashboard's form carries
    /// it; an API client sends it). 1..=100 printable ASCII characters.
    pub request: String,
    /// Where Stripe sends the business after paying (`{CHECKOUT_SESSION_ID}` is filled in).
    pub success_url: String,
    /// Where Stripe sends the business when it gives up.
    pub cancel_url: String,
    /// The line's name on Stripe's page and receipt.
    pub product_name: String,
}

/// A Checkout Session Stripe created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    /// `id`.
    pub id: CheckoutSessionId,
    /// `url`: where the business pays.
    pub url: String,
}

/// The form fields of the metadata `domain::stripe` reads back ([`METADATA_BUSINESS`],
/// [`METADATA_TOP_UP`]).
const METADATA_BUSINESS_FIELD: &str = "metadata[svea_business_id]";
const METADATA_TOP_UP_FIELD: &str = "metadata[svea_top_up]";
const _: () = assert!(METADATA_BUSINESS_FIELD.len() == METADATA_BUSINESS.len() + 10 && METADATA_TOP_UP_FIELD.len() == METADATA_TOP_UP.len() + 10);

/// Whether `request` may be a top-up request id.
pub fn valid_request(request: &str) -> bool {
    (1..=TOP_UP_REQUEST_LEN_MAX).contains(&request.len()) && request.bytes().all(|b| b.is_ascii_graphic())
}

/// The `Idempotency-Key` of a top-up request: the same for every retry of it, on every node, and
/// different for another business's request with the same id (Stripe keys are per account, and
/// one account serves every business). Stripe accepts keys of up to 255 characters.
pub fn idempotency_key(business: &BusinessId, request: &str) -> String {
    let digest = Sha256::new().chain_update(business.as_ref()).chain_update([0u8]).chain_update(request.as_bytes()).finalize();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("svea-top-up-{hex}")
}

/// The form of `POST /v1/checkout/sessions` for `top_up`, in the order it is sent.
pub fn checkout_form(top_up: &TopUpRequest) -> Vec<(&'static str, String)> {
    vec![
        ("mode", "payment".to_owned()),
        ("line_items[0][price_data][currency]", "sek".to_owned()),
        ("line_items[0][price_data][unit_amount]", top_up.amount.as_ore().to_string()),
        ("line_items[0][price_data][product_data][name]", top_up.product_name.clone()),
        ("line_items[0][quantity]", "1".to_owned()),
        ("success_url", top_up.success_url.clone()),
        ("cancel_url", top_up.cancel_url.clone()),
        ("client_reference_id", top_up.business.to_string()),
        (METADATA_BUSINESS_FIELD, top_up.business.to_string()),
        (METADATA_TOP_UP_FIELD, top_up.request.clone()),
    ]
}

/// A client of Stripe's API under one secret key.
pub struct StripeClient {
    agent: ureq::Agent,
    endpoint: String,
    secret_key: String,
    timeout: Duration,
    slots: Arc<Semaphore>,
}

impl std::fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeClient").field("endpoint", &self.endpoint).field("secret_key", &"<redacted>").finish()
    }
}

impl StripeClient {
    /// The client `[stripe]` describes; `None` when no secret key is configured.
    pub fn from_config(config: &StripeConfig) -> Result<Option<StripeClient>, StripeSetupError> {
        if config.secret_key.is_empty() {
            return Ok(None);
        }
        let tls = tls_config(config.ca_file.as_deref())?;
        let agent = ureq::AgentBuilder::new().timeout(config.timeout).redirects(0).tls_config(Arc::new(tls)).build();
        Ok(Some(StripeClient {
            agent,
            endpoint: format!("{}/v1/checkout/sessions", config.api_base),
            secret_key: config.secret_key.clone(),
            timeout: config.timeout,
            slots: Arc::new(Semaphore::new(config.calls_in_flight_max)),
        }))
    }

    /// Creates the Checkout Session of `top_up` (or, for a retry, gets the one its first
    /// attempt created), within `stripe.timeout_ms` in all.
    pub async fn create_checkout_session(&self, top_up: &TopUpRequest) -> Result<CheckoutSession, StripeCallError> {
        let form = checkout_form(top_up);
        let key = idempotency_key(&top_up.business, &top_up.request);
        let call = async {
            let slot = self.slots.clone().acquire_owned().await.map_err(|_| StripeCallError::Timeout { after: self.timeout })?;
            let (agent, endpoint, auth) = (self.agent.clone(), self.endpoint.clone(), format!("Bearer {}", self.secret_key));
            let answer = tokio::task::spawn_blocking(move || {
                // The slot is held until the call ends, even if the caller stopped waiting.
                let _slot = slot;
                post(&agent, &endpoint, &auth, &key, &form)
            });
            answer.await.map_err(|e| StripeCallError::Connect(format!("call task failed: {e}")))?
        };
        tokio::time::timeout(self.timeout, call).await.map_err(|_| StripeCallError::Timeout { after: self.timeout })?
    }
}

/// rustls (ring) trusting the system's authorities and those of `ca_file`.
fn tls_config(ca_file: Option<&std::path::Path>) -> Result<rustls::ClientConfig, StripeSetupError> {
    let mut roots = rustls::RootCertStore::empty();
    // A system without a certificate bundle loads nothing here; the extra file may still do.
    let system = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(system.certs);
    if let Some(path) = ca_file {
        let shown = path.display().to_string();
        let pem = std::fs::read(path).map_err(|e| StripeSetupError::CaFile { path: shown.clone(), reason: e.to_string() })?;
        let mut certs = Vec::new();
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
            certs.push(cert.map_err(|e| StripeSetupError::CaFile { path: shown.clone(), reason: e.to_string() })?);
        }
        let (extra, _) = roots.add_parsable_certificates(certs);
        if extra == 0 {
            return Err(StripeSetupError::CaFile { path: shown, reason: "no certificate in it".into() });
        }
    } else if added == 0 {
        return Err(StripeSetupError::NoRoots);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StripeSetupError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// One blocking call.
fn post(agent: &ureq::Agent, endpoint: &str, auth: &str, key: &str, form: &[(&'static str, String)]) -> Result<CheckoutSession, StripeCallError> {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let request = agent.post(endpoint).set("Authorization", auth).set("Idempotency-Key", key);
    let (status, body) = match request.send_form(&pairs) {
        Ok(r) => {
            let status = r.status();
            (status, read_body(r)?)
        }
        Err(ureq::Error::Status(status, r)) => (status, read_body(r)?),
        Err(ureq::Error::Transport(t)) => return Err(transport_error(&t)),
    };
    if (200..300).contains(&status) {
        return parse_session(&body);
    }
    Err(error_answer(status, &body))
}

fn read_body(response: ureq::Response) -> Result<String, StripeCallError> {
    let mut bytes = Vec::new();
    response.into_reader().take(RESPONSE_BYTES_MAX + 1).read_to_end(&mut bytes).map_err(|e| StripeCallError::Connect(e.to_string()))?;
    if bytes.len() as u64 > RESPONSE_BYTES_MAX {
        return Err(StripeCallError::Unparsable(format!("answer longer than {RESPONSE_BYTES_MAX} bytes")));
    }
    String::from_utf8(bytes).map_err(|_| StripeCallError::Unparsable("answer is not utf-8".into()))
}

fn transport_error(t: &ureq::Transport) -> StripeCallError {
    let io = std::error::Error::source(t).and_then(|s| s.downcast_ref::<std::io::Error>());
    match io.map(std::io::Error::kind) {
        Some(std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) => StripeCallError::Timeout { after: Duration::ZERO },
        _ => StripeCallError::Connect(t.to_string()),
    }
}

#[derive(Deserialize)]
struct SessionAnswer {
    id: String,
    url: Option<String>,
}

/// The Checkout Session in a 2xx answer.
pub fn parse_session(body: &str) -> Result<CheckoutSession, StripeCallError> {
    let s: SessionAnswer = serde_json::from_str(body).map_err(|e| StripeCallError::Unparsable(e.to_string()))?;
    let id = CheckoutSessionId::parse(&s.id).map_err(|e| StripeCallError::Unparsable(e.to_string()))?;
    let url = s.url.filter(|u| u.starts_with("https://") && u.len() <= 2048).ok_or_else(|| StripeCallError::Unparsable("no https url".into()))?;
    Ok(CheckoutSession { id, url })
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: ErrorObject,
}

#[derive(Deserialize)]
struct ErrorObject {
    #[serde(rename = "type")]
    kind: String,
    message: Option<String>,
}

/// The error of a non-2xx answer.
pub fn error_answer(status: u16, body: &str) -> StripeCallError {
    let parsed: Option<ErrorAnswer> = serde_json::from_str(body).ok();
    let (kind, message) = match parsed {
        Some(a) => (a.error.kind.chars().take(40).collect::<String>(), a.error.message.unwrap_or_default().chars().take(MESSAGE_CHARS_MAX).collect()),
        None => (String::new(), body.chars().take(MESSAGE_CHARS_MAX).collect()),
    };
    match (status, kind.as_str()) {
        (_, "idempotency_error") => StripeCallError::IdempotencyConflict { message },
        (429, _) | (500..=599, _) | (_, "api_error") => StripeCallError::Unavailable { status, message },
        _ => StripeCallError::Refused { status, kind, message },
    }
}

/// Why a top-up could not be started.
#[derive(Debug, thiserror::Error)]
pub enum TopUpError {
    /// This node has no Stripe secret key (`[stripe]`): card top-ups are off.
    #[error("card top-ups are not configured on this node")]
    NotConfigured,
    /// The amount is outside `stripe.top_up_min_sek..=top_up_max_sek`.
    #[error("a top-up must be {min} to {max}, got {amount}")]
    Amount {
        /// What was asked.
        amount: Ore,
        /// `stripe.top_up_min_sek`.
        min: Ore,
        /// `stripe.top_up_max_sek`.
        max: Ore,
    },
    /// The request id is not 1..=100 printable ASCII characters.
    #[error("the top-up request id must be 1 to {TOP_UP_REQUEST_LEN_MAX} printable ASCII characters")]
    Request,
    /// Stripe gave no Checkout Session.
    #[error(transparent)]
    Stripe(#[from] StripeCallError),
}

impl super::NodeHandle {
    /// Starts a card top-up: checks it against `[stripe]` and asks Stripe for its Checkout
    /// Session (the same one again for a retry of the same request). Nothing is credited here:
    /// only the `checkout.session.completed` webhook credits the budget.
    pub async fn start_card_top_up(&self, top_up: TopUpRequest) -> Result<CheckoutSession, TopUpError> {
        let client = self.stripe.as_ref().ok_or(TopUpError::NotConfigured)?;
        let c = &self.config().stripe;
        let (min, max) = (Ore::from_ore(c.top_up_min_ore), Ore::from_ore(c.top_up_max_ore));
        if top_up.amount < min || top_up.amount > max {
            return Err(TopUpError::Amount { amount: top_up.amount, min, max });
        }
        if !valid_request(&top_up.request) {
            return Err(TopUpError::Request);
        }
        let session = client.create_checkout_session(&top_up).await;
        match &session {
            Ok(s) => tracing::info!(business = %top_up.business, amount_ore = top_up.amount.as_ore(), checkout_session = %s.id, "card top-up started"),
            Err(e) => tracing::warn!(business = %top_up.business, amount_ore = top_up.amount.as_ore(), error = %e, "card top-up not started"),
        }
        Ok(session?)
    }

    /// Whether card top-ups go through Stripe on this node.
    pub fn card_top_ups(&self) -> bool {
        self.stripe.is_some()
    }
}

impl super::NodeHandle {
    /// Credits a paid Checkout Session to its business's budget, once: `Ok(false)` when this
    /// event or this session was recorded before (a replay, or a second event of one payment).
    pub async fn record_card_top_up(&self, event: &Event, paid: &CheckoutPaid) -> Result<bool, ActorError> {
        let top_up = crate::core::funding::TopUp {
            business: paid.business.clone(),
            event_id: crate::core::funding::external_ref("stripe event", event.id.as_str())?,
            checkout_session: Some(crate::core::funding::external_ref("checkout session", paid.session.as_str())?),
            payment_ref: Some(crate::core::funding::external_ref("payment intent", paid.payment.as_str())?),
            amount: paid.amount,
            at_ms: event.created_s.saturating_mul(1000),
        };
        let outcome = crate::core::funding::record_top_up(&self.registry, top_up).await?;
        Ok(matches!(outcome, crate::actors::business::TopUpOutcome::Recorded { .. }))
    }

    /// Debits what a refund adds to the payment's refunded total, once per event.
    pub async fn record_card_refund(&self, event: &Event, refund: &ChargeRefunded) -> Result<bool, ActorError> {
        let r = crate::core::funding::TopUpRefund {
            event_id: crate::core::funding::external_ref("stripe event", event.id.as_str())?,
            payment_ref: crate::core::funding::external_ref("payment intent", refund.payment.as_str())?,
            refunded_total: refund.refunded_total,
            at_ms: event.created_s.saturating_mul(1000),
        };
        let (_, outcome) = crate::core::funding::record_top_up_refund(&self.cluster, &self.registry, r).await?;
        Ok(matches!(outcome, crate::actors::business::TopUpOutcome::Recorded { .. }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top_up() -> TopUpRequest {
        TopUpRequest {
            business: "b_0123456789abcdef0123456789abcdef".parse().unwrap(),
            amount: Ore::from_ore(50_000),
            request: "r-1".into(),
            success_url: "https://svea.example/business/top-up/done?session_id={CHECKOUT_SESSION_ID}".into(),
            cancel_url: "https://svea.example/business/top-up/cancelled".into(),
            product_name: "svea budget".into(),
        }
    }

    #[test]
    fn the_form_asks_one_sek_line_in_ore_and_names_the_business() {
        let form = checkout_form(&top_up());
        let get = |k: &str| form.iter().find(|(key, _)| *key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("mode"), Some("payment"));
        assert_eq!(get("line_items[0][price_data][currency]"), Some("sek"));
        assert_eq!(get("line_items[0][price_data][unit_amount]"), Some("50000"));
        assert_eq!(get("line_items[0][quantity]"), Some("1"));
        assert_eq!(get("client_reference_id"), Some("b_0123456789abcdef0123456789abcdef"));
        assert_eq!(get("metadata[svea_business_id]"), Some("b_0123456789abcdef0123456789abcdef"));
        assert_eq!(get("metadata[svea_top_up]"), Some("r-1"));
    }

    #[test]
    fn the_idempotency_key_follows_the_business_and_the_request() {
        let a: BusinessId = "b_0123456789abcdef0123456789abcdef".parse().unwrap();
        let b: BusinessId = "b_ffffffffffffffffffffffffffffffff".parse().unwrap();
        assert_eq!(idempotency_key(&a, "r-1"), idempotency_key(&a, "r-1"));
        assert_ne!(idempotency_key(&a, "r-1"), idempotency_key(&a, "r-2"));
        assert_ne!(idempotency_key(&a, "r-1"), idempotency_key(&b, "r-1"));
        assert!(idempotency_key(&a, "r-1").len() <= 255);
        assert!(valid_request("r-1") && !valid_request("") && !valid_request("a b") && !valid_request(&"x".repeat(101)));
    }

    #[test]
    fn stripes_answers_and_errors_are_read() {
        let s = parse_session(r#"{"id":"cs_test_a1","object":"checkout.session","url":"https://checkout.stripe.com/c/pay/cs_test_a1"}"#).unwrap();
        assert_eq!((s.id.as_str(), s.url.as_str()), ("cs_test_a1", "https://checkout.stripe.com/c/pay/cs_test_a1"));
        assert!(matches!(parse_session(r#"{"id":"cs_test_a1","url":null}"#), Err(StripeCallError::Unparsable(_))));
        assert!(matches!(parse_session(r#"{"id":"cs_test_a1","url":"javascript:alert(1)"}"#), Err(StripeCallError::Unparsable(_))));
        let idem = r#"{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters they were first used with."}}"#;
        assert!(matches!(error_answer(400, idem), StripeCallError::IdempotencyConflict { .. }));
        let auth = r#"{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_****"}}"#;
        assert!(matches!(error_answer(401, auth), StripeCallError::Refused { status: 401, .. }));
        assert!(matches!(error_answer(503, "<html>"), StripeCallError::Unavailable { status: 503, .. }));
        assert!(matches!(error_answer(429, r#"{"error":{"type":"invalid_request_error"}}"#), StripeCallError::Unavailable { .. }));
    }
}
