//! The QUIC transport between nodes (quinn over an injected UDP socket, mutual TLS).
//!
//! One bidirectional stream per RPC: a request frame, (for snapshots) the snapshot bytes, then
//! one response frame (the format is in [`rpc`](crate::rpc)). Connections are reused per peer,
//! re-established with capped exponential backoff and kept alive below the idle timeout. The
//! endpoint is built over quinn's abstract UDP socket and runtime, so the simulations can run this
//! same code over simulated UDP and time.
//!
//! This module only moves frames: it accepts connections and streams and hands each request to
//! the `Handler` it is given ([`serve`](crate::serve): the server implements it; this module
//! never names the server), which answers it. Every task it spawns is owned: the accept loop
//! owns its connections' tasks, each connection owns its streams' tasks, and all of them end when
//! the endpoint closes.
//!
//! A peer's address may be a DNS name (a Kubernetes pod's headless Service name): it is resolved
//! each time a connection is made ([`Transport::set_hosts`]' fixed answers first, then the
//! system resolver, within the connect timeout) and the answer lives only as long as that
//! connection, so a peer that comes back at another IP is found on the next attempt.

pub mod frame;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use openraft::raft::SnapshotResponse;
use openraft::{Snapshot, Vote};
use quinn::{AsyncUdpSocket, Runtime};
use svea_config::{Config, PeerAddr};
use svea_storage::codec::{decode, encode};
use svea_storage::{GroupId, RaftNodeId, TypeConfig};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::rpc::{self, InstallSnapshot, Reply, Rpc};
use crate::serve::{AppHandler, AppSlot, Handler};
use crate::tls::{self, Identity};
use frame::{read_frame, write_frame};

/// Concurrent RPC streams one peer may have open towards us; the bound on in-flight requests.
pub const PEER_STREAMS_MAX: u32 = 256;
/// Application close code of a connection refused because its peer is not a member.
pub const NOT_A_MEMBER: u32 = 2;
/// Chunk size when streaming a snapshot body.
pub const SNAPSHOT_CHUNK_BYTES: usize = 1 << 20;
/// QUIC flow-control window of one stream: a snapshot streams at full speed across a WAN round
/// trip (8 MiB in flight at 100 ms is 80 MiB/s).
const STREAM_RECEIVE_WINDOW_BYTES: u32 = 8 << 20;
/// QUIC flow-control window of a whole connection: room for a snapshot and the Raft traffic
/// beside it.
const CONNECTION_WINDOW_BYTES: u32 = 32 << 20;
/// First pause before reconnecting to a peer whose connect failed; it doubles per failure up to
/// the configured `reconnect_backoff_max`.
const CONNECT_BACKOFF_BASE: Duration = Duration::from_millis(50);
/// Doublings of [`CONNECT_BACKOFF_BASE`] at most (the configured cap usually ends them first);
/// keeps the shift from overflowing.
const CONNECT_BACKOFF_DOUBLINGS_MAX: u32 = 16;

const _: () = assert!(SNAPSHOT_CHUNK_BYTES <= STREAM_RECEIVE_WINDOW_BYTES as usize, "a snapshot chunk fits one stream window");
const _: () = assert!(STREAM_RECEIVE_WINDOW_BYTES < CONNECTION_WINDOW_BYTES, "one stream cannot starve its connection");
const _: () = assert!(CONNECT_BACKOFF_DOUBLINGS_MAX < u32::BITS, "the backoff factor is a u32 shift");

/// Errors of the transport.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    /// No address is known for the peer.
    #[error("no address known for node {0}")]
    UnknownPeer(RaftNodeId),
    /// Connecting failed or is backing off.
    #[error("node {peer} unreachable: {reason}")]
    Unreachable {
        /// The peer.
        peer: RaftNodeId,
        /// Why.
        reason: String,
    },
    /// The RPC did not complete in time.
    #[error("rpc to node {peer} timed out after {after:?}")]
    Timeout {
        /// The peer.
        peer: RaftNodeId,
        /// The limit.
        after: Duration,
    },
    /// A frame was over the size limit.
    #[error("frame of {len} bytes is over the limit of {max} bytes")]
    FrameTooLarge {
        /// Claimed or actual length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Stream-level failure.
    #[error("stream failed: {0}")]
    Stream(String),
    /// The peer's answer could not be decoded, or a snapshot was not installed.
    #[error("bad response: {0}")]
    BadResponse(String),
    /// The peer refused the request as a whole (unknown kind, undecodable payload).
    #[error("request refused: {0}")]
    Refused(String),
    /// Endpoint setup failed.
    #[error("endpoint: {0}")]
    Endpoint(String),
}

/// Transport sizes and timeouts, from config.
#[derive(Debug, Clone, Copy)]
pub struct TransportSettings {
    /// Largest frame accepted or sent.
    pub max_frame_bytes: usize,
    /// Largest snapshot accepted.
    pub max_snapshot_bytes: u64,
    /// Connection establishment limit.
    pub connect_timeout: Duration,
    /// Default RPC limit (Raft passes its own TTLs).
    pub rpc_timeout: Duration,
    /// Upper bound of the reconnect backoff.
    pub backoff_max: Duration,
    /// QUIC idle timeout.
    pub idle_timeout: Duration,
    /// QUIC keep-alive interval (below the idle timeout).
    pub keepalive: Duration,
    /// Seed of QUIC's own randomness (packet number skips, transport parameter greasing, whose
    /// random length changes handshake sizes). `None` (production): OS entropy. The deterministic
    /// simulation sets it so a seed replays exactly.
    pub rng_seed: Option<[u8; 32]>,
}

impl TransportSettings {
    /// From the node's config.
    pub fn from_config(cfg: &Config) -> Self {
        TransportSettings {
            max_frame_bytes: cfg.limits.max_frame_bytes,
            max_snapshot_bytes: cfg.limits.max_snapshot_bytes,
            connect_timeout: cfg.timeouts.connect,
            rpc_timeout: cfg.timeouts.raft_rpc,
            backoff_max: cfg.timeouts.reconnect_backoff_max,
            idle_timeout: cfg.timeouts.quic_idle,
            keepalive: cfg.timeouts.quic_keepalive,
            rng_seed: None,
        }
    }

    fn quic(&self) -> Result<Arc<quinn::TransportConfig>, TransportError> {
        let mut t = quinn::TransportConfig::default();
        let idle = quinn::IdleTimeout::try_from(self.idle_timeout).map_err(|e| TransportError::Endpoint(e.to_string()))?;
        t.max_idle_timeout(Some(idle));
        t.keep_alive_interval(Some(self.keepalive));
        t.max_concurrent_bidi_streams(PEER_STREAMS_MAX.into());
        t.max_concurrent_uni_streams(0u32.into());
        t.stream_receive_window(STREAM_RECEIVE_WINDOW_BYTES.into());
        t.receive_window(CONNECTION_WINDOW_BYTES.into());
        t.send_window(CONNECTION_WINDOW_BYTES.into());
        Ok(Arc::new(t))
    }
}

struct Peer {
    addr: PeerAddr,
    conn: Option<quinn::Connection>,
    /// When `conn` was established.
    conn_since: Option<Instant>,
    failures: u32,
    retry_at: Option<Instant>,
}

/// How old this node's connection to a peer must be before a new connection *from* that peer
/// replaces it. A peer dials anew only when it has no connection to this node: it restarted
/// (then this node's old connection leads to a dead process and would otherwise wait for the
/// QUIC idle timeout before failing), or its own connection died. Connections younger than this
/// are kept, so two nodes that start together do not make each other redial forever.
const PEER_REDIAL_GUARD: Duration = Duration::from_secs(2);

/// A node's QUIC endpoint: client to every peer and server for all of them.
pub struct Transport {
    endpoint: quinn::Endpoint,
    client: quinn::ClientConfig,
    me: RaftNodeId,
    settings: TransportSettings,
    peers: Mutex<HashMap<RaftNodeId, Peer>>,
    /// The application's handler of actor calls, handed to the server.
    app: AppSlot,
    /// Set by [`Transport::close`]; background users (the pinger) stop on it.
    closed: AtomicBool,
    /// Fixed answers for peer host names (`cluster.hosts`), consulted before DNS.
    hosts: Mutex<Arc<BTreeMap<String, IpAddr>>>,
    /// Told the peer's id whenever a peer answers a request (the failure detector: any answer
    /// is as good as a ping's).
    answered: OnceLock<AnswerHook>,
}

/// What [`Transport::on_answer`] installs.
pub type AnswerHook = Arc<dyn Fn(RaftNodeId) + Send + Sync>;

impl Transport {
    /// Builds the endpoint over an injected socket and runtime.
    pub fn new(
        socket: Arc<dyn AsyncUdpSocket>,
        runtime: Arc<dyn Runtime>,
        identity: &Identity,
        settings: TransportSettings,
    ) -> Result<Arc<Transport>, TransportError> {
        let quic = settings.quic()?;
        let server = tls::server_config(identity, quic.clone()).map_err(|e| TransportError::Endpoint(e.to_string()))?;
        let client = tls::client_config(identity, quic).map_err(|e| TransportError::Endpoint(e.to_string()))?;
        let mut endpoint_config = quinn::EndpointConfig::default();
        endpoint_config.rng_seed(settings.rng_seed);
        let endpoint = quinn::Endpoint::new_with_abstract_socket(endpoint_config, Some(server), socket, runtime)
            .map_err(|e| TransportError::Endpoint(e.to_string()))?;
        Ok(Arc::new(Transport {
            endpoint,
            client,
            me: identity.node_id(),
            settings,
            peers: Mutex::new(HashMap::new()),
            app: Arc::new(OnceLock::new()),
            closed: AtomicBool::new(false),
            hosts: Mutex::new(Arc::new(BTreeMap::new())),
            answered: OnceLock::new(),
        }))
    }

    /// Binds a real UDP socket on the tokio runtime.
    pub fn bind(addr: SocketAddr, identity: &Identity, settings: TransportSettings) -> Result<Arc<Transport>, TransportError> {
        let runtime: Arc<dyn Runtime> = Arc::new(quinn::TokioRuntime);
        let socket = std::net::UdpSocket::bind(addr).map_err(|e| TransportError::Endpoint(format!("bind {addr}: {e}")))?;
        let socket = runtime.wrap_udp_socket(socket).map_err(|e| TransportError::Endpoint(e.to_string()))?;
        Self::new(socket, runtime, identity, settings)
    }

    /// Calls `hook` with the peer's id each time a peer answers a request of this node (the
    /// first hook set stays).
    pub fn on_answer(&self, hook: AnswerHook) {
        let _ = self.answered.set(hook);
    }

    /// The node id in our certificate.
    pub fn node_id(&self) -> RaftNodeId {
        self.me
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr, TransportError> {
        self.endpoint.local_addr().map_err(|e| TransportError::Endpoint(e.to_string()))
    }

    /// Sets the fixed answers for peer host names (`cluster.hosts`), consulted before DNS.
    pub fn set_hosts(&self, hosts: BTreeMap<String, IpAddr>) {
        *self.hosts.lock().unwrap_or_else(|p| p.into_inner()) = Arc::new(hosts);
    }

    /// Records (or updates) where a peer listens: an `ip:port`, or a `host:port` name resolved
    /// at each connect.
    pub fn set_peer_addr(&self, peer: RaftNodeId, addr: impl Into<PeerAddr>) {
        let addr = addr.into();
        let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        match peers.get_mut(&peer) {
            Some(p) if p.addr == addr => {}
            Some(p) => {
                p.addr = addr;
                p.conn = None;
                p.conn_since = None;
                p.failures = 0;
                p.retry_at = None;
            }
            None => {
                peers.insert(peer, Peer { addr, conn: None, conn_since: None, failures: 0, retry_at: None });
            }
        }
    }

    /// Sets the handler for application calls (once).
    pub fn set_app_handler(&self, handler: Arc<dyn AppHandler>) {
        let _ = self.app.set(handler);
    }

    /// The slot the server reads the application handler from.
    pub(crate) fn app_slot(&self) -> AppSlot {
        self.app.clone()
    }

    /// Largest snapshot this node accepts.
    pub(crate) fn max_snapshot_bytes(&self) -> u64 {
        self.settings.max_snapshot_bytes
    }

    /// Starts accepting connections and hands their requests to `server`. The returned task ends
    /// when the endpoint closes, and with it every connection and request task it spawned.
    pub(crate) fn serve(self: &Arc<Self>, server: Arc<dyn Handler>) -> JoinHandle<()> {
        tokio::spawn(self.clone().accept_loop(server))
    }

    async fn accept_loop(self: Arc<Self>, server: Arc<dyn Handler>) {
        // Dropping a JoinSet aborts its tasks: connections live no longer than this loop.
        let mut connections = JoinSet::new();
        while let Some(incoming) = self.endpoint.accept().await {
            while connections.try_join_next().is_some() {}
            connections.spawn(self.clone().serve_connection(incoming, server.clone()));
        }
    }

    async fn serve_connection(self: Arc<Self>, incoming: quinn::Incoming, server: Arc<dyn Handler>) {
        let conn = match tokio::time::timeout(self.settings.connect_timeout, incoming).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "incoming connection refused");
                return;
            }
            Err(_) => return,
        };
        let Some(peer) = tls::peer_node_id(&conn) else {
            conn.close(quinn::VarInt::from_u32(1), b"certificate names no node");
            return;
        };
        if !server.admits(peer) {
            tracing::warn!(peer, "refused a connection from a node outside the current membership");
            conn.close(quinn::VarInt::from_u32(NOT_A_MEMBER), b"not a member of this cluster");
            return;
        }
        self.peer_dialed_in(peer);
        // At most PEER_STREAMS_MAX live at once (QUIC's stream limit); ended when the connection
        // (or the endpoint) closes.
        let mut streams = JoinSet::new();
        while let Ok((send, recv)) = conn.accept_bi().await {
            while streams.try_join_next().is_some() {}
            streams.spawn(serve_stream(server.clone(), self.settings.max_frame_bytes, peer, send, recv));
        }
    }

    /// `peer` just opened a connection to this node, so it is up now and has no connection of
    /// its own to this one: it restarted, or its connection died. An established connection of
    /// ours to it older than [`PEER_REDIAL_GUARD`] may lead to the dead process: the next call
    /// dials anew instead of waiting out the idle timeout on it (calls already on it finish or
    /// time out as before), and any connect backoff ends.
    fn peer_dialed_in(&self, peer: RaftNodeId) {
        let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        let Some(p) = peers.get_mut(&peer) else { return };
        p.failures = 0;
        p.retry_at = None;
        if p.conn.is_some() && p.conn_since.is_some_and(|at| at.elapsed() >= PEER_REDIAL_GUARD) {
            tracing::info!(peer, "peer connected anew; the next call to it dials a new connection");
            p.conn = None;
            p.conn_since = None;
        }
    }

    /// Closes the endpoint: every connection, and the tasks serving them, end.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.endpoint.close(quinn::VarInt::from_u32(0), b"shutdown");
    }

    /// Whether [`Self::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// A live connection to `peer`, reusing the cached one or connecting (with backoff).
    async fn connection(&self, peer: RaftNodeId) -> Result<quinn::Connection, TransportError> {
        let addr = {
            let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
            let p = peers.get_mut(&peer).ok_or(TransportError::UnknownPeer(peer))?;
            if let Some(c) = &p.conn {
                if c.close_reason().is_none() {
                    return Ok(c.clone());
                }
                p.conn = None;
                p.conn_since = None;
            }
            if let Some(at) = p.retry_at {
                if Instant::now() < at {
                    return Err(TransportError::Unreachable { peer, reason: "backing off after failed connect".into() });
                }
            }
            p.addr.clone()
        };
        let attempt = async {
            // Resolved afresh for every connection: a pod that moved has a new IP.
            let addr = self.resolve(&addr).await?;
            let connecting = self
                .endpoint
                .connect_with(self.client.clone(), addr, &tls::server_name(peer))
                .map_err(|e| e.to_string())?;
            connecting.await.map_err(|e| e.to_string())
        };
        let result = match tokio::time::timeout(self.settings.connect_timeout, attempt).await {
            Ok(r) => r,
            Err(_) => Err(format!("connect timed out after {:?}", self.settings.connect_timeout)),
        };
        let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        let p = peers.get_mut(&peer).ok_or(TransportError::UnknownPeer(peer))?;
        // A failure (of the lookup too) backs off like any failed connect and resolves again then.
        match result {
            Ok(conn) => {
                if p.failures > 0 {
                    tracing::info!(peer, %addr, "connected after {} failed attempts", p.failures);
                }
                p.failures = 0;
                p.retry_at = None;
                p.conn = Some(conn.clone());
                p.conn_since = Some(Instant::now());
                Ok(conn)
            }
            Err(reason) => {
                p.failures = p.failures.saturating_add(1);
                // 100 ms, 200 ms, 400 ms ... capped.
                let doublings = p.failures.min(CONNECT_BACKOFF_DOUBLINGS_MAX);
                let backoff = CONNECT_BACKOFF_BASE.saturating_mul(1 << doublings).min(self.settings.backoff_max);
                p.retry_at = Some(Instant::now() + backoff);
                Err(TransportError::Unreachable { peer, reason })
            }
        }
    }

    /// The socket address to connect to for `addr`: itself, a `cluster.hosts` answer, or the
    /// system resolver's first answer of the endpoint's address family.
    async fn resolve(&self, addr: &PeerAddr) -> Result<SocketAddr, String> {
        let (host, port) = match addr {
            PeerAddr::Ip(ip) => return Ok(*ip),
            PeerAddr::Name { host, port } => (host.as_str(), *port),
        };
        let fixed = self.hosts.lock().unwrap_or_else(|p| p.into_inner()).get(host).copied();
        if let Some(ip) = fixed {
            return Ok(SocketAddr::new(ip, port));
        }
        let answers: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await.map_err(|e| format!("resolving {addr}: {e}"))?.collect();
        // An IPv4 socket cannot send to an IPv6 address (nor the reverse, unless dual-stack).
        let v4 = self.endpoint.local_addr().map(|a| a.is_ipv4()).unwrap_or(true);
        answers
            .iter()
            .find(|a| a.is_ipv4() == v4)
            .or(answers.first())
            .copied()
            .ok_or_else(|| format!("resolving {addr}: no address"))
    }

    /// Sends one request that belongs to no Raft group (or to group 0) and waits for its typed
    /// response, bounded by `timeout`.
    pub async fn call<R: Rpc>(&self, peer: RaftNodeId, request: &R, timeout: Duration) -> Result<R::Response, TransportError> {
        self.exchange(peer, 0, request, &[], timeout).await
    }

    /// [`Self::call`] for Raft group `group`: the same connection carries every group.
    pub async fn call_in<R: Rpc>(&self, peer: RaftNodeId, group: GroupId, request: &R, timeout: Duration) -> Result<R::Response, TransportError> {
        self.exchange(peer, group, request, &[], timeout).await
    }

    /// Streams a full snapshot to `peer`: its bytes follow the request frame.
    pub async fn send_snapshot(
        &self,
        peer: RaftNodeId,
        group: GroupId,
        vote: Vote<RaftNodeId>,
        snapshot: Snapshot<TypeConfig>,
        timeout: Duration,
    ) -> Result<SnapshotResponse<RaftNodeId>, TransportError> {
        let data = snapshot.snapshot.into_inner();
        let header = InstallSnapshot { vote, meta: snapshot.meta, len: data.len() as u64 };
        self.exchange(peer, group, &header, &data, timeout).await?.map_err(TransportError::BadResponse)
    }

    /// One stream: the request frame, then `trailer`, then the answer frame.
    async fn exchange<R: Rpc>(
        &self,
        peer: RaftNodeId,
        group: GroupId,
        request: &R,
        trailer: &[u8],
        timeout: Duration,
    ) -> Result<R::Response, TransportError> {
        let bytes = rpc::encode_request(request, group).map_err(|e| TransportError::BadResponse(e.to_string()))?;
        let max = self.settings.max_frame_bytes;
        let fut = async {
            let conn = self.connection(peer).await?;
            let (mut send, mut recv) = conn.open_bi().await.map_err(|e| self.stream_failed(peer, e.to_string()))?;
            write_frame(&mut send, &bytes, max).await?;
            for chunk in trailer.chunks(SNAPSHOT_CHUNK_BYTES) {
                send.write_all(chunk).await.map_err(|e| TransportError::Stream(e.to_string()))?;
            }
            let _ = send.finish();
            let answer = read_frame(&mut recv, max).await?;
            if let Some(hook) = self.answered.get() {
                hook(peer);
            }
            decode::<Reply<R::Response>>(&answer).map_err(|e| TransportError::BadResponse(e.to_string()))?.map_err(TransportError::Refused)
        };
        tokio::time::timeout(timeout, fut).await.map_err(|_| TransportError::Timeout { peer, after: timeout })?
    }

    fn stream_failed(&self, peer: RaftNodeId, reason: String) -> TransportError {
        // Drop the connection so the next call reconnects.
        if let Some(p) = self.peers.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&peer) {
            p.conn = None;
        }
        TransportError::Unreachable { peer, reason }
    }

    /// Default RPC timeout.
    pub fn rpc_timeout(&self) -> Duration {
        self.settings.rpc_timeout
    }
}

/// Serves one stream: reads the request frame (refused from its header when over `max`), has
/// `server` answer it, and writes the answer frame.
async fn serve_stream(server: Arc<dyn Handler>, max: usize, peer: RaftNodeId, mut send: quinn::SendStream, mut recv: quinn::RecvStream) {
    let body = match read_frame(&mut recv, max).await {
        Ok(body) => body,
        Err(e) => {
            tracing::warn!(peer, error = %e, "refused request frame");
            let _ = send.reset(quinn::VarInt::from_u32(frame::FRAME_TOO_LARGE));
            return;
        }
    };
    let answer = match rpc::split_request(&body) {
        // Checked on every request, not only at connect: the membership may shrink while a
        // connection is open.
        Ok(_) if !server.admits(peer) => {
            tracing::debug!(peer, "refused a request from a node outside the current membership");
            encode(&Reply::<()>::Err(format!("node {peer} is not a member of this cluster")))
        }
        Ok((kind, group, payload)) => server.dispatch(peer, kind, group, payload, &mut recv).await,
        Err(refusal) => encode(&Reply::<()>::Err(refusal)),
    };
    let sent = match answer {
        Ok(bytes) => write_frame(&mut send, &bytes, max).await,
        Err(e) => Err(TransportError::BadResponse(e.to_string())),
    };
    match sent {
        Ok(()) => {
            let _ = send.finish();
        }
        Err(e) => tracing::debug!(peer, error = %e, "could not send response"),
    }
}
