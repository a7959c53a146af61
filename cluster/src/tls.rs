//! Mutual TLS for the Raft transport: every node holds a certificate issued by the cluster's CA,
//! both ends of every QUIC connection present one, and each side learns the other's node id from
//! it.
//!
//! A node's identity is the DNS name `node-<id>.svea` ([`server_name`]) in its certificate's
//! subject alternative names. A client dials a peer under that name, so a certificate issued to
//! node 2 cannot answer for node 3; a server reads the id of whoever connected with
//! [`peer_node_id`]. Trust is the CA alone: there is no public PKI, no revocation list, no
//! process-wide crypto provider (the `ring` provider is passed explicitly to every config) and
//! only TLS 1.3.
//!
//! Also here: generating a CA and node certificates ([`generate_ca`], [`generate_node_cert`]),
//! used by `svea certs` and by tests. Reading files is limited to the three PEM files an
//! [`Identity`] is loaded from.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use quinn::crypto::rustls::{NoInitialCipherSuite, QuicClientConfig, QuicServerConfig};
use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls::RootCertStore;

/// The ALPN protocol both ends must agree on; bump the version when the wire format changes so
/// that mismatched nodes fail the handshake instead of misreading frames.
/// 2: a forwarded actor call carries the request id it serves (`svea_node::core::remote::Forwarded`).
pub const ALPN: &[u8] = b"svea-raft/2";

/// Largest PEM file [`Identity::load`] reads: a CA bundle or a certificate chain is a few
/// kilobytes, so anything near this is the wrong file.
pub const PEM_FILE_BYTES_MAX: u64 = 1024 * 1024;

/// Lifetime of a CA made by [`generate_ca`]: ten years. There is no rotation tooling yet, so
/// expiry must be a planned event, not an outage.
pub const CA_VALIDITY_DAYS: u64 = 3650;

/// Lifetime of a node certificate made by [`generate_node_cert`]: five years, inside the CA's.
pub const NODE_CERT_VALIDITY_DAYS: u64 = 1825;

const _: () = assert!(NODE_CERT_VALIDITY_DAYS < CA_VALIDITY_DAYS);

/// Generated certificates start this long before "now", so a peer whose clock is somewhat behind
/// the machine that ran `svea certs` still accepts them.
const NOT_BEFORE_BACKDATE: Duration = Duration::from_secs(24 * 60 * 60);

/// Longest node label ([`check_label`]).
pub const LABEL_LEN_MAX: usize = 32;

const NODE_NAME_PREFIX: &str = "node-";
const NODE_NAME_SUFFIX: &str = ".svea";

/// The DNS name every certificate of node `node_id` carries, and the name a client expects when
/// it dials that node: `node-<id>.svea`.
pub fn server_name(node_id: u64) -> String {
    format!("{NODE_NAME_PREFIX}{node_id}{NODE_NAME_SUFFIX}")
}

/// The node id in a name of the form `node-<id>.svea` (case-insensitive, canonical decimal, > 0).
fn node_id_from_name(name: &str) -> Option<u64> {
    let lower = name.to_ascii_lowercase();
    let digits = lower
        .strip_prefix(NODE_NAME_PREFIX)?
        .strip_suffix(NODE_NAME_SUFFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let id: u64 = digits.parse().ok()?;
    // Refuse `node-01.svea`: one node, one spelling.
    (id > 0 && id.to_string() == digits).then_some(id)
}

/// Everything that can go wrong loading an identity, building TLS configs or making certificates.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read from disk.
    #[error("cannot read {what} {}", path.display())]
    Read {
        /// Which file it is: `ca certificate`, `node certificate` or `node key`.
        what: &'static str,
        /// The file we tried to read.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },

    /// A PEM file is larger than [`PEM_FILE_BYTES_MAX`]; probably not a certificate or key.
    #[error("{what} {} is larger than {limit_bytes} bytes", path.display())]
    TooLarge {
        /// Which file it is.
        what: &'static str,
        /// The file we tried to read.
        path: PathBuf,
        /// The limit it exceeds.
        limit_bytes: u64,
    },

    /// PEM text is malformed or holds no item of the kind expected (certificate or private key).
    #[error("{what} {origin}: {reason}")]
    Pem {
        /// Which input it is.
        what: &'static str,
        /// The file path, or `<ca_pem>` / `<cert_pem>` / `<key_pem>` for text handed in directly.
        origin: String,
        /// What is wrong, e.g. `no certificate found`.
        reason: String,
    },

    /// A certificate is not usable: not X.509, or without exactly one `node-<id>.svea` name.
    #[error("certificate {origin}: {reason}")]
    Certificate {
        /// The file path or `<cert_pem>`.
        origin: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The private key is not the key of the node certificate, or cannot be used for signing.
    #[error("node key {key} does not fit node certificate {cert}: {reason}")]
    KeyMismatch {
        /// Where the certificate came from.
        cert: String,
        /// Where the key came from.
        key: String,
        /// What rustls said.
        reason: String,
    },

    /// The node certificate does not verify under the CA: another CA issued it, it has expired or
    /// is not yet valid, or it lacks the server and client usages.
    #[error("node certificate {cert} is not valid under ca {ca}: {reason}")]
    NotTrusted {
        /// Where the certificate came from.
        cert: String,
        /// Where the CA came from.
        ca: String,
        /// What the verifier said.
        reason: String,
    },

    /// rustls refused to build a configuration from our certificates.
    #[error("tls config: {0}")]
    Config(#[from] rustls::Error),

    /// A certificate verifier could not be built (e.g. a CA certificate rustls cannot use).
    #[error("tls certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),

    /// The TLS config lacks the cipher suite QUIC needs for its initial packets.
    #[error("quic crypto: {0}")]
    Quic(#[from] NoInitialCipherSuite),

    /// The HTTPS key is not the key of the HTTPS certificate, or cannot be used for signing.
    #[error("https key {key} does not fit https certificate {cert}: {reason}")]
    HttpsKeyMismatch {
        /// Where the certificate came from.
        cert: String,
        /// Where the key came from.
        key: String,
        /// What rustls said.
        reason: String,
    },

    /// The host names asked of an HTTPS certificate are not usable.
    #[error("invalid https host names: {reason}")]
    BadHosts {
        /// Which rule they break.
        reason: String,
    },

    /// A node id of 0 was given; node ids start at 1.
    #[error("invalid node id {node_id}: must be greater than 0")]
    BadNodeId {
        /// The refused id.
        node_id: u64,
    },

    /// A node label breaks the rules of [`check_label`].
    #[error("invalid node label {label:?}: {reason}")]
    BadLabel {
        /// The refused label.
        label: String,
        /// Which rule it breaks.
        reason: String,
    },

    /// The cluster name for a new CA is empty or has control characters.
    #[error("invalid cluster name {name:?}: {reason}")]
    BadClusterName {
        /// The refused name.
        name: String,
        /// Which rule it breaks.
        reason: String,
    },

    /// A reloaded certificate was refused (the current one stays).
    #[error("reloading {cert} refused: {reason}")]
    Reload {
        /// The file at fault.
        cert: String,
        /// Why.
        reason: String,
    },

    /// rcgen could not make a key or a certificate.
    #[error("cannot generate certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// The `ring` provider, handed to every config explicitly: a process-wide default provider
/// would make behaviour depend on which crate installed one first.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

const TLS13_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// This node's TLS identity: the cluster CA it trusts, its certificate chain and private key,
/// and the node id its certificate names. Checked when built: the key fits the certificate and
/// the certificate is valid under the CA today.
///
/// The certificate and key live in a [`CertSlot`] that the QUIC configs made from this identity
/// ask at every handshake, and that clones of it share: [`Identity::reload`] swaps them in place
/// (new connections present the new certificate, open ones keep theirs).
#[derive(Clone)]
pub struct Identity {
    ca: Vec<CertificateDer<'static>>,
    slot: Arc<CertSlot>,
    node_id: u64,
}

/// A certificate chain and key that a TLS endpoint presents, swappable while it serves. rustls
/// asks it at every handshake (as server and, for mutual TLS, as client), so after
/// [`CertSlot::set`] new handshakes present the new certificate while established connections
/// keep the one they were made with.
pub struct CertSlot(RwLock<Arc<CertifiedKey>>);

impl CertSlot {
    fn new(key: CertifiedKey) -> Arc<CertSlot> {
        Arc::new(CertSlot(RwLock::new(Arc::new(key))))
    }

    /// What new handshakes present.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, key: Arc<CertifiedKey>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = key;
    }

    /// The SHA-256 of the leaf certificate new handshakes present (for logs and tests).
    pub fn fingerprint(&self) -> String {
        let key = self.current();
        key.cert.first().map(|c| fingerprint(c)).unwrap_or_default()
    }
}

/// Lower-case hex SHA-256 of a certificate's DER bytes.
fn fingerprint(cert: &CertificateDer<'_>) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(cert.as_ref()).iter().map(|b| format!("{b:02x}")).collect()
}

impl fmt::Debug for CertSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("CertSlot").field("sha256", &self.fingerprint()).finish_non_exhaustive()
    }
}

impl rustls::server::ResolvesServerCert for CertSlot {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

impl rustls::client::ResolvesClientCert for CertSlot {
    fn resolve(&self, _root_hint_subjects: &[&[u8]], _sigschemes: &[rustls::SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("Identity")
            .field("node_id", &self.node_id)
            .field("ca_certs", &self.ca.len())
            .field("chain_len", &self.slot.current().cert.len())
            .finish_non_exhaustive()
    }
}

/// Where each of the three inputs came from, for error messages.
struct Origins {
    ca: String,
    cert: String,
    key: String,
}

impl Identity {
    /// Read the CA certificate(s), the node certificate chain (leaf first) and the node's private
    /// key from PEM files. Errors name the file at fault.
    ///
    /// `ca_cert` may hold several certificates (e.g. old and new CA during a rotation); all are
    /// trusted.
    pub fn load(ca_cert: &Path, node_cert: &Path, node_key: &Path) -> Result<Identity, TlsError> {
        let ca = read_pem_file("ca certificate", ca_cert)?;
        let cert = read_pem_file("node certificate", node_cert)?;
        let key = read_pem_file("node key", node_key)?;
        let origins = Origins {
            ca: ca_cert.display().to_string(),
            cert: node_cert.display().to_string(),
            key: node_key.display().to_string(),
        };
        Identity::build(&ca, &cert, &key, origins)
    }

    /// Like [`Identity::load`] with the PEM text given directly.
    pub fn from_pem(ca_pem: &str, cert_pem: &str, key_pem: &str) -> Result<Identity, TlsError> {
        let origins = Origins {
            ca: "<ca_pem>".to_owned(),
            cert: "<cert_pem>".to_owned(),
            key: "<key_pem>".to_owned(),
        };
        Identity::build(
            ca_pem.as_bytes(),
            cert_pem.as_bytes(),
            key_pem.as_bytes(),
            origins,
        )
    }

    /// The node id this identity's certificate names (`node-<id>.svea`).
    pub fn node_id(&self) -> u64 {
        self.node_id
    }

    fn build(ca: &[u8], cert: &[u8], key: &[u8], origins: Origins) -> Result<Identity, TlsError> {
        let ca = read_certs("ca certificate", &origins.ca, ca)?;
        let chain = read_certs("node certificate", &origins.cert, cert)?;
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|error| TlsError::Pem {
            what: "node key",
            origin: origins.key.clone(),
            reason: match error {
                rustls::pki_types::pem::Error::NoItemsFound => "no private key found".to_owned(),
                other => other.to_string(),
            },
        })?;
        let node_id = node_id_of(&chain[0]).map_err(|reason| TlsError::Certificate {
            origin: origins.cert.clone(),
            reason,
        })?;

        let provider = provider();
        // Checks that the key parses and that its public half is the certificate's.
        let certified = CertifiedKey::from_der(chain.clone(), key.clone_key(), &provider).map_err(|error| {
            TlsError::KeyMismatch {
                cert: origins.cert.clone(),
                key: origins.key.clone(),
                reason: error.to_string(),
            }
        })?;

        // Verify now, as a peer would, in both roles: a certificate from another CA or one that
        // has expired is a startup error naming the files, not a stream of failed handshakes.
        let roots = root_store(&ca, &origins.ca)?;
        let not_trusted = |error: rustls::Error| TlsError::NotTrusted {
            cert: origins.cert.clone(),
            ca: origins.ca.clone(),
            reason: error.to_string(),
        };
        let name =
            ServerName::try_from(server_name(node_id)).expect("node-<id>.svea is a valid dns name");
        let now = UnixTime::now();
        WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()?
            .verify_server_cert(&chain[0], &chain[1..], &name, &[], now)
            .map_err(not_trusted)?;
        WebPkiClientVerifier::builder_with_provider(roots, provider)
            .build()?
            .verify_client_cert(&chain[0], &chain[1..], now)
            .map_err(not_trusted)?;

        Ok(Identity {
            ca,
            slot: CertSlot::new(certified),
            node_id,
        })
    }

    /// Re-reads the node certificate and key (and the CA file) and, when they differ from what
    /// is presented now, presents them from the next handshake on; open connections keep
    /// theirs. Refused, keeping the current certificate, when the new files do not load (the
    /// same checks as at startup), name another node, or change the CA: the verifiers of peers'
    /// certificates were built from the CA at startup, so a new CA takes a restart. Returns
    /// whether the certificate changed.
    pub fn reload(&self, ca_cert: &Path, node_cert: &Path, node_key: &Path) -> Result<bool, TlsError> {
        let new = Identity::load(ca_cert, node_cert, node_key)?;
        if new.node_id != self.node_id {
            return Err(TlsError::Reload { cert: node_cert.display().to_string(), reason: format!("names node {}, but this is node {}", new.node_id, self.node_id) });
        }
        if new.ca != self.ca {
            return Err(TlsError::Reload { cert: ca_cert.display().to_string(), reason: "the CA changed: a new cluster CA takes a restart".to_owned() });
        }
        let (old, next) = (self.slot.current(), new.slot.current());
        if old.cert == next.cert {
            return Ok(false);
        }
        self.slot.set(next);
        Ok(true)
    }

    /// What this identity presents, shared with every config made from it.
    pub fn slot(&self) -> &Arc<CertSlot> {
        &self.slot
    }

    fn roots(&self) -> Result<Arc<RootCertStore>, TlsError> {
        root_store(&self.ca, "<ca>")
    }
}

fn read_pem_file(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    let read_error = |source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(read_error)?
        .take(PEM_FILE_BYTES_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > PEM_FILE_BYTES_MAX {
        return Err(TlsError::TooLarge {
            what,
            path: path.to_owned(),
            limit_bytes: PEM_FILE_BYTES_MAX,
        });
    }
    Ok(bytes)
}

/// Every certificate in `pem`, at least one.
fn read_certs(
    what: &'static str,
    origin: &str,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem_error = |reason: String| TlsError::Pem {
        what,
        origin: origin.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| pem_error(error.to_string()))?;
    if certs.is_empty() {
        return Err(pem_error("no certificate found".to_owned()));
    }
    Ok(certs)
}

fn root_store(
    ca: &[CertificateDer<'static>],
    origin: &str,
) -> Result<Arc<RootCertStore>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in ca {
        roots
            .add(cert.clone())
            .map_err(|error| TlsError::Certificate {
                origin: origin.to_owned(),
                reason: format!("not usable as a ca: {error}"),
            })?;
    }
    Ok(Arc::new(roots))
}

/// The node id named by a certificate: exactly one distinct `node-<id>.svea` DNS name among its
/// subject alternative names. Other names (the node's label) are ignored.
fn node_id_of(cert: &CertificateDer<'_>) -> Result<u64, String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|error| format!("not an x.509 certificate: {error}"))?;
    let san = parsed
        .subject_alternative_name()
        .map_err(|error| format!("bad subject alternative names: {error}"))?
        .ok_or_else(|| "names no node: it has no subject alternative names".to_owned())?;
    let mut ids: Vec<u64> = san
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            x509_parser::extensions::GeneralName::DNSName(dns) => node_id_from_name(dns),
            _ => None,
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    match ids.as_slice() {
        [id] => Ok(*id),
        [] => Err("names no node: no dns name of the form node-<id>.svea".to_owned()),
        many => Err(format!(
            "names more than one node ({many:?}): a certificate must belong to one node"
        )),
    }
}

/// QUIC server config: present our chain, require a client certificate that verifies under the
/// CA, TLS 1.3 with [`ALPN`] only. Which node the client is: [`peer_node_id`].
pub fn server_config(
    id: &Identity,
    transport: Arc<quinn::TransportConfig>,
) -> Result<quinn::ServerConfig, TlsError> {
    let provider = provider();
    let client_verifier =
        WebPkiClientVerifier::builder_with_provider(id.roots()?, provider.clone()).build()?;
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(TLS13_ONLY)?
        .with_client_cert_verifier(client_verifier)
        .with_cert_resolver(id.slot.clone());
    tls.alpn_protocols = vec![ALPN.to_vec()];
    // No 0-RTT: early data can be replayed, and Raft messages are not idempotent.
    tls.max_early_data_size = 0;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(QuicServerConfig::try_from(tls)?));
    config.transport_config(transport);
    Ok(config)
}

/// QUIC client config: present our chain, accept only a server whose certificate verifies under
/// the CA and names the node we dial. Connect with `endpoint.connect_with(config, addr,
/// &server_name(peer_id))`.
pub fn client_config(
    id: &Identity,
    transport: Arc<quinn::TransportConfig>,
) -> Result<quinn::ClientConfig, TlsError> {
    let provider = provider();
    let server_verifier =
        WebPkiServerVerifier::builder_with_provider(id.roots()?, provider.clone()).build()?;
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(TLS13_ONLY)?
        .with_webpki_verifier(server_verifier)
        .with_client_cert_resolver(id.slot.clone());
    tls.alpn_protocols = vec![ALPN.to_vec()];
    tls.enable_early_data = false;
    let mut config = quinn::ClientConfig::new(Arc::new(QuicClientConfig::try_from(tls)?));
    config.transport_config(transport);
    Ok(config)
}

/// The node id in the certificate the peer presented on `conn`, if it presented one naming
/// exactly one node. With [`server_config`] and [`client_config`] the certificate was verified
/// against the CA during the handshake, so on an established connection this is always `Some`.
pub fn peer_node_id(conn: &quinn::Connection) -> Option<u64> {
    let identity = conn.peer_identity()?;
    let chain = identity.downcast::<Vec<CertificateDer<'static>>>().ok()?;
    node_id_of(chain.first()?).ok()
}

/// Check a node label (a short human name such as `stockholm`, used for file names and as an
/// extra DNS name in the node's certificate): 1 to [`LABEL_LEN_MAX`] characters of `a-z`, `0-9`
/// and `-`, starting with a letter and not ending with `-`, so that it is also a valid DNS label.
pub fn check_label(label: &str) -> Result<(), TlsError> {
    let bad = |reason: &str| {
        Err(TlsError::BadLabel {
            label: label.to_owned(),
            reason: reason.to_owned(),
        })
    };
    if label.is_empty() || label.len() > LABEL_LEN_MAX {
        return bad("must be 1 to 32 characters long");
    }
    if !label
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return bad("may only contain a-z, 0-9 and -");
    }
    if !label.starts_with(|c: char| c.is_ascii_lowercase()) {
        return bad("must start with a letter a-z");
    }
    if label.ends_with('-') {
        return bad("must not end with -");
    }
    Ok(())
}

/// A freshly made cluster CA: its certificate and private key as PEM (for `ca.pem` and
/// `ca.key`), and the means to sign node certificates with it.
pub struct GeneratedCa {
    /// The CA certificate; every node trusts it (`tls.ca_cert`).
    pub cert_pem: String,
    /// The CA private key; keep it offline, it can mint node identities.
    pub key_pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl fmt::Debug for GeneratedCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("GeneratedCa")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

fn validity(days: u64) -> (SystemTime, SystemTime) {
    let now = SystemTime::now();
    (
        now - NOT_BEFORE_BACKDATE,
        now + Duration::from_secs(days * 24 * 60 * 60),
    )
}

/// Make a new self-signed CA (ECDSA P-256) for the cluster `cluster_name`, valid for
/// [`CA_VALIDITY_DAYS`]. It may sign node certificates only (path length 0).
pub fn generate_ca(cluster_name: &str) -> Result<GeneratedCa, TlsError> {
    if cluster_name.trim().is_empty() || cluster_name.chars().any(char::is_control) {
        return Err(TlsError::BadClusterName {
            name: cluster_name.to_owned(),
            reason: "must be non-empty without control characters".to_owned(),
        });
    }
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(
        rcgen::DnType::OrganizationName,
        format!("svea {cluster_name}"),
    );
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("svea {cluster_name} cluster ca"),
    );
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let (not_before, not_after) = validity(CA_VALIDITY_DAYS);
    params.not_before = not_before.into();
    params.not_after = not_after.into();
    let cert = params.self_signed(&key)?;
    Ok(GeneratedCa {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        issuer: rcgen::Issuer::new(params, key),
    })
}

impl GeneratedCa {
    /// An existing cluster CA (`ca.pem` and `ca.key`), to sign the certificate of a node that
    /// joins later. Fails when the key does not belong to the certificate.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<GeneratedCa, TlsError> {
        let key = rcgen::KeyPair::from_pem(key_pem)?;
        let issuer = rcgen::Issuer::from_ca_cert_pem(cert_pem, key)?;
        let ca = GeneratedCa { cert_pem: cert_pem.to_owned(), key_pem: key_pem.to_owned(), issuer };
        // Sign a throw-away certificate and check it against the CA certificate: a key from
        // another CA would otherwise mint certificates nobody trusts.
        let (probe, probe_key) = generate_node_cert(&ca, 1, "probe")?;
        Identity::from_pem(cert_pem, &probe, &probe_key)?;
        Ok(ca)
    }
}

/// Make a certificate and a new private key (ECDSA P-256) for node `node_id`, signed by `ca`,
/// valid for [`NODE_CERT_VALIDITY_DAYS`] as both TLS server and client. Its DNS names are
/// [`server_name`]`(node_id)` and `label` ([`check_label`]). Returns `(cert_pem, key_pem)`.
pub fn generate_node_cert(
    ca: &GeneratedCa,
    node_id: u64,
    label: &str,
) -> Result<(String, String), TlsError> {
    if node_id == 0 {
        return Err(TlsError::BadNodeId { node_id });
    }
    check_label(label)?;
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(vec![server_name(node_id), label.to_owned()])?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, server_name(node_id));
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    // Every node both accepts connections and dials its peers.
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    let (not_before, not_after) = validity(NODE_CERT_VALIDITY_DAYS);
    params.not_before = not_before.into();
    params.not_after = not_after.into();
    let cert = params.signed_by(&key, &ca.issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Lifetime of an HTTPS server certificate made by [`generate_https_cert`]: 397 days, the most
/// browsers accept from a public CA, so renewal is a yearly habit whichever CA signs.
pub const HTTPS_CERT_VALIDITY_DAYS: u64 = 397;

const _: () = assert!(HTTPS_CERT_VALIDITY_DAYS < CA_VALIDITY_DAYS);

/// Most host names and addresses one HTTPS certificate names.
pub const HTTPS_HOSTS_MAX: usize = 16;

/// Make an HTTPS server certificate and a new private key (ECDSA P-256) for the public listener,
/// signed by `ca`, naming `hosts` (DNS names, or IP addresses, which become IP SANs). It can
/// only serve: its extended key usage is server authentication alone and it names no node, so it
/// is never a cluster identity even when the cluster CA signs it. Returns `(cert_pem, key_pem)`.
pub fn generate_https_cert(ca: &GeneratedCa, hosts: &[String]) -> Result<(String, String), TlsError> {
    if hosts.is_empty() || hosts.len() > HTTPS_HOSTS_MAX {
        return Err(TlsError::BadHosts { reason: format!("name 1 to {HTTPS_HOSTS_MAX} host names or addresses, got {}", hosts.len()) });
    }
    if let Some(bad) = hosts.iter().find(|h| h.trim().is_empty() || h.chars().any(|c| c.is_whitespace() || c.is_control())) {
        return Err(TlsError::BadHosts { reason: format!("{bad:?} is not a host name or address") });
    }
    if let Some(node) = hosts.iter().find(|h| node_id_from_name(h).is_some()) {
        return Err(TlsError::BadHosts { reason: format!("{node:?} is a node identity name, not a public host name") });
    }
    let key = rcgen::KeyPair::generate()?;
    // rcgen turns a name that parses as an IP address into an IP SAN.
    let mut params = rcgen::CertificateParams::new(hosts.to_vec())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, hosts[0].clone());
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let (not_before, not_after) = validity(HTTPS_CERT_VALIDITY_DAYS);
    params.not_before = not_before.into();
    params.not_after = not_after.into();
    let cert = params.signed_by(&key, &ca.issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// The rustls server config of the public HTTPS listener, from PEM files (`http.tls_cert`, leaf
/// first, and `http.tls_key`): the `ring` provider, TLS 1.2 and 1.3 (browsers and tills), no
/// client certificates. Errors name the file at fault; a key that does not fit the certificate
/// is refused here, at startup.
pub fn https_server_config(cert: &Path, key: &Path) -> Result<(rustls::ServerConfig, HttpsCert), TlsError> {
    let https = HttpsCert { slot: CertSlot::new(https_certified_key(cert, key)?), cert: cert.to_owned(), key: key.to_owned() };
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(https.slot.clone());
    Ok((config, https))
}

/// The public listener's certificate as [`https_server_config`] serves it, and the files it
/// came from: [`HttpsCert::reload`] swaps a new one in for new connections.
#[derive(Debug, Clone)]
pub struct HttpsCert {
    slot: Arc<CertSlot>,
    cert: PathBuf,
    key: PathBuf,
}

impl HttpsCert {
    /// Re-reads `http.tls_cert` / `http.tls_key`; when they hold another certificate, new
    /// connections get it from now on and open ones keep theirs. A file that does not load or a
    /// key that does not fit is refused and the current certificate kept. Returns whether it
    /// changed.
    pub fn reload(&self) -> Result<bool, TlsError> {
        let next = https_certified_key(&self.cert, &self.key)?;
        if self.slot.current().cert == next.cert {
            return Ok(false);
        }
        self.slot.set(Arc::new(next));
        Ok(true)
    }

    /// What new connections are served.
    pub fn slot(&self) -> &Arc<CertSlot> {
        &self.slot
    }
}

/// The chain and key of the public listener, checked: PEM, and the key's public half is the
/// leaf's.
fn https_certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let cert_origin = cert.display().to_string();
    let key_origin = key.display().to_string();
    let chain = read_certs("https certificate", &cert_origin, &read_pem_file("https certificate", cert)?)?;
    let key_der = PrivateKeyDer::from_pem_slice(&read_pem_file("https key", key)?).map_err(|error| TlsError::Pem {
        what: "https key",
        origin: key_origin.clone(),
        reason: match error {
            rustls::pki_types::pem::Error::NoItemsFound => "no private key found".to_owned(),
            other => other.to_string(),
        },
    })?;
    // `from_der` checks that the key parses and that its public half is the leaf's.
    CertifiedKey::from_der(chain, key_der, &provider())
        .map_err(|error| TlsError::HttpsKeyMismatch { cert: cert_origin, key: key_origin, reason: error.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_round_trip_and_only_canonical_ones_parse() {
        assert_eq!(server_name(7), "node-7.svea");
        assert_eq!(node_id_from_name(&server_name(7)), Some(7));
        assert_eq!(node_id_from_name(&server_name(u64::MAX)), Some(u64::MAX));
        assert_eq!(node_id_from_name("NODE-7.SVEA"), Some(7));
        for bad in [
            "node-0.svea",
            "node-07.svea",
            "node-.svea",
            "node-+7.svea",
            "node-7.svea.example",
            "xnode-7.svea",
            "node-18446744073709551616.svea",
            "stockholm",
        ] {
            assert_eq!(node_id_from_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn labels_are_short_dns_labels() {
        for good in ["stockholm", "malmo", "node1", "a", "sto-1", &"a".repeat(32)] {
            assert!(check_label(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Stockholm",
            "1sto",
            "-sto",
            "sto-",
            "sto.1",
            "sto_1",
            "göteborg",
            &"a".repeat(33),
        ] {
            assert!(check_label(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_https_cert_serves_its_hosts_but_is_no_node_identity() {
        let ca = generate_ca("test").unwrap();
        let hosts = vec!["svea.example".to_owned(), "127.0.0.1".to_owned()];
        let (cert, key) = generate_https_cert(&ca, &hosts).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (cert_path, key_path) = (dir.path().join("https.pem"), dir.path().join("https.key"));
        std::fs::write(&cert_path, &cert).unwrap();
        std::fs::write(&key_path, &key).unwrap();
        https_server_config(&cert_path, &key_path).unwrap();
        // It verifies as a server for its names under the CA, and for nothing else.
        let roots = root_store(&read_certs("ca", "ca", ca.cert_pem.as_bytes()).unwrap(), "ca").unwrap();
        let leaf = read_certs("https", "https", cert.as_bytes()).unwrap();
        let verifier = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider()).build().unwrap();
        for name in ["svea.example", "127.0.0.1"] {
            let name = ServerName::try_from(name).unwrap();
            verifier.verify_server_cert(&leaf[0], &[], &name, &[], UnixTime::now()).unwrap();
        }
        let other = ServerName::try_from("other.example").unwrap();
        assert!(verifier.verify_server_cert(&leaf[0], &[], &other, &[], UnixTime::now()).is_err());
        // Never a cluster identity: no node name, and not a client certificate.
        assert!(Identity::from_pem(&ca.cert_pem, &cert, &key).is_err());

        let (_, other_key) = generate_https_cert(&ca, &hosts).unwrap();
        std::fs::write(&key_path, &other_key).unwrap();
        let error = https_server_config(&cert_path, &key_path).unwrap_err();
        assert!(matches!(error, TlsError::HttpsKeyMismatch { .. }), "{error}");
        assert!(error.to_string().contains(&key_path.display().to_string()), "{error}");
        for bad in [vec![], vec!["a b".to_owned()], vec!["node-3.svea".to_owned()], vec!["h".to_owned(); HTTPS_HOSTS_MAX + 1]] {
            assert!(matches!(generate_https_cert(&ca, &bad), Err(TlsError::BadHosts { .. })), "{bad:?}");
        }
    }

    #[test]
    fn a_generated_node_cert_loads_with_its_id_and_a_foreign_one_does_not() {
        let ca = generate_ca("test").unwrap();
        let (cert, key) = generate_node_cert(&ca, 3, "malmo").unwrap();
        let id = Identity::from_pem(&ca.cert_pem, &cert, &key).unwrap();
        assert_eq!(id.node_id(), 3);
        assert!(!format!("{id:?}").contains("PRIVATE"));

        let other = generate_ca("other").unwrap();
        let error = Identity::from_pem(&other.cert_pem, &cert, &key).unwrap_err();
        assert!(matches!(error, TlsError::NotTrusted { .. }), "{error}");

        let (_, other_key) = generate_node_cert(&ca, 3, "malmo").unwrap();
        let error = Identity::from_pem(&ca.cert_pem, &cert, &other_key).unwrap_err();
        assert!(matches!(error, TlsError::KeyMismatch { .. }), "{error}");

        let error = Identity::from_pem(&ca.cert_pem, &key, &key).unwrap_err();
        assert_eq!(
            error.to_string(),
            "node certificate <cert_pem>: no certificate found"
        );

        assert!(matches!(
            generate_node_cert(&ca, 0, "malmo"),
            Err(TlsError::BadNodeId { node_id: 0 })
        ));
    }
}
