//! Purchases verified by the till, through real processes: each provider's signed webhook backs
//! exactly one reward, a webhook after the customer's confirmation completes the waiting session
//! (also on another region's node), and forged, altered, stale and replayed deliveries, or a
//! purchase the till never reported, earn nothing.

use serde_json::{json, Value};
use svea_node::domain::pos::{encode, sign, Encoding};

use crate::harness::{create_business, feedback, now_rfc3339, open_session, Biz, Cluster3, NodeProc, Resp};

pub(crate) const ZETTLE_KEY: &str = "G6MWAEw1Fc6FWPkfiJiZ3j8Ya76I5ZbEDVPtzcPl6L6scsylmK5AEDyNyMe8N5cy";
pub(crate) const SQUARE_KEY: &str = "square-signature-key-0123456789";
pub(crate) const SHOPIFY_KEY: &str = "shopify-client-secret-0123456789";
pub(crate) const ORG_UUID: &str = "1b84dbd0-fb65-11e7-9c34-d96d4f33e8fc";
pub(crate) const MERCHANT: &str = "6SSW7HV8K2ST5";
pub(crate) const SHOP: &str = "svea-test.myshopify.com";

/// Distinct texts that each score in a reward tier.
pub(crate) const TEXTS: [&str; 4] = [
    "Kaffet var gott och personalen trevlig, men kön var lång vid lunch. \
     Ni borde öppna en kassa till mellan 12 och 13, då hade det varit bättre.",
    "Kanelbullen var färsk och god, men det var smutsigt vid fönsterborden på eftermiddagen. \
     Ni borde torka borden oftare efter klockan 15, då hade det känts trevligare.",
    "Personalen var snabb och vänlig, men musiken var för hög vid kassan på kvällen. \
     Ni borde sänka volymen efter klockan 18, då hade det varit lättare att prata.",
    "Smörgåsen var fräsch och prisvärd, men det fanns inga lock till kaffekopparna i morse. \
     Ni borde fylla på locken före öppning, då hade det gått snabbare för alla.",
];

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A webhook request: path, body, headers.
pub(crate) struct Hook {
    pub(crate) provider: &'static str,
    pub(crate) body: String,
    pub(crate) headers: Vec<(String, String)>,
}

impl Hook {
    pub(crate) fn send(&self, n: &NodeProc) -> Resp {
        let headers: Vec<(&str, &str)> = self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let body: Value = serde_json::from_str(&self.body).expect("fixture is json");
        // post_with re-serialises the JSON: serde_json keeps key order and spacing of `to_string`,
        // and the fixture body is itself `to_string` output, so the bytes are the signed ones.
        assert_eq!(body.to_string(), self.body);
        n.post_with(&format!("/v1/pos/{}/webhook", self.provider), body, &headers)
    }
}

/// Zettle's documented `PurchaseCreated`, signed as Zettle documents: hex HMAC-SHA256 of
/// `<timestamp>.<payload>` under the subscription's signing key.
pub(crate) fn zettle(key: &str, message_id: &str, receipt: i64, amount_ore: i64, sent: chrono::DateTime<chrono::Utc>) -> Hook {
    let payload = json!({
        "purchaseUuid": zettle_purchase_uuid(receipt), "source": "POS", "currency": "SEK", "country": "SE",
        "amount": amount_ore, "vatAmount": amount_ore / 5, "timestamp": chrono::Utc::now().timestamp_millis(),
        "purchaseNumber": receipt, "organizationUuid": ORG_UUID,
    })
    .to_string();
    zettle_signed(key, message_id, payload, sent)
}

/// The Zettle `purchaseUuid` of the test purchase with receipt number `receipt` (one per receipt).
pub(crate) fn zettle_purchase_uuid(receipt: i64) -> String {
    format!("244f60a0-fb65-11e7-ae57-{:012}", receipt.rem_euclid(1_000_000_000_000))
}

/// Zettle's refund of the test purchase `receipt`, as Zettle documents one (purchase.adoc): a
/// `PurchaseCreated` whose purchase has `refund: true`, a negative amount and
/// `refundsPurchaseUUID1` naming the refunded purchase.
pub(crate) fn zettle_refund(message_id: &str, receipt: i64, refund_number: i64, amount_ore: i64) -> Hook {
    let payload = json!({
        "purchaseUuid": zettle_purchase_uuid(refund_number), "source": "POS", "currency": "SEK", "country": "SE",
        "amount": -amount_ore, "vatAmount": -amount_ore / 5, "timestamp": chrono::Utc::now().timestamp_millis(),
        "purchaseNumber": refund_number, "organizationUuid": ORG_UUID, "refund": true,
        "refundsPurchaseUUID1": zettle_purchase_uuid(receipt),
    })
    .to_string();
    zettle_signed(ZETTLE_KEY, message_id, payload, chrono::Utc::now())
}

fn zettle_signed(key: &str, message_id: &str, payload: String, sent: chrono::DateTime<chrono::Utc>) -> Hook {
    let timestamp = rfc3339(sent);
    let sig = encode(Encoding::Hex, &sign(key, &[timestamp.as_bytes(), b".", payload.as_bytes()]));
    let body = json!({
        "organizationUuid": ORG_UUID, "messageUuid": message_id, "eventName": "PurchaseCreated",
        "messageId": message_id, "payload": payload, "timestamp": timestamp,
    })
    .to_string();
    Hook { provider: "zettle", body, headers: vec![("x-izettle-signature".into(), sig)] }
}

/// Square's documented `payment.updated`, signed as Square documents: base64 HMAC-SHA256 of the
/// notification URL followed by the body, under the subscription's signature key.
pub(crate) fn square(url: &str, event_id: &str, receipt: &str, amount_ore: i64) -> Hook {
    let now = rfc3339(chrono::Utc::now());
    let payment = format!("pay-{receipt}");
    let body = json!({
        "merchant_id": MERCHANT, "type": "payment.updated", "event_id": event_id, "created_at": now,
        "data": {"type": "payment", "id": payment, "object": {"payment": {
            "id": payment, "amount_money": {"amount": amount_ore, "currency": "SEK"},
            "total_money": {"amount": amount_ore, "currency": "SEK"}, "status": "COMPLETED",
            "location_id": "S8GWD5R9QB376", "created_at": now, "receipt_number": receipt,
        }}},
    })
    .to_string();
    square_signed(url, body)
}

/// Square's documented `refund.updated` (reference/square/webhooks/refund.updated) for the test
/// payment of `receipt`, with `status` (`COMPLETED` is the one that counts).
pub(crate) fn square_refund(url: &str, event_id: &str, receipt: &str, amount_ore: i64, status: &str) -> Hook {
    let now = rfc3339(chrono::Utc::now());
    let body = json!({
        "merchant_id": MERCHANT, "type": "refund.updated", "event_id": event_id, "created_at": now,
        "data": {"type": "refund", "id": format!("ref-{receipt}"), "object": {"refund": {
            "id": format!("ref-{receipt}"), "created_at": now, "updated_at": now,
            "amount_money": {"amount": amount_ore, "currency": "SEK"}, "status": status,
            "location_id": "S8GWD5R9QB376", "payment_id": format!("pay-{receipt}"), "version": 10,
        }}},
    })
    .to_string();
    square_signed(url, body)
}

fn square_signed(url: &str, body: String) -> Hook {
    let sig = encode(Encoding::Base64, &sign(SQUARE_KEY, &[url.as_bytes(), body.as_bytes()]));
    Hook { provider: "square", body, headers: vec![("x-square-hmacsha256-signature".into(), sig)] }
}

/// Shopify's `orders/create`, signed as Shopify documents: base64 HMAC-SHA256 of the body under
/// the app's client secret.
pub(crate) fn shopify(event_id: &str, name: &str, total: &str) -> Hook {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    let body = json!({
        "id": shopify_order_id(name), "name": name, "total_price": total, "currency": "SEK",
        "financial_status": "paid", "created_at": now, "processed_at": now, "location_id": 905684977,
    })
    .to_string();
    shopify_signed("orders/create", event_id, body)
}

/// The Shopify order `id` of the test order named `name` (one per name).
pub(crate) fn shopify_order_id(name: &str) -> i64 {
    name.bytes().fold(820982911946154508_i64, |h, b| h.wrapping_mul(31).wrapping_add(i64::from(b))).rem_euclid(1 << 53)
}

/// Shopify's `refunds/create` (the Refund resource) for the test order `name`: one successful
/// refund transaction of `amount` (SEK).
pub(crate) fn shopify_refund(event_id: &str, name: &str, amount: &str) -> Hook {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    let body = json!({
        "id": 929361464, "order_id": shopify_order_id(name), "created_at": now, "processed_at": now, "restock": true,
        "refund_line_items": [],
        "transactions": [{"id": 1072844685, "order_id": shopify_order_id(name), "kind": "refund", "gateway": "bogus",
            "status": "success", "amount": amount, "currency": "SEK", "created_at": now}],
    })
    .to_string();
    shopify_signed("refunds/create", event_id, body)
}

/// Shopify's `orders/cancelled` (the Order resource) for the test order `name`.
pub(crate) fn shopify_cancelled(event_id: &str, name: &str, total: &str) -> Hook {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    let body = json!({
        "id": shopify_order_id(name), "name": name, "total_price": total, "currency": "SEK", "financial_status": "voided",
        "cancelled_at": now, "cancel_reason": "customer", "created_at": now, "location_id": 905684977,
    })
    .to_string();
    shopify_signed("orders/cancelled", event_id, body)
}

fn shopify_signed(topic: &str, event_id: &str, body: String) -> Hook {
    let sig = encode(Encoding::Base64, &sign(SHOPIFY_KEY, &[body.as_bytes()]));
    let headers = vec![
        ("x-shopify-hmac-sha256".into(), sig),
        ("x-shopify-shop-domain".into(), SHOP.into()),
        ("x-shopify-topic".into(), topic.into()),
        ("x-shopify-event-id".into(), event_id.into()),
        ("x-shopify-webhook-id".into(), format!("w-{event_id}")),
    ];
    Hook { provider: "shopify", body, headers }
}

/// Switches the business to `pos` and registers all three tills; `url` is the Square notification URL.
pub(crate) fn register_tills(n: &NodeProc, b: &Biz, url: &str) {
    let (bid, key) = (&b.id, Some(b.key.as_str()));
    let r = patch(n, &format!("/v1/businesses/{bid}/settings"), json!({"purchase_verification": "pos"}), key);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["purchase_verification"], "pos");
    for (provider, body) in [
        ("zettle", json!({"account": ORG_UUID, "secret": ZETTLE_KEY})),
        ("square", json!({"account": MERCHANT, "secret": SQUARE_KEY, "notification_url": url})),
        ("shopify", json!({"account": SHOP, "secret": SHOPIFY_KEY})),
    ] {
        let r = put(n, &format!("/v1/businesses/{bid}/pos/{provider}"), body, key);
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(!r.body.to_string().contains("secret-0123") && !r.body.to_string().contains(ZETTLE_KEY), "a secret was answered: {}", r.body);
    }
}

pub(crate) fn patch(n: &NodeProc, path: &str, body: Value, key: Option<&str>) -> Resp {
    method(n, "PATCH", path, body, key)
}

pub(crate) fn put(n: &NodeProc, path: &str, body: Value, key: Option<&str>) -> Resp {
    method(n, "PUT", path, body, key)
}

/// A request as the business whose API key is `key` (or anonymous).
pub(crate) fn method(n: &NodeProc, method: &str, path: &str, body: Value, key: Option<&str>) -> Resp {
    let mut req = ureq::request(method, &format!("{}{path}", n.url)).set("content-type", "application/json");
    if let Some(key) = key {
        req = req.set("authorization", &format!("Bearer {key}"));
    }
    let r = req.send_string(&body.to_string());
    let resp = match r {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("http transport error: {e}"),
    };
    let status = resp.status();
    let content_type = resp.header("content-type").unwrap_or("").to_string();
    let body = resp.into_string().map(|t| serde_json::from_str(&t).unwrap_or(Value::String(t))).unwrap_or(Value::Null);
    Resp { status, content_type, body, headers: vec![] }
}

pub(crate) fn confirm(n: &NodeProc, sid: &str, amount: &str, receipt: &str) -> Resp {
    n.post(&format!("/v1/sessions/{sid}/purchase"), json!({"amount_sek": amount, "purchased_at": now_rfc3339(), "transaction_id": receipt}))
}

pub(crate) fn paid(n: &NodeProc, b: &Biz) -> String {
    n.get_as(&format!("/v1/businesses/{}", b.id), &b.key).str("rewards_paid_sek")
}

pub(crate) fn reward_ore(r: &Resp) -> i64 {
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["state"], "rewarded", "{}", r.body);
    let sek = r.str("reward_sek");
    let ore = svea_node::domain::Ore::parse_sek(&sek).expect("reward").as_ore();
    assert!(ore > 0, "no reward: {}", r.body);
    ore
}

#[test]
fn each_providers_webhook_backs_exactly_one_reward() {
    let dir = tempfile::tempdir().unwrap();
    let n = NodeProc::start(dir.path(), &[]);
    let b = create_business(&n, "10000.00");
    let token = b.token.clone();
    let square_url = format!("{}/v1/pos/square/webhook", n.url);
    register_tills(&n, &b, &square_url);

    let hooks = [
        (zettle(ZETTLE_KEY, "29248ab5-06e6-58dd-8aad-d86c15859e19", 6, 8300, chrono::Utc::now()), "83.00", "6"),
        (square(&square_url, "13b867cf-db3d-4b1c-90b6-2f32a9d78124", "hYy9", 12500), "125.00", "hYy9"),
        (shopify("98880550-7158-44d4-b7cd-2c97c8a091b5", "#1001", "199.00"), "199.00", "#1001"),
    ];
    let mut total = 0;
    for (i, (hook, amount, receipt)) in hooks.iter().enumerate() {
        let r = hook.send(&n);
        assert_eq!((r.status, r.body["status"].as_str()), (200, Some("recorded")), "{}: {}", hook.provider, r.body);
        let sid = open_session(&n, &token);
        let c = confirm(&n, &sid, amount, receipt);
        assert_eq!((c.status, c.body["state"].as_str()), (200, Some("purchase_confirmed")), "{}", c.body);
        total += reward_ore(&feedback(&n, &sid, TEXTS[i]));

        // The provider retries the same delivery: answered 200, nothing new recorded.
        let again = hook.send(&n);
        assert_eq!((again.status, again.body["status"].as_str()), (200, Some("duplicate")), "{}", again.body);

        // A second session claiming the same purchase gets no reward.
        let thief = open_session(&n, &token);
        confirm(&n, &thief, amount, receipt).problem(409, "purchase-already-claimed");
        feedback(&n, &thief, TEXTS[3]).problem(409, "purchase-not-confirmed");
        assert_eq!(n.get(&format!("/v1/sessions/{thief}")).body["purchase_refused"], "purchase-already-claimed");
    }
    assert_eq!(paid(&n, &b), svea_node::domain::Ore::from_ore(total).to_sek_string());

    // A self-declared purchase at a pos business is not believed: it waits for the till.
    let sid = open_session(&n, &token);
    let c = confirm(&n, &sid, "50.00", "made-up-42");
    assert_eq!((c.status, c.body["state"].as_str()), (202, Some("awaiting_purchase")), "{}", c.body);
    assert!(c.body["awaiting_purchase_until"].is_string(), "{}", c.body);
}

#[test]
fn forged_altered_stale_and_unreported_purchases_earn_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let n = NodeProc::start(dir.path(), &[("pos.await_purchase_ms", "1500")]);
    let b = create_business(&n, "10000.00");
    let token = b.token.clone();
    let square_url = format!("{}/v1/pos/square/webhook", n.url);
    register_tills(&n, &b, &square_url);

    // Signed with another key.
    zettle("a-wrong-signing-key-0123456789", "m-wrong", 7, 8300, chrono::Utc::now()).send(&n).problem(401, "invalid-signature");
    // Signed right, then the amount altered.
    let mut altered = square(&square_url, "e-altered", "AAAA", 10000);
    altered.body = altered.body.replace("10000", "99900");
    altered.send(&n).problem(401, "invalid-signature");
    // One byte of the body altered.
    let mut byte = shopify("e-byte", "#2002", "10.00");
    byte.body = byte.body.replace("#2002", "#2003");
    byte.send(&n).problem(401, "invalid-signature");
    // Signed right but an hour old: a captured delivery replayed later.
    zettle(ZETTLE_KEY, "m-stale", 8, 8300, chrono::Utc::now() - chrono::Duration::hours(1)).send(&n).problem(401, "stale-webhook");
    // An account nobody registered, an unknown provider, a malformed body.
    let mut stranger = shopify("e-stranger", "#3003", "10.00");
    stranger.headers[1].1 = "stranger.myshopify.com".into();
    stranger.send(&n).problem(401, "invalid-signature");
    n.post("/v1/pos/paypal/webhook", json!({})).problem(404, "unknown-provider");
    n.post_raw("/v1/pos/square/webhook", "application/json", b"{not json").problem(400, "invalid-pos-input");

    // None of them recorded anything: each receipt is still unknown to the till, so a customer
    // confirming it waits, and is refused once the await window is over.
    for (i, (amount, receipt)) in [("83.00", "7"), ("999.00", "AAAA"), ("10.00", "#2003"), ("83.00", "8")].iter().enumerate() {
        let sid = open_session(&n, &token);
        let c = confirm(&n, &sid, amount, receipt);
        assert_eq!((c.status, c.body["state"].as_str()), (202, Some("awaiting_purchase")), "{}", c.body);
        feedback(&n, &sid, TEXTS[i]).problem(409, "purchase-not-confirmed");
        let refused = crate::harness::eventually(std::time::Duration::from_secs(20), "the await window to pass", || {
            let s = n.get(&format!("/v1/sessions/{sid}"));
            (s.body["purchase_refused"] == "purchase-not-reported").then_some(s)
        });
        assert_eq!(refused.body["state"], "opened", "{}", refused.body);
        confirm(&n, &sid, amount, receipt).problem(409, "purchase-not-reported");
        feedback(&n, &sid, TEXTS[i]).problem(409, "purchase-not-confirmed");
    }
    assert_eq!(paid(&n, &b), "0.00");
}

#[test]
fn a_webhook_after_the_confirmation_completes_the_session_on_another_regions_node() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster3::start(dir.path(), &[]);
    let (sthlm, gbg) = (c.by_region("stockholm"), c.by_region("gothenburg"));
    // The business lives in malmo; the session is opened (and owned) in stockholm; the till's
    // webhook arrives in gothenburg.
    let b = create_business(sthlm, "10000.00");
    let token = b.token.clone();
    let square_url = format!("{}/v1/pos/square/webhook", gbg.url);
    register_tills(sthlm, &b, &square_url);

    let sid = open_session(sthlm, &token);
    assert_eq!(sthlm.get(&format!("/v1/sessions/{sid}")).body["region"], "stockholm");
    let w = confirm(sthlm, &sid, "125.00", "Rx7Q");
    assert_eq!((w.status, w.body["state"].as_str()), (202, Some("awaiting_purchase")), "{}", w.body);

    let r = square(&square_url, "ev-cross-region", "Rx7Q", 12500).send(gbg);
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("recorded")), "{}", r.body);
    // Completed by the webhook itself: no customer request in between.
    let s = gbg.get(&format!("/v1/sessions/{sid}"));
    assert_eq!(s.body["state"], "purchase_confirmed", "{}", s.body);
    let reward = reward_ore(&feedback(sthlm, &sid, TEXTS[0]));
    assert_eq!(paid(gbg, &b), svea_node::domain::Ore::from_ore(reward).to_sek_string());

    // Shopify's delivery arriving after the confirmation, at the business's own region.
    let sid2 = open_session(sthlm, &token);
    let w2 = confirm(sthlm, &sid2, "199.00", "#1001");
    assert_eq!(w2.status, 202, "{}", w2.body);
    let r2 = shopify("ev-shopify-late", "#1001", "199.00").send(c.by_region("malmo"));
    assert_eq!(r2.body["status"], "recorded", "{}", r2.body);
    assert_eq!(sthlm.get(&format!("/v1/sessions/{sid2}")).body["state"], "purchase_confirmed");
    let reward2 = reward_ore(&feedback(sthlm, &sid2, TEXTS[1]));
    assert_eq!(paid(sthlm, &b), svea_node::domain::Ore::from_ore(reward + reward2).to_sek_string());
}

#[test]
fn till_settings_need_the_businesss_own_key_and_never_show_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let n = NodeProc::start(dir.path(), &[]);
    let (mine, other) = (create_business(&n, "100.00"), create_business(&n, "100.00"));
    let settings = format!("/v1/businesses/{}/settings", mine.id);
    let till = format!("/v1/businesses/{}/pos/shopify", mine.id);
    let body = json!({"account": SHOP, "secret": SHOPIFY_KEY});
    patch(&n, &settings, json!({"purchase_verification": "pos"}), None).problem(401, "unauthorized");
    put(&n, &till, body.clone(), None).problem(401, "unauthorized");
    patch(&n, &settings, json!({"purchase_verification": "pos"}), Some(&other.key)).problem(404, "business-not-found");
    put(&n, &till, body.clone(), Some(&other.key)).problem(404, "business-not-found");
    patch(&n, &settings, json!({"purchase_verification": "sometimes"}), Some(&mine.key)).problem(400, "invalid-pos-input");
    put(&n, &format!("/v1/businesses/{}/pos/paypal", mine.id), body.clone(), Some(&mine.key)).problem(404, "unknown-provider");
    put(&n, &till, json!({"account": SHOP, "secret": "short"}), Some(&mine.key)).problem(400, "invalid-pos-input");
    let r = put(&n, &till, body.clone(), Some(&mine.key));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["pos"][0]["account"], SHOP);
    // A till account belongs to one business.
    put(&n, &format!("/v1/businesses/{}/pos/shopify", other.id), body, Some(&other.key)).problem(409, "pos-account-taken");
    let shown = n.get_as(&format!("/v1/businesses/{}", mine.id), &mine.key);
    assert_eq!(shown.status, 200);
    assert!(!shown.body.to_string().contains(SHOPIFY_KEY), "the secret was answered: {}", shown.body);
}
