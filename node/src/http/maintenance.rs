//! Maintenance mode at the edge: while the replicated maintenance record is on, customer
//! endpoints answer 503 with `Retry-After` (the API a problem, the customer's page a notice with
//! the operator's message). Everything else keeps working: `/health`, `/ready`, `/metrics` (operator listener), the
//! operator API (its own listener), business endpoints, and till webhooks, which are accepted so
//! a purchase reported during maintenance is not lost (tills do not retry for long).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};

use super::error::ApiError;
use crate::core::{operator, NodeHandle};

/// API paths a customer's phone calls: sessions, purchases, feedback.
const CUSTOMER_API_PREFIX: &str = "/v1/sessions";

/// Whether `path` is customer-facing (the customer's page or the customer API).
fn customer_facing(path: &str) -> bool {
    path.starts_with(super::page::PAGE_PREFIX) || path == CUSTOMER_API_PREFIX || path.starts_with("/v1/sessions/")
}

/// Middleware of the public listener: refuses customer requests while maintenance is on.
pub async fn gate(req: ServiceRequest, next: Next<impl MessageBody>) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if customer_facing(req.path()) {
        if let Some(node) = req.app_data::<web::Data<NodeHandle>>() {
            // A record that cannot be read does not stop customers; it is logged.
            match operator::maintenance(node) {
                Ok(Some(m)) => {
                    let resp = if req.path().starts_with(super::page::PAGE_PREFIX) {
                        super::page::maintenance(req.request(), &m.message, m.retry_after_s)
                    } else {
                        ApiError::Maintenance { message: m.message, retry_after_s: m.retry_after_s }.error_response()
                    };
                    return Ok(req.into_response(resp).map_into_right_body());
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot read the maintenance record"),
            }
        }
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::customer_facing;

    #[test]
    fn only_customer_paths_are_gated() {
        for p in ["/v1/sessions", "/v1/sessions/s_1", "/v1/sessions/s_1/feedback", "/q/abc", "/q/abc/open"] {
            assert!(customer_facing(p), "{p}");
        }
        for p in ["/health", "/ready", "/metrics", "/v1/businesses", "/v1/pos/generic/webhook", "/v1/sessionsx", "/v1/privacy/export"] {
            assert!(!customer_facing(p), "{p}");
        }
    }
}
