//! Records outcomes in batches: whatever has arrived since the last write
//! goes into one Postgres statement and one Redis pipeline, so under load a
//! finish costs a fraction of a round trip, and when idle it costs no delay.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use conveyor_shared::db::claims::{self, Finish};
use conveyor_shared::db::{self, workflows};
use conveyor_shared::events::StatusEvent;
use conveyor_shared::model::{AttemptOutcome, Job, JobStatus};
use conveyor_shared::queue::QueueOp;
use tokio::sync::mpsc;
use tracing::{debug, error, warn};
use uuid::Uuid;

use crate::runner::Worker;

/// Most outcomes written in one statement.
const MAX_BATCH: usize = 1_000;

/// An attempt that ended, with the job it belongs to.
pub(crate) struct Finished {
    pub job: Job,
    pub finish: Finish,
    /// The attempt's `job` span, so the finisher's lines about it carry
    /// job_id, queue, kind and attempt.
    pub span: tracing::Span,
}

/// Runs until every sender is dropped and the channel is drained. A failed
/// Postgres write is retried with backoff until it succeeds: outcomes wait in
/// the (bounded) channel and this batch, never dropped. An outcome PostgreSQL
/// refuses for good (a data exception) is isolated by splitting the batch and
/// stored in a safe form, so it never holds up the others.
pub(crate) async fn run(worker: Arc<Worker>, mut rx: mpsc::Receiver<Finished>) {
    let mut batch: Vec<Finished> = Vec::with_capacity(64);
    // The finisher's own connection for plain batches, kept between them.
    let mut db = db::Held::new(worker.hot_pool.clone());
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        write(&worker, &mut db, &mut batch).await;
        batch.clear();
    }
}

/// What became of a write.
enum Stored {
    /// Accepted ids, released and skipped jobs.
    Done(Recorded),
    /// PostgreSQL refused a value for a reason retrying cannot change.
    Refused(sqlx::Error),
}

type Recorded = (Vec<Uuid>, Vec<Job>, Vec<Job>);

/// Writes `batch`, retrying transient failures until they pass. While it
/// keeps failing, [`Worker::finisher_stuck_since`] says since when, so the
/// heartbeat stops vouching for this worker after a lease.
async fn store(worker: &Worker, db: &mut db::Held, batch: &[Finished]) -> Stored {
    let finishes: Vec<Finish> = batch.iter().map(|f| f.finish.clone()).collect();
    let mut failures = 0u32;
    let stored = loop {
        match record(worker, db, batch, &finishes).await {
            Ok(done) => break Stored::Done(done),
            Err(e) if db::is_data_exception(&e) => break Stored::Refused(e),
            Err(e) => {
                db.release();
                if failures == 0 {
                    worker.finisher_stuck(true);
                }
                failures += 1;
                let wait = Duration::from_millis((100u64 << failures.min(6)).min(5_000));
                warn!(error = %e, pending = batch.len(), retry_in_ms = wait.as_millis() as u64,
                      "could not record outcomes in Postgres; keeping them");
                tokio::time::sleep(wait).await;
            }
        }
    };
    if failures > 0 {
        worker.finisher_stuck(false);
    }
    stored
}

/// Records `batch` in Postgres, then acknowledges it in Redis and publishes
/// its events. A batch PostgreSQL refuses is split in halves until the
/// refused outcome is alone; that one is stored with its text made storable
/// or, failing that, as a failed attempt saying why.
async fn write(worker: &Worker, db: &mut db::Held, batch: &mut [Finished]) {
    let (updated, released, skipped) = match store(worker, db, batch).await {
        Stored::Done(done) => done,
        Stored::Refused(e) if batch.len() > 1 => {
            debug!(error = %e, pending = batch.len(), "outcome refused; splitting the batch");
            let (left, right) = batch.split_at_mut(batch.len() / 2);
            Box::pin(write(worker, db, left)).await;
            Box::pin(write(worker, db, right)).await;
            return;
        }
        Stored::Refused(e) => {
            let Some(alone) = batch.first_mut() else {
                return;
            };
            let span = alone.span.clone();
            warn!(parent: &span, error = %e,
                  "PostgreSQL refused this outcome; storing it in a safe form");
            alone.finish = alone.finish.clone().storable();
            match store(worker, db, batch).await {
                Stored::Done(done) => done,
                Stored::Refused(e) => {
                    let Some(alone) = batch.first_mut() else {
                        return;
                    };
                    alone.finish = refused_outcome(alone.finish.clone(), &e);
                    match store(worker, db, batch).await {
                        Stored::Done(done) => done,
                        Stored::Refused(e) => {
                            error!(parent: &span, error = %e,
                                   "outcome cannot be stored at all; the leader will reclaim the job when its lease expires");
                            release_leases(worker, batch);
                            return;
                        }
                    }
                }
            }
        }
    };
    release_leases(worker, batch);
    let updated: HashSet<Uuid> = updated.into_iter().collect();
    let now = worker.clock.now();
    let mut ops = Vec::with_capacity(batch.len() * 2 + 1);
    let mut events = Vec::with_capacity(batch.len());
    for Finished { job, finish, span } in batch.iter() {
        let _in_job = span.enter();
        ops.push(QueueOp::Ack {
            queue: job.queue.clone(),
            id: job.id,
        });
        let accepted = updated.contains(&job.id);
        crate::metrics::attempt_ended(job, finish, accepted);
        if !accepted {
            warn!(
                outcome = finish.outcome.as_str(),
                "outcome refused: the job was cancelled or taken over meanwhile"
            );
            continue;
        }
        let mut after = job.clone();
        after.status = finish.status;
        after.last_error = finish.error.clone().or(after.last_error);
        if let Some(run_at) = finish.run_at {
            after.run_at = run_at;
        }
        if matches!(finish.status, JobStatus::Scheduled | JobStatus::Queued) {
            ops.push(QueueOp::enqueue(&after));
        }
        debug!(status = finish.status.as_str(), "outcome recorded");
        events.push(StatusEvent::of(&after, now));
    }
    for job in &released {
        debug!(job_id = %job.id, queue = %job.queue, kind = %job.kind, attempt = job.attempt,
               "released: every parent succeeded");
        ops.push(QueueOp::enqueue(job));
    }
    events.extend(
        released
            .iter()
            .chain(&skipped)
            .map(|j| StatusEvent::of(j, now)),
    );
    ops.push(QueueOp::Publish(events));
    // Postgres holds the outcome; the writer applies this after the claim
    // loop's earlier changes (the jobs' running events).
    worker.redis.send(ops).await;
}

/// Written (accepted or refused) or given up: the leases of `batch` are no
/// longer this worker's to renew.
fn release_leases(worker: &Worker, batch: &[Finished]) {
    let mut running = worker.running.lock().unwrap_or_else(|e| e.into_inner());
    for f in batch {
        running.remove(&(f.finish.id, f.finish.attempt));
    }
}

/// The outcome as a failed, final attempt without result or output, naming
/// why: what is left to store when PostgreSQL refused the outcome itself.
fn refused_outcome(mut finish: Finish, e: &sqlx::Error) -> Finish {
    finish.outcome = AttemptOutcome::Failed;
    finish.status = JobStatus::Dead;
    finish.run_at = None;
    finish.result = None;
    finish.output = None;
    finish.error = Some(conveyor_shared::executor::storable_text(format!(
        "the attempt's outcome could not be stored (PostgreSQL refused it: {e})"
    )));
    finish
}

/// Writes a batch of outcomes. Batches without workflow jobs are one
/// statement; otherwise, in the same transaction, children of succeeded jobs
/// are released and descendants of dead or cancelled ones skipped. Returns
/// the ids whose outcome was accepted, the released and the skipped jobs.
async fn record(
    worker: &Worker,
    db: &mut db::Held,
    batch: &[Finished],
    finishes: &[Finish],
) -> sqlx::Result<Recorded> {
    if batch.iter().all(|f| f.job.workflow_run_id.is_none()) {
        let updated = claims::finish(db.conn().await?, &worker.id, finishes).await?;
        return Ok((updated, Vec::new(), Vec::new()));
    }
    let mut tx = worker.pool.begin().await?;
    let updated = claims::finish(&mut *tx, &worker.id, finishes).await?;
    let accepted: HashSet<Uuid> = updated.iter().copied().collect();
    let in_run = |status: &[JobStatus]| -> Vec<Uuid> {
        batch
            .iter()
            .filter(|f| f.job.workflow_run_id.is_some() && status.contains(&f.finish.status))
            .map(|f| f.job.id)
            .filter(|id| accepted.contains(id))
            .collect()
    };
    let released = workflows::release_children(&mut tx, &in_run(&[JobStatus::Succeeded])).await?;
    let skipped =
        workflows::skip_descendants(&mut tx, &in_run(&[JobStatus::Dead, JobStatus::Cancelled]))
            .await?;
    tx.commit().await?;
    Ok((updated, released, skipped))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use conveyor_shared::clock::Clock;
    use conveyor_shared::model::{JobSpec, Limits};
    use conveyor_shared::testing::TestEnv;
    use serde_json::{json, Value};

    /// A job of `worker`, running its first attempt.
    pub(crate) async fn running_job(env: &TestEnv, worker: &str) -> Job {
        let spec: JobSpec = serde_json::from_value(json!({"kind": "noop"})).expect("spec");
        let limits = Limits {
            max_payload_bytes: 1 << 20,
        };
        let new = spec
            .validate(chrono::Utc::now(), limits, &|_| true)
            .expect("valid");
        let id = conveyor_shared::db::jobs::insert(&env.pool, &[new])
            .await
            .expect("insert")[0]
            .id;
        sqlx::query(
            "update jobs set status = 'running', attempt = 1, started_at = now(),
                    lease_owner = $2, lease_expires_at = now() + interval '1 minute'
             where id = $1",
        )
        .bind(id)
        .bind(worker)
        .execute(&env.pool)
        .await
        .expect("claim");
        conveyor_shared::db::jobs::get(&env.pool, id)
            .await
            .expect("get")
            .expect("job")
    }

    fn succeeded(job: &Job, result: Value, output: &str) -> Finished {
        let now = chrono::Utc::now();
        Finished {
            job: job.clone(),
            finish: Finish {
                result: Some(result),
                output: Some(output.to_owned()),
                started_at: now,
                ..Finish::succeeded(job, now)
            },
            span: tracing::Span::none(),
        }
    }

    #[tokio::test]
    async fn an_outcome_postgres_refuses_is_isolated_and_the_rest_of_the_batch_recorded() {
        let env = TestEnv::new().await;
        let worker = Worker::for_test(&env, &[], env.pool.clone(), Clock::system());
        let mut jobs = Vec::new();
        for _ in 0..5 {
            jobs.push(running_job(&env, worker.id()).await);
        }
        // Built past the runner, which would have made them storable.
        let mut batch: Vec<Finished> = jobs
            .iter()
            .enumerate()
            .map(|(i, job)| match i {
                3 => succeeded(job, json!({"body": "a\u{0}b"}), "x\u{0}y"),
                _ => succeeded(job, json!({"n": i}), "fine"),
            })
            .collect();
        let mut db = db::Held::new(worker.hot_pool.clone());
        let wrote =
            tokio::time::timeout(Duration::from_secs(20), write(&worker, &mut db, &mut batch))
                .await;
        assert!(wrote.is_ok(), "the finisher is stuck on a refused outcome");
        for (i, job) in jobs.iter().enumerate() {
            let (status, result): (String, Option<Value>) =
                sqlx::query_as("select status::text, result from jobs where id = $1")
                    .bind(job.id)
                    .fetch_one(&env.pool)
                    .await
                    .expect("job");
            assert_eq!(status, "succeeded", "job {i}");
            if i == 3 {
                assert_eq!(result, Some(json!({"body": "a\u{FFFD}b"})));
            } else {
                assert_eq!(result, Some(json!({"n": i})));
            }
        }
        let output: Option<String> =
            sqlx::query_scalar("select output from job_attempts where job_id = $1")
                .bind(jobs[3].id)
                .fetch_one(&env.pool)
                .await
                .expect("attempt");
        assert_eq!(output.as_deref(), Some("x\u{FFFD}y"));
        env.cleanup().await;
    }
}
