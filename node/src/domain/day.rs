//! Days as Sweden counts them: the calendar day of an instant in Europe/Stockholm (CET in winter,
//! CEST in summer, the changes included). Analytics count per Swedish day, so a session at 00:30
//! Swedish time belongs to that day, not to the previous UTC day.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Europe::Stockholm;

/// The Swedish calendar day of `at`.
pub fn swedish_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Stockholm).date_naive()
}

/// [`swedish_day`] as `YYYY-MM-DD`, the key analytics are stored and shown under.
pub fn swedish_day_key(at: DateTime<Utc>) -> String {
    swedish_day(at).format("%Y-%m-%d").to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An RFC 3339 time in a test.
    pub(crate) fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("test time").with_timezone(&Utc)
    }

    #[test]
    fn late_evening_utc_is_the_next_swedish_day_in_summer_and_winter() {
        // CEST (UTC+2) since 2026-03-29.
        assert_eq!(swedish_day_key(utc("2026-03-31T23:30:00Z")), "2026-04-01");
        assert_eq!(swedish_day_key(utc("2026-03-31T21:59:59Z")), "2026-03-31");
        assert_eq!(swedish_day_key(utc("2026-03-31T22:00:00Z")), "2026-04-01");
        // CET (UTC+1).
        assert_eq!(swedish_day_key(utc("2026-01-15T23:30:00Z")), "2026-01-16");
        assert_eq!(swedish_day_key(utc("2026-01-15T22:59:59Z")), "2026-01-15");
        assert_eq!(swedish_day_key(utc("2026-01-15T23:00:00Z")), "2026-01-16");
    }

    #[test]
    fn days_follow_the_clock_changes() {
        // Summer time starts 2026-03-29 01:00 UTC (02:00 CET -> 03:00 CEST).
        assert_eq!(swedish_day_key(utc("2026-03-28T22:59:59Z")), "2026-03-28");
        assert_eq!(swedish_day_key(utc("2026-03-28T23:00:00Z")), "2026-03-29");
        assert_eq!(swedish_day_key(utc("2026-03-29T21:59:59Z")), "2026-03-29");
        assert_eq!(swedish_day_key(utc("2026-03-29T22:00:00Z")), "2026-03-30");
        // Summer time ends 2026-10-25 01:00 UTC (03:00 CEST -> 02:00 CET): that day is 25 hours
        // long, from 2026-10-24 22:00 UTC to 2026-10-25 23:00 UTC.
        assert_eq!(swedish_day_key(utc("2026-10-24T21:59:59Z")), "2026-10-24");
        assert_eq!(swedish_day_key(utc("2026-10-24T22:00:00Z")), "2026-10-25");
        assert_eq!(swedish_day_key(utc("2026-10-25T00:30:00Z")), "2026-10-25");
        assert_eq!(swedish_day_key(utc("2026-10-25T01:30:00Z")), "2026-10-25");
        assert_eq!(swedish_day_key(utc("2026-10-25T22:59:59Z")), "2026-10-25");
        assert_eq!(swedish_day_key(utc("2026-10-25T23:00:00Z")), "2026-10-26");
    }
}
