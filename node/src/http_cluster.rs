//! The operator API under `/v1/cluster` (bearer token from `[operator] token`), and `/metrics`.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::http::{bad, ApiError, ApiResult};
use crate::operator::{self, MemberIn};
use crate::service::NodeHandle;

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

    fn exit_soon(&self) {
        if let Some(h) = self.0.get().cloned() {
            actix_web::rt::spawn(async move {
                actix_web::rt::time::sleep(EXIT_AFTER_DRAIN).await;
                tracing::info!(event = "drain", "drained: stopping the process");
                h.stop(true).await;
            });
        }
    }
}

/// Compares in time independent of where the first difference is.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks `Authorization: Bearer <operator token>` before anything else of the request is
/// looked at (its body included), for every route under `/v1/cluster`.
async fn require_token(
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
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        None => Err(ApiError::Unauthorized("missing operator token (Authorization: Bearer ...)".into())),
        Some(t) if same_secret(t.as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::Unauthorized("wrong operator token".into())),
    }
}

async fn status(node: web::Data<NodeHandle>) -> ApiResult {
    Ok(HttpResponse::Ok().json(operator::status(&node).await?))
}

async fn describe_self(node: web::Data<NodeHandle>) -> ApiResult {
    Ok(HttpResponse::Ok().json(operator::describe_self(&node)))
}

async fn add(node: web::Data<NodeHandle>, body: web::Json<MemberIn>) -> ApiResult {
    let m = body.into_inner();
    for (field, value) in [("raft_addr", &m.raft_addr), ("http_addr", &m.http_addr)] {
        value.parse::<std::net::SocketAddr>().map_err(|_| bad("invalid-body", format!("{field} {value:?} is not a socket address")))?;
    }
    if !(m.public_url.starts_with("http://") || m.public_url.starts_with("https://")) {
        return Err(bad("invalid-body", format!("public_url {:?} must start with http:// or https://", m.public_url)));
    }
    operator::add(&node, m).await?;
    Ok(HttpResponse::Ok().json(operator::status(&node).await?))
}

fn parse_node_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse::<u64>().ok().filter(|id| *id > 0).ok_or_else(|| bad("invalid-path", format!("node id {raw:?} is not a positive integer")))
}

async fn drain(node: web::Data<NodeHandle>, id: web::Path<String>, exit: Option<web::Data<ExitHandle>>) -> ApiResult {
    let id = parse_node_id(&id)?;
    let me = node.cluster().id();
    if id != me {
        let url = node.cluster().status().members.get(&id).map(|n| n.public_url.clone());
        let detail = match url {
            Some(u) => format!("node {me} cannot drain node {id}: send the drain to node {id} itself at {u}"),
            None => format!("node {id} is not a member of the cluster"),
        };
        return Err(ApiError::Actor(crate::actors::ActorError::Conflict { kind: "wrong-node".into(), detail }));
    }
    let report = operator::drain(&node).await?;
    if let Some(exit) = exit {
        exit.exit_soon();
    }
    Ok(HttpResponse::Ok().json(report))
}

#[derive(Debug, Deserialize)]
struct RemoveQuery {
    #[serde(default)]
    force: bool,
}

async fn remove(node: web::Data<NodeHandle>, id: web::Path<String>, q: web::Query<RemoveQuery>) -> ApiResult {
    let id = parse_node_id(&id)?;
    operator::remove(&node, id, q.force).await?;
    Ok(HttpResponse::Ok().json(operator::status(&node).await?))
}

/// `GET /metrics`: event counters in the Prometheus text format.
pub async fn metrics(node: web::Data<NodeHandle>) -> HttpResponse {
    let mut out = String::new();
    node.cluster().counters().render(&mut out);
    let s = node.cluster().status();
    out.push_str(&format!(
        "# HELP svea_raft_term Current Raft term.\n# TYPE svea_raft_term gauge\nsvea_raft_term {}\n\
         # HELP svea_raft_is_leader 1 when this node leads.\n# TYPE svea_raft_is_leader gauge\nsvea_raft_is_leader {}\n\
         # HELP svea_active_actors Actors active on this node.\n# TYPE svea_active_actors gauge\nsvea_active_actors {}\n",
        s.term,
        u8::from(s.leader == Some(s.node_id)),
        node.active_actors()
    ));
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(out)
}

/// Mounts `/cluster/...` inside the `/v1` scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/cluster")
            .wrap(actix_web::middleware::from_fn(require_token))
            .route("", web::get().to(status))
            .route("/self", web::get().to(describe_self))
            .route("/nodes", web::post().to(add))
            .route("/nodes/{id}/drain", web::post().to(drain))
            .route("/nodes/{id}", web::delete().to(remove)),
    );
}
