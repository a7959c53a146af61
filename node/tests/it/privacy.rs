//! A customer's own data through real processes: device ids never reach the disk, export shows a
//! device its sessions and nothing else, erasure removes feedback text and device link on every
//! replica for good while the business's numbers stay, and old texts are redacted by retention.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use svea_node::actors::session::Session;

use crate::harness::*;

/// Raw device ids unlikely to occur in any file by chance.
const DEVICE: &str = "phone-privacy-7f3a9c21";
const OTHER_DEVICE: &str = "phone-other-5be04d77";

fn texts() -> (String, String) {
    (format!("{GOOD_FEEDBACK} Kvittonummer QX7734 stämmer."), format!("{GOOD_FEEDBACK} Besökte er i tisdags, RZ0451."))
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The sessions' states as stored in one (stopped) node's store.
fn stored_sessions(data_dir: &Path, ids: &[&str]) -> Vec<Session> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let (_log, sm) = svea_storage::open(&data_dir.join("store"), Duration::from_secs(5)).expect("open store");
        let view = sm.view();
        ids.iter()
            .map(|id| {
                let v = view.state(&format!("session/{id}")).expect("read").unwrap_or_else(|| panic!("session {id} stored"));
                svea_storage::codec::decode::<Session>(&v.bytes).expect("decode session")
            })
            .collect()
    })
}

fn finish(n: &NodeProc, sid: &str, txn: &str, text: &str) {
    assert_eq!(purchase(n, sid, "120.00", txn).status, 200);
    let r = feedback(n, sid, text);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["state"], "rewarded", "{}", r.body);
}

fn analytics(n: &NodeProc, biz: &Biz) -> Value {
    let mut a = n.get_as(&format!("/v1/businesses/{}/analytics", biz.id), &biz.key).body;
    a.as_object_mut().expect("object").remove("remaining_budget_sek");
    a
}

#[test]
fn export_and_erasure_by_device_id_across_three_nodes_and_restarts() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut c = Cluster3::start(dir.path(), &[]);
    let biz = create_business(&c.nodes[0], "10000.00");
    let token = biz.token.clone();
    let (text, other_text) = texts();

    // The device's finished session (opened in one region, completed through another), a second
    // one still open, and another device's session at the same place.
    let done = open_session(&c.nodes[1], &token, DEVICE);
    finish(&c.nodes[2], &done, "T-1", &text);
    let open = open_session(&c.nodes[0], &token, DEVICE);
    let other = open_session(&c.nodes[2], &token, OTHER_DEVICE);
    finish(&c.nodes[0], &other, "T-2", &other_text);

    // Analytics count on the Swedish day of the node's clock.
    let opened_at = chrono::DateTime::parse_from_rfc3339(&c.nodes[0].get(&format!("/v1/sessions/{done}")).str("opened_at")).expect("time");
    let day = svea_node::domain::swedish_day_key(opened_at.with_timezone(&chrono::Utc));
    let before = analytics(&c.nodes[0], &biz);
    assert!(before["per_day"].as_array().expect("days").iter().any(|d| d["date"] == day.as_str()), "{before}");

    // Export: the device's two sessions with names, text, score and reward; nothing of the other.
    let export = c.nodes[2].post("/v1/privacy/export", json!({"device_id": DEVICE}));
    assert_eq!(export.status, 200, "{}", export.body);
    let body = export.body.to_string();
    assert!(!body.contains(&other) && !body.contains("RZ0451"), "another device's data in {body}");
    let sessions = export.body["sessions"].as_array().expect("sessions");
    let mut ids: Vec<&str> = sessions.iter().map(|s| s["id"].as_str().expect("id")).collect();
    ids.sort_unstable();
    let mut want = [done.as_str(), open.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want);
    let finished = sessions.iter().find(|s| s["id"] == done.as_str()).expect("finished session");
    assert_eq!(finished["business_name"], "Kafé Lilla Torget");
    assert_eq!(finished["location_name"], "Lilla Torg");
    assert_eq!(finished["state"], "rewarded");
    assert_eq!(finished["feedback"]["text"], text.as_str());
    assert_eq!(finished["purchase"]["amount_sek"], "120.00");
    assert!(finished["reward_sek"].as_str().is_some_and(|r| r != "0.00"), "{finished}");
    assert!(finished["feedback"]["quality_score"].as_u64().is_some());
    assert_eq!(export.body["next_after"], Value::Null);
    // A device with no sessions gets an empty export, not another device's data.
    let none = c.nodes[0].post("/v1/privacy/export", json!({"device_id": "phone-never-seen"}));
    assert_eq!(none.body["sessions"], json!([]), "{}", none.body);
    // The device id is checked like everywhere else.
    c.nodes[0].post("/v1/privacy/erase", json!({"device_id": "has space"})).problem(422, "invalid-id");

    // Erase, through yet another node.
    let erased = c.nodes[1].post("/v1/privacy/erase", json!({"device_id": DEVICE}));
    assert_eq!(erased.status, 200, "{}", erased.body);
    assert_eq!(erased.body, json!({"erased_sessions": 2, "more": false}));

    let check_http = |c: &Cluster3| {
        for n in &c.nodes {
            let s = n.get(&format!("/v1/sessions/{done}")).body;
            assert_eq!(s["feedback_text"], Value::Null, "{s}");
            assert_eq!(s["feedback_redacted"], "erased", "{s}");
            assert_eq!(s["state"], "rewarded", "{s}");
            assert!(s["reward_sek"].as_str().is_some_and(|r| r != "0.00"), "{s}");
            assert_eq!(n.get(&format!("/v1/sessions/{open}")).body["state"], "opened");
            let o = n.get(&format!("/v1/sessions/{other}")).body;
            assert_eq!(o["feedback_text"], other_text.as_str(), "another device's text is untouched: {o}");
            let export = n.post("/v1/privacy/export", json!({"device_id": DEVICE}));
            assert_eq!(export.body["sessions"], json!([]), "no link left: {}", export.body);
            assert_eq!(analytics(n, &biz), before, "erasure keeps the business's numbers");
        }
    };
    check_http(&c);
    // Erasing again finds nothing.
    assert_eq!(c.nodes[0].post("/v1/privacy/erase", json!({"device_id": DEVICE})).body["erased_sessions"], 0);

    // Through the data files of every (stopped) node: the stored sessions have neither text nor
    // device, the state machine holds the text nowhere, and no file holds a raw device id.
    for n in c.nodes.iter_mut() {
        assert_eq!(n.terminate(), Some(0));
    }
    for region in REGIONS {
        let data = dir.path().join(region).join("data");
        let stored = stored_sessions(&data, &[&done, &open, &other]);
        for s in &stored[..2] {
            assert_eq!(s.device, None, "{region}: {s:?}");
            assert!(s.feedback.as_ref().is_none_or(|f| f.text.is_none()), "{region}: {s:?}");
        }
        assert!(stored[2].device.is_some(), "{region}: the other device's link stays");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let pairs = rt.block_on(async {
            let (_log, sm) = svea_storage::open(&data.join("store"), Duration::from_secs(5)).expect("open store");
            sm.view().pairs().expect("pairs")
        });
        assert!(!pairs.iter().any(|(k, v)| contains(k, "QX7734") || contains(v, "QX7734")), "{region}: erased text in the state machine");
        assert!(pairs.iter().any(|(_, v)| contains(v, "RZ0451")), "{region}: the other text is stored (the check can fail)");
        for file in files(&dir.path().join(region)) {
            let bytes = std::fs::read(&file).expect("read file");
            for device in [DEVICE, OTHER_DEVICE] {
                assert!(!contains(&bytes, device), "raw device id {device} in {}", file.display());
            }
        }
    }

    // Gone for good: after restarting all three nodes.
    c.restart_stopped();
    check_http(&c);
}

#[test]
fn feedback_text_past_its_retention_is_redacted_and_the_reward_stays() {
    let dir = tempfile::tempdir().expect("tmp");
    // Retention 0 days: every text is redacted at the next sweep.
    let n = NodeProc::start(dir.path(), &[("retention.feedback_days", "0"), ("timeouts.expiry_sweep_ms", "200")]);
    let biz = create_business(&n, "10000.00");
    let token = biz.token.clone();
    let sid = open_session(&n, &token, DEVICE);
    assert_eq!(purchase(&n, &sid, "120.00", "T-1").status, 200);
    let given = feedback(&n, &sid, &texts().0);
    assert_eq!(given.status, 200, "{}", given.body);
    let s = eventually(Duration::from_secs(20), "the text redacted by retention", || {
        let s = n.get(&format!("/v1/sessions/{sid}")).body;
        if s["feedback_redacted"] == "retention" {
            Ok(s)
        } else {
            Err(s)
        }
    });
    assert_eq!(s["feedback_text"], Value::Null, "{s}");
    assert_eq!(s["state"], "rewarded");
    assert_eq!(s["reward_sek"], given.body["reward_sek"]);
    assert_eq!(s["quality_score"], given.body["quality_score"]);
    let a = n.get_as(&format!("/v1/businesses/{}/analytics", biz.id), &biz.key).body;
    assert_eq!(a["sessions"]["completed"], 1, "{a}");
    assert_eq!(a["rewards_paid_sek"], given.body["reward_sek"], "{a}");
    // The export says why the text is gone.
    let export = n.post("/v1/privacy/export", json!({"device_id": DEVICE})).body;
    assert_eq!(export["sessions"][0]["feedback"]["redacted"], "retention", "{export}");
    assert_eq!(export["sessions"][0]["feedback"]["text"], Value::Null, "{export}");
}
