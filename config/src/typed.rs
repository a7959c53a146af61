//! The validated configuration every other crate receives, and how to obtain it.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnetwork::IpNetwork;
use serde::{Deserialize, Serialize};

use crate::raw::RawConfig;
use crate::{env, Error, NodeId, PeerAddr, Region};

/// Largest config file we agree to read; a real one is a few kilobytes.
pub const CONFIG_FILE_BYTES_MAX: u64 = 1024 * 1024;

/// Validated configuration of one node.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// This process.
    pub node: NodeConfig,
    /// The region table; names are unique and `node.region` is among them.
    pub regions: Vec<RegionSpec>,
    /// Cluster identity and bootstrap membership.
    pub cluster: ClusterConfig,
    /// This node's certificate files for the Raft transport's mutual TLS.
    pub tls: TlsConfig,
    /// Every wait and interval.
    pub timeouts: Timeouts,
    /// Every bound on sizes and queues.
    pub limits: Limits,
    /// Logging.
    pub log: LogConfig,
    /// GeoIP routing of customers.
    pub geo: GeoConfig,
    /// `[operator]`.
    pub operator: OperatorConfig,
    /// How device ids are kept.
    pub privacy: PrivacyConfig,
    /// How long customers' data is kept.
    pub retention: RetentionConfig,
    /// `[abuse]`: limits that protect the public API and the reward budgets.
    pub abuse: AbuseConfig,
    /// `[http]`: HTTPS on the public listener.
    pub http: HttpConfig,
    /// `[pos]`: purchases verified by the till.
    pub pos: PosConfig,
    /// `[scoring]`: who scores feedback texts.
    pub scoring: ScoringConfig,
    /// `[dashboard]`: the bounds of a business's dashboard and feedback list.
    pub dashboard: crate::dashboard::DashboardConfig,
    /// `[signup]`: what creating a business may cost.
    pub signup: crate::signup::SignupConfig,
    /// `[swish]`: how svea reaches Swish's Payout API.
    pub swish: crate::swish::SwishConfig,
    /// `[funding]`: where reward money comes from.
    pub funding: crate::money::FundingConfig,
    /// `[payouts]`: how cashback leaves svea.
    pub payouts: crate::money::PayoutsConfig,
    /// `[stripe]`: funding budgets by card through Stripe Checkout.
    pub stripe: crate::stripe::StripeConfig,
    /// `[public]`: the cluster's one public address (QR codes, posters, links).
    pub public: crate::public::PublicConfig,
    /// `[mail]`: how sign-up and sign-in mails are sent.
    pub mail: crate::mail::MailConfig,
}

/// `[http]`: how the public listener is secured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// The certificate chain and key the public listener serves HTTPS with (`http.tls_cert`,
    /// `http.tls_key`); `None` means plain HTTP, allowed only on loopback or behind a proxy.
    pub tls: Option<HttpsFiles>,
    /// Plain HTTP on a public address behind a TLS-terminating proxy named in
    /// `geo.trusted_proxies` (`http.plaintext_behind_proxy`).
    pub plaintext_behind_proxy: bool,
    /// A whole request within this: headers within the first half, the body within the second
    /// (`http.request_read_timeout_ms`).
    pub request_read_timeout: Duration,
    /// Concurrent connections per client address (`http.connections_per_address_max`), > 0.
    pub connections_per_address_max: u32,
}

/// The PEM files of the public listener's HTTPS certificate. Read by
/// `svea_cluster::tls::https_server_config` at startup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpsFiles {
    /// Certificate chain, leaf first (`http.tls_cert`).
    pub cert: PathBuf,
    /// Its private key (`http.tls_key`).
    pub key: PathBuf,
}

/// `[abuse]`: limits that protect the public API and the businesses' reward budgets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbuseConfig {
    /// Sustained requests a second per client address (`abuse.requests_per_second`), > 0.
    pub requests_per_second: std::num::NonZeroU32,
    /// Requests per client address at once (`abuse.burst`), >= `requests_per_second`.
    pub burst: std::num::NonZeroU32,
    /// How often buckets of quiet addresses are dropped (`abuse.prune_interval_ms`), > 0.
    pub prune_interval: Duration,
    /// Rewarded sessions per device, business and Swedish day
    /// (`abuse.rewarded_sessions_per_device_day`), > 0.
    pub rewarded_sessions_per_device_day: u32,
    /// Cashback a business pays at most per Swedish day, in öre
    /// (`abuse.business_daily_reward_cap_sek` * 100), > 0.
    pub business_daily_reward_cap_ore: i64,
    /// Feedback this similar (percent) to an earlier text at the business is a duplicate
    /// (`abuse.duplicate_similarity_percent`), 1..=100.
    pub duplicate_similarity_percent: u8,
    /// Earlier feedback fingerprints kept per business (`abuse.feedback_fingerprints_kept`),
    /// 1..=[`FEEDBACK_FINGERPRINTS_KEPT_MAX`].
    pub feedback_fingerprints_kept: u32,
    /// Rewarded sessions per client network (IPv4 /24, IPv6 /48), business and Swedish day
    /// (`abuse.rewarded_sessions_per_network_day`), > 0.
    pub rewarded_sessions_per_network_day: u32,
    /// The hourly brake's factor (`abuse.brake_factor`), 1..=[`BRAKE_FACTOR_MAX`].
    pub brake_factor: u32,
    /// The hourly brake's floor, rewards an hour (`abuse.brake_floor_per_hour`),
    /// 1..=[`BRAKE_FLOOR_PER_HOUR_MAX`].
    pub brake_floor_per_hour: u32,
    /// Default ceiling of a self-declared purchase for new businesses, in öre
    /// (`abuse.declared_amount_max_sek` * 100), 1..=[`DECLARED_AMOUNT_MAX_SEK_MAX`] SEK.
    pub declared_amount_max_ore: i64,
    /// Sustained privacy requests (export, erase) a minute per client address
    /// (`abuse.privacy_requests_per_minute`), > 0.
    pub privacy_requests_per_minute: std::num::NonZeroU32,
    /// Privacy requests per client address at once (`abuse.privacy_burst`), > 0.
    pub privacy_burst: std::num::NonZeroU32,
    /// Feedback containing this share (percent) of an earlier text, or contained this much in
    /// one, is a duplicate (`abuse.duplicate_containment_percent`), 1..=100.
    pub duplicate_containment_percent: u8,
    /// Fingerprints of every business's last day read per settlement
    /// (`abuse.day_fingerprints_scan_max`), 1..=[`DAY_FINGERPRINTS_SCAN_MAX_MAX`].
    pub day_fingerprints_scan_max: u32,
    /// Fingerprints one business adds to the last day's record per Swedish day
    /// (`abuse.day_fingerprints_per_business_max`), 1..=[`DAY_FINGERPRINTS_PER_BUSINESS_MAX_MAX`].
    pub day_fingerprints_per_business_max: u32,
}

/// Highest brake factor accepted: beyond it the brake would never engage for a business with
/// any history.
pub const BRAKE_FACTOR_MAX: u32 = 1000;

/// Highest brake floor accepted, rewards an hour (keeps the brake's arithmetic far from overflow).
pub const BRAKE_FLOOR_PER_HOUR_MAX: u32 = 1_000_000;

/// Highest ceiling of a self-declared purchase, whole SEK, for the config and for a business's
/// own setting: above it a business must verify purchases with its till.
pub const DECLARED_AMOUNT_MAX_SEK_MAX: u64 = 10_000;

/// Most fingerprints of the last day a settlement may read: each costs a store read and 64
/// binary searches inside the business's one-at-a-time slot.
pub const DAY_FINGERPRINTS_SCAN_MAX_MAX: u32 = 100_000;
/// Most fingerprints one business may add to the last day's record per day.
pub const DAY_FINGERPRINTS_PER_BUSINESS_MAX_MAX: u32 = 100_000;

/// Most feedback fingerprints a business may keep: each settlement compares against all of them.
pub const FEEDBACK_FINGERPRINTS_KEPT_MAX: u32 = 4096;

/// Highest daily reward cap accepted, whole SEK: keeps the cap in öre far from overflow.
pub const BUSINESS_DAILY_REWARD_CAP_SEK_MAX: u64 = 1_000_000_000;

/// Most regions in the region table: each region's data is a Raft group, and a node runs at
/// most 16 (the storage's limit).
pub const REGIONS_MAX: usize = 16;

/// A region and where its data centre is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionSpec {
    /// Region name.
    pub name: Region,
    /// Latitude in degrees, within [-90, 90].
    pub lat: f64,
    /// Longitude in degrees, within [-180, 180].
    pub lon: f64,
}

/// This node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    /// This node's id.
    pub id: NodeId,
    /// The region this node serves.
    pub region: Region,
    /// Where peers reach this node's Raft transport: the address in the cluster membership (an
    /// `ip:port`, or a `host:port` name peers resolve when they connect).
    pub raft_addr: PeerAddr,
    /// Where the Raft transport binds (`node.raft_listen_addr`); `raft_addr` when not configured.
    pub raft_listen_addr: SocketAddr,
    /// Where the HTTP API listens.
    pub http_addr: SocketAddr,
    /// Base URL at which others reach the HTTP API; starts with `http://` or `https://`.
    pub public_url: String,
    /// Directory for this node's storage.
    pub data_dir: PathBuf,
    /// What to do with a customer whose nearest healthy region is another one (`node.routing`).
    pub routing: Routing,
}

/// What a node does with `POST /v1/sessions` from a customer whose nearest healthy region is
/// another region (`node.routing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Routing {
    /// Answer 307 to that region's public URL (`"redirect"`, the default).
    #[default]
    Redirect,
    /// Serve the request here anyway (`"serve"`).
    Serve,
}

impl Routing {
    /// The name as written in the config: `redirect` or `serve`.
    pub fn as_str(self) -> &'static str {
        match self {
            Routing::Redirect => "redirect",
            Routing::Serve => "serve",
        }
    }

    /// The variant named `value` exactly (`redirect` or `serve`), if any.
    pub(crate) fn parse(value: &str) -> Result<Routing, String> {
        match value {
            "redirect" => Ok(Routing::Redirect),
            "serve" => Ok(Routing::Serve),
            _ => Err(format!("{value:?} is not one of \"redirect\", \"serve\"")),
        }
    }
}

impl fmt::Display for Routing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One node of the initial cluster membership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSpec {
    /// The member's id.
    pub id: NodeId,
    /// The member's region.
    pub region: Region,
    /// The member's Raft address (`ip:port` or `host:port`).
    pub raft_addr: PeerAddr,
    /// The member's HTTP address (`ip:port` or `host:port`).
    pub http_addr: PeerAddr,
    /// The member's public base URL.
    pub public_url: String,
}

/// Cluster identity and bootstrap membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// Cluster name.
    pub name: String,
    /// Bootstrap members, ids unique, containing this node; empty means this node bootstraps alone
    /// (use [`Config::initial_members`] to get the effective list).
    pub initial_members: Vec<MemberSpec>,
    /// Fixed addresses of peer host names (`cluster.hosts`), consulted before DNS.
    pub hosts: BTreeMap<String, IpAddr>,
    /// How the data is split into Raft groups (`cluster.groups`).
    pub groups: GroupLayout,
}

/// How the replicated data is split into Raft groups (`cluster.groups`). Fixed for the life of a
/// cluster: every node must run the same layout over the same region table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GroupLayout {
    /// One group per region of the region table, in table order, each led from its region
    /// (`"per-region"`, the default).
    #[default]
    PerRegion,
    /// One group for everything, led from wherever its election lands (`"one"`): the layout
    /// before groups, kept to measure what the groups buy.
    One,
}

impl GroupLayout {
    /// The name as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupLayout::PerRegion => "per-region",
            GroupLayout::One => "one",
        }
    }

    /// The variant named `value` exactly, if any.
    pub(crate) fn parse(value: &str) -> Result<GroupLayout, String> {
        match value {
            "per-region" => Ok(GroupLayout::PerRegion),
            "one" => Ok(GroupLayout::One),
            _ => Err(format!("{value:?} is not one of \"per-region\", \"one\"")),
        }
    }
}

/// Where this node's TLS files are; defaults resolved under `<node.data_dir>/tls/`. The files are
/// not read here: `svea_cluster::tls::Identity::load` reads and checks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The cluster CA certificate(s) (`tls.ca_cert`, default `<data_dir>/tls/ca.pem`).
    pub ca_cert: PathBuf,
    /// This node's certificate chain (`tls.node_cert`, default `<data_dir>/tls/node.pem`).
    pub node_cert: PathBuf,
    /// This node's private key (`tls.node_key`, default `<data_dir>/tls/node.key`).
    pub node_key: PathBuf,
    /// How often the certificate files (these and `[http]`'s) are checked for a new certificate
    /// (`tls.reload_interval_ms`); SIGHUP checks at once.
    pub reload_interval: Duration,
}

/// Every wait and interval, all non-zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    /// Raft heartbeat interval (`heartbeat_ms`).
    pub heartbeat: Duration,
    /// Lower bound of the election timeout (`election_timeout_ms_min`); more than 3 heartbeats.
    pub election_min: Duration,
    /// Upper bound of the election timeout (`election_timeout_ms_max`); more than `election_min`.
    pub election_max: Duration,
    /// Deadline for one Raft RPC (`raft_rpc_timeout_ms`).
    pub raft_rpc: Duration,
    /// Deadline for a client write to commit (`client_write_timeout_ms`).
    pub client_write: Duration,
    /// Deadline for a storage flush (`storage_flush_timeout_ms`).
    pub storage_flush: Duration,
    /// Interval of the store's compaction: snapshot, purge, rewrite (`store_rewrite_ms`).
    pub store_rewrite: Duration,
    /// Passivate an actor idle this long (`actor_idle_ms`).
    pub actor_idle: Duration,
    /// Expire a session idle this long (`session_expiry_ms`).
    pub session_expiry: Duration,
    /// Interval between expiry sweeps (`expiry_sweep_ms`).
    pub expiry_sweep: Duration,
    /// Fail a region over after this much silence (`failover_after_ms`); more than `heartbeat`.
    pub failover_after: Duration,
    /// Time allowed for a graceful shutdown (`shutdown_grace_ms`).
    pub shutdown_grace: Duration,
    /// Close a QUIC connection silent this long (`quic_idle_ms`).
    pub quic_idle: Duration,
    /// Keep-alive interval of an idle QUIC connection (`quic_keepalive_ms`); less than `quic_idle`.
    pub quic_keepalive: Duration,
    /// Deadline for connecting to a peer, handshake included (`connect_ms`).
    pub connect: Duration,
    /// Upper bound of the backoff between reconnect attempts (`reconnect_backoff_ms_max`).
    pub reconnect_backoff_max: Duration,
    /// Deadline of one membership change or drain step (`membership_change_ms`).
    pub membership_change: Duration,
}

/// Every bound on sizes and queues, all non-zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted HTTP request body.
    pub http_body_bytes: usize,
    /// Bound of each actor's mailbox.
    pub actor_mailbox_len: usize,
    /// Bound of the actor registry's queue.
    pub registry_queue_len: usize,
    /// Take a Raft snapshot after this many log entries since the last one.
    pub snapshot_logs_since_last: u64,
    /// Log entries kept behind a snapshot for lagging followers.
    pub max_in_snapshot_log_to_keep: u64,
    /// Largest Raft or actor message accepted; a frame over it is refused before it is read.
    pub max_frame_bytes: usize,
    /// Largest Raft snapshot accepted from a peer.
    pub max_snapshot_bytes: u64,
    /// Bytes of sled's page cache.
    pub storage_cache_bytes: u64,
}

/// `[pos]`: the windows of purchases verified by the till, each in (0, one day].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosConfig {
    /// How long a confirmation waits for the till's report (`await_purchase_ms`).
    pub await_purchase: Duration,
    /// Largest difference between the confirmed and the reported purchase time (`match_window_ms`).
    pub match_window: Duration,
    /// Largest difference between a signed delivery timestamp and the clock (`timestamp_tolerance_ms`).
    pub timestamp_tolerance: Duration,
    /// Till confirmations of a session that may end unbacked (`session_failed_tries_max`, 1 to 100).
    pub session_failed_tries_max: u32,
    /// Mismatches a reported receipt takes before it is locked (`receipt_mismatches_max`, 1 to 100).
    pub receipt_mismatches_max: u32,
}

/// Logging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// A `tracing_subscriber::EnvFilter` directive.
    pub filter: String,
    /// How each line is written (`log.format`).
    pub format: LogFormat,
}

/// How log lines are written (`log.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LogFormat {
    /// Human-readable lines (`"text"`, the default).
    #[default]
    Text,
    /// One JSON object per line, span fields (the request id) included (`"json"`).
    Json,
}

impl LogFormat {
    /// The name as written in the config: `text` or `json`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }

    /// The variant named `value` exactly (`text` or `json`), if any.
    pub(crate) fn parse(value: &str) -> Result<LogFormat, String> {
        match value {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("{value:?} is not one of \"text\", \"json\"")),
        }
    }
}

/// GeoIP routing of customers to their nearest healthy region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeoConfig {
    /// The city database file (`geo.db_path`); `None` means the bundled Nordic DB-IP City Lite subset.
    pub db_path: Option<PathBuf>,
    /// Where private, loopback and unlocatable addresses go, first healthy wins
    /// (`geo.default_order`): non-empty, no duplicates, all in the region table. Defaults to the
    /// region table's names in table order.
    pub default_order: Vec<Region>,
    /// Peers whose `Forwarded` / `X-Forwarded-For` headers are believed (`geo.trusted_proxies`);
    /// a bare address is a /32 or /128 network.
    pub trusted_proxies: Vec<IpNetwork>,
    /// How often the database file is checked for changes on disk (`geo.reload_interval_ms`), > 0.
    pub reload_interval: Duration,
}

impl Config {
    /// Defaults, then the TOML file at `path` if given, then `SVEA_*` entries of `env`; validated.
    ///
    /// Pass [`crate::env_vars()`] as `env` in production and a literal map in tests.
    pub fn load(path: Option<&Path>, env: &BTreeMap<String, String>) -> Result<Config, Error> {
        let raw = match path {
            None => RawConfig::default(),
            Some(path) => RawConfig::from_file(path)?,
        };
        Config::from_raw_and_env(raw, env)
    }

    /// Like [`Config::load`] with the TOML text given directly.
    pub fn from_toml_str(text: &str, env: &BTreeMap<String, String>) -> Result<Config, Error> {
        Config::from_raw_and_env(RawConfig::from_toml_str(text)?, env)
    }

    fn from_raw_and_env(
        mut raw: RawConfig,
        env: &BTreeMap<String, String>,
    ) -> Result<Config, Error> {
        let from_env = env::apply(&mut raw, env)?;
        raw.validate().map_err(|error| match error {
            // Point at the variable too: the file may look right while the environment is wrong.
            // `geo.trusted_proxies[2]` was set by the variable of `geo.trusted_proxies`.
            Error::Invalid { key, reason } => match from_env.get(list_key(&key)) {
                Some(name) => Error::Invalid {
                    reason: format!("{reason} (value set by environment variable {name})"),
                    key,
                },
                None => Error::Invalid { key, reason },
            },
            other => other,
        })
    }

    /// The home region of each Raft group, group `g` at `[g]`: each region of the table in
    /// order (`cluster.groups = "per-region"`), or one group without a home (`"one"`).
    pub fn group_homes(&self) -> Vec<Option<Region>> {
        match self.cluster.groups {
            GroupLayout::PerRegion => self.regions.iter().map(|r| Some(r.name.clone())).collect(),
            GroupLayout::One => vec![None],
        }
    }

    /// The bootstrap membership: `cluster.initial_members`, or this node alone when that is empty.
    pub fn initial_members(&self) -> Vec<MemberSpec> {
        if !self.cluster.initial_members.is_empty() {
            return self.cluster.initial_members.clone();
        }
        vec![MemberSpec {
            id: self.node.id,
            region: self.node.region.clone(),
            raft_addr: self.node.raft_addr.clone(),
            http_addr: self.node.http_addr.into(),
            public_url: self.node.public_url.clone(),
        }]
    }

    /// The region table entry for `name`, if any.
    pub fn region(&self, name: &Region) -> Option<&RegionSpec> {
        self.regions.iter().find(|spec| &spec.name == name)
    }
}

impl RawConfig {
    /// Parse TOML text over the defaults; unknown keys are refused. Errors say `<string>` as origin.
    pub fn from_toml_str(text: &str) -> Result<RawConfig, Error> {
        parse(text, "<string>")
    }

    /// The config as TOML text, every key written: what [`RawConfig::from_toml_str`] reads back
    /// as this same config. Strings and paths are escaped by the serializer.
    pub fn to_toml_string(&self) -> Result<String, Error> {
        toml::to_string(self).map_err(|e| Error::Serialize {
            message: e.to_string(),
        })
    }

    /// Read and parse a TOML file over the defaults; unknown keys are refused.
    pub fn from_file(path: &Path) -> Result<RawConfig, Error> {
        let read_error = |source| Error::Read {
            path: path.to_owned(),
            source,
        };
        let mut text = String::new();
        std::fs::File::open(path)
            .map_err(read_error)?
            .take(CONFIG_FILE_BYTES_MAX + 1)
            .read_to_string(&mut text)
            .map_err(read_error)?;
        if text.len() as u64 > CONFIG_FILE_BYTES_MAX {
            return Err(Error::TooLarge {
                path: path.to_owned(),
                limit_bytes: CONFIG_FILE_BYTES_MAX,
            });
        }
        parse(&text, &path.display().to_string())
    }

    /// Apply the `SVEA_*` entries of `env` (other entries are ignored). An unknown `SVEA_` name is
    /// [`Error::UnknownEnv`]; a value that does not parse is [`Error::BadEnv`].
    pub fn apply_env(&mut self, env: &BTreeMap<String, String>) -> Result<(), Error> {
        env::apply(self, env).map(|_| ())
    }
}

/// The dotted key without a trailing list index: `geo.default_order[1]` -> `geo.default_order`.
fn list_key(key: &str) -> &str {
    match key.strip_suffix(']').and_then(|k| k.rsplit_once('[')) {
        Some((list, index)) if index.bytes().all(|b| b.is_ascii_digit()) => list,
        _ => key,
    }
}

fn parse(text: &str, origin: &str) -> Result<RawConfig, Error> {
    toml::from_str(text).map_err(|error| {
        let mut message = error.message().trim_end().to_owned();
        if let Some(span) = error.span() {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            let column = before[line_start..].chars().count() + 1;
            let snippet = text.lines().nth(line - 1).unwrap_or("").trim();
            message = format!("{message} (line {line}, column {column}: `{snippet}`)");
        }
        Error::Parse {
            origin: origin.to_owned(),
            message,
        }
    })
}

/// `[operator]`: access to the operator API.
#[derive(Clone, PartialEq, Eq)]
pub struct OperatorConfig {
    /// Bearer token required by `/v1/cluster`; `None` disables the operator API and its listener.
    pub token: Option<String>,
    /// Where the operator listener binds (`operator.listen_addr`): always a loopback address.
    pub listen_addr: SocketAddr,
    /// Where the metrics-only listener binds (`operator.metrics_listen_addr`), if anywhere.
    pub metrics_listen_addr: Option<SocketAddr>,
    /// The scrape-only bearer token of `/metrics` (`operator.metrics_token`).
    pub metrics_token: Option<String>,
}

impl std::fmt::Debug for OperatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("OperatorConfig")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("listen_addr", &self.listen_addr)
            .field("metrics_listen_addr", &self.metrics_listen_addr)
            .field("metrics_token", &self.metrics_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// `[privacy]`: how customers' device ids are kept.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivacyConfig {
    /// Key of the keyed hash under which device ids are stored (the same on every node).
    pub device_key: String,
    /// Whether `device_key` is the publicly known loopback key ([`crate::DEMO_DEVICE_KEY`]).
    pub demo_key: bool,
}

impl std::fmt::Debug for PrivacyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("PrivacyConfig").field("device_key", &"<redacted>").field("demo_key", &self.demo_key).finish()
    }
}

/// `[retention]`: how long customers' data is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionConfig {
    /// Feedback texts older than this are redacted by the sweeper (zero: at the next sweep).
    pub feedback: Duration,
}

/// Who scores feedback texts (`scoring.backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScoringBackend {
    /// The built-in rubric alone (`"rubric"`, the default).
    #[default]
    Rubric,
    /// A language model behind an Ollama-compatible `/api/generate` (`"ollama"`), with the
    /// rubric as fallback on any failure.
    Ollama,
}

impl ScoringBackend {
    /// The name as written in the config: `rubric` or `ollama`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScoringBackend::Rubric => "rubric",
            ScoringBackend::Ollama => "ollama",
        }
    }
}

/// `[scoring]`: who scores feedback texts. The model keys are checked whichever backend is
/// chosen, so switching it on later cannot meet a bad value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoringConfig {
    /// `scoring.backend`.
    pub backend: ScoringBackend,
    /// Base URL of the Ollama server (`scoring.ollama_url`): `http://`, no trailing `/`.
    pub ollama_url: String,
    /// The model asked (`scoring.model`): printable ASCII without spaces, at most
    /// [`SCORING_MODEL_LEN_MAX`] characters (it is stored with every score it gives).
    pub model: String,
    /// Longest wait for the model's answer (`scoring.timeout_ms`), in (0, 30 s].
    pub timeout: Duration,
    /// Characters of feedback text put in the prompt (`scoring.prompt_chars_max`), 1..=5000.
    pub prompt_chars_max: usize,
    /// Model calls in flight at once from this node (`scoring.calls_in_flight_max`), 1..=64.
    pub calls_in_flight_max: usize,
    /// Where the rubric's dictionaries are read from (`scoring.dictionary_dir`); `None`: the
    /// ones embedded in the binary.
    pub dictionary_dir: Option<std::path::PathBuf>,
}

/// Longest model name accepted: each session's score records it.
pub const SCORING_MODEL_LEN_MAX: usize = 100;
/// Longest `scoring.ollama_url` accepted.
pub const SCORING_URL_LEN_MAX: usize = 2048;
