//! Issue 5: an isolated region refuses writes (503 + Retry-After) while the other two commit,
//! and serves again once healed. Three real `svea` processes behind the UDP proxies; the proxies
//! black-hole everything to and from Gothenburg.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;
use simulations::chaos::partition;
use simulations::poll::eventually;
use simulations::procs::{self, BinarySource, ClusterSpec};

fn post(url: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    match procs::agent_with_timeout(Duration::from_secs(15)).post(url).send_json(body) {
        Ok(r) => (r.status(), r.into_json().unwrap_or_default()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap_or_default()),
        Err(e) => panic!("{url}: {e}"),
    }
}

#[test]
fn an_isolated_region_refuses_writes_while_the_other_two_commit() {
    let svea = procs::svea_binary(
        &BinarySource { path: std::env::var_os("SVEA_BIN").map(PathBuf::from), no_build: false, debug: true },
        "isolation",
    )
    .expect("svea binary");
    let dir = tempfile::tempdir().expect("tmp");
    let spec = ClusterSpec { tool: "isolation", proxies: true, routing: "serve", log_filter: "warn".into(), groups: procs::GROUPS_PER_REGION.into() };
    let running = procs::start(&svea, dir.path(), &spec).expect("cluster");
    let urls = running.cluster.urls();
    let (sto, got, mal) = (&urls[0], &urls[1], &urls[2]);
    let token = procs::create_business(mal, "Kafé", "100000.00").expect("business").token;
    let open = {
        let token = token.clone();
        // A new phone each open: no device token, svea issues one.
        move |url: &str| post(&format!("{url}/v1/sessions"), json!({"qr_token": token}))
    };

    let proxies = running.proxies.as_ref().expect("proxies");
    partition(proxies, 1, false, true);
    let cut = Instant::now();
    let window = Duration::from_secs(8);
    // Within failover_after plus an election, the majority serves again; the isolated node never
    // acknowledges anything: every write there is refused with 503. The two sides are driven at
    // once, so a slow refusal on the isolated side (it waits for the failure detector's verdict
    // before giving up) does not throttle the majority's writes.
    let isolated = {
        let (got, open) = (got.to_string(), open.clone());
        std::thread::spawn(move || {
            let mut refused = 0;
            while cut.elapsed() < window {
                let (status, body) = open(&got);
                assert_eq!(status, 503, "the isolated region acknowledged a write: {body}");
                assert_eq!(body["type"], "urn:svea:problem:unavailable", "{body}");
                refused += 1;
            }
            refused
        })
    };
    let mut majority_ok = 0;
    let mut n = 0;
    while cut.elapsed() < window {
        n += 1;
        let (status, body) = open(if n % 2 == 0 { sto } else { mal });
        match status {
            201 => majority_ok += 1,
            503 => {}
            other => panic!("majority answered {other}: {body}"),
        }
    }
    let isolated_refused = isolated.join().expect("the isolated side's checks held");
    eprintln!("isolation: {isolated_refused} writes refused by gothenburg, {majority_ok} committed by stockholm+malmo");
    assert!(isolated_refused >= 1, "no write was tried on the isolated region");
    assert!(majority_ok >= 3, "the majority did not commit while gothenburg was cut off");
    let ready = procs::agent_with_timeout(Duration::from_secs(15)).get(&format!("{got}/ready")).call();
    assert!(matches!(ready, Err(ureq::Error::Status(503, _))), "isolated /ready: {ready:?}");

    // Heal: gothenburg catches up and commits again.
    partition(proxies, 1, false, false);
    eventually(Duration::from_secs(30), "gothenburg committing again after the heal", || {
        let (status, body) = open(got);
        if status == 201 || status == 200 {
            return Ok(());
        }
        assert_eq!(status, 503, "{body}");
        Err(body)
    });
}
