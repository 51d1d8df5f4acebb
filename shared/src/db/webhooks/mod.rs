//! Webhooks and their deliveries.
//!
//! Deliveries of job and run events are created by the trigger
//! `jobs_webhook_events` (migrations/0009_webhooks.sql) in the transaction
//! that finishes the job. This module holds the webhooks (settings,
//! validation, secrets); `deliveries.rs` the delivery log of the api and the
//! statements of the workers' delivery loops (claim, record an attempt, turn
//! run checks into deliveries, retention).
//!
//! A webhook's secret leaves the database in three places only: [`create`]
//! and [`rotate_secret`] return a new one once, and [`claim_due`] hands it
//! to the sender inside a [`Secret`], whose `Debug` does not show it.

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgExecutor, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::model::{check_identifier, FieldError};

mod deliveries;

pub use deliveries::*;

/// The events a webhook can subscribe to.
pub const EVENTS: [&str; 3] = ["job.succeeded", "job.dead", "workflow_run.finished"];

/// The event of a test delivery (`POST /webhooks/{id}/test`); not subscribable.
pub const PING: &str = "ping";

/// Prefix of every webhook secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// A fresh secret: `whsec_` and 32 random bytes in hex.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", hex::encode(bytes))
}

/// A webhook's signing secret. `Debug` prints a mask, so the secret cannot
/// reach a log by accident; read it with [`Secret::expose`].
#[derive(Clone, sqlx::Type)]
#[sqlx(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(********)")
    }
}

/// The latest delivery of a webhook, shown with it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LastDelivery {
    pub id: Uuid,
    pub event: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub last_status_code: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// A webhook as the api answers it: never with its secret.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Webhook {
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    /// Subscribed events: `job.succeeded`, `job.dead`, `workflow_run.finished`.
    pub events: Vec<String>,
    /// Only events of jobs in these queues (a run: with a job in one); empty: all.
    pub queues: Vec<String>,
    /// Only events of runs of these workflows (and of their jobs); empty: all.
    pub workflow_ids: Vec<Uuid>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The newest delivery, if any.
    #[schema(value_type = Option<LastDelivery>)]
    pub last_delivery: Option<sqlx::types::Json<LastDelivery>>,
}

/// The columns of [`Webhook`], from `webhooks w`.
const WEBHOOK_COLUMNS: &str = "w.id, w.url, w.description, w.events, w.queues, w.workflow_ids,
    w.enabled, w.created_at, w.updated_at,
    (select jsonb_build_object('id', d.id, 'event', d.event, 'status', d.status,
                               'attempts', d.attempts, 'last_status_code', d.last_status_code,
                               'created_at', webhook_time(d.created_at),
                               'delivered_at', webhook_time(d.delivered_at))
     from webhook_deliveries d where d.webhook_id = w.id
     order by d.id desc limit 1) as last_delivery";

/// A webhook's settings, validated by the api.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub url: String,
    pub description: Option<String>,
    pub events: Vec<String>,
    pub queues: Vec<String>,
    pub workflow_ids: Vec<Uuid>,
    pub enabled: bool,
}

impl WebhookSettings {
    /// Checks what a client gave, naming the field at fault. Events are kept
    /// once each, in the order given; no queues or workflows means all.
    pub fn parse(
        url: &str,
        events: &[String],
        queues: Option<Vec<String>>,
        workflow_ids: Option<Vec<Uuid>>,
        description: Option<String>,
        enabled: bool,
    ) -> Result<Self, FieldError> {
        check_url(url)?;
        if events.is_empty() {
            return Err(FieldError::new(
                "events",
                format!("must name at least one of {}", EVENTS.join(", ")),
            ));
        }
        let mut kept: Vec<String> = Vec::with_capacity(events.len());
        for event in events {
            if !EVENTS.contains(&event.as_str()) {
                return Err(FieldError::new(
                    "events",
                    format!("unknown event {event:?}: expected {}", EVENTS.join(", ")),
                ));
            }
            if !kept.contains(event) {
                kept.push(event.clone());
            }
        }
        let mut queues = queues.unwrap_or_default();
        for (i, queue) in queues.iter().enumerate() {
            check_identifier(queue, "queues")
                .map_err(|e| FieldError::new("queues", format!("[{i}] {queue:?} {}", e.message)))?;
        }
        queues.sort();
        queues.dedup();
        let mut workflow_ids = workflow_ids.unwrap_or_default();
        workflow_ids.sort();
        workflow_ids.dedup();
        let description = description.filter(|d| !d.trim().is_empty());
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 1000)
        {
            return Err(FieldError::new(
                "description",
                "must be at most 1000 characters",
            ));
        }
        Ok(Self {
            url: url.to_owned(),
            description,
            events: kept,
            queues,
            workflow_ids,
            enabled,
        })
    }
}

/// A receiver's URL: `http://` or `https://` with a host, at most 2048 bytes.
pub fn check_url(raw: &str) -> Result<(), FieldError> {
    let bad = |why: &str| FieldError::new("url", format!("{why}: {raw:?}"));
    if raw.len() > 2048 {
        return Err(FieldError::new("url", "must be at most 2048 bytes"));
    }
    let parsed = url::Url::parse(raw).map_err(|e| bad(&format!("is not a valid URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("must be an http:// or https:// URL"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("must name a host"));
    }
    Ok(())
}

/// Of `ids`, those that name no workflow.
pub async fn unknown_workflows(pool: &PgPool, ids: &[Uuid]) -> sqlx::Result<Vec<Uuid>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_scalar(
        "select i from unnest($1::uuid[]) as t(i)
         where not exists (select 1 from workflows w where w.id = t.i)",
    )
    .bind(ids)
    .fetch_all(pool)
    .await
}

/// A failed write to `webhooks` without Postgres's detail: a violated
/// constraint's detail lists the whole row, secret included, and the api
/// logs the errors it answers 500 with.
fn without_row(e: sqlx::Error) -> sqlx::Error {
    if super::is_unavailable(&e) {
        return e;
    }
    match e {
        sqlx::Error::Database(db) => {
            sqlx::Error::Protocol(format!("writing a webhook: {}", db.message()))
        }
        other => other,
    }
}

/// Creates a webhook with a fresh secret; returns it and the secret (the
/// only time the secret leaves the database, apart from signing).
pub async fn create(pool: &PgPool, settings: &WebhookSettings) -> sqlx::Result<(Webhook, String)> {
    let secret = new_secret();
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into webhooks (id, url, description, events, queues, workflow_ids, secret, enabled)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(&settings.url)
    .bind(&settings.description)
    .bind(&settings.events)
    .bind(&settings.queues)
    .bind(&settings.workflow_ids)
    .bind(&secret)
    .bind(settings.enabled)
    .execute(pool)
    .await
    .map_err(without_row)?;
    let webhook = get(pool, id).await?.ok_or(sqlx::Error::RowNotFound)?;
    Ok((webhook, secret))
}

/// Every webhook, oldest first.
pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<Webhook>> {
    sqlx::query_as(&format!(
        "select {WEBHOOK_COLUMNS} from webhooks w order by w.id"
    ))
    .fetch_all(pool)
    .await
}

pub async fn get<'e>(exec: impl PgExecutor<'e>, id: Uuid) -> sqlx::Result<Option<Webhook>> {
    sqlx::query_as(&format!(
        "select {WEBHOOK_COLUMNS} from webhooks w where w.id = $1"
    ))
    .bind(id)
    .fetch_optional(exec)
    .await
}

/// Locks a webhook for a change of its settings; `None` when there is none.
pub async fn get_for_update(tx: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Webhook>> {
    sqlx::query_as(&format!(
        "select {WEBHOOK_COLUMNS} from webhooks w where w.id = $1 for update of w"
    ))
    .bind(id)
    .fetch_optional(tx)
    .await
}

/// Replaces a webhook's settings (the caller holds its lock).
pub async fn update(
    tx: &mut PgConnection,
    id: Uuid,
    settings: &WebhookSettings,
) -> sqlx::Result<Option<Webhook>> {
    let done = sqlx::query(
        "update webhooks set url = $2, description = $3, events = $4, queues = $5,
                workflow_ids = $6, enabled = $7, updated_at = now()
         where id = $1",
    )
    .bind(id)
    .bind(&settings.url)
    .bind(&settings.description)
    .bind(&settings.events)
    .bind(&settings.queues)
    .bind(&settings.workflow_ids)
    .bind(settings.enabled)
    .execute(&mut *tx)
    .await
    .map_err(without_row)?;
    if done.rows_affected() == 0 {
        return Ok(None);
    }
    get(&mut *tx, id).await
}

/// Deletes a webhook with its deliveries; false when there is none.
pub async fn delete(pool: &PgPool, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("delete from webhooks where id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives a webhook a fresh secret and returns it; `None` when there is no
/// such webhook. Attempts from now on (retries included) are signed with it.
pub async fn rotate_secret(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<String>> {
    let secret = new_secret();
    let done = sqlx::query("update webhooks set secret = $2, updated_at = now() where id = $1")
        .bind(id)
        .bind(&secret)
        .execute(pool)
        .await
        .map_err(without_row)?;
    Ok((done.rows_affected() == 1).then_some(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str, events: &[&str]) -> Result<WebhookSettings, FieldError> {
        let events: Vec<String> = events.iter().map(|e| e.to_string()).collect();
        WebhookSettings::parse(url, &events, None, None, None, true)
    }

    #[test]
    fn only_http_and_https_urls_with_a_host_are_accepted() {
        assert!(parse("https://example.com/hook?x=1", &["job.dead"]).is_ok());
        assert!(parse("http://127.0.0.1:9000/", &["job.dead"]).is_ok());
        for bad in [
            "ftp://example.com/",
            "example.com/hook",
            "",
            "http://",
            "file:///etc/passwd",
        ] {
            let err = parse(bad, &["job.dead"]).expect_err(bad);
            assert_eq!(err.field, "url", "{bad}");
        }
    }

    #[test]
    fn events_must_be_known_and_at_least_one() {
        assert_eq!(parse("http://x/", &[]).expect_err("empty").field, "events");
        assert_eq!(
            parse("http://x/", &["job.dead", "job.exploded"])
                .expect_err("unknown")
                .field,
            "events"
        );
        assert_eq!(
            parse("http://x/", &["ping"]).expect_err("ping").field,
            "events"
        );
        let ok = parse(
            "http://x/",
            &["job.dead", "workflow_run.finished", "job.dead"],
        )
        .expect("ok");
        assert_eq!(ok.events, ["job.dead", "workflow_run.finished"]);
    }

    #[test]
    fn queues_are_checked_and_empty_filters_mean_all() {
        let bad = WebhookSettings::parse(
            "http://x/",
            &["job.dead".into()],
            Some(vec!["ok".into(), "not ok".into()]),
            None,
            None,
            true,
        );
        assert_eq!(bad.expect_err("queue").field, "queues");
        let all = parse("http://x/", &["job.dead"]).expect("ok");
        assert!(all.queues.is_empty() && all.workflow_ids.is_empty());
    }

    #[test]
    fn secrets_are_fresh_and_never_debug_printed() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(a.starts_with(SECRET_PREFIX) && a.len() == SECRET_PREFIX.len() + 64);
        assert!(!format!("{:?}", Secret::new(a.clone())).contains(&a));
    }
}
