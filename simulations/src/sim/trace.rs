//! The run's canonical event log, folded into one hash: the same seed must give the same hash.
//!
//! Events are lines with the simulated time in microseconds: every client invocation and
//! completion (with its outcome), every fault, every leader change seen by the checker. Nothing
//! from the wall clock, no pointer or hash-map order.

use std::time::Duration;

/// FNV-1a, 64 bits: tiny, stable across Rust versions and platforms.
#[derive(Debug, Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }
}

/// FNV-1a of `lines`, each followed by a newline.
pub fn hash_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> u64 {
    let mut h = Fnv(Fnv::OFFSET);
    for l in lines {
        h.write(l.as_bytes());
        h.write(b"\n");
    }
    h.0
}

/// How many recent events are kept for `--verbose` and failure reports.
pub const TAIL_LEN_MAX: usize = 64;

/// The event log of one run.
#[derive(Debug)]
pub struct Trace {
    hash: Fnv,
    events: u64,
    tail: std::collections::VecDeque<String>,
    verbose: bool,
}

impl Trace {
    /// An empty trace; `verbose` prints every event as it is recorded.
    pub fn new(verbose: bool) -> Self {
        Trace { hash: Fnv(Fnv::OFFSET), events: 0, tail: Default::default(), verbose }
    }

    /// Records one event at simulated time `at`.
    pub fn record(&mut self, at: Duration, event: impl AsRef<str>) {
        let line = format!("{:>12} {}", at.as_micros(), event.as_ref());
        self.hash.write(line.as_bytes());
        self.hash.write(b"\n");
        self.events += 1;
        if self.verbose {
            println!("{line}");
        }
        if self.tail.len() == TAIL_LEN_MAX {
            self.tail.pop_front();
        }
        self.tail.push_back(line);
    }

    /// The hash of everything recorded so far.
    pub fn hash(&self) -> u64 {
        self.hash.0
    }

    /// Number of events recorded.
    pub fn len(&self) -> u64 {
        self.events
    }

    /// The most recent events, oldest first.
    pub fn tail(&self) -> impl Iterator<Item = &String> {
        self.tail.iter()
    }
}

/// Simulated time since the start of the run (zero outside a simulation).
pub fn now() -> Duration {
    turmoil::sim_elapsed().unwrap_or_default()
}
