//! Which build runs, and what the alerts watch (issue 24 items 2 and 5), through real processes:
//! `svea --version` and `svea_build_info` carry the git revision the binary was built from, the
//! operator console shows it, and a node exports when each of its certificates expires and how
//! big its data directory and disk are.

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use svea_config::loopback::Node;

use crate::harness::*;
use crate::page::Phone;

/// The revision `node/build.rs` must have stamped: git's, when the tree is a git checkout.
fn expected_revision() -> String {
    let out = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).current_dir(env!("CARGO_MANIFEST_DIR")).output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        _ => "unknown".to_owned(),
    }
}

#[test]
fn svea_version_names_the_version_and_the_git_revision() {
    let (code, out, err) = svea_cli(&["--version"], &[]);
    assert_eq!(code, Some(0), "{err}");
    let revision = expected_revision();
    assert_eq!(out.trim(), format!("svea {} (revision {revision})", env!("CARGO_PKG_VERSION")));
    if revision != "unknown" {
        assert_eq!(revision.len(), 12, "{revision}");
    }
}

/// The value of the one sample of `exposition` whose line starts with `series ` (name and labels).
fn sample(exposition: &str, series: &str) -> f64 {
    exposition
        .lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {series} in:\n{exposition}"))
}

fn now_s() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs_f64()
}

/// `expiry` is `days` from now (the certificates were made a moment ago), within a day.
#[track_caller]
fn expires_in(expiry: f64, days: u64) {
    let want = now_s() + Duration::from_secs(days * 86_400).as_secs_f64();
    assert!((expiry - want).abs() < 86_400.0, "expiry {expiry} is not {days} days from now ({want})");
}

#[test]
fn a_node_exports_its_build_certificate_expiry_and_disk_and_the_console_shows_the_build() {
    let dir = tempfile::tempdir().expect("tmp");
    let c = Cluster3::start(dir.path(), &[]);
    let n = &c.nodes[0];
    let m = n.metrics();
    assert_eq!(m.status, 200);
    let text = m.body.as_str().expect("exposition").to_owned();
    let build = format!("svea_build_info{{version=\"{}\",revision=\"{}\"}}", env!("CARGO_PKG_VERSION"), expected_revision());
    assert_eq!(sample(&text, &build), 1.0);

    // `svea certs` made the node certificates and the CA just now, valid for these many days.
    expires_in(sample(&text, "svea_tls_cert_expiry_timestamp_seconds{cert=\"node\"}"), svea_cluster::tls::NODE_CERT_VALIDITY_DAYS);
    expires_in(sample(&text, "svea_tls_cert_expiry_timestamp_seconds{cert=\"cluster_ca\"}"), svea_cluster::tls::CA_VALIDITY_DAYS);
    assert!(!text.contains("cert=\"https\""), "this node serves plain HTTP on loopback: no https certificate");

    // The data directory holds at least the store; the disk has room and a size.
    let store = sample(&text, "svea_store_bytes");
    let (free, size) = (sample(&text, "svea_store_free_bytes"), sample(&text, "svea_store_filesystem_bytes"));
    assert!(store > 0.0 && free > 0.0 && size >= free, "store {store}, free {free}, size {size}");

    // The console's header: version and revision of the node answering.
    let mut op = Phone::default().with_header("origin", &n.operator_url);
    let r = op.post(&format!("{}/ops/sign-in", n.operator_url), &[("token", OPERATOR_TOKEN)]);
    assert_eq!(r.status, 303, "{}", r.body);
    let page = op.get(&format!("{}/ops", n.operator_url));
    let html = page.html(200);
    assert!(html.contains(&format!("id=\"version\">{}<", env!("CARGO_PKG_VERSION"))), "{html}");
    assert!(html.contains(&format!("id=\"revision\">{}<", expected_revision())), "{html}");
}

#[test]
fn an_https_node_exports_when_its_https_certificate_expires() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("https");
    let out_s = out.display().to_string();
    let (code, _, err) = svea_cli(&["certs", "--out", &out_s, "--nodes", "stockholm", "--https", "127.0.0.1,localhost"], &[]);
    assert_eq!(code, Some(0), "svea certs --https: {err}");
    let file = |name: &str| out.join(name).display().to_string();
    let (cert, key) = (file("stockholm-https.pem"), file("stockholm-https.key"));
    let (http, operator) = (free_port(), free_port());
    let url = format!("https://127.0.0.1:{http}");
    let node = Node::loopback(1, "stockholm", http, free_port()).operator_port(operator).public_url(&url);
    let mut n = NodeProc::start_unready(dir.path(), node, &[("http.tls_cert", &cert), ("http.tls_key", &key), ("operator.token", OPERATOR_TOKEN)], &url, &format!("http://127.0.0.1:{operator}"));
    // The expiry is set as the node starts, before its listeners open.
    let up = poll_until(READY_DEADLINE, || {
        assert!(n.running(), "svea exited; log:\n{}", n.log_text());
        std::net::TcpStream::connect(("127.0.0.1", operator)).is_ok()
    });
    assert!(up.is_ok(), "the operator listener never opened; log:\n{}", n.log_text());
    let m = n.metrics();
    assert_eq!(m.status, 200);
    let text = m.body.as_str().expect("exposition").to_owned();
    expires_in(sample(&text, "svea_tls_cert_expiry_timestamp_seconds{cert=\"https\"}"), svea_cluster::tls::HTTPS_CERT_VALIDITY_DAYS);
}
