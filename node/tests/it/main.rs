//! Integration tests of the `svea` binary: real processes, real HTTP, real disk.

mod harness;

mod durability;
mod flow;
mod rules;
mod expiry;
