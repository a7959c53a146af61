//! The double-entry ledger's pure rules: accounts, entries with balanced legs, and the running
//! totals every posting stamps (issue 21).
//!
//! Every movement of money is one [`Entry`] whose legs sum to 0 öre, named by an [`EntryId`]
//! derived from what caused it (a Stripe event, a session's reward, a payout), so a retry names
//! the same entry and the store's insert-new record refuses a second one. The actor that causes
//! a movement writes the entry in the same fenced write as its state change, with one
//! [`Posting`] per account it owns; a posting stamps the account's running [`Totals`] after it,
//! so an account's balance is its latest posting's, and a statement's running balance is read
//! off the postings in order. Accounts:
//!
//! - `external:card`: money paid in by card (Stripe) or as a demo top-up;
//! - `business:<id>`: a business's funds available for rewards (may go negative after a top-up
//!   refund: rewards stop);
//! - `customer:<device hash>`: cashback owed to a customer, not yet paid out;
//! - `payout:<payout id>`: a payout in flight;
//! - `external:payout`: money that left svea through the payout rail.
//!
//! External accounts get no postings (many actors move money to and from them at once; they are
//! the world's side of each entry), every other account is owned by exactly one actor: a
//! business its own, a wallet its customer's and its payouts'.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{BusinessId, DeviceHash, Ore, SessionId};

/// Longest external reference (Stripe event, checkout session or payment id) svea accepts.
pub const EXTERNAL_REF_LEN_MAX: usize = 255;

/// Legs of one entry, at most (a transfer has two; a payout's attribution never needs more).
pub const ENTRY_LEGS_MAX: usize = 8;

/// A payout's instruction id: 32 upper-case hexadecimal characters, the form Swish asks of an
/// `instructionUUID` (a UUID without dashes). Made by the ledger from replicated state, never
/// from client text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct PayoutId(String);

/// Length of a [`PayoutId`].
pub const PAYOUT_ID_LEN: usize = 32;

impl PayoutId {
    /// The id if `text` is 32 upper-case hexadecimal characters.
    pub fn parse(text: &str) -> Option<PayoutId> {
        (text.len() == PAYOUT_ID_LEN && text.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)))
            .then(|| PayoutId(text.to_owned()))
    }

    /// The id from 128 bits (e.g. a hash of the ledger entry that opened the payout).
    pub fn from_bits(bits: u128) -> PayoutId {
        PayoutId(format!("{bits:032X}"))
    }

    /// The id as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PayoutId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why an entry could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// The legs do not sum to zero.
    #[error("entry {id} does not balance: its legs sum to {sum} öre")]
    Unbalanced {
        /// The entry.
        id: String,
        /// What the legs sum to.
        sum: i64,
    },
    /// Fewer than two legs, more than [`ENTRY_LEGS_MAX`], a zero leg or an account twice.
    #[error("entry {id} has malformed legs: {reason}")]
    Legs {
        /// The entry.
        id: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// An amount overflowed.
    #[error("amount overflow in entry {0}")]
    Overflow(String),
}

/// An id from outside (Stripe's `evt_...`, `cs_...`, `pi_...`): 1 to [`EXTERNAL_REF_LEN_MAX`]
/// characters of `A-Z a-z 0-9 _ -`, so it can sit in a store key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ExternalRef(String);

impl ExternalRef {
    /// The reference if `text` is one.
    pub fn parse(text: &str) -> Option<ExternalRef> {
        let ok = !text.is_empty() && text.len() <= EXTERNAL_REF_LEN_MAX && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        ok.then(|| ExternalRef(text.to_owned()))
    }

    /// The reference as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ExternalRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An account of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Account {
    /// Money paid in (card, or demo).
    Card,
    /// A business's available funds.
    Business(BusinessId),
    /// Cashback owed to a customer (their device's keyed hash).
    Customer(DeviceHash),
    /// A payout in flight.
    Payout(PayoutId),
    /// Money paid out through the rail.
    PaidOut,
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Account::Card => f.write_str("external:card"),
            Account::Business(id) => write!(f, "business:{id}"),
            Account::Customer(d) => write!(f, "customer:{d}"),
            Account::Payout(p) => write!(f, "payout:{p}"),
            Account::PaidOut => f.write_str("external:payout"),
        }
    }
}

impl Account {
    /// The account as it appears in store keys (no `/`).
    pub fn as_key(&self) -> String {
        self.to_string()
    }

    /// Whether postings are kept for it (every account but the external ones).
    pub fn has_postings(&self) -> bool {
        !matches!(self, Account::Card | Account::PaidOut)
    }
}

/// What moved money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A business's funds topped up (card or demo): card -> business.
    TopUp,
    /// A reward reserved for a customer at settlement: business -> customer.
    RewardReserved,
    /// A reward given back because the till refunded the purchase: customer -> business.
    RewardReversed,
    /// A payout started: customer -> payout.
    PayoutStarted,
    /// A payout the rail paid: payout -> paid out.
    PayoutPaid,
    /// A payout the rail refused or failed, returned to the customer: payout -> customer.
    PayoutFailed,
    /// A top-up refunded to the card: business -> card.
    TopUpRefunded,
}

/// Every kind, in [`EntryKind::index`] order.
pub const ENTRY_KINDS: [EntryKind; 7] = [
    EntryKind::TopUp,
    EntryKind::RewardReserved,
    EntryKind::RewardReversed,
    EntryKind::PayoutStarted,
    EntryKind::PayoutPaid,
    EntryKind::PayoutFailed,
    EntryKind::TopUpRefunded,
];

impl EntryKind {
    /// The kind's name in the API, the CSV and the metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::TopUp => "top_up",
            EntryKind::RewardReserved => "reward_reserved",
            EntryKind::RewardReversed => "reward_reversed",
            EntryKind::PayoutStarted => "payout_started",
            EntryKind::PayoutPaid => "payout_paid",
            EntryKind::PayoutFailed => "payout_failed",
            EntryKind::TopUpRefunded => "top_up_refunded",
        }
    }

    /// The kind in Swedish, for a bookkeeper's statement.
    pub fn swedish(self) -> &'static str {
        match self {
            EntryKind::TopUp => "Insättning",
            EntryKind::RewardReserved => "Belöning reserverad",
            EntryKind::RewardReversed => "Belöning återförd (köpet återbetalt)",
            EntryKind::PayoutStarted => "Utbetalning påbörjad",
            EntryKind::PayoutPaid => "Utbetalning genomförd",
            EntryKind::PayoutFailed => "Utbetalning misslyckad, återförd",
            EntryKind::TopUpRefunded => "Insättning återbetald",
        }
    }

    /// Its slot in [`Totals::by_kind`].
    pub fn index(self) -> usize {
        match self {
            EntryKind::TopUp => 0,
            EntryKind::RewardReserved => 1,
            EntryKind::RewardReversed => 2,
            EntryKind::PayoutStarted => 3,
            EntryKind::PayoutPaid => 4,
            EntryKind::PayoutFailed => 5,
            EntryKind::TopUpRefunded => 6,
        }
    }
}

/// An entry's id: its kind's prefix and what caused it, so the same cause always names the same
/// entry (`reward:<business>:<session>`, `topup:<stripe event>`, `payout-started:<payout id>`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EntryId(String);

impl EntryId {
    /// A top-up reported by the funding provider's event (or a demo top-up's own id).
    pub fn top_up(event: &ExternalRef) -> EntryId {
        EntryId(format!("topup:{event}"))
    }
    /// The reward of a session at a business (one per session, paid at settlement or release).
    pub fn reward(business: &BusinessId, session: &SessionId) -> EntryId {
        EntryId(format!("reward:{business}:{session}"))
    }
    /// The reversal of that reward.
    pub fn reversal(business: &BusinessId, session: &SessionId) -> EntryId {
        EntryId(format!("reversal:{business}:{session}"))
    }
    /// A payout's start.
    pub fn payout_started(id: &PayoutId) -> EntryId {
        EntryId(format!("payout-started:{id}"))
    }
    /// A payout's settlement (paid or failed: one of them, once).
    pub fn payout_settled(id: &PayoutId) -> EntryId {
        EntryId(format!("payout-settled:{id}"))
    }
    /// A top-up refund reported by the funding provider's event.
    pub fn top_up_refund(event: &ExternalRef) -> EntryId {
        EntryId(format!("topup-refund:{event}"))
    }
    /// Another id for the same cause: only the simulations' planted bug
    /// (`svea_storage::planted::payout_settled_twice`) makes one, to show the checks catch it.
    pub fn planted_replay(&self, n: i64) -> EntryId {
        EntryId(format!("{}:again-{n}", self.0))
    }

    /// The id as stored (no `/`: every part is an id svea made or an [`ExternalRef`]).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One leg: an amount to an account (positive: the account gains; negative: it gives).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leg {
    /// The account.
    pub account: Account,
    /// Öre, never 0.
    pub amount: Ore,
}

/// One movement of money, balanced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its id (idempotency).
    pub id: EntryId,
    /// What moved the money.
    pub kind: EntryKind,
    /// When, Unix milliseconds (from the writing actor's clock, inside the command).
    pub at_ms: i64,
    /// The legs, summing to zero.
    pub legs: Vec<Leg>,
    /// What a reader needs to recognise it (a session, a payment, a payout); never personal data.
    pub reference: String,
}

impl Entry {
    /// A balanced entry, or why not.
    pub fn new(id: EntryId, kind: EntryKind, at_ms: i64, legs: Vec<Leg>, reference: String) -> Result<Entry, LedgerError> {
        let e = Entry { id, kind, at_ms, legs, reference };
        e.check()?;
        Ok(e)
    }

    /// `amount` (positive) from `from` to `to`.
    pub fn transfer(id: EntryId, kind: EntryKind, at_ms: i64, from: Account, to: Account, amount: Ore, reference: String) -> Result<Entry, LedgerError> {
        let negated = Ore::ZERO.checked_sub(amount).ok_or_else(|| LedgerError::Overflow(id.to_string()))?;
        Entry::new(id, kind, at_ms, vec![Leg { account: from, amount: negated }, Leg { account: to, amount }], reference)
    }

    /// Checks the rules every entry keeps: 2..=[`ENTRY_LEGS_MAX`] legs, none zero, no account
    /// twice, summing to zero.
    pub fn check(&self) -> Result<(), LedgerError> {
        let legs = |reason| Err(LedgerError::Legs { id: self.id.to_string(), reason });
        if self.legs.len() < 2 || self.legs.len() > ENTRY_LEGS_MAX {
            return legs("an entry has 2 to 8 legs");
        }
        if self.legs.iter().any(|l| l.amount == Ore::ZERO) {
            return legs("a leg of 0 öre");
        }
        for (i, l) in self.legs.iter().enumerate() {
            if self.legs[..i].iter().any(|m| m.account == l.account) {
                return legs("an account twice");
            }
        }
        let sum = self.legs.iter().try_fold(0i64, |s, l| s.checked_add(l.amount.as_ore())).ok_or_else(|| LedgerError::Overflow(self.id.to_string()))?;
        if sum != 0 {
            return Err(LedgerError::Unbalanced { id: self.id.to_string(), sum });
        }
        Ok(())
    }

    /// The amount of this entry on `account`, if it has a leg there.
    pub fn amount_on(&self, account: &Account) -> Option<Ore> {
        self.legs.iter().find(|l| &l.account == account).map(|l| l.amount)
    }
}

/// An account's running totals: the sum of its legs per entry kind. The balance is their sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Signed öre per [`EntryKind::index`].
    pub by_kind: [i64; 7],
}

impl Totals {
    /// The account's balance.
    pub fn balance(&self) -> Ore {
        Ore::from_ore(self.by_kind.iter().fold(0i64, |s, v| s.saturating_add(*v)))
    }

    /// The signed sum of `kind`'s legs.
    pub fn of(&self, kind: EntryKind) -> Ore {
        Ore::from_ore(self.by_kind[kind.index()])
    }

    /// The totals after a leg of `amount` of an entry of `kind`.
    pub fn after(&self, kind: EntryKind, amount: Ore) -> Option<Totals> {
        let mut next = *self;
        let slot = &mut next.by_kind[kind.index()];
        *slot = slot.checked_add(amount.as_ore())?;
        Some(next)
    }
}

/// One account's line of an entry: the account's running totals after it. Postings of an account
/// are numbered from 0 without gaps (`lacct/<account>/<seq>`), so the latest is found by number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    /// The entry.
    pub entry: EntryId,
    /// Its kind.
    pub kind: EntryKind,
    /// Its time, Unix milliseconds.
    pub at_ms: i64,
    /// This account's leg.
    pub amount: Ore,
    /// The account's totals after it (its balance is their sum).
    pub totals: Totals,
    /// The entry's reference.
    pub reference: String,
}

/// An account as its owning actor keeps it between writes: how many postings it has and the
/// totals its latest posting stamped (the same value, written in the same command; the
/// postings are the record).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Book {
    /// Postings so far; the next is number `postings`.
    pub postings: u64,
    /// The latest posting's totals.
    pub totals: Totals,
}

impl Book {
    /// The posting of `entry` on `account` and the book after it (its number is `self.postings`).
    pub fn post(&self, account: &Account, entry: &Entry) -> Result<(Book, Posting), LedgerError> {
        let amount = entry.amount_on(account).ok_or(LedgerError::Legs { id: entry.id.to_string(), reason: "no leg on the posted account" })?;
        let totals = self.totals.after(entry.kind, amount).ok_or_else(|| LedgerError::Overflow(entry.id.to_string()))?;
        let posting = Posting { entry: entry.id.clone(), kind: entry.kind, at_ms: entry.at_ms, amount, totals, reference: entry.reference.clone() };
        Ok((Book { postings: self.postings + 1, totals }, posting))
    }

    /// The account's balance.
    pub fn balance(&self) -> Ore {
        self.totals.balance()
    }
}

/// A business's money as its ledger account shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Funds {
    /// Topped up, all time.
    pub funded: Ore,
    /// Refunded to the card, all time.
    pub refunded: Ore,
    /// Rewarded to customers, net of reversals, all time.
    pub rewarded: Ore,
    /// Available for rewards (funded - refunded - rewarded); negative after a refund of money
    /// already spent.
    pub available: Ore,
}

impl Funds {
    /// A business account's funds from its totals.
    pub fn of(t: &Totals) -> Funds {
        let neg = |o: Ore| Ore::from_ore(o.as_ore().saturating_neg());
        Funds {
            funded: t.of(EntryKind::TopUp),
            refunded: neg(t.of(EntryKind::TopUpRefunded)),
            rewarded: neg(Ore::from_ore(t.of(EntryKind::RewardReserved).as_ore().saturating_add(t.of(EntryKind::RewardReversed).as_ore()))),
            available: t.balance(),
        }
    }

    /// What rewards may still take: the available funds, never below zero.
    pub fn spendable(&self) -> Ore {
        self.available.max(Ore::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payout_ids_are_32_upper_case_hex_characters() {
        let id = PayoutId::from_bits(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        assert_eq!(id.as_str(), "0123456789ABCDEF0123456789ABCDEF");
        assert_eq!(PayoutId::parse(id.as_str()), Some(id));
        assert_eq!(PayoutId::parse("0123456789abcdef0123456789abcdef"), None);
        assert_eq!(PayoutId::parse("0123456789ABCDEF0123456789ABCDE"), None);
        assert_eq!(PayoutId::parse("0123456789ABCDEF0123456789ABCDEG"), None);
    }

    fn biz() -> BusinessId {
        BusinessId::random()
    }

    #[test]
    fn entries_balance_or_are_refused() {
        let b = biz();
        let e = Entry::transfer(EntryId::top_up(&ExternalRef::parse("evt_1").unwrap()), EntryKind::TopUp, 1, Account::Card, Account::Business(b.clone()), Ore::from_ore(500), String::new()).unwrap();
        assert_eq!(e.legs.iter().map(|l| l.amount.as_ore()).sum::<i64>(), 0);
        let id = EntryId::top_up(&ExternalRef::parse("evt_2").unwrap());
        let unbalanced = vec![Leg { account: Account::Card, amount: Ore::from_ore(-5) }, Leg { account: Account::Business(b.clone()), amount: Ore::from_ore(4) }];
        assert!(matches!(Entry::new(id.clone(), EntryKind::TopUp, 1, unbalanced, String::new()), Err(LedgerError::Unbalanced { sum: -1, .. })));
        let twice = vec![Leg { account: Account::Card, amount: Ore::from_ore(-5) }, Leg { account: Account::Card, amount: Ore::from_ore(5) }];
        assert!(matches!(Entry::new(id.clone(), EntryKind::TopUp, 1, twice, String::new()), Err(LedgerError::Legs { .. })));
        let zero = vec![Leg { account: Account::Card, amount: Ore::ZERO }, Leg { account: Account::Business(b), amount: Ore::ZERO }];
        assert!(Entry::new(id, EntryKind::TopUp, 1, zero, String::new()).is_err());
    }

    #[test]
    fn postings_stamp_running_totals_and_funds_follow_them() {
        let b = Account::Business(biz());
        let mut book = Book::default();
        let mut balances = Vec::new();
        let steps = [(EntryKind::TopUp, 10_000), (EntryKind::RewardReserved, -250), (EntryKind::RewardReversed, 250), (EntryKind::RewardReserved, -300), (EntryKind::TopUpRefunded, -10_000)];
        for (n, (kind, amount)) in steps.into_iter().enumerate() {
            let other = Account::Card;
            let legs = vec![Leg { account: b.clone(), amount: Ore::from_ore(amount) }, Leg { account: other, amount: Ore::from_ore(-amount) }];
            let e = Entry::new(EntryId(format!("e{n}")), kind, n as i64, legs, String::new()).unwrap();
            let (next, posting) = book.post(&b, &e).unwrap();
            assert_eq!(posting.totals.balance(), next.balance());
            balances.push(next.balance().as_ore());
            book = next;
        }
        assert_eq!(balances, [10_000, 9_750, 10_000, 9_700, -300]);
        let f = Funds::of(&book.totals);
        assert_eq!((f.funded.as_ore(), f.refunded.as_ore(), f.rewarded.as_ore(), f.available.as_ore()), (10_000, 10_000, 300, -300));
        assert_eq!(f.spendable(), Ore::ZERO);
        assert_eq!(book.postings, 5);
    }

    #[test]
    fn external_references_are_key_safe() {
        assert!(ExternalRef::parse("evt_1NqZ2Y-abc").is_some());
        assert!(ExternalRef::parse("").is_none());
        assert!(ExternalRef::parse("a/b").is_none());
        assert!(ExternalRef::parse(&"x".repeat(EXTERNAL_REF_LEN_MAX + 1)).is_none());
    }
}
