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

    // And on the console: the rail, the payout paid, nothing failed or stuck.
    let mut ops = crate::page::Phone::default().with_header("origin", &n.operator_url);
    let r = ops.post(&format!("{}/ops/sign-in", n.operator_url), &[("token", OPERATOR_TOKEN)]);
    assert_eq!(r.status, 303, "{}", r.body);
    let c = ops.get(&format!("{}/ops/console.json", n.operator_url));
    let c: Value = serde_json::from_str(&c.body).expect("console json");
    assert_eq!(c["payouts"]["rail"], "ledger-only", "{c}");
    assert_eq!((c["payouts"]["paid"].as_u64(), c["payouts"]["failed"].as_u64(), c["payouts"]["stuck"].as_i64()), (Some(1), Some(0), Some(0)), "{c}");
    let page = ops.get(&format!("{}/ops", n.operator_url));
    assert!(page.body.contains("id=\"payouts-paid\""), "{}", page.body);
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

/// A rail that accepts every instruction and never settles one by itself: what happens to a
/// payout is what `payout_update` (a callback) says.
struct Accepting;

impl svea_node::core::rail::PayoutRail for Accepting {
    fn name(&self) -> &'static str {
        "ledger-only"
    }
    fn send(&self, _: &svea_node::core::rail::PayoutOrder) -> Result<svea_node::core::rail::RailState, svea_node::core::rail::RailError> {
        Ok(svea_node::core::rail::RailState::InFlight)
    }
    fn status(&self, _: &svea_node::core::rail::PayoutId) -> Result<svea_node::core::rail::RailState, svea_node::core::rail::RailError> {
        Ok(svea_node::core::rail::RailState::InFlight)
    }
    fn blocking(&self) -> bool {
        false
    }
}

/// The interfaces the Stripe and Swish work build on, in-process: a top-up counts once per event
/// and per checkout session, refunds count the difference of Stripe's cumulative total, unknown
/// payments and businesses are typed errors, and a payout settled by `payout_update` as failed
/// returns its money to the customer's balance, once.
#[test]
fn top_ups_count_once_refunds_count_the_difference_and_a_failed_payout_returns() {
    use std::sync::Arc;
    use svea_node::actors::business::TopUpOutcome;
    use svea_node::actors::keys::PayoutState;
    use svea_node::actors::{ActorError, Missing, SystemClock};
    use svea_node::core::funding::{external_ref, TopUp, TopUpRefund};
    use svea_node::core::rail::RailState;
    use svea_node::core::{start_with, Parts, SessionMsg};
    use svea_node::domain::{CreateBusiness, DeviceId, NewLocation, Ore, RewardPolicy, RubricScorer};

    let dir = tempfile::tempdir().expect("tempdir");
    let mut raw = svea_config::RawConfig::default();
    raw.node.data_dir = dir.path().to_string_lossy().into_owned();
    raw.payouts.minimum_sek = 1;
    raw.payouts.retry_interval_ms = 50;
    let config = raw.validate().expect("config");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    tokio::task::LocalSet::new().block_on(&rt, async move {
        let groups = svea_node::core::group_count(&config);
        let stores = svea_storage::open_groups(&dir.path().join("store"), Duration::from_secs(5), svea_storage::DEFAULT_CACHE_BYTES, groups).expect("store");
        let parts = Parts { stores, transport: None, geo: None, model: None, rail: Some(Arc::new(Accepting)), unseal: None };
        let core = start_with(config, Arc::new(SystemClock), Arc::new(RubricScorer::new()), parts).await.expect("start");
        let node = core.handle.clone();
        crate::poll::eventually_async(Duration::from_secs(20), "the node ready", || node.ready()).await;
        let request = CreateBusiness::new("Kortkafé", next_org_number(), vec![NewLocation::new("Storgatan", 59.3, 18.0).expect("loc")], Ore::ZERO, RewardPolicy::default()).expect("valid");
        let b = node.create_business(request).await.expect("create").0;
        let r = |s: &str| external_ref("test", s).expect("ref");
        let sek = |s: &str| Ore::parse_sek(s).expect("sek");
        let top_up = |event: &str, checkout: &str| TopUp { business: b.id.clone(), event_id: r(event), checkout_session: Some(r(checkout)), payment_ref: Some(r("pi_1")), amount: sek("100.00"), at_ms: 1_767_225_600_000 };
        let recorded = |o: TopUpOutcome| match o {
            TopUpOutcome::Recorded { amount, funds } => Some((amount, funds)),
            TopUpOutcome::Duplicate { .. } => None,
        };
        let (amount, funds) = recorded(node.record_top_up(top_up("evt_1", "cs_1")).await.expect("top-up")).expect("credited");
        assert_eq!((amount, funds.available), (sek("100.00"), sek("100.00")));
        assert!(recorded(node.record_top_up(top_up("evt_1", "cs_1")).await.expect("replay")).is_none(), "a replayed event credits nothing");
        assert!(recorded(node.record_top_up(top_up("evt_2", "cs_1")).await.expect("other event")).is_none(), "a checkout session credits once");
        let unknown = TopUp { business: svea_node::domain::BusinessId::random(), ..top_up("evt_3", "cs_3") };
        assert!(matches!(node.record_top_up(unknown).await, Err(ActorError::NotFound { what: Missing::Business, .. })));

        let refund = |event: &str, total: &str| TopUpRefund { event_id: r(event), payment_ref: r("pi_1"), refunded_total: sek(total), at_ms: 1_767_229_200_000 };
        let (_, o) = node.record_top_up_refund(refund("evt_r1", "30.00")).await.expect("refund");
        assert_eq!(recorded(o).map(|(a, f)| (a, f.available)), Some((sek("30.00"), sek("70.00"))));
        let (_, o) = node.record_top_up_refund(refund("evt_r2", "30.00")).await.expect("same total");
        assert!(recorded(o).is_none(), "the same cumulative total refunds nothing more");
        let (_, o) = node.record_top_up_refund(refund("evt_r3", "50.00")).await.expect("more");
        assert_eq!(recorded(o).map(|(a, f)| (a, f.refunded, f.available)), Some((sek("20.00"), sek("50.00"), sek("50.00"))));
        let stranger = TopUpRefund { payment_ref: r("pi_unknown"), ..refund("evt_r4", "1.00") };
        assert!(matches!(node.record_top_up_refund(stranger).await, Err(ActorError::NotFound { what: Missing::Payment, .. })));

        // A reward, its payout sent and acknowledged but not settled by the rail.
        let device = DeviceId::random();
        let (s, _) = node.open_session(b.locations[0].qr_token.clone(), device.clone(), None).await.expect("open");
        let purchase = SessionMsg::ConfirmPurchase { amount: sek("200.00"), purchased_at: chrono::Utc::now(), transaction_id: "R-1".parse().expect("txn") };
        node.session(s.id.clone(), purchase).await.expect("purchase");
        let done = node.session(s.id.clone(), SessionMsg::Feedback { text: GOOD_FEEDBACK.into() }).await.expect("feedback");
        let reward = done.feedback.and_then(|f| f.settlement).map(|st| st.decision.amount).expect("settled");
        assert!(reward > Ore::ZERO);
        let view = node.wallet(&device).await.expect("wallet");
        let (id, payout) = view.payouts.first().cloned().expect("a payout started at once (minimum 1 SEK)");
        assert_eq!((payout.amount, payout.state.clone()), (reward, PayoutState::InFlight));
        assert_eq!(view.wallet.expect("wallet").balance(), Ore::ZERO);

        // The rail's callback: failed. The money is back on the balance, with the reason; a later
        // "paid" for the same payout changes nothing.
        let failed = RailState::Failed { code: "RF07".into(), reason: "the payee's Swish number is not enrolled".into() };
        let state = node.payout_update(&id, failed).await.expect("update");
        assert!(matches!(state, PayoutState::Failed { ref code, .. } if code == "RF07"), "{state:?}");
        let again = node.payout_update(&id, RailState::Paid).await.expect("update again");
        assert_eq!(again, state, "a payout settles once");
        let view = node.wallet(&device).await.expect("wallet");
        assert_eq!(view.wallet.expect("wallet").balance(), reward);
        let kinds: Vec<&str> = view.postings.iter().map(|p| p.kind.as_str()).collect();
        assert_eq!(kinds, ["reward_reserved", "payout_started", "payout_failed"]);
        let funds = node.business(b.id.clone()).await.expect("business").funds();
        assert_eq!(funds.available, sek("50.00").checked_sub(reward).expect("sub"));
        core.shutdown().await;
    });
}

#[test]
fn the_dashboard_adds_demo_money_once_per_form_and_shows_the_funds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = NodeProc::start(dir.path(), &[]);
    let biz = create_business(&n, "0.00");
    let mut browser = crate::page::Phone::default().with_header("origin", &n.url);
    let page = browser.post(&format!("{}/business/sign-in", n.url), &[("api_key", &biz.key)]);
    assert_eq!(page.status, 303, "{}", page.body);

    // Demo funding offers play money, said so on the form.
    let html = browser.get(&format!("{}/business", n.url)).html(200).to_string();
    assert!(html.contains("id=\"top-up-form\"") && html.contains("demopengar"), "{html}");
    let request = html.split("name=\"request\" value=\"").nth(1).and_then(|r| r.split('"').next()).expect("request id").to_owned();

    // The same form posted twice (a double click): credited once.
    for _ in 0..2 {
        let r = browser.post(&format!("{}/business/top-up", n.url), &[("amount_sek", "250"), ("request", &request)]);
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(r.header("location"), Some("/business?saved=top-up-demo#h-budget"));
    }
    let b = n.get_as(&format!("/v1/businesses/{}", biz.id), &biz.key);
    assert_eq!(b.body["funds"]["funded_sek"], "250.00", "{}", b.body);
    let html = browser.get(&format!("{}/business?saved=top-up-demo", n.url)).html(200).to_string();
    assert!(html.contains("Demopengarna är tillagda"), "{html}");
    assert!(html.contains("id=\"budget-funded\""), "{html}");

    // Out of bounds: the dashboard again, with the reason, and nothing credited.
    let r = browser.post(&format!("{}/business/top-up", n.url), &[("amount_sek", "0"), ("request", "another-request")]);
    assert_eq!(r.status, 422, "{}", r.body);
    let b = n.get_as(&format!("/v1/businesses/{}", biz.id), &biz.key);
    assert_eq!(b.body["funds"]["funded_sek"], "250.00", "{}", b.body);
}
