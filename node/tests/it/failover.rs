//! Losing a region: the survivors elect a leader, take over its actors, and lose nothing.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::*;
use crate::load::{assert_nothing_lost, Load};

/// Kills every node of the leader's region (one node each here) under a steady customer load
/// on the other two; returns the time from the kill to the first write acknowledged through a
/// survivor that was sent after the kill. Asserts no customer request failed and nothing
/// acknowledged was lost.
fn kill_leader_region_under_load(dir: &std::path::Path) -> Duration {
    let c = Cluster3::start(dir, &[]);
    let leader = c.leader_index();
    let survivors: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    // The business lives in the leader's region, so its actor must be taken over as well.
    let (lat, lon) = [(59.33, 18.06), (57.71, 11.97), (55.60, 13.00)][leader];
    let Biz { id: bid, token, key } = create_business_at(&c.nodes[leader], lat, lon);
    let load = Load::start(survivors.iter().map(|i| c.nodes[*i].url.clone()).collect(), &token, 3);
    let flows = |l: &Load| l.flows.load(std::sync::atomic::Ordering::Relaxed);
    let wait_flows = |l: &Load, n: u64, what: &str| {
        eventually(Duration::from_secs(60), format_args!("{n} flows {what}"), || {
            let done = flows(l);
            if done >= n {
                Ok(())
            } else {
                Err(format!("only {done} flows"))
            }
        })
    };
    wait_flows(&load, 5, "before the kill");
    let mut c = c;
    c.nodes[leader].kill9();
    let killed = Instant::now();
    let at_kill = flows(&load);
    wait_flows(&load, at_kill + 10, "after the kill");
    let log = load.stop();
    let first = log.first_ack_sent_after(killed).expect("an acknowledgement after the kill") - killed;
    assert!(log.failures.is_empty(), "customer requests failed: {:?}", log.failures);
    let s = survivors[0];
    assert_nothing_lost(&log, |sid| {
        let r = c.nodes[s].get(&format!("/v1/sessions/{sid}"));
        (r.status, r.body)
    });
    let rewarded = log.last_states().values().filter(|a| a.state == "rewarded").count() as u64;
    let a = c.nodes[s].get_as(&format!("/v1/businesses/{bid}/analytics"), &key);
    assert_eq!(a.body["sessions"]["completed"].as_u64(), Some(rewarded), "each acknowledged reward counted once: {}", a.body);
    eprintln!(
        "leader region {} killed under load: first acknowledged write {first:?} after SIGKILL; {} steps acknowledged, {} 503s retried",
        REGIONS[leader],
        log.acks.len(),
        log.retried_503
    );
    first
}

#[test]
fn killing_the_leaders_region_under_load_keeps_the_others_serving_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    kill_leader_region_under_load(dir.path());
}

#[test]
fn killing_the_leaders_region_loses_no_acknowledged_step_and_service_resumes() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut c = Cluster3::start(dir.path(), &[("timeouts.failover_after_ms", "1000")]);
    let leader = c.leader_index();
    let survivor = (leader + 1) % 3;
    // A business and sessions owned by the leader's node, each with an acknowledged purchase.
    let Biz { id: bid, token, key } = create_business(&c.nodes[leader], "100000.00");
    let mut sessions = Vec::new();
    for i in 0..5 {
        let sid = open_session(&c.nodes[leader], &token);
        let p = purchase(&c.nodes[leader], &sid, "100.00", &format!("T-{i}"));
        assert_eq!(p.status, 200, "{}", p.body);
        sessions.push((sid, p.body));
    }

    c.nodes[leader].kill9();
    let killed = Instant::now();
    // Retry through a survivor until the first write is acknowledged (new leader + takeover).
    let (first_sid, _) = &sessions[0];
    let first = eventually(Duration::from_secs(30), "a write acknowledged through a survivor after the kill", || {
        let f = feedback(&c.nodes[survivor], first_sid, distinct_feedback(0));
        if f.status == 200 {
            return Ok(f);
        }
        assert_eq!(f.status, 503, "only 'unavailable, retry' is acceptable meanwhile: {}", f.body);
        Err(f.body)
    });
    let to_first_write = killed.elapsed();
    eprintln!("failover: first acknowledged write through a survivor {to_first_write:?} after SIGKILL of the leader's region");
    assert_eq!(first.body["state"], "rewarded");

    // Every acknowledged step is still there, and the sessions continue where they left off.
    let mut paid = 0i64;
    for (i, (sid, acked)) in sessions.iter().enumerate() {
        let s = c.nodes[survivor].get(&format!("/v1/sessions/{sid}"));
        assert_eq!(s.status, 200, "{}", s.body);
        assert_eq!(s.body["purchase"], acked["purchase"], "acknowledged purchase lost");
        let f = feedback(&c.nodes[survivor], sid, distinct_feedback(i));
        assert_eq!(f.status, 200, "{}", f.body);
        let reward = f.str("reward_sek").replace('.', "").parse::<i64>().expect("öre");
        paid += reward;
    }
    let a = c.nodes[survivor].get_as(&format!("/v1/businesses/{bid}/analytics"), &key);
    assert_eq!(a.body["sessions"], json!({"opened": 5, "completed": 5, "rejected": 0, "expired": 0}), "{}", a.body);
    let b = c.nodes[survivor].get_as(&format!("/v1/businesses/{bid}"), &key);
    assert_eq!(b.body["rewards_paid_sek"], format!("{}.{:02}", paid / 100, paid % 100), "each reward paid exactly once");

    // The lost region returns, catches up, and never acts on the ownership it lost.
    c.nodes[leader].restart();
    let returned = eventually(Duration::from_secs(30), "the returned node serving the business", || {
        let r = c.nodes[leader].get_as(&format!("/v1/businesses/{bid}"), &key);
        if r.status == 200 {
            Ok(r.body)
        } else {
            Err(r.body)
        }
    });
    assert_eq!(returned, b.body);
    for (sid, _) in &sessions {
        assert_eq!(c.nodes[leader].get(&format!("/v1/sessions/{sid}")).body["state"], "rewarded");
    }
}

#[test]
fn a_paused_owner_resumed_after_takeover_never_writes_with_its_stale_epoch() {
    let dir = tempfile::tempdir().expect("tmp");
    let c = Cluster3::start(dir.path(), &[("timeouts.failover_after_ms", "1000")]);
    let leader = c.leader_index();
    // Pause a node that is not the leader, so writes keep committing.
    let paused = (leader + 1) % 3;
    let other = (leader + 2) % 3;
    let Biz { id: bid, token, key } = create_business(&c.nodes[other], "100000.00");
    let sid = open_session(&c.nodes[paused], &token);
    assert_eq!(purchase(&c.nodes[paused], &sid, "100.00", "T-1").status, 200);

    c.nodes[paused].pause();
    let f = eventually(Duration::from_secs(30), "the session taken over", || {
        let f = feedback(&c.nodes[other], &sid, GOOD_FEEDBACK);
        if f.status == 200 {
            return Ok(f);
        }
        assert_eq!(f.status, 503, "{}", f.body);
        Err(f.body)
    });
    let reward = f.str("reward_sek");
    c.nodes[paused].resume();

    // The resumed node's activation is stale: its reads and writes are fenced and routed to the
    // new owner, so everyone sees one settlement and the reward was paid once.
    let seen = eventually(Duration::from_secs(30), "the resumed node answering", || {
        let s = c.nodes[paused].get(&format!("/v1/sessions/{sid}"));
        if s.status == 200 {
            Ok(s.body)
        } else {
            Err(s.body)
        }
    });
    assert_eq!(seen, f.body);
    let again = feedback(&c.nodes[paused], &sid, GOOD_FEEDBACK);
    assert_eq!(again.body, f.body);
    let b = c.nodes[leader].get_as(&format!("/v1/businesses/{bid}"), &key);
    assert_eq!(b.body["rewards_paid_sek"], reward, "reward paid more than once");
    let a = c.nodes[leader].get_as(&format!("/v1/businesses/{bid}/analytics"), &key);
    assert_eq!(a.body["sessions"]["completed"], 1);
}
