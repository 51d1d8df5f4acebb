//! Request body limits per route, so memory spent on a request is bounded by
//! what the route can legitimately need, and checked before anything parses
//! it: a few KiB for the one body read without a token (`POST /session`),
//! one payload plus a margin for a single job, and at most
//! `MAX_BATCH × MAX_PAYLOAD_BYTES` plus a margin (and never more than
//! `MAX_BODY_BYTES`) for everything else.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::Response;
use conveyor_shared::config::ApiConfig;

use crate::error::ApiError;
use crate::state::AppState;

/// The body of a request made without a token: a sign-in.
pub const UNAUTHENTICATED_BODY_BYTES: usize = 4 * 1024;

/// Room for a spec's fields besides its payload (and JSON's punctuation).
const SPEC_MARGIN_BYTES: usize = 64 * 1024;

/// The most bytes of body `method path` may carry.
pub fn limit_for(config: &ApiConfig, method: &Method, path: &str) -> usize {
    let general = config.max_body_bytes.min(
        config
            .max_batch
            .saturating_mul(config.max_payload_bytes)
            .saturating_add(SPEC_MARGIN_BYTES),
    );
    let single_job = config
        .max_payload_bytes
        .saturating_add(SPEC_MARGIN_BYTES)
        .min(general);
    match (method, path.trim_end_matches('/')) {
        (&Method::POST, "/api/v1/session") => UNAUTHENTICATED_BODY_BYTES,
        (&Method::POST, "/api/v1/jobs") => single_job,
        _ => general,
    }
}

/// Middleware: 413 at once when the declared length is over the route's
/// limit; otherwise the body is wrapped so reading past the limit fails
/// (413) instead of growing a buffer.
pub async fn limit_body(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let limit = limit_for(&state.config, request.method(), request.uri().path());
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::TooLarge { limit });
    }
    let request = request.map(|body| Body::new(http_body_util::Limited::new(body, limit)));
    Ok(next.run(request).await)
}
