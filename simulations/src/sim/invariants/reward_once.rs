//! No reward paid twice: a business's `paid` is exactly the sum of the rewards recorded in its
//! sessions' settlements, and its count of rewarded sessions matches. A settlement applied twice
//! (a retry that paid again) makes `paid` larger than the sum.
//!
//! Only sessions the workload opened can carry feedback (feedback needs the session id), so the
//! known sessions are all the sessions that can have been paid for.

use std::collections::BTreeMap;

use svea_node::domain::Ore;

use super::FinalReads;
use crate::sim::workload::{settled_amount, Model};

/// Checks every business.
pub fn check(model: &Model, reads: &FinalReads) -> Vec<String> {
    let mut sums: BTreeMap<usize, i64> = BTreeMap::new();
    for (sid, known) in &model.sessions {
        if let Some(Ok(s)) = reads.sessions.get(sid) {
            *sums.entry(known.business).or_default() += settled_amount(s).as_ore();
        }
    }
    let unreadable = reads.sessions.values().filter(|r| r.is_err()).count();
    let mut out = Vec::new();
    for (i, b) in reads.businesses.iter().enumerate() {
        let Ok(b) = b else { continue };
        let sum = sums.get(&i).copied().unwrap_or(0);
        if unreadable == 0 && b.paid() != Ore::from_ore(sum) {
            out.push(format!(
                "reward once: business b{i} paid {} öre but its sessions' settlements sum to {sum} öre",
                b.paid().as_ore()
            ));
        }
    }
    out
}
