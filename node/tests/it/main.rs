//! Integration tests of the `svea` binary: real processes, real HTTP, real disk.

mod browser;
// The fake Swish Payout API the Swish tests pay through.
mod fake_swish;
mod harness;
mod load;
mod needs;
// Shared with the other crates' tests without a dependency (see the file's own docs).
#[path = "../../../simulations/src/poll.rs"]
mod poll;

mod a11y;
mod abuse;
mod accounts;
mod attacker;
mod actors;
mod cli;
mod backup;
mod build_info;
mod cluster;
mod console;
mod contract;
mod dashboard;

mod deploy;
mod durability;
mod e2e;
mod flow;
mod readme;
mod rules;
mod shipped;
mod signup_mail;
mod supply_chain;
mod expiry;
mod failover;
mod floors;
mod geo;
mod groups;
mod k8s;
mod ledger;
mod locations;
mod offer;
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
mod tls_reload;
mod swish;
mod swish_payouts;
mod fake_stripe;
mod stripe;
mod transport;
