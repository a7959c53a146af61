//! Distances and region choice over the default Swedish table.

use svea_config::RegionSpec;

use crate::{default_regions, region};
use svea_geo::{distance_km, distances_km, nearest_region};

const STOCKHOLM: (f64, f64) = (59.33, 18.07);
const GOTHENBURG: (f64, f64) = (57.71, 11.97);
const LUND: (f64, f64) = (55.70, 13.19);
const UPPSALA: (f64, f64) = (59.86, 17.64);
const BORAS: (f64, f64) = (57.72, 12.94);

/// The region chosen for `point` when only regions not in `down` are healthy.
#[track_caller]
fn check(point: (f64, f64), down: &[&str], expected: Option<&str>) {
    let regions = default_regions();
    let chosen = nearest_region(&regions, point.0, point.1, |r| !down.contains(&r.as_str()));
    assert_eq!(
        chosen.map(|spec| spec.name.as_str()),
        expected,
        "point {point:?} with {down:?} down; distances: {:?}",
        distances_km(&regions, point.0, point.1)
    );
}

#[test]
fn customers_go_to_the_nearest_region() {
    check(STOCKHOLM, &[], Some("stockholm"));
    check(LUND, &[], Some("malmo"));
    check(UPPSALA, &[], Some("stockholm"));
    check(BORAS, &[], Some("gothenburg"));
}

#[test]
fn an_unhealthy_region_is_skipped_for_the_next_nearest() {
    // Uppsala: gothenburg is about 405 km away, malmo about 548 km.
    let regions = default_regions();
    let to = |name: &str| {
        let spec = regions.iter().find(|s| s.name.as_str() == name).unwrap();
        distance_km(UPPSALA, (spec.lat, spec.lon))
    };
    assert!(to("gothenburg") < to("malmo"));
    check(UPPSALA, &["stockholm"], Some("gothenburg"));
    check(UPPSALA, &["stockholm", "gothenburg"], Some("malmo"));
    check(LUND, &["malmo"], Some("gothenburg"));
}

#[test]
fn no_healthy_region_means_none() {
    check(STOCKHOLM, &["stockholm", "gothenburg", "malmo"], None);
    assert!(nearest_region(&[], 59.0, 18.0, |_| true).is_none());
}

#[test]
fn stockholm_to_gothenburg_is_about_398_km() {
    let d = distance_km(STOCKHOLM, GOTHENBURG);
    assert!((d - 398.0).abs() < 5.0, "{d}");
    assert_eq!(distance_km(GOTHENBURG, STOCKHOLM), d, "symmetric");
    assert_eq!(distance_km(STOCKHOLM, STOCKHOLM), 0.0);
}

#[test]
fn distance_is_sane_at_the_extremes() {
    // Half the circumference between antipodes, no NaN from rounding.
    let half = std::f64::consts::PI * svea_geo::EARTH_RADIUS_KM_MEAN;
    let d = distance_km((0.0, 0.0), (0.0, 180.0));
    assert!((d - half).abs() < 1e-6, "{d}");
    let d = distance_km((90.0, 0.0), (-90.0, 0.0));
    assert!((d - half).abs() < 1e-6, "{d}");
    // Crossing the antimeridian is short, not around the world.
    assert!(distance_km((0.0, 179.5), (0.0, -179.5)) < 112.0);
}

#[test]
fn equal_distances_break_ties_by_region_name_whatever_the_table_order() {
    let spec = |name: &str, lat: f64, lon: f64| RegionSpec {
        name: region(name),
        lat,
        lon,
    };
    // Two regions symmetric about the equator point (0, 0).
    let table = [spec("zeta", 0.0, 1.0), spec("alpha", 0.0, -1.0)];
    let reversed = [table[1].clone(), table[0].clone()];
    for regions in [&table[..], &reversed[..]] {
        let chosen = nearest_region(regions, 0.0, 0.0, |_| true).unwrap();
        assert_eq!(chosen.name.as_str(), "alpha");
        let order: Vec<String> = distances_km(regions, 0.0, 0.0)
            .into_iter()
            .map(|(r, _)| r.to_string())
            .collect();
        assert_eq!(order, ["alpha", "zeta"]);
    }
}

#[test]
fn distances_are_listed_nearest_first() {
    let list = distances_km(&default_regions(), BORAS.0, BORAS.1);
    let names: Vec<&str> = list.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(names, ["gothenburg", "malmo", "stockholm"]);
    assert!(list.windows(2).all(|w| w[0].1 <= w[1].1));
    assert!((list[0].1 - 57.6).abs() < 1.0, "{list:?}");
}

#[test]
fn non_finite_coordinates_still_choose_deterministically() {
    let regions = default_regions();
    let chosen = nearest_region(&regions, f64::NAN, 18.0, |_| true).unwrap();
    assert_eq!(chosen.name.as_str(), "gothenburg"); // first by name
}
