//! `SVEA_*` environment overrides, applied to a [`RawConfig`] from a map the caller passes in.
//!
//! The rule: every dotted key that takes one value (see [`RawConfig::set`]) is overridden by the
//! variable named `SVEA_` + the key with dots as underscores, in upper case:
//! `timeouts.heartbeat_ms` -> `SVEA_TIMEOUTS_HEARTBEAT_MS`. Lists of tables (`regions`,
//! `cluster.initial_members`) do not fit in one variable and have none; lists of plain values
//! (`geo.default_order`, `geo.trusted_proxies`) are comma-separated, an empty variable being the
//! empty list.
//!
//! Which `SVEA_*` variables are svea's: those named after a section of the configuration
//! (`SVEA_NODE_...`, `SVEA_ABUSE_...`, `SVEA_REGIONS`, ...). Such a variable that names no key is a
//! typo and is refused by name. Any other `SVEA_*` variable is not a configuration key and is
//! ignored: Kubernetes injects `<SERVICE>_PORT`, `<SERVICE>_SERVICE_HOST`, ... for every Service in
//! the namespace, so a Service named `svea-stockholm` gives a pod `SVEA_STOCKHOLM_PORT`, and the
//! command line's own variables (`SVEA_OPERATOR_TOKEN` for `svea cluster`) live beside the keys.

use std::collections::BTreeMap;

use crate::raw::RawConfig;
use crate::{overrides, Error};

/// Every overriding variable starts with this; any other variable in the map is ignored.
pub const ENV_PREFIX: &str = "SVEA_";

/// The environment variable that overrides a dotted key.
fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.replace('.', "_").to_ascii_uppercase())
}

/// Names of all variables that [`RawConfig::apply_env`] understands, paired with the dotted key
/// each overrides.
pub fn env_var_names() -> Vec<(String, String)> {
    overrides::keys()
        .into_iter()
        .map(|key| (env_name(&key), key))
        .collect()
}

/// Apply `SVEA_*` entries of `env`; returns which dotted key was set by which variable.
pub(crate) fn apply(
    raw: &mut RawConfig,
    env: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, Error> {
    let known: BTreeMap<String, String> = env_var_names().into_iter().collect();
    let sections: Vec<String> = overrides::sections().iter().map(|s| env_name(s)).collect();
    let mut applied = BTreeMap::new();
    for (name, value) in env.range(ENV_PREFIX.to_owned()..) {
        if !name.starts_with(ENV_PREFIX) {
            break; // the map is sorted: past the prefix, nothing more is ours
        }
        let Some(key) = known.get(name) else {
            if names_a_section(name, &sections) {
                return Err(Error::UnknownEnv { name: name.clone() });
            }
            continue; // not a configuration variable (see the module's documentation)
        };
        // `env_vars` converts lossily; a replacement character means the real value was not UTF-8.
        if value.contains(char::REPLACEMENT_CHARACTER) {
            return Err(Error::BadEnv {
                name: name.clone(),
                reason: format!("value {value:?} is not valid utf-8"),
            });
        }
        raw.set(key, value).map_err(|error| match error {
            Error::BadValue { reason, .. } => Error::BadEnv {
                name: name.clone(),
                reason,
            },
            other => other,
        })?;
        applied.insert(key.clone(), name.clone());
    }
    Ok(applied)
}

/// Whether `name` is `SVEA_<SECTION>` or starts with `SVEA_<SECTION>_` for a section of the
/// configuration (`section_vars` are the sections' variable names), or is the bare prefix.
fn names_a_section(name: &str, section_vars: &[String]) -> bool {
    name == ENV_PREFIX
        || section_vars.iter().any(|section| {
            name.strip_prefix(section.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('_'))
        })
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
