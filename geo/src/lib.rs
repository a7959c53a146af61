//! Geography for svea: where a customer's address is, how far that is from each region, and which
//! healthy region serves them.
//!
//! Owns: great-circle distances ([`distance_km`]) and region choice ([`nearest_region`],
//! [`distances_km`], [`route`] with its explanation [`Route`]), deterministic for equal inputs;
//! GeoIP lookups in MaxMind DB files of either city schema ([`GeoDb`], hot-reloaded by
//! [`spawn_watcher`]); the client address behind trusted proxies ([`client_ip`]); and writing
//! small MaxMind DB files ([`mmdb_writer`], [`build_subset`] for `svea geo build-db`); and the
//! database svea ships ([`bundled`]).
//!
//! Does not own: the region table and the geo settings (they come from `svea-config`), region
//! health (the caller passes a predicate), or HTTP (the caller passes header values and gets a
//! serializable [`Route`]). The only files this crate touches are GeoIP databases: the one it is
//! told to load, the inputs and output of [`build_subset`], and the copy of the bundled database
//! that [`bundled::materialize`] writes.

pub mod bundled;
mod client_ip;
mod db;
mod distance;
mod error;
pub mod mmdb_writer;
mod record;
mod route;
mod subset;

pub use client_ip::{client_ip, is_trusted_proxy, FORWARDED_HOPS_MAX};
pub use db::{spawn_watcher, DbInfo, GeoDb, GEO_DB_BYTES_MAX, WATCH_INTERVAL_MIN};
pub use distance::{distance_km, EARTH_RADIUS_KM_MEAN};
pub use error::{Error, GeoError};
/// The network type of trusted proxies and of [`mmdb_writer::MmdbWriter::insert`].
pub use ipnetwork::IpNetwork;
pub use record::Location;
pub use route::{distances_km, nearest_region, route, Route, RouteReason};
pub use subset::{build_subset, BuildStats};
