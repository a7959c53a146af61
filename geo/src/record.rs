//! One GeoIP record in either city schema, decoded leniently into a [`Location`].
//!
//! The two layouts in the wild:
//! - MaxMind GeoIP2/GeoLite2-City (also DB-IP's MaxMind-compatible files):
//!   `{location: {latitude, longitude}, city: {names: {en}}, country: {iso_code}}`;
//! - DB-IP / ip-location-db city: flat `{latitude, longitude, city, country_code}`.
//!
//! A record is decoded in one pass into [`RawRecord`], a derived struct with the keys of both
//! layouts (`city` is a map in one and a string in the other); the nested `city` and `country`
//! maps are maxminddb's own GeoIP2 types. Each field we read is an untagged enum whose last
//! variant takes any value, so a field of an unexpected type counts as absent instead of failing
//! the lookup. Coordinates may be doubles, floats, integers or numeric strings, and coordinates
//! out of range count as absent: the file is outside input. Keys we do not read are skipped
//! without decoding, and strings are borrowed from the database until the [`Location`] is built.
//!
//! The price of untagged enums: serde buffers the value of each field we read before trying its
//! variants, a few small allocations per lookup (one lookup per new session). Two shapes no city
//! database has still fail a lookup: a 128-bit integer inside a field we read (serde's buffer
//! cannot hold one) and a record that is not a map.

use maxminddb::geoip2::city as geoip2;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

/// Where an address is, as far as the GeoIP database knows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Location {
    /// City name in English, if the record has one.
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2 country code, upper case (`SE`).
    pub country: Option<String>,
    /// Latitude in degrees, within [-90, 90]; set exactly when `longitude` is.
    pub latitude: Option<f64>,
    /// Longitude in degrees, within [-180, 180]; set exactly when `latitude` is.
    pub longitude: Option<f64>,
}

impl Location {
    /// `(latitude, longitude)` when the record has both.
    pub fn coordinates(&self) -> Option<(f64, f64)> {
        Some((self.latitude?, self.longitude?))
    }
}

/// The fields of a record in both schemas, before choosing between them. A missing key is `None`.
#[derive(Debug, Deserialize)]
pub(crate) struct RawRecord<'a> {
    /// MaxMind `location.{latitude,longitude}`.
    #[serde(borrow)]
    location: Option<LocationField<'a>>,
    /// Flat `latitude`.
    #[serde(borrow)]
    latitude: Option<Coordinate<'a>>,
    /// Flat `longitude`.
    #[serde(borrow)]
    longitude: Option<Coordinate<'a>>,
    /// `city.names.en` or flat `city`.
    #[serde(borrow)]
    city: Option<CityField<'a>>,
    /// `country.iso_code`.
    #[serde(borrow)]
    country: Option<CountryField<'a>>,
    /// `registered_country.iso_code`: MaxMind's fallback when `country` is absent.
    #[serde(borrow)]
    registered_country: Option<CountryField<'a>>,
    /// Flat `country_code`.
    #[serde(borrow)]
    country_code: Option<Text<'a>>,
}

/// A latitude or longitude: any number, or a string holding one.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Coordinate<'a> {
    Number(f64),
    Text(&'a str),
    Other(IgnoredAny),
}

impl Coordinate<'_> {
    fn value(field: Option<&Self>) -> Option<f64> {
        match field? {
            Coordinate::Number(x) => Some(*x),
            Coordinate::Text(s) => s.trim().parse().ok(),
            Coordinate::Other(_) => None,
        }
        .filter(|x: &f64| x.is_finite())
    }
}

/// MaxMind's `location` map; anything that is not a map has no coordinates.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum LocationField<'a> {
    /// Not `geoip2::Location`: its coordinates must be numbers and its other fields of one type
    /// each, where we take text coordinates and ignore the rest, as in the flat layout.
    Map {
        #[serde(borrow)]
        latitude: Option<Coordinate<'a>>,
        #[serde(borrow)]
        longitude: Option<Coordinate<'a>>,
    },
    Other(IgnoredAny),
}

/// `city`: a plain string (DB-IP) or a GeoIP2 city map whose `names.en` is the name (MaxMind).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CityField<'a> {
    Name(&'a str),
    #[serde(borrow)]
    Names(geoip2::City<'a>),
    Other(IgnoredAny),
}

/// `country` / `registered_country`: a GeoIP2 country map (MaxMind) or, leniently, a bare code.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CountryField<'a> {
    Code(&'a str),
    #[serde(borrow)]
    Map(geoip2::Country<'a>),
    Other(IgnoredAny),
}

/// A string; anything else is ignored.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Text<'a> {
    Text(&'a str),
    Other(IgnoredAny),
}

impl RawRecord<'_> {
    /// The location in this record: coordinates from `location` when it has both, else from the
    /// flat fields; country from `country`, `country_code`, then `registered_country`.
    pub(crate) fn into_location(self) -> Location {
        let [nested, flat] = self.coordinate_pairs();
        let coordinates = match nested {
            (Some(lat), Some(lon)) => valid_coordinates(lat, lon),
            _ => None,
        }
        .or_else(|| match flat {
            (Some(lat), Some(lon)) => valid_coordinates(lat, lon),
            _ => None,
        });
        let country = [
            self.country.as_ref().and_then(CountryField::code),
            self.country_code.as_ref().and_then(Text::text),
            self.registered_country.as_ref().and_then(CountryField::code),
        ]
        .into_iter()
        .flatten()
        .find_map(country_code);
        let city = self
            .city
            .as_ref()
            .and_then(CityField::name)
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty());
        Location {
            city,
            country,
            latitude: coordinates.map(|c| c.0),
            longitude: coordinates.map(|c| c.1),
        }
    }

    /// Whether the record carries anything a city database would: coordinates, a city or a country.
    pub(crate) fn looks_like_city_record(&self) -> bool {
        self.coordinate_pairs()
            .iter()
            .any(|pair| pair.0.is_some() || pair.1.is_some())
            || self.city.as_ref().and_then(CityField::name).is_some()
            || self.country.as_ref().and_then(CountryField::code).is_some()
            || self.country_code.as_ref().and_then(Text::text).is_some()
            || self.registered_country.as_ref().and_then(CountryField::code).is_some()
    }

    /// `[(latitude, longitude)]` of `location` and of the flat fields, each number when usable.
    fn coordinate_pairs(&self) -> [(Option<f64>, Option<f64>); 2] {
        let nested = match &self.location {
            Some(LocationField::Map {
                latitude,
                longitude,
            }) => (
                Coordinate::value(latitude.as_ref()),
                Coordinate::value(longitude.as_ref()),
            ),
            _ => (None, None),
        };
        let flat = (
            Coordinate::value(self.latitude.as_ref()),
            Coordinate::value(self.longitude.as_ref()),
        );
        [nested, flat]
    }
}

impl<'a> CityField<'a> {
    fn name(&self) -> Option<&'a str> {
        match self {
            CityField::Name(name) => Some(name),
            CityField::Names(city) => city.names.english,
            CityField::Other(_) => None,
        }
    }
}

impl<'a> CountryField<'a> {
    fn code(&self) -> Option<&'a str> {
        match self {
            CountryField::Code(code) => Some(code),
            CountryField::Map(country) => country.iso_code,
            CountryField::Other(_) => None,
        }
    }
}

impl<'a> Text<'a> {
    fn text(&self) -> Option<&'a str> {
        match self {
            Text::Text(s) => Some(s),
            Text::Other(_) => None,
        }
    }
}

fn valid_coordinates(lat: f64, lon: f64) -> Option<(f64, f64)> {
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lat, lon))
}

/// `code` upper-cased when it is two ASCII letters.
pub(crate) fn country_code(code: &str) -> Option<String> {
    let code = code.trim();
    (code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()))
        .then(|| code.to_ascii_uppercase())
}
