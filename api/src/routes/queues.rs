//! `/queues` and `/stats`: counts for operators and the dashboard.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::Path;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use conveyor_shared::db::queues as queue_settings;
use conveyor_shared::db::stats::{self, MinuteCount, QueueCounts};
use conveyor_shared::model::{JobStatus, QueueName};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/queues", get(queues))
        .route("/queues/{name}/pause", post(pause))
        .route("/queues/{name}/resume", post(resume))
        .route("/stats", get(stats_handler))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueList {
    pub queues: Vec<QueueCounts>,
}

/// Per queue: how many jobs are scheduled, queued, running and dead.
#[utoipa::path(operation_id = "queues_queues", get, path = "/api/v1/queues", tag = "queues",
    responses((status = 200, description = "Queues with their counts", body = QueueList)))]
pub async fn queues(State(state): State<Arc<AppState>>) -> Result<Json<QueueList>, ApiError> {
    Ok(Json(QueueList {
        queues: stats::queues(&state.pool).await?,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    /// Jobs per status (every status is present).
    pub counts: BTreeMap<String, i64>,
    pub total: i64,
    /// Jobs finished in each of the last 60 minutes, oldest first.
    pub finished_per_minute: Vec<MinuteCount>,
}

/// Counts by status, and jobs finished per minute over the last hour.
#[utoipa::path(operation_id = "queues_stats_handler", get, path = "/api/v1/stats", tag = "queues",
    responses((status = 200, description = "Counts", body = Stats)))]
pub async fn stats_handler(State(state): State<Arc<AppState>>) -> Result<Json<Stats>, ApiError> {
    let mut counts: BTreeMap<String, i64> = JobStatus::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), 0))
        .collect();
    for (status, count) in stats::by_status(&state.pool).await? {
        counts.insert(status.as_str().to_owned(), count);
    }
    let total = counts.values().sum();
    let finished_per_minute = stats::finished_per_minute(&state.pool, state.clock.now()).await?;
    Ok(Json(Stats {
        counts,
        total,
        finished_per_minute,
    }))
}

/// A queue's pause state.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueState {
    pub queue: String,
    pub paused: bool,
}

async fn set_paused(
    state: &AppState,
    name: &str,
    paused: bool,
) -> Result<Json<QueueState>, ApiError> {
    let queue = QueueName::parse(name).map_err(|e| ApiError::field("name", e.message))?;
    let paused = queue_settings::set_paused(&state.pool, queue.as_str(), paused).await?;
    if let Err(e) = state.queue.set_paused(queue.as_str(), paused).await {
        // Postgres holds the setting; the reconciler mirrors it into Redis.
        tracing::warn!(queue = %queue, error = %format!("{e:#}"), "pause saved but not yet in Redis");
    }
    tracing::info!(queue = %queue, paused, "queue pause changed");
    Ok(Json(QueueState {
        queue: queue.as_str().to_owned(),
        paused,
    }))
}

/// Pause a queue: its jobs stay, but no worker claims from it until resumed.
/// Running jobs finish.
#[utoipa::path(operation_id = "queues_pause", post, path = "/api/v1/queues/{name}/pause", tag = "queues",
    params(("name" = String, Path, description = "Queue name")),
    responses(
        (status = 200, description = "Paused", body = QueueState),
        (status = 422, description = "Bad queue name", body = crate::error::ErrorBody),
    ))]
pub async fn pause(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<QueueState>, ApiError> {
    set_paused(&state, &name, true).await
}

/// Resume a paused queue; idle workers are woken at once.
#[utoipa::path(operation_id = "queues_resume", post, path = "/api/v1/queues/{name}/resume", tag = "queues",
    params(("name" = String, Path, description = "Queue name")),
    responses(
        (status = 200, description = "Resumed", body = QueueState),
        (status = 422, description = "Bad queue name", body = crate::error::ErrorBody),
    ))]
pub async fn resume(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<QueueState>, ApiError> {
    set_paused(&state, &name, false).await
}
