//! `config/example.toml` stays valid and documents every key with its true default.

use std::path::Path;

use svea_config::{Config, RawConfig};

use crate::env;

const EXAMPLE: &str = include_str!("../../example.toml");

/// The example with every `# key = value` line turned on; `##` lines stay comments.
fn uncommented() -> String {
    EXAMPLE
        .lines()
        .map(|line| {
            if line == "#" {
                ""
            } else if line.starts_with("##") {
                line
            } else {
                line.strip_prefix("# ").unwrap_or(line)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_example_file_loads_and_validates_to_the_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("example.toml");
    let config = Config::load(Some(&path), &env(&[])).unwrap();
    assert_eq!(config, RawConfig::default().validate().unwrap());
}

#[test]
fn the_commented_values_in_the_example_are_the_real_defaults() {
    let raw = RawConfig::from_toml_str(&uncommented()).unwrap();
    assert_eq!(raw, RawConfig::default());
}

#[test]
fn the_example_documents_every_key() {
    let mut documented: toml::Table = toml::from_str(&uncommented()).unwrap();
    let mut all: toml::Table =
        toml::from_str(&toml::to_string(&RawConfig::default()).unwrap()).unwrap();
    // The members list is empty by default; the example documents it in prose instead.
    for table in [&mut documented, &mut all] {
        if let Some(toml::Value::Table(cluster)) = table.get_mut("cluster") {
            cluster.remove("initial_members");
        }
    }
    assert_eq!(documented, all);
    assert!(EXAMPLE.contains("[[cluster.initial_members]]"));
}
