//! How a business signs in with its e-mail: its contact address ([`Email`]), the single-use
//! links svea mails it ([`LinkToken`]: the verification link after sign-up, sign-in links) and
//! the browser session a followed link opens ([`WebSession`], carried in a signed cookie).
//!
//! A link token is `svea_ml_<business id>_<256-bit secret>` and a session id
//! `svea_ws_<business id>_<256-bit secret>`, like API keys (`apikey.rs`): the business id says
//! which business actor to ask, and the replicated store keeps only the SHA-256 of the whole
//! text ([`TokenHash`], a record key), so any node can check one and a copy of the store signs
//! nobody in. The session cookie adds an HMAC-SHA256 tag under a key derived from the cluster's
//! secret (`privacy.device_key`), so a forged or altered cookie is refused before any lookup.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::ids::{base64url_no_pad, with_id_rng};
use super::BusinessId;

/// Longest e-mail address accepted (RFC 5321's path limit, 256 with the brackets).
pub const EMAIL_LEN_MAX: usize = 254;
/// Bytes of randomness in a link's or a session's secret.
const SECRET_BYTES: usize = 32;
/// Characters of such a secret in base64url.
const SECRET_LEN: usize = 43;
const _: () = assert!(SECRET_LEN == (SECRET_BYTES * 8).div_ceil(6));
/// Bytes of the cookie's HMAC tag kept (128 bits).
const TAG_BYTES: usize = 16;
/// Context of the session cookie's key, derived from the cluster secret.
const COOKIE_KEY_CONTEXT: &[u8] = b"svea web session cookie v1";

/// Why an input is not what it claims to be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigninError {
    /// The e-mail address is not one.
    #[error("e-mail address is not valid: {0}")]
    Email(&'static str),
    /// Not a link token or session id of svea's.
    #[error("not a svea {0}")]
    Malformed(&'static str),
}

/// A business's contact e-mail: trimmed, at most [`EMAIL_LEN_MAX`] bytes, one `@`, a local part
/// and a domain with a dot, no spaces or control characters; the domain lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the store keys its address records by: SHA-256 of the lowercased address, hex (an
    /// address is not written into a key in clear).
    pub fn key(&self) -> String {
        hex(&Sha256::digest(self.0.to_lowercase().as_bytes()))
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Email {
    type Err = SigninError;

    fn from_str(input: &str) -> Result<Email, SigninError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(SigninError::Email("it is empty"));
        }
        if s.len() > EMAIL_LEN_MAX {
            return Err(SigninError::Email("it is longer than 254 characters"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ',' | ';' | '\\' | '(' | ')' | '[' | ']')) {
            return Err(SigninError::Email("it contains spaces or characters an address cannot have"));
        }
        let Some((local, domain)) = s.rsplit_once('@') else { return Err(SigninError::Email("it has no @")) };
        if local.is_empty() || local.contains('@') || local.len() > 64 {
            return Err(SigninError::Email("the part before @ is missing or too long"));
        }
        let labels_ok = domain.split('.').all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-') && l.chars().all(|c| c.is_alphanumeric() || c == '-'));
        if !domain.contains('.') || !labels_ok {
            return Err(SigninError::Email("the domain after @ is not valid"));
        }
        Ok(Email(format!("{local}@{}", domain.to_lowercase())))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a link token or session id: the record key under which it is stored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Hex, for a record key.
    pub fn hex(&self) -> String {
        hex(&self.0)
    }

    /// Whether two hashes are equal, in constant time.
    pub fn same_as(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(…)")
    }
}

/// A `<prefix><business id>_<secret>` secret: what link tokens and session ids share.
#[derive(Clone, PartialEq, Eq)]
struct Secret {
    business: BusinessId,
    text: String,
}

impl Secret {
    fn generate<R: RngCore + CryptoRng + ?Sized>(prefix: &str, business: &BusinessId, rng: &mut R) -> Secret {
        let mut bytes = [0u8; SECRET_BYTES];
        rng.fill_bytes(&mut bytes);
        Secret { business: business.clone(), text: format!("{prefix}{business}_{}", base64url_no_pad(&bytes)) }
    }

    fn parse(prefix: &str, input: &str, what: &'static str) -> Result<Secret, SigninError> {
        let bad = || SigninError::Malformed(what);
        let rest = input.strip_prefix(prefix).ok_or_else(bad)?;
        let id_len = BusinessId::PREFIX.len() + 32;
        if rest.len() != id_len + 1 + SECRET_LEN || !rest.is_char_boundary(id_len) || rest.as_bytes()[id_len] != b'_' {
            return Err(bad());
        }
        let business: BusinessId = rest[..id_len].parse().map_err(|_| bad())?;
        match URL_SAFE_NO_PAD.decode(&rest[id_len + 1..]) {
            Ok(secret) if secret.len() == SECRET_BYTES => Ok(Secret { business, text: input.to_owned() }),
            _ => Err(bad()),
        }
    }

    fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.text.as_bytes()).into())
    }
}

/// What a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkPurpose {
    /// The first mail after sign-up: confirms the address and the organisation number claim.
    Verify,
    /// A sign-in link asked for at `/business` (it confirms the address too).
    SignIn,
}

/// Prefix of a link token.
pub const LINK_PREFIX: &str = "svea_ml_";
/// Prefix of a session id.
pub const SESSION_PREFIX: &str = "svea_ws_";

/// A single-use link's token, mailed once; only its [`TokenHash`] is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkToken(Secret);

impl LinkToken {
    /// A fresh token for `business` from the operating system's RNG.
    pub fn random(business: &BusinessId) -> LinkToken {
        with_id_rng(|rng| LinkToken(Secret::generate(LINK_PREFIX, business, rng)))
    }

    /// The business whose link it is.
    pub fn business(&self) -> &BusinessId {
        &self.0.business
    }

    /// The token as mailed.
    pub fn reveal(&self) -> &str {
        &self.0.text
    }

    /// What is stored.
    pub fn hash(&self) -> TokenHash {
        self.0.hash()
    }
}

impl fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LinkToken({LINK_PREFIX}{}_…)", self.0.business)
    }
}

impl FromStr for LinkToken {
    type Err = SigninError;
    fn from_str(input: &str) -> Result<LinkToken, SigninError> {
        Secret::parse(LINK_PREFIX, input, "link").map(LinkToken)
    }
}

/// A browser's session: its id is in the cookie (signed), its hash in the store.
#[derive(Clone, PartialEq, Eq)]
pub struct WebSession(Secret);

impl WebSession {
    /// A fresh session of `business`.
    pub fn random(business: &BusinessId) -> WebSession {
        with_id_rng(|rng| WebSession(Secret::generate(SESSION_PREFIX, business, rng)))
    }

    /// The business signed in.
    pub fn business(&self) -> &BusinessId {
        &self.0.business
    }

    /// What is stored.
    pub fn hash(&self) -> TokenHash {
        self.0.hash()
    }

    /// The cookie's value: the id and its tag, `<id>.<tag>` (tag: HMAC-SHA256 under the cookie
    /// key, 128 bits, base64url).
    pub fn cookie_value(&self, key: &CookieKey) -> String {
        format!("{}.{}", self.0.text, base64url_no_pad(&key.tag(self.0.text.as_bytes())))
    }

    /// The session a cookie names, if its tag is this cluster's (constant-time) and it parses.
    pub fn from_cookie(value: &str, key: &CookieKey) -> Result<WebSession, SigninError> {
        let bad = || SigninError::Malformed("session cookie");
        let (id, tag) = value.rsplit_once('.').ok_or_else(bad)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| bad())?;
        let want = key.tag(id.as_bytes());
        if tag.len() != TAG_BYTES || !bool::from(tag.as_slice().ct_eq(&want)) {
            return Err(bad());
        }
        Secret::parse(SESSION_PREFIX, id, "session cookie").map(WebSession)
    }
}

impl fmt::Debug for WebSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebSession({SESSION_PREFIX}{}_…)", self.0.business)
    }
}

/// The key session cookies are signed with, derived from the cluster's secret (the same on
/// every node, so any node checks a cookie another issued).
#[derive(Clone)]
pub struct CookieKey([u8; 32]);

impl CookieKey {
    /// The key under `secret` (`privacy.device_key`'s bytes).
    pub fn derive(secret: &[u8]) -> CookieKey {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("hmac accepts keys of every length");
        mac.update(COOKIE_KEY_CONTEXT);
        CookieKey(mac.finalize().into_bytes().into())
    }

    fn tag(&self, data: &[u8]) -> [u8; TAG_BYTES] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("hmac accepts keys of every length");
        mac.update(data);
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; TAG_BYTES];
        out.copy_from_slice(&full[..TAG_BYTES]);
        out
    }
}

impl fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CookieKey(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked() {
        assert_eq!("  Anna@Kafe.SE ".parse::<Email>().unwrap().as_str(), "Anna@kafe.se");
        for bad in ["", "anna", "anna@", "@kafe.se", "anna@kafe", "an na@kafe.se", "anna@kafe..se", "a@b@kafe.se", "anna@-kafe.se", "<a@kafe.se>", "a\n@kafe.se"] {
            assert!(bad.parse::<Email>().is_err(), "{bad:?}");
        }
        assert!(format!("{}@kafe.se", "a".repeat(250)).parse::<Email>().is_err());
    }

    #[test]
    fn a_link_parses_back_with_its_business_and_hash() {
        let b = BusinessId::random();
        let link = LinkToken::random(&b);
        let parsed: LinkToken = link.reveal().parse().unwrap();
        assert_eq!(parsed.business(), &b);
        assert!(parsed.hash().same_as(&link.hash()));
        assert!(!LinkToken::random(&b).hash().same_as(&link.hash()));
        assert!(link.reveal()[..link.reveal().len() - 1].parse::<LinkToken>().is_err());
        assert!(link.reveal().replacen(LINK_PREFIX, SESSION_PREFIX, 1).parse::<LinkToken>().is_err());
    }

    #[test]
    fn a_cookie_verifies_only_unaltered_and_under_its_key() {
        let key = CookieKey::derive(b"cluster secret one");
        let s = WebSession::random(&BusinessId::random());
        let v = s.cookie_value(&key);
        assert!(WebSession::from_cookie(&v, &key).unwrap().hash().same_as(&s.hash()));
        assert!(WebSession::from_cookie(&v, &CookieKey::derive(b"another cluster")).is_err());
        // Another session's id under this one's tag, and a flipped character anywhere.
        let other = WebSession::random(s.business());
        let (_, tag) = v.rsplit_once('.').unwrap();
        assert!(WebSession::from_cookie(&format!("{}.{tag}", other.0.text), &key).is_err());
        for i in 0..v.len() {
            let mut b = v.clone().into_bytes();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(b).unwrap();
            if altered != v {
                assert!(WebSession::from_cookie(&altered, &key).is_err(), "altered at {i}");
            }
        }
    }
}
