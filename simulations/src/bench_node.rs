//! `bench-node`: committed actor state changes per second and per-step latency of ONE node core,
//! in-process, through the real path (registry -> actors -> Raft -> sled, flushed to disk; sled
//! flushes with `sync_file_range`, not `fsync`, so the drive cache is not forced).
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
    let report = result?;
    if args.json {
        println!("{}", report.to_json(&args, &data_dir));
    } else {
        report.print_table(&args, &data_dir);
    }
    Ok(())
}

/// Builds the runtime the core requires (current-thread + `LocalSet`, no actix `System`),
/// runs the benchmark on it and tears it down within a bounded time.
fn run_core(args: &Args, data_dir: &Path) -> anyhow::Result<Report> {
    let mut raw = svea_config::RawConfig::default();
    raw.node.data_dir = data_dir.to_str().ok_or_else(|| anyhow!("data dir {} is not UTF-8", data_dir.display()))?.to_owned();
    // Nothing binds these in the core; loopback placeholders keep validation happy.
    raw.node.raft_addr = "127.0.0.1:7001".to_owned();
    raw.node.http_addr = "127.0.0.1:8080".to_owned();
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
async fn bench(args: &Args, config: svea_config::Config) -> anyhow::Result<Report> {
    let start = core::start(config, Arc::new(SystemClock), Arc::new(RubricScorer::new()));
    let core = tokio::time::timeout(START_TIMEOUT, start)
        .await
        .map_err(|_| anyhow!("node core did not start within {START_TIMEOUT:?}"))??;
    let result = drive(args, &core.handle).await;
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
    review: &'static str,
}

async fn drive(args: &Args, node: &NodeHandle) -> anyhow::Result<Report> {
    wait_ready(node).await?;
    let mut tokens = Vec::new();
    for b in 0..args.businesses {
        let location = NewLocation::new(&format!("Götgatan {b}"), 59.33, 18.07)?;
        let org_number = "556036-0793".parse::<OrgNumber>()?;
        let budget = Ore::parse_sek("1000000.00")?;
        let req = CreateBusiness::new(&format!("Kafé Södermalm {b}"), org_number, vec![location], budget, RewardPolicy::default())?;
        let business = tokio::time::timeout(STEP_TIMEOUT, node.create_business(req))
            .await
            .map_err(|_| anyhow!("creating business {b} took longer than {STEP_TIMEOUT:?}"))??;
        let location = business.locations.first().ok_or_else(|| anyhow!("business {b} has no location"))?;
        tokens.push(location.qr_token.clone());
    }

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
    let Ok(device) = format!("dev-{}", c.index).parse::<DeviceId>() else {
        stats.borrow_mut().error(Op::Open, "bad-device-id", "generated device id was refused".into());
        return false;
    };
    let Ok(transaction_id) = format!("T-{}", c.index).parse::<TransactionId>() else {
        stats.borrow_mut().error(Op::Purchase, "bad-transaction-id", "generated transaction id was refused".into());
        return false;
    };

    let token = &c.token;
    let Some((session, created)) = step(Op::Open, stats, move || node.open_session(token.clone(), device.clone())).await else {
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

    let review = c.review;
    let feedback = move || node.session(id.clone(), SessionMsg::Feedback { text: review.to_owned() });
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
