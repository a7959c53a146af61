//! svea's simulation and benchmark library, shared by the `simulations` binary and its
//! integration tests.
//!
//! Owns: driving real node cores from the outside and checking what they did: the deterministic
//! simulation ([`sim`]), the multi-process cluster tools ([`procs`], [`udp_proxy`]) and the
//! history checker ([`history`], [`checker`]), the failover measurement ([`failover`]), and what
//! the tools share: the customers' texts, amounts, write counts and client threads
//! ([`customers`]), latency percentiles ([`latency`]) and waiting with a deadline ([`poll`],
//! also included by the other crates' integration tests). Nothing in production depends on this
//! crate.

pub mod chaos;
pub mod checker;
pub mod customers;
pub mod failover;
pub mod history;
pub mod latency;
pub mod poll;
pub mod procs;
pub mod report;
pub mod sim;
pub mod udp_proxy;
