//! Everything HTTP (actix-web): the only module that knows HTTP. [`api`] is the public API,
//! [`privacy`] a customer's export and erasure, [`operator`] the operator API under `/v1/cluster`
//! (on its own listener only: [`configure`] never mounts it), [`metrics`] `/metrics`, [`error`] the
//! one mapping from errors to statuses and problem documents, [`security`] the security headers on
//! every response, [`ratelimit`] the per-address token bucket in front of the public API, [`pos`]
//! till webhooks and settings, [`page`] the customer's page (`/q/<token>`), [`qr`] a location's
//! QR code and printable poster, [`assets`] the static files (stylesheets, scripts) embedded in the
//! binary for the pages, [`feedback`] a business's feedback list, export and per-day series,
//! [`dashboard`] the business's pages at `/business`.

pub mod api;
pub mod assets;
pub mod auth;
pub mod dashboard;
pub mod error;
pub mod feedback;
pub mod metrics;
pub mod operator;
pub mod page;
pub mod pos;
pub mod privacy;
pub mod qr;
pub mod ratelimit;
pub mod security;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest};

use crate::core::NodeHandle;
pub use error::{status_for, ApiError, Problem, PROBLEM_TYPE_PREFIX, RETRY_AFTER_S};
use error::{bad, ApiResult};

async fn no_route(req: HttpRequest) -> ApiResult {
    Err(ApiError::NoRoute { method: req.method().to_string(), path: req.path().to_string() })
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

/// Registers every public route on an actix-web app (the public listener, `node.http_addr`).
/// The operator API is not among them: `/v1/cluster` answers 404 here.
pub fn configure(node: NodeHandle, cfg: &mut web::ServiceConfig) {
    common(node.clone(), cfg);
    page::configure(&node, cfg);
    dashboard::configure(cfg);
    cfg.route("/health", web::get().to(api::health))
        .route("/ready", web::get().to(api::ready))
        .route("/assets/{name}", web::get().to(assets::serve))
        .service(
            web::scope("/v1")
                .route("/businesses", web::post().to(api::create_business))
                .route("/businesses/{id}", web::get().to(api::get_business))
                .route("/businesses/{id}/analytics", web::get().to(api::get_analytics))
                .route("/businesses/{id}/keys", web::post().to(api::rotate_key))
                .route("/businesses/{id}/feedback", web::get().to(feedback::list))
                .route("/businesses/{id}/feedback.csv", web::get().to(feedback::export))
                .route("/businesses/{id}/daily", web::get().to(feedback::daily))
                .route("/businesses/{id}/locations/{lid}/qr.svg", web::get().to(qr::qr_svg))
                .route("/businesses/{id}/locations/{lid}/qr.png", web::get().to(qr::qr_png))
                .route("/businesses/{id}/locations/{lid}/poster", web::get().to(qr::poster))
                .route("/businesses/{id}/settings", web::patch().to(pos::patch_settings))
                .route("/businesses/{id}/pos/{provider}", web::put().to(pos::put_pos))
                .route("/pos/{provider}/webhook", web::post().to(pos::webhook))
                .route("/sessions", web::post().to(api::open_session))
                .route("/route", web::get().to(api::explain_route))
                .route("/sessions/{id}", web::get().to(api::get_session))
                .route("/sessions/{id}/purchase", web::post().to(api::confirm_purchase))
                .route("/sessions/{id}/feedback", web::post().to(api::give_feedback))
                .route("/privacy/export", web::post().to(privacy::export))
                .route("/privacy/erase", web::post().to(privacy::erase)),
        )
        .route("/metrics", web::get().to(metrics::metrics))
        .default_service(web::to(no_route));
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
    let region = route.region.clone().filter(|r| *r != node.config().node.region)?;
    let url = node.region_url(&region)?;
    Some(Elsewhere { region, base_url: url.trim_end_matches('/').to_string(), route })
}

/// Registers the operator listener's routes (`operator.listen_addr`): `/v1/cluster/...` behind
/// the token, and nothing else. `/metrics`, `/health` and `/ready` stay on the public listener
/// only, where load balancers and scrapers already look; they carry no secrets.
pub fn configure_operator(node: NodeHandle, cfg: &mut web::ServiceConfig) {
    common(node, cfg);
    cfg.service(web::scope("/v1").configure(operator::configure)).default_service(web::to(no_route));
}

/// Header naming the region of the node that answered.
pub fn region_header(node: &NodeHandle) -> (header::HeaderName, HeaderValue) {
    let v = HeaderValue::from_str(node.config().node.region.as_str()).unwrap_or(HeaderValue::from_static("unknown"));
    (header::HeaderName::from_static("x-svea-region"), v)
}
