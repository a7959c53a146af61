//! The actor runtime in-process: a plain tokio current-thread runtime with a `LocalSet`, no actix
//! `System`, the real store and Raft underneath.

use std::sync::Arc;
use std::time::Duration;

use svea_node::actors::{ActorError, SystemClock};
use svea_node::domain::{DeviceId, Ore, RewardPolicy, RubricScorer};
use svea_node::core::{start, Core, NodeHandle, SessionMsg};
use svea_node::domain::{CreateBusiness, NewLocation};

use crate::poll::eventually_async;

fn config(dir: &std::path::Path, idle_ms: u64, mailbox: usize, failover_ms: u64) -> svea_config::Config {
    let mut raw = svea_config::RawConfig::default();
    raw.node.data_dir = dir.to_string_lossy().into_owned();
    raw.timeouts.actor_idle_ms = idle_ms;
    raw.limits.actor_mailbox_len = mailbox;
    raw.timeouts.failover_after_ms = failover_ms;
    raw.validate().expect("config")
}

/// Long enough that a (fake) other owner counts as alive for the whole test.
const OWNER_ALIVE_MS: u64 = 600_000;

fn run<F: std::future::Future<Output = ()>>(f: F) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    tokio::task::LocalSet::new().block_on(&rt, f);
}

async fn started(dir: &std::path::Path, idle_ms: u64, mailbox: usize) -> (Core, NodeHandle) {
    started_with(dir, idle_ms, mailbox, OWNER_ALIVE_MS).await
}

async fn started_with(dir: &std::path::Path, idle_ms: u64, mailbox: usize, failover_ms: u64) -> (Core, NodeHandle) {
    let core = start(config(dir, idle_ms, mailbox, failover_ms), Arc::new(SystemClock), Arc::new(RubricScorer::new())).await.expect("start");
    let node = core.handle.clone();
    eventually_async(Duration::from_secs(20), "the node ready", || node.ready()).await;
    (core, node)
}

async fn business(node: &NodeHandle) -> svea_node::actors::business::Business {
    let request = CreateBusiness::new(
        "Bageriet",
        crate::harness::next_org_number(),
        vec![NewLocation::new("Storgatan", 59.3, 18.0).expect("location")],
        Ore::parse_sek("100.00").expect("sek"),
        RewardPolicy::default(),
    )
    .expect("valid business");
    node.create_business(request).await.expect("create business").0
}

/// A business with one open session; returns both and the session's store key.
async fn business_and_session(node: &NodeHandle) -> (svea_node::actors::business::Business, svea_node::actors::session::Session, String) {
    let b = business(node).await;
    let (s, _) = node.open_session(b.locations[0].qr_token.clone(), "d1".parse::<DeviceId>().expect("dev"), None).await.expect("open");
    let key = format!("session/{}", s.id);
    (b, s, key)
}

/// The current owner epoch of `key`.
fn epoch_of(node: &NodeHandle, key: &str) -> u64 {
    node.cluster().view().owner(key).expect("read").expect("owned").epoch
}

/// Node 2 claims `key` behind the live actor's back (a takeover elsewhere).
/// Node 2 joins as a learner (it never answers: this test has no transport, so it counts as
/// alive only while within `failover_after` of startup) and claims `key`.
async fn claim_for_node_2(node: &NodeHandle, key: &str, expected_epoch: u64) -> svea_storage::CommandResult {
    if !node.cluster().is_member(2) {
        let two = svea_storage::SveaNode { region: "gothenburg".into(), raft_addr: "127.0.0.1:9".into(), ..Default::default() };
        node.cluster().raft().add_learner(2, two, false).await.expect("add node 2 as learner");
    }
    node.cluster()
        .write(svea_storage::Command::Claim { actor: key.to_string(), node: 2, expected_epoch })
        .await
        .expect("claim")
        .result
}

#[test]
fn a_full_mailbox_answers_busy_instead_of_queueing() {
    let dir = tempfile::tempdir().expect("tmp");
    run(async {
        let (core, node) = started(dir.path(), 60_000, 1).await;
        let (_, s, _) = business_and_session(&node).await;
        // The actor is active; with one slot, a second call while the first is in flight is refused.
        let (first, second) = tokio::join!(node.session(s.id.clone(), SessionMsg::Get), node.session(s.id.clone(), SessionMsg::Get));
        assert!(first.is_ok(), "{first:?}");
        assert!(matches!(second, Err(ActorError::Busy { .. })), "{second:?}");
        // Backpressure is momentary: the next call succeeds.
        assert!(node.session(s.id.clone(), SessionMsg::Get).await.is_ok());
        core.shutdown().await;
    });
}

#[test]
fn idle_actors_passivate_and_reactivate_with_a_new_epoch_and_their_state() {
    let dir = tempfile::tempdir().expect("tmp");
    run(async {
        let (core, node) = started(dir.path(), 200, 8).await;
        let (_, s, key) = business_and_session(&node).await;
        let epoch_before = epoch_of(&node, &key);
        assert!(node.active_actors() >= 2);
        eventually_async(Duration::from_secs(10), "every actor passivated", || async { node.active_actors() == 0 }).await;
        let again = node.session(s.id.clone(), SessionMsg::Get).await.expect("reactivate");
        assert_eq!(again, s, "state reloaded from the store");
        let owner = node.cluster().view().owner(&key).expect("read").expect("owned");
        assert_eq!(owner.epoch, epoch_before + 1, "each activation claims the next epoch");
        assert_eq!(owner.node, 1);
        core.shutdown().await;
    });
}

#[test]
fn a_stale_activation_is_fenced_and_never_takes_the_actor_back() {
    let dir = tempfile::tempdir().expect("tmp");
    run(async {
        let (core, node) = started(dir.path(), 60_000, 8).await;
        let (_, s, key) = business_and_session(&node).await;
        // Another node claims the session behind the live actor's back (a takeover elsewhere).
        let epoch = epoch_of(&node, &key);
        let claimed = claim_for_node_2(&node, &key, epoch).await;
        assert!(matches!(claimed, svea_storage::CommandResult::Claimed(o) if o.node == 2));
        let stored_before = node.cluster().view().state(&key).expect("read");
        // The live actor's write is refused by epoch; the node then routes to the new owner
        // (unreachable here: this test has no transport) instead of claiming the actor back.
        let r = node
            .session(
                s.id.clone(),
                SessionMsg::ConfirmPurchase {
                    amount: Ore::parse_sek("50.00").expect("sek"),
                    purchased_at: chrono::Utc::now(),
                    transaction_id: "T-1".parse().expect("txn"),
                },
            )
            .await;
        assert!(matches!(r, Err(ActorError::Unavailable(_))), "{r:?}");
        let owner = node.cluster().view().owner(&key).expect("read").expect("owned");
        assert_eq!((owner.node, owner.epoch), (2, epoch + 1), "ownership stays with the new owner");
        assert_eq!(node.cluster().view().state(&key).expect("read"), stored_before, "the stale write changed nothing");
        core.shutdown().await;
    });
}

#[test]
fn reads_after_a_takeover_go_to_the_new_owner_not_the_old_activation() {
    let dir = tempfile::tempdir().expect("tmp");
    run(async {
        let (core, node) = started(dir.path(), 60_000, 8).await;
        let (b, s, key) = business_and_session(&node).await;
        // The actor is live and answers reads.
        assert!(node.session(s.id.clone(), SessionMsg::Get).await.is_ok());
        let epoch = epoch_of(&node, &key);
        // The majority hands the session to node 2 (as a takeover after a partition would).
        claim_for_node_2(&node, &key, epoch).await;
        // A read must not come from the stale activation's memory: it is routed to the owner
        // (unreachable in this test), so the caller gets 503, not yesterday's state.
        let r = node.session(s.id.clone(), SessionMsg::Get).await;
        assert!(matches!(r, Err(ActorError::Unavailable(_))), "stale read answered: {r:?}");
        let b2 = node.business(b.id.clone()).await.expect("business still owned here");
        assert_eq!(b2.id, b.id);
        core.shutdown().await;
    });
}

#[test]
fn an_actor_whose_owner_is_unreachable_is_taken_over_with_the_next_epoch() {
    let dir = tempfile::tempdir().expect("tmp");
    run(async {
        let (core, node) = started_with(dir.path(), 60_000, 8, 300).await;
        let (_, s, key) = business_and_session(&node).await;
        let epoch = epoch_of(&node, &key);
        // Node 2 claims the session and is then never heard from.
        claim_for_node_2(&node, &key, epoch).await;
        eventually_async(Duration::from_secs(10), "node 2 counted as unreachable", || async { !node.cluster().health().node_reachable(2) }).await;
        // The next request takes the session over and continues where its last write left it.
        let p = node
            .session(
                s.id.clone(),
                SessionMsg::ConfirmPurchase {
                    amount: Ore::parse_sek("50.00").expect("sek"),
                    purchased_at: chrono::Utc::now(),
                    transaction_id: "T-1".parse().expect("txn"),
                },
            )
            .await
            .expect("served after takeover");
        assert_eq!(p.opened_at, s.opened_at);
        let owner = node.cluster().view().owner(&key).expect("read").expect("owned");
        assert_eq!((owner.node, owner.epoch), (1, epoch + 2));
        core.shutdown().await;
    });
}
