//! Money as an integer number of öre (1 SEK = 100 öre). Never a float.
//!
//! `Ore` is signed so that differences (budget left minus a payout) can be
//! represented, but amounts that come from the outside are parsed with
//! [`Ore::parse_sek`], which refuses negatives.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Öre per krona.
pub const ORE_PER_SEK: i64 = 100;

/// Basis points in a whole (100 % = 10 000 bp).
pub const BASIS_POINTS_PER_WHOLE: u32 = 10_000;

/// Longest input `parse_sek` looks at. Anything longer cannot be a sane
/// amount (i64::MAX öre is 19 digits) and is refused before any work.
pub const SEK_INPUT_LEN_MAX: usize = 32;

/// An amount of money in öre. Serialised as a plain JSON integer of öre.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Ore(i64);

/// Why a SEK amount could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum MoneyError {
    /// The input was empty.
    #[error("amount is empty")]
    Empty,
    /// The input is longer than [`SEK_INPUT_LEN_MAX`] bytes.
    #[error("amount is {len} bytes long, at most {max} allowed")]
    TooLong {
        /// Length of the input in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The input contains whitespace (including thousands separators such as "1 000").
    #[error("amount {input:?} contains whitespace; write digits only, e.g. 1000.00")]
    Whitespace {
        /// The raw input.
        input: String,
    },
    /// The input starts with a sign. Negative amounts are never valid input.
    #[error("amount {input:?} has a sign; only non-negative amounts without a sign are accepted")]
    Signed {
        /// The raw input.
        input: String,
    },
    /// The input uses a decimal comma, the Swedish convention, which we do not guess at.
    #[error(
        "amount {input:?} uses a comma; write the decimal separator as a point (1.00, not 1,00), \
         and do not use thousands separators"
    )]
    DecimalComma {
        /// The raw input.
        input: String,
    },
    /// The input is in scientific notation.
    #[error("amount {input:?} uses an exponent; write the amount out in full, e.g. 1000.00")]
    Exponent {
        /// The raw input.
        input: String,
    },
    /// More than two digits after the decimal point: öre is the smallest unit.
    #[error("amount {input:?} has {decimals} decimals, at most 2 (öre) allowed")]
    TooManyDecimals {
        /// The raw input.
        input: String,
        /// How many digits followed the point.
        decimals: usize,
    },
    /// Anything else that is not `DIGITS` or `DIGITS.D` or `DIGITS.DD`.
    #[error("amount {input:?} is not of the form 123 or 123.45")]
    Malformed {
        /// The raw input.
        input: String,
    },
    /// The amount does not fit in 64 bits of öre.
    #[error("amount {input:?} is too large")]
    Overflow {
        /// The raw input.
        input: String,
    },
}

impl Ore {
    /// Zero öre.
    pub const ZERO: Ore = Ore(0);

    /// An amount of `ore` öre.
    pub const fn from_ore(ore: i64) -> Ore {
        Ore(ore)
    }

    /// Whole kronor; `None` on overflow.
    pub const fn from_sek(sek: i64) -> Option<Ore> {
        match sek.checked_mul(ORE_PER_SEK) {
            Some(ore) => Some(Ore(ore)),
            None => None,
        }
    }

    /// The amount in öre.
    pub const fn as_ore(self) -> i64 {
        self.0
    }

    /// True when below zero.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Parses a non-negative SEK amount written with a decimal point and at
    /// most two decimals: "249", "249.0", "249.00", "0.05".
    ///
    /// Refused, each with its own error: empty input, whitespace anywhere,
    /// a leading sign, a decimal comma ("1,00"), exponents ("1e3"), more than
    /// two decimals, a point without digits on both sides (".5", "5."), and
    /// amounts that overflow `i64` öre.
    pub fn parse_sek(input: &str) -> Result<Ore, MoneyError> {
        if input.is_empty() {
            return Err(MoneyError::Empty);
        }
        if input.len() > SEK_INPUT_LEN_MAX {
            return Err(MoneyError::TooLong {
                len: input.len(),
                max: SEK_INPUT_LEN_MAX,
            });
        }
        let owned = || input.to_owned();
        if input.chars().any(char::is_whitespace) {
            return Err(MoneyError::Whitespace { input: owned() });
        }
        if input.starts_with(['-', '+', '−']) {
            return Err(MoneyError::Signed { input: owned() });
        }
        if input.contains(',') {
            return Err(MoneyError::DecimalComma { input: owned() });
        }
        if input.contains(['e', 'E']) {
            return Err(MoneyError::Exponent { input: owned() });
        }
        let (whole, fraction) = match input.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (input, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) {
            return Err(MoneyError::Malformed { input: owned() });
        }
        let fraction_ore = match fraction {
            None => 0,
            Some(fraction) => {
                if !all_digits(fraction) {
                    return Err(MoneyError::Malformed { input: owned() });
                }
                if fraction.len() > 2 {
                    return Err(MoneyError::TooManyDecimals {
                        input: owned(),
                        decimals: fraction.len(),
                    });
                }
                let digits = digits_value(fraction)
                    .ok_or_else(|| MoneyError::Malformed { input: owned() })?;
                // "0.5" is 50 öre, "0.05" is 5 öre.
                if fraction.len() == 1 {
                    digits * 10
                } else {
                    digits
                }
            }
        };
        let whole_sek =
            digits_value(whole).ok_or_else(|| MoneyError::Overflow { input: owned() })?;
        whole_sek
            .checked_mul(ORE_PER_SEK)
            .and_then(|ore| ore.checked_add(fraction_ore))
            .map(Ore)
            .ok_or_else(|| MoneyError::Overflow { input: owned() })
    }

    /// Renders as SEK with exactly two decimals and a point: "12.45", "0.05",
    /// "100.00", "-3.10". Same as `Display`; the output parses back with
    /// [`Ore::parse_sek`] when non-negative.
    pub fn to_sek_string(self) -> String {
        self.to_string()
    }

    /// `self + other`, `None` on overflow.
    pub const fn checked_add(self, other: Ore) -> Option<Ore> {
        match self.0.checked_add(other.0) {
            Some(sum) => Some(Ore(sum)),
            None => None,
        }
    }

    /// `self - other`, `None` on overflow. The result may be negative.
    pub const fn checked_sub(self, other: Ore) -> Option<Ore> {
        match self.0.checked_sub(other.0) {
            Some(diff) => Some(Ore(diff)),
            None => None,
        }
    }

    /// `floor(self * basis_points / 10_000)`, computed in i128 so the
    /// product cannot overflow. Rounds towards negative infinity, so a
    /// payout computed from a positive amount is never rounded up.
    ///
    /// For `basis_points <= 10_000` the result's magnitude is at most
    /// `self`'s and always fits; above that (not a percentage of anything we
    /// pay out) the result saturates at `i64::MIN`/`i64::MAX`.
    pub fn percent_floor(self, basis_points: u32) -> Ore {
        let product = i128::from(self.0) * i128::from(basis_points);
        let floored = product.div_euclid(i128::from(BASIS_POINTS_PER_WHOLE));
        let saturated = floored.clamp(i128::from(i64::MIN), i128::from(i64::MAX));
        Ore(i64::try_from(saturated).expect("value was clamped to the i64 range"))
    }
}

/// Value of a non-empty ASCII digit string, `None` on overflow.
fn digits_value(digits: &str) -> Option<i64> {
    digits.bytes().try_fold(0i64, |acc, b| {
        acc.checked_mul(10)?.checked_add(i64::from(b - b'0'))
    })
}

impl fmt::Display for Ore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        // unsigned_abs so that i64::MIN renders instead of overflowing.
        let abs = self.0.unsigned_abs();
        let per = ORE_PER_SEK.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / per, abs % per)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> i64 {
        match Ore::parse_sek(s) {
            Ok(ore) => ore.as_ore(),
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    #[test]
    fn parses_whole_and_decimal_amounts() {
        assert_eq!(ok("249"), 24_900);
        assert_eq!(ok("249.0"), 24_900);
        assert_eq!(ok("249.00"), 24_900);
        assert_eq!(ok("249.5"), 24_950);
        assert_eq!(ok("0.05"), 5);
        assert_eq!(ok("0.50"), 50);
        assert_eq!(ok("0"), 0);
        assert_eq!(ok("12.45"), 1_245);
        assert_eq!(ok("0249.00"), 24_900);
    }

    #[test]
    fn parses_the_largest_amount_and_refuses_one_ore_more() {
        let max = format!("{}.{:02}", i64::MAX / 100, i64::MAX % 100);
        assert_eq!(ok(&max), i64::MAX);
        let over = format!("{}.{:02}", i64::MAX / 100, i64::MAX % 100 + 1);
        assert!(matches!(
            Ore::parse_sek(&over),
            Err(MoneyError::Overflow { .. })
        ));
        assert!(matches!(
            Ore::parse_sek("99999999999999999999"),
            Err(MoneyError::Overflow { .. })
        ));
    }

    #[test]
    fn refuses_bad_inputs_with_specific_errors() {
        assert_eq!(Ore::parse_sek(""), Err(MoneyError::Empty));
        assert!(matches!(
            Ore::parse_sek("-1"),
            Err(MoneyError::Signed { .. })
        ));
        assert!(matches!(
            Ore::parse_sek("+1"),
            Err(MoneyError::Signed { .. })
        ));
        assert!(matches!(
            Ore::parse_sek("1.001"),
            Err(MoneyError::TooManyDecimals { decimals: 3, .. })
        ));
        assert!(matches!(
            Ore::parse_sek(" 1"),
            Err(MoneyError::Whitespace { .. })
        ));
        assert!(matches!(
            Ore::parse_sek("1 000"),
            Err(MoneyError::Whitespace { .. })
        ));
        assert!(matches!(
            Ore::parse_sek("1\u{a0}000"),
            Err(MoneyError::Whitespace { .. })
        ));
        assert!(matches!(
            Ore::parse_sek("1e3"),
            Err(MoneyError::Exponent { .. })
        ));
        assert!(matches!(
            Ore::parse_sek("1E3"),
            Err(MoneyError::Exponent { .. })
        ));
        assert!(matches!(
            Ore::parse_sek("1,00"),
            Err(MoneyError::DecimalComma { .. })
        ));
        for malformed in [
            ".5", "5.", ".", "1.2.3", "abc", "12kr", "1_000", "١٢", "0x10", "1.-5",
        ] {
            assert!(
                matches!(Ore::parse_sek(malformed), Err(MoneyError::Malformed { .. })),
                "{malformed:?} gave {:?}",
                Ore::parse_sek(malformed)
            );
        }
        let long = "1".repeat(SEK_INPUT_LEN_MAX + 1);
        assert!(matches!(
            Ore::parse_sek(&long),
            Err(MoneyError::TooLong { .. })
        ));
    }

    #[test]
    fn decimal_comma_error_explains_the_fix_and_carries_the_input() {
        let message = Ore::parse_sek("1,00").unwrap_err().to_string();
        assert!(message.contains("\"1,00\""), "{message}");
        assert!(message.contains("point"), "{message}");
        assert!(message.contains("1.00"), "{message}");
        assert_eq!(message, message.to_lowercase(), "messages are lowercase");
    }

    #[test]
    fn renders_with_two_decimals() {
        assert_eq!(Ore::from_ore(1_245).to_string(), "12.45");
        assert_eq!(Ore::from_ore(5).to_sek_string(), "0.05");
        assert_eq!(Ore::from_ore(10_000).to_sek_string(), "100.00");
        assert_eq!(Ore::ZERO.to_sek_string(), "0.00");
        assert_eq!(Ore::from_ore(-310).to_sek_string(), "-3.10");
        assert_eq!(
            Ore::from_ore(i64::MIN).to_sek_string(),
            "-92233720368547758.08"
        );
    }

    #[test]
    fn render_then_parse_round_trips() {
        for ore in [0, 1, 5, 10, 99, 100, 1_245, 24_900, i64::MAX] {
            let amount = Ore::from_ore(ore);
            assert_eq!(Ore::parse_sek(&amount.to_sek_string()), Ok(amount));
        }
    }

    #[test]
    fn checked_arithmetic_reports_overflow() {
        let a = Ore::from_ore(150);
        let b = Ore::from_ore(200);
        assert_eq!(a.checked_add(b), Some(Ore::from_ore(350)));
        assert_eq!(a.checked_sub(b), Some(Ore::from_ore(-50)));
        assert!(a.checked_sub(b).is_some_and(Ore::is_negative));
        assert_eq!(Ore::from_ore(i64::MAX).checked_add(Ore::from_ore(1)), None);
        assert_eq!(Ore::from_ore(i64::MIN).checked_sub(Ore::from_ore(1)), None);
        assert_eq!(Ore::from_sek(3), Some(Ore::from_ore(300)));
        assert_eq!(Ore::from_sek(i64::MAX), None);
    }

    #[test]
    fn min_and_ordering() {
        assert_eq!(Ore::from_ore(5).min(Ore::from_ore(3)), Ore::from_ore(3));
        assert!(Ore::from_ore(-1) < Ore::ZERO);
    }

    #[test]
    fn percent_floor_rounds_down() {
        // 2 % of 249.00 = 4.98
        assert_eq!(Ore::from_ore(24_900).percent_floor(200), Ore::from_ore(498));
        // 8 % of 0.99 = 0.0792 -> 0.07
        assert_eq!(Ore::from_ore(99).percent_floor(800), Ore::from_ore(7));
        // 5 % of 0.19 = 0.0095 -> 0
        assert_eq!(Ore::from_ore(19).percent_floor(500), Ore::ZERO);
        assert_eq!(Ore::from_ore(12_345).percent_floor(0), Ore::ZERO);
        assert_eq!(
            Ore::from_ore(12_345).percent_floor(10_000),
            Ore::from_ore(12_345)
        );
        // Floor, not truncation, for negatives: -0.5 öre becomes -1 öre.
        assert_eq!(Ore::from_ore(-1).percent_floor(5_000), Ore::from_ore(-1));
    }

    #[test]
    fn percent_floor_does_not_overflow_in_the_product() {
        // i64::MAX * 9_999 overflows i64 but not i128.
        let result = Ore::from_ore(i64::MAX).percent_floor(9_999);
        assert_eq!(
            i128::from(result.as_ore()),
            i128::from(i64::MAX) * 9_999 / 10_000
        );
        assert_eq!(
            Ore::from_ore(i64::MAX).percent_floor(u32::MAX),
            Ore::from_ore(i64::MAX)
        );
    }

    #[test]
    fn serde_is_a_plain_integer() {
        let json = serde_json::to_string(&Ore::from_ore(1_245)).expect("serialise");
        assert_eq!(json, "1245");
        let back: Ore = serde_json::from_str("1245").expect("deserialise");
        assert_eq!(back, Ore::from_ore(1_245));
        assert!(serde_json::from_str::<Ore>("\"12.45\"").is_err());
        assert!(serde_json::from_str::<Ore>("12.45").is_err());
    }
}
