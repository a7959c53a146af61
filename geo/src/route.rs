use std::cmp::Ordering;

use svea_config::{Region, RegionSpec};

use crate::distance_km;

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
