//! `noop`: succeeds at once. For tests and benchmarks.

use conveyor_shared::executor::{Executor, Failure, JobContext, Success};

pub struct NoopExecutor;

#[async_trait::async_trait]
impl Executor for NoopExecutor {
    async fn execute(&self, _ctx: JobContext) -> Result<Success, Failure> {
        Ok(Success::default())
    }
}
