//! The worker's side: claiming jobs, extending leases, recording outcomes.
//!
//! Every write names the state and attempt it expects, so a worker whose
//! lease was taken over cannot overwrite a newer attempt's outcome.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use crate::model::{AttemptOutcome, Job, JobStatus};

/// Claims the jobs among `ids` that are still waiting to run: each moves to
/// `running` under `worker`'s lease and its attempt count goes up by one, in
/// one statement. Ids that are no longer waiting (cancelled, already claimed),
/// scheduled jobs not yet due, and jobs of a paused queue are left alone and
/// not returned: Postgres decides, whatever the Redis index said (a Redis
/// rebuilt before its pause flags, an id put in the ready set early). The
/// paused queues are read once per statement (usually none), not probed per
/// row (0.3 µs a job less in `scripts/replay`).
/// The attempt row is written when the attempt ends ([`finish`]); until then
/// the job row describes it.
pub async fn claim<'e>(
    exec: impl PgExecutor<'e>,
    ids: &[Uuid],
    worker: &str,
    lease_ms: i64,
) -> sqlx::Result<Vec<Job>> {
    send_claim(
        exec,
        "update jobs set status = 'running', attempt = attempt + 1,
                lease_owner = $2, last_worker = $2,
                lease_expires_at = now() + $3 * interval '1 millisecond',
                started_at = now(), updated_at = now()
         where id = any($1)
           and (status = 'queued' or (status = 'scheduled' and run_at <= now()))
           and jobs.queue <> all (array(select name from queues where paused))
         returning *",
        ids,
        worker,
        lease_ms,
    )
    .await
}

/// Sends a claim statement (`$1` the ids, `$2` the worker, `$3` the lease
/// in milliseconds).
async fn send_claim<'e>(
    exec: impl PgExecutor<'e>,
    sql: &'static str,
    ids: &[Uuid],
    worker: &str,
    lease_ms: i64,
) -> sqlx::Result<Vec<Job>> {
    sqlx::query_as(sql)
        .bind(ids)
        .bind(worker)
        .bind(lease_ms as f64)
        .fetch_all(exec)
        .await
}

/// [`claim`] again, after a claim of the same `ids` by the same `worker`
/// failed without an answer (its connection lost): that claim may have been
/// committed. Jobs it did claim, still `running` under `worker`'s lease, are
/// handed over again with their attempt and start time and a fresh lease;
/// the others are claimed as [`claim`] would. A job another worker claimed
/// meanwhile, or the leader reclaimed and another worker took, is left alone.
/// Only the worker whose claim went unanswered sends this, with that claim's
/// ids, which it never started: so no attempt is handed over twice.
pub async fn claim_again<'e>(
    exec: impl PgExecutor<'e>,
    ids: &[Uuid],
    worker: &str,
    lease_ms: i64,
) -> sqlx::Result<Vec<Job>> {
    send_claim(
        exec,
        "update jobs set status = 'running',
                attempt = attempt + case when status = 'running' then 0 else 1 end,
                lease_owner = $2, last_worker = $2,
                lease_expires_at = now() + $3 * interval '1 millisecond',
                started_at = case when status = 'running' then started_at else now() end,
                updated_at = now()
         where id = any($1)
           and ((status = 'running' and lease_owner = $2)
                or ((status = 'queued' or (status = 'scheduled' and run_at <= now()))
                    and jobs.queue <> all (array(select name from queues where paused))))
         returning *",
        ids,
        worker,
        lease_ms,
    )
    .await
}

/// Of `ids`, the jobs still waiting (queued or scheduled), with whether their
/// queue is paused: what a claim refused that Redis should hold again.
pub async fn still_waiting(pool: &PgPool, ids: &[Uuid]) -> sqlx::Result<Vec<(Job, bool)>> {
    let jobs: Vec<Job> = sqlx::query_as(
        "select * from jobs where id = any($1) and status in ('queued', 'scheduled')",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    let paused: Vec<String> = sqlx::query_scalar("select name from queues where paused")
        .fetch_all(pool)
        .await?;
    Ok(jobs
        .into_iter()
        .map(|job| {
            let is_paused = paused.contains(&job.queue);
            (job, is_paused)
        })
        .collect())
}

/// Extends the leases `worker` holds on the given attempts (job id, attempt);
/// returns the attempts it still holds. An attempt missing from the answer
/// was cancelled or taken over (a newer attempt, perhaps by this same worker,
/// now holds the job): stop running it. Naming the attempt keeps an old
/// attempt's renewal from extending the newer one's lease.
pub async fn extend_leases(
    pool: &PgPool,
    attempts: &[(Uuid, i32)],
    worker: &str,
    lease_ms: i64,
) -> sqlx::Result<Vec<(Uuid, i32)>> {
    let (ids, numbers): (Vec<Uuid>, Vec<i32>) = attempts.iter().copied().unzip();
    sqlx::query_as(
        "update jobs j set lease_expires_at = now() + $4 * interval '1 millisecond'
         from unnest($1::uuid[], $2::int4[]) as t(id, attempt)
         where j.id = t.id and j.attempt = t.attempt
           and j.status = 'running' and j.lease_owner = $3
         returning j.id, j.attempt",
    )
    .bind(ids)
    .bind(numbers)
    .bind(worker)
    .bind(lease_ms as f64)
    .fetch_all(pool)
    .await
}

/// How one attempt ended, and where that leaves the job.
#[derive(Debug, Clone)]
pub struct Finish {
    pub id: Uuid,
    pub attempt: i32,
    pub outcome: AttemptOutcome,
    /// The job's next state: succeeded, dead, scheduled (a retry after
    /// backoff) or queued (handed back at shutdown).
    pub status: JobStatus,
    /// When the job is next due, for scheduled and queued.
    pub run_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub result: Option<Value>,
    pub output: Option<String>,
    /// When the attempt started (the job's `started_at` at its claim).
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

impl Finish {
    /// A plain success of `job`'s current attempt, ended at `now`: the job
    /// succeeds, with no result, output or error (fill them in after).
    pub fn succeeded(job: &Job, now: DateTime<Utc>) -> Self {
        Self {
            id: job.id,
            attempt: job.attempt,
            outcome: AttemptOutcome::Succeeded,
            status: JobStatus::Succeeded,
            run_at: None,
            error: None,
            result: None,
            output: None,
            started_at: job.started_at.unwrap_or(now),
            finished_at: now,
        }
    }

    /// This outcome with every NUL character in its error, result and output
    /// replaced, so PostgreSQL can store it.
    pub fn storable(mut self) -> Self {
        use crate::executor::{storable_json, storable_text};
        self.error = self.error.map(storable_text);
        self.output = self.output.map(storable_text);
        self.result = self.result.map(storable_json);
        self
    }
}

/// Records a batch of `worker`'s outcomes in one statement. A job's row
/// changes only if it is still `running` at the attempt named. The attempt
/// row is written whether or not the job accepted the outcome (a cancelled
/// job's attempt still ended `cancelled`), unless the attempt was already
/// recorded (as `lost`, by the leader), and except for a success without
/// output that the job accepted: the job row describes that attempt
/// (`started_at`, `finished_at`, `last_worker`; migration 0012), and
/// [`crate::db::jobs::attempts`] reads it from there. Returns the ids whose
/// job row was updated; the others were cancelled or taken over meanwhile
/// and their outcome is refused.
pub async fn finish<'e>(
    exec: impl PgExecutor<'e>,
    worker: &str,
    batch: &[Finish],
) -> sqlx::Result<Vec<Uuid>> {
    let n = batch.len();
    let mut ids = Vec::with_capacity(n);
    let mut attempts = Vec::with_capacity(n);
    let mut outcomes = Vec::with_capacity(n);
    let mut statuses = Vec::with_capacity(n);
    let mut run_ats = Vec::with_capacity(n);
    let mut errors = Vec::with_capacity(n);
    let mut results = Vec::with_capacity(n);
    let mut outputs = Vec::with_capacity(n);
    let mut started = Vec::with_capacity(n);
    let mut finished = Vec::with_capacity(n);
    for f in batch {
        ids.push(f.id);
        attempts.push(f.attempt);
        outcomes.push(f.outcome.as_str());
        statuses.push(f.status.as_str());
        run_ats.push(f.run_at);
        errors.push(f.error.clone());
        results.push(f.result.clone());
        outputs.push(f.output.clone());
        started.push(f.started_at);
        finished.push(f.finished_at);
    }
    sqlx::query_scalar(
        // The input is read twice, by the update and by the attempts'
        // insert, rather than shared through a CTE: joined to a materialised
        // CTE the update compared every pair of rows (docs/performance.md),
        // while `unnest` joins by the primary key, one probe per outcome.
        "with updated as (
             update jobs j set
                    status = i.status::job_status,
                    run_at = coalesce(i.run_at, j.run_at),
                    last_error = coalesce(i.error, j.last_error),
                    result = i.result,
                    lease_owner = null, lease_expires_at = null,
                    attempt_base = j.attempt_base + (i.outcome = 'interrupted')::int,
                    finished_at = case when i.status in ('succeeded', 'dead', 'cancelled')
                                       then i.finished_at end,
                    updated_at = now()
             from unnest($1::uuid[], $2::int4[], $3::text[], $4::text[], $5::timestamptz[],
                         $6::text[], $7::jsonb[], $9::timestamptz[])
                 as i(id, attempt, outcome, status, run_at, error, result, finished_at)
             where j.id = i.id and j.status = 'running' and j.attempt = i.attempt
             returning j.id
         ), attempts as (
             -- An attempt row opened before migration 0010 is still updated,
             -- even for a plain success.
             insert into job_attempts as a (job_id, attempt, worker_id, outcome, started_at,
                                            finished_at, error, output)
             select id, attempt, $11, outcome::attempt_outcome, started_at, finished_at,
                    error, output
             from unnest($1::uuid[], $2::int4[], $3::text[], $6::text[], $8::text[],
                         $9::timestamptz[], $10::timestamptz[])
                 as t(id, attempt, outcome, error, output, finished_at, started_at)
             where not (t.outcome = 'succeeded' and t.output is null
                        and t.id in (select id from updated)
                        and not exists (select 1 from job_attempts o
                                        where o.job_id = t.id and o.attempt = t.attempt))
             on conflict (job_id, attempt) do update
                 set outcome = excluded.outcome, finished_at = excluded.finished_at,
                     error = excluded.error, output = excluded.output
                 where a.outcome = 'running'
         )
         select id from updated",
    )
    .bind(ids)
    .bind(attempts)
    .bind(outcomes)
    .bind(statuses)
    .bind(run_ats)
    .bind(errors)
    .bind(results)
    .bind(outputs)
    .bind(finished)
    .bind(started)
    .bind(worker)
    .fetch_all(exec)
    .await
}

/// Of `ids`, the jobs running on a live lease, with their attempt. A
/// container started for a (job, attempt) that is not among them belongs to
/// an attempt that is over (its worker was killed, or it was cancelled before
/// the container came up) and may be removed.
pub async fn live_attempts(pool: &PgPool, ids: &[Uuid]) -> sqlx::Result<Vec<(Uuid, i32)>> {
    sqlx::query_as(
        "select id, attempt from jobs
         where id = any($1) and status = 'running' and lease_expires_at > now()",
    )
    .bind(ids)
    .fetch_all(pool)
    .await
}
