//! `SVEA_*` environment overrides, applied to a [`RawConfig`] from a map the caller passes in.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::raw::RawConfig;
use crate::typed::Routing;
use crate::validate::{check_network, check_public_url, check_socket_addr};
use crate::{Error, NodeId, Region};

/// Every overriding variable starts with this; any other variable in the map is ignored.
pub const ENV_PREFIX: &str = "SVEA_";

type Setter = fn(&mut RawConfig, &str) -> Result<(), String>;

/// Dotted keys that the environment may override, with how to apply a value.
/// The variable name is derived from the key: `timeouts.heartbeat_ms` -> `SVEA_TIMEOUTS_HEARTBEAT_MS`.
/// Lists of tables (`regions`, `cluster.initial_members`) are deliberately absent: they do not fit
/// in one variable. Lists of plain values (`geo.default_order`, `geo.trusted_proxies`) are
/// comma-separated; an empty variable is an empty list.
const OVERRIDES: &[(&str, Setter)] = &[
    ("node.id", |c, v| {
        c.node.id = v
            .trim()
            .parse::<NodeId>()
            .map_err(Error::into_reason)?
            .get();
        Ok(())
    }),
    ("node.region", |c, v| {
        c.node.region = Region::new(v).map_err(Error::into_reason)?.into();
        Ok(())
    }),
    ("node.raft_addr", |c, v| {
        c.node.raft_addr = addr(v)?;
        Ok(())
    }),
    ("node.raft_listen_addr", |c, v| {
        // Empty sets it back to "same as node.raft_addr", like an empty value in the file.
        c.node.raft_listen_addr = if v.trim().is_empty() {
            String::new()
        } else {
            addr(v)?
        };
        Ok(())
    }),
    ("node.http_addr", |c, v| {
        c.node.http_addr = addr(v)?;
        Ok(())
    }),
    ("node.public_url", |c, v| {
        c.node.public_url = check_public_url(v)?;
        Ok(())
    }),
    ("node.data_dir", |c, v| {
        c.node.data_dir = v.to_owned();
        Ok(())
    }),
    ("node.routing", |c, v| {
        c.node.routing = Routing::parse(v.trim())?.as_str().to_owned();
        Ok(())
    }),
    ("cluster.name", |c, v| {
        c.cluster.name = v.to_owned();
        Ok(())
    }),
    ("tls.ca_cert", |c, v| {
        c.tls.ca_cert = v.to_owned();
        Ok(())
    }),
    ("tls.node_cert", |c, v| {
        c.tls.node_cert = v.to_owned();
        Ok(())
    }),
    ("tls.node_key", |c, v| {
        c.tls.node_key = v.to_owned();
        Ok(())
    }),
    ("timeouts.heartbeat_ms", |c, v| {
        set(&mut c.timeouts.heartbeat_ms, v)
    }),
    ("timeouts.election_timeout_ms_min", |c, v| {
        set(&mut c.timeouts.election_timeout_ms_min, v)
    }),
    ("timeouts.election_timeout_ms_max", |c, v| {
        set(&mut c.timeouts.election_timeout_ms_max, v)
    }),
    ("timeouts.raft_rpc_timeout_ms", |c, v| {
        set(&mut c.timeouts.raft_rpc_timeout_ms, v)
    }),
    ("timeouts.client_write_timeout_ms", |c, v| {
        set(&mut c.timeouts.client_write_timeout_ms, v)
    }),
    ("timeouts.storage_flush_timeout_ms", |c, v| {
        set(&mut c.timeouts.storage_flush_timeout_ms, v)
    }),
    ("timeouts.actor_idle_ms", |c, v| {
        set(&mut c.timeouts.actor_idle_ms, v)
    }),
    ("timeouts.session_expiry_ms", |c, v| {
        set(&mut c.timeouts.session_expiry_ms, v)
    }),
    ("timeouts.expiry_sweep_ms", |c, v| {
        set(&mut c.timeouts.expiry_sweep_ms, v)
    }),
    ("timeouts.failover_after_ms", |c, v| {
        set(&mut c.timeouts.failover_after_ms, v)
    }),
    ("timeouts.shutdown_grace_ms", |c, v| {
        set(&mut c.timeouts.shutdown_grace_ms, v)
    }),
    ("timeouts.quic_idle_ms", |c, v| {
        set(&mut c.timeouts.quic_idle_ms, v)
    }),
    ("timeouts.quic_keepalive_ms", |c, v| {
        set(&mut c.timeouts.quic_keepalive_ms, v)
    }),
    ("timeouts.connect_ms", |c, v| {
        set(&mut c.timeouts.connect_ms, v)
    }),
    ("timeouts.membership_change_ms", |c, v| set(&mut c.timeouts.membership_change_ms, v)),
    ("operator.token", |c, v| {
        c.operator.token = v.trim().to_owned();
        Ok(())
    }),
    ("timeouts.reconnect_backoff_ms_max", |c, v| {
        set(&mut c.timeouts.reconnect_backoff_ms_max, v)
    }),
    ("limits.http_body_bytes", |c, v| {
        set(&mut c.limits.http_body_bytes, v)
    }),
    ("limits.actor_mailbox_len", |c, v| {
        set(&mut c.limits.actor_mailbox_len, v)
    }),
    ("limits.registry_queue_len", |c, v| {
        set(&mut c.limits.registry_queue_len, v)
    }),
    ("limits.snapshot_logs_since_last", |c, v| {
        set(&mut c.limits.snapshot_logs_since_last, v)
    }),
    ("limits.max_in_snapshot_log_to_keep", |c, v| {
        set(&mut c.limits.max_in_snapshot_log_to_keep, v)
    }),
    ("limits.max_frame_bytes", |c, v| {
        set(&mut c.limits.max_frame_bytes, v)
    }),
    ("limits.max_snapshot_bytes", |c, v| {
        set(&mut c.limits.max_snapshot_bytes, v)
    }),
    ("log.filter", |c, v| {
        c.log.filter = v.to_owned();
        Ok(())
    }),
    ("geo.db_path", |c, v| {
        // Empty sets it back to the bundled database, like an empty value in the file.
        c.geo.db_path = v.to_owned();
        Ok(())
    }),
    ("geo.default_order", |c, v| {
        // Empty sets it back to the region table's order; membership is checked in validation.
        c.geo.default_order = list(v, |name| {
            Region::new(name)
                .map(String::from)
                .map_err(|e| format!("{name:?}: {}", e.into_reason()))
        })?;
        Ok(())
    }),
    ("geo.trusted_proxies", |c, v| {
        c.geo.trusted_proxies = list(v, |net| check_network(net).map(|_| net.to_owned()))?;
        Ok(())
    }),
    ("geo.reload_interval_ms", |c, v| {
        set(&mut c.geo.reload_interval_ms, v)
    }),
];

fn set<T: std::str::FromStr>(field: &mut T, value: &str) -> Result<(), String> {
    *field = value
        .trim()
        .parse()
        .map_err(|_| format!("expected a whole number, got {value:?}"))?;
    Ok(())
}

/// A comma-separated list, items trimmed and checked one by one; empty or blank is the empty list.
fn list(
    value: &str,
    check: impl Fn(&str) -> Result<String, String>,
) -> Result<Vec<String>, String> {
    if value.trim().is_empty() {
        return Ok(Vec::new());
    }
    value
        .split(',')
        .enumerate()
        .map(|(i, item)| match item.trim() {
            "" => Err(format!("item {} of {value:?} is empty", i + 1)),
            item => check(item),
        })
        .collect()
}

fn addr(value: &str) -> Result<String, String> {
    let addr: SocketAddr = check_socket_addr(value.trim())?;
    Ok(addr.to_string())
}

/// The environment variable that overrides a dotted key.
fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.replace('.', "_").to_ascii_uppercase())
}

/// Names of all variables that [`RawConfig::apply_env`] understands, paired with the key each overrides.
pub fn env_var_names() -> Vec<(String, &'static str)> {
    OVERRIDES
        .iter()
        .map(|(key, _)| (env_name(key), *key))
        .collect()
}

/// Apply `SVEA_*` entries of `env`; returns which dotted key was set by which variable.
pub(crate) fn apply(
    raw: &mut RawConfig,
    env: &BTreeMap<String, String>,
) -> Result<BTreeMap<&'static str, String>, Error> {
    let known: BTreeMap<String, (&'static str, Setter)> = OVERRIDES
        .iter()
        .map(|(key, setter)| (env_name(key), (*key, *setter)))
        .collect();
    let mut applied = BTreeMap::new();
    for (name, value) in env.range(ENV_PREFIX.to_owned()..) {
        if !name.starts_with(ENV_PREFIX) {
            break; // the map is sorted: past the prefix, nothing more is ours
        }
        let Some((key, setter)) = known.get(name) else {
            return Err(Error::UnknownEnv { name: name.clone() });
        };
        // `env_vars` converts lossily; a replacement character means the real value was not UTF-8.
        if value.contains(char::REPLACEMENT_CHARACTER) {
            return Err(Error::BadEnv {
                name: name.clone(),
                reason: format!("value {value:?} is not valid utf-8"),
            });
        }
        setter(raw, value).map_err(|reason| Error::BadEnv {
            name: name.clone(),
            reason,
        })?;
        applied.insert(*key, name.clone());
    }
    Ok(applied)
}

/// The process environment's `SVEA_*` variables. The only place in svea that reads the environment.
///
/// Values that are not UTF-8 are kept (lossily converted) so that applying them fails loudly
/// with [`Error::BadEnv`] instead of being silently skipped.
pub fn env_vars() -> BTreeMap<String, String> {
    std::env::vars_os()
        .map(|(name, value)| {
            (
                name.to_string_lossy().into_owned(),
                value.to_string_lossy().into_owned(),
            )
        })
        .filter(|(name, _)| name.starts_with(ENV_PREFIX))
        .collect()
}
