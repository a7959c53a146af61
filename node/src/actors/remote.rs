//! Actor calls between nodes, the actors' half: the wire types ([`RemoteCall`], its envelope
//! [`Forwarded`]), [`forward`], which sends a call to the node that owns the actor and decodes its
//! typed answer, and [`RemoteCall::serve`], which runs a call arriving here through this node's
//! registry. The node core installs the handler that receives them (`core::remote`) and answers
//! the calls that are questions to the node rather than to an actor ([`NodeQuestion`]). The
//! cluster layer carries them as opaque bytes (`ClusterNode::call_app`).

use serde::{Deserialize, Serialize};
use svea_storage::codec::{decode, encode};
use svea_storage::RaftNodeId;

use super::business::{
    ChangeLocations, ForgetTransfer, GetBusiness, NewBusiness, RecordPurchase, RecordTopUp, RecordTopUpRefund, RegisterPos, ReleaseOrgNumber, ReleaseReceipt, ReviewHeld,
    RotateKey, SessionOpened, SessionsOpened, SetDailyBudget, SetDeclaredAmountMax, SetRewardPolicy, SetVerification, Settle,
};
use super::registry::RegistryHandle;
use super::session::{
    ConfirmPurchase, Erase, Expire, ForgetDayFingerprint, GetSession, GiveFeedback, MatchPurchase, OpenSession, PurchaseRefunded, RecordReview, RecordSettlement,
    RedactOldText,
};
use super::signin::{CheckWebSession, CreateKey, EndWebSession, IssueLink, RevokeKey, UseLink};
use super::directory::{DirectoryId, HoldOrg, HoldTillAccount, ReleaseOrg, ReleaseTillAccount, VerifyOrg};
use super::settles::SettleMany;
use super::wallet::{ErasePayee, GetWallet, Receive, SetPayee, SettlePayout, TryPayout};
use super::{ActorEnv, ActorError, Hosted, Op};
use crate::domain::{BusinessId, DeviceHash, SessionId};
use crate::request_id::RequestId;

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
    /// Not an actor call: the node's routing window's counts (`core::NodeHandle::routed`). Still answered for nodes of earlier
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
    // Issue 22 (after `SetDailyBudget`: the variants before keep their numbers).
    /// [`HoldOrg`].
    HoldOrg(DirectoryId, HoldOrg),
    /// [`VerifyOrg`].
    VerifyOrg(DirectoryId, VerifyOrg),
    /// [`ReleaseOrg`].
    ReleaseOrg(DirectoryId, ReleaseOrg),
    /// [`HoldTillAccount`].
    HoldTillAccount(DirectoryId, HoldTillAccount),
    /// [`ReleaseTillAccount`].
    ReleaseTillAccount(DirectoryId, ReleaseTillAccount),
    /// [`ForgetTransfer`].
    ForgetTransfer(BusinessId, ForgetTransfer),
    /// [`SessionsOpened`].
    SessionsOpened(BusinessId, SessionsOpened),
    /// [`SettleMany`].
    SettleMany(BusinessId, SettleMany),
}

/// What an operator's console, on any node, asks of another node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OperatorAsk {
    /// Its facts (`core::operator::NodeFacts`).
    Facts,
    /// Drain yourself (`core::operator::drain`), then stop the process.
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
            RemoteCall::HoldOrg(..) => "hold_org",
            RemoteCall::VerifyOrg(..) => "verify_org",
            RemoteCall::ReleaseOrg(..) => "release_org",
            RemoteCall::HoldTillAccount(..) => "hold_till_account",
            RemoteCall::ReleaseTillAccount(..) => "release_till_account",
            RemoteCall::ForgetTransfer(..) => "forget_transfer",
            RemoteCall::SessionsOpened(..) => "sessions_opened",
            RemoteCall::SettleMany(..) => "settle_many",
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


/// A call that is a question to the node itself, not to one of its actors: the node core
/// answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeQuestion {
    /// The node's routing window's counts.
    RoutedRecently,
    /// An operator's question.
    Operator(OperatorAsk),
}

/// What serving a [`RemoteCall`] here gave.
#[derive(Debug)]
pub enum Served {
    /// An actor's typed result, encoded for [`forward`] to decode (`Err`: it could not be encoded).
    Answer(Result<Vec<u8>, String>),
    /// Not an actor call: the node core answers it.
    ForTheNode(NodeQuestion),
}

impl RemoteCall {
    /// Runs this call, arriving from another node, through `registry` (it is served here or
    /// refused, never forwarded again); a question to the node comes back unanswered.
    pub async fn serve(self, registry: &RegistryHandle) -> Served {
        match self {
            RemoteCall::CreateBusiness(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::GetBusiness(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::RotateKey(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::SessionOpened(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::Settle(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::OpenSession(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::GetSession(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::ConfirmPurchase(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::GiveFeedback(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::Expire(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::RecordSettlement(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::SetVerification(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::RegisterPos(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::RecordPurchase(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::MatchPurchase(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::PurchaseRefunded(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::ReleaseReceipt(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::Erase(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::RedactOldText(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::ReviewHeld(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::RecordReview(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::SetDeclaredAmountMax(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::ForgetDayFingerprint(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::RoutedRecently => Served::ForTheNode(NodeQuestion::RoutedRecently),
            RemoteCall::ReleaseOrgNumber(..) => Served::Answer(Err("release_org_number is retired: the directory releases organisation numbers (directory::ReleaseOrg)".into())),
            RemoteCall::RecordTopUp(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::RecordTopUpRefund(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::Receive(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::SetPayee(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::ErasePayee(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::GetWallet(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::SettlePayout(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::TryPayout(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::IssueLink(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::UseLink(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::CheckWebSession(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::EndWebSession(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::CreateKey(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::RevokeKey(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::Operator(ask) => Served::ForTheNode(NodeQuestion::Operator(ask)),
            RemoteCall::ChangeLocations(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::SetRewardPolicy(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::SetDailyBudget(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::HoldOrg(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::VerifyOrg(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::ReleaseOrg(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::HoldTillAccount(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::ReleaseTillAccount(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::ForgetTransfer(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::SessionsOpened(id, op) => Served::Answer(serve(registry, id, op).await),
            RemoteCall::SettleMany(id, op) => Served::Answer(serve(registry, id, op).await),
        }
    }
}

/// Runs a forwarded call here and encodes its typed result for [`forward`] to decode.
async fn serve<O: Op>(registry: &RegistryHandle, id: <O::Actor as Hosted>::Id, op: O) -> Result<Vec<u8>, String> {
    let result = registry.call_forwarded(id, op).await;
    encode(&result).map_err(|e| e.to_string())
}
