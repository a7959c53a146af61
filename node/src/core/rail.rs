//! Payout rails: how money owed to a customer leaves svea. One interface, two rails, chosen in
//! config (`payouts.rail`): Swish's Payout API (`core/swish.rs`, the real one) and `ledger-only`
//! (`svea demo` and the simulation: the payout is recorded and shown as "demo", nothing is sent).
//!
//! The ledger decides what to pay and records every state; a rail only carries one instruction
//! to the outside and reports what the outside says about it. Rails are blocking (ureq), so the
//! payout driver calls them on tokio's blocking pool under a timeout, outside any actor's slot.
//!
//! Exactly-once towards the outside rests on the instruction id: the ledger writes a payout with
//! its id before the first send, and every retry sends the same id with the same content. Swish
//! treats a second `PUT /api/v1/payouts/{instructionUUID}` with the same id as the same payout
//! (Swish Payout API, "Create payout": the instruction UUID identifies the payout).

use crate::domain::money::Ore;
use crate::domain::payee::Payee;

pub use crate::domain::ledger::{PayoutId, PAYOUT_ID_LEN};

/// One instruction to pay a customer. The same id always carries the same content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutOrder {
    /// The instruction id (idempotency towards the rail).
    pub id: PayoutId,
    /// Amount, whole öre, positive.
    pub amount: Ore,
    /// Who is paid (decrypted only for the call).
    pub payee: Payee,
    /// The customer-visible message (Swish: at most 50 characters).
    pub message: String,
    /// When the ledger started the payout, Unix milliseconds: Swish's `instructionDate`, the
    /// same on every retry of the id.
    pub instructed_ms: i64,
}

/// What the rail says about an instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RailState {
    /// Accepted, not yet settled: wait for the callback or ask again later.
    InFlight,
    /// Paid to the payee.
    Paid,
    /// Refused or failed for good: the money goes back to the customer's balance.
    Failed {
        /// The rail's error code (Swish's `errorCode`), or a rail-made one.
        code: String,
        /// Why, in words a customer can be shown.
        reason: String,
    },
}

/// Why a call to the rail gave no answer about the instruction. Every variant is retried later
/// with the same id (bounded by `payouts.attempts_max`); none of them means "failed".
#[derive(Debug, Clone, thiserror::Error)]
pub enum RailError {
    /// Unreachable, reset, TLS failure.
    #[error("payout rail unreachable: {0}")]
    Connect(String),
    /// No answer within the timeout.
    #[error("payout rail gave no answer in time")]
    Timeout,
    /// An answer the rail's documentation does not describe (5xx, unparsable body).
    #[error("payout rail answered unexpectedly: {0}")]
    Unexpected(String),
}

/// A way to pay customers.
pub trait PayoutRail: Send + Sync {
    /// `swish` or `ledger-only`: shown with every payout.
    fn name(&self) -> &'static str;

    /// Send (or send again: same id, same content) an instruction.
    fn send(&self, order: &PayoutOrder) -> Result<RailState, RailError>;

    /// Ask what became of an instruction sent before.
    fn status(&self, id: &PayoutId) -> Result<RailState, RailError>;

    /// Whether its calls block (network I/O): the driver then runs them on tokio's blocking
    /// pool. A rail that answers from memory (ledger-only, the simulation's) runs inline, which
    /// keeps the simulation on its one seeded thread.
    fn blocking(&self) -> bool {
        true
    }
}

/// The `ledger-only` rail: nothing leaves svea; every payout is paid at once and shown as demo.
#[derive(Debug, Default, Clone, Copy)]
pub struct LedgerOnly;

impl PayoutRail for LedgerOnly {
    fn name(&self) -> &'static str {
        "ledger-only"
    }

    fn send(&self, _order: &PayoutOrder) -> Result<RailState, RailError> {
        Ok(RailState::Paid)
    }

    fn status(&self, _id: &PayoutId) -> Result<RailState, RailError> {
        Ok(RailState::Paid)
    }

    fn blocking(&self) -> bool {
        false
    }
}
