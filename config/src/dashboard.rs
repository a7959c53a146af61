//! `[dashboard]`: the bounds of a business's dashboard and of the feedback list and export behind
//! it (`/business`, `GET /v1/businesses/{id}/feedback`, `feedback.csv`, `daily`). Raw as written,
//! typed, and the check between them, in one place.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Feedback per page when the caller names no `limit`.
const FEEDBACK_PAGE_LEN: u32 = 20;
/// Feedback per page at most.
const FEEDBACK_PAGE_LEN_MAX: u32 = 100;
/// Feedback records one list request reads at most while searching (`q`): a search through a
/// long history answers a short page with a cursor instead of reading everything.
const FEEDBACK_SCAN_MAX: u32 = 2_000;
/// Characters of a search text at most.
const SEARCH_CHARS_MAX: u32 = 100;
/// Rows of one CSV export at most.
const CSV_ROWS_MAX: u32 = 10_000;
/// Swedish days the charts show by default.
const CHART_DAYS: u32 = 30;
/// How long a dashboard sign-in lasts, in hours.
const SIGNIN_HOURS: u32 = 8;

/// The largest value any count of `[dashboard]` may take: a page, a scan or an export stays a
/// bounded amount of work for one request.
pub const DASHBOARD_COUNT_MAX: u32 = 100_000;
/// The most days a chart or a `daily` request covers (a leap year).
pub const CHART_DAYS_MAX: u32 = 366;
/// The longest sign-in, in hours (a week).
pub const SIGNIN_HOURS_MAX: u32 = 168;

/// `[dashboard]` as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawDashboard {
    /// Feedback per page when the request names no `limit`.
    pub feedback_page_len: u32,
    /// Feedback per page at most (`limit` above it is refused).
    pub feedback_page_len_max: u32,
    /// Feedback records one list or export request reads at most while searching.
    pub feedback_scan_max: u32,
    /// Characters of a search text (`q`) at most.
    pub search_chars_max: u32,
    /// Rows of one CSV export at most (the export says when it stopped there).
    pub csv_rows_max: u32,
    /// Swedish days the charts show.
    pub chart_days: u32,
    /// How long a dashboard sign-in lasts, in hours (the cookie's lifetime).
    pub signin_hours: u32,
}

impl Default for RawDashboard {
    fn default() -> RawDashboard {
        RawDashboard {
            feedback_page_len: FEEDBACK_PAGE_LEN,
            feedback_page_len_max: FEEDBACK_PAGE_LEN_MAX,
            feedback_scan_max: FEEDBACK_SCAN_MAX,
            search_chars_max: SEARCH_CHARS_MAX,
            csv_rows_max: CSV_ROWS_MAX,
            chart_days: CHART_DAYS,
            signin_hours: SIGNIN_HOURS,
        }
    }
}

/// `[dashboard]`, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DashboardConfig {
    /// Feedback per page by default.
    pub feedback_page_len: usize,
    /// Feedback per page at most.
    pub feedback_page_len_max: usize,
    /// Records one request reads at most while searching (at least `feedback_page_len_max`).
    pub feedback_scan_max: usize,
    /// Characters of a search text at most.
    pub search_chars_max: usize,
    /// Rows of one CSV export at most.
    pub csv_rows_max: usize,
    /// Swedish days the charts show.
    pub chart_days: u32,
    /// How long a sign-in lasts.
    pub signin: Duration,
}

impl RawDashboard {
    /// Checks the bounds and their relations.
    pub fn validate(&self) -> Result<DashboardConfig, Error> {
        let invalid = |key: &str, reason: String| Error::Invalid { key: format!("dashboard.{key}"), reason };
        let counts = [
            ("feedback_page_len", self.feedback_page_len),
            ("feedback_page_len_max", self.feedback_page_len_max),
            ("feedback_scan_max", self.feedback_scan_max),
            ("search_chars_max", self.search_chars_max),
            ("csv_rows_max", self.csv_rows_max),
        ];
        for (key, v) in counts {
            if v == 0 || v > DASHBOARD_COUNT_MAX {
                return Err(invalid(key, format!("{v} is not within 1..={DASHBOARD_COUNT_MAX}")));
            }
        }
        if self.feedback_page_len > self.feedback_page_len_max {
            return Err(invalid("feedback_page_len", format!("{} is more than feedback_page_len_max ({})", self.feedback_page_len, self.feedback_page_len_max)));
        }
        if self.feedback_scan_max < self.feedback_page_len_max {
            return Err(invalid("feedback_scan_max", format!("{} is less than feedback_page_len_max ({})", self.feedback_scan_max, self.feedback_page_len_max)));
        }
        if self.chart_days == 0 || self.chart_days > CHART_DAYS_MAX {
            return Err(invalid("chart_days", format!("{} is not within 1..={CHART_DAYS_MAX}", self.chart_days)));
        }
        if self.signin_hours == 0 || self.signin_hours > SIGNIN_HOURS_MAX {
            return Err(invalid("signin_hours", format!("{} is not within 1..={SIGNIN_HOURS_MAX}", self.signin_hours)));
        }
        let n = |v: u32| usize::try_from(v).unwrap_or(usize::MAX);
        Ok(DashboardConfig {
            feedback_page_len: n(self.feedback_page_len),
            feedback_page_len_max: n(self.feedback_page_len_max),
            feedback_scan_max: n(self.feedback_scan_max),
            search_chars_max: n(self.search_chars_max),
            csv_rows_max: n(self.csv_rows_max),
            chart_days: self.chart_days,
            signin: Duration::from_secs(u64::from(self.signin_hours) * 3600),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_bounds_name_their_key() {
        assert!(RawDashboard::default().validate().is_ok());
        let bad = RawDashboard { feedback_page_len: 500, ..RawDashboard::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("dashboard.feedback_page_len"));
        let bad = RawDashboard { csv_rows_max: 0, ..RawDashboard::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("dashboard.csv_rows_max"));
        let bad = RawDashboard { chart_days: 1000, ..RawDashboard::default() };
        assert!(bad.validate().is_err());
    }
}
