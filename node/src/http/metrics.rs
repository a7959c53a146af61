//! `GET /metrics`: the node's registry (`crate::telemetry`) in the OpenMetrics text format.

use actix_web::{web, HttpResponse};

use crate::core::NodeHandle;

/// `GET /metrics`: every family of the node's registry.
pub async fn metrics(node: web::Data<NodeHandle>) -> HttpResponse {
    match node.telemetry().encode() {
        Ok(text) => HttpResponse::Ok().content_type(crate::telemetry::CONTENT_TYPE).body(text),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}
