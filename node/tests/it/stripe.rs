//! Funding by card with Stripe, through real `svea` processes and the fake Stripe
//! (`fake_stripe.rs`, HTTPS with a CA the node trusts through `stripe.ca_file`): the dashboard's
//! top-up opens one Checkout Session per request (Idempotency-Key), the webhook refuses forged,
//! altered, stale and foreign signatures, and what the fake says validates against Stripe's
//! published OpenAPI description.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::fake_stripe::{self, deliver, sign, FakeStripe, WEBHOOK_SECRET};
use crate::harness::*;
use crate::needs;
use crate::page::Phone;

/// A node whose `[stripe]` points at `fake`.
fn node_with(dir: &Path, fake: &FakeStripe) -> NodeProc {
    let mut overrides = fake.overrides();
    overrides.push(("funding.provider", "stripe".to_owned()));
    overrides.push(("payouts.minimum_sek", "1".to_owned()));
    overrides.push(("payouts.retry_interval_ms", "100".to_owned()));
    let pairs: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (*k, v.as_str())).collect();
    NodeProc::start(dir, &pairs)
}

/// The fake Stripe, a node funded by it, a business without funds (with Stripe, money comes in
/// only by card), and a browser signed in to its dashboard.
fn setup(dir: &Path) -> (FakeStripe, NodeProc, Biz, Phone) {
    let fake = FakeStripe::start(dir);
    let n = node_with(dir, &fake);
    let biz = create_business(&n, "0.00");
    let mut browser = Phone::default().with_header("origin", &n.url);
    let page = browser.post(&format!("{}/business/sign-in", n.url), &[("api_key", &biz.key)]);
    assert_eq!(page.status, 303, "{}", page.body);
    (fake, n, biz, browser)
}

#[test]
fn a_top_up_opens_one_checkout_session_per_request_and_sends_the_business_there() {
    let dir = tempfile::tempdir().expect("tmp");
    let (fake, n, biz, mut browser) = setup(dir.path());

    // The dashboard offers the form with a request id of its own.
    let page = browser.get(&format!("{}/business", n.url));
    let html = page.html(200).to_string();
    assert!(html.contains("id=\"top-up-form\""), "{html}");
    let request = html.split("name=\"request\" value=\"").nth(1).and_then(|r| r.split('"').next()).expect("request id").to_owned();

    // Posting it: 303 to Stripe's Checkout page for this top-up.
    let top_up = format!("{}/business/top-up", n.url);
    let first = browser.post(&top_up, &[("amount_sek", "500"), ("request", &request)]);
    assert_eq!(first.status, 303, "{}", first.body);
    let location = first.header("location").expect("location").to_owned();
    assert!(location.starts_with(&format!("{}/c/pay/cs_test_", fake.url)), "{location}");
    let sessions = fake.sessions();
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert_eq!((s.amount, s.business.as_str()), (50_000, biz.id.as_str()), "500 SEK in öre, for this business");
    assert_eq!(s.form.get("metadata[svea_business_id]"), Some(&biz.id));
    assert!(s.form["success_url"].starts_with(&format!("{}/business/top-up/done", n.url)), "{:?}", s.form);

    // A double click (the same form again): the same Checkout Session, not a second one.
    let again = browser.post(&top_up, &[("amount_sek", "500"), ("request", &request)]);
    assert_eq!(again.status, 303, "{}", again.body);
    assert_eq!(again.header("location"), Some(location.as_str()));
    assert_eq!((fake.creates(), fake.sessions().len()), (2, 1), "Stripe saw the retry and answered it from its idempotency key");

    // The same request with another amount: Stripe's idempotency_error, shown as a conflict.
    let other = browser.post(&top_up, &[("amount_sek", "900"), ("request", &request)]);
    assert_eq!(other.status, 409, "{}", other.body);
    assert_eq!(fake.sessions().len(), 1);

    // Bounds from [stripe] (50..=100000 SEK): refused before Stripe hears of it.
    let creates = fake.creates();
    let small = browser.post(&top_up, &[("amount_sek", "10"), ("request", "another-request")]);
    assert_eq!(small.status, 422, "{}", small.body);
    assert_eq!(fake.creates(), creates);

    // Back from Stripe: the dashboard says the payment is being confirmed; nothing is credited by it.
    let done = browser.get(&format!("{}/business/top-up/done?session_id={}", n.url, s.id));
    assert_eq!(done.status, 303);
    let page = browser.get(&format!("{}{}", n.url, done.header("location").expect("location")));
    assert!(page.html(200).contains("Betalningen bekräftas av Stripe"), "{}", page.body);
    assert_eq!(n.get_as(&format!("/v1/businesses/{}", biz.id), &biz.key).body["funds"]["funded_sek"], "0.00", "only the webhook credits");
}

#[test]
fn forged_altered_stale_and_foreign_signatures_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let (fake, n, biz, mut browser) = setup(dir.path());
    let page = browser.post(&format!("{}/business/top-up", n.url), &[("amount_sek", "500"), ("request", "r-1")]);
    assert_eq!(page.status, 303, "{}", page.body);
    let session = fake.sessions().remove(0);
    let event = fake.completed_event(&session, "paid");
    let body = event.to_string().into_bytes();
    let now = fake_stripe::now_s();

    let refused = |signature: Option<String>, body: &[u8], kind: &str| {
        let (status, answer) = deliver(&n.url, body, signature.as_deref());
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["type"], format!("urn:svea:problem:{kind}"), "{answer}");
    };
    refused(None, &body, "invalid-stripe-signature");
    refused(Some(sign("whsec_AnotherEndpointsSecret0123456789", now, &body)), &body, "invalid-stripe-signature");
    refused(Some(format!("t={now},v1={}", "ab".repeat(32))), &body, "invalid-stripe-signature");
    let altered = String::from_utf8(body.clone()).unwrap().replace("\"amount_total\":50000", "\"amount_total\":5000000");
    assert_ne!(altered.as_bytes(), &body[..]);
    refused(Some(sign(WEBHOOK_SECRET, now, &body)), altered.as_bytes(), "invalid-stripe-signature");
    refused(Some(sign(WEBHOOK_SECRET, now - 301, &body)), &body, "stale-stripe-signature");
    // Ahead by more than the tolerance even if the delivery is half a minute late (a loaded
    // machine): `now + 301` became a signature 300 s ahead after one slow second.
    refused(Some(sign(WEBHOOK_SECRET, now + 330, &body)), &body, "stale-stripe-signature");
    assert_eq!(n.get_as(&format!("/v1/businesses/{}", biz.id), &biz.key).body["funds"]["funded_sek"], "0.00", "nothing credited");

    // Signed right, but nothing to act on: acknowledged (Stripe stops retrying), nothing credited.
    let unpaid = fake.completed_event(&session, "unpaid").to_string();
    let (status, answer) = deliver(&n.url, unpaid.as_bytes(), Some(&sign(WEBHOOK_SECRET, now, unpaid.as_bytes())));
    assert_eq!((status, answer["status"].as_str()), (200, Some("pending")), "{answer}");
    let other = fake.event("customer.created", json!({"id": "cus_test_1", "object": "customer"})).to_string();
    let (status, answer) = deliver(&n.url, other.as_bytes(), Some(&sign(WEBHOOK_SECRET, now, other.as_bytes())));
    assert_eq!((status, answer["status"].as_str()), (200, Some("ignored")), "{answer}");
    assert_eq!(n.get_as(&format!("/v1/businesses/{}", biz.id), &biz.key).body["funds"]["funded_sek"], "0.00", "nothing credited");
}

fn funds(n: &NodeProc, biz: &Biz) -> Value {
    let r = n.get_as(&format!("/v1/businesses/{}", biz.id), &biz.key);
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["funds"].clone()
}

fn signed(n: &NodeProc, event: &Value) -> (u16, Value) {
    let body = event.to_string().into_bytes();
    deliver(&n.url, &body, Some(&sign(WEBHOOK_SECRET, fake_stripe::now_s(), &body)))
}

#[test]
fn a_paid_checkout_credits_once_a_refund_debits_and_below_zero_rewards_stop() {
    let dir = tempfile::tempdir().expect("tmp");
    let (fake, n, biz, _browser) = setup(dir.path());

    // Without funds the customer is told before writing anything, and a reward is not reserved.
    let start = n.get(&format!("/q/{}", biz.token));
    assert!(start.body.as_str().expect("html").contains("id=\"no-funds\""), "{}", start.body);

    // A typed-in budget is refused: with Stripe money only comes in by card.
    let r = n.post(
        "/v1/businesses",
        json!({"name": "Kafé Kort", "org_number": next_org_number().to_string(),
               "locations": [{"name": "Torget", "lat": 55.6, "lon": 13.0}], "reward_budget_sek": "100.00"}),
    );
    assert_eq!((r.status, r.body["type"].as_str()), (422, Some("urn:svea:problem:funding-by-card-only")), "{}", r.body);

    // The API starts a Checkout Session too; with the same Idempotency-Key, the same session.
    let path = format!("/v1/businesses/{}/top-ups", biz.id);
    let bearer = format!("Bearer {}", biz.key);
    let headers = [("authorization", bearer.as_str()), ("idempotency-key", "top-up-1")];
    let started = n.post_with(&path, json!({"amount_sek": "500.00"}), &headers);
    assert_eq!(started.status, 201, "{}", started.body);
    assert_eq!((started.body["status"].as_str(), started.body["provider"].as_str()), (Some("checkout"), Some("stripe")), "{}", started.body);
    let again = n.post_with(&path, json!({"amount_sek": "500.00"}), &headers);
    assert_eq!(again.body["checkout_session"], started.body["checkout_session"], "{}", again.body);
    assert_eq!(fake.sessions().len(), 1);
    assert_eq!(funds(&n, &biz)["funded_sek"], "0.00", "starting a checkout credits nothing");

    // Paid: credited once, whatever Stripe repeats.
    let session = fake.sessions().remove(0);
    let paid = fake.completed_event(&session, "paid");
    let (status, answer) = signed(&n, &paid);
    assert_eq!((status, answer["status"].as_str()), (200, Some("recorded")), "{answer}");
    assert_eq!(funds(&n, &biz)["available_sek"], "500.00");
    let (status, answer) = signed(&n, &paid);
    assert_eq!((status, answer["status"].as_str()), (200, Some("duplicate")), "a replayed event: {answer}");
    let (status, answer) = signed(&n, &fake.completed_event(&session, "paid"));
    assert_eq!((status, answer["status"].as_str()), (200, Some("duplicate")), "another event of the same session: {answer}");
    assert_eq!(funds(&n, &biz)["funded_sek"], "500.00");
    let start = n.get(&format!("/q/{}", biz.token));
    assert!(!start.body.as_str().expect("html").contains("id=\"no-funds\""), "funded now");

    // A customer earns a reward from the card money.
    let mut phone = Device::new();
    let sid = phone.open(&n, &biz.token);
    assert_eq!(purchase(&n, &sid, "200.00", "T-1").status, 200);
    let s = feedback(&n, &sid, distinct_feedback(0));
    assert_eq!(s.status, 200, "{}", s.body);
    let reward = s.body["reward_sek"].as_str().expect("reward").to_owned();
    assert_ne!(reward, "0.00", "{}", s.body);

    // Refunds: Stripe's amount_refunded is cumulative; each event debits what it adds, once.
    let (status, answer) = signed(&n, &fake.refunded_event(&session, 20_000));
    assert_eq!((status, answer["status"].as_str()), (200, Some("recorded")), "{answer}");
    let f = funds(&n, &biz);
    assert_eq!(f["refunded_sek"], "200.00", "{f}");
    let refund = fake.refunded_event(&session, 50_000);
    assert_eq!(signed(&n, &refund).1["status"], "recorded");
    assert_eq!(signed(&n, &refund).1["status"], "duplicate", "a replayed refund debits nothing");
    let f = funds(&n, &biz);
    assert_eq!(f["refunded_sek"], "500.00", "{f}");
    let below = format!("-{reward}");
    assert_eq!(f["available_sek"], below.as_str(), "the reward stays the customer's; the business is below zero: {f}");
    assert_eq!(f["has_funds"], false, "{f}");

    // Below zero, rewards stop and the start page says so again.
    let start = n.get(&format!("/q/{}", biz.token));
    assert!(start.body.as_str().expect("html").contains("id=\"no-funds\""), "{}", start.body);
    let mut other = Device::new();
    let sid = other.open(&n, &biz.token);
    assert_eq!(purchase(&n, &sid, "200.00", "T-2").status, 200);
    let s = feedback(&n, &sid, distinct_feedback(1));
    assert_eq!((s.body["withheld"].as_str(), s.body["reward_sek"].as_str()), (Some("no_funds"), Some("0.00")), "{}", s.body);

    // The statement lists the card top-up and both refunds with Stripe's references.
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let csv = n.get_as(&format!("/v1/businesses/{}/statement.csv?month={month}", biz.id), &biz.key);
    let csv = csv.body.as_str().expect("csv").to_owned();
    assert!(csv.contains(session.payment_intent.as_str()), "{csv}");
    assert_eq!(csv.lines().filter(|l| l.contains(";-200,00;") || l.contains(";-300,00;")).count(), 2, "{csv}");
}

/// The validators, pinned like `openapi.rs`'s.
const PYTHON_PACKAGES: [&str; 2] = ["openapi-spec-validator==0.9.0", "jsonschema==4.26.0"];
const CHECKER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/stripe_check.py");
const SCHEMAS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/stripe/schemas.json");

/// Validates `objects` (schema name, value) against Stripe's published schemas; the checker's report.
fn validate(objects: &[(String, Value)]) -> Result<String, String> {
    let python = needs::python(&PYTHON_PACKAGES);
    let input = json!({"schemas_file": SCHEMAS, "objects": objects.iter().map(|(s, v)| json!({"schema": s, "value": v})).collect::<Vec<_>>()});
    let mut child = Command::new(python).arg(CHECKER).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("python");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), input.to_string().as_bytes()).expect("write");
    let out = child.wait_with_output().expect("checker");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

#[test]
fn what_the_fake_answers_and_sends_validates_against_stripes_published_schemas() {
    let dir = tempfile::tempdir().expect("tmp");
    let (fake, n, _biz, mut browser) = setup(dir.path());
    let top_up = format!("{}/business/top-up", n.url);
    assert_eq!(browser.post(&top_up, &[("amount_sek", "500"), ("request", "r-1")]).status, 303);
    assert_eq!(browser.post(&top_up, &[("amount_sek", "700"), ("request", "r-1")]).status, 409);
    let session = fake.sessions().remove(0);
    fake.completed_event(&session, "paid");
    fake.refunded_event(&session, 20_000);
    let objects = fake.objects();
    let kinds: Vec<&str> = objects.iter().map(|(s, _)| s.as_str()).collect();
    for kind in ["checkout.session", "error", "event", "charge"] {
        assert!(kinds.contains(&kind), "no {kind} among {kinds:?}");
    }
    let report = validate(&objects).unwrap_or_else(|e| panic!("the fake strays from Stripe's schemas:\n{e}"));
    assert!(report.contains(&format!("{} objects valid", objects.len())), "{report}");

    // The checker is trusted only because it refuses a known-bad object.
    let mut bad = objects.iter().find(|(s, _)| s == "checkout.session").expect("a session").clone();
    bad.1["payment_status"] = "settled".into();
    bad.1["amount_total"] = "500".into();
    let refused = validate(&[bad]).expect_err("a session Stripe could not send");
    assert!(refused.contains("payment_status") && refused.contains("amount_total"), "{refused}");
}
