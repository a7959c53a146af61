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
use crate::actors::{ActorError, ConflictKind, Missing};
use crate::domain::signup::{request_fingerprint, SIGNUP_IDEMPOTENCY_KEY_LEN_MIN};
use crate::core::NodeHandle;
use crate::domain::{CreateBusiness, DomainError, NewLocation, OrgNumber, Ore, QrToken, RewardPolicy, SessionId, TransactionId};

pub(super) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

// ---------- request and response bodies ----------

/// A location to create.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Lilla Torg", "lat": 55.6043, "lon": 12.9986}))]
pub(super) struct LocationIn {
    /// 1 to 100 characters after trimming (`domain::validate::LOCATION_NAME_CHARS_MAX`).
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    lat: f64,
    lon: f64,
}

impl LocationIn {
    /// The name as sent.
    pub(super) fn name(&self) -> &str {
        &self.name
    }
    /// Latitude as sent.
    pub(super) fn lat(&self) -> f64 {
        self.lat
    }
    /// Longitude as sent.
    pub(super) fn lon(&self) -> f64 {
        self.lon
    }
}

/// Cashback per reward tier, in percent of the purchase (decimal strings, two decimals at most).
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"low": "2.00", "mid": "5.00", "high": "8.00"}))]
pub(super) struct PercentagesIn {
    #[schema(pattern = "^[0-9]{1,3}(\\.[0-9]{1,2})?$", example = "2.00")]
    pub(super) low: String,
    #[schema(pattern = "^[0-9]{1,3}(\\.[0-9]{1,2})?$", example = "5.00")]
    pub(super) mid: String,
    #[schema(pattern = "^[0-9]{1,3}(\\.[0-9]{1,2})?$", example = "8.00")]
    pub(super) high: String,
}

impl PercentagesIn {
    /// Low, mid and high tier in basis points ("5.00" or "5,00" is 500); the policy's own
    /// bounds are checked by `RewardPolicy::with_basis_points`.
    pub(super) fn basis_points(&self) -> Result<[u32; 3], ApiError> {
        let bp = |s: &str| -> Result<u32, ApiError> {
            let v = Ore::parse_sek(&s.trim().replace(',', ".")).map_err(|_| bad("invalid-percentage", format!("percentage {:?} is not a number", s.chars().take(20).collect::<String>())))?.as_ore();
            u32::try_from(v).map_err(|_| bad("invalid-percentage", format!("percentage {s} is out of range")))
        };
        Ok([bp(&self.low)?, bp(&self.mid)?, bp(&self.high)?])
    }
}

/// A business to create.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Café Lilla Torg", "org_number": "556036-0793",
    "locations": [{"name": "Lilla Torg", "lat": 55.6043, "lon": 12.9986}], "reward_budget_sek": "5000.00",
    "reward_percentages": {"low": "2.00", "mid": "5.00", "high": "8.00"}, "purchase_verification": "pos"}))]
pub(super) struct CreateBusinessIn {
    /// 1 to 100 characters after trimming (`domain::validate::BUSINESS_NAME_CHARS_MAX`).
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    /// Swedish organisation number (`NNNNNN-NNNN`, Luhn-checked); one business per number.
    #[schema(pattern = "^[0-9]{6}-?[0-9]{4}$", example = "556036-0793")]
    org_number: String,
    /// 1 to 20 per request (`domain::validate::LOCATIONS_MAX`).
    #[schema(min_items = 1, max_items = 20)]
    locations: Vec<LocationIn>,
    /// The budget rewards are paid from, in SEK (`"5000.00"`).
    #[schema(pattern = "^[0-9]{1,9}(\\.[0-9]{1,2})?$", example = "5000.00")]
    reward_budget_sek: String,
    /// Default 2 / 5 / 8 %.
    reward_percentages: Option<PercentagesIn>,
    /// `self_declared` (default) or `pos` (a till must report each purchase).
    #[schema(pattern = "^(self_declared|pos)$")]
    purchase_verification: Option<String>,
}

/// A location of a business.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"id": "l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a", "name": "Lilla Torg", "lat": 55.6043, "lon": 12.9986, "qr_token": "q7Xc2mVt9LkPz4RbN8sWjH1yFgD6eA0uTnK3oIvYbQE", "qr_url": "https://malmo.svea.example/q/q7Xc2mVt9LkPz4RbN8sWjH1yFgD6eA0uTnK3oIvYbQE", "links": {"qr_svg": "/v1/businesses/b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e/locations/l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a/qr.svg", "qr_png": "/v1/businesses/b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e/locations/l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a/qr.png", "poster": "/v1/businesses/b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e/locations/l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a/poster"}}))]
pub(super) struct LocationOut {
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

/// Cashback per tier, in percent.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"low": "2.00", "mid": "5.00", "high": "8.00"}))]
struct PercentagesOut {
    low: String,
    mid: String,
    high: String,
}

/// A business, as its API key shows it (never the key, never a till secret).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = business_example)]
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
    /// `self_declared` or `pos`.
    purchase_verification: &'static str,
    pos: Vec<PosOut>,
    /// While purchases are self-declared: the highest purchase a customer may declare (SEK);
    /// above it, 422 `declared-amount-needs-till`. Set with `PATCH .../settings`.
    declared_amount_max_sek: String,
    /// The most cashback paid on one Swedish day (SEK): the business's own daily budget, or the
    /// cluster's daily cap when it set none or set more. Set with `PATCH .../settings`.
    daily_budget_sek: String,
    /// Rewards the hourly brake holds for this business's review (`GET .../held`).
    rewards_held: u32,
    /// The business's money, from its ledger account.
    funds: super::money::FundsOut,
}

/// A till registration as answered: never its secret.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"provider": "zettle", "account": "1b84dbd0-fb65-11e7-9c34-d96d4f33e8fc", "notification_url": null, "locations": {}, "default_location_id": null}))]
struct PosOut {
    /// `zettle`, `square` or `shopify`.
    provider: &'static str,
    account: String,
    notification_url: Option<String>,
    locations: std::collections::BTreeMap<String, String>,
    default_location_id: Option<String>,
}

/// The OpenAPI example of [`BusinessOut`].
fn business_example() -> serde_json::Value {
    serde_json::json!({"id": "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e", "name": "Café Lilla Torg", "org_number": "556036-0793", "home_region": "malmo",
    "reward_budget_sek": "5000.00", "rewards_paid_sek": "124.50", "remaining_budget_sek": "4875.50",
    "reward_percentages": {"low": "2.00", "mid": "5.00", "high": "8.00"},
    "locations": [{"id": "l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a", "name": "Lilla Torg", "lat": 55.6043, "lon": 12.9986, "qr_token": "q7Xc2mVt9LkPz4RbN8sWjH1yFgD6eA0uTnK3oIvYbQE", "qr_url": "https://malmo.svea.example/q/q7Xc2mVt9LkPz4RbN8sWjH1yFgD6eA0uTnK3oIvYbQE", "links": {"qr_svg": "/v1/businesses/b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e/locations/l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a/qr.svg", "qr_png": "/v1/businesses/b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e/locations/l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a/qr.png", "poster": "/v1/businesses/b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e/locations/l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a/poster"}}],
    "created_at": "2026-03-02T09:14:07Z", "api_key_issued_at": "2026-03-02T09:14:07Z", "purchase_verification": "pos",
    "declared_amount_max_sek": "1000.00", "daily_budget_sek": "2000.00", "rewards_held": 0,
    "funds": {"funded_sek": "5000.00", "refunded_sek": "0.00", "rewarded_sek": "124.50", "available_sek": "4875.50", "has_funds": true},
    "pos": [{"provider": "zettle", "account": "1b84dbd0-fb65-11e7-9c34-d96d4f33e8fc", "notification_url": null, "locations": {}, "default_location_id": "l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a"}]})
}

/// The OpenAPI example of [`BusinessWithKeyOut`]: [`business_example`] with its key.
fn business_with_key_example() -> serde_json::Value {
    let mut b = business_example();
    b["api_key"] = "svea_sk_b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e_Zk3vQ9mL2xR7tW1pB5nC8dF0gH4jK6sA2eY9uI3oP7q".into();
    b
}

/// A business with its API key: the answer to creating it or rotating the key, the only times
/// the key is ever shown.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = business_with_key_example)]
struct BusinessWithKeyOut {
    #[serde(flatten)]
    business: BusinessOut,
    /// The API key (`svea_sk_...`): shown this once; svea keeps only its hash.
    api_key: String,
}

/// What the business put in and kept in: topped up minus refunded (the ledger's top-up and
/// top-up refund entries on its account).
pub(super) fn net_funded(b: &Business) -> Ore {
    let f = b.funds();
    f.funded.checked_sub(f.refunded).unwrap_or(Ore::ZERO)
}

fn percent(bp: u32) -> String {
    // Basis points render like öre: 250 bp = "2.50" percent.
    Ore::from_ore(i64::from(bp)).to_sek_string()
}

/// Location `l` of `b` as the API answers it.
pub(super) fn location_out(node: &NodeHandle, b: &Business, l: &crate::actors::business::Location) -> LocationOut {
    LocationOut {
        id: l.id.to_string(),
        name: l.name.clone(),
        lat: l.lat,
        lon: l.lon,
        qr_token: l.qr_token.to_string(),
        qr_url: super::qr::customer_url(node, b, l),
        links: super::qr::links(b, l),
    }
}

pub(super) fn business_out(node: &NodeHandle, b: &Business) -> BusinessOut {
    BusinessOut {
        id: b.id.to_string(),
        name: b.name.clone(),
        org_number: b.org_number.to_string(),
        home_region: b.home_region.to_string(),
        reward_budget_sek: net_funded(b).to_sek_string(),
        rewards_paid_sek: b.paid().to_sek_string(),
        remaining_budget_sek: b.remaining().to_sek_string(),
        reward_percentages: PercentagesOut {
            low: percent(b.policy.tiers[0].basis_points),
            mid: percent(b.policy.tiers[1].basis_points),
            high: percent(b.policy.tiers[2].basis_points),
        },
        locations: b.locations.iter().map(|l| location_out(node, b, l)).collect(),
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
        declared_amount_max_sek: b.declared_amount_max.to_sek_string(),
        daily_budget_sek: b.daily_cap(node.daily_reward_cap()).to_sek_string(),
        rewards_held: b.held_pending,
        funds: super::money::business_funds(b),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct CountsOut {
    opened: u64,
    completed: u64,
    rejected: u64,
    expired: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
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

#[derive(Serialize, utoipa::ToSchema)]
struct DayOut {
    /// A Swedish day (Europe/Stockholm), `YYYY-MM-DD`.
    date: String,
    opened: u64,
    completed: u64,
    rejected: u64,
    expired: u64,
    rewards_paid_sek: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"business_id": "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e", "sessions": {"opened": 42, "completed": 31, "rejected": 6, "expired": 5},
    "average_score": 71.4, "rewards_paid_sek": "124.50", "remaining_budget_sek": "4875.50",
    "tiers": {"none": 9, "low": 12, "mid": 8, "high": 2},
    "per_day": [{"date": "2026-03-02", "opened": 42, "completed": 31, "rejected": 6, "expired": 5, "rewards_paid_sek": "124.50"}]}))]
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

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"amount_sek": "89.50", "purchased_at": "2026-03-02T11:42:00Z", "transaction_id": "K-20260302-0147"}))]
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
#[derive(Serialize, utoipa::ToSchema)]
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

#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"id": "s_5d7f9b1c3e2a4c6e8a0b1c2d3e4f5a6b", "state": "rewarded", "business_id": "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e", "business_name": "Café Lilla Torg",
    "location_id": "l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a", "location_name": "Lilla Torg", "region": "malmo", "opened_at": "2026-03-02T11:43:10Z",
    "expires_at": "2026-03-02T12:13:10Z",
    "purchase": {"amount_sek": "89.50", "purchased_at": "2026-03-02T11:42:00Z", "transaction_id": "K-20260302-0147"},
    "quality_score": 78, "score_source": "rubric", "score_model": null,
    "score_breakdown": {"total": 78, "substance": 25, "specific": 20, "actionable": 18, "balanced": 15},
    "feedback_text": "Kanelbullen var färsk och kaffet varmt, men kön vid kassan var lång vid lunch. Öppna en kassa till mellan 12 och 13.",
    "feedback_redacted": null, "reward_sek": "4.48", "reward_tier": "mid", "reward_capped_by": null, "withheld": null, "reward_held_sek": null,
    "ended_at": "2026-03-02T11:47:55Z", "awaiting_purchase_until": null, "purchase_refused": null,
    "purchase_refunded": false, "reward_reversed_sek": null}))]
struct SessionOut {
    id: String,
    /// `opened`, `awaiting_purchase`, `purchase_confirmed`, `rewarded`, `rejected` or `expired`.
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
    /// `erased` (the customer asked) or `retention` (kept past `retention`): the text is gone.
    feedback_redacted: Option<&'static str>,
    reward_sek: Option<String>,
    reward_tier: Option<crate::domain::RewardTier>,
    reward_capped_by: Option<crate::domain::Cap>,
    /// Why feedback in a reward tier earned nothing: `duplicate_feedback`, `device_daily_limit`,
    /// `network_daily_limit`, `business_daily_cap`; `pending_review` while the business's hourly
    /// brake holds the reward for its review (`reward_held_sek` says what it would pay), and
    /// `review_refused` when the business refused it (a released one shows no reason).
    withheld: Option<crate::actors::business::Withheld>,
    /// The reward the business's hourly brake held for its review, as it would pay (SEK); set
    /// while `pending_review` and after the review.
    reward_held_sek: Option<String>,
    ended_at: Option<String>,
    awaiting_purchase_until: Option<String>,
    /// Why the till did not back the last purchase confirmed: `purchase-not-reported` or
    /// `purchase-already-claimed`.
    purchase_refused: Option<&'static str>,
    /// Whether the till refunded or cancelled the purchase (an unpaid reward is then withheld,
    /// `purchase_refunded`).
    purchase_refunded: bool,
    /// What was taken back of a paid reward because the till refunded the purchase.
    reward_reversed_sek: Option<String>,
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
        reward_held_sek: settlement.and_then(|st| st.held).map(|h| h.amount.to_sek_string()),
        ended_at: s.ended_at.map(rfc3339),
        awaiting_purchase_until: s.await_until.filter(|_| s.state == crate::actors::session::SessionState::AwaitingPurchase).map(rfc3339),
        purchase_refused: s.purchase_refusal.as_ref().map(|r| r.kind.as_str()),
        purchase_refunded: s.refund.is_some(),
        reward_reversed_sek: s.refund.filter(|r| r.reversed > Ore::ZERO).map(|r| r.reversed.to_sek_string()),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"qr_token": "q7Xc2mVt9LkPz4RbN8sWjH1yFgD6eA0uTnK3oIvYbQE",
    "device_token": "svea_dt_3Jq0c8WkZr1mT5vYbN2xPfL7hD9sGa4uQe6oKiBnRw0Xy8Vz2CtMjHp5Ld1Fg3Ks"}))]
pub(super) struct OpenSessionIn {
    /// The token in the location's QR code.
    qr_token: String,
    /// The device credential svea issued on this device's first scan (`device_token` of that
    /// answer). Absent on the first scan: a new one is issued and returned once.
    #[serde(default)]
    device_token: Option<String>,
    /// The client-chosen id of earlier versions: refused with 400 `device-id-refused`.
    #[serde(default)]
    #[schema(ignore)]
    device_id: Option<serde::de::IgnoredAny>,
}

/// What `POST /v1/sessions` answers: the session, and the device's new credential when this
/// request issued one.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"id": "s_5d7f9b1c3e2a4c6e8a0b1c2d3e4f5a6b", "state": "opened", "business_id": "b_1a2b3c4d5e6f708192a3b4c5d6e7f809",
    "business_name": "Café Lilla Torg", "location_id": "l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a", "location_name": "Lilla Torg", "region": "malmo",
    "opened_at": "2026-03-02T11:43:10Z", "expires_at": "2026-03-02T12:13:10Z", "purchase": null, "quality_score": null, "score_source": null,
    "score_model": null, "score_breakdown": null, "feedback_text": null, "feedback_redacted": null, "reward_sek": null, "reward_tier": null,
    "reward_capped_by": null, "withheld": null, "reward_held_sek": null, "ended_at": null, "awaiting_purchase_until": null, "purchase_refused": null,
    "purchase_refunded": false, "reward_reversed_sek": null,
    "device_token": "svea_dt_3Jq0c8WkZr1mT5vYbN2xPfL7hD9sGa4uQe6oKiBnRw0Xy8Vz2CtMjHp5Ld1Fg3Ks"}))]
pub(super) struct OpenedOut {
    #[serde(flatten)]
    session: SessionOut,
    /// The device's credential, only in the answer that issued it (a request without
    /// `device_token`): keep it and send it with every later scan and privacy request. svea keeps
    /// only a keyed hash of the device; a lost token cannot be recovered.
    #[serde(skip_serializing_if = "Option::is_none")]
    device_token: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount_sek": "89.50", "purchased_at": "2026-03-02T11:42:00Z", "transaction_id": "K-20260302-0147"}))]
pub(super) struct PurchaseIn {
    /// SEK with öre, e.g. `"89.50"`.
    #[schema(pattern = "^[0-9]{1,9}(\\.[0-9]{1,2})?$", example = "89.50")]
    amount_sek: String,
    /// RFC 3339; not in the future, not older than the purchase window.
    #[schema(format = DateTime, example = "2026-03-02T11:42:00Z")]
    purchased_at: String,
    /// The receipt's number; once per business: 1 to 64 printable ASCII characters, no spaces
    /// (`domain::ids::TRANSACTION_ID_LEN_MAX`).
    #[schema(min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}(?!\\n)$", example = "K-20260302-0147")]
    transaction_id: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"text": "Kanelbullen var färsk och kaffet varmt, men kön vid kassan var lång vid lunch. Öppna en kassa till mellan 12 och 13."}))]
pub(super) struct FeedbackIn {
    /// 20 to 5000 characters (after trimming).
    #[schema(min_length = 20, max_length = 5000)]
    text: String,
}

// ---------- handlers ----------

fn parse_session_id(raw: &str) -> Result<SessionId, ApiError> {
    raw.parse().map_err(|_| ApiError::Actor(ActorError::NotFound { what: Missing::Session, id: raw.to_string() }))
}

/// `POST /v1/businesses`: a new business with its locations, their QR codes and its API key.
#[utoipa::path(post, path = "/v1/businesses", tag = "businesses", operation_id = "create_business", summary = "Create a business", description = "Signs a business up: its locations with their QR codes, its reward policy and its API key, shown in this answer only. With an `Idempotency-Key`, a retry of the same request within 24 hours answers the same business and key.",
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 32, max_length = 64,
        // `(?!\n)`: a pattern's `$` also matches before a final newline, which no header can carry.
        pattern = "^[!-~]{32,64}(?!\\n)$",
        description = "32 to 64 printable ASCII characters, random (a UUID, or 32 random bytes in hex). A retry with the same \
        key and the same body within 24 hours answers as the first try did (the same business and API key), so a sign-up \
        whose answer was lost is not lost; the same key with another body is `idempotency-key-reused`. Whoever holds the \
        key and the body can fetch the API key again for 24 hours: keep it as secret as the key.")),
    request_body(content = CreateBusinessIn, content_type = "application/json"),
    responses(
        (status = 201, description = "Created. The API key is in this answer only.", body = BusinessWithKeyOut,
            headers(("Location" = String, description = "`/v1/businesses/{id}`"))),
        super::error::answers::BadBody, super::error::answers::CreationLimited, super::error::answers::Busy,
        (status = 400, description = "`malformed-json`, `invalid-body` (not the schema, unknown fields), \
            `invalid-percentage`, `invalid-pos-input` (an unknown `purchase_verification`), `invalid-idempotency-key` (not 32 to 64 \
            printable ASCII characters).", content_type = "application/problem+json", body = super::Problem),
        (status = 409, description = "`org-number-registered`: a business has this organisation number (an unverified one is \
            released `signup.release_unverified_org_number_after_ms` after its registration); `business-exists`; \
            `idempotency-key-reused`: the `Idempotency-Key` came with another body before, is older than 24 hours, or its \
            business's key was rotated since.", content_type = "application/problem+json", body = super::Problem),
        (status = 422, description = "`invalid-org-number`, `invalid-amount`, `business-name-length` (1 to 100 characters), \
            `location-name-length` (1 to 100 characters), `invalid-coordinates`, `location-count` (1 to 20 per request), \
            `invalid-reward-policy`.", content_type = "application/problem+json", body = super::Problem),
    ))]
pub(super) async fn create_business(
    node: web::Data<NodeHandle>,
    req: HttpRequest,
    signup: Option<web::Data<super::ratelimit::SignupLimiter>>,
    body: web::Json<CreateBusinessIn>,
) -> ApiResult {
    let body = body.into_inner();
    // The request as parsed, in the struct's field order: the same request however its JSON is
    // spaced or ordered (what an idempotent retry is compared by).
    let canonical = serde_json::to_vec(&body).map_err(|e| bad("invalid-body", e.to_string()))?;
    let org_number: OrgNumber = body.org_number.parse().map_err(DomainError::from)?;
    let locations = body.locations.iter().map(|l| NewLocation::new(&l.name, l.lat, l.lon)).collect::<Result<Vec<_>, _>>()?;
    let budget = Ore::parse_sek(&body.reward_budget_sek).map_err(DomainError::from)?;
    let policy = match body.reward_percentages {
        None => RewardPolicy::default(),
        Some(p) => p.basis_points().and_then(|[low, mid, high]| Ok(RewardPolicy::with_basis_points(low, mid, high)?))?,
    };
    let mut request = CreateBusiness::new(&body.name, org_number, locations, budget, policy)?;
    if let Some(v) = &body.purchase_verification {
        request = request.with_purchase_verification(v.parse().map_err(ApiError::Pos)?);
    }
    // With an Idempotency-Key, a retry of a sign-up that happened answers as the first time
    // (`domain::signup`); a replay creates nothing, so it costs no creation either.
    let seed = match super::money::idempotency_key(&req, SIGNUP_IDEMPOTENCY_KEY_LEN_MIN)? {
        Some(k) => {
            Some(node.signup_seed(&k, &request_fingerprint(&canonical)))
        }
        None => None,
    };
    let replayed = match &seed {
        Some(seed) => node.signup_replay(seed, &request).await?,
        None => None,
    };
    let (b, key) = match replayed {
        Some(first) => first,
        None => {
            // Valid input only: a refused request writes nothing, so it costs no creation.
            if let Some(signup) = &signup {
                signup.check(&req)?;
            }
            match node.create_business_from(request.clone(), seed.as_ref()).await {
                Ok(created) => created,
                // Two tries of one sign-up at once: the other one created it.
                Err(ActorError::Conflict { kind: ConflictKind::BusinessExists, .. }) if seed.is_some() => {
                    let seed = seed.as_ref().expect("checked in the guard");
                    node.signup_replay(seed, &request).await?.ok_or_else(|| ActorError::Unavailable("the sign-up's business is not readable yet".into()))?
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/businesses/{}", b.id)))
        .json(BusinessWithKeyOut { business: business_out(&node, &b), api_key: key.reveal().to_string() }))
}

/// `GET /v1/businesses/{id}`.
#[utoipa::path(get, path = "/v1/businesses/{id}", tag = "businesses", operation_id = "get_business", summary = "Read a business", description = "The business as its API key sees it: name, locations with their QR links, reward policy, purchase verification, till registrations and money.",
    params(("id" = String, Path, description = "The business id (`b_` and 32 hex digits).", example = "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e")), security(("business_api_key" = [])),
    responses((status = 200, description = "The business.", body = BusinessOut),
        super::error::answers::BusinessAuth, super::error::answers::RateLimited, super::error::answers::Busy))]
pub(super) async fn get_business(node: web::Data<NodeHandle>, req: HttpRequest, id: web::Path<String>) -> ApiResult {
    let auth = authorize(&node, &req, &id).await?;
    Ok(HttpResponse::Ok().json(business_out(&node, &auth.business)))
}

/// `GET /v1/businesses/{id}/analytics`.
#[utoipa::path(get, path = "/v1/businesses/{id}/analytics", tag = "businesses", operation_id = "get_analytics", summary = "Read a business's analytics", description = "Sessions by outcome, reward tiers, rewards paid and budget, in total and per Swedish day.",
    params(("id" = String, Path, description = "The business id (`b_` and 32 hex digits).", example = "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e")), security(("business_api_key" = [])),
    responses((status = 200, description = "Sessions by outcome, tiers, rewards and budget, in total and per Swedish day.", body = AnalyticsOut),
        super::error::answers::BusinessAuth, super::error::answers::RateLimited, super::error::answers::Busy))]
pub(super) async fn get_analytics(node: web::Data<NodeHandle>, req: HttpRequest, id: web::Path<String>) -> ApiResult {
    let auth = authorize(&node, &req, &id).await?;
    Ok(HttpResponse::Ok().json(analytics_out(&auth.business)))
}

/// `POST /v1/businesses/{id}/keys`: a new API key; the presented one stops working.
#[utoipa::path(post, path = "/v1/businesses/{id}/keys", tag = "businesses", operation_id = "rotate_key", summary = "Rotate the API key", description = "Issues a new API key, shown in this answer only; the presented key stops working at once.",
    params(("id" = String, Path, description = "The business id (`b_` and 32 hex digits).", example = "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e")), security(("business_api_key" = [])),
    responses((status = 200, description = "The business with its new key (shown this once); the presented key stops working at once.", body = BusinessWithKeyOut),
        super::error::answers::BusinessAuth, super::error::answers::RateLimited, super::error::answers::Busy))]
pub(super) async fn rotate_key(node: web::Data<NodeHandle>, req: HttpRequest, id: web::Path<String>) -> ApiResult {
    let auth = authorize(&node, &req, &id).await?;
    // A created key (dashboard) may rotate the first key too: every key is the business's.
    let presented = auth.business.key_hash;
    match node.rotate_key(auth.business.id.clone(), presented).await? {
        Some((b, key)) => Ok(HttpResponse::Ok().json(BusinessWithKeyOut { business: business_out(&node, &b), api_key: key.reveal().to_string() })),
        // Rotated by a concurrent request between the check and the rotation.
        None => Err(ApiError::BusinessUnauthorized("invalid API key for this business".into())),
    }
}

/// The customer's address ([`super::client_ip`]).
fn client_ip(node: &NodeHandle, req: &HttpRequest) -> Option<std::net::IpAddr> {
    super::client_ip(&node.config().geo.trusted_proxies, req)
}

/// `POST /v1/sessions`.
#[utoipa::path(post, path = "/v1/sessions", tag = "sessions", operation_id = "open_session", summary = "Open a session", description = "Starts a customer's session at the QR code's location (or resumes the device's open one), routed to the customer's nearest healthy region.",
    request_body(content = OpenSessionIn, content_type = "application/json"),
    responses(
        (status = 201, description = "Opened. Without `device_token` in the request, the answer carries the device's new \
            `device_token`, this once.", body = OpenedOut, headers(("Location" = String, description = "`/v1/sessions/{id}`"))),
        (status = 200, description = "This device's session at this location was open already: that one.", body = OpenedOut,
            headers(("Location" = String, description = "`/v1/sessions/{id}`"))),
        (status = 307, description = "With `node.routing = \"redirect\"`: the client address's nearest healthy region is another \
            one; send the same request to `Location`.", body = RedirectOut,
            headers(("Location" = String, description = "`/v1/sessions` on a node of that region."))),
        super::error::answers::BadBody, super::error::answers::RateLimited, super::error::answers::Busy,
        super::error::answers::DeviceAuth,
        (status = 400, description = "`malformed-json`, `invalid-body`; `device-id-refused`: the body has `device_id`, the \
            client-chosen id of earlier versions, which counts for nothing now (send the `device_token` svea issued, or none).",
            content_type = "application/problem+json", body = super::Problem),
        (status = 404, description = "`qr-token-not-found`.", content_type = "application/problem+json", body = super::Problem),
        (status = 410, description = "`qr-token-retired`: the business removed this code's location.", content_type = "application/problem+json", body = super::Problem),
        (status = 409, description = "`qr-token-collision`.", content_type = "application/problem+json", body = super::Problem),
    ))]
pub(super) async fn open_session(node: web::Data<NodeHandle>, req: HttpRequest, body: web::Json<OpenSessionIn>) -> ApiResult {
    refuse_device_id(body.device_id.is_some())?;
    // Sessions open in the customer's nearest healthy region.
    if let Some(to) = super::elsewhere(&node, &req) {
        let location = to.url("/v1/sessions");
        return Ok(HttpResponse::TemporaryRedirect()
            .insert_header((header::LOCATION, location.clone()))
            .json(RedirectOut { region: to.region.to_string(), location, reason: to.route.reason }));
    }
    // Verified before anything is looked up: a forged token costs one HMAC.
    let (issued, device) = match &body.device_token {
        Some(presented) => (None, node.devices().verify(presented)?),
        None => {
            let (token, device) = node.devices().issue_random();
            (Some(token), device)
        }
    };
    let token: QrToken = body
        .qr_token
        .parse()
        .map_err(|_| ApiError::Actor(ActorError::NotFound { what: Missing::QrToken, id: body.qr_token.clone() }))?;
    let (s, created) = node.open_session(token, device, client_ip(&node, &req)).await?;
    let mut resp = if created { HttpResponse::Created() } else { HttpResponse::Ok() };
    let out = OpenedOut { session: session_out(&s), device_token: issued.map(|t| t.reveal().to_owned()) };
    Ok(resp.insert_header((header::LOCATION, format!("/v1/sessions/{}", s.id))).json(out))
}

/// 400 `device-id-refused` for a body that still carries the client-chosen `device_id` of
/// earlier versions: said plainly, so an old client learns why instead of being served as a
/// new device every time.
pub(super) fn refuse_device_id(present: bool) -> Result<(), ApiError> {
    if present {
        return Err(bad("device-id-refused", "device_id is no longer accepted: svea issues the device credential (device_token)"));
    }
    Ok(())
}

/// `POST /v1/sessions/{id}/purchase`.
#[utoipa::path(post, path = "/v1/sessions/{id}/purchase", tag = "sessions", operation_id = "confirm_purchase", summary = "Confirm a purchase", description = "The customer states the amount, time and receipt number of the purchase the session is for; with till verification the till must have reported it.",
    params(("id" = String, Path, description = "The session id (`s_` and 32 hex digits); anything else is 404 `session-not-found`.", example = "s_5d7f9b1c3e2a4c6e8a0b1c2d3e4f5a6b")), request_body(content = PurchaseIn, content_type = "application/json"),
    responses(
        (status = 200, description = "Confirmed (`purchase_confirmed`).", body = SessionOut),
        (status = 202, description = "At a `pos` business whose till has not reported this purchase yet: `awaiting_purchase` \
            until `awaiting_purchase_until`.", body = SessionOut),
        super::error::answers::BadBody, super::error::answers::RateLimited, super::error::answers::Busy,
        (status = 400, description = "`malformed-json`, `invalid-body`, `invalid-timestamp` (`purchased_at` is not RFC 3339).", content_type = "application/problem+json", body = super::Problem),
        (status = 404, description = "`session-not-found`.", content_type = "application/problem+json", body = super::Problem),
        (status = 409, description = "`session-expired`, `purchase-already-confirmed`, `transaction-id-reused`; at a `pos` business \
            `purchase-not-reported` (the wait ended: the till did not report this purchase with this amount and time; a purchase \
            reported with another amount gets this same answer), `purchase-already-claimed` (another session claimed this exact \
            purchase), `purchase-tries-exhausted` (`pos.session_failed_tries_max` confirmations of this session ended unbacked).", content_type = "application/problem+json", body = super::Problem),
        (status = 422, description = "`invalid-amount`, `purchase-amount-out-of-range`, `purchase-in-future`, \
            `purchase-outside-window`, `invalid-id`; `declared-amount-needs-till`: a self-declared purchase above the \
            business's ceiling (`declared_amount_max_sek`): the business must verify it with its till.", content_type = "application/problem+json", body = super::Problem),
    ))]
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

/// `POST /v1/sessions/{id}/feedback`.
#[utoipa::path(post, path = "/v1/sessions/{id}/feedback", tag = "sessions", operation_id = "give_feedback", summary = "Give feedback", description = "The customer's feedback on a confirmed purchase: it is scored and, if it qualifies, rewarded from the business's budget once.",
    params(("id" = String, Path, description = "The session id (`s_` and 32 hex digits); anything else is 404 `session-not-found`.", example = "s_5d7f9b1c3e2a4c6e8a0b1c2d3e4f5a6b")), request_body(content = FeedbackIn, content_type = "application/json"),
    responses(
        (status = 200, description = "Scored and settled: `rewarded` (perhaps with 0 and `withheld`) or `rejected`.", body = SessionOut),
        super::error::answers::BadBody, super::error::answers::RateLimited, super::error::answers::Busy,
        (status = 404, description = "`session-not-found`.", content_type = "application/problem+json", body = super::Problem),
        (status = 409, description = "`session-expired`, `purchase-not-confirmed`, `feedback-already-submitted`.", content_type = "application/problem+json", body = super::Problem),
        (status = 422, description = "`feedback-length`: fewer than 20 or more than 5000 characters.", content_type = "application/problem+json", body = super::Problem),
    ))]
pub(super) async fn give_feedback(node: web::Data<NodeHandle>, id: web::Path<String>, body: web::Json<FeedbackIn>) -> ApiResult {
    let id = parse_session_id(&id)?;
    let s = node.give_feedback(id, FeedbackText::new(&body.text)?).await?;
    Ok(HttpResponse::Ok().json(session_out(&s)))
}

/// `GET /v1/sessions/{id}`.
#[utoipa::path(get, path = "/v1/sessions/{id}", tag = "sessions", operation_id = "get_session", summary = "Read a session", description = "The session's state, the business and location names, and its reward if any.",
    params(("id" = String, Path, description = "The session id (`s_` and 32 hex digits); anything else is 404 `session-not-found`.", example = "s_5d7f9b1c3e2a4c6e8a0b1c2d3e4f5a6b")),
    responses((status = 200, description = "The session.", body = SessionOut),
        super::error::answers::RateLimited, super::error::answers::Busy, (status = 404, description = "`session-not-found`.", content_type = "application/problem+json", body = super::Problem)))]
pub(super) async fn get_session(node: web::Data<NodeHandle>, id: web::Path<String>) -> ApiResult {
    let s = node.get_session(parse_session_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(session_out(&s)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct RouteQuery {
    /// The address to route (IPv4 or IPv6); the caller's own when absent.
    #[param(example = "81.227.10.20")]
    ip: Option<String>,
}

/// `GET /v1/route`.
#[utoipa::path(get, path = "/v1/route", tag = "system", operation_id = "explain_route", summary = "Explain routing", description = "Which region this client address is routed to, and why (GeoIP, health).", params(RouteQuery),
    responses((status = 200, description = "Where a customer at this address is served, and why.", body = svea_geo::Route),
        super::error::answers::RateLimited,
        (status = 400, description = "`invalid-ip`: `ip` is not an address; `invalid-query`: an unknown parameter.", content_type = "application/problem+json", body = super::Problem)))]
pub(super) async fn explain_route(node: web::Data<NodeHandle>, req: HttpRequest, q: web::Query<RouteQuery>) -> ApiResult {
    let ip = match &q.ip {
        Some(raw) => raw.parse().map_err(|_| bad("invalid-ip", format!("ip {raw:?} is not an IPv4 or IPv6 address")))?,
        None => client_ip(&node, &req).ok_or_else(|| bad("invalid-ip", "no client address"))?,
    };
    Ok(HttpResponse::Ok().json(node.route(ip)))
}

/// `GET /health`: the process is alive (not rate limited).
#[utoipa::path(get, path = "/health", tag = "system", operation_id = "health", summary = "Check liveness", description = "Answers 200 while the process runs; not rate limited, for load balancers.",
    responses((status = 200, description = "Alive.", body = HealthOut)))]
pub(super) async fn health() -> HttpResponse {
    HttpResponse::Ok().json(HealthOut { status: "alive" })
}

/// `GET /health`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"status": "alive"}))]
struct HealthOut {
    /// Always `alive`.
    status: &'static str,
}

/// `GET /ready`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"status": "ready", "leader": 1, "term": 4}))]
struct ReadyOut {
    /// Always `ready`.
    status: &'static str,
    /// The leader's node id.
    leader: Option<u64>,
    /// The Raft term.
    term: u64,
}

/// A customer sent to another region (`POST /v1/sessions`, 307).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"region": "malmo", "location": "https://malmo.svea.example/v1/sessions", "reason": "nearest healthy region malmo"}))]
struct RedirectOut {
    /// That region.
    region: String,
    /// The URL to send the request to (also the `Location` header).
    location: String,
    /// Why that region, in words.
    reason: String,
}

/// `GET /ready`: 200 only when this node can commit (not rate limited).
#[utoipa::path(get, path = "/ready", tag = "system", operation_id = "ready", summary = "Check readiness", description = "Answers 200 only while this node can commit writes; not rate limited, for load balancers.",
    responses((status = 200, description = "A quorum confirms this node's leader.", body = ReadyOut), super::error::answers::Busy))]
pub(super) async fn ready(node: web::Data<NodeHandle>) -> ApiResult {
    node.ready().await?;
    let st = node.cluster_status();
    Ok(HttpResponse::Ok().json(ReadyOut { status: "ready", leader: st.leader, term: st.term }))
}
