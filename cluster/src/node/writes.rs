//! The write path: queue a command for the write batcher (which proposes it here or forwards it
//! to the leader, together with whatever else is waiting), retry while no leader takes it, and
//! wait until this node has applied it.

use std::time::Duration;

use svea_storage::Command;

use super::batcher::Origin;
use super::{GroupNode, Committed};
use crate::error::Error;

/// First pause before retrying a write or read that no leader accepted (doubles, capped).
const RETRY_BACKOFF_MIN: Duration = Duration::from_millis(25);
/// Longest pause between such retries.
const RETRY_BACKOFF_MAX: Duration = Duration::from_millis(200);
/// Attempts per write or read barrier while waiting for a leader (the timeout usually ends it first).
const LEADER_WAIT_ATTEMPTS_MAX: u32 = 100;

const _: () = assert!(RETRY_BACKOFF_MIN.as_millis() < RETRY_BACKOFF_MAX.as_millis(), "the backoff grows");
const _: () = assert!(LEADER_WAIT_ATTEMPTS_MAX > 1, "a request gets at least one retry");

impl GroupNode {
    /// Proposes a command, waits until it is committed and applied on this node, and returns
    /// the state machine's answer. The command goes through the write batcher
    /// ([`super::batcher`]): it shares a Raft entry (and a forward to the leader) with the
    /// writes waiting at the same moment, and gets its own result. A follower forwards to the
    /// leader over the transport, then waits for its own state machine to apply the entry, so a
    /// write is always visible locally when this returns. Bounded by the configured client-write
    /// timeout.
    ///
    /// While no leader accepts the command (an election, a leadership hand-over, a leader the
    /// failure detector declared down before anything was sent), the write waits and retries
    /// within the same timeout: the command was not sent, so retrying cannot apply it twice.
    pub async fn write(&self, cmd: Command) -> Result<Committed, Error> {
        let after = self.inner.write_timeout;
        let fut = async {
            let queue = &self.inner.writes;
            let (index, result) = self.retry_without_leader(|| queue.submit(cmd.clone(), Origin::Local)).await?;
            self.wait_applied(index).await?;
            Ok(Committed { index, result })
        };
        tokio::time::timeout(after, fut).await.map_err(|_| Error::Timeout { op: "raft write", after })?
    }

    /// Runs `attempt` until it gets past "no leader took it" (bounded by attempts; the caller
    /// bounds the time). Only errors that prove nothing was sent are retried.
    pub(super) async fn retry_without_leader<T, F, Fut>(&self, mut attempt: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let mut backoff = RETRY_BACKOFF_MIN;
        let mut attempts = 0;
        loop {
            attempts += 1;
            match attempt().await {
                Err(e @ (Error::NotLeader { .. } | Error::LeaderDown { .. })) if attempts < LEADER_WAIT_ATTEMPTS_MAX => {
                    tracing::debug!(error = %e, attempts, "no leader accepted the request; waiting");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(RETRY_BACKOFF_MAX);
                }
                other => return other,
            }
        }
    }

    /// Waits until this node has applied at least `index`.
    pub async fn wait_applied(&self, index: u64) -> Result<(), Error> {
        let after = self.inner.write_timeout;
        self.inner
            .raft
            .wait(Some(after))
            .applied_index_at_least(Some(index), "wait applied")
            .await
            .map(|_| ())
            .map_err(|e| match e {
                openraft::metrics::WaitError::Timeout(..) => Error::Timeout { op: "apply", after },
                other => Error::Fatal(other.to_string()),
            })
    }
}
