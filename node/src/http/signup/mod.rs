//! A business signs itself up at `/` and signs in with its e-mail (issue 23).
//!
//! - `GET /`: what svea does, what it costs a business, how customers are paid, and the
//!   sign-up form (business name, organisationsnummer, contact e-mail, the first location's
//!   name, address and position). Plain HTML: the form works without script; the script
//!   (`assets/signup.js`) checks the organisationsnummer's check digit as it is typed, shows the
//!   region of the position as it changes, and offers "use my position".
//! - `POST /signup`: the form. With `preview=1` it only answers the form again with the region
//!   of the typed position (the server's answer for a browser without script). Otherwise every
//!   field is checked (the errors come back beside their fields, 422), the per-address sign-up
//!   bucket (`[signup]`) is taken, and the business is created through the same core call as
//!   `POST /v1/businesses` (`NodeHandle::create_business_from`) with the contact e-mail: the
//!   business actor stores the address and the verification link's hash in the same commit, and
//!   the node queues the verification mail.
//! - `GET /business/link?t=`: the mailed link's page, one button (a mail scanner fetching the
//!   link uses nothing up); `POST /business/link` follows it: single use, checked by the
//!   business actor, it confirms the address and the organisation number claim, starts a
//!   dashboard session (a replicated record) and sets its signed cookie, then `303 /business`.
//!   A used, unknown, expired or malformed link answers a page in words, 404.
//! - `POST /business/sign-in/email`: mails a sign-in link (15 minutes, single use) to each
//!   business whose contact address it is; the answer is the same whether there is one.
//!   Buckets per client address and per e-mail address (429 with `Retry-After`).
//!
//! The region a location lives in is `svea_geo::nearest_region` over the configured region
//! table: the rule business creation uses.

mod texts;
mod view;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::dashboard::{session_cookie, sign_in_answer};
use super::error::{kind_of, ApiError};
use super::page::{html, lang_cookie, lang_of, same_origin};
use super::ratelimit::{SigninLinkLimiter, SignupLimiter};
use crate::actors::{ActorError, ConflictKind};
use crate::core::signin::Followed;
use crate::core::NodeHandle;
use crate::domain::signin::{Email, LinkToken};
use crate::domain::{CreateBusiness, NewLocation, OrgNumber, OrgNumberError, Ore, RewardPolicy};
use texts::Texts;
use view::{FieldError, FormPage};

/// The sign-up form. Every field is text, so a browser without script posts what was typed
/// and gets it back with the errors.
#[derive(Debug, Deserialize, Default, Clone, utoipa::ToSchema)]
#[serde(default)]
#[schema(example = json!({"name": "Kafé Lilla Torget", "org_number": "556036-0793", "email": "anna@kafe.se", "location_name": "Lilla Torg", "address": "Lilla Torg 1, Malmö", "lat": "55.6046", "lon": "12.9996"}))]
pub struct SignupForm {
    /// The business's name.
    pub name: String,
    /// Its organisationsnummer, `NNNNNN-NNNN`.
    pub org_number: String,
    /// The contact e-mail (verification and sign-in links go there).
    pub email: String,
    /// The first location's name.
    pub location_name: String,
    /// Its street address.
    pub address: String,
    /// Its latitude, degrees.
    pub lat: String,
    /// Its longitude, degrees.
    pub lon: String,
    /// `1`: only show the region of the position (nothing is created).
    pub preview: String,
}

/// The region table for the script: `name lat lon` per region, `;` between.
fn regions_attr(node: &NodeHandle) -> String {
    node.config().regions.iter().map(|r| format!("{} {} {}", r.name.as_str(), r.lat, r.lon)).collect::<Vec<_>>().join(";")
}

/// The position typed, if it is one (a decimal comma accepted).
fn position(f: &SignupForm) -> Option<(f64, f64)> {
    let num = |s: &str| s.trim().replace(',', ".").parse::<f64>().ok().filter(|v| v.is_finite());
    let (lat, lon) = (num(&f.lat)?, num(&f.lon)?);
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lat, lon))
}

/// The region a position lives in: the rule business creation uses.
fn region_of(node: &NodeHandle, lat: f64, lon: f64) -> Option<String> {
    svea_geo::nearest_region(&node.config().regions, lat, lon, |_| true).map(|r| r.name.as_str().to_owned())
}

fn form_response(node: &NodeHandle, req: &HttpRequest, status: StatusCode, form: &SignupForm, errors: &[FieldError]) -> HttpResponse {
    let lang = lang_of(req);
    let region = position(form).and_then(|(lat, lon)| region_of(node, lat, lon));
    let page = FormPage {
        lang,
        form,
        errors,
        region: region.as_deref(),
        regions: regions_attr(node),
        payout_minimum: Ore::from_ore(node.config().payouts.minimum_ore),
    };
    html(status, view::form_page(&page), lang_cookie(node, req).into_iter().collect())
}

/// `GET /`.
#[utoipa::path(get, path = "/", tag = "pages", operation_id = "signup_page", summary = "Show the sign-up page",
    description = "What svea does, what it costs a business and how customers are paid, with the sign-up form.",
    params(("lang" = Option<String>, Query, description = "`sv` (default) or `en`; remembered in a cookie.", example = "en")),
    responses((status = 200, description = "The landing page with the sign-up form.", content_type = "text/html; charset=utf-8", body = String),
        (status = 429, description = "The rate-limit page.", content_type = "text/html; charset=utf-8", body = String, headers(("Retry-After" = u64, description = "Whole seconds.")))))]
pub(in crate::http) async fn landing(node: web::Data<NodeHandle>, req: HttpRequest) -> HttpResponse {
    form_response(&node, &req, StatusCode::OK, &SignupForm::default(), &[])
}

/// Every field checked; the request to create, or the errors in words.
fn check(t: &Texts, f: &SignupForm) -> Result<(CreateBusiness, Email), Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut err = |field: &'static str, text: &str| errors.push(FieldError { field, text: text.to_owned() });
    let required = [("name", &f.name), ("org_number", &f.org_number), ("email", &f.email), ("location_name", &f.location_name), ("lat", &f.lat), ("lon", &f.lon)];
    for (field, value) in required {
        if value.trim().is_empty() {
            err(field, t.missing);
        }
    }
    let org = match f.org_number.trim().parse::<OrgNumber>() {
        Ok(o) => Some(o),
        Err(OrgNumberError::CheckDigit { .. }) => {
            err("org_number", t.org_bad_digit);
            None
        }
        Err(_) if f.org_number.trim().is_empty() => None,
        Err(_) => {
            err("org_number", t.bad_org);
            None
        }
    };
    let email = match f.email.parse::<Email>() {
        Ok(e) => Some(e),
        Err(_) if f.email.trim().is_empty() => None,
        Err(_) => {
            err("email", t.bad_email);
            None
        }
    };
    let pos = position(f);
    if pos.is_none() && !f.lat.trim().is_empty() && !f.lon.trim().is_empty() {
        err("lat", t.bad_position);
    }
    let location = match pos {
        Some((lat, lon)) if !f.location_name.trim().is_empty() => match NewLocation::new(&f.location_name, lat, lon) {
            Ok(l) => match l.with_address(&f.address) {
                Ok(l) => Some(l),
                Err(_) => {
                    err("address", t.bad_address);
                    None
                }
            },
            Err(e) => {
                errors.push(FieldError { field: "location_name", text: e.to_string() });
                None
            }
        },
        _ => None,
    };
    if !f.name.trim().is_empty() && crate::domain::validate::validate_business_name(&f.name).is_err() {
        errors.push(FieldError { field: "name", text: t.bad_name.to_owned() });
    }
    match (org, email, location) {
        (Some(org), Some(email), Some(location)) if errors.is_empty() => match CreateBusiness::new(&f.name, org, vec![location], Ore::ZERO, RewardPolicy::default()) {
            Ok(c) => Ok((c.with_contact_email(email.clone()), email)),
            Err(e) => Err(vec![FieldError { field: "", text: e.to_string() }]),
        },
        _ => Err(errors),
    }
}

fn with_retry_after(mut resp: HttpResponse, seconds: u64) -> HttpResponse {
    if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// `POST /signup`.
#[utoipa::path(post, path = "/signup", tag = "pages", operation_id = "signup", summary = "Sign a business up",
    description = "Creates the business (as `POST /v1/businesses` does) with its contact e-mail, and mails a verification link that confirms the address and the organisation number. With `preview=1` only shows the region of the position.",
    request_body(content = SignupForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Created: the \"check your e-mail\" page, or (`preview=1`) the form with the region.", content_type = "text/html; charset=utf-8", body = String),
        (status = 400, description = "The form again: posted from another site.", content_type = "text/html; charset=utf-8", body = String),
        (status = 409, description = "The form again: the organisation number is registered already.", content_type = "text/html; charset=utf-8", body = String),
        (status = 422, description = "The form again with each error beside its field.", content_type = "text/html; charset=utf-8", body = String),
        (status = 429, description = "The form again: too many sign-ups from this address.", content_type = "text/html; charset=utf-8", body = String, headers(("Retry-After" = u64, description = "Whole seconds."))),
        (status = 503, description = "The form again: try again later (no mail on this node, busy, unavailable).", content_type = "text/html; charset=utf-8", body = String)))]
pub(in crate::http) async fn signup(node: web::Data<NodeHandle>, req: HttpRequest, limiter: Option<web::Data<SignupLimiter>>, form: web::Form<SignupForm>) -> HttpResponse {
    let t = Texts::of(lang_of(&req));
    let form = form.into_inner();
    let whole = |text: &str| vec![FieldError { field: "", text: text.to_owned() }];
    if same_origin(&req).is_err() {
        return form_response(&node, &req, StatusCode::BAD_REQUEST, &form, &whole(t.cross_site));
    }
    if form.preview == "1" {
        return form_response(&node, &req, StatusCode::OK, &form, &[]);
    }
    let (create, email) = match check(t, &form) {
        Ok(c) => c,
        Err(errors) => return form_response(&node, &req, StatusCode::UNPROCESSABLE_ENTITY, &form, &errors),
    };
    if !node.mail_on() {
        return form_response(&node, &req, StatusCode::SERVICE_UNAVAILABLE, &form, &whole(t.mail_off));
    }
    // Valid input only: a refused form writes nothing, so it costs no creation.
    if let Some(l) = &limiter {
        if let Err(ApiError::CreationLimited { retry_after_s }) = l.check(&req) {
            let resp = form_response(&node, &req, StatusCode::TOO_MANY_REQUESTS, &form, &whole(lang_of(&req).texts().rate_limited_text));
            return with_retry_after(resp, retry_after_s);
        }
    }
    match node.create_business_from(create, None).await {
        Ok((b, _key)) => {
            // The API key is not shown: the business signs in with its e-mail, and creates keys
            // for its tills from the dashboard.
            tracing::info!(business_id = %b.id, region = %b.home_region, "business signed up at /");
            let lang = lang_of(&req);
            let (sv, en) = crate::core::signin::life_in_words(node.config().signup.verify_link_ttl);
            let life = if lang == super::page::Lang::Sv { sv } else { en };
            html(StatusCode::OK, view::sent_page(lang, email.as_str(), b.home_region.as_str(), &life), Vec::new())
        }
        Err(ActorError::Conflict { kind: ConflictKind::OrgNumberRegistered, .. }) => {
            form_response(&node, &req, StatusCode::CONFLICT, &form, &[FieldError { field: "org_number", text: t.org_taken.to_owned() }])
        }
        Err(e) => {
            let e = ApiError::from(e);
            let status = super::error::status_for(&e);
            if status.is_server_error() {
                tracing::error!(error = %e, kind = kind_of(&e), "sign-up failed");
                return form_response(&node, &req, StatusCode::SERVICE_UNAVAILABLE, &form, &whole(t.try_again));
            }
            form_response(&node, &req, status, &form, &whole(&e.to_string()))
        }
    }
}

/// `?t=` of the link.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
#[schema(example = json!({"t": "svea_ml_b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e_Zq8x3RkP0vLm5NcT7wYb2HsJ9dFgA4uE0aBcDeFgHiA"}))]
pub struct LinkForm {
    /// The link's token.
    t: String,
}

fn refused(req: &HttpRequest, status: StatusCode, sentence: &str) -> HttpResponse {
    html(status, view::link_refused(lang_of(req), sentence), Vec::new())
}

/// `GET /business/link`.
#[utoipa::path(get, path = "/business/link", tag = "pages", operation_id = "link_page", summary = "Open a mailed link",
    description = "The page of a verification or sign-in link: one button that follows it (`POST /business/link`); opening the page uses nothing up.",
    params(("t" = String, Query, description = "The link's token, from the mail.", example = "svea_ml_b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e_Zq8x3RkP0vLm5NcT7wYb2HsJ9dFgA4uE0aBcDeFgHiA")),
    responses((status = 200, description = "The page with the button.", content_type = "text/html; charset=utf-8", body = String),
        (status = 404, description = "Not a svea link (a link that does not exist), in words.", content_type = "text/html; charset=utf-8", body = String),
        (status = 429, description = "The rate-limit page.", content_type = "text/html; charset=utf-8", body = String, headers(("Retry-After" = u64, description = "Whole seconds.")))))]
pub(in crate::http) async fn link_page(req: HttpRequest) -> HttpResponse {
    let q = web::Query::<LinkForm>::from_query(req.query_string()).map(web::Query::into_inner).unwrap_or_default();
    match q.t.parse::<LinkToken>() {
        Ok(link) => html(StatusCode::OK, view::link_page(lang_of(&req), link.reveal()), Vec::new()),
        Err(_) => refused(&req, StatusCode::NOT_FOUND, Texts::of(lang_of(&req)).link_malformed),
    }
}

/// `POST /business/link`.
#[utoipa::path(post, path = "/business/link", tag = "pages", operation_id = "follow_link", summary = "Follow a mailed link",
    description = "Uses the link (once): confirms the e-mail address and the organisation number, starts a dashboard session and sets its signed cookie.",
    request_body(content = LinkForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Signed in: to the dashboard.", headers(("Location" = String, description = "`/business`"), ("Set-Cookie" = String, description = "`svea_session`: signed, HttpOnly, SameSite=Strict."))),
        (status = 400, description = "Posted from another site, in words.", content_type = "text/html; charset=utf-8", body = String),
        (status = 404, description = "Not a svea link, or one used already, never issued, or expired, in words.", content_type = "text/html; charset=utf-8", body = String),
        (status = 429, description = "The rate-limit page.", content_type = "text/html; charset=utf-8", body = String, headers(("Retry-After" = u64, description = "Whole seconds."))),
        (status = 503, description = "Try again later.", content_type = "text/html; charset=utf-8", body = String)))]
pub(in crate::http) async fn follow_link(node: web::Data<NodeHandle>, req: HttpRequest, form: web::Form<LinkForm>) -> HttpResponse {
    let t = Texts::of(lang_of(&req));
    if same_origin(&req).is_err() {
        return refused(&req, StatusCode::BAD_REQUEST, t.cross_site);
    }
    let Ok(link) = form.t.trim().parse::<LinkToken>() else { return refused(&req, StatusCode::NOT_FOUND, t.link_malformed) };
    match node.follow_link(&link).await {
        Ok(Followed::SignedIn { session, verified_now, .. }) => {
            let cookie = session_cookie(&node, &req, node.session_cookie_value(&session));
            let to = if verified_now { "/business?saved=verified" } else { "/business" };
            let mut b = HttpResponse::SeeOther();
            b.insert_header((header::LOCATION, to)).cookie(cookie);
            b.finish()
        }
        // 404 for both: a link that was never issued and one that was used look the same.
        Ok(Followed::Unknown) => refused(&req, StatusCode::NOT_FOUND, t.link_used),
        Ok(Followed::Expired) => refused(&req, StatusCode::NOT_FOUND, t.link_expired),
        Err(e) => {
            tracing::warn!(error = %e, "link could not be followed");
            refused(&req, StatusCode::SERVICE_UNAVAILABLE, t.try_again)
        }
    }
}

/// The e-mail sign-in form.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
#[schema(example = json!({"email": "anna@kafe.se"}))]
pub struct EmailSignInForm {
    /// The business's contact e-mail.
    email: String,
}

/// `POST /business/sign-in/email`.
#[utoipa::path(post, path = "/business/sign-in/email", tag = "pages", operation_id = "dashboard_sign_in_email", summary = "Ask for a sign-in link",
    description = "Mails a sign-in link (single use, 15 minutes) to each business whose contact e-mail this is. The answer is the same whether or not there is one.",
    request_body(content = EmailSignInForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "The sign-in page: \"if the address is registered, a link is on its way\".", content_type = "text/html; charset=utf-8", body = String),
        (status = 400, description = "The sign-in page: posted from another site.", content_type = "text/html; charset=utf-8", body = String),
        (status = 422, description = "The sign-in page: not an e-mail address, in words.", content_type = "text/html; charset=utf-8", body = String),
        (status = 429, description = "The sign-in page: too many links for this client or address.", content_type = "text/html; charset=utf-8", body = String, headers(("Retry-After" = u64, description = "Whole seconds."))),
        (status = 503, description = "The sign-in page: this node sends no mail.", content_type = "text/html; charset=utf-8", body = String)))]
pub(in crate::http) async fn sign_in_email(node: web::Data<NodeHandle>, req: HttpRequest, limiter: Option<web::Data<SigninLinkLimiter>>, form: web::Form<EmailSignInForm>) -> HttpResponse {
    let lang = lang_of(&req);
    let t = Texts::of(lang);
    if same_origin(&req).is_err() {
        return sign_in_answer(&req, StatusCode::BAD_REQUEST, Some(t.cross_site), None);
    }
    let Ok(email) = form.email.parse::<Email>() else { return sign_in_answer(&req, StatusCode::UNPROCESSABLE_ENTITY, Some(t.bad_email), None) };
    if !node.mail_on() {
        return sign_in_answer(&req, StatusCode::SERVICE_UNAVAILABLE, Some(t.mail_off), None);
    }
    if let Some(l) = &limiter {
        if let Err(wait) = l.check(&req, &email.key()) {
            let resp = sign_in_answer(&req, StatusCode::TOO_MANY_REQUESTS, Some(lang.texts().rate_limited_text), None);
            return with_retry_after(resp, wait);
        }
    }
    // Found or not, sent or not: the same answer (the outcome is logged, never shown).
    match node.send_signin_links(&email).await {
        Ok(n) => tracing::info!(links = n, "sign-in links asked for"),
        Err(e) => tracing::warn!(error = %e, "sign-in links not sent"),
    }
    sign_in_answer(&req, StatusCode::OK, None, Some(super::dashboard::link_sent_text(lang)))
}
