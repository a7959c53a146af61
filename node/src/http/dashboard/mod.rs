//! The business dashboard at `/business`: server-rendered pages (maud) that work as plain HTML
//! forms and links, with a small script on top. A business signs in with its API key; the
//! pages then show its per-day charts (Europe/Stockholm days, inline SVG), the tier
//! distribution, the budget and what is left, its feedback list (newest first, search, "older"
//! by cursor, CSV export), its locations' QR codes and posters, key rotation and the till
//! integration. Every read and change goes through the same `NodeHandle` calls as the JSON API
//! (`http::feedback`, `http::qr`, `http::pos`'s core calls), checked by the same
//! `http::auth::authorize_key`.
//!
//! - `GET /business`: the sign-in form, or the dashboard (`?q=`, `?cursor=`, `?lang=`).
//! - `POST /business/sign-in` (`api_key`): a valid key sets the sign-in cookie and `303`s back;
//!   a wrong one answers the form again, `401`, with the error in words.
//! - `POST /business/sign-out`, `/rotate` (answers the dashboard with the new key, shown once),
//!   `/verification` (`purchase_verification`), `/till` (`provider`, `account`, `secret`,
//!   `notification_url`, `default_location_id`).
//! - `POST /business/held/{session}` (`decision`: `release` or `refuse`): the business's review of
//!   a reward its hourly brake held, as `POST /v1/businesses/{id}/held/{session}` does.
//! - `GET /business/feedback.csv?q=` and `/business/locations/{lid}/{qr.svg|qr.png|poster}`:
//!   the JSON API's export and QR answers, for the signed-in business.
//!
//! The sign-in cookie ([`SIGNIN_COOKIE`]) holds the API key: `HttpOnly` (no script reads it),
//! `SameSite=Strict` (no other site's request carries it), `Secure` when the public side is HTTPS,
//! `Path=/business`, and it lasts `dashboard.signin_hours`. The key is checked on every request,
//! so a rotated key signs every other browser out at once; the key never appears in a URL.
//! Every form post is refused when its `Origin`/`Referer` names another site (the customer
//! page's check, [`crate::http::page::same_origin`]).

mod texts;
pub(in crate::http) mod top_up;
mod view;

pub use top_up::{TOP_UP_CANCELLED, TOP_UP_DONE};

use std::collections::BTreeMap;

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::auth::{authorize_key, Authorized};
use super::error::{kind_of, status_for, ApiError};
use super::feedback::{list_query, search, series, FeedbackQueryIn};
use super::page::{html, lang_cookie, lang_of, same_origin, secure};
use super::qr::{location_asset, LocationAsset};
use crate::actors::ActorError;
use crate::core::feedback::{FeedbackPage, FeedbackQuery};
use crate::core::NodeHandle;
use crate::domain::pos::{PosId, PosIntegration, Provider, PurchaseVerification};
use crate::domain::{ApiKey, LocationId};
use texts::Texts;
pub use view::BASE;

/// Whether `path` is one of the dashboard's (its pages answer a rate limit with a page).
pub fn is_dashboard_path(path: &str) -> bool {
    path == BASE || path.strip_prefix(BASE).is_some_and(|rest| rest.starts_with('/'))
}

/// The sign-in cookie of an API key (path `/business`).
pub const SIGNIN_COOKIE: &str = "svea_business";
/// The session cookie of a business signed in by e-mail (path `/business`): the session id and
/// its HMAC tag (`domain::signin::WebSession`); the session itself is a replicated record.
pub const SESSION_COOKIE: &str = "svea_session";

fn cookie_hours(node: &NodeHandle) -> i64 {
    i64::try_from(node.config().dashboard.signin.as_secs() / 3600).unwrap_or(1).max(1)
}

/// The session cookie: `HttpOnly`, `SameSite=Strict`, `Secure` over HTTPS, `Path=/business`,
/// lasting `dashboard.signin_hours` (the session record expires with it).
pub(in crate::http) fn session_cookie(node: &NodeHandle, req: &HttpRequest, value: String) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path(BASE)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure(node, req))
        .max_age(time::Duration::hours(cookie_hours(node)))
        .finish()
}

fn session_removal(node: &NodeHandle, req: &HttpRequest) -> Cookie<'static> {
    let mut c = session_cookie(node, req, String::new());
    c.make_removal();
    c
}

fn signin_cookie(node: &NodeHandle, req: &HttpRequest, key: &str) -> Cookie<'static> {
    let hours = cookie_hours(node);
    Cookie::build(SIGNIN_COOKIE, key.to_owned())
        .path(BASE)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure(node, req))
        .max_age(time::Duration::hours(hours))
        .finish()
}

fn signout_cookie(node: &NodeHandle, req: &HttpRequest) -> Cookie<'static> {
    let mut c = signin_cookie(node, req, "");
    c.make_removal();
    c
}

/// `303` to `location`, with `cookies`.
fn see(location: &str, cookies: Vec<Cookie<'static>>) -> HttpResponse {
    let mut b = HttpResponse::SeeOther();
    b.insert_header((header::LOCATION, location.to_owned()));
    for c in cookies {
        b.cookie(c);
    }
    b.finish()
}

/// What the sign-in cookie says.
enum SignedIn {
    /// No cookie (or not a key): the sign-in form.
    No,
    /// A key that is no longer the business's (rotated elsewhere): signed out.
    Stale,
    /// The business, checked against its current key.
    Yes(Box<Authorized>),
}

async fn signed_in(node: &NodeHandle, req: &HttpRequest) -> Result<SignedIn, ApiError> {
    // A session cookie first: its tag is checked before any lookup (a forged or altered one is
    // no sign-in at all), then its record with the business actor (ended on every node at
    // sign-out).
    if let Some(c) = req.cookie(SESSION_COOKIE).filter(|c| !c.value().is_empty()) {
        let Some(session) = node.session_from_cookie(c.value()) else { return Ok(SignedIn::No) };
        return match node.session_business(&session).await? {
            Some(business) => Ok(SignedIn::Yes(Box::new(Authorized { business, key: None }))),
            None => Ok(SignedIn::Stale),
        };
    }
    let Some(key) = req.cookie(SIGNIN_COOKIE).and_then(|c| c.value().parse::<ApiKey>().ok()) else { return Ok(SignedIn::No) };
    let id = key.business().to_string();
    match authorize_key(node, key, &id).await {
        Ok(a) => Ok(SignedIn::Yes(Box::new(a))),
        Err(ApiError::BusinessUnauthorized(_) | ApiError::Actor(ActorError::NotFound { .. })) => Ok(SignedIn::Stale),
        Err(e) => Err(e),
    }
}

/// The status a page shows an error with: the API's, except a server fault, which is a `503`
/// "try again" (and is logged).
fn page_status(e: &ApiError) -> StatusCode {
    let status = status_for(e);
    if status.is_server_error() {
        tracing::error!(error = %e, "business dashboard request failed");
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    status
}

/// The error in words: a cross-site form and server faults get a sentence of the page's
/// language; other client errors say what was wrong (the API's detail).
fn error_text(t: &Texts, e: &ApiError) -> String {
    if kind_of(e) == "cross-site-form" {
        return t.cross_site.to_owned();
    }
    if status_for(e).is_server_error() {
        return t.error_default.to_owned();
    }
    if let Some(words) = t.problem(kind_of(e)) {
        return words.to_owned();
    }
    e.to_string()
}

/// The sign-in page with `error` or `notice` (the e-mail sign-in's answers).
pub(in crate::http) fn sign_in_answer(req: &HttpRequest, status: StatusCode, error: Option<&str>, notice: Option<&str>) -> HttpResponse {
    sign_in_page(req, status, error, notice, Vec::new())
}

/// "If the address is registered, a link is on its way", in `lang`.
pub(in crate::http) fn link_sent_text(lang: super::page::Lang) -> &'static str {
    Texts::of(lang).link_sent
}

fn sign_in_page(req: &HttpRequest, status: StatusCode, error: Option<&str>, notice: Option<&str>, cookies: Vec<Cookie<'static>>) -> HttpResponse {
    html(status, view::sign_in(lang_of(req), error, notice), cookies)
}

/// The page for a signed-out browser: the form, with a note when its key went stale.
fn signed_out(node: &NodeHandle, req: &HttpRequest, stale: bool) -> HttpResponse {
    let t = Texts::of(lang_of(req));
    let mut cookies: Vec<Cookie<'static>> = lang_cookie(node, req).into_iter().collect();
    let notice = if stale {
        let by_session = req.cookie(SESSION_COOKIE).is_some_and(|c| !c.value().is_empty());
        cookies.push(signout_cookie(node, req));
        cookies.push(session_removal(node, req));
        Some(if by_session { t.session_ended } else { t.signed_out_key_changed })
    } else {
        None
    };
    sign_in_page(req, StatusCode::OK, None, notice, cookies)
}

/// A form post or a download without a (current) sign-in: the sign-in form with 401, as the
/// documents say (a redirect would answer a download with a page, and hide the refusal).
fn not_signed_in(node: &NodeHandle, req: &HttpRequest, stale: bool) -> HttpResponse {
    let mut resp = signed_out(node, req, stale);
    *resp.status_mut() = StatusCode::UNAUTHORIZED;
    resp
}

/// `?q=&cursor=&saved=&lang=` of the dashboard.
#[derive(Debug, Default, Deserialize)]
struct ShowQuery {
    q: Option<String>,
    cursor: Option<String>,
    saved: Option<String>,
}

/// Everything a render of the dashboard may add to the business and its query.
#[derive(Default)]
struct Extra {
    new_key: Option<String>,
    notice: Option<&'static str>,
    error: Option<ApiError>,
    cookies: Vec<Cookie<'static>>,
}

async fn render(node: &NodeHandle, req: &HttpRequest, auth: &Authorized, q: &ShowQuery, extra: Extra) -> HttpResponse {
    let lang = lang_of(req);
    let t = Texts::of(lang);
    let b = &auth.business;
    let mut error = extra.error;
    let asked = FeedbackQueryIn { cursor: q.cursor.clone(), limit: None, q: q.q.clone() };
    let query = list_query(node, &asked).unwrap_or_else(|e| {
        error.get_or_insert(e);
        let c = &node.config().dashboard;
        FeedbackQuery { after: None, limit: c.feedback_page_len, search: None, scan_max: c.feedback_scan_max }
    });
    let paged = query.after.is_some();
    let page = match node.feedback_page(&b.id, query).await {
        Ok(p) => p,
        Err(e) => {
            error.get_or_insert(e.into());
            FeedbackPage { items: Vec::new(), next: None }
        }
    };
    let held = match node.held_rewards(&b.id).await {
        Ok(h) => h,
        Err(e) => {
            error.get_or_insert(e.into());
            crate::core::review::HeldPage { items: Vec::new(), more: false }
        }
    };
    let days = series(b, node.config().dashboard.chart_days);
    let status = error.as_ref().map_or(StatusCode::OK, page_status);
    let error_text = error.as_ref().map(|e| error_text(t, e));
    let public_url = node.config().node.public_url.trim_end_matches('/').to_owned();
    let locks = node.locked_receipts(&b.id).await.unwrap_or_else(|e| {
        error.get_or_insert(e.into());
        Vec::new()
    });
    let d = view::Dashboard {
        locks: &locks,
        lang,
        business: b,
        series: &days,
        page: &page,
        search: q.q.as_deref().unwrap_or(""),
        paged,
        new_key: extra.new_key.as_deref(),
        notice: extra.notice.or(q.saved.as_deref().map(|what| match what {
            "release" => t.released,
            "verified" => t.verified,
            "revoked" => t.key_revoked,
            "refuse" => t.refused,
            "location-added" => t.location_added,
            "location-renamed" => t.location_renamed,
            "location-removed" => t.location_removed,
            other => top_up::notice(lang, other).unwrap_or(t.saved),
        })),
        error: error_text.as_deref(),
        public_url: &public_url,
        held: &held,
        top_up: top_up::offer(node),
        daily_cap: node.daily_reward_cap(),
    };
    let mut cookies = extra.cookies;
    cookies.extend(lang_cookie(node, req));
    html(status, view::dashboard(&d), cookies)
}

/// `GET /business`.
#[utoipa::path(get, path = "/business", tag = "pages", operation_id = "dashboard", summary = "Show the business dashboard", description = "The signed-in business's dashboard (money, feedback, QR codes, settings), otherwise the sign-in form.", security((), ("business_dashboard" = [])),
    params(("q" = Option<String>, Query, description = "Search the feedback text (case-insensitive).", example = "kaffe"),
        ("cursor" = Option<String>, Query, description = "An older page: the `Äldre` link's cursor.", example = "MTc2NDY0ODAwMDAwMF9zXzVkN2Y5YjFj"),
        ("lang" = Option<String>, Query, description = "`sv` (default) or `en`; remembered in a cookie.", example = "en")),
    responses((status = 200, description = "Signed in: charts per Swedish day, tiers, budget, the feedback list, QR posters, key and till settings. Otherwise the sign-in form.", content_type = "text/html; charset=utf-8", body = String),
        (status = 429, description = "The rate-limit page.", content_type = "text/html; charset=utf-8", body = String, headers(("Retry-After" = u64, description = "Whole seconds."))),
        (status = 503, description = "The try-again page.", content_type = "text/html; charset=utf-8", body = String)))]
pub(in crate::http) async fn show(node: web::Data<NodeHandle>, req: HttpRequest) -> HttpResponse {
    let q = web::Query::<ShowQuery>::from_query(req.query_string()).map(web::Query::into_inner).unwrap_or_default();
    match signed_in(&node, &req).await {
        Ok(SignedIn::Yes(auth)) => render(&node, &req, &auth, &q, Extra::default()).await,
        Ok(SignedIn::No) => signed_out(&node, &req, false),
        Ok(SignedIn::Stale) => signed_out(&node, &req, true),
        Err(e) => {
            let t = Texts::of(lang_of(&req));
            sign_in_page(&req, page_status(&e), Some(&error_text(t, &e)), None, Vec::new())
        }
    }
}

/// What every dashboard form post checks first: a same-site form from a signed-in browser.
/// `Err` is the answer to give instead.
async fn form_start(node: &NodeHandle, req: &HttpRequest) -> Result<Authorized, HttpResponse> {
    let t = Texts::of(lang_of(req));
    if let Err(e) = same_origin(req) {
        return Err(sign_in_page(req, status_for(&e), Some(t.cross_site), None, Vec::new()));
    }
    match signed_in(node, req).await {
        Ok(SignedIn::Yes(auth)) => Ok(*auth),
        Ok(SignedIn::No) => Err(not_signed_in(node, req, false)),
        Ok(SignedIn::Stale) => Err(not_signed_in(node, req, true)),
        Err(e) => Err(sign_in_page(req, page_status(&e), Some(&error_text(t, &e)), None, Vec::new())),
    }
}

/// The sign-in form.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
#[schema(example = json!({"api_key": "svea_sk_b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e_Zq8x3RkP0vLm5NcT7wYb2HsJ9dFgA4uE"}))]
pub(in crate::http) struct SignInForm {
    api_key: String,
}

/// `POST /business/sign-in`.
#[utoipa::path(post, path = "/business/sign-in", tag = "pages", operation_id = "dashboard_sign_in", summary = "Sign in to the dashboard", description = "Checks the business's API key and sets the dashboard's sign-in cookie.",
    request_body(content = SignInForm, content_type = "application/x-www-form-urlencoded"), responses(DashboardAnswers))]
pub(in crate::http) async fn sign_in(node: web::Data<NodeHandle>, req: HttpRequest, form: web::Form<SignInForm>) -> HttpResponse {
    let t = Texts::of(lang_of(&req));
    if let Err(e) = same_origin(&req) {
        return sign_in_page(&req, status_for(&e), Some(t.cross_site), None, Vec::new());
    }
    let wrong = || sign_in_page(&req, StatusCode::UNAUTHORIZED, Some(t.wrong_key), None, Vec::new());
    let Ok(key) = form.api_key.trim().parse::<ApiKey>() else { return wrong() };
    let id = key.business().to_string();
    match authorize_key(&node, key.clone(), &id).await {
        Ok(_) => see(BASE, vec![signin_cookie(&node, &req, key.reveal())]),
        Err(ApiError::BusinessUnauthorized(_) | ApiError::Actor(ActorError::NotFound { .. })) => wrong(),
        Err(e) => sign_in_page(&req, page_status(&e), Some(&error_text(t, &e)), None, Vec::new()),
    }
}

/// `POST /business/sign-out`.
#[utoipa::path(post, path = "/business/sign-out", tag = "pages", operation_id = "dashboard_sign_out", summary = "Sign out of the dashboard", description = "Ends the browser's session on every node and clears the sign-in cookies. The form may carry `everywhere=1`: every session of the business ends (\"sign out everywhere\"); an empty post signs this browser out.", security((), ("business_dashboard" = [])),
    responses(DashboardAnswers))]
pub(in crate::http) async fn sign_out(node: web::Data<NodeHandle>, req: HttpRequest, form: Option<web::Form<SignOutForm>>) -> HttpResponse {
    let t = Texts::of(lang_of(&req));
    if let Err(e) = same_origin(&req) {
        return sign_in_page(&req, status_for(&e), Some(t.cross_site), None, Vec::new());
    }
    let everywhere = form.is_some_and(|f| f.everywhere == "1");
    if let Some(session) = req.cookie(SESSION_COOKIE).and_then(|c| node.session_from_cookie(c.value())) {
        // The record goes (through Raft): every node refuses the cookie from now on.
        if let Err(e) = node.end_session(&session, everywhere).await {
            let e = ApiError::from(e);
            return sign_in_page(&req, page_status(&e), Some(&error_text(t, &e)), None, Vec::new());
        }
    }
    see(BASE, vec![signout_cookie(&node, &req), session_removal(&node, &req)])
}

/// The sign-out form: `everywhere=1` ends every session of the business.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
#[schema(example = json!({"everywhere": "1"}))]
pub(in crate::http) struct SignOutForm {
    /// `1`: every browser of the business, not only this one.
    everywhere: String,
}

/// `POST /business/rotate`: a new key, shown once in the answer (not a redirect: it is never
/// stored anywhere it could be shown again); this browser stays signed in with it.
#[utoipa::path(post, path = "/business/rotate", tag = "pages", operation_id = "dashboard_rotate_key", summary = "Rotate the key from the dashboard", description = "Issues a new API key, shown once in the answer; this browser stays signed in with it.", security(("business_dashboard" = [])),
    responses(DashboardAnswers))]
pub(in crate::http) async fn rotate(node: web::Data<NodeHandle>, req: HttpRequest) -> HttpResponse {
    let auth = match form_start(&node, &req).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let presented = auth.key.as_ref().map_or(auth.business.key_hash, ApiKey::hash);
    match node.rotate_key(auth.business.id.clone(), presented).await {
        Ok(Some((business, key))) => {
            // A browser signed in with the key follows it to the new one; a session stays a session.
            let cookies = if auth.key.is_some() { vec![signin_cookie(&node, &req, key.reveal())] } else { Vec::new() };
            let auth = Authorized { business, key: auth.key.as_ref().map(|_| key.clone()) };
            let extra = Extra { new_key: Some(key.reveal().to_owned()), cookies, ..Extra::default() };
            render(&node, &req, &auth, &ShowQuery::default(), extra).await
        }
        Ok(None) => signed_out(&node, &req, true),
        Err(e) => render(&node, &req, &auth, &ShowQuery::default(), Extra { error: Some(e.into()), ..Extra::default() }).await,
    }
}

/// `POST /business/keys`: one more API key (for a till or a script), shown once in the answer.
#[utoipa::path(post, path = "/business/keys", tag = "pages", operation_id = "dashboard_create_key", summary = "Create an API key", description = "Creates one more API key beside the business's others, shown once in the answer; listed by its prefix and date from then on.", security(("business_dashboard" = [])),
    responses(DashboardAnswers))]
pub(in crate::http) async fn create_key(node: web::Data<NodeHandle>, req: HttpRequest) -> HttpResponse {
    let auth = match form_start(&node, &req).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let t = Texts::of(lang_of(&req));
    match node.create_key(auth.business.id.clone()).await {
        Ok(Some((business, key))) => {
            let auth = Authorized { business, key: auth.key };
            render(&node, &req, &auth, &ShowQuery::default(), Extra { new_key: Some(key.reveal().to_owned()), ..Extra::default() }).await
        }
        Ok(None) => render(&node, &req, &auth, &ShowQuery::default(), Extra { notice: Some(t.keys_full), ..Extra::default() }).await,
        Err(e) => render(&node, &req, &auth, &ShowQuery::default(), Extra { error: Some(e.into()), ..Extra::default() }).await,
    }
}

/// The revoke form.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
#[schema(example = json!({"prefix": "svea_sk_b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e_Zq8x3R"}))]
pub(in crate::http) struct RevokeForm {
    /// The key's prefix, as listed.
    prefix: String,
}

/// `POST /business/keys/revoke`: the created key with this prefix stops working at once.
#[utoipa::path(post, path = "/business/keys/revoke", tag = "pages", operation_id = "dashboard_revoke_key", summary = "Revoke an API key", description = "Revokes a key created from the dashboard (named by its listed prefix): it stops working at once, on every node.", security(("business_dashboard" = [])),
    request_body(content = RevokeForm, content_type = "application/x-www-form-urlencoded"), responses(DashboardAnswers))]
pub(in crate::http) async fn revoke_key(node: web::Data<NodeHandle>, req: HttpRequest, form: web::Form<RevokeForm>) -> HttpResponse {
    let auth = match form_start(&node, &req).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    match node.revoke_key(auth.business.id.clone(), form.prefix.trim()).await {
        Ok(Some(_)) => see(&format!("{BASE}?saved=revoked#h-extra-keys"), Vec::new()),
        Ok(None) => {
            let missing = super::error::bad("no-such-key", "no key of this business has that prefix (revoked already?)");
            render(&node, &req, &auth, &ShowQuery::default(), Extra { error: Some(missing), ..Extra::default() }).await
        }
        Err(e) => render(&node, &req, &auth, &ShowQuery::default(), Extra { error: Some(e.into()), ..Extra::default() }).await,
    }
}

/// The verification form.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
#[schema(example = json!({"purchase_verification": "pos"}))]
pub(in crate::http) struct VerificationForm {
    purchase_verification: String,
}

/// `POST /business/verification`.
#[utoipa::path(post, path = "/business/verification", tag = "pages", operation_id = "dashboard_verification", summary = "Set purchase verification", description = "Chooses how customers prove their purchase: their own word or the till's report.", security(("business_dashboard" = [])),
    request_body(content = VerificationForm, content_type = "application/x-www-form-urlencoded"), responses(DashboardAnswers))]
pub(in crate::http) async fn verification(node: web::Data<NodeHandle>, req: HttpRequest, form: web::Form<VerificationForm>) -> HttpResponse {
    let auth = match form_start(&node, &req).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let result = match form.purchase_verification.parse::<PurchaseVerification>() {
        Ok(v) => node.set_purchase_verification(auth.business.id.clone(), v).await.map_err(ApiError::from),
        Err(e) => Err(ApiError::Pos(e)),
    };
    match result {
        Ok(_) => see(&format!("{BASE}?saved=verification#h-till"), Vec::new()),
        Err(e) => render(&node, &req, &auth, &ShowQuery::default(), Extra { error: Some(e), ..Extra::default() }).await,
    }
}

/// The till form.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
#[schema(example = json!({"provider": "zettle", "account": "lilla-torg-kassa-1", "secret": "whsec_9fK2mQ7vX1bN4cR8tY3uP6aL0dS5gH2j", "notification_url": "", "default_location_id": "l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a"}))]
pub(in crate::http) struct TillForm {
    provider: String,
    account: String,
    secret: String,
    notification_url: String,
    default_location_id: String,
}

fn integration(f: &TillForm) -> Result<PosIntegration, ApiError> {
    let provider: Provider = f.provider.parse().map_err(ApiError::Pos)?;
    let account = PosId::new(f.account.trim(), "account").map_err(ApiError::Pos)?;
    let url = Some(f.notification_url.trim().to_owned()).filter(|u| !u.is_empty());
    let default_location = match f.default_location_id.trim() {
        "" => None,
        raw => Some(raw.parse::<LocationId>().map_err(|_| ApiError::Pos(crate::domain::PosError::Invalid("location id is not valid".into())))?),
    };
    PosIntegration::new(provider, account, &f.secret, url, BTreeMap::new(), default_location).map_err(ApiError::Pos)
}

/// `POST /business/till`: registers (or replaces) the till integration, as
/// `PUT /v1/businesses/{id}/pos/{provider}` does.
#[utoipa::path(post, path = "/business/till", tag = "pages", operation_id = "dashboard_till", summary = "Register the till", description = "Registers (or replaces) the till integration, as `PUT /v1/businesses/{id}/pos/{provider}` does.", security(("business_dashboard" = [])),
    request_body(content = TillForm, content_type = "application/x-www-form-urlencoded"), responses(DashboardAnswers))]
pub(in crate::http) async fn till(node: web::Data<NodeHandle>, req: HttpRequest, form: web::Form<TillForm>) -> HttpResponse {
    let auth = match form_start(&node, &req).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let result = match integration(&form) {
        Ok(i) => match node.register_pos(auth.business.id.clone(), i).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(ApiError::Pos(e)),
            Err(e) => Err(e.into()),
        },
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => see(&format!("{BASE}?saved=till#h-till"), Vec::new()),
        Err(e) => render(&node, &req, &auth, &ShowQuery::default(), Extra { error: Some(e), ..Extra::default() }).await,
    }
}

/// The review form of a held reward.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
#[schema(example = json!({"decision": "release"}))]
pub(in crate::http) struct ReviewForm {
    /// `release` or `refuse`.
    decision: String,
}

/// `POST /business/held/{session}`: releases or refuses a held reward, as
/// `POST /v1/businesses/{id}/held/{session}` does.
#[utoipa::path(post, path = "/business/held/{session}", tag = "pages", operation_id = "dashboard_review_held", summary = "Decide a held reward", description = "Releases or refuses a reward the hourly brake held, as `POST /v1/businesses/{id}/held/{session}` does.", security(("business_dashboard" = [])),
    params(("session" = String, Path, description = "The session whose reward is held.", example = "s_5d7f9b1c3e2a4c6e8a0b1c2d3e4f5a6b")),
    request_body(content = ReviewForm, content_type = "application/x-www-form-urlencoded"), responses(DashboardAnswers))]
pub(in crate::http) async fn review(node: web::Data<NodeHandle>, req: HttpRequest, session: web::Path<String>, form: web::Form<ReviewForm>) -> HttpResponse {
    let auth = match form_start(&node, &req).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let result = match (super::held::parse_decision(&form.decision), super::held::parse_held_session(&session)) {
        (Ok(decision), Ok(session)) => node.review_held(auth.business.id.clone(), session, decision).await.map(|_| decision).map_err(ApiError::from),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    match result {
        Ok(decision) => see(&format!("{BASE}?saved={}#h-held", decision.as_str()), Vec::new()),
        Err(e) => render(&node, &req, &auth, &ShowQuery::default(), Extra { error: Some(e), ..Extra::default() }).await,
    }
}

/// The receipt the dashboard's release button names.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
#[schema(example = json!({"location_id": "l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a", "receipt": "147"}))]
pub(in crate::http) struct ReleaseForm {
    location_id: String,
    receipt: String,
}

/// `POST /business/release`: releases a receipt its mismatched tries locked, as
/// `POST /v1/businesses/{id}/pos/locks/release` does.
#[utoipa::path(post, path = "/business/release", tag = "pages", operation_id = "dashboard_release", summary = "Release a locked receipt", description = "Unlocks a receipt its mismatched tries locked, as `POST /v1/businesses/{id}/pos/locks/release` does.", security(("business_dashboard" = [])),
    request_body(content = ReleaseForm, content_type = "application/x-www-form-urlencoded"), responses(DashboardAnswers))]
pub(in crate::http) async fn release(node: web::Data<NodeHandle>, req: HttpRequest, form: web::Form<ReleaseForm>) -> HttpResponse {
    let auth = match form_start(&node, &req).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let location = form.location_id.parse::<LocationId>().map_err(|_| ApiError::Actor(ActorError::NotFound { what: crate::actors::Missing::Location, id: form.location_id.chars().take(64).collect() }));
    let receipt = form.receipt.parse::<crate::domain::TransactionId>().map_err(|e| ApiError::from(crate::domain::DomainError::from(e)));
    let result = match (location, receipt) {
        (Ok(l), Ok(r)) => node.release_receipt(auth.business.id.clone(), l, r).await.map_err(ApiError::from),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    match result {
        Ok(_) => see(&format!("{BASE}?saved=release#h-till"), Vec::new()),
        Err(e) => render(&node, &req, &auth, &ShowQuery::default(), Extra { error: Some(e), ..Extra::default() }).await,
    }
}

/// A form's answer: `303` to `done` (Post/Redirect/Get) when it worked, else the dashboard
/// again with the error in words.
async fn after_form<T>(node: &NodeHandle, req: &HttpRequest, auth: &Authorized, result: Result<T, ApiError>, done: &str) -> HttpResponse {
    match result {
        Ok(_) => see(done, Vec::new()),
        Err(e) => render(node, req, auth, &ShowQuery::default(), Extra { error: Some(e), ..Extra::default() }).await,
    }
}

/// The add-a-location form. Coordinates are optional: without them the new location takes the
/// business's first location's (they only choose the home region at sign-up).
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
#[schema(example = json!({"name": "Lilla Torg, uteserveringen", "lat": "55,6043", "lon": "12,9986"}))]
pub(in crate::http) struct AddLocationForm {
    /// 1 to 100 characters.
    name: String,
    /// Degrees, `55,6043` or `55.6043`; empty: the first location's.
    lat: String,
    /// Degrees; empty: the first location's.
    lon: String,
}

/// A coordinate as typed (decimal comma or point); `None` when left empty.
fn coordinate(raw: &str) -> Result<Option<f64>, ApiError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.replace(',', ".").parse::<f64>().map(Some).map_err(|_| super::error::bad("invalid-coordinates", format!("coordinate {:?} is not a number", raw.chars().take(20).collect::<String>())))
}

fn new_location(b: &crate::actors::business::Business, f: &AddLocationForm) -> Result<crate::domain::NewLocation, ApiError> {
    let first = b.locations.first();
    let lat = coordinate(&f.lat)?.or(first.map(|l| l.lat)).unwrap_or_default();
    let lon = coordinate(&f.lon)?.or(first.map(|l| l.lon)).unwrap_or_default();
    Ok(crate::domain::NewLocation::new(&f.name, lat, lon)?)
}

/// `POST /business/locations`: adds a location, as `POST /v1/businesses/{id}/locations` does.
#[utoipa::path(post, path = "/business/locations", tag = "pages", operation_id = "dashboard_add_location", summary = "Add a location", description = "Adds a location with its own QR code, as `POST /v1/businesses/{id}/locations` does.", security(("business_dashboard" = [])),
    request_body(content = AddLocationForm, content_type = "application/x-www-form-urlencoded"), responses(DashboardAnswers))]
pub(in crate::http) async fn add_location(node: web::Data<NodeHandle>, req: HttpRequest, form: web::Form<AddLocationForm>) -> HttpResponse {
    let auth = match form_start(&node, &req).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let result = match new_location(&auth.business, &form) {
        Ok(l) => node.add_location(auth.business.id.clone(), l).await.map_err(ApiError::from),
        Err(e) => Err(e),
    };
    after_form(&node, &req, &auth, result, &format!("{BASE}?saved=location-added#h-locations")).await
}

/// The rename form.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
#[schema(example = json!({"name": "Lilla Torg, uteserveringen"}))]
pub(in crate::http) struct RenameLocationForm {
    /// 1 to 100 characters.
    name: String,
}

/// The remove form: the box that confirms it.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
#[schema(example = json!({"confirm": "yes"}))]
pub(in crate::http) struct RemoveLocationForm {
    /// `yes`: the business ticked "remove, the QR code stops working".
    confirm: String,
}

/// `POST /business/locations/{lid}/rename`, as `PATCH /v1/businesses/{id}/locations/{lid}`.
#[utoipa::path(post, path = "/business/locations/{lid}/rename", tag = "pages", operation_id = "dashboard_rename_location", summary = "Rename a location", description = "Renames a location (its QR code keeps working), as `PATCH /v1/businesses/{id}/locations/{lid}` does.", security(("business_dashboard" = [])),
    params(("lid" = String, Path, description = "The location id.", example = "l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a")),
    request_body(content = RenameLocationForm, content_type = "application/x-www-form-urlencoded"), responses(DashboardAnswers))]
pub(in crate::http) async fn rename_location(node: web::Data<NodeHandle>, req: HttpRequest, lid: web::Path<String>, form: web::Form<RenameLocationForm>) -> HttpResponse {
    let auth = match form_start(&node, &req).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let result = match super::locations::location_id(&lid) {
        Ok(lid) => node.rename_location(auth.business.id.clone(), lid, &form.name).await.map_err(ApiError::from),
        Err(e) => Err(e),
    };
    after_form(&node, &req, &auth, result, &format!("{BASE}?saved=location-renamed#h-locations")).await
}

/// `POST /business/locations/{lid}/remove` (`confirm=yes`), as `DELETE /v1/businesses/{id}/locations/{lid}`.
#[utoipa::path(post, path = "/business/locations/{lid}/remove", tag = "pages", operation_id = "dashboard_remove_location", summary = "Remove a location", description = "Removes a location once confirmed (`confirm=yes`): its QR code stops working, as `DELETE /v1/businesses/{id}/locations/{lid}` does.", security(("business_dashboard" = [])),
    params(("lid" = String, Path, description = "The location id.", example = "l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a")),
    request_body(content = RemoveLocationForm, content_type = "application/x-www-form-urlencoded"), responses(DashboardAnswers))]
pub(in crate::http) async fn remove_location(node: web::Data<NodeHandle>, req: HttpRequest, lid: web::Path<String>, form: web::Form<RemoveLocationForm>) -> HttpResponse {
    let auth = match form_start(&node, &req).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let result = match (super::locations::location_id(&lid), form.confirm.as_str()) {
        (Ok(lid), "yes") => node.remove_location(auth.business.id.clone(), lid).await.map_err(ApiError::from),
        (Ok(_), _) => Err(super::error::bad("confirm-removal", "tick the box to confirm the removal")),
        (Err(e), _) => Err(e),
    };
    after_form(&node, &req, &auth, result, &format!("{BASE}?saved=location-removed#h-locations")).await
}

/// The reward percentages form (`5`, `5,5`, `5.50`).
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
#[schema(example = json!({"low": "2", "mid": "5", "high": "8", "daily_budget": "500"}))]
pub(in crate::http) struct RewardsForm {
    low: String,
    mid: String,
    high: String,
    /// The daily reward budget in kronor; empty: unchanged.
    daily_budget: String,
}

/// `POST /business/rewards`: the reward percentages and the daily reward budget, as `PATCH
/// /v1/businesses/{id}/settings` with `reward_percentages` and `daily_budget_sek` does (each
/// percentage 0 to 100, no tier below the one under it; the budget 1 kr to the cluster's cap).
#[utoipa::path(post, path = "/business/rewards", tag = "pages", operation_id = "dashboard_rewards", summary = "Set the reward percentages", description = "Sets the cashback per tier (0 to 100 %, increasing) and the daily reward budget, as `PATCH /v1/businesses/{id}/settings` does.", security(("business_dashboard" = [])),
    request_body(content = RewardsForm, content_type = "application/x-www-form-urlencoded"), responses(DashboardAnswers))]
pub(in crate::http) async fn rewards(node: web::Data<NodeHandle>, req: HttpRequest, form: web::Form<RewardsForm>) -> HttpResponse {
    let auth = match form_start(&node, &req).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let f = form.into_inner();
    let asked = super::api::PercentagesIn { low: f.low, mid: f.mid, high: f.high };
    // Both checked before either is written.
    let budget = match f.daily_budget.trim() {
        "" => Ok(None),
        raw => super::pos::daily_budget(&node, raw).map(Some),
    };
    let result = match (asked.basis_points(), budget) {
        (Ok(bp), Ok(budget)) => {
            let set = node.set_reward_percentages(auth.business.id.clone(), bp).await.map_err(ApiError::from);
            match (set, budget) {
                (Ok(_), Some(b)) => node.set_daily_budget(auth.business.id.clone(), b).await.map_err(ApiError::from),
                (set, _) => set,
            }
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    after_form(&node, &req, &auth, result, &format!("{BASE}?saved=rewards#h-rewards")).await
}

/// The signed-in business for a download (`None`: back to the sign-in page).
async fn download_start(node: &NodeHandle, req: &HttpRequest) -> Result<Authorized, HttpResponse> {
    match signed_in(node, req).await {
        Ok(SignedIn::Yes(a)) => Ok(*a),
        Ok(SignedIn::No) => Err(not_signed_in(node, req, false)),
        Ok(SignedIn::Stale) => Err(not_signed_in(node, req, true)),
        Err(e) => Err(error_page(&e, req)),
    }
}

/// `?q=` of the export.
#[derive(Debug, Default, Deserialize)]
struct ExportQuery {
    q: Option<String>,
}

/// `GET /business/feedback.csv`.
#[utoipa::path(get, path = "/business/feedback.csv", tag = "pages", operation_id = "dashboard_export", summary = "Download feedback as CSV", description = "The signed-in business's feedback as CSV, as `GET /v1/businesses/{id}/feedback.csv`.", security(("business_dashboard" = [])),
    params(("q" = Option<String>, Query, description = "Only feedback whose text contains this (case-insensitive).", example = "kaffe")),
    responses((status = 200, description = "The feedback as CSV (as `GET /v1/businesses/{id}/feedback.csv`).", content_type = "text/csv; charset=utf-8", body = String,
            example = "given_at,given_at_local,session_id,location_id,location,score,score_source,tier,reward_sek,text\n"),
        (status = 401, description = "The sign-in form: not signed in.", content_type = "text/html; charset=utf-8", body = String),
        (status = 429, description = "The rate-limit page.", content_type = "text/html; charset=utf-8", body = String, headers(("Retry-After" = u64, description = "Whole seconds.")))))]
pub(in crate::http) async fn export(node: web::Data<NodeHandle>, req: HttpRequest) -> HttpResponse {
    let auth = match download_start(&node, &req).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let q = web::Query::<ExportQuery>::from_query(req.query_string()).map(web::Query::into_inner).unwrap_or_default();
    match search(&node, q.q.as_deref()) {
        Ok(s) => super::feedback::csv_response(node.get_ref().clone(), auth.business.id, s),
        Err(e) => error_page(&e, &req),
    }
}

/// `GET /business/locations/{lid}/{qr.svg|qr.png|poster}`.
#[utoipa::path(get, path = "/business/locations/{lid}/{asset}", tag = "pages", operation_id = "dashboard_location_asset", summary = "Download a location's QR code", description = "A location's QR code as SVG or PNG, or its printable poster.", security(("business_dashboard" = [])),
    params(("lid" = String, Path, description = "The location id.", example = "l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a"),
        ("asset" = String, Path, pattern = "^(qr\\.svg|qr\\.png|poster)$", description = "`qr.svg`, `qr.png` or `poster`.", example = "poster")),
    responses((status = 200, description = "The location's QR code (SVG or PNG) or its printable A6 poster (HTML).",
            content((String = "image/svg+xml"), (String = "image/png"), (String = "text/html; charset=utf-8"))),
        (status = 401, description = "The sign-in form: not signed in.", content_type = "text/html; charset=utf-8", body = String),
        (status = 404, description = "No such location or asset.", content_type = "text/html; charset=utf-8", body = String),
        (status = 429, description = "The rate-limit page.", content_type = "text/html; charset=utf-8", body = String, headers(("Retry-After" = u64, description = "Whole seconds.")))))]
pub(in crate::http) async fn location(node: web::Data<NodeHandle>, req: HttpRequest, path: web::Path<(String, String)>) -> HttpResponse {
    let auth = match download_start(&node, &req).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let (lid, asset) = path.into_inner();
    let asset = match asset.as_str() {
        "qr.svg" => LocationAsset::Svg,
        "qr.png" => LocationAsset::Png,
        "poster" => LocationAsset::Poster,
        _ => return error_page(&ApiError::NoRoute { method: "GET".into(), path: req.path().chars().take(200).collect() }, &req),
    };
    location_asset(&node, &auth.business, &lid, asset).unwrap_or_else(|e| error_page(&e, &req))
}

/// What a dashboard form post answers (`POST /business/...`), for the OpenAPI document.
#[derive(utoipa::IntoResponses)]
pub enum DashboardAnswers {
    /// Done.
    #[response(status = 303, description = "Done: back to the dashboard (Post/Redirect/Get), or the dashboard itself with what changed (a rotated key is shown once).",
            headers(("Location" = String, description = "`/business`"), ("Set-Cookie" = String, description = "`svea_business` when signing in, out or rotating.")))]
    Done,
    /// The page.
    #[response(status = 200, description = "The dashboard with the result on top (the new key after a rotation, shown this once).", content_type = "text/html; charset=utf-8")]
    Page(String),
    /// Refused.
    #[response(status = 400, description = "The page with the problem in words: posted from another site (`cross-site-form`) or a field not valid.", content_type = "text/html; charset=utf-8")]
    Refused(String),
    /// Not signed in.
    #[response(status = 401, description = "The sign-in form: no key, a wrong key, or a key rotated since.", content_type = "text/html; charset=utf-8")]
    SignIn(String),
    /// Invalid.
    #[response(status = 422, description = "The dashboard again with the problem in words (a till secret too short, an unknown provider).", content_type = "text/html; charset=utf-8")]
    Invalid(String),
    /// RateLimited.
    #[response(status = 429, description = "The rate-limit page.", content_type = "text/html; charset=utf-8", headers(("Retry-After" = u64, description = "Whole seconds.")))]
    RateLimited(String),
    /// TryAgain.
    #[response(status = 503, description = "The try-again page (busy, unavailable, maintenance).", content_type = "text/html; charset=utf-8")]
    TryAgain(String),
}

/// An error as a dashboard page: the sign-in page's layout with the error in words.
fn error_page(e: &ApiError, req: &HttpRequest) -> HttpResponse {
    let t = Texts::of(lang_of(req));
    sign_in_page(req, page_status(e), Some(&error_text(t, e)), None, Vec::new())
}


/// `?month=` of the dashboard's statement.
#[derive(Debug, Default, Deserialize)]
struct MonthQuery {
    month: Option<String>,
    format: Option<String>,
}

/// `GET /business/statement`: the signed-in business's monthly statement, printable
/// (`?format=csv` for the CSV), this month unless `?month=YYYY-MM`.
#[utoipa::path(get, path = "/business/statement", tag = "pages", operation_id = "dashboard_statement", summary = "Show the monthly statement", description = "The signed-in business's monthly statement, printable, or as CSV with `format=csv`.", security(("business_dashboard" = [])),
    params(("month" = Option<String>, Query, description = "`YYYY-MM`, Swedish time; this month when absent.", example = "2026-03"),
        ("format" = Option<String>, Query, description = "`csv` for the CSV (as `GET /v1/businesses/{id}/statement.csv`).", example = "csv")),
    responses((status = 200, description = "The month's statement: a printable page, or CSV with `?format=csv`.", content_type = "text/html; charset=utf-8", body = String),
        (status = 401, description = "The sign-in form: not signed in.", content_type = "text/html; charset=utf-8", body = String),
        (status = 400, description = "The sign-in page with the error: `invalid-month`.", content_type = "text/html; charset=utf-8", body = String),
        (status = 429, description = "The rate-limit page.", content_type = "text/html; charset=utf-8", body = String, headers(("Retry-After" = u64, description = "Whole seconds.")))))]
pub(in crate::http) async fn statement(node: web::Data<NodeHandle>, req: HttpRequest) -> HttpResponse {
    let auth = match download_start(&node, &req).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let q = web::Query::<MonthQuery>::from_query(req.query_string()).map(web::Query::into_inner).unwrap_or_default();
    let month_text = q.month.unwrap_or_else(|| crate::domain::day::swedish_local(chrono::Utc::now()).format("%Y-%m").to_string());
    let Some(month) = crate::core::statement::Month::parse(&month_text) else {
        return error_page(&super::error::bad("invalid-month", "month is not YYYY-MM"), &req);
    };
    match node.statement(&auth.business.id, month).await {
        Ok(s) if q.format.as_deref() == Some("csv") => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"svea-{}.csv\"", month.key())))
            .body(super::money::statement_csv(&s)),
        Ok(s) => HttpResponse::Ok().content_type("text/html; charset=utf-8").body(super::money::statement_html(&auth.business, &s).into_string()),
        Err(e) => error_page(&e.into(), &req),
    }
}
