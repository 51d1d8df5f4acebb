//! Statements of the housekeeping leader. Each write names the leader epoch
//! it holds (`fence`): once another worker has become leader, the epoch in
//! `housekeeping_leader` has moved on and the write matches no row.

use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use sqlx::PgPool;
use uuid::Uuid;

use crate::model::{Job, JobStatus};

/// Takes the fencing token after winning the Redis lease: bumps the epoch and
/// returns it.
pub async fn take_epoch(pool: &PgPool, holder: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "update housekeeping_leader set epoch = epoch + 1, holder = $1, acquired_at = now()
         where id = 1 returning epoch",
    )
    .bind(holder)
    .fetch_one(pool)
    .await
}

/// Whether `epoch` is still the current one.
pub async fn holds_epoch(pool: &PgPool, epoch: i64) -> sqlx::Result<bool> {
    sqlx::query_scalar("select epoch = $1 from housekeeping_leader where id = 1")
        .bind(epoch)
        .fetch_one(pool)
        .await
}

/// Whether `epoch` is still the current one, and PostgreSQL's clock as it
/// answered: the leader bounds its next statements by that time, so a
/// statement held up on the way (a stalled connection) does nothing.
pub async fn check_epoch(
    pool: &PgPool,
    epoch: i64,
) -> sqlx::Result<(bool, chrono::DateTime<chrono::Utc>)> {
    sqlx::query_as("select epoch = $1, now() from housekeeping_leader where id = 1")
        .bind(epoch)
        .fetch_one(pool)
        .await
}

/// Scheduled jobs that are due become queued (at most `limit`).
pub async fn promote_due(pool: &PgPool, fence: i64, limit: i64) -> sqlx::Result<Vec<Job>> {
    sqlx::query_as(
        "update jobs set status = 'queued', updated_at = now()
         where id in (select j.id from live_jobs l join jobs j on j.id = l.id
                      where l.status = 'scheduled' and l.run_at <= now()
                        and j.status = 'scheduled' and j.run_at <= now()
                      order by l.run_at limit $2 for update of j skip locked)
           and exists (select 1 from housekeeping_leader where id = 1 and epoch = $1)
         returning *",
    )
    .bind(fence)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Of `ids` (candidates: Redis's in-flight entries past their deadline,
/// migration 0015), the running jobs whose lease expired more than
/// `grace_ms` ago (their worker died or lost Postgres for longer than a
/// lease and the grace): the attempt
/// is recorded as `lost` and the job goes back to the queue without spending
/// its retry budget — unless it was lost four times before, which makes it
/// dead (a job that kills its workers). The grace gives a live worker whose
/// renewal was late (a short outage of its own connection) the time to renew.
/// With `not_after` (PostgreSQL's clock), a statement that reaches the server
/// later than that — it was held up with everyone's renewals — reclaims
/// nothing.
pub async fn reclaim_expired(
    pool: &PgPool,
    fence: i64,
    grace_ms: i64,
    not_after: Option<chrono::DateTime<chrono::Utc>>,
    ids: &[Uuid],
) -> sqlx::Result<Vec<Job>> {
    sqlx::query_as(
        "with fence as (
             select 1 from housekeeping_leader where id = 1 and epoch = $1
         ), expired as (
             select j.id, j.attempt, j.lease_owner, j.started_at,
                    (select count(*) from job_attempts a
                      where a.job_id = j.id and a.outcome = 'lost') as lost_before
             from jobs j
             where j.id = any($2)
               and j.status = 'running'
               and j.lease_expires_at < now() - $3 * interval '1 millisecond'
               and ($4::timestamptz is null or now() <= $4)
               and exists (select 1 from fence)
             for update of j skip locked
         ), attempts as (
             -- The attempt's row is written when it ends (migration 0010);
             -- one opened before that is updated.
             insert into job_attempts as a (job_id, attempt, worker_id, outcome, started_at,
                                            finished_at, error)
             select e.id, e.attempt, e.lease_owner, 'lost', coalesce(e.started_at, now()), now(),
                    'lost: worker ' || e.lease_owner || ' stopped renewing its lease'
             from expired e
             on conflict (job_id, attempt) do update
                 set outcome = 'lost', finished_at = excluded.finished_at, error = excluded.error
                 where a.outcome = 'running'
         )
         update jobs j set
             status = case when e.lost_before >= 4 then 'dead' else 'queued' end::job_status,
             finished_at = case when e.lost_before >= 4 then now() end,
             -- run_at stays: the job keeps its place in the ready set.
             attempt_base = j.attempt_base + 1,
             lease_owner = null, lease_expires_at = null,
             last_error = 'lost: worker ' || e.lease_owner || ' stopped renewing its lease',
             updated_at = now()
         from expired e
         where j.id = e.id
         returning j.*",
    )
    .bind(fence)
    .bind(ids)
    .bind(grace_ms as f64)
    .bind(not_after)
    .fetch_all(pool)
    .await
}

/// A job as the reconciler files it in Redis: the few columns it needs, not
/// the row (payloads can be large, and a reconcile reads every waiting job).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Waiting {
    pub id: Uuid,
    pub queue: String,
    pub priority: i16,
    pub status: JobStatus,
    pub run_at: DateTime<Utc>,
}

impl From<&Job> for Waiting {
    fn from(job: &Job) -> Self {
        Self {
            id: job.id,
            queue: job.queue.clone(),
            priority: job.priority,
            status: job.status,
            run_at: job.run_at,
        }
    }
}

/// Whether PostgreSQL holds no live job (blocked, scheduled, queued or
/// running): then Redis, whatever it holds, lacks none of them.
pub async fn nothing_live(pool: &PgPool) -> sqlx::Result<bool> {
    sqlx::query_scalar("select not exists (select 1 from live_jobs)")
        .fetch_one(pool)
        .await
}

/// Every queued or scheduled job, streamed in one statement: the waiting
/// entries of `live_jobs`, each joined to its row.
pub fn all_waiting(pool: &PgPool) -> BoxStream<'_, sqlx::Result<Waiting>> {
    sqlx::query_as(
        "select j.id, j.queue, j.priority, j.status, j.run_at
         from live_jobs l join jobs j on j.id = l.id
         where l.status = any($1) and j.status = any($1)",
    )
    .bind(&JobStatus::WAITING[..])
    .fetch(pool)
}

/// A running job as the rebuild files it in Redis's in-flight set: by its
/// lease deadline.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Running {
    pub id: Uuid,
    pub queue: String,
    pub lease_expires_at: DateTime<Utc>,
}

/// Every running job, streamed in one statement: the `queued` entries of
/// `live_jobs` (a running job keeps its entry, migration 0015) whose job is
/// running.
pub fn all_running(pool: &PgPool) -> BoxStream<'_, sqlx::Result<Running>> {
    sqlx::query_as(
        "select j.id, j.queue, coalesce(j.lease_expires_at, now()) as lease_expires_at
         from live_jobs l join jobs j on j.id = l.id
         where l.status = 'queued' and j.status = 'running'",
    )
    .fetch(pool)
}

/// The queued or scheduled jobs whose id is at least `from`. Job ids are
/// UUIDv7, so this is every waiting job submitted since the time in `from`
/// (see [`id_floor`]); a range scan of `live_jobs`' primary key.
pub fn waiting_from(pool: &PgPool, from: Uuid) -> BoxStream<'_, sqlx::Result<Waiting>> {
    sqlx::query_as(
        "select j.id, j.queue, j.priority, j.status, j.run_at
         from live_jobs l join jobs j on j.id = l.id
         where l.id >= $2 and l.status = any($1) and j.status = any($1)",
    )
    .bind(&JobStatus::WAITING[..])
    .bind(from)
    .fetch(pool)
}

/// The smallest UUIDv7 of the millisecond `at`: every id made at or after
/// `at` sorts at or above it.
pub fn id_floor(at: DateTime<Utc>) -> Uuid {
    let ms = at.timestamp_millis().max(0) as u64;
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    Uuid::from_bytes(bytes)
}

/// The jobs of `ids` that still exist, with their status.
pub async fn states(pool: &PgPool, ids: &[Uuid]) -> sqlx::Result<Vec<Waiting>> {
    sqlx::query_as("select id, queue, priority, status, run_at from jobs where id = any($1)")
        .bind(ids)
        .fetch_all(pool)
        .await
}

/// Of `ids`, those whose job is in one of `statuses`.
pub async fn with_status(
    pool: &PgPool,
    ids: &[Uuid],
    statuses: &[JobStatus],
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar("select id from jobs where id = any($1) and status = any($2)")
        .bind(ids)
        .bind(statuses)
        .fetch_all(pool)
        .await
}

/// Deletes up to `limit` jobs in `status` that finished more than `days` ago
/// (their attempts go with them), oldest id first and after `after`. Returns
/// how many were deleted and the last id deleted, where the next batch goes on.
///
/// `jobs` has no index on `finished_at` (it would make every finish a
/// non-HOT update: migration 0011). A job finished more than `days` ago was
/// submitted before then, and ids are UUIDv7, so succeeded jobs are found by
/// a range scan of the primary key that ends at the first id of that time;
/// dead, cancelled and skipped jobs through their partial index.
/// `pg_now` is PostgreSQL's clock (the leader's epoch check reads it), the
/// clock `finished_at` is compared with.
pub async fn delete_finished(
    pool: &PgPool,
    fence: i64,
    status: JobStatus,
    days: i64,
    pg_now: DateTime<Utc>,
    after: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<(u64, Option<Uuid>)> {
    let by_status = if status == JobStatus::Succeeded {
        "status = $2"
    } else {
        "rare_final = $2"
    };
    let ids: Vec<Uuid> = sqlx::query_scalar(&format!(
        "delete from jobs where id in (
             select id from jobs
             where {by_status} and status = $2
               and id > $5 and id < $6
               and finished_at < now() - $3 * interval '1 day'
             order by id limit $4)
           and exists (select 1 from housekeeping_leader where id = 1 and epoch = $1)
         returning id"
    ))
    .bind(fence)
    .bind(status)
    .bind(days as f64)
    .bind(limit)
    .bind(after.unwrap_or(Uuid::nil()))
    .bind(id_floor(pg_now - chrono::Duration::days(days)))
    .fetch_all(pool)
    .await?;
    Ok((ids.len() as u64, ids.into_iter().max()))
}
