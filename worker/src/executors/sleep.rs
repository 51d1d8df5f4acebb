//! `sleep`: waits `payload.ms` milliseconds; stops early when cancelled.

use std::time::Duration;

use conveyor_shared::executor::{Executor, Failure, JobContext, Success};

pub struct SleepExecutor;

#[async_trait::async_trait]
impl Executor for SleepExecutor {
    async fn execute(&self, ctx: JobContext) -> Result<Success, Failure> {
        let ms = ctx
            .payload
            .get("ms")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| Failure::permanent("payload.ms must be a non-negative integer"))?;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(ms)) => Ok(Success {
                result: Some(serde_json::json!({ "slept_ms": ms })),
                output: None,
            }),
            _ = ctx.cancel.cancelled() => Err(Failure::new("stopped while sleeping")),
        }
    }
}
