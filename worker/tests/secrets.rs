//! Secrets (tokens, the database password, job env values marked secret)
//! never appear in logs, events or API responses.

mod common;

use std::time::Duration;

use common::{capture_logs, id_of, Stack};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::test]
async fn secrets_stay_out_of_logs_events_and_responses() {
    let logs = capture_logs();
    const DB_PASSWORD: &str = "db-pass-9f3k2";
    const JOB_SECRET: &str = "job-secret-7h2m4";
    let mut stack = Stack::api_only().await;
    // Local Postgres trusts local users, so any password connects: enough to
    // see whether it is ever printed.
    let url = stack.env.database_url.replacen(
        "postgres://postgres@",
        &format!("postgres://postgres:{DB_PASSWORD}@"),
        1,
    );
    assert!(url.contains(DB_PASSWORD), "{url}");
    stack.add_worker(&[("DATABASE_URL", &url)]).await;

    let ws_url = format!("{}/api/v1/ws", stack.base.replace("http://", "ws://"));
    let mut request = ws_url.into_client_request().expect("request");
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", stack.token).parse().expect("header"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");

    // A new token's secret is answered once, on creation.
    let (status, created) = stack
        .post(
            "/api/v1/tokens",
            json!({"name": "deploy", "scope": "submit"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let new_secret = created["secret"].as_str().expect("secret").to_owned();

    // The job only succeeds if its process sees the secret value.
    let job = stack
        .submit(json!({
            "kind": "shell",
            "payload": {
                "argv": ["sh", "-c", "test \"$API_KEY\" = \"$EXPECTED\" && echo checked"],
                "env": {"API_KEY": {"secret": JOB_SECRET}, "EXPECTED": {"secret": JOB_SECRET}, "MODE": "plain"}
            }
        }))
        .await;
    let id = id_of(&job);
    let done = stack
        .wait_for_status(&id, "succeeded", Duration::from_secs(15))
        .await;
    assert_eq!(
        done["payload"]["env"]["API_KEY"],
        json!({"secret": "********"})
    );
    assert_eq!(done["payload"]["env"]["MODE"], "plain");

    let mut answers = vec![job.clone(), done];
    for path in [
        "/api/v1/jobs",
        "/api/v1/tokens",
        "/api/v1/workers",
        "/api/v1/stats",
    ] {
        let (status, body) = stack.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        answers.push(body);
    }

    // The events of the job, up to its success.
    let mut events = Vec::new();
    while let Ok(Some(Ok(message))) =
        tokio::time::timeout(Duration::from_millis(500), socket.next()).await
    {
        events.push(message.to_text().unwrap_or_default().to_owned());
    }
    let events = events.join("\n");
    assert!(events.contains(&id), "events about the job were captured");

    let admin_token = stack.token.clone();
    stack.stop().await;
    let logs = logs.text();
    assert!(logs.contains(&id), "logs about the job were captured");
    assert!(
        logs.contains("token created"),
        "the token's creation was logged"
    );
    let responses: Vec<String> = answers.iter().map(Value::to_string).collect();
    let responses = responses.join("\n");
    for (what, secret) in [
        ("the test's admin token", admin_token),
        ("a created token", new_secret.clone()),
        ("the database password", DB_PASSWORD.to_owned()),
        ("a job env secret", JOB_SECRET.to_owned()),
    ] {
        assert!(!logs.contains(&secret), "{what} appears in the logs");
        assert!(!events.contains(&secret), "{what} appears in an event");
        assert!(!responses.contains(&secret), "{what} appears in a response");
    }
}
