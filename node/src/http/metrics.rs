//! `GET /metrics`: the node's registry (`crate::telemetry`) in the OpenMetrics text format.
//!
//! Served on the operator listener (loopback) and, when `operator.metrics_listen_addr` is set, on a
//! listener of its own that serves nothing else, for a Prometheus in another container or pod;
//! never on the public listener (issue 20: the families told anyone which businesses to drain).
//! Every scrape carries a bearer token: the scrape token (`operator.metrics_token`) anywhere, the
//! operator token on the operator listener only, so the operator token never has to travel to a
//! scraper. No family names a business or a session (`crate::telemetry`).

use actix_web::{web, HttpRequest, HttpResponse};

use super::error::{ApiError, ApiResult};
use crate::core::NodeHandle;

/// Marks the metrics-only listener's app: there, only the scrape token opens `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct MetricsListener;

/// The configured token the request's bearer matches, if any.
fn authorize(node: &NodeHandle, req: &HttpRequest, metrics_only: bool) -> Result<(), ApiError> {
    let operator = &node.config().operator;
    let Some(given) = super::auth::bearer(req) else {
        return Err(ApiError::Unauthorized("missing token (Authorization: Bearer <metrics or operator token>)".into()));
    };
    let scrape = operator.metrics_token.as_deref().is_some_and(|t| super::operator::tokens_match(given, t));
    let op = !metrics_only && operator.token.as_deref().is_some_and(|t| super::operator::tokens_match(given, t));
    if scrape || op {
        Ok(())
    } else {
        Err(ApiError::Unauthorized("wrong token for /metrics".into()))
    }
}

/// `GET /metrics`: every family of the node's registry.
#[utoipa::path(get, path = "/metrics", tag = "system", operation_id = "metrics", summary = "Scrape metrics", description = "Every metric family of the node in the Prometheus text format.", security(("metrics_token" = [])),
    responses((status = 200, description = "Every metric family of the node's registry in the OpenMetrics text format (not rate limited): \
            HTTP, Raft, cluster, actors, GeoIP, sessions, rewards, process. No label names a business or a session.",
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String,
        example = "# HELP svea_raft_term Current Raft term.\n# TYPE svea_raft_term gauge\nsvea_raft_term 7\n# EOF\n"),
        (status = 401, description = "`unauthorized`: no bearer token, or neither the scrape token (`operator.metrics_token`) nor, \
            on the operator listener, the operator token.", content_type = "application/problem+json", body = super::Problem,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"svea-operator\"`")))))]
pub async fn metrics(node: web::Data<NodeHandle>, req: HttpRequest, listener: Option<web::Data<MetricsListener>>) -> ApiResult {
    authorize(&node, &req, listener.is_some())?;
    // Maintenance mode is replicated state: read at scrape time like the Raft numbers.
    let maintenance = crate::core::operator::maintenance(&node).map_or(0, |m| i64::from(m.is_some()));
    node.telemetry().events().maintenance.set(maintenance);
    match node.telemetry().encode() {
        Ok(text) => Ok(HttpResponse::Ok().content_type(crate::telemetry::CONTENT_TYPE).body(text)),
        Err(_) => Err(ApiError::Actor(crate::actors::ActorError::Internal("metrics could not be encoded".into()))),
    }
}
