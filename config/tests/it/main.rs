//! Integration tests for svea-config: defaults, files, environment overrides, and every
//! validation rule naming its key.

mod env;
mod example;
mod load;
mod overrides;
mod validate;

use std::collections::BTreeMap;

use svea_config::{Config, Error};

/// An environment map from pairs.
pub fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Load `toml` with `env` pairs, expecting success.
#[track_caller]
pub fn check_ok(toml: &str, env_pairs: &[(&str, &str)]) -> Config {
    match Config::from_toml_str(toml, &env(env_pairs)) {
        Ok(config) => config,
        Err(e) => panic!("expected a valid config, got: {e}\n--- toml ---\n{toml}"),
    }
}

/// Load `toml` with `env` pairs, expecting `Error::Invalid` for `key` whose message mentions `reason_part`.
#[track_caller]
pub fn check_invalid(toml: &str, env_pairs: &[(&str, &str)], key: &str, reason_part: &str) {
    match Config::from_toml_str(toml, &env(env_pairs)) {
        Err(e @ Error::Invalid { .. }) => {
            let message = e.to_string();
            let Error::Invalid { key: got_key, .. } = &e else {
                unreachable!()
            };
            assert_eq!(got_key, key, "wrong key in: {message}");
            assert!(
                message.contains(key),
                "message does not name {key}: {message}"
            );
            assert!(
                message.contains(reason_part),
                "message for {key} does not say {reason_part:?}: {message}"
            );
        }
        Err(other) => panic!("expected invalid {key}, got other error: {other}"),
        Ok(_) => {
            panic!("expected invalid {key}, but the config was accepted\n--- toml ---\n{toml}")
        }
    }
}

/// Three nodes, this one being node 1 in stockholm, matching the defaults of `[node]`.
pub const THREE_MEMBERS: &str = r#"
[[cluster.initial_members]]
id = 1
region = "stockholm"
raft_addr = "127.0.0.1:7001"
http_addr = "127.0.0.1:8080"
public_url = "http://127.0.0.1:8080"

[[cluster.initial_members]]
id = 2
region = "gothenburg"
raft_addr = "127.0.0.1:7002"
http_addr = "127.0.0.1:8081"
public_url = "http://127.0.0.1:8081"

[[cluster.initial_members]]
id = 3
region = "malmo"
raft_addr = "127.0.0.1:7003"
http_addr = "127.0.0.1:8082"
public_url = "http://127.0.0.1:8082"
"#;
