//! `[signup]`: what a business's sign-up (`POST /v1/businesses`) may cost the cluster. Raw as
//! written, typed, and the check between them, in one place.

use std::num::NonZeroU32;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Businesses one client address may create per hour. A real business signs up once; a chain's
/// back office a handful of times; five an hour stops the 30-in-0.8-s script of issue 20 at five.
const CREATIONS_PER_ADDRESS_HOUR: u32 = 5;
/// An organisation number registered but never verified is released this long after its
/// registration: seven days, long enough for the verification e-mail to reach the company and
/// short enough that a squatter cannot keep a real company out for good.
const RELEASE_UNVERIFIED_ORG_NUMBER_AFTER_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// A sign-in link mailed to a business is good for fifteen minutes (issue 23).
const SIGNIN_LINK_TTL_MS: u64 = 15 * 60 * 1000;
/// The verification link mailed after sign-up is good for a day; a business that misses it asks
/// for a sign-in link, which verifies the address as well.
const VERIFY_LINK_TTL_MS: u64 = 24 * 60 * 60 * 1000;
/// Longest life of a mailed link that may be configured: a week.
pub const LINK_TTL_MS_MAX: u64 = 7 * 24 * 60 * 60 * 1000;
const _: () = assert!(SIGNIN_LINK_TTL_MS <= LINK_TTL_MS_MAX && VERIFY_LINK_TTL_MS <= LINK_TTL_MS_MAX);

/// Most creations per address and hour that may be configured (the loopback builder's value:
/// test tools create many businesses from one address).
pub const CREATIONS_PER_ADDRESS_HOUR_MAX: u32 = 1_000_000;
/// Longest hold of an unverified organisation number that may be configured: a year.
pub const RELEASE_UNVERIFIED_ORG_NUMBER_AFTER_MS_MAX: u64 = 366 * 24 * 60 * 60 * 1000;

/// `[signup]` as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawSignup {
    /// Businesses one client address may create per hour (its own bucket, beside `[abuse]`'s).
    pub creations_per_address_hour: u32,
    /// An organisation number registered but not verified is released this long after it was
    /// registered, in milliseconds.
    pub release_unverified_org_number_after_ms: u64,
    /// A mailed sign-in link is good this long, in milliseconds.
    pub signin_link_ttl_ms: u64,
    /// The verification link mailed after sign-up is good this long, in milliseconds.
    pub verify_link_ttl_ms: u64,
}

impl Default for RawSignup {
    fn default() -> RawSignup {
        RawSignup {
            creations_per_address_hour: CREATIONS_PER_ADDRESS_HOUR,
            release_unverified_org_number_after_ms: RELEASE_UNVERIFIED_ORG_NUMBER_AFTER_MS,
            signin_link_ttl_ms: SIGNIN_LINK_TTL_MS,
            verify_link_ttl_ms: VERIFY_LINK_TTL_MS,
        }
    }
}

/// `[signup]`, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignupConfig {
    /// Businesses one client address may create per hour, 1..=[`CREATIONS_PER_ADDRESS_HOUR_MAX`].
    pub creations_per_address_hour: NonZeroU32,
    /// How long an unverified organisation number stays registered.
    pub release_unverified_org_number_after: Duration,
    /// How long a mailed sign-in link is good.
    pub signin_link_ttl: Duration,
    /// How long the verification link is good.
    pub verify_link_ttl: Duration,
}

impl RawSignup {
    /// Checks the bounds.
    pub fn validate(&self) -> Result<SignupConfig, Error> {
        let invalid = |key: &str, reason: String| Error::Invalid { key: format!("signup.{key}"), reason };
        let creations = NonZeroU32::new(self.creations_per_address_hour)
            .filter(|n| n.get() <= CREATIONS_PER_ADDRESS_HOUR_MAX)
            .ok_or_else(|| {
                invalid(
                    "creations_per_address_hour",
                    format!("{} is not within 1..={CREATIONS_PER_ADDRESS_HOUR_MAX}", self.creations_per_address_hour),
                )
            })?;
        let release = self.release_unverified_org_number_after_ms;
        if release == 0 || release > RELEASE_UNVERIFIED_ORG_NUMBER_AFTER_MS_MAX {
            return Err(invalid(
                "release_unverified_org_number_after_ms",
                format!("{release} is not within 1..={RELEASE_UNVERIFIED_ORG_NUMBER_AFTER_MS_MAX}"),
            ));
        }
        for (key, v) in [("signin_link_ttl_ms", self.signin_link_ttl_ms), ("verify_link_ttl_ms", self.verify_link_ttl_ms)] {
            if v == 0 || v > LINK_TTL_MS_MAX {
                return Err(invalid(key, format!("{v} is not within 1..={LINK_TTL_MS_MAX}")));
            }
        }
        Ok(SignupConfig {
            creations_per_address_hour: creations,
            release_unverified_org_number_after: Duration::from_millis(release),
            signin_link_ttl: Duration::from_millis(self.signin_link_ttl_ms),
            verify_link_ttl: Duration::from_millis(self.verify_link_ttl_ms),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_issues_and_bad_bounds_name_their_key() {
        let c = RawSignup::default().validate().expect("defaults");
        assert_eq!(c.creations_per_address_hour.get(), 5);
        assert_eq!(c.release_unverified_org_number_after, Duration::from_secs(7 * 24 * 3600));
        let bad = RawSignup { creations_per_address_hour: 0, ..RawSignup::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("signup.creations_per_address_hour"));
        let bad = RawSignup { release_unverified_org_number_after_ms: 0, ..RawSignup::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("signup.release_unverified_org_number_after_ms"));
    }
}
