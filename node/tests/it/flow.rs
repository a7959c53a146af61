//! The whole customer flow, and that repeating any step never pays twice.

use serde_json::json;

use crate::harness::*;

#[test]
fn customer_flow_pays_once_and_updates_analytics() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[]);
    let Biz { id: bid, token, key } = create_business(&n, "5000.00");

    let b = n.get_as(&format!("/v1/businesses/{bid}"), &key);
    assert_eq!(b.status, 200);
    assert_eq!(b.body["home_region"], "malmo", "Lilla Torg is in Malmö");
    let org = b.body["org_number"].as_str().expect("org number");
    assert!(org.len() == 11 && org.as_bytes()[6] == b'-' && org.parse::<svea_node::domain::OrgNumber>().is_ok(), "{org}");
    assert_eq!(b.header("x-svea-region"), Some("stockholm"));
    let qr = b.body["locations"][0]["qr_token"].as_str().expect("token");
    assert!(qr.len() >= 43, "QR token carries at least 256 bits: {qr}");

    let mut device = Device::new();
    let sid = device.open(&n, &token);
    let s = n.get(&format!("/v1/sessions/{sid}"));
    assert_eq!(s.body["state"], "opened");
    assert_eq!(s.body["region"], "stockholm");

    // Scanning again from the same device (its token) while the session is open returns it,
    // creating nothing (and issuing no token again: `Device::scan` checks).
    let again = device.scan(&n, &token);
    assert_eq!(again.status, 200);
    assert_eq!(again.str("id"), sid);

    let p = purchase(&n, &sid, "249.00", "T-1001");
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.body["state"], "purchase_confirmed");
    assert_eq!(p.body["purchase"]["amount_sek"], "249.00");

    let f = feedback(&n, &sid, GOOD_FEEDBACK);
    assert_eq!(f.status, 200, "{}", f.body);
    let score = f.body["quality_score"].as_u64().expect("score");
    assert!((50..=100).contains(&score), "good feedback lands in a reward tier, got {score}");
    let expected_pct = match score {
        50..=69 => 2,
        70..=84 => 5,
        _ => 8,
    };
    let expected_ore = 24_900 * expected_pct / 100;
    let expected_sek = format!("{}.{:02}", expected_ore / 100, expected_ore % 100);
    assert_eq!(f.body["state"], "rewarded");
    assert_eq!(f.body["reward_sek"], expected_sek);

    // Replaying the feedback returns the same result and pays nothing more.
    let f2 = feedback(&n, &sid, GOOD_FEEDBACK);
    assert_eq!(f2.status, 200);
    assert_eq!(f2.body["reward_sek"], expected_sek);
    assert_eq!(f2.body["quality_score"], f.body["quality_score"]);
    // Replaying the purchase with the same data is accepted and changes nothing.
    let p2 = n.post(
        &format!("/v1/sessions/{sid}/purchase"),
        json!({"amount_sek": "249.00", "purchased_at": p.body["purchase"]["purchased_at"], "transaction_id": "T-1001"}),
    );
    assert_eq!(p2.status, 200, "{}", p2.body);
    assert_eq!(p2.body["state"], "rewarded");
    // Other feedback on a completed session is refused.
    feedback(&n, &sid, "Helt annan text som är lång nog att räknas.").problem(409, "feedback-already-submitted");

    let a = n.get_as(&format!("/v1/businesses/{bid}/analytics"), &key);
    assert_eq!(a.status, 200);
    assert_eq!(a.body["sessions"], json!({"opened": 1, "completed": 1, "rejected": 0, "expired": 0}));
    assert_eq!(a.body["rewards_paid_sek"], expected_sek);
    assert_eq!(a.body["average_score"].as_f64(), Some(score as f64));
    let tier = match expected_pct {
        2 => "low",
        5 => "mid",
        _ => "high",
    };
    assert_eq!(a.body["tiers"][tier], 1);
    assert_eq!(a.body["per_day"].as_array().map(|d| d.len()), Some(1));
    let remaining = 500_000 - expected_ore;
    assert_eq!(a.body["remaining_budget_sek"], format!("{}.{:02}", remaining / 100, remaining % 100));

    // A new scan from the same device after completion opens a new session.
    let sid2 = device.open(&n, &token);
    assert_ne!(sid2, sid);
}

#[test]
fn low_quality_feedback_is_rejected_without_reward() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[]);
    let Biz { id: bid, token, key } = create_business(&n, "5000.00");
    let sid = open_session(&n, &token);
    assert_eq!(purchase(&n, &sid, "100.00", "T-9").status, 200);
    let f = feedback(&n, &sid, "bra bra bra bra bra bra bra bra bra");
    assert_eq!(f.status, 200, "{}", f.body);
    assert_eq!(f.body["state"], "rejected");
    assert_eq!(f.body["reward_sek"], "0.00");
    let a = n.get_as(&format!("/v1/businesses/{bid}/analytics"), &key);
    assert_eq!(a.body["sessions"]["rejected"], 1);
    assert_eq!(a.body["rewards_paid_sek"], "0.00");
    assert_eq!(a.body["tiers"]["none"], 1);
}

#[test]
fn rewards_are_capped_per_session_and_by_the_budget() {
    let dir = tempfile::tempdir().expect("tmp");
    // Purchases up to 10 000 SEK may be declared (the highest ceiling there is).
    let n = NodeProc::start(dir.path(), &[("abuse.declared_amount_max_sek", "10000")]);
    // 150 SEK budget, 8 % on 10 000 SEK would be 800 SEK: capped to 100 SEK per session.
    let r = n.post(
        "/v1/businesses",
        json!({
            "name": "Sportbutiken", "org_number": ORG_NUMBER,
            "locations": [{"name": "Drottninggatan", "lat": 59.334, "lon": 18.063}],
            "reward_budget_sek": "150.00",
            "reward_percentages": {"low": "8", "mid": "8", "high": "8"}
        }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["home_region"], "stockholm");
    let bid = r.str("id");
    let key = r.str("api_key");
    let token = r.body["locations"][0]["qr_token"].as_str().expect("token").to_string();
    let mut paid = Vec::new();
    for i in 0..3 {
        let sid = open_session(&n, &token);
        assert_eq!(purchase(&n, &sid, "10000.00", &format!("T-{i}")).status, 200);
        let f = feedback(&n, &sid, distinct_feedback(i));
        assert_eq!(f.status, 200, "{}", f.body);
        paid.push((f.str("reward_sek"), f.body["reward_capped_by"].clone()));
    }
    assert_eq!(paid[0], ("100.00".to_string(), json!("per-session")));
    assert_eq!(paid[1], ("50.00".to_string(), json!("budget")));
    assert_eq!(paid[2], ("0.00".to_string(), json!("budget")));
    let b = n.get_as(&format!("/v1/businesses/{bid}"), &key);
    assert_eq!(b.body["rewards_paid_sek"], "150.00");
    assert_eq!(b.body["remaining_budget_sek"], "0.00");
}

#[test]
fn health_and_readiness() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut n = NodeProc::start(dir.path(), &[]);
    assert_eq!(n.get("/health").status, 200);
    let r = n.get("/ready");
    assert_eq!(r.status, 200);
    assert_eq!(r.body["leader"], 1);
    // A clean stop exits 0.
    assert_eq!(n.terminate(), Some(0));
}
