//! Dotted-key overrides, writing a config as TOML, and the loopback cluster builder.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use svea_config::loopback::{Cluster, Node};
use svea_config::{Config, Error, RawConfig, Routing};

use crate::env;

#[test]
fn set_reads_the_text_by_the_type_of_the_key() {
    let mut raw = RawConfig::default();
    raw.set_all([
        ("timeouts.heartbeat_ms", " 60 "),
        ("cluster.name", "123"), // a string key takes the text as it is, digits too
        ("node.routing", "serve"),
        ("geo.trusted_proxies", "10.0.0.0/8, 127.0.0.1"),
        ("geo.default_order", "malmo"),
        ("log.filter", "svea_cluster=debug,info"),
    ])
    .unwrap();
    assert_eq!(raw.timeouts.heartbeat_ms, 60);
    assert_eq!(raw.cluster.name, "123");
    assert_eq!(raw.geo.trusted_proxies, ["10.0.0.0/8", "127.0.0.1"]);
    assert_eq!(raw.log.filter, "svea_cluster=debug,info");
    let config = raw.validate().unwrap();
    assert_eq!(config.timeouts.heartbeat, Duration::from_millis(60));
    assert_eq!(config.node.routing, Routing::Serve);
    assert_eq!(config.geo.default_order.len(), 1);
}

#[test]
fn an_unknown_key_is_refused_by_name() {
    for key in ["timeouts.heartbeat_msec", "timeouts", "node.id.x", "nodes.id", "", "regions.name"] {
        let err = RawConfig::default().set(key, "1").unwrap_err();
        assert!(matches!(err, Error::UnknownKey { .. }), "{key}: {err}");
        assert!(err.to_string().contains(&format!("unknown config key {key}")), "{err}");
    }
}

#[test]
fn a_value_of_the_wrong_type_or_format_is_refused_naming_key_and_value() {
    for (key, value) in [
        ("timeouts.heartbeat_ms", "1.5"),
        ("timeouts.heartbeat_ms", "-1"),
        ("limits.max_frame_bytes", "16MiB"),
        ("node.id", "0"),
        ("node.raft_addr", "localhost"),
        ("node.raft_addr", "svea_0.local:7001"),
        ("cluster.hosts", "svea-0.svea=not-an-ip"),
        ("node.region", "Stockholm"),
        ("geo.trusted_proxies", "10.0.0.1,,10.0.0.2"),
        // A list of tables does not come from one text value.
        ("cluster.initial_members", "1"),
        ("regions", "stockholm"),
    ] {
        let mut raw = RawConfig::default();
        let err = raw.set(key, value).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, Error::BadValue { .. }), "{key}={value:?}: {message}");
        assert!(message.contains(key), "{message}");
        let shown = if value.contains(",,") { "10.0.0.1,,10.0.0.2" } else { value };
        assert!(message.contains(shown), "{message}");
        assert_eq!(raw, RawConfig::default(), "a refused value changes nothing");
    }
}

#[test]
fn every_variable_name_is_its_keys_own() {
    let names = svea_config::env_var_names();
    let unique: std::collections::BTreeSet<&String> = names.iter().map(|(name, _)| name).collect();
    assert_eq!(unique.len(), names.len(), "two keys share a variable: {names:?}");
    for (_, key) in &names {
        assert!(!key.starts_with("regions") && key != "cluster.initial_members", "{key}");
    }
}

/// A path a hand-written TOML string would break: quotes, a backslash, a newline, non-ASCII.
const AWKWARD_DIR: &str = "/tmp/svea \"quoted\" \\ dir\nwith\ttabs/åäö";

#[test]
fn a_written_config_reads_back_as_the_same_config() {
    let mut raw = RawConfig::default();
    raw.node.data_dir = AWKWARD_DIR.to_owned();
    raw.tls.ca_cert = format!("{AWKWARD_DIR}/ca.pem");
    raw.log.filter = "info,svea_cluster=\"debug\"".to_owned();
    raw.operator.token = "0123456789abcdef-'\"-token".to_owned();
    raw.set_all([("geo.trusted_proxies", "127.0.0.1, ::1"), ("timeouts.heartbeat_ms", "60")])
        .unwrap();
    let text = raw.to_toml_string().unwrap();
    let back = RawConfig::from_toml_str(&text).unwrap();
    assert_eq!(back, raw);
    assert_eq!(back.validate().unwrap(), raw.clone().validate().unwrap());
    assert_eq!(Config::from_toml_str(&text, &env(&[])).unwrap(), raw.validate().unwrap());
}

#[test]
fn a_number_toml_cannot_hold_is_refused_when_writing() {
    let mut raw = RawConfig::default();
    raw.limits.max_snapshot_bytes = u64::MAX;
    assert!(matches!(raw.to_toml_string(), Err(Error::Serialize { .. })));
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn the_loopback_builder_lists_every_node_and_puts_its_files_in_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(AWKWARD_DIR.trim_start_matches('/'));
    let cluster = Cluster::new(
        "svea-test",
        [
            Node::loopback(1, "stockholm", 8080, 9080),
            // Behind a proxy: binds one address, advertises another.
            Node::new(2, "gothenburg", addr("127.0.0.1:8081"), addr("127.0.0.1:19081"))
                .raft_listen_addr(addr("127.0.0.1:9081"))
                .set("geo.trusted_proxies", "127.0.0.1"),
            Node::loopback(3, "malmo", 8082, 9082).public_url("http://malmo.svea.test"),
        ],
    )
    .dir(&root)
    .tls(&root.join("tls"))
    .set("timeouts.failover_after_ms", "1000")
    .set("node.routing", "serve");
    let paths = cluster.write("Written by the config tests.").unwrap();
    assert_eq!(paths[1], root.join("gothenburg").join("svea.toml"));

    let configs: Vec<Config> = paths.iter().map(|path| Config::load(Some(path), &env(&[])).unwrap()).collect();
    assert_eq!(configs, cluster.configs().unwrap().into_iter().map(|raw| raw.validate().unwrap()).collect::<Vec<_>>());
    let got = &configs[1];
    assert_eq!(got.node.id.get(), 2);
    assert_eq!(got.node.raft_addr, addr("127.0.0.1:19081").into());
    assert_eq!(got.node.raft_listen_addr, addr("127.0.0.1:9081"));
    assert_eq!(got.node.data_dir, root.join("gothenburg").join("data"));
    assert_eq!(got.tls.node_key, root.join("tls").join("gothenburg.key"));
    assert_eq!(got.tls.ca_cert, root.join("tls").join("ca.pem"));
    assert_eq!(got.cluster.name, "svea-test");
    assert_eq!(got.node.routing, Routing::Serve);
    assert_eq!(got.timeouts.failover_after, Duration::from_millis(1000));
    assert_eq!(got.geo.trusted_proxies.len(), 1);
    assert!(configs[0].geo.trusted_proxies.is_empty(), "a node's own override stays its own");
    assert_eq!(configs[2].node.public_url, "http://malmo.svea.test");
    for config in &configs {
        let members: Vec<(u64, SocketAddr)> =
            config.initial_members().iter().map(|m| (m.id.get(), m.raft_addr.socket_addr().expect("ip"))).collect();
        assert_eq!(
            members,
            [(1, addr("127.0.0.1:9080")), (2, addr("127.0.0.1:19081")), (3, addr("127.0.0.1:9082"))]
        );
    }
    let text = std::fs::read_to_string(&paths[0]).unwrap();
    assert!(text.starts_with("# Written by the config tests.\n"), "{text}");
}

#[test]
fn the_loopback_builder_names_a_bad_override_and_refuses_to_write_an_invalid_config() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = || [Node::loopback(1, "stockholm", 8080, 9080)];
    let err = Cluster::new("c", nodes()).set("timeouts.heartbeat", "1").configs().unwrap_err();
    assert!(err.to_string().contains("timeouts.heartbeat"), "{err}");
    let err = Cluster::new("c", nodes()).dir(dir.path()).set("timeouts.heartbeat_ms", "0").write("x").unwrap_err();
    assert!(matches!(err, Error::Invalid { ref key, .. } if key == "timeouts.heartbeat_ms"), "{err}");
    assert!(!dir.path().join("stockholm").exists(), "nothing written");
    let err = Cluster::new("c", nodes()).write("x").unwrap_err();
    assert!(err.to_string().contains("svea.toml"), "{err}");
    assert!(!Path::new("stockholm").exists());
}
