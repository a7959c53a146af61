//! Rewards a business's hourly brake held for its review (`pending_review`), through the API:
//! the list, and the business's release or refusal of each (the dashboard does the same through
//! its forms, `http::dashboard`). Both behind the business's API key.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::api::rfc3339;
use super::auth::authorize;
use super::error::{bad, ApiError, ApiResult};
use crate::actors::business::{ReviewDecision, Settlement};
use crate::actors::keys::HeldReward;
use crate::actors::{ActorError, Missing};
use crate::core::review::HeldPage;
use crate::core::NodeHandle;
use crate::domain::SessionId;

/// One held reward as answered.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"session_id": "s_5d7f9b1c3e2a4c6e8a0b1c2d3e4f5a6b", "held_at": "2026-03-02T11:47:55Z", "reward_sek": "4.48",
    "reward_tier": "mid", "purchase_sek": "89.50", "quality_score": 78}))]
pub(super) struct HeldOut {
    session_id: String,
    /// When the brake held it.
    held_at: String,
    /// What releasing it would pay, as computed when it was held (budget and today's cap are
    /// checked again on release, and may shorten it).
    reward_sek: String,
    reward_tier: crate::domain::RewardTier,
    purchase_sek: String,
    quality_score: u8,
}

/// The held rewards of a business.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"items": [{"session_id": "s_5d7f9b1c3e2a4c6e8a0b1c2d3e4f5a6b", "held_at": "2026-03-02T11:47:55Z", "reward_sek": "4.48",
    "reward_tier": "mid", "purchase_sek": "89.50", "quality_score": 78}], "more": false}))]
pub(super) struct HeldListOut {
    /// Oldest first, at most 200.
    items: Vec<HeldOut>,
    /// More are held than listed: decide these first.
    more: bool,
}

pub(super) fn held_out(session: &SessionId, h: &HeldReward) -> HeldOut {
    HeldOut {
        session_id: session.to_string(),
        held_at: rfc3339(h.held_at),
        reward_sek: h.reward.amount.to_sek_string(),
        reward_tier: h.reward.tier,
        purchase_sek: h.purchase.to_sek_string(),
        quality_score: h.score,
    }
}

fn list_out(page: &HeldPage) -> HeldListOut {
    HeldListOut { items: page.items.iter().map(|(s, h)| held_out(s, h)).collect(), more: page.more }
}

/// `GET /v1/businesses/{id}/held`.
#[utoipa::path(get, path = "/v1/businesses/{id}/held", tag = "businesses", operation_id = "list_held_rewards", summary = "List held rewards", description = "Rewards the hourly brake holds for the business's review.",
    params(("id" = String, Path, description = "The business id (`b_` and 32 hex digits).", example = "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e")), security(("business_api_key" = [])),
    responses((status = 200, description = "Rewards the hourly brake holds for the business's review (`pending_review`), oldest first.", body = HeldListOut),
        super::error::answers::BusinessAuth, super::error::answers::RateLimited, super::error::answers::Busy))]
pub(super) async fn list(node: web::Data<NodeHandle>, req: HttpRequest, id: web::Path<String>) -> ApiResult {
    let auth = authorize(&node, &req, &id).await?;
    let page = node.held_rewards(&auth.business.id).await?;
    Ok(HttpResponse::Ok().json(list_out(&page)))
}

/// A decision on a held reward.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"decision": "release"}))]
pub(super) struct DecisionIn {
    /// `release` (pay it, as far as the budget and today's cap allow) or `refuse` (settle it at 0).
    #[schema(pattern = "^(release|refuse)$")]
    decision: String,
}

/// The decided settlement of a held reward.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"session_id": "s_5d7f9b1c3e2a4c6e8a0b1c2d3e4f5a6b", "decision": "release", "reward_sek": "4.48", "withheld": null}))]
pub(super) struct DecidedOut {
    session_id: String,
    /// `release` or `refuse`.
    decision: &'static str,
    /// Paid: the held reward, or less when the budget or today's cap is short; `0.00` when refused.
    reward_sek: String,
    /// `review_refused` when refused.
    withheld: Option<crate::actors::business::Withheld>,
}

/// A decision as the API and the dashboard's form spell it.
pub(super) fn parse_decision(raw: &str) -> Result<ReviewDecision, ApiError> {
    match raw.trim() {
        "release" => Ok(ReviewDecision::Release),
        "refuse" => Ok(ReviewDecision::Refuse),
        other => Err(bad("invalid-decision", format!("decision {:?} is not release or refuse", other.chars().take(40).collect::<String>()))),
    }
}

/// A held reward's session id from a path: anything that is not one is simply not held.
pub(super) fn parse_held_session(raw: &str) -> Result<SessionId, ApiError> {
    raw.parse().map_err(|_| ApiError::Actor(ActorError::NotFound { what: Missing::HeldReward, id: raw.chars().take(64).collect() }))
}

fn decided_out(session: &SessionId, decision: ReviewDecision, s: &Settlement) -> DecidedOut {
    DecidedOut { session_id: session.to_string(), decision: decision.as_str(), reward_sek: s.decision.amount.to_sek_string(), withheld: s.withheld }
}

/// `POST /v1/businesses/{id}/held/{session}`.
#[utoipa::path(post, path = "/v1/businesses/{id}/held/{session}", tag = "businesses", operation_id = "review_held_reward", summary = "Decide a held reward", description = "Releases (pays) or refuses a reward the hourly brake held.",
    params(("id" = String, Path, description = "The business id.", example = "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e"),
        ("session" = String, Path, description = "The session whose reward is held.", example = "s_5d7f9b1c3e2a4c6e8a0b1c2d3e4f5a6b")),
    security(("business_api_key" = [])), request_body(content = DecisionIn, content_type = "application/json"),
    responses((status = 200, description = "Decided (the same decision again answers the same). The customer's session shows it.", body = DecidedOut),
        super::error::answers::BusinessAuth, super::error::answers::BadBody, super::error::answers::RateLimited, super::error::answers::Busy,
        (status = 400, description = "`invalid-decision`: not `release` or `refuse`.", content_type = "application/problem+json", body = super::Problem),
        (status = 409, description = "`held-reward-decided`: decided the other way already; `release-not-payable`: the budget or today's \
            reward cap is spent (it stays held: release it later, or refuse it).", content_type = "application/problem+json", body = super::Problem)))]
pub(super) async fn decide(node: web::Data<NodeHandle>, req: HttpRequest, path: web::Path<(String, String)>, body: web::Json<DecisionIn>) -> ApiResult {
    let (id, session) = path.into_inner();
    let auth = authorize(&node, &req, &id).await?;
    let decision = parse_decision(&body.decision)?;
    let session = parse_held_session(&session)?;
    let decided = node.review_held(auth.business.id, session.clone(), decision).await?;
    Ok(HttpResponse::Ok().json(decided_out(&session, decision, &decided)))
}
