//! Makes Redis hold the jobs PostgreSQL says are waiting: jobs that are
//! queued or scheduled but missing from Redis are put back (after a FLUSHALL,
//! a Redis restart, or a write lost to a crash or a Redis outage), and ids in
//! Redis whose job is no longer waiting (or, in-flight, no longer running) are
//! dropped.
//!
//! Three scopes, cheapest first (the leader picks one per run, see
//! `Reconciler` in `mod.rs`):
//!
//! * **quick** — the waiting jobs submitted since the last reconcile began
//!   (less a margin), found by id range (ids are UUIDv7), plus every in-flight
//!   entry whose lease deadline passed: what a crash between a commit and its
//!   Redis write leaves behind. Cost follows the new jobs, not the table.
//! * **rebuild** — every waiting job, streamed in one statement: when Redis
//!   lost its data, or nobody knows what the last reconcile covered.
//! * **full** — a rebuild, then every Redis set scanned for ids whose job is
//!   no longer waiting: every `RECONCILE_FULL_INTERVAL_SECS`, and after
//!   Redis or the leader's own writes failed.
//!
//! Pause flags are mirrored first, so a paused queue's restored jobs never
//! run before its flag is back.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use conveyor_shared::db::housekeeping::{self as sql, Waiting};
use conveyor_shared::model::JobStatus;
use futures::stream::{BoxStream, TryStreamExt};
use tracing::info;
use uuid::Uuid;

use crate::runner::Worker;

/// Jobs restored per Redis call.
const CHUNK: usize = 1_000;
/// Expired in-flight entries looked at per queue and run.
const EXPIRED_PER_QUEUE: usize = 1_000;
/// A quick reconcile looks this far before the start of the last one: job
/// ids take the submitting api's clock, and a submit commits a moment after
/// its id is made.
pub(super) const ID_MARGIN: chrono::Duration = chrono::Duration::seconds(60);

/// How much of PostgreSQL one reconcile reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    /// Waiting jobs submitted since `since`, and expired in-flight entries.
    Quick { since: DateTime<Utc> },
    /// Every waiting job, and expired in-flight entries.
    Rebuild,
    /// A rebuild, then stale ids dropped from every set.
    Full,
}

impl Scope {
    fn name(self) -> &'static str {
        match self {
            Scope::Quick { .. } => "quick",
            Scope::Rebuild => "rebuild",
            Scope::Full => "full",
        }
    }

    fn reads_everything(self) -> bool {
        !matches!(self, Scope::Quick { .. })
    }
}

/// What one reconcile did.
#[derive(Debug, Clone, Copy)]
pub(super) struct Report {
    pub(super) scope: Scope,
    /// When it began: the next quick reconcile starts from here.
    pub(super) began: DateTime<Utc>,
    /// Whether the sentinel now vouches for Redis.
    pub(super) sentinel: bool,
}

pub(super) async fn run(worker: &Worker, scope: Scope) -> anyhow::Result<Report> {
    // Real time, not the injectable clock: it is compared with the time in
    // job ids, which the api takes from the real clock.
    let began = Utc::now();
    if scope.reads_everything() {
        worker.queue.begin_full_reconcile(began).await?;
    }
    let paused = conveyor_shared::db::queues::all(&worker.pool).await?;
    for (queue, is_paused) in &paused {
        worker.queue.set_paused(queue, *is_paused).await?;
    }
    let rows: BoxStream<'_, sqlx::Result<Waiting>> = match scope {
        Scope::Quick { since } => sql::waiting_from(&worker.pool, sql::id_floor(since - ID_MARGIN)),
        Scope::Rebuild | Scope::Full => sql::all_waiting(&worker.pool),
    };
    let (mut restored, mut queues) = restore_stream(worker, rows).await?;
    if scope.reads_everything() {
        let (running, running_queues) = restore_running(worker).await?;
        restored += running;
        queues.extend(running_queues);
    }
    queues.extend(worker.queue.queue_names().await?);
    queues.extend(paused.into_iter().map(|(queue, _)| queue));
    let mut dropped = 0usize;
    for queue in &queues {
        dropped += expired_inflight(worker, queue).await?;
    }
    if scope == Scope::Full {
        for queue in &queues {
            dropped += drop_stale_of(worker, queue).await?;
        }
    }
    let sentinel = worker
        .queue
        .mark_reconciled(began, scope.reads_everything())
        .await?;
    if restored > 0 || dropped > 0 {
        info!(
            scope = scope.name(),
            restored, dropped, "reconciled Redis with Postgres"
        );
    }
    Ok(Report {
        scope,
        began,
        sentinel,
    })
}

/// Restores the streamed waiting jobs in chunks, as they arrive. Returns how
/// many Redis lacked and the queues seen.
async fn restore_stream(
    worker: &Worker,
    mut rows: BoxStream<'_, sqlx::Result<Waiting>>,
) -> anyhow::Result<(u64, BTreeSet<String>)> {
    let mut restored = 0;
    let mut queues = BTreeSet::new();
    let mut chunk = Vec::with_capacity(CHUNK);
    while let Some(row) = rows.try_next().await? {
        chunk.push(row);
        if chunk.len() == CHUNK {
            restored += restore_jobs(worker, &chunk).await?;
            queues.extend(chunk.drain(..).map(|w| w.queue));
        }
    }
    restored += restore_jobs(worker, &chunk).await?;
    queues.extend(chunk.into_iter().map(|w| w.queue));
    Ok((restored, queues))
}

/// Restores the in-flight entries of every running job Redis lacks, in
/// chunks as they stream: the leader's reclaim starts from them (migration
/// 0015). Returns how many were added and the queues seen.
async fn restore_running(worker: &Worker) -> anyhow::Result<(u64, BTreeSet<String>)> {
    let mut chunks = sql::all_running(&worker.pool).try_chunks(CHUNK);
    let mut restored = 0;
    let mut queues = BTreeSet::new();
    while let Some(chunk) = chunks.try_next().await.map_err(|e| e.1)? {
        let mut by_queue: BTreeMap<String, Vec<(Uuid, DateTime<Utc>)>> = BTreeMap::new();
        for r in chunk {
            by_queue
                .entry(r.queue)
                .or_default()
                .push((r.id, r.lease_expires_at));
        }
        for (queue, jobs) in by_queue {
            restored += worker.queue.restore_inflight(&queue, &jobs).await?;
            queues.insert(queue);
        }
    }
    Ok((restored, queues))
}

/// Settles the in-flight entries of `queue` whose lease deadline passed: a
/// waiting job goes back to ready (the claim never reached PostgreSQL, or its
/// worker died before writing the retry to Redis); a finished or deleted one
/// is dropped; a running one stays for `reclaim`, which reads PostgreSQL's
/// lease. Returns how many entries were dropped.
pub(super) async fn expired_inflight(worker: &Worker, queue: &str) -> anyhow::Result<usize> {
    let now = worker.clock.now();
    let members = worker
        .queue
        .expired_inflight(&[queue], now, EXPIRED_PER_QUEUE)
        .await?
        .pop()
        .unwrap_or_default();
    if members.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = members
        .iter()
        .filter_map(|m| Uuid::parse_str(m).ok())
        .collect();
    let jobs = sql::states(&worker.pool, &ids).await?;
    let waiting: Vec<Waiting> = jobs
        .iter()
        .filter(|j| j.status.is_waiting())
        .cloned()
        .collect();
    restore_jobs(worker, &waiting).await?;
    let keep: BTreeSet<Uuid> = jobs
        .iter()
        .filter(|j| j.status.is_waiting() || j.status == JobStatus::Running)
        .map(|j| j.id)
        .collect();
    let gone: Vec<String> = members
        .into_iter()
        .filter(|m| Uuid::parse_str(m).map_or(true, |id| !keep.contains(&id)))
        .collect();
    worker
        .queue
        .remove(&worker.queue.keys().inflight(queue), &gone)
        .await?;
    Ok(gone.len())
}

/// Drops from every set of `queue` the ids whose job is no longer waiting (or,
/// in-flight, no longer running). Returns how many.
async fn drop_stale_of(worker: &Worker, queue: &str) -> anyhow::Result<usize> {
    let keys = worker.queue.keys().clone();
    let waiting = &JobStatus::WAITING[..];
    let mut dropped = drop_stale(worker, &keys.ready(queue), waiting, |m| {
        Uuid::parse_str(m).ok()
    })
    .await?;
    dropped += drop_stale(worker, &keys.delayed(queue), waiting, |m| {
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
    Ok(dropped)
}

/// A waiting job as Redis files it: id, priority, due time.
type Entry = (Uuid, u8, DateTime<Utc>);

/// Adds the given waiting jobs to Redis where they are missing.
pub(super) async fn restore_jobs(worker: &Worker, jobs: &[Waiting]) -> anyhow::Result<u64> {
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
