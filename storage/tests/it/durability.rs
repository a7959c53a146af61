//! What is acknowledged as persisted survives reopening the store.

use std::time::Duration;

use openraft::storage::{RaftLogStorage, RaftStateMachine};
use openraft::{CommittedLeaderId, LogId, RaftLogReader, Vote};


fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// Saves `vote` in the store under `dir`, drops everything without a clean close, reopens the
/// store from what is on disk and reads the vote back.
fn vote_after_reopen(dir: &std::path::Path, vote: Vote<u64>) -> Option<Vote<u64>> {
    rt().block_on(async {
        let (mut log, _sm) = svea_storage::open(dir, Duration::from_secs(10)).expect("open");
        log.save_vote(&vote).await.expect("save vote");
    });
    rt().block_on(async {
        let (mut log, _sm) = svea_storage::open(dir, Duration::from_secs(10)).expect("reopen");
        log.read_vote().await.expect("read")
    })
}

#[test]
fn vote_is_durable_when_save_vote_returns() {
    let dir = tempfile::tempdir().expect("tmp");
    assert_eq!(vote_after_reopen(dir.path(), Vote::new(7, 3)), Some(Vote::new(7, 3)));
}

#[test]
fn a_built_snapshot_restores_the_state_machine_and_is_served_after_reopen() {
    use openraft::RaftSnapshotBuilder;
    let dir = tempfile::tempdir().expect("tmp");
    let log_id = LogId::new(CommittedLeaderId::new(1, 1), 1);
    rt().block_on(async {
        let (_log, mut sm) = svea_storage::open(dir.path(), Duration::from_secs(10)).expect("open");
        let entry = openraft::Entry::<svea_storage::TypeConfig> {
            log_id,
            payload: openraft::EntryPayload::Normal(svea_storage::Command::Claim {
                actor: "session/x".into(),
                node: 1,
                expected_epoch: 0,
            }),
        };
        sm.apply([entry]).await.expect("apply");
        let mut b = sm.get_snapshot_builder().await;
        b.build_snapshot().await.expect("snapshot");
    });
    rt().block_on(async {
        let (mut log, mut sm) = svea_storage::open(dir.path(), Duration::from_secs(10)).expect("reopen");
        let snap = sm.get_current_snapshot().await.expect("get").expect("snapshot present");
        assert_eq!(snap.meta.last_log_id, Some(log_id));
        assert_eq!(sm.view().owner("session/x").expect("read"), Some(svea_storage::Owner { node: 1, epoch: 1 }));
        let entries: Vec<_> = log.try_get_log_entries(0..10u64).await.expect("read log");
        assert!(entries.is_empty());
    });
}

#[test]
fn the_in_memory_disk_keeps_exactly_what_was_flushed_across_a_crash() {
    use svea_storage::engine::mem::MemDisk;
    let disk = MemDisk::with_flush_latency(Duration::from_millis(5));
    let rt = rt();
    rt.block_on(async {
        let (mut log, _sm) = svea_storage::open_in_memory(&disk, Duration::from_secs(10)).expect("open");
        // Acknowledged: flushed before save_vote returns.
        log.save_vote(&Vote::new(7, 3)).await.expect("save vote");
        // Written but never flushed: committed is not flushed on purpose.
        log.save_committed(Some(LogId::new(CommittedLeaderId::new(7, 3), 9))).await.expect("save committed");
        assert_eq!(log.read_committed().await.expect("read"), Some(LogId::new(CommittedLeaderId::new(7, 3), 9)));
    });
    let crash = disk.crash();
    assert_eq!(crash.acknowledged_but_lost, 0, "the store promised only what was flushed");
    rt.block_on(async {
        let (mut log, _sm) = svea_storage::open_in_memory(&disk, Duration::from_secs(10)).expect("reopen");
        assert_eq!(log.read_vote().await.expect("read"), Some(Vote::new(7, 3)), "flushed vote survives");
        assert_eq!(log.read_committed().await.expect("read"), None, "unflushed write is lost");
    });
}

#[test]
fn a_crashed_engine_never_reaches_the_disk_again() {
    use svea_storage::engine::mem::MemDisk;
    let disk = MemDisk::new();
    let rt = rt();
    rt.block_on(async {
        let (mut old, _sm) = svea_storage::open_in_memory(&disk, Duration::from_secs(10)).expect("open");
        let _ = disk.crash();
        // The dead process still "runs" and flushes: nothing of it may reach the disk.
        old.save_vote(&Vote::new(1, 1)).await.expect("save vote");
        let (mut fresh, _sm) = svea_storage::open_in_memory(&disk, Duration::from_secs(10)).expect("reopen");
        assert_eq!(fresh.read_vote().await.expect("read"), None);
    });
}

#[test]
fn a_store_in_another_on_disk_format_is_refused_with_a_clear_error() {
    // A store written before the format marker (raft data, no marker) is refused, not misread.
    let old = tempfile::tempdir().expect("tmp");
    {
        let db = sled::open(old.path()).expect("sled");
        db.open_tree("raft_meta").expect("tree").insert(b"vote", b"old bytes".to_vec()).expect("insert");
        db.flush().expect("flush");
    }
    let err = svea_storage::open(old.path(), Duration::from_secs(10)).err().expect("an unmarked store with data must be refused");
    assert!(err.to_string().contains("format 1"), "{err}");
    assert!(err.to_string().contains(&old.path().display().to_string()), "the error names the directory: {err}");

    // A marker of a format this build does not know is refused too.
    let future = tempfile::tempdir().expect("tmp");
    {
        let db = sled::open(future.path()).expect("sled");
        db.open_tree("svea_format").expect("tree").insert(b"format", 99u32.to_be_bytes().to_vec()).expect("insert");
        db.flush().expect("flush");
    }
    let err = svea_storage::open(future.path(), Duration::from_secs(10)).err().expect("a newer format must be refused");
    assert!(err.to_string().contains("format 99"), "{err}");

    // A fresh store gets this build's marker and opens again after a write.
    let fresh = tempfile::tempdir().expect("tmp");
    assert_eq!(vote_after_reopen(fresh.path(), Vote::new(1, 1)), Some(Vote::new(1, 1)));
}
