//! Makes Redis hold exactly the jobs Postgres says are waiting: jobs that are
//! queued or scheduled but missing from Redis are put back (after a FLUSHALL,
//! a Redis restart, or a write lost while Redis was down), and ids in Redis
//! whose job is no longer waiting (or, in-flight, no longer running) are
//! dropped.

use std::collections::{BTreeMap, BTreeSet};

use conveyor_shared::db::housekeeping as sql;
use conveyor_shared::model::{Job, JobStatus};
use tracing::info;
use uuid::Uuid;

use crate::runner::Worker;

const PAGE: i64 = 1_000;

pub(super) async fn run(worker: &Worker) -> anyhow::Result<()> {
    // Pause flags first: a job restored into a paused queue's ready set must
    // find the flag already there.
    for (queue, paused) in conveyor_shared::db::queues::all(&worker.pool).await? {
        worker.queue.set_paused(&queue, paused).await?;
    }
    let mut restored = 0u64;
    let mut queues: BTreeSet<String> = BTreeSet::new();
    for status in [JobStatus::Queued, JobStatus::Scheduled] {
        let mut after: Option<Uuid> = None;
        loop {
            let page = sql::waiting_page(&worker.pool, status, after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            queues.extend(page.iter().map(|j| j.queue.clone()));
            restored += restore_jobs(worker, &page).await?;
            if (page.len() as i64) < PAGE {
                break;
            }
        }
    }
    queues.extend(worker.queue.queue_names().await?);
    let mut dropped = 0usize;
    let keys = worker.queue.keys().clone();
    for queue in &queues {
        let waiting = [JobStatus::Queued, JobStatus::Scheduled];
        dropped += drop_stale(worker, &keys.ready(queue), &waiting, |m| {
            Uuid::parse_str(m).ok()
        })
        .await?;
        dropped += drop_stale(worker, &keys.delayed(queue), &waiting, |m| {
            m.split_once('|')
                .and_then(|(_, id)| Uuid::parse_str(id).ok())
        })
        .await?;
        dropped += drop_stale(
            worker,
            &keys.inflight(queue),
            &[JobStatus::Running, JobStatus::Queued, JobStatus::Scheduled],
            |m| Uuid::parse_str(m).ok(),
        )
        .await?;
    }
    worker.queue.mark_reconciled().await?;
    if restored > 0 || dropped > 0 {
        info!(restored, dropped, "reconciled Redis with Postgres");
    }
    Ok(())
}

/// A waiting job as Redis files it: id, priority, due time.
type Entry = (Uuid, u8, chrono::DateTime<chrono::Utc>);

/// Adds the given waiting jobs to Redis where they are missing.
pub(super) async fn restore_jobs(worker: &Worker, jobs: &[Job]) -> anyhow::Result<u64> {
    let mut by_queue: BTreeMap<&str, Vec<Entry>> = BTreeMap::new();
    for job in jobs {
        by_queue.entry(job.queue.as_str()).or_default().push((
            job.id,
            u8::try_from(job.priority).unwrap_or(5),
            job.run_at,
        ));
    }
    let now = worker.clock.now();
    let mut added = 0;
    for (queue, entries) in by_queue {
        added += worker.queue.restore(queue, &entries, now).await?;
    }
    Ok(added)
}

/// Removes members of `key` whose job is not in one of `keep` statuses.
/// (In-flight entries of a queued job stay: `restore` judges them by their
/// deadline.)
async fn drop_stale(
    worker: &Worker,
    key: &str,
    keep: &[JobStatus],
    id_of: impl Fn(&str) -> Option<Uuid>,
) -> anyhow::Result<usize> {
    let mut cursor = 0u64;
    let mut dropped = 0;
    loop {
        let (next, members) = worker.queue.scan(key, cursor).await?;
        let ids: Vec<Uuid> = members.iter().filter_map(|m| id_of(m)).collect();
        let alive: BTreeSet<Uuid> = sql::with_status(&worker.pool, &ids, keep)
            .await?
            .into_iter()
            .collect();
        let stale: Vec<String> = members
            .into_iter()
            .filter(|m| id_of(m).is_none_or(|id| !alive.contains(&id)))
            .collect();
        dropped += stale.len();
        worker.queue.remove(key, &stale).await?;
        if next == 0 {
            return Ok(dropped);
        }
        cursor = next;
    }
}
