//! Actor calls between nodes, the node core's half: [`ForwardedCalls`] receives the calls other
//! nodes forward here (the wire types, [`forward`](crate::actors::remote::forward) and serving an
//! actor call are the actors' own, in `actors/remote.rs`) and answers the questions to the node
//! itself (its routing window, an operator's [`OperatorAsk`]); [`facts_at`] and [`drain_at`] ask
//! those of another node.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use svea_cluster::serve::AppHandler;
use svea_storage::codec::{decode, encode};
use svea_storage::RaftNodeId;
use tracing::Instrument;

use crate::window::MinuteWindow;
use crate::actors::registry::RegistryHandle;
use crate::actors::remote::{Forwarded, NodeQuestion, OperatorAsk, RemoteCall, Served};
use crate::actors::ActorError;

/// What `node` says of itself; `None` when it did not answer within `timeout`.
pub async fn facts_at(cluster: &svea_cluster::ClusterNode, node: RaftNodeId, timeout: Duration) -> Option<super::operator::NodeFacts> {
    let bytes = encode(&Forwarded { request_id: None, call: RemoteCall::Operator(OperatorAsk::Facts) }).ok()?;
    let answer = cluster.call_app(node, bytes, timeout).await.ok()?;
    decode(&answer).ok()
}

/// Asks `node` to drain itself and waits up to `timeout` for its report.
pub async fn drain_at(cluster: &svea_cluster::ClusterNode, node: RaftNodeId, timeout: Duration) -> Result<super::operator::DrainReport, ActorError> {
    let bytes = encode(&Forwarded { request_id: crate::request_id::current(), call: RemoteCall::Operator(OperatorAsk::Drain) })?;
    let answer = cluster.call_app(node, bytes, timeout).await?;
    decode::<Result<super::operator::DrainReport, ActorError>>(&answer).map_err(ActorError::from).and_then(|r| r)
}

/// Serves actor calls forwarded by other nodes through this node's registry (and the operator
/// status's question about recent routing).
pub struct ForwardedCalls {
    /// This node's registry.
    pub registry: RegistryHandle,
    /// This node's routing window.
    pub routed: Arc<MinuteWindow>,
    /// This node, for operators' questions ([`OperatorAsk`]): set once it has started (until
    /// then they are answered "starting") and taken away when it stops ([`ForgetNode`]).
    pub node: Answering,
}

/// The node the forwarded-call handler answers operators' questions with, while it runs.
pub type Answering = Arc<std::sync::Mutex<Option<super::NodeHandle>>>;

/// Takes the node out of [`ForwardedCalls::node`] when dropped: the node holds the transport,
/// which holds the handler, so without this the node and everything it holds (Raft groups,
/// stores) would keep each other alive after it stopped (the simulation leaked one per start).
pub struct ForgetNode(pub Answering);

impl Drop for ForgetNode {
    fn drop(&mut self) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    }
}

impl AppHandler for ForwardedCalls {
    fn call(&self, from: RaftNodeId, payload: Vec<u8>) -> BoxFuture<'static, Result<Vec<u8>, String>> {
        let registry = self.registry.clone();
        let routed = self.routed.clone();
        let node = self.node.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let envelope: Forwarded = match decode(&payload) {
            Ok(f) => f,
            Err(e) => return Box::pin(std::future::ready(Err(format!("undecodable actor call from node {from}: {e}")))),
        };
        let Forwarded { request_id, call } = envelope;
        let span = match &request_id {
            Some(id) => tracing::info_span!("forwarded", request_id = %id, from),
            None => tracing::Span::none(),
        };
        let traced = request_id.is_some();
        let served = async move {
            let name = call.name();
            let answer = match call.serve(&registry).await {
                Served::Answer(answer) => answer,
                // The monotonic clock, read at the edge of the core like an HTTP request's: the
                // window only counts; no actor or Raft decision depends on it.
                Served::ForTheNode(NodeQuestion::RoutedRecently) => encode(&routed.counts(Instant::now())).map_err(|e| e.to_string()),
                Served::ForTheNode(NodeQuestion::Operator(ask)) => match node {
                    None => Err("node starting".to_owned()),
                    Some(node) => operator_ask(&node, ask).await,
                },
            };
            // Calls of an HTTP request (they carry its id) get a line here too, so the request
            // can be followed across nodes; the sweeper's and the simulation's carry none.
            if traced {
                tracing::info!(call = name, "forwarded actor call served");
            }
            answer
        };
        Box::pin(crate::request_id::scope(request_id, served).instrument(span))
    }
}

/// Answers an operator's question from another node's console.
async fn operator_ask(node: &super::NodeHandle, ask: OperatorAsk) -> Result<Vec<u8>, String> {
    match ask {
        OperatorAsk::Facts => encode(&super::operator::facts(node)).map_err(|e| e.to_string()),
        OperatorAsk::Drain => {
            let report = super::operator::drain(node).await;
            if report.is_ok() {
                // Drained: it left the cluster; the process stops once the answer is on its way.
                node.request_stop();
            }
            encode(&report).map_err(|e| e.to_string())
        }
    }
}
