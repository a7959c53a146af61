//! The shipped deploy configs are valid and describe one cluster.

use std::collections::BTreeMap;

#[test]
fn deploy_configs_validate_and_agree_on_the_members() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy");
    // The device key is a secret: it comes from the environment file the deploy guide installs.
    let secrets = BTreeMap::from([("SVEA_PRIVACY_DEVICE_KEY".to_owned(), "k".repeat(svea_config::DEVICE_KEY_MIN_LEN))]);
    let mut members = Vec::new();
    for (id, region) in [(1, "stockholm"), (2, "gothenburg"), (3, "malmo")] {
        let text = std::fs::read_to_string(format!("{dir}/{region}.toml")).expect("deploy config");
        let refused = svea_config::Config::from_toml_str(&text, &BTreeMap::new()).expect_err("a public node needs its device key");
        assert!(refused.to_string().contains("privacy.device_key"), "{refused}");
        let cfg = svea_config::Config::from_toml_str(&text, &secrets).unwrap_or_else(|e| panic!("{region}.toml: {e}"));
        assert_eq!(cfg.node.id.get(), id);
        assert_eq!(cfg.node.region.as_str(), region);
        let m: Vec<_> = cfg.initial_members().iter().map(|m| (m.id.get(), m.region.to_string(), m.raft_addr)).collect();
        assert_eq!(m.len(), 3, "{region}.toml lists three voters");
        members.push(m);
    }
    assert!(members.windows(2).all(|w| w[0] == w[1]), "the three configs list different members: {members:?}");
}
