//! `simulations sim`: run seeds, print one line each, and a replay command for every failure.

use std::ops::Range;
use std::time::Duration;

use super::{parse_bug, run_range, Options};

/// Largest number of seeds one command runs.
pub const SEEDS_MAX: u64 = 1_000_000;

/// Command-line arguments of `sim`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seeds to run, `A..B` (B excluded), e.g. `1..200`.
    #[arg(long, value_parser = parse_range, default_value = "1..51")]
    pub seeds: Range<u64>,
    /// Run only this seed (overrides --seeds).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Plant a bug: ack-before-flush, accept-stale-epoch, settle-without-record,
    /// apply-batch-out-of-order or payout-settled-twice.
    #[arg(long, value_parser = parse_bug)]
    pub plant: Option<super::Bug>,
    /// Print every trace event.
    #[arg(long)]
    pub verbose: bool,
    /// Length of the fault phase in simulated seconds.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub fault_secs: u64,
    /// Bound for healing in simulated seconds.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub heal_secs: u64,
    /// How long one flush of the simulated disk takes, in simulated milliseconds.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(0..=1000))]
    pub flush_ms: u64,
    /// Concurrent customer clients.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub clients: u64,
}

fn parse_range(s: &str) -> Result<Range<u64>, String> {
    let (a, b) = s.split_once("..").ok_or_else(|| format!("expected A..B, got {s:?}"))?;
    let a: u64 = a.trim().parse().map_err(|e| format!("bad start {a:?}: {e}"))?;
    let b: u64 = b.trim().parse().map_err(|e| format!("bad end {b:?}: {e}"))?;
    if b <= a || b - a > SEEDS_MAX {
        return Err(format!("expected A < B with at most {SEEDS_MAX} seeds, got {s:?}"));
    }
    Ok(a..b)
}

impl Args {
    /// The run options these arguments describe.
    pub fn options(&self) -> Options {
        Options {
            fault: Duration::from_secs(self.fault_secs),
            heal: Duration::from_secs(self.heal_secs),
            clients: usize::try_from(self.clients).unwrap_or(6),
            verbose: self.verbose,
            plant: self.plant,
            flush_latency: Duration::from_millis(self.flush_ms),
            ..Options::default()
        }
    }
}

/// Runs the seeds; fails when any seed violated an invariant.
pub fn main(args: Args) -> anyhow::Result<()> {
    let seeds = match args.seed {
        Some(s) => s..s.saturating_add(1),
        None => args.seeds.clone(),
    };
    let failed = run_range(seeds, &args.options());
    anyhow::ensure!(failed.is_empty(), "{} seed(s) failed; replay each with the command printed above", failed.len());
    Ok(())
}
