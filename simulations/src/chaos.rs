//! `chaos <fault>`: three real `svea` processes on 127.0.0.1 behind the user-space UDP proxies
//! (Swedish WAN delays), customer clients recording a Jepsen-style [`History`], one fault, then a
//! heal, final reads from every node, and the [`checker`](crate::checker) judging it all.
//!
//! A run is three phases: warm-up (a sixth of `--duration`, 2 to 10 s), fault (half of the rest),
//! heal (the rest). The faults:
//!
//! - `region-loss`: SIGKILL the region's process; the heal restarts it on the same data.
//! - `pause`: SIGSTOP it (a stalled machine whose sockets stay open); the heal sends SIGCONT.
//! - `partition`: the proxies black-hole all Raft/QUIC traffic between the region and the others,
//!   both ways; its HTTP stays reachable, so it must answer 503 as a minority. Heal: lift it.
//! - `one-way-partition`: only the region's outgoing datagrams are black-holed (it still hears the
//!   others). Heal: lift it.
//! - `rolling-restart`: SIGTERM, restart and wait for `/ready`, one node after the other, starting
//!   with the region; the heal phase only watches.
//!
//! Clients are `--clients` threads, each one customer phone after another: open a session, confirm
//! the purchase, read the session (through a random node), give feedback, read it again, and now
//! and then read the business's analytics. A step that gets no acknowledgement is retried with the
//! same data (every step is idempotent) through the next node, with backoff, as a phone whose
//! region is down would; each attempt is its own operation in the history. Answers are classified
//! by what they prove: 2xx `ok`; 4xx, 3xx and a refused connection `fail` (nothing happened); a
//! 5xx, a timeout or a reset after sending `info` (unknown outcome). A read answered 404 is an
//! `ok` "not found".
//!
//! Seeds drive the client randomness (amounts, think times, which node reads), not the timing of
//! a real cluster, so a seed does not reproduce a run exactly; it does reproduce the workload.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

use crate::checker::{self, FinalRead, FinalReads, NodeFinal};
use crate::customers::{self, Clients, BUDGET_ORE, BUDGET_SEK, PURCHASE_ORE};
use crate::history::{
    AnalyticsView, BusinessInfo, History, OkValue, Op, Recorder, SessionState, SessionView,
};
use crate::procs::{self, BinarySource, Cluster, ClusterSpec, Proxies, NODES};
use crate::report::{self, Mark, Phase, RunReport};
use crate::udp_proxy::Direction;

/// Shortest and longest run.
const DURATION_MIN: Duration = Duration::from_secs(10);
const DURATION_MAX: Duration = Duration::from_secs(3600);
/// Bounds of the warm-up phase (a sixth of the run within these).
const WARMUP_MIN: Duration = Duration::from_secs(2);
const WARMUP_MAX: Duration = Duration::from_secs(10);
/// Most client processes.
const CLIENTS_MAX: u64 = 64;
/// Businesses the flows are spread over (created through malmo, their home region).
const BUSINESSES: usize = 2;
/// A client gives up on one write after this long (a healthy node answers within its own 5 s
/// write timeout, with a 503 at worst; giving up earlier only makes the outcome unknown).
const CLIENT_WRITE_TIMEOUT: Duration = Duration::from_secs(6);
/// A client gives up on one read after this long: reads go to a random node, and a phone whose
/// read hangs on a stopped node should not stall its next write for long.
const CLIENT_READ_TIMEOUT: Duration = Duration::from_secs(2);
/// Limit of one final read (after the heal every node should answer promptly).
const FINAL_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts of one step before the flow is abandoned.
const STEP_ATTEMPTS_MAX: u32 = 30;
/// Backoff between attempts: doubles from the first to the cap.
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// Think time between two steps of a customer, in milliseconds.
const THINK_MS: std::ops::RangeInclusive<u64> = 20..=80;
/// Every this many flows a client also reads its business's analytics.
const ANALYTICS_EVERY: u64 = 3;
/// How long a restarted node may take to be ready again during a rolling restart.
const RESTART_READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause between two nodes of a rolling restart.
const ROLLING_GAP: Duration = Duration::from_secs(1);
/// How long the final reads may keep retrying one record on one node.
const FINAL_READ_PATIENCE: Duration = Duration::from_secs(20);
const _: () = assert!(WARMUP_MIN.as_secs() * 6 <= DURATION_MIN.as_secs() * 2);

/// The fault a run injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
    /// SIGKILL the region's process; restart it to heal.
    RegionLoss,
    /// SIGSTOP the region's process; SIGCONT to heal.
    Pause,
    /// Black-hole all traffic between the region and the others, both ways.
    Partition,
    /// Black-hole only the region's outgoing traffic.
    OneWayPartition,
    /// Restart every node in turn (SIGTERM, start, wait ready), starting with the region.
    RollingRestart,
}

impl Fault {
    /// The CLI name.
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::RegionLoss => "region-loss",
            Fault::Pause => "pause",
            Fault::Partition => "partition",
            Fault::OneWayPartition => "one-way-partition",
            Fault::RollingRestart => "rolling-restart",
        }
    }
}

/// Options of `chaos`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The fault to inject.
    #[arg(value_enum)]
    fault: Fault,
    /// The region the fault hits (for rolling-restart: the first one restarted).
    #[arg(long, default_value = "stockholm", value_parser = parse_region)]
    region: String,
    /// Length of the whole run (warm-up, fault, heal), e.g. 60s, 2m; 10s to 1h.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    duration: Duration,
    /// Seed of the client randomness (amounts, think times, which node reads).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Client processes (threads), each one customer at a time.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u64).range(1..=CLIENTS_MAX))]
    clients: u64,
    /// Where report.json, timeline.svg, summary.txt and history.json go
    /// (default: <workspace>/target/chaos/<fault>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The `svea` binary to run; default: build it, then look next to this binary.
    #[arg(long)]
    svea_bin: Option<PathBuf>,
    /// Do not run `cargo build --release -p svea-node -p simulations` first.
    #[arg(long)]
    no_build: bool,
    /// Keep the run directory (configs, certificates, data, node logs) instead of removing it.
    #[arg(long)]
    keep_dir: bool,
    /// The nodes' log filter (`log.filter`); their logs go to files in the run directory.
    #[arg(long, default_value = "warn")]
    node_log_filter: String,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    procs::parse_duration_within(text, DURATION_MIN, DURATION_MAX)
}

fn parse_region(text: &str) -> Result<String, String> {
    Cluster::index_of(text)
        .map(|_| text.to_owned())
        .map_err(|e| e.to_string())
}

/// What to run; [`run`] is the public entry point the tests use.
#[derive(Debug, Clone)]
pub struct Options {
    /// The fault.
    pub fault: Fault,
    /// The region it hits.
    pub region: String,
    /// The whole run.
    pub duration: Duration,
    /// Client randomness.
    pub seed: u64,
    /// Client processes.
    pub clients: u64,
    /// Where to write the report files, if anywhere.
    pub out: Option<PathBuf>,
    /// The `svea` binary.
    pub svea: BinarySource,
    /// Keep the run directory.
    pub keep_dir: bool,
    /// The nodes' `log.filter`.
    pub node_log_filter: String,
}

impl Options {
    /// The command line that repeats this run's workload.
    pub fn repro(&self) -> String {
        format!(
            "cargo run -p simulations --release -- chaos {} --region {} --duration {}s --seed {} --clients {}",
            self.fault.as_str(),
            self.region,
            self.duration.as_secs(),
            self.seed,
            self.clients
        )
    }

    /// (warm-up, fault, heal) lengths.
    pub fn phases(&self) -> (Duration, Duration, Duration) {
        let warmup = (self.duration / 6).clamp(WARMUP_MIN, WARMUP_MAX);
        let rest = self.duration.saturating_sub(warmup);
        (warmup, rest / 2, rest - rest / 2)
    }
}

/// Runs `chaos`, prints the summary, writes the files; fails when the checker finds anomalies.
pub fn main(args: Args) -> anyhow::Result<()> {
    let out = match args.out {
        Some(out) => out,
        None => procs::workspace_dir()?
            .join("target")
            .join("chaos")
            .join(args.fault.as_str()),
    };
    let opts = Options {
        fault: args.fault,
        region: args.region,
        duration: args.duration,
        seed: args.seed,
        clients: args.clients,
        out: Some(out.clone()),
        svea: BinarySource {
            path: args.svea_bin,
            no_build: args.no_build,
            debug: false,
        },
        keep_dir: args.keep_dir,
        node_log_filter: args.node_log_filter,
    };
    let report = run(&opts)?;
    print!("{}", report.summary());
    println!(
        "files: {}/{{report.json,timeline.svg,summary.txt,history.json}}",
        out.display()
    );
    if !report.verdict.is_valid() {
        bail!(
            "the checker found {} anomalies (see {}); repro: {}",
            report.verdict.anomalies.len(),
            out.join("report.json").display(),
            opts.repro()
        );
    }
    Ok(())
}

/// One whole chaos run: start the cluster, load, fault, heal, final reads, check. Errors are
/// failures of the harness (the cluster would not start, a file could not be written); what the
/// checker finds is in the report. With `opts.out`, writes report.json, timeline.svg,
/// summary.txt and history.json there.
pub fn run(opts: &Options) -> anyhow::Result<RunReport> {
    let target = Cluster::index_of(&opts.region)?;
    let svea = procs::svea_binary(&opts.svea, "chaos")?;
    let dir = tempfile::Builder::new()
        .prefix("svea-chaos-")
        .tempdir()
        .context("cannot create the run directory")?;
    let result = run_in(opts, target, &svea, dir.path());
    if opts.keep_dir || result.is_err() {
        let path = dir.keep();
        eprintln!(
            "chaos: kept the run directory {} (configs, data, node logs)",
            path.display()
        );
    } else if let Err(e) = dir.close() {
        eprintln!("chaos: warning: could not remove the run directory: {e}");
    }
    let (report, history) = result?;
    if let Some(out) = &opts.out {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        let write = |name: &str, text: String| {
            let path = out.join(name);
            std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
        };
        write(
            "report.json",
            serde_json::to_string_pretty(&report.to_json())?,
        )?;
        write("timeline.svg", report.svg())?;
        write("summary.txt", report.summary())?;
        write("history.json", serde_json::to_string(&history.to_json())?)?;
    }
    Ok(report)
}

fn run_in(
    opts: &Options,
    target: usize,
    svea: &Path,
    dir: &Path,
) -> anyhow::Result<(RunReport, History)> {
    let spec = ClusterSpec {
        tool: "chaos",
        proxies: true,
        routing: "serve",
        log_filter: opts.node_log_filter.clone(),
        // The layout the nodes are moving to (issue 22): a region's loss moves its group alone.
        groups: procs::GROUPS_PER_REGION.into(),
    };
    let procs::Running {
        mut cluster,
        proxies,
        ready_after,
        ..
    } = procs::start(svea, dir, &spec)?;
    let proxies = proxies.ok_or_else(|| anyhow!("chaos needs the proxies"))?;
    eprintln!(
        "chaos: 3 nodes ready after {:.1} s; {} for {:?}",
        ready_after.as_secs_f64(),
        opts.fault.as_str(),
        opts.duration
    );
    let urls = cluster.urls();
    let businesses: Vec<procs::CreatedBusiness> = (0..BUSINESSES)
        .map(|n| procs::create_business(&urls[2], &format!("Chaos Kafé {n}"), BUDGET_SEK))
        .collect::<anyhow::Result<_>>()
        .with_context(|| {
            format!(
                "creating the businesses through malmo\n{}",
                cluster.logs_tail()
            )
        })?;

    let start = Instant::now();
    let recorder = Recorder::new(
        start,
        businesses
            .iter()
            .map(|b| BusinessInfo {
                id: b.id.clone(),
                key: b.key.clone(),
                budget_ore: BUDGET_ORE,
            })
            .collect(),
    );
    let load = Arc::new(Load {
        recorder: recorder.clone(),
        urls: urls.clone(),
        businesses,
        flows: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        seed: opts.seed,
    });
    let shared = Arc::clone(&load);
    let clients = Clients::spawn(opts.clients, "chaos-client", move |p| client(&shared, p))?;

    // The fault and the heal run on this thread: it started the nodes, so restarted ones get the
    // same parent-death signal lifetime (see procs).
    let (warmup, fault_len, heal_len) = opts.phases();
    let mut marks = Vec::new();
    let faulted = inject(
        opts,
        target,
        start,
        warmup,
        fault_len,
        heal_len,
        &mut cluster,
        &proxies,
        &recorder,
        &mut marks,
    );
    load.stop.store(true, Ordering::Relaxed);
    let end_us = recorder.now_us();
    // Each client ends within one request timeout and one backoff of the stop.
    clients.join()?;
    let phases = faulted?;
    let history = recorder.snapshot();

    // Converge: every node ready, then read everything from every node.
    let mut notes = Vec::new();
    if let Err(e) = procs::wait_ready(&mut cluster, "") {
        notes.push(format!("not every node was ready after the heal: {e}"));
    }
    let finals = final_reads(&cluster, &history);
    let verdict = checker::check(&history, &finals);
    let operations = history.operations().unwrap_or_default();
    let seconds = report::per_second(&operations, end_us);
    let fault_phase = phases.iter().find(|p| p.name == "fault").cloned();
    let writes_ok_during_fault = operations
        .iter()
        .filter(|o| o.op.is_write() && o.is_ok())
        .filter(|o| {
            fault_phase
                .as_ref()
                .is_some_and(|p| (p.start_us..p.end_us).contains(&o.invoke_us))
        })
        .count() as u64;
    notes.extend(cluster.stop());
    drop(proxies);
    let report = RunReport {
        fault: opts.fault.as_str().to_owned(),
        region: opts.region.clone(),
        seed: opts.seed,
        clients: opts.clients,
        phases,
        marks,
        seconds,
        verdict,
        operations,
        writes_ok_during_fault,
        notes,
        repro: opts.repro(),
    };
    Ok((report, history))
}

// ---------- faults ----------

fn sleep_until(deadline: Instant) {
    let left = deadline.saturating_duration_since(Instant::now());
    std::thread::sleep(left);
}

/// Runs the phases; returns them with their real times.
#[allow(clippy::too_many_arguments)]
fn inject(
    opts: &Options,
    target: usize,
    start: Instant,
    warmup: Duration,
    fault_len: Duration,
    heal_len: Duration,
    cluster: &mut Cluster,
    proxies: &Proxies,
    recorder: &Recorder,
    marks: &mut Vec<Mark>,
) -> anyhow::Result<Vec<Phase>> {
    let region = NODES[target].1;
    let mut mark = |label: String| {
        eprintln!("chaos: {:>6.2} s  {label}", start.elapsed().as_secs_f64());
        marks.push(Mark {
            at_us: recorder.now_us(),
            label,
        });
    };
    sleep_until(start + warmup);
    let fault_start = recorder.now_us();
    match opts.fault {
        Fault::RegionLoss => {
            cluster.kill9(target)?;
            mark(format!("SIGKILL {region}"));
        }
        Fault::Pause => {
            cluster.pause(target)?;
            mark(format!("SIGSTOP {region}"));
        }
        Fault::Partition | Fault::OneWayPartition => {
            let one_way = opts.fault == Fault::OneWayPartition;
            partition(proxies, target, one_way, true);
            mark(format!(
                "{} {region}",
                if one_way {
                    "one-way partition: drop everything from"
                } else {
                    "partition"
                }
            ));
        }
        Fault::RollingRestart => {
            for k in 0..NODES.len() {
                let i = (target + k) % NODES.len();
                let how = cluster.terminate(i)?;
                mark(format!("SIGTERM {}: {how}", NODES[i].1));
                cluster.restart(i)?;
                mark(format!("restart {}", NODES[i].1));
                let ready_by = Instant::now() + RESTART_READY_TIMEOUT;
                while procs::probe_ready(&cluster.nodes[i].url).is_none() {
                    cluster.check_alive(" during the rolling restart")?;
                    if Instant::now() >= ready_by {
                        bail!(
                            "{} was not ready {RESTART_READY_TIMEOUT:?} after its restart\n{}",
                            NODES[i].1,
                            cluster.logs_tail()
                        );
                    }
                    std::thread::sleep(procs::POLL);
                }
                mark(format!("{} ready", NODES[i].1));
                std::thread::sleep(ROLLING_GAP);
            }
        }
    }
    // A rolling restart may outlast its share; the heal then starts when it is done.
    let heal_at = (start + warmup + fault_len).max(Instant::now());
    sleep_until(heal_at);
    let heal_start = recorder.now_us();
    let mut wait_ready = None;
    match opts.fault {
        Fault::RegionLoss => {
            cluster.restart(target)?;
            mark(format!("restart {region}"));
            wait_ready = Some(target);
        }
        Fault::Pause => {
            cluster.resume(target)?;
            mark(format!("SIGCONT {region}"));
            wait_ready = Some(target);
        }
        Fault::Partition | Fault::OneWayPartition => {
            partition(proxies, target, opts.fault == Fault::OneWayPartition, false);
            mark(format!("heal partition of {region}"));
            wait_ready = Some(target);
        }
        Fault::RollingRestart => {}
    }
    let heal_end = heal_at + heal_len;
    if let Some(i) = wait_ready {
        while Instant::now() < heal_end {
            if procs::probe_ready(&cluster.nodes[i].url).is_some() {
                mark(format!("{region} ready"));
                break;
            }
            std::thread::sleep(procs::POLL);
        }
    }
    sleep_until(heal_end);
    let end = recorder.now_us();
    let warmup_us = u64::try_from(warmup.as_micros()).unwrap_or(u64::MAX);
    Ok(vec![
        Phase {
            name: "warm-up".into(),
            start_us: 0,
            end_us: warmup_us.min(fault_start),
        },
        Phase {
            name: "fault".into(),
            start_us: fault_start,
            end_us: heal_start,
        },
        Phase {
            name: "heal".into(),
            start_us: heal_start,
            end_us: end,
        },
    ])
}

/// Switches the black holes that cut node `target` off: its outgoing datagrams always, its
/// incoming ones too unless `one_way`. Node A's datagrams to B pass B's proxy (source A, towards
/// B); B's replies on that connection pass it the other way (towards A).
pub fn partition(proxies: &Proxies, target: usize, one_way: bool, on: bool) {
    let handles = proxies.handles();
    let from_target = proxies.real[target];
    // What the target sends: replies through its own proxy, and its own datagrams through the others'.
    handles[target].set_black_hole_all(Direction::ToSource, on);
    if !one_way {
        handles[target].set_black_hole_all(Direction::ToTarget, on);
    }
    for (i, h) in handles.iter().enumerate().filter(|(i, _)| *i != target) {
        let mut directions = vec![Direction::ToTarget];
        if !one_way {
            directions.push(Direction::ToSource);
        }
        for d in directions {
            if let Err(e) = h.set_black_hole(from_target, d, on) {
                eprintln!(
                    "chaos: warning: proxy of {} does not know {}: {e}",
                    NODES[i].1, NODES[target].1
                );
            }
        }
    }
}

// ---------- clients ----------

/// Shared by the client threads.
struct Load {
    recorder: Recorder,
    urls: Vec<String>,
    /// The businesses: id, QR token, API key.
    businesses: Vec<procs::CreatedBusiness>,
    flows: AtomicU64,
    stop: AtomicBool,
    seed: u64,
}

/// One client process: customer flows until the stop.
fn client(load: &Load, process: u64) {
    let mut rng = customers::client_rng(load.seed, process);
    let mut c = Client {
        load,
        writer: procs::agent_with_timeout(CLIENT_WRITE_TIMEOUT),
        reader: procs::agent_with_timeout(CLIENT_READ_TIMEOUT),
        process,
        node: process as usize % load.urls.len(),
    };
    while !load.stop.load(Ordering::Relaxed) {
        let flow = load.flows.fetch_add(1, Ordering::Relaxed);
        let procs::CreatedBusiness { id: business, token, key } = &load.businesses[(flow % load.businesses.len() as u64) as usize];
        // A new phone each flow, named in the history only: it sends no device token, so svea
        // issues one (not kept). A retried open may therefore open another session; the checker
        // bounds sessions by the opens whose outcome is unknown, which covers it.
        let device = format!("chaos-phone-{flow}");
        let open = Op::Open {
            business: business.clone(),
            device,
        };
        let Some(OkValue::Session(s)) = c.step(
            open,
            "/v1/sessions".into(),
            json!({"qr_token": token}),
        ) else {
            continue;
        };
        let sid = s.id;
        think(&mut rng);
        let amount_ore = rng.gen_range(PURCHASE_ORE);
        let transaction_id = format!("T-{}-{flow}", load.seed);
        let body = customers::purchase_body(amount_ore, &transaction_id);
        let purchase = Op::Purchase {
            session: sid.clone(),
            amount_ore,
            transaction_id,
        };
        if c.step(purchase, format!("/v1/sessions/{sid}/purchase"), body)
            .is_none()
        {
            continue;
        }
        c.read_session(&sid, &mut rng);
        think(&mut rng);
        let feedback = Op::Feedback {
            session: sid.clone(),
        };
        if c.step(
            feedback,
            format!("/v1/sessions/{sid}/feedback"),
            // Of reward-tier quality (the scorer and tiers are not under test here), and the
            // customer's own text: a business pays a text once.
            json!({"text": customers::rewarded_review(&mut rng)}),
        )
        .is_none()
        {
            continue;
        }
        c.read_session(&sid, &mut rng);
        if flow % ANALYTICS_EVERY == 0 {
            c.read_analytics(business, key, &mut rng);
        }
        think(&mut rng);
    }
}

fn think(rng: &mut StdRng) {
    std::thread::sleep(Duration::from_millis(rng.gen_range(THINK_MS)));
}

struct Client<'a> {
    load: &'a Load,
    /// For writes ([`CLIENT_WRITE_TIMEOUT`]).
    writer: ureq::Agent,
    /// For reads ([`CLIENT_READ_TIMEOUT`]).
    reader: ureq::Agent,
    process: u64,
    /// The node this phone talks to; the next one after any failure.
    node: usize,
}

/// How an answer is recorded.
enum Verdict {
    Ok(OkValue),
    Fail(String),
    Info(String),
}

impl Client<'_> {
    /// Sends one write until acknowledged (same data every time), rotating nodes with backoff;
    /// `None` when it gave up (the stop, a definite refusal, or too many attempts).
    fn step(&mut self, op: Op, path: String, body: Value) -> Option<OkValue> {
        let mut backoff = BACKOFF_FIRST;
        for _ in 0..STEP_ATTEMPTS_MAX {
            if self.load.stop.load(Ordering::Relaxed) {
                return None;
            }
            let node = self.node;
            let (verdict, retry) = self.once(&op, node, "POST", &path, Some(&body), None);
            match verdict {
                Verdict::Ok(v) => return Some(v),
                Verdict::Fail(_) | Verdict::Info(_) if retry => {}
                Verdict::Fail(_) | Verdict::Info(_) => return None,
            }
            self.node = (node + 1) % self.load.urls.len();
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
        None
    }

    fn read_session(&mut self, sid: &str, rng: &mut StdRng) {
        let node = rng.gen_range(0..self.load.urls.len());
        let op = Op::ReadSession {
            session: sid.to_owned(),
        };
        let _ = self.once(&op, node, "GET", &format!("/v1/sessions/{sid}"), None, None);
    }

    fn read_analytics(&mut self, business: &str, key: &str, rng: &mut StdRng) {
        let node = rng.gen_range(0..self.load.urls.len());
        let op = Op::ReadAnalytics {
            business: business.to_owned(),
        };
        let _ = self.once(
            &op,
            node,
            "GET",
            &format!("/v1/businesses/{business}/analytics"),
            None,
            Some(key),
        );
    }

    /// One attempt, recorded; the verdict and whether another attempt could help.
    /// `bearer`: a business's API key, for its endpoints.
    fn once(
        &self,
        op: &Op,
        node: usize,
        method: &str,
        path: &str,
        body: Option<&Value>,
        bearer: Option<&str>,
    ) -> (Verdict, bool) {
        let pending = self
            .load
            .recorder
            .invoke(self.process, op.clone(), NODES[node].1);
        let url = format!("{}{path}", self.load.urls[node]);
        let agent = if op.is_write() {
            &self.writer
        } else {
            &self.reader
        };
        let (verdict, retry) = classify(op, procs::send_as(agent, method, &url, body, bearer));
        match &verdict {
            Verdict::Ok(v) => pending.ok(v.clone()),
            Verdict::Fail(why) => pending.fail(why.clone()),
            Verdict::Info(why) => pending.info(why.clone()),
        }
        (verdict, retry)
    }
}

/// What an answer proves, and whether retrying (elsewhere) could help.
fn classify(op: &Op, answer: Result<procs::Reply, procs::TransportError>) -> (Verdict, bool) {
    let reply = match answer {
        Err(e) if e.not_sent => return (Verdict::Fail(e.message), true),
        Err(e) => return (Verdict::Info(e.message), true),
        Ok(r) => r,
    };
    let problem = || {
        format!(
            "{} {}",
            reply.status,
            reply.body["type"].as_str().unwrap_or("(no problem type)")
        )
    };
    match reply.status {
        200..=299 => {
            let value = match op {
                Op::ReadAnalytics { .. } => analytics_view(&reply.body).map(OkValue::Analytics),
                _ => session_view(&reply.body).map(OkValue::Session),
            };
            match value {
                Some(v) => (Verdict::Ok(v), false),
                // The node acknowledged something we cannot read: it may have happened.
                None => (
                    Verdict::Info(format!(
                        "{} with an unreadable body: {}",
                        reply.status, reply.body
                    )),
                    true,
                ),
            }
        }
        404 if matches!(op, Op::ReadSession { .. }) => (Verdict::Ok(OkValue::NotFound), false),
        // 503 (no quorum, busy, fenced) and other 5xx: the write may have been committed.
        500..=599 => (Verdict::Info(problem()), true),
        _ => (Verdict::Fail(problem()), false),
    }
}

/// `"249.00"` -> 24900 öre.
pub fn parse_ore(text: &str) -> Option<i64> {
    let (whole, frac) = text.split_once('.')?;
    if whole.is_empty()
        || frac.len() != 2
        || !whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(frac.parse::<i64>().ok()?)
}

/// A session answer (`GET /v1/sessions/{id}` and every session step) as a [`SessionView`].
pub fn session_view(v: &Value) -> Option<SessionView> {
    let purchase = &v["purchase"];
    let (amount_ore, transaction_id) = if purchase.is_null() {
        (None, None)
    } else {
        (
            Some(parse_ore(purchase["amount_sek"].as_str()?)?),
            Some(purchase["transaction_id"].as_str()?.to_owned()),
        )
    };
    let reward_ore = match &v["reward_sek"] {
        Value::Null => None,
        r => Some(parse_ore(r.as_str()?)?),
    };
    Some(SessionView {
        id: v["id"].as_str()?.to_owned(),
        business: v["business_id"].as_str()?.to_owned(),
        state: SessionState::parse(v["state"].as_str()?)?,
        amount_ore,
        transaction_id,
        reward_ore,
    })
}

/// An analytics answer as an [`AnalyticsView`].
pub fn analytics_view(v: &Value) -> Option<AnalyticsView> {
    let s = &v["sessions"];
    Some(AnalyticsView {
        opened: s["opened"].as_u64()?,
        completed: s["completed"].as_u64()?,
        rejected: s["rejected"].as_u64()?,
        expired: s["expired"].as_u64()?,
        paid_ore: parse_ore(v["rewards_paid_sek"].as_str()?)?,
        remaining_ore: parse_ore(v["remaining_budget_sek"].as_str()?)?,
    })
}

// ---------- final reads ----------

/// Every known session and every business, read from every node (one thread per node), each read
/// retried on 5xx and transport errors for up to [`FINAL_READ_PATIENCE`].
fn final_reads(cluster: &Cluster, history: &History) -> FinalReads {
    let sessions: Vec<String> = checker::known_sessions(history).into_iter().collect();
    let businesses: Vec<(String, String)> = history.businesses.iter().map(|b| (b.id.clone(), b.key.clone())).collect();
    let nodes = std::thread::scope(|scope| {
        let handles: Vec<_> = cluster
            .nodes
            .iter()
            .map(|n| {
                let (sessions, businesses) = (&sessions, &businesses);
                scope.spawn(move || {
                    let agent = procs::agent_with_timeout(FINAL_READ_TIMEOUT);
                    let mut out = NodeFinal {
                        node: n.region.to_owned(),
                        ..NodeFinal::default()
                    };
                    for s in sessions {
                        let read = final_read(
                            &agent,
                            &format!("{}/v1/sessions/{s}", n.url),
                            None,
                            session_view,
                        );
                        out.sessions.insert(s.clone(), read);
                    }
                    for (b, key) in businesses {
                        let read = final_read(
                            &agent,
                            &format!("{}/v1/businesses/{b}/analytics", n.url),
                            Some(key),
                            analytics_view,
                        );
                        out.analytics.insert(b.clone(), read);
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(&cluster.nodes)
            .map(|(h, n)| {
                h.join().unwrap_or_else(|_| NodeFinal {
                    node: n.region.to_owned(),
                    ..NodeFinal::default()
                })
            })
            .collect()
    });
    FinalReads { nodes }
}

fn final_read<T>(
    agent: &ureq::Agent,
    url: &str,
    bearer: Option<&str>,
    parse: fn(&Value) -> Option<T>,
) -> FinalRead<T> {
    let deadline = Instant::now() + FINAL_READ_PATIENCE;
    loop {
        let why = match procs::send_as(agent, "GET", url, None, bearer) {
            Ok(r) if r.status == 200 => match parse(&r.body) {
                Some(v) => return FinalRead::Found(v),
                None => return FinalRead::Failed(format!("unreadable answer: {}", r.body)),
            },
            Ok(r) if r.status == 404 => return FinalRead::NotFound,
            Ok(r) if r.status < 500 => {
                return FinalRead::Failed(format!("answered {}: {}", r.status, r.body))
            }
            Ok(r) => format!("answered {}: {}", r.status, r.body),
            Err(e) => e.message,
        };
        if Instant::now() >= deadline {
            return FinalRead::Failed(format!("{why} (still after {FINAL_READ_PATIENCE:?})"));
        }
        std::thread::sleep(procs::POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_parses_to_ore_and_refuses_nonsense() {
        assert_eq!(parse_ore("249.00"), Some(24_900));
        assert_eq!(parse_ore("0.05"), Some(5));
        for bad in ["", "249", "249.0", "-1.00", "1.000", "a.bc", ".50"] {
            assert_eq!(parse_ore(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn session_answers_parse_into_views() {
        let v = json!({
            "id": "s_1", "business_id": "b_1", "state": "rewarded",
            "purchase": {"amount_sek": "249.00", "purchased_at": "2025-01-01T12:00:00Z", "transaction_id": "T-1"},
            "reward_sek": "19.92", "quality_score": 80,
        });
        let s = session_view(&v).expect("a session");
        assert_eq!(
            (s.state, s.amount_ore, s.reward_ore),
            (SessionState::Rewarded, Some(24_900), Some(1_992))
        );
        assert_eq!(s.transaction_id.as_deref(), Some("T-1"));
        let opened = json!({"id": "s_1", "business_id": "b_1", "state": "opened", "purchase": null, "reward_sek": null});
        assert_eq!(session_view(&opened).map(|s| s.amount_ore), Some(None));
        assert!(session_view(&json!({"id": "s_1", "state": "opened"})).is_none());
    }

    #[test]
    fn answers_are_classified_by_what_they_prove() {
        let op = Op::Feedback {
            session: "s_1".into(),
        };
        let reply = |status: u16| {
            Ok(procs::Reply {
                status,
                location: None,
                body: json!({"type": "urn:svea:problem:x"}),
            })
        };
        assert!(matches!(
            classify(&op, reply(503)),
            (Verdict::Info(_), true)
        ));
        assert!(matches!(
            classify(&op, reply(409)),
            (Verdict::Fail(_), false)
        ));
        assert!(matches!(
            classify(&op, reply(404)),
            (Verdict::Fail(_), false)
        ));
        let refused = Err(procs::TransportError {
            not_sent: true,
            message: "refused".into(),
        });
        assert!(matches!(classify(&op, refused), (Verdict::Fail(_), true)));
        let reset = Err(procs::TransportError {
            not_sent: false,
            message: "reset".into(),
        });
        assert!(matches!(classify(&op, reset), (Verdict::Info(_), true)));
        let read = Op::ReadSession {
            session: "s_1".into(),
        };
        assert!(matches!(
            classify(&read, reply(404)),
            (Verdict::Ok(OkValue::NotFound), false)
        ));
    }

    #[test]
    fn phases_split_the_run() {
        let opts = |secs| Options {
            fault: Fault::RegionLoss,
            region: "stockholm".into(),
            duration: Duration::from_secs(secs),
            seed: 1,
            clients: 1,
            out: None,
            svea: BinarySource::default(),
            keep_dir: false,
            node_log_filter: "warn".into(),
        };
        let (w, f, h) = opts(60).phases();
        assert_eq!(
            (w, f, h),
            (
                Duration::from_secs(10),
                Duration::from_secs(25),
                Duration::from_secs(25)
            )
        );
        let (w, f, h) = opts(10).phases();
        assert_eq!(w + f + h, Duration::from_secs(10));
        assert_eq!(w, WARMUP_MIN);
    }
}
