//! One middleware on both listeners for what every request gets: a request id (a trusted
//! proxy's `X-Request-Id`, else a fresh one), answered in `X-Request-Id`, set as the request's
//! log span and task-local id (so every log line of the request, the core thread's and an owning
//! node's included, names it, and problem documents carry it in `instance`), one access-log line,
//! and the request counter and duration histogram by route pattern and status.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use tracing::Instrument;

use crate::core::NodeHandle;
use crate::request_id::{self, RequestId};
use crate::telemetry::HttpLabels;

/// The request id header, in and out.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// The `route` label of a request no route matched (bounded: never the raw path).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The id of `req`: the `X-Request-Id` a trusted proxy (`geo.trusted_proxies`, the rule
/// `X-Forwarded-For` follows) sent, if well-formed; otherwise a new one. A caller that is not a
/// trusted proxy cannot choose the id its request is logged under.
pub fn request_id_of(req: &actix_web::HttpRequest, trusted_proxies: &[svea_config::IpNetwork]) -> RequestId {
    let from_proxy = req.peer_addr().is_some_and(|p| svea_geo::is_trusted_proxy(p.ip(), trusted_proxies));
    from_proxy
        .then(|| req.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).and_then(RequestId::parse))
        .flatten()
        .unwrap_or_else(RequestId::generate)
}

/// The middleware (`actix_web::middleware::from_fn(observe)`), outermost on both listeners.
pub async fn observe(req: ServiceRequest, next: Next<impl MessageBody + 'static>) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let node = req.app_data::<web::Data<NodeHandle>>().cloned();
    let id = match &node {
        Some(n) => request_id_of(req.request(), &n.config().geo.trusted_proxies),
        None => RequestId::generate(),
    };
    let started = Instant::now();
    let method = req.method().to_string();
    let span = tracing::info_span!("request", request_id = %id);
    let result = request_id::scope(Some(id.clone()), next.call(req)).instrument(span.clone()).await;
    let latency = started.elapsed();
    let (route, status) = match &result {
        Ok(res) => (res.request().match_pattern(), res.status()),
        Err(e) => (None, e.as_response_error().status_code()),
    };
    let route = route.unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
    span.in_scope(|| {
        tracing::info!(route = %route, method = %method, status = status.as_u16(), latency_ms = latency.as_secs_f64() * 1000.0, "request");
    });
    if let Some(n) = &node {
        n.telemetry().events().http_request(HttpLabels { route, method, status: status.as_u16() }, latency);
    }
    let mut res = result?;
    if let Ok(v) = HeaderValue::from_str(id.as_str()) {
        res.headers_mut().insert(HeaderName::from_static(REQUEST_ID_HEADER), v);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn a_proxys_id_is_kept_and_anyone_elses_replaced() {
        let proxies: Vec<svea_config::IpNetwork> = vec!["10.0.0.0/8".parse().unwrap()];
        let from = |peer: &str, id: &str| {
            let req = TestRequest::default().peer_addr(peer.parse().unwrap()).insert_header((REQUEST_ID_HEADER, id)).to_http_request();
            request_id_of(&req, &proxies).to_string()
        };
        assert_eq!(from("10.1.2.3:5000", "abc-123"), "abc-123");
        assert_ne!(from("192.0.2.7:5000", "abc-123"), "abc-123");
        // Even a proxy's id must be well-formed.
        let evil = from("10.1.2.3:5000", "a b<script>");
        assert!(RequestId::parse(&evil).is_some() && evil != "a b<script>");
        assert_ne!(from("10.1.2.3:5000", &"x".repeat(crate::request_id::REQUEST_ID_LEN_MAX + 1)).len(), 65);
    }
}
