//! A business's secret API key, and the only form of it svea keeps: its SHA-256 hash.
//!
//! A key is `svea_sk_<business id>_<secret>`: the business id says whose key it is (so a key
//! presented for another business's id is recognised without any lookup, and is answered like a
//! business that does not exist), and the secret is 256 random bits as 43 characters of
//! unpadded base64url. The key is shown once, when the business is created or the key rotated;
//! the replicated state holds only [`KeyHash`]. A fast hash is the right one here: the secret has
//! 256 bits of entropy, so there is nothing to brute-force (the reason password hashes are slow
//! does not apply; GitHub and Stripe store their tokens' hashes the same way). Hashes are compared
//! in constant time (`subtle`).

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::ids::{base64url_no_pad, with_id_rng};
use super::BusinessId;

/// What every key starts with (secret scanners and people recognise it).
pub const API_KEY_PREFIX: &str = "svea_sk_";
/// Bytes of randomness in a key's secret (256 bits; the issue asks for at least 128).
const SECRET_BYTES: usize = 32;
/// Characters of the secret: ceil(256 / 6).
const SECRET_LEN: usize = 43;
const _: () = assert!(SECRET_LEN == (SECRET_BYTES * 8).div_ceil(6));

/// A business's API key, in full. Never stored, never logged: `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    business: BusinessId,
    text: String,
}

/// Why a presented key is not a key at all (as opposed to a wrong one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a svea API key: expected \"{API_KEY_PREFIX}<business id>_<43 characters of base64url>\"")]
pub struct MalformedKey;

impl ApiKey {
    /// A fresh key for `business` from 256 bits of `rng`.
    pub fn generate<R: RngCore + CryptoRng + ?Sized>(business: &BusinessId, rng: &mut R) -> ApiKey {
        let mut bytes = [0u8; SECRET_BYTES];
        rng.fill_bytes(&mut bytes);
        ApiKey { business: business.clone(), text: format!("{API_KEY_PREFIX}{business}_{}", base64url_no_pad(&bytes)) }
    }

    /// A fresh key from the operating system's RNG (or a simulation's seeded one).
    pub fn random(business: &BusinessId) -> ApiKey {
        with_id_rng(|rng| Self::generate(business, rng))
    }

    /// The business the key belongs to (as the key says; the hash decides whether it is valid).
    pub fn business(&self) -> &BusinessId {
        &self.business
    }

    /// The key as given to its owner, once.
    pub fn reveal(&self) -> &str {
        &self.text
    }

    /// The form that is stored.
    pub fn hash(&self) -> KeyHash {
        KeyHash(Sha256::digest(self.text.as_bytes()).into())
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({API_KEY_PREFIX}{}_…)", self.business)
    }
}

impl FromStr for ApiKey {
    type Err = MalformedKey;

    fn from_str(input: &str) -> Result<ApiKey, MalformedKey> {
        let rest = input.strip_prefix(API_KEY_PREFIX).ok_or(MalformedKey)?;
        // The business id has a fixed length, and the secret's alphabet includes '_', so the
        // key splits by position, not by separator.
        let id_len = BusinessId::PREFIX.len() + 32;
        if rest.len() != id_len + 1 + SECRET_LEN || !rest.is_char_boundary(id_len) || rest.as_bytes()[id_len] != b'_' {
            return Err(MalformedKey);
        }
        let business: BusinessId = rest[..id_len].parse().map_err(|_| MalformedKey)?;
        match URL_SAFE_NO_PAD.decode(&rest[id_len + 1..]) {
            Ok(secret) if secret.len() == SECRET_BYTES => Ok(ApiKey { business, text: input.to_owned() }),
            _ => Err(MalformedKey),
        }
    }
}

/// SHA-256 of a business's API key: what the business's replicated state keeps.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    /// Whether `key` hashes to this, in time independent of where they differ.
    pub fn matches(&self, key: &ApiKey) -> bool {
        self.same_as(&key.hash())
    }

    /// Whether two hashes are equal, in constant time.
    pub fn same_as(&self, other: &KeyHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHash(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_parses_back_and_matches_only_its_own_hash() {
        let b = BusinessId::random();
        let key = ApiKey::random(&b);
        let parsed: ApiKey = key.reveal().parse().expect("a generated key parses");
        assert_eq!(parsed.business(), &b);
        assert!(key.hash().matches(&parsed));
        let other = ApiKey::random(&b);
        assert!(!key.hash().matches(&other), "two keys of one business differ");
        assert!(!format!("{key:?}").contains(&key.reveal()[API_KEY_PREFIX.len() + 35..]), "Debug shows no secret");
    }

    #[test]
    fn malformed_keys_are_refused() {
        let b = BusinessId::random();
        let good = ApiKey::random(&b).reveal().to_string();
        for bad in [
            String::new(),
            "Bearer x".into(),
            good[..good.len() - 1].to_string(),
            format!("{good}A"),
            good.replacen("svea_sk_", "svea_pk_", 1),
            good.replacen("b_", "s_", 1),
            format!("{}!{}", &good[..good.len() - 1], ""),
            format!("{}é", &good[..good.len() - 2]),
        ] {
            assert_eq!(bad.parse::<ApiKey>(), Err(MalformedKey), "{bad:?}");
        }
    }
}
