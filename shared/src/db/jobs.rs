//! Submitting, reading, cancelling and retrying jobs.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::model::{Attempt, Job, JobStatus, NewJob};

/// Inserts `jobs` in one statement. A job whose (queue, idempotency key) or
/// (schedule, fire time) is already taken is not inserted; the returned rows
/// are the inserted ones.
pub async fn insert<'e>(exec: impl PgExecutor<'e>, jobs: &[NewJob]) -> sqlx::Result<Vec<Job>> {
    let mut ids = Vec::with_capacity(jobs.len());
    let mut queues = Vec::with_capacity(jobs.len());
    let mut kinds = Vec::with_capacity(jobs.len());
    let mut names = Vec::with_capacity(jobs.len());
    let mut payloads = Vec::with_capacity(jobs.len());
    let mut priorities = Vec::with_capacity(jobs.len());
    let mut statuses = Vec::with_capacity(jobs.len());
    let mut max_attempts = Vec::with_capacity(jobs.len());
    let mut base_ms = Vec::with_capacity(jobs.len());
    let mut max_ms = Vec::with_capacity(jobs.len());
    let mut timeouts: Vec<Option<i32>> = Vec::with_capacity(jobs.len());
    let mut run_ats = Vec::with_capacity(jobs.len());
    let mut keys: Vec<Option<String>> = Vec::with_capacity(jobs.len());
    let mut hashes: Vec<Option<String>> = Vec::with_capacity(jobs.len());
    let mut schedule_ids: Vec<Option<Uuid>> = Vec::with_capacity(jobs.len());
    let mut fire_times: Vec<Option<chrono::DateTime<chrono::Utc>>> = Vec::with_capacity(jobs.len());
    let mut run_ids: Vec<Option<Uuid>> = Vec::with_capacity(jobs.len());
    let mut node_keys: Vec<Option<String>> = Vec::with_capacity(jobs.len());
    for job in jobs {
        schedule_ids.push(job.origin.schedule.map(|(id, _)| id));
        fire_times.push(job.origin.schedule.map(|(_, t)| t));
        run_ids.push(job.origin.workflow.as_ref().map(|(id, _)| *id));
        node_keys.push(job.origin.workflow.as_ref().map(|(_, key)| key.clone()));
        ids.push(job.id);
        queues.push(job.queue.as_str().to_owned());
        kinds.push(job.kind.clone());
        names.push(job.name.clone());
        payloads.push(job.payload.clone());
        priorities.push(i16::from(job.priority.get()));
        statuses.push(job.status.as_str());
        max_attempts.push(job.max_attempts);
        base_ms.push(job.backoff.base_ms);
        max_ms.push(job.backoff.max_ms);
        timeouts.push(job.timeout_secs);
        run_ats.push(job.run_at);
        keys.push(job.idempotency_key.clone());
        hashes.push(job.request_hash.clone());
    }
    sqlx::query_as(
        "insert into jobs (id, queue, kind, name, payload, priority, status, max_attempts,
                           backoff_base_ms, backoff_max_ms, timeout_secs, run_at,
                           idempotency_key, request_hash, schedule_id, fire_time,
                           workflow_run_id, node_key)
         select id, queue, kind, name, payload, priority, status::job_status, max_attempts,
                base_ms, max_ms, timeout_secs, run_at, idempotency_key, request_hash,
                schedule_id, fire_time, workflow_run_id, node_key
         from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::int2[],
                     $7::text[], $8::int4[], $9::int4[], $10::int4[], $11::int4[],
                     $12::timestamptz[], $13::text[], $14::text[], $15::uuid[],
                     $16::timestamptz[], $17::uuid[], $18::text[])
              as t(id, queue, kind, name, payload, priority, status, max_attempts,
                   base_ms, max_ms, timeout_secs, run_at, idempotency_key, request_hash,
                   schedule_id, fire_time, workflow_run_id, node_key)
         on conflict do nothing
         returning *",
    )
    .bind(ids)
    .bind(queues)
    .bind(kinds)
    .bind(names)
    .bind(payloads)
    .bind(priorities)
    .bind(statuses)
    .bind(max_attempts)
    .bind(base_ms)
    .bind(max_ms)
    .bind(timeouts)
    .bind(run_ats)
    .bind(keys)
    .bind(hashes)
    .bind(schedule_ids)
    .bind(fire_times)
    .bind(run_ids)
    .bind(node_keys)
    .fetch_all(exec)
    .await
}

/// The job holding an idempotency key, with the hash of the request that created it.
pub async fn by_idempotency_key<'e>(
    exec: impl PgExecutor<'e>,
    queue: &str,
    key: &str,
) -> sqlx::Result<Option<(Job, Option<String>)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        job: Job,
        request_hash: Option<String>,
    }
    let row: Option<Row> =
        sqlx::query_as("select * from jobs where queue = $1 and idempotency_key = $2")
            .bind(queue)
            .bind(key)
            .fetch_optional(exec)
            .await?;
    Ok(row.map(|r| (r.job, r.request_hash)))
}

pub async fn get(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<Job>> {
    sqlx::query_as("select * from jobs where id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// A job's attempts, oldest first, from the view `all_attempts`: two
/// attempts may have no row and are read from the job row, a running one
/// (its row is written when it ends) and the last attempt of a succeeded
/// job that succeeded without output (the finish writes no row for it: see
/// [`crate::db::claims::finish`] and migration 0012).
pub async fn attempts(pool: &PgPool, id: Uuid) -> sqlx::Result<Vec<Attempt>> {
    sqlx::query_as(
        "select job_id, attempt, worker_id, outcome, started_at, finished_at, error, output
         from all_attempts where job_id = $1 order by attempt",
    )
    .bind(id)
    .fetch_all(pool)
    .await
}

/// Filters of the jobs list; every field narrows.
#[derive(Debug, Default, Clone)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    pub queue: Option<String>,
    pub kind: Option<String>,
    /// Substring of the name, case-insensitive.
    pub name: Option<String>,
}

/// The order of the jobs list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JobSort {
    /// Newest first.
    #[default]
    Created,
    /// Highest priority first, newest first within a priority.
    Priority,
}

/// Where the previous page ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub priority: Option<i16>,
    pub id: Uuid,
}

impl Cursor {
    /// The opaque text form: `<id>` for created order, `p<priority>.<id>` for
    /// priority order.
    pub fn encode(&self) -> String {
        match self.priority {
            None => self.id.to_string(),
            Some(p) => format!("p{p}.{}", self.id),
        }
    }

    pub fn decode(raw: &str, sort: JobSort) -> Option<Self> {
        match sort {
            JobSort::Created => Uuid::parse_str(raw)
                .ok()
                .map(|id| Cursor { priority: None, id }),
            JobSort::Priority => {
                let (p, id) = raw.strip_prefix('p')?.split_once('.')?;
                Some(Cursor {
                    priority: Some(p.parse().ok()?),
                    id: Uuid::parse_str(id).ok()?,
                })
            }
        }
    }

    /// The cursor after `job` in `sort` order.
    pub fn after(job: &Job, sort: JobSort) -> Self {
        Cursor {
            priority: (sort == JobSort::Priority).then_some(job.priority),
            id: job.id,
        }
    }
}

/// The name search of a [`JobFilter`], ready for [`push_filter`]: its
/// `ilike` pattern and the kinds whose text it matches.
struct NameSearch {
    pattern: String,
    kinds: Vec<String>,
}

/// Every kind that has jobs and matches `$1`, one index probe of
/// `jobs_kind_id` per kind (a loose index scan: many jobs, few kinds).
const KINDS_MATCHING: &str = "with recursive k(kind) as (
         select min(kind) from jobs
         union all
         select (select min(kind) from jobs where kind > k.kind) from k where k.kind is not null
     ) select kind from k where kind ilike $1";

/// Resolves the filter's name search, if any: the kinds it matches are read
/// first, so that the list's statement holds them as values the planner
/// can weigh (a search that matches no kind is served by the trigram index
/// alone).
async fn name_search(pool: &PgPool, filter: &JobFilter) -> sqlx::Result<Option<NameSearch>> {
    let Some(name) = &filter.name else {
        return Ok(None);
    };
    let escaped = name
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let pattern = format!("%{escaped}%");
    let kinds = sqlx::query_scalar(KINDS_MATCHING)
        .bind(&pattern)
        .fetch_all(pool)
        .await?;
    Ok(Some(NameSearch { pattern, kinds }))
}

/// The filters other than status, on `jobs j`; `search` is the filter's
/// name search resolved by [`name_search`].
fn push_filter(
    q: &mut QueryBuilder<'_, Postgres>,
    filter: &JobFilter,
    search: Option<&NameSearch>,
) {
    if let Some(queue) = &filter.queue {
        q.push(" and j.queue = ").push_bind(queue.clone());
    }
    if let Some(kind) = &filter.kind {
        q.push(" and j.kind = ").push_bind(kind.clone());
    }
    if let Some(NameSearch { pattern, kinds }) = search {
        // `j.name ilike pattern`, in two parts each served by an index
        // (migration 0018): a name of the job's own through the trigram
        // index, which holds only those; a name that is its kind's (the
        // default) through the kinds that match and `jobs_kind_id`.
        q.push(" and ((j.name <> j.kind and j.name ilike ")
            .push_bind(pattern.clone())
            .push(")");
        if !kinds.is_empty() {
            q.push(" or (j.name = j.kind and j.kind = any(")
                .push_bind(kinds.clone())
                .push("))");
        }
        q.push(")");
    }
}

/// Pushes `select` and the `from … where` that finds running jobs
/// (migration 0015: `live_jobs` does not tell a running job from a queued
/// one): among `running`, the ids Redis holds in flight; without them (Redis
/// did not answer), among every queued entry of `live_jobs`, which is right
/// but reads as much as the backlog. Returns the id column to order by.
pub(crate) fn push_running(
    q: &mut QueryBuilder<'_, Postgres>,
    select: &str,
    running: Option<&[Uuid]>,
) -> &'static str {
    q.push(select);
    match running {
        Some(ids) => {
            q.push(" from jobs j where j.status = 'running' and j.id = any(")
                .push_bind(ids.to_vec())
                .push(")");
            "j.id"
        }
        None => {
            q.push(
                " from live_jobs l join jobs j on j.id = l.id
                 where l.status = 'queued' and j.status = 'running'",
            );
            "l.id"
        }
    }
}

/// One page of jobs in `sort` order, after `cursor`. Keyset pagination: each
/// page is an index range scan, however deep. Where the jobs of a status are
/// found (migration 0011): blocked, scheduled and queued jobs through
/// `live_jobs`, running ones among `running` (see `push_running`),
/// dead, cancelled and skipped ones through their partial index, succeeded
/// ones (most jobs) by the primary key.
pub async fn list(
    pool: &PgPool,
    filter: &JobFilter,
    sort: JobSort,
    cursor: Option<Cursor>,
    limit: u32,
    running: Option<&[Uuid]>,
) -> sqlx::Result<Vec<Job>> {
    let search = name_search(pool, filter).await?;
    let mut q: QueryBuilder<Postgres>;
    // The id column the page is ordered by: live_jobs' own when it leads.
    let mut key = "j.id";
    match filter.status {
        Some(JobStatus::Running) => {
            q = QueryBuilder::new("");
            key = push_running(&mut q, "select j.*", running);
        }
        Some(status) if !status.is_final() => {
            // The status as a literal (one of the enum's names), so the
            // planner picks its partial index of live_jobs (migration 0011).
            q = QueryBuilder::new(format!(
                "select j.* from live_jobs l join jobs j on j.id = l.id
                 where l.status = '{0}' and j.status = '{0}'",
                status.as_str()
            ));
            key = "l.id";
        }
        Some(status) if status != JobStatus::Succeeded => {
            q = QueryBuilder::new("select j.* from jobs j where j.rare_final = ");
            q.push_bind(status);
        }
        Some(status) => {
            q = QueryBuilder::new("select j.* from jobs j where j.status = ");
            q.push_bind(status);
        }
        None => q = QueryBuilder::new("select j.* from jobs j where true"),
    }
    push_filter(&mut q, filter, search.as_ref());
    match (sort, cursor) {
        (JobSort::Created, Some(c)) => {
            q.push(format!(" and {key} < ")).push_bind(c.id);
        }
        (JobSort::Priority, Some(c)) => {
            q.push(" and (j.priority, j.id) < (")
                .push_bind(c.priority.unwrap_or(i16::MAX))
                .push(", ")
                .push_bind(c.id)
                .push(")");
        }
        (_, None) => {}
    }
    match sort {
        JobSort::Created => q.push(format!(" order by {key} desc limit ")),
        JobSort::Priority => q.push(" order by j.priority desc, j.id desc limit "),
    };
    q.push_bind(i64::from(limit));
    q.build_query_as().fetch_all(pool).await
}

/// One branch of [`matching_ids`]: where its jobs are found, and their
/// statuses (bound last, in `… j.status = any(…)`).
struct Branch {
    source: Source,
    statuses: Vec<JobStatus>,
}

enum Source {
    /// A `select … = any(` and the id column it is ordered by.
    Sql(String, &'static str),
    /// Running jobs (see [`push_running`]).
    Running,
}

/// Ids of the jobs matching `filter` whose status is one of `eligible`,
/// newest first, at most `limit`: one branch per place the statuses are
/// found (see [`list`]), each an index scan.
pub async fn matching_ids(
    pool: &PgPool,
    filter: &JobFilter,
    eligible: &[JobStatus],
    limit: i64,
    running: Option<&[Uuid]>,
) -> sqlx::Result<Vec<Uuid>> {
    let wanted: Vec<JobStatus> = eligible
        .iter()
        .copied()
        .filter(|s| filter.status.is_none_or(|f| f == *s))
        .collect();
    let live: Vec<JobStatus> = wanted.iter().copied().filter(|s| !s.is_final()).collect();
    let rare: Vec<JobStatus> = wanted
        .iter()
        .copied()
        .filter(|s| s.is_final() && *s != JobStatus::Succeeded)
        .collect();
    // A branch per live status (its partial index of live_jobs, the status
    // a literal as in `list`; running jobs as [`push_running`] finds them),
    // one for the rare final ones, one for succeeded.
    let mut branches: Vec<Branch> = live
        .into_iter()
        .map(|status| Branch {
            source: match status {
                JobStatus::Running => Source::Running,
                _ => Source::Sql(
                    format!(
                        "select l.id from live_jobs l join jobs j on j.id = l.id
                         where l.status = '{}' and j.status = any(",
                        status.as_str()
                    ),
                    "l.id",
                ),
            },
            statuses: vec![status],
        })
        .collect();
    if !rare.is_empty() {
        branches.push(Branch {
            source: Source::Sql(
                "select j.id from jobs j where j.rare_final = any(".to_owned(),
                "j.id",
            ),
            statuses: rare,
        });
    }
    if wanted.contains(&JobStatus::Succeeded) {
        branches.push(Branch {
            source: Source::Sql(
                "select j.id from jobs j where j.status = any(".to_owned(),
                "j.id",
            ),
            statuses: vec![JobStatus::Succeeded],
        });
    }
    if branches.is_empty() {
        return Ok(Vec::new());
    }
    let search = name_search(pool, filter).await?;
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new("select id from (");
    for (i, Branch { source, statuses }) in branches.into_iter().enumerate() {
        if i > 0 {
            q.push(" union all ");
        }
        q.push("(");
        let key = match source {
            Source::Sql(select, key) => {
                q.push(select);
                key
            }
            Source::Running => {
                let key = push_running(&mut q, "select j.id", running);
                q.push(" and j.status = any(");
                key
            }
        };
        q.push_bind(statuses).push(")");
        push_filter(&mut q, filter, search.as_ref());
        q.push(format!(" order by {key} desc limit "))
            .push_bind(limit)
            .push(")");
    }
    q.push(") x order by id desc limit ").push_bind(limit);
    q.build_query_scalar().fetch_all(pool).await
}

/// Cancels those of `ids` that have not finished; returns them.
pub async fn cancel_many<'e>(exec: impl PgExecutor<'e>, ids: &[Uuid]) -> sqlx::Result<Vec<Job>> {
    sqlx::query_as(
        "update jobs set status = 'cancelled', finished_at = now(), updated_at = now(),
                lease_owner = null, lease_expires_at = null, last_error = 'cancelled by request'
         where id = any($1) and status in ('blocked', 'scheduled', 'queued', 'running')
         returning *",
    )
    .bind(ids)
    .fetch_all(exec)
    .await
}

/// Jobs a retry put back: the retried ones (queued) and, in workflow runs,
/// the descendants they released from `skipped` (now `blocked` on them).
#[derive(Debug, Default)]
pub struct Retried {
    pub queued: Vec<Job>,
    pub unskipped: Vec<Job>,
}

/// Puts those of `ids` that are dead, cancelled or skipped back in their
/// queue with a fresh budget. A job of a workflow run is retried only when
/// all its parents succeeded (a skipped node with a dead parent would run
/// without its inputs: retry the parent first, see [`failed_parent`]); its
/// skipped descendants become `blocked` on it again, so they run when it
/// succeeds — except those that also wait on another dead, cancelled or
/// skipped job, which stay skipped.
pub async fn retry_many(pool: &PgPool, ids: &[Uuid], now: DateTime<Utc>) -> sqlx::Result<Retried> {
    let mut tx = pool.begin().await?;
    let queued: Vec<Job> = sqlx::query_as(
        "update jobs j set status = 'queued', attempt_base = attempt, run_at = $2,
                finished_at = null, result = null, updated_at = now()
         where j.id = any($1) and j.status in ('dead', 'cancelled', 'skipped')
           and not exists (select 1 from job_dependencies d join jobs p on p.id = d.parent_id
                           where d.job_id = j.id and p.status <> 'succeeded')
         returning *",
    )
    .bind(ids)
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let in_runs: Vec<Uuid> = queued
        .iter()
        .filter(|j| j.workflow_run_id.is_some())
        .map(|j| j.id)
        .collect();
    let unskipped = crate::db::workflows::unskip_descendants(&mut tx, &in_runs).await?;
    tx.commit().await?;
    Ok(Retried { queued, unskipped })
}

/// A parent of job `id` that has not succeeded, by node key, with its status:
/// why a retry of a workflow job was refused.
pub async fn failed_parent(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<(String, JobStatus)>> {
    sqlx::query_as(
        "select coalesce(p.node_key, p.id::text), p.status
         from job_dependencies d join jobs p on p.id = d.parent_id
         where d.job_id = $1 and p.status <> 'succeeded'
         order by p.node_key limit 1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Deletes those of `ids` that have finished (with their attempts); returns
/// the ids deleted.
pub async fn delete_finished(pool: &PgPool, ids: &[Uuid]) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "delete from jobs where id = any($1)
           and status in ('succeeded', 'dead', 'cancelled', 'skipped')
         returning id",
    )
    .bind(ids)
    .fetch_all(pool)
    .await
}

/// Cancels a job that has not finished. A queued or scheduled job will never
/// start; a running one is marked cancelled at once and its worker, told by
/// the status event, stops it (its outcome write is then refused).
pub async fn cancel<'e>(exec: impl PgExecutor<'e>, id: Uuid) -> sqlx::Result<Option<Job>> {
    Ok(cancel_many(exec, &[id]).await?.pop())
}

/// Puts a dead, cancelled or skipped job back in its queue as a new attempt,
/// with a fresh budget of `max_attempts` (see [`retry_many`]); nothing is
/// queued when it is in another state or has a parent that did not succeed.
pub async fn retry(pool: &PgPool, id: Uuid, now: DateTime<Utc>) -> sqlx::Result<Retried> {
    retry_many(pool, &[id], now).await
}

/// The status of a job, or None when there is no such job.
pub async fn status(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<JobStatus>> {
    sqlx::query_scalar("select status from jobs where id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// The status of job `id` if its current attempt is `attempt`; `None` when
/// the job is gone or has moved on to a newer attempt.
pub async fn status_of_attempt(
    pool: &PgPool,
    id: Uuid,
    attempt: i32,
) -> sqlx::Result<Option<JobStatus>> {
    sqlx::query_scalar("select status from jobs where id = $1 and attempt = $2")
        .bind(id)
        .bind(attempt)
        .fetch_optional(pool)
        .await
}
