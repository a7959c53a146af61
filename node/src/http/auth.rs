//! Business endpoints require the business's own API key: `Authorization: Bearer <key>`.
//!
//! Answers, in order: no or unreadable `Authorization` header, or not a svea key: 401. A valid-looking
//! key of another business: 404, exactly as for a business that does not exist (a key tells
//! nothing about other businesses). The business's own id with a key that is not its current one
//! (wrong, rotated away) or an id that does not exist: 401, the same answer for both, so a guessed
//! key reveals nothing either. The key's hash is compared in constant time
//! ([`crate::domain::KeyHash`]).

use actix_web::http::header;
use actix_web::HttpRequest;

use super::error::ApiError;
use crate::actors::business::Business;
use crate::actors::{ActorError, Missing};
use crate::core::NodeHandle;
use crate::domain::{ApiKey, BusinessId};

/// A business endpoint's caller, checked: the business and the key it presented.
pub struct Authorized {
    /// The business, as read with the key check (a linearizable read).
    pub business: Business,
    /// The key presented; `None` for a browser signed in by e-mail (a dashboard session).
    pub key: Option<ApiKey>,
}

/// The token of an `Authorization: Bearer <token>` header, if there is one.
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The presented API key, parsed (not yet checked against any business).
pub fn presented_key(req: &HttpRequest) -> Result<ApiKey, ApiError> {
    let token = bearer(req).ok_or_else(|| ApiError::BusinessUnauthorized("missing API key (Authorization: Bearer <key>)".into()))?;
    token.parse().map_err(|e: crate::domain::MalformedKey| ApiError::BusinessUnauthorized(e.to_string()))
}

/// Checks that the request carries the current API key of business `raw_id`, and returns it.
pub async fn authorize(node: &NodeHandle, req: &HttpRequest, raw_id: &str) -> Result<Authorized, ApiError> {
    authorize_key(node, presented_key(req)?, raw_id).await
}

/// Checks that `key` (presented some other way than the header: the dashboard's sign-in) is the
/// current API key of business `raw_id`, with the same answers as [`authorize`].
pub async fn authorize_key(node: &NodeHandle, key: ApiKey, raw_id: &str) -> Result<Authorized, ApiError> {
    let not_found = || ApiError::Actor(ActorError::NotFound { what: Missing::Business, id: raw_id.to_string() });
    let id: BusinessId = raw_id.parse().map_err(|_| not_found())?;
    if key.business() != &id {
        return Err(not_found());
    }
    match node.business_with_key(id, &key).await? {
        Some(business) => Ok(Authorized { business, key: Some(key) }),
        None => Err(ApiError::BusinessUnauthorized("invalid API key for this business".into())),
    }
}
