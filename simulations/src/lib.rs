//! svea's simulation and benchmark library, shared by the `simulations` binary and its
//! integration tests.
//!
//! Owns: driving real node cores from the outside and checking what they did: the deterministic
//! simulation ([`sim`]), the multi-process cluster tools ([`procs`], [`udp_proxy`]) and the
//! history checker ([`history`], [`checker`]). Nothing in production depends on this crate.

pub mod chaos;
pub mod checker;
pub mod history;
pub mod procs;
pub mod report;
pub mod sim;
pub mod udp_proxy;
