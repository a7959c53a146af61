//! Till webhooks and till settings: `POST /v1/pos/{provider}/webhook` parses each provider's
//! request (headers and raw body) into an untrusted [`Delivery`] and hands it to the node, which
//! verifies and records it; `PATCH /v1/businesses/{id}/settings` and
//! `PUT /v1/businesses/{id}/pos/{provider}` set a business's verification mode and till
//! registration (the secret is taken, never answered); both need the business's API key
//! (`http::auth`). The webhook itself is authenticated by the provider's signature only.
//!
//! Payload fields, as each provider documents them (the signature schemes are in
//! `domain::pos`):
//! - Zettle Pusher API `PurchaseCreated` (github.com/iZettle/api-documentation,
//!   `pusher-api/user-guides/event-subscriptions.md`): envelope `organizationUuid`, `messageId`,
//!   `eventName`, `payload` (a JSON text), `timestamp`; the purchase's `purchaseUuid`,
//!   `purchaseNumber` (the receipt number), `amount` (minor units), `currency`, `timestamp`
//!   (Unix ms) / `created`. Zettle sends `eventName: TestMessage` when a subscription is made;
//!   it is answered 200 and nothing is recorded.
//! - Square `payment.created` / `payment.updated` (developer.squareup.com/docs/webhooks):
//!   `merchant_id`, `type`, `event_id` (the idempotency value), `created_at`,
//!   `data.object.payment` with `id`, `status`, `amount_money` / `total_money`
//!   (`amount` in minor units, `currency`), `location_id`, `created_at`, `receipt_number`.
//! - Shopify `orders/create` / `orders/paid` (shopify.dev/docs/apps/build/webhooks): headers
//!   `X-Shopify-Shop-Domain`, `X-Shopify-Topic`, `X-Shopify-Event-Id` (the same on every
//!   duplicate; `X-Shopify-Webhook-Id` when absent); the order's `name` (`#1001`, the
//!   receipt's number), `total_price` (a decimal string), `currency`, `financial_status`,
//!   `processed_at` / `created_at`, `location_id`.
//!
//! Refunds and cancellations (issue 20), as each provider documents them:
//! - Zettle: a refund is itself a purchase (`PurchaseCreated`) with `refund: true`, a negative
//!   `amount`, and `refundsPurchaseUUID1` naming the refunded purchase's `purchaseUUID1`
//!   (github.com/iZettle/api-documentation `purchase.adoc`, "Fetching purchases with partial
//!   refund" and the Purchase model: "Refunds are represented by the same model but with negative
//!   amounts and refund related flags/fields"). The Pusher payload names the purchase
//!   `purchaseUuid` (`pusher-api/user-guides/event-subscriptions.md`); the refund's pointer is
//!   read as `refundsPurchaseUuid` in that spelling, else `refundsPurchaseUUID1`.
//! - Square `refund.created` / `refund.updated` (developer.squareup.com/docs/refunds-api/webhooks
//!   and reference/square/webhooks/refund.updated): `data.object.refund` with `id`, `status`
//!   (only `COMPLETED` counts: a `PENDING` refund may still fail), `amount_money`,
//!   `payment_id` (the refunded payment's `id`), `location_id`. A `payment.updated` whose payment
//!   `status` is `CANCELED` cancels that payment.
//! - Shopify `refunds/create` (shopify.dev/docs/api/webhooks, topic `refunds/create`; payload the
//!   Refund resource): `order_id`, `transactions[]` with `kind: "refund"`, `status: "success"`,
//!   `amount` (a decimal string); a refund without a successful refund transaction moved no
//!   money and is ignored. `orders/cancelled` (payload the Order): its `id` is cancelled.
//!
//! Nothing here panics on outside input: every field is optional until checked.

use std::collections::BTreeMap;

use actix_web::http::header::HeaderMap;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use crate::core::pos::WebhookOutcome;
use crate::core::NodeHandle;
use crate::domain::pos::{Delivery, Encoding, PosError, PosId, PosIntegration, Provider, PurchaseVerification, ReportedPurchase, Signed, TillRefund};
use crate::domain::{LocationId, Ore, TransactionId};

/// Zettle's signature header.
pub const ZETTLE_SIGNATURE: &str = "x-izettle-signature";
/// Square's signature header (HMAC-SHA256; the older `x-square-signature` is SHA-1 and not taken).
pub const SQUARE_SIGNATURE: &str = "x-square-hmacsha256-signature";
/// Shopify's signature header.
pub const SHOPIFY_SIGNATURE: &str = "x-shopify-hmac-sha256";

fn invalid(detail: impl Into<String>) -> PosError {
    PosError::Invalid(detail.into())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, PosError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| invalid(format!("header {name} is missing")))
}

/// The provider's signature header: without it the delivery is unauthenticated (401
/// `invalid-signature`, as a wrong signature), not malformed.
fn signature(headers: &HeaderMap, name: &str) -> Result<String, PosError> {
    header(headers, name).map(str::to_owned).map_err(|_| PosError::BadSignature)
}

fn field<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Result<&'a str, PosError> {
    field(v, path).and_then(Value::as_str).ok_or_else(|| invalid(format!("field {} is missing or not a string", path.join("."))))
}

/// A provider's time: RFC 3339, or ISO 8601 with a `+0000` offset (Zettle).
fn time(s: &str) -> Result<DateTime<Utc>, PosError> {
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| invalid(format!("time {:?} is not ISO 8601", s.chars().take(40).collect::<String>())))
}

fn sek(currency: &str) -> Result<(), PosError> {
    if currency != "SEK" {
        return Err(PosError::Currency(currency.chars().take(8).collect()));
    }
    Ok(())
}

fn minor_units(v: Option<&Value>, what: &str) -> Result<Ore, PosError> {
    let n = v.and_then(Value::as_i64).ok_or_else(|| invalid(format!("{what} is missing or not an integer")))?;
    Ok(Ore::from_ore(n))
}

fn receipt(s: &str) -> Result<TransactionId, PosError> {
    s.parse().map_err(|e| invalid(format!("receipt id: {e}")))
}

fn json(body: &[u8]) -> Result<Value, PosError> {
    serde_json::from_slice(body).map_err(|e| invalid(format!("body is not JSON: {e}")))
}

/// Parses a Zettle Pusher delivery; `Ok(None)` for Zettle's subscription test message.
pub fn zettle(headers: &HeaderMap, body: &[u8]) -> Result<Option<Delivery>, PosError> {
    let v = json(body)?;
    // Zettle's subscription test message comes unsigned; anything else unsigned is refused
    // (401) before its fields are read.
    if text(&v, &["eventName"]).is_ok_and(|e| e == "TestMessage") {
        return Ok(None);
    }
    let signature = signature(headers, ZETTLE_SIGNATURE)?;
    let event_name = text(&v, &["eventName"])?;
    let account = PosId::new(text(&v, &["organizationUuid"])?, "organizationUuid")?;
    let event_id = PosId::new(text(&v, &["messageId"])?, "messageId")?;
    let timestamp = text(&v, &["timestamp"])?.to_owned();
    let payload = text(&v, &["payload"])?.to_owned();
    let signed_at = Some(time(&timestamp)?);
    let (mut purchase, mut refund) = (None, None);
    if event_name == "PurchaseCreated" {
        let p: Value = serde_json::from_str(&payload).map_err(|e| invalid(format!("payload is not JSON: {e}")))?;
        sek(text(&p, &["currency"])?)?;
        let amount = minor_units(p.get("amount"), "payload.amount")?;
        if p.get("refund").and_then(Value::as_bool) == Some(true) {
            let of = p.get("refundsPurchaseUuid").or_else(|| p.get("refundsPurchaseUUID1")).and_then(Value::as_str);
            let of = of.ok_or_else(|| invalid("a refund's payload.refundsPurchaseUUID1 is missing"))?;
            refund = Some(TillRefund { till_id: PosId::new(of, "refundsPurchaseUUID1")?, amount: Some(Ore::ZERO.checked_sub(amount).unwrap_or(amount)) });
        } else {
            let number = field(&p, &["purchaseNumber"]).and_then(Value::as_i64).ok_or_else(|| invalid("payload.purchaseNumber is missing"))?;
            let at = match field(&p, &["timestamp"]).and_then(Value::as_i64) {
                Some(ms) => Utc.timestamp_millis_opt(ms).single().ok_or_else(|| invalid("payload.timestamp is out of range"))?,
                None => time(text(&p, &["created"])?)?,
            };
            let till_id = match p.get("purchaseUuid").or_else(|| p.get("purchaseUUID1")).and_then(Value::as_str) {
                Some(id) => Some(PosId::new(id, "purchaseUuid")?),
                None => None,
            };
            purchase = Some(ReportedPurchase { receipt: receipt(&number.to_string())?, amount, at, till_location: None, till_id });
        }
    }
    let signed = Signed::TimestampDotPayload { timestamp, payload };
    Ok(Some(Delivery { provider: Provider::Zettle, account, event_id, signature, encoding: Encoding::Hex, signed, body: body.to_vec(), signed_at, purchase, refund }))
}

/// Parses a Square webhook notification.
pub fn square(headers: &HeaderMap, body: &[u8]) -> Result<Delivery, PosError> {
    let signature = signature(headers, SQUARE_SIGNATURE)?;
    let v = json(body)?;
    let account = PosId::new(text(&v, &["merchant_id"])?, "merchant_id")?;
    let event_id = PosId::new(text(&v, &["event_id"])?, "event_id")?;
    // `created_at` is inside the signed body, so it is the signed delivery time.
    let signed_at = Some(time(text(&v, &["created_at"])?)?);
    let kind = text(&v, &["type"])?;
    let mut refund = None;
    if let Some(r) = field(&v, &["data", "object", "refund"]).filter(|_| kind.starts_with("refund.")) {
        if r.get("status").and_then(Value::as_str) == Some("COMPLETED") {
            let amount = r.get("amount_money").map(|m| minor_units(m.get("amount"), "refund amount")).transpose()?;
            refund = Some(TillRefund { till_id: PosId::new(text(r, &["payment_id"])?, "payment_id")?, amount });
        }
    }
    if let Some(p) = field(&v, &["data", "object", "payment"]).filter(|_| kind == "payment.updated") {
        if p.get("status").and_then(Value::as_str) == Some("CANCELED") {
            refund = Some(TillRefund { till_id: PosId::new(text(p, &["id"])?, "payment id")?, amount: None });
        }
    }
    let purchase = match field(&v, &["data", "object", "payment"]) {
        Some(p) if kind.starts_with("payment.") && p.get("status").and_then(Value::as_str) == Some("COMPLETED") => {
            let money = p.get("total_money").or_else(|| p.get("amount_money")).ok_or_else(|| invalid("payment has no amount_money"))?;
            sek(text(money, &["currency"])?)?;
            let till_location = match p.get("location_id").and_then(Value::as_str) {
                Some(l) => Some(PosId::new(l, "location_id")?),
                None => None,
            };
            Some(ReportedPurchase {
                receipt: receipt(text(p, &["receipt_number"])?)?,
                amount: minor_units(money.get("amount"), "payment amount")?,
                at: time(text(p, &["created_at"])?)?,
                till_location,
                till_id: Some(PosId::new(text(p, &["id"])?, "payment id")?),
            })
        }
        _ => None,
    };
    Ok(Delivery { provider: Provider::Square, account, event_id, signature, encoding: Encoding::Base64, signed: Signed::NotificationUrlThenBody, body: body.to_vec(), signed_at, purchase, refund })
}

/// Parses a Shopify order webhook.
pub fn shopify(headers: &HeaderMap, body: &[u8]) -> Result<Delivery, PosError> {
    let signature = signature(headers, SHOPIFY_SIGNATURE)?;
    let account = PosId::new(header(headers, "x-shopify-shop-domain")?, "X-Shopify-Shop-Domain")?;
    let event = header(headers, "x-shopify-event-id").or_else(|_| header(headers, "x-shopify-webhook-id"))?;
    let event_id = PosId::new(event, "X-Shopify-Event-Id")?;
    let topic = header(headers, "x-shopify-topic")?;
    let v = json(body)?;
    let paid = v.get("financial_status").and_then(Value::as_str) == Some("paid");
    let purchase = if topic.starts_with("orders/") && topic != "orders/cancelled" && paid {
        sek(text(&v, &["currency"])?)?;
        let amount = Ore::parse_sek(text(&v, &["total_price"])?).map_err(|e| invalid(format!("total_price: {e}")))?;
        let at = time(v.get("processed_at").and_then(Value::as_str).map_or_else(|| text(&v, &["created_at"]), Ok)?)?;
        let till_location = match v.get("location_id") {
            Some(Value::Number(n)) => Some(PosId::new(&n.to_string(), "location_id")?),
            Some(Value::String(s)) => Some(PosId::new(s, "location_id")?),
            _ => None,
        };
        let till_id = shopify_id(v.get("id"), "id")?;
        Some(ReportedPurchase { receipt: receipt(text(&v, &["name"])?)?, amount, at, till_location, till_id })
    } else {
        None
    };
    let refund = match topic {
        "refunds/create" => shopify_refund(&v)?,
        "orders/cancelled" => {
            let till_id = shopify_id(v.get("id"), "id")?.ok_or_else(|| invalid("a cancelled order's id is missing"))?;
            Some(TillRefund { till_id, amount: None })
        }
        _ => None,
    };
    // Shopify signs only the body; its X-Shopify-Triggered-At header is not signed, so no
    // delivery time is checked (replays are refused by the event id).
    Ok(Delivery { provider: Provider::Shopify, account, event_id, signature, encoding: Encoding::Base64, signed: Signed::Body, body: body.to_vec(), signed_at: None, purchase, refund })
}

/// A Shopify id, sent as a JSON number (orders, `order_id`), or as a string.
fn shopify_id(v: Option<&Value>, what: &str) -> Result<Option<PosId>, PosError> {
    match v {
        Some(Value::Number(n)) => Ok(Some(PosId::new(&n.to_string(), what)?)),
        Some(Value::String(s)) => Ok(Some(PosId::new(s, what)?)),
        _ => Ok(None),
    }
}

/// Most refund transactions of one Shopify refund that are read.
const SHOPIFY_REFUND_TRANSACTIONS_MAX: usize = 100;

/// A `refunds/create` payload: the order it refunds and the money its successful refund
/// transactions returned; `None` when no money moved (a refund of quantities only).
fn shopify_refund(v: &Value) -> Result<Option<TillRefund>, PosError> {
    let till_id = shopify_id(v.get("order_id"), "order_id")?.ok_or_else(|| invalid("a refund's order_id is missing"))?;
    let mut total = Ore::ZERO;
    let mut moved = false;
    let transactions = v.get("transactions").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for t in transactions.iter().take(SHOPIFY_REFUND_TRANSACTIONS_MAX) {
        let str_of = |k: &str| t.get(k).and_then(Value::as_str);
        if str_of("kind") != Some("refund") || str_of("status") != Some("success") {
            continue;
        }
        let amount = Ore::parse_sek(str_of("amount").unwrap_or_default()).map_err(|e| invalid(format!("refund transaction amount: {e}")))?;
        total = total.checked_add(amount).ok_or_else(|| invalid("refund amounts overflow"))?;
        moved = true;
    }
    Ok(moved.then_some(TillRefund { till_id, amount: Some(total) }))
}

fn provider(raw: &str) -> Result<Provider, ApiError> {
    raw.parse().map_err(ApiError::Pos)
}

/// What a webhook did.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"status": "recorded"}))]
struct WebhookOut {
    /// `recorded`, `duplicate` (this event id was recorded before) or `ignored` (Zettle's `TestMessage`).
    status: &'static str,
}

/// `POST /v1/pos/{provider}/webhook`.
#[utoipa::path(post, path = "/v1/pos/{provider}/webhook", tag = "tills", operation_id = "pos_webhook", summary = "Receive a till's purchase report", description = "A till provider's signed webhook (Zettle, Square, Shopify) reporting a purchase or refund.",
    params(("provider" = String, Path, description = "`zettle`, `square` or `shopify`.", example = "zettle")),
    request_body(content = Object, content_type = "application/json",
        description = "The provider's own notification, as it sends it (Zettle Pusher `PurchaseCreated`, Square \
            `payment.created`/`payment.updated`, Shopify `orders/create`/`orders/paid` with its `X-Shopify-*` headers). \
            Only `SEK` purchases are taken.",
        examples(
            ("zettle" = (summary = "Zettle PurchaseCreated (payload is a JSON text)", value = json!({
                "organizationUuid": "1b84dbd0-fb65-11e7-9c34-d96d4f33e8fc", "messageUuid": "29248ab5-06e6-11e8-8aad-d86c15859e19",
                "eventName": "PurchaseCreated", "messageId": "29248ab5-06e6-58dd-8aad-d86c15859e19",
                "payload": "{\"purchaseUuid\":\"244f60a0-fb65-11e7-ae57-406959a78d8a\",\"currency\":\"SEK\",\"amount\":8950,\"timestamp\":1772451720000,\"purchaseNumber\":147}",
                "timestamp": "2026-03-02T11:42:01.100Z"}))),
            ("square" = (summary = "Square payment.updated", value = json!({
                "merchant_id": "6SSW7HV8K2ST5", "type": "payment.updated", "event_id": "13b867cf-db3d-4b1c-90b6-2f32a9d78124",
                "created_at": "2026-03-02T11:42:01Z", "data": {"type": "payment", "id": "hYy9pRFVxpDsO1FB05SunFWUe9JZY", "object": {"payment": {
                "id": "hYy9pRFVxpDsO1FB05SunFWUe9JZY", "amount_money": {"amount": 8950, "currency": "SEK"}, "status": "COMPLETED",
                "location_id": "S8GWD5R9QB376", "created_at": "2026-03-02T11:42:00Z", "receipt_number": "hYy9"}}}}))),
            ("shopify" = (summary = "Shopify orders/paid", value = json!({"id": 820982911946154508u64, "name": "#1001",
                "total_price": "89.50", "currency": "SEK", "financial_status": "paid", "processed_at": "2026-03-02T12:42:00+01:00",
                "location_id": 905684977}))),
        )),
    security(("zettle_signature" = []), ("square_signature" = []), ("shopify_signature" = [])),
    responses(
        (status = 200, description = "Recorded, a duplicate, or ignored.", body = WebhookOut),
        super::error::answers::RateLimited, super::error::answers::Busy,
        (status = 400, description = "`invalid-pos-input`: the body is not JSON.", content_type = "application/problem+json", body = super::Problem),
        (status = 401, description = "`invalid-signature`: no signature header, a header or field the provider always sends \
            (and the signature is checked with) missing or malformed, no registration of this account, or the \
            signature does not match its secret; `stale-webhook`: the signed time is too far from now.", content_type = "application/problem+json", body = super::Problem),
        (status = 404, description = "`unknown-provider`.", content_type = "application/problem+json", body = super::Problem),
        (status = 409, description = "`transaction-id-reused`: the receipt was reported before with other details.", content_type = "application/problem+json", body = super::Problem),
        (status = 422, description = "`unsupported-currency` (not SEK), `unmapped-location` (a till location with no svea \
            location and no default).", content_type = "application/problem+json", body = super::Problem),
    ))]
pub(super) async fn webhook(node: web::Data<NodeHandle>, req: HttpRequest, path: web::Path<String>, body: web::Bytes) -> ApiResult {
    let provider = provider(&path)?;
    json(&body)?;
    // A JSON delivery without what its signature is checked with (the account, the event, the
    // signed time, the signature) cannot be authenticated: it is refused as unsigned (401), and
    // nothing unauthenticated is told which field it lacked beyond that.
    let unauthenticated = |e: PosError| match e {
        PosError::Invalid(_) => PosError::BadSignature,
        other => other,
    };
    let delivery = match provider {
        Provider::Zettle => zettle(req.headers(), &body).map_err(unauthenticated)?,
        Provider::Square => Some(square(req.headers(), &body).map_err(unauthenticated)?),
        Provider::Shopify => Some(shopify(req.headers(), &body).map_err(unauthenticated)?),
    };
    let Some(delivery) = delivery else {
        return Ok(HttpResponse::Ok().json(WebhookOut { status: "ignored" }));
    };
    let status = match node.pos_webhook(delivery).await? {
        WebhookOutcome::Recorded => "recorded",
        WebhookOutcome::Duplicate => "duplicate",
    };
    Ok(HttpResponse::Ok().json(WebhookOut { status }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"purchase_verification": "self_declared", "declared_amount_max_sek": "500.00"}))]
pub(super) struct SettingsIn {
    /// `self_declared` (the customer's word) or `pos` (the till must report the purchase).
    #[schema(pattern = "^(self_declared|pos)$")]
    purchase_verification: Option<String>,
    /// The highest purchase a customer may declare while purchases are self-declared, SEK
    /// (`"500.00"`), 1.00 to 10000.00.
    declared_amount_max_sek: Option<String>,
    /// Cashback per tier in percent (each 0 to 100, no tier below the one under it).
    reward_percentages: Option<super::api::PercentagesIn>,
    /// The most cashback paid on one Swedish day, SEK (`"500.00"`): 1.00 up to the cluster's
    /// daily cap (`abuse.business_daily_reward_cap_sek`).
    #[schema(pattern = "^[0-9]{1,9}([.,][0-9]{1,2})?$", example = "500.00")]
    daily_budget_sek: Option<String>,
}

/// `PATCH /v1/businesses/{id}/settings`.
#[utoipa::path(patch, path = "/v1/businesses/{id}/settings", tag = "businesses", operation_id = "patch_settings", summary = "Change settings", description = "Changes purchase verification, the highest self-declared amount, the reward percentages and the daily reward budget.",
    params(("id" = String, Path, description = "The business id.", example = "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e")), security(("business_api_key" = [])),
    request_body(content = SettingsIn, content_type = "application/json"),
    responses((status = 200, description = "The business, with its new setting.", body = super::api::BusinessOut),
        super::error::answers::BusinessAuth, super::error::answers::BadBody, super::error::answers::RateLimited, super::error::answers::Busy,
        (status = 400, description = "`malformed-json`, `invalid-body` (no setting given), `invalid-pos-input` (an unknown mode), `invalid-percentage`.", content_type = "application/problem+json", body = super::Problem),
        (status = 422, description = "`invalid-amount`, `invalid-declared-amount-max`: a ceiling outside 1.00..=10000.00 SEK; `invalid-reward-policy`: a percentage above 100 or below the tier under it; `invalid-daily-budget`: below 1.00 SEK or above the cluster's daily cap.", content_type = "application/problem+json", body = super::Problem)))]
pub(super) async fn patch_settings(node: web::Data<NodeHandle>, req: HttpRequest, id: web::Path<String>, body: web::Json<SettingsIn>) -> ApiResult {
    let auth = super::auth::authorize(&node, &req, &id).await?;
    let body = body.into_inner();
    if body.purchase_verification.is_none() && body.declared_amount_max_sek.is_none() && body.reward_percentages.is_none() && body.daily_budget_sek.is_none() {
        return Err(super::error::bad("invalid-body", "no setting given: purchase_verification, declared_amount_max_sek, reward_percentages or daily_budget_sek"));
    }
    // Both checked before either is written.
    let verification: Option<PurchaseVerification> = body.purchase_verification.as_deref().map(str::parse).transpose()?;
    let declared_max = match body.declared_amount_max_sek.as_deref() {
        Some(raw) => Some(crate::domain::validate_declared_amount_max(crate::domain::Ore::parse_sek(raw).map_err(crate::domain::DomainError::from)?)?),
        None => None,
    };
    let percentages = match &body.reward_percentages {
        Some(p) => {
            let [low, mid, high] = p.basis_points()?;
            crate::domain::RewardPolicy::with_basis_points(low, mid, high)?;
            Some([low, mid, high])
        }
        None => None,
    };
    let daily_budget = match body.daily_budget_sek.as_deref() {
        Some(raw) => Some(daily_budget(&node, raw)?),
        None => None,
    };
    let mut b = auth.business;
    if let Some(budget) = daily_budget {
        b = node.set_daily_budget(b.id.clone(), budget).await?;
    }
    if let Some(v) = verification {
        b = node.set_purchase_verification(b.id.clone(), v).await?;
    }
    if let Some(max) = declared_max {
        b = node.set_declared_amount_max(b.id.clone(), max).await?;
    }
    if let Some(bp) = percentages {
        b = node.set_reward_percentages(b.id.clone(), bp).await?;
    }
    Ok(HttpResponse::Ok().json(super::api::business_out(&node, &b)))
}

/// A daily reward budget as a business asks for it (`"500.00"` or `"500,00"`), within 1 kr and
/// the cluster's daily cap, checked before anything is written (the actor checks again).
pub(super) fn daily_budget(node: &NodeHandle, raw: &str) -> Result<crate::domain::Ore, ApiError> {
    use crate::domain::{DomainError, Ore};
    let amount = Ore::parse_sek(&raw.trim().replace(',', ".")).map_err(DomainError::from)?;
    let (min, max) = (crate::actors::business::DAILY_BUDGET_MIN, node.daily_reward_cap());
    if (min..=max).contains(&amount) {
        Ok(amount)
    } else {
        Err(DomainError::DailyBudgetOutOfRange { amount, min, max }.into())
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"account": "1b84dbd0-fb65-11e7-9c34-d96d4f33e8fc", "secret": "G6MWAEw1Fc6FWPkfiJiZ3j8Ya76I5ZbE",
    "locations": {"S8GWD5R9QB376": "l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a"}, "default_location_id": "l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a"}))]
pub(super) struct PosIn {
    /// The business's account at the provider (Zettle `organizationUuid`, Square `merchant_id`, Shopify shop domain).
    account: String,
    /// The webhook signing secret (at least 16 characters); never answered.
    #[schema(min_length = 16)]
    secret: String,
    /// Square only: the notification URL, part of what Square signs.
    notification_url: Option<String>,
    /// Till location id to svea location id.
    #[serde(default)]
    locations: BTreeMap<String, String>,
    /// Where purchases from unmapped till locations belong.
    default_location_id: Option<String>,
}

fn location(raw: &str) -> Result<LocationId, PosError> {
    raw.parse().map_err(|_| invalid(format!("location id {:?} is not valid", raw.chars().take(64).collect::<String>())))
}

/// `PUT /v1/businesses/{id}/pos/{provider}`.
#[utoipa::path(put, path = "/v1/businesses/{id}/pos/{provider}", tag = "businesses", operation_id = "put_pos", summary = "Register a till", description = "Registers (or replaces) the business's integration with a till provider and its webhook secret.",
    params(("id" = String, Path, description = "The business id.", example = "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e"), ("provider" = String, Path, description = "`zettle`, `square` or `shopify`.", example = "zettle")),
    security(("business_api_key" = [])),
    request_body(content = PosIn, content_type = "application/json"),
    responses((status = 200, description = "The business with the till registered (never its secret).", body = super::api::BusinessOut),
        super::error::answers::BusinessAuth, super::error::answers::BadBody, super::error::answers::RateLimited, super::error::answers::Busy,
        (status = 400, description = "`malformed-json`, `invalid-body`, `invalid-pos-input` (a short secret, a bad id or URL).", content_type = "application/problem+json", body = super::Problem),
        (status = 404, description = "`business-not-found` (another business's key), `unknown-provider`.", content_type = "application/problem+json", body = super::Problem),
        (status = 409, description = "`pos-account-taken`: another business registered this till account.", content_type = "application/problem+json", body = super::Problem)))]
pub(super) async fn put_pos(node: web::Data<NodeHandle>, req: HttpRequest, path: web::Path<(String, String)>, body: web::Json<PosIn>) -> ApiResult {
    let (id, provider_raw) = path.into_inner();
    let id = super::auth::authorize(&node, &req, &id).await?.business.id;
    let provider = provider(&provider_raw)?;
    let body = body.into_inner();
    let mut locations = BTreeMap::new();
    for (till, svea) in &body.locations {
        locations.insert(PosId::new(till, "till location id")?, location(svea)?);
    }
    let default_location = body.default_location_id.as_deref().map(location).transpose()?;
    let integration = PosIntegration::new(provider, PosId::new(&body.account, "account")?, &body.secret, body.notification_url, locations, default_location)?;
    let b = node.register_pos(id, integration).await??;
    Ok(HttpResponse::Ok().json(super::api::business_out(&node, &b)))
}

/// A receipt its mismatched tries locked.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct LockOut {
    /// The location it was bought at.
    location_id: String,
    /// The receipt id.
    receipt: String,
    /// When its last try was taken (RFC 3339).
    locked_at: String,
}

/// The receipts of a business that are locked.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"locks": [{"location_id": "l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a", "receipt": "147", "locked_at": "2026-03-02T11:50:03Z"}]}))]
pub(super) struct LocksOut {
    /// Oldest location and receipt first, at most 200.
    locks: Vec<LockOut>,
}

/// `GET /v1/businesses/{id}/pos/locks`.
#[utoipa::path(get, path = "/v1/businesses/{id}/pos/locks", tag = "businesses", operation_id = "list_receipt_locks", summary = "List locked receipts", description = "Receipts locked after too many mismatched confirmation tries.",
    params(("id" = String, Path, description = "The business id.", example = "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e")), security(("business_api_key" = [])),
    responses((status = 200, description = "Receipts that took `pos.receipt_mismatches_max` mismatched amounts across sessions: \
            no session can claim them until the business releases them.", body = LocksOut),
        super::error::answers::BusinessAuth, super::error::answers::RateLimited, super::error::answers::Busy))]
pub(super) async fn locks(node: web::Data<NodeHandle>, req: HttpRequest, id: web::Path<String>) -> ApiResult {
    let id = super::auth::authorize(&node, &req, &id).await?.business.id;
    let locks = node.locked_receipts(&id).await?;
    let locks = locks
        .into_iter()
        .map(|l| LockOut { location_id: l.location.to_string(), receipt: l.receipt.to_string(), locked_at: l.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true) })
        .collect();
    Ok(HttpResponse::Ok().json(LocksOut { locks }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"location_id": "l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a", "receipt": "147"}))]
pub(super) struct ReleaseIn {
    /// The location the receipt was bought at.
    location_id: String,
    /// The receipt id, as the till reported it.
    receipt: String,
}

/// Whether a receipt was released.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"released": true}))]
pub(super) struct ReleasedOut {
    /// `true` when it was locked and takes tries again; `false` when it was not locked.
    released: bool,
}

/// `POST /v1/businesses/{id}/pos/locks/release`.
#[utoipa::path(post, path = "/v1/businesses/{id}/pos/locks/release", tag = "businesses", operation_id = "release_receipt", summary = "Release a locked receipt", description = "Unlocks a receipt its mismatched tries locked, so it can be claimed again.",
    params(("id" = String, Path, description = "The business id.", example = "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e")), security(("business_api_key" = [])),
    request_body(content = ReleaseIn, content_type = "application/json"),
    responses((status = 200, description = "Released (or it was not locked): the receipt takes `pos.receipt_mismatches_max` tries again.", body = ReleasedOut),
        super::error::answers::BusinessAuth, super::error::answers::BadBody, super::error::answers::RateLimited, super::error::answers::Busy,
        (status = 422, description = "`invalid-id`: the receipt is not a valid receipt id.", content_type = "application/problem+json", body = super::Problem)))]
pub(super) async fn release(node: web::Data<NodeHandle>, req: HttpRequest, id: web::Path<String>, body: web::Json<ReleaseIn>) -> ApiResult {
    let id = super::auth::authorize(&node, &req, &id).await?.business.id;
    let location: LocationId = body
        .location_id
        .parse()
        .map_err(|_| ApiError::Actor(crate::actors::ActorError::NotFound { what: crate::actors::Missing::Location, id: body.location_id.chars().take(64).collect() }))?;
    let receipt: TransactionId = body.receipt.parse().map_err(crate::domain::DomainError::from)?;
    let released = node.release_receipt(id, location, receipt).await?;
    Ok(HttpResponse::Ok().json(ReleasedOut { released }))
}

#[cfg(test)]
mod tests {
    //! Fixtures built from each provider's documented example payload, signed as each documents.

    use actix_web::http::header::{HeaderName, HeaderValue};
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;

    use super::*;
    use crate::domain::pos::sign;

    const SECRET: &str = "G6MWAEw1Fc6FWPkfiJiZ3j8Ya76I5ZbEDVPtzcPl6L6scsylmK5AEDyNyMe8N5cy";
    const URL: &str = "https://svea.example/v1/pos/square/webhook";

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn integration(provider: Provider, account: &str, secret: &str) -> PosIntegration {
        let url = (provider == Provider::Square).then(|| URL.to_owned());
        PosIntegration::new(provider, PosId::new(account, "account").unwrap(), secret, url, BTreeMap::new(), None).unwrap()
    }

    // Zettle's documented PurchaseCreated example (event-subscriptions.md), payload as a JSON text.
    fn zettle_body(amount: i64) -> (String, String, String) {
        let payload = format!(
            r#"{{"purchaseUuid":"244f60a0-fb65-11e7-ae57-406959a78d8a","source":"POS","userUuid":"1b881020-fb65-11e7-bcf2-692e23651920","currency":"SEK","country":"SE","amount":{amount},"vatAmount":21,"timestamp":1516179747754,"created":"2018-01-17T09:02:27.754+0000","purchaseNumber":6,"organizationUuid":"1b84dbd0-fb65-11e7-9c34-d96d4f33e8fc"}}"#
        );
        let timestamp = "2018-01-17T09:02:28.100Z".to_owned();
        let body = serde_json::json!({
            "organizationUuid": "1b84dbd0-fb65-11e7-9c34-d96d4f33e8fc",
            "messageUuid": "29248ab5-06e6-11e8-8aad-d86c15859e19",
            "eventName": "PurchaseCreated",
            "messageId": "29248ab5-06e6-58dd-8aad-d86c15859e19",
            "payload": payload,
            "timestamp": timestamp,
        })
        .to_string();
        (body, timestamp, payload)
    }

    #[test]
    fn zettle_signature_is_hex_hmac_of_timestamp_dot_payload() {
        let (body, ts, payload) = zettle_body(8300);
        let sig = hex(&sign(SECRET, &[ts.as_bytes(), b".", payload.as_bytes()]));
        let d = zettle(&headers(&[(ZETTLE_SIGNATURE, &sig)]), body.as_bytes()).unwrap().unwrap();
        let good = integration(Provider::Zettle, "1b84dbd0-fb65-11e7-9c34-d96d4f33e8fc", SECRET);
        assert!(d.verify(&good));
        let p = d.purchase.clone().unwrap();
        assert_eq!((p.receipt.as_str(), p.amount.as_ore()), ("6", 8300));
        assert!(!d.verify(&integration(Provider::Zettle, "1b84dbd0-fb65-11e7-9c34-d96d4f33e8fc", "another-secret-of-16+")));
        // The amount altered after signing.
        let (altered, _, _) = zettle_body(9300);
        let d2 = zettle(&headers(&[(ZETTLE_SIGNATURE, &sig)]), altered.as_bytes()).unwrap().unwrap();
        assert!(!d2.verify(&good));
    }

    #[test]
    fn zettle_test_message_is_ignored_and_garbage_is_refused() {
        let test = br#"{"eventName":"TestMessage","organizationUuid":"o","messageId":"m","payload":{"data":"payload"}}"#;
        assert_eq!(zettle(&HeaderMap::new(), test).unwrap(), None);
        assert!(zettle(&HeaderMap::new(), b"{").is_err());
        assert!(zettle(&HeaderMap::new(), b"[]").is_err());
        let (body, _, _) = zettle_body(1);
        assert!(zettle(&HeaderMap::new(), body.as_bytes()).is_err(), "no signature header");
    }

    // Square's documented payment.updated shape (developer.squareup.com/docs/webhooks).
    fn square_body(amount: i64) -> String {
        serde_json::json!({
            "merchant_id": "6SSW7HV8K2ST5",
            "type": "payment.updated",
            "event_id": "13b867cf-db3d-4b1c-90b6-2f32a9d78124",
            "created_at": "2020-02-06T21:27:34.308Z",
            "data": {"type": "payment", "id": "hYy9pRFVxpDsO1FB05SunFWUe9JZY", "object": {"payment": {
                "id": "hYy9pRFVxpDsO1FB05SunFWUe9JZY",
                "amount_money": {"amount": amount, "currency": "SEK"},
                "total_money": {"amount": amount, "currency": "SEK"},
                "status": "COMPLETED",
                "location_id": "S8GWD5R9QB376",
                "created_at": "2020-02-06T21:27:30.792Z",
                "receipt_number": "hYy9",
                "order_id": "03O3USaPaAaFnI6kkwB1JxGgBsUZY"
            }}}
        })
        .to_string()
    }

    #[test]
    fn square_signature_is_base64_hmac_of_url_then_body() {
        let body = square_body(10000);
        let sig = STANDARD.encode(sign(SECRET, &[URL.as_bytes(), body.as_bytes()]));
        let d = square(&headers(&[(SQUARE_SIGNATURE, &sig)]), body.as_bytes()).unwrap();
        let good = integration(Provider::Square, "6SSW7HV8K2ST5", SECRET);
        assert!(d.verify(&good));
        let p = d.purchase.clone().unwrap();
        assert_eq!((p.receipt.as_str(), p.amount.as_ore()), ("hYy9", 10000));
        assert_eq!(p.till_location.unwrap().as_str(), "S8GWD5R9QB376");
        assert!(!d.verify(&integration(Provider::Square, "6SSW7HV8K2ST5", "another-secret-of-16+")));
        let mut other_url = good.clone();
        other_url.notification_url = Some("https://elsewhere.example/hook".into());
        assert!(!d.verify(&other_url), "the URL is part of what is signed");
        let mut one_byte = body.clone().into_bytes();
        let i = one_byte.iter().position(|b| *b == b'h').unwrap();
        one_byte[i] = b'H';
        assert!(!square(&headers(&[(SQUARE_SIGNATURE, &sig)]), &one_byte).unwrap().verify(&good));
        let altered = square_body(99999);
        assert!(!square(&headers(&[(SQUARE_SIGNATURE, &sig)]), altered.as_bytes()).unwrap().verify(&good));
    }

    // Shopify's orders/create example fields (shopify.dev webhook reference).
    fn shopify_body(total: &str) -> String {
        serde_json::json!({
            "id": 820982911946154508_i64,
            "name": "#1001",
            "order_number": 1001,
            "total_price": total,
            "currency": "SEK",
            "financial_status": "paid",
            "created_at": "2026-01-01T12:00:00+01:00",
            "processed_at": "2026-01-01T12:00:00+01:00",
            "location_id": 905684977
        })
        .to_string()
    }

    fn shopify_headers(sig: &str) -> HeaderMap {
        headers(&[
            (SHOPIFY_SIGNATURE, sig),
            ("x-shopify-shop-domain", "svea-test.myshopify.com"),
            ("x-shopify-topic", "orders/create"),
            ("x-shopify-event-id", "98880550-7158-44d4-b7cd-2c97c8a091b5"),
            ("x-shopify-webhook-id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"),
        ])
    }

    #[test]
    fn shopify_signature_is_base64_hmac_of_body() {
        let body = shopify_body("199.00");
        let sig = STANDARD.encode(sign(SECRET, &[body.as_bytes()]));
        let d = shopify(&shopify_headers(&sig), body.as_bytes()).unwrap();
        let good = integration(Provider::Shopify, "svea-test.myshopify.com", SECRET);
        assert!(d.verify(&good));
        assert_eq!(d.event_id.as_str(), "98880550-7158-44d4-b7cd-2c97c8a091b5");
        let p = d.purchase.clone().unwrap();
        assert_eq!((p.receipt.as_str(), p.amount.as_ore()), ("#1001", 19900));
        assert!(!d.verify(&integration(Provider::Shopify, "svea-test.myshopify.com", "another-secret-of-16+")));
        assert!(!d.verify(&integration(Provider::Shopify, "other.myshopify.com", SECRET)), "another shop's registration");
        let altered = shopify_body("1990.00");
        assert!(!shopify(&shopify_headers(&sig), altered.as_bytes()).unwrap().verify(&good));
        assert!(!shopify(&shopify_headers("not base64!"), body.as_bytes()).unwrap().verify(&good));
    }

    #[test]
    fn zettle_refund_is_a_purchase_with_refund_true_naming_the_refunded_purchase() {
        // purchase.adoc, "Fetching purchases with partial refund": the refund's own purchase,
        // negative amount, `refundsPurchaseUUID1` pointing at the original.
        let payload = r#"{"purchaseUuid":"1ca5c42a-8ec4-11e6-aaff-4186f29705b6","currency":"SEK","amount":-3500,"timestamp":1476088362675,"purchaseNumber":10,"refund":true,"refundsPurchaseUUID1":"0e935690-8ec4-11e6-91f3-27d1de799420"}"#;
        let ts = "2016-10-10T08:32:43.100Z";
        let body = serde_json::json!({"organizationUuid": "o-1", "eventName": "PurchaseCreated", "messageId": "m-1", "payload": payload, "timestamp": ts}).to_string();
        let sig = hex(&sign(SECRET, &[ts.as_bytes(), b".", payload.as_bytes()]));
        let d = zettle(&headers(&[(ZETTLE_SIGNATURE, &sig)]), body.as_bytes()).unwrap().unwrap();
        assert!(d.verify(&integration(Provider::Zettle, "o-1", SECRET)), "a refund is signed as a purchase");
        assert_eq!(d.purchase, None);
        let r = d.refund.unwrap();
        assert_eq!((r.till_id.as_str(), r.amount), ("0e935690-8ec4-11e6-91f3-27d1de799420", Some(Ore::from_ore(3500))));
        // A sale names itself by its purchaseUuid, which a refund names.
        let (sale, _, _) = zettle_body(8300);
        let sale = zettle(&headers(&[(ZETTLE_SIGNATURE, "00")]), sale.as_bytes()).unwrap().unwrap();
        assert_eq!(sale.purchase.unwrap().till_id.unwrap().as_str(), "244f60a0-fb65-11e7-ae57-406959a78d8a");
        assert_eq!(sale.refund, None);
    }

    #[test]
    fn square_refund_counts_when_completed_and_a_canceled_payment_cancels() {
        // reference/square/webhooks/refund.updated, its example payload (in SEK).
        let refund = |status: &str| {
            serde_json::json!({"merchant_id": "6SSW7HV8K2ST5", "type": "refund.updated", "event_id": "bc316346-6691-4243-88ed-6d651a0d0c47",
                "created_at": "2020-02-06T22:14:16.421Z", "data": {"type": "refund", "id": "KkAk_ptNB", "object": {"refund": {
                "id": "KkAk_ptNB", "created_at": "2020-02-06T21:27:41.836Z", "amount_money": {"amount": 1000, "currency": "SEK"},
                "status": status, "location_id": "NAQ1FHV6ZJ8YV", "order_id": "haOyDuHiqtAXMk0d8pDKXpL7Jg4F",
                "payment_id": "KkAkhdMsgzn59SM8A89WgKwekxLZY"}}}})
            .to_string()
        };
        let done = refund("COMPLETED");
        let sig = STANDARD.encode(sign(SECRET, &[URL.as_bytes(), done.as_bytes()]));
        let d = square(&headers(&[(SQUARE_SIGNATURE, &sig)]), done.as_bytes()).unwrap();
        assert!(d.verify(&integration(Provider::Square, "6SSW7HV8K2ST5", SECRET)));
        let r = d.refund.unwrap();
        assert_eq!((r.till_id.as_str(), r.amount), ("KkAkhdMsgzn59SM8A89WgKwekxLZY", Some(Ore::from_ore(1000))));
        assert_eq!(square(&headers(&[(SQUARE_SIGNATURE, "x")]), refund("PENDING").as_bytes()).unwrap().refund, None);
        let canceled = square_body(10000).replace("COMPLETED", "CANCELED");
        let d = square(&headers(&[(SQUARE_SIGNATURE, "x")]), canceled.as_bytes()).unwrap();
        assert_eq!((d.purchase, d.refund.map(|r| (r.till_id.as_str().to_owned(), r.amount))), (None, Some(("hYy9pRFVxpDsO1FB05SunFWUe9JZY".to_owned(), None))));
        let paid = square(&headers(&[(SQUARE_SIGNATURE, "x")]), square_body(10000).as_bytes()).unwrap();
        assert_eq!(paid.purchase.unwrap().till_id.unwrap().as_str(), "hYy9pRFVxpDsO1FB05SunFWUe9JZY");
    }

    #[test]
    fn shopify_refunds_sum_their_successful_refund_transactions_and_cancellations_cancel() {
        let topic = |t: &str| {
            let mut h = shopify_headers("x");
            h.insert(HeaderName::from_static("x-shopify-topic"), HeaderValue::from_str(t).unwrap());
            h
        };
        // The Refund resource (shopify.dev, refunds/create): transactions of kind "refund".
        let body = serde_json::json!({"id": 929361464, "order_id": 450789469, "created_at": "2020-01-14T10:34:55-05:00",
            "transactions": [
                {"id": 1, "order_id": 450789469, "kind": "refund", "status": "success", "amount": "41.94", "currency": "SEK"},
                {"id": 2, "order_id": 450789469, "kind": "refund", "status": "failure", "amount": "99.00", "currency": "SEK"},
                {"id": 3, "order_id": 450789469, "kind": "refund", "status": "success", "amount": "8.06", "currency": "SEK"}]})
        .to_string();
        let d = shopify(&topic("refunds/create"), body.as_bytes()).unwrap();
        let r = d.refund.unwrap();
        assert_eq!((r.till_id.as_str(), r.amount), ("450789469", Some(Ore::from_ore(5000))));
        assert_eq!(d.purchase, None);
        let restock_only = serde_json::json!({"id": 9, "order_id": 450789469, "transactions": []}).to_string();
        assert_eq!(shopify(&topic("refunds/create"), restock_only.as_bytes()).unwrap().refund, None);
        let cancelled = shopify(&topic("orders/cancelled"), shopify_body("199.00").as_bytes()).unwrap();
        assert_eq!(cancelled.purchase, None, "a cancelled order reports no purchase");
        assert_eq!(cancelled.refund.unwrap().till_id.as_str(), "820982911946154508");
        let created = shopify(&shopify_headers("x"), shopify_body("199.00").as_bytes()).unwrap();
        assert_eq!(created.purchase.unwrap().till_id.unwrap().as_str(), "820982911946154508");
    }

    #[test]
    fn foreign_currency_and_malformed_fields_are_refused() {
        let body = shopify_body("199.00").replace("SEK", "USD");
        assert!(matches!(shopify(&shopify_headers("x"), body.as_bytes()), Err(PosError::Currency(_))));
        let body = shopify_body("-1.0.0");
        assert!(shopify(&shopify_headers("x"), body.as_bytes()).is_err());
        assert!(square(&headers(&[(SQUARE_SIGNATURE, "x")]), b"{\"merchant_id\":1}").is_err());
        assert!("paypal".parse::<Provider>().is_err());
    }
}
