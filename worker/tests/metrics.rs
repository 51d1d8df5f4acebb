//! `/metrics` on the api and the worker, `METRICS_TOKEN`,
//! `WORKER_METRICS_ADDR`, and job fields in `LOG_FORMAT=json` lines.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{id_of, Stack};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// An in-process worker serving `/metrics` on a port the test knows.
struct MeteredWorker {
    metrics_url: String,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl MeteredWorker {
    async fn start(stack: &Stack, extra: &[(&str, &str)]) -> Self {
        let config = stack.env.worker_config(extra);
        let registry = conveyor_worker::builtin_registry(&config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind metrics");
        let metrics_url = format!("http://{}/metrics", listener.local_addr().expect("addr"));
        let stop = CancellationToken::new();
        let task = tokio::spawn(conveyor_worker::run_with_metrics(
            config,
            registry,
            Some(listener),
            stop.clone(),
        ));
        Self {
            metrics_url,
            stop,
            task,
        }
    }

    async fn stop(self) {
        self.stop.cancel();
        self.task.await.expect("worker task").expect("worker run");
    }
}

/// GET with no API token and an optional `Authorization` value.
async fn scrape(url: &str, authorization: Option<&str>) -> (StatusCode, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    let response = request.send().await.expect("scrape");
    let status = response.status();
    (status, response.text().await.expect("body"))
}

/// The sum of the samples of `name` whose labels include all of `labels`
/// (`None` when there is none).
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = match line.rsplit_once(' ') {
            Some(parts) => parts,
            None => continue,
        };
        let (metric, label_text) = match series.split_once('{') {
            Some((m, rest)) => (m, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if metric != name {
            continue;
        }
        if labels
            .iter()
            .all(|(k, v)| label_text.split(',').any(|l| l == format!("{k}=\"{v}\"")))
        {
            let value: f64 = value.parse().expect("sample value");
            found = Some(found.unwrap_or(0.0) + value);
        }
    }
    found
}

/// Scrapes `url` until `check` holds for the text, or panics with it.
async fn scrape_until(url: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, text) = scrape(url, None).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        if check(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "{what} never held:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_job_that_ran_shows_in_the_api_and_worker_metrics() {
    let stack = Stack::api_only().await;
    let worker = MeteredWorker::start(&stack, &[("HOUSEKEEPING_INTERVAL_MS", "100")]).await;
    let job = stack.submit(json!({"kind": "noop"})).await;
    let id = id_of(&job);
    stack
        .wait_for_status(&id, "succeeded", Duration::from_secs(10))
        .await;
    // A job due in an hour waits as `scheduled`: the depth gauge must say 1.
    stack
        .submit(json!({"kind": "noop", "delay_ms": 3_600_000}))
        .await;
    let api_metrics = format!("{}/metrics", stack.base);

    // Open without any API token (METRICS_TOKEN is not set).
    let api = scrape_until(&api_metrics, "the api's counts", |t| {
        sample(
            t,
            "conveyor_queue_jobs",
            &[("queue", "default"), ("state", "scheduled")],
        ) == Some(1.0)
    })
    .await;
    let submitted = [("queue", "default"), ("kind", "noop")];
    assert!(
        sample(&api, "conveyor_jobs_submitted_total", &submitted) >= Some(2.0),
        "{api}"
    );
    let posted = [
        ("method", "POST"),
        ("route", "/api/v1/jobs"),
        ("status", "201"),
    ];
    assert!(
        sample(&api, "conveyor_http_requests_total", &posted) >= Some(2.0),
        "{api}"
    );
    let timed = [("method", "POST"), ("route", "/api/v1/jobs")];
    assert!(
        sample(&api, "conveyor_http_request_duration_seconds_count", &timed) >= Some(2.0),
        "{api}"
    );
    // Reads of one job are counted under the route, never the raw path.
    let read = [("method", "GET"), ("route", "/api/v1/jobs/{id}")];
    assert!(
        sample(&api, "conveyor_http_requests_total", &read) >= Some(1.0),
        "{api}"
    );
    assert!(!api.contains(&id), "a job id became a label:\n{api}");
    assert_eq!(
        sample(&api, "conveyor_workers_live", &[]),
        Some(1.0),
        "{api}"
    );
    assert!(
        api.contains("# HELP conveyor_jobs_submitted_total"),
        "{api}"
    );

    let text = scrape_until(&worker.metrics_url, "leadership", |t| {
        sample(t, "conveyor_housekeeping_leader", &[]) == Some(1.0)
    })
    .await;
    let ran = [("queue", "default"), ("kind", "noop")];
    assert!(
        sample(&text, "conveyor_jobs_started_total", &ran) >= Some(1.0),
        "{text}"
    );
    let succeeded = [
        ("queue", "default"),
        ("kind", "noop"),
        ("outcome", "succeeded"),
    ];
    assert!(
        sample(&text, "conveyor_jobs_finished_total", &succeeded) >= Some(1.0),
        "{text}"
    );
    let queue = [("queue", "default")];
    assert!(
        sample(&text, "conveyor_job_pickup_latency_seconds_count", &queue) >= Some(1.0),
        "{text}"
    );
    let le_hour = [("queue", "default"), ("le", "3600")];
    assert!(
        sample(
            &text,
            "conveyor_job_pickup_latency_seconds_bucket",
            &le_hour
        ) >= Some(1.0),
        "{text}"
    );
    assert!(
        sample(&text, "conveyor_job_run_duration_seconds_count", &ran) >= Some(1.0),
        "{text}"
    );
    assert!(sample(&text, "conveyor_housekeeping_leader_changes_total", &[]) >= Some(1.0));
    assert_eq!(
        sample(&text, "conveyor_worker_slots_busy", &[]),
        Some(0.0),
        "{text}"
    );

    worker.stop().await;
    stack.stop().await;
}

#[tokio::test]
async fn a_failing_job_counts_retries_and_a_dead_letter() {
    let stack = Stack::api_only().await;
    let worker = MeteredWorker::start(&stack, &[]).await;
    let job = stack
        .submit(json!({"kind": "shell", "max_attempts": 2,
                       "backoff": {"base_ms": 0, "max_ms": 0},
                       "payload": {"argv": ["sh", "-c", "exit 1"]}}))
        .await;
    stack
        .wait_for_status(&id_of(&job), "dead", Duration::from_secs(30))
        .await;
    let shell = [("queue", "default"), ("kind", "shell")];
    let text = scrape_until(&worker.metrics_url, "the dead letter", |t| {
        sample(t, "conveyor_jobs_dead_total", &shell) == Some(1.0)
    })
    .await;
    assert_eq!(
        sample(&text, "conveyor_job_retries_total", &shell),
        Some(1.0),
        "{text}"
    );
    let failed = [
        ("queue", "default"),
        ("kind", "shell"),
        ("outcome", "failed"),
    ];
    assert_eq!(
        sample(&text, "conveyor_jobs_finished_total", &failed),
        Some(2.0),
        "{text}"
    );
    worker.stop().await;
    stack.stop().await;
}

#[tokio::test]
async fn metrics_token_guards_the_api_and_worker_endpoints() {
    let token = [("METRICS_TOKEN", "m3trics")];
    let stack = Stack::api_with(&token).await;
    let worker = MeteredWorker::start(&stack, &token).await;
    for url in [
        format!("{}/metrics", stack.base),
        worker.metrics_url.clone(),
    ] {
        let (status, body) = scrape(&url, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{url}: {body}");
        let body: Value = serde_json::from_str(&body).expect("a JSON error");
        assert_eq!(body["error"]["code"], "unauthorized", "{url}: {body}");
        let (status, _) = scrape(&url, Some("Bearer wrong")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{url}");
        let (status, text) = scrape(&url, Some("Bearer m3trics")).await;
        assert_eq!(status, StatusCode::OK, "{url}: {text}");
        assert!(text.contains("# TYPE"), "{url}: {text}");
    }
    worker.stop().await;
    stack.stop().await;
}

/// Lines of a child's stderr, as they come.
fn lines_of(stderr: tokio::process::ChildStderr) -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The first JSON line whose message is `message`; earlier lines are kept in `seen`.
async fn json_line(
    rx: &mut mpsc::UnboundedReceiver<String>,
    seen: &mut Vec<String>,
    message: &str,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(line)) => line,
            _ => panic!("no line {message:?} within 20 s; got:\n{}", seen.join("\n")),
        };
        seen.push(line.clone());
        let parsed: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            panic!("LOG_FORMAT=json wrote a line that is not JSON ({e}): {line}")
        });
        if parsed["fields"]["message"] == message {
            return parsed;
        }
    }
}

#[tokio::test]
async fn json_log_lines_about_a_job_carry_its_id_queue_kind_and_attempt() {
    let stack = Stack::api_only().await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_conveyor-worker"))
        .envs(stack.env.env())
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .env("WORKER_METRICS_ADDR", "127.0.0.1:0")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn conveyor-worker");
    let mut rx = lines_of(child.stderr.take().expect("stderr"));
    let mut seen = Vec::new();

    // The binary tells where it serves metrics; port 0 became a real port.
    let listening = json_line(&mut rx, &mut seen, "worker metrics listening").await;
    let addr = listening["fields"]["addr"].as_str().expect("addr field");
    assert!(!addr.ends_with(":0"), "{listening}");
    json_line(&mut rx, &mut seen, "worker started").await;

    let job = stack
        .submit(json!({"kind": "sleep", "queue": "default", "payload": {"ms": 1}}))
        .await;
    let id = id_of(&job);
    let started = json_line(&mut rx, &mut seen, "job started").await;
    let succeeded = json_line(&mut rx, &mut seen, "job succeeded").await;
    for line in [&started, &succeeded] {
        let span = &line["span"];
        assert_eq!(span["name"], "job", "{line}");
        assert_eq!(span["job_id"], id.as_str(), "{line}");
        assert_eq!(span["queue"], "default", "{line}");
        assert_eq!(span["kind"], "sleep", "{line}");
        assert_eq!(span["attempt"], 1, "{line}");
    }
    stack
        .wait_for_status(&id, "succeeded", Duration::from_secs(10))
        .await;
    let (status, text) = scrape(&format!("http://{addr}/metrics"), None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let done = [
        ("queue", "default"),
        ("kind", "sleep"),
        ("outcome", "succeeded"),
    ];
    assert_eq!(
        sample(&text, "conveyor_jobs_finished_total", &done),
        Some(1.0),
        "{text}"
    );

    let pid = nix::unistd::Pid::from_raw(child.id().expect("pid") as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("worker stops")
        .expect("wait");
    assert!(exit.success(), "{exit:?}");
    stack.stop().await;
}

#[tokio::test]
async fn a_bad_or_taken_worker_metrics_addr_stops_start_up_with_one_line_naming_it() {
    let run = |value: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_conveyor-worker"))
            .env("WORKER_METRICS_ADDR", value)
            .env("STARTUP_TIMEOUT_SECS", "1")
            .output()
            .expect("run conveyor-worker")
    };
    let out = run("everywhere");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("WORKER_METRICS_ADDR=\"everywhere\""),
        "{stderr}"
    );

    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = run(&addr);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("WORKER_METRICS_ADDR={addr}")),
        "{stderr}"
    );
}
