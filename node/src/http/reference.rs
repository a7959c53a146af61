//! The API reference page (`GET /api-reference`): this node's public OpenAPI document rendered
//! by Swagger UI, a maintained renderer vendored from npm (`swagger-ui-dist`, its licence at
//! `/assets/swagger-ui.LICENSE`) and embedded in the binary like every asset ([`super::assets`]).
//! No CDN and no inline script: the page is markup linking the renderer, its stylesheet and a
//! small script of ours that starts it. The pages' Content-Security-Policy holds but for one
//! addition: images from `data:` URLs, which Swagger UI draws its icons with
//! ([`super::security::CSP_DATA_IMAGES`]; found by the Chromium test that runs axe on every page).

use actix_web::HttpResponse;

use super::assets::{href, API_REFERENCE_JS, SWAGGER_UI_CSS, SWAGGER_UI_JS, SWAGGER_UI_LICENSE};

/// `GET /api-reference`.
#[utoipa::path(get, path = "/api-reference", tag = "pages", operation_id = "api_reference", summary = "Show the API reference",
    description = "This API's document (`/v1/openapi.json`) rendered for people: every operation, parameter, schema and example, \
        with Swagger UI embedded in the node (no CDN).",
    responses((status = 200, description = "The reference page; its script and styles are `/assets/` files.", content_type = "text/html; charset=utf-8", body = String),
        super::error::answers::RateLimited))]
pub(super) async fn show() -> HttpResponse {
    let head = maud::html! {
        link rel="stylesheet" href=(href(&SWAGGER_UI_CSS));
        script src=(href(&SWAGGER_UI_JS)) defer {}
        script src=(href(&API_REFERENCE_JS)) defer {}
    };
    let body = maud::html! {
        noscript { p { "The reference needs JavaScript; the document itself is at " a href="/v1/openapi.json" { "/v1/openapi.json" } "." } }
        div id="swagger-ui" {}
        footer { p { "Rendered by Swagger UI (Apache-2.0, " a href=(href(&SWAGGER_UI_LICENSE)) { "licence and notices" } ")." } }
    };
    let page = super::page::view::document(super::page::Lang::En, "svea API reference", head, body);
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((actix_web::http::header::CONTENT_SECURITY_POLICY, super::security::CSP_DATA_IMAGES))
        .body(page.into_string())
}
