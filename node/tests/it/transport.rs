//! Transport security through real processes: HTTPS on the public listener (curl and a Rust
//! client trusting the CA `svea certs --https` made), plaintext refused there, a public address
//! without TLS refused at startup, the operator API only on its own listener, security headers
//! on every answer, and a removed node's certificate refused by the cluster.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use svea_cluster::rpc::Ping;
use svea_cluster::tls::Identity;
use svea_cluster::transport::{Transport, TransportSettings};
use svea_config::loopback::Node;

use crate::harness::*;

/// `svea certs --https` for one node named `stockholm`, valid for 127.0.0.1 and localhost:
/// (https-ca.pem, cert, key).
fn https_certs(dir: &Path) -> (String, String, String) {
    let out = dir.join("https");
    let out_s = out.display().to_string();
    let (code, _, err) = svea_cli(&["certs", "--out", &out_s, "--nodes", "stockholm", "--https", "127.0.0.1,localhost"], &[]);
    assert_eq!(code, Some(0), "svea certs --https: {err}");
    let f = |name: &str| out.join(name).display().to_string();
    (f("https-ca.pem"), f("stockholm-https.pem"), f("stockholm-https.key"))
}

/// A ureq agent trusting only `ca` (rustls, ring).
pub(crate) fn https_agent(ca: &str) -> ureq::Agent {
    let pem = std::fs::read(ca).expect("ca");
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.expect("pem")).expect("root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    ureq::AgentBuilder::new().tls_config(Arc::new(config)).redirects(0).build()
}

use rustls::pki_types::pem::PemObject;

fn headers_of(r: &ureq::Response) -> BTreeMap<String, String> {
    r.headers_names().into_iter().map(|n| (n.to_ascii_lowercase(), r.header(&n).unwrap_or("").to_owned())).collect()
}

#[track_caller]
fn assert_security_headers(h: &BTreeMap<String, String>, https: bool) {
    assert_eq!(h.get("x-content-type-options").map(String::as_str), Some("nosniff"), "{h:?}");
    assert_eq!(h.get("cache-control").map(String::as_str), Some("no-store"), "{h:?}");
    assert_eq!(h.get("x-frame-options").map(String::as_str), Some("DENY"), "{h:?}");
    assert_eq!(h.get("referrer-policy").map(String::as_str), Some("no-referrer"), "{h:?}");
    let csp = h.get("content-security-policy").expect("csp");
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(h.get("strict-transport-security").is_some_and(|v| v.starts_with("max-age=")), https, "{h:?}");
}

#[test]
fn https_serves_curl_and_a_rust_client_and_plaintext_to_it_fails() {
    let dir = tempfile::tempdir().expect("tmp");
    let (ca, cert, key) = https_certs(dir.path());
    let (http, operator) = (free_port(), free_port());
    let url = format!("https://127.0.0.1:{http}");
    let node = Node::loopback(1, "stockholm", http, free_port()).operator_port(operator).public_url(&url);
    let mut n = NodeProc::start_unready(
        dir.path(),
        node,
        &[("http.tls_cert", &cert), ("http.tls_key", &key)],
        &url,
        &format!("http://127.0.0.1:{operator}"),
    );
    let agent = https_agent(&ca);
    let ready = poll_until(READY_DEADLINE, || {
        assert!(n.running(), "svea exited; log:\n{}", n.log_text());
        agent.get(&format!("{url}/ready")).timeout(Duration::from_secs(2)).call().is_ok()
    });
    assert!(ready.is_ok(), "https node not ready; log:\n{}", n.log_text());

    // curl, trusting the https CA.
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert", &ca, "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("{url}/health"))
        .output()
        .expect("run curl");
    assert!(out.status.success(), "curl failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
    // curl without the CA refuses the certificate: it is not from a public CA.
    let out = Command::new("curl").args(["-sS", "--max-time", "10", "-o", "/dev/null"]).arg(format!("{url}/health")).output().expect("curl");
    assert!(!out.status.success(), "curl accepted an untrusted certificate");

    // The Rust client: a real request, with every security header and HSTS.
    let r = agent.get(&format!("{url}/health")).call().expect("https get");
    assert_eq!(r.status(), 200);
    assert_security_headers(&headers_of(&r), true);
    // Also on errors.
    match agent.get(&format!("{url}/no/such/page")).call() {
        Err(ureq::Error::Status(404, r)) => assert_security_headers(&headers_of(&r), true),
        other => panic!("expected 404, got {other:?}"),
    }

    // Plaintext to the HTTPS port gets no HTTP answer at all.
    let plain = ureq::get(&format!("http://127.0.0.1:{http}/health")).timeout(Duration::from_secs(5)).call();
    assert!(matches!(plain, Err(ureq::Error::Transport(_))), "plaintext answered: {plain:?}");
    let out = Command::new("curl")
        .args(["-s", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("http://127.0.0.1:{http}/health"))
        .output()
        .expect("curl");
    assert_ne!(String::from_utf8_lossy(&out.stdout), "200", "plain http served on the https port");
    assert!(n.running(), "a plaintext request must not stop the node");
}

#[test]
fn a_public_address_without_tls_refuses_to_start_naming_the_keys() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[]);
    let config = n.config.clone();
    drop(n);
    for (addr, extra) in [("0.0.0.0", vec![]), ("192.0.2.10", vec![]), ("0.0.0.0", vec![("SVEA_HTTP_PLAINTEXT_BEHIND_PROXY", "true")])] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_svea"));
        cmd.args(["run", "--config"]).arg(&config).env("SVEA_NODE_HTTP_ADDR", format!("{addr}:{}", free_port()));
        for (k, v) in &extra {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run svea");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{addr} {extra:?}: {err}");
        if extra.is_empty() {
            assert!(err.contains("node.http_addr") && err.contains("http.tls_cert") && err.contains("http.plaintext_behind_proxy"), "{err}");
        } else {
            // Behind a proxy only when the proxy is named.
            assert!(err.contains("http.plaintext_behind_proxy") && err.contains("geo.trusted_proxies"), "{err}");
        }
    }
    // Named: it starts (plain http behind the proxy).
    let port = free_port();
    let mut n = NodeProc::start_unready(
        &dir.path().join("proxied"),
        Node::new(1, "stockholm", format!("0.0.0.0:{port}").parse().expect("addr"), format!("127.0.0.1:{}", free_udp_port()).parse().expect("addr"))
            .operator_port(free_port()),
        &[("http.plaintext_behind_proxy", "true"), ("geo.trusted_proxies", "127.0.0.1")],
        &format!("http://127.0.0.1:{port}"),
        "",
    );
    n.wait_ready();
}

#[test]
fn the_operator_api_lives_only_on_its_own_listener() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[("operator.token", OPERATOR_TOKEN)]);
    let bearer = format!("Bearer {OPERATOR_TOKEN}");
    let auth = [("authorization", bearer.as_str())];
    // The public port: 404 with and without the token, for every operator route.
    n.get_with("/v1/cluster", &auth).problem(404, "no-route");
    n.get_with("/v1/cluster/self", &auth).problem(404, "no-route");
    n.post_with("/v1/cluster/nodes", serde_json::json!({}), &auth).problem(404, "no-route");
    // The operator port: the token, and only the token.
    let s = n.operator_get("/v1/cluster", &auth);
    assert_eq!(s.status, 200, "{}", s.body);
    assert_eq!(s.body["node"], 1);
    n.operator_get("/v1/cluster", &[]).problem(401, "unauthorized");
    n.operator_get("/v1/cluster", &[("authorization", "Bearer test-operator-token-012345678")]).problem(401, "unauthorized");
    n.operator_get("/v1/cluster", &[("authorization", "Bearer x")]).problem(401, "unauthorized");
    // The public API is not on the operator port.
    n.operator_get("/health", &[]).problem(404, "no-route");
    // Security headers on both listeners, no HSTS over plain http.
    let to_map = |r: &Resp| r.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect::<BTreeMap<_, _>>();
    assert_security_headers(&to_map(&s), false);
    assert_security_headers(&to_map(&n.get("/health")), false);
}

/// Pings node `to` at `addr` over QUIC with the identity in `config` (a node's config file).
fn ping_as(config: &Path, to: u64, addr: std::net::SocketAddr) -> Result<(), String> {
    let cfg = svea_config::Config::load(Some(config), &BTreeMap::new()).expect("config");
    let identity = Identity::load(&cfg.tls.ca_cert, &cfg.tls.node_cert, &cfg.tls.node_key).expect("identity");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let t = Transport::bind("127.0.0.1:0".parse().expect("addr"), &identity, TransportSettings::from_config(&cfg)).expect("bind");
        t.set_peer_addr(to, addr);
        let r = t.call(to, &Ping, Duration::from_secs(5)).await.map(|_| ()).map_err(|e| e.to_string());
        t.close();
        r
    })
}

#[test]
fn a_removed_nodes_certificate_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut c = Cluster3::start(dir.path(), &[]);
    let leader = c.leader_index();
    let victim = (leader + 1) % 3;
    let other = (leader + 2) % 3;
    let (victim_id, leader_id) = (victim as u64 + 1, leader as u64 + 1);
    // While a member, its certificate is served.
    ping_as(&c.nodes[victim].config, leader_id, c.raft_addrs[leader]).expect("a member's ping");

    c.nodes[victim].kill9();
    let env = [("SVEA_OPERATOR_TOKEN", OPERATOR_TOKEN)];
    let (code, out, err) =
        svea_cli(&["cluster", "remove", "--node", &c.nodes[other].operator_url, "--id", &victim_id.to_string(), "--force"], &env);
    assert_eq!(code, Some(0), "{err}\n{out}");

    // Every remaining node refuses it (once it has the new membership); a member is still served.
    for i in [leader, other] {
        let id = i as u64 + 1;
        eventually(Duration::from_secs(20), format_args!("node {id} refuses removed node {victim_id}"), || {
            ping_as(&c.nodes[victim].config, id, c.raft_addrs[i]).err()
        });
    }
    ping_as(&c.nodes[other].config, leader_id, c.raft_addrs[leader]).expect("a member is still served");
    // Restarted with its certificate, it gets nowhere: it cannot vote its way back or disturb
    // the cluster, which keeps its leader and keeps committing.
    c.nodes[victim].restart_unready();
    let Biz { token, .. } = create_business(&c.nodes[other], "100.00");
    let sid = open_session(&c.nodes[leader], &token);
    assert_eq!(purchase(&c.nodes[other], &sid, "10.00", "T-1").status, 200);
    assert!(
        [leader, other].iter().any(|&i| c.nodes[i].log_text().contains("outside the current membership")),
        "no refusal logged"
    );
}
