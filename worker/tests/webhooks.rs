//! Webhooks end to end: a receiver in the test records what the workers
//! POST; the api shows the delivery log.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode as AxumStatus, Uri};
use common::{id_of, Stack};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;

const WAIT: Duration = Duration::from_secs(20);

/// Fast polling and retries, so a test takes a second or two.
const FAST: [(&str, &str); 2] = [
    ("WEBHOOK_POLL_MS", "50"),
    ("WEBHOOK_BACKOFF_BASE_MS", "100"),
];

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
    at: Instant,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

#[derive(Default)]
struct Log {
    received: Vec<Received>,
    /// Status codes to answer, in order; 200 once they run out.
    plan: Vec<u16>,
}

/// A tiny HTTP server on 127.0.0.1:0 that records every request.
struct Receiver {
    base: String,
    log: Arc<Mutex<Log>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Answers `plan` in order, then 200 to everything.
    async fn start(plan: &[u16]) -> Self {
        let log = Arc::new(Mutex::new(Log {
            received: Vec::new(),
            plan: plan.iter().rev().copied().collect(),
        }));
        async fn record(
            State(log): State<Arc<Mutex<Log>>>,
            method: Method,
            uri: Uri,
            headers: HeaderMap,
            body: Bytes,
        ) -> (AxumStatus, &'static str) {
            let mut log = log.lock().expect("log");
            log.received.push(Received {
                method,
                path: uri.path().to_owned(),
                headers,
                body,
                at: Instant::now(),
            });
            let code = log.plan.pop().unwrap_or(200);
            (
                AxumStatus::from_u16(code).expect("status"),
                "receiver says hi",
            )
        }
        let app = axum::Router::new().fallback(record).with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base, log, task }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn received(&self) -> Vec<Received> {
        self.log.lock().expect("log").received.clone()
    }

    /// Waits until at least `n` requests arrived; returns them all.
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + WAIT;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "receiver got {} requests, expected {n}: {got:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Checks `Conveyor-Signature: t=<unix>,v1=<hex>` against `secret`,
/// recomputing the HMAC here rather than trusting the worker's code.
fn signature_verifies(request: &Received, secret: &str) -> bool {
    let header = request.header("conveyor-signature");
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value.to_owned()),
            Some(("v1", value)) => v1 = Some(value.to_owned()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac key");
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(&request.body);
    let expected = hex::encode(mac.finalize().into_bytes());
    let fresh = t
        .parse::<i64>()
        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() < 300);
    expected == v1 && fresh
}

/// Creates a webhook; returns it and its secret.
async fn create_webhook(stack: &Stack, body: Value) -> (Value, String) {
    let (status, created) = stack.post("/api/v1/webhooks", body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().expect("secret").to_owned();
    (created["webhook"].clone(), secret)
}

/// The webhook's delivery log (first page, newest first).
async fn deliveries(stack: &Stack, webhook: &Value) -> Vec<Value> {
    let (status, page) = stack
        .get(&format!("/api/v1/webhooks/{}/deliveries", id_of(webhook)))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["deliveries"].as_array().expect("deliveries").clone()
}

/// Polls the log until its newest delivery has `status`.
async fn wait_delivery(stack: &Stack, webhook: &Value, status: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let log = deliveries(stack, webhook).await;
        if let Some(newest) = log.first().filter(|d| d["status"] == status) {
            return newest.clone();
        }
        assert!(Instant::now() < deadline, "no {status} delivery: {log:#?}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

async fn fast_stack(extra: &[(&str, &str)]) -> Stack {
    let mut stack = Stack::api_only().await;
    let mut env: Vec<(&str, &str)> = FAST.to_vec();
    env.extend_from_slice(extra);
    stack.add_worker(&env).await;
    stack
}

#[tokio::test]
async fn a_succeeded_job_in_a_subscribed_queue_is_delivered_once_signed_and_without_its_env() {
    let stack = fast_stack(&[("WORKER_QUEUES", "default,other")]).await;
    let receiver = Receiver::start(&[]).await;
    let (webhook, secret) = create_webhook(
        &stack,
        json!({"url": receiver.url("/hooks/conveyor"), "events": ["job.succeeded"],
               "queues": ["default"], "description": "test receiver"}),
    )
    .await;
    assert!(secret.starts_with("whsec_"), "{secret}");

    // A job in another queue: no delivery.
    let other = stack
        .submit(json!({"kind": "noop", "queue": "other"}))
        .await;
    stack
        .wait_for_status(&id_of(&other), "succeeded", WAIT)
        .await;
    // A job in the subscribed queue, whose env holds a secret value.
    let job = stack
        .submit(json!({"kind": "shell", "name": "greet",
                       "payload": {"argv": ["true"], "env": {"API_KEY": "env-value-never-sent"}}}))
        .await;
    stack.wait_for_status(&id_of(&job), "succeeded", WAIT).await;

    let delivered = wait_delivery(&stack, &webhook, "succeeded").await;
    let log = deliveries(&stack, &webhook).await;
    assert_eq!(
        log.len(),
        1,
        "the other queue's job made a delivery: {log:#?}"
    );
    let got = receiver.received();
    assert_eq!(got.len(), 1, "{got:?}");
    let request = &got[0];
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.path, "/hooks/conveyor");
    assert_eq!(request.header("content-type"), "application/json");
    assert_eq!(request.header("conveyor-event"), "job.succeeded");
    assert_eq!(
        request.header("conveyor-delivery"),
        delivered["id"].as_str().expect("id")
    );
    assert!(
        signature_verifies(request, &secret),
        "bad signature: {}",
        request.header("conveyor-signature")
    );
    assert!(!signature_verifies(request, "whsec_not-the-secret"));

    let body = request.json();
    assert_eq!(body["event"], "job.succeeded");
    assert_eq!(body["id"], delivered["id"]);
    assert_eq!(body, delivered["payload"]);
    let sent_job = &body["data"]["job"];
    assert_eq!(sent_job["id"], job["id"]);
    assert_eq!(sent_job["name"], "greet");
    assert_eq!(sent_job["queue"], "default");
    assert_eq!(sent_job["status"], "succeeded");
    assert_eq!(sent_job["attempt"], 1);
    assert_eq!(sent_job["result"], json!({"exit_code": 0}));
    assert!(sent_job["finished_at"].is_string(), "{sent_job}");
    assert!(sent_job.get("payload").is_none(), "{sent_job}");
    let raw = String::from_utf8_lossy(&request.body);
    assert!(!raw.contains("env-value-never-sent"), "{raw}");

    assert_eq!(delivered["attempts"], 1);
    assert_eq!(delivered["last_status_code"], 200);
    assert_eq!(delivered["response_excerpt"], "receiver says hi");
    assert!(delivered["delivered_at"].is_string());
    let (_, shown) = stack
        .get(&format!("/api/v1/webhooks/{}", id_of(&webhook)))
        .await;
    assert_eq!(shown["last_delivery"]["status"], "succeeded");
    assert_eq!(shown["last_delivery"]["id"], delivered["id"]);
    stack.stop().await;
}

#[tokio::test]
async fn a_receiver_failing_twice_gets_the_delivery_on_the_third_attempt_after_backoff() {
    let stack = fast_stack(&[]).await;
    let receiver = Receiver::start(&[500, 500]).await;
    let (webhook, secret) = create_webhook(
        &stack,
        json!({"url": receiver.url("/flaky"), "events": ["job.succeeded"]}),
    )
    .await;
    let job = stack.submit(json!({"kind": "noop"})).await;
    stack.wait_for_status(&id_of(&job), "succeeded", WAIT).await;

    let delivered = wait_delivery(&stack, &webhook, "succeeded").await;
    assert_eq!(delivered["attempts"], 3, "{delivered:#}");
    assert_eq!(delivered["last_status_code"], 200);
    assert_eq!(delivered["last_error"], "HTTP 500 Internal Server Error");
    let got = receiver.received();
    assert_eq!(got.len(), 3, "{got:?}");
    for request in &got {
        assert_eq!(request.header("conveyor-delivery"), delivered["id"]);
        assert!(signature_verifies(request, &secret));
        assert_eq!(
            request.body, got[0].body,
            "every attempt sends the same body"
        );
    }
    // The first retry waits the backoff base (100 ms), the second longer.
    assert!(got[1].at - got[0].at >= Duration::from_millis(100));
    assert!(got[2].at - got[1].at >= Duration::from_millis(100));

    let (status, detail) = stack
        .get(&format!("/api/v1/webhook-deliveries/{}", id_of(&delivered)))
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let codes: Vec<Value> = detail["attempt_log"]
        .as_array()
        .expect("attempt log")
        .iter()
        .map(|a| a["status_code"].clone())
        .collect();
    assert_eq!(codes, vec![json!(500), json!(500), json!(200)]);
    stack.stop().await;
}

#[tokio::test]
async fn a_delivery_fails_after_its_last_attempt_redeliver_sends_it_again_and_ping_ignores_disabled(
) {
    let stack = fast_stack(&[("WEBHOOK_MAX_ATTEMPTS", "2")]).await;
    let receiver = Receiver::start(&[503, 503]).await;
    let (webhook, _) = create_webhook(
        &stack,
        json!({"url": receiver.url("/down"), "events": ["job.succeeded"]}),
    )
    .await;
    let job = stack.submit(json!({"kind": "noop"})).await;
    stack.wait_for_status(&id_of(&job), "succeeded", WAIT).await;
    let failed = wait_delivery(&stack, &webhook, "failed").await;
    assert_eq!(failed["attempts"], 2);
    assert_eq!(failed["last_status_code"], 503);
    assert!(failed["delivered_at"].is_null());
    assert_eq!(receiver.received().len(), 2);

    let (status, queued) = stack
        .post(
            &format!("/api/v1/webhook-deliveries/{}/redeliver", id_of(&failed)),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    assert_eq!(queued["status"], "pending");
    let delivered = wait_delivery(&stack, &webhook, "succeeded").await;
    assert_eq!(delivered["id"], failed["id"]);
    assert_eq!(delivered["attempts"], 3);
    assert_eq!(receiver.received().len(), 3);

    // Disabled: a finishing job makes no delivery, but a ping is still sent.
    let path = format!("/api/v1/webhooks/{}", id_of(&webhook));
    let (status, disabled) = stack.patch(&path, json!({"enabled": false})).await;
    assert_eq!(status, StatusCode::OK, "{disabled}");
    assert_eq!(disabled["enabled"], false);
    let job = stack.submit(json!({"kind": "noop"})).await;
    stack.wait_for_status(&id_of(&job), "succeeded", WAIT).await;
    assert_eq!(deliveries(&stack, &webhook).await.len(), 1);
    let (status, ping) = stack.post(&format!("{path}/test"), json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{ping}");
    let got = receiver.wait_for(4).await;
    assert_eq!(got[3].header("conveyor-event"), "ping");
    assert_eq!(got[3].header("conveyor-delivery"), ping["id"]);
    assert_eq!(got[3].json()["data"]["webhook"]["id"], webhook["id"]);

    let (status, missing) = stack
        .post(
            "/api/v1/webhook-deliveries/01936f0e-0000-7000-8000-000000000000/redeliver",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    stack.stop().await;
}

#[tokio::test]
async fn job_dead_is_delivered_for_a_job_out_of_attempts_and_not_for_one_that_succeeds() {
    let stack = fast_stack(&[]).await;
    let receiver = Receiver::start(&[]).await;
    let (webhook, secret) = create_webhook(
        &stack,
        json!({"url": receiver.url("/dead"), "events": ["job.dead"]}),
    )
    .await;
    let fine = stack.submit(json!({"kind": "noop"})).await;
    stack
        .wait_for_status(&id_of(&fine), "succeeded", WAIT)
        .await;
    let doomed = stack
        .submit(json!({"kind": "shell", "payload": {"argv": ["false"]}, "max_attempts": 1}))
        .await;
    stack.wait_for_status(&id_of(&doomed), "dead", WAIT).await;

    let got = receiver.wait_for(1).await;
    wait_delivery(&stack, &webhook, "succeeded").await;
    assert_eq!(deliveries(&stack, &webhook).await.len(), 1);
    assert_eq!(receiver.received().len(), 1);
    let request = &got[0];
    assert_eq!(request.header("conveyor-event"), "job.dead");
    assert!(signature_verifies(request, &secret));
    let body = request.json();
    assert_eq!(body["event"], "job.dead");
    assert_eq!(body["data"]["job"]["id"], doomed["id"]);
    assert_eq!(body["data"]["job"]["status"], "dead");
    assert_eq!(body["data"]["job"]["attempt"], 1);
    assert_eq!(body["data"]["job"]["max_attempts"], 1);
    assert_eq!(body["data"]["job"]["last_error"], "exited with status 1");
    stack.stop().await;
}

async fn create_workflow(stack: &Stack, body: Value) -> Value {
    let (status, wf) = stack.post("/api/v1/workflows", body).await;
    assert_eq!(status, StatusCode::CREATED, "{wf}");
    wf
}

async fn start_run(stack: &Stack, workflow: &Value) -> String {
    let (status, run) = stack
        .post(
            &format!("/api/v1/workflows/{}/runs", id_of(workflow)),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    id_of(&run)
}

#[tokio::test]
async fn workflow_run_finished_is_delivered_once_per_run_with_its_status() {
    let mut stack = fast_stack(&[("WORKER_CONCURRENCY", "4")]).await;
    // A second worker, so the two leaves may finish in two transactions.
    let mut second: Vec<(&str, &str)> = FAST.to_vec();
    second.push(("WORKER_CONCURRENCY", "4"));
    stack.add_worker(&second).await;
    let all = Receiver::start(&[]).await;
    let only_ok = Receiver::start(&[]).await;

    let noop = |k: &str| json!({"key": k, "job": {"kind": "noop"}});
    let ok = create_workflow(
        &stack,
        json!({"name": "ok", "nodes": [noop("root"), noop("left"), noop("right")],
               "edges": [["root", "left"], ["root", "right"]]}),
    )
    .await;
    let broken = create_workflow(
        &stack,
        json!({"name": "broken",
               "nodes": [{"key": "x", "job": {"kind": "shell", "payload": {"argv": ["false"]},
                                              "max_attempts": 1}},
                         noop("y")],
               "edges": [["x", "y"]]}),
    )
    .await;
    let (every_run, _) = create_webhook(
        &stack,
        json!({"url": all.url("/runs"), "events": ["workflow_run.finished"]}),
    )
    .await;
    let (ok_runs, _) = create_webhook(
        &stack,
        json!({"url": only_ok.url("/ok"), "events": ["workflow_run.finished"],
               "workflow_ids": [ok["id"]]}),
    )
    .await;

    let ok_run = start_run(&stack, &ok).await;
    let broken_run = start_run(&stack, &broken).await;
    let got = all.wait_for(2).await;
    only_ok.wait_for(1).await;
    // Every check has been seen by now; give the loops a few more ticks to
    // show that no second delivery of the same run end appears.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(all.received().len(), 2, "{:?}", all.received());
    assert_eq!(deliveries(&stack, &every_run).await.len(), 2);
    assert_eq!(only_ok.received().len(), 1);
    assert_eq!(deliveries(&stack, &ok_runs).await.len(), 1);

    let bodies: Vec<Value> = got.iter().map(Received::json).collect();
    let of_run = |id: &str| {
        bodies
            .iter()
            .find(|b| b["data"]["run"]["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no delivery for run {id}: {bodies:#?}"))
    };
    let ok_body = of_run(&ok_run);
    assert_eq!(ok_body["event"], "workflow_run.finished");
    assert_eq!(ok_body["data"]["run"]["status"], "succeeded");
    assert_eq!(ok_body["data"]["run"]["workflow_id"], ok["id"]);
    assert_eq!(ok_body["data"]["run"]["workflow_name"], "ok");
    assert_eq!(ok_body["data"]["run"]["counts"], json!({"succeeded": 3}));
    let broken_body = of_run(&broken_run);
    assert_eq!(broken_body["data"]["run"]["status"], "failed");
    assert_eq!(
        broken_body["data"]["run"]["counts"],
        json!({"dead": 1, "skipped": 1})
    );
    assert_eq!(
        only_ok.received()[0].json()["data"]["run"]["id"],
        json!(ok_run)
    );
    stack.stop().await;
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field_and_stores_nothing() {
    let stack = Stack::api_only().await;
    let cases = [
        (
            json!({"url": "ftp://example.com/x", "events": ["job.dead"]}),
            "url",
        ),
        (json!({"url": "not a url", "events": ["job.dead"]}), "url"),
        (json!({"events": ["job.dead"]}), "url"),
        (
            json!({"url": "https://example.com/", "events": []}),
            "events",
        ),
        (
            json!({"url": "https://example.com/", "events": ["job.exploded"]}),
            "events",
        ),
        (json!({"url": "https://example.com/"}), "events"),
        (
            json!({"url": "https://example.com/", "events": ["job.dead"], "queues": ["no spaces"]}),
            "queues",
        ),
        (
            json!({"url": "https://example.com/", "events": ["job.dead"],
                   "workflow_ids": ["01936f0e-0000-7000-8000-000000000000"]}),
            "workflow_ids",
        ),
        (
            json!({"url": "https://example.com/", "events": ["job.dead"], "colour": "red"}),
            "colour",
        ),
    ];
    for (body, field) in cases {
        let (status, error) = stack.post("/api/v1/webhooks", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {error}");
        assert_eq!(error["error"]["code"], "validation_failed", "{body}");
        assert_eq!(error["error"]["details"]["field"], field, "{body}: {error}");
    }
    let (_, list) = stack.get("/api/v1/webhooks").await;
    assert_eq!(list["webhooks"], json!([]));
    let stored: i64 = sqlx::query_scalar("select count(*) from webhooks")
        .fetch_one(&stack.env.pool)
        .await
        .expect("count");
    assert_eq!(stored, 0);

    // A valid one; a bad change is refused and changes nothing.
    let (webhook, _) = create_webhook(
        &stack,
        json!({"url": "https://example.com/hook", "events": ["job.dead"]}),
    )
    .await;
    let path = format!("/api/v1/webhooks/{}", id_of(&webhook));
    let (status, error) = stack
        .patch(&path, json!({"url": "mailto:ops@example.com"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["error"]["details"]["field"], "url");
    let (_, unchanged) = stack.get(&path).await;
    assert_eq!(unchanged["url"], "https://example.com/hook");
    let (status, _) = stack.get("/api/v1/webhooks/not-a-uuid").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = stack
        .get("/api/v1/webhooks/01936f0e-0000-7000-8000-000000000000")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, error) = stack.get(&format!("{path}/deliveries?status=lost")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["error"]["details"]["field"], "status");
    stack.stop().await;
}

#[tokio::test]
async fn the_secret_is_shown_at_creation_and_rotation_only() {
    let stack = Stack::api_only().await;
    let (webhook, secret) = create_webhook(
        &stack,
        json!({"url": "https://example.com/hook", "events": ["job.succeeded", "job.dead"],
               "enabled": false}),
    )
    .await;
    assert_eq!(secret.len(), "whsec_".len() + 64, "{secret}");
    assert_eq!(webhook["enabled"], false);
    assert!(webhook.get("secret").is_none(), "{webhook}");
    let path = format!("/api/v1/webhooks/{}", id_of(&webhook));

    let (status, rotated) = stack
        .post(&format!("{path}/rotate-secret"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new_secret = rotated["secret"].as_str().expect("secret").to_owned();
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);

    let (status, patched) = stack
        .patch(&path, json!({"description": "ops", "queues": ["emails"]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["description"], "ops");
    assert_eq!(patched["queues"], json!(["emails"]));
    assert_eq!(patched["events"], json!(["job.succeeded", "job.dead"]));
    let (status, ping) = stack.post(&format!("{path}/test"), json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{ping}");
    assert_eq!(ping["event"], "ping");
    assert_eq!(ping["payload"]["data"]["webhook"]["id"], webhook["id"]);

    let answers = [
        stack.get("/api/v1/webhooks").await.1,
        stack.get(&path).await.1,
        patched,
        ping.clone(),
        stack.get(&format!("{path}/deliveries")).await.1,
        stack
            .get(&format!("/api/v1/webhook-deliveries/{}", id_of(&ping)))
            .await
            .1,
    ];
    for answer in &answers {
        let text = answer.to_string();
        assert!(text.contains(&id_of(&webhook)), "{text}");
        assert!(
            !text.contains(&secret) && !text.contains(&new_secret),
            "{text}"
        );
        assert!(!text.contains("whsec_"), "{text}");
    }

    let (status, _) = stack.delete(&path).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = stack.get(&path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let left: i64 = sqlx::query_scalar("select count(*) from webhook_deliveries")
        .fetch_one(&stack.env.pool)
        .await
        .expect("count");
    assert_eq!(left, 0, "deliveries go with their webhook");
    stack.stop().await;
}

#[tokio::test]
async fn the_delivery_log_pages_newest_first_and_a_worker_without_webhooks_sends_nothing() {
    let stack = fast_stack(&[("WORKER_WEBHOOKS", "0")]).await;
    let receiver = Receiver::start(&[]).await;
    let (webhook, _) = create_webhook(
        &stack,
        json!({"url": receiver.url("/"), "events": ["job.succeeded"]}),
    )
    .await;
    for _ in 0..3 {
        let job = stack.submit(json!({"kind": "noop"})).await;
        stack.wait_for_status(&id_of(&job), "succeeded", WAIT).await;
    }
    let path = format!("/api/v1/webhooks/{}/deliveries", id_of(&webhook));
    let (_, first) = stack.get(&format!("{path}?limit=2")).await;
    let first_page = first["deliveries"].as_array().expect("page").clone();
    assert_eq!(first_page.len(), 2, "{first}");
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let (_, second) = stack.get(&format!("{path}?limit=2&cursor={cursor}")).await;
    let second_page = second["deliveries"].as_array().expect("page").clone();
    assert_eq!(second_page.len(), 1, "{second}");
    assert!(second["next_cursor"].is_null());
    let ids: Vec<String> = first_page.iter().chain(&second_page).map(id_of).collect();
    let mut newest_first = ids.clone();
    newest_first.sort();
    newest_first.reverse();
    assert_eq!(ids, newest_first);
    let (_, pending) = stack.get(&format!("{path}?status=pending")).await;
    assert_eq!(pending["deliveries"].as_array().map(Vec::len), Some(3));
    let (_, done) = stack.get(&format!("{path}?status=succeeded")).await;
    assert_eq!(done["deliveries"], json!([]));

    // WORKER_WEBHOOKS=0: nothing was sent.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.received().is_empty());
    stack.stop().await;
}

#[tokio::test]
async fn retention_deletes_deliveries_older_than_its_age_as_the_current_leader_only() {
    let stack = Stack::api_only().await;
    let (webhook, _) = create_webhook(
        &stack,
        json!({"url": "https://example.com/hook", "events": ["job.dead"]}),
    )
    .await;
    let path = format!("/api/v1/webhooks/{}/test", id_of(&webhook));
    let (_, old) = stack.post(&path, json!({})).await;
    let (_, recent) = stack.post(&path, json!({})).await;
    let pool = &stack.env.pool;
    sqlx::query(
        "update webhook_deliveries set created_at = now() - interval '8 days' where id = $1",
    )
    .bind(uuid::Uuid::parse_str(&id_of(&old)).expect("id"))
    .execute(pool)
    .await
    .expect("backdate");
    use conveyor_shared::db::{housekeeping, webhooks};
    let fence = housekeeping::take_epoch(pool, "test").await.expect("epoch");
    let stale = webhooks::delete_old_deliveries(pool, fence - 1, 7, 1000)
        .await
        .expect("delete");
    assert_eq!(stale, 0, "a deposed leader deletes nothing");
    let deleted = webhooks::delete_old_deliveries(pool, fence, 7, 1000)
        .await
        .expect("delete");
    assert_eq!(deleted, 1);
    let left: Vec<String> = deliveries(&stack, &webhook)
        .await
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(left, vec![id_of(&recent)]);
    stack.stop().await;
}
