//! The public API: businesses, sessions and routing, JSON in and out. Handlers parse and shape;
//! domain constructors check the input and the node core does the work.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::auth::authorize;
use super::error::{bad, ApiError, ApiResult};
use crate::actors::business::{Business, DayStats};
use crate::actors::session::{FeedbackText, Purchase, Session};
use crate::actors::{ActorError, Missing};
use crate::core::NodeHandle;
use crate::domain::{CreateBusiness, DeviceId, DomainError, NewLocation, OrgNumber, Ore, QrToken, RewardPolicy, SessionId, TransactionId};

pub(super) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

// ---------- request and response bodies ----------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LocationIn {
    name: String,
    lat: f64,
    lon: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PercentagesIn {
    low: String,
    mid: String,
    high: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateBusinessIn {
    name: String,
    org_number: String,
    locations: Vec<LocationIn>,
    reward_budget_sek: String,
    reward_percentages: Option<PercentagesIn>,
    purchase_verification: Option<String>,
}

#[derive(Serialize)]
struct LocationOut {
    id: String,
    name: String,
    lat: f64,
    lon: f64,
    qr_token: String,
    /// What the location's QR code encodes: the customer page ([`super::qr::customer_url`]).
    qr_url: String,
    /// The QR code as SVG and PNG, and the printable poster.
    links: super::qr::LocationLinks,
}

#[derive(Serialize)]
struct PercentagesOut {
    low: String,
    mid: String,
    high: String,
}

#[derive(Serialize)]
pub(super) struct BusinessOut {
    id: String,
    name: String,
    org_number: String,
    home_region: String,
    reward_budget_sek: String,
    rewards_paid_sek: String,
    remaining_budget_sek: String,
    reward_percentages: PercentagesOut,
    locations: Vec<LocationOut>,
    created_at: String,
    api_key_issued_at: String,
    purchase_verification: &'static str,
    pos: Vec<PosOut>,
}

/// A till registration as answered: never its secret.
#[derive(Serialize)]
struct PosOut {
    provider: &'static str,
    account: String,
    notification_url: Option<String>,
    locations: std::collections::BTreeMap<String, String>,
    default_location_id: Option<String>,
}

/// A business with its API key: the answer to creating it or rotating the key, the only times
/// the key is ever shown.
#[derive(Serialize)]
struct BusinessWithKeyOut {
    #[serde(flatten)]
    business: BusinessOut,
    api_key: String,
}

fn percent(bp: u32) -> String {
    // Basis points render like öre: 250 bp = "2.50" percent.
    Ore::from_ore(i64::from(bp)).to_sek_string()
}

pub(super) fn business_out(node: &NodeHandle, b: &Business) -> BusinessOut {
    BusinessOut {
        id: b.id.to_string(),
        name: b.name.clone(),
        org_number: b.org_number.to_string(),
        home_region: b.home_region.to_string(),
        reward_budget_sek: b.budget.to_sek_string(),
        rewards_paid_sek: b.paid.to_sek_string(),
        remaining_budget_sek: b.remaining().to_sek_string(),
        reward_percentages: PercentagesOut {
            low: percent(b.policy.tiers[0].basis_points),
            mid: percent(b.policy.tiers[1].basis_points),
            high: percent(b.policy.tiers[2].basis_points),
        },
        locations: b
            .locations
            .iter()
            .map(|l| LocationOut {
                id: l.id.to_string(),
                name: l.name.clone(),
                lat: l.lat,
                lon: l.lon,
                qr_token: l.qr_token.to_string(),
                qr_url: super::qr::customer_url(node, b, l),
                links: super::qr::links(b, l),
            })
            .collect(),
        created_at: rfc3339(b.created_at),
        api_key_issued_at: rfc3339(b.key_issued_at),
        purchase_verification: b.purchase_verification.as_str(),
        pos: b
            .pos
            .values()
            .map(|i| PosOut {
                provider: i.provider.as_str(),
                account: i.account.to_string(),
                notification_url: i.notification_url.clone(),
                locations: i.locations.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                default_location_id: i.default_location.as_ref().map(|l| l.to_string()),
            })
            .collect(),
    }
}

#[derive(Serialize)]
struct CountsOut {
    opened: u64,
    completed: u64,
    rejected: u64,
    expired: u64,
}

#[derive(Serialize)]
pub struct TiersOut {
    none: u64,
    low: u64,
    mid: u64,
    high: u64,
}

/// Counts per reward tier (none, low, mid, high) as answered.
pub(super) fn tiers_out(t: &[u64; 4]) -> TiersOut {
    TiersOut { none: t[0], low: t[1], mid: t[2], high: t[3] }
}

#[derive(Serialize)]
struct DayOut {
    date: String,
    opened: u64,
    completed: u64,
    rejected: u64,
    expired: u64,
    rewards_paid_sek: String,
}

#[derive(Serialize)]
struct AnalyticsOut {
    business_id: String,
    sessions: CountsOut,
    average_score: Option<f64>,
    rewards_paid_sek: String,
    remaining_budget_sek: String,
    tiers: TiersOut,
    per_day: Vec<DayOut>,
}

fn counts(d: &DayStats) -> CountsOut {
    CountsOut { opened: d.opened, completed: d.completed, rejected: d.rejected, expired: d.expired }
}

fn analytics_out(b: &Business) -> AnalyticsOut {
    let a = &b.analytics;
    AnalyticsOut {
        business_id: b.id.to_string(),
        sessions: counts(&a.total),
        average_score: a.average_score().map(|s| (s * 10.0).round() / 10.0),
        rewards_paid_sek: a.total.rewards_paid.to_sek_string(),
        remaining_budget_sek: b.remaining().to_sek_string(),
        tiers: tiers_out(&a.tiers),
        per_day: a
            .per_day
            .iter()
            .map(|(date, d)| DayOut {
                date: date.clone(),
                opened: d.opened,
                completed: d.completed,
                rejected: d.rejected,
                expired: d.expired,
                rewards_paid_sek: d.rewards_paid.to_sek_string(),
            })
            .collect(),
    }
}

#[derive(Serialize)]
pub(super) struct PurchaseOut {
    amount_sek: String,
    purchased_at: String,
    transaction_id: String,
}

/// A confirmed purchase as the API shows it (sessions and a customer's export).
pub(super) fn purchase_out(p: &Purchase) -> PurchaseOut {
    PurchaseOut { amount_sek: p.amount.to_sek_string(), purchased_at: rfc3339(p.purchased_at), transaction_id: p.transaction_id.to_string() }
}

/// The rubric's breakdown of a feedback text. Its `total` is the rubric's sum of the four parts;
/// when a model scored (`score_source = "ollama"`) the session's `quality_score` is the model's
/// and may differ from it.
#[derive(Serialize)]
pub struct ScoreOut {
    total: u8,
    substance: u8,
    specific: u8,
    actionable: u8,
    balanced: u8,
}

/// The rubric's breakdown as answered.
pub(super) fn score_out(r: &crate::domain::QualityScore) -> ScoreOut {
    ScoreOut { total: r.total, substance: r.substance, specific: r.specific, actionable: r.actionable, balanced: r.balanced }
}

#[derive(Serialize)]
struct SessionOut {
    id: String,
    state: &'static str,
    business_id: String,
    business_name: String,
    location_id: String,
    location_name: String,
    region: String,
    opened_at: String,
    expires_at: String,
    purchase: Option<PurchaseOut>,
    /// The score that decided the reward.
    quality_score: Option<u8>,
    /// Who gave `quality_score`: `rubric` or `ollama`.
    score_source: Option<&'static str>,
    /// The model that gave it, when `score_source` is `ollama`.
    score_model: Option<String>,
    /// The rubric's breakdown, whoever scored.
    score_breakdown: Option<ScoreOut>,
    feedback_text: Option<String>,
    feedback_redacted: Option<&'static str>,
    reward_sek: Option<String>,
    reward_tier: Option<crate::domain::RewardTier>,
    reward_capped_by: Option<crate::domain::Cap>,
    /// Why feedback in a reward tier earned nothing: `duplicate_feedback`, `device_daily_limit`
    /// or `business_daily_cap`.
    withheld: Option<crate::actors::business::Withheld>,
    ended_at: Option<String>,
    awaiting_purchase_until: Option<String>,
    purchase_refused: Option<&'static str>,
}

fn session_out(s: &Session) -> SessionOut {
    let settlement = s.feedback.as_ref().and_then(|f| f.settlement);
    SessionOut {
        id: s.id.to_string(),
        state: s.state.as_str(),
        business_id: s.business_id.to_string(),
        business_name: s.place.business_name.clone(),
        location_id: s.location_id.to_string(),
        location_name: s.place.location_name.clone(),
        region: s.region.to_string(),
        opened_at: rfc3339(s.opened_at),
        expires_at: rfc3339(s.expires_at),
        purchase: s.purchase.as_ref().map(purchase_out),
        quality_score: s.feedback.as_ref().map(|f| f.score.total),
        score_source: s.feedback.as_ref().map(|f| f.score.source.as_str()),
        score_model: s.feedback.as_ref().and_then(|f| f.score.source.model().map(str::to_string)),
        score_breakdown: s.feedback.as_ref().map(|f| score_out(&f.score.rubric)),
        feedback_text: s.feedback.as_ref().and_then(|f| f.text.clone()),
        feedback_redacted: s.feedback.as_ref().and_then(|f| f.redacted).map(|r| r.reason.as_str()),
        reward_sek: settlement.map(|st| st.decision.amount.to_sek_string()),
        reward_tier: settlement.map(|st| st.decision.tier),
        reward_capped_by: settlement.and_then(|st| st.decision.capped_by),
        withheld: settlement.and_then(|st| st.withheld),
        ended_at: s.ended_at.map(rfc3339),
        awaiting_purchase_until: s.await_until.filter(|_| s.state == crate::actors::session::SessionState::AwaitingPurchase).map(rfc3339),
        purchase_refused: s.purchase_refusal.as_ref().map(|r| r.kind.as_str()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OpenSessionIn {
    qr_token: String,
    device_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PurchaseIn {
    amount_sek: String,
    purchased_at: String,
    transaction_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FeedbackIn {
    text: String,
}

// ---------- handlers ----------

fn parse_session_id(raw: &str) -> Result<SessionId, ApiError> {
    raw.parse().map_err(|_| ApiError::Actor(ActorError::NotFound { what: Missing::Session, id: raw.to_string() }))
}

pub(super) async fn create_business(node: web::Data<NodeHandle>, body: web::Json<CreateBusinessIn>) -> ApiResult {
    let body = body.into_inner();
    let org_number: OrgNumber = body.org_number.parse().map_err(DomainError::from)?;
    let locations = body.locations.iter().map(|l| NewLocation::new(&l.name, l.lat, l.lon)).collect::<Result<Vec<_>, _>>()?;
    let budget = Ore::parse_sek(&body.reward_budget_sek).map_err(DomainError::from)?;
    let policy = match body.reward_percentages {
        None => RewardPolicy::default(),
        Some(p) => {
            let bp = |s: &str| -> Result<u32, ApiError> {
                let v = Ore::parse_sek(s).map_err(DomainError::from)?.as_ore();
                u32::try_from(v).map_err(|_| bad("invalid-percentage", format!("percentage {s} is out of range")))
            };
            RewardPolicy::with_basis_points(bp(&p.low)?, bp(&p.mid)?, bp(&p.high)?)?
        }
    };
    let mut request = CreateBusiness::new(&body.name, org_number, locations, budget, policy)?;
    if let Some(v) = &body.purchase_verification {
        request = request.with_purchase_verification(v.parse().map_err(ApiError::Pos)?);
    }
    let (b, key) = node.create_business(request).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/businesses/{}", b.id)))
        .json(BusinessWithKeyOut { business: business_out(&node, &b), api_key: key.reveal().to_string() }))
}

pub(super) async fn get_business(node: web::Data<NodeHandle>, req: HttpRequest, id: web::Path<String>) -> ApiResult {
    let auth = authorize(&node, &req, &id).await?;
    Ok(HttpResponse::Ok().json(business_out(&node, &auth.business)))
}

pub(super) async fn get_analytics(node: web::Data<NodeHandle>, req: HttpRequest, id: web::Path<String>) -> ApiResult {
    let auth = authorize(&node, &req, &id).await?;
    Ok(HttpResponse::Ok().json(analytics_out(&auth.business)))
}

/// `POST /v1/businesses/{id}/keys`: a new API key; the presented one stops working.
pub(super) async fn rotate_key(node: web::Data<NodeHandle>, req: HttpRequest, id: web::Path<String>) -> ApiResult {
    let auth = authorize(&node, &req, &id).await?;
    match node.rotate_key(auth.business.id.clone(), &auth.key).await? {
        Some((b, key)) => Ok(HttpResponse::Ok().json(BusinessWithKeyOut { business: business_out(&node, &b), api_key: key.reveal().to_string() })),
        // Rotated by a concurrent request between the check and the rotation.
        None => Err(ApiError::BusinessUnauthorized("invalid API key for this business".into())),
    }
}

/// The customer's address ([`super::client_ip`]).
fn client_ip(node: &NodeHandle, req: &HttpRequest) -> Option<std::net::IpAddr> {
    super::client_ip(&node.config().geo.trusted_proxies, req)
}

pub(super) async fn open_session(node: web::Data<NodeHandle>, req: HttpRequest, body: web::Json<OpenSessionIn>) -> ApiResult {
    // Sessions open in the customer's nearest healthy region.
    if let Some(to) = super::elsewhere(&node, &req) {
        let location = to.url("/v1/sessions");
        return Ok(HttpResponse::TemporaryRedirect()
            .insert_header((header::LOCATION, location.clone()))
            .json(serde_json::json!({"region": to.region, "location": location, "reason": to.route.reason})));
    }
    let token: QrToken = body
        .qr_token
        .parse()
        .map_err(|_| ApiError::Actor(ActorError::NotFound { what: Missing::QrToken, id: body.qr_token.clone() }))?;
    let device: DeviceId = body.device_id.parse().map_err(DomainError::from)?;
    let (s, created) = node.open_session(token, device).await?;
    let mut resp = if created { HttpResponse::Created() } else { HttpResponse::Ok() };
    Ok(resp.insert_header((header::LOCATION, format!("/v1/sessions/{}", s.id))).json(session_out(&s)))
}

pub(super) async fn confirm_purchase(node: web::Data<NodeHandle>, id: web::Path<String>, body: web::Json<PurchaseIn>) -> ApiResult {
    let id = parse_session_id(&id)?;
    let amount = Ore::parse_sek(&body.amount_sek).map_err(DomainError::from)?;
    let purchased_at = DateTime::parse_from_rfc3339(&body.purchased_at)
        .map_err(|e| bad("invalid-timestamp", format!("purchased_at {:?} is not an RFC 3339 time: {e}", body.purchased_at)))?
        .with_timezone(&Utc);
    let transaction_id: TransactionId = body.transaction_id.parse().map_err(DomainError::from)?;
    let s = node.confirm_purchase(id, Purchase::new(amount, purchased_at, transaction_id)?).await?;
    // Waiting for the business's till to report the purchase: accepted, not yet confirmed.
    let mut resp = if s.state == crate::actors::session::SessionState::AwaitingPurchase { HttpResponse::Accepted() } else { HttpResponse::Ok() };
    Ok(resp.json(session_out(&s)))
}

pub(super) async fn give_feedback(node: web::Data<NodeHandle>, id: web::Path<String>, body: web::Json<FeedbackIn>) -> ApiResult {
    let id = parse_session_id(&id)?;
    let s = node.give_feedback(id, FeedbackText::new(&body.text)?).await?;
    Ok(HttpResponse::Ok().json(session_out(&s)))
}

pub(super) async fn get_session(node: web::Data<NodeHandle>, id: web::Path<String>) -> ApiResult {
    let s = node.get_session(parse_session_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(session_out(&s)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RouteQuery {
    ip: Option<String>,
}

pub(super) async fn explain_route(node: web::Data<NodeHandle>, req: HttpRequest, q: web::Query<RouteQuery>) -> ApiResult {
    let ip = match &q.ip {
        Some(raw) => raw.parse().map_err(|_| bad("invalid-ip", format!("ip {raw:?} is not an IPv4 or IPv6 address")))?,
        None => client_ip(&node, &req).ok_or_else(|| bad("invalid-ip", "no client address"))?,
    };
    Ok(HttpResponse::Ok().json(node.route(ip)))
}

pub(super) async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "alive"}))
}

pub(super) async fn ready(node: web::Data<NodeHandle>) -> ApiResult {
    node.ready().await?;
    let st = node.cluster_status();
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready", "leader": st.leader, "term": st.term})))
}
