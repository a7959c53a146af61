//! The hourly brake of a business: when its rewards in the last hour reach
//! max(k x its own mean rewards an hour over the last 7 days, a floor), further rewards are held
//! for the business's review instead of paid (`abuse.brake_factor`, `abuse.brake_floor_per_hour`).
//!
//! [`HourlyRewards`] is the business's replicated count of rewards per hour: a ring of
//! [`HOURS_KEPT`] slots (the current hour and the 7 x 24 before it), advanced by the times the
//! business actor's commands carry, so it is bounded and every replica holds the same.
//!
//! "The last hour" is a sliding window estimated from the current and the previous hour's
//! counts: `current + previous x (unelapsed share of the current hour)`, the usual sliding-window
//! estimate. It never lets a burst that straddles the turn of the hour pass twice (at 11:00:01
//! the 20 rewards of 10:59 still count almost whole), and errs on the side of holding when the
//! previous hour's rewards came early in it. Integers only: no float decides money.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Hours in the 7-day mean.
pub const MEAN_HOURS: u32 = 7 * 24;

/// Slots of the ring: the current hour and the [`MEAN_HOURS`] before it.
pub const HOURS_KEPT: usize = MEAN_HOURS as usize + 1;

/// Seconds in an hour.
const HOUR_S: i64 = 3600;

/// Rewards paid per hour over the last [`HOURS_KEPT`] hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourlyRewards {
    /// Hours since the Unix epoch of the newest slot (the current hour once advanced); `None`
    /// before the first reward.
    hour: Option<i64>,
    /// `counts[h % HOURS_KEPT]` is the rewards of hour `h`, for the [`HOURS_KEPT`] hours up to
    /// `hour`; always [`HOURS_KEPT`] long.
    counts: Vec<u32>,
}

impl Default for HourlyRewards {
    fn default() -> HourlyRewards {
        HourlyRewards { hour: None, counts: vec![0; HOURS_KEPT] }
    }
}

/// The hour of `at`, counted from the Unix epoch.
fn hour_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(HOUR_S)
}

fn slot(hour: i64) -> usize {
    // rem_euclid of a positive modulus is in 0..HOURS_KEPT.
    usize::try_from(hour.rem_euclid(HOURS_KEPT as i64)).expect("slot index fits")
}

impl HourlyRewards {
    /// The rewards counted in `hour` (0 outside the ring).
    fn count(&self, hour: i64) -> u32 {
        match self.hour {
            Some(newest) if hour <= newest && newest - hour < HOURS_KEPT as i64 => self.counts[slot(hour)],
            _ => 0,
        }
    }

    /// The hour the ring counts `at` in: `at`'s own, or the newest slot when `at` is earlier (a
    /// new owner's clock slightly behind the old one's: the ring never runs backwards).
    fn effective_hour(&self, at: DateTime<Utc>) -> i64 {
        let h = hour_of(at);
        self.hour.map_or(h, |newest| h.max(newest))
    }

    /// Moves the ring to the hour of `at`, clearing the slots of the hours it skips.
    fn advance(&mut self, at: DateTime<Utc>) {
        assert_eq!(self.counts.len(), HOURS_KEPT, "hourly ring has its fixed length");
        let h = self.effective_hour(at);
        match self.hour {
            Some(newest) if h - newest < HOURS_KEPT as i64 => {
                for skipped in newest + 1..=h {
                    self.counts[slot(skipped)] = 0;
                }
            }
            _ => self.counts.iter_mut().for_each(|c| *c = 0),
        }
        self.hour = Some(h);
    }

    /// Counts one reward paid at `at`.
    pub fn record(&mut self, at: DateTime<Utc>) {
        self.advance(at);
        let s = slot(self.effective_hour(at));
        self.counts[s] = self.counts[s].saturating_add(1);
    }

    /// Rewards in the hour before `at`, scaled by 3600 (the sliding-window estimate, exact in
    /// units of 1/3600 reward).
    pub fn last_hour_scaled(&self, at: DateTime<Utc>) -> u64 {
        let h = self.effective_hour(at);
        // Seconds of the current hour not yet elapsed: the share of the previous hour still in
        // the window. When `at` is before the newest slot's start, the whole previous hour counts.
        let elapsed = if h == hour_of(at) { at.timestamp().rem_euclid(HOUR_S) } else { 0 };
        let unelapsed = u64::try_from(HOUR_S - elapsed).unwrap_or(0);
        u64::from(self.count(h)) * HOUR_S as u64 + u64::from(self.count(h - 1)) * unelapsed
    }

    /// Rewards in the [`MEAN_HOURS`] whole hours before the hour of `at`.
    pub fn week_total(&self, at: DateTime<Utc>) -> u64 {
        let h = self.effective_hour(at);
        (1..=i64::from(MEAN_HOURS)).map(|back| u64::from(self.count(h - back))).sum()
    }
}

/// The brake's settings (`[abuse]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Brake {
    /// k: rewards an hour above k x the 7-day hourly mean are held.
    pub factor: u32,
    /// Rewards an hour every business may pay before any is held.
    pub floor_per_hour: u32,
}

impl Brake {
    /// Whether a reward at `at` is held: the rewards of the last hour have reached
    /// max(factor x mean, floor), where mean is the business's rewards an hour over the 7 days
    /// before the current hour; a business created less than 7 days before `at` has no mean
    /// yet and uses the floor alone.
    pub fn holds(&self, ring: &HourlyRewards, created_at: DateTime<Utc>, at: DateTime<Utc>) -> bool {
        let last_scaled = u128::from(ring.last_hour_scaled(at));
        let hour = u128::from(HOUR_S as u64);
        if last_scaled < u128::from(self.floor_per_hour) * hour {
            return false;
        }
        let young = at.signed_duration_since(created_at) < chrono::Duration::hours(i64::from(MEAN_HOURS));
        if young {
            return true;
        }
        // last >= factor x week / MEAN_HOURS, multiplied out: no division, no rounding.
        last_scaled * u128::from(MEAN_HOURS) >= u128::from(self.factor) * u128::from(ring.week_total(at)) * hour
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::day::tests::utc;

    fn at(s: &str) -> DateTime<Utc> {
        utc(s)
    }

    fn ring_with(rewards: &[(&str, u32)]) -> HourlyRewards {
        let mut r = HourlyRewards::default();
        for (t, n) in rewards {
            for _ in 0..*n {
                r.record(at(t));
            }
        }
        r
    }

    #[test]
    fn the_ring_counts_per_hour_and_forgets_what_is_older_than_its_slots() {
        let r = ring_with(&[("2026-05-01T10:05:00Z", 3), ("2026-05-01T11:59:59Z", 2), ("2026-05-01T12:00:00Z", 1)]);
        assert_eq!(r.count(hour_of(at("2026-05-01T10:00:00Z"))), 3);
        assert_eq!(r.count(hour_of(at("2026-05-01T11:00:00Z"))), 2);
        assert_eq!(r.count(hour_of(at("2026-05-01T12:00:00Z"))), 1);
        // The week before 13:00 holds all six; the week before a moment 7 days later only the
        // hours still inside it.
        assert_eq!(r.week_total(at("2026-05-01T13:00:00Z")), 6);
        assert_eq!(r.week_total(at("2026-05-08T11:30:00Z")), 3);
        // Advancing far clears every slot, and the length never changes.
        let mut r = r;
        r.record(at("2026-06-01T00:00:00Z"));
        assert_eq!(r.counts.len(), HOURS_KEPT);
        assert_eq!(r.counts.iter().map(|c| u64::from(*c)).sum::<u64>(), 1);
        // Advancing by a few hours clears only the skipped slots: 169 hours after 10:xx on 1 May
        // lands on the slot 10:xx used, which must read 0 now.
        let mut r = ring_with(&[("2026-05-01T10:05:00Z", 3), ("2026-05-01T11:05:00Z", 2)]);
        r.record(at("2026-05-08T11:05:00Z")); // 168 hours after 11:05: slot of 10:05 is 169 back
        assert_eq!(r.count(hour_of(at("2026-05-01T10:05:00Z"))), 0, "outside the ring");
        assert_eq!(r.count(hour_of(at("2026-05-01T11:05:00Z"))), 2);
        assert_eq!(r.week_total(at("2026-05-08T11:05:00Z")), 2);
    }

    #[test]
    fn a_clock_behind_the_newest_slot_counts_in_the_newest_hour() {
        let mut r = ring_with(&[("2026-05-01T12:00:10Z", 1)]);
        r.record(at("2026-05-01T11:59:50Z"));
        assert_eq!(r.count(hour_of(at("2026-05-01T12:00:00Z"))), 2);
        assert_eq!(r.count(hour_of(at("2026-05-01T11:00:00Z"))), 0);
    }

    #[test]
    fn the_last_hour_slides_across_the_turn_of_the_hour() {
        let r = ring_with(&[("2026-05-01T10:59:00Z", 20)]);
        // At 11:00:00 the previous hour counts whole; at 11:30 half of it; at 12:00 none.
        assert_eq!(r.last_hour_scaled(at("2026-05-01T11:00:00Z")), 20 * 3600);
        assert_eq!(r.last_hour_scaled(at("2026-05-01T11:30:00Z")), 10 * 3600);
        assert_eq!(r.last_hour_scaled(at("2026-05-01T12:00:00Z")), 0);
        assert_eq!(r.last_hour_scaled(at("2026-05-01T10:59:30Z")), 20 * 3600);
    }

    #[test]
    fn a_young_business_is_held_at_the_floor() {
        let brake = Brake { factor: 6, floor_per_hour: 20 };
        let created = at("2026-05-01T08:00:00Z");
        let now = at("2026-05-01T10:30:00Z");
        assert!(!brake.holds(&ring_with(&[("2026-05-01T10:10:00Z", 19)]), created, now));
        assert!(brake.holds(&ring_with(&[("2026-05-01T10:10:00Z", 20)]), created, now));
        // A burst straddling the hour: 16 at 10:59, 5 at 11:00:30 -> held at 11:01 (5 + 16 x
        // 59/60 = 20.7), where clock-hour buckets would let 20 more through.
        let r = ring_with(&[("2026-05-01T10:59:00Z", 16), ("2026-05-01T11:00:30Z", 5)]);
        assert!(brake.holds(&r, created, at("2026-05-01T11:01:00Z")));
    }

    #[test]
    fn an_established_business_is_held_at_k_times_its_own_mean_or_the_floor() {
        let brake = Brake { factor: 6, floor_per_hour: 20 };
        let created = at("2026-04-01T08:00:00Z");
        // 840 rewards in the week before: a mean of 5 an hour, so the brake is at 30.
        let mut r = HourlyRewards::default();
        let start = at("2026-05-01T10:00:00Z");
        for h in 1..=168 {
            for _ in 0..5 {
                r.record(start - chrono::Duration::hours(169) + chrono::Duration::hours(h));
            }
        }
        assert_eq!(r.week_total(at("2026-05-01T10:00:00Z")), 840);
        let mut busy = r.clone();
        // Previous hour (09:xx) had 5; at 10:30 half of them count: 2.5 + 27 = 29.5 < 30.
        for _ in 0..27 {
            busy.record(at("2026-05-01T10:10:00Z"));
        }
        assert!(!brake.holds(&busy, created, at("2026-05-01T10:30:00Z")));
        busy.record(at("2026-05-01T10:10:00Z"));
        assert!(brake.holds(&busy, created, at("2026-05-01T10:30:00Z")), "30.5 reaches 6 x 5");
        // A quiet week: the floor decides.
        let quiet = ring_with(&[("2026-05-01T10:10:00Z", 19)]);
        assert!(!brake.holds(&quiet, created, at("2026-05-01T10:30:00Z")));
        let quiet = ring_with(&[("2026-05-01T10:10:00Z", 20)]);
        assert!(brake.holds(&quiet, created, at("2026-05-01T10:30:00Z")));
    }
}
