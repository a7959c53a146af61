//! The simulation's payout rail: records every instruction it is sent, answers paid at once (as
//! `ledger-only` does), and remembers, per instruction id, what content it carried and how many
//! times it was sent. `invariants/payouts.rs` checks that one id always carries the same content
//! (exactly-once towards the outside rests on that) and that the ledger pays each id at most once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use svea_node::core::rail::{PayoutId, PayoutOrder, PayoutRail, RailError, RailState};

/// What one instruction id was sent with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The first content, as (amount in öre, message).
    pub content: (i64, String),
    /// Sends with that id.
    pub sends: u32,
    /// Sends whose content differed from the first.
    pub differing: u32,
}

/// Shared by the three hosts of a run (a payout may be sent again by the node that took a wallet
/// over).
#[derive(Debug, Clone, Default)]
pub struct RecordingRail {
    sent: Arc<Mutex<BTreeMap<PayoutId, Sent>>>,
}

impl RecordingRail {
    /// Everything sent so far.
    pub fn sent(&self) -> BTreeMap<PayoutId, Sent> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl PayoutRail for RecordingRail {
    fn name(&self) -> &'static str {
        "ledger-only"
    }

    fn send(&self, order: &PayoutOrder) -> Result<RailState, RailError> {
        let content = (order.amount.as_ore(), order.message.clone());
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        let e = sent.entry(order.id.clone()).or_insert_with(|| Sent { content: content.clone(), sends: 0, differing: 0 });
        e.sends += 1;
        if e.content != content {
            e.differing += 1;
        }
        Ok(RailState::Paid)
    }

    fn status(&self, _id: &PayoutId) -> Result<RailState, RailError> {
        Ok(RailState::Paid)
    }

    fn blocking(&self) -> bool {
        false
    }
}
