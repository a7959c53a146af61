//! `build_subset`: only the requested countries, in the compact layout, reproducibly.

use std::collections::BTreeMap;
use std::fs;
use std::net::IpAddr;
use std::path::PathBuf;

use maxminddb::Reader;
use svea_geo::mmdb_writer::MmdbWriter;
use svea_geo::{build_subset, Error, GeoDb, Location};

use crate::{record, write_db, Place, Schema, GOTHENBURG, LUND, MALMO, STOCKHOLM, SWEDEN};

const OSLO: Place = Place {
    city: "Oslo",
    country: "NO",
    lat: 59.91,
    lon: 10.75,
};
const BERLIN: Place = Place {
    city: "Berlin",
    country: "DE",
    lat: 52.52,
    lon: 13.40,
};
const COPENHAGEN: Place = Place {
    city: "Copenhagen",
    country: "DK",
    lat: 55.68,
    lon: 12.57,
};
const LONDON: Place = Place {
    city: "London",
    country: "GB",
    lat: 51.51,
    lon: -0.13,
};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address is valid")
}

/// A MaxMind-schema input (Sweden, Norway, Germany) and a DB-IP-schema input (Denmark, Britain,
/// and one Swedish network that overrides the first input's).
fn inputs(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut maxmind: Vec<(&str, Place)> = SWEDEN.to_vec();
    maxmind.extend([
        ("84.208.0.0/13", OSLO),
        ("2a01:798::/29", OSLO),
        ("5.10.0.0/16", BERLIN),
        ("2a02:8100::/27", BERLIN),
    ]);
    let a = write_db(dir, "geolite2-city.mmdb", Schema::MaxMind, &maxmind);
    let b = write_db(
        dir,
        "dbip-city.mmdb",
        Schema::DbIp,
        &[
            ("2.104.0.0/13", COPENHAGEN),
            ("2a02:aa1:1::/48", MALMO), // more specific than the first input's /32
            ("2.58.0.0/24", LUND),      // same network as the first input's: this one wins
            ("81.2.69.0/24", LONDON),
        ],
    );
    vec![a, b]
}

fn at(place: Place) -> Option<Location> {
    Some(Location {
        city: Some(place.city.to_owned()),
        country: Some(place.country.to_owned()),
        latitude: Some(place.lat),
        longitude: Some(place.lon),
    })
}

#[track_caller]
fn check(db: &GeoDb, addr: &str, expected: Option<Location>) {
    assert_eq!(db.lookup(ip(addr)).unwrap(), expected, "{addr}");
}

#[test]
fn only_the_requested_countries_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = inputs(dir.path());
    let out = dir.path().join("nordics.mmdb");
    let countries = ["se", "NO", " dk ", "FI"].map(String::from);
    let stats = build_subset(&inputs, &countries, &out).unwrap();

    let db = GeoDb::open(&out).unwrap();
    check(&db, "1.178.93.1", at(STOCKHOLM));
    check(&db, "2.66.78.1", at(GOTHENBURG));
    check(&db, "2.58.0.1", at(LUND));
    check(&db, "2a02:aa1::1", at(STOCKHOLM));
    check(&db, "2a02:aa1:1::1", at(MALMO));
    check(&db, "84.209.1.1", at(OSLO));
    check(&db, "2a01:799::1", at(OSLO));
    check(&db, "2.105.1.1", at(COPENHAGEN));
    check(&db, "5.10.1.1", None);
    check(&db, "2a02:8100::1", None);
    check(&db, "81.2.69.1", None);

    // 10 networks in the first input (5 Swedish IPv4 counted once despite the ::ffff alias),
    // 4 in the second.
    assert_eq!(stats.networks_read, 14);
    let by_country: BTreeMap<&str, u64> = stats
        .by_country
        .iter()
        .map(|(c, n)| (c.as_str(), *n))
        .collect();
    assert_eq!(
        by_country,
        BTreeMap::from([("DK", 1), ("NO", 2), ("SE", 8)])
    );
    assert_eq!(stats.networks_kept, 11);
    assert_eq!(stats.networks_written, 10, "2.58.0.0/24 is in both inputs");
    assert_eq!(stats.bytes, fs::metadata(&out).unwrap().len());
    assert_eq!(stats.build_epoch, 1_700_000_000);

    let info = db.info();
    assert_eq!(info.database_type, "svea-City-Subset");
    assert_eq!(info.build_epoch, 1_700_000_000);
}

#[test]
fn the_output_uses_the_compact_flat_layout() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("se.mmdb");
    build_subset(&inputs(dir.path()), &["SE".to_owned()], &out).unwrap();
    let reader = Reader::open_readfile(&out).unwrap();
    let raw: BTreeMap<String, serde_json::Value> = reader
        .lookup(ip("1.178.93.1"))
        .unwrap()
        .decode()
        .unwrap()
        .unwrap();
    let keys: Vec<&str> = raw.keys().map(String::as_str).collect();
    assert_eq!(keys, ["city", "country_code", "latitude", "longitude"]);
    assert_eq!(raw["city"], "Stockholm");
    assert_eq!(raw["latitude"], 59.33);
    assert!(
        reader.metadata().description["en"].contains("SE from geolite2-city.mmdb, dbip-city.mmdb")
    );
}

#[test]
fn the_same_inputs_give_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = inputs(dir.path());
    let countries = ["SE".to_owned(), "NO".to_owned()];
    let one = dir.path().join("one.mmdb");
    let two = dir.path().join("two.mmdb");
    build_subset(&inputs, &countries, &one).unwrap();
    build_subset(
        &inputs,
        &["no".to_owned(), "se".to_owned(), "SE".to_owned()],
        &two,
    )
    .unwrap();
    assert_eq!(fs::read(&one).unwrap(), fs::read(&two).unwrap());
}

#[test]
fn the_newest_input_sets_the_build_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let newer = dir.path().join("newer.mmdb");
    let mut w = MmdbWriter::new("GeoLite2-City", 1_800_000_000);
    w.description("en", "newer");
    w.insert(
        "2.66.78.0/24".parse().unwrap(),
        &record(Schema::MaxMind, GOTHENBURG),
    )
    .unwrap();
    w.write_to(&newer).unwrap();
    let mut all = inputs(dir.path());
    all.push(newer);
    let out = dir.path().join("out.mmdb");
    let stats = build_subset(&all, &["SE".to_owned()], &out).unwrap();
    assert_eq!(stats.build_epoch, 1_800_000_000);
    assert_eq!(GeoDb::open(&out).unwrap().info().build_epoch, 1_800_000_000);
}

#[test]
fn bad_arguments_and_bad_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = inputs(dir.path());
    let out = dir.path().join("out.mmdb");

    let error = build_subset(&inputs, &["SWE".to_owned()], &out).unwrap_err();
    assert!(
        matches!(&error, Error::BadCountry { value } if value == "SWE"),
        "{error:?}"
    );
    assert!(matches!(
        build_subset(&inputs, &[], &out),
        Err(Error::NothingToBuild { .. })
    ));
    assert!(matches!(
        build_subset(&[], &["SE".to_owned()], &out),
        Err(Error::NothingToBuild { .. })
    ));

    let garbage = dir.path().join("garbage.mmdb");
    fs::write(&garbage, b"garbage").unwrap();
    let error = build_subset(&[inputs[0].clone(), garbage], &["SE".to_owned()], &out).unwrap_err();
    assert!(matches!(error, Error::Corrupt { .. }), "{error:?}");
    assert!(error.to_string().contains("garbage.mmdb"), "{error}");
    assert!(!out.exists(), "nothing written on error");
}
