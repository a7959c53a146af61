//! Concurrent customer flows (open, confirm, feedback, with client retries) and business reads,
//! all through `NodeHandle` on the simulated hosts. Every call is recorded in the trace, and what
//! the cluster acknowledged is kept for the checkers.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use svea_node::actors::business::Business;
use svea_node::actors::session::{Session, SessionState};
use svea_node::actors::ActorError;
use svea_node::domain::{BusinessId, DeviceId, OrgNumber, Ore, QrToken, RewardPolicy, SessionId, TransactionId};
use svea_node::core::SessionMsg;
use svea_node::domain::{CreateBusiness, NewLocation};

use super::host::{call, Answer, NoAnswer, Op, Slot, REGIONS};
use crate::customers;
use super::net::Shared;
use super::trace::{self, Trace};

/// One client call waits at most this long (simulated) before it counts as unknown.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(8);
/// Attempts per step of a flow (the first plus retries).
pub const ATTEMPTS_MAX: u32 = 6;
/// Pause between attempts, doubled each time up to [`BACKOFF_MAX`].
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Longest pause between attempts.
pub const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Feedback texts the rubric scores in different tiers, the last one too short to reward. The
/// same four in the same order as before they were shared: a seed replays the same workload.
const REVIEWS: [&str; 4] = [customers::REVIEWS[0], customers::REVIEWS[2], customers::REVIEWS[6], "Bra."];

/// A business as the workload knows it.
#[derive(Debug, Clone)]
pub struct KnownBusiness {
    /// Id.
    pub id: BusinessId,
    /// Its first location's QR token.
    pub token: QrToken,
    /// Budget it was created with.
    pub budget: Ore,
}

/// What the cluster acknowledged for one session.
#[derive(Debug, Clone, Default)]
pub struct KnownSession {
    /// Index into the business list.
    pub business: usize,
    /// Purchase confirmed (acknowledged): amount.
    pub confirmed: Option<Ore>,
    /// Feedback settled (acknowledged): final state and reward paid.
    pub settled: Option<(SessionState, Ore)>,
}

/// Everything the workload learned, shared with the checkers.
#[derive(Default)]
pub struct Model {
    /// Businesses whose creation was acknowledged.
    pub businesses: Vec<KnownBusiness>,
    /// Sessions whose opening was acknowledged.
    pub sessions: BTreeMap<SessionId, KnownSession>,
    /// Violations seen during the run (budget on reads).
    pub violations: Vec<String>,
    /// Calls made, acknowledged, failed, unknown.
    pub calls: [u64; 4],
    /// Flows completed (feedback settled).
    pub flows_done: u64,
    /// Acknowledged calls that write (create, open, confirm, feedback).
    pub write_acks: u64,
}

/// The workload's shared context.
#[derive(Clone)]
pub struct Ctx {
    /// Per region, the host slot (index = region order in [`REGIONS`]).
    pub slots: Rc<Vec<Shared<Slot>>>,
    /// The model.
    pub model: Shared<Model>,
    /// The trace.
    pub trace: Shared<Trace>,
}

impl Ctx {
    fn record(&self, event: String) {
        self.trace.borrow_mut().record(trace::now(), event);
    }

    /// One call with retries: `Ok` when acknowledged, `Err` with the last problem otherwise.
    /// Retries go to the next region when a host is down, as a customer's app would.
    async fn call_retrying(&self, who: &str, region: usize, what: &str, op: Op) -> Result<Answer, String> {
        let mut backoff = BACKOFF_MIN;
        let mut target = region;
        let mut last = String::new();
        for attempt in 0..ATTEMPTS_MAX {
            let name = REGIONS[target].0;
            self.record(format!("{who} invoke {what} @{name} #{attempt}"));
            self.model.borrow_mut().calls[0] += 1;
            match call(&self.slots[target], op.clone(), CALL_TIMEOUT).await {
                Ok(Ok(answer)) => {
                    self.model.borrow_mut().calls[1] += 1;
                    if !what.starts_with("read") {
                        self.model.borrow_mut().write_acks += 1;
                    }
                    self.record(format!("{who} ok {what}"));
                    return Ok(answer);
                }
                Ok(Err(e)) => {
                    let kind = error_kind(&e);
                    self.record(format!("{who} fail {what} {kind}"));
                    self.model.borrow_mut().calls[2] += 1;
                    last = e.to_string();
                    if !retryable(&e) {
                        return Err(last);
                    }
                }
                Err(NoAnswer::Refused) => {
                    self.record(format!("{who} refused {what}"));
                    self.model.borrow_mut().calls[2] += 1;
                    last = format!("{name} is down");
                    target = (target + 1) % REGIONS.len();
                }
                Err(NoAnswer::Lost) => {
                    self.record(format!("{who} info {what}"));
                    self.model.borrow_mut().calls[3] += 1;
                    last = "no answer".into();
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
        Err(last)
    }
}

fn error_kind(e: &ActorError) -> &'static str {
    match e {
        ActorError::Domain(_) => "domain",
        ActorError::NotFound { .. } => "not-found",
        ActorError::Conflict { .. } => "conflict",
        ActorError::Busy { .. } => "busy",
        ActorError::Unavailable(_) => "unavailable",
        ActorError::Fenced { .. } => "fenced",
        ActorError::Internal(_) => "internal",
    }
}

/// Errors after which the same request may be sent again (every step is idempotent).
fn retryable(e: &ActorError) -> bool {
    // NotFound too: a session opened through a node that then lost its quorum may be unknown to a
    // node whose view is behind until the read barrier catches up.
    matches!(e, ActorError::Busy { .. } | ActorError::Unavailable(_) | ActorError::Fenced { .. } | ActorError::NotFound { .. })
}

/// Creates `n` businesses through Stockholm (retrying until acknowledged or out of attempts).
pub async fn setup(ctx: &Ctx, n: usize, budget: Ore) -> Result<(), String> {
    for b in 0..n {
        // Stockholm, Gothenburg, Malmö: homes in every region.
        let location = match b % 3 {
            0 => NewLocation::new("Götgatan", 59.31, 18.07),
            1 => NewLocation::new("Avenyn", 57.70, 11.97),
            _ => NewLocation::new("Stortorget", 55.60, 13.00),
        }
        .map_err(|e| e.to_string())?;
        let org_number = OrgNumber::numbered(u32::try_from(b).map_err(|e| e.to_string())?);
        let req = CreateBusiness::new(&format!("Kafé {b}"), org_number, vec![location], budget, RewardPolicy::default())
            .map_err(|e| e.to_string())?;
        match ctx.call_retrying("setup", 0, &format!("create b{b}"), Op::CreateBusiness(req)).await? {
            Answer::Business(biz) => {
                let token = biz.locations.first().map(|l| l.qr_token.clone()).ok_or("business without location")?;
                ctx.model.borrow_mut().businesses.push(KnownBusiness { id: biz.id.clone(), token, budget: biz.funds().funded });
            }
            Answer::Session(_) => return Err("create answered with a session".into()),
        }
    }
    Ok(())
}

/// One customer client in `region`: flows until simulated time `until`.
pub async fn customer(ctx: Ctx, client: usize, region: usize, seed: u64, until: Duration) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut k = 0u64;
    while trace::now() < until {
        k += 1;
        let who = format!("c{client}.{k}");
        let n_biz = ctx.model.borrow().businesses.len();
        if n_biz == 0 {
            return;
        }
        let b = rng.gen_range(0..n_biz);
        if rng.gen_bool(0.25) {
            read_business(&ctx, &who, region, b).await;
        }
        flow(&ctx, &who, region, b, &mut rng, client, k).await;
        let pause = rng.gen_range(0..300u64);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

async fn read_business(ctx: &Ctx, who: &str, region: usize, b: usize) {
    let id = ctx.model.borrow().businesses[b].id.clone();
    if let Ok(Answer::Business(biz)) = ctx.call_retrying(who, region, &format!("read b{b}"), Op::GetBusiness(id)).await {
        check_budget(ctx, &biz, "read during the run");
    }
}

/// Budget invariant on one observed business (see `invariants::budget`).
pub fn check_budget(ctx: &Ctx, biz: &Business, when: &str) {
    if let Some(v) = super::invariants::budget::check(biz, when) {
        ctx.model.borrow_mut().violations.push(v);
    }
}

async fn flow(ctx: &Ctx, who: &str, region: usize, b: usize, rng: &mut StdRng, client: usize, k: u64) {
    let token = ctx.model.borrow().businesses[b].token.clone();
    let device = device_of(DEVICE_OF_FLOW, client as u64, k);
    let Ok(txn) = format!("T-{client}-{k}").parse::<TransactionId>() else { return };
    let opened = ctx.call_retrying(who, region, &format!("open b{b}"), Op::Open { token, device }).await;
    let Ok(Answer::Session(s)) = opened else { return };
    let sid = s.id.clone();
    ctx.model.borrow_mut().sessions.entry(sid.clone()).or_insert(KnownSession { business: b, ..Default::default() });
    let amount = Ore::from_ore(rng.gen_range(5_000..=60_000));
    let purchased_at = super::host::SimClock.now_minus(Duration::from_secs(60));
    let confirm = SessionMsg::ConfirmPurchase { amount, purchased_at, transaction_id: txn };
    if ctx.call_retrying(who, region, "confirm", Op::Session(sid.clone(), confirm)).await.is_err() {
        return;
    }
    if let Some(known) = ctx.model.borrow_mut().sessions.get_mut(&sid) {
        known.confirmed = Some(amount);
    }
    // The tier mix of REVIEWS, each customer writing their own text (a business pays a text, or a
    // near copy, once): reward-tier, mixed, mixed, too short.
    let text = match rng.gen_range(0..REVIEWS.len()) {
        0 => customers::rewarded_review(rng),
        i if i + 1 < REVIEWS.len() => customers::review(rng),
        i => REVIEWS[i].to_string(),
    };
    let Ok(Answer::Session(done)) = ctx.call_retrying(who, region, "feedback", Op::Session(sid.clone(), SessionMsg::Feedback { text })).await
    else {
        return;
    };
    let paid = settled_amount(&done);
    if let Some(known) = ctx.model.borrow_mut().sessions.get_mut(&sid) {
        known.settled = Some((done.state, paid));
    }
    ctx.model.borrow_mut().flows_done += 1;
}

const DEVICE_OF_FLOW: u8 = 1;
const DEVICE_OF_PROBE: u8 = 2;

/// A customer's device, as svea issues one (256 fresh bits), from a generator seeded by who the
/// customer is: a seed replays the same devices, and the run's own generators draw nothing more.
fn device_of(kind: u8, a: u64, b: u64) -> DeviceId {
    let mut seed = [0u8; 32];
    seed[0] = kind;
    seed[8..16].copy_from_slice(&a.to_le_bytes());
    seed[16..24].copy_from_slice(&b.to_le_bytes());
    DeviceId::generate(&mut StdRng::from_seed(seed))
}

/// The reward a session's settlement paid (0 when unsettled or rejected).
pub fn settled_amount(s: &Session) -> Ore {
    s.feedback.as_ref().and_then(|f| f.settlement.as_ref()).map(|st| st.decision.amount).unwrap_or(Ore::ZERO)
}

/// A complete flow on `region` that must succeed (the liveness probe after healing).
pub async fn probe(ctx: &Ctx, region: usize, n: u64) -> Result<(), String> {
    let who = format!("probe{region}.{n}");
    let token = ctx.model.borrow().businesses.first().map(|b| b.token.clone()).ok_or("no business")?;
    let device = device_of(DEVICE_OF_PROBE, region as u64, n);
    let txn = format!("P-{region}-{n}").parse::<TransactionId>().map_err(|e| e.to_string())?;
    let Answer::Session(s) = ctx.call_retrying(&who, region, "open", Op::Open { token, device }).await? else {
        return Err("open answered with a business".into());
    };
    let confirm = SessionMsg::ConfirmPurchase {
        amount: Ore::from_ore(10_000),
        purchased_at: super::host::SimClock.now_minus(Duration::from_secs(60)),
        transaction_id: txn,
    };
    ctx.call_retrying(&who, region, "confirm", Op::Session(s.id.clone(), confirm)).await?;
    let fb = SessionMsg::Feedback { text: REVIEWS[0].to_string() };
    let Answer::Session(done) = ctx.call_retrying(&who, region, "feedback", Op::Session(s.id.clone(), fb)).await? else {
        return Err("feedback answered with a business".into());
    };
    ctx.model.borrow_mut().sessions.insert(s.id.clone(), KnownSession {
        business: 0,
        confirmed: Some(Ore::from_ore(10_000)),
        settled: Some((done.state, settled_amount(&done))),
    });
    Ok(())
}
