//! `GET /metrics`: the node's registry (`crate::telemetry`) in the OpenMetrics text format.

use actix_web::{web, HttpResponse};

use crate::core::NodeHandle;

/// `GET /metrics`: every family of the node's registry.
#[utoipa::path(get, path = "/metrics", tag = "system", operation_id = "metrics",
    responses((status = 200, description = "Every metric family of the node's registry in the OpenMetrics text format (not rate limited): \
            HTTP, Raft, cluster, actors, GeoIP, sessions, rewards, process.",
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String,
        example = "# HELP svea_raft_term Current Raft term.\n# TYPE svea_raft_term gauge\nsvea_raft_term 7\n# EOF\n")))]
pub async fn metrics(node: web::Data<NodeHandle>) -> HttpResponse {
    // Maintenance mode is replicated state: read at scrape time like the Raft numbers.
    let maintenance = crate::core::operator::maintenance(&node).map_or(0, |m| i64::from(m.is_some()));
    node.telemetry().events().maintenance.set(maintenance);
    match node.telemetry().encode() {
        Ok(text) => HttpResponse::Ok().content_type(crate::telemetry::CONTENT_TYPE).body(text),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}
