//! Who a customer's cashback is paid to: what Swish's Payout API asks of the payee (the payee's
//! Swish number, `payeeAlias`, and personal identity number, `payeeSSN`). Personal data: it is
//! kept only sealed (AEAD under a key from config), decrypted only to build one payout
//! instruction, never logged (`Debug` prints no digit of it), erased with the customer's data.
//!
//! Validation and sealing are completed in `domain/payee.rs` by the Swish work (issue 21); the
//! ledger stores only [`SealedPayee`] bytes.

use std::fmt;

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
