//! `failover --kills N`: how long writes pause when the Raft leader's region dies under load.
//!
//! Each kill gets a fresh three-region cluster (three `svea run` processes on 127.0.0.1, see
//! [`procs`]) and a business created through the leader, at its region's centre, so the
//! business actor must be taken over as well. `--clients` customer threads run whole flows (open,
//! purchase, feedback) through the two other regions only, retrying a 503 or an unreachable node
//! every [`RETRY_PAUSE`] through the next survivor, as a phone honouring `Retry-After` would. Once
//! [`FLOWS_BEFORE`] flows are complete, the leader's process gets SIGKILL.
//!
//! The failover time is from the kill to the first acknowledgement of a write that was *sent* at
//! or after the kill: a request already in flight may have been committed before it. The load
//! runs until [`FLOWS_AFTER`] more flows are complete; then every acknowledged session is read
//! back through a survivor (at its acknowledged state or later, with its acknowledged reward) and
//! the business's analytics must count each acknowledged reward once. The tool prints every time,
//! the median and the worst, and fails if a kill lost an acknowledged write or a request failed.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use rand::Rng;
use serde_json::{json, Value};

use crate::customers::{self, Clients, BUDGET_SEK, PURCHASE_ORE};
use crate::latency::Latencies;
use crate::poll::poll_until;
use crate::procs::{self, BinarySource, Cluster, ClusterSpec, NODES};

/// Most kills one run may measure (each starts a cluster: about ten seconds).
const KILLS_MAX: u64 = 100;
/// Most customer threads.
const CLIENTS_MAX: u64 = 32;
/// Region centres in [`NODES`] order: where the business is, when its region leads.
const REGION_CENTRES: [(f64, f64); 3] = [(59.33, 18.06), (57.71, 11.97), (55.60, 13.00)];
/// Flows completed before the kill, so the cluster is warm.
pub const FLOWS_BEFORE: u64 = 5;
/// Flows completed after the kill before the load stops.
pub const FLOWS_AFTER: u64 = 10;
/// How long the load may take to complete [`FLOWS_BEFORE`] or [`FLOWS_AFTER`] flows.
const FLOWS_WITHIN: Duration = Duration::from_secs(60);
/// How long one step may keep retrying before it counts as failed.
const STEP_DEADLINE: Duration = Duration::from_secs(30);
/// A client's pause before it retries a step answered 503 or not answered.
pub const RETRY_PAUSE: Duration = Duration::from_millis(50);
/// A client gives up on one request after this long (then retries through the next survivor).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const _: () = assert!(RETRY_PAUSE.as_millis() * 10 < STEP_DEADLINE.as_millis());

/// Options of `failover`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Region kills to measure, each on a fresh cluster.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=KILLS_MAX))]
    kills: u64,
    /// Customer threads putting load on the survivors.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=CLIENTS_MAX))]
    clients: u64,
    /// Seed for purchase amounts and review choice (the workload, not the timings).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The `svea` binary to run; default: build it, then look next to this binary.
    #[arg(long)]
    svea_bin: Option<std::path::PathBuf>,
    /// Do not run `cargo build --release -p svea-node -p simulations` first.
    #[arg(long)]
    no_build: bool,
    /// The nodes' log filter (`log.filter`); their logs go to files in each run directory.
    #[arg(long, default_value = "warn")]
    node_log_filter: String,
    /// The nodes' `cluster.groups`: a Raft group per region (a kill moves only the dead
    /// region's group), or one group for the whole cluster.
    #[arg(long, default_value = procs::GROUPS_PER_REGION, value_parser = [procs::GROUPS_PER_REGION, procs::GROUPS_ONE])]
    groups: String,
}

/// What one kill came to.
#[derive(Debug)]
pub struct Kill {
    /// The region whose node led and was killed.
    pub region: &'static str,
    /// From the SIGKILL to the first acknowledged write sent after it.
    pub failover: Duration,
    /// Steps acknowledged in all.
    pub acks: usize,
    /// Attempts answered 503 or not answered, and retried.
    pub retried: u64,
    /// Failed requests, lost acknowledgements, miscounted rewards; empty when all is well.
    pub problems: Vec<String>,
}

/// Measures `--kills` region losses and prints them; fails when a kill lost something.
pub fn main(args: Args) -> anyhow::Result<()> {
    let source = BinarySource {
        path: args.svea_bin.clone(),
        no_build: args.no_build,
        debug: false,
    };
    let svea = procs::svea_binary(&source, "failover")?;
    let mut times = Latencies::default();
    let mut troubled = 0;
    for k in 1..=args.kills {
        let dir = tempfile::Builder::new()
            .prefix("svea-failover-")
            .tempdir()
            .context("cannot create the run directory")?;
        let kill = measure(&args, &svea, dir.path(), args.seed.wrapping_add(k))
            .with_context(|| format!("kill {k} (run directory {})", dir.path().display()));
        let kill = match kill {
            Ok(kill) => kill,
            Err(e) => {
                // Keep the node logs of a run that could not be measured.
                let kept = dir.keep();
                return Err(e.context(format!("kept {}", kept.display())));
            }
        };
        println!(
            "kill {k}/{}: leader {} killed under load; first acknowledged write through a survivor \
             {} ms after SIGKILL ({} steps acknowledged, {} attempts retried)",
            args.kills,
            kill.region,
            kill.failover.as_millis(),
            kill.acks,
            kill.retried
        );
        for p in &kill.problems {
            println!("  problem: {p}");
        }
        troubled += usize::from(!kill.problems.is_empty());
        times.record(kill.failover);
    }
    let s = times.summary();
    println!(
        "failover under load over {} kills: median {} ms, worst {} ms",
        s.count,
        s.p50.as_millis(),
        s.max.as_millis()
    );
    if troubled > 0 {
        bail!("{troubled} of {} kills lost an acknowledged write or failed a request", args.kills);
    }
    Ok(())
}

/// One kill on a fresh cluster in `dir`.
fn measure(args: &Args, svea: &Path, dir: &Path, seed: u64) -> anyhow::Result<Kill> {
    let spec = ClusterSpec {
        tool: "failover",
        proxies: false,
        routing: "serve",
        log_filter: args.node_log_filter.clone(),
        groups: args.groups.clone(),
    };
    let procs::Running {
        mut cluster, ready, ..
    } = procs::start(svea, dir, &spec)?;
    let leader_id = ready
        .iter()
        .find_map(|r| r["leader"].as_u64())
        .ok_or_else(|| anyhow!("no node reports a leader: {ready:?}"))?;
    let leader = NODES
        .iter()
        .position(|(id, _)| *id == leader_id)
        .ok_or_else(|| anyhow!("leader {leader_id} is not one of the nodes"))?;
    let urls = cluster.urls();
    let procs::CreatedBusiness { id: business, token, key } = procs::create_business_at(
        &urls[leader],
        "Failover Kafé",
        BUDGET_SEK,
        REGION_CENTRES[leader],
    )
    .with_context(|| format!("creating the business\n{}", cluster.logs_tail()))?;
    let survivors: Vec<String> = (0..NODES.len())
        .filter(|i| *i != leader)
        .map(|i| urls[i].clone())
        .collect();

    let load = Arc::new(Load {
        urls: survivors,
        token,
        seed,
        stop: AtomicBool::new(false),
        flows: AtomicU64::new(0),
    });
    let shared = Arc::clone(&load);
    let clients = Clients::spawn(args.clients, "failover-client", move |t| customer(&shared, t))?;
    let killed = kill_under_load(&load, &mut cluster, leader);
    load.stop.store(true, Ordering::Relaxed);
    // Each client ends within one step deadline of the stop.
    let seen = clients.join()?.into_iter().fold(Seen::default(), Seen::merge);
    let killed = killed?;

    let first = seen
        .acks
        .iter()
        .filter(|a| a.sent >= killed)
        .map(|a| a.at)
        .min()
        .ok_or_else(|| anyhow!("no write acknowledged after the kill"))?;
    let mut problems = seen.failures.clone();
    problems.extend(lost(&seen, &load.urls[0], &business, &key));
    cluster.stop();
    Ok(Kill {
        region: NODES[leader].1,
        failover: first - killed,
        acks: seen.acks.len(),
        retried: seen.retried,
        problems,
    })
}

/// Waits for [`FLOWS_BEFORE`] flows, kills node `leader`, waits for [`FLOWS_AFTER`] more; returns
/// when the kill happened.
fn kill_under_load(load: &Load, cluster: &mut Cluster, leader: usize) -> anyhow::Result<Instant> {
    load.wait_for_flows(FLOWS_BEFORE, "before the kill")?;
    cluster.kill9(leader)?;
    let killed = Instant::now();
    let at_kill = load.flows.load(Ordering::Relaxed);
    load.wait_for_flows(at_kill + FLOWS_AFTER, "after the kill")?;
    Ok(killed)
}

/// What the acknowledged steps say should be there now, checked through the survivor at `url`:
/// every session at its acknowledged state or later with its acknowledged reward, and each
/// acknowledged reward counted once in the business's analytics.
fn lost(seen: &Seen, url: &str, business: &str, key: &str) -> Vec<String> {
    let agent = procs::agent();
    let get = |path: &str| procs::send(&agent, "GET", &format!("{url}{path}"), None);
    let mut last = std::collections::BTreeMap::new();
    for a in &seen.acks {
        last.insert(a.session.as_str(), a);
    }
    let mut problems = Vec::new();
    for (sid, ack) in &last {
        match get(&format!("/v1/sessions/{sid}")) {
            Ok(r) if r.status == 200 => {
                let now = r.body["state"].as_str().unwrap_or_default();
                if flow_order(now) < flow_order(&ack.state) {
                    problems.push(format!("session {sid}: acknowledged {} but now {now}", ack.state));
                }
                if ack.reward.is_some() && r.body["reward_sek"].as_str() != ack.reward.as_deref() {
                    problems.push(format!("session {sid}: acknowledged reward {:?} changed: {}", ack.reward, r.body));
                }
            }
            Ok(r) => problems.push(format!("acknowledged session {sid} is gone: {} {}", r.status, r.body)),
            Err(e) => problems.push(format!("session {sid} could not be read: {}", e.message)),
        }
    }
    let rewarded = last.values().filter(|a| a.state == "rewarded").count() as u64;
    match procs::send_as(&agent, "GET", &format!("{url}/v1/businesses/{business}/analytics"), None, Some(key)) {
        Ok(r) if r.body["sessions"]["completed"].as_u64() == Some(rewarded) => {}
        Ok(r) => problems.push(format!("{rewarded} rewards acknowledged, analytics say {} {}", r.status, r.body)),
        Err(e) => problems.push(format!("analytics could not be read: {}", e.message)),
    }
    problems
}

/// Where a session state stands in a flow; 0 for anything else.
fn flow_order(state: &str) -> u8 {
    match state {
        "opened" => 1,
        "purchase_confirmed" => 2,
        "rewarded" | "rejected" => 3,
        _ => 0,
    }
}

/// Shared by the customer threads.
struct Load {
    /// The survivors.
    urls: Vec<String>,
    token: String,
    seed: u64,
    stop: AtomicBool,
    /// Flows completed.
    flows: AtomicU64,
}

impl Load {
    /// Waits until `n` flows are complete, within [`FLOWS_WITHIN`].
    fn wait_for_flows(&self, n: u64, when: &str) -> anyhow::Result<()> {
        poll_until(FLOWS_WITHIN, || {
            let done = self.flows.load(Ordering::Relaxed);
            if done >= n {
                Ok(())
            } else {
                Err(format!("{done} of {n} flows complete"))
            }
        })
        .map_err(|t| anyhow!("{when}: {} after {:?}", t.last, t.waited))
    }
}

/// One acknowledged step.
#[derive(Debug)]
struct Ack {
    /// When the acknowledged request was sent.
    sent: Instant,
    /// When its acknowledgement arrived.
    at: Instant,
    session: String,
    /// `opened`, `purchase_confirmed`, `rewarded` or `rejected`.
    state: String,
    reward: Option<String>,
}

/// What one customer thread saw.
#[derive(Debug, Default)]
struct Seen {
    acks: Vec<Ack>,
    /// Requests that failed for good.
    failures: Vec<String>,
    retried: u64,
}

impl Seen {
    fn merge(mut self, other: Seen) -> Seen {
        self.acks.extend(other.acks);
        self.failures.extend(other.failures);
        self.retried += other.retried;
        self
    }
}

/// One customer after another until the stop.
fn customer(load: &Load, thread: u64) -> Seen {
    let agent = procs::agent_with_timeout(REQUEST_TIMEOUT);
    let mut rng = customers::client_rng(load.seed, thread);
    let mut seen = Seen::default();
    let mut node = thread as usize;
    let mut flow = 0u64;
    while !load.stop.load(Ordering::Relaxed) {
        flow += 1;
        // A new phone each flow: svea issues its device token (not kept).
        let open = json!({"qr_token": load.token});
        let Some(session) = step(&agent, load, &mut node, &mut seen, "/v1/sessions", open) else {
            continue;
        };
        let Some(sid) = session["id"].as_str() else {
            seen.failures.push(format!("session answer without id: {session}"));
            continue;
        };
        let purchase = customers::purchase_body(rng.gen_range(PURCHASE_ORE), &format!("F-{thread}-{flow}"));
        let path = format!("/v1/sessions/{sid}/purchase");
        if step(&agent, load, &mut node, &mut seen, &path, purchase).is_none() {
            continue;
        }
        let feedback = json!({"text": customers::review(&mut rng)});
        let path = format!("/v1/sessions/{sid}/feedback");
        if step(&agent, load, &mut node, &mut seen, &path, feedback).is_some() {
            load.flows.fetch_add(1, Ordering::Relaxed);
        }
    }
    seen
}

/// One step, retried on 503 and on a node that does not answer (each retry through the next
/// survivor) for at most [`STEP_DEADLINE`]; every step is idempotent on the server. The answer
/// when acknowledged.
fn step(
    agent: &ureq::Agent,
    load: &Load,
    node: &mut usize,
    seen: &mut Seen,
    path: &str,
    body: Value,
) -> Option<Value> {
    let deadline = Instant::now() + STEP_DEADLINE;
    loop {
        let url = &load.urls[*node % load.urls.len()];
        let sent = Instant::now();
        match procs::send(agent, "POST", &format!("{url}{path}"), Some(&body)) {
            Ok(r) if (200..300).contains(&r.status) => {
                if let Some(state) = r.body["state"].as_str() {
                    seen.acks.push(Ack {
                        sent,
                        at: Instant::now(),
                        session: r.body["id"].as_str().unwrap_or_default().to_owned(),
                        state: state.to_owned(),
                        reward: r.body["reward_sek"].as_str().map(str::to_owned),
                    });
                }
                return Some(r.body);
            }
            Ok(r) if r.status == 503 => seen.retried += 1,
            Ok(r) => {
                seen.failures.push(format!("{path} at {url}: {} {}", r.status, r.body));
                return None;
            }
            Err(_) => {
                seen.retried += 1;
                *node += 1;
            }
        }
        if Instant::now() >= deadline || load.stop.load(Ordering::Relaxed) {
            if !load.stop.load(Ordering::Relaxed) {
                seen.failures.push(format!("{path}: not acknowledged within {STEP_DEADLINE:?}"));
            }
            return None;
        }
        std::thread::sleep(RETRY_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_ordered_along_the_flow() {
        assert!(flow_order("opened") < flow_order("purchase_confirmed"));
        assert!(flow_order("purchase_confirmed") < flow_order("rewarded"));
        assert_eq!(flow_order("rewarded"), flow_order("rejected"));
        assert_eq!(flow_order("expired"), 0);
    }
}
