//! Swish at the edge: where a customer gives the payee details a Swish payout needs, and where
//! Swish posts a payout's result.
//!
//! - `PUT /v1/wallet/payee`: the customer's Swish number and personnummer (Swish's `payeeAlias`
//!   and `payeeSSN`, `domain::payee`), with their `device_token`; validated, sealed under
//!   `payouts.payee_key` for their device, kept in their wallet, answered masked. Sending it
//!   again replaces it. Neither value is ever logged or echoed whole.
//! - `POST /v1/payouts/swish/callback`: Swish posts the payout object to `callbackUrl` when a
//!   payout settles (Payout API v1, "Callback"). The callback is not signed and anyone can post
//!   to a public URL, so the body is not trusted: only its `payoutInstructionUUID` is read, an id
//!   with no payout is 404, and for a payout in flight the node asks Swish itself over mutual TLS
//!   (`GET /api/v1/payouts/{id}`, `core/swish.rs`) and records what Swish answers
//!   (`core::payouts::swish_callback`). A forged `PAID` changes nothing. The body is read up to
//!   [`CALLBACK_BYTES_MAX`]; the route takes from the address's request bucket like every
//!   public route.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::error::{bad, ApiResult};
use crate::actors::keys::PayoutState;
use crate::domain::ledger::PayoutId;
use crate::core::NodeHandle;
use crate::domain::payee::Payee;

/// Largest callback body read: Swish's payout object is about 1 KiB.
pub const CALLBACK_BYTES_MAX: usize = 16 * 1024;

/// The one field of Swish's callback svea reads.
#[derive(Deserialize)]
struct CallbackIn {
    #[serde(rename = "payoutInstructionUUID")]
    payout_instruction_uuid: Option<String>,
}

/// What svea recorded after asking Swish.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"payout_instruction_uuid": "0123456789ABCDEF0123456789ABCDEF", "state": "paid"}))]
pub(super) struct CallbackOut {
    /// The payout.
    payout_instruction_uuid: String,
    /// The payout's state in the ledger after this callback: `in_flight`, `paid` or `failed`.
    state: &'static str,
}

/// Swish's payout object, as far as svea reads it (every other field is ignored and not trusted).
#[derive(utoipa::ToSchema)]
#[schema(example = json!({"payoutInstructionUUID": "0123456789ABCDEF0123456789ABCDEF", "status": "PAID"}))]
#[allow(dead_code)] // documents the request body; the handler reads it as `CallbackIn`
pub(super) struct SwishPayoutObject {
    /// 32 upper-case hexadecimal characters: the instruction id svea sent.
    #[schema(rename = "payoutInstructionUUID", pattern = "^[0-9A-F]{32}$")]
    payout_instruction_uuid: String,
}

/// The ledger's state of a payout, as the API names it.
pub(super) fn state_name(state: &PayoutState) -> &'static str {
    match state {
        PayoutState::InFlight => "in_flight",
        PayoutState::Paid { .. } => "paid",
        PayoutState::Failed { .. } => "failed",
    }
}

/// Swish's payout callback: svea asks Swish before recording anything.
///
/// Swish posts the payout object here (`callbackUrl`) when a payout settles. The body is not
/// signed, so svea reads only `payoutInstructionUUID` and, for a payout in flight, asks Swish
/// for its status over mutual TLS; only Swish's own answer is recorded.
#[utoipa::path(post, path = "/v1/payouts/swish/callback", tag = "payouts", operation_id = "swish_payout_callback",
    request_body(content = SwishPayoutObject, content_type = "application/json",
        description = "Swish's payout object (Payout API v1, \"Callback\"). Only `payoutInstructionUUID` is read; svea asks Swish for the rest."),
    responses(
        (status = 200, description = "Swish was asked about the payout (or it was settled already); the ledger records Swish's answer.", body = CallbackOut),
        (status = 400, description = "`invalid-swish-callback`: not JSON, or no `payoutInstructionUUID` of 32 upper-case hexadecimal characters.", body = super::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`payout-not-found`: no payout has that id; `swish-not-configured`: payouts do not go out with Swish on this cluster.", body = super::Problem, content_type = "application/problem+json"),
        (status = 413, description = "`body-too-large`: over 16 KiB.", body = super::Problem, content_type = "application/problem+json"),
        super::error::answers::RateLimited,
        (status = 503, description = "`payout-rail-unavailable`: Swish did not answer the status query (the payout driver asks again); `busy`, `unavailable`: the cluster.", body = super::Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    ))]
pub(super) async fn callback(node: web::Data<NodeHandle>, payload: web::Payload) -> ApiResult {
    let body = super::stripe::read_body(payload, CALLBACK_BYTES_MAX).await?;
    let parsed: CallbackIn =
        serde_json::from_slice(&body).map_err(|e| bad("invalid-swish-callback", format!("not Swish's payout object: {e}")))?;
    let id = parsed
        .payout_instruction_uuid
        .as_deref()
        .and_then(PayoutId::parse)
        .ok_or_else(|| bad("invalid-swish-callback", "payoutInstructionUUID must be 32 upper-case hexadecimal characters"))?;
    let state = node.swish_callback(&id).await?;
    tracing::info!(payout_id = %id, state = state_name(&state), "swish callback: asked swish and recorded its answer");
    Ok(HttpResponse::Ok().json(CallbackOut { payout_instruction_uuid: id.to_string(), state: state_name(&state) }))
}

/// Who a customer's payouts go to.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"device_token": "svea_dt_3Jq0c8WkZr1mT5vYbN2xPfL7hD9sGa4uQe6oKiBnRw0Xy8Vz2CtMjHp5Ld1Fg3Ks", "swish_number": "070-123 45 67", "personnummer": "19900101-0017"}))]
pub(super) struct PayeeIn {
    /// The device credential svea issued (`POST /v1/sessions`).
    device_token: String,
    /// The Swish number payouts go to (Swish's `payeeAlias`): a Swedish mobile number in any
    /// common spelling (`070-123 45 67`, `+46 70 123 45 67`, `46701234567`).
    #[schema(example = "070-123 45 67", max_length = 40)]
    swish_number: String,
    /// The payee's personnummer (Swish's `payeeSSN`, which Swish checks belongs to the Swish
    /// number's owner): `YYYYMMDD-NNNN` or `YYMMDD-NNNN`.
    #[schema(example = "19900101-0017", max_length = 40)]
    personnummer: String,
}

/// The payee as a customer is shown it: never the whole number.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"swish_number": "070-*** ** 67", "personnummer": "19900101-****"}))]
pub(super) struct PayeeOut {
    /// The Swish number with only its prefix and last two digits.
    swish_number: String,
    /// The personnummer's birth date only.
    personnummer: String,
}

impl PayeeOut {
    pub(super) fn of(payee: &Payee) -> PayeeOut {
        PayeeOut { swish_number: payee.masked_alias(), personnummer: payee.masked_ssn() }
    }
}

/// Give the Swish number cashback is paid out to.
///
/// The customer's Swish number and personnummer, which Swish's Payout API requires of a payee.
/// Validated, sealed (ChaCha20-Poly1305 under `payouts.payee_key`, bound to the device) and kept
/// in the device's wallet; answered masked, never logged. Sending it again replaces it. A
/// payout due (balance at the minimum) starts with it.
#[utoipa::path(put, path = "/v1/wallet/payee", tag = "payouts", operation_id = "put_payee",
    request_body(content = PayeeIn, content_type = "application/json"),
    responses(
        (status = 200, description = "Kept (sealed) for payouts; shown masked.", body = PayeeOut),
        super::error::answers::BadBody, super::error::answers::DeviceAuth, super::error::answers::RateLimited, super::error::answers::Busy,
        (status = 404, description = "`payees-off`: this cluster has no `payouts.payee_key`, so it keeps no payees.", body = super::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid-swish-number`: not a Swedish mobile number; `invalid-personnummer`: not a personnummer (its form, its date or its check digit).", body = super::Problem, content_type = "application/problem+json"),
    ))]
pub(super) async fn put_payee(node: web::Data<NodeHandle>, body: web::Json<PayeeIn>) -> ApiResult {
    let body = body.into_inner();
    let device = node.devices().verify(&body.device_token)?;
    let today = crate::domain::day::swedish_day(chrono::Utc::now());
    let payee = Payee::parse(&body.swish_number, &body.personnummer, today)?;
    node.save_payee(&device, &payee).await?;
    Ok(HttpResponse::Ok().json(PayeeOut::of(&payee)))
}
