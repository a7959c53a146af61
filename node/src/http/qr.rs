//! A location's QR code and its printable poster. The code encodes the location's customer URL,
//! `<public.base_url>/q/<qr_token>` (without one, the home region's public URL; [`customer_url`],
//! the one place that URL is made): the page a phone opens, GeoIP-routed when it arrives. Business endpoints, behind the
//! business's API key ([`super::auth::authorize`]):
//!
//! - `GET /v1/businesses/{id}/locations/{lid}/qr.svg`: the code as SVG (`image/svg+xml`);
//! - `GET /v1/businesses/{id}/locations/{lid}/qr.png`: the code as PNG (`image/png`);
//! - `GET /v1/businesses/{id}/locations/{lid}/poster`: an A6 HTML page to print, with the
//!   business's and the location's names, the offer ("Få upp till 8 % tillbaka", paid by Swish,
//!   about two minutes), the code inline as SVG and a line in Swedish; its
//!   stylesheet is an embedded asset ([`super::assets`]), so it needs no inline style, no script
//!   and nothing from outside.
//!
//! A location the business does not have answers 404 `location-not-found`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use qrcode::{EcLevel, QrCode};
use serde::Serialize;

use super::assets;
use super::auth::authorize;
use super::error::{ApiError, ApiResult};
use crate::actors::business::{Business, Location};
use crate::actors::{ActorError, Missing};
use crate::core::NodeHandle;

/// The path under a node's public URL where a QR token's customer page lives.
pub const CUSTOMER_PATH: &str = "/q/";

/// Error correction level Q: up to a quarter of the code may be stained or torn (a poster on a
/// café table) and it still reads; a customer URL still fits a small code (version 5, 37 × 37
/// modules, for a public URL of up to 30 characters; level M would save one version).
const EC_LEVEL: EcLevel = EcLevel::Q;

/// PNG pixels per module: about 450 × 450 pixels for a typical URL (quiet zone included), sharp
/// when printed 4.5 cm wide at 250 dpi.
const PNG_MODULE_PX: u32 = 10;

/// SVG user units per module. The SVG scales freely; this only sets its default size (the same
/// as the PNG's) where nothing else sizes it.
const SVG_MODULE_UNITS: u32 = PNG_MODULE_PX;

/// The line of the poster that says what a customer does with the code, in Swedish.
pub const POSTER_INSTRUCTION: &str = "Skanna, berätta vad du tyckte och få cashback";

/// How the reward is paid and how long it takes, in Swedish (the customer page says the same).
pub const POSTER_HOW: &str = "Betalas med Swish. Tar ungefär 2 minuter.";

/// The poster's offer: "Få upp till 8 % tillbaka", the business's top reward percentage.
pub fn poster_offer(b: &Business) -> String {
    let top = b.policy.tiers.last().map_or(0, |t| t.basis_points);
    format!("Få upp till {} tillbaka", super::page::format::percent(super::page::Lang::Sv, top))
}

/// The customer URL of `location` of business `b`: what its QR code encodes and posters show.
///
/// `public.base_url` when the cluster has one: the one address any node answers behind, so a
/// poster outlives every node. Without it, the business's home region
/// ([`NodeHandle::home_url`]), not the node that happens to answer: a poster printed from any
/// region's node is the same poster.
pub fn customer_url(node: &NodeHandle, b: &Business, location: &Location) -> String {
    let base = match &node.config().public.base_url {
        Some(url) => url.clone(),
        None => node.home_url(&b.home_region),
    };
    format!("{}{CUSTOMER_PATH}{}", base.trim_end_matches('/'), location.qr_token)
}

/// Where a location's QR code and poster are, as the business's JSON links them.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"qr_svg": "/v1/businesses/b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e/locations/l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a/qr.svg", "qr_png": "/v1/businesses/b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e/locations/l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a/qr.png", "poster": "/v1/businesses/b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e/locations/l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a/poster"}))]
pub(super) struct LocationLinks {
    qr_svg: String,
    qr_png: String,
    poster: String,
}

/// The links of `location` of `b`, as paths on any node of the cluster.
pub(super) fn links(b: &Business, location: &Location) -> LocationLinks {
    let base = format!("/v1/businesses/{}/locations/{}", b.id, location.id);
    LocationLinks { qr_svg: format!("{base}/qr.svg"), qr_png: format!("{base}/qr.png"), poster: format!("{base}/poster") }
}

/// The QR code of `url`. Only a URL longer than a QR code holds (2,000-odd bytes, from a public
/// URL of that size in the config or the membership) fails: the operator's mistake, a 500.
fn encode(url: &str) -> Result<QrCode, ApiError> {
    QrCode::with_error_correction_level(url, EC_LEVEL)
        .map_err(|e| ApiError::Actor(ActorError::Internal(format!("customer url of {} bytes cannot be a qr code: {e}", url.len()))))
}

/// The code as a standalone SVG document (quiet zone of four modules included).
fn svg(code: &QrCode) -> String {
    code.render::<qrcode::render::svg::Color>().module_dimensions(SVG_MODULE_UNITS, SVG_MODULE_UNITS).build()
}

/// The code as an `<svg>` element to put inside an HTML page (no XML declaration).
fn inline_svg(code: &QrCode) -> String {
    let doc = svg(code);
    match doc.find("<svg") {
        Some(start) => doc[start..].to_string(),
        None => doc,
    }
}

/// The code as a greyscale PNG (quiet zone of four modules included).
fn png(code: &QrCode) -> Result<Vec<u8>, ApiError> {
    let img = code.render::<image::Luma<u8>>().module_dimensions(PNG_MODULE_PX, PNG_MODULE_PX).build();
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, image::ImageFormat::Png).map_err(|e| ApiError::Actor(ActorError::Internal(format!("png encoding failed: {e}"))))?;
    Ok(bytes.into_inner())
}

/// The index of location `lid` of `b`; 404 `location-not-found` when it has none.
fn location_index(b: &Business, lid: &str) -> Result<usize, ApiError> {
    b.locations
        .iter()
        .position(|l| l.id.as_str() == lid)
        .ok_or_else(|| ApiError::Actor(ActorError::NotFound { what: Missing::Location, id: lid.chars().take(64).collect() }))
}

/// `inline; filename="<location id>.<ext>"`: a browser saving the image names it after the location.
fn disposition(location: &Location, ext: &str) -> (header::HeaderName, String) {
    (header::CONTENT_DISPOSITION, format!("inline; filename=\"qr-{}.{ext}\"", location.id))
}

/// What a location's link answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LocationAsset {
    /// The QR code as SVG.
    Svg,
    /// The QR code as PNG.
    Png,
    /// The A6 poster.
    Poster,
}

/// `asset` of location `lid` of `b`, a business its caller has authorized (by its API key in
/// the header here, by the dashboard's sign-in there).
pub(super) fn location_asset(node: &NodeHandle, b: &Business, lid: &str, asset: LocationAsset) -> ApiResult {
    let l = &b.locations[location_index(b, lid)?];
    let url = customer_url(node, b, l);
    Ok(match asset {
        LocationAsset::Svg => HttpResponse::Ok().content_type("image/svg+xml").insert_header(disposition(l, "svg")).body(svg(&encode(&url)?)),
        LocationAsset::Png => HttpResponse::Ok().content_type("image/png").insert_header(disposition(l, "png")).body(png(&encode(&url)?)?),
        LocationAsset::Poster => HttpResponse::Ok().content_type("text/html; charset=utf-8").body(poster_html(&b.name, &l.name, &poster_offer(b), &url)?),
    })
}

async fn answer(node: &NodeHandle, req: &HttpRequest, path: &(String, String), asset: LocationAsset) -> ApiResult {
    let b = authorize(node, req, &path.0).await?.business;
    location_asset(node, &b, &path.1, asset)
}

/// `GET /v1/businesses/{id}/locations/{lid}/qr.svg`.
#[utoipa::path(get, path = "/v1/businesses/{id}/locations/{lid}/qr.svg", tag = "businesses", operation_id = "qr_svg", summary = "Download a QR code (SVG)", description = "The location's QR code as SVG.",
    params(("id" = String, Path, description = "The business id.", example = "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e"),
        ("lid" = String, Path, description = "The location id (`l_` and 32 hex digits).", example = "l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a")),
    security(("business_api_key" = [])),
    responses((status = 200, description = "The QR code as SVG, encoding the location's `qr_url`.", content_type = "image/svg+xml", body = String, headers(("Content-Disposition" = String, description = "`inline; filename=\"qr-<location id>.<ext>\"`"))),
        super::error::answers::BusinessAuth, super::error::answers::RateLimited, super::error::answers::Busy))]
pub(super) async fn qr_svg(node: web::Data<NodeHandle>, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult {
    answer(&node, &req, &path, LocationAsset::Svg).await
}

/// `GET /v1/businesses/{id}/locations/{lid}/qr.png`.
#[utoipa::path(get, path = "/v1/businesses/{id}/locations/{lid}/qr.png", tag = "businesses", operation_id = "qr_png", summary = "Download a QR code (PNG)", description = "The location's QR code as PNG.",
    params(("id" = String, Path, description = "The business id.", example = "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e"),
        ("lid" = String, Path, description = "The location id (`l_` and 32 hex digits).", example = "l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a")),
    security(("business_api_key" = [])),
    responses((status = 200, description = "The QR code as PNG (10 px per module, quiet zone, error correction Q).", content_type = "image/png", body = Vec<u8>, headers(("Content-Disposition" = String, description = "`inline; filename=\"qr-<location id>.<ext>\"`"))),
        super::error::answers::BusinessAuth, super::error::answers::RateLimited, super::error::answers::Busy))]
pub(super) async fn qr_png(node: web::Data<NodeHandle>, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult {
    answer(&node, &req, &path, LocationAsset::Png).await
}

/// The poster page. maud escapes every value but the QR code's SVG, which svea renders itself.
fn poster_html(business: &str, location: &str, offer: &str, url: &str) -> Result<String, ApiError> {
    let code = encode(url)?;
    let page = maud::html! {
        (maud::DOCTYPE)
        html lang="sv" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (business) " · " (location) }
                link rel="icon" type="image/svg+xml" href=(assets::href(&assets::ICON_SVG));
                link rel="stylesheet" href=(assets::href(&assets::POSTER_CSS));
            }
            body {
                main class="poster" {
                    h1 { (business) }
                    p class="location" { (location) }
                    p class="offer" { (offer) }
                    div class="qr" role="img" aria-label=(format!("QR-kod till {url}")) { (maud::PreEscaped(inline_svg(&code))) }
                    p class="instruction" { (POSTER_INSTRUCTION) }
                    p class="how" { (POSTER_HOW) }
                    p class="url" { (url) }
                }
            }
        }
    };
    Ok(page.into_string())
}

/// `GET /v1/businesses/{id}/locations/{lid}/poster`.
#[utoipa::path(get, path = "/v1/businesses/{id}/locations/{lid}/poster", tag = "businesses", operation_id = "poster", summary = "Show a location's poster", description = "The location's printable A6 poster with its QR code.",
    params(("id" = String, Path, description = "The business id.", example = "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e"),
        ("lid" = String, Path, description = "The location id (`l_` and 32 hex digits).", example = "l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a")),
    security(("business_api_key" = [])),
    responses((status = 200, description = "A printable A6 page (Swedish): names, the offer (\"Få upp till 8 % tillbaka\", paid by Swish in about 2 minutes), the code, one line of instruction.", content_type = "text/html; charset=utf-8", body = String),
        super::error::answers::BusinessAuth, super::error::answers::RateLimited, super::error::answers::Busy))]
pub(super) async fn poster(node: web::Data<NodeHandle>, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult {
    answer(&node, &req, &path, LocationAsset::Poster).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://malmo.svea.example/q/AAECAwQFBgcICQoLDA0ODw";

    #[test]
    fn codes_use_level_q_and_a_small_version() {
        let code = encode(URL).expect("fits");
        assert_eq!(code.error_correction_level(), EcLevel::Q);
        // 51 bytes at level Q: version 5 holds up to 60.
        assert_eq!(code.version(), qrcode::Version::Normal(5));
    }

    #[test]
    fn svg_and_png_have_a_quiet_zone_and_their_sizes() {
        let code = encode(URL).expect("fits");
        let side = (code.width() as u32 + 8) * PNG_MODULE_PX;
        let doc = svg(&code);
        assert!(doc.contains(&format!("viewBox=\"0 0 {side} {side}\"")), "{doc}");
        // No dark module in the quiet zone: every path starts four modules in.
        assert!(!doc.contains(&format!("M{} ", 3 * SVG_MODULE_UNITS)), "{doc}");
        let inline = inline_svg(&code);
        assert!(inline.starts_with("<svg ") && inline.ends_with("</svg>"), "{inline}");
        let bytes = png(&code).expect("png");
        let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png).expect("decodes").to_luma8();
        assert_eq!((img.width(), img.height()), (side, side));
        let quiet = 4 * PNG_MODULE_PX;
        assert!((0..side).all(|i| (0..quiet).all(|q| img.get_pixel(i, q).0 == [255] && img.get_pixel(q, i).0 == [255])));
        assert_eq!(img.get_pixel(quiet, quiet).0, [0], "the finder pattern starts right after the quiet zone");
    }

    #[test]
    fn an_unencodable_url_is_an_internal_error() {
        let long = format!("https://{}.example/q/x", "a".repeat(4000));
        assert!(matches!(encode(&long), Err(ApiError::Actor(ActorError::Internal(_)))));
    }

    #[test]
    fn the_poster_escapes_names_and_needs_nothing_inline() {
        let html = poster_html("<script>alert(1)</script> & Co", "Hörnet \"A\" 'B'", "Få upp till 8 % tillbaka", URL).expect("renders");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62; &#38; Co") || html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"), "{html}");
        assert!(!html.contains("\"A\""), "{html}");
        assert!(html.contains("<html lang=\"sv\">"));
        assert!(html.contains(POSTER_INSTRUCTION) && html.contains(POSTER_HOW) && html.contains("Få upp till 8 % tillbaka"));
        assert!(html.contains(&inline_svg(&encode(URL).expect("fits"))));
        assert!(html.contains(&format!("href=\"{}\"", assets::href(&assets::POSTER_CSS))));
        // The CSP forbids inline styles and scripts: the page has none.
        for banned in ["<style", "style=", "<script", "javascript:", "src=", "<?xml"] {
            assert!(!html.contains(banned), "{banned} in {html}");
        }
    }

    #[test]
    fn the_poster_stylesheet_is_a6() {
        let css = include_str!("../../assets/poster.css");
        assert!(css.contains("size: A6"), "{css}");
    }
}
