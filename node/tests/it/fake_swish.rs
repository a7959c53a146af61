//! A fake of Swish's Payout API for the tests, speaking what Swish documents (developer.swish.nu
//! /api/payouts/v1; the MSS user guide v1.6, sections 9 and 10), with Swish's own public test
//! (MSS) certificates as the `getswish` PyPI package ships them:
//! - HTTPS that REQUIRES a client certificate chaining to the Swish test merchant chain's root
//!   ("Nordea Root CA v2 for Swish", the top of the chain in
//!   `Swish_Merchant_TestCertificate_1234679304.pem`); its own server certificate comes from
//!   `svea certs --https` (the node trusts that CA as `swish.root_ca_file`);
//! - `POST /swish-cpcapi/api/v1/payouts`: verifies the signature (SHA512withRSA over the SHA-512
//!   of the payload's exact bytes, base64) with the public key of
//!   `Swish_Merchant_TestSigningCertificate_1234679304.pem`, checks every payload field as the
//!   reference describes (a refusal is `422` with Swish's error code and is recorded), pays each
//!   instruction id at most once (the same id again: `409`, no second payment), and fails payouts
//!   to a Swish number it was told to fail (a documented error code);
//! - `GET /swish-cpcapi/api/v1/payouts/{id}`: the payout object;
//! - the callback: the payout object POSTed to the path of `callbackUrl` on a node's plain-HTTP
//!   listener (as a TLS-terminating proxy in front of svea would pass it on), at once or, when
//!   held, on [`FakeSwish::release`].

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Value};

use crate::harness::svea_cli;
use crate::needs;

/// The `getswish` release whose MSS certificates the tests use (valid until September 2027).
pub const GETSWISH: &str = "getswish==0.4.1";
/// The MSS test merchant's Swish number (the certificates' CN).
pub const MERCHANT_ALIAS: &str = "1234679304";
/// Largest request the fake reads.
const REQUEST_BYTES_MAX: usize = 64 * 1024;

/// Swish's MSS test files, from the `getswish` package.
#[derive(Debug, Clone)]
pub struct MssFiles {
    /// The merchant's TLS client certificate with its chain.
    pub cert: PathBuf,
    /// Its key (PKCS#8).
    pub key: PathBuf,
    /// The payout signing certificate with its chain.
    pub signing_cert: PathBuf,
    /// Its key (PKCS#1).
    pub signing_key: PathBuf,
    /// The signing certificate's serial number, upper-case hexadecimal.
    pub signing_serial: String,
}

/// Installs `getswish` into the tests' venv and finds its MSS certificates.
pub fn mss_files() -> MssFiles {
    let py = needs::python(&[GETSWISH]);
    let out = Command::new(&py)
        .args(["-c", "import getswish, os; print(os.path.join(os.path.dirname(getswish.__file__), 'certificates', 'mss_test_3.0'))"])
        .output()
        .expect("python");
    assert!(out.status.success(), "getswish: {}", String::from_utf8_lossy(&out.stderr));
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let signing_cert = dir.join("Swish_Merchant_TestSigningCertificate_1234679304.pem");
    let first = certs(&signing_cert).into_iter().next().expect("signing certificate");
    let (_, parsed) = x509_parser::parse_x509_certificate(first.as_ref()).expect("x509");
    let signing_serial = parsed.tbs_certificate.raw_serial().iter().map(|b| format!("{b:02X}")).collect::<String>();
    MssFiles {
        cert: dir.join("Swish_Merchant_TestCertificate_1234679304.pem"),
        key: dir.join("Swish_Merchant_TestCertificate_1234679304.key"),
        signing_cert,
        signing_key: dir.join("Swish_Merchant_TestSigningCertificate_1234679304.key"),
        signing_serial: signing_serial.trim_start_matches("00").to_owned(),
    }
}

fn certs(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path).expect("pem").collect::<Result<_, _>>().expect("certificates")
}

/// One payout as the fake keeps it.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The payload as received.
    pub payload: Value,
    /// `CREATED`, `PAID` or `ERROR`.
    pub status: String,
    /// The error code when `ERROR`.
    pub error_code: Option<String>,
    /// Where the callback goes (path of `callbackUrl`).
    pub callback_path: String,
}

#[derive(Debug, Default)]
struct State {
    payouts: BTreeMap<String, Stored>,
    /// Create calls per instruction id (retries included).
    creates: BTreeMap<String, u32>,
    /// Payments made per instruction id: never more than one.
    payments: BTreeMap<String, u32>,
    /// Why creates were refused by the field checks.
    refused: Vec<String>,
    /// Payee Swish numbers whose payouts fail, with the error code.
    fail: BTreeMap<String, String>,
    /// Callbacks are held until `release`.
    hold: bool,
    /// Where callbacks go: a node's `http://127.0.0.1:port`.
    callback_to: Option<String>,
    /// Callbacks delivered (instruction id, HTTP status of svea's answer).
    callbacks: Vec<(String, u16)>,
}

/// The fake, serving until dropped.
pub struct FakeSwish {
    /// `swish.api_base` for the node.
    pub api_base: String,
    /// The CA of the fake's server certificate (`swish.root_ca_file`).
    pub root_ca: PathBuf,
    /// Swish's MSS files.
    pub mss: MssFiles,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl FakeSwish {
    /// Starts the fake on a loopback port, its server certificate made in `dir`.
    pub fn start(dir: &Path) -> FakeSwish {
        let mss = mss_files();
        let out = dir.join("fake-swish-tls");
        let out_s = out.to_str().expect("utf-8 path").to_owned();
        let (code, _, err) = svea_cli(&["certs", "--out", &out_s, "--nodes", "swish", "--https", "127.0.0.1,localhost"], &[]);
        assert_eq!(code, Some(0), "svea certs --https: {err}");
        let server_chain = certs(&out.join("swish-https.pem"));
        let server_key = PrivateKeyDer::from_pem_file(out.join("swish-https.key")).expect("server key");
        // Client certificates must chain to the root of the MSS merchant chain.
        let merchant_chain = certs(&mss.cert);
        let mut roots = rustls::RootCertStore::empty();
        roots.add(merchant_chain.last().expect("chain").clone()).expect("client root");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build().expect("verifier");
        let tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_client_cert_verifier(verifier)
            .with_single_cert(server_chain, server_key)
            .expect("server config");
        let tls = Arc::new(tls);
        let signing = certs(&mss.signing_cert).into_iter().next().expect("signing certificate");
        let (_, parsed) = x509_parser::parse_x509_certificate(signing.as_ref()).expect("x509");
        let public_key = parsed.tbs_certificate.subject_pki.subject_public_key.data.to_vec();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let ctx = Arc::new(Ctx { public_key, serial: mss.signing_serial.clone(), state: state.clone() });
        let stop2 = stop.clone();
        std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (tls, ctx) = (tls.clone(), ctx.clone());
                        std::thread::spawn(move || serve(stream, tls, &ctx));
                    }
                    // Poll the stop flag between connections (the listener is non-blocking).
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::park_timeout(Duration::from_millis(5)),
                    Err(_) => return,
                }
            }
        });
        FakeSwish { api_base: format!("https://127.0.0.1:{port}/swish-cpcapi"), root_ca: out.join("https-ca.pem"), mss, state, stop }
    }

    /// The `[swish]` overrides that point a node at this fake, its callbacks announced at
    /// `https://svea.test/v1/payouts/swish/callback`.
    pub fn overrides(&self) -> Vec<(String, String)> {
        let p = |p: &Path| p.to_str().expect("utf-8 path").to_owned();
        vec![
            ("swish.api_base".into(), self.api_base.clone()),
            ("swish.cert_file".into(), p(&self.mss.cert)),
            ("swish.key_file".into(), p(&self.mss.key)),
            ("swish.root_ca_file".into(), p(&self.root_ca)),
            ("swish.signing_key_file".into(), p(&self.mss.signing_key)),
            ("swish.signing_cert_serial".into(), self.mss.signing_serial.clone()),
            ("swish.payer_alias".into(), MERCHANT_ALIAS.into()),
            ("swish.callback_url".into(), "https://svea.test/v1/payouts/swish/callback".into()),
        ]
    }

    /// Callbacks go to this node's plain-HTTP URL from now on.
    pub fn callback_to(&self, url: &str) {
        self.state.lock().unwrap().callback_to = Some(url.to_owned());
    }

    /// Payouts to `alias` (`46...`) fail with `code`.
    pub fn fail_payee(&self, alias: &str, code: &str) {
        self.state.lock().unwrap().fail.insert(alias.to_owned(), code.to_owned());
    }

    /// Hold settlement and callbacks until [`FakeSwish::release`].
    pub fn hold(&self) {
        self.state.lock().unwrap().hold = true;
    }

    /// Settles every held payout and sends its callback.
    pub fn release(&self) {
        let ready: Vec<(String, Stored)> = {
            let mut s = self.state.lock().unwrap();
            s.hold = false;
            let ids: Vec<String> = s.payouts.iter().filter(|(_, p)| p.status == "CREATED").map(|(id, _)| id.clone()).collect();
            ids.into_iter().map(|id| (id.clone(), settle(&mut s, &id))).collect()
        };
        for (id, stored) in ready {
            callback(&self.state, &id, &stored);
        }
    }

    /// Create calls per instruction id.
    pub fn creates(&self) -> BTreeMap<String, u32> {
        self.state.lock().unwrap().creates.clone()
    }

    /// Payments made per instruction id.
    pub fn payments(&self) -> BTreeMap<String, u32> {
        self.state.lock().unwrap().payments.clone()
    }

    /// The payouts as received.
    pub fn payouts(&self) -> BTreeMap<String, Stored> {
        self.state.lock().unwrap().payouts.clone()
    }

    /// Why creates were refused.
    pub fn refused(&self) -> Vec<String> {
        self.state.lock().unwrap().refused.clone()
    }

    /// Callbacks delivered: (instruction id, svea's status).
    pub fn callbacks(&self) -> Vec<(String, u16)> {
        self.state.lock().unwrap().callbacks.clone()
    }
}

impl Drop for FakeSwish {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

struct Ctx {
    public_key: Vec<u8>,
    serial: String,
    state: Arc<Mutex<State>>,
}

fn serve(stream: TcpStream, tls: Arc<rustls::ServerConfig>, ctx: &Ctx) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(conn) = rustls::ServerConnection::new(tls) else { return };
    let mut s = rustls::StreamOwned::new(conn, stream);
    // A handshake without an acceptable client certificate fails here: nothing is served.
    let Some((method, path, body)) = read_request(&mut s) else { return };
    let (status, body, location) = route(ctx, &method, &path, &body);
    let mut head = format!("HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    if let Some(l) = location {
        head.push_str(&format!("Location: {l}\r\n"));
    }
    head.push_str("\r\n");
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(body.as_bytes());
    let _ = s.flush();
    s.conn.send_close_notify();
    let _ = s.flush();
}

fn read_request(s: &mut impl Read) -> Option<(String, String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).ok()?;
        if n == 0 || buf.len() > REQUEST_BYTES_MAX {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut first = head.lines().next()?.split(' ');
    let (method, path) = (first.next()?.to_owned(), first.next()?.to_owned());
    let length: usize = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")).map(|(_, v)| v.trim().parse().unwrap_or(0)))
        .unwrap_or(0)
        .min(REQUEST_BYTES_MAX);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((method, path, body))
}

fn route(ctx: &Ctx, method: &str, path: &str, body: &[u8]) -> (u16, String, Option<String>) {
    const PAYOUTS: &str = "/swish-cpcapi/api/v1/payouts";
    match (method, path) {
        ("POST", PAYOUTS) => create(ctx, body),
        ("GET", p) if p.starts_with(&format!("{PAYOUTS}/")) => {
            let id = &p[PAYOUTS.len() + 1..];
            match ctx.state.lock().unwrap().payouts.get(id) {
                Some(stored) => (200, object(id, stored).to_string(), None),
                None => (404, String::new(), None),
            }
        }
        _ => (404, String::new(), None),
    }
}

fn refuse(ctx: &Ctx, code: &str, message: String) -> (u16, String, Option<String>) {
    ctx.state.lock().unwrap().refused.push(format!("{code}: {message}"));
    (422, json!([{"errorCode": code, "errorMessage": message, "additionalInformation": null}]).to_string(), None)
}

fn create(ctx: &Ctx, body: &[u8]) -> (u16, String, Option<String>) {
    let Ok(text) = std::str::from_utf8(body) else { return refuse(ctx, "PA01", "body is not utf-8".into()) };
    let Ok(envelope) = serde_json::from_str::<Value>(text) else { return refuse(ctx, "PA01", "body is not JSON".into()) };
    let Some(raw_payload) = raw_member(text, "payload") else { return refuse(ctx, "PA01", "no payload object".into()) };
    // The signature: base64 of SHA512withRSA over the SHA-512 digest of the payload's bytes.
    let signature = envelope["signature"].as_str().and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok());
    let digest = ring::digest::digest(&ring::digest::SHA512, raw_payload.as_bytes());
    let key = ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA512, &ctx.public_key);
    if signature.is_none_or(|sig| key.verify(digest.as_ref(), &sig).is_err()) {
        return refuse(ctx, "PA01", "signature does not verify with the signing certificate".into());
    }
    let callback_url = envelope["callbackUrl"].as_str().unwrap_or("");
    let Some(callback_path) = callback_url.strip_prefix("https://").and_then(|rest| rest.find('/').map(|i| rest[i..].to_owned())) else {
        return refuse(ctx, "RP03", "callbackUrl is missing or does not use https".into());
    };
    let p = &envelope["payload"];
    let s = |k: &str| p[k].as_str().unwrap_or("").to_owned();
    let digits = |t: &str, range: std::ops::RangeInclusive<usize>| range.contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit());
    let id = s("payoutInstructionUUID");
    let checks: [(bool, &str, &str); 11] = [
        (id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)), "PA01", "payoutInstructionUUID is not 32 upper-case hex"),
        ((1..=35).contains(&s("payerPaymentReference").chars().count()), "FF08", "payerPaymentReference is not 1-35 characters"),
        (s("signingCertificateSerialNumber") == ctx.serial, "PA01", "signingCertificateSerialNumber is not the signing certificate's"),
        (s("payerAlias") == MERCHANT_ALIAS, "RP01", "payerAlias is not the merchant's Swish number"),
        (s("payeeAlias").starts_with("467") && digits(&s("payeeAlias"), 11..=11), "BE18", "payeeAlias is not a Swedish mobile number"),
        (digits(&s("payeeSSN"), 12..=12), "PA01", "payeeSSN is not 12 digits"),
        (amount_ok(&s("amount")), "PA02", "amount is not kronor with two decimals, at least 1.00"),
        (s("currency") == "SEK", "AM03", "currency is not SEK"),
        (s("payoutType") == "PAYOUT", "PA01", "payoutType is not PAYOUT"),
        (chrono::DateTime::parse_from_rfc3339(&s("instructionDate")).is_ok(), "PA01", "instructionDate is not ISO 8601"),
        ((1..=50).contains(&s("message").chars().count()), "RP02", "message is not 1-50 characters"),
    ];
    if let Some((_, code, why)) = checks.iter().find(|(ok, _, _)| !ok) {
        return refuse(ctx, code, format!("{why}: {}", p));
    }
    let mut st = ctx.state.lock().unwrap();
    *st.creates.entry(id.clone()).or_default() += 1;
    if st.payouts.contains_key(&id) {
        // The same instruction id again: Swish pays it once (409 Conflict, nothing new).
        return (409, json!([{"errorCode": "RP09", "errorMessage": "The given payoutInstructionUUID is not available"}]).to_string(), None);
    }
    st.payouts.insert(id.clone(), Stored { payload: p.clone(), status: "CREATED".into(), error_code: None, callback_path });
    let location = format!("https://127.0.0.1/swish-cpcapi/api/v1/payouts/{id}");
    if !st.hold {
        let stored = settle(&mut st, &id);
        drop(st);
        let state = ctx.state.clone();
        std::thread::spawn(move || callback(&state, &id, &stored));
    }
    (201, String::new(), Some(location))
}

fn amount_ok(amount: &str) -> bool {
    let Some((kr, ore)) = amount.split_once('.') else { return false };
    !kr.is_empty() && kr.bytes().all(|b| b.is_ascii_digit()) && ore.len() == 2 && ore.bytes().all(|b| b.is_ascii_digit()) && kr.parse::<u64>().is_ok_and(|k| k >= 1)
}

/// Pays (or fails) a created payout: the one place a payment is counted.
fn settle(st: &mut State, id: &str) -> Stored {
    let alias = st.payouts[id].payload["payeeAlias"].as_str().unwrap_or("").to_owned();
    let failure = st.fail.get(&alias).cloned();
    let stored = st.payouts.get_mut(id).expect("created");
    match failure {
        Some(code) => {
            stored.status = "ERROR".into();
            stored.error_code = Some(code);
        }
        None => stored.status = "PAID".into(),
    }
    let stored = stored.clone();
    if stored.status == "PAID" {
        *st.payments.entry(id.to_owned()).or_default() += 1;
    }
    stored
}

/// The payout object (Payout API v1, "Payout object").
fn object(id: &str, stored: &Stored) -> Value {
    let p = &stored.payload;
    json!({
        "paymentReference": format!("{:0>32}", id.len()),
        "payoutInstructionUUID": id,
        "payerPaymentReference": p["payerPaymentReference"],
        "callbackUrl": format!("https://svea.test{}", stored.callback_path),
        "payerAlias": p["payerAlias"],
        "payeeAlias": p["payeeAlias"],
        "payeeSSN": p["payeeSSN"],
        "amount": p["amount"],
        "currency": "SEK",
        "message": p["message"],
        "payoutType": "PAYOUT",
        "status": stored.status,
        "dateCreated": p["instructionDate"],
        "datePaid": if stored.status == "PAID" { p["instructionDate"].clone() } else { Value::Null },
        "errorMessage": stored.error_code.as_ref().map(|_| "Payee not Enrolled"),
        "errorCode": stored.error_code,
        "additionalInformation": null,
    })
}

fn callback(state: &Arc<Mutex<State>>, id: &str, stored: &Stored) {
    let Some(base) = state.lock().unwrap().callback_to.clone() else { return };
    let url = format!("{base}{}", stored.callback_path);
    let status = match ureq::post(&url).set("Content-Type", "application/json").send_string(&object(id, stored).to_string()) {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(_) => 0,
    };
    state.lock().unwrap().callbacks.push((id.to_owned(), status));
}

/// The exact text of the JSON object that is the value of top-level `member` in `text`.
fn raw_member<'a>(text: &'a str, member: &str) -> Option<&'a str> {
    let key = format!("\"{member}\":");
    let start = text.find(&key)? + key.len();
    let rest = text[start..].trim_start();
    let offset = text.len() - rest.len();
    if !rest.starts_with('{') {
        return None;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, c) in rest.char_indices() {
        match (in_string, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (true, false, '"') => in_string = false,
            (false, _, '"') => in_string = true,
            (false, _, '{') => depth += 1,
            (false, _, '}') => {
                depth -= 1;
                if depth == 0 {
                    return Some(&text[offset..offset + i + 1]);
                }
            }
            _ => {}
        }
    }
    None
}
