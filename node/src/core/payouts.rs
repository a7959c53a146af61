//! Money out to customers: the carrier of cashback from businesses to wallets, and the payout
//! driver.
//!
//! Cashback: a business writes a reward (or its reversal) with a transfer record (`lout/<entry>`);
//! [`deliver`] hands it to the customer's wallet (`Receive`, idempotent on the entry). `core`
//! calls it right after the settlement that wrote it (so the customer sees it at once), and the
//! driver delivers whatever a crash left behind, so a transfer reaches its wallet exactly once.
//!
//! Payouts: a wallet writes "payout started" with its id before anything is sent; the driver, a
//! background task owned by `Core` (like the sweeper), sends every payout in flight (`payfly/`)
//! of the wallets this node is responsible for (the owner's node, or one survivor for a lost
//! owner: `sweeper::sweeps_for`) with the rail, on tokio's blocking pool under
//! `payouts.call_timeout_ms`, and retries with the SAME id every `payouts.retry_interval_ms`
//! until the rail (or a callback, [`update`]) settles it. After `payouts.attempts_max`
//! unanswered sends it only asks the rail about the payout (it stays in flight and counts as
//! stuck: an operator looks). A node that takes a wallet over resumes its payout with the same id.

use std::collections::BTreeMap;
use std::sync::Arc;

use svea_cluster::ClusterNode;
use svea_config::PayoutsConfig;

use super::rail::{PayoutId, PayoutOrder, PayoutRail, RailError, RailState};
use super::NodeHandle;
use crate::actors::keys::{FlyingRecord, Index, OutboxRecord, PayoutIdRecord, PayoutRecord, PayoutState, PostingRecord};
use crate::actors::registry::RegistryHandle;
use crate::actors::wallet::{GetWallet, PayoutSettled, Receive, SettlePayout, Wallet};
use crate::actors::{ActorError, ActorKey, Missing};
use crate::domain::ledger::{Account, EntryId, Posting};
use crate::domain::payee::{Payee, PayeeKey, SealedPayee};
use crate::domain::DeviceHash;

/// The message a payout carries to the customer (Swish: at most 50 characters).
pub const PAYOUT_MESSAGE: &str = "Cashback från svea";
const _: () = assert!(PAYOUT_MESSAGE.len() <= 50);

/// Postings of a wallet shown on the customer's page, newest last, at most.
pub const WALLET_POSTINGS_SHOWN_MAX: usize = 50;

/// Opens a sealed payee for one instruction, for the wallet (device hash) it was sealed for: the
/// node's is [`unseal_with`] under `payouts.payee_key`; without one a payout that needs a payee
/// cannot be sent.
pub type Unseal = Arc<dyn Fn(&SealedPayee, &DeviceHash) -> Option<Payee> + Send + Sync>;

/// The unseal hook of a node with a payee key: AEAD open, bound to the wallet's device hash.
pub fn unseal_with(key: Arc<PayeeKey>) -> Unseal {
    Arc::new(move |sealed: &SealedPayee, device: &DeviceHash| key.open(sealed, device).ok())
}

/// Why a payee or a rail's callback was not taken.
#[derive(Debug, thiserror::Error)]
pub enum PayoutError {
    /// `payouts.payee_key` is unset: customers cannot give a payee on this cluster.
    #[error("customers cannot give a payee on this cluster (payouts.payee_key is unset)")]
    PayeesOff,
    /// A Swish callback on a cluster whose payouts do not go out with Swish.
    #[error("payouts do not go out with Swish on this cluster")]
    NotSwish,
    /// The rail was asked about the payout and gave no answer; the driver asks again.
    #[error(transparent)]
    Rail(RailError),
    /// From the wallet or the cluster.
    #[error(transparent)]
    Actor(#[from] ActorError),
}

/// The rail and what the driver needs besides.
#[derive(Clone)]
pub struct PayoutDriver {
    /// The rail payouts go out on.
    pub rail: Arc<dyn PayoutRail>,
    /// How a sealed payee is opened for a call.
    pub unseal: Option<Unseal>,
    /// `[payouts]`.
    pub config: PayoutsConfig,
}

/// The rail `payouts.rail` names: the one place the real rails are built from config. A Swish
/// rail whose files cannot be read stops the node at start, naming the key.
pub fn rail_from_config(config: &svea_config::Config) -> Result<Arc<dyn PayoutRail>, super::swish::SwishSetupError> {
    match config.payouts.rail {
        svea_config::PayoutRailKind::LedgerOnly => Ok(Arc::new(super::rail::LedgerOnly)),
        svea_config::PayoutRailKind::Swish => Ok(Arc::new(super::swish::Swish::new(&config.swish)?)),
    }
}

/// What a Swish callback for payout `id` leads to. The callback is not signed (Swish Payout API,
/// "Callback": a plain POST to `callbackUrl`), so its body is never believed: an id the ledger
/// has no payout for is `NotFound`; a settled payout answers its state without asking anyone;
/// a payout in flight is asked about at Swish itself (`GET`, mutual TLS) and only Swish's
/// answer is recorded.
pub async fn swish_callback(node: &NodeHandle, id: &PayoutId) -> Result<PayoutState, PayoutError> {
    if node.config.payouts.rail != svea_config::PayoutRailKind::Swish {
        return Err(PayoutError::NotSwish);
    }
    let record = payout(&node.cluster, id).await?;
    if record.state != PayoutState::InFlight {
        return Ok(record.state);
    }
    let answer = call(&node.rail, node.config.payouts.call_timeout, Call::Status(id.clone())).await.map_err(|e| {
        node.telemetry.events().payout_rail_errors.inc();
        PayoutError::Rail(e)
    })?;
    Ok(update(&node.cluster, &node.registry, id, answer).await?)
}

/// Hands the transfer of `entry` to `device`'s wallet (idempotent). `Ok(false)`: it was there
/// already, or there is nothing to hand over.
pub async fn deliver(registry: &RegistryHandle, device: DeviceHash, entry: EntryId) -> Result<bool, ActorError> {
    registry.call(device, Receive { entry }).await
}

/// Records what the rail (its callback, or a status query) says about payout `id`: paid or
/// failed settles it once; in flight changes nothing. Answers the payout's state afterwards.
pub async fn update(cluster: &ClusterNode, registry: &RegistryHandle, id: &PayoutId, state: RailState) -> Result<PayoutState, ActorError> {
    let record = payout(cluster, id).await?;
    let settled = match state {
        RailState::InFlight => return Ok(record.state),
        RailState::Paid => PayoutSettled::Paid,
        RailState::Failed { code, reason } => PayoutSettled::Failed { code, reason },
    };
    registry.call(record.device, SettlePayout { id: id.clone(), settled }).await
}

/// The `pay/<id>` record (after a read barrier when this node has not seen it).
pub async fn payout(cluster: &ClusterNode, id: &PayoutId) -> Result<PayoutRecord, ActorError> {
    let key = PayoutIdRecord { id: id.clone() };
    if let Some(r) = key.read(cluster.view())? {
        return Ok(r);
    }
    cluster.read_barrier().await?;
    key.read(cluster.view())?.ok_or_else(|| ActorError::NotFound { what: Missing::Payout, id: id.to_string() })
}

/// A customer's wallet as their page shows it.
#[derive(Debug, Clone)]
pub struct WalletView {
    /// The wallet (`None`: no cashback or payee yet).
    pub wallet: Option<Wallet>,
    /// Its latest postings, oldest first (at most [`WALLET_POSTINGS_SHOWN_MAX`]).
    pub postings: Vec<Posting>,
    /// Its payouts with their states, oldest first.
    pub payouts: Vec<(PayoutId, PayoutRecord)>,
}

/// Reads `device`'s wallet, its latest postings and its payouts.
pub async fn view(cluster: &ClusterNode, registry: &RegistryHandle, device: DeviceHash) -> Result<WalletView, ActorError> {
    let wallet = match registry.call(device.clone(), GetWallet).await {
        Ok(w) => w,
        Err(ActorError::NotFound { .. }) => return Ok(WalletView { wallet: None, postings: Vec::new(), payouts: Vec::new() }),
        Err(e) => return Err(e),
    };
    // GetWallet confirmed ownership after a read barrier: this node has applied every posting.
    let account = Account::Customer(device.clone());
    let first = wallet.book.postings.saturating_sub(WALLET_POSTINGS_SHOWN_MAX as u64);
    let mut postings = Vec::with_capacity(WALLET_POSTINGS_SHOWN_MAX);
    for seq in first..wallet.book.postings {
        if let Some(p) = (PostingRecord { account: account.clone(), seq }).read(cluster.view())? {
            postings.push(p);
        }
    }
    let mut payouts = Vec::new();
    let count = wallet.payouts_started;
    for n in count.saturating_sub(WALLET_POSTINGS_SHOWN_MAX as u64)..count {
        let id = crate::actors::wallet::payout_id(&device, n);
        if let Some(r) = (PayoutIdRecord { id: id.clone() }).read(cluster.view())? {
            payouts.push((id, r));
        }
    }
    Ok(WalletView { wallet: Some(wallet), postings, payouts })
}

/// What the driver keeps between rounds, on this node only: unanswered sends per payout, and the
/// payouts the rail has acknowledged (asked about, not sent again).
#[derive(Default)]
struct Progress {
    unanswered: BTreeMap<PayoutId, u32>,
    acknowledged: std::collections::BTreeSet<PayoutId>,
}

/// Runs the driver until its task is aborted (at shutdown).
pub async fn run(node: NodeHandle, driver: PayoutDriver) {
    let mut ticker = tokio::time::interval(driver.config.retry_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut progress = Progress::default();
    loop {
        ticker.tick().await;
        deliver_left_over(&node, &driver).await;
        drive(&node, &driver, &mut progress).await;
    }
}

/// Whether this node drives `device`'s wallet (see `sweeper::sweeps_for`).
fn drives(node: &NodeHandle, device: &DeviceHash) -> bool {
    let owner = node.cluster.view().owner(&ActorKey::Wallet(device.clone()).stored()).ok().flatten();
    super::sweeper::sweeps_for(node, owner.map(|o| o.node))
}

fn limit(driver: &PayoutDriver) -> usize {
    usize::try_from(driver.config.in_flight_max).unwrap_or(usize::MAX)
}

/// Delivers the transfers a crash left between a business's write and its wallet's.
async fn deliver_left_over(node: &NodeHandle, driver: &PayoutDriver) {
    let left = match node.cluster.view().scan_index(OutboxRecord::PREFIX, limit(driver)) {
        Ok(v) => v,
        Err(e) => return tracing::warn!(error = %e, "payout driver could not scan transfers"),
    };
    for (key, bytes) in left {
        let Ok(transfer) = OutboxRecord::decode_scanned(&bytes) else {
            tracing::warn!(key, "undecodable transfer record");
            continue;
        };
        if !drives(node, &transfer.device) {
            continue;
        }
        match deliver(&node.registry, transfer.device.clone(), transfer.entry.clone()).await {
            // Posted before (by another round, or a delivery off the customer's path) by a
            // wallet in another Raft group than the business: the business deletes its record.
            Ok(false) => {
                let forget = crate::actors::business::ForgetTransfer { entry: transfer.entry.clone() };
                if let Err(e) = node.registry.call(transfer.business.clone(), forget).await {
                    tracing::warn!(entry = %transfer.entry, error = %e, "could not clear a delivered transfer; next round");
                }
            }
            Ok(true) => {}
            Err(e) => tracing::warn!(entry = %transfer.entry, error = %e, "could not deliver cashback to its wallet; next round"),
        }
    }
}

/// Sends (or asks about) every payout in flight this node drives.
async fn drive(node: &NodeHandle, driver: &PayoutDriver, progress: &mut Progress) {
    let flying = match node.cluster.view().scan_index(FlyingRecord::PREFIX, limit(driver)) {
        Ok(v) => v,
        Err(e) => return tracing::warn!(error = %e, "payout driver could not scan payouts in flight"),
    };
    node.telemetry.events().payouts_in_flight.set(i64::try_from(flying.len()).unwrap_or(i64::MAX));
    let mut seen = std::collections::BTreeSet::new();
    let mut stuck = 0i64;
    for (key, bytes) in flying {
        let Some(id) = FlyingRecord::parse_key(&key) else { continue };
        let Ok(device) = (FlyingRecord { id: id.clone() }).decode(&bytes) else { continue };
        seen.insert(id.clone());
        if !drives(node, &device) {
            continue;
        }
        let record = match (PayoutIdRecord { id: id.clone() }).read(node.cluster.view()) {
            Ok(Some(r)) if r.state == PayoutState::InFlight => r,
            _ => continue,
        };
        let unanswered = progress.unanswered.get(&id).copied().unwrap_or(0);
        let ask_only = progress.acknowledged.contains(&id) || unanswered >= driver.config.attempts_max;
        if unanswered >= driver.config.attempts_max {
            stuck += 1;
        }
        let answer = if ask_only { call(&driver.rail, driver.config.call_timeout, Call::Status(id.clone())).await } else {
            let payee = match (&record.payee, &driver.unseal) {
                (None, _) => Payee { alias: String::new(), ssn: String::new() },
                (Some(sealed), Some(unseal)) => match unseal(sealed, &record.device) {
                    Some(p) => p,
                    None => {
                        tracing::error!(payout_id = %id, "payout's payee cannot be opened (key changed?); not sent");
                        stuck += 1;
                        continue;
                    }
                },
                (Some(_), None) => {
                    tracing::error!(payout_id = %id, "payout has a sealed payee but this node cannot open payees; not sent");
                    stuck += 1;
                    continue;
                }
            };
            let order = PayoutOrder { id: id.clone(), amount: record.amount, payee, message: PAYOUT_MESSAGE.to_owned(), instructed_ms: record.started_ms };
            call(&driver.rail, driver.config.call_timeout, Call::Send(Box::new(order))).await
        };
        match answer {
            Ok(RailState::InFlight) => {
                progress.acknowledged.insert(id.clone());
            }
            Ok(state) => match update(&node.cluster, &node.registry, &id, state.clone()).await {
                Ok(_) => {
                    // Planted bug (simulations only): the settlement reported again, as a retried
                    // callback would.
                    if svea_storage::planted::payout_settled_twice() {
                        let _ = update(&node.cluster, &node.registry, &id, state).await;
                    }
                    progress.unanswered.remove(&id);
                    progress.acknowledged.remove(&id);
                }
                Err(e) => tracing::warn!(payout_id = %id, error = %e, "could not record the payout's settlement; next round"),
            },
            Err(e) => {
                node.telemetry.events().payout_rail_errors.inc();
                progress.unanswered.insert(id.clone(), unanswered.saturating_add(1));
                tracing::warn!(payout_id = %id, attempt = unanswered + 1, error = %e, "payout rail gave no answer; same id next round");
            }
        }
    }
    // Forget payouts settled elsewhere (or by a callback), so the maps stay bounded by the scan.
    progress.unanswered.retain(|id, _| seen.contains(id));
    progress.acknowledged.retain(|id| seen.contains(id));
    node.telemetry.events().payouts_stuck.set(stuck);
}

enum Call {
    Send(Box<PayoutOrder>),
    Status(PayoutId),
}

/// One rail call under `payouts.call_timeout_ms`: a blocking rail on tokio's blocking pool, a
/// non-blocking one (ledger-only, the simulation's) inline.
async fn call(rail: &Arc<dyn PayoutRail>, timeout: std::time::Duration, what: Call) -> Result<RailState, RailError> {
    let blocking = rail.blocking();
    let rail = rail.clone();
    let run = move || match what {
        Call::Send(order) => rail.send(&order),
        Call::Status(id) => rail.status(&id),
    };
    if !blocking {
        return run();
    }
    match tokio::time::timeout(timeout, tokio::task::spawn_blocking(run)).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(join)) => Err(RailError::Unexpected(format!("rail call panicked: {join}"))),
        Err(_) => Err(RailError::Timeout),
    }
}
