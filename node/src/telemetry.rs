//! The node's metrics: one `prometheus_client` [`Registry`] per node, served by `GET /metrics`
//! (`http::metrics`). Family names are a contract with deploy/'s alert rules and dashboard
//! (docs/operating.md, "Observability"); change none without changing those.
//!
//! Two kinds of family live here. [`Events`] are counted or timed where they happen: HTTP
//! requests (one middleware, `http::observe`), actor activations and busy answers (the actor
//! registry), settlements (the business actor), GeoIP decisions, and storage timings through
//! [`svea_storage::StorageObserver`] (storage itself knows no metrics library). Everything that
//! is already state elsewhere (Raft's metrics, the failure detector, the cluster's event counters,
//! the routing queue, scoring counters, `/proc`) is read at scrape time by one collector, so it
//! is never copied or stale. That collector is the node core's (`core::collectors`), handed in
//! through [`Telemetry::go_live`] as a [`Live`]: this module keeps the registry, the families and
//! the encoding helpers, and imports neither the core nor the actors. Timings only measure;
//! nothing decides by them.

use std::fmt;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::window::MinuteWindow;

/// Upper bounds of the HTTP request duration buckets, in seconds (2 s is the p95 target).
pub const HTTP_BUCKETS_S: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0];
/// Storage timing buckets: 100 µs doubling 16 times (to about 3.3 s).
const STORAGE_BUCKET_FIRST_S: f64 = 0.0001;
/// See [`STORAGE_BUCKET_FIRST_S`].
const STORAGE_BUCKETS: u16 = 16;

/// Labels of an HTTP request: the matched route pattern (never the raw path, so the number of
/// series is bounded by the route table), the method and the status code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// The route pattern, e.g. `/v1/sessions/{id}`; `unmatched` for the default service.
    pub route: String,
    /// The method.
    pub method: String,
    /// The status code.
    pub status: u16,
}

/// An actor kind.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// `business` or `session`.
    pub kind: &'static str,
}

/// A GeoIP decision.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GeoLabels {
    /// The stable reason code (`svea_geo::RouteReason`, snake_case).
    pub reason: String,
    /// The chosen region; `none` when no region is healthy. Not `region`: Prometheus's scrape
    /// config gives every target a `region` label (the scraped node's), and a metric's own
    /// `region` would be renamed `exported_region` (issue 24).
    pub routed_region: String,
}

/// Which certificate an expiry is of (`svea_tls_cert_expiry_timestamp_seconds{cert}`).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum CertKind {
    /// The node's QUIC certificate (`tls.node_cert`).
    Node,
    /// The cluster CA (`tls.ca_cert`): every node's certificate chains to it.
    ClusterCa,
    /// The public HTTPS certificate (`http.tls_cert`).
    Https,
}

impl CertKind {
    /// Every kind, in label order.
    pub const ALL: [CertKind; 3] = [CertKind::Node, CertKind::ClusterCa, CertKind::Https];

    /// The `cert` label value.
    pub fn label(self) -> &'static str {
        match self {
            CertKind::Node => "node",
            CertKind::ClusterCa => "cluster_ca",
            CertKind::Https => "https",
        }
    }
}

/// The label of [`CertKind`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CertLabel {
    cert: &'static str,
}

/// `svea_build_info`'s labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    revision: &'static str,
}

/// Most directory entries [`store_bytes`] visits at one scrape. The store is a handful of files
/// (sled's db, blobs, snapshots, the GeoIP copy); a data directory with far more is not what it
/// should be, and the scrape must stay cheap. Past the bound the sum is a lower bound.
pub const STORE_WALK_ENTRIES_MAX: usize = 100_000;

/// How a session was settled.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// One of [`SESSION_OUTCOMES`].
    pub outcome: &'static str,
}

/// Budget left (0..1) below which a business counts in `svea_businesses_budget_nearly_spent`
/// (the alert rule `SveaBusinessBudgetNearlySpent` fires on it).
pub const BUDGET_NEARLY_SPENT_RATIO: f64 = 0.1;

/// Every `outcome` of `svea_sessions_total`: rewarded, scored but paid nothing (tier none),
/// withheld by an abuse limit, expired.
pub const SESSION_OUTCOMES: [&str; 4] = ["rewarded", "not_rewarded", "withheld", "expired"];

/// A business's decision on a held reward.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabel {
    /// `release` or `refuse`.
    pub decision: &'static str,
}

/// The `state` label of the payout families.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    /// `started`, `paid` or `failed`.
    pub state: &'static str,
}

/// Every `state` of `svea_payouts_total`.
pub const PAYOUT_STATES: [&str; 3] = ["started", "paid", "failed"];

/// Every `decision` of `svea_reward_reviews_total`.
pub const REVIEW_DECISIONS: [&str; 2] = ["release", "refuse"];

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn http_histogram() -> Histogram {
    Histogram::new(HTTP_BUCKETS_S)
}

fn storage_histogram() -> Histogram {
    Histogram::new(exponential_buckets(STORAGE_BUCKET_FIRST_S, 2.0, STORAGE_BUCKETS))
}

/// The families counted where things happen. Cheap to clone (every family is shared).
#[derive(Clone)]
pub struct Events {
    /// Requests by route, method and status.
    pub http_requests: Family<HttpLabels, Counter>,
    /// Request durations by route, method and status.
    pub http_duration: HistogramFamily<HttpLabels>,
    /// Actors active here, by kind.
    pub actors_active: Family<KindLabel, Gauge>,
    /// Activations by kind.
    pub activations: Family<KindLabel, Counter>,
    /// Passivations (idle, or stopped with the node) by kind.
    pub passivations: Family<KindLabel, Counter>,
    /// Calls answered busy (HTTP 503): a full routing queue or a full actor mailbox.
    pub busy: Counter,
    /// GeoIP decisions by reason and region.
    pub geo: Family<GeoLabels, Counter>,
    /// Sessions settled by the businesses this node owns, by outcome.
    pub sessions: Family<OutcomeLabel, Counter>,
    /// Rewards paid by those settlements, in öre.
    pub rewards_ore: Counter,
    /// Rewards the hourly brake held for their business's review (no business label: the
    /// dashboard names them to their business only).
    pub rewards_held: Counter,
    /// Held rewards their business released or refused, by decision.
    pub reward_reviews: Family<DecisionLabel, Counter>,
    /// Remaining budget / budget of the businesses this node owns (set when one settles,
    /// removed when it passivates, so at most one per active business actor). Exported only in
    /// aggregate by the collector (lowest ratio, count nearly spent): a metric never names a
    /// business (issue 20: `/metrics` listed every business with its budget left).
    budget_ratio: Arc<std::sync::Mutex<std::collections::BTreeMap<String, f64>>>,
    /// 1 while the cluster is in maintenance mode (issue 15 point 5 sets it).
    pub maintenance: Gauge,
    /// When each certificate this node presents or trusts stops being valid (Unix seconds), set
    /// where the certificate is loaded ([`Events::cert_loaded`]).
    cert_expiry: Family<CertLabel, Gauge>,
    /// Ledger entries written by actors this node owns, by kind (never by account).
    pub ledger_entries: Family<KindLabel, Counter>,
    /// Their amounts, in öre, by kind.
    pub ledger_ore: Family<KindLabel, Counter>,
    /// Payouts started, paid and failed by wallets this node owns, by state.
    pub payouts: Family<StateLabel, Counter>,
    /// Their amounts, in öre, by state.
    pub payouts_ore: Family<StateLabel, Counter>,
    /// Payouts in flight, as this node's driver last saw them (all wallets: the `payfly/` records).
    pub payouts_in_flight: Gauge,
    /// Payouts this node's driver stopped sending after `payouts.attempts_max` unanswered sends.
    pub payouts_stuck: Gauge,
    /// Rail calls that got no answer (connect, timeout, unexpected), by this node's driver.
    pub payout_rail_errors: Counter,
    /// This node's HTTP answers in the last minute, `ok` and `error` (5xx), for the console's
    /// error rate.
    answers: Arc<MinuteWindow>,
    /// When these events started counting: the node's start, for the console's uptime.
    started: std::time::Instant,
    /// Mails this node sent (sign-up verification, sign-in links).
    pub mail_sent: Counter,
    /// Mails given up after `mail.attempts_max` sends.
    pub mail_failed: Counter,
    /// Mails refused because the queue (`mail.queue_len_max`) was full.
    pub mail_refused: Counter,
    storage: StorageMetrics,
}

/// The labels of [`Events::answers_last_minute`].
pub const ANSWER_OK: &str = "ok";
/// A server error (5xx).
pub const ANSWER_ERROR: &str = "error";

/// The storage families: the [`svea_storage::StorageObserver`] the node installs.
#[derive(Clone)]
struct StorageMetrics {
    append: Histogram,
    flush: Histogram,
    apply: Histogram,
    committed: Gauge<i64, AtomicI64>,
    snapshots_built: Counter,
    snapshots_installed: Counter,
}

impl svea_storage::StorageObserver for StorageMetrics {
    fn log_appended(&self, took: Duration) {
        self.append.observe(took.as_secs_f64());
    }
    fn flushed(&self, took: Duration) {
        self.flush.observe(took.as_secs_f64());
    }
    fn entry_applied(&self, took: Duration) {
        self.apply.observe(took.as_secs_f64());
    }
    fn committed(&self, index: u64) {
        self.committed.set(i64::try_from(index).unwrap_or(i64::MAX));
    }
    fn snapshot_built(&self) {
        self.snapshots_built.inc();
    }
    fn snapshot_installed(&self) {
        self.snapshots_installed.inc();
    }
}

impl Events {
    fn new() -> Events {
        Events {
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(http_histogram),
            actors_active: Family::default(),
            activations: Family::default(),
            passivations: Family::default(),
            busy: Counter::default(),
            geo: Family::default(),
            sessions: Family::default(),
            rewards_ore: Counter::default(),
            rewards_held: Counter::default(),
            reward_reviews: Family::default(),
            budget_ratio: Arc::default(),
            maintenance: Gauge::default(),
            cert_expiry: Family::default(),
            ledger_entries: Family::default(),
            ledger_ore: Family::default(),
            payouts: Family::default(),
            payouts_ore: Family::default(),
            payouts_in_flight: Gauge::default(),
            payouts_stuck: Gauge::default(),
            payout_rail_errors: Counter::default(),
            answers: Arc::new(MinuteWindow::over([ANSWER_OK, ANSWER_ERROR])),
            started: std::time::Instant::now(),
            mail_sent: Counter::default(),
            mail_failed: Counter::default(),
            mail_refused: Counter::default(),
            storage: StorageMetrics {
                append: storage_histogram(),
                flush: storage_histogram(),
                apply: storage_histogram(),
                committed: Gauge::default(),
                snapshots_built: Counter::default(),
                snapshots_installed: Counter::default(),
            },
        }
    }

    /// A detached set for code that runs without a node (unit tests): counts, exported nowhere.
    pub fn detached() -> Events {
        Events::new()
    }

    /// One HTTP request answered.
    pub fn http_request(&self, labels: HttpLabels, took: Duration) {
        let answer = if labels.status >= 500 { ANSWER_ERROR } else { ANSWER_OK };
        self.answers.record_label(answer, std::time::Instant::now());
        self.http_requests.get_or_create(&labels).inc();
        self.http_duration.get_or_create(&labels).observe(took.as_secs_f64());
    }

    /// HTTP answers of the last minute: (all, server errors).
    pub fn answers_last_minute(&self) -> (u64, u64) {
        let c = self.answers.counts(std::time::Instant::now());
        let errors = c.get(ANSWER_ERROR).copied().unwrap_or(0);
        (c.get(ANSWER_OK).copied().unwrap_or(0).saturating_add(errors), errors)
    }

    /// How long these events have been counting: the node's uptime.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// A ledger entry of `kind` moving `amount`, written by an actor this node owns; payout
    /// entries count in the payout families too.
    pub fn ledger_entry(&self, kind: crate::domain::ledger::EntryKind, amount: crate::domain::Ore) {
        use crate::domain::ledger::EntryKind;
        let ore = u64::try_from(amount.as_ore()).unwrap_or(0);
        self.ledger_entries.get_or_create(&KindLabel { kind: kind.as_str() }).inc();
        self.ledger_ore.get_or_create(&KindLabel { kind: kind.as_str() }).inc_by(ore);
        let state = match kind {
            EntryKind::PayoutStarted => "started",
            EntryKind::PayoutPaid => "paid",
            EntryKind::PayoutFailed => "failed",
            _ => return,
        };
        self.payouts.get_or_create(&StateLabel { state }).inc();
        self.payouts_ore.get_or_create(&StateLabel { state }).inc_by(ore);
    }

    /// A GeoIP decision.
    pub fn geo_decision(&self, route: &svea_geo::Route) {
        let reason = serde_json::to_value(route.code).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let region = route.region.as_ref().map_or_else(|| "none".to_owned(), |r| r.to_string());
        self.geo.get_or_create(&GeoLabels { reason, routed_region: region }).inc();
    }

    /// A session settled by a business this node owns; `remaining_ratio` is the business's
    /// budget left afterwards (0..=1). The ratio is kept per business here but exported only in
    /// aggregate ([`BUDGET_NEARLY_SPENT_RATIO`]); the business that crosses below it is named in
    /// a log line (operators only), never in a metric label.
    pub fn session_settled(&self, business: &str, outcome: &'static str, paid_ore: u64, remaining_ratio: f64) {
        self.sessions.get_or_create(&OutcomeLabel { outcome }).inc();
        self.rewards_ore.inc_by(paid_ore);
        let before = self.budget_ratios().insert(business.to_owned(), remaining_ratio);
        if remaining_ratio < BUDGET_NEARLY_SPENT_RATIO && before.is_none_or(|b| b >= BUDGET_NEARLY_SPENT_RATIO) {
            tracing::info!(event = "budget_nearly_spent", business_id = business, remaining_ratio, "business budget nearly spent");
        }
    }

    /// A reward held by its business's hourly brake.
    pub fn reward_held(&self) {
        self.rewards_held.inc();
    }

    /// A held reward released (`paid_ore` paid) or refused by its business; `remaining_ratio`
    /// as in [`Events::session_settled`].
    pub fn reward_reviewed(&self, business: &str, decision: &'static str, paid_ore: u64, remaining_ratio: f64) {
        self.reward_reviews.get_or_create(&DecisionLabel { decision }).inc();
        self.rewards_ore.inc_by(paid_ore);
        self.budget_ratios().insert(business.to_owned(), remaining_ratio);
    }

    /// A certificate was loaded (at start, or again after a reload) from the PEM file `pem`:
    /// records when it expires (the earliest expiry among the file's certificates, so a chain or
    /// a CA bundle during a rotation is watched by its weakest link). A file that cannot be read
    /// here was already read by its loader; the gauge then keeps its last value and the error is
    /// returned for the caller to log.
    pub fn cert_loaded(&self, kind: CertKind, pem: &std::path::Path) -> Result<(), CertExpiryError> {
        let not_after = cert_not_after(pem)?;
        self.cert_expiry.get_or_create(&CertLabel { cert: kind.label() }).set(not_after);
        Ok(())
    }

    /// A business actor passivated or moved away: its budget gauge goes too.
    pub fn business_gone(&self, business: &str) {
        self.budget_ratios().remove(business);
    }

    fn budget_ratios(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<String, f64>> {
        self.budget_ratio.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What is read at every scrape from state kept elsewhere (Raft, the failure detector, the
/// routing queue, scoring, the data directory, `/proc`): the node core's collector
/// (`core::collectors`), handed in once it is up ([`Telemetry::go_live`]).
pub trait Live: Send + Sync + 'static {
    /// Encodes its families at one scrape.
    fn encode(&self, enc: &mut DescriptorEncoder) -> fmt::Result;
}

/// The node's registry and its event families.
pub struct Telemetry {
    registry: Registry,
    events: Events,
    live: Arc<OnceLock<Box<dyn Live>>>,
}

impl Telemetry {
    /// A registry with every family registered; the live part reads nothing until [`Self::go_live`].
    pub fn new() -> Telemetry {
        let events = Events::new();
        let live = Arc::new(OnceLock::new());
        let mut r = Registry::default();
        let e = &events;
        r.register("svea_http_requests", "HTTP requests answered, by route pattern, method and status", e.http_requests.clone());
        r.register("svea_http_request_duration_seconds", "HTTP request duration, by route pattern, method and status", e.http_duration.clone());
        r.register("svea_actors_active", "Actors active on this node, by kind", e.actors_active.clone());
        r.register("svea_actor_activations", "Actor activations on this node, by kind", e.activations.clone());
        r.register("svea_actor_passivations", "Actor passivations on this node, by kind", e.passivations.clone());
        r.register("svea_actor_busy", "Calls answered busy (503): routing queue or actor mailbox full", e.busy.clone());
        r.register("svea_geo_decisions", "GeoIP routing decisions, by reason and chosen region", e.geo.clone());
        r.register("svea_sessions", "Sessions settled by businesses this node owns, by outcome", e.sessions.clone());
        r.register("svea_rewards_paid_ore", "Rewards paid by those settlements, in öre", e.rewards_ore.clone());
        r.register("svea_rewards_held", "Rewards the hourly brake held for their business's review", e.rewards_held.clone());
        r.register("svea_reward_reviews", "Held rewards their business released or refused, by decision", e.reward_reviews.clone());
        r.register("svea_maintenance_mode", "1 while the cluster is in maintenance mode", e.maintenance.clone());
        r.register(
            "svea_tls_cert_expiry_timestamp_seconds",
            "When the certificate expires (its earliest not-after), in Unix seconds, by cert: node, cluster_ca, https",
            e.cert_expiry.clone(),
        );
        let build: Family<BuildLabels, Gauge> = Family::default();
        build.get_or_create(&BuildLabels { version: crate::VERSION, revision: crate::REVISION }).set(1);
        r.register("svea_build_info", "Always 1; the version and git revision of this binary as labels", build);
        r.register("svea_ledger_entries", "Ledger entries written by actors this node owns, by kind", e.ledger_entries.clone());
        r.register("svea_ledger_entries_ore", "Amounts of those ledger entries, in öre, by kind", e.ledger_ore.clone());
        r.register("svea_payouts", "Payouts started, paid and failed by wallets this node owns, by state", e.payouts.clone());
        r.register("svea_payouts_ore", "Amounts of those payouts, in öre, by state", e.payouts_ore.clone());
        r.register("svea_payouts_in_flight", "Payouts in flight, as this node's payout driver last saw them", e.payouts_in_flight.clone());
        r.register("svea_payouts_stuck", "Payouts this node's driver stopped sending after payouts.attempts_max unanswered sends", e.payouts_stuck.clone());
        r.register("svea_payout_rail_errors", "Payout rail calls that got no answer", e.payout_rail_errors.clone());
        r.register("svea_mail_sent", "Mails sent (sign-up verification, sign-in links)", e.mail_sent.clone());
        r.register("svea_mail_failed", "Mails given up after mail.attempts_max sends", e.mail_failed.clone());
        r.register("svea_mail_refused", "Mails refused because the mail queue was full", e.mail_refused.clone());
        for kind in crate::domain::ledger::ENTRY_KINDS {
            let _ = e.ledger_entries.get_or_create(&KindLabel { kind: kind.as_str() });
            let _ = e.ledger_ore.get_or_create(&KindLabel { kind: kind.as_str() });
        }
        for state in PAYOUT_STATES {
            let _ = e.payouts.get_or_create(&StateLabel { state });
            let _ = e.payouts_ore.get_or_create(&StateLabel { state });
        }
        let s = &e.storage;
        r.register("svea_raft_append_duration_seconds", "Raft log append until flushed", s.append.clone());
        r.register("svea_raft_flush_duration_seconds", "One storage flush (fdatasync)", s.flush.clone());
        r.register("svea_raft_apply_duration_seconds", "State-machine apply of one Raft entry", s.apply.clone());
        r.register("svea_raft_commit_index", "Committed Raft log index as this node knows it", s.committed.clone());
        r.register("svea_raft_snapshots_built", "Snapshots built on this node", s.snapshots_built.clone());
        r.register("svea_raft_snapshots_installed", "Snapshots from the leader installed on this node", s.snapshots_installed.clone());
        for kind in ["business", "session", "wallet"] {
            // Every kind shows from the start, at zero.
            let _ = e.actors_active.get_or_create(&KindLabel { kind });
            let _ = e.activations.get_or_create(&KindLabel { kind });
            let _ = e.passivations.get_or_create(&KindLabel { kind });
        }
        for outcome in SESSION_OUTCOMES {
            let _ = e.sessions.get_or_create(&OutcomeLabel { outcome });
        }
        for decision in REVIEW_DECISIONS {
            let _ = e.reward_reviews.get_or_create(&DecisionLabel { decision });
        }
        r.register_collector(Box::new(LiveCollector { live: live.clone(), budget_ratio: e.budget_ratio.clone() }));
        Telemetry { registry: r, events, live }
    }

    /// The event families, for the code that counts.
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// The storage observer to install on the node's log store.
    pub fn storage_observer(&self) -> Arc<dyn svea_storage::StorageObserver> {
        Arc::new(self.events.storage.clone())
    }

    /// Starts reading `live` at every scrape (once; later calls are ignored).
    pub fn go_live(&self, live: Box<dyn Live>) {
        let _ = self.live.set(live);
    }

    /// The exposition (OpenMetrics text, which Prometheus scrapes as such).
    pub fn encode(&self) -> Result<String, fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry::new()
    }
}

/// The `Content-Type` of [`Telemetry::encode`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Reads the live state at every scrape.
struct LiveCollector {
    live: Arc<OnceLock<Box<dyn Live>>>,
    budget_ratio: Arc<std::sync::Mutex<std::collections::BTreeMap<String, f64>>>,
}

impl fmt::Debug for LiveCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LiveCollector")
    }
}

/// One gauge read elsewhere.
pub fn gauge(enc: &mut DescriptorEncoder, name: &str, help: &str, v: i64) -> fmt::Result {
    ConstGauge::new(v).encode(enc.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

/// One gauge of a fraction read elsewhere.
pub fn gauge_f(enc: &mut DescriptorEncoder, name: &str, help: &str, v: f64) -> fmt::Result {
    ConstGauge::new(v).encode(enc.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

/// One counter read elsewhere: `name` without `_total`.
pub fn counter(enc: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> fmt::Result {
    ConstCounter::new(v).encode(enc.encode_descriptor(name, help, None, MetricType::Counter)?)
}

/// A counter family whose samples are read elsewhere: `name` without `_total`.
pub fn counter_family<L: EncodeLabelSet>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (L, u64)>,
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in samples {
        ConstCounter::new(v).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

/// A gauge family whose samples are read elsewhere.
pub fn gauge_family<L: EncodeLabelSet>(enc: &mut DescriptorEncoder, name: &str, help: &str, samples: impl IntoIterator<Item = (L, i64)>) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, v) in samples {
        ConstGauge::new(v).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

/// `v` as a gauge's `i64`, saturating.
pub fn sat(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Collector for LiveCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let e = &mut enc;
        {
            let ratios = self.budget_ratio.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            // 1 (all left) while no business here has settled: "nothing is running out".
            let lowest = ratios.values().copied().fold(1.0_f64, f64::min);
            let nearly_spent = ratios.values().filter(|r| **r < BUDGET_NEARLY_SPENT_RATIO).count();
            drop(ratios);
            gauge_f(
                e,
                "svea_business_budget_remaining_ratio_min",
                "Lowest budget left (0..1) among the business actors this node owns, as of their last settlement",
                lowest,
            )?;
            gauge(
                e,
                "svea_businesses_budget_nearly_spent",
                "Business actors this node owns with less than 10 % of their budget left",
                sat(nearly_spent as u64),
            )?;
        }
        match self.live.get() {
            Some(live) => live.encode(e),
            None => Ok(()),
        }
    }
}

/// `svea_store_bytes` and the data directory's file system (`svea_store_free_bytes`,
/// `svea_store_filesystem_bytes`): what the disk alerts watch. A directory that cannot be read
/// exports nothing (the alerts' `absent` is not what they test; the scrape must not fail).
pub fn store(e: &mut DescriptorEncoder, data_dir: &std::path::Path) -> fmt::Result {
    if let Some(bytes) = store_bytes(data_dir) {
        gauge(e, "svea_store_bytes", "Bytes of the files under the node's data directory (the store, its snapshots, the GeoIP copy)", sat(bytes))?;
    }
    if let Some((free, size)) = filesystem_space(data_dir) {
        gauge(e, "svea_store_free_bytes", "Bytes available to svea on the data directory's file system", sat(free))?;
        gauge(e, "svea_store_filesystem_bytes", "Size of the data directory's file system in bytes", sat(size))?;
    }
    Ok(())
}

/// The sizes of the regular files under `dir`, summed; `None` when `dir` cannot be read. Visits
/// at most [`STORE_WALK_ENTRIES_MAX`] entries and never follows a symbolic link (the storage
/// crate's walk, which a store rewrite reports with too).
pub fn store_bytes(dir: &std::path::Path) -> Option<u64> {
    svea_storage::engine::dir_bytes(dir, STORE_WALK_ENTRIES_MAX)
}

/// (bytes available to an unprivileged user, file system size) of the file system holding `dir`.
#[cfg(unix)]
pub fn filesystem_space(dir: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt as _;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a NUL-terminated string that outlives the call, and `st` is a valid
    // pointer to a `statvfs` that the call fills in; it is read only when the call succeeded.
    let st = unsafe {
        if libc::statvfs(path.as_ptr(), st.as_mut_ptr()) != 0 {
            return None;
        }
        st.assume_init()
    };
    let unit = u64::from(st.f_frsize);
    Some((u64::from(st.f_bavail).saturating_mul(unit), u64::from(st.f_blocks).saturating_mul(unit)))
}

#[cfg(not(unix))]
pub fn filesystem_space(_dir: &std::path::Path) -> Option<(u64, u64)> {
    None
}

/// Largest certificate file [`cert_not_after`] reads (a chain or CA bundle is a few kilobytes).
pub const CERT_FILE_BYTES_MAX: u64 = 1024 * 1024;

/// Why a certificate's expiry could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CertExpiryError {
    /// The file could not be read.
    #[error("cannot read certificate file {}: {source}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file is larger than [`CERT_FILE_BYTES_MAX`].
    #[error("certificate file {} is larger than {CERT_FILE_BYTES_MAX} bytes", path.display())]
    TooLarge {
        /// The file.
        path: std::path::PathBuf,
    },
    /// No certificate in the file could be parsed.
    #[error("certificate file {} holds no readable certificate: {reason}", path.display())]
    NoCertificate {
        /// The file.
        path: std::path::PathBuf,
        /// What the parser said about the last block it tried.
        reason: String,
    },
}

/// The earliest not-after (Unix seconds) among the certificates of the PEM file `path`.
pub fn cert_not_after(path: &std::path::Path) -> Result<i64, CertExpiryError> {
    use std::io::Read as _;
    let read = |source| CertExpiryError::Read { path: path.to_owned(), source };
    let mut pem = Vec::new();
    std::fs::File::open(path).map_err(read)?.take(CERT_FILE_BYTES_MAX + 1).read_to_end(&mut pem).map_err(read)?;
    if pem.len() as u64 > CERT_FILE_BYTES_MAX {
        return Err(CertExpiryError::TooLarge { path: path.to_owned() });
    }
    let mut earliest: Option<i64> = None;
    let mut reason = "no PEM CERTIFICATE block".to_owned();
    for block in x509_parser::pem::Pem::iter_from_buffer(&pem) {
        let parsed = match &block {
            Ok(p) if p.label == "CERTIFICATE" => p.parse_x509().map(|c| c.validity().not_after.timestamp()).map_err(|e| e.to_string()),
            Ok(_) => continue,
            Err(e) => Err(e.to_string()),
        };
        match parsed {
            Ok(t) => earliest = Some(earliest.map_or(t, |e| e.min(t))),
            Err(e) => reason = e,
        }
    }
    earliest.ok_or(CertExpiryError::NoCertificate { path: path.to_owned(), reason })
}

/// `process_*` from `/proc/self` (Linux; elsewhere nothing).
#[cfg(target_os = "linux")]
pub fn process(e: &mut DescriptorEncoder) -> fmt::Result {
    let Ok(me) = procfs::process::Process::myself() else { return Ok(()) };
    let Ok(stat) = me.stat() else { return Ok(()) };
    use procfs::WithCurrentSystemInfo as _;
    let ticks = procfs::ticks_per_second() as f64;
    gauge(e, "process_resident_memory_bytes", "Resident memory size in bytes", sat(stat.rss_bytes().get()))?;
    // A counter of seconds: prometheus-client's ConstCounter takes f64 too.
    ConstCounter::new((stat.utime + stat.stime) as f64 / ticks)
        .encode(e.encode_descriptor("process_cpu_seconds", "User and system CPU time spent, in seconds", None, MetricType::Counter)?)?;
    if let Ok(n) = me.fd_count() {
        gauge(e, "process_open_fds", "Open file descriptors", sat(n as u64))?;
    }
    if let Ok(boot) = procfs::boot_time_secs() {
        gauge_f(e, "process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds", boot as f64 + stat.starttime as f64 / ticks)?;
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn process(_e: &mut DescriptorEncoder) -> fmt::Result {
    Ok(())
}

/// The exposition of what `f` encodes alone (unit tests of one collector's part).
pub fn encode_with(f: impl Fn(&mut DescriptorEncoder) -> fmt::Result + Send + Sync + 'static) -> String {
    struct One<F>(F);
    impl<F> fmt::Debug for One<F> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("One")
        }
    }
    impl<F: Fn(&mut DescriptorEncoder) -> fmt::Result + Send + Sync + 'static> Collector for One<F> {
        fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
            (self.0)(&mut enc)
        }
    }
    let mut r = Registry::default();
    r.register_collector(Box::new(One(f)));
    let mut out = String::new();
    let _ = prometheus_client::encoding::text::encode(&mut out, &r);
    out
}

/// The family names in an exposition (`# TYPE <name> ...` lines; counters carry their
/// `_total` sample suffix, as Prometheus and the deploy rules name them).
pub fn family_names(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (name, kind) = (it.next()?, it.next()?);
            Some(if kind == "counter" { format!("{name}_total") } else { name.to_owned() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_families_show_from_the_start_and_counters_end_in_total() {
        let t = Telemetry::new();
        t.events().http_request(HttpLabels { route: "/v1/sessions/{id}".into(), method: "GET".into(), status: 200 }, Duration::from_millis(3));
        let text = t.encode().expect("encode");
        let names = family_names(&text);
        for n in [
            "svea_http_requests_total",
            "svea_http_request_duration_seconds",
            "svea_actors_active",
            "svea_actor_activations_total",
            "svea_sessions_total",
            "svea_rewards_paid_ore_total",
            "svea_rewards_held_total",
            "svea_reward_reviews_total",
            "svea_raft_append_duration_seconds",
            "svea_raft_commit_index",
            "svea_maintenance_mode",
        ] {
            assert!(names.contains(n), "{n} missing from {names:?}");
        }
        assert!(text.contains("svea_http_requests_total{route=\"/v1/sessions/{id}\",method=\"GET\",status=\"200\"} 1"), "{text}");
        assert!(text.contains("svea_http_request_duration_seconds_bucket{le=\"0.005\",route=\"/v1/sessions/{id}\",method=\"GET\",status=\"200\"} 1"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn budgets_are_exported_in_aggregate_and_never_name_a_business() {
        let t = Telemetry::new();
        let e = t.events();
        e.session_settled("b_00000000000000000000000000000001", "rewarded", 100, 0.5);
        e.session_settled("b_00000000000000000000000000000002", "rewarded", 100, 0.05);
        e.session_settled("b_00000000000000000000000000000003", "rewarded", 100, 0.08);
        let text = t.encode().expect("encode");
        assert!(text.contains("svea_business_budget_remaining_ratio_min 0.05\n"), "{text}");
        assert!(text.contains("svea_businesses_budget_nearly_spent 2\n"), "{text}");
        assert!(!text.contains("b_0000") && !text.contains("business=\""), "{text}");
        e.business_gone("b_00000000000000000000000000000002");
        let text = t.encode().expect("encode");
        assert!(text.contains("svea_business_budget_remaining_ratio_min 0.08\n"), "{text}");
        assert!(text.contains("svea_businesses_budget_nearly_spent 1\n"), "{text}");
    }

    #[test]
    fn storage_timings_land_in_their_histograms() {
        let t = Telemetry::new();
        let o = t.storage_observer();
        o.flushed(Duration::from_millis(2));
        o.committed(42);
        o.snapshot_built();
        let text = t.encode().expect("encode");
        assert!(text.contains("svea_raft_flush_duration_seconds_count 1\n"), "{text}");
        assert!(text.contains("svea_raft_commit_index 42\n"), "{text}");
        assert!(text.contains("svea_raft_snapshots_built_total 1\n"), "{text}");
    }
}
