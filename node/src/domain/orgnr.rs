//! Swedish organisationsnummer ("NNNNNN-NNNN").
//!
//! The tenth digit is a Luhn (mod 10) check digit over the first nine, the
//! same scheme as personnummer. We deliberately do not require the third
//! digit to be >= 2 (the usual marker of a legal person): a sole trader
//! (enskild firma) trades under the owner's personnummer, and those
//! businesses are customers too.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Digits in an organisationsnummer.
const ORG_NUMBER_DIGITS: usize = 10;

/// A validated organisationsnummer. Displayed and serialised as "NNNNNN-NNNN".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrgNumber([u8; ORG_NUMBER_DIGITS]);

/// Why a string is not an organisationsnummer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum OrgNumberError {
    /// Not "NNNNNN-NNNN" nor ten digits.
    #[error("organisation number {input:?} must be 10 digits, written NNNNNN-NNNN or NNNNNNNNNN")]
    Format {
        /// The raw input (cut to a sane length).
        input: String,
    },
    /// Well-formed, but the tenth digit is not the Luhn check digit of the first nine.
    #[error("organisation number {input:?} has check digit {found}, expected {expected}")]
    CheckDigit {
        /// The raw input.
        input: String,
        /// The tenth digit as written.
        found: u8,
        /// The check digit the first nine digits require.
        expected: u8,
    },
}

/// Longest input echoed back in an error.
const ERROR_ECHO_LEN_MAX: usize = 32;

impl OrgNumber {
    /// The Luhn check digit for nine digits: weights 2,1,2,1,... from the
    /// left, digits of each product summed, then `(10 - sum % 10) % 10`.
    pub fn luhn_check_digit(first_nine: &[u8; 9]) -> u8 {
        let sum: u32 = first_nine
            .iter()
            .enumerate()
            .map(|(i, &d)| {
                let product = u32::from(d) * if i % 2 == 0 { 2 } else { 1 };
                product / 10 + product % 10
            })
            .sum();
        u8::try_from((10 - sum % 10) % 10).expect("a value below 10 fits in u8")
    }

    /// The organisationsnummer that completes nine digits (each 0..=9) with their check digit.
    pub fn complete(first_nine: [u8; 9]) -> Option<OrgNumber> {
        if first_nine.iter().any(|d| *d > 9) {
            return None;
        }
        let mut digits = [0u8; ORG_NUMBER_DIGITS];
        digits[..9].copy_from_slice(&first_nine);
        digits[9] = Self::luhn_check_digit(&first_nine);
        Some(OrgNumber(digits))
    }

    /// A valid organisationsnummer numbered `serial` (`556` followed by its six last decimal
    /// digits, and the check digit): distinct numbers for test data, demos and simulations.
    pub fn numbered(serial: u32) -> OrgNumber {
        let mut nine = [5, 5, 6, 0, 0, 0, 0, 0, 0];
        let mut n = serial;
        for d in nine[3..].iter_mut().rev() {
            *d = u8::try_from(n % 10).unwrap_or(0);
            n /= 10;
        }
        Self::complete(nine).unwrap_or(OrgNumber([5, 5, 6, 0, 3, 6, 0, 7, 9, 3]))
    }

    /// The ten digits without separator, e.g. "5560360793".
    pub fn digits(&self) -> String {
        self.0.iter().map(|d| char::from(b'0' + d)).collect()
    }
}

impl FromStr for OrgNumber {
    type Err = OrgNumberError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let format_error = || OrgNumberError::Format {
            input: input.chars().take(ERROR_ECHO_LEN_MAX).collect(),
        };
        let bytes = input.as_bytes();
        let digit_bytes: Vec<u8> = match bytes.len() {
            11 if bytes[6] == b'-' => bytes[..6].iter().chain(&bytes[7..]).copied().collect(),
            10 => bytes.to_vec(),
            _ => return Err(format_error()),
        };
        if !digit_bytes.iter().all(u8::is_ascii_digit) {
            return Err(format_error());
        }
        let mut digits = [0u8; ORG_NUMBER_DIGITS];
        for (slot, b) in digits.iter_mut().zip(&digit_bytes) {
            *slot = b - b'0';
        }
        let mut first_nine = [0u8; 9];
        first_nine.copy_from_slice(&digits[..9]);
        let expected = Self::luhn_check_digit(&first_nine);
        let found = digits[9];
        if found != expected {
            return Err(OrgNumberError::CheckDigit {
                input: input.to_owned(),
                found,
                expected,
            });
        }
        Ok(OrgNumber(digits))
    }
}

impl TryFrom<String> for OrgNumber {
    type Error = OrgNumberError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<OrgNumber> for String {
    fn from(value: OrgNumber) -> Self {
        value.to_string()
    }
}

impl fmt::Display for OrgNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.digits();
        write!(f, "{}-{}", &digits[..6], &digits[6..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_org_numbers_are_valid_and_distinct() {
        let a = OrgNumber::numbered(1);
        let b = OrgNumber::numbered(2);
        assert_ne!(a, b);
        assert_eq!(a.to_string().parse::<OrgNumber>(), Ok(a));
        assert_eq!(OrgNumber::numbered(36_079).to_string(), "556036-0793");
        assert_eq!(OrgNumber::complete([5, 5, 6, 0, 3, 6, 0, 7, 10]), None);
    }

    #[test]
    fn luhn_worked_by_hand() {
        // 5 5 6 0 3 6 0 7 9 with weights 2 1 2 1 2 1 2 1 2:
        // 10->1, 5, 12->3, 0, 6, 6, 0, 7, 18->9; sum 37; (10 - 7) % 10 = 3.
        assert_eq!(OrgNumber::luhn_check_digit(&[5, 5, 6, 0, 3, 6, 0, 7, 9]), 3);
        // 5 5 6 0 1 2 5 7 9: 1+5+3+0+2+2+1+7+9 = 30 -> 0.
        assert_eq!(OrgNumber::luhn_check_digit(&[5, 5, 6, 0, 1, 2, 5, 7, 9]), 0);
        // 2 0 2 1 0 0 5 4 8: 4+0+4+1+0+0+1+4+7 = 21 -> 9.
        assert_eq!(OrgNumber::luhn_check_digit(&[2, 0, 2, 1, 0, 0, 5, 4, 8]), 9);
    }

    #[test]
    fn accepts_real_numbers_with_and_without_dash() {
        for (input, shown) in [
            ("556036-0793", "556036-0793"),
            ("5560360793", "556036-0793"),
            ("556012-5790", "556012-5790"),
            ("202100-5489", "202100-5489"),
        ] {
            let org: OrgNumber = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(org.to_string(), shown);
        }
        let a: OrgNumber = "556036-0793".parse().expect("valid");
        let b: OrgNumber = "5560360793".parse().expect("valid");
        assert_eq!(a, b);
        assert_eq!(a.digits(), "5560360793");
    }

    #[test]
    fn wrong_check_digit_names_the_expected_digit() {
        let err = "556036-0794".parse::<OrgNumber>().unwrap_err();
        assert_eq!(
            err,
            OrgNumberError::CheckDigit {
                input: "556036-0794".into(),
                found: 4,
                expected: 3
            }
        );
        assert!(err.to_string().contains("expected 3"), "{err}");
        // A transposition of two neighbouring digits is caught.
        assert!(matches!(
            "556306-0793".parse::<OrgNumber>(),
            Err(OrgNumberError::CheckDigit { .. })
        ));
    }

    #[test]
    fn refuses_bad_formats() {
        for input in [
            "",
            "556036-079",
            "556036-07930",
            "55603-60793",
            "556036 0793",
            "556036–0793", // en dash
            "556036_0793",
            "55603607930",
            "556036079",
            "55603607a3",
            "16556036-0793",
            "+556036079",
            "５５６０３６０７９３",
        ] {
            assert!(
                matches!(
                    input.parse::<OrgNumber>(),
                    Err(OrgNumberError::Format { .. })
                ),
                "{input:?} gave {:?}",
                input.parse::<OrgNumber>()
            );
        }
    }

    #[test]
    fn format_error_does_not_echo_unbounded_input() {
        let long = "9".repeat(10_000);
        let message = long.parse::<OrgNumber>().unwrap_err().to_string();
        assert!(message.len() < 200, "{}", message.len());
    }

    #[test]
    fn serde_round_trip_as_dashed_string() {
        let org: OrgNumber = "5560360793".parse().expect("valid");
        let json = serde_json::to_string(&org).expect("serialise");
        assert_eq!(json, "\"556036-0793\"");
        let back: OrgNumber = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, org);
        assert!(serde_json::from_str::<OrgNumber>("\"556036-0794\"").is_err());
    }
}
