//! A customer's device as svea knows it: by a credential svea issued, kept only as a keyed hash.
//!
//! [`DeviceKey`] is the cluster's secret (`privacy.device_key`, the same on every node, so every
//! node verifies every token and computes the same hash). On a device's first scan svea issues
//! a [`DeviceToken`]: `svea_dt_` and 64 characters of unpadded base64url of 32 random bytes (the
//! device's [`DeviceId`], 256 bits from a CSPRNG) followed by a 16-byte tag, HMAC-SHA256 of the
//! random bytes under a key derived from the device key with its own context string. The token
//! is self-authenticating: [`DeviceKey::verify`] recomputes the tag and compares it in constant
//! time (`subtle`), so a made-up or altered token is refused without any lookup, and a [`DeviceId`]
//! exists only for a token svea issued (or for fresh randomness, which is what issuing is).
//!
//! What the replicated state keeps is [`DeviceHash`], HMAC-SHA256 of the id under the device key
//! with another context string: actor state, records and logs carry the hash, never the id or the
//! token. `Debug` of an id or a token prints nothing of them.
//!
//! Why a tag and not a lookup: verification costs one HMAC and no read barrier, so a flood of
//! forged tokens costs the cluster nothing. Why 128 bits of tag: a forgery has to guess it online,
//! 2^-128 a try. A token cannot be revoked on its own; erasing a device's data is what the
//! customer can ask for, and a new token is a new device (rewards per device are bounded by the
//! per-network limits besides).

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::ids::{base64url_no_pad, with_id_rng};
use super::IdError;

/// Hex characters of a [`DeviceHash`] (SHA-256 is 32 bytes).
pub const DEVICE_HASH_LEN: usize = 64;

/// What every device token starts with (people and secret scanners recognise it).
pub const DEVICE_TOKEN_PREFIX: &str = "svea_dt_";
/// Random bytes of a device (256 bits; the issue asks for at least 128).
pub const DEVICE_SECRET_BYTES: usize = 32;
/// Bytes of a token's tag: HMAC-SHA256 cut to 128 bits (NIST SP 800-107 allows cutting to any
/// length of at least 32 bits; 128 leaves a forger 2^-128 a try).
const DEVICE_TAG_BYTES: usize = 16;
/// Characters after the prefix: 48 bytes as unpadded base64url.
pub const DEVICE_TOKEN_BODY_LEN: usize = 64;
const _: () = assert!(DEVICE_TOKEN_BODY_LEN == ((DEVICE_SECRET_BYTES + DEVICE_TAG_BYTES) * 8).div_ceil(6));
/// Characters of a whole token.
pub const DEVICE_TOKEN_LEN: usize = DEVICE_TOKEN_PREFIX.len() + DEVICE_TOKEN_BODY_LEN;

/// Separates the device hash's use of the key from any other use it gets. (Hashes of the
/// client-chosen ids of earlier versions had `svea device id v1`: no new hash equals one.)
const DEVICE_HASH_CONTEXT: &[u8] = b"svea device credential v1\0";
/// Derives the token-tag key from the device key: a key of its own, so a tag is never a hash.
const DEVICE_TOKEN_KEY_CONTEXT: &[u8] = b"svea device token key v1\0";

/// Why a presented device token is refused. Both say only that the token is not one svea
/// issued: nothing about any device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DeviceTokenError {
    /// Not the shape of a token.
    #[error("not a svea device token: expected \"{DEVICE_TOKEN_PREFIX}\" and {DEVICE_TOKEN_BODY_LEN} characters of base64url")]
    Malformed,
    /// The shape of a token, but its tag is not svea's.
    #[error("device token was not issued by svea")]
    Forged,
}

/// A device: the 256 random bits of its credential. Built only by issuing (fresh randomness)
/// or by verifying a token svea issued; never parsed, printed or serialised, and hashed
/// ([`DeviceKey::hash`]) where it enters the node core.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceId([u8; DEVICE_SECRET_BYTES]);

impl DeviceId {
    /// A fresh device from 256 bits of `rng` (what issuing a credential draws).
    pub fn generate<R: RngCore + CryptoRng + ?Sized>(rng: &mut R) -> DeviceId {
        let mut bytes = [0u8; DEVICE_SECRET_BYTES];
        rng.fill_bytes(&mut bytes);
        DeviceId(bytes)
    }

    /// A fresh device from the operating system's RNG (or a simulation's seeded one): a device
    /// whose token nobody holds (tools that drive the node core without HTTP).
    pub fn random() -> DeviceId {
        with_id_rng(|rng| Self::generate(rng))
    }
}

impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceId(…)")
    }
}

/// A device's credential in full, as svea hands it out once (the API's `device_token`, the
/// page's HttpOnly cookie). Never stored, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceToken(String);

impl DeviceToken {
    /// The token as given to the device.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DeviceToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceToken({DEVICE_TOKEN_PREFIX}…)")
    }
}

/// The cluster's secret for device credentials and their hashes.
#[derive(Clone)]
pub struct DeviceKey {
    hash_key: Vec<u8>,
    token_key: [u8; 32],
}

impl DeviceKey {
    /// A key from the configured secret.
    pub fn new(secret: &str) -> DeviceKey {
        let mut mac = hmac_under(secret.as_bytes());
        mac.update(DEVICE_TOKEN_KEY_CONTEXT);
        DeviceKey { hash_key: secret.as_bytes().to_vec(), token_key: mac.finalize().into_bytes().into() }
    }

    /// The hash under which `device` is kept.
    pub fn hash(&self, device: &DeviceId) -> DeviceHash {
        let mut mac = hmac_under(&self.hash_key);
        mac.update(DEVICE_HASH_CONTEXT);
        mac.update(&device.0);
        let bytes = mac.finalize().into_bytes();
        let mut hex = String::with_capacity(DEVICE_HASH_LEN);
        for b in bytes {
            hex.push_str(&format!("{b:02x}"));
        }
        DeviceHash(hex)
    }

    /// A new device and its credential, from 256 bits of `rng`.
    pub fn issue<R: RngCore + CryptoRng + ?Sized>(&self, rng: &mut R) -> (DeviceToken, DeviceId) {
        let device = DeviceId::generate(rng);
        (self.token_for(&device), device)
    }

    /// A new device and its credential from the operating system's RNG (or, on a simulation's
    /// thread, its seeded generator).
    pub fn issue_random(&self) -> (DeviceToken, DeviceId) {
        with_id_rng(|rng| self.issue(rng))
    }

    /// The device `token` stands for, if svea issued it under this key.
    pub fn verify(&self, token: &str) -> Result<DeviceId, DeviceTokenError> {
        let body = token.strip_prefix(DEVICE_TOKEN_PREFIX).ok_or(DeviceTokenError::Malformed)?;
        if body.len() != DEVICE_TOKEN_BODY_LEN {
            return Err(DeviceTokenError::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| DeviceTokenError::Malformed)?;
        let (secret, tag) = bytes.split_at_checked(DEVICE_SECRET_BYTES).ok_or(DeviceTokenError::Malformed)?;
        let secret: [u8; DEVICE_SECRET_BYTES] = secret.try_into().map_err(|_| DeviceTokenError::Malformed)?;
        let device = DeviceId(secret);
        if bool::from(self.tag(&device)[..].ct_eq(tag)) {
            Ok(device)
        } else {
            Err(DeviceTokenError::Forged)
        }
    }

    fn tag(&self, device: &DeviceId) -> [u8; DEVICE_TAG_BYTES] {
        let mut mac = hmac_under(&self.token_key);
        mac.update(&device.0);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; DEVICE_TAG_BYTES];
        tag.copy_from_slice(&full[..DEVICE_TAG_BYTES]);
        tag
    }

    fn token_for(&self, device: &DeviceId) -> DeviceToken {
        let mut bytes = Vec::with_capacity(DEVICE_SECRET_BYTES + DEVICE_TAG_BYTES);
        bytes.extend_from_slice(&device.0);
        bytes.extend_from_slice(&self.tag(device));
        DeviceToken(format!("{DEVICE_TOKEN_PREFIX}{}", base64url_no_pad(&bytes)))
    }
}

fn hmac_under(key: &[u8]) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(key).expect("hmac accepts keys of every length")
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        f.write_str("DeviceKey(<redacted>)")
    }
}

/// A device id as stored: 64 lowercase hex characters of HMAC-SHA256 under the [`DeviceKey`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeviceHash(String);

impl DeviceHash {
    /// The hash as hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for DeviceHash {
    type Err = IdError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        if input.len() != DEVICE_HASH_LEN || !input.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(IdError::Malformed {
                kind: "device hash".into(),
                input: input.chars().take(DEVICE_HASH_LEN).collect(),
                expected: "64 lowercase hex characters".into(),
            });
        }
        Ok(DeviceHash(input.to_owned()))
    }
}

impl TryFrom<String> for DeviceHash {
    type Error = IdError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<DeviceHash> for String {
    fn from(value: DeviceHash) -> Self {
        value.0
    }
}

impl fmt::Display for DeviceHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    const SECRET: &str = "a-cluster-secret-of-at-least-32-chars";

    #[test]
    fn an_issued_token_verifies_to_its_device_and_looks_as_documented() {
        let key = DeviceKey::new(SECRET);
        let (token, device) = key.issue(&mut StdRng::seed_from_u64(1));
        let text = token.reveal();
        assert!(text.starts_with(DEVICE_TOKEN_PREFIX) && text.len() == DEVICE_TOKEN_LEN, "{text}");
        assert!(text[DEVICE_TOKEN_PREFIX.len()..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{text}");
        assert_eq!(key.verify(text), Ok(device.clone()));
        // Every node (the same configured secret) verifies it and hashes it the same way.
        let other_node = DeviceKey::new(SECRET);
        assert_eq!(other_node.verify(text).map(|d| other_node.hash(&d)), Ok(key.hash(&device)));
    }

    #[test]
    fn made_up_altered_and_foreign_tokens_are_refused() {
        let key = DeviceKey::new(SECRET);
        let (token, _) = key.issue(&mut StdRng::seed_from_u64(2));
        let text = token.reveal();
        // Every single-character change of the body, in the random part or the tag.
        for i in DEVICE_TOKEN_PREFIX.len()..text.len() {
            let mut altered = text.as_bytes().to_vec();
            altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(altered).expect("ascii");
            assert!(key.verify(&altered).is_err(), "position {i}: {altered}");
        }
        // Issued under another cluster's key.
        let (foreign, _) = DeviceKey::new("another-cluster-secret-of-32-chars!").issue(&mut StdRng::seed_from_u64(2));
        assert_eq!(key.verify(foreign.reveal()), Err(DeviceTokenError::Forged));
        // A well-formed token with a made-up tag.
        let forged = format!("{DEVICE_TOKEN_PREFIX}{}", "A".repeat(DEVICE_TOKEN_BODY_LEN));
        assert_eq!(key.verify(&forged), Err(DeviceTokenError::Forged));
        // Not tokens at all: the old client-chosen ids, wrong lengths, other alphabets.
        for bad in ["phone-16", "", DEVICE_TOKEN_PREFIX, &format!("{DEVICE_TOKEN_PREFIX}{}", "A".repeat(63)),
            &format!("{DEVICE_TOKEN_PREFIX}{}", "A".repeat(65)), &format!("{DEVICE_TOKEN_PREFIX}{}", "+".repeat(64)),
            &format!("svea_sk_{}", &text[DEVICE_TOKEN_PREFIX.len()..]), &format!("{DEVICE_TOKEN_PREFIX}{}", "é".repeat(32))] {
            assert_eq!(key.verify(bad), Err(DeviceTokenError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn tokens_are_distinct_and_carry_256_random_bits() {
        let key = DeviceKey::new(SECRET);
        let mut rng = StdRng::seed_from_u64(3);
        let tokens: std::collections::HashSet<String> = (0..1000).map(|_| key.issue(&mut rng).0.reveal().to_owned()).collect();
        assert_eq!(tokens.len(), 1000);
        let (a, da) = key.issue_random();
        let (b, db) = key.issue_random();
        assert_ne!(a, b);
        assert_ne!(key.hash(&da), key.hash(&db));
    }

    #[test]
    fn the_hash_is_keyed_stable_and_hides_the_device() {
        let key = DeviceKey::new(SECRET);
        let (token, device) = key.issue(&mut StdRng::seed_from_u64(4));
        let (_, other) = key.issue(&mut StdRng::seed_from_u64(5));
        let h = key.hash(&device);
        assert_eq!(h, key.hash(&device), "every node computes the same hash");
        assert_ne!(h, key.hash(&other));
        assert_ne!(h, DeviceKey::new("another-cluster-secret-of-32-chars!").hash(&device));
        assert_eq!(h.as_str().len(), DEVICE_HASH_LEN);
        assert!(!token.reveal().contains(h.as_str()) && !h.as_str().contains(&token.reveal()[DEVICE_TOKEN_PREFIX.len()..][..8]));
        assert_eq!(h.as_str().parse::<DeviceHash>().expect("round trip"), h);
    }

    #[test]
    fn the_hash_is_hmac_sha256() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").expect("any key");
        mac.update(b"what do ya want for nothing?");
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn only_hex_of_the_right_length_is_a_hash() {
        assert!("ab".parse::<DeviceHash>().is_err());
        assert!("G".repeat(DEVICE_HASH_LEN).parse::<DeviceHash>().is_err());
        assert!("A".repeat(DEVICE_HASH_LEN).parse::<DeviceHash>().is_err());
        assert!("a".repeat(DEVICE_HASH_LEN).parse::<DeviceHash>().is_ok());
    }

    #[test]
    fn no_secret_is_ever_printed() {
        let key = DeviceKey::new("super-secret-key-material-0123456789");
        assert!(!format!("{key:?}").contains("secret"));
        let (token, device) = key.issue(&mut StdRng::seed_from_u64(6));
        let body = &token.reveal()[DEVICE_TOKEN_PREFIX.len()..];
        assert!(!format!("{token:?}").contains(&body[..8]), "{token:?}");
        assert_eq!(format!("{device:?}"), "DeviceId(…)");
    }
}
