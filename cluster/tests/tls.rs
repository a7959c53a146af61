//! Mutual TLS between real quinn endpoints on loopback: nodes of one CA talk and learn each
//! other's ids; a foreign certificate, a missing certificate or the wrong node name is refused.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use quinn::{ConnectionError, Endpoint};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use svea_cluster::tls::{self, GeneratedCa, Identity, TlsError};

/// Deadline for every wait in these tests; loopback handshakes take milliseconds.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

fn transport() -> Arc<quinn::TransportConfig> {
    let mut transport = quinn::TransportConfig::default();
    transport.max_idle_timeout(Some(
        Duration::from_secs(5)
            .try_into()
            .expect("5 s fits a quic varint"),
    ));
    Arc::new(transport)
}

fn identity(ca: &GeneratedCa, node_id: u64, label: &str) -> Identity {
    let (cert, key) = tls::generate_node_cert(ca, node_id, label).unwrap();
    let id = Identity::from_pem(&ca.cert_pem, &cert, &key).unwrap();
    assert_eq!(id.node_id(), node_id);
    id
}

/// A node's endpoint on 127.0.0.1: accepts with [`tls::server_config`], dials with
/// [`tls::client_config`].
fn endpoint(id: &Identity) -> Endpoint {
    let server = tls::server_config(id, transport()).unwrap();
    let mut endpoint = Endpoint::server(server, (Ipv4Addr::LOCALHOST, 0).into()).unwrap();
    endpoint.set_default_client_config(tls::client_config(id, transport()).unwrap());
    endpoint
}

fn addr(endpoint: &Endpoint) -> SocketAddr {
    endpoint.local_addr().unwrap()
}

async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(STEP_TIMEOUT, future).await {
        Ok(value) => value,
        Err(_) => panic!("{what} did not finish within {STEP_TIMEOUT:?}"),
    }
}

/// `client` dials `server` as node `server_id`, sends a request on a bidi stream and reads the
/// reply; both sides check who the other is.
async fn exchange(client: &Endpoint, client_id: u64, server: &Endpoint, server_id: u64) {
    let dial = async {
        let conn = client
            .connect(addr(server), &tls::server_name(server_id))
            .unwrap()
            .await
            .expect("client handshake");
        assert_eq!(tls::peer_node_id(&conn), Some(server_id));
        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        send.write_all(format!("hello from {client_id}").as_bytes())
            .await
            .unwrap();
        send.finish().unwrap();
        let reply = recv.read_to_end(1024).await.unwrap();
        assert_eq!(reply, format!("hello back from {server_id}").as_bytes());
        conn.close(0u32.into(), b"done");
    };
    let answer = async {
        let conn = server
            .accept()
            .await
            .expect("endpoint open")
            .await
            .expect("server handshake");
        assert_eq!(tls::peer_node_id(&conn), Some(client_id));
        let (mut send, mut recv) = conn.accept_bi().await.unwrap();
        let request = recv.read_to_end(1024).await.unwrap();
        assert_eq!(request, format!("hello from {client_id}").as_bytes());
        send.write_all(format!("hello back from {server_id}").as_bytes())
            .await
            .unwrap();
        send.finish().unwrap();
        // Keep the connection until the client has read the reply and closed.
        conn.closed().await;
    };
    within("exchange", async { tokio::join!(dial, answer) }).await;
}

/// `client` dials `server` under `name` with `config`; the handshake must fail. Returns how the
/// client and the server saw the failure. The server never gets an established connection.
async fn refused(
    client: &Endpoint,
    config: quinn::ClientConfig,
    server: &Endpoint,
    name: &str,
) -> (ConnectionError, ConnectionError) {
    let dial = async {
        let connecting = client.connect_with(config, addr(server), name).unwrap();
        match connecting.await {
            Err(error) => error,
            // TLS 1.3: the client finishes its side before the server has checked its
            // certificate, so a refusal by the server arrives as a close right after.
            Ok(conn) => conn.closed().await,
        }
    };
    let answer = async {
        let incoming = server.accept().await.expect("endpoint open");
        match incoming.await {
            Err(error) => error,
            Ok(conn) => panic!(
                "server accepted a connection from node {:?}",
                tls::peer_node_id(&conn)
            ),
        }
    };
    within("refused handshake", async { tokio::join!(dial, answer) }).await
}

/// A raw rustls client config (ring provider, TLS 1.3, our ALPN) trusting `ca_pem` and
/// presenting `cert` if given: lets a test build clients our API would refuse to build.
fn raw_client(ca_pem: &str, cert: Option<(&str, &str)>) -> quinn::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(roots);
    let mut config = match cert {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(cert.as_bytes())
                    .collect::<Result<_, _>>()
                    .unwrap(),
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
    };
    config.alpn_protocols = vec![tls::ALPN.to_vec()];
    let mut config = quinn::ClientConfig::new(Arc::new(
        quinn::crypto::rustls::QuicClientConfig::try_from(config).unwrap(),
    ));
    config.transport_config(transport());
    config
}

/// The side that refused a handshake reports a locally raised TLS error saying `why`.
#[track_caller]
fn assert_refused_here(error: &ConnectionError, why: &str) {
    assert!(
        matches!(error, ConnectionError::TransportError(_)) && error.to_string().contains(why),
        "expected this side to refuse the handshake with {why:?}, got: {error}"
    );
}

/// The other side learns of the refusal from the peer's close, with the same reason.
#[track_caller]
fn assert_refused_by_peer(error: &ConnectionError, why: &str) {
    assert!(
        matches!(error, ConnectionError::ConnectionClosed(_)) && error.to_string().contains(why),
        "expected the peer to refuse the handshake with {why:?}, got: {error}"
    );
}

const FOREIGN: &str = "UnknownIssuer";
const NO_CERT: &str = "peer sent no certificates";
const WRONG_NAME: &str = "not valid for name";

#[tokio::test]
async fn nodes_of_one_ca_connect_both_ways_and_know_each_other() {
    let ca = tls::generate_ca("test").unwrap();
    let one = endpoint(&identity(&ca, 1, "stockholm"));
    let two = endpoint(&identity(&ca, 2, "gothenburg"));

    exchange(&one, 1, &two, 2).await;
    exchange(&two, 2, &one, 1).await;
}

#[tokio::test]
async fn a_node_of_another_ca_can_neither_dial_nor_be_dialled() {
    let ca = tls::generate_ca("test").unwrap();
    let other_ca = tls::generate_ca("other").unwrap();
    let one = endpoint(&identity(&ca, 1, "stockholm"));
    let stranger_id = identity(&other_ca, 2, "gothenburg");
    let stranger = endpoint(&stranger_id);

    // The stranger cannot even load its certificate against our CA.
    let (cert, key) = tls::generate_node_cert(&other_ca, 2, "gothenburg").unwrap();
    let error = Identity::from_pem(&ca.cert_pem, &cert, &key).unwrap_err();
    assert!(matches!(error, TlsError::NotTrusted { .. }), "{error}");

    // As a client that trusts our CA but presents the foreign certificate: our server refuses.
    let client = raw_client(&ca.cert_pem, Some((&cert, &key)));
    let (at_client, at_server) = refused(&stranger, client, &one, &tls::server_name(1)).await;
    assert_refused_here(&at_server, FOREIGN);
    assert_refused_by_peer(&at_client, FOREIGN);

    // As a client with its own identity: it does not trust our server either.
    let client = tls::client_config(&stranger_id, transport()).unwrap();
    let (at_client, at_server) = refused(&stranger, client, &one, &tls::server_name(1)).await;
    assert_refused_here(&at_client, FOREIGN);
    assert_refused_by_peer(&at_server, FOREIGN);

    // As a server: our client refuses its certificate.
    let client = tls::client_config(&identity(&ca, 1, "stockholm"), transport()).unwrap();
    let (at_client, at_server) = refused(&one, client, &stranger, &tls::server_name(2)).await;
    assert_refused_here(&at_client, FOREIGN);
    assert_refused_by_peer(&at_server, FOREIGN);
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused() {
    let ca = tls::generate_ca("test").unwrap();
    let one = endpoint(&identity(&ca, 1, "stockholm"));
    let anonymous = Endpoint::client((Ipv4Addr::LOCALHOST, 0).into()).unwrap();

    let client = raw_client(&ca.cert_pem, None);
    let (at_client, at_server) = refused(&anonymous, client, &one, &tls::server_name(1)).await;
    assert_refused_here(&at_server, NO_CERT);
    assert_refused_by_peer(&at_client, NO_CERT);
}

#[tokio::test]
async fn dialling_a_node_under_another_nodes_name_fails() {
    let ca = tls::generate_ca("test").unwrap();
    let one_id = identity(&ca, 1, "stockholm");
    let one = endpoint(&one_id);
    let two = endpoint(&identity(&ca, 2, "gothenburg"));

    // Node 2 answers, but node 1 meant to reach node 3.
    let client = tls::client_config(&one_id, transport()).unwrap();
    let (at_client, at_server) = refused(&one, client, &two, &tls::server_name(3)).await;
    assert_refused_here(&at_client, WRONG_NAME);
    assert_refused_by_peer(&at_server, WRONG_NAME);

    // Nor under our own name: a node's certificate does not answer for another node.
    let client = tls::client_config(&one_id, transport()).unwrap();
    let (at_client, _) = refused(&one, client, &two, &tls::server_name(1)).await;
    assert_refused_here(&at_client, WRONG_NAME);

    // The right name still works afterwards.
    exchange(&one, 1, &two, 2).await;
}

#[test]
fn identity_load_reads_files_and_names_the_file_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    let ca = tls::generate_ca("test").unwrap();
    let (cert, key) = tls::generate_node_cert(&ca, 5, "malmo").unwrap();
    let ca_path = dir.path().join("ca.pem");
    let cert_path = dir.path().join("node.pem");
    let key_path = dir.path().join("node.key");
    std::fs::write(&ca_path, &ca.cert_pem).unwrap();
    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&key_path, &key).unwrap();

    let id = Identity::load(&ca_path, &cert_path, &key_path).unwrap();
    assert_eq!(id.node_id(), 5);

    let missing = dir.path().join("missing.key");
    let error = Identity::load(&ca_path, &cert_path, &missing).unwrap_err();
    assert!(matches!(error, TlsError::Read { .. }));
    assert_eq!(
        error.to_string(),
        format!("cannot read node key {}", missing.display())
    );

    // Key and certificate swapped.
    let error = Identity::load(&ca_path, &key_path, &cert_path).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "node certificate {}: no certificate found",
            key_path.display()
        )
    );

    // The CA's own certificate names no node.
    let ca_key_path = dir.path().join("ca.key");
    std::fs::write(&ca_key_path, &ca.key_pem).unwrap();
    let error = Identity::load(&ca_path, &ca_path, &ca_key_path).unwrap_err();
    assert!(
        error.to_string().contains("names no node"),
        "unexpected: {error}"
    );
}
