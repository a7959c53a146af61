//! Abuse limits, tried as an attacker would through a real `svea` process: a flood of session
//! opens from one address, more rewarded sessions per device and day than allowed, the same and a
//! nearly same feedback text again, and rewards past the business's daily cap. Each is refused
//! (429, or a reward of 0 with the reason), and the business pays exactly the legitimate rewards.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::*;

/// Opens from one address in the flood test.
const FLOOD_REQUESTS: usize = 1000;
/// The bucket the flood test configures: small, so the flood outlasts it many times over.
const RATE_PER_S: u64 = 2;
const BURST: u64 = 20;

#[test]
fn a_flood_of_session_opens_from_one_address_gets_429_with_a_retry_after_that_works() {
    let dir = tempfile::tempdir().expect("tmp");
    let rate = RATE_PER_S.to_string();
    let burst = BURST.to_string();
    let n = NodeProc::start(dir.path(), &[("abuse.requests_per_second", &rate), ("abuse.burst", &burst)]);
    let token = create_business(&n, "1000.00").token;

    let started = Instant::now();
    let mut served = 0u64;
    let mut last_limited = None;
    for i in 0..FLOOD_REQUESTS {
        let r = n.post("/v1/sessions", json!({"qr_token": token}));
        if r.status == 429 {
            r.problem(429, "rate-limited");
            let retry: u64 = r.header("retry-after").expect("Retry-After on 429").parse().expect("whole seconds");
            assert!((1..=BURST / RATE_PER_S).contains(&retry), "Retry-After {retry}");
            last_limited = Some(retry);
        } else {
            assert_eq!(r.status, 201, "{}", r.body);
            served += 1;
        }
        if i % 100 == 0 {
            // Probes are never limited: a node under attack still shows it is alive and ready.
            assert_eq!(n.get("/health").status, 200);
            assert_eq!(n.get("/ready").status, 200);
        }
    }
    let elapsed = started.elapsed().as_secs() + 1;
    // The bucket (create_business took one token) plus what refilled while the flood ran.
    assert!(served <= BURST + RATE_PER_S * elapsed, "{served} of {FLOOD_REQUESTS} served in {elapsed} s");
    assert!(served >= BURST - 1, "the burst is served: {served}");
    let retry = last_limited.expect("the flood was limited");

    // Honouring Retry-After lets the next request through.
    std::thread::sleep(Duration::from_secs(retry));
    let r = n.post("/v1/sessions", json!({"qr_token": token}));
    assert_eq!(r.status, 201, "after waiting {retry} s: {}", r.body);
}

#[test]
fn repeated_devices_texts_and_the_daily_cap_are_not_paid_and_say_why() {
    let dir = tempfile::tempdir().expect("tmp");
    // One rewarded session per device and day (the default), a 150 SEK daily cap; purchases up
    // to 10 000 SEK may be declared (the highest ceiling there is).
    let n = NodeProc::start(dir.path(), &[("abuse.business_daily_reward_cap_sek", "150"), ("abuse.declared_amount_max_sek", "10000")]);
    let Biz { id: bid, token, key } = create_business(&n, "100000.00");
    let mut txn = 0;
    // A 10 000 SEK purchase earns more than the per-session maximum of 100 SEK in every tier.
    let mut session = |device: &mut Device, text: &str| {
        txn += 1;
        let sid = device.open(&n, &token);
        assert_eq!(purchase(&n, &sid, "10000.00", &format!("T-{txn}")).status, 200);
        let f = feedback(&n, &sid, text);
        assert_eq!(f.status, 200, "{}", f.body);
        assert_eq!(f.body["state"], "rewarded", "{}", f.body);
        // The session, read again, says the same.
        let s = n.get(&format!("/v1/sessions/{sid}"));
        assert_eq!((&s.body["reward_sek"], &s.body["withheld"]), (&f.body["reward_sek"], &f.body["withheld"]));
        (f.str("reward_sek"), f.body["withheld"].clone(), f.body["reward_capped_by"].clone())
    };
    let original = distinct_feedback(0);

    // A legitimate reward.
    let mut device = Device::new();
    assert_eq!(session(&mut device, original), ("100.00".into(), json!(null), json!("per-session")));
    // The same device (its token) again the same day, with a new text: unpaid.
    assert_eq!(session(&mut device, distinct_feedback(1)), ("0.00".into(), json!("device_daily_limit"), json!(null)));
    // The same text from another device, in other case and spacing: unpaid.
    let recased = format!("  {}\n", original.replacen("Latten", "LATTEN", 1).replace("Tyvärr", "tyvärr").replace(' ', "  "));
    assert_ne!(recased, original);
    assert_eq!(session(&mut Device::new(), &recased), ("0.00".into(), json!("duplicate_feedback"), json!(null)));
    // One word changed: still the same text.
    let edited = original.replace("Elin", "Sara");
    assert_ne!(edited, original);
    assert_eq!(session(&mut Device::new(), &edited), ("0.00".into(), json!("duplicate_feedback"), json!(null)));
    // A new device with a new text: paid, but only what is left of the 150 SEK cap.
    assert_eq!(session(&mut Device::new(), distinct_feedback(2)), ("50.00".into(), json!(null), json!("business-daily-cap")));
    // The cap is reached: the next legitimate-looking session is unpaid.
    assert_eq!(session(&mut Device::new(), distinct_feedback(3)), ("0.00".into(), json!("business_daily_cap"), json!(null)));

    // The business paid exactly the legitimate rewards: 100 + 50.
    let b = n.get_as(&format!("/v1/businesses/{bid}"), &key);
    assert_eq!(b.body["rewards_paid_sek"], "150.00", "{}", b.body);
    let a = n.get_as(&format!("/v1/businesses/{bid}/analytics"), &key);
    assert_eq!(a.body["rewards_paid_sek"], "150.00", "{}", a.body);

    // The decisions survive a restart unchanged (they are replicated state, not node memory).
    let mut n = n;
    n.terminate();
    n.restart();
    let b = n.get_as(&format!("/v1/businesses/{bid}"), &key);
    assert_eq!(b.body["rewards_paid_sek"], "150.00", "{}", b.body);
}

#[test]
fn the_tests_distinct_feedback_texts_are_reward_tier_and_unlike_each_other() {
    use svea_node::domain::{DuplicateRule, Fingerprint, RubricScorer, Scorer, Shingles};
    let a = svea_config::RawConfig::default().abuse;
    let rule = DuplicateRule { containment_percent: a.duplicate_containment_percent, similarity_percent: a.duplicate_similarity_percent };
    let mut texts = DISTINCT_FEEDBACK.to_vec();
    texts.push(GOOD_FEEDBACK);
    let scores: Vec<u8> = texts.iter().map(|t| RubricScorer.score(t).total).collect();
    assert!(scores.iter().all(|s| *s >= 50), "every text in a reward tier: {scores:?}");
    for (i, a) in texts.iter().enumerate() {
        for b in &texts[i + 1..] {
            assert!(!rule.judges(&Fingerprint::of(a), &Shingles::of(b)), "alike: {a} / {b}");
            assert!(!rule.judges(&Fingerprint::of(b), &Shingles::of(a)), "alike: {b} / {a}");
        }
    }
}

#[test]
fn a_business_daily_budget_below_the_cluster_cap_stops_its_rewards_there() {
    let dir = tempfile::tempdir().expect("tmp");
    // The cluster caps a business at 150 SEK a day; this business chooses 120.
    let n = NodeProc::start(dir.path(), &[("abuse.business_daily_reward_cap_sek", "150"), ("abuse.declared_amount_max_sek", "10000")]);
    let Biz { id: bid, token, key } = create_business(&n, "100000.00");
    let settings = format!("/v1/businesses/{bid}/settings");
    assert_eq!(n.get_as(&format!("/v1/businesses/{bid}"), &key).body["daily_budget_sek"], "150.00", "the cluster's cap until it sets its own");
    n.send_as("PATCH", &settings, &key, json!({"daily_budget_sek": "150.01"})).problem(422, "invalid-daily-budget");
    n.send_as("PATCH", &settings, &key, json!({"daily_budget_sek": "0"})).problem(422, "invalid-daily-budget");
    n.send_as("PATCH", &settings, &key, json!({"daily_budget_sek": "12O"})).problem(422, "invalid-amount");
    let r = n.send_as("PATCH", &settings, &key, json!({"daily_budget_sek": "120.00"}));
    assert_eq!((r.status, r.body["daily_budget_sek"].as_str()), (200, Some("120.00")), "{}", r.body);

    let mut txn = 0;
    let mut session = |text: &str| {
        txn += 1;
        let sid = Device::new().open(&n, &token);
        assert_eq!(purchase(&n, &sid, "10000.00", &format!("T-{txn}")).status, 200);
        let f = feedback(&n, &sid, text);
        assert_eq!(f.status, 200, "{}", f.body);
        (f.str("reward_sek"), f.body["withheld"].clone(), f.body["reward_capped_by"].clone())
    };
    assert_eq!(session(distinct_feedback(0)), ("100.00".into(), json!(null), json!("per-session")));
    assert_eq!(session(distinct_feedback(1)), ("20.00".into(), json!(null), json!("business-daily-cap")), "what is left of its own 120");
    assert_eq!(session(distinct_feedback(2)), ("0.00".into(), json!("business_daily_cap"), json!(null)));
}
