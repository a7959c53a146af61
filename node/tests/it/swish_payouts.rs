//! Cashback paid out with Swish end to end (issue 21 items 3 and 6), through a real `svea`
//! process funded by the fake Stripe (`fake_stripe.rs`) and paying through the fake Swish
//! (`fake_swish.rs`: mutual TLS with Swish's MSS test certificates, signature checked, each
//! instruction id paid at most once, callbacks posted back to the node):
//! - a customer gives a payee, earns a reward over the minimum, the payout goes out signed over
//!   mTLS, Swish's callback settles it and the wallet shows it paid;
//! - a forged callback claiming `PAID` changes nothing (svea asks Swish);
//! - a refused payout returns the money to the balance, with the reason in words;
//! - a payout retried across a kill -9 of the only node, or of the node owning the wallet in a
//!   three-node cluster (a survivor resumes it), is paid exactly once;
//! - erasure removes the Swish number.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::fake_stripe::{self, deliver, sign, FakeStripe, WEBHOOK_SECRET};
use crate::fake_swish::FakeSwish;
use crate::harness::*;
use crate::page::{offered_time, Phone};

/// The payee key of these tests' clusters (`payouts.payee_key`).
const PAYEE_KEY: &str = "3c1f0e5a9b2d4c6e8f1a3b5c7d9e0f2a4b6c8d0e1f3a5b7c9d1e3f5a7b9c0d2e";
/// A valid personnummer (its Luhn digit checks out).
const SSN: &str = "19900101-0017";
/// How long a payout may take to settle through the driver and the fake.
const SETTLE_WITHIN: Duration = Duration::from_secs(30);

/// Both fakes, a node paying out with Swish, and a business funded by card.
struct World {
    _stripe: FakeStripe,
    swish: FakeSwish,
    n: NodeProc,
    biz: Biz,
}

fn overrides(stripe: &FakeStripe, swish: &FakeSwish, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut o: Vec<(String, String)> = stripe.overrides().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    o.extend(swish.overrides());
    for (k, v) in [
        ("funding.provider", "stripe"),
        ("payouts.rail", "swish"),
        ("payouts.payee_key", PAYEE_KEY),
        ("payouts.minimum_sek", "1"),
        ("payouts.retry_interval_ms", "100"),
        // One customer earns several rewards a day here (the second payout).
        ("abuse.rewarded_sessions_per_device_day", "10"),
        ("abuse.rewarded_sessions_per_network_day", "100"),
    ] {
        o.push((k.to_owned(), v.to_owned()));
    }
    o.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    o
}

fn world(dir: &Path) -> World {
    world_with(dir, &[])
}

fn world_with(dir: &Path, extra: &[(&str, &str)]) -> World {
    let stripe = FakeStripe::start(dir);
    let swish = FakeSwish::start(&dir.join("swish"));
    let o = overrides(&stripe, &swish, extra);
    let pairs: Vec<(&str, &str)> = o.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let n = NodeProc::start(dir, &pairs);
    // Swish's callbacks reach the node (as the TLS-terminating proxy in front of it would pass them).
    swish.callback_to(&n.url);
    let biz = funded_business(&stripe, &n);
    World { _stripe: stripe, swish, n, biz }
}

/// A business funded by a paid Checkout Session, as Stripe's signed webhook reports it.
fn funded_business(stripe: &FakeStripe, n: &NodeProc) -> Biz {
    let biz = create_business(n, "0.00");
    let started = n.post_with(&format!("/v1/businesses/{}/top-ups", biz.id), json!({"amount_sek": "500.00"}), &[("authorization", &format!("Bearer {}", biz.key))]);
    assert_eq!(started.status, 201, "{}", started.body);
    let session = stripe.sessions().pop().expect("a checkout session");
    let body = stripe.completed_event(&session, "paid").to_string().into_bytes();
    let (status, answer) = deliver(&n.url, &body, Some(&sign(WEBHOOK_SECRET, fake_stripe::now_s(), &body)));
    assert_eq!((status, answer["status"].as_str()), (200, Some("recorded")), "{answer}");
    biz
}

fn put_payee(n: &NodeProc, token: &str, number: &str, ssn: &str) -> Resp {
    let r = ureq::put(&format!("{}/v1/wallet/payee", n.url)).set("content-type", "application/json");
    let body = json!({"device_token": token, "swish_number": number, "personnummer": ssn}).to_string();
    match r.send_string(&body) {
        Ok(resp) => resp_of(resp),
        Err(ureq::Error::Status(_, resp)) => resp_of(resp),
        Err(e) => panic!("PUT /v1/wallet/payee: {e}"),
    }
}

fn resp_of(r: ureq::Response) -> Resp {
    let status = r.status();
    let content_type = r.content_type().to_owned();
    let headers = r.headers_names().into_iter().filter_map(|h| r.header(&h).map(|v| (h.clone(), v.to_owned()))).collect();
    let text = r.into_string().unwrap_or_default();
    Resp { status, content_type, headers, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
}

fn wallet(n: &NodeProc, token: &str) -> Value {
    let r = n.post("/v1/wallet", json!({"device_token": token}));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

/// Earns one reward at the business's QR code; returns it in SEK ("4.00").
fn earn(w: &World, phone: &mut Device, i: usize) -> String {
    let sid = phone.open(&w.n, &w.biz.token);
    assert_eq!(purchase(&w.n, &sid, "200.00", &format!("T-{i}")).status, 200);
    let s = feedback(&w.n, &sid, distinct_feedback(i));
    assert_eq!(s.status, 200, "{}", s.body);
    let reward = s.body["reward_sek"].as_str().expect("reward").to_owned();
    assert_ne!(reward, "0.00", "{}", s.body);
    reward
}

/// Polls the wallet until its newest payout is in `state`; returns the wallet.
#[track_caller]
fn payout_becomes(n: &NodeProc, token: &str, state: &str) -> Value {
    eventually(SETTLE_WITHIN, format_args!("a payout {state}"), || {
        let w = wallet(n, token);
        (w["payouts"].as_array().and_then(|p| p.last()).and_then(|p| p["state"].as_str()) == Some(state)).then_some(w)
    })
}

fn callback(n: &NodeProc, body: &str) -> Resp {
    n.post_raw("/v1/payouts/swish/callback", "application/json", body.as_bytes())
}

#[test]
fn a_customer_gives_a_payee_earns_and_swish_pays_once_settled_by_its_callback() {
    let dir = tempfile::tempdir().expect("tmp");
    let w = world(dir.path());
    let mut phone = Device::new();
    let first = earn(&w, &mut phone, 0);
    let token = phone.token().to_owned();
    // The reward reaches the wallet off the customer's path (in another Raft group than the
    // business's with `cluster.groups = "per-region"`): soon, not necessarily before the answer.
    eventually(SETTLE_WITHIN, "no payee yet: the reward waits on the balance", || (wallet(&w.n, &token)["balance_sek"] == first.as_str()).then_some(()));

    // Bad payees are refused with their own problem types; a forged token is 401.
    put_payee(&w.n, &token, "08-123 456 78", SSN).problem(422, "invalid-swish-number");
    put_payee(&w.n, &token, "070-123 45 67", "19900101-0018").problem(422, "invalid-personnummer");
    put_payee(&w.n, &token, "070-123 45 67", "19901301-0017").problem(422, "invalid-personnummer");
    put_payee(&w.n, "svea_dt_forged", "070-123 45 67", SSN).problem(401, "invalid-device-token");
    assert_eq!(w.swish.creates(), Default::default(), "nothing sent without a payee");

    // Given: answered masked, and the payout due starts with it.
    let given = put_payee(&w.n, &token, "+46 70 123 45 67", SSN);
    assert_eq!(given.status, 200, "{}", given.body);
    assert_eq!(given.body, json!({"swish_number": "070-*** ** 67", "personnummer": "19900101-****"}));
    let paid = payout_becomes(&w.n, &token, "paid");
    let payout = &paid["payouts"][0];
    let id = payout["id"].as_str().expect("id").to_owned();
    assert_eq!((payout["amount_sek"].as_str(), payout["rail"].as_str(), payout["demo"].as_bool()), (Some(first.as_str()), Some("swish"), Some(false)), "{paid}");
    assert_eq!(paid["balance_sek"], "0.00", "{paid}");
    assert_eq!(paid["has_payee"], true);

    // What Swish got: one signed instruction over mTLS for this id, to the number given, paid once.
    assert_eq!(w.swish.refused(), Vec::<String>::new());
    let stored = w.swish.payouts().remove(&id).expect("the fake got the instruction");
    assert_eq!((stored.payload["payeeAlias"].as_str(), stored.payload["payeeSSN"].as_str()), (Some("46701234567"), Some("199001010017")));
    assert_eq!(stored.payload["amount"].as_str(), Some(first.as_str()));
    assert_eq!(w.swish.payments()[&id], 1);
    // Swish's callback reached the node and was answered 200 (svea asked Swish, recorded PAID).
    eventually(SETTLE_WITHIN, "swish's callback answered", || w.swish.callbacks().iter().any(|(cid, status)| cid == &id && *status == 200).then_some(()));

    // A second reward over the minimum: a second payout with its own id, also paid once.
    let second = earn(&w, &mut phone, 1);
    let paid = eventually(SETTLE_WITHIN, "the second payout paid", || {
        let v = wallet(&w.n, &token);
        let p = v["payouts"].as_array().cloned().unwrap_or_default();
        (p.len() == 2 && p[1]["state"] == "paid").then_some(v)
    });
    assert_eq!(paid["payouts"][1]["amount_sek"], second.as_str());
    let payments = w.swish.payments();
    assert_eq!(payments.len(), 2, "{payments:?}");
    assert!(payments.values().all(|&n| n == 1), "{payments:?}");
    // A callback repeated after settlement asks nobody and changes nothing.
    let again = callback(&w.n, &json!({"payoutInstructionUUID": id, "status": "PAID"}).to_string());
    assert_eq!((again.status, again.body["state"].as_str()), (200, Some("paid")), "{}", again.body);
    assert_eq!(w.swish.payments()[&id], 1);

    // Personal data never reaches the log.
    let log = w.n.log_text();
    assert!(!log.contains("701234567") && !log.contains("199001010017") && !log.contains(SSN), "the payee leaked into the log");
}

#[test]
fn a_forged_callback_claiming_paid_changes_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let w = world(dir.path());
    w.swish.hold();
    let mut phone = Device::new();
    let reward = earn(&w, &mut phone, 0);
    let token = phone.token().to_owned();
    assert_eq!(put_payee(&w.n, &token, "0701234567", SSN).status, 200);
    let id = eventually(SETTLE_WITHIN, "the instruction at Swish", || w.swish.payouts().keys().next().cloned());
    let in_flight = payout_becomes(&w.n, &token, "in_flight");
    assert_eq!(in_flight["payouts"][0]["id"], id.as_str());

    // Anyone can post to the callback URL: a PAID that Swish does not confirm records nothing.
    let forged = json!({"payoutInstructionUUID": id, "status": "PAID", "amount": reward, "datePaid": "2026-12-07T10:00:00Z"});
    let r = callback(&w.n, &forged.to_string());
    assert_eq!((r.status, r.body["state"].as_str()), (200, Some("in_flight")), "{}", r.body);
    let still = wallet(&w.n, &token);
    assert_eq!(still["payouts"][0]["state"], "in_flight", "{still}");
    assert_eq!(w.swish.payments(), Default::default());

    // Bad bodies and unknown ids.
    callback(&w.n, &json!({"payoutInstructionUUID": "0".repeat(32), "status": "PAID"}).to_string()).problem(404, "payout-not-found");
    callback(&w.n, &json!({"payoutInstructionUUID": id.to_lowercase(), "status": "PAID"}).to_string()).problem(400, "invalid-swish-callback");
    callback(&w.n, &json!({"status": "PAID"}).to_string()).problem(400, "invalid-swish-callback");
    callback(&w.n, "not json").problem(400, "invalid-swish-callback");
    let huge = format!("{{\"payoutInstructionUUID\": \"{id}\", \"pad\": \"{}\"}}", "x".repeat(20_000));
    callback(&w.n, &huge).problem(413, "body-too-large");
    assert_eq!(wallet(&w.n, &token)["payouts"][0]["state"], "in_flight");

    // Swish settles it for real: its callback, checked with Swish, pays it once.
    w.swish.release();
    payout_becomes(&w.n, &token, "paid");
    assert_eq!(w.swish.payments()[&id], 1);
}

#[test]
fn a_refused_payout_returns_the_money_to_the_balance_with_its_reason() {
    let dir = tempfile::tempdir().expect("tmp");
    let w = world(dir.path());
    w.swish.fail_payee("46709999999", "ACMT07");
    let mut phone = Device::new();
    let reward = earn(&w, &mut phone, 0);
    let token = phone.token().to_owned();
    assert_eq!(put_payee(&w.n, &token, "070-999 99 99", SSN).status, 200);
    let failed = payout_becomes(&w.n, &token, "failed");
    let reason = failed["payouts"][0]["reason"].as_str().expect("a reason").to_owned();
    assert!(reason.contains("Swishnummer"), "a reason a customer understands: {reason}");
    assert_eq!(failed["balance_sek"], reward.as_str(), "the money is back on the balance: {failed}");
    assert_eq!(w.swish.payments(), Default::default());

    // With the right number, the next payout goes out and is paid.
    assert_eq!(put_payee(&w.n, &token, "070-123 45 67", SSN).status, 200);
    let paid = payout_becomes(&w.n, &token, "paid");
    assert_eq!(paid["payouts"][1]["amount_sek"], reward.as_str(), "{paid}");
    assert_eq!(paid["balance_sek"], "0.00");
}

#[test]
fn a_payout_retried_across_a_killed_node_is_paid_exactly_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut w = world(dir.path());
    w.swish.hold();
    let mut phone = Device::new();
    earn(&w, &mut phone, 0);
    let token = phone.token().to_owned();
    assert_eq!(put_payee(&w.n, &token, "070-123 45 67", SSN).status, 200);
    let id = eventually(SETTLE_WITHIN, "the instruction at Swish", || w.swish.payouts().keys().next().cloned());

    // The only node dies with the payout in flight; it comes back and sends the SAME id again.
    w.n.kill9();
    w.n.restart();
    eventually(SETTLE_WITHIN, "the restarted node sent the instruction again", || (w.swish.creates().get(&id).copied().unwrap_or(0) >= 2).then_some(()));
    assert_eq!(w.swish.payouts().len(), 1, "one instruction id, whatever was retried: {:?}", w.swish.creates());
    assert_eq!(wallet(&w.n, &token)["payouts"][0]["state"], "in_flight");

    w.swish.release();
    let paid = payout_becomes(&w.n, &token, "paid");
    assert_eq!(paid["payouts"].as_array().map(Vec::len), Some(1), "{paid}");
    assert_eq!(w.swish.payments()[&id], 1, "paid exactly once");
    assert_eq!(w.swish.refused(), Vec::<String>::new());
}

#[test]
fn erasure_removes_the_swish_number() {
    let dir = tempfile::tempdir().expect("tmp");
    // A minimum no reward reaches: the payee stays in the wallet, no payout takes a copy of it.
    let w = world_with(dir.path(), &[("payouts.minimum_sek", "10000")]);
    let mut phone = Device::new();
    let reward = earn(&w, &mut phone, 0);
    let token = phone.token().to_owned();
    assert_eq!(put_payee(&w.n, &token, "070-123 45 67", SSN).status, 200);
    assert_eq!(wallet(&w.n, &token)["has_payee"], true);

    let erased = w.n.post("/v1/privacy/erase", json!({"device_token": token}));
    assert_eq!(erased.status, 200, "{}", erased.body);
    assert_eq!(erased.body["payee_erased"], true, "{}", erased.body);
    let after = wallet(&w.n, &token);
    assert_eq!(after["has_payee"], false, "{after}");
    assert_eq!(after["balance_sek"], reward.as_str(), "the money stays the customer's: {after}");
    assert_eq!(after["payouts"], json!([]), "{after}");
    // Erasing again finds no payee; nothing ever went to Swish.
    assert_eq!(w.n.post("/v1/privacy/erase", json!({"device_token": token})).body["payee_erased"], false);
    assert_eq!(w.swish.creates(), Default::default());
}

#[test]
fn a_cluster_without_a_payee_key_keeps_no_payees_and_takes_no_callbacks() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[]);
    let biz = create_business(&n, "100.00");
    let mut phone = Device::new();
    phone.open(&n, &biz.token);
    put_payee(&n, phone.token(), "070-123 45 67", SSN).problem(404, "payees-off");
    callback(&n, &json!({"payoutInstructionUUID": "A".repeat(32)}).to_string()).problem(404, "swish-not-configured");
}

#[test]
fn the_reward_page_takes_the_payee_without_javascript_and_shows_a_failure_in_words() {
    let dir = tempfile::tempdir().expect("tmp");
    let w = world(dir.path());
    w.swish.fail_payee("46709999999", "ACMT07");
    let page = format!("{}/q/{}", w.n.url, w.biz.token);
    let mut browser = Phone::default().with_header("origin", &w.n.url);

    // The whole flow with form posts, as a phone without JavaScript does it.
    browser.get(&page).html(200);
    assert_eq!(browser.post(&format!("{page}/open"), &[]).status, 303);
    let offered = offered_time(browser.get(&page).html(200));
    let r = browser.post(&format!("{page}/purchase"), &[("amount", "200,00"), ("purchased_at", &offered), ("receipt", "K-1")]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(browser.post(&format!("{page}/feedback"), &[("text", distinct_feedback(4))]).status, 303);
    let reward_step = browser.get(&page);
    let html = reward_step.html(200);
    assert!(html.contains("id=\"payee\"") && html.contains("action=\"/q/") && html.contains("name=\"swish_number\"") && html.contains("name=\"personnummer\""), "{html}");
    assert!(html.contains("Swish kräver"), "the form says why Swish needs the personnummer: {html}");

    // Refused input comes back as the page with the problem in words, the numbers not echoed.
    let bad = browser.post(&format!("{page}/payee"), &[("swish_number", "08-555 123 45"), ("personnummer", SSN)]);
    let html = bad.html(422);
    assert!(html.contains("inte ett svenskt mobilnummer"), "{html}");
    assert!(!html.contains("555 123 45") && !html.contains(SSN), "typed numbers are not echoed: {html}");
    // The same Origin check as the page's other forms.
    let mut foreign = Phone::default().with_header("origin", "https://evil.example");
    foreign.cookies = browser.cookies.clone();
    assert_eq!(foreign.post(&format!("{page}/payee"), &[("swish_number", "070-999 99 99"), ("personnummer", SSN)]).status, 400);
    assert_eq!(w.swish.creates(), Default::default());

    // Given: 303 back to the page; the payout goes out, Swish refuses the number, and the page
    // says why in the customer's language, with the money back on the balance.
    let given = browser.post(&format!("{page}/payee"), &[("swish_number", "070-999 99 99"), ("personnummer", SSN)]);
    assert_eq!(given.status, 303, "{}", given.body);
    let html = eventually(SETTLE_WITHIN, "the failed payout on the page", || {
        let html = browser.get(&page).body;
        html.contains("data-state=\"failed\"").then_some(html)
    });
    assert!(html.contains("id=\"payee-set\"") && html.contains("Kontrollera ditt Swishnummer"), "{html}");
    assert!(!html.contains("709999999"), "the number is never shown whole: {html}");
    let english = browser.get(&format!("{page}?lang=en")).body;
    assert!(english.contains("not connected to Swish"), "{english}");
}

#[test]
fn a_payout_whose_wallet_owner_is_killed_is_resumed_by_a_survivor_and_paid_exactly_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let stripe = FakeStripe::start(dir.path());
    let swish = FakeSwish::start(&dir.path().join("swish"));
    let o = overrides(&stripe, &swish, &[("timeouts.failover_after_ms", "1000")]);
    let pairs: Vec<(&str, &str)> = o.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut c = Cluster3::start(&dir.path().join("cluster"), &pairs);
    let biz = funded_business(&stripe, &c.nodes[0]);
    swish.hold();
    let mut phone = Device::new();
    let sid = phone.open(&c.nodes[0], &biz.token);
    assert_eq!(purchase(&c.nodes[0], &sid, "200.00", "T-1").status, 200);
    let s = feedback(&c.nodes[0], &sid, distinct_feedback(0));
    assert_ne!(s.body["reward_sek"], "0.00", "{}", s.body);
    let token = phone.token().to_owned();
    assert_eq!(put_payee(&c.nodes[0], &token, "070-123 45 67", SSN).status, 200);
    let id = eventually(SETTLE_WITHIN, "the instruction at Swish", || swish.payouts().keys().next().cloned());

    // The node owning the wallet (and driving its payout) dies with the payout in flight.
    let status = c.nodes[0].operator_get("/v1/cluster", &[("authorization", &format!("Bearer {OPERATOR_TOKEN}"))]);
    assert_eq!(status.status, 200, "{}", status.body);
    let members = status.body["members"].as_array().cloned().unwrap_or_default();
    let owner = members.iter().find(|m| m["actors_by_kind"]["wallet"] == 1).and_then(|m| m["id"].as_u64()).expect("the wallet's owner");
    let owner = usize::try_from(owner - 1).expect("index");
    let survivor = (owner + 1) % 3;
    swish.callback_to(&c.nodes[survivor].url);
    c.nodes[owner].kill9();

    // A survivor takes the payout over and sends the SAME instruction id again.
    eventually(Duration::from_secs(60), "a survivor sent the instruction again", || (swish.creates().get(&id).copied().unwrap_or(0) >= 2).then_some(()));
    assert_eq!(swish.payouts().len(), 1, "one instruction id, whatever was retried: {:?}", swish.creates());

    // Swish settles it; its callback reaches a survivor, which asks Swish and records it once.
    swish.release();
    let paid = payout_becomes(&c.nodes[survivor], &token, "paid");
    assert_eq!(paid["payouts"].as_array().map(Vec::len), Some(1), "{paid}");
    assert_eq!(swish.payments()[&id], 1, "paid exactly once");
    assert_eq!(swish.refused(), Vec::<String>::new());
}
