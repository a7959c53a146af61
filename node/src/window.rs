//! Counts by label over the last minute: a sliding window of [`WINDOW_S`] one-second buckets,
//! one counter per label. Mainly where this node's GeoIP routing decisions sent customers in the
//! last minute, for the operator console (one counter per region of the region table).
//! Node-local by nature (like the rate-limit buckets): it counts decisions this node made,
//! nothing a business or session remembers. Bounded: buckets x labels, whatever the traffic.
//! Time comes from the caller (the HTTP edge, or the operator status asking), so the window
//! itself never reads a clock; its origin is the first instant it is given.
//!
//! The same window counts other per-minute things by label: this node's HTTP answers, ok and
//! server errors, for the console's error rate ([`MinuteWindow::over`]). A plain value that
//! imports no other module of the crate, so the node core and telemetry both use it.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use svea_config::{Region, RegionSpec};

/// Seconds the window covers.
pub const WINDOW_S: u64 = 60;

/// One second's counts: which second (since the window's origin) and a counter per region.
#[derive(Clone)]
struct Bucket {
    second: u64,
    counts: Vec<u64>,
}

/// A per-node sliding window of counts by label (routing decisions by region, answers by kind).
pub struct MinuteWindow {
    origin: OnceLock<Instant>,
    labels: Vec<String>,
    buckets: Mutex<Vec<Bucket>>,
}

impl MinuteWindow {
    /// An empty window over the regions of the table.
    pub fn new(regions: &[RegionSpec]) -> MinuteWindow {
        MinuteWindow::over(regions.iter().map(|r| r.name.as_str()))
    }

    /// An empty window with one counter per label.
    pub fn over<'a>(labels: impl IntoIterator<Item = &'a str>) -> MinuteWindow {
        let labels: Vec<String> = labels.into_iter().map(str::to_owned).collect();
        let empty = Bucket { second: u64::MAX, counts: vec![0; labels.len()] };
        MinuteWindow { origin: OnceLock::new(), labels, buckets: Mutex::new(vec![empty; WINDOW_S as usize]) }
    }

    fn second(&self, now: Instant) -> u64 {
        now.saturating_duration_since(*self.origin.get_or_init(|| now)).as_secs()
    }

    /// Counts one customer routed to `region` at `now` (a region outside the table is ignored).
    pub fn record(&self, region: &Region, now: Instant) {
        self.record_label(region.as_str(), now);
    }

    /// Counts one event of `label` at `now` (a label the window was not made with is ignored).
    pub fn record_label(&self, label: &str, now: Instant) {
        let Some(i) = self.labels.iter().position(|l| l == label) else { return };
        let second = self.second(now);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = &mut buckets[(second % WINDOW_S) as usize];
        if b.second != second {
            b.second = second;
            b.counts.iter_mut().for_each(|c| *c = 0);
        }
        b.counts[i] = b.counts[i].saturating_add(1);
    }

    /// Customers routed to each region of the table in the [`WINDOW_S`] seconds up to
    /// `now` (every region present, zero when none).
    pub fn counts(&self, now: Instant) -> BTreeMap<String, u64> {
        let second = self.second(now);
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: BTreeMap<String, u64> = self.labels.iter().map(|l| (l.clone(), 0)).collect();
        for b in buckets.iter().filter(|b| b.second <= second && second - b.second < WINDOW_S) {
            for (label, c) in self.labels.iter().zip(&b.counts) {
                if let Some(total) = out.get_mut(label.as_str()) {
                    *total = total.saturating_add(*c);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn window() -> (MinuteWindow, Instant, Vec<Region>) {
        let regions = svea_config::RawConfig::default().validate().expect("built-in config").regions;
        let names = regions.iter().map(|r| r.name.clone()).collect();
        let t0 = Instant::now();
        let w = MinuteWindow::new(&regions);
        assert_eq!(w.counts(t0).values().sum::<u64>(), 0);
        (w, t0, names)
    }

    #[test]
    fn counts_what_was_routed_in_the_last_minute_per_region() {
        let (w, t0, r) = window();
        assert_eq!(w.counts(t0).values().sum::<u64>(), 0);
        assert_eq!(w.counts(t0).len(), 3);
        w.record(&r[0], t0);
        w.record(&r[0], t0 + Duration::from_millis(500));
        w.record(&r[2], t0 + Duration::from_secs(30));
        let at = |s| w.counts(t0 + Duration::from_secs(s));
        assert_eq!(at(30)[r[0].as_str()], 2);
        assert_eq!(at(30)[r[2].as_str()], 1);
        assert_eq!(at(30)[r[1].as_str()], 0);
        // Second 0 leaves the window at second 60; second 30 at second 90.
        assert_eq!(at(59)[r[0].as_str()], 2);
        assert_eq!(at(60)[r[0].as_str()], 0);
        assert_eq!(at(89)[r[2].as_str()], 1);
        assert_eq!(at(90)[r[2].as_str()], 0);
    }

    #[test]
    fn a_reused_bucket_forgets_its_old_second_and_unknown_regions_are_ignored() {
        let (w, t0, r) = window();
        w.record(&r[1], t0 + Duration::from_secs(5));
        w.record(&r[1], t0 + Duration::from_secs(65)); // same slot, a minute later
        assert_eq!(w.counts(t0 + Duration::from_secs(65))[r[1].as_str()], 1);
        w.record(&Region::new("lund").expect("region"), t0);
        assert_eq!(w.counts(t0 + Duration::from_secs(65)).len(), 3);
        // Before the origin (a clock that went back) counts at second 0, never panics.
        if let Some(before) = t0.checked_sub(Duration::from_secs(1)) {
            w.record(&r[0], before);
        }
    }
}
