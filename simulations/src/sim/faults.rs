//! The fault schedule: drawn from the seed before the run, applied by the runner between steps,
//! and undone completely in the heal phase.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;
use svea_storage::Command;

use super::host::{Applied, REGIONS};

/// One-way delays between the regions (the Swedish WAN): Stockholm-Gothenburg 2.0 ms,
/// Stockholm-Malmö 2.65 ms, Gothenburg-Malmö 1.25 ms.
pub const LINK_LATENCY_US: [(usize, usize, u64); 3] = [(0, 1, 2_000), (0, 2, 2_650), (1, 2, 1_250)];

/// A fault, or the end of one.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Crash these regions (their unflushed writes are lost).
    Crash(Vec<usize>),
    /// Crash these regions at the first client acknowledgement from now on (the worst moment for
    /// durability: acknowledged writes must already be on a quorum's disks).
    CrashAfterAck(Vec<usize>),
    /// Crash this region inside a settlement window: after a session it owns stored pending
    /// feedback and that session's business then wrote (normally: settled it), before the session
    /// records the settlement. The customer retries the feedback elsewhere, and the survivor that
    /// takes the session over must get the stored settlement back, not a second payment.
    CrashInSettlement(usize),
    /// Restart these crashed regions.
    Restart(Vec<usize>),
    /// Cut `a` off from `b` in both directions.
    Partition(usize, usize),
    /// Cut only `from -> to`.
    PartitionOneway(usize, usize),
    /// Repair `a <-> b` (both directions).
    Repair(usize, usize),
    /// Drop this fraction of datagrams from `a` to `b` and back.
    Loss(usize, usize, f64),
    /// Stop dropping on `a <-> b`.
    NoLoss(usize, usize),
    /// Set the one-way delay of `a <-> b`.
    Latency(usize, usize, Duration),
    /// Hold every message on `a <-> b` until released.
    Hold(usize, usize),
    /// Deliver what was held on `a <-> b`.
    Release(usize, usize),
}

impl Fault {
    /// A stable one-line description for the trace.
    pub fn describe(&self) -> String {
        let n = |i: &usize| REGIONS[*i].0;
        match self {
            Fault::Crash(v) => format!("crash {}", v.iter().map(n).collect::<Vec<_>>().join("+")),
            Fault::CrashAfterAck(v) => format!("crash-after-ack {}", v.iter().map(n).collect::<Vec<_>>().join("+")),
            Fault::CrashInSettlement(r) => format!("crash-in-settlement {}", n(r)),
            Fault::Restart(v) => format!("restart {}", v.iter().map(n).collect::<Vec<_>>().join("+")),
            Fault::Partition(a, b) => format!("partition {}<->{}", n(a), n(b)),
            Fault::PartitionOneway(a, b) => format!("partition {}->{}", n(a), n(b)),
            Fault::Repair(a, b) => format!("repair {}<->{}", n(a), n(b)),
            Fault::Loss(a, b, p) => format!("loss {}<->{} {:.2}", n(a), n(b), p),
            Fault::NoLoss(a, b) => format!("no-loss {}<->{}", n(a), n(b)),
            Fault::Latency(a, b, d) => format!("latency {}<->{} {}us", n(a), n(b), d.as_micros()),
            Fault::Hold(a, b) => format!("hold {}<->{}", n(a), n(b)),
            Fault::Release(a, b) => format!("release {}<->{}", n(a), n(b)),
        }
    }
}

/// The base one-way delay of a link.
pub fn base_latency(a: usize, b: usize) -> Duration {
    LINK_LATENCY_US
        .iter()
        .find(|(x, y, _)| (*x, *y) == (a.min(b), a.max(b)))
        .map(|(_, _, us)| Duration::from_micros(*us))
        .unwrap_or(Duration::from_millis(1))
}

fn pair(rng: &mut StdRng) -> (usize, usize) {
    let a = rng.gen_range(0..3);
    let b = (a + rng.gen_range(1..3)) % 3;
    (a, b)
}

/// Draws the fault schedule for a fault phase from `start` to `end`: every fault is undone by a
/// later entry no later than `end` (the heal phase then resets everything anyway).
pub fn schedule(rng: &mut StdRng, start: Duration, end: Duration) -> Vec<(Duration, Fault)> {
    let mut out = Vec::new();
    let mut t = start + Duration::from_millis(rng.gen_range(500..2_000));
    while t < end {
        let len = Duration::from_millis(rng.gen_range(500..4_000));
        let stop = (t + len).min(end);
        match rng.gen_range(0..100) {
            // A region crashes and restarts.
            0..=9 => {
                let r = rng.gen_range(0..3);
                out.push((t, Fault::Crash(vec![r])));
                out.push((stop, Fault::Restart(vec![r])));
            }
            // A region crashes in the middle of a settlement (when one comes) and restarts.
            10..=19 => {
                let r = rng.gen_range(0..3);
                out.push((t, Fault::CrashInSettlement(r)));
                out.push((stop, Fault::Restart(vec![r])));
            }
            // Power loss in two or all regions at once: only what was flushed survives.
            20..=34 => {
                let all = rng.gen_bool(0.5);
                let v = if all { vec![0, 1, 2] } else { let (a, b) = pair(rng); let mut v = vec![a, b]; v.sort_unstable(); v };
                let crash = if rng.gen_bool(0.5) { Fault::CrashAfterAck(v.clone()) } else { Fault::Crash(v.clone()) };
                out.push((t, crash));
                out.push((stop, Fault::Restart(v)));
            }
            // A region cut off: with a Raft group per region, its group's leader loses its
            // followers and the other groups lose a follower.
            35..=44 => {
                let r = rng.gen_range(0..3);
                for o in (0..3).filter(|o| *o != r) {
                    out.push((t, Fault::Partition(r, o)));
                    out.push((stop, Fault::Repair(r, o)));
                }
            }
            // A group's leader paused (a stopped process, a long GC or disk stall): nothing
            // reaches it or leaves it, then everything it was sent and sent arrives at once, late
            // (its peers took its group and its actors over meanwhile).
            45..=49 => {
                let r = rng.gen_range(0..3);
                for o in (0..3).filter(|o| *o != r) {
                    out.push((t, Fault::Hold(r, o)));
                    out.push((stop, Fault::Release(r, o)));
                }
            }
            // Two groups' leaders cut off from each other, both still reaching the third region.
            50..=54 => {
                let (a, b) = pair(rng);
                out.push((t, Fault::Partition(a, b)));
                out.push((stop, Fault::Repair(a, b)));
            }
            55..=64 => {
                let (a, b) = pair(rng);
                out.push((t, Fault::PartitionOneway(a, b)));
                out.push((stop, Fault::Repair(a, b)));
            }
            65..=79 => {
                let (a, b) = pair(rng);
                let p = [0.05, 0.2, 0.5][rng.gen_range(0..3)];
                out.push((t, Fault::Loss(a, b, p)));
                out.push((stop, Fault::NoLoss(a, b)));
            }
            80..=89 => {
                let (a, b) = pair(rng);
                let d = Duration::from_millis(rng.gen_range(20..400));
                out.push((t, Fault::Latency(a, b, d)));
                out.push((stop, Fault::Latency(a, b, base_latency(a, b))));
            }
            _ => {
                let (a, b) = pair(rng);
                out.push((t, Fault::Hold(a, b)));
                out.push((stop, Fault::Release(a, b)));
            }
        }
        t += Duration::from_millis(rng.gen_range(300..2_500));
    }
    // Apply in time order; ties keep their drawing order (a stable sort).
    out.sort_by_key(|(at, _)| *at);
    out
}

/// An armed [`Fault::CrashInSettlement`]: watches the apply stream for the settlement of a
/// session owned by its region's node.
#[derive(Debug, Clone)]
pub struct SettlementTrap {
    /// The region to crash.
    pub region: usize,
    /// Apply records already looked at.
    cursor: usize,
}

impl SettlementTrap {
    /// A trap for `region`, looking only at what is applied from `cursor` on.
    pub fn new(region: usize, cursor: usize) -> Self {
        SettlementTrap { region, cursor }
    }

    /// Looks at the records applied since the last look; `true` when the window is open: a
    /// settlement (the business's write and the settled session in one atomic command, issue
    /// 22) of a session owned by the region's node was applied, and its caller has not heard of
    /// it yet: crashing now loses the answer and the session's in-memory state, not the payment,
    /// so whoever asks again must get the stored settlement, not a second one.
    pub fn sprung(&mut self, records: &[Applied]) -> bool {
        let node = REGIONS[self.region].1;
        let new = records.get(self.cursor..).unwrap_or_default();
        self.cursor = records.len();
        let owned_session = |c: &Command| matches!(c, Command::Put { actor, node: writer, .. } if *writer == node && actor.starts_with("session/"));
        let business = |c: &Command| matches!(c, Command::Put { actor, .. } if actor.starts_with("business/"));
        new.iter().any(|a| match (&a.command, &a.result) {
            (Command::Atomic(parts), svea_storage::CommandResult::Atomic(_)) => parts.iter().any(owned_session) && parts.iter().any(business),
            _ => false,
        })
    }
}
