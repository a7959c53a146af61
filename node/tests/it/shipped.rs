//! What a plain build ships: the `svea` binary never contains the bugs the simulations plant.

use std::process::Command;

/// `cargo build` (the workspace's default members, as the README and the deploy docs build
/// `svea`) must resolve `svea-storage` without its `planted-bugs` feature. Asked of cargo's own
/// resolver, so it holds for every build from this manifest, not only the one that ran the test.
#[test]
fn a_default_build_compiles_no_planted_bugs() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .current_dir(root)
        .args(["tree", "--locked", "--offline", "-e", "features", "-i", "svea-storage"])
        .output()
        .expect("run cargo tree");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(tree.contains("svea-node"), "the default build contains svea-node:\n{tree}");
    assert!(!tree.contains("planted-bugs"), "a default build turns on planted-bugs:\n{tree}");

    // The check itself can fail: the whole workspace (simulations included) does turn it on.
    let all = Command::new(&cargo)
        .current_dir(root)
        .args(["tree", "--locked", "--offline", "--workspace", "-e", "features", "-i", "svea-storage"])
        .output()
        .expect("run cargo tree --workspace");
    assert!(String::from_utf8_lossy(&all.stdout).contains("planted-bugs"), "the simulations' build should show the feature");
}
