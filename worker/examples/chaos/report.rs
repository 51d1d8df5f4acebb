//! The results: the submission, the status counts and the attempt figures,
//! printed and handed to the checks; the recovery lines come from
//! `recovery`.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{anyhow, Result};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::checks::Checks;
use crate::drain::{counter_counts, show_counts, status_counts};
use crate::faults::Event;
use crate::options::Options;
use crate::recovery;
use crate::submit::Submitted;

/// What the final checks judge.
pub struct Figures {
    /// The jobs planned.
    pub n: i64,
    pub submission_finished: bool,
    /// The status counts summed, and the rows of `jobs`.
    pub sum: i64,
    pub rows: i64,
    pub not_succeeded: i64,
    /// Jobs with more than one succeeded attempt.
    pub duplicates: i64,
    pub without_success: i64,
    pub open_attempts: i64,
    /// Rows whose id the api did not return, returned ids without a row,
    /// and rows that are not one of the planned jobs.
    pub unknown_rows: usize,
    pub missing_rows: usize,
    pub foreign: usize,
    pub kills: usize,
    pub flushes: usize,
    pub restarts: usize,
}

/// Prints the results and returns the figures, or `None` when the database
/// cannot be queried (that is a failed check already).
pub async fn report(
    o: &Options,
    pool: &PgPool,
    submitted: Option<&Submitted>,
    events: &[Event],
    checks: &mut Checks,
) -> Option<Figures> {
    let n = o.jobs as i64;
    println!();
    println!("results:");

    // Submission.
    let submitted_ids: HashSet<Uuid> = submitted
        .map(|s| s.ids.iter().copied().collect())
        .unwrap_or_default();
    match submitted {
        Some(s) => {
            println!(
                "  submitted:  {} jobs in {:.2} s ({} batch retries)",
                s.ids.len(),
                s.took.as_secs_f64(),
                s.retries
            );
            checks.check(
                s.ids.len() == o.jobs && submitted_ids.len() == o.jobs,
                format!(
                    "submitted: {} jobs accepted, {} distinct ids (expected {})",
                    s.ids.len(),
                    submitted_ids.len(),
                    o.jobs
                ),
            );
        }
        None => checks.check(false, "submitted: the submission did not finish"),
    }

    // The database may have trouble right after the restart: retry a little.
    let mut counts = Err(anyhow!("not queried"));
    for _ in 0..20 {
        counts = status_counts(pool).await;
        if counts.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let counts = match counts {
        Ok(c) => c,
        Err(e) => {
            checks.check(false, format!("database: cannot query the results: {e:#}"));
            return None;
        }
    };
    let sum: i64 = counts.values().sum();
    println!("  total jobs: {sum}");
    println!("  status:     {}", show_counts(&counts));
    match counter_counts(pool).await {
        Ok(counters) => checks.check(
            counters == counts,
            format!(
                "counters agree with the table: {}",
                if counters == counts {
                    "yes".to_owned()
                } else {
                    format!("counters say {}", show_counts(&counters))
                }
            ),
        ),
        Err(e) => checks.check(false, format!("counters: cannot query them: {e:#}")),
    }

    async fn scalar(pool: &PgPool, sql: &str) -> Result<i64> {
        Ok(sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await?)
    }
    macro_rules! figure {
        ($sql:expr) => {
            match scalar(pool, $sql).await {
                Ok(v) => v,
                Err(e) => {
                    checks.check(false, format!("query failed: {e:#}: {}", $sql));
                    -1
                }
            }
        };
    }

    let not_succeeded = figure!("select count(*) from jobs where status <> 'succeeded'");
    let duplicates = figure!(
        "select count(*) from (select job_id from all_attempts where outcome = 'succeeded'
          group by job_id having count(*) > 1) d"
    );
    let without_success = figure!(
        "select count(*) from jobs j where j.status = 'succeeded' and not exists
          (select 1 from all_attempts a where a.job_id = j.id and a.outcome = 'succeeded')"
    );
    let open_attempts = figure!("select count(*) from all_attempts where outcome = 'running'");
    let lost = figure!("select count(*) from all_attempts where outcome = 'lost'");
    let interrupted = figure!("select count(*) from all_attempts where outcome = 'interrupted'");
    let failed = figure!("select count(*) from all_attempts where outcome = 'failed'");
    let attempts = figure!("select count(*) from all_attempts");
    let rows = figure!("select count(*) from jobs");
    // Every row must be one of the planned jobs (key chaos-<i>, i < N), and,
    // once the submission finished, one of the ids the api returned.
    let db_rows: Vec<(Uuid, Option<String>)> =
        sqlx::query_as("select id, idempotency_key from jobs")
            .fetch_all(pool)
            .await
            .unwrap_or_default();
    let planned = |key: &Option<String>| {
        key.as_deref()
            .and_then(|k| k.strip_prefix("chaos-"))
            .and_then(|i| i.parse::<usize>().ok())
            .is_some_and(|i| i < o.jobs)
    };
    let foreign = db_rows.iter().filter(|(_, key)| !planned(key)).count();
    let (unknown_rows, missing_rows) = match submitted {
        Some(_) => {
            let db_ids: HashSet<Uuid> = db_rows.iter().map(|(id, _)| *id).collect();
            (
                db_ids.difference(&submitted_ids).count(),
                submitted_ids.difference(&db_ids).count(),
            )
        }
        None => (0, 0),
    };
    println!("  should succeed but did not: {not_succeeded}");
    println!("  duplicates: {duplicates} (jobs with more than one succeeded attempt)");
    println!("  succeeded without a succeeded attempt: {without_success}");
    println!("  lost attempts recovered: {lost}");
    println!("  interrupted attempts: {interrupted}");
    println!(
        "  failed attempts: {failed} (each of the {} shell jobs fails its first attempt, unless that one is lost)",
        if o.full_speed { 0 } else { o.jobs.div_ceil(20) }
    );
    println!("  attempts still open: {open_attempts}");
    println!("  attempts in all: {attempts}");

    let kills = events.iter().filter(|e| e.killed_pid.is_some()).count();
    let flushes = events.iter().filter(|e| e.label == "FLUSHALL").count();
    let restarts = events
        .iter()
        .filter(|e| e.label == "PostgreSQL restart")
        .count();
    println!("  kills: {kills}, flushes: {flushes}, pg restarts: {restarts}");

    let last_finish: Option<DateTime<Utc>> =
        sqlx::query_scalar("select max(finished_at) from jobs")
            .fetch_one(pool)
            .await
            .ok()
            .flatten();
    if not_succeeded != 0 || sum != n {
        println!("  time to drain: n/a (not every job succeeded)");
    } else if let (Some(s), Some(last)) = (submitted, last_finish) {
        let secs = (last - s.first_submit).num_milliseconds() as f64 / 1000.0;
        println!(
            "  time to drain: {secs:.2} s (first submit to last finish; {:.0} jobs/s)",
            n as f64 / secs.max(0.001)
        );
    }

    recovery::print(pool, events).await;

    Some(Figures {
        n,
        submission_finished: submitted.is_some(),
        sum,
        rows,
        not_succeeded,
        duplicates,
        without_success,
        open_attempts,
        unknown_rows,
        missing_rows,
        foreign,
        kills,
        flushes,
        restarts,
    })
}
