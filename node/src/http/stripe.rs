//! Stripe at the edge: `POST /v1/stripe/webhook`, where Stripe tells svea that a business paid
//! (or was refunded), and the top-up a business starts (the dashboard's form in
//! `dashboard/top_up.rs`, and the API's `POST /v1/businesses/{id}/top-ups`), which becomes a
//! redirect to Stripe's Checkout page.
//!
//! The webhook reads the raw body (at most `stripe.webhook_body_bytes_max`), verifies its
//! `Stripe-Signature` before anything is parsed (`domain::stripe::verify`: a forged, altered or
//! stale delivery is answered 400 and nothing is recorded), then acts on the event: a paid
//! `checkout.session.completed` credits the business's budget, idempotent on the event id and
//! on the Checkout Session (Stripe retries a delivery until it gets a 2xx, for up to three
//! days, and may deliver one event twice: docs.stripe.com/webhooks, "Handle duplicate
//! events"); a `charge.refunded` debits what was refunded since the last one; every other type
//! is answered 200 and ignored. The answer is fast (one replicated write at most): Stripe counts
//! a slow answer as a failure.
//!
//! The webhook takes a token from the per-address bucket like every public route: Stripe sends
//! from a few addresses, but a signature check is cheap, and an attacker flooding the route with
//! forged deliveries should meet the same limit as anywhere else.

use actix_web::{web, HttpRequest, HttpResponse};
use futures::StreamExt;
use serde::Serialize;

use super::error::{ApiError, ApiResult};
use crate::core::stripe::{CheckoutSession, TopUpRequest};
use crate::core::NodeHandle;
use crate::domain::stripe::{self as rules, EventBody, SIGNATURE_HEADER};
use crate::domain::{BusinessId, Ore};

/// The line's name on Stripe's page and on the business's receipt.
pub const PRODUCT_NAME: &str = "svea: budget för cashback";

/// What the webhook did.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"status": "recorded", "event": "evt_1NG8Du2eZvKYlo2CUI79vXWy"}))]
pub(super) struct StripeWebhookOut {
    /// `recorded` (money moved), `duplicate` (this event, or this Checkout Session, was
    /// recorded before: nothing changed), `pending` (a completed session whose payment has not
    /// settled: nothing credited yet) or `ignored` (an event type svea does not act on, or an
    /// event of the other mode, test or live, than the secret key's).
    status: &'static str,
    /// The event's id.
    event: String,
}

/// Reads the whole body, refusing it past `limit` bytes (before reading the rest).
pub(super) async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::BytesMut, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| super::error::bad("invalid-body", format!("the body could not be read: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::BodyTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `POST /v1/stripe/webhook`.
#[utoipa::path(post, path = "/v1/stripe/webhook", tag = "funding", operation_id = "stripe_webhook", summary = "Receive Stripe's events", description = "Stripe's signed webhook: a paid Checkout Session credits the business once, a refund debits it.",
    request_body(content = Object, content_type = "application/json",
        description = "A Stripe event as Stripe sends it (docs.stripe.com/api/events/object), signed in the \
            `Stripe-Signature` header (`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" under the endpoint's \
            whsec_ secret>`). Acted on: `checkout.session.completed` and `checkout.session.async_payment_succeeded` \
            with `payment_status: paid` (credits the business named by `client_reference_id`), `charge.refunded` \
            (debits what `amount_refunded` adds). Any other type is acknowledged and ignored.",
        example = json!({"id": "evt_1NG8Du2eZvKYlo2CUI79vXWy", "object": "event", "type": "checkout.session.completed",
            "created": 1772451720, "livemode": false, "data": {"object": {"id": "cs_test_a1b2c3d4", "object": "checkout.session",
            "amount_total": 50000, "currency": "sek", "payment_status": "paid", "client_reference_id": "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e",
            "metadata": {"svea_business_id": "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e", "svea_top_up": "7d1c0e"}, "payment_intent": "pi_3Ab12CdEfGh"}}})),
    params(("Stripe-Signature" = String, Header, description = "Stripe's signature of the body.",
        example = "t=1772451720,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd")),
    responses(
        (status = 200, description = "Recorded, a duplicate, pending or ignored.", body = StripeWebhookOut),
        super::error::answers::RateLimited, super::error::answers::Busy,
        (status = 400, description = "`invalid-stripe-signature`: no `Stripe-Signature`, a malformed one, or no `v1` that \
            matches the body under the endpoint's secret; `stale-stripe-signature`: its `t` is more than \
            `stripe.webhook_tolerance_s` from now; `invalid-stripe-event`: a verified body that is not the event Stripe \
            documents (a paid session without a business, an amount or a payment). Nothing is recorded.",
            content_type = "application/problem+json", body = super::Problem),
        (status = 404, description = "`card-top-ups-off`: this node does not take card money (`funding.provider` is not `stripe`, or no `stripe.webhook_secret`); `business-not-found`: the session names no business of svea's; `payment-not-found`: a refund of a payment svea never credited.", content_type = "application/problem+json", body = super::Problem),
        (status = 413, description = "`body-too-large`: larger than `stripe.webhook_body_bytes_max`.", content_type = "application/problem+json", body = super::Problem),
        (status = 422, description = "`unsupported-currency`: a payment or refund not in SEK.",
            content_type = "application/problem+json", body = super::Problem),
    ))]
pub(super) async fn webhook(node: web::Data<NodeHandle>, req: HttpRequest, payload: web::Payload) -> ApiResult {
    let c = &node.config().stripe;
    // Unsigned is refused first, configured or not: nothing unsigned is ever looked at.
    if req.headers().get(SIGNATURE_HEADER).is_none() {
        return Err(ApiError::Stripe(crate::domain::stripe::StripeError::MissingSignature));
    }
    if c.webhook_secret.is_empty() || node.config().funding.provider != svea_config::FundingProvider::Stripe {
        return Err(ApiError::TopUp(crate::core::stripe::TopUpError::NotConfigured));
    }
    let body = read_body(payload, c.webhook_body_bytes_max).await?;
    let header = req.headers().get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    let now_s = chrono::Utc::now().timestamp();
    rules::verify(header, &body, &c.webhook_secret, now_s, c.webhook_tolerance.as_secs())?;
    let event = rules::parse_event(&body)?;
    let answer = |status| Ok(HttpResponse::Ok().json(StripeWebhookOut { status, event: event.id.to_string() }));
    if event.livemode != c.live() {
        tracing::warn!(event = %event.id, livemode = event.livemode, "stripe event of the other mode than the secret key's: ignored");
        return answer("ignored");
    }
    let status = match &event.body {
        EventBody::Paid(paid) => {
            let recorded = node.record_card_top_up(&event, paid).await?;
            tracing::info!(event = %event.id, business = %paid.business, checkout_session = %paid.session, amount_ore = paid.amount.as_ore(), recorded, "stripe top-up");
            if recorded { "recorded" } else { "duplicate" }
        }
        EventBody::Refunded(refund) => {
            let recorded = node.record_card_refund(&event, refund).await?;
            tracing::info!(event = %event.id, payment = %refund.payment, refunded_total_ore = refund.refunded_total.as_ore(), recorded, "stripe refund");
            if recorded { "recorded" } else { "duplicate" }
        }
        EventBody::NotPaid { session, payment_status } => {
            tracing::info!(event = %event.id, checkout_session = %session, payment_status, "checkout completed, payment not settled: nothing credited yet");
            "pending"
        }
        EventBody::Other => "ignored",
    };
    answer(status)
}

/// Starts a card top-up of `amount` for `business`: the Checkout Session to send the business
/// to. `request` is the top-up request's id (the same on every retry of one top-up).
pub(super) async fn start_checkout(node: &NodeHandle, business: BusinessId, amount: Ore, request: String) -> Result<CheckoutSession, ApiError> {
    let base = node.config().node.public_url.trim_end_matches('/').to_owned();
    let top_up = TopUpRequest {
        business,
        amount,
        request,
        success_url: format!("{base}{}?session_id={{CHECKOUT_SESSION_ID}}", super::dashboard::TOP_UP_DONE),
        cancel_url: format!("{base}{}", super::dashboard::TOP_UP_CANCELLED),
        product_name: PRODUCT_NAME.to_owned(),
    };
    Ok(node.start_card_top_up(top_up).await?)
}
