//! Customers' device ids as svea keeps them: only as a keyed hash. [`DeviceKey`] is the cluster's
//! secret (`privacy.device_key`, the same on every node, so every node computes the same hash);
//! [`DeviceHash`] is HMAC-SHA256 of the device id under it. A raw device id is hashed where it
//! enters the node and goes no further: actor state, records and logs carry the hash.
//!
//! Keyed rather than plain: device ids are short and guessable (serial numbers, app-generated
//! ids), so a plain hash could be reversed by trying candidates; without the key it cannot.

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{DeviceId, IdError};

/// Hex characters of a [`DeviceHash`] (SHA-256 is 32 bytes).
pub const DEVICE_HASH_LEN: usize = 64;

/// Separates this use of the key from any other use it might get.
const DEVICE_HASH_CONTEXT: &[u8] = b"svea device id v1\0";

/// The cluster's secret for hashing device ids.
#[derive(Clone)]
pub struct DeviceKey(Vec<u8>);

impl DeviceKey {
    /// A key from the configured secret.
    pub fn new(secret: &str) -> DeviceKey {
        DeviceKey(secret.as_bytes().to_vec())
    }

    /// The hash under which `device` is kept.
    pub fn hash(&self, device: &DeviceId) -> DeviceHash {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("hmac accepts keys of every length");
        mac.update(DEVICE_HASH_CONTEXT);
        mac.update(device.as_str().as_bytes());
        let bytes = mac.finalize().into_bytes();
        let mut hex = String::with_capacity(DEVICE_HASH_LEN);
        for b in bytes {
            hex.push_str(&format!("{b:02x}"));
        }
        DeviceHash(hex)
    }
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
    use super::*;

    fn device(s: &str) -> DeviceId {
        s.parse().expect("valid device id")
    }

    #[test]
    fn the_hash_is_keyed_stable_and_hides_the_id() {
        let key = DeviceKey::new("a-cluster-secret-of-at-least-32-chars");
        let h = key.hash(&device("phone-1"));
        assert_eq!(h, key.hash(&device("phone-1")), "every node computes the same hash");
        assert_ne!(h, key.hash(&device("phone-2")));
        assert_ne!(h, DeviceKey::new("another-cluster-secret-of-32-chars!").hash(&device("phone-1")));
        assert_eq!(h.as_str().len(), DEVICE_HASH_LEN);
        assert!(!h.as_str().contains("phone"));
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
    fn the_key_is_never_printed() {
        assert!(!format!("{:?}", DeviceKey::new("super-secret-key-material-0123456789")).contains("secret"));
    }
}
