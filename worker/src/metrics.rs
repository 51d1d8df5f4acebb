//! The worker's metrics: what it records about jobs, slots and housekeeping
//! leadership, and its own small HTTP listener for `/metrics`
//! (`WORKER_METRICS_ADDR`). Names and descriptions live in
//! `conveyor_shared::metrics`.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::Duration;

use ::metrics::{counter, gauge, histogram, Counter, Gauge, Histogram};
use anyhow::Context;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use conveyor_shared::db::claims::Finish;
use conveyor_shared::metrics::{self as shared, names};
use conveyor_shared::model::{AttemptOutcome, Job, JobStatus};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Jobs a schedule's fire created (the api counts the jobs it creates).
pub(crate) fn jobs_submitted(jobs: &[Job]) {
    for job in jobs {
        counter!(names::JOBS_SUBMITTED, "queue" => job.queue.clone(), "kind" => job.kind.clone())
            .increment(1);
    }
}

/// The metric handles of one (queue, kind), registered with the recorder
/// the first time a job of theirs runs here. Registering builds a key with
/// its labels and looks it up in the recorder's registry: done for every
/// job, that was ~10 % of a worker's CPU in a drain (docs/performance.md).
/// The recorder is installed before the first job ([`crate::run`]), so the
/// handles point at it.
struct KindHandles {
    started: Counter,
    pickup: Histogram,
    ran: Histogram,
    /// By outcome ([`outcome_index`]), registered when first used so that
    /// `/metrics` shows only the outcomes that happened.
    finished: [OnceLock<Counter>; OUTCOMES],
    retries: OnceLock<Counter>,
    dead: OnceLock<Counter>,
    queue: String,
    kind: String,
}

const OUTCOMES: usize = 7;

fn outcome_index(outcome: AttemptOutcome) -> usize {
    match outcome {
        AttemptOutcome::Running => 0,
        AttemptOutcome::Succeeded => 1,
        AttemptOutcome::Failed => 2,
        AttemptOutcome::TimedOut => 3,
        AttemptOutcome::Cancelled => 4,
        AttemptOutcome::Interrupted => 5,
        AttemptOutcome::Lost => 6,
    }
}

/// Queue, then kind: looked up by `&str` without building a key.
type HandleMap = HashMap<String, HashMap<String, Arc<KindHandles>>>;

static HANDLES: LazyLock<Mutex<HandleMap>> = LazyLock::new(Default::default);

fn handles(queue: &str, kind: &str) -> Arc<KindHandles> {
    let mut map = HANDLES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = map.get(queue).and_then(|kinds| kinds.get(kind)) {
        return found.clone();
    }
    let made = Arc::new(KindHandles {
        started: counter!(names::JOBS_STARTED, "queue" => queue.to_owned(), "kind" => kind.to_owned()),
        pickup: histogram!(names::PICKUP_LATENCY, "queue" => queue.to_owned()),
        ran: histogram!(names::RUN_DURATION, "queue" => queue.to_owned(), "kind" => kind.to_owned()),
        finished: Default::default(),
        retries: OnceLock::new(),
        dead: OnceLock::new(),
        queue: queue.to_owned(),
        kind: kind.to_owned(),
    });
    map.entry(queue.to_owned())
        .or_default()
        .insert(kind.to_owned(), made.clone());
    made
}

/// An attempt started: counts it and records how long the job waited
/// between becoming due (`run_at`) and being claimed (`started_at`).
pub(crate) fn job_started(job: &Job) {
    let handles = handles(&job.queue, &job.kind);
    handles.started.increment(1);
    if let Some(started) = job.started_at {
        // Clamped at 0: the api's clock and Postgres's may disagree slightly.
        let waited = (started - job.run_at).to_std().unwrap_or(Duration::ZERO);
        handles.pickup.record(waited.as_secs_f64());
    }
}

/// An attempt's executor returned (or was given up on) after `took`.
pub(crate) fn job_ran(job: &Job, took: Duration) {
    handles(&job.queue, &job.kind)
        .ran
        .record(took.as_secs_f64());
}

/// An attempt ended and its outcome was written (`accepted`) or refused
/// because the job was cancelled or taken over meanwhile. Every ended
/// attempt counts by its outcome; retries and dead letters count only when
/// they really happened.
pub(crate) fn attempt_ended(job: &Job, finish: &Finish, accepted: bool) {
    let handles = handles(&job.queue, &job.kind);
    let outcome = finish.outcome.as_str();
    handles.finished[outcome_index(finish.outcome)]
        .get_or_init(|| {
            counter!(names::JOBS_FINISHED, "queue" => handles.queue.clone(),
                     "kind" => handles.kind.clone(), "outcome" => outcome)
        })
        .increment(1);
    if !accepted {
        return;
    }
    let (cell, name) = match finish.status {
        JobStatus::Scheduled => (&handles.retries, names::JOB_RETRIES),
        JobStatus::Dead => (&handles.dead, names::JOBS_DEAD),
        _ => return,
    };
    cell.get_or_init(
        || counter!(name, "queue" => handles.queue.clone(), "kind" => handles.kind.clone()),
    )
    .increment(1);
}

/// Makes the worker's own series visible from start-up (at 0), before the
/// first job or leadership change. Adds 0 rather than setting 0, so a second
/// worker in the same process (tests) leaves the first one's values alone.
pub(crate) fn worker_started() {
    gauge!(names::SLOTS_BUSY).increment(0.0);
    gauge!(names::LEADER).increment(0.0);
    counter!(names::LEADER_CHANGES).increment(0);
}

/// This worker became (`true`) or stopped being the housekeeping leader.
pub(crate) fn leadership_changed(leader: bool) {
    counter!(names::LEADER_CHANGES).increment(1);
    gauge!(names::LEADER).set(if leader { 1.0 } else { 0.0 });
}

/// A slot running a job, counted in `conveyor_worker_slots_busy` while it
/// lives: dropping it (however the job's task ends) frees the slot.
pub(crate) struct BusySlot(());

/// The busy-slots gauge, registered once (see [`KindHandles`]).
fn slots_busy() -> &'static Gauge {
    static SLOTS_BUSY: OnceLock<Gauge> = OnceLock::new();
    SLOTS_BUSY.get_or_init(|| gauge!(names::SLOTS_BUSY))
}

impl BusySlot {
    pub(crate) fn take() -> Self {
        slots_busy().increment(1.0);
        BusySlot(())
    }
}

impl Drop for BusySlot {
    fn drop(&mut self) {
        slots_busy().decrement(1.0);
    }
}

/// Binds `WORKER_METRICS_ADDR`; the error names the variable.
pub(crate) async fn bind(addr: std::net::SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on WORKER_METRICS_ADDR={addr}"))
}

/// Serves `/metrics` on `listener`, in a task of its own, until `stop` is
/// cancelled.
pub(crate) fn serve(
    listener: TcpListener,
    token: Option<String>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    shared::install();
    let addr = listener
        .local_addr()
        .context("reading WORKER_METRICS_ADDR's bound address")?;
    tracing::info!(%addr, url = %format!("http://{addr}/metrics"), "worker metrics listening");
    let app = Router::new()
        .route("/metrics", get(scrape))
        .with_state(Arc::new(token));
    tokio::spawn(async move {
        // A make-service, as the api's (see conveyor_api::run).
        if let Err(e) = axum::serve(listener, app.into_make_service())
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
        {
            tracing::warn!(error = %e, "the metrics listener stopped");
        }
    });
    Ok(())
}

/// Prometheus metrics of this worker; with `METRICS_TOKEN` set, only for
/// `Authorization: Bearer <METRICS_TOKEN>`.
async fn scrape(State(token): State<Arc<Option<String>>>, headers: HeaderMap) -> Response {
    let given = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
    if !shared::authorized(token.as_deref(), given) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"conveyor\"")],
            Json(shared::unauthorized_body()),
        )
            .into_response();
    }
    (
        [(header::CONTENT_TYPE, shared::CONTENT_TYPE)],
        shared::install().render(),
    )
        .into_response()
}
