//! Backup and restore through real processes: `svea backup` under customer load, `svea restore`
//! into a fresh three-node cluster, every write acknowledged before the backup present there
//! with consistent budgets and analytics, and damaged files refused with their own error.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::harness::{create_business, eventually, free_port, svea_cli, Cluster3, OPERATOR_TOKEN};
use crate::load::{at_least, Load};

/// "12.50" as öre.
fn ore(v: &serde_json::Value) -> i64 {
    let s = v.as_str().unwrap_or("0");
    let (whole, frac) = s.split_once('.').unwrap_or((s, "0"));
    whole.parse::<i64>().expect("kronor") * 100 + format!("{frac:0<2}")[..2].parse::<i64>().expect("öre")
}

fn take_backup(node: &str, out: &Path) -> (Option<i32>, String, String) {
    svea_cli(&["backup", "--node", node, "--out", &out.display().to_string()], &[("SVEA_OPERATOR_TOKEN", OPERATOR_TOKEN)])
}

fn restore(file: &Path, config: &Path, data_dir: Option<&Path>) -> (Option<i32>, String, String) {
    let (file, config) = (file.display().to_string(), config.display().to_string());
    let dd = data_dir.map(|d| d.display().to_string());
    let mut args = vec!["restore", "--from", file.as_str(), "--config", config.as_str()];
    if let Some(d) = &dd {
        args.extend(["--data-dir", d.as_str()]);
    }
    svea_cli(&args, &[])
}

fn analytics(n: &crate::harness::NodeProc, biz: &crate::harness::Biz) -> serde_json::Value {
    let a = n.get_as(&format!("/v1/businesses/{}/analytics", biz.id), &biz.key);
    assert_eq!(a.status, 200, "{}", a.body);
    a.body
}

#[test]
fn a_backup_under_load_restores_into_a_new_cluster_with_every_acknowledged_write() {
    let dir = tempfile::tempdir().expect("tmp");
    let src = Cluster3::start(&dir.path().join("src"), &[]);
    let biz = create_business(&src.nodes[0], "100000.00");
    let load = Load::start(src.nodes.iter().map(|n| n.url.clone()).collect(), &biz.token, 4);
    eventually(Duration::from_secs(60), "rewarded flows before the backup", || (load.flows.load(Ordering::Relaxed) >= 5).then_some(()));
    let file = dir.path().join("svea.backup");
    let started = Instant::now();
    let (code, out, err) = take_backup(&src.nodes[1].operator_url, &file);
    assert_eq!(code, Some(0), "svea backup: {out}{err}");
    assert!(out.contains("raft index"), "{out}");
    assert!(!dir.path().join("svea.backup.tmp").exists(), "the temporary file is renamed");
    let (code, out, err) = svea_cli(&["verify-backup", "--file", &file.display().to_string()], &[]);
    assert_eq!(code, Some(0), "verify-backup: {out}{err}");
    // More load after the backup: none of it may change what the check expects.
    let after = load.flows.load(Ordering::Relaxed);
    eventually(Duration::from_secs(60), "flows after the backup", || (load.flows.load(Ordering::Relaxed) > after + 2).then_some(()));
    let log = load.stop();
    assert!(log.failures.is_empty(), "load failures: {:?}", log.failures);

    // Damaged files: each refused with its own error, nothing written.
    let bytes = std::fs::read(&file).expect("read backup");
    let cfg = src.nodes[2].config.clone();
    let scratch = dir.path().join("scratch");
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 0x01;
    let cases: [(&str, Vec<u8>, &str); 3] = [
        ("corrupt", flipped, "corrupt backup"),
        ("truncated", bytes[..bytes.len() - 100].to_vec(), "truncated backup"),
        ("foreign", std::fs::read(&cfg).expect("a config file"), "not a svea backup"),
    ];
    for (name, content, says) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, content).expect("write");
        let (code, _, err) = restore(&path, &cfg, Some(&scratch));
        assert_eq!(code, Some(1), "{name} file accepted");
        assert!(err.contains(says), "{name}: {err}");
        assert!(!scratch.join("store").exists(), "{name}: something was written");
        let (code, _, err) = svea_cli(&["verify-backup", "--file", &path.display().to_string()], &[]);
        assert_eq!(code, Some(1), "{name} file verified");
        assert!(err.contains(says), "verify-backup {name}: {err}");
    }
    // A data directory that holds a store already is refused.
    let (code, _, err) = restore(&file, &cfg, None);
    assert_eq!(code, Some(1), "restore over a live store");
    assert!(err.contains("not empty"), "{err}");
    drop(src);

    // A fresh cluster: stockholm and gothenburg restored from the file, malmo started empty
    // (it receives the state by snapshot).
    let dst = Cluster3::start_prepared(&dir.path().join("dst"), &[("node.routing", "serve")], [&[], &[], &[]], |configs| {
        for config in &configs[..2] {
            let (code, out, err) = restore(&file, config, None);
            assert_eq!(code, Some(0), "svea restore: {out}{err}");
        }
    });
    let acked_before: Vec<_> = log.acks.iter().filter(|a| a.at < started).collect();
    assert!(!acked_before.is_empty(), "nothing acknowledged before the backup");
    for node in &dst.nodes {
        // Every step acknowledged before the backup began is there, at that state or later.
        for a in &acked_before {
            let r = node.get(&format!("/v1/sessions/{}", a.session));
            assert_eq!(r.status, 200, "session {} acknowledged before the backup is missing at {}: {}", a.session, node.url, r.body);
            let seen = r.body["state"].as_str().unwrap_or_default();
            assert!(at_least(seen, &a.state), "session {}: acknowledged {} but restored {seen}", a.session, a.state);
            if let Some(reward) = &a.reward_sek {
                assert_eq!(r.body["reward_sek"].as_str(), Some(reward.as_str()), "session {}", a.session);
            }
        }
    }
    // Budgets: initial - paid, paid being exactly the rewards of the restored sessions.
    let restored = analytics(&dst.nodes[2], &biz);
    let mut paid = 0;
    for sid in log.last_states().keys() {
        let r = dst.nodes[0].get(&format!("/v1/sessions/{sid}"));
        if r.status == 200 && r.body["state"] == "rewarded" {
            paid += ore(&r.body["reward_sek"]);
        }
    }
    assert!(paid > 0, "no reward restored");
    assert_eq!(ore(&restored["rewards_paid_sek"]), paid, "{restored}");
    assert_eq!(ore(&restored["remaining_budget_sek"]), 100_000_00 - paid, "{restored}");
    for node in &dst.nodes {
        assert_eq!(analytics(node, &biz), restored, "analytics differ at {}", node.url);
    }
    // The restored cluster takes new writes.
    create_business(&dst.nodes[2], "10.00");
}

#[test]
fn a_quiet_cluster_restores_to_identical_analytics() {
    let dir = tempfile::tempdir().expect("tmp");
    let src = Cluster3::start(&dir.path().join("src"), &[]);
    let biz = create_business(&src.nodes[0], "500.00");
    let load = Load::start(vec![src.nodes[0].url.clone()], &biz.token, 2);
    eventually(Duration::from_secs(60), "rewarded flows", || (load.flows.load(Ordering::Relaxed) >= 3).then_some(()));
    let log = load.stop();
    assert!(log.failures.is_empty(), "{:?}", log.failures);
    let before = analytics(&src.nodes[0], &biz);
    let file = dir.path().join("quiet.backup");
    let (code, out, err) = take_backup(&src.nodes[2].operator_url, &file);
    assert_eq!(code, Some(0), "{out}{err}");
    // Feedback texts are in the file and in the data directories: owner only.
    assert_eq!(mode(&file), 0o600, "the backup file");
    assert_private_stores(&dir.path().join("src"), 3);
    drop(src);
    let dst = Cluster3::start_prepared(&dir.path().join("dst"), &[("node.routing", "serve")], [&[], &[], &[]], |configs| {
        for config in configs {
            let (code, out, err) = restore(&file, config, None);
            assert_eq!(code, Some(0), "{out}{err}");
        }
    });
    for node in &dst.nodes {
        assert_eq!(analytics(node, &biz), before, "analytics at {}", node.url);
    }
    assert_private_stores(&dir.path().join("dst"), 3);
}

/// Issue 22: a backup of several Raft groups names each group's cut, and a member whose
/// configuration runs fewer groups refuses it (exit 1, nothing written) instead of dropping a
/// group's data.
#[test]
fn a_backup_of_more_groups_than_the_configuration_runs_is_refused_and_each_groups_cut_is_printed() {
    use svea_storage::backup::{BackupMeta, Section};
    let dir = tempfile::tempdir().expect("tmp");
    let at = |index| Some(openraft::LogId::new(openraft::CommittedLeaderId::new(2, 1), index));
    let sections = vec![
        Section { group: 0, applied: at(17), pairs: vec![(b"c/maintenance".to_vec(), b"off".to_vec())] },
        Section { group: 1, applied: at(23), pairs: vec![(b"o/session/s_1".to_vec(), vec![1]), (b"s/session/s_1".to_vec(), vec![2])] },
    ];
    let meta = BackupMeta { cluster: "svea".into(), storage_format: svea_storage::FORMAT, created_at_ms: 0, node: 1, groups: Vec::new() };
    let file = dir.path().join("two-groups.backup");
    svea_storage::backup::write_all(meta, sections, std::fs::File::create(&file).expect("create")).expect("write");

    let (code, out, err) = svea_cli(&["verify-backup", "--from", &file.display().to_string()], &[]);
    assert_eq!(code, Some(0), "verify-backup: {out}{err}");
    assert!(out.contains("2 raft group(s)"), "{out}");
    assert!(out.contains("group 0: raft index 17 (term 2), 1 records"), "{out}");
    assert!(out.contains("group 1: raft index 23 (term 2), 2 records"), "{out}");

    let config = svea_config::loopback::Cluster::new("svea", [svea_config::loopback::Node::loopback(1, "stockholm", free_port(), free_port())])
        .dir(dir.path())
        .set("cluster.groups", "one")
        .write_node(0, "Written by the svea tests.")
        .expect("write config");
    let data = dir.path().join("data");
    let (code, out, err) = restore(&file, &config, Some(&data));
    assert_eq!(code, Some(1), "a backup of 2 groups restored into a node of 1: {out}{err}");
    assert!(err.contains("the backup holds 2 raft groups (up to group 1), the restoring configuration runs 1"), "{err}");
    assert!(!data.join("store").exists(), "nothing written");
}

/// Permission bits of `path`.
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

/// Every node's store below `root` (a directory named `store`) and its data directory are
/// owner-only; there are `nodes` of them.
fn assert_private_stores(root: &Path, nodes: usize) {
    let mut found = 0;
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            if !p.is_dir() {
                continue;
            }
            if p.file_name().is_some_and(|n| n == "store") {
                found += 1;
                assert_eq!(mode(&p), 0o700, "{}", p.display());
                let data_dir = p.parent().expect("a data directory");
                assert_eq!(mode(data_dir), 0o700, "{}", data_dir.display());
            } else {
                dirs.push(p);
            }
        }
    }
    assert_eq!(found, nodes, "stores under {}", root.display());
}
