//! Records outcomes in batches: whatever has arrived since the last write
//! goes into one Postgres statement and one Redis pipeline, so under load a
//! finish costs a fraction of a round trip, and when idle it costs no delay.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use conveyor_shared::db::claims::{self, Finish};
use conveyor_shared::db::workflows;
use conveyor_shared::events::StatusEvent;
use conveyor_shared::model::{Job, JobStatus};
use conveyor_shared::queue::QueueOp;
use tokio::sync::mpsc;
use tracing::{debug, warn};
use uuid::Uuid;

use crate::runner::Worker;

/// Most outcomes written in one statement.
const MAX_BATCH: usize = 1_000;

/// An attempt that ended, with the job it belongs to.
pub(crate) struct Finished {
    pub job: Job,
    pub finish: Finish,
    /// The attempt's `job` span, so the finisher's lines about it carry
    /// job_id, queue, kind and attempt.
    pub span: tracing::Span,
}

/// Runs until every sender is dropped and the channel is drained. A failed
/// Postgres write is retried with backoff until it succeeds: outcomes wait in
/// the (bounded) channel and this batch, never dropped.
pub(crate) async fn run(worker: Arc<Worker>, mut rx: mpsc::Receiver<Finished>) {
    let mut batch: Vec<Finished> = Vec::with_capacity(64);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        write(&worker, &batch).await;
        batch.clear();
    }
}

async fn write(worker: &Worker, batch: &[Finished]) {
    let finishes: Vec<Finish> = batch.iter().map(|f| f.finish.clone()).collect();
    let mut failures = 0u32;
    let (updated, released, skipped) = loop {
        match record(worker, batch, &finishes).await {
            Ok(done) => break done,
            Err(e) => {
                failures += 1;
                let wait = Duration::from_millis((100u64 << failures.min(6)).min(5_000));
                warn!(error = %e, pending = batch.len(), retry_in_ms = wait.as_millis() as u64,
                      "could not record outcomes in Postgres; keeping them");
                tokio::time::sleep(wait).await;
            }
        }
    };
    {
        // Written (accepted or refused): the lease is no longer ours to renew.
        let mut running = worker.running.lock().unwrap_or_else(|e| e.into_inner());
        for f in batch {
            running.remove(&(f.finish.id, f.finish.attempt));
        }
    }
    let updated: HashSet<Uuid> = updated.into_iter().collect();
    let now = worker.clock.now();
    let mut ops = Vec::with_capacity(batch.len() * 2 + 1);
    let mut events = Vec::with_capacity(batch.len());
    for Finished { job, finish, span } in batch {
        let _in_job = span.enter();
        ops.push(QueueOp::Ack {
            queue: job.queue.clone(),
            id: job.id,
        });
        let accepted = updated.contains(&job.id);
        crate::metrics::attempt_ended(job, finish, accepted);
        if !accepted {
            warn!(
                outcome = finish.outcome.as_str(),
                "outcome refused: the job was cancelled or taken over meanwhile"
            );
            continue;
        }
        let mut after = job.clone();
        after.status = finish.status;
        after.last_error = finish.error.clone().or(after.last_error);
        if let Some(run_at) = finish.run_at {
            after.run_at = run_at;
        }
        if matches!(finish.status, JobStatus::Scheduled | JobStatus::Queued) {
            ops.push(QueueOp::enqueue(&after));
        }
        debug!(status = finish.status.as_str(), "outcome recorded");
        events.push(StatusEvent::of(&after, now));
    }
    for job in &released {
        debug!(job_id = %job.id, queue = %job.queue, kind = %job.kind, attempt = job.attempt,
               "released: every parent succeeded");
        ops.push(QueueOp::enqueue(job));
    }
    events.extend(
        released
            .iter()
            .chain(&skipped)
            .map(|j| StatusEvent::of(j, now)),
    );
    ops.push(QueueOp::Publish(events));
    // Postgres holds the outcome; the writer applies this after the claim
    // loop's earlier changes (the jobs' running events).
    worker.redis.send(ops).await;
}

/// Writes a batch of outcomes. Batches without workflow jobs are one
/// statement; otherwise, in the same transaction, children of succeeded jobs
/// are released and descendants of dead or cancelled ones skipped. Returns
/// the ids whose outcome was accepted, the released and the skipped jobs.
async fn record(
    worker: &Worker,
    batch: &[Finished],
    finishes: &[Finish],
) -> sqlx::Result<(Vec<Uuid>, Vec<Job>, Vec<Job>)> {
    if batch.iter().all(|f| f.job.workflow_run_id.is_none()) {
        let updated = claims::finish(&worker.pool, &worker.id, finishes).await?;
        return Ok((updated, Vec::new(), Vec::new()));
    }
    let mut tx = worker.pool.begin().await?;
    let updated = claims::finish(&mut *tx, &worker.id, finishes).await?;
    let accepted: HashSet<Uuid> = updated.iter().copied().collect();
    let in_run = |status: &[JobStatus]| -> Vec<Uuid> {
        batch
            .iter()
            .filter(|f| f.job.workflow_run_id.is_some() && status.contains(&f.finish.status))
            .map(|f| f.job.id)
            .filter(|id| accepted.contains(id))
            .collect()
    };
    let released = workflows::release_children(&mut tx, &in_run(&[JobStatus::Succeeded])).await?;
    let skipped =
        workflows::skip_descendants(&mut tx, &in_run(&[JobStatus::Dead, JobStatus::Cancelled]))
            .await?;
    tx.commit().await?;
    Ok((updated, released, skipped))
}
