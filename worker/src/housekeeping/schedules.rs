//! Fires due schedules. Each schedule is fired in one transaction: lock it
//! (skipping one another leader holds), insert the jobs of its fires, and
//! advance `next_fire_at` under the leader's fence. The jobs' unique
//! (schedule, fire time) makes a fire that somehow runs twice a no-op, so a
//! second scheduler, a failover or a restart never creates a second job.
//! After the commit the jobs are enqueued in Redis and announced.
//!
//! "Now" is the worker's [`Clock`], so tests move time by hand.

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use conveyor_shared::clock::Clock;
use conveyor_shared::db::{definitions, jobs, schedules as sql, workflows};
use conveyor_shared::events::StatusEvent;
use conveyor_shared::model::schedule::{self, Schedule, Target, MISFIRE_GRACE};
use conveyor_shared::model::Job;
use conveyor_shared::queue::{QueueOp, RedisQueue};
use sqlx::{PgConnection, PgPool};
use tracing::{info, warn};
use uuid::Uuid;

use crate::runner::Worker;

/// Most schedules fired in one pass; the next tick goes on.
const MAX_PER_PASS: usize = 1_000;

pub(super) async fn run(worker: &Worker, fence: i64) -> anyhow::Result<()> {
    // A fire found within two ticks is on time whatever the interval.
    let ticks = Duration::from_std(worker.config.housekeeping.interval * 2)?;
    let grace = MISFIRE_GRACE.max(ticks);
    fire_due(&worker.pool, &worker.queue, &worker.clock, fence, grace).await?;
    Ok(())
}

/// What firing one schedule came to.
enum Fired {
    /// Committed: the jobs created (none when every fire was already made,
    /// or the policy skipped them all).
    Jobs(Vec<Job>),
    /// `fence` is no longer the leader's epoch; nothing was written.
    Deposed,
}

/// Fires every schedule due at `clock`'s now. Returns how many jobs it
/// created.
pub(crate) async fn fire_due(
    pool: &PgPool,
    queue: &RedisQueue,
    clock: &Clock,
    fence: i64,
    grace: Duration,
) -> anyhow::Result<usize> {
    let mut created = 0;
    let mut failed: Vec<Uuid> = Vec::new();
    for _ in 0..MAX_PER_PASS {
        let now = clock.now();
        let mut tx = pool.begin().await.context("starting to fire schedules")?;
        let Some(schedule) = sql::lock_next_due(&mut tx, now, fence, &failed)
            .await
            .context("looking for due schedules")?
        else {
            return Ok(created);
        };
        match fire_one(&mut tx, &schedule, fence, now, grace).await {
            Ok(Fired::Jobs(jobs)) => {
                tx.commit().await.context("committing a schedule's fire")?;
                created += jobs.len();
                crate::metrics::jobs_submitted(&jobs);
                announce(queue, &jobs, now).await;
            }
            Ok(Fired::Deposed) => {
                info!(
                    epoch = fence,
                    "another worker took over; stopped firing schedules"
                );
                return Ok(created);
            }
            Err(e) => {
                // Dropping the transaction rolls it back; the schedule stays
                // due and is tried again at the next tick.
                warn!(schedule_id = %schedule.id, schedule = %schedule.name,
                      error = %format!("{e:#}"), "firing a schedule failed");
                failed.push(schedule.id);
            }
        }
    }
    Ok(created)
}

async fn fire_one(
    conn: &mut PgConnection,
    schedule: &Schedule,
    fence: i64,
    now: DateTime<Utc>,
    grace: Duration,
) -> anyhow::Result<Fired> {
    let timing = schedule.timing().context("reading the stored timing")?;
    // Selected because it is due, so it has a next fire.
    let due = schedule.next_fire_at.unwrap_or(now);
    let plan = schedule::plan(&timing, schedule.misfire, due, now, grace);
    if plan.late {
        info!(schedule_id = %schedule.id, schedule = %schedule.name, due = %due,
              misfire = schedule.misfire.as_str(), fires = plan.fires.len(),
              "schedule missed fires while nothing ran; following its misfire policy");
    }
    let mut created = Vec::new();
    if !plan.fires.is_empty() {
        match schedule.target() {
            Target::Job(template) => {
                let definitions = definitions::for_specs(&mut *conn, &[template.spec()])
                    .await
                    .context("reading the template's definition")?;
                let new_jobs = plan
                    .fires
                    .iter()
                    .map(|&fire| {
                        template.instantiate(schedule.id, &schedule.name, fire, now, &definitions)
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .context("building the job of a fire")?;
                // A fire already made conflicts on (schedule, fire time) and
                // is not inserted again.
                created = jobs::insert(&mut *conn, &new_jobs)
                    .await
                    .context("inserting the jobs of fires")?;
            }
            Target::Workflow(name) => {
                for &fire in &plan.fires {
                    let jobs = start_workflow(conn, &name, schedule.id, fire)
                        .await
                        .with_context(|| format!("starting workflow {name:?}"))?;
                    created.extend(jobs);
                }
            }
        }
    }
    let last = plan.fires.last().copied();
    if !sql::advance(conn, schedule.id, fence, plan.next, last).await? {
        return Ok(Fired::Deposed);
    }
    Ok(Fired::Jobs(created))
}

/// Starts a run of the workflow `workflow_name` for one fire, unique per
/// (schedule, fire time); returns the jobs to enqueue.
async fn start_workflow(
    conn: &mut PgConnection,
    workflow_name: &str,
    schedule_id: Uuid,
    fire_time: DateTime<Utc>,
) -> Result<Vec<Job>, sqlx::Error> {
    workflows::start_run_for_schedule(conn, workflow_name, schedule_id, fire_time).await
}

/// Makes committed jobs claimable and announces them. A Redis failure is
/// logged: the jobs are safe in Postgres and the reconciler adds them.
async fn announce(queue: &RedisQueue, jobs: &[Job], now: DateTime<Utc>) {
    if jobs.is_empty() {
        return;
    }
    let mut ops = vec![QueueOp::Publish(
        jobs.iter().map(|j| StatusEvent::of(j, now)).collect(),
    )];
    ops.extend(
        jobs.iter()
            .filter(|j| j.status.is_waiting())
            .map(QueueOp::enqueue),
    );
    if let Err(e) = queue.apply(&ops).await {
        warn!(error = %format!("{e:#}"), count = jobs.len(),
              "fired jobs saved but not yet in Redis; the reconciler will add them");
    }
}
