//! The Swedish calendar day of an instant: the one definition of "a day" for every per-day rule
//! (reward limits per device and business, analytics), so they all agree on where a day ends.
//!
//! A day is a date in Europe/Stockholm (CET in winter, CEST in summer, daylight-saving changes
//! included, from the IANA tz data in `chrono-tz`), not a UTC date: 23:30 UTC on 31 March is
//! already 1 April in Stockholm.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Europe::Stockholm;

/// The date in Stockholm at instant `at`.
pub fn swedish_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Stockholm).date_naive()
}

/// [`swedish_day`] as `YYYY-MM-DD`, the form days are stored and shown in.
pub fn swedish_day_key(at: DateTime<Utc>) -> String {
    swedish_day(at).format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).single().expect("valid time")
    }

    #[test]
    fn late_utc_evening_is_the_next_swedish_day() {
        // Summer time (CEST, UTC+2) from 30 March 2025: 23:30 UTC on 31 March is 01:30 on 1 April.
        assert_eq!(swedish_day_key(utc(2025, 3, 31, 23, 30)), "2025-04-01");
        // Winter time (CET, UTC+1): 23:30 UTC on 1 January is 00:30 on 2 January.
        assert_eq!(swedish_day_key(utc(2025, 1, 1, 23, 30)), "2025-01-02");
        assert_eq!(swedish_day_key(utc(2025, 1, 1, 22, 59)), "2025-01-01");
    }

    #[test]
    fn daylight_saving_changes_move_midnight() {
        // The day before summer time starts (29 March 2025, CET): midnight is 23:00 UTC.
        assert_eq!(swedish_day_key(utc(2025, 3, 29, 22, 59)), "2025-03-29");
        assert_eq!(swedish_day_key(utc(2025, 3, 29, 23, 0)), "2025-03-30");
        // The day summer time ends (26 October 2025) starts at 22:00 UTC the day before (CEST)...
        assert_eq!(swedish_day_key(utc(2025, 10, 25, 21, 59)), "2025-10-25");
        assert_eq!(swedish_day_key(utc(2025, 10, 25, 22, 0)), "2025-10-26");
        // ...and ends at 23:00 UTC (CET): a 25-hour day.
        assert_eq!(swedish_day_key(utc(2025, 10, 26, 22, 59)), "2025-10-26");
        assert_eq!(swedish_day_key(utc(2025, 10, 26, 23, 0)), "2025-10-27");
    }
}
