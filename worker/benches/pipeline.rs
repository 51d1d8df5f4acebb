//! End-to-end benchmark: the release api and worker binaries against the
//! machine's Postgres and Redis (a fresh database and key prefix).
//!
//! 1. submit: N `noop` jobs through `POST /jobs/batch` (1,000 per request,
//!    4 requests in flight) with no worker running;
//! 2. drain: start W worker processes and time until every job succeeded;
//! 3. pickup latency: jobs sent one at a time to idle workers, submitted →
//!    started (both Postgres timestamps), p50 / p99.
//!
//! `scripts/bench [--jobs N] [--workers W] [--concurrency C] [--latency-jobs L]`

use std::process::Stdio;
use std::time::{Duration, Instant};

use conveyor_shared::testing::TestEnv;
use futures::{stream, StreamExt};
use serde_json::{json, Value};

struct Options {
    jobs: usize,
    workers: usize,
    concurrency: usize,
    latency_jobs: usize,
}

fn options() -> Options {
    let mut o = Options {
        jobs: 20_000,
        workers: 2,
        concurrency: 50,
        latency_jobs: 200,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).and_then(|v| v.parse::<usize>().ok());
        match (args[i].as_str(), value) {
            ("--jobs", Some(v)) => o.jobs = v,
            ("--workers", Some(v)) => o.workers = v,
            ("--concurrency", Some(v)) => o.concurrency = v,
            ("--latency-jobs", Some(v)) => o.latency_jobs = v,
            ("--bench", _) => {
                i += 1;
                continue;
            }
            (other, _) => {
                eprintln!("unknown or incomplete option {other}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    o
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// A release binary beside this benchmark (scripts/bench builds them first).
fn binary(name: &str) -> String {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/release");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/bench",
        path.display()
    );
    path.to_string_lossy().into_owned()
}

fn spawn(binary: &str, env: &TestEnv, extra: &[(&str, String)]) -> tokio::process::Child {
    let mut command = tokio::process::Command::new(binary);
    command
        .envs(env.env())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in extra {
        command.env(k, v);
    }
    command.spawn().expect("spawn")
}

async fn count(env: &TestEnv, status: &str) -> i64 {
    sqlx::query_scalar("select count(*) from jobs where status = $1::job_status")
        .bind(status)
        .fetch_one(&env.pool)
        .await
        .expect("count")
}

#[tokio::main]
async fn main() {
    let o = options();
    let env = TestEnv::new().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut api = spawn(
        &binary("conveyor-api"),
        &env,
        &[
            ("LISTEN_ADDR", format!("127.0.0.1:{port}")),
            ("DB_MAX_CONNECTIONS", "16".into()),
            ("FRONTEND_DIR", "/nonexistent".into()),
        ],
    );
    // Requests carry a token, as in production: the bench measures the
    // token check too.
    let (_, token) = conveyor_shared::db::tokens::create(
        &env.pool,
        "bench",
        conveyor_shared::auth::Scope::Admin,
    )
    .await
    .expect("create a token");
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("header"),
    );
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client");
    let ready = Instant::now();
    while http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map(|r| r.status().is_success())
        .ok()
        != Some(true)
    {
        assert!(
            ready.elapsed() < Duration::from_secs(30),
            "api did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "conveyor bench: {} noop jobs, {} workers x {} slots, {} latency samples",
        o.jobs, o.workers, o.concurrency, o.latency_jobs
    );

    // 1. submit
    let batches: Vec<usize> = (0..o.jobs)
        .step_by(1000)
        .map(|s| (o.jobs - s).min(1000))
        .collect();
    let started = Instant::now();
    let results: Vec<bool> = stream::iter(batches)
        .map(|n| {
            let http = http.clone();
            let url = format!("{base}/api/v1/jobs/batch");
            async move {
                let jobs: Vec<Value> = (0..n).map(|_| json!({"kind": "noop"})).collect();
                http.post(url)
                    .json(&json!({ "jobs": jobs }))
                    .send()
                    .await
                    .map(|r| r.status().as_u16() == 201)
                    .unwrap_or(false)
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    let submit = started.elapsed();
    assert!(results.iter().all(|ok| *ok), "a batch failed");
    println!(
        "submit:  {:>9.0} jobs/s  ({} jobs in {:.2} s, batch endpoint)",
        o.jobs as f64 / submit.as_secs_f64(),
        o.jobs,
        submit.as_secs_f64()
    );

    // 2. drain
    let mut workers: Vec<_> = (0..o.workers)
        .map(|_| {
            spawn(
                &binary("conveyor-worker"),
                &env,
                &[
                    ("WORKER_CONCURRENCY", o.concurrency.to_string()),
                    ("DB_MAX_CONNECTIONS", "8".into()),
                ],
            )
        })
        .collect();
    let drain_start = Instant::now();
    loop {
        if count(&env, "succeeded").await >= o.jobs as i64 {
            break;
        }
        assert!(
            drain_start.elapsed() < Duration::from_secs(600),
            "drain took too long"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (first, last): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as("select min(started_at), max(finished_at) from jobs")
            .fetch_one(&env.pool)
            .await
            .expect("span");
    let span = (last - first).num_microseconds().unwrap_or(1) as f64 / 1e6;
    println!(
        "drain:   {:>9.0} jobs/s  (first start to last finish {:.2} s; wall {:.2} s incl. worker start)",
        o.jobs as f64 / span,
        span,
        drain_start.elapsed().as_secs_f64()
    );

    // 3. pickup latency on idle workers
    let mut latencies = Vec::with_capacity(o.latency_jobs);
    for _ in 0..o.latency_jobs {
        let job: Value = http
            .post(format!("{base}/api/v1/jobs"))
            .json(&json!({"kind": "noop"}))
            .send()
            .await
            .expect("submit")
            .json()
            .await
            .expect("job");
        let id = uuid::Uuid::parse_str(job["id"].as_str().expect("id")).expect("uuid");
        let waited = Instant::now();
        loop {
            let row: Option<(f64,)> = sqlx::query_as(
                "select extract(epoch from (started_at - created_at))::float8 * 1000
                 from jobs where id = $1 and status = 'succeeded'",
            )
            .bind(id)
            .fetch_optional(&env.pool)
            .await
            .expect("latency");
            if let Some((ms,)) = row {
                latencies.push(ms);
                break;
            }
            assert!(
                waited.elapsed() < Duration::from_secs(10),
                "job {id} never ran"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Let the workers go idle (blocked on Redis) again.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    println!(
        "pickup:  p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms  (submitted -> started, idle workers)",
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    let mut rss = Vec::new();
    if let Some(pid) = api.id() {
        rss.push(format!(
            "api {:.1} MiB",
            peak_rss_mib(pid).unwrap_or(f64::NAN)
        ));
    }
    for (i, w) in workers.iter().enumerate() {
        if let Some(pid) = w.id() {
            rss.push(format!(
                "worker{} {:.1} MiB",
                i + 1,
                peak_rss_mib(pid).unwrap_or(f64::NAN)
            ));
        }
    }
    println!("peak RSS: {}", rss.join(", "));
    let dead = count(&env, "dead").await;
    println!(
        "check:   {} succeeded, {dead} dead",
        count(&env, "succeeded").await
    );

    for w in workers.iter_mut() {
        let _ = w.start_kill();
        let _ = w.wait().await;
    }
    let _ = api.start_kill();
    let _ = api.wait().await;
    env.cleanup().await;
}
