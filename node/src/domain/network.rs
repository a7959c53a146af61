//! A customer's client network as svea keeps it: only as a keyed hash of its prefix.
//!
//! The reward limit per network (`abuse.rewarded_sessions_per_network_day`) counts rewards per
//! IPv4 /24 or IPv6 /48 of the client address (what `http::client_ip` gives: the TCP peer, or a
//! trusted proxy's word). A /24 is what one household, office or small ISP customer holds, a /48
//! what one IPv6 site is assigned, so fresh addresses from one line land in one network.
//!
//! [`NetworkKey`] is HMAC-SHA256 under the same cluster secret as device ids
//! (`privacy.device_key`) with its own context, so a network hash never equals a device hash and
//! neither can be reversed by trying the (few) prefixes without the key. A raw address never
//! passes `NodeHandle`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::IdError;

/// Hex characters of a [`NetworkHash`] (SHA-256 is 32 bytes).
pub const NETWORK_HASH_LEN: usize = 64;

/// Bytes of an IPv4 address that name its network (/24).
pub const IPV4_NETWORK_BYTES: usize = 3;

/// Bytes of an IPv6 address that name its network (/48).
pub const IPV6_NETWORK_BYTES: usize = 6;

/// Separates this use of `privacy.device_key` from hashing device ids.
const NETWORK_HASH_CONTEXT: &[u8] = b"svea client network v1\0";

/// The cluster's secret for hashing client networks (`privacy.device_key`).
#[derive(Clone)]
pub struct NetworkKey(Vec<u8>);

impl NetworkKey {
    /// A key from the configured secret.
    pub fn new(secret: &str) -> NetworkKey {
        NetworkKey(secret.as_bytes().to_vec())
    }

    /// The hash under which the network of `ip` is kept: its /24 (IPv4, also an IPv4 address
    /// mapped into IPv6) or /48 (IPv6), tagged with the family so the two never collide.
    pub fn hash(&self, ip: IpAddr) -> NetworkHash {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("hmac accepts keys of every length");
        mac.update(NETWORK_HASH_CONTEXT);
        match ip.to_canonical() {
            IpAddr::V4(v4) => {
                mac.update(b"4");
                mac.update(&v4.octets()[..IPV4_NETWORK_BYTES]);
            }
            IpAddr::V6(v6) => {
                mac.update(b"6");
                mac.update(&v6.octets()[..IPV6_NETWORK_BYTES]);
            }
        }
        let mut hex = String::with_capacity(NETWORK_HASH_LEN);
        for b in mac.finalize().into_bytes() {
            hex.push_str(&format!("{b:02x}"));
        }
        NetworkHash(hex)
    }
}

impl fmt::Debug for NetworkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        f.write_str("NetworkKey(<redacted>)")
    }
}

/// A client network as stored: 64 lowercase hex characters of HMAC-SHA256 under the [`NetworkKey`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NetworkHash(String);

impl NetworkHash {
    /// The hash as hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for NetworkHash {
    type Err = IdError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        if input.len() != NETWORK_HASH_LEN || !input.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(IdError::Malformed {
                kind: "network hash".into(),
                input: input.chars().take(NETWORK_HASH_LEN).collect(),
                expected: "64 lowercase hex characters".into(),
            });
        }
        Ok(NetworkHash(input.to_owned()))
    }
}

impl TryFrom<String> for NetworkHash {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<NetworkHash> for String {
    fn from(h: NetworkHash) -> String {
        h.0
    }
}

impl fmt::Display for NetworkHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn addresses_of_one_slash_24_or_slash_48_share_a_network() {
        let k = NetworkKey::new("a-secret-key-of-some-length-0123456789");
        assert_eq!(k.hash(ip("198.51.100.7")), k.hash(ip("198.51.100.250")));
        assert_ne!(k.hash(ip("198.51.100.7")), k.hash(ip("198.51.101.7")));
        assert_eq!(k.hash(ip("2001:db8:1234:1::1")), k.hash(ip("2001:db8:1234:ffff::2")));
        assert_ne!(k.hash(ip("2001:db8:1234::1")), k.hash(ip("2001:db8:1235::1")));
        // An IPv4 address mapped into IPv6 (a dual-stack socket) is its IPv4 network.
        assert_eq!(k.hash(ip("::ffff:198.51.100.9")), k.hash(ip("198.51.100.7")));
        // The family is part of the hash: 0.0.0.0/24 and ::/48 differ.
        assert_ne!(k.hash(ip("0.0.0.1")), k.hash(ip("::1")));
    }

    #[test]
    fn the_hash_depends_on_the_key_and_parses_back() {
        let a = NetworkKey::new("a-secret-key-of-some-length-0123456789").hash(ip("10.1.2.3"));
        let b = NetworkKey::new("another-secret-key-of-some-length-0123").hash(ip("10.1.2.3"));
        assert_ne!(a, b);
        assert_eq!(a.as_str().parse::<NetworkHash>().expect("hash"), a);
        assert!("10.1.2".parse::<NetworkHash>().is_err());
        assert!(!format!("{:?}", NetworkKey::new("secret-secret-secret")).contains("secret-secret"));
    }
}
