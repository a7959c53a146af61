//! The operator API under `/v1/cluster` (bearer token from `[operator] token`), served only by
//! the operator listener (`operator.listen_addr`, loopback).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::{bad, ApiError, ApiResult};
use super::cluster_json::{self as json, ClusterOut, DrainOut, MaintenanceIn, MaintenanceOut, MemberIn, OrgReleaseOut};
use crate::core::operator;
use crate::core::NodeHandle;

/// How long a drained node keeps serving after answering, so the answer reaches the operator.
pub const EXIT_AFTER_DRAIN: Duration = Duration::from_millis(300);

/// Stops the HTTP server (and so the process) once a drain has finished. Set by the server
/// after it starts; absent in tests that mount the API without a server.
#[derive(Clone, Default)]
pub struct ExitHandle(Arc<OnceLock<actix_web::dev::ServerHandle>>);

impl ExitHandle {
    /// Remembers the running server.
    pub fn set(&self, handle: actix_web::dev::ServerHandle) {
        let _ = self.0.set(handle);
    }

    /// Stops the process shortly (after a drain), when a server was remembered.
    pub(crate) fn exit_soon(&self) {
        if let Some(h) = self.0.get().cloned() {
            actix_web::rt::spawn(async move {
                actix_web::rt::time::sleep(EXIT_AFTER_DRAIN).await;
                tracing::info!(event = "drain", "drained: stopping the process");
                h.stop(true).await;
            });
        }
    }
}

/// Checks `Authorization: Bearer <operator token>` before anything else of the request is
/// looked at (its body included), for every route under `/v1/cluster`.
pub(super) async fn require_token(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let node = req.app_data::<web::Data<NodeHandle>>().cloned().ok_or_else(|| ApiError::Unauthorized("node not ready".into()))?;
    authorize(&node, req.request())?;
    next.call(req).await
}

fn authorize(node: &NodeHandle, req: &HttpRequest) -> Result<(), ApiError> {
    let Some(expected) = node.config().operator.token.as_deref() else {
        return Err(ApiError::Unauthorized("the operator API is off on this node: set [operator] token".into()));
    };
    let given = super::auth::bearer(req);
    match given {
        None => Err(ApiError::Unauthorized("missing operator token (Authorization: Bearer ...)".into())),
        Some(t) if tokens_match(t, expected) => Ok(()),
        Some(_) => Err(ApiError::Unauthorized("wrong operator token".into())),
    }
}

/// Compares the two tokens in time independent of their contents and of their lengths: both are
/// hashed to fixed-size digests (SHA-256) first, and the digests compared with `subtle`. A plain
/// `ct_eq` of the strings returns early on a length difference, which tells an attacker the
/// token's length.
pub(super) fn tokens_match(given: &str, expected: &str) -> bool {
    let (given, expected) = (Sha256::digest(given.as_bytes()), Sha256::digest(expected.as_bytes()));
    bool::from(given.as_slice().ct_eq(expected.as_slice()))
}

/// `GET /v1/cluster`.
#[utoipa::path(get, path = "/v1/cluster", tag = "operator", operation_id = "cluster_status", summary = "Read cluster status", description = "Every member's role, health, lag and actors, the leader and the regions.", security(("operator_token" = [])),
    responses((status = 200, description = "Members, roles, leader, reachability, replication lag and actors per node.", body = ClusterOut),
        super::error::answers::OperatorAuth, super::error::answers::Busy))]
pub(super) async fn status(node: web::Data<NodeHandle>) -> ApiResult {
    Ok(HttpResponse::Ok().json(ClusterOut::from(operator::status(&node).await?)))
}

/// `GET /v1/cluster/self`.
#[utoipa::path(get, path = "/v1/cluster/self", tag = "operator", operation_id = "cluster_self", summary = "Describe this node", description = "How this node describes itself to an operator adding it to a cluster.", security(("operator_token" = [])),
    responses((status = 200, description = "This node as a member record: what `svea cluster add` sends.", body = MemberIn),
        super::error::answers::OperatorAuth))]
pub(super) async fn describe_self(node: web::Data<NodeHandle>) -> ApiResult {
    let (id, record) = operator::describe_self(&node);
    Ok(HttpResponse::Ok().json(MemberIn::of(id, record)))
}

/// Refuses a member record whose addresses (`ip:port` or `host:port`) or URL are not what a node
/// could be reached at.
pub(super) fn check_member(m: &MemberIn) -> Result<(), ApiError> {
    // The document's bounds (`MemberIn`): a positive id that every JSON integer reader (int64)
    // reads the same.
    if !(1..=NODE_ID_MAX).contains(&m.id) {
        return Err(bad("invalid-body", format!("id {} must be 1..={NODE_ID_MAX}", m.id)));
    }
    for (field, value) in [("raft_addr", &m.raft_addr), ("http_addr", &m.http_addr)] {
        // A DNS name is allowed (a pod's headless Service name): the membership stores the name.
        value.parse::<svea_config::PeerAddr>().map_err(|reason| bad("invalid-body", format!("{field}: {reason}")))?;
    }
    if !(m.public_url.starts_with("http://") || m.public_url.starts_with("https://")) {
        return Err(bad("invalid-body", format!("public_url {:?} must start with http:// or https://", m.public_url)));
    }
    Ok(())
}

/// Largest node id an operator may add: `i64::MAX`, as the document's `int64` says.
pub const NODE_ID_MAX: u64 = i64::MAX as u64;

/// `POST /v1/cluster/nodes`.
#[utoipa::path(post, path = "/v1/cluster/nodes", tag = "operator", operation_id = "cluster_add", summary = "Add a node", description = "Adds a node to the cluster's membership.", security(("operator_token" = [])),
    request_body(content = MemberIn, content_type = "application/json"),
    responses((status = 200, description = "Added as a learner, caught up and promoted to voter: the new status.", body = ClusterOut),
        super::error::answers::OperatorAuth, super::error::answers::BadBody, super::error::answers::Busy,
        (status = 400, description = "`malformed-json`, `invalid-body` (not the schema, an address that is not `host:port`, a URL \
            without `http://` or `https://`).", content_type = "application/problem+json", body = super::Problem),
        (status = 409, description = "`membership-refused`, `unknown-region`.", content_type = "application/problem+json", body = super::Problem)))]
pub(super) async fn add(node: web::Data<NodeHandle>, body: web::Json<MemberIn>) -> ApiResult {
    let m = body.into_inner();
    check_member(&m)?;
    operator::add(&node, m.id, m.node()).await?;
    Ok(HttpResponse::Ok().json(ClusterOut::from(operator::status(&node).await?)))
}

pub(super) fn parse_node_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse::<u64>().ok().filter(|id| *id > 0).ok_or_else(|| bad("invalid-path", format!("node id {raw:?} is not a positive integer")))
}

/// `POST /v1/cluster/nodes/{id}/drain`.
#[utoipa::path(post, path = "/v1/cluster/nodes/{id}/drain", tag = "operator", operation_id = "cluster_drain", summary = "Drain a node", description = "Hands the node's actors and leadership off and removes it from the membership; that node's process exits next. Sent to another node, the drain is forwarded to the node it drains.", security(("operator_token" = [])),
    params(("id" = u64, Path, description = "The node to drain: this one, or another member (the drain is forwarded to it).", example = 2, minimum = 1)),
    responses((status = 200, description = "Drained: actors handed off, leadership moved, removed; the drained node's process exits next.", body = DrainOut),
        super::error::answers::OperatorAuth, super::error::answers::Busy,
        (status = 400, description = "`invalid-path`: the id is not a positive integer.", content_type = "application/problem+json", body = super::Problem),
        (status = 404, description = "`node-not-found`: no member has that id.", content_type = "application/problem+json", body = super::Problem),
        (status = 409, description = "`membership-refused`.", content_type = "application/problem+json", body = super::Problem)))]
pub(super) async fn drain(node: web::Data<NodeHandle>, id: web::Path<String>, exit: Option<web::Data<ExitHandle>>) -> ApiResult {
    let (report, here) = operator::drain_node(&node, parse_node_id(&id)?).await?;
    if let (true, Some(exit)) = (here, exit) {
        exit.exit_soon();
    }
    Ok(HttpResponse::Ok().json(DrainOut::from(report)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct RemoveQuery {
    /// Remove a node that is still reachable.
    #[serde(default)]
    #[param(example = false)]
    force: bool,
}

/// `DELETE /v1/cluster/nodes/{id}`.
#[utoipa::path(delete, path = "/v1/cluster/nodes/{id}", tag = "operator", operation_id = "cluster_remove", summary = "Remove a node", description = "Removes a node from the membership; its actors are claimed by the others.", security(("operator_token" = [])),
    params(("id" = u64, Path, description = "The node to remove.", example = 3, minimum = 1), RemoveQuery),
    responses((status = 200, description = "Removed: the new status.", body = ClusterOut),
        super::error::answers::OperatorAuth, super::error::answers::Busy,
        (status = 400, description = "`invalid-path`: the id is not a positive integer; `invalid-query`.", content_type = "application/problem+json", body = super::Problem),
        (status = 404, description = "`node-not-found`.", content_type = "application/problem+json", body = super::Problem),
        (status = 409, description = "`membership-refused`: the node is reachable (without `force`), the last voter, or this node.", content_type = "application/problem+json", body = super::Problem)))]
pub(super) async fn remove(node: web::Data<NodeHandle>, id: web::Path<String>, q: web::Query<RemoveQuery>) -> ApiResult {
    let id = parse_node_id(&id)?;
    operator::remove(&node, id, q.force).await?;
    Ok(HttpResponse::Ok().json(ClusterOut::from(operator::status(&node).await?)))
}

/// `GET /v1/cluster/backup`: a consistent cut of the cluster's state as a backup file, streamed
/// (see `svea_storage::backup` for the format). Headers name the index it was taken at.
#[utoipa::path(get, path = "/v1/cluster/backup", tag = "operator", operation_id = "cluster_backup", summary = "Take a backup", description = "A consistent cut of the cluster's state as a backup file, streamed; headers name the index it was taken at.", security(("operator_token" = [])),
    responses((status = 200, description = "The backup file (magic `SVEABKP`, version, metadata, body, SHA-256), streamed with its length. \
            `svea backup` writes it to a file and verifies it; `svea restore` seeds a new cluster from it.",
            content_type = "application/octet-stream", body = Vec<u8>,
            headers(("x-svea-backup-index" = u64, description = "The committed Raft index of Raft group 0 the backup is the state at (every group's cut is in the file's metadata: `svea verify-backup` prints them)."))),
        super::error::answers::OperatorAuth, super::error::answers::Busy))]
pub(super) async fn backup(node: web::Data<NodeHandle>) -> ApiResult {
    let stream = operator::backup(&node, chrono::Utc::now().timestamp_millis()).await?;
    let (len, index) = (stream.total_bytes(), stream.index);
    let body = futures::stream::iter(stream.map(|chunk| Ok::<_, std::convert::Infallible>(web::Bytes::from(chunk))));
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header(("x-svea-backup-index", index.to_string()))
        .body(actix_web::body::SizedStream::new(len, body)))
}

/// `GET /v1/cluster/maintenance`: whether maintenance mode is on, and its message.
#[utoipa::path(get, path = "/v1/cluster/maintenance", tag = "operator", operation_id = "cluster_maintenance", summary = "Read maintenance mode", description = "Whether maintenance mode is on, its message and retry time.", security(("operator_token" = [])),
    responses((status = 200, description = "Maintenance mode as this node has applied it.", body = MaintenanceOut),
        super::error::answers::OperatorAuth, super::error::answers::Busy))]
pub(super) async fn get_maintenance(node: web::Data<NodeHandle>) -> ApiResult {
    Ok(HttpResponse::Ok().json(MaintenanceOut::from(operator::maintenance(&node)?)))
}

/// `PUT /v1/cluster/maintenance`: switch maintenance mode on or off, cluster-wide (through Raft).
#[utoipa::path(put, path = "/v1/cluster/maintenance", tag = "operator", operation_id = "cluster_set_maintenance", summary = "Switch maintenance mode", description = "Switches maintenance mode on or off, cluster-wide (through Raft).", security(("operator_token" = [])),
    request_body(content = MaintenanceIn, content_type = "application/json"),
    responses((status = 200, description = "Switched; what every region now answers customers.", body = MaintenanceOut),
        super::error::answers::OperatorAuth, super::error::answers::BadBody, super::error::answers::Busy,
        (status = 400, description = "`malformed-json`, `invalid-body` (a message over 500 characters or with control characters, \
            `retry_after_s` outside 1..=86400).", content_type = "application/problem+json", body = super::Problem)))]
pub(super) async fn put_maintenance(node: web::Data<NodeHandle>, body: web::Json<MaintenanceIn>) -> ApiResult {
    let m = body.into_inner();
    check_maintenance(&m)?;
    let now = operator::set_maintenance(&node, (&m).into(), chrono::Utc::now().timestamp_millis()).await?;
    Ok(HttpResponse::Ok().json(MaintenanceOut::from(now)))
}

/// Refuses a maintenance switch whose message or retry time is out of bounds (the API and the
/// console's form).
pub(super) fn check_maintenance(m: &MaintenanceIn) -> Result<(), ApiError> {
    if let Some(text) = &m.message {
        let chars = text.chars().count();
        if chars > operator::MAINTENANCE_MESSAGE_CHARS_MAX || text.chars().any(char::is_control) {
            return Err(bad(
                "invalid-body",
                format!("message must be at most {} characters without control characters", operator::MAINTENANCE_MESSAGE_CHARS_MAX),
            ));
        }
    }
    if let Some(s) = m.retry_after_s {
        if !(1..=operator::MAINTENANCE_RETRY_AFTER_S_MAX).contains(&s) {
            return Err(bad("invalid-body", format!("retry_after_s must be 1..={}", operator::MAINTENANCE_RETRY_AFTER_S_MAX)));
        }
    }
    Ok(())
}

/// `POST /v1/cluster/org-numbers/{org}/release`: the business holding the number gives it up.
#[utoipa::path(post, path = "/v1/cluster/org-numbers/{org}/release", tag = "operator", operation_id = "cluster_release_org_number", summary = "Release an organisation number", description = "The business holding the number gives it up, so that another may register it.",
    security(("operator_token" = [])),
    params(("org" = String, Path, pattern = "^[0-9]{6}-?[0-9]{4}$", description = "The organisation number (`NNNNNN-NNNN` or ten digits, Luhn-checked).", example = "556036-0793")),
    responses((status = 200, description = "Released: the next business to register the number gets it; the business that held it \
            keeps existing without it. (An unverified number is also released by the sweeper \
            `signup.release_unverified_org_number_after_ms` after its registration.)", body = OrgReleaseOut),
        super::error::answers::OperatorAuth, super::error::answers::Busy,
        (status = 404, description = "`org-number-not-found`: no business holds this number (nor any ten digits whose check \
            digit is wrong).", content_type = "application/problem+json", body = super::Problem),
        (status = 422, description = "`invalid-org-number`: not ten digits.", content_type = "application/problem+json", body = super::Problem)))]
pub(super) async fn release_org_number(node: web::Data<NodeHandle>, org: web::Path<String>) -> ApiResult {
    let digits = org.chars().filter(char::is_ascii_digit).count();
    let org: crate::domain::OrgNumber = match org.parse() {
        Ok(o) => o,
        // The shape of a number with a wrong check digit: no business can hold it, so it is
        // not found (what the document's pattern admits is never refused as invalid).
        Err(_) if digits == 10 && org.len() <= 11 => {
            return Err(crate::actors::ActorError::NotFound { what: crate::actors::Missing::OrgNumber, id: org.to_string() }.into())
        }
        Err(e) => return Err(crate::domain::DomainError::from(e).into()),
    };
    let held_by = operator::release_org_number(&node, org.clone()).await?;
    Ok(HttpResponse::Ok().json(json::org_released(&org, &held_by)))
}

#[cfg(test)]
mod tests {
    use super::tokens_match;

    #[test]
    fn tokens_match_only_when_equal_whatever_their_lengths() {
        let token = "test-operator-token-0123456789";
        assert!(tokens_match(token, token));
        for wrong in ["", "t", "test-operator-token-012345678", "test-operator-token-01234567890", "Test-operator-token-0123456789"] {
            assert!(!tokens_match(wrong, token), "{wrong:?}");
        }
    }
}

/// The scope every operator route is under; [`require_token`] guards all of it, the routes of
/// `http::OPERATOR_ROUTES` outside it (the OpenAPI document) hold no secret.
pub const SCOPE: &str = "/v1/cluster";
