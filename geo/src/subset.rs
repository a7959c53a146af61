//! `svea geo build-db`: a small city database with only the countries svea serves.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use maxminddb::WithinOptions;
use serde::Serialize;

use crate::db::{probe_schema, read_reader};
use crate::mmdb_writer::{MmdbWriter, Value};
use crate::record::{country_code, RawRecord};
use crate::{Error, GeoDb, Location};

/// `database_type` of the files [`build_subset`] writes.
pub const SUBSET_DATABASE_TYPE: &str = "svea-City-Subset";

/// What [`build_subset`] read and wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildStats {
    /// Networks with a record in all inputs (IPv4 networks counted once, not again under their
    /// IPv6 aliases).
    pub networks_read: u64,
    /// Networks whose country is one of those asked for, across inputs.
    pub networks_kept: u64,
    /// Networks in the output after later inputs replaced identical networks of earlier ones.
    pub networks_written: u64,
    /// Kept networks per country code.
    pub by_country: BTreeMap<String, u64>,
    /// Distinct records in the output (networks of the same city share one).
    pub distinct_records: u64,
    /// `build_epoch` of the output: the newest input's.
    pub build_epoch: u64,
    /// Size of the output file.
    pub bytes: u64,
}

/// Reads every network of the city databases `inputs` (either schema, IPv4 and IPv6), keeps those
/// whose country is in `countries` (ISO codes, any case), and writes them to `out` in the compact
/// DB-IP city layout (`city`, `country_code`, `latitude`, `longitude`). For a network present in
/// several inputs, the last input wins; nested networks keep longest-prefix semantics.
///
/// The output is a pure function of the inputs: sorted insertion and the newest input's
/// `build_epoch`, never the clock. It is written atomically and then opened and verified like
/// any database the node loads.
pub fn build_subset(
    inputs: &[PathBuf],
    countries: &[String],
    out: &Path,
) -> Result<BuildStats, Error> {
    if inputs.is_empty() {
        return Err(Error::NothingToBuild { what: "input file" });
    }
    let wanted: BTreeSet<String> = countries
        .iter()
        .map(|c| country_code(c).ok_or_else(|| Error::BadCountry { value: c.clone() }))
        .collect::<Result<_, _>>()?;
    if wanted.is_empty() {
        return Err(Error::NothingToBuild { what: "country" });
    }

    let mut stats = BuildStats {
        networks_read: 0,
        networks_kept: 0,
        networks_written: 0,
        by_country: BTreeMap::new(),
        distinct_records: 0,
        build_epoch: 0,
        bytes: 0,
    };
    let mut writer = MmdbWriter::new(SUBSET_DATABASE_TYPE, 0);
    let mut names = Vec::new();
    for input in inputs {
        let corrupt = |source| Error::Corrupt {
            path: input.clone(),
            source,
        };
        let reader = read_reader(input)?;
        probe_schema(input, &reader)?;
        stats.build_epoch = stats.build_epoch.max(reader.metadata().build_epoch);
        names.push(
            input
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| input.display().to_string()),
        );
        for found in reader.networks(WithinOptions::default()).map_err(corrupt)? {
            let found = found.map_err(corrupt)?;
            stats.networks_read += 1;
            let Some(record) = found.decode::<RawRecord<'_>>().map_err(corrupt)? else {
                continue;
            };
            let location = record.into_location();
            let Some(country) = location.country.as_ref().filter(|c| wanted.contains(*c)) else {
                continue;
            };
            *stats.by_country.entry(country.clone()).or_default() += 1;
            stats.networks_kept += 1;
            let network = found.network().map_err(corrupt)?;
            writer.insert(network, &compact_record(&location))?;
        }
    }

    let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
    writer
        .build_epoch(stats.build_epoch)
        .description(
            "en",
            format!(
                "svea city subset for {} from {}",
                wanted.join(","),
                names.join(", ")
            ),
        )
        .languages(["en"]);
    stats.networks_written = writer.len() as u64;
    stats.distinct_records = writer.distinct_values() as u64;
    stats.bytes = writer.write_to(out)?;
    // The node will refuse a file that does not verify: find out now, not at deploy time.
    GeoDb::open(out)?;
    Ok(stats)
}

/// A location in the DB-IP city layout, with only the fields it has.
fn compact_record(location: &Location) -> Value {
    let mut map = BTreeMap::new();
    if let Some(city) = &location.city {
        map.insert("city".to_owned(), Value::from(city.as_str()));
    }
    if let Some(country) = &location.country {
        map.insert("country_code".to_owned(), Value::from(country.as_str()));
    }
    if let Some((lat, lon)) = location.coordinates() {
        map.insert("latitude".to_owned(), Value::Double(lat));
        map.insert("longitude".to_owned(), Value::Double(lon));
    }
    Value::Map(map)
}
