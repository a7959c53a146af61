//! Where an actor call runs: the one place that decides it ([`decide`]) and carries it out
//! ([`deliver`]): here, on the owning node (over QUIC, through [`super::remote`]), here after taking
//! the actor over from a lost owner, or on a successor after handing the actor off.

use std::rc::Rc;

use svea_cluster::Verdict;
use svea_config::Region;
use svea_storage::{Owner, RaftNodeId};

use super::registry::Router;
use super::{placement, ActorEnv, ActorError, ActorKey, Call, Hosted, Op};

/// Rounds of "decide, deliver" per call: a fenced or misrouted attempt refreshes the local view
/// (read barrier) and decides again.
pub const ROUTE_ATTEMPTS_MAX: usize = 3;

/// Where a call goes, decided from this node's view of the owner records, the membership and
/// the failure detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Serve it here: this node owns the actor, or places a new one here.
    Local,
    /// Send it to the node that owns (or will own) the actor.
    Remote(RaftNodeId),
    /// The owner left or has been unreachable for `failover_after`: serve it here; the
    /// activation claims the next epoch, which fences the old owner if it comes back.
    TakeOver {
        /// The lost owner.
        from: RaftNodeId,
    },
    /// This node is draining: hand the actor to a successor first, then send the call there.
    HandOff(Owner),
    /// No owner in this node's view: confirm with the leader (read barrier) and decide again.
    Refresh,
    /// No owner after a refresh, and the call cannot create the actor.
    NotFound,
}

/// Decides where a call for an actor with `owner` goes. `creates`: the call may create the
/// actor; `home`: the region a new actor should live in (default: this node's); `refreshed`:
/// the view was confirmed with the leader during this call; `forwarded`: another node sent the
/// call here believing this node owns the actor.
pub fn decide(env: &ActorEnv, owner: Option<Owner>, creates: bool, home: Option<&Home>, refreshed: bool, forwarded: bool) -> Route {
    let me = env.cluster.id();
    let draining = placement::is_draining(&env.cluster, me);
    match owner {
        Some(o) if o.node == me && !draining => Route::Local,
        // A draining node serves nothing itself: it hands the actor on, then routes there.
        Some(o) if o.node == me => Route::HandOff(o),
        Some(o) if !forwarded && placement::owner_lost(&env.cluster, o.node) => {
            if draining {
                Route::HandOff(o)
            } else {
                Route::TakeOver { from: o.node }
            }
        }
        Some(o) => Route::Remote(o.node),
        // The sender placed a new actor here: honour it, even where this node's view would
        // place it elsewhere (the two failure detectors may briefly disagree about a node that
        // just restarted, and bouncing the call back would fail it). The claim's expected
        // epoch 0 still fences a concurrent creator; a draining node hands it on.
        None if creates && forwarded && !draining => Route::Local,
        None if creates => match home {
            Some(h) => place(env, &h.region, h.leader, draining),
            None => place(env, &env.region, None, draining),
        },
        None if !refreshed => Route::Refresh,
        None => Route::NotFound,
    }
}

/// Where a new actor should live: a region, and the node there that leads the actor's Raft group
/// (when one does), whose writes then need no forwarding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    /// The region.
    pub region: Region,
    /// The leader of the actor's group, when it is a member of `region`.
    pub leader: Option<RaftNodeId>,
}

/// Where a new actor of stored key `actor` lives: in the region its operation names (a business
/// created for its home region), else in this node's region (a session opens in the customer's
/// nearest region, which GeoIP made this one); there, on the node leading the actor's Raft group
/// when it is a member of that region, so the actor's writes are proposed where they are ordered.
pub fn home_of(env: &ActorEnv, actor: &str, named: Option<&Region>) -> Home {
    let region = named.cloned().unwrap_or_else(|| env.region.clone());
    let leader = env
        .cluster
        .group(env.cluster.placer().actor(actor))
        .and_then(|g| g.leader())
        .filter(|l| env.cluster.member(*l).is_some_and(|n| n.region == region.as_str()));
    Home { region, leader }
}

/// Where a new actor lives: in `home` (this node if it is there and leads the actor's group or
/// no leader is known there, else the group's `leader` when it is a candidate, else the best
/// candidate of the region). A draining node places nothing on itself.
fn place(env: &ActorEnv, home: &Region, leader: Option<RaftNodeId>, draining: bool) -> Route {
    let me = env.cluster.id();
    if *home == env.region && !draining && leader.is_none_or(|l| l == me) {
        return Route::Local;
    }
    let exclude = draining.then_some(me);
    let candidates = placement::candidates(&env.cluster, &env.regions, home.as_str(), exclude);
    if let Some(l) = leader.filter(|l| candidates.contains(l)) {
        return if l == me { Route::Local } else { Route::Remote(l) };
    }
    match candidates.first() {
        Some(id) if *id == me => Route::Local,
        Some(id) => Route::Remote(*id),
        // Nobody else can take it: serving here beats refusing.
        None => Route::Local,
    }
}

/// Delivers one call to the actor's owner, following [`decide`]. A fenced local attempt, or a
/// remote node saying it is not the owner, refreshes this node's view and decides again; a
/// remote owner (or the leader of a local attempt's writes) that stops answering is waited for
/// until the failure detector's verdict (at most `failover_after` after its last answer), and
/// when it is lost the call is decided again, which takes the actor over (or writes through the
/// new leader). So a call in the takeover window is one slow answer instead of a 503.
pub async fn deliver<O: Op>(router: &Rc<Router>, id: <O::Actor as Hosted>::Id, op: O, forwarded: bool) -> Result<O::Reply, ActorError>
{
    let env = &router.env;
    let key = O::Actor::key(&id);
    let stored = key.stored();
    let mut refreshed = false;
    let mut last_err = None;
    for _ in 0..ROUTE_ATTEMPTS_MAX {
        let owner = env.cluster.view().owner(&stored)?;
        let home = (owner.is_none() && O::CREATES).then(|| home_of(env, &stored, op.home_region()));
        let route = match decide(env, owner, O::CREATES, home.as_ref(), refreshed, forwarded) {
            Route::HandOff(o) => match hand_off(env, &stored, o).await? {
                Some(route) => route,
                // The claim raced with another: look again.
                None => continue,
            },
            Route::Refresh => {
                env.cluster.read_barrier_for_actor(&stored).await?;
                refreshed = true;
                continue;
            }
            Route::NotFound => return Err(ActorError::not_found(&key)),
            other => other,
        };
        let result = match route {
            // A forwarded call is only ever served by the owner: a second hop would mean our
            // views disagree, so let the sender refresh instead of bouncing the call around.
            Route::Remote(_) if forwarded => Err(ActorError::Fenced { key: stored.clone() }),
            Route::Remote(node) => {
                let sent = tokio::time::Instant::now();
                match super::remote::forward(env, node, id.clone(), op.clone()).await {
                    Ok(answer) => answer,
                    // The owner went silent: it may be dead but not yet declared so (the takeover
                    // window). Wait for the failure detector's verdict instead of answering 503;
                    // once the owner is lost, deciding again takes the actor over. Running the
                    // operation again is safe: every operation is idempotent, as a client retry
                    // relies on, and the takeover's new epoch fences anything the old owner sends.
                    Err(unanswered) => match env.cluster.await_verdict(node, sent).await {
                        Verdict::Lost => {
                            tracing::debug!(actor = %key, owner = node, "owner lost during the call; routing again");
                            last_err = Some(unanswered.0.into());
                            continue;
                        }
                        Verdict::Alive | Verdict::Undecided => Err(unanswered.0.into()),
                    },
                }
            }
            _ => {
                // The same window for the leader this node's writes go through: a write forwarded
                // to a leader that dies mid-call fails with an unknown outcome, and the actor
                // deactivates (the next activation reloads what the store has). Once the leader
                // is declared lost, run the call again: its writes then wait for the new leader.
                let leader = reachable_leader(env);
                let sent = tokio::time::Instant::now();
                let result = deliver_local::<O>(router, &key, &id, op.clone()).await;
                if let (Err(ActorError::Unavailable(_)), Some(l)) = (&result, leader) {
                    if env.cluster.await_verdict(l, sent).await == Verdict::Lost {
                        tracing::debug!(actor = %key, leader = l, "leader lost during the call; routing again");
                        last_err = result.err();
                        continue;
                    }
                }
                result
            }
        };
        match result {
            Err(ActorError::Fenced { .. }) => {
                last_err = result.err();
                env.cluster.read_barrier_for_actor(&stored).await?;
                refreshed = true;
            }
            other => return other,
        }
    }
    Err(last_err.unwrap_or_else(|| ActorError::Unavailable(format!("could not route to {key}"))))
}

/// The leader this node's writes go through, when it is another node and still reachable (a
/// leader already declared lost is waited for by the write path itself).
fn reachable_leader(env: &ActorEnv) -> Option<RaftNodeId> {
    let leader = env.cluster.leader()?;
    (leader != env.cluster.id() && env.cluster.health().node_reachable(leader)).then_some(leader)
}

/// Hands `actor`, owned by `owner` (this node, or a lost node while this one drains), to the
/// best successor with a fenced claim in the successor's name. `None`: the claim raced with
/// another and the caller should look again; `Some(Local)` when no other node can take it.
async fn hand_off(env: &ActorEnv, actor: &str, owner: Owner) -> Result<Option<Route>, ActorError> {
    let me = env.cluster.id();
    let Some(to) = placement::candidates(&env.cluster, &env.regions, env.region.as_str(), Some(me)).first().copied() else {
        return Ok(Some(Route::Local));
    };
    let moved = placement::hand_to(&env.cluster, actor, owner, to).await?;
    Ok(moved.then_some(Route::Remote(to)))
}

async fn deliver_local<O: Op>(router: &Rc<Router>, key: &ActorKey, id: &<O::Actor as Hosted>::Id, op: O) -> Result<O::Reply, ActorError>
{
    if !O::CREATES && !router.is_active::<O::Actor>(id) && !exists(&router.env, key).await? {
        return Err(ActorError::not_found(key));
    }
    let (addr, instance) = router.acquire::<O::Actor>(id)?;
    let result = match addr.send(Call(op)).await {
        Ok(r) => r,
        // The actor stopped between routing and delivery (passivation race or a fenced write).
        Err(e) => Err(ActorError::Fenced { key: format!("mailbox: {e}") }),
    };
    router.release::<O::Actor>(id, instance, super::cell::must_deactivate(&result));
    result
}

/// Whether the actor has state in the store; confirms with the leader before saying no.
async fn exists(env: &ActorEnv, key: &ActorKey) -> Result<bool, ActorError> {
    let k = key.stored();
    if env.cluster.view().state(&k)?.is_some() {
        return Ok(true);
    }
    env.cluster.read_barrier_for_actor(&k).await?;
    Ok(env.cluster.view().state(&k)?.is_some())
}
