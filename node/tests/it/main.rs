//! Integration tests of the `svea` binary: real processes, real HTTP, real disk.

mod harness;
mod load;
mod needs;
// Shared with the other crates' tests without a dependency (see the file's own docs).
#[path = "../../../simulations/src/poll.rs"]
mod poll;

mod abuse;
mod accounts;
mod attacker;
mod actors;
mod cluster;
mod dashboard;

mod deploy;
mod durability;
mod flow;
mod readme;
mod rules;
mod shipped;
mod expiry;
mod failover;
mod geo;
mod metrics;
mod operator;
mod page;
mod pos;
mod privacy;
mod qr;
mod scoring;
mod transport;
