//! Scheduled jobs that are due become queued in Postgres. (The claim script
//! already moves due entries in Redis; this keeps the truth in step and
//! restores any entry Redis is missing.)

use conveyor_shared::db::housekeeping::{self as sql, Waiting};
use conveyor_shared::events::StatusEvent;
use conveyor_shared::queue::QueueOp;

use super::reconcile::restore_jobs;
use crate::runner::Worker;

const BATCH: i64 = 1_000;

pub(super) async fn run(worker: &Worker, fence: i64) -> anyhow::Result<()> {
    loop {
        let jobs = sql::promote_due(&worker.pool, fence, BATCH).await?;
        if jobs.is_empty() {
            return Ok(());
        }
        let waiting: Vec<Waiting> = jobs.iter().map(Waiting::from).collect();
        restore_jobs(worker, &waiting).await?;
        let now = worker.clock.now();
        let events = jobs.iter().map(|j| StatusEvent::of(j, now)).collect();
        worker.queue.apply(&[QueueOp::Publish(events)]).await?;
        if (jobs.len() as i64) < BATCH {
            return Ok(());
        }
    }
}
