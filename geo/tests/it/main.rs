//! Integration tests for svea-geo: distances and region choice, the MaxMind DB writer, lookups in
//! both city schemas, routing and its explanation, client addresses behind proxies, hot reload and
//! `build_subset`. Every GeoIP file is written by the crate's own writer inside the test.

mod client_ip;
mod lookup;
// Shared with the other crates' tests without a dependency (see the file's own docs).
#[path = "../../../simulations/src/poll.rs"]
mod poll;
mod nearest;
mod reload;
mod routing;
mod subset;
mod writer;

use std::path::{Path, PathBuf};

use svea_config::{RawConfig, Region, RegionSpec};
use svea_geo::mmdb_writer::{MmdbWriter, Value};
use svea_geo::IpNetwork;

/// The region table a default config ships with.
pub fn default_regions() -> Vec<RegionSpec> {
    RawConfig::default()
        .validate()
        .expect("default config is valid")
        .regions
}

pub fn region(name: &str) -> Region {
    name.parse().expect("test region name is valid")
}

pub fn net(s: &str) -> IpNetwork {
    s.parse().expect("test network is valid")
}

/// A place a test network maps to.
#[derive(Debug, Clone, Copy)]
pub struct Place {
    pub city: &'static str,
    pub country: &'static str,
    pub lat: f64,
    pub lon: f64,
}

pub const STOCKHOLM: Place = place("Stockholm", "SE", 59.33, 18.07);
pub const GOTHENBURG: Place = place("Gothenburg", "SE", 57.71, 11.97);
pub const MALMO: Place = place("Malmö", "SE", 55.60, 13.00);
pub const LUND: Place = place("Lund", "SE", 55.70, 13.19);
pub const UPPSALA: Place = place("Uppsala", "SE", 59.86, 17.64);

const fn place(city: &'static str, country: &'static str, lat: f64, lon: f64) -> Place {
    Place {
        city,
        country,
        lat,
        lon,
    }
}

/// The Swedish networks of the routing tests.
pub const SWEDEN: &[(&str, Place)] = &[
    ("1.178.93.0/24", STOCKHOLM),
    ("2.66.78.0/24", GOTHENBURG),
    ("2.58.0.0/24", MALMO),
    ("2.248.90.0/24", LUND),
    ("2.66.58.0/24", UPPSALA),
    ("2a02:aa1::/32", STOCKHOLM),
];

/// The two city layouts a user may point svea at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// GeoIP2/GeoLite2-City: nested `location`, `city.names`, `country.iso_code`.
    MaxMind,
    /// DB-IP / ip-location-db city: flat `latitude`, `longitude`, `city`, `country_code`.
    DbIp,
}

pub const SCHEMAS: [Schema; 2] = [Schema::MaxMind, Schema::DbIp];

/// A record for `place` the way that schema's real files carry it, extra fields included.
pub fn record(schema: Schema, place: Place) -> Value {
    match schema {
        Schema::MaxMind => Value::map([
            (
                "city",
                Value::map([
                    ("geoname_id", Value::U32(2673730)),
                    (
                        "names",
                        Value::map([
                            ("en", Value::from(place.city)),
                            ("sv", Value::from(place.city)),
                        ]),
                    ),
                ]),
            ),
            (
                "continent",
                Value::map([
                    ("code", Value::from("EU")),
                    ("geoname_id", Value::U32(6255148)),
                ]),
            ),
            (
                "country",
                Value::map([
                    ("geoname_id", Value::U32(2661886)),
                    ("iso_code", Value::from(place.country)),
                    ("names", Value::map([("en", Value::from("Sweden"))])),
                ]),
            ),
            (
                "location",
                Value::map([
                    ("accuracy_radius", Value::U16(20)),
                    ("latitude", Value::Double(place.lat)),
                    ("longitude", Value::Double(place.lon)),
                    ("time_zone", Value::from("Europe/Stockholm")),
                ]),
            ),
            (
                "subdivisions",
                Value::Array(vec![Value::map([("iso_code", Value::from("AB"))])]),
            ),
        ]),
        Schema::DbIp => Value::map([
            ("city", Value::from(place.city)),
            ("country_code", Value::from(place.country)),
            ("latitude", Value::Double(place.lat)),
            ("longitude", Value::Double(place.lon)),
            ("postcode", Value::from("111 20")),
            ("state1", Value::from("Stockholm County")),
            ("timezone", Value::from("Europe/Stockholm")),
        ]),
    }
}

/// A writer holding `networks` in `schema`.
pub fn writer(schema: Schema, networks: &[(&str, Place)]) -> MmdbWriter {
    let database_type = match schema {
        Schema::MaxMind => "GeoLite2-City",
        Schema::DbIp => "DBIP-City-Lite",
    };
    let mut w = MmdbWriter::new(database_type, 1_700_000_000);
    w.description("en", format!("svea test {database_type}"))
        .languages(["en"]);
    for (network, place) in networks {
        w.insert(net(network), &record(schema, *place))
            .expect("test record encodes");
    }
    w
}

/// Writes `networks` in `schema` to `dir/name` and returns the path.
pub fn write_db(dir: &Path, name: &str, schema: Schema, networks: &[(&str, Place)]) -> PathBuf {
    let path = dir.join(name);
    writer(schema, networks)
        .write_to(&path)
        .expect("test database is written");
    path
}
