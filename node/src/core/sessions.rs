//! A customer's session, end to end: finding or opening it for a QR code and a device, and
//! running an operation on it, including the settlement with its business that the operation may
//! need first. The one place where a session and its business meet.

use crate::actors::business::{SessionOpened, Settle, Settlement};
use crate::actors::keys::{ActiveRecord, Index, QrRecord, QrRetiredRecord, QrTarget};
use crate::actors::registry::RegistryHandle;
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
        match registry.call(SessionId::random(), open).await? {
            Opened::Session(s) => {
                report_opened(registry, &s).await;
                return Ok((*s, true));
            }
            Opened::DeviceHasSession(_) => continue,
        }
    }
    Err(ActorError::Busy { what: "session opening for this device".into() })
}

/// Tells the business a session opened. Best effort: if this report is lost, settling the
/// session counts the opening.
async fn report_opened(registry: &RegistryHandle, s: &Session) {
    let report = SessionOpened { session: s.id.clone(), opened_at: s.opened_at };
    if let Err(e) = registry.call(s.business_id.clone(), report).await {
        tracing::warn!(session_id = %s.id, error = %e, "could not report session opening; settlement will");
    }
}

/// Runs `op` on session `id`. When the session first needs a settlement (see
/// `actors::session`), gets it from the business, records it, and runs `op` again.
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
        let settlement = settle_with(registry, business.clone(), settle).await?;
        // The reward reached the customer's wallet before the session records it: a crash here
        // leaves the session unsettled, and whoever touches it next delivers again (idempotent),
        // as does the payout driver from the `lout/` record.
        if settlement.decision.amount > crate::domain::Ore::ZERO {
            if let Some(device) = device {
                let entry = crate::domain::ledger::EntryId::reward(&business, &session);
                if let Err(e) = super::payouts::deliver(registry, device, entry).await {
                    tracing::warn!(session_id = %session, error = %e, "cashback not delivered to the wallet yet; the payout driver will");
                }
            }
        }
        if let Step::Settle { .. } = registry.call(id.clone(), RecordSettlement(settlement)).await? {
            // Cannot happen: recording needs nothing first. Run `op` again, which asks again.
            tracing::warn!(session_id = %id, "settlement not recorded; retrying");
        }
    }
    Err(ActorError::Busy { what: format!("session {id}") })
}

/// Asks the business to settle; idempotent on the session, so a retry gets the same answer.
async fn settle_with(registry: &RegistryHandle, business: BusinessId, settle: Settle) -> Result<Settlement, ActorError> {
    match registry.call(business, settle).await {
        Ok(s) => Ok(s),
        // The business could not be reached this time (its owner moved): the session is fine.
        Err(ActorError::Fenced { .. }) => Err(ActorError::Busy { what: "business".into() }),
        Err(e) => Err(e),
    }
}
