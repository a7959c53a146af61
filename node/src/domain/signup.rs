//! An idempotent sign-up (`POST /v1/businesses` with an `Idempotency-Key`): everything random a
//! sign-up makes (the business id, its API key, its locations' ids and QR tokens) is derived from
//! the client's key under a server secret, so a retry whose first answer was lost re-creates the
//! very same answer, while svea stores only what it stores for any sign-up (the key's hash).
//!
//! Two derivations, both HMAC-SHA256 under the secret (`privacy.device_key`, the cluster's one
//! secret shared by every node, here domain-separated so no other use of it meets these inputs):
//! - the business id from the idempotency key alone: a retry finds the business the first try
//!   made, whatever its body;
//! - the key material (API key, location ids, QR tokens) from the idempotency key and the
//!   request's fingerprint: the same key with another body derives another API key, whose hash
//!   then does not match the stored one, which is how a reused key is recognised without
//!   storing the request.
//!
//! Holding the idempotency key (with the request) therefore means holding the API key until it
//! is rotated, and only svea (which holds the secret) can make that step: the key is the
//! client's secret and must be long and random ([`SIGNUP_IDEMPOTENCY_KEY_LEN_MIN`]).

use hmac::{Hmac, Mac};
use rand::rngs::StdRng;
use rand::SeedableRng;
use sha2::{Digest, Sha256};

/// Shortest `Idempotency-Key` a sign-up accepts: 32 characters (a UUID's 36 fit; fewer could be
/// guessed, and a guessed key with a known request would re-derive the API key).
pub const SIGNUP_IDEMPOTENCY_KEY_LEN_MIN: usize = 32;

/// How long a sign-up's idempotency key replays its answer (as Stripe's keys): after that, the
/// same key is refused (409), since the business it names exists.
pub const SIGNUP_IDEMPOTENCY_WINDOW_S: i64 = 24 * 3600;

/// What a sign-up with an idempotency key derives its random parts from. `Debug` shows nothing.
pub struct SignupSeed {
    id: [u8; 32],
    material: [u8; 32],
}

impl std::fmt::Debug for SignupSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignupSeed(…)")
    }
}

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = HmacSha256::new_from_slice(secret).expect("hmac accepts keys of every length");
    for p in parts {
        // Length-prefixed, so no two part lists hash the same bytes.
        m.update(&(p.len() as u64).to_be_bytes());
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

impl SignupSeed {
    /// The seed of a sign-up with `idempotency_key` whose request has `fingerprint`
    /// ([`request_fingerprint`]), under `secret`.
    pub fn derive(secret: &[u8], idempotency_key: &str, fingerprint: &[u8; 32]) -> SignupSeed {
        SignupSeed {
            id: mac(secret, &[b"svea-signup-id-v1", idempotency_key.as_bytes()]),
            material: mac(secret, &[b"svea-signup-material-v1", idempotency_key.as_bytes(), fingerprint]),
        }
    }

    /// The generator of the business id (the idempotency key's alone).
    pub fn id_rng(&self) -> StdRng {
        StdRng::from_seed(self.id)
    }

    /// The generator of the API key, the locations' ids and QR tokens (key and request).
    pub fn material_rng(&self) -> StdRng {
        StdRng::from_seed(self.material)
    }
}

/// SHA-256 of a request's canonical form (the caller's choice of bytes, the same for the same
/// request).
pub fn request_fingerprint(canonical: &[u8]) -> [u8; 32] {
    Sha256::digest(canonical).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ApiKey, BusinessId};

    #[test]
    fn the_same_key_and_request_derive_the_same_business_and_key_and_another_request_another_key() {
        let fp = request_fingerprint(b"{\"name\":\"a\"}");
        let key = "0123456789abcdef0123456789abcdef";
        let derive = |secret: &[u8], k: &str, fp: &[u8; 32]| {
            let s = SignupSeed::derive(secret, k, fp);
            let id = BusinessId::generate(&mut s.id_rng());
            let api = ApiKey::generate(&id, &mut s.material_rng());
            (id, api.reveal().to_string())
        };
        let first = derive(b"secret", key, &fp);
        assert_eq!(first, derive(b"secret", key, &fp));
        let other_body = derive(b"secret", key, &request_fingerprint(b"{\"name\":\"b\"}"));
        assert_eq!(other_body.0, first.0, "the id follows the idempotency key alone");
        assert_ne!(other_body.1, first.1, "the API key follows the request too");
        assert_ne!(derive(b"other secret", key, &fp).0, first.0, "without the secret nothing is derived");
        assert_ne!(derive(b"secret", "0123456789abcdef0123456789abcdeF", &fp).0, first.0);
    }
}
