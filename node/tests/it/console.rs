//! The operator console (`/ops`) on a real three-region cluster: sign-in with the operator token,
//! the live JSON the page polls, a region shown down after its node is killed, the confirmation
//! step of a drain, and forms from another site refused. The console is on the operator listener
//! only.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::*;
use crate::page::{Page, Phone};

/// `timeouts.failover_after_ms` of these clusters.
const FAILOVER_AFTER: Duration = Duration::from_millis(1000);
/// The console's refresh interval.
pub(crate) const REFRESH: Duration = Duration::from_secs(svea_node::http::console::REFRESH_S as u64);

/// The operator's browser, with the console's origin (a browser sends it on form posts).
fn browser(n: &NodeProc) -> Phone {
    Phone::default().with_header("origin", &n.operator_url)
}

fn json(p: &Page) -> Value {
    serde_json::from_str(&p.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", p.body))
}

/// Signs `b` in through the form (it keeps the cookie from then on).
fn sign_in(n: &NodeProc, b: &mut Phone) {
    let r = b.post(&format!("{}/ops/sign-in", n.operator_url), &[("token", OPERATOR_TOKEN)]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/ops"));
    let set = r.set_cookie("svea_ops").expect("set-cookie").to_owned();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/ops"] {
        assert!(set.contains(attr), "{attr} missing in {set}");
    }
    assert!(!set.contains(OPERATOR_TOKEN), "the cookie must not carry the token: {set}");
}

fn console(n: &NodeProc, b: &mut Phone) -> Value {
    let r = b.get(&format!("{}/ops/console.json", n.operator_url));
    assert_eq!(r.status, 200, "{}", r.body);
    json(&r)
}

fn region<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["regions"].as_array().and_then(|r| r.iter().find(|r| r["name"] == name)).unwrap_or_else(|| panic!("region {name} in {v}"))
}

fn node_view(v: &Value, id: u64) -> Option<&Value> {
    v["nodes"].as_array().and_then(|n| n.iter().find(|n| n["id"] == id))
}

#[test]
fn the_console_needs_the_token_and_shows_a_killed_region_down() {
    let dir = tempfile::tempdir().expect("tmp");
    let failover_ms = FAILOVER_AFTER.as_millis().to_string();
    // GeoIP routing on (the default outside tests); Gothenburg trusts the loopback proxy's
    // X-Forwarded-For, so a test can be a customer anywhere.
    let overrides = [("timeouts.failover_after_ms", failover_ms.as_str()), ("node.routing", "redirect")];
    let mut c = Cluster3::start_with(dir.path(), &overrides, [&[], &[("geo.trusted_proxies", "127.0.0.1")], &[]]);
    let n = c.by_region("stockholm");

    // Signed out: the sign-in form, and the JSON is refused.
    let ops = |path: &str| format!("{}{path}", n.operator_url);
    let mut anon = browser(n);
    let page = anon.get(&ops("/ops"));
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"id="operator-token""#) && !page.body.contains("region-stockholm"), "{}", page.body);
    let refused = anon.get(&ops("/ops/console.json"));
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert_eq!(json(&refused)["type"], "urn:svea:problem:unauthorized");
    let mut forger = browser(n).with_header("cookie", "svea_ops=4102444800.00ff");
    assert_eq!(forger.get(&ops("/ops/console.json")).status, 401, "a forged cookie");
    // Never on the public listener.
    for path in ["/ops", "/ops/console.json"] {
        assert_eq!(anon.get(&format!("{}{path}", n.url)).status, 404, "{path} on the public listener");
    }
    assert_eq!(anon.post(&format!("{}/ops/sign-in", n.url), &[("token", OPERATOR_TOKEN)]).status, 404);

    // A wrong token, or the right one from another site: no cookie.
    let wrong = anon.post(&ops("/ops/sign-in"), &[("token", "not-the-operator-token")]);
    assert_eq!(wrong.status, 401);
    assert!(wrong.header("set-cookie").is_none() && wrong.body.contains("wrong operator token"), "{}", wrong.body);
    let forged = Phone::default().with_header("origin", "http://evil.example").post(&ops("/ops/sign-in"), &[("token", OPERATOR_TOKEN)]);
    assert_eq!(forged.status, 400, "{}", forged.body);
    assert!(forged.header("set-cookie").is_none());

    // Signed in: the map, the ids the browser test uses, the bundled outline and its licence.
    let mut op = browser(n);
    sign_in(n, &mut op);
    let page = op.get(&ops("/ops"));
    assert_eq!(page.status, 200);
    for id in ["region-stockholm", "region-gothenburg", "region-malmo", "node-1", "node-2", "node-3"] {
        assert!(page.body.contains(&format!(r#"id="{id}""#)), "{id} missing: {}", page.body);
    }
    assert!(page.body.contains(r#"http-equiv="refresh" content="2""#), "the no-script refresh");
    assert!(page.body.contains("Natural Earth"), "the map's licence in the footer");
    for (asset, kind) in [("sweden.svg", "image/svg+xml"), ("ops.js", "text/javascript"), ("sweden.svg.LICENSE", "text/plain")] {
        let href = format!("/assets/{asset}?v=");
        let at = page.body.find(&href).unwrap_or_else(|| panic!("{asset} not linked"));
        let link: String = page.body[at..].chars().take_while(|c| *c != '"').collect();
        let a = anon.get(&ops(&link));
        assert_eq!(a.status, 200, "{link}");
        assert!(a.header("content-type").is_some_and(|t| t.starts_with(kind)), "{link}: {:?}", a.header("content-type"));
    }

    let v = eventually(Duration::from_secs(20), "three healthy regions with a leader", || {
        let v = console(n, &mut op);
        let up = ["stockholm", "gothenburg", "malmo"].iter().all(|r| region(&v, r)["health"] == "up");
        if up && v["leader"].is_u64() && v["term"].as_u64() > Some(0) {
            Ok(v)
        } else {
            Err(v)
        }
    });
    let leader = v["leader"].as_u64().expect("leader");
    assert_eq!(node_view(&v, leader).expect("leader node")["leader"], true, "{v}");
    assert!((1..=3).all(|id| node_view(&v, id).is_some_and(|n| n["health"] == "up")), "{v}");

    // Two Malmö customers and one Stockholm customer open sessions at Gothenburg and are routed
    // (307) to their regions: Gothenburg counts them, and Stockholm's console shows its counts.
    let g = c.by_region("gothenburg");
    let Biz { token, .. } = create_business(g, "100.00");
    for ip in ["2.58.0.1", "2.58.0.1", "1.178.93.1"] {
        let r = g.post_with("/v1/sessions", serde_json::json!({"qr_token": token}), &[("x-forwarded-for", ip)]);
        assert_eq!(r.status, 307, "{}", r.body);
    }
    let v = console(n, &mut op);
    assert_eq!(region(&v, "malmo")["routed_last_minute"], 2, "{v}");
    assert_eq!(region(&v, "stockholm")["routed_last_minute"], 1, "{v}");
    assert_eq!(region(&v, "gothenburg")["routed_last_minute"], 0, "{v}");
    assert_eq!(node_view(&v, 2).expect("node 2")["routed_last_minute"]["malmo"], 2, "{v}");
    // Every node says what it is and how it fares, asked by the answering node: its build,
    // uptime, disk, the answers it gave (Gothenburg's three 307s and its sign-up among them)
    // and its own view of the term and leader.
    for id in 1..=3 {
        let f = &node_view(&v, id).expect("node")["facts"];
        assert_eq!(f["version"], env!("CARGO_PKG_VERSION"), "node {id}: {v}");
        assert_eq!(f["revision"], svea_node::REVISION, "node {id}: {v}");
        assert!(f["uptime_s"].as_u64().is_some() && f["disk_bytes"].as_u64() > Some(0), "node {id}: {v}");
        assert_eq!((f["term"].as_u64(), f["leader"].as_u64()), (v["term"].as_u64(), Some(leader)), "node {id} follows the same leader: {v}");
        assert_eq!(f["errors_last_minute"], 0, "node {id}: {v}");
    }
    assert!(node_view(&v, 2).expect("node 2")["facts"]["answers_last_minute"].as_u64() >= Some(4), "{v}");
    let page = op.get(&ops("/ops"));
    assert!(page.body.contains("Member node ids") && page.body.contains("#1") && page.body.contains(svea_node::REVISION.get(..12).unwrap_or(svea_node::REVISION)), "{}", page.body);
    let count = |kind: &str| -> u64 { v["nodes"].as_array().expect("nodes").iter().filter_map(|n| n["actors"][kind].as_u64()).sum() };
    assert_eq!(count("business"), 1, "the business: {v}");
    assert_eq!(count("session"), 0, "the sessions were sent elsewhere: {v}");
    assert_eq!(count("directory"), 1, "its organisation number, held in the directory: {v}");

    // Kill malmo's node: within failover_after plus one refresh, the console shows malmo down.
    let malmo = c.nodes.iter().position(|p| p.url == c.by_region("malmo").url).expect("malmo");
    c.nodes[malmo].kill9();
    let killed = Instant::now();
    let n = c.by_region("stockholm");
    let v = eventually(FAILOVER_AFTER + REFRESH, "malmo down on the console", || {
        let v = console(n, &mut op);
        if region(&v, "malmo")["health"] == "down" {
            Ok(v)
        } else {
            Err(v)
        }
    });
    assert!(killed.elapsed() <= FAILOVER_AFTER + REFRESH);
    assert_eq!(node_view(&v, 3).expect("node 3")["health"], "down", "{v}");
    assert!(node_view(&v, 3).expect("node 3")["facts"].is_null(), "a dead node says nothing: {v}");
    assert_eq!(region(&v, "stockholm")["health"], "up", "{v}");
    assert_eq!(region(&v, "gothenburg")["health"], "up", "{v}");

    // Signing out clears the cookie.
    let out = op.post(&format!("{}/ops/sign-out", n.operator_url), &[]);
    assert_eq!(out.status, 303);
    assert!(out.set_cookie("svea_ops").is_some_and(|s| s.starts_with("svea_ops=;") && s.contains("Max-Age=0")), "{:?}", out.set_cookie("svea_ops"));
    assert_eq!(op.get(&format!("{}/ops/console.json", n.operator_url)).status, 401);
}

#[test]
fn any_console_drains_any_node_after_asking_and_switches_maintenance() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut c = Cluster3::start(dir.path(), &[]);
    let g = c.nodes.iter().position(|p| p.url == c.by_region("gothenburg").url).expect("gothenburg");
    let m = c.nodes.iter().position(|p| p.url == c.by_region("malmo").url).expect("malmo");
    let n = &c.nodes[g];
    let mut op = browser(n);
    sign_in(n, &mut op);
    let members = |v: &Value| v["nodes"].as_array().map(|n| n.iter().filter_map(|n| n["id"].as_u64()).collect::<Vec<_>>());
    eventually(Duration::from_secs(20), "a leader", || {
        let v = console(n, &mut op);
        if v["leader"].is_u64() {
            Ok(v)
        } else {
            Err(v)
        }
    });
    // A business in Malmö: its actor lives on node 3 until the drain hands it on.
    let biz = create_business(n, "100.00");

    // From another site, or without signing in: nothing happens.
    let base = n.operator_url.clone();
    let ops = |path: &str| format!("{base}{path}");
    let mut evil = Phone::default().with_header("origin", "http://evil.example");
    evil.cookies = op.cookies.clone();
    for path in ["/ops/nodes/3/drain", "/ops/maintenance"] {
        let r = evil.post(&ops(path), &[("confirm", "yes"), ("on", "on")]);
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert!(r.body.contains("not from this site"), "{}", r.body);
        let anon = browser(n).post(&ops(path), &[("confirm", "yes"), ("on", "on")]);
        assert_eq!(anon.status, 401, "{path}");
        assert!(anon.body.contains(r#"id="operator-token""#));
    }
    // Removing a reachable node is refused, and the page says why; so is draining a stranger.
    let refused = op.post(&ops("/ops/nodes/3/remove"), &[("confirm", "yes")]);
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("drain it instead"), "{}", refused.body);
    let stranger = op.post(&ops("/ops/nodes/9/drain"), &[("confirm", "yes")]);
    assert_eq!(stranger.status, 404, "{}", stranger.body);
    assert!(stranger.body.contains("node 9 not found"), "{}", stranger.body);
    assert_eq!(members(&console(n, &mut op)), Some(vec![1, 2, 3]));

    // Maintenance: asked first, then on for every region with its message, then off.
    let bad = op.post(&ops("/ops/maintenance"), &[("on", "on"), ("retry_after_s", "soon"), ("confirm", "yes")]);
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("not a whole number of seconds"), "{}", bad.body);
    let fields = [("on", "on"), ("message", "Vi uppgraderar till 06:00."), ("retry_after_s", "120")];
    let ask = op.post(&ops("/ops/maintenance"), &fields);
    assert_eq!(ask.status, 200, "{}", ask.body);
    assert!(ask.body.contains(r#"name="confirm" value="yes""#) && ask.body.contains("Retry-After 120 s"), "{}", ask.body);
    assert_eq!(c.by_region("malmo").get(&format!("/q/{}", biz.token)).status, 200, "asking changed nothing");
    let on = op.post(&ops("/ops/maintenance"), &[fields[0], fields[1], fields[2], ("confirm", "yes")]);
    assert_eq!(on.status, 200, "{}", on.body);
    assert!(on.body.contains(r#"data-on="on""#) && on.body.contains("Vi uppgraderar till 06:00."), "{}", on.body);
    eventually(Duration::from_secs(10), "malmo in maintenance", || {
        let r = c.by_region("malmo").get(&format!("/q/{}", biz.token));
        if r.status == 503 && r.header("retry-after") == Some("120") {
            Ok(())
        } else {
            Err(r.status)
        }
    });
    let off = op.post(&ops("/ops/maintenance"), &[("on", "off"), ("confirm", "yes")]);
    assert!(off.status == 200 && off.body.contains(r#"data-on="off""#), "{}", off.body);
    eventually(Duration::from_secs(10), "malmo serving again", || {
        let r = c.by_region("malmo").get(&format!("/q/{}", biz.token));
        if r.status == 200 {
            Ok(())
        } else {
            Err(r.status)
        }
    });

    // Node 3 (Malmö) drained from Gothenburg's console: the first post asks; the confirmed one is
    // sent to node 3, which hands its actors off, leaves and stops, and this console reports it.
    let ask = op.post(&ops("/ops/nodes/3/drain"), &[]);
    assert_eq!(ask.status, 200, "{}", ask.body);
    assert!(ask.body.contains(r#"name="confirm" value="yes""#) && ask.body.contains("Drain node 3") && ask.body.contains("sent to node 3"), "{}", ask.body);
    assert_eq!(members(&console(n, &mut op)), Some(vec![1, 2, 3]), "asking changed nothing");
    let done = op.post(&ops("/ops/nodes/3/drain"), &[("confirm", "yes")]);
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Node 3 drained") && done.body.contains("stops now"), "{}", done.body);
    assert!(c.nodes[m].wait_exit(Duration::from_secs(20)).is_some(), "the drained node stops");
    let n = &c.nodes[g];
    eventually(Duration::from_secs(20), "node 3 gone from the membership", || {
        let v = console(n, &mut op);
        if members(&v) == Some(vec![1, 2]) {
            Ok(v)
        } else {
            Err(v)
        }
    });
    // The business it owned is served by the others.
    assert_eq!(n.get_as(&format!("/v1/businesses/{}", biz.id), &biz.key).status, 200);

    // And a node drains itself from its own console: that console ends with the report.
    let done = op.post(&ops("/ops/nodes/2/drain"), &[("confirm", "yes")]);
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Node 2 drained"), "{}", done.body);
    assert!(c.nodes[g].wait_exit(Duration::from_secs(20)).is_some(), "the drained node stops");
    let s = c.by_region("stockholm");
    let mut op = browser(s);
    sign_in(s, &mut op);
    eventually(Duration::from_secs(20), "only node 1 left", || {
        let v = console(s, &mut op);
        if members(&v) == Some(vec![1]) {
            Ok(v)
        } else {
            Err(v)
        }
    });
    assert_eq!(s.get_as(&format!("/v1/businesses/{}", biz.id), &biz.key).status, 200);
}
