//! The QUIC transport between nodes (quinn over an injected UDP socket, mutual TLS).
//!
//! One bidirectional stream per RPC: a request frame, (for snapshots) the snapshot bytes, then
//! one response frame. Connections are reused per peer, re-established with capped exponential
//! backoff and kept alive below the idle timeout. The endpoint is built over quinn's abstract UDP
//! socket and runtime, so the simulations can run this same code over simulated UDP and time.

pub mod frame;
pub mod wire;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::future::BoxFuture;
use openraft::raft::SnapshotResponse;
use openraft::{Raft, Snapshot, Vote};
use quinn::{AsyncUdpSocket, Runtime};
use svea_config::Config;
use svea_storage::codec::{decode, encode};
use svea_storage::{RaftNodeId, TypeConfig};
use tokio::time::Instant;

use crate::membership::{self, MembershipError};
use crate::metrics::Counters;
use crate::tls::{self, Identity};
use frame::{read_frame, write_frame};
use wire::{ForwardError, WireRequest, WireResponse};

/// Concurrent RPC streams one peer may have open towards us; the bound on in-flight requests.
pub const PEER_STREAMS_MAX: u32 = 256;
/// Chunk size when streaming a snapshot body.
pub const SNAPSHOT_CHUNK_BYTES: usize = 1 << 20;

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
    /// The peer answered something unexpected or undecodable.
    #[error("bad response: {0}")]
    BadResponse(String),
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
        // Windows sized so a snapshot streams at full speed across a WAN round trip.
        t.stream_receive_window((8u32 << 20).into());
        t.receive_window((32u32 << 20).into());
        t.send_window(32 << 20);
        Ok(Arc::new(t))
    }
}

/// Serves application (actor) calls arriving from other nodes.
pub trait AppHandler: Send + Sync + 'static {
    /// Handles one call from node `from`.
    fn call(&self, from: RaftNodeId, payload: Vec<u8>) -> BoxFuture<'static, Result<Vec<u8>, String>>;
}

struct Peer {
    addr: SocketAddr,
    conn: Option<quinn::Connection>,
    failures: u32,
    retry_at: Option<Instant>,
}

/// A node's QUIC endpoint: client to every peer and server for all of them.
pub struct Transport {
    endpoint: quinn::Endpoint,
    client: quinn::ClientConfig,
    me: RaftNodeId,
    settings: TransportSettings,
    peers: Mutex<HashMap<RaftNodeId, Peer>>,
    raft: OnceLock<Raft<TypeConfig>>,
    app: OnceLock<Arc<dyn AppHandler>>,
    control: OnceLock<Control>,
    /// Set while this node hands leadership away: forwarded writes and read-index requests are
    /// answered "no leader" (the sender waits and retries) so no append refreshes the
    /// followers' leader lease and the chosen successor can win its election.
    frozen: AtomicBool,
}

/// What serving membership requests needs besides Raft.
struct Control {
    counters: Arc<Counters>,
    membership_timeout: Duration,
}

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
            raft: OnceLock::new(),
            app: OnceLock::new(),
            control: OnceLock::new(),
            frozen: AtomicBool::new(false),
        }))
    }

    /// Binds a real UDP socket on the tokio runtime.
    pub fn bind(addr: SocketAddr, identity: &Identity, settings: TransportSettings) -> Result<Arc<Transport>, TransportError> {
        let runtime: Arc<dyn Runtime> = Arc::new(quinn::TokioRuntime);
        let socket = std::net::UdpSocket::bind(addr).map_err(|e| TransportError::Endpoint(format!("bind {addr}: {e}")))?;
        let socket = runtime.wrap_udp_socket(socket).map_err(|e| TransportError::Endpoint(e.to_string()))?;
        Self::new(socket, runtime, identity, settings)
    }

    /// The node id in our certificate.
    pub fn node_id(&self) -> RaftNodeId {
        self.me
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr, TransportError> {
        self.endpoint.local_addr().map_err(|e| TransportError::Endpoint(e.to_string()))
    }

    /// Records (or updates) where a peer listens.
    pub fn set_peer_addr(&self, peer: RaftNodeId, addr: SocketAddr) {
        let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        match peers.get_mut(&peer) {
            Some(p) if p.addr == addr => {}
            Some(p) => {
                p.addr = addr;
                p.conn = None;
                p.failures = 0;
                p.retry_at = None;
            }
            None => {
                peers.insert(peer, Peer { addr, conn: None, failures: 0, retry_at: None });
            }
        }
    }

    /// Sets the handler for application calls (once).
    pub fn set_app_handler(&self, handler: Arc<dyn AppHandler>) {
        let _ = self.app.set(handler);
    }

    /// Stops (or resumes) serving forwarded writes and read-index requests; see `frozen`.
    pub fn freeze_writes(&self, on: bool) {
        self.frozen.store(on, Ordering::SeqCst);
    }

    /// Whether forwarded writes are refused right now.
    pub fn writes_frozen(&self) -> bool {
        self.frozen.load(Ordering::SeqCst)
    }

    /// Starts serving incoming connections, delivering Raft RPCs to `raft`; membership changes
    /// forwarded here are bounded by `membership_timeout` and counted in `counters`.
    pub fn serve(self: &Arc<Self>, raft: Raft<TypeConfig>, counters: Arc<Counters>, membership_timeout: Duration) {
        let _ = self.raft.set(raft);
        let _ = self.control.set(Control { counters, membership_timeout });
        let me = self.clone();
        tokio::spawn(async move {
            while let Some(incoming) = me.endpoint.accept().await {
                let t = me.clone();
                tokio::spawn(async move {
                    let conn = match tokio::time::timeout(t.settings.connect_timeout, incoming).await {
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
                    while let Ok((send, recv)) = conn.accept_bi().await {
                        tokio::spawn(t.clone().serve_stream(peer, send, recv));
                    }
                });
            }
        });
    }

    /// Closes the endpoint.
    pub fn close(&self) {
        self.endpoint.close(quinn::VarInt::from_u32(0), b"shutdown");
    }

    async fn serve_stream(self: Arc<Self>, peer: RaftNodeId, mut send: quinn::SendStream, mut recv: quinn::RecvStream) {
        let max = self.settings.max_frame_bytes;
        let request = match read_frame(&mut recv, max).await {
            Ok(bytes) => match decode::<WireRequest>(&bytes) {
                Ok(r) => r,
                Err(e) => {
                    let _ = respond(&mut send, &WireResponse::Refused(format!("undecodable request: {e}")), max).await;
                    return;
                }
            },
            Err(e) => {
                tracing::warn!(peer, error = %e, "refused request frame");
                let _ = send.reset(quinn::VarInt::from_u32(frame::FRAME_TOO_LARGE));
                return;
            }
        };
        let response = self.dispatch(peer, request, &mut recv).await;
        if let Err(e) = respond(&mut send, &response, max).await {
            tracing::debug!(peer, error = %e, "could not send response");
        }
    }

    async fn dispatch(&self, peer: RaftNodeId, request: WireRequest, recv: &mut quinn::RecvStream) -> WireResponse {
        if matches!(request, WireRequest::Ping) {
            return WireResponse::Pong;
        }
        let Some(raft) = self.raft.get() else { return WireResponse::Refused("raft not started".into()) };
        match request {
            WireRequest::Append(rpc) => WireResponse::Append(raft.append_entries(rpc).await),
            WireRequest::Vote(rpc) => WireResponse::Vote(raft.vote(rpc).await),
            WireRequest::Snapshot { vote, meta, len } => {
                if len > self.settings.max_snapshot_bytes {
                    let _ = recv.stop(quinn::VarInt::from_u32(frame::FRAME_TOO_LARGE));
                    return WireResponse::Snapshot(Err(format!(
                        "snapshot of {len} bytes is over the limit of {} bytes",
                        self.settings.max_snapshot_bytes
                    )));
                }
                let data = match recv.read_to_end(len as usize).await {
                    Ok(d) if d.len() as u64 == len => d,
                    Ok(d) => return WireResponse::Snapshot(Err(format!("snapshot truncated: {} of {len} bytes", d.len()))),
                    Err(e) => return WireResponse::Snapshot(Err(format!("snapshot stream failed: {e}"))),
                };
                tracing::info!(from = peer, bytes = len, "receiving snapshot");
                let snapshot = Snapshot { meta, snapshot: Box::new(std::io::Cursor::new(data)) };
                WireResponse::Snapshot(raft.install_full_snapshot(vote, snapshot).await.map_err(|e| e.to_string()))
            }
            WireRequest::ClientWrite(_) | WireRequest::ReadIndex if self.writes_frozen() => {
                let refusal = ForwardError::NotLeader { leader: None };
                if matches!(request, WireRequest::ReadIndex) {
                    WireResponse::ReadIndex(Err(refusal))
                } else {
                    WireResponse::ClientWrite(Err(refusal))
                }
            }
            WireRequest::ClientWrite(cmd) => WireResponse::ClientWrite(match raft.client_write(cmd).await {
                Ok(resp) => Ok((resp.log_id.index, resp.data)),
                Err(openraft::error::RaftError::APIError(openraft::error::ClientWriteError::ForwardToLeader(f))) => {
                    Err(ForwardError::NotLeader { leader: f.leader_id })
                }
                Err(e) => Err(ForwardError::Failed(e.to_string())),
            }),
            WireRequest::ReadIndex => WireResponse::ReadIndex(match raft.ensure_linearizable().await {
                Ok(log_id) => Ok(log_id.map(|l| l.index).unwrap_or(0)),
                Err(openraft::error::RaftError::APIError(openraft::error::CheckIsLeaderError::ForwardToLeader(f))) => {
                    Err(ForwardError::NotLeader { leader: f.leader_id })
                }
                Err(e) => Err(ForwardError::Failed(e.to_string())),
            }),
            WireRequest::Ping => WireResponse::Pong,
            WireRequest::Membership(op) => WireResponse::Membership(match self.control.get() {
                Some(c) => {
                    tracing::info!(from = peer, op = op.name(), node = op.target(), "membership change forwarded to this leader");
                    membership::apply(raft, op, c.membership_timeout, &c.counters).await
                }
                None => Err(MembershipError::Failed("node not serving yet".into())),
            }),
            WireRequest::Replication => WireResponse::Replication(membership::replication(raft)),
            WireRequest::Campaign => {
                tracing::info!(event = "leadership", from = peer, "asked to campaign: starting an election");
                WireResponse::Campaign(raft.trigger().elect().await.map_err(|e| e.to_string()))
            }
            WireRequest::App(payload) => match self.app.get() {
                Some(h) => WireResponse::App(h.call(peer, payload).await),
                None => WireResponse::Refused("node not ready for actor calls".into()),
            },
        }
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
            }
            if let Some(at) = p.retry_at {
                if Instant::now() < at {
                    return Err(TransportError::Unreachable { peer, reason: "backing off after failed connect".into() });
                }
            }
            p.addr
        };
        let attempt = async {
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
        match result {
            Ok(conn) => {
                if p.failures > 0 {
                    tracing::info!(peer, %addr, "connected after {} failed attempts", p.failures);
                }
                p.failures = 0;
                p.retry_at = None;
                p.conn = Some(conn.clone());
                Ok(conn)
            }
            Err(reason) => {
                p.failures = p.failures.saturating_add(1);
                // 50 ms, 100 ms, 200 ms ... capped.
                let backoff = Duration::from_millis(50u64.saturating_mul(1 << p.failures.min(16))).min(self.settings.backoff_max);
                p.retry_at = Some(Instant::now() + backoff);
                Err(TransportError::Unreachable { peer, reason })
            }
        }
    }

    /// Sends one request and waits for its response, bounded by `timeout`.
    pub async fn call(&self, peer: RaftNodeId, request: &WireRequest, timeout: Duration) -> Result<WireResponse, TransportError> {
        let bytes = encode(request).map_err(|e| TransportError::BadResponse(e.to_string()))?;
        let max = self.settings.max_frame_bytes;
        let fut = async {
            let conn = self.connection(peer).await?;
            let (mut send, mut recv) = conn.open_bi().await.map_err(|e| self.stream_failed(peer, e.to_string()))?;
            write_frame(&mut send, &bytes, max).await?;
            let _ = send.finish();
            let resp = read_frame(&mut recv, max).await?;
            decode::<WireResponse>(&resp).map_err(|e| TransportError::BadResponse(e.to_string()))
        };
        tokio::time::timeout(timeout, fut).await.map_err(|_| TransportError::Timeout { peer, after: timeout })?
    }

    /// Streams a full snapshot to `peer`.
    pub async fn send_snapshot(
        &self,
        peer: RaftNodeId,
        vote: Vote<RaftNodeId>,
        snapshot: Snapshot<TypeConfig>,
        timeout: Duration,
    ) -> Result<SnapshotResponse<RaftNodeId>, TransportError> {
        let data = snapshot.snapshot.into_inner();
        let header = WireRequest::Snapshot { vote, meta: snapshot.meta, len: data.len() as u64 };
        let bytes = encode(&header).map_err(|e| TransportError::BadResponse(e.to_string()))?;
        let max = self.settings.max_frame_bytes;
        let fut = async {
            let conn = self.connection(peer).await?;
            let (mut send, mut recv) = conn.open_bi().await.map_err(|e| self.stream_failed(peer, e.to_string()))?;
            write_frame(&mut send, &bytes, max).await?;
            for chunk in data.chunks(SNAPSHOT_CHUNK_BYTES) {
                send.write_all(chunk).await.map_err(|e| TransportError::Stream(e.to_string()))?;
            }
            let _ = send.finish();
            let resp = read_frame(&mut recv, max).await?;
            match decode::<WireResponse>(&resp).map_err(|e| TransportError::BadResponse(e.to_string()))? {
                WireResponse::Snapshot(Ok(r)) => Ok(r),
                WireResponse::Snapshot(Err(e)) | WireResponse::Refused(e) => Err(TransportError::BadResponse(e)),
                other => Err(TransportError::BadResponse(format!("unexpected {other:?}"))),
            }
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

async fn respond(send: &mut quinn::SendStream, response: &WireResponse, max: usize) -> Result<(), TransportError> {
    let bytes = encode(response).map_err(|e| TransportError::BadResponse(e.to_string()))?;
    write_frame(send, &bytes, max).await?;
    let _ = send.finish();
    Ok(())
}
