//! The chaos checker is only trusted because it rejects known-bad histories: a lost acknowledged
//! write, a duplicated reward, a stale read, a read of a never-written value; and accepts a good
//! history, including the unknown-outcome (`info`) cases that may or may not have happened.

use simulations::checker::{check, AnomalyKind, FinalRead, FinalReads, NodeFinal, Verdict};
use simulations::history::{
    AnalyticsView, BusinessInfo, Event, EventType, History, OkValue, Op, SessionState, SessionView,
};

const B: &str = "b_kafe";
const BUDGET: i64 = 500_000;
const NODES: [&str; 3] = ["stockholm", "gothenburg", "malmo"];

/// Builds a history event by event with an explicit clock.
struct H {
    history: History,
}

impl H {
    fn new() -> H {
        H {
            history: History {
                businesses: vec![BusinessInfo {
                    id: B.into(),
                    key: String::new(),
                    budget_ore: BUDGET,
                }],
                events: vec![],
            },
        }
    }

    fn push(
        &mut self,
        process: u64,
        kind: EventType,
        t: u64,
        op: &Op,
        value: Option<OkValue>,
        error: Option<&str>,
    ) {
        self.history.events.push(Event {
            process,
            kind,
            time_us: t,
            op: op.clone(),
            node: "stockholm".into(),
            value,
            error: error.map(str::to_owned),
        });
    }

    /// A whole operation: invoke at `from`, completion at `to`.
    fn op(
        &mut self,
        process: u64,
        from: u64,
        to: u64,
        op: Op,
        outcome: EventType,
        value: Option<OkValue>,
    ) -> &mut Self {
        self.push(process, EventType::Invoke, from, &op, None, None);
        let error = (outcome != EventType::Ok).then_some("503 urn:svea:problem:unavailable");
        self.push(process, outcome, to, &op, value, error);
        self
    }

    /// Operation 0: phone-1 opens session s1, acknowledged.
    fn opened(&mut self) -> &mut Self {
        self.op(
            1,
            0,
            10,
            open("phone-1"),
            EventType::Ok,
            ok_view("s1", SessionState::Opened, None, None),
        )
    }

    /// s1's purchase of 249.00 SEK from `from` to `to`; an `ok` carries the confirmed session.
    fn buy(&mut self, from: u64, to: u64, outcome: EventType) -> &mut Self {
        let value = (outcome == EventType::Ok).then(|| OkValue::Session(confirmed()));
        self.op(1, from, to, purchase("s1", 24_900), outcome, value)
    }

    /// Invoked, never completed.
    fn hang(&mut self, process: u64, from: u64, op: Op) -> &mut Self {
        self.push(process, EventType::Invoke, from, &op, None, None);
        self
    }
}

fn open(device: &str) -> Op {
    Op::Open {
        business: B.into(),
        device: device.into(),
    }
}

fn purchase(s: &str, amount_ore: i64) -> Op {
    Op::Purchase {
        session: s.into(),
        amount_ore,
        transaction_id: format!("T-{s}"),
    }
}

fn feedback(s: &str) -> Op {
    Op::Feedback { session: s.into() }
}

fn read(s: &str) -> Op {
    Op::ReadSession { session: s.into() }
}

fn read_analytics() -> Op {
    Op::ReadAnalytics { business: B.into() }
}

fn view(s: &str, state: SessionState, amount: Option<i64>, reward: Option<i64>) -> SessionView {
    SessionView {
        id: s.into(),
        business: B.into(),
        state,
        amount_ore: amount,
        transaction_id: amount.map(|_| format!("T-{s}")),
        reward_ore: reward,
    }
}

/// s1 with its purchase of 249.00 SEK confirmed.
fn confirmed() -> SessionView {
    view("s1", SessionState::PurchaseConfirmed, Some(24_900), None)
}

fn ok_view(
    s: &str,
    state: SessionState,
    amount: Option<i64>,
    reward: Option<i64>,
) -> Option<OkValue> {
    Some(OkValue::Session(view(s, state, amount, reward)))
}

fn analytics(opened: u64, completed: u64, paid: i64) -> AnalyticsView {
    AnalyticsView {
        opened,
        completed,
        rejected: 0,
        expired: 0,
        paid_ore: paid,
        remaining_ore: BUDGET - paid,
    }
}

/// The same final reads on every node.
fn finals(sessions: &[(&str, FinalRead<SessionView>)], a: AnalyticsView) -> FinalReads {
    FinalReads {
        nodes: NODES
            .iter()
            .map(|n| NodeFinal {
                node: (*n).into(),
                sessions: sessions
                    .iter()
                    .map(|(id, r)| ((*id).to_owned(), r.clone()))
                    .collect(),
                analytics: [(B.to_owned(), FinalRead::Found(a))].into_iter().collect(),
            })
            .collect(),
    }
}

/// One whole, good flow for session `s1` (purchase 249.00 SEK, reward 19.92 SEK) plus reads.
fn good_flow(h: &mut H) {
    h.opened()
        .buy(11, 20, EventType::Ok)
        .op(
            1,
            21,
            30,
            read("s1"),
            EventType::Ok,
            Some(OkValue::Session(confirmed())),
        )
        .op(
            1,
            31,
            40,
            feedback("s1"),
            EventType::Ok,
            ok_view("s1", SessionState::Rewarded, Some(24_900), Some(1_992)),
        )
        .op(
            1,
            41,
            50,
            read("s1"),
            EventType::Ok,
            ok_view("s1", SessionState::Rewarded, Some(24_900), Some(1_992)),
        )
        .op(
            2,
            51,
            60,
            read_analytics(),
            EventType::Ok,
            Some(OkValue::Analytics(analytics(1, 1, 1_992))),
        );
}

fn final_s1_rewarded() -> (&'static str, FinalRead<SessionView>) {
    (
        "s1",
        FinalRead::Found(view(
            "s1",
            SessionState::Rewarded,
            Some(24_900),
            Some(1_992),
        )),
    )
}

fn only(v: &Verdict, kind: AnomalyKind) {
    assert!(v.count(kind) > 0, "expected {kind}, got {:#?}", v.anomalies);
    let others: Vec<_> = v.anomalies.iter().filter(|a| a.kind != kind).collect();
    assert!(
        others.is_empty(),
        "expected only {kind}, also got {others:#?}"
    );
}

#[test]
fn a_good_history_is_accepted() {
    let mut h = H::new();
    good_flow(&mut h);
    let v = check(
        &h.history,
        &finals(&[final_s1_rewarded()], analytics(1, 1, 1_992)),
    );
    assert!(v.is_valid(), "{:#?}", v.anomalies);
    assert_eq!((v.operations, v.writes_ok, v.sessions), (6, 3, 1));
    assert_eq!(v.reads_checked, 3);
}

#[test]
fn a_lost_acknowledged_purchase_is_rejected() {
    let mut h = H::new();
    h.opened().buy(11, 20, EventType::Ok);
    // After the heal every node has the session only as opened: the acknowledged purchase is gone.
    let v = check(
        &h.history,
        &finals(
            &[(
                "s1",
                FinalRead::Found(view("s1", SessionState::Opened, None, None)),
            )],
            analytics(1, 0, 0),
        ),
    );
    only(&v, AnomalyKind::LostWrite);
    let lost = &v.anomalies[0];
    assert_eq!(lost.subject, "s1");
    assert_eq!(lost.ops, vec![1], "cites the acknowledged purchase");
    assert_eq!(v.count(AnomalyKind::LostWrite), 3, "one per node");
}

#[test]
fn a_lost_acknowledged_open_is_rejected() {
    let mut h = H::new();
    h.opened();
    let v = check(
        &h.history,
        &finals(&[("s1", FinalRead::NotFound)], analytics(1, 0, 0)),
    );
    only(&v, AnomalyKind::LostWrite);
}

#[test]
fn a_lost_settlement_on_the_business_is_rejected() {
    let mut h = H::new();
    good_flow(&mut h);
    // The session says rewarded but the business never counted or paid it.
    let v = check(
        &h.history,
        &finals(&[final_s1_rewarded()], analytics(1, 0, 0)),
    );
    assert!(v.count(AnomalyKind::LostWrite) > 0, "{:#?}", v.anomalies);
}

#[test]
fn a_reward_paid_twice_is_rejected() {
    let mut h = H::new();
    good_flow(&mut h);
    // One rewarded session, but the business counts two completions and charged the budget twice.
    let v = check(
        &h.history,
        &finals(&[final_s1_rewarded()], analytics(1, 2, 2 * 1_992)),
    );
    only(&v, AnomalyKind::DuplicatedEffect);
    assert!(
        v.anomalies[0].detail.contains("twice"),
        "{}",
        v.anomalies[0].detail
    );
}

#[test]
fn two_different_rewards_for_one_session_are_rejected() {
    let mut h = H::new();
    good_flow(&mut h);
    // A retried feedback is acknowledged with a second, different reward.
    h.op(
        3,
        61,
        70,
        feedback("s1"),
        EventType::Ok,
        ok_view("s1", SessionState::Rewarded, Some(24_900), Some(1_245)),
    );
    let v = check(
        &h.history,
        &finals(&[final_s1_rewarded()], analytics(1, 1, 1_992)),
    );
    only(&v, AnomalyKind::DuplicatedEffect);
    assert_eq!(
        v.anomalies[0].ops,
        vec![3, 6],
        "cites both acknowledgements"
    );
}

#[test]
fn a_stale_session_read_is_rejected() {
    let mut h = H::new();
    h.opened()
        .buy(11, 20, EventType::Ok)
        // Invoked after the purchase was acknowledged, yet it sees the session before the purchase.
        .op(
            2,
            25,
            30,
            read("s1"),
            EventType::Ok,
            ok_view("s1", SessionState::Opened, None, None),
        );
    let final_s1 = ("s1", FinalRead::Found(confirmed()));
    let v = check(&h.history, &finals(&[final_s1], analytics(1, 0, 0)));
    only(&v, AnomalyKind::StaleRead);
    assert_eq!(v.anomalies[0].ops, vec![1, 2]);
}

#[test]
fn a_read_going_back_after_another_read_is_stale() {
    let mut h = H::new();
    good_flow(&mut h);
    // The good flow's reads saw "rewarded"; a later read sees "purchase_confirmed" again.
    h.op(
        3,
        70,
        80,
        read("s1"),
        EventType::Ok,
        Some(OkValue::Session(confirmed())),
    );
    let v = check(
        &h.history,
        &finals(&[final_s1_rewarded()], analytics(1, 1, 1_992)),
    );
    only(&v, AnomalyKind::StaleRead);
}

#[test]
fn a_stale_analytics_read_is_rejected() {
    let mut h = H::new();
    good_flow(&mut h);
    // Invoked after the reward was acknowledged, it shows nothing paid.
    h.op(
        3,
        70,
        80,
        read_analytics(),
        EventType::Ok,
        Some(OkValue::Analytics(analytics(1, 0, 0))),
    );
    let v = check(
        &h.history,
        &finals(&[final_s1_rewarded()], analytics(1, 1, 1_992)),
    );
    only(&v, AnomalyKind::StaleRead);
}

#[test]
fn a_read_of_a_never_written_amount_is_rejected() {
    let mut h = H::new();
    h.opened()
        .buy(11, 20, EventType::Ok)
        // 999.00 SEK was never sent by anyone.
        .op(
            2,
            25,
            30,
            read("s1"),
            EventType::Ok,
            ok_view("s1", SessionState::PurchaseConfirmed, Some(99_900), None),
        );
    let final_s1 = ("s1", FinalRead::Found(confirmed()));
    let v = check(&h.history, &finals(&[final_s1], analytics(1, 0, 0)));
    only(&v, AnomalyKind::NeverWritten);
    assert_eq!(
        v.anomalies[0].ops,
        vec![2, 1],
        "cites the read and the purchase really sent"
    );
}

#[test]
fn a_settled_state_without_feedback_is_never_written() {
    let mut h = H::new();
    h.opened().buy(11, 20, EventType::Ok);
    let v = check(
        &h.history,
        &finals(&[final_s1_rewarded()], analytics(1, 1, 1_992)),
    );
    assert!(v.count(AnomalyKind::NeverWritten) > 0, "{:#?}", v.anomalies);
}

#[test]
fn a_value_visible_before_its_write_was_invoked_is_never_written() {
    let mut h = H::new();
    h.opened()
        .op(
            2,
            11,
            15,
            read("s1"),
            EventType::Ok,
            Some(OkValue::Session(confirmed())),
        )
        .buy(20, 30, EventType::Ok);
    let final_s1 = ("s1", FinalRead::Found(confirmed()));
    let v = check(&h.history, &finals(&[final_s1], analytics(1, 0, 0)));
    only(&v, AnomalyKind::NeverWritten);
}

#[test]
fn a_budget_that_does_not_add_up_is_never_written() {
    let mut h = H::new();
    good_flow(&mut h);
    let mut a = analytics(1, 1, 1_992);
    a.remaining_ore = BUDGET;
    let v = check(&h.history, &finals(&[final_s1_rewarded()], a));
    only(&v, AnomalyKind::NeverWritten);
}

#[test]
fn nodes_that_disagree_after_the_heal_diverge() {
    let mut h = H::new();
    good_flow(&mut h);
    let mut f = finals(&[final_s1_rewarded()], analytics(1, 1, 1_992));
    f.nodes[2]
        .analytics
        .insert(B.into(), FinalRead::Found(analytics(2, 1, 1_992)));
    let v = check(&h.history, &f);
    assert!(v.count(AnomalyKind::Divergence) > 0, "{:#?}", v.anomalies);
}

#[test]
fn a_node_that_cannot_answer_after_the_heal_is_reported() {
    let mut h = H::new();
    good_flow(&mut h);
    let mut f = finals(&[final_s1_rewarded()], analytics(1, 1, 1_992));
    f.nodes[0]
        .sessions
        .insert("s1".into(), FinalRead::Failed("503".into()));
    let v = check(&h.history, &f);
    only(&v, AnomalyKind::FinalReadFailed);
}

// ---------- unknown outcomes ----------

#[test]
fn an_info_purchase_may_or_may_not_have_happened() {
    let mut h = H::new();
    h.opened()
        .buy(11, 20, EventType::Info)
        // A concurrent read may see it either way; here it sees it happened.
        .op(
            2,
            12,
            25,
            read("s1"),
            EventType::Ok,
            Some(OkValue::Session(confirmed())),
        );
    let happened = ("s1", FinalRead::Found(confirmed()));
    let v = check(&h.history, &finals(&[happened], analytics(1, 0, 0)));
    assert!(v.is_valid(), "{:#?}", v.anomalies);
    assert_eq!(v.writes_info, 1);

    let mut h = H::new();
    h.opened().buy(11, 20, EventType::Info);
    let not_happened = (
        "s1",
        FinalRead::Found(view("s1", SessionState::Opened, None, None)),
    );
    let v = check(&h.history, &finals(&[not_happened], analytics(1, 0, 0)));
    assert!(v.is_valid(), "{:#?}", v.anomalies);
}

#[test]
fn an_invocation_that_never_completed_counts_as_info() {
    let mut h = H::new();
    h.opened().hang(1, 11, purchase("s1", 24_900));
    let happened = ("s1", FinalRead::Found(confirmed()));
    let v = check(&h.history, &finals(&[happened], analytics(1, 0, 0)));
    assert!(v.is_valid(), "{:#?}", v.anomalies);
    assert_eq!(v.writes_info, 1);
}

#[test]
fn a_failed_purchase_that_shows_up_is_never_written() {
    let mut h = H::new();
    h.opened().buy(11, 20, EventType::Fail);
    let shows = ("s1", FinalRead::Found(confirmed()));
    let v = check(&h.history, &finals(&[shows], analytics(1, 0, 0)));
    only(&v, AnomalyKind::NeverWritten);
}

#[test]
fn a_business_may_have_settled_feedback_whose_outcome_is_unknown() {
    // Feedback is three writes; the client heard nothing back. The business settled and paid, the
    // session's own final write is missing: legitimate, not a duplicate.
    let mut h = H::new();
    h.opened()
        .buy(11, 20, EventType::Ok)
        .op(1, 21, 30, feedback("s1"), EventType::Info, None);
    let pending = ("s1", FinalRead::Found(confirmed()));
    let v = check(
        &h.history,
        &finals(&[pending.clone()], analytics(1, 1, 1_992)),
    );
    assert!(v.is_valid(), "{:#?}", v.anomalies);
    // But not more than the purchase could ever pay.
    let v = check(
        &h.history,
        &finals(&[pending.clone()], analytics(1, 1, 24_901)),
    );
    only(&v, AnomalyKind::DuplicatedEffect);
    // And if the feedback certainly failed, the business has nothing to settle.
    let mut h = H::new();
    h.opened()
        .buy(11, 20, EventType::Ok)
        .op(1, 21, 30, feedback("s1"), EventType::Fail, None);
    let v = check(&h.history, &finals(&[pending], analytics(1, 1, 1_992)));
    only(&v, AnomalyKind::DuplicatedEffect);
}

/// With s1 rewarded, a business counting two openings is valid and three a duplicated effect.
fn two_openings_valid_three_duplicated(history: &History) {
    let v = check(
        history,
        &finals(&[final_s1_rewarded()], analytics(2, 1, 1_992)),
    );
    assert!(v.is_valid(), "{:#?}", v.anomalies);
    let v = check(
        history,
        &finals(&[final_s1_rewarded()], analytics(3, 1, 1_992)),
    );
    only(&v, AnomalyKind::DuplicatedEffect);
}

#[test]
fn an_info_open_whose_session_was_never_learned_may_count_as_opened() {
    let mut h = H::new();
    good_flow(&mut h);
    h.op(3, 70, 80, open("phone-2"), EventType::Info, None);
    // Three openings from two devices is one too many.
    two_openings_valid_three_duplicated(&h.history);
}

#[test]
fn a_delayed_open_may_open_a_second_session_after_the_first_ended() {
    // phone-1's first open timed out; its retry opened s1, which completed. The delayed first
    // request then reached a node and opened a new session for phone-1 (legitimate: opening is
    // idempotent only while a session is open). Two openings, one known session.
    let mut h = H::new();
    h.op(1, 0, 1, open("phone-1"), EventType::Info, None);
    let mut rest = H::new();
    good_flow(&mut rest);
    for mut e in rest.history.events {
        e.time_us += 2;
        h.history.events.push(e);
    }
    // A third opening has no request that could have made it.
    two_openings_valid_three_duplicated(&h.history);
}

#[test]
fn a_read_concurrent_with_a_write_may_see_either_state() {
    let mut h = H::new();
    h.opened()
        .buy(11, 30, EventType::Ok)
        // Overlaps the purchase: the old state is fine.
        .op(
            2,
            15,
            25,
            read("s1"),
            EventType::Ok,
            ok_view("s1", SessionState::Opened, None, None),
        );
    let final_s1 = ("s1", FinalRead::Found(confirmed()));
    let v = check(&h.history, &finals(&[final_s1], analytics(1, 0, 0)));
    assert!(v.is_valid(), "{:#?}", v.anomalies);
}

#[test]
fn a_malformed_history_is_reported_not_judged() {
    let mut h = H::new();
    h.push(1, EventType::Ok, 5, &open("phone-1"), None, None);
    let v = check(&h.history, &FinalReads::default());
    only(&v, AnomalyKind::MalformedHistory);
}
