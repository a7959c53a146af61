//! Guarantee 1 on one node: an acknowledged write survives SIGKILL.
//!
//! What a process kill can and cannot show: sled hands its write buffer to the kernel within about
//! a millisecond, and a SIGKILL does not lose the page cache, so this test proves the recovery path
//! (log replay, state machine, indexes) and that nothing acknowledged lives only in process memory.
//! It cannot tell an fsync from a page-cache write; losing unflushed data on power failure is
//! modelled by the simulations' in-memory disk, which drops everything not explicitly flushed.

use crate::harness::*;

#[test]
fn sigkill_after_an_acknowledged_reward_loses_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut n = NodeProc::start(dir.path(), &[]);
    let Biz { id: bid, token, key } = create_business(&n, "5000.00");
    let sid = open_session(&n, &token);
    assert_eq!(purchase(&n, &sid, "249.00", "T-1").status, 200);
    let f = feedback(&n, &sid, GOOD_FEEDBACK);
    // Kill the instant the reward is acknowledged: no shutdown hook, no flush, no other request
    // in between (sled's own background flush runs only every 500 ms).
    n.kill9();
    assert_eq!(f.status, 200, "{}", f.body);
    assert_eq!(f.body["state"], "rewarded");
    let reward = f.str("reward_sek");
    n.restart();

    // The session reads back exactly as acknowledged.
    assert_eq!(n.get(&format!("/v1/sessions/{sid}")).body, f.body);
    let b = n.get_as(&format!("/v1/businesses/{bid}"), &key);
    assert_eq!(b.body["rewards_paid_sek"], reward);
    let a = n.get_as(&format!("/v1/businesses/{bid}/analytics"), &key);
    assert_eq!(a.body["sessions"], serde_json::json!({"opened": 1, "completed": 1, "rejected": 0, "expired": 0}));
    assert_eq!(a.body["rewards_paid_sek"], reward);
    assert_eq!(a.body["remaining_budget_sek"], b.body["remaining_budget_sek"]);

    // The replayed step after restart still pays once.
    let again = feedback(&n, &sid, GOOD_FEEDBACK);
    assert_eq!(again.body, f.body);
    assert_eq!(n.get_as(&format!("/v1/businesses/{bid}"), &key).body, b.body);
    // The transaction id is still known after restart.
    let sid2 = open_session(&n, &token);
    purchase(&n, &sid2, "10.00", "T-1").problem(409, "transaction-id-reused");
}
