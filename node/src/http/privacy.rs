//! A customer's own data: `POST /v1/privacy/export` and `POST /v1/privacy/erase`, for the holder
//! of the device credential svea issued (`device_token`, see `domain::device`). The token travels
//! in the body, never in the URL, so it is not written to access logs; it is verified here (a
//! token svea did not issue: 401 `invalid-device-token`, before anything is read) and the device
//! it stands for is hashed by the node core at once. A verified device without sessions and a
//! device that never existed answer alike: an empty export. Both routes have their own, stricter
//! per-address bucket besides the general one (`http::ratelimit`, `abuse.privacy_*`).

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::api::{purchase_out, rfc3339, PurchaseOut};
use super::error::{bad, ApiError, ApiResult};
use crate::actors::session::Session;
use crate::core::NodeHandle;
use crate::domain::{DeviceId, SessionId};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"device_token": "svea_dt_3Jq0c8WkZr1mT5vYbN2xPfL7hD9sGa4uQe6oKiBnRw0Xy8Vz2CtMjHp5Ld1Fg3Ks"}))]
pub(super) struct ExportIn {
    /// The device credential svea issued when the device first scanned (`POST /v1/sessions`).
    /// Required: without it the answer is 401 `invalid-device-token`.
    #[serde(default)]
    #[schema(required = true, value_type = String)]
    device_token: Option<String>,
    /// The `next_after` of the previous page.
    after: Option<String>,
    /// The client-chosen id of earlier versions: refused with 400 `device-id-refused`.
    #[serde(default)]
    #[schema(ignore)]
    device_id: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"device_token": "svea_dt_3Jq0c8WkZr1mT5vYbN2xPfL7hD9sGa4uQe6oKiBnRw0Xy8Vz2CtMjHp5Ld1Fg3Ks"}))]
pub(super) struct EraseIn {
    /// The device credential svea issued when the device first scanned (`POST /v1/sessions`).
    /// Required: without it the answer is 401 `invalid-device-token`.
    #[serde(default)]
    #[schema(required = true, value_type = String)]
    device_token: Option<String>,
    /// The client-chosen id of earlier versions: refused with 400 `device-id-refused`.
    #[serde(default)]
    #[schema(ignore)]
    device_id: Option<serde::de::IgnoredAny>,
}

/// The device a privacy request is for: its `device_token`, verified. The old `device_id` is
/// refused by name; no token at all is the same 401 as a forged one.
fn verified(node: &NodeHandle, token: Option<&str>, device_id: bool) -> Result<DeviceId, ApiError> {
    super::api::refuse_device_id(device_id)?;
    Ok(node.devices().verify(token.unwrap_or_default())?)
}

#[derive(Serialize, utoipa::ToSchema)]
struct FeedbackOut {
    text: Option<String>,
    given_at: String,
    quality_score: u8,
    /// Who gave the score (`rubric` or `ollama`): a customer may see whether a model decided.
    score_source: &'static str,
    score_model: Option<String>,
    redacted: Option<&'static str>,
    redacted_at: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ExportedOut {
    id: String,
    business_name: String,
    location_name: String,
    state: &'static str,
    opened_at: String,
    ended_at: Option<String>,
    purchase: Option<PurchaseOut>,
    feedback: Option<FeedbackOut>,
    reward_sek: Option<String>,
    reward_tier: Option<crate::domain::RewardTier>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"sessions": [{"id": "s_5d7f9b1c3e2a4c6e8a0b1c2d3e4f5a6b", "business_name": "Café Lilla Torg", "location_name": "Lilla Torg",
    "state": "rewarded", "opened_at": "2026-03-02T11:43:10Z", "ended_at": "2026-03-02T11:47:55Z",
    "purchase": {"amount_sek": "89.50", "purchased_at": "2026-03-02T11:42:00Z", "transaction_id": "K-20260302-0147"},
    "feedback": {"text": "Kanelbullen var färsk och kaffet varmt, men kön vid kassan var lång vid lunch.", "given_at": "2026-03-02T11:47:55Z",
        "quality_score": 78, "score_source": "rubric", "score_model": null, "redacted": null, "redacted_at": null},
    "reward_sek": "4.48", "reward_tier": "mid"}], "next_after": null}))]
pub(super) struct ExportOut {
    sessions: Vec<ExportedOut>,
    /// Pass as `after` for the next page; `null` when this was the last.
    next_after: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"erased_sessions": 3, "more": false, "payee_erased": true}))]
struct EraseOut {
    erased_sessions: usize,
    /// The device may have more sessions: send the request again.
    more: bool,
    /// Whether a payee (the Swish number and personnummer given for payouts) was erased.
    payee_erased: bool,
}

fn exported_out(s: &Session) -> ExportedOut {
    let settlement = s.feedback.as_ref().and_then(|f| f.settlement);
    ExportedOut {
        id: s.id.to_string(),
        business_name: s.place.business_name.clone(),
        location_name: s.place.location_name.clone(),
        state: s.state.as_str(),
        opened_at: rfc3339(s.opened_at),
        ended_at: s.ended_at.map(rfc3339),
        purchase: s.purchase.as_ref().map(purchase_out),
        feedback: s.feedback.as_ref().map(|f| FeedbackOut {
            text: f.text.clone(),
            given_at: rfc3339(f.given_at),
            quality_score: f.score.total,
            score_source: f.score.source.as_str(),
            score_model: f.score.source.model().map(str::to_string),
            redacted: f.redacted.map(|r| r.reason.as_str()),
            redacted_at: f.redacted.map(|r| rfc3339(r.at)),
        }),
        reward_sek: settlement.map(|st| st.decision.amount.to_sek_string()),
        reward_tier: settlement.map(|st| st.decision.tier),
    }
}

/// Pages one export of the privacy page reads at most ([`PRIVACY_SESSIONS_PER_REQUEST_MAX`]
/// sessions each): a download is one request, bounded like any other.
///
/// [`PRIVACY_SESSIONS_PER_REQUEST_MAX`]: crate::core::privacy::PRIVACY_SESSIONS_PER_REQUEST_MAX
pub const PAGE_EXPORT_PAGES_MAX: usize = 20;

/// Everything the privacy page's download holds for `device`: up to [`PAGE_EXPORT_PAGES_MAX`]
/// pages of sessions, as the JSON API answers them (`next_after` set when more remain).
pub(super) async fn export_document(node: &NodeHandle, device: &DeviceId) -> Result<Vec<u8>, ApiError> {
    let mut sessions = Vec::new();
    let mut after = None;
    for _ in 0..PAGE_EXPORT_PAGES_MAX {
        let page = node.export_device(device, after).await?;
        sessions.extend(page.sessions.iter().map(exported_out));
        after = page.next_after;
        if after.is_none() {
            break;
        }
    }
    let out = ExportOut { sessions, next_after: after.map(|s| s.to_string()) };
    serde_json::to_vec_pretty(&out).map_err(|e| ApiError::Actor(crate::actors::ActorError::Internal(format!("export encoding failed: {e}"))))
}

/// `POST /v1/privacy/export`.
#[utoipa::path(post, path = "/v1/privacy/export", tag = "privacy", operation_id = "privacy_export", summary = "Export a customer's data", description = "Everything svea holds about the device token's holder, as JSON.",
    request_body(content = ExportIn, content_type = "application/json"),
    responses((status = 200, description = "The device's sessions, oldest first, a page at a time (none for a device \
            without sessions).", body = ExportOut),
        super::error::answers::BadBody, super::error::answers::PrivacyRateLimited, super::error::answers::Busy,
        super::error::answers::DeviceAuth,
        (status = 400, description = "`malformed-json`, `invalid-body`, `invalid-after` (not a session id), `device-id-refused` \
            (the client-chosen `device_id` of earlier versions counts for nothing).", content_type = "application/problem+json", body = super::Problem)))]
pub(super) async fn export(node: web::Data<NodeHandle>, body: web::Json<ExportIn>) -> ApiResult {
    let device = verified(&node, body.device_token.as_deref(), body.device_id.is_some())?;
    let after = match &body.after {
        None => None,
        Some(raw) => Some(raw.parse::<SessionId>().map_err(|_| bad("invalid-after", format!("after {raw:?} is not a session id")))?),
    };
    let page = node.export_device(&device, after).await?;
    Ok(HttpResponse::Ok().json(ExportOut {
        sessions: page.sessions.iter().map(exported_out).collect(),
        next_after: page.next_after.map(|s| s.to_string()),
    }))
}

/// `POST /v1/privacy/erase`.
#[utoipa::path(post, path = "/v1/privacy/erase", tag = "privacy", operation_id = "privacy_erase", summary = "Erase a customer's data", description = "Erases what svea holds about the device token's holder.",
    request_body(content = EraseIn, content_type = "application/json"),
    responses((status = 200, description = "Feedback texts and device links erased on every replica; `more`: send again.", body = EraseOut),
        super::error::answers::BadBody, super::error::answers::PrivacyRateLimited, super::error::answers::Busy,
        super::error::answers::DeviceAuth,
        (status = 400, description = "`malformed-json`, `invalid-body`, `device-id-refused` (the client-chosen `device_id` of \
            earlier versions counts for nothing).", content_type = "application/problem+json", body = super::Problem)))]
pub(super) async fn erase(node: web::Data<NodeHandle>, body: web::Json<EraseIn>) -> ApiResult {
    let device = verified(&node, body.device_token.as_deref(), body.device_id.is_some())?;
    let done = node.erase_device(&device).await?;
    Ok(HttpResponse::Ok().json(EraseOut { erased_sessions: done.sessions, more: done.more, payee_erased: done.payee_erased }))
}
