//! The test stack: a fresh database and Redis prefix, the real api on port 0,
//! and workers in-process or as real processes.
#![allow(dead_code)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use conveyor_shared::auth::Scope;
use conveyor_shared::executor::Registry;
use conveyor_shared::testing::TestEnv;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub struct Worker {
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

/// An api on a test's database and Redis (settings as in
/// [`TestEnv::api_config`]), on its own port; not waited for. A [`Stack`]'s
/// own, or another one beside it.
pub struct ExtraApi {
    pub base: String,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl ExtraApi {
    pub async fn start(env: &TestEnv, extra: &[(&str, &str)]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let stop = CancellationToken::new();
        let task = tokio::spawn(conveyor_api::run(
            env.api_config(extra),
            listener,
            stop.clone(),
        ));
        Self { base, stop, task }
    }

    /// Shuts it down and waits for it (10 s at most, then it is dropped).
    pub async fn stop(mut self) {
        self.stop.cancel();
        if tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

impl Worker {
    /// Asks the worker to shut down gracefully and waits for it.
    pub async fn stop(self) {
        self.stop.cancel();
        self.task.await.expect("worker task").expect("worker run");
    }
}

pub struct Stack {
    pub env: TestEnv,
    pub base: String,
    /// Sends the admin token of [`Stack::token`] on every request.
    pub http: reqwest::Client,
    /// An admin token created for this test.
    pub token: String,
    pub api_stop: CancellationToken,
    pub api_task: JoinHandle<anyhow::Result<()>>,
    pub workers: Vec<Worker>,
}

impl Stack {
    /// The api alone (no worker yet).
    pub async fn api_only() -> Self {
        Self::api_with(&[]).await
    }

    /// The api alone, with extra settings.
    pub async fn api_with(extra: &[(&str, &str)]) -> Self {
        let env = TestEnv::new().await;
        let token = create_token(&env, "tests", Scope::Admin).await;
        let ExtraApi {
            base,
            stop: api_stop,
            task: api_task,
        } = ExtraApi::start(&env, extra).await;
        let http = client_with(&token);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
                if r.status() == StatusCode::OK {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "api did not become ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self {
            env,
            base,
            http,
            token,
            api_stop,
            api_task,
            workers: Vec::new(),
        }
    }

    /// The api and one in-process worker with default settings.
    pub async fn start() -> Self {
        let mut stack = Self::api_only().await;
        stack.add_worker(&[]).await;
        stack
    }

    /// Starts an in-process worker with the built-in kinds.
    pub async fn add_worker(&mut self, extra: &[(&str, &str)]) {
        let config = self.env.worker_config(extra);
        let registry = conveyor_worker::builtin_registry(&config);
        self.add_worker_with(registry, extra).await;
    }

    /// Starts an in-process worker with the given executors.
    pub async fn add_worker_with(&mut self, registry: Registry, extra: &[(&str, &str)]) {
        let worker = self.spawn_worker(registry, extra);
        self.workers.push(worker);
        // Let it register its kinds and reach its first claim.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }

    /// Starts an in-process worker that the caller stops.
    pub fn spawn_worker(&self, registry: Registry, extra: &[(&str, &str)]) -> Worker {
        let config = self.env.worker_config(extra);
        let stop = CancellationToken::new();
        let task = tokio::spawn(conveyor_worker::run(config, registry, stop.clone()));
        Worker { stop, task }
    }

    /// Starts the real `conveyor-worker` binary against this stack.
    pub fn spawn_worker_process(&self, extra: &[(&str, &str)]) -> tokio::process::Child {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_conveyor-worker"));
        command
            .envs(self.env.env())
            .env("WORKER_ALLOW_SHELL", "1")
            .env("WORKER_LEASE_SECS", "3")
            .env("RUST_LOG", "info")
            .kill_on_drop(true);
        for (k, v) in extra {
            command.env(k, v);
        }
        command.spawn().expect("spawn conveyor-worker")
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Submits a job and returns it; the api must answer 201.
    pub async fn submit(&self, spec: Value) -> Value {
        let (status, body) = self.post("/api/v1/jobs", spec).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// The job with its attempts.
    pub async fn job(&self, id: &str) -> Value {
        let (status, body) = self.get(&format!("/api/v1/jobs/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Polls until the job is in `status`; panics with the job after `within`.
    pub async fn wait_for_status(&self, id: &str, status: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let job = self.job(id).await;
            if job["status"] == status {
                return job;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} did not reach {status} within {within:?}: {job:#}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// How many rows `jobs` has.
    pub async fn job_count(&self) -> i64 {
        sqlx::query_scalar("select count(*) from jobs")
            .fetch_one(&self.env.pool)
            .await
            .expect("count")
    }

    /// Stops every worker and the api, then drops the database and keys.
    pub async fn stop(self) {
        for worker in self.workers {
            worker.stop().await;
        }
        self.api_stop.cancel();
        self.api_task.await.expect("api task").expect("api run");
        self.env.cleanup().await;
    }
}

/// Creates a token in the test's database and returns its secret.
pub async fn create_token(env: &TestEnv, name: &str, scope: Scope) -> String {
    conveyor_shared::db::tokens::create(&env.pool, name, scope)
        .await
        .expect("create a token")
        .1
}

/// An HTTP client that sends `token` on every request.
pub fn client_with(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let value = format!("Bearer {token}").parse().expect("header value");
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client")
}

impl Stack {
    /// A WebSocket handshake for `/api/v1/ws{query}` carrying the admin token.
    pub fn ws_request(
        &self,
        query: &str,
    ) -> tokio_tungstenite::tungstenite::handshake::client::Request {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = format!("{}/api/v1/ws{query}", self.base.replace("http://", "ws://"));
        let mut request = url.into_client_request().expect("request");
        let bearer = format!("Bearer {}", self.token).parse().expect("header");
        request.headers_mut().insert("authorization", bearer);
        request
    }
}

pub fn id_of(job: &Value) -> String {
    job["id"].as_str().expect("job id").to_owned()
}

impl Stack {
    /// The api alone, reading time from `clock` (a manual clock for tests that
    /// move time), served from its router without the WebSocket relay.
    pub async fn api_with_clock(clock: conveyor_shared::clock::Clock) -> Self {
        let env = TestEnv::new().await;
        let token = create_token(&env, "tests", Scope::Admin).await;
        let config = env.api_config(&[]);
        let queue = conveyor_shared::queue::RedisQueue::new(
            &config.common.redis_url,
            &config.common.redis_prefix,
            8,
        )
        .expect("redis queue");
        let state = conveyor_api::AppState::new(config, env.pool.clone(), queue, clock);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let api_stop = CancellationToken::new();
        let stop = api_stop.clone();
        let app = conveyor_api::router(state);
        let api_task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await?;
            Ok(())
        });
        Self {
            env,
            base,
            http: client_with(&token),
            token,
            api_stop,
            api_task,
            workers: Vec::new(),
        }
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.http.patch(format!("{}{path}", self.base)).json(&body))
            .await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.http.put(format!("{}{path}", self.base)).json(&body))
            .await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.expect("request");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .delete(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// Every log line of this test process (api and worker run in it), at the
/// most verbose level, in both formats. Once per test (process).
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

pub fn capture_logs() -> Captured {
    use tracing_subscriber::layer::SubscriberExt;
    let captured = Captured::default();
    let text = captured.clone();
    let json = captured.clone();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::TRACE)
        .with(tracing_subscriber::fmt::layer().with_writer(move || text.clone()))
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_span_list(true)
                .with_writer(move || json.clone()),
        );
    tracing::subscriber::set_global_default(subscriber).expect("one subscriber per test process");
    captured
}
