//! `GET /metrics`: counters and gauges in the Prometheus text format.

use actix_web::{web, HttpResponse};

use crate::core::NodeHandle;

/// `GET /metrics`: event counters in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "system", operation_id = "metrics",
    responses((status = 200, description = "Counters and gauges in the Prometheus text format (not rate limited).",
        content_type = "text/plain; version=0.0.4", body = String,
        example = "# HELP svea_raft_term Current Raft term.\n# TYPE svea_raft_term gauge\nsvea_raft_term 7\n")))]
pub async fn metrics(node: web::Data<NodeHandle>) -> HttpResponse {
    let mut out = String::new();
    node.counters().render(&mut out);
    node.render_scoring(&mut out);
    let s = node.cluster_status();
    out.push_str(&format!(
        "# HELP svea_raft_term Current Raft term.\n# TYPE svea_raft_term gauge\nsvea_raft_term {}\n\
         # HELP svea_raft_is_leader 1 when this node leads.\n# TYPE svea_raft_is_leader gauge\nsvea_raft_is_leader {}\n\
         # HELP svea_active_actors Actors active on this node.\n# TYPE svea_active_actors gauge\nsvea_active_actors {}\n\
         # HELP svea_raft_applied_index Index of the last Raft entry applied on this node.\n# TYPE svea_raft_applied_index gauge\nsvea_raft_applied_index {}\n\
         # HELP svea_commands_applied_total Commands applied on this node since it started (each command of a batch entry counts).\n# TYPE svea_commands_applied_total counter\nsvea_commands_applied_total {}\n",
        s.term,
        u8::from(s.leader == Some(s.node_id)),
        node.active_actors(),
        s.last_applied_index.unwrap_or(0),
        node.commands_applied()
    ));
    let maintenance = crate::core::operator::maintenance(&node).map_or(0, |m| u8::from(m.is_some()));
    out.push_str(&format!(
        "# HELP svea_maintenance_mode 1 while maintenance mode is on (customer endpoints answer 503).\n# TYPE svea_maintenance_mode gauge\nsvea_maintenance_mode {maintenance}\n"
    ));
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(out)
}

