//! What a business reads about its feedback, behind its API key (`http::auth`):
//!
//! - `GET /v1/businesses/{id}/feedback?cursor=&limit=&q=`: its feedback list, newest first, a
//!   page at a time ([`crate::core::feedback`]): `limit` defaults to `dashboard.feedback_page_len`
//!   and may be at most `dashboard.feedback_page_len_max`; `q` (at most
//!   `dashboard.search_chars_max` characters) keeps the entries whose text contains it, ignoring
//!   case; `next_cursor` continues with older feedback (absent at the end). Feedback that arrives
//!   meanwhile sorts before every page already handed out, so paging never repeats or skips.
//! - `GET /v1/businesses/{id}/feedback.csv?q=`: the same entries as CSV (RFC 4180 quoting by the
//!   `csv` crate), streamed a page at a time, at most `dashboard.csv_rows_max` rows (the
//!   `X-Svea-Export-Rows-Max` header says so). A cell that a spreadsheet would run as a formula
//!   (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`.
//! - `GET /v1/businesses/{id}/daily?days=`: per Swedish day (Europe/Stockholm), for the charts:
//!   sessions by outcome, rewards paid, average score, tier counts and the budget left.
//!
//! Erased and retention-redacted feedback is in none of them: its record goes with its text.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::api::{rfc3339, score_out, tiers_out, ScoreOut, TiersOut};
use super::auth::authorize;
use super::error::{bad, ApiError, ApiResult};
use crate::actors::business::{Business, DayPoint};
use crate::actors::keys::FeedbackEntry;
use crate::core::feedback::{FeedbackCursor, FeedbackPage, FeedbackQuery, Search, FEEDBACK_SCAN_BATCH};
use crate::core::NodeHandle;
use crate::domain::day::{swedish_day, swedish_local};
use crate::domain::{BusinessId, RewardTier, SessionId};

/// Swedish wall-clock time as answered (`given_at_local`).
pub const LOCAL_SECONDS_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";
/// The time zone of every day and local time answered here.
pub const TIME_ZONE: &str = "Europe/Stockholm";
/// The header of a CSV export naming its row limit.
pub const EXPORT_ROWS_MAX_HEADER: &str = "x-svea-export-rows-max";
/// The CSV export's columns.
pub const CSV_COLUMNS: [&str; 10] =
    ["given_at", "given_at_local", "session_id", "location_id", "location", "score", "score_source", "tier", "reward_sek", "text"];

// ---------- request and response bodies ----------

/// `?cursor=&limit=&q=` of the list (and `?q=` of the export).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedbackQueryIn {
    /// Where to continue: a `next_cursor` from an earlier page.
    pub cursor: Option<String>,
    /// Entries per page.
    pub limit: Option<usize>,
    /// Only entries whose text contains this, ignoring case.
    pub q: Option<String>,
}

/// Where a feedback was given.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FeedbackLocationOut {
    /// Location id.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// One feedback in the list.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FeedbackItemOut {
    /// The session it was given in.
    pub session_id: String,
    /// The text.
    pub text: String,
    /// The score that decided the reward (0-100).
    pub quality_score: u8,
    /// Who gave it: `rubric` or `ollama`.
    pub score_source: &'static str,
    /// The model that gave it, when `score_source` is `ollama`.
    pub score_model: Option<String>,
    /// The rubric's breakdown.
    pub score_breakdown: ScoreOut,
    /// The reward tier: `none`, `low`, `mid` or `high`.
    pub reward_tier: RewardTier,
    /// Cashback paid, in öre.
    pub reward_ore: i64,
    /// Cashback paid, in SEK (`"12.50"`).
    pub reward_sek: String,
    /// Where it was given.
    pub location: FeedbackLocationOut,
    /// When, RFC 3339 (UTC).
    pub given_at: String,
    /// When, Swedish wall-clock time (`YYYY-MM-DDTHH:MM:SS`, Europe/Stockholm).
    pub given_at_local: String,
}

/// A page of the list.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"business_id": "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e", "next_cursor": "MTc2NDY0ODAwMDAwMF9zXzVkN2Y5YjFj",
    "items": [{"session_id": "s_5d7f9b1c3e2a4c6e8a0b1c2d3e4f5a6b", "text": "Kanelbullen var färsk och kaffet varmt, men kön vid kassan var lång vid lunch.",
        "quality_score": 78, "score_source": "rubric", "score_model": null,
        "score_breakdown": {"total": 78, "substance": 25, "specific": 20, "actionable": 18, "balanced": 15},
        "reward_tier": "mid", "reward_ore": 448, "reward_sek": "4.48",
        "location": {"id": "l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a", "name": "Lilla Torg"},
        "given_at": "2026-03-02T11:47:55Z", "given_at_local": "2026-03-02T12:47:55"}]}))]
pub struct FeedbackListOut {
    /// The business.
    pub business_id: String,
    /// Newest first.
    pub items: Vec<FeedbackItemOut>,
    /// Pass as `cursor` for the next (older) page; absent at the end.
    pub next_cursor: Option<String>,
}

/// `?days=` of the daily series.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DailyQueryIn {
    /// Swedish days up to today (default `dashboard.chart_days`).
    pub days: Option<u32>,
}

/// One Swedish day of the series.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DayPointOut {
    /// `YYYY-MM-DD`, Europe/Stockholm.
    pub date: String,
    /// Sessions opened.
    pub opened: u64,
    /// Sessions rewarded.
    pub completed: u64,
    /// Sessions scored below the lowest tier.
    pub rejected: u64,
    /// Sessions that expired.
    pub expired: u64,
    /// Cashback paid, in öre.
    pub rewards_paid_ore: i64,
    /// Average quality score of the day's scored sessions (one decimal), if any.
    pub average_score: Option<f64>,
    /// Scored sessions per tier.
    pub tiers: TiersOut,
    /// Budget left at the end of the day, in öre.
    pub budget_left_ore: i64,
}

/// The per-day series of a business's charts.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"business_id": "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e", "time_zone": "Europe/Stockholm", "budget_ore": 500000, "remaining_ore": 487550,
    "days": [{"date": "2026-03-02", "opened": 42, "completed": 31, "rejected": 6, "expired": 5, "rewards_paid_ore": 12450, "average_score": 71.4,
        "tiers": {"none": 9, "low": 12, "mid": 8, "high": 2}, "budget_left_ore": 487550}]}))]
pub struct DailyOut {
    /// The business.
    pub business_id: String,
    /// Always `Europe/Stockholm`.
    pub time_zone: &'static str,
    /// Total budget, in öre.
    pub budget_ore: i64,
    /// Left now, in öre.
    pub remaining_ore: i64,
    /// Oldest first, every day present.
    pub days: Vec<DayPointOut>,
}

// ---------- shaping ----------

/// Average with one decimal.
pub(super) fn one_decimal(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

pub(super) fn item_out(session: &SessionId, e: &FeedbackEntry) -> FeedbackItemOut {
    FeedbackItemOut {
        session_id: session.to_string(),
        text: e.text.clone(),
        quality_score: e.score.total,
        score_source: e.score.source.as_str(),
        score_model: e.score.source.model().map(str::to_string),
        score_breakdown: score_out(&e.score.rubric),
        reward_tier: e.tier,
        reward_ore: e.reward.as_ore(),
        reward_sek: e.reward.to_sek_string(),
        location: FeedbackLocationOut { id: e.location.to_string(), name: e.location_name.clone() },
        given_at: rfc3339(e.given_at),
        given_at_local: swedish_local(e.given_at).format(LOCAL_SECONDS_FORMAT).to_string(),
    }
}

fn day_out(p: &DayPoint) -> DayPointOut {
    let s = &p.stats;
    DayPointOut {
        date: p.day.format("%Y-%m-%d").to_string(),
        opened: s.opened,
        completed: s.completed,
        rejected: s.rejected,
        expired: s.expired,
        rewards_paid_ore: s.rewards_paid.as_ore(),
        average_score: s.average_score().map(one_decimal),
        tiers: tiers_out(&s.tiers),
        budget_left_ore: p.budget_left.as_ore(),
    }
}

/// The business's last `days` Swedish days, up to today.
pub(super) fn series(b: &Business, days: u32) -> Vec<DayPoint> {
    b.daily_series(swedish_day(chrono::Utc::now()), days)
}

/// The list query `q`, checked against `[dashboard]`: a bad cursor, a `limit` out of range or a
/// search too long is a 400 naming it.
pub(super) fn list_query(node: &NodeHandle, q: &FeedbackQueryIn) -> Result<FeedbackQuery, ApiError> {
    let c = &node.config().dashboard;
    let after = match q.cursor.as_deref().filter(|s| !s.is_empty()) {
        Some(raw) => Some(FeedbackCursor::decode(raw).map_err(|e| bad("invalid-cursor", e.to_string()))?),
        None => None,
    };
    let limit = q.limit.unwrap_or(c.feedback_page_len);
    if limit == 0 || limit > c.feedback_page_len_max {
        return Err(bad("invalid-limit", format!("limit {limit} is not within 1..={}", c.feedback_page_len_max)));
    }
    Ok(FeedbackQuery { after, limit, search: search(node, q.q.as_deref())?, scan_max: c.feedback_scan_max })
}

/// A search text, checked against `dashboard.search_chars_max`.
pub(super) fn search(node: &NodeHandle, q: Option<&str>) -> Result<Option<Search>, ApiError> {
    let max = node.config().dashboard.search_chars_max;
    match q {
        Some(t) if t.chars().count() > max => Err(bad("search-too-long", format!("search text is longer than {max} characters"))),
        Some(t) => Ok(Search::new(t)),
        None => Ok(None),
    }
}

/// A cell as exported: one a spreadsheet would run as a formula gets a leading `'`.
pub fn csv_cell(raw: &str) -> std::borrow::Cow<'_, str> {
    if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{raw}"))
    } else {
        std::borrow::Cow::Borrowed(raw)
    }
}

/// CSV lines of `items` (with the header line first when `header`).
pub fn csv_rows(items: &[(SessionId, FeedbackEntry)], header: bool) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    if header {
        w.write_record(CSV_COLUMNS)?;
    }
    for (session, e) in items {
        let i = item_out(session, e);
        let score = i.quality_score.to_string();
        let tier = tier_name(i.reward_tier);
        let cells = [
            i.given_at.as_str(),
            &i.given_at_local,
            &i.session_id,
            &i.location.id,
            &i.location.name,
            &score,
            i.score_source,
            tier,
            &i.reward_sek,
            &i.text,
        ];
        w.write_record(cells.iter().map(|c| csv_cell(c).into_owned()))?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// A tier's name, as the API spells it.
pub(super) fn tier_name(t: RewardTier) -> &'static str {
    match t {
        RewardTier::None => "none",
        RewardTier::Low => "low",
        RewardTier::Mid => "mid",
        RewardTier::High => "high",
    }
}

// ---------- handlers ----------

/// `GET /v1/businesses/{id}/feedback`.
#[utoipa::path(get, path = "/v1/businesses/{id}/feedback", tag = "businesses", operation_id = "list_feedback", summary = "List feedback", description = "The business's feedback newest first, a page at a time, with case-insensitive search.",
    params(("id" = String, Path, description = "The business id (`b_` and 32 hex digits).", example = "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e"), FeedbackQueryIn), security(("business_api_key" = [])),
    responses((status = 200, description = "A page of the business's feedback, newest first; `next_cursor` continues with older ones (stable while new feedback arrives).", body = FeedbackListOut),
        (status = 400, description = "`invalid-cursor`, `invalid-limit`, `search-too-long`.", content_type = "application/problem+json", body = super::Problem),
        super::error::answers::BusinessAuth, super::error::answers::RateLimited, super::error::answers::Busy))]
pub(super) async fn list(node: web::Data<NodeHandle>, req: HttpRequest, id: web::Path<String>, q: web::Query<FeedbackQueryIn>) -> ApiResult {
    let auth = authorize(&node, &req, &id).await?;
    let query = list_query(&node, &q)?;
    let page = node.feedback_page(&auth.business.id, query).await?;
    Ok(HttpResponse::Ok().json(list_out(&auth.business.id, &page)))
}

pub(super) fn list_out(business: &BusinessId, page: &FeedbackPage) -> FeedbackListOut {
    FeedbackListOut {
        business_id: business.to_string(),
        items: page.items.iter().map(|(s, e)| item_out(s, e)).collect(),
        next_cursor: page.next.as_ref().map(FeedbackCursor::encode),
    }
}

/// `?q=` of the export.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQueryIn {
    /// Only entries whose text contains this, ignoring case.
    pub q: Option<String>,
}

/// `GET /v1/businesses/{id}/feedback.csv`.
#[utoipa::path(get, path = "/v1/businesses/{id}/feedback.csv", tag = "businesses", operation_id = "export_feedback", summary = "Export feedback as CSV", description = "The business's feedback as CSV, streamed, formula-safe cells.",
    params(("id" = String, Path, description = "The business id (`b_` and 32 hex digits).", example = "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e"), ExportQueryIn), security(("business_api_key" = [])),
    responses((status = 200, description = "Every matching feedback as CSV (RFC 4180, newest first, at most `X-Svea-Export-Rows-Max` rows; a cell that would start a spreadsheet formula gets a leading `'`).",
            content_type = "text/csv; charset=utf-8", body = String,
            headers(("X-Svea-Export-Rows-Max" = u64, description = "The most rows one export holds (`dashboard.csv_rows_max`).")), example = "given_at,given_at_local,session_id,location_id,location,score,score_source,tier,reward_sek,text\n2026-03-02T11:47:55Z,2026-03-02T12:47:55,s_5d7f9b1c3e2a4c6e8a0b1c2d3e4f5a6b,l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a,Lilla Torg,78,rubric,mid,4.48,Kanelbullen var färsk\n"),
        (status = 400, description = "`search-too-long`.", content_type = "application/problem+json", body = super::Problem),
        super::error::answers::BusinessAuth, super::error::answers::RateLimited, super::error::answers::Busy))]
pub(super) async fn export(node: web::Data<NodeHandle>, req: HttpRequest, id: web::Path<String>, q: web::Query<ExportQueryIn>) -> ApiResult {
    let auth = authorize(&node, &req, &id).await?;
    let search = search(&node, q.q.as_deref())?;
    Ok(csv_response(node.get_ref().clone(), auth.business.id, search))
}

/// The streamed CSV export of `business`'s feedback matching `search`.
pub(super) fn csv_response(node: NodeHandle, business: BusinessId, search: Option<Search>) -> HttpResponse {
    let c = node.config().dashboard;
    let rows_max = c.csv_rows_max;
    // (cursor, rows left, first chunk, done)
    let start = (None::<FeedbackCursor>, rows_max, true, false);
    let body = futures::stream::unfold(start, move |(after, left, first, done)| {
        let (node, business, search) = (node.clone(), business.clone(), search.clone());
        async move {
            if done {
                return None;
            }
            let limit = left.min(FEEDBACK_SCAN_BATCH).max(1);
            let query = FeedbackQuery { after, limit, search, scan_max: c.feedback_scan_max.max(limit) };
            let page = match node.feedback_page(&business, query).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(business_id = %business, error = %e, "feedback export stopped");
                    return Some((Err(actix_web::error::ErrorServiceUnavailable(e.to_string())), (None, 0, false, true)));
                }
            };
            let chunk = match csv_rows(&page.items, first) {
                Ok(c) => c,
                Err(e) => return Some((Err(actix_web::error::ErrorInternalServerError(e.to_string())), (None, 0, false, true))),
            };
            let left = left.saturating_sub(page.items.len());
            let done = page.next.is_none() || left == 0;
            Some((Ok::<_, actix_web::Error>(web::Bytes::from(chunk)), (page.next, left, false, done)))
        }
    });
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, "attachment; filename=\"feedback.csv\""))
        .insert_header((EXPORT_ROWS_MAX_HEADER, rows_max.to_string()))
        .streaming(body)
}

/// `GET /v1/businesses/{id}/daily`.
#[utoipa::path(get, path = "/v1/businesses/{id}/daily", tag = "businesses", operation_id = "daily_series", summary = "Read the daily series", description = "Per Swedish day: sessions by outcome, rewards paid, average score, tiers and budget left.",
    params(("id" = String, Path, description = "The business id (`b_` and 32 hex digits).", example = "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e"), DailyQueryIn), security(("business_api_key" = [])),
    responses((status = 200, description = "Per Swedish day (Europe/Stockholm), oldest first: sessions by outcome, rewards paid, average score, tiers, budget left.", body = DailyOut),
        (status = 400, description = "`invalid-days`.", content_type = "application/problem+json", body = super::Problem),
        super::error::answers::BusinessAuth, super::error::answers::RateLimited, super::error::answers::Busy))]
pub(super) async fn daily(node: web::Data<NodeHandle>, req: HttpRequest, id: web::Path<String>, q: web::Query<DailyQueryIn>) -> ApiResult {
    let auth = authorize(&node, &req, &id).await?;
    let days = q.days.unwrap_or(node.config().dashboard.chart_days);
    let max = svea_config::dashboard::CHART_DAYS_MAX;
    if days == 0 || days > max {
        return Err(bad("invalid-days", format!("days {days} is not within 1..={max}")));
    }
    let b = &auth.business;
    Ok(HttpResponse::Ok().json(DailyOut {
        business_id: b.id.to_string(),
        time_zone: TIME_ZONE,
        budget_ore: super::api::net_funded(b).as_ore(),
        remaining_ore: b.remaining().as_ore(),
        days: series(b, days).iter().map(day_out).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{LocationId, Ore, QualityScore, Scored};

    fn entry(text: &str, location_name: &str) -> (SessionId, FeedbackEntry) {
        let rubric = QualityScore::from_components(20, 20, 20, 20);
        let e = FeedbackEntry {
            text: text.into(),
            score: Scored::by_rubric(rubric),
            tier: RewardTier::High,
            reward: Ore::from_ore(1250),
            location: LocationId::random(),
            location_name: location_name.into(),
            given_at: chrono::DateTime::parse_from_rfc3339("2026-07-15T11:30:00Z").expect("time").with_timezone(&chrono::Utc),
        };
        (SessionId::random(), e)
    }

    #[test]
    fn formula_cells_get_a_leading_quote_and_others_stay() {
        for raw in ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(csv_cell(raw), format!("'{raw}"));
        }
        for raw in ["Bra kaffe", "", "1=1", "a-b"] {
            assert_eq!(csv_cell(raw), raw);
        }
    }

    #[test]
    fn csv_quotes_commas_quotes_and_newlines_and_defuses_formulas() {
        let items = [entry("=cmd|' /C calc'!A0, and \"quotes\"\nnew line", "Södermalm, @plan 2")];
        let out = String::from_utf8(csv_rows(&items, true).expect("csv")).expect("utf-8");
        let mut r = csv::Reader::from_reader(out.as_bytes());
        assert_eq!(r.headers().expect("header").iter().collect::<Vec<_>>(), CSV_COLUMNS);
        let row = r.records().next().expect("row").expect("record");
        assert_eq!(&row[9], "'=cmd|' /C calc'!A0, and \"quotes\"\nnew line");
        assert_eq!(&row[4], "Södermalm, @plan 2");
        assert_eq!(&row[1], "2026-07-15T13:30:00");
        assert_eq!(&row[8], "12.50");
        assert_eq!(&row[7], "high");
    }
}
