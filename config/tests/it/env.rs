//! `SVEA_*` environment overrides.

use std::path::PathBuf;
use std::time::Duration;

use svea_config::{env_var_names, env_vars, Config, Error, IpNetwork, RawConfig, Region, Routing};

use crate::{check_invalid, check_ok, env};

#[test]
fn env_overrides_the_file_which_overrides_the_defaults() {
    let toml = "[node]\nid = 2\nregion = \"gothenburg\"\n[timeouts]\nheartbeat_ms = 60\n";
    let config = check_ok(toml, &[]);
    assert_eq!(config.node.id.get(), 2);
    assert_eq!(config.timeouts.heartbeat, Duration::from_millis(60));

    let config = check_ok(
        toml,
        &[
            ("SVEA_NODE_ID", "7"),
            ("SVEA_TIMEOUTS_HEARTBEAT_MS", "65"),
            ("PATH", "/usr/bin"), // not ours: ignored
        ],
    );
    assert_eq!(config.node.id.get(), 7);
    assert_eq!(config.timeouts.heartbeat, Duration::from_millis(65));
    // The file still wins over defaults where env says nothing.
    assert_eq!(config.node.region.as_str(), "gothenburg");
    // Defaults remain where neither says anything.
    assert_eq!(config.timeouts.election_min, Duration::from_millis(200));
}

#[test]
fn every_overridable_key_has_its_variable() {
    let config = check_ok(
        "",
        &[
            ("SVEA_NODE_ID", "4"),
            ("SVEA_NODE_REGION", "malmo"),
            ("SVEA_NODE_RAFT_ADDR", "10.0.0.4:7001"),
            ("SVEA_NODE_RAFT_LISTEN_ADDR", "0.0.0.0:7101"),
            ("SVEA_NODE_HTTP_ADDR", "0.0.0.0:9090"),
            ("SVEA_NODE_PUBLIC_URL", "https://malmo.svea.example"),
            ("SVEA_NODE_DATA_DIR", "/data/svea 4"),
            ("SVEA_NODE_ROUTING", "serve"),
            ("SVEA_CLUSTER_NAME", "staging"),
            ("SVEA_CLUSTER_GROUPS", "one"),
            ("SVEA_TLS_CA_CERT", "/etc/svea/ca.pem"),
            ("SVEA_TLS_NODE_CERT", "/etc/svea/malmo.pem"),
            ("SVEA_TLS_NODE_KEY", "/etc/svea/malmo.key"),
            ("SVEA_TIMEOUTS_HEARTBEAT_MS", "50"),
            ("SVEA_TIMEOUTS_ELECTION_TIMEOUT_MS_MIN", "300"),
            ("SVEA_TIMEOUTS_ELECTION_TIMEOUT_MS_MAX", "900"),
            ("SVEA_TIMEOUTS_RAFT_RPC_TIMEOUT_MS", "11"),
            ("SVEA_TIMEOUTS_CLIENT_WRITE_TIMEOUT_MS", "12"),
            ("SVEA_TIMEOUTS_STORAGE_FLUSH_TIMEOUT_MS", "13"),
            ("SVEA_TIMEOUTS_STORE_REWRITE_MS", "21"),
            ("SVEA_TIMEOUTS_ACTOR_IDLE_MS", "14"),
            ("SVEA_TIMEOUTS_SESSION_EXPIRY_MS", "15"),
            ("SVEA_TIMEOUTS_EXPIRY_SWEEP_MS", "16"),
            ("SVEA_TIMEOUTS_FAILOVER_AFTER_MS", "170"),
            ("SVEA_TIMEOUTS_SHUTDOWN_GRACE_MS", "18"),
            ("SVEA_TIMEOUTS_QUIC_IDLE_MS", "19"),
            ("SVEA_TIMEOUTS_QUIC_KEEPALIVE_MS", "9"),
            ("SVEA_TIMEOUTS_CONNECT_MS", "8"),
            ("SVEA_TIMEOUTS_RECONNECT_BACKOFF_MS_MAX", "7"),
            ("SVEA_TIMEOUTS_MEMBERSHIP_CHANGE_MS", "6"),
            ("SVEA_OPERATOR_TOKEN", " 0123456789abcdef-operator "),
            ("SVEA_OPERATOR_LISTEN_ADDR", "[::1]:9191"),
            ("SVEA_HTTP_TLS_CERT", "/etc/svea/https.pem"),
            ("SVEA_HTTP_TLS_KEY", "/etc/svea/https.key"),
            ("SVEA_HTTP_PLAINTEXT_BEHIND_PROXY", "false"),
            ("SVEA_LIMITS_HTTP_BODY_BYTES", "21"),
            ("SVEA_LIMITS_ACTOR_MAILBOX_LEN", "22"),
            ("SVEA_LIMITS_REGISTRY_QUEUE_LEN", "23"),
            ("SVEA_LIMITS_SNAPSHOT_LOGS_SINCE_LAST", "24"),
            ("SVEA_LIMITS_MAX_IN_SNAPSHOT_LOG_TO_KEEP", "25"),
            ("SVEA_LIMITS_MAX_FRAME_BYTES", "26"),
            ("SVEA_LIMITS_MAX_SNAPSHOT_BYTES", "27"),
            ("SVEA_LIMITS_STORAGE_CACHE_BYTES", "28"),
            ("SVEA_LOG_FILTER", "trace"),
            ("SVEA_LOG_FORMAT", " json "),
            ("SVEA_GEO_DB_PATH", "/data/geo/city.mmdb"),
            ("SVEA_GEO_DEFAULT_ORDER", "malmo, stockholm"),
            ("SVEA_GEO_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1,::1"),
            ("SVEA_GEO_RELOAD_INTERVAL_MS", "28"),
            ("SVEA_POS_AWAIT_PURCHASE_MS", "29"),
            ("SVEA_POS_MATCH_WINDOW_MS", "30"),
            ("SVEA_POS_TIMESTAMP_TOLERANCE_MS", "31"),
            ("SVEA_POS_SESSION_FAILED_TRIES_MAX", "7"),
            ("SVEA_POS_RECEIPT_MISMATCHES_MAX", "9"),
            ("SVEA_PRIVACY_DEVICE_KEY", "device-key-from-the-environment-0123456789"),
            ("SVEA_RETENTION_FEEDBACK_DAYS", "29"),
            ("SVEA_DASHBOARD_FEEDBACK_PAGE_LEN", "39"),
            ("SVEA_DASHBOARD_FEEDBACK_PAGE_LEN_MAX", "40"),
            ("SVEA_DASHBOARD_FEEDBACK_SCAN_MAX", "41"),
            ("SVEA_DASHBOARD_SEARCH_CHARS_MAX", "42"),
            ("SVEA_DASHBOARD_CSV_ROWS_MAX", "43"),
            ("SVEA_DASHBOARD_CHART_DAYS", "44"),
            ("SVEA_DASHBOARD_SIGNIN_HOURS", "45"),
            ("SVEA_SCORING_BACKEND", "ollama"),
            ("SVEA_SCORING_OLLAMA_URL", "http://10.0.0.9:11434/"),
            ("SVEA_SCORING_MODEL", "llama3.2:1b"),
            ("SVEA_SCORING_TIMEOUT_MS", "36"),
            ("SVEA_SCORING_PROMPT_CHARS_MAX", "37"),
            ("SVEA_SCORING_CALLS_IN_FLIGHT_MAX", "38"),
            ("SVEA_SCORING_DICTIONARY_DIR", "/usr/share/hunspell"),
            ("SVEA_ABUSE_REQUESTS_PER_SECOND", "29"),
            ("SVEA_ABUSE_BURST", "30"),
            ("SVEA_ABUSE_PRUNE_INTERVAL_MS", "31"),
            ("SVEA_ABUSE_REWARDED_SESSIONS_PER_DEVICE_DAY", "32"),
            ("SVEA_ABUSE_BUSINESS_DAILY_REWARD_CAP_SEK", "33"),
            ("SVEA_ABUSE_DUPLICATE_SIMILARITY_PERCENT", "34"),
            ("SVEA_ABUSE_FEEDBACK_FINGERPRINTS_KEPT", "35"),
            ("SVEA_HTTP_REQUEST_READ_TIMEOUT_MS", "46"),
            ("SVEA_HTTP_CONNECTIONS_PER_ADDRESS_MAX", "47"),
            ("SVEA_OPERATOR_METRICS_LISTEN_ADDR", "0.0.0.0:9464"),
            ("SVEA_OPERATOR_METRICS_TOKEN", "scrape-token-0123456789"),
            ("SVEA_SIGNUP_CREATIONS_PER_ADDRESS_HOUR", "48"),
            ("SVEA_SIGNUP_RELEASE_UNVERIFIED_ORG_NUMBER_AFTER_MS", "49"),
            ("SVEA_SIGNUP_SIGNIN_LINK_TTL_MS", "61"),
            ("SVEA_SIGNUP_VERIFY_LINK_TTL_MS", "62"),
            ("SVEA_MAIL_TRANSPORT", "smtp"),
            ("SVEA_MAIL_FROM", "svea <noreply@svea.example>"),
            ("SVEA_MAIL_FOLDER", "/var/mail/svea"),
            ("SVEA_MAIL_SMTP_HOST", "smtp.svea.example"),
            ("SVEA_MAIL_SMTP_PORT", "465"),
            ("SVEA_MAIL_SMTP_TLS", "tls"),
            ("SVEA_MAIL_SMTP_USERNAME", "svea"),
            ("SVEA_MAIL_SMTP_PASSWORD", "correct-horse-battery"),
            ("SVEA_MAIL_SMTP_PASSWORD_FILE", ""),
            ("SVEA_MAIL_TIMEOUT_MS", "63"),
            ("SVEA_MAIL_QUEUE_LEN_MAX", "64"),
            ("SVEA_MAIL_ATTEMPTS_MAX", "5"),
            ("SVEA_MAIL_RETRY_BACKOFF_MS", "66"),
            ("SVEA_SWISH_API_BASE", "https://mss.cpc.getswish.net/swish-cpcapi/"),
            ("SVEA_SWISH_CERT_FILE", "/etc/svea/swish.pem"),
            ("SVEA_SWISH_KEY_FILE", "/etc/svea/swish.key"),
            ("SVEA_SWISH_ROOT_CA_FILE", "/etc/svea/swish-root.pem"),
            ("SVEA_SWISH_SIGNING_KEY_FILE", "/etc/svea/swish-signing.key"),
            ("SVEA_SWISH_SIGNING_CERT_SERIAL", "4F24C03A0295A0B53596240EA8C0F430"),
            ("SVEA_SWISH_PAYER_ALIAS", "1234679304"),
            ("SVEA_SWISH_CALLBACK_URL", "https://svea.example/v1/payouts/swish/callback"),
            ("SVEA_SWISH_TIMEOUT_MS", "50"),
            ("SVEA_SWISH_CALLS_IN_FLIGHT_MAX", "51"),
            ("SVEA_ABUSE_REWARDED_SESSIONS_PER_NETWORK_DAY", "46"),
            ("SVEA_ABUSE_BRAKE_FACTOR", "47"),
            ("SVEA_ABUSE_BRAKE_FLOOR_PER_HOUR", "48"),
            ("SVEA_ABUSE_DECLARED_AMOUNT_MAX_SEK", "49"),
            ("SVEA_ABUSE_PRIVACY_REQUESTS_PER_MINUTE", "36"),
            ("SVEA_ABUSE_PRIVACY_BURST", "37"),
            ("SVEA_ABUSE_DUPLICATE_CONTAINMENT_PERCENT", "47"),
            ("SVEA_ABUSE_DAY_FINGERPRINTS_SCAN_MAX", "48"),
            ("SVEA_ABUSE_DAY_FINGERPRINTS_PER_BUSINESS_MAX", "49"),
            ("SVEA_FUNDING_PROVIDER", "stripe"),
            ("SVEA_PAYOUTS_RAIL", "swish"),
            ("SVEA_PAYOUTS_MINIMUM_SEK", "51"),
            ("SVEA_PAYOUTS_RETRY_INTERVAL_MS", "52"),
            ("SVEA_PAYOUTS_ATTEMPTS_MAX", "53"),
            ("SVEA_PAYOUTS_CALL_TIMEOUT_MS", "54"),
            ("SVEA_PAYOUTS_IN_FLIGHT_MAX", "55"),
            ("SVEA_PAYOUTS_PAYEE_KEY", "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"),
            ("SVEA_STRIPE_SECRET_KEY", "sk_test_fromtheenvironment0123"),
            ("SVEA_STRIPE_WEBHOOK_SECRET", "whsec_fromtheenvironment0123"),
            ("SVEA_STRIPE_API_BASE", "https://127.0.0.1:4242/"),
            ("SVEA_STRIPE_CA_FILE", "/etc/svea/stripe-ca.pem"),
            ("SVEA_STRIPE_TIMEOUT_MS", "50"),
            ("SVEA_STRIPE_WEBHOOK_TOLERANCE_S", "51"),
            ("SVEA_STRIPE_TOP_UP_MIN_SEK", "52"),
            ("SVEA_STRIPE_TOP_UP_MAX_SEK", "53"),
            ("SVEA_STRIPE_CALLS_IN_FLIGHT_MAX", "54"),
            ("SVEA_STRIPE_WEBHOOK_BODY_BYTES_MAX", "55555"),
            ("SVEA_PUBLIC_BASE_URL", "https://feedback.example.se/"),
        ],
    );
    let st = &config.stripe;
    assert_eq!((st.secret_key.as_str(), st.webhook_secret.as_str()), ("sk_test_fromtheenvironment0123", "whsec_fromtheenvironment0123"));
    assert_eq!((st.api_base.as_str(), st.ca_file.clone()), ("https://127.0.0.1:4242", Some(PathBuf::from("/etc/svea/stripe-ca.pem"))));
    assert_eq!((st.timeout, st.webhook_tolerance), (Duration::from_millis(50), Duration::from_secs(51)));
    assert_eq!((st.top_up_min_ore, st.top_up_max_ore, st.calls_in_flight_max, st.webhook_body_bytes_max), (5200, 5300, 54, 55555));
    assert_eq!(config.public.base_url.as_deref(), Some("https://feedback.example.se"));
    assert_eq!(config.privacy.device_key, "device-key-from-the-environment-0123456789");
    assert_eq!(config.retention.feedback, Duration::from_secs(29 * 86_400));
    let d = &config.dashboard;
    assert_eq!([d.feedback_page_len, d.feedback_page_len_max, d.feedback_scan_max, d.search_chars_max, d.csv_rows_max], [39, 40, 41, 42, 43]);
    assert_eq!((d.chart_days, d.signin), (44, Duration::from_secs(45 * 3600)));
    let sc = &config.scoring;
    assert_eq!(sc.backend, svea_config::ScoringBackend::Ollama);
    assert_eq!((sc.ollama_url.as_str(), sc.model.as_str()), ("http://10.0.0.9:11434", "llama3.2:1b"));
    assert_eq!((sc.timeout, sc.prompt_chars_max, sc.calls_in_flight_max), (Duration::from_millis(36), 37, 38));
    assert_eq!(sc.dictionary_dir, Some(PathBuf::from("/usr/share/hunspell")));
    let ms = Duration::from_millis;
    assert_eq!(config.node.id.get(), 4);
    assert_eq!(config.node.region.as_str(), "malmo");
    assert_eq!(config.node.raft_addr.to_string(), "10.0.0.4:7001");
    assert_eq!(config.node.raft_listen_addr.to_string(), "0.0.0.0:7101");
    assert_eq!(config.node.http_addr.to_string(), "0.0.0.0:9090");
    assert_eq!(config.node.public_url, "https://malmo.svea.example");
    assert_eq!(config.node.data_dir.to_str(), Some("/data/svea 4"));
    assert_eq!(config.node.routing, Routing::Serve);
    assert_eq!(config.cluster.name, "staging");
    assert_eq!(config.cluster.groups, svea_config::GroupLayout::One);
    assert_eq!(config.tls.ca_cert.to_str(), Some("/etc/svea/ca.pem"));
    assert_eq!(config.tls.node_cert.to_str(), Some("/etc/svea/malmo.pem"));
    assert_eq!(config.tls.node_key.to_str(), Some("/etc/svea/malmo.key"));
    let t = &config.timeouts;
    assert_eq!(
        [
            t.heartbeat,
            t.election_min,
            t.election_max,
            t.raft_rpc,
            t.client_write,
            t.storage_flush,
            t.store_rewrite,
            t.actor_idle,
            t.session_expiry,
            t.expiry_sweep,
            t.failover_after,
            t.shutdown_grace,
            t.quic_idle,
            t.quic_keepalive,
            t.connect,
            t.reconnect_backoff_max,
            t.membership_change
        ],
        [50, 300, 900, 11, 12, 13, 21, 14, 15, 16, 170, 18, 19, 9, 8, 7, 6].map(ms)
    );
    let l = &config.limits;
    assert_eq!(
        [
            l.http_body_bytes as u64,
            l.actor_mailbox_len as u64,
            l.registry_queue_len as u64,
            l.snapshot_logs_since_last,
            l.max_in_snapshot_log_to_keep,
            l.max_frame_bytes as u64,
            l.max_snapshot_bytes,
            l.storage_cache_bytes
        ],
        [21, 22, 23, 24, 25, 26, 27, 28]
    );
    assert_eq!(config.log.filter, "trace");
    assert_eq!(config.log.format, svea_config::LogFormat::Json);
    assert_eq!(config.operator.listen_addr.to_string(), "[::1]:9191");
    let https = config.http.tls.as_ref().expect("https files");
    assert_eq!((https.cert.to_str(), https.key.to_str()), (Some("/etc/svea/https.pem"), Some("/etc/svea/https.key")));
    assert!(!config.http.plaintext_behind_proxy);
    assert_eq!((config.http.request_read_timeout, config.http.connections_per_address_max), (ms(46), 47));
    assert_eq!(config.operator.metrics_listen_addr.map(|a| a.to_string()).as_deref(), Some("0.0.0.0:9464"));
    assert_eq!(config.operator.metrics_token.as_deref(), Some("scrape-token-0123456789"));
    assert_eq!(config.signup.creations_per_address_hour.get(), 48);
    assert_eq!(config.signup.release_unverified_org_number_after, ms(49));
    assert_eq!(config.funding.provider, svea_config::FundingProvider::Stripe);
    let p = &config.payouts;
    assert_eq!((p.rail, p.minimum_ore, p.retry_interval, p.attempts_max, p.call_timeout, p.in_flight_max), (svea_config::PayoutRailKind::Swish, 5100, ms(52), 53, ms(54), 55));
    assert_eq!(p.payee_key, Some(svea_config::PayeeKeyBytes([0x5a; 32])));
    let g = &config.geo;
    assert_eq!(g.db_path, Some(PathBuf::from("/data/geo/city.mmdb")));
    let region = |s: &str| s.parse::<Region>().unwrap();
    assert_eq!(g.default_order, [region("malmo"), region("stockholm")]);
    let net = |s: &str| s.parse::<IpNetwork>().unwrap();
    assert_eq!(
        g.trusted_proxies,
        [net("10.0.0.0/8"), net("127.0.0.1/32"), net("::1/128")]
    );
    assert_eq!(g.reload_interval, ms(28));
    assert_eq!(config.operator.token.as_deref(), Some("0123456789abcdef-operator"));
    let p = &config.pos;
    assert_eq!([p.await_purchase, p.match_window, p.timestamp_tolerance], [ms(29), ms(30), ms(31)]);
    assert_eq!((p.session_failed_tries_max, p.receipt_mismatches_max), (7, 9));
    let a = &config.abuse;
    assert_eq!(
        [
            a.requests_per_second.get(),
            a.burst.get(),
            a.rewarded_sessions_per_device_day,
            a.feedback_fingerprints_kept
        ],
        [29, 30, 32, 35]
    );
    assert_eq!(a.prune_interval, ms(31));
    assert_eq!(a.business_daily_reward_cap_ore, 3300);
    assert_eq!(a.duplicate_similarity_percent, 34);
    assert_eq!([a.rewarded_sessions_per_network_day, a.brake_factor, a.brake_floor_per_hour], [46, 47, 48]);
    assert_eq!(a.declared_amount_max_ore, 4900);
    assert_eq!((a.privacy_requests_per_minute.get(), a.privacy_burst.get()), (36, 37));
    assert_eq!((a.duplicate_containment_percent, a.day_fingerprints_scan_max, a.day_fingerprints_per_business_max), (47, 48, 49));
    assert_eq!((config.signup.signin_link_ttl, config.signup.verify_link_ttl), (ms(61), ms(62)));
    let mail = &config.mail;
    let svea_config::MailSink::Smtp(smtp) = &mail.sink else { panic!("smtp expected: {mail:?}") };
    assert_eq!((smtp.host.as_str(), smtp.port, smtp.tls, smtp.username.as_deref(), smtp.password.as_str()), ("smtp.svea.example", 465, svea_config::SmtpTls::Tls, Some("svea"), "correct-horse-battery"));
    assert_eq!((mail.from.as_str(), mail.timeout, mail.queue_len_max, mail.attempts_max, mail.retry_backoff), ("svea <noreply@svea.example>", ms(63), 64, 5, ms(66)));
    let s = &config.swish;
    assert_eq!(s.api_base, "https://mss.cpc.getswish.net/swish-cpcapi");
    assert_eq!((s.timeout, s.calls_in_flight_max), (ms(50), 51));
    let m = s.merchant.as_ref().expect("swish credentials");
    assert_eq!(
        [m.cert_file.to_str(), m.key_file.to_str(), m.root_ca_file.to_str(), m.signing_key_file.to_str()],
        [Some("/etc/svea/swish.pem"), Some("/etc/svea/swish.key"), Some("/etc/svea/swish-root.pem"), Some("/etc/svea/swish-signing.key")]
    );
    assert_eq!(
        [m.signing_cert_serial.as_str(), m.payer_alias.as_str(), m.callback_url.as_str()],
        ["4F24C03A0295A0B53596240EA8C0F430", "1234679304", "https://svea.example/v1/payouts/swish/callback"]
    );
    // The test above covers the whole published list.
    assert_eq!(env_var_names().len(), 138);
}

#[test]
fn empty_geo_variables_restore_the_defaults_over_the_file() {
    let toml = "[node]\nrouting = \"serve\"\n[geo]\ndb_path = \"/x.mmdb\"\n\
                default_order = [\"malmo\"]\ntrusted_proxies = [\"10.0.0.1\"]\n";
    let config = check_ok(toml, &[]);
    assert_eq!(config.node.routing, Routing::Serve);
    assert!(config.geo.db_path.is_some());
    assert_eq!(config.geo.default_order.len(), 1);
    assert_eq!(config.geo.trusted_proxies.len(), 1);

    let config = check_ok(
        toml,
        &[
            ("SVEA_NODE_ROUTING", " redirect "),
            ("SVEA_GEO_DB_PATH", ""),
            ("SVEA_GEO_DEFAULT_ORDER", ""),
            ("SVEA_GEO_TRUSTED_PROXIES", " "),
        ],
    );
    assert_eq!(config.node.routing, Routing::Redirect);
    assert_eq!(config.geo.db_path, None);
    assert_eq!(config.geo.default_order.len(), 3); // the region table's order
    assert!(config.geo.trusted_proxies.is_empty());
}

#[test]
fn an_unknown_svea_variable_is_refused_by_name() {
    for name in [
        "SVEA_NODE_IDD",
        "SVEA_REGIONS",
        "SVEA_CLUSTER_INITIAL_MEMBERS",
        "SVEA_",
    ] {
        let err = Config::from_toml_str("", &env(&[(name, "1")])).unwrap_err();
        assert!(matches!(err, Error::UnknownEnv { .. }), "{name}: {err}");
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn svea_variables_outside_the_config_sections_are_ignored() {
    // What Kubernetes injects for Services named svea-stockholm, svea-gothenburg, svea-malmo in the
    // pod's namespace (service links: `<NAME>_SERVICE_HOST`, `<NAME>_PORT`, `<NAME>_PORT_<port>_<proto>...`),
    // and the CLI's own token variable: none is a config key and none may stop the node.
    let injected = [
        ("SVEA_STOCKHOLM_SERVICE_HOST", "10.96.0.12"),
        ("SVEA_STOCKHOLM_SERVICE_PORT", "8080"),
        ("SVEA_STOCKHOLM_SERVICE_PORT_HTTP", "8080"),
        ("SVEA_STOCKHOLM_PORT", "tcp://10.96.0.12:8080"),
        ("SVEA_STOCKHOLM_PORT_8080_TCP", "tcp://10.96.0.12:8080"),
        ("SVEA_STOCKHOLM_PORT_8080_TCP_PROTO", "tcp"),
        ("SVEA_STOCKHOLM_PORT_8080_TCP_PORT", "8080"),
        ("SVEA_STOCKHOLM_PORT_8080_TCP_ADDR", "10.96.0.12"),
        ("SVEA_MALMO_PORT_7001_UDP", "udp://10.96.0.14:7001"),
        ("SVEA_OPERATOR_TOKEN_FILE_X", "1"),
        ("SVEA_GOTHENBURG_SERVICE_HOST", "10.96.0.13"),
    ];
    // `SVEA_OPERATOR_TOKEN_FILE_X` is named after `[operator]`: still a typo, still refused.
    let (typo, ignored): (Vec<_>, Vec<_>) = injected.iter().partition(|(n, _)| n.starts_with("SVEA_OPERATOR_"));
    let mut vars: Vec<(&str, &str)> = ignored.into_iter().copied().collect();
    vars.push(("SVEA_NODE_ID", "7"));
    let config = Config::from_toml_str("", &env(&vars)).expect("service links are ignored");
    assert_eq!(config.node.id.get(), 7, "the real key still applies beside them");
    for (name, value) in typo {
        let err = Config::from_toml_str("", &env(&[(name, value)])).unwrap_err();
        assert!(matches!(err, Error::UnknownEnv { .. }), "{name}: {err}");
    }
}

#[test]
fn a_bad_value_is_refused_naming_the_variable() {
    for (name, value) in [
        ("SVEA_NODE_ID", "abc"),
        ("SVEA_NODE_ID", "0"),
        ("SVEA_NODE_ID", "-1"),
        ("SVEA_NODE_REGION", "Stockholm"),
        ("SVEA_NODE_RAFT_ADDR", "localhost"),
        ("SVEA_NODE_RAFT_LISTEN_ADDR", "localhost:7001"),
        ("SVEA_NODE_HTTP_ADDR", "garbage"),
        ("SVEA_NODE_PUBLIC_URL", "ftp://x"),
        ("SVEA_TIMEOUTS_HEARTBEAT_MS", "1.5"),
        ("SVEA_TIMEOUTS_HEARTBEAT_MS", ""),
        ("SVEA_LIMITS_HTTP_BODY_BYTES", "64k"),
        ("SVEA_LIMITS_MAX_FRAME_BYTES", "16MiB"),
        ("SVEA_TIMEOUTS_QUIC_IDLE_MS", "10s"),
        ("SVEA_LOG_FILTER", "in\u{FFFD}fo"), // what env_vars makes of a non-UTF-8 value
        ("SVEA_NODE_ROUTING", "proxy"),
        ("SVEA_LOG_FORMAT", "yaml"),
        ("SVEA_NODE_ROUTING", "Redirect"),
        ("SVEA_CLUSTER_GROUPS", "two"),
        ("SVEA_CLUSTER_GROUPS", "Per-Region"),
        ("SVEA_GEO_DEFAULT_ORDER", "stockholm,Malmo"),
        ("SVEA_GEO_DEFAULT_ORDER", "stockholm,,malmo"),
        ("SVEA_GEO_TRUSTED_PROXIES", "10.0.0.0/33"),
        ("SVEA_GEO_TRUSTED_PROXIES", "10.0.0.1,proxy.example"),
        ("SVEA_GEO_TRUSTED_PROXIES", "10.0.0.1,"),
        ("SVEA_GEO_RELOAD_INTERVAL_MS", "5s"),
    ] {
        let err = Config::from_toml_str("", &env(&[(name, value)])).unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(err, Error::BadEnv { .. }),
            "{name}={value:?}: {message}"
        );
        assert!(message.contains(name), "{message}");
    }
}

#[test]
fn a_rule_broken_by_the_environment_names_the_key_and_the_variable() {
    check_invalid(
        "",
        &[("SVEA_TIMEOUTS_HEARTBEAT_MS", "0")],
        "timeouts.heartbeat_ms",
        "SVEA_TIMEOUTS_HEARTBEAT_MS",
    );
    check_invalid(
        "",
        &[("SVEA_NODE_REGION", "kiruna")],
        "node.region",
        "SVEA_NODE_REGION",
    );
    check_invalid(
        "",
        &[("SVEA_CLUSTER_NAME", " ")],
        "cluster.name",
        "SVEA_CLUSTER_NAME",
    );
    check_invalid(
        "",
        &[("SVEA_TIMEOUTS_QUIC_KEEPALIVE_MS", "10000")],
        "timeouts.quic_keepalive_ms",
        "SVEA_TIMEOUTS_QUIC_KEEPALIVE_MS",
    );
    check_invalid(
        "",
        &[("SVEA_GEO_RELOAD_INTERVAL_MS", "0")],
        "geo.reload_interval_ms",
        "SVEA_GEO_RELOAD_INTERVAL_MS",
    );
    // A list item names its index and the list's variable.
    check_invalid(
        "",
        &[("SVEA_GEO_DEFAULT_ORDER", "malmo,kiruna")],
        "geo.default_order[1]",
        "SVEA_GEO_DEFAULT_ORDER",
    );
    check_invalid(
        "",
        &[("SVEA_GEO_DEFAULT_ORDER", "malmo,stockholm,malmo")],
        "geo.default_order[2]",
        "SVEA_GEO_DEFAULT_ORDER",
    );
}

#[test]
fn apply_env_works_on_a_raw_config_built_in_code() {
    let mut raw = RawConfig::default();
    raw.apply_env(&env(&[("SVEA_NODE_ID", "9")])).unwrap();
    assert_eq!(raw.node.id, 9);
    let err = raw.apply_env(&env(&[("SVEA_NODE_NOPE", "1")])).unwrap_err();
    assert!(err.to_string().contains("SVEA_NODE_NOPE"), "{err}");
    // Not named after a section: not a config variable, ignored.
    raw.apply_env(&env(&[("SVEA_NOPE", "1")])).expect("ignored");
}

#[test]
fn env_vars_collects_only_svea_variables() {
    assert!(env_vars().keys().all(|name| name.starts_with("SVEA_")));
    for (name, key) in env_var_names() {
        assert!(name.starts_with("SVEA_"), "{name}");
        assert_eq!(
            name,
            format!("SVEA_{}", key.replace('.', "_").to_uppercase())
        );
    }
}
