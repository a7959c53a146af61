//! The node core: storage, Raft, the actor registry and the expiry sweeper on one tokio
//! current-thread runtime with a `LocalSet` (no actix `System`), plus the `Send + Sync`
//! [`NodeHandle`] through which the HTTP layer (or a test, or a simulation) uses it.

use std::sync::Arc;
use std::time::Duration;

use svea_cluster::network::{NoPeers, QuicNetwork};
use svea_cluster::transport::{AppHandler, Transport, TransportSettings};
use svea_cluster::ClusterNode;
use svea_config::Config;
use svea_storage::codec::decode;

use crate::actors::business::{qr_key, BusinessMsg, BusinessReply, Business, Location, NewBusiness};
use crate::actors::registry::{self, RegistryHandle, RegistryLimits};
use crate::actors::session::{active_key, OpenSession, Session, SessionMsg, SessionReply};
use crate::actors::{ActorEnv, ActorError, Clock, SystemClock};
use crate::domain::scoring::{RubricScorer, Scorer};
use crate::domain::{BusinessId, DeviceId, LocationId, OrgNumber, Ore, QrToken, RewardPolicy, SessionId};

/// How many open sessions one sweep looks at, at most.
pub const SWEEP_BATCH_MAX: usize = 1000;

/// A location to create, as validated by the HTTP layer.
#[derive(Debug, Clone)]
pub struct NewLocation {
    /// Name.
    pub name: String,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
}

/// A business to create, as validated by the HTTP layer.
#[derive(Debug, Clone)]
pub struct CreateBusiness {
    /// Name.
    pub name: String,
    /// Organisationsnummer.
    pub org_number: OrgNumber,
    /// At least one location.
    pub locations: Vec<NewLocation>,
    /// Budget.
    pub budget: Ore,
    /// Reward percentages.
    pub policy: RewardPolicy,
}

/// `Send + Sync` handle to a running node core.
#[derive(Clone)]
pub struct NodeHandle {
    registry: RegistryHandle,
    cluster: ClusterNode,
    config: Arc<Config>,
    geo: Option<Arc<svea_geo::GeoDb>>,
}

impl NodeHandle {
    /// The node's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The node's cluster membership.
    pub fn cluster(&self) -> &ClusterNode {
        &self.cluster
    }

    /// Where a customer at `ip` should be served: the nearest healthy region, with the reasons.
    pub fn route(&self, ip: std::net::IpAddr) -> svea_geo::Route {
        let healthy = self.cluster.healthy_regions();
        svea_geo::route(self.geo.as_deref(), ip, &self.config.regions, &self.config.geo.default_order, |r| {
            healthy.contains(r.as_str())
        })
    }

    /// Public URL of a reachable node in `region` (lowest id first).
    pub fn region_url(&self, region: &str) -> Option<String> {
        let health = self.cluster.health();
        self.cluster
            .status()
            .members
            .iter()
            .filter(|(id, n)| n.region == region && health.node_reachable(**id))
            .map(|(_, n)| n.public_url.clone())
            .next()
    }

    /// Actors active on this node.
    pub fn active_actors(&self) -> usize {
        self.registry.active_actors()
    }

    /// Creates a business with fresh ids and QR tokens; its home region is the region nearest to
    /// its first location.
    pub async fn create_business(&self, req: CreateBusiness) -> Result<Business, ActorError> {
        let first = req.locations.first().ok_or_else(|| ActorError::Internal("no locations".into()))?;
        let home = svea_geo::nearest_region(&self.config.regions, first.lat, first.lon, |_| true)
            .map(|r| r.name.to_string())
            .ok_or_else(|| ActorError::Internal("empty region table".into()))?;
        let locations = req
            .locations
            .into_iter()
            .map(|l| Location { id: LocationId::random(), name: l.name, lat: l.lat, lon: l.lon, qr_token: QrToken::random() })
            .collect();
        let new = NewBusiness {
            name: req.name,
            org_number: req.org_number,
            locations,
            home_region: home,
            policy: req.policy,
            budget: req.budget,
        };
        match self.registry.business(BusinessId::random(), BusinessMsg::Create(new)).await? {
            BusinessReply::Business(b) => Ok(*b),
            other => Err(ActorError::Internal(format!("unexpected reply {other:?}"))),
        }
    }

    /// Reads a business.
    pub async fn business(&self, id: BusinessId) -> Result<Business, ActorError> {
        match self.registry.business(id, BusinessMsg::Get).await? {
            BusinessReply::Business(b) => Ok(*b),
            other => Err(ActorError::Internal(format!("unexpected reply {other:?}"))),
        }
    }

    /// Opens a session for the QR token, or returns the device's session at that location if one
    /// is still open (`false` then: nothing was created).
    pub async fn open_session(&self, token: QrToken, device: DeviceId) -> Result<(Session, bool), ActorError> {
        let view = self.cluster.view();
        let mut record = view.index(&qr_key(&token))?;
        if record.is_none() {
            self.cluster.read_barrier().await?;
            record = self.cluster.view().index(&qr_key(&token))?;
        }
        let Some(bytes) = record else {
            return Err(ActorError::NotFound { what: crate::actors::Missing::QrToken, id: token.to_string() });
        };
        let (business_id, location_id): (BusinessId, LocationId) = decode(&bytes)?;
        // Up to two rounds: the device's earlier session may turn out to be expired.
        for _ in 0..2 {
            if let Some(existing) = self.cluster.view().index(&active_key(&location_id, &device))? {
                let sid = String::from_utf8_lossy(&existing).parse::<SessionId>().map_err(|e| ActorError::Internal(e.to_string()))?;
                let s = self.session(sid, SessionMsg::Get).await?;
                if s.state == crate::actors::session::SessionState::Opened
                    || s.state == crate::actors::session::SessionState::PurchaseConfirmed
                {
                    return Ok((s, false));
                }
                continue;
            }
            let open = OpenSession { business_id: business_id.clone(), location_id: location_id.clone(), device_id: device.clone() };
            match self.registry.session(SessionId::random(), SessionMsg::Open(open)).await? {
                SessionReply::Session(s) => return Ok((*s, true)),
                SessionReply::AlreadyOpen(_) => continue,
            }
        }
        Err(ActorError::Busy { what: "session opening for this device".into() })
    }

    /// Sends a message to a session and returns the session afterwards.
    pub async fn session(&self, id: SessionId, msg: SessionMsg) -> Result<Session, ActorError> {
        match self.registry.session(id, msg).await? {
            SessionReply::Session(s) => Ok(*s),
            SessionReply::AlreadyOpen(other) => Err(ActorError::Internal(format!("unexpected reply for {other}"))),
        }
    }

    /// Whether this node can commit right now (a quorum confirms the leader).
    pub async fn ready(&self) -> Result<(), ActorError> {
        self.cluster.read_barrier().await.map_err(ActorError::from)
    }
}

/// A node core running on its own thread.
pub struct RunningNode {
    /// Handle for callers.
    pub handle: NodeHandle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningNode {
    /// Starts the core on a dedicated thread and waits until it accepts calls.
    pub fn spawn(config: Config) -> anyhow::Result<RunningNode> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name("svea-core".into()).spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(anyhow::anyhow!("cannot build runtime: {e}")));
                    return;
                }
            };
            let local = tokio::task::LocalSet::new();
            local.block_on(&rt, async move {
                match start(config, Arc::new(SystemClock), Arc::new(RubricScorer::default())).await {
                    Ok(core) => {
                        let _ = ready_tx.send(Ok(core.handle.clone()));
                        let _ = stop_rx.await;
                        core.shutdown().await;
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            });
        })?;
        let handle = ready_rx.recv().map_err(|_| anyhow::anyhow!("node core thread died during startup"))??;
        Ok(RunningNode { handle, stop: Some(stop_tx), thread: Some(thread) })
    }

    /// Stops actors and Raft, flushes the store and joins the core thread.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RunningNode {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

/// The parts of a started core, living on the current `LocalSet`.
pub struct Core {
    /// Handle for callers.
    pub handle: NodeHandle,
    sweeper: tokio::task::JoinHandle<()>,
    registry_task: tokio::task::JoinHandle<()>,
}

impl Core {
    /// Hands leadership to another voter if this node leads (so a restart costs no election
    /// timeout), stops the sweeper and the actors, then Raft, and flushes the store.
    pub async fn shutdown(self) {
        let cluster = &self.handle.cluster;
        let me = cluster.id();
        if cluster.status().leader == Some(me) {
            let config = &self.handle.config;
            let voters = cluster.status().voters;
            let to = crate::actors::placement::candidates(cluster, &config.regions, config.node.region.as_str(), Some(me))
                .into_iter()
                .find(|id| voters.contains(id));
            if let Some(to) = to {
                match tokio::time::timeout(config.timeouts.shutdown_grace / 2, cluster.transfer_leadership(to)).await {
                    Ok(Ok(())) => tracing::info!(event = "leadership", to, "leadership handed over before shutdown"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "could not hand leadership over before shutdown"),
                    Err(_) => tracing::warn!("leadership hand-over before shutdown timed out"),
                }
            }
        }
        self.sweeper.abort();
        self.handle.registry.shutdown();
        let _ = self.registry_task.await;
        if let Err(e) = self.handle.cluster.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown reported an error");
        }
        tracing::info!("node core stopped");
    }
}

/// Starts the core on the current `LocalSet`: opens storage, starts Raft (bootstrapping a new
/// cluster from config), the registry and the sweeper. Clock and scorer are injected.
pub async fn start(config: Config, clock: Arc<dyn Clock>, scorer: Arc<dyn Scorer>) -> anyhow::Result<Core> {
    let store_dir = config.node.data_dir.join("store");
    std::fs::create_dir_all(&store_dir)?;
    let (log, sm) = svea_storage::open(&store_dir, config.timeouts.storage_flush)?;
    let transport = open_transport(&config)?;
    let geo = open_geo(&config)?;
    start_with(config, clock, scorer, Parts { log, sm, transport, geo }).await
}

/// What [`start`] opens from the config and the file system, supplied by the caller instead (the
/// deterministic simulation passes an in-memory store and a QUIC transport over simulated UDP).
pub struct Parts {
    /// The Raft log.
    pub log: svea_storage::LogStore,
    /// The state machine.
    pub sm: svea_storage::StateMachineStore,
    /// The QUIC transport, with its peers' addresses set; `None` for a lone node.
    pub transport: Option<Arc<Transport>>,
    /// The GeoIP database; `None` routes without client locations.
    pub geo: Option<Arc<svea_geo::GeoDb>>,
}

/// [`start`] with the store, transport and GeoIP database supplied by the caller.
pub async fn start_with(config: Config, clock: Arc<dyn Clock>, scorer: Arc<dyn Scorer>, parts: Parts) -> anyhow::Result<Core> {
    let Parts { log, sm, transport, geo } = parts;
    let cluster = match &transport {
        Some(t) => ClusterNode::start(&config, log, sm, QuicNetwork::new(t.clone()), Some(t.clone())).await?,
        None => ClusterNode::start(&config, log, sm, NoPeers, None).await?,
    };
    cluster.bootstrap_if_new(&config.initial_members()).await?;
    let limits = RegistryLimits {
        queue_len: config.limits.registry_queue_len,
        mailbox_len: config.limits.actor_mailbox_len,
        idle_after: config.timeouts.actor_idle,
        // One call may need an activation claim plus three writes plus a business call.
        call_timeout: config.timeouts.client_write * 4,
    };
    let (registry, inbox) = registry::channel(limits);
    let env = ActorEnv {
        cluster: cluster.clone(),
        region: config.node.region.to_string(),
        regions: Arc::new(config.regions.clone()),
        clock: clock.clone(),
        scorer,
        session_expiry: config.timeouts.session_expiry,
        registry: registry.clone(),
        forward_timeout: config.timeouts.client_write * 3,
    };
    if let Some(t) = &transport {
        t.set_app_handler(Arc::new(ForwardedCalls { registry: registry.clone() }));
    }
    let registry_task = tokio::task::spawn_local(registry::run(env, inbox));
    let config = Arc::new(config);
    let handle = NodeHandle { registry, cluster, config: config.clone(), geo };
    let sweeper = tokio::task::spawn_local(sweep_expired(handle.clone(), clock, config.timeouts.expiry_sweep));
    tracing::info!(node = handle.cluster.id(), region = %config.node.region, "node core started");
    Ok(Core { handle, sweeper, registry_task })
}

/// Opens the GeoIP database (the configured file, or the bundled Nordic subset written under the
/// data dir) and watches it for changes. A configured file that cannot be read is a startup error
/// naming it.
fn open_geo(config: &Config) -> anyhow::Result<Option<Arc<svea_geo::GeoDb>>> {
    let db = crate::geo_cli::open_db(config.geo.db_path.as_deref(), &config.node.data_dir.join("geo"))?;
    let db = Arc::new(db);
    let info = db.info();
    tracing::info!(path = %db.path().display(), kind = %info.database_type, "geoip database loaded");
    svea_geo::spawn_watcher(db.clone(), config.geo.reload_interval);
    Ok(Some(db))
}

/// Opens the QUIC endpoint when this node has TLS certificates. A cluster of more than one member
/// cannot run without them.
fn open_transport(config: &Config) -> anyhow::Result<Option<Arc<Transport>>> {
    let tls = &config.tls;
    let have_certs = tls.ca_cert.exists() && tls.node_cert.exists() && tls.node_key.exists();
    if !have_certs {
        anyhow::ensure!(
            config.initial_members().len() <= 1,
            "a cluster of {} members needs TLS certificates at {} / {} / {} (create them with `svea certs`)",
            config.initial_members().len(),
            tls.ca_cert.display(),
            tls.node_cert.display(),
            tls.node_key.display()
        );
        return Ok(None);
    }
    let identity = svea_cluster::tls::Identity::load(&tls.ca_cert, &tls.node_cert, &tls.node_key)?;
    anyhow::ensure!(
        identity.node_id() == config.node.id.get(),
        "certificate {} is for node {}, but this is node {}",
        tls.node_cert.display(),
        identity.node_id(),
        config.node.id
    );
    let t = Transport::bind(config.node.raft_listen_addr, &identity, TransportSettings::from_config(config))?;
    for m in config.initial_members() {
        if m.id != config.node.id {
            t.set_peer_addr(m.id.get(), m.raft_addr);
        }
    }
    tracing::info!(listen = %config.node.raft_listen_addr, advertised = %config.node.raft_addr, "quic transport listening");
    Ok(Some(t))
}

/// Serves actor calls forwarded by other nodes through this node's registry.
struct ForwardedCalls {
    registry: RegistryHandle,
}

impl AppHandler for ForwardedCalls {
    fn call(&self, from: u64, payload: Vec<u8>) -> futures::future::BoxFuture<'static, Result<Vec<u8>, String>> {
        let registry = self.registry.clone();
        Box::pin(async move {
            let call: crate::actors::registry::AppCall =
                decode(&payload).map_err(|e| format!("undecodable actor call from node {from}: {e}"))?;
            let result = registry.call_forwarded(call.key, call.request).await;
            svea_storage::codec::encode(&result).map_err(|e| e.to_string())
        })
    }
}

/// Whether this node expires a session owned by `owner`: its own; or, when the owner is lost
/// (unreachable or no longer a member) or unknown, if this node has the lowest id of the nodes
/// that may take actors (so one survivor, not all of them, takes such sessions over).
fn sweeps_for(node: &NodeHandle, owner: Option<u64>) -> bool {
    let me = node.cluster.id();
    match owner {
        Some(o) if o == me => !crate::actors::placement::is_draining(&node.cluster, me),
        Some(o) if !crate::actors::placement::owner_lost(&node.cluster, o) => false,
        _ => {
            let regions = &node.config.regions;
            let candidates = crate::actors::placement::candidates(&node.cluster, regions, node.config.node.region.as_str(), None);
            candidates.iter().min() == Some(&me)
        }
    }
}

/// Periodically expires this node's sessions whose time is up (sessions nobody touches again
/// would otherwise never be counted as expired).
async fn sweep_expired(node: NodeHandle, clock: Arc<dyn Clock>, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let now_ms = clock.now().timestamp_millis();
        let open = match node.cluster.view().scan_index("open/", SWEEP_BATCH_MAX) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "expiry sweep could not scan open sessions");
                continue;
            }
        };
        for (key, value) in open {
            let Ok(expires_ms) = decode::<i64>(&value) else { continue };
            if expires_ms > now_ms {
                continue;
            }
            let Some(Ok(sid)) = key.strip_prefix("open/").map(|s| s.parse::<SessionId>()) else { continue };
            let owner = node.cluster.view().owner(&format!("session/{sid}")).ok().flatten();
            if !sweeps_for(&node, owner.map(|o| o.node)) {
                continue;
            }
            if let Err(e) = node.session(sid.clone(), SessionMsg::Expire).await {
                tracing::warn!(session_id = %sid, error = %e, "expiry sweep could not expire session");
            }
        }
    }
}

