//! The deterministic simulation as a test: seeds pass, a seed replays, planted bugs are caught.
//!
//! Runs are shortened (fault phase, clients) and few, because `cargo test` builds without
//! optimisation and one seed then costs about 20 s instead of about 1.5 s: the whole file stays
//! around three minutes on two cores. The long runs are one command away:
//! `cargo run -p simulations --release -- sim --seeds 1..1000`.

use std::time::Duration;

use simulations::sim::{fault_schedule, replay_command, run_seed, schedule_hash, Bug, Options, Outcome};

/// Seeds every CI run checks (see the module comment for why so few).
const CI_SEEDS: std::ops::Range<u64> = 1..5;
/// Seeds searched for a planted bug before the test gives up.
const PLANTED_SEEDS_MAX: u64 = 30;

fn ci_options() -> Options {
    Options { fault: Duration::from_secs(6), heal: Duration::from_secs(15), clients: 4, ..Options::default() }
}

fn report(o: &Outcome, opts: &Options) -> String {
    format!(
        "seed {} violated:\n  {}\nlast events:\n  {}\nreplay: {}",
        o.seed,
        o.violations.join("\n  "),
        o.tail.join("\n  "),
        replay_command(o.seed, opts)
    )
}

#[test]
fn ci_seeds_pass_every_invariant() {
    let opts = ci_options();
    for seed in CI_SEEDS {
        let o = run_seed(seed, &opts);
        assert!(o.violations.is_empty(), "{}", report(&o, &opts));
        assert!(o.flows > 0, "seed {seed}: no customer flow completed; the workload did not run");
        assert!(o.faults > 0, "seed {seed}: no fault was applied");
        assert!(o.terms > 0, "seed {seed}: no leader was observed");
    }
}

fn first_detection(bug: Bug) -> Option<(u64, Vec<String>)> {
    let opts = Options { plant: Some(bug), ..ci_options() };
    (1..=PLANTED_SEEDS_MAX).find_map(|seed| {
        let o = run_seed(seed, &opts);
        (!o.violations.is_empty()).then_some((seed, o.violations))
    })
}

fn assert_caught(bug: Bug) {
    let found = first_detection(bug);
    assert!(found.is_some(), "no seed in 1..={PLANTED_SEEDS_MAX} caught {bug:?}");
    if let Some((seed, v)) = found {
        println!("{bug:?} caught at seed {seed}: {}", v.join(" | "));
    }
}

#[test]
fn acknowledging_before_the_flush_is_caught() {
    assert_caught(Bug::AckBeforeFlush);
}

#[test]
fn accepting_a_stale_epoch_is_caught() {
    assert_caught(Bug::AcceptStaleEpoch);
}

/// Runs seed 7 twice; the first run must pass.
fn seed_7_twice() -> (Options, Outcome, Outcome) {
    let opts = ci_options();
    let a = run_seed(7, &opts);
    assert!(a.violations.is_empty(), "{}", report(&a, &opts));
    let b = run_seed(7, &opts);
    (opts, a, b)
}

/// Bit-exact replay needs tokio's `select!` generator seeded, which only `--cfg tokio_unstable`
/// allows: `RUSTFLAGS="--cfg tokio_unstable" cargo test -p simulations --test sim`.
#[cfg(tokio_unstable)]
#[test]
fn the_same_seed_gives_the_same_trace_hash() {
    let (opts, a, b) = seed_7_twice();
    assert_eq!(a.trace_hash, b.trace_hash, "seed 7 replayed differently:\n{:?}\n{:?}", a.tail, b.tail);
    assert_ne!(run_seed(8, &opts).trace_hash, a.trace_hash, "another seed gave the same trace");
}

/// Without `tokio_unstable` only what the seed fixes before the run replays exactly: the fault
/// schedule (the trace hashes are printed; they may differ).
#[cfg(not(tokio_unstable))]
#[test]
fn the_same_seed_gives_the_same_fault_schedule() {
    let (opts, a, b) = seed_7_twice();
    assert_eq!(a.schedule_hash, b.schedule_hash);
    assert_eq!(a.schedule_hash, schedule_hash(&fault_schedule(7, &opts)), "the run applied another schedule");
    assert_ne!(schedule_hash(&fault_schedule(8, &opts)), a.schedule_hash, "another seed gave the same schedule");
    println!("seed 7 trace hashes without tokio_unstable: {:016x} {:016x}", a.trace_hash, b.trace_hash);
}
