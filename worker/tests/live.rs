//! Status events reach WebSocket clients, in order, filtered as asked.

mod common;

use std::time::Duration;

use common::{id_of, Stack};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(stack: &Stack, query: &str) -> Socket {
    let (mut socket, _) = tokio_tungstenite::connect_async(stack.ws_request(query))
        .await
        .expect("connect");
    let hello = next_json(&mut socket).await;
    assert_eq!(hello["type"], "subscribed", "{hello}");
    socket
}

async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s")
            .expect("socket open")
            .expect("message");
        if let Message::Text(text) = msg {
            return serde_json::from_str(text.as_str()).expect("JSON message");
        }
    }
}

/// The statuses of `id` seen until `last`.
async fn statuses_until(socket: &mut Socket, id: &str, last: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let event = next_json(socket).await;
        if event["type"] == "job" && event["job_id"] == id {
            let status = event["status"].as_str().unwrap_or_default().to_owned();
            seen.push(status.clone());
            if status == last {
                return seen;
            }
        }
    }
}

#[tokio::test]
async fn websocket_client_sees_queued_running_succeeded_in_order() {
    let stack = Stack::start().await;
    let mut socket = connect(&stack, "").await;
    let job = stack
        .submit(json!({"kind": "sleep", "payload": {"ms": 50}}))
        .await;
    let seen = statuses_until(&mut socket, &id_of(&job), "succeeded").await;
    assert_eq!(seen, ["queued", "running", "succeeded"]);
    stack.stop().await;
}

#[tokio::test]
async fn retries_and_dead_letters_are_announced() {
    let stack = Stack::start().await;
    let mut socket = connect(&stack, "").await;
    let job = stack
        .submit(json!({"kind": "shell", "payload": {"argv": ["false"]},
                       "max_attempts": 2, "backoff": {"base_ms": 10, "max_ms": 10}}))
        .await;
    let seen = statuses_until(&mut socket, &id_of(&job), "dead").await;
    assert_eq!(seen, ["queued", "running", "scheduled", "running", "dead"]);
    stack.stop().await;
}

#[tokio::test]
async fn a_client_sees_only_the_queue_or_jobs_it_subscribed_to() {
    let mut stack = Stack::api_only().await;
    stack.add_worker(&[("WORKER_QUEUES", "mail,other")]).await;
    let mut by_queue = connect(&stack, "?queue=mail").await;
    let other = stack
        .submit(json!({"kind": "noop", "queue": "other"}))
        .await;
    let mail = stack.submit(json!({"kind": "noop", "queue": "mail"})).await;
    let mut socket_by_job = connect(&stack, "").await;
    socket_by_job
        .send(Message::Text(
            json!({"type": "subscribe", "jobs": [id_of(&other)]})
                .to_string()
                .into(),
        ))
        .await
        .expect("send");
    // Events about earlier jobs may arrive before the acknowledgement.
    let ack = loop {
        let message = next_json(&mut socket_by_job).await;
        if message["type"] != "job" {
            break message;
        }
    };
    assert_eq!(ack["type"], "subscribed");
    assert_eq!(ack["all"], false);
    let seen = statuses_until(&mut by_queue, &id_of(&mail), "succeeded").await;
    assert_eq!(seen.first().map(String::as_str), Some("queued"));
    // Every event the queue subscriber got was about the mail queue.
    let probe = stack.submit(json!({"kind": "noop", "queue": "mail"})).await;
    loop {
        let event = next_json(&mut by_queue).await;
        assert_eq!(event["queue"], "mail", "leaked: {event}");
        if event["job_id"] == probe["id"] && event["status"] == "succeeded" {
            break;
        }
    }
    let bad = stack
        .submit(json!({"kind": "noop", "queue": "other"}))
        .await;
    stack
        .wait_for_status(&id_of(&bad), "succeeded", Duration::from_secs(10))
        .await;
    // The job subscriber never sees `bad`, which it did not ask for.
    let quiet = tokio::time::timeout(Duration::from_millis(300), async {
        loop {
            let event = next_json(&mut socket_by_job).await;
            assert_ne!(event["job_id"], bad["id"], "got an unsubscribed job");
        }
    })
    .await;
    assert!(quiet.is_err());
    stack.stop().await;
}

#[tokio::test]
async fn a_client_that_falls_behind_is_told_to_resync() {
    let stack = Stack::api_with(&[("WS_EVENT_BUFFER", "16")]).await;
    let mut socket = connect(&stack, "").await;
    let jobs: Vec<_> = (0..300).map(|_| json!({"kind": "noop"})).collect();
    let (status, _) = stack
        .post("/api/v1/jobs/batch", json!({ "jobs": jobs }))
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED);
    // 300 events arrive in one burst into a buffer of 16.
    loop {
        let msg = next_json(&mut socket).await;
        if msg["type"] == "resync" {
            assert!(msg["missed"].as_u64().unwrap_or(0) > 0, "{msg}");
            break;
        }
        assert_eq!(msg["type"], "job", "{msg}");
    }
    stack.stop().await;
}

#[tokio::test]
async fn workflow_node_events_are_tagged_with_their_run() {
    let stack = Stack::start().await;
    let (status, wf) = stack
        .post(
            "/api/v1/workflows",
            json!({"name": "tagged",
            "nodes": [{"key": "a", "job": {"kind": "sleep", "payload": {"ms": 600}}},
                      {"key": "b", "job": {"kind": "noop"}}],
            "edges": [["a", "b"]]}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{wf}");
    let (status, other) = stack
        .post(&format!("/api/v1/workflows/{}/runs", id_of(&wf)), json!({}))
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED);
    let (status, run) = stack
        .post(&format!("/api/v1/workflows/{}/runs", id_of(&wf)), json!({}))
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED);
    // Node a sleeps, so b's whole life is still ahead when we subscribe.
    let mut socket = connect(&stack, &format!("?run={}", id_of(&run))).await;
    let mut seen = Vec::new();
    loop {
        let event = next_json(&mut socket).await;
        assert_eq!(
            event["workflow_run_id"], run["id"],
            "another run leaked: {event}"
        );
        assert_ne!(event["workflow_run_id"], other["id"]);
        seen.push(format!(
            "{}:{}",
            event["node_key"].as_str().unwrap_or("?"),
            event["status"].as_str().unwrap_or("?")
        ));
        if event["node_key"] == "b" && event["status"] == "succeeded" {
            break;
        }
    }
    let b: Vec<&String> = seen.iter().filter(|s| s.starts_with("b:")).collect();
    assert_eq!(b, ["b:queued", "b:running", "b:succeeded"], "{seen:?}");
    assert!(seen.contains(&"a:succeeded".to_string()), "{seen:?}");
    stack.stop().await;
}
