//! The fault schedule: what is done to the stack at which share of final
//! jobs, and the record of each fault, which the recovery figures start from.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use crate::stack::Stack;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Kill(usize),
    Flush,
    RestartPg,
}

/// Each fault fires once the given fraction of the jobs is final, in order.
pub const PLAN: [(f64, Action); 4] = [
    (0.2, Action::Kill(0)),
    (0.4, Action::Flush),
    (0.6, Action::RestartPg),
    (0.8, Action::Kill(1)),
];

/// A fault as it happened: its label, when it began (`elapsed` counts from
/// the start of the submission) and, for a kill, whose attempts to follow.
pub struct Event {
    pub label: String,
    pub at: DateTime<Utc>,
    pub elapsed: Duration,
    /// The pid of the killed worker (its id is `<host>-<pid>-<random>`).
    pub killed_pid: Option<u32>,
    /// How long the action itself took (the PostgreSQL restart).
    pub took: Duration,
    /// When the action had completed.
    pub done_at: DateTime<Utc>,
}

/// Carries out one fault, notes it with `progress` (how many jobs are final)
/// and records it; `started` is when the submission began.
pub async fn fire(
    stack: &mut Stack,
    action: Action,
    progress: &str,
    started: Instant,
) -> Result<Event> {
    let log = stack.log.clone();
    let at = Utc::now();
    let elapsed = started.elapsed();
    let t0 = Instant::now();
    let (label, killed_pid) = match action {
        Action::Kill(i) => {
            let (name, pid) = stack.kill_worker(i).await.context("killing a worker")?;
            let new = stack.workers.last().expect("replacement");
            log.note(&format!(
                "{progress}: SIGKILL {name} (pid {pid}); started {} (pid {})",
                new.name, new.pid
            ));
            (format!("SIGKILL {name}"), Some(pid))
        }
        Action::Flush => {
            stack.services.flushall().await.context("FLUSHALL")?;
            log.note(&format!("{progress}: FLUSHALL on Redis"));
            ("FLUSHALL".to_owned(), None)
        }
        Action::RestartPg => {
            log.note(&format!("{progress}: restarting PostgreSQL"));
            stack
                .services
                .pg_ctl_start("restart")
                .await
                .context("restarting PostgreSQL")?;
            log.note(&format!(
                "PostgreSQL is back after {:.2} s",
                t0.elapsed().as_secs_f64()
            ));
            ("PostgreSQL restart".to_owned(), None)
        }
    };
    Ok(Event {
        label,
        at,
        elapsed,
        killed_pid,
        took: t0.elapsed(),
        done_at: Utc::now(),
    })
}
