//! Bugs planted on purpose, so the simulations can show that their checkers catch them.
//!
//! Compiled in only with the `planted-bugs` feature (which only the simulations turn on), and even
//! then off until a simulation switches one on for its own thread (every simulated host of a run
//! shares the thread, concurrent test runs do not). Without the feature every switch is a constant
//! `false` and the optimiser removes the bug.

/// A bug that can be planted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bug {
    /// The flusher reports writes durable before its flush (the flush still follows).
    AckBeforeFlush,
    /// The state machine accepts a write from an owner whose epoch is no longer current.
    AcceptStaleEpoch,
    /// A business settles a session without its `bsettle` idempotency record, so a retried
    /// settlement pays again (the switch lives here; the node's business actor reads it).
    SettleWithoutRecord,
    /// The state machine applies a batch's commands last to first (and hands out their results
    /// in that order).
    ApplyBatchOutOfOrder,
    /// A payout's settlement is recorded again when it is reported again (a retried callback),
    /// under a new entry id: the payout is paid twice in the ledger (the switch lives here; the
    /// node's wallet actor and payout driver read it).
    PayoutSettledTwice,
    /// The state machine writes an entry's applied log id in a batch of its own, before the batch
    /// with the entry's data: a crash that keeps the first and not the second leaves a replica
    /// that believes it applied data it does not have (only a disk that keeps a prefix of the
    /// unflushed writes, as sled's log can, shows it).
    AppliedIndexFirst,
    /// A write is proposed in the Raft group after the one its keys belong to (the cluster's
    /// routing reads the switch): the command is applied in the wrong group.
    WrongGroup,
}

impl Bug {
    /// Every bug that can be planted.
    pub const ALL: [Bug; 7] = [
        Bug::AckBeforeFlush,
        Bug::AcceptStaleEpoch,
        Bug::SettleWithoutRecord,
        Bug::ApplyBatchOutOfOrder,
        Bug::PayoutSettledTwice,
        Bug::AppliedIndexFirst,
        Bug::WrongGroup,
    ];
}

#[cfg(feature = "planted-bugs")]
mod switch {
    use std::cell::Cell;

    use super::Bug;

    thread_local! {
        static ACK_BEFORE_FLUSH: Cell<bool> = const { Cell::new(false) };
        static ACCEPT_STALE_EPOCH: Cell<bool> = const { Cell::new(false) };
        static SETTLE_WITHOUT_RECORD: Cell<bool> = const { Cell::new(false) };
        static APPLY_BATCH_OUT_OF_ORDER: Cell<bool> = const { Cell::new(false) };
        static PAYOUT_SETTLED_TWICE: Cell<bool> = const { Cell::new(false) };
        static APPLIED_INDEX_FIRST: Cell<bool> = const { Cell::new(false) };
        static WRONG_GROUP: Cell<bool> = const { Cell::new(false) };
    }

    fn cell(bug: Bug) -> &'static std::thread::LocalKey<Cell<bool>> {
        match bug {
            Bug::AckBeforeFlush => &ACK_BEFORE_FLUSH,
            Bug::AcceptStaleEpoch => &ACCEPT_STALE_EPOCH,
            Bug::SettleWithoutRecord => &SETTLE_WITHOUT_RECORD,
            Bug::ApplyBatchOutOfOrder => &APPLY_BATCH_OUT_OF_ORDER,
            Bug::PayoutSettledTwice => &PAYOUT_SETTLED_TWICE,
            Bug::AppliedIndexFirst => &APPLIED_INDEX_FIRST,
            Bug::WrongGroup => &WRONG_GROUP,
        }
    }

    /// Switches `bug` on or off for the current thread.
    pub fn set(bug: Bug, on: bool) {
        cell(bug).with(|c| c.set(on));
    }

    pub(crate) fn is_on(bug: Bug) -> bool {
        cell(bug).with(|c| c.get())
    }
}

#[cfg(feature = "planted-bugs")]
pub use switch::set;

#[cfg(feature = "planted-bugs")]
fn is_on(bug: Bug) -> bool {
    switch::is_on(bug)
}

#[cfg(not(feature = "planted-bugs"))]
fn is_on(_bug: Bug) -> bool {
    false
}

pub(crate) fn ack_before_flush() -> bool {
    is_on(Bug::AckBeforeFlush)
}

pub(crate) fn accept_stale_epoch() -> bool {
    is_on(Bug::AcceptStaleEpoch)
}

/// Whether a business settlement should skip its idempotency record ([`Bug::SettleWithoutRecord`]).
/// Public because the settlement is node code; a constant `false` without the feature.
pub fn settle_without_record() -> bool {
    is_on(Bug::SettleWithoutRecord)
}

/// Whether apply should run a batch's commands last to first ([`Bug::ApplyBatchOutOfOrder`]).
pub(crate) fn apply_batch_out_of_order() -> bool {
    is_on(Bug::ApplyBatchOutOfOrder)
}

/// Whether a payout's settlement is recorded again when reported again ([`Bug::PayoutSettledTwice`]).
/// Public because the wallet is node code; a constant `false` without the feature.
pub fn payout_settled_twice() -> bool {
    is_on(Bug::PayoutSettledTwice)
}

/// Whether apply should write the applied log id in its own batch before the data ([`Bug::AppliedIndexFirst`]).
pub(crate) fn applied_index_first() -> bool {
    is_on(Bug::AppliedIndexFirst)
}

/// Whether a write should go to the group after its own ([`Bug::WrongGroup`]). Public because the
/// routing is the cluster's; a constant `false` without the feature.
pub fn wrong_group() -> bool {
    is_on(Bug::WrongGroup)
}
