//! Access control: tokens and scopes on every route class, revocation, the
//! browser sign-in cookie, AUTH_DISABLED, limits and CORS.

mod common;

use std::time::Duration;

use common::{capture_logs, client_with, create_token, id_of, Stack};
use conveyor_shared::auth::Scope;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// What `client` gets for `method path` (with a small valid body for POSTs).
async fn status_of(
    stack: &Stack,
    client: &reqwest::Client,
    method: Method,
    path: &str,
) -> (StatusCode, Value) {
    let mut request = client.request(method.clone(), format!("{}{path}", stack.base));
    if method == Method::POST {
        request = request.json(&json!({"kind": "noop"}));
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Opens the WebSocket with these headers; the HTTP status of the upgrade.
async fn ws_status(stack: &Stack, header: Option<(&'static str, String)>) -> u16 {
    let url = format!("{}/api/v1/ws", stack.base.replace("http://", "ws://"));
    let mut request = url.into_client_request().expect("request");
    if let Some((name, value)) = header {
        request
            .headers_mut()
            .insert(name, value.parse().expect("header"));
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("websocket: {e}"),
    }
}

#[tokio::test]
async fn each_scope_gets_exactly_its_route_classes() {
    let stack = Stack::api_only().await;
    let job = stack.submit(json!({"kind": "noop"})).await;
    let cancel = format!("/api/v1/jobs/{}/cancel", id_of(&job));
    let anonymous = reqwest::Client::new();
    let wrong = client_with("cvr_not-a-real-token");
    let read = client_with(&create_token(&stack.env, "r", Scope::Read).await);
    let submit = client_with(&create_token(&stack.env, "s", Scope::Submit).await);
    let admin = client_with(&create_token(&stack.env, "a", Scope::Admin).await);

    // (route, what anonymous/wrong, read, submit, admin get)
    let routes = [
        (Method::GET, "/api/v1/jobs", [401, 200, 200, 200]),
        (Method::GET, "/api/v1/stats", [401, 200, 200, 200]),
        (Method::POST, "/api/v1/jobs", [401, 403, 201, 201]),
        (Method::POST, cancel.as_str(), [401, 403, 403, 200]),
        (Method::GET, "/api/v1/tokens", [401, 403, 403, 200]),
        (
            Method::POST,
            "/api/v1/queues/default/pause",
            [401, 403, 403, 200],
        ),
    ];
    for (method, path, [none, r, s, a]) in routes {
        for (client, expected, who) in [
            (&anonymous, none, "no token"),
            (&wrong, none, "a wrong token"),
            (&read, r, "read"),
            (&submit, s, "submit"),
            (&admin, a, "admin"),
        ] {
            let (status, body) = status_of(&stack, client, method.clone(), path).await;
            assert_eq!(status.as_u16(), expected, "{who}: {method} {path}: {body}");
            match expected {
                401 => assert_eq!(body["error"]["code"], "unauthorized", "{body}"),
                403 => {
                    assert_eq!(body["error"]["code"], "forbidden", "{body}");
                    assert_eq!(body["error"]["details"]["scope"], who, "{body}");
                }
                _ => {}
            }
        }
    }

    // The WebSocket needs a token too.
    assert_eq!(ws_status(&stack, None).await, 401);
    let bearer = format!(
        "Bearer {}",
        create_token(&stack.env, "w", Scope::Read).await
    );
    assert_eq!(
        ws_status(&stack, Some(("authorization", bearer))).await,
        101
    );

    // Health, readiness, metrics and the API description stay open.
    for path in ["/healthz", "/readyz", "/metrics", "/api/v1/openapi.json"] {
        let response = anonymous
            .get(format!("{}{path}", stack.base))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    stack.stop().await;
}

#[tokio::test]
async fn tokens_are_created_listed_and_revoked_stop_working_at_once() {
    let stack = Stack::api_only().await;
    let (status, created) = stack
        .post("/api/v1/tokens", json!({"name": "ci", "scope": "submit"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("cvr_"));
    let client = client_with(&secret);
    let (status, _) = status_of(&stack, &client, Method::POST, "/api/v1/jobs").await;
    assert_eq!(status, StatusCode::CREATED);

    // Listed without its secret, with a prefix to recognise it by.
    let (_, list) = stack.get("/api/v1/tokens").await;
    assert!(!list.to_string().contains(&secret), "the secret is listed");
    let listed = list["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .find(|t| t["id"] == created["token"]["id"])
        .expect("the new token is listed")
        .clone();
    assert_eq!(listed["scope"], "submit");
    assert!(secret.starts_with(listed["prefix"].as_str().expect("prefix")));

    // A browser session opened with it ends with it.
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/session", stack.base))
        .json(&json!({"token": secret}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = session_cookie(&response);

    let id = created["token"]["id"].as_str().expect("id");
    let (status, _) = stack.delete(&format!("/api/v1/tokens/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = status_of(&stack, &client, Method::GET, "/api/v1/jobs").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let with_cookie = reqwest::Client::new()
        .get(format!("{}/api/v1/jobs", stack.base))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("request");
    assert_eq!(with_cookie.status(), StatusCode::UNAUTHORIZED);
    let (_, list) = stack.get("/api/v1/tokens").await;
    let revoked = list["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .find(|t| t["id"] == id)
        .expect("a revoked token stays listed")
        .clone();
    assert!(revoked["revoked_at"].is_string());

    // Bad input names the field and creates nothing.
    let before = list["tokens"].as_array().map_or(0, Vec::len);
    for (body, field) in [
        (json!({"name": "x", "scope": "root"}), "scope"),
        (json!({"name": "", "scope": "read"}), "name"),
    ] {
        let (status, error) = stack.post("/api/v1/tokens", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert_eq!(error["error"]["details"]["field"], field, "{error}");
    }
    let (status, error) = stack
        .delete(&format!("/api/v1/tokens/{}", uuid::Uuid::now_v7()))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    let (_, list) = stack.get("/api/v1/tokens").await;
    assert_eq!(list["tokens"].as_array().map_or(0, Vec::len), before);
    stack.stop().await;
}

/// The `name=value` part of the session cookie set by `response`.
fn session_cookie(response: &reqwest::Response) -> String {
    let set = response
        .headers()
        .get("set-cookie")
        .expect("a cookie is set")
        .to_str()
        .expect("ascii");
    set.split(';').next().expect("pair").to_owned()
}

#[tokio::test]
async fn the_browser_signs_in_with_an_httponly_strict_cookie_and_out_again() {
    let stack = Stack::api_only().await;
    let browser = reqwest::Client::new();
    let url = format!("{}/api/v1/session", stack.base);

    let wrong = browser
        .post(&url)
        .json(&json!({"token": "cvr_wrong"}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get("set-cookie").is_none());
    let not_signed_in = browser.get(&url).send().await.expect("session");
    assert_eq!(not_signed_in.status(), StatusCode::UNAUTHORIZED);

    let read = create_token(&stack.env, "viewer", Scope::Read).await;
    let response = browser
        .post(&url)
        .json(&json!({"token": read}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(response.status(), StatusCode::OK);
    let set = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("cookie")
        .to_owned();
    assert!(set.starts_with("conveyor_session="), "{set}");
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    assert!(
        !set.contains(&read),
        "the cookie must not hold the token itself"
    );
    let info: Value = response.json().await.expect("json");
    assert_eq!(
        info,
        json!({"auth": "cookie", "name": "viewer", "scope": "read"})
    );
    let cookie = set.split(';').next().expect("pair").to_owned();

    // The cookie works for REST and the WebSocket, with the token's scope.
    let jobs = browser
        .get(format!("{}/api/v1/jobs", stack.base))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("jobs");
    assert_eq!(jobs.status(), StatusCode::OK);
    let submit = browser
        .post(format!("{}/api/v1/jobs", stack.base))
        .header("cookie", &cookie)
        .json(&json!({"kind": "noop"}))
        .send()
        .await
        .expect("submit");
    assert_eq!(submit.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        ws_status(&stack, Some(("cookie", cookie.clone()))).await,
        101
    );

    // Signing out ends the session and clears the cookie.
    let out = browser
        .delete(&url)
        .header("cookie", &cookie)
        .send()
        .await
        .expect("sign out");
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let cleared = out
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let after = browser
        .get(format!("{}/api/v1/jobs", stack.base))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("jobs");
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    stack.stop().await;
}

#[tokio::test]
async fn auth_disabled_lets_anyone_in_as_admin_and_is_warned_about() {
    let logs = capture_logs();
    let stack = Stack::api_with(&[("AUTH_DISABLED", "1")]).await;
    assert!(
        logs.text().contains("AUTH_DISABLED is set"),
        "the start-up warning was not logged"
    );
    let anonymous = reqwest::Client::new();
    let (status, _) = status_of(&stack, &anonymous, Method::POST, "/api/v1/jobs").await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, session) = status_of(&stack, &anonymous, Method::GET, "/api/v1/session").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(session["auth"], "disabled");
    assert_eq!(session["scope"], "admin");
    stack.stop().await;
}

#[tokio::test]
async fn limits_answer_a_clear_4xx() {
    let stack = Stack::api_with(&[
        ("MAX_BODY_BYTES", "2048"),
        ("MAX_BATCH", "3"),
        ("MAX_PAGE", "10"),
        ("MAX_WS_SUBSCRIPTIONS", "2"),
    ])
    .await;
    let big = json!({"kind": "noop", "payload": {"blob": "x".repeat(4096)}});
    let (status, body) = stack.post("/api/v1/jobs", big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["details"]["field"], "body");

    let jobs: Vec<Value> = (0..4).map(|_| json!({"kind": "noop"})).collect();
    let (status, body) = stack
        .post("/api/v1/jobs/batch", json!({"jobs": jobs}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["details"]["field"], "jobs");

    let (status, body) = stack.get("/api/v1/jobs?limit=11").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["details"]["field"], "limit");
    assert_eq!(stack.job_count().await, 0, "nothing was stored");

    // WebSocket subscriptions: over the limit in the query string is refused
    // before the upgrade; in a message, answered with an error.
    match tokio_tungstenite::connect_async(stack.ws_request("?queue=a&queue=b&queue=c")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 422)
        }
        other => panic!("expected 422, got {:?}", other.map(|(_, r)| r.status())),
    }
    let (mut socket, _) = tokio_tungstenite::connect_async(stack.ws_request(""))
        .await
        .expect("connect");
    use futures::{SinkExt, StreamExt};
    let _hello = socket.next().await;
    let subscribe = json!({"type": "subscribe", "queues": ["a", "b", "c"]}).to_string();
    socket
        .send(tokio_tungstenite::tungstenite::Message::Text(
            subscribe.into(),
        ))
        .await
        .expect("send");
    let reply = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .expect("a reply")
        .expect("open")
        .expect("message");
    let reply: Value = serde_json::from_str(reply.to_text().expect("text")).expect("json");
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["code"], "too_many_subscriptions", "{reply}");
    stack.stop().await;
}

#[tokio::test]
async fn cors_is_off_by_default_and_allows_only_configured_origins() {
    let preflight = |stack: &Stack, origin: &'static str| {
        let request = reqwest::Client::new()
            .request(Method::OPTIONS, format!("{}/api/v1/jobs", stack.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            );
        async move {
            let response = request.send().await.expect("preflight");
            response
                .headers()
                .get("access-control-allow-origin")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        }
    };
    let off = Stack::api_only().await;
    assert_eq!(preflight(&off, "https://ops.example.com").await, None);
    off.stop().await;

    let on = Stack::api_with(&[("CORS_ORIGINS", "https://ops.example.com")]).await;
    assert_eq!(
        preflight(&on, "https://ops.example.com").await.as_deref(),
        Some("https://ops.example.com")
    );
    assert_eq!(preflight(&on, "https://evil.example.com").await, None);
    on.stop().await;
}
