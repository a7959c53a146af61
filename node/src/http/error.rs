//! What goes wrong in a request, and the one mapping from it to an HTTP status and an RFC 9457
//! problem document ([`status_for`]); also the extractor error handlers that turn malformed
//! bodies, paths and queries into problems.

use actix_web::error::{JsonPayloadError, PathError};
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};

use crate::actors::{ActorError, Missing};
use crate::core::payouts::PayoutError;
use crate::core::pos::WebhookError;
use crate::core::stripe::{StripeCallError, TopUpError};
use crate::domain::stripe::StripeError;
use crate::domain::{DeviceTokenError, DomainError, PosError};

/// Seconds a client should wait before retrying a 503.
pub const RETRY_AFTER_S: u32 = 1;

/// The `WWW-Authenticate` challenge of a refused device token.
pub const DEVICE_TOKEN_CHALLENGE: &str = "DeviceToken realm=\"svea-customer\"";

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
    /// The client address created its `signup.creations_per_address_hour` businesses this hour.
    #[error("this address created too many businesses this hour; retry in {retry_after_s} s")]
    CreationLimited {
        /// Whole seconds until the address's sign-up bucket lets a creation through.
        retry_after_s: u64,
    },
    /// The client address holds `http.connections_per_address_max` connections already; this
    /// one is answered and closed.
    #[error("too many connections from this address (at most {max} at once)")]
    TooManyConnections {
        /// The cap.
        max: u32,
    },
    /// The request's body did not arrive within `http.request_read_timeout_ms`.
    #[error("the request was not received within {after_ms} ms")]
    RequestTimeout {
        /// The deadline.
        after_ms: u64,
    },
    /// A business endpoint without a valid API key of that business.
    #[error("{0}")]
    BusinessUnauthorized(String),
    /// A customer's `device_token` (or the page's device cookie where a step needs it) that svea
    /// did not issue: made up, altered, or another cluster's.
    #[error(transparent)]
    DeviceUnauthorized(#[from] DeviceTokenError),
    /// Maintenance mode is on (`svea cluster maintenance`): customer endpoints wait.
    #[error("svea is under maintenance: {message}")]
    Maintenance {
        /// The operator's message.
        message: String,
        /// Seconds to wait before retrying.
        retry_after_s: u32,
    },
    /// A Stripe webhook delivery refused: its signature, its time or its event.
    #[error(transparent)]
    Stripe(#[from] crate::domain::stripe::StripeError),
    /// A card top-up that could not be started.
    #[error(transparent)]
    TopUp(#[from] crate::core::stripe::TopUpError),
    /// A payee's details refused (`domain::payee`): the variant carries no digit of them.
    #[error(transparent)]
    Payee(#[from] crate::domain::payee::PayeeError),
    /// Payees off on this cluster, a Swish callback where Swish is not the rail, or Swish not
    /// answering the status query a callback makes.
    #[error(transparent)]
    Payout(crate::core::payouts::PayoutError),
    /// A path the listener serves, asked with a method it does not serve there (RFC 9110
    /// 15.5.6: 405 with `Allow`).
    #[error("{method} is not served at {path}; allowed: {}", allow.join(", "))]
    MethodNotAllowed {
        /// The method asked.
        method: String,
        /// The path asked.
        path: String,
        /// The methods that path serves (its route table's lines).
        allow: Vec<&'static str>,
    },
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

impl From<crate::core::payouts::PayoutError> for ApiError {
    fn from(e: crate::core::payouts::PayoutError) -> Self {
        match e {
            crate::core::payouts::PayoutError::Actor(a) => ApiError::Actor(a),
            other => ApiError::Payout(other),
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
            ActorError::NotFound { what: Missing::RetiredQrToken, .. } => StatusCode::GONE,
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
        ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
        ApiError::Unauthorized(_) | ApiError::BusinessUnauthorized(_) | ApiError::DeviceUnauthorized(_) => StatusCode::UNAUTHORIZED,
        ApiError::Pos(p) => match p {
            PosError::UnknownProvider(_) => StatusCode::NOT_FOUND,
            PosError::Invalid(_) => StatusCode::BAD_REQUEST,
            PosError::BadSignature | PosError::Stale { .. } => StatusCode::UNAUTHORIZED,
            PosError::Currency(_) | PosError::UnmappedLocation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            PosError::AccountTaken(_) => StatusCode::CONFLICT,
        },
        ApiError::RateLimited { .. } | ApiError::CreationLimited { .. } | ApiError::TooManyConnections { .. } => {
            StatusCode::TOO_MANY_REQUESTS
        }
        ApiError::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
        ApiError::Maintenance { .. } => StatusCode::SERVICE_UNAVAILABLE,
        ApiError::Stripe(e) => match e {
            StripeError::Currency(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::BAD_REQUEST,
        },
        ApiError::Payee(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ApiError::Payout(e) => match e {
            PayoutError::PayeesOff | PayoutError::NotSwish => StatusCode::NOT_FOUND,
            PayoutError::Rail(_) | PayoutError::Actor(_) => StatusCode::SERVICE_UNAVAILABLE,
        },
        ApiError::TopUp(e) => match e {
            TopUpError::NotConfigured => StatusCode::NOT_FOUND,
            TopUpError::Amount { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            TopUpError::Request => StatusCode::BAD_REQUEST,
            TopUpError::Stripe(StripeCallError::IdempotencyConflict { .. }) => StatusCode::CONFLICT,
            TopUpError::Stripe(StripeCallError::Timeout { .. } | StripeCallError::Connect(_) | StripeCallError::Unavailable { .. }) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            // Stripe refused what svea sent (its key, its parameters): svea's fault, logged.
            TopUpError::Stripe(StripeCallError::Refused { .. } | StripeCallError::Unparsable(_)) => StatusCode::BAD_GATEWAY,
        },
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
            ActorError::NotFound { what: Missing::OrgNumber, .. } => "org-number-not-found",
            ActorError::NotFound { what: Missing::HeldReward, .. } => "held-reward-not-found",
            ActorError::NotFound { what: Missing::Wallet, .. } => "wallet-not-found",
            ActorError::NotFound { what: Missing::Payout, .. } => "payout-not-found",
            ActorError::NotFound { what: Missing::Payment, .. } => "payment-not-found",
            ActorError::NotFound { what: Missing::RetiredQrToken, .. } => "qr-token-retired",
            ActorError::Conflict { kind, .. } => kind.as_str(),
            ActorError::Busy { .. } => "busy",
            ActorError::Unavailable(_) | ActorError::Fenced { .. } => "unavailable",
            ActorError::Internal(_) => "internal",
        },
        ApiError::BadRequest { kind, .. } => kind,
        ApiError::BodyTooLarge { .. } => "body-too-large",
        ApiError::UnsupportedMediaType => "unsupported-media-type",
        ApiError::NoRoute { .. } => "no-route",
        ApiError::MethodNotAllowed { .. } => "method-not-allowed",
        ApiError::Unauthorized(_) | ApiError::BusinessUnauthorized(_) => "unauthorized",
        // One kind for a malformed and a forged token: neither says anything about a device.
        ApiError::DeviceUnauthorized(_) => "invalid-device-token",
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
        ApiError::CreationLimited { .. } => "business-creation-limited",
        ApiError::TooManyConnections { .. } => "too-many-connections",
        ApiError::RequestTimeout { .. } => "request-timeout",
        ApiError::Maintenance { .. } => "maintenance",
        ApiError::Stripe(e) => e.kind(),
        ApiError::Payee(e) => e.kind(),
        ApiError::Payout(e) => match e {
            PayoutError::PayeesOff => "payees-off",
            PayoutError::NotSwish => "swish-not-configured",
            PayoutError::Rail(_) => "payout-rail-unavailable",
            // Never built: `From` turns it into `ApiError::Actor`.
            PayoutError::Actor(_) => "unavailable",
        },
        ApiError::TopUp(e) => match e {
            TopUpError::NotConfigured => "card-top-ups-off",
            TopUpError::Amount { .. } => "invalid-top-up-amount",
            TopUpError::Request => "invalid-top-up-request",
            TopUpError::Stripe(StripeCallError::IdempotencyConflict { .. }) => "top-up-request-reused",
            TopUpError::Stripe(StripeCallError::Timeout { .. } | StripeCallError::Connect(_) | StripeCallError::Unavailable { .. }) => {
                "payment-provider-unavailable"
            }
            TopUpError::Stripe(StripeCallError::Refused { .. } | StripeCallError::Unparsable(_)) => "payment-provider-error",
        },
    }
}

/// RFC 9457 problem details.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"type": "urn:svea:problem:business-not-found", "title": "Not Found", "status": 404,
    "detail": "business b_0123456789abcdef0123456789abcdef not found"}))]
pub struct Problem {
    /// Stable URI of the problem kind: `urn:svea:problem:<kind>`; each operation lists the kinds it
    /// can answer with.
    #[serde(rename = "type")]
    #[schema(pattern = "^urn:svea:problem:[a-z0-9-]+$", example = "urn:svea:problem:rate-limited")]
    pub kind: String,
    /// Short summary (the status's reason phrase).
    #[schema(example = "Too Many Requests")]
    pub title: String,
    /// HTTP status.
    #[schema(minimum = 400, maximum = 599, example = 429)]
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
        } else if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::debug!(error = %self, "answered 503: retry later");
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
            ApiError::RateLimited { retry_after_s } | ApiError::CreationLimited { retry_after_s } => {
                resp.insert_header((header::RETRY_AFTER, retry_after_s.to_string()));
            }
            // The connection goes with the answer: a client over its connections, or one too
            // slow to send its request, keeps no socket of this node.
            ApiError::TooManyConnections { .. } => {
                resp.insert_header((header::RETRY_AFTER, RETRY_AFTER_S.to_string()));
                resp.force_close();
            }
            ApiError::RequestTimeout { .. } => {
                resp.force_close();
            }
            ApiError::MethodNotAllowed { allow, .. } => {
                resp.insert_header((header::ALLOW, allow.join(", ")));
            }
            ApiError::Maintenance { retry_after_s, .. } => {
                resp.insert_header((header::RETRY_AFTER, retry_after_s.to_string()));
            }
            ApiError::Unauthorized(_) => {
                resp.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"svea-operator\""));
            }
            ApiError::BusinessUnauthorized(_) => {
                resp.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"svea-business\""));
            }
            ApiError::DeviceUnauthorized(_) => {
                // The credential travels in the body (`device_token`), not in a header; RFC 9110
                // still asks a 401 to name its scheme.
                resp.insert_header((header::WWW_AUTHENTICATE, DEVICE_TOKEN_CHALLENGE));
            }
            _ => {}
        }
        resp.json(body)
    }
}

/// The problem answers operations share, for the OpenAPI document (`http::openapi`): each
/// operation lists the groups that apply to it in its `responses(...)`, and its own kinds beside.
pub mod answers {
    use super::Problem;

    /// 429 `rate-limited`: every public route but `/health`, `/ready` and `/metrics` (`http::ratelimit`).
    #[derive(utoipa::IntoResponses)]
    pub enum RateLimited {
        /// Over the limit.
        #[response(status = 429, description = "`rate-limited`: this client address is over its request bucket (`[abuse]` \
            `requests_per_second`, `burst`; IPv6 per /64).", content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Whole seconds until the bucket lets a request through.")),
            example = json!({"type": "urn:svea:problem:rate-limited", "title": "Too Many Requests", "status": 429,
                "detail": "too many requests from this address; retry in 1 s"}))]
        RateLimited(Problem),
    }

    /// 429 `business-creation-limited`: `POST /v1/businesses` (`[signup]`).
    #[derive(utoipa::IntoResponses)]
    pub enum CreationLimited {
        /// Over the sign-up bucket, or the request bucket.
        #[response(status = 429, description = "`business-creation-limited`: this client address created \
            `signup.creations_per_address_hour` businesses in the last hour (IPv6 per /64); `rate-limited`: over its \
            request bucket.", content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Whole seconds until the bucket lets the next one through.")),
            example = json!({"type": "urn:svea:problem:business-creation-limited", "title": "Too Many Requests", "status": 429,
                "detail": "this address created too many businesses this hour; retry in 720 s"}))]
        CreationLimited(Problem),
    }

    /// 429 `rate-limited` of the privacy routes: the general bucket, and their own stricter one.
    #[derive(utoipa::IntoResponses)]
    pub enum PrivacyRateLimited {
        /// Over either limit.
        #[response(status = 429, description = "`rate-limited`: this client address is over its request bucket (`[abuse]` \
            `requests_per_second`, `burst`) or over the privacy routes' own (`privacy_requests_per_minute`, `privacy_burst`; \
            IPv6 per /64).", content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Whole seconds until the bucket lets a request through.")),
            example = json!({"type": "urn:svea:problem:rate-limited", "title": "Too Many Requests", "status": 429,
                "detail": "too many requests from this address; retry in 12 s"}))]
        RateLimited(Problem),
    }

    /// 503 `busy` / `unavailable`, 500 `internal`: whatever asks an actor or the cluster.
    #[derive(utoipa::IntoResponses)]
    pub enum Busy {
        /// Busy or unavailable.
        #[response(status = 503, description = "`busy`: the actor's mailbox is full; `unavailable`: no quorum, or this node \
            lost the actor's ownership meanwhile; `maintenance`: the operators switched maintenance mode on (customer endpoints \
            only; `Retry-After` is theirs). Safe to retry.", content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying.")),
            example = json!({"type": "urn:svea:problem:busy", "title": "Service Unavailable", "status": 503,
                "detail": "session s_0123456789abcdef0123456789abcdef is busy, retry shortly"}))]
        Busy(Problem),
        /// A fault of the node (logged).
        #[response(status = 500, description = "`internal`: a fault of the node; it is logged.",
            content_type = "application/problem+json",
            example = json!({"type": "urn:svea:problem:internal", "title": "Internal Server Error", "status": 500,
                "detail": "internal error: storage failed"}))]
        Internal(Problem),
    }

    /// 400 / 413 / 415: a JSON body the extractor refused.
    #[derive(utoipa::IntoResponses)]
    pub enum BadBody {
        /// Not JSON, or not the schema.
        #[response(status = 400, description = "`malformed-json`: the body is not JSON; `invalid-body`: it does not match \
            the schema (unknown fields are refused); `invalid-path`: a path parameter could not be read.",
            content_type = "application/problem+json",
            example = json!({"type": "urn:svea:problem:malformed-json", "title": "Bad Request", "status": 400,
                "detail": "request body is not valid JSON: EOF while parsing an object at line 1 column 1"}))]
        BadRequest(Problem),
        /// Too large.
        #[response(status = 413, description = "`body-too-large`: larger than `limits.http_body_bytes`.",
            content_type = "application/problem+json",
            example = json!({"type": "urn:svea:problem:body-too-large", "title": "Payload Too Large", "status": 413,
                "detail": "request body is larger than 65536 bytes"}))]
        TooLarge(Problem),
        /// Not JSON by its content type.
        #[response(status = 415, description = "`unsupported-media-type`: the content type is not `application/json`.",
            content_type = "application/problem+json",
            example = json!({"type": "urn:svea:problem:unsupported-media-type", "title": "Unsupported Media Type",
                "status": 415, "detail": "content type must be application/json"}))]
        UnsupportedMediaType(Problem),
    }

    /// 401 / 404 of a business endpoint (`http::auth::authorize`).
    #[derive(utoipa::IntoResponses)]
    pub enum BusinessAuth {
        /// No key, not a key, or not this business's current key.
        #[response(status = 401, description = "`unauthorized`: no `Authorization: Bearer svea_sk_...`, a malformed \
            key, a key that is not the business's current one (rotated away), or a business that does not exist \
            (the same answer, so a guessed key reveals nothing).", content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"svea-business\"`")),
            example = json!({"type": "urn:svea:problem:unauthorized", "title": "Unauthorized", "status": 401,
                "detail": "invalid API key for this business"}))]
        Unauthorized(Problem),
        /// Another business's key.
        #[response(status = 404, description = "`business-not-found`: the key is another business's, or the id is not \
            a business id (a key tells nothing about other businesses); `location-not-found` where a location is \
            named and the business has no such location; `held-reward-not-found` where a held reward is named and \
            none of that session is held.", content_type = "application/problem+json",
            example = json!({"type": "urn:svea:problem:business-not-found", "title": "Not Found", "status": 404,
                "detail": "business b_0123456789abcdef0123456789abcdef not found"}))]
        NotFound(Problem),
    }

    /// 401 `invalid-device-token`: a customer operation whose `device_token` svea did not issue.
    #[derive(utoipa::IntoResponses)]
    pub enum DeviceAuth {
        /// Not a token svea issued.
        #[response(status = 401, description = "`invalid-device-token`: `device_token` is not a token svea issued (made up, \
            altered, the old client-chosen `device_id` text, or another cluster's). Nothing about any device is revealed: \
            a valid token of a device without sessions and a forged one differ only in this verification.",
            content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "`DeviceToken realm=\"svea-customer\"`")),
            example = json!({"type": "urn:svea:problem:invalid-device-token", "title": "Unauthorized", "status": 401,
                "detail": "device token was not issued by svea"}))]
        Unauthorized(Problem),
    }

    /// 401 of the operator API (`http::operator`).
    #[derive(utoipa::IntoResponses)]
    pub enum OperatorAuth {
        /// No token, a wrong one, or the operator API off.
        #[response(status = 401, description = "`unauthorized`: no `Authorization: Bearer <operator token>`, a wrong \
            token, or `[operator] token` unset on this node.", content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"svea-operator\"`")),
            example = json!({"type": "urn:svea:problem:unauthorized", "title": "Unauthorized", "status": 401,
                "detail": "wrong operator token"}))]
        Unauthorized(Problem),
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
