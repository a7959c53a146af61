//! Integration tests of the `svea` binary: real processes, real HTTP, real disk.

mod harness;
mod load;

mod actors;
mod cluster;

mod deploy;
mod durability;
mod flow;
mod readme;
mod rules;
mod shipped;
mod expiry;
mod failover;
mod geo;
mod operator;
