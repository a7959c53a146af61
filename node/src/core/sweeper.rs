//! The sweeper: sessions that nobody touches again would never be counted as expired, so every
//! `expiry_sweep` the node expires the sessions it is responsible for whose time is up; and it
//! redacts the feedback texts of those sessions given more than `retention.feedback_days` ago;
//! and it purges the fingerprints in every business's record of the last day once their day has
//! passed.
//! Both go through the session actors, so through Raft, and each session is swept by one node
//! (its owner, or one survivor for a lost owner), not by all of them. It also releases the
//! organisation numbers nobody verified within `signup.release_unverified_org_number_after_ms`,
//! through their business actors.

use std::sync::Arc;
use std::time::Duration;

use svea_storage::RaftNodeId;

use super::NodeHandle;
use super::sessions;
use crate::actors::business::{OrgReleased, DAY_FINGERPRINTS_HOURS};
use crate::actors::directory::{DirectoryId, ReleaseOrg};
use crate::actors::keys::{DayFingerprintRecord, FeedbackTextRecord, Index, OpenRecord, OrgUnverifiedRecord};
use crate::actors::session::{ForgetDayFingerprint, RedactOldText};
use crate::actors::{placement, ActorKey, Clock};
use crate::domain::SessionId;

/// How many open sessions one sweep looks at, at most.
pub const SWEEP_BATCH_MAX: usize = 1000;

/// How many unverified organisation numbers one sweep looks at, at most (oldest first; the
/// records are in registration order, so a sweep stops at the first one still within its hold).
pub const ORG_RELEASE_SWEEP_BATCH_MAX: usize = 100;

/// How many feedback texts one sweep looks at, at most (oldest first; the records are in time
/// order, so a sweep stops at the first one still within its retention).
pub const RETENTION_SWEEP_BATCH_MAX: usize = 200;

/// How many of the last day's fingerprints one sweep looks at, at most (oldest first, like the
/// texts: a sweep stops at the first one still within its day).
pub const DAY_FINGERPRINT_SWEEP_BATCH_MAX: usize = 200;

/// Whether this node expires a session owned by `owner`: its own; or, when the owner is lost
/// (unreachable or no longer a member) or unknown, if this node has the lowest id of the nodes
/// that may take actors (so one survivor, not all of them, takes such sessions over).
pub(super) fn sweeps_for(node: &NodeHandle, owner: Option<RaftNodeId>) -> bool {
    let cluster = &node.cluster;
    let me = cluster.id();
    match owner {
        Some(o) if o == me => !placement::is_draining(cluster, me),
        Some(o) if !placement::owner_lost(cluster, o) => false,
        _ => {
            let candidates = placement::candidates(cluster, &node.config.regions, node.config.node.region.as_str(), None);
            candidates.iter().min() == Some(&me)
        }
    }
}

/// Whether this node sweeps session `id` (see [`sweeps_for`]).
fn sweeps_session(node: &NodeHandle, id: &SessionId) -> bool {
    let owner = node.cluster.view().owner(&ActorKey::Session(id.clone()).stored()).ok().flatten();
    sweeps_for(node, owner.map(|o| o.node))
}

/// Up to `limit` records under `prefix` in the local state; a failed read is logged and skipped
/// (the next sweep tries again).
fn scan(node: &NodeHandle, prefix: &str, limit: usize) -> Option<Vec<(String, Vec<u8>)>> {
    match node.cluster.view().scan_index(prefix, limit) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(error = %e, prefix, "sweep could not scan its records");
            None
        }
    }
}

/// Runs the sweeper until its task is aborted (at shutdown).
pub async fn run(node: NodeHandle, clock: Arc<dyn Clock>, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        expire(&node, clock.as_ref()).await;
        redact_old_texts(&node, clock.as_ref()).await;
        release_unverified_org_numbers(&node, clock.as_ref()).await;
        purge_day_fingerprints(&node, clock.as_ref()).await;
    }
}

/// Expires the open sessions past their deadline that this node sweeps.
async fn expire(node: &NodeHandle, clock: &dyn Clock) {
    let now_ms = clock.now().timestamp_millis();
    let Some(open) = scan(node, OpenRecord::PREFIX, SWEEP_BATCH_MAX) else { return };
    for (key, value) in open {
        let Some(sid) = OpenRecord::parse_key(&key) else { continue };
        let Ok(expires_ms) = (OpenRecord { session: sid.clone() }).decode(&value) else { continue };
        if expires_ms > now_ms || !sweeps_session(node, &sid) {
            continue;
        }
        if let Err(e) = node.expire_session(sid.clone()).await {
            tracing::warn!(session_id = %sid, error = %e, "expiry sweep could not expire session");
        }
    }
}

/// Redacts the feedback texts given more than `retention.feedback_days` ago of the sessions this
/// node sweeps, oldest first.
async fn redact_old_texts(node: &NodeHandle, clock: &dyn Clock) {
    let Ok(retention) = chrono::Duration::from_std(node.config.retention.feedback) else {
        return; // validated to at most a century, so always in range
    };
    let given_before = clock.now() - retention;
    let Some(texts) = scan(node, FeedbackTextRecord::PREFIX, RETENTION_SWEEP_BATCH_MAX) else { return };
    for (key, _) in texts {
        let Some(text) = FeedbackTextRecord::parse_key(&key) else { continue };
        if text.at.millis() > given_before.timestamp_millis() {
            break; // in time order: every later text is younger
        }
        if !sweeps_session(node, &text.session) {
            continue;
        }
        if let Err(e) = sessions::run(&node.registry, text.session.clone(), RedactOldText { given_before }).await {
            tracing::warn!(session_id = %text.session, error = %e, "retention sweep could not redact feedback text");
        }
    }
}

/// Releases the organisation numbers registered more than `signup.release_unverified_org_number_after_ms`
/// ago and never verified, of the businesses this node sweeps, oldest first (issue 20: whoever
/// registers a company's number first must not keep the real company out for good). Each goes
/// through its business actor, so through Raft; a number verified or released meanwhile is kept
/// or skipped by the actor.
async fn release_unverified_org_numbers(node: &NodeHandle, clock: &dyn Clock) {
    let Ok(hold) = chrono::Duration::from_std(node.config.signup.release_unverified_org_number_after) else {
        return; // validated to at most a year, so always in range
    };
    let registered_before = clock.now() - hold;
    let Some(waiting) = scan(node, OrgUnverifiedRecord::PREFIX, ORG_RELEASE_SWEEP_BATCH_MAX) else { return };
    for (key, value) in waiting {
        let Some(record) = OrgUnverifiedRecord::parse_key(&key) else { continue };
        if record.at.millis() > registered_before.timestamp_millis() {
            break; // in registration order: every later number is younger
        }
        let Ok(business) = record.decode(&value) else { continue };
        let name = DirectoryId::Org(record.org);
        let owner = node.cluster.view().owner(&ActorKey::Directory(name.clone()).stored()).ok().flatten();
        if !sweeps_for(node, owner.map(|o| o.node)) {
            continue;
        }
        let release = ReleaseOrg { business: business.clone(), unverified_registered_before: Some(registered_before) };
        match node.registry.call(name, release).await {
            Ok(OrgReleased::Released(org)) => {
                tracing::info!(event = "org_released", org_number = %org, business_id = %business, by = "sweeper", "unverified organisation number released");
            }
            Ok(OrgReleased::NotHeld | OrgReleased::Kept) => {}
            Err(e) => tracing::warn!(business_id = %business, error = %e, "org sweep could not release an unverified organisation number"),
        }
    }
}

/// Deletes the fingerprints of every business's last day that are older than a day, through
/// their sessions (a fenced write each), for the sessions this node sweeps, oldest first.
async fn purge_day_fingerprints(node: &NodeHandle, clock: &dyn Clock) {
    let before_ms = (clock.now() - chrono::Duration::hours(DAY_FINGERPRINTS_HOURS)).timestamp_millis();
    let Some(records) = scan(node, DayFingerprintRecord::PREFIX, DAY_FINGERPRINT_SWEEP_BATCH_MAX) else { return };
    for (key, _) in records {
        let Some(record) = DayFingerprintRecord::parse_key(&key) else { continue };
        if record.at.millis() > before_ms {
            break; // in time order: every later one is younger
        }
        if !sweeps_session(node, &record.session) {
            continue;
        }
        if let Err(e) = sessions::run(&node.registry, record.session.clone(), ForgetDayFingerprint).await {
            tracing::warn!(session_id = %record.session, error = %e, "sweep could not purge a day-old fingerprint");
        }
    }
}
