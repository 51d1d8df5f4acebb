//! Bad input gets a JSON error naming the field, a 4xx, and writes nothing.

mod common;

use common::Stack;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn raw(stack: &Stack, path: &str, content_type: &str, body: &str) -> (StatusCode, Value) {
    let response = stack
        .http
        .post(format!("{}{path}", stack.base))
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.expect("a JSON error body"))
}

#[tokio::test]
async fn each_bad_input_answers_4xx_naming_the_field_and_writes_nothing() {
    let stack = Stack::api_only().await;
    let big = "x".repeat(1_100_000);
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({"kind": "teleport"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "kind",
        ),
        (
            json!({"name": "no kind"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "kind",
        ),
        (
            json!({"kind": "noop", "priority": 10}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "priority",
        ),
        (
            json!({"kind": "noop", "priority": -1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "priority",
        ),
        (
            json!({"kind": "noop", "priority": "high"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "priority",
        ),
        (
            json!({"kind": "noop", "payload": {"blob": big}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "payload",
        ),
        (
            json!({"kind": "noop", "payload": "text"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "payload",
        ),
        (
            json!({"kind": "noop", "run_at": "next tuesday"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "run_at",
        ),
        (
            json!({"kind": "noop", "run_at": "2030-01-01T00:00:00Z", "delay_ms": 5}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "run_at",
        ),
        (
            json!({"kind": "noop", "queue": "no spaces please"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "queue",
        ),
        (
            json!({"kind": "noop", "queue": "q{1}"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "queue",
        ),
        (
            json!({"kind": "noop", "max_attempts": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "max_attempts",
        ),
        (
            json!({"kind": "noop", "backoff": {"base_ms": 500, "max_ms": 100}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "backoff.max_ms",
        ),
        (
            json!({"kind": "noop", "timeout_secs": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "timeout_secs",
        ),
        (
            json!({"kind": "noop", "surprise": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "surprise",
        ),
        (
            json!({"kind": "shell", "payload": {"argv": []}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "payload.argv",
        ),
        (
            json!({"kind": "http", "payload": {"url": "not a url"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "payload.url",
        ),
        (
            json!({"kind": "sleep", "payload": {"ms": "long"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "payload.ms",
        ),
    ];
    for (body, status, field) in cases {
        let (got, error) = stack.post("/api/v1/jobs", body.clone()).await;
        assert_eq!(got, status, "for {body}: {error}");
        assert_eq!(
            error["error"]["details"]["field"], field,
            "for {body}: {error}"
        );
        assert!(error["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }

    let (status, error) = raw(&stack, "/api/v1/jobs", "application/json", "{\"kind\": ").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["code"], "bad_request");
    let (status, error) = raw(&stack, "/api/v1/jobs", "text/plain", "{\"kind\": \"noop\"}").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(error["error"]["details"]["field"], "content-type");

    assert_eq!(stack.job_count().await, 0, "a rejected request wrote a job");
    stack.stop().await;
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_named() {
    let stack = Stack::api_only().await;
    let missing = uuid::Uuid::now_v7();
    for path in [format!("/api/v1/jobs/{missing}")] {
        let (status, error) = stack.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(error["error"]["details"]["field"], "id");
    }
    for action in ["cancel", "retry"] {
        let (status, error) = stack
            .post(&format!("/api/v1/jobs/{missing}/{action}"), json!({}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{action}: {error}");
    }
    let (status, error) = stack.get("/api/v1/jobs/not-a-uuid").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["error"]["details"]["field"], "id");
    let (status, error) = stack.get("/api/v1/jobs?status=exploded").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["error"]["details"]["field"], "status");
    let (status, error) = stack.get("/api/v1/jobs?limit=0").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["error"]["details"]["field"], "limit");
    let (status, error) = stack.get("/api/v1/jobs?cursor=abc").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["error"]["details"]["field"], "cursor");
    let (status, _) = stack.get("/api/v1/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    stack.stop().await;
}

#[tokio::test]
async fn openapi_document_describes_the_job_routes_and_docs_are_served() {
    let stack = Stack::api_only().await;
    let (status, doc) = stack.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/api/v1/jobs",
        "/api/v1/jobs/batch",
        "/api/v1/jobs/{id}",
        "/api/v1/jobs/{id}/cancel",
        "/api/v1/jobs/{id}/retry",
        "/api/v1/queues",
        "/api/v1/stats",
    ] {
        assert!(doc["paths"][path].is_object(), "missing {path}");
    }
    assert!(doc["components"]["schemas"]["JobSpec"].is_object());
    let docs = stack
        .http
        .get(format!("{}/docs/", stack.base))
        .send()
        .await
        .expect("docs");
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.text().await.unwrap_or_default().contains("swagger"));
    let (status, ready) = stack.get("/readyz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ready["postgres"], "ok");
    assert_eq!(ready["redis"], "ok");
    let home = stack
        .http
        .get(format!("{}/", stack.base))
        .send()
        .await
        .expect("home");
    assert!(home
        .text()
        .await
        .unwrap_or_default()
        .contains("npm run build"));
    stack.stop().await;
}
