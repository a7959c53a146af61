//! Who a customer's cashback is paid to: what Swish's Payout API asks of the payee (the payee's
//! Swish number, `payeeAlias`, and personal identity number, `payeeSSN`). Personal data: it is
//! kept only sealed (AEAD under a key from config), decrypted only to build one payout
//! instruction, never logged (`Debug` prints no digit of it), erased with the customer's data.
//!
//! What Swish asks (Swish developer documentation, Payout API v1, "Payout object",
//! developer.swish.nu/api/payouts/v1, and the MSS user guide, "Payout request body"):
//! - `payeeAlias`: the payee's Swish number, "the mobile phone number of the person that receives
//!   the payout", digits only with the country code first and no leading zero or plus (Swedish
//!   mobile numbers: `46` followed by `7X` and seven digits, 11 digits in all);
//! - `payeeSSN`: the payee's personal identity number (personnummer), 12 digits `YYYYMMDDNNNN`;
//!   Swish checks that it belongs to the owner of the Swish number, so a wrong one fails the payout
//!   (we refuse what cannot be a personnummer before it gets that far).
//!
//! People write both in many ways; [`Payee::parse`] accepts the common ones and stores the form
//! Swish wants. The ledger stores only [`SealedPayee`] bytes.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

use super::device::DeviceHash;
use super::orgnr::OrgNumber;

/// A payee as Swish's Payout API needs it.
#[derive(Clone, PartialEq, Eq)]
pub struct Payee {
    /// `payeeAlias`: the Swish number (a Swedish mobile number, country code first, digits only).
    pub alias: String,
    /// `payeeSSN`: the personal identity number, 12 digits (YYYYMMDDNNNN).
    pub ssn: String,
}

impl fmt::Debug for Payee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Payee(<redacted>)")
    }
}

/// A payee sealed for storage: opaque bytes (nonce and ciphertext), replicated as they are.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SealedPayee(pub Vec<u8>);

impl fmt::Debug for SealedPayee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedPayee({} bytes)", self.0.len())
    }
}

/// Why a payee's details were refused. No variant carries the input: it is personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PayeeError {
    /// Not a Swedish mobile number (070, 072, 073, 076 or 079 and seven digits, in any common
    /// spelling).
    #[error("not a Swedish mobile number (write it like 070-123 45 67)")]
    SwishNumber,
    /// Not 10 or 12 digits in a personnummer's form (YYYYMMDD-NNNN or YYMMDD-NNNN).
    #[error("not a personnummer (write it like 19900101-1234)")]
    SsnFormat,
    /// The date part is not a date (samordningsnummer, day + 60, included), or in the future.
    #[error("the personnummer's date is not a valid birth date")]
    SsnDate,
    /// The last digit is not the Luhn check digit of the nine before it.
    #[error("the personnummer's check digit is wrong (a typo?)")]
    SsnCheckDigit,
}

impl PayeeError {
    /// The stable problem kind of this refusal.
    pub fn kind(&self) -> &'static str {
        match self {
            PayeeError::SwishNumber => "invalid-swish-number",
            PayeeError::SsnFormat | PayeeError::SsnDate | PayeeError::SsnCheckDigit => "invalid-personnummer",
        }
    }
}

/// Longest text accepted for either field before it is read at all: the longest common spelling
/// (`+46 (0)70 - 123 45 67`) is about 22 characters.
pub const PAYEE_FIELD_CHARS_MAX: usize = 40;

/// Digits of a Swedish mobile number with its country code (`46` + `7X` + seven digits).
const ALIAS_DIGITS: usize = 11;
/// The Swedish mobile prefixes after the leading zero (PTS numbering plan: 070, 072, 073, 076, 079).
const MOBILE_PREFIXES: [&str; 5] = ["70", "72", "73", "76", "79"];

impl Payee {
    /// Reads a Swish number and a personnummer as people write them; `today` decides the century
    /// of a 10-digit personnummer (`-`: under 100 years old, `+`: 100 or older) and refuses a
    /// birth date in the future.
    pub fn parse(swish_number: &str, personnummer: &str, today: NaiveDate) -> Result<Payee, PayeeError> {
        Ok(Payee { alias: parse_swish_number(swish_number)?, ssn: parse_personnummer(personnummer, today)? })
    }

    /// The Swish number as a customer may be shown it, with only its last two digits:
    /// `070-*** ** 67`.
    pub fn masked_alias(&self) -> String {
        let national = self.alias.strip_prefix("46").unwrap_or(&self.alias);
        let prefix: String = national.chars().take(2).collect();
        let last: String = national.chars().skip(national.len().saturating_sub(2)).collect();
        format!("0{prefix}-*** ** {last}")
    }

    /// The personnummer as a customer may be shown it: the birth date only, `19900101-****`.
    pub fn masked_ssn(&self) -> String {
        let date: String = self.ssn.chars().take(8).collect();
        format!("{date}-****")
    }
}

/// `46` + nine digits, from `070-123 45 67`, `0701234567`, `+46 70 123 45 67`, `+46 (0)70...`,
/// `0046 70...` or `46701234567`.
fn parse_swish_number(text: &str) -> Result<String, PayeeError> {
    if text.chars().count() > PAYEE_FIELD_CHARS_MAX {
        return Err(PayeeError::SwishNumber);
    }
    let text = text.trim();
    // Spaces, dashes, dots and brackets are how people group digits; nothing else is allowed.
    if !text.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')' | '+')) || text[1.min(text.len())..].contains('+') {
        return Err(PayeeError::SwishNumber);
    }
    let plus = text.starts_with('+');
    // `+46 (0)70`: the bracketed trunk zero is dropped before the digits are read.
    let text = text.replace("(0)", "");
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let national = if plus {
        digits.strip_prefix("46").ok_or(PayeeError::SwishNumber)?
    } else if let Some(rest) = digits.strip_prefix("0046") {
        rest
    } else if let Some(rest) = digits.strip_prefix('0') {
        rest
    } else {
        digits.strip_prefix("46").ok_or(PayeeError::SwishNumber)?
    };
    if national.len() != ALIAS_DIGITS - 2 || !MOBILE_PREFIXES.iter().any(|p| national.starts_with(p)) {
        return Err(PayeeError::SwishNumber);
    }
    Ok(format!("46{national}"))
}

/// Twelve digits `YYYYMMDDNNNN` from `YYYYMMDD-NNNN`, `YYYYMMDDNNNN`, `YYMMDD-NNNN`, `YYMMDDNNNN`
/// or `YYMMDD+NNNN`.
fn parse_personnummer(text: &str, today: NaiveDate) -> Result<String, PayeeError> {
    if text.chars().count() > PAYEE_FIELD_CHARS_MAX {
        return Err(PayeeError::SsnFormat);
    }
    let text: String = text.trim().chars().filter(|c| *c != ' ').collect();
    let (digits, centenarian) = match text.len() {
        13 | 11 if matches!(text.as_bytes()[text.len() - 5], b'-' | b'+') => {
            let at = text.len() - 5;
            (format!("{}{}", &text[..at], &text[at + 1..]), text.as_bytes()[at] == b'+')
        }
        12 | 10 => (text.clone(), false),
        _ => return Err(PayeeError::SsnFormat),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !(digits.len() == 10 || digits.len() == 12) {
        return Err(PayeeError::SsnFormat);
    }
    let d: Vec<u32> = digits.bytes().map(|b| u32::from(b - b'0')).collect();
    let (year, rest) = if d.len() == 12 {
        (d[0] * 1000 + d[1] * 100 + d[2] * 10 + d[3], &d[4..])
    } else {
        // A 10-digit number is under 100 years old unless written with `+` (Skatteverket).
        let yy = d[0] * 10 + d[1];
        let this_year = u32::try_from(today.year()).map_err(|_| PayeeError::SsnDate)?;
        let mut year = this_year - (this_year % 100) + yy;
        if year > this_year {
            year -= 100;
        }
        if centenarian {
            year = year.checked_sub(100).ok_or(PayeeError::SsnDate)?;
        }
        (year, &d[2..])
    };
    let (month, day) = (rest[0] * 10 + rest[1], rest[2] * 10 + rest[3]);
    // A samordningsnummer (coordination number) adds 60 to the day.
    let day = if day > 60 { day - 60 } else { day };
    let year_i32 = i32::try_from(year).map_err(|_| PayeeError::SsnDate)?;
    let born = NaiveDate::from_ymd_opt(year_i32, month, day).ok_or(PayeeError::SsnDate)?;
    if born > today || year < 1850 {
        return Err(PayeeError::SsnDate);
    }
    // The check digit covers YYMMDDNNN, the same Luhn as an organisationsnummer.
    let nine: Vec<u8> = d[d.len() - 10..d.len() - 1].iter().map(|&x| x as u8).collect();
    let nine: [u8; 9] = nine.try_into().expect("ten digits leave nine before the check digit");
    if OrgNumber::luhn_check_digit(&nine) != d[d.len() - 1] as u8 {
        return Err(PayeeError::SsnCheckDigit);
    }
    Ok(format!("{year:04}{}", rest.iter().map(|x| char::from(b'0' + *x as u8)).collect::<String>()))
}

/// Length of a payee key (`payouts.payee_key`), in bytes.
pub const PAYEE_KEY_LEN: usize = 32;
/// The first byte of every sealed payee: the format, so a later one can be told apart.
const SEAL_VERSION: u8 = 1;
/// Context bound into every seal besides the device: a sealed payee is no other kind of secret.
const SEAL_CONTEXT: &[u8] = b"svea payee v1\0";

/// Why a sealed payee could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The key in config is not 64 hexadecimal characters.
    #[error("payouts.payee_key must be 64 hexadecimal characters (32 bytes)")]
    BadKey,
    /// Wrong key, wrong device, or bytes changed: the seal does not open.
    #[error("sealed payee does not open under this key for this device")]
    Open,
    /// The system random source failed (no nonce, nothing sealed).
    #[error("no randomness for a nonce")]
    Random,
}

/// The key payees are sealed under: ChaCha20-Poly1305 (ring), 32 bytes from config.
pub struct PayeeKey(LessSafeKey);

impl fmt::Debug for PayeeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PayeeKey(<redacted>)")
    }
}

impl PayeeKey {
    /// The key from 64 hexadecimal characters.
    pub fn from_hex(text: &str) -> Result<PayeeKey, SealError> {
        let text = text.trim();
        if text.len() != PAYEE_KEY_LEN * 2 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SealError::BadKey);
        }
        let bytes: Vec<u8> = (0..PAYEE_KEY_LEN)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| SealError::BadKey))
            .collect::<Result<_, _>>()?;
        PayeeKey::from_bytes(&bytes)
    }

    /// The key from 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<PayeeKey, SealError> {
        let key = UnboundKey::new(&CHACHA20_POLY1305, bytes).map_err(|_| SealError::BadKey)?;
        Ok(PayeeKey(LessSafeKey::new(key)))
    }

    /// Seals `payee` for the customer whose device hash is `device`: a fresh random nonce, stored
    /// in front of the ciphertext. The device hash is associated data, so the bytes open only for
    /// the same device: a sealed payee copied into another wallet does not open there.
    pub fn seal(&self, payee: &Payee, device: &DeviceHash) -> Result<SealedPayee, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut body = format!("{}:{}", payee.alias, payee.ssn).into_bytes();
        self.0
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad(device)), &mut body)
            .map_err(|_| SealError::Random)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + body.len());
        out.push(SEAL_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        Ok(SealedPayee(out))
    }

    /// Opens what [`PayeeKey::seal`] sealed for `device`.
    pub fn open(&self, sealed: &SealedPayee, device: &DeviceHash) -> Result<Payee, SealError> {
        let bytes = &sealed.0;
        if bytes.len() < 1 + NONCE_LEN || bytes[0] != SEAL_VERSION {
            return Err(SealError::Open);
        }
        let nonce: [u8; NONCE_LEN] = bytes[1..1 + NONCE_LEN].try_into().map_err(|_| SealError::Open)?;
        let mut body = bytes[1 + NONCE_LEN..].to_vec();
        let plain = self
            .0
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad(device)), &mut body)
            .map_err(|_| SealError::Open)?;
        let text = std::str::from_utf8(plain).map_err(|_| SealError::Open)?;
        let (alias, ssn) = text.split_once(':').ok_or(SealError::Open)?;
        Ok(Payee { alias: alias.to_owned(), ssn: ssn.to_owned() })
    }
}

fn aad(device: &DeviceHash) -> Vec<u8> {
    [SEAL_CONTEXT, device.as_str().as_bytes()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()
    }

    fn device(c: char) -> DeviceHash {
        c.to_string().repeat(64).parse().unwrap()
    }

    #[test]
    fn swish_numbers_in_common_spellings_are_stored_country_code_first() {
        for text in ["070-123 45 67", "0701234567", "+46 70 123 45 67", "+46 (0)70-123 45 67", "0046701234567", "46701234567", " 070.123.45.67 "] {
            assert_eq!(parse_swish_number(text), Ok("46701234567".to_owned()), "{text}");
        }
        for text in ["", "070-123 45 6", "070-123 45 678", "08-123 456 78", "+47 70 123 45 67", "071 234 56 78", "070+1234567", "070-123 45 6x", &"0".repeat(41)] {
            assert_eq!(parse_swish_number(text), Err(PayeeError::SwishNumber), "{text}");
        }
    }

    #[test]
    fn personnummer_forms_dates_and_check_digits() {
        // 19900101-0017: check digit worked by hand (9,0,0,1,0,1,0,0,1 -> Luhn 7).
        for text in ["19900101-0017", "199001010017", "900101-0017", "9001010017", " 900101 - 0017 "] {
            assert_eq!(parse_personnummer(text, today()), Ok("199001010017".to_owned()), "{text}");
        }
        // `+`: a hundred years older.
        assert_eq!(parse_personnummer("900101+0017", today()), Ok("189001010017".to_owned()));
        // A 10-digit number is never in the future: 251231 is 2025, 271231 is 1927.
        assert!(parse_personnummer("271231-0008", today()).unwrap_or_default().starts_with("1927"));
        assert_eq!(parse_personnummer("19900101-0018", today()), Err(PayeeError::SsnCheckDigit));
        assert_eq!(parse_personnummer("19900231-0017", today()), Err(PayeeError::SsnDate));
        assert_eq!(parse_personnummer("20271231-0005", today()), Err(PayeeError::SsnDate));
        assert_eq!(parse_personnummer("1990-01-01-0017", today()), Err(PayeeError::SsnFormat));
        assert_eq!(parse_personnummer("19900101-001", today()), Err(PayeeError::SsnFormat));
        assert_eq!(parse_personnummer("1990010100a7", today()), Err(PayeeError::SsnFormat));
        // A samordningsnummer: day + 60.
        let coordination = "19900161-0014";
        assert_eq!(parse_personnummer(coordination, today()), Ok("199001610014".to_owned()));
    }

    #[test]
    fn masks_show_only_what_identifies_nothing() {
        let p = Payee::parse("070-123 45 67", "19900101-0017", today()).unwrap();
        assert_eq!(p.masked_alias(), "070-*** ** 67");
        assert_eq!(p.masked_ssn(), "19900101-****");
        assert_eq!(format!("{p:?}"), "Payee(<redacted>)");
    }

    #[test]
    fn a_seal_opens_only_with_its_key_and_its_device_and_never_repeats() {
        let key = PayeeKey::from_hex(&"ab".repeat(32)).unwrap();
        let other_key = PayeeKey::from_hex(&"cd".repeat(32)).unwrap();
        let p = Payee::parse("0701234567", "199001010017", today()).unwrap();
        let sealed = key.seal(&p, &device('a')).unwrap();
        assert_eq!(key.open(&sealed, &device('a')), Ok(p.clone()));
        // Another wallet, another key, or one changed byte: it does not open.
        assert_eq!(key.open(&sealed, &device('b')), Err(SealError::Open));
        assert_eq!(other_key.open(&sealed, &device('a')), Err(SealError::Open));
        let mut flipped = sealed.clone();
        let last = flipped.0.len() - 1;
        flipped.0[last] ^= 1;
        assert_eq!(key.open(&flipped, &device('a')), Err(SealError::Open));
        assert_eq!(key.open(&SealedPayee(vec![1, 2, 3]), &device('a')), Err(SealError::Open));
        // A fresh nonce each time, and no digit of the number in the bytes.
        let again = key.seal(&p, &device('a')).unwrap();
        assert_ne!(sealed, again);
        assert!(!sealed.0.windows(4).any(|w| w == b"1234"));
        assert_eq!(PayeeKey::from_hex("abc").unwrap_err(), SealError::BadKey);
        assert_eq!(PayeeKey::from_hex(&"zz".repeat(32)).unwrap_err(), SealError::BadKey);
    }
}
