//! The one "writes frozen" flag of a node, set while it hands leadership away.
//!
//! While frozen, this node takes no writes or read-index requests, neither its own nor forwarded
//! ones (callers wait and retry: nothing is lost), and sends no heartbeats, so no append refreshes
//! the followers' leader lease and the chosen successor can win its election. The flag is only
//! switched through a [`FreezeGuard`], whose `Drop` always turns heartbeats back on and unfreezes:
//! a hand-over that fails, times out or whose future is dropped midway cannot leave the node
//! frozen.

use std::sync::Mutex;

use openraft::Raft;
use svea_storage::TypeConfig;

/// The flag, shared (read-only) by the node's write and read paths and the RPC server.
#[derive(Debug, Default)]
pub(crate) struct Freeze {
    /// Live guards. Frozen while non-zero; a mutex (not an atomic) so a guard's arrival and the
    /// last guard's departure switch heartbeats in the same order as the count.
    holders: Mutex<u32>,
}

impl Freeze {
    /// Whether writes and read-index requests are refused right now.
    pub(crate) fn is_frozen(&self) -> bool {
        *self.holders.lock().unwrap_or_else(|p| p.into_inner()) > 0
    }

    /// Freezes writes and stops `raft`'s heartbeats until the guard is dropped.
    pub(crate) fn hold<'a>(&'a self, raft: &'a Raft<TypeConfig>) -> FreezeGuard<'a> {
        let mut holders = self.holders.lock().unwrap_or_else(|p| p.into_inner());
        *holders += 1;
        raft.runtime_config().heartbeat(false);
        FreezeGuard { freeze: self, raft }
    }
}

/// Keeps its [`Freeze`] frozen and heartbeats off while alive.
#[must_use = "the freeze ends when the guard is dropped"]
pub(crate) struct FreezeGuard<'a> {
    freeze: &'a Freeze,
    raft: &'a Raft<TypeConfig>,
}

impl Drop for FreezeGuard<'_> {
    fn drop(&mut self) {
        let mut holders = self.freeze.holders.lock().unwrap_or_else(|p| p.into_inner());
        *holders -= 1;
        if *holders == 0 {
            // Heartbeats first, then writes: as a follower they are moot, as a leader that kept
            // its place they must resume before anyone's lease runs out.
            self.raft.runtime_config().heartbeat(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::network::NoPeers;

    async fn raft() -> Raft<TypeConfig> {
        let disk = svea_storage::engine::mem::MemDisk::new();
        let (log, sm) = svea_storage::open_in_memory(&disk, Duration::from_secs(1)).expect("store");
        let config = Arc::new(openraft::Config::default().validate().expect("config"));
        Raft::new(1, config, NoPeers, log, sm).await.expect("raft")
    }

    #[tokio::test]
    async fn a_hand_over_dropped_midway_leaves_nothing_frozen() {
        let raft = raft().await;
        let freeze = Freeze::default();
        let hand_over = async {
            let _frozen = freeze.hold(&raft);
            std::future::pending::<()>().await
        };
        assert!(tokio::time::timeout(Duration::from_millis(10), hand_over).await.is_err());
        assert!(!freeze.is_frozen());
        raft.shutdown().await.expect("shutdown");
    }

    #[tokio::test]
    async fn the_flag_stays_frozen_while_any_guard_lives() {
        let raft = raft().await;
        let freeze = Freeze::default();
        let first = freeze.hold(&raft);
        let second = freeze.hold(&raft);
        drop(first);
        assert!(freeze.is_frozen());
        drop(second);
        assert!(!freeze.is_frozen());
        raft.shutdown().await.expect("shutdown");
    }
}
