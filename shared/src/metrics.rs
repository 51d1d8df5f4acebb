//! Prometheus metrics: the names both binaries emit, their descriptions and
//! histogram buckets, the process-wide recorder, and the `METRICS_TOKEN`
//! check of the `/metrics` endpoints.
//!
//! Emit with the `metrics` macros and these names
//! (`metrics::counter!(names::JOBS_STARTED, "queue" => q).increment(1)`);
//! serve [`install`]'s handle's `render()` at `/metrics`.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use sha2::{Digest, Sha256};

/// Every metric name, in one place: the README's table, the Grafana
/// dashboard and `scripts/test`'s dashboard check follow this list.
pub mod names {
    /// Counter {queue, kind}: jobs created by submit, batch and workflow runs.
    pub const JOBS_SUBMITTED: &str = "conveyor_jobs_submitted_total";
    /// Counter {method, route, status}: HTTP requests answered by the api.
    pub const HTTP_REQUESTS: &str = "conveyor_http_requests_total";
    /// Histogram {method, route}: time to answer an HTTP request.
    pub const HTTP_DURATION: &str = "conveyor_http_request_duration_seconds";
    /// Gauge {queue, state}: jobs per queue and state, read at scrape time.
    pub const QUEUE_JOBS: &str = "conveyor_queue_jobs";
    /// Gauge: workers that heartbeated recently, read at scrape time.
    pub const WORKERS_LIVE: &str = "conveyor_workers_live";
    /// Counter {queue, kind}: attempts started by this worker.
    pub const JOBS_STARTED: &str = "conveyor_jobs_started_total";
    /// Counter {queue, kind, outcome}: attempts ended on this worker.
    pub const JOBS_FINISHED: &str = "conveyor_jobs_finished_total";
    /// Counter {queue, kind}: failed attempts scheduled for a retry.
    pub const JOB_RETRIES: &str = "conveyor_job_retries_total";
    /// Counter {queue, kind}: jobs that became dead (the dead-letter queue).
    pub const JOBS_DEAD: &str = "conveyor_jobs_dead_total";
    /// Histogram {queue}: from due (`run_at`) to started.
    pub const PICKUP_LATENCY: &str = "conveyor_job_pickup_latency_seconds";
    /// Histogram {queue, kind}: how long an attempt ran.
    pub const RUN_DURATION: &str = "conveyor_job_run_duration_seconds";
    /// Counter: this worker became or stopped being the housekeeping leader.
    pub const LEADER_CHANGES: &str = "conveyor_housekeeping_leader_changes_total";
    /// Gauge 0/1: whether this worker is the housekeeping leader.
    pub const LEADER: &str = "conveyor_housekeeping_leader";
    /// Gauge: slots of this worker running a job now.
    pub const SLOTS_BUSY: &str = "conveyor_worker_slots_busy";

    /// All of them.
    pub const ALL: [&str; 14] = [
        JOBS_SUBMITTED,
        HTTP_REQUESTS,
        HTTP_DURATION,
        QUEUE_JOBS,
        WORKERS_LIVE,
        JOBS_STARTED,
        JOBS_FINISHED,
        JOB_RETRIES,
        JOBS_DEAD,
        PICKUP_LATENCY,
        RUN_DURATION,
        LEADER_CHANGES,
        LEADER,
        SLOTS_BUSY,
    ];
}

/// The `Content-Type` of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Buckets of request durations: 1 ms to 10 s.
const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Buckets of pickup latency: 1 ms to 1 h (a busy queue waits long).
const PICKUP_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
    3600.0,
];
/// Buckets of run durations: 1 ms to 4 h.
const RUN_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide Prometheus recorder the first time it is
/// called and returns its handle; later calls return the same handle. Tests
/// run an api and workers in one process: they all record into this one
/// recorder. If some other recorder was installed first (an embedding
/// program's), ours stays empty and a warning says so.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = builder().unwrap_or_else(|e| {
                tracing::warn!(error = %e, "histogram buckets rejected; histograms become summaries");
                PrometheusBuilder::new()
            });
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("another metrics recorder is installed; /metrics stays empty");
            }
            describe();
            // Histograms keep raw samples until drained; drain them even
            // when nobody scrapes. A thread, so no runtime has to outlive it.
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "cannot start the metrics upkeep thread");
            }
            handle
        })
        .clone()
}

/// The builder with the histogram buckets of our histograms (others, if
/// any, render as summaries).
fn builder() -> Result<PrometheusBuilder, BuildError> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(names::HTTP_DURATION.into()), HTTP_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(names::PICKUP_LATENCY.into()), PICKUP_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(names::RUN_DURATION.into()), RUN_BUCKETS)
}

fn describe() {
    use names::*;
    describe_counter!(
        JOBS_SUBMITTED,
        "Jobs created (single submit, batch, workflow run), by queue and kind"
    );
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by method, matched route and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time to answer an HTTP request, by method and matched route"
    );
    describe_gauge!(
        QUEUE_JOBS,
        "Jobs per queue and state (scheduled, queued, running, dead), read from PostgreSQL at scrape time"
    );
    describe_gauge!(
        WORKERS_LIVE,
        "Workers that heartbeated recently, read from PostgreSQL at scrape time"
    );
    describe_counter!(
        JOBS_STARTED,
        "Attempts started by this worker, by queue and kind"
    );
    describe_counter!(
        JOBS_FINISHED,
        "Attempts ended on this worker, by queue, kind and attempt outcome"
    );
    describe_counter!(
        JOB_RETRIES,
        "Failed attempts whose job was scheduled for a retry, by queue and kind"
    );
    describe_counter!(
        JOBS_DEAD,
        "Jobs that became dead (attempts exhausted or a permanent failure), by queue and kind"
    );
    describe_histogram!(
        PICKUP_LATENCY,
        Unit::Seconds,
        "Time from when a job was due to when a worker started it, by queue"
    );
    describe_histogram!(
        RUN_DURATION,
        Unit::Seconds,
        "Time an attempt ran in its executor, by queue and kind"
    );
    describe_counter!(
        LEADER_CHANGES,
        "Times this worker became or stopped being the housekeeping leader"
    );
    describe_gauge!(
        LEADER,
        "1 while this worker is the housekeeping leader, else 0"
    );
    describe_gauge!(SLOTS_BUSY, "Slots of this worker running a job now");
}

/// Whether a request may read `/metrics`: always when no token is
/// configured, else only with `Authorization: Bearer <token>`. The
/// comparison takes the same time whatever the guess.
pub fn authorized(token: Option<&str>, authorization: Option<&[u8]>) -> bool {
    let Some(token) = token else {
        return true;
    };
    let given = authorization
        .and_then(|h| std::str::from_utf8(h).ok())
        .and_then(crate::auth::bearer_token);
    let Some(given) = given else {
        return false;
    };
    // Equal-length digests, compared without an early exit.
    let (a, b) = (
        Sha256::digest(given.as_bytes()),
        Sha256::digest(token.as_bytes()),
    );
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The 401 body of `/metrics`, in the api's error shape.
pub fn unauthorized_body() -> serde_json::Value {
    serde_json::json!({ "error": {
        "code": "unauthorized",
        "message": "/metrics needs Authorization: Bearer <METRICS_TOKEN>",
        "details": null,
    }})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_token_anyone_may_scrape() {
        assert!(authorized(None, None));
        assert!(authorized(None, Some(b"Bearer whatever")));
    }

    #[test]
    fn with_a_token_only_the_bearer_of_it_may_scrape() {
        let token = Some("s3cret");
        assert!(authorized(token, Some(b"Bearer s3cret")));
        assert!(!authorized(token, None));
        assert!(!authorized(token, Some(b"Bearer s3cre")));
        assert!(!authorized(token, Some(b"s3cret")));
        assert!(!authorized(token, Some(b"Basic s3cret")));
    }

    #[test]
    fn install_twice_returns_one_recorder_that_renders_histograms() {
        let first = install();
        let second = install();
        metrics::histogram!(names::RUN_DURATION, "queue" => "q", "kind" => "noop").record(0.02);
        metrics::counter!(names::JOBS_STARTED, "queue" => "q", "kind" => "noop").increment(1);
        let text = second.render();
        assert_eq!(text, first.render());
        assert!(
            text.contains(
                "conveyor_job_run_duration_seconds_bucket{queue=\"q\",kind=\"noop\",le=\"0.05\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("# HELP conveyor_jobs_started_total"),
            "{text}"
        );
        assert!(
            text.contains("conveyor_jobs_started_total{queue=\"q\",kind=\"noop\"} 1"),
            "{text}"
        );
    }
}
