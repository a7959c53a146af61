//! A store keeps its promises across a crash: every write the store reported durable (a log entry
//! openraft was told is flushed, a saved vote) is on the simulated disk when its host crashes.
//! Checked at every crash, while the run goes on.
//!
//! This is "no acknowledged write lost" one level down, and it is needed there: a store that
//! answers before its flush rarely loses a client's write end to end, because the leader's own
//! flush usually finishes while the followers answer, and the leader then carries the entry
//! through the crash. Raft's guarantees rest on every voter's promise, so a broken promise is
//! caught where it is made, the first time a crash exposes it.

use std::time::Duration;

use svea_storage::engine::mem::Crash;

/// Broken promises found so far.
#[derive(Debug, Default)]
pub struct Promises {
    /// Violations found so far.
    pub violations: Vec<String>,
}

impl Promises {
    /// Judges the crash of `region` at `at`.
    pub fn crashed(&mut self, at: Duration, region: &str, crash: Crash) {
        if crash.acknowledged_but_lost > 0 && self.violations.len() < 10 {
            self.violations.push(format!(
                "durability: {region} crashed at {:.3}s and lost {} write(s) its store had reported durable",
                at.as_secs_f64(),
                crash.acknowledged_but_lost
            ));
        }
    }
}
