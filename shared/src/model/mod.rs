//! Domain types: parsed at the edge, trusted past it.

mod job;
mod names;
mod retry;
pub mod schedule;
mod spec;

pub use job::{Attempt, AttemptOutcome, Backoff, Job, JobStatus};
pub use names::{check_identifier, Priority, QueueName};
pub use retry::backoff_delay;
pub use spec::{
    canonical_hash, BackoffSpec, FieldError, JobSpec, Limits, NewJob, Origin, BUILTIN_KINDS,
};
