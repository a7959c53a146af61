//! `bench-cluster`: throughput and per-step latency of a real three-region cluster, as three
//! `svea run` processes on 127.0.0.1 talking QUIC with mutual TLS, driven over HTTP.
//!
//! Customers are `--concurrency` std threads, each one a phone doing whole customer flows with a
//! blocking HTTP client: open a session (through the nodes in turn), confirm the purchase and give
//! feedback through the node that opened it. Nothing is retried; failures and 503s are counted.
//!
//! `--wan` puts a user-space UDP delay proxy (`udp_proxy`) in front of each node: every node binds
//! its real port (`node.raft_listen_addr`) but advertises its proxy's (`node.raft_addr` and the
//! membership), so all Raft and forwarded-actor traffic between two regions waits the pair's
//! one-way delay in each direction. HTTP between the customers and the nodes is not delayed.
//!
//! Sessions open where the customer asks (`node.routing = "serve"`), so round-robin spreads them
//! over the regions. `--routing redirect` keeps the nodes' GeoIP routing instead: a `POST
//! /v1/sessions` may answer 307 to the nearest healthy region (from 127.0.0.1 that is the region
//! table's default order, so stockholm), and the customer follows it, as a phone would; the open's
//! latency then includes the extra hop, and the later steps go to the node that opened the session.
//!
//! The `svea` binary: `--svea-bin PATH`, else `cargo build --release -p svea-node -p simulations` is run first
//! (a no-op when up to date; skip it with `--no-build`) and the binary is taken from next to this
//! one, else from `<workspace>/target/release/`. (`CARGO_BIN_EXE_svea` is only set for the
//! package that owns the binary, so it cannot be used here.)
//!
//! Committed Raft writes are estimated from the successful steps times the writes each step
//! makes: no HTTP endpoint exposes the applied log index (`/ready` returns leader and term).
//! This is a benchmark that prints numbers; nothing here asserts on timings.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rand::Rng;
use serde_json::{json, Value};

use simulations::customers::{
    self, Clients, BUDGET_SEK, FEEDBACK_WRITES, OPEN_WRITES, PURCHASE_ORE, PURCHASE_WRITES,
};
use simulations::latency::{ms, Latencies};

use simulations::procs::{
    self, agent, request, ClusterSpec, Outcome, NODES, ONE_WAY_DELAY_US,
};
use simulations::udp_proxy::{Direction, ProxyHandle};

/// Index in [`NODES`] of the node businesses are created through (and whose region is their home).
const MALMO: usize = 2;

/// Most customers in flight; each is an OS thread with its own HTTP connections.
const CONCURRENCY_MAX: u64 = 512;
/// Most businesses the customers are spread over.
const BUSINESSES_MAX: u64 = 100;
/// Shortest and longest load phase.
const DURATION_MIN: Duration = Duration::from_millis(100);
const DURATION_MAX: Duration = Duration::from_secs(3600);

/// Most 307s one open follows before it counts as failed.
const REDIRECTS_MAX: u32 = 3;

/// The nodes' `node.routing` for `POST /v1/sessions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum RoutingMode {
    /// Every node serves every customer (round-robin really spreads sessions over regions).
    Serve,
    /// GeoIP routing: 307 to the nearest healthy region, followed by the customers.
    Redirect,
}

impl RoutingMode {
    fn as_str(self) -> &'static str {
        match self {
            RoutingMode::Serve => "serve",
            RoutingMode::Redirect => "redirect",
        }
    }
}

/// Options of `bench-cluster`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Put a UDP delay proxy in front of each node with the one-way delays between the regions
    /// (ms): stockholm-gothenburg 2.0, stockholm-malmo 2.65, gothenburg-malmo 1.25.
    #[arg(long)]
    wan: bool,
    /// Length of the load phase, e.g. 20s, 1500ms, 2m (a bare number is seconds). No flow starts
    /// after it; flows under way finish.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    duration: Duration,
    /// Customers in flight at once (one thread each).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=CONCURRENCY_MAX))]
    concurrency: u64,
    /// Businesses (created through malmo, home region malmo) the flows are spread over. Every
    /// session reports to its business twice and a business actor handles one call at a time, so
    /// with one business that actor's commit latency bounds the flow rate.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=BUSINESSES_MAX))]
    businesses: u64,
    /// `node.routing` of the nodes: `serve` opens sessions where asked; `redirect` lets nodes
    /// answer 307 to the customer's nearest region, and customers follow it.
    #[arg(long, value_enum, default_value = "serve")]
    routing: RoutingMode,
    /// Print one JSON object instead of the tables.
    #[arg(long)]
    json: bool,
    /// Where the `svea` binary comes from, its nodes' logs and the run directory.
    #[command(flatten)]
    procs: procs::ProcessArgs,
    /// Seed for purchase amounts and review choice (the workload, not the timings).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Parses `20s`, `1500ms`, `2m` or a bare number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    procs::parse_duration_within(text, DURATION_MIN, DURATION_MAX)
}

/// Runs the benchmark and prints its report.
pub fn main(args: Args) -> anyhow::Result<()> {
    let svea = args.procs.release_binary("bench-cluster")?;
    let dir = tempfile::Builder::new()
        .prefix("svea-bench-cluster-")
        .tempdir()
        .context("cannot create the run directory")?;
    let result = run(&args, &svea, dir.path());
    if args.procs.keep_dir {
        let path = dir.keep();
        eprintln!("bench-cluster: kept the run directory {}", path.display());
    } else {
        let path = dir.path().to_path_buf();
        if let Err(e) = dir.close() {
            eprintln!(
                "bench-cluster: warning: could not remove {}: {e}",
                path.display()
            );
        }
    }
    let report = result?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json(&args))?);
    } else {
        report.print(&args);
    }
    Ok(())
}

// ---------- load ----------

/// The three steps of a customer flow.
const STEPS: [&str; 3] = ["open", "purchase", "feedback"];

/// What the requests of one step came to (their latencies go to [`Load::latency`]).
#[derive(Debug, Default, Clone)]
struct StepStats {
    /// Requests, ok or not.
    requests: u64,
    ok: u64,
    /// Non-2xx answers by status code.
    statuses: BTreeMap<u16, u64>,
    transport_errors: u64,
    /// 307s followed (opens with `--routing redirect`); part of the step's latency.
    redirects: u64,
    /// One example message per transport error kind, for the report.
    transport_example: Option<String>,
}

impl StepStats {
    fn merge(&mut self, other: StepStats) {
        self.requests += other.requests;
        self.ok += other.ok;
        for (code, n) in other.statuses {
            *self.statuses.entry(code).or_default() += n;
        }
        self.transport_errors += other.transport_errors;
        self.redirects += other.redirects;
        if self.transport_example.is_none() {
            self.transport_example = other.transport_example;
        }
    }

    fn count(&self) -> u64 {
        self.requests
    }

    fn failed(&self) -> u64 {
        self.count() - self.ok
    }

    fn unavailable(&self) -> u64 {
        self.statuses.get(&503).copied().unwrap_or(0)
    }

    /// Counts one request of this step that took from `started` until now into `latency`.
    fn record(&mut self, latency: &Mutex<Latencies>, started: Instant, outcome: &Outcome) {
        latency
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(started.elapsed());
        self.requests += 1;
        match outcome {
            Outcome::Ok(_) => self.ok += 1,
            Outcome::Status(code) => *self.statuses.entry(*code).or_default() += 1,
            Outcome::Redirect(to) => {
                // Only a redirect chain longer than REDIRECTS_MAX is recorded as an outcome.
                self.transport_errors += 1;
                self.transport_example.get_or_insert_with(|| {
                    format!("more than {REDIRECTS_MAX} redirects, last to {to}")
                });
            }
            Outcome::Transport(e) => {
                self.transport_errors += 1;
                self.transport_example.get_or_insert_with(|| e.clone());
            }
        }
    }
}

/// What one customer thread did.
#[derive(Debug, Default)]
struct ThreadStats {
    steps: [StepStats; 3],
    flows_started: u64,
    flows_completed: u64,
    /// Sessions opened per node index.
    per_node: [u64; 3],
}

/// Shared by the customer threads.
struct Load {
    urls: Vec<String>,
    /// The businesses, in round-robin order.
    businesses: Vec<procs::CreatedBusiness>,
    next_flow: AtomicU64,
    deadline: Instant,
    seed: u64,
    /// Latency of every request per step, ok or not: one histogram per step for all threads,
    /// so memory does not grow with `--concurrency`.
    latency: [Mutex<Latencies>; 3],
}

fn customer(load: &Load, thread: u64) -> ThreadStats {
    let agent = agent();
    let mut rng = customers::client_rng(load.seed, thread);
    let mut stats = ThreadStats::default();
    while Instant::now() < load.deadline {
        let flow = load.next_flow.fetch_add(1, Ordering::Relaxed);
        stats.flows_started += 1;
        // `flow` is below u64::MAX and the lists are short, so the remainders index in bounds.
        let asked = (flow % load.urls.len() as u64) as usize;
        let token = &load.businesses
            [(flow / load.urls.len() as u64 % load.businesses.len() as u64) as usize]
            .token;

        let started = Instant::now();
        // A new phone each flow: no device token, so svea issues one (the bench does not keep it).
        let body = json!({"qr_token": token});
        let mut open_url = format!("{}/v1/sessions", load.urls[asked]);
        let mut outcome = request(&agent, "POST", &open_url, Some(&body));
        for _ in 0..REDIRECTS_MAX {
            let Outcome::Redirect(to) = &outcome else {
                break;
            };
            stats.steps[0].redirects += 1;
            open_url = to.clone();
            outcome = request(&agent, "POST", &open_url, Some(&body));
        }
        stats.steps[0].record(&load.latency[0], started, &outcome);
        let Outcome::Ok(session) = outcome else {
            continue;
        };
        // The later steps go to the node that opened the session (the one a redirect led to).
        let Some(node) = load
            .urls
            .iter()
            .position(|u| open_url.starts_with(&format!("{u}/")))
        else {
            stats.steps[0].ok -= 1;
            stats.steps[0].transport_errors += 1;
            stats.steps[0]
                .transport_example
                .get_or_insert_with(|| format!("redirected outside the cluster: {open_url}"));
            continue;
        };
        let url = &load.urls[node];
        stats.per_node[node] += 1;
        let Some(sid) = session["id"].as_str() else {
            stats.steps[0].ok -= 1;
            stats.steps[0].transport_errors += 1;
            stats.steps[0].transport_example.get_or_insert_with(|| {
                let mut body = session.to_string();
                body.truncate(body.floor_char_boundary(300));
                format!("session answer without id: {body}")
            });
            continue;
        };

        let body = customers::purchase_body(rng.gen_range(PURCHASE_ORE), &format!("T-{flow}"));
        let started = Instant::now();
        let outcome = request(
            &agent,
            "POST",
            &format!("{url}/v1/sessions/{sid}/purchase"),
            Some(&body),
        );
        stats.steps[1].record(&load.latency[1], started, &outcome);
        if !matches!(outcome, Outcome::Ok(_)) {
            continue;
        }

        let body = json!({"text": customers::review(&mut rng)});
        let started = Instant::now();
        let outcome = request(
            &agent,
            "POST",
            &format!("{url}/v1/sessions/{sid}/feedback"),
            Some(&body),
        );
        stats.steps[2].record(&load.latency[2], started, &outcome);
        if matches!(outcome, Outcome::Ok(_)) {
            stats.flows_completed += 1;
        }
    }
    stats
}

// ---------- the run ----------

/// Everything measured.
struct Report {
    mode: &'static str,
    ready_after: Duration,
    ready_before: Vec<Value>,
    ready_after_load: Vec<Value>,
    elapsed: Duration,
    steps: [StepStats; 3],
    latency: [Latencies; 3],
    flows_started: u64,
    flows_completed: u64,
    per_node: [u64; 3],
    analytics: Vec<Value>,
    proxy_stats: Vec<simulations::udp_proxy::ProxyStats>,
    stopped: Vec<String>,
}

fn run(args: &Args, svea: &Path, dir: &Path) -> anyhow::Result<Report> {
    let spec = ClusterSpec {
        tool: "bench-cluster",
        proxies: args.wan,
        routing: args.routing.as_str(),
        log_filter: args.procs.node_log_filter.clone(),
        groups: args.procs.groups.clone(),
    };
    let procs::Running {
        mut cluster,
        proxies,
        ready: ready_before,
        ready_after,
    } = procs::start(svea, dir, &spec)?;
    eprintln!(
        "bench-cluster: {} nodes ready after {:.1} s ({}); load for {:?} with {} customers",
        NODES.len(),
        ready_after.as_secs_f64(),
        if args.wan {
            "wan delays"
        } else {
            "plain loopback"
        },
        args.duration,
        args.concurrency
    );

    let urls: Vec<String> = cluster.nodes.iter().map(|n| n.url.clone()).collect();
    let businesses = (0..args.businesses)
        .map(|n| procs::create_business(&urls[MALMO], &format!("Bench Kafé {n}"), BUDGET_SEK))
        .collect::<anyhow::Result<Vec<_>>>()
        .with_context(|| {
            format!(
                "creating the businesses through malmo\n{}",
                cluster.logs_tail()
            )
        })?;

    let load = Arc::new(Load {
        urls: urls.clone(),
        businesses: businesses.clone(),
        next_flow: AtomicU64::new(0),
        deadline: Instant::now() + args.duration,
        seed: args.seed,
        latency: Default::default(),
    });
    let load_start = Instant::now();
    let shared = Arc::clone(&load);
    let threads = Clients::spawn(args.concurrency, "customer", move |t| customer(&shared, t))?;
    let mut steps: [StepStats; 3] = Default::default();
    let (mut flows_started, mut flows_completed, mut per_node) = (0, 0, [0u64; 3]);
    // Each thread ends at most 3 x REQUEST_TIMEOUT after the deadline.
    for stats in threads.join()? {
        for (all, one) in steps.iter_mut().zip(stats.steps) {
            all.merge(one);
        }
        flows_started += stats.flows_started;
        flows_completed += stats.flows_completed;
        for (all, one) in per_node.iter_mut().zip(stats.per_node) {
            *all += one;
        }
    }
    let elapsed = load_start.elapsed();

    cluster.check_alive("")?;
    let probe = agent();
    let ready_after_load = cluster
        .nodes
        .iter()
        .map(
            |n| match request(&probe, "GET", &format!("{}/ready", n.url), None) {
                Outcome::Ok(v) => v,
                Outcome::Status(code) => json!({"status": code}),
                Outcome::Redirect(to) => json!({"redirect": to}),
                Outcome::Transport(e) => json!({"error": e}),
            },
        )
        .collect();
    let analytics = businesses
        .iter()
        .map(|b| {
            match procs::request_as(
                &probe,
                "GET",
                &format!("{}/v1/businesses/{}/analytics", urls[MALMO], b.id),
                None,
                Some(&b.key),
            ) {
                Outcome::Ok(v) => v,
                Outcome::Status(code) => json!({"status": code}),
                Outcome::Redirect(to) => json!({"redirect": to}),
                Outcome::Transport(e) => json!({"error": e}),
            }
        })
        .collect();

    let stopped = cluster.stop();
    let proxy_stats = proxies
        .as_ref()
        .map(|p| p.handles().iter().map(ProxyHandle::stats).collect())
        .unwrap_or_default();
    drop(proxies);
    let latency = load
        .latency
        .each_ref()
        .map(|l| l.lock().unwrap_or_else(PoisonError::into_inner).clone());
    Ok(Report {
        mode: if args.wan { "wan" } else { "loopback" },
        ready_after,
        ready_before,
        ready_after_load,
        elapsed,
        steps,
        latency,
        flows_started,
        flows_completed,
        per_node,
        analytics,
        proxy_stats,
        stopped,
    })
}

// ---------- the report ----------

struct Summary {
    count: u64,
    ok: u64,
    failed: u64,
    unavailable: u64,
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

fn summarize(s: &StepStats, latency: &Latencies) -> Summary {
    let l = latency.summary();
    Summary {
        count: s.count(),
        ok: s.ok,
        failed: s.failed(),
        unavailable: s.unavailable(),
        p50: ms(l.p50),
        p90: ms(l.p90),
        p99: ms(l.p99),
        max: ms(l.max),
    }
}

impl Report {
    fn all_steps(&self) -> (StepStats, Latencies) {
        let mut all = StepStats::default();
        let mut latency = Latencies::default();
        for (s, l) in self.steps.iter().zip(&self.latency) {
            all.merge(s.clone());
            latency.merge(l);
        }
        (all, latency)
    }

    /// Every step with its latencies, then all steps together.
    fn summaries(&self) -> Vec<(&'static str, StepStats, Summary)> {
        let (all, latency) = self.all_steps();
        let mut rows: Vec<_> = STEPS
            .iter()
            .zip(self.steps.iter().zip(&self.latency))
            .map(|(name, (s, l))| (*name, s.clone(), summarize(s, l)))
            .collect();
        let m = summarize(&all, &latency);
        rows.push(("all", all, m));
        rows
    }

    fn per_s(&self, n: u64) -> f64 {
        n as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    fn writes_estimate(&self) -> u64 {
        self.steps[0].ok * OPEN_WRITES
            + self.steps[1].ok * PURCHASE_WRITES
            + self.steps[2].ok * FEEDBACK_WRITES
    }

    fn print(&self, args: &Args) {
        println!("bench-cluster: 3 svea processes on 127.0.0.1 (QUIC + mutual TLS between them), HTTP from {} customer threads", args.concurrency);
        if args.wan {
            let pairs: Vec<String> = ONE_WAY_DELAY_US
                .iter()
                .map(|(a, b, us)| format!("{a}-{b} {:.2}", *us as f64 / 1000.0))
                .collect();
            println!(
                "mode: wan, one-way delays (ms) via UDP proxies: {}",
                pairs.join(", ")
            );
        } else {
            println!("mode: plain loopback (no added delay)");
        }
        println!(
            "routing: {} ({} redirects followed by opens)",
            args.routing.as_str(),
            self.steps[0].redirects
        );
        let leaders: Vec<String> = self
            .ready_before
            .iter()
            .map(|r| format!("{}@{}", r["leader"], r["term"]))
            .collect();
        let leaders_after: Vec<String> = self
            .ready_after_load
            .iter()
            .map(|r| format!("{}@{}", r["leader"], r["term"]))
            .collect();
        println!(
            "cluster ready after {:.1} s; leader@term per node before: [{}], after: [{}]",
            self.ready_after.as_secs_f64(),
            leaders.join(", "),
            leaders_after.join(", ")
        );
        println!(
            "load: {:.1} s (duration {:?}, flows under way at the end finished), {} business(es) homed in malmo, sessions opened per node (sto/got/mal): {}/{}/{}",
            self.elapsed.as_secs_f64(),
            args.duration,
            args.businesses,
            self.per_node[0],
            self.per_node[1],
            self.per_node[2]
        );
        println!();
        println!(
            "{:<9} {:>7} {:>7} {:>7} {:>5} {:>8} {:>8} {:>8} {:>8}",
            "step", "count", "ok", "failed", "503", "p50 ms", "p90 ms", "p99 ms", "max ms"
        );
        let rows = self.summaries();
        for (name, _, m) in &rows {
            println!(
                "{:<9} {:>7} {:>7} {:>7} {:>5} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
                name, m.count, m.ok, m.failed, m.unavailable, m.p50, m.p90, m.p99, m.max
            );
        }
        let all = &rows[rows.len() - 1].1;
        println!();
        println!(
            "flows: {} completed of {} started, {:.1} flows/s",
            self.flows_completed,
            self.flows_started,
            self.per_s(self.flows_completed)
        );
        println!(
            "requests: {} ({:.1}/s, {} ok)",
            all.count(),
            self.per_s(all.count()),
            all.ok
        );
        println!(
            "committed Raft writes: ~{:.0}/s -- an ESTIMATE from successful steps x writes per step \
             ({}); no endpoint exposes the applied log index",
            self.per_s(self.writes_estimate()),
            customers::writes_basis()
        );
        for (name, s) in STEPS.iter().zip(&self.steps) {
            if s.failed() > 0 {
                let codes: Vec<String> = s
                    .statuses
                    .iter()
                    .map(|(c, n)| format!("{c} x{n}"))
                    .collect();
                println!(
                    "failures in {name}: statuses [{}], transport errors {}{}",
                    codes.join(", "),
                    s.transport_errors,
                    s.transport_example
                        .as_ref()
                        .map(|e| format!(" (e.g. {e})"))
                        .unwrap_or_default()
                );
            }
        }
        for a in &self.analytics {
            println!(
                "business analytics (via malmo): sessions {}, average score {}",
                a["sessions"], a["average_score"]
            );
        }
        if !self.proxy_stats.is_empty() {
            println!();
            println!(
                "{:<24} {:>9} {:>11} {:>11} {:>10} {:>8}",
                "proxy link", "delay ms", "applied ms", "max ms", "forwarded", "dropped"
            );
            for p in &self.proxy_stats {
                for l in &p.links {
                    let (from, to) = match l.direction {
                        Direction::ToTarget => (l.source.as_str(), l.proxy.as_str()),
                        Direction::ToSource => (l.proxy.as_str(), l.source.as_str()),
                    };
                    println!(
                        "{:<24} {:>9.2} {:>11.2} {:>11.2} {:>10} {:>8}",
                        format!("{from} -> {to}"),
                        l.delay.as_secs_f64() * 1e3,
                        l.applied_delay_mean.as_secs_f64() * 1e3,
                        l.applied_delay_max.as_secs_f64() * 1e3,
                        l.forwarded,
                        l.dropped_chaos + l.dropped_overflow
                    );
                }
                if p.dropped_unknown_source > 0 {
                    println!(
                        "proxy of {}: {} datagrams from unknown senders dropped",
                        p.links.first().map_or("?", |l| l.proxy.as_str()),
                        p.dropped_unknown_source
                    );
                }
            }
            println!("('applied' is the mean delay really added per datagram: timerfd precision plus waiting for a CPU)");
        }
        println!("stopped: {}", self.stopped.join("; "));
    }

    fn to_json(&self, args: &Args) -> Value {
        let rows = self.summaries();
        let mut steps = serde_json::Map::new();
        for (name, s, m) in &rows {
            steps.insert(
                (*name).to_owned(),
                json!({
                    "count": m.count, "ok": m.ok, "failed": m.failed, "status_503": m.unavailable,
                    "statuses": s.statuses.iter().map(|(c, n)| (c.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
                    "transport_errors": s.transport_errors, "redirects": s.redirects,
                    "p50_ms": m.p50, "p90_ms": m.p90, "p99_ms": m.p99, "max_ms": m.max,
                }),
            );
        }
        let links: Vec<Value> = self
            .proxy_stats
            .iter()
            .flat_map(|p| p.links.iter())
            .map(|l| {
                let (from, to) = match l.direction {
                    Direction::ToTarget => (&l.source, &l.proxy),
                    Direction::ToSource => (&l.proxy, &l.source),
                };
                json!({
                    "from": from, "to": to, "direction": l.direction.as_str(), "delay_ms": l.delay.as_secs_f64() * 1e3,
                    "applied_mean_ms": l.applied_delay_mean.as_secs_f64() * 1e3,
                    "applied_max_ms": l.applied_delay_max.as_secs_f64() * 1e3,
                    "forwarded": l.forwarded, "dropped_chaos": l.dropped_chaos,
                    "dropped_overflow": l.dropped_overflow, "send_errors": l.send_errors,
                })
            })
            .collect();
        json!({
            "bench": "bench-cluster",
            "mode": self.mode,
            "routing": args.routing.as_str(),
            "one_way_delay_ms": if args.wan {
                ONE_WAY_DELAY_US.iter().map(|(a, b, us)| json!({"between": [a, b], "ms": *us as f64 / 1000.0})).collect::<Vec<_>>()
            } else { Vec::new() },
            "concurrency": args.concurrency,
            "businesses": args.businesses,
            "duration_s": args.duration.as_secs_f64(),
            "elapsed_s": self.elapsed.as_secs_f64(),
            "ready_after_s": self.ready_after.as_secs_f64(),
            "ready_before": self.ready_before,
            "ready_after_load": self.ready_after_load,
            "steps": steps,
            "flows_started": self.flows_started,
            "flows_completed": self.flows_completed,
            "flows_per_s": self.per_s(self.flows_completed),
            "requests_per_s": self.per_s(rows[rows.len() - 1].1.count()),
            "committed_writes_per_s_estimate": self.per_s(self.writes_estimate()),
            "committed_writes_estimate_basis": format!(
                "successful steps x writes per step: {}",
                customers::writes_basis()
            ),
            "sessions_opened_per_node": {
                "stockholm": self.per_node[0], "gothenburg": self.per_node[1], "malmo": self.per_node[2],
            },
            "analytics": self.analytics,
            "proxy_links": links,
            "stopped": self.stopped,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_refuse_nonsense() {
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("20"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        for bad in ["", "s", "20h", "-1s", "1.5s", "0s", "2h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
