//! Integration tests of the `svea` binary: real processes, real HTTP, real disk.

mod browser;
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
mod backup;
mod cluster;
mod console;
mod dashboard;

mod deploy;
mod durability;
mod e2e;
mod flow;
mod readme;
mod rules;
mod shipped;
mod expiry;
mod failover;
mod geo;
mod maintenance;
mod metrics;
mod openapi;
mod observability;
mod operator;
mod page;
mod pos;
mod privacy;
mod qr;
mod scoring;
mod fake_stripe;
mod stripe;
mod transport;
