//! The node core: storage, Raft, the actor registry and the expiry sweeper on one tokio
//! current-thread runtime with a `LocalSet` (no actix `System`), and the `Send + Sync`
//! [`NodeHandle`] through which the HTTP layer (or a test, or a simulation) uses it, as typed
//! operations.
//!
//! Rooms: [`start`] opens and wires everything and stops it again; [`sessions`] is a customer's
//! session end to end; [`remote`] receives actor calls from other nodes (the calls themselves
//! are the actors', `actors::remote`); [`collectors`] is what `/metrics` reads at each scrape;
//! [`sweeper`] expires
//! abandoned sessions and redacts feedback texts past their retention; [`privacy`] is a customer's
//! export and erasure; [`operator`] is what the operator API does to the cluster (with
//! [`crate::window`], where customers were routed lately, for the console); [`scoring`]
//! scores feedback before its session stores it, asking the model through [`ollama`] when
//! configured; [`feedback`] pages through a business's feedback list; [`review`] the rewards a
//! business's hourly brake held, and its release or refusal of each.

pub mod collectors;
pub mod feedback;
pub mod funding;
pub mod mail;
pub mod operator;
pub mod payouts;
pub mod rail;
pub mod pos;
pub mod ollama;
pub mod privacy;
pub mod remote;
pub mod review;
pub mod scoring;
pub mod sessions;
pub mod signin;
pub mod swish;
pub mod statement;
pub mod stripe;
mod start;
mod sweeper;

use crate::actors::directory::{DirectoryId, HoldOrg, HoldTillAccount, ReleaseTillAccount};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use svea_cluster::{ClusterNode, ClusterStatus};
use svea_config::{Config, Region};

use crate::actors::business::{Business, GetBusiness, Location, NewBusiness, RegisterPos, RotateKey, SetVerification};
use crate::actors::registry::RegistryHandle;
use crate::actors::session::{ConfirmPurchase, Expire, FeedbackText, GetSession, GiveFeedback, Purchase, Session, SessionState};
use crate::actors::{ActorError, ConflictKind};
use crate::domain::signup::{SignupSeed, SIGNUP_IDEMPOTENCY_WINDOW_S};
use crate::domain::pos::{Delivery, PosError, PosIntegration, PurchaseVerification};
use crate::domain::{ApiKey, BusinessId, CreateBusiness, DeviceId, DeviceKey, LocationId, Ore, QrToken, SessionId, TransactionId};

pub use crate::domain::NewLocation;
pub use start::{group_count, record_cert_expiry, record_store_groups, start, start_with, Core, Parts, RunningNode};

/// An operation on a session, as the simulations and benchmarks drive it (HTTP calls the typed
/// methods of [`NodeHandle`] directly).
#[derive(Debug, Clone)]
pub enum SessionMsg {
    /// Confirm the purchase.
    ConfirmPurchase {
        /// Amount.
        amount: Ore,
        /// Purchase time.
        purchased_at: DateTime<Utc>,
        /// Transaction id.
        transaction_id: TransactionId,
    },
    /// Submit feedback.
    Feedback {
        /// The text.
        text: String,
    },
    /// Read the session.
    Get,
    /// Expire it if its time is up.
    Expire,
}

/// `Send + Sync` handle to a running node core.
#[derive(Clone)]
pub struct NodeHandle {
    registry: RegistryHandle,
    cluster: ClusterNode,
    config: Arc<Config>,
    geo: Option<Arc<svea_geo::GeoDb>>,
    /// Issues and verifies device credentials (at the edge, [`Self::devices`]), and hashes the
    /// device they stand for where it enters; nothing behind this handle sees a device or a token.
    device_key: DeviceKey,
    /// Client addresses are cut to their network and hashed under it where they enter.
    network_key: crate::domain::NetworkKey,
    /// Scores feedback before its session stores it.
    scoring: Arc<scoring::FeedbackScoring>,
    /// Where this node's routing decisions sent customers lately (node-local, for the console).
    routed: Arc<crate::window::MinuteWindow>,
    /// The metrics registry `/metrics` serves.
    telemetry: Arc<crate::telemetry::Telemetry>,
    /// Stripe's client, when `[stripe]` has a secret key: card top-ups ([`stripe`]).
    stripe: Option<Arc<stripe::StripeClient>>,
    /// Seals the payees customers give (`payouts.payee_key`); `None`: no payees on this cluster.
    payee_key: Option<Arc<crate::domain::payee::PayeeKey>>,
    /// The payout rail (`payouts.rail`): the driver sends with it, a Swish callback asks it.
    rail: Arc<dyn rail::PayoutRail>,
    /// Rung when this node must stop (it was drained at another node's request): the binary
    /// stops its servers ([`Self::stop_requested`]).
    stop: Arc<tokio::sync::Notify>,
    /// Outgoing mail (`[mail]`): verification and sign-in links.
    mailer: mail::Mailer,
    /// Signs dashboard session cookies (derived from `privacy.device_key`).
    cookie_key: crate::domain::signin::CookieKey,
    /// Opening reports waiting for their businesses (coalesced, off the customer's path).
    open_reports: sessions::OpenReports,
}

impl NodeHandle {
    /// Asks the process to stop (once it drained itself at another node's request).
    pub fn request_stop(&self) {
        self.stop.notify_one();
    }

    /// Resolves once [`Self::request_stop`] was called.
    pub async fn stop_requested(&self) {
        self.stop.notified().await;
    }

    /// The node's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The cluster's device credentials: HTTP issues a token to a new device and verifies a
    /// presented one here, before any operation below takes the [`DeviceId`] it stands for.
    pub fn devices(&self) -> &DeviceKey {
        &self.device_key
    }

    /// This node's cluster membership, for the simulations and tests that inspect replicated
    /// state and Raft; HTTP uses the typed operations below.
    pub fn cluster(&self) -> &ClusterNode {
        &self.cluster
    }

    /// Raft's view of the cluster from this node.
    pub fn cluster_status(&self) -> ClusterStatus {
        self.cluster.status()
    }

    /// This node's id.
    pub fn node_id(&self) -> u64 {
        self.cluster.id()
    }

    /// The node's metrics (`/metrics`, and the HTTP layer's request families).
    pub fn telemetry(&self) -> &crate::telemetry::Telemetry {
        &self.telemetry
    }

    /// Commands this node applied since it started (a batch's commands each counted).
    pub fn commands_applied(&self) -> u64 {
        self.cluster.commands_applied()
    }

    /// Where a customer at `ip` should be served: the nearest healthy region, with the reasons.
    pub fn route(&self, ip: std::net::IpAddr) -> svea_geo::Route {
        let healthy = self.cluster.healthy_regions();
        let route = svea_geo::route(self.geo.as_deref(), ip, &self.config.regions, &self.config.geo.default_order, |r| {
            healthy.contains(r.as_str())
        });
        self.telemetry.events().geo_decision(&route);
        route
    }

    /// Where this node's GeoIP routing sent customers in the last minute (the HTTP edge records).
    pub fn routed(&self) -> &crate::window::MinuteWindow {
        &self.routed
    }

    /// Public URL of a reachable node in `region` (lowest id first).
    pub fn region_url(&self, region: &Region) -> Option<String> {
        let health = self.cluster.health();
        self.cluster
            .members()
            .into_iter()
            .find(|(id, n)| n.region == region.as_str() && health.node_reachable(*id))
            .map(|(_, n)| n.public_url)
    }

    /// The base URL a business's printed material points at: the public URL of its home
    /// region's member with the lowest id, whatever its health right now (a poster printed while
    /// a node is down must not point elsewhere for good; `/q/...` is GeoIP-routed on arrival
    /// anyway), or this node's own when the membership has no member in that region.
    pub fn home_url(&self, region: &Region) -> String {
        self.cluster
            .members()
            .into_values()
            .find(|n| n.region == region.as_str())
            .map_or_else(|| self.config.node.public_url.clone(), |n| n.public_url)
    }

    /// Actors active on this node.
    pub fn active_actors(&self) -> usize {
        self.registry.active_actors()
    }

    /// Creates a business with fresh ids and QR tokens; its home region is the region nearest to
    /// its first location.
    pub async fn create_business(&self, req: CreateBusiness) -> Result<(Business, ApiKey), ActorError> {
        self.create_business_from(req, None).await
    }

    /// The seed of a sign-up with an `Idempotency-Key` (`domain::signup`), under the cluster's
    /// secret (`privacy.device_key`, the same on every node, so any node re-derives it).
    pub fn signup_seed(&self, idempotency_key: &str, fingerprint: &[u8; 32]) -> SignupSeed {
        SignupSeed::derive(self.config.privacy.device_key.as_bytes(), idempotency_key, fingerprint)
    }

    /// What an earlier sign-up with `seed` answered, if there was one: the business with the
    /// same API key (`Ok(Some)`), within [`SIGNUP_IDEMPOTENCY_WINDOW_S`] of its creation and
    /// while that key is still the business's; `Ok(None)` when no business has the seed's id.
    /// The same idempotency key with another request (its derived key does not match), after
    /// the window, or after a rotation is `idempotency-key-reused`.
    pub async fn signup_replay(&self, seed: &SignupSeed, req: &CreateBusiness) -> Result<Option<(Business, ApiKey)>, ActorError> {
        let id = self.business_id(Some(seed), &self.home_of(req)?);
        let key = ApiKey::generate(&id, &mut seed.material_rng());
        let b = match self.registry.call(id, GetBusiness).await {
            Ok(b) => b,
            Err(ActorError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let reused = |why: &str| Err::<Option<(Business, ApiKey)>, _>(ActorError::conflict(ConflictKind::IdempotencyKeyReused, format!("this Idempotency-Key {why}")));
        if !b.key_hash.matches(&key) {
            return reused(if b.key_issued_at != b.created_at { "created a business whose key was rotated since" } else { "was used with another request" });
        }
        if (Utc::now() - b.created_at).num_seconds() > SIGNUP_IDEMPOTENCY_WINDOW_S {
            return reused("is older than 24 hours");
        }
        Ok(Some((b, key)))
    }

    /// A new business's home region: the region nearest to its first location.
    fn home_of(&self, req: &CreateBusiness) -> Result<svea_config::Region, ActorError> {
        let first = req.first_location();
        svea_geo::nearest_region(&self.config.regions, first.lat(), first.lon(), |_| true)
            .map(|r| r.name.clone())
            .ok_or_else(|| ActorError::Internal("empty region table".into()))
    }

    /// A new business's id, from `seed` (a sign-up's: the same every time) or at random, with
    /// the home digit of its home region's Raft group (`actors::groups`) when each region has one.
    fn business_id(&self, seed: Option<&SignupSeed>, home: &svea_config::Region) -> BusinessId {
        let id = seed.map_or_else(BusinessId::random, |s| BusinessId::generate(&mut s.id_rng()));
        // With one group there is no home to name (its one home is `None`): the id stays random.
        match self.config.group_homes().iter().position(|h| h.as_ref() == Some(home)) {
            Some(group) => id.homed(group as u8),
            None => id,
        }
    }

    /// Creates a business, its random parts drawn from `seed` when given (an idempotent
    /// sign-up: the same seed makes the same business id, key, location ids and QR tokens)
    /// and from the operating system's generator otherwise.
    pub async fn create_business_from(&self, req: CreateBusiness, seed: Option<&SignupSeed>) -> Result<(Business, ApiKey), ActorError> {
        // With real funding, money enters only through the provider: no typed-in budget.
        if self.config.funding.provider != svea_config::FundingProvider::Demo && req.budget() > Ore::ZERO {
            return Err(ActorError::Domain(crate::domain::DomainError::FundingByCardOnly));
        }
        let mut material = seed.map(SignupSeed::material_rng);
        let home = self.home_of(&req)?;
        let id = self.business_id(seed, &home);
        let key = material.as_mut().map_or_else(|| ApiKey::random(&id), |rng| ApiKey::generate(&id, rng));
        let locations = req
            .locations()
            .iter()
            .map(|l| {
                let (id, qr_token) = match material.as_mut() {
                    Some(rng) => (LocationId::generate(rng), QrToken::generate(rng)),
                    None => (LocationId::random(), QrToken::random()),
                };
                Location { id, name: l.name().to_string(), lat: l.lat(), lon: l.lon(), qr_token, address: l.address().to_owned() }
            })
            .collect();
        // A contact address gets its verification link in the same commit as the business.
        let verify = req.contact_email().map(|_| crate::domain::signin::LinkToken::random(&id));
        let new = NewBusiness {
            name: req.name().to_string(),
            org_number: req.org_number().clone(),
            locations,
            home_region: home,
            policy: req.policy().clone(),
            opening_top_up: req.budget(),
            key_hash: key.hash(),
            purchase_verification: req.purchase_verification(),
            contact_email: req.contact_email().cloned(),
            verify_link: verify.as_ref().map(crate::domain::signin::LinkToken::hash),
            verify_link_ttl_ms: i64::try_from(self.config.signup.verify_link_ttl.as_millis()).unwrap_or(i64::MAX),
        };
        // An organisation number registers once in the whole cluster: held in the directory
        // (Raft group 0) first, then the business is created in its home region's group. A
        // retry of the same sign-up holds it again as its own; a hold whose business never got
        // created is released by the sweeper like any unverified registration.
        let org = DirectoryId::Org(new.org_number);
        self.registry.call(org, HoldOrg { business: id.clone() }).await?;
        let business = self.registry.call(id, new).await?;
        if let (Some(link), Some(email)) = (verify, &business.contact_email) {
            self.mail_link(&business, email, &link, crate::domain::signin::LinkPurpose::Verify);
        }
        Ok((business, key))
    }

    /// The business, if `key` is its current API key; `None` when the key is not (wrong,
    /// rotated away) or the business does not exist, which callers must not tell apart.
    pub async fn business_with_key(&self, id: BusinessId, key: &ApiKey) -> Result<Option<Business>, ActorError> {
        if key.business() != &id {
            return Ok(None);
        }
        match self.registry.call(id, GetBusiness).await {
            Ok(b) => Ok(b.has_key(key).then_some(b)),
            Err(ActorError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Issues a new API key for the business if `presented` is its key's hash now (the key a
    /// script presented, or the hash a signed-in dashboard read with the business); the old one
    /// stops working when this returns. `None`: `presented` is not (any more) the business's key.
    pub async fn rotate_key(&self, id: BusinessId, presented: crate::domain::KeyHash) -> Result<Option<(Business, ApiKey)>, ActorError> {
        let key = ApiKey::random(&id);
        let rotated = self.registry.call(id, RotateKey { presented, key_hash: key.hash() }).await?;
        Ok(rotated.map(|b| (b, key)))
    }

    /// Reads a business.
    pub async fn business(&self, id: BusinessId) -> Result<Business, ActorError> {
        self.registry.call(id, GetBusiness).await
    }

    /// Sets how a business's customers prove their purchase.
    pub async fn set_purchase_verification(&self, id: BusinessId, v: PurchaseVerification) -> Result<Business, ActorError> {
        self.registry.call(id, SetVerification(v)).await
    }

    /// Registers (or replaces) a business's till integration.
    pub async fn register_pos(&self, id: BusinessId, integration: PosIntegration) -> Result<Result<Business, PosError>, ActorError> {
        // A till account is one business's in the whole cluster: held in the directory first,
        // the account it replaces let go of after.
        let provider = integration.provider;
        let account = integration.account.clone();
        let before = self.registry.call(id.clone(), GetBusiness).await?;
        let name = DirectoryId::TillAccount(provider, account.clone());
        if !self.registry.call(name, HoldTillAccount { business: id.clone() }).await? {
            return Ok(Err(PosError::AccountTaken(account.to_string())));
        }
        let registered = self.registry.call(id.clone(), RegisterPos(integration)).await?;
        if let (Ok(_), Some(old)) = (&registered, before.pos.get(&provider).filter(|old| old.account != account)) {
            let old = DirectoryId::TillAccount(provider, old.account.clone());
            if let Err(e) = self.registry.call(old, ReleaseTillAccount { business: id }).await {
                tracing::warn!(error = %e, "the till account replaced stays held; connecting it again to this business works");
            }
        }
        Ok(registered)
    }

    /// The receipts of a business that their mismatched tries locked (`pos.receipt_mismatches_max`).
    pub async fn locked_receipts(&self, id: &BusinessId) -> Result<Vec<crate::actors::keys::LockedReceipt>, ActorError> {
        pos::locked_receipts(&self.cluster, id).await
    }

    /// Releases a locked receipt of a business, so it takes tries again; `false` when it was not locked.
    pub async fn release_receipt(&self, id: BusinessId, location: crate::domain::LocationId, receipt: crate::domain::TransactionId) -> Result<bool, ActorError> {
        let slots = self.config.pos.receipt_mismatches_max;
        self.registry.call(id, crate::actors::business::ReleaseReceipt { location, receipt, slots }).await
    }

    /// Takes a till's webhook delivery (see [`pos`]).
    pub async fn pos_webhook(&self, delivery: Delivery) -> Result<pos::WebhookOutcome, pos::WebhookError> {
        let tolerance_ms = u64::try_from(self.config.pos.timestamp_tolerance.as_millis()).unwrap_or(u64::MAX);
        pos::deliver(&self.cluster, &self.registry, delivery, tolerance_ms).await
    }

    /// Opens a session for the QR token, or returns the device's session at that location if one
    /// is still open (`false` then: nothing was created). `device` is a verified credential's
    /// (or a fresh one's): the open session found is only ever that device's own. `client` is the
    /// customer's address (HTTP passes `http::client_ip`'s); only its network's keyed hash goes
    /// further, for the per-network reward limit. In-process callers without one pass `None`.
    pub async fn open_session(&self, token: QrToken, device: DeviceId, client: Option<std::net::IpAddr>) -> Result<(Session, bool), ActorError> {
        let network = client.map(|ip| self.network_key.hash(ip));
        sessions::find_or_open(&self.cluster, &self.registry, &self.open_reports, token, self.device_key.hash(&device), network).await
    }

    /// Where a QR token leads: its business and location, with the names a customer is shown.
    pub async fn qr_target(&self, token: QrToken) -> Result<crate::actors::keys::QrTarget, ActorError> {
        sessions::qr_target(&self.cluster, token).await
    }

    /// A page of the sessions of `device` (its owner's export), after `after`.
    pub async fn export_device(&self, device: &DeviceId, after: Option<SessionId>) -> Result<privacy::ExportPage, ActorError> {
        privacy::export(&self.cluster, &self.registry, self.device_key.hash(device), after).await
    }

    /// Erases a page of the sessions of `device` (its owner's request): feedback texts and the
    /// device link, everywhere.
    pub async fn erase_device(&self, device: &DeviceId) -> Result<privacy::Erasure, ActorError> {
        privacy::erase(&self.cluster, &self.registry, self.device_key.hash(device)).await
    }

    /// Sets the highest purchase customers may declare at a business without its till, within
    /// `1.00..=DECLARED_AMOUNT_MAX_SEK_MAX` SEK.
    pub async fn set_declared_amount_max(&self, id: BusinessId, max: Ore) -> Result<Business, ActorError> {
        let max = crate::domain::validate_declared_amount_max(max)?;
        self.registry.call(id, crate::actors::business::SetDeclaredAmountMax(max)).await
    }

    /// Adds a location to business `id` (at most `LOCATIONS_MAX` in all), with a fresh id and
    /// QR token; its QR record is written in the same command.
    pub async fn add_location(&self, id: BusinessId, location: crate::domain::NewLocation) -> Result<(Business, LocationId), ActorError> {
        let l = Location {
            id: LocationId::random(),
            name: location.name().to_string(),
            lat: location.lat(),
            lon: location.lon(),
            qr_token: QrToken::random(),
            address: location.address().to_string(),
        };
        let lid = l.id.clone();
        let b = self.registry.call(id, crate::actors::business::ChangeLocations::Add(l)).await?;
        Ok((b, lid))
    }

    /// Renames location `lid` of business `id` (its QR code keeps working and shows the new name).
    pub async fn rename_location(&self, id: BusinessId, lid: LocationId, name: &str) -> Result<Business, ActorError> {
        let name = crate::domain::validate::validate_location_name(name)?.to_string();
        self.registry.call(id, crate::actors::business::ChangeLocations::Rename { id: lid, name }).await
    }

    /// Removes location `lid` of business `id`: its QR token stops working (a retired-code page);
    /// the last location stays.
    pub async fn remove_location(&self, id: BusinessId, lid: LocationId) -> Result<Business, ActorError> {
        self.registry.call(id, crate::actors::business::ChangeLocations::Remove(lid)).await
    }

    /// The cluster's daily reward cap per business (`abuse.business_daily_reward_cap_sek`): the
    /// highest daily budget a business may set, and the one it has until it sets its own.
    pub fn daily_reward_cap(&self) -> Ore {
        Ore::from_ore(self.config.abuse.business_daily_reward_cap_ore)
    }

    /// Sets business `id`'s daily reward budget: 1 kr up to the cluster's daily cap.
    pub async fn set_daily_budget(&self, id: BusinessId, budget: Ore) -> Result<Business, ActorError> {
        self.registry.call(id, crate::actors::business::SetDailyBudget(budget)).await
    }

        /// Sets business `id`'s reward percentages (low, mid, high tier, in basis points) within the
    /// policy's bounds (`RewardPolicy::with_basis_points`).
    pub async fn set_reward_percentages(&self, id: BusinessId, basis_points: [u32; 3]) -> Result<Business, ActorError> {
        let policy = crate::domain::RewardPolicy::with_basis_points(basis_points[0], basis_points[1], basis_points[2])?;
        self.registry.call(id, crate::actors::business::SetRewardPolicy(policy)).await
    }

    /// The rewards a business's hourly brake holds for its review, oldest first (see [`review`]).
    pub async fn held_rewards(&self, business: &BusinessId) -> Result<review::HeldPage, ActorError> {
        review::list(&self.cluster, business).await
    }

    /// Releases or refuses a held reward of a business (see [`review`]).
    pub async fn review_held(&self, business: BusinessId, session: SessionId, decision: crate::actors::business::ReviewDecision) -> Result<crate::actors::business::Settlement, ActorError> {
        review::decide(&self.cluster, &self.registry, business, session, decision).await
    }

    /// A page of a business's feedback list, newest first (see [`feedback`]).
    pub async fn feedback_page(&self, business: &BusinessId, query: feedback::FeedbackQuery) -> Result<feedback::FeedbackPage, ActorError> {
        feedback::list(&self.cluster, business, query).await
    }

    /// Reads a session.
    pub async fn get_session(&self, id: SessionId) -> Result<Session, ActorError> {
        sessions::run(&self.registry, id, GetSession).await
    }

    /// Confirms a session's purchase.
    pub async fn confirm_purchase(&self, id: SessionId, purchase: Purchase) -> Result<Session, ActorError> {
        sessions::run(&self.registry, id, ConfirmPurchase(purchase)).await
    }

    /// Submits feedback; the answer carries the score and the reward.
    pub async fn give_feedback(&self, id: SessionId, text: FeedbackText) -> Result<Session, ActorError> {
        // Checks before work: the session is found first (an unknown id answers 404 here), and
        // only a session that awaits feedback is scored by the model. Any other state gets the
        // rubric's score, which costs no call: the session answers with its state's refusal (or,
        // for a retry of its text, as it is) and stores nothing; should it have moved on to await
        // feedback meanwhile (a till's report in between), the rubric's score, the model's
        // fallback anyway, is the one it stores.
        let found = self.get_session(id.clone()).await?;
        // Scored here, on the caller's runtime, before the session's slot: a slow model holds up
        // this customer only. A retry is scored again, but the session keeps its first score.
        let score = if found.state == SessionState::PurchaseConfirmed && found.feedback.is_none() {
            self.scoring.score(text.as_str()).await
        } else {
            self.scoring.rubric_only(text.as_str())
        };
        sessions::run(&self.registry, id, GiveFeedback { text, score }).await
    }

    /// Expires the session if its time is up.
    pub async fn expire_session(&self, id: SessionId) -> Result<Session, ActorError> {
        sessions::run(&self.registry, id, Expire).await
    }

    /// Runs `msg` on a session and returns the session afterwards (input checked as HTTP would).
    pub async fn session(&self, id: SessionId, msg: SessionMsg) -> Result<Session, ActorError> {
        match msg {
            SessionMsg::ConfirmPurchase { amount, purchased_at, transaction_id } => {
                self.confirm_purchase(id, Purchase::new(amount, purchased_at, transaction_id)?).await
            }
            SessionMsg::Feedback { text } => self.give_feedback(id, FeedbackText::new(&text)?).await,
            SessionMsg::Get => self.get_session(id).await,
            SessionMsg::Expire => self.expire_session(id).await,
        }
    }

    /// Credits a paid top-up (see [`funding`]): idempotent on the event id and on the checkout
    /// session; an unknown business is `NotFound { Business }`.
    pub async fn record_top_up(&self, top_up: funding::TopUp) -> Result<crate::actors::business::TopUpOutcome, ActorError> {
        funding::record_top_up(&self.registry, top_up).await
    }

    /// Debits a top-up refund (see [`funding`]): `refunded_total` is cumulative, the entry is
    /// the difference; an unknown payment is `NotFound { Payment }`.
    pub async fn record_top_up_refund(&self, refund: funding::TopUpRefund) -> Result<(BusinessId, crate::actors::business::TopUpOutcome), ActorError> {
        funding::record_top_up_refund(&self.cluster, &self.registry, refund).await
    }

    /// A demo top-up (`funding.provider = "demo"` only; nothing is charged): credited at once
    /// under a fresh id.
    pub async fn demo_top_up(&self, business: BusinessId, amount: Ore, idempotency_key: Option<&str>) -> Result<crate::actors::business::TopUpOutcome, ActorError> {
        if self.config.funding.provider != svea_config::FundingProvider::Demo {
            return Err(ActorError::Domain(crate::domain::DomainError::FundingByCardOnly));
        }
        // A retry with the client's Idempotency-Key is the same entry (its id is a hash of the
        // business and the key, so two businesses' keys never meet); without one, a fresh id.
        let event = match idempotency_key {
            Some(key) => {
                use sha2::Digest;
                let digest = sha2::Sha256::digest(format!("{business}\n{key}").as_bytes());
                let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
                funding::external_ref("event id", &format!("demo-k-{hex}"))?
            }
            None => funding::external_ref("event id", &format!("demo-{}", crate::domain::SessionId::random()))?,
        };
        let at_ms = chrono::Utc::now().timestamp_millis();
        funding::record_top_up(&self.registry, funding::TopUp { business, event_id: event, checkout_session: None, payment_ref: None, amount, at_ms }).await
    }

    /// Seals `payee` for `device`'s wallet under `payouts.payee_key` and keeps it there (replacing
    /// any earlier one). A payout due starts with it.
    pub async fn save_payee(&self, device: &DeviceId, payee: &crate::domain::payee::Payee) -> Result<crate::actors::wallet::Wallet, payouts::PayoutError> {
        let key = self.payee_key.as_ref().ok_or(payouts::PayoutError::PayeesOff)?;
        let hash = self.device_key.hash(device);
        // Sealing fails only without a random nonce: a passing condition of the host.
        let sealed = key.seal(payee, &hash).map_err(|e| ActorError::Unavailable(e.to_string()))?;
        Ok(self.registry.call(hash, crate::actors::wallet::SetPayee(sealed)).await?)
    }

    /// What a Swish callback about payout `id` leads to (see [`payouts::swish_callback`]).
    pub async fn swish_callback(&self, id: &rail::PayoutId) -> Result<crate::actors::keys::PayoutState, payouts::PayoutError> {
        payouts::swish_callback(self, id).await
    }

    /// Sets who `device`'s payouts go to, sealed already (tests, simulations). A payout due
    /// starts with it.
    pub async fn set_payee(&self, device: &DeviceId, payee: crate::domain::payee::SealedPayee) -> Result<crate::actors::wallet::Wallet, ActorError> {
        self.registry.call(self.device_key.hash(device), crate::actors::wallet::SetPayee(payee)).await
    }

    /// Records what a rail's callback or status poll learned about a payout (idempotent: a
    /// payout settles once). Answers its state afterwards.
    pub async fn payout_update(&self, id: &rail::PayoutId, state: rail::RailState) -> Result<crate::actors::keys::PayoutState, ActorError> {
        payouts::update(&self.cluster, &self.registry, id, state).await
    }

    /// A customer's wallet, latest postings and payouts (their page).
    pub async fn wallet(&self, device: &DeviceId) -> Result<payouts::WalletView, ActorError> {
        payouts::view(&self.cluster, &self.registry, self.device_key.hash(device)).await
    }

    /// A business's statement for a month (see [`statement`]).
    pub async fn statement(&self, business: &BusinessId, month: statement::Month) -> Result<statement::Statement, ActorError> {
        statement::read(&self.cluster, &self.registry, business, month).await
    }

    /// The payout rail's name for customers (`ledger-only` payouts are shown as demo).
    pub fn payout_rail(&self) -> svea_config::PayoutRailKind {
        self.config.payouts.rail
    }

    /// Whether a business has funds for rewards, as this node has applied it (the customer's
    /// start page; a business topped up a moment ago through another node may show a moment late).
    pub fn business_funded(&self, business: &BusinessId) -> bool {
        use crate::actors::keys::Index;
        crate::actors::keys::FundedRecord { business: business.clone() }.read(self.cluster.view()).ok().flatten().unwrap_or(false)
    }

    /// Whether this node can commit right now (a quorum confirms the leader).
    pub async fn ready(&self) -> Result<(), ActorError> {
        self.cluster.read_barrier().await.map_err(ActorError::from)
    }
}
