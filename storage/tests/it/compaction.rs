//! Rewriting the store into a new generation: the bytes of overwritten records leave the disk,
//! the live data and the Raft state stay, and a crash during a rewrite leaves the old generation
//! in force.

use std::path::Path;
use std::time::Duration;

use openraft::storage::{RaftLogStorage, RaftStateMachine};
use openraft::{CommittedLeaderId, LogId, Vote};
use svea_storage::{Command, Versioned};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

fn entry(index: u64, cmd: Command) -> openraft::Entry<svea_storage::TypeConfig> {
    openraft::Entry { log_id: LogId::new(CommittedLeaderId::new(1, 1), index), payload: openraft::EntryPayload::Normal(cmd) }
}

fn put(version: u64, state: &[u8]) -> Command {
    Command::Put {
        actor: "session/s".into(),
        node: 1,
        epoch: 1,
        expected_version: version,
        state: state.to_vec(),
        index_writes: vec![],
        index_deletes: vec![],
    }
}

/// Whether any file under `dir` holds `needle`.
fn files_hold(dir: &Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).expect("list").filter_map(Result::ok).any(|e| {
        let p = e.path();
        if p.is_dir() {
            files_hold(&p, needle)
        } else {
            std::fs::read(&p).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
        }
    })
}

#[test]
fn a_rewrite_drops_the_bytes_of_overwritten_records_and_keeps_everything_live() {
    let dir = tempfile::tempdir().expect("tmp");
    let secret = b"feedback text the customer erased 7f3a9c";
    rt().block_on(async {
        let (mut log, mut sm) = svea_storage::open(dir.path(), Duration::from_secs(10)).expect("open");
        log.save_vote(&Vote::new(3, 1)).await.expect("vote");
        let claim = Command::Claim { actor: "session/s".into(), node: 1, expected_epoch: 0 };
        sm.apply([entry(1, claim), entry(2, put(0, secret))]).await.expect("apply");
        sm.flush().await.expect("flush");
        sm.apply([entry(3, put(1, b"redacted"))]).await.expect("overwrite");
        sm.flush().await.expect("flush");
        assert!(files_hold(dir.path(), secret), "sled keeps the overwritten bytes until a rewrite (else this test proves nothing)");

        let done = sm.rewrite_store().expect("rewrite").expect("sled rewrites");
        assert_eq!(done.generation, 1);
        assert!(!files_hold(dir.path(), secret), "the overwritten text is gone from every file");
        // Live data and Raft state are all there, through the handles opened before.
        assert_eq!(sm.view().state("session/s").expect("read"), Some(Versioned { version: 2, bytes: b"redacted".to_vec() }));
        assert_eq!(log.read_vote().await.expect("vote"), Some(Vote::new(3, 1)));
        // Writes go on in the new generation.
        sm.apply([entry(4, put(2, b"after"))]).await.expect("apply after");
        sm.flush().await.expect("flush");
        let again = sm.rewrite_store().expect("rewrite").expect("sled rewrites");
        assert_eq!(again.generation, 2);
        assert!(!dir.path().join("gen-1").exists(), "the previous generation is deleted");
    });
    rt().block_on(async {
        let (mut log, sm) = svea_storage::open(dir.path(), Duration::from_secs(10)).expect("reopen");
        assert_eq!(sm.view().state("session/s").expect("read").map(|v| v.bytes), Some(b"after".to_vec()));
        assert_eq!(log.read_vote().await.expect("vote"), Some(Vote::new(3, 1)));
    });
}

#[test]
fn a_generation_left_by_a_crash_during_a_rewrite_is_removed_and_the_old_one_stays_in_force() {
    let dir = tempfile::tempdir().expect("tmp");
    rt().block_on(async {
        let (mut log, _sm) = svea_storage::open(dir.path(), Duration::from_secs(10)).expect("open");
        log.save_vote(&Vote::new(5, 2)).await.expect("vote");
    });
    // A rewrite that crashed before its switch: a half-written next generation, CURRENT absent.
    std::fs::create_dir(dir.path().join("gen-1")).expect("mkdir");
    std::fs::write(dir.path().join("gen-1").join("db"), b"half a copy").expect("write");
    rt().block_on(async {
        let (mut log, _sm) = svea_storage::open(dir.path(), Duration::from_secs(10)).expect("reopen");
        assert_eq!(log.read_vote().await.expect("vote"), Some(Vote::new(5, 2)));
    });
    assert!(!dir.path().join("gen-1").exists(), "the leftover generation was removed");
}
