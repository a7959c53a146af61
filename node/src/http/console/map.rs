//! Where a place is on the console's map of Sweden (`node/assets/sweden.svg`): the projection
//! `tools/sweden_svg.py` drew the outline with (equirectangular, longitudes scaled by
//! cos([`LAT0`])), so a region's configured coordinates land on its city.

/// West edge of the map, degrees east.
pub const LON_MIN: f64 = 10.5;
/// East edge, degrees east.
pub const LON_MAX: f64 = 24.5;
/// South edge, degrees north.
pub const LAT_MIN: f64 = 55.0;
/// North edge, degrees north.
pub const LAT_MAX: f64 = 69.5;
/// Latitude whose scale the longitudes take (the middle of Sweden).
pub const LAT0: f64 = 62.0;
/// SVG units per degree of latitude.
pub const SCALE: f64 = 24.0;

/// `(x, y)` in the outline's SVG units of the point at `lat`, `lon` (y grows southwards).
pub fn project(lat: f64, lon: f64) -> (f64, f64) {
    ((lon - LON_MIN) * LAT0.to_radians().cos() * SCALE, (LAT_MAX - lat) * SCALE)
}

/// Width and height of the map in SVG units.
pub fn size() -> (f64, f64) {
    project(LAT_MIN, LON_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::assets::SWEDEN_SVG;

    #[test]
    fn the_outline_was_drawn_with_this_projection() {
        let svg = std::str::from_utf8(SWEDEN_SVG.bytes()).expect("utf-8");
        let (w, h) = size();
        assert!(svg.contains(&format!("viewBox=\"0 0 {w:.1} {h:.1}\"")), "the viewBox of sweden.svg is not {w:.1} x {h:.1}: run tools/sweden_svg.py");
        assert!(svg.contains("<path id=\"sweden\""));
    }

    #[test]
    fn the_three_cities_sit_where_they_are() {
        let (w, h) = size();
        let stockholm = project(59.33, 18.07);
        let gothenburg = project(57.71, 11.97);
        let malmo = project(55.60, 13.00);
        for (x, y) in [stockholm, gothenburg, malmo] {
            assert!((0.0..w).contains(&x) && (0.0..h).contains(&y), "({x}, {y}) off the map");
        }
        // Stockholm on the east coast, Gothenburg on the west, Malmö in the far south.
        assert!(stockholm.0 > gothenburg.0 + 50.0 && stockholm.0 > malmo.0 + 50.0);
        assert!(malmo.1 > gothenburg.1 && gothenburg.1 > stockholm.1);
        assert!(malmo.1 > h - 20.0, "Malmö is near the southern tip");
        // One degree north is SCALE units; one degree east about half that at 62°N.
        let (x0, y0) = project(60.0, 15.0);
        let (x1, y1) = project(61.0, 16.0);
        assert!((y0 - y1 - SCALE).abs() < 1e-9);
        assert!((x1 - x0 - SCALE * 0.4695).abs() < 0.01);
    }
}
