//! `/workers`: the live workers and what each is running.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use conveyor_shared::db::workers::{self, WorkerInfo};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/workers", get(list))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerList {
    pub workers: Vec<WorkerInfo>,
}

/// Live workers: host, pid, queues, concurrency, kinds, start and last
/// heartbeat, and the jobs each holds. A worker that missed three heartbeats
/// is no longer listed.
#[utoipa::path(operation_id = "workers_list", get, path = "/api/v1/workers", tag = "workers",
    responses((status = 200, description = "Live workers", body = WorkerList)))]
pub async fn list(State(state): State<Arc<AppState>>) -> Result<Json<WorkerList>, ApiError> {
    let running = state.running_ids(None).await;
    Ok(Json(WorkerList {
        workers: workers::live_with_jobs(&state.pool, running.as_deref()).await?,
    }))
}
