//! `bench-vs-etcd`: svea's write path next to etcd's, one system after the other on this machine,
//! driven by the same closed-loop HTTP clients.
//!
//! 1. etcd: three members (`etcd` from Debian's `etcd-server`) on 127.0.0.1, each with its own
//!    data dir under a temp dir; PUTs through the JSON gateway (`POST <prefix>/kv/put`, base64 key
//!    and value, `<prefix>` `/v3` or `/v3beta`, whichever the installed etcd answers), once
//!    against a follower and once against the leader (from `<prefix>/maintenance/status`).
//!    Stopped before svea starts.
//! 2. svea: three `svea run` processes (`procs`, as `bench-cluster` starts them), driven with
//!    (a) single-write steps, purchase confirmations against sessions opened before the level
//!    (untimed; each session takes one purchase), and (b) whole customer flows (open, purchase,
//!    feedback), both spread round-robin over the three nodes.
//!
//! Every level (a client count) runs `--warmup` and then `--duration`; only requests completed
//! inside the duration count, and no request starts after it. Committed writes of etcd are its
//! acknowledged PUTs; svea's come from the nodes' `svea_commands_applied_total` (largest increase
//! over the three nodes during the window) when `/metrics` has it, else they are estimated from
//! acknowledged steps times the writes each step makes (`customers`), and the table says which.
//!
//! One table: system, target, clients, ops/s, writes/s, p50, p99, and svea's writes/s over the
//! better etcd target's at the same client count. The same as JSON in `--json PATH`.
//! Only 127.0.0.1 is used; every loop is bounded in count and time. Nothing asserts on timings.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context as _};
use base64::Engine as _;
use serde_json::{json, Value};

use simulations::customers::{self, Clients, BUDGET_SEK, FLOW_WRITES, PURCHASE_ORE, PURCHASE_WRITES};
use simulations::latency::{ms, Latencies};
use simulations::procs::{self, ClusterSpec, Outcome};

/// What the tool says when there is no etcd to run.
pub const INSTALL_HINT: &str =
    "etcd is not on PATH: install it with `apt-get install etcd-server` (Debian; the binary is `etcd`) or pass --etcd-bin";

/// Most clients of one level; each is an OS thread with its own HTTP connection.
const CLIENTS_MAX: u64 = 1024;
/// Most client levels one run may have.
const LEVELS_MAX: usize = 8;
/// Shortest and longest measured window of a level.
const DURATION_MIN: Duration = Duration::from_secs(1);
const DURATION_MAX: Duration = Duration::from_secs(600);
/// Longest warm-up of a level.
const WARMUP_MAX: Duration = Duration::from_secs(60);
/// Largest PUT value.
const VALUE_BYTES_MAX: u64 = 64 * 1024;
/// Most businesses svea's sessions are spread over.
const BUSINESSES_MAX: u64 = 100;
/// Limit of one benchmark request (a slower answer counts as failed).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long three fresh etcd members may take to elect a leader and answer `/health`.
const ETCD_READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an etcd member gets after SIGTERM before SIGKILL.
const ETCD_STOP_GRACE: Duration = Duration::from_secs(10);
/// Limit of one probe (health, status, metrics).
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Most sessions opened for the purchase levels in all.
const SESSIONS_MAX: usize = 2_000_000;
/// Longest untimed opening phase before one purchase level.
const OPEN_PHASE_MAX: Duration = Duration::from_secs(600);
/// Sessions opened per client before the opening rate is known.
const OPEN_PROBE_PER_CLIENT: usize = 16;
/// Sessions are opened for this many times the purchases the level is expected to make.
const SESSIONS_HEADROOM: f64 = 1.5;
/// Before the first purchase level, a purchase (one write) is expected at most this many times as
/// fast as an open (three writes and a business call).
const PURCHASE_PER_OPEN_GUESS: f64 = 4.0;
/// A purchase level with more clients than the last is expected at most this much faster.
const LEVEL_SPEEDUP_GUESS: f64 = 2.0;

/// The metric that counts commands applied by a node's state machine.
const APPLIED_COMMANDS_METRIC: &str = "svea_commands_applied_total";

/// Which systems to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Only {
    /// Only etcd (no svea build needed).
    Etcd,
    /// Only svea (no etcd needed).
    Svea,
}

/// Options of `bench-vs-etcd`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Measured window of every level, e.g. 10s, 1500ms, 1m (a bare number is seconds).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Load before each measured window (not counted).
    #[arg(long, default_value = "2s", value_parser = parse_warmup)]
    warmup: Duration,
    /// Client counts, one level each, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [16u64, 64, 256],
          value_parser = clap::value_parser!(u64).range(1..=CLIENTS_MAX))]
    clients: Vec<u64>,
    /// Bytes of every etcd PUT value (the keys are distinct, `bench/<client>/<n>`).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=VALUE_BYTES_MAX))]
    value_bytes: u64,
    /// Businesses (created through malmo) svea's sessions are spread over.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=BUSINESSES_MAX))]
    businesses: u64,
    /// Run only one of the systems (then no ratio is printed).
    #[arg(long, value_enum)]
    only: Option<Only>,
    /// Where the JSON report goes; default `<workspace>/target/bench-vs-etcd.json`.
    #[arg(long)]
    json: Option<PathBuf>,
    /// The etcd binary; default `etcd` on PATH.
    #[arg(long)]
    etcd_bin: Option<PathBuf>,
    /// Where the `svea` binary comes from, its nodes' logs, and whether the run directory (etcd's
    /// data too) is kept.
    #[command(flatten)]
    procs: procs::ProcessArgs,
    /// Seed for purchase amounts and review choice (the workload, not the timings).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also run svea with every key in one Raft group (`cluster.groups = "one"`, rows
    /// `svea-one`), beside the `--groups` run, to print what the groups buy in the same run.
    #[arg(long)]
    compare_groups: bool,
    /// Where svea's customers send their requests: `home` (a customer stands at the till, so
    /// GeoIP sends them to the business's home region: that region's node) or `anywhere`
    /// (round-robin over the nodes, a customer far from the business).
    #[arg(long, value_enum, default_value_t = CustomersAt::Home)]
    customers: CustomersAt,
}

/// Where svea's customers send their requests (`--customers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CustomersAt {
    /// At the node of their business's home region.
    Home,
    /// Round-robin over the nodes.
    Anywhere,
}

impl CustomersAt {
    /// How the report's note says it.
    fn describe(self) -> &'static str {
        match self {
            CustomersAt::Home => "each customer's requests at its business's home region's node (a customer at the till, sent there by GeoIP)",
            CustomersAt::Anywhere => "customers' sessions opened round-robin over the nodes, each session's steps at the node that opened it",
        }
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    procs::parse_duration_within(text, DURATION_MIN, DURATION_MAX)
}

fn parse_warmup(text: &str) -> Result<Duration, String> {
    procs::parse_duration_within(text, Duration::ZERO, WARMUP_MAX)
}

/// Runs both systems, prints the table and writes the JSON report.
pub fn main(args: Args) -> anyhow::Result<()> {
    ensure!(
        !args.clients.is_empty() && args.clients.len() <= LEVELS_MAX,
        "--clients takes 1 to {LEVELS_MAX} counts"
    );
    // Before anything slow: without etcd there is nothing to compare with.
    let etcd = match args.only {
        Some(Only::Svea) => None,
        _ => Some(etcd_binary(args.etcd_bin.as_deref(), std::env::var_os("PATH"))?),
    };
    let json_path = match &args.json {
        Some(p) => p.clone(),
        None => procs::workspace_dir()?.join("target").join("bench-vs-etcd.json"),
    };
    let dir = tempfile::Builder::new()
        .prefix("svea-bench-vs-etcd-")
        .tempdir()
        .context("cannot create the run directory")?;
    let result = run(&args, etcd.as_deref(), dir.path());
    if args.procs.keep_dir {
        eprintln!("bench-vs-etcd: kept the run directory {}", dir.keep().display());
    } else if let Err(e) = dir.close() {
        eprintln!("bench-vs-etcd: warning: could not remove the run directory: {e}");
    }
    let report = result?;
    print!("{}", render_table(&report));
    let json = serde_json::to_string_pretty(&report_json(&report, &args))?;
    if let Some(parent) = json_path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(&json_path, json + "\n").with_context(|| format!("cannot write {}", json_path.display()))?;
    eprintln!("bench-vs-etcd: wrote {}", json_path.display());
    Ok(())
}

/// `explicit`, else the first executable `etcd` in `path` (the value of `PATH`).
fn etcd_binary(explicit: Option<&Path>, path: Option<std::ffi::OsString>) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit {
        ensure!(p.is_file(), "--etcd-bin {} is not a file", p.display());
        return Ok(p.to_path_buf());
    }
    let path = path.unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("etcd"))
        .find(|p| is_executable(p))
        .ok_or_else(|| anyhow!("{INSTALL_HINT}"))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

// ---------- the report ----------

/// One line of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `etcd` or `svea`.
    pub system: &'static str,
    /// What was driven (`leader`, `follower`, `purchase`, `flow`).
    pub target: String,
    /// Concurrent closed-loop clients.
    pub clients: u64,
    /// Acknowledged operations (PUTs, purchases, whole flows) per second of the window.
    pub ops_per_s: f64,
    /// Committed writes per second of the window.
    pub writes_per_s: f64,
    /// How the writes were counted.
    pub writes_counted_by: String,
    /// Median latency of an operation.
    pub p50: Duration,
    /// 99th percentile latency of an operation.
    pub p99: Duration,
    /// Operations acknowledged in the window.
    pub ok: u64,
    /// Operations that failed in the window.
    pub failed: u64,
    /// One failure message, when there were failures.
    pub first_error: Option<String>,
}

/// Everything measured.
#[derive(Debug, Default)]
pub struct Report {
    /// In the order they ran.
    pub rows: Vec<Row>,
    /// Things the reader should know (gateway path, versions, starved levels).
    pub notes: Vec<String>,
}

impl Report {
    /// svea's writes/s over etcd's better target at the same client count, for svea's rows.
    pub fn ratio(&self, row: &Row) -> Option<f64> {
        if !row.system.starts_with("svea") {
            return None;
        }
        let etcd = self
            .rows
            .iter()
            .filter(|r| r.system == "etcd" && r.clients == row.clients)
            .map(|r| r.writes_per_s)
            .fold(None, |best: Option<f64>, w| Some(best.map_or(w, |b| b.max(w))))?;
        (etcd > 0.0).then(|| row.writes_per_s / etcd)
    }
}

/// The table as printed.
pub fn render_table(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<6} {:<10} {:>7} {:>10} {:>10} {:>9} {:>9} {:>10} {:>7}  writes counted by",
        "system", "target", "clients", "ops/s", "writes/s", "p50 ms", "p99 ms", "svea/etcd", "failed"
    );
    for r in &report.rows {
        let ratio = report.ratio(r).map_or_else(|| "-".to_owned(), |x| format!("{x:.2}"));
        let _ = writeln!(
            out,
            "{:<6} {:<10} {:>7} {:>10.0} {:>10.0} {:>9.2} {:>9.2} {:>10} {:>7}  {}",
            r.system,
            r.target,
            r.clients,
            r.ops_per_s,
            r.writes_per_s,
            ms(r.p50),
            ms(r.p99),
            ratio,
            r.failed,
            r.writes_counted_by
        );
    }
    let _ = writeln!(
        out,
        "(svea/etcd: svea's writes/s over the better etcd target's at the same clients; \
         ops: etcd PUTs, svea purchases or whole flows; latency per op)"
    );
    for r in report.rows.iter().filter(|r| r.first_error.is_some()) {
        let _ = writeln!(
            out,
            "failures of {} {} at {} clients: {} (e.g. {})",
            r.system,
            r.target,
            r.clients,
            r.failed,
            r.first_error.as_deref().unwrap_or_default()
        );
    }
    for n in &report.notes {
        let _ = writeln!(out, "note: {n}");
    }
    out
}

/// The report as JSON.
pub fn report_json(report: &Report, args: &Args) -> Value {
    let rows: Vec<Value> = report
        .rows
        .iter()
        .map(|r| {
            json!({
                "system": r.system,
                "target": r.target,
                "clients": r.clients,
                "ops_per_s": round1(r.ops_per_s),
                "writes_per_s": round1(r.writes_per_s),
                "writes_counted_by": r.writes_counted_by,
                "p50_ms": ms(r.p50),
                "p99_ms": ms(r.p99),
                "ok": r.ok,
                "failed": r.failed,
                "first_error": r.first_error,
                "ratio_svea_etcd": report.ratio(r).map(|x| (x * 100.0).round() / 100.0),
            })
        })
        .collect();
    json!({
        "bench": "bench-vs-etcd",
        "duration_s": args.duration.as_secs_f64(),
        "warmup_s": args.warmup.as_secs_f64(),
        "clients": args.clients,
        "value_bytes": args.value_bytes,
        "businesses": args.businesses,
        "customers": format!("{:?}", args.customers).to_lowercase(),
        "rows": rows,
        "notes": report.notes,
    })
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

// ---------- closed-loop clients ----------

/// What one operation of a client came to.
enum Attempt {
    Ok,
    Failed(String),
    /// Nothing left to do (no pre-opened session left): the client stops.
    Exhausted,
}

/// When a level's measured window is.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

/// What one client (and, merged, one level) did inside the window.
#[derive(Default)]
struct Tally {
    ok: u64,
    failed: u64,
    exhausted_clients: u64,
    latency: Latencies,
    first_error: Option<String>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.ok += other.ok;
        self.failed += other.failed;
        self.exhausted_clients += other.exhausted_clients;
        self.latency.merge(&other.latency);
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// Runs `clients` closed-loop clients through warm-up and window; `work(client, n, agent)` is one
/// operation. `probe` runs on this thread at the window's start and end (for counters). Returns
/// the tally of operations completed inside the window (`duration` long), the time between the
/// two probes and their values.
fn closed_loop<W, P, T>(clients: u64, warmup: Duration, duration: Duration, work: W, probe: P) -> anyhow::Result<(Tally, Duration, T, T)>
where
    W: Fn(u64, u64, &ureq::Agent) -> Attempt + Send + Sync + 'static,
    P: Fn() -> T,
{
    let start = Instant::now() + warmup;
    let window = Window { start, end: start + duration };
    let threads = Clients::spawn(clients, "bench-client", move |t| client(t, window, &work))?;
    // Each probe is placed at the middle of the time it took; the span is between the two.
    let timed_probe = |at: Instant| {
        std::thread::sleep(at.saturating_duration_since(Instant::now()));
        let before = Instant::now();
        let value = probe();
        (value, before + before.elapsed() / 2)
    };
    let (at_start, start_mid) = timed_probe(window.start);
    let (at_end, end_mid) = timed_probe(window.end);
    let probe_span = end_mid.saturating_duration_since(start_mid);
    let mut tally = Tally::default();
    // Each client starts nothing after the window and each request is bounded by REQUEST_TIMEOUT.
    for t in threads.join()? {
        tally.merge(t);
    }
    Ok((tally, probe_span, at_start, at_end))
}

fn client<W>(t: u64, window: Window, work: &W) -> Tally
where
    W: Fn(u64, u64, &ureq::Agent) -> Attempt,
{
    let agent = procs::agent_with_timeout(REQUEST_TIMEOUT);
    let mut tally = Tally::default();
    let mut n = 0u64;
    while Instant::now() < window.end {
        let started = Instant::now();
        let attempt = work(t, n, &agent);
        n += 1;
        let done = Instant::now();
        let counted = done >= window.start && done <= window.end;
        match attempt {
            Attempt::Exhausted => {
                tally.exhausted_clients += 1;
                break;
            }
            Attempt::Ok if counted => {
                tally.ok += 1;
                tally.latency.record(done - started);
            }
            Attempt::Failed(e) if counted => {
                tally.failed += 1;
                tally.first_error.get_or_insert(e);
            }
            Attempt::Ok | Attempt::Failed(_) => {}
        }
    }
    tally
}

fn per_s(n: u64, over: Duration) -> f64 {
    n as f64 / over.as_secs_f64().max(f64::MIN_POSITIVE)
}

fn failure(outcome: Outcome) -> Attempt {
    match outcome {
        Outcome::Ok(_) => Attempt::Ok,
        Outcome::Status(code) => Attempt::Failed(format!("status {code}")),
        Outcome::Redirect(to) => Attempt::Failed(format!("redirect to {to}")),
        Outcome::Transport(e) => Attempt::Failed(e),
    }
}

// ---------- the run ----------

fn run(args: &Args, etcd: Option<&Path>, dir: &Path) -> anyhow::Result<Report> {
    let mut report = Report::default();
    if let Some(etcd) = etcd {
        run_etcd(args, etcd, &dir.join("etcd"), &mut report)?;
    }
    if args.only != Some(Only::Etcd) {
        run_svea(args, &args.procs.groups, "svea", &dir.join("svea"), &mut report)?;
        if args.compare_groups {
            run_svea(args, procs::GROUPS_ONE, "svea-one", &dir.join("svea-one"), &mut report)?;
        }
    }
    Ok(report)
}

// ---------- etcd ----------

/// One etcd member.
struct Member {
    name: String,
    client_url: String,
    log: PathBuf,
    child: Option<Child>,
}

/// Three etcd members; stopped on drop at the latest.
struct Etcd {
    members: Vec<Member>,
}

impl Etcd {
    fn start(bin: &Path, dir: &Path) -> anyhow::Result<Etcd> {
        let (ports, _) = procs::free_ports(6, 0)?;
        let names = ["etcd-1", "etcd-2", "etcd-3"];
        let peer = |i: usize| format!("http://{}", ports[2 * i + 1]);
        let initial: Vec<String> = names.iter().enumerate().map(|(i, n)| format!("{n}={}", peer(i))).collect();
        let mut etcd = Etcd { members: Vec::new() };
        for (i, name) in names.iter().enumerate() {
            let data = dir.join(name);
            std::fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
            let log = dir.join(format!("{name}.log"));
            let file = std::fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
            let client_url = format!("http://{}", ports[2 * i]);
            // ETCD_* variables would override these flags.
            let child = procs::guarded_command(bin, "ETCD_")
                .args(["--name", name, "--data-dir"])
                .arg(&data)
                .args(["--listen-client-urls", &client_url, "--advertise-client-urls", &client_url])
                .args(["--listen-peer-urls", &peer(i), "--initial-advertise-peer-urls", &peer(i)])
                .args(["--initial-cluster", &initial.join(","), "--initial-cluster-state", "new"])
                .args(["--initial-cluster-token", "svea-bench-vs-etcd"])
                .stdin(Stdio::null())
                .stdout(Stdio::from(file.try_clone()?))
                .stderr(Stdio::from(file))
                .spawn()
                .with_context(|| format!("cannot start {}", bin.display()))?;
            etcd.members.push(Member { name: (*name).to_owned(), client_url, log, child: Some(child) });
        }
        Ok(etcd)
    }

    fn check_alive(&mut self) -> anyhow::Result<()> {
        for m in &mut self.members {
            if let Some(status) = m.child.as_mut().map(Child::try_wait).transpose()?.flatten() {
                m.child = None;
                bail!("etcd member {} exited ({status}); last lines of {}:\n{}", m.name, m.log.display(), procs::log_tail(&m.log));
            }
        }
        Ok(())
    }

    /// Waits until every member is healthy and all name the same leader; returns the gateway
    /// prefix and the leader's index.
    fn wait_ready(&mut self) -> anyhow::Result<(&'static str, usize)> {
        let deadline = Instant::now() + ETCD_READY_TIMEOUT;
        let agent = procs::agent_with_timeout(PROBE_TIMEOUT);
        loop {
            self.check_alive()?;
            let healthy = self.members.iter().all(|m| {
                matches!(procs::request(&agent, "GET", &format!("{}/health", m.client_url), None),
                         Outcome::Ok(v) if v["health"] == "true")
            });
            if healthy {
                if let Some(prefix) = gateway_prefix(&agent, &self.members[0].client_url) {
                    let statuses: Option<Vec<(String, String)>> =
                        self.members.iter().map(|m| member_status(&agent, &m.client_url, prefix)).collect();
                    if let Some(leader) = statuses.and_then(|s| leader_index(&s)) {
                        return Ok((prefix, leader));
                    }
                }
            }
            if Instant::now() >= deadline {
                let tails: Vec<String> =
                    self.members.iter().map(|m| format!("--- {}:\n{}", m.name, procs::log_tail(&m.log))).collect();
                bail!("etcd not ready with one leader within {ETCD_READY_TIMEOUT:?}\n{}", tails.join("\n"));
            }
            std::thread::sleep(procs::POLL);
        }
    }

    fn stop(&mut self) {
        for m in &mut self.members {
            let Some(mut child) = m.child.take() else { continue };
            if let Ok(pid) = i32::try_from(child.id()) {
                // SAFETY: kill(2) on our own child's pid, which we have not reaped yet.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
            match procs::wait_bounded(&mut child, ETCD_STOP_GRACE) {
                Ok(Some(_)) => {}
                _ => eprintln!("bench-vs-etcd: etcd member {} killed: not stopped {ETCD_STOP_GRACE:?} after SIGTERM", m.name),
            }
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The gateway's path prefix: etcd 3.4 serves `/v3` (and the older `/v3beta`); 3.3 only `/v3beta`.
fn gateway_prefix(agent: &ureq::Agent, url: &str) -> Option<&'static str> {
    let probe = b64("bench/probe");
    ["/v3", "/v3beta"].into_iter().find(|prefix| {
        matches!(
            procs::request(agent, "POST", &format!("{url}{prefix}/kv/put"), Some(&json!({"key": probe, "value": probe}))),
            Outcome::Ok(v) if v.get("header").is_some()
        )
    })
}

/// (member id, leader id) as a member's status reports them (uint64s, strings in the gateway's JSON).
fn member_status(agent: &ureq::Agent, url: &str, prefix: &str) -> Option<(String, String)> {
    let Outcome::Ok(v) = procs::request(agent, "POST", &format!("{url}{prefix}/maintenance/status"), Some(&json!({}))) else {
        return None;
    };
    let id = |x: &Value| x.as_str().map(str::to_owned).or_else(|| x.as_u64().map(|n| n.to_string()));
    Some((id(&v["header"]["member_id"])?, id(&v["leader"])?))
}

/// The index of the member every status names as leader, when they all agree.
fn leader_index(statuses: &[(String, String)]) -> Option<usize> {
    let leader = &statuses.first()?.1;
    if leader == "0" || statuses.iter().any(|(_, l)| l != leader) {
        return None;
    }
    statuses.iter().position(|(id, _)| id == leader)
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn run_etcd(args: &Args, bin: &Path, dir: &Path, report: &mut Report) -> anyhow::Result<()> {
    let mut etcd = Etcd::start(bin, dir)?;
    let (prefix, leader) = etcd.wait_ready()?;
    let follower = (leader + 1) % etcd.members.len();
    let agent = procs::agent_with_timeout(PROBE_TIMEOUT);
    let version = match procs::request(&agent, "GET", &format!("{}/version", etcd.members[leader].client_url), None) {
        Outcome::Ok(v) => v["etcdserver"].as_str().unwrap_or("?").to_owned(),
        _ => "?".to_owned(),
    };
    report.notes.push(format!(
        "etcd {version}: 3 members on 127.0.0.1, default flags (WAL fsync per batch), PUTs of {} byte values through {prefix}/kv/put",
        args.value_bytes
    ));
    eprintln!("bench-vs-etcd: etcd {version} ready, leader {}, gateway {prefix}", etcd.members[leader].name);
    let value = Arc::new(base64::engine::general_purpose::STANDARD.encode(vec![b'x'; usize::try_from(args.value_bytes)?]));
    for (target, member) in [("follower", follower), ("leader", leader)] {
        for &clients in &args.clients {
            let url = format!("{}{prefix}/kv/put", etcd.members[member].client_url);
            let value = Arc::clone(&value);
            let put = move |t: u64, n: u64, agent: &ureq::Agent| {
                let body = json!({"key": b64(&format!("bench/{target}/{clients}/{t}/{n}")), "value": *value});
                failure(procs::request(agent, "POST", &url, Some(&body)))
            };
            let (tally, _, (), ()) = closed_loop(clients, args.warmup, args.duration, put, || ())?;
            let window = args.duration;
            etcd.check_alive()?;
            let l = tally.latency.summary();
            let row = Row {
                system: "etcd",
                target: target.to_owned(),
                clients,
                ops_per_s: per_s(tally.ok, window),
                writes_per_s: per_s(tally.ok, window),
                writes_counted_by: "acknowledged PUTs".to_owned(),
                p50: l.p50,
                p99: l.p99,
                ok: tally.ok,
                failed: tally.failed,
                first_error: tally.first_error,
            };
            eprintln!("bench-vs-etcd: etcd {target} {clients} clients: {:.0} PUTs/s", row.writes_per_s);
            report.rows.push(row);
        }
    }
    etcd.stop();
    Ok(())
}

// ---------- svea ----------

/// Commands applied per node (`None` where `/metrics` lacks the counter or does not answer);
/// `urls` are the nodes' metrics listeners (`Cluster::metrics_urls`).
fn applied_commands(urls: &[String]) -> Vec<Option<u64>> {
    let agent = procs::agent_with_timeout(PROBE_TIMEOUT);
    urls.iter()
        .map(|url| {
            let bearer = format!("Bearer {}", procs::METRICS_TOKEN);
            let text = agent.get(&format!("{url}/metrics")).set("Authorization", &bearer).call().ok()?.into_string().ok()?;
            metric_value(&text, APPLIED_COMMANDS_METRIC)
        })
        .collect()
}

/// The first sample of `name` in a Prometheus text exposition (labels ignored).
fn metric_value(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        let rest = if rest.starts_with('{') { &rest[rest.find('}')? + 1..] } else { rest };
        if !rest.starts_with(' ') {
            return None;
        }
        let value: f64 = rest.split_whitespace().next()?.parse().ok()?;
        (value >= 0.0 && value.is_finite()).then_some(value as u64)
    })
}

/// Committed writes in the window: the largest per-node increase of the counter, or `None` when
/// a node lacks it at either end.
fn applied_delta(before: &[Option<u64>], after: &[Option<u64>]) -> Option<u64> {
    before.iter().zip(after).map(|(b, a)| Some(a.as_ref()?.saturating_sub(*b.as_ref()?))).collect::<Option<Vec<u64>>>()?.into_iter().max()
}

/// Shared by the clients of the svea levels.
struct Svea {
    urls: Vec<String>,
    /// QR tokens of the businesses, with the index of their home region's node.
    tokens: Vec<(usize, String)>,
    /// Where customers send their requests.
    customers: CustomersAt,
    /// Sessions opened and not yet purchased in: (node index, session id).
    sessions: Mutex<Vec<(usize, String)>>,
    /// Next entry of `sessions` a purchase takes.
    next_session: AtomicUsize,
    /// Numbers device and transaction ids.
    next_id: AtomicU64,
    seed: u64,
    /// Time spent in each step of acknowledged flows (open, purchase, feedback), microseconds,
    /// and how many: where a flow's time goes, printed with each flow level.
    step_us: [AtomicU64; 3],
    steps: [AtomicU64; 3],
}

impl Svea {
    /// Opens one session of business `id % businesses` at its home region's node, or at node
    /// `id % 3` when customers are anywhere; (node, session id).
    fn open(&self, agent: &ureq::Agent) -> Result<(usize, String), String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        // Bounded by the lists' short lengths, so the remainders index in bounds.
        let (home, token) = &self.tokens[(id % self.tokens.len() as u64) as usize];
        let node = match self.customers {
            CustomersAt::Home => *home,
            CustomersAt::Anywhere => (id / self.tokens.len() as u64 % self.urls.len() as u64) as usize,
        };
        // A new phone each session: svea issues its device token (not kept).
        let body = json!({"qr_token": token});
        match procs::request(agent, "POST", &format!("{}/v1/sessions", self.urls[node]), Some(&body)) {
            Outcome::Ok(v) => v["id"].as_str().map(|s| (node, s.to_owned())).ok_or_else(|| "session answer without id".to_owned()),
            other => match failure(other) {
                Attempt::Failed(e) => Err(format!("open: {e}")),
                _ => Err("open: unexpected answer".to_owned()),
            },
        }
    }

    fn purchase(&self, agent: &ureq::Agent, (node, sid): &(usize, String), rng: &mut impl rand::Rng) -> Attempt {
        let txn = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = customers::purchase_body(rng.gen_range(PURCHASE_ORE), &format!("T-{txn}"));
        failure(procs::request(agent, "POST", &format!("{}/v1/sessions/{sid}/purchase", self.urls[*node]), Some(&body)))
    }

    /// A whole customer flow: open, purchase, feedback.
    fn flow(&self, agent: &ureq::Agent, rng: &mut impl rand::Rng) -> Attempt {
        let started = Instant::now();
        let session = match self.open(agent) {
            Ok(s) => s,
            Err(e) => return Attempt::Failed(e),
        };
        let opened = Instant::now();
        if let Attempt::Failed(e) = self.purchase(agent, &session, rng) {
            return Attempt::Failed(format!("purchase: {e}"));
        }
        let purchased = Instant::now();
        let (node, sid) = &session;
        let body = json!({"text": customers::review(rng)});
        match failure(procs::request(agent, "POST", &format!("{}/v1/sessions/{sid}/feedback", self.urls[*node]), Some(&body))) {
            Attempt::Failed(e) => Attempt::Failed(format!("feedback: {e}")),
            other => {
                for (i, took) in [opened - started, purchased - opened, purchased.elapsed()].into_iter().enumerate() {
                    self.step_us[i].fetch_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
                    self.steps[i].fetch_add(1, Ordering::Relaxed);
                }
                other
            }
        }
    }

    /// Mean time of each flow step since the last call, in ms, as a sentence (and resets).
    fn take_step_means(&self) -> String {
        let mean = |i: usize| {
            let (us, n) = (self.step_us[i].swap(0, Ordering::Relaxed), self.steps[i].swap(0, Ordering::Relaxed));
            if n == 0 { 0.0 } else { us as f64 / n as f64 / 1000.0 }
        };
        format!("mean ms per step of a flow: open {:.1}, purchase {:.1}, feedback {:.1}", mean(0), mean(1), mean(2))
    }

    fn sessions_left(&self) -> usize {
        let opened = self.sessions.lock().unwrap_or_else(PoisonError::into_inner).len();
        opened.saturating_sub(self.next_session.load(Ordering::Relaxed))
    }

    /// Opens sessions with `clients` threads until `more` are added, or [`OPEN_PHASE_MAX`]
    /// passes; returns how many were added per second. Untimed by the benchmark.
    fn open_sessions(self: &Arc<Self>, clients: u64, more: usize) -> anyhow::Result<f64> {
        let target = self.sessions.lock().unwrap_or_else(PoisonError::into_inner).len().saturating_add(more).min(SESSIONS_MAX);
        let started = Instant::now();
        let deadline = started + OPEN_PHASE_MAX;
        let errors = Arc::new(AtomicU64::new(0));
        let (svea, errs) = (Arc::clone(self), Arc::clone(&errors));
        let threads = Clients::spawn(clients, "bench-opener", move |_| {
            let agent = procs::agent_with_timeout(REQUEST_TIMEOUT);
            let mut added = 0usize;
            while Instant::now() < deadline && svea.sessions.lock().unwrap_or_else(PoisonError::into_inner).len() < target {
                match svea.open(&agent) {
                    Ok(s) => {
                        svea.sessions.lock().unwrap_or_else(PoisonError::into_inner).push(s);
                        added += 1;
                    }
                    Err(_) => {
                        errs.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            added
        })?;
        let added: usize = threads.join()?.into_iter().sum();
        let errors = errors.load(Ordering::Relaxed);
        if errors > 0 {
            eprintln!("bench-vs-etcd: {errors} session opens failed while preparing purchases");
        }
        ensure!(added > 0, "no session could be opened ({errors} failures)");
        Ok(added as f64 / started.elapsed().as_secs_f64().max(f64::MIN_POSITIVE))
    }
}

/// Runs svea with `cluster.groups = groups`, its rows labelled `system`.
fn run_svea(args: &Args, groups: &str, system: &'static str, dir: &Path, report: &mut Report) -> anyhow::Result<()> {
    let bin = args.procs.release_binary("bench-vs-etcd")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let spec = ClusterSpec { tool: "bench-vs-etcd", proxies: false, routing: "serve", log_filter: args.procs.node_log_filter.clone(), groups: groups.to_owned() };
    let procs::Running { mut cluster, ready_after, .. } = procs::start(&bin, dir, &spec)?;
    eprintln!("bench-vs-etcd: svea ready after {:.1} s", ready_after.as_secs_f64());
    let urls = cluster.urls();
    let tokens = (0..args.businesses)
        .map(|n| {
            // Spread over the three regions (each created through its own region's node), so
            // that with a group per region every group's leader takes its share of the writes.
            let r = usize::try_from(n).unwrap_or(0) % procs::PLACES.len();
            procs::create_business_at(&urls[r], &format!("Bench Kafé {n}"), BUDGET_SEK, procs::PLACES[r]).map(|b| (r, b.token))
        })
        .collect::<anyhow::Result<Vec<_>>>()
        .with_context(|| format!("creating the businesses, a third in each region\n{}", cluster.logs_tail()))?;
    let svea = Arc::new(Svea {
        urls: urls.clone(),
        tokens,
        customers: args.customers,
        sessions: Mutex::new(Vec::new()),
        next_session: AtomicUsize::new(0),
        next_id: AtomicU64::new(0),
        seed: args.seed,
        step_us: Default::default(),
        steps: Default::default(),
    });
    report.notes.push(format!(
        "{system}: 3 `svea run` processes on 127.0.0.1 (QUIC + mutual TLS), cluster.groups = {groups}, {} business(es) spread over the 3 regions, {}; \
         purchase = one write on a session opened beforehand (untimed), flow = open + purchase + feedback ({})",
        args.businesses,
        args.customers.describe(),
        customers::writes_basis()
    ));

    // (a) single-write steps.
    let mut expected_rate: Option<f64> = None;
    for &clients in &args.clients {
        let window = (args.warmup + args.duration).as_secs_f64();
        let rate = match expected_rate {
            Some(r) => r,
            None => {
                let probe = usize::try_from(clients)?.saturating_mul(OPEN_PROBE_PER_CLIENT);
                svea.open_sessions(clients, probe)? * PURCHASE_PER_OPEN_GUESS
            }
        };
        let want = (rate * window * SESSIONS_HEADROOM).ceil() as usize;
        let left = svea.sessions_left();
        if want > left {
            eprintln!("bench-vs-etcd: opening {} sessions for {clients} purchase clients (untimed)", want - left);
            svea.open_sessions(clients, want - left)?;
        }
        let s = Arc::clone(&svea);
        let purchase = move |t: u64, n: u64, agent: &ureq::Agent| {
            let i = s.next_session.fetch_add(1, Ordering::Relaxed);
            let Some(session) = s.sessions.lock().unwrap_or_else(PoisonError::into_inner).get(i).cloned() else {
                return Attempt::Exhausted;
            };
            let mut rng = customers::client_rng(s.seed ^ n, t);
            s.purchase(agent, &session, &mut rng)
        };
        let u = cluster.metrics_urls();
        let (tally, span, before, after) = closed_loop(clients, args.warmup, args.duration, purchase, move || applied_commands(&u))?;
        cluster.check_alive("")?;
        if tally.exhausted_clients > 0 {
            report.notes.push(format!(
                "svea purchase at {clients} clients: {} clients ran out of pre-opened sessions; writes/s is a lower bound",
                tally.exhausted_clients
            ));
        }
        let ops = per_s(tally.ok, args.duration);
        expected_rate = Some(expected_rate.unwrap_or(0.0).max(ops) * LEVEL_SPEEDUP_GUESS);
        report.rows.push(svea_row(system, "purchase", clients, &tally, args.duration, applied_delta(&before, &after).map(|n| (n, span)), PURCHASE_WRITES));
        eprintln!("bench-vs-etcd: svea purchase {clients} clients: {ops:.0} purchases/s");
    }

    // (b) whole customer flows.
    for &clients in &args.clients {
        let s = Arc::clone(&svea);
        let flow = move |t: u64, n: u64, agent: &ureq::Agent| {
            let mut rng = customers::client_rng(s.seed ^ n, t);
            s.flow(agent, &mut rng)
        };
        let u = cluster.metrics_urls();
        let (tally, span, before, after) = closed_loop(clients, args.warmup, args.duration, flow, move || applied_commands(&u))?;
        cluster.check_alive("")?;
        report.rows.push(svea_row(system, "flow", clients, &tally, args.duration, applied_delta(&before, &after).map(|n| (n, span)), FLOW_WRITES));
        let steps = svea.take_step_means();
        eprintln!("bench-vs-etcd: svea flow {clients} clients: {:.0} flows/s; {steps}", per_s(tally.ok, args.duration));
        report.notes.push(format!("{system} flow at {clients} clients: {steps} (warm-up included)"));
    }
    let stopped = cluster.stop();
    eprintln!("bench-vs-etcd: svea stopped: {}", stopped.join("; "));
    Ok(())
}

/// A svea row: `ok` operations in `window`; `applied`: the counter's increase over its own span.
fn svea_row(system: &'static str, target: &str, clients: u64, tally: &Tally, window: Duration, applied: Option<(u64, Duration)>, writes_per_op: u64) -> Row {
    let l = tally.latency.summary();
    let (writes_per_s, writes_counted_by) = match applied {
        Some((n, span)) => (per_s(n, span), format!("{APPLIED_COMMANDS_METRIC} (largest increase of the 3 nodes)")),
        None => (
            per_s(tally.ok * writes_per_op, window),
            format!("estimate: acknowledged ops x {writes_per_op} (no {APPLIED_COMMANDS_METRIC})"),
        ),
    };
    Row {
        system,
        target: target.to_owned(),
        clients,
        ops_per_s: per_s(tally.ok, window),
        writes_per_s,
        writes_counted_by,
        p50: l.p50,
        p99: l.p99,
        ok: tally.ok,
        failed: tally.failed,
        first_error: tally.first_error.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn row(system: &'static str, target: &str, clients: u64, writes: f64) -> Row {
        Row {
            system,
            target: target.to_owned(),
            clients,
            ops_per_s: writes,
            writes_per_s: writes,
            writes_counted_by: "test".to_owned(),
            p50: Duration::from_millis(4),
            p99: Duration::from_millis(12),
            ok: 10,
            failed: 0,
            first_error: None,
        }
    }

    #[test]
    fn arguments_have_the_issue_defaults_and_refuse_nonsense() {
        let a = Cli::try_parse_from(["t"]).expect("defaults").args;
        assert_eq!(a.clients, vec![16, 64, 256]);
        assert_eq!((a.duration, a.warmup), (Duration::from_secs(10), Duration::from_secs(2)));
        assert_eq!((a.only, a.customers), (None, CustomersAt::Home));
        assert_eq!(Cli::try_parse_from(["t", "--customers", "anywhere"]).expect("anywhere").args.customers, CustomersAt::Anywhere);
        let a = Cli::try_parse_from(["t", "--clients", "8,32", "--duration", "1500ms", "--warmup", "0", "--only", "svea", "--json", "/tmp/x.json"])
            .expect("flags")
            .args;
        assert_eq!(a.clients, vec![8, 32]);
        assert_eq!((a.duration, a.warmup), (Duration::from_millis(1500), Duration::ZERO));
        assert_eq!((a.only, a.json.as_deref()), (Some(Only::Svea), Some(Path::new("/tmp/x.json"))));
        for bad in [&["t", "--clients", "0"][..], &["t", "--clients", "2000"], &["t", "--duration", "0s"], &["t", "--only", "redis"], &["t", "--customers", "mars"]] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn the_table_and_json_carry_every_row_and_the_ratio_against_the_better_etcd_target() {
        let mut report = Report {
            rows: vec![
                row("etcd", "follower", 16, 3000.0),
                row("etcd", "leader", 16, 4000.0),
                row("svea", "purchase", 16, 6000.0),
                row("svea", "purchase", 64, 100.0),
            ],
            notes: vec!["a note".to_owned()],
        };
        report.rows[3].failed = 2;
        report.rows[3].first_error = Some("status 503".to_owned());
        assert_eq!(report.ratio(&report.rows[2]), Some(1.5));
        assert_eq!(report.ratio(&report.rows[0]), None, "etcd rows have no ratio");
        assert_eq!(report.ratio(&report.rows[3]), None, "no etcd row at 64 clients");

        let table = render_table(&report);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("system") && lines[0].contains("svea/etcd"), "{table}");
        assert!(lines[3].contains("purchase") && lines[3].contains("6000") && lines[3].contains("1.50"), "{table}");
        assert!(lines[3].contains("4.00") && lines[3].contains("12.00"), "{table}");
        assert!(table.contains("failures of svea purchase at 64 clients: 2 (e.g. status 503)"), "{table}");
        assert!(table.contains("note: a note"), "{table}");

        let args = Cli::try_parse_from(["t"]).expect("defaults").args;
        let v = report_json(&report, &args);
        assert_eq!(v["rows"].as_array().map(Vec::len), Some(4));
        assert_eq!(v["rows"][2]["ratio_svea_etcd"], json!(1.5));
        assert_eq!(v["rows"][0]["ratio_svea_etcd"], Value::Null);
        assert_eq!(v["rows"][1]["p99_ms"], json!(12.0));
        assert_eq!(v["clients"], json!([16, 64, 256]));
    }

    #[test]
    fn a_missing_etcd_names_the_package_and_one_on_path_is_found() {
        let empty = tempfile::tempdir().expect("tmp");
        let e = etcd_binary(None, Some(empty.path().into())).expect_err("no etcd").to_string();
        assert!(e.contains("apt-get install etcd-server"), "{e}");
        assert!(etcd_binary(None, None).is_err());

        let bin = tempfile::tempdir().expect("tmp");
        let etcd = bin.path().join("etcd");
        std::fs::write(&etcd, "#!/bin/sh\n").expect("write");
        assert!(etcd_binary(None, Some(bin.path().into())).is_err(), "not executable");
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&etcd, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let path = std::env::join_paths([empty.path(), bin.path()]).expect("path");
        assert_eq!(etcd_binary(None, Some(path)).ok(), Some(etcd));
    }

    #[test]
    fn counters_are_read_from_the_exposition_and_the_leader_from_statuses() {
        let text = "# HELP svea_commands_applied_total x\nsvea_commands_applied_total_x 9\nsvea_commands_applied_total 1234\n";
        assert_eq!(metric_value(text, APPLIED_COMMANDS_METRIC), Some(1234));
        assert_eq!(metric_value("svea_commands_applied_total{node=\"1\"} 5e3\n", APPLIED_COMMANDS_METRIC), Some(5000));
        assert_eq!(metric_value("svea_raft_term 3\n", APPLIED_COMMANDS_METRIC), None);
        assert_eq!(applied_delta(&[Some(10), Some(8)], &[Some(30), Some(40)]), Some(32));
        assert_eq!(applied_delta(&[Some(10), None], &[Some(30), Some(40)]), None);

        let s = |id: &str, l: &str| (id.to_owned(), l.to_owned());
        assert_eq!(leader_index(&[s("11", "22"), s("22", "22"), s("33", "22")]), Some(1));
        assert_eq!(leader_index(&[s("11", "22"), s("22", "11"), s("33", "22")]), None, "disagreeing members");
        assert_eq!(leader_index(&[s("11", "0"), s("22", "0"), s("33", "0")]), None, "no leader yet");
    }
}
