//! The `svea` node: actors, feedback-domain rules, the node core, HTTP and the command line.
//!
//! Rooms, by what they serve: [`domain`] the pure rules (money, ids, validated inputs, scoring,
//! rewards); [`actors`] the business and session actors, their registry and the one place that
//! routes a call ([`actors::routing`]); [`core`] the node core that ties storage, Raft and actors
//! together and offers typed operations; [`http`] the public and operator APIs (the only module
//! that knows HTTP and JSON); [`telemetry`] the metrics registry `/metrics` serves; [`cli`] the
//! `svea` subcommands.
//! Does not own: Raft, transport or storage internals (see `svea-cluster`, `svea-storage`).

pub mod actors;
pub mod cli;
pub mod core;
pub mod domain;
pub mod http;
pub mod request_id;
pub mod telemetry;
pub mod tls_reload;
