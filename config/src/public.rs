//! `[public]`: what the whole cluster is called from outside. `base_url` (e.g.
//! `https://feedback.example.se`) is the one address every QR code, poster and link carries;
//! any node behind it serves a customer or sends them on to the right region (GeoIP routing
//! and the redirect between regions use each node's own `node.public_url`, which stays).
//! Empty: each business's printed codes carry its home region's first node's `public_url`, as
//! before. Raw as written, typed, and the check between them, in one place.

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Longest `base_url`: a customer URL (`<base_url>/q/<43-character token>`) must stay a small
/// QR code that a phone reads from across a counter.
pub const PUBLIC_BASE_URL_LEN_MAX: usize = 100;

/// `[public]` as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawPublic {
    /// The cluster's one public address: `https://host[:port][/path]` (`http://` only for a
    /// loopback host: the demo and tests); empty for none.
    pub base_url: String,
}

/// `[public]`, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicConfig {
    /// The cluster's public address without a trailing `/`, if one is set.
    pub base_url: Option<String>,
}

/// Whether `host` (without port) is a loopback name or address.
fn loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost") || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The host of `authority` (`host[:port]`, `[v6]:port`).
fn host_of(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority.find(']').map_or(authority, |end| &authority[..=end]);
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

impl RawPublic {
    /// Checks `base_url`: an absolute `https` URL (or `http` on a loopback host) with a host,
    /// no query, fragment, credentials or spaces, at most [`PUBLIC_BASE_URL_LEN_MAX`] bytes.
    pub fn validate(&self) -> Result<PublicConfig, Error> {
        let raw = self.base_url.trim();
        if raw.is_empty() {
            return Ok(PublicConfig { base_url: None });
        }
        let invalid = |reason: String| Error::Invalid { key: "public.base_url".to_owned(), reason };
        if raw.len() > PUBLIC_BASE_URL_LEN_MAX {
            return Err(invalid(format!("{} bytes is more than {PUBLIC_BASE_URL_LEN_MAX}", raw.len())));
        }
        let (https, rest) = match (raw.strip_prefix("https://"), raw.strip_prefix("http://")) {
            (Some(rest), _) => (true, rest),
            (None, Some(rest)) => (false, rest),
            (None, None) => return Err(invalid(format!("{raw:?} must start with https://"))),
        };
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) || raw.contains(['?', '#', '@', '\\']) {
            return Err(invalid(format!("{raw:?} may not contain spaces, a query, a fragment or credentials")));
        }
        let authority = rest.split('/').next().unwrap_or_default();
        let host = host_of(authority);
        if host.is_empty() {
            return Err(invalid(format!("{raw:?} names no host")));
        }
        if !https && !loopback(host) {
            return Err(invalid(format!("{raw:?} must use https:// (http:// only for a loopback host)")));
        }
        Ok(PublicConfig { base_url: Some(raw.trim_end_matches('/').to_owned()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str) -> Result<Option<String>, Error> {
        RawPublic { base_url: url.to_owned() }.validate().map(|c| c.base_url)
    }

    #[test]
    fn https_urls_and_loopback_http_are_accepted() {
        assert_eq!(check("").expect("empty"), None);
        assert_eq!(check("https://feedback.example.se/").expect("https").as_deref(), Some("https://feedback.example.se"));
        assert_eq!(check("https://feedback.example.se:8443/svea").expect("path").as_deref(), Some("https://feedback.example.se:8443/svea"));
        assert_eq!(check("http://127.0.0.1:28081").expect("loopback").as_deref(), Some("http://127.0.0.1:28081"));
        assert_eq!(check("http://localhost:8080").expect("localhost").as_deref(), Some("http://localhost:8080"));
        assert_eq!(check("http://[::1]:8080").expect("v6 loopback").as_deref(), Some("http://[::1]:8080"));
    }

    #[test]
    fn anything_else_is_refused_naming_the_key() {
        for bad in [
            "http://feedback.example.se",
            "ftp://feedback.example.se",
            "feedback.example.se",
            "https://",
            "https:///q",
            "https://a.se/?x=1",
            "https://a.se/#top",
            "https://user:pw@a.se",
            "https://a .se",
            "http://10.0.0.1",
        ] {
            let e = check(bad).expect_err(bad);
            assert!(e.to_string().contains("public.base_url"), "{bad}: {e}");
        }
        let long = format!("https://{}.se", "a".repeat(PUBLIC_BASE_URL_LEN_MAX));
        assert!(check(&long).is_err());
    }
}
