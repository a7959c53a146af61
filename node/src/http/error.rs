//! What goes wrong in a request, and the one mapping from it to an HTTP status and an RFC 9457
//! problem document ([`status_for`]); also the extractor error handlers that turn malformed
//! bodies, paths and queries into problems.

use actix_web::error::{JsonPayloadError, PathError};
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};

use crate::actors::{ActorError, Missing};
use crate::core::pos::WebhookError;
use crate::domain::{DomainError, PosError};

/// Seconds a client should wait before retrying a 503.
pub const RETRY_AFTER_S: u32 = 1;

/// Prefix of problem `type` URIs; the suffix is the stable kind.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:svea:problem:";

/// An API error: what went wrong, before it becomes a status and a problem document.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// From an actor or the node.
    #[error(transparent)]
    Actor(#[from] ActorError),
    /// The request was malformed (JSON syntax, types, missing fields).
    #[error("{detail}")]
    BadRequest {
        /// Stable kind.
        kind: &'static str,
        /// Detail.
        detail: String,
    },
    /// The body is larger than the configured limit.
    #[error("request body is larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The body is not JSON.
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    /// The operator token is missing or wrong (or the operator API is off on this node).
    #[error("{0}")]
    Unauthorized(String),
    /// Till input refused (webhook or registration).
    #[error(transparent)]
    Pos(#[from] PosError),
    /// The client address is over its request bucket (`[abuse]`); retry after that many seconds.
    #[error("too many requests from this address; retry in {retry_after_s} s")]
    RateLimited {
        /// Whole seconds until the bucket lets a request through.
        retry_after_s: u64,
    },
    /// A business endpoint without a valid API key of that business.
    #[error("{0}")]
    BusinessUnauthorized(String),
    /// No such route.
    #[error("no route for {method} {path}")]
    NoRoute {
        /// Method.
        method: String,
        /// Path.
        path: String,
    },
}

impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::Pos(p) => ApiError::Pos(p),
            WebhookError::Actor(a) => ApiError::Actor(a),
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        ApiError::Actor(ActorError::Domain(e))
    }
}

/// The one mapping from errors to HTTP status codes.
pub fn status_for(e: &ApiError) -> StatusCode {
    match e {
        ApiError::Actor(a) => match a {
            ActorError::Domain(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ActorError::NotFound { .. } => StatusCode::NOT_FOUND,
            ActorError::Conflict { .. } => StatusCode::CONFLICT,
            ActorError::Busy { .. } | ActorError::Unavailable(_) | ActorError::Fenced { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ActorError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        },
        ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
        ApiError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ApiError::NoRoute { .. } => StatusCode::NOT_FOUND,
        ApiError::Unauthorized(_) | ApiError::BusinessUnauthorized(_) => StatusCode::UNAUTHORIZED,
        ApiError::Pos(p) => match p {
            PosError::UnknownProvider(_) => StatusCode::NOT_FOUND,
            PosError::Invalid(_) => StatusCode::BAD_REQUEST,
            PosError::BadSignature | PosError::Stale { .. } => StatusCode::UNAUTHORIZED,
            PosError::Currency(_) | PosError::UnmappedLocation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            PosError::AccountTaken(_) => StatusCode::CONFLICT,
        },
        ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
    }
}

/// The stable kind of an error (the suffix of its problem `type`; the customer's page turns it
/// into a sentence).
pub(crate) fn kind_of(e: &ApiError) -> &str {
    match e {
        ApiError::Actor(a) => match a {
            ActorError::Domain(d) => d.kind(),
            ActorError::NotFound { what: Missing::Session, .. } => "session-not-found",
            ActorError::NotFound { what: Missing::Business, .. } => "business-not-found",
            ActorError::NotFound { what: Missing::QrToken, .. } => "qr-token-not-found",
            ActorError::NotFound { what: Missing::Node, .. } => "node-not-found",
            ActorError::NotFound { what: Missing::Location, .. } => "location-not-found",
            ActorError::Conflict { kind, .. } => kind.as_str(),
            ActorError::Busy { .. } => "busy",
            ActorError::Unavailable(_) | ActorError::Fenced { .. } => "unavailable",
            ActorError::Internal(_) => "internal",
        },
        ApiError::BadRequest { kind, .. } => kind,
        ApiError::BodyTooLarge { .. } => "body-too-large",
        ApiError::UnsupportedMediaType => "unsupported-media-type",
        ApiError::NoRoute { .. } => "no-route",
        ApiError::Unauthorized(_) | ApiError::BusinessUnauthorized(_) => "unauthorized",
        ApiError::Pos(p) => match p {
            PosError::UnknownProvider(_) => "unknown-provider",
            PosError::Invalid(_) => "invalid-pos-input",
            PosError::BadSignature => "invalid-signature",
            PosError::Stale { .. } => "stale-webhook",
            PosError::Currency(_) => "unsupported-currency",
            PosError::UnmappedLocation(_) => "unmapped-location",
            PosError::AccountTaken(_) => "pos-account-taken",
        },
        ApiError::RateLimited { .. } => "rate-limited",
    }
}

/// RFC 9457 problem details.
#[derive(Debug, Serialize, Deserialize)]
pub struct Problem {
    /// Stable URI of the problem kind.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary (the status's reason phrase).
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What exactly went wrong.
    pub detail: String,
    /// This occurrence: `urn:svea:request:<request id>` (the `X-Request-Id` of the response,
    /// and the id its log lines carry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

/// The `instance` of a problem answered while serving request `id`.
pub fn problem_instance(id: &crate::request_id::RequestId) -> String {
    format!("urn:svea:request:{id}")
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_for(self)
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(error = %self, "request failed");
        }
        let body = Problem {
            kind: format!("{PROBLEM_TYPE_PREFIX}{}", kind_of(self)),
            title: status.canonical_reason().unwrap_or("error").to_string(),
            status: status.as_u16(),
            detail: self.to_string(),
            instance: crate::request_id::current().as_ref().map(problem_instance),
        };
        let mut resp = HttpResponse::build(status);
        resp.content_type("application/problem+json");
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.insert_header((header::RETRY_AFTER, RETRY_AFTER_S.to_string()));
        }
        match self {
            ApiError::RateLimited { retry_after_s } => {
                resp.insert_header((header::RETRY_AFTER, retry_after_s.to_string()));
            }
            ApiError::Unauthorized(_) => {
                resp.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"svea-operator\""));
            }
            ApiError::BusinessUnauthorized(_) => {
                resp.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"svea-business\""));
            }
            _ => {}
        }
        resp.json(body)
    }
}

pub(crate) type ApiResult = Result<HttpResponse, ApiError>;

pub(crate) fn bad(kind: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::BadRequest { kind, detail: detail.into() }
}

/// Problem for a JSON body the extractor refused (`limit`: the body size limit).
pub(crate) fn json_error(limit: usize) -> impl Fn(JsonPayloadError, &HttpRequest) -> actix_web::Error + Clone {
    move |err, _req| {
        let api = match &err {
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => ApiError::BodyTooLarge { limit },
            JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
            JsonPayloadError::Deserialize(e) if e.is_data() => bad("invalid-body", format!("request body does not match the schema: {e}")),
            JsonPayloadError::Deserialize(e) => bad("malformed-json", format!("request body is not valid JSON: {e}")),
            other => bad("invalid-body", other.to_string()),
        };
        api.into()
    }
}

/// Problem for a path the extractor refused.
pub(crate) fn path_error(err: PathError, _req: &HttpRequest) -> actix_web::Error {
    bad("invalid-path", err.to_string()).into()
}
