//! `/metrics` in the Prometheus text format, and the layer that counts and
//! times every HTTP request by its matched route. Metric names and
//! descriptions live in `conveyor_shared::metrics`.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ::metrics::{counter, gauge, histogram};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use conveyor_shared::db::{stats, workers};
use conveyor_shared::metrics::{self as shared, names};
use conveyor_shared::model::Job;

use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    // Install now, so the first requests are recorded and described.
    shared::install();
    Router::new().route("/metrics", get(scrape))
}

/// Prometheus metrics, text format. Open unless `METRICS_TOKEN` is set; then
/// it needs `Authorization: Bearer <METRICS_TOKEN>` (401 otherwise). Queue
/// depths and live workers are read from PostgreSQL at each scrape.
async fn scrape(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let given = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
    if !shared::authorized(state.config.common.metrics_token.as_deref(), given) {
        return ApiError::Unauthorized(
            "/metrics needs Authorization: Bearer <METRICS_TOKEN>".into(),
        )
        .into_response();
    }
    if let Err(e) = refresh_gauges(&state).await {
        // The counters are still worth serving; the gauges keep their last value.
        tracing::warn!(error = %e, "metrics: cannot read queue depths and live workers");
    }
    (
        [(header::CONTENT_TYPE, shared::CONTENT_TYPE)],
        shared::install().render(),
    )
        .into_response()
}

/// The states `conveyor_queue_jobs` reports, as `/api/v1/queues` counts them.
const QUEUE_STATES: [&str; 4] = ["scheduled", "queued", "running", "dead"];

/// Queues reported at an earlier scrape: a queue that no longer has jobs is
/// set to 0 once rather than keeping its last counts.
static REPORTED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

async fn refresh_gauges(state: &AppState) -> sqlx::Result<()> {
    let (queues, live) = tokio::try_join!(stats::queues(&state.pool), workers::live(&state.pool))?;
    gauge!(names::WORKERS_LIVE).set(live.len() as f64);
    let current: BTreeSet<String> = queues.iter().map(|q| q.queue.clone()).collect();
    let mut reported = REPORTED.lock().unwrap_or_else(|e| e.into_inner());
    for gone in reported.difference(&current) {
        for state in QUEUE_STATES {
            gauge!(names::QUEUE_JOBS, "queue" => gone.clone(), "state" => state).set(0.0);
        }
    }
    for q in &queues {
        let counts = [q.scheduled, q.queued, q.running, q.dead];
        for (state, n) in QUEUE_STATES.into_iter().zip(counts) {
            gauge!(names::QUEUE_JOBS, "queue" => q.queue.clone(), "state" => state).set(n as f64);
        }
    }
    *reported = current;
    Ok(())
}

/// Counts jobs just created, by queue and kind.
pub fn jobs_submitted<'a>(jobs: impl IntoIterator<Item = &'a Job>) {
    // A batch is mostly one queue and kind: one counter lookup per pair,
    // not per job.
    let mut by_pair: std::collections::HashMap<(&str, &str), u64> = Default::default();
    for job in jobs {
        *by_pair.entry((&job.queue, &job.kind)).or_default() += 1;
    }
    for ((queue, kind), n) in by_pair {
        counter!(names::JOBS_SUBMITTED, "queue" => queue.to_owned(), "kind" => kind.to_owned())
            .increment(n);
    }
}

/// Middleware: counts and times each request by method, matched route
/// (never the raw path, which would make a series per job id) and status.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    counter!(names::HTTP_REQUESTS, "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    histogram!(names::HTTP_DURATION, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The method as a label; made-up methods share one value.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
