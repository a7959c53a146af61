//! The business dashboard and the feedback API behind it, through real processes: the list newest
//! first and its cursor pages while new feedback arrives, search, the CSV export (quoting and
//! formula escaping), another business's key refused, erased and retention-redacted feedback
//! gone from list and export; and the pages as a browser without JavaScript uses them (sign in,
//! feedback and charts, search and "older", rotate the key, the old key refused, till setup,
//! QR links, sign out) with a cross-site form post refused.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;
use crate::page::Phone;

/// Gives `text` as feedback at `biz` from `device` (a fresh session) and returns its id.
fn give(n: &NodeProc, biz: &Biz, device: &mut Device, receipt: &str, text: &str) -> String {
    let sid = device.open(n, &biz.token);
    assert_eq!(purchase(n, &sid, "120.00", receipt).status, 200);
    let r = feedback(n, &sid, text);
    assert_eq!(r.status, 200, "{}", r.body);
    sid
}

fn list(n: &NodeProc, biz: &Biz, query: &str) -> Value {
    let r = n.get_as(&format!("/v1/businesses/{}/feedback{query}", biz.id), &biz.key);
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

fn sessions(page: &Value) -> Vec<String> {
    page["items"].as_array().expect("items").iter().map(|i| i["session_id"].as_str().expect("session").to_string()).collect()
}

/// Reads a CSV export into its rows (header first).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
    r.records().map(|rec| rec.expect("csv record").iter().map(str::to_string).collect()).collect()
}

const FORMULA: &str = "=HYPERLINK(\"http://evil.example\",\"klicka\") tyckte om kaffet, men kön var lång";
const QUOTED: &str = "Personalen sa \"välkommen\", kaffet kostade 45 kr, och bullen var god. Ni borde ha fler bord.";

#[test]
fn feedback_list_pages_newest_first_while_feedback_arrives_searches_and_exports() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[]);
    let biz = create_business(&n, "100000.00");
    let other = create_business(&n, "1000.00");
    let texts = [distinct_feedback(0), distinct_feedback(1), FORMULA, QUOTED, distinct_feedback(2)];
    let mut given = Vec::new();
    let mut devices = vec![Device::new(); texts.len()];
    for (i, t) in texts.iter().enumerate() {
        given.push(give(&n, &biz, &mut devices[i], &format!("R-{i}"), t));
    }
    give(&n, &other, &mut Device::new(), "O-1", distinct_feedback(3));
    let newest_first: Vec<String> = given.iter().rev().cloned().collect();

    // Page by page, two at a time; a feedback arriving between pages does not shift them.
    let first = list(&n, &biz, "?limit=2");
    assert_eq!(first["business_id"], biz.id.as_str());
    assert_eq!(sessions(&first), newest_first[..2]);
    let late = give(&n, &biz, &mut Device::new(), "R-late", distinct_feedback(4));
    let cursor = first["next_cursor"].as_str().expect("a second page").to_string();
    let second = list(&n, &biz, &format!("?limit=2&cursor={cursor}"));
    assert_eq!(sessions(&second), newest_first[2..4]);
    let cursor = second["next_cursor"].as_str().expect("a third page").to_string();
    let third = list(&n, &biz, &format!("?limit=2&cursor={cursor}"));
    assert_eq!(sessions(&third), newest_first[4..]);
    assert_eq!(third["next_cursor"], Value::Null, "{third}");
    // The new one is on a fresh first page, before everything else.
    let fresh = list(&n, &biz, "");
    assert_eq!(sessions(&fresh)[0], late);
    assert_eq!(fresh["items"].as_array().expect("items").len(), 6);
    assert!(!sessions(&fresh).iter().any(|s| s == &sessions(&list(&n, &other, ""))[0]), "another business's feedback leaked");

    // What an entry says.
    let quoted = fresh["items"].as_array().expect("items").iter().find(|i| i["text"] == QUOTED).expect("quoted entry").clone();
    assert_eq!(quoted["location"]["name"], "Lilla Torg", "{quoted}");
    assert_eq!(quoted["score_source"], "rubric", "{quoted}");
    assert!(quoted["quality_score"].as_u64().is_some_and(|s| s <= 100), "{quoted}");
    assert!(quoted["score_breakdown"]["specific"].is_u64(), "{quoted}");
    assert!(quoted["reward_ore"].is_i64(), "{quoted}");
    assert!(quoted["given_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{quoted}");
    assert_eq!(quoted["given_at_local"].as_str().map(str::len), Some(19), "{quoted}");

    // Search: case-insensitive substring; bounded; bad input named.
    let found = list(&n, &biz, "?q=V%C3%84LKOMMEN");
    assert_eq!(found["items"].as_array().expect("items").len(), 1, "{found}");
    assert_eq!(found["items"][0]["text"], QUOTED);
    let path = format!("/v1/businesses/{}/feedback", biz.id);
    n.get_as(&format!("{path}?q={}", "a".repeat(101)), &biz.key).problem(400, "search-too-long");
    n.get_as(&format!("{path}?limit=0"), &biz.key).problem(400, "invalid-limit");
    n.get_as(&format!("{path}?limit=101"), &biz.key).problem(400, "invalid-limit");
    n.get_as(&format!("{path}?cursor=bm90LWEtY3Vyc29y"), &biz.key).problem(400, "invalid-cursor");

    // Another business's key, no key, a wrong key.
    n.get_as(&path, &other.key).problem(404, "business-not-found");
    n.get_as(&format!("{path}.csv"), &other.key).problem(404, "business-not-found");
    n.get(&path).problem(401, "unauthorized");
    n.get_as(&format!("/v1/businesses/{}/daily", biz.id), &other.key).problem(404, "business-not-found");

    // CSV: every entry, quoted, formulas defused.
    let csv = n.get_as(&format!("{path}.csv"), &biz.key);
    assert_eq!(csv.status, 200);
    assert_eq!(csv.content_type, "text/csv; charset=utf-8");
    let rows = csv_rows(csv.body.as_str().expect("csv text"));
    assert_eq!(rows[0], ["given_at", "given_at_local", "session_id", "location_id", "location", "score", "score_source", "tier", "reward_sek", "text"]);
    assert_eq!(rows.len(), 7, "{rows:?}");
    let text_of = |sid: &str| rows.iter().find(|r| r[2] == sid).map(|r| r[9].clone());
    assert_eq!(text_of(&given[2]).as_deref(), Some(format!("'{FORMULA}").as_str()));
    assert_eq!(text_of(&given[3]).as_deref(), Some(QUOTED));
    let searched = n.get_as(&format!("{path}.csv?q=hyperlink"), &biz.key);
    assert_eq!(csv_rows(searched.body.as_str().expect("csv text")).len(), 2);

    // The per-day series: today counts them, in Swedish days.
    let daily = n.get_as(&format!("/v1/businesses/{}/daily?days=7", biz.id), &biz.key);
    assert_eq!(daily.status, 200, "{}", daily.body);
    assert_eq!(daily.body["time_zone"], "Europe/Stockholm");
    let days = daily.body["days"].as_array().expect("days");
    assert_eq!(days.len(), 7);
    let today = &days[6];
    let scored = today["completed"].as_u64().unwrap_or(0) + today["rejected"].as_u64().unwrap_or(0);
    assert_eq!(scored, 6, "{today}");
    assert_eq!(today["opened"], 6, "{today}");
    assert!(today["average_score"].is_f64(), "{today}");
    assert_eq!(today["budget_left_ore"], daily.body["remaining_ore"]);
    n.get_as(&format!("/v1/businesses/{}/daily?days=400", biz.id), &biz.key).problem(400, "invalid-days");

    // A customer's erasure takes their feedback out of the list and the export.
    let erased = n.post("/v1/privacy/erase", json!({"device_token": devices[3].token()}));
    assert_eq!(erased.status, 200, "{}", erased.body);
    let after = list(&n, &biz, "");
    assert!(!sessions(&after).contains(&given[3]), "erased feedback still listed: {after}");
    assert_eq!(sessions(&after).len(), 5);
    let csv = n.get_as(&format!("{path}.csv"), &biz.key);
    assert!(!csv.body.as_str().expect("csv").contains("välkommen"), "erased feedback still exported");
}

#[test]
fn feedback_past_its_retention_leaves_the_list() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[("retention.feedback_days", "0"), ("timeouts.expiry_sweep_ms", "200")]);
    let biz = create_business(&n, "10000.00");
    give(&n, &biz, &mut Device::new(), "R-1", distinct_feedback(0));
    eventually(Duration::from_secs(20), "the feedback gone from the list", || {
        let page = list(&n, &biz, "");
        if page["items"].as_array().is_some_and(Vec::is_empty) {
            Ok(())
        } else {
            Err(page)
        }
    });
    let csv = n.get_as(&format!("/v1/businesses/{}/feedback.csv", biz.id), &biz.key);
    assert_eq!(csv_rows(csv.body.as_str().expect("csv")).len(), 1, "only the header is left");
}

#[test]
fn the_dashboard_pages_work_as_plain_forms() {
    let dir = tempfile::tempdir().expect("tmp");
    // One feedback per page, so the "older" link shows with two.
    let n = NodeProc::start(dir.path(), &[("dashboard.feedback_page_len", "1")]);
    let biz = create_business(&n, "100000.00");
    let older = give(&n, &biz, &mut Device::new(), "R-1", distinct_feedback(0));
    give(&n, &biz, &mut Device::new(), "R-2", "<script>alert(1)</script> Kaffet var gott men kön var lång, öppna en kassa till.");
    let base = n.url.clone();
    let origin = base.clone();
    let mut browser = Phone::default().with_header("origin", &origin);

    // Signed out: the form.
    let page = browser.get(&format!("{base}/business"));
    let html = page.html(200);
    assert!(html.contains("id=\"api-key\"") && html.contains("id=\"sign-in\""), "{html}");
    assert!(html.contains("<html lang=\"sv\">"), "{html}");

    // A wrong key: the form again, 401, the error in words, no cookie.
    let wrong = format!("svea_sk_{}_{}", biz.id, "A".repeat(43));
    let page = browser.post(&format!("{base}/business/sign-in"), &[("api_key", &wrong)]);
    assert!(page.html(401).contains("role=\"alert\""), "{}", page.body);
    assert!(page.body.contains("id=\"api-key\""));
    assert!(page.set_cookie("svea_business").is_none());

    // The right key: a cookie only the dashboard gets, then the dashboard.
    let page = browser.post(&format!("{base}/business/sign-in"), &[("api_key", &biz.key)]);
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.header("location"), Some("/business"));
    let cookie = page.set_cookie("svea_business").expect("sign-in cookie").to_string();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/business", "Max-Age="] {
        assert!(cookie.contains(part), "{part} missing in {cookie}");
    }
    assert!(!page.header("location").unwrap_or("").contains(&biz.key));
    let page = browser.get(&format!("{base}/business"));
    let html = page.html(200).to_string();
    for id in ["feedback-list", "chart-sessions", "chart-rewards", "chart-score", "chart-budget", "chart-tiers", "csv-export", "rotate-key", "till-form", "older-link"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id} missing in {html}");
    }
    // The newest feedback is listed, escaped; the chart draws today's sessions.
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; Kaffet var gott"), "{html}");
    assert!(!html.contains("<script>alert(1)"), "{html}");
    assert!(html.contains("<rect class=\"s-completed\"") || html.contains("<rect class=\"s-rejected\""), "no bar for today: {html}");
    assert!(html.contains("<title id=\"chart-sessions-title\">"), "{html}");

    // "Older": the cursor link leads to the earlier feedback; search finds it too.
    let href = html.split("id=\"older-link\"").nth(1).and_then(|s| s.split("href=\"").nth(1)).and_then(|s| s.split('"').next()).expect("older href");
    let page = browser.get(&format!("{base}{}", href.replace("&amp;", "&")));
    assert!(page.html(200).contains(distinct_feedback(0)), "{}", page.body);
    assert!(page.body.contains(&format!("data-session=\"{older}\"")));
    let page = browser.get(&format!("{base}/business?q=LATTEN"));
    assert!(page.html(200).contains(distinct_feedback(0)));
    assert!(!page.body.contains("alert(1)"));

    // Downloads with the cookie: CSV and the location's QR code.
    let csv = browser.get(&format!("{base}/business/feedback.csv"));
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(csv.body.contains("Kaffet var gott"));
    let lid = n.get_as(&format!("/v1/businesses/{}", biz.id), &biz.key).body["locations"][0]["id"].as_str().expect("lid").to_string();
    let qr = browser.get(&format!("{base}/business/locations/{lid}/qr.svg"));
    assert_eq!((qr.status, qr.header("content-type")), (200, Some("image/svg+xml")));
    assert!(html.contains(&format!("/business/locations/{lid}/poster")));

    // Till setup through the form; the secret is never shown.
    let secret = "a-long-enough-webhook-secret-0123456789";
    let page = browser.post(&format!("{base}/business/till"), &[("provider", "zettle"), ("account", "org-123"), ("secret", secret), ("notification_url", ""), ("default_location_id", &lid)]);
    assert_eq!(page.status, 303, "{}", page.body);
    let b = n.get_as(&format!("/v1/businesses/{}", biz.id), &biz.key).body;
    assert_eq!(b["pos"][0]["provider"], "zettle", "{b}");
    assert_eq!(b["pos"][0]["account"], "org-123", "{b}");
    let page = browser.get(&format!("{base}/business?saved=till"));
    assert!(page.html(200).contains("/v1/pos/zettle/webhook"));
    assert!(!page.body.contains(secret));

    // A form posted from another site changes nothing, even with the cookie.
    let mut forged = Phone::default();
    forged.cookies = browser.cookies.clone();
    let mut forged = forged.with_header("origin", "https://evil.example");
    let page = forged.post(&format!("{base}/business/rotate"), &[]);
    assert!(page.html(400).contains("annan webbplats"), "{}", page.body);
    assert!(!page.body.contains("new-api-key"), "no key issued");
    assert_eq!(n.get_as(&format!("/v1/businesses/{}", biz.id), &biz.key).status, 200, "the key must still work");

    // Rotation: the new key shown once; the old one refused everywhere; this browser stays in.
    let mut stale_browser = Phone::default();
    stale_browser.cookies = browser.cookies.clone();
    let page = browser.post(&format!("{base}/business/rotate"), &[]);
    let html = page.html(200).to_string();
    let new_key = html.split("id=\"new-api-key\">").nth(1).and_then(|s| s.split('<').next()).expect("new key shown").to_string();
    assert!(new_key.starts_with(&format!("svea_sk_{}_", biz.id)), "{new_key}");
    assert_ne!(new_key, biz.key);
    n.get_as(&format!("/v1/businesses/{}", biz.id), &biz.key).problem(401, "unauthorized");
    assert_eq!(n.get_as(&format!("/v1/businesses/{}", biz.id), &new_key).status, 200);
    let page = browser.get(&format!("{base}/business"));
    assert!(page.html(200).contains("id=\"feedback-list\""));
    assert!(!page.body.contains(&new_key), "the key is shown only once");
    let mut stale = stale_browser;
    let page = stale.get(&format!("{base}/business"));
    assert!(page.html(200).contains("id=\"api-key\""), "an old key's browser is signed out: {}", page.body);
    let page = browser.post(&format!("{base}/business/sign-in"), &[("api_key", &biz.key)]);
    assert_eq!(page.status, 401, "the old key signs in no more");

    // English, and signing out.
    let page = browser.get(&format!("{base}/business?lang=en"));
    assert!(page.html(200).contains("<html lang=\"en\">"));
    let page = browser.post(&format!("{base}/business/sign-out"), &[]);
    assert_eq!(page.status, 303);
    let page = browser.get(&format!("{base}/business"));
    assert!(page.html(200).contains("id=\"api-key\""), "{}", page.body);
}
