//! Everything HTTP (actix-web): the only module that knows HTTP. [`api`] is the public API,
//! [`privacy`] a customer's export and erasure, [`operator`] the operator API under `/v1/cluster`
//! (on its own listener only: [`configure`] never mounts it), [`metrics`] `/metrics` (operator
//! and metrics listeners only, behind a token), [`deadline`] slow clients cut (the body deadline
//! and the per-address connection cap of the public listener), [`error`] the
//! one mapping from errors to statuses and problem documents, [`security`] the security headers on
//! every response, [`ratelimit`] the per-address token bucket in front of the public API, [`pos`]
//! till webhooks and settings, [`page`] the customer's page (`/q/<token>`), [`qr`] a location's
//! QR code and printable poster, [`assets`] the static files (stylesheets, scripts) embedded in the
//! binary for the pages, [`console`] the operator console (`/ops`, operator listener only), [`openapi`] the OpenAPI documents,
//! [`feedback`] a business's feedback list, export and per-day series, [`dashboard`] the business's pages at `/business`,
//! [`observe`] request ids, access log and request metrics on both listeners, [`held`] the rewards a business's hourly
//! brake held for its review, [`reference`] the API reference page (Swagger UI, vendored and embedded).
//!
//! Every route is one line of [`PUBLIC_ROUTES`] or [`OPERATOR_ROUTES`]: method, path, handler and
//! the handler's `#[utoipa::path]` annotation. The same line registers the route and documents it,
//! and `tests/it/openapi.rs` checks every line against the served document; a route registered any
//! other way would be served undocumented, so there is none.

pub mod api;
pub mod assets;
pub mod auth;
pub mod cluster_json;
pub mod console;
pub mod dashboard;
pub mod deadline;
pub mod error;
pub mod feedback;
pub mod held;
pub mod locations;
pub mod maintenance;
pub mod metrics;
pub mod money;
pub mod observe;
pub mod openapi;
pub mod operator;
pub mod page;
pub mod pos;
pub mod privacy;
pub mod qr;
pub mod ratelimit;
pub mod reference;
pub mod security;
pub mod signup;
pub mod stripe;
pub mod swish;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::{web, HttpRequest};
pub use openapi::Served;

use crate::core::NodeHandle;
pub use error::{status_for, ApiError, Problem, PROBLEM_TYPE_PREFIX, RETRY_AFTER_S};
use error::bad;

/// What a listener answers when none of its routes matched: 405 with `Allow` when the path is
/// one of `routes`' (asked with another method), 404 `no-route` otherwise. One answer for every
/// path, so a client (or schemathesis's `unsupported_method` check) learns which methods exist
/// without a route per method and path.
/// `served` says which of `routes` the listener registered.
fn no_route(routes: &'static [Served], served: fn(&Served) -> bool) -> actix_web::Route {
    web::to(move |req: HttpRequest| async move { Err::<actix_web::HttpResponse, _>(unmatched(routes.iter().filter(|r| served(r)), &req)) })
}

fn unmatched<'a>(routes: impl Iterator<Item = &'a Served> + Clone, req: &HttpRequest) -> ApiError {
    let (method, path) = (req.method().to_string(), req.path().to_string());
    // The most literal pattern that matches names the resource: `/v1/businesses/{id}/pos/locks`
    // before `/v1/businesses/{id}/pos/{provider}`.
    let matched = routes
        .clone()
        .filter(|r| actix_web::dev::ResourceDef::new(r.path).is_match(&path))
        .map(|r| (r.path.matches('{').count(), r.path))
        .min();
    let Some((_, pattern)) = matched else { return ApiError::NoRoute { method, path } };
    let mut allow: Vec<&'static str> = routes.filter(|r| r.path == pattern).map(|r| method_name(&r.method)).collect();
    allow.sort_unstable();
    allow.dedup();
    ApiError::MethodNotAllowed { method, path, allow }
}

/// The static name of a table's method (the tables use only these).
fn method_name(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "OPTIONS",
    }
}

/// What every listener's app shares: the node, the body limit and the extractor error mapping.
fn common(node: NodeHandle, cfg: &mut web::ServiceConfig) {
    let limit = node.config().limits.http_body_bytes;
    cfg.app_data(web::Data::new(node))
        .app_data(web::JsonConfig::default().limit(limit).error_handler(error::json_error(limit)))
        .app_data(web::PayloadConfig::new(limit))
        .app_data(web::PathConfig::default().error_handler(error::path_error))
        .app_data(web::QueryConfig::default().error_handler(|err, _req| bad("invalid-query", err.to_string()).into()));
}

/// Every route of the public listener (`node.http_addr`), registered by [`configure`] and
/// documented at `GET /v1/openapi.json` from this one table. A new route is one line here, its
/// handler annotated with `#[utoipa::path]` (see [`Served::new`]).
pub static PUBLIC_ROUTES: &[Served] = &[
    Served::new::<signup::__path_landing>(Method::GET, "/", |r| r.to(signup::landing)),
    Served::new::<signup::__path_signup>(Method::POST, "/signup", |r| r.to(signup::signup)),
    Served::new::<signup::__path_link_page>(Method::GET, "/business/link", |r| r.to(signup::link_page)),
    Served::new::<signup::__path_follow_link>(Method::POST, "/business/link", |r| r.to(signup::follow_link)),
    Served::new::<signup::__path_sign_in_email>(Method::POST, "/business/sign-in/email", |r| r.to(signup::sign_in_email)),
    Served::new::<page::__path_show>(Method::GET, "/q/{token}", |r| r.to(page::show)),
    Served::new::<page::__path_open>(Method::POST, "/q/{token}/open", |r| r.to(page::open)),
    Served::new::<page::__path_purchase>(Method::POST, "/q/{token}/purchase", |r| r.to(page::purchase)),
    Served::new::<page::__path_feedback>(Method::POST, "/q/{token}/feedback", |r| r.to(page::feedback)),
    Served::new::<page::__path_payee>(Method::POST, "/q/{token}/payee", |r| r.to(page::payee)),
    Served::new::<page::privacy::__path_show>(Method::GET, "/privacy", |r| r.to(page::privacy::show)),
    Served::new::<page::privacy::__path_export>(Method::POST, "/privacy/export", |r| r.to(page::privacy::export)),
    Served::new::<page::privacy::__path_erase>(Method::POST, "/privacy/erase", |r| r.to(page::privacy::erase)),
    Served::new::<api::__path_health>(Method::GET, "/health", |r| r.to(api::health)),
    Served::new::<api::__path_ready>(Method::GET, "/ready", |r| r.to(api::ready)),
    Served::new::<assets::__path_serve>(Method::GET, "/assets/{name}", |r| r.to(assets::serve)),
    Served::new::<api::__path_create_business>(Method::POST, "/v1/businesses", |r| r.to(api::create_business)),
    Served::new::<api::__path_get_business>(Method::GET, "/v1/businesses/{id}", |r| r.to(api::get_business)),
    Served::new::<api::__path_get_analytics>(Method::GET, "/v1/businesses/{id}/analytics", |r| r.to(api::get_analytics)),
    Served::new::<api::__path_rotate_key>(Method::POST, "/v1/businesses/{id}/keys", |r| r.to(api::rotate_key)),
    Served::new::<feedback::__path_list>(Method::GET, "/v1/businesses/{id}/feedback", |r| r.to(feedback::list)),
    Served::new::<feedback::__path_export>(Method::GET, "/v1/businesses/{id}/feedback.csv", |r| r.to(feedback::export)),
    Served::new::<feedback::__path_daily>(Method::GET, "/v1/businesses/{id}/daily", |r| r.to(feedback::daily)),
    Served::new::<dashboard::__path_show>(Method::GET, "/business", |r| r.to(dashboard::show)),
    Served::new::<dashboard::__path_sign_in>(Method::POST, "/business/sign-in", |r| r.to(dashboard::sign_in)),
    Served::new::<dashboard::__path_sign_out>(Method::POST, "/business/sign-out", |r| r.to(dashboard::sign_out)),
    Served::new::<dashboard::__path_rotate>(Method::POST, "/business/rotate", |r| r.to(dashboard::rotate)),
    Served::new::<dashboard::__path_create_key>(Method::POST, "/business/keys", |r| r.to(dashboard::create_key)),
    Served::new::<dashboard::__path_revoke_key>(Method::POST, "/business/keys/revoke", |r| r.to(dashboard::revoke_key)),
    Served::new::<dashboard::__path_verification>(Method::POST, "/business/verification", |r| r.to(dashboard::verification)),
    Served::new::<dashboard::__path_till>(Method::POST, "/business/till", |r| r.to(dashboard::till)),
    Served::new::<dashboard::__path_review>(Method::POST, "/business/held/{session}", |r| r.to(dashboard::review)),
    Served::new::<dashboard::__path_release>(Method::POST, "/business/release", |r| r.to(dashboard::release)),
    Served::new::<dashboard::__path_export>(Method::GET, "/business/feedback.csv", |r| r.to(dashboard::export)),
    Served::new::<dashboard::__path_statement>(Method::GET, "/business/statement", |r| r.to(dashboard::statement)),
    Served::new::<dashboard::__path_location>(Method::GET, "/business/locations/{lid}/{asset}", |r| r.to(dashboard::location)),
    Served::new::<dashboard::__path_add_location>(Method::POST, "/business/locations", |r| r.to(dashboard::add_location)),
    Served::new::<dashboard::__path_rename_location>(Method::POST, "/business/locations/{lid}/rename", |r| r.to(dashboard::rename_location)),
    Served::new::<dashboard::__path_remove_location>(Method::POST, "/business/locations/{lid}/remove", |r| r.to(dashboard::remove_location)),
    Served::new::<dashboard::__path_rewards>(Method::POST, "/business/rewards", |r| r.to(dashboard::rewards)),
    Served::new::<locations::__path_add>(Method::POST, "/v1/businesses/{id}/locations", |r| r.to(locations::add)),
    Served::new::<locations::__path_rename>(Method::PATCH, "/v1/businesses/{id}/locations/{lid}", |r| r.to(locations::rename)),
    Served::new::<locations::__path_remove>(Method::DELETE, "/v1/businesses/{id}/locations/{lid}", |r| r.to(locations::remove)),
    Served::new::<qr::__path_qr_svg>(Method::GET, "/v1/businesses/{id}/locations/{lid}/qr.svg", |r| r.to(qr::qr_svg)),
    Served::new::<qr::__path_qr_png>(Method::GET, "/v1/businesses/{id}/locations/{lid}/qr.png", |r| r.to(qr::qr_png)),
    Served::new::<qr::__path_poster>(Method::GET, "/v1/businesses/{id}/locations/{lid}/poster", |r| r.to(qr::poster)),
    Served::new::<money::__path_top_up>(Method::POST, "/v1/businesses/{id}/top-ups", |r| r.to(money::top_up)),
    Served::new::<money::__path_statement_csv_route>(Method::GET, "/v1/businesses/{id}/statement.csv", |r| r.to(money::statement_csv_route)),
    Served::new::<money::__path_statement_page>(Method::GET, "/v1/businesses/{id}/statement", |r| r.to(money::statement_page)),
    Served::new::<held::__path_list>(Method::GET, "/v1/businesses/{id}/held", |r| r.to(held::list)),
    Served::new::<held::__path_decide>(Method::POST, "/v1/businesses/{id}/held/{session}", |r| r.to(held::decide)),
    Served::new::<pos::__path_patch_settings>(Method::PATCH, "/v1/businesses/{id}/settings", |r| r.to(pos::patch_settings)),
    Served::new::<pos::__path_put_pos>(Method::PUT, "/v1/businesses/{id}/pos/{provider}", |r| r.to(pos::put_pos)),
    Served::new::<pos::__path_locks>(Method::GET, "/v1/businesses/{id}/pos/locks", |r| r.to(pos::locks)),
    Served::new::<pos::__path_release>(Method::POST, "/v1/businesses/{id}/pos/locks/release", |r| r.to(pos::release)),
    Served::new::<pos::__path_webhook>(Method::POST, "/v1/pos/{provider}/webhook", |r| r.to(pos::webhook)),
    Served::new::<stripe::__path_webhook>(Method::POST, "/v1/stripe/webhook", |r| r.to(stripe::webhook)),
    Served::new::<dashboard::top_up::__path_top_up>(Method::POST, "/business/top-up", |r| r.to(dashboard::top_up::top_up)),
    Served::new::<dashboard::top_up::__path_done>(Method::GET, "/business/top-up/done", |r| r.to(dashboard::top_up::done)),
    Served::new::<dashboard::top_up::__path_cancelled>(Method::GET, "/business/top-up/cancelled", |r| r.to(dashboard::top_up::cancelled)),
    Served::new::<api::__path_open_session>(Method::POST, "/v1/sessions", |r| r.to(api::open_session)),
    Served::new::<api::__path_explain_route>(Method::GET, "/v1/route", |r| r.to(api::explain_route)),
    Served::new::<api::__path_get_session>(Method::GET, "/v1/sessions/{id}", |r| r.to(api::get_session)),
    Served::new::<api::__path_confirm_purchase>(Method::POST, "/v1/sessions/{id}/purchase", |r| r.to(api::confirm_purchase)),
    Served::new::<api::__path_give_feedback>(Method::POST, "/v1/sessions/{id}/feedback", |r| r.to(api::give_feedback)),
    Served::new::<money::__path_wallet>(Method::POST, "/v1/wallet", |r| r.to(money::wallet)),
    Served::new::<swish::__path_put_payee>(Method::PUT, "/v1/wallet/payee", |r| r.to(swish::put_payee)),
    Served::new::<swish::__path_callback>(Method::POST, "/v1/payouts/swish/callback", |r| r.to(swish::callback)),
    Served::new::<privacy::__path_export>(Method::POST, "/v1/privacy/export", |r| r.to(privacy::export)),
    Served::new::<privacy::__path_erase>(Method::POST, "/v1/privacy/erase", |r| r.to(privacy::erase)),
    Served::new::<openapi::__path_public_document>(Method::GET, "/v1/openapi.json", |r| r.to(openapi::public_document)),
    Served::new::<reference::__path_show>(Method::GET, "/api-reference", |r| r.to(reference::show)),
];

/// Every route of the operator listener (`operator.listen_addr`), registered by
/// [`configure_operator`] and documented at its own `GET /v1/openapi.json`.
pub static OPERATOR_ROUTES: &[Served] = &[
    Served::new::<operator::__path_status>(Method::GET, "/v1/cluster", |r| r.to(operator::status)),
    Served::new::<operator::__path_describe_self>(Method::GET, "/v1/cluster/self", |r| r.to(operator::describe_self)),
    Served::new::<operator::__path_backup>(Method::GET, "/v1/cluster/backup", |r| r.to(operator::backup)),
    Served::new::<operator::__path_get_maintenance>(Method::GET, "/v1/cluster/maintenance", |r| r.to(operator::get_maintenance)),
    Served::new::<operator::__path_put_maintenance>(Method::PUT, "/v1/cluster/maintenance", |r| r.to(operator::put_maintenance)),
    Served::new::<operator::__path_add>(Method::POST, "/v1/cluster/nodes", |r| r.to(operator::add)),
    Served::new::<operator::__path_drain>(Method::POST, "/v1/cluster/nodes/{id}/drain", |r| r.to(operator::drain)),
    Served::new::<operator::__path_remove>(Method::DELETE, "/v1/cluster/nodes/{id}", |r| r.to(operator::remove)),
    Served::new::<operator::__path_release_org_number>(Method::POST, "/v1/cluster/org-numbers/{org}/release", |r| r.to(operator::release_org_number)),
    Served::new::<openapi::__path_operator_document>(Method::GET, "/v1/openapi.json", |r| r.to(openapi::operator_document)),
    Served::new::<console::__path_show>(Method::GET, "/ops", |r| r.to(console::show)),
    Served::new::<console::__path_sign_in>(Method::POST, "/ops/sign-in", |r| r.to(console::sign_in)),
    Served::new::<console::__path_sign_out>(Method::POST, "/ops/sign-out", |r| r.to(console::sign_out)),
    Served::new::<console::__path_console_json>(Method::GET, "/ops/console.json", |r| r.to(console::console_json)),
    Served::new::<console::__path_add>(Method::POST, "/ops/nodes", |r| r.to(console::add)),
    Served::new::<console::__path_drain>(Method::POST, "/ops/nodes/{id}/drain", |r| r.to(console::drain)),
    Served::new::<console::__path_remove>(Method::POST, "/ops/nodes/{id}/remove", |r| r.to(console::remove)),
    Served::new::<console::__path_maintenance>(Method::POST, "/ops/maintenance", |r| r.to(console::maintenance)),
    Served::new::<assets::__path_serve>(Method::GET, "/assets/{name}", |r| r.to(assets::serve)),
    Served::new::<metrics::__path_metrics>(Method::GET, METRICS_PATH, |r| r.to(metrics::metrics)),
];

/// The metrics route: on the operator listener, and alone on the metrics listener
/// ([`configure_metrics`]); never on the public one.
pub const METRICS_PATH: &str = "/metrics";

/// Registers the metrics listener's one route (`operator.metrics_listen_addr`): the
/// [`OPERATOR_ROUTES`] line of [`METRICS_PATH`], and 404 for everything else.
pub fn configure_metrics(node: NodeHandle, cfg: &mut web::ServiceConfig) {
    common(node, cfg);
    cfg.app_data(web::Data::new(metrics::MetricsListener));
    for r in OPERATOR_ROUTES.iter().filter(|r| r.path == METRICS_PATH) {
        r.register(cfg, "");
    }
    cfg.default_service(no_route(OPERATOR_ROUTES, |r| r.path == METRICS_PATH));
}

/// Registers every public route on an actix-web app (the public listener, `node.http_addr`):
/// [`PUBLIC_ROUTES`]. The operator API is not among them: `/v1/cluster` answers 404 here.
pub fn configure(node: NodeHandle, cfg: &mut web::ServiceConfig) {
    common(node.clone(), cfg);
    page::configure(&node, cfg);
    for r in PUBLIC_ROUTES {
        r.register(cfg, "");
    }
    cfg.default_service(no_route(PUBLIC_ROUTES, |_| true));
}

/// The customer's address: the socket peer, or what a trusted proxy (`geo.trusted_proxies`) says
/// it forwarded for. GeoIP routing and the rate limiter both ask this one function.
pub(crate) fn client_ip(trusted_proxies: &[svea_config::IpNetwork], req: &HttpRequest) -> Option<std::net::IpAddr> {
    let peer = req.peer_addr()?.ip();
    let joined = |name: header::HeaderName| -> Option<String> {
        let values: Vec<&str> = req.headers().get_all(name).filter_map(|v| v.to_str().ok()).collect();
        (!values.is_empty()).then(|| values.join(","))
    };
    let forwarded = joined(header::FORWARDED);
    let xff = joined(header::HeaderName::from_static("x-forwarded-for"));
    Some(svea_geo::client_ip(peer, forwarded.as_deref(), xff.as_deref(), trusted_proxies))
}

/// Where a customer should be served instead of here: the nearest healthy region's node.
pub(crate) struct Elsewhere {
    /// That region.
    pub region: svea_config::Region,
    /// Public URL of a reachable node there (no trailing slash).
    pub base_url: String,
    /// Why that region ([`NodeHandle::route`]).
    pub route: svea_geo::Route,
}

impl Elsewhere {
    /// `path` (starting with `/`) on that node.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

/// The one routing decision for customers (opening a session through the API, opening the
/// customer's page): with `node.routing = "redirect"`, the client address's nearest healthy
/// region when that is not this node's and a node there is reachable; `None` means serve here.
pub(crate) fn elsewhere(node: &NodeHandle, req: &HttpRequest) -> Option<Elsewhere> {
    if node.config().node.routing != svea_config::Routing::Redirect {
        return None;
    }
    let ip = client_ip(&node.config().geo.trusted_proxies, req)?;
    let route = node.route(ip);
    if let Some(region) = &route.region {
        node.routed().record(region, std::time::Instant::now());
    }
    let region = route.region.clone().filter(|r| *r != node.config().node.region)?;
    let url = node.region_url(&region)?;
    Some(Elsewhere { region, base_url: url.trim_end_matches('/').to_string(), route })
}

/// Registers the operator listener's routes (`operator.listen_addr`, [`OPERATOR_ROUTES`]):
/// `/v1/cluster/...` behind the token, the console `/ops` (signed in with the same token), its
/// assets, its OpenAPI document and `/metrics` (behind the scrape or the operator token).
/// `/health` and `/ready` stay on the public listener only, where load balancers look; they
/// carry no secrets.
pub fn configure_operator(node: NodeHandle, cfg: &mut web::ServiceConfig) {
    common(node.clone(), cfg);
    console::configure(&node, cfg);
    let guarded = |r: &&Served| r.path == operator::SCOPE || r.path.strip_prefix(operator::SCOPE).is_some_and(|rest| rest.starts_with('/'));
    cfg.service(web::scope(operator::SCOPE).wrap(actix_web::middleware::from_fn(operator::require_token)).configure(|scope| {
        for r in OPERATOR_ROUTES.iter().filter(guarded) {
            r.register(scope, operator::SCOPE);
        }
    }));
    for r in OPERATOR_ROUTES.iter().filter(|r| !guarded(r)) {
        r.register(cfg, "");
    }
    cfg.default_service(no_route(OPERATOR_ROUTES, |_| true));
}

/// Header naming the region of the node that answered.
pub fn region_header(node: &NodeHandle) -> (header::HeaderName, HeaderValue) {
    let v = HeaderValue::from_str(node.config().node.region.as_str()).unwrap_or(HeaderValue::from_static("unknown"));
    (header::HeaderName::from_static("x-svea-region"), v)
}
