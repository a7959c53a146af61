//! Group commit: one background task turns many "persist this" requests into few engine flushes.
//!
//! The engine (sled, or the simulations' in-memory disk) writes lazily; a log entry or vote
//! counts as durable only once an engine flush has returned *after* it was written. For sled that
//! flush is `Db::flush` followed by one `fdatasync` of its data file (see `engine::sled_sync`), so
//! a batch of waiters costs one sync however many it holds. Requests are answered strictly in
//! arrival order, and every request is answered only by a flush that started after the request
//! was queued.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::engine::Engine;
use crate::error::Error;
use crate::observe::Slot;

/// How many flush waiters may queue before writers wait (backpressure on the Raft log).
pub const FLUSH_QUEUE_LEN_MAX: usize = 4096;

/// Something waiting for durability.
pub(crate) enum Waiter {
    /// A oneshot completed with the flush result.
    Oneshot(oneshot::Sender<Result<(), String>>),
    /// A boxed callback (openraft's `LogFlushed`).
    Callback(Box<dyn FnOnce(Result<(), String>) + Send>),
}

impl Waiter {
    fn complete(self, result: Result<(), String>) {
        match self {
            Waiter::Oneshot(tx) => {
                let _ = tx.send(result);
            }
            Waiter::Callback(f) => f(result),
        }
    }
}

/// Handle to the flusher task.
#[derive(Clone)]
pub(crate) struct Flusher {
    tx: mpsc::Sender<Waiter>,
    /// The store's observer slot (timings for the node's metrics).
    pub(crate) observer: Slot,
}

impl Flusher {
    /// Starts the flusher task on the current tokio runtime.
    pub(crate) fn start(engine: Engine, timeout: Duration) -> Self {
        let (tx, rx) = mpsc::channel(FLUSH_QUEUE_LEN_MAX);
        let observer = Slot::default();
        tokio::spawn(run(engine, timeout, rx, observer.clone()));
        Flusher { tx, observer }
    }

    /// Queues a waiter; waits for queue space (bounded).
    pub(crate) async fn enqueue(&self, w: Waiter) -> Result<(), Error> {
        self.tx.send(w).await.map_err(|_| Error::FlusherGone)
    }

    /// Waits until everything written before this call is durable.
    pub(crate) async fn flush(&self) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        self.enqueue(Waiter::Oneshot(tx)).await?;
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(msg)) => Err(Error::Flush(msg)),
            Err(_) => Err(Error::FlusherGone),
        }
    }
}

async fn run(engine: Engine, timeout: Duration, mut rx: mpsc::Receiver<Waiter>, observer: Slot) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, FLUSH_QUEUE_LEN_MAX).await > 0 {
        // Every waiter of this batch asks for the writes made before it queued, so answering
        // the batch promises at most what was written by now. The in-memory disk keeps count of
        // that promise, and a simulated crash reports any part of it the disk did not have.
        let promised = match &engine {
            Engine::Mem(m) => Some((m.clone(), m.written())),
            Engine::Sled(_) => None,
        };
        let answer = |batch: &mut Vec<Waiter>, result: Result<(), String>| {
            if let (Some((m, upto)), Ok(())) = (&promised, &result) {
                m.note_acknowledged(*upto);
            }
            for w in batch.drain(..) {
                w.complete(result.clone());
            }
        };
        if crate::planted::ack_before_flush() {
            // Planted bug (simulations only): tell everyone it is durable, then flush.
            answer(&mut batch, Ok(()));
        }
        let started = observer.start();
        let result = flush(&engine, timeout).await;
        observer.finish(started, |o, took| o.flushed(took));
        if let Err(msg) = &result {
            tracing::error!(error = %msg, waiters = batch.len(), "storage flush failed");
        }
        answer(&mut batch, result);
    }
}

/// One flush of everything written so far, bounded by `timeout`.
async fn flush(engine: &Engine, timeout: Duration) -> Result<(), String> {
    match engine {
        Engine::Sled(_) => {
            let e = engine.clone();
            match tokio::time::timeout(timeout, tokio::task::spawn_blocking(move || e.flush_blocking())).await {
                Ok(Ok(Ok(()))) => Ok(()),
                Ok(Ok(Err(e))) => Err(format!("flush failed: {e}")),
                Ok(Err(join)) => Err(format!("flush task failed: {join}")),
                Err(_) => Err(format!("flush did not finish within {timeout:?}")),
            }
        }
        Engine::Mem(m) => {
            // The simulated disk takes its configured time (simulated, so deterministic) and makes
            // durable what was written before the flush started; a crash meanwhile loses
            // everything not yet flushed.
            let latency = m.flush_latency();
            let started_with = m.pending();
            if latency > timeout {
                tokio::time::sleep(timeout).await;
                return Err(format!("flush did not finish within {timeout:?}"));
            }
            tokio::time::sleep(latency).await;
            m.flush_prefix(started_with);
            Ok(())
        }
    }
}
