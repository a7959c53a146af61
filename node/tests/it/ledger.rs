//! Money that moves (issue 21), through real processes: the funding gate (no funds, no reward,
//! and the start page says so first), demo top-ups, a reward reserved on the ledger reaching the
//! customer's wallet, the ledger-only payout paid once and shown as demo, the business's funds
//! and monthly statement, the payout metrics, and bad input refused with its own problem type.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;

/// Node overrides for these tests: a payout as soon as a reward arrives, driven every 100 ms.
const FAST_PAYOUTS: [(&str, &str); 2] = [("payouts.minimum_sek", "1"), ("payouts.retry_interval_ms", "100")];

fn get_text(n: &NodeProc, path: &str, key: &str) -> (u16, String) {
    let r = n.get_as(path, key);
    (r.status, r.body.as_str().map(str::to_owned).unwrap_or_else(|| r.body.to_string()))
}

/// A rewarded visit from `device`: open, purchase, feedback; the session's answer.
fn visit(n: &NodeProc, device: &mut Device, qr: &str, txn: &str, text: &str) -> Value {
    let sid = device.open(n, qr);
    assert_eq!(purchase(n, &sid, "200.00", txn).status, 200);
    let r = feedback(n, &sid, text);
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

fn wallet(n: &NodeProc, device: &Device) -> Value {
    let r = n.post("/v1/wallet", json!({"device_token": device.token()}));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

fn sample(metrics: &str, line_start: &str) -> f64 {
    metrics.lines().find(|l| l.starts_with(line_start)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok()).unwrap_or(0.0)
}

#[test]
fn no_funds_no_reward_then_a_demo_top_up_pays_cashback_out_once_as_demo() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = NodeProc::start(dir.path(), &FAST_PAYOUTS);
    let biz = create_business(&n, "0.00");

    // Before anything is written, the start page says this business gives no rewards now.
    let page = n.get(&format!("/q/{}", biz.token));
    assert_eq!(page.status, 200);
    let html = page.body.as_str().expect("html").to_owned();
    assert!(html.contains("id=\"no-funds\""), "{html}");

    let mut first = Device::new();
    let s = visit(&n, &mut first, &biz.token, "T-1", distinct_feedback(0));
    assert_eq!(s["withheld"], "no_funds", "{s}");
    assert_eq!(s["reward_sek"], "0.00", "{s}");

    // A demo top-up: one ledger entry, credited at once.
    let r = n.send_as("POST", &format!("/v1/businesses/{}/top-ups", biz.id), &biz.key, json!({"amount_sek": "500.00"}));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["funds"]["available_sek"], "500.00", "{}", r.body);
    assert_eq!(r.body["funds"]["funded_sek"], "500.00", "{}", r.body);
    let page = n.get(&format!("/q/{}", biz.token));
    assert!(!page.body.as_str().expect("html").contains("id=\"no-funds\""), "funded now");

    let mut second = Device::new();
    let s = visit(&n, &mut second, &biz.token, "T-2", distinct_feedback(1));
    assert_eq!(s["withheld"], Value::Null, "{s}");
    let reward = s["reward_sek"].as_str().expect("reward").to_owned();
    assert_ne!(reward, "0.00", "{s}");

    // The reward reached the customer's wallet and, over the 1 SEK minimum, was paid out by the
    // ledger-only rail: once, shown as demo, the balance back at zero.
    let w = eventually(Duration::from_secs(20), "the payout paid", || {
        let w = wallet(&n, &second);
        match w["payouts"].as_array().and_then(|p| p.first()).map(|p| p["state"].clone()) {
            Some(s) if s == "paid" => Ok(w),
            _ => Err(w.to_string()),
        }
    });
    assert_eq!(w["balance_sek"], "0.00", "{w}");
    let payouts = w["payouts"].as_array().expect("payouts");
    assert_eq!(payouts.len(), 1, "{w}");
    assert_eq!(payouts[0]["amount_sek"], reward.as_str(), "{w}");
    assert_eq!(payouts[0]["demo"], true, "{w}");
    assert_eq!(payouts[0]["rail"], "ledger-only", "{w}");
    let kinds: Vec<&str> = w["lines"].as_array().expect("lines").iter().map(|l| l["kind"].as_str().unwrap_or("")).collect();
    assert_eq!(kinds, ["reward_reserved", "payout_started"], "{w}");
    // The unrewarded customer has nothing.
    assert_eq!(wallet(&n, &first)["balance_sek"], "0.00");

    // The business's money follows from its ledger account.
    let b = n.get_as(&format!("/v1/businesses/{}", biz.id), &biz.key);
    assert_eq!(b.body["funds"]["rewarded_sek"], reward.as_str(), "{}", b.body);
    let left = 50_000 - (reward.replace('.', "").parse::<i64>().expect("öre"));
    assert_eq!(b.body["funds"]["available_sek"], format!("{}.{:02}", left / 100, left % 100), "{}", b.body);

    // The month's statement: the top-up and the reward, each with the running balance.
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let (status, csv) = get_text(&n, &format!("/v1/businesses/{}/statement.csv?month={month}", biz.id), &biz.key);
    assert_eq!(status, 200, "{csv}");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(lines[2].contains(";Insättning;") && lines[2].ends_with(";500,00;500,00"), "{csv}");
    assert!(lines[3].contains(";Belöning reserverad;"), "{csv}");
    let (status, html) = get_text(&n, &format!("/v1/businesses/{}/statement?month={month}", biz.id), &biz.key);
    assert_eq!(status, 200);
    assert!(html.contains("Kontoutdrag") && html.contains("Utgående saldo"), "{html}");

    // Operators see the payout counted, in öre, with no label naming anyone.
    let m = n.metrics().body.as_str().expect("metrics").to_owned();
    assert_eq!(sample(&m, "svea_payouts_total{state=\"paid\"}"), 1.0, "{m}");
    assert_eq!(sample(&m, "svea_payouts_total{state=\"failed\"}"), 0.0, "{m}");
    assert!(sample(&m, "svea_payouts_ore_total{state=\"paid\"}") >= 1.0, "{m}");
    assert!(!m.contains(&biz.id), "no metric names a business");
}

#[test]
fn bad_money_input_is_refused_with_its_own_problem_type() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = NodeProc::start(dir.path(), &[]);
    let biz = create_business(&n, "10.00");
    let top_up = |body: Value| n.send_as("POST", &format!("/v1/businesses/{}/top-ups", biz.id), &biz.key, body);
    top_up(json!({"amount_sek": "-5.00"})).problem(422, "invalid-amount");
    top_up(json!({"amount_sek": "0.00"})).problem(422, "top-up-amount-out-of-range");
    top_up(json!({"amount_sek": "1000000.01"})).problem(422, "top-up-amount-out-of-range");
    top_up(json!({"amount": "5.00"})).problem(400, "invalid-body");
    let r = n.post(&format!("/v1/businesses/{}/top-ups", biz.id), json!({"amount_sek": "5.00"}));
    assert_eq!(r.status, 401, "{}", r.body);
    n.get_as(&format!("/v1/businesses/{}/statement.csv?month=2026-13", biz.id), &biz.key).problem(400, "invalid-month");
    n.get_as(&format!("/v1/businesses/{}/statement?month=x", biz.id), &biz.key).problem(400, "invalid-month");
    let forged = format!("{DEVICE_TOKEN_PREFIX}{}", "A".repeat(64));
    let r = n.post("/v1/wallet", json!({"device_token": forged}));
    assert_eq!(r.status, 401, "{}", r.body);
    // A device that never earned anything has an empty wallet.
    let mut d = Device::new();
    d.open(&n, &biz.token);
    assert_eq!(wallet(&n, &d)["balance_sek"], "0.00");
}

#[test]
fn with_card_funding_a_typed_in_budget_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = NodeProc::start(dir.path(), &[("funding.provider", "stripe")]);
    let body = json!({"name": "Kortkafé", "org_number": next_org_number().to_string(), "locations": [{"name": "x", "lat": 59.3, "lon": 18.0}], "reward_budget_sek": "100.00"});
    n.post("/v1/businesses", body).problem(422, "funding-by-card-only");
    let biz = create_business(&n, "0.00");
    // Demo money does not enter a card-funded cluster.
    n.send_as("POST", &format!("/v1/businesses/{}/top-ups", biz.id), &biz.key, json!({"amount_sek": "5.00"})).problem(422, "funding-by-card-only");
}
