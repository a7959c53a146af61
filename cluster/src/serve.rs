//! The seam between the QUIC transport and the server that answers what arrives. The transport
//! ([`transport`](crate::transport)) accepts connections and streams, reads each request frame
//! and hands it to the `Handler` it was given; the server (`server.rs`) is that handler. Both
//! depend on this module and neither names the other, so the transport only moves frames and
//! the server only answers requests.

use std::sync::{Arc, OnceLock};

use futures::future::BoxFuture;
use svea_storage::codec::CodecError;
use svea_storage::{GroupId, RaftNodeId};

use crate::rpc::RpcKind;

/// QUIC application error code sent when a frame (or a snapshot) is refused for its size.
pub const FRAME_TOO_LARGE: u32 = 0x5f01;

/// Serves application (actor) calls arriving from other nodes.
pub trait AppHandler: Send + Sync + 'static {
    /// Handles one call from node `from`.
    fn call(&self, from: RaftNodeId, payload: Vec<u8>) -> BoxFuture<'static, Result<Vec<u8>, String>>;
}

/// Where the application's handler of actor calls is installed (once, possibly after the server
/// started: the node builds its actors after Raft). The transport holds it; the server reads it.
pub(crate) type AppSlot = Arc<OnceLock<Arc<dyn AppHandler>>>;

/// What answers the requests the transport receives.
pub(crate) trait Handler: Send + Sync + 'static {
    /// Whether `peer` may be served at all (checked at connect and on every request).
    fn admits(&self, peer: RaftNodeId) -> bool;

    /// Answers one request of `kind` for Raft group `group` from `peer`: the encoded reply
    /// frame's body. `recv` carries what follows the request frame on its stream (a snapshot's
    /// bytes).
    fn dispatch<'a>(
        &'a self,
        peer: RaftNodeId,
        kind: RpcKind,
        group: GroupId,
        payload: &'a [u8],
        recv: &'a mut quinn::RecvStream,
    ) -> BoxFuture<'a, Result<Vec<u8>, CodecError>>;
}
