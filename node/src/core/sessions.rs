//! A customer's session, end to end: finding or opening it for a QR code and a device, and
//! running an operation on it, including the settlement with its business that the operation may
//! need first. The one place where a session and its business meet.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::actors::business::{SessionOpened, SessionsOpened, Settle, Settled, SESSIONS_OPENED_MAX};
use crate::actors::keys::{ActiveRecord, Index, QrRecord, QrRetiredRecord, QrTarget};
use crate::actors::registry::RegistryHandle;
use crate::actors::settles::Batches;
use crate::actors::session::{OpenSession, Opened, Place, RecordSettlement, Session, SessionOp, SessionState, Step};
use crate::actors::{ActorError, Missing};
use crate::domain::{BusinessId, DeviceHash, NetworkHash, QrToken, SessionId};
use svea_cluster::ClusterNode;

/// Rounds of "open, or find the device's open session": the device's earlier session may turn
/// out to have expired (one more round), or a concurrent open may win the race (one more).
pub const OPEN_ROUNDS_MAX: usize = 2;

/// Rounds of "run, settle with the business, record": one settlement is ever needed, a second
/// round covers a settlement that a concurrent caller recorded first.
pub const SETTLE_ROUNDS_MAX: usize = 3;

/// Where `token` leads: its business and location with their names (a read of the QR record,
/// after a read barrier when this node has not seen it).
pub async fn qr_target(cluster: &ClusterNode, token: QrToken) -> Result<QrTarget, ActorError> {
    let qr = QrRecord { token };
    let mut record = qr.read(cluster.view())?;
    if record.is_none() {
        // A local miss is not an answer: a business created a moment ago through another node is
        // acknowledged once committed, possibly before this node applied it, and its first
        // customer must not get 404. So an unknown token costs one read barrier; what keeps a
        // flood of random tokens cheap is elsewhere: malformed tokens are refused by parsing
        // (no barrier), each address has its bucket (`http::ratelimit`), and concurrent barriers
        // share one read-index round (`cluster/src/read_rounds.rs`).
        cluster.read_barrier().await?;
        record = qr.read(cluster.view())?;
    }
    match record {
        Some(target) => Ok(target),
        // A token its business retired (the location was removed) says so: 410, not 404.
        None if QrRetiredRecord { token: qr.token.clone() }.exists(cluster.view())? => {
            Err(ActorError::NotFound { what: Missing::RetiredQrToken, id: qr.token.to_string() })
        }
        None => Err(ActorError::NotFound { what: Missing::QrToken, id: qr.token.to_string() }),
    }
}

/// Opens a session for `token` and `device`, or returns the device's session at that location
/// if one is still open (`false` then: nothing was created). A new session records `network`,
/// the client network it was opened from (the per-network reward limit).
pub async fn find_or_open(
    cluster: &ClusterNode,
    registry: &RegistryHandle,
    reports: &OpenReports,
    token: QrToken,
    device: DeviceHash,
    network: Option<NetworkHash>,
) -> Result<(Session, bool), ActorError> {
    let target = qr_target(cluster, token).await?;
    let (business_id, location_id) = (target.business, target.location);
    let place = Place { business_name: target.business_name, location_name: target.location_name };
    let active = ActiveRecord { location: location_id.clone(), device: device.clone() };
    for _ in 0..OPEN_ROUNDS_MAX {
        if let Some(existing) = active.read(cluster.view())? {
            let s = run(registry, existing, crate::actors::session::GetSession).await?;
            if matches!(s.state, SessionState::Opened | SessionState::PurchaseConfirmed) {
                return Ok((s, false));
            }
            continue;
        }
        let open = OpenSession {
            business_id: business_id.clone(),
            location_id: location_id.clone(),
            place: place.clone(),
            device: device.clone(),
            network: network.clone(),
        };
        // In its business's Raft group: the session takes the business's home digit.
        match registry.call(SessionId::random().homed(business_id.home()), open).await? {
            Opened::Session(s) => {
                reports.report(registry, &s);
                return Ok((*s, true));
            }
            Opened::DeviceHasSession(_) => continue,
        }
    }
    Err(ActorError::Busy { what: "session opening for this device".into() })
}

/// Opening reports waiting for their businesses, on one node. A report tells the business a
/// session opened, off the customer's path: the opening is one commit (issue 22), the report a
/// business write the customer does not wait for. One business's reports are sent by one task at
/// a time as one [`SessionsOpened`] (one commit for all the reports that arrived while the last
/// was written), so a busy business gets a few writes a second instead of one per customer.
/// Best effort: a report lost (or dropped: at most [`OPEN_REPORTS_QUEUED_MAX`] wait) is counted
/// by the settlement, in the command that settles the session.
#[derive(Clone)]
pub struct OpenReports(Arc<Mutex<Batches<BusinessId, SessionOpened>>>);

impl Default for OpenReports {
    fn default() -> Self {
        OpenReports(Arc::new(Mutex::new(Batches::new(OPEN_REPORTS_QUEUED_MAX))))
    }
}

impl OpenReports {
    /// Queues the report of `s` for its business, and starts the business's sender if it has none.
    fn report(&self, registry: &RegistryHandle, s: &Session) {
        let report = SessionOpened { session: s.id.clone(), opened_at: s.opened_at };
        let queued = self.0.lock().unwrap_or_else(PoisonError::into_inner).push(&s.business_id, report);
        match queued {
            Ok(true) => drop(tokio::task::spawn_local(self.clone().send(registry.clone(), s.business_id.clone()))),
            Ok(false) => {}
            Err(_) => tracing::debug!(session_id = %s.id, "too many opening reports queued; the settlement counts this one"),
        }
    }

    /// Sends `business`'s queued reports, a batch at a time, until none is left.
    async fn send(self, registry: RegistryHandle, business: BusinessId) {
        loop {
            let Some(batch) = self.0.lock().unwrap_or_else(PoisonError::into_inner).take(&business, SESSIONS_OPENED_MAX) else { return };
            let n = batch.len();
            match registry.call(business.clone(), SessionsOpened { sessions: batch }).await {
                Ok(()) => {}
                // Under load the business may be busy: the settlements count these.
                Err(e @ ActorError::Busy { .. }) => tracing::debug!(business_id = %business, sessions = n, error = %e, "opening reports not written; settlements will count them"),
                Err(e) => tracing::warn!(business_id = %business, sessions = n, error = %e, "could not report sessions opening; settlements will"),
            }
        }
    }
}

/// Hands a reward to the customer's wallet off the customer's path (at most
/// [`DELIVERIES_IN_FLIGHT_MAX`] at once). The settlement wrote the transfer's `lout/` record in
/// its command, so a delivery that is lost or not sent here is made by the payout driver: the
/// reward reaches the wallet exactly once either way (`Receive` is idempotent on the entry).
fn deliver_later(registry: &RegistryHandle, business: &BusinessId, session: &SessionId, device: DeviceHash) {
    let Some(permit) = InFlight::take(&DELIVERIES_IN_FLIGHT, DELIVERIES_IN_FLIGHT_MAX) else {
        tracing::debug!(session_id = %session, "too many deliveries in flight; the payout driver delivers this one");
        return;
    };
    let entry = crate::domain::ledger::EntryId::reward(business, session);
    let (registry, session) = (registry.clone(), session.clone());
    tokio::task::spawn_local(async move {
        let _permit = permit;
        if let Err(e) = super::payouts::deliver(&registry, device, entry).await {
            tracing::warn!(session_id = %session, error = %e, "cashback not delivered to the wallet yet; the payout driver will");
        }
    });
}

/// Opening reports waiting on one node, at most (past it the settlement counts the opening).
pub const OPEN_REPORTS_QUEUED_MAX: usize = 4096;
/// Wallet deliveries in flight at once, at most (past it the payout driver delivers).
pub const DELIVERIES_IN_FLIGHT_MAX: usize = 1024;

static DELIVERIES_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// One place in a bounded count of background tasks, given back when dropped. The counts are
/// process-wide (a bound on this process's background writes, whichever node or simulated host
/// starts them); what a full count skips is done by the settlement or the payout driver.
struct InFlight(&'static AtomicUsize);

impl InFlight {
    fn take(count: &'static AtomicUsize, max: usize) -> Option<InFlight> {
        count.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1)).ok().map(|_| InFlight(count))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs `op` on session `id`. When the session first needs a settlement (see
/// `actors::session`), gets it from the business (which writes the session's settled state in
/// the same command), hands the outcome back to the session, and runs `op` again.
pub async fn run<O>(registry: &RegistryHandle, id: SessionId, op: O) -> Result<Session, ActorError>
where
    O: SessionOp<Reply = Step>,
{
    for _ in 0..SETTLE_ROUNDS_MAX {
        let (business, settle) = match registry.call(id.clone(), op.clone()).await? {
            Step::Done(s) => return Ok(*s),
            Step::Settle { business, settle } => (business, settle),
        };
        let device = settle.device.clone();
        let session = settle.session.clone();
        let settled = settle_with(registry, business.clone(), settle).await?;
        let (settlement, written) = match settled {
            Settled::Done { settlement, written } => (Some(settlement), written),
            Settled::SessionMoved => (None, None),
        };
        // Only a settlement this call wrote hands its reward on: a retry's was handed on by
        // the call that wrote it (or by the payout driver).
        if let (Some(st), Some(_), Some(device)) = (settlement, &written, device) {
            if st.decision.amount > crate::domain::Ore::ZERO {
                deliver_later(registry, &business, &session, device);
            }
        }
        if let Step::Settle { .. } = registry.call(id.clone(), RecordSettlement { settlement, written }).await? {
            // Cannot happen: recording needs nothing first. Run `op` again, which asks again.
            tracing::warn!(session_id = %id, "settlement not recorded; retrying");
        }
    }
    Err(ActorError::Busy { what: format!("session {id}") })
}

/// Asks the business to settle; idempotent on the session, so a retry gets the same answer.
async fn settle_with(registry: &RegistryHandle, business: BusinessId, settle: Settle) -> Result<Settled, ActorError> {
    match registry.settle(business, settle).await {
        Ok(s) => Ok(s),
        // The business could not be reached this time (its owner moved): the session is fine.
        Err(ActorError::Fenced { .. }) => Err(ActorError::Busy { what: "business".into() }),
        Err(e) => Err(e),
    }
}
