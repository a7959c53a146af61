//! A fake Stripe for the tests: an HTTPS server on loopback (a certificate from `svea certs
//! --https`, whose CA the node trusts through `stripe.ca_file`) that speaks the part of Stripe's
//! API svea uses, as Stripe documents it:
//!
//! - `POST /v1/checkout/sessions` (docs.stripe.com/api/checkout/sessions/create): checks
//!   `Authorization: Bearer <secret key>` (401 `invalid_request_error` otherwise, like Stripe),
//!   the form fields svea must send (400 `invalid_request_error` naming the `param`), and
//!   `Idempotency-Key` (docs.stripe.com/api/idempotent_requests): the same key with the same
//!   parameters answers the first answer again (with `Idempotent-Replayed: true`), the same key
//!   with other parameters is refused 400 `idempotency_error`. It answers a Checkout Session
//!   object whose `url` is this server's page for it.
//! - "paying" and "refunding": the test asks, and the fake sends what Stripe would to the node's
//!   webhook, `checkout.session.completed` / `charge.refunded` events signed the way Stripe signs
//!   (`Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under whsec_...>`,
//!   docs.stripe.com/webhooks), computed here independently of svea's code.
//!
//! Every object it answers or sends is kept ([`FakeStripe::objects`]) so a test can validate them
//! against Stripe's published OpenAPI description (`tests/fixtures/stripe/schemas.json`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use rustls::pki_types::pem::PemObject;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::harness::{free_port, svea_cli};

/// The fake's secret API key (test mode, as the node's config names it).
pub const SECRET_KEY: &str = "sk_test_51FakeStripeSecretKey0123456789";
/// The webhook endpoint's signing secret.
pub const WEBHOOK_SECRET: &str = "whsec_FakeStripeWebhookSecret0123456789";

/// One Checkout Session the fake created.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub business: String,
    pub amount: i64,
    pub payment_intent: String,
    pub form: BTreeMap<String, String>,
}

#[derive(Default)]
struct State {
    sessions: BTreeMap<String, Session>,
    /// Idempotency-Key -> (the form it was first used with, the answer's status and body).
    keys: BTreeMap<String, (BTreeMap<String, String>, u16, String)>,
    /// Every object answered or sent, with its schema name.
    objects: Vec<(String, Value)>,
    /// Calls of `POST /v1/checkout/sessions` received.
    creates: u64,
}

pub struct FakeStripe {
    /// `https://127.0.0.1:<port>`: the node's `stripe.api_base`.
    pub url: String,
    /// The CA the node must trust (`stripe.ca_file`).
    pub ca_file: PathBuf,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    next: Arc<AtomicU64>,
}

impl FakeStripe {
    /// Starts the fake, its certificates made under `dir`.
    pub fn start(dir: &Path) -> FakeStripe {
        let out = dir.join("fake-stripe-tls");
        let out_s = out.to_str().expect("utf-8 path").to_owned();
        let (code, _, err) = svea_cli(&["certs", "--out", &out_s, "--nodes", "stockholm", "--https", "127.0.0.1,localhost"], &[]);
        assert_eq!(code, Some(0), "svea certs --https: {err}");
        let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_file_iter(out.join("stockholm-https.pem")).expect("cert").map(|c| c.expect("cert")).collect();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(out.join("stockholm-https.key")).expect("key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("tls versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server cert");
        let config = Arc::new(config);
        let port = free_port();
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind fake stripe");
        listener.set_nonblocking(true).expect("nonblocking");
        let fake = FakeStripe {
            url: format!("https://127.0.0.1:{port}"),
            ca_file: out.join("https-ca.pem"),
            state: Arc::default(),
            stop: Arc::default(),
            next: Arc::new(AtomicU64::new(1)),
        };
        let (state, stop, next, base) = (fake.state.clone(), fake.stop.clone(), fake.next.clone(), fake.url.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((tcp, _)) => {
                        let (config, state, next, base) = (config.clone(), state.clone(), next.clone(), base.clone());
                        std::thread::spawn(move || {
                            let _ = tcp.set_nonblocking(false);
                            let _ = tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)));
                            let Ok(conn) = rustls::ServerConnection::new(config) else { return };
                            let mut tls = rustls::StreamOwned::new(conn, tcp);
                            serve(&mut tls, &state, &next, &base);
                        });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(std::time::Duration::from_millis(5)),
                    Err(_) => return,
                }
            }
        });
        fake
    }

    /// The node's `[stripe]` overrides for this fake.
    pub fn overrides(&self) -> Vec<(&'static str, String)> {
        vec![
            ("stripe.secret_key", SECRET_KEY.to_owned()),
            ("stripe.webhook_secret", WEBHOOK_SECRET.to_owned()),
            ("stripe.api_base", self.url.clone()),
            ("stripe.ca_file", self.ca_file.to_str().expect("utf-8").to_owned()),
        ]
    }

    /// The sessions created so far.
    pub fn sessions(&self) -> Vec<Session> {
        self.state.lock().unwrap().sessions.values().cloned().collect()
    }

    /// How many create calls arrived (replays included).
    pub fn creates(&self) -> u64 {
        self.state.lock().unwrap().creates
    }

    /// Every object answered or sent, with its schema name.
    pub fn objects(&self) -> Vec<(String, Value)> {
        self.state.lock().unwrap().objects.clone()
    }

    fn id(&self, prefix: &str) -> String {
        format!("{prefix}{:024}", self.next.fetch_add(1, Ordering::Relaxed))
    }

    /// The `checkout.session.completed` event of `session`, paid (`payment_status`).
    pub fn completed_event(&self, session: &Session, payment_status: &str) -> Value {
        let object = checkout_session_object(session, &format!("{}/c/pay/{}", self.url, session.id), payment_status, "complete");
        self.event("checkout.session.completed", object)
    }

    /// The `charge.refunded` event of `session`'s payment with `refunded_total` refunded so far.
    pub fn refunded_event(&self, session: &Session, refunded_total: i64) -> Value {
        let object = json!({
            "id": self.id("ch_test_"), "object": "charge", "amount": session.amount, "amount_captured": session.amount,
            "amount_refunded": refunded_total, "billing_details": {"address": null, "email": null, "name": null, "phone": null},
            "captured": true, "created": now_s(), "currency": "sek", "disputed": false, "livemode": false, "metadata": {},
            "paid": true, "payment_intent": session.payment_intent, "refunded": refunded_total == session.amount, "status": "succeeded",
        });
        self.event("charge.refunded", object)
    }

    /// An event of `kind` about `object`, as Stripe's Event object has it.
    pub fn event(&self, kind: &str, object: Value) -> Value {
        let schema = object["object"].as_str().unwrap_or("unknown").to_owned();
        let event = json!({
            "id": self.id("evt_test_"), "object": "event", "api_version": "2023-08-16", "created": now_s(),
            "data": {"object": object}, "livemode": false, "pending_webhooks": 1,
            "request": {"id": null, "idempotency_key": null}, "type": kind,
        });
        let mut st = self.state.lock().unwrap();
        st.objects.push((schema, event["data"]["object"].clone()));
        st.objects.push(("event".into(), event.clone()));
        event
    }
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Unix seconds now.
pub fn now_s() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs() as i64
}

/// `Stripe-Signature` of `body` at `t` under `secret`, as Stripe computes it.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

/// Delivers `body` to the node's webhook with `signature` (Stripe's own `User-Agent`).
pub fn deliver(node_url: &str, body: &[u8], signature: Option<&str>) -> (u16, Value) {
    let mut r = ureq::post(&format!("{node_url}/v1/stripe/webhook"))
        .set("content-type", "application/json; charset=utf-8")
        .set("user-agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)");
    if let Some(s) = signature {
        r = r.set("stripe-signature", s);
    }
    let resp = match r.timeout(std::time::Duration::from_secs(30)).send_bytes(body) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("webhook delivery: {e}"),
    };
    let status = resp.status();
    let text = resp.into_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn checkout_session_object(s: &Session, url: &str, payment_status: &str, status: &str) -> Value {
    let f = |k: &str| s.form.get(k).cloned();
    json!({
        "id": s.id, "object": "checkout.session", "after_expiration": null, "allow_promotion_codes": null,
        "amount_subtotal": s.amount, "amount_total": s.amount, "automatic_tax": {"enabled": false, "status": null},
        "billing_address_collection": null, "cancel_url": f("cancel_url"), "client_reference_id": f("client_reference_id"),
        "created": now_s(), "currency": "sek", "custom_fields": [], "custom_text": {"shipping_address": null, "submit": null},
        "customer": null, "customer_creation": "if_required", "customer_details": null, "customer_email": null,
        "expires_at": now_s() + 86_400, "livemode": false, "locale": null,
        "metadata": {"svea_business_id": f("metadata[svea_business_id]"), "svea_top_up": f("metadata[svea_top_up]")},
        "mode": "payment", "payment_intent": if payment_status == "paid" { Value::from(s.payment_intent.clone()) } else { Value::Null },
        "payment_method_types": ["card"], "payment_status": payment_status, "shipping_options": [], "status": status,
        "success_url": f("success_url"), "url": if status == "open" { Value::from(url) } else { Value::Null },
    })
}

fn stripe_error(kind: &str, message: &str, param: Option<&str>) -> String {
    let mut e = json!({"error": {"type": kind, "message": message}});
    if let Some(p) = param {
        e["error"]["param"] = p.into();
    }
    e.to_string()
}

/// Decodes `application/x-www-form-urlencoded`.
fn form(body: &str) -> BTreeMap<String, String> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                    match u8::from_str_radix(hex, 16) {
                        Ok(b) if hex.len() == 2 => {
                            out.push(b);
                            i += 2;
                        }
                        _ => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split('&').filter(|p| !p.is_empty()).map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        (decode(k), decode(v))
    }).collect()
}

fn serve(stream: &mut (impl Read + Write), state: &Mutex<State>, next: &AtomicU64, base: &str) {
    let mut reader = BufReader::new(stream);
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line == "\r\n" {
            break;
        }
        head.push(line.trim_end().to_owned());
        if head.len() > 100 {
            return;
        }
    }
    let request_line = head.first().cloned().unwrap_or_default();
    let header = |name: &str| head.iter().skip(1).find_map(|h| h.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_owned()));
    let len: usize = header("content-length").and_then(|l| l.parse().ok()).unwrap_or(0).min(1 << 20);
    let mut body = vec![0u8; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let (status, answer, replayed) = if request_line.starts_with("POST /v1/checkout/sessions ") {
        create(state, next, base, header("authorization"), header("idempotency-key"), &String::from_utf8_lossy(&body))
    } else {
        (404, stripe_error("invalid_request_error", &format!("Unrecognized request URL ({request_line})."), None), false)
    };
    let stream = reader.into_inner();
    let replay = if replayed { "Idempotent-Replayed: true\r\n" } else { "" };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nRequest-Id: req_fake\r\n{replay}Connection: close\r\n\r\n{answer}",
        answer.len()
    );
    let _ = stream.flush();
}

const REQUIRED: [&str; 7] = [
    "mode",
    "line_items[0][price_data][currency]",
    "line_items[0][price_data][unit_amount]",
    "line_items[0][price_data][product_data][name]",
    "line_items[0][quantity]",
    "success_url",
    "cancel_url",
];

fn create(state: &Mutex<State>, next: &AtomicU64, base: &str, auth: Option<String>, key: Option<String>, body: &str) -> (u16, String, bool) {
    let mut st = state.lock().unwrap();
    st.creates += 1;
    if auth.as_deref() != Some(&format!("Bearer {SECRET_KEY}")) {
        let e = stripe_error("invalid_request_error", "Invalid API Key provided: sk_test_****", None);
        st.objects.push(("error".into(), serde_json::from_str(&e).unwrap()));
        return (401, e, false);
    }
    let form = form(body);
    if let Some(k) = &key {
        if let Some((first, status, answer)) = st.keys.get(k) {
            if *first == form {
                return (*status, answer.clone(), true);
            }
            let e = stripe_error(
                "idempotency_error",
                &format!("Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{k}' if you meant to execute a different request."),
                None,
            );
            st.objects.push(("error".into(), serde_json::from_str(&e).unwrap()));
            return (400, e, false);
        }
    }
    let missing = REQUIRED.iter().find(|f| form.get(**f).is_none_or(|v| v.is_empty()));
    let amount = form.get("line_items[0][price_data][unit_amount]").and_then(|a| a.parse::<i64>().ok()).filter(|a| *a > 0);
    let (status, answer) = if let Some(f) = missing {
        (400, stripe_error("invalid_request_error", &format!("Missing required param: {f}."), Some(f)))
    } else if form["mode"] != "payment" || form["line_items[0][price_data][currency]"] != "sek" || form["line_items[0][quantity]"] != "1" {
        (400, stripe_error("invalid_request_error", "svea's fake expects one SEK line in payment mode.", Some("line_items")))
    } else if amount.is_none() {
        (400, stripe_error("invalid_request_error", "Invalid integer: unit_amount.", Some("line_items[0][price_data][unit_amount]")))
    } else {
        let n = next.fetch_add(1, Ordering::Relaxed);
        let s = Session {
            id: format!("cs_test_{n:024}"),
            business: form.get("client_reference_id").cloned().unwrap_or_default(),
            amount: amount.unwrap_or_default(),
            payment_intent: format!("pi_test_{n:024}"),
            form: form.clone(),
        };
        let object = checkout_session_object(&s, &format!("{base}/c/pay/{}", s.id), "unpaid", "open");
        st.sessions.insert(s.id.clone(), s);
        st.objects.push(("checkout.session".into(), object.clone()));
        (200, object.to_string())
    };
    if let Some(k) = key {
        st.keys.insert(k, (form, status, answer.clone()));
    }
    (status, answer, false)
}
