//! The directory actor: one per cluster-wide unique name (`directory/org:<number>`,
//! `directory/posacct:<provider>:<account>`), in Raft group 0 ([`super::groups`]) whatever the
//! home of the business that holds it.
//!
//! With a Raft group per region a business's own writes land in its home region's group, so a
//! record that must be unique in the whole cluster (an organisation number, a till account)
//! cannot be written with the business any more: two businesses in two groups would both find
//! it free. The directory holds each such name in one fixed group, written by one fenced actor,
//! with the store's insert-new rule as the last word: of two holds of one name exactly one
//! commits. A business's creation first holds its number here, then creates the business in its
//! own group (two commits for a sign-up, which is rare; a customer's flow never comes here).
//! A hold whose business never got created (a crash between the two) is an unverified
//! registration like any other: the same sign-up's retry finds it its own, and the sweeper
//! releases it after `signup.release_unverified_org_number_after_ms`.

use std::fmt;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use svea_storage::IndexMode;
use tracing::Instrument;

use super::business::OrgReleased;
use super::cell::{Persisted, Slot};
use super::keys::{Index, OrgClaim, OrgClaimRecord, OrgRecord, OrgUnverifiedRecord, PosAccountRecord, TextStamp};
use super::{ActorEnv, ActorError, ConflictKind, Op};
use crate::domain::{BusinessId, OrgNumber, PosId, Provider};

/// A name unique in the whole cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DirectoryId {
    /// An organisation number: registers once.
    Org(OrgNumber),
    /// A till system's account: one business's.
    TillAccount(Provider, PosId),
}

impl fmt::Display for DirectoryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DirectoryId::Org(org) => write!(f, "org:{org}"),
            DirectoryId::TillAccount(provider, account) => write!(f, "posacct:{}:{account}", provider.as_str()),
        }
    }
}

/// Who holds a name, as the directory actor keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holding {
    /// The business holding it; `None` after a release.
    pub holder: Option<BusinessId>,
    /// When it was last held or released, Unix milliseconds.
    pub changed_ms: i64,
}

/// Holds an organisation number for `business` (the `org/` record, insert-new, with its
/// unverified registration `orgclaim/` and `orgwait/`). The same business again is a success
/// and writes nothing; another business's number is `org-number-registered`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HoldOrg {
    /// The business registering it.
    pub business: BusinessId,
}

/// Marks `business`'s registration of the number verified (its contact address answered), so
/// the sweeper never releases it. False when the number is not `business`'s or already verified.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VerifyOrg {
    /// The business whose address answered.
    pub business: BusinessId,
}

/// Gives up `business`'s organisation number so another business may register it: by an
/// operator (`unverified_registered_before: None`), or by the sweeper for a number registered
/// before that time and never verified. `org/`, `orgclaim/` and `orgwait/` go in one fenced write.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseOrg {
    /// The business that holds it.
    pub business: BusinessId,
    /// Release only an unverified number registered at or before this time (the sweeper).
    pub unverified_registered_before: Option<DateTime<Utc>>,
}

/// Holds a till account for `business` (the `posacct/` record, insert-new): true when it is
/// `business`'s now, false when another business holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HoldTillAccount {
    /// The business connecting the till.
    pub business: BusinessId,
}

/// Lets go of a till account `business` held (it connected another account): true when released.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseTillAccount {
    /// The business that held it.
    pub business: BusinessId,
}

/// The operations a directory actor serves.
pub trait DirectoryOp: Op<Actor = DirectoryActor> {
    /// Runs the operation on the activated actor.
    #[allow(async_fn_in_trait)]
    async fn run(self, env: &ActorEnv, key: &str, id: &DirectoryId, slot: &mut Slot<Holding>) -> Result<Self::Reply, ActorError>;
}

/// One directory name's actor.
pub struct DirectoryActor {
    id: DirectoryId,
    key: String,
    env: ActorEnv,
    mailbox_len: usize,
    slot: Slot<Holding>,
}

actor_shell!(DirectoryActor, DirectoryId, Holding, "directory", name, DirectoryOp);

op!(DirectoryActor, DirectoryId: HoldOrg -> (), creates = true);
op!(DirectoryActor, DirectoryId: VerifyOrg -> bool, creates = true);
op!(DirectoryActor, DirectoryId: ReleaseOrg -> OrgReleased, creates = true);
op!(DirectoryActor, DirectoryId: HoldTillAccount -> bool, creates = true);
op!(DirectoryActor, DirectoryId: ReleaseTillAccount -> bool, creates = true);

fn org_of(id: &DirectoryId) -> Result<&OrgNumber, ActorError> {
    match id {
        DirectoryId::Org(org) => Ok(org),
        other => Err(ActorError::Internal(format!("{other} is not an organisation number"))),
    }
}

fn account_of(id: &DirectoryId) -> Result<PosAccountRecord, ActorError> {
    match id {
        DirectoryId::TillAccount(provider, account) => Ok(PosAccountRecord { provider: *provider, account: account.clone() }),
        other => Err(ActorError::Internal(format!("{other} is not a till account"))),
    }
}

fn holding(business: Option<&BusinessId>, env: &ActorEnv) -> Holding {
    Holding { holder: business.cloned(), changed_ms: env.clock.now().timestamp_millis() }
}

impl DirectoryOp for HoldOrg {
    async fn run(self, env: &ActorEnv, _key: &str, id: &DirectoryId, slot: &mut Slot<Holding>) -> Result<(), ActorError> {
        let org = org_of(id)?;
        let record = OrgRecord { org: *org };
        // Only this actor writes the number's records, so what this replica shows is current.
        match record.read(env.cluster.view())? {
            Some(holder) if holder == self.business => return Ok(()),
            Some(_) => return Err(taken(org)),
            None => {}
        }
        let now = env.clock.now();
        let claim = OrgClaim { business: self.business.clone(), registered_ms: now.timestamp_millis(), verified: false };
        let writes = vec![
            record.write(&self.business, IndexMode::InsertNew)?,
            OrgClaimRecord { org: *org }.write(&claim, IndexMode::Upsert)?,
            OrgUnverifiedRecord { at: TextStamp::at(now), org: *org }.write(&self.business, IndexMode::Upsert)?,
        ];
        match slot.commit(env, holding(Some(&self.business), env), writes, vec![]).await? {
            Persisted::Ok => {
                tracing::info!(event = "org_held", org_number = %org, business_id = %self.business, "organisation number registered");
                Ok(())
            }
            Persisted::IndexTaken { .. } => Err(taken(org)),
        }
    }
}

fn taken(org: &OrgNumber) -> ActorError {
    ActorError::conflict(ConflictKind::OrgNumberRegistered, format!("organisation number {org} is already registered"))
}

impl DirectoryOp for VerifyOrg {
    async fn run(self, env: &ActorEnv, _key: &str, id: &DirectoryId, slot: &mut Slot<Holding>) -> Result<bool, ActorError> {
        let org = org_of(id)?;
        let view = env.cluster.view();
        if (OrgRecord { org: *org }).read(view)?.as_ref() != Some(&self.business) {
            return Ok(false);
        }
        let claim_record = OrgClaimRecord { org: *org };
        let Some(claim) = claim_record.read(view)?.filter(|c| !c.verified && c.business == self.business) else { return Ok(false) };
        let at = DateTime::from_timestamp_millis(claim.registered_ms).unwrap_or_default();
        let deletes = vec![OrgUnverifiedRecord { at: TextStamp::at(at), org: *org }.key()];
        let writes = vec![claim_record.write(&OrgClaim { verified: true, ..claim }, IndexMode::Upsert)?];
        slot.commit(env, holding(Some(&self.business), env), writes, deletes).await?;
        tracing::info!(event = "org_verified", org_number = %org, business_id = %self.business, "organisation number verified");
        Ok(true)
    }
}

impl DirectoryOp for ReleaseOrg {
    async fn run(self, env: &ActorEnv, _key: &str, id: &DirectoryId, slot: &mut Slot<Holding>) -> Result<OrgReleased, ActorError> {
        let org = org_of(id)?;
        let view = env.cluster.view();
        let record = OrgRecord { org: *org };
        if record.read(view)?.as_ref() != Some(&self.business) {
            return Ok(OrgReleased::NotHeld);
        }
        let claim_record = OrgClaimRecord { org: *org };
        let claim = claim_record.read(view)?;
        if let Some(before) = self.unverified_registered_before {
            let due = claim.as_ref().is_some_and(|c| !c.verified && c.registered_ms <= before.timestamp_millis());
            if !due {
                return Ok(OrgReleased::Kept);
            }
        }
        let mut deletes = vec![record.key(), claim_record.key()];
        if let Some(c) = &claim {
            let at = DateTime::from_timestamp_millis(c.registered_ms).unwrap_or_default();
            deletes.push(OrgUnverifiedRecord { at: TextStamp::at(at), org: *org }.key());
        }
        slot.commit(env, holding(None, env), vec![], deletes).await?;
        tracing::info!(event = "org_released", org_number = %org, sweeper = self.unverified_registered_before.is_some(), "organisation number released");
        Ok(OrgReleased::Released(*org))
    }
}

impl DirectoryOp for HoldTillAccount {
    async fn run(self, env: &ActorEnv, _key: &str, id: &DirectoryId, slot: &mut Slot<Holding>) -> Result<bool, ActorError> {
        let record = account_of(id)?;
        if let Some(holder) = record.read(env.cluster.view())? {
            return Ok(holder == self.business);
        }
        match slot.commit(env, holding(Some(&self.business), env), vec![record.write(&self.business, IndexMode::InsertNew)?], vec![]).await? {
            Persisted::Ok => Ok(true),
            Persisted::IndexTaken { .. } => Ok(false),
        }
    }
}

impl DirectoryOp for ReleaseTillAccount {
    async fn run(self, env: &ActorEnv, _key: &str, id: &DirectoryId, slot: &mut Slot<Holding>) -> Result<bool, ActorError> {
        let record = account_of(id)?;
        if record.read(env.cluster.view())?.as_ref() != Some(&self.business) {
            return Ok(false);
        }
        slot.commit(env, holding(None, env), vec![], vec![record.key()]).await?;
        Ok(true)
    }
}
