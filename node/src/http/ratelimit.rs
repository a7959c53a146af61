//! A token bucket per client address in front of every public endpoint (`[abuse]`
//! `requests_per_second`, `burst`), with `governor`'s keyed GCRA limiter. Over the limit a request
//! gets `429` `rate-limited` with `Retry-After` (whole seconds until the bucket lets the next one
//! through) and never reaches the node: a flood of random QR tokens or session ids costs no actor
//! call and no Raft read barrier beyond the bucket.
//!
//! The client address is the one GeoIP routing uses ([`super::client_ip`]: the socket peer, or
//! what a trusted proxy in `geo.trusted_proxies` forwarded for). IPv6 addresses share a bucket
//! per /64, the block one customer line gets, so rotating addresses inside it gains nothing.
//!
//! Buckets live in this node's memory (limits are per node by nature) and are bounded: every
//! `abuse.prune_interval_ms`, and whenever more than [`TRACKED_ADDRESSES_SOFT_MAX`] addresses are
//! tracked, the buckets of addresses that have been quiet long enough to be full again are dropped
//! (`retain_recent`; a dropped bucket and a full one behave the same). `/health`, `/ready` and
//! `/metrics` are not limited: probes and scrapers must see a node under attack.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use svea_config::{AbuseConfig, IpNetwork};

use super::error::ApiError;

/// Paths that are never limited.
pub const UNLIMITED_PATHS: [&str; 3] = ["/health", "/ready", "/metrics"];

/// Tracked addresses above which quiet ones are dropped at once instead of at the next interval.
pub const TRACKED_ADDRESSES_SOFT_MAX: usize = 100_000;

/// Bits of an IPv6 address that name one customer line (a /64).
const IPV6_PREFIX_BITS: u32 = 64;

/// The per-address buckets of this node.
pub struct AddressLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    trusted_proxies: Vec<IpNetwork>,
    prune_interval: Duration,
    last_prune: Mutex<Instant>,
}

impl AddressLimiter {
    /// Buckets of `abuse.burst` requests refilled at `abuse.requests_per_second`; the client
    /// address is believed from the proxies in `trusted_proxies` only.
    pub fn new(abuse: &AbuseConfig, trusted_proxies: Vec<IpNetwork>) -> AddressLimiter {
        let quota = Quota::per_second(abuse.requests_per_second).allow_burst(abuse.burst);
        AddressLimiter {
            limiter: RateLimiter::keyed(quota),
            trusted_proxies,
            prune_interval: abuse.prune_interval,
            last_prune: Mutex::new(Instant::now()),
        }
    }

    /// Takes one token from `ip`'s bucket, or says how long until one is there.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        self.prune_if_due();
        self.limiter.check_key(&bucket_key(ip)).map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()))
    }

    /// Addresses with a bucket now.
    pub fn tracked(&self) -> usize {
        self.limiter.len()
    }

    fn prune_if_due(&self) {
        let over = self.limiter.len() > TRACKED_ADDRESSES_SOFT_MAX;
        let Ok(mut last) = self.last_prune.try_lock() else { return };
        if over || last.elapsed() >= self.prune_interval {
            *last = Instant::now();
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
    }
}

/// The bucket an address counts against: IPv4 as it is (an IPv4-mapped IPv6 address too), IPv6
/// by its /64.
pub fn bucket_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mask = u128::MAX << (128 - IPV6_PREFIX_BITS);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
        },
    }
}

/// Whole seconds to tell a client to wait: `wait` rounded up, at least 1.
pub fn retry_after_s(wait: Duration) -> u64 {
    let whole = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    whole.max(1)
}

/// The middleware (`actix_web::middleware::from_fn`): 429 for an address over its bucket.
pub async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let limited = !UNLIMITED_PATHS.contains(&req.path());
    if let (true, Some(limiter)) = (limited, req.app_data::<web::Data<AddressLimiter>>()) {
        if let Some(ip) = super::client_ip(&limiter.trusted_proxies, req.request()) {
            if let Err(wait) = limiter.check(ip) {
                let retry = retry_after_s(wait);
                // The customer's page and the dashboard answer with a page; everything else with
                // a problem.
                let page = req.path().starts_with(super::page::PAGE_PREFIX) || super::dashboard::is_dashboard_path(req.path());
                let resp = if page {
                    super::page::rate_limited(req.request(), retry)
                } else {
                    ApiError::RateLimited { retry_after_s: retry }.error_response()
                };
                return Ok(req.into_response(resp).map_into_right_body());
            }
        }
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).expect("non-zero")
    }

    fn limiter(rate: u32, burst: u32) -> AddressLimiter {
        let abuse = AbuseConfig {
            requests_per_second: nz(rate),
            burst: nz(burst),
            prune_interval: Duration::from_millis(10),
            rewarded_sessions_per_device_day: 1,
            business_daily_reward_cap_ore: 1,
            duplicate_similarity_percent: 60,
            feedback_fingerprints_kept: 1,
            duplicate_containment_percent: 50,
            day_fingerprints_scan_max: 1,
            day_fingerprints_per_business_max: 1,
        };
        AddressLimiter::new(&abuse, Vec::new())
    }

    #[test]
    fn an_address_gets_its_burst_then_waits_and_others_are_not_affected() {
        let l = limiter(1, 3);
        let a: IpAddr = "203.0.113.7".parse().expect("ip");
        for _ in 0..3 {
            assert_eq!(l.check(a), Ok(()));
        }
        let wait = l.check(a).expect_err("over the burst");
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        assert_eq!(retry_after_s(wait), 1);
        assert_eq!(l.check("203.0.113.8".parse().expect("ip")), Ok(()));
    }

    #[test]
    fn ipv6_addresses_of_one_line_share_a_bucket() {
        let l = limiter(1, 1);
        assert_eq!(l.check("2001:db8:1:2::1".parse().expect("ip")), Ok(()));
        assert!(l.check("2001:db8:1:2:ffff::9".parse().expect("ip")).is_err());
        assert_eq!(l.check("2001:db8:1:3::1".parse().expect("ip")), Ok(()));
        assert_eq!(bucket_key("::ffff:192.0.2.1".parse().expect("ip")), "192.0.2.1".parse::<IpAddr>().expect("ip"));
    }

    #[test]
    fn quiet_addresses_are_dropped() {
        let l = limiter(1000, 1);
        for i in 0..50u8 {
            assert_eq!(l.check(IpAddr::from([198, 51, 100, i])), Ok(()));
        }
        assert!(l.tracked() >= 49);
        // The passing of time is what is tested: after the refill time (1 ms) and one prune
        // interval (10 ms) every bucket is full again, and the next check drops them.
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(l.check(IpAddr::from([192, 0, 2, 1])), Ok(()));
        assert!(l.tracked() <= 1, "{}", l.tracked());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_s(Duration::ZERO), 1);
        assert_eq!(retry_after_s(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_s(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_s(Duration::from_millis(2001)), 3);
    }
}
