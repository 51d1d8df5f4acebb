//! Waiting for every job to reach a final state while the submission runs
//! and the faults fire, with a progress note every 5 s; a stall, the timeout
//! or a signal ends the wait with an error.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::faults::{self, Event, PLAN};
use crate::options::Options;
use crate::stack::Stack;
use crate::submit::Submitted;

/// No job reaching a final state for this long is a failure.
const STALL: Duration = Duration::from_secs(60);

/// Jobs by status, counted in the table (the final check).
pub async fn status_counts(pool: &PgPool) -> Result<BTreeMap<String, i64>> {
    by_status(
        pool,
        "select status::text, count(*) from jobs group by status",
    )
    .await
}

/// Jobs by status from the counters the dashboard reads (the progress: no
/// `count(*)` that would load the drain it watches).
pub async fn counter_counts(pool: &PgPool) -> Result<BTreeMap<String, i64>> {
    by_status(
        pool,
        "select status::text, sum(n)::bigint from job_counts group by status having sum(n) <> 0",
    )
    .await
}

/// The (status, count) rows `sql` answers.
async fn by_status(pool: &PgPool, sql: &'static str) -> Result<BTreeMap<String, i64>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(sql).fetch_all(pool).await?;
    Ok(rows.into_iter().collect())
}

fn final_count(counts: &BTreeMap<String, i64>) -> i64 {
    ["succeeded", "dead", "cancelled", "skipped"]
        .iter()
        .map(|s| counts.get(*s).copied().unwrap_or(0))
        .sum()
}

pub fn show_counts(counts: &BTreeMap<String, i64>) -> String {
    if counts.is_empty() {
        return "none".into();
    }
    counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How the wait ended, what the submission returned (if it finished), the
/// faults fired, and the wall time from `started` to the end of the wait.
pub struct Drained {
    pub result: Result<()>,
    pub submitted: Option<Submitted>,
    pub events: Vec<Event>,
    pub wall: Duration,
}

/// Polls the job counters every 100 ms, collects the submission when it is
/// done and fires each fault of the plan when its share of jobs is final.
/// An unfinished submission is aborted at the end.
pub async fn drive(
    stack: &mut Stack,
    pool: &PgPool,
    submit: JoinHandle<Result<Submitted>>,
    o: &Options,
    stop: &CancellationToken,
    started: Instant,
) -> Drained {
    let log = stack.log.clone();
    let run_deadline = started + o.timeout;
    let mut submit = Some(submit);
    let mut submitted: Option<Submitted> = None;
    let mut events: Vec<Event> = Vec::new();
    let mut counts = BTreeMap::new();
    let mut last_final = -1i64;
    let mut last_change = Instant::now();
    let mut last_print = Instant::now();
    let mut query_failing = false;
    let n = o.jobs as i64;

    let result: Result<()> = loop {
        stack.reap();
        if let Some(handle) = submit.as_mut() {
            if handle.is_finished() {
                let handle = submit.take().expect("submit task");
                match handle.await {
                    Ok(Ok(s)) => {
                        log.note(&format!(
                            "submitted {} jobs in {:.2} s ({} batch retries)",
                            s.ids.len(),
                            s.took.as_secs_f64(),
                            s.retries
                        ));
                        submitted = Some(s);
                    }
                    Ok(Err(e)) => break Err(e.context("submission failed")),
                    Err(e) => break Err(anyhow!("submission task: {e}")),
                }
            }
        }
        let polled = tokio::time::timeout(Duration::from_secs(5), counter_counts(pool))
            .await
            .unwrap_or_else(|_| Err(anyhow!("no answer within 5 s")));
        match polled {
            Ok(c) => {
                if query_failing {
                    log.note("progress query works again");
                    query_failing = false;
                }
                counts = c;
            }
            Err(e) => {
                if !query_failing {
                    log.note(&format!("progress query failed (will retry): {e}"));
                    query_failing = true;
                }
            }
        }
        let done = final_count(&counts);
        if done != last_final {
            last_final = done;
            last_change = Instant::now();
        }

        if let Some((fraction, action)) = PLAN.get(events.len()).copied() {
            if done as f64 >= fraction * n as f64 {
                let progress = format!("{done}/{n} final ({:.1}%)", 100.0 * done as f64 / n as f64);
                match faults::fire(stack, action, &progress, started).await {
                    Ok(event) => events.push(event),
                    Err(e) => break Err(e),
                }
                // The action may have taken a while; do not count it as a stall.
                last_change = Instant::now();
                continue;
            }
        }

        if submitted.is_some() && done >= n && events.len() == PLAN.len() {
            break Ok(());
        }
        if last_change.elapsed() > STALL {
            break Err(anyhow!(
                "stalled: no job reached a final state for {} s ({done}/{n} final; {})",
                STALL.as_secs(),
                show_counts(&counts)
            ));
        }
        if Instant::now() > run_deadline {
            break Err(anyhow!(
                "timed out after {} s ({done}/{n} final; {})",
                o.timeout.as_secs(),
                show_counts(&counts)
            ));
        }
        if last_print.elapsed() > Duration::from_secs(5) {
            last_print = Instant::now();
            log.note(&format!("progress: {}", show_counts(&counts)));
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = stop.cancelled() => break Err(anyhow!("interrupted by a signal")),
        }
    };
    let wall = started.elapsed();
    if let Some(handle) = submit.take() {
        handle.abort();
    }
    Drained {
        result,
        submitted,
        events,
        wall,
    }
}
