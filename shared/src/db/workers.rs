//! The `workers` table: who is running, and what.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

/// What a worker says about itself when it registers.
#[derive(Debug, Clone)]
pub struct Registration {
    pub id: String,
    pub host: String,
    pub pid: i32,
    pub queues: Vec<String>,
    pub concurrency: i32,
    pub kinds: Vec<String>,
    pub heartbeat_ms: i32,
}

/// Registers a worker, or refreshes its heartbeat if it is registered.
pub async fn heartbeat(pool: &PgPool, w: &Registration) -> sqlx::Result<()> {
    sqlx::query(
        "insert into workers (id, host, pid, queues, concurrency, kinds, heartbeat_ms)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (id) do update set last_seen_at = now()",
    )
    .bind(&w.id)
    .bind(&w.host)
    .bind(w.pid)
    .bind(&w.queues)
    .bind(w.concurrency)
    .bind(&w.kinds)
    .bind(w.heartbeat_ms)
    .execute(pool)
    .await?;
    Ok(())
}

/// Removes a worker that stopped cleanly.
pub async fn deregister(pool: &PgPool, id: &str) -> sqlx::Result<()> {
    sqlx::query("delete from workers where id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// A job a worker is running.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct RunningJob {
    pub id: Uuid,
    pub queue: String,
    pub kind: String,
    pub name: String,
    pub attempt: i32,
    pub started_at: Option<DateTime<Utc>>,
}

/// A queue a worker serves, with its weight.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct QueueWeight {
    pub name: String,
    pub weight: u32,
}

impl QueueWeight {
    /// From the stored `name:weight` (a queue name may itself hold `:`).
    fn parse(raw: &str) -> Self {
        match raw.rsplit_once(':') {
            Some((name, weight)) if weight.parse::<u32>().is_ok() => Self {
                name: name.to_owned(),
                weight: weight.parse().unwrap_or(1),
            },
            _ => Self {
                name: raw.to_owned(),
                weight: 1,
            },
        }
    }
}

/// A live worker.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkerInfo {
    pub id: String,
    pub host: String,
    pub pid: i32,
    pub queues: Vec<QueueWeight>,
    pub concurrency: i32,
    pub kinds: Vec<String>,
    pub started_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub running: Vec<RunningJob>,
}

#[derive(sqlx::FromRow)]
struct WorkerRow {
    id: String,
    host: String,
    pid: i32,
    queues: Vec<String>,
    concurrency: i32,
    kinds: Vec<String>,
    started_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
}

/// Workers that heartbeated within three of their heartbeat periods, without
/// their jobs (`running` left empty).
pub async fn live(pool: &PgPool) -> sqlx::Result<Vec<WorkerInfo>> {
    let rows: Vec<WorkerRow> = sqlx::query_as(
        "select id, host, pid, queues, concurrency, kinds, started_at, last_seen_at
         from workers
         where last_seen_at > now() - 3 * heartbeat_ms * interval '1 millisecond'
         order by started_at, id",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| WorkerInfo {
            queues: r.queues.iter().map(|q| QueueWeight::parse(q)).collect(),
            id: r.id,
            host: r.host,
            pid: r.pid,
            concurrency: r.concurrency,
            kinds: r.kinds,
            started_at: r.started_at,
            last_seen_at: r.last_seen_at,
            running: Vec::new(),
        })
        .collect())
}

/// The [`live`] workers, each with the jobs it holds leases on, found among
/// `running` (the ids Redis holds in flight; see
/// `db::jobs::push_running` for the fallback without them).
pub async fn live_with_jobs(
    pool: &PgPool,
    running: Option<&[Uuid]>,
) -> sqlx::Result<Vec<WorkerInfo>> {
    let mut workers = live(pool).await?;
    let ids: Vec<String> = workers.iter().map(|w| w.id.clone()).collect();
    let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new("");
    crate::db::jobs::push_running(
        &mut q,
        "select j.lease_owner, j.id, j.queue, j.kind, j.name, j.attempt, j.started_at",
        running,
    );
    q.push(" and j.lease_owner = any(")
        .push_bind(&ids)
        .push(") order by j.started_at");
    let running: Vec<RunningRow> = q.build_query_as().fetch_all(pool).await?;
    for RunningRow { lease_owner, job } in running {
        if let Some(w) = workers.iter_mut().find(|w| w.id == lease_owner) {
            w.running.push(job);
        }
    }
    Ok(workers)
}

#[derive(sqlx::FromRow)]
struct RunningRow {
    lease_owner: String,
    #[sqlx(flatten)]
    job: RunningJob,
}

/// Deletes rows of workers silent for an hour (crashed without deregistering).
pub async fn prune(pool: &PgPool) -> sqlx::Result<u64> {
    let done = sqlx::query("delete from workers where last_seen_at < now() - interval '1 hour'")
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}
