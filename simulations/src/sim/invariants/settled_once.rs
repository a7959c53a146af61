//! Every session is settled once: a business counts exactly as many scored settlements as its
//! sessions carry, and pays exactly what their settlements say. A settlement applied twice (a
//! retry that was not recognised as one) counts, and usually pays, again; counting catches it
//! even when the second payment is 0 because the budget ran out or the tier pays nothing.
//!
//! Only sessions the workload opened can carry feedback (feedback needs the session id), so the
//! known sessions are all that can have a scored settlement. Expiries are left out: the sweeper
//! expires sessions whose opening the workload never heard of. A business with a session that
//! could not be read at the end is skipped rather than guessed at. The final reads read the
//! sessions before the businesses: a session read with its feedback still pending settles it
//! first, so the business read afterwards includes it.

use std::collections::BTreeMap;

use svea_node::actors::business::Outcome;
use svea_node::domain::Ore;

use super::FinalReads;
use crate::sim::workload::Model;

/// What a business's sessions say it settled: scored settlements and their rewards.
#[derive(Debug, Default)]
struct Seen {
    scored: u64,
    paid: i64,
    unreadable: bool,
}

/// Checks every business whose sessions were all read.
pub fn check(model: &Model, reads: &FinalReads) -> Vec<String> {
    let mut seen: BTreeMap<usize, Seen> = BTreeMap::new();
    for (sid, known) in &model.sessions {
        let entry = seen.entry(known.business).or_default();
        match reads.sessions.get(sid) {
            Some(Ok(s)) => {
                let Some(settlement) = s.feedback.as_ref().and_then(|f| f.settlement.as_ref()) else { continue };
                if matches!(settlement.outcome, Outcome::Scored { .. }) {
                    entry.scored += 1;
                    entry.paid += settlement.decision.amount.as_ore();
                }
            }
            _ => entry.unreadable = true,
        }
    }
    let mut out = Vec::new();
    for (i, b) in reads.businesses.iter().enumerate() {
        let Ok(b) = b else { continue };
        let s = seen.remove(&i).unwrap_or_default();
        if s.unreadable {
            continue;
        }
        if b.analytics.scored != s.scored || b.paid() != Ore::from_ore(s.paid) {
            out.push(format!(
                "settled once: business b{i} counted {} scored settlements and paid {} öre, but its sessions carry {} paying {} öre",
                b.analytics.scored,
                b.paid().as_ore(),
                s.scored,
                s.paid
            ));
        }
    }
    out
}
