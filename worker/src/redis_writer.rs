//! Applies the worker's Redis changes (running and finished events, acks,
//! re-enqueued retries) in the order they were sent, off the paths of the
//! claim loop and the finisher: those go on to their next Postgres statement
//! while Redis is written. Whatever piles up while one pipeline is in flight
//! goes out together in the next one.
//!
//! Losing a change here loses no job: Postgres already holds the outcome and
//! the reconciler restores Redis from it.

use conveyor_shared::queue::{QueueOp, RedisQueue};
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

/// Most ops merged into one pipeline.
const MAX_OPS: usize = 8_192;
/// Batches of ops waiting; a sender waits for room beyond this.
const CAPACITY: usize = 1_024;

enum Message {
    Ops(Vec<QueueOp>),
    /// Answered once everything sent before it was applied.
    Flush(oneshot::Sender<()>),
}

/// Handle on the writer task. Cheap to clone.
#[derive(Clone)]
pub(crate) struct RedisWriter {
    tx: mpsc::Sender<Message>,
}

impl RedisWriter {
    /// Starts the writer task; it ends when every handle is dropped.
    pub fn spawn(queue: RedisQueue) -> Self {
        let (tx, rx) = mpsc::channel(CAPACITY);
        tokio::spawn(run(queue, rx));
        Self { tx }
    }

    /// Queues `ops` to be applied after everything sent before.
    pub async fn send(&self, ops: Vec<QueueOp>) {
        if ops.is_empty() {
            return;
        }
        if self.tx.send(Message::Ops(ops)).await.is_err() {
            warn!("Redis writer is gone; the reconciler will restore Redis");
        }
    }

    /// Waits until everything sent so far was applied (or failed).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn run(queue: RedisQueue, mut rx: mpsc::Receiver<Message>) {
    let mut ops: Vec<QueueOp> = Vec::new();
    let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Ops(more) => ops.extend(more),
                Message::Flush(done) => flushes.push(done),
            }
            if ops.len() < MAX_OPS {
                next = rx.try_recv().ok();
            }
        }
        if let Err(e) = queue.apply(&ops).await {
            // Postgres holds the truth; the reconciler restores Redis.
            warn!(error = %format!("{e:#}"), ops = ops.len(),
                  "could not apply changes to Redis");
        }
        ops.clear();
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}
