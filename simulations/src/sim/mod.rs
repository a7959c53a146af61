//! Deterministic simulation (turmoil): three simulated hosts, one per region, run the real node
//! core (actors, openraft with a seeded runtime, quinn over simulated UDP) on in-memory disks that
//! lose exactly what was not flushed. One seed drives everything: the fault schedule, the
//! workload, message loss and latency, Raft's election timeouts and every generated id.
//!
//! A run: warm-up, a fault phase (crashes, partitions, loss, latency, hold and release) under a
//! concurrent customer workload, then a heal phase that must converge (identical replicas) and
//! serve a new flow in every region within a bound; then the invariants in [`invariants`] are
//! checked. `cargo run -p simulations --release -- sim --seeds 1..200`
//!
//! Determinism: every source of randomness in svea and its dependencies that this run reaches is
//! seeded (openraft through `svea_storage::rt`, ids through `seed_thread_ids`, QUIC through
//! `TransportSettings::rng_seed`, TLS keys are fixed Ed25519 so handshakes have fixed sizes, loss
//! and faults from the seed), and tokio's own generator (it picks the first branch of an unbiased
//! `select!`, as openraft's replication loop does) is seeded by turmoil because the workspace
//! builds with `--cfg tokio_unstable` (`.cargo/config.toml`). The registry keeps its actors in
//! a `BTreeMap`, so nothing iterates in hash order. A seed replays bit for bit: same trace hash.
//!
//! A broken Raft guarantee seen during the run (two leaders in a term, a store that lost what
//! it reported durable) stops the run at once; a panic anywhere in it prints the seed's replay
//! command straight to stderr, since the panic may abort the process.

pub mod certs;
pub mod cli;
pub mod faults;
pub mod host;
pub mod invariants;
pub mod net;
pub mod rail;
pub mod trace;
pub mod workload;

use std::cell::{Cell, RefCell};
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use svea_node::domain::Ore;
use svea_storage::engine::mem::MemDisk;
pub use svea_storage::planted::Bug;

use faults::Fault;
use host::{ApplyLog, HostSpec, Slot, RAFT_PORT, REGIONS};
use invariants::FinalReads;
use trace::Trace;
use workload::{Ctx, Model};

/// Simulated time step.
pub const TICK: Duration = Duration::from_micros(250);
/// Time before the first fault: the cluster elects and the businesses are created.
pub const WARMUP: Duration = Duration::from_secs(3);
/// Leader metrics are sampled every this many steps (5 ms of simulated time).
const SAMPLE_EVERY_STEPS: u64 = 20;
/// Raft groups of the simulated cluster: one per region (`cluster.groups = "per-region"`).
const SIM_GROUPS: svea_storage::GroupId = REGIONS.len() as svea_storage::GroupId;
/// Final reads: attempts per record at most (each bounded by the workload's call timeout).
const FINAL_READ_ROUNDS: u32 = 3;

/// How a run is shaped.
#[derive(Debug, Clone)]
pub struct Options {
    /// Length of the fault phase (simulated).
    pub fault: Duration,
    /// Bound for healing: convergence and the probes must finish within it (simulated).
    pub heal: Duration,
    /// Concurrent customer clients.
    pub clients: usize,
    /// Businesses created at the start.
    pub businesses: usize,
    /// Budget of each business, in öre (small, so budgets run out during a run).
    pub budget_ore: i64,
    /// How long one flush of the simulated disk takes.
    pub flush_latency: Duration,
    /// Print every trace event.
    pub verbose: bool,
    /// A bug to plant for this run.
    pub plant: Option<Bug>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            fault: Duration::from_secs(20),
            heal: Duration::from_secs(30),
            clients: 6,
            businesses: 3,
            budget_ore: 15_000,
            // A cloud disk's fsync; longer than the WAN round trip, so a write acknowledged before
            // its flush is still unflushed everywhere when the client hears back.
            flush_latency: Duration::from_millis(8),
            verbose: false,
            plant: None,
        }
    }
}

/// What one seed did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The seed.
    pub seed: u64,
    /// Hash of the canonical trace.
    pub trace_hash: u64,
    /// Hash of the fault schedule alone (times and faults): fixed by the seed even where the
    /// execution is not (see the module documentation on tokio_unstable).
    pub schedule_hash: u64,
    /// Events in the trace.
    pub events: u64,
    /// Invariant violations (empty: the run passed).
    pub violations: Vec<String>,
    /// Customer flows that completed.
    pub flows: u64,
    /// Calls made, acknowledged, failed, unknown.
    pub calls: [u64; 4],
    /// Terms that had a leader.
    pub terms: usize,
    /// Faults applied.
    pub faults: usize,
    /// Simulated time the run took.
    pub sim_time: Duration,
    /// Last trace lines (for failure reports).
    pub tail: Vec<String>,
}

/// The one-line command that replays `seed` with `opts`.
pub fn replay_command(seed: u64, opts: &Options) -> String {
    let mut cmd = format!(
        "cargo run -p simulations --release -- sim --seed {seed} --fault-secs {} --heal-secs {} --clients {} --flush-ms {}",
        opts.fault.as_secs(),
        opts.heal.as_secs(),
        opts.clients,
        opts.flush_latency.as_millis()
    );
    if let Some(bug) = opts.plant {
        cmd.push_str(&format!(" --plant {}", bug_name(bug)));
    }
    cmd
}

/// The command-line name of a planted bug.
pub fn bug_name(bug: Bug) -> &'static str {
    match bug {
        Bug::AckBeforeFlush => "ack-before-flush",
        Bug::AcceptStaleEpoch => "accept-stale-epoch",
        Bug::SettleWithoutRecord => "settle-without-record",
        Bug::ApplyBatchOutOfOrder => "apply-batch-out-of-order",
        Bug::PayoutSettledTwice => "payout-settled-twice",
        Bug::AppliedIndexFirst => "applied-index-first",
        Bug::WrongGroup => "wrong-group",
    }
}

/// Parses a planted bug's command-line name.
pub fn parse_bug(s: &str) -> Result<Bug, String> {
    match s {
        "ack-before-flush" => Ok(Bug::AckBeforeFlush),
        "accept-stale-epoch" => Ok(Bug::AcceptStaleEpoch),
        "settle-without-record" => Ok(Bug::SettleWithoutRecord),
        "apply-batch-out-of-order" => Ok(Bug::ApplyBatchOutOfOrder),
        "payout-settled-twice" => Ok(Bug::PayoutSettledTwice),
        "applied-index-first" => Ok(Bug::AppliedIndexFirst),
        "wrong-group" => Ok(Bug::WrongGroup),
        other => Err(format!(
            "unknown bug {other:?}: ack-before-flush, accept-stale-epoch, settle-without-record, apply-batch-out-of-order, \
             payout-settled-twice, applied-index-first or wrong-group"
        )),
    }
}

thread_local! {
    /// The replay command of the run on this thread, for the panic hook.
    static REPLAY: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Makes every panic during a run name its seed, written straight to the process's stderr: a
/// panic inside a simulated host shuts its runtime down, and if unwinding then hits a destructor
/// that panics too the process aborts, taking captured test output with it.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let replay = REPLAY.try_with(|r| r.try_borrow().ok().and_then(|r| r.clone())).ok().flatten();
            if let Some(cmd) = replay {
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "simulation panicked: {info}\n  replay: {cmd}");
            }
            previous(info);
        }));
    });
}

/// Everything on this thread that a seed controls, set for one run and reset afterwards.
struct SeededThread;

impl SeededThread {
    fn enter(seed: u64, opts: &Options) -> Self {
        install_panic_hook();
        REPLAY.with(|r| *r.borrow_mut() = Some(replay_command(seed, opts)));
        let plant = opts.plant;
        svea_storage::rt::seed_thread_rng(seed ^ 0x5eed_0f_4a57);
        svea_node::domain::ids::seed_thread_ids(Some(seed ^ 0x1d5_0f_5eed));
        net::reset_loss(StdRng::seed_from_u64(seed ^ 0x10_55));
        for bug in Bug::ALL {
            svea_storage::planted::set(bug, plant == Some(bug));
        }
        SeededThread
    }
}

impl Drop for SeededThread {
    fn drop(&mut self) {
        let _ = REPLAY.try_with(|r| r.try_borrow_mut().map(|mut r| *r = None));
        svea_node::domain::ids::seed_thread_ids(None);
        for bug in Bug::ALL {
            svea_storage::planted::set(bug, false);
        }
    }
}

/// The fault schedule of `seed` (drawn before the run, from the seed alone).
pub fn fault_schedule(seed: u64, opts: &Options) -> Vec<(Duration, Fault)> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xfa_017);
    faults::schedule(&mut rng, WARMUP, WARMUP + opts.fault)
}

/// Hash of a fault schedule (times and faults).
pub fn schedule_hash(schedule: &[(Duration, Fault)]) -> u64 {
    let lines: Vec<String> = schedule.iter().map(|(at, f)| format!("{} {}", at.as_micros(), f.describe())).collect();
    trace::hash_lines(lines.iter().map(String::as_str))
}

/// The QUIC randomness seed of node `id` in the run of `seed`.
fn quic_seed(seed: u64, id: u64) -> [u8; 32] {
    use rand::RngCore;
    let mut out = [0u8; 32];
    StdRng::seed_from_u64(seed ^ id.rotate_left(32) ^ 0x9_c1c).fill_bytes(&mut out);
    out
}

/// Runs one seed to the end and checks every invariant.
pub fn run_seed(seed: u64, opts: &Options) -> Outcome {
    let _seeded = SeededThread::enter(seed, opts);
    let trace = Rc::new(RefCell::new(Trace::new(opts.verbose)));
    let model = Rc::new(RefCell::new(Model::default()));
    let mut outcome = Outcome {
        seed,
        trace_hash: 0,
        schedule_hash: 0,
        events: 0,
        violations: Vec::new(),
        flows: 0,
        calls: [0; 4],
        terms: 0,
        faults: 0,
        sim_time: Duration::ZERO,
        tail: Vec::new(),
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        simulate(seed, opts, trace.clone(), model.clone(), &mut outcome)
    }));
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => outcome.violations.push(format!("run failed: {e:#}")),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            outcome.violations.push(format!("panicked: {msg}"));
        }
    }
    let t = trace.borrow();
    outcome.trace_hash = t.hash();
    outcome.events = t.len();
    outcome.tail = t.tail().cloned().collect();
    let m = model.borrow();
    outcome.flows = m.flows_done;
    outcome.calls = m.calls;
    outcome.violations.extend(m.violations.iter().cloned());
    outcome
}

fn simulate(seed: u64, opts: &Options, trace: Rc<RefCell<Trace>>, model: Rc<RefCell<Model>>, outcome: &mut Outcome) -> anyhow::Result<()> {
    let fault_end = WARMUP + opts.fault;
    let limit = fault_end + opts.heal * 3 + Duration::from_secs(60);
    let mut sim = turmoil::Builder::new()
        .simulation_duration(limit)
        .tick_duration(TICK)
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(1))
        .rng_seed(seed)
        .build();
    let ips: [IpAddr; 3] = [sim.lookup(REGIONS[0].0), sim.lookup(REGIONS[1].0), sim.lookup(REGIONS[2].0)];
    let pems = certs::make(&REGIONS)?;
    let disks: Vec<MemDisk> = (0..3).map(|_| MemDisk::with_flush_latency(opts.flush_latency)).collect();
    let slots: Rc<Vec<net::Shared<Slot>>> = Rc::new((0..3).map(|_| Rc::new(RefCell::new(Slot::default()))).collect());
    let applied = Arc::new(Mutex::new(ApplyLog::default()));
    let rail = rail::RecordingRail::default();
    for (i, (region, id)) in REGIONS.iter().enumerate() {
        let spec = Arc::new(HostSpec {
            id: *id,
            ip: ips[i],
            config_toml: host::config_toml(*id, &ips),
            pems: pems[i].clone(),
            peers: REGIONS
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(j, (_, pid))| (*pid, SocketAddr::new(ips[j], RAFT_PORT)))
                .collect(),
            disk: disks[i].clone(),
            quic_seed: quic_seed(seed, *id),
            slot: slots[i].clone(),
            applied: applied.clone(),
            rail: rail.clone(),
        });
        sim.host(*region, move || host::run(spec.clone()));
    }
    for (a, b, _) in faults::LINK_LATENCY_US {
        sim.set_link_latency(REGIONS[a].0, REGIONS[b].0, faults::base_latency(a, b));
    }

    let ctx = Ctx { slots: slots.clone(), model: model.clone(), trace: trace.clone() };
    let final_reads: Rc<RefCell<Option<FinalReads>>> = Rc::new(RefCell::new(None));
    let healed = Rc::new(Cell::new(false));
    let heal_violations: Rc<RefCell<Vec<String>>> = Rc::new(RefCell::new(Vec::new()));
    {
        let ctx = ctx.clone();
        let final_reads = final_reads.clone();
        let healed = healed.clone();
        let heal_violations = heal_violations.clone();
        let opts = opts.clone();
        sim.client("workload", async move {
            drive(ctx, opts, seed, fault_end, healed, heal_violations, final_reads).await;
            Ok(())
        });
    }

    let schedule = fault_schedule(seed, opts);
    outcome.schedule_hash = schedule_hash(&schedule);
    let mut next = 0;
    let mut world = World {
        ips: &ips,
        disks: &disks,
        slots: &slots,
        up: [true; 3],
        promises: Default::default(),
        crash_cuts: StdRng::seed_from_u64(seed ^ 0xc7a5_4c07),
    };
    let mut armed: Option<Vec<usize>> = None;
    let mut acked_at_arming = 0u64;
    let mut trap: Option<faults::SettlementTrap> = None;
    let mut leaders = invariants::one_leader::Leaders::default();
    let mut steps = 0u64;
    let mut stopped_early = false;
    loop {
        let now = sim.elapsed();
        let acked = model.borrow().write_acks;
        if let Some(v) = armed.take() {
            if acked > acked_at_arming {
                trace.borrow_mut().record(now, "fault crash now (after a write was acknowledged)");
                apply(&mut sim, &Fault::Crash(v), &mut world);
            } else {
                armed = Some(v);
            }
        }
        if let Some(t) = trap.as_mut() {
            let sprung = t.sprung(&applied.lock().unwrap_or_else(|p| p.into_inner()).records);
            if sprung {
                let r = t.region;
                trap = None;
                trace.borrow_mut().record(now, format!("fault crash {} now (inside a settlement)", name(r)));
                apply(&mut sim, &Fault::Crash(vec![r]), &mut world);
            }
        }
        while next < schedule.len() && schedule[next].0 <= now {
            let fault = &schedule[next].1;
            trace.borrow_mut().record(now, format!("fault {}", fault.describe()));
            match fault {
                Fault::CrashAfterAck(v) => {
                    armed = Some(v.clone());
                    acked_at_arming = acked;
                }
                Fault::CrashInSettlement(r) => {
                    let seen = applied.lock().unwrap_or_else(|p| p.into_inner()).records.len();
                    trap = Some(faults::SettlementTrap::new(*r, seen));
                }
                Fault::Restart(v) => {
                    // A crash that never found its acknowledgement (or settlement) is dropped
                    // with its restart.
                    armed = None;
                    if trap.as_ref().is_some_and(|t| v.contains(&t.region)) {
                        trap = None;
                    }
                    apply(&mut sim, fault, &mut world);
                }
                _ => apply(&mut sim, fault, &mut world),
            }
            outcome.faults += 1;
            next += 1;
        }
        if !healed.get() && now >= fault_end {
            trace.borrow_mut().record(now, "heal");
            armed = None;
            trap = None;
            heal(&mut sim, &mut world.up);
            healed.set(true);
        }
        if steps % SAMPLE_EVERY_STEPS == 0 {
            for slot in slots.iter() {
                let Some(h) = slot.borrow().handle.clone() else { continue };
                for (group, st) in h.cluster().statuses().into_iter().enumerate() {
                    if st.role == "leader" && leaders.observe(group as u16, st.term, st.node_id) {
                        trace.borrow_mut().record(now, format!("leader group {group} term {} node {}", st.term, st.node_id));
                    }
                }
            }
        }
        steps += 1;
        if !leaders.violations.is_empty() || !world.promises.violations.is_empty() {
            // Fail fast: what follows a broken Raft guarantee is noise (openraft itself may
            // assert and take the host down), and the first violation is what a replay needs.
            trace.borrow_mut().record(now, "stop: an invariant was violated during the run");
            stopped_early = true;
            break;
        }
        match sim.step() {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => anyhow::bail!("simulation stopped at {:?}: {e}", sim.elapsed()),
        }
    }
    outcome.sim_time = sim.elapsed();
    outcome.terms = leaders.terms();
    outcome.violations.extend(leaders.violations);
    outcome.violations.extend(world.promises.violations);
    outcome.violations.extend(heal_violations.borrow().iter().cloned());
    let applied_log = applied.lock().unwrap_or_else(|p| p.into_inner());
    outcome.violations.extend(invariants::single_owner::check(&applied_log));
    outcome.violations.extend(invariants::answers::check(&applied_log));
    outcome.violations.extend(invariants::flow_commits::check(&applied_log));
    outcome.violations.extend(invariants::groups::check(&applied_log, SIM_GROUPS));
    let reads = final_reads.borrow();
    let m = model.borrow();
    match reads.as_ref() {
        None if stopped_early => {}
        None => outcome.violations.push("the workload never reached its final reads".into()),
        Some(reads) => {
            outcome.violations.extend(invariants::acked_writes::check(&m, reads));
            outcome.violations.extend(invariants::reward_once::check(&m, reads));
            outcome.violations.extend(invariants::settled_once::check(&m, reads));
            outcome.violations.extend(invariants::budget::check_final(reads));
            outcome.violations.extend(invariants::ledger::check(&reads.ledger));
            outcome.violations.extend(invariants::payouts::check(&rail.sent(), &reads.ledger));
        }
    }
    Ok(())
}

/// The workload client: setup, customers through the fault phase, then healing, probes and the
/// final reads.
async fn drive(
    ctx: Ctx,
    opts: Options,
    seed: u64,
    fault_end: Duration,
    healed: Rc<Cell<bool>>,
    heal_violations: Rc<RefCell<Vec<String>>>,
    final_reads: Rc<RefCell<Option<FinalReads>>>,
) {
    let fail = |v: String| heal_violations.borrow_mut().push(v);
    if let Err(e) = workload::setup(&ctx, opts.businesses, Ore::from_ore(opts.budget_ore)).await {
        fail(format!("liveness: creating the businesses failed before any fault: {e}"));
        return;
    }
    let customers: Vec<_> = (0..opts.clients)
        .map(|c| tokio::task::spawn_local(workload::customer(ctx.clone(), c, c % 3, seed.wrapping_mul(31).wrapping_add(c as u64), fault_end)))
        .collect();
    for c in customers {
        let _ = c.await;
    }
    while !healed.get() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let heal_start = trace::now();
    let deadline = heal_start + opts.heal;
    // Converge: every replica identical.
    if let Err(e) = converge(&ctx, deadline).await {
        fail(format!("convergence: replicas still differ {:?} after healing: {e}", opts.heal));
    }
    // Liveness: a complete new flow in every region, within the bound.
    for region in 0..3 {
        let left = deadline.saturating_sub(trace::now());
        match tokio::time::timeout(left, workload::probe(&ctx, region, 1)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => fail(format!("liveness: a new flow in {} failed after healing: {e}", REGIONS[region].0)),
            Err(_) => fail(format!("liveness: a new flow in {} did not finish within {:?} of healing", REGIONS[region].0, opts.heal)),
        }
    }
    ctx.trace.borrow_mut().record(trace::now(), format!("healed in {}ms", (trace::now() - heal_start).as_millis()));
    *final_reads.borrow_mut() = Some(read_everything(&ctx).await);
    // After the reads (which may claim actors) the replicas must agree again.
    if let Err(e) = converge(&ctx, trace::now() + opts.heal).await {
        fail(format!("convergence: replicas differ after the final reads: {e}"));
    }
    match ledger_snapshot(&ctx) {
        Ok(l) => {
            if let Some(r) = final_reads.borrow_mut().as_mut() {
                r.ledger = l;
            }
        }
        Err(e) => fail(format!("ledger: could not be read after healing: {e}")),
    }
}

/// The ledger's records as the first running replica holds them (all agree after convergence).
fn ledger_snapshot(ctx: &Ctx) -> Result<invariants::ledger::LedgerSnapshot, String> {
    use svea_node::actors::keys::{EntryRecord, PayoutState, PostingRecord};
    use svea_storage::codec::decode;
    let handle = ctx.slots.iter().find_map(|s| s.borrow().handle.clone()).ok_or("no replica running")?;
    let view = handle.cluster().view();
    let mut l = invariants::ledger::LedgerSnapshot::default();
    for (key, bytes) in view.scan_index(EntryRecord::PREFIX, usize::MAX).map_err(|e| e.to_string())? {
        l.entries.insert(key[EntryRecord::PREFIX.len()..].to_owned(), decode(&bytes).map_err(|e| format!("{key}: {e}"))?);
    }
    for (key, bytes) in view.scan_index(PostingRecord::PREFIX, usize::MAX).map_err(|e| e.to_string())? {
        l.postings.insert(key.clone(), decode(&bytes).map_err(|e| format!("{key}: {e}"))?);
    }
    for (key, bytes) in view.scan_index("pay/", usize::MAX).map_err(|e| e.to_string())? {
        let r: svea_node::actors::keys::PayoutRecord = decode(&bytes).map_err(|e| format!("{key}: {e}"))?;
        l.payouts.insert(key["pay/".len()..].to_owned(), (r.amount.as_ore(), r.state != PayoutState::InFlight));
    }
    Ok(l)
}

async fn converge(ctx: &Ctx, deadline: Duration) -> Result<(), String> {
    loop {
        let r = invariants::convergence::replicas_identical(&ctx.slots);
        if r.is_ok() || trace::now() >= deadline {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn read_everything(ctx: &Ctx) -> FinalReads {
    use host::{call, Answer, Op};
    use svea_node::core::SessionMsg;
    let mut reads = FinalReads::default();
    let businesses: Vec<_> = ctx.model.borrow().businesses.iter().map(|b| b.id.clone()).collect();
    let sessions: Vec<_> = ctx.model.borrow().sessions.keys().cloned().collect();
    // Sessions first: reading a session with pending feedback settles it with its business, so
    // the businesses read afterwards include every settlement the sessions show.
    for id in sessions {
        let mut last = Err("not read".to_string());
        for round in 0..FINAL_READ_ROUNDS {
            match call(&ctx.slots[round as usize % 3], Op::Session(id.clone(), SessionMsg::Get), workload::CALL_TIMEOUT).await {
                Ok(Ok(Answer::Session(s))) => {
                    last = Ok(*s);
                    break;
                }
                other => last = Err(format!("{other:?}")),
            }
        }
        reads.sessions.insert(id, last);
    }
    for id in businesses {
        let mut last = Err("not read".to_string());
        for round in 0..FINAL_READ_ROUNDS {
            match call(&ctx.slots[round as usize % 3], Op::GetBusiness(id.clone()), workload::CALL_TIMEOUT).await {
                Ok(Ok(Answer::Business(b))) => {
                    last = Ok(*b);
                    break;
                }
                other => last = Err(format!("{other:?}")),
            }
        }
        reads.businesses.push(last);
    }
    reads
}

fn name(i: usize) -> &'static str {
    REGIONS[i].0
}

/// The simulated world the runner changes: hosts, their disks and front doors.
struct World<'a> {
    ips: &'a [IpAddr; 3],
    disks: &'a [MemDisk],
    slots: &'a [net::Shared<Slot>],
    up: [bool; 3],
    promises: invariants::durable_promises::Promises,
    /// How much of a crashed host's unflushed writes its disk keeps (a prefix, drawn from the seed).
    crash_cuts: StdRng,
}

fn apply(sim: &mut turmoil::Sim<'_>, fault: &Fault, w: &mut World<'_>) {
    let World { ips, disks, slots, up, promises, crash_cuts } = w;
    match fault {
        Fault::Crash(v) => {
            for &r in v {
                if up[r] {
                    sim.crash(name(r));
                    // The disk keeps a random prefix of what was written since the last flush
                    // (none, all, or anything between, in whole batches), as sled's log may.
                    let crash = disks[r].crash_keeping(|pending| crash_cuts.gen_range(0..=pending));
                    promises.crashed(sim.elapsed(), name(r), crash);
                    *slots[r].borrow_mut() = Slot::default();
                    up[r] = false;
                }
            }
        }
        Fault::CrashAfterAck(_) | Fault::CrashInSettlement(_) => {}
        Fault::Restart(v) => {
            for &r in v {
                if !up[r] {
                    sim.bounce(name(r));
                    up[r] = true;
                }
            }
        }
        Fault::Partition(a, b) => sim.partition(name(*a), name(*b)),
        Fault::PartitionOneway(a, b) => sim.partition_oneway(name(*a), name(*b)),
        Fault::Repair(a, b) => sim.repair(name(*a), name(*b)),
        Fault::Loss(a, b, p) => {
            net::set_loss(ips[*a], ips[*b], *p);
            net::set_loss(ips[*b], ips[*a], *p);
        }
        Fault::NoLoss(a, b) => {
            net::set_loss(ips[*a], ips[*b], 0.0);
            net::set_loss(ips[*b], ips[*a], 0.0);
        }
        Fault::Latency(a, b, d) => sim.set_link_latency(name(*a), name(*b), *d),
        Fault::Hold(a, b) => sim.hold(name(*a), name(*b)),
        Fault::Release(a, b) => sim.release(name(*a), name(*b)),
    }
}

fn heal(sim: &mut turmoil::Sim<'_>, up: &mut [bool; 3]) {
    for (a, b, _) in faults::LINK_LATENCY_US {
        sim.repair(name(a), name(b));
        sim.release(name(a), name(b));
        sim.set_link_latency(name(a), name(b), faults::base_latency(a, b));
    }
    net::clear_loss();
    for (r, is_up) in up.iter_mut().enumerate() {
        if !*is_up {
            sim.bounce(name(r));
            *is_up = true;
        }
    }
}

/// Runs every seed in `seeds`, printing one line each; returns the failed outcomes.
pub fn run_range(seeds: Range<u64>, opts: &Options) -> Vec<Outcome> {
    let started = Instant::now();
    let mut failed = Vec::new();
    let n = seeds.end.saturating_sub(seeds.start);
    for seed in seeds {
        let t = Instant::now();
        let o = run_seed(seed, opts);
        let status = if o.violations.is_empty() { "ok" } else { "FAILED" };
        println!(
            "seed {seed}: {status} trace={:016x} events={} flows={} calls={}/{}/{}/{} (made/ok/failed/unknown) terms={} faults={} sim={:.1}s wall={:.2}s",
            o.trace_hash,
            o.events,
            o.flows,
            o.calls[0],
            o.calls[1],
            o.calls[2],
            o.calls[3],
            o.terms,
            o.faults,
            o.sim_time.as_secs_f64(),
            t.elapsed().as_secs_f64()
        );
        if !o.violations.is_empty() {
            for v in &o.violations {
                println!("  violation: {v}");
            }
            println!("  last events:");
            for line in o.tail.iter().rev().take(12).rev() {
                println!("    {line}");
            }
            println!("  replay: {}", replay_command(seed, opts));
            failed.push(o);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{n} seeds in {secs:.1}s ({:.2} seeds/s), {} failed",
        if secs > 0.0 { n as f64 / secs } else { 0.0 },
        failed.len()
    );
    failed
}
