//! The run's invariants, one file each. Each checker takes what the run recorded and returns the
//! violations it found, as one line each; an empty list means the invariant held.

pub mod acked_writes;
pub mod answers;
pub mod budget;
pub mod convergence;
pub mod durable_promises;
pub mod flow_commits;
pub mod groups;
pub mod ledger;
pub mod one_leader;
pub mod payouts;
pub mod reward_once;
pub mod settled_once;
pub mod single_owner;

use std::collections::BTreeMap;

use svea_node::actors::business::Business;
use svea_node::actors::session::Session;
use svea_node::domain::SessionId;

/// What a final read after healing returned for every business and session the workload knows.
#[derive(Debug, Default)]
pub struct FinalReads {
    /// Per known business (same order as the model), the business or why it could not be read.
    pub businesses: Vec<Result<Business, String>>,
    /// Per known session, the session or why it could not be read.
    pub sessions: BTreeMap<SessionId, Result<Session, String>>,
    /// The ledger as one replica holds it after the final convergence.
    pub ledger: ledger::LedgerSnapshot,
}
