//! svea's cluster layer: one openraft instance per node over the sled store, the client-write
//! and linearizable-read paths, and the network seam peers plug into.
//!
//! Owns: Raft wiring and timing ([`ClusterNode`]: writes, reads, leadership, membership, each in
//! its own file under `node/`), bootstrap, the Raft network ([`network`]), the typed RPCs nodes
//! send each other ([`rpc`]) and their serving side (`server`), the QUIC transport
//! ([`transport`]) and its mutual TLS ([`tls`]), the seam between transport and server
//! ([`serve`]: neither names the other), membership changes ([`membership`]), failure
//! detection ([`health`]), event counters ([`metrics`]) and the read-index rounds concurrent read
//! barriers share (`read_rounds`).
//! Does not own: HTTP, JSON, actors or the feedback domain; it moves opaque commands.

mod error;
mod front;
mod freeze;
pub mod health;
pub mod membership;
pub mod metrics;
pub mod network;
mod node;
mod read_rounds;
pub mod rpc;
pub mod serve;
mod server;
pub mod tls;
pub mod transport;

pub use error::Error;
pub use front::{ClusterNode, OneGroup, Placement, Placer, View};
pub use node::{member_node, raft_config, ClusterStatus, Committed, GroupNode, Verdict};
pub use svea_storage as storage;
