//! Actor calls between nodes, both halves: [`forward`] sends a call to the node that owns the
//! actor and decodes its typed answer; [`ForwardedCalls`] serves such calls arriving here through
//! this node's registry. The cluster layer carries them as opaque bytes (`ClusterNode::call_app`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use svea_cluster::serve::AppHandler;
use svea_storage::codec::{decode, encode};
use svea_storage::RaftNodeId;

use crate::actors::business::{
    GetBusiness, NewBusiness, RecordPurchase, RegisterPos, ReleaseOrgNumber, ReleaseReceipt, ReviewHeld, RotateKey, SessionOpened, SetDeclaredAmountMax,
    SetVerification, Settle, RecordTopUp, RecordTopUpRefund, ChangeLocations, SetRewardPolicy, SetDailyBudget,
};
use crate::actors::wallet::{ErasePayee, GetWallet, Receive, SetPayee, SettlePayout, TryPayout};
use crate::actors::registry::RegistryHandle;
use crate::actors::signin::{CheckWebSession, CreateKey, EndWebSession, IssueLink, RevokeKey, UseLink};
use crate::actors::session::{
    ConfirmPurchase, Erase, Expire, ForgetDayFingerprint, GetSession, GiveFeedback, MatchPurchase, OpenSession, PurchaseRefunded, RecordReview, RecordSettlement,
    RedactOldText,
};
use super::routed::RoutedWindow;
use crate::actors::{ActorEnv, ActorError, Hosted, Op};
use crate::domain::{BusinessId, DeviceHash, SessionId};
use crate::request_id::RequestId;
use tracing::Instrument;

/// An actor call as it travels to the owning node: which operation, for which actor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum RemoteCall {
    /// [`NewBusiness`].
    CreateBusiness(BusinessId, NewBusiness),
    /// [`GetBusiness`].
    GetBusiness(BusinessId, GetBusiness),
    /// [`RotateKey`].
    RotateKey(BusinessId, RotateKey),
    /// [`SessionOpened`].
    SessionOpened(BusinessId, SessionOpened),
    /// [`Settle`].
    Settle(BusinessId, Settle),
    /// [`OpenSession`].
    OpenSession(SessionId, OpenSession),
    /// [`GetSession`].
    GetSession(SessionId, GetSession),
    /// [`ConfirmPurchase`].
    ConfirmPurchase(SessionId, ConfirmPurchase),
    /// [`GiveFeedback`].
    GiveFeedback(SessionId, GiveFeedback),
    /// [`Expire`].
    Expire(SessionId, Expire),
    /// [`RecordSettlement`].
    RecordSettlement(SessionId, RecordSettlement),
    /// [`SetVerification`].
    SetVerification(BusinessId, SetVerification),
    /// [`RegisterPos`].
    RegisterPos(BusinessId, RegisterPos),
    /// [`RecordPurchase`].
    RecordPurchase(BusinessId, RecordPurchase),
    /// [`MatchPurchase`].
    MatchPurchase(SessionId, MatchPurchase),
    /// [`PurchaseRefunded`].
    PurchaseRefunded(SessionId, PurchaseRefunded),
    /// [`ReleaseReceipt`].
    ReleaseReceipt(BusinessId, ReleaseReceipt),
    /// [`Erase`].
    Erase(SessionId, Erase),
    /// [`RedactOldText`].
    RedactOldText(SessionId, RedactOldText),
    /// [`ReviewHeld`].
    ReviewHeld(BusinessId, ReviewHeld),
    /// [`RecordReview`].
    RecordReview(SessionId, RecordReview),
    /// [`SetDeclaredAmountMax`].
    SetDeclaredAmountMax(BusinessId, SetDeclaredAmountMax),
    /// [`ForgetDayFingerprint`].
    ForgetDayFingerprint(SessionId, ForgetDayFingerprint),
    /// Not an actor call: the node's [`RoutedWindow`] counts. Still answered for nodes of earlier
    /// versions; this one asks `Operator(OperatorAsk::Facts)`, which carries them.
    RoutedRecently,
    /// [`ReleaseOrgNumber`] (after `RoutedRecently`: the variants before it keep their numbers).
    ReleaseOrgNumber(BusinessId, ReleaseOrgNumber),
    // Issue 21 (after `ReleaseOrgNumber`: the variants before keep their numbers).
    /// [`RecordTopUp`].
    RecordTopUp(BusinessId, RecordTopUp),
    /// [`RecordTopUpRefund`].
    RecordTopUpRefund(BusinessId, RecordTopUpRefund),
    /// [`Receive`].
    Receive(DeviceHash, Receive),
    /// [`SetPayee`].
    SetPayee(DeviceHash, SetPayee),
    /// [`ErasePayee`].
    ErasePayee(DeviceHash, ErasePayee),
    /// [`GetWallet`].
    GetWallet(DeviceHash, GetWallet),
    /// [`SettlePayout`].
    SettlePayout(DeviceHash, SettlePayout),
    /// [`TryPayout`].
    TryPayout(DeviceHash, TryPayout),
    // Issue 23 (after `TryPayout`: the variants before keep their numbers).
    /// [`IssueLink`].
    IssueLink(BusinessId, IssueLink),
    /// [`UseLink`].
    UseLink(BusinessId, UseLink),
    /// [`CheckWebSession`].
    CheckWebSession(BusinessId, CheckWebSession),
    /// [`EndWebSession`].
    EndWebSession(BusinessId, EndWebSession),
    /// [`CreateKey`].
    CreateKey(BusinessId, CreateKey),
    /// [`RevokeKey`].
    RevokeKey(BusinessId, RevokeKey),
    /// Not an actor call: an operator's question to this node ([`OperatorAsk`]).
    Operator(OperatorAsk),
    /// [`ChangeLocations`].
    ChangeLocations(BusinessId, ChangeLocations),
    /// [`SetRewardPolicy`].
    SetRewardPolicy(BusinessId, SetRewardPolicy),
    /// [`SetDailyBudget`].
    SetDailyBudget(BusinessId, SetDailyBudget),
}

/// What an operator's console, on any node, asks of another node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OperatorAsk {
    /// Its [`NodeFacts`](super::operator::NodeFacts).
    Facts,
    /// Drain yourself ([`super::operator::drain`]), then stop the process.
    Drain,
}

/// What travels: the call and the request id it serves, if any (the receiving node logs the
/// call under it). Introduced with ALPN `svea-raft/2` (`svea_cluster::tls::ALPN`): before, the
/// payload was a bare [`RemoteCall`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Forwarded {
    /// The HTTP request this call is part of.
    pub request_id: Option<RequestId>,
    /// The call.
    pub call: RemoteCall,
}

impl RemoteCall {
    /// The operation's name, for log lines.
    pub fn name(&self) -> &'static str {
        match self {
            RemoteCall::CreateBusiness(..) => "create_business",
            RemoteCall::GetBusiness(..) => "get_business",
            RemoteCall::RotateKey(..) => "rotate_key",
            RemoteCall::SessionOpened(..) => "session_opened",
            RemoteCall::Settle(..) => "settle",
            RemoteCall::OpenSession(..) => "open_session",
            RemoteCall::GetSession(..) => "get_session",
            RemoteCall::ConfirmPurchase(..) => "confirm_purchase",
            RemoteCall::GiveFeedback(..) => "give_feedback",
            RemoteCall::Expire(..) => "expire",
            RemoteCall::RecordSettlement(..) => "record_settlement",
            RemoteCall::SetVerification(..) => "set_verification",
            RemoteCall::RegisterPos(..) => "register_pos",
            RemoteCall::RecordPurchase(..) => "record_purchase",
            RemoteCall::MatchPurchase(..) => "match_purchase",
            RemoteCall::PurchaseRefunded(..) => "purchase_refunded",
            RemoteCall::ReleaseReceipt(..) => "release_receipt",
            RemoteCall::Erase(..) => "erase",
            RemoteCall::RedactOldText(..) => "redact_old_text",
            RemoteCall::ReviewHeld(..) => "review_held",
            RemoteCall::RecordReview(..) => "record_review",
            RemoteCall::SetDeclaredAmountMax(..) => "set_declared_amount_max",
            RemoteCall::ForgetDayFingerprint(..) => "forget_day_fingerprint",
            RemoteCall::RoutedRecently => "routed_recently",
            RemoteCall::ReleaseOrgNumber(..) => "release_org_number",
            RemoteCall::RecordTopUp(..) => "record_top_up",
            RemoteCall::RecordTopUpRefund(..) => "record_top_up_refund",
            RemoteCall::Receive(..) => "receive",
            RemoteCall::SetPayee(..) => "set_payee",
            RemoteCall::ErasePayee(..) => "erase_payee",
            RemoteCall::GetWallet(..) => "get_wallet",
            RemoteCall::SettlePayout(..) => "settle_payout",
            RemoteCall::ChangeLocations(..) => "change_locations",
            RemoteCall::SetRewardPolicy(..) => "set_reward_policy",
            RemoteCall::SetDailyBudget(..) => "set_daily_budget",
            RemoteCall::TryPayout(..) => "try_payout",
            RemoteCall::IssueLink(..) => "issue_link",
            RemoteCall::UseLink(..) => "use_link",
            RemoteCall::CheckWebSession(..) => "check_web_session",
            RemoteCall::EndWebSession(..) => "end_web_session",
            RemoteCall::CreateKey(..) => "create_key",
            RemoteCall::RevokeKey(..) => "revoke_key",
            RemoteCall::Operator(OperatorAsk::Facts) => "node_facts",
            RemoteCall::Operator(OperatorAsk::Drain) => "drain",
        }
    }
}

/// A forwarded call that `node` never answered: it was unreachable when the call was to be
/// sent, or stopped answering during it (the failure detector's view, or the call's timeout).
/// The call may or may not have run there; the caller decides whether to wait for a verdict.
#[derive(Debug)]
pub struct Unanswered(pub svea_cluster::Error);

/// Sends `op` for actor `id` to `node`, which owns it, and returns its answer unchanged (the
/// inner result). The answer's type is the operation's: the other node encoded exactly that
/// (see [`serve`]). `Err` only when `node` did not answer at all.
pub async fn forward<O: Op>(
    env: &ActorEnv,
    node: RaftNodeId,
    id: <O::Actor as Hosted>::Id,
    op: O,
) -> Result<Result<O::Reply, ActorError>, Unanswered> {
    let envelope = Forwarded { request_id: crate::request_id::current(), call: op.remote(id) };
    let bytes = match encode(&envelope) {
        Ok(b) => b,
        Err(e) => return Ok(Err(e.into())),
    };
    let answer = match env.cluster.call_app(node, bytes, env.forward_timeout).await {
        Ok(a) => a,
        Err(e @ svea_cluster::Error::Unreachable { .. }) => return Err(Unanswered(e)),
        Err(e) => return Ok(Err(e.into())),
    };
    Ok(decode::<Result<O::Reply, ActorError>>(&answer).map_err(ActorError::from).and_then(|r| r))
}

/// What `node` says of itself; `None` when it did not answer within `timeout`.
pub async fn facts_at(cluster: &svea_cluster::ClusterNode, node: RaftNodeId, timeout: Duration) -> Option<super::operator::NodeFacts> {
    let bytes = encode(&Forwarded { request_id: None, call: RemoteCall::Operator(OperatorAsk::Facts) }).ok()?;
    let answer = cluster.call_app(node, bytes, timeout).await.ok()?;
    decode(&answer).ok()
}

/// Asks `node` to drain itself and waits up to `timeout` for its report.
pub async fn drain_at(cluster: &svea_cluster::ClusterNode, node: RaftNodeId, timeout: Duration) -> Result<super::operator::DrainOut, ActorError> {
    let bytes = encode(&Forwarded { request_id: crate::request_id::current(), call: RemoteCall::Operator(OperatorAsk::Drain) })?;
    let answer = cluster.call_app(node, bytes, timeout).await?;
    decode::<Result<super::operator::DrainOut, ActorError>>(&answer).map_err(ActorError::from).and_then(|r| r)
}

/// Serves actor calls forwarded by other nodes through this node's registry (and the operator
/// status's question about recent routing).
pub struct ForwardedCalls {
    /// This node's registry.
    pub registry: RegistryHandle,
    /// This node's routing window.
    pub routed: Arc<RoutedWindow>,
    /// This node, for operators' questions ([`OperatorAsk`]): set once it has started (until
    /// then they are answered "starting").
    pub node: Arc<std::sync::OnceLock<super::NodeHandle>>,
}

impl AppHandler for ForwardedCalls {
    fn call(&self, from: RaftNodeId, payload: Vec<u8>) -> BoxFuture<'static, Result<Vec<u8>, String>> {
        let registry = self.registry.clone();
        let routed = self.routed.clone();
        let node = self.node.get().cloned();
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
            let answer = match call {
                RemoteCall::CreateBusiness(id, op) => serve(&registry, id, op).await,
                RemoteCall::GetBusiness(id, op) => serve(&registry, id, op).await,
                RemoteCall::RotateKey(id, op) => serve(&registry, id, op).await,
                RemoteCall::SessionOpened(id, op) => serve(&registry, id, op).await,
                RemoteCall::Settle(id, op) => serve(&registry, id, op).await,
                RemoteCall::OpenSession(id, op) => serve(&registry, id, op).await,
                RemoteCall::GetSession(id, op) => serve(&registry, id, op).await,
                RemoteCall::ConfirmPurchase(id, op) => serve(&registry, id, op).await,
                RemoteCall::GiveFeedback(id, op) => serve(&registry, id, op).await,
                RemoteCall::Expire(id, op) => serve(&registry, id, op).await,
                RemoteCall::RecordSettlement(id, op) => serve(&registry, id, op).await,
                RemoteCall::SetVerification(id, op) => serve(&registry, id, op).await,
                RemoteCall::RegisterPos(id, op) => serve(&registry, id, op).await,
                RemoteCall::RecordPurchase(id, op) => serve(&registry, id, op).await,
                RemoteCall::MatchPurchase(id, op) => serve(&registry, id, op).await,
                RemoteCall::PurchaseRefunded(id, op) => serve(&registry, id, op).await,
                RemoteCall::ReleaseReceipt(id, op) => serve(&registry, id, op).await,
                RemoteCall::Erase(id, op) => serve(&registry, id, op).await,
                RemoteCall::RedactOldText(id, op) => serve(&registry, id, op).await,
                RemoteCall::ReviewHeld(id, op) => serve(&registry, id, op).await,
                RemoteCall::RecordReview(id, op) => serve(&registry, id, op).await,
                RemoteCall::SetDeclaredAmountMax(id, op) => serve(&registry, id, op).await,
                RemoteCall::ForgetDayFingerprint(id, op) => serve(&registry, id, op).await,
                // The monotonic clock, read at the edge of the core like an HTTP request's: the
                // window only counts; no actor or Raft decision depends on it.
                RemoteCall::RoutedRecently => encode(&routed.counts(Instant::now())).map_err(|e| e.to_string()),
                RemoteCall::ReleaseOrgNumber(id, op) => serve(&registry, id, op).await,
                RemoteCall::RecordTopUp(id, op) => serve(&registry, id, op).await,
                RemoteCall::RecordTopUpRefund(id, op) => serve(&registry, id, op).await,
                RemoteCall::Receive(id, op) => serve(&registry, id, op).await,
                RemoteCall::SetPayee(id, op) => serve(&registry, id, op).await,
                RemoteCall::ErasePayee(id, op) => serve(&registry, id, op).await,
                RemoteCall::GetWallet(id, op) => serve(&registry, id, op).await,
                RemoteCall::SettlePayout(id, op) => serve(&registry, id, op).await,
                RemoteCall::TryPayout(id, op) => serve(&registry, id, op).await,
                RemoteCall::IssueLink(id, op) => serve(&registry, id, op).await,
                RemoteCall::UseLink(id, op) => serve(&registry, id, op).await,
                RemoteCall::CheckWebSession(id, op) => serve(&registry, id, op).await,
                RemoteCall::EndWebSession(id, op) => serve(&registry, id, op).await,
                RemoteCall::CreateKey(id, op) => serve(&registry, id, op).await,
                RemoteCall::RevokeKey(id, op) => serve(&registry, id, op).await,
                RemoteCall::Operator(ask) => match node {
                    None => Err("node starting".to_owned()),
                    Some(node) => operator_ask(&node, ask).await,
                },
                RemoteCall::ChangeLocations(id, op) => serve(&registry, id, op).await,
                RemoteCall::SetRewardPolicy(id, op) => serve(&registry, id, op).await,
                RemoteCall::SetDailyBudget(id, op) => serve(&registry, id, op).await,
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

/// Runs a forwarded call here and encodes its typed result for [`forward`] to decode.
async fn serve<O: Op>(registry: &RegistryHandle, id: <O::Actor as Hosted>::Id, op: O) -> Result<Vec<u8>, String> {
    let result = registry.call_forwarded(id, op).await;
    encode(&result).map_err(|e| e.to_string())
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
