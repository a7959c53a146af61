//! One attacker against one node, every attack issue 13 names, in one run: each is refused, and
//! afterwards each business has paid exactly the rewards of its legitimate customers. (The removed
//! node's certificate needs a cluster: `transport::a_removed_nodes_certificate_is_refused`.)

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::*;
use crate::pos::{confirm, paid, register_tills, reward_ore, shopify, zettle, SHOPIFY_KEY, ZETTLE_KEY};

/// The attacker's address, as the trusted proxy in front of the node reports it.
const ATTACKER: &str = "198.51.100.7";
/// Requests the attacker fires at the session endpoint.
const FLOOD: usize = 1000;
/// The per-address bucket of this node.
const BURST: u64 = 200;
const RATE_PER_S: u64 = 5;

/// A customer's step through the proxy from their own address.
fn post_from(n: &NodeProc, ip: &str, path: &str, body: serde_json::Value) -> Resp {
    n.post_with(path, body, &[("x-forwarded-for", ip)])
}

#[test]
fn every_attack_is_refused_and_each_business_pays_exactly_the_legitimate_rewards() {
    let dir = tempfile::tempdir().expect("tmp");
    let (rate, burst) = (RATE_PER_S.to_string(), BURST.to_string());
    let n = NodeProc::start(
        dir.path(),
        &[
            ("abuse.requests_per_second", &rate),
            ("abuse.burst", &burst),
            ("geo.trusted_proxies", "127.0.0.1"),
            ("pos.await_purchase_ms", "1500"),
            ("node.routing", "serve"),
        ],
    );
    let cafe = create_business(&n, "100000.00");
    let shop = create_business(&n, "100000.00");
    register_tills(&n, &shop, &format!("{}/v1/pos/square/webhook", n.url));
    let mut legit_cafe = 0i64;
    let mut legit_shop = 0i64;

    // --- Business data: no key, another business's key, the operator API on the public port.
    for path in [format!("/v1/businesses/{}", cafe.id), format!("/v1/businesses/{}/analytics", cafe.id)] {
        n.get(&path).problem(401, "unauthorized");
        n.get_as(&path, &shop.key).problem(404, "business-not-found");
    }
    n.post_with(&format!("/v1/businesses/{}/keys", cafe.id), json!({}), &[("authorization", &format!("Bearer {}", shop.key))])
        .problem(404, "business-not-found");
    for path in ["/v1/cluster", "/v1/cluster/self"] {
        assert_eq!(n.get(path).status, 404, "{path} on the public port");
        assert_eq!(n.get_with(path, &[("authorization", "Bearer operator-token-guess")]).status, 404);
    }

    // --- A registered organisation number, again.
    let org = n.get_as(&format!("/v1/businesses/{}", cafe.id), &cafe.key).str("org_number");
    let copy = json!({"name": "Kopian", "org_number": org, "locations": [{"name": "x", "lat": 59.3, "lon": 18.0}], "reward_budget_sek": "1.00"});
    n.post("/v1/businesses", copy).problem(409, "org-number-registered");

    // --- 1,000 session opens from one address: 429 after the bucket; Retry-After works.
    let started = Instant::now();
    let (mut served, mut retry_after) = (0u64, None);
    for i in 0..FLOOD {
        let r = post_from(&n, ATTACKER, "/v1/sessions", json!({"qr_token": cafe.token, "device_id": format!("bot-{i}")}));
        if r.status == 429 {
            r.problem(429, "rate-limited");
            retry_after = Some(r.header("retry-after").expect("Retry-After").parse::<u64>().expect("whole seconds"));
        } else {
            assert_eq!(r.status, 201, "{}", r.body);
            served += 1;
        }
    }
    let elapsed = started.elapsed().as_secs() + 1;
    assert!(served <= BURST + RATE_PER_S * elapsed, "{served} of {FLOOD} opens served in {elapsed} s");
    let retry = retry_after.expect("the flood was limited");
    // Others are not limited by the attacker's bucket, and the attacker is let in after waiting.
    assert_eq!(post_from(&n, "203.0.113.20", "/v1/sessions", json!({"qr_token": cafe.token, "device_id": "bystander"})).status, 201);
    std::thread::sleep(Duration::from_secs(retry));
    assert_eq!(post_from(&n, ATTACKER, "/v1/sessions", json!({"qr_token": cafe.token, "device_id": "bot-patient"})).status, 201);

    // --- Self-declared café: one legitimate reward, then the same device again, the same text,
    //     a near-same text: each unpaid, and the answer says why.
    let flow = |device: &str, txn: &str, text: &str| {
        let sid = open_session(&n, &cafe.token, device);
        assert_eq!(purchase(&n, &sid, "1000.00", txn).status, 200);
        let f = feedback(&n, &sid, text);
        assert_eq!((f.status, f.body["state"].as_str()), (200, Some("rewarded")), "{}", f.body);
        f
    };
    let text = distinct_feedback(4);
    legit_cafe += reward_ore(&flow("phone-anna", "K-1", text));
    let again = flow("phone-anna", "K-2", distinct_feedback(5));
    assert_eq!((again.str("reward_sek"), &again.body["withheld"]), ("0.00".into(), &json!("device_daily_limit")));
    let copied = flow("phone-bot-1", "K-3", text);
    assert_eq!((copied.str("reward_sek"), &copied.body["withheld"]), ("0.00".into(), &json!("duplicate_feedback")));
    let (first, rest) = text.split_once(' ').expect("words");
    let near = format!(" {} {} ", first.to_uppercase(), rest.replace(' ', "   "));
    let near = flow("phone-bot-2", "K-4", &near);
    assert_eq!((near.str("reward_sek"), &near.body["withheld"]), ("0.00".into(), &json!("duplicate_feedback")));

    // --- Till-verified shop: one legitimate purchase reported by the till backs one reward.
    let hook = shopify("evt-legit-1", "#5001", "400.00");
    assert_eq!(hook.send(&n).body["status"], "recorded");
    let sid = open_session(&n, &shop.token, "phone-bengt");
    assert_eq!(confirm(&n, &sid, "400.00", "#5001").status, 200);
    legit_shop += reward_ore(&feedback(&n, &sid, distinct_feedback(6)));
    // The same delivery replayed: nothing new; another session claiming that purchase: refused.
    assert_eq!(hook.send(&n).body["status"], "duplicate");
    let thief = open_session(&n, &shop.token, "phone-thief");
    confirm(&n, &thief, "400.00", "#5001").problem(409, "purchase-already-claimed");
    // Forged deliveries: another key, an altered amount. Nothing is recorded.
    zettle("not-the-shops-signing-key-0123456789", "m-forged", 77, 90_000, chrono::Utc::now()).send(&n).problem(401, "invalid-signature");
    let mut altered = shopify("evt-altered", "#5002", "10.00");
    altered.body = altered.body.replace("\"10.00\"", "\"900.00\"");
    altered.send(&n).problem(401, "invalid-signature");
    assert!(!SHOPIFY_KEY.is_empty() && !ZETTLE_KEY.is_empty());
    // A purchase the till never reported (and the forged ones): the confirmation waits, then is
    // refused; no feedback can be paid for it.
    for (i, (amount, receipt)) in [("750.00", "#5999"), ("900.00", "77"), ("900.00", "#5002")].iter().enumerate() {
        let sid = open_session(&n, &shop.token, &format!("phone-liar-{i}"));
        assert_eq!(confirm(&n, &sid, amount, receipt).status, 202);
        eventually(Duration::from_secs(20), "the await window to pass", || {
            (n.get(&format!("/v1/sessions/{sid}")).body["purchase_refused"] == "purchase-not-reported").then_some(())
        });
        confirm(&n, &sid, amount, receipt).problem(409, "purchase-not-reported");
        feedback(&n, &sid, distinct_feedback(7)).problem(409, "purchase-not-confirmed");
    }

    // --- Afterwards: each business paid exactly its legitimate customers' rewards.
    let sek = |ore: i64| svea_node::domain::Ore::from_ore(ore).to_sek_string();
    assert!(legit_cafe > 0 && legit_shop > 0);
    assert_eq!(paid(&n, &cafe), sek(legit_cafe));
    assert_eq!(paid(&n, &shop), sek(legit_shop));
    let a = n.get_as(&format!("/v1/businesses/{}/analytics", cafe.id), &cafe.key);
    assert_eq!(a.body["rewards_paid_sek"], sek(legit_cafe), "{}", a.body);
}

/// A node for the till attacks: production's request bucket is far above what these tests send,
/// and a short await window keeps each unbacked try quick.
fn till_node(dir: &std::path::Path) -> NodeProc {
    NodeProc::start(dir, &[("pos.await_purchase_ms", "1500"), ("node.routing", "serve")])
}

/// Waits until the session's try has ended unbacked, and returns the session as it is then.
fn refused(n: &NodeProc, sid: &str) -> Resp {
    eventually(Duration::from_secs(20), "the await window to pass", || {
        let s = n.get(&format!("/v1/sessions/{sid}"));
        (s.body["state"] == "opened" && s.body["purchase_refused"].is_string()).then_some(s)
    })
}

/// The keys of a JSON object, sorted: the shape of an answer.
fn shape(v: &serde_json::Value) -> Vec<String> {
    let mut keys: Vec<String> = v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    keys.sort();
    keys
}

#[test]
fn guessing_the_amount_of_a_reported_receipt_gets_the_not_reported_answer_and_three_tries() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = till_node(dir.path());
    let shop = create_business(&n, "100000.00");
    register_tills(&n, &shop, &format!("{}/v1/pos/square/webhook", n.url));
    // The till reported receipt #7001 of 400.00 (Shopify order names are sequential).
    assert_eq!(shopify("evt-guess-1", "#7001", "400.00").send(&n).body["status"], "recorded");
    // The attacker guesses its amount; a control session tries a receipt the till never reported.
    let guesser = open_session(&n, &shop.token, "phone-guesser");
    let control = open_session(&n, &shop.token, "phone-control");
    for (try_no, amount) in ["1.00", "2.00", "3.00"].iter().enumerate() {
        let g = confirm(&n, &guesser, amount, "#7001");
        let c = confirm(&n, &control, amount, "#7999");
        // The same status, the same shape, the same state: a mismatch is a purchase the till has
        // not reported.
        assert_eq!((g.status, c.status), (202, 202), "try {try_no}: {} / {}", g.body, c.body);
        assert_eq!(shape(&g.body), shape(&c.body));
        for field in ["state", "purchase_refused", "purchase_refunded"] {
            assert_eq!(g.body[field], c.body[field], "{field}: {} / {}", g.body, c.body);
        }
        assert!(g.body["awaiting_purchase_until"].is_string(), "{}", g.body);
        // Both end the same way when the window passes, and a retry is answered alike at once.
        let (g, c) = (refused(&n, &guesser), refused(&n, &control));
        assert_eq!((&g.body["purchase_refused"], &c.body["purchase_refused"]), (&json!("purchase-not-reported"), &json!("purchase-not-reported")));
        assert_eq!(shape(&g.body), shape(&c.body));
        // (After the third, the session's tries are spent, and that is the answer.)
        let kind = if try_no < 2 { "purchase-not-reported" } else { "purchase-tries-exhausted" };
        let (g, c) = (confirm(&n, &guesser, amount, "#7001"), confirm(&n, &control, amount, "#7999"));
        g.problem(409, kind);
        c.problem(409, kind);
    }
    // Three unbacked tries: the session can no longer claim a till purchase, even with the right
    // amount, and the control session is told the same (the count says nothing about receipts).
    confirm(&n, &guesser, "400.00", "#7001").problem(409, "purchase-tries-exhausted");
    confirm(&n, &control, "400.00", "#7001").problem(409, "purchase-tries-exhausted");
    // The customer who holds the receipt still claims it and is rewarded.
    let holder = open_session(&n, &shop.token, "phone-holder");
    let c = confirm(&n, &holder, "400.00", "#7001");
    assert_eq!((c.status, c.body["state"].as_str()), (200, Some("purchase_confirmed")), "{}", c.body);
    let reward = reward_ore(&feedback(&n, &holder, distinct_feedback(1)));
    assert_eq!(paid(&n, &shop), svea_node::domain::Ore::from_ore(reward).to_sek_string());
    // The guesser earned nothing.
    feedback(&n, &guesser, distinct_feedback(2)).problem(409, "purchase-not-confirmed");
}

#[test]
fn five_mismatches_across_sessions_lock_a_receipt_until_the_business_releases_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = till_node(dir.path());
    let shop = create_business(&n, "100000.00");
    let other = create_business(&n, "100.00");
    register_tills(&n, &shop, &format!("{}/v1/pos/square/webhook", n.url));
    assert_eq!(shopify("evt-lock-1", "#8001", "250.00").send(&n).body["status"], "recorded");
    let locks = format!("/v1/businesses/{}/pos/locks", shop.id);
    assert_eq!(n.get_as(&locks, &shop.key).body["locks"], json!([]));
    // Five sessions, five wrong amounts: each answered as not reported.
    for i in 0..5 {
        let sid = open_session(&n, &shop.token, &format!("phone-locker-{i}"));
        let r = confirm(&n, &sid, &format!("{}.00", 10 + i), "#8001");
        assert_eq!((r.status, r.body["state"].as_str()), (202, Some("awaiting_purchase")), "{}", r.body);
    }
    let listed = n.get_as(&locks, &shop.key);
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["locks"][0]["receipt"], "#8001", "{}", listed.body);
    let location = listed.body.pointer("/locks/0/location_id").and_then(|v| v.as_str()).expect("location_id").to_owned();
    // Locked: the holder's exact amount is answered as not reported too, and ends so.
    let holder = open_session(&n, &shop.token, "phone-holder");
    assert_eq!(confirm(&n, &holder, "250.00", "#8001").status, 202);
    assert_eq!(refused(&n, &holder).body["purchase_refused"], "purchase-not-reported");
    // Only the business releases it: not anonymously, not with another business's key.
    let release = format!("/v1/businesses/{}/pos/locks/release", shop.id);
    let body = json!({"location_id": location, "receipt": "#8001"});
    crate::pos::method(&n, "POST", &release, body.clone(), None).problem(401, "unauthorized");
    crate::pos::method(&n, "POST", &release, body.clone(), Some(&other.key)).problem(404, "business-not-found");
    let r = crate::pos::method(&n, "POST", &release, body.clone(), Some(&shop.key));
    assert_eq!((r.status, &r.body["released"]), (200, &json!(true)), "{}", r.body);
    assert_eq!(crate::pos::method(&n, "POST", &release, body, Some(&shop.key)).body["released"], json!(false));
    assert_eq!(n.get_as(&locks, &shop.key).body["locks"], json!([]));
    // Released: the holder's same confirmation now claims it.
    let c = confirm(&n, &holder, "250.00", "#8001");
    assert_eq!((c.status, c.body["state"].as_str()), (200, Some("purchase_confirmed")), "{}", c.body);
    assert!(reward_ore(&feedback(&n, &holder, distinct_feedback(3))) > 0);
}

#[test]
fn a_session_waiting_on_a_receipt_does_not_block_its_holder() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = till_node(dir.path());
    let shop = create_business(&n, "100000.00");
    register_tills(&n, &shop, &format!("{}/v1/pos/square/webhook", n.url));
    // Before the till reports: the attacker waits on the receipt with a guess, the holder with
    // the true amount; neither blocks the other.
    let attacker = open_session(&n, &shop.token, "phone-squatter");
    assert_eq!(confirm(&n, &attacker, "1.00", "#9001").status, 202);
    let holder = open_session(&n, &shop.token, "phone-holder");
    let h = confirm(&n, &holder, "120.00", "#9001");
    assert_eq!((h.status, h.body["state"].as_str()), (202, Some("awaiting_purchase")), "{}", h.body);
    // The till reports it: the exact match claims it, the guess ends as not reported.
    assert_eq!(shopify("evt-wait-1", "#9001", "120.00").send(&n).body["status"], "recorded");
    assert_eq!(n.get(&format!("/v1/sessions/{holder}")).body["state"], "purchase_confirmed");
    assert_eq!(refused(&n, &attacker).body["purchase_refused"], "purchase-not-reported");
    assert!(reward_ore(&feedback(&n, &holder, distinct_feedback(4))) > 0);
    // After the report: a waiting guess does not block the holder who comes later either.
    assert_eq!(shopify("evt-wait-2", "#9002", "80.00").send(&n).body["status"], "recorded");
    let attacker2 = open_session(&n, &shop.token, "phone-squatter-2");
    assert_eq!(confirm(&n, &attacker2, "2.00", "#9002").status, 202);
    let holder2 = open_session(&n, &shop.token, "phone-holder-2");
    let h2 = confirm(&n, &holder2, "80.00", "#9002");
    assert_eq!((h2.status, h2.body["state"].as_str()), (200, Some("purchase_confirmed")), "{}", h2.body);
    // The exact purchase backs one session only.
    let thief = open_session(&n, &shop.token, "phone-thief");
    confirm(&n, &thief, "80.00", "#9002").problem(409, "purchase-already-claimed");
    assert_eq!(refused(&n, &attacker2).body["purchase_refused"], "purchase-not-reported");
}

#[test]
fn buy_feedback_refund_reverses_the_reward_at_each_till() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = till_node(dir.path());
    let shop = create_business(&n, "100000.00");
    let url = format!("{}/v1/pos/square/webhook", n.url);
    register_tills(&n, &shop, &url);
    let sek = |ore: i64| svea_node::domain::Ore::from_ore(ore).to_sek_string();
    let cases = [
        ("zettle", zettle(ZETTLE_KEY, "m-buy-1", 41, 60_000, chrono::Utc::now()), "600.00", "41", crate::pos::zettle_refund("m-refund-1", 41, 42, 60_000)),
        ("square", crate::pos::square(&url, "e-buy-1", "SQ41", 70_000), "700.00", "SQ41", crate::pos::square_refund(&url, "e-refund-1", "SQ41", 70_000, "COMPLETED")),
        ("shopify", shopify("s-buy-1", "#4101", "800.00"), "800.00", "#4101", crate::pos::shopify_refund("s-refund-1", "#4101", "100.00")),
    ];
    for (i, (provider, buy, amount, receipt, refund)) in cases.iter().enumerate() {
        assert_eq!(buy.send(&n).body["status"], "recorded", "{provider}");
        let sid = open_session(&n, &shop.token, &format!("phone-refunder-{provider}"));
        assert_eq!(confirm(&n, &sid, amount, receipt).status, 200, "{provider}");
        let reward = reward_ore(&feedback(&n, &sid, distinct_feedback(i)));
        assert_eq!(paid(&n, &shop), sek(reward), "{provider}");
        // Refunded at the till (Shopify: partly; any refund takes the whole reward back).
        let r = refund.send(&n);
        assert_eq!((r.status, r.body["status"].as_str()), (200, Some("recorded")), "{provider}: {}", r.body);
        assert_eq!(paid(&n, &shop), "0.00", "{provider}: the paid amount goes back");
        let s = n.get(&format!("/v1/sessions/{sid}"));
        assert_eq!((&s.body["purchase_refunded"], &s.body["reward_reversed_sek"]), (&json!(true), &json!(sek(reward))), "{provider}: {}", s.body);
        // The same delivery again reverses nothing more.
        assert_eq!(refund.send(&n).body["status"], "duplicate", "{provider}");
        assert_eq!(paid(&n, &shop), "0.00", "{provider}");
    }
    // A pending Square refund is not a refund yet.
    assert_eq!(crate::pos::square(&url, "e-buy-2", "SQ42", 10_000).send(&n).body["status"], "recorded");
    let pending = crate::pos::square_refund(&url, "e-pending", "SQ42", 10_000, "PENDING").send(&n);
    assert_eq!(pending.body["status"], "duplicate", "{}", pending.body);
    // Cancelled before the feedback: the reward is withheld, and the session says why.
    assert_eq!(shopify("s-buy-3", "#4103", "500.00").send(&n).body["status"], "recorded");
    let sid = open_session(&n, &shop.token, "phone-canceller");
    assert_eq!(confirm(&n, &sid, "500.00", "#4103").status, 200);
    assert_eq!(crate::pos::shopify_cancelled("s-cancel-3", "#4103", "500.00").send(&n).body["status"], "recorded");
    let f = feedback(&n, &sid, distinct_feedback(5));
    assert_eq!((f.status, f.str("reward_sek"), &f.body["withheld"]), (200, "0.00".into(), &json!("purchase_refunded")), "{}", f.body);
    // Refunded before anyone claimed it: the purchase backs no session.
    assert_eq!(zettle(ZETTLE_KEY, "m-buy-4", 44, 30_000, chrono::Utc::now()).send(&n).body["status"], "recorded");
    assert_eq!(crate::pos::zettle_refund("m-refund-4", 44, 45, 30_000).send(&n).body["status"], "recorded");
    let late = open_session(&n, &shop.token, "phone-late");
    assert_eq!(confirm(&n, &late, "300.00", "44").status, 202);
    assert_eq!(refused(&n, &late).body["purchase_refused"], "purchase-not-reported");
    assert_eq!(paid(&n, &shop), "0.00");
}
