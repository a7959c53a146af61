//! Starting and stopping a node core: opens the store, the QUIC transport and the GeoIP
//! database, starts Raft, the registry and the sweeper and wires them together; and the
//! orderly shutdown that undoes it (hand leadership over, stop the sweeper and the actors, stop
//! Raft, flush).

use std::sync::Arc;

use svea_cluster::network::{NoPeers, QuicNetwork};
use svea_cluster::transport::{Transport, TransportSettings};
use svea_cluster::ClusterNode;
use svea_config::{Config, ScoringBackend};

use super::ollama::OllamaClient;
use super::remote::ForwardedCalls;
use super::scoring::FeedbackScoring;
use super::NodeHandle;
use crate::actors::registry::{self, RegistryLimits};
use crate::telemetry::CertKind;
use crate::actors::{ActorEnv, Clock, SystemClock};
use crate::domain::scoring::{RubricScorer, Scorer};

/// One actor call may need an activation claim, three writes and a business call: its bound is
/// this many client-write timeouts.
pub const CALL_TIMEOUT_WRITES: u32 = 4;
/// A call forwarded to another node does the same minus its own routing.
pub const FORWARD_TIMEOUT_WRITES: u32 = 3;
const _: () = assert!(FORWARD_TIMEOUT_WRITES < CALL_TIMEOUT_WRITES, "a forwarded call must end before the call that forwarded it");
/// Share of the shutdown grace a leader spends handing leadership over before it stops anyway.
pub const LEADERSHIP_HANDOVER_GRACE_SHARE: u32 = 2;

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
    /// Further background tasks of this core (the payout driver, the GeoIP file watcher),
    /// aborted at shutdown.
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Core {
    /// Hands leadership to another voter if this node leads (so a restart costs no election
    /// timeout), stops the sweeper and the actors, then Raft, and flushes the store.
    pub async fn shutdown(self) {
        let cluster = &self.handle.cluster;
        let me = cluster.id();
        if cluster.leads_any() {
            let config = &self.handle.config;
            let voters = cluster.status().voters;
            let to = crate::actors::placement::candidates(cluster, &config.regions, config.node.region.as_str(), Some(me))
                .into_iter()
                .find(|id| voters.contains(id));
            if let Some(to) = to {
                match tokio::time::timeout(config.timeouts.shutdown_grace / LEADERSHIP_HANDOVER_GRACE_SHARE, cluster.transfer_leadership(to)).await {
                    Ok(Ok(())) => tracing::info!(event = "leadership", to, "leadership handed over before shutdown"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "could not hand leadership over before shutdown"),
                    Err(_) => tracing::warn!("leadership hand-over before shutdown timed out"),
                }
            }
        }
        self.sweeper.abort();
        for task in &self.background {
            task.abort();
        }
        self.handle.registry.shutdown();
        let _ = self.registry_task.await;
        if let Err(e) = self.handle.cluster.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown reported an error");
        }
        tracing::info!("node core stopped");
    }
}

/// The rubric's dictionaries (`scoring.dictionary_dir`, or the embedded ones), parsed at start so
/// that the first customer's feedback does not wait for them, and a bad directory stops the node.
fn load_dictionaries(config: &Config) -> anyhow::Result<()> {
    use crate::domain::dictionary;
    if let Some(dir) = &config.scoring.dictionary_dir {
        let started = std::time::Instant::now();
        dictionary::install(dictionary::Dictionaries::from_dir(dir)?)?;
        tracing::info!(dir = %dir.display(), took_ms = started.elapsed().as_millis() as u64, "dictionaries loaded");
    }
    dictionary::loaded();
    Ok(())
}


/// Starts the core on the current `LocalSet`: opens storage, starts Raft (bootstrapping a new
/// cluster from config), the registry and the sweeper. Clock and rubric scorer are injected; the
/// model client, when `[scoring]` asks for one, is made here.
pub async fn start(config: Config, clock: Arc<dyn Clock>, scorer: Arc<dyn Scorer>) -> anyhow::Result<Core> {
    // Owner-only: the store holds feedback texts and device hashes.
    svea_storage::create_private_dir(&config.node.data_dir)?;
    load_dictionaries(&config)?;
    let store_dir = config.node.data_dir.join("store");
    svea_storage::create_private_dir(&store_dir)?;
    check_store_groups(&store_dir, group_count(&config))?;
    let stores = svea_storage::open_groups(&store_dir, config.timeouts.storage_flush, config.limits.storage_cache_bytes, group_count(&config))?;
    let (transport, identity) = match open_transport(&config)? {
        Some((t, id)) => (Some(t), Some(id)),
        None => (None, None),
    };
    // The certificates the transport loaded, for their expiry gauges once telemetry exists.
    let quic_certs = transport.is_some().then(|| [(CertKind::Node, config.tls.node_cert.clone()), (CertKind::ClusterCa, config.tls.ca_cert.clone())]);
    let (geo, watcher) = open_geo(&config)?;
    // New QUIC handshakes (both directions) present a rotated node certificate.
    // Telemetry exists only once the core has started: the reload hook finds it here.
    let events_slot: Arc<std::sync::OnceLock<crate::telemetry::Events>> = Arc::default();
    let tls_watch = identity.map(|id| {
        let tls = config.tls.clone();
        let shown = id.clone();
        let slot = events_slot.clone();
        let node_cert = config.tls.node_cert.clone();
        let item = crate::tls_reload::Watched {
            what: "quic",
            reload: Box::new(move || id.reload(&tls.ca_cert, &tls.node_cert, &tls.node_key)),
            fingerprint: Box::new(move || shown.slot().fingerprint()),
            reloaded: Box::new(move || {
                if let Some(events) = slot.get() {
                    record_cert_expiry(events, CertKind::Node, &node_cert);
                }
            }),
        };
        tokio::task::spawn_local(crate::tls_reload::watch(vec![item], config.tls.reload_interval))
    });
    // The one place a model client is made: the simulation calls `start_with` without one.
    let model = (config.scoring.backend == ScoringBackend::Ollama).then(|| OllamaClient::new(&config.scoring));
    let rail = super::payouts::rail_from_config(&config)?;
    match start_with(config, clock, scorer, Parts { stores, transport, geo, model, rail: Some(rail), unseal: None }).await {
        Ok(mut core) => {
            core.background.push(watcher);
            for (kind, path) in quic_certs.into_iter().flatten() {
                record_cert_expiry(core.handle.telemetry().events(), kind, &path);
            }
            let _ = events_slot.set(core.handle.telemetry().events().clone());
            core.background.extend(tls_watch);
            Ok(core)
        }
        Err(e) => {
            watcher.abort();
            if let Some(t) = tls_watch {
                t.abort();
            }
            Err(e)
        }
    }
}

/// Sets `kind`'s `svea_tls_cert_expiry_timestamp_seconds` from the PEM file its loader just read;
/// call it again after a certificate is reloaded. A failure only costs the gauge: it is logged.
pub fn record_cert_expiry(events: &crate::telemetry::Events, kind: CertKind, path: &std::path::Path) {
    if let Err(e) = events.cert_loaded(kind, path) {
        tracing::warn!(cert = kind.label(), error = %e, "certificate expiry not exported");
    }
}

/// How many Raft groups a node of `config` runs in its store (`cluster.groups`): one per region,
/// or one. `svea restore` seeds these and refuses a backup holding any other.
pub fn group_count(config: &Config) -> svea_storage::GroupId {
    config.group_homes().len() as svea_storage::GroupId
}

/// The file in a store directory that records how many Raft groups the store holds.
const GROUPS_FILE: &str = "GROUPS";

/// Records that the store in `store_dir` holds `groups` Raft groups (a new store, or one `svea
/// restore` just seeded), durably: written aside, synced, renamed into place, directory synced.
pub fn record_store_groups(store_dir: &std::path::Path, groups: svea_storage::GroupId) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let path = store_dir.join(GROUPS_FILE);
    let tmp = store_dir.join(format!("{GROUPS_FILE}.tmp"));
    std::fs::write(&tmp, format!("{groups}\n")).and_then(|()| std::fs::File::open(&tmp)?.sync_all()).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).and_then(|()| std::fs::File::open(store_dir)?.sync_all()).with_context(|| format!("cannot write {}", path.display()))
}

/// Records in a new store how many Raft groups it holds, and refuses to open one created with
/// another number: the placement of every key depends on it (`actors::groups`), so a node
/// started with another `cluster.groups` would look for its data in the wrong groups. A store
/// from before the record (a directory with files but no record) held one group.
pub fn check_store_groups(store_dir: &std::path::Path, groups: svea_storage::GroupId) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let path = store_dir.join(GROUPS_FILE);
    let recorded = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text.trim().parse::<svea_storage::GroupId>().with_context(|| format!("{} holds {:?}, not a number of groups", path.display(), text.trim()))?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let existing = match recorded {
        Some(n) => n,
        None if std::fs::read_dir(store_dir).with_context(|| format!("cannot list {}", store_dir.display()))?.next().is_some() => 1,
        None => {
            record_store_groups(store_dir, groups)?;
            groups
        }
    };
    if existing != groups {
        anyhow::bail!(
            "the store at {} holds {existing} raft group(s) and this config runs {groups} (cluster.groups = {:?} over its region table): \
             keys are placed by the number of groups, so the store cannot be reused; start from an empty data directory (restore a backup into it)",
            store_dir.display(),
            if groups == 1 { "one" } else { "per-region" }
        );
    }
    Ok(())
}

/// What [`start`] opens from the config and the file system, supplied by the caller instead (the
/// deterministic simulation passes an in-memory store and a QUIC transport over simulated UDP).
pub struct Parts {
    /// Each Raft group's log and state machine, group `g` at `[g]`, [`group_count`] of them.
    pub stores: Vec<svea_storage::GroupStore>,
    /// The QUIC transport, with its peers' addresses set; `None` for a lone node.
    pub transport: Option<Arc<Transport>>,
    /// The GeoIP database; `None` routes without client locations.
    pub geo: Option<Arc<svea_geo::GeoDb>>,
    /// The scoring model's client (`scoring.backend = "ollama"`); `None` scores with the rubric
    /// alone, as the deterministic simulation always does.
    pub model: Option<OllamaClient>,
    /// The payout rail (`payouts.rail`, made by [`start`]); `None` is the ledger-only rail.
    pub rail: Option<Arc<dyn super::rail::PayoutRail>>,
    /// How payouts open a sealed payee; `None`: the node's own under `payouts.payee_key`
    /// (`payouts::unseal_with`), or none without a key (a payout with a payee is then not sent).
    pub unseal: Option<super::payouts::Unseal>,
}

/// [`start`] with the store, transport and GeoIP database supplied by the caller.
pub async fn start_with(config: Config, clock: Arc<dyn Clock>, scorer: Arc<dyn Scorer>, parts: Parts) -> anyhow::Result<Core> {
    let Parts { stores, transport, geo, model, rail, unseal } = parts;
    let rail: Arc<dyn super::rail::PayoutRail> = rail.unwrap_or_else(|| Arc::new(super::rail::LedgerOnly));
    // The one place the payee key is made: it seals what customers give (`NodeHandle::save_payee`)
    // and opens it for the driver's instructions.
    let payee_key = match config.payouts.payee_key {
        Some(k) => Some(Arc::new(crate::domain::payee::PayeeKey::from_bytes(&k.0)?)),
        None => None,
    };
    let unseal = unseal.or_else(|| payee_key.clone().map(super::payouts::unseal_with));
    let telemetry = Arc::new(crate::telemetry::Telemetry::new());
    let homes: Vec<Option<String>> = config.group_homes().into_iter().map(|r| r.map(String::from)).collect();
    if stores.len() != homes.len() {
        anyhow::bail!("{} raft group stores for {} groups (cluster.groups = {:?})", stores.len(), homes.len(), config.cluster.groups.as_str());
    }
    // One flusher serves every group: its observer is set once.
    if let Some((log, _)) = stores.first() {
        log.set_observer(telemetry.storage_observer());
    }
    let placer = Arc::new(crate::actors::groups::KeyPlacer::new(group_count(&config)));
    let cluster = match &transport {
        Some(t) => {
            let network = QuicNetwork::new(t.clone());
            ClusterNode::start_groups(&config, stores, homes, |g| network.in_group(g), Some(t.clone()), placer).await?
        }
        None => ClusterNode::start_groups(&config, stores, homes, |_| NoPeers, None, placer).await?,
    };
    cluster.bootstrap_if_new(&config.initial_members()).await?;
    let limits = RegistryLimits {
        queue_len: config.limits.registry_queue_len,
        mailbox_len: config.limits.actor_mailbox_len,
        idle_after: config.timeouts.actor_idle,
        call_timeout: config.timeouts.client_write * CALL_TIMEOUT_WRITES,
    };
    let (registry, inbox) = registry::channel(limits, telemetry.events().clone());
    let env = ActorEnv {
        cluster: cluster.clone(),
        region: config.node.region.clone(),
        regions: Arc::new(config.regions.clone()),
        clock: clock.clone(),
        session_expiry: config.timeouts.session_expiry,
        forward_timeout: config.timeouts.client_write * FORWARD_TIMEOUT_WRITES,
        pos: config.pos.clone(),
        limits: crate::actors::business::RewardLimits::from_config(&config.abuse),
        metrics: telemetry.events().clone(),
        payouts: crate::actors::wallet::PayoutRules {
            minimum: crate::domain::Ore::from_ore(config.payouts.minimum_ore),
            payee_required: config.payouts.rail != svea_config::PayoutRailKind::LedgerOnly,
            rail: rail.name(),
        },
    };
    let routed = Arc::new(crate::window::MinuteWindow::new(&config.regions));
    let answering: super::remote::Answering = Arc::default();
    if let Some(t) = &transport {
        t.set_app_handler(Arc::new(ForwardedCalls { registry: registry.clone(), routed: routed.clone(), node: answering.clone() }));
    }
    let registry_task = tokio::task::spawn_local(registry::run(env, inbox));
    let config = Arc::new(config);
    if config.privacy.demo_key {
        tracing::warn!("privacy.device_key is the public demo key: anyone can forge device tokens (loopback only)");
    }
    let device_key = crate::domain::DeviceKey::new(&config.privacy.device_key);
    if let Some(m) = &model {
        tracing::info!(model = m.model(), url = %config.scoring.ollama_url, "feedback is scored by a model, the rubric as fallback");
    }
    let scoring = Arc::new(FeedbackScoring::new(scorer, model));
    telemetry.go_live(Box::new(super::collectors::LiveState {
        cluster: cluster.clone(),
        registry: registry.clone(),
        scoring: scoring.clone(),
        data_dir: config.node.data_dir.clone(),
    }));
    let network_key = crate::domain::NetworkKey::new(&config.privacy.device_key);
    // No secret key (the simulation, `svea demo`): no client, and nothing ever calls Stripe.
    // Card top-ups only when the funding provider is Stripe: demo money and card money never mix.
    let stripe = match config.funding.provider {
        svea_config::FundingProvider::Stripe => super::stripe::StripeClient::from_config(&config.stripe)?.map(Arc::new),
        svea_config::FundingProvider::Demo => None,
    };
    let (mailer, mail_worker) = super::mail::Mailer::from_config(&config.mail, telemetry.events().clone())?;
    let cookie_key = crate::domain::signin::CookieKey::derive(config.privacy.device_key.as_bytes());
    let handle = NodeHandle {
        registry,
        cluster,
        config: config.clone(),
        geo,
        device_key,
        network_key,
        scoring,
        routed,
        telemetry,
        stripe,
        payee_key,
        rail: rail.clone(),
        stop: Arc::new(tokio::sync::Notify::new()),
        mailer,
        cookie_key,
        open_reports: super::sessions::OpenReports::default(),
    };
    *answering.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(handle.clone());
    let sweeper = tokio::task::spawn_local(super::sweeper::run(handle.clone(), clock, config.timeouts.expiry_sweep));
    let driver = super::payouts::PayoutDriver { rail, unseal, config: config.payouts };
    let payouts = tokio::task::spawn_local(super::payouts::run(handle.clone(), driver));
    tracing::info!(node = handle.cluster.id(), region = %config.node.region, "node core started");
    // The transport's handler holds this node while it answers operators' questions, and the
    // node holds the transport: the task below forgets it when the core stops (aborted at
    // shutdown, dropped with the runtime when a simulated host crashes), so the node is freed.
    let forget = super::remote::ForgetNode(answering);
    let forgets = tokio::task::spawn_local(async move {
        let _forget = forget;
        std::future::pending::<()>().await;
    });
    let mut background = vec![payouts, forgets];
    if let Some(w) = mail_worker {
        background.push(tokio::task::spawn_local(w.run()));
    }
    Ok(Core { handle, sweeper, registry_task, background })
}

/// Opens the GeoIP database (the configured file, or the bundled Nordic subset written under the
/// data dir) and watches it for changes. A configured file that cannot be read is a startup error
/// naming it.
fn open_geo(config: &Config) -> anyhow::Result<(Option<Arc<svea_geo::GeoDb>>, tokio::task::JoinHandle<()>)> {
    let db = svea_geo::bundled::open_or_bundled(config.geo.db_path.as_deref(), &config.node.data_dir.join("geo"))?;
    let db = Arc::new(db);
    let info = db.info();
    tracing::info!(path = %db.path().display(), kind = %info.database_type, "geoip database loaded");
    let watcher = svea_geo::spawn_watcher(db.clone(), config.geo.reload_interval);
    Ok((Some(db), watcher))
}

/// Opens the QUIC endpoint when this node has TLS certificates. A cluster of more than one member
/// cannot run without them.
fn open_transport(config: &Config) -> anyhow::Result<Option<(Arc<Transport>, svea_cluster::tls::Identity)>> {
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
    t.set_hosts(config.cluster.hosts.clone());
    for m in config.initial_members() {
        if m.id != config.node.id {
            t.set_peer_addr(m.id.get(), m.raft_addr);
        }
    }
    tracing::info!(listen = %config.node.raft_listen_addr, advertised = %config.node.raft_addr, "quic transport listening");
    Ok(Some((t, identity)))
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_keeps_the_number_of_groups_it_was_created_with() {
        let dir = tempfile::tempdir().expect("tmp");
        check_store_groups(dir.path(), 3).expect("a new store records its groups");
        check_store_groups(dir.path(), 3).expect("the same number again");
        let refused = check_store_groups(dir.path(), 1).expect_err("another number").to_string();
        assert!(refused.contains("holds 3 raft group(s) and this config runs 1"), "{refused}");
        // A store from before the record, with files in it: it held one group.
        let old = tempfile::tempdir().expect("tmp");
        std::fs::write(old.path().join("conf"), b"sled").expect("write");
        check_store_groups(old.path(), 1).expect("one group, as it was");
        let refused = check_store_groups(old.path(), 3).expect_err("a one-group store per region").to_string();
        assert!(refused.contains("holds 1 raft group(s) and this config runs 3"), "{refused}");
    }
}
