//! The hostile black-box suite, input half: what an attacker or a careless
//! client sends — NUL bytes everywhere, oversize and deeply nested JSON, huge
//! query strings and headers, SSRF targets and redirects, token scope abuse,
//! oversize WebSocket messages, shell jobs hunting for the worker's secrets —
//! each answered with a clean 4xx (JSON naming the field where there is one)
//! or a recorded job, and the system keeps serving afterwards.
//! docs/reliability.md ("Hostile input") reports the count of cases.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::response::IntoResponse;
use axum::routing::get;
use common::{client_with, create_token, id_of, Stack};
use conveyor_shared::auth::Scope;
use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

/// The stack still serves: ready, and a job submitted now is accepted.
async fn still_serves(stack: &Stack) {
    let (status, _) = stack.get("/readyz").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "api is not ready after hostile input"
    );
    stack.submit(json!({"kind": "noop"})).await;
}

/// A JSON error body naming `field` with `status`.
fn assert_names(status: StatusCode, body: &Value, expected: StatusCode, field: &str, case: &str) {
    assert_eq!(status, expected, "{case}: {body}");
    assert_eq!(body["error"]["details"]["field"], field, "{case}: {body}");
}

#[tokio::test]
async fn nul_bytes_anywhere_are_a_422_naming_the_field_and_store_nothing() {
    let stack = Stack::api_only().await;
    let nul = "a\u{0}b";
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/api/v1/jobs", json!({"kind": "noop", "name": nul}), "name"),
        (
            "/api/v1/jobs",
            json!({"kind": "noop", "payload": {"note": nul}}),
            "payload.note",
        ),
        (
            "/api/v1/jobs",
            json!({"kind": "noop", "payload": {"deep": [1, {"x": nul}]}}),
            "payload.deep[1].x",
        ),
        (
            "/api/v1/jobs",
            json!({"kind": "noop", "payload": {nul: 1}}),
            "payload.a\\u0000b",
        ),
        (
            "/api/v1/jobs",
            json!({"kind": "noop", "idempotency_key": nul}),
            "idempotency_key",
        ),
        (
            "/api/v1/jobs",
            json!({"kind": "shell", "payload": {"argv": ["echo", nul]}}),
            "payload.argv[1]",
        ),
        (
            "/api/v1/jobs/batch",
            json!({"jobs": [{"kind": "noop"}, {"kind": "noop", "name": nul}]}),
            "jobs[1].name",
        ),
        (
            "/api/v1/definitions",
            json!({"name": "d", "description": nul, "template": {"kind": "noop"}}),
            "description",
        ),
        (
            "/api/v1/tokens",
            json!({"name": nul, "scope": "read"}),
            "name",
        ),
        (
            "/api/v1/webhooks",
            json!({"url": "http://127.0.0.1:9/hook", "events": ["job.dead"], "description": nul}),
            "description",
        ),
        (
            "/api/v1/schedules",
            json!({"name": nul, "cron": "0 * * * * *", "job": {"kind": "noop"}}),
            "name",
        ),
        (
            "/api/v1/workflows",
            json!({"name": nul, "nodes": [{"key": "a", "job": {"kind": "noop"}}]}),
            "name",
        ),
    ];
    for (path, body, field) in &cases {
        let (status, answer) = stack.post(path, body.clone()).await;
        assert_names(
            status,
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            field,
            &format!("POST {path}"),
        );
    }
    // In the query string too (a filter handed to PostgreSQL).
    for query in ["name=a%00b", "queue=%00", "kind=x%00"] {
        let (status, answer) = stack.get(&format!("/api/v1/jobs?{query}")).await;
        let field = query.split('=').next().unwrap_or_default();
        assert_names(
            status,
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            field,
            query,
        );
    }
    assert_eq!(stack.job_count().await, 0, "nothing was stored");
    still_serves(&stack).await;
    stack.stop().await;
}

/// A local HTTP server whose answers carry a NUL byte, counting requests.
async fn nul_server() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/nul",
        get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { "before\u{0}after".into_response() }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), hits)
}

#[tokio::test]
async fn outcomes_with_nul_bytes_are_recorded_and_the_worker_goes_on() {
    let stack = Stack::start().await;
    let (base, _) = nul_server().await;
    let shell = stack
        .submit(json!({"kind": "shell", "payload": {"argv": ["printf", "x\\000y"]}}))
        .await;
    let failing_shell = stack
        .submit(json!({"kind": "shell", "max_attempts": 1,
                       "payload": {"argv": ["sh", "-c", "printf 'bad\\000news'; exit 3"]}}))
        .await;
    let http = stack
        .submit(json!({"kind": "http", "payload": {"url": format!("{base}/nul")}}))
        .await;
    let done = stack
        .wait_for_status(&id_of(&shell), "succeeded", WAIT)
        .await;
    let output = done["attempts"][0]["output"].as_str().unwrap_or_default();
    assert!(output.starts_with('x') && output.ends_with('y'), "{done}");
    assert!(!output.contains('\u{0}'), "{done}");
    let dead = stack
        .wait_for_status(&id_of(&failing_shell), "dead", WAIT)
        .await;
    assert!(dead["attempts"][0]["output"]
        .as_str()
        .is_some_and(|o| o.starts_with("bad") && o.ends_with("news")));
    let done = stack
        .wait_for_status(&id_of(&http), "succeeded", WAIT)
        .await;
    let body = done["result"]["body"].as_str().unwrap_or_default();
    assert!(
        body.starts_with("before") && body.ends_with("after"),
        "{done}"
    );
    // The worker is not stalled: later jobs run.
    let later = stack.submit(json!({"kind": "noop"})).await;
    stack
        .wait_for_status(&id_of(&later), "succeeded", WAIT)
        .await;
    stack.stop().await;
}

#[tokio::test]
async fn http_jobs_to_internal_addresses_are_refused_without_the_allow_list() {
    let mut stack = Stack::api_only().await;
    stack.add_worker(&[("OUTBOUND_ALLOW", "")]).await;
    let (base, hits) = nul_server().await;
    for url in [
        format!("{base}/nul"),
        base.replace("127.0.0.1", "localhost") + "/nul",
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://[::1]:9/".to_owned(),
        "http://10.0.0.1:9/".to_owned(),
    ] {
        let job = stack
            .submit(json!({"kind": "http", "max_attempts": 3, "payload": {"url": url}}))
            .await;
        let dead = stack.wait_for_status(&id_of(&job), "dead", WAIT).await;
        let error = dead["last_error"].as_str().unwrap_or_default();
        assert!(error.contains("outbound request refused"), "{url}: {dead}");
        assert_eq!(dead["attempt"], 1, "a refusal is not retried: {dead}");
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "no request reached loopback"
    );
    stack.stop().await;
}

#[tokio::test]
async fn a_redirect_from_an_allowed_host_to_a_refused_address_is_refused() {
    let mut stack = Stack::api_only().await;
    // localhost is allowed by name; 127.0.0.1 as an address is not.
    stack.add_worker(&[("OUTBOUND_ALLOW", "localhost")]).await;
    let (target, hits) = nul_server().await;
    let redirect_to = format!("{target}/nul");
    let app = axum::Router::new().route(
        "/go",
        get(move || {
            let to = redirect_to.clone();
            async move { axum::response::Redirect::temporary(&to) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let job = stack
        .submit(json!({"kind": "http", "payload": {"url": format!("http://localhost:{port}/go")}}))
        .await;
    let dead = stack.wait_for_status(&id_of(&job), "dead", WAIT).await;
    let error = dead["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("outbound request refused"), "{dead}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the redirect was not followed"
    );
    stack.stop().await;
}

#[tokio::test]
async fn webhooks_to_literal_internal_addresses_are_refused_at_registration() {
    let stack = Stack::api_with(&[("OUTBOUND_ALLOW", "")]).await;
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://169.254.169.254/",
        "http://[fd00::1]/hook",
        "http://192.168.1.10/hook",
    ] {
        let (status, body) = stack
            .post(
                "/api/v1/webhooks",
                json!({"url": url, "events": ["job.dead"]}),
            )
            .await;
        assert_names(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "url", url);
    }
    still_serves(&stack).await;
    stack.stop().await;
}

#[tokio::test]
async fn a_webhook_whose_host_resolves_to_loopback_fails_at_once_without_the_allow_list() {
    let mut stack = Stack::api_with(&[("OUTBOUND_ALLOW", "")]).await;
    stack
        .add_worker(&[
            ("OUTBOUND_ALLOW", ""),
            ("WEBHOOK_POLL_MS", "50"),
            ("WEBHOOK_BACKOFF_BASE_MS", "100"),
        ])
        .await;
    let (base, hits) = nul_server().await;
    // A host name passes registration; its addresses are checked at delivery.
    let url = base.replace("127.0.0.1", "localhost") + "/nul";
    let (status, created) = stack
        .post(
            "/api/v1/webhooks",
            json!({"url": url, "events": ["job.succeeded"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let webhook_id = created["webhook"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let job = stack.submit(json!({"kind": "noop"})).await;
    stack.wait_for_status(&id_of(&job), "succeeded", WAIT).await;
    let deadline = std::time::Instant::now() + WAIT;
    let delivery = loop {
        let (_, page) = stack
            .get(&format!("/api/v1/webhooks/{webhook_id}/deliveries"))
            .await;
        if let Some(d) = page["deliveries"]
            .as_array()
            .and_then(|all| all.first())
            .filter(|d| d["status"] == "failed")
        {
            break d.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failed delivery: {page}"
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    };
    assert_eq!(
        delivery["attempts"], 1,
        "a refusal is not retried: {delivery}"
    );
    let error = delivery["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("outbound request refused"), "{delivery}");
    assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing reached loopback");
    stack.stop().await;
}

#[tokio::test]
async fn below_admin_a_definition_holding_secrets_cannot_be_pointed_elsewhere() {
    let stack = Stack::api_only().await;
    let template = json!({"kind": "http", "payload": {
        "url": "https://api.example.com/deploy",
        "headers": {"authorization": {"secret": "Bearer s3cr3t"}}}});
    let (status, body) = stack
        .post(
            "/api/v1/definitions",
            json!({"name": "deploy", "template": template}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let submit = client_with(&create_token(&stack.env, "ci", Scope::Submit).await);
    let post = |path: &'static str, body: Value| {
        let request = submit.post(format!("{}{path}", stack.base)).json(&body);
        async move {
            let response = request.send().await.expect("request");
            let status = response.status();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    for (body, field) in [
        (
            json!({"definition": "deploy", "payload": {"url": "https://evil.example/"}}),
            "payload.url",
        ),
        (
            json!({"definition": "deploy", "kind": "shell", "payload": {"argv": ["env"]}}),
            "kind",
        ),
    ] {
        let (status, answer) = post("/api/v1/jobs", body).await;
        assert_names(
            status,
            &answer,
            StatusCode::FORBIDDEN,
            field,
            "submit token",
        );
    }
    let (status, answer) = post(
        "/api/v1/jobs/batch",
        json!({"jobs": [{"definition": "deploy"},
                        {"definition": "deploy", "payload": {"url": "http://evil.example/"}}]}),
    )
    .await;
    assert_names(
        status,
        &answer,
        StatusCode::FORBIDDEN,
        "jobs[1].payload.url",
        "batch",
    );
    assert_eq!(stack.job_count().await, 0, "nothing was stored");
    // Fields that do not redirect the secret stay open, and admins may.
    let (status, answer) = post(
        "/api/v1/jobs",
        json!({"definition": "deploy", "payload": {"body": "v2"}, "priority": 7}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, answer) = stack
        .post(
            "/api/v1/jobs",
            json!({"definition": "deploy", "payload": {"url": "https://api.example.com/other"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "admin: {answer}");
    stack.stop().await;
}

#[tokio::test]
async fn token_scope_abuse_is_refused_with_403() {
    let stack = Stack::api_only().await;
    let read = client_with(&create_token(&stack.env, "r", Scope::Read).await);
    let submit = client_with(&create_token(&stack.env, "s", Scope::Submit).await);
    let cases: [(&reqwest::Client, &str, Value); 5] = [
        (&read, "/api/v1/jobs", json!({"kind": "noop"})),
        (
            &read,
            "/api/v1/jobs/batch",
            json!({"jobs": [{"kind": "noop"}]}),
        ),
        (
            &submit,
            "/api/v1/tokens",
            json!({"name": "me", "scope": "admin"}),
        ),
        (
            &submit,
            "/api/v1/definitions",
            json!({"name": "d", "template": {"kind": "noop"}}),
        ),
        (&submit, "/api/v1/queues/default/pause", json!({})),
    ];
    for (client, path, body) in cases {
        let response = client
            .post(format!("{}{path}", stack.base))
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert_eq!(body["error"]["code"], "forbidden", "{path}: {body}");
    }
    assert_eq!(stack.job_count().await, 0);
    still_serves(&stack).await;
    stack.stop().await;
}

#[tokio::test]
async fn oversize_deep_and_huge_requests_get_a_clean_4xx() {
    let stack = Stack::api_with(&[("MAX_PAYLOAD_BYTES", "65536")]).await;
    let anonymous = reqwest::Client::new();
    // The sign-in body is read without a token: a few KiB at most.
    let response = anonymous
        .post(format!("{}/api/v1/session", stack.base))
        .json(&json!({"token": "x".repeat(64 * 1024)}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = response.json().await.expect("JSON error");
    assert_eq!(body["error"]["details"]["field"], "body", "{body}");

    // One job: its payload's limit plus a margin, refused before parsing.
    let big = json!({"kind": "noop", "payload": {"blob": "x".repeat(512 * 1024)}});
    let (status, body) = stack.post("/api/v1/jobs", big).await;
    assert_names(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body",
        "one job",
    );

    // Deeply nested JSON is malformed input, not a stack overflow.
    let deep = format!(
        "{{\"kind\": \"noop\", \"payload\": {}{}}}",
        "[".repeat(20_000),
        "]".repeat(20_000)
    );
    let response = stack
        .http
        .post(format!("{}/api/v1/jobs", stack.base))
        .header("content-type", "application/json")
        .body(deep)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("JSON error");
    assert_eq!(body["error"]["code"], "bad_request", "{body}");

    // A huge query string and a huge header are handled, never a 5xx.
    let (status, body) = stack
        .get(&format!("/api/v1/jobs?name={}", "q".repeat(60_000)))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = stack
        .get(&format!("/api/v1/jobs?limit={}", "9".repeat(60_000)))
        .await;
    assert_names(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "limit",
        "limit",
    );
    let response = stack
        .http
        .get(format!("{}/api/v1/jobs", stack.base))
        .header("x-junk", "j".repeat(1 << 20))
        .send()
        .await;
    if let Ok(response) = response {
        assert!(
            response.status().is_client_error(),
            "a 1 MiB header: {}",
            response.status()
        );
    }
    assert_eq!(stack.job_count().await, 0);
    still_serves(&stack).await;
    stack.stop().await;
}

#[tokio::test]
async fn an_oversize_websocket_message_closes_the_connection() {
    let stack = Stack::api_only().await;
    let (mut socket, _) = tokio_tungstenite::connect_async(stack.ws_request(""))
        .await
        .expect("connect");
    let _subscribed = socket.next().await;
    let huge = format!(
        "{{\"type\": \"subscribe\", \"queues\": [\"{}\"]}}",
        "q".repeat(4 << 20)
    );
    let _ = socket
        .send(tokio_tungstenite::tungstenite::Message::Text(huge.into()))
        .await;
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) => return true,
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) => return true,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert_eq!(closed, Ok(true), "the server closed the oversize client");
    still_serves(&stack).await;
    stack.stop().await;
}

#[tokio::test]
async fn a_websocket_client_that_stops_reading_is_disconnected() {
    let stack = Stack::api_only().await;
    // A client with a tiny receive window that reads nothing after the
    // handshake: the api's sends to it soon block.
    let addr: std::net::SocketAddr = stack
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("addr");
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    let stream = socket.connect(addr).await.expect("connect");
    let (mut client, _) = tokio_tungstenite::client_async(stack.ws_request(""), stream)
        .await
        .expect("handshake");
    let _subscribed = client.next().await;
    // Several MiB of status events for it (every job is announced).
    let name = "n".repeat(190);
    for _ in 0..20 {
        let jobs: Vec<Value> = (0..500)
            .map(|_| json!({"kind": "noop", "name": name, "queue": "slow-client"}))
            .collect();
        let (status, body) = stack
            .post("/api/v1/jobs/batch", json!({"jobs": jobs}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // Wait past the send timeout (10 s) counted from the last event, then
    // read: what was buffered arrives, then the connection ends instead of
    // streaming on. (Counted from the first submit instead, a loaded machine
    // could leave the api's send blocked for less than the timeout when the
    // client starts reading; reading unblocks it, and the client is kept.)
    tokio::time::sleep(Duration::from_secs(13)).await;
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match client.next().await {
                None | Some(Err(_)) => return true,
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) => return true,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert_eq!(ended, Ok(true), "the slow client was disconnected");
    still_serves(&stack).await;
    stack.stop().await;
}

#[tokio::test]
async fn a_shell_job_cannot_read_the_worker_database_url() {
    let stack = Stack::api_only().await;
    // The real binary, with DATABASE_URL in its environment as deployed.
    let mut worker = stack.spawn_worker_process(&[]);
    let secret = stack.env.env()["DATABASE_URL"].clone();
    // Walks from the job's parent (the worker) up to init, printing every
    // environment it can read.
    let script = r#"p=$PPID
while [ "$p" -gt 1 ]; do
  cat /proc/$p/environ 2>/dev/null | tr '\0' '\n' | grep '^DATABASE_URL=' && echo "LEAK from $p"
  p=$(awk '/^PPid:/ {print $2}' /proc/$p/status)
done
echo walked"#;
    let job = stack
        .submit(json!({"kind": "shell", "payload": {"argv": ["sh", "-c", script]}}))
        .await;
    let done = stack.wait_for_status(&id_of(&job), "succeeded", WAIT).await;
    let output = done["attempts"][0]["output"].as_str().unwrap_or_default();
    assert!(output.contains("walked"), "{done}");
    assert!(!output.contains("LEAK"), "{output}");
    assert!(!output.contains(&secret), "{output}");
    let _ = worker.kill().await;
    stack.stop().await;
}

/// This process's resident memory, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .expect("/proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Many open connections cost the api little memory: each used to get its
/// own deep copy of every route and its layers (~2 MB a connection).
#[tokio::test]
async fn many_keep_alive_connections_cost_the_api_little_memory() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stack = Stack::api_only().await;
    let addr = stack.base.trim_start_matches("http://").to_owned();
    let before = rss_kib();
    let mut connections = Vec::new();
    for _ in 0..64 {
        let mut c = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("send");
        let mut answer = [0u8; 12];
        c.read_exact(&mut answer).await.expect("answer");
        assert_eq!(&answer, b"HTTP/1.1 200");
        connections.push(c);
    }
    let grew_mib = rss_kib().saturating_sub(before) / 1024;
    assert!(
        grew_mib < 32,
        "64 connections took {grew_mib} MiB of the api's process"
    );
    drop(connections);
    still_serves(&stack).await;
    stack.stop().await;
}
