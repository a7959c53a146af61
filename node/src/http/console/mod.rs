//! The operator console at `/ops`, served by the operator listener only (`operator.listen_addr`;
//! the public listener answers 404): a map of Sweden with the regions, the nodes and their health,
//! the leader and term, replication lag, actors per node, each node's build, uptime, disk and
//! error rate and its own view of term and leader, where customers were routed in the last
//! minute, refreshed live; the membership actions (add, drain, remove) and maintenance mode
//! behind a confirmation.
//!
//! - `GET /ops`: the sign-in form, or once signed in the console. Without JavaScript it reloads
//!   itself every [`REFRESH_S`] seconds (`<noscript><meta http-equiv="refresh">`); with it,
//!   `ops.js` polls `GET /ops/console.json` every [`REFRESH_S`] seconds and updates in place.
//! - `POST /ops/sign-in` (form field `token`: the operator token, compared like the API compares
//!   it) sets the [`OPS_COOKIE`]; `POST /ops/sign-out` clears it.
//! - `GET /ops/console.json`: the [`projection::ConsoleView`] of the operator status (`GET
//!   /v1/cluster`, the same gathering); 401 problem without the cookie.
//! - `POST /ops/nodes`, `POST /ops/nodes/{id}/drain`, `POST /ops/nodes/{id}/remove`,
//!   `POST /ops/maintenance`: the operator API's add, drain, remove and maintenance switch.
//!   Without `confirm=yes` they answer a confirmation page whose button posts the same form with
//!   it; with it they act and show the console with the result or the error in words. A drain
//!   of another node is forwarded to it (a drain runs on the node it drains).
//!
//! The cookie never holds the token: it is `<expiry>.<HMAC-SHA256 under the token of the
//! expiry>`, `HttpOnly; SameSite=Strict; Path=/ops` (`Secure` when the request came over HTTPS),
//! valid for [`OPS_SESSION_MAX_AGE_S`]; changing `operator.token` signs every console out. Every
//! form post must come from this site (the customer page's `Origin`/`Referer` check).

mod map;
pub mod projection;
mod view;

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use hmac::{Hmac, Mac};
use maud::Markup;
use serde::Deserialize;
use sha2::Sha256;

use super::error::{status_for, ApiError, ApiResult};
use super::operator::{check_maintenance, check_member, parse_node_id, tokens_match, ExitHandle};
use super::page::{same_origin, PAGE_REFERRER_POLICY};
use crate::core::operator;
use crate::http::cluster_json::{ClusterOut, DrainOut, MaintenanceIn, MaintenanceOut, MemberIn};
use crate::core::NodeHandle;
use projection::ConsoleView;

/// The console's sign-in cookie.
pub const OPS_COOKIE: &str = "svea_ops";
/// How long a sign-in lasts: a working day.
pub const OPS_SESSION_MAX_AGE_S: i64 = 8 * 3600;
/// Seconds between refreshes of the console (script poll, or the no-script reload).
pub const REFRESH_S: u32 = 2;
/// The path the console lives under (and the cookie is scoped to).
pub const OPS_PATH: &str = "/ops";

/// Registers the console's routes (operator listener only).
pub fn configure(node: &NodeHandle, cfg: &mut web::ServiceConfig) {
    // The routes themselves are lines of `OPERATOR_ROUTES` (http/mod.rs): registered and documented together.
    cfg.app_data(web::FormConfig::default().limit(node.config().limits.http_body_bytes).error_handler(form_error));
}

/// A form the extractor refused (not a form, too large, a field missing): the sign-in form with
/// why, 400 like every refused form of the console (its documents say `text/html`; actix's own
/// answer would be `text/plain`, and 415 for a missing content type).
fn form_error(err: actix_web::error::UrlencodedError, _req: &HttpRequest) -> actix_web::Error {
    let resp = html(StatusCode::BAD_REQUEST, view::sign_in(Some(&format!("the form could not be read: {err}"))));
    actix_web::error::InternalError::from_response(err, resp).into()
}

/// The cookie value for a sign-in that lasts until `expires` (Unix seconds).
fn session_value(token: &str, expires: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes()).expect("hmac accepts keys of every length");
    mac.update(format!("svea-ops-session:{expires}").as_bytes());
    let tag: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("{expires}.{tag}")
}

/// Whether `value` is a sign-in cookie made under `token` that has not expired at `now`.
fn session_valid(token: &str, value: &str, now: i64) -> bool {
    let Some(expires) = value.split_once('.').and_then(|(e, _)| e.parse::<i64>().ok()) else { return false };
    now < expires && expires <= now.saturating_add(OPS_SESSION_MAX_AGE_S) && tokens_match(value, &session_value(token, expires))
}

fn signed_in(node: &NodeHandle, req: &HttpRequest) -> bool {
    let (Some(token), Some(cookie)) = (node.config().operator.token.as_deref(), req.cookie(OPS_COOKIE)) else { return false };
    session_valid(token, cookie.value(), chrono::Utc::now().timestamp())
}

fn ops_cookie(req: &HttpRequest, value: String, max_age_s: i64) -> Cookie<'static> {
    Cookie::build(OPS_COOKIE, value)
        .path(OPS_PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(req.connection_info().scheme() == "https")
        .max_age(time::Duration::seconds(max_age_s))
        .finish()
}

/// An HTML answer; forms on it carry our origin (`Referrer-Policy: same-origin`).
fn html(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::REFERRER_POLICY, PAGE_REFERRER_POLICY))
        .body(markup.into_string())
}

fn see_console() -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, OPS_PATH)).finish()
}

async fn view(node: &NodeHandle) -> Result<ConsoleView, ApiError> {
    let status = ClusterOut::from(operator::status(node).await?);
    let mut view = projection::project(&status, &node.config().regions);
    let e = node.telemetry().events();
    let count = |state: &'static str| e.payouts.get_or_create(&crate::telemetry::StateLabel { state }).get();
    view.payouts = projection::PayoutsView {
        rail: node.config().payouts.rail.as_str().to_owned(),
        in_flight: e.payouts_in_flight.get(),
        stuck: e.payouts_stuck.get(),
        started: count("started"),
        paid: count("paid"),
        failed: count("failed"),
    };
    view.maintenance = MaintenanceOut::from(operator::maintenance(node)?);
    Ok(view)
}

/// The console with `outcome` (what the last action did) on top.
async fn console(node: &NodeHandle, status: StatusCode, outcome: Option<Result<String, String>>) -> HttpResponse {
    match view(node).await {
        Ok(v) => html(status, view::console(&v, outcome.as_ref())),
        Err(e) => html(status_for(&e), view::console_unavailable(&e.to_string(), outcome.as_ref())),
    }
}

/// `GET /ops`: the console when signed in, else the sign-in form.
#[utoipa::path(get, path = "/ops", tag = "operator", operation_id = "console_page", summary = "Show the operator console", description = "The console (map, regions, nodes, actions) when signed in, otherwise the sign-in form.", security((), ("operator_console" = [])),
    responses((status = 200, description = "Signed in: the console (map, regions, nodes, actions); otherwise the sign-in form. Refreshes every 2 s.", content_type = "text/html; charset=utf-8", body = String),
        (status = 503, description = "Signed in, but the cluster status could not be gathered: the console says why.", content_type = "text/html; charset=utf-8", body = String)))]
pub(super) async fn show(node: web::Data<NodeHandle>, req: HttpRequest) -> HttpResponse {
    if !signed_in(&node, &req) {
        return html(StatusCode::OK, view::sign_in(None));
    }
    console(&node, StatusCode::OK, None).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"token": "s3cret-operator-token"}))]
pub(super) struct SignInForm {
    token: String,
}

/// `POST /ops/sign-in`: checks the operator token and sets the console cookie.
#[utoipa::path(post, path = "/ops/sign-in", tag = "operator", operation_id = "console_sign_in", summary = "Sign in to the console", description = "Checks the operator token and sets the console's sign-in cookie.",
    request_body(content = SignInForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Signed in: to the console, with the `svea_ops` cookie (HttpOnly, SameSite=Strict, Path=/ops, 8 h).",
            headers(("Location" = String, description = "`/ops`"), ("Set-Cookie" = String, description = "`svea_ops=<expiry>.<HMAC>`"))),
        (status = 400, description = "Posted from another site (`cross-site-form`): the sign-in form says so.", content_type = "text/html; charset=utf-8", body = String),
        (status = 401, description = "Wrong operator token: the sign-in form again.", content_type = "text/html; charset=utf-8", body = String)))]
pub(super) async fn sign_in(node: web::Data<NodeHandle>, req: HttpRequest, form: web::Form<SignInForm>) -> HttpResponse {
    if let Err(e) = same_origin(&req) {
        return html(status_for(&e), view::sign_in(Some(&e.to_string())));
    }
    match node.config().operator.token.as_deref() {
        Some(token) if tokens_match(form.token.trim(), token) => {
            let expires = chrono::Utc::now().timestamp().saturating_add(OPS_SESSION_MAX_AGE_S);
            let mut res = see_console();
            let _ = res.add_cookie(&ops_cookie(&req, session_value(token, expires), OPS_SESSION_MAX_AGE_S));
            res
        }
        _ => html(StatusCode::UNAUTHORIZED, view::sign_in(Some("wrong operator token"))),
    }
}

/// `POST /ops/sign-out`: clears the console cookie.
#[utoipa::path(post, path = "/ops/sign-out", tag = "operator", operation_id = "console_sign_out", summary = "Sign out of the console", description = "Clears the console's sign-in cookie.", security((), ("operator_console" = [])),
    responses((status = 303, description = "Signed out: back to the sign-in form.", headers(("Location" = String, description = "`/ops`"), ("Set-Cookie" = String, description = "`svea_ops` expired."))),
        (status = 400, description = "Posted from another site (`cross-site-form`).", content_type = "text/html; charset=utf-8", body = String)))]
pub(super) async fn sign_out(req: HttpRequest) -> HttpResponse {
    if let Err(e) = same_origin(&req) {
        return html(status_for(&e), view::sign_in(Some(&e.to_string())));
    }
    let mut res = see_console();
    let _ = res.add_cookie(&ops_cookie(&req, String::new(), 0));
    res
}

/// `GET /ops/console.json`: what the console shows, for its script to refresh in place.
#[utoipa::path(get, path = "/ops/console.json", tag = "operator", operation_id = "console_json", summary = "Read the console's data", description = "What the console shows, for its script to refresh the page in place.", security(("operator_console" = [])),
    responses((status = 200, description = "The regions (health, map position, customers routed in the last minute) and nodes (health, leader, lag, actors).", body = ConsoleView),
        (status = 401, description = "`unauthorized`: not signed in to the console.", content_type = "application/problem+json", body = crate::http::Problem),
        crate::http::error::answers::Busy))]
pub(super) async fn console_json(node: web::Data<NodeHandle>, req: HttpRequest) -> ApiResult {
    if !signed_in(&node, &req) {
        return Err(ApiError::Unauthorized("sign in to the console at /ops first".into()));
    }
    Ok(HttpResponse::Ok().json(view(&node).await?))
}

/// What a console action answers (`POST /ops/nodes...`), for the OpenAPI document.
#[derive(utoipa::IntoResponses)]
pub enum ConsoleAnswers {
    /// Asked or done.
    #[response(status = 200, description = "Without `confirm=yes`: the confirmation page. With it: the console with what was done on top \
            (after a drain: the drain report; the node stops a moment later).", content_type = "text/html; charset=utf-8")]
    Page(String),
    /// Refused.
    #[response(status = 400, description = "Posted from another site (`cross-site-form`), or a field is not valid (`invalid-body`, `invalid-path`).", content_type = "text/html; charset=utf-8")]
    Refused(String),
    /// Not signed in.
    #[response(status = 401, description = "Not signed in: the sign-in form.", content_type = "text/html; charset=utf-8")]
    SignIn(String),
    /// Refused by the cluster.
    #[response(status = 409, description = "The cluster refused (`membership-refused`, `unknown-region`, a drain sent to another node): the console says why.", content_type = "text/html; charset=utf-8")]
    Conflict(String),
    /// Unavailable.
    #[response(status = 503, description = "No leader or a member did not answer in time: the console says why.", content_type = "text/html; charset=utf-8")]
    Unavailable(String),
}

/// What every action checks first: signed in (else the sign-in page) and posted from this site.
fn action_start(node: &NodeHandle, req: &HttpRequest) -> Result<(), HttpResponse> {
    if !signed_in(node, req) {
        return Err(html(StatusCode::UNAUTHORIZED, view::sign_in(Some("sign in first"))));
    }
    same_origin(req).map_err(|e| html(status_for(&e), view::refused(&e.to_string())))
}

fn confirmed(confirm: &Option<String>) -> bool {
    confirm.as_deref() == Some("yes")
}

/// The console after an action: its result, or its error with the status the API would give.
async fn after(node: &NodeHandle, result: Result<String, ApiError>) -> HttpResponse {
    match result {
        Ok(done) => console(node, StatusCode::OK, Some(Ok(done))).await,
        Err(e) => console(node, status_for(&e), Some(Err(e.to_string()))).await,
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"id": "4", "region": "malmo", "raft_addr": "10.0.3.4:7001", "http_addr": "10.0.3.4:8080", "public_url": "https://malmo-2.svea.se", "confirm": "yes"}))]
pub(super) struct AddForm {
    id: String,
    region: String,
    raft_addr: String,
    http_addr: String,
    public_url: String,
    confirm: Option<String>,
}

/// `POST /ops/nodes`: add a node (a confirmation page first, then `confirm=yes` acts).
#[utoipa::path(post, path = "/ops/nodes", tag = "operator", operation_id = "console_add", summary = "Add a node from the console", description = "Adds a node to the cluster: a confirmation page first, then `confirm=yes` acts.", security(("operator_console" = [])),
    request_body(content = AddForm, content_type = "application/x-www-form-urlencoded"),
    responses(ConsoleAnswers))]
pub(super) async fn add(node: web::Data<NodeHandle>, req: HttpRequest, form: web::Form<AddForm>) -> HttpResponse {
    if let Err(res) = action_start(&node, &req) {
        return res;
    }
    let f = form.into_inner();
    let member = parse_node_id(f.id.trim()).map(|id| MemberIn {
        id,
        region: f.region.trim().to_owned(),
        raft_addr: f.raft_addr.trim().to_owned(),
        http_addr: f.http_addr.trim().to_owned(),
        public_url: f.public_url.trim().to_owned(),
    });
    let member = match member.and_then(|m| check_member(&m).map(|()| m)) {
        Ok(m) => m,
        Err(e) => return after(&node, Err(e)).await,
    };
    if !confirmed(&f.confirm) {
        return html(StatusCode::OK, view::confirm_add(&member));
    }
    let id = member.id;
    after(&node, operator::add(&node, id, member.node()).await.map(|()| format!("node {id} added as a voter")).map_err(ApiError::from)).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"confirm": "yes"}))]
pub(super) struct ConfirmForm {
    confirm: Option<String>,
}

/// `POST /ops/nodes/{id}/drain`: drain a node (confirmation first); it leaves the cluster and stops.
#[utoipa::path(post, path = "/ops/nodes/{id}/drain", tag = "operator", operation_id = "console_drain", summary = "Drain a node from the console", description = "Hands the node's actors and leadership off and removes it; a confirmation page first. Any node's console drains any member: the drain is forwarded to the node it drains.", security(("operator_console" = [])),
    params(("id" = u64, Path, description = "The node to drain: this console's node or another member.", example = 3)),
    request_body(content = ConfirmForm, content_type = "application/x-www-form-urlencoded"),
    responses(ConsoleAnswers))]
pub(super) async fn drain(
    node: web::Data<NodeHandle>,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<ConfirmForm>,
    exit: Option<web::Data<ExitHandle>>,
) -> HttpResponse {
    if let Err(res) = action_start(&node, &req) {
        return res;
    }
    let id = match parse_node_id(&id).and_then(|id| check_member_id(&node, id)) {
        Ok(id) => id,
        Err(e) => return after(&node, Err(e)).await,
    };
    if !confirmed(&form.confirm) {
        return html(StatusCode::OK, view::confirm_drain(id, id == node.cluster().id()));
    }
    match operator::drain_node(&node, id).await {
        Ok((report, true)) => {
            if let Some(exit) = exit {
                exit.exit_soon();
            }
            // This node has left the cluster and stops in a moment: no status to show any more.
            html(StatusCode::OK, view::drained(&DrainOut::from(report)))
        }
        Ok((report, false)) => after(&node, Ok(view::drained_elsewhere(&DrainOut::from(report)))).await,
        Err(e) => after(&node, Err(e.into())).await,
    }
}

/// `id`, when it names a member; else the "no such node" error.
fn check_member_id(node: &NodeHandle, id: u64) -> Result<u64, ApiError> {
    match node.cluster().member(id) {
        Some(_) => Ok(id),
        None => Err(crate::actors::ActorError::NotFound { what: crate::actors::Missing::Node, id: id.to_string() }.into()),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"on": "on", "message": "Vi uppgraderar svea till kl. 06:00.", "retry_after_s": "600", "confirm": "yes"}))]
pub(super) struct MaintenanceForm {
    /// `on` or `off`.
    #[schema(pattern = "^(on|off)$")]
    on: String,
    /// What customers are told (on only).
    #[serde(default)]
    message: Option<String>,
    /// Seconds customers wait before retrying (on only); empty: the default.
    #[serde(default)]
    retry_after_s: Option<String>,
    confirm: Option<String>,
}

/// `POST /ops/maintenance`: switch maintenance mode (confirmation first), as `PUT
/// /v1/cluster/maintenance` does.
#[utoipa::path(post, path = "/ops/maintenance", tag = "operator", operation_id = "console_maintenance", summary = "Switch maintenance mode from the console", description = "Switches maintenance mode on (with the message customers see) or off, cluster-wide; a confirmation page first.", security(("operator_console" = [])),
    request_body(content = MaintenanceForm, content_type = "application/x-www-form-urlencoded"),
    responses(ConsoleAnswers))]
pub(super) async fn maintenance(node: web::Data<NodeHandle>, req: HttpRequest, form: web::Form<MaintenanceForm>) -> HttpResponse {
    if let Err(res) = action_start(&node, &req) {
        return res;
    }
    let f = form.into_inner();
    let input = maintenance_input(&f).and_then(|m| check_maintenance(&m).map(|()| m));
    let input = match input {
        Ok(m) => m,
        Err(e) => return after(&node, Err(e)).await,
    };
    if !confirmed(&f.confirm) {
        return html(StatusCode::OK, view::confirm_maintenance(&input));
    }
    let on = input.on;
    let done = operator::set_maintenance(&node, (&input).into(), chrono::Utc::now().timestamp_millis()).await;
    let said = if on { "maintenance mode is on: customers see the message" } else { "maintenance mode is off" };
    after(&node, done.map(|_| said.to_owned()).map_err(ApiError::from)).await
}

/// The form's fields as the API's input: `on`/`off`, the message only when on, the retry time a
/// whole number of seconds.
fn maintenance_input(f: &MaintenanceForm) -> Result<MaintenanceIn, ApiError> {
    let on = match f.on.as_str() {
        "on" => true,
        "off" => false,
        other => return Err(crate::http::error::bad("invalid-body", format!("on must be on or off, got {other:?}"))),
    };
    let message = f.message.as_deref().map(str::trim).filter(|m| on && !m.is_empty()).map(str::to_owned);
    let retry_after_s = match f.retry_after_s.as_deref().map(str::trim).filter(|r| on && !r.is_empty()) {
        None => None,
        Some(r) => Some(r.parse::<u32>().map_err(|_| crate::http::error::bad("invalid-body", format!("retry_after_s {r:?} is not a whole number of seconds")))?),
    };
    Ok(MaintenanceIn { on, message, retry_after_s })
}

/// `POST /ops/nodes/{id}/remove`: remove a node from the membership (confirmation first).
#[utoipa::path(post, path = "/ops/nodes/{id}/remove", tag = "operator", operation_id = "console_remove", summary = "Remove a node from the console", description = "Removes a node from the membership; a confirmation page first.", security(("operator_console" = [])),
    params(("id" = u64, Path, description = "The node to remove.", example = 3)),
    request_body(content = ConfirmForm, content_type = "application/x-www-form-urlencoded"),
    responses(ConsoleAnswers))]
pub(super) async fn remove(node: web::Data<NodeHandle>, req: HttpRequest, id: web::Path<String>, form: web::Form<ConfirmForm>) -> HttpResponse {
    if let Err(res) = action_start(&node, &req) {
        return res;
    }
    let id = match parse_node_id(&id) {
        Ok(id) => id,
        Err(e) => return after(&node, Err(e)).await,
    };
    if !confirmed(&form.confirm) {
        return html(StatusCode::OK, view::confirm_remove(id));
    }
    after(&node, operator::remove(&node, id, false).await.map(|()| format!("node {id} removed")).map_err(ApiError::from)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "test-operator-token-0123456789";

    #[test]
    fn a_sign_in_cookie_is_valid_only_under_its_token_and_until_it_expires() {
        let now = 1_700_000_000;
        let v = session_value(TOKEN, now + 60);
        assert!(!v.contains(TOKEN));
        assert!(session_valid(TOKEN, &v, now));
        assert!(!session_valid(TOKEN, &v, now + 60), "expired");
        assert!(!session_valid("another-operator-token-xyz", &v, now), "token changed");
        let forged = format!("{}.{}", now + 3600, v.split_once('.').expect("dot").1);
        assert!(!session_valid(TOKEN, &forged, now), "expiry moved");
        let far = session_value(TOKEN, now + OPS_SESSION_MAX_AGE_S + 1);
        assert!(!session_valid(TOKEN, &far, now), "longer than a sign-in lasts");
        for junk in ["", ".", "abc", "1.2", TOKEN] {
            assert!(!session_valid(TOKEN, junk, now), "{junk:?}");
        }
    }
}
