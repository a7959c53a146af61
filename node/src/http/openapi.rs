//! The OpenAPI 3.1 documents of the HTTP API, generated from the handlers: every route a listener
//! serves is one [`Served`] line of its table in `http/mod.rs` (method, path, handler and the
//! handler's `#[utoipa::path]` annotation), and the same table both registers the route with
//! actix-web and puts its operation, with the schemas it names, into the document. Nothing of the
//! document is written by hand: paths, parameters, bodies and responses come from the annotations,
//! schemas from the bodies' `ToSchema` derives, problem answers from `http::error::answers`.
//!
//! Each listener serves the document of its own routes at `GET /v1/openapi.json`: the public one
//! the public API and the pages, the operator listener (`operator.listen_addr`) the operator API.
//! Two documents rather than one with both: a client generated from a document then only knows
//! routes it can reach at that document's `servers` URL, and the public document tells the
//! internet nothing about the operator API (the operator document is itself served only on the
//! loopback listener, outside the token's scope since it holds no secret).

use std::sync::OnceLock;

use actix_web::http::Method;
use actix_web::{web, HttpResponse, Route};
use utoipa::openapi::path::HttpMethod;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Server, Tag};

use crate::core::NodeHandle;

/// One route a listener serves: what actix-web registers and what the document says of it.
pub struct Served {
    /// Its HTTP method.
    pub method: Method,
    /// Its path, in actix-web's (and OpenAPI's) `{param}` syntax.
    pub path: &'static str,
    /// Attaches the handler to the route (`|r| r.to(handler)`).
    to: fn(Route) -> Route,
    /// Adds the handler's operation and schemas to a document.
    doc: fn(&mut OpenApi),
}

impl Served {
    /// The route `method path` answered by `to`, documented by `P`, the struct `#[utoipa::path]`
    /// made for its handler (`module::__path_<handler>`).
    pub const fn new<P: utoipa::Path + utoipa::__dev::SchemaReferences + for<'t> utoipa::__dev::Tags<'t>>(method: Method, path: &'static str, to: fn(Route) -> Route) -> Served {
        Served { method, path, to, doc: document_operation::<P> }
    }

    /// Registers it on an app, `prefix` (a scope's path) taken off its path.
    pub(super) fn register(&self, cfg: &mut web::ServiceConfig, prefix: &str) {
        let path = self.path.strip_prefix(prefix).unwrap_or(self.path);
        cfg.route(path, (self.to)(web::method(self.method.clone())));
    }
}

fn document_operation<P: utoipa::Path + utoipa::__dev::SchemaReferences + for<'t> utoipa::__dev::Tags<'t>>(api: &mut OpenApi) {
    let mut operation = P::operation();
    // `#[utoipa::path(tag = ...)]` lands in `Tags`, which utoipa's `OpenApi` derive applies; this
    // table builds the document itself, so it applies them here.
    let tags: Vec<String> = P::tags().into_iter().map(str::to_owned).collect();
    if !tags.is_empty() {
        operation.tags = Some(tags);
    }
    api.paths.add_path_operation(P::path(), P::methods(), operation);
    let mut schemas = Vec::new();
    P::schemas(&mut schemas);
    let components = api.components.get_or_insert_with(Default::default);
    for (name, schema) in schemas {
        components.schemas.entry(name).or_insert(schema);
    }
}

/// `actix_web::http::Method` as the document names it.
pub fn http_method(m: &Method) -> Option<HttpMethod> {
    Some(match *m {
        Method::GET => HttpMethod::Get,
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::PATCH => HttpMethod::Patch,
        Method::DELETE => HttpMethod::Delete,
        Method::HEAD => HttpMethod::Head,
        Method::OPTIONS => HttpMethod::Options,
        Method::TRACE => HttpMethod::Trace,
        _ => return None,
    })
}

/// Which listener a document describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// `node.http_addr` (`public_url`): the public API and the pages.
    Public,
    /// `operator.listen_addr`: the operator API.
    Operator,
}

/// Security scheme names, as operations' `security(...)` name them.
pub const BUSINESS_API_KEY: &str = "business_api_key";
/// The business dashboard's sign-in cookie (`/business`).
pub const BUSINESS_DASHBOARD: &str = "business_dashboard";
/// The operator token.
pub const OPERATOR_TOKEN: &str = "operator_token";
/// The operator console's sign-in cookie (`/ops`).
pub const OPERATOR_CONSOLE: &str = "operator_console";
/// The scrape token of `/metrics` (`[operator] metrics_token`; the operator token opens it too).
pub const METRICS_TOKEN: &str = "metrics_token";
/// Till webhook signatures, one scheme per provider header.
pub const ZETTLE_SIGNATURE: &str = "zettle_signature";
/// Square's.
pub const SQUARE_SIGNATURE: &str = "square_signature";
/// Shopify's.
pub const SHOPIFY_SIGNATURE: &str = "shopify_signature";

fn tag(name: &str, description: &str) -> Tag {
    let mut t = Tag::new(name);
    t.description = Some(description.to_string());
    t
}

/// The document of `routes` (a listener's table), without `servers`.
pub fn document(listener: Listener, routes: &[Served]) -> OpenApi {
    let (title, description) = match listener {
        Listener::Public => (
            "svea",
            "Feedback for cashback: businesses create QR codes, customers scan one, confirm their purchase, write \
             feedback and get a share of the purchase back. Every node of every region serves this API; customers \
             are routed by GeoIP to their nearest healthy region (307 with `Location`). Errors are \
             `application/problem+json` (RFC 9457) with a stable `type` `urn:svea:problem:<kind>`; each operation \
             lists its kinds. Amounts are decimal strings in SEK with öre (`\"89.50\"`).",
        ),
        Listener::Operator => (
            "svea operator API",
            "Cluster operations (status, add, drain, remove). Served only on the operator listener \
             (`operator.listen_addr`, loopback by default), behind `[operator] token`.",
        ),
    };
    let mut components = ComponentsBuilder::new();
    components = match listener {
        Listener::Public => {
            let signature = |header: &str, how: &str| {
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(header, &format!("{how} Checked against the secret registered with `PUT /v1/businesses/{{id}}/pos/{{provider}}`."))))
            };
            components
                .security_scheme(
                    BUSINESS_API_KEY,
                    SecurityScheme::Http(
                        HttpBuilder::new()
                            .scheme(HttpAuthScheme::Bearer)
                            .bearer_format("svea_sk_<business id>_<secret>")
                            .description(Some("The business's API key, shown once when it is created or rotated."))
                            .build(),
                    ),
                )
                .security_scheme(
                    BUSINESS_DASHBOARD,
                    SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                        "svea_business",
                        "The dashboard's sign-in cookie, set by `POST /business/sign-in` with the business's API key (HttpOnly, SameSite=Strict, Path=/business).",
                    ))),
                )
                .security_scheme(ZETTLE_SIGNATURE, signature(super::pos::ZETTLE_SIGNATURE, "Zettle: hex HMAC-SHA256 of `<timestamp>.<payload>`."))
                .security_scheme(SQUARE_SIGNATURE, signature(super::pos::SQUARE_SIGNATURE, "Square: base64 HMAC-SHA256 of the notification URL followed by the body."))
                .security_scheme(SHOPIFY_SIGNATURE, signature(super::pos::SHOPIFY_SIGNATURE, "Shopify: base64 HMAC-SHA256 of the body."))
        }
        Listener::Operator => components
            .security_scheme(
                OPERATOR_TOKEN,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some("`[operator] token` of the node (operator listener only)."))
                        .build(),
                ),
            )
            .security_scheme(
                OPERATOR_CONSOLE,
                SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                    "svea_ops",
                    "The console's sign-in cookie, set by `POST /ops/sign-in` with the operator token (HMAC under the token, 8 h).",
                ))),
            )
            .security_scheme(
                METRICS_TOKEN,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(
                            "`[operator] metrics_token`, the scrape token: it opens `GET /metrics` and nothing else. On the operator \
                             listener the operator token opens `/metrics` too; on the metrics listener (`operator.metrics_listen_addr`) \
                             only the scrape token does.",
                        ))
                        .build(),
                ),
            ),
    };
    let tags = match listener {
        Listener::Public => vec![
            tag("businesses", "A business's account, QR codes, settings and till registration (its API key)."),
            tag("sessions", "A customer's session: open, confirm the purchase, give feedback."),
            tag("tills", "Purchase reports from tills (webhooks, signed by the provider)."),
            tag("funding", "Money into a business's budget: Stripe's webhook (signed by Stripe) and card top-ups."),
            tag("payouts", "Cashback out to customers: who a customer's Swish payouts go to, and Swish's payout callback."),
            tag("privacy", "A customer's own data: export and erasure by device id."),
            tag("pages", "HTML pages: the customer's page behind each QR code, and its assets."),
            tag("system", "Health, readiness, routing, metrics and this document."),
        ],
        Listener::Operator => vec![
            tag("operator", "Cluster membership and status, and the operator console (operator listener only)."),
            tag("pages", "The console's assets (stylesheets, scripts, icons)."),
            tag("system", "This document and the metrics."),
        ],
    };
    let mut api = OpenApiBuilder::new()
        .info(InfoBuilder::new().title(title).version(env!("CARGO_PKG_VERSION")).description(Some(description)).build())
        .components(Some(components.build()))
        .tags(Some(tags))
        .build();
    for r in routes {
        (r.doc)(&mut api);
    }
    api
}

/// A listener's document (of `PUBLIC_ROUTES` or `OPERATOR_ROUTES`), built once per process.
fn rendered(listener: Listener) -> &'static OpenApi {
    static PUBLIC: OnceLock<OpenApi> = OnceLock::new();
    static OPERATOR: OnceLock<OpenApi> = OnceLock::new();
    match listener {
        Listener::Public => PUBLIC.get_or_init(|| document(listener, super::PUBLIC_ROUTES)),
        Listener::Operator => OPERATOR.get_or_init(|| document(listener, super::OPERATOR_ROUTES)),
    }
}

fn serve(node: &NodeHandle, listener: Listener) -> HttpResponse {
    let mut api = rendered(listener).clone();
    let c = node.config();
    let server = match listener {
        Listener::Public => {
            let mut s = Server::new(c.node.public_url.trim_end_matches('/'));
            s.description = Some(format!("this node ({}); every node of every region serves the same API", c.node.region));
            s
        }
        Listener::Operator => {
            let mut s = Server::new(format!("http://{}", c.operator.listen_addr));
            s.description = Some("this node's operator listener (`operator.listen_addr`)".into());
            s
        }
    };
    api.servers = Some(vec![server]);
    HttpResponse::Ok().json(api)
}

/// `GET /v1/openapi.json` on the public listener.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "system", operation_id = "openapi", summary = "Read this API's document", description = "This OpenAPI 3.1 document of the public listener.",
    responses((status = 200, description = "This document (OpenAPI 3.1).", content_type = "application/json", body = Object,
            example = json!({"openapi": "3.1.0", "info": {"title": "svea", "version": "0.1.0"}, "paths": {}})),
        super::error::answers::RateLimited))]
pub(super) async fn public_document(node: web::Data<NodeHandle>) -> HttpResponse {
    serve(&node, Listener::Public)
}

/// `GET /v1/openapi.json` on the operator listener.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "system", operation_id = "operator_openapi", summary = "Read the operator API's document", description = "This OpenAPI 3.1 document of the operator listener.",
    responses((status = 200, description = "This document (OpenAPI 3.1): the operator API.", content_type = "application/json", body = Object,
        example = json!({"openapi": "3.1.0", "info": {"title": "svea operator API", "version": "0.1.0"}, "paths": {}}))))]
pub(super) async fn operator_document(node: web::Data<NodeHandle>) -> HttpResponse {
    serve(&node, Listener::Operator)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_says_what_it_does_under_a_tag_that_exists_and_every_tag_is_used() {
        for (listener, routes) in [(Listener::Public, super::super::PUBLIC_ROUTES), (Listener::Operator, super::super::OPERATOR_ROUTES)] {
            let doc = serde_json::to_value(document(listener, routes)).expect("serialises");
            let defined: Vec<&str> = doc["tags"].as_array().expect("tags").iter().map(|t| t["name"].as_str().expect("name")).collect();
            let mut unique = defined.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), defined.len(), "{listener:?}: a tag defined twice");
            for t in doc["tags"].as_array().expect("tags") {
                assert!(t["description"].as_str().is_some_and(|d| !d.is_empty()), "{listener:?}: tag {t} has no description");
            }
            let mut used = std::collections::BTreeSet::new();
            for (path, item) in doc["paths"].as_object().expect("paths") {
                for (method, op) in item.as_object().expect("item") {
                    let summary = op["summary"].as_str().unwrap_or("");
                    // A summary says what the operation does, in words: not its path again.
                    assert!(!summary.is_empty() && !summary.contains('/') && !summary.contains('`'), "{method} {path}: summary {summary:?}");
                    assert!(op["description"].as_str().is_some_and(|d| d.len() > summary.len()), "{method} {path}: no description");
                    let tags = op["tags"].as_array().unwrap_or_else(|| panic!("{listener:?} {method} {path}: no tag: {op}"));
                    assert_eq!(tags.len(), 1, "{method} {path}: one tag");
                    let tag = tags[0].as_str().expect("tag");
                    assert!(defined.contains(&tag), "{method} {path}: tag {tag} is not defined");
                    used.insert(tag.to_owned());
                }
            }
            for t in &defined {
                assert!(used.contains(*t), "{listener:?}: tag {t} is defined but no operation uses it");
            }
        }
    }

    #[test]
    fn every_table_line_is_an_operation_of_its_document() {
        for (listener, routes) in [(Listener::Public, super::super::PUBLIC_ROUTES), (Listener::Operator, super::super::OPERATOR_ROUTES)] {
            let doc = serde_json::to_value(document(listener, routes)).expect("serialises");
            assert_eq!(doc["openapi"], "3.1.0");
            for r in routes {
                let method = r.method.as_str().to_ascii_lowercase();
                assert!(doc["paths"][r.path][&method].is_object(), "{listener:?}: {} {} is not documented", r.method, r.path);
            }
        }
    }
}
