//! The customer's page: what a phone opens from a QR code (`<public_url>/q/<qr_token>`),
//! server-rendered HTML that works as plain forms (a small script only adds a character counter).
//!
//! - `GET /q/{token}`: routed first, exactly like `POST /v1/sessions` ([`super::elsewhere`]): a
//!   customer whose nearest healthy region is another one gets `307` to that region's
//!   `/q/{token}` before anything is read or rendered. Then the page at the step the customer's
//!   session is at: start, confirm the purchase (or "waiting for the till", which reloads itself
//!   with `<meta http-equiv="refresh">`), write feedback, the score and the reward.
//! - `POST /q/{token}/open | purchase | feedback`: the forms (Post/Redirect/Get: `303` back to the
//!   page on success; on an error the page again, with the problem in words and what was typed).
//! - its stylesheet and script are embedded assets (`super::assets`, `GET /assets/{name}`).
//!
//! State lives in three first-party cookies (`HttpOnly; SameSite=Lax`, `Secure` when the public
//! side is HTTPS): the device credential ([`DEVICE_COOKIE`], a device token svea issues the
//! first time a phone opens a page, and again in place of a cookie that does not verify, such as
//! the client-made device id of earlier versions; see `domain::device`), the session id ([`SESSION_COOKIE`], scoped to the QR code's
//! path, so a reload resumes where the customer was) and the language ([`LANG_COOKIE`], set by
//! `?lang=en|sv`). The session itself lives where every session lives: in its actor, through Raft.
//!
//! Cross-site forms: the cookies are `SameSite=Lax`, so another site's form posts arrive without
//! them and change nothing (no device: back to the page; no session: back to the page); and a
//! post whose `Origin` (or, without one, `Referer`) names another host, or the opaque `null`, is
//! refused (`cross-site-form`). Pages carry `Referrer-Policy: same-origin` so that browsers send
//! our own origin on our own forms (under `no-referrer` they send `Origin: null`).

pub(crate) mod format;
pub(crate) mod privacy;
pub(crate) mod texts;
pub(crate) mod view;

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDateTime, Utc};
use maud::Markup;
use serde::Deserialize;

use super::error::{bad, kind_of, status_for, ApiError};
use super::security::Https;
use crate::actors::keys::QrTarget;
use crate::actors::session::{FeedbackText, Purchase, Session};
use crate::actors::ActorError;
use crate::core::NodeHandle;
use crate::domain::day::{from_swedish_local, swedish_local};
use crate::domain::{DeviceId, DomainError, Ore, QrToken, SessionId, TransactionId};
pub use texts::Lang;
pub(crate) use view::{document, money};
use view::{Draft, Page, Place, LOCAL_TIME_FORMAT};

/// Paths of the customer's page start with it.
pub const PAGE_PREFIX: &str = "/q/";
/// The device credential cookie (path `/`): the token, never readable by scripts (`HttpOnly`).
pub const DEVICE_COOKIE: &str = "svea_device";
/// The session id cookie (path `/q/<token>`: one per QR code).
pub const SESSION_COOKIE: &str = "svea_session";
/// The language cookie (path `/`).
pub const LANG_COOKIE: &str = "svea_lang";
/// How long a phone keeps its device credential: a year (browsers cap cookies at 400 days).
pub const DEVICE_COOKIE_MAX_AGE_DAYS: i64 = 365;
/// How long a phone remembers its session at one QR code: long enough to see the result again
/// after the session's own expiry (`timeouts.session_expiry`), short enough that a regular
/// customer starts fresh each week.
pub const SESSION_COOKIE_MAX_AGE_DAYS: i64 = 7;
/// How long the language choice is kept.
pub const LANG_COOKIE_MAX_AGE_DAYS: i64 = 365;
/// Seconds between reloads of the "waiting for the till" page.
pub const WAIT_REFRESH_S: u32 = 3;
/// The referrer policy of every page (see the module docs).
pub const PAGE_REFERRER_POLICY: &str = "same-origin";

/// What the page's forms need on the app (its routes are lines of `http::PUBLIC_ROUTES`).
pub fn configure(node: &NodeHandle, cfg: &mut web::ServiceConfig) {
    let limit = node.config().limits.http_body_bytes;
    cfg.app_data(web::FormConfig::default().limit(limit).error_handler(form_error));
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct LangQuery {
    /// `sv` (default) or `en`; remembered in a cookie.
    #[param(example = "en", pattern = "^(sv|en)$")]
    lang: Option<String>,
}

/// The language `?lang=` asks for.
fn query_lang(req: &HttpRequest) -> Option<Lang> {
    let q = web::Query::<LangQuery>::from_query(req.query_string()).ok()?;
    q.lang.as_deref().and_then(Lang::parse)
}

/// The page's language: `?lang=`, else the cookie, else Swedish.
pub fn lang_of(req: &HttpRequest) -> Lang {
    query_lang(req).or_else(|| req.cookie(LANG_COOKIE).and_then(|c| Lang::parse(c.value()))).unwrap_or(Lang::Sv)
}

/// Whether customers reach this node over HTTPS (its own TLS, or the TLS-terminating proxy its
/// config names): cookies are `Secure` then.
pub(crate) fn secure(node: &NodeHandle, req: &HttpRequest) -> bool {
    req.app_data::<web::Data<Https>>().is_some_and(|h| h.0) || node.config().http.plaintext_behind_proxy
}

fn cookie(name: &'static str, value: String, path: String, days: i64, secure: bool) -> Cookie<'static> {
    Cookie::build(name, value).path(path).http_only(true).same_site(SameSite::Lax).secure(secure).max_age(time::Duration::days(days)).finish()
}

fn page_path(token: &QrToken) -> String {
    format!("/q/{token}")
}

/// An HTML answer with the page's referrer policy and `cookies`.
pub(crate) fn html(status: StatusCode, markup: Markup, cookies: Vec<Cookie<'static>>) -> HttpResponse {
    let mut b = HttpResponse::build(status);
    b.content_type("text/html; charset=utf-8").insert_header((header::REFERRER_POLICY, PAGE_REFERRER_POLICY));
    for c in cookies {
        b.cookie(c);
    }
    b.body(markup.into_string())
}

/// `303` back to the page (Post/Redirect/Get), with `cookies`.
fn see_page(token: &QrToken, cookies: Vec<Cookie<'static>>) -> HttpResponse {
    let mut b = HttpResponse::SeeOther();
    b.insert_header((header::LOCATION, page_path(token)));
    for c in cookies {
        b.cookie(c);
    }
    b.finish()
}

/// The status a page shows an error with: the API's, except that a server fault is a 503 "try
/// again" page (it is logged), never a bare 500.
fn page_status(e: &ApiError) -> StatusCode {
    let status = status_for(e);
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %e, "customer page request failed");
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    status
}

fn not_found(lang: Lang) -> HttpResponse {
    html(StatusCode::NOT_FOUND, view::not_found(lang), Vec::new())
}

/// The page for an error before the QR code's place is known.
fn error_only(lang: Lang, e: &ApiError) -> HttpResponse {
    match e {
        ApiError::Actor(ActorError::NotFound { what: crate::actors::Missing::RetiredQrToken, .. }) => html(StatusCode::GONE, view::retired(lang), Vec::new()),
        ApiError::Actor(ActorError::NotFound { .. }) => not_found(lang),
        _ => html(page_status(e), view::error_page(lang, lang.texts().problem(kind_of(e))), Vec::new()),
    }
}

/// The page for a client over its request bucket (`http::ratelimit` answers page paths with it).
pub fn rate_limited(req: &HttpRequest, retry_after_s: u64) -> HttpResponse {
    let mut resp = html(StatusCode::TOO_MANY_REQUESTS, view::rate_limited(lang_of(req)), Vec::new());
    if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// The page while maintenance mode is on: the operator's message as a notice, 503 with
/// `Retry-After` (`http::maintenance` answers page paths with it).
pub fn maintenance(req: &HttpRequest, message: &str, retry_after_s: u32) -> HttpResponse {
    let mut resp = html(StatusCode::SERVICE_UNAVAILABLE, view::maintenance(lang_of(req), message), Vec::new());
    if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// The extractor error of a form body that could not be read (too large, not a form).
fn form_error(err: actix_web::error::UrlencodedError, req: &HttpRequest) -> actix_web::Error {
    let e = bad("invalid-body", err.to_string());
    let resp = error_only(lang_of(req), &e);
    actix_web::error::InternalError::from_response(err, resp).into()
}

/// The session the phone's cookie names, if it is at this QR code's location.
async fn current_session(node: &NodeHandle, req: &HttpRequest, target: &QrTarget) -> Result<Option<Session>, ApiError> {
    let Some(id) = session_cookie(req) else { return Ok(None) };
    match node.get_session(id).await {
        Ok(s) if s.location_id == target.location => Ok(Some(s)),
        Ok(_) | Err(ActorError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn session_cookie(req: &HttpRequest) -> Option<SessionId> {
    req.cookie(SESSION_COOKIE).and_then(|c| c.value().parse().ok())
}

/// The device the phone's cookie stands for, if the cookie holds a token svea issued.
pub(crate) fn device_cookie(node: &NodeHandle, req: &HttpRequest) -> Option<DeviceId> {
    req.cookie(DEVICE_COOKIE).and_then(|c| node.devices().verify(c.value()).ok())
}

/// The customer's cashback for their page; `None` without a wallet, or when it cannot be read
/// now (the page shows the rest).
async fn wallet_summary(node: &NodeHandle, device: &DeviceId) -> Option<view::WalletSummary> {
    match node.wallet(device).await {
        Ok(v) => v.wallet.map(|w| view::WalletSummary {
            balance: w.balance(),
            postings: v.postings,
            payouts: v.payouts,
            minimum: crate::domain::Ore::from_ore(node.config().payouts.minimum_ore),
            demo: node.payout_rail() == svea_config::PayoutRailKind::LedgerOnly,
            has_payee: w.payee.is_some(),
            payee_form: node.config().payouts.payee_key.is_some(),
        }),
        Err(e) => {
            tracing::warn!(error = %e, "wallet not shown on the customer's page");
            None
        }
    }
}

/// Renders the page for `token` at its session's step, with `error` and what was typed.
async fn render(node: &NodeHandle, req: &HttpRequest, token: &QrToken, error: Option<&ApiError>, draft: Draft, mut cookies: Vec<Cookie<'static>>) -> HttpResponse {
    let lang = lang_of(req);
    let target = match node.qr_target(token.clone()).await {
        Ok(t) => t,
        Err(e) => return error_only(lang, &e.into()),
    };
    let session = match current_session(node, req, &target).await {
        Ok(s) => s,
        Err(e) => return error_only(lang, &e),
    };
    // No credential yet, or one svea did not issue (made up, or an earlier version's device id):
    // a fresh one. The token goes only into this HttpOnly cookie, never into the page.
    if device_cookie(node, req).is_none() {
        let (token, _) = node.devices().issue_random();
        cookies.push(cookie(DEVICE_COOKIE, token.reveal().to_owned(), "/".into(), DEVICE_COOKIE_MAX_AGE_DAYS, secure(node, req)));
    }
    let funded = node.business_funded(&target.business);
    // The start page names the business's top reward: one read of its actor, only there.
    let top_basis_points = match &session {
        None if funded => match node.business(target.business.clone()).await {
            Ok(b) => b.policy.tiers.last().map(|t| t.basis_points),
            Err(e) => {
                tracing::warn!(error = %e, "reward range not shown on the customer's page");
                None
            }
        },
        _ => None,
    };
    let wallet = match (&session, device_cookie(node, req)) {
        (Some(s), Some(device)) if view::step_of(Some(s)) == Some(3) => wallet_summary(node, &device).await,
        _ => None,
    };
    let page = Page {
        funded,
        wallet,
        top_basis_points,
        lang,
        place: Place { token: token.as_str(), business: &target.business_name, location: &target.location_name },
        session: session.as_ref(),
        error: error.map(|e| lang.texts().problem(kind_of(e))),
        draft,
        now_local: swedish_local(Utc::now()).format(LOCAL_TIME_FORMAT).to_string(),
    };
    let status = error.map_or(StatusCode::OK, page_status);
    html(status, view::customer_page(&page), cookies)
}

/// `GET /q/{token}`.
#[utoipa::path(get, path = "/q/{token}", tag = "pages", operation_id = "customer_page", summary = "Show the customer's page", description = "The page behind a QR code: the business, the steps, the customer's session.",
    params(("token" = String, Path, description = "The QR token (43 characters of base64url); anything else is the not-found page.", example = "q7Xc2mVt9LkPz4RbN8sWjH1yFgD6eA0uTnK3oIvYbQE"), LangQuery),
    responses(
        (status = 200, description = "The customer's page at the step the session is at (HTML, Swedish or English).", content_type = "text/html; charset=utf-8", body = String,
            headers(("Set-Cookie" = String, description = "`svea_device` (the device credential) the first time, or in place of one that does not verify; `svea_lang` with `?lang=`."))),
        (status = 307, description = "With `node.routing = \"redirect\"`: the nearest healthy region is another one; the same page there.",
            headers(("Location" = String, description = "`<that region's public URL>/q/{token}`"))),
        (status = 404, description = "The not-found page: no such QR token.", content_type = "text/html; charset=utf-8", body = String),
        (status = 410, description = "The retired-code page: the business removed this code's location.", content_type = "text/html; charset=utf-8", body = String),
        (status = 429, description = "The rate-limit page.", content_type = "text/html; charset=utf-8", body = String, headers(("Retry-After" = u64, description = "Whole seconds."))),
        (status = 503, description = "The try-again page.", content_type = "text/html; charset=utf-8", body = String),
    ))]
pub(super) async fn show(node: web::Data<NodeHandle>, req: HttpRequest, token: web::Path<String>) -> HttpResponse {
    let Ok(token) = token.parse::<QrToken>() else { return not_found(lang_of(&req)) };
    let asked = query_lang(&req);
    // Routed before anything is read or rendered, by the one decision the API uses too.
    if let Some(to) = super::elsewhere(&node, &req) {
        let path = match asked {
            Some(l) => format!("{}?lang={}", page_path(&token), l.tag()),
            None => page_path(&token),
        };
        return HttpResponse::TemporaryRedirect().insert_header((header::LOCATION, to.url(&path))).finish();
    }
    let cookies = lang_cookie(&node, &req).into_iter().collect();
    render(&node, &req, &token, None, Draft::default(), cookies).await
}

/// The language cookie to set when `?lang=` chose a language.
pub(crate) fn lang_cookie(node: &NodeHandle, req: &HttpRequest) -> Option<Cookie<'static>> {
    query_lang(req).map(|l| cookie(LANG_COOKIE, l.tag().into(), "/".into(), LANG_COOKIE_MAX_AGE_DAYS, secure(node, req)))
}

/// Refuses a form posted from another site: its `Origin`, or without one its `Referer`, must
/// name this host. Neither header (a non-browser client): allowed; the `SameSite` cookies are
/// what protects browsers that send neither.
pub(crate) fn same_origin(req: &HttpRequest) -> Result<(), ApiError> {
    let refuse = |what: &str| bad("cross-site-form", format!("form posted from {what}, not from this site"));
    let header_str = |name| req.headers().get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    let claimed = match (header_str(header::ORIGIN), header_str(header::REFERER)) {
        (Some(origin), _) => origin,
        (None, Some(referer)) => referer,
        (None, None) => return Ok(()),
    };
    let info = req.connection_info();
    match authority(claimed) {
        Some(host) if host.eq_ignore_ascii_case(info.host()) => Ok(()),
        _ => Err(refuse(claimed.chars().take(100).collect::<String>().as_str())),
    }
}

/// The `host[:port]` of an absolute `http(s)` URL or origin; `None` for anything else (`null`).
fn authority(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|a| !a.is_empty())
}

/// What every form post checks first: a known QR token, a same-site form, and the cookie the
/// step needs (`None`: back to the page, which sets what is missing).
fn form_start(req: &HttpRequest, token: &str) -> Result<QrToken, HttpResponse> {
    let lang = lang_of(req);
    let token = token.parse::<QrToken>().map_err(|_| not_found(lang))?;
    same_origin(req).map_err(|e| html(status_for(&e), view::error_page(lang, lang.texts().problem(kind_of(&e))), Vec::new()))?;
    Ok(token)
}

/// What a form post answers (`POST /q/{token}/open | purchase | feedback`), for the OpenAPI document.
#[derive(utoipa::IntoResponses)]
pub enum FormAnswers {
    /// Done.
    #[response(status = 303, description = "Done (or a cookie the step needs was missing): back to the page (Post/Redirect/Get).",
            headers(("Location" = String, description = "`/q/{token}`"), ("Set-Cookie" = String, description = "`svea_session` after opening.")))]
    Done,
    /// Refused.
    #[response(status = 400, description = "The page with the problem in words: the form was posted from another site (`cross-site-form`) \
            or could not be read.", content_type = "text/html; charset=utf-8")]
    Refused(String),
    /// NotFound.
    #[response(status = 404, description = "The not-found page: no such QR token.", content_type = "text/html; charset=utf-8")]
    NotFound(String),
    /// Gone.
    #[response(status = 410, description = "The retired-code page: the business removed this code's location.", content_type = "text/html; charset=utf-8")]
    Gone(String),
    /// Conflict.
    #[response(status = 409, description = "The page again with the problem in words (the session expired, feedback was given already).", content_type = "text/html; charset=utf-8")]
    Conflict(String),
    /// Invalid.
    #[response(status = 422, description = "The page again with the problem in words and what was typed (an amount, a time, a text length).", content_type = "text/html; charset=utf-8")]
    Invalid(String),
    /// RateLimited.
    #[response(status = 429, description = "The rate-limit page.", content_type = "text/html; charset=utf-8", headers(("Retry-After" = u64, description = "Whole seconds.")))]
    RateLimited(String),
    /// TryAgain.
    #[response(status = 503, description = "The try-again page (busy, unavailable, or a fault of the node).", content_type = "text/html; charset=utf-8")]
    TryAgain(String),
}

/// `POST /q/{token}/open`: opens the device's session at this QR code (or finds its open one).
#[utoipa::path(post, path = "/q/{token}/open", tag = "pages", operation_id = "customer_page_open", summary = "Start from the customer's page", description = "Opens the device's session at this QR code (or finds its open one).", params(("token" = String, Path, description = "The QR token (43 characters of base64url); anything else is the not-found page.", example = "q7Xc2mVt9LkPz4RbN8sWjH1yFgD6eA0uTnK3oIvYbQE")),
    responses(FormAnswers))]
pub(super) async fn open(node: web::Data<NodeHandle>, req: HttpRequest, token: web::Path<String>) -> HttpResponse {
    let token = match form_start(&req, &token) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    // Without a credential that verifies: back to the page, which issues one.
    let Some(device) = device_cookie(&node, &req) else { return see_page(&token, Vec::new()) };
    let client = super::client_ip(&node.config().geo.trusted_proxies, &req);
    match node.open_session(token.clone(), device, client).await {
        Ok((s, _)) => {
            let c = cookie(SESSION_COOKIE, s.id.to_string(), page_path(&token), SESSION_COOKIE_MAX_AGE_DAYS, secure(&node, &req));
            see_page(&token, vec![c])
        }
        Err(e) => render(&node, &req, &token, Some(&e.into()), Draft::default(), Vec::new()).await,
    }
}

/// The purchase form.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
#[schema(example = json!({"amount": "89,50", "purchased_at": "2026-03-02T12:42", "receipt": "K-20260302-0147"}))]
pub(super) struct PurchaseForm {
    /// As a customer types it: `89`, `89,50`, `89.50`, `1 234,50 kr`.
    amount: String,
    /// `datetime-local` in Swedish time, or RFC 3339.
    purchased_at: String,
    /// The receipt's number.
    receipt: String,
}

/// An amount as a customer types it: "89", "89,50", "89.50", "1 234,50 kr".
fn parse_amount(raw: &str) -> Result<Ore, ApiError> {
    let t = raw.trim();
    let t = ["kr", "KR", "Kr", "SEK", "sek"].iter().find_map(|s| t.strip_suffix(s)).unwrap_or(t);
    let cleaned: String = t.chars().filter(|c| !c.is_whitespace()).map(|c| if c == ',' { '.' } else { c }).collect();
    Ok(Ore::parse_sek(&cleaned).map_err(DomainError::from)?)
}

/// A purchase time as the form sends it: `datetime-local` (Swedish time, with or without
/// seconds), or RFC 3339.
fn parse_purchase_time(raw: &str) -> Result<DateTime<Utc>, ApiError> {
    let raw = raw.trim();
    let invalid = || bad("invalid-timestamp", format!("purchase time {:?} is not a date and time", raw.chars().take(40).collect::<String>()));
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    let local = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M").or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S")).map_err(|_| invalid())?;
    from_swedish_local(local).ok_or_else(invalid)
}

fn parse_purchase(f: &PurchaseForm) -> Result<Purchase, ApiError> {
    let amount = parse_amount(&f.amount)?;
    let at = parse_purchase_time(&f.purchased_at)?;
    let receipt: TransactionId = f.receipt.trim().parse().map_err(DomainError::from)?;
    Ok(Purchase::new(amount, at, receipt)?)
}

/// `POST /q/{token}/purchase`.
#[utoipa::path(post, path = "/q/{token}/purchase", tag = "pages", operation_id = "customer_page_purchase", summary = "Confirm a purchase on the page", description = "The page's purchase form: amount, time and receipt number.", params(("token" = String, Path, description = "The QR token (43 characters of base64url); anything else is the not-found page.", example = "q7Xc2mVt9LkPz4RbN8sWjH1yFgD6eA0uTnK3oIvYbQE")),
    request_body(content = PurchaseForm, content_type = "application/x-www-form-urlencoded"),
    responses(FormAnswers))]
pub(super) async fn purchase(node: web::Data<NodeHandle>, req: HttpRequest, token: web::Path<String>, form: web::Form<PurchaseForm>) -> HttpResponse {
    let token = match form_start(&req, &token) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let Some(id) = session_cookie(&req) else { return see_page(&token, Vec::new()) };
    let result = match parse_purchase(&form) {
        Ok(p) => node.confirm_purchase(id, p).await.map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => see_page(&token, Vec::new()),
        Err(e) => {
            let f = form.into_inner();
            let draft = Draft { amount: f.amount, purchased_at: f.purchased_at, receipt: f.receipt, text: String::new() };
            render(&node, &req, &token, Some(&e), draft, Vec::new()).await
        }
    }
}

/// The feedback form.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
#[schema(example = json!({"text": "Kanelbullen var färsk och kaffet varmt, men kön vid kassan var lång vid lunch."}))]
pub(super) struct FeedbackForm {
    /// 20 to 5000 characters.
    text: String,
}

/// `POST /q/{token}/feedback`.
#[utoipa::path(post, path = "/q/{token}/feedback", tag = "pages", operation_id = "customer_page_feedback", summary = "Give feedback on the page", description = "The page's feedback form; the answer shows the score and reward.", params(("token" = String, Path, description = "The QR token (43 characters of base64url); anything else is the not-found page.", example = "q7Xc2mVt9LkPz4RbN8sWjH1yFgD6eA0uTnK3oIvYbQE")),
    request_body(content = FeedbackForm, content_type = "application/x-www-form-urlencoded"),
    responses(FormAnswers))]
pub(super) async fn feedback(node: web::Data<NodeHandle>, req: HttpRequest, token: web::Path<String>, form: web::Form<FeedbackForm>) -> HttpResponse {
    let token = match form_start(&req, &token) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let Some(id) = session_cookie(&req) else { return see_page(&token, Vec::new()) };
    let result = match FeedbackText::new(&form.text) {
        Ok(text) => node.give_feedback(id, text).await.map_err(ApiError::from),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(_) => see_page(&token, Vec::new()),
        Err(e) => render(&node, &req, &token, Some(&e), Draft { text: form.into_inner().text, ..Draft::default() }, Vec::new()).await,
    }
}

/// The payee form: who the customer's Swish payouts go to.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
#[schema(example = json!({"swish_number": "070-123 45 67", "personnummer": "19900101-0017"}))]
pub(super) struct PayeeForm {
    /// A Swedish mobile number in any common spelling.
    swish_number: String,
    /// `YYYYMMDD-NNNN` or `YYMMDD-NNNN`.
    personnummer: String,
}

/// `POST /q/{token}/payee`: the reward page's payee form (`PUT /v1/wallet/payee` for browsers).
///
/// Sealed and kept in the wallet of the device the `svea_device` cookie stands for; the page
/// comes back without the numbers typed.
#[utoipa::path(post, path = "/q/{token}/payee", tag = "pages", operation_id = "customer_page_payee", summary = "Give the Swish payee on the page",
    description = "The reward page's payee form (what `PUT /v1/wallet/payee` does, for browsers): the Swish number and personnummer, sealed and kept in the wallet of the device the `svea_device` cookie stands for; the page comes back without the numbers typed.", params(("token" = String, Path, description = "The QR token (43 characters of base64url); anything else is the not-found page.", example = "q7Xc2mVt9LkPz4RbN8sWjH1yFgD6eA0uTnK3oIvYbQE")),
    request_body(content = PayeeForm, content_type = "application/x-www-form-urlencoded"),
    responses(FormAnswers))]
pub(super) async fn payee(node: web::Data<NodeHandle>, req: HttpRequest, token: web::Path<String>, form: web::Form<PayeeForm>) -> HttpResponse {
    let token = match form_start(&req, &token) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let Some(device) = device_cookie(&node, &req) else { return see_page(&token, Vec::new()) };
    let today = crate::domain::day::swedish_day(Utc::now());
    let result = match crate::domain::payee::Payee::parse(&form.swish_number, &form.personnummer, today) {
        Ok(payee) => node.save_payee(&device, &payee).await.map(|_| ()).map_err(ApiError::from),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => see_page(&token, Vec::new()),
        Err(e) => render(&node, &req, &token, Some(&e), Draft::default(), Vec::new()).await,
    }
}

#[cfg(test)]
mod tests;
