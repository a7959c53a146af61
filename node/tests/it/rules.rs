//! Every domain rule and every kind of bad input: a 4xx problem+json answer, and nothing changes.

use serde_json::{json, Value};

use crate::harness::*;

fn business_body(org: &str, budget: &str, lat: f64) -> Value {
    json!({"name": "Bageriet", "org_number": org, "locations": [{"name": "Storgatan", "lat": lat, "lon": 18.0}], "reward_budget_sek": budget})
}

#[test]
fn bad_business_input_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[]);
    // Luhn check digit wrong (the valid one ends in 3).
    n.post("/v1/businesses", business_body("556036-0794", "100.00", 59.0)).problem(422, "invalid-org-number");
    n.post("/v1/businesses", business_body("55603-60793", "100.00", 59.0)).problem(422, "invalid-org-number");
    n.post("/v1/businesses", business_body("abc", "100.00", 59.0)).problem(422, "invalid-org-number");
    // Without the dash it is valid.
    assert_eq!(n.post("/v1/businesses", business_body("5560360793", "100.00", 59.0)).status, 201);
    n.post("/v1/businesses", business_body(ORG_NUMBER, "-5.00", 59.0)).problem(422, "invalid-amount");
    n.post("/v1/businesses", business_body(ORG_NUMBER, "1,00", 59.0)).problem(422, "invalid-amount");
    n.post("/v1/businesses", business_body(ORG_NUMBER, "100.00", 91.0)).problem(422, "invalid-coordinates");
    n.post(
        "/v1/businesses",
        json!({"name": "X", "org_number": ORG_NUMBER, "locations": [], "reward_budget_sek": "1.00"}),
    )
    .problem(422, "location-count");
    n.post(
        "/v1/businesses",
        json!({"name": "  ", "org_number": ORG_NUMBER, "locations": [{"name": "a", "lat": 1.0, "lon": 1.0}], "reward_budget_sek": "1.00"}),
    )
    .problem(422, "business-name-length");
    n.post(
        "/v1/businesses",
        json!({"name": "X", "org_number": ORG_NUMBER, "locations": [{"name": "a", "lat": 1.0, "lon": 1.0}],
               "reward_budget_sek": "1.00", "reward_percentages": {"low": "9", "mid": "5", "high": "8"}}),
    )
    .problem(422, "invalid-reward-policy");
    // Business endpoints need a key (401 without); a key of another business finds nothing.
    n.get("/v1/businesses/b_00000000000000000000000000000000").problem(401, "unauthorized");
    let other = create_business(&n, "1.00");
    n.get_as("/v1/businesses/b_00000000000000000000000000000000", &other.key).problem(404, "business-not-found");
    n.get_as("/v1/businesses/garbage", &other.key).problem(404, "business-not-found");
}

#[test]
fn malformed_requests_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[("limits.http_body_bytes", "4096")]);
    n.post_raw("/v1/businesses", "application/json", b"{\"name\": ").problem(400, "malformed-json");
    n.post_raw("/v1/businesses", "application/json", b"{\"name\": 5}").problem(400, "invalid-body");
    n.post("/v1/businesses", json!({"nme": "typo"})).problem(400, "invalid-body");
    n.post_raw("/v1/businesses", "text/plain", b"hello").problem(415, "unsupported-media-type");
    let big = json!({"text": "x".repeat(5000)}).to_string();
    n.post_raw("/v1/sessions/s_00000000000000000000000000000000/feedback", "application/json", big.as_bytes())
        .problem(413, "body-too-large");
    n.get("/v1/nothing-here").problem(404, "no-route");
}

#[test]
fn bad_session_steps_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[]);
    let Biz { id: bid, token, key } = create_business(&n, "5000.00");
    let analytics_before = |n: &NodeProc| n.get_as(&format!("/v1/businesses/{bid}/analytics"), &key).body;

    // Unknown token and unknown session.
    n.post("/v1/sessions", json!({"qr_token": "A".repeat(43)})).problem(404, "qr-token-not-found");
    n.post("/v1/sessions", json!({"qr_token": "short"})).problem(404, "qr-token-not-found");
    n.post("/v1/sessions", json!({"qr_token": token, "device_id": "has space"})).problem(400, "device-id-refused");
    n.post("/v1/sessions", json!({"qr_token": token, "device_token": "has space"})).problem(401, "invalid-device-token");
    n.get("/v1/sessions/s_0123456789abcdef0123456789abcdef").problem(404, "session-not-found");
    purchase(&n, "s_0123456789abcdef0123456789abcdef", "10.00", "T").problem(404, "session-not-found");

    let sid = open_session(&n, &token);
    let opened = n.get(&format!("/v1/sessions/{sid}")).body;
    let a0 = analytics_before(&n);

    // Feedback before the purchase.
    feedback(&n, &sid, GOOD_FEEDBACK).problem(409, "purchase-not-confirmed");
    // Amount out of range, malformed amounts.
    purchase(&n, &sid, "0.99", "T-1").problem(422, "purchase-amount-out-of-range");
    purchase(&n, &sid, "100000.01", "T-1").problem(422, "purchase-amount-out-of-range");
    purchase(&n, &sid, "12.345", "T-1").problem(422, "invalid-amount");
    // Purchase time in the future, or more than 2 hours before the session opened.
    let p = |at: String| {
        n.post(&format!("/v1/sessions/{sid}/purchase"), json!({"amount_sek": "50.00", "purchased_at": at, "transaction_id": "T-1"}))
    };
    p((chrono::Utc::now() + chrono::Duration::minutes(10)).to_rfc3339()).problem(422, "purchase-in-future");
    p((chrono::Utc::now() - chrono::Duration::minutes(121)).to_rfc3339()).problem(422, "purchase-outside-window");
    p("yesterday".into()).problem(400, "invalid-timestamp");
    assert_eq!(n.get(&format!("/v1/sessions/{sid}")).body, opened, "refused steps changed the session");

    // A purchase 90 minutes before opening is inside the window.
    let ok = p((chrono::Utc::now() - chrono::Duration::minutes(90)).to_rfc3339());
    assert_eq!(ok.status, 200, "{}", ok.body);
    let confirmed = n.get(&format!("/v1/sessions/{sid}")).body;
    // A different purchase on a confirmed session is a conflict.
    purchase(&n, &sid, "60.00", "T-2").problem(409, "purchase-already-confirmed");

    // Reused transaction id in another session of the same business.
    let sid2 = open_session(&n, &token);
    purchase(&n, &sid2, "10.00", "T-1").problem(409, "transaction-id-reused");
    assert_eq!(n.get(&format!("/v1/sessions/{sid2}")).body["state"], "opened");
    // ... but the same id at another business is fine.
    let Biz { id: _, token: token_b, key: _ } = create_business(&n, "10.00");
    let sid3 = open_session(&n, &token_b);
    assert_eq!(purchase(&n, &sid3, "10.00", "T-1").status, 200);

    // Feedback length.
    feedback(&n, &sid, "för kort").problem(422, "feedback-length");
    feedback(&n, &sid, &"a".repeat(5001)).problem(422, "feedback-length");
    assert_eq!(n.get(&format!("/v1/sessions/{sid}")).body, confirmed);
    let mut a1 = analytics_before(&n);
    // Only the second session's opening was counted meanwhile.
    a1["sessions"]["opened"] = a0["sessions"]["opened"].clone();
    a1["per_day"] = a0["per_day"].clone();
    assert_eq!(a1, a0, "refused requests changed analytics");
}
