//! The one error type of the domain rules.
//!
//! `DomainError::kind()` is a stable, machine-readable name for each kind of
//! rule violation; the HTTP layer turns it into a problem+json `type` URI.
//! Kinds are part of the public API: add new ones, never rename old ones.

use chrono::{DateTime, Utc};

use super::ids::IdError;
use super::money::{MoneyError, Ore};
use super::orgnr::OrgNumberError;

/// A domain rule was violated by input from outside.
#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum DomainError {
    /// An amount could not be parsed.
    #[error("invalid amount: {0}")]
    Amount(#[from] MoneyError),
    /// An organisationsnummer could not be parsed or failed its check digit.
    #[error("invalid organisation number: {0}")]
    OrgNumber(#[from] OrgNumberError),
    /// An identifier could not be parsed.
    #[error("invalid identifier: {0}")]
    Id(#[from] IdError),
    /// Feedback text is too short or too long after trimming.
    #[error("feedback is {chars} characters after trimming, must be {min}..={max}")]
    FeedbackLength {
        /// Characters (Unicode scalar values) after trimming.
        chars: usize,
        /// Lower bound, inclusive.
        min: usize,
        /// Upper bound, inclusive.
        max: usize,
    },
    /// A purchase amount outside what a till purchase can plausibly be.
    #[error("purchase amount {amount} sek is outside {min}..={max} sek")]
    PurchaseAmount {
        /// The amount given.
        amount: Ore,
        /// Lower bound, inclusive.
        min: Ore,
        /// Upper bound, inclusive.
        max: Ore,
    },
    /// The purchase is dated after now (beyond the allowed clock skew).
    #[error(
        "purchase at {purchased_at} is in the future: now is {now}, allowed clock skew {skew_s} s"
    )]
    PurchaseInFuture {
        /// When the purchase supposedly happened.
        purchased_at: DateTime<Utc>,
        /// Now, as the caller saw it.
        now: DateTime<Utc>,
        /// Allowed clock skew in seconds.
        skew_s: i64,
    },
    /// The purchase happened too long before the feedback session was opened.
    #[error(
        "purchase at {purchased_at} is more than {window_s} s before the session opened at \
         {session_opened_at}"
    )]
    PurchaseOutsideWindow {
        /// When the purchase supposedly happened.
        purchased_at: DateTime<Utc>,
        /// When the session was opened.
        session_opened_at: DateTime<Utc>,
        /// How long before the session a purchase may be, in seconds.
        window_s: i64,
    },
    /// A business name is empty or too long after trimming.
    #[error("business name is {chars} characters after trimming, must be {min}..={max}")]
    BusinessNameLength {
        /// Characters after trimming.
        chars: usize,
        /// Lower bound, inclusive.
        min: usize,
        /// Upper bound, inclusive.
        max: usize,
    },
    /// A location name is empty or too long after trimming.
    #[error("location name is {chars} characters after trimming, must be {min}..={max}")]
    LocationNameLength {
        /// Characters after trimming.
        chars: usize,
        /// Lower bound, inclusive.
        min: usize,
        /// Upper bound, inclusive.
        max: usize,
    },
    /// Latitude or longitude is not finite or out of range.
    #[error(
        "coordinates lat {lat}, lon {lon} are invalid: need finite lat -90..=90 and lon -180..=180"
    )]
    Coordinates {
        /// Latitude in degrees as given.
        lat: f64,
        /// Longitude in degrees as given.
        lon: f64,
    },
    /// A business has too few or too many locations.
    #[error("business has {count} locations, must have {min}..={max}")]
    LocationCount {
        /// Locations given.
        count: usize,
        /// Lower bound, inclusive.
        min: usize,
        /// Upper bound, inclusive.
        max: usize,
    },
    /// A reward tier's percentage is above 100 %.
    #[error("reward tier {tier} is {basis_points} basis points, at most {max} allowed")]
    RewardTierTooHigh {
        /// Index of the tier, 0 = lowest.
        tier: usize,
        /// Basis points given.
        basis_points: u32,
        /// The limit (100 %).
        max: u32,
    },
    /// Reward percentages decrease from one tier to the next.
    #[error(
        "reward tier {tier} pays {basis_points} basis points, less than tier {lower_tier} below it \
         ({lower_basis_points})"
    )]
    RewardTiersDecreasing {
        /// Index of the offending tier.
        tier: usize,
        /// Its basis points.
        basis_points: u32,
        /// Index of the tier below.
        lower_tier: usize,
        /// The tier below's basis points.
        lower_basis_points: u32,
    },
    /// Tier score thresholds are not strictly increasing within 1..=100.
    #[error(
        "reward tier {tier} starts at score {min_score}, must be above {floor} and at most 100"
    )]
    RewardTierThreshold {
        /// Index of the offending tier.
        tier: usize,
        /// Its minimum score.
        min_score: u8,
        /// The threshold must be strictly greater than this.
        floor: u8,
    },
    /// A customer declared a purchase above the ceiling of a business that does not verify
    /// purchases with its till (`abuse.declared_amount_max_sek`, or the business's own).
    #[error(
        "a declared purchase of {amount} sek is above this business's ceiling of {max} sek: \
         larger purchases need the business's till to report them"
    )]
    DeclaredAmountNeedsTill {
        /// The amount declared.
        amount: Ore,
        /// The business's ceiling, inclusive.
        max: Ore,
    },
    /// A business asked for a declared-purchase ceiling outside the allowed range.
    #[error("declared purchase ceiling {amount} sek is outside {min}..={max} sek")]
    DeclaredAmountMaxOutOfRange {
        /// The ceiling asked for.
        amount: Ore,
        /// Lower bound, inclusive.
        min: Ore,
        /// Upper bound, inclusive.
        max: Ore,
    },
    /// A top-up outside `0.01..=max` SEK.
    #[error("top-up of {amount} sek is outside 0.01..={max} sek")]
    TopUpAmountOutOfRange {
        /// The amount asked for.
        amount: Ore,
        /// Upper bound, inclusive.
        max: Ore,
    },
    /// With `funding.provider = "stripe"`, money enters only through Stripe: a sign-up's
    /// `reward_budget_sek` must be 0 and the business tops up by card.
    #[error("rewards are funded by card here: sign up with reward_budget_sek 0 and top up from the dashboard")]
    FundingByCardOnly,
    /// An outside reference (payment, event, checkout session id) that is not 1 to 255 characters
    /// of `A-Z a-z 0-9 _ -`.
    #[error("{what} is not 1 to 255 characters of A-Z, a-z, 0-9, _ and -")]
    ExternalRef {
        /// Which reference.
        what: String,
    },
    // Issue 23 (last: the variants before keep their numbers on the wire).
    /// A location a till registration sends purchases to cannot be removed (register the till
    /// without it first).
    #[error("location {location} receives the {provider} till's purchases; register the till without it first")]
    LocationUsedByTill {
        /// The location.
        location: String,
        /// The till provider whose registration names it.
        provider: String,
    },
    /// A business asked for a daily reward budget outside 1 kr..= the cluster's daily cap.
    #[error("daily reward budget {amount} sek is outside {min}..={max} sek")]
    DailyBudgetOutOfRange {
        /// The budget asked for.
        amount: Ore,
        /// Lower bound, inclusive.
        min: Ore,
        /// Upper bound, inclusive: `abuse.business_daily_reward_cap_sek`.
        max: Ore,
    },
    /// A location's street address is too long or has control characters.
    #[error("address is {chars} characters after trimming or has control characters, must be at most {max} printable characters")]
    LocationAddress {
        /// Characters given.
        chars: usize,
        /// Most allowed.
        max: usize,
    },
    /// A contact e-mail that is not an address.
    #[error("{0}")]
    Email(String),
}

impl DomainError {
    /// Stable machine-readable name of this kind of error.
    pub fn kind(&self) -> &'static str {
        match self {
            DomainError::Amount(_) => "invalid-amount",
            DomainError::OrgNumber(_) => "invalid-org-number",
            DomainError::LocationAddress { .. } => "invalid-address",
            DomainError::Email(_) => "invalid-email",
            DomainError::Id(_) => "invalid-id",
            DomainError::FeedbackLength { .. } => "feedback-length",
            DomainError::PurchaseAmount { .. } => "purchase-amount-out-of-range",
            DomainError::PurchaseInFuture { .. } => "purchase-in-future",
            DomainError::PurchaseOutsideWindow { .. } => "purchase-outside-window",
            DomainError::BusinessNameLength { .. } => "business-name-length",
            DomainError::LocationNameLength { .. } => "location-name-length",
            DomainError::Coordinates { .. } => "invalid-coordinates",
            DomainError::LocationCount { .. } => "location-count",
            DomainError::LocationUsedByTill { .. } => "location-used-by-till",
            DomainError::DailyBudgetOutOfRange { .. } => "invalid-daily-budget",
            DomainError::RewardTierTooHigh { .. }
            | DomainError::RewardTiersDecreasing { .. }
            | DomainError::RewardTierThreshold { .. } => "invalid-reward-policy",
            DomainError::DeclaredAmountNeedsTill { .. } => "declared-amount-needs-till",
            DomainError::DeclaredAmountMaxOutOfRange { .. } => "invalid-declared-amount-max",
            DomainError::TopUpAmountOutOfRange { .. } => "top-up-amount-out-of-range",
            DomainError::FundingByCardOnly => "funding-by-card-only",
            DomainError::ExternalRef { .. } => "invalid-external-ref",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_stable_kebab_case() {
        let errors = [
            DomainError::from(MoneyError::Empty),
            DomainError::from(OrgNumberError::Format { input: "x".into() }),
            DomainError::from(IdError::Empty { kind: "session id".into() }),
            DomainError::FeedbackLength {
                chars: 3,
                min: 20,
                max: 5000,
            },
            DomainError::LocationCount {
                count: 0,
                min: 1,
                max: 100,
            },
        ];
        let kinds: Vec<&str> = errors.iter().map(DomainError::kind).collect();
        assert_eq!(
            kinds,
            [
                "invalid-amount",
                "invalid-org-number",
                "invalid-id",
                "feedback-length",
                "location-count"
            ]
        );
        for kind in kinds {
            assert!(
                kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{kind}"
            );
        }
    }

    #[test]
    fn messages_are_lowercase_and_carry_values() {
        let e = DomainError::PurchaseAmount {
            amount: Ore::from_ore(50),
            min: Ore::from_ore(100),
            max: Ore::from_ore(10_000_000),
        };
        assert_eq!(
            e.to_string(),
            "purchase amount 0.50 sek is outside 1.00..=100000.00 sek"
        );
        let e = DomainError::from(MoneyError::Empty);
        assert_eq!(e.to_string(), "invalid amount: amount is empty");
    }
}
