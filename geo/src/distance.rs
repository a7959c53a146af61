/// Mean earth radius (IUGG), in kilometres.
pub const EARTH_RADIUS_KM_MEAN: f64 = 6371.0088;

/// Great-circle distance in kilometres between two `(lat, lon)` points in degrees (haversine).
///
/// Exact enough for choosing a region (the earth is not a sphere: error up to about 0.5 %).
/// Non-finite input gives a non-finite result.
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat_a, lon_a) = (a.0.to_radians(), a.1.to_radians());
    let (lat_b, lon_b) = (b.0.to_radians(), b.1.to_radians());
    let half_dlat = ((lat_b - lat_a) / 2.0).sin();
    let half_dlon = ((lon_b - lon_a) / 2.0).sin();
    let h = half_dlat * half_dlat + lat_a.cos() * lat_b.cos() * half_dlon * half_dlon;
    // Rounding can push h a hair above 1 for antipodal points; asin would then return NaN.
    2.0 * EARTH_RADIUS_KM_MEAN * h.sqrt().min(1.0).asin()
}
