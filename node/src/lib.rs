//! The `svea` node: actors, feedback-domain rules, the node core, HTTP and the command line.
//!
//! Rooms, by what they serve: [`domain`] the pure rules (money, ids, validated inputs, scoring,
//! rewards); [`actors`] the business and session actors, their registry and the one place that
//! routes a call ([`actors::routing`]); [`core`] the node core that ties storage, Raft and actors
//! together and offers typed operations; [`http`] the public and operator APIs (the only module
//! that knows HTTP and JSON); [`telemetry`] the metrics registry `/metrics` serves; [`cli`] the
//! `svea` subcommands; [`request_id`], [`window`] and [`tls_reload`] small helpers of the ground
//! floor. Modules import only the floors below their own: `cli -> http -> core -> actors ->
//! domain`, telemetry between actors and domain (ARCHITECTURE.md, "Floors").
//! Does not own: Raft, transport or storage internals (see `svea-cluster`, `svea-storage`).

pub mod actors;
pub mod cli;
pub mod core;
pub mod domain;
pub mod http;
pub mod request_id;
pub mod telemetry;
pub mod window;

/// The version of this build (the workspace's).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git revision this binary was built from (`build.rs`): a 12-digit abbreviated commit id,
/// the `SVEA_BUILD_REVISION` it was given, or `unknown`.
pub const REVISION: &str = env!("SVEA_REVISION");
/// What `svea --version` prints after the name.
pub const LONG_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (revision ", env!("SVEA_REVISION"), ")");
pub mod tls_reload;
