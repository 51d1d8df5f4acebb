//! A bound on every request: an answer within `REQUEST_TIMEOUT_SECS`, or a
//! JSON 503. PostgreSQL and Redis can go silent (a blackholed connection
//! never errors by itself); the caller is told to try again rather than left
//! hanging. A submit cut short this way may still have been stored: clients
//! that must not submit twice send an idempotency key.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// Runs the request, answering 503 `unavailable` when it takes too long.
pub async fn limit(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let bound = state.config.common.request_timeout;
    let path = request.uri().path().to_owned();
    match tokio::time::timeout(bound, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(
                path,
                timeout_ms = bound.as_millis() as u64,
                "request timed out: PostgreSQL or Redis did not answer"
            );
            ApiError::Unavailable(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {} s", bound.as_secs()),
            )))
            .into_response()
        }
    }
}
