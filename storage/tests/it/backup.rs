//! Backups of a store of several Raft groups: each group's cut in its own section, restored into
//! that group's trees and no other; version-1 files (one group) still read; damaged files refused
//! before anything is written.

use std::collections::BTreeMap;
use std::time::Duration;

use openraft::storage::{RaftLogStorage, RaftStateMachine};
use openraft::{CommittedLeaderId, LogId};
use svea_storage::backup::{self, BackupMeta, Body, GroupCut, Section};
use svea_storage::{Error, SveaNode};

type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

fn meta() -> BackupMeta {
    BackupMeta { cluster: "svea".into(), storage_format: svea_storage::FORMAT, created_at_ms: 1, node: 1, groups: Vec::new() }
}

/// Three groups, each with keys that name their group; group `g` at term `g + 1`, index `10 * (g + 1)`.
fn sections() -> Vec<Section> {
    (0..3u16)
        .map(|g| Section {
            group: g,
            applied: Some(LogId::new(CommittedLeaderId::new(u64::from(g) + 1, 1), 10 * (u64::from(g) + 1))),
            pairs: (0..50u32).map(|i| (format!("s/session/g{g}-{i:03}").into_bytes(), format!("state of g{g}-{i}").into_bytes())).collect(),
        })
        .collect()
}

fn members() -> BTreeMap<u64, SveaNode> {
    let node = |r: &str| SveaNode { region: r.into(), ..SveaNode::default() };
    [(1, node("stockholm")), (2, node("gothenburg")), (3, node("malmo"))].into()
}

fn write(path: &std::path::Path, sections: Vec<Section>) -> Vec<u8> {
    let mut bytes = Vec::new();
    backup::write_all(meta(), sections, &mut bytes).expect("write");
    std::fs::write(path, &bytes).expect("write file");
    bytes
}

/// A group's data pairs (meta keys left out).
fn data(sm: &svea_storage::StateMachineStore) -> Pairs {
    sm.view().pairs().expect("pairs").into_iter().filter(|(k, _)| k[0] != 0).collect()
}

#[tokio::test]
async fn a_three_group_backup_restores_every_groups_pairs_into_its_own_trees_and_no_others() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("three.svea-backup");
    let written = sections();
    write(&path, written.clone());
    let store = dir.path().join("store");
    let meta = backup::restore(&path, &store, members(), 8 << 20, 3).expect("restore");
    assert_eq!(meta.groups, written.iter().map(Section::cut).collect::<Vec<_>>());
    assert_eq!(meta.pairs(), 150);

    let groups = svea_storage::open_groups(&store, Duration::from_secs(5), 8 << 20, 3).expect("open");
    for (g, (mut log, mut sm)) in groups.into_iter().enumerate() {
        let section = &written[g];
        assert_eq!(data(&sm), section.pairs, "group {g} holds exactly its own section");
        let (applied, membership) = sm.applied_state().await.expect("applied state");
        assert_eq!(applied.map(|l| l.index), section.applied.map(|l| l.index), "group {g}'s index");
        assert_eq!(membership.membership().voter_ids().collect::<Vec<_>>(), vec![1, 2, 3], "group {g}'s fresh members");
        assert_eq!(log.get_log_state().await.expect("log state").last_purged_log_id, applied, "group {g}'s log purged up to its cut");
        let snap = sm.get_current_snapshot().await.expect("snapshot").expect("a snapshot for members that start empty");
        assert_eq!(snap.meta.last_log_id, applied, "group {g}'s snapshot");
    }
}

#[test]
fn a_version_1_file_written_before_groups_reads_as_group_0() {
    // Written by the version-1 encoder (src/backup.rs's tests show the kept copy writes it).
    let hex: Vec<u8> = include_str!("../fixtures/backup-v1.hex").bytes().filter(u8::is_ascii_hexdigit).collect();
    let bytes: Vec<u8> = hex.chunks(2).map(|c| u8::from_str_radix(std::str::from_utf8(c).expect("ascii"), 16).expect("hex")).collect();
    let meta = backup::verify(&bytes[..], bytes.len() as u64).expect("verify");
    assert_eq!(meta.groups, vec![GroupCut { group: 0, term: 3, index: 42, pairs: 4 }]);
    let mut body = Body::open(&bytes[..], &meta).expect("open");
    let (cut, pairs) = body.next_section().expect("one section").expect("read");
    assert_eq!(cut.group, 0);
    let pairs: Pairs = pairs.collect::<Result<_, _>>().expect("pairs");
    assert_eq!(pairs.first().map(|(k, _)| k.as_slice()), Some(&b"c/cluster-name"[..]));
    assert_eq!(pairs.len(), 4);
    assert!(body.next_section().is_none());
}

#[test]
fn a_damaged_three_group_backup_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tmp");
    let good = write(&dir.path().join("good"), sections());
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0x01;
    let cases = [("truncated", good[..good.len() - 40].to_vec()), ("cut in the metadata", good[..60].to_vec()), ("corrupt", flipped)];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).expect("write");
        let store = dir.path().join(format!("{name}-store"));
        let err = backup::restore(&path, &store, members(), 8 << 20, 3).expect_err("refused");
        match name {
            "corrupt" => assert!(matches!(err, Error::BackupCorrupt(_)), "{name}: {err}"),
            _ => assert!(matches!(err, Error::BackupTruncated { .. }), "{name}: {err}"),
        }
        assert!(!store.exists(), "{name}: a store was written");
    }
}

#[test]
fn a_backup_of_more_groups_than_the_store_runs_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("three.svea-backup");
    write(&path, sections());
    let store = dir.path().join("store");
    let err = backup::restore(&path, &store, members(), 8 << 20, 1).expect_err("groups 1 and 2 would be lost");
    assert!(matches!(err, Error::BackupGroups { in_backup: 3, highest: 2, runs: 1 }), "{err}");
    assert!(err.to_string().contains("3 raft groups"), "{err}");
    assert!(!store.exists(), "nothing written");
}
