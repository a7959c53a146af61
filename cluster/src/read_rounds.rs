//! Read-index rounds shared by concurrent read barriers: however many barriers wait at once, a
//! node runs at most one round of a kind (a quorum check as leader, a read-index RPC to the
//! leader as follower) and queues at most one more.
//!
//! A barrier is served only by a round that *started after the barrier began*: a round that was
//! already in flight may carry a read index older than a write whose acknowledgement the caller
//! saw just before it asked, so sharing it would break linearizability. A caller that arrives
//! while a round runs therefore waits for the next one, which every caller arriving meanwhile
//! shares. Bounded by the caller's own timeout (the read barrier's), never by the number of
//! callers.

use std::future::Future;
use std::sync::{Arc, Mutex};

use openraft::error::{CheckIsLeaderError, ForwardToLeader, RaftError};
use openraft::{LogId, Raft};
use svea_storage::{RaftNodeId, SveaNode, TypeConfig};

use crate::freeze::Freeze;
use crate::metrics::Counters;

/// What a leadership check (`Raft::ensure_linearizable`) answers: the read index, or why not.
pub(crate) type LeaderCheck = Result<Option<LogId<RaftNodeId>>, RaftError<RaftNodeId, CheckIsLeaderError<RaftNodeId, SveaNode>>>;

/// Rounds of one kind that concurrent callers share. A caller gets the outcome of the first
/// round that started after it called [`SharedRounds::join`].
pub(crate) struct SharedRounds<T> {
    /// Held by the caller running a round. tokio's mutex is fair (first come, first served), so
    /// the callers queued behind a round find its successor's outcome in arrival order.
    driver: tokio::sync::Mutex<()>,
    state: Mutex<RoundState<T>>,
}

struct RoundState<T> {
    /// Rounds started so far; each round is numbered by its position.
    started: u64,
    /// The latest finished round: its number and outcome.
    last: Option<(u64, T)>,
}

impl<T> Default for SharedRounds<T> {
    fn default() -> Self {
        SharedRounds { driver: tokio::sync::Mutex::new(()), state: Mutex::new(RoundState { started: 0, last: None }) }
    }
}

impl<T: Clone> SharedRounds<T> {
    /// The outcome of a round that started after this call: an earlier caller's, when one
    /// started one meanwhile, or a round of `round` run here. A round whose runner is cancelled
    /// (its caller timed out) finishes for nobody; the next caller in line starts another.
    pub(crate) async fn join<Fut: Future<Output = T>>(&self, round: impl FnOnce() -> Fut) -> T {
        // Any round numbered from here on starts after this point.
        let ticket = self.state().started + 1;
        let _driver = self.driver.lock().await;
        if let Some((n, outcome)) = &self.state().last {
            if *n >= ticket {
                return outcome.clone();
            }
        }
        let number = {
            let mut s = self.state();
            s.started += 1;
            s.started
        };
        let outcome = round().await;
        self.state().last = Some((number, outcome.clone()));
        outcome
    }

    /// How many rounds have started (the node counts its rounds in [`Counters`]).
    #[cfg(test)]
    pub(crate) fn started(&self) -> u64 {
        self.state().started
    }

    fn state(&self) -> std::sync::MutexGuard<'_, RoundState<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The read-index rounds of one node, shared by its read barriers and, as leader, by the
/// read-index requests it serves for its followers.
#[derive(Default)]
pub(crate) struct ReadRounds {
    /// `ensure_linearizable` here: one quorum round confirms leadership for every caller queued.
    leader: SharedRounds<LeaderCheck>,
    /// The read-index request to the leader, when this node follows (an error is shared behind
    /// an `Arc`; each caller gets its own copy, [`crate::Error::for_another_caller`]).
    pub(crate) forwarded: SharedRounds<Result<u64, Arc<crate::Error>>>,
}

impl ReadRounds {
    /// Confirms with a quorum that this node leads and returns its read index, in a round shared
    /// with every caller that arrived while the previous round ran. While a leadership hand-over
    /// freezes the node, the round answers "not the leader, leader unknown" without asking.
    pub(crate) async fn confirm_leadership(&self, raft: &Raft<TypeConfig>, freeze: &Freeze, counters: &Counters) -> LeaderCheck {
        self.leader
            .join(|| async {
                if freeze.is_frozen() {
                    return Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(ForwardToLeader::empty())));
                }
                counters.read_index_round();
                raft.ensure_linearizable().await
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use tokio::sync::Semaphore;

    use super::SharedRounds;

    /// Lets every spawned task of this current-thread runtime run until it waits.
    async fn let_others_run() {
        for _ in 0..64 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn many_concurrent_callers_share_two_rounds() {
        let rounds = Arc::new(SharedRounds::<u64>::default());
        let gate = Arc::new(Semaphore::new(0));
        let callers: Vec<_> = (0..200)
            .map(|_| {
                let (rounds, gate) = (rounds.clone(), gate.clone());
                tokio::spawn(async move {
                    let r = rounds.clone();
                    rounds.join(|| async move {
                        gate.acquire().await.expect("gate").forget();
                        r.started()
                    }).await
                })
            })
            .collect();
        let_others_run().await;
        // The first caller's round is in flight; the 199 others wait for the next one.
        assert_eq!(rounds.started(), 1);
        gate.add_permits(200);
        let mut served_by = Vec::new();
        for c in callers {
            served_by.push(c.await.expect("caller"));
        }
        assert_eq!(rounds.started(), 2, "200 callers, one round in flight and one shared by the rest");
        assert_eq!(served_by.iter().filter(|&&n| n == 1).count(), 1);
        assert_eq!(served_by.iter().filter(|&&n| n == 2).count(), 199);
    }

    #[tokio::test]
    async fn a_round_in_flight_never_serves_a_caller_that_came_after_a_write() {
        // Each round reads how many writes were acknowledged when it started (its read index).
        let acked = Arc::new(AtomicU64::new(0));
        let rounds = Arc::new(SharedRounds::<u64>::default());
        let gate = Arc::new(Semaphore::new(0));
        let round = |acked: Arc<AtomicU64>, gate: Arc<Semaphore>| async move {
            let index = acked.load(Ordering::SeqCst);
            gate.acquire().await.expect("gate").forget();
            index
        };
        let early = tokio::spawn({
            let (rounds, acked, gate) = (rounds.clone(), acked.clone(), gate.clone());
            async move { rounds.join(|| round(acked, gate)).await }
        });
        let_others_run().await;
        // The early round has read index 0 and is in flight; now a write is acknowledged and a
        // caller that saw the acknowledgement asks.
        acked.store(1, Ordering::SeqCst);
        let late = tokio::spawn({
            let (rounds, acked, gate) = (rounds.clone(), acked.clone(), gate.clone());
            async move { rounds.join(|| round(acked, gate)).await }
        });
        let_others_run().await;
        gate.add_permits(2);
        assert_eq!(early.await.expect("early"), 0);
        assert_eq!(late.await.expect("late"), 1, "the late caller must not get the round that started before the write");
        assert_eq!(rounds.started(), 2);
    }

    #[tokio::test]
    async fn a_cancelled_round_finishes_for_nobody_and_the_next_caller_runs_one() {
        let rounds = SharedRounds::<u64>::default();
        let stuck = rounds.join(|| std::future::pending::<u64>());
        assert!(tokio::time::timeout(std::time::Duration::from_millis(5), stuck).await.is_err());
        assert_eq!(rounds.join(|| async { 7 }).await, 7);
        assert_eq!(rounds.started(), 2);
    }
}
