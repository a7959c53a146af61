//! Geography for svea: how far a customer is from each region, and which healthy region serves them.
//!
//! Owns: great-circle distances ([`distance_km`]) and region choice ([`nearest_region`],
//! [`distances_km`]), deterministic for equal inputs.
//!
//! Does not own: the region table (it comes from `svea-config`), region health (the caller passes a
//! predicate, so this crate holds no state and does no I/O), or HTTP. Turning an IP address into a
//! coordinate (MaxMind DB lookups) will live here in its own module, with this crate's `Error` enum;
//! nothing here can fail yet, so there is no `Error` today.

mod distance;
mod route;

pub use distance::{distance_km, EARTH_RADIUS_KM_MEAN};
pub use route::{distances_km, nearest_region};
