//! `/healthz` (the process answers) and `/readyz` (Postgres and Redis answer).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// Liveness: the process is up.
#[utoipa::path(operation_id = "health_healthz", get, path = "/healthz", tag = "health",
    responses((status = 200, description = "Alive")))]
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: Postgres and Redis each answer within 2 s. Without Redis the
/// answer is 200 with `"status": "degraded"` (jobs are still accepted);
/// without Postgres, 503. The body names the failing part.
#[utoipa::path(operation_id = "health_readyz", get, path = "/readyz", tag = "health",
    responses((status = 200, description = "Ready, or degraded without Redis"),
               (status = 503, description = "Postgres unavailable")))]
pub async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, Json<Value>) {
    let limit = Duration::from_secs(2);
    let pg = tokio::time::timeout(limit, sqlx::query("select 1").execute(&state.pool));
    let redis = tokio::time::timeout(limit, state.queue.ping());
    let (pg, redis) = tokio::join!(pg, redis);
    let postgres = match pg {
        Ok(Ok(_)) => "ok".to_owned(),
        Ok(Err(e)) => format!("error: {e}"),
        Err(_) => "error: no answer within 2 s".to_owned(),
    };
    let redis = match redis {
        Ok(Ok(())) => "ok".to_owned(),
        Ok(Err(e)) => format!("error: {e:#}"),
        Err(_) => "error: no answer within 2 s".to_owned(),
    };
    // Without Redis this api still accepts and serves jobs (they reach Redis
    // when it returns): degraded, but ready. Without Postgres it is not.
    let status = if postgres == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let label = match (postgres == "ok", redis == "ok") {
        (true, true) => "ready",
        (true, false) => "degraded",
        (false, _) => "unavailable",
    };
    let body = json!({
        "status": label,
        "postgres": postgres,
        "redis": redis,
    });
    (status, Json(body))
}
