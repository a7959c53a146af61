use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;
use svea_config::{Region, RegionSpec};
use tracing::warn;

use crate::{distance_km, GeoDb, Location};

/// Order by distance, then by region name, so equal distances always resolve the same way.
/// A NaN distance (non-finite input) counts as infinitely far.
fn nearer(a: (f64, &Region), b: (f64, &Region)) -> Ordering {
    let finite = |d: f64| if d.is_nan() { f64::INFINITY } else { d };
    finite(a.0)
        .total_cmp(&finite(b.0))
        .then_with(|| a.1.cmp(b.1))
}

/// The healthy region nearest to `(lat, lon)` in degrees; `None` when no region is healthy.
///
/// Ties go to the smaller region name. With non-finite coordinates every distance is NaN and the
/// choice falls back to the first healthy region by name.
pub fn nearest_region(
    regions: &[RegionSpec],
    lat: f64,
    lon: f64,
    healthy: impl Fn(&Region) -> bool,
) -> Option<&RegionSpec> {
    regions
        .iter()
        .filter(|spec| healthy(&spec.name))
        .map(|spec| (distance_km((lat, lon), (spec.lat, spec.lon)), spec))
        .min_by(|a, b| nearer((a.0, &a.1.name), (b.0, &b.1.name)))
        .map(|(_, spec)| spec)
}

/// Every region with its distance in kilometres from `(lat, lon)`, nearest first
/// (ties by region name): the failover order for a customer at that point.
pub fn distances_km(regions: &[RegionSpec], lat: f64, lon: f64) -> Vec<(Region, f64)> {
    let mut out: Vec<(Region, f64)> = regions
        .iter()
        .map(|spec| {
            (
                spec.name.clone(),
                distance_km((lat, lon), (spec.lat, spec.lon)),
            )
        })
        .collect();
    out.sort_by(|a, b| nearer((a.1, &a.0), (b.1, &b.0)));
    out
}

/// Why a request went where it went: a stable code for metrics and tests (`snake_case` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RouteReason {
    /// The nearest region to the address's location is healthy and chosen.
    NearestHealthy,
    /// The nearest region is down; the next nearest healthy one is chosen.
    NextNearestHealthy,
    /// Private, loopback, link-local, unspecified or otherwise non-public address: default order.
    PrivateAddress,
    /// The database has no record for the address: default order.
    NotInDatabase,
    /// The record has no usable coordinates (country only, say): default order.
    NoCoordinates,
    /// The record could not be read (corrupt record): default order.
    LookupFailed,
    /// No GeoIP database is configured: default order.
    NoDatabase,
    /// No region is healthy; `region` is `None`.
    NoHealthyRegion,
}

/// A routing decision and how it was reached, returned as JSON by the node's explain endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"ip": "81.227.10.20", "city": "Malmö", "country": "SE", "latitude": 55.6059, "longitude": 13.0007,
    "region": "malmo", "distances_km": {"malmo": 0.4, "gothenburg": 226.1, "stockholm": 513.2},
    "reason": "nearest healthy region malmo", "code": "nearest_healthy"}))]
pub struct Route {
    /// The client address routed (IPv4-mapped IPv6 shown as IPv4).
    #[schema(value_type = String)]
    pub ip: IpAddr,
    /// City of the address, when known.
    pub city: Option<String>,
    /// ISO country code of the address, when known.
    pub country: Option<String>,
    /// Latitude of the address, when known.
    pub latitude: Option<f64>,
    /// Longitude of the address, when known.
    pub longitude: Option<f64>,
    /// The chosen region; `None` when no region is healthy.
    #[schema(value_type = Option<String>)]
    pub region: Option<Region>,
    /// Distance from the address to every region, by region name; empty when the location is
    /// unknown.
    pub distances_km: BTreeMap<String, f64>,
    /// Short human phrase, e.g. `nearest region stockholm is down; next nearest healthy`.
    pub reason: String,
    /// The same as a stable code.
    pub code: RouteReason,
}

/// Kinds of addresses that have no place on a map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NonPublic {
    Private,
    Loopback,
    LinkLocal,
    Unspecified,
    Reserved,
}

impl NonPublic {
    fn name(self) -> &'static str {
        match self {
            NonPublic::Private => "private",
            NonPublic::Loopback => "loopback",
            NonPublic::LinkLocal => "link-local",
            NonPublic::Unspecified => "unspecified",
            NonPublic::Reserved => "reserved",
        }
    }
}

/// `Some(kind)` for addresses no GeoIP database places: RFC 1918 and unique-local, shared
/// (carrier-grade NAT), loopback, link-local, unspecified, multicast, broadcast, documentation and
/// other reserved ranges. `ip` must be canonical (IPv4-mapped IPv6 already turned into IPv4).
fn non_public(ip: IpAddr) -> Option<NonPublic> {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            if v4.is_unspecified() || a == 0 {
                Some(NonPublic::Unspecified)
            } else if v4.is_loopback() {
                Some(NonPublic::Loopback)
            } else if v4.is_link_local() {
                Some(NonPublic::LinkLocal)
            } else if v4.is_private() || (a == 100 && (b & 0xC0) == 64) {
                Some(NonPublic::Private)
            } else if v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a >= 240
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (b & 0xFE) == 18)
            {
                Some(NonPublic::Reserved)
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            if v6.is_unspecified() {
                Some(NonPublic::Unspecified)
            } else if v6.is_loopback() {
                Some(NonPublic::Loopback)
            } else if (s[0] & 0xFFC0) == 0xFE80 {
                Some(NonPublic::LinkLocal)
            } else if (s[0] & 0xFE00) == 0xFC00 || (s[0] & 0xFFC0) == 0xFEC0 {
                // Unique local, and the deprecated site-local.
                Some(NonPublic::Private)
            } else if v6.is_multicast()
                || (s[0] == 0x2001 && s[1] == 0x0DB8)
                || (s[0] == 0x0100 && s[1..4] == [0, 0, 0])
            {
                Some(NonPublic::Reserved)
            } else {
                None
            }
        }
    }
}

/// Chooses the region for a request from `ip`: the nearest healthy region by great-circle
/// distance from where `db` places the address (ties by region name, see [`nearest_region`]).
/// Addresses that cannot be placed (non-public, not in the database, no coordinates, unreadable
/// record, no database) go to the first healthy region of `default_order`, then, if none of those
/// is healthy, to the first healthy region of `regions` by name. A failed lookup is logged here.
pub fn route(
    db: Option<&GeoDb>,
    ip: IpAddr,
    regions: &[RegionSpec],
    default_order: &[Region],
    healthy: impl Fn(&Region) -> bool,
) -> Route {
    let ip = ip.to_canonical();
    let located = match (non_public(ip), db) {
        (Some(kind), _) => Err((RouteReason::PrivateAddress, kind.name())),
        (None, None) => Err((RouteReason::NoDatabase, "no geoip database")),
        (None, Some(db)) => match db.lookup(ip) {
            Ok(Some(location)) => Ok(location),
            Ok(None) => Err((RouteReason::NotInDatabase, "address not in database")),
            Err(error) => {
                warn!(%error, "geoip lookup failed; routing by default order");
                Err((RouteReason::LookupFailed, "lookup failed"))
            }
        },
    };
    route_located(ip, located, regions, default_order, healthy)
}

/// [`route`] after the lookup: `located` is the location, or why there is none.
fn route_located(
    ip: IpAddr,
    located: Result<Location, (RouteReason, &str)>,
    regions: &[RegionSpec],
    default_order: &[Region],
    healthy: impl Fn(&Region) -> bool,
) -> Route {
    let mut decision = Route {
        ip,
        city: None,
        country: None,
        latitude: None,
        longitude: None,
        region: None,
        distances_km: BTreeMap::new(),
        reason: String::new(),
        code: RouteReason::NoHealthyRegion,
    };
    let unplaced = match located {
        Ok(location) => {
            let coordinates = location.coordinates();
            decision.city = location.city;
            decision.country = location.country;
            match coordinates {
                Some((lat, lon)) => {
                    decision.latitude = Some(lat);
                    decision.longitude = Some(lon);
                    let by_distance = distances_km(regions, lat, lon);
                    decision.distances_km = by_distance
                        .iter()
                        .map(|(region, km)| (region.to_string(), *km))
                        .collect();
                    decision.region =
                        nearest_region(regions, lat, lon, &healthy).map(|s| s.name.clone());
                    let nearest = by_distance.first().map(|(region, _)| region);
                    (decision.code, decision.reason) = match (&decision.region, nearest) {
                        (None, _) | (_, None) => {
                            (RouteReason::NoHealthyRegion, "no healthy region".to_owned())
                        }
                        (Some(chosen), Some(nearest)) if chosen == nearest => (
                            RouteReason::NearestHealthy,
                            "nearest healthy region".to_owned(),
                        ),
                        (Some(_), Some(nearest)) => (
                            RouteReason::NextNearestHealthy,
                            format!("nearest region {nearest} is down; next nearest healthy"),
                        ),
                    };
                    return decision;
                }
                None => (RouteReason::NoCoordinates, "address has no coordinates"),
            }
        }
        Err(why) => why,
    };
    let (code, why) = unplaced;
    decision.region = default_order
        .iter()
        .find(|r| healthy(r))
        .or_else(|| {
            let mut rest: Vec<&Region> = regions.iter().map(|s| &s.name).collect();
            rest.sort();
            rest.into_iter().find(|r| healthy(r))
        })
        .cloned();
    (decision.code, decision.reason) = match decision.region {
        Some(_) if code == RouteReason::PrivateAddress => {
            (code, format!("{why} address: default order"))
        }
        Some(_) => (code, format!("{why}: default order")),
        None => (RouteReason::NoHealthyRegion, "no healthy region".to_owned()),
    };
    decision
}
