//! Dotted-key overrides: one value, named by its dotted key (`timeouts.heartbeat_ms`) and given as
//! text, written into a [`RawConfig`] through its TOML tree.
//!
//! The text is read by the type the key holds in the tree (every key is there: the raw config
//! serializes all its fields): a string key takes the text as it is, a number or boolean key
//! parses the trimmed text, a list key takes comma-separated strings (items trimmed; empty text is
//! the empty list). A few keys have a format of their own beyond their TOML type (a node id, an
//! address, a region name...), checked here so a malformed value is refused naming its key; rules
//! that relate keys to each other wait for validation. The environment ([`crate::env`]), the
//! loopback cluster builder ([`crate::loopback`]) and tests all override through
//! [`RawConfig::set`].

use std::net::SocketAddr;

use toml::Value;

use crate::raw::RawConfig;
use crate::typed::{GroupLayout, LogFormat, Routing};
use crate::validate::{check_host_entry, check_network, check_public_url, check_socket_addr};
use crate::{Error, NodeId, PeerAddr, Region};

impl RawConfig {
    /// Set the value at the dotted `key` from its text `value` (see the module docs for how the
    /// text is read). An unknown key is [`Error::UnknownKey`]; a value that does not fit the key's
    /// type or format is [`Error::BadValue`] naming the key and the value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), Error> {
        let bad = |reason: String| Error::BadValue {
            key: key.to_owned(),
            reason,
        };
        let mut tree = self.to_tree()?;
        let slot = leaf_mut(&mut tree, key).ok_or_else(|| Error::UnknownKey {
            key: key.to_owned(),
        })?;
        *slot = read(key, slot, value).map_err(bad)?;
        *self = tree
            .try_into()
            .map_err(|e: toml::de::Error| bad(format!("{value:?}: {}", e.message().trim_end())))?;
        Ok(())
    }

    /// Set every `(dotted key, text value)` pair in order, as [`RawConfig::set`] does.
    pub fn set_all<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        overrides: impl IntoIterator<Item = (K, V)>,
    ) -> Result<(), Error> {
        overrides
            .into_iter()
            .try_for_each(|(key, value)| self.set(key.as_ref(), value.as_ref()))
    }

    /// The config as a TOML tree, every field present.
    fn to_tree(&self) -> Result<Value, Error> {
        Value::try_from(self).map_err(|e| Error::Serialize {
            message: e.to_string(),
        })
    }
}

/// Every dotted key that takes one value given as text: each key of the tree that holds a string,
/// a number, a boolean or a list of strings (so not `regions` and `cluster.initial_members`,
/// which are lists of tables), in the tree's order.
pub(crate) fn keys() -> Vec<String> {
    let tree = RawConfig::default()
        .to_tree()
        .expect("the defaults serialize: every default number fits in TOML's i64");
    let mut keys = Vec::new();
    collect_leaves(&tree, "", &mut keys);
    keys.retain(|key| takes_text(&tree, key));
    keys
}

/// The top-level names of the configuration (`node`, `regions`, `cluster`, `abuse`, ...): every
/// section and every list of tables, in the tree's order.
pub(crate) fn sections() -> Vec<String> {
    let tree = RawConfig::default()
        .to_tree()
        .expect("the defaults serialize: every default number fits in TOML's i64");
    match tree {
        Value::Table(table) => table.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

fn collect_leaves(value: &Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        Value::Table(table) => {
            for (name, value) in table {
                let key = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                collect_leaves(value, &key, out);
            }
        }
        _ => out.push(prefix.to_owned()),
    }
}

/// Whether `key` of `tree` takes a text value: anything but a list, or a list that accepts a
/// list of strings (an empty default list does not say what its items are, deserializing does).
fn takes_text(tree: &Value, key: &str) -> bool {
    let mut probe = tree.clone();
    match leaf_mut(&mut probe, key) {
        Some(slot @ Value::Array(_)) => {
            *slot = Value::Array(vec![Value::String(String::new())]);
            probe.try_into::<RawConfig>().is_ok()
        }
        Some(_) => true,
        None => false,
    }
}

/// The value at a dotted key, if the key names a value (not a section) in the tree.
fn leaf_mut<'a>(tree: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    let slot = key
        .split('.')
        .try_fold(tree, |value, name| value.as_table_mut()?.get_mut(name))?;
    (!slot.is_table()).then_some(slot)
}

/// The text `value` as the TOML value `key` takes, of the type `current` has.
fn read(key: &str, current: &Value, value: &str) -> Result<Value, String> {
    let format = format_of(key);
    Ok(match current {
        Value::String(_) => Value::String(format(value)?),
        Value::Integer(_) => {
            let text = format(value)?;
            Value::Integer(
                text.trim()
                    .parse()
                    .map_err(|_| format!("expected a whole number, got {value:?}"))?,
            )
        }
        Value::Float(_) => Value::Float(
            value
                .trim()
                .parse()
                .map_err(|_| format!("expected a number, got {value:?}"))?,
        ),
        Value::Boolean(_) => Value::Boolean(
            value
                .trim()
                .parse()
                .map_err(|_| format!("expected true or false, got {value:?}"))?,
        ),
        Value::Array(_) => Value::Array(list(value, format)?),
        Value::Datetime(_) | Value::Table(_) => {
            return Err(format!("cannot be set from the text {value:?}"))
        }
    })
}

/// A comma-separated list, items trimmed and checked one by one; empty or blank is the empty list.
fn list(value: &str, format: Format) -> Result<Vec<Value>, String> {
    if value.trim().is_empty() {
        return Ok(Vec::new());
    }
    value
        .split(',')
        .enumerate()
        .map(|(i, item)| match item.trim() {
            "" => Err(format!("item {} of {value:?} is empty", i + 1)),
            item => format(item).map(Value::String),
        })
        .collect()
}

/// Checks a value's (or a list item's) text and returns it in its canonical form.
type Format = fn(&str) -> Result<String, String>;

/// The format of the keys whose values have one beyond their TOML type; any other text passes.
fn format_of(key: &str) -> Format {
    match key {
        "node.id" => |v| {
            let id: NodeId = v.trim().parse().map_err(Error::into_reason)?;
            Ok(id.to_string())
        },
        "node.region" | "geo.default_order" => |v| {
            Region::new(v)
                .map(String::from)
                .map_err(|e| format!("{v:?}: {}", e.into_reason()))
        },
        "node.raft_addr" => |v| v.parse::<PeerAddr>().map(|a| a.to_string()),
        "node.http_addr" => addr,
        "cluster.hosts" => |v| check_host_entry(v).map(|(name, ip)| format!("{name}={ip}")),
        // Empty means "the same as node.raft_addr", like an empty value in the file.
        "node.raft_listen_addr" => |v| match v.trim() {
            "" => Ok(String::new()),
            _ => addr(v),
        },
        "node.public_url" => check_public_url,
        "node.routing" => |v| Ok(Routing::parse(v.trim())?.as_str().to_owned()),
        "cluster.groups" => |v| Ok(GroupLayout::parse(v.trim())?.as_str().to_owned()),
        "log.format" => |v| Ok(LogFormat::parse(v.trim())?.as_str().to_owned()),
        "geo.trusted_proxies" => |v| check_network(v).map(|_| v.to_owned()),
        _ => |v| Ok(v.to_owned()),
    }
}

fn addr(value: &str) -> Result<String, String> {
    let addr: SocketAddr = check_socket_addr(value.trim())?;
    Ok(addr.to_string())
}
