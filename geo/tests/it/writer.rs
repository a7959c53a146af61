//! The MaxMind DB writer, checked by reading its files back with the `maxminddb` crate.

use std::collections::BTreeMap;
use std::net::IpAddr;

use maxminddb::{geoip2, Reader, WithinOptions};
use svea_geo::mmdb_writer::{MmdbWriter, RecordSize, Value};

use crate::{net, record, writer, Schema, GOTHENBURG, MALMO, STOCKHOLM, SWEDEN, UPPSALA};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address is valid")
}

fn open(w: &MmdbWriter) -> Reader<Vec<u8>> {
    let bytes = w.to_bytes().expect("database encodes");
    let reader = Reader::from_source(bytes).expect("maxminddb opens what we wrote");
    reader.verify().expect("maxminddb verifies what we wrote");
    reader
}

/// `addr` decodes, with the `maxminddb` crate's own GeoIP2 schema, to `city` (or is absent).
#[track_caller]
fn check_city(reader: &Reader<Vec<u8>>, addr: &str, city: Option<&str>) {
    let found = reader.lookup(ip(addr)).expect("lookup works");
    let got: Option<geoip2::City<'_>> = found.decode().expect("record decodes as GeoIP2 City");
    assert_eq!(got.and_then(|c| c.city.names.english), city, "{addr}");
}

#[test]
fn maxmind_schema_reads_back_with_the_geoip2_types_ipv4_and_ipv6() {
    let reader = open(&writer(Schema::MaxMind, SWEDEN));
    check_city(&reader, "1.178.93.1", Some("Stockholm"));
    check_city(&reader, "2.66.78.255", Some("Gothenburg"));
    check_city(&reader, "2.58.0.1", Some("Malmö"));
    check_city(&reader, "2a02:aa1:1234::1", Some("Stockholm"));
    check_city(&reader, "2.66.79.1", None);
    check_city(&reader, "2a02:aa2::1", None);
    // IPv4-mapped IPv6 reaches the IPv4 records, as in MaxMind's own files.
    check_city(&reader, "::ffff:2.66.58.7", Some("Uppsala"));

    let found = reader.lookup(ip("1.178.93.77")).unwrap();
    let city: geoip2::City<'_> = found.decode().unwrap().unwrap();
    assert_eq!(city.country.iso_code, Some("SE"));
    assert_eq!(city.location.latitude, Some(59.33));
    assert_eq!(city.location.longitude, Some(18.07));
    assert_eq!(city.location.accuracy_radius, Some(20));
    assert_eq!(found.network().unwrap(), net("1.178.93.0/24"));
}

#[test]
fn dbip_schema_reads_back_as_flat_fields() {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Flat<'a> {
        city: &'a str,
        country_code: &'a str,
        latitude: f64,
        longitude: f64,
    }
    let reader = open(&writer(Schema::DbIp, SWEDEN));
    let flat =
        |addr: &str| -> Option<Flat<'_>> { reader.lookup(ip(addr)).unwrap().decode().unwrap() };
    let expected = Flat {
        city: "Gothenburg",
        country_code: "SE",
        latitude: GOTHENBURG.lat,
        longitude: GOTHENBURG.lon,
    };
    assert_eq!(flat("2.66.78.1"), Some(expected));
    assert_eq!(flat("2a02:aa1::9").map(|f| f.city), Some("Stockholm"));
    assert_eq!(flat("9.9.9.9"), None);
}

#[test]
fn metadata_is_what_readers_expect() {
    let reader = open(&writer(Schema::DbIp, SWEDEN));
    let meta = reader.metadata();
    assert_eq!(meta.binary_format_major_version, 2);
    assert_eq!(meta.binary_format_minor_version, 0);
    assert_eq!(meta.ip_version, 6);
    assert_eq!(meta.build_epoch, 1_700_000_000);
    assert_eq!(meta.database_type, "DBIP-City-Lite");
    assert_eq!(meta.languages, ["en"]);
    assert_eq!(meta.description["en"], "svea test DBIP-City-Lite");
    assert_eq!(meta.record_size, 24);
}

#[test]
fn the_most_specific_network_wins_whatever_the_insertion_order() {
    let nested = [
        ("10.1.2.0/24", UPPSALA),
        ("10.0.0.0/8", STOCKHOLM),
        ("10.1.0.0/16", GOTHENBURG),
        ("2001:db8:1::/48", MALMO),
        ("2001:db8::/32", STOCKHOLM),
        ("::/0", GOTHENBURG),
    ];
    let mut reversed = nested;
    reversed.reverse();
    for networks in [&nested[..], &reversed[..]] {
        let reader = open(&writer(Schema::MaxMind, networks));
        check_city(&reader, "10.1.2.3", Some("Uppsala"));
        check_city(&reader, "10.1.3.3", Some("Gothenburg"));
        check_city(&reader, "10.2.0.1", Some("Stockholm"));
        check_city(&reader, "11.0.0.1", Some("Gothenburg")); // ::/0 covers ::/96 too
        check_city(&reader, "2001:db8:1::1", Some("Malmö"));
        check_city(&reader, "2001:db8:2::1", Some("Stockholm"));
        check_city(&reader, "2a00::1", Some("Gothenburg"));
        let found = reader.lookup(ip("10.1.3.3")).unwrap();
        assert_eq!(
            found.network().unwrap(),
            net("10.1.3.0/24"),
            "rest of the /16 around the /24"
        );
    }
}

#[test]
fn same_networks_give_the_same_bytes_and_adjacent_equal_records_merge() {
    let mut reversed = SWEDEN.to_vec();
    reversed.reverse();
    let a = writer(Schema::DbIp, SWEDEN).to_bytes().unwrap();
    let b = writer(Schema::DbIp, &reversed).to_bytes().unwrap();
    assert_eq!(a, b);

    // Two halves with the same record read back as one /24 network.
    let reader = open(&writer(
        Schema::DbIp,
        &[
            ("5.6.7.0/25", MALMO),
            ("5.6.7.128/25", MALMO),
            ("5.6.8.0/25", MALMO),
        ],
    ));
    let networks: Vec<String> = reader
        .networks(WithinOptions::default())
        .unwrap()
        .map(|r| r.unwrap().network().unwrap().to_string())
        .collect();
    assert_eq!(networks, ["5.6.7.0/24", "5.6.8.0/25"]);
}

#[test]
fn iteration_sees_each_ipv4_network_once_despite_the_mapped_alias() {
    let reader = open(&writer(Schema::MaxMind, SWEDEN));
    let mut networks: Vec<String> = reader
        .networks(WithinOptions::default())
        .unwrap()
        .map(|r| r.unwrap().network().unwrap().to_string())
        .collect();
    networks.sort();
    let mut expected: Vec<String> = SWEDEN.iter().map(|(n, _)| n.to_string()).collect();
    expected.sort();
    assert_eq!(networks, expected);
}

#[test]
fn every_record_size_reads_back() {
    for size in [RecordSize::Bits24, RecordSize::Bits28, RecordSize::Bits32] {
        let mut w = writer(Schema::MaxMind, SWEDEN);
        w.record_size_at_least(size);
        let reader = open(&w);
        let bits = match size {
            RecordSize::Bits24 => 24,
            RecordSize::Bits28 => 28,
            RecordSize::Bits32 => 32,
        };
        assert_eq!(reader.metadata().record_size, bits);
        check_city(&reader, "2.248.90.1", Some("Lund"));
        check_city(&reader, "2a02:aa1::1", Some("Stockholm"));
        check_city(&reader, "2.248.91.1", None);
    }
}

#[test]
fn a_database_too_big_for_24_bit_records_uses_28() {
    // 17 MB of distinct strings: data pointers no longer fit 24 bits.
    let mut w = MmdbWriter::new("big", 0);
    w.description("en", "big");
    for i in 0..17_u8 {
        let text = char::from(b'a' + i).to_string().repeat(1 << 20);
        w.insert(
            net(&format!("10.{i}.0.0/16")),
            &Value::map([("s", Value::from(text))]),
        )
        .unwrap();
    }
    let reader = open(&w);
    assert_eq!(reader.metadata().record_size, 28);
    let last: BTreeMap<String, String> = reader
        .lookup(ip("10.16.1.1"))
        .unwrap()
        .decode()
        .unwrap()
        .unwrap();
    assert_eq!(last["s"].len(), 1 << 20);
    assert!(last["s"].starts_with('q'));
}

#[test]
fn every_value_type_and_size_class_round_trips() {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct All {
        s0: String,
        s28: String,
        s29: String,
        s284: String,
        s285: String,
        s65820: String,
        s65821: String,
        d: f64,
        f: f32,
        u16_: u16,
        u16_0: u16,
        u32_: u32,
        u64_: u64,
        i32_: i32,
        yes: bool,
        no: bool,
        list: Vec<u32>,
        nested: BTreeMap<String, String>,
    }
    let s = |n: usize| Value::from("x".repeat(n));
    let value = Value::map([
        ("s0", s(0)),
        ("s28", s(28)),
        ("s29", s(29)),
        ("s284", s(284)),
        ("s285", s(285)),
        ("s65820", s(65_820)),
        ("s65821", s(65_821)),
        ("d", Value::Double(-33.5)),
        ("f", Value::Float(1.25)),
        ("u16_", Value::U16(300)),
        ("u16_0", Value::U16(0)),
        ("u32_", Value::U32(4_000_000_000)),
        ("u64_", Value::U64(u64::MAX)),
        ("i32_", Value::I32(-7)),
        ("yes", Value::Bool(true)),
        ("no", Value::Bool(false)),
        ("list", Value::Array((0..40).map(Value::U32).collect())),
        ("nested", Value::map([("k", Value::from("v"))])),
    ]);
    let mut w = MmdbWriter::new("types", 0);
    w.description("en", "types");
    w.insert(net("2001:db8::/32"), &value).unwrap();
    let reader = open(&w);
    let all: All = reader
        .lookup(ip("2001:db8::1"))
        .unwrap()
        .decode()
        .unwrap()
        .unwrap();
    assert_eq!(all.s0, "");
    for (got, n) in [
        (&all.s28, 28),
        (&all.s29, 29),
        (&all.s284, 284),
        (&all.s285, 285),
        (&all.s65820, 65_820),
        (&all.s65821, 65_821),
    ] {
        assert_eq!(got.len(), n);
    }
    assert_eq!((all.d, all.f), (-33.5, 1.25));
    assert_eq!(
        (all.u16_, all.u16_0, all.u32_, all.u64_, all.i32_),
        (300, 0, 4_000_000_000, u64::MAX, -7)
    );
    assert_eq!((all.yes, all.no), (true, false));
    assert_eq!(all.list, (0..40).collect::<Vec<u32>>());
    assert_eq!(all.nested["k"], "v");
}

#[test]
fn an_empty_database_is_valid_and_finds_nothing() {
    let mut w = MmdbWriter::new("empty", 0);
    w.description("en", "empty");
    let reader = open(&w);
    check_city(&reader, "1.2.3.4", None);
    check_city(&reader, "2a02:aa1::1", None);
}

#[test]
fn reinserting_a_network_replaces_its_record() {
    let mut w = writer(Schema::MaxMind, &[("1.178.93.0/24", STOCKHOLM)]);
    w.insert(net("1.178.93.0/24"), &record(Schema::MaxMind, MALMO))
        .unwrap();
    assert_eq!(w.len(), 1);
    check_city(&open(&w), "1.178.93.1", Some("Malmö"));
}
