//! `RawConfig` -> `Config`: every rule, each failure naming its dotted key.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ipnetwork::IpNetwork;

use crate::raw::{RawConfig, RawMember};
use crate::typed::{
    AbuseConfig, ClusterConfig, Config, GeoConfig, HttpConfig, HttpsFiles, Limits, LogConfig, LogFormat, MemberSpec, NodeConfig,
    GroupLayout, OperatorConfig, PosConfig, PrivacyConfig, RegionSpec, RetentionConfig, Routing, ScoringBackend, ScoringConfig, Timeouts,
    TlsConfig,
};
use crate::{Error, NodeId, PeerAddr, Region, REGIONS_MAX};

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

/// A socket address such as `127.0.0.1:7001` or `[::1]:7001`; host names are not resolved here.
pub(crate) fn check_socket_addr(value: &str) -> Result<SocketAddr, String> {
    value
        .parse()
        .map_err(|_| format!("{value:?} is not an ip:port socket address like 127.0.0.1:7001"))
}

/// A base URL that starts with `http://` or `https://` and has something after the scheme.
pub(crate) fn check_public_url(value: &str) -> Result<String, String> {
    let rest = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"))
        .ok_or_else(|| format!("{value:?} must start with http:// or https://"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("{value:?} has no host after the scheme"));
    }
    if value.chars().any(char::is_whitespace) {
        return Err(format!("{value:?} contains whitespace"));
    }
    Ok(value.to_owned())
}

/// A network in CIDR notation (`10.0.0.0/8`, `fd00::/8`) or a bare address (`127.0.0.1`, a /32).
pub(crate) fn check_network(value: &str) -> Result<IpNetwork, String> {
    value.parse().map_err(|_| {
        format!("{value:?} is not an ip address or a network like 10.0.0.0/8 or fd00::/8")
    })
}

fn node_id(key: &str, id: u64) -> Result<NodeId, Error> {
    NodeId::new(id).map_err(|e| invalid(key, e.into_reason()))
}

fn region_in(key: &str, name: &str, table: &[RegionSpec]) -> Result<Region, Error> {
    let region =
        Region::new(name).map_err(|e| invalid(key, format!("{name:?}: {}", e.into_reason())))?;
    if !table.iter().any(|spec| spec.name == region) {
        let known: Vec<&str> = table.iter().map(|spec| spec.name.as_str()).collect();
        return Err(invalid(
            key,
            format!(
                "region {region} is not in the region table ({})",
                known.join(", ")
            ),
        ));
    }
    Ok(region)
}

fn addr(key: &str, value: &str) -> Result<SocketAddr, Error> {
    check_socket_addr(value).map_err(|reason| invalid(key, reason))
}

fn peer_addr(key: &str, value: &str) -> Result<PeerAddr, Error> {
    value.parse().map_err(|reason| invalid(key, reason))
}

/// One `cluster.hosts` entry, `name=ip`: the name lower-cased, the address parsed.
pub(crate) fn check_host_entry(value: &str) -> Result<(String, IpAddr), String> {
    let wrong = |reason: &str| format!("{value:?} is not a name=ip entry like svea-stockholm-0.svea=10.0.0.1: {reason}");
    let (name, ip) = value.trim().split_once('=').ok_or_else(|| wrong("no '='"))?;
    let ip: IpAddr = ip.trim().parse().map_err(|_| wrong("the address is not an ip address"))?;
    // The name must be what a member's host:port address could name.
    match format!("{}:1", name.trim()).parse::<PeerAddr>() {
        Ok(PeerAddr::Name { host, .. }) => Ok((host, ip)),
        Ok(PeerAddr::Ip(_)) => Err(wrong("the name is an ip address")),
        Err(_) => Err(wrong("the name is not a host name")),
    }
}

fn url(key: &str, value: &str) -> Result<String, Error> {
    check_public_url(value).map_err(|reason| invalid(key, reason))
}

fn non_zero_ms(key: &str, ms: u64) -> Result<Duration, Error> {
    if ms == 0 {
        return Err(invalid(key, "must be greater than 0 ms"));
    }
    Ok(Duration::from_millis(ms))
}

fn non_zero<T: Copy + Default + PartialEq>(key: &str, value: T) -> Result<T, Error> {
    if value == T::default() {
        return Err(invalid(key, "must be greater than 0"));
    }
    Ok(value)
}

fn non_empty(key: &str, value: &str) -> Result<String, Error> {
    if value.trim().is_empty() {
        return Err(invalid(key, "must not be empty"));
    }
    Ok(value.to_owned())
}

impl RawConfig {
    /// Check every rule and produce the typed configuration; the first broken rule is returned as
    /// [`Error::Invalid`] naming its dotted key. Rules are checked in a fixed order (region table,
    /// node, cluster, tls, timeouts, limits, log, geo, operator, abuse), so the error is deterministic.
    pub fn validate(self) -> Result<Config, Error> {
        let regions = validate_regions(&self)?;
        let node = validate_node(&self, &regions)?;
        let cluster = validate_cluster(&self, &regions, &node)?;
        let tls = validate_tls(&self, &node)?;
        let timeouts = validate_timeouts(&self)?;
        let limits = Limits {
            http_body_bytes: non_zero("limits.http_body_bytes", self.limits.http_body_bytes)?,
            actor_mailbox_len: non_zero("limits.actor_mailbox_len", self.limits.actor_mailbox_len)?,
            registry_queue_len: non_zero(
                "limits.registry_queue_len",
                self.limits.registry_queue_len,
            )?,
            snapshot_logs_since_last: non_zero(
                "limits.snapshot_logs_since_last",
                self.limits.snapshot_logs_since_last,
            )?,
            max_in_snapshot_log_to_keep: non_zero(
                "limits.max_in_snapshot_log_to_keep",
                self.limits.max_in_snapshot_log_to_keep,
            )?,
            max_frame_bytes: non_zero("limits.max_frame_bytes", self.limits.max_frame_bytes)?,
            max_snapshot_bytes: non_zero(
                "limits.max_snapshot_bytes",
                self.limits.max_snapshot_bytes,
            )?,
            storage_cache_bytes: non_zero(
                "limits.storage_cache_bytes",
                self.limits.storage_cache_bytes,
            )?,
        };
        let log = LogConfig {
            filter: non_empty("log.filter", &self.log.filter)?,
            format: LogFormat::parse(&self.log.format).map_err(|reason| invalid("log.format", reason))?,
        };
        let geo = validate_geo(&self, &regions)?;
        let operator = validate_operator(&self)?;
        let abuse = validate_abuse(&self)?;
        let http = validate_http(&self, &node, &geo)?;
        let pos = validate_pos(&self)?;
        let privacy = validate_privacy(&self, &node)?;
        let retention = validate_retention(&self)?;
        let scoring = validate_scoring(&self)?;
        let dashboard = self.dashboard.validate()?;
        let public = self.public.validate()?;
        let signup = self.signup.validate()?;
        let swish = self.swish.validate()?;
        let mail = self.mail.validate()?;
        let (funding, payouts) = crate::money::validate(&self.funding, &self.payouts)?;
        // Stripe's keys are required once the funding provider is Stripe, Swish's merchant once
        // the payout rail is Swish (issue 21).
        let stripe = self.stripe.validate(funding.provider == crate::FundingProvider::Stripe)?;
        if payouts.rail == crate::PayoutRailKind::Swish && swish.merchant.is_none() {
            return Err(Error::Invalid {
                key: "swish.cert_file".to_owned(),
                reason: "payouts.rail = \"swish\" needs the merchant's certificate, key, Swish's root, the signing key and its serial, the payer alias and the callback URL in [swish]".to_owned(),
            });
        }
        Ok(Config {
            node,
            regions,
            cluster,
            tls,
            timeouts,
            limits,
            log,
            geo,
            operator,
            abuse,
            http,
            pos,
            privacy,
            retention,
            scoring,
            dashboard,
            signup,
            swish,
            funding,
            payouts,
            stripe,
            public,
            mail,
        })
    }
}

fn validate_regions(raw: &RawConfig) -> Result<Vec<RegionSpec>, Error> {
    if raw.regions.is_empty() {
        return Err(invalid("regions", "the region table must not be empty"));
    }
    if raw.regions.len() > REGIONS_MAX {
        return Err(invalid("regions", format!("the region table has {} regions; at most {REGIONS_MAX} (each region's data is a Raft group)", raw.regions.len())));
    }
    let mut seen: BTreeMap<Region, usize> = BTreeMap::new();
    let mut regions = Vec::with_capacity(raw.regions.len());
    for (i, spec) in raw.regions.iter().enumerate() {
        let key = |field: &str| format!("regions[{i}].{field}");
        let name = Region::new(spec.name.as_str())
            .map_err(|e| invalid(key("name"), format!("{:?}: {}", spec.name, e.into_reason())))?;
        if let Some(first) = seen.insert(name.clone(), i) {
            return Err(invalid(
                key("name"),
                format!("region {name} is listed twice (also regions[{first}])"),
            ));
        }
        // `contains` is false for NaN too.
        if !(-90.0..=90.0).contains(&spec.lat) {
            return Err(invalid(
                key("lat"),
                format!("latitude {} is outside [-90, 90]", spec.lat),
            ));
        }
        if !(-180.0..=180.0).contains(&spec.lon) {
            return Err(invalid(
                key("lon"),
                format!("longitude {} is outside [-180, 180]", spec.lon),
            ));
        }
        regions.push(RegionSpec {
            name,
            lat: spec.lat,
            lon: spec.lon,
        });
    }
    Ok(regions)
}

fn validate_node(raw: &RawConfig, regions: &[RegionSpec]) -> Result<NodeConfig, Error> {
    let node = &raw.node;
    let raft_addr = peer_addr("node.raft_addr", &node.raft_addr)?;
    let raft_listen_addr = if node.raft_listen_addr.trim().is_empty() {
        raft_addr.socket_addr().ok_or_else(|| {
            invalid(
                "node.raft_listen_addr",
                format!("is required when node.raft_addr ({raft_addr}) is a host name: the ip:port to bind, like 0.0.0.0:{}", raft_addr.port()),
            )
        })?
    } else {
        addr("node.raft_listen_addr", &node.raft_listen_addr)?
    };
    Ok(NodeConfig {
        id: node_id("node.id", node.id)?,
        region: region_in("node.region", &node.region, regions)?,
        raft_addr,
        raft_listen_addr,
        http_addr: addr("node.http_addr", &node.http_addr)?,
        public_url: url("node.public_url", &node.public_url)?,
        data_dir: PathBuf::from(non_empty("node.data_dir", &node.data_dir)?),
        routing: Routing::parse(&node.routing).map_err(|reason| invalid("node.routing", reason))?,
    })
}

/// Records that initial member `i` has `value` in `field`, refusing a value another member has.
fn listed_once<T: Ord + Clone + std::fmt::Display>(
    seen: &mut BTreeMap<T, usize>,
    value: T,
    i: usize,
    field: &str,
    what: &str,
) -> Result<(), Error> {
    match seen.insert(value.clone(), i) {
        None => Ok(()),
        Some(first) => Err(invalid(
            format!("cluster.initial_members[{i}].{field}"),
            format!("{what} {value} is listed twice (also cluster.initial_members[{first}])"),
        )),
    }
}

fn validate_member(
    i: usize,
    member: &RawMember,
    regions: &[RegionSpec],
) -> Result<MemberSpec, Error> {
    let key = |field: &str| format!("cluster.initial_members[{i}].{field}");
    Ok(MemberSpec {
        id: node_id(&key("id"), member.id)?,
        region: region_in(&key("region"), &member.region, regions)?,
        raft_addr: peer_addr(&key("raft_addr"), &member.raft_addr)?,
        http_addr: peer_addr(&key("http_addr"), &member.http_addr)?,
        public_url: url(&key("public_url"), &member.public_url)?,
    })
}

fn validate_cluster(
    raw: &RawConfig,
    regions: &[RegionSpec],
    node: &NodeConfig,
) -> Result<ClusterConfig, Error> {
    let name = non_empty("cluster.name", &raw.cluster.name)?;
    let mut members = Vec::with_capacity(raw.cluster.initial_members.len());
    let mut ids: BTreeMap<NodeId, usize> = BTreeMap::new();
    let mut raft_addrs: BTreeMap<PeerAddr, usize> = BTreeMap::new();
    for (i, raw_member) in raw.cluster.initial_members.iter().enumerate() {
        let member = validate_member(i, raw_member, regions)?;
        listed_once(&mut ids, member.id, i, "id", "node id")?;
        // Two members on one Raft address would be one process answering for two nodes.
        listed_once(&mut raft_addrs, member.raft_addr.clone(), i, "raft_addr", "raft address")?;
        members.push(member);
    }
    if !members.is_empty() {
        let Some(i) = members.iter().position(|m| m.id == node.id) else {
            return Err(invalid(
                "cluster.initial_members",
                format!("does not contain this node (node.id = {})", node.id),
            ));
        };
        let me = &members[i];
        if me.raft_addr != node.raft_addr {
            return Err(invalid(
                format!("cluster.initial_members[{i}].raft_addr"),
                format!(
                    "is {} but node.raft_addr is {} for the same node id {}",
                    me.raft_addr, node.raft_addr, node.id
                ),
            ));
        }
        if me.region != node.region {
            return Err(invalid(
                format!("cluster.initial_members[{i}].region"),
                format!(
                    "is {} but node.region is {} for the same node id {}",
                    me.region, node.region, node.id
                ),
            ));
        }
    }
    let mut hosts = BTreeMap::new();
    for (i, entry) in raw.cluster.hosts.iter().enumerate() {
        let (name, ip) = check_host_entry(entry).map_err(|reason| invalid(format!("cluster.hosts[{i}]"), reason))?;
        if hosts.insert(name.clone(), ip).is_some() {
            return Err(invalid(format!("cluster.hosts[{i}]"), format!("{name} is listed twice")));
        }
    }
    Ok(ClusterConfig {
        name,
        initial_members: members,
        hosts,
        groups: GroupLayout::parse(raw.cluster.groups.trim()).map_err(|reason| invalid("cluster.groups", reason))?,
    })
}

/// An empty path means the file of that name in `<data_dir>/tls/`; a given path is kept as written
/// (relative paths are relative to the working directory, like `node.data_dir`).
fn validate_tls(raw: &RawConfig, node: &NodeConfig) -> Result<TlsConfig, Error> {
    let path = |value: &str, default_name: &str| {
        if value.trim().is_empty() {
            node.data_dir.join("tls").join(default_name)
        } else {
            PathBuf::from(value)
        }
    };
    Ok(TlsConfig {
        ca_cert: path(&raw.tls.ca_cert, "ca.pem"),
        node_cert: path(&raw.tls.node_cert, "node.pem"),
        node_key: path(&raw.tls.node_key, "node.key"),
        reload_interval: non_zero_ms("tls.reload_interval_ms", raw.tls.reload_interval_ms)?,
    })
}

fn validate_timeouts(raw: &RawConfig) -> Result<Timeouts, Error> {
    let t = &raw.timeouts;
    let timeouts = Timeouts {
        heartbeat: non_zero_ms("timeouts.heartbeat_ms", t.heartbeat_ms)?,
        election_min: non_zero_ms(
            "timeouts.election_timeout_ms_min",
            t.election_timeout_ms_min,
        )?,
        election_max: non_zero_ms(
            "timeouts.election_timeout_ms_max",
            t.election_timeout_ms_max,
        )?,
        raft_rpc: non_zero_ms("timeouts.raft_rpc_timeout_ms", t.raft_rpc_timeout_ms)?,
        client_write: non_zero_ms(
            "timeouts.client_write_timeout_ms",
            t.client_write_timeout_ms,
        )?,
        storage_flush: non_zero_ms(
            "timeouts.storage_flush_timeout_ms",
            t.storage_flush_timeout_ms,
        )?,
        store_rewrite: non_zero_ms("timeouts.store_rewrite_ms", t.store_rewrite_ms)?,
        actor_idle: non_zero_ms("timeouts.actor_idle_ms", t.actor_idle_ms)?,
        session_expiry: non_zero_ms("timeouts.session_expiry_ms", t.session_expiry_ms)?,
        expiry_sweep: non_zero_ms("timeouts.expiry_sweep_ms", t.expiry_sweep_ms)?,
        failover_after: non_zero_ms("timeouts.failover_after_ms", t.failover_after_ms)?,
        shutdown_grace: non_zero_ms("timeouts.shutdown_grace_ms", t.shutdown_grace_ms)?,
        quic_idle: non_zero_ms("timeouts.quic_idle_ms", t.quic_idle_ms)?,
        quic_keepalive: non_zero_ms("timeouts.quic_keepalive_ms", t.quic_keepalive_ms)?,
        connect: non_zero_ms("timeouts.connect_ms", t.connect_ms)?,
        reconnect_backoff_max: non_zero_ms(
            "timeouts.reconnect_backoff_ms_max",
            t.reconnect_backoff_ms_max,
        )?,
        membership_change: non_zero_ms("timeouts.membership_change_ms", t.membership_change_ms)?,
    };
    // Several heartbeats must fit in the shortest election timeout, or followers call
    // elections against a healthy leader whenever one heartbeat is late.
    if t.heartbeat_ms.saturating_mul(3) >= t.election_timeout_ms_min {
        return Err(invalid(
            "timeouts.election_timeout_ms_min",
            format!(
                "must be greater than 3 * timeouts.heartbeat_ms ({}), got {}",
                t.heartbeat_ms.saturating_mul(3),
                t.election_timeout_ms_min
            ),
        ));
    }
    if t.election_timeout_ms_min >= t.election_timeout_ms_max {
        return Err(invalid(
            "timeouts.election_timeout_ms_max",
            format!(
                "must be greater than timeouts.election_timeout_ms_min ({}), got {}",
                t.election_timeout_ms_min, t.election_timeout_ms_max
            ),
        ));
    }
    if t.failover_after_ms <= t.heartbeat_ms {
        return Err(invalid(
            "timeouts.failover_after_ms",
            format!(
                "must be greater than timeouts.heartbeat_ms ({}), got {}",
                t.heartbeat_ms, t.failover_after_ms
            ),
        ));
    }
    // A keep-alive must arrive before the peer's idle timer fires, or quiet links drop.
    if t.quic_keepalive_ms >= t.quic_idle_ms {
        return Err(invalid(
            "timeouts.quic_keepalive_ms",
            format!(
                "must be less than timeouts.quic_idle_ms ({}), got {}",
                t.quic_idle_ms, t.quic_keepalive_ms
            ),
        ));
    }
    Ok(timeouts)
}

fn validate_geo(raw: &RawConfig, regions: &[RegionSpec]) -> Result<GeoConfig, Error> {
    let geo = &raw.geo;
    let db_path = if geo.db_path.trim().is_empty() {
        None
    } else {
        Some(PathBuf::from(&geo.db_path))
    };
    // An empty list means the region table's order, like an empty path means the default file.
    let default_order = if geo.default_order.is_empty() {
        regions.iter().map(|spec| spec.name.clone()).collect()
    } else {
        let mut seen: BTreeMap<Region, usize> = BTreeMap::new();
        let mut order = Vec::with_capacity(geo.default_order.len());
        for (i, name) in geo.default_order.iter().enumerate() {
            let key = format!("geo.default_order[{i}]");
            let region = region_in(&key, name, regions)?;
            if let Some(first) = seen.insert(region.clone(), i) {
                return Err(invalid(
                    key,
                    format!("region {region} is listed twice (also geo.default_order[{first}])"),
                ));
            }
            order.push(region);
        }
        order
    };
    let trusted_proxies = geo
        .trusted_proxies
        .iter()
        .enumerate()
        .map(|(i, value)| {
            check_network(value)
                .map_err(|reason| invalid(format!("geo.trusted_proxies[{i}]"), reason))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(GeoConfig {
        db_path,
        default_order,
        trusted_proxies,
        reload_interval: non_zero_ms("geo.reload_interval_ms", geo.reload_interval_ms)?,
    })
}

/// Shortest operator token accepted: guessing it must be out of reach.
pub const OPERATOR_TOKEN_MIN_LEN: usize = 16;

fn validate_operator(raw: &RawConfig) -> Result<OperatorConfig, Error> {
    let listen_addr = addr("operator.listen_addr", &raw.operator.listen_addr)?;
    // The operator API is plain HTTP carrying a bearer token: off the machine it would travel in
    // clear. Operators reach it on the machine itself or through an SSH tunnel.
    if !listen_addr.ip().is_loopback() {
        return Err(invalid(
            "operator.listen_addr",
            format!("{listen_addr} is not a loopback address: the operator API is plain http with a bearer token, so it listens on loopback only (reach it over ssh)"),
        ));
    }
    let token = bearer_token("operator.token", &raw.operator.token)?;
    let metrics_token = bearer_token("operator.metrics_token", &raw.operator.metrics_token)?;
    let metrics = raw.operator.metrics_listen_addr.trim();
    // The metrics listener may face the network (Prometheus in another pod): it serves nothing
    // but /metrics, and only to the scrape token, which opens nothing else.
    let metrics_listen_addr = if metrics.is_empty() { None } else { Some(addr("operator.metrics_listen_addr", metrics)?) };
    if metrics_listen_addr.is_some() && metrics_token.is_none() {
        return Err(invalid("operator.metrics_token", "must be set when operator.metrics_listen_addr is: /metrics is never served without a token"));
    }
    if metrics_listen_addr.is_some_and(|m| m == listen_addr) {
        return Err(invalid("operator.metrics_listen_addr", "must differ from operator.listen_addr"));
    }
    if let (Some(t), Some(m)) = (&token, &metrics_token) {
        if t == m {
            return Err(invalid("operator.metrics_token", "must differ from operator.token: the scrape token travels to Prometheus"));
        }
    }
    Ok(OperatorConfig { token, listen_addr, metrics_listen_addr, metrics_token })
}

/// A bearer token as configured: empty means none; otherwise at least
/// [`OPERATOR_TOKEN_MIN_LEN`] printable ASCII characters.
fn bearer_token(key: &str, value: &str) -> Result<Option<String>, Error> {
    let token = value.trim();
    if token.is_empty() {
        return Ok(None);
    }
    if token.len() < OPERATOR_TOKEN_MIN_LEN || !token.chars().all(|c| c.is_ascii_graphic()) {
        return Err(invalid(key, format!("must be at least {OPERATOR_TOKEN_MIN_LEN} printable ASCII characters without spaces")));
    }
    Ok(Some(token.to_owned()))
}

/// HTTPS files both or neither; plain HTTP only on loopback, or on a public address when
/// `http.plaintext_behind_proxy` says a TLS-terminating proxy (in `geo.trusted_proxies`) is in
/// front.
fn validate_http(raw: &RawConfig, node: &NodeConfig, geo: &GeoConfig) -> Result<HttpConfig, Error> {
    let http = &raw.http;
    let (cert, key) = (http.tls_cert.trim(), http.tls_key.trim());
    let tls = match (cert.is_empty(), key.is_empty()) {
        (true, true) => None,
        (false, false) => Some(HttpsFiles { cert: PathBuf::from(cert), key: PathBuf::from(key) }),
        (false, true) => return Err(invalid("http.tls_key", "must be set when http.tls_cert is set")),
        (true, false) => return Err(invalid("http.tls_cert", "must be set when http.tls_key is set")),
    };
    if tls.is_some() && http.plaintext_behind_proxy {
        return Err(invalid(
            "http.plaintext_behind_proxy",
            "cannot be true while http.tls_cert and http.tls_key make the listener serve https",
        ));
    }
    if http.plaintext_behind_proxy && geo.trusted_proxies.is_empty() {
        return Err(invalid(
            "http.plaintext_behind_proxy",
            "needs the tls-terminating proxy in front named in geo.trusted_proxies",
        ));
    }
    if tls.is_none() && !http.plaintext_behind_proxy && !node.http_addr.ip().is_loopback() {
        return Err(invalid(
            "node.http_addr",
            format!(
                "{} is not a loopback address, and plain http there would carry customers' data in clear: set http.tls_cert and http.tls_key (svea certs --https makes them), or http.plaintext_behind_proxy = true with the proxy in geo.trusted_proxies",
                node.http_addr
            ),
        ));
    }
    if tls.is_some() && !node.public_url.starts_with("https://") {
        return Err(invalid(
            "node.public_url",
            format!("{:?} must start with https:// when http.tls_cert is set (customers are redirected to it)", node.public_url),
        ));
    }
    let read_ms = http.request_read_timeout_ms;
    if read_ms == 0 || read_ms > crate::raw::HTTP_REQUEST_READ_TIMEOUT_MS_MAX {
        return Err(invalid(
            "http.request_read_timeout_ms",
            format!("{read_ms} is not within 1..={}", crate::raw::HTTP_REQUEST_READ_TIMEOUT_MS_MAX),
        ));
    }
    let conns = http.connections_per_address_max;
    if conns == 0 || conns > crate::raw::HTTP_CONNECTIONS_PER_ADDRESS_MAX_MAX {
        return Err(invalid(
            "http.connections_per_address_max",
            format!("{conns} is not within 1..={}", crate::raw::HTTP_CONNECTIONS_PER_ADDRESS_MAX_MAX),
        ));
    }
    Ok(HttpConfig {
        tls,
        plaintext_behind_proxy: http.plaintext_behind_proxy,
        request_read_timeout: Duration::from_millis(read_ms),
        connections_per_address_max: conns,
    })
}

fn pos_window(key: &str, ms: u64) -> Result<Duration, Error> {
    if ms > crate::raw::POS_WINDOW_MS_MAX {
        return Err(invalid(key, format!("must be at most {} ms (one day), got {ms}", crate::raw::POS_WINDOW_MS_MAX)));
    }
    non_zero_ms(key, ms)
}

fn pos_tries(key: &str, n: u32) -> Result<u32, Error> {
    if n == 0 || n > crate::raw::POS_TRIES_MAX {
        return Err(invalid(key, format!("must be 1 to {}, got {n}", crate::raw::POS_TRIES_MAX)));
    }
    Ok(n)
}

fn validate_pos(raw: &RawConfig) -> Result<PosConfig, Error> {
    let p = &raw.pos;
    Ok(PosConfig {
        await_purchase: pos_window("pos.await_purchase_ms", p.await_purchase_ms)?,
        match_window: pos_window("pos.match_window_ms", p.match_window_ms)?,
        timestamp_tolerance: pos_window("pos.timestamp_tolerance_ms", p.timestamp_tolerance_ms)?,
        session_failed_tries_max: pos_tries("pos.session_failed_tries_max", p.session_failed_tries_max)?,
        receipt_mismatches_max: pos_tries("pos.receipt_mismatches_max", p.receipt_mismatches_max)?,
    })
}

/// The device key used when `privacy.device_key` is empty on a loopback `node.http_addr` (the demo,
/// the tests, the simulations): publicly known, so it protects nothing, and refused anywhere else.
pub const DEMO_DEVICE_KEY: &str = "svea-loopback-demo-device-key-public-not-secret";

/// Shortest device key accepted: a 256-bit key written as 32 printable characters or more.
pub const DEVICE_KEY_MIN_LEN: usize = 32;

fn validate_privacy(raw: &RawConfig, node: &NodeConfig) -> Result<PrivacyConfig, Error> {
    const KEY: &str = "privacy.device_key";
    let key = raw.privacy.device_key.trim();
    let loopback = node.http_addr.ip().is_loopback();
    if key.is_empty() {
        if !loopback {
            return Err(invalid(
                KEY,
                format!(
                    "required when node.http_addr ({}) is not a loopback address: the same secret of at least {DEVICE_KEY_MIN_LEN} characters on every node (SVEA_PRIVACY_DEVICE_KEY)",
                    node.http_addr
                ),
            ));
        }
        return Ok(PrivacyConfig { device_key: DEMO_DEVICE_KEY.to_owned(), demo_key: true });
    }
    if key.len() < DEVICE_KEY_MIN_LEN || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(invalid(KEY, format!("must be at least {DEVICE_KEY_MIN_LEN} printable ASCII characters without spaces")));
    }
    if key == DEMO_DEVICE_KEY && !loopback {
        return Err(invalid(KEY, "the public demo key is only allowed on a loopback node.http_addr"));
    }
    Ok(PrivacyConfig { device_key: key.to_owned(), demo_key: key == DEMO_DEVICE_KEY })
}

/// Longest feedback retention accepted, in days (a century).
pub const FEEDBACK_RETENTION_DAYS_MAX: u32 = 36_500;

fn validate_retention(raw: &RawConfig) -> Result<RetentionConfig, Error> {
    let days = raw.retention.feedback_days;
    if days > FEEDBACK_RETENTION_DAYS_MAX {
        return Err(invalid("retention.feedback_days", format!("{days} is more than {FEEDBACK_RETENTION_DAYS_MAX}")));
    }
    Ok(RetentionConfig { feedback: Duration::from_secs(u64::from(days) * 24 * 60 * 60) })
}

fn validate_scoring(raw: &RawConfig) -> Result<ScoringConfig, Error> {
    use crate::raw::{SCORING_CALLS_IN_FLIGHT_MAX_MAX, SCORING_PROMPT_CHARS_MAX_MAX, SCORING_TIMEOUT_MS_MAX};
    use crate::typed::{SCORING_MODEL_LEN_MAX, SCORING_URL_LEN_MAX};
    let s = &raw.scoring;
    let backend = match s.backend.as_str() {
        "rubric" => ScoringBackend::Rubric,
        "ollama" => ScoringBackend::Ollama,
        other => return Err(invalid("scoring.backend", format!("must be \"rubric\" or \"ollama\", got {other:?}"))),
    };
    let rest = s.ollama_url.trim().strip_prefix("http://").ok_or_else(|| {
        invalid(
            "scoring.ollama_url",
            format!("{:?} must start with http:// (the model server runs on the node's machine or a private network)", s.ollama_url),
        )
    })?;
    let rest = rest.trim_end_matches('/');
    let url = format!("http://{rest}");
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty()
        || url.len() > SCORING_URL_LEN_MAX
        || !url.chars().all(|c| c.is_ascii_graphic())
        || url.contains(['?', '#', '@'])
    {
        return Err(invalid(
            "scoring.ollama_url",
            format!("{:?} is not a base url http://host:port (no spaces, query, fragment or user; at most {SCORING_URL_LEN_MAX} characters)", s.ollama_url),
        ));
    }
    let model = s.model.trim();
    if model.is_empty() || model.len() > SCORING_MODEL_LEN_MAX || !model.chars().all(|c| c.is_ascii_graphic()) {
        return Err(invalid(
            "scoring.model",
            format!("{:?} must be 1 to {SCORING_MODEL_LEN_MAX} printable ascii characters without spaces", s.model),
        ));
    }
    let timeout_ms = within("scoring.timeout_ms", s.timeout_ms, 1..=SCORING_TIMEOUT_MS_MAX)?;
    let prompt_chars = within("scoring.prompt_chars_max", s.prompt_chars_max, 1..=SCORING_PROMPT_CHARS_MAX_MAX)?;
    let in_flight = within("scoring.calls_in_flight_max", s.calls_in_flight_max, 1..=SCORING_CALLS_IN_FLIGHT_MAX_MAX)?;
    Ok(ScoringConfig {
        backend,
        ollama_url: url,
        model: model.to_owned(),
        timeout: Duration::from_millis(timeout_ms),
        // At most 5000 and 64: no truncation.
        prompt_chars_max: prompt_chars as usize,
        calls_in_flight_max: in_flight as usize,
        dictionary_dir: match s.dictionary_dir.trim() {
            "" => None,
            dir => Some(PathBuf::from(dir)),
        },
    })
}

/// `value` if it lies in `range`.
fn within<T: PartialOrd + std::fmt::Display + Copy>(
    key: &str,
    value: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, Error> {
    if !range.contains(&value) {
        return Err(invalid(
            key,
            format!("must be within {}..={}, got {value}", range.start(), range.end()),
        ));
    }
    Ok(value)
}

fn validate_abuse(raw: &RawConfig) -> Result<AbuseConfig, Error> {
    use crate::typed::{
        BRAKE_FACTOR_MAX, BRAKE_FLOOR_PER_HOUR_MAX, BUSINESS_DAILY_REWARD_CAP_SEK_MAX, DAY_FINGERPRINTS_PER_BUSINESS_MAX_MAX, DAY_FINGERPRINTS_SCAN_MAX_MAX,
        DECLARED_AMOUNT_MAX_SEK_MAX, FEEDBACK_FINGERPRINTS_KEPT_MAX,
    };
    let a = &raw.abuse;
    let rate = std::num::NonZeroU32::new(a.requests_per_second)
        .ok_or_else(|| invalid("abuse.requests_per_second", "must be greater than 0"))?;
    let burst = std::num::NonZeroU32::new(a.burst).ok_or_else(|| invalid("abuse.burst", "must be greater than 0"))?;
    if burst < rate {
        return Err(invalid(
            "abuse.burst",
            format!("must be at least abuse.requests_per_second ({rate}), got {burst}"),
        ));
    }
    let cap_sek = within(
        "abuse.business_daily_reward_cap_sek",
        a.business_daily_reward_cap_sek,
        1..=BUSINESS_DAILY_REWARD_CAP_SEK_MAX,
    )?;
    let similarity = within("abuse.duplicate_similarity_percent", a.duplicate_similarity_percent, 1..=100)?;
    let kept = within("abuse.feedback_fingerprints_kept", a.feedback_fingerprints_kept, 1..=FEEDBACK_FINGERPRINTS_KEPT_MAX)?;
    let declared_sek = within("abuse.declared_amount_max_sek", a.declared_amount_max_sek, 1..=DECLARED_AMOUNT_MAX_SEK_MAX)?;
    let containment = within("abuse.duplicate_containment_percent", a.duplicate_containment_percent, 1..=100)?;
    let day_scan = within("abuse.day_fingerprints_scan_max", a.day_fingerprints_scan_max, 1..=DAY_FINGERPRINTS_SCAN_MAX_MAX)?;
    let day_per_business =
        within("abuse.day_fingerprints_per_business_max", a.day_fingerprints_per_business_max, 1..=DAY_FINGERPRINTS_PER_BUSINESS_MAX_MAX)?;
    Ok(AbuseConfig {
        requests_per_second: rate,
        burst,
        prune_interval: non_zero_ms("abuse.prune_interval_ms", a.prune_interval_ms)?,
        rewarded_sessions_per_device_day: non_zero(
            "abuse.rewarded_sessions_per_device_day",
            a.rewarded_sessions_per_device_day,
        )?,
        // At most 10^9 SEK, so 10^11 öre: no overflow.
        business_daily_reward_cap_ore: i64::try_from(cap_sek * 100).unwrap_or(i64::MAX),
        duplicate_similarity_percent: similarity,
        feedback_fingerprints_kept: kept,
        rewarded_sessions_per_network_day: non_zero(
            "abuse.rewarded_sessions_per_network_day",
            a.rewarded_sessions_per_network_day,
        )?,
        brake_factor: within("abuse.brake_factor", a.brake_factor, 1..=BRAKE_FACTOR_MAX)?,
        brake_floor_per_hour: within("abuse.brake_floor_per_hour", a.brake_floor_per_hour, 1..=BRAKE_FLOOR_PER_HOUR_MAX)?,
        // At most 10^4 SEK, so 10^6 öre.
        declared_amount_max_ore: i64::try_from(declared_sek * 100).unwrap_or(i64::MAX),
        privacy_requests_per_minute: std::num::NonZeroU32::new(a.privacy_requests_per_minute)
            .ok_or_else(|| invalid("abuse.privacy_requests_per_minute", "must be greater than 0"))?,
        privacy_burst: std::num::NonZeroU32::new(a.privacy_burst)
            .ok_or_else(|| invalid("abuse.privacy_burst", "must be greater than 0"))?,
        duplicate_containment_percent: containment,
        day_fingerprints_scan_max: day_scan,
        day_fingerprints_per_business_max: day_per_business,
    })
}
