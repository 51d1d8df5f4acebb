//! Group commit for single submits (`POST /jobs` without an idempotency key).
//!
//! Each request hands its validated job to one task over a channel and waits
//! for the answer. The task takes the first job waiting and every other one
//! already queued (at most [`MAX_BATCH`]), inserts them with one statement,
//! makes them visible in Redis with one pipeline, and answers each request.
//! There is no timer: on an idle api a lone job goes at once; under load the
//! requests that arrive while a commit is in flight form the next batch. A
//! few batches may be in flight at once when enough jobs wait, so that their
//! commits overlap (and share WAL flushes). Each job is committed before its
//! request is answered.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use conveyor_shared::clock::Clock;
use conveyor_shared::db::jobs;
use conveyor_shared::events::StatusEvent;
use conveyor_shared::model::{Job, NewJob};
use conveyor_shared::queue::{QueueOp, RedisQueue};
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use crate::error::ApiError;

/// Most jobs one insert statement carries.
pub const MAX_BATCH: usize = 500;

/// Most batches being inserted at once (fewer with a small pool).
const MAX_IN_FLIGHT: usize = 4;

/// Jobs that must be waiting before a batch starts while another is in
/// flight. Measured on 2 cores: each insert statement costs Postgres about
/// 0.3-0.5 ms besides its rows (executor start, statement triggers,
/// commit), so batches of a few jobs in parallel lose to one larger batch
/// unless WAL flushes are slow, when jobs pile up past this and overlap.
const EXTRA_BATCH_MIN: usize = 32;

/// Jobs waiting for a batch; a request waits for room beyond that.
const QUEUE_CAPACITY: usize = 4096;

/// A job waiting to be inserted, and where its answer goes.
struct Pending {
    job: NewJob,
    reply: oneshot::Sender<Result<Job, ApiError>>,
}

/// The handle requests use; the task stops when it is dropped.
pub struct Submitter {
    tx: mpsc::Sender<Pending>,
}

/// What a batch needs.
struct Context {
    pool: PgPool,
    queue: RedisQueue,
    clock: Clock,
}

impl Submitter {
    /// Starts the task (on the current Tokio runtime). At most
    /// `max_in_flight` batches use a database connection at once.
    pub fn start(pool: PgPool, queue: RedisQueue, clock: Clock, max_in_flight: usize) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let context = Arc::new(Context { pool, queue, clock });
        let in_flight = max_in_flight.clamp(1, MAX_IN_FLIGHT);
        tokio::spawn(run(rx, context, in_flight));
        Self { tx }
    }

    /// Inserts `job` (with others) and makes it visible in Redis; answers
    /// once its insert has committed. A failed insert fails every job of its
    /// batch with the same error.
    pub async fn submit(&self, job: NewJob) -> Result<Job, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Pending { job, reply })
            .await
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("the job submitter has stopped")))?;
        answer.await.map_err(|_| {
            ApiError::Internal(anyhow::anyhow!(
                "the job submitter dropped a job without answering"
            ))
        })?
    }
}

/// Forms batches and starts them. Jobs are taken from the channel as they
/// come. With no batch in flight, whatever waits goes at once (a lone job
/// alone). While batches are in flight, the jobs arriving meanwhile wait for
/// one of them to finish and then go together; another batch starts
/// alongside only once [`EXTRA_BATCH_MIN`] jobs wait, so that concurrent
/// batches are never tiny statements that cost more than they save.
async fn run(mut rx: mpsc::Receiver<Pending>, context: Arc<Context>, max_in_flight: usize) {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<()>();
    let mut waiting: Vec<Pending> = Vec::new();
    let mut running = 0usize;
    let mut open = true;
    loop {
        while open && waiting.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(pending) => waiting.push(pending),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => open = false,
            }
        }
        let worth_a_batch = running == 0 || waiting.len() >= EXTRA_BATCH_MIN;
        if !waiting.is_empty() && running < max_in_flight && worth_a_batch {
            let batch: Vec<Pending> = waiting.drain(..waiting.len().min(MAX_BATCH)).collect();
            running += 1;
            let context = context.clone();
            let slot = Slot(done_tx.clone());
            tokio::spawn(async move { commit(&context, batch, slot).await });
            continue;
        }
        if !open && waiting.is_empty() && running == 0 {
            // Every sender is gone (the api is shutting down) and every
            // job has been answered.
            return;
        }
        tokio::select! {
            biased;
            Some(()) = done_rx.recv() => running -= 1,
            received = rx.recv(), if open && waiting.len() < MAX_BATCH => match received {
                Some(pending) => waiting.push(pending),
                None => open = false,
            },
        }
    }
}

/// A batch's use of the database; the batcher hears when it ends, even if
/// the batch's task panics.
struct Slot(mpsc::UnboundedSender<()>);

impl Drop for Slot {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

/// Inserts one batch with one statement (atomic by itself, so no explicit
/// transaction), publishes it, and answers each request. The slot is given
/// back as soon as the insert is done: publishing needs no database.
async fn commit(context: &Context, batch: Vec<Pending>, slot: Slot) {
    let (new_jobs, replies): (Vec<NewJob>, Vec<_>) =
        batch.into_iter().map(|p| (p.job, p.reply)).unzip();
    let inserted = jobs::insert(&context.pool, &new_jobs).await;
    drop(slot);
    let inserted = match inserted {
        Ok(inserted) => inserted,
        Err(e) => {
            warn!(error = %e, count = new_jobs.len(), "could not insert a batch of submitted jobs");
            let e = Arc::new(e);
            for reply in replies {
                let _ = reply.send(Err(ApiError::shared(&e, "inserting a batch of jobs")));
            }
            return;
        }
    };
    debug!(count = inserted.len(), "batch of submitted jobs committed");
    crate::metrics::jobs_submitted(&inserted);
    publish_new(&context.queue, context.clock.now(), &inserted).await;
    for (answer, reply) in in_request_order(&new_jobs, inserted).zip(replies) {
        // A client that went away still has its job: it was committed.
        let _ = reply.send(answer);
    }
}

/// The inserted rows in the order of `new_jobs`, for jobs without an
/// idempotency key or a schedule origin: nothing can conflict with them, so
/// a missing row is a bug, not a replay.
pub fn in_request_order(
    new_jobs: &[NewJob],
    inserted: Vec<Job>,
) -> impl Iterator<Item = Result<Job, ApiError>> + '_ {
    let mut by_id: HashMap<uuid::Uuid, Job> = inserted.into_iter().map(|j| (j.id, j)).collect();
    new_jobs.iter().map(move |new| {
        by_id.remove(&new.id).ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "job {} was neither inserted nor refused",
                new.id
            ))
        })
    })
}

/// How long a submit waits for Redis after its jobs are committed: a silent
/// Redis must not hold the answer (the jobs are safe in Postgres).
const REDIS_BOUND: std::time::Duration = std::time::Duration::from_secs(2);

/// Makes freshly inserted jobs visible in Redis and announces them, in one
/// pipeline, waiting at most [`REDIS_BOUND`]. A Redis failure is logged, not
/// returned: the jobs are safe in Postgres and the reconciler makes them
/// visible when Redis is back.
pub async fn publish_new(queue: &RedisQueue, now: DateTime<Utc>, jobs: &[Job]) {
    if jobs.is_empty() {
        return;
    }
    let mut ops = Vec::with_capacity(jobs.len() + 1);
    ops.push(QueueOp::Publish(
        jobs.iter().map(|j| StatusEvent::of(j, now)).collect(),
    ));
    ops.extend(jobs.iter().map(QueueOp::enqueue));
    let outcome = tokio::time::timeout(REDIS_BOUND, queue.apply(&ops))
        .await
        .unwrap_or_else(|_| {
            Err(anyhow::anyhow!(
                "Redis did not answer within {REDIS_BOUND:?}"
            ))
        });
    if let Err(e) = outcome {
        warn!(error = %format!("{e:#}"), count = jobs.len(),
              "jobs saved but not yet in Redis; the reconciler will add them");
    }
}
