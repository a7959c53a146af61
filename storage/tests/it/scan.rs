//! Paging through secondary records of one prefix (a customer's sessions, page by page).

use std::time::Duration;

use openraft::storage::RaftStateMachine;
use openraft::{CommittedLeaderId, LogId};
use svea_storage::{IndexMode, IndexWrite};

use crate::fencing::{claim, put};

#[test]
fn index_pages_continue_after_the_last_key_and_stay_inside_the_prefix() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let disk = svea_storage::engine::mem::MemDisk::new();
    rt.block_on(async {
        let (_log, mut sm) = svea_storage::open_in_memory(&disk, Duration::from_secs(10)).expect("open");
        let write = |key: &str| IndexWrite { key: key.into(), value: vec![1], mode: IndexMode::Upsert };
        let keys = ["dev/a/1", "dev/a/2", "dev/a/3", "dev/ab/9", "dev/b/1", "open/1"];
        let entry = |index, cmd| openraft::Entry::<svea_storage::TypeConfig> {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: openraft::EntryPayload::Normal(cmd),
        };
        sm.apply([entry(1, claim("session/x", 1, 0)), entry(2, put("session/x", 1, 1, 0, b"x", keys.iter().map(|k| write(k)).collect()))])
            .await
            .expect("apply");
        let view = sm.view();
        let page = |after: Option<&str>, limit| -> Vec<String> {
            view.scan_index_after("dev/a/", after, limit).expect("scan").into_iter().map(|(k, _)| k).collect()
        };
        assert_eq!(page(None, 2), ["dev/a/1", "dev/a/2"]);
        assert_eq!(page(Some("dev/a/2"), 2), ["dev/a/3"], "the next page starts after the last key and ends at the prefix");
        assert_eq!(page(Some("dev/a/3"), 2), Vec::<String>::new());
        // A cursor from before the prefix cannot reach records outside it.
        assert_eq!(page(Some("dev/"), 5), ["dev/a/1", "dev/a/2", "dev/a/3"]);
        assert_eq!(page(Some("dev/a/0"), 1), ["dev/a/1"]);
    });
}
