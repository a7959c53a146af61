//! `GeoDb`: lookups in either city schema, lenient records, and clear errors for bad files.

use std::fs;
use std::net::IpAddr;

use svea_geo::mmdb_writer::{MmdbWriter, Value};
use svea_geo::{Error, GeoDb, Location};

use crate::{net, write_db, Place, Schema, GOTHENBURG, SCHEMAS, STOCKHOLM, SWEDEN, UPPSALA};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address is valid")
}

fn location(place: Place) -> Location {
    Location {
        city: Some(place.city.to_owned()),
        country: Some(place.country.to_owned()),
        latitude: Some(place.lat),
        longitude: Some(place.lon),
    }
}

#[track_caller]
fn check(db: &GeoDb, addr: &str, expected: Option<Location>) {
    assert_eq!(
        db.lookup(ip(addr)).expect("lookup works"),
        expected,
        "{addr}"
    );
}

#[test]
fn both_schemas_give_the_same_locations_for_ipv4_ipv6_and_mapped_addresses() {
    let dir = tempfile::tempdir().unwrap();
    for schema in SCHEMAS {
        let db = GeoDb::open(write_db(
            dir.path(),
            &format!("{schema:?}.mmdb"),
            schema,
            SWEDEN,
        ))
        .unwrap();
        check(&db, "1.178.93.1", Some(location(STOCKHOLM)));
        check(&db, "2.66.78.200", Some(location(GOTHENBURG)));
        check(&db, "2.66.58.1", Some(location(UPPSALA)));
        check(&db, "2a02:aa1:ffff::1", Some(location(STOCKHOLM)));
        check(&db, "::ffff:2.66.78.1", Some(location(GOTHENBURG)));
        check(&db, "8.8.8.8", None);
        check(&db, "2a03::1", None);
        let info = db.info();
        assert_eq!(info.build_epoch, 1_700_000_000);
        assert_eq!(info.ip_version, 6);
        assert!(info.bytes > 0);
    }
}

/// A database with one network per record, for records written by hand.
fn db_of(records: &[(&str, Value)]) -> (tempfile::TempDir, GeoDb) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hand.mmdb");
    let mut w = MmdbWriter::new("hand", 1);
    w.description("en", "hand written");
    for (network, value) in records {
        w.insert(net(network), value).unwrap();
    }
    w.write_to(&path).unwrap();
    let db = GeoDb::open(&path).unwrap();
    (dir, db)
}

#[test]
fn records_are_read_leniently() {
    let (_dir, db) = db_of(&[
        // ip-location-db style floats and a lower-case country code.
        (
            "1.0.0.0/24",
            Value::map([
                ("city", Value::from("Lund")),
                ("country_code", Value::from("se")),
                ("latitude", Value::Float(55.75)),
                ("longitude", Value::Float(13.25)),
            ]),
        ),
        // Coordinates as strings, city of an unexpected type.
        (
            "1.0.1.0/24",
            Value::map([
                ("city", Value::Array(vec![Value::from("x")])),
                ("country_code", Value::from("NO")),
                ("latitude", Value::from(" 59.91 ")),
                ("longitude", Value::from("10.75")),
            ]),
        ),
        // MaxMind record with only a registered country and no location (anycast ranges).
        (
            "1.0.2.0/24",
            Value::map([(
                "registered_country",
                Value::map([("iso_code", Value::from("DK"))]),
            )]),
        ),
        // Coordinates out of range count as absent; a bad country code too.
        (
            "1.0.3.0/24",
            Value::map([
                ("country_code", Value::from("Sweden")),
                ("latitude", Value::Double(123.0)),
                ("longitude", Value::Double(18.0)),
            ]),
        ),
        // Only one of the coordinates.
        (
            "1.0.4.0/24",
            Value::map([("location", Value::map([("latitude", Value::Double(59.0))]))]),
        ),
        // Both layouts in one record: the MaxMind location wins, the flat city is used.
        (
            "1.0.5.0/24",
            Value::map([
                ("city", Value::from("Kiruna")),
                ("latitude", Value::Double(1.0)),
                ("longitude", Value::Double(2.0)),
                (
                    "location",
                    Value::map([
                        ("latitude", Value::Double(67.85)),
                        ("longitude", Value::Double(20.22)),
                    ]),
                ),
            ]),
        ),
    ]);
    let loc = |city: Option<&str>, country: Option<&str>, coords: Option<(f64, f64)>| Location {
        city: city.map(str::to_owned),
        country: country.map(str::to_owned),
        latitude: coords.map(|c| c.0),
        longitude: coords.map(|c| c.1),
    };
    check(
        &db,
        "1.0.0.1",
        Some(loc(Some("Lund"), Some("SE"), Some((55.75, 13.25)))),
    );
    check(
        &db,
        "1.0.1.1",
        Some(loc(None, Some("NO"), Some((59.91, 10.75)))),
    );
    check(&db, "1.0.2.1", Some(loc(None, Some("DK"), None)));
    check(&db, "1.0.3.1", Some(loc(None, None, None)));
    check(&db, "1.0.4.1", Some(loc(None, None, None)));
    check(
        &db,
        "1.0.5.1",
        Some(loc(Some("Kiruna"), None, Some((67.85, 20.22)))),
    );
}

/// Opening `bytes` as a database fails with an error whose message names the file.
#[track_caller]
fn check_refused(bytes: &[u8], what: fn(&Error) -> bool) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad-city.mmdb");
    fs::write(&path, bytes).unwrap();
    let error = GeoDb::open(&path).expect_err("a bad file is refused");
    assert!(what(&error), "unexpected error kind: {error:?}");
    let message = error.to_string();
    assert!(message.contains(&*path.to_string_lossy()), "{message}");
    assert!(message.starts_with("geoip database "), "{message}");
    message
}

fn good_bytes() -> Vec<u8> {
    crate::writer(Schema::DbIp, SWEDEN).to_bytes().unwrap()
}

#[test]
fn garbage_truncated_and_corrupt_files_are_refused_naming_the_file() {
    check_refused(b"this is not a maxmind database", |e| {
        matches!(e, Error::Corrupt { .. })
    });
    check_refused(b"", |e| matches!(e, Error::Corrupt { .. }));

    let good = good_bytes();
    check_refused(&good[..good.len() / 2], |e| {
        matches!(e, Error::Corrupt { .. })
    });

    // A search tree whose first records point past the data section: the metadata is fine, so
    // only full verification finds it.
    let mut bad_tree = good.clone();
    bad_tree[..6].copy_from_slice(&[0xFF; 6]);
    let message = check_refused(&bad_tree, |e| matches!(e, Error::Corrupt { .. }));
    assert!(message.contains("is not a valid maxmind db"), "{message}");
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nowhere.mmdb");
    let error = GeoDb::open(&path).unwrap_err();
    assert!(matches!(error, Error::Io { op: "open", .. }), "{error:?}");
    assert!(error.to_string().contains("nowhere.mmdb"), "{error}");
}

#[test]
fn a_database_of_another_kind_is_unsupported() {
    let mut w = MmdbWriter::new("GeoLite2-ASN", 1);
    w.description("en", "asn");
    w.insert(
        net("1.0.0.0/24"),
        &Value::map([
            ("autonomous_system_number", Value::U32(13335)),
            (
                "autonomous_system_organization",
                Value::from("CLOUDFLARENET"),
            ),
        ]),
    )
    .unwrap();
    let message = check_refused(&w.to_bytes().unwrap(), |e| {
        matches!(e, Error::Unsupported { .. })
    });
    assert!(message.contains("GeoLite2-ASN"), "{message}");
}
