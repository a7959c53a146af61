//! Maintenance mode through real processes: switched on through one node, every region refuses
//! customers with 503 + Retry-After and the page shows the message, while health, metrics and
//! the operator API keep working; it survives a restart and switches off again.

use std::time::Duration;

use crate::harness::{create_business, eventually, open_session, svea_cli, Cluster3, OPERATOR_TOKEN};

const MESSAGE: &str = "Planerat underhåll till 06:00";

fn switch(node: &str, args: &[&str]) -> String {
    let mut all = vec!["cluster", "maintenance"];
    all.extend(args);
    all.extend(["--node", node]);
    let (code, out, err) = svea_cli(&all, &[("SVEA_OPERATOR_TOKEN", OPERATOR_TOKEN)]);
    assert_eq!(code, Some(0), "svea cluster maintenance: {out}{err}");
    out
}

fn refused_everywhere(c: &Cluster3, token: &str) {
    let open = serde_json::json!({"qr_token": token});
    for n in &c.nodes {
        let r = eventually(Duration::from_secs(10), format_args!("maintenance at {}", n.url), || {
            let r = n.post("/v1/sessions", open.clone());
            (r.status == 503).then_some(r)
        });
        r.problem(503, "maintenance");
        assert_eq!(r.header("retry-after"), Some("120"), "{}", n.url);
        let page = n.get(&format!("/q/{token}"));
        assert_eq!(page.status, 503);
        assert_eq!(page.header("retry-after"), Some("120"));
        assert!(page.body.as_str().unwrap_or_default().contains(MESSAGE), "the page shows the message: {}", page.body);
        for path in ["/health", "/ready"] {
            assert_eq!(n.get(path).status, 200, "{path} at {}", n.url);
        }
        assert_eq!(n.metrics().status, 200, "/metrics on the operator listener of {}", n.url);
        assert!(n.metrics().body.as_str().unwrap_or_default().contains("svea_maintenance_mode 1"));
        let op = n.operator_get("/v1/cluster", &[("Authorization", &format!("Bearer {OPERATOR_TOKEN}"))]);
        assert_eq!(op.status, 200, "operator API at {}", n.url);
    }
}

#[test]
fn maintenance_mode_is_cluster_wide_survives_restarts_and_switches_off() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut c = Cluster3::start(dir.path(), &[]);
    let biz = create_business(&c.nodes[0], "1000.00");
    let sid = open_session(&c.nodes[1], &biz.token);
    let out = switch(&c.nodes[0].operator_url, &["on", "--message", MESSAGE, "--retry-after", "120"]);
    assert!(out.contains("ON"), "{out}");
    refused_everywhere(&c, &biz.token);
    // An existing session's steps wait too; business endpoints do not.
    assert_eq!(c.nodes[2].get(&format!("/v1/sessions/{sid}")).status, 503);
    assert_eq!(c.nodes[2].get_as(&format!("/v1/businesses/{}/analytics", biz.id), &biz.key).status, 200);

    // It is replicated state: a restarted node still refuses customers.
    c.nodes[2].terminate();
    c.nodes[2].restart();
    refused_everywhere(&c, &biz.token);

    let out = switch(&c.nodes[1].operator_url, &["off"]);
    assert!(out.contains("OFF"), "{out}");
    for n in &c.nodes {
        let r = eventually(Duration::from_secs(10), format_args!("service back at {}", n.url), || {
            let r = n.post("/v1/sessions", serde_json::json!({"qr_token": biz.token}));
            (r.status != 503).then_some(r)
        });
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(n.get(&format!("/q/{}", biz.token)).status, 200);
        assert!(n.metrics().body.as_str().unwrap_or_default().contains("svea_maintenance_mode 0"));
    }
}
