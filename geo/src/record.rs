//! One GeoIP record in either city schema, decoded leniently into a [`Location`].
//!
//! The two layouts in the wild:
//! - MaxMind GeoIP2/GeoLite2-City (also DB-IP's MaxMind-compatible files):
//!   `{location: {latitude, longitude}, city: {names: {en}}, country: {iso_code}}`;
//! - DB-IP / ip-location-db city: flat `{latitude, longitude, city, country_code}`.
//!
//! A record is decoded in one pass over its map, trying both shapes per key (`city` is a map in one
//! and a string in the other). Fields of an unexpected type are ignored rather than failing the
//! lookup, coordinates may be doubles, floats, integers or numeric strings, and coordinates out of
//! range count as absent: the file is outside input. Strings are borrowed from the database until
//! the final [`Location`] is built, so a lookup allocates only the city and country it returns.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Serialize;

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

/// The fields of a record in both schemas, before choosing between them.
#[derive(Debug, Default)]
pub(crate) struct RawRecord<'a> {
    /// MaxMind `location.{latitude,longitude}`.
    location: (Option<f64>, Option<f64>),
    /// Flat `latitude`, `longitude`.
    flat: (Option<f64>, Option<f64>),
    /// `city.names.en` or flat `city`.
    city: Option<Cow<'a, str>>,
    /// `country.iso_code`.
    country: Option<Cow<'a, str>>,
    /// `registered_country.iso_code`: MaxMind's fallback when `country` is absent.
    registered_country: Option<Cow<'a, str>>,
    /// Flat `country_code`.
    country_code: Option<Cow<'a, str>>,
}

impl RawRecord<'_> {
    /// The location in this record: coordinates from `location` when it has both, else from the
    /// flat fields; country from `country`, `country_code`, then `registered_country`.
    pub(crate) fn into_location(self) -> Location {
        let coordinates = match self.location {
            (Some(lat), Some(lon)) => valid_coordinates(lat, lon),
            _ => None,
        }
        .or_else(|| match self.flat {
            (Some(lat), Some(lon)) => valid_coordinates(lat, lon),
            _ => None,
        });
        let country = [self.country, self.country_code, self.registered_country]
            .into_iter()
            .flatten()
            .find_map(|code| country_code(&code));
        let city = self
            .city
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
        let any = |pair: (Option<f64>, Option<f64>)| pair.0.is_some() || pair.1.is_some();
        any(self.location)
            || any(self.flat)
            || self.city.is_some()
            || self.country.is_some()
            || self.country_code.is_some()
            || self.registered_country.is_some()
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

/// Implements the visitor methods that turn values of a type we do not expect into `None`
/// (after consuming them), so a schema surprise in one field never fails the whole record.
macro_rules! ignore_other_types {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method<E: de::Error>(self, _: $ty) -> Result<Self::Value, E> {
            Ok(Default::default())
        })*
    };
}

/// Record keys we read; everything else is skipped without decoding.
#[derive(serde::Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Key {
    Location,
    City,
    Country,
    RegisteredCountry,
    Latitude,
    Longitude,
    CountryCode,
    #[serde(other)]
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for RawRecord<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RecordVisitor;
        impl<'de> Visitor<'de> for RecordVisitor {
            type Value = RawRecord<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map (a city record)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut r = RawRecord::default();
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Location => {
                            let loc: LocationField = map.next_value()?;
                            r.location = (loc.latitude, loc.longitude);
                        }
                        Key::City => r.city = map.next_value::<NamedField<'de>>()?.0,
                        Key::Country => r.country = map.next_value::<IsoCodeField<'de>>()?.0,
                        Key::RegisteredCountry => {
                            r.registered_country = map.next_value::<IsoCodeField<'de>>()?.0
                        }
                        Key::Latitude => r.flat.0 = map.next_value::<Number>()?.0,
                        Key::Longitude => r.flat.1 = map.next_value::<Number>()?.0,
                        Key::CountryCode => r.country_code = map.next_value::<Text<'de>>()?.0,
                        Key::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(r)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                drain_seq(seq).map(|()| RawRecord::default())
            }
            ignore_other_types!(
                visit_bool(bool),
                visit_i64(i64),
                visit_u64(u64),
                visit_u128(u128),
                visit_f64(f64),
                visit_str(&str),
                visit_bytes(&[u8]),
            );
        }
        d.deserialize_any(RecordVisitor)
    }
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// A string, borrowed from the database when possible; anything else is `None`.
#[derive(Default)]
struct Text<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Borrowed(s))))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Owned(s.to_owned()))))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Text<'de>, A::Error> {
                drain_map(map).map(|()| Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Text<'de>, A::Error> {
                drain_seq(seq).map(|()| Text(None))
            }
            ignore_other_types!(
                visit_bool(bool),
                visit_i64(i64),
                visit_u64(u64),
                visit_u128(u128),
                visit_f64(f64),
                visit_bytes(&[u8]),
            );
        }
        d.deserialize_any(V)
    }
}

/// A number: double, float, integer or numeric string; non-finite or anything else is `None`.
#[derive(Default)]
struct Number(Option<f64>);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E: de::Error>(self, x: f64) -> Result<Number, E> {
                Ok(Number(x.is_finite().then_some(x)))
            }
            fn visit_f32<E: de::Error>(self, x: f32) -> Result<Number, E> {
                self.visit_f64(f64::from(x))
            }
            fn visit_i64<E: de::Error>(self, x: i64) -> Result<Number, E> {
                self.visit_f64(x as f64)
            }
            fn visit_u64<E: de::Error>(self, x: u64) -> Result<Number, E> {
                self.visit_f64(x as f64)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Number, E> {
                Ok(Number(
                    s.trim().parse::<f64>().ok().filter(|x| x.is_finite()),
                ))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Number, A::Error> {
                drain_map(map).map(|()| Number(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Number, A::Error> {
                drain_seq(seq).map(|()| Number(None))
            }
            ignore_other_types!(visit_bool(bool), visit_u128(u128), visit_bytes(&[u8]));
        }
        d.deserialize_any(V)
    }
}

/// MaxMind's `location` map; anything that is not a map has no coordinates.
#[derive(Default)]
struct LocationField {
    latitude: Option<f64>,
    longitude: Option<f64>,
}

impl<'de> Deserialize<'de> for LocationField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(field_identifier, rename_all = "snake_case")]
        enum K {
            Latitude,
            Longitude,
            #[serde(other)]
            Other,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LocationField;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a location map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LocationField, A::Error> {
                let mut loc = LocationField::default();
                while let Some(key) = map.next_key::<K>()? {
                    match key {
                        K::Latitude => loc.latitude = map.next_value::<Number>()?.0,
                        K::Longitude => loc.longitude = map.next_value::<Number>()?.0,
                        K::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(loc)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<LocationField, A::Error> {
                drain_seq(seq).map(|()| LocationField::default())
            }
            ignore_other_types!(
                visit_bool(bool),
                visit_i64(i64),
                visit_u64(u64),
                visit_u128(u128),
                visit_f64(f64),
                visit_str(&str),
                visit_bytes(&[u8]),
            );
        }
        d.deserialize_any(V)
    }
}

/// `city`: a plain string (DB-IP) or a map whose `names.en` is the name (MaxMind).
#[derive(Default)]
struct NamedField<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for NamedField<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(field_identifier, rename_all = "snake_case")]
        enum K {
            Names,
            #[serde(other)]
            Other,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NamedField<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a name or a map with names")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(NamedField(Some(Cow::Borrowed(s))))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(NamedField(Some(Cow::Owned(s.to_owned()))))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut name = None;
                while let Some(key) = map.next_key::<K>()? {
                    match key {
                        K::Names => name = map.next_value::<EnglishName<'de>>()?.0,
                        K::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(NamedField(name))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                drain_seq(seq).map(|()| NamedField(None))
            }
            ignore_other_types!(
                visit_bool(bool),
                visit_i64(i64),
                visit_u64(u64),
                visit_u128(u128),
                visit_f64(f64),
                visit_bytes(&[u8]),
            );
        }
        d.deserialize_any(V)
    }
}

/// A `names` map: the `en` entry.
#[derive(Default)]
struct EnglishName<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for EnglishName<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(field_identifier)]
        enum K {
            #[serde(rename = "en")]
            English,
            #[serde(other)]
            Other,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EnglishName<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of names by language")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut name = None;
                while let Some(key) = map.next_key::<K>()? {
                    match key {
                        K::English => name = map.next_value::<Text<'de>>()?.0,
                        K::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(EnglishName(name))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                drain_seq(seq).map(|()| EnglishName(None))
            }
            ignore_other_types!(
                visit_bool(bool),
                visit_i64(i64),
                visit_u64(u64),
                visit_u128(u128),
                visit_f64(f64),
                visit_str(&str),
                visit_bytes(&[u8]),
            );
        }
        d.deserialize_any(V)
    }
}

/// `country` / `registered_country`: a map with `iso_code` (MaxMind) or, leniently, a bare code.
#[derive(Default)]
struct IsoCodeField<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for IsoCodeField<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(field_identifier, rename_all = "snake_case")]
        enum K {
            IsoCode,
            #[serde(other)]
            Other,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = IsoCodeField<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a country map or code")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(IsoCodeField(Some(Cow::Borrowed(s))))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(IsoCodeField(Some(Cow::Owned(s.to_owned()))))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut code = None;
                while let Some(key) = map.next_key::<K>()? {
                    match key {
                        K::IsoCode => code = map.next_value::<Text<'de>>()?.0,
                        K::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(IsoCodeField(code))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                drain_seq(seq).map(|()| IsoCodeField(None))
            }
            ignore_other_types!(
                visit_bool(bool),
                visit_i64(i64),
                visit_u64(u64),
                visit_u128(u128),
                visit_f64(f64),
                visit_bytes(&[u8]),
            );
        }
        d.deserialize_any(V)
    }
}
