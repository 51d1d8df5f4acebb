//! Secrets (tokens, the database password, job env values marked secret)
//! never appear in logs, events or API responses.

mod common;

use std::time::Duration;

use common::{capture_logs, id_of, Stack};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};

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

    let (mut socket, _) = tokio_tungstenite::connect_async(stack.ws_request(""))
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

#[tokio::test]
async fn a_masked_secret_sent_back_keeps_the_stored_value_and_is_refused_in_a_new_job() {
    let stack = Stack::start().await;
    let template = json!({
        "kind": "shell",
        "payload": {"argv": ["sh", "-c", "test \"$API_KEY\" = s3cr3t-v4lue"],
                    "env": {"API_KEY": {"secret": "s3cr3t-v4lue"}}}
    });
    let (status, created) = stack
        .post(
            "/api/v1/definitions",
            json!({"name": "deploy", "template": template}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["template"]["payload"]["env"]["API_KEY"],
        json!({"secret": "********"})
    );

    // An edit that sends back what it was shown keeps the secret.
    let (status, shown) = stack.get("/api/v1/definitions/deploy").await;
    assert_eq!(status, StatusCode::OK);
    let (status, edited) = stack
        .put(
            "/api/v1/definitions/deploy",
            json!({"description": "edited", "template": shown["template"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    let job = stack.submit(json!({"definition": "deploy"})).await;
    stack
        .wait_for_status(&id_of(&job), "succeeded", Duration::from_secs(15))
        .await;

    // Workflow nodes and schedule targets are stored whole, answered masked.
    let (status, workflow) = stack
        .post(
            "/api/v1/workflows",
            json!({"name": "with-secret", "nodes": [{"key": "a", "job": template}], "edges": []}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{workflow}");
    assert_eq!(
        workflow["nodes"][0]["template"]["payload"]["env"]["API_KEY"],
        json!({"secret": "********"}),
        "{workflow}"
    );
    let (status, run) = stack
        .post(
            &format!("/api/v1/workflows/{}/runs", id_of(&workflow)),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let node_job = run["nodes"][0]["job"]["id"]
        .as_str()
        .expect("node job")
        .to_owned();
    stack
        .wait_for_status(&node_job, "succeeded", Duration::from_secs(15))
        .await;
    let (status, schedule) = stack
        .post(
            "/api/v1/schedules",
            json!({"name": "nightly", "cron": "0 3 * * *", "target": {"job": template}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{schedule}");
    assert_eq!(
        schedule["target"]["job"]["payload"]["env"]["API_KEY"],
        json!({"secret": "********"}),
        "{schedule}"
    );

    // A new job cannot carry the mask as if it were the value.
    let before = stack.job_count().await;
    let (status, error) = stack
        .post(
            "/api/v1/jobs",
            json!({"kind": "shell", "payload": {"argv": ["env"],
                   "env": {"API_KEY": {"secret": "********"}}}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["error"]["details"]["field"], "payload.env.API_KEY");
    assert_eq!(stack.job_count().await, before);
    stack.stop().await;
}
