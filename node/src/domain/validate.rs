//! Validation of what customers and businesses send us.
//!
//! Lengths are counted in characters (Unicode scalar values), not bytes, so
//! "åäö" is three characters, as a Swedish customer would count it. Texts are
//! trimmed first and the trimmed text is returned for storage.

use chrono::{DateTime, TimeDelta, Utc};

use super::error::DomainError;
use super::money::Ore;

/// Shortest feedback accepted, in characters after trimming.
pub const FEEDBACK_CHARS_MIN: usize = 20;
/// Longest feedback accepted, in characters after trimming.
pub const FEEDBACK_CHARS_MAX: usize = 5_000;

/// Smallest purchase that earns feedback: 1.00 SEK.
pub const PURCHASE_AMOUNT_MIN: Ore = Ore::from_ore(100);
/// Largest purchase accepted: 100 000.00 SEK. Above that it is more likely a
/// typo (or an attempt to inflate cashback) than a till purchase.
pub const PURCHASE_AMOUNT_MAX: Ore = Ore::from_ore(10_000_000);

/// How far in the future a purchase time may be, in seconds. The purchase
/// time comes from the till or the customer's phone, `now` from our node;
/// their clocks disagree by a few seconds, so a purchase stamped up to a
/// minute "in the future" is accepted rather than refusing honest customers.
pub const PURCHASE_CLOCK_SKEW_S: i64 = 60;
/// How long before the feedback session was opened the purchase may have
/// happened, in seconds (2 hours): feedback is about a visit, not about last week.
pub const PURCHASE_BEFORE_SESSION_S_MAX: i64 = 2 * 60 * 60;

/// Shortest business or location name, in characters after trimming.
pub const NAME_CHARS_MIN: usize = 1;
/// Longest business name, in characters after trimming (issue 20): Bolagsverket's longest
/// registered names are well under it, and every page, poster and QR record repeats it.
pub const BUSINESS_NAME_CHARS_MAX: usize = 100;
/// Longest location name, in characters after trimming: "Kungsgatan 12, entré från gården"
/// is 32; 100 leaves room for any street address and keeps each `qr/` record small.
pub const LOCATION_NAME_CHARS_MAX: usize = 100;

/// Fewest locations a business has.
pub const LOCATIONS_MIN: usize = 1;
/// Most locations one creation may register (issue 20): a chain signs up its first shops; each
/// location is a replicated QR record, so one anonymous request must not write hundreds.
pub const LOCATIONS_MAX: usize = 20;

/// Counts characters, stopping one past `max` so huge inputs cost O(max).
/// The count reported for over-long inputs is therefore `max + 1`, which is
/// what an error message needs ("more than max").
fn chars_up_to(text: &str, max: usize) -> usize {
    text.chars().take(max + 1).count()
}

/// Trimmed feedback text of 20..=5000 characters.
pub fn validate_feedback_text(text: &str) -> Result<&str, DomainError> {
    let trimmed = text.trim();
    let chars = chars_up_to(trimmed, FEEDBACK_CHARS_MAX);
    if (FEEDBACK_CHARS_MIN..=FEEDBACK_CHARS_MAX).contains(&chars) {
        Ok(trimmed)
    } else {
        Err(DomainError::FeedbackLength {
            chars,
            min: FEEDBACK_CHARS_MIN,
            max: FEEDBACK_CHARS_MAX,
        })
    }
}

/// A purchase amount of 1.00..=100 000.00 SEK.
pub fn validate_purchase_amount(amount: Ore) -> Result<Ore, DomainError> {
    if (PURCHASE_AMOUNT_MIN..=PURCHASE_AMOUNT_MAX).contains(&amount) {
        Ok(amount)
    } else {
        Err(DomainError::PurchaseAmount {
            amount,
            min: PURCHASE_AMOUNT_MIN,
            max: PURCHASE_AMOUNT_MAX,
        })
    }
}

/// A business's ceiling of a self-declared purchase: 1.00 SEK up to
/// `svea_config::DECLARED_AMOUNT_MAX_SEK_MAX` (above it, the business's till must report its
/// purchases).
pub fn validate_declared_amount_max(amount: Ore) -> Result<Ore, DomainError> {
    let max = Ore::from_ore(i64::try_from(svea_config::DECLARED_AMOUNT_MAX_SEK_MAX * 100).unwrap_or(i64::MAX));
    if (PURCHASE_AMOUNT_MIN..=max).contains(&amount) {
        Ok(amount)
    } else {
        Err(DomainError::DeclaredAmountMaxOutOfRange { amount, min: PURCHASE_AMOUNT_MIN, max })
    }
}

/// A purchase time that is not after `now` (with [`PURCHASE_CLOCK_SKEW_S`]
/// of slack) and not more than [`PURCHASE_BEFORE_SESSION_S_MAX`] before the
/// session was opened. Both bounds are inclusive.
pub fn validate_purchase_time(
    purchased_at: DateTime<Utc>,
    session_opened_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let skew = TimeDelta::seconds(PURCHASE_CLOCK_SKEW_S);
    let window = TimeDelta::seconds(PURCHASE_BEFORE_SESSION_S_MAX);
    // checked_*: timestamps near the ends of chrono's range must not panic.
    let latest = now
        .checked_add_signed(skew)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    if purchased_at > latest {
        return Err(DomainError::PurchaseInFuture {
            purchased_at,
            now,
            skew_s: PURCHASE_CLOCK_SKEW_S,
        });
    }
    let earliest = session_opened_at
        .checked_sub_signed(window)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    if purchased_at < earliest {
        return Err(DomainError::PurchaseOutsideWindow {
            purchased_at,
            session_opened_at,
            window_s: PURCHASE_BEFORE_SESSION_S_MAX,
        });
    }
    Ok(())
}

/// Trimmed business name of 1..=[`BUSINESS_NAME_CHARS_MAX`] characters.
pub fn validate_business_name(name: &str) -> Result<&str, DomainError> {
    let trimmed = name.trim();
    let chars = chars_up_to(trimmed, BUSINESS_NAME_CHARS_MAX);
    if (NAME_CHARS_MIN..=BUSINESS_NAME_CHARS_MAX).contains(&chars) {
        Ok(trimmed)
    } else {
        Err(DomainError::BusinessNameLength {
            chars,
            min: NAME_CHARS_MIN,
            max: BUSINESS_NAME_CHARS_MAX,
        })
    }
}

/// Trimmed location name of 1..=[`LOCATION_NAME_CHARS_MAX`] characters.
pub fn validate_location_name(name: &str) -> Result<&str, DomainError> {
    let trimmed = name.trim();
    let chars = chars_up_to(trimmed, LOCATION_NAME_CHARS_MAX);
    if (NAME_CHARS_MIN..=LOCATION_NAME_CHARS_MAX).contains(&chars) {
        Ok(trimmed)
    } else {
        Err(DomainError::LocationNameLength {
            chars,
            min: NAME_CHARS_MIN,
            max: LOCATION_NAME_CHARS_MAX,
        })
    }
}

/// Finite latitude in -90..=90 and longitude in -180..=180 degrees.
pub fn validate_coordinates(lat: f64, lon: f64) -> Result<(), DomainError> {
    // `contains` is false for NaN; infinities are outside the ranges.
    if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) {
        Ok(())
    } else {
        Err(DomainError::Coordinates { lat, lon })
    }
}

/// A location: its trimmed name, after checking name and coordinates.
pub fn validate_location(name: &str, lat: f64, lon: f64) -> Result<&str, DomainError> {
    let name = validate_location_name(name)?;
    validate_coordinates(lat, lon)?;
    Ok(name)
}

/// A business registers 1..=[`LOCATIONS_MAX`] locations in one creation.
pub fn validate_location_count(count: usize) -> Result<usize, DomainError> {
    if (LOCATIONS_MIN..=LOCATIONS_MAX).contains(&count) {
        Ok(count)
    } else {
        Err(DomainError::LocationCount {
            count,
            min: LOCATIONS_MIN,
            max: LOCATIONS_MAX,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 14, h, m, s)
            .single()
            .expect("valid test time")
    }

    #[test]
    fn feedback_length_is_counted_in_chars_after_trimming() {
        let twenty = "a".repeat(20);
        assert_eq!(validate_feedback_text(&twenty), Ok(twenty.as_str()));
        assert_eq!(
            validate_feedback_text(&format!("  \n{twenty}\t ")),
            Ok(twenty.as_str())
        );
        // 19 characters padded with spaces is still 19.
        let err = validate_feedback_text(&format!("   {}   ", "a".repeat(19))).unwrap_err();
        assert_eq!(
            err,
            DomainError::FeedbackLength {
                chars: 19,
                min: 20,
                max: 5000
            }
        );
        assert_eq!(err.kind(), "feedback-length");
        // 20 "ö" are 40 bytes but 20 characters: accepted.
        assert!(validate_feedback_text(&"ö".repeat(20)).is_ok());
        // 5000 "ö" are 10000 bytes but 5000 characters: accepted; 5001 refused.
        assert!(validate_feedback_text(&"ö".repeat(5000)).is_ok());
        assert!(matches!(
            validate_feedback_text(&"ö".repeat(5001)),
            Err(DomainError::FeedbackLength { chars: 5001, .. })
        ));
        assert!(validate_feedback_text("").is_err());
        assert!(validate_feedback_text(&" ".repeat(100)).is_err());
    }

    #[test]
    fn purchase_amount_bounds_are_inclusive() {
        assert!(validate_purchase_amount(Ore::from_ore(100)).is_ok());
        assert!(validate_purchase_amount(Ore::from_ore(10_000_000)).is_ok());
        for bad in [0, 99, -100, 10_000_001, i64::MAX, i64::MIN] {
            let err = validate_purchase_amount(Ore::from_ore(bad)).unwrap_err();
            assert_eq!(err.kind(), "purchase-amount-out-of-range", "{bad}");
        }
    }

    #[test]
    fn purchase_time_window() {
        let opened = at(12, 0, 0);
        let now = at(12, 5, 0);
        // During the session, and exactly at now.
        assert!(validate_purchase_time(at(12, 1, 0), opened, now).is_ok());
        assert!(validate_purchase_time(now, opened, now).is_ok());
        // Up to 60 s in the future is clock skew.
        assert!(validate_purchase_time(at(12, 6, 0), opened, now).is_ok());
        let err = validate_purchase_time(at(12, 6, 1), opened, now).unwrap_err();
        assert_eq!(err.kind(), "purchase-in-future");
        // Exactly two hours before the session opened is fine, a second more is not.
        assert!(validate_purchase_time(at(10, 0, 0), opened, now).is_ok());
        let err = validate_purchase_time(at(9, 59, 59), opened, now).unwrap_err();
        assert_eq!(err.kind(), "purchase-outside-window");
        assert!(err.to_string().contains("7200 s"), "{err}");
    }

    #[test]
    fn purchase_time_at_the_ends_of_time_does_not_panic() {
        let max = DateTime::<Utc>::MAX_UTC;
        let min = DateTime::<Utc>::MIN_UTC;
        assert!(validate_purchase_time(max, max, max).is_ok());
        assert!(validate_purchase_time(min, min, min).is_ok());
        assert!(validate_purchase_time(max, min, min).is_err());
        assert!(validate_purchase_time(min, max, max).is_err());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            validate_business_name("  Kaffebaren Södermalm "),
            Ok("Kaffebaren Södermalm")
        );
        assert_eq!(validate_business_name("Å"), Ok("Å"));
        assert!(validate_business_name(&"ä".repeat(100)).is_ok());
        let err = validate_business_name(&"ä".repeat(101)).unwrap_err();
        assert_eq!(err.kind(), "business-name-length");
        assert_eq!(
            validate_business_name("   ").unwrap_err().kind(),
            "business-name-length"
        );
        assert_eq!(validate_location_name(" Kassa 1 "), Ok("Kassa 1"));
        assert_eq!(
            validate_location_name("").unwrap_err().kind(),
            "location-name-length"
        );
        assert!(validate_location_name(&"x".repeat(100)).is_ok());
        assert!(validate_location_name(&"x".repeat(101)).is_err());
    }

    #[test]
    fn coordinates_must_be_finite_and_in_range() {
        for (lat, lon) in [
            (59.3293, 18.0686),
            (90.0, 180.0),
            (-90.0, -180.0),
            (0.0, 0.0),
        ] {
            assert!(validate_coordinates(lat, lon).is_ok(), "{lat} {lon}");
        }
        for (lat, lon) in [
            (90.000_1, 0.0),
            (-90.1, 0.0),
            (0.0, 180.1),
            (0.0, -181.0),
            (f64::NAN, 0.0),
            (0.0, f64::NAN),
            (f64::INFINITY, 0.0),
            (0.0, f64::NEG_INFINITY),
        ] {
            let err = validate_coordinates(lat, lon).unwrap_err();
            assert_eq!(err.kind(), "invalid-coordinates", "{lat} {lon}");
        }
        assert_eq!(validate_location(" Lund C ", 55.7, 13.19), Ok("Lund C"));
        assert_eq!(
            validate_location("Lund C", 95.0, 13.19).unwrap_err().kind(),
            "invalid-coordinates"
        );
        assert_eq!(
            validate_location("", 55.7, 13.19).unwrap_err().kind(),
            "location-name-length"
        );
    }

    #[test]
    fn location_count_is_1_to_20() {
        assert!(validate_location_count(1).is_ok());
        assert!(validate_location_count(20).is_ok());
        assert_eq!(
            validate_location_count(0),
            Err(DomainError::LocationCount {
                count: 0,
                min: 1,
                max: 20
            })
        );
        assert_eq!(
            validate_location_count(21).unwrap_err().kind(),
            "location-count"
        );
    }
}
