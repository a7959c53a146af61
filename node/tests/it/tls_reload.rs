//! Certificates rotate without a restart (issue 24, item 3): the public HTTPS listener on SIGHUP,
//! the QUIC transport when its files change; open connections keep working, new ones see the
//! new certificate, a bad new file is refused and the current certificate kept, and the cluster
//! keeps committing across the rotation.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use sha2::Digest;
use svea_cluster::tls::{self, Identity};
use svea_config::loopback::Node;

use crate::harness::*;

/// How long a rotated certificate may take to be served (a poll of 300 ms on a loaded machine).
const ROTATION_DEADLINE: Duration = Duration::from_secs(20);

fn sha256_hex(der: &[u8]) -> String {
    sha2::Sha256::digest(der).iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of the first certificate in a PEM file.
fn fingerprint_of(pem_path: &Path) -> String {
    let der = CertificateDer::pem_file_iter(pem_path).expect("pem").next().expect("a certificate").expect("pem");
    sha256_hex(der.as_ref())
}

/// rustls client config trusting `cas`.
fn client(cas: &[&Path]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in cas {
        for cert in CertificateDer::pem_file_iter(ca).expect("ca") {
            roots.add(cert.expect("pem")).expect("root");
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions().expect("versions").with_root_certificates(roots).with_no_client_auth();
    // A resumed session reports the certificate of the session it resumes: every connection
    // here makes a full handshake, so it shows what the server presents now.
    config.resumption = rustls::client::Resumption::disabled();
    Arc::new(config)
}

/// One HTTPS connection kept open across requests (HTTP/1.1 keep-alive).
struct KeepAlive(rustls::StreamOwned<rustls::ClientConnection, TcpStream>);

impl KeepAlive {
    fn open(config: &Arc<rustls::ClientConfig>, port: u16) -> KeepAlive {
        let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let name = ServerName::try_from("127.0.0.1").expect("name");
        let conn = rustls::ClientConnection::new(config.clone(), name).expect("tls");
        let mut k = KeepAlive(rustls::StreamOwned::new(conn, tcp));
        assert_eq!(k.get("/health"), 200);
        k
    }

    /// The certificate the server presented on this connection.
    fn fingerprint(&self) -> String {
        sha256_hex(self.0.conn.peer_certificates().expect("handshake done")[0].as_ref())
    }

    /// `GET path` on this connection; the status. Panics if the connection was closed.
    fn get(&mut self, path: &str) -> u16 {
        write!(self.0, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n").expect("send on the open connection");
        self.0.flush().expect("flush");
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            let n = self.0.read(&mut byte).expect("read on the open connection");
            assert_eq!(n, 1, "the server closed the open connection; got {:?}", String::from_utf8_lossy(&head));
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).to_string();
        let status: u16 = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status line");
        let len: usize = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().expect("length")))
            .expect("a content-length");
        let mut body = vec![0u8; len];
        self.0.read_exact(&mut body).expect("body");
        status
    }
}

fn sighup(n: &NodeProc) {
    // SAFETY: plain kill(2) on our own child's pid.
    unsafe { libc::kill(n.pid().expect("running") as i32, libc::SIGHUP) };
}

#[test]
fn https_certificate_rotates_on_sighup_keeping_open_connections_and_refusing_a_bad_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let certs = dir.path().join("https");
    let certs_s = certs.display().to_string();
    let make = |force: bool| {
        let mut args = vec!["certs", "--out", &certs_s, "--nodes", "stockholm", "--https", "127.0.0.1,localhost"];
        if force {
            args.push("--force");
        }
        let (code, _, err) = svea_cli(&args, &[]);
        assert_eq!(code, Some(0), "svea certs --https: {err}");
    };
    make(false);
    // The files the node serves, replaced as a Secret update replaces them (a rename).
    let (live_cert, live_key) = (dir.path().join("https.pem"), dir.path().join("https.key"));
    let install = || {
        for (from, to) in [("stockholm-https.key", &live_key), ("stockholm-https.pem", &live_cert)] {
            let tmp = to.with_extension("tmp");
            std::fs::copy(certs.join(from), &tmp).expect("copy");
            std::fs::rename(&tmp, to).expect("rename");
        }
    };
    install();
    let first = fingerprint_of(&live_cert);

    let (http, operator) = (free_port(), free_port());
    let url = format!("https://127.0.0.1:{http}");
    let node = Node::loopback(1, "stockholm", http, free_port()).operator_port(operator).public_url(&url);
    let (cert_s, key_s) = (live_cert.display().to_string(), live_key.display().to_string());
    // Polling an hour apart: only SIGHUP can make this node look at its files during the test.
    let mut n = NodeProc::start_unready(
        dir.path(),
        node,
        &[("http.tls_cert", &cert_s), ("http.tls_key", &key_s), ("tls.reload_interval_ms", "3600000"), ("operator.token", OPERATOR_TOKEN)],
        &url,
        &format!("http://127.0.0.1:{operator}"),
    );
    let tls = client(&[&certs.join("https-ca.pem")]);
    let ready = poll_until(READY_DEADLINE, || {
        assert!(n.running(), "svea exited; log:\n{}", n.log_text());
        TcpStream::connect(("127.0.0.1", http)).is_ok()
    });
    assert!(ready.is_ok(), "https node not listening; log:\n{}", n.log_text());
    let mut open = KeepAlive::open(&tls, http);
    assert_eq!(open.fingerprint(), first);
    // The expiry gauge the certificate alerts read.
    let expiry = |n: &NodeProc| {
        let m = n.metrics().body.as_str().map(str::to_owned).unwrap_or_default();
        m.lines().find(|l| l.starts_with("svea_tls_cert_expiry_timestamp_seconds{cert=\"https\"}")).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse::<i64>().ok())
    };
    let not_after = |p: &Path| svea_node::telemetry::cert_not_after(p).expect("not after");
    let first_expiry = not_after(&live_cert);
    let operator_up = poll_until(READY_DEADLINE, || TcpStream::connect(("127.0.0.1", operator)).is_ok().then_some(()));
    assert!(operator_up.is_ok(), "operator listener not up; log:\n{}", n.log_text());
    assert_eq!(expiry(&n), Some(first_expiry));

    // Rotate: a new certificate from the same https CA, then SIGHUP. It is made in a later
    // second than the first (validity is in whole seconds), so it expires later.
    let now_s = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let first_made = now_s();
    let later = poll_until(Duration::from_secs(3), || (now_s() > first_made).then_some(()));
    assert!(later.is_ok(), "the clock stands still");
    make(true);
    install();
    let second = fingerprint_of(&live_cert);
    assert_ne!(first, second);
    sighup(&n);
    let served = poll_until(ROTATION_DEADLINE, || {
        // The open connection keeps working all along, with the certificate it was made with.
        assert_eq!(open.get("/health"), 200);
        assert!(n.running(), "SIGHUP stopped the node; log:\n{}", n.log_text());
        (KeepAlive::open(&tls, http).fingerprint() == second).then_some(())
    });
    assert!(served.is_ok(), "new connections never saw the new certificate; log:\n{}", n.log_text());
    assert_eq!(open.get("/ready"), 200);
    assert_eq!(open.fingerprint(), first, "an open connection keeps its certificate");
    // The rotated certificate was made later, so it expires later, and the gauge follows it.
    let second_expiry = not_after(&live_cert);
    assert!(second_expiry > first_expiry, "{second_expiry} {first_expiry}");
    let followed = poll_until(ROTATION_DEADLINE, || (expiry(&n) == Some(second_expiry)).then_some(()));
    assert!(followed.is_ok(), "the expiry gauge still says {:?}, the served certificate {second_expiry}", expiry(&n));

    // A bad new file (a half-written certificate) is refused; the current certificate stays.
    std::fs::write(&live_cert, "-----BEGIN CERTIFICATE-----\nAAAA\n").expect("write");
    sighup(&n);
    let refused = poll_until(ROTATION_DEADLINE, || n.log_text().contains("new certificate refused").then_some(()));
    assert!(refused.is_ok(), "no refusal logged; log:\n{}", n.log_text());
    assert!(n.running(), "a bad certificate file stopped the node; log:\n{}", n.log_text());
    assert_eq!(KeepAlive::open(&tls, http).fingerprint(), second, "the last good certificate is still served");
    assert_eq!(open.get("/health"), 200);
}

/// Connects to `raft_addr` as `me` and returns the SHA-256 of the certificate the node presents.
fn quic_fingerprint(me: &Identity, raft_addr: std::net::SocketAddr, node_id: u64) -> String {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    rt.block_on(async {
        let client = tls::client_config(me, Arc::new(quinn::TransportConfig::default())).expect("client config");
        let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().expect("addr")).expect("endpoint");
        let conn = tokio::time::timeout(Duration::from_secs(5), endpoint.connect_with(client, raft_addr, &tls::server_name(node_id)).expect("connect"))
            .await
            .expect("handshake in time")
            .expect("handshake");
        let chain = conn.peer_identity().expect("identity").downcast::<Vec<CertificateDer<'static>>>().expect("chain");
        let fp = sha256_hex(chain[0].as_ref());
        conn.close(0u32.into(), b"done");
        endpoint.wait_idle().await;
        fp
    })
}

#[test]
fn quic_certificates_rotate_when_their_files_change_and_the_cluster_keeps_committing() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut c = Cluster3::start(dir.path(), &[("tls.reload_interval_ms", "300")]);
    let before = create_business(c.by_region("stockholm"), "1000.00");
    let old: Vec<String> = REGIONS.iter().map(|r| fingerprint_of(&c.tls.join(format!("{r}.pem")))).collect();

    // New certificates for all three from the same cluster CA, written over the old files.
    let tls_dir = c.tls.display().to_string();
    let (code, _, err) = svea_cli(&["certs", "--add", "--force", "--out", &tls_dir, "--nodes", "stockholm:1", "gothenburg:2", "malmo:3"], &[]);
    assert_eq!(code, Some(0), "svea certs --add: {err}");
    let new: Vec<String> = REGIONS.iter().map(|r| fingerprint_of(&c.tls.join(format!("{r}.pem")))).collect();
    assert!(old.iter().zip(&new).all(|(o, n)| o != n));

    // Each node serves its new certificate to a new handshake (as a peer would dial it), found
    // by polling the files.
    let me = Identity::load(&c.tls.join("ca.pem"), &c.tls.join("malmo.pem"), &c.tls.join("malmo.key")).expect("identity");
    for (i, n) in c.nodes.iter().enumerate() {
        let seen = poll_until(ROTATION_DEADLINE, || (quic_fingerprint(&me, c.raft_addrs[i], i as u64 + 1) == new[i]).then_some(()));
        assert!(seen.is_ok(), "node {} never presented its new certificate; log:\n{}", i + 1, n.log_text());
    }

    // Writes commit across the rotation, on the connections opened before it...
    let after = create_business(c.by_region("gothenburg"), "1000.00");
    assert_eq!(c.by_region("malmo").get_as(&format!("/v1/businesses/{}", before.id), &before.key).status, 200);
    // ...and on new ones: malmo restarts, so every peer handshakes with it again, each
    // presenting its reloaded client certificate, and malmo catches up over them. (Its peers
    // may hold their dead connection to the killed process until the QUIC idle timeout: poll.)
    c.nodes[2].kill9();
    c.restart_stopped();
    // A Stockholm business: written in a group whose leader did not just die (with a group per
    // region, Malmö's own group is failing over now), replicated to malmo over new connections.
    let again = create_business_at(c.by_region("stockholm"), 59.3293, 18.0686);
    for b in [&before, &after, &again] {
        let read = poll_until(READY_DEADLINE, || (c.by_region("malmo").get_as(&format!("/v1/businesses/{}", b.id), &b.key).status == 200).then_some(()));
        assert!(read.is_ok(), "malmo never served {} after its restart; log:\n{}", b.id, c.nodes[2].log_text());
    }
}
