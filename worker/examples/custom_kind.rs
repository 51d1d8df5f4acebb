//! A worker with a custom kind, `greet`, besides the built-ins.
//!
//! ```sh
//! WORKER_QUEUES=greetings cargo run -p conveyor-worker --example custom_kind
//! curl -s -X POST localhost:8080/api/v1/jobs -H 'Content-Type: application/json' \
//!      -d '{"kind": "greet", "queue": "greetings", "payload": {"name": "Ada"}}'
//! ```
//!
//! Once this worker has started, the api accepts `greet` jobs.

use std::process::ExitCode;

use conveyor_shared::config::{ProcessEnv, WorkerConfig};
use conveyor_shared::executor::{Executor, Failure, JobContext, Success};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// Greets `payload.name`.
struct Greet;

#[async_trait::async_trait]
impl Executor for Greet {
    async fn execute(&self, ctx: JobContext) -> Result<Success, Failure> {
        let name = ctx
            .payload
            .get("name")
            .and_then(|v| v.as_str())
            // Permanent: retrying will not make the field appear.
            .ok_or_else(|| Failure::permanent("payload.name is required"))?;
        Ok(Success {
            result: Some(json!({ "greeting": format!("Hello, {name}!") })),
            output: Some(format!("greeted {name} (attempt {})", ctx.attempt)),
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = match WorkerConfig::from_env(&ProcessEnv) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("custom_kind: {e}");
            return ExitCode::from(2);
        }
    };
    conveyor_shared::telemetry::init(config.common.log_format);
    let mut registry = conveyor_worker::builtin_registry(&config);
    registry.register("greet", Greet);

    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        on_signal.cancel();
    });
    match conveyor_worker::run(config, registry, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("custom_kind: {e:#}");
            ExitCode::FAILURE
        }
    }
}
