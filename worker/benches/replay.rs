//! Serial replay of the hot statements: what PostgreSQL's backend spends a
//! job on a claim and on a finish, by itself, with nothing else running.
//!
//! For each variant and run: a fresh migrated database, the variant's SQL
//! applied (to disable a trigger, drop an index, try a new trigger
//! function...), `--jobs` noop jobs inserted, then claims of `--batch` jobs in
//! id order, each its own statement and commit (`db::claims::claim`, as a
//! worker sends it), then their finishes as plain successes
//! (`db::claims::finish`); the first claim and the first finish take one
//! job and are not timed, as a worker's first round. One connection, so one backend; its CPU time
//! (user + system, from `/proc/<pid>/stat`) before and after each phase,
//! divided by the jobs. PostgreSQL must therefore run on this machine.
//! Prints one line per variant and run, then the median of each variant.
//! Asserts nothing about speed.
//!
//! `scripts/replay [--jobs 30000] [--batch 150] [--runs 3] [--variant 'label=SQL']...`

use std::time::Instant;

use chrono::Utc;
use conveyor_shared::db::{claims, jobs};
use conveyor_shared::model::{JobSpec, Limits};
use conveyor_shared::testing::TestEnv;
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Row};
use uuid::Uuid;

const USAGE: &str =
    "usage: scripts/replay [--jobs N] [--batch B] [--runs R] [--variant 'label=SQL']...";

struct Options {
    jobs: usize,
    batch: usize,
    runs: usize,
    /// (label, SQL run on the fresh database before the jobs are inserted).
    variants: Vec<(String, String)>,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        jobs: 30_000,
        batch: 150,
        runs: 3,
        variants: vec![("deployed".into(), String::new())],
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))
        };
        let number = |v: String| {
            v.parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{arg} takes a positive number\n{USAGE}"))
        };
        match arg.as_str() {
            "--jobs" => o.jobs = number(value()?)?,
            "--batch" => o.batch = number(value()?)?,
            "--runs" => o.runs = number(value()?)?,
            "--variant" => {
                let v = value()?;
                let (label, sql) = v
                    .split_once('=')
                    .ok_or_else(|| format!("--variant takes label=SQL\n{USAGE}"))?;
                o.variants.push((label.to_owned(), sql.to_owned()));
            }
            // cargo bench passes --bench to every bench target.
            "--bench" => {}
            _ => return Err(format!("unknown argument {arg}\n{USAGE}")),
        }
    }
    if o.jobs < 2 {
        return Err(format!(
            "--jobs takes at least 2 (the first is the untimed round)\n{USAGE}"
        ));
    }
    Ok(o)
}

/// Clock ticks a second, for `/proc/<pid>/stat`'s CPU times.
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(100.0)
}

/// The backend's CPU time so far (user + system), in seconds.
fn backend_cpu(pid: i32, ticks: f64) -> Result<f64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| {
        format!("cannot read the backend's /proc/{pid}/stat ({e}): is PostgreSQL local?")
    })?;
    // The command name (field 2) may hold spaces: count from after it.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or("unreadable /proc stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15; `rest` starts at field 3.
    let field = |i: usize| -> Result<f64, String> {
        fields
            .get(i - 3)
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| "unreadable /proc stat".to_owned())
    };
    Ok((field(14)? + field(15)?) / ticks)
}

/// µs of backend CPU and of wall time a job, for the claims and the finishes.
struct Figures {
    claim_cpu: f64,
    finish_cpu: f64,
    claim_wall: f64,
    finish_wall: f64,
}

async fn run_once(o: &Options, sql: &str, ticks: f64) -> Result<Figures, String> {
    let env = TestEnv::new().await;
    let result = replay(&env, o, sql, ticks).await;
    env.cleanup().await;
    result
}

async fn replay(env: &TestEnv, o: &Options, sql: &str, ticks: f64) -> Result<Figures, String> {
    let err = |e: sqlx::Error| e.to_string();
    if !sql.is_empty() {
        sqlx::raw_sql(sql).execute(&env.pool).await.map_err(err)?;
    }
    let spec: JobSpec =
        serde_json::from_value(json!({"kind": "noop"})).map_err(|e| e.to_string())?;
    let limits = Limits {
        max_payload_bytes: 1 << 20,
    };
    let mut ids: Vec<Uuid> = Vec::with_capacity(o.jobs);
    let mut left = o.jobs;
    while left > 0 {
        let n = left.min(1_000);
        let now = Utc::now();
        let new_jobs = (0..n)
            .map(|_| spec.validate(now, limits, &|_| true))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{e:?}"))?;
        ids.extend(new_jobs.iter().map(|j| j.id));
        jobs::insert(&env.pool, &new_jobs).await.map_err(err)?;
        left -= n;
    }
    ids.sort();
    sqlx::query("checkpoint")
        .execute(&env.pool)
        .await
        .map_err(err)?;

    // One connection: one backend to watch.
    let pool: PgPool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&env.database_url)
        .await
        .map_err(err)?;
    let pid: i32 = sqlx::query("select pg_backend_pid()")
        .fetch_one(&pool)
        .await
        .map_err(err)?
        .get(0);
    // The first claim and finish take one job, untimed, as a worker's
    // first round often does: PL/pgSQL plans a trigger's statements at their
    // first call, sized by the transition tables of that call, and keeps
    // the plan for the connection's life (docs/performance.md, "Claims that
    // leave live_jobs alone").
    let (first, rest) = ids.split_at(1);
    let jobs = rest.len() as f64;
    let mut claimed = claims::claim(&pool, first, "replay", 30_000)
        .await
        .map_err(err)?;

    let (cpu0, wall0) = (backend_cpu(pid, ticks)?, Instant::now());
    for batch in rest.chunks(o.batch) {
        claimed.extend(
            claims::claim(&pool, batch, "replay", 30_000)
                .await
                .map_err(err)?,
        );
    }
    let (cpu1, wall1) = (backend_cpu(pid, ticks)?, Instant::now());
    if claimed.len() != o.jobs {
        return Err(format!("claimed {} of {} jobs", claimed.len(), o.jobs));
    }
    let now = Utc::now();
    let finishes: Vec<claims::Finish> = claimed
        .iter()
        .map(|job| claims::Finish::succeeded(job, now))
        .collect();
    let (first, rest) = finishes.split_at(1);
    let mut finished = claims::finish(&pool, "replay", first)
        .await
        .map_err(err)?
        .len();
    let (cpu2, wall2) = (backend_cpu(pid, ticks)?, Instant::now());
    for batch in rest.chunks(o.batch) {
        finished += claims::finish(&pool, "replay", batch)
            .await
            .map_err(err)?
            .len();
    }
    let (cpu3, wall3) = (backend_cpu(pid, ticks)?, Instant::now());
    pool.close().await;
    if finished != o.jobs {
        return Err(format!("finished {finished} of {} jobs", o.jobs));
    }
    Ok(Figures {
        claim_cpu: (cpu1 - cpu0) * 1e6 / jobs,
        finish_cpu: (cpu3 - cpu2) * 1e6 / jobs,
        claim_wall: (wall1 - wall0).as_secs_f64() * 1e6 / jobs,
        finish_wall: (wall3 - wall2).as_secs_f64() * 1e6 / jobs,
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let ticks = clock_ticks();
    println!(
        "replay: {} jobs, claims and finishes of {}, {} runs of {} variants (alternated); \
         µs a job: backend CPU (wall)",
        o.jobs,
        o.batch,
        o.runs,
        o.variants.len()
    );
    let mut results: Vec<Vec<Figures>> = o.variants.iter().map(|_| Vec::new()).collect();
    for run in 1..=o.runs {
        for (i, (label, sql)) in o.variants.iter().enumerate() {
            match run_once(&o, sql, ticks).await {
                Ok(f) => {
                    println!(
                        "run {run} {label:<28} claim {:>6.1} ({:>6.1})  finish {:>6.1} ({:>6.1})",
                        f.claim_cpu, f.claim_wall, f.finish_cpu, f.finish_wall
                    );
                    results[i].push(f);
                }
                Err(e) => {
                    eprintln!("run {run} {label}: {e}");
                    std::process::exit(1);
                }
            }
        }
    }
    for ((label, _), figures) in o.variants.iter().zip(results) {
        println!(
            "median {label:<25} claim {:>6.1} ({:>6.1})  finish {:>6.1} ({:>6.1})",
            median(figures.iter().map(|f| f.claim_cpu).collect()),
            median(figures.iter().map(|f| f.claim_wall).collect()),
            median(figures.iter().map(|f| f.finish_cpu).collect()),
            median(figures.iter().map(|f| f.finish_wall).collect()),
        );
    }
}
