//! Typed identifiers.
//!
//! Generated identifiers (`BusinessId`, `SessionId`, `LocationId`,
//! `QrToken`) take their randomness from a caller-supplied cryptographic RNG,
//! so the deterministic parts of the system (and tests) can pass a seeded one;
//! `random()` is the convenience for everyone else and reads the OS RNG.
//! Identifiers supplied by clients (`TransactionId`) are only validated; a
//! customer's device is not among them: svea issues its credential
//! (`device.rs`). Every identifier is serialised as a plain string and
//! checked again on the way in.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};

/// Longest part of a rejected input echoed back in an error.
const ERROR_ECHO_LEN_MAX: usize = 64;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum IdError {
    /// The input is empty.
    #[error("{kind} is empty")]
    Empty {
        /// Which identifier, e.g. "session id".
        kind: Cow<'static, str>,
    },
    /// The input is longer than the identifier allows.
    #[error("{kind} is {len} characters long, at most {max} allowed")]
    TooLong {
        /// Which identifier.
        kind: Cow<'static, str>,
        /// Length of the input in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The input has the wrong shape or alphabet.
    #[error("{kind} {input:?} is malformed: expected {expected}")]
    Malformed {
        /// Which identifier.
        kind: Cow<'static, str>,
        /// The input, cut to a bounded length.
        input: String,
        /// What a valid value looks like.
        expected: Cow<'static, str>,
    },
}

impl IdError {
    fn malformed(kind: &'static str, input: &str, expected: &'static str) -> IdError {
        IdError::Malformed {
            kind: kind.into(),
            input: input.chars().take(ERROR_ECHO_LEN_MAX).collect(),
            expected: expected.into(),
        }
    }
}

thread_local! {
    /// Set only by a deterministic simulation for its own thread.
    static SEEDED_ID_RNG: std::cell::RefCell<Option<rand::rngs::StdRng>> = const { std::cell::RefCell::new(None) };
}

/// Makes every `random()` identifier generated on this thread come from a generator seeded with
/// `seed` (a deterministic simulation replays the same ids); `None` returns to the OS RNG.
/// `StdRng` is a cryptographic generator, so ids stay unguessable to anyone without the seed.
pub fn seed_thread_ids(seed: Option<u64>) {
    use rand::SeedableRng;
    SEEDED_ID_RNG.with(|r| *r.borrow_mut() = seed.map(rand::rngs::StdRng::seed_from_u64));
}

pub(crate) fn with_id_rng<T>(f: impl FnOnce(&mut dyn CryptoRngCore) -> T) -> T {
    SEEDED_ID_RNG.with(|r| match r.borrow_mut().as_mut() {
        Some(rng) => f(rng),
        None => f(&mut rand::rngs::OsRng),
    })
}

/// An object-safe cryptographic generator.
pub(crate) trait CryptoRngCore: RngCore + CryptoRng {}
impl<T: RngCore + CryptoRng> CryptoRngCore for T {}

/// Bytes of randomness in a prefixed hex identifier (128 bits).
const HEX_ID_BYTES: usize = 16;
/// Hex digits in a prefixed hex identifier.
const HEX_ID_DIGITS: usize = HEX_ID_BYTES * 2;

fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Checks "`prefix` followed by exactly 32 lowercase hex digits". Upper case
/// hex is refused so that every identifier has exactly one spelling (they are
/// compared and hashed as strings).
fn parse_prefixed_hex(
    input: &str,
    prefix: &'static str,
    kind: &'static str,
    expected: &'static str,
) -> Result<(), IdError> {
    if input.is_empty() {
        return Err(IdError::Empty { kind: kind.into() });
    }
    let ok = input.strip_prefix(prefix).is_some_and(|hex| {
        hex.len() == HEX_ID_DIGITS && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    });
    if ok {
        Ok(())
    } else {
        Err(IdError::malformed(kind, input, expected))
    }
}

/// Implements the traits every string-backed identifier shares.
macro_rules! string_id_common {
    ($name:ident) => {
        impl $name {
            /// The identifier as written.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                value.parse()
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// Defines a "prefix + 128 random bits as lowercase hex" identifier.
macro_rules! prefixed_hex_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The prefix every value starts with.
            pub const PREFIX: &'static str = $prefix;

            /// A fresh identifier from 128 bits of `rng`.
            pub fn generate<R: RngCore + CryptoRng + ?Sized>(rng: &mut R) -> Self {
                let mut bytes = [0u8; HEX_ID_BYTES];
                rng.fill_bytes(&mut bytes);
                $name(format!("{}{}", $prefix, lower_hex(&bytes)))
            }

            /// A fresh identifier from the operating system's RNG (or, on a simulation's
            /// thread, from its seeded generator: see [`seed_thread_ids`]).
            pub fn random() -> Self {
                with_id_rng(|rng| Self::generate(rng))
            }

            /// The same identifier with its first hex digit, its *home digit*, set to `home`
            /// (taken mod 16): the Raft group its records live in (`actors::groups`). Leaves
            /// 124 random bits.
            pub fn homed(self, home: u8) -> Self {
                let mut s = self.0;
                let at = $prefix.len();
                let digit = char::from(b"0123456789abcdef"[usize::from(home & 0x0f)]);
                s.replace_range(at..at + 1, digit.encode_utf8(&mut [0; 4]));
                $name(s)
            }

            /// The home digit (the first hex digit; see [`Self::homed`]).
            pub fn home(&self) -> u8 {
                self.0.as_bytes().get($prefix.len()).and_then(|b| char::from(*b).to_digit(16)).map_or(0, |d| d as u8)
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(input: &str) -> Result<Self, Self::Err> {
                parse_prefixed_hex(
                    input,
                    $prefix,
                    $kind,
                    concat!("\"", $prefix, "\" followed by 32 lowercase hex digits"),
                )?;
                Ok($name(input.to_owned()))
            }
        }

        string_id_common!($name);
    };
}

prefixed_hex_id!(
    /// A business (the customer of svea), e.g. "b_0123456789abcdef0123456789abcdef".
    BusinessId,
    "b_",
    "business id"
);
prefixed_hex_id!(
    /// One feedback session, opened when a customer scans a QR code.
    SessionId,
    "s_",
    "session id"
);
prefixed_hex_id!(
    /// A shop, restaurant or till location of a business.
    LocationId,
    "l_",
    "location id"
);

/// Bytes of randomness in a QR token (256 bits).
const QR_TOKEN_BYTES: usize = 32;
/// Characters of a QR token: ceil(256 / 6).
pub const QR_TOKEN_LEN: usize = 43;
const _: () = assert!(QR_TOKEN_LEN == (QR_TOKEN_BYTES * 8).div_ceil(6));

/// Encodes as unpadded base64url (RFC 4648 §5, no `=`), with the `base64` crate.
pub(crate) fn base64url_no_pad(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The secret in a till's QR code: 256 random bits as 43 characters of
/// unpadded base64url.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct QrToken(String);

impl QrToken {
    /// A fresh token from 256 bits of `rng`.
    pub fn generate<R: RngCore + CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; QR_TOKEN_BYTES];
        rng.fill_bytes(&mut bytes);
        QrToken(base64url_no_pad(&bytes))
    }

    /// A fresh token from the operating system's RNG (or, on a simulation's thread, from its
    /// seeded generator: see [`seed_thread_ids`]).
    pub fn random() -> Self {
        with_id_rng(|rng| Self::generate(rng))
    }
}

impl FromStr for QrToken {
    type Err = IdError;

    /// Accepts exactly the strings `generate` can produce: 43 characters of
    /// the base64url alphabet whose last character carries no stray bits
    /// (43 characters hold 258 bits, the last 2 must be zero), so each token
    /// has one spelling.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        const KIND: &str = "qr token";
        const EXPECTED: &str = "43 characters of base64url (A-Z a-z 0-9 - _) without padding";
        if input.is_empty() {
            return Err(IdError::Empty { kind: KIND.into() });
        }
        let bytes = input.as_bytes();
        if bytes.len() != QR_TOKEN_LEN {
            return Err(IdError::malformed(KIND, input, EXPECTED));
        }
        // The decoder refuses characters outside the alphabet and stray bits in the last one.
        match URL_SAFE_NO_PAD.decode(bytes) {
            Ok(decoded) if decoded.len() == QR_TOKEN_BYTES => Ok(QrToken(input.to_owned())),
            _ => Err(IdError::malformed(KIND, input, EXPECTED)),
        }
    }
}

string_id_common!(QrToken);

/// Longest accepted transaction id, in characters.
pub const TRANSACTION_ID_LEN_MAX: usize = 64;

/// A till's own receipt or transaction number: 1..=64 printable ASCII
/// characters, no spaces.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TransactionId(String);

impl FromStr for TransactionId {
    type Err = IdError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        const KIND: &str = "transaction id";
        validate_client_id(
            input,
            KIND,
            TRANSACTION_ID_LEN_MAX,
            |c| c.is_ascii_graphic(),
            "printable ascii characters without spaces",
        )?;
        Ok(TransactionId(input.to_owned()))
    }
}

string_id_common!(TransactionId);

fn validate_client_id(
    input: &str,
    kind: &'static str,
    len_max: usize,
    allowed: impl Fn(char) -> bool,
    expected: &'static str,
) -> Result<(), IdError> {
    if input.is_empty() {
        return Err(IdError::Empty { kind: kind.into() });
    }
    // Count at most one past the limit: the input may be huge.
    let len = input.chars().take(len_max + 1).count();
    if len > len_max {
        return Err(IdError::TooLong {
            kind: kind.into(),
            len: input.chars().count(),
            max: len_max,
        });
    }
    if !input.chars().all(allowed) {
        return Err(IdError::malformed(kind, input, expected));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn generated_hex_ids_have_prefix_and_32_hex_digits_and_parse_back() {
        let mut rng = StdRng::seed_from_u64(7);
        let b = BusinessId::generate(&mut rng);
        let s = SessionId::generate(&mut rng);
        let l = LocationId::generate(&mut rng);
        for (id, prefix) in [(b.as_str(), "b_"), (s.as_str(), "s_"), (l.as_str(), "l_")] {
            assert!(id.starts_with(prefix), "{id}");
            assert_eq!(id.len(), 2 + 32, "{id}");
            assert!(id[2..]
                .bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        }
        assert_eq!(b.as_str().parse::<BusinessId>(), Ok(b.clone()));
        assert_eq!(s.as_str().parse::<SessionId>(), Ok(s.clone()));
        assert_eq!(l.as_str().parse::<LocationId>(), Ok(l.clone()));
    }

    #[test]
    fn generation_is_seeded_and_unique() {
        let a = SessionId::generate(&mut StdRng::seed_from_u64(1));
        let b = SessionId::generate(&mut StdRng::seed_from_u64(1));
        assert_eq!(a, b, "same seed, same id");
        let many: HashSet<SessionId> = (0..1000).map(|_| SessionId::random()).collect();
        assert_eq!(many.len(), 1000);
    }

    #[test]
    fn hex_ids_refuse_wrong_prefix_length_case_and_alphabet() {
        let hex = "0123456789abcdef0123456789abcdef";
        assert!(format!("b_{hex}").parse::<BusinessId>().is_ok());
        for bad in [
            format!("s_{hex}"),
            format!("B_{hex}"),
            format!("b-{hex}"),
            hex.to_owned(),
            format!("b_{}", &hex[1..]),
            format!("b_{hex}0"),
            format!("b_{}", hex.to_uppercase()),
            format!("b_{}g", &hex[1..]),
            format!(" b_{hex}"),
            format!("b_{hex}\n"),
        ] {
            assert!(
                matches!(bad.parse::<BusinessId>(), Err(IdError::Malformed { .. })),
                "{bad:?}"
            );
        }
        assert_eq!(
            "".parse::<SessionId>(),
            Err(IdError::Empty { kind: "session id".into() })
        );
        // The wrong kind of id is refused and the error says which kind was expected.
        let err = format!("b_{hex}")
            .parse::<LocationId>()
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("location id \"b_"), "{err}");
        assert!(err.contains("\"l_\""), "{err}");
    }

    #[test]
    fn base64url_encoder_matches_rfc4648_vectors() {
        // RFC 4648 §10 test vectors, with padding removed.
        assert_eq!(base64url_no_pad(b""), "");
        assert_eq!(base64url_no_pad(b"f"), "Zg");
        assert_eq!(base64url_no_pad(b"fo"), "Zm8");
        assert_eq!(base64url_no_pad(b"foo"), "Zm9v");
        assert_eq!(base64url_no_pad(b"foob"), "Zm9vYg");
        assert_eq!(base64url_no_pad(b"fooba"), "Zm9vYmE");
        assert_eq!(base64url_no_pad(b"foobar"), "Zm9vYmFy");
        // The URL-safe characters, where standard base64 has '+' and '/'.
        assert_eq!(base64url_no_pad(&[0xfb, 0xff]), "-_8");
        assert_eq!(
            base64url_no_pad(&[0xff; 32]),
            format!("{}8", "_".repeat(42))
        );
        assert_eq!(base64url_no_pad(&[0; 32]), "A".repeat(43));
    }

    #[test]
    fn qr_tokens_are_43_base64url_chars_and_parse_back() {
        let mut rng = StdRng::seed_from_u64(42);
        for _ in 0..200 {
            let token = QrToken::generate(&mut rng);
            assert_eq!(token.as_str().len(), QR_TOKEN_LEN);
            assert!(token
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            assert_eq!(token.as_str().parse::<QrToken>(), Ok(token.clone()));
        }
        assert_ne!(QrToken::random(), QrToken::random());
    }

    #[test]
    fn qr_token_refuses_wrong_length_alphabet_padding_and_stray_bits() {
        let good = "A".repeat(43);
        assert!(good.parse::<QrToken>().is_ok());
        for bad in [
            "A".repeat(42),
            "A".repeat(44),
            format!("{}=", "A".repeat(42)),
            format!("{}+", "A".repeat(42)),
            format!("{}/", "A".repeat(42)),
            format!("{}B", "A".repeat(42)), // 'B' = 1: a stray low bit
            format!("{}å", "A".repeat(41)), // 43 bytes, not 43 base64 chars
        ] {
            assert!(
                matches!(bad.parse::<QrToken>(), Err(IdError::Malformed { .. })),
                "{bad:?}"
            );
        }
        assert!(matches!("".parse::<QrToken>(), Err(IdError::Empty { .. })));
    }

    #[test]
    fn transaction_id_accepts_printable_ascii_without_spaces_up_to_64() {
        for good in ["1", "R-2024/11/03#0042", "~!@$%^&*()", &"9".repeat(64)] {
            assert!(good.parse::<TransactionId>().is_ok(), "{good:?}");
        }
        assert!(matches!(
            "".parse::<TransactionId>(),
            Err(IdError::Empty { .. })
        ));
        assert!(matches!(
            "9".repeat(65).parse::<TransactionId>(),
            Err(IdError::TooLong {
                len: 65,
                max: 64,
                ..
            })
        ));
        for bad in ["a b", "a\tb", "kvitto-ö", "a\u{7f}", "\n"] {
            assert!(
                matches!(bad.parse::<TransactionId>(), Err(IdError::Malformed { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn error_echo_is_bounded() {
        let huge = "ö".repeat(100_000);
        let message = huge.parse::<TransactionId>().unwrap_err().to_string();
        assert!(message.len() < 300, "{}", message.len());
        let message = huge.parse::<BusinessId>().unwrap_err().to_string();
        assert!(message.len() < 400, "{}", message.len());
    }

    #[test]
    fn serde_is_a_string_and_validates_on_the_way_in() {
        let id = BusinessId::generate(&mut StdRng::seed_from_u64(3));
        let json = serde_json::to_string(&id).expect("serialise");
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(
            serde_json::from_str::<BusinessId>(&json).expect("deserialise"),
            id
        );
        assert!(serde_json::from_str::<BusinessId>("\"b_nothex\"").is_err());
        assert!(serde_json::from_str::<SessionId>(&json).is_err());
        assert!(serde_json::from_str::<QrToken>("\"short\"").is_err());
        assert!(serde_json::from_str::<TransactionId>("\"\"").is_err());
    }
}
