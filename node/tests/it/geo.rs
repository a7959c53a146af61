//! GeoIP routing: every customer to the nearest healthy region.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;

fn lookup_json(ip: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_svea")).args(["geo", "lookup", ip, "--json"]).output().expect("svea geo lookup");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn known_addresses_route_to_their_region_with_the_bundled_database() {
    for (ip, city, region) in [
        ("1.178.93.1", "Stockholm", "stockholm"),
        ("2.66.78.1", "Gothenburg", "gothenburg"),
        ("2.58.0.1", "Malmo", "malmo"),
        ("2.248.90.1", "Lund", "malmo"),
        ("2.66.58.1", "Uppsala", "stockholm"),
    ] {
        let r = lookup_json(ip);
        assert_eq!(r["region"], region, "{ip}: {r}");
        assert_eq!(r["city"], city, "{ip}: {r}");
        assert_eq!(r["country"], "SE");
        assert_eq!(r["ip"], ip);
        assert!(r["latitude"].is_number() && r["longitude"].is_number());
        assert_eq!(r["distances_km"].as_object().map(|m| m.len()), Some(3));
        assert!(r["reason"].is_string());
    }
    // Private and unknown addresses go to the default order.
    assert_eq!(lookup_json("10.0.0.1")["code"], "private_address");
    assert_eq!(lookup_json("127.0.0.1")["region"], "stockholm");
    assert_eq!(lookup_json("8.8.8.8")["code"], "not_in_database");
    // Readable text by default, a clear error for a non-address.
    let text = Command::new(env!("CARGO_BIN_EXE_svea")).args(["geo", "lookup", "2.248.90.1"]).output().expect("run");
    assert!(String::from_utf8_lossy(&text.stdout).contains("-> malmo"));
    let bad = Command::new(env!("CARGO_BIN_EXE_svea")).args(["geo", "lookup", "not-an-ip"]).output().expect("run");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not an IP address"));
}

#[test]
fn with_stockholm_down_uppsala_goes_to_the_next_nearest_healthy_region() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = svea_geo::bundled::open_or_bundled(None, dir.path()).expect("bundled db");
    let cfg = svea_config::RawConfig::default().validate().expect("config");
    let ip = "2.66.58.1".parse().expect("ip");
    let up = svea_geo::route(Some(&db), ip, &cfg.regions, &cfg.geo.default_order, |_| true);
    assert_eq!(up.region.map(|r| r.to_string()), Some("stockholm".into()));
    let down = svea_geo::route(Some(&db), ip, &cfg.regions, &cfg.geo.default_order, |r| r.as_str() != "stockholm");
    // Uppsala is ~405 km from Gothenburg and ~548 km from Malmö.
    assert_eq!(down.region.as_ref().map(|r| r.to_string()), Some("gothenburg".into()));
    assert_eq!(serde_json::to_value(&down).expect("json")["code"], "next_nearest_healthy");
}

#[test]
fn sessions_open_in_the_customers_nearest_healthy_region() {
    let dir = tempfile::tempdir().expect("tmp");
    // Stockholm and Malmö trust the loopback proxy's X-Forwarded-For; Gothenburg trusts nobody.
    let trust: &[(&str, &str)] = &[("geo.trusted_proxies", "127.0.0.1")];
    let overrides = [("timeouts.failover_after_ms", "1000"), ("node.routing", "redirect")];
    let mut c = Cluster3::start_with(dir.path(), &overrides, [trust, &[], trust]);
    let Biz { id: _, token, key: _ } = create_business(c.by_region("stockholm"), "100.00");
    let malmo_customer = [("x-forwarded-for", "2.58.0.1")];
    let body = json!({"qr_token": token});

    // GET /v1/route explains the decision for the client address.
    let r = c.by_region("stockholm").get_with("/v1/route", &malmo_customer);
    assert_eq!(r.body["ip"], "2.58.0.1");
    assert_eq!(r.body["region"], "malmo");
    // An untrusted peer's X-Forwarded-For is ignored: Gothenburg routes the socket peer.
    let r = c.by_region("gothenburg").get_with("/v1/route", &malmo_customer);
    assert_eq!(r.body["ip"], "127.0.0.1", "{}", r.body);
    assert_eq!(r.body["code"], "private_address");
    assert_eq!(r.header("x-svea-region"), Some("gothenburg"));
    c.by_region("stockholm").get("/v1/route?ip=banana").problem(400, "invalid-ip");

    // A Malmö customer hitting Stockholm is sent to Malmö's public URL with a 307 ...
    let r = c.by_region("stockholm").post_with("/v1/sessions", body.clone(), &malmo_customer);
    assert_eq!(r.status, 307, "{}", r.body);
    assert_eq!(r.header("location"), Some(format!("{}/v1/sessions", c.by_region("malmo").url).as_str()));
    assert_eq!(r.header("x-svea-region"), Some("stockholm"));
    // ... where the session opens (and the redirect created nothing at Stockholm).
    let opened = c.by_region("malmo").post_with("/v1/sessions", body.clone(), &malmo_customer);
    assert_eq!(opened.status, 201, "{}", opened.body);
    assert_eq!(opened.body["region"], "malmo");
    // A Stockholm customer is served where they are.
    let local = c.by_region("stockholm").post_with(
        "/v1/sessions",
        json!({"qr_token": token}),
        &[("x-forwarded-for", "1.178.93.1")],
    );
    assert_eq!(local.status, 201, "{}", local.body);
    assert_eq!(local.body["region"], "stockholm");

    // Malmö goes down: once Stockholm has not heard from it for failover_after, the Malmö
    // customer goes to the next nearest healthy region, Gothenburg.
    let malmo = REGIONS.iter().position(|r| *r == "malmo").expect("malmo");
    c.nodes[malmo].kill9();
    let r = eventually(Duration::from_secs(20), "malmo counted as down (routed to gothenburg)", || {
        let r = c.by_region("stockholm").get_with("/v1/route", &malmo_customer);
        if r.body["region"] == "gothenburg" {
            Ok(r.body)
        } else {
            Err(r.body)
        }
    });
    assert_eq!(r["code"], "next_nearest_healthy", "{r}");
    let r = c.by_region("stockholm").post_with("/v1/sessions", json!({"qr_token": token}), &malmo_customer);
    assert_eq!(r.status, 307);
    assert_eq!(r.header("location"), Some(format!("{}/v1/sessions", c.by_region("gothenburg").url).as_str()));
}
