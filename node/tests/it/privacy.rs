//! A customer's own data through real processes: device tokens never reach the disk, export shows
//! the holder of a device token its sessions and nothing else (a made-up token, the old
//! `device_id` or no token get nothing), erasure removes feedback text and device link on every
//! replica for good while the business's numbers stay, old texts are redacted by retention, and
//! the privacy routes have their own stricter bucket per address.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use svea_node::actors::session::Session;

use crate::harness::*;

/// The ways a device token could be written to a file: the token, and the random bytes it
/// carries (raw, and as the base64url they are in the token).
fn token_traces(token: &str) -> Vec<Vec<u8>> {
    let body = &token[DEVICE_TOKEN_PREFIX.len()..];
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(body).expect("base64url");
    // The first 42 characters encode only the 32 random bytes.
    vec![token.as_bytes().to_vec(), body[..42].as_bytes().to_vec(), bytes[..32].to_vec()]
}

fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

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
        // Whichever Raft group holds it (the test cluster's three regions, one group each when
        // `cluster.groups = "per-region"`).
        let stores = svea_storage::open_groups(&data_dir.join("store"), Duration::from_secs(5), svea_storage::DEFAULT_CACHE_BYTES, 3).expect("open store");
        let views: Vec<_> = stores.iter().map(|(_, sm)| sm.view()).collect();
        ids.iter()
            .map(|id| {
                let key = format!("session/{id}");
                let v = views.iter().find_map(|view| view.state(&key).expect("read")).unwrap_or_else(|| panic!("session {id} stored"));
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
fn export_and_erasure_by_device_token_across_three_nodes_and_restarts() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut c = Cluster3::start(dir.path(), &[]);
    let biz = create_business(&c.nodes[0], "10000.00");
    let token = biz.token.clone();
    let (text, other_text) = texts();

    // The device's finished session (opened in one region, completed through another), a second
    // one still open (its token, issued by one node, verified by another), and another device's
    // session at the same place.
    let (mut device, mut other_device) = (Device::new(), Device::new());
    let done = device.open(&c.nodes[1], &token);
    finish(&c.nodes[2], &done, "T-1", &text);
    let open = device.open(&c.nodes[0], &token);
    let other = other_device.open(&c.nodes[2], &token);
    finish(&c.nodes[0], &other, "T-2", &other_text);
    let (credential, other_credential) = (device.token().to_string(), other_device.token().to_string());

    // Analytics count on the Swedish day of the node's clock.
    let opened_at = chrono::DateTime::parse_from_rfc3339(&c.nodes[0].get(&format!("/v1/sessions/{done}")).str("opened_at")).expect("time");
    let day = svea_node::domain::swedish_day_key(opened_at.with_timezone(&chrono::Utc));
    let before = analytics(&c.nodes[0], &biz);
    assert!(before["per_day"].as_array().expect("days").iter().any(|d| d["date"] == day.as_str()), "{before}");

    // Export: the device's two sessions with names, text, score and reward; nothing of the other.
    let export = c.nodes[2].post("/v1/privacy/export", json!({"device_token": credential}));
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
    // Without the token svea issued, nothing: a made-up token, the token with its tag altered, no
    // token, the old client-chosen id. Each is refused before anything is read.
    let last = if credential.ends_with('A') { "B" } else { "A" };
    let altered = format!("{}{last}", &credential[..credential.len() - 1]);
    for forged in [format!("{DEVICE_TOKEN_PREFIX}{}", "A".repeat(64)), altered, "phone-never-seen".to_string()] {
        for route in ["/v1/privacy/export", "/v1/privacy/erase"] {
            let r = c.nodes[0].post(route, json!({"device_token": forged}));
            r.problem(401, "invalid-device-token");
            assert_eq!(r.header("www-authenticate"), Some("DeviceToken realm=\"svea-customer\""));
        }
    }
    c.nodes[0].post("/v1/privacy/export", json!({})).problem(401, "invalid-device-token");
    c.nodes[0].post("/v1/privacy/erase", json!({"device_id": "has space"})).problem(400, "device-id-refused");

    // Erase, through yet another node.
    let erased = c.nodes[1].post("/v1/privacy/erase", json!({"device_token": credential}));
    assert_eq!(erased.status, 200, "{}", erased.body);
    assert_eq!(erased.body, json!({"erased_sessions": 2, "more": false, "payee_erased": false}));

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
            // The token still verifies; the device simply has nothing left (the same answer a
            // device without sessions gets).
            let export = n.post("/v1/privacy/export", json!({"device_token": credential}));
            assert_eq!((export.status, &export.body["sessions"]), (200, &json!([])), "no link left: {}", export.body);
            assert_eq!(analytics(n, &biz), before, "erasure keeps the business's numbers");
        }
    };
    check_http(&c);
    // Erasing again finds nothing.
    assert_eq!(c.nodes[0].post("/v1/privacy/erase", json!({"device_token": credential})).body["erased_sessions"], 0);

    // Through the data files of every (stopped) node: the stored sessions have neither text nor
    // device, the state machine holds the text nowhere, and no file holds a device token or the
    // random bytes it carries (only their keyed hash is kept).
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
            // Every Raft group's state machine (three with `cluster.groups = "per-region"`).
            let stores = svea_storage::open_groups(&data.join("store"), Duration::from_secs(5), svea_storage::DEFAULT_CACHE_BYTES, 3).expect("open store");
            stores.iter().flat_map(|(_, sm)| sm.view().pairs().expect("pairs")).collect::<Vec<_>>()
        });
        assert!(!pairs.iter().any(|(k, v)| contains(k, "QX7734") || contains(v, "QX7734")), "{region}: erased text in the state machine");
        assert!(pairs.iter().any(|(_, v)| contains(v, "RZ0451")), "{region}: the other text is stored (the check can fail)");
        for file in files(&dir.path().join(region)) {
            let bytes = std::fs::read(&file).expect("read file");
            for trace in [&credential, &other_credential].into_iter().flat_map(|t| token_traces(t)) {
                assert!(!contains_bytes(&bytes, &trace), "a device token in {}", file.display());
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
    let mut device = Device::new();
    let sid = device.open(&n, &token);
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
    let export = n.post("/v1/privacy/export", json!({"device_token": device.token()})).body;
    assert_eq!(export["sessions"][0]["feedback"]["redacted"], "retention", "{export}");
    assert_eq!(export["sessions"][0]["feedback"]["text"], Value::Null, "{export}");
}

#[test]
fn the_privacy_routes_have_their_own_stricter_bucket_per_address() {
    let dir = tempfile::tempdir().expect("tmp");
    // The general bucket stays the loopback one (unlimited); the privacy bucket: 2 at once, 2 a
    // minute. Loopback is a trusted proxy, so X-Forwarded-For names each client.
    let n = NodeProc::start(
        dir.path(),
        &[("abuse.privacy_requests_per_minute", "2"), ("abuse.privacy_burst", "2"), ("geo.trusted_proxies", "127.0.0.1")],
    );
    let biz = create_business(&n, "1000.00");
    let mut device = Device::new();
    device.open(&n, &biz.token);
    let body = json!({"device_token": device.token()});
    let from = |ip: &'static str| [("x-forwarded-for", ip)];

    // The burst is served, the next one from that address is refused with a Retry-After that
    // matches the bucket (2 a minute: a token every 30 s), for export and erase alike.
    let client = from("198.51.100.7");
    assert_eq!(n.post_with("/v1/privacy/export", body.clone(), &client).status, 200);
    assert_eq!(n.post_with("/v1/privacy/erase", body.clone(), &client).status, 200);
    for route in ["/v1/privacy/export", "/v1/privacy/erase"] {
        let r = n.post_with(route, body.clone(), &client);
        r.problem(429, "rate-limited");
        let retry: u64 = r.header("retry-after").expect("Retry-After").parse().expect("whole seconds");
        assert!((1..=30).contains(&retry), "Retry-After {retry}");
    }
    // Forged tokens count too: guessing is limited before any verification.
    let forged = json!({"device_token": format!("{DEVICE_TOKEN_PREFIX}{}", "A".repeat(64))});
    n.post_with("/v1/privacy/export", forged, &client).problem(429, "rate-limited");
    // The same address still scans and reads sessions (the general bucket is another), and
    // another address still has its privacy requests.
    assert_eq!(device.scan_with(&n, &biz.token, &client).status, 201);
    assert_eq!(n.post_with("/v1/privacy/export", body.clone(), &from("198.51.100.8")).status, 200);
}

/// Whether any file under `dir` holds `needle` (a file removed meanwhile holds nothing).
fn any_file_holds(dir: &Path, needle: &str) -> Option<std::path::PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = any_file_holds(&path, needle) {
                return Some(found);
            }
        } else if std::fs::read(&path).is_ok_and(|bytes| contains(&bytes, needle)) {
            return Some(path);
        }
    }
    None
}

#[test]
fn an_erased_feedback_text_leaves_every_nodes_files_at_the_next_store_rewrite() {
    let dir = tempfile::tempdir().expect("tmp");
    // A rewrite every 3 s here; 5 minutes by default.
    let c = Cluster3::start(dir.path(), &[("timeouts.store_rewrite_ms", "3000")]);
    let biz = create_business(&c.nodes[0], "10000.00");
    let marker = "JX5512";
    let text = format!("{GOOD_FEEDBACK} Kvittonummer {marker} stämmer.");
    let mut device = Device::new();
    let sid = device.open(&c.nodes[1], &biz.token);
    finish(&c.nodes[2], &sid, "T-9", &text);
    let data = |region: &str| dir.path().join(region).join("data");
    // The text reached every node's files (so the check below can fail).
    let written = std::time::Instant::now();
    while REGIONS.iter().any(|r| any_file_holds(&data(r), marker).is_none()) {
        assert!(written.elapsed() < Duration::from_secs(10), "the feedback text never reached every node's files");
        std::thread::sleep(Duration::from_millis(100));
    }

    let erased = c.nodes[0].post("/v1/privacy/erase", json!({"device_token": device.token()}));
    assert_eq!(erased.status, 200, "{}", erased.body);
    assert_eq!(erased.body["erased_sessions"], 1);
    // Within two rewrite intervals (the erasure may land just after a snapshot), on every node:
    // no log entry, snapshot, sled segment or blob keeps it.
    let erased_at = std::time::Instant::now();
    loop {
        let left: Vec<_> = REGIONS.iter().filter_map(|r| any_file_holds(&data(r), marker)).collect();
        if left.is_empty() {
            break;
        }
        assert!(erased_at.elapsed() < Duration::from_secs(20), "the erased text is still in {left:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
    // The stores still serve, from their new generations: the session reads back without its
    // text on every node, and a new customer gets through.
    for n in &c.nodes {
        let s = n.get(&format!("/v1/sessions/{sid}"));
        assert_eq!(s.status, 200, "{}", s.body);
        assert!(!s.body.to_string().contains(marker), "{}", s.body);
    }
    let mut next = Device::new();
    let again = next.open(&c.nodes[0], &biz.token);
    finish(&c.nodes[1], &again, "T-10", &format!("{GOOD_FEEDBACK} Allt var bra."));
}
