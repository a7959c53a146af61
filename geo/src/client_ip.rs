//! The customer's address behind reverse proxies: `Forwarded` (RFC 7239) and `X-Forwarded-For`.
//!
//! Both headers are written by whoever sends the request, so they are believed only as far as a
//! chain of proxies we trust vouches for them: the header is read only when the TCP peer is a
//! trusted proxy, and walked from the right (the hop our proxy appended) past further trusted
//! proxies to the first address we do not trust. Anything the client wrote to the left of that
//! is ignored. A malformed or unknown hop on that walk gives up and returns the peer.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

use ipnetwork::IpNetwork;

/// Most hops walked in a forwarding header; a longer chain of trusted proxies falls back to the
/// peer. Real deployments have one or two.
pub const FORWARDED_HOPS_MAX: usize = 32;

/// Whether `peer` is one of `trusted_proxies` (IPv4-mapped IPv6 counts as IPv4): the one rule
/// for believing what a proxy says about a request (its client address here, its request id in
/// the node's HTTP layer).
pub fn is_trusted_proxy(peer: IpAddr, trusted_proxies: &[IpNetwork]) -> bool {
    let peer = peer.to_canonical();
    trusted_proxies.iter().any(|net| net.contains(peer))
}

/// The client's address for a request that arrived from `peer`, given its `Forwarded` and
/// `X-Forwarded-For` header values (several header lines joined with `,`, as HTTP allows).
///
/// - `peer` not in `trusted_proxies`: `peer`, whatever the headers say.
/// - Otherwise `Forwarded` if present, else `X-Forwarded-For`: the rightmost address that is not
///   a trusted proxy; when every hop is trusted, the leftmost hop.
/// - A malformed header, an `unknown` or obfuscated hop on the walk, or more than
///   [`FORWARDED_HOPS_MAX`] trusted hops: `peer`.
///
/// IPv4-mapped IPv6 addresses (a dual-stack listener's `::ffff:a.b.c.d`) count as IPv4,
/// in `peer`, in the headers and in the answer.
pub fn client_ip(
    peer: IpAddr,
    forwarded: Option<&str>,
    x_forwarded_for: Option<&str>,
    trusted_proxies: &[IpNetwork],
) -> IpAddr {
    let peer = peer.to_canonical();
    let trusted = |ip: IpAddr| is_trusted_proxy(ip, trusted_proxies);
    if !trusted(peer) {
        return peer;
    }
    let hops: Vec<Option<IpAddr>> = match (present(forwarded), present(x_forwarded_for)) {
        (Some(header), _) => match forwarded_hops(header) {
            Some(hops) => hops,
            None => return peer,
        },
        (None, Some(header)) => header.split(',').map(xff_hop).collect(),
        (None, None) => return peer,
    };
    let mut leftmost_trusted = peer;
    for (walked, hop) in hops.into_iter().rev().enumerate() {
        if walked == FORWARDED_HOPS_MAX {
            return peer;
        }
        let Some(ip) = hop else {
            return peer;
        };
        let ip = ip.to_canonical();
        if !trusted(ip) {
            return ip;
        }
        leftmost_trusted = ip;
    }
    leftmost_trusted
}

/// A header value that says something (not absent, not blank).
fn present(header: Option<&str>) -> Option<&str> {
    header.filter(|v| !v.trim().is_empty())
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`1.2.3.4:80`, `[::1]:80`)
/// or in brackets (`[::1]`).
fn xff_hop(entry: &str) -> Option<IpAddr> {
    node_address(entry.trim())
}

/// An address as proxies write it: bare, with a port, bracketed IPv6 with or without a port.
fn node_address(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    s.strip_prefix('[')?
        .strip_suffix(']')?
        .parse::<IpAddr>()
        .ok()
}

/// The `for=` node of each element of a `Forwarded` header, `None` for an element without a
/// usable one (`unknown`, `_obfuscated`, missing). `None` overall when the header is malformed.
fn forwarded_hops(header: &str) -> Option<Vec<Option<IpAddr>>> {
    split_outside_quotes(header, ',')?
        .into_iter()
        .map(forwarded_element)
        .collect()
}

/// One element (`for=192.0.2.60;proto=http;by=203.0.113.43`): `Some(node)` when well formed.
fn forwarded_element(element: &str) -> Option<Option<IpAddr>> {
    let mut node = None;
    for pair in split_outside_quotes(element, ';')? {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let (name, value) = pair.split_once('=')?;
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return None;
        }
        if name.eq_ignore_ascii_case("for") {
            if node.is_some() {
                return None; // two `for` in one element: malformed
            }
            node = Some(unquote(value.trim())?);
        }
    }
    // `unknown`, an obfuscated `_name` and an element without `for` all leave the hop unknown.
    Some(node.and_then(|n| node_address(&n)))
}

/// `s` split at `sep` where `sep` is not inside a quoted string; `None` on an unterminated quote.
fn split_outside_quotes(s: &str, sep: char) -> Option<Vec<&str>> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    if quoted {
        return None;
    }
    parts.push(&s[start..]);
    Some(parts)
}

/// A token as is, or a quoted string without its quotes and escapes; `None` when malformed.
fn unquote(value: &str) -> Option<Cow<'_, str>> {
    let Some(inner) = value.strip_prefix('"') else {
        return (!value.is_empty() && !value.contains('"')).then_some(Cow::Borrowed(value));
    };
    let inner = inner.strip_suffix('"')?;
    if !inner.contains('\\') {
        return Some(Cow::Borrowed(inner));
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' { chars.next()? } else { c });
    }
    Some(Cow::Owned(out))
}
