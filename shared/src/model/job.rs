//! The job row, its status, and its attempts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Where a job is in its life. One Rust enum mapped to the Postgres enum
/// `job_status`; the transitions are drawn in `docs/state-machine.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[sqlx(type_name = "job_status", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waits on workflow parents.
    Blocked,
    /// Due later: delayed at submission or waiting out a retry backoff.
    Scheduled,
    /// Due now; its id is in the queue's Redis ready set.
    Queued,
    /// Claimed by a worker that holds its lease.
    Running,
    Succeeded,
    /// Attempts exhausted: the dead-letter queue.
    Dead,
    Cancelled,
    /// A workflow parent ended dead, cancelled or skipped.
    Skipped,
}

impl JobStatus {
    pub const ALL: [JobStatus; 8] = [
        JobStatus::Blocked,
        JobStatus::Scheduled,
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Dead,
        JobStatus::Cancelled,
        JobStatus::Skipped,
    ];

    /// Waiting to be claimed: what Redis's ready and delayed sets hold.
    pub const WAITING: [JobStatus; 2] = [JobStatus::Queued, JobStatus::Scheduled];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Blocked => "blocked",
            JobStatus::Scheduled => "scheduled",
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Dead => "dead",
            JobStatus::Cancelled => "cancelled",
            JobStatus::Skipped => "skipped",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Waiting to be claimed (queued or scheduled).
    pub fn is_waiting(self) -> bool {
        Self::WAITING.contains(&self)
    }

    /// Final states: the job will not run again unless retried by hand.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Dead | JobStatus::Cancelled | JobStatus::Skipped
        )
    }
}

/// How one attempt ended. Postgres enum `attempt_outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[sqlx(type_name = "attempt_outcome", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
    /// The worker shut down before the job finished and handed it back.
    Interrupted,
    /// The worker vanished; its lease expired.
    Lost,
}

impl AttemptOutcome {
    /// The Postgres (and JSON) name, e.g. `timed_out`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Running => "running",
            AttemptOutcome::Succeeded => "succeeded",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::TimedOut => "timed_out",
            AttemptOutcome::Cancelled => "cancelled",
            AttemptOutcome::Interrupted => "interrupted",
            AttemptOutcome::Lost => "lost",
        }
    }
}

/// Retry backoff: the delay before attempt n+1 is drawn from
/// `[base_ms, min(max_ms, base_ms * 2^(n-1))]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow, ToSchema)]
pub struct Backoff {
    #[sqlx(rename = "backoff_base_ms")]
    pub base_ms: i32,
    #[sqlx(rename = "backoff_max_ms")]
    pub max_ms: i32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base_ms: 1_000,
            max_ms: 3_600_000,
        }
    }
}

/// A job as stored in `jobs` and answered by the api.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, ToSchema)]
pub struct Job {
    pub id: Uuid,
    pub queue: String,
    pub kind: String,
    pub name: String,
    /// Secret values (`{"secret": "…"}`) are answered masked.
    #[schema(value_type = Object)]
    #[serde(serialize_with = "crate::secrets::serialize_redacted")]
    pub payload: serde_json::Value,
    pub priority: i16,
    pub status: JobStatus,
    /// Attempts started so far (0 before the first claim).
    pub attempt: i32,
    /// Attempts made before the last manual retry; the job is dead when
    /// `attempt - attempt_base` reaches `max_attempts`.
    pub attempt_base: i32,
    pub max_attempts: i32,
    #[sqlx(flatten)]
    pub backoff: Backoff,
    pub timeout_secs: Option<i32>,
    /// When the job is (or was) due.
    pub run_at: DateTime<Utc>,
    pub idempotency_key: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The schedule whose fire created this job, and that fire's time.
    pub schedule_id: Option<Uuid>,
    pub fire_time: Option<DateTime<Utc>>,
    /// The workflow run and node this job is part of.
    pub workflow_run_id: Option<Uuid>,
    pub node_key: Option<String>,
}

impl Job {
    /// Whether a failure of the current attempt leaves the job dead.
    pub fn attempts_exhausted(&self) -> bool {
        self.attempt - self.attempt_base >= self.max_attempts
    }
}

/// One attempt at running a job (`job_attempts`).
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, ToSchema)]
pub struct Attempt {
    pub job_id: Uuid,
    pub attempt: i32,
    pub worker_id: String,
    pub outcome: AttemptOutcome,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    /// Captured output, at most 64 KiB.
    pub output: Option<String>,
}
