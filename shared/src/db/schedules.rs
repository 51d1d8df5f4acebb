//! Storing schedules, and the statements the housekeeping leader fires them
//! with. Writes of the leader name its epoch (`fence`), as in
//! [`super::housekeeping`].

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

use crate::model::schedule::{Fire, NewSchedule, Schedule};

/// Whether an error is the unique name of `schedules` already being taken.
pub fn is_name_taken(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db)
        if db.code().as_deref() == Some("23505")
            && db.constraint() == Some("schedules_name_key"))
}

pub async fn insert<'e>(exec: impl PgExecutor<'e>, new: &NewSchedule) -> sqlx::Result<Schedule> {
    sqlx::query_as(
        "insert into schedules (id, name, cron, timezone, run_at, target, misfire, paused,
                                next_fire_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         returning *",
    )
    .bind(new.id)
    .bind(&new.name)
    .bind(new.timing.cron())
    .bind(new.timing.zone.name())
    .bind(new.timing.run_at())
    .bind(Json(new.target.to_spec()))
    .bind(new.misfire.as_str())
    .bind(new.paused)
    .bind(new.next_fire_at)
    .fetch_one(exec)
    .await
}

/// Every schedule, by name.
pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<Schedule>> {
    sqlx::query_as("select * from schedules order by name")
        .fetch_all(pool)
        .await
}

pub async fn get<'e>(exec: impl PgExecutor<'e>, id: Uuid) -> sqlx::Result<Option<Schedule>> {
    sqlx::query_as("select * from schedules where id = $1")
        .bind(id)
        .fetch_optional(exec)
        .await
}

/// The schedule, locked until the transaction ends: an update computes the
/// new `next_fire_at` from the row it replaces.
pub async fn get_for_update(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Schedule>> {
    sqlx::query_as("select * from schedules where id = $1 for update")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Replaces every field of a schedule (its id, creation time and fire
/// history stay).
pub async fn update<'e>(
    exec: impl PgExecutor<'e>,
    id: Uuid,
    new: &NewSchedule,
    next_fire_at: Option<DateTime<Utc>>,
) -> sqlx::Result<Option<Schedule>> {
    sqlx::query_as(
        "update schedules set name = $2, cron = $3, timezone = $4, run_at = $5, target = $6,
                misfire = $7, paused = $8, next_fire_at = $9, updated_at = now()
         where id = $1
         returning *",
    )
    .bind(id)
    .bind(&new.name)
    .bind(new.timing.cron())
    .bind(new.timing.zone.name())
    .bind(new.timing.run_at())
    .bind(Json(new.target.to_spec()))
    .bind(new.misfire.as_str())
    .bind(new.paused)
    .bind(next_fire_at)
    .fetch_optional(exec)
    .await
}

/// Pauses or resumes, setting the fire to come.
pub async fn set_paused<'e>(
    exec: impl PgExecutor<'e>,
    id: Uuid,
    paused: bool,
    next_fire_at: Option<DateTime<Utc>>,
) -> sqlx::Result<Option<Schedule>> {
    sqlx::query_as(
        "update schedules set paused = $2, next_fire_at = $3, updated_at = now()
         where id = $1
         returning *",
    )
    .bind(id)
    .bind(paused)
    .bind(next_fire_at)
    .fetch_optional(exec)
    .await
}

/// Deletes a schedule; its jobs stay, unlinked. Returns whether it existed.
pub async fn delete(pool: &PgPool, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("delete from schedules where id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The latest fires of a schedule with the job each created, newest first.
pub async fn fires(pool: &PgPool, id: Uuid, limit: i64) -> sqlx::Result<Vec<Fire>> {
    sqlx::query_as(
        "select fire_time, id as job_id, null::uuid as workflow_run_id, status::text as status
         from jobs where schedule_id = $1
         union all
         select r.fire_time, null, r.id,
                (select case
                     when bool_or(j.status in ('blocked', 'scheduled', 'queued', 'running'))
                         then 'running'
                     when bool_and(j.status = 'succeeded') then 'succeeded'
                     when bool_or(j.status in ('dead', 'skipped')) then 'failed'
                     else 'cancelled' end
                 from jobs j where j.workflow_run_id = r.id)
         from workflow_runs r where r.schedule_id = $1
         order by fire_time desc limit $2",
    )
    .bind(id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Locks the most overdue schedule that is due at `now`, skipping rows
/// another leader holds and the ids in `passed_over` (they failed this pass).
/// Nothing when `fence` is no longer the leader's epoch.
pub async fn lock_next_due(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    fence: i64,
    passed_over: &[Uuid],
) -> sqlx::Result<Option<Schedule>> {
    sqlx::query_as(
        "select * from schedules
         where not paused and next_fire_at <= $1 and id <> all($3)
           and exists (select 1 from housekeeping_leader where id = 1 and epoch = $2)
         order by next_fire_at
         limit 1
         for update of schedules skip locked",
    )
    .bind(now)
    .bind(fence)
    .bind(passed_over)
    .fetch_optional(conn)
    .await
}

/// Records a schedule's fires: the next fire and the latest fire time.
/// Returns false, changing nothing, when `fence` is no longer current (the
/// caller then rolls back the jobs it inserted).
pub async fn advance(
    conn: &mut PgConnection,
    id: Uuid,
    fence: i64,
    next_fire_at: Option<DateTime<Utc>>,
    last_fired_at: Option<DateTime<Utc>>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update schedules set next_fire_at = $3,
                last_fired_at = coalesce($4, last_fired_at), updated_at = now()
         where id = $1
           and exists (select 1 from housekeeping_leader where id = 1 and epoch = $2)",
    )
    .bind(id)
    .bind(fence)
    .bind(next_fire_at)
    .bind(last_fired_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
