//! One module per resource; each exports `router()`.

pub mod definitions;
pub mod health;
pub mod jobs;
pub mod queues;
pub mod schedules;
pub mod session;
pub mod tokens;
pub mod webhooks;
pub mod workers;
pub mod workflows;

use std::sync::Arc;

use axum::extract::OriginalUri;
use axum::routing::get;
use axum::Router;

use crate::error::ApiError;
use crate::state::AppState;
use crate::ws;

/// Everything under `/api/v1`.
pub fn api_v1() -> Router<Arc<AppState>> {
    Router::new()
        .merge(jobs::router())
        .merge(definitions::router())
        .merge(queues::router())
        .merge(schedules::router())
        .merge(session::router())
        .merge(tokens::router())
        .merge(webhooks::router())
        .merge(workers::router())
        .merge(workflows::router())
        .route("/ws", get(ws::handler))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
}

/// 404 or 405 in the JSON error shape.
async fn no_route(method: axum::http::Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::NoRoute {
        method: method.to_string(),
        path: uri.path().to_owned(),
        status: axum::http::StatusCode::NOT_FOUND,
    }
}

async fn wrong_method(method: axum::http::Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::NoRoute {
        method: method.to_string(),
        path: uri.path().to_owned(),
        status: axum::http::StatusCode::METHOD_NOT_ALLOWED,
    }
}

/// Parses a path id; a malformed one names the field.
pub fn parse_id(raw: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| ApiError::field("id", format!("{raw:?} is not a UUID")))
}
