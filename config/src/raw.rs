//! The configuration as written: TOML-shaped, unvalidated, every field defaulted.

use serde::{Deserialize, Serialize};

// Defaults, related at compile time so a careless edit cannot ship an invalid default config.
// The Raft and failure-detector timings are set for 2-5 ms round trips between regions and for
// failover under a second; ARCHITECTURE.md ("Failover, and why the timeouts are what they are")
// gives the reasoning.
const HEARTBEAT_MS: u64 = 50;
const ELECTION_TIMEOUT_MS_MIN: u64 = 200;
const ELECTION_TIMEOUT_MS_MAX: u64 = 400;
const RAFT_RPC_TIMEOUT_MS: u64 = 1000;
const CLIENT_WRITE_TIMEOUT_MS: u64 = 5000;
const STORAGE_FLUSH_TIMEOUT_MS: u64 = 5000;
const STORE_REWRITE_MS: u64 = 300_000;
const ACTOR_IDLE_MS: u64 = 300_000;
const SESSION_EXPIRY_MS: u64 = 900_000;
const EXPIRY_SWEEP_MS: u64 = 5000;
const FAILOVER_AFTER_MS: u64 = 500;
const SHUTDOWN_GRACE_MS: u64 = 10_000;
const QUIC_IDLE_MS: u64 = 10_000;
const QUIC_KEEPALIVE_MS: u64 = 2000;
const CONNECT_MS: u64 = 2000;
const RECONNECT_BACKOFF_MS_MAX: u64 = 2000;
const MEMBERSHIP_CHANGE_MS: u64 = 60_000;
const _: () = assert!(HEARTBEAT_MS * 3 < ELECTION_TIMEOUT_MS_MIN);
const _: () = assert!(ELECTION_TIMEOUT_MS_MIN < ELECTION_TIMEOUT_MS_MAX);
const _: () = assert!(FAILOVER_AFTER_MS > HEARTBEAT_MS);
// openraft 0.9's leader lease is the maximum election timeout: a follower refuses votes that long
// after the last heartbeat. A candidate refused on its first timeout tries again one timeout
// later; with 2 * min >= max that second try always falls after the lease.
const _: () = assert!(ELECTION_TIMEOUT_MS_MIN * 2 >= ELECTION_TIMEOUT_MS_MAX);
// A region is declared down only after Raft could have replaced a dead leader in it, so the
// takeover's claims find a leader to commit them.
const _: () = assert!(FAILOVER_AFTER_MS > ELECTION_TIMEOUT_MS_MAX);
const _: () = assert!(QUIC_KEEPALIVE_MS < QUIC_IDLE_MS);

const HTTP_BODY_BYTES: usize = 64 * 1024;
const ACTOR_MAILBOX_LEN: usize = 64;
const REGISTRY_QUEUE_LEN: usize = 4096;
const SNAPSHOT_LOGS_SINCE_LAST: u64 = 5000;
const MAX_IN_SNAPSHOT_LOG_TO_KEEP: u64 = 1000;
const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;
const MAX_SNAPSHOT_BYTES: u64 = 1024 * 1024 * 1024;
/// sled's page cache (its default is 1 GiB, which it fills under a long write load: issue 12's
/// 200 s run grew RSS to ~300 MB with ~19 MB of live data). 64 MiB holds the live state of the
/// demo and the benchmarks several times over.
const STORAGE_CACHE_BYTES: u64 = 64 * 1024 * 1024;

const GEO_RELOAD_INTERVAL_MS: u64 = 5000;

// Abuse limits. A phone scanning, confirming and giving feedback makes a handful of requests a
// minute; 10 a second with a burst of 40 leaves room for a shared NAT (a café's wifi) while a
// script opening sessions in a loop is stopped after 40 and then slowed to 10 a second.
const ABUSE_REQUESTS_PER_SECOND: u32 = 10;
const ABUSE_BURST: u32 = 40;
const ABUSE_PRUNE_INTERVAL_MS: u64 = 60_000;
const ABUSE_REWARDED_SESSIONS_PER_DEVICE_DAY: u32 = 1;
const ABUSE_BUSINESS_DAILY_REWARD_CAP_SEK: u64 = 5000;
const ABUSE_DUPLICATE_SIMILARITY_PERCENT: u8 = 60;
const ABUSE_FEEDBACK_FINGERPRINTS_KEPT: u32 = 256;
// Rewards per client network (IPv4 /24, IPv6 /48) per business and Swedish day: a household or an
// office shares one network, a phone farm behind one line shares it too (issue 20).
const ABUSE_REWARDED_SESSIONS_PER_NETWORK_DAY: u32 = 3;
// The hourly brake: rewards in the last hour above max(factor x the business's own 7-day hourly
// mean, floor) are held for the business's review. The 7-day mean counts closed hours too: a
// shop open 12 of 24 hours whose busiest hour takes 2.5x its open-hour mean peaks at 5x its
// 24-hour mean; 6 leaves a fifth over that for a good day, while a drain at 10x its normal rate
// is held within the hour. The floor carries young and small businesses (a busy café's lunch
// hour is about 20 paying customers).
const ABUSE_BRAKE_FACTOR: u32 = 6;
const ABUSE_BRAKE_FLOOR_PER_HOUR: u32 = 20;
// A self-declared purchase (no till) above this is refused: the business must use its till.
const ABUSE_DECLARED_AMOUNT_MAX_SEK: u64 = 1000;
// The privacy routes (export, erase) are what a customer uses a few times a year, and each one
// reads up to a page of sessions through their actors: 10 a minute with a burst of 5 serves a
// customer paging through an export or repeating an erasure, and holds a script to one request
// every 6 s per address on top of the general bucket.
const ABUSE_PRIVACY_REQUESTS_PER_MINUTE: u32 = 10;
const ABUSE_PRIVACY_BURST: u32 = 5;
// Near-duplicates by containment (issue 20): half of an earlier text inside a new one (or the
// other way round) is a copy; independent reviews share well under a fifth of their shingles
// (the corpus test, node/src/domain/corpus_tests.rs).
const ABUSE_DUPLICATE_CONTAINMENT_PERCENT: u8 = 50;
// Every business's texts of the last day: each settlement reads at most this many (a few ms of
// sled reads and 64 binary searches each), and one business adds at most this many a day.
const ABUSE_DAY_FINGERPRINTS_SCAN_MAX: u32 = 10_000;
const ABUSE_DAY_FINGERPRINTS_PER_BUSINESS_MAX: u32 = 500;
const _: () = assert!(ABUSE_BURST >= ABUSE_REQUESTS_PER_SECOND);
const _: () = assert!(GEO_RELOAD_INTERVAL_MS > 0);

// Purchases verified by the till (`[pos]`).
const POS_AWAIT_PURCHASE_MS: u64 = 600_000;
const POS_MATCH_WINDOW_MS: u64 = 900_000;
// Zettle retries a failed delivery every 60 s for 10 attempts (its Pusher troubleshooting guide);
// should a retry carry the event's original timestamp, 15 min still takes it. Replays of any age
// are refused by the event-id record; this window is the second line.
const POS_TIMESTAMP_TOLERANCE_MS: u64 = 900_000;
/// Upper bound of every `[pos]` window: a day. Longer would let a confirmation wait, a stale
/// delivery count, or a receipt match for longer than any till needs.
pub const POS_WINDOW_MS_MAX: u64 = 86_400_000;
const _: () = assert!(POS_AWAIT_PURCHASE_MS <= POS_WINDOW_MS_MAX);
const _: () = assert!(POS_MATCH_WINDOW_MS <= POS_WINDOW_MS_MAX);
const _: () = assert!(POS_TIMESTAMP_TOLERANCE_MS <= POS_WINDOW_MS_MAX);
// Guessing a reported receipt's amount (issue 20): a session gets three till confirmations that end
// unbacked, a receipt five mismatched amounts across sessions before its business must release it.
const POS_SESSION_FAILED_TRIES_MAX: u32 = 3;
const POS_RECEIPT_MISMATCHES_MAX: u32 = 5;
/// Upper bound of both try limits: each receipt try is one record, read one by one.
pub const POS_TRIES_MAX: u32 = 100;
const _: () = assert!(POS_SESSION_FAILED_TRIES_MAX <= POS_TRIES_MAX && POS_RECEIPT_MISMATCHES_MAX <= POS_TRIES_MAX);
/// A year: long enough for a business to act on feedback, short enough that texts do not pile up.
const FEEDBACK_RETENTION_DAYS: u32 = 365;

// Scoring by a language model (`[scoring]`). The seeds run `qwen2:0.5b` under Ollama on the
// node's machine; a customer waits for the answer, so the wait is short and the rubric takes
// over when it passes.
const SCORING_OLLAMA_URL: &str = "http://127.0.0.1:11434";
const SCORING_MODEL: &str = "qwen2:0.5b";
const SCORING_TIMEOUT_MS: u64 = 2000;
const SCORING_PROMPT_CHARS_MAX: u32 = 2000;
const SCORING_CALLS_IN_FLIGHT_MAX: u32 = 4;
/// Upper bound of `scoring.timeout_ms`: a customer is waiting for the answer.
pub const SCORING_TIMEOUT_MS_MAX: u64 = 30_000;
/// Upper bound of `scoring.prompt_chars_max`: the longest feedback text accepted.
pub const SCORING_PROMPT_CHARS_MAX_MAX: u32 = 5000;
/// Upper bound of `scoring.calls_in_flight_max`.
pub const SCORING_CALLS_IN_FLIGHT_MAX_MAX: u32 = 64;
const _: () = assert!(SCORING_TIMEOUT_MS <= SCORING_TIMEOUT_MS_MAX);
const _: () = assert!(SCORING_PROMPT_CHARS_MAX <= SCORING_PROMPT_CHARS_MAX_MAX);
const _: () = assert!(SCORING_CALLS_IN_FLIGHT_MAX <= SCORING_CALLS_IN_FLIGHT_MAX_MAX);

/// The whole configuration as written in TOML, before validation.
///
/// `Default` is the built-in configuration: a single node `1` in `stockholm` on localhost.
/// A TOML file only needs the keys it changes; a `[[regions]]` or `[[cluster.initial_members]]`
/// list in the file replaces the default list as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawConfig {
    /// `[node]`: this process.
    pub node: RawNode,
    /// `[[regions]]`: the region table.
    pub regions: Vec<RawRegion>,
    /// `[cluster]`.
    pub cluster: RawCluster,
    /// `[tls]`: this node's certificate files.
    pub tls: RawTls,
    /// `[timeouts]`: all in milliseconds.
    pub timeouts: RawTimeouts,
    /// `[limits]`.
    pub limits: RawLimits,
    /// `[log]`.
    pub log: RawLog,
    /// `[geo]`: where customers are routed by their IP address.
    pub geo: RawGeo,
    /// `[operator]`: who may change the cluster.
    pub operator: RawOperator,
    /// `[abuse]`: limits that protect the public API and the reward budget.
    pub abuse: RawAbuse,
    /// `[http]`: the public listener's transport security.
    pub http: RawHttp,
    /// `[pos]`: purchases verified by the till.
    pub pos: RawPos,
    /// `[privacy]`: how customers' device ids are kept.
    pub privacy: RawPrivacy,
    /// `[retention]`: how long customers' data is kept.
    pub retention: RawRetention,
    /// `[scoring]`: who scores feedback texts.
    pub scoring: RawScoring,
    /// `[dashboard]`: the bounds of a business's dashboard and feedback list.
    pub dashboard: crate::dashboard::RawDashboard,
    /// `[signup]`: what creating a business may cost.
    pub signup: crate::signup::RawSignup,
    /// `[swish]`: how svea reaches Swish's Payout API.
    pub swish: crate::swish::RawSwish,
    /// `[funding]`: where reward money comes from.
    pub funding: crate::money::RawFunding,
    /// `[payouts]`: how cashback leaves svea.
    pub payouts: crate::money::RawPayouts,
    /// `[stripe]`: funding budgets by card through Stripe Checkout.
    pub stripe: crate::stripe::RawStripe,
    /// `[public]`: the cluster's one public address, carried by QR codes and posters.
    pub public: crate::public::RawPublic,
    /// `[mail]`: how sign-up and sign-in mails are sent.
    pub mail: crate::mail::RawMail,
}

impl Default for RawConfig {
    fn default() -> RawConfig {
        RawConfig {
            node: RawNode::default(),
            regions: default_regions(),
            cluster: RawCluster::default(),
            tls: RawTls::default(),
            timeouts: RawTimeouts::default(),
            limits: RawLimits::default(),
            log: RawLog::default(),
            geo: RawGeo::default(),
            operator: RawOperator::default(),
            abuse: RawAbuse::default(),
            http: RawHttp::default(),
            pos: RawPos::default(),
            privacy: RawPrivacy::default(),
            retention: RawRetention::default(),
            scoring: RawScoring::default(),
            dashboard: crate::dashboard::RawDashboard::default(),
            signup: crate::signup::RawSignup::default(),
            swish: crate::swish::RawSwish::default(),
            funding: crate::money::RawFunding::default(),
            payouts: crate::money::RawPayouts::default(),
            stripe: crate::stripe::RawStripe::default(),
            public: crate::public::RawPublic::default(),
            mail: crate::mail::RawMail::default(),
        }
    }
}

/// `[node]` as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawNode {
    /// Node id, > 0.
    pub id: u64,
    /// Region this node serves; must be in the region table.
    pub region: String,
    /// Address of the Raft transport as peers reach it (advertised in the membership): `ip:port`,
    /// or `host:port` with a DNS name (a StatefulSet pod's name), which peers resolve at connect.
    pub raft_addr: String,
    /// Socket address the Raft transport binds; empty means `raft_addr`. Differs from `raft_addr`
    /// behind an address translation (NAT, a port forward, a delay proxy in benchmarks), and must
    /// be given when `raft_addr` is a host name.
    pub raft_listen_addr: String,
    /// Socket address the HTTP API listens on.
    pub http_addr: String,
    /// Base URL customers and peers use to reach `http_addr`, `http://` or `https://`.
    pub public_url: String,
    /// Directory for this node's storage.
    pub data_dir: String,
    /// `redirect` or `serve`: what to do with a session request from a customer whose nearest
    /// healthy region is another one (answer 307 to that region's public URL, or serve it here).
    pub routing: String,
}

impl Default for RawNode {
    fn default() -> RawNode {
        RawNode {
            id: 1,
            region: "stockholm".to_owned(),
            raft_addr: "127.0.0.1:7001".to_owned(),
            raft_listen_addr: String::new(),
            http_addr: "127.0.0.1:8080".to_owned(),
            public_url: "http://127.0.0.1:8080".to_owned(),
            data_dir: "./data/node-1".to_owned(),
            routing: "redirect".to_owned(),
        }
    }
}

/// One `[[regions]]` entry as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegion {
    /// Region name.
    pub name: String,
    /// Latitude of the region's data centre, degrees.
    pub lat: f64,
    /// Longitude of the region's data centre, degrees.
    pub lon: f64,
}

/// The default region table: the three Swedish regions.
fn default_regions() -> Vec<RawRegion> {
    [
        ("stockholm", 59.33, 18.07),
        ("gothenburg", 57.71, 11.97),
        ("malmo", 55.60, 13.00),
    ]
    .into_iter()
    .map(|(name, lat, lon)| RawRegion {
        name: name.to_owned(),
        lat,
        lon,
    })
    .collect()
}

/// `[cluster]` as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawCluster {
    /// Cluster name, non-empty.
    pub name: String,
    /// Members that bootstrap the cluster; empty means this node bootstraps alone.
    pub initial_members: Vec<RawMember>,
    /// Fixed answers for peer host names, `"name=ip"` each, looked up before DNS (like
    /// `/etc/hosts`, for a network without DNS for its peers); empty by default.
    pub hosts: Vec<String>,
    /// How the data is split into Raft groups: `"per-region"` (the default) or `"one"`.
    pub groups: String,
}

impl Default for RawCluster {
    fn default() -> RawCluster {
        RawCluster {
            name: "svea".to_owned(),
            initial_members: Vec::new(),
            hosts: Vec::new(),
            groups: "per-region".to_owned(),
        }
    }
}

/// One `[[cluster.initial_members]]` entry as written; every field is required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMember {
    /// Node id, > 0.
    pub id: u64,
    /// Region of that node; must be in the region table.
    pub region: String,
    /// That node's Raft address: `ip:port` or `host:port` (a DNS name, resolved at connect).
    pub raft_addr: String,
    /// That node's HTTP address: `ip:port` or `host:port`.
    pub http_addr: String,
    /// That node's public base URL.
    pub public_url: String,
}

/// `[tls]` as written: PEM files for the Raft transport's mutual TLS. An empty path means the
/// file of that name under `<node.data_dir>/tls/` (`ca.pem`, `node.pem`, `node.key`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawTls {
    /// The cluster CA certificate(s) every peer's certificate must chain to.
    pub ca_cert: String,
    /// This node's certificate chain, leaf first; it names `node-<node.id>.svea`.
    pub node_cert: String,
    /// This node's private key.
    pub node_key: String,
    /// How often the node looks at its certificate files (these and `[http]`'s) for a new
    /// certificate, besides SIGHUP; > 0.
    pub reload_interval_ms: u64,
}

/// Default of `tls.reload_interval_ms`: a rotated certificate is served within 5 seconds.
pub const TLS_RELOAD_INTERVAL_MS_DEFAULT: u64 = 5_000;

impl Default for RawTls {
    fn default() -> RawTls {
        RawTls {
            ca_cert: String::new(),
            node_cert: String::new(),
            node_key: String::new(),
            reload_interval_ms: TLS_RELOAD_INTERVAL_MS_DEFAULT,
        }
    }
}

/// `[timeouts]` as written, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawTimeouts {
    /// Raft heartbeat interval.
    pub heartbeat_ms: u64,
    /// Lower bound of the randomized Raft election timeout.
    pub election_timeout_ms_min: u64,
    /// Upper bound of the randomized Raft election timeout.
    pub election_timeout_ms_max: u64,
    /// Deadline for one Raft RPC.
    pub raft_rpc_timeout_ms: u64,
    /// Deadline for a client write to commit.
    pub client_write_timeout_ms: u64,
    /// Deadline for a storage flush.
    pub storage_flush_timeout_ms: u64,
    /// How often a node snapshots every Raft group, purges the logs behind the snapshots and
    /// rewrites its store, so deleted data leaves its files.
    pub store_rewrite_ms: u64,
    /// An actor idle this long is passivated.
    pub actor_idle_ms: u64,
    /// A session idle this long expires.
    pub session_expiry_ms: u64,
    /// How often expired sessions are swept.
    pub expiry_sweep_ms: u64,
    /// A region silent this long is failed over.
    pub failover_after_ms: u64,
    /// Time allowed for a graceful shutdown.
    pub shutdown_grace_ms: u64,
    /// A QUIC connection silent this long is closed.
    pub quic_idle_ms: u64,
    /// Interval of QUIC keep-alives on an otherwise idle connection; below `quic_idle_ms`.
    pub quic_keepalive_ms: u64,
    /// Deadline for establishing a connection to a peer (QUIC and TLS handshake).
    pub connect_ms: u64,
    /// Upper bound of the exponential backoff between reconnect attempts to a peer.
    pub reconnect_backoff_ms_max: u64,
    /// Deadline for one membership change (a learner catching up included) and for a drain step.
    pub membership_change_ms: u64,
}

impl Default for RawTimeouts {
    fn default() -> RawTimeouts {
        RawTimeouts {
            heartbeat_ms: HEARTBEAT_MS,
            election_timeout_ms_min: ELECTION_TIMEOUT_MS_MIN,
            election_timeout_ms_max: ELECTION_TIMEOUT_MS_MAX,
            raft_rpc_timeout_ms: RAFT_RPC_TIMEOUT_MS,
            client_write_timeout_ms: CLIENT_WRITE_TIMEOUT_MS,
            storage_flush_timeout_ms: STORAGE_FLUSH_TIMEOUT_MS,
            store_rewrite_ms: STORE_REWRITE_MS,
            actor_idle_ms: ACTOR_IDLE_MS,
            session_expiry_ms: SESSION_EXPIRY_MS,
            expiry_sweep_ms: EXPIRY_SWEEP_MS,
            failover_after_ms: FAILOVER_AFTER_MS,
            shutdown_grace_ms: SHUTDOWN_GRACE_MS,
            quic_idle_ms: QUIC_IDLE_MS,
            quic_keepalive_ms: QUIC_KEEPALIVE_MS,
            connect_ms: CONNECT_MS,
            reconnect_backoff_ms_max: RECONNECT_BACKOFF_MS_MAX,
            membership_change_ms: MEMBERSHIP_CHANGE_MS,
        }
    }
}

/// `[limits]` as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawLimits {
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
    /// Largest Raft or actor message accepted, in bytes; a frame over it is refused before it is
    /// read.
    pub max_frame_bytes: usize,
    /// Largest Raft snapshot accepted from a peer, in bytes.
    pub max_snapshot_bytes: u64,
    /// Bytes of sled's page cache (bounds the store's memory).
    pub storage_cache_bytes: u64,
}

impl Default for RawLimits {
    fn default() -> RawLimits {
        RawLimits {
            http_body_bytes: HTTP_BODY_BYTES,
            actor_mailbox_len: ACTOR_MAILBOX_LEN,
            registry_queue_len: REGISTRY_QUEUE_LEN,
            snapshot_logs_since_last: SNAPSHOT_LOGS_SINCE_LAST,
            max_in_snapshot_log_to_keep: MAX_IN_SNAPSHOT_LOG_TO_KEEP,
            max_frame_bytes: MAX_FRAME_BYTES,
            max_snapshot_bytes: MAX_SNAPSHOT_BYTES,
            storage_cache_bytes: STORAGE_CACHE_BYTES,
        }
    }
}

/// `[log]` as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawLog {
    /// A `tracing_subscriber::EnvFilter` directive, e.g. `info` or `svea_cluster=debug,info`.
    pub filter: String,
    /// `text` (human-readable lines, the default) or `json` (one JSON object per line, for a
    /// log pipeline).
    pub format: String,
}

impl Default for RawLog {
    fn default() -> RawLog {
        RawLog {
            filter: "info".to_owned(),
            format: "text".to_owned(),
        }
    }
}

/// `[geo]` as written: GeoIP routing of customers to their nearest healthy region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawGeo {
    /// Path of a MaxMind-format city database; empty means the bundled Nordic DB-IP City Lite subset.
    pub db_path: String,
    /// Regions, first healthy wins, for private, loopback and unlocatable addresses; every entry
    /// in the region table, no duplicates. Empty means the region table's names in table order.
    pub default_order: Vec<String>,
    /// Peers whose `Forwarded` / `X-Forwarded-For` headers are believed: CIDRs (`10.0.0.0/8`) or
    /// bare addresses (`127.0.0.1`, meaning /32 or /128).
    pub trusted_proxies: Vec<String>,
    /// How often the database file is checked for changes on disk, in milliseconds.
    pub reload_interval_ms: u64,
}

impl Default for RawGeo {
    fn default() -> RawGeo {
        RawGeo {
            db_path: String::new(),
            default_order: Vec::new(),
            trusted_proxies: Vec::new(),
            reload_interval_ms: GEO_RELOAD_INTERVAL_MS,
        }
    }
}

/// Default address of the operator listener: loopback, so the operator API is reached from the
/// machine itself (or through an SSH tunnel), never from the customers' network.
pub const OPERATOR_LISTEN_ADDR: &str = "127.0.0.1:8090";

/// `[operator]` as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawOperator {
    /// Bearer token for `/v1/cluster`; empty disables the operator API (and its listener) on this
    /// node.
    pub token: String,
    /// Socket address of the operator listener (plain HTTP, loopback only), which alone serves
    /// `/v1/cluster`.
    pub listen_addr: String,
    /// Socket address of a listener that serves only `GET /metrics`, for a Prometheus that cannot
    /// reach the loopback operator listener (another container or pod); empty: none.
    pub metrics_listen_addr: String,
    /// Bearer token that opens `/metrics` and nothing else (the scraper's credential, so the
    /// operator token never leaves the machine); at least 16 printable characters, required with
    /// `metrics_listen_addr`.
    pub metrics_token: String,
}

impl Default for RawOperator {
    fn default() -> RawOperator {
        RawOperator {
            token: String::new(),
            listen_addr: OPERATOR_LISTEN_ADDR.to_owned(),
            metrics_listen_addr: String::new(),
            metrics_token: String::new(),
        }
    }
}

/// A whole request's read deadline: headers within it, then the body within it. A phone on a
/// poor mobile line sends a 2 KB request in well under a second; 10 s (issue 20) cuts a client
/// that trickles a byte every 2 s long before it can pile up connections.
const HTTP_REQUEST_READ_TIMEOUT_MS: u64 = 10_000;
/// Upper bound of `http.request_read_timeout_ms`: a minute is already generous for any client.
pub const HTTP_REQUEST_READ_TIMEOUT_MS_MAX: u64 = 60_000;
/// Concurrent connections one client address may hold on the public listener. A browser opens at
/// most 6 per host, so 64 lets ten phones behind one café NAT use the page at once, while one
/// address can no longer hold the thousands of connections a slow-client attack needs.
const HTTP_CONNECTIONS_PER_ADDRESS_MAX: u32 = 64;
/// Upper bound of `http.connections_per_address_max`.
pub const HTTP_CONNECTIONS_PER_ADDRESS_MAX_MAX: u32 = 1_000_000;

/// `[http]` as written: HTTPS on the public listener (`node.http_addr`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawHttp {
    /// PEM certificate chain (leaf first) the public listener presents; empty means plain HTTP.
    /// `svea certs --https` makes one.
    pub tls_cert: String,
    /// PEM private key of `tls_cert`; set both or neither.
    pub tls_key: String,
    /// Serve plain HTTP on a non-loopback `node.http_addr` because a TLS-terminating proxy sits
    /// in front; that proxy must be listed in `geo.trusted_proxies`.
    pub plaintext_behind_proxy: bool,
    /// Deadline for reading a whole request on the public listener, in milliseconds: its headers
    /// within the first half, its body within the second half after them; a client that is
    /// slower gets 408 and the connection is closed.
    pub request_read_timeout_ms: u64,
    /// Concurrent connections one client address (the socket peer; trusted proxies are exempt)
    /// may hold on the public listener; one more is answered 429 and closed.
    pub connections_per_address_max: u32,
}

impl Default for RawHttp {
    fn default() -> RawHttp {
        RawHttp {
            tls_cert: String::new(),
            tls_key: String::new(),
            plaintext_behind_proxy: false,
            request_read_timeout_ms: HTTP_REQUEST_READ_TIMEOUT_MS,
            connections_per_address_max: HTTP_CONNECTIONS_PER_ADDRESS_MAX,
        }
    }
}

/// `[pos]` as written: purchases reported by a business's till, all in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawPos {
    /// How long a customer's confirmation waits for its till's report before it is refused.
    pub await_purchase_ms: u64,
    /// Largest difference between the purchase time the customer confirms and the till's.
    pub match_window_ms: u64,
    /// Largest difference between a signed delivery timestamp and this node's clock.
    pub timestamp_tolerance_ms: u64,
    /// Till confirmations of one session that may end unbacked (not reported, or not matching)
    /// before the session can no longer claim a till purchase.
    pub session_failed_tries_max: u32,
    /// Mismatched confirmations of one reported receipt, across sessions, before it is locked
    /// until its business releases it.
    pub receipt_mismatches_max: u32,
}

impl Default for RawPos {
    fn default() -> RawPos {
        RawPos {
            await_purchase_ms: POS_AWAIT_PURCHASE_MS,
            match_window_ms: POS_MATCH_WINDOW_MS,
            timestamp_tolerance_ms: POS_TIMESTAMP_TOLERANCE_MS,
            session_failed_tries_max: POS_SESSION_FAILED_TRIES_MAX,
            receipt_mismatches_max: POS_RECEIPT_MISMATCHES_MAX,
        }
    }
}

/// `[privacy]` as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawPrivacy {
    /// Secret key of the keyed hash (HMAC-SHA256) under which device ids are stored; the same on
    /// every node of the cluster. Empty is allowed only on a loopback `node.http_addr` (the demo
    /// and tests), where a publicly known key is used.
    pub device_key: String,
}

/// `[retention]` as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawRetention {
    /// Feedback texts older than this many days are redacted; 0 redacts each text at the next
    /// sweep (scores and rewards stay).
    pub feedback_days: u32,
}

impl Default for RawRetention {
    fn default() -> RawRetention {
        RawRetention {
            feedback_days: FEEDBACK_RETENTION_DAYS,
        }
    }
}

/// `[scoring]` as written: who scores feedback texts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawScoring {
    /// `"rubric"` (the built-in rules) or `"ollama"` (a language model behind an
    /// Ollama-compatible `/api/generate`, with the rubric as fallback on any failure).
    pub backend: String,
    /// Base URL of the Ollama server, `http://host:port`.
    pub ollama_url: String,
    /// The model asked, as Ollama names it (`qwen2:0.5b`).
    pub model: String,
    /// Longest wait for the model's answer, in milliseconds; past it the rubric scores.
    pub timeout_ms: u64,
    /// Characters of the feedback text put in the prompt; a longer text is cut there.
    pub prompt_chars_max: u32,
    /// Model calls in flight at once from this node; a call that finds none free within
    /// `timeout_ms` is scored by the rubric.
    pub calls_in_flight_max: u32,
    /// A directory with `sv_SE.aff`, `sv_SE.dic`, `en_US.aff` and `en_US.dic` for the rubric's
    /// word check; empty: the dictionaries embedded in the binary.
    pub dictionary_dir: String,
}

impl Default for RawScoring {
    fn default() -> RawScoring {
        RawScoring {
            backend: "rubric".to_owned(),
            ollama_url: SCORING_OLLAMA_URL.to_owned(),
            model: SCORING_MODEL.to_owned(),
            timeout_ms: SCORING_TIMEOUT_MS,
            prompt_chars_max: SCORING_PROMPT_CHARS_MAX,
            calls_in_flight_max: SCORING_CALLS_IN_FLIGHT_MAX,
            dictionary_dir: String::new(),
        }
    }
}

/// `[abuse]` as written: limits that protect the public API and the businesses' reward budgets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawAbuse {
    /// Requests a second one client address may make, sustained (token bucket refill rate).
    pub requests_per_second: u32,
    /// Requests one client address may make at once (token bucket size), >= `requests_per_second`.
    pub burst: u32,
    /// How often the per-address buckets of quiet addresses are dropped, in milliseconds.
    pub prune_interval_ms: u64,
    /// Rewarded sessions one device may have per business and Swedish day.
    pub rewarded_sessions_per_device_day: u32,
    /// Cashback one business pays at most per Swedish day, whole SEK.
    pub business_daily_reward_cap_sek: u64,
    /// Feedback at least this similar (percent, 1..=100) to an earlier text at the same business
    /// is a duplicate and earns nothing.
    pub duplicate_similarity_percent: u8,
    /// How many earlier feedback fingerprints each business keeps to compare against.
    pub feedback_fingerprints_kept: u32,
    /// Rewarded sessions one client network (IPv4 /24, IPv6 /48) may have per business and
    /// Swedish day.
    pub rewarded_sessions_per_network_day: u32,
    /// The hourly brake's factor k: rewards in the last hour above k x the business's own mean
    /// hourly rewards of the last 7 days (or above the floor, whichever is higher) are held.
    pub brake_factor: u32,
    /// The hourly brake's floor: rewards an hour every business may pay before any is held.
    pub brake_floor_per_hour: u32,
    /// Highest purchase a customer may declare at a business without till verification, whole
    /// SEK: the default for new businesses, which may change their own.
    pub declared_amount_max_sek: u64,
    /// Requests a minute one client address may make to the privacy routes (export, erase),
    /// sustained; their own bucket, besides the general one.
    pub privacy_requests_per_minute: u32,
    /// Privacy requests one client address may make at once (that bucket's size).
    pub privacy_burst: u32,
    /// Feedback containing at least this share (percent, 1..=100) of an earlier text, or this
    /// much of it contained in one, is a duplicate and earns nothing.
    pub duplicate_containment_percent: u8,
    /// Fingerprints of every business's texts of the last day a settlement compares against,
    /// at most (oldest first).
    pub day_fingerprints_scan_max: u32,
    /// Fingerprints one business adds to every business's record of the last day, per Swedish
    /// day, at most.
    pub day_fingerprints_per_business_max: u32,
}

impl Default for RawAbuse {
    fn default() -> RawAbuse {
        RawAbuse {
            requests_per_second: ABUSE_REQUESTS_PER_SECOND,
            burst: ABUSE_BURST,
            prune_interval_ms: ABUSE_PRUNE_INTERVAL_MS,
            rewarded_sessions_per_device_day: ABUSE_REWARDED_SESSIONS_PER_DEVICE_DAY,
            business_daily_reward_cap_sek: ABUSE_BUSINESS_DAILY_REWARD_CAP_SEK,
            duplicate_similarity_percent: ABUSE_DUPLICATE_SIMILARITY_PERCENT,
            feedback_fingerprints_kept: ABUSE_FEEDBACK_FINGERPRINTS_KEPT,
            rewarded_sessions_per_network_day: ABUSE_REWARDED_SESSIONS_PER_NETWORK_DAY,
            brake_factor: ABUSE_BRAKE_FACTOR,
            brake_floor_per_hour: ABUSE_BRAKE_FLOOR_PER_HOUR,
            declared_amount_max_sek: ABUSE_DECLARED_AMOUNT_MAX_SEK,
            privacy_requests_per_minute: ABUSE_PRIVACY_REQUESTS_PER_MINUTE,
            privacy_burst: ABUSE_PRIVACY_BURST,
            duplicate_containment_percent: ABUSE_DUPLICATE_CONTAINMENT_PERCENT,
            day_fingerprints_scan_max: ABUSE_DAY_FINGERPRINTS_SCAN_MAX,
            day_fingerprints_per_business_max: ABUSE_DAY_FINGERPRINTS_PER_BUSINESS_MAX,
        }
    }
}
