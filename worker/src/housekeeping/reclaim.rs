//! Running jobs whose lease expired — their worker was killed, or lost
//! Postgres for longer than a lease — go back to the queue as a new attempt;
//! the lost attempt is recorded with the worker's id.
//!
//! An outage of Postgres itself stops every worker's renewals along with the
//! leader: when it returns, every lease looks expired. So the leader reclaims
//! only once it has reached Postgres without a gap for [`grace`] (two
//! heartbeats: every live worker has renewed by then), and only leases that
//! expired more than that grace ago. A job whose worker kept running it
//! through the outage is therefore neither run twice nor charged a `lost`
//! attempt (docs/reliability.md, "Faults").

use chrono::{DateTime, Utc};
use conveyor_shared::config::WorkerConfig;
use conveyor_shared::db::housekeeping as sql;
use conveyor_shared::events::StatusEvent;
use conveyor_shared::model::{Job, JobStatus};
use conveyor_shared::queue::QueueOp;
use tracing::warn;
use uuid::Uuid;

use crate::runner::Worker;

/// Candidates read from each queue's in-flight set at a time.
const BATCH: usize = 500;

/// How long a lease must have been expired, and the leader must have reached
/// Postgres without a gap, before a lease is reclaimed: two heartbeats of a
/// worker, the time a live worker needs to renew after Postgres returns.
pub(crate) fn grace(config: &WorkerConfig) -> std::time::Duration {
    config.heartbeat_every() * 2
}

/// Since when the leader has reached Postgres without a gap: reset by an
/// error, or by a silence longer than a heartbeat between two answers (a
/// connection that hung, a paused server, or a new leader that does not know
/// what happened before it).
#[derive(Debug, Default)]
pub(super) struct PgHealth {
    since: Option<DateTime<Utc>>,
    last_answer: Option<DateTime<Utc>>,
}

impl PgHealth {
    /// Postgres answered at `now`.
    pub fn answered(&mut self, now: DateTime<Utc>, max_gap: std::time::Duration) {
        let max_gap = chrono::Duration::from_std(max_gap).unwrap_or(chrono::Duration::MAX);
        if self.last_answer.is_none_or(|last| now - last > max_gap) {
            self.since = Some(now);
        }
        self.last_answer = Some(now);
    }

    /// Postgres failed (or leadership was just taken): start over.
    pub fn failed(&mut self) {
        self.since = None;
        self.last_answer = None;
    }

    /// Whether Postgres has answered without a gap for at least `grace`.
    pub fn healthy_for(&self, now: DateTime<Utc>, grace: std::time::Duration) -> bool {
        let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
        self.since.is_some_and(|since| now - since >= grace)
    }
}

/// Reclaims expired leases if Postgres has been healthy long enough.
/// `checked_at` is Postgres's clock when the leader last checked its epoch;
/// a reclaim statement arriving more than `max_gap` after it does nothing.
///
/// The candidates are each queue's in-flight entries in Redis whose lease
/// deadline passed (the claim script records it, the heartbeat pushes it
/// on); PostgreSQL decides by the job's own lease, with the grace. A running
/// job Redis lost (a flush, a restart) is a candidate again once the
/// rebuild has restored its entry from PostgreSQL (`reconcile`).
pub(super) async fn run(
    worker: &Worker,
    fence: i64,
    health: &PgHealth,
    checked_at: DateTime<Utc>,
    max_gap: std::time::Duration,
) -> anyhow::Result<()> {
    let grace = grace(&worker.config);
    if !health.healthy_for(worker.clock.now(), grace) {
        return Ok(());
    }
    let grace_ms = grace.as_millis() as i64;
    let not_after = checked_at + chrono::Duration::from_std(max_gap).unwrap_or_default();
    let queues = worker.queue.queue_names().await?;
    let queues: Vec<&str> = queues.iter().map(String::as_str).collect();
    let mut settled = false;
    loop {
        // Every queue's expired entries in one round trip.
        let expired = worker
            .queue
            .expired_inflight(&queues, worker.clock.now(), BATCH)
            .await?;
        let full: Vec<&str> = queues
            .iter()
            .zip(&expired)
            .filter(|(_, members)| members.len() == BATCH)
            .map(|(queue, _)| *queue)
            .collect();
        let candidates: Vec<Uuid> = expired
            .iter()
            .flatten()
            .filter_map(|m| Uuid::parse_str(m).ok())
            .collect();
        if candidates.is_empty() {
            return Ok(());
        }
        let jobs =
            sql::reclaim_expired(&worker.pool, fence, grace_ms, Some(not_after), &candidates)
                .await?;
        apply_reclaimed(worker, &jobs).await?;
        // Again while a queue had a full page.
        if full.is_empty() {
            return Ok(());
        }
        if jobs.len() < candidates.len() {
            // The page held entries PostgreSQL would not reclaim: most
            // likely of jobs that finished after a rebuild read them as
            // running, which the reconcile settles only at its interval.
            // Expired entries behind them would wait for it: settle those
            // queues now, once a run (entries still within the grace stay),
            // then read again.
            if settled {
                return Ok(());
            }
            settled = true;
            for queue in &full {
                super::reconcile::expired_inflight(worker, queue).await?;
            }
        }
    }
}

/// Puts the reclaimed `jobs` back in Redis (or drops the dead ones) and
/// announces them.
async fn apply_reclaimed(worker: &Worker, jobs: &[Job]) -> anyhow::Result<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let now = worker.clock.now();
    let mut ops = Vec::with_capacity(jobs.len() * 2 + 1);
    for job in jobs {
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
    Ok(())
}
