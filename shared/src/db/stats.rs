//! Counts for the queues page and the overview.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::model::JobStatus;

/// Jobs of one queue, by state.
#[derive(Debug, Default, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct QueueCounts {
    pub queue: String,
    pub scheduled: i64,
    pub queued: i64,
    pub running: i64,
    pub dead: i64,
    /// Paused queues keep their jobs but none is claimed.
    pub paused: bool,
}

/// Every queue that has jobs waiting, running or dead, or has settings (a
/// paused queue is listed even when empty).
pub async fn queues(pool: &PgPool) -> sqlx::Result<Vec<QueueCounts>> {
    let mut out = counts(pool).await?;
    for (name, paused) in super::queues::all(pool).await? {
        match out.iter_mut().find(|q| q.queue == name) {
            Some(entry) => entry.paused = paused,
            None if paused => out.push(QueueCounts {
                queue: name,
                paused,
                ..Default::default()
            }),
            None => {}
        }
    }
    out.sort_by(|a, b| a.queue.cmp(&b.queue));
    Ok(out)
}

async fn counts(pool: &PgPool) -> sqlx::Result<Vec<QueueCounts>> {
    // Counters kept by triggers (migrations/0007_counters.sql, 0010_hot_path.sql): no count(*).
    let rows: Vec<(String, JobStatus, i64)> = sqlx::query_as(
        "select queue, status, n from job_counts
         where status in ('scheduled', 'queued', 'running', 'dead') and n <> 0
         order by queue",
    )
    .fetch_all(pool)
    .await?;
    let mut out: Vec<QueueCounts> = Vec::new();
    for (queue, status, count) in rows {
        if out.last().map(|q| q.queue != queue).unwrap_or(true) {
            out.push(QueueCounts {
                queue: queue.clone(),
                ..Default::default()
            });
        }
        if let Some(entry) = out.last_mut() {
            match status {
                JobStatus::Scheduled => entry.scheduled = count,
                JobStatus::Queued => entry.queued = count,
                JobStatus::Running => entry.running = count,
                JobStatus::Dead => entry.dead = count,
                _ => {}
            }
        }
    }
    Ok(out)
}

/// Count of jobs per status (from the counters).
pub async fn by_status(pool: &PgPool) -> sqlx::Result<Vec<(JobStatus, i64)>> {
    sqlx::query_as("select status, sum(n)::int8 from job_counts group by status")
        .fetch_all(pool)
        .await
}

/// Jobs that finished in one minute.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MinuteCount {
    pub minute: DateTime<Utc>,
    pub succeeded: i64,
    pub dead: i64,
    pub cancelled: i64,
}

/// Finished jobs per minute over the hour before `now`, one entry a minute
/// (zeros included), oldest first.
pub async fn finished_per_minute(
    pool: &PgPool,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<MinuteCount>> {
    let rows: Vec<(DateTime<Utc>, i64, i64, i64)> = sqlx::query_as(
        "select m.minute,
                coalesce(sum(t.n) filter (where t.status = 'succeeded'), 0)::int8,
                coalesce(sum(t.n) filter (where t.status = 'dead'), 0)::int8,
                coalesce(sum(t.n) filter (where t.status = 'cancelled'), 0)::int8
         from generate_series(date_trunc('minute', $1::timestamptz) - interval '59 minutes',
                              date_trunc('minute', $1::timestamptz),
                              interval '1 minute') as m(minute)
         left join (
             -- The job_throughput view's two halves, each read for the hour
             -- alone (the view would add up every minute it holds first).
             select minute, status, n from job_throughput_totals
             where minute >= date_trunc('minute', $1::timestamptz) - interval '59 minutes'
             union all
             select minute, status, n from job_throughput_deltas
             where minute >= date_trunc('minute', $1::timestamptz) - interval '59 minutes'
         ) t on t.minute = m.minute
         group by m.minute order by m.minute",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(minute, succeeded, dead, cancelled)| MinuteCount {
            minute,
            succeeded,
            dead,
            cancelled,
        })
        .collect())
}

/// Folds the counters' appended deltas into their totals (see
/// migrations/0010_hot_path.sql). Readers see the same numbers before and
/// after; folding only keeps the delta tables short.
pub async fn fold_counters(pool: &PgPool) -> sqlx::Result<()> {
    sqlx::query("select job_counts_fold()")
        .execute(pool)
        .await?;
    Ok(())
}

/// Forgets throughput older than a day and counters that reached zero.
pub async fn prune_counters(pool: &PgPool) -> sqlx::Result<()> {
    sqlx::query("delete from job_throughput_totals where minute < now() - interval '1 day'")
        .execute(pool)
        .await?;
    sqlx::query("delete from job_count_totals where n = 0")
        .execute(pool)
        .await?;
    Ok(())
}
