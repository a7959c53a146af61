//! Latency percentiles for the tools, through HdrHistogram: a fixed amount of memory whatever the
//! number of samples, three significant digits, and histograms that merge. Percentiles are
//! nearest-rank; a reported value is the middle of the histogram bucket that holds the sample, so
//! it is within 0.05% of the recorded one.

use std::time::Duration;

use hdrhistogram::Histogram;

/// Longest latency told apart from longer ones; a longer one is recorded as this (the tools'
/// own timeouts are shorter).
pub const LATENCY_MAX: Duration = Duration::from_secs(600);
/// Significant decimal digits kept per value.
const SIGNIFICANT_DIGITS: u8 = 3;

/// Latencies recorded in microseconds, from 1 µs to [`LATENCY_MAX`] (about 90 KB).
#[derive(Debug, Clone)]
pub struct Latencies(Histogram<u32>);

impl Default for Latencies {
    fn default() -> Self {
        let max_us = u64::try_from(LATENCY_MAX.as_micros()).expect("LATENCY_MAX fits in u64 µs");
        Latencies(
            Histogram::new_with_bounds(1, max_us, SIGNIFICANT_DIGITS)
                .expect("constant histogram bounds are valid"),
        )
    }
}

impl Latencies {
    /// Records one latency (longer than [`LATENCY_MAX`] counts as that).
    pub fn record(&mut self, latency: Duration) {
        self.0
            .saturating_record(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
    }

    /// Adds every sample of `other` (counts saturate).
    pub fn merge(&mut self, other: &Latencies) {
        self.0
            .add(&other.0)
            .expect("histograms with the bounds of Default add: no value is out of range");
    }

    /// How many latencies were recorded.
    pub fn count(&self) -> u64 {
        self.0.len()
    }

    /// Nearest-rank percentile `percent` (0..=100); zero when nothing was recorded.
    pub fn percentile(&self, percent: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let bucket = self.0.value_at_percentile(percent);
        Duration::from_micros(self.0.median_equivalent(bucket))
    }

    /// The longest latency recorded; zero for none.
    pub fn max(&self) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        Duration::from_micros(self.0.median_equivalent(self.0.max()))
    }

    /// The numbers the tools print.
    pub fn summary(&self) -> Summary {
        Summary {
            count: self.count(),
            p50: self.percentile(50.0),
            p90: self.percentile(90.0),
            p99: self.percentile(99.0),
            max: self.max(),
        }
    }
}

/// Percentiles of one set of latencies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Latencies recorded.
    pub count: u64,
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Longest.
    pub max: Duration,
}

/// Milliseconds with two decimals, as the reports print them.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn close(got: Duration, want_ms: u64) {
        let want = Duration::from_millis(want_ms).as_secs_f64();
        assert!(
            (got.as_secs_f64() - want).abs() <= want / 2000.0,
            "{got:?} is not within 0.05% of {want_ms} ms"
        );
    }

    #[test]
    fn percentiles_are_nearest_rank_within_the_precision() {
        let mut l = Latencies::default();
        for ms in 1..=100 {
            l.record(Duration::from_millis(ms));
        }
        let s = l.summary();
        assert_eq!(s.count, 100);
        close(s.p50, 50);
        close(s.p90, 90);
        close(s.p99, 99);
        close(s.max, 100);

        let mut one = Latencies::default();
        one.record(Duration::from_millis(7));
        close(one.percentile(50.0), 7);
        close(one.percentile(99.0), 7);
        close(one.max(), 7);

        let none = Latencies::default().summary();
        assert_eq!((none.count, none.p50, none.max), (0, Duration::ZERO, Duration::ZERO));
    }

    #[test]
    fn merged_histograms_hold_both_and_overlong_latencies_saturate() {
        let mut a = Latencies::default();
        let mut b = Latencies::default();
        a.record(Duration::from_millis(1));
        b.record(Duration::from_millis(3));
        b.record(LATENCY_MAX * 2);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        close(a.percentile(50.0), 3);
        close(a.max(), LATENCY_MAX.as_millis() as u64);
    }
}
