//! `/webhooks` and `/webhook-deliveries`: subscribe URLs to events, and the
//! log of what was sent. The workers send the deliveries (worker/src/webhooks/);
//! the deliveries of job and run events are created by a trigger when the
//! job finishes (migrations/0009_webhooks.sql).
//!
//! A webhook's secret is answered twice only: by create and by
//! rotate-secret. No other response, log line or event carries it.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use conveyor_shared::db::webhooks::{
    self, Delivery, DeliveryAttempt, DeliveryStatus, Webhook, WebhookSettings,
};
use serde::{Deserialize, Deserializer, Serialize};
use tracing::info;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::parse_id;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/webhooks", post(create).get(list))
        .route("/webhooks/{id}", get(show).patch(update).delete(remove))
        .route("/webhooks/{id}/rotate-secret", post(rotate_secret))
        .route("/webhooks/{id}/test", post(test))
        .route("/webhooks/{id}/deliveries", get(deliveries))
        .route("/webhook-deliveries/{id}", get(show_delivery))
        .route("/webhook-deliveries/{id}/redeliver", post(redeliver))
}

/// A webhook as submitted.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    /// Where deliveries are POSTed: an `http://` or `https://` URL.
    pub url: String,
    /// At least one of `job.succeeded`, `job.dead`, `workflow_run.finished`.
    pub events: Vec<String>,
    /// Only events of jobs in these queues (for a run: with a job in one of
    /// them). Absent, null or empty: every queue.
    pub queues: Option<Vec<String>>,
    /// Only events of runs of these workflows, and of their jobs. Absent,
    /// null or empty: every workflow, and jobs outside workflows.
    pub workflow_ids: Option<Vec<Uuid>>,
    /// For people, at most 1000 characters.
    pub description: Option<String>,
    /// Default true. A disabled webhook gets no new deliveries, and its
    /// pending ones wait until it is enabled again.
    pub enabled: Option<bool>,
}

/// A new webhook and its signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    pub webhook: Webhook,
    /// `whsec_` and 64 hex digits: the HMAC-SHA256 key of the
    /// `Conveyor-Signature` header. Never shown again; rotate it if lost.
    pub secret: String,
}

/// Every webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<Webhook>,
}

/// A freshly rotated secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedSecret {
    pub secret: String,
}

/// Checks the workflow filter names workflows that exist.
async fn check_workflows(state: &AppState, settings: &WebhookSettings) -> Result<(), ApiError> {
    let unknown = webhooks::unknown_workflows(&state.pool, &settings.workflow_ids).await?;
    match unknown.first() {
        None => Ok(()),
        Some(id) => Err(ApiError::field(
            "workflow_ids",
            format!("no workflow has id {id}"),
        )),
    }
}

/// Create a webhook.
///
/// Answers 201 with the webhook and its secret. The secret signs every
/// delivery and is never answered again.
#[utoipa::path(operation_id = "webhooks_create", post, path = "/api/v1/webhooks", tag = "webhooks",
    request_body = WebhookSpec,
    responses(
        (status = 201, description = "Created; the secret is shown this once", body = CreatedWebhook),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    ApiJson(spec): ApiJson<WebhookSpec>,
) -> Result<(StatusCode, Json<CreatedWebhook>), ApiError> {
    let settings = WebhookSettings::parse(
        &spec.url,
        &spec.events,
        spec.queues,
        spec.workflow_ids,
        spec.description,
        spec.enabled.unwrap_or(true),
    )?;
    check_outbound(&state, &settings.url)?;
    check_workflows(&state, &settings).await?;
    let (webhook, secret) = webhooks::create(&state.pool, &settings).await?;
    info!(webhook_id = %webhook.id, events = ?webhook.events, "webhook created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhook { webhook, secret }),
    ))
}

/// Refuses at once a receiver whose address literal the outbound policy
/// refuses (`http://10.0.0.5/`). Host names are checked by the worker when
/// it resolves them, before each delivery.
fn check_outbound(state: &AppState, raw: &str) -> Result<(), ApiError> {
    let url = url::Url::parse(raw).map_err(|e| ApiError::field("url", e.to_string()))?;
    state
        .config
        .common
        .outbound
        .check_url(&url)
        .map_err(|e| ApiError::field("url", e.to_string()))
}

/// List webhooks, oldest first, each with its latest delivery.
#[utoipa::path(operation_id = "webhooks_list", get, path = "/api/v1/webhooks", tag = "webhooks",
    responses((status = 200, description = "Every webhook", body = WebhookList)))]
pub async fn list(State(state): State<Arc<AppState>>) -> Result<Json<WebhookList>, ApiError> {
    Ok(Json(WebhookList {
        webhooks: webhooks::list(&state.pool).await?,
    }))
}

async fn find(state: &AppState, raw_id: &str) -> Result<Webhook, ApiError> {
    let id = parse_id(raw_id)?;
    webhooks::get(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook", id))
}

/// Get a webhook.
#[utoipa::path(operation_id = "webhooks_show", get, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "Webhook id")),
    responses(
        (status = 200, description = "The webhook", body = Webhook),
        (status = 404, description = "No such webhook", body = ErrorBody),
    ))]
pub async fn show(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Webhook>, ApiError> {
    Ok(Json(find(&state, &id).await?))
}

/// Absent stays `None`; `null` becomes `Some(None)`.
fn present<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// The fields to change; those left out keep their value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// `null` or `[]`: every queue.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub queues: Option<Option<Vec<String>>>,
    /// `null` or `[]`: every workflow.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<Uuid>>)]
    pub workflow_ids: Option<Option<Vec<Uuid>>>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
}

/// Update a webhook's settings, checked as on creation (the secret is
/// changed only by rotate-secret).
#[utoipa::path(operation_id = "webhooks_update", patch, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "Webhook id")),
    request_body = WebhookPatch,
    responses(
        (status = 200, description = "Updated", body = Webhook),
        (status = 404, description = "No such webhook", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<WebhookPatch>,
) -> Result<Json<Webhook>, ApiError> {
    let id = parse_id(&id)?;
    let mut tx = state.pool.begin().await?;
    let old = webhooks::get_for_update(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook", id))?;
    let settings = WebhookSettings::parse(
        patch.url.as_deref().unwrap_or(&old.url),
        patch.events.as_deref().unwrap_or(&old.events),
        patch.queues.unwrap_or(Some(old.queues)),
        patch.workflow_ids.unwrap_or(Some(old.workflow_ids)),
        patch.description.unwrap_or(old.description),
        patch.enabled.unwrap_or(old.enabled),
    )?;
    check_outbound(&state, &settings.url)?;
    check_workflows(&state, &settings).await?;
    let webhook = webhooks::update(&mut tx, id, &settings)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook", id))?;
    tx.commit().await?;
    info!(webhook_id = %id, enabled = webhook.enabled, "webhook updated");
    Ok(Json(webhook))
}

/// Delete a webhook with its delivery log. Deliveries in flight may still
/// arrive once.
#[utoipa::path(operation_id = "webhooks_remove", delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "Webhook id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such webhook", body = ErrorBody),
    ))]
pub async fn remove(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    if !webhooks::delete(&state.pool, id).await? {
        return Err(ApiError::not_found("webhook", id));
    }
    info!(webhook_id = %id, "webhook deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Replace a webhook's secret. The answer shows the new one, once; every
/// attempt from now on (retries too) is signed with it.
#[utoipa::path(operation_id = "webhooks_rotate_secret", post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "Webhook id")),
    responses(
        (status = 200, description = "The new secret", body = RotatedSecret),
        (status = 404, description = "No such webhook", body = ErrorBody),
    ))]
pub async fn rotate_secret(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<RotatedSecret>, ApiError> {
    let id = parse_id(&id)?;
    let secret = webhooks::rotate_secret(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook", id))?;
    info!(webhook_id = %id, "webhook secret rotated");
    Ok(Json(RotatedSecret { secret }))
}

/// Send a test delivery: queues a `ping` event (sent even while the webhook
/// is disabled) and answers 202 with it; follow it in the delivery log.
#[utoipa::path(operation_id = "webhooks_test", post, path = "/api/v1/webhooks/{id}/test", tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "Webhook id")),
    responses(
        (status = 202, description = "The ping delivery, queued", body = Delivery),
        (status = 404, description = "No such webhook", body = ErrorBody),
    ))]
pub async fn test(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Delivery>), ApiError> {
    let webhook = find(&state, &id).await?;
    let delivery = webhooks::enqueue_ping(&state.pool, &webhook).await?;
    info!(webhook_id = %webhook.id, delivery_id = %delivery.id, "webhook ping queued");
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}

/// Filters and pagination of the delivery log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryParams {
    /// `pending`, `succeeded` or `failed`.
    pub status: Option<String>,
    /// Page size, 1-500 (default 50).
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One page of deliveries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub deliveries: Vec<Delivery>,
    /// Pass as `cursor` for the next page (with the same status filter);
    /// null on the last page.
    pub next_cursor: Option<String>,
}

/// List a webhook's deliveries, newest first, with keyset pagination.
#[utoipa::path(operation_id = "webhooks_deliveries", get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "Webhook id"), DeliveryParams),
    responses(
        (status = 200, description = "A page of deliveries", body = DeliveryPage),
        (status = 404, description = "No such webhook", body = ErrorBody),
        (status = 422, description = "A filter is invalid", body = ErrorBody),
    ))]
pub async fn deliveries(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    params: Result<Query<DeliveryParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<DeliveryPage>, ApiError> {
    let Query(params) = params?;
    let webhook = find(&state, &id).await?;
    let status = match params.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => Some(DeliveryStatus::parse(raw).ok_or_else(|| {
            ApiError::field(
                "status",
                format!("unknown status {raw:?}: expected pending, succeeded or failed"),
            )
        })?),
    };
    let limit = match params.limit.as_deref() {
        None => 50,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=state.config.max_page).contains(l))
            .ok_or_else(|| {
                ApiError::field(
                    "limit",
                    format!("must be an integer from 1 to {}", state.config.max_page),
                )
            })?,
    };
    let cursor = match params.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(raw) => Some(
            Uuid::parse_str(raw)
                .map_err(|_| ApiError::field("cursor", "is not a cursor from a previous page"))?,
        ),
    };
    let mut page = webhooks::deliveries(
        &state.pool,
        webhook.id,
        status,
        cursor,
        i64::from(limit) + 1,
    )
    .await?;
    let next_cursor = if page.len() > limit as usize {
        page.truncate(limit as usize);
        page.last().map(|d| d.id.to_string())
    } else {
        None
    };
    Ok(Json(DeliveryPage {
        deliveries: page,
        next_cursor,
    }))
}

/// A delivery with each of its attempts.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: Delivery,
    pub attempt_log: Vec<DeliveryAttempt>,
}

/// Get a delivery with its attempts.
#[utoipa::path(operation_id = "webhooks_show_delivery", get, path = "/api/v1/webhook-deliveries/{id}", tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "Delivery id")),
    responses(
        (status = 200, description = "The delivery", body = DeliveryDetail),
        (status = 404, description = "No such delivery", body = ErrorBody),
    ))]
pub async fn show_delivery(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<DeliveryDetail>, ApiError> {
    let id = parse_id(&id)?;
    let delivery = webhooks::delivery(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found("delivery", id))?;
    let attempt_log = webhooks::attempts(&state.pool, id).await?;
    Ok(Json(DeliveryDetail {
        delivery,
        attempt_log,
    }))
}

/// Send a delivery again: it becomes pending and due now, with a fresh
/// budget of attempts if it had finished. Answers 202 with it.
#[utoipa::path(operation_id = "webhooks_redeliver", post, path = "/api/v1/webhook-deliveries/{id}/redeliver", tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "Delivery id")),
    responses(
        (status = 202, description = "Queued again", body = Delivery),
        (status = 404, description = "No such delivery", body = ErrorBody),
    ))]
pub async fn redeliver(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Delivery>), ApiError> {
    let id = parse_id(&id)?;
    let delivery = webhooks::redeliver(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found("delivery", id))?;
    info!(webhook_id = %delivery.webhook_id, delivery_id = %id, "webhook delivery queued again");
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}
