//! Static files of the HTML pages (stylesheets, the pages' scripts, the console's map), embedded in the binary at build time and
//! served under `GET /assets/<name>`: the pages need no CDN, no internet and no files beside the
//! binary, and the strict CSP of [`super::security`] (`default-src 'self'`, no inline styles)
//! holds because every style comes from here.
//!
//! Pages link an asset through [`href`], which appends a fingerprint of its bytes (`?v=...`), so
//! the answer may be cached for a year: a new build with a changed file links a new URL.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use super::error::{ApiError, ApiResult};

/// One embedded file.
pub struct Asset {
    /// Its name under `/assets/`.
    name: &'static str,
    /// Its `Content-Type`.
    content_type: &'static str,
    /// Its bytes.
    bytes: &'static [u8],
}

/// The poster's stylesheet (A6 page, layout).
pub static POSTER_CSS: Asset = Asset { name: "poster.css", content_type: "text/css; charset=utf-8", bytes: include_bytes!("../../assets/poster.css") };

/// The customer page's stylesheet (mobile first).
pub static PAGE_CSS: Asset = Asset { name: "page.css", content_type: "text/css; charset=utf-8", bytes: include_bytes!("../../assets/page.css") };

/// The customer page's script (the feedback counter; the page works without it).
pub static PAGE_JS: Asset = Asset { name: "page.js", content_type: "text/javascript; charset=utf-8", bytes: include_bytes!("../../assets/page.js") };

/// The pages' icon: every page links it (`<link rel="icon">`), or a browser asks for
/// `/favicon.ico`, gets a 404 and logs it as a console error.
pub static ICON_SVG: Asset = Asset { name: "icon.svg", content_type: "image/svg+xml", bytes: include_bytes!("../../assets/icon.svg") };

/// Sweden's outline for the operator console (Natural Earth, public domain; see its licence).
pub static SWEDEN_SVG: Asset = Asset { name: "sweden.svg", content_type: "image/svg+xml", bytes: include_bytes!("../../assets/sweden.svg") };

/// Where the outline comes from and under which terms.
pub static SWEDEN_LICENSE: Asset =
    Asset { name: "sweden.svg.LICENSE", content_type: "text/plain; charset=utf-8", bytes: include_bytes!("../../assets/sweden.svg.LICENSE") };

/// The operator console's stylesheet.
pub static OPS_CSS: Asset = Asset { name: "ops.css", content_type: "text/css; charset=utf-8", bytes: include_bytes!("../../assets/ops.css") };

/// The operator console's script (refreshes the map and tables; the page works without it).
pub static OPS_JS: Asset = Asset { name: "ops.js", content_type: "text/javascript; charset=utf-8", bytes: include_bytes!("../../assets/ops.js") };

/// The business dashboard's stylesheet (on top of the page's: charts, lists, wide layout).
pub static DASHBOARD_CSS: Asset = Asset { name: "dashboard.css", content_type: "text/css; charset=utf-8", bytes: include_bytes!("../../assets/dashboard.css") };

/// The business dashboard's script (confirmations; the dashboard works without it).
pub static DASHBOARD_JS: Asset = Asset { name: "dashboard.js", content_type: "text/javascript; charset=utf-8", bytes: include_bytes!("../../assets/dashboard.js") };

/// Swagger UI's renderer (npm `swagger-ui-dist`, Apache-2.0, vendored unchanged; see its licence),
/// for the API reference page (`GET /api-reference`).
pub static SWAGGER_UI_JS: Asset =
    Asset { name: "swagger-ui-bundle.js", content_type: "text/javascript; charset=utf-8", bytes: include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js") };

/// Swagger UI's stylesheet.
pub static SWAGGER_UI_CSS: Asset =
    Asset { name: "swagger-ui.css", content_type: "text/css; charset=utf-8", bytes: include_bytes!("../../assets/swagger-ui/swagger-ui.css") };

/// Swagger UI's version, licence, notice and the third-party notices of its bundle.
pub static SWAGGER_UI_LICENSE: Asset =
    Asset { name: "swagger-ui.LICENSE", content_type: "text/plain; charset=utf-8", bytes: include_bytes!("../../assets/swagger-ui/LICENSE") };

/// The API reference page's own script: starts Swagger UI on this node's document.
pub static API_REFERENCE_JS: Asset =
    Asset { name: "api-reference.js", content_type: "text/javascript; charset=utf-8", bytes: include_bytes!("../../assets/api-reference.js") };

/// Every embedded file, as `/assets/{name}` finds them. A page links one with [`href`].
/// The sign-up page's stylesheet (on top of the page's: the form's fields and the facts).
pub static SIGNUP_CSS: Asset = Asset { name: "signup.css", content_type: "text/css; charset=utf-8", bytes: include_bytes!("../../assets/signup.css") };

/// The sign-up page's script (check digit as typed, the region of the position, "use my
/// position"; the page works without it).
pub static SIGNUP_JS: Asset = Asset { name: "signup.js", content_type: "text/javascript; charset=utf-8", bytes: include_bytes!("../../assets/signup.js") };

static ASSETS: &[&Asset] = &[
    &POSTER_CSS,
    &PAGE_CSS,
    &PAGE_JS,
    &SWEDEN_SVG,
    &SWEDEN_LICENSE,
    &OPS_CSS,
    &OPS_JS,
    &ICON_SVG,
    &DASHBOARD_CSS,
    &DASHBOARD_JS,
    &SWAGGER_UI_JS,
    &SWAGGER_UI_CSS,
    &SWAGGER_UI_LICENSE,
    &API_REFERENCE_JS,
    &SIGNUP_CSS,
    &SIGNUP_JS,
];

impl Asset {
    /// Its bytes (the console reads the outline's `viewBox` from them).
    pub fn bytes(&self) -> &'static [u8] {
        self.bytes
    }
}

/// How long a browser or proxy may keep an asset: a year, never revalidated. Safe because the
/// URL a page links changes with the bytes ([`href`]).
pub const ASSET_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// Hex digits of the SHA-256 fingerprint in an asset's URL: 64 bits tell builds apart.
const FINGERPRINT_HEX_LEN: usize = 16;

fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().copied().find(|a| a.name == name)
}

fn fingerprint(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex.truncate(FINGERPRINT_HEX_LEN);
    hex
}

/// The URL a page links an embedded file by: its path and a fingerprint of its bytes.
pub fn href(asset: &Asset) -> String {
    format!("/assets/{}?v={}", asset.name, fingerprint(asset.bytes))
}

/// `GET /assets/{name}`: the embedded file, with its content type and a year of caching.
#[utoipa::path(get, path = "/assets/{name}", tag = "pages", operation_id = "asset", summary = "Fetch a page asset", description = "A stylesheet, script or icon embedded in the binary, with its content type and a year of caching.",
    params(("name" = String, Path, description = "`page.css`, `page.js` or `poster.css`; pages link them with `?v=<fingerprint>`.", example = "page.css"),
        ("v" = Option<String>, Query, description = "The fingerprint pages add; any value is served the same bytes.", example = "3f9a1c0d5e7b4a2c")),
    responses((status = 200, description = "The file (`text/css` or `text/javascript`), cacheable for a year.", body = String,
            content_type = "text/css; charset=utf-8", headers(("Cache-Control" = String, description = "`public, max-age=31536000, immutable`"))),
        (status = 404, description = "`no-route`: no such file.", content_type = "application/problem+json", body = super::Problem),
        super::error::answers::RateLimited))]
pub(super) async fn serve(req: HttpRequest, name: web::Path<String>) -> ApiResult {
    let asset = find(&name).ok_or_else(|| ApiError::NoRoute { method: req.method().to_string(), path: req.path().to_string() })?;
    Ok(HttpResponse::Ok()
        .content_type(asset.content_type)
        .insert_header((header::CACHE_CONTROL, ASSET_CACHE_CONTROL))
        .body(asset.bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_distinct_name_and_a_fingerprinted_href() {
        for (i, a) in ASSETS.iter().enumerate() {
            assert!(ASSETS[..i].iter().all(|b| b.name != a.name), "{} twice", a.name);
            assert!(!a.bytes.is_empty(), "{} is empty", a.name);
            assert!(find(a.name).is_some_and(|f| std::ptr::eq(f, *a)));
            let h = href(a);
            assert_eq!(h, format!("/assets/{}?v={}", a.name, fingerprint(a.bytes)));
            assert_eq!(h.len(), "/assets/".len() + a.name.len() + "?v=".len() + FINGERPRINT_HEX_LEN);
        }
    }

    #[test]
    fn the_fingerprint_changes_with_the_bytes() {
        assert_ne!(fingerprint(b"a { color: red }"), fingerprint(b"a { color: blue }"));
        assert_eq!(fingerprint(b"x"), fingerprint(b"x"));
    }
}
