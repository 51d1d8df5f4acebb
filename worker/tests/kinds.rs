//! The built-in kinds end to end, timeouts, and a custom kind registered in Rust.

mod common;

use std::time::Duration;

use axum::routing::{get, post};
use common::{id_of, Stack};
use conveyor_shared::executor::{Executor, Failure, JobContext, Registry, Success};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(15);

async fn receiver() -> String {
    let app = axum::Router::new()
        .route(
            "/ok",
            post(|body: String| async move { format!("got {body}") }),
        )
        .route(
            "/broken",
            get(|| async { (axum::http::StatusCode::BAD_GATEWAY, "upstream down") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn http_job_succeeds_on_2xx_and_fails_otherwise() {
    let stack = Stack::start().await;
    let base = receiver().await;
    let ok = stack
        .submit(
            json!({"kind": "http", "payload": {"url": format!("{base}/ok"), "method": "POST",
                       "headers": {"x-test": "1"}, "body": "ping"}}),
        )
        .await;
    let done = stack.wait_for_status(&id_of(&ok), "succeeded", WAIT).await;
    assert_eq!(done["result"]["status"], 200);
    assert_eq!(done["result"]["body"], "got ping");

    let broken = stack
        .submit(json!({"kind": "http", "max_attempts": 1,
                       "payload": {"url": format!("{base}/broken")}}))
        .await;
    let dead = stack.wait_for_status(&id_of(&broken), "dead", WAIT).await;
    assert!(
        dead["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("502"),
        "{dead}"
    );
    assert_eq!(dead["attempts"][0]["output"], "upstream down");
    stack.stop().await;
}

#[tokio::test]
async fn timed_out_attempt_is_recorded_and_retried() {
    let stack = Stack::start().await;
    let job = stack
        .submit(
            json!({"kind": "shell", "timeout_secs": 1, "max_attempts": 2,
                       "backoff": {"base_ms": 10, "max_ms": 10},
                       "payload": {"argv": ["sh", "-c", "echo started; sleep 30"]}}),
        )
        .await;
    let dead = stack.wait_for_status(&id_of(&job), "dead", WAIT).await;
    let attempts = dead["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 2);
    for attempt in attempts {
        assert_eq!(attempt["outcome"], "timed_out");
        assert_eq!(attempt["error"], "timed out after 1 s");
        assert!(attempt["output"]
            .as_str()
            .unwrap_or_default()
            .contains("started"));
    }
    stack.stop().await;
}

#[tokio::test]
async fn shell_job_on_a_worker_without_shell_fails_with_a_clear_error() {
    let mut stack = Stack::api_only().await;
    stack.add_worker(&[("WORKER_ALLOW_SHELL", "0")]).await;
    let job = stack
        .submit(json!({"kind": "shell", "payload": {"argv": ["true"]}}))
        .await;
    let dead = stack.wait_for_status(&id_of(&job), "dead", WAIT).await;
    // A permanent failure: no retries are spent on it.
    assert_eq!(dead["attempt"], 1);
    assert!(dead["last_error"]
        .as_str()
        .unwrap_or_default()
        .contains("WORKER_ALLOW_SHELL=1"));
    stack.stop().await;
}

struct Shout;

#[async_trait::async_trait]
impl Executor for Shout {
    async fn execute(&self, ctx: JobContext) -> Result<Success, Failure> {
        let word = ctx.payload["word"]
            .as_str()
            .ok_or_else(|| Failure::permanent("payload.word is required"))?;
        Ok(Success {
            result: Some(json!({ "shouted": word.to_uppercase() })),
            output: None,
        })
    }
}

#[tokio::test]
async fn a_custom_kind_is_accepted_once_a_worker_registers_it() {
    let mut stack = Stack::api_only().await;
    let (status, body) = stack.post("/api/v1/jobs", json!({"kind": "shout"})).await;
    assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let mut registry = Registry::new();
    registry.register("shout", Shout);
    stack.add_worker_with(registry, &[]).await;
    let job = stack
        .submit(json!({"kind": "shout", "payload": {"word": "hello"}}))
        .await;
    let done = stack.wait_for_status(&id_of(&job), "succeeded", WAIT).await;
    assert_eq!(done["result"]["shouted"], "HELLO");
    stack.stop().await;
}
