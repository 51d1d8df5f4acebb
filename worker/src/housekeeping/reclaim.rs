//! Running jobs whose lease expired — their worker was killed, or lost
//! Postgres for longer than a lease — go back to the queue as a new attempt;
//! the lost attempt is recorded with the worker's id.

use conveyor_shared::db::housekeeping as sql;
use conveyor_shared::events::StatusEvent;
use conveyor_shared::model::JobStatus;
use conveyor_shared::queue::QueueOp;
use tracing::warn;

use crate::runner::Worker;

const BATCH: i64 = 500;

pub(super) async fn run(worker: &Worker, fence: i64) -> anyhow::Result<()> {
    loop {
        let jobs = sql::reclaim_expired(&worker.pool, fence, BATCH).await?;
        if jobs.is_empty() {
            return Ok(());
        }
        let now = worker.clock.now();
        let mut ops = Vec::with_capacity(jobs.len() * 2 + 1);
        for job in &jobs {
            warn!(job_id = %job.id, queue = %job.queue, kind = %job.kind, attempt = job.attempt,
                  status = ?job.status, error = job.last_error.as_deref().unwrap_or_default(),
                  "reclaimed a job whose lease expired");
            ops.push(QueueOp::Ack {
                queue: job.queue.clone(),
                id: job.id,
            });
            if job.status == JobStatus::Queued {
                ops.push(QueueOp::enqueue(job));
            }
        }
        ops.push(QueueOp::Publish(
            jobs.iter().map(|j| StatusEvent::of(j, now)).collect(),
        ));
        worker.queue.apply(&ops).await?;
        if (jobs.len() as i64) < BATCH {
            return Ok(());
        }
    }
}
