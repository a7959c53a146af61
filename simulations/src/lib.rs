//! svea's simulation and benchmark library, shared by the `simulations` binary and its
//! integration tests.
//!
//! Owns: driving real node cores from the outside and checking what they did: the multi-process
//! cluster tools ([`procs`], [`udp_proxy`]), chaos runs against them ([`chaos`], [`report`]) and
//! the history checker ([`history`], [`checker`]). Nothing in production depends on this crate.

pub mod chaos;
pub mod checker;
pub mod history;
pub mod procs;
pub mod report;
pub mod udp_proxy;
