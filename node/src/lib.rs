//! The `svea` node: actors, feedback-domain rules, HTTP API and CLI.
//!
//! Owns: the business and session actors and their registry ([`actors`]), the domain rules
//! ([`domain`]), the node core that ties storage, Raft and actors together ([`service`]), and the
//! HTTP API ([`http`]). Only this crate knows HTTP and JSON.
//! Does not own: Raft, transport or storage internals (see `svea-cluster`, `svea-storage`).

pub mod actors;
pub mod certs;
pub mod cluster_cli;
pub mod demo;
pub mod domain;
pub mod geo_cli;
pub mod http;
pub mod http_cluster;
pub mod operator;
pub mod server;
pub mod service;
