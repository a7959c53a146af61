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
//! (`retain_recent`; a dropped bucket and a full one behave the same). `/health` and `/ready` are
//! not limited: probes must see a node under attack. [`SignupLimiter`] is the second, slower
//! bucket of business creation (`[signup]`).
//!
//! The privacy routes ([`PRIVACY_PATHS`]: a customer's export and erasure) take a token from a
//! second, stricter bucket per address too ([`PrivacyLimiter`], `abuse.privacy_requests_per_minute`
//! and `abuse.privacy_burst`): each reads up to a page of sessions through their actors, and a
//! customer needs them a few times a year.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use svea_config::{AbuseConfig, IpNetwork, SignupConfig};

use super::error::ApiError;

/// Paths that are never limited. (`/metrics` is not on the public listener at all: it answers
/// 404 there, limited like any other miss.)
pub const UNLIMITED_PATHS: [&str; 2] = ["/health", "/ready"];

/// Paths that also count against the privacy bucket ([`PrivacyLimiter`]).
pub const PRIVACY_PATHS: [&str; 4] = ["/v1/privacy/export", "/v1/privacy/erase", "/privacy/export", "/privacy/erase"];

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
        AddressLimiter::with_quota(quota, trusted_proxies, abuse.prune_interval)
    }

    /// Buckets of `quota`, pruned every `prune_interval`.
    fn with_quota(quota: Quota, trusted_proxies: Vec<IpNetwork>, prune_interval: Duration) -> AddressLimiter {
        AddressLimiter { limiter: RateLimiter::keyed(quota), trusted_proxies, prune_interval, last_prune: Mutex::new(Instant::now()) }
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

/// The sign-up bucket of this node (`[signup]` `creations_per_address_hour`): business
/// creations per client address, apart from the request bucket, so a script that stays under
/// the request rate still creates at most that many businesses an hour. Checked by
/// `POST /v1/businesses` after its input is valid (a refused request writes nothing and costs
/// no creation) and before anything is written.
pub struct SignupLimiter(AddressLimiter);

impl SignupLimiter {
    /// `signup.creations_per_address_hour` at once, refilled evenly over the hour.
    /// Quiet addresses are dropped every `prune_interval` (`abuse.prune_interval_ms`).
    pub fn new(signup: &SignupConfig, prune_interval: Duration, trusted_proxies: Vec<IpNetwork>) -> SignupLimiter {
        let per_hour = signup.creations_per_address_hour;
        SignupLimiter(AddressLimiter::with_quota(Quota::per_hour(per_hour).allow_burst(per_hour), trusted_proxies, prune_interval))
    }

    /// Takes a creation from the client address's bucket, or says how long until one is there.
    pub fn check(&self, req: &actix_web::HttpRequest) -> Result<(), ApiError> {
        let Some(ip) = super::client_ip(&self.0.trusted_proxies, req) else { return Ok(()) };
        self.0.check(ip).map_err(|wait| ApiError::CreationLimited { retry_after_s: retry_after_s(wait) })
    }
}

/// Sign-in links one e-mail address may be sent per hour: a person who mistypes, waits and asks
/// again needs a few; more is someone filling another person's inbox.
pub const SIGNIN_LINKS_PER_EMAIL_HOUR: u32 = 5;
/// Sign-in link requests one client address may make per hour (any addresses): an office
/// behind one IPv4 address signs in a few people; more is someone probing addresses.
pub const SIGNIN_LINKS_PER_ADDRESS_HOUR: u32 = 20;

/// The buckets of `POST /business/sign-in/email`: per client address and per e-mail address,
/// both hourly. Both answer 429 with `Retry-After`, whether or not the address is registered,
/// so the limit tells nothing about which addresses are.
pub struct SigninLinkLimiter {
    by_client: AddressLimiter,
    by_email: DefaultKeyedRateLimiter<String>,
}

impl SigninLinkLimiter {
    /// [`SIGNIN_LINKS_PER_ADDRESS_HOUR`] and [`SIGNIN_LINKS_PER_EMAIL_HOUR`].
    pub fn new(prune_interval: Duration, trusted_proxies: Vec<IpNetwork>) -> SigninLinkLimiter {
        let per = |n: u32| {
            let n = std::num::NonZeroU32::new(n).expect("the hourly limits are constants above zero");
            Quota::per_hour(n).allow_burst(n)
        };
        SigninLinkLimiter {
            by_client: AddressLimiter::with_quota(per(SIGNIN_LINKS_PER_ADDRESS_HOUR), trusted_proxies, prune_interval),
            by_email: RateLimiter::keyed(per(SIGNIN_LINKS_PER_EMAIL_HOUR)),
        }
    }

    /// Takes a request from the client's bucket, then from the e-mail's (`email_key`: the
    /// address's hash); `Err` is the whole seconds to wait.
    pub fn check(&self, req: &actix_web::HttpRequest, email_key: &str) -> Result<(), u64> {
        if let Some(ip) = super::client_ip(&self.by_client.trusted_proxies, req) {
            self.by_client.check(ip).map_err(retry_after_s)?;
        }
        if self.by_email.len() > TRACKED_ADDRESSES_SOFT_MAX {
            self.by_email.retain_recent();
        }
        self.by_email.check_key(&email_key.to_owned()).map_err(|n| retry_after_s(n.wait_time_from(self.by_email.clock().now())))
    }
}

/// The privacy routes' own buckets ([`PRIVACY_PATHS`]), per address like [`AddressLimiter`].
pub struct PrivacyLimiter(AddressLimiter);

impl PrivacyLimiter {
    /// Buckets of `abuse.privacy_burst` requests refilled at `abuse.privacy_requests_per_minute`.
    pub fn new(abuse: &AbuseConfig, trusted_proxies: Vec<IpNetwork>) -> PrivacyLimiter {
        let quota = Quota::per_minute(abuse.privacy_requests_per_minute).allow_burst(abuse.privacy_burst);
        PrivacyLimiter(AddressLimiter::with_quota(quota, trusted_proxies, abuse.prune_interval))
    }

    /// Takes one token from `ip`'s privacy bucket, or says how long until one is there.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        self.0.check(ip)
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
            // The privacy bucket first: a request it refuses takes nothing from the general one.
            let privacy = || match req.app_data::<web::Data<PrivacyLimiter>>() {
                Some(p) if PRIVACY_PATHS.contains(&req.path()) => p.check(ip),
                _ => Ok(()),
            };
            if let Err(wait) = privacy().and_then(|()| limiter.check(ip)) {
                let retry = retry_after_s(wait);
                // The customer's page and the dashboard answer with a page; everything else with
                // a problem.
                let page = req.path().starts_with(super::page::PAGE_PREFIX)
                    || super::dashboard::is_dashboard_path(req.path())
                    || super::page::privacy::is_privacy_path(req.path());
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
        AddressLimiter::new(&abuse(rate, burst), Vec::new())
    }

    fn abuse(rate: u32, burst: u32) -> AbuseConfig {
        AbuseConfig {
            requests_per_second: nz(rate),
            burst: nz(burst),
            prune_interval: Duration::from_millis(10),
            rewarded_sessions_per_device_day: 1,
            business_daily_reward_cap_ore: 1,
            duplicate_similarity_percent: 60,
            feedback_fingerprints_kept: 1,
            rewarded_sessions_per_network_day: 1,
            brake_factor: 1,
            brake_floor_per_hour: 1,
            declared_amount_max_ore: 100,
            privacy_requests_per_minute: nz(1),
            privacy_burst: nz(1),
            duplicate_containment_percent: 50,
            day_fingerprints_scan_max: 1,
            day_fingerprints_per_business_max: 1,
        }
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
    fn the_signup_bucket_holds_its_hourly_number_then_waits_minutes() {
        let signup = svea_config::RawSignup { creations_per_address_hour: 5, ..Default::default() }.validate().expect("signup");
        let l = SignupLimiter::new(&signup, Duration::from_secs(60), Vec::new());
        let a: IpAddr = "203.0.113.7".parse().expect("ip");
        for _ in 0..5 {
            assert_eq!(l.0.check(a), Ok(()));
        }
        let wait = l.0.check(a).expect_err("the sixth in an hour");
        // One creation comes back every 12 minutes.
        assert!(wait > Duration::from_secs(11 * 60) && wait <= Duration::from_secs(12 * 60), "{wait:?}");
        assert_eq!(l.0.check("203.0.113.8".parse().expect("ip")), Ok(()));
    }

    #[test]
    fn the_privacy_bucket_counts_per_minute() {
        let mut abuse = abuse(1, 1);
        abuse.privacy_requests_per_minute = nz(2);
        abuse.privacy_burst = nz(2);
        let p = PrivacyLimiter::new(&abuse, Vec::new());
        let a: IpAddr = "203.0.113.9".parse().expect("ip");
        assert_eq!((p.check(a), p.check(a)), (Ok(()), Ok(())));
        let wait = p.check(a).expect_err("over the privacy burst");
        // Two a minute: the next one is due in about 30 s, not in a second.
        assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30), "{wait:?}");
        assert_eq!(p.check("203.0.113.10".parse().expect("ip")), Ok(()));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_s(Duration::ZERO), 1);
        assert_eq!(retry_after_s(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_s(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_s(Duration::from_millis(2001)), 3);
    }
}
