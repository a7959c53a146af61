//! `route`: nearest healthy region for located addresses, the default order for the rest, and the
//! explanation returned to operators.

use std::net::IpAddr;

use svea_config::Region;
use svea_geo::mmdb_writer::{MmdbWriter, Value};
use svea_geo::{distance_km, route, GeoDb, Route, RouteReason};

use crate::{default_regions, net, region, write_db, SCHEMAS, SWEDEN, UPPSALA};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address is valid")
}

/// The default order of the tests: gothenburg first, to tell it apart from "nearest".
fn default_order() -> Vec<Region> {
    ["gothenburg", "stockholm", "malmo"].map(region).to_vec()
}

/// Routes `addr` with the regions in `down` unhealthy and checks the chosen region and code.
#[track_caller]
fn check(
    db: Option<&GeoDb>,
    addr: &str,
    down: &[&str],
    expected: Option<&str>,
    code: RouteReason,
) -> Route {
    let r = route(db, ip(addr), &default_regions(), &default_order(), |r| {
        !down.contains(&r.as_str())
    });
    assert_eq!(
        r.region.as_ref().map(Region::as_str),
        expected,
        "{addr} with {down:?} down: {r:#?}"
    );
    assert_eq!(r.code, code, "{addr} with {down:?} down: {r:#?}");
    r
}

fn databases() -> (tempfile::TempDir, Vec<GeoDb>) {
    let dir = tempfile::tempdir().unwrap();
    let dbs = SCHEMAS
        .into_iter()
        .map(|schema| {
            GeoDb::open(write_db(
                dir.path(),
                &format!("{schema:?}.mmdb"),
                schema,
                SWEDEN,
            ))
            .unwrap()
        })
        .collect();
    (dir, dbs)
}

#[test]
fn swedish_addresses_go_to_the_nearest_region_in_either_schema() {
    let (_dir, dbs) = databases();
    for db in &dbs {
        let db = Some(db);
        let nearest = RouteReason::NearestHealthy;
        check(db, "1.178.93.1", &[], Some("stockholm"), nearest);
        check(db, "2.66.78.1", &[], Some("gothenburg"), nearest);
        check(db, "2.58.0.1", &[], Some("malmo"), nearest);
        check(db, "2.248.90.1", &[], Some("malmo"), nearest); // Lund
        check(db, "2.66.58.1", &[], Some("stockholm"), nearest); // Uppsala
        check(db, "2a02:aa1::1", &[], Some("stockholm"), nearest);
        check(db, "::ffff:2.58.0.1", &[], Some("malmo"), nearest);
    }
}

#[test]
fn with_the_nearest_region_down_the_next_nearest_healthy_one_serves() {
    // Uppsala is about 405 km from gothenburg and 548 km from malmo.
    let regions = default_regions();
    let from_uppsala = |name: &str| {
        let spec = regions.iter().find(|s| s.name.as_str() == name).unwrap();
        distance_km((UPPSALA.lat, UPPSALA.lon), (spec.lat, spec.lon))
    };
    assert!(from_uppsala("gothenburg") < from_uppsala("malmo"));

    let (_dir, dbs) = databases();
    for db in &dbs {
        let r = check(
            Some(db),
            "2.66.58.1",
            &["stockholm"],
            Some("gothenburg"),
            RouteReason::NextNearestHealthy,
        );
        assert_eq!(
            r.reason,
            "nearest region stockholm is down; next nearest healthy"
        );
        check(
            Some(db),
            "2.66.58.1",
            &["stockholm", "gothenburg"],
            Some("malmo"),
            RouteReason::NextNearestHealthy,
        );
        check(
            Some(db),
            "2.248.90.1",
            &["malmo"],
            Some("gothenburg"),
            RouteReason::NextNearestHealthy,
        );
        let r = check(
            Some(db),
            "2.66.58.1",
            &["stockholm", "gothenburg", "malmo"],
            None,
            RouteReason::NoHealthyRegion,
        );
        assert_eq!(r.reason, "no healthy region");
        assert_eq!(r.distances_km.len(), 3, "distances are still explained");
    }
}

#[test]
fn addresses_without_a_place_go_to_the_default_order() {
    let (_dir, dbs) = databases();
    let db = Some(&dbs[0]);
    let private = RouteReason::PrivateAddress;
    for (addr, reason) in [
        ("10.0.0.1", "private address: default order"),
        ("192.168.1.1", "private address: default order"),
        ("172.16.5.4", "private address: default order"),
        ("100.64.0.1", "private address: default order"),
        ("fd12:3456::1", "private address: default order"),
        ("127.0.0.1", "loopback address: default order"),
        ("::1", "loopback address: default order"),
        ("::ffff:127.0.0.1", "loopback address: default order"),
        ("169.254.10.1", "link-local address: default order"),
        ("fe80::1", "link-local address: default order"),
        ("0.0.0.0", "unspecified address: default order"),
        ("::", "unspecified address: default order"),
        ("224.0.0.1", "reserved address: default order"),
        ("192.0.2.1", "reserved address: default order"),
        ("2001:db8::1", "reserved address: default order"),
    ] {
        let r = check(db, addr, &[], Some("gothenburg"), private);
        assert_eq!(r.reason, reason);
        assert!(
            r.distances_km.is_empty() && r.latitude.is_none() && r.city.is_none(),
            "{r:?}"
        );
    }
    let r = check(
        db,
        "8.8.8.8",
        &[],
        Some("gothenburg"),
        RouteReason::NotInDatabase,
    );
    assert_eq!(r.reason, "address not in database: default order");
    check(
        db,
        "2a03:2880::1",
        &[],
        Some("gothenburg"),
        RouteReason::NotInDatabase,
    );
    let r = check(
        None,
        "1.178.93.1",
        &[],
        Some("gothenburg"),
        RouteReason::NoDatabase,
    );
    assert_eq!(r.reason, "no geoip database: default order");
}

#[test]
fn the_default_order_skips_unhealthy_regions() {
    let (_dir, dbs) = databases();
    let db = Some(&dbs[1]);
    check(
        db,
        "10.0.0.1",
        &["gothenburg"],
        Some("stockholm"),
        RouteReason::PrivateAddress,
    );
    check(
        db,
        "10.0.0.1",
        &["gothenburg", "stockholm"],
        Some("malmo"),
        RouteReason::PrivateAddress,
    );
    let r = check(
        db,
        "10.0.0.1",
        &["gothenburg", "stockholm", "malmo"],
        None,
        RouteReason::NoHealthyRegion,
    );
    assert_eq!(r.reason, "no healthy region");

    // A region missing from the default order still serves when everything in it is down.
    let r = route(
        db,
        ip("10.0.0.1"),
        &default_regions(),
        &[region("stockholm")],
        |r| r.as_str() != "stockholm",
    );
    assert_eq!(
        r.region,
        Some(region("gothenburg")),
        "first healthy by name: {r:?}"
    );
    let r = route(db, ip("10.0.0.1"), &default_regions(), &[], |_| true);
    assert_eq!(r.region, Some(region("gothenburg")));
}

#[test]
fn a_record_without_coordinates_is_explained_with_what_is_known() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("country.mmdb");
    let mut w = MmdbWriter::new("country-only", 1);
    w.description("en", "country only");
    w.insert(
        net("5.150.192.0/18"),
        &Value::map([("country_code", Value::from("SE"))]),
    )
    .unwrap();
    w.write_to(&path).unwrap();
    let db = GeoDb::open(&path).unwrap();
    let r = check(
        Some(&db),
        "5.150.200.1",
        &[],
        Some("gothenburg"),
        RouteReason::NoCoordinates,
    );
    assert_eq!(r.country.as_deref(), Some("SE"));
    assert_eq!(r.reason, "address has no coordinates: default order");
    assert!(r.distances_km.is_empty());
}

#[test]
fn the_explanation_serializes_to_json() {
    let (_dir, dbs) = databases();
    let r = check(
        Some(&dbs[0]),
        "2.248.90.1",
        &["malmo"],
        Some("gothenburg"),
        RouteReason::NextNearestHealthy,
    );
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["ip"], "2.248.90.1");
    assert_eq!(json["city"], "Lund");
    assert_eq!(json["country"], "SE");
    assert_eq!(json["latitude"], 55.70);
    assert_eq!(json["longitude"], 13.19);
    assert_eq!(json["region"], "gothenburg");
    assert_eq!(json["code"], "next_nearest_healthy");
    assert_eq!(
        json["reason"],
        "nearest region malmo is down; next nearest healthy"
    );
    let distances = json["distances_km"].as_object().unwrap();
    let names: Vec<&String> = distances.keys().collect();
    assert_eq!(names, ["gothenburg", "malmo", "stockholm"]);
    let to_malmo = distances["malmo"].as_f64().unwrap();
    assert!(
        (to_malmo - 16.3).abs() < 1.0,
        "Lund to Malmö is about 16 km: {to_malmo}"
    );

    let unknown = serde_json::to_value(route(
        Some(&dbs[0]),
        ip("10.1.1.1"),
        &default_regions(),
        &default_order(),
        |_| true,
    ))
    .unwrap();
    assert_eq!(unknown["city"], serde_json::Value::Null);
    assert_eq!(unknown["distances_km"], serde_json::json!({}));
    assert_eq!(unknown["code"], "private_address");
}
