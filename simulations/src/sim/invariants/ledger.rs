//! The ledger balances (issue 21): every entry's legs sum to zero; every account's postings are
//! numbered without gaps, each one's running totals follow from the one before and its leg, and
//! each leg is its entry's leg on that account; no business account goes below zero (no reward
//! reserves more than the funds: the simulation makes no top-up refunds); no customer account goes
//! below zero and every customer posting is of an entry from a business or of their own payout
//! (nothing is paid out that was not reserved by a reward); no entry is posted twice on an account.
//! Read from one replica after the final convergence (every replica is identical then).

use std::collections::{BTreeMap, BTreeSet};

use svea_node::actors::keys::PostingRecord;
use svea_node::domain::ledger::{Account, Entry, EntryKind, Posting, Totals};
use svea_node::domain::Ore;

/// The ledger as one replica holds it.
#[derive(Debug, Default, Clone)]
pub struct LedgerSnapshot {
    /// Every entry by id.
    pub entries: BTreeMap<String, Entry>,
    /// Every posting by its key (`lacct/<account>/<seq>`, so in account and number order).
    pub postings: BTreeMap<String, Posting>,
    /// Every payout record: id -> amount in öre, and whether it is settled.
    pub payouts: BTreeMap<String, (i64, bool)>,
}

/// The account and number of a posting key.
fn account_and_seq(key: &str) -> Option<(&str, u64)> {
    let rest = key.strip_prefix(PostingRecord::PREFIX)?;
    let (account, seq) = rest.rsplit_once('/')?;
    Some((account, seq.parse().ok()?))
}

/// Checks the snapshot.
pub fn check(l: &LedgerSnapshot) -> Vec<String> {
    let mut out = Vec::new();
    for e in l.entries.values() {
        if let Err(why) = e.check() {
            out.push(format!("ledger: {why}"));
        }
    }
    let mut last: BTreeMap<&str, (u64, Totals)> = BTreeMap::new();
    let mut posted: BTreeSet<(&str, &str)> = BTreeSet::new();
    for (key, p) in &l.postings {
        let Some((account, seq)) = account_and_seq(key) else {
            out.push(format!("ledger: unreadable posting key {key}"));
            continue;
        };
        let (expected_seq, before) = last.get(account).map_or((0, Totals::default()), |(s, t)| (s + 1, *t));
        if seq != expected_seq {
            out.push(format!("ledger: account {account} has posting {seq} where {expected_seq} was due"));
        }
        if before.after(p.kind, p.amount) != Some(p.totals) {
            out.push(format!("ledger: posting {seq} of {account} does not follow from the one before ({} {} öre)", p.kind.as_str(), p.amount.as_ore()));
        }
        if !posted.insert((account, p.entry.as_str())) {
            out.push(format!("ledger: entry {} posted twice on {account}", p.entry));
        }
        match l.entries.get(p.entry.as_str()) {
            None => out.push(format!("ledger: posting {seq} of {account} names entry {} that does not exist", p.entry)),
            Some(e) => {
                let leg = e.legs.iter().find(|g| g.account.as_key() == account);
                if leg.map(|g| g.amount) != Some(p.amount) {
                    out.push(format!("ledger: posting {seq} of {account} is not its entry {}'s leg", e.id));
                }
                let balance = p.totals.balance();
                if (account.starts_with("business:") || account.starts_with("customer:")) && balance < Ore::ZERO {
                    out.push(format!("ledger: account {account} went to {} öre at entry {}", balance.as_ore(), e.id));
                }
                if account.starts_with("customer:") {
                    let from_business = e.legs.iter().any(|g| matches!(g.account, Account::Business(_)));
                    let own_payout = matches!(e.kind, EntryKind::PayoutStarted | EntryKind::PayoutFailed);
                    if !from_business && !own_payout {
                        out.push(format!("ledger: customer account {account} got entry {} from neither a business nor its payout", e.id));
                    }
                }
            }
        }
        last.insert(account, (seq, p.totals));
    }
    out
}
