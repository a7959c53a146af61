//! A payout instruction is sent at most once per id, whatever fails: every send of one id
//! carries the same content (the rail treats a repeated id as the same payout), and the ledger
//! pays each payout at most once: the legs on its `payout:<id>` account sum to its amount while
//! it is in flight and to zero once settled, with at most one settlement entry.

use std::collections::BTreeMap;

use svea_node::domain::ledger::{Account, EntryKind};

use super::ledger::LedgerSnapshot;
use crate::sim::rail::Sent;

/// Checks the rail's record and the ledger.
pub fn check(sent: &BTreeMap<svea_node::core::rail::PayoutId, Sent>, l: &LedgerSnapshot) -> Vec<String> {
    let mut out = Vec::new();
    for (id, s) in sent {
        if s.differing > 0 {
            out.push(format!("payouts: instruction {id} was sent {} times, {} of them with other content", s.sends, s.differing));
        }
    }
    let mut sums: BTreeMap<String, (i64, u32)> = BTreeMap::new();
    for e in l.entries.values() {
        for leg in &e.legs {
            if let Account::Payout(id) = &leg.account {
                let s = sums.entry(id.to_string()).or_default();
                s.0 += leg.amount.as_ore();
                if matches!(e.kind, EntryKind::PayoutPaid | EntryKind::PayoutFailed) {
                    s.1 += 1;
                }
            }
        }
    }
    for (id, (amount, settled)) in &l.payouts {
        let (sum, settlements) = sums.get(id).copied().unwrap_or_default();
        let due = if *settled { 0 } else { *amount };
        if sum != due || settlements > 1 {
            out.push(format!("payouts: payout {id} of {amount} öre has {settlements} settlements and {sum} öre left on its account (due {due})"));
        }
    }
    for id in sums.keys() {
        if !l.payouts.contains_key(id) {
            out.push(format!("payouts: ledger entries name payout {id}, which has no record"));
        }
    }
    out
}
