//! Typed configuration for a svea node.
//!
//! Owns: reading the TOML config file and the `SVEA_*` environment variables (the only crate in
//! svea that touches either), the built-in defaults, and validation into typed values
//! ([`NodeId`], [`Region`], [`std::time::Duration`], [`std::net::SocketAddr`], [`IpNetwork`]).
//! Every error names the dotted key (`timeouts.election_timeout_ms_min`) or the variable
//! (`SVEA_NODE_ID`) at fault.
//!
//! Does not own: what the values mean at run time (timers, Raft, HTTP and storage live in their
//! own crates), logging setup, or any global state: callers get a [`Config`] and pass it on.
//!
//! Precedence, lowest first: [`RawConfig::default`], the TOML file, the environment map.
//! One override mechanism serves the environment, the tools and the tests: [`RawConfig::set`]
//! writes a value given as text at a dotted key, `SVEA_TIMEOUTS_HEARTBEAT_MS` overrides
//! `timeouts.heartbeat_ms`. Configs are written by serializing a [`RawConfig`]
//! ([`RawConfig::to_toml_string`]); [`loopback`] builds those of a cluster on one machine.
//! ```
//! # use std::collections::BTreeMap;
//! let env = BTreeMap::from([("SVEA_NODE_ID".to_owned(), "2".to_owned())]);
//! let config = svea_config::Config::from_toml_str("[log]\nfilter = \"debug\"\n", &env)?;
//! assert_eq!(config.node.id.get(), 2);
//! assert_eq!(config.log.filter, "debug");
//! # Ok::<(), svea_config::Error>(())
//! ```

mod addr;
pub mod dashboard;
pub mod public;
mod env;
mod error;
mod ids;
pub mod loopback;
pub mod money;
mod overrides;
mod raw;
pub mod mail;
pub mod signup;
pub mod swish;
pub mod stripe;
mod typed;
mod validate;

pub use addr::{PeerAddr, HOST_NAME_LEN_MAX};
pub use dashboard::{DashboardConfig, RawDashboard};
pub use public::{PublicConfig, RawPublic, PUBLIC_BASE_URL_LEN_MAX};
pub use mail::{MailConfig, MailSink, MailTransport, RawMail, SmtpServer, SmtpTls};
pub use signup::{RawSignup, SignupConfig};
pub use swish::{RawSwish, SwishConfig, SwishMerchant};
pub use money::{FundingConfig, FundingProvider, PayeeKeyBytes, PayoutRailKind, PayoutsConfig, RawFunding, RawPayouts};
pub use stripe::{RawStripe, StripeConfig};
pub use env::{env_var_names, env_vars, ENV_PREFIX};
pub use error::Error;
pub use ids::{NodeId, Region, REGION_NAME_LEN_MAX};
/// The network type of [`GeoConfig::trusted_proxies`], re-exported so callers need not depend on
/// `ipnetwork` themselves.
pub use ipnetwork::IpNetwork;
pub use raw::{
    RawAbuse, RawCluster, RawConfig, RawGeo, RawHttp, RawLimits, RawLog, RawMember, RawNode, RawOperator, RawPos,
    RawPrivacy, RawRegion, RawRetention, RawScoring, RawTimeouts, RawTls, POS_TRIES_MAX,
};
pub use typed::{
    AbuseConfig, ClusterConfig, Config, GeoConfig, GroupLayout, HttpConfig, HttpsFiles, Limits, LogConfig, MemberSpec, NodeConfig,
    OperatorConfig, PosConfig, PrivacyConfig, RegionSpec, RetentionConfig, LogFormat, Routing, ScoringBackend, ScoringConfig, Timeouts,
    TlsConfig, BRAKE_FACTOR_MAX, BRAKE_FLOOR_PER_HOUR_MAX, BUSINESS_DAILY_REWARD_CAP_SEK_MAX, CONFIG_FILE_BYTES_MAX, DAY_FINGERPRINTS_PER_BUSINESS_MAX_MAX,
    DAY_FINGERPRINTS_SCAN_MAX_MAX, DECLARED_AMOUNT_MAX_SEK_MAX, FEEDBACK_FINGERPRINTS_KEPT_MAX, SCORING_MODEL_LEN_MAX,
    REGIONS_MAX, SCORING_URL_LEN_MAX,
};
pub use validate::{DEMO_DEVICE_KEY, DEVICE_KEY_MIN_LEN, FEEDBACK_RETENTION_DAYS_MAX};
