//! Security headers on every response, public and operator listener alike: what a browser must
//! not do with our answers. Added here once, as middleware, so no handler can forget them.
//!
//! - `X-Content-Type-Options: nosniff`: a JSON answer is never run as a script or style.
//! - `Cache-Control: no-store` unless the handler set its own (only the embedded assets do):
//!   session states, budgets, keys and pages never land in a shared or browser cache.
//! - `Strict-Transport-Security` when the listener serves HTTPS: browsers never try plain HTTP.
//! - `Referrer-Policy: no-referrer`: a session URL never leaks to another site (the customer's
//!   page says `same-origin` itself: its forms must carry its origin, and nothing leaves the site).
//! - `Content-Security-Policy`: only our own origin, no framing, no plugins, no inline script.
//! - `X-Frame-Options: DENY`: for browsers that predate `frame-ancestors`.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;

/// One year, with subdomains: the usual HSTS policy once HTTPS is the only way in.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";
/// Our own origin only; forms post only to it; never framed; no plugins.
pub const CSP: &str = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";
/// The API reference page's: [`CSP`] with images also from `data:` URLs, which Swagger UI's
/// stylesheet and bundle use for their icons (an image cannot run script).
pub const CSP_DATA_IMAGES: &str = "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

/// Whether the listener these headers go out on serves HTTPS (decides HSTS).
#[derive(Debug, Clone, Copy)]
pub struct Https(pub bool);

/// Adds the security headers to the response of every request (errors and 404s included).
pub async fn headers(req: ServiceRequest, next: Next<impl MessageBody + 'static>) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let https = req.app_data::<actix_web::web::Data<Https>>().is_some_and(|h| h.0);
    let mut res = next.call(req).await?;
    let h = res.headers_mut();
    // Every answer today is an API answer; a page that may be cached sets its own policy.
    let cache = (!h.contains_key(header::CACHE_CONTROL)).then_some((header::CACHE_CONTROL, "no-store"));
    let hsts = https.then_some((header::STRICT_TRANSPORT_SECURITY, HSTS));
    // A page that posts forms to its own origin says `same-origin` (see `http::page`).
    let referrer = (!h.contains_key(header::REFERRER_POLICY)).then_some((header::REFERRER_POLICY, "no-referrer"));
    // A page may set a policy of its own only by naming one of this module's.
    let own_csp = h.get(header::CONTENT_SECURITY_POLICY).is_some_and(|v| v == CSP_DATA_IMAGES);
    let csp = (!own_csp).then_some((header::CONTENT_SECURITY_POLICY, CSP));
    let always: [(HeaderName, &'static str); 2] = [(header::X_CONTENT_TYPE_OPTIONS, "nosniff"), (header::X_FRAME_OPTIONS, "DENY")];
    for (name, value) in always.into_iter().chain(csp).chain(referrer).chain(cache).chain(hsts) {
        h.insert(name, HeaderValue::from_static(value));
    }
    Ok(res)
}
