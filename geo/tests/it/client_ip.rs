//! `client_ip`: forwarding headers are believed only as far as trusted proxies vouch for them.

use std::net::IpAddr;

use svea_geo::{client_ip, IpNetwork, FORWARDED_HOPS_MAX};

use crate::net;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address is valid")
}

/// A load balancer subnet and one IPv6 proxy.
fn trusted() -> Vec<IpNetwork> {
    vec![net("10.0.0.0/8"), net("2001:db8:1::10/128")]
}

/// The client address for a request from `peer` with the given headers.
#[track_caller]
fn check(peer: &str, forwarded: Option<&str>, xff: Option<&str>, expected: &str) {
    assert_eq!(
        client_ip(ip(peer), forwarded, xff, &trusted()),
        ip(expected),
        "peer {peer}, Forwarded {forwarded:?}, X-Forwarded-For {xff:?}"
    );
}

#[test]
fn an_untrusted_peer_is_the_client_whatever_it_claims() {
    check("203.0.113.9", None, Some("1.178.93.1"), "203.0.113.9");
    check("203.0.113.9", Some("for=1.178.93.1"), None, "203.0.113.9");
    check(
        "2a02:aa1::5",
        None,
        Some("1.178.93.1, 10.0.0.1"),
        "2a02:aa1::5",
    );
    // Nothing is trusted: even a proxy's header is ignored.
    assert_eq!(
        client_ip(ip("10.0.0.1"), None, Some("1.178.93.1"), &[]),
        ip("10.0.0.1")
    );
}

#[test]
fn a_trusted_peer_passes_on_the_address_it_saw() {
    check("10.0.0.1", None, Some("1.178.93.1"), "1.178.93.1");
    check(
        "10.0.0.1",
        Some("for=1.178.93.1;proto=https"),
        None,
        "1.178.93.1",
    );
    check("10.0.0.1", None, None, "10.0.0.1");
    check("10.0.0.1", Some("  "), Some(""), "10.0.0.1");
    // A dual-stack listener reports IPv4 peers as mapped addresses.
    check("::ffff:10.0.0.1", None, Some("1.178.93.1"), "1.178.93.1");
    check("10.0.0.1", None, Some("::ffff:1.178.93.1"), "1.178.93.1");
}

#[test]
fn chains_are_walked_from_the_right_past_trusted_proxies_only() {
    // client, then two of our proxies.
    check(
        "10.0.0.3",
        None,
        Some("1.178.93.1, 10.0.0.2, 10.0.0.1"),
        "1.178.93.1",
    );
    // A client forging an earlier hop: the first untrusted address from the right wins.
    check(
        "10.0.0.3",
        None,
        Some("6.6.6.6, 1.178.93.1, 10.0.0.2"),
        "1.178.93.1",
    );
    // Garbage the client put on the left is never reached.
    check(
        "10.0.0.3",
        None,
        Some("not an address, 1.178.93.1"),
        "1.178.93.1",
    );
    // Every hop trusted: the leftmost is the client (an internal request).
    check("10.0.0.3", None, Some("10.9.9.9, 10.0.0.2"), "10.9.9.9");
    // Forwarded wins over X-Forwarded-For when both are present.
    check(
        "10.0.0.1",
        Some("for=2.66.78.1"),
        Some("1.178.93.1"),
        "2.66.78.1",
    );
    check(
        "10.0.0.1",
        Some("for=6.6.6.6, for=1.178.93.1;by=10.0.0.2, for=10.0.0.2"),
        None,
        "1.178.93.1",
    );
}

#[test]
fn ipv6_with_brackets_and_ports() {
    check(
        "10.0.0.1",
        Some(r#"for="[2a02:aa1::17]:4711""#),
        None,
        "2a02:aa1::17",
    );
    check(
        "10.0.0.1",
        Some(r#"For="[2a02:aa1::17]""#),
        None,
        "2a02:aa1::17",
    );
    check("10.0.0.1", Some("for=1.178.93.1:4711"), None, "1.178.93.1");
    check(
        "10.0.0.1",
        Some(r#"for="1.178.93.1:4711""#),
        None,
        "1.178.93.1",
    );
    check(
        "2001:db8:1::10",
        None,
        Some("[2a02:aa1::17]:443"),
        "2a02:aa1::17",
    );
    check("2001:db8:1::10", None, Some("2a02:aa1::17"), "2a02:aa1::17");
    check("10.0.0.1", None, Some("1.178.93.1:55000"), "1.178.93.1");
    // The trusted IPv6 proxy, named in the chain, is skipped like any other.
    check(
        "10.0.0.1",
        Some(r#"for="[2a02:aa1::17]:1";proto=https, for="[2001:db8:1::10]""#),
        None,
        "2a02:aa1::17",
    );
    // Quoted values may contain separators.
    check(
        "10.0.0.1",
        Some(r#"for=1.178.93.1;x="a,b;c""#),
        None,
        "1.178.93.1",
    );
}

#[test]
fn malformed_or_unknown_hops_fall_back_to_the_peer() {
    for (forwarded, xff) in [
        (Some("for=unknown"), None),
        (Some("for=_hidden"), None),
        (Some("for=\"[2a02:aa1::17]:4711"), None), // unterminated quote
        (Some("proto=https"), None),               // no `for`
        (Some("for=1.2.3.4;for=5.6.7.8"), None),   // two `for`
        (Some("for"), None),
        (Some("garbage"), None),
        (Some("for=1.178.93.1, for=999.1.1.1"), None),
        (None, Some("garbage")),
        (None, Some("1.178.93.1, ")),
        (None, Some("1.178.93.1, unknown")),
        (None, Some("[2a02:aa1::17")),
        (None, Some("1.178.93.1,,10.0.0.2")),
    ] {
        check("10.0.0.1", forwarded, xff, "10.0.0.1");
    }
}

#[test]
fn a_chain_longer_than_the_hop_limit_falls_back_to_the_peer() {
    let hops = |n: usize| {
        let mut chain = vec!["1.178.93.1".to_owned()];
        chain.extend((0..n).map(|i| format!("10.0.{}.{}", i / 256, i % 256)));
        chain.join(", ")
    };
    check(
        "10.0.0.1",
        None,
        Some(&hops(FORWARDED_HOPS_MAX - 1)),
        "1.178.93.1",
    );
    check(
        "10.0.0.1",
        None,
        Some(&hops(FORWARDED_HOPS_MAX)),
        "10.0.0.1",
    );
}
