//! The recovery lines: for each fault, when the next job finished, the
//! longest pause in starts and finishes after it, and what became of the
//! work it hit (a killed worker's jobs, the jobs waiting in Redis, the time
//! PostgreSQL was down).

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::faults::Event;

const FINAL: &str = "('succeeded', 'dead', 'cancelled', 'skipped')";

/// Seconds from a SQL `extract(epoch ...)`; NULL when there was nothing.
type Secs = Option<f64>;

/// The longest gap between consecutive job starts from $1 to $2, and when it
/// began; the window's ends count as starts.
const START_PAUSE: &str = "
    with t as (select $1::timestamptz as at where $2::timestamptz > $1 union all
               select started_at from all_attempts
                where started_at > $1 and started_at <= $2 union all select $2),
         g as (select at, lag(at) over (order by at) as prev from t)
    select extract(epoch from at - prev)::float8, extract(epoch from prev - $1)::float8
      from g where prev is not null order by at - prev desc limit 1";

/// The same for job finishes.
const FINISH_PAUSE: &str = "
    with t as (select $1::timestamptz as at where $2::timestamptz > $1 union all
               select finished_at from jobs
                where finished_at > $1 and finished_at <= $2 union all select $2),
         g as (select at, lag(at) over (order by at) as prev from t)
    select extract(epoch from at - prev)::float8, extract(epoch from prev - $1)::float8
      from g where prev is not null order by at - prev desc limit 1";

fn secs(v: Secs) -> String {
    v.map_or("never".to_owned(), |v| format!("{v:.3} s"))
}

/// As asked: from the event to the next job that finished after it.
async fn next_finish(pool: &PgPool, from: DateTime<Utc>) -> Secs {
    sqlx::query_scalar::<_, Option<f64>>(&format!(
        "select extract(epoch from min(finished_at) - $1)::float8 from jobs
          where finished_at > $1 and status in {FINAL}"
    ))
    .bind(from)
    .fetch_one(pool)
    .await
    .ok()
    .flatten()
}

/// How long throughput actually stopped: the longest pause `sql` finds from
/// the event to the end of its window.
async fn pause(pool: &PgPool, sql: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    sqlx::query_as::<_, (Option<f64>, Option<f64>)>(sql)
        .bind(from)
        .bind(to)
        .fetch_one(pool)
        .await
        .ok()
        .and_then(|(gap, from)| Some(format!("{:.2} s from +{:.2} s", gap?, from?)))
        .unwrap_or_else(|| "n/a".into())
}

/// Prints one line per fault; event times count from the first submit.
pub async fn print(pool: &PgPool, events: &[Event]) {
    println!("  recovery (event times counted from the first submit):");
    // After this, only jobs held by killed workers are left, waiting for
    // their leases to run out: a pause there is expected, not a stall.
    let work_end: Option<DateTime<Utc>> = sqlx::query_scalar(
        "select max(finished_at) from jobs j where not exists
           (select 1 from all_attempts a where a.job_id = j.id and a.outcome = 'lost')",
    )
    .fetch_one(pool)
    .await
    .ok()
    .flatten();
    for (i, e) in events.iter().enumerate() {
        // The pause is measured until the next event, 10 s at most.
        let mut window_end = e.at + chrono::Duration::seconds(10);
        if let Some(next) = events.get(i + 1) {
            window_end = window_end.min(next.at);
        }
        if let Some(end) = work_end {
            window_end = window_end.min(end);
        }
        let start_pause = pause(pool, START_PAUSE, e.at, window_end).await;
        let finish_pause = pause(pool, FINISH_PAUSE, e.at, window_end).await;
        let mut line = format!(
            "    {} at +{:.2} s: next job finished after {}; longest pause until +{:.2} s: starts {start_pause}, finishes {finish_pause}",
            e.label,
            e.elapsed.as_secs_f64(),
            secs(next_finish(pool, e.at).await),
            (window_end - e.at).num_milliseconds() as f64 / 1000.0,
        );
        match e.killed_pid {
            Some(pid) => line.push_str(&killed_worker(pool, e, pid).await),
            None if e.label == "FLUSHALL" => line.push_str(&flushed(pool, e).await),
            None => {
                line.push_str(&format!(
                    "; it was down {:.2} s, and the next job finished {} after it was back",
                    e.took.as_secs_f64(),
                    secs(next_finish(pool, e.done_at).await)
                ));
            }
        }
        println!("{line}");
    }
}

/// A killed worker's jobs in flight: when they were marked lost, re-claimed
/// and finished, counted from the kill; and all its attempts by outcome.
async fn killed_worker(pool: &PgPool, e: &Event, pid: u32) -> String {
    let mut text = String::new();
    let lost: Option<(i64, Secs, Secs, Secs, Secs)> = sqlx::query_as(
        "select count(*),
                extract(epoch from min(a.finished_at) - $2)::float8,
                extract(epoch from max(a.finished_at) - $2)::float8,
                extract(epoch from max(b.started_at) - $2)::float8,
                extract(epoch from max(j.finished_at) - $2)::float8
           from all_attempts a
           join jobs j on j.id = a.job_id
           left join all_attempts b on b.job_id = a.job_id and b.attempt = a.attempt + 1
          where a.worker_id like $1 and a.outcome = 'lost'",
    )
    .bind(format!("%-{pid}-________"))
    .bind(e.at)
    .fetch_one(pool)
    .await
    .ok();
    if let Some((count, first, last, reclaimed, finished)) = lost {
        if count > 0 {
            text.push_str(&format!(
                "; its {count} jobs in flight were marked lost after {:.2}-{:.2} s, re-claimed within {}, finished within {}",
                first.unwrap_or(f64::NAN),
                last.unwrap_or(f64::NAN),
                secs(reclaimed),
                secs(finished)
            ));
        } else {
            text.push_str("; none of its attempts was marked lost");
        }
    }
    let outcomes: Vec<(String, i64)> = sqlx::query_as(
        "select outcome::text, count(*) from all_attempts where worker_id like $1
          group by outcome order by 1",
    )
    .bind(format!("%-{pid}-________"))
    .fetch_all(pool)
    .await
    .unwrap_or_default();
    let shown: Vec<String> = outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
    text.push_str(&format!(" (its attempts: {})", shown.join(", ")));
    text
}

/// Jobs that were waiting in Redis when it was flushed: the first attempt
/// each started after the flush.
async fn flushed(pool: &PgPool, e: &Event) -> String {
    let waiting: Option<(i64, Option<f64>)> = sqlx::query_as(
        "select count(*), extract(epoch from max(b.started_at) - $1)::float8
           from all_attempts b
           join jobs j on j.id = b.job_id
           left join all_attempts a on a.job_id = b.job_id and a.attempt = b.attempt - 1
          where b.started_at > $1
            and case when b.attempt = 1 then j.created_at < $1
                     else a.finished_at < $1 end",
    )
    .bind(e.at)
    .fetch_one(pool)
    .await
    .ok();
    match waiting {
        Some((count, last)) => format!(
            "; {count} jobs waiting in Redis at the flush ran again, the last {} after it",
            secs(last)
        ),
        None => String::new(),
    }
}
