//! Every validation rule, each error naming its dotted key and the reason.

use crate::{check_invalid, check_ok, THREE_MEMBERS};
use std::time::Duration;

#[test]
fn node_id_must_be_positive() {
    check_invalid("[node]\nid = 0\n", &[], "node.id", "greater than 0");
}

#[test]
fn a_negative_number_is_a_parse_error_not_a_wrap_around() {
    let err =
        svea_config::Config::from_toml_str("[node]\nid = -1\n", &crate::env(&[])).unwrap_err();
    assert!(matches!(err, svea_config::Error::Parse { .. }), "{err}");
}

#[test]
fn region_names_must_be_valid() {
    let region = |name: &str| format!("[[regions]]\nname = \"{name}\"\nlat = 1.0\nlon = 1.0\n");
    check_invalid(
        &region("Stockholm"),
        &[],
        "regions[0].name",
        "\"Stockholm\"",
    );
    check_invalid(&region(""), &[], "regions[0].name", "empty");
    check_invalid(
        &region(&"x".repeat(33)),
        &[],
        "regions[0].name",
        "33 characters",
    );
    check_invalid(
        "[node]\nregion = \"Malmo\"\n",
        &[],
        "node.region",
        "\"Malmo\"",
    );
}

#[test]
fn region_names_must_be_unique() {
    let toml = "[[regions]]\nname = \"stockholm\"\nlat = 1.0\nlon = 1.0\n\
                [[regions]]\nname = \"stockholm\"\nlat = 2.0\nlon = 2.0\n";
    check_invalid(toml, &[], "regions[1].name", "listed twice");
}

#[test]
fn the_region_table_must_not_be_empty() {
    check_invalid("regions = []\n", &[], "regions", "must not be empty");
}

#[test]
fn node_region_must_be_in_the_table() {
    check_invalid(
        "[node]\nregion = \"kiruna\"\n",
        &[],
        "node.region",
        "kiruna",
    );
    // Replacing the table without the node's region is caught too.
    let toml = "[[regions]]\nname = \"umea\"\nlat = 63.8\nlon = 20.3\n";
    check_invalid(toml, &[], "node.region", "stockholm");
}

#[test]
fn member_regions_must_be_in_the_table() {
    let toml = THREE_MEMBERS.replace("region = \"malmo\"", "region = \"lund\"");
    check_invalid(&toml, &[], "cluster.initial_members[2].region", "lund");
}

#[test]
fn coordinates_must_be_on_earth() {
    let region = |lat: &str, lon: &str| {
        format!("[[regions]]\nname = \"stockholm\"\nlat = {lat}\nlon = {lon}\n")
    };
    check_ok(&region("90.0", "-180.0"), &[]);
    check_ok(&region("-90.0", "180.0"), &[]);
    check_invalid(&region("90.5", "0.0"), &[], "regions[0].lat", "90.5");
    check_invalid(&region("-91.0", "0.0"), &[], "regions[0].lat", "-91");
    check_invalid(&region("nan", "0.0"), &[], "regions[0].lat", "NaN");
    check_invalid(&region("0.0", "180.1"), &[], "regions[0].lon", "180.1");
    check_invalid(&region("0.0", "-inf"), &[], "regions[0].lon", "inf");
}

#[test]
fn election_timeout_min_must_exceed_three_heartbeats() {
    check_ok("[timeouts]\nheartbeat_ms = 66\n", &[]); // 198 < 200
    check_invalid(
        "[timeouts]\nheartbeat_ms = 67\n",
        &[],
        "timeouts.election_timeout_ms_min",
        "3 * timeouts.heartbeat_ms (201), got 200",
    );
    check_invalid(
        "[timeouts]\nelection_timeout_ms_min = 150\n",
        &[],
        "timeouts.election_timeout_ms_min",
        "got 150",
    );
    // No overflow on absurd values.
    check_invalid(
        &format!("[timeouts]\nheartbeat_ms = {}\n", i64::MAX),
        &[],
        "timeouts.election_timeout_ms_min",
        "heartbeat_ms",
    );
}

#[test]
fn election_timeout_max_must_exceed_min() {
    check_invalid(
        "[timeouts]\nelection_timeout_ms_max = 200\n",
        &[],
        "timeouts.election_timeout_ms_max",
        "election_timeout_ms_min (200), got 200",
    );
}

#[test]
fn every_duration_must_be_positive() {
    for key in [
        "heartbeat_ms",
        "election_timeout_ms_min",
        "election_timeout_ms_max",
        "raft_rpc_timeout_ms",
        "client_write_timeout_ms",
        "storage_flush_timeout_ms",
        "actor_idle_ms",
        "session_expiry_ms",
        "expiry_sweep_ms",
        "failover_after_ms",
        "shutdown_grace_ms",
        "quic_idle_ms",
        "quic_keepalive_ms",
        "connect_ms",
        "reconnect_backoff_ms_max",
    ] {
        check_invalid(
            &format!("[timeouts]\n{key} = 0\n"),
            &[],
            &format!("timeouts.{key}"),
            "greater than 0",
        );
    }
}

#[test]
fn failover_must_wait_longer_than_a_heartbeat() {
    check_ok("[timeouts]\nfailover_after_ms = 51\n", &[]);
    check_invalid(
        "[timeouts]\nfailover_after_ms = 50\n",
        &[],
        "timeouts.failover_after_ms",
        "heartbeat_ms (50), got 50",
    );
}

#[test]
fn quic_keepalive_must_come_before_the_idle_timeout() {
    check_ok("[timeouts]\nquic_keepalive_ms = 9999\n", &[]);
    check_invalid(
        "[timeouts]\nquic_keepalive_ms = 10000\n",
        &[],
        "timeouts.quic_keepalive_ms",
        "less than timeouts.quic_idle_ms (10000), got 10000",
    );
    check_invalid(
        "[timeouts]\nquic_idle_ms = 1000\n",
        &[],
        "timeouts.quic_keepalive_ms",
        "less than timeouts.quic_idle_ms (1000), got 2000",
    );
}

#[test]
fn tls_paths_default_under_the_data_dir_and_given_ones_are_kept() {
    let config = check_ok("[node]\ndata_dir = \"/var/lib/svea\"\n", &[]);
    assert_eq!(
        config.tls.ca_cert.to_str(),
        Some("/var/lib/svea/tls/ca.pem")
    );
    assert_eq!(
        config.tls.node_cert.to_str(),
        Some("/var/lib/svea/tls/node.pem")
    );
    assert_eq!(
        config.tls.node_key.to_str(),
        Some("/var/lib/svea/tls/node.key")
    );

    let config = check_ok(
        "[node]\ndata_dir = \"/var/lib/svea\"\n[tls]\nca_cert = \"/etc/svea/ca.pem\"\n",
        &[("SVEA_TLS_NODE_KEY", "keys/node.key")],
    );
    assert_eq!(config.tls.ca_cert.to_str(), Some("/etc/svea/ca.pem"));
    assert_eq!(
        config.tls.node_cert.to_str(),
        Some("/var/lib/svea/tls/node.pem")
    );
    assert_eq!(config.tls.node_key.to_str(), Some("keys/node.key"));
}

#[test]
fn public_url_must_be_http_or_https() {
    check_ok("[node]\npublic_url = \"https://sto.svea.example/\"\n", &[]);
    for bad in [
        "ftp://x",
        "127.0.0.1:8080",
        "http://",
        "https:///path",
        "http://a b",
    ] {
        check_invalid(
            &format!("[node]\npublic_url = \"{bad}\"\n"),
            &[],
            "node.public_url",
            bad,
        );
    }
    let toml = THREE_MEMBERS.replace("\"http://127.0.0.1:8082\"", "\"127.0.0.1:8082\"");
    check_invalid(
        &toml,
        &[],
        "cluster.initial_members[2].public_url",
        "http://",
    );
}

#[test]
fn addresses_must_be_socket_addresses_or_host_names_with_a_port() {
    check_invalid("[node]\nraft_addr = \"localhost\"\n", &[], "node.raft_addr", "localhost");
    check_invalid("[node]\nraft_addr = \"svea_0.svea:7001\"\n", &[], "node.raft_addr", "svea_0");
    check_invalid(
        "[node]\nhttp_addr = \"127.0.0.1\"\n",
        &[],
        "node.http_addr",
        "127.0.0.1",
    );
    let toml = THREE_MEMBERS.replace("\"127.0.0.1:8081\"", "\"127.0.0.1:80810\"");
    check_invalid(&toml, &[], "cluster.initial_members[1].http_addr", "80810");
}

/// Behind an address translation (the delay proxy of `bench-cluster --wan`) a node binds one
/// address and is reached, and listed in the membership, at another.
#[test]
fn the_raft_listen_address_defaults_to_the_raft_address_and_may_differ_from_it() {
    let config = check_ok(THREE_MEMBERS, &[]);
    assert_eq!(Some(config.node.raft_listen_addr), config.node.raft_addr.socket_addr());
    let config = check_ok(
        &format!("[node]\nraft_listen_addr = \"\"\n{THREE_MEMBERS}"),
        &[],
    );
    assert_eq!(config.node.raft_listen_addr.to_string(), "127.0.0.1:7001");

    let config = check_ok(
        &format!("[node]\nraft_listen_addr = \"127.0.0.1:7501\"\n{THREE_MEMBERS}"),
        &[],
    );
    // The membership keeps the advertised address; only the bind address changes.
    assert_eq!(config.node.raft_addr.to_string(), "127.0.0.1:7001");
    assert_eq!(config.node.raft_listen_addr.to_string(), "127.0.0.1:7501");
    assert_eq!(
        config.cluster.initial_members[0].raft_addr,
        config.node.raft_addr
    );

    let config = check_ok(
        THREE_MEMBERS,
        &[("SVEA_NODE_RAFT_LISTEN_ADDR", "[::1]:7601")],
    );
    assert_eq!(config.node.raft_listen_addr.to_string(), "[::1]:7601");
    // An empty variable means "same as node.raft_addr", like an empty value in the file.
    let config = check_ok(
        &format!("[node]\nraft_listen_addr = \"127.0.0.1:7501\"\n{THREE_MEMBERS}"),
        &[("SVEA_NODE_RAFT_LISTEN_ADDR", "")],
    );
    assert_eq!(Some(config.node.raft_listen_addr), config.node.raft_addr.socket_addr());

    check_invalid(
        "[node]\nraft_listen_addr = \"localhost:7001\"\n",
        &[],
        "node.raft_listen_addr",
        "localhost:7001",
    );
}

#[test]
fn member_ids_must_be_positive_and_unique() {
    let toml = THREE_MEMBERS.replace("id = 3", "id = 2");
    check_invalid(&toml, &[], "cluster.initial_members[2].id", "listed twice");
    let toml = THREE_MEMBERS.replace("id = 3", "id = 0");
    check_invalid(
        &toml,
        &[],
        "cluster.initial_members[2].id",
        "greater than 0",
    );
}

#[test]
fn member_raft_addresses_must_be_unique() {
    let toml = THREE_MEMBERS.replace("127.0.0.1:7003", "127.0.0.1:7002");
    check_invalid(
        &toml,
        &[],
        "cluster.initial_members[2].raft_addr",
        "listed twice",
    );
}

#[test]
fn members_must_include_this_node() {
    check_ok(THREE_MEMBERS, &[]);
    check_invalid(
        THREE_MEMBERS,
        &[("SVEA_NODE_ID", "4")],
        "cluster.initial_members",
        "node.id = 4",
    );
}

#[test]
fn this_node_must_match_its_member_entry() {
    check_invalid(
        THREE_MEMBERS,
        &[("SVEA_NODE_RAFT_ADDR", "127.0.0.1:7999")],
        "cluster.initial_members[0].raft_addr",
        "127.0.0.1:7999",
    );
    check_invalid(
        THREE_MEMBERS,
        &[("SVEA_NODE_REGION", "malmo")],
        "cluster.initial_members[0].region",
        "malmo",
    );
    // Node 2's view of the same cluster is valid once its own fields match.
    let config = check_ok(
        THREE_MEMBERS,
        &[
            ("SVEA_NODE_ID", "2"),
            ("SVEA_NODE_REGION", "gothenburg"),
            ("SVEA_NODE_RAFT_ADDR", "127.0.0.1:7002"),
        ],
    );
    assert_eq!(config.initial_members().len(), 3);
}

#[test]
fn every_limit_must_be_positive() {
    for key in [
        "http_body_bytes",
        "actor_mailbox_len",
        "registry_queue_len",
        "snapshot_logs_since_last",
        "max_in_snapshot_log_to_keep",
        "max_frame_bytes",
        "max_snapshot_bytes",
        "storage_cache_bytes",
    ] {
        check_invalid(
            &format!("[limits]\n{key} = 0\n"),
            &[],
            &format!("limits.{key}"),
            "greater than 0",
        );
    }
}

#[test]
fn names_and_paths_must_not_be_empty() {
    check_invalid(
        "[cluster]\nname = \"\"\n",
        &[],
        "cluster.name",
        "must not be empty",
    );
    check_invalid(
        "[node]\ndata_dir = \"\"\n",
        &[],
        "node.data_dir",
        "must not be empty",
    );
    check_invalid(
        "[log]\nfilter = \"\"\n",
        &[],
        "log.filter",
        "must not be empty",
    );
}

#[test]
fn routing_must_be_redirect_or_serve() {
    check_ok("[node]\nrouting = \"redirect\"\n", &[]);
    check_ok("[node]\nrouting = \"serve\"\n", &[]);
    for bad in ["proxy", "Serve", "", " redirect"] {
        check_invalid(
            &format!("[node]\nrouting = \"{bad}\"\n"),
            &[],
            "node.routing",
            &format!("{bad:?} is not one of \"redirect\", \"serve\""),
        );
    }
}

#[test]
fn the_geo_default_order_must_name_regions_of_the_table_once() {
    check_ok("[geo]\ndefault_order = [\"malmo\", \"stockholm\"]\n", &[]);
    check_invalid(
        "[geo]\ndefault_order = [\"stockholm\", \"kiruna\"]\n",
        &[],
        "geo.default_order[1]",
        "region kiruna is not in the region table (stockholm, gothenburg, malmo)",
    );
    check_invalid(
        "[geo]\ndefault_order = [\"Malmo\"]\n",
        &[],
        "geo.default_order[0]",
        "\"Malmo\"",
    );
    check_invalid(
        "[geo]\ndefault_order = [\"malmo\", \"stockholm\", \"malmo\"]\n",
        &[],
        "geo.default_order[2]",
        "region malmo is listed twice (also geo.default_order[0])",
    );
    // A table replaced without updating the order is caught too.
    let toml = "[node]\nregion = \"umea\"\n[[regions]]\nname = \"umea\"\nlat = 63.8\nlon = 20.3\n\
                [geo]\ndefault_order = [\"umea\", \"stockholm\"]\n";
    check_invalid(toml, &[], "geo.default_order[1]", "stockholm");
}

#[test]
fn trusted_proxies_must_be_addresses_or_networks() {
    check_ok(
        "[geo]\ntrusted_proxies = [\"0.0.0.0/0\", \"::/0\", \"10.1.2.3\"]\n",
        &[],
    );
    for (i, bad) in [
        "proxy.example",
        "10.0.0.0/33",
        "fd00::/129",
        "10.0.0",
        "10.0.0.0/",
        " 10.0.0.1",
        "",
    ]
    .iter()
    .enumerate()
    {
        // The bad value sits behind `i` good ones, so the index in the key is checked too.
        let good: String = (0..i).map(|n| format!("\"10.0.0.{n}\", ")).collect();
        check_invalid(
            &format!("[geo]\ntrusted_proxies = [{good}\"{bad}\"]\n"),
            &[],
            &format!("geo.trusted_proxies[{i}]"),
            &format!("{bad:?} is not an ip address or a network"),
        );
    }
}

#[test]
fn the_geo_reload_interval_must_be_positive() {
    check_ok("[geo]\nreload_interval_ms = 1\n", &[]);
    check_invalid(
        "[geo]\nreload_interval_ms = 0\n",
        &[],
        "geo.reload_interval_ms",
        "greater than 0",
    );
}

#[test]
fn a_blank_geo_db_path_means_the_bundled_database() {
    let config = crate::check_ok("[geo]\ndb_path = \"  \"\n", &[]);
    assert_eq!(config.geo.db_path, None);
    let config = crate::check_ok("[geo]\ndb_path = \"geo/city.mmdb\"\n", &[]);
    assert_eq!(
        config.geo.db_path.as_deref(),
        Some(std::path::Path::new("geo/city.mmdb"))
    );
}

#[test]
fn the_operator_token_is_off_when_empty_and_must_be_long_when_set() {
    assert_eq!(check_ok("", &[]).operator.token, None);
    assert_eq!(check_ok("[operator]\ntoken = \"   \"\n", &[]).operator.token, None);
    let config = check_ok("[operator]\ntoken = \"0123456789abcdef\"\n", &[]);
    assert_eq!(config.operator.token.as_deref(), Some("0123456789abcdef"));
    // The secret never shows up in a debug print of the config.
    assert!(!format!("{config:?}").contains("0123456789abcdef"));
    check_invalid("[operator]\ntoken = \"short\"\n", &[], "operator.token", "at least 16");
    check_invalid("[operator]\ntoken = \"0123456789 abcdef\"\n", &[], "operator.token", "without spaces");
}

/// A node reachable beyond loopback must have its own device key: the demo key is public.
#[test]
fn the_device_key_is_required_beyond_loopback_and_must_be_long() {
    let public = "[node]\nhttp_addr = \"0.0.0.0:8080\"\npublic_url = \"https://svea.example\"\n\
                  [http]\ntls_cert = \"/etc/svea/https.pem\"\ntls_key = \"/etc/svea/https.key\"\n";
    check_invalid(public, &[], "privacy.device_key", "SVEA_PRIVACY_DEVICE_KEY");
    let demo = format!("{public}[privacy]\ndevice_key = \"{}\"\n", svea_config::DEMO_DEVICE_KEY);
    check_invalid(&demo, &[], "privacy.device_key", "demo key");
    check_invalid(public, &[("SVEA_PRIVACY_DEVICE_KEY", "too-short")], "privacy.device_key", "at least 32");
    let key = "k".repeat(svea_config::DEVICE_KEY_MIN_LEN);
    let config = check_ok(public, &[("SVEA_PRIVACY_DEVICE_KEY", &key)]);
    assert_eq!(config.privacy.device_key, key);
    assert!(!config.privacy.demo_key);
    assert!(!format!("{config:?}").contains(&key), "the key is never printed");
    // On loopback (the demo, the tests) an empty key means the public demo key.
    let local = check_ok("", &[]);
    assert!(local.privacy.demo_key);
    assert_eq!(local.privacy.device_key, svea_config::DEMO_DEVICE_KEY);
}

#[test]
fn feedback_retention_is_bounded_and_zero_means_at_once() {
    assert_eq!(check_ok("", &[]).retention.feedback, std::time::Duration::from_secs(365 * 86_400));
    assert_eq!(check_ok("[retention]\nfeedback_days = 0\n", &[]).retention.feedback, std::time::Duration::ZERO);
    check_invalid("[retention]\nfeedback_days = 36501\n", &[], "retention.feedback_days", "36500");
}

#[test]
fn abuse_limits_have_sane_defaults_and_refuse_nonsense() {
    let a = check_ok("", &[]).abuse;
    assert_eq!((a.requests_per_second.get(), a.burst.get()), (10, 40));
    assert_eq!(a.rewarded_sessions_per_device_day, 1);
    assert_eq!(a.business_daily_reward_cap_ore, 500_000);
    assert_eq!(a.duplicate_similarity_percent, 60);
    assert_eq!(a.feedback_fingerprints_kept, 256);
    assert_eq!(a.rewarded_sessions_per_network_day, 3);
    assert_eq!((a.brake_factor, a.brake_floor_per_hour), (6, 20));
    assert_eq!(a.declared_amount_max_ore, 100_000);
    check_invalid("[abuse]\nrewarded_sessions_per_network_day = 0\n", &[], "abuse.rewarded_sessions_per_network_day", "greater than 0");
    check_invalid("[abuse]\nbrake_factor = 0\n", &[], "abuse.brake_factor", "within 1..=1000, got 0");
    check_invalid("[abuse]\nbrake_floor_per_hour = 0\n", &[], "abuse.brake_floor_per_hour", "within 1..=1000000, got 0");
    check_invalid("[abuse]\ndeclared_amount_max_sek = 10001\n", &[], "abuse.declared_amount_max_sek", "within 1..=10000, got 10001");
    assert_eq!((a.privacy_requests_per_minute.get(), a.privacy_burst.get()), (10, 5));
    check_invalid("[abuse]\nprivacy_requests_per_minute = 0\n", &[], "abuse.privacy_requests_per_minute", "greater than 0");
    check_invalid("[abuse]\nprivacy_burst = 0\n", &[], "abuse.privacy_burst", "greater than 0");
    assert_eq!((a.duplicate_containment_percent, a.day_fingerprints_scan_max, a.day_fingerprints_per_business_max), (50, 10_000, 500));
    assert_eq!(check_ok("", &[]).scoring.dictionary_dir, None);
    check_invalid("[abuse]\nrequests_per_second = 0\n", &[], "abuse.requests_per_second", "greater than 0");
    check_invalid("[abuse]\nrequests_per_second = 50\nburst = 10\n", &[], "abuse.burst", "at least abuse.requests_per_second");
    check_invalid("[abuse]\nprune_interval_ms = 0\n", &[], "abuse.prune_interval_ms", "greater than 0");
    check_invalid("[abuse]\nrewarded_sessions_per_device_day = 0\n", &[], "abuse.rewarded_sessions_per_device_day", "greater than 0");
    check_invalid("[abuse]\nbusiness_daily_reward_cap_sek = 0\n", &[], "abuse.business_daily_reward_cap_sek", "1..=1000000000");
    check_invalid(
        "[abuse]\nbusiness_daily_reward_cap_sek = 1000000001\n",
        &[],
        "abuse.business_daily_reward_cap_sek",
        "within 1..=1000000000, got 1000000001",
    );
    check_invalid("[abuse]\nduplicate_similarity_percent = 0\n", &[], "abuse.duplicate_similarity_percent", "1..=100");
    check_invalid("[abuse]\nduplicate_similarity_percent = 101\n", &[], "abuse.duplicate_similarity_percent", "1..=100");
    check_invalid("[abuse]\nfeedback_fingerprints_kept = 4097\n", &[], "abuse.feedback_fingerprints_kept", "1..=4096");
    check_invalid("[abuse]\nduplicate_containment_percent = 0\n", &[], "abuse.duplicate_containment_percent", "1..=100");
    check_invalid("[abuse]\nday_fingerprints_scan_max = 0\n", &[], "abuse.day_fingerprints_scan_max", "1..=100000");
    check_invalid("[abuse]\nday_fingerprints_per_business_max = 100001\n", &[], "abuse.day_fingerprints_per_business_max", "1..=100000");
}

#[test]
fn plain_http_on_a_public_address_is_refused_naming_the_keys() {
    // (A public node also needs its own device key; given here, it is not what this test is about.)
    let public = "[node]\nhttp_addr = \"0.0.0.0:8080\"\npublic_url = \"https://svea.example\"\n\
                  [privacy]\ndevice_key = \"a-device-key-of-at-least-32-characters\"\n";
    check_invalid(public, &[], "node.http_addr", "http.tls_cert");
    check_invalid(public, &[], "node.http_addr", "http.plaintext_behind_proxy");
    // Behind a proxy: only with the proxy named.
    let behind = format!("{public}[http]\nplaintext_behind_proxy = true\n");
    check_invalid(&behind, &[], "http.plaintext_behind_proxy", "geo.trusted_proxies");
    let config = check_ok(&format!("{behind}[geo]\ntrusted_proxies = [\"10.0.0.5\"]\n"), &[]);
    assert!(config.http.plaintext_behind_proxy && config.http.tls.is_none());
    // With https files it starts (they are read by `svea run`, not here).
    let tls = format!("{public}[http]\ntls_cert = \"/etc/svea/https.pem\"\ntls_key = \"/etc/svea/https.key\"\n");
    assert!(check_ok(&tls, &[]).http.tls.is_some());
    // Loopback stays plain http by default (the demo, the tests).
    assert!(check_ok("", &[]).http.tls.is_none());
}

#[test]
fn https_files_come_in_pairs_and_want_an_https_public_url() {
    check_invalid("[http]\ntls_cert = \"/c.pem\"\n", &[], "http.tls_key", "http.tls_cert");
    check_invalid("[http]\ntls_key = \"/c.key\"\n", &[], "http.tls_cert", "http.tls_key");
    let both = "[http]\ntls_cert = \"/c.pem\"\ntls_key = \"/c.key\"\n";
    check_invalid(both, &[], "node.public_url", "https://");
    let https = format!("[node]\npublic_url = \"https://127.0.0.1:8080\"\n{both}");
    check_ok(&https, &[]);
    check_invalid(
        &format!("{https}plaintext_behind_proxy = true\n[geo]\ntrusted_proxies = [\"10.0.0.5\"]\n"),
        &[],
        "http.plaintext_behind_proxy",
        "https",
    );
}

#[test]
fn the_operator_listener_stays_on_loopback() {
    check_invalid("[operator]\nlisten_addr = \"0.0.0.0:8090\"\n", &[], "operator.listen_addr", "loopback");
    check_invalid("[operator]\nlisten_addr = \"localhost\"\n", &[], "operator.listen_addr", "socket address");
    assert_eq!(check_ok("", &[]).operator.listen_addr.to_string(), "127.0.0.1:8090");
    assert_eq!(check_ok("[operator]\nlisten_addr = \"[::1]:9000\"\n", &[]).operator.listen_addr.to_string(), "[::1]:9000");
}

#[test]
fn pos_windows_default_sanely_and_are_bounded() {
    let config = check_ok("", &[]);
    assert_eq!(config.pos.await_purchase, Duration::from_secs(600));
    assert_eq!(config.pos.match_window, Duration::from_secs(900));
    assert_eq!(config.pos.timestamp_tolerance, Duration::from_secs(900));
    let config = check_ok("[pos]\nawait_purchase_ms = 1500\n", &[]);
    assert_eq!(config.pos.await_purchase, Duration::from_millis(1500));
    check_invalid("[pos]\nawait_purchase_ms = 0\n", &[], "pos.await_purchase_ms", "greater than 0");
    check_invalid("[pos]\nmatch_window_ms = 86400001\n", &[], "pos.match_window_ms", "at most");
    check_invalid("[pos]\ntimestamp_tolerance_ms = 0\n", &[], "pos.timestamp_tolerance_ms", "greater than 0");
    assert_eq!((config.pos.session_failed_tries_max, config.pos.receipt_mismatches_max), (3, 5));
    check_invalid("[pos]\nsession_failed_tries_max = 0\n", &[], "pos.session_failed_tries_max", "1 to 100");
    check_invalid("[pos]\nreceipt_mismatches_max = 101\n", &[], "pos.receipt_mismatches_max", "1 to 100");
}

#[test]
fn scoring_defaults_to_the_rubric_and_checks_the_model_keys_anyway() {
    let s = check_ok("", &[]).scoring;
    assert_eq!(s.backend, svea_config::ScoringBackend::Rubric);
    assert_eq!((s.ollama_url.as_str(), s.model.as_str()), ("http://127.0.0.1:11434", "qwen2:0.5b"));
    assert_eq!((s.timeout, s.prompt_chars_max, s.calls_in_flight_max), (Duration::from_millis(2000), 2000, 4));
    let on = check_ok("[scoring]\nbackend = \"ollama\"\nollama_url = \"http://[::1]:8080/ollama/\"\n", &[]).scoring;
    assert_eq!((on.backend, on.ollama_url.as_str()), (svea_config::ScoringBackend::Ollama, "http://[::1]:8080/ollama"));

    check_invalid("[scoring]\nbackend = \"openai\"\n", &[], "scoring.backend", "\"openai\"");
    check_invalid("[scoring]\nollama_url = \"https://models.example\"\n", &[], "scoring.ollama_url", "http://");
    check_invalid("[scoring]\nollama_url = \"localhost:11434\"\n", &[], "scoring.ollama_url", "http://");
    check_invalid("[scoring]\nollama_url = \"http://\"\n", &[], "scoring.ollama_url", "base url");
    check_invalid("[scoring]\nollama_url = \"http://a b:1\"\n", &[], "scoring.ollama_url", "base url");
    check_invalid("[scoring]\nollama_url = \"http://u:p@host:1\"\n", &[], "scoring.ollama_url", "base url");
    check_invalid("[scoring]\nmodel = \"\"\n", &[], "scoring.model", "1 to 100");
    check_invalid("[scoring]\nmodel = \"qwen 2\"\n", &[], "scoring.model", "without spaces");
    check_invalid(&format!("[scoring]\nmodel = \"{}\"\n", "m".repeat(101)), &[], "scoring.model", "1 to 100");
    check_invalid("[scoring]\ntimeout_ms = 0\n", &[], "scoring.timeout_ms", "1..=30000");
    check_invalid("[scoring]\ntimeout_ms = 30001\n", &[], "scoring.timeout_ms", "30001");
    check_invalid("[scoring]\nprompt_chars_max = 0\n", &[], "scoring.prompt_chars_max", "1..=5000");
    check_invalid("[scoring]\nprompt_chars_max = 5001\n", &[], "scoring.prompt_chars_max", "5001");
    check_invalid("[scoring]\ncalls_in_flight_max = 0\n", &[], "scoring.calls_in_flight_max", "1..=64");
    check_invalid("[scoring]\ncalls_in_flight_max = 65\n", &[], "scoring.calls_in_flight_max", "65");
    // Environment overrides are checked the same way, and the error names the key.
    check_invalid("", &[("SVEA_SCORING_BACKEND", "gpt")], "scoring.backend", "gpt");
}

/// Kubernetes: a StatefulSet pod is reached by its stable DNS name, not by an IP that changes when
/// the pod moves, so member and node Raft addresses may be `host:port` names (resolved at connect).
#[test]
fn raft_addresses_may_be_host_names_and_then_name_the_address_to_bind() {
    let named = THREE_MEMBERS
        .replace("\"127.0.0.1:7001\"", "\"svea-stockholm-0.svea.svea.svc.cluster.local:7001\"")
        .replace("\"127.0.0.1:7002\"", "\"svea-gothenburg-0.svea.svea.svc.cluster.local:7001\"");
    // A name cannot be bound: the listen address must be given.
    let me = ("SVEA_NODE_RAFT_ADDR", "svea-stockholm-0.svea.svea.svc.cluster.local:7001");
    check_invalid(&named, &[me], "node.raft_listen_addr", "host name");
    let config = check_ok(&named, &[me, ("SVEA_NODE_RAFT_LISTEN_ADDR", "0.0.0.0:7001")]);
    assert_eq!(config.node.raft_addr.to_string(), "svea-stockholm-0.svea.svea.svc.cluster.local:7001");
    assert_eq!(config.node.raft_addr.socket_addr(), None);
    assert_eq!(config.node.raft_listen_addr.to_string(), "0.0.0.0:7001");
    assert_eq!(config.initial_members()[1].raft_addr.host_name(), Some("svea-gothenburg-0.svea.svea.svc.cluster.local"));

    // Fixed answers for names (`cluster.hosts`), checked entry by entry.
    let hosts = ("SVEA_CLUSTER_HOSTS", "Svea-Stockholm-0.svea=127.0.0.11, svea-malmo-0.svea=::1");
    let config = check_ok(&named, &[me, ("SVEA_NODE_RAFT_LISTEN_ADDR", "0.0.0.0:7001"), hosts]);
    assert_eq!(config.cluster.hosts.get("svea-stockholm-0.svea").map(|ip| ip.to_string()).as_deref(), Some("127.0.0.11"));
    assert_eq!(config.cluster.hosts.len(), 2);
    for bad in ["svea-0.svea", "svea-0.svea=10.0.0", "10.0.0.1=10.0.0.2", "svea_0=10.0.0.1"] {
        let err = svea_config::Config::from_toml_str("", &crate::env(&[("SVEA_CLUSTER_HOSTS", bad)])).expect_err(bad).to_string();
        assert!(err.contains("SVEA_CLUSTER_HOSTS"), "{bad}: {err}");
    }
    check_invalid("[cluster]\nhosts = [\"a.svea=10.0.0.1\", \"A.svea=10.0.0.2\"]\n", &[], "cluster.hosts[1]", "twice");
}
