//! Three regions as three real processes over QUIC with mutual TLS.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use svea_cluster::rpc::{AppCall, RequestVote};
use svea_cluster::tls::{self, Identity};
use svea_cluster::transport::{Transport, TransportSettings};
use svea_config::loopback::Node;

use crate::harness::*;

fn settings() -> TransportSettings {
    TransportSettings {
        max_frame_bytes: 16 << 20,
        max_snapshot_bytes: 1 << 30,
        connect_timeout: Duration::from_secs(2),
        rpc_timeout: Duration::from_secs(2),
        backoff_max: Duration::from_millis(200),
        idle_timeout: Duration::from_secs(10),
        keepalive: Duration::from_secs(2),
        rng_seed: None,
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[test]
fn any_node_serves_any_request_and_all_agree() {
    let dir = tempfile::tempdir().expect("tmp");
    let c = Cluster3::start(dir.path(), &[]);
    let (sto, got, mal) = (c.by_region("stockholm"), c.by_region("gothenburg"), c.by_region("malmo"));

    // A business through Malmö, a session through Gothenburg, the rest through Stockholm.
    let Biz { id: bid, token, key } = create_business(mal, "5000.00");
    let sid = open_session(got, &token);
    assert_eq!(got.get(&format!("/v1/sessions/{sid}")).body["region"], "gothenburg", "owned where it was opened");
    let p = purchase(sto, &sid, "249.00", "T-1");
    assert_eq!(p.status, 200, "{}", p.body);
    let f = feedback(sto, &sid, GOOD_FEEDBACK);
    assert_eq!(f.status, 200, "{}", f.body);
    assert_eq!(f.body["state"], "rewarded");

    // Every node reports the same session, business and analytics.
    let session = sto.get(&format!("/v1/sessions/{sid}")).body;
    let business = sto.get_as(&format!("/v1/businesses/{bid}"), &key).body;
    let analytics = sto.get_as(&format!("/v1/businesses/{bid}/analytics"), &key).body;
    assert_eq!(session, f.body);
    assert_eq!(business["rewards_paid_sek"], f.body["reward_sek"]);
    assert_eq!(analytics["sessions"], json!({"opened": 1, "completed": 1, "rejected": 0, "expired": 0}));
    for n in [got, mal] {
        assert_eq!(n.get(&format!("/v1/sessions/{sid}")).body, session);
        assert_eq!(n.get_as(&format!("/v1/businesses/{bid}"), &key).body, business);
        assert_eq!(n.get_as(&format!("/v1/businesses/{bid}/analytics"), &key).body, analytics);
    }
    // Errors look the same from every node too.
    for n in [sto, got, mal] {
        purchase(n, &sid, "10.00", "T-2").problem(409, "purchase-already-confirmed");
        n.get("/v1/sessions/s_0123456789abcdef0123456789abcdef").problem(404, "session-not-found");
    }
}

#[test]
fn a_node_with_a_certificate_from_another_ca_can_neither_join_nor_send() {
    let dir = tempfile::tempdir().expect("tmp");
    let c = Cluster3::start(dir.path(), &[]);
    let Biz { id: bid, token: _, key: api_key } = create_business(c.by_region("stockholm"), "100.00");
    let term_before: Vec<_> = c.nodes.iter().map(|n| n.get("/ready").body["term"].clone()).collect();
    let business_before = c.by_region("malmo").get_as(&format!("/v1/businesses/{bid}"), &api_key).body;

    // A rogue CA issues a certificate that names node 2, gothenburg's id.
    let ca = tls::generate_ca("rogue").expect("rogue ca");
    let (cert, key) = tls::generate_node_cert(&ca, 2, "gothenburg").expect("rogue cert");
    let rogue = Identity::from_pem(&ca.cert_pem, &cert, &key).expect("rogue identity");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    rt.block_on(async {
        let t = Transport::bind("127.0.0.1:0".parse().expect("addr"), &rogue, settings()).expect("bind");
        for (i, addr) in c.raft_addrs.iter().enumerate() {
            t.set_peer_addr(i as u64 + 1, *addr);
        }
        for target in [1u64, 3] {
            // A vote for a far-future term would disrupt the cluster if it got through.
            let vote = RequestVote(openraft::raft::VoteRequest { vote: openraft::Vote::new(1000, 2), last_log_id: None });
            let r = t.call(target, &vote, Duration::from_secs(3)).await;
            assert!(r.is_err(), "raft message from a foreign CA was accepted: {r:?}");
            // An actor call (a forwarded write) is refused the same way.
            let r = t.call(target, &AppCall(vec![0; 16]), Duration::from_secs(3)).await;
            assert!(r.is_err(), "actor message from a foreign CA was accepted: {r:?}");
        }
        t.close();
    });

    // A whole svea process with foreign certificates cannot join either: it never becomes ready.
    let rogue_dir = dir.path().join("rogue");
    std::fs::create_dir_all(&rogue_dir).expect("dir");
    std::fs::write(rogue_dir.join("ca.pem"), &ca.cert_pem).expect("ca");
    let (cert4, key4) = tls::generate_node_cert(&ca, 4, "intruder").expect("cert");
    std::fs::write(rogue_dir.join("rogue.pem"), cert4).expect("cert");
    std::fs::write(rogue_dir.join("rogue.key"), key4).expect("key");
    let http = free_port();
    // The cluster's members and itself, with the rogue CA's files.
    let rogue = Node::loopback(4, "stockholm", http, free_udp_port()).label("rogue");
    let layout = c.layout.clone().dir(dir.path()).tls(&rogue_dir).node(rogue);
    let config = layout.write_node(3, "Written by the svea tests.").expect("config");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_svea"))
        .arg("run")
        .arg("--config")
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn rogue");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(r) = ureq::get(&format!("http://127.0.0.1:{http}/ready")).timeout(Duration::from_secs(1)).call() {
            panic!("the rogue node became ready: {}", r.status());
        }
        // Lets time pass between probes: this asserts that something never happens within the
        // window, so there is no condition to wait for.
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();

    // Nothing changed: no term bump, no data change, everyone still serves.
    let term_after: Vec<_> = c.nodes.iter().map(|n| n.get("/ready").body["term"].clone()).collect();
    assert_eq!(term_before, term_after);
    assert_eq!(c.by_region("malmo").get_as(&format!("/v1/businesses/{bid}"), &api_key).body, business_before);
}

#[test]
fn a_frame_over_the_limit_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().expect("tmp");
    let c = Cluster3::start(dir.path(), &[("limits.max_frame_bytes", "1048576")]);
    let target = c.by_region("stockholm");
    let pid = target.pid().expect("pid");
    // A peer with a valid certificate (malmo's) misbehaves.
    let me = Identity::load(&c.tls.join("ca.pem"), &c.tls.join("malmo.pem"), &c.tls.join("malmo.key")).expect("identity");
    let rss_before = rss_kib(pid);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    rt.block_on(async {
        let transport = Arc::new(quinn::TransportConfig::default());
        let client = tls::client_config(&me, transport).expect("client config");
        let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().expect("addr")).expect("endpoint");
        let conn = tokio::time::timeout(
            Duration::from_secs(5),
            endpoint.connect_with(client, c.raft_addrs[0], &tls::server_name(1)).expect("connect"),
        )
        .await
        .expect("connect in time")
        .expect("handshake with a valid certificate");
        for claimed in [1_048_577u32, 2_000_000_000, u32::MAX] {
            let (mut send, mut recv) = conn.open_bi().await.expect("stream");
            send.write_all(&claimed.to_be_bytes()).await.expect("header");
            // Keep streaming body bytes: a node that reads the frame would accept them all; one
            // that refuses it from the header stops the stream, and our writes fail early.
            let chunk = vec![0xAB; 1 << 20];
            let mut sent = 0usize;
            let stopped = tokio::time::timeout(Duration::from_secs(10), async {
                while sent < 64 << 20 {
                    match send.write_all(&chunk).await {
                        Ok(()) => sent += chunk.len(),
                        Err(quinn::WriteError::Stopped(code)) => return Some(code),
                        Err(e) => panic!("unexpected write error {e}"),
                    }
                }
                None
            })
            .await
            .expect("the node neither read nor refused the frame");
            assert_eq!(
                stopped,
                Some(quinn::VarInt::from_u32(svea_cluster::transport::frame::FRAME_TOO_LARGE)),
                "frame claimed at {claimed} bytes was not refused ({sent} body bytes accepted)"
            );
            assert!(sent <= 16 << 20, "node read {sent} bytes of a refused frame");
            let answer = tokio::time::timeout(Duration::from_secs(5), recv.read_to_end(1024)).await.expect("answered in time");
            assert!(answer.is_err() || answer.as_ref().is_ok_and(|b| b.is_empty()), "oversized frame got an answer: {answer:?}");
        }
        endpoint.close(0u32.into(), b"done");
    });
    let rss_after = rss_kib(pid);
    assert!(
        rss_after < rss_before + 32 * 1024,
        "node memory grew from {rss_before} KiB to {rss_after} KiB after claims of up to 4 GiB"
    );
    // The node still works.
    let Biz { id: bid, token: _, key } = create_business(target, "10.00");
    assert_eq!(c.by_region("gothenburg").get_as(&format!("/v1/businesses/{bid}"), &key).status, 200);
}

#[test]
fn a_restarted_follower_catches_up_through_a_snapshot() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut c = Cluster3::start(dir.path(), &[("limits.snapshot_logs_since_last", "20"), ("limits.max_in_snapshot_log_to_keep", "1")]);
    let leader = c.leader_index();
    let follower = (leader + 1) % 3;
    let entry = if leader == 2 { 0 } else { 2 };
    let Biz { id: bid, token, key } = create_business(&c.nodes[entry], "100000.00");
    assert_eq!(c.nodes[follower].terminate(), Some(0));

    // Enough writes while it is down for the leader to snapshot and purge its log.
    let mut sessions = Vec::new();
    for i in 0..15 {
        let sid = open_session(&c.nodes[entry], &token);
        assert_eq!(purchase(&c.nodes[entry], &sid, "100.00", &format!("T-{i}")).status, 200);
        sessions.push(sid);
    }
    c.nodes[follower].restart();
    let installed = poll_until(Duration::from_secs(30), || c.nodes[follower].log_text().contains("snapshot installed"));
    assert!(installed.is_ok(), "follower never installed a snapshot; log:\n{}", c.nodes[follower].log_text());
    // It has the data: a session it opens itself writes through its own, caught-up state, and
    // the business's analytics counted everything.
    let sid = open_session(&c.nodes[follower], &token);
    assert_eq!(purchase(&c.nodes[follower], &sid, "100.00", "T-after").status, 200);
    purchase(&c.nodes[follower], &sid, "100.00", "T-3").problem(409, "purchase-already-confirmed");
    let a = c.nodes[follower].get_as(&format!("/v1/businesses/{bid}/analytics"), &key);
    assert_eq!(a.body["sessions"]["opened"], 16, "{}", a.body);
}

#[test]
fn a_node_cut_off_from_the_majority_refuses_reads_and_writes() {
    let dir = tempfile::tempdir().expect("tmp");
    let c = Cluster3::start(dir.path(), &[]);
    let got = c.by_region("gothenburg");
    let Biz { id: _, token, key: _ } = create_business(c.by_region("stockholm"), "100.00");
    // A session owned by gothenburg, whose actor is live there.
    let sid = open_session(got, &token);
    assert_eq!(got.get(&format!("/v1/sessions/{sid}")).status, 200);

    // Freeze the other two regions: gothenburg is alone, a minority.
    c.by_region("stockholm").pause();
    c.by_region("malmo").pause();
    let r = got.get(&format!("/v1/sessions/{sid}"));
    r.problem(503, "unavailable");
    assert_eq!(r.header("retry-after"), Some("1"));
    purchase(got, &sid, "50.00", "T-1").problem(503, "unavailable");
    assert_eq!(got.get("/ready").status, 503);

    // Heal: service resumes by itself.
    c.by_region("stockholm").resume();
    c.by_region("malmo").resume();
    let recovered = eventually(Duration::from_secs(30), "gothenburg serving the session again", || {
        let r = got.get(&format!("/v1/sessions/{sid}"));
        if r.status == 200 {
            Ok(r.body)
        } else {
            Err(r.body)
        }
    });
    assert_eq!(recovered["state"], "opened", "the refused purchase was not applied");
    assert_eq!(purchase(got, &sid, "50.00", "T-1").status, 200);
}
