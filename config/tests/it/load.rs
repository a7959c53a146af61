//! Defaults, full files, loading from disk, typed ids, and building a config in code.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use svea_config::{Config, Error, IpNetwork, NodeId, RawConfig, Region, Routing};

use crate::{check_ok, env, THREE_MEMBERS};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn region(s: &str) -> Region {
    s.parse().unwrap()
}

fn net(s: &str) -> IpNetwork {
    s.parse().unwrap()
}

#[test]
fn empty_file_and_no_file_give_the_documented_defaults() {
    let config = check_ok("", &[]);
    assert_eq!(config, Config::load(None, &env(&[])).unwrap());
    assert_eq!(config, RawConfig::default().validate().unwrap());

    assert_eq!(config.node.id, NodeId::new(1).unwrap());
    assert_eq!(config.node.region, region("stockholm"));
    assert_eq!(config.node.raft_addr, addr("127.0.0.1:7001").into());
    assert_eq!(config.node.raft_listen_addr, addr("127.0.0.1:7001"));
    assert_eq!(config.node.http_addr, addr("127.0.0.1:8080"));
    assert_eq!(config.node.public_url, "http://127.0.0.1:8080");
    assert_eq!(config.node.data_dir, PathBuf::from("./data/node-1"));
    assert_eq!(config.node.routing, Routing::Redirect);

    let regions: Vec<(&str, f64, f64)> = config
        .regions
        .iter()
        .map(|r| (r.name.as_str(), r.lat, r.lon))
        .collect();
    assert_eq!(
        regions,
        [
            ("stockholm", 59.33, 18.07),
            ("gothenburg", 57.71, 11.97),
            ("malmo", 55.60, 13.00)
        ]
    );

    assert_eq!(config.cluster.name, "svea");
    assert!(config.cluster.initial_members.is_empty());

    // TLS files default to <data_dir>/tls/.
    assert_eq!(
        config.tls.ca_cert,
        PathBuf::from("./data/node-1/tls/ca.pem")
    );
    assert_eq!(
        config.tls.node_cert,
        PathBuf::from("./data/node-1/tls/node.pem")
    );
    assert_eq!(
        config.tls.node_key,
        PathBuf::from("./data/node-1/tls/node.key")
    );

    let t = &config.timeouts;
    let ms = Duration::from_millis;
    assert_eq!(t.heartbeat, ms(50));
    assert_eq!(t.election_min, ms(200));
    assert_eq!(t.election_max, ms(400));
    assert_eq!(t.raft_rpc, ms(1000));
    assert_eq!(t.client_write, ms(5000));
    assert_eq!(t.storage_flush, ms(5000));
    assert_eq!(t.actor_idle, ms(300_000));
    assert_eq!(t.session_expiry, Duration::from_secs(15 * 60));
    assert_eq!(t.expiry_sweep, ms(5000));
    assert_eq!(t.failover_after, ms(500));
    assert_eq!(t.shutdown_grace, ms(10_000));
    assert_eq!(t.quic_idle, ms(10_000));
    assert_eq!(t.quic_keepalive, ms(2000));
    assert_eq!(t.connect, ms(2000));
    assert_eq!(t.reconnect_backoff_max, ms(2000));

    let l = &config.limits;
    assert_eq!(l.http_body_bytes, 65536);
    assert_eq!(l.actor_mailbox_len, 64);
    assert_eq!(l.registry_queue_len, 4096);
    assert_eq!(l.snapshot_logs_since_last, 5000);
    assert_eq!(l.max_in_snapshot_log_to_keep, 1000);
    assert_eq!(l.max_frame_bytes, 16 * 1024 * 1024);
    assert_eq!(l.max_snapshot_bytes, 1024 * 1024 * 1024);

    assert_eq!(config.log.filter, "info");

    // The bundled database, the region table's order, no proxies trusted.
    assert_eq!(config.geo.db_path, None);
    assert_eq!(
        config.geo.default_order,
        [region("stockholm"), region("gothenburg"), region("malmo")]
    );
    assert!(config.geo.trusted_proxies.is_empty());
    assert_eq!(config.geo.reload_interval, Duration::from_secs(5));
}

const FULL: &str = r#"
[node]
id = 2
region = "north"
raft_addr = "10.0.2.1:7101"
http_addr = "0.0.0.0:8181"
public_url = "https://north.svea.example"
data_dir = "/var/lib/svea"
routing = "serve"

[[regions]]
name = "north"
lat = 65.58
lon = 22.15

[[regions]]
name = "south"
lat = 55.6
lon = 13.0

[cluster]
name = "svea-prod"

[[cluster.initial_members]]
id = 1
region = "south"
raft_addr = "10.0.1.1:7101"
http_addr = "0.0.0.0:8181"
public_url = "https://south.svea.example"

[[cluster.initial_members]]
id = 2
region = "north"
raft_addr = "10.0.2.1:7101"
http_addr = "0.0.0.0:8181"
public_url = "https://north.svea.example"

[tls]
ca_cert = "/etc/svea/ca.pem"
node_cert = "/etc/svea/north.pem"
node_key = "/etc/svea/north.key"

[timeouts]
heartbeat_ms = 100
election_timeout_ms_min = 400
election_timeout_ms_max = 800
raft_rpc_timeout_ms = 700
client_write_timeout_ms = 3000
storage_flush_timeout_ms = 2000
actor_idle_ms = 60000
session_expiry_ms = 600000
expiry_sweep_ms = 1000
failover_after_ms = 1000
shutdown_grace_ms = 5000
quic_idle_ms = 30000
quic_keepalive_ms = 5000
connect_ms = 1500
reconnect_backoff_ms_max = 4000

[limits]
http_body_bytes = 1024
actor_mailbox_len = 8
registry_queue_len = 128
snapshot_logs_since_last = 100
max_in_snapshot_log_to_keep = 10
max_frame_bytes = 1048576
max_snapshot_bytes = 104857600

[log]
filter = "svea_cluster=debug,info"

[geo]
db_path = "/var/lib/svea/geo/city.mmdb"
default_order = ["south", "north"]
trusted_proxies = ["10.0.0.0/8", "127.0.0.1", "fd00::/8", "::1"]
reload_interval_ms = 60000

[http]
tls_cert = "/etc/svea/https.pem"
tls_key = "/etc/svea/https.key"

[privacy]
device_key = "a-device-key-of-at-least-32-characters"

[retention]
feedback_days = 90
"#;

#[test]
fn a_full_file_sets_every_value() {
    let config = check_ok(FULL, &[]);
    assert_eq!(config.node.id.get(), 2);
    assert_eq!(config.node.region, region("north"));
    assert_eq!(config.node.raft_addr, addr("10.0.2.1:7101").into());
    assert_eq!(config.node.http_addr, addr("0.0.0.0:8181"));
    assert_eq!(config.node.public_url, "https://north.svea.example");
    assert_eq!(config.node.data_dir, PathBuf::from("/var/lib/svea"));
    assert_eq!(config.node.routing, Routing::Serve);
    assert_eq!(config.privacy.device_key, "a-device-key-of-at-least-32-characters");
    assert_eq!(config.retention.feedback, Duration::from_secs(90 * 86_400));

    // A [[regions]] list replaces the default table as a whole.
    let names: Vec<&str> = config.regions.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["north", "south"]);
    assert_eq!(config.region(&region("north")).unwrap().lat, 65.58);
    assert!(config.region(&region("stockholm")).is_none());

    assert_eq!(config.cluster.name, "svea-prod");
    let ids: Vec<u64> = config
        .initial_members()
        .iter()
        .map(|m| m.id.get())
        .collect();
    assert_eq!(ids, [1, 2]);
    assert_eq!(config.cluster.initial_members[0].region, region("south"));
    assert_eq!(
        config.cluster.initial_members[0].public_url,
        "https://south.svea.example"
    );

    let t = &config.timeouts;
    let ms = Duration::from_millis;
    assert_eq!(
        [
            t.heartbeat,
            t.election_min,
            t.election_max,
            t.raft_rpc,
            t.client_write,
            t.storage_flush,
            t.actor_idle,
            t.session_expiry,
            t.expiry_sweep,
            t.failover_after,
            t.shutdown_grace,
            t.quic_idle,
            t.quic_keepalive,
            t.connect,
            t.reconnect_backoff_max
        ],
        [
            ms(100),
            ms(400),
            ms(800),
            ms(700),
            ms(3000),
            ms(2000),
            ms(60000),
            ms(600000),
            ms(1000),
            ms(1000),
            ms(5000),
            ms(30000),
            ms(5000),
            ms(1500),
            ms(4000)
        ]
    );
    let l = &config.limits;
    assert_eq!(
        (
            l.http_body_bytes,
            l.actor_mailbox_len,
            l.registry_queue_len,
            l.snapshot_logs_since_last,
            l.max_in_snapshot_log_to_keep,
            l.max_frame_bytes,
            l.max_snapshot_bytes
        ),
        (1024, 8, 128, 100, 10, 1 << 20, 100 << 20)
    );
    assert_eq!(config.tls.ca_cert, PathBuf::from("/etc/svea/ca.pem"));
    assert_eq!(config.tls.node_cert, PathBuf::from("/etc/svea/north.pem"));
    assert_eq!(config.tls.node_key, PathBuf::from("/etc/svea/north.key"));
    assert_eq!(config.log.filter, "svea_cluster=debug,info");
    assert_eq!(
        config.geo.db_path,
        Some(PathBuf::from("/var/lib/svea/geo/city.mmdb"))
    );
    assert_eq!(config.geo.default_order, [region("south"), region("north")]);
    assert_eq!(
        config.geo.trusted_proxies,
        [
            net("10.0.0.0/8"),
            net("127.0.0.1/32"),
            net("fd00::/8"),
            net("::1/128")
        ]
    );
    assert_eq!(config.geo.reload_interval, Duration::from_secs(60));
}

#[test]
fn the_default_order_follows_a_replaced_region_table() {
    let toml = "[node]\nregion = \"south\"\n\
                [[regions]]\nname = \"north\"\nlat = 65.58\nlon = 22.15\n\
                [[regions]]\nname = \"south\"\nlat = 55.6\nlon = 13.0\n";
    let config = check_ok(toml, &[]);
    assert_eq!(config.geo.default_order, [region("north"), region("south")]);
    // Written out empty, it is the table's order too.
    let config = check_ok(&format!("{toml}[geo]\ndefault_order = []\n"), &[]);
    assert_eq!(config.geo.default_order, [region("north"), region("south")]);
    // A partial order is kept as written.
    let config = check_ok(&format!("{toml}[geo]\ndefault_order = [\"south\"]\n"), &[]);
    assert_eq!(config.geo.default_order, [region("south")]);
}

#[test]
fn bare_trusted_proxy_addresses_are_single_host_networks() {
    let config = check_ok(
        "[geo]\ntrusted_proxies = [\"192.0.2.7\", \"2001:db8::7\", \"192.0.2.0/24\"]\n",
        &[],
    );
    let prefixes: Vec<u8> = config
        .geo
        .trusted_proxies
        .iter()
        .map(|n| n.prefix())
        .collect();
    assert_eq!(prefixes, [32, 128, 24]);
    let proxies = &config.geo.trusted_proxies;
    assert!(proxies[0].contains("192.0.2.7".parse().unwrap()));
    assert!(!proxies[0].contains("192.0.2.8".parse().unwrap()));
    assert!(proxies[2].contains("192.0.2.200".parse().unwrap()));
}

#[test]
fn routing_prints_as_written() {
    assert_eq!(Routing::Redirect.to_string(), "redirect");
    assert_eq!(Routing::Serve.as_str(), "serve");
    assert_eq!(Routing::default(), Routing::Redirect);
}

#[test]
fn a_partial_file_keeps_defaults_for_the_rest() {
    let config = check_ok("[timeouts]\nheartbeat_ms = 60\n", &[]);
    assert_eq!(config.timeouts.heartbeat, Duration::from_millis(60));
    assert_eq!(config.timeouts.election_min, Duration::from_millis(200));
    assert_eq!(config.node.id.get(), 1);
    assert_eq!(config.regions.len(), 3);
}

#[test]
fn initial_members_is_this_node_alone_when_the_list_is_empty() {
    let config = check_ok("", &[]);
    let members = config.initial_members();
    assert_eq!(members.len(), 1);
    let me = &members[0];
    assert_eq!(me.id, config.node.id);
    assert_eq!(me.region, config.node.region);
    assert_eq!(me.raft_addr, config.node.raft_addr);
    assert_eq!(me.http_addr, config.node.http_addr.into());
    assert_eq!(me.public_url, config.node.public_url);

    let three = check_ok(THREE_MEMBERS, &[]);
    let ids: Vec<u64> = three.initial_members().iter().map(|m| m.id.get()).collect();
    assert_eq!(ids, [1, 2, 3]);
}

#[test]
fn load_reads_a_file_and_applies_env_on_top() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("svea.toml");
    std::fs::write(&path, "[node]\nid = 5\n[log]\nfilter = \"warn\"\n").unwrap();
    let config = Config::load(Some(&path), &env(&[("SVEA_LOG_FILTER", "debug")])).unwrap();
    assert_eq!(config.node.id.get(), 5);
    assert_eq!(config.log.filter, "debug");
}

#[test]
fn a_missing_file_is_a_read_error_naming_the_path() {
    let path = Path::new("/nonexistent/svea/config.toml");
    let err = Config::load(Some(path), &env(&[])).unwrap_err();
    assert!(matches!(err, Error::Read { .. }), "{err}");
    assert!(
        err.to_string().contains("/nonexistent/svea/config.toml"),
        "{err}"
    );
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn parse_errors_name_the_file_and_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[node]\nid = \"one\"\n").unwrap();
    let err = Config::load(Some(&path), &env(&[])).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::Parse { .. }), "{message}");
    assert!(message.contains("bad.toml"), "{message}");
    assert!(message.contains("line 2"), "{message}");

    let err = Config::from_toml_str("[node\n", &env(&[])).unwrap_err();
    assert!(err.to_string().contains("<string>"), "{err}");
}

#[test]
fn a_huge_file_is_refused_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.toml");
    let line = "# padding padding padding padding padding padding padding padding\n";
    let text = line.repeat((svea_config::CONFIG_FILE_BYTES_MAX as usize / line.len()) + 2);
    std::fs::write(&path, text).unwrap();
    let err = Config::load(Some(&path), &env(&[])).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("huge.toml"), "{err}");
}

#[test]
fn unknown_keys_are_refused_and_named() {
    for (toml, name) in [
        ("colour = \"blue\"\n", "colour"),
        ("[nodes]\nid = 1\n", "nodes"),
        ("[node]\nidd = 1\n", "idd"),
        ("[timeouts]\nheartbeat = 150\n", "heartbeat"),
        ("[limits]\nhttp_body_kb = 64\n", "http_body_kb"),
        ("[log]\nlevel = \"info\"\n", "level"),
        ("[cluster]\nsize = 3\n", "size"),
        (
            "[[regions]]\nname = \"x\"\nlat = 1.0\nlon = 1.0\naltitude = 3.0\n",
            "altitude",
        ),
        (&format!("{THREE_MEMBERS}\nweight = 2\n"), "weight"),
        ("[geo]\ndatabase = \"x.mmdb\"\n", "database"),
        ("[geo]\nreload_interval = 5000\n", "reload_interval"),
    ] {
        let err = Config::from_toml_str(toml, &env(&[])).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, Error::Parse { .. }), "{message}");
        assert!(message.contains("unknown field"), "{message}");
        assert!(
            message.contains(&format!("`{name}`")),
            "does not name {name}: {message}"
        );
    }
}

#[test]
fn building_a_config_in_code_for_demo_mode() {
    let mut raw = RawConfig::default();
    raw.node.id = 3;
    raw.node.region = "malmo".into();
    raw.node.raft_addr = "127.0.0.1:7003".into();
    raw.node.http_addr = "127.0.0.1:8083".into();
    raw.node.public_url = "http://127.0.0.1:8083".into();
    raw.node.data_dir = "/tmp/svea-demo/node-3".into();
    let config = raw.validate().unwrap();
    assert_eq!(config.node.id.get(), 3);
    assert_eq!(config.node.region.as_str(), "malmo");
}

#[test]
fn raw_config_round_trips_through_toml() {
    let raw = RawConfig::default();
    let text = toml::to_string(&raw).unwrap();
    assert_eq!(RawConfig::from_toml_str(&text).unwrap(), raw);
}

#[test]
fn node_id_is_positive_and_prints_as_a_number() {
    assert!(NodeId::new(0).is_err());
    let id = NodeId::new(42).unwrap();
    assert_eq!(id.get(), 42);
    assert_eq!(id.to_string(), "42");
    assert_eq!("42".parse::<NodeId>().unwrap(), id);
    assert!("0".parse::<NodeId>().is_err());
    let err = "forty-two".parse::<NodeId>().unwrap_err().to_string();
    assert!(err.contains("forty-two"), "{err}");
    assert!(NodeId::new(1).unwrap() < NodeId::new(2).unwrap());
}

#[test]
fn region_names_are_short_lowercase_ascii() {
    for good in ["stockholm", "eu-north_1", "a", &"x".repeat(32)] {
        assert_eq!(good.parse::<Region>().unwrap().as_str(), good);
    }
    for bad in [
        "",
        "Stockholm",
        "malmö",
        "göteborg",
        "us east",
        "a.b",
        &"x".repeat(33),
    ] {
        let err = bad.parse::<Region>().unwrap_err();
        assert!(matches!(err, Error::BadRegion { .. }), "{bad:?}: {err}");
    }
    assert_eq!(region("malmo").to_string(), "malmo");
    assert!(region("gothenburg") < region("malmo"));
}

#[test]
fn typed_ids_serialize_transparently_and_validate_on_the_way_in() {
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Both {
        id: NodeId,
        region: Region,
    }
    let both = Both {
        id: NodeId::new(7).unwrap(),
        region: region("malmo"),
    };
    let text = toml::to_string(&both).unwrap();
    assert_eq!(text, "id = 7\nregion = \"malmo\"\n");
    assert_eq!(toml::from_str::<Both>(&text).unwrap(), both);
    assert!(toml::from_str::<Both>("id = 0\nregion = \"malmo\"\n").is_err());
    assert!(toml::from_str::<Both>("id = 1\nregion = \"Malmo\"\n").is_err());
}
