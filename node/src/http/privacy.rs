//! A customer's own data: `POST /v1/privacy/export` and `POST /v1/privacy/erase`. The device id
//! travels in the body, never in the URL, so it is not written to access logs; it is hashed by the
//! node core at once (see `domain::device`).

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::api::{purchase_out, rfc3339, PurchaseOut};
use super::error::{bad, ApiResult};
use crate::actors::session::Session;
use crate::core::NodeHandle;
use crate::domain::{DeviceId, DomainError, SessionId};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"device_id": "phone-3b1f6c2a"}))]
pub(super) struct ExportIn {
    /// The device id the customer's sessions were opened with.
    device_id: String,
    /// The `next_after` of the previous page.
    after: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"device_id": "phone-3b1f6c2a"}))]
pub(super) struct EraseIn {
    /// The device id the customer's sessions were opened with.
    device_id: String,
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
struct ExportOut {
    sessions: Vec<ExportedOut>,
    /// Pass as `after` for the next page; `null` when this was the last.
    next_after: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"erased_sessions": 3, "more": false}))]
struct EraseOut {
    erased_sessions: usize,
    /// The device may have more sessions: send the request again.
    more: bool,
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

/// `POST /v1/privacy/export`.
#[utoipa::path(post, path = "/v1/privacy/export", tag = "privacy", operation_id = "privacy_export",
    request_body(content = ExportIn, content_type = "application/json"),
    responses((status = 200, description = "The device's sessions, oldest first, a page at a time.", body = ExportOut),
        super::error::answers::BadBody, super::error::answers::RateLimited, super::error::answers::Busy,
        (status = 400, description = "`malformed-json`, `invalid-body`, `invalid-after` (not a session id).", content_type = "application/problem+json", body = super::Problem),
        (status = 422, description = "`invalid-id`: the device id is empty or too long.", content_type = "application/problem+json", body = super::Problem)))]
pub(super) async fn export(node: web::Data<NodeHandle>, body: web::Json<ExportIn>) -> ApiResult {
    let device: DeviceId = body.device_id.parse().map_err(DomainError::from)?;
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
#[utoipa::path(post, path = "/v1/privacy/erase", tag = "privacy", operation_id = "privacy_erase",
    request_body(content = EraseIn, content_type = "application/json"),
    responses((status = 200, description = "Feedback texts and device links erased on every replica; `more`: send again.", body = EraseOut),
        super::error::answers::BadBody, super::error::answers::RateLimited, super::error::answers::Busy,
        (status = 422, description = "`invalid-id`: the device id is empty or too long.", content_type = "application/problem+json", body = super::Problem)))]
pub(super) async fn erase(node: web::Data<NodeHandle>, body: web::Json<EraseIn>) -> ApiResult {
    let device: DeviceId = body.device_id.parse().map_err(DomainError::from)?;
    let done = node.erase_device(&device).await?;
    Ok(HttpResponse::Ok().json(EraseOut { erased_sessions: done.sessions, more: done.more }))
}
