//! Judges a chaos run: a [`History`] of client operations plus the final reads from every node.
//!
//! Pure: no I/O, no clock. What it looks for, in svea's terms:
//!
//! - **lost write**: an acknowledged step (open, purchase, feedback), or a state once read, is not
//!   visible in a final read; or the business counts or pays less than its sessions show.
//! - **duplicated effect**: a session settled twice: two different rewards or end states for one
//!   session, or a business that counts more completions, pays more (budget charged twice) or counts
//!   more openings than the sessions and attempts justify.
//! - **stale read**: a read returns a state older than one acknowledged (written or read) before the
//!   read was invoked. Session states only move forward (opened -> purchase confirmed -> ended) and
//!   analytics counters only grow, so "older" is well defined.
//! - **never-written value**: a read (or an acknowledgement) reports something no client write could
//!   have produced: a purchase amount or transaction id nobody sent, an end state without feedback,
//!   a reward above the purchase, a remaining budget that is not budget minus paid, more settled
//!   sessions than feedback was ever given, or a value visible before its write was invoked.
//! - **divergence**: two nodes' final reads of one record differ after the heal.
//! - **final read failed**: after the heal a node could not answer (service did not resume).
//!
//! Unknown outcomes (`info`, and invocations that never completed) may or may not have happened:
//! they never count as acknowledged, but their values are legitimate, and a business may have
//! settled a session whose feedback outcome is unknown even when the session's own final write is
//! missing (feedback is three writes; see ARCHITECTURE.md). A `fail` certainly did not happen, so
//! its values are not legitimate unless another operation wrote the same.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{json, Value};

use crate::history::{
    AnalyticsView, EventType, History, OkValue, Op, Operation, SessionState, SessionView,
};

/// What one node answered in the final read of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinalRead<T> {
    /// The record.
    Found(T),
    /// 404.
    NotFound,
    /// No answer (5xx, timeout, refused), with why.
    Failed(String),
}

/// Final reads of one node, after the heal phase.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeFinal {
    /// The node (region name).
    pub node: String,
    /// Every session the history knows, by id.
    pub sessions: BTreeMap<String, FinalRead<SessionView>>,
    /// Every business of the history, by id.
    pub analytics: BTreeMap<String, FinalRead<AnalyticsView>>,
}

/// Final reads from every node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FinalReads {
    /// One entry per node.
    pub nodes: Vec<NodeFinal>,
}

/// The kinds of anomaly; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AnomalyKind {
    /// An acknowledged write (or a state once read) is gone.
    LostWrite,
    /// An effect applied twice (a second reward, budget charged twice).
    DuplicatedEffect,
    /// A read older than something acknowledged before it began.
    StaleRead,
    /// A value no write produced.
    NeverWritten,
    /// Nodes disagree after the heal.
    Divergence,
    /// A node could not answer after the heal.
    FinalReadFailed,
    /// The history itself is inconsistent (a recorder bug).
    MalformedHistory,
}

impl AnomalyKind {
    /// Stable name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::LostWrite => "lost-write",
            AnomalyKind::DuplicatedEffect => "duplicated-effect",
            AnomalyKind::StaleRead => "stale-read",
            AnomalyKind::NeverWritten => "never-written",
            AnomalyKind::Divergence => "divergence",
            AnomalyKind::FinalReadFailed => "final-read-failed",
            AnomalyKind::MalformedHistory => "malformed-history",
        }
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One anomaly with the operations involved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    /// What kind.
    pub kind: AnomalyKind,
    /// The session or business concerned.
    pub subject: String,
    /// The final read's node, when a final read is involved.
    pub node: Option<String>,
    /// Indices (see [`Operation::index`]) of the operations involved.
    pub ops: Vec<usize>,
    /// What exactly is wrong.
    pub detail: String,
}

/// The checker's verdict.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    /// Everything found; empty means the history is valid.
    pub anomalies: Vec<Anomaly>,
    /// Operations in the history.
    pub operations: usize,
    /// Writes acknowledged.
    pub writes_ok: usize,
    /// Writes that certainly failed.
    pub writes_failed: usize,
    /// Writes with an unknown outcome.
    pub writes_info: usize,
    /// Acknowledged reads checked.
    pub reads_checked: usize,
    /// Sessions known to the history.
    pub sessions: usize,
}

impl Verdict {
    /// No anomaly.
    pub fn is_valid(&self) -> bool {
        self.anomalies.is_empty()
    }

    /// How many anomalies of `kind`.
    pub fn count(&self, kind: AnomalyKind) -> usize {
        self.anomalies.iter().filter(|a| a.kind == kind).count()
    }

    /// The verdict as JSON.
    pub fn to_json(&self, ops: &[Operation]) -> Value {
        let mut by_kind = BTreeMap::new();
        for a in &self.anomalies {
            *by_kind.entry(a.kind.as_str()).or_insert(0u64) += 1;
        }
        json!({
            "valid": self.is_valid(),
            "operations": self.operations,
            "writes_ok": self.writes_ok,
            "writes_failed": self.writes_failed,
            "writes_info": self.writes_info,
            "reads_checked": self.reads_checked,
            "sessions": self.sessions,
            "anomalies_by_kind": by_kind,
            "anomalies": self.anomalies.iter().map(|a| json!({
                "kind": a.kind.as_str(),
                "subject": a.subject,
                "node": a.node,
                "detail": a.detail,
                "ops": a.ops.iter().filter_map(|i| ops.get(*i)).map(operation_json).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }
}

/// One operation as JSON (for anomaly reports).
pub fn operation_json(o: &Operation) -> Value {
    let mut v = json!({
        "index": o.index,
        "process": o.process,
        "f": o.op.name(),
        "op": crate::history::op_json(&o.op),
        "node": o.node,
        "invoke_us": o.invoke_us,
        "complete_us": o.complete_us,
        "type": o.outcome.as_str(),
    });
    if let Some(value) = &o.value {
        v["value"] = crate::history::value_json(value);
    }
    if let Some(e) = &o.error {
        v["error"] = json!(e);
    }
    v
}

/// Every session id the history mentions (returned by an open, or named by an operation): what
/// the final reads must cover.
pub fn known_sessions(history: &History) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for e in &history.events {
        if let Some(s) = e.op.session() {
            out.insert(s.to_owned());
        }
        if let Some(OkValue::Session(v)) = &e.value {
            out.insert(v.id.clone());
        }
    }
    out
}

/// What the history says about one session.
#[derive(Default)]
struct SessionFacts {
    /// Business, from an acknowledged open or any view.
    business: Option<String>,
    /// Operations naming the session or returning it.
    ops: Vec<usize>,
}

/// Judges `history` and the final reads.
pub fn check(history: &History, finals: &FinalReads) -> Verdict {
    let mut v = Verdict::default();
    let ops = match history.operations() {
        Ok(ops) => ops,
        Err(e) => {
            v.anomalies.push(Anomaly {
                kind: AnomalyKind::MalformedHistory,
                subject: "history".into(),
                node: None,
                ops: vec![],
                detail: e,
            });
            return v;
        }
    };
    v.operations = ops.len();
    for o in ops.iter().filter(|o| o.op.is_write()) {
        match o.outcome {
            EventType::Ok => v.writes_ok += 1,
            EventType::Fail => v.writes_failed += 1,
            _ => v.writes_info += 1,
        }
    }

    let mut sessions: BTreeMap<String, SessionFacts> = BTreeMap::new();
    for id in known_sessions(history) {
        sessions.insert(id, SessionFacts::default());
    }
    for o in &ops {
        let id =
            o.op.session()
                .map(str::to_owned)
                .or_else(|| o.session_view().map(|s| s.id.clone()));
        if let Some(id) = id {
            let facts = sessions.entry(id).or_default();
            facts.ops.push(o.index);
            if let (Op::Open { business, .. }, Some(_)) = (&o.op, o.session_view()) {
                facts.business.get_or_insert_with(|| business.clone());
            }
        }
    }
    v.sessions = sessions.len();

    let mut c = Checker {
        ops: &ops,
        finals,
        anomalies: Vec::new(),
        reads_checked: 0,
    };
    let mut final_views: BTreeMap<String, SessionView> = BTreeMap::new();
    for (id, facts) in &sessions {
        if let Some(view) = c.check_session(id, facts) {
            final_views.insert(id.clone(), view);
        }
    }
    for b in &history.businesses {
        c.check_business(&b.id, b.budget_ore, &sessions, &final_views);
    }
    v.reads_checked = c.reads_checked;
    v.anomalies = c.anomalies;
    v
}

struct Checker<'a> {
    ops: &'a [Operation],
    finals: &'a FinalReads,
    anomalies: Vec<Anomaly>,
    reads_checked: usize,
}

/// The level a session read or acknowledgement establishes: 0 for "no such session".
fn level_of(value: &OkValue) -> Option<u8> {
    match value {
        OkValue::Session(s) => Some(s.state.level()),
        OkValue::NotFound => Some(0),
        OkValue::Analytics(_) => None,
    }
}

/// The level an acknowledged operation guarantees for its session.
fn acked_level(o: &Operation) -> Option<u8> {
    if !o.is_ok() {
        return None;
    }
    let implied = match o.op {
        Op::Open { .. } => 1,
        Op::Purchase { .. } => 2,
        Op::Feedback { .. } => 3,
        Op::ReadSession { .. } => 0,
        Op::ReadAnalytics { .. } => return None,
    };
    let seen = o.value.as_ref().and_then(level_of).unwrap_or(0);
    Some(implied.max(seen))
}

impl Checker<'_> {
    fn push(
        &mut self,
        kind: AnomalyKind,
        subject: &str,
        node: Option<&str>,
        ops: Vec<usize>,
        detail: String,
    ) {
        self.anomalies.push(Anomaly {
            kind,
            subject: subject.to_owned(),
            node: node.map(str::to_owned),
            ops,
            detail,
        });
    }

    /// Checks one session; returns its final view (the first node's found one) for the business checks.
    fn check_session(&mut self, id: &str, facts: &SessionFacts) -> Option<SessionView> {
        let ops: Vec<&Operation> = facts.ops.iter().map(|i| &self.ops[*i]).collect();

        // Every view acknowledged during the run must be a value some write produced.
        for o in &ops {
            if let (Some(view), Some(complete)) = (o.session_view(), o.complete_us) {
                self.check_view_written(id, facts, &ops, view, Some(complete), None, o.index);
            }
        }

        // Stale reads: an ok read must be at least as far along as anything acknowledged before it
        // was invoked (writes and reads alike: session reads are linearizable).
        for r in ops
            .iter()
            .filter(|o| matches!(o.op, Op::ReadSession { .. }) && o.is_ok())
        {
            self.reads_checked += 1;
            let Some(level) = r.value.as_ref().and_then(level_of) else {
                continue;
            };
            let before = ops
                .iter()
                .filter(|o| o.complete_us.is_some_and(|c| c < r.invoke_us))
                .filter_map(|o| acked_level(o).map(|l| (l, o.index)))
                .max_by_key(|(l, _)| *l);
            if let Some((required, by)) = before {
                if level < required {
                    self.push(
                        AnomalyKind::StaleRead,
                        id,
                        None,
                        vec![by, r.index],
                        format!(
                            "read {} returned {} though operation {by} had acknowledged {} before the read began",
                            r.index,
                            describe_level(level),
                            describe_level(required)
                        ),
                    );
                }
            }
        }

        // Settled views (acknowledged or read) must all agree on end state and reward.
        let settled: Vec<(&SessionView, usize)> = ops
            .iter()
            .filter_map(|o| o.session_view().map(|s| (s, o.index)))
            .filter(|(s, _)| s.state.level() == 3)
            .collect();
        if let Some((first, first_op)) = settled.first() {
            for (other, op) in &settled[1..] {
                if other.state != first.state || other.reward_ore != first.reward_ore {
                    self.push(
                        AnomalyKind::DuplicatedEffect,
                        id,
                        None,
                        vec![*first_op, *op],
                        format!(
                            "session settled twice: {} with reward {} öre, then {} with reward {} öre",
                            first.state.as_str(),
                            fmt_ore(first.reward_ore),
                            other.state.as_str(),
                            fmt_ore(other.reward_ore)
                        ),
                    );
                    break;
                }
            }
        }

        // Final reads: every node answers, nothing acknowledged is missing, all nodes agree.
        let most_acked = ops
            .iter()
            .filter_map(|o| acked_level(o).map(|l| (l, o.index)))
            .max_by_key(|(l, _)| *l);
        let mut first_final: Option<(String, Option<SessionView>)> = None;
        for n in &self.finals.nodes {
            let read = n
                .sessions
                .get(id)
                .cloned()
                .unwrap_or_else(|| FinalRead::Failed("not read".into()));
            let view = match read {
                FinalRead::Failed(why) => {
                    self.push(
                        AnomalyKind::FinalReadFailed,
                        id,
                        Some(&n.node),
                        vec![],
                        format!(
                            "{} could not read the session after the heal: {why}",
                            n.node
                        ),
                    );
                    continue;
                }
                FinalRead::NotFound => None,
                FinalRead::Found(view) => Some(view),
            };
            let level = view.as_ref().map_or(0, |s| s.state.level());
            if let Some((required, by)) = most_acked {
                if level < required {
                    self.push(
                        AnomalyKind::LostWrite,
                        id,
                        Some(&n.node),
                        vec![by],
                        format!(
                            "final read on {} shows {} but operation {by} acknowledged {}",
                            n.node,
                            describe_level(level),
                            describe_level(required)
                        ),
                    );
                }
            }
            if let Some(view) = &view {
                self.check_view_written(id, facts, &ops, view, None, Some(&n.node), usize::MAX);
                if let Some((s, op)) = settled.first() {
                    if view.state.level() == 3
                        && (view.state != s.state || view.reward_ore != s.reward_ore)
                    {
                        self.push(
                            AnomalyKind::DuplicatedEffect,
                            id,
                            Some(&n.node),
                            vec![*op],
                            format!(
                                "final read on {} shows {} with reward {} öre, but operation {op} saw {} with reward {} öre",
                                n.node,
                                view.state.as_str(),
                                fmt_ore(view.reward_ore),
                                s.state.as_str(),
                                fmt_ore(s.reward_ore)
                            ),
                        );
                    }
                }
            }
            match &first_final {
                None => first_final = Some((n.node.clone(), view)),
                Some((node, first)) if *first != view => {
                    self.push(
                        AnomalyKind::Divergence,
                        id,
                        Some(&n.node),
                        vec![],
                        format!(
                            "final read on {} differs from {node}: {view:?} vs {first:?}",
                            n.node
                        ),
                    );
                }
                Some(_) => {}
            }
        }
        first_final.and_then(|(_, v)| v)
    }

    /// `view` (acknowledged by operation `by`, completed at `complete_us`, or a final read on
    /// `node`) must be a value some possible write produced, invoked before it was seen.
    #[allow(clippy::too_many_arguments)]
    fn check_view_written(
        &mut self,
        id: &str,
        facts: &SessionFacts,
        ops: &[&Operation],
        view: &SessionView,
        complete_us: Option<u64>,
        node: Option<&str>,
        by: usize,
    ) {
        let cite = |extra: Vec<usize>| -> Vec<usize> {
            let mut v: Vec<usize> = if by == usize::MAX { vec![] } else { vec![by] };
            v.extend(extra);
            v
        };
        let seen_by = match node {
            Some(n) => format!("final read on {n}"),
            None => format!("operation {by}"),
        };
        let possible =
            |o: &&&Operation| o.may_have_happened() && complete_us.is_none_or(|c| o.invoke_us < c);
        if view.id != id {
            self.push(
                AnomalyKind::NeverWritten,
                id,
                node,
                cite(vec![]),
                format!("{seen_by} returned session {} for {id}", view.id),
            );
        }
        if let Some(b) = &facts.business {
            if &view.business != b {
                self.push(
                    AnomalyKind::NeverWritten,
                    id,
                    node,
                    cite(vec![]),
                    format!(
                        "{seen_by} shows business {} but the session was opened for {b}",
                        view.business
                    ),
                );
            }
        }
        let needs_purchase = matches!(
            view.state,
            SessionState::PurchaseConfirmed | SessionState::Rewarded | SessionState::Rejected
        );
        if needs_purchase || view.amount_ore.is_some() {
            let matching = ops.iter().filter(possible).find(|o| {
                matches!(&o.op, Op::Purchase { amount_ore, transaction_id, .. }
                    if Some(*amount_ore) == view.amount_ore && Some(transaction_id) == view.transaction_id.as_ref())
            });
            if matching.is_none() {
                let sent = sent_of(ops, |op| matches!(op, Op::Purchase { .. }));
                self.push(
                    AnomalyKind::NeverWritten,
                    id,
                    node,
                    cite(sent),
                    format!(
                        "{seen_by} shows {} with purchase {} öre / {:?}, which no possible purchase (invoked before it was seen, not failed) sent",
                        view.state.as_str(),
                        fmt_ore(view.amount_ore),
                        view.transaction_id
                    ),
                );
            }
        }
        if matches!(view.state, SessionState::Rewarded | SessionState::Rejected) {
            if !ops
                .iter()
                .filter(possible)
                .any(|o| matches!(o.op, Op::Feedback { .. }))
            {
                let sent = sent_of(ops, |op| matches!(op, Op::Feedback { .. }));
                self.push(
                    AnomalyKind::NeverWritten,
                    id,
                    node,
                    cite(sent),
                    format!(
                        "{seen_by} shows {} but no possible feedback was given before",
                        view.state.as_str()
                    ),
                );
            }
            let bad = match (view.reward_ore, view.amount_ore) {
                (Some(r), Some(a)) => r < 0 || r > a,
                (None, _) => true,
                (Some(r), None) => r != 0,
            };
            if bad {
                self.push(
                    AnomalyKind::NeverWritten,
                    id,
                    node,
                    cite(vec![]),
                    format!(
                        "{seen_by} shows reward {} öre for a purchase of {} öre",
                        fmt_ore(view.reward_ore),
                        fmt_ore(view.amount_ore)
                    ),
                );
            }
        }
    }

    fn check_business(
        &mut self,
        business: &str,
        budget_ore: i64,
        sessions: &BTreeMap<String, SessionFacts>,
        final_views: &BTreeMap<String, SessionView>,
    ) {
        let ops = self.ops;
        let mine: BTreeSet<&str> = sessions
            .iter()
            .filter(|(id, f)| {
                f.business.as_deref() == Some(business)
                    || final_views.get(*id).is_some_and(|v| v.business == business)
            })
            .map(|(id, _)| id.as_str())
            .collect();
        let feedback_ops: Vec<&Operation> = ops
            .iter()
            .filter(|o| {
                o.may_have_happened()
                    && matches!(&o.op, Op::Feedback { session } if mine.contains(session.as_str()))
            })
            .collect();
        // The most a session can pay: its purchase (percentages are at most 100 %).
        let bound_of = |session: &str| -> i64 {
            let from_final = final_views.get(session).and_then(|v| v.amount_ore);
            let from_ops = ops
                .iter()
                .filter(|o| o.may_have_happened())
                .filter_map(|o| match &o.op {
                    Op::Purchase {
                        session: s,
                        amount_ore,
                        ..
                    } if s == session => Some(*amount_ore),
                    _ => None,
                })
                .max();
            from_final.or(from_ops).unwrap_or(0)
        };
        // The most sessions the clients' opens can have created: each acknowledged open created at
        // most the session it returned, each open with an unknown outcome at most one more (a
        // delayed request can open a new session after the device's first one ended: opening is
        // idempotent only while the session is open), a failed one none.
        let mut returned: BTreeSet<&str> = BTreeSet::new();
        let mut unknown_opens = 0u64;
        for o in ops
            .iter()
            .filter(|o| matches!(&o.op, Op::Open { business: b, .. } if b == business))
        {
            match (o.outcome, o.session_view()) {
                (EventType::Ok, Some(v)) => {
                    returned.insert(v.id.as_str());
                }
                (EventType::Fail, _) => {}
                _ => unknown_opens += 1,
            }
        }
        let opens_max = returned.len() as u64 + unknown_opens;

        // Mid-run analytics reads.
        let reads: Vec<&Operation> = ops
            .iter()
            .filter(|o| {
                o.is_ok() && matches!(&o.op, Op::ReadAnalytics { business: b } if b == business)
            })
            .collect();
        for r in &reads {
            self.reads_checked += 1;
            let Some(OkValue::Analytics(a)) = &r.value else {
                continue;
            };
            self.check_budget(business, budget_ore, a, None, r.index);
            // Stale: settlements acknowledged before the read began must be counted.
            let mut acked: BTreeMap<&str, (&SessionView, usize)> = BTreeMap::new();
            for o in ops
                .iter()
                .filter(|o| o.complete_us.is_some_and(|c| c < r.invoke_us))
            {
                if let Some(s) = o.session_view() {
                    if mine.contains(s.id.as_str()) && s.state.level() == 3 {
                        acked.entry(s.id.as_str()).or_insert((s, o.index));
                    }
                }
            }
            let need_completed = acked
                .values()
                .filter(|(s, _)| s.state == SessionState::Rewarded)
                .count() as u64;
            let need_rejected = acked
                .values()
                .filter(|(s, _)| s.state == SessionState::Rejected)
                .count() as u64;
            let need_paid: i64 = acked.values().filter_map(|(s, _)| s.reward_ore).sum();
            let mut stale = Vec::new();
            if a.completed < need_completed {
                stale.push(format!(
                    "completed {} < {need_completed} acknowledged",
                    a.completed
                ));
            }
            if a.rejected < need_rejected {
                stale.push(format!(
                    "rejected {} < {need_rejected} acknowledged",
                    a.rejected
                ));
            }
            if a.paid_ore < need_paid {
                stale.push(format!(
                    "paid {} öre < {need_paid} öre acknowledged",
                    a.paid_ore
                ));
            }
            if !stale.is_empty() {
                let mut cited: Vec<usize> = acked.values().map(|(_, i)| *i).collect();
                cited.push(r.index);
                self.push(
                    AnomalyKind::StaleRead,
                    business,
                    None,
                    cited,
                    format!("analytics read {} is older than settlements acknowledged before it began: {}", r.index, stale.join(", ")),
                );
            }
            // Stale: counters never go back relative to an earlier completed read.
            for prev in reads
                .iter()
                .filter(|p| p.complete_us.is_some_and(|c| c < r.invoke_us))
            {
                let Some(OkValue::Analytics(p)) = &prev.value else {
                    continue;
                };
                if a.opened < p.opened
                    || a.completed < p.completed
                    || a.rejected < p.rejected
                    || a.paid_ore < p.paid_ore
                {
                    self.push(
                        AnomalyKind::StaleRead,
                        business,
                        None,
                        vec![prev.index, r.index],
                        format!(
                            "analytics read {} went back from {p:?} (read {}) to {a:?}",
                            r.index, prev.index
                        ),
                    );
                    break;
                }
            }
            // Never written: more settled than feedback was given (invoked before the read ended).
            let complete = r.complete_us.unwrap_or(u64::MAX);
            let given: BTreeSet<&str> = feedback_ops
                .iter()
                .filter(|o| o.invoke_us < complete)
                .filter_map(|o| o.op.session())
                .collect();
            let settled = a.completed + a.rejected;
            let max_paid: i64 = given.iter().map(|s| bound_of(s)).sum();
            if settled > given.len() as u64 || a.paid_ore > max_paid {
                self.push(
                    AnomalyKind::NeverWritten,
                    business,
                    None,
                    vec![r.index],
                    format!(
                        "analytics read {} shows {settled} settled sessions and {} öre paid, but only {} sessions had feedback (at most {max_paid} öre)",
                        r.index,
                        a.paid_ore,
                        given.len()
                    ),
                );
            }
        }

        // Final analytics against the sessions' final states.
        let views: Vec<&SessionView> = mine.iter().filter_map(|s| final_views.get(*s)).collect();
        let rewarded = views
            .iter()
            .filter(|v| v.state == SessionState::Rewarded)
            .count() as u64;
        let rejected = views
            .iter()
            .filter(|v| v.state == SessionState::Rejected)
            .count() as u64;
        let paid: i64 = views
            .iter()
            .filter(|v| v.state.level() == 3)
            .filter_map(|v| v.reward_ore)
            .sum();
        // Sessions whose feedback may have been settled by the business while the session's own
        // final write is missing.
        let maybe: BTreeSet<&str> = feedback_ops
            .iter()
            .filter_map(|o| o.op.session())
            .filter(|s| final_views.get(*s).is_none_or(|v| v.state.level() < 3))
            .collect();
        let maybe_paid: i64 = maybe.iter().map(|s| bound_of(s)).sum();
        let maybe_n = maybe.len() as u64;
        let mut first: Option<(String, AnalyticsView)> = None;
        for n in &self.finals.nodes {
            let a = match n
                .analytics
                .get(business)
                .cloned()
                .unwrap_or_else(|| FinalRead::Failed("not read".into()))
            {
                FinalRead::Found(a) => a,
                FinalRead::NotFound => {
                    self.push(
                        AnomalyKind::LostWrite,
                        business,
                        Some(&n.node),
                        vec![],
                        format!("{} does not know the business", n.node),
                    );
                    continue;
                }
                FinalRead::Failed(why) => {
                    self.push(
                        AnomalyKind::FinalReadFailed,
                        business,
                        Some(&n.node),
                        vec![],
                        format!(
                            "{} could not read the analytics after the heal: {why}",
                            n.node
                        ),
                    );
                    continue;
                }
            };
            self.check_budget(business, budget_ore, &a, Some(&n.node), usize::MAX);
            let settled_ops = |state: SessionState| -> Vec<usize> {
                ops.iter()
                    .filter_map(|o| {
                        o.session_view()
                            .filter(|s| s.state == state && mine.contains(s.id.as_str()))
                            .map(|_| o.index)
                    })
                    .collect()
            };
            let node = n.node.as_str();
            if a.completed < rewarded || a.rejected < rejected || a.paid_ore < paid {
                self.push(
                    AnomalyKind::LostWrite,
                    business,
                    Some(node),
                    settled_ops(SessionState::Rewarded),
                    format!(
                        "final analytics on {node} count {} rewarded / {} rejected / {} öre paid, but the sessions show {rewarded} / {rejected} / {paid} öre",
                        a.completed, a.rejected, a.paid_ore
                    ),
                );
            }
            if a.completed + a.rejected > rewarded + rejected + maybe_n
                || a.paid_ore > paid + maybe_paid
            {
                self.push(
                    AnomalyKind::DuplicatedEffect,
                    business,
                    Some(node),
                    settled_ops(SessionState::Rewarded),
                    format!(
                        "final analytics on {node} count {} settled sessions and {} öre paid, but the sessions show {} settled and {paid} öre \
                         (plus at most {maybe_n} with unknown feedback outcome, {maybe_paid} öre): a session settled or paid twice",
                        a.completed + a.rejected,
                        a.paid_ore,
                        rewarded + rejected
                    ),
                );
            }
            if a.opened > opens_max {
                self.push(
                    AnomalyKind::DuplicatedEffect,
                    business,
                    Some(node),
                    vec![],
                    format!(
                        "final analytics on {node} count {} openings but the opens could create at most {opens_max} \
                         sessions ({} returned, {unknown_opens} with unknown outcome)",
                        a.opened,
                        returned.len()
                    ),
                );
            }
            if a.opened < rewarded + rejected {
                self.push(
                    AnomalyKind::LostWrite,
                    business,
                    Some(node),
                    vec![],
                    format!(
                        "final analytics on {node} count {} openings but {} sessions settled",
                        a.opened,
                        rewarded + rejected
                    ),
                );
            }
            match &first {
                None => first = Some((node.to_owned(), a)),
                Some((other, f)) if *f != a => self.push(
                    AnomalyKind::Divergence,
                    business,
                    Some(node),
                    vec![],
                    format!("final analytics on {node} differ from {other}: {a:?} vs {f:?}"),
                ),
                Some(_) => {}
            }
        }
    }

    fn check_budget(
        &mut self,
        business: &str,
        budget_ore: i64,
        a: &AnalyticsView,
        node: Option<&str>,
        by: usize,
    ) {
        if a.remaining_ore != budget_ore - a.paid_ore || a.paid_ore < 0 || a.paid_ore > budget_ore {
            let seen_by = node.map_or(format!("analytics read {by}"), |n| {
                format!("final analytics on {n}")
            });
            self.push(
                AnomalyKind::NeverWritten,
                business,
                node,
                if by == usize::MAX { vec![] } else { vec![by] },
                format!(
                    "{seen_by}: remaining {} öre and paid {} öre do not add up to the budget of {budget_ore} öre",
                    a.remaining_ore, a.paid_ore
                ),
            );
        }
    }
}

fn describe_level(level: u8) -> &'static str {
    match level {
        0 => "no session",
        1 => "an opened session",
        2 => "a confirmed purchase",
        _ => "a settled session",
    }
}

fn fmt_ore(v: Option<i64>) -> String {
    v.map_or_else(|| "none".to_owned(), |o| o.to_string())
}

/// The history indices of the operations in `ops` that `kind` selects (cited by an anomaly).
fn sent_of(ops: &[&Operation], kind: impl Fn(&Op) -> bool) -> Vec<usize> {
    ops.iter().filter(|o| kind(&o.op)).map(|o| o.index).collect()
}
