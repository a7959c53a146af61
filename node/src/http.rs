//! The HTTP API (actix-web): JSON in and out, errors as `application/problem+json`.
//!
//! The only place that knows HTTP: status codes are decided in [`status_for`], nowhere else.

use actix_web::error::{JsonPayloadError, PathError};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::actors::business::{Business, DayStats};
use crate::actors::session::{Session, SessionMsg};
use crate::actors::ActorError;
use crate::domain::{BusinessId, DeviceId, DomainError, OrgNumber, Ore, QrToken, RewardPolicy, SessionId, TransactionId};
use crate::domain::{validate_business_name, validate_location, validate_location_count};
use crate::service::{CreateBusiness, NewLocation, NodeHandle};

/// Seconds a client should wait before retrying a 503.
pub const RETRY_AFTER_S: u32 = 1;

/// Prefix of problem `type` URIs; the suffix is the stable kind.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:svea:problem:";

/// An API error: what went wrong, before it becomes a status and a problem document.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// From an actor or the node.
    #[error(transparent)]
    Actor(#[from] ActorError),
    /// The request was malformed (JSON syntax, types, missing fields).
    #[error("{detail}")]
    BadRequest {
        /// Stable kind.
        kind: &'static str,
        /// Detail.
        detail: String,
    },
    /// The body is larger than the configured limit.
    #[error("request body is larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The body is not JSON.
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    /// The operator token is missing or wrong (or the operator API is off on this node).
    #[error("{0}")]
    Unauthorized(String),
    /// No such route.
    #[error("no route for {method} {path}")]
    NoRoute {
        /// Method.
        method: String,
        /// Path.
        path: String,
    },
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        ApiError::Actor(ActorError::Domain(e))
    }
}

/// The one mapping from errors to HTTP status codes.
pub fn status_for(e: &ApiError) -> StatusCode {
    match e {
        ApiError::Actor(a) => match a {
            ActorError::Domain(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ActorError::NotFound { .. } => StatusCode::NOT_FOUND,
            ActorError::Conflict { .. } => StatusCode::CONFLICT,
            ActorError::Busy { .. } | ActorError::Unavailable(_) | ActorError::Fenced { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ActorError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        },
        ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
        ApiError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ApiError::NoRoute { .. } => StatusCode::NOT_FOUND,
        ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
    }
}

fn kind_of(e: &ApiError) -> &str {
    match e {
        ApiError::Actor(a) => match a {
            ActorError::Domain(d) => d.kind(),
            ActorError::NotFound { what: crate::actors::Missing::Session, .. } => "session-not-found",
            ActorError::NotFound { what: crate::actors::Missing::Business, .. } => "business-not-found",
            ActorError::NotFound { what: crate::actors::Missing::QrToken, .. } => "qr-token-not-found",
            ActorError::NotFound { what: crate::actors::Missing::Node, .. } => "node-not-found",
            ActorError::Conflict { kind, .. } => kind,
            ActorError::Busy { .. } => "busy",
            ActorError::Unavailable(_) | ActorError::Fenced { .. } => "unavailable",
            ActorError::Internal(_) => "internal",
        },
        ApiError::BadRequest { kind, .. } => kind,
        ApiError::BodyTooLarge { .. } => "body-too-large",
        ApiError::UnsupportedMediaType => "unsupported-media-type",
        ApiError::NoRoute { .. } => "no-route",
        ApiError::Unauthorized(_) => "unauthorized",
    }
}

/// RFC 9457 problem details.
#[derive(Debug, Serialize, Deserialize)]
pub struct Problem {
    /// Stable URI of the problem kind.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary (the status's reason phrase).
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What exactly went wrong.
    pub detail: String,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_for(self)
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(error = %self, "request failed");
        }
        let body = Problem {
            kind: format!("{PROBLEM_TYPE_PREFIX}{}", kind_of(self)),
            title: status.canonical_reason().unwrap_or("error").to_string(),
            status: status.as_u16(),
            detail: self.to_string(),
        };
        let mut resp = HttpResponse::build(status);
        resp.content_type("application/problem+json");
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.insert_header((header::RETRY_AFTER, RETRY_AFTER_S.to_string()));
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"svea-operator\""));
        }
        resp.json(body)
    }
}

pub(crate) type ApiResult = Result<HttpResponse, ApiError>;

pub(crate) fn bad(kind: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::BadRequest { kind, detail: detail.into() }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

// ---------- request and response bodies ----------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LocationIn {
    name: String,
    lat: f64,
    lon: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PercentagesIn {
    low: String,
    mid: String,
    high: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBusinessIn {
    name: String,
    org_number: String,
    locations: Vec<LocationIn>,
    reward_budget_sek: String,
    reward_percentages: Option<PercentagesIn>,
}

#[derive(Serialize)]
struct LocationOut {
    id: String,
    name: String,
    lat: f64,
    lon: f64,
    qr_token: String,
}

#[derive(Serialize)]
struct PercentagesOut {
    low: String,
    mid: String,
    high: String,
}

#[derive(Serialize)]
struct BusinessOut {
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
}

fn percent(bp: u32) -> String {
    // Basis points render like öre: 250 bp = "2.50" percent.
    Ore::from_ore(i64::from(bp)).to_sek_string()
}

fn business_out(b: &Business) -> BusinessOut {
    BusinessOut {
        id: b.id.to_string(),
        name: b.name.clone(),
        org_number: b.org_number.to_string(),
        home_region: b.home_region.clone(),
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
            .map(|l| LocationOut { id: l.id.to_string(), name: l.name.clone(), lat: l.lat, lon: l.lon, qr_token: l.qr_token.to_string() })
            .collect(),
        created_at: rfc3339(b.created_at),
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
struct TiersOut {
    none: u64,
    low: u64,
    mid: u64,
    high: u64,
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
        tiers: TiersOut { none: a.tiers[0], low: a.tiers[1], mid: a.tiers[2], high: a.tiers[3] },
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
struct PurchaseOut {
    amount_sek: String,
    purchased_at: String,
    transaction_id: String,
}

#[derive(Serialize)]
struct ScoreOut {
    total: u8,
    substance: u8,
    specific: u8,
    actionable: u8,
    balanced: u8,
}

#[derive(Serialize)]
struct SessionOut {
    id: String,
    state: &'static str,
    business_id: String,
    location_id: String,
    region: String,
    opened_at: String,
    expires_at: String,
    purchase: Option<PurchaseOut>,
    quality_score: Option<u8>,
    score_breakdown: Option<ScoreOut>,
    reward_sek: Option<String>,
    reward_tier: Option<crate::domain::RewardTier>,
    reward_capped_by: Option<crate::domain::Cap>,
    ended_at: Option<String>,
}

fn session_out(s: &Session) -> SessionOut {
    let settlement = s.feedback.as_ref().and_then(|f| f.settlement);
    SessionOut {
        id: s.id.to_string(),
        state: s.state.as_str(),
        business_id: s.business_id.to_string(),
        location_id: s.location_id.to_string(),
        region: s.region.clone(),
        opened_at: rfc3339(s.opened_at),
        expires_at: rfc3339(s.expires_at),
        purchase: s.purchase.as_ref().map(|p| PurchaseOut {
            amount_sek: p.amount.to_sek_string(),
            purchased_at: rfc3339(p.purchased_at),
            transaction_id: p.transaction_id.to_string(),
        }),
        quality_score: s.feedback.as_ref().map(|f| f.score.total),
        score_breakdown: s.feedback.as_ref().map(|f| ScoreOut {
            total: f.score.total,
            substance: f.score.substance,
            specific: f.score.specific,
            actionable: f.score.actionable,
            balanced: f.score.balanced,
        }),
        reward_sek: settlement.map(|st| st.decision.amount.to_sek_string()),
        reward_tier: settlement.map(|st| st.decision.tier),
        reward_capped_by: settlement.and_then(|st| st.decision.capped_by),
        ended_at: s.ended_at.map(rfc3339),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenSessionIn {
    qr_token: String,
    device_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PurchaseIn {
    amount_sek: String,
    purchased_at: String,
    transaction_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackIn {
    text: String,
}

// ---------- handlers ----------

fn parse_business_id(raw: &str) -> Result<BusinessId, ApiError> {
    raw.parse().map_err(|_| ApiError::Actor(ActorError::NotFound { what: crate::actors::Missing::Business, id: raw.to_string() }))
}

fn parse_session_id(raw: &str) -> Result<SessionId, ApiError> {
    raw.parse().map_err(|_| ApiError::Actor(ActorError::NotFound { what: crate::actors::Missing::Session, id: raw.to_string() }))
}

async fn create_business(node: web::Data<NodeHandle>, body: web::Json<CreateBusinessIn>) -> ApiResult {
    let body = body.into_inner();
    let name = validate_business_name(&body.name)?.to_string();
    let org_number: OrgNumber = body.org_number.parse().map_err(DomainError::from)?;
    validate_location_count(body.locations.len())?;
    let mut locations = Vec::with_capacity(body.locations.len());
    for l in body.locations {
        let name = validate_location(&l.name, l.lat, l.lon)?.to_string();
        locations.push(NewLocation { name, lat: l.lat, lon: l.lon });
    }
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
    let b = node.create_business(CreateBusiness { name, org_number, locations, budget, policy }).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/businesses/{}", b.id)))
        .json(business_out(&b)))
}

async fn get_business(node: web::Data<NodeHandle>, id: web::Path<String>) -> ApiResult {
    let b = node.business(parse_business_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(business_out(&b)))
}

async fn get_analytics(node: web::Data<NodeHandle>, id: web::Path<String>) -> ApiResult {
    let b = node.business(parse_business_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(analytics_out(&b)))
}

/// The customer's address: the socket peer, or what a trusted proxy says it forwarded for.
fn client_ip(node: &NodeHandle, req: &HttpRequest) -> Option<std::net::IpAddr> {
    let peer = req.peer_addr()?.ip();
    let joined = |name: header::HeaderName| -> Option<String> {
        let values: Vec<&str> = req.headers().get_all(name).filter_map(|v| v.to_str().ok()).collect();
        (!values.is_empty()).then(|| values.join(","))
    };
    let forwarded = joined(header::FORWARDED);
    let xff = joined(header::HeaderName::from_static("x-forwarded-for"));
    Some(svea_geo::client_ip(peer, forwarded.as_deref(), xff.as_deref(), &node.config().geo.trusted_proxies))
}

async fn open_session(node: web::Data<NodeHandle>, req: HttpRequest, body: web::Json<OpenSessionIn>) -> ApiResult {
    // Sessions open in the customer's nearest healthy region.
    if node.config().node.routing == svea_config::Routing::Redirect {
        if let Some(ip) = client_ip(&node, &req) {
            let route = node.route(ip);
            let mine = node.config().node.region.as_str();
            if let Some(region) = route.region.as_ref().map(|r| r.to_string()).filter(|r| r != mine) {
                if let Some(url) = node.region_url(&region) {
                    let location = format!("{}/v1/sessions", url.trim_end_matches('/'));
                    return Ok(HttpResponse::TemporaryRedirect()
                        .insert_header((header::LOCATION, location.clone()))
                        .json(serde_json::json!({"region": region, "location": location, "reason": route.reason})));
                }
            }
        }
    }
    let token: QrToken = body
        .qr_token
        .parse()
        .map_err(|_| ApiError::Actor(ActorError::NotFound { what: crate::actors::Missing::QrToken, id: body.qr_token.clone() }))?;
    let device: DeviceId = body.device_id.parse().map_err(DomainError::from)?;
    let (s, created) = node.open_session(token, device).await?;
    let mut resp = if created { HttpResponse::Created() } else { HttpResponse::Ok() };
    Ok(resp.insert_header((header::LOCATION, format!("/v1/sessions/{}", s.id))).json(session_out(&s)))
}

async fn confirm_purchase(node: web::Data<NodeHandle>, id: web::Path<String>, body: web::Json<PurchaseIn>) -> ApiResult {
    let id = parse_session_id(&id)?;
    let amount = Ore::parse_sek(&body.amount_sek).map_err(DomainError::from)?;
    let purchased_at = DateTime::parse_from_rfc3339(&body.purchased_at)
        .map_err(|e| bad("invalid-timestamp", format!("purchased_at {:?} is not an RFC 3339 time: {e}", body.purchased_at)))?
        .with_timezone(&Utc);
    let transaction_id: TransactionId = body.transaction_id.parse().map_err(DomainError::from)?;
    let s = node.session(id, SessionMsg::ConfirmPurchase { amount, purchased_at, transaction_id }).await?;
    Ok(HttpResponse::Ok().json(session_out(&s)))
}

async fn give_feedback(node: web::Data<NodeHandle>, id: web::Path<String>, body: web::Json<FeedbackIn>) -> ApiResult {
    let id = parse_session_id(&id)?;
    let s = node.session(id, SessionMsg::Feedback { text: body.into_inner().text }).await?;
    Ok(HttpResponse::Ok().json(session_out(&s)))
}

async fn get_session(node: web::Data<NodeHandle>, id: web::Path<String>) -> ApiResult {
    let s = node.session(parse_session_id(&id)?, SessionMsg::Get).await?;
    Ok(HttpResponse::Ok().json(session_out(&s)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteQuery {
    ip: Option<String>,
}

async fn explain_route(node: web::Data<NodeHandle>, req: HttpRequest, q: web::Query<RouteQuery>) -> ApiResult {
    let ip = match &q.ip {
        Some(raw) => raw.parse().map_err(|_| bad("invalid-ip", format!("ip {raw:?} is not an IPv4 or IPv6 address")))?,
        None => client_ip(&node, &req).ok_or_else(|| bad("invalid-ip", "no client address"))?,
    };
    Ok(HttpResponse::Ok().json(node.route(ip)))
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "alive"}))
}

async fn ready(node: web::Data<NodeHandle>) -> ApiResult {
    node.ready().await?;
    let st = node.cluster().status();
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready", "leader": st.leader, "term": st.term})))
}

async fn no_route(req: HttpRequest) -> ApiResult {
    Err(ApiError::NoRoute { method: req.method().to_string(), path: req.path().to_string() })
}

fn json_error(limit: usize) -> impl Fn(JsonPayloadError, &HttpRequest) -> actix_web::Error + Clone {
    move |err, _req| {
        let api = match &err {
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => ApiError::BodyTooLarge { limit },
            JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
            JsonPayloadError::Deserialize(e) if e.is_data() => bad("invalid-body", format!("request body does not match the schema: {e}")),
            JsonPayloadError::Deserialize(e) => bad("malformed-json", format!("request body is not valid JSON: {e}")),
            other => bad("invalid-body", other.to_string()),
        };
        api.into()
    }
}

fn path_error(err: PathError, _req: &HttpRequest) -> actix_web::Error {
    bad("invalid-path", err.to_string()).into()
}

/// Registers the API on an actix-web app.
pub fn configure(node: NodeHandle, cfg: &mut web::ServiceConfig) {
    let limit = node.config().limits.http_body_bytes;
    cfg.app_data(web::Data::new(node))
        .app_data(web::JsonConfig::default().limit(limit).error_handler(json_error(limit)))
        .app_data(web::PathConfig::default().error_handler(path_error))
        .app_data(web::QueryConfig::default().error_handler(|err, _req| bad("invalid-query", err.to_string()).into()))
        .route("/health", web::get().to(health))
        .route("/ready", web::get().to(ready))
        .service(
            web::scope("/v1")
                .route("/businesses", web::post().to(create_business))
                .route("/businesses/{id}", web::get().to(get_business))
                .route("/businesses/{id}/analytics", web::get().to(get_analytics))
                .route("/sessions", web::post().to(open_session))
                .route("/route", web::get().to(explain_route))
                .route("/sessions/{id}", web::get().to(get_session))
                .route("/sessions/{id}/purchase", web::post().to(confirm_purchase))
                .route("/sessions/{id}/feedback", web::post().to(give_feedback))
                .configure(crate::http_cluster::configure),
        )
        .route("/metrics", web::get().to(crate::http_cluster::metrics))
        .default_service(web::to(no_route));
}

/// Header naming the region of the node that answered.
pub fn region_header(node: &NodeHandle) -> (header::HeaderName, HeaderValue) {
    let v = HeaderValue::from_str(node.config().node.region.as_str()).unwrap_or(HeaderValue::from_static("unknown"));
    (header::HeaderName::from_static("x-svea-region"), v)
}
