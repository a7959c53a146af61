//! The wallet actor: one per customer, keyed by their device's keyed hash (`wallet/<hash>`). It
//! owns the customer's ledger account (`customer:<hash>`: cashback owed, not yet paid out), their
//! payee (sealed), and their payouts with the `payout:<id>` accounts.
//!
//! Cashback arrives from businesses through `core/` ([`Receive`]): the business wrote the reward
//! entry and a transfer record (`lout/<entry>`) in its own write; the wallet posts the entry's
//! customer leg and deletes the transfer in one write, idempotent on the entry id
//! (`lpost/customer:<hash>/<entry>`, insert-new), so a transfer reaches the wallet exactly once
//! whatever crashes between the two writes. When the balance reaches `payouts.minimum_sek` and
//! the customer has a payee (or the rail needs none), the same write starts a payout: entry
//! customer -> `payout:<id>` with a [`PayoutId`] derived from the wallet and its payout number,
//! the `pay/<id>` record (amount, sealed payee, state) and the `payfly/<id>` record the driver
//! scans. The driver (`core/payouts.rs`) sends it and reports what the rail says
//! ([`SettlePayout`]): paid (payout -> paid out) or failed (payout -> customer, the reason kept).

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use svea_storage::IndexMode;
use tracing::Instrument;

use super::cell::{Persisted, Slot};
use super::keys::{entry_writes, EntryRecord, FlyingRecord, Index, OutboxRecord, PayoutIdRecord, PayoutRecord, PayoutState, PostedRecord};
use super::{ActorEnv, ActorError, ActorKey, Missing, Op};
use crate::domain::ledger::PayoutId;
use crate::domain::ledger::{Account, Book, Entry, EntryId, EntryKind, LedgerError};
use crate::domain::payee::SealedPayee;
use crate::domain::{DeviceHash, Ore};

/// What a wallet needs to know of `[payouts]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayoutRules {
    /// A payout starts when the balance reaches this.
    pub minimum: Ore,
    /// Whether the rail needs a payee (Swish does; `ledger-only` does not).
    pub payee_required: bool,
    /// The rail's name, recorded with each payout.
    pub rail: &'static str,
}

/// A customer's wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wallet {
    /// The customer.
    pub device: DeviceHash,
    /// The `customer:<hash>` account: its postings so far and the latest posting's running
    /// totals (written with that posting; the postings are the record).
    pub book: Book,
    /// Who payouts go to, sealed; `None` until given, and after erasure.
    pub payee: Option<SealedPayee>,
    /// Payouts started so far (the next payout's number, part of its id).
    pub payouts_started: u64,
    /// The payout in flight, if any (one at a time).
    pub in_flight: Option<PayoutId>,
    /// When the wallet got its first cashback or payee.
    pub created_at: DateTime<Utc>,
}

impl Wallet {
    /// Cashback owed, not in a payout.
    pub fn balance(&self) -> Ore {
        self.book.balance()
    }
}

/// The id of a wallet's `n`th payout: the first 128 bits of SHA-256 over the wallet and `n`,
/// so every replica and every retry derives the same id from replicated state.
pub fn payout_id(device: &DeviceHash, n: u64) -> PayoutId {
    let mut h = Sha256::new();
    h.update(b"svea-payout-v1\0");
    h.update(device.as_str().as_bytes());
    h.update(n.to_be_bytes());
    let digest = h.finalize();
    let mut bits = [0u8; 16];
    bits.copy_from_slice(&digest[..16]);
    PayoutId::from_bits(u128::from_be_bytes(bits))
}

/// Posts a cashback transfer (`lout/<entry>`) on the customer's account (idempotent on the
/// entry). Answers whether it was posted now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Receive {
    /// The entry a business wrote (a reward or its reversal).
    pub entry: EntryId,
}

/// Sets who the customer's payouts go to (sealed by the caller).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetPayee(pub SealedPayee);

/// Erases the payee (the customer's erasure). Answers whether there was one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErasePayee;

/// Reads the wallet.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GetWallet;

/// What the rail settled a payout as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PayoutSettled {
    /// Paid to the payee.
    Paid,
    /// Failed for good: the money returns to the balance.
    Failed {
        /// The rail's code.
        code: String,
        /// Why, in words for the customer.
        reason: String,
    },
}

/// Records a payout's settlement (idempotent: a payout settles once; a later report of the
/// other outcome changes nothing and is answered with the recorded state).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SettlePayout {
    /// The payout.
    pub id: PayoutId,
    /// Paid or failed.
    pub settled: PayoutSettled,
}

/// Starts a payout if the balance allows (after a failed one, the next credit or payee does it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TryPayout;

/// The operations a wallet actor serves.
pub trait WalletOp: Op<Actor = WalletActor> {
    /// Runs the operation on the activated actor.
    #[allow(async_fn_in_trait)]
    async fn run(self, env: &ActorEnv, key: &str, id: &DeviceHash, slot: &mut Slot<Wallet>) -> Result<Self::Reply, ActorError>;
}

/// One customer's wallet.
pub struct WalletActor {
    id: DeviceHash,
    key: String,
    env: ActorEnv,
    mailbox_len: usize,
    slot: Slot<Wallet>,
}

actor_shell!(WalletActor, DeviceHash, Wallet, "wallet", wallet, WalletOp);

op!(WalletActor, DeviceHash: Receive -> bool, creates = true);
op!(WalletActor, DeviceHash: SetPayee -> Wallet, creates = true);
op!(WalletActor, DeviceHash: ErasePayee -> bool);
op!(WalletActor, DeviceHash: GetWallet -> Wallet);
op!(WalletActor, DeviceHash: SettlePayout -> PayoutState);
op!(WalletActor, DeviceHash: TryPayout -> Option<PayoutId>);

fn ledger_broken(e: LedgerError) -> ActorError {
    ActorError::Internal(e.to_string())
}

fn current<'a>(slot: &'a Slot<Wallet>) -> Result<&'a Wallet, ActorError> {
    slot.state.as_ref().ok_or(ActorError::NotFound { what: Missing::Wallet, id: "(this device)".into() })
}

fn fresh(slot: &Slot<Wallet>, id: &DeviceHash, now: DateTime<Utc>) -> Wallet {
    slot.state.clone().unwrap_or(Wallet { device: id.clone(), book: Book::default(), payee: None, payouts_started: 0, in_flight: None, created_at: now })
}

/// Posts `entry` on the customer's account of `w`: the records and the book after it.
fn post_customer(w: &mut Wallet, entry: &Entry) -> Result<Vec<svea_storage::IndexWrite>, ActorError> {
    let account = Account::Customer(w.device.clone());
    let (book, posting) = w.book.post(&account, entry).map_err(ledger_broken)?;
    let seq = w.book.postings;
    w.book = book;
    let mut writes = Vec::with_capacity(2);
    writes.push(super::keys::PostingRecord { account: account.clone(), seq }.write(&posting, IndexMode::InsertNew)?);
    writes.push(PostedRecord { account, entry: entry.id.clone() }.write(&seq, IndexMode::InsertNew)?);
    Ok(writes)
}

/// The writes that start a payout of the whole balance, if it reaches the minimum, the payee
/// rule is met and none is in flight (updating `w`).
fn maybe_start_payout(env: &ActorEnv, w: &mut Wallet, now: DateTime<Utc>) -> Result<Vec<svea_storage::IndexWrite>, ActorError> {
    let rules = env.payouts;
    let amount = w.balance();
    if w.in_flight.is_some() || amount < rules.minimum || amount <= Ore::ZERO || (rules.payee_required && w.payee.is_none()) {
        return Ok(Vec::new());
    }
    let id = payout_id(&w.device, w.payouts_started);
    let entry = Entry::transfer(EntryId::payout_started(&id), EntryKind::PayoutStarted, now.timestamp_millis(), Account::Customer(w.device.clone()), Account::Payout(id.clone()), amount, id.to_string())
        .map_err(ledger_broken)?;
    let mut writes = post_customer(w, &entry)?;
    // The payout account's first posting (its only other one is the settlement).
    let payout = Account::Payout(id.clone());
    let (_, posting) = Book::default().post(&payout, &entry).map_err(ledger_broken)?;
    writes.extend(entry_writes(&entry, &[(payout, 0, posting)])?);
    // `entry_writes` wrote the entry and the payout's posting; the customer's is above.
    assert!(w.balance() == Ore::ZERO, "a payout takes the whole balance");
    let record = PayoutRecord {
        device: w.device.clone(),
        amount,
        rail: rules.rail.to_owned(),
        payee: if rules.payee_required { w.payee.clone() } else { None },
        started_ms: now.timestamp_millis(),
        state: PayoutState::InFlight,
    };
    writes.push(PayoutIdRecord { id: id.clone() }.write(&record, IndexMode::InsertNew)?);
    writes.push(FlyingRecord { id: id.clone() }.write(&w.device, IndexMode::InsertNew)?);
    w.payouts_started += 1;
    w.in_flight = Some(id.clone());
    tracing::info!(event = "payout_started", payout_id = %id, amount_ore = amount.as_ore(), "payout started");
    env.metrics.ledger_entry(EntryKind::PayoutStarted, amount);
    Ok(writes)
}

impl WalletOp for Receive {
    async fn run(self, env: &ActorEnv, _key: &str, id: &DeviceHash, slot: &mut Slot<Wallet>) -> Result<bool, ActorError> {
        let account = Account::Customer(id.clone());
        let posted = PostedRecord { account: account.clone(), entry: self.entry.clone() };
        // This actor alone writes its postings: its view has every one of them.
        if posted.exists(env.cluster.view())? {
            return Ok(false);
        }
        // The transfer and the entry are the business's writes, possibly through another node.
        let outbox = OutboxRecord { entry: self.entry.clone() };
        let record = EntryRecord { entry: self.entry.clone() };
        if !outbox.exists(env.cluster.view())? || !record.exists(env.cluster.view())? {
            env.cluster.read_barrier().await?;
        }
        let Some(transfer) = outbox.read(env.cluster.view())? else { return Ok(false) };
        let entry = record.read(env.cluster.view())?.ok_or_else(|| ActorError::Internal(format!("transfer {} without its entry", self.entry)))?;
        if &transfer.device != id || entry.amount_on(&account).is_none() {
            return Err(ActorError::Internal(format!("transfer {} is not for this wallet", self.entry)));
        }
        let now = env.clock.now();
        let mut next = fresh(slot, id, now);
        let mut writes = post_customer(&mut next, &entry)?;
        writes.extend(maybe_start_payout(env, &mut next, now)?);
        // The transfer record is the business's: deleted here when the business is in this
        // wallet's Raft group, else by the business (`business::ForgetTransfer`, asked by the
        // payout driver once it sees this posting).
        let placer = env.cluster.placer();
        let same_group = placer.actor(&ActorKey::Business(transfer.business.clone()).stored()) == placer.actor(&ActorKey::Wallet(id.clone()).stored());
        let deletes = if same_group { vec![outbox.key()] } else { Vec::new() };
        match slot.commit(env, next, writes, deletes).await? {
            Persisted::Ok => {
                tracing::info!(event = "cashback_received", entry = %self.entry, "cashback posted to wallet");
                Ok(true)
            }
            // Only this actor posts here; an equal replay is accepted by the store.
            Persisted::IndexTaken { key, .. } => Err(ActorError::Internal(format!("record {key} exists with another value"))),
        }
    }
}

impl WalletOp for SetPayee {
    async fn run(self, env: &ActorEnv, _key: &str, id: &DeviceHash, slot: &mut Slot<Wallet>) -> Result<Wallet, ActorError> {
        let now = env.clock.now();
        let mut next = fresh(slot, id, now);
        next.payee = Some(self.0);
        let writes = maybe_start_payout(env, &mut next, now)?;
        slot.commit(env, next.clone(), writes, vec![]).await?;
        tracing::info!("payee set");
        Ok(next)
    }
}

impl WalletOp for ErasePayee {
    async fn run(self, env: &ActorEnv, _key: &str, _id: &DeviceHash, slot: &mut Slot<Wallet>) -> Result<bool, ActorError> {
        let Some(w) = slot.state.clone() else { return Ok(false) };
        let mut writes = Vec::new();
        // A payout in flight keeps its own sealed copy until it settles (the same id must carry
        // the same content); settlement drops it.
        let had = w.payee.is_some();
        let mut next = w;
        next.payee = None;
        if had {
            slot.commit(env, next, std::mem::take(&mut writes), vec![]).await?;
            tracing::info!("payee erased");
        }
        Ok(had)
    }
}

impl WalletOp for GetWallet {
    async fn run(self, env: &ActorEnv, key: &str, _id: &DeviceHash, slot: &mut Slot<Wallet>) -> Result<Wallet, ActorError> {
        slot.confirm_owner(env, key).await?;
        Ok(current(slot)?.clone())
    }
}

impl WalletOp for TryPayout {
    async fn run(self, env: &ActorEnv, _key: &str, _id: &DeviceHash, slot: &mut Slot<Wallet>) -> Result<Option<PayoutId>, ActorError> {
        let mut next = current(slot)?.clone();
        let writes = maybe_start_payout(env, &mut next, env.clock.now())?;
        if writes.is_empty() {
            return Ok(None);
        }
        let started = next.in_flight.clone();
        slot.commit(env, next, writes, vec![]).await?;
        Ok(started)
    }
}

impl WalletOp for SettlePayout {
    async fn run(self, env: &ActorEnv, _key: &str, id: &DeviceHash, slot: &mut Slot<Wallet>) -> Result<PayoutState, ActorError> {
        let record_key = PayoutIdRecord { id: self.id.clone() };
        let Some(mut record) = record_key.read(env.cluster.view())? else {
            return Err(ActorError::NotFound { what: Missing::Payout, id: self.id.to_string() });
        };
        if &record.device != id {
            return Err(ActorError::NotFound { what: Missing::Payout, id: self.id.to_string() });
        }
        // Planted bug (simulations only; a constant false in a shipped build): a repeated report
        // is recorded again under a new entry id.
        let again = svea_storage::planted::payout_settled_twice() && record.state != PayoutState::InFlight;
        if record.state != PayoutState::InFlight && !again {
            return Ok(record.state);
        }
        let mut next = current(slot)?.clone();
        let now = env.clock.now();
        let at_ms = now.timestamp_millis();
        let payout = Account::Payout(self.id.clone());
        let (kind, to) = match &self.settled {
            PayoutSettled::Paid => (EntryKind::PayoutPaid, Account::PaidOut),
            PayoutSettled::Failed { .. } => (EntryKind::PayoutFailed, Account::Customer(id.clone())),
        };
        let entry_id = if again { EntryId::payout_settled(&self.id).planted_replay(at_ms) } else { EntryId::payout_settled(&self.id) };
        let entry = Entry::transfer(entry_id, kind, at_ms, payout.clone(), to, record.amount, self.id.to_string()).map_err(ledger_broken)?;
        // The payout account's second posting: it started with the amount and ends at zero.
        let started = Book { postings: 1, totals: crate::domain::ledger::Totals::default().after(EntryKind::PayoutStarted, record.amount).ok_or_else(|| ledger_broken(LedgerError::Overflow(entry.id.to_string())))? };
        let (closed, payout_posting) = started.post(&payout, &entry).map_err(ledger_broken)?;
        assert!(again || closed.balance() == Ore::ZERO, "a settled payout account is empty");
        let mut writes = entry_writes(&entry, &[(payout, if again { 2 } else { 1 }, payout_posting)])?;
        if matches!(self.settled, PayoutSettled::Failed { .. }) {
            writes.extend(post_customer(&mut next, &entry)?);
        }
        record.state = match self.settled {
            PayoutSettled::Paid => PayoutState::Paid { at_ms },
            PayoutSettled::Failed { code, reason } => PayoutState::Failed { at_ms, code, reason },
        };
        // Settled: the payee copy is no longer needed.
        record.payee = None;
        writes.push(record_key.write(&record, IndexMode::Upsert)?);
        if next.in_flight.as_ref() == Some(&self.id) {
            next.in_flight = None;
        }
        let state = record.state.clone();
        match slot.commit(env, next, writes, vec![FlyingRecord { id: self.id.clone() }.key()]).await? {
            Persisted::Ok => {
                tracing::info!(event = "payout_settled", payout_id = %self.id, kind = kind.as_str(), amount_ore = record.amount.as_ore(), "payout settled");
                env.metrics.ledger_entry(kind, record.amount);
                Ok(state)
            }
            Persisted::IndexTaken { key, .. } => Err(ActorError::Internal(format!("record {key} exists with another value"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payout_ids_follow_from_the_wallet_and_its_number() {
        let d: DeviceHash = "ab".repeat(32).parse().expect("hash");
        let e: DeviceHash = "cd".repeat(32).parse().expect("hash");
        assert_eq!(payout_id(&d, 0), payout_id(&d, 0));
        assert_ne!(payout_id(&d, 0), payout_id(&d, 1));
        assert_ne!(payout_id(&d, 0), payout_id(&e, 0));
        assert!(PayoutId::parse(payout_id(&d, 7).as_str()).is_some());
    }
}
