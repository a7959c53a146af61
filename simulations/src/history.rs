//! Jepsen-style histories of what clients asked svea and what they heard back.
//!
//! A client *process* does one operation at a time. Each operation is two events: `invoke` when
//! the request is about to be sent, then exactly one completion: `ok` (the node acknowledged it),
//! `fail` (it certainly did not happen: a 4xx answer, or the connection was refused before
//! anything was sent) or `info` (unknown outcome: a timeout, a reset after sending, a 5xx). An
//! invocation without a completion at the end of the run counts as `info`.
//!
//! Timestamps are microseconds on one monotonic clock (an [`Instant`] taken when the run starts),
//! read under the recorder's lock, so event order and time order agree across threads.
//!
//! Values are kept as typed views of the JSON the API returns (money in öre), so the checker
//! never parses JSON and its tests build histories by hand.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{json, Value};

/// A client process: one operation at a time.
pub type ProcessId = u64;

/// A session's lifecycle state, as `GET /v1/sessions/{id}` names it. Deliberately not the node's
/// own `SessionState`: the checker judges what the HTTP API says, as a black box, so it parses the
/// names the API promises instead of sharing the type whose output it checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SessionState {
    /// Opened by scanning a QR code.
    Opened,
    /// The purchase was confirmed.
    PurchaseConfirmed,
    /// Feedback scored within a reward tier.
    Rewarded,
    /// Feedback scored below the lowest tier.
    Rejected,
    /// Not completed in time (written by the node's expiry sweeper, not by a client).
    Expired,
}

impl SessionState {
    /// How far along the lifecycle a state is: opened 1, purchase confirmed 2, ended 3.
    pub fn level(self) -> u8 {
        match self {
            SessionState::Opened => 1,
            SessionState::PurchaseConfirmed => 2,
            SessionState::Rewarded | SessionState::Rejected | SessionState::Expired => 3,
        }
    }

    /// The API's name.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Opened => "opened",
            SessionState::PurchaseConfirmed => "purchase_confirmed",
            SessionState::Rewarded => "rewarded",
            SessionState::Rejected => "rejected",
            SessionState::Expired => "expired",
        }
    }

    /// Parses the API's name.
    pub fn parse(text: &str) -> Option<SessionState> {
        Some(match text {
            "opened" => SessionState::Opened,
            "purchase_confirmed" => SessionState::PurchaseConfirmed,
            "rewarded" => SessionState::Rewarded,
            "rejected" => SessionState::Rejected,
            "expired" => SessionState::Expired,
            _ => return None,
        })
    }
}

/// What one answer said about a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    /// Session id (`s_...`).
    pub id: String,
    /// Its business.
    pub business: String,
    /// Lifecycle state.
    pub state: SessionState,
    /// Confirmed purchase amount in öre, if any.
    pub amount_ore: Option<i64>,
    /// Confirmed purchase's transaction id, if any.
    pub transaction_id: Option<String>,
    /// Reward in öre once settled.
    pub reward_ore: Option<i64>,
}

/// What one answer said about a business's analytics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AnalyticsView {
    /// Sessions opened (best effort until settled: a lost opening report is counted at settlement).
    pub opened: u64,
    /// Sessions rewarded.
    pub completed: u64,
    /// Sessions rejected.
    pub rejected: u64,
    /// Sessions expired.
    pub expired: u64,
    /// Rewards paid in öre.
    pub paid_ore: i64,
    /// Budget left in öre.
    pub remaining_ore: i64,
}

/// One client request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `POST /v1/sessions` for a device at a business's (only) location.
    Open {
        /// The business whose QR code was scanned.
        business: String,
        /// The phone (unique per customer flow, so a retry finds the same open session).
        device: String,
    },
    /// `POST /v1/sessions/{id}/purchase`.
    Purchase {
        /// Session id.
        session: String,
        /// Amount in öre.
        amount_ore: i64,
        /// The till's transaction id.
        transaction_id: String,
    },
    /// `POST /v1/sessions/{id}/feedback`.
    Feedback {
        /// Session id.
        session: String,
    },
    /// `GET /v1/sessions/{id}`.
    ReadSession {
        /// Session id.
        session: String,
    },
    /// `GET /v1/businesses/{id}/analytics`.
    ReadAnalytics {
        /// Business id.
        business: String,
    },
}

impl Op {
    /// Whether the operation changes state (reads do not).
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Op::Open { .. } | Op::Purchase { .. } | Op::Feedback { .. }
        )
    }

    /// Short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Open { .. } => "open",
            Op::Purchase { .. } => "purchase",
            Op::Feedback { .. } => "feedback",
            Op::ReadSession { .. } => "read-session",
            Op::ReadAnalytics { .. } => "read-analytics",
        }
    }

    /// The session the operation names, if any (an open names none: its id comes back).
    pub fn session(&self) -> Option<&str> {
        match self {
            Op::Purchase { session, .. }
            | Op::Feedback { session }
            | Op::ReadSession { session } => Some(session),
            Op::Open { .. } | Op::ReadAnalytics { .. } => None,
        }
    }
}

/// The value an `ok` carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OkValue {
    /// A session (every session step and a session read answer with the session).
    Session(SessionView),
    /// A business's analytics.
    Analytics(AnalyticsView),
    /// A read answered 404: no such record.
    NotFound,
}

/// Event type, as Jepsen names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// The request is about to be sent.
    Invoke,
    /// Acknowledged.
    Ok,
    /// Certainly did not happen.
    Fail,
    /// Unknown outcome.
    Info,
}

impl EventType {
    /// Jepsen's name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Invoke => "invoke",
            EventType::Ok => "ok",
            EventType::Fail => "fail",
            EventType::Info => "info",
        }
    }
}

/// One event of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Which client.
    pub process: ProcessId,
    /// Invoke or a completion.
    pub kind: EventType,
    /// Microseconds since the run started.
    pub time_us: u64,
    /// The operation (repeated on the completion).
    pub op: Op,
    /// The node the request went to (region name).
    pub node: String,
    /// On `ok`: what came back.
    pub value: Option<OkValue>,
    /// On `fail`/`info`: why (status and problem type, or the transport error).
    pub error: Option<String>,
}

/// A business the run created before recording started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessInfo {
    /// Business id.
    pub id: String,
    /// Its API key (the final reads of its analytics need it).
    pub key: String,
    /// Its reward budget in öre.
    pub budget_ore: i64,
}

/// A whole recorded run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// The businesses the clients use.
    pub businesses: Vec<BusinessInfo>,
    /// Events in time order.
    pub events: Vec<Event>,
}

/// One operation: an invoke paired with its completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// Index of the operation in invoke order (what anomalies cite).
    pub index: usize,
    /// Which client.
    pub process: ProcessId,
    /// The request.
    pub op: Op,
    /// The node asked.
    pub node: String,
    /// When it was invoked.
    pub invoke_us: u64,
    /// When it completed; `None` if it never did (counted as info).
    pub complete_us: Option<u64>,
    /// `Ok`, `Fail` or `Info` (an invocation never completed is `Info`).
    pub outcome: EventType,
    /// The acknowledged value.
    pub value: Option<OkValue>,
    /// Why it failed or is unknown.
    pub error: Option<String>,
}

impl Operation {
    /// Acknowledged.
    pub fn is_ok(&self) -> bool {
        self.outcome == EventType::Ok
    }

    /// May have taken effect: acknowledged or unknown outcome.
    pub fn may_have_happened(&self) -> bool {
        self.outcome != EventType::Fail
    }

    /// The session view of an `ok`, if it carried one.
    pub fn session_view(&self) -> Option<&SessionView> {
        match &self.value {
            Some(OkValue::Session(v)) if self.is_ok() => Some(v),
            _ => None,
        }
    }
}

impl History {
    /// Pairs invokes with completions per process. A completion without an invoke, or a second
    /// invoke while one is open, is a recorder bug and is reported as an error.
    pub fn operations(&self) -> Result<Vec<Operation>, String> {
        let mut ops: Vec<Operation> = Vec::new();
        let mut open: BTreeMap<ProcessId, usize> = BTreeMap::new();
        for (i, e) in self.events.iter().enumerate() {
            match e.kind {
                EventType::Invoke => {
                    if let Some(prev) = open.insert(e.process, ops.len()) {
                        return Err(format!(
                            "event {i}: process {} invoked while operation {prev} is open",
                            e.process
                        ));
                    }
                    ops.push(Operation {
                        index: ops.len(),
                        process: e.process,
                        op: e.op.clone(),
                        node: e.node.clone(),
                        invoke_us: e.time_us,
                        complete_us: None,
                        outcome: EventType::Info,
                        value: None,
                        error: Some("never completed".into()),
                    });
                }
                kind => {
                    let Some(at) = open.remove(&e.process) else {
                        return Err(format!(
                            "event {i}: process {} completed without an invoke",
                            e.process
                        ));
                    };
                    let o = &mut ops[at];
                    if o.op != e.op {
                        return Err(format!(
                            "event {i}: completion of {:?} does not match invoke {:?}",
                            e.op, o.op
                        ));
                    }
                    o.complete_us = Some(e.time_us);
                    o.outcome = kind;
                    o.value = e.value.clone();
                    o.error = e.error.clone();
                }
            }
        }
        Ok(ops)
    }

    /// The history as JSON, one object per event.
    pub fn to_json(&self) -> Value {
        json!({
            "businesses": self.businesses.iter().map(|b| json!({"id": b.id, "budget_ore": b.budget_ore})).collect::<Vec<_>>(),
            "events": self.events.iter().map(Event::to_json).collect::<Vec<_>>(),
        })
    }
}

impl Event {
    /// This event as JSON.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "process": self.process,
            "type": self.kind.as_str(),
            "time_us": self.time_us,
            "f": self.op.name(),
            "op": op_json(&self.op),
            "node": self.node,
        });
        if let Some(value) = &self.value {
            v["value"] = value_json(value);
        }
        if let Some(error) = &self.error {
            v["error"] = json!(error);
        }
        v
    }
}

/// An operation's arguments as JSON.
pub fn op_json(op: &Op) -> Value {
    match op {
        Op::Open { business, device } => json!({"business": business, "device": device}),
        Op::Purchase {
            session,
            amount_ore,
            transaction_id,
        } => {
            json!({"session": session, "amount_ore": amount_ore, "transaction_id": transaction_id})
        }
        Op::Feedback { session } | Op::ReadSession { session } => json!({"session": session}),
        Op::ReadAnalytics { business } => json!({"business": business}),
    }
}

/// A value as JSON.
pub fn value_json(value: &OkValue) -> Value {
    match value {
        OkValue::Session(s) => json!({
            "id": s.id, "business": s.business, "state": s.state.as_str(), "amount_ore": s.amount_ore,
            "transaction_id": s.transaction_id, "reward_ore": s.reward_ore,
        }),
        OkValue::Analytics(a) => json!({
            "opened": a.opened, "completed": a.completed, "rejected": a.rejected, "expired": a.expired,
            "paid_ore": a.paid_ore, "remaining_ore": a.remaining_ore,
        }),
        OkValue::NotFound => json!("not-found"),
    }
}

/// Records events from many client threads on one monotonic clock.
#[derive(Clone)]
pub struct Recorder {
    start: Instant,
    inner: Arc<Mutex<History>>,
}

/// An invoked operation waiting for its completion. Dropping it without completing leaves the
/// operation open (the checker counts it as `info`).
#[must_use = "complete the operation with ok, fail or info"]
pub struct Pending {
    recorder: Recorder,
    process: ProcessId,
    op: Op,
    node: String,
}

impl Recorder {
    /// A recorder whose clock starts at `start`.
    pub fn new(start: Instant, businesses: Vec<BusinessInfo>) -> Recorder {
        Recorder {
            start,
            inner: Arc::new(Mutex::new(History {
                businesses,
                events: Vec::new(),
            })),
        }
    }

    /// Microseconds since the start.
    pub fn now_us(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Records the invocation of `op` by `process` against `node`.
    pub fn invoke(&self, process: ProcessId, op: Op, node: &str) -> Pending {
        self.push(process, EventType::Invoke, &op, node, None, None);
        Pending {
            recorder: self.clone(),
            process,
            op,
            node: node.to_owned(),
        }
    }

    fn push(
        &self,
        process: ProcessId,
        kind: EventType,
        op: &Op,
        node: &str,
        value: Option<OkValue>,
        error: Option<String>,
    ) {
        // A poisoned lock means a client thread panicked while pushing; the events are still whole.
        let mut h = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let time_us = self.now_us();
        h.events.push(Event {
            process,
            kind,
            time_us,
            op: op.clone(),
            node: node.to_owned(),
            value,
            error,
        });
    }

    /// A copy of everything recorded so far.
    pub fn snapshot(&self) -> History {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl Pending {
    /// The operation.
    pub fn op(&self) -> &Op {
        &self.op
    }

    /// Acknowledged, with what came back.
    pub fn ok(self, value: OkValue) {
        self.recorder.push(
            self.process,
            EventType::Ok,
            &self.op,
            &self.node,
            Some(value),
            None,
        );
    }

    /// Certainly did not happen.
    pub fn fail(self, why: String) {
        self.recorder.push(
            self.process,
            EventType::Fail,
            &self.op,
            &self.node,
            None,
            Some(why),
        );
    }

    /// Unknown outcome.
    pub fn info(self, why: String) {
        self.recorder.push(
            self.process,
            EventType::Info,
            &self.op,
            &self.node,
            None,
            Some(why),
        );
    }
}
