//! Several Raft groups in one store: each group's log, vote and state machine are its own, and
//! one flush makes every group's waiting writes durable.

use std::time::Duration;

use openraft::storage::{RaftLogStorage, RaftStateMachine};
use openraft::{CommittedLeaderId, LogId, Vote};
use svea_storage::engine::mem::MemDisk;
use svea_storage::{Command, Owner};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

fn claim(index: u64, actor: &str) -> openraft::Entry<svea_storage::TypeConfig> {
    openraft::Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
        payload: openraft::EntryPayload::Normal(Command::Claim { actor: actor.into(), node: 1, expected_epoch: 0 }),
    }
}

#[test]
fn each_group_keeps_its_own_vote_and_state_across_a_reopen_of_the_shared_store() {
    let dir = tempfile::tempdir().expect("tmp");
    rt().block_on(async {
        let groups = svea_storage::open_groups(dir.path(), Duration::from_secs(10), 8 << 20, 3).expect("open");
        for (g, (log, sm)) in groups.into_iter().enumerate() {
            let (mut log, mut sm) = (log, sm);
            log.save_vote(&Vote::new(10 + g as u64, 1)).await.expect("vote");
            sm.apply([claim(1, &format!("session/g{g}"))]).await.expect("apply");
            sm.flush().await.expect("flush");
        }
    });
    rt().block_on(async {
        let groups = svea_storage::open_groups(dir.path(), Duration::from_secs(10), 8 << 20, 3).expect("reopen");
        for (g, (mut log, sm)) in groups.into_iter().enumerate() {
            assert_eq!(log.read_vote().await.expect("read"), Some(Vote::new(10 + g as u64, 1)), "group {g}'s vote");
            for other in 0..3 {
                let owner = sm.view().owner(&format!("session/g{other}")).expect("read");
                let expected = (other == g).then_some(Owner { node: 1, epoch: 1 });
                assert_eq!(owner, expected, "group {g} sees group {other}'s actor only if it is its own");
            }
        }
    });
    // A store opened as one group is group 0 of the same files: the store before groups existed.
    rt().block_on(async {
        let (mut log, sm) = svea_storage::open(dir.path(), Duration::from_secs(10)).expect("open as one group");
        assert_eq!(log.read_vote().await.expect("read"), Some(Vote::new(10, 1)));
        assert_eq!(sm.view().owner("session/g0").expect("read"), Some(Owner { node: 1, epoch: 1 }));
        assert_eq!(sm.view().owner("session/g1").expect("read"), None);
    });
}

#[test]
fn one_flush_makes_every_groups_waiting_votes_durable() {
    let disk = MemDisk::with_flush_latency(Duration::from_millis(5));
    rt().block_on(async {
        let groups = svea_storage::open_in_memory_groups(&disk, Duration::from_secs(10), 3).expect("open");
        let before = disk.flushes();
        let mut logs: Vec<_> = groups.into_iter().map(|(log, _sm)| log).collect();
        let [a, b, c] = &mut logs[..] else { panic!("three groups") };
        let votes = [Vote::new(5, 1), Vote::new(5, 2), Vote::new(5, 3)];
        let (ra, rb, rc) = tokio::join!(a.save_vote(&votes[0]), b.save_vote(&votes[1]), c.save_vote(&votes[2]));
        for r in [ra, rb, rc] {
            r.expect("vote");
        }
        let flushes = disk.flushes() - before;
        // The three votes queued while the first flush was under way at most: two flushes cover
        // them, where three separate flushers would take three.
        assert!(flushes <= 2, "three groups' votes took {flushes} flushes");
        assert_eq!(disk.crash().acknowledged_but_lost, 0);
        drop(logs);
    });
    rt().block_on(async {
        let groups = svea_storage::open_in_memory_groups(&disk, Duration::from_secs(10), 3).expect("reopen");
        for (g, (mut log, _sm)) in groups.into_iter().enumerate() {
            assert_eq!(log.read_vote().await.expect("read"), Some(Vote::new(5, g as u64 + 1)), "group {g}'s vote survived");
        }
    });
}

#[test]
fn a_store_refuses_zero_groups_and_more_than_it_can_hold() {
    let disk = MemDisk::new();
    rt().block_on(async {
        for asked in [0, svea_storage::GROUPS_MAX + 1] {
            let err = svea_storage::open_in_memory_groups(&disk, Duration::from_secs(1), asked).err().expect("refused");
            assert!(err.to_string().contains(&asked.to_string()), "{err}");
        }
    });
}
