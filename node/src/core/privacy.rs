//! A customer's own data, found by the device id their phone generated: [`export`] lists the
//! device's sessions, [`erase`] removes their feedback texts and device links on every replica
//! (each through its session actor, so through Raft). Both find the sessions through the device's
//! `dev/<hash>/` records and do a bounded amount of work per request: a page of at most
//! [`PRIVACY_SESSIONS_PER_REQUEST_MAX`] sessions.

use svea_cluster::ClusterNode;

use super::sessions;
use crate::actors::keys::{DeviceSessionRecord, Index};
use crate::actors::registry::RegistryHandle;
use crate::actors::session::{Erase, GetSession, Session};
use crate::actors::ActorError;
use crate::domain::{DeviceHash, SessionId};

/// Sessions one export or erasure request handles, at most: each costs a few actor calls (and an
/// erasure a Raft write), so one request stays within its timeout; a customer with more pages on.
pub const PRIVACY_SESSIONS_PER_REQUEST_MAX: usize = 50;

/// One page of a device's sessions.
#[derive(Debug, Clone)]
pub struct ExportPage {
    /// The sessions as they are now (with the names the customer saw), in the order of their ids.
    pub sessions: Vec<Session>,
    /// Where the next page starts (`after`), if there may be one.
    pub next_after: Option<SessionId>,
}

/// What one erasure request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Erasure {
    /// Sessions erased.
    pub sessions: usize,
    /// Whether the device may have more sessions: ask again.
    pub more: bool,
    /// Whether a payee was erased (the wallet's payee, sealed).
    pub payee_erased: bool,
}

/// The device's sessions after `after` (from the first when `None`), at most
/// [`PRIVACY_SESSIONS_PER_REQUEST_MAX`] of them.
pub async fn export(cluster: &ClusterNode, registry: &RegistryHandle, device: DeviceHash, after: Option<SessionId>) -> Result<ExportPage, ActorError> {
    let links = links(cluster, &device, after).await?;
    let full = links.len() == PRIVACY_SESSIONS_PER_REQUEST_MAX;
    let mut out = Vec::with_capacity(links.len());
    for id in &links {
        let session = sessions::run(registry, id.clone(), GetSession).await?;
        if session.device.as_ref() == Some(&device) {
            out.push(session); // (a stale link never shows another device's session)
        }
    }
    Ok(ExportPage { sessions: out, next_after: if full { links.last().cloned() } else { None } })
}

/// Erases up to [`PRIVACY_SESSIONS_PER_REQUEST_MAX`] of the device's sessions (their links are
/// deleted with them, so the next request continues where this one stopped).
pub async fn erase(cluster: &ClusterNode, registry: &RegistryHandle, device: DeviceHash) -> Result<Erasure, ActorError> {
    let links = links(cluster, &device, None).await?;
    for id in &links {
        sessions::run(registry, id.clone(), Erase(device.clone())).await?;
    }
    // The payee (their Swish number) goes with the rest of their data. The wallet's ledger
    // account stays: it is bookkeeping, keyed by the device's hash only, and holds money owed.
    let payee_erased = match registry.call(device, crate::actors::wallet::ErasePayee).await {
        Ok(had) => had,
        Err(ActorError::NotFound { .. }) => false,
        Err(e) => return Err(e),
    };
    Ok(Erasure { sessions: links.len(), more: links.len() == PRIVACY_SESSIONS_PER_REQUEST_MAX, payee_erased })
}

/// The device's session links after `after`, read after a read barrier (so every session opened
/// before the request is seen).
async fn links(cluster: &ClusterNode, device: &DeviceHash, after: Option<SessionId>) -> Result<Vec<SessionId>, ActorError> {
    cluster.read_barrier().await?;
    let after = after.map(|session| DeviceSessionRecord { device: device.clone(), session }.key());
    let records = cluster.view().scan_index_after(&DeviceSessionRecord::prefix_of(device), after.as_deref(), PRIVACY_SESSIONS_PER_REQUEST_MAX)?;
    Ok(records.iter().filter_map(|(key, _)| DeviceSessionRecord::parse_key(key)).map(|r| r.session).collect())
}
