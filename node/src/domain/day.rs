//! Days as Sweden counts them: the calendar day of an instant in Europe/Stockholm (CET in winter,
//! CEST in summer, the changes included). Analytics count per Swedish day, so a session at 00:30
//! Swedish time belongs to that day, not to the previous UTC day.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Europe::Stockholm;

/// The Swedish calendar day of `at`.
pub fn swedish_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Stockholm).date_naive()
}

/// [`swedish_day`] as `YYYY-MM-DD`, the key analytics are stored and shown under.
pub fn swedish_day_key(at: DateTime<Utc>) -> String {
    swedish_day(at).format("%Y-%m-%d").to_string()
}

/// The Swedish wall-clock time of `at` (what a customer's receipt shows).
pub fn swedish_local(at: DateTime<Utc>) -> NaiveDateTime {
    at.with_timezone(&Stockholm).naive_local()
}

/// The instant of a Swedish wall-clock time: in the hour the clocks go back, the earlier of the
/// two; `None` for a time that does not exist (the hour skipped when summer time starts).
pub fn from_swedish_local(local: NaiveDateTime) -> Option<DateTime<Utc>> {
    Stockholm.from_local_datetime(&local).earliest().map(|t| t.with_timezone(&Utc))
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
    fn swedish_wall_clock_times_round_trip_and_the_skipped_hour_does_not_exist() {
        let local = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").expect("local");
        assert_eq!(swedish_local(utc("2026-01-15T11:30:00Z")), local("2026-01-15T12:30"));
        assert_eq!(swedish_local(utc("2026-07-15T11:30:00Z")), local("2026-07-15T13:30"));
        assert_eq!(from_swedish_local(local("2026-07-15T13:30")), Some(utc("2026-07-15T11:30:00Z")));
        assert_eq!(from_swedish_local(local("2026-03-29T02:30")), None);
        // 02:30 happens twice on 2026-10-25: the first (CEST) is taken.
        assert_eq!(from_swedish_local(local("2026-10-25T02:30")), Some(utc("2026-10-25T00:30:00Z")));
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
