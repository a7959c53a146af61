//! Sessions expire after the configured time, even if nobody touches them again.

use std::time::Duration;

use crate::harness::*;

#[test]
fn an_untouched_session_expires_and_is_counted() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[("timeouts.session_expiry_ms", "1500"), ("timeouts.expiry_sweep_ms", "200")]);
    let Biz { id: bid, token, key } = create_business(&n, "100.00");
    let mut device = Device::new();
    let untouched = device.open(&n, &token);
    let late = open_session(&n, &token);
    let s = n.get(&format!("/v1/sessions/{late}"));
    let opened = chrono::DateTime::parse_from_rfc3339(&s.str("opened_at")).expect("time");
    let expires = chrono::DateTime::parse_from_rfc3339(&s.str("expires_at")).expect("time");
    // Expiry is opened_at + 1.5 s; both are shown in whole seconds.
    assert!((1..=2).contains(&(expires - opened).num_seconds()), "{opened} -> {expires}");

    // The sweeper expires the untouched session on its own; poll the business's analytics.
    let a = eventually(Duration::from_secs(20), "both sessions expired", || {
        let a = n.get_as(&format!("/v1/businesses/{bid}/analytics"), &key);
        if a.body["sessions"]["expired"] == 2 {
            Ok(a.body)
        } else {
            Err(a.body)
        }
    });
    assert_eq!(a["sessions"]["opened"], 2);
    assert_eq!(a["rewards_paid_sek"], "0.00");
    assert_eq!(n.get(&format!("/v1/sessions/{untouched}")).body["state"], "expired");
    // Steps on an expired session are refused and change nothing.
    purchase(&n, &late, "10.00", "T-1").problem(409, "session-expired");
    assert_eq!(n.get(&format!("/v1/sessions/{late}")).body["state"], "expired");
    // The device can open a new session (its expired one is not resumed).
    assert_ne!(device.open(&n, &token), untouched);
}
