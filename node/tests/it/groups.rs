//! A Raft group per region (`cluster.groups = "per-region"`, issue 22), on three real processes:
//! each group led from its home region, a business written in its home region's group (its id
//! says which), organisation numbers unique across groups through the directory, a customer's
//! flow and cashback across groups, and a region's group moving alone when its node dies and
//! coming home when it returns.

use std::time::Duration;

use serde_json::Value;

use crate::harness::*;
use crate::poll::eventually;

const PER_REGION: [(&str, &str); 1] = [("cluster.groups", "per-region")];
const REGIONS: [&str; 3] = ["stockholm", "gothenburg", "malmo"];
/// A location in each region, in the region table's order.
const PLACES: [(f64, f64); 3] = [(59.3293, 18.0686), (57.7089, 11.9746), (55.6046, 12.9996)];

fn status(n: &NodeProc) -> Value {
    let r = n.operator_get("/v1/cluster", &[("authorization", &format!("Bearer {OPERATOR_TOKEN}"))]);
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

/// Each group's leader as `n` sees it, group 0 first.
fn group_leaders(n: &NodeProc) -> Vec<Option<u64>> {
    let s = status(n);
    s["groups"].as_array().expect("groups").iter().map(|g| g["leader"].as_u64()).collect()
}

/// The group a business or session id's home digit names, over three groups.
fn group_of(id: &str) -> u64 {
    let digit = id.split_once('_').and_then(|(_, hex)| hex.chars().next()).and_then(|c| c.to_digit(16)).expect("hex id");
    u64::from(digit) % 3
}

fn sign_up(n: &NodeProc, org: &str, (lat, lon): (f64, f64)) -> Resp {
    n.post(
        "/v1/businesses",
        serde_json::json!({"name": "Kafé Gruppen", "org_number": org, "locations": [{"name": "Torget", "lat": lat, "lon": lon}], "reward_budget_sek": "1000.00"}),
    )
}

#[test]
fn each_region_leads_its_own_group_and_a_business_lives_in_its_home_regions_group() {
    let dir = tempfile::tempdir().expect("tmp");
    let c = Cluster3::start(dir.path(), &PER_REGION);
    // Every node reports three groups with their homes; each group's leader is its home's node.
    let s = status(&c.nodes[0]);
    let homes: Vec<_> = s["groups"].as_array().expect("groups").iter().map(|g| g["home"].as_str().unwrap_or("").to_owned()).collect();
    assert_eq!(homes, REGIONS, "{s}");
    eventually(Duration::from_secs(30), "every group led from its home region", || {
        c.nodes.iter().all(|n| group_leaders(n) == vec![Some(1), Some(2), Some(3)]).then_some(())
    });

    // A business signed up anywhere is written in its home region's group: its id says which,
    // and so do its sessions'.
    for (home, place) in PLACES.iter().enumerate() {
        for n in &c.nodes {
            let r = sign_up(n, &next_org_number().to_string(), *place);
            assert_eq!(r.status, 201, "{}", r.body);
            let id = r.str("id");
            assert_eq!(group_of(&id), home as u64, "business {id} near {} signed up at node {}", REGIONS[home], r.body);
            assert_eq!(r.body["home_region"], REGIONS[home], "{}", r.body);
            let token = r.body["locations"][0]["qr_token"].as_str().expect("token").to_owned();
            let sid = open_session(n, &token);
            assert_eq!(group_of(&sid), home as u64, "session {sid} of business {id}");
        }
    }

    // An organisation number registers once in the whole cluster, whichever groups the two
    // businesses are in, and wherever they sign up.
    let org = next_org_number().to_string();
    let first = sign_up(&c.nodes[1], &org, PLACES[1]);
    assert_eq!(first.status, 201, "{}", first.body);
    for (n, place) in c.nodes.iter().zip(PLACES) {
        sign_up(n, &org, place).problem(409, "org-number-registered");
    }
}

#[test]
fn a_flow_pays_cashback_across_groups_and_a_dead_regions_group_moves_alone_and_comes_home() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut c = Cluster3::start(dir.path(), &[PER_REGION.as_slice(), &[("payouts.retry_interval_ms", "200")]].concat());
    eventually(Duration::from_secs(30), "every group led from its home region", || (group_leaders(&c.nodes[0]) == vec![Some(1), Some(2), Some(3)]).then_some(()));

    // A Malmö business's customer completes a flow; the cashback reaches the customer's wallet
    // whichever group the wallet is in (the device hash decides), and the business's transfer
    // record is cleared either way (the payout driver asks the business when the wallet is in
    // another group).
    let malmo = create_business_at(&c.nodes[2], PLACES[2].0, PLACES[2].1);
    assert_eq!(group_of(&malmo.id), 2);
    let mut device = Device::new();
    let sid = device.open(&c.nodes[2], &malmo.token);
    assert_eq!(purchase(&c.nodes[2], &sid, "250.00", "G-1").status, 200);
    let r = feedback(&c.nodes[2], &sid, distinct_feedback(0));
    assert_eq!(r.status, 200, "{}", r.body);
    let reward = r.body["reward_sek"].as_str().expect("reward").to_owned();
    assert_ne!(reward, "0.00", "{}", r.body);
    eventually(Duration::from_secs(30), "the cashback in the customer's wallet", || {
        let w = c.nodes[0].post("/v1/wallet", serde_json::json!({"device_token": device.token()}));
        (w.status == 200 && w.body["balance_sek"] == reward.as_str()).then_some(())
    });

    // Gothenburg's node dies: only its group changes leader; Stockholm's and Malmö's keep theirs
    // and keep taking writes meanwhile.
    c.nodes[1].kill9();
    eventually(Duration::from_secs(30), "gothenburg's group led by a survivor", || {
        let l = group_leaders(&c.nodes[0]);
        (l[0] == Some(1) && l[2] == Some(3) && l[1].is_some_and(|x| x != 2)).then_some(())
    });
    let sto = create_business_at(&c.nodes[0], PLACES[0].0, PLACES[0].1);
    assert_eq!(purchase(&c.nodes[0], &open_session(&c.nodes[0], &sto.token), "99.00", "G-2").status, 200);
    assert_eq!(group_leaders(&c.nodes[2])[2], Some(3), "malmo's group never moved");

    // It returns, catches up, and its group's leadership comes home by itself.
    c.nodes[1].restart();
    eventually(Duration::from_secs(60), "gothenburg's group led from gothenburg again", || {
        c.nodes.iter().all(|n| group_leaders(n) == vec![Some(1), Some(2), Some(3)]).then_some(())
    });
    let gbg = create_business_at(&c.nodes[1], PLACES[1].0, PLACES[1].1);
    assert_eq!(group_of(&gbg.id), 1);
    assert_eq!(purchase(&c.nodes[1], &open_session(&c.nodes[1], &gbg.token), "50.00", "G-3").status, 200);
}
