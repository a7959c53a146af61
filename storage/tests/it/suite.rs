use std::time::Duration;

use openraft::testing::{StoreBuilder, Suite};
use openraft::StorageError;
use svea_storage::{LogStore, RaftNodeId, StateMachineStore, TypeConfig};

struct SledBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, tempfile::TempDir> for SledBuilder {
    async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachineStore), StorageError<RaftNodeId>> {
        let dir = tempfile::tempdir().expect("temp dir");
        let (log, sm) = svea_storage::open(dir.path(), Duration::from_secs(10)).expect("open store");
        Ok((dir, log, sm))
    }
}

/// openraft's own conformance suite for log, vote, state machine and snapshot behaviour.
#[test]
fn openraft_storage_suite_passes() {
    // The suite makes its own tokio runtime per case; the store's flusher starts on it.
    Suite::test_all(SledBuilder).expect("openraft storage suite");
}
