//! Where a peer is reached: an `ip:port` socket address or a `host:port` DNS name.
//!
//! Kubernetes gives a StatefulSet's pods stable DNS names (`svea-stockholm-0.svea.svea.svc.
//! cluster.local`) but not stable IP addresses, so a member's Raft address may be a name. The name
//! is what the membership stores; the transport resolves it each time it connects (never caching
//! the answer beyond one connection), so a pod that comes back with a new IP is found again.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Longest DNS name accepted (RFC 1035: 253 characters in text form).
pub const HOST_NAME_LEN_MAX: usize = 253;
/// Longest label of a DNS name (RFC 1035).
const HOST_LABEL_LEN_MAX: usize = 63;

/// A peer's address: `ip:port` (used as is) or `host:port` (resolved when connecting).
///
/// Serialized as its text; parsing validates: the host is an IP address or a DNS name of
/// letters, digits and hyphens in dot-separated labels, and the port is not 0.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum PeerAddr {
    /// A socket address: nothing to resolve.
    Ip(SocketAddr),
    /// A DNS name and a port; resolved at each connect.
    Name {
        /// The host name, lower case.
        host: String,
        /// The port.
        port: u16,
    },
}

impl PeerAddr {
    /// The socket address when this is one (no resolution needed).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match self {
            PeerAddr::Ip(addr) => Some(*addr),
            PeerAddr::Name { .. } => None,
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        match self {
            PeerAddr::Ip(addr) => addr.port(),
            PeerAddr::Name { port, .. } => *port,
        }
    }

    /// The host name, when this is a name.
    pub fn host_name(&self) -> Option<&str> {
        match self {
            PeerAddr::Ip(_) => None,
            PeerAddr::Name { host, .. } => Some(host),
        }
    }
}

/// Checks a DNS host name (RFC 1123 labels); the reason when it is not one.
fn check_host_name(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("the host is empty".to_owned());
    }
    if host.len() > HOST_NAME_LEN_MAX {
        return Err(format!("the host name is longer than {HOST_NAME_LEN_MAX} characters"));
    }
    // One trailing dot is the fully qualified form of the same name.
    for label in host.strip_suffix('.').unwrap_or(host).split('.') {
        let ok_chars = label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if label.is_empty() || label.len() > HOST_LABEL_LEN_MAX || !ok_chars || label.starts_with('-') || label.ends_with('-') {
            return Err(format!("{label:?} is not a host name label (1-{HOST_LABEL_LEN_MAX} letters, digits or inner hyphens)"));
        }
    }
    Ok(())
}

impl FromStr for PeerAddr {
    type Err = String;
    fn from_str(value: &str) -> Result<PeerAddr, String> {
        let value = value.trim();
        let wrong = |reason: String| format!("{value:?} is not an ip:port or host:port address like 10.0.0.1:7001 or svea-stockholm-0.svea:7001: {reason}");
        if let Ok(addr) = value.parse::<SocketAddr>() {
            return Ok(PeerAddr::Ip(addr));
        }
        let (host, port) = value.rsplit_once(':').ok_or_else(|| wrong("no port".to_owned()))?;
        let port: u16 = port.parse().map_err(|_| wrong(format!("port {port:?} is not a number up to 65535")))?;
        if port == 0 {
            return Err(wrong("port 0".to_owned()));
        }
        // An IP address with a port it could not parse (`[::1]`, `1.2.3.4.5`) is not a name either.
        if host.starts_with('[') || host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(wrong(format!("{host:?} is neither an ip address nor a host name")));
        }
        check_host_name(host).map_err(wrong)?;
        Ok(PeerAddr::Name { host: host.to_ascii_lowercase(), port })
    }
}

impl TryFrom<String> for PeerAddr {
    type Error = String;
    fn try_from(value: String) -> Result<PeerAddr, String> {
        value.parse()
    }
}

impl From<PeerAddr> for String {
    fn from(addr: PeerAddr) -> String {
        addr.to_string()
    }
}

impl From<SocketAddr> for PeerAddr {
    fn from(addr: SocketAddr) -> PeerAddr {
        PeerAddr::Ip(addr)
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerAddr::Ip(addr) => fmt::Display::fmt(addr, f),
            PeerAddr::Name { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_and_names_parse_and_print_back() {
        for text in ["10.0.0.1:7001", "[::1]:7001", "svea-stockholm-0.svea.svea.svc.cluster.local:7001", "localhost:1"] {
            assert_eq!(text.parse::<PeerAddr>().expect(text).to_string(), text);
        }
        assert_eq!("Svea-0.Example.:7001".parse::<PeerAddr>().expect("fqdn"), PeerAddr::Name { host: "svea-0.example.".into(), port: 7001 });
        assert!("10.0.0.1:7001".parse::<PeerAddr>().expect("ip").socket_addr().is_some());
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in ["", "svea", "svea:0", "svea:70000", "svea:", ":7001", "-svea:1", "svea-:1", "sv ea:1", "sv_ea:1", "a..b:1", "1.2.3.4.5:1", "[::1:1", "svea:7001/x"] {
            assert!(bad.parse::<PeerAddr>().is_err(), "{bad:?} was accepted");
        }
        let long = format!("{}:1", ["a"; 200].join("."));
        assert!(long.parse::<PeerAddr>().is_err(), "a name over {HOST_NAME_LEN_MAX} characters");
    }
}
