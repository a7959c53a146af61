//! A steady customer load for failover and operator tests: threads run whole flows (open,
//! purchase, feedback) against a changeable set of node URLs and record every acknowledged step,
//! so a test can check afterwards that nothing acknowledged was lost.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{now_rfc3339, GOOD_FEEDBACK};

/// How long one step may keep retrying (503 with Retry-After, a node that is gone) before the
/// test counts it as failed.
pub const STEP_DEADLINE: Duration = Duration::from_secs(30);

/// One acknowledged step.
#[derive(Debug, Clone)]
pub struct Ack {
    /// When the request that was acknowledged was sent.
    pub sent: Instant,
    pub at: Instant,
    pub session: String,
    /// `opened`, `purchase_confirmed` or `rewarded`.
    pub state: String,
    pub reward_sek: Option<String>,
}

/// What the load saw.
#[derive(Debug, Default)]
pub struct LoadLog {
    pub acks: Vec<Ack>,
    /// Answers that were neither success nor "unavailable, retry" (each one a failed request).
    pub failures: Vec<String>,
    /// 503 answers retried.
    pub retried_503: u64,
    /// Requests that reached no node (connection refused or reset) and were retried elsewhere.
    pub retried_unreachable: u64,
}

impl LoadLog {
    /// The last acknowledged state of every session.
    pub fn last_states(&self) -> std::collections::BTreeMap<String, Ack> {
        let mut m = std::collections::BTreeMap::new();
        for a in &self.acks {
            m.insert(a.session.clone(), a.clone());
        }
        m
    }

    /// The first acknowledgement of a request sent at or after `t` (a request in flight at
    /// `t` may have been committed before it).
    pub fn first_ack_sent_after(&self, t: Instant) -> Option<Instant> {
        self.acks.iter().filter(|a| a.sent >= t).map(|a| a.at).min()
    }
}

/// Running load threads.
pub struct Load {
    stop: Arc<AtomicBool>,
    urls: Arc<Mutex<Vec<String>>>,
    threads: Vec<JoinHandle<LoadLog>>,
    pub flows: Arc<AtomicU64>,
}

fn order(state: &str) -> u8 {
    match state {
        "opened" => 1,
        "purchase_confirmed" => 2,
        "rewarded" => 3,
        _ => 0,
    }
}

/// Whether `seen` is the acknowledged state or later in the flow.
pub fn at_least(seen: &str, acked: &str) -> bool {
    order(seen) >= order(acked) && order(acked) > 0
}

impl Load {
    /// Starts `threads` customers for the business with `qr_token`, spreading requests over `urls`.
    pub fn start(urls: Vec<String>, qr_token: &str, threads: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let urls = Arc::new(Mutex::new(urls));
        let flows = Arc::new(AtomicU64::new(0));
        let threads = (0..threads)
            .map(|t| {
                let (stop, urls, flows, token) = (stop.clone(), urls.clone(), flows.clone(), qr_token.to_string());
                std::thread::spawn(move || customer(t, &stop, &urls, &flows, &token))
            })
            .collect();
        Load { stop, urls, threads, flows }
    }

    /// Changes where new requests go.
    pub fn set_urls(&self, urls: Vec<String>) {
        *self.urls.lock().expect("urls") = urls;
    }

    /// Stops after the flows under way and returns everything seen.
    pub fn stop(self) -> LoadLog {
        self.stop.store(true, Ordering::SeqCst);
        let mut all = LoadLog::default();
        for t in self.threads {
            let log = t.join().expect("load thread");
            all.acks.extend(log.acks);
            all.failures.extend(log.failures);
            all.retried_503 += log.retried_503;
            all.retried_unreachable += log.retried_unreachable;
        }
        all.acks.sort_by_key(|a| a.at);
        all
    }
}

fn customer(thread: usize, stop: &AtomicBool, urls: &Mutex<Vec<String>>, flows: &AtomicU64, token: &str) -> LoadLog {
    let mut log = LoadLog::default();
    let agent = ureq::AgentBuilder::new().redirects(0).timeout(Duration::from_secs(10)).build();
    let mut n = 0u64;
    let mut pick = thread;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        // A new device each flow: no token, so svea issues one (the load does not keep it).
        let open = step(&agent, urls, &mut pick, &mut log, "/v1/sessions", json!({"qr_token": token}));
        let Some(s) = open else { continue };
        let sid = s["id"].as_str().unwrap_or_default().to_string();
        let p = json!({"amount_sek": "120.00", "purchased_at": now_rfc3339(), "transaction_id": format!("L-{thread}-{n}")});
        if step(&agent, urls, &mut pick, &mut log, &format!("/v1/sessions/{sid}/purchase"), p).is_none() {
            continue;
        }
        if step(&agent, urls, &mut pick, &mut log, &format!("/v1/sessions/{sid}/feedback"), json!({"text": GOOD_FEEDBACK})).is_some() {
            flows.fetch_add(1, Ordering::Relaxed);
        }
    }
    log
}

/// One step, retried on 503 and on nodes that are gone (each retry on the next URL), at most
/// [`STEP_DEADLINE`]. Every step is idempotent on the server, so retrying is what a real client
/// does.
fn step(agent: &ureq::Agent, urls: &Mutex<Vec<String>>, pick: &mut usize, log: &mut LoadLog, path: &str, body: Value) -> Option<Value> {
    let deadline = Instant::now() + STEP_DEADLINE;
    loop {
        let url = {
            let u = urls.lock().expect("urls");
            if u.is_empty() {
                return None;
            }
            u[*pick % u.len()].clone()
        };
        let sent = Instant::now();
        let result = agent.post(&format!("{url}{path}")).send_json(body.clone());
        match result {
            Ok(r) => {
                let v: Value = r.into_json().unwrap_or(Value::Null);
                if let Some(state) = v["state"].as_str() {
                    log.acks.push(Ack {
                        sent,
                        at: Instant::now(),
                        session: v["id"].as_str().unwrap_or_default().to_string(),
                        state: state.to_string(),
                        reward_sek: v["reward_sek"].as_str().map(str::to_string),
                    });
                }
                return Some(v);
            }
            Err(ureq::Error::Status(503, _)) => log.retried_503 += 1,
            Err(ureq::Error::Status(code, r)) => {
                log.failures.push(format!("{path} at {url}: {code} {}", r.into_string().unwrap_or_default()));
                return None;
            }
            Err(e) => {
                log.retried_unreachable += 1;
                *pick += 1;
                if Instant::now() > deadline {
                    log.failures.push(format!("{path} at {url}: {e}"));
                    return None;
                }
            }
        }
        if Instant::now() > deadline {
            log.failures.push(format!("{path}: still unavailable after {STEP_DEADLINE:?}"));
            return None;
        }
        // A client's pause before its retry (a phone honouring Retry-After): part of the load
        // this test generates, not a wait for a condition of the test.
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Checks every acknowledged step against what `get` (a node's GET of a session) returns now:
/// the session is there, at the acknowledged state or later, with the acknowledged reward.
pub fn assert_nothing_lost(log: &LoadLog, get: impl Fn(&str) -> (u16, Value)) {
    let last = log.last_states();
    assert!(!last.is_empty(), "the load acknowledged nothing");
    for (sid, ack) in &last {
        let (status, body) = get(sid);
        assert_eq!(status, 200, "acknowledged session {sid} is gone: {body}");
        let seen = body["state"].as_str().unwrap_or_default();
        assert!(at_least(seen, &ack.state), "session {sid}: acknowledged {} but now {seen}", ack.state);
        if let Some(r) = &ack.reward_sek {
            assert_eq!(body["reward_sek"].as_str(), Some(r.as_str()), "session {sid}: acknowledged reward changed");
        }
    }
}
