//! A business's locations after sign-up, for tills and scripts (the dashboard's forms call the
//! same [`NodeHandle`] operations). Behind the business's API key ([`super::auth::authorize`]):
//!
//! - `POST /v1/businesses/{id}/locations`: adds a location (name, coordinates); `201` with the
//!   location, its QR token, the URL its code carries and its links;
//! - `PATCH /v1/businesses/{id}/locations/{lid}`: renames it (its code keeps working);
//! - `DELETE /v1/businesses/{id}/locations/{lid}`: removes it; its QR token stops working (the
//!   customer page answers `410` in words), and a business keeps at least one location.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::api::{business_out, location_out, BusinessOut, LocationIn, LocationOut};
use super::auth::authorize;
use super::error::{ApiError, ApiResult};
use crate::actors::{ActorError, Missing};
use crate::core::NodeHandle;
use crate::domain::{LocationId, NewLocation};

/// A rename.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Lilla Torg, uteserveringen"}))]
pub(super) struct RenameIn {
    /// 1 to 100 characters after trimming.
    #[schema(min_length = 1, max_length = 100)]
    name: String,
}

/// A location id from the path; anything else is `location-not-found` (never echoed whole).
pub(super) fn location_id(raw: &str) -> Result<LocationId, ApiError> {
    raw.parse().map_err(|_| ApiError::Actor(ActorError::NotFound { what: Missing::Location, id: raw.chars().take(64).collect() }))
}

/// `POST /v1/businesses/{id}/locations`.
#[utoipa::path(post, path = "/v1/businesses/{id}/locations", tag = "businesses", operation_id = "add_location", summary = "Add a location",
    description = "Adds a location with a new QR token; its code carries `public.base_url`.",
    params(("id" = String, Path, description = "The business id.", example = "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e")), security(("business_api_key" = [])),
    request_body(content = LocationIn, content_type = "application/json"),
    responses((status = 201, description = "The new location, its QR token, `qr_url` and links.", body = LocationOut),
        super::error::answers::BusinessAuth, super::error::answers::BadBody, super::error::answers::RateLimited, super::error::answers::Busy,
        (status = 400, description = "`malformed-json`, `invalid-body` (not the schema, unknown fields).", content_type = "application/problem+json", body = super::Problem),
        (status = 422, description = "`location-name-length` (1 to 100 characters), `invalid-coordinates`, `location-count` (at most 20 locations).", content_type = "application/problem+json", body = super::Problem)))]
pub(super) async fn add(node: web::Data<NodeHandle>, req: HttpRequest, id: web::Path<String>, body: web::Json<LocationIn>) -> ApiResult {
    let b = authorize(&node, &req, &id).await?.business;
    let l = NewLocation::new(body.name(), body.lat(), body.lon())?;
    let (b, lid) = node.add_location(b.id, l).await?;
    let location = b.locations.iter().find(|l| l.id == lid).ok_or_else(|| ApiError::Actor(ActorError::Internal("an added location is in its business".into())))?;
    Ok(HttpResponse::Created().json(location_out(&node, &b, location)))
}

/// `PATCH /v1/businesses/{id}/locations/{lid}`.
#[utoipa::path(patch, path = "/v1/businesses/{id}/locations/{lid}", tag = "businesses", operation_id = "rename_location", summary = "Rename a location",
    description = "Renames a location; its QR code keeps working and customers see the new name.",
    params(("id" = String, Path, description = "The business id.", example = "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e"),
        ("lid" = String, Path, description = "The location id (`l_` and 32 hex digits).", example = "l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a")),
    security(("business_api_key" = [])),
    request_body(content = RenameIn, content_type = "application/json"),
    responses((status = 200, description = "The business with the location renamed.", body = BusinessOut),
        super::error::answers::BusinessAuth, super::error::answers::BadBody, super::error::answers::RateLimited, super::error::answers::Busy,
        (status = 400, description = "`malformed-json`, `invalid-body`.", content_type = "application/problem+json", body = super::Problem),
        (status = 422, description = "`location-name-length` (1 to 100 characters).", content_type = "application/problem+json", body = super::Problem)))]
pub(super) async fn rename(node: web::Data<NodeHandle>, req: HttpRequest, path: web::Path<(String, String)>, body: web::Json<RenameIn>) -> ApiResult {
    let b = authorize(&node, &req, &path.0).await?.business;
    let lid = location_id(&path.1)?;
    let b = node.rename_location(b.id, lid, &body.name).await?;
    Ok(HttpResponse::Ok().json(business_out(&node, &b)))
}

/// `DELETE /v1/businesses/{id}/locations/{lid}`.
#[utoipa::path(delete, path = "/v1/businesses/{id}/locations/{lid}", tag = "businesses", operation_id = "remove_location", summary = "Remove a location",
    description = "Removes a location: its QR token stops working (customers who scan it are told so, 410).",
    params(("id" = String, Path, description = "The business id.", example = "b_3f9a1c0d5e7b4a2c9d8e6f1a0b2c3d4e"),
        ("lid" = String, Path, description = "The location id (`l_` and 32 hex digits).", example = "l_8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a")),
    security(("business_api_key" = [])),
    responses((status = 200, description = "The business without the location.", body = BusinessOut),
        super::error::answers::BusinessAuth, super::error::answers::RateLimited, super::error::answers::Busy,
        (status = 422, description = "`location-count`: a business keeps at least one location; `location-used-by-till`: a till registration sends its purchases there.", content_type = "application/problem+json", body = super::Problem)))]
pub(super) async fn remove(node: web::Data<NodeHandle>, req: HttpRequest, path: web::Path<(String, String)>) -> ApiResult {
    let b = authorize(&node, &req, &path.0).await?.business;
    let lid = location_id(&path.1)?;
    let b = node.remove_location(b.id, lid).await?;
    Ok(HttpResponse::Ok().json(business_out(&node, &b)))
}
