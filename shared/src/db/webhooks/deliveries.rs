//! Deliveries: what the api shows and redelivers, and what the workers'
//! delivery loops claim, record and clean up.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Secret, Webhook};

/// Where a delivery is. Postgres enum `webhook_delivery_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[sqlx(type_name = "webhook_delivery_status", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its first or next attempt, or being sent.
    Pending,
    /// A receiver answered 2xx.
    Succeeded,
    /// Gave up after the last attempt.
    Failed,
}

impl DeliveryStatus {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pending" => Some(Self::Pending),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// A delivery as the api answers it.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Delivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    /// `job.succeeded`, `job.dead`, `workflow_run.finished` or `ping`.
    pub event: String,
    pub status: DeliveryStatus,
    /// Attempts made so far (a redelivery adds to them).
    pub attempts: i32,
    /// When a pending delivery is next tried.
    pub next_attempt_at: DateTime<Utc>,
    /// The HTTP status of the last answer; null when none came.
    pub last_status_code: Option<i32>,
    /// The most recent error (kept after a later success, as for jobs).
    pub last_error: Option<String>,
    /// The first KiB of the last answer's body.
    pub response_excerpt: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// The JSON body sent: `{"id", "event", "created_at", "data"}`.
    #[schema(value_type = Object)]
    pub payload: Value,
}

const DELIVERY_COLUMNS: &str = "id, webhook_id, event, status, attempts, next_attempt_at,
    last_status_code, last_error, response_excerpt, created_at, delivered_at, payload";

/// One attempt of a delivery.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct DeliveryAttempt {
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    /// Null while the attempt is in flight (or if its sender died).
    pub finished_at: Option<DateTime<Utc>>,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: Option<i32>,
}

/// Queues a `ping` delivery to `webhook` (sent even while it is disabled).
pub async fn enqueue_ping(pool: &PgPool, webhook: &Webhook) -> sqlx::Result<Delivery> {
    sqlx::query_as(&format!(
        "insert into webhook_deliveries (id, webhook_id, event, payload)
         select d.id, $2, 'ping',
                jsonb_build_object('id', d.id, 'event', 'ping', 'created_at', webhook_time(now()),
                                   'data', jsonb_build_object('webhook', jsonb_build_object(
                                       'id', $2::uuid, 'url', $3::text, 'events', $4::text[])))
         from (select $1::uuid as id) d
         returning {DELIVERY_COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(webhook.id)
    .bind(&webhook.url)
    .bind(&webhook.events)
    .fetch_one(pool)
    .await
}

/// A page of a webhook's deliveries, newest first, after `cursor` (the id
/// of the last delivery of the previous page), optionally of one status.
pub async fn deliveries(
    pool: &PgPool,
    webhook: Uuid,
    status: Option<DeliveryStatus>,
    cursor: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<Delivery>> {
    sqlx::query_as(&format!(
        "select {DELIVERY_COLUMNS} from webhook_deliveries
         where webhook_id = $1 and ($2::webhook_delivery_status is null or status = $2)
           and ($3::uuid is null or id < $3)
         order by id desc limit $4"
    ))
    .bind(webhook)
    .bind(status)
    .bind(cursor)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn delivery(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<Delivery>> {
    sqlx::query_as(&format!(
        "select {DELIVERY_COLUMNS} from webhook_deliveries where id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// A delivery's attempts, in order.
pub async fn attempts(pool: &PgPool, delivery: Uuid) -> sqlx::Result<Vec<DeliveryAttempt>> {
    sqlx::query_as(
        "select attempt, started_at, finished_at, status_code, error, duration_ms
         from webhook_delivery_attempts where delivery_id = $1 order by attempt",
    )
    .bind(delivery)
    .fetch_all(pool)
    .await
}

/// Sends a delivery again: it becomes pending and due now. A finished one
/// gets a fresh budget of attempts; a pending one is just made due.
pub async fn redeliver(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<Delivery>> {
    sqlx::query_as(&format!(
        "update webhook_deliveries set
             attempt_base = case when status = 'pending' then attempt_base else attempts end,
             status = 'pending', next_attempt_at = now(), delivered_at = null
         where id = $1
         returning {DELIVERY_COLUMNS}"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// A delivery claimed for one attempt, with what is needed to send it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub event: String,
    pub payload: Value,
    /// The number of this attempt.
    pub attempts: i32,
    pub attempt_base: i32,
    pub url: String,
    pub secret: Secret,
}

/// Claims up to `limit` due pending deliveries of enabled webhooks (and
/// pings) for one attempt each: the attempt count goes up, an attempt row is
/// opened, and the delivery is not due again for `lease_ms` — so a sender
/// that dies mid-attempt leaves it to be retried then. Concurrent senders
/// skip each other's rows.
pub async fn claim_due(pool: &PgPool, limit: i64, lease_ms: i64) -> sqlx::Result<Vec<Claimed>> {
    sqlx::query_as(
        "with due as (
             select d.id from webhook_deliveries d join webhooks w on w.id = d.webhook_id
             where d.status = 'pending' and d.next_attempt_at <= now()
               and (w.enabled or d.event = 'ping')
             order by d.next_attempt_at limit $1
             for update of d skip locked
         ), claimed as (
             update webhook_deliveries d
             set attempts = d.attempts + 1,
                 next_attempt_at = now() + $2 * interval '1 millisecond'
             from due where d.id = due.id
             returning d.id, d.webhook_id, d.event, d.payload, d.attempts, d.attempt_base
         ), opened as (
             insert into webhook_delivery_attempts (delivery_id, attempt)
             select id, attempts from claimed
         )
         select c.*, w.url, w.secret from claimed c join webhooks w on w.id = c.webhook_id",
    )
    .bind(limit)
    .bind(lease_ms as f64)
    .fetch_all(pool)
    .await
}

/// How one attempt ended.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub id: Uuid,
    pub attempt: i32,
    /// Succeeded, failed (gave up), or pending again (a retry after `retry_in`).
    pub status: DeliveryStatus,
    /// For a retry, how long from now (on the database's clock) it is due.
    pub retry_in: Option<std::time::Duration>,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
    pub duration_ms: i32,
}

/// Records an attempt's outcome. The delivery changes only if it is still
/// pending at this attempt (a redelivery or a newer attempt wins); the
/// attempt row is closed either way. Returns whether the delivery changed.
pub async fn record_attempt(pool: &PgPool, outcome: &AttemptOutcome) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "with delivery as (
             update webhook_deliveries set
                 status = $3,
                 next_attempt_at = now() + coalesce($4::float8, 0) * interval '1 millisecond',
                 last_status_code = $5,
                 last_error = coalesce(left($6, 1000), last_error),
                 response_excerpt = left($7, 1024),
                 delivered_at = case when $3 = 'succeeded'::webhook_delivery_status
                                     then now() end
             where id = $1 and attempts = $2 and status = 'pending'
             returning id
         ), attempt as (
             update webhook_delivery_attempts set
                 finished_at = now(), status_code = $5, error = left($6, 1000), duration_ms = $8
             where delivery_id = $1 and attempt = $2 and finished_at is null
         )
         select count(*) > 0 from delivery",
    )
    .bind(outcome.id)
    .bind(outcome.attempt)
    .bind(outcome.status)
    .bind(outcome.retry_in.map(|d| d.as_millis() as f64))
    .bind(outcome.status_code)
    .bind(&outcome.error)
    .bind(&outcome.response_excerpt)
    .bind(outcome.duration_ms)
    .fetch_one(pool)
    .await
}

/// Turns up to `limit` run checks (noted by the trigger when a run's job
/// finished) into `workflow_run.finished` deliveries for the runs whose jobs
/// have all finished. Runs after the finishing transactions committed, so
/// the last of two jobs finishing at once is always seen; a run end seen by
/// two checks is delivered once (`dedupe_key`: the run and the time its last
/// job finished, so a retried run that ends again is delivered again).
/// Returns (checks taken, deliveries created).
pub async fn process_run_checks(pool: &PgPool, limit: i64) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "with checks as (
             delete from webhook_run_checks where id in (
                 select id from webhook_run_checks order by id limit $1 for update skip locked)
             returning run_id
         ), per_status as (
             select j.workflow_run_id as run_id, j.status, count(*) as n,
                    max(j.finished_at) as finished_at
             from jobs j where j.workflow_run_id in (select run_id from checks)
             group by 1, 2
         ), ended as (
             select p.run_id, jsonb_object_agg(p.status::text, p.n) as counts,
                    max(p.finished_at) as finished_at,
                    case when bool_and(p.status = 'succeeded') then 'succeeded'
                         when bool_or(p.status in ('dead', 'skipped')) then 'failed'
                         else 'cancelled' end as status
             from per_status p group by p.run_id
             having bool_and(p.status in ('succeeded', 'dead', 'cancelled', 'skipped'))
         ), inserted as (
             insert into webhook_deliveries (id, webhook_id, event, payload, dedupe_key)
             select x.id, x.webhook_id, 'workflow_run.finished',
                    jsonb_build_object('id', x.id, 'event', 'workflow_run.finished',
                                       'created_at', webhook_time(now()),
                                       'data', jsonb_build_object('run', x.run)),
                    x.dedupe_key
             from (
                 select conveyor_uuid_v7() as id, w.id as webhook_id,
                        jsonb_build_object(
                            'id', r.id, 'workflow_id', r.workflow_id,
                            'workflow_name', r.workflow_name, 'status', e.status,
                            'counts', e.counts, 'schedule_id', r.schedule_id,
                            'fire_time', webhook_time(r.fire_time),
                            'created_at', webhook_time(r.created_at),
                            'finished_at', webhook_time(e.finished_at)) as run,
                        r.id::text || '@' || webhook_time(e.finished_at) as dedupe_key
                 from ended e
                 join workflow_runs r on r.id = e.run_id
                 join webhooks w on w.enabled and 'workflow_run.finished' = any(w.events)
                     and (cardinality(w.workflow_ids) = 0 or r.workflow_id = any(w.workflow_ids))
                     and (cardinality(w.queues) = 0 or exists (
                             select 1 from jobs j
                             where j.workflow_run_id = r.id and j.queue = any(w.queues)))
                 order by r.id, w.id
             ) x
             on conflict (webhook_id, dedupe_key) do nothing
             returning 1
         )
         select (select count(*) from checks), (select count(*) from inserted)",
    )
    .bind(limit)
    .fetch_one(pool)
    .await
}

/// Deletes up to `limit` deliveries (with their attempts) created more than
/// `days` ago, as the housekeeping leader holding epoch `fence`. Returns how
/// many were deleted.
pub async fn delete_old_deliveries(
    pool: &PgPool,
    fence: i64,
    days: i64,
    limit: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "delete from webhook_deliveries where id in (
             select id from webhook_deliveries
             where created_at < now() - $2 * interval '1 day'
             order by created_at limit $3)
           and exists (select 1 from housekeeping_leader where id = 1 and epoch = $1)",
    )
    .bind(fence)
    .bind(days as f64)
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
