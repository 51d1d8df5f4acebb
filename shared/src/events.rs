//! Status events: published on Redis pub/sub, relayed to WebSocket clients.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::model::{Job, JobStatus};

/// A job changed state. Published as a JSON array of these (one message per
/// batch) on the channel `<prefix>:events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatusEvent {
    pub job_id: Uuid,
    pub queue: String,
    pub kind: String,
    pub name: String,
    pub status: JobStatus,
    pub attempt: i32,
    /// When the job is next due (scheduled jobs and retries).
    pub run_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub at: DateTime<Utc>,
    /// The workflow run and node, for jobs of a run.
    pub workflow_run_id: Option<Uuid>,
    pub node_key: Option<String>,
}

impl StatusEvent {
    /// The event for a job's current state.
    pub fn of(job: &Job, at: DateTime<Utc>) -> Self {
        Self {
            job_id: job.id,
            queue: job.queue.clone(),
            kind: job.kind.clone(),
            name: job.name.clone(),
            status: job.status,
            attempt: job.attempt,
            run_at: (job.status == JobStatus::Scheduled).then_some(job.run_at),
            error: match job.status {
                JobStatus::Dead | JobStatus::Scheduled | JobStatus::Cancelled => {
                    job.last_error.clone()
                }
                _ => None,
            },
            at,
            workflow_run_id: job.workflow_run_id,
            node_key: job.node_key.clone(),
        }
    }
}
