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

struct MemBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, svea_storage::engine::mem::MemDisk> for MemBuilder {
    async fn build(
        &self,
    ) -> Result<(svea_storage::engine::mem::MemDisk, LogStore, StateMachineStore), StorageError<RaftNodeId>> {
        let disk = svea_storage::engine::mem::MemDisk::new();
        let (log, sm) = svea_storage::open_in_memory(&disk, Duration::from_secs(10)).expect("open store");
        Ok((disk, log, sm))
    }
}

/// The same suite on the simulations' in-memory disk: the code above the engine is the same.
#[test]
fn openraft_storage_suite_passes_on_the_in_memory_engine() {
    Suite::test_all(MemBuilder).expect("openraft storage suite (in-memory engine)");
}
