//! `bench-node`: committed actor state changes per second and per-step latency of ONE node core,
//! in-process, through the real path (registry -> actors -> Raft -> sled, on stable storage:
//! sled's flush plus one `fdatasync` per group commit, see `svea_storage::engine`).
//!
//! Each simulated customer scans a QR code (`open`), confirms a purchase (`purchase`) and writes
//! a Swedish review (`feedback`), one step after the other, as a phone would. `--concurrency`
//! customers are in flight at once, all on the node's own current-thread runtime and `LocalSet`,
//! so the numbers include no HTTP, no JSON and no network: only what the core costs.
//!
//! Throughput is reported three times: Raft writes estimated from the successful steps (the counts
//! per step are in [`simulations::customers`]), commands applied, from the node's applied-command
//! counter (the one `/metrics` shows as `svea_commands_applied_total`) before and after the run,
//! and Raft entries, from the applied log index. Commands applied is the ground truth (it also
//! counts the claims of reactivated actors); entries are fewer when the write batcher puts several
//! commands in one entry. This is a benchmark that prints numbers; nothing here asserts on timings.
//!
//! `--actors N` measures memory instead: it opens N sessions (each open activates its session
//! actor, which stays active until `--actor-idle-ms` passes without a call), reads the process's
//! resident memory (`VmRSS` of `/proc/self/status`, after `malloc_trim` so freed heap is given
//! back) before and after, and again once the actors have passivated, with the heap in use
//! (glibc's `mallinfo2`: allocated bytes, whatever pages they share). The growth per active actor
//! includes everything the opens left behind (sled's page cache, Raft's log); the heap given back
//! at passivation is what the actors themselves held (RSS barely drops: freed actors sit between
//! live cache pages).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use svea_node::actors::session::SessionState;
use svea_node::actors::{ActorError, SystemClock};
use svea_node::domain::{DeviceId, OrgNumber, Ore, QrToken, RewardPolicy, RubricScorer, TransactionId};
use svea_node::core::{self, NodeHandle, SessionMsg};
use svea_node::domain::{CreateBusiness, NewLocation};
use simulations::customers::{self, FEEDBACK_WRITES, FLOW_WRITES, OPEN_WRITES, PURCHASE_ORE, PURCHASE_WRITES};
use simulations::latency::{ms, Latencies, Summary};
use tokio::time::Instant;

/// Most customers one run may simulate (keeps the latency vectors to a few tens of MB).
const SESSIONS_MAX: u64 = 1_000_000;
/// Most customers in flight. Each holds at most two routed calls (its own step plus the
/// business call that step makes), so this stays well inside the default routing queue (4096).
const CONCURRENCY_MAX: u64 = 1024;
/// Most businesses the customers are spread over.
const BUSINESSES_MAX: u64 = 1000;
/// Most session actors `--actors` activates.
const ACTORS_MAX: u64 = 10_000_000;
/// Longest `--actor-idle-ms`.
const ACTOR_IDLE_MS_MAX: u64 = 3_600_000;
/// Sessions of an `--actors` run never expire while it runs (the sweeper would touch them).
const ACTORS_SESSION_EXPIRY_MS: u64 = 24 * 3_600_000;
/// After the idle timeout, how long passivation may take (the registry looks a quarter timeout
/// late at most; the actors stop on the core's own `LocalSet`).
const PASSIVATION_SLACK: Duration = Duration::from_secs(30);
/// Pause between two looks at the number of active actors.
const ACTIVE_POLL: Duration = Duration::from_millis(100);

/// How long the core may take to open its store and start Raft.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a fresh single-node cluster may take to elect itself and become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between two readiness checks.
const READY_POLL: Duration = Duration::from_millis(50);
/// Upper bound for one customer step including its busy retries. The registry already bounds
/// each call (4 x the client-write timeout = 20 s by default); `open` may make two such calls.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a graceful core shutdown (actors, Raft, final flush) may take.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the runtime waits for blocking tasks (sled flushes) after the core stopped.
const RUNTIME_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// A step answered `Busy` (full actor mailbox or routing queue) is retried, as a client answered
/// HTTP 503 + Retry-After would, at most this many times in all.
const BUSY_ATTEMPTS_MAX: u32 = 200;
/// First pause after a `Busy` answer; doubled per retry up to [`BUSY_BACKOFF_MAX`].
const BUSY_BACKOFF_MIN: Duration = Duration::from_millis(1);
/// Longest pause between two attempts of one step.
const BUSY_BACKOFF_MAX: Duration = Duration::from_millis(50);
const _: () = assert!(BUSY_BACKOFF_MIN.as_millis() < BUSY_BACKOFF_MAX.as_millis());

/// Options of `bench-node`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Customers to simulate; each opens a session, confirms a purchase and gives feedback.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=SESSIONS_MAX))]
    sessions: u64,
    /// Customers in flight at once.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=CONCURRENCY_MAX))]
    concurrency: u64,
    /// Businesses the customers are spread over (round robin). Every session reports to its
    /// business twice, and a business actor handles one call at a time, so with one business
    /// that actor's commit latency bounds the flow rate.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=BUSINESSES_MAX))]
    businesses: u64,
    /// Store directory; kept afterwards. Default: a fresh directory under the system temp dir,
    /// removed at the end.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Seed for purchase amounts and review choice (the workload, not the timings).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// No new customer starts after this many seconds; the run then reports what it measured.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    deadline_s: u64,
    /// Log filter for the node's own logs on stderr (`tracing_subscriber::EnvFilter` syntax).
    #[arg(long, default_value = "warn")]
    log_filter: String,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Memory mode: activate this many session actors (by opening that many sessions, spread
    /// over `--businesses` with `--concurrency` in flight), print resident memory per active
    /// actor, then again after they passivated. Replaces the flow benchmark.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=ACTORS_MAX))]
    actors: Option<u64>,
    /// `timeouts.actor_idle_ms` of the node with `--actors`: longer than opening all sessions
    /// takes (the report says when it was not), as the run waits this long for passivation.
    #[arg(long, default_value_t = 120_000, value_parser = clap::value_parser!(u64).range(1..=ACTOR_IDLE_MS_MAX))]
    actor_idle_ms: u64,
}

/// Runs the benchmark and prints its report.
pub fn main(args: Args) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_filter)
        .map_err(|e| anyhow!("--log-filter {:?}: {e}", args.log_filter))?;
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();

    // The temp dir is removed when `temp` drops, after the runtime (and with it sled) is gone.
    let mut temp = None;
    let data_dir = match &args.data_dir {
        Some(dir) => dir.clone(),
        None => {
            let dir = tempfile::Builder::new()
                .prefix("svea-bench-node-")
                .tempdir_in(std::env::temp_dir())
                .context("cannot create a temp dir for the store")?;
            let path = dir.path().to_path_buf();
            temp = Some(dir);
            path
        }
    };
    let result = run_core(&args, &data_dir);
    if let Some(dir) = temp {
        if let Err(e) = dir.close() {
            eprintln!("warning: could not remove {}: {e}", data_dir.display());
        }
    }
    match result? {
        Done::Flows(report) if args.json => println!("{}", report.to_json(&args, &data_dir)),
        Done::Flows(report) => report.print_table(&args, &data_dir),
        Done::Memory(report) if args.json => println!("{}", report.to_json(&args)),
        Done::Memory(report) => report.print(&args),
    }
    Ok(())
}

/// What a run measured.
enum Done {
    /// The customer flows.
    Flows(Report),
    /// Memory per actor (`--actors`).
    Memory(MemoryReport),
}

/// Builds the runtime the core requires (current-thread + `LocalSet`, no actix `System`),
/// runs the benchmark on it and tears it down within a bounded time.
fn run_core(args: &Args, data_dir: &Path) -> anyhow::Result<Done> {
    let mut raw = svea_config::RawConfig::default();
    raw.node.data_dir = data_dir.to_str().ok_or_else(|| anyhow!("data dir {} is not UTF-8", data_dir.display()))?.to_owned();
    // Nothing binds these in the core; loopback placeholders keep validation happy.
    raw.node.raft_addr = "127.0.0.1:7001".to_owned();
    raw.node.http_addr = "127.0.0.1:8080".to_owned();
    if args.actors.is_some() {
        raw.timeouts.actor_idle_ms = args.actor_idle_ms;
        raw.timeouts.session_expiry_ms = ACTORS_SESSION_EXPIRY_MS;
    }
    let config = raw.validate()?;

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let local = tokio::task::LocalSet::new();
    let result = local
        .block_on(&rt, bench(args, config))
        .with_context(|| format!("bench-node on store {}", data_dir.display()));
    {
        // Actor tasks left on the LocalSet may hold timers: drop them inside the runtime.
        let _entered = rt.enter();
        drop(local);
    }
    rt.shutdown_timeout(RUNTIME_SHUTDOWN_TIMEOUT);
    result
}

/// Starts the core, drives the customers, and always shuts the core down again.
async fn bench(args: &Args, config: svea_config::Config) -> anyhow::Result<Done> {
    let start = core::start(config, Arc::new(SystemClock), Arc::new(RubricScorer::new()));
    let core = tokio::time::timeout(START_TIMEOUT, start)
        .await
        .map_err(|_| anyhow!("node core did not start within {START_TIMEOUT:?}"))??;
    let result = match args.actors {
        Some(actors) => measure_actors(args, &core.handle, actors).await.map(Done::Memory),
        None => drive(args, &core.handle).await.map(Done::Flows),
    };
    if tokio::time::timeout(SHUTDOWN_TIMEOUT, core.shutdown()).await.is_err() {
        eprintln!("warning: node core did not shut down within {SHUTDOWN_TIMEOUT:?}");
    }
    result
}

/// One simulated customer.
struct Customer {
    index: u64,
    token: QrToken,
    amount: Ore,
    review: String,
}

async fn drive(args: &Args, node: &NodeHandle) -> anyhow::Result<Report> {
    wait_ready(node).await?;
    let tokens = create_businesses(args, node).await?;

    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut customers = Vec::with_capacity(usize::try_from(args.sessions)?);
    for index in 0..args.sessions {
        customers.push(Customer {
            index,
            token: tokens[usize::try_from(index % args.businesses)?].clone(),
            amount: Ore::from_ore(rng.gen_range(PURCHASE_ORE)),
            review: customers::review(&mut rng),
        });
    }
    let customers = Rc::new(customers);

    let applied_before = node.cluster().status().last_applied_index.unwrap_or(0);
    let commands_before = node.commands_applied();
    let stats = Rc::new(RefCell::new(Stats::default()));
    let next = Rc::new(Cell::new(0usize));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.deadline_s);
    let workers: Vec<_> = (0..args.concurrency.min(args.sessions))
        .map(|_| tokio::task::spawn_local(worker(node.clone(), customers.clone(), next.clone(), stats.clone(), deadline)))
        .collect();
    // A worker starts no customer after the deadline and each customer is bounded by three
    // steps, so this only fires if something is badly wrong; report what was measured anyway.
    let join_by = deadline + STEP_TIMEOUT * 3 + Duration::from_secs(10);
    let mut aborted = 0;
    for w in workers {
        let abort = w.abort_handle();
        match tokio::time::timeout_at(join_by, w).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => bail!("a customer task failed: {e}"),
            Err(_) => {
                abort.abort();
                aborted += 1;
            }
        }
    }
    let elapsed = started.elapsed();
    let applied_after = node.cluster().status().last_applied_index.unwrap_or(0);
    let commands_after = node.commands_applied();

    let stats = stats.take();
    let not_started = customers.len().saturating_sub(next.get());
    Ok(Report {
        mailbox_len: node.config().limits.actor_mailbox_len,
        elapsed,
        raft_entries: applied_after.saturating_sub(applied_before),
        commands: commands_after.saturating_sub(commands_before),
        not_started,
        aborted_workers: aborted,
        stats,
    })
}

/// Creates `--businesses` businesses; the QR token of each one's location.
async fn create_businesses(args: &Args, node: &NodeHandle) -> anyhow::Result<Vec<QrToken>> {
    let mut tokens = Vec::new();
    for b in 0..args.businesses {
        let location = NewLocation::new(&format!("Götgatan {b}"), 59.33, 18.07)?;
        let org_number = OrgNumber::numbered(u32::try_from(b)?);
        let budget = Ore::parse_sek("1000000.00")?;
        let req = CreateBusiness::new(&format!("Kafé Södermalm {b}"), org_number, vec![location], budget, RewardPolicy::default())?;
        let (business, _key) = tokio::time::timeout(STEP_TIMEOUT, node.create_business(req))
            .await
            .map_err(|_| anyhow!("creating business {b} took longer than {STEP_TIMEOUT:?}"))??;
        let location = business.locations.first().ok_or_else(|| anyhow!("business {b} has no location"))?;
        tokens.push(location.qr_token.clone());
    }
    Ok(tokens)
}

/// Polls readiness (a quorum, here this node alone, confirms the leader) until the deadline.
async fn wait_ready(node: &NodeHandle) -> anyhow::Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        match node.ready().await {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() >= deadline => bail!("node not ready within {READY_TIMEOUT:?}: {e}"),
            Err(_) => tokio::time::sleep(READY_POLL).await,
        }
    }
}

/// Takes customers off the shared list until it is empty or the deadline passed.
async fn worker(node: NodeHandle, customers: Rc<Vec<Customer>>, next: Rc<Cell<usize>>, stats: Rc<RefCell<Stats>>, deadline: Instant) {
    loop {
        let i = next.get();
        let Some(customer) = customers.get(i) else { return };
        if Instant::now() >= deadline {
            return;
        }
        next.set(i + 1);
        let started = Instant::now();
        let ok = customer_flow(&node, customer, &stats).await;
        let mut s = stats.borrow_mut();
        if ok {
            s.flows_ok += 1;
            s.flow.record(started.elapsed());
        } else {
            s.flows_failed += 1;
        }
    }
}

/// One customer: open, purchase, feedback. Returns whether all three steps succeeded.
async fn customer_flow(node: &NodeHandle, c: &Customer, stats: &RefCell<Stats>) -> bool {
    // A new device per customer, as svea issues one.
    let device = DeviceId::random();
    let Ok(transaction_id) = format!("T-{}", c.index).parse::<TransactionId>() else {
        stats.borrow_mut().error(Op::Purchase, "bad-transaction-id", "generated transaction id was refused".into());
        return false;
    };

    let token = &c.token;
    let Some((session, created)) = step(Op::Open, stats, move || node.open_session(token.clone(), device.clone(), None)).await else {
        return false;
    };
    if created {
        stats.borrow_mut().state_writes += OPEN_WRITES;
    }

    let id = &session.id;
    let amount = c.amount;
    let purchase = move || {
        let msg = SessionMsg::ConfirmPurchase { amount, purchased_at: chrono::Utc::now(), transaction_id: transaction_id.clone() };
        node.session(id.clone(), msg)
    };
    if step(Op::Purchase, stats, purchase).await.is_none() {
        return false;
    }
    stats.borrow_mut().state_writes += PURCHASE_WRITES;

    let review = c.review.clone();
    let feedback = move || node.session(id.clone(), SessionMsg::Feedback { text: review.clone() });
    let Some(done) = step(Op::Feedback, stats, feedback).await else {
        return false;
    };
    let mut s = stats.borrow_mut();
    s.state_writes += FEEDBACK_WRITES;
    *s.outcomes.entry(done.state.as_str()).or_default() += 1;
    done.state == SessionState::Rewarded || done.state == SessionState::Rejected
}

/// Runs one step, retrying `Busy` with backoff, bounded by [`STEP_TIMEOUT`] in all; records its
/// latency as the customer saw it (retries included) or its error.
async fn step<T, F, Fut>(op: Op, stats: &RefCell<Stats>, mut call: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ActorError>>,
{
    let started = Instant::now();
    let attempts = async {
        let mut backoff = BUSY_BACKOFF_MIN;
        let mut attempt = 1;
        loop {
            match call().await {
                Err(ActorError::Busy { .. }) if attempt < BUSY_ATTEMPTS_MAX => {
                    stats.borrow_mut().busy_retries += 1;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BUSY_BACKOFF_MAX);
                    attempt += 1;
                }
                other => return other,
            }
        }
    };
    match tokio::time::timeout(STEP_TIMEOUT, attempts).await {
        Ok(Ok(value)) => {
            stats.borrow_mut().latency(op).record(started.elapsed());
            Some(value)
        }
        Ok(Err(e)) => {
            stats.borrow_mut().error(op, &error_kind(&e), e.to_string());
            None
        }
        Err(_) => {
            stats.borrow_mut().error(op, "step-timeout", format!("no answer within {STEP_TIMEOUT:?}"));
            None
        }
    }
}

/// A stable name per kind of failure, to group them in the report.
fn error_kind(e: &ActorError) -> String {
    match e {
        ActorError::Domain(d) => d.kind().to_string(),
        ActorError::Conflict { kind, .. } => kind.to_string(),
        ActorError::NotFound { .. } => "not-found".to_owned(),
        ActorError::Busy { .. } => "busy".to_owned(),
        ActorError::Unavailable(_) => "unavailable".to_owned(),
        ActorError::Fenced { .. } => "fenced".to_owned(),
        ActorError::Internal(_) => "internal".to_owned(),
    }
}

/// The customer steps that are timed separately.
#[derive(Debug, Clone, Copy)]
enum Op {
    Open,
    Purchase,
    Feedback,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Open => "open",
            Op::Purchase => "purchase",
            Op::Feedback => "feedback",
        }
    }
}

/// Errors of one kind: how many, and the first message as an example.
#[derive(Debug)]
struct ErrorCount {
    count: u64,
    example: String,
}

/// Everything the customers measured.
#[derive(Debug, Default)]
struct Stats {
    open: Latencies,
    purchase: Latencies,
    feedback: Latencies,
    flow: Latencies,
    flows_ok: u64,
    flows_failed: u64,
    busy_retries: u64,
    /// Raft writes estimated from the successful steps ([`customers::OPEN_WRITES`] and on).
    state_writes: u64,
    /// Final session states (`rewarded`, `rejected`, ...).
    outcomes: BTreeMap<&'static str, u64>,
    /// Keyed `<op>: <kind>`.
    errors: BTreeMap<String, ErrorCount>,
}

impl Stats {
    fn latency(&mut self, op: Op) -> &mut Latencies {
        match op {
            Op::Open => &mut self.open,
            Op::Purchase => &mut self.purchase,
            Op::Feedback => &mut self.feedback,
        }
    }

    fn error(&mut self, op: Op, kind: &str, message: String) {
        let e = self.errors.entry(format!("{}: {kind}", op.as_str())).or_insert(ErrorCount { count: 0, example: message });
        e.count += 1;
    }
}

fn summary_json(m: Summary) -> serde_json::Value {
    json!({
        "count": m.count,
        "p50_ms": ms(m.p50),
        "p90_ms": ms(m.p90),
        "p99_ms": ms(m.p99),
        "max_ms": ms(m.max),
    })
}

fn per_s(n: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        (n as f64 / secs * 10.0).round() / 10.0
    } else {
        0.0
    }
}

/// The result of one run.
struct Report {
    /// The node's per-actor mailbox bound (calls in flight per actor).
    mailbox_len: usize,
    elapsed: Duration,
    /// Raft entries applied during the run (from the applied log index).
    raft_entries: u64,
    /// Commands applied during the run (a batch entry's commands each counted).
    commands: u64,
    /// Customers never started because the deadline passed.
    not_started: usize,
    /// Workers stopped because they outlived the deadline by far.
    aborted_workers: usize,
    stats: Stats,
}

impl Report {
    fn summaries(&self) -> Vec<(&'static str, Summary)> {
        let s = &self.stats;
        let mut all = s.open.clone();
        all.merge(&s.purchase);
        all.merge(&s.feedback);
        vec![
            ("open", s.open.summary()),
            ("purchase", s.purchase.summary()),
            ("feedback", s.feedback.summary()),
            ("all steps", all.summary()),
            ("flow", s.flow.summary()),
        ]
    }

    /// `n` divided by the flows run, to two decimals.
    fn per_flow(&self, n: u64) -> f64 {
        let flows = self.stats.flows_ok + self.stats.flows_failed;
        if flows == 0 {
            return 0.0;
        }
        (n as f64 / flows as f64 * 100.0).round() / 100.0
    }

    /// Every customer in flight may have one call queued at its business.
    fn business_calls_may_be_busy(&self, args: &Args) -> bool {
        args.concurrency.min(args.sessions) > self.mailbox_len as u64 * args.businesses
    }

    fn print_table(&self, args: &Args, data_dir: &Path) {
        let s = &self.stats;
        println!(
            "bench-node: {} sessions, concurrency {}, {} business(es), seed {}, store {}",
            args.sessions,
            args.concurrency,
            args.businesses,
            args.seed,
            data_dir.display()
        );
        println!();
        println!("{:<10} {:>7} {:>8} {:>8} {:>8} {:>8}", "op", "count", "p50 ms", "p90 ms", "p99 ms", "max ms");
        for (name, m) in self.summaries() {
            println!(
                "{:<10} {:>7} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
                name,
                m.count,
                ms(m.p50),
                ms(m.p90),
                ms(m.p99),
                ms(m.max)
            );
        }
        println!("(flow = open + purchase + feedback of one customer, end to end; busy retries included)");
        println!();
        let e = self.elapsed;
        println!("flows/s                   {:>10.1}   ({} ok, {} failed)", per_s(s.flows_ok, e), s.flows_ok, s.flows_failed);
        println!(
            "raft writes (estimate)/s  {:>10.1}   ({} = successful steps x writes per step: {})",
            per_s(s.state_writes, e),
            s.state_writes,
            customers::writes_basis()
        );
        println!(
            "commands applied/s        {:>10.1}   ({} commands, {:.2} per flow, {FLOW_WRITES} expected; measured from the applied-command counter)",
            per_s(self.commands, e),
            self.commands,
            self.per_flow(self.commands)
        );
        println!(
            "raft entries committed/s  {:>10.1}   ({} entries, {:.2} commands per entry; measured from the applied log index)",
            per_s(self.raft_entries, e),
            self.raft_entries,
            if self.raft_entries == 0 { 0.0 } else { (self.commands as f64 / self.raft_entries as f64 * 100.0).round() / 100.0 }
        );
        println!("elapsed                   {:>10.2} s", e.as_secs_f64());
        println!("busy retries              {:>10}", s.busy_retries);
        let outcomes: Vec<String> = s.outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!("session outcomes          {:>10}", if outcomes.is_empty() { "-".to_owned() } else { outcomes.join(", ") });
        if self.not_started > 0 {
            println!("not started (deadline)    {:>10}", self.not_started);
        }
        if self.aborted_workers > 0 {
            println!("aborted workers           {:>10}", self.aborted_workers);
        }
        if self.business_calls_may_be_busy(args) {
            println!(
                "note: concurrency {} > actor mailbox {} x {} business(es): business calls answer busy; steps retry them, lost opening reports are folded into the settlement",
                args.concurrency, self.mailbox_len, args.businesses
            );
        }
        for (kind, err) in &s.errors {
            println!("error {kind}: {} (e.g. {})", err.count, err.example);
        }
    }

    fn to_json(&self, args: &Args, data_dir: &Path) -> serde_json::Value {
        let s = &self.stats;
        let e = self.elapsed;
        let latency: serde_json::Map<String, serde_json::Value> =
            self.summaries().into_iter().map(|(name, m)| (name.replace(' ', "_"), summary_json(m))).collect();
        let errors: serde_json::Map<String, serde_json::Value> =
            s.errors.iter().map(|(k, v)| (k.clone(), json!({ "count": v.count, "example": v.example }))).collect();
        json!({
            "sessions": args.sessions,
            "concurrency": args.concurrency,
            "businesses": args.businesses,
            "seed": args.seed,
            "data_dir": data_dir.display().to_string(),
            "elapsed_s": (e.as_secs_f64() * 1000.0).round() / 1000.0,
            "flows_ok": s.flows_ok,
            "flows_failed": s.flows_failed,
            "flows_per_s": per_s(s.flows_ok, e),
            "raft_writes_estimate": s.state_writes,
            "raft_writes_estimate_per_s": per_s(s.state_writes, e),
            "raft_writes_estimate_basis": customers::writes_basis(),
            "raft_entries": self.raft_entries,
            "raft_entries_per_s": per_s(self.raft_entries, e),
            "raft_entries_per_flow": self.per_flow(self.raft_entries),
            "commands_applied": self.commands,
            "commands_applied_per_s": per_s(self.commands, e),
            "commands_per_flow": self.per_flow(self.commands),
            "busy_retries": s.busy_retries,
            "actor_mailbox_len": self.mailbox_len,
            "not_started": self.not_started,
            "aborted_workers": self.aborted_workers,
            "latency_ms": latency,
            "outcomes": s.outcomes,
            "errors": errors,
        })
    }
}

// ---------- memory per actor (`--actors`) ----------

/// Resident memory of this process in bytes: `VmRSS` of `/proc/self/status`, read after giving
/// freed heap back to the system (`malloc_trim`), so it counts what is in use.
fn resident_bytes() -> anyhow::Result<u64> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of glibc's own heap; no pointer is involved.
    unsafe {
        libc::malloc_trim(0);
    }
    let status = std::fs::read_to_string("/proc/self/status").context("cannot read /proc/self/status")?;
    vm_rss(&status).ok_or_else(|| anyhow!("no VmRSS line in /proc/self/status"))
}

/// The `VmRSS:  1234 kB` line of a `/proc/<pid>/status`, in bytes.
fn vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let kib: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    kib.checked_mul(1024)
}

/// Heap bytes allocated and not freed (small chunks plus mmapped ones), from glibc; `None`
/// with another allocator.
fn heap_in_use() -> Option<u64> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 only reads glibc's allocator statistics.
        let m = unsafe { libc::mallinfo2() };
        u64::try_from(m.uordblks.saturating_add(m.hblkhd)).ok()
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    None
}

/// Resident memory, heap in use and active actors at one moment.
#[derive(Debug, Clone, Copy)]
struct Sample {
    rss: u64,
    heap: Option<u64>,
    active: usize,
}

impl Sample {
    fn take(node: &NodeHandle) -> anyhow::Result<Sample> {
        Ok(Sample { rss: resident_bytes()?, heap: heap_in_use(), active: node.active_actors() })
    }
}

/// What `--actors` measured.
struct MemoryReport {
    /// Before opening: the businesses are active.
    before: Sample,
    /// Right after the last open.
    active: Sample,
    /// Once the actors passivated (or the wait gave up).
    passivated: Sample,
    /// Sessions opened.
    opened: u64,
    opening: Duration,
    /// How long after the last open the actors were gone.
    passivated_after: Duration,
    stats: Stats,
}

impl MemoryReport {
    /// Actors activated by the opens.
    fn activated(&self) -> u64 {
        self.active.active.saturating_sub(self.before.active) as u64
    }

    /// Resident bytes the opens added, per activated actor.
    fn per_actor_gross(&self) -> Option<u64> {
        self.active.rss.saturating_sub(self.before.rss).checked_div(self.activated())
    }

    /// Resident bytes passivation gave back, per activated actor.
    fn per_actor_released(&self) -> Option<u64> {
        self.active.rss.saturating_sub(self.passivated.rss).checked_div(self.activated())
    }

    /// Heap bytes the opens added, per activated actor.
    fn heap_per_actor_gross(&self) -> Option<u64> {
        self.active.heap?.saturating_sub(self.before.heap?).checked_div(self.activated())
    }

    /// Heap bytes passivation freed, per activated actor: what the actors themselves held.
    fn heap_per_actor_held(&self) -> Option<u64> {
        self.active.heap?.saturating_sub(self.passivated.heap?).checked_div(self.activated())
    }

    fn print(&self, args: &Args) {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let per = |b: Option<u64>| b.map_or_else(|| "-".to_owned(), |b| format!("{b} B ({:.2} KiB)", b as f64 / 1024.0));
        println!(
            "bench-node --actors {}: {} sessions opened in {:.1} s ({:.0}/s), {} business(es), concurrency {}, actor_idle_ms {}",
            args.actors.unwrap_or(0),
            self.opened,
            self.opening.as_secs_f64(),
            per_s(self.opened, self.opening),
            args.businesses,
            args.concurrency,
            args.actor_idle_ms
        );
        println!();
        println!("{:<26} {:>12} {:>12} {:>14}", "moment", "VmRSS MiB", "heap MiB", "active actors");
        for (name, s) in [("before opening", self.before), ("all sessions open", self.active), ("after passivation", self.passivated)] {
            let heap = s.heap.map_or_else(|| "-".to_owned(), |h| format!("{:.1}", mib(h)));
            println!("{:<26} {:>12.1} {:>12} {:>14}", name, mib(s.rss), heap, s.active);
        }
        println!();
        println!("actors activated           {}", self.activated());
        println!("per active actor (gross)   {}   (RSS growth over activated actors; includes sled cache and Raft log the opens wrote)", per(self.per_actor_gross()));
        println!("RSS back per actor         {}   (RSS given back at passivation over activated actors)", per(self.per_actor_released()));
        println!("heap per actor (gross)     {}   (heap growth over activated actors; sled cache and Raft log included)", per(self.heap_per_actor_gross()));
        println!("heap per actor (held)      {}   (heap freed at passivation over activated actors: the actors themselves)", per(self.heap_per_actor_held()));
        println!("after passivation          {:.1} MiB, {:.1} MiB above before opening, actors gone {:.1} s after the last open", mib(self.passivated.rss), mib(self.passivated.rss.saturating_sub(self.before.rss)), self.passivated_after.as_secs_f64());
        println!(
            "struct sizes               SessionActor {} B, Session {} B (inline only; strings, the actix context and mailbox, the task and the registry entry come on top)",
            std::mem::size_of::<svea_node::actors::session::SessionActor>(),
            std::mem::size_of::<svea_node::actors::session::Session>()
        );
        println!("open latency               p50 {:.2} ms, p99 {:.2} ms", ms(self.stats.open.percentile(50.0)), ms(self.stats.open.percentile(99.0)));
        if self.activated() < self.opened {
            println!(
                "note: {} of {} opened sessions were not active at the measurement: opening took longer than --actor-idle-ms ({} ms), raise it",
                self.opened - self.activated(),
                self.opened,
                args.actor_idle_ms
            );
        }
        if self.passivated.active > self.before.active {
            println!("note: {} actors were still active when the wait for passivation gave up", self.passivated.active);
        }
        for (kind, err) in &self.stats.errors {
            println!("error {kind}: {} (e.g. {})", err.count, err.example);
        }
    }

    fn to_json(&self, args: &Args) -> serde_json::Value {
        let sample = |s: Sample| json!({"vm_rss_bytes": s.rss, "heap_in_use_bytes": s.heap, "active_actors": s.active});
        let errors: serde_json::Map<String, serde_json::Value> =
            self.stats.errors.iter().map(|(k, v)| (k.clone(), json!({ "count": v.count, "example": v.example }))).collect();
        json!({
            "actors": args.actors,
            "actor_idle_ms": args.actor_idle_ms,
            "businesses": args.businesses,
            "concurrency": args.concurrency,
            "opened": self.opened,
            "opening_s": self.opening.as_secs_f64(),
            "before": sample(self.before),
            "all_open": sample(self.active),
            "after_passivation": sample(self.passivated),
            "activated": self.activated(),
            "bytes_per_active_actor_gross": self.per_actor_gross(),
            "rss_released_per_actor": self.per_actor_released(),
            "heap_bytes_per_active_actor_gross": self.heap_per_actor_gross(),
            "heap_bytes_per_active_actor_held": self.heap_per_actor_held(),
            "passivated_after_s": self.passivated_after.as_secs_f64(),
            "size_of_session_actor": std::mem::size_of::<svea_node::actors::session::SessionActor>(),
            "size_of_session": std::mem::size_of::<svea_node::actors::session::Session>(),
            "open_latency_ms": summary_json(self.stats.open.summary()),
            "errors": errors,
        })
    }
}

/// Opens `actors` sessions (activating their actors), samples memory, waits for passivation and
/// samples again.
async fn measure_actors(args: &Args, node: &NodeHandle, actors: u64) -> anyhow::Result<MemoryReport> {
    wait_ready(node).await?;
    let tokens = Rc::new(create_businesses(args, node).await?);
    let before = Sample::take(node)?;

    let stats = Rc::new(RefCell::new(Stats::default()));
    let next = Rc::new(Cell::new(0u64));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.deadline_s);
    let workers: Vec<_> = (0..args.concurrency.min(actors))
        .map(|_| {
            let (node, tokens, next, stats) = (node.clone(), tokens.clone(), next.clone(), stats.clone());
            tokio::task::spawn_local(async move {
                while next.get() < actors && Instant::now() < deadline {
                    let i = next.get();
                    next.set(i + 1);
                    // `tokens` is not empty (at least one business) and the remainder indexes in it.
                    let token = tokens[(i % tokens.len() as u64) as usize].clone();
                    let device = DeviceId::random();
                    step(Op::Open, &stats, || node.open_session(token.clone(), device.clone(), None)).await;
                }
            })
        })
        .collect();
    // Each worker starts nothing after the deadline and each open is bounded by STEP_TIMEOUT.
    for w in workers {
        w.await.map_err(|e| anyhow!("an opening task failed: {e}"))?;
    }
    let opening = started.elapsed();
    let active = Sample::take(node)?;
    let opened = stats.borrow().open.count();

    // Passivation: every actor idle for actor_idle_ms is stopped by the registry's next tick.
    let opened_at = Instant::now();
    let give_up = opened_at + Duration::from_millis(args.actor_idle_ms) + PASSIVATION_SLACK;
    while node.active_actors() > before.active && Instant::now() < give_up {
        tokio::time::sleep(ACTIVE_POLL).await;
    }
    let passivated_after = opened_at.elapsed();
    // The registry has forgotten them; let the stopped actors' tasks finish on this LocalSet.
    tokio::time::sleep(ACTIVE_POLL).await;
    let passivated = Sample::take(node)?;
    Ok(MemoryReport { before, active, passivated, opened, opening, passivated_after, stats: stats.take() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_memory_is_read_from_proc_status() {
        assert_eq!(vm_rss("Name:\tx\nVmPeak:\t  9 kB\nVmRSS:\t   2048 kB\nRssAnon:\t1 kB\n"), Some(2048 * 1024));
        assert_eq!(vm_rss("VmRSS:\t  12 MB\n"), None);
        assert_eq!(vm_rss("Name:\tx\n"), None);
        assert!(resident_bytes().expect("this process's status") > 0);
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        assert!(heap_in_use().is_some_and(|h| h > 0));
    }

    #[test]
    fn memory_per_actor_divides_by_the_actors_activated() {
        let report = MemoryReport {
            before: Sample { rss: 100 << 20, heap: Some(10 << 20), active: 2 },
            active: Sample { rss: 200 << 20, heap: Some(50 << 20), active: 2 + 1024 },
            passivated: Sample { rss: 150 << 20, heap: Some(40 << 20), active: 0 },
            opened: 1024,
            opening: Duration::from_secs(1),
            passivated_after: Duration::from_secs(1),
            stats: Stats::default(),
        };
        assert_eq!(report.activated(), 1024);
        assert_eq!(report.per_actor_gross(), Some(100 * 1024));
        assert_eq!(report.per_actor_released(), Some(50 * 1024));
        assert_eq!(report.heap_per_actor_gross(), Some(40 * 1024));
        assert_eq!(report.heap_per_actor_held(), Some(10 * 1024));
        let none = MemoryReport { active: report.before, ..report };
        assert_eq!(none.per_actor_gross(), None, "no actor activated: no division by zero");
    }
}
